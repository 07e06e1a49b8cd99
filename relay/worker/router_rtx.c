/* What goes out on a consumer's RTX stream (RFC 4588): retransmissions
 * answering its subscriber's NACKs, paced per subscriber, and the padding
 * probes of downlink bandwidth estimation (see router.h for the contracts).
 *
 * Owns: a producer's packet history (allocated by prism_consumer_set_rtx,
 * the first time a consumer of it takes rtx; filled by prism_router_forward,
 * one slot per packet, each simulcast layer its own ring), the consumer's
 * RTX sequence numbers (rtx_seq: retransmissions and padding share the one
 * stream) and the subscriber's rtx token bucket (rtx_bps, rtx_tokens).
 *
 * Thread: the router's worker, like the rest of the router: no locks.
 *
 * Invariants: a retransmission is the history's packet under the consumer's
 * rewrite as it stands (sequence number mapped back through its seqmap,
 * timestamp, picture id and TL0PICIDX offsets), so only what went out under
 * the current offsets (since epoch_seq) of the current source can be
 * answered; anything else is counted missed, never guessed. No allocation
 * per packet: each RTX or padding packet is one buffer of the egress pool.
 * A sink that removes consumers or producers while padding goes out gets
 * the removal deferred (router_enter/router_leave), as during a forward.
 */
#include "relay/worker/router.h"

#include <stdlib.h>
#include <string.h>

#include "relay/base/bytes.h"
#include "relay/base/error.h"
#include "relay/wire/rtp.h"
#include "relay/worker/router_internal.h"
#include "relay/worker/seqmap.h"
#include "relay/worker/svc.h"

/* --- retransmissions (RFC 4588) -------------------------------------------------- */

/* Control path: the history is O(history_len x layers x ~1.5 KiB), so it
 * exists only for producers that some consumer retransmits. */
int prism_consumer_set_rtx(struct prism_consumer *c, uint32_t rtx_ssrc)
{
    struct prism_producer *p = c->producer;
    if (rtx_ssrc != 0 && (p->n_rtx_pts == 0 || p->router->history_len == 0))
        return PRISM_EINVAL;
    if (rtx_ssrc != 0 && p->history == NULL) {
        p->history = calloc(p->router->history_len * p->n_layers, sizeof(*p->history));
        if (p->history == NULL)
            return PRISM_ENOMEM;
    }
    c->rtx_ssrc = rtx_ssrc;
    return 0;
}

static bool rtx_pt_of(const struct prism_producer *p, uint8_t pt, uint8_t *rtx_pt)
{
    for (uint8_t i = 0; i < p->n_rtx_pts; i++)
        if (p->rtx_pts[i].pt == pt) {
            *rtx_pt = p->rtx_pts[i].rtx_pt;
            return true;
        }
    return false;
}

/* The RTX packet of `slot` as consumer `c` sent it as `seq`: the header as
 * the consumer rewrote it but under the RTX SSRC, payload type and next RTX
 * sequence number, padding left out, then the original sequence number and
 * the (rewritten) payload. Returns its length, 0 if it does not fit. */
static size_t build_rtx(struct prism_consumer *c, const struct history_slot *slot, uint16_t seq,
                        uint8_t rtx_pt, uint8_t *buf)
{
    const struct prism_rtp_header *h = &slot->meta.h;
    size_t len = h->header_len + 2 + h->payload_len;
    if (len > PRISM_EGRESS_MAX_PACKET)
        return 0;
    memcpy(buf, slot->data, h->header_len);
    buf[0] &= (uint8_t)~0x20; /* no padding */
    prism_rtp_set_payload_type(buf, rtx_pt);
    prism_rtp_set_seq(buf, c->rtx_seq++);
    prism_rtp_set_timestamp(buf, h->timestamp + c->ts_delta);
    prism_rtp_set_ssrc(buf, c->rtx_ssrc);
    prism_store_be16(buf + h->header_len, seq);
    uint8_t *payload = buf + h->header_len + 2;
    memcpy(payload, slot->data + h->header_len, h->payload_len);
    struct pic v = pic_of(&slot->meta);
    uint16_t pid = v.pid;
    if (v.has_pid && (v.pid_bits != c->pids.bits || !prism_seqmap_map(&c->pids, v.pid, &pid)))
        return 0;
    write_pic(payload, &slot->meta, &v, pid, (uint8_t)(v.tl0 + c->tl0_delta));
    mark_end(c, buf, payload, &slot->meta);
    return len;
}

void prism_router_sub_pace_rtx(struct prism_router_sub *sub, uint32_t bps)
{
    if (sub->rtx_bps == 0)
        sub->rtx_tokens = bps / 8; /* starts full */
    sub->rtx_bps = bps;
}

/* Takes `bytes` of the subscriber's rtx rate at the router's clock: false
 * when they are not there (nothing taken). */
static bool rtx_take(struct prism_router_sub *sub, size_t bytes)
{
    if (sub->rtx_bps == 0)
        return true;
    uint64_t now = sub->router->now_ms, depth = sub->rtx_bps / 8;
    if (now > sub->rtx_tokens_ms) {
        sub->rtx_tokens += (now - sub->rtx_tokens_ms) * sub->rtx_bps / 8000;
        if (sub->rtx_tokens > depth)
            sub->rtx_tokens = depth;
    }
    sub->rtx_tokens_ms = now;
    if (sub->rtx_tokens < bytes)
        return false;
    sub->rtx_tokens -= bytes;
    return true;
}

bool prism_router_retransmit(struct prism_consumer *c, uint16_t seq)
{
    struct prism_router_sub *sub = c->sub;
    struct prism_producer *p = c->producer;
    if (c->removed || c->rtx_ssrc == 0 || p->history == NULL)
        return false;
    sub->rtx_nacked++;
    /* Only what went out under the current offsets maps back to a packet. */
    uint16_t in_seq = 0;
    bool known = prism_seqmap_unmap(&c->seqs, seq, &in_seq);
    bool this_epoch = (int16_t)(uint16_t)(seq - c->epoch_seq) >= 0;
    const struct history_slot *slot = history_slot(p, c->layer, in_seq);
    uint8_t rtx_pt;
    if (!c->started || !known || !this_epoch || !slot->used || slot->meta.h.seq != in_seq ||
        slot->meta.h.ssrc != c->src_ssrc || !rtx_pt_of(p, slot->meta.h.payload_type, &rtx_pt) ||
        prism_svc_above(&c->svc, &slot->meta)) {
        /* (the last: a packet of a layer `c` leaves out, late after its
         * place went to the next one: seqmap.h's limits) */
        sub->rtx_missed++;
        return false;
    }
    if (c->target < c->layer ||
        !rtx_take(sub, slot->meta.h.header_len + 2u + slot->meta.h.payload_len)) {
        sub->rtx_dropped++;
        return false;
    }
    uint8_t *buf = prism_egress_buf_get(p->router->egress);
    if (buf == NULL) {
        sub->drop_egress++;
        return false;
    }
    size_t len = build_rtx(c, slot, seq, rtx_pt, buf);
    if (len == 0) {
        prism_egress_buf_put(p->router->egress, buf);
        sub->rtx_missed++;
        return false;
    }
    stamp(sub, buf, tseq_offset(p, slot->data, &slot->meta.h, slot->meta.ext.has_transport_seq),
          len, p->router->now_ms);
    sub->rtx_sent++;
    sub->sink.send(sub->sink.ud, buf, len);
    return true;
}

/* --- padding probes -------------------------------------------------------------- */

#define PAD_HEADER_BYTES 20 /* fixed header, extension header, one 4-byte tcc element */

bool prism_consumer_can_pad(const struct prism_consumer *c)
{
    const struct prism_producer *p = c->producer;
    return !c->removed && !c->paused && c->rtx_ssrc != 0 && c->started && p->n_rtx_pts > 0 &&
           p->tcc_ext_id != 0 && c->sub->bwe != NULL;
}

/* A padding-only packet of `c`'s RTX stream into `buf`, its transport-wide
 * sequence number `tseq` in the one-byte (ids 1-14) or two-byte (RFC 8285)
 * extension form. Returns its length. */
static size_t build_pad(struct prism_consumer *c, uint16_t tseq, uint8_t *buf)
{
    uint8_t id = c->producer->tcc_ext_id;
    buf[0] = 0x80 | 0x20 | 0x10; /* version 2, padding, extension */
    buf[1] = c->producer->rtx_pts[0].rtx_pt & 0x7f;
    prism_rtp_set_seq(buf, c->rtx_seq++);
    prism_rtp_set_timestamp(buf, c->last_ts);
    prism_rtp_set_ssrc(buf, c->rtx_ssrc);
    uint8_t *x = buf + 12;
    if (id <= 14) {
        prism_store_be16(x, 0xBEDE);
        prism_store_be16(x + 2, 1);
        x[4] = (uint8_t)(id << 4 | 1); /* length 2 is written as 1 */
        prism_store_be16(x + 5, tseq);
        x[7] = 0;
    } else {
        prism_store_be16(x, 0x1000);
        prism_store_be16(x + 2, 1);
        x[4] = id;
        x[5] = 2;
        prism_store_be16(x + 6, tseq);
    }
    memset(buf + PAD_HEADER_BYTES, 0, PRISM_ROUTER_PAD_BYTES - 1);
    buf[PAD_HEADER_BYTES + PRISM_ROUTER_PAD_BYTES - 1] = PRISM_ROUTER_PAD_BYTES;
    return PAD_HEADER_BYTES + PRISM_ROUTER_PAD_BYTES;
}

size_t prism_router_pad(struct prism_consumer *c, uint8_t cluster, size_t packets, uint64_t now_ms)
{
    if (!prism_consumer_can_pad(c))
        return 0;
    struct prism_router_sub *sub = c->sub;
    struct prism_router *r = c->producer->router;
    size_t sent = 0;
    router_enter(r); /* a sink that removes `c` defers its freeing past this loop */
    for (; sent < packets && !c->removed; sent++) {
        uint8_t *buf = prism_egress_buf_get(r->egress);
        if (buf == NULL) {
            sub->drop_egress++;
            break;
        }
        size_t len = PAD_HEADER_BYTES + PRISM_ROUTER_PAD_BYTES;
        size_t n = build_pad(c, prism_bwe_stamp_probe(sub->bwe, now_ms, len, cluster), buf);
        sub->probe_packets++;
        sub->probe_bytes += n;
        sub->sink.send(sub->sink.ud, buf, n);
    }
    router_leave(r);
    return sent;
}
