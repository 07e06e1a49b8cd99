/* Identifier validation for tenants, bubbles and peers (PROTOCOL.md).
 *
 * An identifier is 1-64 bytes of [A-Za-z0-9._:@-]. Anything else is rejected
 * before it reaches the registry, a log or the audit trail.
 */
#ifndef PRISM_BASE_IDS_H
#define PRISM_BASE_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define PRISM_ID_MAX 64 /* bytes, without the terminating NUL */

/* True if `s` (of `len` bytes, not necessarily NUL-terminated) is a valid id. */
bool prism_id_valid(const char *s, size_t len);

#endif
