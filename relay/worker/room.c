/* A worker's rooms (see room.h).
 *
 * Ownership: struct prism_rooms owns its rooms, a room owns its peers, a peer
 * owns its two links (publish, subscribe) and the transports in them. All on
 * the worker thread.
 *
 * The hot path is on_rtp() below, one story: a publisher's transport hands an
 * authenticated, decrypted packet -> find the track by SSRC among this
 * publisher's tracks -> for each route out of the track, the subscriber's
 * transport copies, rewrites the SSRC, protects and queues it (egress.c) ->
 * the worker flushes every queue once per loop iteration. No allocation, no
 * lock, no log; every packet that goes nowhere is counted.
 *
 * Routing tables (track->outs) are derived state: each subscriber keeps the
 * routes the control thread gave it, and rebuild_outs() recomputes every
 * track's outs of a room whenever a peer's tracks or routes change or a peer
 * leaves. That runs on control messages only, O(peers x routes).
 *
 * RTCP (RFC 3550, 4585, 5104): a subscriber's PLI or FIR becomes a PLI from
 * the relay to the publisher of that track (at most one per track every
 * KEYFRAME_GAP_MS), as does a new subscriber's transport connecting. Every
 * second each publisher gets a receiver report for its tracks and, when its
 * tenant has a bitrate cap, a REMB with the cap. Other RTCP is consumed.
 *
 * Congestion feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01,
 * relay/tcc.h): when a publisher's answer kept transport-cc, on_rtp records
 * the transport-wide seq and arrival time of every packet on its publish
 * transport (rtx and padding probes too: the sender numbers them all and
 * would count the unreported ones as lost), and prism_rooms_feedback(),
 * every 50 ms, sends what is pending as transport-cc feedback. Chromium then
 * runs its send-side estimator (GoogCC) on it. A tenant's REMB still caps
 * that: libwebrtc's GoogCcNetworkController::OnRemoteBitrateReport feeds
 * REMB to SendSideBandwidthEstimation as the receiver limit, a ceiling on
 * the target whatever the delay-based estimate (it drops REMB only when
 * built "feedback only", which Chromium's default controller is not).
 *
 * Dominant speaker: audio packets' RFC 6464 levels (a header the relay reads
 * anyway; never the payload) are summed per track and, once a second, the
 * loudest mostly-voiced publisher becomes the bubble's speaker.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/rand.h>

#include "relay/base/bytes.h"
#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/net/transport.h"
#include "relay/wire/rtcp.h"
#include "relay/wire/rtp.h"
#include "relay/wire/tcc.h"
#include "relay/worker/room.h"

#define KEYFRAME_GAP_MS 300
#define FEEDBACK_BYTES 1200      /* one transport-cc datagram: under any path MTU with SRTCP */
#define FEEDBACK_MAX_DATAGRAMS 4 /* per publisher per feedback tick */

struct peer;

struct route_out {
    struct peer *sub; /* the subscriber; in the same room */
    uint32_t ssrc;    /* the relay's SSRC toward it */
};

struct track {
    struct prism_track_desc d;
    struct route_out *outs; /* owned; derived by rebuild_outs() */
    size_t n_outs, cap_outs;
    struct prism_rtp_seq_stats stats; /* for receiver reports */
    uint64_t last_keyframe_ms;        /* uv_now of the last PLI sent for it */
    uint32_t clock_hz;                /* 48000 audio, 90000 video */
    uint32_t loudness_sum; /* sum of 127 - level (-dBov) over voiced packets, this second */
    uint32_t voiced;       /* voiced packets this second */
    uint32_t packets;      /* packets this second */
};

struct link {
    struct peer *peer;         /* owner */
    struct prism_transport *t; /* NULL before open and after close */
    bool subscribe;
    uint64_t token; /* of the TRANSPORT_OPEN to answer */
    bool ready_sent;
    char cands[PRISM_MEDIA_MAX_CANDS][PRISM_MEDIA_CAND_LEN]; /* ours, until READY */
    size_t n_cands;
    bool remote_set; /* the peer's credentials are known */
    /* The peer's trickled candidates that came before its credentials (a
     * subscriber may trickle before its answer is applied). */
    char early[PRISM_MEDIA_MAX_CANDS][PRISM_MEDIA_CAND_LEN];
    size_t n_early;
    bool early_end;
};

struct peer {
    uint64_t handle;
    struct room *room; /* owner */
    struct link pub, sub;
    struct track tracks[PRISM_MEDIA_MAX_TRACKS]; /* what it publishes */
    size_t n_tracks;
    struct prism_route_desc routes[PRISM_MEDIA_MAX_ROUTES]; /* what it receives */
    size_t n_routes;
    uint32_t rtcp_ssrc;     /* the relay's SSRC in RTCP toward this peer */
    uint32_t max_kbps;      /* tenant cap for REMB, 0 = none */
    uint64_t drop_no_route; /* authentic RTP matching none of its tracks */
    /* Transport-wide cc of the publish transport. One id for every track:
     * in a BUNDLE group an extension id means the same in every m-section
     * (RFC 8843), and the seq numbers the transport's packets, not a track's. */
    uint8_t tcc_ext_id;   /* 0: no feedback owed */
    struct prism_tcc tcc; /* arrivals not yet reported; reset per transport */
};

struct room {
    uint64_t handle;
    uint64_t speaker;                   /* peer handle of the dominant speaker, 0 for none */
    struct prism_rooms *rooms;          /* owner */
    GHashTable *peers;                  /* handle -> struct peer */
    struct prism_media_counters closed; /* totals of transports already closed */
};

struct prism_rooms {
    uv_loop_t *loop;
    const struct prism_worker_shared *shared;
    struct prism_egress *egress;
    GHashTable *rooms; /* handle -> struct room */
    GHashTable *peers; /* handle -> struct peer, every room's */
};

static void post_event(struct prism_rooms *rooms, struct prism_worker_event *ev)
{
    prism_mailbox_post(rooms->shared->control, &ev->mail);
}

static struct prism_worker_event *event_new(enum prism_worker_event_type type, struct peer *p,
                                            bool subscribe)
{
    struct prism_worker_event *ev = calloc(1, sizeof(*ev));
    PRISM_CHECK(ev != NULL);
    ev->type = type;
    ev->bubble_handle = p->room->handle;
    ev->peer_handle = p->handle;
    ev->subscribe = subscribe;
    return ev;
}

static uint32_t random_ssrc(void)
{
    uint32_t v = 0;
    while (v == 0)
        PRISM_CHECK(RAND_bytes((unsigned char *)&v, sizeof(v)) == 1);
    return v;
}

static void add_counters(struct prism_media_counters *sum, const struct prism_transport *t)
{
    prism_media_counters_add(sum, prism_transport_counters(t));
}

/* --- keyframes ---------------------------------------------------------- */

static void request_keyframe(struct peer *publisher, struct track *tr)
{
    struct prism_transport *t = publisher->pub.t;
    uint64_t now = uv_now(publisher->room->rooms->loop);
    if (t == NULL || !tr->d.video || tr->d.ssrc == 0 ||
        (tr->last_keyframe_ms != 0 && now - tr->last_keyframe_ms < KEYFRAME_GAP_MS))
        return;
    uint8_t pli[PRISM_RTCP_PLI_BYTES];
    if (prism_rtcp_build_pli(pli, sizeof(pli), publisher->rtcp_ssrc, tr->d.ssrc) > 0 &&
        prism_transport_send_rtcp(t, pli, sizeof(pli)) == 0)
        tr->last_keyframe_ms = now;
}

/* A subscriber asked for a keyframe of the stream it knows as `ssrc`. */
static void keyframe_for_subscriber(struct peer *sub, uint32_t ssrc)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, sub->room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct peer *p = value;
        for (size_t i = 0; i < p->n_tracks; i++)
            for (size_t o = 0; o < p->tracks[i].n_outs; o++)
                if (p->tracks[i].outs[o].sub == sub && p->tracks[i].outs[o].ssrc == ssrc) {
                    request_keyframe(p, &p->tracks[i]);
                    return;
                }
    }
}

/* --- routing tables ------------------------------------------------------- */

static struct peer *room_peer(struct room *room, uint64_t handle)
{
    return g_hash_table_lookup(room->peers, &handle);
}

static struct track *peer_track(struct peer *p, uint64_t handle)
{
    for (size_t i = 0; i < p->n_tracks; i++)
        if (p->tracks[i].d.handle == handle)
            return &p->tracks[i];
    return NULL;
}

static void add_out(struct track *tr, struct peer *sub, uint32_t ssrc)
{
    if (tr->n_outs == tr->cap_outs) {
        size_t cap = tr->cap_outs ? tr->cap_outs * 2 : 4;
        struct route_out *outs = realloc(tr->outs, cap * sizeof(*outs));
        PRISM_CHECK(outs != NULL);
        tr->outs = outs;
        tr->cap_outs = cap;
    }
    tr->outs[tr->n_outs++] = (struct route_out){sub, ssrc};
}

/* Recomputes every track's outs in `room` from the subscribers' routes. */
static void rebuild_outs(struct room *room)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct peer *p = value;
        for (size_t i = 0; i < p->n_tracks; i++)
            p->tracks[i].n_outs = 0;
    }
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct peer *sub = value;
        for (size_t r = 0; r < sub->n_routes; r++) {
            const struct prism_route_desc *rd = &sub->routes[r];
            struct peer *pub = room_peer(room, rd->publisher);
            struct track *tr = pub != NULL && pub != sub ? peer_track(pub, rd->track) : NULL;
            if (tr != NULL)
                add_out(tr, sub, rd->ssrc);
        }
    }
}

/* --- the per-packet path ------------------------------------------------- */

/* `h` is the packet's parsed header, NULL when it did not parse (such a
 * packet is still routed by its SSRC, as it always was). */
static struct track *find_track(struct peer *p, const uint8_t *pkt,
                                const struct prism_rtp_header *h)
{
    uint32_t ssrc = prism_load_be32(pkt + 8);
    for (size_t i = 0; i < p->n_tracks; i++)
        if (p->tracks[i].d.ssrc == ssrc)
            return &p->tracks[i];
    /* A track announced without SSRC (rid simulcast) is bound to the first
     * stream whose mid extension names it. */
    for (size_t i = 0; i < p->n_tracks; i++) {
        struct track *tr = &p->tracks[i];
        char mid[PRISM_RTP_MID_MAX + 1];
        if (tr->d.ssrc == 0 && tr->d.mid_ext_id != 0 && h != NULL &&
            prism_rtp_get_mid(pkt, h, tr->d.mid_ext_id, mid, sizeof(mid)) == 0 &&
            strcmp(mid, tr->d.mid) == 0) {
            tr->d.ssrc = ssrc;
            return tr;
        }
    }
    return NULL;
}

/* RFC 6464 levels feed the dominant-speaker choice made once a second. */
static void note_audio_level(struct track *tr, const uint8_t *pkt, const struct prism_rtp_header *h)
{
    bool voice;
    uint8_t level;
    tr->packets++;
    if (h != NULL &&
        prism_rtp_get_audio_level(pkt, h, tr->d.audio_level_ext_id, &voice, &level) == 0 && voice) {
        tr->voiced++;
        tr->loudness_sum += 127u - level;
    }
}

/* Retransmissions and bandwidth probes on a track's rtx SSRC: the relay
 * neither forwards nor counts them as drops (downstream offers carry no rtx). */
static bool is_rtx(const struct peer *p, const uint8_t *pkt)
{
    uint32_t ssrc = prism_load_be32(pkt + 8);
    for (size_t i = 0; i < p->n_tracks; i++)
        if (p->tracks[i].d.rtx_ssrc == ssrc)
            return true;
    return false;
}

/* The arrival of a transport-wide seq, in µs of uv_hrtime(): the loop's
 * cached uv_now() has 1 ms steps and is the same for a whole receive batch,
 * while feedback carries 250 µs ticks and the sender's delay estimator reads
 * their spread; a monotonic clock read (vDSO, tens of ns) per packet is the
 * price of that resolution. */
static void record_arrival(struct peer *p, const uint8_t *pkt, const struct prism_rtp_header *h)
{
    uint16_t tseq;
    if (prism_rtp_get_transport_seq(pkt, h, p->tcc_ext_id, &tseq) == 0)
        prism_tcc_record(&p->tcc, tseq, (int64_t)(uv_hrtime() / 1000));
}

static void on_rtp(void *ud, uint8_t *pkt, size_t len)
{
    struct link *l = ud;
    struct peer *p = l->peer;
    struct prism_rtp_header hdr;
    const struct prism_rtp_header *h = NULL;
    if (!l->subscribe && len >= PRISM_RTP_HEADER_MIN && prism_rtp_parse(pkt, len, &hdr) == 0)
        h = &hdr; /* parsed once, for every reader below */
    if (h != NULL && p->tcc_ext_id != 0)
        record_arrival(p, pkt, h);
    struct track *tr = l->subscribe || len < PRISM_RTP_HEADER_MIN ? NULL : find_track(p, pkt, h);
    if (tr == NULL) {
        if (l->subscribe || len < PRISM_RTP_HEADER_MIN || !is_rtx(p, pkt))
            p->drop_no_route++;
        return;
    }
    uint16_t seq = prism_load_be16(pkt + 2);
    uint32_t ts = prism_load_be32(pkt + 4);
    uint32_t arrival = (uint32_t)(uv_now(p->room->rooms->loop) * (tr->clock_hz / 1000));
    prism_rtp_seq_stats_update(&tr->stats, seq, ts, arrival, NULL);
    if (tr->d.audio_level_ext_id != 0)
        note_audio_level(tr, pkt, h);
    for (size_t o = 0; o < tr->n_outs; o++) {
        struct prism_transport *out = tr->outs[o].sub->sub.t;
        if (out != NULL)
            prism_transport_send_rtp(out, pkt, len, tr->outs[o].ssrc);
    }
}

static void on_rtcp(void *ud, uint8_t *pkt, size_t len)
{
    struct link *l = ud;
    if (!l->subscribe)
        return; /* a publisher's SR/SDES: consumed (its receiver reports come from us) */
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, pkt, len);
    while (prism_rtcp_next(&it, &item) == 0) {
        uint32_t ssrc;
        uint8_t seq_nr;
        if (prism_rtcp_is_pli(&item))
            keyframe_for_subscriber(l->peer, item.media_ssrc);
        else if (prism_rtcp_fir_entry(&item, 0, &ssrc, &seq_nr) == 0)
            keyframe_for_subscriber(l->peer, ssrc);
    }
}

/* --- transports ------------------------------------------------------------ */

static void send_ready(struct link *l, int error)
{
    if (l->ready_sent)
        return;
    l->ready_sent = true;
    struct prism_worker_event *ev = event_new(PRISM_WORKER_EV_READY, l->peer, l->subscribe);
    ev->token = l->token;
    ev->error = error;
    if (error == 0) {
        const char *ufrag, *pwd;
        prism_transport_local_credentials(l->t, &ufrag, &pwd);
        snprintf(ev->ufrag, sizeof(ev->ufrag), "%s", ufrag);
        snprintf(ev->pwd, sizeof(ev->pwd), "%s", pwd);
        memcpy(ev->candidates, l->cands, sizeof(ev->candidates));
        ev->n_candidates = l->n_cands;
    }
    post_event(l->peer->room->rooms, ev);
}

static void on_candidate(void *ud, const char *candidate)
{
    struct link *l = ud;
    if (!l->ready_sent && l->n_cands < PRISM_MEDIA_MAX_CANDS)
        snprintf(l->cands[l->n_cands++], PRISM_MEDIA_CAND_LEN, "%s", candidate);
}

static void on_gathering_done(void *ud)
{
    send_ready(ud, 0);
}

static void link_close(struct link *l)
{
    if (l->t == NULL)
        return;
    add_counters(&l->peer->room->closed, l->t);
    prism_transport_close(l->t, NULL);
    l->t = NULL;
}

static void on_status(void *ud, enum prism_transport_state st, const char *reason)
{
    struct link *l = ud;
    struct peer *p = l->peer;
    struct prism_worker_event *ev = event_new(PRISM_WORKER_EV_STATE, p, l->subscribe);
    ev->state = st;
    snprintf(ev->reason, sizeof(ev->reason), "%s", reason != NULL ? reason : "");
    post_event(p->room->rooms, ev);
    if (st == PRISM_TRANSPORT_CONNECTED && l->subscribe) {
        /* A new subscriber needs a keyframe of everything it receives, now. */
        for (size_t r = 0; r < p->n_routes; r++) {
            struct peer *pub = room_peer(p->room, p->routes[r].publisher);
            struct track *tr = pub != NULL ? peer_track(pub, p->routes[r].track) : NULL;
            if (tr != NULL)
                request_keyframe(pub, tr);
        }
    }
    if (st == PRISM_TRANSPORT_FAILED || st == PRISM_TRANSPORT_CLOSED)
        link_close(l);
}

static const struct prism_transport_callbacks transport_cb = {
    .on_rtp = on_rtp,
    .on_rtcp = on_rtcp,
    .on_status = on_status,
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
};

static void link_open(struct prism_rooms *rooms, struct link *l, const struct prism_worker_msg *msg)
{
    link_close(l);
    if (!l->subscribe)
        prism_tcc_init(&l->peer->tcc);
    l->token = msg->token;
    l->ready_sent = false;
    l->n_cands = 0;
    l->remote_set = false;
    l->n_early = 0;
    l->early_end = false;
    const struct prism_config *cfg = rooms->shared->cfg;
    const char *addrs[PRISM_CONFIG_MAX_MEDIA_IPS];
    for (size_t i = 0; i < cfg->n_media_ips; i++)
        addrs[i] = cfg->media_ips[i];
    struct prism_transport_config tc = {
        .ice = {.local_addrs = addrs,
                .n_local_addrs = cfg->n_media_ips,
                .advertise_ip = cfg->advertise_ip[0] != '\0' ? cfg->advertise_ip : NULL,
                .port_min = cfg->port_min,
                .port_max = cfg->port_max,
                .controlling = l->subscribe},
        .dtls_ctx = rooms->shared->dtls_ctx,
        .dtls_role = PRISM_DTLS_SERVER,
        .egress = rooms->egress,
    };
    int rc = prism_transport_new(rooms->loop, &tc, &transport_cb, l, &l->t);
    if (rc != 0) {
        l->t = NULL;
        send_ready(l, rc);
        return;
    }
    if (!l->subscribe) {
        /* The client offered: its credentials, fingerprint and candidates are known. */
        rc = prism_transport_set_remote(l->t, msg->remote_ufrag, msg->remote_pwd,
                                        msg->remote_fingerprint);
        l->remote_set = rc == 0;
        for (size_t i = 0; rc == 0 && i < msg->n_candidates; i++)
            prism_transport_add_remote_candidate(l->t, msg->candidates[i]);
        if (rc == 0 && msg->end_of_candidates)
            prism_transport_add_remote_candidate(l->t, NULL);
    }
    if (rc == 0)
        rc = prism_transport_gather(l->t);
    if (rc != 0) {
        /* The link may have closed itself from a callback already. */
        if (l->t != NULL) {
            prism_transport_close(l->t, NULL);
            l->t = NULL;
        }
        send_ready(l, rc);
    }
}

static void link_remote(struct link *l, const struct prism_worker_msg *msg)
{
    if (l->t == NULL || prism_transport_set_remote(l->t, msg->remote_ufrag, msg->remote_pwd,
                                                   msg->remote_fingerprint) != 0)
        return;
    l->remote_set = true;
    for (size_t i = 0; i < msg->n_candidates; i++)
        prism_transport_add_remote_candidate(l->t, msg->candidates[i]);
    for (size_t i = 0; i < l->n_early; i++)
        prism_transport_add_remote_candidate(l->t, l->early[i]);
    if (msg->end_of_candidates || l->early_end)
        prism_transport_add_remote_candidate(l->t, NULL);
    l->n_early = 0;
}

static void link_candidate(struct link *l, const struct prism_worker_msg *msg)
{
    if (l->t == NULL)
        return;
    if (l->remote_set) {
        prism_transport_add_remote_candidate(l->t,
                                             msg->end_of_candidates ? NULL : msg->candidates[0]);
    } else if (msg->end_of_candidates) {
        l->early_end = true;
    } else if (l->n_early < PRISM_MEDIA_MAX_CANDS) {
        memcpy(l->early[l->n_early++], msg->candidates[0], PRISM_MEDIA_CAND_LEN);
    }
}

/* --- rooms and peers --------------------------------------------------------- */

static struct peer *peer_get(struct prism_rooms *rooms, const struct prism_worker_msg *msg)
{
    struct room *room = g_hash_table_lookup(rooms->rooms, &msg->bubble_handle);
    if (room == NULL)
        return NULL;
    struct peer *p = room_peer(room, msg->peer_handle);
    if (p != NULL)
        return p;
    p = calloc(1, sizeof(*p));
    PRISM_CHECK(p != NULL);
    p->handle = msg->peer_handle;
    p->room = room;
    p->pub.peer = p->sub.peer = p;
    p->sub.subscribe = true;
    p->rtcp_ssrc = random_ssrc();
    prism_tcc_init(&p->tcc);
    g_hash_table_insert(room->peers, &p->handle, p);
    g_hash_table_insert(rooms->peers, &p->handle, p);
    return p;
}

static void peer_free(struct peer *p)
{
    link_close(&p->pub);
    link_close(&p->sub);
    p->room->closed.drop_no_route += p->drop_no_route;
    for (size_t i = 0; i < p->n_tracks; i++)
        free(p->tracks[i].outs);
    free(p);
}

static void peer_remove(struct prism_rooms *rooms, struct peer *p)
{
    struct room *room = p->room;
    if (room->speaker == p->handle)
        room->speaker = 0;
    g_hash_table_remove(rooms->peers, &p->handle);
    g_hash_table_remove(room->peers, &p->handle);
    peer_free(p);
    rebuild_outs(room);
}

static void set_tracks(struct peer *p, const struct prism_worker_msg *msg)
{
    for (size_t i = 0; i < p->n_tracks; i++)
        free(p->tracks[i].outs);
    memset(p->tracks, 0, sizeof(p->tracks));
    p->n_tracks = msg->n_tracks < PRISM_MEDIA_MAX_TRACKS ? msg->n_tracks : PRISM_MEDIA_MAX_TRACKS;
    p->tcc_ext_id = 0;
    for (size_t i = 0; i < p->n_tracks; i++) {
        p->tracks[i].d = msg->tracks[i];
        if (p->tcc_ext_id == 0)
            p->tcc_ext_id = msg->tracks[i].tcc_ext_id;
        p->tracks[i].clock_hz = msg->tracks[i].video ? 90000 : 48000;
        prism_rtp_seq_stats_init(&p->tracks[i].stats);
    }
    p->max_kbps = msg->max_kbps;
    rebuild_outs(p->room);
}

static void set_routes(struct peer *p, const struct prism_worker_msg *msg)
{
    p->n_routes = msg->n_routes < PRISM_MEDIA_MAX_ROUTES ? msg->n_routes : PRISM_MEDIA_MAX_ROUTES;
    memcpy(p->routes, msg->routes, p->n_routes * sizeof(p->routes[0]));
    rebuild_outs(p->room);
    if (p->sub.t != NULL && prism_transport_status(p->sub.t) == PRISM_TRANSPORT_CONNECTED)
        for (size_t r = 0; r < p->n_routes; r++) {
            struct peer *pub = room_peer(p->room, p->routes[r].publisher);
            struct track *tr = pub != NULL ? peer_track(pub, p->routes[r].track) : NULL;
            if (tr != NULL)
                request_keyframe(pub, tr);
        }
}

static void room_free(gpointer value)
{
    struct room *room = value;
    GHashTableIter it;
    gpointer p;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &p)) {
        g_hash_table_remove(room->rooms->peers, &((struct peer *)p)->handle);
        peer_free(p);
    }
    g_hash_table_destroy(room->peers);
    free(room);
}

struct prism_rooms *prism_rooms_new(uv_loop_t *loop, const struct prism_worker_shared *shared,
                                    struct prism_egress *egress)
{
    struct prism_rooms *rooms = calloc(1, sizeof(*rooms));
    if (rooms == NULL)
        return NULL;
    rooms->loop = loop;
    rooms->shared = shared;
    rooms->egress = egress;
    rooms->rooms = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, room_free);
    rooms->peers = g_hash_table_new(g_int64_hash, g_int64_equal);
    return rooms;
}

void prism_rooms_free(struct prism_rooms *rooms)
{
    if (rooms == NULL)
        return;
    g_hash_table_destroy(rooms->rooms);
    g_hash_table_destroy(rooms->peers);
    free(rooms);
}

void prism_rooms_handle(struct prism_rooms *rooms, const struct prism_worker_msg *msg)
{
    if (msg->type == PRISM_WORKER_BUBBLE_OPEN) {
        struct room *room = calloc(1, sizeof(*room));
        PRISM_CHECK(room != NULL);
        room->handle = msg->bubble_handle;
        room->rooms = rooms;
        room->peers = g_hash_table_new(g_int64_hash, g_int64_equal);
        g_hash_table_insert(rooms->rooms, &room->handle, room);
        return;
    }
    if (msg->type == PRISM_WORKER_BUBBLE_CLOSE) {
        g_hash_table_remove(rooms->rooms, &msg->bubble_handle);
        return;
    }
    if (msg->type == PRISM_WORKER_PEER_CLOSE) {
        struct peer *p = g_hash_table_lookup(rooms->peers, &msg->peer_handle);
        if (p != NULL && p->room->handle == msg->bubble_handle)
            peer_remove(rooms, p);
        return;
    }
    struct peer *p = peer_get(rooms, msg);
    if (p == NULL)
        return; /* its bubble ended meanwhile */
    struct link *l = msg->subscribe ? &p->sub : &p->pub;
    switch (msg->type) {
    case PRISM_WORKER_TRANSPORT_OPEN: link_open(rooms, l, msg); break;
    case PRISM_WORKER_TRANSPORT_REMOTE: link_remote(l, msg); break;
    case PRISM_WORKER_CANDIDATE: link_candidate(l, msg); break;
    case PRISM_WORKER_TRACKS: set_tracks(p, msg); break;
    case PRISM_WORKER_ROUTES: set_routes(p, msg); break;
    default: break;
    }
}

/* Receiver report (and REMB under a cap) for one publisher. */
static void report_to_publisher(struct peer *p)
{
    if (p->pub.t == NULL || prism_transport_status(p->pub.t) != PRISM_TRANSPORT_CONNECTED)
        return;
    struct prism_rtcp_report_block blocks[PRISM_MEDIA_MAX_TRACKS];
    uint32_t ssrcs[PRISM_MEDIA_MAX_TRACKS];
    size_t n = 0;
    for (size_t i = 0; i < p->n_tracks; i++) {
        struct track *tr = &p->tracks[i];
        if (tr->d.ssrc == 0 || tr->stats.received == 0)
            continue;
        prism_rtcp_report_block_from_stats(&blocks[n], tr->d.ssrc, &tr->stats);
        ssrcs[n++] = tr->d.ssrc;
    }
    uint8_t buf[PRISM_RTCP_HEADER_BYTES * 2 +
                PRISM_RTCP_REPORT_BLOCK_BYTES * PRISM_MEDIA_MAX_TRACKS + 24 +
                4 * PRISM_MEDIA_MAX_TRACKS];
    int len = prism_rtcp_build_rr(buf, sizeof(buf), p->rtcp_ssrc, n > 0 ? blocks : NULL, n);
    if (len <= 0)
        return;
    if (p->max_kbps != 0 && n > 0) {
        int remb = prism_rtcp_build_remb(buf + len, sizeof(buf) - (size_t)len, p->rtcp_ssrc,
                                         (uint64_t)p->max_kbps * 1000, ssrcs, n);
        if (remb > 0)
            len += remb;
    }
    prism_transport_send_rtcp(p->pub.t, buf, (size_t)len);
}

/* The publisher whose audio was voiced in most of the last second's packets
 * and loudest on average; the current speaker stays until someone else
 * qualifies, so silence does not make the choice flicker. */
#define SPEAKER_MIN_LOUDNESS 40 /* average 127 - level: louder than -87 dBov */

static void choose_speaker(struct room *room)
{
    uint64_t best = 0;
    uint32_t best_loudness = SPEAKER_MIN_LOUDNESS;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct peer *p = value;
        for (size_t i = 0; i < p->n_tracks; i++) {
            struct track *tr = &p->tracks[i];
            if (tr->voiced * 2 > tr->packets && tr->voiced > 0 &&
                tr->loudness_sum / tr->voiced > best_loudness) {
                best_loudness = tr->loudness_sum / tr->voiced;
                best = p->handle;
            }
            tr->loudness_sum = tr->voiced = tr->packets = 0;
        }
    }
    if (best == 0 || best == room->speaker)
        return;
    room->speaker = best;
    struct peer *p = room_peer(room, best);
    post_event(room->rooms, event_new(PRISM_WORKER_EV_SPEAKER, p, false));
}

void prism_rooms_tick(struct prism_rooms *rooms)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, rooms->rooms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct room *room = value;
        struct prism_worker_event *ev = calloc(1, sizeof(*ev));
        PRISM_CHECK(ev != NULL);
        ev->type = PRISM_WORKER_EV_STATS;
        ev->bubble_handle = room->handle;
        ev->counters = room->closed;
        GHashTableIter pit;
        gpointer pv;
        g_hash_table_iter_init(&pit, room->peers);
        while (g_hash_table_iter_next(&pit, NULL, &pv)) {
            struct peer *p = pv;
            if (p->pub.t != NULL)
                add_counters(&ev->counters, p->pub.t);
            if (p->sub.t != NULL)
                add_counters(&ev->counters, p->sub.t);
            ev->counters.drop_no_route += p->drop_no_route;
            report_to_publisher(p);
        }
        post_event(rooms, ev);
        choose_speaker(room);
    }
}

/* Pending transport-cc feedback for one publisher: a few datagrams at most,
 * the rest waits for the next tick. Media SSRC: its first video track's
 * (senders ignore it; libwebrtc puts one of the reported streams there). */
static void feedback_to_publisher(struct peer *p)
{
    if (p->tcc_ext_id == 0 || !prism_tcc_pending(&p->tcc) || p->pub.t == NULL ||
        prism_transport_status(p->pub.t) != PRISM_TRANSPORT_CONNECTED)
        return;
    uint32_t media_ssrc = 0;
    for (size_t i = 0; i < p->n_tracks && media_ssrc == 0; i++)
        if (p->tracks[i].d.video)
            media_ssrc = p->tracks[i].d.ssrc;
    uint8_t buf[FEEDBACK_BYTES];
    for (int i = 0; i < FEEDBACK_MAX_DATAGRAMS; i++) {
        int len = prism_tcc_build(&p->tcc, p->rtcp_ssrc, media_ssrc, buf, sizeof(buf));
        if (len <= 0 || prism_transport_send_rtcp(p->pub.t, buf, (size_t)len) != 0)
            return;
    }
}

void prism_rooms_feedback(struct prism_rooms *rooms)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, rooms->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        feedback_to_publisher(value);
}
