/* I/O-free TLS for the remote control socket (PROTOCOL.md "Transport and
 * framing"): mutual TLS, TLS 1.2 and 1.3 only (RFC 5246, RFC 8446).
 *
 * A prism_tls_ctx wraps one OpenSSL SSL_CTX: built once from PEM files,
 * immutable afterwards, shared by any number of threads and refcounted, so a
 * SIGHUP reload can publish a new one while old sessions keep theirs.
 *
 * A prism_tls_session is one connection over memory BIOs: the caller feeds the
 * ciphertext it received, reads plaintext out, queues plaintext in, and sends
 * whatever ciphertext take_output() hands back. It never touches a socket and
 * belongs to the one thread that owns the connection (no locking inside).
 * Once failed, a session stays failed; its output may still hold an alert
 * worth sending before the socket is closed.
 *
 * Policy: the server requires and verifies a client certificate against its
 * client CA bundle; the client verifies the server against its CA bundle
 * (hostname not checked: the CA is private to the deployment). TLS 1.3 uses
 * OpenSSL's default suites; TLS 1.2 is limited to ECDHE with AES-GCM or
 * ChaCha20-Poly1305. No renegotiation, compression, tickets or resumption.
 */
#ifndef PRISM_CRYPTO_TLS_H
#define PRISM_CRYPTO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRISM_TLS_FINGERPRINT_LEN 64 /* lowercase hex digits, without the NUL */

struct prism_tls_ctx;     /* an SSL_CTX; immutable once built; refcounted */
struct prism_tls_session; /* one connection; owned by the connection's thread */

/* Builds a server context from PEM files: cert_file (leaf first, then any
 * chain), key_file (its unencrypted private key; ECDSA P-256 expected, any
 * type accepted) and client_ca_file (bundle of CAs trusted for client
 * certificates, which are required). Blocking file I/O: call it from the
 * control thread at startup or reload, never from a worker. On success *out
 * holds one reference. Returns 0, PRISM_EINVAL (NULL argument), PRISM_EIO
 * (a file is unreadable), PRISM_ECRYPTO (bad PEM, key does not match the
 * certificate, empty CA bundle) or PRISM_ENOMEM; on error *out is untouched. */
int prism_tls_server_ctx_new(const char *cert_file, const char *key_file,
                             const char *client_ca_file, struct prism_tls_ctx **out);

/* Builds a client context (prismctl, tests): its own cert/key presented to
 * the server, which is verified against ca_file (hostname not checked). Same
 * files, thread and return codes as prism_tls_server_ctx_new(). */
int prism_tls_client_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                             struct prism_tls_ctx **out);

/* Takes one more reference. Any thread. */
void prism_tls_ctx_ref(struct prism_tls_ctx *ctx);

/* Drops one reference; the last one frees the context. Any thread; accepts
 * NULL. */
void prism_tls_ctx_unref(struct prism_tls_ctx *ctx);

/* Starts a connection on ctx, as the server (accepting) or the client
 * (connecting; its ClientHello is ready in take_output() on return). The
 * session keeps its own reference on ctx, so the caller may unref ctx at
 * once. Returns 0, PRISM_EINVAL (NULL argument, or `server` does not match
 * how ctx was built), PRISM_ENOMEM or PRISM_ECRYPTO; on error *out is
 * untouched. */
int prism_tls_session_new(struct prism_tls_ctx *ctx, bool server, struct prism_tls_session **out);

/* Frees the session and drops its ctx reference, without sending anything
 * (call prism_tls_session_shutdown() and send the output first for a clean
 * close). Accepts NULL. */
void prism_tls_session_free(struct prism_tls_session *s);

/* Hands over `len` bytes of ciphertext received from the network (copied)
 * and advances the handshake if it is still running; records after the
 * handshake are decrypted by prism_tls_session_read(). Returns 0,
 * PRISM_ECRYPTO once the session has failed (bad handshake, plain-text
 * garbage, fatal alert; see prism_tls_session_error()) or PRISM_ENOMEM. */
int prism_tls_session_feed(struct prism_tls_session *s, const void *data, size_t len);

/* Copies up to `cap` bytes of decrypted application data to buf, driving the
 * handshake first. Returns the count (> 0), 0 when nothing is available yet
 * (feed more and call again; also check take_output(), which may have grown),
 * or PRISM_ECRYPTO when the session failed or the peer closed: tell a clean
 * close_notify apart with prism_tls_session_closed(). On a clean close the
 * session answers with its own close_notify (in take_output()). Call it in a
 * loop after each feed until it returns <= 0: one feed may carry many
 * records. */
ssize_t prism_tls_session_read(struct prism_tls_session *s, void *buf, size_t cap);

/* Queues `len` bytes of application data (copied) for encryption. Before
 * the handshake completes they are buffered and encrypted as soon as it
 * does. Returns 0, PRISM_ECRYPTO (session failed, or shutdown already
 * started) or PRISM_ENOMEM. */
int prism_tls_session_write(struct prism_tls_session *s, const void *data, size_t len);

/* Moves up to `cap` bytes of ciphertext that must be sent to the network
 * into buf and returns the count; 0 when none is pending. Call it in a loop
 * until it returns 0 after every feed, read, write and shutdown. */
size_t prism_tls_session_take_output(struct prism_tls_session *s, void *buf, size_t cap);

/* Bytes of ciphertext waiting for take_output(). */
size_t prism_tls_session_pending_output(const struct prism_tls_session *s);

/* True once the handshake has completed (peer certificate verified). Stays
 * true after a later failure or close. */
bool prism_tls_session_established(const struct prism_tls_session *s);

/* True once the session has failed; it never recovers. */
bool prism_tls_session_failed(const struct prism_tls_session *s);

/* True once the peer's close_notify has been received (a clean close). */
bool prism_tls_session_closed(const struct prism_tls_session *s);

/* Why the session failed, for logs: "handshake failed: <reason>" or
 * "connection failed: <reason>" (never key material); "" while it has not
 * failed. Valid until the session is freed. */
const char *prism_tls_session_error(const struct prism_tls_session *s);

/* Writes the SHA-256 of the peer certificate's DER as 64 lowercase hex
 * digits and a NUL to out. Returns 0, or PRISM_ENOTFOUND before the
 * handshake completes. */
int prism_tls_session_peer_fingerprint(const struct prism_tls_session *s,
                                       char out[PRISM_TLS_FINGERPRINT_LEN + 1]);

/* Starts a clean close: queues a close_notify (in take_output()). Before the
 * handshake completes, the close_notify follows the handshake and any
 * buffered writes. Later writes return PRISM_ECRYPTO; reads go on until the
 * peer's close_notify. No-op on a failed or already shut down session. */
void prism_tls_session_shutdown(struct prism_tls_session *s);

/* Same digest as prism_tls_session_peer_fingerprint() for the first
 * certificate of a PEM file (config, tests). Blocking file I/O. Returns 0,
 * PRISM_EINVAL, PRISM_EIO (unreadable) or PRISM_ECRYPTO (no certificate). */
int prism_tls_fingerprint_file(const char *cert_pem_file, char out[PRISM_TLS_FINGERPRINT_LEN + 1]);

#endif
