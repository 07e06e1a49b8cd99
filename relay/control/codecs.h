/* Interned codec sets: the payload types and RTP header extensions a
 * published track forwards to its subscribers, shared by every track (and
 * every subscriber's m-line) that forwards the same set.
 *
 * Control thread only. Browsers of one kind offer the same codecs, so a
 * relay with thousands of peers holds a handful of sets, not one per track:
 * a track costs a pointer, not a copy of its SDP. A set is immutable once
 * interned, lives in one allocation (tables and strings) and is freed with
 * its last reference. The table holds no reference of its own.
 */
#ifndef PRISM_RELAY_CODECS_H
#define PRISM_RELAY_CODECS_H

#include <stddef.h>

#include "relay/wire/sdp.h"

struct prism_codecs {
    unsigned refs;                       /* tracks and m-lines holding it */
    unsigned hash;                       /* of the content below */
    size_t n_pts;                        /* >= 1 */
    const struct prism_sdp_payload *pts; /* strings non-NULL, owned by the set */
    size_t n_exts;                       /* may be 0 */
    const struct prism_sdp_extmap *exts; /* uris owned by the set */
};

struct prism_codecs_table;

/* An empty table; NULL when out of memory. */
struct prism_codecs_table *prism_codecs_table_new(void);

/* Frees the table. Every set must have been released. Accepts NULL. */
void prism_codecs_table_free(struct prism_codecs_table *t);

/* The set equal to `pts` and `exts` (same entries in the same order; NULL
 * strings count as ""), with one more reference: an existing one, else a
 * copy made now (the inputs are only read during the call). O(size of the
 * set). Returns NULL when out of memory or when n_pts is 0. */
const struct prism_codecs *prism_codecs_intern(struct prism_codecs_table *t,
                                               const struct prism_sdp_payload *pts, size_t n_pts,
                                               const struct prism_sdp_extmap *exts, size_t n_exts);

/* One more reference to `c` (not NULL); returns it. */
const struct prism_codecs *prism_codecs_ref(const struct prism_codecs *c);

/* Drops a reference; the last one removes the set from `t` and frees it.
 * Accepts NULL. */
void prism_codecs_unref(struct prism_codecs_table *t, const struct prism_codecs *c);

/* Sets interned and alive (tests, stats). */
size_t prism_codecs_table_size(const struct prism_codecs_table *t);

#endif
