/* Unit tests for signaling/framing: lines across chunks, overlong lines,
 * CRLF, blank lines, stop requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/framing.h"

struct seen {
    char lines[16][64];
    int n_lines;
    int n_overlong;
    int stop_after;
};

static bool on_line(void *ud, const char *line, size_t len)
{
    struct seen *s = ud;
    assert_true(len < 64);
    memcpy(s->lines[s->n_lines], line, len);
    s->lines[s->n_lines][len] = '\0';
    s->n_lines++;
    return s->stop_after == 0 || s->n_lines < s->stop_after;
}

static bool on_overlong(void *ud)
{
    ((struct seen *)ud)->n_overlong++;
    return true;
}

static const struct prism_framer_callbacks cb = {on_line, on_overlong};

static void feed(struct prism_framer *f, struct seen *s, const char *data)
{
    assert_int_equal(prism_framer_feed(f, data, strlen(data), &cb, s), 0);
}

static void test_lines_in_one_chunk(void **state)
{
    (void)state;
    struct prism_framer f;
    struct seen s = {0};
    prism_framer_init(&f, 32);
    feed(&f, &s, "one\ntwo\r\n\n  \nthree");
    assert_int_equal(s.n_lines, 2);
    assert_string_equal(s.lines[0], "one");
    assert_string_equal(s.lines[1], "two");
    assert_int_equal(prism_framer_pending(&f), 5);
    feed(&f, &s, "\n");
    assert_int_equal(s.n_lines, 3);
    assert_string_equal(s.lines[2], "three");
    prism_framer_deinit(&f);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    struct prism_framer f;
    struct seen s = {0};
    prism_framer_init(&f, 32);
    const char *data = "{\"a\":1}\n{\"b\":2}\n";
    for (size_t i = 0; i < strlen(data); i++)
        assert_int_equal(prism_framer_feed(&f, data + i, 1, &cb, &s), 0);
    assert_int_equal(s.n_lines, 2);
    assert_string_equal(s.lines[1], "{\"b\":2}");
    prism_framer_deinit(&f);
}

static void test_overlong_skipped_once(void **state)
{
    (void)state;
    struct prism_framer f;
    struct seen s = {0};
    prism_framer_init(&f, 8);
    feed(&f, &s, "ok\n0123456789");
    assert_int_equal(s.n_overlong, 1);
    feed(&f, &s, "abcdefghijabcdefghij");
    feed(&f, &s, "still skipping\nafter\n");
    assert_int_equal(s.n_overlong, 1);
    assert_int_equal(s.n_lines, 2);
    assert_string_equal(s.lines[0], "ok");
    assert_string_equal(s.lines[1], "after");
    assert_true(f.cap <= 8);
    prism_framer_deinit(&f);
}

static void test_overlong_in_one_chunk(void **state)
{
    (void)state;
    struct prism_framer f;
    struct seen s = {0};
    prism_framer_init(&f, 4);
    feed(&f, &s, "toolong\nok\n");
    assert_int_equal(s.n_overlong, 1);
    assert_int_equal(s.n_lines, 1);
    assert_string_equal(s.lines[0], "ok");
    prism_framer_deinit(&f);
}

static void test_exactly_max(void **state)
{
    (void)state;
    struct prism_framer f;
    struct seen s = {0};
    prism_framer_init(&f, 4);
    feed(&f, &s, "ab");
    feed(&f, &s, "cd\n");
    assert_int_equal(s.n_overlong, 0);
    assert_string_equal(s.lines[0], "abcd");
    prism_framer_deinit(&f);
}

static void test_stop(void **state)
{
    (void)state;
    struct prism_framer f;
    struct seen s = {.stop_after = 1};
    prism_framer_init(&f, 32);
    assert_int_equal(prism_framer_feed(&f, "a\nb\n", 4, &cb, &s), 1);
    assert_int_equal(s.n_lines, 1);
    prism_framer_deinit(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_in_one_chunk),    cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_overlong_skipped_once), cmocka_unit_test(test_overlong_in_one_chunk),
        cmocka_unit_test(test_exactly_max),           cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
