/* Unit tests for relay/base: id validation, error reasons, JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/base/ids.h"
#include "relay/base/log.h"

static void test_id_valid(void **state)
{
    (void)state;
    assert_true(prism_id_valid("a", 1));
    assert_true(prism_id_valid("Acme-Corp_1.x:y@z", 17));
    char max[PRISM_ID_MAX];
    memset(max, 'x', sizeof(max));
    assert_true(prism_id_valid(max, sizeof(max)));
}

static void test_id_invalid(void **state)
{
    (void)state;
    char over[PRISM_ID_MAX + 1];
    memset(over, 'x', sizeof(over));
    assert_false(prism_id_valid(over, sizeof(over)));
    assert_false(prism_id_valid("", 0));
    assert_false(prism_id_valid(NULL, 3));
    assert_false(prism_id_valid("a b", 3));
    assert_false(prism_id_valid("a/b", 3));
    assert_false(prism_id_valid("\xc3\xa9", 2));
    assert_false(prism_id_valid("a\0b", 3));
    assert_false(prism_id_valid("a\"", 2));
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(prism_error_reason(PRISM_ENOTFOUND), "not_found");
    assert_string_equal(prism_error_reason(PRISM_EEXIST), "exists");
    assert_string_equal(prism_error_reason(PRISM_EQUOTA), "quota_exceeded");
    assert_string_equal(prism_error_reason(PRISM_EFORBIDDEN), "forbidden");
    assert_string_equal(prism_error_reason(PRISM_EBADSDP), "bad_sdp");
    assert_string_equal(prism_error_reason(PRISM_EUNSUPPORTED), "unsupported");
    assert_string_equal(prism_error_reason(PRISM_EDRAINING), "draining");
    assert_string_equal(prism_error_reason(PRISM_EOVERLOADED), "overloaded");
    assert_string_equal(prism_error_reason(PRISM_ENOMEM), "internal");
}

static void test_json_escape(void **state)
{
    (void)state;
    char out[32];
    size_t len = 0;
    prism_json_escape(out, sizeof(out), &len, "a\"b\\c\n");
    out[len] = '\0';
    assert_string_equal(out, "a\\\"b\\\\c\\u000a");
    len = 0;
    prism_json_escape(out, 8, &len, "0123456789");
    assert_true(len < 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_id_invalid),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
