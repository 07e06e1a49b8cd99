/* The control thread's half of the media plane (see media.h).
 *
 * Per peer (struct mpeer, keyed by the registry's peer handle):
 *  - publish: the tracks negotiated from its offer; while the worker gathers,
 *    the pending tracks, what the answer is written from (a reduced copy of
 *    the negotiated offer, prism_sdp_session_for_answer()) and the caller's
 *    completion wait in the mpeer;
 *  - subscribe: the downstream offer's m-lines ("lines"), stable across
 *    revisions: a line is never removed, only set to REMOVED when its track
 *    leaves, and recycled for a new track of the same kind once a client
 *    answer has confirmed the removal (JSEP 5.2.2). Each line carries the
 *    relay's own SSRC toward this subscriber, so a publisher's SSRC never
 *    reaches other peers and two publishers can never collide.
 *
 * ICE restart (RFC 8445 §9, RFC 8839 §4.4.1.1.1): a peer.publish whose offer
 * has new ICE credentials (ufrag or pwd) and the same DTLS fingerprint as the
 * one its open publish transport was set up with restarts ICE on that
 * transport (TRANSPORT_RESTART): the worker keeps the DTLS session and the
 * SRTP contexts, the answer carries the relay's new credentials, and the
 * tracks the offer still has (same kind, mid, SSRCs, simulcast layers) keep
 * their handles, so producers, consumers, subscriptions and sequence spaces
 * stay and subscribers get no new offer unless the tracks changed.
 *
 * Renegotiation (RFC 8829 §5.2.2, §5.3.2): a peer.publish whose offer has the
 * same ICE credentials and the same fingerprint as the open publish
 * transport's (a browser adding or removing a track mid-call) keeps that
 * transport as it is: a browser never redoes DTLS on an unchanged
 * transport, so a new one would end in `timeout: dtls`. The worker only
 * reports the transport's credentials and candidates again
 * (TRANSPORT_REOFFER), the answer carries them unchanged, and the new
 * track set applies as for a restart: kept tracks keep their handles, added
 * ones become producers the subscribers get offered, removed ones go. The
 * answer's a=setup is passive as every publish answer's (the relay is the
 * DTLS server of every publish transport; an offer's setup:passive is
 * refused), so the relay's role never flips on a kept association (RFC
 * 8842 §5.5). Any other re-publish (a new fingerprint: a new DTLS
 * association, RFC 8842; a transport that failed or closed) replaces the
 * transport, as before.
 * The subscribe transport restarts when the client asks (peer.subscribe with
 * ice_restart): the worker gives it new credentials, the offer carries them,
 * and the next accepted answer (same fingerprint, else bad_sdp) gives the
 * transport the client's new ones (TRANSPORT_REMOTE with ice_restart).
 *
 * Memory: a peer costs what it negotiated, not the SDP caps. Tracks and
 * lines are heap arrays of their exact count (lines grow by doubling, up to
 * the PRISM_SDP_MAX_MEDIA an offer may hold); a track's codecs and header
 * extensions are interned (codecs.h) and shared by every track, and every
 * subscriber's line, that forwards the same set; the subscribe transport's
 * credentials and candidates sit in one exact-size block. An idle publisher
 * costs a few hundred bytes here, and everything goes when it leaves.
 *
 * Downstream offers forward a track's codecs (video with its rtx payload
 * types and a relay RTX SSRC per line: the relay answers NACKs from its own
 * history; audio with red after Opus when the publisher sends RED, which
 * reaches a subscriber as RED only if its answer kept red), rtcp-fb limited
 * to NACK, PLI, FIR, transport-cc and goog-remb (the subscriber's feedback
 * for the relay's estimate of its downlink, relay/worker/subscriber.c), and
 * only the audio-level, abs-send-time and transport-wide-cc header
 * extensions (the last renumbered per subscribe transport by the worker):
 * the relay does not rewrite the mid/rid extensions, so offering them would
 * mislead the subscriber. A simulcast track (rids, or an a=ssrc-group:SIM)
 * is one track downstream; the worker forwards one of its layers to each
 * subscriber.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/rand.h>

#include "crypto/cert.h"
#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/control/codecs.h"
#include "relay/control/media.h"
#include "relay/wire/av1dd.h"
#include "relay/wire/candidate.h"
#include "relay/wire/sdp.h"

#define MAX_LINES PRISM_SDP_MAX_MEDIA

static const char uri_mid[] = "urn:ietf:params:rtp-hdrext:sdes:mid";
static const char uri_audio_level[] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
static const char uri_abs_send_time[] =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
static const char uri_transport_cc[] =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
static const char uri_rid[] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
static const char uri_repaired_rid[] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

struct pub_track {
    uint64_t handle;
    bool video;
    char track_id[PRISM_SDP_TOKEN_LEN];
    char mid[PRISM_SDP_TOKEN_LEN];
    uint32_t ssrc, rtx_ssrc;
    uint8_t mid_ext_id;
    uint8_t audio_level_ext_id;
    uint8_t tcc_ext_id;  /* transport-wide-cc, only with the transport-cc rtcp-fb */
    uint32_t pt_only[4]; /* payload types no other m-line has (contract.h) */
    uint8_t rid_ext_id, repaired_rid_ext_id;
    /* Simulcast (contract.h): the rids it sends, in a=rid order, or the
     * SSRCs of its a=ssrc-group:SIM with their rtx partners; 0: one stream. */
    uint8_t av1dd_ext_id; /* the AV1 dependency descriptor, 0 if not negotiated */
    uint8_t n_layers;
    char rids[PRISM_MEDIA_MAX_LAYERS][PRISM_MEDIA_RID_LEN];
    uint32_t layer_ssrcs[PRISM_MEDIA_MAX_LAYERS], layer_rtx_ssrcs[PRISM_MEDIA_MAX_LAYERS];
    const struct prism_codecs *codecs; /* forwarded downstream; a reference held */
};

/* One m-line of a subscriber's downstream offer. Compact on purpose: the
 * codecs and extensions of a line are its source track's interned set, of
 * which it holds a reference (a removed line still writes its first codec),
 * so a subscriber costs a few dozen bytes per line. */
struct line {
    unsigned mid; /* its a=mid, a decimal number unique in this offer */
    enum prism_sdp_kind kind;
    enum prism_sdp_track_state state;
    bool removal_confirmed;            /* REMOVED and an answer acknowledged it: may be recycled */
    uint32_t ssrc;                     /* the relay's SSRC toward this subscriber */
    uint32_t rtx_ssrc;                 /* its retransmissions' (RFC 4588), 0 if no rtx */
    uint64_t pub_peer;                 /* source: publisher peer handle, 0 for none */
    uint64_t track;                    /* source: track handle */
    const struct prism_codecs *codecs; /* the source's set (reference held); NULL: placeholder */
};

struct mpeer {
    uint64_t handle;
    struct prism_peer *peer; /* the registry's; valid while this exists */
    /* publish */
    struct pub_track *tracks; /* n_tracks, exact size; NULL when none */
    size_t n_tracks;
    bool pub_open;
    uint64_t pub_token; /* of the pending TRANSPORT_OPEN, 0 if none */
    struct prism_relay_done pub_done;
    struct prism_sdp_session *pub_answer; /* what the answer is written from, while the worker
                                             gathers (prism_sdp_session_for_answer()) */
    struct pub_track *pending;            /* n_pending: the tracks of that answer */
    size_t n_pending;
    enum prism_media_reoffer pub_reoffer; /* what the pending publish does with the publish
                                             transport */
    uint32_t pub_answers;                 /* publish answers written: the last one's o=
                                             version (RFC 3264 §8) */
    char *pub_pending_remote; /* the pending offer's ICE ufrag, pwd and fingerprint, each
                                 NUL-terminated, in one exact-size block */
    char *pub_remote;         /* the same of the open publish transport; NULL when none */
    /* subscribe */
    bool sub_open, sub_ready, sub_remote_set;
    bool sub_restart;    /* the pending subscribe restarts ICE on the transport that is up */
    bool sub_restarting; /* offers carry restarted credentials: the next accepted answer
                            gives the client's new ones */
    char *sub_remote;    /* the client's ICE ufrag, pwd and fingerprint (remote_block) */
    uint64_t sub_token;
    struct prism_relay_done sub_done;
    char *sub_local; /* once ready: ufrag, pwd, then n_sub_cands candidates, each
                        NUL-terminated, in one exact-size block */
    size_t n_sub_cands;
    uint64_t session_id;
    uint64_t revision;    /* last issued */
    uint64_t outstanding; /* revision waiting for an answer, 0 if none */
    bool dirty;           /* the bubble changed while an offer was outstanding */
    struct line *lines;   /* n_lines in use of cap_lines (<= MAX_LINES) */
    size_t n_lines, cap_lines;
    unsigned next_mid;
};

struct prism_media {
    struct prism_registry *reg;
    struct prism_workers *workers;
    char fingerprint[PRISM_MEDIA_FPR_LEN]; /* "sha-256 AB:..." */
    prism_media_emit_cb emit;
    void *ud;
    GHashTable *peers;                 /* handle -> struct mpeer */
    GHashTable *bubbles;               /* handle -> struct prism_bubble (the registry's) */
    struct prism_codecs_table *codecs; /* the sets tracks and lines refer to */
    size_t transports;                 /* open or opening, as far as this thread knows */
    size_t max_transports;             /* admission limit */
    bool loopback_ok;                  /* media on loopback: loopback candidates usable */
    uint64_t next_token;
    uint64_t next_track;
};

static uint64_t random_u64(void)
{
    uint64_t v;
    PRISM_CHECK(RAND_bytes((unsigned char *)&v, sizeof(v)) == 1);
    return v;
}

struct prism_media *prism_media_new(struct prism_registry *reg, struct prism_workers *workers,
                                    const char *fingerprint, size_t max_transports,
                                    prism_media_emit_cb emit, void *ud)
{
    struct prism_media *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->reg = reg;
    m->workers = workers;
    snprintf(m->fingerprint, sizeof(m->fingerprint), "sha-256 %s", fingerprint);
    m->emit = emit;
    m->ud = ud;
    m->peers = g_hash_table_new(g_int64_hash, g_int64_equal);
    m->bubbles = g_hash_table_new(g_int64_hash, g_int64_equal);
    m->codecs = prism_codecs_table_new();
    if (m->codecs == NULL) {
        g_hash_table_destroy(m->peers);
        g_hash_table_destroy(m->bubbles);
        free(m);
        return NULL;
    }
    m->next_token = 1;
    m->next_track = 1;
    m->max_transports = max_transports;
    return m;
}

/* Frees `n` tracks and the references they hold. */
static void tracks_free(struct prism_media *m, struct pub_track *tracks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        prism_codecs_unref(m->codecs, tracks[i].codecs);
    free(tracks);
}

/* Forgets the pending publish (its answer basis and tracks). */
static void pending_clear(struct prism_media *m, struct mpeer *mp)
{
    free(mp->pub_pending_remote);
    mp->pub_pending_remote = NULL;
    mp->pub_reoffer = PRISM_MEDIA_REOFFER_NEW;
    prism_sdp_session_free(mp->pub_answer);
    mp->pub_answer = NULL;
    tracks_free(m, mp->pending, mp->n_pending);
    mp->pending = NULL;
    mp->n_pending = 0;
}

/* Drops every line (and the codec references they hold). */
static void lines_clear(struct prism_media *m, struct mpeer *mp)
{
    for (size_t i = 0; i < mp->n_lines; i++)
        prism_codecs_unref(m->codecs, mp->lines[i].codecs);
    free(mp->lines);
    mp->lines = NULL;
    mp->n_lines = mp->cap_lines = 0;
}

static void fail_pending(struct prism_media *m, struct mpeer *mp, int rc, const char *msg)
{
    if (mp->pub_token != 0) {
        mp->pub_token = 0;
        pending_clear(m, mp);
        mp->pub_done.cb(mp->pub_done.ud, rc, NULL, msg);
    }
    if (mp->sub_token != 0) {
        mp->sub_token = 0;
        mp->sub_done.cb(mp->sub_done.ud, rc, NULL, msg);
    }
}

static void transport_gone(struct prism_media *m, struct prism_peer *peer);

/* Completes what is pending with `rc` and frees the peer's state. */
static void mpeer_release(struct prism_media *m, struct mpeer *mp, int rc, const char *msg)
{
    fail_pending(m, mp, rc, msg);
    tracks_free(m, mp->tracks, mp->n_tracks);
    lines_clear(m, mp);
    free(mp->sub_local);
    free(mp->sub_remote);
    free(mp->pub_remote);
    free(mp);
}

/* Whether a publish transport of `mp` holds an admission: the open one, or
 * a new one being opened. (A restart or renegotiation takes none: once its
 * transport ended meanwhile, nothing is held.) */
static bool pub_admitted(const struct mpeer *mp)
{
    return mp->pub_open || (mp->pub_token != 0 && mp->pub_reoffer == PRISM_MEDIA_REOFFER_NEW);
}

/* Forgets a peer whose transports its worker is closing. */
static void mpeer_free(struct prism_media *m, struct mpeer *mp)
{
    if (pub_admitted(mp))
        transport_gone(m, mp->peer);
    if (mp->sub_open)
        transport_gone(m, mp->peer);
    mpeer_release(m, mp, PRISM_ENOTFOUND, "the peer left before its transport was ready");
}

void prism_media_free(struct prism_media *m)
{
    if (m == NULL)
        return;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, m->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        mpeer_release(m, value, PRISM_EINTERNAL, "the relay is stopping");
    g_hash_table_destroy(m->peers);
    g_hash_table_destroy(m->bubbles);
    prism_codecs_table_free(m->codecs);
    free(m);
}

static struct mpeer *mpeer_get(struct prism_media *m, struct prism_peer *peer)
{
    struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    if (mp != NULL)
        return mp;
    mp = calloc(1, sizeof(*mp));
    PRISM_CHECK(mp != NULL);
    mp->handle = peer->handle;
    mp->peer = peer;
    mp->session_id = random_u64() >> 2;
    g_hash_table_insert(m->peers, &mp->handle, mp);
    return mp;
}

static void post(struct prism_media *m, struct prism_peer *peer, struct prism_worker_msg *msg)
{
    msg->bubble = peer->bubble->handle;
    msg->peer = peer->handle;
    prism_workers_post(m->workers, peer->bubble->worker, msg);
}

/* Emits `ev` (its type and payload set) about `peer`. */
static void emit_peer_event(struct prism_media *m, struct prism_peer *peer,
                            struct prism_relay_event ev)
{
    ev.tenant = peer->bubble->tenant->id;
    ev.bubble = peer->bubble->id;
    ev.peer = peer->id;
    m->emit(m->ud, &ev);
}

/* A peer.state event about `peer`. */
static void emit_state(struct prism_media *m, struct prism_peer *peer, bool subscribe,
                       enum prism_transport_state state, const char *reason)
{
    emit_peer_event(m, peer,
                    (struct prism_relay_event){.type = PRISM_RELAY_EV_PEER_STATE,
                                               .peer_state = {subscribe, state, reason}});
}

/* Admission of one more transport of `peer`: within its tenant's
 * max_transports (quota_exceeded: the default fits the media port range,
 * so one tenant's peers cannot hold every port), and before the process
 * runs out of descriptors (overloaded). */
static bool admit_transport(struct prism_media *m, struct prism_peer *peer,
                            const struct prism_relay_done *done)
{
    struct prism_tenant *t = peer->bubble->tenant;
    if (m->transports >= m->max_transports) {
        done->cb(done->ud, PRISM_EOVERLOADED, NULL,
                 "the relay carries as many media transports as its file descriptor limit allows");
        return false;
    }
    if (prism_registry_transport_take(t) != 0) {
        done->cb(done->ud, PRISM_EQUOTA, NULL,
                 "the tenant has as many media transports open as its max_transports allows");
        return false;
    }
    m->transports++;
    return true;
}

/* A transport the relay had opened for `peer` is gone (closed, failed, or
 * its peer left). */
static void transport_gone(struct prism_media *m, struct prism_peer *peer)
{
    PRISM_CHECK(m->transports > 0);
    m->transports--;
    prism_registry_transport_put(peer->bubble->tenant);
}

/* --- publish ---------------------------------------------------------------- */

static bool payload_is_rtx(const struct prism_sdp_payload *p)
{
    return p->apt >= 0;
}

/* The publisher's primary SSRC of a single-stream m-section and its rtx
 * partner: a SIM group's first SSRC (one that makes no simulcast track:
 * prism_sdp_sim_layers()), else the first FID group's, else the first a=ssrc
 * (none with rids: their streams are learned). */
static void section_ssrcs(const struct prism_sdp_media *sec, uint32_t *ssrc, uint32_t *rtx)
{
    const struct prism_sdp_ssrc_group *sim = prism_sdp_sim_group(sec);
    *ssrc = sim != NULL ? sim->ssrcs[0] : 0; /* a parsed group holds one at least */
    *rtx = 0;
    for (size_t g = 0; g < sec->n_groups; g++) {
        const struct prism_sdp_ssrc_group *grp = &sec->groups[g];
        if (strcmp(grp->semantics, "FID") == 0 && grp->n_ssrcs == 2 &&
            (*ssrc == 0 || grp->ssrcs[0] == *ssrc)) {
            *ssrc = grp->ssrcs[0];
            *rtx = grp->ssrcs[1];
            return;
        }
    }
    if (*ssrc == 0 && sec->n_ssrcs > 0 && sec->n_rids == 0)
        *ssrc = sec->ssrcs[0].ssrc;
}

/* A TRANSPORT_OPEN or TRANSPORT_REMOTE carrying the client's ICE
 * credentials, fingerprint and candidates from its session description. */
static struct prism_msg_transport *remote_msg(enum prism_worker_msg_type type, bool subscribe,
                                              const struct prism_sdp_session *s)
{
    size_t n = s->n_candidates < PRISM_MEDIA_MAX_CANDS ? s->n_candidates : PRISM_MEDIA_MAX_CANDS;
    struct prism_msg_transport *msg =
        prism_worker_msg_new(type, sizeof(*msg) + n * sizeof(msg->candidates[0]));
    msg->subscribe = subscribe;
    msg->has_remote = true;
    snprintf(msg->ufrag, sizeof(msg->ufrag), "%s", s->ice_ufrag);
    snprintf(msg->pwd, sizeof(msg->pwd), "%s", s->ice_pwd);
    snprintf(msg->fingerprint, sizeof(msg->fingerprint), "%s %s", s->fpr_hash, s->fpr_value);
    for (size_t i = 0; i < n; i++)
        snprintf(msg->candidates[i], PRISM_MEDIA_CAND_LEN, "%s", s->candidates[i]);
    msg->n_candidates = n;
    msg->end_of_candidates = s->end_of_candidates;
    return msg;
}

/* A TRACKS message: what `mp` publishes now (nothing when n is 0). */
static void post_tracks(struct prism_media *m, struct mpeer *mp, size_t n)
{
    struct prism_msg_tracks *msg =
        prism_worker_msg_new(PRISM_WORKER_TRACKS, sizeof(*msg) + n * sizeof(msg->tracks[0]));
    for (size_t i = 0; i < n; i++) {
        const struct pub_track *t = &mp->tracks[i];
        struct prism_track_desc *d = &msg->tracks[i];
        d->handle = t->handle;
        d->video = t->video;
        d->ssrc = t->ssrc;
        d->rtx_ssrc = t->rtx_ssrc;
        d->mid_ext_id = t->mid_ext_id;
        d->audio_level_ext_id = t->audio_level_ext_id;
        d->tcc_ext_id = t->tcc_ext_id;
        d->vp8_pt = d->vp9_pt = d->red_pt = d->opus_pt = PRISM_PT_NONE;
        d->av1dd_ext_id = t->av1dd_ext_id;
        memcpy(d->pt_only, t->pt_only, sizeof(d->pt_only));
        d->rid_ext_id = t->rid_ext_id;
        d->repaired_rid_ext_id = t->repaired_rid_ext_id;
        d->n_layers = t->n_layers;
        memcpy(d->rids, t->rids, sizeof(d->rids));
        /* Element by element: GCC 12's -Warray-bounds misreads a memcpy
         * into the flexible array here under -O2 -fsanitize=address once
         * this function is not inlined. */
        for (size_t l = 0; l < PRISM_MEDIA_MAX_LAYERS; l++) {
            d->layer_ssrcs[l] = t->layer_ssrcs[l];
            d->layer_rtx_ssrcs[l] = t->layer_rtx_ssrcs[l];
        }
        for (size_t p = 0; p < t->codecs->n_pts; p++) {
            const struct prism_sdp_payload *pl = &t->codecs->pts[p];
            if (g_ascii_strcasecmp(pl->name, "VP8") == 0)
                d->vp8_pt = (uint8_t)pl->pt;
            if (g_ascii_strcasecmp(pl->name, "VP9") == 0)
                d->vp9_pt = (uint8_t)pl->pt;
            if (!t->video && g_ascii_strcasecmp(pl->name, "red") == 0)
                d->red_pt = (uint8_t)pl->pt;
            if (!t->video && g_ascii_strcasecmp(pl->name, "opus") == 0)
                d->opus_pt = (uint8_t)pl->pt;
            if (payload_is_rtx(pl) && pl->apt < 128 && d->n_rtx_pts < PRISM_MEDIA_MAX_RTX_PTS)
                d->rtx_pts[d->n_rtx_pts++] =
                    (struct prism_rtx_pt){(uint8_t)pl->apt, (uint8_t)pl->pt};
        }
        snprintf(d->mid, sizeof(d->mid), "%s", t->mid);
    }
    msg->n_tracks = n;
    msg->max_kbps = mp->peer->bubble->tenant->limits.max_kbps;
    post(m, mp->peer, &msg->h);
}

/* Sets in `pt_only` the payload types of `s`'s accepted m-section `i`
 * that no other accepted m-section has: what RFC 8843 §9.2 lets the relay
 * route a packet by when neither its SSRC nor a mid tells its track (a
 * softphone that offers before its encoders start writes no a=ssrc). */
static void unique_pts(const struct prism_sdp_session *s, size_t i, uint32_t pt_only[4])
{
    memset(pt_only, 0, 4 * sizeof(pt_only[0]));
    const struct prism_sdp_media *sec = &s->media[i];
    for (size_t p = 0; p < sec->n_pts; p++) {
        uint8_t pt = sec->pts[p].pt;
        bool shared = pt >= 128;
        for (size_t j = 0; j < s->n_media && !shared; j++) {
            const struct prism_sdp_media *other = &s->media[j];
            for (size_t q = 0; j != i && other->accepted && q < other->n_pts && !shared; q++)
                shared = other->pts[q].pt == pt;
        }
        if (!shared)
            pt_only[pt / 32] |= 1u << (pt % 32);
    }
}

/* The tracks of a negotiated offer, into `*out` (a new array of `*n`, NULL
 * when none). Returns 0 or PRISM_ENOMEM (nothing allocated then). */
static int tracks_from_offer(struct prism_media *m, const struct prism_sdp_session *s,
                             struct pub_track **out, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < s->n_media; i++)
        count += s->media[i].accepted && (s->media[i].kind == PRISM_SDP_KIND_AUDIO ||
                                          s->media[i].kind == PRISM_SDP_KIND_VIDEO);
    if (count > PRISM_MEDIA_MAX_TRACKS)
        count = PRISM_MEDIA_MAX_TRACKS;
    *out = NULL;
    *n = 0;
    struct pub_track *tracks = count > 0 ? calloc(count, sizeof(*tracks)) : NULL;
    if (count > 0 && tracks == NULL)
        return PRISM_ENOMEM;
    size_t nt = 0;
    for (size_t i = 0; i < s->n_media && nt < count; i++) {
        const struct prism_sdp_media *sec = &s->media[i];
        if (!sec->accepted ||
            (sec->kind != PRISM_SDP_KIND_AUDIO && sec->kind != PRISM_SDP_KIND_VIDEO))
            continue;
        struct pub_track *t = &tracks[nt];
        t->handle = m->next_track++;
        t->video = sec->kind == PRISM_SDP_KIND_VIDEO;
        snprintf(t->mid, sizeof(t->mid), "%s", sec->mid);
        snprintf(t->track_id, sizeof(t->track_id), "%s",
                 sec->msid_track[0] != '\0' ? sec->msid_track : sec->mid);
        unique_pts(s, i, t->pt_only);
        /* rid simulcast: every layer is a layer of this one track (the
         * subscriber sees one track; its consumer picks the layer). Longer
         * rids than the one-byte extension form can carry are left out. */
        for (size_t r = 0; r < sec->n_rids && t->video && t->n_layers < PRISM_MEDIA_MAX_LAYERS; r++)
            if (sec->rids[r].send && strlen(sec->rids[r].id) < PRISM_MEDIA_RID_LEN)
                snprintf(t->rids[t->n_layers++], PRISM_MEDIA_RID_LEN, "%s", sec->rids[r].id);
        /* SSRC simulcast (a=ssrc-group:SIM): the same, its layers known by
         * SSRC up front. A stream beyond PRISM_MEDIA_MAX_LAYERS is no
         * track's (a counted no_route drop). */
        if (t->n_layers == 0)
            t->n_layers = (uint8_t)prism_sdp_sim_layers(sec, t->layer_ssrcs, t->layer_rtx_ssrcs,
                                                        PRISM_MEDIA_MAX_LAYERS);
        if (t->n_layers == 0 || t->rids[0][0] != '\0')
            section_ssrcs(sec, &t->ssrc, &t->rtx_ssrc);
        /* The relay owes transport-cc feedback only where the answer kept
         * both the extension and the feedback type. */
        bool fb_tcc = false;
        for (size_t p = 0; p < sec->n_pts; p++)
            fb_tcc = fb_tcc || (sec->pts[p].fb & PRISM_SDP_FB_TRANSPORT_CC) != 0;
        struct prism_sdp_payload pts[PRISM_SDP_MAX_TRACK_PT];
        struct prism_sdp_extmap exts[PRISM_SDP_MAX_EXT];
        size_t n_pts = 0, n_exts = 0;
        /* Video keeps its rtx payload types (the relay retransmits from its
         * own history under them, RFC 4588) and offers nack; audio neither.
         * Audio's red goes after Opus here, where the publish answer put it
         * first: a subscriber only receives, and a removed line writes its
         * set's first codec, which must stand alone. */
        for (size_t k = 0; k < 2 * sec->n_pts && n_pts < PRISM_SDP_MAX_TRACK_PT; k++) {
            size_t p = k % sec->n_pts;
            if ((payload_is_rtx(&sec->pts[p]) && !t->video) ||
                (g_ascii_strcasecmp(sec->pts[p].name, "red") == 0) != (k >= sec->n_pts))
                continue;
            pts[n_pts] = sec->pts[p];
            pts[n_pts].fb &= PRISM_SDP_FB_NACK | PRISM_SDP_FB_NACK_PLI | PRISM_SDP_FB_CCM_FIR |
                             PRISM_SDP_FB_GOOG_REMB | (fb_tcc ? PRISM_SDP_FB_TRANSPORT_CC : 0);
            if (payload_is_rtx(&sec->pts[p]))
                pts[n_pts].fb = 0;
            else if (!t->video) /* its packets are numbered too: reported alike */
                pts[n_pts].fb &= PRISM_SDP_FB_TRANSPORT_CC;
            n_pts++;
        }
        for (size_t e = 0; e < sec->n_exts; e++) {
            if (strcmp(sec->exts[e].uri, uri_mid) == 0 && sec->exts[e].id < 256)
                t->mid_ext_id = (uint8_t)sec->exts[e].id;
            if (strcmp(sec->exts[e].uri, uri_audio_level) == 0 && sec->exts[e].id < 256)
                t->audio_level_ext_id = (uint8_t)sec->exts[e].id;
            if (fb_tcc && strcmp(sec->exts[e].uri, uri_transport_cc) == 0 && sec->exts[e].id < 256)
                t->tcc_ext_id = (uint8_t)sec->exts[e].id;
            if (strcmp(sec->exts[e].uri, uri_rid) == 0 && sec->exts[e].id < 256)
                t->rid_ext_id = (uint8_t)sec->exts[e].id;
            if (strcmp(sec->exts[e].uri, uri_repaired_rid) == 0 && sec->exts[e].id < 256)
                t->repaired_rid_ext_id = (uint8_t)sec->exts[e].id;
            if (strcmp(sec->exts[e].uri, PRISM_AV1DD_URI) == 0 && sec->exts[e].id < 256)
                t->av1dd_ext_id = (uint8_t)sec->exts[e].id;
            /* transport-wide-cc goes downstream under the publisher's id: the
             * relay renumbers that element of each packet it sends, per
             * subscribe transport, and estimates from the subscriber's
             * feedback (relay/worker/bwe.h). The dependency descriptor
             * goes down intact, under the publisher's id: the subscriber's
             * decoder needs it (AV1's frame dependencies are in it). */
            if ((strcmp(sec->exts[e].uri, uri_audio_level) == 0 ||
                 strcmp(sec->exts[e].uri, PRISM_AV1DD_URI) == 0 ||
                 strcmp(sec->exts[e].uri, uri_abs_send_time) == 0 ||
                 (fb_tcc && strcmp(sec->exts[e].uri, uri_transport_cc) == 0)) &&
                n_exts < PRISM_SDP_MAX_EXT)
                exts[n_exts++] = sec->exts[e];
        }
        /* negotiate() left at least one codec in an accepted section */
        t->codecs = prism_codecs_intern(m->codecs, pts, n_pts, exts, n_exts);
        if (t->codecs == NULL) {
            tracks_free(m, tracks, nt);
            return PRISM_ENOMEM;
        }
        nt++;
    }
    *out = tracks;
    *n = nt;
    return 0;
}

/* The client's ICE ufrag, pwd and fingerprint ("sha-256 AB:...") of `s`,
 * each NUL-terminated, in one exact-size block (NULL: no memory). */
static char *remote_block(const struct prism_sdp_session *s)
{
    char fpr[PRISM_MEDIA_FPR_LEN];
    snprintf(fpr, sizeof(fpr), "%s %s", s->fpr_hash, s->fpr_value);
    size_t nu = strlen(s->ice_ufrag) + 1, np = strlen(s->ice_pwd) + 1, nf = strlen(fpr) + 1;
    char *b = malloc(nu + np + nf);
    if (b != NULL) {
        memcpy(b, s->ice_ufrag, nu);
        memcpy(b + nu, s->ice_pwd, np);
        memcpy(b + nu + np, fpr, nf);
    }
    return b;
}

/* The pwd and the fingerprint of a remote_block. */
static const char *block_pwd(const char *b)
{
    return b + strlen(b) + 1;
}

static const char *block_fpr(const char *b)
{
    const char *pwd = block_pwd(b);
    return pwd + strlen(pwd) + 1;
}

bool prism__media_same_fingerprint(const char *cur, const char *next)
{
    struct prism_fingerprint a, b;
    return cur != NULL && next != NULL && prism_cert_fingerprint_parse(block_fpr(cur), &a) == 0 &&
           prism_cert_fingerprint_parse(block_fpr(next), &b) == 0 &&
           prism_cert_fingerprint_equal(&a, &b);
}

bool prism__media_is_ice_restart(const char *cur, const char *next)
{
    return prism__media_same_fingerprint(cur, next) &&
           (strcmp(cur, next) != 0 || strcmp(block_pwd(cur), block_pwd(next)) != 0);
}

enum prism_media_reoffer prism__media_reoffer(const char *cur, const char *next)
{
    if (!prism__media_same_fingerprint(cur, next))
        return PRISM_MEDIA_REOFFER_NEW;
    return prism__media_is_ice_restart(cur, next) ? PRISM_MEDIA_REOFFER_RESTART
                                                  : PRISM_MEDIA_REOFFER_RENEGOTIATE;
}

void prism_media_publish(struct prism_media *m, struct prism_peer *peer, const char *offer,
                         const struct prism_relay_done *done)
{
    struct mpeer *mp = mpeer_get(m, peer);
    if (mp->pub_token != 0) {
        done->cb(done->ud, PRISM_EEXIST, NULL, "a publish of this peer is still being negotiated");
        return;
    }
    struct prism_sdp_session *s = NULL;
    char reason[PRISM_SDP_REASON_LEN];
    int rc = prism_sdp_parse_offer(offer, strlen(offer), &s, reason, sizeof(reason));
    if (rc == 0)
        rc = prism_sdp_negotiate_with(s, PRISM_SDP_ACCEPT_RED, reason, sizeof(reason));
    if (rc != 0) {
        prism_sdp_session_free(s);
        done->cb(done->ud, rc == PRISM_EINVAL ? PRISM_EBADSDP : rc, NULL, reason);
        return;
    }
    /* While the worker gathers, only what the answer and the tracks need
     * stays: the reduced copy and the interned codecs, not the offer. */
    rc = prism_sdp_session_for_answer(s, &mp->pub_answer);
    if (rc == 0)
        rc = tracks_from_offer(m, s, &mp->pending, &mp->n_pending);
    if (rc == 0 && (mp->pub_pending_remote = remote_block(s)) == NULL)
        rc = PRISM_ENOMEM;
    if (rc != 0) {
        pending_clear(m, mp);
        prism_sdp_session_free(s);
        done->cb(done->ud, rc, NULL, NULL);
        return;
    }
    /* pub_remote is set while the transport is open (up or connecting);
     * a failed or closed one has none: a new transport replaces it. */
    mp->pub_reoffer = mp->pub_open ? prism__media_reoffer(mp->pub_remote, mp->pub_pending_remote)
                                   : PRISM_MEDIA_REOFFER_NEW;
    if (!mp->pub_open && !admit_transport(m, peer, done)) {
        pending_clear(m, mp);
        prism_sdp_session_free(s);
        return;
    }

    static const enum prism_worker_msg_type types[] = {
        [PRISM_MEDIA_REOFFER_NEW] = PRISM_WORKER_TRANSPORT_OPEN,
        [PRISM_MEDIA_REOFFER_RESTART] = PRISM_WORKER_TRANSPORT_RESTART,
        [PRISM_MEDIA_REOFFER_RENEGOTIATE] = PRISM_WORKER_TRANSPORT_REOFFER,
    };
    struct prism_msg_transport *msg = remote_msg(types[mp->pub_reoffer], false, s);
    msg->token = mp->pub_token = m->next_token++;
    prism_sdp_session_free(s);
    mp->pub_done = *done;
    post(m, peer, &msg->h);
}

static void subscribers_update(struct prism_media *m, struct prism_bubble *bubble);
static void transport_ended(struct prism_media *m, struct mpeer *mp, bool subscribe);

/* Whether `a` and `b` describe the same streams: kind, mid, SSRCs and
 * simulcast layers (rids or SIM SSRCs with their rtx partners). */
static bool same_streams(const struct pub_track *a, const struct pub_track *b)
{
    if (a->video != b->video || a->ssrc != b->ssrc || a->rtx_ssrc != b->rtx_ssrc ||
        a->n_layers != b->n_layers || strcmp(a->mid, b->mid) != 0)
        return false;
    for (size_t l = 0; l < a->n_layers && l < PRISM_MEDIA_MAX_LAYERS; l++)
        if (a->layer_ssrcs[l] != b->layer_ssrcs[l] ||
            a->layer_rtx_ssrcs[l] != b->layer_rtx_ssrcs[l] || strcmp(a->rids[l], b->rids[l]) != 0)
            return false;
    return true;
}

/* After an ICE restart or a renegotiation, the pending tracks that are the
 * open transport's (same_streams) take over their handles, so the worker
 * keeps their producers and consumers. Returns whether the set of tracks
 * changed (subscribers then need a new offer). */
static bool keep_track_handles(struct mpeer *mp)
{
    bool changed = mp->n_pending != mp->n_tracks;
    for (size_t i = 0; i < mp->n_pending; i++) {
        struct pub_track *p = &mp->pending[i];
        const struct pub_track *same = NULL;
        for (size_t j = 0; j < mp->n_tracks && same == NULL; j++)
            if (same_streams(&mp->tracks[j], p))
                same = &mp->tracks[j];
        if (same != NULL)
            p->handle = same->handle;
        changed = changed || same == NULL || same->codecs != p->codecs ||
                  strcmp(same->track_id, p->track_id) != 0;
    }
    return changed;
}

static void publish_ready(struct prism_media *m, struct mpeer *mp,
                          const struct prism_event_ready *ev)
{
    struct prism_relay_done done = mp->pub_done;
    bool kept = mp->pub_reoffer != PRISM_MEDIA_REOFFER_NEW; /* the same transport */
    bool restart = mp->pub_reoffer == PRISM_MEDIA_REOFFER_RESTART;
    mp->pub_token = 0;
    if (ev->error != 0 && kept) {
        pending_clear(m, mp);
        bool gone = ev->error == PRISM_ENOTFOUND;
        const char *why = restart ? (gone ? "the publish transport ended before its ICE restart: "
                                            "publish again"
                                          : "the publish transport could not restart ICE")
                                  : (gone ? "the publish transport ended before the re-offer "
                                            "reached it: publish again"
                                          : "the publish transport could not take the re-offer");
        done.cb(done.ud, gone ? PRISM_ENOTFOUND : PRISM_EINTERNAL, NULL, why);
        return;
    }
    if (ev->error != 0) {
        pending_clear(m, mp);
        if (!mp->pub_open) {
            transport_gone(m, mp->peer);
        } else {
            /* The worker closed the transport this publish was to replace
             * before the new one failed to open: the peer publishes
             * nothing now, and says so rather than staying `connected`. */
            mp->peer->publish_state = PRISM_TRANSPORT_FAILED;
            transport_ended(m, mp, false);
            emit_state(m, mp->peer, false, PRISM_TRANSPORT_FAILED, "re-publish failed");
        }
        done.cb(done.ud, ev->error == PRISM_EIO ? PRISM_EOVERLOADED : ev->error, NULL,
                "no media socket could be opened (port range or addresses exhausted)");
        return;
    }
    const char *cands[PRISM_MEDIA_MAX_CANDS];
    for (size_t i = 0; i < ev->n_candidates; i++)
        cands[i] = ev->candidates[i];
    struct prism_sdp_local local = {
        .ice_ufrag = ev->ufrag,
        .ice_pwd = ev->pwd,
        .fingerprint = m->fingerprint,
        .candidates = cands,
        .n_candidates = ev->n_candidates,
        .end_of_candidates = true,
        .ice_lite = true, /* every relay transport is ICE-lite (relay/net/ice_lite.h) */
        .session_id = mp->session_id,
        .session_version = mp->pub_answers + 1u,
    };
    char *answer = malloc(PRISM_SDP_MAX_BYTES);
    size_t len = 0;
    int rc = answer != NULL
                 ? prism_sdp_write_answer(mp->pub_answer, &local, answer, PRISM_SDP_MAX_BYTES, &len)
                 : PRISM_ENOMEM;
    prism_sdp_session_free(mp->pub_answer);
    mp->pub_answer = NULL;
    if (rc != 0) {
        free(answer);
        pending_clear(m, mp);
        done.cb(done.ud, PRISM_EINTERNAL, NULL, "could not write the answer");
        return;
    }
    mp->pub_answers++;
    bool changed = !kept || keep_track_handles(mp);
    tracks_free(m, mp->tracks, mp->n_tracks);
    mp->tracks = mp->pending;
    mp->n_tracks = mp->n_pending;
    mp->pending = NULL;
    mp->n_pending = 0;
    free(mp->pub_remote);
    mp->pub_remote = mp->pub_pending_remote;
    mp->pub_pending_remote = NULL;
    mp->pub_reoffer = PRISM_MEDIA_REOFFER_NEW;
    mp->pub_open = true;
    mp->peer->n_tracks = (uint32_t)mp->n_tracks;

    post_tracks(m, mp, mp->n_tracks);

    done.cb(done.ud, 0, &(struct prism_relay_sdp_result){PRISM_RELAY_SDP_ANSWER, answer, 0}, NULL);
    free(answer);
    if (changed)
        subscribers_update(m, mp->peer->bubble);
}

/* --- subscribe ----------------------------------------------------------------- */

struct source {
    struct mpeer *pub;
    struct pub_track *track;
};

struct sources {
    struct prism_media *m;
    struct mpeer *sub;
    struct source list[MAX_LINES * 2];
    size_t n;
};

static void collect_source(void *ud, struct prism_peer *peer)
{
    struct sources *src = ud;
    struct mpeer *mp = g_hash_table_lookup(src->m->peers, &peer->handle);
    if (mp == NULL || mp == src->sub || !mp->pub_open)
        return;
    for (size_t i = 0; i < mp->n_tracks && src->n < PRISM_ARRAY_LEN(src->list); i++)
        src->list[src->n++] = (struct source){mp, &mp->tracks[i]};
}

static uint32_t fresh_ssrc(const struct mpeer *sub)
{
    for (;;) {
        uint32_t v = (uint32_t)random_u64();
        bool used = v == 0;
        for (size_t i = 0; i < sub->n_lines && !used; i++)
            used = sub->lines[i].ssrc == v || sub->lines[i].rtx_ssrc == v;
        if (!used)
            return v;
    }
}

static bool codecs_have_rtx(const struct prism_codecs *c)
{
    for (size_t p = 0; c != NULL && p < c->n_pts; p++)
        if (payload_is_rtx(&c->pts[p]))
            return true;
    return false;
}

static void fill_line(struct line *l, const struct mpeer *sub, const struct source *src)
{
    l->kind = src->track->video ? PRISM_SDP_KIND_VIDEO : PRISM_SDP_KIND_AUDIO;
    l->state = PRISM_SDP_TRACK_SEND;
    l->pub_peer = src->pub->handle;
    l->track = src->track->handle;
    l->ssrc = fresh_ssrc(sub);
    l->rtx_ssrc = 0;
    l->codecs = prism_codecs_ref(src->track->codecs);
    if (codecs_have_rtx(l->codecs))
        l->rtx_ssrc = fresh_ssrc(sub);
    l->removal_confirmed = false;
}

/* A line to (re)use for something new: a confirmed-removed one of `kind`
 * (any kind when `kind` is PRISM_SDP_KIND_OTHER), else a new one, else NULL
 * when the offer is full (or memory is). The line comes back cleared, with a
 * fresh mid. */
static struct line *take_line(struct prism_media *m, struct mpeer *sub, enum prism_sdp_kind kind)
{
    struct line *l = NULL;
    for (size_t i = 0; i < sub->n_lines && l == NULL; i++)
        if (sub->lines[i].removal_confirmed &&
            (kind == PRISM_SDP_KIND_OTHER || sub->lines[i].kind == kind))
            l = &sub->lines[i];
    if (l != NULL) {
        prism_codecs_unref(m->codecs, l->codecs);
    } else if (sub->n_lines < MAX_LINES) {
        if (sub->n_lines == sub->cap_lines) {
            size_t cap = sub->cap_lines == 0 ? 2 : sub->cap_lines * 2;
            cap = cap < MAX_LINES ? cap : MAX_LINES;
            struct line *grown = realloc(sub->lines, cap * sizeof(*grown));
            if (grown == NULL)
                return NULL;
            sub->lines = grown;
            sub->cap_lines = cap;
        }
        l = &sub->lines[sub->n_lines++];
    }
    if (l != NULL) {
        memset(l, 0, sizeof(*l));
        l->mid = sub->next_mid++;
    }
    return l;
}

/* Brings the subscriber's lines in step with the tracks in its bubble. */
static void sync_lines(struct prism_media *m, struct mpeer *sub)
{
    struct sources src = {.m = m, .sub = sub};
    prism_registry_bubble_foreach_peer(sub->peer->bubble, collect_source, &src);
    bool kept[PRISM_ARRAY_LEN(src.list)] = {false};
    for (size_t i = 0; i < sub->n_lines; i++) {
        struct line *l = &sub->lines[i];
        if (l->pub_peer == 0)
            continue;
        bool present = false;
        for (size_t s = 0; s < src.n && !present; s++)
            if (src.list[s].pub->handle == l->pub_peer && src.list[s].track->handle == l->track) {
                present = true;
                kept[s] = true;
            }
        if (!present) { /* its codecs stay: a removed line still writes the first */
            l->state = PRISM_SDP_TRACK_REMOVED;
            l->pub_peer = l->track = 0;
        }
    }
    for (size_t s = 0; s < src.n; s++) {
        if (kept[s])
            continue;
        struct line *l = take_line(
            m, sub, src.list[s].track->video ? PRISM_SDP_KIND_VIDEO : PRISM_SDP_KIND_AUDIO);
        if (l == NULL)
            break; /* the offer is full: later tracks wait for a recycled line */
        fill_line(l, sub, &src.list[s]);
    }
    bool bundled = false;
    for (size_t i = 0; i < sub->n_lines && !bundled; i++)
        bundled = sub->lines[i].state != PRISM_SDP_TRACK_REMOVED;
    if (!bundled) {
        /* An offer needs one bundled m-line (also once every track has
         * left): an inactive audio placeholder, on a recycled line if any. */
        struct line *l = take_line(m, sub, PRISM_SDP_KIND_OTHER);
        if (l != NULL) {
            struct prism_sdp_track t;
            prism_sdp_track_placeholder(&t, "0");
            l->kind = t.kind;
            l->state = t.state;
        }
    }
}

static const struct pub_track *line_source(struct prism_media *m, const struct line *l,
                                           const char **peer_id)
{
    struct mpeer *pub = l->pub_peer != 0 ? g_hash_table_lookup(m->peers, &l->pub_peer) : NULL;
    for (size_t i = 0; pub != NULL && i < pub->n_tracks; i++)
        if (pub->tracks[i].handle == l->track) {
            *peer_id = pub->peer->id;
            return &pub->tracks[i];
        }
    return NULL;
}

/* The subscriber's lines as the SDP writer and parser want them (`out` has
 * room for n_lines). A sending line takes its codecs and extensions from its
 * interned set (its source's) and its msid from its source track; an
 * extension id already bound to another URI in this offer is left out
 * (BUNDLE: one id, one URI). A line without a source writes only its first
 * codec (the placeholder's, for the placeholder). */
static void build_tracks(struct prism_media *m, const struct mpeer *sub,
                         struct prism_sdp_track *out)
{
    for (size_t i = 0; i < sub->n_lines; i++) {
        const struct line *l = &sub->lines[i];
        struct prism_sdp_track *t = &out[i];
        if (l->codecs == NULL) {
            prism_sdp_track_placeholder(t, "0");
        } else {
            memset(t, 0, sizeof(*t));
            t->pts[0] = l->codecs->pts[0];
            t->n_pts = 1;
        }
        snprintf(t->mid, sizeof(t->mid), "%u", l->mid);
        t->kind = l->kind;
        t->state = l->state;
        t->ssrc = l->state == PRISM_SDP_TRACK_SEND ? l->ssrc : 0;
        t->rtx_ssrc = l->state == PRISM_SDP_TRACK_SEND ? l->rtx_ssrc : 0;
        const char *peer_id = "-";
        const struct pub_track *src = line_source(m, l, &peer_id);
        if (src == NULL)
            continue;
        const struct prism_codecs *c = l->codecs; /* == src->codecs */
        snprintf(t->peer_id, sizeof(t->peer_id), "%s", peer_id);
        snprintf(t->track_id, sizeof(t->track_id), "%s", src->track_id);
        t->n_pts = c->n_pts < PRISM_SDP_MAX_TRACK_PT ? c->n_pts : PRISM_SDP_MAX_TRACK_PT;
        for (size_t p = 0; p < t->n_pts; p++)
            t->pts[p] = c->pts[p];
        for (size_t e = 0; e < c->n_exts && t->n_exts < PRISM_SDP_MAX_EXT; e++) {
            bool clash = false;
            for (size_t j = 0; j < i && !clash; j++)
                for (size_t k = 0; k < out[j].n_exts; k++)
                    clash = clash || (out[j].exts[k].id == c->exts[e].id &&
                                      strcmp(out[j].exts[k].uri, c->exts[e].uri) != 0);
            if (!clash)
                t->exts[t->n_exts++] = c->exts[e];
        }
    }
}

/* Where sub->sub_local's ufrag, pwd and candidates start (`cands` has room
 * for PRISM_MEDIA_MAX_CANDS). */
static void sub_local_split(const struct mpeer *sub, const char **ufrag, const char **pwd,
                            const char **cands)
{
    const char *at = sub->sub_local;
    *ufrag = at;
    at += strlen(at) + 1;
    *pwd = at;
    at += strlen(at) + 1;
    for (size_t i = 0; i < sub->n_sub_cands; i++) {
        cands[i] = at;
        at += strlen(at) + 1;
    }
}

/* Writes a new revision of the downstream offer; returns it (malloc'd) or NULL. */
static char *next_offer(struct prism_media *m, struct mpeer *sub)
{
    sync_lines(m, sub);
    if (sub->n_lines == 0)
        return NULL; /* no memory for even the placeholder */
    struct prism_sdp_track *tracks = malloc(sub->n_lines * sizeof(*tracks));
    char *offer = malloc(PRISM_SDP_MAX_BYTES);
    if (tracks == NULL || offer == NULL) {
        free(tracks);
        free(offer);
        return NULL;
    }
    build_tracks(m, sub, tracks);
    const char *cands[PRISM_MEDIA_MAX_CANDS];
    struct prism_sdp_local local = {
        .fingerprint = m->fingerprint,
        .candidates = cands,
        .n_candidates = sub->n_sub_cands,
        .end_of_candidates = true,
        .ice_lite = true, /* every relay transport is ICE-lite (relay/net/ice_lite.h) */
        .session_id = sub->session_id,
        .session_version = sub->revision + 1,
    };
    sub_local_split(sub, &local.ice_ufrag, &local.ice_pwd, cands);
    size_t len;
    int rc = prism_sdp_write_offer(&local, tracks, sub->n_lines, offer, PRISM_SDP_MAX_BYTES, &len);
    free(tracks);
    if (rc != 0) {
        free(offer);
        return NULL;
    }
    sub->revision++;
    sub->outstanding = sub->revision;
    sub->dirty = false;
    return offer;
}

static void send_offer_event(struct prism_media *m, struct mpeer *sub)
{
    char *offer = next_offer(m, sub);
    if (offer == NULL)
        return;
    emit_peer_event(m, sub->peer,
                    (struct prism_relay_event){.type = PRISM_RELAY_EV_PEER_OFFER,
                                               .peer_offer = {offer, sub->revision}});
    free(offer);
}

struct update_ctx {
    struct prism_media *m;
};

static void update_one(void *ud, struct prism_peer *peer)
{
    struct prism_media *m = ((struct update_ctx *)ud)->m;
    struct mpeer *sub = g_hash_table_lookup(m->peers, &peer->handle);
    if (sub == NULL || !sub->sub_ready)
        return;
    if (sub->outstanding != 0)
        sub->dirty = true;
    else
        send_offer_event(m, sub);
}

/* Every subscriber of the bubble gets a new revision, or one once it answers. */
static void subscribers_update(struct prism_media *m, struct prism_bubble *bubble)
{
    struct update_ctx ctx = {m};
    prism_registry_bubble_foreach_peer(bubble, update_one, &ctx);
}

void prism_media_bubble_changed(struct prism_media *m, struct prism_bubble *bubble)
{
    subscribers_update(m, bubble);
}

static void complete_subscribe(struct prism_media *m, struct mpeer *sub,
                               const struct prism_relay_done *done)
{
    char *offer = next_offer(m, sub);
    if (offer == NULL) {
        done->cb(done->ud, PRISM_EINTERNAL, NULL, "could not write the offer");
        return;
    }
    done->cb(done->ud, 0,
             &(struct prism_relay_sdp_result){PRISM_RELAY_SDP_OFFER, offer, sub->revision}, NULL);
    free(offer);
}

void prism_media_subscribe(struct prism_media *m, struct prism_peer *peer, bool ice_restart,
                           const struct prism_relay_done *done)
{
    struct mpeer *mp = mpeer_get(m, peer);
    if (mp->sub_token != 0) {
        done->cb(done->ud, PRISM_EEXIST, NULL,
                 "a subscribe of this peer is still being negotiated");
        return;
    }
    if (mp->sub_ready && mp->sub_remote_set && ice_restart) {
        /* The worker gives the transport new credentials; the offer
         * follows from its READY. (Before the client's first answer there
         * is nothing to restart: a plain re-offer.) */
        struct prism_msg_transport *msg =
            prism_worker_msg_new(PRISM_WORKER_TRANSPORT_RESTART, sizeof(*msg));
        msg->subscribe = true;
        msg->token = mp->sub_token = m->next_token++;
        mp->sub_done = *done;
        mp->sub_restart = true;
        post(m, peer, &msg->h);
        return;
    }
    if (mp->sub_ready) {
        complete_subscribe(m, mp, done); /* a full re-offer under a new revision */
        return;
    }
    if (!admit_transport(m, peer, done))
        return;
    struct prism_msg_transport *msg =
        prism_worker_msg_new(PRISM_WORKER_TRANSPORT_OPEN, sizeof(*msg));
    msg->subscribe = true;
    msg->token = mp->sub_token = m->next_token++;
    mp->sub_done = *done;
    mp->sub_open = true;
    post(m, peer, &msg->h);
}

/* Appends at most `max` bytes of `s` and a NUL at `*at`, and moves past them. */
static void put_str(char **at, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    memcpy(*at, s, n);
    (*at)[n] = '\0';
    *at += n + 1;
}

static void subscribe_ready(struct prism_media *m, struct mpeer *mp,
                            const struct prism_event_ready *ev)
{
    struct prism_relay_done done = mp->sub_done;
    bool restart = mp->sub_restart;
    mp->sub_token = 0;
    mp->sub_restart = false;
    if (ev->error != 0 && restart) {
        done.cb(done.ud, ev->error == PRISM_ENOTFOUND ? PRISM_ENOTFOUND : PRISM_EINTERNAL, NULL,
                ev->error == PRISM_ENOTFOUND
                    ? "the subscribe transport ended before its ICE restart"
                    : "the subscribe transport could not restart ICE");
        return;
    }
    if (ev->error != 0) {
        mp->sub_open = false;
        transport_gone(m, mp->peer);
        done.cb(done.ud, ev->error == PRISM_EIO ? PRISM_EOVERLOADED : ev->error, NULL,
                "no media socket could be opened (port range or addresses exhausted)");
        return;
    }
    /* Kept for every revision of the offer: exactly what the worker gave. */
    size_t n_cands =
        ev->n_candidates < PRISM_MEDIA_MAX_CANDS ? ev->n_candidates : PRISM_MEDIA_MAX_CANDS;
    size_t bytes = strnlen(ev->ufrag, PRISM_MEDIA_ICE_LEN - 1) + 1 +
                   strnlen(ev->pwd, PRISM_MEDIA_ICE_LEN - 1) + 1;
    for (size_t i = 0; i < n_cands; i++)
        bytes += strnlen(ev->candidates[i], PRISM_MEDIA_CAND_LEN - 1) + 1;
    char *local = malloc(bytes), *at = local;
    PRISM_CHECK(local != NULL); /* as mpeer_get(): no sane recovery */
    put_str(&at, ev->ufrag, PRISM_MEDIA_ICE_LEN - 1);
    put_str(&at, ev->pwd, PRISM_MEDIA_ICE_LEN - 1);
    for (size_t i = 0; i < n_cands; i++)
        put_str(&at, ev->candidates[i], PRISM_MEDIA_CAND_LEN - 1);
    free(mp->sub_local);
    mp->sub_local = local;
    mp->n_sub_cands = n_cands;
    mp->sub_ready = true;
    mp->sub_restarting = mp->sub_restarting || restart;
    complete_subscribe(m, mp, &done);
}

/* Whether the subscriber's answer kept an rtx payload type and nack: then
 * the relay answers its NACKs with retransmissions. */
static bool answer_wants_rtx(const struct prism_sdp_media *sec)
{
    bool rtx = false, nack = false;
    for (size_t p = 0; p < sec->n_pts; p++) {
        rtx = rtx || payload_is_rtx(&sec->pts[p]);
        nack = nack || (sec->pts[p].fb & PRISM_SDP_FB_NACK) != 0;
    }
    return rtx && nack;
}

/* Whether the subscriber's answer kept red (RFC 2198): then RED reaches it
 * as the publisher sent it. */
static bool answer_wants_red(const struct prism_sdp_media *sec)
{
    for (size_t p = 0; sec->kind == PRISM_SDP_KIND_AUDIO && p < sec->n_pts; p++)
        if (g_ascii_strcasecmp(sec->pts[p].name, "red") == 0)
            return true;
    return false;
}

int prism_media_answer(struct prism_media *m, struct prism_peer *peer, const char *answer,
                       uint64_t revision, char *msg, size_t msg_len)
{
    struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    if (mp == NULL || mp->outstanding == 0 || mp->outstanding != revision) {
        snprintf(msg, msg_len, "revision %llu is not the outstanding offer of this peer",
                 (unsigned long long)revision);
        return PRISM_ENOTFOUND;
    }
    struct prism_sdp_track *offered = malloc(mp->n_lines * sizeof(*offered));
    if (offered == NULL)
        return PRISM_ENOMEM;
    build_tracks(m, mp, offered);
    char reason[PRISM_SDP_REASON_LEN];
    struct prism_sdp_session *s = NULL;
    int rc = prism_sdp_parse_answer(answer, strlen(answer), offered, mp->n_lines, &s, reason,
                                    sizeof(reason));
    free(offered);
    if (rc == PRISM_ENOMEM)
        return rc;
    if (rc != 0) {
        snprintf(msg, msg_len, "%s", reason);
        return PRISM_EBADSDP;
    }
    /* The first answer gives the transport the client's credentials; the
     * first one after a restart offer its new ones, under the same
     * certificate (a new one would be a new DTLS association). */
    if (!mp->sub_remote_set || mp->sub_restarting) {
        char *remote = remote_block(s);
        if (remote == NULL) {
            prism_sdp_session_free(s);
            return PRISM_ENOMEM;
        }
        if (mp->sub_remote_set && !prism__media_same_fingerprint(mp->sub_remote, remote)) {
            free(remote);
            prism_sdp_session_free(s);
            snprintf(msg, msg_len,
                     "an ICE restart keeps the DTLS association: the answer's "
                     "fingerprint must be the transport's");
            return PRISM_EBADSDP;
        }
        struct prism_msg_transport *rm = remote_msg(PRISM_WORKER_TRANSPORT_REMOTE, true, s);
        rm->ice_restart = mp->sub_remote_set;
        post(m, peer, &rm->h);
        mp->sub_remote_set = true;
        mp->sub_restarting = false;
        free(mp->sub_remote);
        mp->sub_remote = remote;
    }
    struct prism_msg_routes *routes = prism_worker_msg_new(
        PRISM_WORKER_ROUTES, sizeof(*routes) + mp->n_lines * sizeof(routes->routes[0]));
    routes->max_kbps = peer->bubble->tenant->limits.max_kbps;
    for (size_t i = 0; i < mp->n_lines && i < s->n_media; i++) {
        struct line *l = &mp->lines[i];
        if (l->state == PRISM_SDP_TRACK_REMOVED)
            l->removal_confirmed = true;
        if (l->state == PRISM_SDP_TRACK_SEND && l->pub_peer != 0 && s->media[i].accepted)
            routes->routes[routes->n_routes++] = (struct prism_route_desc){
                l->pub_peer, l->track, l->ssrc, answer_wants_rtx(&s->media[i]) ? l->rtx_ssrc : 0,
                answer_wants_red(&s->media[i])};
    }
    prism_sdp_session_free(s);
    post(m, peer, &routes->h);
    mp->outstanding = 0;
    if (mp->dirty)
        send_offer_event(m, mp);
    return 0;
}

void prism_media_set_loopback_ok(struct prism_media *m, bool loopback_ok)
{
    m->loopback_ok = loopback_ok;
}

int prism_media_candidate(struct prism_media *m, struct prism_peer *peer, bool subscribe,
                          const char *candidate, char *msg, size_t msg_len)
{
    struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    bool open = mp != NULL && (subscribe ? mp->sub_open : (mp->pub_open || mp->pub_token != 0));
    if (!open) {
        snprintf(msg, msg_len, "this peer has no %s transport",
                 subscribe ? "subscribe" : "publish");
        return PRISM_ENOTFOUND;
    }
    _Static_assert(PRISM_MEDIA_CAND_LEN >= PRISM_CANDIDATE_LEN, "a valid candidate fits");
    if (candidate != NULL) {
        size_t len = strnlen(candidate, PRISM_CANDIDATE_LEN + 2);
        struct prism_candidate c;
        if (!prism_candidate_framed(candidate, len)) {
            snprintf(msg, msg_len,
                     "params.candidate must be an a=candidate value "
                     "(\"candidate:...\", under 256 bytes) or null");
            return PRISM_EINVAL;
        }
        if (prism_candidate_parse(candidate, len, &c) != 0) {
            snprintf(msg, msg_len, "params.candidate is malformed (%s)", c.reason);
            return PRISM_EINVAL;
        }
        const char *refused = prism_candidate_refused(&c, m->loopback_ok);
        if (refused != NULL) {
            snprintf(msg, msg_len, "params.candidate is refused (%s)", refused);
            return PRISM_EINVAL;
        }
    }
    struct prism_msg_candidate *w = prism_worker_msg_new(PRISM_WORKER_CANDIDATE, sizeof(*w));
    w->subscribe = subscribe;
    if (candidate == NULL)
        w->end_of_candidates = true;
    else
        snprintf(w->candidate, sizeof(w->candidate), "%s",
                 strncmp(candidate, "a=", 2) == 0 ? candidate + 2 : candidate);
    post(m, peer, &w->h);
    return 0;
}

/* --- lifecycle ----------------------------------------------------------------- */

static void emit_closed(struct prism_media *m, struct mpeer *mp)
{
    if (mp->pub_open)
        emit_state(m, mp->peer, false, PRISM_TRANSPORT_CLOSED, NULL);
    if (mp->sub_open)
        emit_state(m, mp->peer, true, PRISM_TRANSPORT_CLOSED, NULL);
}

void prism_media_peer_leaving(struct prism_media *m, struct prism_peer *peer)
{
    struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    if (mp == NULL)
        return;
    post(m, peer, prism_worker_msg_new(PRISM_WORKER_PEER_CLOSE, sizeof(struct prism_worker_msg)));
    emit_closed(m, mp);
    g_hash_table_remove(m->peers, &peer->handle);
    mpeer_free(m, mp);
}

static void forget_peer(void *ud, struct prism_peer *peer)
{
    struct prism_media *m = ud;
    struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    if (mp == NULL)
        return;
    emit_closed(m, mp);
    g_hash_table_remove(m->peers, &peer->handle);
    mpeer_free(m, mp);
}

void prism_media_bubble_opened(struct prism_media *m, struct prism_bubble *bubble)
{
    g_hash_table_insert(m->bubbles, &bubble->handle, bubble);
}

void prism_media_bubble_ending(struct prism_media *m, struct prism_bubble *bubble)
{
    prism_registry_bubble_foreach_peer(bubble, forget_peer, m);
    g_hash_table_remove(m->bubbles, &bubble->handle);
    prism_media_counters_add(&bubble->tenant->ended, &bubble->counters);
}

/* The worker closed a failed or peer-closed transport: what it carried is
 * gone, and a later publish or subscribe starts a new one from scratch. */
static void transport_ended(struct prism_media *m, struct mpeer *mp, bool subscribe)
{
    if (subscribe ? !mp->sub_open : !mp->pub_open)
        return;
    transport_gone(m, mp->peer);
    if (subscribe) {
        mp->sub_open = mp->sub_ready = mp->sub_remote_set = mp->dirty = false;
        mp->sub_restarting = false;
        free(mp->sub_remote);
        mp->sub_remote = NULL;
        mp->outstanding = 0;
        lines_clear(m, mp);
        free(mp->sub_local);
        mp->sub_local = NULL;
        mp->n_sub_cands = 0;
        post(m, mp->peer,
             prism_worker_msg_new(PRISM_WORKER_ROUTES, sizeof(struct prism_msg_routes)));
        return;
    }
    mp->pub_open = false;
    free(mp->pub_remote);
    mp->pub_remote = NULL;
    tracks_free(m, mp->tracks, mp->n_tracks);
    mp->tracks = NULL;
    mp->n_tracks = 0;
    mp->peer->n_tracks = 0;
    post_tracks(m, mp, 0);
    subscribers_update(m, mp->peer->bubble);
}

void prism_media_on_event(struct prism_media *m, const struct prism_worker_event *ev)
{
    if (ev->type == PRISM_WORKER_EV_STATS) {
        struct prism_bubble *b = g_hash_table_lookup(m->bubbles, &ev->bubble);
        if (b != NULL)
            b->counters =
                PRISM_EVENT_AS(struct prism_event_stats, ev, PRISM_WORKER_EV_STATS)->counters;
        return;
    }
    struct mpeer *mp = g_hash_table_lookup(m->peers, &ev->peer);
    if (mp == NULL)
        return; /* the peer left meanwhile */
    if (ev->type == PRISM_WORKER_EV_SPEAKER) {
        emit_peer_event(m, mp->peer,
                        (struct prism_relay_event){.type = PRISM_RELAY_EV_BUBBLE_SPEAKER});
        return;
    }
    if (ev->type == PRISM_WORKER_EV_READY) {
        const struct prism_event_ready *r =
            PRISM_EVENT_AS(struct prism_event_ready, ev, PRISM_WORKER_EV_READY);
        if (!r->subscribe && r->token == mp->pub_token)
            publish_ready(m, mp, r);
        else if (r->subscribe && r->token == mp->sub_token)
            subscribe_ready(m, mp, r);
        return;
    }
    if (ev->type == PRISM_WORKER_EV_STATE) {
        const struct prism_event_state *st =
            PRISM_EVENT_AS(struct prism_event_state, ev, PRISM_WORKER_EV_STATE);
        struct prism_peer *p = mp->peer;
        if (st->subscribe)
            p->subscribe_state = st->state;
        else
            p->publish_state = st->state;
        if (st->state == PRISM_TRANSPORT_FAILED || st->state == PRISM_TRANSPORT_CLOSED)
            transport_ended(m, mp, st->subscribe);
        emit_state(m, p, st->subscribe, st->state, st->reason);
    }
}

size_t prism_media_tracks(struct prism_media *m, const struct prism_peer *peer,
                          struct prism_relay_track_info *out, size_t cap)
{
    struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    size_t n = mp != NULL ? mp->n_tracks : 0;
    for (size_t i = 0; i < n && i < cap; i++) {
        out[i].video = mp->tracks[i].video;
        snprintf(out[i].track, sizeof(out[i].track), "%s", mp->tracks[i].track_id);
        snprintf(out[i].mid, sizeof(out[i].mid), "%s", mp->tracks[i].mid);
    }
    return n;
}

/* The subscriber gets an mpeer even before it has a transport, so that
 * peer.leave closes its worker-side peer, which now holds the preference. */
int prism_media_prefer(struct prism_media *m, struct prism_peer *sub, struct prism_peer *publisher,
                       const struct prism_relay_prefer *pref, char *msg, size_t msg_len)
{
    uint64_t track = 0;
    if (pref->track != NULL) {
        const struct mpeer *pub = g_hash_table_lookup(m->peers, &publisher->handle);
        for (size_t i = 0; pub != NULL && i < pub->n_tracks && track == 0; i++)
            if (strcmp(pub->tracks[i].track_id, pref->track) == 0)
                track = pub->tracks[i].handle;
        if (track == 0) {
            snprintf(msg, msg_len, "the publisher has no such track");
            return PRISM_ENOTFOUND;
        }
    }
    (void)mpeer_get(m, sub);
    struct prism_msg_prefer *pm = prism_worker_msg_new(PRISM_WORKER_PREFER, sizeof(*pm));
    pm->publisher = publisher->handle;
    pm->track = track;
    pm->paused = pref->paused;
    pm->max_height = pref->max_height;
    pm->max_fps = pref->max_fps;
    post(m, sub, &pm->h);
    return 0;
}

unsigned prism_media_peer_transports(struct prism_media *m, const struct prism_peer *peer)
{
    const struct mpeer *mp = g_hash_table_lookup(m->peers, &peer->handle);
    if (mp == NULL)
        return 0;
    return (pub_admitted(mp) ? 1u : 0u) | (mp->sub_open ? 2u : 0u);
}

void prism_media_admission(const struct prism_media *m, size_t *open, size_t *max)
{
    *open = m->transports;
    *max = m->max_transports;
}
