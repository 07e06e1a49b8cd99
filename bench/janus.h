/* prism-bench --target janus: the same synthetic participants driven through
 * a Janus VideoRoom (Janus's HTTP API), for side-by-side figures.
 *
 * Owns: one Janus session and its handles (a publisher and a subscriber
 * handle per endpoint, one more to create rooms), one room per bubble, and
 * two threads doing blocking HTTP/1.1 on their own loopback TCP connections:
 * a sender (POSTs, in order) and a poller (the session's long-poll GET, and a
 * keepalive every 20 s). Their results reach the loop thread through a queue
 * and a uv_async_t; everything touching endpoints runs on the loop thread.
 *
 * The story per endpoint (struct prism_bench_signaller of the site):
 *   join -> [publisher] gather -> joinandconfigure (ptype publisher, our
 *   offer with a=setup:active, see below) -> Janus's answer -> trickle
 *   completed -> ICE + DTLS -> webrtcup.
 *   Every publisher's webrtcup: each other member of the bubble subscribes to
 *   the feeds already up (join as subscriber with the feeds, later a
 *   `subscribe` for new ones; one at a time) -> Janus's offer (m-lines per
 *   feed; a=msid rewritten to the publisher's peer name so the report knows
 *   who sent each stream) -> our answer with `start` -> trickle completed.
 * Janus answers an actpass offer with a=setup:active (it would be the DTLS
 * client, as our publish transport is): our publish offer says
 * a=setup:active instead, and Janus answers passive.
 *
 * Blocking calls (open, add_bubble, add_endpoint, close) are for set-up and
 * tear-down, before and after the loop runs.
 */
#ifndef PRISM_BENCH_JANUS_H
#define PRISM_BENCH_JANUS_H

#include <stddef.h>
#include <sys/types.h>

#include <uv.h>

#include "bench/endpoint.h"

struct prism_bench_janus;

/* Creates a session at `url` ("http://127.0.0.1:8088/janus") and attaches
 * the room-creating handle (blocking). Every request but the long poll
 * fails when Janus sends nothing for `timeout_s` (rounded to whole
 * seconds, at least 1; a request is tried twice). Returns 0 and sets *out,
 * or -1 with a reason in `err`. */
int prism_bench_janus_open(uv_loop_t *loop, const char *url, double timeout_s,
                           struct prism_bench_janus **out, char *err, size_t err_len);

/* The signaller to put in the site of the endpoints Janus carries. */
const struct prism_bench_signaller *prism_bench_janus_signaller(struct prism_bench_janus *j);

/* Creates a VideoRoom for `bubble` with room for `publishers` (blocking).
 * Returns 0 or -1 with a reason in `err`. */
int prism_bench_janus_add_bubble(struct prism_bench_janus *j, const char *bubble,
                                 unsigned publishers, char *err, size_t err_len);

/* Attaches the endpoint's handles (blocking); its bubble must have been
 * added. Returns 0 or -1 with a reason in `err`. */
int prism_bench_janus_add_endpoint(struct prism_bench_janus *j, struct prism_bench_endpoint *ep,
                                   char *err, size_t err_len);

/* Starts the sender and poller threads (before running the loop). */
int prism_bench_janus_start(struct prism_bench_janus *j);

/* The pid of the Janus process listening on the URL's port (from this
 * network namespace's /proc/net/tcp and the sockets in /proc/<pid>/fd), or
 * -1. */
pid_t prism_bench_janus_pid(const struct prism_bench_janus *j);

/* Loop thread, at the end of a run: no more callbacks; closes the uv handle
 * so the loop can end. */
void prism_bench_janus_stop(struct prism_bench_janus *j);

/* After the loop ended: stops the threads, destroys the rooms and the
 * session (blocking), frees everything. Accepts NULL. */
void prism_bench_janus_close(struct prism_bench_janus *j);

#endif
