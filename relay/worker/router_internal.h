/* The router's internals, shared by router.c (producers, consumers, the
 * fan-out and the per-consumer rewrite) and router_rtx.c (what goes out on
 * a consumer's RTX stream: retransmissions from the history, their pacing,
 * padding probes). Nothing else includes it: the rest of the relay sees the
 * opaque handles of router.h.
 *
 * Thread: the router's worker only. The helpers below are static inline
 * because both files use them per packet copy (the forward path and each
 * retransmission): they must cost no call.
 *
 * Invariants (router.c's header has the whole story): a producer's consumers
 * array and a subscriber's consumer list hold the same consumers; while
 * `forwarding` > 0 nothing is freed, removed consumers and producers are
 * only flagged and queued on the dead lists; a producer's history is NULL
 * or history_len x n_layers slots, history_len a power of 2.
 */
#ifndef PRISM_WORKER_ROUTER_INTERNAL_H
#define PRISM_WORKER_ROUTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "relay/base/bytes.h"
#include "relay/net/egress.h"
#include "relay/wire/rtp.h"
#include "relay/worker/bwe.h"
#include "relay/worker/layers.h"
#include "relay/worker/packet.h"
#include "relay/worker/router.h"
#include "relay/worker/seqmap.h"
#include "relay/worker/svc.h"

/* One packet of a producer's history, as it came in (the consumer's rewrite
 * is applied again on retransmission). */
struct history_slot {
    bool used;
    struct prism_packet meta; /* parsed fields; meta.data is unused here */
    uint8_t data[PRISM_EGRESS_MAX_PACKET];
};

/* A layer's traffic: bytes in the current and the previous window. */
struct layer_meter {
    uint64_t bytes, prev_bytes;
    uint64_t last_ms; /* last packet; 0: none yet */
    uint16_t height;  /* from its last key frame; 0: unknown */
};

struct prism_producer {
    struct prism_router *router;
    uint64_t track;                                       /* handle; key in router->producers */
    uint64_t publisher;                                   /* peer handle */
    void *owner;                                          /* the worker's track */
    uint32_t clock_hz;                                    /* 48000 audio, 90000 video */
    struct prism_rtx_pt rtx_pts[PRISM_MEDIA_MAX_RTX_PTS]; /* codec -> its rtx payload type */
    uint8_t n_rtx_pts;
    struct history_slot *history;      /* history_len per layer, by layer then seq % history_len;
                                          NULL until a consumer takes rtx */
    struct prism_consumer **consumers; /* owned array */
    size_t n_consumers, cap_consumers;
    uint8_t n_layers;        /* simulcast layers, 1 for a single stream */
    uint8_t tcc_ext_id;      /* the publisher's transport-wide-cc id, 0: none */
    uint64_t window_ms;      /* start of the current metering window */
    uint64_t prev_window_ms; /* start of the previous one */
    struct layer_meter layers[PRISM_MEDIA_MAX_LAYERS];
    struct prism_svc_meter svc; /* layer 0's (the stream's, when not simulcast) */
    bool removed;               /* removed during a forward: freed at its end */
    struct prism_producer *next_dead;
};

struct prism_consumer {
    struct prism_producer *producer;
    struct prism_router_sub *sub;
    struct prism_consumer *sub_next; /* in sub->consumers */
    size_t index;                    /* in producer->consumers */
    uint32_t ssrc;                   /* the relay's SSRC toward the subscriber */
    bool paused;
    bool red;       /* the subscriber takes RED as is (else its primary, unwrapped) */
    uint8_t layer;  /* forwarded */
    uint8_t target; /* taken at its next key frame */
    struct prism_layer_choice choice;
    bool removed;
    struct prism_consumer *next_dead;
    /* rewriting: out = in + delta, per field, modulo its width */
    bool started;             /* a first packet went out */
    bool resync;              /* recompute the deltas on the next packet */
    uint32_t src_ssrc;        /* the source the deltas belong to */
    struct prism_seqmap seqs; /* sequence numbers: a delta per source, less each drop */
    uint32_t ts_delta;
    struct prism_seqmap pids; /* picture ids (VP8, VP9) likewise, less each dropped picture */
    uint8_t tl0_delta;
    struct prism_svc_state svc;         /* layers of a layered stream forwarded and wanted */
    struct prism_svc_choice svc_choice; /* and their choice */
    uint32_t rtx_ssrc;                  /* 0: no retransmissions */
    uint16_t rtx_seq;                   /* next sequence number of its RTX stream */
    uint16_t epoch_seq; /* the first sequence number sent under the current deltas */
    uint16_t last_seq;  /* highest sent */
    uint32_t last_ts;   /* highest sent */
    uint16_t last_pid;  /* highest sent, 15 bits */
    uint8_t last_tl0;
    bool has_pid, has_tl0; /* last_pid / last_tl0 are set */
    uint64_t last_ms;      /* when the last packet went out */
    uint64_t packets;      /* handed to the sink */
};

struct prism_router {
    struct prism_egress *egress;
    size_t history_len;    /* packets per producer history, a power of 2; 0: none */
    GHashTable *producers; /* track handle -> struct prism_producer */
    unsigned forwarding;   /* nesting depth of prism_router_forward */
    struct prism_consumer *dead_consumers;
    struct prism_producer *dead_producers;
    size_t n_subs;   /* initialised subscribers */
    uint64_t now_ms; /* the last forwarded packet's receipt: the send time of retransmissions */
};

/* Frees what was removed during the forward that just ended (router.c). */
void prism__router_collect(struct prism_router *r);

/* Opens a stretch in which sinks run and may remove consumers and
 * producers: their freeing waits for the outermost router_leave, so a loop
 * over a producer's consumers never reads freed memory. */
static inline void router_enter(struct prism_router *r)
{
    r->forwarding++;
}

static inline void router_leave(struct prism_router *r)
{
    if (--r->forwarding == 0 && (r->dead_consumers != NULL || r->dead_producers != NULL))
        prism__router_collect(r);
}

/* A packet's picture id and TL0PICIDX, from whichever descriptor it has. */
struct pic {
    bool has_pid;
    uint8_t pid_bits; /* 15 or 7 */
    uint16_t pid;
    bool has_tl0;
    uint8_t tl0;
};

static inline struct pic pic_of(const struct prism_packet *pkt)
{
    if (pkt->has_vp8)
        return (struct pic){.has_pid = pkt->vp8.has_picture_id,
                            .pid_bits = pkt->vp8.long_picture_id ? 15 : 7,
                            .pid = pkt->vp8.picture_id,
                            .has_tl0 = pkt->vp8.has_tl0picidx,
                            .tl0 = pkt->vp8.tl0picidx};
    if (pkt->has_vp9)
        return (struct pic){.has_pid = pkt->vp9.has_picture_id,
                            .pid_bits = pkt->vp9.long_picture_id ? 15 : 7,
                            .pid = pkt->vp9.picture_id,
                            .has_tl0 = pkt->vp9.has_tl0picidx,
                            .tl0 = pkt->vp9.tl0picidx};
    return (struct pic){.pid_bits = 15};
}

/* Writes picture id `pid` and TL0PICIDX `tl0` over the descriptor of `pkt`
 * (parsed as `v`) at `payload`, where they differ from the input's. */
static inline void write_pic(uint8_t *payload, const struct prism_packet *pkt, const struct pic *v,
                             uint16_t pid, uint8_t tl0)
{
    if (v->has_pid && pid != v->pid) {
        if (pkt->has_vp8)
            prism_vp8_set_picture_id(payload, &pkt->vp8, pid);
        else
            prism_vp9_set_picture_id(payload, &pkt->vp9, pid);
    }
    if (v->has_tl0 && tl0 != v->tl0) {
        if (pkt->has_vp8)
            prism_vp8_set_tl0picidx(payload, &pkt->vp8, tl0);
        else
            prism_vp9_set_tl0picidx(payload, &pkt->vp9, tl0);
    }
}

/* The end of a picture for `c`'s subscriber when it leaves upper spatial
 * layers out: the RTP marker (libwebrtc's receiver takes it for the last
 * spatial layer of the picture), and VP9's E (already set on a layer
 * frame's last packet by RFC 9628). */
static inline void mark_end(const struct prism_consumer *c, uint8_t *buf, uint8_t *payload,
                            const struct prism_packet *pkt)
{
    if (prism_svc_ends_picture(&c->svc, pkt)) {
        prism_rtp_set_marker(buf, true);
        if (pkt->has_vp9)
            prism_vp9_set_end(payload);
    }
}

/* Where packet `seq` of layer `layer` is kept: each simulcast layer has a
 * history of its own (the layers' sequence numbers are unrelated: in one
 * history a busy high layer would evict the low layer's packets within a
 * fraction of a second, and the low layer's NACKs would find nothing). */
static inline struct history_slot *history_slot(const struct prism_producer *p, uint8_t layer,
                                                uint16_t seq)
{
    size_t len = p->router->history_len;
    return &p->history[(layer < p->n_layers ? layer : 0) * len + (seq & (len - 1))];
}

/* Where a packet of `p` (its header parsed as `h`, ingress having seen the
 * transport-wide-cc element: `has_tseq`) holds its transport-wide seq: the
 * offset from the packet's start, the same in every copy (each keeps the
 * header as it came). 0: nothing to stamp. O(extension elements): found
 * once per packet, not per copy. */
static inline size_t tseq_offset(const struct prism_producer *p, const uint8_t *pkt,
                                 const struct prism_rtp_header *h, bool has_tseq)
{
    const uint8_t *d;
    size_t n;
    if (p->tcc_ext_id == 0 || !has_tseq || prism_rtp_find_ext(pkt, h, p->tcc_ext_id, &d, &n) != 0 ||
        n < 2)
        return 0;
    return (size_t)(d - pkt);
}

/* Gives the copy in `buf` (`len` bytes) the subscriber's next
 * transport-wide seq at `at` (tseq_offset; 0: none). O(1). */
static inline void stamp(struct prism_router_sub *sub, uint8_t *buf, size_t at, size_t len,
                         uint64_t now_ms)
{
    if (sub->bwe != NULL && at != 0)
        prism_store_be16(buf + at, prism_bwe_stamp(sub->bwe, now_ms, len));
}

#endif
