/* prismctl's connection (see prismctl_conn.h).
 *
 * Owns one socket and, for TLS, one crypto/tls.h session driven by hand:
 * ciphertext read from the socket is fed to the session, plaintext it yields
 * goes to `buf`, and whatever ciphertext it has to send (handshake flights,
 * records, alerts, close_notify) is written out after every step.
 *
 * Invariant: `buf` holds the plaintext received and not yet returned, which
 * never contains more than one partial line at its end once recv() has
 * returned. A line longer than MAX_LINE_BYTES ends the connection: the
 * relay's own replies are far smaller, so it is not a relay speaking.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto/tls.h"
#include "relay/base/error.h"
#include "signaling/prismctl_conn.h"

#define MAX_LINE_BYTES (64u << 20)
#define CONNECT_TIMEOUT_MS 10000
#define CHUNK_BYTES 65536

struct prism_ctl_conn {
    int fd;                        /* the socket; owned */
    struct prism_tls_session *tls; /* NULL on the Unix socket */
    char *buf;                     /* plaintext received, not yet returned as lines */
    size_t len;                    /* bytes used in buf */
    size_t cap;                    /* bytes allocated for buf */
    json_int_t next_id;            /* id of the next prism_ctl_conn_call() */
    bool eof;                      /* the relay closed, or the connection failed */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* MSG_NOSIGNAL: a relay that went away is an error to report, not SIGPIPE. */
static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return PRISM_EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sends every byte of ciphertext the session has queued. */
static int flush_tls(struct prism_ctl_conn *c)
{
    char out[CHUNK_BYTES];
    for (size_t n; (n = prism_tls_session_take_output(c->tls, out, sizeof(out))) > 0;)
        if (send_all(c->fd, out, n) != 0)
            return PRISM_EIO;
    return 0;
}

static int append(struct prism_ctl_conn *c, const char *data, size_t n)
{
    if (c->len + n > c->cap) {
        size_t cap = c->cap == 0 ? CHUNK_BYTES : c->cap;
        while (cap < c->len + n)
            cap *= 2;
        if (cap > MAX_LINE_BYTES + CHUNK_BYTES) {
            fprintf(stderr, "prismctl: a line from the relay is longer than %u bytes\n",
                    MAX_LINE_BYTES);
            return PRISM_EIO;
        }
        char *grown = realloc(c->buf, cap);
        if (grown == NULL)
            return PRISM_ENOMEM;
        c->buf = grown;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    return 0;
}

/* Waits until the socket is readable or deadline_ms (monotonic; -1: none)
 * passes. Returns 1 when readable, 0 on time out, PRISM_EIO on error. */
static int wait_readable(int fd, long long deadline_ms)
{
    for (;;) {
        int timeout = -1;
        if (deadline_ms >= 0) {
            long long left = deadline_ms - now_ms();
            timeout = left > 0 ? (int)(left > 60000 ? 60000 : left) : 0;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return PRISM_EIO;
        if (n > 0)
            return 1;
        if (deadline_ms >= 0 && now_ms() >= deadline_ms)
            return 0;
    }
}

/* Reads what the socket has into buf (decrypting for TLS). Sets eof when the
 * relay closed or the connection failed. Returns 0 or a negative code. */
static int fill(struct prism_ctl_conn *c)
{
    char in[CHUNK_BYTES];
    ssize_t n;
    do
        n = recv(c->fd, in, sizeof(in), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        c->eof = true;
        return 0;
    }
    if (c->tls == NULL)
        return append(c, in, (size_t)n);
    int rc = prism_tls_session_feed(c->tls, in, (size_t)n);
    ssize_t got = 0;
    while (rc == 0 && (got = prism_tls_session_read(c->tls, in, sizeof(in))) > 0)
        rc = append(c, in, (size_t)got);
    /* Whatever happened, the session may owe the relay an answer or alert. */
    int sent = flush_tls(c);
    if (rc == PRISM_ECRYPTO || got < 0) {
        c->eof = true;
        if (!prism_tls_session_closed(c->tls))
            fprintf(stderr, "prismctl: TLS: %s\n", prism_tls_session_error(c->tls));
        return 0;
    }
    return rc != 0 ? rc : sent;
}

static int open_unix(const char *path, int *fd_out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sun.sun_path)) {
        fprintf(stderr, "prismctl: socket path too long: %s\n", path);
        return PRISM_EINVAL;
    }
    memcpy(sun.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr, "prismctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return PRISM_EIO;
    }
    *fd_out = fd;
    return 0;
}

/* Splits HOST:PORT or [V6]:PORT into host and port (pointers into buf). */
static int split_host_port(const char *hostport, char *buf, size_t cap, const char **host,
                           const char **port)
{
    size_t len = strlen(hostport);
    if (len == 0 || len >= cap)
        return PRISM_EINVAL;
    memcpy(buf, hostport, len + 1);
    char *colon;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL || close[1] != ':')
            return PRISM_EINVAL;
        *close = '\0';
        *host = buf + 1;
        colon = close + 1;
    } else {
        colon = strrchr(buf, ':');
        if (colon == NULL || strchr(buf, ':') != colon)
            return PRISM_EINVAL; /* a bare IPv6 address needs brackets */
        *colon = '\0';
        *host = buf;
    }
    *port = colon + 1;
    return **host != '\0' && **port != '\0' ? 0 : PRISM_EINVAL;
}

/* Connects with a bounded wait (a blocking connect() to a silent address can
 * hang for minutes), then leaves the socket blocking. */
static int connect_bounded(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc = connect(fd, addr, addrlen);
    struct timeval none = {0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    return rc;
}

static int open_tcp(const char *hostport, int *fd_out)
{
    char buf[300];
    const char *host, *port;
    if (split_host_port(hostport, buf, sizeof(buf), &host, &port) != 0) {
        fprintf(stderr, "prismctl: --connect wants HOST:PORT or [IPV6]:PORT, not %s\n", hostport);
        return PRISM_EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "prismctl: %s: %s\n", hostport, gai_strerror(gai));
        return PRISM_EIO;
    }
    int err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect_bounded(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            *fd_out = fd;
            return 0;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    fprintf(stderr, "prismctl: cannot connect to %s: %s\n", hostport, strerror(err));
    return PRISM_EIO;
}

/* Builds the session and runs the handshake to its end. */
static int start_tls(struct prism_ctl_conn *c, const struct prism_ctl_target *t)
{
    if (t->cert == NULL || t->key == NULL || t->ca == NULL) {
        fprintf(stderr, "prismctl: --connect needs --cert, --key and --ca\n");
        return PRISM_EINVAL;
    }
    struct prism_tls_ctx *ctx;
    int rc = prism_tls_client_ctx_new(t->cert, t->key, t->ca, &ctx);
    if (rc != 0) {
        fprintf(stderr, "prismctl: TLS material (--cert %s, --key %s, --ca %s): %s\n", t->cert,
                t->key, t->ca, prism_error_str(rc));
        return rc;
    }
    rc = prism_tls_session_new(ctx, false, &c->tls);
    prism_tls_ctx_unref(ctx);
    if (rc != 0)
        return rc;
    long long deadline = now_ms() + CONNECT_TIMEOUT_MS;
    while ((rc = flush_tls(c)) == 0 && !prism_tls_session_established(c->tls)) {
        rc = wait_readable(c->fd, deadline);
        if (rc == 0) {
            fprintf(stderr, "prismctl: TLS with %s: no handshake within %d s\n", t->connect,
                    CONNECT_TIMEOUT_MS / 1000);
            return PRISM_EIO;
        }
        if (rc < 0 || (rc = fill(c)) != 0)
            return rc;
        if (c->eof) { /* fill() said why if the session failed */
            if (!prism_tls_session_failed(c->tls))
                fprintf(stderr, "prismctl: TLS with %s: the relay closed the connection\n",
                        t->connect);
            return PRISM_ECRYPTO;
        }
    }
    return rc;
}

int prism_ctl_conn_open(const struct prism_ctl_target *target, struct prism_ctl_conn **out)
{
    struct prism_ctl_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PRISM_ENOMEM;
    c->fd = -1;
    c->next_id = 1;
    int rc = target->connect != NULL ? open_tcp(target->connect, &c->fd)
                                     : open_unix(target->control, &c->fd);
    if (rc == 0 && target->connect != NULL)
        rc = start_tls(c, target);
    if (rc != 0) {
        prism_ctl_conn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void prism_ctl_conn_close(struct prism_ctl_conn *c)
{
    if (c == NULL)
        return;
    if (c->tls != NULL && c->fd >= 0 && !c->eof) {
        prism_tls_session_shutdown(c->tls);
        flush_tls(c);
    }
    prism_tls_session_free(c->tls);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

int prism_ctl_conn_request(struct prism_ctl_conn *c, json_int_t id, const char *method,
                           json_t *params)
{
    json_t *req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
    if (req == NULL)
        return PRISM_ENOMEM;
    if (params != NULL)
        json_object_set(req, "params", params);
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (line == NULL)
        return PRISM_ENOMEM;
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps' NUL becomes the line's end: one write */
    int rc;
    if (c->tls == NULL) {
        rc = send_all(c->fd, line, len + 1);
    } else {
        rc = prism_tls_session_write(c->tls, line, len + 1);
        if (rc == 0)
            rc = flush_tls(c);
    }
    free(line);
    if (rc != 0)
        fprintf(stderr, "prismctl: cannot send the request\n");
    return rc == 0 ? 0 : PRISM_EIO;
}

int prism_ctl_conn_recv(struct prism_ctl_conn *c, int timeout_ms, json_t **msg)
{
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    *msg = NULL;
    for (;;) {
        char *nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl != NULL) {
            size_t line_len = (size_t)(nl - c->buf);
            json_t *v = json_loadb(c->buf, line_len, 0, NULL);
            c->len -= line_len + 1;
            memmove(c->buf, nl + 1, c->len);
            if (v == NULL)
                continue;
            *msg = v;
            return 1;
        }
        if (c->eof)
            return PRISM_EIO;
        int rc = wait_readable(c->fd, deadline);
        if (rc <= 0)
            return rc;
        if (fill(c) != 0)
            c->eof = true;
    }
}

int prism_ctl_conn_fd(const struct prism_ctl_conn *c)
{
    return c->fd;
}

int prism_ctl_conn_call(struct prism_ctl_conn *c, const char *method, json_t *params,
                        prism_ctl_event_cb *on_event, void *arg, json_t **reply)
{
    json_int_t id = c->next_id++;
    *reply = NULL;
    if (prism_ctl_conn_request(c, id, method, params) != 0)
        return PRISM_EIO;
    for (;;) {
        json_t *msg;
        if (prism_ctl_conn_recv(c, -1, &msg) != 1)
            return PRISM_EIO;
        json_t *mid = json_object_get(msg, "id");
        if (json_object_get(msg, "method") != NULL) {
            if (on_event != NULL)
                on_event(msg, arg);
        } else if (json_is_integer(mid) && json_integer_value(mid) == id) {
            *reply = msg;
            return 0;
        } else if (json_is_null(mid) && json_object_get(msg, "error") != NULL) {
            *reply = msg; /* the relay refused the connection itself (uid, overload) */
            return 0;
        }
        json_decref(msg);
    }
}
