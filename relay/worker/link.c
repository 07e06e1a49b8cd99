/* The transports of a peer (struct link: publish or subscribe): opening
 * them on the control thread's word, the client's credentials and
 * candidates, ICE restarts (TRANSPORT_RESTART: new credentials on the same
 * transport, DTLS and SRTP kept), renegotiations (TRANSPORT_REOFFER:
 * nothing changes but the answer needs our credentials and candidates
 * again), and what they report back (READY with our candidates, STATE
 * changes).
 *
 * Worker thread. A link's transport reports through the callbacks below
 * with the link as `ud`; media goes to ingress.c. A link whose transport
 * failed or closed drops it (its counters go to the room's totals) and may
 * be opened again by a later TRANSPORT_OPEN.
 *
 * The SSRCs a transport accepts (prism__link_set_ssrcs, issue 9 finding 2):
 * a publisher's are negotiated (TRACKS: each track's SSRC and rtx SSRC, or
 * for SSRC simulcast each layer's), plus, for a track announced without
 * SSRC (rid simulcast, mid-bound), room for the streams of its layers
 * (RID_TRACK_SSRCS), and OTHER_SSRCS for what no TRACKS names (RTCP-only
 * SSRCs). A
 * subscriber sends only RTCP, from receiver SSRCs it never announces: room
 * for one per route (aiortc and Firefox use one per transceiver) plus
 * OTHER_SSRCS. Everything else is dropped before decryption (ssrc_limit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/worker/room_internal.h"

/* Appends `cand` to a heap list of at most PRISM_MEDIA_MAX_CANDS; the
 * list grows one entry at a time (a few per transport, control path). */
static void cands_push(char (**list)[PRISM_MEDIA_CAND_LEN], size_t *n, const char *cand)
{
    if (*n >= PRISM_MEDIA_MAX_CANDS)
        return;
    char(*grown)[PRISM_MEDIA_CAND_LEN] = realloc(*list, (*n + 1) * sizeof(**list));
    PRISM_CHECK(grown != NULL);
    *list = grown;
    snprintf(grown[(*n)++], PRISM_MEDIA_CAND_LEN, "%s", cand);
}

static void cands_clear(char (**list)[PRISM_MEDIA_CAND_LEN], size_t *n)
{
    free(*list);
    *list = NULL;
    *n = 0;
}

static void send_ready(struct link *l, int error)
{
    if (l->ready_sent)
        return;
    l->ready_sent = true;
    size_t n = error == 0 ? l->n_cands : 0;
    struct prism_event_ready *ev =
        prism_worker_event_new(PRISM_WORKER_EV_READY, sizeof(*ev) + n * sizeof(ev->candidates[0]));
    ev->h.bubble = l->peer->room->handle;
    ev->h.peer = l->peer->handle;
    ev->subscribe = l->subscribe;
    ev->token = l->token;
    ev->error = error;
    if (error == 0) {
        const char *ufrag, *pwd;
        prism_transport_local_credentials(l->t, &ufrag, &pwd);
        snprintf(ev->ufrag, sizeof(ev->ufrag), "%s", ufrag);
        snprintf(ev->pwd, sizeof(ev->pwd), "%s", pwd);
        memcpy(ev->candidates, l->cands, n * sizeof(ev->candidates[0]));
        ev->n_candidates = n;
    }
    cands_clear(&l->cands, &l->n_cands);
    prism__rooms_post(l->peer->room->rooms, &ev->h);
}

static void on_candidate(void *ud, const char *candidate)
{
    struct link *l = ud;
    if (!l->ready_sent)
        cands_push(&l->cands, &l->n_cands, candidate);
}

static void on_gathering_done(void *ud)
{
    send_ready(ud, 0);
}

void prism__link_close(struct link *l)
{
    cands_clear(&l->cands, &l->n_cands);
    cands_clear(&l->early, &l->n_early);
    if (l->t == NULL)
        return;
    if (!l->subscribe) {
        free(l->peer->tcc);
        l->peer->tcc = NULL;
        prism__tracks_stop_nack(l->peer);
    } else {
        prism__subscriber_stop_bwe(l->peer);
    }
    prism_media_counters_add(&l->peer->room->closed, prism_transport_counters(l->t));
    prism_transport_close(l->t, NULL);
    l->t = NULL;
}

/* A publish transport that negotiated transport-cc owes feedback once
 * connected: its arrival history (32 KiB) exists from then on only. */
static void start_tcc(struct peer *p)
{
    if (p->ext_ids.transport_seq == 0 || p->tcc != NULL)
        return;
    p->tcc = malloc(sizeof(*p->tcc));
    PRISM_CHECK(p->tcc != NULL);
    prism_tcc_init(p->tcc);
}

void prism__link_publish_connected(struct peer *p)
{
    start_tcc(p);
    prism__tracks_start_nack(p);
}

static void on_status(void *ud, enum prism_transport_state st, const char *reason)
{
    struct link *l = ud;
    struct peer *p = l->peer;
    struct prism_event_state *ev = prism_worker_event_new(PRISM_WORKER_EV_STATE, sizeof(*ev));
    ev->h.bubble = p->room->handle;
    ev->h.peer = p->handle;
    ev->subscribe = l->subscribe;
    ev->state = st;
    snprintf(ev->reason, sizeof(ev->reason), "%s", reason != NULL ? reason : "");
    prism__rooms_post(p->room->rooms, &ev->h);
    if (st == PRISM_TRANSPORT_CONNECTED && l->subscribe) {
        prism__subscriber_start_bwe(p);
        prism__subscriber_wants_keyframes(p); /* a new subscriber needs them now */
    }
    if (st == PRISM_TRANSPORT_CONNECTED && !l->subscribe)
        prism__link_publish_connected(p);
    if (st == PRISM_TRANSPORT_FAILED || st == PRISM_TRANSPORT_CLOSED)
        prism__link_close(l);
}

static const struct prism_transport_callbacks transport_cb = {
    .on_rtp = prism__ingress_rtp,
    .on_rtcp = prism__ingress_rtcp,
    .on_status = on_status,
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
};

/* The client's credentials, fingerprint and candidates (with any that came
 * early), then end-of-candidates if it said so. */
static int set_remote(struct link *l, const struct prism_msg_transport *msg)
{
    int rc = prism_transport_set_remote(l->t, msg->ufrag, msg->pwd, msg->fingerprint);
    if (rc != 0)
        return rc;
    l->remote_set = true;
    for (size_t i = 0; i < msg->n_candidates; i++)
        prism_transport_add_remote_candidate(l->t, msg->candidates[i]);
    for (size_t i = 0; i < l->n_early; i++)
        prism_transport_add_remote_candidate(l->t, l->early[i]);
    if (msg->end_of_candidates || l->early_end)
        prism_transport_add_remote_candidate(l->t, NULL);
    cands_clear(&l->early, &l->n_early);
    return 0;
}

void prism__link_open(struct link *l, const struct prism_msg_transport *msg)
{
    struct prism_rooms *rooms = l->peer->room->rooms;
    prism__link_close(l);
    l->token = msg->token;
    l->ready_sent = false;
    l->remote_set = false;
    l->early_end = false;
    const struct prism_config *cfg = rooms->shared->cfg;
    /* ICE-lite on the worker's media socket: its addresses, port and
     * advertised address make the candidates; the client checks and
     * nominates on both transports (the relay is always controlled). */
    struct prism_transport_config tc = {
        .lite = rooms->msock,
        .silence_timeout_ms = cfg->ice_timeout_ms,
        .dtls_ctx = rooms->shared->dtls_ctx,
        .dtls_role = PRISM_DTLS_SERVER,
        .egress = rooms->egress,
        .connect_timeout_ms = cfg->connect_timeout_ms,
    };
    int rc = prism_transport_new(rooms->loop, &tc, &transport_cb, l, &l->t);
    if (rc != 0) {
        l->t = NULL;
        send_ready(l, rc);
        return;
    }
    prism__link_set_ssrcs(l);
    /* The publisher offered: its credentials and candidates are known. */
    if (msg->has_remote)
        rc = set_remote(l, msg);
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

void prism__link_remote(struct link *l, const struct prism_msg_transport *msg)
{
    if (l->t == NULL || !msg->has_remote)
        return;
    if (msg->ice_restart) /* refused: its checks fail, then silence fails it */
        (void)prism_transport_restart_remote(l->t, msg->ufrag, msg->pwd, msg->fingerprint);
    else
        (void)set_remote(l, msg);
}

void prism__link_restart(struct link *l, const struct prism_msg_transport *msg)
{
    l->token = msg->token;
    l->ready_sent = false;
    if (l->t == NULL) {
        /* It failed or closed before the restart came: its STATE went
         * first, and the control thread learns why from it. */
        send_ready(l, PRISM_ENOTFOUND);
        return;
    }
    /* Our candidates come again through on_candidate, then READY. */
    int rc = msg->has_remote
                 ? prism_transport_restart_ice(l->t, msg->ufrag, msg->pwd, msg->fingerprint)
                 : prism_transport_restart_ice(l->t, NULL, NULL, NULL);
    if (rc != 0)
        send_ready(l, rc);
}

void prism__link_renegotiate(struct link *l, const struct prism_msg_transport *msg)
{
    l->token = msg->token;
    l->ready_sent = false;
    if (l->t == NULL) {
        send_ready(l, PRISM_ENOTFOUND); /* as for a restart */
        return;
    }
    /* Our candidates come again through on_candidate, then READY. */
    int rc = prism_transport_renegotiate(l->t, msg->ufrag, msg->pwd, msg->fingerprint);
    if (rc != 0)
        send_ready(l, rc);
}

void prism__link_candidate(struct link *l, const struct prism_msg_candidate *msg)
{
    if (l->t == NULL)
        return;
    if (l->remote_set)
        prism_transport_add_remote_candidate(l->t, msg->end_of_candidates ? NULL : msg->candidate);
    else if (msg->end_of_candidates)
        l->early_end = true;
    else
        cands_push(&l->early, &l->n_early, msg->candidate);
}

/* SSRCs no TRACKS names that a transport still accepts. */
#define OTHER_SSRCS 4
/* Streams of a track announced without SSRC: 3 rid layers, each with rtx. */
#define RID_TRACK_SSRCS 6

void prism__link_set_ssrcs(struct link *l)
{
    struct peer *p = l->peer;
    if (l->t == NULL)
        return;
    uint32_t ssrcs[2 * PRISM_MEDIA_MAX_TRACKS * PRISM_MEDIA_MAX_LAYERS];
    size_t n = 0, n_other = OTHER_SSRCS;
    if (l->subscribe) {
        n_other += p->n_routes;
    } else {
        for (size_t i = 0; i < p->n_tracks && i < PRISM_MEDIA_MAX_TRACKS; i++) {
            const struct prism_track_desc *d = &p->tracks[i].d;
            bool by_ssrc = d->n_layers > 1 && d->rids[0][0] == '\0'; /* SIM group */
            if (d->ssrc != 0)
                ssrcs[n++] = d->ssrc;
            else if (!by_ssrc)
                n_other += RID_TRACK_SSRCS;
            if (d->rtx_ssrc != 0)
                ssrcs[n++] = d->rtx_ssrc;
            for (uint8_t k = 0; by_ssrc && k < d->n_layers && k < PRISM_MEDIA_MAX_LAYERS; k++) {
                if (d->layer_ssrcs[k] != 0)
                    ssrcs[n++] = d->layer_ssrcs[k];
                if (d->layer_rtx_ssrcs[k] != 0)
                    ssrcs[n++] = d->layer_rtx_ssrcs[k];
            }
        }
    }
    /* Only PRISM_ENOMEM can fail here: the previous setting then stays. */
    (void)prism_transport_set_ssrcs(l->t, ssrcs, n, n_other);
}
