/* Unit tests for relay/worker/demux: which of a publisher's tracks a packet
 * is for. By SSRC and rtx SSRC; by mid for a track announced without SSRC;
 * and, for a packet with neither (a softphone that offers before its
 * encoders start: no a=ssrc, no mid extension), by a payload type unique to
 * one m-line (RFC 8843 §9.2), which binds the stream's SSRC (or rtx SSRC)
 * so that later packets go by SSRC. Never SSRC 0; a payload type two
 * m-lines share routes nowhere; a track whose SSRC is known takes no other
 * stream by payload type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/worker/demux.h"

/* A track inside a bigger struct, as the worker keeps them. */
struct holder {
    struct prism_track_desc d;
    int other;
};

static void set_pt(struct prism_track_desc *d, uint8_t pt)
{
    d->pt_only[pt / 32] |= 1u << (pt % 32);
}

/* aiortc's offer with a=ssrc and the mid extmap taken out: audio Opus 96,
 * video VP8 97 with rtx 98; both unique. Plus a Chromium-like audio pair
 * sharing 111 (in no pt_only). */
static void tracks(struct holder h[4])
{
    memset(h, 0, 4 * sizeof(h[0]));
    h[0].d = (struct prism_track_desc){.handle = 1, .mid = "0"};
    set_pt(&h[0].d, 96);
    h[1].d = (struct prism_track_desc){.handle = 2, .video = true, .mid = "1", .n_rtx_pts = 1};
    h[1].d.rtx_pts[0] = (struct prism_rtx_pt){97, 98};
    set_pt(&h[1].d, 97);
    set_pt(&h[1].d, 98);
    h[2].d = (struct prism_track_desc){.handle = 3, .mid = "2", .mid_ext_id = 4};
    h[3].d = (struct prism_track_desc){.handle = 4, .mid = "3", .ssrc = 0x3333, .mid_ext_id = 4};
}

static struct prism_packet pkt(uint32_t ssrc, uint8_t pt, const char *mid)
{
    struct prism_packet p = {.h = {.ssrc = ssrc, .payload_type = pt}};
    if (mid != NULL) {
        p.ext.has_mid = true;
        for (size_t i = 0; mid[i] != '\0' && i < sizeof(p.ext.mid) - 1; i++)
            p.ext.mid[i] = mid[i];
    }
    return p;
}

static enum prism_demux_stream find(struct holder *h, size_t n, struct prism_packet p, size_t *at)
{
    struct prism_demux_tracks t = {&h[0].d, n, sizeof(h[0])};
    *at = 99;
    return prism_demux_find(&t, &p, at);
}

static void test_by_payload_type(void **state)
{
    (void)state;
    struct holder h[4];
    tracks(h);
    size_t at;
    /* SSRC 0 never, even with a routable payload type */
    assert_int_equal(find(h, 4, pkt(0, 96, NULL), &at), PRISM_DEMUX_NONE);
    assert_int_equal(h[0].d.ssrc, 0);
    /* an rtx packet before its track's SSRC is known: nothing to restore */
    assert_int_equal(find(h, 4, pkt(0xB0B, 98, NULL), &at), PRISM_DEMUX_NONE);
    assert_int_equal(h[1].d.rtx_ssrc, 0);
    /* audio and video bind by their payload types */
    assert_int_equal(find(h, 4, pkt(0xA0A, 96, NULL), &at), PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 0);
    assert_int_equal(h[0].d.ssrc, 0xA0A);
    assert_int_equal(find(h, 4, pkt(0xB0A, 97, NULL), &at), PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 1);
    assert_int_equal(h[1].d.ssrc, 0xB0A);
    assert_int_equal(h[1].other, 0); /* the stride is honoured */
    /* then its retransmissions bind its rtx SSRC */
    assert_int_equal(find(h, 4, pkt(0xB0B, 98, NULL), &at), PRISM_DEMUX_RTX);
    assert_int_equal(at, 1);
    assert_int_equal(h[1].d.rtx_ssrc, 0xB0B);
    /* from now on the SSRC decides, whatever the payload type */
    assert_int_equal(find(h, 4, pkt(0xA0A, 13, NULL), &at), PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 0);
    assert_int_equal(find(h, 4, pkt(0xB0B, 97, NULL), &at), PRISM_DEMUX_RTX);
    /* another stream with a bound track's payload type: no route, nothing moves */
    assert_int_equal(find(h, 4, pkt(0xC0C, 96, NULL), &at), PRISM_DEMUX_NONE);
    assert_int_equal(find(h, 4, pkt(0xC0C, 98, NULL), &at), PRISM_DEMUX_NONE);
    assert_int_equal(h[0].d.ssrc, 0xA0A);
    assert_int_equal(h[1].d.rtx_ssrc, 0xB0B);
    /* a payload type no m-line has alone (Chromium's 111 on two audio lines) */
    assert_int_equal(find(h, 4, pkt(0xD0D, 111, NULL), &at), PRISM_DEMUX_NONE);
    assert_int_equal(h[2].d.ssrc, 0);
}

static void test_by_ssrc_and_mid(void **state)
{
    (void)state;
    struct holder h[4];
    tracks(h);
    size_t at;
    assert_int_equal(find(h, 4, pkt(0x3333, 111, "3"), &at), PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 3);
    /* with a mid the payload type is not looked at: "0" negotiated no mid
     * extension, "9" is no track's */
    assert_int_equal(find(h, 4, pkt(0xE0E, 96, "0"), &at), PRISM_DEMUX_NONE);
    assert_int_equal(find(h, 4, pkt(0xE0E, 96, "9"), &at), PRISM_DEMUX_NONE);
    assert_int_equal(h[0].d.ssrc, 0);
    /* mid binds a track announced without SSRC, once */
    assert_int_equal(find(h, 4, pkt(0xF0F, 111, "2"), &at), PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 2);
    assert_int_equal(h[2].d.ssrc, 0xF0F);
    assert_int_equal(find(h, 4, pkt(0xF10, 111, "2"), &at), PRISM_DEMUX_NONE);
    /* no tracks */
    assert_int_equal(find(h, 0, pkt(0xF0F, 96, NULL), &at), PRISM_DEMUX_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_payload_type),
        cmocka_unit_test(test_by_ssrc_and_mid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
