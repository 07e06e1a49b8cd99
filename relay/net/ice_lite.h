/* ICE-lite (RFC 8445 §2.5, §7.3) on a worker's media socket: who may talk to
 * the relay, and where the relay may send.
 *
 * Owns: struct prism_ice_lite, one per worker: libnice's STUN codec agent
 * (stun/stunagent.h, stun/usages/ice.h: message integrity and fingerprint
 * are checked and written by libnice, not here), the table ufrag -> binding
 * and the table validated address -> binding. A struct prism_lite_binding is
 * one transport's ICE state (caller-owned storage, embedded in the
 * transport): our ufrag and pwd, the peer's ufrag, up to
 * PRISM_LITE_MAX_ADDRS validated addresses and the one media goes to.
 *
 * Thread: the worker that created the context; no locks.
 *
 * The relay is always the controlled agent: a lite agent never checks, the
 * full agent (browser, aiortc, libnice) checks and nominates (USE-CANDIDATE).
 * A Binding request is answered only when its MESSAGE-INTEGRITY verifies
 * under the password of the binding its USERNAME ("ours:theirs") names, its
 * FINGERPRINT is right and, once the peer's description is known, "theirs"
 * is the peer's ufrag. The source address then becomes validated: datagrams
 * from it reach the binding by one hash lookup, and the relay may send to it.
 * Nothing is ever sent to an address that has not passed such a check
 * (issue 9, finding 8): everything else (bad integrity, unknown ufrag,
 * malformed STUN, non-STUN from an unknown address) is a counted drop with
 * no reply. A role conflict (the peer also controlled, RFC 8445 §7.3.1.1)
 * is answered 487 by libnice's codec with our tie-breaker 0: the peer keeps
 * or takes the controlling role, the relay never does.
 *
 * Selection: the address of the latest check with USE-CANDIDATE; until one
 * comes, the latest validated address (so a DTLS reply can go out as soon
 * as the peer has proven its credentials).
 *
 * ICE-TCP (RFC 6544, passive candidates: relay/net/tcp_media.h): a check
 * arriving on a TCP connection validates that connection's address, keyed
 * apart from UDP addresses (a datagram never matches it); once validated,
 * the connection stays with that binding (a check naming another is
 * refused) and its frames reach the binding by the same one lookup. The
 * connection's owner takes the address out when it closes
 * (prism_ice_lite_forget_tcp), so a path never names a closed connection.
 *
 * ICE restart (RFC 8445 §9, RFC 8839 §4.4.1.1.1; prism_ice_lite_restart):
 * the binding gets new credentials of ours and the peer's new ufrag, and
 * its old ones stay answered (in a second table) until the first check
 * under the new ones passes. RFC 8445 §9 lets media go on over the
 * previously selected pair while the restart runs, so a restart the client
 * makes before its path is lost costs no media, and a restart that never
 * completes leaves the transport as it was (the silence timeout still
 * watches it). That first check then drops the old ufrag and every address
 * validated under the old credentials, and selects its own source: from
 * then on the relay sends only where a check under the current credentials
 * came from. A second restart before the first completed replaces the
 * unproven credentials; the old (proven) ones stay until one completes.
 *
 * Cost: two hash lookups per STUN check, one per other datagram; no
 * allocation on the packet path (bindings carry their address slots; the
 * tables grow on attach only, a control-path call).
 */
#ifndef PRISM_RELAY_ICE_LITE_H
#define PRISM_RELAY_ICE_LITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay/net/udp_send.h"

struct prism_tcp_outq;

/* Validated addresses a binding keeps (a client's host, srflx and relayed
 * paths); a newer one replaces the oldest unselected. */
#define PRISM_LITE_MAX_ADDRS 4

/* Our credentials: ice-chars, 48 and 144 bits of entropy. */
#define PRISM_LITE_UFRAG_LEN 8
#define PRISM_LITE_PWD_LEN 24
/* Longest peer ufrag kept (RFC 8839: 256 ice-chars). */
#define PRISM_LITE_REMOTE_UFRAG_MAX 256

/* Largest STUN reply written (a success carries USERNAME-free
 * XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT: under 100 bytes). */
#define PRISM_LITE_REPLY_MAX 512

/* What the worker counts for datagrams no binding owns (stats.get drops). */
struct prism_ice_lite_stats {
    uint64_t stun_auth;      /* STUN refused: bad integrity/fingerprint, unknown ufrag, wrong
                                peer ufrag, malformed, not a Binding request */
    uint64_t unknown_source; /* non-STUN from an address no check validated */
};

struct prism_lite_binding;

/* One validated address of a binding; the hash chain is the table's. */
struct prism_lite_addr {
    struct sockaddr_storage sa;       /* the peer's address, as received */
    socklen_t len;                    /* 0: slot unused */
    uint64_t key[3];                  /* family and port, IP: what the hash compares */
    int fd;                           /* the worker socket it was validated on (UDP), or
                                         the ICE-TCP connection's socket */
    struct prism_tcp_outq *tcp;       /* ICE-TCP: the connection's send queue; NULL: UDP */
    uint64_t seen_ms;                 /* loop time of its last check */
    struct prism_lite_addr *next;     /* address table chain */
    struct prism_lite_binding *owner; /* back pointer for lookups */
};

/* A binding's credentials from before an ICE restart, answered until a
 * check under the new ones passes; chained in the context's second table. */
struct prism_lite_old {
    char ufrag[PRISM_LITE_UFRAG_LEN + 1];               /* ours */
    char pwd[PRISM_LITE_PWD_LEN + 1];                   /* ours */
    char remote_ufrag[PRISM_LITE_REMOTE_UFRAG_MAX + 1]; /* the peer's, as before */
    struct prism_lite_old *next;                        /* old-ufrag table chain */
    struct prism_lite_binding *owner;                   /* back pointer */
};

struct prism_lite_binding {
    char ufrag[PRISM_LITE_UFRAG_LEN + 1];                 /* ours */
    char pwd[PRISM_LITE_PWD_LEN + 1];                     /* ours */
    char remote_ufrag[PRISM_LITE_REMOTE_UFRAG_MAX + 1];   /* "" until the peer's SDP */
    struct prism_lite_addr addrs[PRISM_LITE_MAX_ADDRS];   /* validated addresses */
    struct prism_udp_path path;                           /* selected: where media goes;
                                                             fd -1 until a check passed */
    bool nominated;                                       /* path came from USE-CANDIDATE */
    uint64_t last_rx_ms;                                  /* loop time of the last datagram
                                                             from a validated address */
    void (*on_recv)(void *ud, uint8_t *data, size_t len); /* non-STUN from a validated
                                                             address; in place */
    void (*on_validated)(void *ud);                       /* a check passed (each time) */
    void *ud;                                             /* for the callbacks */
    struct prism_lite_binding *next;                      /* ufrag table chain */
    bool attached;                                        /* in the tables */
    struct prism_lite_old *old;                           /* heap, during an ICE restart
                                                             only (a restart is rare: a
                                                             binding stays small) */
    uint32_t restarts;                                    /* ICE restarts completed */
};

struct prism_ice_lite;

/* Creates the context of one worker. Returns 0 and sets *out, or
 * PRISM_ENOMEM. */
int prism_ice_lite_new(struct prism_ice_lite **out);

/* Frees it; every binding must be detached first (checked). Accepts NULL. */
void prism_ice_lite_free(struct prism_ice_lite *lite);

/* Fills `b` with fresh credentials (getrandom; a ufrag unique on this
 * worker), the callbacks and `ud`, and enters it in the ufrag table. `b`
 * must stay put until prism_ice_lite_detach(). Control path (may grow the
 * tables). Returns 0, PRISM_EINVAL (a callback missing) or PRISM_ENOMEM /
 * PRISM_EIO (no randomness). */
int prism_ice_lite_attach(struct prism_ice_lite *lite, struct prism_lite_binding *b,
                          void (*on_recv)(void *ud, uint8_t *data, size_t len),
                          void (*on_validated)(void *ud), void *ud);

/* Takes `b` and its validated addresses out of the tables: nothing reaches
 * it and nothing is sent for it afterwards. Idempotent. */
void prism_ice_lite_detach(struct prism_ice_lite *lite, struct prism_lite_binding *b);

/* Sets the peer's ufrag (from its SDP): checks must name it from now on.
 * Returns 0 or PRISM_EINVAL (not 4-256 ice-chars). */
int prism_ice_lite_set_remote(struct prism_lite_binding *b, const char *ufrag);

/* ICE restart (see the file header): gives `b` fresh credentials of ours
 * (unique on this worker; read them from b->ufrag and b->pwd) and the
 * peer's new ufrag `remote_ufrag`, or, NULL when we offer the restart, no
 * peer ufrag until prism_ice_lite_set_remote() (checks under our new
 * credentials pass with any until then); the credentials that checks last
 * proved stay answered until a check under the new ones passes. Control
 * path (allocates the old credentials' entry; freed when the restart
 * completes or `b` is detached). Returns 0, PRISM_EINVAL (`b` detached;
 * `remote_ufrag` not 4-256 ice-chars), PRISM_EIO (no randomness) or
 * PRISM_ENOMEM; `b` unchanged on error. */
int prism_ice_lite_restart(struct prism_ice_lite *lite, struct prism_lite_binding *b,
                           const char *remote_ufrag);

/* Whether an ICE restart of `b` waits for its first check. */
bool prism_ice_lite_restarting(const struct prism_lite_binding *b);

/* Whether a check has validated an address (media may be sent). */
bool prism_ice_lite_validated(const struct prism_lite_binding *b);

/* The verdict on one STUN datagram (first byte 0-3). */
enum prism_lite_verdict {
    PRISM_LITE_REPLY,   /* a reply of *reply_len bytes is in `reply`: send it back to `from` */
    PRISM_LITE_IGNORED, /* a Binding indication or response from a validated address */
    PRISM_LITE_DROPPED, /* refused: counted in stats.stun_auth, nothing to send */
};

/* Handles one STUN datagram of `len` bytes from `from` (`from_len` bytes),
 * received on the worker socket `fd` at loop time `now_ms`: validates it
 * with libnice's codec, writes the reply (success with XOR-MAPPED-ADDRESS,
 * MESSAGE-INTEGRITY and FINGERPRINT, or a 487 role conflict) into `reply`
 * (PRISM_LITE_REPLY_MAX bytes) and, on success, validates `from` for the
 * binding named by the USERNAME (and selects it on USE-CANDIDATE, or when
 * nothing is selected yet), then runs its on_validated. Packet path: no
 * allocation. */
enum prism_lite_verdict prism_ice_lite_on_stun(struct prism_ice_lite *lite, const uint8_t *data,
                                               size_t len, const struct sockaddr_storage *from,
                                               socklen_t from_len, int fd, uint64_t now_ms,
                                               uint8_t *reply, size_t *reply_len);

/* The same for a check framed on an ICE-TCP connection from `from`: its
 * socket `fd` and send queue `tcp` (relay/net/tcp_send.h) become the
 * path's when it is selected. Refused (DROPPED) too when the connection
 * was validated for another binding. */
enum prism_lite_verdict prism_ice_lite_on_stun_tcp(struct prism_ice_lite *lite, const uint8_t *data,
                                                   size_t len, const struct sockaddr_storage *from,
                                                   socklen_t from_len, int fd,
                                                   struct prism_tcp_outq *tcp, uint64_t now_ms,
                                                   uint8_t *reply, size_t *reply_len);

/* Whether the ICE-TCP connection from `from` is validated for a binding. */
bool prism_ice_lite_bound_tcp(struct prism_ice_lite *lite, const struct sockaddr_storage *from,
                              socklen_t from_len);

/* Hands a non-STUN frame of the ICE-TCP connection from `from` to its
 * binding's on_recv (in place; bumps last_rx_ms) and returns true, or
 * counts it in stats.unknown_source and returns false (its binding went
 * away or moved the address out: the connection has no purpose left). */
bool prism_ice_lite_on_frame_tcp(struct prism_ice_lite *lite, uint8_t *data, size_t len,
                                 const struct sockaddr_storage *from, socklen_t from_len,
                                 uint64_t now_ms);

/* Takes the ICE-TCP connection from `from` out of the tables (it is
 * closing): a path that used it sends nowhere until the peer's next check
 * selects another. Idempotent. */
void prism_ice_lite_forget_tcp(struct prism_ice_lite *lite, const struct sockaddr_storage *from,
                               socklen_t from_len);

/* The binding `from` was validated for, or NULL. O(1): one hash lookup. */
struct prism_lite_binding *prism_ice_lite_lookup(struct prism_ice_lite *lite,
                                                 const struct sockaddr_storage *from,
                                                 socklen_t from_len);

/* Hands a non-STUN datagram from `from` to its binding's on_recv (in place;
 * bumps its last_rx_ms), or counts it in stats.unknown_source. */
void prism_ice_lite_on_datagram(struct prism_ice_lite *lite, uint8_t *data, size_t len,
                                const struct sockaddr_storage *from, socklen_t from_len,
                                uint64_t now_ms);

/* The counters (monotonic). */
const struct prism_ice_lite_stats *prism_ice_lite_stats(const struct prism_ice_lite *lite);

/* Bindings attached now. */
size_t prism_ice_lite_count(const struct prism_ice_lite *lite);

#endif
