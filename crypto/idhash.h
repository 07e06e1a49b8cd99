/* Keyed pseudonyms for logs and the audit trail (REQUIREMENTS.md 1.5, 2.2).
 *
 * An id (tenant, bubble, peer) or an address becomes the first 16 hex digits
 * of HMAC-SHA256(day key, kind || 0 || value). The day key is 32 random bytes
 * drawn from the CSPRNG, replaced at each UTC midnight and never written
 * anywhere, so pseudonyms link records within one day only and cannot be
 * reversed by anyone reading the logs. Thread-safe (a mutex guards the key;
 * this is never called per packet).
 */
#ifndef PRISM_CRYPTO_IDHASH_H
#define PRISM_CRYPTO_IDHASH_H

#include <stddef.h>
#include <stdint.h>

#define PRISM_IDHASH_LEN 16 /* hex digits, without the NUL */

/* Writes the pseudonym of `value` (`len` bytes) in the namespace `kind`
 * ("tenant", "bubble", "peer", "addr"...) to `out` (NUL-terminated). An empty
 * or NULL value gives "-". Aborts if the CSPRNG fails (no safe fallback). */
void prism_idhash(const char *kind, const char *value, size_t len, char out[PRISM_IDHASH_LEN + 1]);

/* Same as prism_idhash with an explicit UTC day number, for tests. */
void prism__idhash_at(uint64_t day, const char *kind, const char *value, size_t len,
                      char out[PRISM_IDHASH_LEN + 1]);

#endif
