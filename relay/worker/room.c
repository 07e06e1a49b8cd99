/* A worker's rooms (see room.h): the control thread's messages turned into
 * peers, transports, producers and consumers, and the worker's periodic
 * duties toward them.
 *
 * The files of a room, each with one job:
 *   room.c       rooms and peers; TRACKS -> producers, ROUTES -> consumers;
 *                the one-second tick (counters, reports, speaker)
 *   link.c       a peer's two transports and their events
 *   ingress.c    the per-packet path in, up to the router
 *   router.c     producers, consumers, fan-out and rewriting
 *   publisher.c  RTCP to publishers: keyframe requests, reports, feedback
 *   subscriber.c a subscriber's downlink estimate and simulcast layers
 *   feedback.c   the policies behind those, pure
 *
 * Consumers are derived state: each subscriber keeps the routes the control
 * thread gave it. New routes sync that subscriber's consumers (sync_sub,
 * O(routes + consumers)); new tracks sync every subscriber's, since any may
 * route to them; a peer that leaves takes its producers and consumers out
 * of the router with it. Control messages only, never per packet.
 *
 * Dominant speaker: audio packets' RFC 6464 levels (a header the relay reads
 * anyway; never the payload) are metered per track and, once a second, the
 * loudest mostly-voiced publisher becomes the bubble's speaker.
 *
 * What a subscriber receives: its consumers are paused where the backend
 * asked (peer.prefer, kept per subscriber in prefer.h's set) or where the
 * bubble's last-N leaves a publisher's video out (the ranking of feedback.h,
 * bumped by each second's speaker). Both are applied whenever consumers are
 * made (sync_sub) and whenever either changes: control messages and the
 * one-second tick, never per packet. A paused consumer is skipped by the
 * router's fan-out; a video one that resumes asks for a keyframe.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/worker/room_internal.h"

void prism__rooms_post(struct prism_rooms *rooms, struct prism_worker_event *ev)
{
    prism_mailbox_post(rooms->shared->control, &ev->mail);
}

static uint32_t random_ssrc(void)
{
    uint32_t v = 0;
    while (v == 0)
        PRISM_CHECK(RAND_bytes((unsigned char *)&v, sizeof(v)) == 1);
    return v;
}

struct peer *prism__room_peer(struct room *room, uint64_t handle)
{
    return g_hash_table_lookup(room->peers, &handle);
}

/* --- consumers from routes ------------------------------------------------------ */

static bool publishes_video(const struct peer *p)
{
    for (size_t i = 0; i < p->n_tracks; i++)
        if (p->tracks[i].d.video && p->tracks[i].producer != NULL)
            return true;
    return false;
}

/* Pauses or resumes each of `sub`'s consumers as its preferences and the
 * bubble's last-N say. A video consumer that resumes asks its publisher for
 * a keyframe: the subscriber's decoder has nothing to start from. O(consumers
 * * preferences). */
static void apply_prefs(struct peer *sub)
{
    for (struct prism_consumer *c = sub->out.consumers; c != NULL; c = prism_consumer_next(c)) {
        struct track *tr = prism_producer_owner(prism_consumer_producer(c));
        const struct prism_prefer *pref =
            prism_prefer_set_find(&sub->prefs, tr->peer->handle, tr->d.handle);
        bool paused = prism_prefer_paused(pref, tr->d.video, tr->peer->last_n_out);
        if (paused == prism_consumer_paused(c))
            continue;
        prism_consumer_set_paused(c, paused);
        if (!paused)
            prism__publisher_keyframe(tr, prism_consumer_layer(c));
    }
}

/* Sets each peer's last_n_out from the ranking: with last_n N, the video
 * publishers outside the N most recent speakers; nobody with last_n 0. When
 * that changes, every subscriber's consumers follow. O(peers * N), on a
 * change of the set of publishers, of last_n, or of who speaks. */
static void rank_speakers(struct room *room)
{
    struct prism_last_n_select sel;
    GHashTableIter it;
    gpointer value;
    if (room->last_n > 0) {
        prism_last_n_init(&sel, room->last_n_top, room->last_n);
        g_hash_table_iter_init(&it, room->peers);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            struct peer *p = value;
            if (publishes_video(p))
                prism_last_n_offer(&sel, p->handle, &p->recency);
        }
    }
    bool changed = false;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct peer *p = value;
        bool out = room->last_n > 0 && publishes_video(p) && !prism_last_n_has(&sel, p->handle);
        changed |= out != p->last_n_out;
        p->last_n_out = out;
    }
    if (!changed)
        return;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        apply_prefs(value);
}

/* Makes `sub`'s consumers match its routes: keeps those still routed, adds
 * the missing ones whose producer exists, removes the rest. A subscriber's
 * relay SSRCs are unique, so its consumers are indexed by SSRC for the
 * match: O(routes + consumers). */
static void sync_sub(struct peer *sub)
{
    struct room *room = sub->room;
    GHashTable *stale = g_hash_table_new(g_direct_hash, g_direct_equal); /* ssrc -> consumer */
    for (struct prism_consumer *c = sub->out.consumers; c != NULL; c = prism_consumer_next(c))
        g_hash_table_insert(stale, GUINT_TO_POINTER(prism_consumer_ssrc(c)), c);
    for (size_t r = 0; r < sub->n_routes; r++) {
        const struct prism_route_desc *rd = &sub->routes[r];
        struct prism_producer *p =
            prism_router_producer_find(room->router, rd->publisher, rd->track);
        if (p == NULL)
            continue;
        struct prism_consumer *c = g_hash_table_lookup(stale, GUINT_TO_POINTER(rd->ssrc));
        if (c == NULL) {
            c = prism_router_consumer_add(&sub->out, p, rd->ssrc);
        } else if (prism_consumer_producer(c) == p || prism_router_consumer_switch(c, p) == 0) {
            /* Still routed; an SSRC that now names another track is that
             * consumer's new source, continuous for the subscriber. */
            g_hash_table_remove(stale, GUINT_TO_POINTER(rd->ssrc));
        } else {
            c = NULL;
        }
        /* Retransmissions where the subscriber took rtx and the track has it
         * (otherwise its NACKs go unanswered, as they did before). */
        if (c != NULL && prism_consumer_set_rtx(c, rd->rtx_ssrc) != 0)
            (void)prism_consumer_set_rtx(c, 0);
        if (c != NULL) /* RED as is, or its primary block as Opus */
            prism_consumer_set_red(c, rd->red);
    }
    GHashTableIter it; /* what is left is no longer routed */
    gpointer value;
    g_hash_table_iter_init(&it, stale);
    while (g_hash_table_iter_next(&it, NULL, &value))
        prism_router_consumer_remove(value);
    g_hash_table_destroy(stale);
    apply_prefs(sub); /* new consumers start as the preferences say */
}

static void sync_consumers(struct room *room)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        sync_sub(value);
}

/* --- peers ------------------------------------------------------------------------- */

/* The subscriber's sink: its subscribe transport protects and queues.
 * A subscriber whose transport is not connected (not yet: its consumers
 * exist from the subscribe request on; or no longer) cannot be sent to:
 * the packet goes back to the pool, not counted as an egress drop, which
 * is for what could not leave a connected transport (peer.state tells the
 * transport's state). */
static void sink_send(void *ud, uint8_t *buf, size_t len)
{
    struct peer *p = ud;
    if (p->sub.t != NULL && prism_transport_status(p->sub.t) == PRISM_TRANSPORT_CONNECTED)
        (void)prism_transport_queue_rtp(p->sub.t, buf, len);
    else
        prism_egress_buf_put(p->room->rooms->egress, buf);
}

static struct peer *peer_get(struct prism_rooms *rooms, const struct prism_worker_msg *msg)
{
    struct room *room = g_hash_table_lookup(rooms->rooms, &msg->bubble);
    if (room == NULL)
        return NULL;
    struct peer *p = prism__room_peer(room, msg->peer);
    if (p != NULL)
        return p;
    p = calloc(1, sizeof(*p));
    PRISM_CHECK(p != NULL);
    p->handle = msg->peer;
    p->room = room;
    p->pub.peer = p->sub.peer = p;
    p->sub.subscribe = true;
    p->rtcp_ssrc = random_ssrc();
    p->recency.joined = p->handle; /* handles grow with joins */
    prism_router_sub_init(room->router, &p->out, p->handle,
                          &(struct prism_router_sink){sink_send, p});
    g_hash_table_insert(room->peers, &p->handle, p);
    g_hash_table_insert(rooms->peers, &p->handle, p);
    return p;
}

/* Gives `*slot` a NACK generator when `want`, else none. */
static void nack_want(struct prism_nack_gen **slot, bool want)
{
    if (!want) {
        free(*slot);
        *slot = NULL;
    } else if (*slot == NULL) {
        *slot = malloc(sizeof(**slot));
        PRISM_CHECK(*slot != NULL);
        prism_nack_gen_init(*slot);
    }
}

void prism__tracks_start_nack(struct peer *p)
{
    for (size_t i = 0; i < p->n_tracks; i++) {
        struct track *tr = &p->tracks[i];
        nack_want(&tr->nack, track_nacks(tr) && !track_simulcast(tr));
        for (uint8_t l = 0; tr->layers != NULL && l < PRISM_MEDIA_MAX_LAYERS; l++)
            nack_want(&tr->layers[l].nack, track_nacks(tr) && l < tr->d.n_layers);
    }
}

void prism__tracks_stop_nack(struct peer *p)
{
    for (size_t i = 0; i < p->n_tracks; i++) {
        struct track *tr = &p->tracks[i];
        nack_want(&tr->nack, false);
        for (uint8_t l = 0; tr->layers != NULL && l < PRISM_MEDIA_MAX_LAYERS; l++)
            nack_want(&tr->layers[l].nack, false);
    }
}

/* A simulcast track's layers exist while it has them (~300 bytes, so
 * other tracks pay nothing); kept layers keep their statistics (and NACK
 * state: prism__tracks_start_nack() sizes it to the layers). */
static void set_layers(struct track *tr)
{
    PRISM_CHECK(tr->d.n_layers <= PRISM_MEDIA_MAX_LAYERS); /* media.c keeps at most that */
    if (!track_simulcast(tr)) {
        for (uint8_t l = 0; tr->layers != NULL && l < PRISM_MEDIA_MAX_LAYERS; l++)
            free(tr->layers[l].nack);
        free(tr->layers);
        tr->layers = NULL;
        return;
    }
    if (tr->layers != NULL)
        return;
    tr->layers = calloc(PRISM_MEDIA_MAX_LAYERS, sizeof(*tr->layers));
    PRISM_CHECK(tr->layers != NULL);
    for (size_t l = 0; l < PRISM_MEDIA_MAX_LAYERS; l++)
        prism_rtp_seq_stats_init(&tr->layers[l].stats);
}

/* A kept track's streams after TRACKS replaced its description with `d`:
 * what the demux learned (`was`: SSRCs bound by mid, payload type or rid)
 * stays where `d` announces nothing, and a stream now on another SSRC
 * starts its NACK state afresh. */
static void keep_learned(struct track *tr, const struct prism_track_desc *was)
{
    if (tr->d.ssrc == 0 && !track_simulcast(tr)) /* a simulcast track's stays 0 */
        tr->d.ssrc = was->ssrc;
    if (tr->d.rtx_ssrc == 0 && !track_simulcast(tr))
        tr->d.rtx_ssrc = was->rtx_ssrc;
    if (tr->d.ssrc != was->ssrc && tr->nack != NULL)
        prism_nack_gen_init(tr->nack);
    for (uint8_t l = 0; track_simulcast(tr) && l < tr->d.n_layers; l++) {
        bool rid = tr->d.rids[l][0] != '\0' && strcmp(tr->d.rids[l], was->rids[l]) == 0;
        if (tr->d.layer_ssrcs[l] == 0 && rid)
            tr->d.layer_ssrcs[l] = was->layer_ssrcs[l];
        if (tr->d.layer_rtx_ssrcs[l] == 0 && rid)
            tr->d.layer_rtx_ssrcs[l] = was->layer_rtx_ssrcs[l];
        if (tr->d.layer_ssrcs[l] != was->layer_ssrcs[l] && tr->layers[l].nack != NULL)
            prism_nack_gen_init(tr->layers[l].nack);
    }
}

/* A track's template structures exist while it reads dependency
 * descriptors; a kept one keeps what it learned. */
static void set_dd(struct track *tr)
{
    if (!track_dd(tr)) {
        free(tr->dd);
        tr->dd = NULL;
    } else if (tr->dd == NULL) {
        tr->dd = calloc(PRISM_MEDIA_MAX_LAYERS, sizeof(*tr->dd));
        PRISM_CHECK(tr->dd != NULL);
    }
}

static void drop_tracks(struct peer *p)
{
    prism__tracks_stop_nack(p);
    for (size_t i = 0; i < p->n_tracks; i++) {
        free(p->tracks[i].layers);
        free(p->tracks[i].dd);
    }
    for (size_t i = 0; i < p->n_tracks; i++)
        if (p->tracks[i].producer != NULL)
            prism_router_producer_remove(p->room->router, p->tracks[i].producer);
    free(p->tracks);
    p->tracks = NULL;
    p->n_tracks = 0;
}

static void peer_free(struct peer *p)
{
    prism__link_close(&p->pub);
    prism__link_close(&p->sub);
    p->room->closed.drop_no_route += p->drop_no_route;
    p->room->closed.drop_malformed += p->drop_malformed;
    p->room->closed.drop_egress += p->out.drop_egress;
    p->room->closed.rtx_nacked += p->out.rtx_nacked;
    p->room->closed.rtx_sent += p->out.rtx_sent;
    p->room->closed.rtx_missed += p->out.rtx_missed;
    p->room->closed.rtx_dropped += p->out.rtx_dropped;
    p->room->closed.probe_packets += p->out.probe_packets;
    p->room->closed.probe_bytes += p->out.probe_bytes;
    p->room->closed.layer_dropped += p->out.drop_layer;
    p->room->closed.layer_unknown += p->out.drop_unknown_layer;
    p->room->closed.layer_stale += p->out.drop_stale;
    p->room->closed.rtx_nacks_sent += p->rtx_nacks_sent;
    p->room->closed.rtx_recovered += p->rtx_recovered;
    prism_router_sub_deinit(&p->out);
    drop_tracks(p);
    free(p->routes);
    prism_prefer_set_clear(&p->prefs);
    free(p);
}

static void peer_remove(struct prism_rooms *rooms, struct peer *p)
{
    struct room *room = p->room;
    if (room->speaker == p->handle)
        room->speaker = 0;
    g_hash_table_remove(rooms->peers, &p->handle);
    g_hash_table_remove(room->peers, &p->handle);
    uint64_t handle = p->handle;
    peer_free(p);      /* its producers and consumers leave the router with it */
    GHashTableIter it; /* what the others preferred of it goes too */
    gpointer value;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        prism_prefer_set_drop(&((struct peer *)value)->prefs, handle, NULL, 0);
    rank_speakers(room); /* it may have held a place in the last N */
}

/* TRACKS: the peer's tracks are replaced; a track whose handle stays keeps
 * its producer, consumers and statistics. */
static void set_tracks(struct peer *p, const struct prism_msg_tracks *msg)
{
    size_t n = msg->n_tracks < PRISM_MEDIA_MAX_TRACKS ? msg->n_tracks : PRISM_MEDIA_MAX_TRACKS;
    struct track *tracks = n > 0 ? calloc(n, sizeof(*tracks)) : NULL;
    PRISM_CHECK(n == 0 || tracks != NULL);
    p->ext_ids = (struct prism_rtp_ext_ids){0};
    for (size_t i = 0; i < n; i++) {
        const struct prism_track_desc *d = &msg->tracks[i];
        struct track *tr = &tracks[i];
        for (size_t o = 0; o < p->n_tracks; o++) {
            if (p->tracks[o].d.handle == d->handle && p->tracks[o].producer != NULL) {
                *tr = p->tracks[o]; /* the producer (NACK state, layers) move */
                p->tracks[o].producer = NULL;
                p->tracks[o].nack = NULL;
                p->tracks[o].layers = NULL;
                p->tracks[o].dd = NULL;
                break;
            }
        }
        if (tr->producer == NULL)
            prism_rtp_seq_stats_init(&tr->stats);
        struct prism_track_desc was = tr->d;
        tr->d = *d;
        set_layers(tr);
        set_dd(tr);
        if (tr->producer != NULL)
            keep_learned(tr, &was);
        tr->peer = p;
        if (tr->producer == NULL)
            tr->producer = prism_router_producer_add(p->room->router, p->handle, d, tr);
        if (p->ext_ids.mid == 0)
            p->ext_ids.mid = d->mid_ext_id;
        if (p->ext_ids.audio_level == 0)
            p->ext_ids.audio_level = d->audio_level_ext_id;
        if (p->ext_ids.transport_seq == 0)
            p->ext_ids.transport_seq = d->tcc_ext_id;
        if (p->ext_ids.rid == 0)
            p->ext_ids.rid = d->rid_ext_id;
        if (p->ext_ids.repaired_rid == 0)
            p->ext_ids.repaired_rid = d->repaired_rid_ext_id;
        if (p->ext_ids.av1dd == 0 && track_dd(tr))
            p->ext_ids.av1dd = d->av1dd_ext_id;
    }
    drop_tracks(p); /* the ones that did not move */
    p->tracks = tracks;
    p->n_tracks = n;
    for (size_t i = 0; i < n; i++)
        if (tracks[i].producer != NULL)
            prism_producer_set_owner(tracks[i].producer, &tracks[i]);
    p->max_kbps = msg->max_kbps;
    /* Per-track preferences of others about tracks that are gone. */
    uint64_t live[PRISM_MEDIA_MAX_TRACKS];
    for (size_t i = 0; i < n; i++)
        live[i] = tracks[i].d.handle;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, p->room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        prism_prefer_set_drop(&((struct peer *)value)->prefs, p->handle, live, n);
    prism__link_set_ssrcs(&p->pub);
    if (p->pub.t != NULL && prism_transport_status(p->pub.t) == PRISM_TRANSPORT_CONNECTED)
        prism__link_publish_connected(p); /* what the new tracks need, if not there yet */
    rank_speakers(p->room);               /* it may publish video now, or no more */
    sync_consumers(p->room);
}

/* ROUTES: what the peer receives is replaced. */
static void set_routes(struct peer *p, const struct prism_msg_routes *msg)
{
    free(p->routes);
    p->routes = NULL;
    p->n_routes = msg->n_routes;
    p->sub_max_kbps = msg->max_kbps;
    if (p->n_routes > 0) {
        p->routes = malloc(p->n_routes * sizeof(*p->routes));
        PRISM_CHECK(p->routes != NULL);
        memcpy(p->routes, msg->routes, p->n_routes * sizeof(*p->routes));
    }
    sync_sub(p);
    prism__link_set_ssrcs(&p->sub);
    if (p->sub.t != NULL && prism_transport_status(p->sub.t) == PRISM_TRANSPORT_CONNECTED)
        prism__subscriber_wants_keyframes(p);
}

/* PREFER: the subscriber's preference is set, and its consumers follow. */
static void set_prefer(struct peer *p, const struct prism_msg_prefer *msg)
{
    prism_prefer_set_put(&p->prefs, &(struct prism_prefer){.publisher = msg->publisher,
                                                           .track = msg->track,
                                                           .paused = msg->paused,
                                                           .max_height = msg->max_height,
                                                           .max_fps = msg->max_fps});
    apply_prefs(p);
}

/* --- rooms ------------------------------------------------------------------------ */

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
    prism_router_free(room->router);
    free(room->last_n_top);
    free(room);
}

struct prism_rooms *prism_rooms_new(uv_loop_t *loop, const struct prism_worker_shared *shared,
                                    struct prism_egress *egress, struct prism_media_socket *msock)
{
    struct prism_rooms *rooms = calloc(1, sizeof(*rooms));
    if (rooms == NULL)
        return NULL;
    rooms->loop = loop;
    rooms->shared = shared;
    rooms->egress = egress;
    rooms->msock = msock;
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

static void room_open(struct prism_rooms *rooms, uint64_t handle)
{
    if (g_hash_table_contains(rooms->rooms, &handle))
        return;
    struct room *room = calloc(1, sizeof(*room));
    PRISM_CHECK(room != NULL);
    room->handle = handle;
    room->rooms = rooms;
    room->peers = g_hash_table_new(g_int64_hash, g_int64_equal);
    room->router = prism_router_new(rooms->egress, rooms->shared->cfg->rtx_history);
    PRISM_CHECK(room->router != NULL);
    g_hash_table_insert(rooms->rooms, &room->handle, room);
}

/* BUBBLE_CONFIG: last_n changes, and with it whose video flows. */
static void room_config(struct prism_rooms *rooms, const struct prism_msg_bubble_config *msg)
{
    struct room *room = g_hash_table_lookup(rooms->rooms, &msg->h.bubble);
    if (room == NULL)
        return;
    uint32_t n = msg->last_n < PRISM_LAST_N_MAX ? msg->last_n : PRISM_LAST_N_MAX;
    free(room->last_n_top);
    room->last_n_top = n > 0 ? calloc(n, sizeof(*room->last_n_top)) : NULL;
    PRISM_CHECK(n == 0 || room->last_n_top != NULL);
    room->last_n = n;
    rank_speakers(room);
}

void prism_rooms_handle(struct prism_rooms *rooms, const struct prism_worker_msg *msg)
{
    switch (msg->type) {
    case PRISM_WORKER_BUBBLE_OPEN: room_open(rooms, msg->bubble); return;
    case PRISM_WORKER_BUBBLE_CLOSE: g_hash_table_remove(rooms->rooms, &msg->bubble); return;
    case PRISM_WORKER_BUBBLE_CONFIG:
        room_config(rooms,
                    PRISM_MSG_AS(struct prism_msg_bubble_config, msg, PRISM_WORKER_BUBBLE_CONFIG));
        return;
    case PRISM_WORKER_PEER_CLOSE: {
        struct peer *p = g_hash_table_lookup(rooms->peers, &msg->peer);
        if (p != NULL && p->room->handle == msg->bubble)
            peer_remove(rooms, p);
        return;
    }
    default: break;
    }
    struct peer *p = peer_get(rooms, msg);
    if (p == NULL)
        return; /* its bubble ended meanwhile */
    switch (msg->type) {
    case PRISM_WORKER_TRANSPORT_OPEN: {
        const struct prism_msg_transport *m = (const struct prism_msg_transport *)msg;
        prism__link_open(m->subscribe ? &p->sub : &p->pub, m);
        break;
    }
    case PRISM_WORKER_TRANSPORT_REMOTE: {
        const struct prism_msg_transport *m = (const struct prism_msg_transport *)msg;
        prism__link_remote(m->subscribe ? &p->sub : &p->pub, m);
        break;
    }
    case PRISM_WORKER_TRANSPORT_RESTART: {
        const struct prism_msg_transport *m = (const struct prism_msg_transport *)msg;
        prism__link_restart(m->subscribe ? &p->sub : &p->pub, m);
        break;
    }
    case PRISM_WORKER_TRANSPORT_REOFFER: {
        const struct prism_msg_transport *m = (const struct prism_msg_transport *)msg;
        prism__link_renegotiate(m->subscribe ? &p->sub : &p->pub, m);
        break;
    }
    case PRISM_WORKER_CANDIDATE: {
        const struct prism_msg_candidate *m =
            PRISM_MSG_AS(struct prism_msg_candidate, msg, PRISM_WORKER_CANDIDATE);
        prism__link_candidate(m->subscribe ? &p->sub : &p->pub, m);
        break;
    }
    case PRISM_WORKER_TRACKS:
        set_tracks(p, PRISM_MSG_AS(struct prism_msg_tracks, msg, PRISM_WORKER_TRACKS));
        break;
    case PRISM_WORKER_ROUTES:
        set_routes(p, PRISM_MSG_AS(struct prism_msg_routes, msg, PRISM_WORKER_ROUTES));
        break;
    case PRISM_WORKER_PREFER:
        set_prefer(p, PRISM_MSG_AS(struct prism_msg_prefer, msg, PRISM_WORKER_PREFER));
        break;
    default: break;
    }
}

/* --- periodic duties --------------------------------------------------------------- */

static void choose_speaker(struct room *room)
{
    struct prism_speaker_pick pick;
    prism_speaker_pick_init(&pick);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, room->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct peer *p = value;
        for (size_t i = 0; i < p->n_tracks; i++)
            prism_speaker_pick_offer(&pick, p->handle, &p->tracks[i].meter);
    }
    struct peer *best = pick.best != 0 ? prism__room_peer(room, pick.best) : NULL;
    if (best != NULL) { /* silence changes nothing: no pick, no move in the ranking */
        prism_speaker_recency_spoke(&room->rank_clock, &best->recency);
        if (best->last_n_out)
            rank_speakers(room);
    }
    if (pick.best == 0 || pick.best == room->speaker)
        return;
    room->speaker = pick.best;
    struct prism_worker_event *ev =
        prism_worker_event_new(PRISM_WORKER_EV_SPEAKER, sizeof(struct prism_worker_event));
    ev->bubble = room->handle;
    ev->peer = pick.best;
    prism__rooms_post(room->rooms, ev);
}

static void add_link_counters(struct prism_media_counters *sum, const struct link *l)
{
    if (l->t != NULL)
        prism_media_counters_add(sum, prism_transport_counters(l->t));
}

void prism_rooms_tick(struct prism_rooms *rooms)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, rooms->rooms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct room *room = value;
        struct prism_event_stats *ev = prism_worker_event_new(PRISM_WORKER_EV_STATS, sizeof(*ev));
        ev->h.bubble = room->handle;
        ev->counters = room->closed;
        GHashTableIter pit;
        gpointer pv;
        g_hash_table_iter_init(&pit, room->peers);
        while (g_hash_table_iter_next(&pit, NULL, &pv)) {
            struct peer *p = pv;
            add_link_counters(&ev->counters, &p->pub);
            add_link_counters(&ev->counters, &p->sub);
            ev->counters.drop_no_route += p->drop_no_route;
            ev->counters.drop_malformed += p->drop_malformed;
            ev->counters.drop_egress += p->out.drop_egress;
            ev->counters.rtx_nacked += p->out.rtx_nacked;
            ev->counters.rtx_sent += p->out.rtx_sent;
            ev->counters.rtx_missed += p->out.rtx_missed;
            ev->counters.rtx_dropped += p->out.rtx_dropped;
            ev->counters.probe_packets += p->out.probe_packets;
            ev->counters.probe_bytes += p->out.probe_bytes;
            ev->counters.layer_dropped += p->out.drop_layer;
            ev->counters.layer_unknown += p->out.drop_unknown_layer;
            ev->counters.layer_stale += p->out.drop_stale;
            ev->counters.rtx_nacks_sent += p->rtx_nacks_sent;
            ev->counters.rtx_recovered += p->rtx_recovered;
            prism__publisher_report(p);
        }
        prism__rooms_post(rooms, &ev->h);
        choose_speaker(room);
    }
}

void prism_rooms_load(const struct prism_rooms *rooms, uint32_t *bubbles, uint32_t *transports)
{
    *bubbles = g_hash_table_size(rooms->rooms);
    *transports = 0;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, rooms->peers);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const struct peer *p = value;
        *transports += (p->pub.t != NULL) + (p->sub.t != NULL);
    }
}

void prism_rooms_feedback(struct prism_rooms *rooms)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, rooms->peers);
    uint64_t now = uv_now(rooms->loop);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        prism__publisher_tcc(value);
        prism__publisher_nack(value);
        prism__subscriber_layers(value, now);
    }
}
