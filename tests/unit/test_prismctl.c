/* Unit tests for prismctl's pure half: the grid layout and --table
 * (signaling/prismctl_table.c), rates and top's frames
 * (signaling/prismctl_top_view.c). Frames are compared whole: they are what
 * an operator reads and what scripts parse. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/prismctl_table.h"
#include "signaling/prismctl_top.h"

/* Runs `print` into a string; the caller frees it. */
static char *capture_table(const char *json)
{
    json_error_t err;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &err);
    assert_non_null(v);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    assert_int_equal(prism_ctl_table_print(mem, v), 0);
    assert_int_equal(fclose(mem), 0);
    json_decref(v);
    return text;
}

static void assert_table(const char *json, const char *want)
{
    char *got = capture_table(json);
    assert_string_equal(got, want);
    free(got);
}

static void test_grid_alignment(void **state)
{
    (void)state;
    struct prism_ctl_grid *g = prism_ctl_grid_new(3);
    assert_non_null(g);
    const char *rows[][3] = {
        {"NAME", "COUNT", "NOTE"}, {"a", "5", "x"}, {"longer", "1.2k", ""}, {"b", "-", "yy"}};
    for (size_t r = 0; r < 4; r++) {
        assert_int_equal(prism_ctl_grid_add_row(g), 0);
        for (size_t c = 0; c < 3; c++)
            assert_int_equal(prism_ctl_grid_set(g, c, "%s", rows[r][c]), 0);
    }
    assert_int_equal(prism_ctl_grid_rows(g), 4);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    prism_ctl_grid_print(g, mem, 0, 0);
    /* Numbers right-aligned, text left-aligned, no trailing blanks. */
    prism_ctl_grid_print(g, mem, 13, 2);
    fclose(mem);
    assert_string_equal(text, "NAME    COUNT  NOTE\n"
                              "a           5  x\n"
                              "longer   1.2k\n"
                              "b           -  yy\n"
                              "NAME    COUNT\n"
                              "a           5\n");
    free(text);
    prism_ctl_grid_free(g);
    prism_ctl_grid_free(NULL);

    /* A text column stays left-aligned when its cells look like numbers. */
    g = prism_ctl_grid_new(2);
    prism_ctl_grid_set_text(g, 1);
    const char *pairs[][2] = {{"N", "SPEAKER"}, {"100", "-"}, {"7", "-"}};
    for (size_t r = 0; r < 3; r++) {
        assert_int_equal(prism_ctl_grid_add_row(g), 0);
        for (size_t c = 0; c < 2; c++)
            assert_int_equal(prism_ctl_grid_set(g, c, "%s", pairs[r][c]), 0);
    }
    mem = open_memstream(&text, &len);
    prism_ctl_grid_print(g, mem, 0, 0);
    fclose(mem);
    assert_string_equal(text, "N    SPEAKER\n"
                              "100  -\n"
                              "  7  -\n");
    free(text);
    prism_ctl_grid_free(g);
}

static void test_table_object_with_list(void **state)
{
    (void)state;
    /* bubble.info's shape: a list of peers, with nested track objects. */
    assert_table("{\"peers\":[{\"peer\":\"alice\",\"publish\":true,\"state\":\"connected\","
                 "\"tracks\":[{\"kind\":\"audio\",\"track\":\"a0\",\"mid\":\"0\"},"
                 "{\"kind\":\"video\",\"track\":\"v1\",\"mid\":\"1\"}]},"
                 "{\"peer\":\"bob\",\"publish\":false,\"state\":\"new\",\"tracks\":[]}]}",
                 "peers:\n"
                 "PEER   PUBLISH  STATE      TRACKS\n"
                 "alice  true     connected  audio:a0:0,video:v1:1\n"
                 "bob    false    new\n");
    assert_table("{\"peers\":[]}", "peers: none\n");
}

static void test_table_pairs(void **state)
{
    (void)state;
    /* stats.get's shape: flat counters, nested objects, a worker list
     * (whose nested objects become a column per scalar, lists left out). */
    assert_table("{\"packets_in\":12,\"drops\":{\"malformed\":1,\"no_route\":0},"
                 "\"name\":\"a\\r\\nb\",\"ips\":[\"10.0.0.1\",\"10.0.0.2\"],"
                 "\"workers\":[{\"worker\":0,\"loop_lag_ms\":0.5,"
                 "\"relay_delay\":{\"p99_ms\":1.5,\"counts\":[1,2]}},{\"worker\":1}]}",
                 "KEY              VALUE\n"
                 "packets_in       12\n"
                 "drops.malformed  1\n"
                 "drops.no_route   0\n"
                 "name             \"a\\r\\nb\"\n"
                 "ips              10.0.0.1,10.0.0.2\n"
                 "\n"
                 "workers:\n"
                 "WORKER  LOOP_LAG_MS  RELAY_DELAY.P99_MS\n"
                 "     0          0.5                 1.5\n"
                 "     1\n");
    /* A bare list, a scalar, an empty object. */
    assert_table("[{\"a\":1},{\"b\":\"x\"}]", "A  B\n1\n   x\n");
    assert_table("7", "7\n");
    assert_table("{}", "");
}

static json_t *parse(const char *json)
{
    json_error_t err;
    json_t *v = json_loads(json, 0, &err);
    if (v == NULL)
        fail_msg("bad test JSON: %s", err.text);
    return v;
}

static void test_rates(void **state)
{
    (void)state;
    json_t *a = parse("{\"packets_out\":100,\"rtx\":{\"nacked\":1},"
                      "\"drops\":{\"malformed\":1,\"no_route\":2}}");
    json_t *b = parse("{\"packets_out\":300,\"rtx\":{\"nacked\":5},"
                      "\"drops\":{\"malformed\":2,\"no_route\":5}}");
    assert_true(fabs(prism_ctl_top_rate(a, b, "packets_out", 2) - 100) < 1e-9);
    assert_true(fabs(prism_ctl_top_rate(a, b, "rtx.nacked", 0.5) - 8) < 1e-9);
    assert_true(fabs(prism_ctl_top_rate(a, b, "drops", 1) - 4) < 1e-9);
    assert_true(fabs(prism_ctl_top_loss_pct(a, b) - 2) < 1e-9);
    /* Unknown: no previous, no time, a missing counter, a counter reset. */
    assert_true(isnan(prism_ctl_top_rate(NULL, b, "packets_out", 1)));
    assert_true(isnan(prism_ctl_top_rate(a, b, "packets_out", 0)));
    assert_true(isnan(prism_ctl_top_rate(a, b, "bytes_out", 1)));
    assert_true(isnan(prism_ctl_top_rate(b, a, "packets_out", 1)));
    assert_true(isnan(prism_ctl_top_loss_pct(a, a)));
    json_decref(a);
    json_decref(b);

    char buf[16];
    const struct {
        double v;
        const char *want;
    } cases[] = {{NAN, "-"},       {-1, "-"},          {0, "0"},        {2.54, "2.5"},
                 {9.99, "10.0"},   {740.4, "740"},     {999.4, "999"},  {999.6, "1.0k"},
                 {12345, "12.3k"}, {999949, "999.9k"}, {4.1e6, "4.1M"}, {1e9, "1.0G"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        prism_ctl_top_fmt_rate(buf, sizeof(buf), cases[i].v);
        assert_string_equal(buf, cases[i].want);
    }
}

/* A stats.get result with the counters top reads, plus `extra` members. */
static json_t *stats(int pin, int bin, int pout, int bout, int nacked, int malformed, json_t *extra)
{
    json_t *v = json_pack("{s:i, s:i, s:i, s:i, s:{s:i, s:i}, s:{s:i}}", "packets_in", pin,
                          "bytes_in", bin, "packets_out", pout, "bytes_out", bout, "drops",
                          "malformed", malformed, "no_route", 0, "rtx", "nacked", nacked);
    assert_non_null(v);
    assert_int_equal(json_object_update(v, extra), 0);
    json_decref(extra);
    return v;
}

static char *render(const json_t *prev, const json_t *cur, size_t width, size_t height)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_int_equal(prism_ctl_top_render(mem, prev, cur, width, height), 0);
    fclose(mem);
    return text;
}

static void test_frame(void **state)
{
    (void)state;
    json_t *prev = json_pack(
        "{s:f, s:o, s:{s:o}, s:{s:{s:o}, s:{s:o}}}", "t", 10.0, "stats",
        stats(1000, 100000, 2000, 200000, 10, 1,
              parse("{\"tenants\":1,\"bubbles\":3,\"peers\":4,\"workers\":["
                    "{\"worker\":0,\"cpu_s\":1.0},{\"worker\":1,\"cpu_s\":2.0}]}")),
        "tenants", "acme",
        stats(1000, 100000, 2000, 200000, 10, 1, parse("{\"bubbles\":2,\"peers\":4}")), "bubbles",
        "acme/quiet", "stats", stats(0, 0, 0, 0, 0, 0, parse("{\"peers\":1}")), "acme/standup",
        "stats", stats(1000, 100000, 2000, 200000, 10, 1, parse("{\"peers\":3}")));
    json_t *cur = json_pack(
        "{s:f, s:s, s:o, s:o, s:{s:o}, s:{s:{s:o}, s:{s:o, s:s}}}", "t", 12.0, "clock", "03:21:05",
        "info",
        parse("{\"version\":\"0.1.0\",\"epoch\":42,\"workers\":2,\"draining\":false,"
              "\"uptime_s\":3725}"),
        "stats",
        stats(1500, 150000, 3000, 300000, 30, 5,
              parse("{\"tenants\":1,\"bubbles\":3,\"peers\":4,\"workers\":["
                    "{\"worker\":0,\"bubbles\":2,\"transports\":5,\"loop_lag_ms\":0.25,"
                    "\"cpu_s\":1.5},{\"worker\":1,\"bubbles\":1,\"transports\":1,"
                    "\"loop_lag_ms\":3,\"cpu_s\":2.0}]}")),
        "tenants", "acme",
        stats(1500, 150000, 3000, 300000, 30, 5, parse("{\"bubbles\":2,\"peers\":4}")), "bubbles",
        "acme/quiet", "stats", stats(0, 0, 0, 0, 0, 0, parse("{\"peers\":1}")), "acme/standup",
        "stats", stats(1500, 150000, 3000, 300000, 30, 5, parse("{\"peers\":3}")), "speaker",
        "alice");
    assert_non_null(prev);
    assert_non_null(cur);

    char *text = render(prev, cur, 0, 0);
    assert_string_equal(
        text,
        "prism 0.1.0  epoch 42  up 1:02:05  workers 2  draining no  03:21:05\n"
        "tenants 1  bubbles 3  peers 4  in 250/s 200 kbit/s  out 500/s 400 kbit/s  loss 2.0%  "
        "drops 2.0/s\n"
        "(2 of 3 bubbles shown: the others had no media events yet; name them with --bubble "
        "TENANT/BUBBLE)\n"
        "\n"
        "WORKER  BUBBLES  TRANSPORTS  LAG_MS  CPU%\n"
        "     0        2           5     0.2  25.0\n"
        "     1        1           1     3.0   0.0\n"
        "\n"
        "TENANT  BUBBLES  PEERS  IN/S  OUT/S  IN_KBPS  OUT_KBPS  LOSS%  DROPS/S\n"
        "acme          2      4   250    500      200       400    2.0      2.0\n"
        "\n"
        "BUBBLE        PEERS  IN/S  OUT/S  IN_KBPS  OUT_KBPS  LOSS%  DROPS/S  SPEAKER\n"
        "acme/standup      3   250    500      200       400    2.0      2.0  alice\n"
        "acme/quiet        1     0      0        0         0      -        0  -\n");
    free(text);

    /* A terminal 40 wide and 6 high: lines cut, the frame stops. */
    text = render(prev, cur, 40, 6);
    assert_string_equal(text, "prism 0.1.0  epoch 42  up 1:02:05  worke\n"
                              "tenants 1  bubbles 3  peers 4  in 250/s \n"
                              "(2 of 3 bubbles shown: the others had no\n"
                              "\n"
                              "WORKER  BUBBLES  TRANSPORTS  LAG_MS  CPU\n"
                              "     0        2           5     0.2  25.\n");
    free(text);

    /* The first frame (no previous snapshot) and a relay without per-worker
     * figures nor relay-wide stats (a limited client): dashes. */
    json_object_del(cur, "stats");
    text = render(NULL, cur, 0, 0);
    assert_string_equal(
        text, "prism 0.1.0  epoch 42  up 1:02:05  workers 2  draining no  03:21:05\n"
              "tenants -  bubbles -  peers -  in -/s - kbit/s  out -/s - kbit/s  loss -  "
              "drops -/s\n"
              "\n"
              "WORKER  BUBBLES  TRANSPORTS  LAG_MS  CPU%\n"
              "     0        -           -       -     -\n"
              "     1        -           -       -     -\n"
              "\n"
              "TENANT  BUBBLES  PEERS  IN/S  OUT/S  IN_KBPS  OUT_KBPS  LOSS%  DROPS/S\n"
              "acme          2      4     -      -        -         -      -        -\n"
              "\n"
              "BUBBLE        PEERS  IN/S  OUT/S  IN_KBPS  OUT_KBPS  LOSS%  DROPS/S  SPEAKER\n"
              "acme/quiet        1     -      -        -         -      -        -  -\n"
              "acme/standup      3     -      -        -         -      -        -  alice\n");
    free(text);
    json_decref(prev);
    json_decref(cur);

    /* Nothing at all: still a frame. */
    json_t *empty = json_object();
    text = render(NULL, empty, 0, 0);
    assert_string_equal(text, "prism -  epoch -  up -  workers -  draining -\n"
                              "tenants -  bubbles -  peers -  in -/s - kbit/s  out -/s - kbit/s  "
                              "loss -  drops -/s\n"
                              "\n"
                              "WORKER  BUBBLES  TRANSPORTS  LAG_MS  CPU%\n");
    free(text);
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_alignment), cmocka_unit_test(test_table_object_with_list),
        cmocka_unit_test(test_table_pairs),    cmocka_unit_test(test_rates),
        cmocka_unit_test(test_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
