/* Unit tests for relay/wire/red (RFC 2198): the payload libwebrtc sends for
 * Opus with one redundant block, a primary alone, the largest offsets and
 * lengths the 14- and 10-bit fields hold, the block cap, and every
 * truncation and overrun (each on an exact-size heap copy, so ASan sees any
 * read past the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/wire/red.h"

/* red PT 63 over Opus PT 111: one redundant block 960 samples old (20 ms),
 * 5 bytes, then the 6-byte primary. */
static const uint8_t two_blocks[] = {
    0x80 | 111, 0x0f, 0x00, 0x05,             /* F=1 PT 111, ts offset 960 (0x3c0 << 2), len 5 */
    111,                                      /* F=0 PT 111: the primary */
    0xa1,       0xa2, 0xa3, 0xa4, 0xa5,       /* redundant data */
    0xb1,       0xb2, 0xb3, 0xb4, 0xb5, 0xb6, /* primary data */
};

/* Parses a heap copy of exactly `len` bytes of `src`. */
static int parse(const uint8_t *src, size_t len, struct prism_red_block *b, size_t cap, size_t *n)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, src, len);
    int rc = prism_red_parse(copy, len, b, cap, n);
    free(copy);
    return rc;
}

static void test_two_blocks(void **state)
{
    (void)state;
    struct prism_red_block b[PRISM_RED_MAX_BLOCKS];
    size_t n = 0;
    assert_int_equal(parse(two_blocks, sizeof(two_blocks), b, PRISM_RED_MAX_BLOCKS, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(b[0].pt, 111);
    assert_int_equal(b[0].ts_offset, 960);
    assert_int_equal(b[0].offset, 5);
    assert_int_equal(b[0].len, 5);
    assert_int_equal(two_blocks[b[0].offset], 0xa1);
    assert_int_equal(b[1].pt, 111);
    assert_int_equal(b[1].ts_offset, 0);
    assert_int_equal(b[1].offset, 10);
    assert_int_equal(b[1].len, 6);
    assert_int_equal(two_blocks[b[1].offset], 0xb1);
}

static void test_primary_only(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x80 | 111 /* F=1 would want 4 bytes */, 1, 2};
    static const uint8_t primary[] = {111, 0x78, 0x0b};
    struct prism_red_block b[4];
    size_t n = 0;
    assert_int_equal(parse(primary, sizeof(primary), b, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].pt, 111);
    assert_int_equal(b[0].offset, 1);
    assert_int_equal(b[0].len, 2);
    assert_int_equal(parse(p, sizeof(p), b, 4, &n), PRISM_EINVAL);
}

/* The widest fields: a 14-bit offset of 16383 and a 10-bit length of 1023. */
static void test_field_widths(void **state)
{
    (void)state;
    size_t len = 4 + 1 + 1023 + 1;
    uint8_t *p = calloc(1, len);
    assert_non_null(p);
    p[0] = 0x80 | 0x7f; /* PT 127 */
    p[1] = 0xff;
    p[2] = 0xff;
    p[3] = 0xff; /* offset 0x3fff, length 0x3ff */
    p[4] = 0x05;
    struct prism_red_block b[2];
    size_t n = 0;
    assert_int_equal(parse(p, len, b, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(b[0].pt, 127);
    assert_int_equal(b[0].ts_offset, 16383);
    assert_int_equal(b[0].len, 1023);
    assert_int_equal(b[1].pt, 5);
    assert_int_equal(b[1].offset, 5 + 1023);
    assert_int_equal(b[1].len, 1);
    /* one byte less: nothing left for the primary */
    assert_int_equal(parse(p, len - 1, b, 2, &n), PRISM_EINVAL);
    free(p);
}

static void test_malformed(void **state)
{
    (void)state;
    struct prism_red_block b[PRISM_RED_MAX_BLOCKS];
    size_t n = 0;
    /* empty; an empty primary; every truncation of the two-block payload
     * up to where the primary's data starts */
    assert_int_equal(parse(two_blocks, 0, b, PRISM_RED_MAX_BLOCKS, &n), PRISM_EINVAL);
    static const uint8_t empty_primary[] = {111};
    assert_int_equal(parse(empty_primary, 1, b, PRISM_RED_MAX_BLOCKS, &n), PRISM_EINVAL);
    for (size_t len = 1; len <= 10; len++)
        assert_int_equal(parse(two_blocks, len, b, PRISM_RED_MAX_BLOCKS, &n), PRISM_EINVAL);
    assert_int_equal(parse(two_blocks, 11, b, PRISM_RED_MAX_BLOCKS, &n), 0);
    assert_int_equal(b[1].len, 1);
    /* only F=1 headers: no primary header */
    static const uint8_t no_primary[] = {0xef, 0, 0, 0, 0xef, 0, 0, 0};
    assert_int_equal(parse(no_primary, sizeof(no_primary), b, PRISM_RED_MAX_BLOCKS, &n),
                     PRISM_EINVAL);
    /* NULL arguments, a payload longer than 16 bits can place */
    assert_int_equal(prism_red_parse(NULL, 3, b, 2, &n), PRISM_EINVAL);
    assert_int_equal(prism_red_parse(two_blocks, sizeof(two_blocks), NULL, 2, &n), PRISM_EINVAL);
    assert_int_equal(prism_red_parse(two_blocks, sizeof(two_blocks), b, 2, NULL), PRISM_EINVAL);
    assert_int_equal(prism_red_parse(two_blocks, 65536, b, 2, &n), PRISM_EINVAL);
}

/* More blocks than the caller's room (or PRISM_RED_MAX_BLOCKS) is refused. */
static void test_block_cap(void **state)
{
    (void)state;
    uint8_t p[4 * PRISM_RED_MAX_BLOCKS + 2];
    size_t len = 0;
    for (size_t i = 0; i + 1 < PRISM_RED_MAX_BLOCKS; i++) {
        p[len++] = 0x80 | 111;
        p[len++] = 0;
        p[len++] = 0;
        p[len++] = 0; /* empty redundant blocks */
    }
    p[len++] = 111;
    p[len++] = 0x78;
    struct prism_red_block b[PRISM_RED_MAX_BLOCKS + 1];
    size_t n = 0;
    assert_int_equal(parse(p, len, b, PRISM_RED_MAX_BLOCKS, &n), 0);
    assert_int_equal(n, PRISM_RED_MAX_BLOCKS);
    assert_int_equal(b[n - 1].len, 1);
    assert_int_equal(parse(p, len, b, PRISM_RED_MAX_BLOCKS - 1, &n), PRISM_EINVAL);
    /* one header more than the format's bound, with room to spare */
    uint8_t q[sizeof(p) + 4];
    q[0] = 0x80 | 111;
    q[1] = q[2] = q[3] = 0;
    memcpy(q + 4, p, len);
    assert_int_equal(parse(q, len + 4, b, PRISM_RED_MAX_BLOCKS + 1, &n), PRISM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_blocks),   cmocka_unit_test(test_primary_only),
        cmocka_unit_test(test_field_widths), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_block_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
