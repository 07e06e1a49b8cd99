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
 * the layer's key frame.
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
#include "relay/net/egress.h"
#include "relay/worker/layers.h"
#include "relay/worker/router.h"
#include "relay/worker/seqmap.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqmap),
        cmocka_unit_test(test_choose),
        cmocka_unit_test_setup_teardown(test_vp8_temporal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp9_spatial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp9_simulcast_switch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
