/* prism-bench: JSON-RPC client of the control socket (see rpc.h).
 *
 * Replies may come out of request order (media methods wait for a worker),
 * so pending requests live in a hash table keyed by id. Lines are at most
 * LINE_MAX bytes (an SDP of PRISM_SDP_MAX_BYTES, JSON-escaped, fits).
 * Deadlines: each pending request carries its own (loop time, ms); one timer
 * is armed to the earliest and, when it fires, scans the table (O(pending),
 * control plane only). The connection's memory goes once both its pipe and
 * its timer are closed.
 */
#include "bench/rpc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#define LINE_MAX_BYTES (1u << 20)

struct prism_bench_rpc;
static void on_deadline(uv_timer_t *h);

struct pending {
    prism_bench_rpc_reply_cb cb;
    void *ud;
    uint64_t deadline_ms; /* loop time (uv_now) after which no reply is waited for */
    double timeout_s;     /* as asked, for the message */
    char method[48];      /* for the message; truncated */
};

struct prism_bench_rpc {
    uv_pipe_t pipe;
    uv_timer_t deadline; /* armed to the earliest pending deadline */
    uint64_t armed_ms;   /* loop time it fires at; 0: not armed */
    double timeout_s;    /* for the next requests */
    char failure[96];    /* "no reply to METHOD within N s"; empty: none */
    int open_handles;    /* pipe and timer not yet closed: memory goes at 0 */
    int peer_pid;
    prism_bench_rpc_event_cb on_event;
    void *event_ud;
    GHashTable *pending; /* id (gint64 key) -> struct pending */
    int64_t next_id;
    char *buf; /* partial line, LINE_MAX_BYTES */
    size_t len;
    bool closed;
};

static void fail_all(struct prism_bench_rpc *c)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, c->pending);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct pending *p = value;
        g_hash_table_iter_steal(&it);
        if (p->cb)
            p->cb(p->ud, NULL, NULL);
        free(p);
        free(key);
    }
}

static void on_line(struct prism_bench_rpc *c, const char *line, size_t len)
{
    json_t *msg = json_loadb(line, len, 0, NULL);
    if (msg == NULL)
        return;
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (json_is_integer(id)) {
        gint64 key = json_integer_value(id);
        struct pending *p = g_hash_table_lookup(c->pending, &key);
        if (p != NULL) {
            gpointer orig_key = NULL;
            g_hash_table_lookup_extended(c->pending, &key, &orig_key, NULL);
            g_hash_table_steal(c->pending, &key);
            if (p->cb)
                p->cb(p->ud, json_object_get(msg, "result"), json_object_get(msg, "error"));
            free(p);
            free(orig_key);
        }
    } else if (method != NULL && c->on_event != NULL) {
        c->on_event(c->event_ud, method, json_object_get(msg, "params"));
    }
    json_decref(msg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct prism_bench_rpc *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(LINE_MAX_BYTES - c->len));
}

static void on_closed(uv_handle_t *h)
{
    struct prism_bench_rpc *c = h->data;
    if (--c->open_handles > 0)
        return;
    g_hash_table_destroy(c->pending);
    free(c->buf);
    free(c);
}

static void mark_closed(struct prism_bench_rpc *c)
{
    if (c->closed)
        return;
    c->closed = true;
    uv_read_stop((uv_stream_t *)&c->pipe);
    uv_timer_stop(&c->deadline);
    fail_all(c);
}

static void arm(struct prism_bench_rpc *c, uint64_t at_ms)
{
    if (c->armed_ms != 0 && c->armed_ms <= at_ms)
        return;
    uint64_t now = uv_now(c->deadline.loop);
    c->armed_ms = at_ms;
    uv_timer_start(&c->deadline, on_deadline, at_ms > now ? at_ms - now : 0, 0);
}

/* The earliest deadline passed? Its request completes with the error, and
 * the connection is given up (see rpc.h); else the timer is armed to the
 * next one. */
static void on_deadline(uv_timer_t *h)
{
    struct prism_bench_rpc *c = h->data;
    uint64_t now = uv_now(h->loop), next = 0;
    c->armed_ms = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, c->pending);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct pending *p = value;
        if (p->deadline_ms > now) {
            next = next == 0 || p->deadline_ms < next ? p->deadline_ms : next;
            continue;
        }
        g_hash_table_iter_steal(&it);
        snprintf(c->failure, sizeof(c->failure), "no reply to %s within %g s", p->method,
                 p->timeout_s);
        json_t *err =
            json_pack("{s:i, s:s}", "code", PRISM_BENCH_RPC_NO_REPLY, "message", c->failure);
        if (p->cb)
            p->cb(p->ud, NULL, err);
        json_decref(err);
        free(p);
        free(key);
        mark_closed(c); /* the others get (NULL, NULL); the callback may have closed it */
        return;
    }
    if (next != 0)
        arm(c, next);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct prism_bench_rpc *c = s->data;
    (void)buf;
    if (n < 0) {
        mark_closed(c);
        return;
    }
    c->len += (size_t)n;
    size_t start = 0;
    for (size_t i = c->len - (size_t)n; i < c->len; i++) {
        if (c->buf[i] != '\n')
            continue;
        on_line(c, c->buf + start, i - start);
        if (c->closed)
            return;
        start = i + 1;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len == LINE_MAX_BYTES)
        mark_closed(c); /* a line too long for us: give up rather than misparse */
}

int prism_bench_rpc_open(uv_loop_t *loop, const char *path, prism_bench_rpc_event_cb on_event,
                         void *event_ud, struct prism_bench_rpc **out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct prism_bench_rpc *c = calloc(1, sizeof(*c));
    char *b = malloc(LINE_MAX_BYTES);
    if (c == NULL || b == NULL) {
        free(c);
        free(b);
        close(fd);
        return -ENOMEM;
    }
    c->buf = b;
    c->peer_pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 ? cred.pid : -1;
    c->on_event = on_event;
    c->event_ud = event_ud;
    c->pending = g_hash_table_new(g_int64_hash, g_int64_equal);
    c->next_id = 1;
    c->timeout_s = PRISM_BENCH_RPC_TIMEOUT_S;
    uv_pipe_init(loop, &c->pipe, 0);
    uv_timer_init(loop, &c->deadline);
    c->pipe.data = c->deadline.data = c;
    c->open_handles = 2;
    int r = uv_pipe_open(&c->pipe, fd);
    if (r == 0)
        r = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    if (r != 0) {
        c->closed = true;
        uv_close((uv_handle_t *)&c->pipe, on_closed);
        uv_close((uv_handle_t *)&c->deadline, on_closed);
        return r;
    }
    *out = c;
    return 0;
}

struct write_req {
    uv_write_t req;
    char *data;
};

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    (void)status;
    free(w->data);
    free(w);
}

int prism_bench_rpc_call(struct prism_bench_rpc *c, const char *method, json_t *params,
                         prism_bench_rpc_reply_cb cb, void *ud)
{
    return prism_bench_rpc_call_within(c, method, params, c->timeout_s, cb, ud);
}

int prism_bench_rpc_call_within(struct prism_bench_rpc *c, const char *method, json_t *params,
                                double timeout_s, prism_bench_rpc_reply_cb cb, void *ud)
{
    if (c->closed) {
        json_decref(params);
        return -EPIPE;
    }
    int64_t id = c->next_id++;
    json_t *msg =
        json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id, "method", method);
    if (params != NULL)
        json_object_set_new(msg, "params", params);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    struct write_req *w = calloc(1, sizeof(*w));
    struct pending *p = calloc(1, sizeof(*p));
    gint64 *key = malloc(sizeof(*key));
    if (text == NULL || w == NULL || p == NULL || key == NULL) {
        free(text);
        free(w);
        free(p);
        free(key);
        return -ENOMEM;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line == NULL) {
        free(text);
        free(w);
        free(p);
        free(key);
        return -ENOMEM;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    w->data = line;
    p->cb = cb;
    p->ud = ud;
    p->timeout_s = timeout_s;
    /* The loop's clock may be stale after blocking set-up work. */
    uv_update_time(c->deadline.loop);
    p->deadline_ms = uv_now(c->deadline.loop) + (uint64_t)(timeout_s * 1000);
    snprintf(p->method, sizeof(p->method), "%s", method);
    *key = id;
    g_hash_table_insert(c->pending, key, p);
    uv_buf_t buf = uv_buf_init(line, (unsigned)(n + 1));
    int r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written);
    if (r != 0) {
        g_hash_table_remove(c->pending, key);
        free(p);
        free(key);
        free(line);
        free(w);
        mark_closed(c);
        return r;
    }
    arm(c, p->deadline_ms);
    return 0;
}

void prism_bench_rpc_set_timeout(struct prism_bench_rpc *c, double timeout_s)
{
    c->timeout_s = timeout_s;
}

const char *prism_bench_rpc_failure(const struct prism_bench_rpc *c)
{
    return c->failure[0] != '\0' ? c->failure : NULL;
}

int prism_bench_rpc_peer_pid(const struct prism_bench_rpc *c)
{
    return c->peer_pid;
}

unsigned prism_bench_rpc_pending(const struct prism_bench_rpc *c)
{
    return g_hash_table_size(c->pending);
}

bool prism_bench_rpc_closed(const struct prism_bench_rpc *c)
{
    return c->closed;
}

void prism_bench_rpc_close(struct prism_bench_rpc *c)
{
    if (c == NULL)
        return;
    mark_closed(c);
    uv_close((uv_handle_t *)&c->pipe, on_closed);
    uv_close((uv_handle_t *)&c->deadline, on_closed);
}
