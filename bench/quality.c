/* prism-bench run --loss: one subscriber's lossy downlink (see quality.h).
 *
 * Per packet: find the stream (its SSRC, or the rtx SSRC of a video
 * stream), draw the loss, then a video packet goes through its repairer,
 * which hands the receiver every packet in sequence; each frame decoded
 * feeds the freeze detector; the NACKs due go out on the same pass (a video
 * stream's packets arrive every few ms, often enough for the 40 ms retry).
 *
 * Feedback goes out as a browser sends it: a compound RTCP packet, a receiver
 * report on the stream first, then the NACK or PLI (RFC 3550 §6.1, RFC 4585
 * §3.1; reduced size only where rtcp-rsize was negotiated, which Janus does
 * not offer). Janus also finds the stream feedback is about from the report
 * block: a bare NACK from an SSRC it does not know lands on its first
 * (audio) stream, where nothing is retransmitted.
 */
#include "bench/quality.h"

#include <stdlib.h>
#include <string.h>

#include "bench/endpoint.h"
#include "bench/loss.h"
#include "bench/nack.h"
#include "relay/base/bytes.h"
#include "relay/base/error.h"
#include "relay/wire/rtcp.h"

#define NACK_SEQS 64                      /* seqs per NACK packet, at most */
#define FEEDBACK_MAX (12 + 4 * NACK_SEQS) /* a NACK of NACK_SEQS entries, the largest */

struct stream {
    struct prism_bench_repair *repair; /* video; else NULL */
    struct prism_bench_freeze freeze;
    uint32_t lsr;       /* middle 32 bits of the sender's last SR's NTP time; 0: none yet */
    uint64_t lsr_at_ns; /* when that SR arrived */
};

struct prism_bench_quality {
    const struct prism_bench_quality_config *c;
    struct prism_bench_loss loss;
    struct stream s[PRISM_BENCH_MAX_RX]; /* by receiver index */
    uint64_t dropped_audio;
    uint64_t nacks_sent, seqs_nacked;
};

int prism_bench_quality_new(const struct prism_bench_quality_config *c, const char *name,
                            struct prism_bench_quality **out)
{
    struct prism_bench_quality *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return PRISM_ENOMEM;
    q->c = c;
    prism_bench_loss_init(&q->loss, c->loss_pct, c->seed, name);
    *out = q;
    return 0;
}

void prism_bench_quality_free(struct prism_bench_quality *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < PRISM_BENCH_MAX_RX; i++)
        prism_bench_repair_free(q->s[i].repair);
    free(q);
}

int prism_bench_quality_stream(struct prism_bench_quality *q, size_t i, bool video,
                               const struct prism_sdp_media *sec)
{
    if (i >= PRISM_BENCH_MAX_RX || !video || sec->n_ssrcs == 0)
        return 0;
    uint32_t ssrc = sec->ssrcs[0].ssrc, rtx_ssrc = 0;
    int apt = -1;
    for (size_t g = 0; g < sec->n_groups; g++)
        if (strcmp(sec->groups[g].semantics, "FID") == 0 && sec->groups[g].n_ssrcs == 2 &&
            sec->groups[g].ssrcs[0] == ssrc)
            rtx_ssrc = sec->groups[g].ssrcs[1];
    for (size_t p = 0; p < sec->n_pts && apt < 0; p++)
        apt = sec->pts[p].apt;
    if (apt < 0)
        rtx_ssrc = 0; /* no rtx payload type: nothing to unwrap with */
    return prism_bench_repair_new(q->c->nack, ssrc, rtx_ssrc, (uint8_t)(apt < 0 ? 0 : apt),
                                  &q->s[i].repair);
}

struct delivery {
    struct prism_bench_endpoint *ep;
    struct prism_bench_rx_slot *slot;
    struct stream *st;
};

static void deliver(void *ud, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
    struct delivery *d = ud;
    uint64_t before = d->slot->rx.frames_decoded;
    prism_bench_endpoint_deliver(d->ep, d->slot, pkt, len, now_ns);
    if (d->slot->rx.video && d->slot->rx.frames_decoded > before)
        prism_bench_freeze_frame(&d->st->freeze, now_ns);
}

int prism_bench_quality_send_feedback(struct prism_bench_endpoint *ep,
                                      struct prism_bench_rx_slot *slot, const uint8_t *fb,
                                      size_t len)
{
    uint8_t buf[8 + PRISM_RTCP_REPORT_BLOCK_BYTES + FEEDBACK_MAX];
    struct prism_rtcp_report_block block;
    if (ep->sub == NULL || len > FEEDBACK_MAX)
        return PRISM_EINVAL;
    prism_rtcp_report_block_from_stats(&block, slot->rx.ssrc, &slot->rx.seq);
    for (size_t i = 0; i < ep->n_rx; i++) {
        const struct stream *st = &ep->quality->s[i];
        if (ep->rx[i] != slot || st->lsr == 0)
            continue;
        /* LSR/DLSR (RFC 3550 §6.4.1): the sender's round-trip time, which
         * Janus sizes its retransmission buffer from. */
        uint64_t now = prism_bench_now_ns();
        block.lsr = st->lsr;
        block.dlsr = (uint32_t)((now - st->lsr_at_ns) * 65536u / 1000000000u);
    }
    int w = prism_rtcp_build_rr(buf, sizeof(buf), ep->rtcp_ssrc, &block, 1);
    if (w < 0)
        return w;
    memcpy(buf + w, fb, len);
    return prism_transport_send_rtcp(ep->sub, buf, (size_t)w + len);
}

static void send_nacks(struct prism_bench_endpoint *ep, struct prism_bench_quality *q,
                       struct prism_bench_rx_slot *slot, struct prism_bench_repair *r,
                       uint64_t now_ns)
{
    uint16_t seqs[NACK_SEQS];
    size_t n = prism_bench_repair_collect(r, now_ns, seqs, NACK_SEQS);
    if (n == 0)
        return;
    uint8_t buf[FEEDBACK_MAX];
    int w = prism_rtcp_build_nack(buf, sizeof(buf), ep->rtcp_ssrc, r->ssrc, seqs, n);
    if (w > 0 && prism_bench_quality_send_feedback(ep, slot, buf, (size_t)w) == 0) {
        q->nacks_sent++;
        q->seqs_nacked += n;
    }
}

void prism_bench_quality_rtp(struct prism_bench_endpoint *ep, uint8_t *pkt, size_t len,
                             uint64_t now_ns)
{
    struct prism_bench_quality *q = ep->quality;
    if (len < 12)
        return;
    uint32_t ssrc = prism_load_be32(pkt + 8);
    for (size_t i = 0; i < ep->n_rx; i++) {
        struct stream *st = &q->s[i];
        struct prism_bench_repair *r = st->repair;
        if (ep->rx[i]->rx.ssrc != ssrc && (r == NULL || r->rtx_ssrc == 0 || r->rtx_ssrc != ssrc))
            continue;
        struct delivery d = {ep, ep->rx[i], st};
        if (r == NULL) {
            if (ep->rx[i]->rx.packets > 0 && prism_bench_loss_drop(&q->loss)) {
                q->dropped_audio++;
                return;
            }
            deliver(&d, pkt, len, now_ns);
            return;
        }
        if (prism_bench_repair_started(r) && prism_bench_loss_drop(&q->loss)) {
            prism_bench_repair_dropped(r, pkt, len);
            return;
        }
        prism_bench_repair_packet(r, pkt, len, now_ns, deliver, &d);
        send_nacks(ep, q, ep->rx[i], r, now_ns);
        return;
    }
}

void prism_bench_quality_rtcp(struct prism_bench_endpoint *ep, const uint8_t *pkt, size_t len,
                              uint64_t now_ns)
{
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, pkt, len);
    while (prism_rtcp_next(&it, &item) == 0) {
        struct prism_rtcp_sender_info si;
        if (item.type != PRISM_RTCP_SR || prism_rtcp_parse_sr(&item, &si) != 0)
            continue;
        for (size_t i = 0; i < ep->n_rx; i++)
            if (ep->rx[i]->rx.ssrc == item.sender_ssrc) {
                ep->quality->s[i].lsr = (uint32_t)(si.ntp >> 16);
                ep->quality->s[i].lsr_at_ns = now_ns;
            }
    }
}

void prism_bench_quality_add(const struct prism_bench_quality *q, long i,
                             struct prism_bench_quality_totals *t)
{
    if (q == NULL)
        return;
    if (i < 0) {
        t->dropped_audio += q->dropped_audio;
        t->nacks_sent += q->nacks_sent;
        t->seqs_nacked += q->seqs_nacked;
    }
    for (size_t k = 0; k < PRISM_BENCH_MAX_RX; k++) {
        if ((i >= 0 && (size_t)i != k) || q->s[k].repair == NULL)
            continue;
        const struct prism_bench_repair *r = q->s[k].repair;
        t->video_streams++;
        t->dropped_video += r->dropped;
        t->dropped_rtx += r->dropped_rtx;
        t->recovered += r->recovered;
        t->late += r->late;
        t->rtx_received += r->rtx_received;
        t->given_up += r->given_up;
        t->freezes += q->s[k].freeze.freezes;
        t->freeze_ns += q->s[k].freeze.freeze_ns;
    }
}
