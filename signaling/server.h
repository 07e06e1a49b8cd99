/* The control socket server: a Unix listener (mode 0660, uid allow-list by
 * SO_PEERCRED) and an optional TCP listener with mutual TLS 1.2/1.3, both on
 * the control thread's libuv loop.
 *
 * The server owns connections: it authenticates them, frames their bytes into
 * lines, queues their replies with backpressure, and reports lines upward.
 * What a line means is the caller's business (control.c).
 */
#ifndef PRISM_SIGNALING_SERVER_H
#define PRISM_SIGNALING_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "crypto/tls.h"
#include "relay/base/config.h"
#include "signaling/conn.h"

struct prism_server;

struct prism_server_callbacks {
    /* A complete request line. Return false once the connection is closing. */
    bool (*on_line)(void *ud, struct prism_conn *conn, const char *line, size_t len);
    /* A line longer than control.max_line was skipped. */
    bool (*on_overlong)(void *ud, struct prism_conn *conn);
    /* The connection is going away; drop every reference to it. */
    void (*on_close)(void *ud, struct prism_conn *conn);
    /* A batch of lines from one read was handled (flush buffered logs). */
    void (*on_batch_end)(void *ud);
};

/* Starts listening as `cfg` says (`cfg` must outlive the server). `tls` is
 * required iff cfg->tls_listen is set (a reference is taken). Returns 0, or
 * PRISM_EIO / PRISM_EINVAL with a message in `err`. */
int prism_server_start(uv_loop_t *loop, const struct prism_config *cfg, struct prism_tls_ctx *tls,
                       const struct prism_server_callbacks *cb, void *ud, struct prism_server **out,
                       char *err, size_t err_len);

/* Replaces the TLS context for new connections (SIGHUP); live ones keep theirs. */
void prism_server_set_tls(struct prism_server *server, struct prism_tls_ctx *tls);

/* Answers the deferred request `token` of connection `serial` with `line`;
 * a no-op if the connection has closed meanwhile. */
void prism_server_fulfil(struct prism_server *server, uint64_t serial, uint64_t token,
                         const char *line, size_t len);

/* Why a TLS connection was closed before its handshake was done (or, for
 * MAX_CONNECTIONS, right after it), counted for the metrics. */
enum prism_server_tls_refusal {
    PRISM_SERVER_TLS_FAILED,          /* "handshake_failed": the handshake or certificate failed */
    PRISM_SERVER_TLS_TIMEOUT,         /* "handshake_timeout": tls_handshake_timeout_ms passed */
    PRISM_SERVER_TLS_IDLE,            /* "idle_timeout": tls_idle_timeout_ms of silence */
    PRISM_SERVER_TLS_POOL_FULL,       /* "max_handshakes": closed for a newer one */
    PRISM_SERVER_TLS_MAX_CONNECTIONS, /* "max_connections": established ones at the limit */
    PRISM_SERVER_TLS_REFUSALS         /* how many reasons */
};

/* The reason's label ("handshake_failed", ...). */
const char *prism_server_tls_refusal_name(enum prism_server_tls_refusal why);

/* TLS connections refused for `why` since the server started; 0 for a NULL
 * server. */
uint64_t prism_server_tls_refused(const struct prism_server *server,
                                  enum prism_server_tls_refusal why);

/* Stops listening, closes every connection and removes the socket file. The
 * server frees itself once the loop has closed its handles. */
void prism_server_stop(struct prism_server *server);

#endif
