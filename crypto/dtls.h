/* DTLS-SRTP key agreement over memory, for one ICE transport (RFC 5764,
 * RFC 6347 DTLS 1.2, RFC 8842 roles, RFC 8827 §6.5 fingerprint check,
 * RFC 7714 §14.2 AEAD profiles).
 *
 * Owns: struct prism_dtls_ctx, one OpenSSL SSL_CTX built from our
 * certificate (crypto/cert.h), shared by every session of a process; and
 * struct prism_dtls, one handshake per transport. A session does no I/O: the
 * caller feeds it each received DTLS datagram (RFC 7983 first byte 20-63),
 * and it hands each datagram to send, one at a time, to a callback (records
 * are never merged into a flight-sized blob). Retransmission is driven by
 * the caller's timer: prism_dtls_timeout_ms() says when, prism_dtls_on_timeout()
 * does it.
 *
 * Thread: a prism_dtls_ctx is immutable once built and may be used by any
 * thread to create sessions. A prism_dtls belongs to its transport's worker;
 * its send callback runs on that thread, inside prism_dtls_start/feed/
 * on_timeout/close, and must not call back into the session.
 *
 * Policy: DTLS 1.2 only (DTLS 1.0 is refused; OpenSSL 3.0 has no DTLS 1.3 and
 * answers a 1.3-capable ClientHello, e.g. Chromium's, with 1.2). ECDHE on
 * X25519 or P-256, AES-GCM or ChaCha20-Poly1305 suites. SRTP profiles by
 * preference: AEAD_AES_256_GCM, AEAD_AES_128_GCM, AES128_CM_HMAC_SHA1_80.
 * Both sides must present a certificate; it is authenticated only by the SDP
 * fingerprint (any issuer, dates not checked: the fingerprint pins the exact
 * certificate). A mismatch aborts the handshake (bad_certificate alert) and is
 * checked again on completion. MTU 1200 bytes, never probed. No tickets,
 * renegotiation or session resumption. Handshake retransmission starts at
 * 400 ms (RFC 6347's 1 s would add a second per lost flight to call setup,
 * on a path ICE has just proven) and doubles up to 6.4 s; OpenSSL gives up
 * after 12 timeouts, about a minute.
 *
 * Invariants: keys exist only once the session is CONNECTED, i.e. after the
 * peer's certificate matched; they are wiped when the session is freed.
 */
#ifndef PRISM_CRYPTO_DTLS_H
#define PRISM_CRYPTO_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/srtp.h"

#define PRISM_DTLS_MTU 1200 /* largest datagram handed to the send callback */

/* Our side of the handshake; from SDP a=setup (RFC 8842): "active" is the
 * client, "passive" the server. */
enum prism_dtls_role {
    PRISM_DTLS_CLIENT = 0,
    PRISM_DTLS_SERVER = 1,
};

enum prism_dtls_state {
    PRISM_DTLS_HANDSHAKING = 0, /* keep feeding datagrams and serving the timer */
    PRISM_DTLS_CONNECTED = 1,   /* peer authenticated, SRTP keys available */
    PRISM_DTLS_FAILED = 2,      /* terminal; see prism_dtls_failure() */
    PRISM_DTLS_CLOSED = 3,      /* terminal; close_notify sent or received */
};

/* Receives one datagram to send to the peer (`len` <= PRISM_DTLS_MTU). The
 * bytes are only valid during the call. */
typedef void (*prism_dtls_send_cb)(void *ud, const uint8_t *data, size_t len);

/* SRTP master keys of a connected session (RFC 5764 §4.2), split by
 * direction: `local` protects what we send, `remote` unprotects what we
 * receive. Each is key || salt, ready for prism_srtp_new(). Wipe copies with
 * prism_dtls_keys_wipe(). */
struct prism_dtls_keys {
    enum prism_srtp_profile profile;             /* negotiated in use_srtp */
    size_t key_salt_len;                         /* bytes used in each array */
    uint8_t local[PRISM_SRTP_MAX_KEY_SALT_LEN];  /* for the outbound session */
    uint8_t remote[PRISM_SRTP_MAX_KEY_SALT_LEN]; /* for the inbound session */
};

struct prism_dtls_ctx;
struct prism_dtls;

/* Builds the shared context presenting `cert` (which may be freed
 * afterwards: the context keeps its own references). Returns 0 and stores
 * the context in `*out`, or PRISM_EINVAL (NULL argument), PRISM_ENOMEM or
 * PRISM_ECRYPTO; on error `*out` is untouched. */
int prism_dtls_ctx_new(const struct prism_cert *cert, struct prism_dtls_ctx **out);

/* Frees the context. Sessions created from it stay valid (they hold their
 * own reference to the SSL_CTX). Accepts NULL. */
void prism_dtls_ctx_free(struct prism_dtls_ctx *ctx);

/* Creates a session in `role` that will accept only a peer certificate
 * matching `peer_fp` (copied; from the remote SDP a=fingerprint). Datagrams
 * to send go to `send_cb(ud, ...)`. Nothing is sent before
 * prism_dtls_start(). Returns 0 and stores the session in `*out`, or
 * PRISM_EINVAL (NULL argument), PRISM_ENOMEM or PRISM_ECRYPTO; on error
 * `*out` is untouched. */
int prism_dtls_new(struct prism_dtls_ctx *ctx, enum prism_dtls_role role,
                   const struct prism_fingerprint *peer_fp, prism_dtls_send_cb send_cb, void *ud,
                   struct prism_dtls **out);

/* Frees the session and wipes its keys, sending nothing (call
 * prism_dtls_close() first for a clean close). Accepts NULL. */
void prism_dtls_free(struct prism_dtls *d);

/* Starts the handshake once ICE has a working pair: a client sends its
 * ClientHello and arms the timer; a server just waits for one. Returns 0, or
 * PRISM_ECRYPTO if the session failed. */
int prism_dtls_start(struct prism_dtls *d);

/* Processes one received datagram (`len` bytes, not kept). May send
 * datagrams and change the state: check prism_dtls_state() afterwards;
 * on the transition to CONNECTED fetch the keys. Garbage and stray records
 * are dropped silently, as DTLS requires. After the handshake, a
 * close_notify closes the session (and is answered); application data is
 * discarded (no data channels yet). Returns 0 (also when ignored because the
 * session is closed), PRISM_EINVAL if `len` is absurd, or PRISM_ECRYPTO if
 * the session is or just became FAILED. */
int prism_dtls_feed(struct prism_dtls *d, const uint8_t *data, size_t len);

/* Milliseconds until prism_dtls_on_timeout() should be called (0: now), or
 * -1 when no retransmission is pending. Re-read it after every call that may
 * send. */
int64_t prism_dtls_timeout_ms(struct prism_dtls *d);

/* Retransmits the last flight if its timer has expired (a no-op otherwise).
 * Returns 0, or PRISM_ECRYPTO if the handshake gave up (state FAILED, reason
 * "handshake timeout"). */
int prism_dtls_on_timeout(struct prism_dtls *d);

/* Moves to CLOSED, sending a close_notify if the session is CONNECTED (a
 * handshake in progress is just abandoned). No-op on a FAILED or CLOSED
 * session. */
void prism_dtls_close(struct prism_dtls *d);

/* The current state. */
enum prism_dtls_state prism_dtls_state(const struct prism_dtls *d);

/* Why the session failed, for logs and events: "fingerprint mismatch",
 * "no peer certificate", "no SRTP profile negotiated", "handshake timeout",
 * "handshake failed: <OpenSSL reason>", "connection failed: <OpenSSL
 * reason>"...; "" unless FAILED. Never contains key material. Valid until
 * the session is freed. */
const char *prism_dtls_failure(const struct prism_dtls *d);

/* Copies the SRTP keys to `*out` (the caller wipes them with
 * prism_dtls_keys_wipe once the SRTP sessions exist). Returns 0, or
 * PRISM_ENOTFOUND unless the session is CONNECTED or was CLOSED after
 * connecting. */
int prism_dtls_keys(const struct prism_dtls *d, struct prism_dtls_keys *out);

/* Wipes `k` (OPENSSL_cleanse). Accepts NULL. */
void prism_dtls_keys_wipe(struct prism_dtls_keys *k);

#endif
