/* What the backend asked a subscriber to receive (peer.prefer), and the
 * decision that combines it with last-N: whether a consumer is paused.
 *
 * A subscriber keeps a small set of preferences, one per (publisher, track):
 * track 0 means every track of that publisher. The most specific one
 * applies to a consumer: its track's, else its publisher's, else none.
 * Setting a publisher-wide preference replaces that publisher's per-track
 * ones. The set lives on the worker, beside the subscriber's consumers, so a
 * new ROUTES (a re-offer) recreates consumers under the same preferences.
 *
 * Pure bookkeeping over a heap array of exact size: no I/O; allocates only
 * when a preference is added (control path, never per packet). One thread
 * (the worker's).
 */
#ifndef PRISM_WORKER_PREFER_H
#define PRISM_WORKER_PREFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prism_prefer {
    uint64_t publisher;  /* peer handle */
    uint64_t track;      /* track handle; 0: every track of `publisher` */
    bool paused;         /* forward nothing */
    uint32_t max_height; /* pixels, 0: no cap; caps the simulcast layer (subscriber.c) */
    uint32_t max_fps;    /* frames per second, 0: no cap; caps the temporal layer (subscriber.c) */
};

struct prism_prefer_set {
    struct prism_prefer *items; /* heap, n of them; NULL when empty */
    size_t n;
};

/* Sets `p` in `s`, replacing the preference of the same (publisher, track).
 * A publisher-wide one (track 0) also drops that publisher's per-track
 * ones, and is itself dropped when it is the default (not paused, no cap).
 * O(n). Aborts on allocation failure (control path, a few bytes). */
void prism_prefer_set_put(struct prism_prefer_set *s, const struct prism_prefer *p);

/* The preference that applies to `track` of `publisher`: the track's own,
 * else the publisher-wide one, else NULL. O(n). */
const struct prism_prefer *prism_prefer_set_find(const struct prism_prefer_set *s,
                                                 uint64_t publisher, uint64_t track);

/* Forgets preferences about `publisher`: all of them when `live` is NULL
 * (it left), else the per-track ones whose track is not among the `n_live`
 * handles in `live` (it published anew: those tracks are gone). O(n *
 * n_live). */
void prism_prefer_set_drop(struct prism_prefer_set *s, uint64_t publisher, const uint64_t *live,
                           size_t n_live);

/* Frees the set's storage; `s` is then empty. */
void prism_prefer_set_clear(struct prism_prefer_set *s);

/* Whether a consumer forwards nothing: the backend paused it (`pref`, NULL
 * for none), or it carries video and last-N leaves its publisher out
 * (`last_n_excluded`). Audio always flows under last-N. */
bool prism_prefer_paused(const struct prism_prefer *pref, bool video, bool last_n_excluded);

#endif
