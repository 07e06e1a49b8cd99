/* The registry: tenants, their bubbles and their peers, with quotas.
 *
 * Owned by the control thread; it is the source of truth for ids, quotas and
 * which worker holds a bubble. Lookups are always scoped (tenant -> bubble ->
 * peer): no table maps an id across tenants, so the same bubble and peer names
 * in two tenants are two unrelated objects. Pure bookkeeping: no I/O, no
 * threads, no logging (callers log and audit).
 */
#ifndef PRISM_RELAY_REGISTRY_H
#define PRISM_RELAY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/base/config.h"
#include "relay/base/counters.h"
#include "relay/base/ids.h"

struct prism_registry;

struct prism_tenant {
    char id[PRISM_ID_MAX + 1];
    struct prism_limits limits;
    uint32_t n_bubbles;                /* current */
    uint32_t n_peers;                  /* current, over all bubbles */
    uint32_t n_transports;             /* media transports open or opening (media.c) */
    struct prism_media_counters ended; /* counters of its bubbles that ended */
    void *bubbles;                     /* GHashTable id -> struct prism_bubble; registry-private */
};

struct prism_bubble {
    char id[PRISM_ID_MAX + 1];
    struct prism_tenant *tenant; /* owner, outlives the bubble */
    unsigned worker;             /* index of the worker that holds its media */
    uint64_t handle;             /* relay-wide unique, never reused: names it in worker messages */
    void *peers;                 /* GHashTable id -> struct prism_peer; registry-private */
    uint32_t n_peers;
    struct prism_media_counters counters; /* latest snapshot from its worker */
    uint32_t last_n; /* option: video from the last_n most recent speakers only, 0 off */
};

struct prism_peer {
    char id[PRISM_ID_MAX + 1];
    struct prism_bubble *bubble; /* owner, outlives the peer */
    uint64_t handle;             /* relay-wide unique, never reused */
    bool may_publish;
    enum prism_transport_state publish_state;
    enum prism_transport_state subscribe_state;
    uint32_t n_tracks; /* tracks it publishes (media plane) */
};

/* Creates an empty registry placing bubbles over `n_workers` workers.
 * Returns NULL on allocation failure. */
struct prism_registry *prism_registry_new(unsigned n_workers);
void prism_registry_free(struct prism_registry *reg); /* accepts NULL */

/* Draining refuses new bubbles (PRISM_EDRAINING); existing ones go on. */
void prism_registry_set_draining(struct prism_registry *reg, bool draining);
bool prism_registry_draining(const struct prism_registry *reg);

size_t prism_registry_tenant_count(const struct prism_registry *reg);
size_t prism_registry_bubble_count(const struct prism_registry *reg);
size_t prism_registry_peer_count(const struct prism_registry *reg);
/* Bubbles placed on worker `w`. */
uint32_t prism_registry_worker_load(const struct prism_registry *reg, unsigned w);

/* Ids are validated by the caller (prism_id_valid); these assume valid ids. */

/* Returns 0, or PRISM_EEXIST. */
int prism_registry_tenant_create(struct prism_registry *reg, const char *tenant,
                                 const struct prism_limits *limits);
struct prism_tenant *prism_registry_tenant_find(struct prism_registry *reg, const char *tenant);

/* Called for each bubble a deletion ends, before it is freed. */
typedef void (*prism_registry_bubble_cb)(void *ud, struct prism_bubble *bubble);

/* Deletes the tenant and all its bubbles (calling `on_end` for each).
 * Returns 0 or PRISM_ENOTFOUND. */
int prism_registry_tenant_delete(struct prism_registry *reg, const char *tenant,
                                 prism_registry_bubble_cb on_end, void *ud);

/* Creates a bubble on the least-loaded worker. Returns 0 (and *out), or
 * PRISM_ENOTFOUND (tenant), PRISM_EEXIST, PRISM_EQUOTA, PRISM_EDRAINING. */
int prism_registry_bubble_create(struct prism_registry *reg, const char *tenant, const char *bubble,
                                 struct prism_bubble **out);
/* Returns the bubble, or NULL with *err = PRISM_ENOTFOUND (tenant or bubble). */
struct prism_bubble *prism_registry_bubble_find(struct prism_registry *reg, const char *tenant,
                                                const char *bubble);
/* Ends the bubble and its peers (calling `on_end` first). 0 or PRISM_ENOTFOUND. */
int prism_registry_bubble_delete(struct prism_registry *reg, const char *tenant, const char *bubble,
                                 prism_registry_bubble_cb on_end, void *ud);

/* Adds a peer. Returns 0 (and *out), or PRISM_ENOTFOUND, PRISM_EEXIST, PRISM_EQUOTA. */
int prism_registry_peer_join(struct prism_registry *reg, const char *tenant, const char *bubble,
                             const char *peer, bool may_publish, struct prism_peer **out);
struct prism_peer *prism_registry_peer_find(struct prism_registry *reg, const char *tenant,
                                            const char *bubble, const char *peer);
/* Removes a peer. Returns 0 or PRISM_ENOTFOUND. */
int prism_registry_peer_leave(struct prism_registry *reg, const char *tenant, const char *bubble,
                              const char *peer);

/* Counts one more media transport of `t` (open or opening). Returns 0, or
 * PRISM_EQUOTA when limits.max_transports (0: unlimited) are already open.
 * O(1). */
int prism_registry_transport_take(struct prism_tenant *t);
/* One of them is gone (closed, failed, or its peer left). */
void prism_registry_transport_put(struct prism_tenant *t);

/* Visits the peers of a bubble in join order. */
typedef void (*prism_registry_peer_cb)(void *ud, struct prism_peer *peer);
void prism_registry_bubble_foreach_peer(struct prism_bubble *bubble, prism_registry_peer_cb cb,
                                        void *ud);

/* Visits every tenant (order unspecified). */
typedef void (*prism_registry_tenant_cb)(void *ud, struct prism_tenant *tenant);
void prism_registry_foreach_tenant(struct prism_registry *reg, prism_registry_tenant_cb cb,
                                   void *ud);

#endif
