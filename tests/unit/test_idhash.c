/* Unit tests for crypto/idhash: stable within a day, unlinkable across days
 * and namespaces, never the raw value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/idhash.h"

static void test_stable_within_day(void **state)
{
    (void)state;
    char a[PRISM_IDHASH_LEN + 1], b[PRISM_IDHASH_LEN + 1];
    prism__idhash_at(100, "peer", "alice", 5, a);
    prism__idhash_at(100, "peer", "alice", 5, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), PRISM_IDHASH_LEN);
    assert_null(strstr(a, "alice"));
}

static void test_differs_by_kind_value_and_day(void **state)
{
    (void)state;
    char a[PRISM_IDHASH_LEN + 1], b[PRISM_IDHASH_LEN + 1];
    prism__idhash_at(200, "peer", "alice", 5, a);
    prism__idhash_at(200, "bubble", "alice", 5, b);
    assert_string_not_equal(a, b);
    prism__idhash_at(200, "peer", "alicf", 5, b);
    assert_string_not_equal(a, b);
    prism__idhash_at(201, "peer", "alice", 5, b);
    assert_string_not_equal(a, b);
}

static void test_empty(void **state)
{
    (void)state;
    char a[PRISM_IDHASH_LEN + 1];
    prism_idhash("peer", NULL, 0, a);
    assert_string_equal(a, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_within_day),
        cmocka_unit_test(test_differs_by_kind_value_and_day),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
