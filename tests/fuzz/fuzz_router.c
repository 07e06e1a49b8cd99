/* libFuzzer target for relay/worker/router: the input is a script of 8-byte
 * steps over one router with four subscribers (peers 1-4) and up to eight
 * producers: add or remove producers and consumers, switch a consumer's
 * source, pause, resume, choose a layer, and forward packets whose header
 * and payload come from the script (a VP8 or VP9 descriptor when the payload
 * type says so, RED blocks when it is red's), turn retransmissions and red on
 * and off, choose spatial and temporal layers, and NACK sequence numbers, with a sink that may
 * remove a consumer or a producer from inside the fan-out. Invariants checked on every packet a
 * sink receives: the length and every byte past the rewritten fields are
 * the input's (but for the marker and VP9's E bit, which a consumer that
 * leaves spatial layers out sets on the last one it keeps), or, for RED toward a consumer without
 * red, exactly the header with the primary's payload type and the primary's data; its SSRC is one
 * of that subscriber's consumers; and a consumer's first packet after a source change (switch,
 * resume, layer change, another SSRC) carries the sequence number after the highest it sent before.
 * At the end every egress buffer is back in the pool (ASan checks the rest: no use after free
 * across deferred removals, no leak).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/bytes.h"
#include "relay/net/egress.h"
#include "relay/worker/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP 8
#define MAX_STEPS 1024
#define N_SUBS 4
#define N_TRACKS 8
#define POOL 16
#define MAX_SEEN 64
#define VP8_PT 96
#define VP9_PT 98
#define RED_PT 63

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_router: invariant broken: %s\n", what);
        abort();
    }
}

/* What the harness remembers of a consumer, to check continuity. */
struct seen {
    const struct prism_consumer *c;
    bool sent;        /* it sent a packet */
    bool expect_next; /* its next packet continues from max_seq */
    uint16_t max_seq;
    uint32_t src_ssrc; /* the input SSRC of its last packet */
    bool paused;
    uint8_t layer;
    bool red; /* takes RED as is */
};

static struct state {
    struct prism_egress *eg;
    struct prism_router *r;
    struct prism_router_sub subs[N_SUBS];
    struct prism_producer *tracks[N_TRACKS];
    struct seen seen[MAX_SEEN];
    const struct prism_packet *pkt; /* being forwarded */
    uint8_t remove_in_sink;         /* 0 none, 1 a consumer, 2 the producer */
    struct prism_producer *forwarding;
} S;

static struct seen *seen_of(const struct prism_consumer *c)
{
    for (size_t i = 0; i < MAX_SEEN; i++)
        if (S.seen[i].c == c)
            return &S.seen[i];
    for (size_t i = 0; i < MAX_SEEN; i++)
        if (S.seen[i].c == NULL) {
            S.seen[i] = (struct seen){.c = c};
            return &S.seen[i];
        }
    return NULL;
}

static void forget(const struct prism_consumer *c)
{
    for (size_t i = 0; i < MAX_SEEN; i++)
        if (S.seen[i].c == c)
            S.seen[i] = (struct seen){0};
}

static void sink(void *ud, uint8_t *buf, size_t len)
{
    struct prism_router_sub *sub = ud;
    const struct prism_packet *pkt = S.pkt;
    if (pkt == NULL) { /* a retransmission: RTX, its own SSRC and numbers */
        must(len >= 14 && len <= PRISM_EGRESS_MAX_PACKET, "rtx length");
        must((buf[1] & 0x7f) == 97 && (buf[0] & 0x20) == 0, "rtx payload type, no padding");
        prism_egress_buf_put(S.eg, buf);
        return;
    }
    const struct prism_consumer *c = prism_router_sub_find(sub, prism_load_be32(buf + 8));
    must(c != NULL, "SSRC of one of the subscriber's consumers");
    struct seen *s = seen_of(c);
    size_t fixed = pkt->h.header_len != 0 ? pkt->h.header_len : 12;
    const struct prism_red_block *primary = &pkt->red_primary;
    bool unwrapped = pkt->has_red && (s != NULL ? !s->red : len != pkt->len);
    if (unwrapped) {
        must(len == fixed + primary->len, "RED: the primary's length");
        must((buf[1] & 0x7f) == primary->pt && (buf[1] & 0x80) == (pkt->data[1] & 0x80),
             "RED: the primary's payload type, the marker kept");
        must(memcmp(buf + fixed, pkt->data + fixed + primary->offset, primary->len) == 0,
             "RED: the primary's data");
    } else {
        must(len == pkt->len, "length kept");
        size_t from = fixed + (pkt->has_vp8   ? pkt->vp8.header_len
                               : pkt->has_vp9 ? pkt->vp9.header_len
                                              : 0);
        must(memcmp(buf + from, pkt->data + from, len - from) == 0, "payload kept");
        must((buf[1] & 0x7f) == (pkt->data[1] & 0x7f), "payload type kept");
        must(buf[1] == pkt->data[1] || (pkt->has_vp9 && pkt->vp9.end && (buf[1] & 0x80)),
             "marker kept, or set on a VP9 layer frame's end");
    }
    must(memcmp(buf + 12, pkt->data + 12, fixed - 12) == 0, "header past the SSRC kept");
    must((buf[0] & ~0x20) == (pkt->data[0] & ~0x20), "first byte kept (padding bit aside)");
    uint16_t seq = prism_load_be16(buf + 2);
    if (s != NULL) {
        if (s->sent && (s->expect_next || pkt->h.ssrc != s->src_ssrc))
            must(seq == (uint16_t)(s->max_seq + 1), "continuous after a source change");
        if (!s->sent || (int16_t)(uint16_t)(seq - s->max_seq) > 0)
            s->max_seq = seq;
        s->sent = true;
        s->expect_next = false;
        s->src_ssrc = pkt->h.ssrc;
    }
    prism_egress_buf_put(S.eg, buf);
    if (S.remove_in_sink == 1 && sub->consumers != NULL) {
        forget(sub->consumers);
        prism_router_consumer_remove(sub->consumers);
    } else if (S.remove_in_sink == 2) {
        for (int t = 0; t < N_TRACKS; t++)
            if (S.tracks[t] == S.forwarding) {
                for (int i = 0; i < N_SUBS; i++)
                    for (struct prism_consumer *k = S.subs[i].consumers; k;
                         k = prism_consumer_next(k))
                        if (prism_consumer_producer(k) == S.forwarding)
                            forget(k);
                prism_router_producer_remove(S.r, S.forwarding);
                S.tracks[t] = NULL;
            }
    }
    S.remove_in_sink = 0;
}

static struct prism_consumer *nth_consumer(int sub, uint8_t n)
{
    struct prism_consumer *c = S.subs[sub].consumers;
    for (uint8_t i = 0; c != NULL && i < n % 8; i++)
        c = prism_consumer_next(c) != NULL ? prism_consumer_next(c) : S.subs[sub].consumers;
    return c;
}

static void remove_producer(int t)
{
    for (int i = 0; i < N_SUBS; i++)
        for (struct prism_consumer *k = S.subs[i].consumers; k; k = prism_consumer_next(k))
            if (prism_consumer_producer(k) == S.tracks[t])
                forget(k);
    prism_router_producer_remove(S.r, S.tracks[t]);
    S.tracks[t] = NULL;
}

static void forward(const uint8_t *d, const uint8_t *rest, size_t rest_len, uint64_t now_ms)
{
    int t = d[1] % N_TRACKS;
    if (S.tracks[t] == NULL)
        return;
    uint8_t pkt_bytes[12 + 64];
    size_t payload = rest_len < 64 ? rest_len : 64;
    pkt_bytes[0] = 0x80;
    pkt_bytes[1] = d[2] & 1   ? VP8_PT
                   : d[2] & 2 ? RED_PT
                   : d[2] & 4 ? VP9_PT
                              : (uint8_t)(d[2] & 0x7f);
    prism_store_be16(pkt_bytes + 2, (uint16_t)(d[3] << 8 | d[4]));
    prism_store_be32(pkt_bytes + 4, (uint32_t)d[5] << 24 | (uint32_t)d[4] << 8);
    prism_store_be32(pkt_bytes + 8, 0x1000u + (d[6] & 3)); /* a few source SSRCs */
    memcpy(pkt_bytes + 12, rest, payload);
    struct prism_packet pkt = {.data = pkt_bytes, .len = 12 + payload, .now_ms = now_ms};
    must(prism_rtp_parse(pkt_bytes, pkt.len, &pkt.h) == 0, "a fixed header parses");
    if (pkt.h.payload_type == VP8_PT)
        pkt.has_vp8 = prism_vp8_parse(pkt_bytes + 12, payload, &pkt.vp8) == 0;
    if (pkt.h.payload_type == VP9_PT)
        pkt.has_vp9 = prism_vp9_parse(pkt_bytes + 12, payload, &pkt.vp9) == 0;
    struct prism_red_block blocks[PRISM_RED_MAX_BLOCKS];
    size_t n;
    if (pkt.h.payload_type == RED_PT &&
        prism_red_parse(pkt_bytes + 12, payload, blocks, PRISM_RED_MAX_BLOCKS, &n) == 0) {
        pkt.has_red = true;
        pkt.red_primary = blocks[n - 1];
    }
    pkt.layer = d[6] >> 6 & 1;
    S.pkt = &pkt;
    S.remove_in_sink = d[7] % 8 == 0 ? 1 : d[7] % 8 == 1 ? 2 : 0;
    S.forwarding = S.tracks[t];
    prism_router_forward(S.r, S.tracks[t], &pkt);
    S.remove_in_sink = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&S, 0, sizeof(S));
    must(prism_egress_new(POOL, &S.eg) == 0, "egress");
    S.r = prism_router_new(S.eg, 16);
    must(S.r != NULL, "router");
    for (int i = 0; i < N_SUBS; i++)
        prism_router_sub_init(S.r, &S.subs[i], (uint64_t)i + 1,
                              &(struct prism_router_sink){sink, &S.subs[i]});
    uint64_t now_ms = 1000;
    size_t steps = size / STEP < MAX_STEPS ? size / STEP : MAX_STEPS;
    for (size_t k = 0; k < steps; k++) {
        const uint8_t *d = data + k * STEP;
        int t = d[1] % N_TRACKS, sub = d[2] % N_SUBS;
        now_ms += d[7] & 0x1f;
        switch (d[0] % 8) {
        case 0:
            if (S.tracks[t] == NULL) {
                struct prism_track_desc desc = {.handle = (uint64_t)t + 1,
                                                .video = d[3] & 1,
                                                .ssrc = 0x1000,
                                                .vp8_pt = VP8_PT,
                                                .vp9_pt = VP9_PT,
                                                .rtx_pts = {{VP8_PT, 97}},
                                                .n_rtx_pts = d[3] & 2 ? 1 : 0};
                S.tracks[t] =
                    prism_router_producer_add(S.r, (uint64_t)(d[4] % N_SUBS) + 1, &desc, NULL);
            }
            break;
        case 1:
            if (S.tracks[t] != NULL)
                remove_producer(t);
            break;
        case 2: {
            uint32_t ssrc = 0x100u * (uint32_t)(sub + 1) + d[3];
            /* A subscriber's relay SSRCs are unique (the control thread draws
             * them so); the sink tells consumers apart by them. */
            if (S.tracks[t] != NULL && prism_router_sub_find(&S.subs[sub], ssrc) == NULL) {
                struct prism_consumer *c =
                    prism_router_consumer_add(&S.subs[sub], S.tracks[t], ssrc);
                if (c != NULL)
                    seen_of(c);
            }
            break;
        }
        case 3: {
            struct prism_consumer *c = nth_consumer(sub, d[3]);
            if (c != NULL) {
                forget(c);
                prism_router_consumer_remove(c);
            }
            break;
        }
        case 4: {
            struct prism_consumer *c = nth_consumer(sub, d[3]);
            if (c != NULL && S.tracks[t] != NULL && S.tracks[t] != prism_consumer_producer(c) &&
                prism_router_consumer_switch(c, S.tracks[t]) == 0) {
                struct seen *s = seen_of(c);
                if (s != NULL)
                    s->expect_next = true;
                if (s != NULL) /* a layer the new producer lacks becomes 0 */
                    s->layer = prism_consumer_layer(c);
            }
            break;
        }
        case 5: {
            struct prism_consumer *c = nth_consumer(sub, d[3]);
            if (c != NULL) {
                bool pause = d[4] & 1;
                prism_consumer_set_paused(c, pause);
                struct seen *s = seen_of(c);
                if (s != NULL && s->paused && !pause)
                    s->expect_next = true; /* resumed */
                if (s != NULL)
                    s->paused = pause;
            }
            break;
        }
        case 6: {
            struct prism_consumer *c = nth_consumer(sub, d[3]);
            if (c != NULL && d[5] & 8) {
                prism_consumer_set_red(c, d[5] & 16);
                struct seen *s = seen_of(c);
                if (s != NULL)
                    s->red = d[5] & 16;
            } else if (c != NULL && d[5] & 1) {
                (void)prism_consumer_set_rtx(c, d[5] & 2 ? 0x7700u + d[6] : 0);
            } else if (c != NULL && d[5] & 4) {
                S.pkt = NULL;
                prism_router_retransmit(c, (uint16_t)(d[3] << 8 | d[4]));
            } else if (c != NULL && d[5] & 32) {
                /* layers 0-2 or every one; nothing to expect: drops are not source changes */
                uint8_t sid = d[4] & 3, tid = d[6] & 3;
                (void)prism_consumer_set_svc_target(c, sid == 3 ? PRISM_SVC_ALL : sid,
                                                    tid == 3 ? PRISM_SVC_ALL : tid);
            } else if (c != NULL) {
                uint8_t layer = d[4] & 1;
                prism_consumer_set_layer(c, layer);
                struct seen *s = seen_of(c);
                if (s != NULL && s->layer != layer)
                    s->expect_next = true;
                if (s != NULL)
                    s->layer = layer;
            }
            break;
        }
        default: {
            size_t at = (k + 1) * STEP;
            forward(d, data + at, size - at, now_ms);
            break;
        }
        }
    }
    for (int i = 0; i < N_SUBS; i++)
        prism_router_sub_deinit(&S.subs[i]);
    prism_router_free(S.r);
    struct prism_egress_stats st;
    prism_egress_stats(S.eg, &st);
    must(st.bufs_free == POOL, "every buffer back in the pool");
    prism_egress_free(S.eg);
    return 0;
}
