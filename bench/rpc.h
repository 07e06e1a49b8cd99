/* prism-bench: an asynchronous JSON-RPC 2.0 client of the relay's Unix
 * control socket, on a uv loop.
 *
 * Owns: one connection (uv_pipe_t), its line reassembly buffer and the table
 * of requests waiting for a reply. Requests are pipelined; each reply is
 * matched by id and handed to the request's callback. Lines without an id
 * and with a method (events, after events.subscribe) go to the event
 * callback.
 *
 * Every request has a reply deadline (PRISM_BENCH_RPC_TIMEOUT_S unless set
 * otherwise), kept by one uv timer armed to the earliest one. A relay that
 * misses one is taken as stuck: that request completes with the error
 * object {"code": PRISM_BENCH_RPC_NO_REPLY, "message": "no reply to METHOD
 * within N s"}, the connection stops reading (as if the relay had closed
 * it: prism_bench_rpc_closed becomes true, the other pending requests get
 * (NULL, NULL) and later calls fail at once), and prism_bench_rpc_failure
 * keeps the message. So no caller waits on a silent relay for longer than
 * one deadline.
 *
 * Thread: the one running `loop`; every callback runs there. Control plane
 * only: allocation per request is fine here.
 */
#ifndef PRISM_BENCH_RPC_H
#define PRISM_BENCH_RPC_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

struct prism_bench_rpc;

/* A request's default reply deadline, s. */
#define PRISM_BENCH_RPC_TIMEOUT_S 10.0

/* The error code of a request whose deadline passed (the bench's own: the
 * relay never sends it). */
#define PRISM_BENCH_RPC_NO_REPLY (-32098)

/* A reply: `result` (borrowed, valid during the call) on success, else NULL
 * and `error` the error object (borrowed). Both NULL when the connection
 * closed before the reply. */
typedef void (*prism_bench_rpc_reply_cb)(void *ud, json_t *result, json_t *error);

/* An event: `method` and `params` borrowed for the call. */
typedef void (*prism_bench_rpc_event_cb)(void *ud, const char *method, json_t *params);

/* Connects to `path` (blocking connect, then non-blocking I/O on `loop`).
 * Returns 0 and sets *out, or a negative errno. `on_event` may be NULL. */
int prism_bench_rpc_open(uv_loop_t *loop, const char *path, prism_bench_rpc_event_cb on_event,
                         void *event_ud, struct prism_bench_rpc **out);

/* Sends `method` with `params` (reference stolen; may be NULL) and calls
 * `cb(ud, ...)` with the reply (cb may be NULL: the reply is dropped).
 * Returns 0 or a negative errno (the connection is closed). */
int prism_bench_rpc_call(struct prism_bench_rpc *c, const char *method, json_t *params,
                         prism_bench_rpc_reply_cb cb, void *ud);

/* The same with its own reply deadline of `timeout_s` (> 0), for a request
 * the relay may take longer to answer (the final stats). */
int prism_bench_rpc_call_within(struct prism_bench_rpc *c, const char *method, json_t *params,
                                double timeout_s, prism_bench_rpc_reply_cb cb, void *ud);

/* Sets the reply deadline of the requests sent from now on (> 0 s). */
void prism_bench_rpc_set_timeout(struct prism_bench_rpc *c, double timeout_s);

/* "no reply to METHOD within N s" once a deadline passed, else NULL. */
const char *prism_bench_rpc_failure(const struct prism_bench_rpc *c);

/* The pid of the relay at the other end (SO_PEERCRED), or -1. */
int prism_bench_rpc_peer_pid(const struct prism_bench_rpc *c);

/* Requests waiting for a reply. */
unsigned prism_bench_rpc_pending(const struct prism_bench_rpc *c);

/* True once the relay closed the connection, or missed a deadline. */
bool prism_bench_rpc_closed(const struct prism_bench_rpc *c);

/* Closes the connection; pending callbacks get (NULL, NULL). Memory is
 * released in a later loop phase. Accepts NULL. */
void prism_bench_rpc_close(struct prism_bench_rpc *c);

#endif
