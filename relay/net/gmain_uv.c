/* GLib-context-on-libuv driver: see gmain_uv.h for what it owns and its
 * invariants. This file is the mechanism only; it knows nothing of ICE.
 *
 * One cycle = check + dispatch of the previous query, then prepare + query,
 * then sync of the uv_poll_t set and the timer. A cycle runs from a poll
 * callback (with that fd's revents filled in) or from the timer; libuv
 * callbacks never nest, and a cycle never starts inside another (in_cycle).
 * Allocation happens only when the fd set grows and in prism_gmain_uv_wake
 * (a probe source, see below); like GLib itself, running out of memory
 * aborts (g_new/g_renew).
 *
 * GLib's own wake-up eventfd is never watched. GLib signals it whenever a
 * source's fds leave or rejoin the poll set, which g_main_dispatch does for
 * every non-recursive source it dispatches (block/unblock): with it watched,
 * each received datagram cost an extra epoll wake-up, dispatch and eventfd
 * read (measured: 2 writes, 1 read, ~1.3 epoll_wait per packet). It exists
 * to wake a poll() blocked in another thread; here the owning thread is the
 * only one that touches the context, and it re-queries after every dispatch
 * and after every control call (prism_gmain_uv_wake), so nothing is lost.
 *
 * Not watching the eventfd still leaves GLib writing it: two write(2) per
 * dispatch of a source with fds (libnice's socket sources: one per received
 * burst). Sources marked G_SOURCE_CAN_RECURSE are not blocked, so every
 * socket source (GIO names them "GSocket") is marked can-recurse as soon as
 * we see it: source ids are per context and increasing, so we scan the ids
 * attached since the last scan (found by attaching a probe) whenever the fd
 * set grows and after every control call. Timers are left alone: an
 * unblocked timeout signals the eventfd when it re-arms itself, a blocked
 * one does not. Blocking only guards against a callback that iterates the
 * same context again; nothing does here: libnice never runs a nested loop,
 * and this driver refuses to cycle inside a cycle (in_cycle).
 */
#include "relay/net/gmain_uv.h"

#include <stdbool.h>

#include "relay/base/check.h"
#include "relay/base/error.h"

/* GLib's wake-up eventfd plus a few sockets: enough for one ICE agent. */
#define INITIAL_FDS 4

/* When uv_poll_init refuses an fd (libuv still holds a stale watcher for the
 * same number), GLib is polled by timer at this period until it accepts. */
#define RETRY_MS 10

struct poller {
    uv_poll_t handle;             /* handle.data == this */
    struct prism_gmain_uv *owner; /* the driver this fd belongs to */
    int fd;                       /* GLib's fd, never closed by us */
    int uv_events;                /* events last started; 0 = stopped */
    int wanted;                   /* scratch during sync: union of GLib's events */
    bool seen;                    /* scratch during sync: still in GLib's set */
};

struct prism_gmain_uv {
    uv_loop_t *loop;             /* the worker's loop; its thread owns ctx */
    GMainContext *ctx;           /* acquired for good; our reference */
    uv_timer_t timer;            /* GLib's timeout; timer.data == this */
    GPollFD *fds;                /* last query; revents set by on_poll */
    int n_fds;                   /* valid entries in fds */
    int cap_fds;                 /* allocated entries in fds */
    gint max_priority;           /* from the last prepare */
    bool prepared;               /* a query awaits its check */
    bool in_cycle;               /* inside check/dispatch */
    bool closing;                /* prism_gmain_uv_close() was called */
    bool watch_failed;           /* some fd is not watched: poll by timer */
    struct poller **pollers;     /* one per watched fd, unordered */
    size_t n_pollers;            /* live entries in pollers */
    size_t cap_pollers;          /* allocated entries in pollers */
    int wakeup_fd;               /* GLib's wake-up eventfd: never watched */
    guint next_scan_id;          /* lowest source id not yet marked can-recurse */
    size_t open_handles;         /* uv handles whose close cb has not run */
    void (*closed_cb)(void *ud); /* from prism_gmain_uv_close() */
    void *closed_ud;
};

static void cycle(struct prism_gmain_uv *d);

static int gio_to_uv(gushort events)
{
    int ev = 0;
    if (events & G_IO_IN)
        ev |= UV_READABLE;
    if (events & G_IO_PRI)
        ev |= UV_PRIORITIZED;
    if (events & G_IO_OUT)
        ev |= UV_WRITABLE;
    return ev;
}

static gushort uv_to_gio(int events)
{
    gushort rev = 0;
    if (events & UV_READABLE)
        rev |= G_IO_IN;
    if (events & UV_PRIORITIZED)
        rev |= G_IO_PRI;
    if (events & UV_WRITABLE)
        rev |= G_IO_OUT;
    if (events & UV_DISCONNECT)
        rev |= G_IO_HUP;
    return rev;
}

static void finish(struct prism_gmain_uv *d)
{
    if (d->closed_cb)
        d->closed_cb(d->closed_ud);
    g_main_context_release(d->ctx);
    g_main_context_unref(d->ctx);
    g_free(d->pollers);
    g_free(d->fds);
    g_free(d);
}

static void handle_closed(struct prism_gmain_uv *d)
{
    PRISM_CHECK(d->open_handles > 0);
    d->open_handles--;
    if (d->closing && d->open_handles == 0)
        finish(d);
}

static void on_poller_closed(uv_handle_t *h)
{
    struct poller *p = h->data;
    struct prism_gmain_uv *d = p->owner;
    g_free(p);
    handle_closed(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct poller *p = h->data;
    struct prism_gmain_uv *d = p->owner;
    gushort rev;

    if (d->closing)
        return;
    if (status < 0) {
        /* libuv has stopped the handle (POLLERR); let GLib see the error
         * and restart the handle at the next sync. */
        p->uv_events = 0;
        rev = G_IO_ERR;
    } else {
        rev = uv_to_gio(events);
    }
    for (int i = 0; i < d->n_fds; i++) {
        if (d->fds[i].fd == p->fd)
            d->fds[i].revents |= rev & (d->fds[i].events | G_IO_ERR | G_IO_HUP | G_IO_NVAL);
    }
    cycle(d);
}

static void on_timer(uv_timer_t *t)
{
    cycle(t->data);
}

static struct poller *find_poller(const struct prism_gmain_uv *d, int fd)
{
    for (size_t i = 0; i < d->n_pollers; i++) {
        if (d->pollers[i]->fd == fd)
            return d->pollers[i];
    }
    return NULL;
}

/* NULL when libuv refuses the fd (it still has a watcher for that number). */
static struct poller *add_poller(struct prism_gmain_uv *d, int fd)
{
    struct poller *p = g_new0(struct poller, 1);
    if (uv_poll_init(d->loop, &p->handle, fd) != 0) {
        g_free(p);
        return NULL;
    }
    p->handle.data = p;
    p->owner = d;
    p->fd = fd;
    d->open_handles++;
    if (d->n_pollers == d->cap_pollers) {
        d->cap_pollers = d->cap_pollers ? 2 * d->cap_pollers : INITIAL_FDS;
        d->pollers = g_renew(struct poller *, d->pollers, d->cap_pollers);
    }
    d->pollers[d->n_pollers++] = p;
    return p;
}

static void close_poller(struct poller *p)
{
    uv_close((uv_handle_t *)&p->handle, on_poller_closed);
}

/* Marks the socket sources attached since the last call
 * G_SOURCE_CAN_RECURSE (see the top of the file). O(ids attached since);
 * allocates the probe. */
static void let_sources_recurse(struct prism_gmain_uv *d)
{
    GSource *probe = g_idle_source_new();
    guint top = g_source_attach(probe, d->ctx);
    g_source_destroy(probe);
    g_source_unref(probe);
    if (top < d->next_scan_id) /* the id counter wrapped */
        d->next_scan_id = 1;
    for (guint id = d->next_scan_id; id < top; id++) {
        GSource *src = g_main_context_find_source_by_id(d->ctx, id);
        if (src && !g_source_get_can_recurse(src) &&
            g_strcmp0(g_source_get_name(src), "GSocket") == 0)
            g_source_set_can_recurse(src, TRUE);
    }
    d->next_scan_id = top + 1;
}

/* Makes the uv_poll_t set equal GLib's fd set. `rearm_all` restarts every
 * handle even if unchanged, so that an fd number GLib closed and reused is
 * registered again with epoll (libuv then does ADD, or MOD on EEXIST). */
static void sync_pollers(struct prism_gmain_uv *d, bool rearm_all)
{
    bool grew = false;
    d->watch_failed = false;
    for (size_t i = 0; i < d->n_pollers; i++) {
        d->pollers[i]->seen = false;
        d->pollers[i]->wanted = 0;
    }
    for (int i = 0; i < d->n_fds; i++) {
        if (d->fds[i].fd == d->wakeup_fd)
            continue;
        struct poller *p = find_poller(d, d->fds[i].fd);
        if (!p) {
            p = add_poller(d, d->fds[i].fd);
            if (!p) {
                d->watch_failed = true;
                continue;
            }
            grew = true;
        }
        p->seen = true;
        p->wanted |= gio_to_uv(d->fds[i].events);
    }
    for (size_t i = 0; i < d->n_pollers;) {
        struct poller *p = d->pollers[i];
        if (!p->seen) {
            close_poller(p);
            d->pollers[i] = d->pollers[--d->n_pollers];
            continue;
        }
        if (rearm_all || p->uv_events != p->wanted) {
            if (uv_poll_start(&p->handle, p->wanted, on_poll) == 0) {
                p->uv_events = p->wanted;
            } else {
                p->uv_events = 0;
                d->watch_failed = true;
            }
        }
        i++;
    }
    /* A new fd means a new source: stop GLib blocking it per dispatch. */
    if (grew || rearm_all)
        let_sources_recurse(d);
}

/* prepare + query + sync + timer. */
static void rearm(struct prism_gmain_uv *d, bool rearm_all)
{
    gint timeout_ms = -1;
    gboolean ready = g_main_context_prepare(d->ctx, &d->max_priority);
    for (;;) {
        gint n = g_main_context_query(d->ctx, d->max_priority, &timeout_ms, d->fds, d->cap_fds);
        if (n <= d->cap_fds) {
            d->n_fds = n;
            break;
        }
        d->cap_fds = n;
        d->fds = g_renew(GPollFD, d->fds, d->cap_fds);
    }
    for (int i = 0; i < d->n_fds; i++)
        d->fds[i].revents = 0;
    d->prepared = true;
    sync_pollers(d, rearm_all);

    if (ready)
        timeout_ms = 0;
    if (d->watch_failed && (timeout_ms < 0 || timeout_ms > RETRY_MS))
        timeout_ms = RETRY_MS;
    if (timeout_ms < 0)
        uv_timer_stop(&d->timer);
    else
        uv_timer_start(&d->timer, on_timer, (uint64_t)timeout_ms, 0);
}

static void cycle(struct prism_gmain_uv *d)
{
    if (d->closing || d->in_cycle)
        return;
    if (d->prepared) {
        d->prepared = false;
        d->in_cycle = true;
        if (g_main_context_check(d->ctx, d->max_priority, d->fds, d->n_fds))
            g_main_context_dispatch(d->ctx);
        d->in_cycle = false;
        /* A callback may have closed us; `d` lives until the handles close. */
        if (d->closing)
            return;
    }
    rearm(d, false);
}

int prism_gmain_uv_new(uv_loop_t *loop, struct prism_gmain_uv **out)
{
    PRISM_CHECK(loop && out);
    struct prism_gmain_uv *d = g_new0(struct prism_gmain_uv, 1);
    d->loop = loop;
    d->ctx = g_main_context_new();
    if (!g_main_context_acquire(d->ctx)) {
        g_main_context_unref(d->ctx);
        g_free(d);
        return PRISM_EINTERNAL;
    }
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    d->open_handles = 1;
    d->cap_fds = INITIAL_FDS;
    d->fds = g_new0(GPollFD, d->cap_fds);
    d->wakeup_fd = -1;
    d->next_scan_id = 1;
    rearm(d, false);
    /* A fresh context polls exactly one fd: its wake-up eventfd. */
    PRISM_CHECK(d->n_fds == 1);
    d->wakeup_fd = d->fds[0].fd;
    rearm(d, false);
    *out = d;
    return 0;
}

GMainContext *prism_gmain_uv_context(const struct prism_gmain_uv *d)
{
    return d->ctx;
}

void prism_gmain_uv_wake(struct prism_gmain_uv *d)
{
    if (!d || d->closing || d->in_cycle)
        return;
    rearm(d, true);
}

size_t prism_gmain_uv_fd_count(const struct prism_gmain_uv *d)
{
    return (size_t)d->n_fds;
}

void prism_gmain_uv_close(struct prism_gmain_uv *d, void (*cb)(void *ud), void *ud)
{
    if (!d)
        return;
    PRISM_CHECK(!d->closing);
    d->closing = true;
    d->closed_cb = cb;
    d->closed_ud = ud;
    for (size_t i = 0; i < d->n_pollers; i++)
        close_poller(d->pollers[i]);
    d->n_pollers = 0;
    uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}
