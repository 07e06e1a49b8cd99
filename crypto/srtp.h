/* SRTP and SRTCP protection for one direction of one transport: a thin wrapper
 * over libsrtp2 (RFC 3711 SRTP, RFC 7714 AES-GCM, RFC 5764 / RFC 7714 DTLS-SRTP
 * protection profiles).
 *
 * Owns: one libsrtp session (srtp_t) per struct prism_srtp, keyed once at
 * creation with a master key and salt (from DTLS-SRTP, see crypto/dtls.h).
 * A transport holds two: an outbound one (protect) and an inbound one
 * (unprotect). Each matches every SSRC of its direction (ssrc_any_outbound /
 * ssrc_any_inbound), so streams need not be declared in advance.
 *
 * Bounded inbound streams (issue 9, finding 2): with an any-SSRC template,
 * libsrtp 2.5 clones a stream (~400 bytes) for every new SSRC whose first
 * packet authenticates and keeps it for the session's life (in the table of
 * crypto/srtp_streams.c, which replaces libsrtp's linear list), so a peer
 * holding the keys could make its transport cost a worker megabytes by
 * cycling SSRCs. An inbound session therefore keeps the template but admits
 * a stream only for an SSRC it allows: the `reserved` SSRCs given by
 * prism_srtp_set_ssrcs() (those the peer negotiated) and, first come first
 * served, up to `n_other` others (SSRCs learned from the packets, RTCP-only
 * SSRCs). It tracks which SSRCs have streams in a small array; a packet of
 * an SSRC it does not allow is refused before libsrtp sees it
 * (PRISM_SRTP_SSRC_REFUSED), at the cost of one scan of that array. Streams
 * stay until the session is freed, except when a later
 * prism_srtp_set_ssrcs() leaves no room for them, or finds an other SSRC
 * that only ever carried RTCP silent since the setting before (a receiver's
 * stopped transceiver: aiortc and Firefox send RTCP from one SSRC per
 * transceiver, and each renegotiation of a long call adds some).
 *
 * Thread: a struct prism_srtp is used by one thread at a time (its transport's
 * worker). prism_srtp_init() and the profile helpers may be called from any
 * thread.
 *
 * Per-packet cost: protect and unprotect work in place, allocate nothing and
 * never log, except that the first packet of an SSRC not seen before makes
 * libsrtp clone its stream template (one allocation per new SSRC; inbound,
 * at most as many as the session allows).
 *
 * Invariants: the master key and salt are never kept by this module (libsrtp
 * keeps only derived session keys, and zeroes them when freed); our stack copy
 * is wiped with OPENSSL_cleanse.
 */
#ifndef PRISM_CRYPTO_SRTP_H
#define PRISM_CRYPTO_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes a caller must leave free after a packet passed to a protect function.
 * This is libsrtp 2.5's documented precondition (SRTP_MAX_TRAILER_LEN + 4 for
 * SRTCP: tag, MKI, SRTCP index); we use no MKI, so at most 16 (RTP) or 20
 * (RTCP) bytes are actually written, but libsrtp does not promise that. */
#define PRISM_SRTP_MAX_TRAILER 148

/* Largest master key + salt of any profile (AES-256 key + 96-bit salt). */
#define PRISM_SRTP_MAX_KEY_SALT_LEN 44

/* Inbound streams a session ever holds: reserved + other SSRCs are capped to
 * this (a hard ceiling; callers ask for far fewer). */
#define PRISM_SRTP_MAX_STREAMS 256

/* Other (not reserved) SSRCs a new inbound session admits until
 * prism_srtp_set_ssrcs() is first called. */
#define PRISM_SRTP_DEFAULT_STREAMS 128

/* SRTP protection profiles, valued as their DTLS-SRTP ids (RFC 5764 §4.1.2,
 * RFC 7714 §14.2). */
enum prism_srtp_profile {
    PRISM_SRTP_AES128_CM_SHA1_80 = 0x0001, /* SRTP_AES128_CM_HMAC_SHA1_80 */
    PRISM_SRTP_AEAD_AES_128_GCM = 0x0007,  /* SRTP_AEAD_AES_128_GCM */
    PRISM_SRTP_AEAD_AES_256_GCM = 0x0008,  /* SRTP_AEAD_AES_256_GCM */
};

/* Outcome of unprotecting one received packet. */
enum prism_srtp_verdict {
    PRISM_SRTP_OK = 0,           /* authentic and fresh; buffer now holds plaintext */
    PRISM_SRTP_AUTH_FAILED = 1,  /* tag did not verify (forged, corrupted, wrong key) */
    PRISM_SRTP_REPLAY = 2,       /* already received, or older than the replay window */
    PRISM_SRTP_MALFORMED = 3,    /* too short, bad header, or refused for another reason */
    PRISM_SRTP_SSRC_REFUSED = 4, /* an SSRC the session has no room for: not even checked */
};

struct prism_srtp;

/* Initialises libsrtp once for the process; later calls return the first
 * result. Thread-safe (pthread_once). prism_srtp_new() calls it itself.
 * Returns 0, or PRISM_ECRYPTO if libsrtp failed its self-initialisation. */
int prism_srtp_init(void);

/* Which AES implementation the linked libsrtp uses: "openssl", "nss" or
 * "builtin" (never NULL; a static string). Detected once, inside
 * prism_srtp_init(), by listing libsrtp's debug modules through a temporary
 * log handler; no libsrtp log handler stays installed afterwards. */
const char *prism_srtp_crypto_backend(void);

/* Master key length in bytes of `profile` (16 or 32), or 0 if unknown. */
size_t prism_srtp_profile_key_len(enum prism_srtp_profile profile);

/* Master salt length in bytes of `profile` (14 for AES-CM, 12 for GCM), or 0
 * if unknown. */
size_t prism_srtp_profile_salt_len(enum prism_srtp_profile profile);

/* The DTLS-SRTP name of `profile` as OpenSSL spells it
 * ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"),
 * or NULL if unknown. */
const char *prism_srtp_profile_name(enum prism_srtp_profile profile);

/* Maps a DTLS-SRTP protection profile name (OpenSSL spelling, or the RFC 5764
 * "SRTP_AES128_CM_HMAC_SHA1_80") to `*out`. Returns 0, or PRISM_EUNSUPPORTED
 * for any other profile (e.g. the _32 and NULL ones), PRISM_EINVAL for NULL. */
int prism_srtp_profile_from_name(const char *name, enum prism_srtp_profile *out);

/* Maps a DTLS-SRTP protection profile id (the two-byte value of the use_srtp
 * extension, e.g. 0x0008) to `*out`. Returns 0 or PRISM_EUNSUPPORTED. */
int prism_srtp_profile_from_id(unsigned long id, enum prism_srtp_profile *out);

/* Creates an SRTP session for one direction. `key_salt` is the master key
 * followed by the master salt, exactly key_len + salt_len bytes of `profile`
 * (`len`); it is copied, used to derive session keys, and the copy is wiped.
 * `outbound` selects protect (true) or unprotect (false).
 * Replay window: 1024 packets (what browsers use; tolerates video bursts
 * reordered by the network). Neither direction ever allows a repeated index:
 * an outbound session refuses to protect an RTP packet whose (SSRC, index)
 * it already protected (PRISM_ECRYPTO), or one older than its window, since
 * two plaintexts under one index reuse the AES-CM keystream or the AES-GCM
 * nonce (RFC 3711 §9.1; with GCM a forger also learns the hash key). The relay
 * never retransmits, so an identical repeat is never needed either.
 * On success stores a new session in `*out` (caller frees it with
 * prism_srtp_free) and returns 0. Otherwise returns PRISM_EINVAL (unknown
 * profile, wrong `len`, NULL pointer), PRISM_ENOMEM, or PRISM_ECRYPTO, and
 * `*out` is untouched. */
int prism_srtp_new(enum prism_srtp_profile profile, const uint8_t *key_salt, size_t len,
                   bool outbound, struct prism_srtp **out);

/* Sets which SSRCs inbound session `s` may hold streams for: the `n_reserved`
 * SSRCs at `reserved` (copied; always admitted) and up to `n_other` others,
 * first come first served (counting the streams of other SSRCs it already
 * holds, including formerly reserved ones). Replaces the previous setting;
 * streams that no longer fit are removed (their SSRCs then count as new).
 * n_reserved + n_other is capped at PRISM_SRTP_MAX_STREAMS (n_other is
 * lowered). Control path: O(streams x reserved), one allocation. Returns 0,
 * PRISM_EINVAL (`s` outbound or NULL, `reserved` NULL with n_reserved > 0,
 * n_reserved > PRISM_SRTP_MAX_STREAMS) or PRISM_ENOMEM (nothing changed). */
int prism_srtp_set_ssrcs(struct prism_srtp *s, const uint32_t *reserved, size_t n_reserved,
                         size_t n_other);

/* Internal, for unit tests only: whether libsrtp holds a stream for `ssrc`
 * in `s` (asks libsrtp itself, not this module's bookkeeping). */
bool prism__srtp_has_stream(struct prism_srtp *s, uint32_t ssrc);

/* Frees `s` (libsrtp zeroes its session keys). Accepts NULL. */
void prism_srtp_free(struct prism_srtp *s);

/* Protects the RTP packet of `*len` bytes at `buf` in place and sets `*len` to
 * the SRTP length. `buf` must have PRISM_SRTP_MAX_TRAILER writable bytes after
 * `*len`. `s` must be outbound. Returns 0; PRISM_EINVAL if the RTP header is
 * malformed or the packet too large; PRISM_ECRYPTO if libsrtp refused (key
 * usage limit reached, an index already protected in this session, or one
 * older than the replay window): drop the packet. On error `buf` and `*len`
 * may have been modified. */
int prism_srtp_protect_rtp(struct prism_srtp *s, uint8_t *buf, size_t *len);

/* Same as prism_srtp_protect_rtp for one (compound) RTCP packet: encrypted,
 * with the SRTCP index and tag appended. */
int prism_srtp_protect_rtcp(struct prism_srtp *s, uint8_t *buf, size_t *len);

/* Verifies and decrypts the SRTP packet of `*len` bytes at `buf` in place.
 * `s` must be inbound. On PRISM_SRTP_OK `*len` is the RTP length; on any
 * other verdict the packet must be dropped and its bytes are unspecified
 * (PRISM_SRTP_SSRC_REFUSED: untouched; see "Bounded inbound streams"). */
enum prism_srtp_verdict prism_srtp_unprotect_rtp(struct prism_srtp *s, uint8_t *buf, size_t *len);

/* Same as prism_srtp_unprotect_rtp for an SRTCP packet. */
enum prism_srtp_verdict prism_srtp_unprotect_rtcp(struct prism_srtp *s, uint8_t *buf, size_t *len);

#endif
