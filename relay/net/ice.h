/* ICE transport of one peer connection (publish or subscribe), on a worker.
 *
 * A struct prism_ice owns one libnice agent with one stream of one component
 * (BUNDLE + rtcp-mux), on its own GMainContext driven by the worker's uv loop
 * (relay/gmain_uv.h). UDP only, full ICE, trickle (RFC 8838), regular
 * nomination (RFC 8445), consent freshness (RFC 7675; libnice expires
 * consent after 10 s, not 30 s). Candidates travel as SDP attribute values
 * (RFC 8839): "candidate:1 1 UDP 2013266431 192.0.2.1 40000 typ host", read
 * and written by relay/wire/candidate.h.
 *
 * Thread: every function and every callback runs on the thread that called
 * prism_ice_new() - the one running the uv loop. Datagrams reach on_recv
 * straight from libnice's socket read, with no copy and no allocation,
 * because that thread owns the agent's context.
 *
 * Callbacks may run from inside prism_ice_gather(),
 * prism_ice_set_remote_credentials() and prism_ice_add_remote_candidate() as
 * well as from the loop. Any callback may call prism_ice_close().
 *
 * Cost: an agent holds 1 + n_local_addrs fds once gathered (GLib's wake-up
 * eventfd and one UDP socket per address) and ~26 KiB.
 */
#ifndef PRISM_RELAY_ICE_H
#define PRISM_RELAY_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "relay/net/udp_send.h"
#include "relay/wire/candidate.h"

/* Longest candidate attribute value we accept from a peer, in bytes (without
 * "a="): candidate.h's limit, the same for SDP, peer.candidate and ICE. */
#define PRISM_ICE_CANDIDATE_MAX PRISM_CANDIDATE_MAX

/* Datagrams handed to libnice per sendmmsg by prism_ice_send_batch(). */
#define PRISM_ICE_BATCH_MAX PRISM_UDP_BATCH_MAX

enum prism_ice_state {
    PRISM_ICE_NEW = 0,   /* created or gathering; no check sent yet */
    PRISM_ICE_CHECKING,  /* connectivity checks running */
    PRISM_ICE_CONNECTED, /* a pair works: media may flow */
    PRISM_ICE_FAILED,    /* checks failed, or consent was lost; final */
    PRISM_ICE_CLOSED,    /* prism_ice_close() called; never passed to on_state */
};

struct prism_ice_config {
    const char *const *local_addrs; /* numeric IPv4/IPv6 addresses to gather on; none = every
                                       interface libnice finds (loopback excluded) */
    size_t n_local_addrs;           /* entries in local_addrs */
    const char *advertise_ip;       /* NULL, or the numeric address written instead of the host
                                       candidates' own (1:1 NAT); same family only */
    uint16_t port_min, port_max;    /* UDP port range, inclusive; both 0 = any port */
    bool controlling;               /* true when we sent the offer (subscribe), false when we
                                       answer the client (publish) */
};

struct prism_ice_callbacks {
    /* A datagram that is not STUN. `data` may be modified in place and is
     * valid only during the call; there is no tailroom. Required. */
    void (*on_recv)(void *ud, uint8_t *data, size_t len);
    /* The mapped state changed (never NEW, never CLOSED). May be NULL. */
    void (*on_state)(void *ud, enum prism_ice_state state);
    /* A local candidate, as an attribute value without "a=" written by
     * prism_candidate_format() (valid only during the call). May be NULL. */
    void (*on_candidate)(void *ud, const char *candidate);
    /* Local gathering finished: signal end-of-candidates. May be NULL. */
    void (*on_gathering_done)(void *ud);
};

struct prism_ice;

/* Creates an agent for `loop`, on the loop's thread. `cfg` and `cb` are
 * copied (the strings are parsed now and not kept); `ud` is passed to every
 * callback. Nothing is sent or bound until prism_ice_gather().
 * Returns 0 and sets *out, or PRISM_EINVAL (an address is not numeric, an
 * empty or inverted port range, on_recv missing) or PRISM_EINTERNAL. On
 * error nothing is left to close. */
int prism_ice_new(uv_loop_t *loop, const struct prism_ice_config *cfg,
                  const struct prism_ice_callbacks *cb, void *ud, struct prism_ice **out);

/* Binds one UDP socket per local address in the port range and starts
 * gathering; candidates arrive through on_candidate (possibly before this
 * returns), then on_gathering_done. Call once.
 * Returns 0, PRISM_EINVAL (called twice, or closing) or PRISM_EIO (no socket
 * could be bound: port range exhausted, address not local). */
int prism_ice_gather(struct prism_ice *ice);

/* Our ufrag and pwd for the SDP (RFC 8839 ice-ufrag/ice-pwd). The strings
 * belong to `ice` and live until it is closed. */
void prism_ice_local_credentials(const struct prism_ice *ice, const char **ufrag, const char **pwd);

/* Sets the peer's ufrag (4-256 ice-chars) and pwd (22-256 ice-chars) from its
 * SDP. Call before adding remote candidates. Returns 0, or PRISM_EINVAL
 * (malformed, or closing) or PRISM_EINTERNAL. */
int prism_ice_set_remote_credentials(struct prism_ice *ice, const char *ufrag, const char *pwd);

/* Adds one trickled remote candidate: "candidate:..." with or without a
 * leading "a=", read by candidate.h's rules. NULL means end-of-candidates
 * (RFC 8838): checks may then fail for good. Well-formed candidates we cannot
 * use (TCP, a component other than 1, an mDNS or other host name) are
 * ignored and return 0. A candidate whose address the relay must not send to
 * (prism_candidate_refused(); loopback is usable only when a local address
 * is loopback) is dropped and returns PRISM_EFORBIDDEN; callers that feed an
 * SDP's candidates ignore it and go on with the others.
 * Returns 0, or PRISM_EINVAL (malformed, longer than
 * PRISM_ICE_CANDIDATE_MAX, no remote credentials yet, or closing), or
 * PRISM_EFORBIDDEN. */
int prism_ice_add_remote_candidate(struct prism_ice *ice, const char *candidate);

/* Sends one datagram on the selected pair (a batch of one). Returns 0 when
 * sent or dropped by a full socket buffer, or PRISM_EIO as below. */
int prism_ice_send(struct prism_ice *ice, const uint8_t *data, size_t len);

/* Sends `n` datagrams in order on the selected pair, PRISM_ICE_BATCH_MAX per
 * sendmmsg. Never blocks, never allocates on success. Returns how many of
 * the first datagrams it is done with, r (fewer than `n` when the socket
 * buffer is full: the rest are the caller's to drop or retry), or PRISM_EIO
 * if libnice has no selected pair yet, the transport is closing, or the
 * socket failed before the first datagram. Of pkts[0..r), each has
 * `refused` set when the kernel refused that one datagram (a firewall
 * rule's EPERM, EMSGSIZE, no route: skipped, the rest still sent) and
 * cleared when it was sent; only the direct path (see ice.c) skips, through
 * libnice a refusal ends the batch. The buffers are not kept after the
 * call. */
int prism_ice_send_batch(struct prism_ice *ice, struct prism_ice_datagram *pkts, size_t n);

/* The current mapped state. */
enum prism_ice_state prism_ice_state(const struct prism_ice *ice);

/* fds the agent holds now (its context's poll set, GLib's eventfd
 * included): 1 before gathering, 1 + n_local_addrs after. For admission
 * control: GLib aborts the process when it runs out of fds. */
size_t prism_ice_fd_count(const struct prism_ice *ice);

/* Stops the agent: no callback runs after this returns, and every other
 * call fails with PRISM_EINVAL (prism_ice_send* with PRISM_EIO). Sockets and
 * memory are released in a later loop phase, then `closed_cb(ud)` runs (may
 * be NULL). Safe from inside any callback of this agent. Accepts NULL. Call
 * at most once. */
void prism_ice_close(struct prism_ice *ice, void (*closed_cb)(void *ud));

#endif
