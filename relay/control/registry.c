/* The registry (see registry.h).
 *
 * Three levels of GHashTable keyed by the id strings embedded in the objects;
 * the tables own their values (freed through value destructors), so deleting
 * a tenant frees its bubbles and peers in one place. Handles are drawn from a
 * 64-bit counter and never reused, so a late message from a worker about a
 * deleted object can never be mistaken for a new object with the same name.
 * Costs: every operation O(1) except deletions, O(objects removed), and
 * bubble placement, O(workers).
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/control/registry.h"

struct prism_registry {
    GHashTable *tenants;   /* id -> struct prism_tenant */
    uint32_t *worker_load; /* bubbles per worker */
    unsigned n_workers;
    size_t n_bubbles; /* over all tenants */
    size_t n_peers;   /* over all tenants */
    uint64_t next_handle;
    bool draining;
};

static void copy_id(char dst[PRISM_ID_MAX + 1], const char *src)
{
    size_t len = strlen(src);
    PRISM_CHECK(len <= PRISM_ID_MAX);
    memcpy(dst, src, len + 1);
}

static void peer_free(gpointer p)
{
    free(p);
}

static void bubble_free(gpointer p)
{
    struct prism_bubble *b = p;
    g_hash_table_destroy(b->peers);
    free(b);
}

static void tenant_free(gpointer p)
{
    struct prism_tenant *t = p;
    g_hash_table_destroy(t->bubbles);
    free(t);
}

struct prism_registry *prism_registry_new(unsigned n_workers)
{
    PRISM_CHECK(n_workers > 0);
    struct prism_registry *reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return NULL;
    reg->worker_load = calloc(n_workers, sizeof(*reg->worker_load));
    if (reg->worker_load == NULL) {
        free(reg);
        return NULL;
    }
    reg->n_workers = n_workers;
    reg->next_handle = 1;
    reg->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, tenant_free);
    return reg;
}

void prism_registry_free(struct prism_registry *reg)
{
    if (reg == NULL)
        return;
    g_hash_table_destroy(reg->tenants);
    free(reg->worker_load);
    free(reg);
}

void prism_registry_set_draining(struct prism_registry *reg, bool draining)
{
    reg->draining = draining;
}

bool prism_registry_draining(const struct prism_registry *reg)
{
    return reg->draining;
}

size_t prism_registry_tenant_count(const struct prism_registry *reg)
{
    return g_hash_table_size(reg->tenants);
}

size_t prism_registry_bubble_count(const struct prism_registry *reg)
{
    return reg->n_bubbles;
}

size_t prism_registry_peer_count(const struct prism_registry *reg)
{
    return reg->n_peers;
}

uint32_t prism_registry_worker_load(const struct prism_registry *reg, unsigned w)
{
    PRISM_CHECK(w < reg->n_workers);
    return reg->worker_load[w];
}

int prism_registry_tenant_create(struct prism_registry *reg, const char *tenant,
                                 const struct prism_limits *limits)
{
    if (g_hash_table_contains(reg->tenants, tenant))
        return PRISM_EEXIST;
    struct prism_tenant *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return PRISM_ENOMEM;
    copy_id(t->id, tenant);
    t->limits = *limits;
    t->bubbles = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, bubble_free);
    g_hash_table_insert(reg->tenants, t->id, t);
    return 0;
}

struct prism_tenant *prism_registry_tenant_find(struct prism_registry *reg, const char *tenant)
{
    return g_hash_table_lookup(reg->tenants, tenant);
}

/* Bookkeeping for a bubble about to be freed by its table. */
static void bubble_forget(struct prism_registry *reg, struct prism_bubble *b)
{
    reg->worker_load[b->worker]--;
    reg->n_bubbles--;
    reg->n_peers -= b->n_peers;
    b->tenant->n_peers -= b->n_peers;
    b->tenant->n_bubbles--;
}

int prism_registry_tenant_delete(struct prism_registry *reg, const char *tenant,
                                 prism_registry_bubble_cb on_end, void *ud)
{
    struct prism_tenant *t = g_hash_table_lookup(reg->tenants, tenant);
    if (t == NULL)
        return PRISM_ENOTFOUND;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, t->bubbles);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (on_end != NULL)
            on_end(ud, value);
        bubble_forget(reg, value);
    }
    g_hash_table_remove(reg->tenants, tenant);
    return 0;
}

static unsigned least_loaded_worker(const struct prism_registry *reg)
{
    unsigned best = 0;
    for (unsigned w = 1; w < reg->n_workers; w++)
        if (reg->worker_load[w] < reg->worker_load[best])
            best = w;
    return best;
}

int prism_registry_bubble_create(struct prism_registry *reg, const char *tenant, const char *bubble,
                                 struct prism_bubble **out)
{
    struct prism_tenant *t = g_hash_table_lookup(reg->tenants, tenant);
    if (t == NULL)
        return PRISM_ENOTFOUND;
    if (g_hash_table_contains(t->bubbles, bubble))
        return PRISM_EEXIST;
    if (reg->draining)
        return PRISM_EDRAINING;
    if (t->limits.max_bubbles != 0 && t->n_bubbles >= t->limits.max_bubbles)
        return PRISM_EQUOTA;
    struct prism_bubble *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return PRISM_ENOMEM;
    copy_id(b->id, bubble);
    b->tenant = t;
    b->handle = reg->next_handle++;
    b->worker = least_loaded_worker(reg);
    b->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, peer_free);
    g_hash_table_insert(t->bubbles, b->id, b);
    reg->worker_load[b->worker]++;
    reg->n_bubbles++;
    t->n_bubbles++;
    if (out != NULL)
        *out = b;
    return 0;
}

int prism_registry_transport_take(struct prism_tenant *t)
{
    if (t->limits.max_transports != 0 && t->n_transports >= t->limits.max_transports)
        return PRISM_EQUOTA;
    t->n_transports++;
    return 0;
}

void prism_registry_transport_put(struct prism_tenant *t)
{
    PRISM_CHECK(t->n_transports > 0);
    t->n_transports--;
}

struct prism_bubble *prism_registry_bubble_find(struct prism_registry *reg, const char *tenant,
                                                const char *bubble)
{
    struct prism_tenant *t = g_hash_table_lookup(reg->tenants, tenant);
    return t == NULL ? NULL : g_hash_table_lookup(t->bubbles, bubble);
}

int prism_registry_bubble_delete(struct prism_registry *reg, const char *tenant, const char *bubble,
                                 prism_registry_bubble_cb on_end, void *ud)
{
    struct prism_bubble *b = prism_registry_bubble_find(reg, tenant, bubble);
    if (b == NULL)
        return PRISM_ENOTFOUND;
    if (on_end != NULL)
        on_end(ud, b);
    bubble_forget(reg, b);
    g_hash_table_remove(b->tenant->bubbles, bubble);
    return 0;
}

int prism_registry_peer_join(struct prism_registry *reg, const char *tenant, const char *bubble,
                             const char *peer, bool may_publish, struct prism_peer **out)
{
    struct prism_bubble *b = prism_registry_bubble_find(reg, tenant, bubble);
    if (b == NULL)
        return PRISM_ENOTFOUND;
    if (g_hash_table_contains(b->peers, peer))
        return PRISM_EEXIST;
    struct prism_tenant *t = b->tenant;
    if (t->limits.max_peers != 0 && t->n_peers >= t->limits.max_peers)
        return PRISM_EQUOTA;
    struct prism_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return PRISM_ENOMEM;
    copy_id(p->id, peer);
    p->bubble = b;
    p->handle = reg->next_handle++;
    p->may_publish = may_publish;
    g_hash_table_insert(b->peers, p->id, p);
    b->n_peers++;
    t->n_peers++;
    reg->n_peers++;
    if (out != NULL)
        *out = p;
    return 0;
}

struct prism_peer *prism_registry_peer_find(struct prism_registry *reg, const char *tenant,
                                            const char *bubble, const char *peer)
{
    struct prism_bubble *b = prism_registry_bubble_find(reg, tenant, bubble);
    return b == NULL ? NULL : g_hash_table_lookup(b->peers, peer);
}

int prism_registry_peer_leave(struct prism_registry *reg, const char *tenant, const char *bubble,
                              const char *peer)
{
    struct prism_bubble *b = prism_registry_bubble_find(reg, tenant, bubble);
    if (b == NULL || !g_hash_table_contains(b->peers, peer))
        return PRISM_ENOTFOUND;
    g_hash_table_remove(b->peers, peer);
    b->n_peers--;
    b->tenant->n_peers--;
    reg->n_peers--;
    return 0;
}

static gint by_handle(gconstpointer a, gconstpointer b)
{
    const struct prism_peer *pa = *(struct prism_peer *const *)a;
    const struct prism_peer *pb = *(struct prism_peer *const *)b;
    return pa->handle < pb->handle ? -1 : pa->handle > pb->handle;
}

void prism_registry_bubble_foreach_peer(struct prism_bubble *bubble, prism_registry_peer_cb cb,
                                        void *ud)
{
    GPtrArray *peers = g_ptr_array_sized_new(bubble->n_peers);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, bubble->peers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(peers, value);
    g_ptr_array_sort(peers, by_handle);
    for (guint i = 0; i < peers->len; i++)
        cb(ud, g_ptr_array_index(peers, i));
    g_ptr_array_free(peers, TRUE);
}

void prism_registry_foreach_tenant(struct prism_registry *reg, prism_registry_tenant_cb cb,
                                   void *ud)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, reg->tenants);
    while (g_hash_table_iter_next(&it, NULL, &value))
        cb(ud, value);
}
