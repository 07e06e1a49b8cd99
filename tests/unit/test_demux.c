/* Unit tests for relay/worker/demux: which of a publisher's tracks a packet
 * is for. By SSRC and rtx SSRC; by mid for a track announced without SSRC;
 * and, for a packet with neither (a softphone that offers before its
 * encoders start: no a=ssrc, no mid extension), by a payload type unique to
 * one m-line (RFC 8843 §9.2), which binds the stream's SSRC (or rtx SSRC)
 * so that later packets go by SSRC. Never SSRC 0; a payload type two
 * m-lines share routes nowhere; a track whose SSRC is known takes no other
 * stream by payload type. Simulcast layers (prism_demux_find_layer): by
 * their SSRCs announced in a SIM group (and their FID rtx), or bound by rid
 * and repaired-rid; each kind apart from single-stream tracks.
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

/* Simulcast tracks: 0 single-stream video; 1 SSRC simulcast (SIM group
 * 0x100/0x200/0x300, rtx 0x101/0x201/0x301 but layer 1 without rtx); 2
 * rid simulcast ("q", "f"), mid "2". */
static void sim_tracks(struct holder h[3])
{
    memset(h, 0, 3 * sizeof(h[0]));
    h[0].d = (struct prism_track_desc){.handle = 1, .video = true, .mid = "0", .ssrc = 0x10};
    h[1].d = (struct prism_track_desc){.handle = 2,
                                       .video = true,
                                       .mid = "1",
                                       .n_layers = 3,
                                       .layer_ssrcs = {0x100, 0x200, 0x300},
                                       .layer_rtx_ssrcs = {0x101, 0, 0x301}};
    h[2].d = (struct prism_track_desc){
        .handle = 3, .video = true, .mid = "2", .n_layers = 2, .rids = {"q", "f"}};
}

static struct prism_packet rid_pkt(uint32_t ssrc, const char *mid, const char *rid, bool repaired)
{
    struct prism_packet p = pkt(ssrc, 96, mid);
    p.ext.has_rid = true;
    p.ext.repaired = repaired;
    for (size_t i = 0; rid[i] != '\0' && i < sizeof(p.ext.rid) - 1; i++)
        p.ext.rid[i] = rid[i];
    return p;
}

static enum prism_demux_stream find_layer(struct holder *h, size_t n, struct prism_packet p,
                                          size_t *at, uint8_t *layer)
{
    struct prism_demux_tracks t = {&h[0].d, n, sizeof(h[0])};
    *at = 99;
    *layer = 99;
    return prism_demux_find_layer(&t, &p, at, layer);
}

static void test_simulcast_layers(void **state)
{
    (void)state;
    struct holder h[3];
    sim_tracks(h);
    size_t at;
    uint8_t layer;
    /* SIM layers by their announced SSRCs: media and rtx, each its layer */
    assert_int_equal(find_layer(h, 3, pkt(0x200, 96, NULL), &at, &layer), PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 1);
    assert_int_equal(layer, 1);
    assert_int_equal(find_layer(h, 3, pkt(0x300, 96, "1"), &at, &layer), PRISM_DEMUX_MEDIA);
    assert_int_equal(layer, 2);
    assert_int_equal(find_layer(h, 3, pkt(0x101, 97, NULL), &at, &layer), PRISM_DEMUX_RTX);
    assert_int_equal(at, 1);
    assert_int_equal(layer, 0);
    assert_int_equal(find_layer(h, 3, pkt(0x301, 97, NULL), &at, &layer), PRISM_DEMUX_RTX);
    assert_int_equal(layer, 2);
    /* a single-stream track is not the layer demux's, not even its SSRC */
    assert_int_equal(find_layer(h, 3, pkt(0x10, 96, NULL), &at, &layer), PRISM_DEMUX_NONE);
    assert_int_equal(at, 99);
    assert_int_equal(layer, 99);
    /* nor does the plain demux take a simulcast track's streams */
    assert_int_equal(find(h, 3, pkt(0x200, 96, "1"), &at), PRISM_DEMUX_NONE);
    /* SSRC 0 never */
    assert_int_equal(find_layer(h, 3, rid_pkt(0, "2", "q", false), &at, &layer), PRISM_DEMUX_NONE);
    /* rids bind the rid track's layers, its rtx by repaired-rid */
    assert_int_equal(find_layer(h, 3, rid_pkt(0x500, "2", "f", false), &at, &layer),
                     PRISM_DEMUX_MEDIA);
    assert_int_equal(at, 2);
    assert_int_equal(layer, 1);
    assert_int_equal(h[2].d.layer_ssrcs[1], 0x500);
    assert_int_equal(find_layer(h, 3, rid_pkt(0x501, NULL, "f", true), &at, &layer),
                     PRISM_DEMUX_RTX);
    assert_int_equal(layer, 1);
    assert_int_equal(h[2].d.layer_rtx_ssrcs[1], 0x501);
    /* then the SSRC alone decides */
    assert_int_equal(find_layer(h, 3, pkt(0x500, 96, NULL), &at, &layer), PRISM_DEMUX_MEDIA);
    assert_int_equal(layer, 1);
    /* a rid with another track's mid, or no track's rid, binds nothing */
    assert_int_equal(find_layer(h, 3, rid_pkt(0x600, "1", "q", false), &at, &layer),
                     PRISM_DEMUX_NONE);
    assert_int_equal(find_layer(h, 3, rid_pkt(0x600, "2", "x", false), &at, &layer),
                     PRISM_DEMUX_NONE);
    assert_int_equal(h[2].d.layer_ssrcs[0], 0);
    /* the SIM track's layers have no rid: an empty rid binds none of them */
    assert_int_equal(find_layer(h, 3, rid_pkt(0x700, "1", "", false), &at, &layer),
                     PRISM_DEMUX_NONE);
    assert_int_equal(h[1].d.layer_ssrcs[1], 0x200);
    assert_int_equal(h[1].d.layer_rtx_ssrcs[1], 0);
    /* an unknown SSRC on the SIM track: no route (no learning by SSRC) */
    assert_int_equal(find_layer(h, 3, pkt(0x400, 96, "1"), &at, &layer), PRISM_DEMUX_NONE);
    assert_int_equal(find(h, 3, pkt(0x400, 96, "1"), &at), PRISM_DEMUX_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_payload_type),
        cmocka_unit_test(test_by_ssrc_and_mid),
        cmocka_unit_test(test_simulcast_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
