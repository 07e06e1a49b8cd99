/* A subscriber's preferences (see prefer.h). */
#include "relay/worker/prefer.h"

#include <stdlib.h>

#include "relay/base/check.h"

static bool is_default(const struct prism_prefer *p)
{
    return !p->paused && p->max_height == 0 && p->max_fps == 0;
}

/* Removes items[i] by moving the last one into its place (order is not
 * meaningful: lookups scan the whole set). */
static void remove_at(struct prism_prefer_set *s, size_t i)
{
    s->items[i] = s->items[--s->n];
    if (s->n == 0) {
        free(s->items);
        s->items = NULL;
    }
}

void prism_prefer_set_put(struct prism_prefer_set *s, const struct prism_prefer *p)
{
    for (size_t i = 0; i < s->n;) {
        const struct prism_prefer *q = &s->items[i];
        if (q->publisher == p->publisher && (q->track == p->track || p->track == 0))
            remove_at(s, i);
        else
            i++;
    }
    if (p->track == 0 && is_default(p))
        return;
    struct prism_prefer *items = realloc(s->items, (s->n + 1) * sizeof(*items));
    PRISM_CHECK(items != NULL);
    s->items = items;
    s->items[s->n++] = *p;
}

const struct prism_prefer *prism_prefer_set_find(const struct prism_prefer_set *s,
                                                 uint64_t publisher, uint64_t track)
{
    const struct prism_prefer *wide = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct prism_prefer *q = &s->items[i];
        if (q->publisher != publisher)
            continue;
        if (track != 0 && q->track == track)
            return q;
        if (q->track == 0)
            wide = q;
    }
    return wide;
}

static bool live_track(uint64_t track, const uint64_t *live, size_t n_live)
{
    for (size_t i = 0; i < n_live; i++)
        if (live[i] == track)
            return true;
    return false;
}

void prism_prefer_set_drop(struct prism_prefer_set *s, uint64_t publisher, const uint64_t *live,
                           size_t n_live)
{
    for (size_t i = 0; i < s->n;) {
        const struct prism_prefer *q = &s->items[i];
        bool gone = q->publisher == publisher &&
                    (live == NULL || (q->track != 0 && !live_track(q->track, live, n_live)));
        if (gone)
            remove_at(s, i);
        else
            i++;
    }
}

void prism_prefer_set_clear(struct prism_prefer_set *s)
{
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

bool prism_prefer_paused(const struct prism_prefer *pref, bool video, bool last_n_excluded)
{
    return (pref != NULL && pref->paused) || (video && last_n_excluded);
}
