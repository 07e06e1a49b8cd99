/* A worker's ICE-TCP listener and connections (see tcp_media.h).
 *
 * Connections are on one intrusive doubly linked list (O(1) removal) that
 * the sweep timer walks once per SWEEP_MS: O(connections) per second, no
 * timer per connection. A connection is freed only from its poll handle's
 * close callback, never inside a callback that may still use it; `closing`
 * set means it is off the list and out of the ICE-lite tables.
 */
#include "relay/net/tcp_media.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/net/tcp_frame.h"
#include "relay/net/tcp_send.h"

/* How often deadlines are checked: a connection outlives its deadline by
 * at most this. */
#define SWEEP_MS 1000

struct conn {
    int fd;
    uv_poll_t poll;
    struct prism_tcp_media *tm;
    struct sockaddr_storage peer; /* from accept: the key in the ICE-lite tables */
    socklen_t peer_len;
    uint64_t opened_ms;           /* loop time of accept */
    uint64_t last_rx_ms;          /* loop time of the last frame */
    bool bound;                   /* a check validated it */
    bool want_write;              /* polling for writable: the queue holds bytes */
    bool closing;                 /* off the list, out of the tables; freed on close */
    struct conn *prev, *next;     /* tm->conns */
    struct prism_tcp_outq out;    /* allocated when bound */
    struct prism_tcp_deframer in; /* last: the large part */
};

struct listener {
    int fd;
    uv_poll_t poll;
    struct prism_tcp_media *tm;
    bool paused; /* out of descriptors: not polled until the next sweep */
};

struct prism_tcp_media {
    uv_loop_t *loop;
    struct prism_ice_lite *lite; /* the worker's; borrowed */
    struct listener *listeners;  /* n_listeners */
    size_t n_listeners;
    struct conn *conns; /* open connections, newest first */
    size_t n_conns;
    size_t max_conns;
    uint64_t idle_timeout_ms;
    uv_timer_t sweep;
    int pending_closes; /* handles uv_close()d whose callback has not run */
    bool closing;
    struct prism_tcp_stats stats;
};

/* --- connection lifetime ----------------------------------------------------------- */

static void maybe_free(struct prism_tcp_media *tm)
{
    if (tm->closing && tm->pending_closes == 0) {
        free(tm->listeners);
        free(tm);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct prism_tcp_media *tm = c->tm;
    close(c->fd);
    prism_tcp_outq_deinit(&c->out);
    free(c);
    tm->pending_closes--;
    maybe_free(tm);
}

/* Takes `c` out of the tables and the list and closes it. Idempotent. */
static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    struct prism_tcp_media *tm = c->tm;
    c->closing = true;
    prism_ice_lite_forget_tcp(tm->lite, &c->peer, c->peer_len);
    if (c->prev)
        c->prev->next = c->next;
    else
        tm->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    tm->n_conns--;
    uv_poll_stop(&c->poll);
    tm->pending_closes++;
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
}

/* Closes `c` for a refusal counted in `*counter`. */
static void conn_refuse(struct conn *c, uint64_t *counter)
{
    (*counter)++;
    conn_close(c);
}

/* --- sending ------------------------------------------------------------------------ */

static void on_conn_event(uv_poll_t *h, int status, int events);

static void set_events(struct conn *c, bool want_write)
{
    if (c->closing || c->want_write == want_write)
        return;
    c->want_write = want_write;
    uv_poll_start(&c->poll, UV_READABLE | (want_write ? UV_WRITABLE : 0), on_conn_event);
}

/* The queue holds bytes the kernel did not take, or the connection broke:
 * wait for writable (a broken socket reports it at once, and the write
 * then fails and closes it). */
static void on_backlog(struct prism_tcp_outq *q)
{
    struct conn *c = (struct conn *)((char *)q - offsetof(struct conn, out));
    set_events(c, true);
}

static void on_writable(struct conn *c)
{
    if (c->out.failed || prism_tcp_outq_flush(&c->out, c->fd) != 0) {
        conn_close(c);
        return;
    }
    if (prism_tcp_outq_pending(&c->out) == 0)
        set_events(c, false);
}

/* --- receiving ------------------------------------------------------------------------ */

/* A STUN frame: the ICE-lite check, then its reply framed back. */
static void on_stun_frame(struct conn *c, const uint8_t *data, size_t len, uint64_t now)
{
    struct prism_tcp_media *tm = c->tm;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len = 0;
    enum prism_lite_verdict v = prism_ice_lite_on_stun_tcp(
        tm->lite, data, len, &c->peer, c->peer_len, c->fd, &c->out, now, reply, &reply_len);
    if (!c->bound) {
        /* Nothing but a passing check binds: a refused one, an indication
         * or a role conflict on a connection nobody vouched for closes it. */
        if (v != PRISM_LITE_REPLY || !prism_ice_lite_bound_tcp(tm->lite, &c->peer, c->peer_len)) {
            conn_refuse(c, &tm->stats.auth);
            return;
        }
        if (prism_tcp_outq_init(&c->out, on_backlog) != 0) {
            conn_refuse(c, &tm->stats.limit); /* no memory for its queue */
            return;
        }
        c->bound = true;
    }
    if (v == PRISM_LITE_REPLY) {
        struct prism_ice_datagram one = {.data = reply, .len = reply_len};
        (void)prism_tcp_outq_send(&c->out, c->fd, &one, 1);
    }
}

/* One frame. The connection may be closed on return. */
static void on_frame(struct conn *c, uint8_t *data, size_t len, uint64_t now)
{
    struct prism_tcp_media *tm = c->tm;
    c->last_rx_ms = now;
    if (data[0] <= 3) { /* RFC 7983: STUN */
        on_stun_frame(c, data, len, now);
        return;
    }
    if (!c->bound) {
        conn_refuse(c, &tm->stats.auth);
        return;
    }
    /* Its binding gone (the transport closed, or a newer address took the
     * slot): counted as an unknown source, and the connection is useless. */
    if (!prism_ice_lite_on_frame_tcp(tm->lite, data, len, &c->peer, c->peer_len, now))
        conn_close(c);
}

/* Hands out every whole frame buffered. Returns false when `c` closed. */
static bool drain_frames(struct conn *c, uint64_t now)
{
    struct prism_tcp_media *tm = c->tm;
    for (;;) {
        uint8_t *frame;
        size_t len;
        switch (prism_tcp_deframer_next(&c->in, &frame, &len)) {
        case PRISM_TCP_FRAME:
            on_frame(c, frame, len, now);
            if (c->closing)
                return false;
            break;
        case PRISM_TCP_EMPTY: tm->stats.frame++; break;
        case PRISM_TCP_TOO_LONG: conn_refuse(c, &tm->stats.frame); return false;
        case PRISM_TCP_MORE: return true;
        }
    }
}

static void on_readable(struct conn *c)
{
    for (int round = 0; round < PRISM_TCP_READ_BUDGET; round++) {
        size_t room;
        uint8_t *space = prism_tcp_deframer_space(&c->in, &room);
        ssize_t n;
        do
            n = recv(c->fd, space, room, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* closed by the peer, or reset */
            conn_close(c);
            return;
        }
        prism_tcp_deframer_commit(&c->in, (size_t)n);
        if (!drain_frames(c, uv_now(c->tm->loop)) || (size_t)n < room)
            return;
    }
}

static void on_conn_event(uv_poll_t *h, int status, int events)
{
    struct conn *c = h->data;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (events & UV_WRITABLE)
        on_writable(c);
    if (!c->closing && (events & UV_READABLE))
        on_readable(c);
}

/* --- accepting ------------------------------------------------------------------------- */

static void accept_one(struct prism_tcp_media *tm, int fd, const struct sockaddr_storage *peer,
                       socklen_t peer_len)
{
    struct conn *c = tm->n_conns < tm->max_conns ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        tm->stats.limit++;
        close(fd);
        return;
    }
    /* Media is real-time: a small packet goes out now, not after the
     * previous one is acknowledged. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->tm = tm;
    memcpy(&c->peer, peer, peer_len);
    c->peer_len = peer_len;
    c->opened_ms = c->last_rx_ms = uv_now(tm->loop);
    c->out.dropped = &tm->stats.queue;
    prism_tcp_deframer_init(&c->in);
    /* Cannot fail on a valid socket and an initialised loop. */
    PRISM_CHECK(uv_poll_init(tm->loop, &c->poll, fd) == 0);
    c->poll.data = c;
    uv_poll_start(&c->poll, UV_READABLE, on_conn_event);
    c->next = tm->conns;
    if (tm->conns)
        tm->conns->prev = c;
    tm->conns = c;
    tm->n_conns++;
}

static void on_accept(uv_poll_t *h, int status, int events)
{
    struct listener *l = h->data;
    (void)events;
    if (status < 0)
        return;
    for (int i = 0; i < PRISM_TCP_ACCEPT_BUDGET; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(l->tm, fd, &peer, peer_len);
            continue;
        }
        /* Out of descriptors or memory: the connection stays in the
         * backlog and the level-triggered poll would call again at once,
         * for as long as the shortage lasts (a busy loop on the worker).
         * The listener rests until the next sweep; counted once. */
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            l->tm->stats.limit++;
            uv_poll_stop(&l->poll);
            l->paused = true;
        }
        return; /* EAGAIN: none left; a connection reset before its accept: the next */
    }
}

/* --- deadlines --------------------------------------------------------------------------- */

static void on_sweep(uv_timer_t *h)
{
    struct prism_tcp_media *tm = h->data;
    uint64_t now = uv_now(tm->loop);
    for (size_t i = 0; i < tm->n_listeners; i++) {
        struct listener *l = &tm->listeners[i];
        if (l->paused) {
            l->paused = false;
            uv_poll_start(&l->poll, UV_READABLE, on_accept);
        }
    }
    for (struct conn *c = tm->conns, *next; c; c = next) {
        next = c->next;
        if (!c->bound && now - c->opened_ms >= PRISM_TCP_AUTH_TIMEOUT_MS)
            conn_refuse(c, &tm->stats.auth);
        else if (c->bound && tm->idle_timeout_ms != 0 && now - c->last_rx_ms >= tm->idle_timeout_ms)
            conn_close(c); /* consent gone, as a UDP transport's silence */
    }
}

/* --- open and close ----------------------------------------------------------------------- */

int prism_tcp_media_new(uv_loop_t *loop, struct prism_ice_lite *lite,
                        const struct prism_tcp_media_config *cfg, struct prism_tcp_media **out)
{
    struct prism_tcp_media *tm = NULL;
    int r = PRISM_EINVAL;
    if (cfg->n_fds == 0 || !cfg->fds || cfg->max_connections == 0)
        goto fail;
    r = PRISM_ENOMEM;
    tm = calloc(1, sizeof(*tm));
    if (!tm)
        goto fail;
    tm->listeners = calloc(cfg->n_fds, sizeof(*tm->listeners));
    if (!tm->listeners)
        goto fail;
    tm->loop = loop;
    tm->lite = lite;
    tm->max_conns = cfg->max_connections;
    tm->idle_timeout_ms = cfg->idle_timeout_ms;
    tm->n_listeners = cfg->n_fds;
    for (size_t i = 0; i < cfg->n_fds; i++) {
        struct listener *l = &tm->listeners[i];
        l->fd = cfg->fds[i];
        l->tm = tm;
        PRISM_CHECK(uv_poll_init(loop, &l->poll, l->fd) == 0);
        l->poll.data = l;
        uv_poll_start(&l->poll, UV_READABLE, on_accept);
    }
    uv_timer_init(loop, &tm->sweep);
    tm->sweep.data = tm;
    uv_timer_start(&tm->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    *out = tm;
    return 0;
fail:
    for (size_t i = 0; i < cfg->n_fds && cfg->fds; i++)
        close(cfg->fds[i]);
    if (tm)
        free(tm->listeners);
    free(tm);
    return r;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    struct prism_tcp_media *tm = l->tm;
    close(l->fd);
    tm->pending_closes--;
    maybe_free(tm);
}

static void on_sweep_closed(uv_handle_t *h)
{
    struct prism_tcp_media *tm = h->data;
    tm->pending_closes--;
    maybe_free(tm);
}

void prism_tcp_media_close(struct prism_tcp_media *tm)
{
    if (!tm)
        return;
    tm->closing = true;
    tm->pending_closes += (int)tm->n_listeners + 1; /* the listeners and the timer */
    while (tm->conns)
        conn_close(tm->conns);
    for (size_t i = 0; i < tm->n_listeners; i++) {
        uv_poll_stop(&tm->listeners[i].poll);
        uv_close((uv_handle_t *)&tm->listeners[i].poll, on_listener_closed);
    }
    uv_close((uv_handle_t *)&tm->sweep, on_sweep_closed);
}

const struct prism_tcp_stats *prism_tcp_media_stats(const struct prism_tcp_media *tm)
{
    return &tm->stats;
}

size_t prism_tcp_media_count(const struct prism_tcp_media *tm)
{
    return tm->n_conns;
}
