/* Unit tests for relay/worker/router: producers, consumers and fan-out,
 * with a fake sink and a real egress pool, and no libnice, transport or
 * socket anywhere. Covers: fan-out counts, the subscriber's own track, the
 * relay SSRC per consumer, rewrite continuity (sequence number, timestamp,
 * VP8 picture id and TL0PICIDX) across a source switch, an SSRC change and
 * a resume, pause, a consumer or producer removed from inside a sink during
 * fan-out, PLI lookup by SSRC, an empty pool, isolation between routers
 * (two bubbles, two tenants with the same handles), RED (RFC 2198)
 * forwarded as is to a subscriber that negotiated red and as its primary
 * block, plain Opus, to one that did not; simulcast: a layer switch waits
 * for the target layer's key frame and is continuous, the layers' bitrate
 * and height are measured, and each copy gets its subscriber's own
 * transport-wide sequence number; padding probes (their format, the
 * consumers that may carry them, their stamps in the estimator) and the
 * pacing of retransmissions (a subscriber's rtx rate, none for a layer it
 * is leaving), a history per simulcast layer.
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
#include "relay/worker/router.h"

#define POOL 64
#define MAX_GOT 64
#define VP8_PT 96

/* What one subscriber's fake sink received. */
struct got {
    size_t n;
    uint8_t pkts[MAX_GOT][320]; /* room for a padding probe */
    size_t lens[MAX_GOT];
};

struct fixture {
    struct prism_egress *eg;
    struct prism_router *r;
    struct prism_router_sub subs[4];
    struct got got[4];
    /* a sink's side effect, run once from inside fan-out */
    struct prism_consumer *remove_on_send;
    struct prism_producer *remove_producer_on_send;
};

static struct fixture *F; /* for the sinks */

static void sink(void *ud, uint8_t *buf, size_t len)
{
    struct got *g = ud;
    if (g->n < MAX_GOT && len <= sizeof(g->pkts[0])) {
        memcpy(g->pkts[g->n], buf, len);
        g->lens[g->n++] = len;
    }
    prism_egress_buf_put(F->eg, buf);
    if (F->remove_on_send != NULL) {
        struct prism_consumer *c = F->remove_on_send;
        F->remove_on_send = NULL;
        prism_router_consumer_remove(c);
    }
    if (F->remove_producer_on_send != NULL) {
        struct prism_producer *p = F->remove_producer_on_send;
        F->remove_producer_on_send = NULL;
        prism_router_producer_remove(F->r, p);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(prism_egress_new(POOL, &f->eg), 0);
    f->r = prism_router_new(f->eg, 64);
    assert_non_null(f->r);
    for (int i = 0; i < 4; i++)
        prism_router_sub_init(f->r, &f->subs[i], (uint64_t)i + 2,
                              &(struct prism_router_sink){sink, &f->got[i]});
    F = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 4; i++)
        prism_router_sub_deinit(&f->subs[i]);
    prism_router_free(f->r);
    struct prism_egress_stats st;
    prism_egress_stats(f->eg, &st);
    assert_int_equal(st.bufs_free, POOL); /* every buffer came back */
    prism_egress_free(f->eg);
    free(f);
    return 0;
}

static struct prism_track_desc video_track(uint64_t handle, uint32_t ssrc)
{
    return (struct prism_track_desc){
        .handle = handle, .video = true, .ssrc = ssrc, .vp8_pt = VP8_PT};
}

/* An RTP packet: 12-byte header, then a VP8 descriptor with a picture id
 * (15 bits when `long_pid`) and TL0PICIDX, then a few payload bytes. */
struct pkt {
    uint8_t data[64];
    struct prism_packet p;
};

static void make(struct pkt *k, uint32_t ssrc, uint16_t seq, uint32_t ts, uint16_t pid,
                 bool long_pid, uint8_t tl0, uint64_t now_ms)
{
    memset(k, 0, sizeof(*k));
    uint8_t *d = k->data;
    d[0] = 0x80;
    d[1] = VP8_PT;
    prism_store_be16(d + 2, seq);
    prism_store_be32(d + 4, ts);
    prism_store_be32(d + 8, ssrc);
    size_t i = 12;
    d[i++] = 0x90; /* X, S */
    d[i++] = 0xC0; /* I, L */
    if (long_pid) {
        d[i++] = (uint8_t)(0x80 | (pid >> 8));
        d[i++] = (uint8_t)pid;
    } else {
        d[i++] = pid & 0x7f;
    }
    d[i++] = tl0;
    d[i++] = 0x01; /* VP8 payload header: not a key frame */
    d[i++] = 0xAA;
    d[i++] = 0xBB;
    k->p.data = d;
    k->p.len = i;
    k->p.now_ms = now_ms;
    assert_int_equal(prism_rtp_parse(d, i, &k->p.h), 0);
    assert_int_equal(prism_vp8_parse(d + 12, i - 12, &k->p.vp8), 0);
    k->p.has_vp8 = true;
}

static uint16_t out_seq(const struct got *g, size_t i)
{
    return prism_load_be16(g->pkts[i] + 2);
}

static uint32_t out_ts(const struct got *g, size_t i)
{
    return prism_load_be32(g->pkts[i] + 4);
}

static uint32_t out_ssrc(const struct got *g, size_t i)
{
    return prism_load_be32(g->pkts[i] + 8);
}

static uint16_t out_pid(const struct got *g, size_t i)
{
    struct prism_vp8_desc d;
    assert_int_equal(prism_vp8_parse(g->pkts[i] + 12, g->lens[i] - 12, &d), 0);
    return d.picture_id;
}

static uint8_t out_tl0(const struct got *g, size_t i)
{
    struct prism_vp8_desc d;
    assert_int_equal(prism_vp8_parse(g->pkts[i] + 12, g->lens[i] - 12, &d), 0);
    return d.tl0picidx;
}

static void test_fan_out(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(7, 0x1000);
    /* Published by peer 2, the peer of subs[0]. */
    struct prism_producer *p = prism_router_producer_add(f->r, 2, &d, NULL);
    assert_non_null(p);
    assert_null(prism_router_producer_add(f->r, 2, &d, NULL)); /* same track twice */
    assert_ptr_equal(prism_router_producer_find(f->r, 2, 7), p);
    assert_null(prism_router_producer_find(f->r, 3, 7)); /* another publisher's */
    /* A peer never consumes its own track; ssrc 0 is refused. */
    assert_null(prism_router_consumer_add(&f->subs[0], p, 0xA));
    assert_null(prism_router_consumer_add(&f->subs[1], p, 0));
    for (int i = 1; i < 4; i++)
        assert_non_null(prism_router_consumer_add(&f->subs[i], p, 0xA0u + i));
    assert_int_equal(prism_producer_consumers(p), 3);

    struct pkt k;
    make(&k, 0x1000, 100, 9000, 5, true, 1, 1000);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 3);
    assert_int_equal(f->got[0].n, 0);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(f->got[i].n, 1);
        assert_int_equal(out_ssrc(&f->got[i], 0), 0xA0u + i); /* the relay's SSRC */
        assert_int_equal(out_seq(&f->got[i], 0), 100);        /* first packet: as sent */
        assert_int_equal(out_ts(&f->got[i], 0), 9000);
        assert_memory_equal(f->got[i].pkts[0] + 12, k.data + 12, k.p.len - 12);
    }
    /* The input is never modified. */
    assert_int_equal(prism_load_be32(k.data + 8), 0x1000);
    /* PLI lookup: the subscriber's consumer by the SSRC it knows. */
    struct prism_consumer *c = prism_router_sub_find(&f->subs[2], 0xA2);
    assert_non_null(c);
    assert_ptr_equal(prism_consumer_producer(c), p);
    assert_null(prism_router_sub_find(&f->subs[2], 0xA1)); /* another subscriber's */
    assert_int_equal(prism_consumer_packets(c), 1);
}

static void test_switch_keeps_continuity(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc da = video_track(1, 0x1111), db = video_track(2, 0x2222);
    struct prism_producer *a = prism_router_producer_add(f->r, 10, &da, NULL);
    struct prism_producer *b = prism_router_producer_add(f->r, 11, &db, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->subs[0], a, 0xC0FFEE);
    assert_non_null(c);
    struct pkt k;
    for (uint16_t i = 0; i < 5; i++) {
        make(&k, 0x1111, (uint16_t)(65533 + i), 3000u * i, (uint16_t)(32766 + i) & 0x7fff, true,
             (uint8_t)(254 + i), 1000 + 33u * i);
        prism_router_forward(f->r, a, &k.p);
    }
    /* Wrapped while passing through unchanged. */
    assert_int_equal(out_seq(&f->got[0], 4), 1);
    assert_int_equal(out_pid(&f->got[0], 4), 2);
    /* B is another publisher's stream with unrelated numbering. */
    assert_int_equal(prism_router_consumer_switch(c, b), 0);
    assert_int_equal(prism_producer_consumers(a), 0);
    make(&k, 0x2222, 4000, 777777, 9, false, 40, 1000 + 33 * 4 + 100);
    assert_int_equal(prism_router_forward(f->r, b, &k.p), 1);
    assert_int_equal(prism_router_forward(f->r, a, &k.p), 0); /* A no longer reaches it */
    const struct got *g = &f->got[0];
    assert_int_equal(g->n, 6);
    assert_int_equal(out_ssrc(g, 5), 0xC0FFEE);
    assert_int_equal(out_seq(g, 5), 2);                   /* last + 1 */
    assert_int_equal(out_ts(g, 5), 3000u * 4 + 90 * 100); /* last + 100 ms at 90 kHz */
    assert_int_equal(out_pid(g, 5), 3 & 0x7f);            /* last + 1, in B's 7 bits */
    assert_int_equal(out_tl0(g, 5), 3);                   /* 258 & 0xff, + 1 */
    /* Within the new source the offsets hold: reordering passes through. */
    make(&k, 0x2222, 4002, 780777, 11, false, 41, 1240);
    prism_router_forward(f->r, b, &k.p);
    make(&k, 0x2222, 4001, 779777, 10, false, 40, 1241);
    prism_router_forward(f->r, b, &k.p);
    assert_int_equal(out_seq(g, 6), 4);
    assert_int_equal(out_seq(g, 7), 3);
    assert_int_equal(out_ts(g, 6) - out_ts(g, 5), 3000);
    assert_int_equal(out_pid(g, 7), 4);
    /* The same producer changing SSRC (a restarted encoder) is a new source. */
    make(&k, 0x3333, 17, 5, 100, true, 7, 1300);
    prism_router_forward(f->r, b, &k.p);
    assert_int_equal(out_seq(g, 8), 5);
    assert_true(out_ts(g, 8) > out_ts(g, 6));
    assert_int_equal(out_pid(g, 8), 6); /* the highest sent was 5 */
    /* Another router's producer is refused. */
    struct prism_router *other = prism_router_new(f->eg, 64);
    struct prism_producer *x = prism_router_producer_add(other, 12, &da, NULL);
    assert_int_equal(prism_router_consumer_switch(c, x), PRISM_EINVAL);
    prism_router_free(other);
    /* Nor to the subscriber's own track (subs[0] is peer 2). */
    struct prism_track_desc own = video_track(8, 0x8888);
    struct prism_producer *mine = prism_router_producer_add(f->r, 2, &own, NULL);
    assert_int_equal(prism_router_consumer_switch(c, mine), PRISM_EINVAL);
    assert_ptr_equal(prism_consumer_producer(c), b);
}

static void test_pause_resume(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(3, 0x77);
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c0 = prism_router_consumer_add(&f->subs[0], p, 0x100);
    assert_non_null(prism_router_consumer_add(&f->subs[1], p, 0x101));
    struct pkt k;
    make(&k, 0x77, 10, 100, 1, true, 0, 0);
    prism_router_forward(f->r, p, &k.p);
    prism_consumer_set_paused(c0, true);
    for (uint16_t s = 11; s < 20; s++) {
        make(&k, 0x77, s, 100u + s, s, true, 0, s);
        assert_int_equal(prism_router_forward(f->r, p, &k.p), 1); /* only the other one */
    }
    assert_int_equal(f->got[0].n, 1);
    assert_int_equal(f->got[1].n, 10);
    prism_consumer_set_paused(c0, false);
    make(&k, 0x77, 20, 200, 20, true, 0, 40);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 2);
    /* No gap the subscriber would take for loss. */
    assert_int_equal(out_seq(&f->got[0], 1), 11);
    assert_int_equal(out_pid(&f->got[0], 1), 2);
    assert_int_equal(out_ts(&f->got[0], 1), 100u + 40 * 90);
    assert_int_equal(out_seq(&f->got[1], 10), 20); /* the other is untouched */
}

static void test_remove_during_fan_out(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(4, 0x55);
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *cs[3];
    for (int i = 0; i < 3; i++)
        cs[i] = prism_router_consumer_add(&f->subs[i], p, 0x200u + i);
    /* The first sink called removes a consumer that may be later in the loop. */
    struct pkt k;
    make(&k, 0x55, 1, 1, 1, true, 0, 0);
    f->remove_on_send = cs[0];
    size_t first = prism_router_forward(f->r, p, &k.p);
    assert_true(first == 2 || first == 3);
    assert_int_equal(prism_producer_consumers(p), 2);
    assert_null(prism_router_sub_find(&f->subs[0], 0x200));
    size_t before = f->got[0].n + f->got[1].n + f->got[2].n;
    make(&k, 0x55, 2, 2, 2, true, 0, 1);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 2);
    assert_int_equal(f->got[0].n + f->got[1].n + f->got[2].n, before + 2);
    /* A sink removes the producer itself: the loop ends cleanly, nothing leaks. */
    f->remove_producer_on_send = p;
    make(&k, 0x55, 3, 3, 3, true, 0, 2);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 1);
    assert_null(prism_router_producer_find(f->r, 1, 4));
    assert_null(prism_router_sub_find(&f->subs[1], 0x201));
    assert_null(prism_router_sub_find(&f->subs[2], 0x202));
}

static void test_isolation(void **state)
{
    struct fixture *f = *state;
    /* Two bubbles (of two tenants, say) with the same handles and SSRCs. */
    struct prism_router *r2 = prism_router_new(f->eg, 64);
    struct prism_router_sub sub2;
    struct got got2 = {0};
    prism_router_sub_init(r2, &sub2, 2, &(struct prism_router_sink){sink, &got2});
    struct prism_track_desc d = video_track(5, 0x99);
    struct prism_producer *p1 = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_producer *p2 = prism_router_producer_add(r2, 1, &d, NULL);
    assert_non_null(p1);
    assert_non_null(p2);
    /* A consumer never links a subscriber to another router's producer. */
    assert_null(prism_router_consumer_add(&sub2, p1, 0x300));
    assert_null(prism_router_consumer_add(&f->subs[0], p2, 0x301));
    assert_non_null(prism_router_consumer_add(&f->subs[0], p1, 0x302));
    struct pkt k;
    make(&k, 0x99, 1, 1, 1, true, 0, 0);
    assert_int_equal(prism_router_forward(f->r, p1, &k.p), 1);
    assert_int_equal(prism_router_forward(r2, p2, &k.p), 0);
    assert_int_equal(got2.n, 0);
    assert_int_equal(f->got[0].n, 1);
    prism_router_sub_deinit(&sub2);
    prism_router_free(r2);
}

static void test_pool_empty_and_layers(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(6, 0x42);
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->subs[0], p, 0x400);
    uint8_t *held[POOL];
    for (int i = 0; i < POOL; i++)
        held[i] = prism_egress_buf_get(f->eg);
    struct pkt k;
    make(&k, 0x42, 1, 1, 1, true, 0, 0);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 0);
    assert_int_equal(f->subs[0].drop_egress, 1);
    for (int i = 0; i < POOL; i++)
        prism_egress_buf_put(f->eg, held[i]);
    /* A consumer takes only its chosen layer. */
    prism_consumer_set_layer(c, 1);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 0);
    k.p.layer = 1;
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 1);
}

/* A packet of a simulcast layer: like make(), with a transport-wide seq
 * element (id TCC_ID, one-byte form) and, for a key frame, the VP8 key
 * frame header with its size. */
#define TCC_ID 3
static void make_layer(struct pkt *k, uint32_t ssrc, uint16_t seq, uint32_t ts, uint16_t pid,
                       uint8_t tl0, uint8_t layer, bool key, uint16_t height, uint64_t now_ms)
{
    memset(k, 0, sizeof(*k));
    uint8_t *d = k->data;
    d[0] = 0x90; /* X */
    d[1] = VP8_PT;
    prism_store_be16(d + 2, seq);
    prism_store_be32(d + 4, ts);
    prism_store_be32(d + 8, ssrc);
    size_t i = 12;
    prism_store_be16(d + i, 0xBEDE);
    prism_store_be16(d + i + 2, 1);
    d[i + 4] = TCC_ID << 4 | 1;
    prism_store_be16(d + i + 5, 0x7777); /* the publisher's numbering */
    d[i + 7] = 0;
    i += 8;
    size_t hdr = i;
    d[i++] = 0x90;
    d[i++] = 0xC0;
    d[i++] = (uint8_t)(0x80 | (pid >> 8));
    d[i++] = (uint8_t)pid;
    d[i++] = tl0;
    if (key) {
        const uint8_t tag[10] = {0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0, 0};
        memcpy(d + i, tag, sizeof(tag));
        d[i + 8] = (uint8_t)height;
        d[i + 9] = (uint8_t)(height >> 8);
        i += sizeof(tag);
    } else {
        d[i++] = 0x01;
        d[i++] = 0xAA;
    }
    k->p.data = d;
    k->p.len = i;
    k->p.now_ms = now_ms;
    k->p.layer = layer;
    assert_int_equal(prism_rtp_parse(d, i, &k->p.h), 0);
    assert_int_equal(k->p.h.header_len, hdr);
    k->p.ext.has_transport_seq = true;
    assert_int_equal(prism_vp8_parse(d + hdr, i - hdr, &k->p.vp8), 0);
    assert_int_equal(k->p.vp8.keyframe, key);
    k->p.has_vp8 = true;
}

static uint16_t out_pid_at(const struct got *g, size_t i, size_t off)
{
    struct prism_vp8_desc d;
    assert_int_equal(prism_vp8_parse(g->pkts[i] + off, g->lens[i] - off, &d), 0);
    return d.picture_id;
}

static uint8_t out_tl0_at(const struct got *g, size_t i, size_t off)
{
    struct prism_vp8_desc d;
    assert_int_equal(prism_vp8_parse(g->pkts[i] + off, g->lens[i] - off, &d), 0);
    return d.tl0picidx;
}

static uint16_t out_tseq(const struct got *g, size_t i)
{
    struct prism_rtp_header h;
    uint16_t tseq = 0;
    assert_int_equal(prism_rtp_parse(g->pkts[i], g->lens[i], &h), 0);
    assert_int_equal(prism_rtp_get_transport_seq(g->pkts[i], &h, TCC_ID, &tseq), 0);
    return tseq;
}

static void test_simulcast_switch(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(11, 0);
    d.n_layers = 3;
    d.tcc_ext_id = TCC_ID;
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->subs[0], p, 0x500);
    struct prism_consumer *other = prism_router_consumer_add(&f->subs[1], p, 0x600);
    struct prism_bwe *bwe = malloc(sizeof(*bwe));
    prism_bwe_init(bwe);
    f->subs[0].bwe = bwe;
    struct got *g = &f->got[0];
    struct pkt k;
    const size_t off = 20; /* header + extension block */
    /* Layer 0 (SSRC 0xA0) and layer 2 (0xC0) arrive interleaved; the
     * consumer takes layer 0. */
    for (uint16_t i = 0; i < 3; i++) {
        make_layer(&k, 0xA0, (uint16_t)(100 + i), 9000 + 3000u * i, (uint16_t)(700 + i),
                   (uint8_t)(40 + i), 0, i == 0, 180, 1000 + 33u * i);
        prism_router_forward(f->r, p, &k.p);
        make_layer(&k, 0xC0, (uint16_t)(5000 + i), 77000 + 3000u * i, (uint16_t)(20 + i),
                   (uint8_t)(200 + i), 2, false, 0, 1000 + 33u * i);
        prism_router_forward(f->r, p, &k.p);
    }
    assert_int_equal(g->n, 3);
    assert_int_equal(out_ssrc(g, 2), 0x500);
    assert_int_equal(out_seq(g, 2), 102);
    /* Each copy carries the subscriber's own transport-wide numbering;
     * another subscriber without an estimator keeps the publisher's. */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(out_tseq(g, i), i);
    assert_int_equal(out_tseq(&f->got[1], 0), 0x7777);
    /* Switch to layer 2: pending until its key frame; layer 0 still flows. */
    assert_true(prism_consumer_set_target(c, 2));
    make_layer(&k, 0xC0, 5003, 86000, 23, 203, 2, false, 0, 1100);
    prism_router_forward(f->r, p, &k.p);
    make_layer(&k, 0xA0, 103, 18000, 703, 43, 0, false, 0, 1100);
    prism_router_forward(f->r, p, &k.p);
    assert_int_equal(g->n, 4);
    assert_int_equal(prism_consumer_layer(c), 0);
    make_layer(&k, 0xC0, 5004, 89000, 24, 204, 2, true, 720, 1133);
    prism_router_forward(f->r, p, &k.p);
    assert_int_equal(g->n, 5);
    assert_int_equal(prism_consumer_layer(c), 2);
    assert_false(prism_consumer_set_target(c, 2));
    /* Continuous: the next seq, picture id and TL0PICIDX, a later timestamp
     * (the wall time since, at 90 kHz), the same SSRC. */
    assert_int_equal(out_ssrc(g, 4), 0x500);
    assert_int_equal(out_seq(g, 4), 104);
    assert_int_equal(out_pid_at(g, 4, off), 704);
    assert_int_equal(out_tl0_at(g, 4, off), 44);
    assert_int_equal(out_ts(g, 4), 18000 + 33 * 90);
    assert_int_equal(out_tseq(g, 4), 4);
    /* Layer 0 goes no more; layer 2 goes on in step. */
    make_layer(&k, 0xA0, 104, 21000, 704, 44, 0, false, 0, 1166);
    prism_router_forward(f->r, p, &k.p);
    make_layer(&k, 0xC0, 5005, 92000, 25, 205, 2, false, 0, 1166);
    prism_router_forward(f->r, p, &k.p);
    assert_int_equal(g->n, 6);
    assert_int_equal(out_seq(g, 5), 105);
    assert_int_equal(out_pid_at(g, 5, off), 705);
    assert_int_equal(out_ts(g, 5), 18000 + 33 * 90 + 3000);
    /* The other consumer stayed on layer 0 throughout. */
    assert_int_equal(prism_consumer_layer(other), 0);
    /* Measured: three layers, the heights their key frames told, layer 1
     * never sent. */
    struct prism_layer_info li[PRISM_MEDIA_MAX_LAYERS];
    assert_int_equal(prism_producer_layers(p, 1200, li), 3);
    assert_true(li[0].active && !li[1].active && li[2].active);
    assert_int_equal(li[0].height, 180);
    assert_int_equal(li[2].height, 720);
    assert_true(li[0].bps > 0 && li[1].bps == 0 && li[2].bps > 0);
    assert_false(prism_producer_layers(p, 1200 + 1000, li) && li[2].active);
    f->subs[0].bwe = NULL;
    free(bwe);
}

static void test_retransmit(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(9, 0x1234);
    d.rtx_pts[0] = (struct prism_rtx_pt){VP8_PT, 97};
    d.n_rtx_pts = 1;
    struct prism_track_desc plain = video_track(10, 0x4321); /* no rtx payload type */
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_producer *q = prism_router_producer_add(f->r, 1, &plain, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->subs[0], p, 0xAAAA);
    struct prism_consumer *other = prism_router_consumer_add(&f->subs[1], p, 0xBBBB);
    struct prism_consumer *noq = prism_router_consumer_add(&f->subs[2], q, 0xCCCC);
    assert_int_equal(prism_consumer_set_rtx(c, 0x5555), 0);
    assert_int_equal(prism_consumer_set_rtx(noq, 0x6666), PRISM_EINVAL);
    struct pkt k[5];
    for (uint16_t i = 0; i < 5; i++) {
        make(&k[i], 0x1234, (uint16_t)(100 + i), 9000u + 3000u * i, (uint16_t)(7 + i), true, 1, i);
        prism_router_forward(f->r, p, &k[i].p);
    }
    const struct got *g = &f->got[0];
    assert_int_equal(g->n, 5);
    /* Packet 102 again, as RTX: own SSRC, payload type and sequence, the
     * original sequence number first, then the same payload. */
    assert_true(prism_router_retransmit(c, 102));
    assert_true(prism_router_retransmit(c, 104));
    assert_int_equal(g->n, 7);
    assert_int_equal(g->lens[5], k[2].p.len + 2);
    assert_int_equal(out_ssrc(g, 5), 0x5555);
    assert_int_equal(g->pkts[5][1] & 0x7f, 97);
    assert_int_equal(out_seq(g, 6), (uint16_t)(out_seq(g, 5) + 1)); /* RTX's own sequence */
    assert_int_equal(out_ts(g, 5), 9000u + 3000u * 2);
    assert_int_equal(prism_load_be16(g->pkts[5] + 12), 102);
    assert_memory_equal(g->pkts[5] + 14, k[2].data + 12, k[2].p.len - 12);
    assert_int_equal(f->subs[0].rtx_sent, 2);
    /* Never sent, or a subscriber without rtx: nothing goes out. */
    assert_false(prism_router_retransmit(c, 90));
    assert_int_equal(f->subs[0].rtx_missed, 1);
    assert_false(prism_router_retransmit(other, 102));
    assert_int_equal(f->got[1].n, 5);
    assert_int_equal(f->subs[1].rtx_nacked, 0);
    /* A switched consumer maps only what it sent since: the old source's
     * numbers are misses, never another packet under their number. */
    struct prism_track_desc d2 = video_track(11, 0x9999);
    d2.rtx_pts[0] = (struct prism_rtx_pt){VP8_PT, 97};
    d2.n_rtx_pts = 1;
    struct prism_producer *p2 = prism_router_producer_add(f->r, 3, &d2, NULL);
    assert_int_equal(prism_router_consumer_switch(c, p2), 0);
    struct pkt n;
    make(&n, 0x9999, 500, 1, 1, true, 1, 10);
    prism_router_forward(f->r, p2, &n.p);
    assert_int_equal(out_seq(g, 7), 105);
    assert_false(prism_router_retransmit(c, 103));
    assert_true(prism_router_retransmit(c, 105));
    assert_int_equal(prism_load_be16(g->pkts[8] + 12), 105);
    /* The history holds the last 64 packets: older ones are gone. */
    for (uint16_t i = 1; i <= 64; i++) {
        make(&n, 0x9999, (uint16_t)(500 + i), 1, 1, true, 1, 10);
        prism_router_forward(f->r, p2, &n.p);
    }
    assert_false(prism_router_retransmit(c, 105));
    assert_true(prism_router_retransmit(c, 106));
}

/* Padding probes and the pacing of retransmissions. */
static void test_pad_and_pace(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = video_track(12, 0);
    d.n_layers = 2;
    d.tcc_ext_id = TCC_ID;
    d.rtx_pts[0] = (struct prism_rtx_pt){VP8_PT, 97};
    d.n_rtx_pts = 1;
    struct prism_producer *p = prism_router_producer_add(f->r, 1, &d, NULL);
    struct prism_consumer *c = prism_router_consumer_add(&f->subs[0], p, 0x500);
    struct prism_bwe *bwe = malloc(sizeof(*bwe));
    prism_bwe_init(bwe);
    f->subs[0].bwe = bwe;
    struct got *g = &f->got[0];
    /* Without rtx, or before any media went out: no padding. */
    assert_false(prism_consumer_can_pad(c));
    assert_int_equal(prism_consumer_set_rtx(c, 0x5555), 0);
    assert_false(prism_consumer_can_pad(c));
    struct pkt k;
    for (uint16_t i = 0; i < 4; i++) {
        make_layer(&k, 0xA0, (uint16_t)(100 + i), 9000 + 3000u * i, (uint16_t)(700 + i), 40, 0,
                   i == 0, 180, 1000 + 33u * i);
        prism_router_forward(f->r, p, &k.p);
    }
    assert_int_equal(g->n, 4);
    assert_true(prism_consumer_can_pad(c));
    /* A cluster: padding-only packets on the RTX SSRC and payload type,
     * the last media timestamp, the next transport-wide numbers. */
    prism_bwe_probe_start(bwe, 7, 600000);
    assert_int_equal(prism_router_pad(c, 7, 3, 1200), 3);
    assert_int_equal(g->n, 7);
    for (size_t i = 4; i < 7; i++) {
        struct prism_rtp_header h;
        assert_int_equal(g->lens[i], 20 + PRISM_ROUTER_PAD_BYTES);
        assert_int_equal(prism_rtp_parse(g->pkts[i], g->lens[i], &h), 0);
        assert_int_equal(h.payload_len, 0);
        assert_int_equal(h.padding_len, PRISM_ROUTER_PAD_BYTES);
        assert_int_equal(h.payload_type, 97);
        assert_int_equal(out_ssrc(g, i), 0x5555);
        assert_int_equal(out_ts(g, i), 9000 + 3000u * 3);
        assert_int_equal(out_tseq(g, i), i);
        assert_int_equal(bwe->sent[i].cluster, 7);
    }
    assert_int_equal(out_seq(g, 5), (uint16_t)(out_seq(g, 4) + 1));
    assert_int_equal(f->subs[0].probe_packets, 3);
    assert_int_equal(f->subs[0].probe_bytes, 3 * (20 + PRISM_ROUTER_PAD_BYTES));
    /* Each layer keeps its own history: a busy layer 1 does not evict
     * layer 0's packets. */
    for (uint16_t i = 0; i < 70; i++) {
        make_layer(&k, 0xB0, (uint16_t)(103 + i), 50000, 800, 41, 1, false, 0, 1150);
        prism_router_forward(f->r, p, &k.p);
    }
    assert_true(prism_router_retransmit(c, 103));
    /* A paused consumer carries none. */
    prism_consumer_set_paused(c, true);
    assert_false(prism_consumer_can_pad(c));
    assert_int_equal(prism_router_pad(c, 7, 3, 1200), 0);
    prism_consumer_set_paused(c, false);
    /* Retransmissions within the rtx rate: 8 kbps is 1000 bytes a second,
     * the bucket starts full; one packet more waits for the refill. */
    prism_router_sub_pace_rtx(&f->subs[0], 8000);
    size_t len = k.p.len + 2, fit = 1000 / len;
    for (size_t i = 0; i < fit; i++)
        assert_true(prism_router_retransmit(c, (uint16_t)(101 + i % 3))); /* all of one size */
    assert_false(prism_router_retransmit(c, 103));
    assert_int_equal(f->subs[0].rtx_dropped, 1);
    make_layer(&k, 0xA0, 104, 21000, 704, 40, 0, false, 0, 1099 + 1000);
    prism_router_forward(f->r, p, &k.p);          /* a second later: refilled */
    assert_true(prism_router_retransmit(c, 104)); /* (103 was before the resume) */
    /* Leaving for a lower layer: the layer it leaves is not repaired. */
    prism_router_sub_pace_rtx(&f->subs[0], 0);
    prism_consumer_set_layer(c, 1);
    make_layer(&k, 0xB0, 300, 50000, 800, 41, 1, false, 0, 2200);
    prism_router_forward(f->r, p, &k.p);
    uint16_t seq = out_seq(g, g->n - 1);
    assert_true(prism_router_retransmit(c, seq));
    assert_true(prism_consumer_set_target(c, 0));
    assert_false(prism_router_retransmit(c, seq));
    assert_int_equal(f->subs[0].rtx_dropped, 2);
    f->subs[0].bwe = NULL;
    free(bwe);
}

/* A RED packet of Chromium's shape (red PT 63 over Opus 111, one redundant
 * block, a mid extension, 2 bytes of padding) as ingress parses it. */
static void make_red(struct pkt *k, uint16_t seq, uint32_t ts)
{
    static const uint8_t red[] = {
        0xb0,       63,   0,    0,    0,    0,    0,    0,
        0x11,       0x22, 0x33, 0x44,                         /* X=1 P=1, PT 63 */
        0xbe,       0xde, 0x00, 0x01, 0x40, 0x30, 0x00, 0x00, /* one-byte ext: mid "0" */
        0x80 | 111, 0x0f, 0x00, 0x03, 111, /* RED headers: 3 bytes, then primary */
        0xa1,       0xa2, 0xa3,            /* redundant (960 samples old) */
        0xb1,       0xb2, 0xb3, 0xb4,      /* primary */
        0x00,       0x02,                  /* padding */
    };
    memset(k, 0, sizeof(*k));
    memcpy(k->data, red, sizeof(red));
    prism_store_be16(k->data + 2, seq);
    prism_store_be32(k->data + 4, ts);
    k->p.data = k->data;
    k->p.len = sizeof(red);
    assert_int_equal(prism_rtp_parse(k->data, k->p.len, &k->p.h), 0);
    assert_int_equal(k->p.h.header_len, 20);
    struct prism_red_block b[PRISM_RED_MAX_BLOCKS];
    size_t n;
    assert_int_equal(prism_red_parse(k->data + 20, k->p.h.payload_len, b, PRISM_RED_MAX_BLOCKS, &n),
                     0);
    k->p.has_red = true;
    k->p.red_primary = b[n - 1];
}

static void test_red(void **state)
{
    struct fixture *f = *state;
    struct prism_track_desc d = {.handle = 9, .ssrc = 0x11223344, .vp8_pt = PRISM_PT_NONE};
    struct prism_producer *p = prism_router_producer_add(f->r, 5, &d, NULL);
    assert_non_null(p);
    struct prism_consumer *with = prism_router_consumer_add(&f->subs[1], p, 0xB1);
    struct prism_consumer *without = prism_router_consumer_add(&f->subs[2], p, 0xB2);
    assert_non_null(with);
    assert_non_null(without);
    prism_consumer_set_red(with, true); /* the default is to unwrap */
    struct pkt k;
    make_red(&k, 500, 48000);
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 2);
    /* negotiated red: the packet as it came, rewritten as any other */
    const struct got *g = &f->got[1];
    assert_int_equal(g->n, 1);
    assert_int_equal(g->lens[0], k.p.len);
    assert_int_equal(out_ssrc(g, 0), 0xB1);
    assert_memory_equal(g->pkts[0] + 12, k.data + 12, k.p.len - 12);
    assert_int_equal(g->pkts[0][1], 63);
    /* not: the header (extension kept, no padding) with Opus's payload type,
     * then the primary alone, same seq and timestamp */
    g = &f->got[2];
    assert_int_equal(g->n, 1);
    assert_int_equal(g->lens[0], 20 + 4);
    assert_int_equal(g->pkts[0][0], 0x90);
    assert_int_equal(g->pkts[0][1], 111);
    assert_int_equal(out_ssrc(g, 0), 0xB2);
    assert_int_equal(out_seq(g, 0), 500);
    assert_int_equal(out_ts(g, 0), 48000);
    assert_memory_equal(g->pkts[0] + 12, k.data + 12, 8);
    static const uint8_t primary[] = {0xb1, 0xb2, 0xb3, 0xb4};
    assert_memory_equal(g->pkts[0] + 20, primary, sizeof(primary));
    struct prism_rtp_header h;
    assert_int_equal(prism_rtp_parse(g->pkts[0], g->lens[0], &h), 0);
    assert_int_equal(h.payload_len, 4);
    /* The marker bit survives; plain Opus from the same publisher (no
     * has_red) goes to both unchanged. */
    make_red(&k, 501, 48960);
    k.data[1] |= 0x80;
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 2);
    assert_int_equal(f->got[2].pkts[1][1], 0x80 | 111);
    assert_int_equal(out_seq(&f->got[2], 1), 501);
    make_red(&k, 502, 49920);
    k.p.has_red = false;
    k.data[1] = 111;
    assert_int_equal(prism_router_forward(f->r, p, &k.p), 2);
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(f->got[i].lens[2], k.p.len);
        assert_int_equal(f->got[i].pkts[2][1], 111);
    }
    /* The input is never modified. */
    assert_int_equal(k.data[0], 0xb0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fan_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switch_keeps_continuity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_during_fan_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_empty_and_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_red, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simulcast_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pad_and_pace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
