/* The memory of parsed SDP sessions (see sdp_internal.h): a bump arena.
 *
 * Workload: one arena per parse or per prism_sdp_session_for_answer(), on the
 * control thread; a few hundred small allocations, all freed together. A
 * chunk is one malloc with its header in front; allocations are rounded up
 * to max_align_t, strings are packed at byte granularity.
 */
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/sdp_internal.h"

#define MIN_CHUNK 1024

static size_t round_up(size_t n)
{
    return (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
}

struct chunk {
    struct chunk *next; /* the previous chunk, NULL for the first */
    size_t cap;         /* bytes in data[] */
    size_t used;        /* bytes of data[] handed out */
    alignas(max_align_t) unsigned char data[];
};

struct prism_sdp_arena {
    struct chunk *head; /* the chunk being filled */
};

static struct chunk *chunk_new(size_t cap, struct chunk *next)
{
    if (cap > SIZE_MAX - sizeof(struct chunk))
        return NULL;
    struct chunk *c = malloc(sizeof(*c) + cap);
    if (c == NULL)
        return NULL;
    c->next = next;
    c->cap = cap;
    c->used = 0;
    return c;
}

/* `n` bytes at a multiple of `align` (a power of two), not zeroed. */
static void *arena_take(struct prism_sdp_arena *a, size_t n, size_t align)
{
    struct chunk *c = a->head;
    size_t at = (c->used + align - 1) & ~(align - 1);
    if (at > c->cap || c->cap - at < n) {
        size_t cap = c->cap / 2 > MIN_CHUNK ? c->cap / 2 : MIN_CHUNK;
        cap = cap > n ? cap : n;
        c = chunk_new(cap, a->head);
        if (c == NULL)
            return NULL;
        a->head = c;
        at = 0;
    }
    c->used = at + n;
    return c->data + at;
}

struct prism_sdp_session *prism__sdp_session_new(size_t hint)
{
    size_t first = round_up(sizeof(struct prism_sdp_arena)) +
                   round_up(sizeof(struct prism_sdp_session)) + hint;
    struct chunk *c = chunk_new(first < MIN_CHUNK ? MIN_CHUNK : first, NULL);
    if (c == NULL)
        return NULL;
    /* The arena's own record lives in its first chunk, then the session. */
    struct prism_sdp_arena *a = (struct prism_sdp_arena *)(void *)c->data;
    c->used = sizeof(*a);
    a->head = c;
    struct prism_sdp_session *s = arena_take(a, sizeof(*s), alignof(max_align_t));
    memset(s, 0, sizeof(*s));
    s->arena = a;
    s->ice_ufrag = s->ice_pwd = s->fpr_value = "";
    return s;
}

void prism_sdp_session_free(struct prism_sdp_session *s)
{
    if (s == NULL)
        return;
    struct chunk *c = s->arena->head;
    while (c != NULL) { /* the first chunk, holding the arena and `s`, goes last */
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

size_t prism__sdp_session_bytes(const struct prism_sdp_session *s)
{
    size_t n = 0;
    for (const struct chunk *c = s->arena->head; c != NULL; c = c->next)
        n += sizeof(*c) + c->cap;
    return n;
}

void *prism__sdp_alloc(struct prism_sdp_session *s, size_t n)
{
    void *p = arena_take(s->arena, n, alignof(max_align_t));
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

const char *prism__sdp_strndup(struct prism_sdp_session *s, const char *p, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = arena_take(s->arena, n + 1, 1);
    if (d == NULL)
        return NULL;
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

int prism__sdp_reserve(struct prism_sdp_session *s, void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap == 0 ? 4 : *cap * 2;
    if (ncap > SIZE_MAX / size)
        return PRISM_ENOMEM;
    void *grown = prism__sdp_alloc(s, ncap * size);
    if (grown == NULL)
        return PRISM_ENOMEM;
    if (n > 0)
        memcpy(grown, *arr, n * size);
    *arr = grown;
    *cap = ncap;
    return 0;
}

/* ---- the part of a negotiated offer its answer needs ------------------- */

/* How much of `m` the answer writer reads (prism_sdp_write_answer()). */
static void answer_shape(const struct prism_sdp_media *m, size_t *n_pts, size_t *n_exts,
                         size_t *n_rids)
{
    *n_pts = m->accepted ? m->n_pts : (m->n_pts > 0 ? 1 : 0);
    *n_exts = m->accepted ? m->n_exts : 0;
    *n_rids = 0;
    for (size_t i = 0; m->accepted && m->simulcast_send[0] != '\0' && i < m->n_rids; i++)
        *n_rids += m->rids[i].send;
}

static size_t str_bytes(const char *s)
{
    return strlen(s) + 1;
}

/* Bytes of the copy past the session: tables first, then strings, so that
 * one chunk holds it all. */
static size_t answer_bytes(const struct prism_sdp_session *n)
{
    size_t tables = round_up(n->n_media * sizeof(*n->media)) +
                    round_up(n->n_bundle * sizeof(*n->bundle)),
           strings = 0;
    for (size_t i = 0; i < n->n_media; i++) {
        const struct prism_sdp_media *m = &n->media[i];
        size_t np, ne, nr;
        answer_shape(m, &np, &ne, &nr);
        tables += round_up(np * sizeof(*m->pts)) + round_up(ne * sizeof(*m->exts)) +
                  round_up(nr * sizeof(*m->rids));
        strings += str_bytes(m->mid) + (m->accepted ? str_bytes(m->simulcast_send) : 0);
        for (size_t k = 0; k < np; k++)
            strings += str_bytes(m->pts[k].name) + str_bytes(m->pts[k].fmtp);
        for (size_t k = 0; k < ne; k++)
            strings += str_bytes(m->exts[k].uri);
        for (size_t k = 0; k < m->n_rids && nr > 0; k++)
            strings += m->rids[k].send ? str_bytes(m->rids[k].id) : 0;
    }
    return tables + strings;
}

static const char *dup(struct prism_sdp_session *s, const char *str, bool *ok)
{
    const char *d = prism__sdp_strndup(s, str, strlen(str));
    *ok = *ok && d != NULL;
    return d != NULL ? d : "";
}

int prism_sdp_session_for_answer(const struct prism_sdp_session *n, struct prism_sdp_session **out)
{
    if (out != NULL)
        *out = NULL;
    if (n == NULL || out == NULL)
        return PRISM_EINVAL;
    struct prism_sdp_session *s = prism__sdp_session_new(answer_bytes(n));
    if (s == NULL)
        return PRISM_ENOMEM;
    s->extmap_allow_mixed = n->extmap_allow_mixed;
    s->n_media = n->n_media;
    s->n_bundle = n->n_bundle;
    s->media = prism__sdp_alloc(s, n->n_media * sizeof(*s->media));
    s->bundle = prism__sdp_alloc(s, n->n_bundle * sizeof(*s->bundle));
    bool ok = s->media != NULL && s->bundle != NULL;
    for (size_t i = 0; ok && i < n->n_media; i++) { /* tables */
        const struct prism_sdp_media *m = &n->media[i];
        struct prism_sdp_media *d = &s->media[i];
        size_t np, ne, nr;
        answer_shape(m, &np, &ne, &nr);
        *d = *m;
        d->n_pts = np;
        d->n_exts = ne;
        d->n_rids = nr;
        d->ssrcs = NULL;
        d->groups = NULL;
        d->n_ssrcs = d->n_groups = 0;
        d->pts = prism__sdp_alloc(s, np * sizeof(*d->pts));
        d->exts = prism__sdp_alloc(s, ne * sizeof(*d->exts));
        d->rids = prism__sdp_alloc(s, nr * sizeof(*d->rids));
        ok = d->pts != NULL && d->exts != NULL && d->rids != NULL;
    }
    for (size_t i = 0; ok && i < n->n_media; i++) { /* strings */
        const struct prism_sdp_media *m = &n->media[i];
        struct prism_sdp_media *d = &s->media[i];
        d->mid = dup(s, m->mid, &ok);
        d->msid_stream = d->msid_track = d->simulcast_recv = "";
        d->simulcast_send = m->accepted ? dup(s, m->simulcast_send, &ok) : "";
        for (size_t k = 0; k < d->n_pts; k++) {
            d->pts[k] = m->pts[k];
            d->pts[k].name = dup(s, m->pts[k].name, &ok);
            d->pts[k].fmtp = dup(s, m->pts[k].fmtp, &ok);
        }
        for (size_t k = 0; k < d->n_exts; k++) {
            d->exts[k].id = m->exts[k].id;
            d->exts[k].uri = dup(s, m->exts[k].uri, &ok);
        }
        for (size_t k = 0, r = 0; k < m->n_rids && r < d->n_rids; k++)
            if (m->rids[k].send)
                d->rids[r++] = (struct prism_sdp_rid){dup(s, m->rids[k].id, &ok), true};
    }
    /* The BUNDLE mids name the copied m-sections' mids. */
    for (size_t b = 0; ok && b < n->n_bundle; b++) {
        s->bundle[b] = "";
        for (size_t i = 0; i < n->n_media; i++)
            if (strcmp(n->bundle[b], n->media[i].mid) == 0)
                s->bundle[b] = s->media[i].mid;
    }
    if (!ok) {
        prism_sdp_session_free(s);
        return PRISM_ENOMEM;
    }
    *out = s;
    return 0;
}
