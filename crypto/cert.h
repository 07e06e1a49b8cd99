/* DTLS certificates and their SDP fingerprints (RFC 8122 §5, RFC 8827 §6.5).
 *
 * Owns: struct prism_cert, one X509 certificate with its private key, either
 * generated here (self-signed ECDSA P-256, what browsers use for WebRTC) or
 * loaded from PEM files. Also the `a=fingerprint` value: formatting one from a
 * certificate ("AB:CD:..." uppercase, colon-separated) and parsing / checking
 * one received in SDP ("sha-256 ab:cd:...", case-insensitive).
 *
 * Thread: a prism_cert is immutable once created and may be read by any
 * number of threads (OpenSSL objects are used read-only). Generation costs a
 * few milliseconds and loading reads files: do both on the control thread at
 * startup, never on a worker.
 *
 * Invariants: only SHA-256, SHA-384 and SHA-512 fingerprints are accepted
 * (RFC 8827 requires SHA-256 support; MD5, SHA-1 and SHA-224 are refused).
 * Comparisons of digests run in constant time.
 */
#ifndef PRISM_CRYPTO_CERT_H
#define PRISM_CRYPTO_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/* Hash functions of an SDP fingerprint. */
enum prism_cert_hash {
    PRISM_CERT_SHA256 = 0, /* "sha-256": what we advertise */
    PRISM_CERT_SHA384 = 1, /* "sha-384" */
    PRISM_CERT_SHA512 = 2, /* "sha-512" */
};

#define PRISM_CERT_DIGEST_MAX 64 /* bytes of a SHA-512 digest */

/* Size of a buffer holding any fingerprint value in SDP form with its NUL:
 * two hex digits per byte, a colon between bytes. */
#define PRISM_CERT_FINGERPRINT_MAX (3 * PRISM_CERT_DIGEST_MAX)

/* A parsed `a=fingerprint` value (caller-owned value type). */
struct prism_fingerprint {
    enum prism_cert_hash hash;             /* which function made `digest` */
    size_t len;                            /* digest bytes: 32, 48 or 64 */
    uint8_t digest[PRISM_CERT_DIGEST_MAX]; /* the first `len` bytes are valid */
};

struct prism_cert;

/* Generates a self-signed certificate: a fresh ECDSA P-256 key, a random
 * positive 127-bit serial, subject and issuer CN "prism", signed with
 * ECDSA-SHA256, valid from one day ago (tolerates peers whose clock is
 * behind) until 30 days from now. On success stores it in `*out` (free it
 * with prism_cert_free) and returns 0; otherwise returns PRISM_EINVAL (NULL
 * out), PRISM_ENOMEM or PRISM_ECRYPTO and `*out` is untouched. */
int prism_cert_generate(struct prism_cert **out);

/* Loads a certificate (the first one of `cert_file`) and its unencrypted
 * private key (`key_file`; may be the same file) in PEM. Never prompts for a
 * passphrase: an encrypted key is refused. Blocking file I/O. Returns 0,
 * PRISM_EINVAL (NULL argument), PRISM_EIO (a file cannot be opened),
 * PRISM_ECRYPTO (no certificate or key in the file, or the key does not match
 * the certificate) or PRISM_ENOMEM; on error `*out` is untouched. */
int prism_cert_load_pem(const char *cert_file, const char *key_file, struct prism_cert **out);

/* Frees `c`. Accepts NULL. Contexts built from it (crypto/dtls.h) keep their
 * own references and stay valid. */
void prism_cert_free(struct prism_cert *c);

/* The certificate, borrowed: valid as long as `c`. For SSL_CTX setup. */
X509 *prism_cert_x509(const struct prism_cert *c);

/* The private key, borrowed: valid as long as `c`. For SSL_CTX setup. */
EVP_PKEY *prism_cert_key(const struct prism_cert *c);

/* The SHA-256 fingerprint of `c` in SDP form, e.g. "3A:..:F0" (95 chars),
 * to advertise as `a=fingerprint:sha-256 <this>`. Valid as long as `c`. */
const char *prism_cert_fingerprint(const struct prism_cert *c);

/* Digest of the DER encoding of `x` with `hash`, into `*out`. Returns 0,
 * PRISM_EINVAL (NULL argument or unknown hash) or PRISM_ECRYPTO. */
int prism_cert_fingerprint_of(const X509 *x, enum prism_cert_hash hash,
                              struct prism_fingerprint *out);

/* Writes `fp`'s digest in SDP form ("AB:CD:...", uppercase, NUL-terminated)
 * to `out` of `cap` bytes. Returns 0, or PRISM_EINVAL if `cap` is too small
 * (PRISM_CERT_FINGERPRINT_MAX always suffices). */
int prism_cert_fingerprint_format(const struct prism_fingerprint *fp, char *out, size_t cap);

/* The SDP name of `hash` ("sha-256", "sha-384", "sha-512"), or NULL. */
const char *prism_cert_hash_name(enum prism_cert_hash hash);

/* Parses the value of an SDP `a=fingerprint` attribute: a hash name, one or
 * more spaces, and the digest as colon-separated pairs of hex digits, e.g.
 * "sha-256 AB:CD:...". Name and digits are case-insensitive; surrounding
 * whitespace (space, tab, CR, LF) is ignored. The value comes from the wire:
 * any defect is rejected, never asserted. Returns 0 and fills `*out`;
 * PRISM_EUNSUPPORTED for a well-formed name other than sha-256/384/512
 * (e.g. "sha-1", "md5"); PRISM_EINVAL for anything malformed (wrong digest
 * length, missing or extra colons, non-hex digits, NULL). */
int prism_cert_fingerprint_parse(const char *value, struct prism_fingerprint *out);

/* True if both have the same hash function and digest (constant time in the
 * digest). */
bool prism_cert_fingerprint_equal(const struct prism_fingerprint *a,
                                  const struct prism_fingerprint *b);

/* True if `x` hashes, with `expected`'s function, to `expected`'s digest.
 * False on any error. */
bool prism_cert_fingerprint_matches(const struct prism_fingerprint *expected, const X509 *x);

#endif
