/* prism-bench: a small blocking HTTP/1.1 client (JSON over loopback, for
 * bench/janus.c's Janus HTTP API).
 *
 * Owns: one keep-alive TCP connection to an IPv4 host:port, opened on the
 * first request and again after the server closed it. A request is written
 * whole, then the status line and headers are read; only 200 is a success.
 * The body is read by Content-Length, chunked transfer coding, or until the
 * server closes (then the connection is dropped). No redirects, no TLS, no
 * request pipelining. Every send and receive times out after `timeout_s`.
 *
 * Thread: a connection belongs to one thread at a time, which blocks in its
 * calls; prism_bench_http_interrupt alone may be called from another thread
 * (to end a long poll). Allocates per request (set-up and signalling only,
 * never a media path).
 */
#ifndef PRISM_BENCH_HTTP_H
#define PRISM_BENCH_HTTP_H

#include <jansson.h>

/* Caller-owned storage; fill with prism_bench_http_init. */
struct prism_bench_http {
    char host[64]; /* dotted IPv4 address */
    int port;
    int timeout_s; /* per send/receive call (SO_SNDTIMEO/SO_RCVTIMEO) */
    int fd;        /* -1: not connected */
};

/* Sets up `c` for `host` (an IPv4 address, truncated to 63 bytes) and
 * `port`; connects nothing yet. */
void prism_bench_http_init(struct prism_bench_http *c, const char *host, int port, int timeout_s);

/* One request: `method` to `path`, with `body` as application/json (NULL:
 * none, as for a GET). Connects first if needed. On 0, *out is the response
 * body, NUL-terminated and malloc'ed (the caller frees it). Returns -1 on
 * any failure (connect, I/O, timeout, a status other than 200, a malformed
 * response, out of memory); the connection may then be half-used: call
 * prism_bench_http_disconnect before reusing it. */
int prism_bench_http_request(struct prism_bench_http *c, const char *method, const char *path,
                             const char *body, char **out);

/* A request whose reply is JSON, retried once on a fresh connection (a
 * kept-alive one may have been closed by the server meanwhile). Returns the
 * parsed reply (a new reference) or NULL. */
json_t *prism_bench_http_json(struct prism_bench_http *c, const char *method, const char *path,
                              const char *body);

/* Closes the connection if open; the next request reconnects. */
void prism_bench_http_disconnect(struct prism_bench_http *c);

/* From another thread: shuts the connection down so that a request blocked
 * on it returns -1 now. The owner still disconnects it. */
void prism_bench_http_interrupt(struct prism_bench_http *c);

#endif
