/* prism-bench: one synthetic participant (see endpoint.h).
 *
 * The signalling story of an endpoint, each step a reply callback:
 *   join -> peer.join
 *        -> [publisher] gather the publish transport -> peer.publish(offer)
 *           -> answer: relay's ICE credentials, fingerprint, candidates
 *           -> ICE + DTLS -> CONNECTED: senders start
 *        -> peer.subscribe -> {offer, revision}: receivers from the offer,
 *           subscribe transport set to the relay's side, gathered
 *           -> peer.answer(our answer, revision) -> media arrives
 *   peer.offer events: new receivers, same transport, peer.answer again.
 * Anything that fails marks the endpoint FAILED with a reason; the scenario
 * reports it.
 */
#include "bench/endpoint.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include "relay/base/bytes.h"
#include "relay/base/error.h"
#include "relay/wire/rtcp.h"
#include "relay/wire/rtp.h"

#define PLI_GAP_NS 200000000u /* at most one PLI per stream per 200 ms */

static const char uri_abs_send_time[] =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    while (v == 0)
        if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
            v = (uint32_t)rand() | 1u;
    return v;
}

static void fail(struct prism_bench_endpoint *ep, const char *what, const char *detail)
{
    if (ep->state == PRISM_BENCH_EP_FAILED || ep->state == PRISM_BENCH_EP_LEFT)
        return;
    ep->state = PRISM_BENCH_EP_FAILED;
    snprintf(ep->error, sizeof(ep->error), "%s/%s: %s%s%s", ep->bubble, ep->peer, what,
             detail ? ": " : "", detail ? detail : "");
}

static json_t *peer_params(const struct prism_bench_endpoint *ep)
{
    return json_pack("{s:s, s:s, s:s}", "tenant", ep->site->tenant, "bubble", ep->bubble, "peer",
                     ep->peer);
}

static const char *error_text(json_t *error)
{
    const char *m = json_string_value(json_object_get(error, "message"));
    return m != NULL ? m : "connection closed";
}

static void maybe_ready(struct prism_bench_endpoint *ep)
{
    if (ep->state == PRISM_BENCH_EP_JOINING && ep->answered_revision != 0 &&
        (!ep->publish || ep->pub_connected_ns != 0 || ep->sending)) {
        ep->state = PRISM_BENCH_EP_READY;
        ep->ready_ns = prism_bench_now_ns();
    }
}

/* --- media callbacks -------------------------------------------------------- */

static void send_on_pub(void *ud, const uint8_t *pkt, size_t len)
{
    struct prism_bench_endpoint *ep = ud;
    const struct prism_bench_signaller *sig = ep->site->signaller;
    if (sig != NULL && sig->sent != NULL) /* bench/janus.h */
        sig->sent(sig->ud, ep, pkt, len);
    (void)prism_transport_send_rtp(ep->pub, pkt, len);
}

static void on_pub_rtp(void *ud, uint8_t *pkt, size_t len)
{
    (void)ud;
    (void)pkt;
    (void)len;
}

/* The relay's RTCP toward a publisher: PLI/FIR ask for a key frame. */
static void on_pub_rtcp(void *ud, uint8_t *pkt, size_t len)
{
    struct prism_bench_endpoint *ep = ud;
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, pkt, len);
    while (prism_rtcp_next(&it, &item) == 0) {
        uint32_t ssrc = 0;
        uint8_t seq_nr;
        if (prism_rtcp_is_pli(&item))
            ssrc = item.media_ssrc;
        else if (prism_rtcp_fir_entry(&item, 0, &ssrc, &seq_nr) != 0)
            ssrc = 0;
        if (ssrc != 0 && ep->video != NULL && ssrc == ep->tx_video.ssrc)
            prism_bench_tx_keyframe(&ep->tx_video);
    }
}

static struct prism_bench_rx_slot *find_rx(struct prism_bench_endpoint *ep, uint32_t ssrc);

/* An endpoint that does not verify (bench/sample.h): every SRTP packet is
 * accounted from its clear header here, and one in verify_sample per stream
 * goes on to be authenticated (then on_sub_rtp only counts it). Anything
 * else (unknown SSRC, unreadable header) takes the full path, which drops
 * or ignores it as it always did. */
static bool on_sub_peek(void *ud, const uint8_t *pkt, size_t len)
{
    struct prism_bench_endpoint *ep = ud;
    struct prism_bench_rx_slot *s = len >= 12 ? find_rx(ep, prism_load_be32(pkt + 8)) : NULL;
    if (s == NULL || prism_bench_rx_header(&s->rx, pkt, len, prism_bench_now_ns()) != 0)
        return true;
    return prism_bench_sampler_take(&s->auth);
}

void prism_bench_endpoint_deliver(struct prism_bench_endpoint *ep, struct prism_bench_rx_slot *s,
                                  const uint8_t *pkt, size_t len, uint64_t now)
{
    prism_bench_rx_packet(&s->rx, pkt, len, now);
    const struct prism_bench_signaller *sig = ep->site->signaller;
    if (sig != NULL && sig->received != NULL) /* bench/janus.h */
        sig->received(sig->ud, ep, s, pkt, len, now);
    if (s->rx.pli_due && now - s->last_pli_ns >= PLI_GAP_NS) {
        uint8_t pli[PRISM_RTCP_PLI_BYTES];
        /* --loss: a receiver report first, as a browser does (quality.h) */
        if (prism_rtcp_build_pli(pli, sizeof(pli), ep->rtcp_ssrc, s->rx.ssrc) > 0 &&
            (ep->quality != NULL ? prism_bench_quality_send_feedback(ep, s, pli, sizeof(pli))
                                 : prism_transport_send_rtcp(ep->sub, pli, sizeof(pli))) == 0) {
            s->last_pli_ns = now;
            s->rx.pli_due = false;
        }
    }
}

static void on_sub_rtp(void *ud, uint8_t *pkt, size_t len)
{
    struct prism_bench_endpoint *ep = ud;
    if (len < 12)
        return;
    if (ep->quality != NULL) { /* --loss: the lossy downlink (bench/quality.h) */
        prism_bench_quality_rtp(ep, pkt, len, prism_bench_now_ns());
        return;
    }
    uint32_t ssrc = prism_load_be32(pkt + 8);
    for (size_t i = 0; i < ep->n_rx; i++) {
        struct prism_bench_rx_slot *s = ep->rx[i];
        if (s->rx.ssrc != ssrc)
            continue;
        if (!ep->verify) { /* a sample, already accounted by on_sub_peek */
            s->authenticated++;
            return;
        }
        prism_bench_endpoint_deliver(ep, s, pkt, len, prism_bench_now_ns());
        return;
    }
}

static void on_sub_rtcp(void *ud, uint8_t *pkt, size_t len)
{
    struct prism_bench_endpoint *ep = ud;
    if (ep->quality != NULL) /* --loss: sender reports (bench/quality.h) */
        prism_bench_quality_rtcp(ep, pkt, len, prism_bench_now_ns());
}

static void on_pub_status(void *ud, enum prism_transport_state st, const char *reason)
{
    struct prism_bench_endpoint *ep = ud;
    if (st == PRISM_TRANSPORT_CONNECTED) {
        ep->pub_connected_ns = prism_bench_now_ns();
        ep->sending = true;
        uint64_t now = ep->pub_connected_ns;
        const struct prism_bench_endpoint *s = ep;
        /* Spread publishers over a frame interval so they do not all burst
         * in the same tick. */
        if (s->audio != NULL)
            ep->tx_audio.next_ns = now + (uint64_t)rand() % s->audio->interval_ns;
        if (s->video != NULL)
            ep->tx_video.next_ns = now + (uint64_t)rand() % s->video->interval_ns;
        maybe_ready(ep);
    } else if (st == PRISM_TRANSPORT_FAILED || st == PRISM_TRANSPORT_CLOSED) {
        ep->sending = false;
        fail(ep, "publish transport", reason);
    }
}

static void on_sub_status(void *ud, enum prism_transport_state st, const char *reason)
{
    struct prism_bench_endpoint *ep = ud;
    if (st == PRISM_TRANSPORT_CONNECTED)
        ep->sub_connected_ns = prism_bench_now_ns();
    else if (st == PRISM_TRANSPORT_FAILED || st == PRISM_TRANSPORT_CLOSED)
        fail(ep, "subscribe transport", reason);
}

static void on_pub_candidate(void *ud, const char *c)
{
    struct prism_bench_endpoint *ep = ud;
    if (ep->n_pub_cands < PRISM_SDP_MAX_CAND)
        snprintf(ep->pub_cands[ep->n_pub_cands++], PRISM_SDP_CAND_LEN, "%s", c);
}

static void on_sub_candidate(void *ud, const char *c)
{
    struct prism_bench_endpoint *ep = ud;
    if (ep->n_sub_cands < PRISM_SDP_MAX_CAND)
        snprintf(ep->sub_cands[ep->n_sub_cands++], PRISM_SDP_CAND_LEN, "%s", c);
}

static void on_pub_gathered(void *ud);
static void on_sub_gathered(void *ud);

static const struct prism_transport_callbacks pub_cb = {
    .on_rtp = on_pub_rtp,
    .on_rtcp = on_pub_rtcp,
    .on_status = on_pub_status,
    .on_candidate = on_pub_candidate,
    .on_gathering_done = on_pub_gathered,
};

static const struct prism_transport_callbacks sub_cb = {
    .on_rtp = on_sub_rtp,
    .on_rtcp = on_sub_rtcp,
    .on_status = on_sub_status,
    .on_candidate = on_sub_candidate,
    .on_gathering_done = on_sub_gathered,
};

/* An endpoint that does not verify everything (bench/sample.h). */
static const struct prism_transport_callbacks sub_sampled_cb = {
    .on_rtp = on_sub_rtp,
    .on_srtp_peek = on_sub_peek,
    .on_rtcp = on_sub_rtcp,
    .on_status = on_sub_status,
    .on_candidate = on_sub_candidate,
    .on_gathering_done = on_sub_gathered,
};

/* The bench decodes on the same thread that reads: while it decodes a burst
 * of key frames (every publisher answers a new subscriber's PLI at once), the
 * relay's forwarded bursts queue in our sockets, and the kernel's default
 * 208 KiB drops them, which would be charged to the relay as loss. libnice
 * owns the sockets and does not expose them, so every UDP socket of this
 * process still below RCVBUF_BYTES is enlarged after each gathering (root
 * may exceed rmem_max with SO_RCVBUFFORCE). O(open fds), control path only.
 */
#define RCVBUF_BYTES (4 << 20)

static void enlarge_udp_buffers(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd < 0 || fd == dirfd(d))
            continue;
        int type = 0, size = 0;
        socklen_t len = sizeof(type);
        if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
            continue;
        len = sizeof(size);
        if (getsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &size, &len) != 0 || size >= RCVBUF_BYTES)
            continue;
        int want = RCVBUF_BYTES;
        if (setsockopt((int)fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
            (void)setsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    }
    closedir(d);
}

static int open_transport(struct prism_bench_endpoint *ep, bool controlling,
                          const struct prism_transport_callbacks *cb, struct prism_transport **out)
{
    const char *addrs[1] = {ep->site->local_ip};
    struct prism_transport_config tc = {
        .ice = {.local_addrs = addrs, .n_local_addrs = 1, .controlling = controlling},
        .dtls_ctx = ep->site->dtls_ctx,
        .dtls_role = PRISM_DTLS_CLIENT,
        .egress = ep->site->egress,
    };
    return prism_transport_new(ep->site->loop, &tc, cb, ep, out);
}

static void local_sdp(struct prism_bench_endpoint *ep, struct prism_transport *t,
                      char (*cands)[PRISM_SDP_CAND_LEN], size_t n_cands, const char **cand_ptrs,
                      uint64_t version, struct prism_sdp_local *out)
{
    for (size_t i = 0; i < n_cands; i++)
        cand_ptrs[i] = cands[i];
    *out = (struct prism_sdp_local){
        .fingerprint = ep->site->fingerprint,
        .candidates = cand_ptrs,
        .n_candidates = n_cands,
        .end_of_candidates = true,
        .session_id = (uint64_t)random_u32() << 20,
        .session_version = version,
    };
    prism_transport_local_credentials(t, &out->ice_ufrag, &out->ice_pwd);
}

/* --- publish ------------------------------------------------------------------ */

/* The transport attributes of the relay's answer: ICE credentials,
 * fingerprint and candidates of its first bundled m-section (the relay
 * writes candidates there only). The bench's own small reader:
 * prism_sdp_parse_answer() reads client answers (setup:active) only. */
static int apply_relay_answer(struct prism_bench_endpoint *ep, const char *sdp)
{
    char ufrag[PRISM_SDP_ICE_LEN] = "", pwd[PRISM_SDP_ICE_LEN] = "",
         fpr[PRISM_SDP_FPR_LEN + 8] = "";
    char(*cands)[PRISM_SDP_CAND_LEN] = calloc(PRISM_SDP_MAX_CAND, PRISM_SDP_CAND_LEN);
    size_t n = 0;
    bool eoc = false;
    if (cands == NULL)
        return PRISM_ENOMEM;
    for (const char *p = sdp; *p != '\0';) {
        const char *e = strchr(p, '\n');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        size_t l = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
        struct {
            const char *prefix;
            char *dst;
            size_t cap;
        } fields[] = {
            {"a=ice-ufrag:", ufrag, sizeof(ufrag)},
            {"a=ice-pwd:", pwd, sizeof(pwd)},
            {"a=fingerprint:", fpr, sizeof(fpr)},
        };
        for (size_t f = 0; f < 3; f++) {
            size_t pl = strlen(fields[f].prefix);
            if (fields[f].dst[0] == '\0' && l > pl && strncmp(p, fields[f].prefix, pl) == 0 &&
                l - pl < fields[f].cap) {
                memcpy(fields[f].dst, p + pl, l - pl);
                fields[f].dst[l - pl] = '\0';
            }
        }
        if (l > 12 && strncmp(p, "a=candidate:", 12) == 0 && n < PRISM_SDP_MAX_CAND &&
            l - 2 < PRISM_SDP_CAND_LEN) {
            memcpy(cands[n], p + 2, l - 2);
            cands[n++][l - 2] = '\0';
        }
        if (l == 20 && strncmp(p, "a=end-of-candidates", 19) == 0)
            eoc = true;
        p += len + (e != NULL ? 1 : 0);
    }
    int r = ufrag[0] && pwd[0] && fpr[0] ? prism_transport_set_remote(ep->pub, ufrag, pwd, fpr)
                                         : PRISM_EBADSDP;
    for (size_t i = 0; r == 0 && i < n; i++)
        (void)prism_transport_add_remote_candidate(ep->pub, cands[i]);
    if (r == 0) { /* for bench/attack.c, which aims where the relay answers */
        snprintf(ep->relay_ufrag, sizeof(ep->relay_ufrag), "%s", ufrag);
        snprintf(ep->relay_cand, sizeof(ep->relay_cand), "%s", n > 0 ? cands[0] : "");
    }
    if (r == 0 && eoc)
        (void)prism_transport_add_remote_candidate(ep->pub, NULL);
    free(cands);
    return r;
}

static void on_published(void *ud, json_t *result, json_t *error)
{
    struct prism_bench_endpoint *ep = ud;
    if (ep->state != PRISM_BENCH_EP_JOINING)
        return;
    const char *answer = json_string_value(json_object_get(result, "answer"));
    if (answer == NULL) {
        ep->site->rpc_errors++;
        fail(ep, "peer.publish", error_text(error));
        return;
    }
    int r = apply_relay_answer(ep, answer);
    if (r != 0)
        fail(ep, "publish answer", prism_error_str(r));
}

static void fill_track(struct prism_sdp_track *t, const struct prism_bench_endpoint *ep, bool video,
                       uint32_t ssrc)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->mid, sizeof(t->mid), "%d", video ? 1 : 0);
    t->kind = video ? PRISM_SDP_KIND_VIDEO : PRISM_SDP_KIND_AUDIO;
    t->state = PRISM_SDP_TRACK_SEND;
    snprintf(t->peer_id, sizeof(t->peer_id), "%s", ep->peer);
    snprintf(t->track_id, sizeof(t->track_id), "%s-%.60s", video ? "v" : "a", ep->peer);
    t->n_pts = 1;
    if (video)
        t->pts[0] = (struct prism_sdp_payload){.pt = PRISM_BENCH_PT_VP8,
                                               .name = "VP8",
                                               .clock_hz = 90000,
                                               .channels = 1,
                                               .fb = PRISM_SDP_FB_NACK_PLI | PRISM_SDP_FB_CCM_FIR,
                                               .apt = -1};
    if (video && ep->site->quality != NULL) {
        /* --loss: offer nack and rtx, as a browser does, so that the SFU
         * offers them to the subscribers in turn (the relay and Janus
         * retransmit toward a subscriber only under a negotiated rtx). This
         * publisher never loses anything: it ignores NACKs. */
        t->pts[0].fb |= PRISM_SDP_FB_NACK;
        t->pts[t->n_pts++] = (struct prism_sdp_payload){.pt = PRISM_BENCH_PT_VP8_RTX,
                                                        .name = "rtx",
                                                        .clock_hz = 90000,
                                                        .channels = 1,
                                                        .apt = PRISM_BENCH_PT_VP8};
    }
    if (!video)
        t->pts[0] = (struct prism_sdp_payload){.pt = PRISM_BENCH_PT_OPUS,
                                               .name = "opus",
                                               .clock_hz = 48000,
                                               .channels = 2,
                                               .fmtp = "minptime=10;useinbandfec=1",
                                               .apt = -1};
    t->n_exts = 1;
    t->exts[0].id = PRISM_BENCH_EXT_ABS_SEND_TIME;
    t->exts[0].uri = uri_abs_send_time;
    t->ssrc = ssrc;
}

static void on_pub_gathered(void *ud)
{
    struct prism_bench_endpoint *ep = ud;
    if (ep->state != PRISM_BENCH_EP_JOINING)
        return;
    struct prism_sdp_track tracks[2];
    size_t n = 0;
    if (ep->audio != NULL)
        fill_track(&tracks[n++], ep, false, ep->tx_audio.ssrc);
    if (ep->video != NULL)
        fill_track(&tracks[n++], ep, true, ep->tx_video.ssrc);
    const char *cands[PRISM_SDP_MAX_CAND];
    struct prism_sdp_local local;
    local_sdp(ep, ep->pub, ep->pub_cands, ep->n_pub_cands, cands, 1, &local);
    char *offer = malloc(PRISM_SDP_MAX_BYTES);
    size_t len;
    int r = offer != NULL
                ? prism_sdp_write_offer(&local, tracks, n, offer, PRISM_SDP_MAX_BYTES, &len)
                : PRISM_ENOMEM;
    if (r != 0) {
        free(offer);
        fail(ep, "publish offer", prism_error_str(r));
        return;
    }
    if (ep->site->signaller != NULL) { /* bench/janus.h */
        ep->site->signaller->publish(ep->site->signaller->ud, ep, offer);
        free(offer);
        return;
    }
    json_t *params = peer_params(ep);
    json_object_set_new(params, "offer", json_string(offer));
    free(offer);
    prism_bench_rpc_call(ep->site->rpc, "peer.publish", params, on_published, ep);
}

static void start_publish(struct prism_bench_endpoint *ep)
{
    ep->publish_req_ns = prism_bench_now_ns();
    const struct prism_bench_endpoint *s = ep;
    if (s->audio != NULL)
        prism_bench_tx_init(&ep->tx_audio, s->audio, random_u32(), PRISM_BENCH_PT_OPUS, UINT64_MAX);
    if (s->video != NULL)
        prism_bench_tx_init(&ep->tx_video, s->video, random_u32(), PRISM_BENCH_PT_VP8, UINT64_MAX);
    int r = open_transport(ep, true, &pub_cb, &ep->pub);
    if (r == 0)
        r = prism_transport_gather(ep->pub);
    if (r == 0)
        enlarge_udp_buffers();
    if (r != 0)
        fail(ep, "publish transport", prism_error_str(r));
}

/* --- subscribe ---------------------------------------------------------------- */

static struct prism_bench_rx_slot *find_rx(struct prism_bench_endpoint *ep, uint32_t ssrc)
{
    for (size_t i = 0; i < ep->n_rx; i++)
        if (ep->rx[i]->rx.ssrc == ssrc)
            return ep->rx[i];
    return NULL;
}

/* Receivers for every sending m-line of the offer; removed lines keep
 * their receivers (and statistics) but are marked. */
static void update_receivers(struct prism_bench_endpoint *ep, const struct prism_sdp_session *s)
{
    for (size_t i = 0; i < ep->n_rx; i++)
        ep->rx[i]->removed = true;
    for (size_t m = 0; m < s->n_media; m++) {
        const struct prism_sdp_media *sec = &s->media[m];
        if (!sec->accepted || sec->dir != PRISM_SDP_DIR_SENDONLY || sec->n_ssrcs == 0)
            continue;
        uint32_t ssrc = sec->ssrcs[0].ssrc;
        struct prism_bench_rx_slot *slot = find_rx(ep, ssrc);
        if (slot != NULL) {
            slot->removed = false;
            continue;
        }
        if (ep->n_rx == PRISM_BENCH_MAX_RX)
            continue;
        slot = calloc(1, sizeof(*slot));
        if (slot == NULL ||
            prism_bench_rx_init(&slot->rx, sec->kind == PRISM_SDP_KIND_VIDEO, ssrc) != 0) {
            free(slot);
            fail(ep, "receiver", "out of memory");
            return;
        }
        snprintf(slot->publisher, sizeof(slot->publisher), "%s", sec->msid_stream);
        prism_bench_sampler_init(&slot->auth, ep->site->verify_sample);
        if (slot->rx.video) {
            slot->rx.decode = ep->verify && ep->n_video_decoders < ep->site->max_video_decoders;
            ep->n_video_decoders += slot->rx.decode;
        }
        if (ep->quality != NULL &&
            prism_bench_quality_stream(ep->quality, ep->n_rx, slot->rx.video, sec) != 0) {
            prism_bench_rx_deinit(&slot->rx);
            free(slot);
            fail(ep, "receiver", "out of memory");
            return;
        }
        ep->rx[ep->n_rx++] = slot;
    }
}

static void on_answered(void *ud, json_t *result, json_t *error)
{
    struct prism_bench_endpoint *ep = ud;
    if (result == NULL) {
        ep->site->rpc_errors++;
        fail(ep, "peer.answer", error_text(error));
        return;
    }
    maybe_ready(ep);
}

/* Answers `s` (revision `rev`) on the gathered subscribe transport. */
static void answer_offer(struct prism_bench_endpoint *ep, const struct prism_sdp_session *s,
                         uint64_t rev)
{
    if (!ep->sub_remote_set) {
        char fpr[PRISM_SDP_FPR_LEN + 16];
        snprintf(fpr, sizeof(fpr), "%s %s", s->fpr_hash, s->fpr_value);
        int r = prism_transport_set_remote(ep->sub, s->ice_ufrag, s->ice_pwd, fpr);
        for (size_t i = 0; r == 0 && i < s->n_candidates; i++)
            (void)prism_transport_add_remote_candidate(ep->sub, s->candidates[i]);
        if (r == 0 && s->end_of_candidates)
            (void)prism_transport_add_remote_candidate(ep->sub, NULL);
        if (r != 0) {
            fail(ep, "subscribe transport", prism_error_str(r));
            return;
        }
        ep->sub_remote_set = true;
    }
    update_receivers(ep, s);
    const char *cands[PRISM_SDP_MAX_CAND];
    struct prism_sdp_local local;
    local_sdp(ep, ep->sub, ep->sub_cands, ep->n_sub_cands, cands, rev, &local);
    char *answer = malloc(PRISM_SDP_MAX_BYTES);
    size_t len;
    int r = answer != NULL
                ? prism_sdp_write_client_answer(s, &local, answer, PRISM_SDP_MAX_BYTES, &len)
                : PRISM_ENOMEM;
    if (r != 0) {
        free(answer);
        fail(ep, "subscribe answer", prism_error_str(r));
        return;
    }
    if (ep->site->signaller != NULL) { /* bench/janus.h */
        ep->answered_revision = rev;
        ep->offers++;
        ep->site->signaller->answer(ep->site->signaller->ud, ep, answer);
        free(answer);
        return;
    }
    json_t *params = peer_params(ep);
    json_object_set_new(params, "answer", json_string(answer));
    json_object_set_new(params, "revision", json_integer((json_int_t)rev));
    free(answer);
    ep->answered_revision = rev;
    ep->offers++;
    prism_bench_rpc_call(ep->site->rpc, "peer.answer", params, on_answered, ep);
}

static void on_sub_gathered(void *ud)
{
    struct prism_bench_endpoint *ep = ud;
    ep->sub_gathered = true;
    if (ep->held_offer != NULL) {
        struct prism_sdp_session *s = ep->held_offer;
        ep->held_offer = NULL;
        answer_offer(ep, s, ep->held_revision);
        prism_sdp_session_free(s);
    }
}

/* Parses an offer of the relay and answers it now, or once gathered. */
static void take_offer(struct prism_bench_endpoint *ep, const char *offer, uint64_t rev)
{
    struct prism_sdp_session *s = NULL;
    char reason[PRISM_SDP_REASON_LEN] = "";
    int r = prism_sdp_parse_offer(offer, strlen(offer), &s, reason, sizeof(reason));
    if (r != 0) {
        fail(ep, "relay offer", reason[0] ? reason : prism_error_str(r));
        return;
    }
    if (ep->sub == NULL) {
        /* Facing an ICE-lite relay the full agent controls, offerer or not
         * (RFC 8445 §6.1.1): no 487 round trip to learn it. */
        bool lite = strstr(offer, "\na=ice-lite\r\n") != NULL;
        r = open_transport(ep, lite, ep->verify ? &sub_cb : &sub_sampled_cb, &ep->sub);
        if (r == 0)
            r = prism_transport_gather(ep->sub);
        if (r == 0)
            enlarge_udp_buffers();
        if (r != 0) {
            prism_sdp_session_free(s);
            fail(ep, "subscribe transport", prism_error_str(r));
            return;
        }
    }
    if (!ep->sub_gathered) {
        prism_sdp_session_free(ep->held_offer); /* a newer revision replaces one not answered yet */
        ep->held_offer = s;
        ep->held_revision = rev;
        return;
    }
    answer_offer(ep, s, rev);
    prism_sdp_session_free(s);
}

static void on_subscribed(void *ud, json_t *result, json_t *error)
{
    struct prism_bench_endpoint *ep = ud;
    if (ep->state != PRISM_BENCH_EP_JOINING)
        return;
    const char *offer = json_string_value(json_object_get(result, "offer"));
    json_t *rev = json_object_get(result, "revision");
    if (offer == NULL || !json_is_integer(rev)) {
        ep->site->rpc_errors++;
        fail(ep, "peer.subscribe", error_text(error));
        return;
    }
    take_offer(ep, offer, (uint64_t)json_integer_value(rev));
}

void prism_bench_endpoint_on_offer(struct prism_bench_endpoint *ep, const char *offer,
                                   uint64_t revision)
{
    if (ep->state == PRISM_BENCH_EP_FAILED || ep->state == PRISM_BENCH_EP_LEFT)
        return;
    take_offer(ep, offer, revision);
}

/* --- lifecycle ------------------------------------------------------------------ */

static void on_joined(void *ud, json_t *result, json_t *error)
{
    struct prism_bench_endpoint *ep = ud;
    if (result == NULL) {
        ep->site->rpc_errors++;
        fail(ep, "peer.join", error_text(error));
        return;
    }
    if (ep->publish)
        start_publish(ep);
    if (ep->state == PRISM_BENCH_EP_JOINING)
        prism_bench_rpc_call(ep->site->rpc, "peer.subscribe", peer_params(ep), on_subscribed, ep);
}

int prism_bench_endpoint_new(struct prism_bench_site *site, const char *bubble, const char *peer,
                             const struct prism_bench_clip *audio,
                             const struct prism_bench_clip *video,
                             struct prism_bench_endpoint **out)
{
    struct prism_bench_endpoint *ep = calloc(1, sizeof(*ep));
    if (ep == NULL)
        return PRISM_ENOMEM;
    ep->pub_cands = calloc(PRISM_SDP_MAX_CAND, PRISM_SDP_CAND_LEN);
    ep->sub_cands = calloc(PRISM_SDP_MAX_CAND, PRISM_SDP_CAND_LEN);
    if (ep->pub_cands == NULL || ep->sub_cands == NULL) {
        free(ep->pub_cands);
        free(ep->sub_cands);
        free(ep);
        return PRISM_ENOMEM;
    }
    ep->site = site;
    snprintf(ep->bubble, sizeof(ep->bubble), "%s", bubble);
    snprintf(ep->peer, sizeof(ep->peer), "%s", peer);
    ep->audio = audio;
    ep->video = video;
    ep->publish = audio != NULL || video != NULL;
    ep->verify = true;
    ep->rtcp_ssrc = random_u32();
    if (site->quality != NULL) {
        char name[2 * PRISM_BENCH_ID_LEN + 2];
        snprintf(name, sizeof(name), "%s/%s", bubble, peer);
        if (prism_bench_quality_new(site->quality, name, &ep->quality) != 0) {
            free(ep->pub_cands);
            free(ep->sub_cands);
            free(ep);
            return PRISM_ENOMEM;
        }
    }
    *out = ep;
    return 0;
}

void prism_bench_endpoint_join(struct prism_bench_endpoint *ep)
{
    ep->state = PRISM_BENCH_EP_JOINING;
    ep->join_req_ns = prism_bench_now_ns();
    if (ep->site->signaller != NULL) { /* bench/janus.h */
        ep->site->signaller->join(ep->site->signaller->ud, ep);
        return;
    }
    json_t *params = peer_params(ep);
    json_object_set_new(params, "publish", json_boolean(ep->publish));
    prism_bench_rpc_call(ep->site->rpc, "peer.join", params, on_joined, ep);
}

void prism_bench_endpoint_tick(struct prism_bench_endpoint *ep, uint64_t now_ns)
{
    if (!ep->sending)
        return;
    if (ep->audio != NULL)
        prism_bench_tx_run(&ep->tx_audio, now_ns, send_on_pub, ep);
    if (ep->video != NULL)
        prism_bench_tx_run(&ep->tx_video, now_ns, send_on_pub, ep);
}

void prism_bench_endpoint_stop_sending(struct prism_bench_endpoint *ep)
{
    ep->sending = false;
}

static void on_transport_closed(void *ud)
{
    struct prism_bench_endpoint *ep = ud;
    if (--ep->pending_closes == 0 && ep->closed_cb != NULL)
        ep->closed_cb(ep->closed_ud);
}

void prism_bench_endpoint_leave(struct prism_bench_endpoint *ep, void (*closed_cb)(void *ud),
                                void *ud)
{
    if (ep->state != PRISM_BENCH_EP_NEW && ep->site->signaller != NULL)
        ep->site->signaller->leave(ep->site->signaller->ud, ep); /* bench/janus.h */
    else if (ep->state != PRISM_BENCH_EP_NEW)
        prism_bench_rpc_call(ep->site->rpc, "peer.leave", peer_params(ep), NULL, NULL);
    ep->state = PRISM_BENCH_EP_LEFT;
    ep->sending = false;
    ep->closed_cb = closed_cb;
    ep->closed_ud = ud;
    ep->pending_closes = 1; /* held until both closes are started */
    if (ep->pub != NULL) {
        ep->pending_closes++;
        prism_transport_close(ep->pub, on_transport_closed);
        ep->pub = NULL;
    }
    if (ep->sub != NULL) {
        ep->pending_closes++;
        prism_transport_close(ep->sub, on_transport_closed);
        ep->sub = NULL;
    }
    on_transport_closed(ep);
}

void prism_bench_endpoint_free(struct prism_bench_endpoint *ep)
{
    if (ep == NULL)
        return;
    for (size_t i = 0; i < ep->n_rx; i++) {
        prism_bench_rx_deinit(&ep->rx[i]->rx);
        free(ep->rx[i]);
    }
    prism_sdp_session_free(ep->held_offer);
    prism_bench_quality_free(ep->quality);
    free(ep->pub_cands);
    free(ep->sub_cands);
    free(ep);
}

static void add(struct prism_media_counters *sum, const struct prism_transport *t)
{
    if (t == NULL)
        return;
    prism_media_counters_add(sum, prism_transport_counters(t));
}

void prism_bench_endpoint_counters(const struct prism_bench_endpoint *ep,
                                   struct prism_media_counters *sum)
{
    memset(sum, 0, sizeof(*sum));
    add(sum, ep->pub);
    add(sum, ep->sub);
}

/* --- another signalling path (struct prism_bench_signaller, bench/janus.h) ------ */

void prism_bench_endpoint_joined(struct prism_bench_endpoint *ep)
{
    if (ep->state == PRISM_BENCH_EP_JOINING && ep->publish)
        start_publish(ep);
}

void prism_bench_endpoint_published(struct prism_bench_endpoint *ep, const char *answer,
                                    const char *error)
{
    if (ep->state != PRISM_BENCH_EP_JOINING)
        return;
    if (answer == NULL) {
        ep->site->rpc_errors++;
        fail(ep, "publish", error);
        return;
    }
    int r = apply_relay_answer(ep, answer);
    if (r != 0)
        fail(ep, "publish answer", prism_error_str(r));
}

void prism_bench_endpoint_answered(struct prism_bench_endpoint *ep, const char *error)
{
    if (error != NULL) {
        ep->site->rpc_errors++;
        fail(ep, "subscribe answer", error);
        return;
    }
    maybe_ready(ep);
}

void prism_bench_endpoint_fail(struct prism_bench_endpoint *ep, const char *what,
                               const char *detail)
{
    fail(ep, what, detail);
}
