/* prism-bench: blocking HTTP/1.1 client (see http.h). */
#include "bench/http.h"
#include "bench/proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

void prism_bench_http_init(struct prism_bench_http *c, const char *host, int port, int timeout_s)
{
    *c = (struct prism_bench_http){.port = port, .timeout_s = timeout_s, .fd = -1};
    snprintf(c->host, sizeof(c->host), "%s", host);
}

void prism_bench_http_interrupt(struct prism_bench_http *c)
{
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

void prism_bench_http_disconnect(struct prism_bench_http *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int http_connect(struct prism_bench_http *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = c->timeout_s};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

/* A growable receive buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_fill(struct buf *b, int fd)
{
    if (b->cap - b->len < 4096) {
        size_t cap = b->cap ? b->cap * 2 : 16384;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    ssize_t r;
    do
        r = recv(fd, b->p + b->len, b->cap - b->len - 1, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    b->len += (size_t)r;
    b->p[b->len] = '\0';
    return 0;
}

/* Case-insensitive header value in `head` (NUL-terminated), or NULL. */
static const char *header(const char *head, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            return v;
        }
    return NULL;
}

int prism_bench_http_request(struct prism_bench_http *c, const char *method, const char *path,
                             const char *body, char **out)
{
    if (c->fd < 0 && http_connect(c) != 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    char req[512];
    int h = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, c->host, c->port, blen);
    if (h < 0 || (size_t)h >= sizeof(req) || prism_bench_send_all(c->fd, req, (size_t)h) != 0 ||
        (blen && prism_bench_send_all(c->fd, body, blen) != 0))
        return -1;
    struct buf b = {0};
    char *end = NULL;
    while ((end = b.p ? strstr(b.p, "\r\n\r\n") : NULL) == NULL)
        if (buf_fill(&b, c->fd) != 0) {
            free(b.p);
            return -1;
        }
    *end = '\0';
    size_t head_len = (size_t)(end - b.p) + 4;
    int status = 0;
    if (sscanf(b.p, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        free(b.p);
        return -1;
    }
    const char *cl = header(b.p, "Content-Length");
    const char *te = header(b.p, "Transfer-Encoding");
    const char *conn = header(b.p, "Connection");
    bool keep = conn == NULL || strncasecmp(conn, "close", 5) != 0;
    bool chunked = te != NULL && strncasecmp(te, "chunked", 7) == 0;
    long want = cl != NULL ? strtol(cl, NULL, 10) : -1;
    size_t pos = head_len;
    char *res = NULL;
    if (want >= 0) {
        while (b.len - pos < (size_t)want)
            if (buf_fill(&b, c->fd) != 0) {
                free(b.p);
                return -1;
            }
        res = strndup(b.p + pos, (size_t)want);
    } else if (chunked) {
        struct buf body_out = {0};
        for (;;) {
            char *crlf;
            while ((crlf = strstr(b.p + pos, "\r\n")) == NULL)
                if (buf_fill(&b, c->fd) != 0)
                    goto fail_chunk;
            size_t n = strtoul(b.p + pos, NULL, 16);
            size_t at = (size_t)(crlf - b.p) + 2;
            while (b.len < at + n + 2)
                if (buf_fill(&b, c->fd) != 0)
                    goto fail_chunk;
            if (n == 0)
                break;
            char *np = realloc(body_out.p, body_out.len + n + 1);
            if (np == NULL)
                goto fail_chunk;
            body_out.p = np;
            memcpy(body_out.p + body_out.len, b.p + at, n);
            body_out.len += n;
            body_out.p[body_out.len] = '\0';
            pos = at + n + 2;
        }
        res = body_out.p ? body_out.p : strdup("");
        goto done;
    fail_chunk:
        free(body_out.p);
        free(b.p);
        return -1;
    } else { /* until the peer closes */
        while (buf_fill(&b, c->fd) == 0)
            ;
        res = strdup(b.p + pos);
        keep = false;
    }
done:
    free(b.p);
    if (!keep)
        prism_bench_http_disconnect(c);
    if (res == NULL)
        return -1;
    *out = res;
    return 0;
}

json_t *prism_bench_http_json(struct prism_bench_http *c, const char *method, const char *path,
                              const char *body)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        char *text = NULL;
        if (prism_bench_http_request(c, method, path, body, &text) == 0) {
            json_t *v = json_loads(text, 0, NULL);
            free(text);
            return v;
        }
        prism_bench_http_disconnect(c);
    }
    return NULL;
}
