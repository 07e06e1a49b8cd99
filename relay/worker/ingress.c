/* Ingress: what a peer's transport hands the worker, authenticated and
 * decrypted, up to the router.
 *
 * The story of a publisher's RTP packet (on_rtp of its publish transport):
 * parse the header once, and in one pass the extensions this publisher
 * negotiated (mid, audio level, transport-wide seq, where the AV1
 * dependency descriptor is), into a struct prism_packet on the stack ->
 * record its transport-wide arrival -> find the track among this
 * publisher's own tracks (demux.h: by SSRC, else binding a track announced
 * without SSRC by mid, else by a payload type unique to its m-line) ->
 * receive statistics and audio level for feedback -> parse the VP8 or VP9
 * descriptor when the track forwards that codec, read the dependency
 * descriptor (AV1's; VP8's and VP9's when libwebrtc sends one) against its
 * stream's kept template structure (a key frame's replaces it), the RED blocks (RFC 2198) when it
 * is RED -> the router fans it out to the consumers. Every reader after the parse reads the
 * context; nothing rescans the packet (but a retransmission, restored in place, is parsed again).
 * Anything that goes nowhere is counted, never logged: a RED payload whose
 * blocks do not add up, or whose primary is not the track's Opus, as
 * malformed (no subscriber could play it), as is a packet whose
 * dependency descriptor is malformed (libwebrtc's receiver drops it too).
 * One whose descriptor names no template the relay knows (the key frame
 * with the structure was lost, or not seen yet) goes on with unknown
 * layers (svc.h), and the publisher is asked for a key frame.
 *
 * Uplink retransmission, for video whose publisher negotiated rtx: each
 * packet's seq feeds the track's NACK generator (feedback.h), whose gaps
 * publisher.c NACKs every 50 ms. A packet on the track's rtx SSRC with one
 * of its rtx payload types is unwrapped in place into the original (OSN
 * removed; seq, payload type and SSRC restored) and goes the same way as an
 * original, counted as recovered, unless that seq was already received
 * (then dropped: nothing is forwarded twice). Padding-only probes on the
 * rtx SSRC are consumed.
 *
 * A subscriber's RTCP (on_rtcp of its subscribe transport): each PLI or FIR
 * names the relay's SSRC of one of its own consumers; that consumer's
 * producer is the track to ask a keyframe of (throttled per track), within
 * a budget of items per subscriber per 100 ms (the rest dropped unread).
 * Each generic NACK entry names one the same way, within the same budget;
 * its lost packets are sent again from the track's history (router.c,
 * RFC 4588). Its transport-cc feedback and REMB feed its downlink estimate
 * (subscriber.c), within the same budget. A
 * publisher's RTCP (SR, SDES) is consumed: its reports come from us.
 *
 * Simulcast: a track has one stream per layer (pkt->layer), announced by
 * SSRC (a=ssrc-group:SIM) or bound by rid (demux.h), each with its rtx
 * stream. Each layer is a stream of its own for the uplink NACKs too: its
 * own NACK generator, fed its own seqs; a retransmission on a layer's rtx
 * SSRC is restored as that layer's packet (its SSRC, its seq space) and
 * goes on as one.
 */
#include <string.h>

#include "relay/base/bytes.h"
#include "relay/base/error.h"
#include "relay/wire/rtcp.h"
#include "relay/worker/demux.h"
#include "relay/worker/packet.h"
#include "relay/worker/room_internal.h"

/* A packet on an rtx SSRC of `tr` (of its stream pkt->layer, for
 * simulcast): a retransmission the relay asked for (or a bandwidth probe
 * made of one) is restored in place to the original packet of that stream
 * (RFC 4588 §4) and `pkt` re-parsed, its layer kept; true when it is to go
 * on as media. Padding-only probes, an OSN without media, a payload type
 * that is not one of the track's rtx types, a stream whose SSRC is not
 * known yet or a track the relay does not NACK: false, consumed (not
 * drops: the publisher meant them). */
static bool unwrap_rtx(struct peer *p, struct track *tr, struct prism_packet *pkt)
{
    uint32_t media_ssrc = track_ssrc(tr, pkt->layer);
    if (!track_nacks(tr) || media_ssrc == 0 || pkt->h.header_len == 0)
        return false;
    uint8_t apt = PRISM_PT_NONE;
    for (uint8_t i = 0; i < tr->d.n_rtx_pts && i < PRISM_MEDIA_MAX_RTX_PTS; i++)
        if (tr->d.rtx_pts[i].rtx_pt == pkt->h.payload_type)
            apt = tr->d.rtx_pts[i].pt;
    uint8_t *orig;
    uint16_t osn;
    if (apt == PRISM_PT_NONE ||
        prism_rtx_unwrap(pkt->data, &pkt->len, &pkt->h, apt, media_ssrc, &orig, &osn) != 0 ||
        prism_rtp_parse(orig, pkt->len, &pkt->h) != 0)
        return false;
    pkt->data = orig;
    pkt->ext = (struct prism_rtp_ext_values){0};
    (void)prism_rtp_read_exts(orig, &pkt->h, &p->ext_ids, &pkt->ext);
    return true;
}

/* Reads the place of `tr`'s packet `pkt` from its dependency descriptor
 * into it; false when the descriptor is malformed. */
static bool read_dd(struct track *tr, struct prism_packet *pkt)
{
    struct prism_av1dd_structure *st = &tr->dd[pkt->layer];
    struct prism_av1dd_frame f;
    int rc = prism_av1dd_read(pkt->data + pkt->ext.av1dd_off, pkt->ext.av1dd_len, st, &f);
    if (rc == PRISM_EINVAL)
        return false;
    pkt->has_dd = true;
    prism_svc_dd_place(st, &f, rc, &pkt->dd);
    if (rc != 0)
        prism__publisher_keyframe(tr, pkt->layer); /* for its structure (gated) */
    return true;
}

/* Reads the RED blocks of `pkt` into it; false when they do not add up or
 * the primary is not `opus_pt` (what a subscriber without red is sent). */
static bool parse_red(struct prism_packet *pkt, uint8_t opus_pt)
{
    struct prism_red_block blocks[PRISM_RED_MAX_BLOCKS];
    size_t n;
    if (pkt->h.header_len == 0 ||
        prism_red_parse(pkt->data + pkt->h.header_len, pkt->h.payload_len, blocks,
                        PRISM_RED_MAX_BLOCKS, &n) != 0 ||
        blocks[n - 1].pt != opus_pt)
        return false;
    pkt->has_red = true;
    pkt->red_primary = blocks[n - 1];
    return true;
}

void prism__ingress_rtp(void *ud, uint8_t *data, size_t len)
{
    struct link *l = ud;
    struct peer *p = l->peer;
    if (l->subscribe) {
        p->drop_no_route++; /* a subscriber sends no media */
        return;
    }
    struct prism_packet pkt = {.data = data, .len = len};
    if (prism_rtp_parse(data, len, &pkt.h) != 0) {
        /* Still routed by its SSRC, as it always was: the router copies it
         * whole and rewrites only the fixed header. */
        if (len < PRISM_RTP_HEADER_MIN) {
            p->drop_no_route++;
            return;
        }
        pkt.h = (struct prism_rtp_header){.seq = prism_load_be16(data + 2),
                                          .timestamp = prism_load_be32(data + 4),
                                          .ssrc = prism_load_be32(data + 8),
                                          .payload_type = data[1] & 0x7f};
    } else {
        (void)prism_rtp_read_exts(data, &pkt.h, &p->ext_ids, &pkt.ext);
    }
    uv_loop_t *loop = p->room->rooms->loop;
    /* The arrival in µs of uv_hrtime(): the loop's cached uv_now() has 1 ms
     * steps and is the same for a whole receive batch, while feedback
     * carries 250 µs ticks and the sender's delay estimator reads their
     * spread; a monotonic clock read (vDSO, tens of ns) is the price. */
    if (pkt.ext.has_transport_seq && p->tcc != NULL)
        prism_tcc_record(p->tcc, pkt.ext.transport_seq, (int64_t)(uv_hrtime() / 1000));
    size_t at = 0;
    struct prism_demux_tracks mine = {p->n_tracks > 0 ? &p->tracks[0].d : NULL, p->n_tracks,
                                      sizeof(p->tracks[0])};
    enum prism_demux_stream stream = prism_demux_find_layer(&mine, &pkt, &at, &pkt.layer);
    if (stream == PRISM_DEMUX_NONE)
        stream = prism_demux_find(&mine, &pkt, &at);
    if (stream == PRISM_DEMUX_NONE) {
        p->drop_no_route++;
        return;
    }
    struct track *tr = &p->tracks[at];
    bool repair = stream == PRISM_DEMUX_RTX;
    if (repair && !unwrap_rtx(p, tr, &pkt))
        return;
    pkt.now_ms = uv_now(loop);
    /* The relay's own gaps: a packet already forwarded goes no further (a
     * retransmission of one that arrived after all, a probe made of an old
     * packet); one that fills a gap is forwarded late, as reordered ones
     * always were, and the consumers place it by its seq. */
    struct prism_nack_gen *nack = track_nack(tr, pkt.layer);
    if (nack != NULL) {
        enum prism_nack_verdict v = prism_nack_gen_note(nack, pkt.h.seq, repair, pkt.now_ms);
        if (v == PRISM_NACK_DUPLICATE || (repair && v == PRISM_NACK_TOO_OLD))
            return;
        p->rtx_recovered += repair;
    }
    /* Receive statistics (and jitter) count what the publisher sent first;
     * a retransmission arrives a round trip late by design. */
    uint32_t clock_hz = tr->d.video ? 90000 : 48000;
    struct prism_rtp_seq_stats *stats =
        track_simulcast(tr) ? &tr->layers[pkt.layer].stats : &tr->stats;
    if (!repair)
        prism_rtp_seq_stats_update(stats, pkt.h.seq, pkt.h.timestamp,
                                   (uint32_t)(pkt.now_ms * (clock_hz / 1000)), NULL);
    if (tr->d.audio_level_ext_id != 0)
        prism_speaker_meter_note(&tr->meter, pkt.ext.has_audio_level, pkt.ext.voice,
                                 pkt.ext.level_dbov);
    if (tr->d.vp8_pt != PRISM_PT_NONE && pkt.h.payload_type == tr->d.vp8_pt &&
        pkt.h.header_len != 0)
        pkt.has_vp8 = prism_vp8_parse(data + pkt.h.header_len, pkt.h.payload_len, &pkt.vp8) == 0;
    if (tr->d.vp9_pt != PRISM_PT_NONE && pkt.h.payload_type == tr->d.vp9_pt &&
        pkt.h.header_len != 0)
        pkt.has_vp9 = prism_vp9_parse(data + pkt.h.header_len, pkt.h.payload_len, &pkt.vp9) == 0;
    if (track_dd(tr) && pkt.ext.has_av1dd && !read_dd(tr, &pkt)) {
        p->drop_malformed++;
        return;
    }
    if (tr->d.red_pt != PRISM_PT_NONE && pkt.h.payload_type == tr->d.red_pt &&
        !parse_red(&pkt, tr->d.opus_pt)) {
        p->drop_malformed++;
        return;
    }
    if (tr->producer != NULL)
        prism_router_forward(p->room->router, tr->producer, &pkt);
}

/* A subscriber's generic NACK (RFC 4585 §6.2.1) for the stream it knows as
 * item->media_ssrc: each lost sequence number is retransmitted from the
 * track's history when that consumer took rtx. Each FCI entry (up to 17
 * packets) spends one item of the subscriber's NACK budget, so a flood
 * of NACKs cannot make the relay look up without bound (and what it sends
 * back is paced: prism_router_retransmit). */
static void nack_from_subscriber(struct peer *sub, const struct prism_rtcp_item *item,
                                 uint64_t now_ms)
{
    size_t n = prism_rtcp_nack_count(item);
    struct prism_consumer *c = NULL;
    for (size_t i = 0; i < n; i++) {
        uint16_t pid, blp;
        if (!prism_keyframe_budget_take(&sub->nack_budget, now_ms) ||
            prism_rtcp_nack_entry(item, i, &pid, &blp) != 0)
            return;
        if (c == NULL && (c = prism_router_sub_find(&sub->out, item->media_ssrc)) == NULL)
            return;
        prism_router_retransmit(c, pid);
        for (unsigned b = 0; b < 16; b++)
            if (blp & (1u << b))
                prism_router_retransmit(c, (uint16_t)(pid + b + 1));
    }
}

/* A subscriber asked for a keyframe of the stream it knows as `ssrc`: an
 * O(its consumers) lookup among its own consumers, within its budget of
 * items per window (feedback.h), so a compound packet of hundreds of PLIs
 * costs a counter bump for each item past the budget, not a lookup. */
static void keyframe_for_subscriber(struct peer *sub, uint32_t ssrc, uint64_t now_ms)
{
    if (!prism_keyframe_budget_take(&sub->keyframe_budget, now_ms))
        return;
    struct prism_consumer *c = prism_router_sub_find(&sub->out, ssrc);
    if (c != NULL)
        prism__publisher_keyframe(prism_producer_owner(prism_consumer_producer(c)),
                                  prism_consumer_layer(c));
}

void prism__ingress_rtcp(void *ud, uint8_t *pkt, size_t len)
{
    struct link *l = ud;
    if (!l->subscribe)
        return; /* a publisher's SR/SDES: consumed (its receiver reports come from us) */
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    uint64_t now_ms = uv_now(l->peer->room->rooms->loop);
    prism_rtcp_iter_init(&it, pkt, len);
    while (prism_rtcp_next(&it, &item) == 0) {
        uint32_t ssrc;
        uint8_t seq_nr;
        if (prism_rtcp_nack_count(&item) > 0)
            nack_from_subscriber(l->peer, &item, now_ms);
        else if (prism_rtcp_is_pli(&item))
            keyframe_for_subscriber(l->peer, item.media_ssrc, now_ms);
        else if (prism_rtcp_fir_entry(&item, 0, &ssrc, &seq_nr) == 0)
            keyframe_for_subscriber(l->peer, ssrc, now_ms);
        else
            prism__subscriber_cc(l->peer, &item, now_ms);
    }
}
