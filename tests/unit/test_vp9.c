/* Unit tests for relay/wire/vp9 (the VP9 RTP payload descriptor, RFC 9628)
 * and the temporal layer fields of relay/wire/vp8: every field of a
 * non-flexible descriptor with a scalability structure, flexible mode's
 * P_DIFFs, truncation at every length, malformed lists, the in-place
 * setters, and VP8's TID/Y/KEYIDX byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/wire/vp8.h"
#include "relay/wire/vp9.h"

/* I, L, B, V (P clear: an intra picture), 15-bit picture id 0x1234, TID 0,
 * SID 0, TL0PICIDX 7, SS of 3 layers with sizes, then a frame byte. */
static const uint8_t key_ss[] = {
    0xAA,                   /* I . L . B . V . */
    0x92, 0x34,             /* M, picture id 0x1234 */
    0x00,                   /* TID 0, U 0, SID 0, D 0 */
    0x07,                   /* TL0PICIDX */
    0x50,                   /* N_S 2 (3 layers), Y, no G */
    0x01, 0x40, 0x00, 0xB4, /* 320x180 */
    0x02, 0x80, 0x01, 0x68, /* 640x360 */
    0x05, 0x00, 0x02, 0xD0, /* 1280x720 */
    0x9D,                   /* VP9 frame data */
};
#define KEY_SS_HEADER 18

static void test_parse_key_with_ss(void **state)
{
    (void)state;
    struct prism_vp9_desc d;
    assert_int_equal(prism_vp9_parse(key_ss, sizeof(key_ss), &d), 0);
    assert_false(d.inter_picture);
    assert_false(d.flexible);
    assert_true(d.begin);
    assert_false(d.end);
    assert_true(d.has_picture_id);
    assert_true(d.long_picture_id);
    assert_int_equal(d.picture_id, 0x1234);
    assert_true(d.has_layers);
    assert_int_equal(d.tid, 0);
    assert_int_equal(d.sid, 0);
    assert_true(d.has_tl0picidx);
    assert_int_equal(d.tl0picidx, 7);
    assert_true(d.has_ss);
    assert_int_equal(d.ss_n_spatial, 3);
    assert_int_equal(d.ss_width[0], 320);
    assert_int_equal(d.ss_height[0], 180);
    assert_int_equal(d.ss_height[1], 360);
    assert_int_equal(d.ss_width[2], 1280);
    assert_int_equal(d.ss_height[2], 720);
    assert_int_equal(d.header_len, KEY_SS_HEADER);
    assert_true(d.keyframe);
    /* Truncated anywhere inside the descriptor: refused. */
    for (size_t n = 0; n < KEY_SS_HEADER; n++)
        assert_int_equal(prism_vp9_parse(key_ss, n, &d), -1);
    assert_int_equal(prism_vp9_parse(key_ss, KEY_SS_HEADER, &d), 0);
}

static void test_parse_layers_and_flexible(void **state)
{
    (void)state;
    struct prism_vp9_desc d;
    /* Non-flexible, P, L, E, 7-bit picture id, TID 2, U, SID 1, D. */
    const uint8_t upper[] = {0xE4, 0x05, 0x53, 0x09, 0x00};
    assert_int_equal(prism_vp9_parse(upper, sizeof(upper), &d), 0);
    assert_true(d.inter_picture);
    assert_true(d.end);
    assert_false(d.begin);
    assert_false(d.long_picture_id);
    assert_int_equal(d.picture_id, 5);
    assert_int_equal(d.tid, 2);
    assert_true(d.switch_up);
    assert_int_equal(d.sid, 1);
    assert_true(d.inter_layer);
    assert_int_equal(d.tl0picidx, 9);
    assert_false(d.keyframe);
    assert_int_equal(d.header_len, 4);
    /* Flexible: no TL0PICIDX, then P_DIFFs 1 and 2 (N on the first). */
    const uint8_t flex[] = {0xF8, 0x05, 0x20, 0x03, 0x04, 0x00};
    assert_int_equal(prism_vp9_parse(flex, sizeof(flex), &d), 0);
    assert_true(d.flexible);
    assert_false(d.has_tl0picidx);
    assert_int_equal(d.tid, 1);
    assert_int_equal(d.n_pdiff, 2);
    assert_int_equal(d.pdiff[0], 1);
    assert_int_equal(d.pdiff[1], 2);
    assert_int_equal(d.header_len, 5);
    /* Four P_DIFFs: more than the format allows. */
    const uint8_t four[] = {0xF8, 0x05, 0x20, 0x03, 0x05, 0x07, 0x08, 0x00};
    assert_int_equal(prism_vp9_parse(four, sizeof(four), &d), -1);
    /* A bare descriptor: no picture id, no layers (taken as SID 0, TID 0). */
    const uint8_t bare[] = {0x0C, 0x00};
    assert_int_equal(prism_vp9_parse(bare, sizeof(bare), &d), 0);
    assert_false(d.has_picture_id);
    assert_false(d.has_layers);
    assert_true(d.keyframe);
    assert_int_equal(prism_vp9_parse(NULL, 4, &d), -1);
    assert_int_equal(prism_vp9_parse(bare, 0, &d), -1);
    /* An SS with a group description: R references per picture skipped. */
    const uint8_t group[] = {0x0A, 0x08, 0x02, 0x04, 0x01, 0x24, 0x01, 0x77};
    assert_int_equal(prism_vp9_parse(group, sizeof(group), &d), 0);
    assert_int_equal(d.ss_n_spatial, 1);
    assert_false(d.ss_has_size);
    assert_int_equal(d.ss_n_pictures, 2);
    assert_int_equal(d.header_len, 7);
    assert_int_equal(prism_vp9_parse(group, 6, &d), -1);
}

static void test_setters(void **state)
{
    (void)state;
    uint8_t b[sizeof(key_ss)];
    memcpy(b, key_ss, sizeof(b));
    struct prism_vp9_desc d, e;
    assert_int_equal(prism_vp9_parse(b, sizeof(b), &d), 0);
    prism_vp9_set_picture_id(b, &d, 0x7ffe);
    prism_vp9_set_tl0picidx(b, &d, 200);
    prism_vp9_set_end(b);
    assert_int_equal(prism_vp9_parse(b, sizeof(b), &e), 0);
    assert_int_equal(e.picture_id, 0x7ffe);
    assert_true(e.long_picture_id);
    assert_int_equal(e.tl0picidx, 200);
    assert_true(e.end);
    assert_true(e.begin);
    assert_memory_equal(b + 5, key_ss + 5, sizeof(b) - 5); /* nothing else moved */
    const uint8_t short_pid[] = {0xA0, 0x05, 0x00, 0x01, 0x00};
    memcpy(b, short_pid, sizeof(short_pid));
    assert_int_equal(prism_vp9_parse(b, sizeof(short_pid), &d), 0);
    prism_vp9_set_picture_id(b, &d, 0x1ff); /* masked to 7 bits */
    assert_int_equal(prism_vp9_parse(b, sizeof(short_pid), &e), 0);
    assert_int_equal(e.picture_id, 0x7f);
    assert_false(e.long_picture_id);
}

static void test_vp8_temporal(void **state)
{
    (void)state;
    struct prism_vp8_desc d;
    /* X S; I L T K; picture id 0x0102; TL0PICIDX 9; TID 2, Y, KEYIDX 3. */
    const uint8_t t[] = {0x90, 0xF0, 0x81, 0x02, 0x09, 0xA3, 0x01};
    assert_int_equal(prism_vp8_parse(t, sizeof(t), &d), 0);
    assert_true(d.has_tid);
    assert_int_equal(d.tid, 2);
    assert_true(d.layer_sync);
    assert_int_equal(d.tl0picidx, 9);
    assert_int_equal(d.header_len, 6);
    /* K alone: the byte is there, the TID is not. */
    const uint8_t k[] = {0x90, 0x10, 0x23, 0x01};
    assert_int_equal(prism_vp8_parse(k, sizeof(k), &d), 0);
    assert_false(d.has_tid);
    assert_int_equal(d.header_len, 3);
    assert_int_equal(prism_vp8_parse(t, 5, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_key_with_ss),
        cmocka_unit_test(test_parse_layers_and_flexible),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_vp8_temporal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
