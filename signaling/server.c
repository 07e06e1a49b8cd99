/* The control socket server (see server.h).
 *
 * Each connection has one outgoing byte queue. Replies to the lines of one
 * read are collected and written with one uv_write at the end of the read, so
 * 10,000 pipelined requests cost a handful of syscalls, not 10,000. When a
 * peer stops reading, queued bytes pass control.max_pending: requests stop
 * being read until the queue halves (the peer only slows itself down), and a
 * pure event listener that far behind is cut off (it resumes with `since`).
 * TLS connections route both directions through crypto/tls.h sessions over
 * the same queue. A connection is freed in its uv_close callback, after
 * on_close has dropped every reference to it.
 *
 * Admission (issue 9, finding 1): nobody on the network may keep the local
 * backend out. Unix connections and established TLS connections are counted
 * apart, each up to control.max_connections. A TLS connection whose handshake
 * has not finished is "pending": pending ones sit in their own pool of
 * control.tls_max_handshakes, oldest first; a new one arriving at a full pool
 * closes the oldest (a pool of silent sockets cannot lock new clients out:
 * an attacker would have to outpace a real client's handshake). A pending
 * connection is closed when its handshake has not finished within
 * control.tls_handshake_timeout_ms of the accept, or when it sent nothing for
 * control.tls_idle_timeout_ms. Handshakes cost the control thread real work
 * (key exchange, signature), so they start at most
 * control.tls_handshakes_per_s (a token bucket of one second's worth): a
 * connection accepted without a token waits in the pool, unread, and starts
 * when one comes, oldest first. One timer serves every deadline and token:
 * it wakes at the earliest and walks the pool (O(pool)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "crypto/idhash.h"
#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/base/log.h"
#include "signaling/framing.h"
#include "signaling/rpc.h"
#include "signaling/server.h"

#define READ_CHUNK (64 * 1024)

struct prism_server {
    uv_loop_t *loop;
    const struct prism_config *cfg;
    struct prism_tls_ctx *tls; /* for new connections; ref held */
    struct prism_server_callbacks cb;
    void *ud;
    uv_pipe_t unix_listener;
    uv_tcp_t tls_listener;
    bool has_unix, has_tls;
    bool unix_bound;  /* the socket file is ours to remove */
    int open_handles; /* listeners not yet closed */
    bool stopping;
    GHashTable *conns; /* serial -> struct prism_conn * */
    uint64_t next_serial;
    size_t n_unix;        /* Unix connections admitted */
    size_t n_tls;         /* TLS connections past their handshake, admitted */
    GQueue pending;       /* TLS connections in their handshake, oldest first */
    uv_timer_t deadlines; /* wakes for the pending connections' deadlines */
    size_t n_waiting;     /* pending connections waiting for a token */
    double tokens;        /* handshakes that may start now */
    uint64_t tokens_ms;   /* loop time tokens was last refilled */
    bool has_timer;
    uint64_t tls_refused[PRISM_SERVER_TLS_REFUSALS]; /* by reason, since start */
    char read_buf[READ_CHUNK];                       /* one read at a time on this loop */
};

struct prism_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tcp_t tcp;
    } h;
    struct prism_server *server;
    struct prism_tls_session *tls; /* NULL on the Unix socket */
    bool authenticated;            /* client is set */
    struct prism_client client;
    struct prism_framer framer;
    char *out; /* queued plaintext, not yet written */
    size_t out_len, out_cap;
    size_t inflight; /* bytes in uv_write requests */
    bool in_read;    /* handling the lines of a read */
    bool paused;     /* reading stopped by backpressure */
    bool closing;
    bool close_when_flushed;
    bool counted;                    /* in n_unix or n_tls */
    GList pending_link;              /* in server->pending while the handshake runs */
    bool pending;                    /* pending_link is linked */
    bool waiting;                    /* pending, not read yet: no handshake token */
    uint64_t accepted_ms;            /* loop time of the accept (TLS) */
    uint64_t last_rx_ms;             /* loop time of the last bytes received (TLS) */
    char addr[PRISM_IDHASH_LEN + 1]; /* pseudonymised peer, for logs */
    uint64_t serial;                 /* key in server->conns */
    GQueue replies;                  /* struct reply_slot: replies held behind a deferred one */
    uint64_t next_token;
};

/* A reply that cannot leave yet because an earlier request is still pending. */
struct reply_slot {
    uint64_t token; /* 0 for a ready reply queued behind a pending one */
    char *line;     /* NULL while pending */
    size_t len;
};

struct write_req {
    uv_write_t req;
    struct prism_conn *conn;
    size_t len;
    char data[];
};

static void conn_close(struct prism_conn *c);
static void flush(struct prism_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

const struct prism_client *prism_conn_client(const struct prism_conn *conn)
{
    return &conn->client;
}

static size_t queued(const struct prism_conn *c)
{
    return c->out_len + c->inflight + (c->tls ? prism_tls_session_pending_output(c->tls) : 0);
}

static int append(struct prism_conn *c, const char *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *out = realloc(c->out, cap);
        if (out == NULL)
            return PRISM_ENOMEM;
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

void prism_conn_send_line(struct prism_conn *c, const char *line, size_t len)
{
    if (c->closing)
        return;
    if (append(c, line, len) != 0 || append(c, "\n", 1) != 0) {
        conn_close(c);
        return;
    }
    if (queued(c) > c->server->cfg->max_pending_bytes) {
        if (!c->in_read) {
            prism_log_warn("control.slow_consumer", "client", c->addr, NULL);
            conn_close(c);
            return;
        }
        if (!c->paused) {
            c->paused = true;
            uv_read_stop(&c->h.stream);
        }
    }
    if (!c->in_read)
        flush(c);
}

uint64_t prism_conn_serial(const struct prism_conn *conn)
{
    return conn->serial;
}

void prism_conn_reply(struct prism_conn *c, const char *line, size_t len)
{
    if (g_queue_is_empty(&c->replies)) {
        prism_conn_send_line(c, line, len);
        return;
    }
    struct reply_slot *r = calloc(1, sizeof(*r));
    char *copy = malloc(len);
    if (r == NULL || copy == NULL) {
        free(r);
        free(copy);
        conn_close(c);
        return;
    }
    memcpy(copy, line, len);
    r->line = copy;
    r->len = len;
    g_queue_push_tail(&c->replies, r);
}

uint64_t prism_conn_defer(struct prism_conn *c)
{
    struct reply_slot *r = calloc(1, sizeof(*r));
    PRISM_CHECK(r != NULL);
    r->token = ++c->next_token;
    g_queue_push_tail(&c->replies, r);
    return r->token;
}

void prism_server_fulfil(struct prism_server *server, uint64_t serial, uint64_t token,
                         const char *line, size_t len)
{
    struct prism_conn *c = g_hash_table_lookup(server->conns, &serial);
    if (c == NULL || c->closing)
        return;
    for (GList *l = c->replies.head; l != NULL; l = l->next) {
        struct reply_slot *r = l->data;
        if (r->token == token && r->line == NULL) {
            r->line = malloc(len);
            if (r->line == NULL) {
                conn_close(c);
                return;
            }
            memcpy(r->line, line, len);
            r->len = len;
            break;
        }
    }
    /* Send every reply that is now at the head and ready. */
    for (struct reply_slot *r; (r = g_queue_peek_head(&c->replies)) != NULL && r->line != NULL;) {
        g_queue_pop_head(&c->replies);
        prism_conn_send_line(c, r->line, r->len);
        free(r->line);
        free(r);
    }
    if (!c->in_read)
        flush(c);
}

void prism_conn_close(struct prism_conn *conn)
{
    conn->close_when_flushed = true;
    if (!conn->in_read)
        flush(conn);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct prism_conn *c = w->conn;
    c->inflight -= w->len;
    free(w);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->closing)
        return;
    if (c->paused && queued(c) < c->server->cfg->max_pending_bytes / 2) {
        c->paused = false;
        uv_read_start(&c->h.stream, on_alloc, on_read);
    }
    if (c->close_when_flushed && queued(c) == 0)
        conn_close(c);
}

/* Hands `len` bytes to libuv; takes a copy so the queue can be reused. */
static void write_bytes(struct prism_conn *c, const char *data, size_t len)
{
    struct write_req *w = malloc(sizeof(*w) + len);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    w->conn = c;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    c->inflight += len;
    if (uv_write(&w->req, &c->h.stream, &buf, 1, on_written) != 0) {
        c->inflight -= len;
        free(w);
        conn_close(c);
    }
}

static void pump_tls(struct prism_conn *c)
{
    size_t n;
    while ((n = prism_tls_session_pending_output(c->tls)) > 0) {
        struct write_req *w = malloc(sizeof(*w) + n);
        if (w == NULL) {
            conn_close(c);
            return;
        }
        w->conn = c;
        w->len = prism_tls_session_take_output(c->tls, w->data, n);
        uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
        c->inflight += w->len;
        if (uv_write(&w->req, &c->h.stream, &buf, 1, on_written) != 0) {
            c->inflight -= w->len;
            free(w);
            conn_close(c);
            return;
        }
    }
}

static void flush(struct prism_conn *c)
{
    if (c->closing)
        return;
    if (c->out_len > 0) {
        if (c->tls != NULL) {
            if (prism_tls_session_write(c->tls, c->out, c->out_len) != 0) {
                conn_close(c);
                return;
            }
        } else {
            write_bytes(c, c->out, c->out_len);
        }
        c->out_len = 0;
    }
    if (c->tls != NULL && !c->closing)
        pump_tls(c);
    if (!c->closing && c->close_when_flushed && queued(c) == 0)
        conn_close(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct prism_conn *c = h->data;
    for (struct reply_slot *r; (r = g_queue_pop_head(&c->replies)) != NULL;) {
        free(r->line);
        free(r);
    }
    prism_tls_session_free(c->tls);
    prism_framer_deinit(&c->framer);
    free(c->out);
    free(c);
}

static void pending_remove(struct prism_conn *c)
{
    if (!c->pending)
        return;
    g_queue_unlink(&c->server->pending, &c->pending_link);
    c->pending = false;
    if (c->waiting)
        c->server->n_waiting--;
    c->waiting = false;
}

static void conn_close(struct prism_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    struct prism_server *s = c->server;
    g_hash_table_remove(s->conns, &c->serial);
    pending_remove(c);
    if (c->counted) {
        if (c->tls != NULL)
            s->n_tls--;
        else
            s->n_unix--;
    }
    if (c->authenticated)
        s->cb.on_close(s->ud, c);
    uv_close(&c->h.handle, on_conn_closed);
}

static bool on_line(void *ud, const char *line, size_t len)
{
    struct prism_conn *c = ud;
    if (c->closing)
        return false;
    return c->server->cb.on_line(c->server->ud, c, line, len) && !c->closing;
}

static bool on_overlong(void *ud)
{
    struct prism_conn *c = ud;
    return c->server->cb.on_overlong(c->server->ud, c) && !c->closing;
}

static const struct prism_framer_callbacks framer_cb = {on_line, on_overlong};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct prism_conn *c = h->data;
    *buf = uv_buf_init(c->server->read_buf, sizeof(c->server->read_buf));
}

/* A TLS client is known once its handshake is done; it then leaves the
 * pending pool for the established count (closed without a reply if that is
 * full, as documented). */
static void tls_authenticate(struct prism_conn *c)
{
    char fp[PRISM_TLS_FINGERPRINT_LEN + 1];
    if (c->authenticated || !prism_tls_session_established(c->tls) ||
        prism_tls_session_peer_fingerprint(c->tls, fp) != 0)
        return;
    struct prism_server *s = c->server;
    pending_remove(c);
    if (s->n_tls >= s->cfg->max_connections) {
        prism_log_warn("control.refused", "client", c->addr, "reason", "max_connections", NULL);
        s->tls_refused[PRISM_SERVER_TLS_MAX_CONNECTIONS]++;
        conn_close(c);
        return;
    }
    s->n_tls++;
    c->counted = true;
    prism_client_from_cert(s->cfg, fp, &c->client);
    c->authenticated = true;
}

static void feed_lines(struct prism_conn *c, const char *data, size_t len)
{
    if (prism_framer_feed(&c->framer, data, len, &framer_cb, c) < 0)
        conn_close(c);
}

static void feed_tls(struct prism_conn *c, const char *data, size_t len)
{
    if (prism_tls_session_feed(c->tls, data, len) != 0) {
        prism_log_warn("control.tls_refused", "client", c->addr, "reason",
                       prism_tls_session_error(c->tls), NULL);
        if (!c->authenticated)
            c->server->tls_refused[PRISM_SERVER_TLS_FAILED]++;
        pump_tls(c); /* the alert, if any */
        c->close_when_flushed = true;
        return;
    }
    char plain[16 * 1024];
    for (;;) {
        tls_authenticate(c);
        if (c->closing)
            return;
        ssize_t n = prism_tls_session_read(c->tls, plain, sizeof(plain));
        if (n == 0)
            break;
        if (n < 0) {
            if (prism_tls_session_failed(c->tls)) {
                prism_log_warn("control.tls_refused", "client", c->addr, "reason",
                               prism_tls_session_error(c->tls), NULL);
                if (!c->authenticated)
                    c->server->tls_refused[PRISM_SERVER_TLS_FAILED]++;
            }
            c->close_when_flushed = true;
            break;
        }
        if (!c->authenticated) { /* data before a verified handshake: never */
            c->close_when_flushed = true;
            break;
        }
        feed_lines(c, plain, (size_t)n);
        if (c->closing)
            return;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct prism_conn *c = stream->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->pending)
        c->last_rx_ms = uv_now(c->server->loop);
    c->in_read = true;
    if (c->tls != NULL)
        feed_tls(c, buf->base, (size_t)nread);
    else
        feed_lines(c, buf->base, (size_t)nread);
    c->in_read = false;
    flush(c);
    c->server->cb.on_batch_end(c->server->ud);
}

static struct prism_conn *conn_new(struct prism_server *s)
{
    struct prism_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->server = s;
    c->serial = ++s->next_serial;
    g_queue_init(&c->replies);
    prism_framer_init(&c->framer, s->cfg->max_line_bytes);
    return c;
}

/* Refuses an accepted connection with one error line, then closes it. */
static void refuse(struct prism_conn *c, const char *message, const char *reason)
{
    char *line = prism_rpc_error(NULL, prism_rpc_code_for_reason(reason), message, reason);
    if (line != NULL) {
        prism_conn_send_line(c, line, strlen(line));
        free(line);
    }
    prism_conn_close(c);
}

/* Unix connections: their own count, whatever the TLS listener holds. */
static bool admit(struct prism_server *s, struct prism_conn *c)
{
    g_hash_table_insert(s->conns, &c->serial, c);
    if (s->n_unix >= s->cfg->max_connections) {
        prism_log_warn("control.refused", "client", c->addr, "reason", "max_connections", NULL);
        refuse(c, "too many control connections", "overloaded");
        return false;
    }
    s->n_unix++;
    c->counted = true;
    return true;
}

/* When the pending connection `c` must have finished its handshake (one
 * waiting for a token is not idle: it is not read). */
static uint64_t pending_deadline(const struct prism_conn *c)
{
    const struct prism_config *cfg = c->server->cfg;
    uint64_t handshake = c->accepted_ms + cfg->tls_handshake_timeout_ms;
    uint64_t idle = c->last_rx_ms + cfg->tls_idle_timeout_ms;
    return handshake < idle || c->waiting ? handshake : idle;
}

/* Takes a handshake token if one is there. */
static bool take_token(struct prism_server *s)
{
    uint64_t now = uv_now(s->loop);
    double rate = (double)s->cfg->tls_handshakes_per_s;
    s->tokens += (double)(now - s->tokens_ms) * rate / 1000.0;
    if (s->tokens > rate)
        s->tokens = rate;
    s->tokens_ms = now;
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}

/* Milliseconds until the next token (after a take_token that failed). */
static uint64_t token_wait_ms(const struct prism_server *s)
{
    double ms = (1.0 - s->tokens) * 1000.0 / (double)s->cfg->tls_handshakes_per_s;
    return (uint64_t)ms + 1;
}

static void start_reading(struct prism_conn *c)
{
    if (c->waiting)
        c->server->n_waiting--;
    c->waiting = false;
    c->last_rx_ms = uv_now(c->server->loop);
    uv_read_start(&c->h.stream, on_alloc, on_read);
}

static void on_deadlines(uv_timer_t *timer);

/* Closes the pending connections past their deadline, hands tokens to the
 * waiting ones (oldest first) and sleeps until the next deadline or token.
 * O(pending). */
static void check_deadlines(struct prism_server *s)
{
    uint64_t now = uv_now(s->loop);
    uint64_t next = UINT64_MAX;
    bool tokens_left = true;
    for (GList *l = s->pending.head; l != NULL;) {
        struct prism_conn *c = l->data;
        l = l->next; /* conn_close unlinks c */
        if (c->waiting && tokens_left && pending_deadline(c) > now) {
            if (take_token(s))
                start_reading(c);
            else
                tokens_left = false;
        }
        if (c->waiting && !tokens_left && now + token_wait_ms(s) < next)
            next = now + token_wait_ms(s);
        uint64_t deadline = pending_deadline(c);
        if (deadline <= now) {
            bool late = now >= c->accepted_ms + s->cfg->tls_handshake_timeout_ms;
            prism_log_info("control.refused", "client", c->addr, "reason",
                           late ? "tls_handshake_timeout" : "tls_idle_timeout", NULL);
            s->tls_refused[late ? PRISM_SERVER_TLS_TIMEOUT : PRISM_SERVER_TLS_IDLE]++;
            conn_close(c);
        } else if (deadline < next) {
            next = deadline;
        }
    }
    if (next == UINT64_MAX)
        uv_timer_stop(&s->deadlines);
    else
        uv_timer_start(&s->deadlines, on_deadlines, next - now, 0);
}

static void on_deadlines(uv_timer_t *timer)
{
    check_deadlines(timer->data);
}

static void on_unix_connection(uv_stream_t *listener, int status)
{
    struct prism_server *s = listener->data;
    if (status < 0)
        return;
    struct prism_conn *c = conn_new(s);
    if (c == NULL)
        return;
    uv_pipe_init(s->loop, &c->h.pipe, 0);
    c->h.handle.data = c;
    if (uv_accept(listener, &c->h.stream) != 0) {
        c->closing = true;
        uv_close(&c->h.handle, on_conn_closed);
        return;
    }
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;
    bool known = uv_fileno(&c->h.handle, &fd) == 0 &&
                 getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
    char uid[24];
    snprintf(uid, sizeof(uid), "%lu", known ? (unsigned long)cred.uid : 0UL);
    prism_idhash("uid", uid, strlen(uid), c->addr);
    if (!admit(s, c))
        return;
    if (!known || prism_client_from_uid(s->cfg, cred.uid, &c->client) != 0) {
        prism_log_warn("control.refused", "client", c->addr, "reason", "uid not allowed", NULL);
        refuse(c, "this uid may not use the control socket", "forbidden");
        return;
    }
    c->authenticated = true;
    uv_read_start(&c->h.stream, on_alloc, on_read);
}

static void on_tls_connection(uv_stream_t *listener, int status)
{
    struct prism_server *s = listener->data;
    if (status < 0)
        return;
    struct prism_conn *c = conn_new(s);
    if (c == NULL)
        return;
    uv_tcp_init(s->loop, &c->h.tcp);
    c->h.handle.data = c;
    if (uv_accept(listener, &c->h.stream) != 0 ||
        prism_tls_session_new(s->tls, true, &c->tls) != 0) {
        c->closing = true;
        uv_close(&c->h.handle, on_conn_closed);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof(sa);
    char ip[64] = "";
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&sa, &salen) == 0)
        uv_ip_name((struct sockaddr *)&sa, ip, sizeof(ip));
    prism_idhash("addr", ip, strlen(ip), c->addr);
    uv_tcp_nodelay(&c->h.tcp, 1);
    g_hash_table_insert(s->conns, &c->serial, c);
    if (g_queue_get_length(&s->pending) >= s->cfg->tls_max_handshakes) {
        struct prism_conn *oldest = g_queue_peek_head(&s->pending);
        prism_log_warn("control.refused", "client", oldest->addr, "reason", "tls_max_handshakes",
                       NULL);
        s->tls_refused[PRISM_SERVER_TLS_POOL_FULL]++;
        conn_close(oldest);
    }
    c->accepted_ms = c->last_rx_ms = uv_now(s->loop);
    c->pending_link.data = c;
    g_queue_push_tail_link(&s->pending, &c->pending_link);
    c->pending = true;
    if (s->n_waiting == 0 && take_token(s)) { /* else it queues behind them */
        start_reading(c);
        if (!uv_is_active((uv_handle_t *)&s->deadlines))
            check_deadlines(s); /* otherwise it wakes before c's deadline */
        return;
    }
    c->waiting = true;
    s->n_waiting++;
    if (!uv_is_active((uv_handle_t *)&s->deadlines) ||
        uv_timer_get_due_in(&s->deadlines) > token_wait_ms(s))
        check_deadlines(s);
}

/* Binds the Unix socket with mode 0660. A socket file left by a dead relay is
 * replaced; one a live relay answers on is an error. */
static int listen_unix(struct prism_server *s, char *err, size_t err_len)
{
    const char *path = s->cfg->control_path;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, err_len, "%s exists and is not a socket", path);
            return PRISM_EIO;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        memcpy(sun.sun_path, path, strnlen(path, sizeof(sun.sun_path) - 1));
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            snprintf(err, err_len, "another relay is listening on %s", path);
            return PRISM_EIO;
        }
        unlink(path);
    }
    uv_pipe_init(s->loop, &s->unix_listener, 0);
    s->unix_listener.data = s;
    s->has_unix = true;
    s->open_handles++;
    mode_t old = umask(0117);
    int rc = uv_pipe_bind(&s->unix_listener, path);
    umask(old);
    s->unix_bound = rc == 0;
    if (rc == 0)
        rc = chmod(path, 0660) == 0 ? 0 : -errno;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->unix_listener, 511, on_unix_connection);
    if (rc != 0) {
        snprintf(err, err_len, "control socket %s: %s", path, uv_strerror(rc));
        return PRISM_EIO;
    }
    return 0;
}

static int listen_tls(struct prism_server *s, char *err, size_t err_len)
{
    char host[PRISM_PATH_MAX];
    prism_config_set_str(host, sizeof(host), s->cfg->tls_listen);
    char *colon = strrchr(host, ':');
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || end == NULL || *end != '\0' || port < 1 || port > 65535) {
        snprintf(err, err_len, "control.tls_listen must be HOST:PORT");
        return PRISM_EINVAL;
    }
    *colon = '\0';
    char *h = host;
    if (h[0] == '[' && colon > h && colon[-1] == ']') {
        h++;
        colon[-1] = '\0';
    }
    struct sockaddr_storage sa;
    if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)&sa) != 0) {
        snprintf(err, err_len, "control.tls_listen: %s is not an IP address", h);
        return PRISM_EINVAL;
    }
    uv_tcp_init(s->loop, &s->tls_listener);
    s->tls_listener.data = s;
    s->has_tls = true;
    s->open_handles++;
    uv_timer_init(s->loop, &s->deadlines);
    s->deadlines.data = s;
    s->has_timer = true;
    s->open_handles++;
    int rc = uv_tcp_bind(&s->tls_listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tls_listener, 511, on_tls_connection);
    if (rc != 0) {
        snprintf(err, err_len, "control.tls_listen %s: %s", s->cfg->tls_listen, uv_strerror(rc));
        return PRISM_EIO;
    }
    return 0;
}

int prism_server_start(uv_loop_t *loop, const struct prism_config *cfg, struct prism_tls_ctx *tls,
                       const struct prism_server_callbacks *cb, void *ud, struct prism_server **out,
                       char *err, size_t err_len)
{
    PRISM_CHECK((tls != NULL) == (cfg->tls_listen[0] != '\0'));
    struct prism_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return PRISM_ENOMEM;
    s->loop = loop;
    s->cfg = cfg;
    s->cb = *cb;
    s->ud = ud;
    s->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_queue_init(&s->pending);
    s->tokens = (double)cfg->tls_handshakes_per_s;
    s->tokens_ms = uv_now(loop);
    if (tls != NULL) {
        prism_tls_ctx_ref(tls);
        s->tls = tls;
    }
    int rc = 0;
    if (cfg->control_path[0] != '\0')
        rc = listen_unix(s, err, err_len);
    if (rc == 0 && tls != NULL)
        rc = listen_tls(s, err, err_len);
    if (rc != 0) {
        prism_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

void prism_server_set_tls(struct prism_server *server, struct prism_tls_ctx *tls)
{
    prism_tls_ctx_ref(tls);
    prism_tls_ctx_unref(server->tls);
    server->tls = tls;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct prism_server *s = h->data;
    if (--s->open_handles > 0)
        return;
    prism_tls_ctx_unref(s->tls);
    g_hash_table_destroy(s->conns);
    free(s);
}

void prism_server_stop(struct prism_server *s)
{
    s->stopping = true;
    GList *conns = g_hash_table_get_values(s->conns);
    for (GList *l = conns; l != NULL; l = l->next)
        conn_close(l->data);
    g_list_free(conns);
    bool any = s->open_handles > 0;
    if (s->has_unix) {
        uv_close((uv_handle_t *)&s->unix_listener, on_listener_closed);
        if (s->unix_bound)
            unlink(s->cfg->control_path);
    }
    if (s->has_tls)
        uv_close((uv_handle_t *)&s->tls_listener, on_listener_closed);
    if (s->has_timer)
        uv_close((uv_handle_t *)&s->deadlines, on_listener_closed);
    if (!any) {
        prism_tls_ctx_unref(s->tls);
        g_hash_table_destroy(s->conns);
        free(s);
    }
}

const char *prism_server_tls_refusal_name(enum prism_server_tls_refusal why)
{
    switch (why) {
    case PRISM_SERVER_TLS_FAILED: return "handshake_failed";
    case PRISM_SERVER_TLS_TIMEOUT: return "handshake_timeout";
    case PRISM_SERVER_TLS_IDLE: return "idle_timeout";
    case PRISM_SERVER_TLS_POOL_FULL: return "max_handshakes";
    case PRISM_SERVER_TLS_MAX_CONNECTIONS: return "max_connections";
    case PRISM_SERVER_TLS_REFUSALS: break;
    }
    return "other";
}

uint64_t prism_server_tls_refused(const struct prism_server *server,
                                  enum prism_server_tls_refusal why)
{
    return server != NULL && why < PRISM_SERVER_TLS_REFUSALS ? server->tls_refused[why] : 0;
}
