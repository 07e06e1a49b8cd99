/* A worker's ICE-TCP listener (RFC 6544 passive candidates, RFC 4571
 * framing): media for clients whose UDP is blocked.
 *
 * Owns: the worker's listening TCP sockets (one per media address, on the
 * worker's UDP media port: relay/net/media_socket.h binds them), the uv
 * poll handles reading them and their accepted connections, and a sweep
 * timer. A connection owns its socket, a read buffer (relay/net/
 * tcp_frame.h) and, once bound, a send queue (relay/net/tcp_send.h).
 *
 * Thread: the worker whose loop opened it; no locks.
 *
 * Story of a connection: accepted (refused at once, counted in `limit`,
 * when the worker already holds max_connections) -> unauthenticated: its
 * frames are read, and the first must be a STUN Binding request that
 * passes the worker's ICE-lite check (relay/net/ice_lite.h: USERNAME
 * names a transport, MESSAGE-INTEGRITY verifies under its password):
 * anything else, or nothing within PRISM_TCP_AUTH_TIMEOUT_MS, closes it
 * (counted in `auth`) -> bound: the check validated the connection for
 * that transport, which may select it as its path (the browser nominates);
 * further checks, DTLS and SRTP frames go to that transport exactly as
 * datagrams from a validated UDP address do, and what the transport sends
 * is framed onto the connection -> closed by the peer, on a read or write
 * error, on a bad frame (length 0 is skipped, longer than
 * PRISM_TCP_FRAME_MAX closes; both counted in `frame`), when its transport
 * went away (the next non-STUN frame finds no binding), or when nothing
 * arrived for idle_timeout_ms (consent: browsers check every ~5 s).
 * Closing takes its address out of the ICE-lite tables at once, so no path
 * names a closed connection.
 *
 * Reads: a readable connection is read at most PRISM_TCP_READ_BUDGET times
 * per wake-up (level-triggered: what is left wakes the loop again), as the
 * UDP socket is. No allocation per packet; a bound connection's queue is
 * allocated once, when it is bound.
 *
 * Sends never block: what the kernel does not take waits in the
 * connection's bounded queue and is written when the socket turns
 * writable; a packet for which the queue has no room is dropped and
 * counted (`queue`, and the transport's `egress`).
 */
#ifndef PRISM_RELAY_TCP_MEDIA_H
#define PRISM_RELAY_TCP_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "relay/net/ice_lite.h"

/* From accept to a passing check, at most. Browsers send their first check
 * right after connecting; a slow path has a few round trips of margin. */
#define PRISM_TCP_AUTH_TIMEOUT_MS 5000

/* Reads per connection per wake-up. */
#define PRISM_TCP_READ_BUDGET 4

/* Connections accepted per listener per wake-up. */
#define PRISM_TCP_ACCEPT_BUDGET 16

struct prism_tcp_media_config {
    const int *fds;           /* listening sockets (non-blocking); ownership moves in */
    size_t n_fds;             /* 1 or more */
    size_t max_connections;   /* at once, bound or not; 1 or more */
    uint64_t idle_timeout_ms; /* a connection silent this long is closed; 0: never */
};

/* What the worker counts (stats.get drops tcp_*; monotonic). */
struct prism_tcp_stats {
    uint64_t auth;  /* connections closed unauthenticated: a first frame that is not a
                       passing check, or none within PRISM_TCP_AUTH_TIMEOUT_MS */
    uint64_t limit; /* connections refused at max_connections (or for want of memory),
                       and accepts that found no descriptor (the listener then rests
                       until the next sweep, a second at most) */
    uint64_t frame; /* bad frames: length 0 (skipped), too long (connection closed) */
    uint64_t queue; /* packets dropped: the connection's send queue was full */
};

struct prism_tcp_media;

/* Starts accepting on cfg->fds on `loop`, checking against `lite` (which
 * must outlive prism_tcp_media_close()). Returns 0 and sets *out, or
 * PRISM_EINVAL (no fd, max_connections 0) or PRISM_ENOMEM; on error the
 * fds are closed. */
int prism_tcp_media_new(uv_loop_t *loop, struct prism_ice_lite *lite,
                        const struct prism_tcp_media_config *cfg, struct prism_tcp_media **out);

/* Closes every connection and listener: their addresses leave `lite`'s
 * tables before this returns, memory is freed once the uv handles have
 * closed. Accepts NULL. */
void prism_tcp_media_close(struct prism_tcp_media *tm);

/* The counters. */
const struct prism_tcp_stats *prism_tcp_media_stats(const struct prism_tcp_media *tm);

/* Connections open now. */
size_t prism_tcp_media_count(const struct prism_tcp_media *tm);

#endif
