/* Interned codec sets (see codecs.h).
 *
 * Layout of a set: struct prism_codecs, then its payload table, its extmap
 * table, then the strings they point to, in one malloc. Lookup hashes the
 * caller's tables with FNV-1a into a probe that points at them (no copy),
 * so interning a set that exists allocates nothing.
 */
#include "relay/control/codecs.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "relay/base/check.h"

struct prism_codecs_table {
    GHashTable *sets; /* struct prism_codecs -> itself */
};

static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint32_t fnv_str(uint32_t h, const char *s)
{
    return fnv(h, s, strlen(s) + 1);
}

static unsigned content_hash(const struct prism_codecs *c)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < c->n_pts; i++) {
        const struct prism_sdp_payload *p = &c->pts[i];
        uint32_t v[] = {p->pt, p->channels, p->fb, p->fmtp_overflow, (uint16_t)p->apt, p->clock_hz};
        h = fnv(h, v, sizeof(v));
        h = fnv_str(fnv_str(h, str(p->name)), str(p->fmtp));
    }
    for (size_t i = 0; i < c->n_exts; i++)
        h = fnv_str(fnv(h, &c->exts[i].id, sizeof(c->exts[i].id)), str(c->exts[i].uri));
    return h;
}

static guint on_hash(gconstpointer key)
{
    return ((const struct prism_codecs *)key)->hash;
}

static gboolean on_equal(gconstpointer ka, gconstpointer kb)
{
    const struct prism_codecs *a = ka, *b = kb;
    if (a->hash != b->hash || a->n_pts != b->n_pts || a->n_exts != b->n_exts)
        return FALSE;
    for (size_t i = 0; i < a->n_pts; i++) {
        const struct prism_sdp_payload *p = &a->pts[i], *q = &b->pts[i];
        if (p->pt != q->pt || p->channels != q->channels || p->fb != q->fb ||
            p->fmtp_overflow != q->fmtp_overflow || p->apt != q->apt ||
            p->clock_hz != q->clock_hz || strcmp(str(p->name), str(q->name)) != 0 ||
            strcmp(str(p->fmtp), str(q->fmtp)) != 0)
            return FALSE;
    }
    for (size_t i = 0; i < a->n_exts; i++)
        if (a->exts[i].id != b->exts[i].id || strcmp(str(a->exts[i].uri), str(b->exts[i].uri)) != 0)
            return FALSE;
    return TRUE;
}

struct prism_codecs_table *prism_codecs_table_new(void)
{
    struct prism_codecs_table *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->sets = g_hash_table_new(on_hash, on_equal);
    return t;
}

void prism_codecs_table_free(struct prism_codecs_table *t)
{
    if (t == NULL)
        return;
    PRISM_CHECK(g_hash_table_size(t->sets) == 0);
    g_hash_table_destroy(t->sets);
    free(t);
}

size_t prism_codecs_table_size(const struct prism_codecs_table *t)
{
    return g_hash_table_size(t->sets);
}

static char *put_str(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

/* A copy of `probe` in one allocation, with one reference. */
static struct prism_codecs *copy_set(const struct prism_codecs *probe)
{
    size_t pts_at = (sizeof(*probe) + alignof(struct prism_sdp_payload) - 1) &
                    ~(alignof(struct prism_sdp_payload) - 1);
    size_t exts_at = pts_at + probe->n_pts * sizeof(struct prism_sdp_payload);
    exts_at =
        (exts_at + alignof(struct prism_sdp_extmap) - 1) & ~(alignof(struct prism_sdp_extmap) - 1);
    size_t strs_at = exts_at + probe->n_exts * sizeof(struct prism_sdp_extmap), size = strs_at;
    for (size_t i = 0; i < probe->n_pts; i++)
        size += strlen(str(probe->pts[i].name)) + strlen(str(probe->pts[i].fmtp)) + 2;
    for (size_t i = 0; i < probe->n_exts; i++)
        size += strlen(str(probe->exts[i].uri)) + 1;
    unsigned char *mem = malloc(size);
    if (mem == NULL)
        return NULL;
    struct prism_codecs *c = (struct prism_codecs *)(void *)mem;
    struct prism_sdp_payload *pts = (struct prism_sdp_payload *)(void *)(mem + pts_at);
    struct prism_sdp_extmap *exts = (struct prism_sdp_extmap *)(void *)(mem + exts_at);
    char *at = (char *)mem + strs_at;
    for (size_t i = 0; i < probe->n_pts; i++) {
        pts[i] = probe->pts[i];
        pts[i].name = put_str(&at, str(probe->pts[i].name));
        pts[i].fmtp = put_str(&at, str(probe->pts[i].fmtp));
    }
    for (size_t i = 0; i < probe->n_exts; i++) {
        exts[i].id = probe->exts[i].id;
        exts[i].uri = put_str(&at, str(probe->exts[i].uri));
    }
    *c = (struct prism_codecs){.refs = 1,
                               .hash = probe->hash,
                               .n_pts = probe->n_pts,
                               .pts = pts,
                               .n_exts = probe->n_exts,
                               .exts = exts};
    return c;
}

const struct prism_codecs *prism_codecs_intern(struct prism_codecs_table *t,
                                               const struct prism_sdp_payload *pts, size_t n_pts,
                                               const struct prism_sdp_extmap *exts, size_t n_exts)
{
    if (n_pts == 0)
        return NULL;
    struct prism_codecs probe = {.n_pts = n_pts, .pts = pts, .n_exts = n_exts, .exts = exts};
    probe.hash = content_hash(&probe);
    struct prism_codecs *c = g_hash_table_lookup(t->sets, &probe);
    if (c != NULL) {
        c->refs++;
        return c;
    }
    c = copy_set(&probe);
    if (c != NULL)
        g_hash_table_add(t->sets, c);
    return c;
}

const struct prism_codecs *prism_codecs_ref(const struct prism_codecs *c)
{
    struct prism_codecs *m = (struct prism_codecs *)c; /* the table's, shared read-only */
    m->refs++;
    return c;
}

void prism_codecs_unref(struct prism_codecs_table *t, const struct prism_codecs *c)
{
    if (c == NULL)
        return;
    struct prism_codecs *m = (struct prism_codecs *)c;
    PRISM_CHECK(m->refs > 0);
    if (--m->refs > 0)
        return;
    PRISM_CHECK(g_hash_table_remove(t->sets, m));
    free(m);
}
