/* Unit tests for relay/base: id validation, error reasons, JSON escaping, delay histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/delay_hist.h"
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

/* Bucket edges are inclusive upper bounds; quantiles interpolate inside a
 * bucket; the unbounded last bucket answers its lower bound; a diff of two
 * snapshots is per bucket. */
static void test_delay_hist(void **state)
{
    (void)state;
    struct prism_delay_hist h = {0};
    assert_int_equal(prism_delay_hist_quantile_us(&h, 0.99), 0);
    prism_delay_hist_add(&h, 50000, 1); /* 50 µs: the first bucket, its edge */
    prism_delay_hist_add(&h, 51001, 1); /* 51 µs: the second */
    assert_int_equal(h.counts[0], 1);
    assert_int_equal(h.counts[1], 1);
    prism_delay_hist_add(&h, UINT64_C(3000000000), 2); /* 3 s, twice: beyond every bound */
    assert_int_equal(h.counts[PRISM_DELAY_BUCKETS - 1], 2);
    assert_int_equal(prism_delay_hist_total(&h), 4);
    assert_true(h.sum_ns == 50000 + 51001 + UINT64_C(6000000000));
    assert_true(prism_delay_hist_quantile_us(&h, 1.0) == 1000000.0);

    struct prism_delay_hist later = h, last;
    prism_delay_hist_add(&later, 1500000, 100); /* 1.5 ms: the 1-2 ms bucket */
    prism_delay_hist_diff(&later, &h, &last);
    assert_int_equal(prism_delay_hist_total(&last), 100);
    assert_true(last.sum_ns == UINT64_C(150000000));
    /* 100 in (1000, 2000] µs: the median is halfway, p99 near the top. */
    assert_true(prism_delay_hist_quantile_us(&last, 0.5) == 1500.0);
    assert_true(prism_delay_hist_quantile_us(&last, 0.99) == 1990.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_valid),   cmocka_unit_test(test_id_invalid),
        cmocka_unit_test(test_reasons),    cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_delay_hist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
