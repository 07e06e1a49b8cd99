/* What the relay sends a publisher, on its publish transport: keyframe
 * requests (PLI, at most one per track every PRISM_KEYFRAME_GAP_MS),
 * receiver reports with a REMB under the tenant's cap (every second),
 * transport-cc feedback and generic NACKs for the relay's own gaps in its
 * video (every 50 ms).
 *
 * For simulcast (rid or SSRC), each layer is a stream of its own: its own
 * keyframe gate, report block and NACKs (for its SSRC, of its seqs).
 *
 * Policy and packet building are in feedback.c and relay/wire/; this file
 * only gathers a publisher's state and sends. Worker thread.
 *
 * Congestion feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01):
 * when a publisher's answer kept transport-cc, ingress records the
 * transport-wide seq and arrival of every packet on its publish transport
 * (rtx and padding probes too: the sender numbers them all and would count
 * the unreported ones as lost), and every 50 ms what is pending goes out.
 * Chromium runs its send-side estimator (GoogCC) on it. A tenant's REMB still
 * caps that: libwebrtc feeds REMB to its send-side estimation as the
 * receiver limit, a ceiling on the target whatever the delay-based estimate.
 */
#include "relay/worker/room_internal.h"

#define FEEDBACK_BYTES 1200      /* one transport-cc datagram: under any path MTU with SRTCP */
#define FEEDBACK_MAX_DATAGRAMS 4 /* per publisher per feedback tick */
#define NACK_MAX_SEQS 64         /* per track per feedback tick: 12 + 4 * 64 bytes at most */
#define REPORT_STREAMS 31        /* report blocks per receiver report */

static bool connected(const struct link *l)
{
    return l->t != NULL && prism_transport_status(l->t) == PRISM_TRANSPORT_CONNECTED;
}

void prism__publisher_keyframe(struct track *tr, uint8_t layer)
{
    struct peer *publisher = tr->peer;
    uint64_t now = uv_now(publisher->room->rooms->loop);
    bool sim = track_simulcast(tr) && layer < tr->d.n_layers && layer < PRISM_MEDIA_MAX_LAYERS;
    struct prism_keyframe_gate *gate = sim ? &tr->layers[layer].keyframe : &tr->keyframe;
    uint32_t ssrc = track_ssrc(tr, layer);
    /* A publisher not connected yet has not sent its first frame, which is
     * a keyframe: a PLI now could only be dropped (and counted as one). */
    if (!connected(&publisher->pub) || !tr->d.video || ssrc == 0 ||
        !prism_keyframe_gate_open(gate, now))
        return;
    uint8_t pli[PRISM_RTCP_PLI_BYTES];
    if (prism_rtcp_build_pli(pli, sizeof(pli), publisher->rtcp_ssrc, ssrc) > 0 &&
        prism_transport_send_rtcp(publisher->pub.t, pli, sizeof(pli)) == 0)
        prism_keyframe_gate_sent(gate, now);
}

void prism__subscriber_wants_keyframes(struct peer *sub)
{
    for (struct prism_consumer *c = sub->out.consumers; c != NULL; c = prism_consumer_next(c))
        if (!prism_consumer_paused(c)) /* a resume asks for its own */
            prism__publisher_keyframe(prism_producer_owner(prism_consumer_producer(c)),
                                      prism_consumer_layer(c));
}

void prism__publisher_report(struct peer *p)
{
    if (!connected(&p->pub))
        return;
    /* A block per stream: a track's, or each learned layer's of a simulcast
     * one; at most REPORT_STREAMS (a report block count is 5 bits). */
    struct prism_feedback_stream streams[REPORT_STREAMS];
    size_t n = 0;
    for (size_t i = 0; i < p->n_tracks && n < REPORT_STREAMS; i++) {
        struct track *tr = &p->tracks[i];
        if (!track_simulcast(tr))
            streams[n++] = (struct prism_feedback_stream){tr->d.ssrc, &tr->stats};
        for (uint8_t l = 0; track_simulcast(tr) && l < tr->d.n_layers && n < REPORT_STREAMS; l++)
            if (tr->d.layer_ssrcs[l] != 0)
                streams[n++] =
                    (struct prism_feedback_stream){tr->d.layer_ssrcs[l], &tr->layers[l].stats};
    }
    uint8_t buf[PRISM_FEEDBACK_REPORT_MAX(REPORT_STREAMS)];
    int len = prism_feedback_build_report(buf, sizeof(buf), p->rtcp_ssrc, streams, n, p->max_kbps);
    if (len > 0)
        prism_transport_send_rtcp(p->pub.t, buf, (size_t)len);
}

/* Media SSRC: its first video track's (its first layer's for
 * simulcast), as libwebrtc puts one of the reported streams there; Chromium
 * ignored feedback naming SSRC 0. A few datagrams at most; the rest waits
 * for the next tick. */
void prism__publisher_tcc(struct peer *p)
{
    if (p->tcc == NULL || !prism_tcc_pending(p->tcc) || !connected(&p->pub))
        return;
    uint32_t media_ssrc = 0;
    for (size_t i = 0; i < p->n_tracks && media_ssrc == 0; i++) {
        const struct track *tr = &p->tracks[i];
        if (tr->d.video)
            media_ssrc = track_ssrc(tr, 0);
    }
    uint8_t buf[FEEDBACK_BYTES];
    for (int i = 0; i < FEEDBACK_MAX_DATAGRAMS; i++) {
        int len = prism_tcc_build(p->tcc, p->rtcp_ssrc, media_ssrc, buf, sizeof(buf));
        if (len <= 0 || prism_transport_send_rtcp(p->pub.t, buf, (size_t)len) != 0)
            return;
    }
}

/* Uplink retransmission (RFC 4585 §6.2.1, RFC 4588): the seqs the NACK
 * generator (feedback.h) of each stream says are due, in one generic NACK
 * per stream naming that stream's SSRC: a track's, or each simulcast
 * layer's (each numbers its own seqs). The publisher answers with RTX on
 * the stream's rtx SSRC, which ingress unwraps into that stream. */
void prism__publisher_nack_build(struct peer *p, uint64_t now_ms, prism__rtcp_out_cb out, void *ud)
{
    for (size_t i = 0; i < p->n_tracks; i++) {
        struct track *tr = &p->tracks[i];
        uint8_t streams = track_simulcast(tr) ? tr->d.n_layers : 1;
        for (uint8_t l = 0; l < streams; l++) {
            struct prism_nack_gen *nack = track_nack(tr, l);
            uint32_t ssrc = track_ssrc(tr, l);
            if (nack == NULL || ssrc == 0 || nack->n_miss == 0)
                continue;
            uint16_t seqs[NACK_MAX_SEQS];
            size_t n = prism_nack_gen_collect(nack, now_ms, seqs, NACK_MAX_SEQS);
            if (n == 0)
                continue;
            uint8_t buf[PRISM_RTCP_HEADER_BYTES + 8 + 4 * NACK_MAX_SEQS];
            int len = prism_rtcp_build_nack(buf, sizeof(buf), p->rtcp_ssrc, ssrc, seqs, n);
            if (len > 0 && out(ud, buf, (size_t)len) == 0)
                p->rtx_nacks_sent += n;
        }
    }
}

static int send_to_publisher(void *ud, const uint8_t *buf, size_t len)
{
    struct peer *p = ud;
    return prism_transport_send_rtcp(p->pub.t, buf, len);
}

void prism__publisher_nack(struct peer *p)
{
    if (connected(&p->pub))
        prism__publisher_nack_build(p, uv_now(p->room->rooms->loop), send_to_publisher, p);
}
