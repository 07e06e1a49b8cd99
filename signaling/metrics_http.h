/* The metrics listener (config metrics.listen): an HTTP server for
 * Prometheus and load balancers, on the control thread's libuv loop.
 *
 *   GET /metrics  200, the text format (signaling/metrics.h)
 *   GET /healthz  200 "ok": the process serves
 *   GET /readyz   200 "ready", or 503 with the reason ("draining",
 *                 "overloaded") while the relay takes no new bubbles
 *   HEAD: the same without body. Another path: 404; another method: 405.
 *
 * Built on libmicrohttpd (HTTP parsing, limits, timeouts) driven by the
 * loop: never blocks, and bad clients are bounded by MHD's connection limit
 * and idle timeout, apart from the control socket and far from any media.
 */
#ifndef PRISM_SIGNALING_METRICS_HTTP_H
#define PRISM_SIGNALING_METRICS_HTTP_H

#include <stddef.h>

#include <glib.h>
#include <uv.h>

struct prism_metrics_http;

/* What the listener asks of its owner, on the loop's thread. */
struct prism_metrics_http_callbacks {
    /* Appends the /metrics body to `out`. */
    void (*render)(void *ud, GString *out);
    /* NULL when ready, else why not (a static string): /readyz's 503 body. */
    const char *(*unready)(void *ud);
};

/* Most connections at once; more wait in the kernel's listen backlog (64)
 * until one closes, and past that are refused by the kernel. */
#define PRISM_METRICS_HTTP_MAX_CONNECTIONS 16
/* Seconds a connection may stay idle (a keep-alive scraper reconnects). */
#define PRISM_METRICS_HTTP_IDLE_TIMEOUT_S 30

/* Listens on `listen` ("HOST:PORT", HOST an IP address, "[::1]:9464" for
 * IPv6). `cb` is copied. Returns 0, or PRISM_EINVAL (bad address) /
 * PRISM_EIO (cannot listen) with a message in `err`. */
int prism_metrics_http_start(uv_loop_t *loop, const char *listen,
                             const struct prism_metrics_http_callbacks *cb, void *ud,
                             struct prism_metrics_http **out, char *err, size_t err_len);

/* Stops serving: open connections are closed; the listener frees itself
 * once the loop has closed its handles. Accepts NULL. */
void prism_metrics_http_stop(struct prism_metrics_http *h);

#endif
