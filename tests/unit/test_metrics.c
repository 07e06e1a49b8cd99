/* Unit tests for signaling/metrics_text and signaling/metrics: the
 * Prometheus text format (escaping, types, values) and the control-request
 * counts (known methods and results only, everything else "other"). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/metrics.h"
#include "signaling/metrics_text.h"

static void test_family_and_types(void **state)
{
    (void)state;
    GString *out = g_string_new(NULL);
    prism_metrics_text_family(out, "prism_x_total", PRISM_METRICS_COUNTER,
                              "Things\nseen \\ \"ok\"");
    prism_metrics_text_u64(out, "prism_x_total", NULL, 0, UINT64_MAX);
    prism_metrics_text_family(out, "prism_y_seconds", PRISM_METRICS_GAUGE, "Y");
    prism_metrics_text_f64(out, "prism_y_seconds", NULL, 0, 0.0024116559999999999);
    assert_string_equal(out->str, "# HELP prism_x_total Things\\nseen \\\\ \"ok\"\n"
                                  "# TYPE prism_x_total counter\n"
                                  "prism_x_total 18446744073709551615\n"
                                  "# HELP prism_y_seconds Y\n"
                                  "# TYPE prism_y_seconds gauge\n"
                                  "prism_y_seconds 0.002411656\n");
    g_string_free(out, TRUE);
}

static void test_label_escaping(void **state)
{
    (void)state;
    GString *out = g_string_new(NULL);
    const struct prism_metrics_label l[2] = {{"tenant", "a\\b\"c\nd}e,f=g"}, {"state", ""}};
    prism_metrics_text_u64(out, "prism_t", l, 2, 7);
    assert_string_equal(out->str, "prism_t{tenant=\"a\\\\b\\\"c\\nd}e,f=g\",state=\"\"} 7\n");
    g_string_free(out, TRUE);
}

static void test_special_values(void **state)
{
    (void)state;
    GString *out = g_string_new(NULL);
    const struct prism_metrics_label w = {"worker", "0"};
    prism_metrics_text_f64(out, "a", &w, 1, NAN);
    prism_metrics_text_f64(out, "a", &w, 1, INFINITY);
    prism_metrics_text_f64(out, "a", &w, 1, -INFINITY);
    prism_metrics_text_f64(out, "a", &w, 1, 1234567.5);
    prism_metrics_text_f64(out, "a", &w, 1, 0);
    assert_string_equal(out->str, "a{worker=\"0\"} NaN\n"
                                  "a{worker=\"0\"} +Inf\n"
                                  "a{worker=\"0\"} -Inf\n"
                                  "a{worker=\"0\"} 1234567.5\n"
                                  "a{worker=\"0\"} 0\n");
    g_string_free(out, TRUE);
}

/* Only method names of the protocol and known results become label
 * values: a client cannot add series by inventing names. */
static void test_request_counts(void **state)
{
    (void)state;
    struct prism_metrics *m = prism_metrics_new();
    assert_non_null(m);
    prism_metrics_count_request(m, "stats.get", "ok");
    prism_metrics_count_request(m, "stats.get", "ok");
    prism_metrics_count_request(m, "peer.join", "not_found");
    prism_metrics_count_request(m, "x\"injected\"", "method_not_found");
    prism_metrics_count_request(m, "made.up", "method_not_found");
    prism_metrics_count_request(m, NULL, "parse_error");
    prism_metrics_count_request(m, "relay.drain", "made_up_result");
    GString *out = g_string_new(NULL);
    prism_metrics_render(m, &(struct prism_metrics_sources){0}, out);
    assert_non_null(strstr(out->str, "# TYPE prism_control_requests_total counter\n"));
    assert_non_null(
        strstr(out->str, "prism_control_requests_total{method=\"stats.get\",result=\"ok\"} 2\n"));
    assert_non_null(strstr(
        out->str, "prism_control_requests_total{method=\"peer.join\",result=\"not_found\"} 1\n"));
    assert_non_null(
        strstr(out->str,
               "prism_control_requests_total{method=\"other\",result=\"method_not_found\"} 2\n"));
    assert_non_null(strstr(
        out->str, "prism_control_requests_total{method=\"other\",result=\"parse_error\"} 1\n"));
    assert_non_null(strstr(
        out->str, "prism_control_requests_total{method=\"relay.drain\",result=\"other\"} 1\n"));
    assert_null(strstr(out->str, "injected"));
    assert_null(strstr(out->str, "made"));
    /* no relay, events or server: their series are left out */
    assert_null(strstr(out->str, "prism_peers"));
    assert_null(strstr(out->str, "prism_event"));
    g_string_free(out, TRUE);
    prism_metrics_free(m);
    prism_metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_types),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_request_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
