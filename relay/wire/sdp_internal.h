/* Cross-file internals of relay/wire/sdp_*.c: the memory a session lives in.
 *
 * A session and everything it points to live in one arena: a list of chunks
 * filled front to back and freed together by prism_sdp_session_free(). The
 * first chunk is sized by the caller's hint (1.5 times the input's length for
 * a parse), a later one by what it must hold or half the previous one, so a
 * session costs about what its text does.
 * Nothing is freed piecemeal: a table that grows leaves its old copy behind,
 * at most as much again as it finally holds.
 */
#ifndef PRISM_RELAY_SDP_INTERNAL_H
#define PRISM_RELAY_SDP_INTERNAL_H

#include <stddef.h>

#include "relay/wire/sdp.h"

/* A zeroed session in a new arena with room for about `hint` more bytes;
 * its string fields are "". NULL when out of memory. */
struct prism_sdp_session *prism__sdp_session_new(size_t hint);

/* `n` zeroed bytes aligned for any object, owned by `s`'s arena; NULL when
 * out of memory. O(1) unless a new chunk is needed. */
void *prism__sdp_alloc(struct prism_sdp_session *s, size_t n);

/* A NUL-terminated copy of `n` bytes at `p` in `s`'s arena; NULL when out of
 * memory. */
const char *prism__sdp_strndup(struct prism_sdp_session *s, const char *p, size_t n);

/* Room for one more `size`-byte element in `*arr` holding `n` of `*cap`:
 * doubles the table in the arena when full (from 4). Returns 0 or
 * PRISM_ENOMEM (then `*arr` and `*cap` are unchanged). */
int prism__sdp_reserve(struct prism_sdp_session *s, void **arr, size_t n, size_t *cap, size_t size);

/* Bytes the arena of `s` holds from malloc (chunks and their headers). */
size_t prism__sdp_session_bytes(const struct prism_sdp_session *s);

#endif
