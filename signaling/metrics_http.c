/* The metrics listener (see metrics_http.h).
 *
 * libmicrohttpd runs in "external polling" mode with epoll: MHD keeps its
 * listening and client sockets in one epoll descriptor of its own, which the
 * control loop watches with a uv_poll (readable when any of them is ready);
 * a uv_timer fires at MHD_get_timeout(), which is 0 while MHD still has work
 * on a ready connection (its epoll is edge-triggered) and the idle deadline
 * otherwise. Each wake-up calls MHD_run(), which never blocks. So the
 * handlers run on the control thread, read the registry without a lock, and
 * nothing here starts a thread.
 *
 * The listening socket is made here (bind errors then read as the control
 * socket's do) and handed to MHD, which closes it when stopped. MHD bounds
 * what a client can cost: PRISM_METRICS_HTTP_MAX_CONNECTIONS connections
 * (more are closed on accept), a per-connection memory pool (MHD's default
 * 32 KiB: request line and headers must fit) and an idle timeout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "relay/base/error.h"
#include "relay/base/log.h"
#include "signaling/metrics_http.h"

struct prism_metrics_http {
    struct MHD_Daemon *d;
    uv_poll_t poll;   /* on MHD's epoll descriptor */
    uv_timer_t timer; /* MHD_get_timeout() */
    int open_handles; /* of poll and timer, not yet closed */
    struct prism_metrics_http_callbacks cb;
    void *ud;
};

static const char text_plain[] = "text/plain; charset=utf-8";
/* The Prometheus text format's media type. */
static const char exposition[] = "text/plain; version=0.0.4; charset=utf-8";

static void on_timer(uv_timer_t *t);

static unsigned connections(struct prism_metrics_http *h)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info != NULL ? info->num_connections : 0;
}

/* Lets MHD do what is ready, then sleeps until it has more to do. At the
 * connection limit MHD takes its listening socket out of its epoll set, and
 * puts it back at the start of the run after a connection closed: a run that
 * closed some is followed by another at once, or a listener that was full
 * would wait for an event that cannot come (measured: it never recovered). */
static void run(struct prism_metrics_http *h)
{
    unsigned before = connections(h);
    MHD_run(h->d);
    if (connections(h) < before)
        MHD_run(h->d);
    /* 0.9.75 answers MHD_YES without setting `ms` when it has work pending:
     * that means now. */
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES)
        uv_timer_start(&h->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&h->timer);
}

static void on_timer(uv_timer_t *t)
{
    run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status; /* an error on the epoll descriptor: MHD_run finds it too */
    (void)events;
    run(p->data);
}

/* Queues a response of `len` bytes from `body` (static, or g_malloc'ed when
 * `owned`: MHD frees it). */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               char *body, size_t len, bool owned)
{
    struct MHD_Response *r =
        owned ? MHD_create_response_from_buffer_with_free_callback(len, body, g_free)
              : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (owned)
            g_free(body);
        return MHD_NO; /* MHD closes the connection */
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return respond(conn, status, text_plain, (char *)text, strlen(text), false);
}

/* Answers every request on its first call: none of them takes a body (one
 * that comes anyway is not read; MHD closes the connection after the reply). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct prism_metrics_http *h = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0) {
        GString *out = g_string_sized_new(16 * 1024);
        h->cb.render(h->ud, out);
        size_t len = out->len;
        return respond(conn, MHD_HTTP_OK, exposition, g_string_free(out, FALSE), len, true);
    }
    if (strcmp(url, "/healthz") == 0)
        return respond_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        const char *why = h->cb.unready(h->ud);
        if (why == NULL)
            return respond_text(conn, MHD_HTTP_OK, "ready\n");
        if (strcmp(why, "draining") == 0)
            return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "draining\n");
        return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded\n");
    }
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* MHD's own diagnostics (a refused connection, a malformed request): debug
 * level, since any client can cause them. `fmt` is MHD's own. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    if (len > 0 && msg[len - 1] == '\n')
        msg[len - 1] = '\0';
    prism_log(PRISM_LOG_DEBUG, "metrics.http", "detail", msg, NULL);
}

/* "HOST:PORT" (HOST an IP address, IPv6 in brackets) into `sa`. */
static int parse_listen(const char *listen, struct sockaddr_storage *sa)
{
    char host[128];
    if (snprintf(host, sizeof(host), "%s", listen) >= (int)sizeof(host))
        return PRISM_EINVAL;
    char *colon = strrchr(host, ':');
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
        return PRISM_EINVAL;
    *colon = '\0';
    char *h = host;
    if (h[0] == '[' && colon > h && colon[-1] == ']') {
        h++;
        colon[-1] = '\0';
    }
    if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)sa) != 0 &&
        uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)sa) != 0)
        return PRISM_EINVAL;
    return 0;
}

/* A listening TCP socket on `sa`, or -errno. */
static int listen_socket(const struct sockaddr_storage *sa)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    socklen_t len =
        sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)sa, len) != 0 || listen(fd, 64) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct prism_metrics_http *h = handle->data;
    if (--h->open_handles == 0)
        free(h);
}

int prism_metrics_http_start(uv_loop_t *loop, const char *listen,
                             const struct prism_metrics_http_callbacks *cb, void *ud,
                             struct prism_metrics_http **out, char *err, size_t err_len)
{
    struct sockaddr_storage sa = {0};
    if (parse_listen(listen, &sa) != 0) {
        snprintf(err, err_len, "metrics.listen must be IP:PORT, got \"%s\"", listen);
        return PRISM_EINVAL;
    }
    int fd = listen_socket(&sa);
    if (fd < 0) {
        snprintf(err, err_len, "metrics.listen %s: %s", listen, strerror(-fd));
        return PRISM_EIO;
    }
    struct prism_metrics_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(fd);
        snprintf(err, err_len, "out of memory");
        return PRISM_EIO;
    }
    h->cb = *cb;
    h->ud = ud;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger first: MHD logs to stderr until it has seen it. */
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)PRISM_METRICS_HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)PRISM_METRICS_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        h->d != NULL ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (info == NULL || uv_poll_init(loop, &h->poll, info->epoll_fd) != 0) {
        if (h->d != NULL)
            MHD_stop_daemon(h->d); /* closes fd */
        else
            close(fd);
        free(h);
        snprintf(err, err_len, "metrics.listen %s: the HTTP server did not start", listen);
        return PRISM_EIO;
    }
    uv_timer_init(loop, &h->timer);
    h->poll.data = h->timer.data = h;
    h->open_handles = 2;
    uv_poll_start(&h->poll, UV_READABLE, on_poll);
    *out = h;
    return 0;
}

void prism_metrics_http_stop(struct prism_metrics_http *h)
{
    if (h == NULL)
        return;
    /* The poll leaves the loop's epoll before MHD closes the descriptor it watches. */
    uv_close((uv_handle_t *)&h->poll, on_handle_closed);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    MHD_stop_daemon(h->d);
    h->d = NULL;
}
