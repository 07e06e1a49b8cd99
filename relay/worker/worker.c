/* Worker threads (see worker.h).
 *
 * Each worker owns a uv loop, a mailbox, its rooms (room.c) and its egress
 * context (egress.c). The loop's prepare phase, which runs once per iteration
 * after every callback of the previous one, flushes the egress batches: one
 * sendmmsg per subscriber transport per iteration. A one-second timer reports
 * counters and drives RTCP reports; a 50 ms one sends transport-cc feedback
 * (what a publisher's bandwidth estimate grows from: libwebrtc's own receiver
 * reports every 50-250 ms, faster at higher rates). STOP closes the worker's own handles; the
 * loop then runs until the transports have released their sockets.
 *
 * Load (the LOAD event, once a second after the bubbles' STATS): loop lag is
 * how late the 50 ms feedback timer ran against its due time, the worst over
 * the second. A loop busy with packets runs its timers late by as much as it
 * is behind, so this costs one clock read per 50 ms and no extra wake-up;
 * its resolution is about 1 ms (libuv's timers are in whole milliseconds).
 * CPU is the thread's own clock (CLOCK_THREAD_CPUTIME_ID), read once a second.
 * Residence time is the media socket's (media_socket.h), settled after each
 * flush and sent as its running histogram.
 *
 * SYNC is answered from the prepare phase of the next iteration, not from
 * the mailbox callback: a transport closed by an earlier message is freed
 * by its handles' close callbacks, which run at the end of the iteration
 * that closed them, so by then everything earlier messages began is done.
 */
#include <stdlib.h>
#include <time.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/base/log.h"
#include "relay/net/egress.h"
#include "relay/net/media_socket.h"
#include "relay/worker/room.h"
#include "relay/worker/worker.h"

#define EGRESS_BUFS 8192 /* packets in flight per worker: 12 MiB */
#define TICK_MS 1000
#define FEEDBACK_MS 50

struct worker {
    unsigned index;
    pthread_t thread;
    uv_loop_t loop;             /* owned by the thread */
    struct prism_mailbox inbox; /* control -> worker */
    uv_prepare_t flush;         /* egress, once per iteration */
    uv_timer_t tick;
    uv_timer_t feedback;      /* transport-cc, every FEEDBACK_MS */
    uint64_t feedback_due_ns; /* when `feedback` is due next (uv_hrtime clock), 0 before */
    uint64_t lag_max_ns;      /* the latest `feedback` ran since the last LOAD */
    struct prism_egress *egress;
    struct prism_media_socket *msock; /* the worker's UDP port, ICE-lite */
    struct prism_rooms *rooms;
    unsigned syncs; /* SYNC messages received, not answered yet */
    const struct prism_worker_shared *shared;
    int init_rc; /* set by the thread before it runs */
};

struct prism_workers {
    unsigned n;
    struct worker *w;
};

void *prism_worker_msg_new(enum prism_worker_msg_type type, size_t size)
{
    PRISM_CHECK(size >= sizeof(struct prism_worker_msg));
    struct prism_worker_msg *msg = calloc(1, size);
    PRISM_CHECK(msg != NULL);
    msg->type = type;
    return msg;
}

void *prism_worker_event_new(enum prism_worker_event_type type, size_t size)
{
    PRISM_CHECK(size >= sizeof(struct prism_worker_event));
    struct prism_worker_event *ev = calloc(1, size);
    PRISM_CHECK(ev != NULL);
    ev->type = type;
    return ev;
}

static void on_flush(uv_prepare_t *h)
{
    struct worker *w = h->data;
    prism_egress_flush_all(w->egress);
    if (w->msock != NULL)
        prism_media_socket_settle(w->msock);
    for (; w->syncs > 0; w->syncs--) {
        struct prism_worker_event *ev = prism_worker_event_new(PRISM_WORKER_EV_SYNC, sizeof(*ev));
        prism_mailbox_post(w->shared->control, &ev->mail);
    }
}

/* The worker's LOAD event: its size, loop lag, CPU time and its media
 * socket's drops (stats.get adds them relay-wide). */
static void post_load(struct worker *w)
{
    struct prism_event_load *ev = prism_worker_event_new(PRISM_WORKER_EV_LOAD, sizeof(*ev));
    ev->worker = w->index;
    prism_rooms_load(w->rooms, &ev->bubbles, &ev->transports);
    ev->loop_lag_ns = w->lag_max_ns;
    w->lag_max_ns = 0;
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        ev->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    const struct prism_ice_lite_stats *st = prism_ice_lite_stats(prism_media_socket_lite(w->msock));
    ev->socket.drop_stun_auth = st->stun_auth;
    ev->socket.drop_unknown_source = st->unknown_source;
    ev->delay = *prism_media_socket_delay(w->msock);
    const struct prism_tcp_stats *tcp = prism_media_socket_tcp_stats(w->msock);
    if (tcp) {
        ev->socket.drop_tcp_auth = tcp->auth;
        ev->socket.drop_tcp_limit = tcp->limit;
        ev->socket.drop_tcp_frame = tcp->frame;
        ev->socket.drop_tcp_queue = tcp->queue;
    }
    prism_mailbox_post(w->shared->control, &ev->h.mail);
}

static void on_tick(uv_timer_t *h)
{
    struct worker *w = h->data;
    prism_rooms_tick(w->rooms);
    post_load(w);
}

static void on_feedback(uv_timer_t *h)
{
    struct worker *w = h->data;
    uint64_t now = uv_hrtime();
    if (w->feedback_due_ns != 0 && now > w->feedback_due_ns &&
        now - w->feedback_due_ns > w->lag_max_ns)
        w->lag_max_ns = now - w->feedback_due_ns;
    /* libuv re-armed the repeating timer before this call: due_in is the next run's. */
    w->feedback_due_ns = (uv_now(&w->loop) + uv_timer_get_due_in(h)) * 1000000u;
    prism_rooms_feedback(w->rooms);
}

static void on_mail(void *ud, struct prism_mail *mail)
{
    struct worker *w = ud;
    struct prism_worker_msg *msg = (struct prism_worker_msg *)mail;
    if (msg->type == PRISM_WORKER_STOP) {
        prism_rooms_free(w->rooms);
        w->rooms = NULL;
        prism_egress_flush_all(w->egress);
        prism_media_socket_close(w->msock); /* every transport has left its tables */
        w->msock = NULL;
        uv_close((uv_handle_t *)&w->inbox.async, NULL);
        uv_close((uv_handle_t *)&w->flush, NULL);
        uv_close((uv_handle_t *)&w->tick, NULL);
        uv_close((uv_handle_t *)&w->feedback, NULL);
    } else if (msg->type == PRISM_WORKER_SYNC) {
        w->syncs++;
    } else if (w->rooms != NULL) {
        prism_rooms_handle(w->rooms, msg);
    }
    free(msg);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    prism_egress_free(w->egress);
    return NULL;
}

/* The worker's media socket: its own port of the range, every media
 * address (relay/net/media_socket.h). */
static int open_media_socket(struct worker *w, unsigned n_workers)
{
    const struct prism_config *cfg = w->shared->cfg;
    const char *addrs[PRISM_CONFIG_MAX_MEDIA_IPS];
    for (size_t i = 0; i < cfg->n_media_ips; i++)
        addrs[i] = cfg->media_ips[i];
    struct prism_media_socket_config mc = {
        .addrs = addrs,
        .n_addrs = cfg->n_media_ips,
        .advertise_ip = cfg->advertise_ip[0] != '\0' ? cfg->advertise_ip : NULL,
        .port_min = cfg->port_min,
        .port_max = cfg->port_max,
        .index = w->index,
        .n_workers = n_workers,
        .tcp_max_connections = cfg->tcp_max_connections,
        .tcp_idle_timeout_ms = cfg->ice_timeout_ms,
    };
    char err[160];
    int rc = prism_media_socket_open(&w->loop, &mc, &w->msock, err, sizeof(err));
    if (rc != 0)
        prism_log_error("media.socket_failed", "error", err, NULL);
    return rc;
}

static int worker_init(struct worker *w, unsigned n_workers)
{
    if (uv_loop_init(&w->loop) != 0)
        return PRISM_EIO;
    int rc = prism_egress_new(EGRESS_BUFS, &w->egress);
    if (rc != 0)
        return rc;
    rc = open_media_socket(w, n_workers);
    if (rc != 0)
        return rc;
    w->rooms = prism_rooms_new(&w->loop, w->shared, w->egress, w->msock);
    if (w->rooms == NULL)
        return PRISM_ENOMEM;
    if (prism_mailbox_init(&w->inbox, &w->loop, on_mail, w) != 0)
        return PRISM_EIO;
    uv_prepare_init(&w->loop, &w->flush);
    w->flush.data = w;
    uv_prepare_start(&w->flush, on_flush);
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_init(&w->loop, &w->feedback);
    w->feedback.data = w;
    uv_timer_start(&w->feedback, on_feedback, FEEDBACK_MS, FEEDBACK_MS);
    return 0;
}

int prism_workers_start(unsigned n, const struct prism_worker_shared *shared,
                        struct prism_workers **out)
{
    PRISM_CHECK(n >= 1);
    struct prism_workers *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return PRISM_ENOMEM;
    pool->w = calloc(n, sizeof(*pool->w));
    if (pool->w == NULL) {
        free(pool);
        return PRISM_ENOMEM;
    }
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct worker *w = &pool->w[i];
        w->index = i;
        w->shared = shared;
        /* The loop, egress and rooms are set up here and then handed to the
         * thread: pthread_create orders these writes before the thread runs. */
        rc = worker_init(w, n);
        if (rc == 0 && pthread_create(&w->thread, NULL, worker_main, w) != 0)
            rc = PRISM_EIO;
        if (rc == 0)
            pool->n = i + 1;
    }
    if (rc != 0) {
        prism_workers_stop(pool);
        return rc;
    }
    *out = pool;
    return 0;
}

void prism_workers_stop(struct prism_workers *pool)
{
    if (pool == NULL)
        return;
    for (unsigned i = 0; i < pool->n; i++)
        prism_workers_post(
            pool, i, prism_worker_msg_new(PRISM_WORKER_STOP, sizeof(struct prism_worker_msg)));
    for (unsigned i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        pthread_join(w->thread, NULL);
        uv_loop_close(&w->loop);
        pthread_mutex_destroy(&w->inbox.lock);
    }
    free(pool->w);
    free(pool);
}

unsigned prism_workers_count(const struct prism_workers *pool)
{
    return pool->n;
}

void prism_workers_post(struct prism_workers *pool, unsigned w, struct prism_worker_msg *msg)
{
    PRISM_CHECK(w < pool->n);
    prism_mailbox_post(&pool->w[w].inbox, &msg->mail);
}
