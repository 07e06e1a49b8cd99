/* Unit tests for the dependency descriptor on a publisher's ingress
 * (relay/worker/ingress.c, room.c's per-track structures): the element
 * found in the two-byte extension form libwebrtc uses once a structure
 * makes it longer than 16 bytes, each packet read against the stream's
 * kept structure and the layers above a consumer's choice left out; a
 * malformed descriptor is a counted `malformed` drop; a packet whose
 * template the kept structure lacks goes on with unknown layers (left out,
 * counted, by a consumer that drops layers); the AV1 payload and a VP8 one
 * minimised as libwebrtc sends it with the descriptor are read alike.
 *
 * The worker objects are built by tests/unit/ingress_fixture.c, without
 * transports (a key frame request toward the publisher stops at its link,
 * which is not open).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/bytes.h"
#include "tests/unit/av1dd_writer.h"
#include "tests/unit/ingress_fixture.h"

#define AV1_PT 45
#define VP8_PT 96
#define DD_EXT 12
#define PUB_SSRC 0x100u

static struct ingress_fixture F;

/* Feeds the publisher's ingress one packet of frame `fr` (timestamp 3000 *
 * fr) carrying descriptor `dd` (`n` bytes) in the two-byte form. */
static void rtp(uint8_t pt, uint16_t seq, uint16_t fr, const uint8_t *dd, size_t n)
{
    uint8_t b[160] = {0};
    b[0] = 0x90; /* X */
    b[1] = pt;
    prism_store_be16(b + 2, seq);
    prism_store_be32(b + 4, 3000u * fr);
    prism_store_be32(b + 8, PUB_SSRC);
    b[12] = 0x10; /* RFC 8285 two-byte form */
    b[13] = 0x00;
    size_t words = (2 + n + 3) / 4;
    prism_store_be16(b + 14, (uint16_t)words);
    b[16] = DD_EXT;
    b[17] = (uint8_t)n;
    memcpy(b + 18, dd, n);
    size_t at = 16 + 4 * words;
    b[at++] = 0x10; /* VP8: S, partition 0, no X; AV1: an aggregation header */
    memset(b + at, 0x01, 20);
    prism__ingress_rtp(&F.pub.pub, b, at + 20);
}

/* Frame `fr` of L1T3 with template `id` (the structure attached when `st`). */
static void frame(uint8_t pt, uint16_t fr, uint8_t id, const struct ddw_structure *st)
{
    uint8_t dd[96];
    size_t n = ddw_write(dd, true, true, id, fr, st, 0, NULL, -1);
    rtp(pt, (uint16_t)(900 + fr), fr, dd, n);
}

static int setup(void **state)
{
    (void)state;
    ingress_fixture_init(&F);
    struct peer *p = &F.pub;
    p->ext_ids = (struct prism_rtp_ext_ids){.av1dd = DD_EXT};
    ingress_fixture_tracks(&F, 1);
    struct track *tr = &p->tracks[0];
    tr->d = (struct prism_track_desc){.handle = 11,
                                      .video = true,
                                      .ssrc = PUB_SSRC,
                                      .mid = "1",
                                      .av1dd_ext_id = DD_EXT,
                                      .vp8_pt = VP8_PT,
                                      .vp9_pt = PRISM_PT_NONE,
                                      .red_pt = PRISM_PT_NONE,
                                      .opus_pt = PRISM_PT_NONE};
    assert_true(track_dd(tr));
    tr->dd = calloc(PRISM_MEDIA_MAX_LAYERS, sizeof(*tr->dd)); /* as room.c's set_dd */
    assert_non_null(tr->dd);
    ingress_fixture_produce(&F, tr);

    ingress_fixture_subscribe(&F, tr->producer);
    assert_false(prism_consumer_set_svc_target(F.consumer, 0, 0));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ingress_fixture_deinit(&F);
    return 0;
}

static void assert_sent(const uint16_t *frames, size_t n)
{
    assert_int_equal(F.n_sent, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(F.sent_ts[i], 3000u * frames[i]);
        assert_int_equal(F.sent_seq[i], (uint16_t)(F.sent_seq[0] + i)); /* continuous */
    }
}

/* AV1 L3T3 to a consumer of S0 T0: the structure (over 16 bytes) read in
 * the two-byte form, only the S0 T0 frames go out. */
static void test_av1_l3t3(void **state)
{
    (void)state;
    uint16_t seq = 100;
    uint8_t dd[96];
    for (uint16_t pic = 0; pic < 4; pic++)
        for (uint8_t s = 0; s < 3; s++) {
            bool key = pic == 0;
            /* key: templates 20, 25, 29; then T0 21/26/30, T2 24/28/32 */
            uint8_t id = (uint8_t)(key            ? (s == 0   ? 20
                                                     : s == 1 ? 25
                                                              : 29)
                                   : pic % 2 == 0 ? (s == 0   ? 21
                                                     : s == 1 ? 26
                                                              : 30)
                                                  : (s == 0   ? 24
                                                     : s == 1 ? 28
                                                              : 32));
            size_t n = ddw_write(dd, true, true, id, (uint16_t)(3 * pic + s),
                                 key && s == 0 ? &DDW_L3T3 : NULL, 0, NULL, -1);
            assert_true(n <= 96);
            rtp(AV1_PT, seq++, pic, dd, n);
        }
    const uint16_t want[] = {0, 2};
    assert_sent(want, 2);
    assert_int_equal(F.sub.out.drop_layer, 10);
    assert_int_equal(F.pub.drop_malformed, 0);
    assert_int_equal(F.pub.tracks[0].dd[0].n_decode_targets, 9);
}

/* VP8 as libwebrtc sends it with the descriptor (its own minimised): the
 * layers are the descriptor's. */
static void test_vp8_minimised(void **state)
{
    (void)state;
    frame(VP8_PT, 0, DDW_L1T3_KEY, &DDW_L1T3);
    frame(VP8_PT, 1, DDW_L1T3_T2S, NULL);
    frame(VP8_PT, 2, DDW_L1T3_T1, NULL);
    frame(VP8_PT, 3, DDW_L1T3_T2, NULL);
    frame(VP8_PT, 4, DDW_L1T3_T0, NULL);
    const uint16_t want[] = {0, 4};
    assert_sent(want, 2);
    assert_int_equal(F.sub.out.drop_layer, 3);
}

/* Before the structure: taken (the consumer never left every layer);
 * a malformed descriptor: a counted drop (a hole for the subscriber, as
 * a loss upstream: its receiver would drop it too); a template the kept
 * structure lacks: left out, counted, closed over. */
static void test_unknown_and_malformed(void **state)
{
    (void)state;
    frame(AV1_PT, 0, DDW_L1T3_T0, NULL); /* no structure yet */
    assert_int_equal(F.n_sent, 1);
    frame(AV1_PT, 1, DDW_L1T3_KEY, &DDW_L1T3);
    assert_int_equal(F.n_sent, 2);
    uint8_t dd[96];
    size_t n = ddw_write(dd, false, true, DDW_L1T3_KEY, 2, &DDW_L1T3, 0, NULL, -1);
    rtp(AV1_PT, 902, 2, dd, n); /* a structure on a packet that starts no frame */
    rtp(AV1_PT, 903, 3, dd, 2); /* shorter than the mandatory fields */
    assert_int_equal(F.pub.drop_malformed, 2);
    assert_int_equal(F.n_sent, 2);
    frame(AV1_PT, 4, 40, NULL); /* not in the kept structure */
    assert_int_equal(F.sub.out.drop_unknown_layer, 1);
    frame(AV1_PT, 5, DDW_L1T3_T0, NULL);
    /* what the consumer left out is closed over; what ingress dropped as
     * malformed is a hole, as any packet lost upstream */
    assert_int_equal(F.n_sent, 3);
    assert_int_equal(F.sent_ts[2], 3000u * 5);
    assert_int_equal(F.sent_seq[0], 900);
    assert_int_equal(F.sent_seq[1], 901);
    assert_int_equal(F.sent_seq[2], 904);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_av1_l3t3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp8_minimised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
