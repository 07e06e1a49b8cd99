/* The router of one bubble (see router.h): producers, consumers, the
 * fan-out and each consumer's rewrite. What goes out on a consumer's RTX
 * stream (retransmissions, their pacing, padding probes) is router_rtx.c's;
 * the structs both share are in router_internal.h. Worker thread only.
 *
 * Storage: producers in a hash table by track handle (handles are
 * relay-wide unique); each producer holds an array of its consumers (index
 * kept in the consumer, so removal is O(1) by swapping the last one in);
 * each subscriber a singly linked list of its consumers (PLI/FIR lookups,
 * and removing them all when it leaves).
 *
 * Deferred removal: while a forward runs (`forwarding` > 0) a removed
 * consumer is only flagged, unlinked from its subscriber and put on the
 * `dead` list; a removed producer leaves the table and is flagged. Both are
 * freed when the outermost forward returns, so the fan-out loop never reads
 * freed memory and never sees its array reordered.
 *
 * Rewriting: a consumer's first packet goes out with the source's own
 * sequence number and timestamp (offsets 0). When the source changes (the
 * packet's SSRC differs from the last one's, or the consumer was switched or
 * resumed), the offsets are recomputed so that the first packet of the new
 * source follows the last one sent: sequence number + 1, timestamp + the
 * wall time since (at the track's clock rate, at least 1), picture id + 1,
 * TL0PICIDX + 1. Within one source the offsets change only where the
 * consumer leaves packets out (below), so reordering and loss upstream pass
 * through unchanged.
 *
 * Layered streams (VP9 SVC, VP8 temporal layers, AV1 with the dependency
 * descriptor, which is forwarded intact): a consumer leaves out the
 * packets of spatial and temporal layers above its choice (svc.h). The
 * sequence number map (relay/worker/seqmap.h) closes the gap each one
 * leaves, the picture id map the gap of each picture left out whole (a
 * temporal layer's); TL0PICIDX counts base layer pictures, never left out.
 * Retransmissions map the subscriber's sequence number back through it. The
 * producer meters each layer frame (spatial, temporal) for the choice.
 *
 * Simulcast: a producer measures each layer's bitrate (bytes per 0.5 s
 * window, read over the last two windows) and height (from its VP8 key
 * frames, or VP9's scalability structure).
 * A consumer forwards one layer; a new target layer is taken at its first
 * key frame packet, the source change above keeping the stream continuous.
 *
 * Transport-wide sequence numbers: a packet carrying the publisher's
 * transport-wide-cc element gets, in each copy, the next number of the
 * subscriber's estimator (sub->bwe), so each subscribe transport has its
 * own numbering and the subscriber's feedback maps back to what was sent.
 */
#include "relay/worker/router.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/wire/rtp.h"
#include "relay/worker/router_internal.h"
#include "relay/worker/seqmap.h"
#include "relay/worker/svc.h"

#define METER_WINDOW_MS 500
#define LAYER_ACTIVE_MS 1000 /* a layer without packets for this long is not being sent */

static void producer_free(gpointer value)
{
    struct prism_producer *p = value;
    free(p->history);
    for (size_t i = 0; i < p->n_consumers; i++)
        free(p->consumers[i]);
    free(p->consumers);
    free(p);
}

struct prism_router *prism_router_new(struct prism_egress *eg, size_t history_packets)
{
    struct prism_router *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->egress = eg;
    if (history_packets > PRISM_ROUTER_HISTORY_MAX)
        history_packets = PRISM_ROUTER_HISTORY_MAX;
    for (r->history_len = history_packets > 0 ? 1 : 0; r->history_len < history_packets;)
        r->history_len *= 2;
    r->producers = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, producer_free);
    return r;
}

void prism_router_free(struct prism_router *r)
{
    if (r == NULL)
        return;
    PRISM_CHECK(r->n_subs == 0 && r->forwarding == 0);
    g_hash_table_destroy(r->producers);
    free(r);
}

/* --- subscribers and consumers ---------------------------------------------- */

void prism_router_sub_init(struct prism_router *r, struct prism_router_sub *sub, uint64_t peer,
                           const struct prism_router_sink *sink)
{
    *sub = (struct prism_router_sub){.router = r, .peer = peer, .sink = *sink};
    r->n_subs++;
}

void prism_router_sub_deinit(struct prism_router_sub *sub)
{
    while (sub->consumers != NULL)
        prism_router_consumer_remove(sub->consumers);
    sub->router->n_subs--;
    sub->router = NULL;
}

static void unlink_from_sub(struct prism_consumer *c)
{
    struct prism_consumer **pp = &c->sub->consumers;
    while (*pp != c)
        pp = &(*pp)->sub_next;
    *pp = c->sub_next;
}

static void unlink_from_producer(struct prism_consumer *c)
{
    struct prism_producer *p = c->producer;
    struct prism_consumer *last = p->consumers[--p->n_consumers];
    p->consumers[c->index] = last;
    last->index = c->index;
}

static bool attach(struct prism_consumer *c, struct prism_producer *p)
{
    if (p->n_consumers == p->cap_consumers) {
        size_t cap = p->cap_consumers ? p->cap_consumers * 2 : 4;
        struct prism_consumer **a = realloc(p->consumers, cap * sizeof(*a));
        if (a == NULL)
            return false;
        p->consumers = a;
        p->cap_consumers = cap;
    }
    c->producer = p;
    c->index = p->n_consumers;
    p->consumers[p->n_consumers++] = c;
    return true;
}

struct prism_consumer *prism_router_consumer_add(struct prism_router_sub *sub,
                                                 struct prism_producer *p, uint32_t ssrc)
{
    if (sub->router == NULL || p->router != sub->router || p->removed ||
        p->publisher == sub->peer || ssrc == 0)
        return NULL;
    struct prism_consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (!attach(c, p)) {
        free(c);
        return NULL;
    }
    c->sub = sub;
    c->ssrc = ssrc;
    prism_svc_state_init(&c->svc);
    c->sub_next = sub->consumers;
    sub->consumers = c;
    return c;
}

void prism_router_consumer_remove(struct prism_consumer *c)
{
    struct prism_router *r = c->producer->router;
    unlink_from_sub(c);
    if (r->forwarding > 0) {
        c->removed = true;
        c->next_dead = r->dead_consumers;
        r->dead_consumers = c;
        return;
    }
    unlink_from_producer(c);
    free(c);
}

int prism_router_consumer_switch(struct prism_consumer *c, struct prism_producer *p)
{
    struct prism_router *r = c->producer->router;
    if (p->router != r || p->removed || c->removed || p->publisher == c->sub->peer)
        return PRISM_EINVAL;
    if (p == c->producer)
        return 0;
    PRISM_CHECK(r->forwarding == 0); /* a control-path operation */
    unlink_from_producer(c);
    if (!attach(c, p)) {
        PRISM_CHECK(attach(c, c->producer)); /* its old slot is free: cannot fail */
        return PRISM_ENOMEM;
    }
    c->resync = true;
    c->choice = (struct prism_layer_choice){0};
    c->svc_choice = (struct prism_svc_choice){0};
    prism_svc_state_init(&c->svc);
    if (c->layer >= p->n_layers)
        c->layer = 0;
    c->target = c->layer;
    if (c->rtx_ssrc != 0 && prism_consumer_set_rtx(c, c->rtx_ssrc) != 0)
        c->rtx_ssrc = 0; /* the new source cannot be retransmitted */
    return 0;
}

void prism_consumer_set_paused(struct prism_consumer *c, bool paused)
{
    if (c->paused && !paused)
        c->resync = true; /* the gap while paused is not loss */
    c->paused = paused;
}

bool prism_consumer_paused(const struct prism_consumer *c)
{
    return c->paused;
}

void prism_consumer_set_red(struct prism_consumer *c, bool red)
{
    c->red = red;
}

void prism_consumer_set_layer(struct prism_consumer *c, uint8_t layer)
{
    if (c->layer != layer)
        c->resync = true;
    c->layer = c->target = layer;
}

bool prism_consumer_set_target(struct prism_consumer *c, uint8_t layer)
{
    PRISM_CHECK(layer < PRISM_MEDIA_MAX_LAYERS);
    c->target = layer;
    return c->target != c->layer;
}

uint8_t prism_consumer_layer(const struct prism_consumer *c)
{
    return c->layer;
}

struct prism_layer_choice *prism_consumer_choice(struct prism_consumer *c)
{
    return &c->choice;
}

bool prism_consumer_set_svc_target(struct prism_consumer *c, uint8_t sid, uint8_t tid)
{
    c->svc.sid_target = sid;
    c->svc.tid_target = tid;
    return c->svc.sid_target > c->svc.sid;
}

void prism_consumer_svc_layers(const struct prism_consumer *c, uint8_t *sid, uint8_t *tid)
{
    *sid = c->svc.sid;
    *tid = c->svc.tid;
}

struct prism_svc_choice *prism_consumer_svc_choice(struct prism_consumer *c)
{
    return &c->svc_choice;
}

bool prism_producer_svc(const struct prism_producer *p, uint64_t now_ms, struct prism_svc_info *out)
{
    uint64_t span = now_ms > p->prev_window_ms ? now_ms - p->prev_window_ms : 0;
    return prism_svc_meter_read(&p->svc, now_ms, span, LAYER_ACTIVE_MS, out);
}

size_t prism_producer_layers(const struct prism_producer *p, uint64_t now_ms,
                             struct prism_layer_info *out)
{
    uint64_t span = now_ms > p->prev_window_ms ? now_ms - p->prev_window_ms : 0;
    for (uint8_t i = 0; i < p->n_layers; i++) {
        const struct layer_meter *m = &p->layers[i];
        bool active = m->last_ms != 0 && now_ms - m->last_ms < LAYER_ACTIVE_MS;
        uint64_t bytes = m->bytes + m->prev_bytes;
        out[i] = (struct prism_layer_info){
            .bps = active && span > 0 ? (uint32_t)(bytes * 8 * 1000 / span) : 0,
            .height = m->height,
            .active = active};
    }
    return p->n_layers;
}

struct prism_producer *prism_consumer_producer(const struct prism_consumer *c)
{
    return c->producer;
}

struct prism_consumer *prism_consumer_next(const struct prism_consumer *c)
{
    return c->sub_next;
}

uint32_t prism_consumer_ssrc(const struct prism_consumer *c)
{
    return c->ssrc;
}

uint64_t prism_consumer_packets(const struct prism_consumer *c)
{
    return c->packets;
}

struct prism_consumer *prism_router_sub_find(const struct prism_router_sub *sub, uint32_t ssrc)
{
    for (struct prism_consumer *c = sub->consumers; c != NULL; c = c->sub_next)
        if (c->ssrc == ssrc)
            return c;
    return NULL;
}

/* --- producers ----------------------------------------------------------------- */

struct prism_producer *prism_router_producer_add(struct prism_router *r, uint64_t publisher,
                                                 const struct prism_track_desc *d, void *owner)
{
    if (g_hash_table_contains(r->producers, &d->handle))
        return NULL;
    struct prism_producer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->router = r;
    p->track = d->handle;
    p->publisher = publisher;
    p->owner = owner;
    p->clock_hz = d->video ? 90000 : 48000;
    p->n_layers =
        d->video && d->n_layers > 1 && d->n_layers <= PRISM_MEDIA_MAX_LAYERS ? d->n_layers : 1;
    p->tcc_ext_id = d->tcc_ext_id;
    p->n_rtx_pts = d->video && d->n_rtx_pts <= PRISM_MEDIA_MAX_RTX_PTS ? d->n_rtx_pts : 0;
    memcpy(p->rtx_pts, d->rtx_pts, p->n_rtx_pts * sizeof(p->rtx_pts[0]));
    g_hash_table_insert(r->producers, &p->track, p);
    return p;
}

void prism_router_producer_remove(struct prism_router *r, struct prism_producer *p)
{
    PRISM_CHECK(p->router == r && !p->removed);
    if (r->forwarding == 0) {
        for (size_t i = 0; i < p->n_consumers; i++)
            unlink_from_sub(p->consumers[i]);
        g_hash_table_remove(r->producers, &p->track); /* frees p and its consumers */
        return;
    }
    for (size_t i = 0; i < p->n_consumers; i++) {
        struct prism_consumer *c = p->consumers[i];
        if (!c->removed) {
            unlink_from_sub(c);
            c->removed = true;
        }
    }
    g_hash_table_steal(r->producers, &p->track);
    p->removed = true;
    p->next_dead = r->dead_producers;
    r->dead_producers = p;
}

struct prism_producer *prism_router_producer_find(const struct prism_router *r, uint64_t publisher,
                                                  uint64_t track)
{
    struct prism_producer *p = g_hash_table_lookup(r->producers, &track);
    return p != NULL && p->publisher == publisher ? p : NULL;
}

void prism_producer_set_owner(struct prism_producer *p, void *owner)
{
    p->owner = owner;
}

void *prism_producer_owner(const struct prism_producer *p)
{
    return p->owner;
}

uint64_t prism_producer_publisher(const struct prism_producer *p)
{
    return p->publisher;
}

size_t prism_producer_consumers(const struct prism_producer *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_consumers; i++)
        n += !p->consumers[i]->removed;
    return n;
}

/* Frees what was removed during the forward that just ended. */
void prism__router_collect(struct prism_router *r)
{
    while (r->dead_consumers != NULL) {
        struct prism_consumer *c = r->dead_consumers;
        r->dead_consumers = c->next_dead;
        if (!c->producer->removed) {
            unlink_from_producer(c);
            free(c);
        }
    }
    while (r->dead_producers != NULL) {
        struct prism_producer *p = r->dead_producers;
        r->dead_producers = p->next_dead;
        producer_free(p); /* with its consumers, dead or not */
    }
}

/* --- the per-packet path ------------------------------------------------------ */

static bool newer16(uint16_t a, uint16_t b)
{
    return (int16_t)(uint16_t)(a - b) > 0;
}

static bool newer32(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* The source changed: offsets that continue from what went out last. */
static void resync(struct prism_consumer *c, const struct prism_packet *pkt, const struct pic *v,
                   uint32_t clock_hz)
{
    uint16_t seq_delta = 0, pid_delta = 0;
    if (c->started) {
        uint64_t gap_ms = pkt->now_ms > c->last_ms ? pkt->now_ms - c->last_ms : 0;
        uint32_t gap = (uint32_t)(gap_ms * clock_hz / 1000);
        seq_delta = (uint16_t)(c->last_seq + 1u - pkt->h.seq);
        c->ts_delta = c->last_ts + (gap > 0 ? gap : 1) - pkt->h.timestamp;
        if (v->has_pid && c->has_pid)
            pid_delta = (uint16_t)(c->last_pid + 1u - v->pid);
        if (v->has_tl0 && c->has_tl0)
            c->tl0_delta = (uint8_t)(c->last_tl0 + 1u - v->tl0);
    }
    prism_seqmap_reset(&c->seqs, 16, seq_delta);
    prism_seqmap_reset(&c->pids, v->pid_bits, (uint16_t)(pid_delta & ((1u << v->pid_bits) - 1)));
    c->src_ssrc = pkt->h.ssrc;
    c->epoch_seq = (uint16_t)(pkt->h.seq + seq_delta);
    c->started = true;
    c->resync = false;
}

/* Writes the consumer's view of `pkt` (sequence number `seq`, picture id
 * `pid`) over the copy in `buf`. */
static void rewrite(struct prism_consumer *c, uint8_t *buf, const struct prism_packet *pkt,
                    const struct pic *v, uint16_t seq, uint16_t pid)
{
    uint32_t ts = pkt->h.timestamp + c->ts_delta;
    prism_rtp_set_ssrc(buf, c->ssrc);
    prism_rtp_set_seq(buf, seq);
    prism_rtp_set_timestamp(buf, ts);
    if (c->packets == 0 || newer16(seq, c->last_seq))
        c->last_seq = seq;
    if (c->packets == 0 || newer32(ts, c->last_ts))
        c->last_ts = ts;
    c->last_ms = pkt->now_ms;
    uint8_t tl0 = (uint8_t)(v->tl0 + c->tl0_delta);
    write_pic(buf + pkt->h.header_len, pkt, v, pid, tl0);
    mark_end(c, buf, buf + pkt->h.header_len, pkt);
    if (v->has_pid) {
        if (!c->has_pid || newer16((uint16_t)(pid << 1), (uint16_t)(c->last_pid << 1)))
            c->last_pid = pid;
        c->has_pid = true;
    }
    if (v->has_tl0) {
        if (!c->has_tl0 || (int8_t)(uint8_t)(tl0 - c->last_tl0) > 0)
            c->last_tl0 = tl0;
        c->has_tl0 = true;
    }
}

/* Writes into `buf` the primary block of the RED packet `pkt` as a packet
 * of its own (RFC 2198 §3: the RTP header's timestamp is the primary's):
 * the header with the primary's payload type and no padding, then the
 * primary's data. The redundant blocks are left out; they could fill this
 * subscriber's gaps (a block is a lost packet's, at ts - offset), which is
 * not done yet. Returns the length, shorter than pkt->len. */
static size_t red_primary(uint8_t *buf, const struct prism_packet *pkt)
{
    size_t hl = pkt->h.header_len;
    memcpy(buf, pkt->data, hl);
    buf[0] &= (uint8_t)~0x20; /* padding went with the RED payload */
    prism_rtp_set_payload_type(buf, pkt->red_primary.pt);
    memcpy(buf + hl, pkt->data + hl + pkt->red_primary.offset, pkt->red_primary.len);
    return hl + pkt->red_primary.len;
}

/* Counts `pkt` into its layer's meter. */
static void meter(struct prism_producer *p, const struct prism_packet *pkt)
{
    if (pkt->now_ms - p->window_ms >= METER_WINDOW_MS) {
        bool skipped = pkt->now_ms - p->window_ms >= 2 * METER_WINDOW_MS;
        for (uint8_t i = 0; i < PRISM_MEDIA_MAX_LAYERS; i++) {
            p->layers[i].prev_bytes = skipped ? 0 : p->layers[i].bytes;
            p->layers[i].bytes = 0;
        }
        prism_svc_meter_roll(&p->svc, skipped);
        p->prev_window_ms = skipped ? pkt->now_ms - METER_WINDOW_MS : p->window_ms;
        p->window_ms = pkt->now_ms;
    }
    struct layer_meter *m = &p->layers[pkt->layer];
    m->bytes += pkt->len;
    m->last_ms = pkt->now_ms != 0 ? pkt->now_ms : 1;
    if (pkt->has_vp8 && pkt->vp8.height != 0)
        m->height = pkt->vp8.height;
    if (pkt->has_vp9 && pkt->vp9.has_ss && pkt->vp9.ss_has_size) /* its top spatial layer's */
        m->height = pkt->vp9.ss_height[pkt->vp9.ss_n_spatial - 1];
    if (pkt->has_dd && pkt->dd.n_heights > 0) /* its top spatial layer's, likewise */
        m->height = pkt->dd.height[pkt->dd.n_heights - 1];
    prism_svc_meter_note(&p->svc, pkt);
}

size_t prism_router_forward(struct prism_router *r, struct prism_producer *p,
                            const struct prism_packet *pkt)
{
    size_t copies = 0;
    if (pkt->layer >= PRISM_MEDIA_MAX_LAYERS)
        return 0; /* no layer of any producer: no consumer takes it */
    meter(p, pkt);
    r->now_ms = pkt->now_ms;
    bool keyframe = (pkt->has_vp8 && pkt->vp8.keyframe) || (pkt->has_vp9 && pkt->vp9.keyframe) ||
                    (pkt->has_dd && pkt->dd.known && pkt->dd.key);
    struct pic v = pic_of(pkt);
    size_t tseq_at = tseq_offset(p, pkt->data, &pkt->h, pkt->ext.has_transport_seq);
    if (p->history != NULL && pkt->h.header_len != 0 && pkt->len <= PRISM_EGRESS_MAX_PACKET) {
        struct history_slot *slot = history_slot(p, pkt->layer, pkt->h.seq);
        slot->used = true;
        slot->meta = *pkt;
        slot->meta.data = NULL;
        memcpy(slot->data, pkt->data, pkt->len);
    }
    router_enter(r);
    for (size_t i = 0; i < p->n_consumers; i++) {
        struct prism_consumer *c = p->consumers[i];
        if (c->removed || c->paused)
            continue;
        if (c->target != c->layer && pkt->layer == c->target && keyframe) {
            c->layer = c->target; /* the source change resyncs the offsets */
            c->resync = true;
        }
        if (c->layer != pkt->layer)
            continue;
        /* A source change takes effect at the first packet that goes out:
         * what is left out before it needs no closing over. */
        bool fresh = !c->started || c->resync || pkt->h.ssrc != c->src_ssrc;
        enum prism_svc_verdict verdict = prism_svc_take(&c->svc, pkt);
        if (verdict != PRISM_SVC_TAKE) {
            if (!fresh)
                prism_seqmap_drop(&c->seqs, pkt->h.seq);
            if (!fresh && verdict == PRISM_SVC_DROP_PICTURE && v.has_pid &&
                v.pid_bits == c->pids.bits)
                prism_seqmap_drop(&c->pids, v.pid);
            if (verdict == PRISM_SVC_DROP_UNKNOWN)
                c->sub->drop_unknown_layer++;
            else
                c->sub->drop_layer++;
            continue;
        }
        uint8_t *buf = pkt->len <= PRISM_EGRESS_MAX_PACKET ? prism_egress_buf_get(r->egress) : NULL;
        if (buf == NULL) {
            c->sub->drop_egress++; /* before any change: the next packet is as this one */
            continue;
        }
        if (fresh)
            resync(c, pkt, &v, p->clock_hz);
        if (v.has_pid && v.pid_bits != c->pids.bits) /* the publisher changed its width */
            prism_seqmap_reset(&c->pids, v.pid_bits,
                               (uint16_t)(prism_seqmap_delta(&c->pids) & ((1u << v.pid_bits) - 1)));
        uint16_t seq, pid = v.pid;
        if ((v.has_pid && !prism_seqmap_map(&c->pids, v.pid, &pid)) ||
            !prism_seqmap_forward(&c->seqs, pkt->h.seq, &seq)) {
            prism_egress_buf_put(r->egress, buf);
            c->sub->drop_stale++;
            continue;
        }
        if (v.has_pid)
            (void)prism_seqmap_forward(&c->pids, v.pid, &pid); /* mapped above: cannot fail */
        size_t len = pkt->len;
        if (pkt->has_red && !c->red)
            len = red_primary(buf, pkt);
        else
            memcpy(buf, pkt->data, pkt->len);
        rewrite(c, buf, pkt, &v, seq, pid);
        stamp(c->sub, buf, tseq_at, len, pkt->now_ms);
        c->packets++;
        copies++;
        c->sub->sink.send(c->sub->sink.ud, buf, len);
    }
    router_leave(r);
    return copies;
}
