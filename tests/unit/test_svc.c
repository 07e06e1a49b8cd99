/* Unit tests for layered streams in relay/worker: the counter map
 * (seqmap.h: drops, reordering, wrap, eviction, unmapping), the (S, T)
 * choice (layers.h: max_height, max_fps, budget, hold), and the router's
 * consumers of a VP8 L1T3 and a VP9 L3T3 stream: the layers above the
 * choice are left out with sequence numbers and picture ids continuous and
 * TL0PICIDX unchanged, temporal up-switches wait for a switching point,
 * spatial ones for a key frame, downs happen at a picture's start, the
 * kept top spatial layer carries the end of frame marker, a NACK for a
 * rewritten sequence number retransmits the right packet (and one for the
 * hole a late packet of a left-out layer leaves is not answered), and the
 * producer meters each layer frame; a VP9 simulcast layer switch waits for
 * the layer's key frame. AV1 with the dependency descriptor (scripted
 * L1T3 and L3T3 streams, tests/unit/av1dd_writer.h, read as ingress reads
 * them): the layers above the choice are left out with sequence numbers
 * continuous, up-switches happen only at frames whose DTI is "switch" for
 * the wanted decode target (or key frames), downs at a picture's start,
 * the kept top spatial layer's last packet carries the marker, heights
 * come from the structure's resolutions; packets whose layers are unknown
 * (no structure yet, a template the kept one lacks) go to a consumer that
 * takes every layer and are left out, counted, by one that does not.
 * VP8 as libwebrtc sends it with the dependency descriptor (its own
 * descriptor stripped of the layers) is dropped by the same rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/bytes.h"
#include "relay/base/error.h"
#include "relay/net/egress.h"
#include "relay/worker/layers.h"
#include "relay/worker/router.h"
#include "relay/worker/seqmap.h"
#include "tests/unit/av1dd_writer.h"

/* --- seqmap ------------------------------------------------------------------- */

static uint16_t fwd(struct prism_seqmap *m, uint16_t in)
{
    uint16_t out = 0;
    assert_true(prism_seqmap_forward(m, in, &out));
    return out;
}

static void test_seqmap(void **state)
{
    (void)state;
    struct prism_seqmap m;
    prism_seqmap_reset(&m, 16, 100);
    assert_int_equal(fwd(&m, 65534), 98); /* wraps */
    assert_int_equal(fwd(&m, 65535), 99);
    prism_seqmap_drop(&m, 0);
    prism_seqmap_drop(&m, 1); /* one change for a run of drops */
    assert_int_equal(m.n, 1);
    assert_int_equal(fwd(&m, 3), 101); /* 2 is late: its output is kept free */
    assert_int_equal(fwd(&m, 2), 100);
    prism_seqmap_drop(&m, 1); /* a drop older than the newest: no change */
    assert_int_equal(prism_seqmap_delta(&m), 98);
    uint16_t in = 0;
    assert_true(prism_seqmap_unmap(&m, 101, &in));
    assert_int_equal(in, 3);
    assert_true(prism_seqmap_unmap(&m, 99, &in));
    assert_int_equal(in, 65535);
    uint16_t out;
    assert_true(prism_seqmap_map(&m, 65535, &out));
    assert_int_equal(out, 99);
    /* 15-bit picture ids wrap at 32768. */
    prism_seqmap_reset(&m, 15, 0);
    assert_int_equal(fwd(&m, 32767), 32767);
    prism_seqmap_drop(&m, 0);
    assert_int_equal(fwd(&m, 1), 0);
    assert_true(prism_seqmap_unmap(&m, 0, &in));
    assert_int_equal(in, 1);
    /* More changes than kept: the oldest are forgotten, and what they
     * covered no longer maps. */
    prism_seqmap_reset(&m, 16, 0);
    assert_int_equal(fwd(&m, 10), 10);
    for (uint16_t i = 0; i < PRISM_SEQMAP_CHANGES + 2; i++) {
        prism_seqmap_drop(&m, (uint16_t)(11 + 2 * i));
        assert_int_equal(fwd(&m, (uint16_t)(12 + 2 * i)), 11 + i);
    }
    assert_false(prism_seqmap_forward(&m, 10, &out));
    assert_false(prism_seqmap_unmap(&m, 10, &in));
    assert_true(prism_seqmap_unmap(&m, 11 + PRISM_SEQMAP_CHANGES + 1, &in));
    assert_int_equal(in, 12 + 2 * (PRISM_SEQMAP_CHANGES + 1));
}

/* --- the (S, T) choice ------------------------------------------------------------ */

/* L3T3 at 30 fps: 7.5 + 7.5 + 15 fps, heights 180/360/720, 100/200/400 kbps
 * per spatial layer split 50/20/30 over the temporal layers. */
static struct prism_svc_info l3t3(void)
{
    struct prism_svc_info in = {.n_spatial = 3,
                                .n_temporal = 3,
                                .height = {180, 360, 720},
                                .fps_milli = {7500, 7500, 15000}};
    const uint32_t kbps[3] = {100, 200, 400};
    for (int s = 0; s < 3; s++) {
        in.bps[s][0] = kbps[s] * 500;
        in.bps[s][1] = kbps[s] * 200;
        in.bps[s][2] = kbps[s] * 300;
    }
    return in;
}

static void test_choose(void **state)
{
    (void)state;
    struct prism_svc_info in = l3t3();
    struct prism_svc_choice c = {0};
    prism_svc_choose(&c, &in, UINT32_MAX, 0, 0, 1000);
    assert_int_equal(c.sid, 2);
    assert_int_equal(c.tid, 2);
    c = (struct prism_svc_choice){0};
    prism_svc_choose(&c, &in, UINT32_MAX, 180, 15, 1000);
    assert_int_equal(c.sid, 0);
    assert_int_equal(c.tid, 1); /* 7.5 + 7.5 fps */
    c = (struct prism_svc_choice){0};
    prism_svc_choose(&c, &in, UINT32_MAX, 0, 7, 1000);
    assert_int_equal(c.tid, 0); /* 7.5 is within 20% of 7, 15 is not */
    /* The budget lowers the resolution first, then the frame rate. */
    c = (struct prism_svc_choice){0};
    prism_svc_choose(&c, &in, 350000, 0, 0, 1000);
    assert_int_equal(c.sid, 1);
    assert_int_equal(c.tid, 2);
    c = (struct prism_svc_choice){0};
    prism_svc_choose(&c, &in, 60000, 0, 0, 1000);
    assert_int_equal(c.sid, 0);
    assert_int_equal(c.tid, 0);
    /* Down at once (beyond the 25% slack), up after the hold. */
    c = (struct prism_svc_choice){0};
    prism_svc_choose(&c, &in, UINT32_MAX, 0, 0, 1000);
    prism_svc_choose(&c, &in, 650000, 0, 0, 1200); /* 700 kbps is within 25% */
    assert_int_equal(c.sid, 2);
    prism_svc_choose(&c, &in, 200000, 0, 0, 1400);
    assert_int_equal(c.sid, 0);
    prism_svc_choose(&c, &in, UINT32_MAX, 0, 0, 1600);
    assert_int_equal(c.sid, 0);
    prism_svc_choose(&c, &in, UINT32_MAX, 0, 0, 1600 + PRISM_LAYERS_HOLD_MS - 1);
    assert_int_equal(c.sid, 0);
    prism_svc_choose(&c, &in, UINT32_MAX, 0, 0, 1600 + PRISM_LAYERS_HOLD_MS);
    assert_int_equal(c.sid, 2);
    assert_int_equal(c.tid, 2);
    assert_int_equal(prism_svc_bps(&in, 1, 1), 100 * 700 + 200 * 700);
}

/* --- the router ----------------------------------------------------------------------- */

#define POOL 64
#define MAX_GOT 64
#define VP8_PT 96
#define VP9_PT 98
#define RTX_PT 97

struct got {
    size_t n;
    uint8_t pkts[MAX_GOT][128];
    size_t lens[MAX_GOT];
};

struct fixture {
    struct prism_egress *eg;
    struct prism_router *r;
    struct prism_router_sub sub;
    struct got got;
};

static struct fixture *F;

static void sink(void *ud, uint8_t *buf, size_t len)
{
    struct got *g = ud;
    if (g->n < MAX_GOT && len <= sizeof(g->pkts[0])) {
        memcpy(g->pkts[g->n], buf, len);
        g->lens[g->n++] = len;
    }
    prism_egress_buf_put(F->eg, buf);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(prism_egress_new(POOL, &f->eg), 0);
    f->r = prism_router_new(f->eg, 64);
    assert_non_null(f->r);
    prism_router_sub_init(f->r, &f->sub, 2, &(struct prism_router_sink){sink, &f->got});
    F = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    prism_router_sub_deinit(&f->sub);
    prism_router_free(f->r);
    prism_egress_free(f->eg);
    free(f);
    return 0;
}

struct pkt {
    uint8_t data[64];
    struct prism_packet p;
};

static void header(struct pkt *k, uint8_t pt, uint16_t seq, uint32_t ts, bool marker)
{
    memset(k, 0, sizeof(*k));
    k->data[0] = 0x80;
    k->data[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    prism_store_be16(k->data + 2, seq);
    prism_store_be32(k->data + 4, ts);
    prism_store_be32(k->data + 8, 0x1234);
}

/* One packet, a whole VP8 frame of temporal layer `tid` (Y: `sync`). */
static void make_vp8(struct pkt *k, uint16_t seq, uint16_t pid, uint8_t tl0, uint8_t tid, bool sync,
                     bool key)
{
    header(k, VP8_PT, seq, 3000u * pid, true);
    uint8_t *d = k->data;
    size_t i = 12;
    d[i++] = 0x90; /* X, S, partition 0 */
    d[i++] = 0xE0; /* I, L, T */
    d[i++] = (uint8_t)(0x80 | (pid >> 8));
    d[i++] = (uint8_t)pid;
    d[i++] = tl0;
    d[i++] = (uint8_t)(tid << 6 | (sync ? 0x20 : 0));
    d[i++] = key ? 0x00 : 0x01;
    d[i++] = 0xAA;
    k->p.data = d;
    k->p.len = i;
    k->p.now_ms = 1000 + 33u * pid;
    assert_int_equal(prism_rtp_parse(d, i, &k->p.h), 0);
    assert_int_equal(prism_vp8_parse(d + 12, i - 12, &k->p.vp8), 0);
    k->p.has_vp8 = true;
}

static void out_vp8(const struct got *g, size_t i, uint16_t *seq, uint16_t *pid, uint8_t *tl0,
                    uint8_t *tid)
{
    struct prism_vp8_desc d;
    assert_int_equal(prism_vp8_parse(g->pkts[i] + 12, g->lens[i] - 12, &d), 0);
    *seq = prism_load_be16(g->pkts[i] + 2);
    *pid = d.picture_id;
    *tl0 = d.tl0picidx;
    *tid = d.tid;
}

/* L1T3's temporal pattern: TIDs 0 2 1 2, repeating. */
static uint8_t t3(uint16_t frame)
{
    static const uint8_t pattern[4] = {0, 2, 1, 2};
    return pattern[frame % 4];
}

static void test_vp8_temporal(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = {.handle = 7,
                                 .video = true,
                                 .ssrc = 0x1234,
                                 .vp8_pt = VP8_PT,
                                 .rtx_pts = {{VP8_PT, RTX_PT}},
                                 .n_rtx_pts = 1};
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    assert_int_equal(prism_consumer_set_rtx(c, 0xC1), 0);
    struct pkt k;
    /* Frames 0..7 at full rate, T1 wanted from frame 0 on: the TID 2
     * frames (1, 3, 5, 7) are left out. */
    assert_false(prism_consumer_set_svc_target(c, 0, 1));
    uint8_t tl0 = 50;
    for (uint16_t fr = 0; fr < 8; fr++) {
        tl0 = (uint8_t)(tl0 + (t3(fr) == 0));
        make_vp8(&k, (uint16_t)(1000 + fr), (uint16_t)(300 + fr), tl0, t3(fr), false, fr == 0);
        prism_router_forward(f->r, p, &k.p);
    }
    assert_int_equal(f->got.n, 4);
    assert_int_equal(f->sub.drop_layer, 4);
    for (size_t i = 0; i < 4; i++) {
        uint16_t seq, pid;
        uint8_t otl0, tid;
        out_vp8(&f->got, i, &seq, &pid, &otl0, &tid);
        assert_int_equal(seq, 1000 + i);    /* no gap for the subscriber */
        assert_int_equal(pid, 300 + i);     /* nor a missing picture */
        assert_int_equal(otl0, 51 + i / 2); /* TL0PICIDX as sent */
        assert_true(tid <= 1);
    }
    /* A NACK for output 1003 is input 1006 (frame 6, TID 1). */
    assert_true(prism_router_retransmit(c, 1003));
    assert_int_equal(f->got.n, 5);
    const uint8_t *rtx = f->got.pkts[4];
    assert_int_equal(rtx[1] & 0x7f, RTX_PT);
    assert_int_equal(prism_load_be16(rtx + 12), 1003); /* the original seq as sent */
    struct prism_vp8_desc rd;
    assert_int_equal(prism_vp8_parse(rtx + 14, f->got.lens[4] - 14, &rd), 0);
    assert_int_equal(rd.picture_id, 303);
    assert_int_equal(rd.tid, 1);
    /* Back up to T2: not at frame 9 (TID 2 without Y), at frame 11 (Y). */
    assert_false(prism_consumer_set_svc_target(c, 0, 2));
    f->got.n = 0;
    for (uint16_t fr = 8; fr < 12; fr++) {
        tl0 = (uint8_t)(tl0 + (t3(fr) == 0));
        make_vp8(&k, (uint16_t)(1000 + fr), (uint16_t)(300 + fr), tl0, t3(fr), fr == 11, false);
        prism_router_forward(f->r, p, &k.p);
    }
    uint8_t sid, tid;
    prism_consumer_svc_layers(c, &sid, &tid);
    assert_int_equal(tid, 2);
    assert_int_equal(f->got.n, 3); /* frames 8, 10, 11 */
    uint16_t want_pid[3] = {304, 305, 306};
    for (size_t i = 0; i < 3; i++) {
        uint16_t seq, pid;
        uint8_t otl0, otid;
        out_vp8(&f->got, i, &seq, &pid, &otl0, &otid);
        assert_int_equal(seq, 1004 + i);
        assert_int_equal(pid, want_pid[i]);
    }
    /* Down to T0 at the next frame's start. */
    prism_consumer_set_svc_target(c, 0, 0);
    f->got.n = 0;
    for (uint16_t fr = 12; fr < 16; fr++) {
        make_vp8(&k, (uint16_t)(1000 + fr), (uint16_t)(300 + fr), tl0, t3(fr), false, false);
        prism_router_forward(f->r, p, &k.p);
    }
    assert_int_equal(f->got.n, 1);
    assert_int_equal(prism_load_be16(f->got.pkts[0] + 2), 1007);
}

/* A packet of a left-out layer that arrives after the next one went out
 * (reordered upstream) leaves a hole (seqmap.h's limits); the
 * subscriber's NACK for it is not answered with that layer. */
static void test_late_drop(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = {.handle = 7,
                                 .video = true,
                                 .ssrc = 0x1234,
                                 .vp8_pt = VP8_PT,
                                 .rtx_pts = {{VP8_PT, RTX_PT}},
                                 .n_rtx_pts = 1};
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    assert_int_equal(prism_consumer_set_rtx(c, 0xC1), 0);
    prism_consumer_set_svc_target(c, 0, 0);
    struct pkt k;
    make_vp8(&k, 10, 1, 1, 0, false, true);
    prism_router_forward(f->r, p, &k.p);
    make_vp8(&k, 12, 3, 2, 0, false, false);
    prism_router_forward(f->r, p, &k.p);
    make_vp8(&k, 11, 2, 1, 2, false, false); /* late, TID 2 */
    prism_router_forward(f->r, p, &k.p);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(prism_load_be16(f->got.pkts[1] + 2), 12);
    assert_false(prism_router_retransmit(c, 11));
    assert_int_equal(f->sub.rtx_missed, 1);
    assert_true(prism_router_retransmit(c, 12));
    assert_int_equal(f->sub.rtx_sent, 1);
}

/* One packet, a whole layer frame of a VP9 L3T3 picture. */
static void make_vp9(struct pkt *k, uint16_t seq, uint16_t pid, uint8_t sid, uint8_t tid, bool key,
                     bool sync)
{
    header(k, VP9_PT, seq, 3000u * pid, sid == 2);
    uint8_t *d = k->data;
    size_t i = 12;
    bool ss = key && sid == 0;
    d[i++] = (uint8_t)(0xA0 | (key ? 0 : 0x40) | 0x08 | 0x04 | (ss ? 0x02 : 0)); /* I L B E */
    d[i++] = (uint8_t)(0x80 | (pid >> 8));
    d[i++] = (uint8_t)pid;
    d[i++] = (uint8_t)(tid << 5 | (sync ? 0x10 : 0) | sid << 1 | (key && sid > 0 ? 1 : 0));
    d[i++] = 9; /* TL0PICIDX */
    if (ss) {
        static const uint8_t sizes[] = {0x50, 0x01, 0x40, 0x00, 0xB4, 0x02, 0x80,
                                        0x01, 0x68, 0x05, 0x00, 0x02, 0xD0};
        memcpy(d + i, sizes, sizeof(sizes));
        i += sizeof(sizes);
    }
    d[i++] = 0x80;
    k->p.data = d;
    k->p.len = i;
    k->p.now_ms = 1000 + 33u * pid;
    assert_int_equal(prism_rtp_parse(d, i, &k->p.h), 0);
    assert_int_equal(prism_vp9_parse(d + 12, i - 12, &k->p.vp9), 0);
    k->p.has_vp9 = true;
}

/* Sends picture `pid` (3 spatial layers, TID t3(pid)). */
static void picture(struct fixture *f, struct prism_producer *p, uint16_t *seq, uint16_t pid,
                    bool key)
{
    struct pkt k;
    for (uint8_t s = 0; s < 3; s++) {
        make_vp9(&k, (*seq)++, pid, s, key ? 0 : t3(pid), key, false);
        prism_router_forward(f->r, p, &k.p);
    }
}

static void test_vp9_spatial(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = {
        .handle = 8, .video = true, .ssrc = 0x1234, .vp9_pt = VP9_PT, .vp8_pt = VP8_PT};
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    uint16_t seq = 60000;
    /* A key picture and 3 more at every layer: everything goes, the
     * publisher's marker on spatial layer 2. */
    picture(f, p, &seq, 0, true);
    for (uint16_t pid = 1; pid < 4; pid++)
        picture(f, p, &seq, pid, false);
    assert_int_equal(f->got.n, 12);
    struct prism_svc_info info;
    assert_true(prism_producer_svc(p, 1200, &info));
    assert_int_equal(info.n_spatial, 3);
    assert_int_equal(info.n_temporal, 3);
    assert_int_equal(info.height[0], 180);
    assert_int_equal(info.height[2], 720);
    assert_true(info.bps[2][0] > 0 && info.fps_milli[0] > 0);
    /* Down to S1 (all temporal layers): from picture 4's start on, spatial
     * layer 2 is left out and layer 1 ends each picture. */
    assert_false(prism_consumer_set_svc_target(c, 1, PRISM_SVC_ALL));
    f->got.n = 0;
    for (uint16_t pid = 4; pid < 8; pid++)
        picture(f, p, &seq, pid, false);
    assert_int_equal(f->got.n, 8);
    for (size_t i = 0; i < f->got.n; i++) {
        struct prism_vp9_desc v;
        assert_int_equal(prism_vp9_parse(f->got.pkts[i] + 12, f->got.lens[i] - 12, &v), 0);
        assert_int_equal(prism_load_be16(f->got.pkts[i] + 2), (uint16_t)(60012 + i));
        assert_int_equal(v.picture_id, 4 + i / 2); /* pictures all there */
        assert_int_equal(v.sid, i % 2);
        bool marker = (f->got.pkts[i][1] & 0x80) != 0;
        assert_int_equal(marker, v.sid == 1);
        assert_true(v.end);
    }
    /* Up to S2 waits for a key frame. */
    assert_true(prism_consumer_set_svc_target(c, 2, PRISM_SVC_ALL));
    f->got.n = 0;
    picture(f, p, &seq, 8, false);
    assert_int_equal(f->got.n, 2);
    picture(f, p, &seq, 9, true);
    assert_int_equal(f->got.n, 5);
    assert_int_equal(prism_load_be16(f->got.pkts[4] + 2), (uint16_t)(60020 + 4));
    assert_false(prism_consumer_set_svc_target(c, 2, PRISM_SVC_ALL));
    /* S0 T0: pictures of TID 1 and 2 go whole, their ids closed over. */
    prism_consumer_set_svc_target(c, 0, 0);
    f->got.n = 0;
    for (uint16_t pid = 10; pid < 18; pid++)
        picture(f, p, &seq, pid, false);
    assert_int_equal(f->got.n, 2); /* pictures 12 and 16 */
    struct prism_vp9_desc v0, v1;
    assert_int_equal(prism_vp9_parse(f->got.pkts[0] + 12, f->got.lens[0] - 12, &v0), 0);
    assert_int_equal(prism_vp9_parse(f->got.pkts[1] + 12, f->got.lens[1] - 12, &v1), 0);
    assert_int_equal(v1.picture_id, v0.picture_id + 1);
    assert_int_equal(prism_load_be16(f->got.pkts[1] + 2),
                     (uint16_t)(prism_load_be16(f->got.pkts[0] + 2) + 1));
    assert_int_equal(v0.picture_id, 10); /* 9 went out last */
    assert_true((f->got.pkts[0][1] & 0x80) != 0);
}

/* VP9 simulcast (a rid layer per stream, each L1T3 or single): a layer
 * switch waits for the target layer's VP9 key frame, whose scalability
 * structure gives the layer's height. */
static void test_vp9_simulcast_switch(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = {.handle = 9, .video = true, .vp9_pt = VP9_PT, .n_layers = 2};
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    struct pkt k;
    for (uint16_t i = 0; i < 4; i++) {
        for (uint8_t l = 0; l < 2; l++) {
            make_vp9(&k, (uint16_t)(100 * (l + 1) + i), (uint16_t)(10 * (l + 1) + i), 0, 0,
                     i == 0 || (l == 1 && i == 3), false);
            prism_store_be32(k.data + 8, 0xA0u + l);
            assert_int_equal(prism_rtp_parse(k.data, k.p.len, &k.p.h), 0);
            k.p.layer = l;
            prism_router_forward(f->r, p, &k.p);
        }
        if (i == 0)
            assert_true(prism_consumer_set_target(c, 1));
    }
    /* Layer 0's packets 100-103 until layer 1's key frame (its 4th), which
     * follows them as 104. */
    assert_int_equal(prism_consumer_layer(c), 1);
    assert_int_equal(f->got.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(prism_load_be16(f->got.pkts[i] + 2), 100 + i);
    struct prism_vp9_desc v;
    assert_int_equal(prism_vp9_parse(f->got.pkts[4] + 12, f->got.lens[4] - 12, &v), 0);
    assert_true(v.keyframe);
    assert_int_equal(v.picture_id, 14); /* layer 0's 10-13, then layer 1's 23 as 14 */
    struct prism_layer_info info[2];
    assert_int_equal(prism_producer_layers(p, 1200, info), 2);
    assert_int_equal(info[1].height, 720); /* the structure's top layer */
}

/* --- AV1 with the dependency descriptor ----------------------------------------------- */

#define AV1_PT 45

static struct prism_av1dd_structure av1_kept; /* the stream's, as ingress keeps it */

/* One packet (`start`, `end` of its frame) of frame `frame` with template
 * `id` (the structure `st` attached when not NULL), read against the kept
 * structure as ingress does. */
static void make_av1(struct pkt *k, uint16_t seq, uint32_t ts, bool marker, bool start, bool end,
                     uint8_t id, uint16_t frame, const struct ddw_structure *st)
{
    header(k, AV1_PT, seq, ts, marker);
    k->data[12] = 0x10; /* an aggregation header; the relay does not read it */
    k->p.data = k->data;
    k->p.len = 13;
    k->p.now_ms = 1000 + ts / 90;
    assert_int_equal(prism_rtp_parse(k->data, k->p.len, &k->p.h), 0);
    uint8_t dd[96];
    size_t n = ddw_write(dd, start, end, id, frame, st, 0, NULL, -1);
    struct prism_av1dd_frame fr;
    int rc = prism_av1dd_read(dd, n, &av1_kept, &fr);
    assert_true(rc == 0 || rc == PRISM_ENOTFOUND);
    k->p.has_dd = true;
    prism_svc_dd_place(&av1_kept, &fr, rc, &k->p.dd);
}

/* An L1T3 frame of one packet. */
static void l1t3_frame(struct fixture *f, struct prism_producer *p, uint16_t fr, uint8_t id,
                       const struct ddw_structure *st)
{
    struct pkt k;
    make_av1(&k, (uint16_t)(500 + fr), 3000u * fr, true, true, true, id, fr, st);
    prism_router_forward(f->r, p, &k.p);
}

static struct prism_producer *av1_producer(struct fixture *f)
{
    av1_kept = (struct prism_av1dd_structure){0};
    struct prism_track_desc d = {.handle = 10,
                                 .video = true,
                                 .ssrc = 0x1234,
                                 .vp8_pt = PRISM_PT_NONE,
                                 .vp9_pt = PRISM_PT_NONE,
                                 .av1dd_ext_id = 12,
                                 .rtx_pts = {{AV1_PT, RTX_PT}},
                                 .n_rtx_pts = 1};
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    assert_non_null(p);
    return p;
}

/* The input sequence numbers of the packets that went out, in order. */
static void assert_out(const struct got *g, const uint16_t *in_fr, size_t n, uint16_t first_out)
{
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(prism_load_be16(g->pkts[i] + 2), (uint16_t)(first_out + i));
        assert_int_equal(prism_load_be32(g->pkts[i] + 4), 3000u * in_fr[i]); /* which frame */
    }
}

static void test_av1_temporal(void **state)
{
    struct fixture *f = *state;
    struct prism_producer *p = av1_producer(f);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    assert_int_equal(prism_consumer_set_rtx(c, 0xC1), 0);
    assert_false(prism_consumer_set_svc_target(c, 0, 1));
    /* T1 wanted: from the key frame on, T2 frames are left out; T1 wanted
     * further up: not at a T2 frame that is no switching point (3), at the
     * next T0 (4: "SSS"). */
    l1t3_frame(f, p, 0, DDW_L1T3_KEY, &DDW_L1T3);
    l1t3_frame(f, p, 1, DDW_L1T3_T2S, NULL);
    l1t3_frame(f, p, 2, DDW_L1T3_T1, NULL);
    assert_false(prism_consumer_set_svc_target(c, 0, 2));
    l1t3_frame(f, p, 3, DDW_L1T3_T2, NULL);
    l1t3_frame(f, p, 4, DDW_L1T3_T0, NULL);
    l1t3_frame(f, p, 5, DDW_L1T3_T2S, NULL);
    l1t3_frame(f, p, 6, DDW_L1T3_T1, NULL);
    l1t3_frame(f, p, 7, DDW_L1T3_T2, NULL);
    const uint16_t a[] = {0, 2, 4, 5, 6, 7};
    assert_out(&f->got, a, 6, 500);
    assert_int_equal(f->sub.drop_layer, 2);
    /* A NACK for output 502 is input 504 (frame 4). */
    assert_true(prism_router_retransmit(c, 502));
    assert_int_equal(prism_load_be16(f->got.pkts[6] + 12), 502);
    assert_int_equal(prism_load_be32(f->got.pkts[6] + 4), 3000u * 4);
    /* Down to T0 at the next frame's start; then up to T2 straight at the
     * first T2 after a T0 (its DTI for decode target 2 is "switch"). */
    f->got.n = 0;
    prism_consumer_set_svc_target(c, 0, 0);
    for (uint16_t fr = 8; fr < 12; fr++)
        l1t3_frame(f, p, fr,
                   fr % 4 == 0   ? DDW_L1T3_T0
                   : fr % 4 == 1 ? DDW_L1T3_T2S
                   : fr % 4 == 2 ? DDW_L1T3_T1
                                 : DDW_L1T3_T2,
                   NULL);
    l1t3_frame(f, p, 12, DDW_L1T3_T0, NULL);
    prism_consumer_set_svc_target(c, 0, 2);
    l1t3_frame(f, p, 13, DDW_L1T3_T2S, NULL);
    l1t3_frame(f, p, 14, DDW_L1T3_T1, NULL);
    uint8_t sid, tid;
    prism_consumer_svc_layers(c, &sid, &tid);
    assert_int_equal(tid, 2);
    const uint16_t b[] = {8, 12, 13, 14};
    assert_out(&f->got, b, 4, 506);
    assert_int_equal(f->sub.drop_layer, 2 + 3);
    assert_int_equal(f->sub.drop_unknown_layer, 0);
}

/* libwebrtc's VP8 once the dependency descriptor is negotiated: its own
 * descriptor minimised (no picture id, TL0PICIDX or TID), the layers in
 * the dependency descriptor. The same choices as AV1's. */
static void test_vp8_dd(void **state)
{
    struct fixture *f = *state;
    av1_kept = (struct prism_av1dd_structure){0};
    struct prism_track_desc d = {
        .handle = 11, .video = true, .ssrc = 0x1234, .vp8_pt = VP8_PT, .av1dd_ext_id = 12};
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    assert_false(prism_consumer_set_svc_target(c, 0, 0));
    const uint8_t ids[8] = {DDW_L1T3_KEY, DDW_L1T3_T2S, DDW_L1T3_T1, DDW_L1T3_T2,
                            DDW_L1T3_T0,  DDW_L1T3_T2S, DDW_L1T3_T1, DDW_L1T3_T2};
    for (uint16_t fr = 0; fr < 8; fr++) {
        struct pkt k;
        make_av1(&k, (uint16_t)(700 + fr), 3000u * fr, true, true, true, ids[fr], fr,
                 fr == 0 ? &DDW_L1T3 : NULL);
        k.data[1] = (uint8_t)(0x80 | VP8_PT);
        k.data[12] = 0x10;                  /* S, partition 0: no X, no picture id */
        k.data[13] = fr == 0 ? 0x00 : 0x01; /* the VP8 payload header's P bit */
        k.p.len = 14;
        assert_int_equal(prism_rtp_parse(k.data, k.p.len, &k.p.h), 0);
        assert_int_equal(prism_vp8_parse(k.data + 12, 2, &k.p.vp8), 0);
        assert_false(k.p.vp8.has_tid);
        k.p.has_vp8 = true;
        prism_router_forward(f->r, p, &k.p);
    }
    const uint16_t a[] = {0, 4};
    assert_int_equal(f->got.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(prism_load_be16(f->got.pkts[i] + 2), 700 + i);
        assert_int_equal(prism_load_be32(f->got.pkts[i] + 4), 3000u * a[i]);
    }
    assert_int_equal(f->sub.drop_layer, 6);
}

/* Picture `pic` of L3T3 (its frames of spatial layers 0-2, a packet each;
 * a key picture's first packet carries the structure). */
static void l3t3_picture(struct fixture *f, struct prism_producer *p, uint16_t *seq, uint16_t pic,
                         bool key)
{
    uint8_t t = key ? 0 : t3(pic);
    for (uint8_t s = 0; s < 3; s++) {
        /* template ids: 20 + the index in DDW_L3T3 */
        uint8_t id;
        if (key)
            id = (uint8_t)(s == 0 ? 20 : s == 1 ? 25 : 29);
        else if (s == 0)
            id = (uint8_t)(t == 0 ? 21 : t == 1 ? 22 : pic % 4 == 1 ? 23 : 24);
        else
            id = (uint8_t)(s == 1 ? 26 + t : 30 + t);
        struct pkt k;
        make_av1(&k, (*seq)++, 3000u * pic, s == 2, true, true, id, (uint16_t)(3 * pic + s),
                 key && s == 0 ? &DDW_L3T3 : NULL);
        prism_router_forward(f->r, p, &k.p);
    }
}

static void test_av1_spatial(void **state)
{
    struct fixture *f = *state;
    struct prism_producer *p = av1_producer(f);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    uint16_t seq = 65530; /* wraps */
    l3t3_picture(f, p, &seq, 0, true);
    for (uint16_t pic = 1; pic < 4; pic++)
        l3t3_picture(f, p, &seq, pic, false);
    assert_int_equal(f->got.n, 12);
    struct prism_svc_info info;
    assert_true(prism_producer_svc(p, 1200, &info));
    assert_int_equal(info.n_spatial, 3);
    assert_int_equal(info.n_temporal, 3);
    assert_int_equal(info.height[0], 180); /* the structure's resolutions */
    assert_int_equal(info.height[2], 720);
    /* S0 with every temporal layer: from picture 4's start, spatial layers
     * 1 and 2 are left out and S0's last packet carries the marker. */
    assert_false(prism_consumer_set_svc_target(c, 0, 2));
    f->got.n = 0;
    for (uint16_t pic = 4; pic < 8; pic++)
        l3t3_picture(f, p, &seq, pic, false);
    assert_int_equal(f->got.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(prism_load_be16(f->got.pkts[i] + 2), (uint16_t)(65530 + 12 + i));
        assert_int_equal(prism_load_be32(f->got.pkts[i] + 4), 3000u * (4 + i));
        assert_true((f->got.pkts[i][1] & 0x80) != 0);
    }
    /* Up to S1: its delta frames are no switching point ("R"): it waits
     * for a key picture, asked for. */
    assert_true(prism_consumer_set_svc_target(c, 1, 2));
    f->got.n = 0;
    l3t3_picture(f, p, &seq, 8, false);
    assert_int_equal(f->got.n, 1);
    l3t3_picture(f, p, &seq, 9, true);
    assert_false(prism_consumer_set_svc_target(c, 1, 2));
    l3t3_picture(f, p, &seq, 10, false);
    assert_int_equal(f->got.n, 5); /* 8: S0; 9, 10: S0 S1 */
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(prism_load_be16(f->got.pkts[i] + 2), (uint16_t)(65530 + 16 + i));
        bool marker = (f->got.pkts[i][1] & 0x80) != 0;
        assert_int_equal(marker, i == 0 || i == 2 || i == 4); /* the top kept layer's */
    }
    /* S1 T0: pictures of T1 and T2 go whole. */
    prism_consumer_set_svc_target(c, 1, 0);
    f->got.n = 0;
    for (uint16_t pic = 11; pic < 17; pic++)
        l3t3_picture(f, p, &seq, pic, false);
    assert_int_equal(f->got.n, 4); /* pictures 12 and 16: S0 S1 */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(prism_load_be16(f->got.pkts[i] + 2), (uint16_t)(65530 + 21 + i));
        assert_int_equal(prism_load_be32(f->got.pkts[i] + 4), 3000u * (i < 2 ? 12 : 16));
    }
}

/* Picture `pic` of L2T1_KEY: S0's frame, then S1's, a packet each. */
static void l2t1_key_picture(struct fixture *f, struct prism_producer *p, uint16_t *seq,
                             uint16_t pic, bool key)
{
    for (uint8_t s = 0; s < 2; s++) {
        struct pkt k;
        uint8_t id = (uint8_t)(40 + 2 * s + !key);
        make_av1(&k, (*seq)++, 3000u * pic, s == 1, true, true, id, (uint16_t)(2 * pic + s),
                 key && s == 0 ? &DDW_L2T1_KEY : NULL);
        prism_router_forward(f->r, p, &k.p);
    }
}

/* K-SVC: a consumer of S1 takes S0's frame of a key picture only, as the
 * DTIs say (S0's delta frames are "not present" in S1's decode target);
 * one of S0 takes S0's frames, each ending its picture. */
static void test_av1_ksvc(void **state)
{
    struct fixture *f = *state;
    struct prism_producer *p = av1_producer(f);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    assert_false(prism_consumer_set_svc_target(c, 1, 0));
    uint16_t seq = 700;
    l2t1_key_picture(f, p, &seq, 0, true);
    for (uint16_t pic = 1; pic < 4; pic++)
        l2t1_key_picture(f, p, &seq, pic, false);
    const uint16_t a[] = {0, 0, 1, 2, 3}; /* S0 S1, then S1 alone */
    assert_out(&f->got, a, 5, 700);
    assert_int_equal(f->sub.drop_layer, 3);
    /* Down to S0 at the next picture's start: S1 is left out. */
    prism_consumer_set_svc_target(c, 0, 0);
    f->got.n = 0;
    for (uint16_t pic = 4; pic < 6; pic++)
        l2t1_key_picture(f, p, &seq, pic, false);
    const uint16_t b[] = {4, 5};
    assert_out(&f->got, b, 2, 705);
    for (size_t i = 0; i < 2; i++)
        assert_true((f->got.pkts[i][1] & 0x80) != 0); /* S0 ends the picture now */
    assert_int_equal(f->sub.drop_layer, 3 + 2);
}

/* The structure arrives late (the key frame was not the stream's first
 * packet here) or is lost (a template the kept structure lacks). */
static void test_av1_unknown(void **state)
{
    struct fixture *f = *state;
    struct prism_producer *p = av1_producer(f);
    struct prism_consumer *c = prism_router_consumer_add(&f->sub, p, 0xC0);
    assert_int_equal(prism_consumer_set_rtx(c, 0xC1), 0);
    assert_false(prism_consumer_set_svc_target(c, 0, 0));
    /* Before any structure: nothing is known, the consumer still takes
     * every layer (it never switched): forwarded. */
    l1t3_frame(f, p, 0, DDW_L1T3_T0, NULL);
    l1t3_frame(f, p, 1, DDW_L1T3_T2S, NULL);
    assert_int_equal(f->got.n, 2);
    /* The key frame: T0 from here. */
    l1t3_frame(f, p, 2, DDW_L1T3_KEY, &DDW_L1T3);
    l1t3_frame(f, p, 3, DDW_L1T3_T2S, NULL);
    assert_int_equal(f->sub.drop_layer, 1);
    /* A template the kept structure lacks (the next key frame's was lost):
     * left out and counted; the stream goes on continuous, and a NACK maps
     * past the hole. */
    l1t3_frame(f, p, 4, 40, NULL);
    assert_int_equal(f->sub.drop_unknown_layer, 1);
    l1t3_frame(f, p, 5, DDW_L1T3_T0, NULL);
    const uint16_t a[] = {0, 1, 2, 5};
    assert_out(&f->got, a, 4, 500);
    assert_true(prism_router_retransmit(c, 503));
    assert_int_equal(prism_load_be32(f->got.pkts[4] + 4), 3000u * 5);
    /* A consumer that takes every layer takes the unknown ones too, and so
     * does one at the kept structure's top layers (T2 of L1T3). */
    struct prism_router_sub all;
    struct got got_all = {0};
    prism_router_sub_init(f->r, &all, 3, &(struct prism_router_sink){sink, &got_all});
    struct prism_consumer *ca = prism_router_consumer_add(&all, p, 0xD0);
    assert_non_null(ca);
    l1t3_frame(f, p, 6, 41, NULL);
    assert_int_equal(got_all.n, 1);
    assert_int_equal(f->sub.drop_unknown_layer, 2);
    assert_false(prism_consumer_set_svc_target(ca, 0, 2));
    l1t3_frame(f, p, 7, DDW_L1T3_KEY, &DDW_L1T3);
    l1t3_frame(f, p, 8, 42, NULL);
    assert_int_equal(got_all.n, 3);
    assert_int_equal(all.drop_unknown_layer, 0);
    assert_int_equal(f->sub.drop_unknown_layer, 3);
    prism_router_sub_deinit(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqmap),
        cmocka_unit_test(test_choose),
        cmocka_unit_test_setup_teardown(test_vp8_temporal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp9_spatial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp9_simulcast_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_av1_temporal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_av1_spatial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_av1_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_av1_ksvc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp8_dd, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
