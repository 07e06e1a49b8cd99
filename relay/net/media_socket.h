/* A worker's UDP media socket: one port, every transport of the worker.
 *
 * Owns: one UDP socket per media address (all on the same port), the uv
 * poll handles that read them, the receive batch buffers, the worker's
 * ICE-lite context (relay/net/ice_lite.h) and the host candidates written
 * from the addresses and the port.
 *
 * Thread: the worker whose loop opened it; no locks.
 *
 * Receive (one story): a readable socket is read with recvmmsg,
 * PRISM_MSOCK_BATCH datagrams per call and at most PRISM_MSOCK_BUDGET calls
 * per wake-up, so one hot peer cannot starve the worker's other sockets,
 * timers and mailbox (the poll is level-triggered: what is left wakes the
 * loop again). With UDP GRO (Linux 5.0+) a read may hold several datagrams
 * of one flow, cut back apart by the segment size the kernel reports. Each
 * datagram is told apart by its first byte (RFC 7983): 0-3 is STUN and goes
 * to the ICE-lite checks (a reply, when one is due, goes straight back with
 * sendto); anything else goes to the transport whose validated address sent
 * it (one hash lookup), or is counted as unknown_source. No allocation, no
 * lock, no log per datagram.
 *
 * Residence time: from each read's kernel receive timestamp to the
 * prism_media_socket_settle() after the egress flush that sent what the
 * datagram became (its copies, a STUN reply, or nothing), kept in a
 * histogram: the delay the relay itself adds, without the network's or
 * a measuring client's.
 *
 * Send: transports send on these sockets through their binding's
 * struct prism_udp_path (relay/net/udp_send.h: sendmmsg, UDP GSO).
 *
 * ICE-TCP (RFC 6544): with tcp_max_connections > 0, every address also
 * gets a listening TCP socket on the same port number, handed to the
 * worker's relay/net/tcp_media.h, and a passive TCP host candidate next to
 * the UDP one. The UDP receive and send paths do not change: a TCP peer's
 * frames enter the same ICE-lite tables through their own door (and are not
 * in the residence-time histogram, which times UDP reads).
 *
 * Port: every worker takes its own port from the configured range: worker
 * k of n tries lo + k, then lo + k + n, lo + k + 2n, ... up to hi, so with
 * a range of its own the port is lo + k, and two relays in one network
 * namespace (tests) still both start. With ICE-TCP the port must be free
 * for UDP and TCP on every address, else the next one is tried.
 */
#ifndef PRISM_RELAY_MEDIA_SOCKET_H
#define PRISM_RELAY_MEDIA_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "relay/base/delay_hist.h"
#include "relay/net/ice_lite.h"
#include "relay/net/tcp_media.h"
#include "relay/wire/candidate.h"

#define PRISM_MSOCK_MAX_ADDRS 8 /* media addresses (config's PRISM_CONFIG_MAX_MEDIA_IPS) */
#define PRISM_MSOCK_BATCH 32    /* datagrams per recvmmsg */
#define PRISM_MSOCK_BUDGET 4    /* recvmmsg calls per socket per wake-up */
#define PRISM_MSOCK_MAX_CANDS (2 * PRISM_MSOCK_MAX_ADDRS) /* a UDP and a TCP one per address */

struct prism_media_socket_config {
    const char *const *addrs; /* numeric IPv4/IPv6 addresses to bind; none: every
                                 non-loopback interface address */
    size_t n_addrs;
    const char *advertise_ip;     /* NULL, or the address written in the candidates instead of a
                                     bound one of the same family (1:1 NAT) */
    uint16_t port_min, port_max;  /* the range the port comes from, inclusive */
    unsigned index, n_workers;    /* this worker's place: first port tried is port_min + index */
    size_t tcp_max_connections;   /* ICE-TCP connections at once; 0: no ICE-TCP */
    uint64_t tcp_idle_timeout_ms; /* a TCP connection silent this long closes; 0: never */
};

struct prism_media_socket;

/* Binds the sockets (one port for all addresses, chosen as the file header
 * says) and starts reading them on `loop`. Returns 0 and sets *out, or
 * PRISM_EINVAL (an address is not numeric, too many, an empty range),
 * PRISM_EIO (no free port in the range, an address not local: `err` says
 * which, `err_len` bytes) or PRISM_ENOMEM. */
int prism_media_socket_open(uv_loop_t *loop, const struct prism_media_socket_config *cfg,
                            struct prism_media_socket **out, char *err, size_t err_len);

/* Stops reading, closes the sockets and frees everything once the uv
 * handles have closed. Every binding must have been detached (checked).
 * Accepts NULL. */
void prism_media_socket_close(struct prism_media_socket *ms);

/* The worker's ICE-lite context, owned by `ms`. */
struct prism_ice_lite *prism_media_socket_lite(struct prism_media_socket *ms);

/* The port every socket is bound to. */
uint16_t prism_media_socket_port(const struct prism_media_socket *ms);

/* The host candidates (attribute values without "a="): one UDP per bound
 * address, then (ICE-TCP on) one passive TCP per address, of lower
 * priority (RFC 6544 §4.2: UDP preferred). Writes up to `max`
 * (PRISM_MSOCK_MAX_CANDS holds them all) into `out`; returns how many. */
size_t prism_media_socket_candidates(const struct prism_media_socket *ms,
                                     char (*out)[PRISM_CANDIDATE_LEN], size_t max);

/* The ICE-TCP counters, or NULL when ICE-TCP is off. */
const struct prism_tcp_stats *prism_media_socket_tcp_stats(const struct prism_media_socket *ms);

/* Whether a bound address is loopback (loopback candidates then usable). */
bool prism_media_socket_loopback(const struct prism_media_socket *ms);

/* Settles the reads since the last call against the clock: call once per
 * loop iteration, after the egress flush. Cheap when nothing was read. */
void prism_media_socket_settle(struct prism_media_socket *ms);

/* The residence times settled so far (monotonic). */
const struct prism_delay_hist *prism_media_socket_delay(const struct prism_media_socket *ms);

/* One datagram through the demultiplexer exactly as if read from socket
 * `fd` (`data` may be modified in place); a STUN reply is sent on `fd`.
 * The receive loop's own step; exported for unit tests and fuzzing. */
void prism_media_socket_demux(struct prism_media_socket *ms, int fd, uint8_t *data, size_t len,
                              const struct sockaddr_storage *from, socklen_t from_len);

#endif
