/* One media transport of a peer (publish or subscribe): ICE + DTLS + SRTP.
 *
 * Owns: a struct prism_transport holds its ICE side, one of two kinds
 * chosen at creation: the relay's transports are ICE-lite on the worker's
 * media socket (relay/net/media_socket.h, ice_lite.h: a binding in the
 * worker's tables, no socket or fd of its own; the client checks and
 * nominates); a client's (prism-bench) owns a full libnice agent
 * (relay/ice.h: one stream, one component, BUNDLE + rtcp-mux). Then one
 * DTLS-SRTP session
 * (crypto/dtls.h) with its retransmission timer, the two SRTP contexts
 * (crypto/srtp.h: inbound keyed with the peer's key, outbound with ours) and
 * its egress send queue (relay/egress.h).
 *
 * Thread: a transport belongs to the worker that created it; every function
 * and every callback runs on that thread (the one running `loop`). The
 * shared struct prism_dtls_ctx is immutable and safe to use from every
 * worker at once: OpenSSL allows SSL_new() on one SSL_CTX from many threads
 * as long as nobody modifies the SSL_CTX.
 *
 * Lifecycle: NEW -> CONNECTING (remote description set, ICE checking, DTLS
 * handshaking) -> CONNECTED (DTLS done, peer's fingerprint matched, SRTP
 * keyed) -> FAILED (final; ICE failed, consent lost, DTLS failed, or not
 * CONNECTED within connect_timeout_ms of CONNECTING). A peer's
 * close_notify after CONNECTED reports CLOSED. Both FAILED and CLOSED are
 * final: the owner then calls prism_transport_close(). A status is reported
 * once, through on_status, never for prism_transport_close() itself.
 *
 * ICE-lite silence: a lite transport CONNECTED that receives nothing from
 * its peer's validated addresses for silence_timeout_ms (consent checks,
 * RFC 7675, arrive every ~5 s from a live browser) fails with "consent
 * lost", the reason libnice's consent expiry gives a client transport.
 * Trickled candidates are checked for form and otherwise ignored by a lite
 * transport: the client's checks reveal its addresses.
 *
 * Ingress (RFC 7983 demultiplexing by first byte; STUN never gets here):
 * 20-63 DTLS, 128-191 RTP or RTCP (RTCP when the second byte, the whole
 * payload type, is 192-223: RFC 5761 §4), anything else dropped. RTP and
 * RTCP are accepted only SRTP-protected under the keys of this transport's
 * DTLS handshake (RFC 5764, RFC 3711): never in the clear, never before the
 * handshake. Each rejected packet bumps one counter; nothing is logged.
 * SRTP streams are bounded (issue 9, finding 2): the inbound context holds
 * streams only for the SSRCs the owner allows (prism_transport_set_ssrcs:
 * the peer's negotiated SSRCs and a few others, crypto/srtp.h "Bounded
 * inbound streams"); a packet of any other SSRC is dropped before it is
 * decrypted (drop_ssrc_limit), so a peer cycling SSRCs costs one array scan
 * per packet, not a stream each.
 *
 * Egress: packets are copied into a pool buffer of the worker's egress,
 * protected and queued; the egress sends them in one batch per loop
 * iteration.
 *
 * Callbacks: any callback may call prism_transport_close(); after that no
 * callback runs again (except the closed callback).
 */
#ifndef PRISM_RELAY_TRANSPORT_H
#define PRISM_RELAY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "crypto/dtls.h"
#include "relay/base/counters.h"
#include "relay/net/egress.h"
#include "relay/net/ice.h"
#include "relay/net/media_socket.h"

struct prism_transport_config {
    struct prism_ice_config ice;     /* a libnice agent's (lite NULL): controlling = true when
                                        we offered; copied as prism_ice_new() does */
    struct prism_media_socket *lite; /* the worker's media socket: the transport is ICE-lite
                                        on it (the relay's); NULL: it owns a libnice agent
                                        built from `ice` (a client's). Outlives it. */
    uint64_t silence_timeout_ms;     /* lite only: CONNECTED and nothing received this long
                                        fails ("consent lost"); 0: never */
    struct prism_dtls_ctx *dtls_ctx; /* shared, immutable, created once per process; must
                                        outlive prism_transport_set_remote() (sessions then
                                        hold their own reference) */
    enum prism_dtls_role dtls_role;  /* our a=setup: SERVER (passive) for both of the relay's
                                        transports; CLIENT (active) for bench clients */
    struct prism_egress *egress;     /* the worker's egress context; outlives the transport */
    uint64_t connect_timeout_ms;     /* CONNECTING longer than this (from the remote
                                        description) fails: "timeout: ice" or "timeout: dtls";
                                        0: no deadline */
};

struct prism_transport_callbacks {
    /* An authenticated, decrypted RTP packet of `len` bytes (header
     * included), in place: may be modified, valid only during the call. */
    void (*on_rtp)(void *ud, uint8_t *pkt, size_t len);
    /* Optional (NULL: every packet is unprotected). An SRTP packet (not
     * SRTCP) as received, before authentication: only its RTP header and
     * header extensions are in the clear (no RFC 6904 here). Return true to
     * authenticate, decrypt and hand it to on_rtp as usual; false leaves it
     * there, counted in packets_in/bytes_in though not authenticated. For a
     * load generator that verifies a sample of what it receives
     * (prism-bench run --verify-sample); the relay never sets it, as it must
     * not act on an unauthenticated packet. */
    bool (*on_srtp_peek)(void *ud, const uint8_t *pkt, size_t len);
    /* An authenticated, decrypted (compound) RTCP packet, same rules. */
    void (*on_rtcp)(void *ud, uint8_t *pkt, size_t len);
    /* The status changed. `reason` is "" for CONNECTING and CONNECTED, and
     * for FAILED/CLOSED one of: "ice failed", "consent lost",
     * "dtls: <crypto/dtls.h failure, e.g. fingerprint mismatch>",
     * "srtp: key setup failed", "dtls: closed by peer", "timeout: ice"
     * or "timeout: dtls" (not CONNECTED within connect_timeout_ms: no ICE
     * pair, or no DTLS handshake on it). Valid during the
     * call. */
    void (*on_status)(void *ud, enum prism_transport_state st, const char *reason);
    /* A local ICE candidate as an SDP attribute value (no "a="), valid during
     * the call. */
    void (*on_candidate)(void *ud, const char *candidate);
    /* Local gathering finished: signal end-of-candidates. */
    void (*on_gathering_done)(void *ud);
};

/* A transport's counters are struct prism_media_counters (relay/base/counters.h),
 * monotonic and read on the owner thread; media only (DTLS and STUN are not
 * counted); drop_no_route is the router's and stays 0 here. */

struct prism_transport;

/* Creates a transport on `loop`'s thread (the worker). `cfg` and `cb` are
 * copied; `ud` goes to every callback. on_rtp, on_rtcp and on_status are
 * required. Nothing is bound or sent until prism_transport_gather().
 * Returns 0 and sets *out, or PRISM_EINVAL (missing callback, dtls_ctx or
 * egress; invalid ICE config) or PRISM_ENOMEM / PRISM_EINTERNAL. On error
 * nothing is left to close. */
int prism_transport_new(uv_loop_t *loop, const struct prism_transport_config *cfg,
                        const struct prism_transport_callbacks *cb, void *ud,
                        struct prism_transport **out);

/* Sets the SSRCs whose SRTP and SRTCP this transport accepts from its peer:
 * the `n` negotiated ones at `ssrcs` (copied; always accepted) and up to
 * `n_other` others, first come first served (SSRCs learned from the packets,
 * RTCP-only SSRCs). A packet of any other SSRC is dropped unread and counted
 * in drop_ssrc_limit. Within one transport the allowance of others never
 * shrinks (the largest `n_other` given stays), so a stream a peer may still
 * use is never taken back; reserved SSRCs dropped from the list keep their
 * streams as others while there is room. Until the first call the inbound
 * context admits PRISM_SRTP_DEFAULT_STREAMS SSRCs of any value. Takes effect
 * at once if keyed, else when keyed. Control path (allocates). Returns 0,
 * PRISM_EINVAL (closing; `ssrcs` NULL with `n` > 0; `n` >
 * PRISM_SRTP_MAX_STREAMS) or PRISM_ENOMEM (the previous setting stays). */
int prism_transport_set_ssrcs(struct prism_transport *t, const uint32_t *ssrcs, size_t n,
                              size_t n_other);

/* Binds the UDP sockets and starts gathering: candidates arrive through
 * on_candidate (possibly before this returns), then on_gathering_done. A
 * lite transport binds nothing: it reports the media socket's host
 * candidates before this returns. Call once. Returns 0, PRISM_EINVAL
 * (twice, or closing) or PRISM_EIO (no socket could be bound). */
int prism_transport_gather(struct prism_transport *t);

/* Our ICE ufrag and pwd for the SDP; owned by `t`, valid until it is closed. */
void prism_transport_local_credentials(const struct prism_transport *t, const char **ufrag,
                                       const char **pwd);

/* Sets the peer's ICE credentials and its DTLS certificate fingerprint (the
 * SDP a=fingerprint value, "sha-256 AB:CD:..."), moves to CONNECTING and
 * lets ICE check. Once ICE connects, DTLS starts: a client sends its
 * ClientHello, a server waits for one. The DTLS session is made then (or
 * at the peer's first record), not here, so a transport whose peer never
 * comes costs no SSL object; if OpenSSL cannot make it the transport fails
 * "dtls: session setup failed". Callbacks may run before this returns.
 * Call once. Returns 0, PRISM_EINVAL (malformed credentials or fingerprint,
 * called twice, or closing) or PRISM_EUNSUPPORTED (a fingerprint hash other
 * than sha-256/384/512). */
int prism_transport_set_remote(struct prism_transport *t, const char *ufrag, const char *pwd,
                               const char *fingerprint);

/* ICE restart (RFC 8445 §9, RFC 8839 §4.4.1.1.1) of a lite transport
 * whose remote description is set: our ICE credentials are replaced by
 * fresh ones (prism_transport_local_credentials() returns them from now
 * on), the peer's are `ufrag` and `pwd` (from its offer), or, all three
 * NULL when we offer the restart, come later through
 * prism_transport_restart_remote(); the host candidates are reported again
 * through on_candidate and on_gathering_done (possibly before this
 * returns). The DTLS session, the SRTP contexts, the status and the
 * counters stay: `fingerprint` must be the one given to
 * prism_transport_set_remote(). Until the peer's first check under the new
 * credentials passes, media goes on over the path the old ones proved
 * (relay/net/ice_lite.h). Returns 0, PRISM_EINVAL (closing, final, no
 * remote description yet, malformed credentials, or a different
 * fingerprint: nothing changed), PRISM_EUNSUPPORTED (a libnice client
 * transport, or a fingerprint hash other than sha-256/384/512) or
 * PRISM_EIO. */
int prism_transport_restart_ice(struct prism_transport *t, const char *ufrag, const char *pwd,
                                const char *fingerprint);

/* The peer's answer to a restart we offered (prism_transport_restart_ice
 * with NULLs): its new ICE credentials, under the same `fingerprint`.
 * Returns 0, PRISM_EINVAL (as above) or PRISM_EUNSUPPORTED. */
int prism_transport_restart_remote(struct prism_transport *t, const char *ufrag, const char *pwd,
                                   const char *fingerprint);

/* A renegotiation of a lite transport whose remote description is set: the
 * peer's new offer keeps its ICE `ufrag` and `pwd` and its certificate
 * `fingerprint` (RFC 8829 §5.2.2, RFC 8842 §5.5: the ICE session and the
 * DTLS association go on), so nothing changes here; our host candidates are
 * reported again through on_candidate and on_gathering_done (before this
 * returns), for the answer. Returns 0, PRISM_EINVAL (closing, final, no
 * remote description yet, or another ufrag or fingerprint than the ones
 * set: nothing changed), PRISM_EUNSUPPORTED (a libnice client transport,
 * or a fingerprint hash other than sha-256/384/512) or PRISM_EIO. */
int prism_transport_renegotiate(struct prism_transport *t, const char *ufrag, const char *pwd,
                                const char *fingerprint);

/* Adds one trickled remote candidate ("candidate:..."), or end-of-candidates
 * when `candidate` is NULL. Call after prism_transport_set_remote(). Returns
 * 0 or PRISM_EINVAL (malformed, too early, or closing); unusable but
 * well-formed candidates (TCP, mDNS) are ignored and return 0, and so are
 * all well-formed ones on a lite transport. */
int prism_transport_add_remote_candidate(struct prism_transport *t, const char *candidate);

/* Egress (hot path): SRTP-protects the plain RTP packet of `len` bytes (12
 * to PRISM_EGRESS_MAX_PACKET, version 2) in `buf`, a buffer of this
 * transport's egress pool (ownership moves here whatever the result), and
 * queues it for the next flush, unmodified but for the protection. No
 * allocation, lock or log. Returns 0 (queued; a later send failure is
 * counted in drop_egress), or, each counted in drop_egress with the buffer
 * back in the pool: PRISM_EIO (not CONNECTED), PRISM_EINVAL (not an RTP
 * packet or too long), PRISM_ECRYPTO (protect refused). */
int prism_transport_queue_rtp(struct prism_transport *t, uint8_t *buf, size_t len);

/* Same, from a packet the caller keeps: copies `pkt` into a pool buffer
 * first (PRISM_ENOMEM, counted, when the pool is empty). */
int prism_transport_send_rtp(struct prism_transport *t, const uint8_t *pkt, size_t len);

/* Same for one (compound) RTCP packet (8 to PRISM_EGRESS_MAX_PACKET bytes,
 * version 2), sent as SRTCP, unmodified. */
int prism_transport_send_rtcp(struct prism_transport *t, const uint8_t *pkt, size_t len);

/* The counters, owned by `t` and updated in place; valid until it is closed. */
const struct prism_media_counters *prism_transport_counters(const struct prism_transport *t);

/* The current status (CLOSED once prism_transport_close() was called). */
enum prism_transport_state prism_transport_status(const struct prism_transport *t);

/* Closes the transport: sends a DTLS close_notify if connected, flushes its
 * queued datagrams, stops ICE. No callback runs after this returns; every
 * other call fails (PRISM_EINVAL, sends PRISM_EIO). Memory and sockets are
 * released in a later loop phase, then `closed_cb(ud)` runs (may be NULL).
 * Safe from inside any callback of `t`. Accepts NULL. Call at most once. */
void prism_transport_close(struct prism_transport *t, void (*closed_cb)(void *ud));

/* Internal, for unit tests only: runs one received datagram through the
 * ingress exactly as if libnice (or the media socket) had delivered it (`data` is modified in
 * place). */
void prism__transport_ingress(struct prism_transport *t, uint8_t *data, size_t len);

/* Internal, for unit tests only: the transport's send queue, to read the
 * protected datagrams waiting for the next flush. */
struct prism_egress_queue *prism__transport_queue(struct prism_transport *t);

#endif
