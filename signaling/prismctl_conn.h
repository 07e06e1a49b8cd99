/* prismctl's connection to a relay's control socket: the local Unix socket,
 * or TCP with mutual TLS (docs/signaling.md "Transports"), carrying JSON-RPC
 * lines either way.
 *
 * Blocking I/O for a command-line tool: one thread, one connection. TLS runs
 * the I/O-free session of crypto/tls.h over the socket, so the client speaks
 * exactly the policy the relay's listener enforces (TLS 1.2/1.3, a client
 * certificate, the server verified against a private CA).
 *
 * Every function that fails prints one line to stderr saying why (the tool's
 * only user is a person or a script reading stderr) and returns a negative
 * PRISM_E* code.
 */
#ifndef PRISM_SIGNALING_PRISMCTL_CONN_H
#define PRISM_SIGNALING_PRISMCTL_CONN_H

#include <jansson.h>

/* Where to connect: `connect` (HOST:PORT, [V6]:PORT) with cert, key and ca
 * for mutual TLS, else the Unix socket at `control`. Borrowed strings. */
struct prism_ctl_target {
    const char *control; /* Unix socket path; used when connect is NULL */
    const char *connect; /* HOST:PORT of the relay's control.tls_listen, or NULL */
    const char *cert;    /* PEM client certificate (TLS) */
    const char *key;     /* PEM private key of cert (TLS) */
    const char *ca;      /* PEM CA bundle that signed the relay's certificate (TLS) */
};

struct prism_ctl_conn; /* opaque; one per connection */

/* Connects to `target` and, for TLS, completes the handshake (waiting at
 * most 10 s). On success *out is the connection. Returns 0, PRISM_EINVAL
 * (malformed HOST:PORT, TLS files missing), PRISM_EIO (cannot connect) or
 * PRISM_ECRYPTO (TLS material unusable, handshake refused). */
int prism_ctl_conn_open(const struct prism_ctl_target *target, struct prism_ctl_conn **out);

/* Closes cleanly (a TLS close_notify first) and frees. Accepts NULL. */
void prism_ctl_conn_close(struct prism_ctl_conn *c);

/* Sends one JSON-RPC request {"jsonrpc":"2.0","id":id,"method":method}
 * with `params` (borrowed; NULL to leave them out). Returns 0 or PRISM_EIO. */
int prism_ctl_conn_request(struct prism_ctl_conn *c, json_int_t id, const char *method,
                           json_t *params);

/* Waits at most timeout_ms (-1: forever) for the next JSON line from the
 * relay. Returns 1 with *msg set (a new reference; lines that are not JSON
 * are skipped), 0 when the time ran out (*msg NULL), or PRISM_EIO when the
 * relay closed the connection or it failed (*msg NULL). */
int prism_ctl_conn_recv(struct prism_ctl_conn *c, int timeout_ms, json_t **msg);

/* The socket, to poll() beside other descriptors. Lines already received
 * may be buffered: drain them with prism_ctl_conn_recv(c, 0, ...) first. */
int prism_ctl_conn_fd(const struct prism_ctl_conn *c);

/* Called for each event (a line with "method") that arrives while
 * prism_ctl_conn_call() waits; `ev` is borrowed for the call. */
typedef void prism_ctl_event_cb(json_t *ev, void *arg);

/* Sends `method` with `params` (borrowed, may be NULL) under the next id and
 * waits for its reply, handing events that come first to on_event (may be
 * NULL: dropped). Returns 0 with *reply the whole reply message (new
 * reference: look at "result" or "error"), or PRISM_EIO (*reply NULL). */
int prism_ctl_conn_call(struct prism_ctl_conn *c, const char *method, json_t *params,
                        prism_ctl_event_cb *on_event, void *arg, json_t **reply);

#endif
