/* Events (see events.h).
 *
 * The backlog is a ring of serialised lines indexed by seq % capacity, so a
 * replay is a walk over a contiguous seq range. It is bounded twice: by count
 * (the ring's capacity) and by bytes (the lines held): an event that takes
 * the held lines past max_bytes drops the oldest ones first, but never below
 * the last `min_held` events (PROTOCOL.md promises a replay of at least the
 * last 10,000), so the backlog is always the contiguous range
 * [oldest_seq, last_seq], never more than max_bytes unless that is all the
 * last min_held events take.
 * Subscriptions are a hash table from connection to its tenant filter.
 *
 * Writing a line can cut a slow subscriber off, and its close drops its
 * subscription (prism_events_unsubscribe) while the fan-out walks the table.
 * Removing it then would break the walk and the subscribers after it would
 * miss the event, so during a fan-out (or a replay) a dropped subscription is
 * only marked dead; it is removed once the walk is over.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/base/ids.h"
#include "signaling/events.h"
#include "signaling/rpc.h"

struct stored_event {
    uint64_t seq;                  /* 0: empty slot */
    char tenant[PRISM_ID_MAX + 1]; /* "" for relay-wide events */
    char *line;                    /* owned */
    size_t len;
};

struct subscription {
    GHashTable *tenants; /* set of ids; NULL = every tenant the client may see */
    bool dead;           /* unsubscribed during a walk; removed after it */
};

struct prism_events {
    struct stored_event *ring;
    size_t capacity;
    uint64_t epoch;
    uint64_t last_seq;
    uint64_t oldest_seq; /* oldest seq held; last_seq + 1 when none */
    size_t bytes;        /* of the lines held */
    size_t max_bytes;    /* limits.event_backlog_bytes */
    size_t min_held;     /* events kept whatever their bytes */
    GHashTable *subs;    /* struct prism_conn * -> struct subscription */
    unsigned walking;    /* fan-outs/replays in progress (subs must not change) */
    bool any_dead;       /* a subscription was marked dead during a walk */
};

static void subscription_free(gpointer p)
{
    struct subscription *s = p;
    if (s->tenants != NULL)
        g_hash_table_destroy(s->tenants);
    free(s);
}

struct prism_events *prism_events_new(size_t backlog, size_t backlog_bytes, size_t min_held,
                                      uint64_t epoch)
{
    struct prism_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return NULL;
    ev->ring = calloc(backlog, sizeof(*ev->ring));
    if (ev->ring == NULL) {
        free(ev);
        return NULL;
    }
    ev->capacity = backlog;
    ev->max_bytes = backlog_bytes;
    ev->min_held = min_held;
    ev->oldest_seq = 1;
    ev->epoch = epoch;
    ev->subs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, subscription_free);
    return ev;
}

void prism_events_free(struct prism_events *ev)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < ev->capacity; i++)
        free(ev->ring[i].line);
    free(ev->ring);
    g_hash_table_destroy(ev->subs);
    free(ev);
}

uint64_t prism_events_last_seq(const struct prism_events *ev)
{
    return ev->last_seq;
}

size_t prism_events_held_bytes(const struct prism_events *ev)
{
    return ev->bytes;
}

size_t prism_events_held(const struct prism_events *ev)
{
    return (size_t)(ev->last_seq + 1 - ev->oldest_seq);
}

size_t prism_events_subscribers(const struct prism_events *ev)
{
    return g_hash_table_size(ev->subs);
}

static void slot_clear(struct prism_events *ev, struct stored_event *slot)
{
    ev->bytes -= slot->len;
    free(slot->line);
    slot->line = NULL;
    slot->len = 0;
    slot->seq = 0;
}

/* Stores `line` (taken) as event `seq`, then drops the oldest events until the
 * held lines fit max_bytes again or only min_held (at least the newest one)
 * are left. */
static struct stored_event *store(struct prism_events *ev, uint64_t seq, char *line)
{
    struct stored_event *slot = &ev->ring[seq % ev->capacity];
    slot_clear(ev, slot); /* event seq - capacity, if still held */
    slot->seq = seq;
    slot->line = line;
    slot->len = strlen(line);
    ev->bytes += slot->len;
    if (seq >= ev->capacity && ev->oldest_seq < seq - ev->capacity + 1)
        ev->oldest_seq = seq - ev->capacity + 1;
    while (ev->bytes > ev->max_bytes && ev->oldest_seq < seq &&
           seq - ev->oldest_seq + 1 > ev->min_held) {
        struct stored_event *old = &ev->ring[ev->oldest_seq % ev->capacity];
        if (old->seq == ev->oldest_seq)
            slot_clear(ev, old);
        ev->oldest_seq++;
    }
    return slot;
}

static bool visible(const struct subscription *sub, const struct prism_conn *conn,
                    const char *tenant)
{
    if (tenant[0] == '\0')
        return true;
    if (!prism_client_may(prism_conn_client(conn), tenant))
        return false;
    return sub->tenants == NULL || g_hash_table_contains(sub->tenants, tenant);
}

/* Ends a walk over the subscriptions: the last one out removes those dropped
 * meanwhile. O(subscribers) when any was dropped, O(1) otherwise. */
static void walk_end(struct prism_events *ev)
{
    if (--ev->walking > 0 || !ev->any_dead)
        return;
    ev->any_dead = false;
    GHashTableIter it;
    gpointer sub;
    g_hash_table_iter_init(&it, ev->subs);
    while (g_hash_table_iter_next(&it, NULL, &sub))
        if (((struct subscription *)sub)->dead)
            g_hash_table_iter_remove(&it);
}

void prism_events_emit(struct prism_events *ev, const char *tenant, const char *method,
                       json_t *params)
{
    uint64_t seq = ++ev->last_seq;
    json_object_set_new(params, "seq", json_integer((json_int_t)seq));
    json_object_set_new(params, "epoch", json_integer((json_int_t)ev->epoch));
    char *line = prism_rpc_notification(method, params);
    json_decref(params);
    if (line == NULL) { /* out of memory: the seq is lost, the slot freed */
        slot_clear(ev, &ev->ring[seq % ev->capacity]);
        return;
    }
    struct stored_event *slot = store(ev, seq, line);
    size_t tlen = tenant != NULL ? strlen(tenant) : 0;
    memcpy(slot->tenant, tenant != NULL ? tenant : "", tlen + 1);

    GHashTableIter it;
    gpointer conn, sub;
    ev->walking++;
    g_hash_table_iter_init(&it, ev->subs);
    while (g_hash_table_iter_next(&it, &conn, &sub)) {
        const struct subscription *s = sub;
        if (!s->dead && visible(s, conn, slot->tenant))
            prism_conn_send_line(conn, slot->line, slot->len);
    }
    walk_end(ev);
}

int prism_events_subscribe(struct prism_events *ev, struct prism_conn *conn, json_t *tenants,
                           char *msg, size_t msg_len)
{
    struct subscription *sub = calloc(1, sizeof(*sub));
    if (sub == NULL)
        return PRISM_ENOMEM;
    if (tenants != NULL) {
        if (!json_is_array(tenants)) {
            snprintf(msg, msg_len, "params.tenants must be an array of tenant ids");
            free(sub);
            return PRISM_EINVAL;
        }
        sub->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        size_t i;
        json_t *t;
        json_array_foreach(tenants, i, t)
        {
            const char *id = json_string_value(t);
            if (id == NULL || !prism_id_valid(id, json_string_length(t))) {
                snprintf(msg, msg_len, "params.tenants[%zu] is not a valid tenant id", i);
                subscription_free(sub);
                return PRISM_EINVAL;
            }
            if (!prism_client_may(prism_conn_client(conn), id)) {
                snprintf(msg, msg_len, "this client may not see tenant %zu of the list", i);
                subscription_free(sub);
                return PRISM_EFORBIDDEN;
            }
            g_hash_table_add(sub->tenants, g_strdup(id));
        }
    }
    PRISM_CHECK(ev->walking == 0); /* requests are not handled inside a fan-out */
    g_hash_table_replace(ev->subs, conn, sub);
    return 0;
}

int prism_events_check_since(const struct prism_events *ev, uint64_t since)
{
    if (since > ev->last_seq)
        return PRISM_ENOTFOUND;
    return since + 1 < ev->oldest_seq ? PRISM_ENOTFOUND : 0;
}

void prism_events_replay(struct prism_events *ev, struct prism_conn *conn, uint64_t since)
{
    const struct subscription *sub = g_hash_table_lookup(ev->subs, conn);
    if (sub == NULL || sub->dead)
        return;
    ev->walking++;
    for (uint64_t seq = since + 1; seq <= ev->last_seq && !sub->dead; seq++) {
        const struct stored_event *slot = &ev->ring[seq % ev->capacity];
        if (slot->seq == seq && visible(sub, conn, slot->tenant))
            prism_conn_send_line(conn, slot->line, slot->len);
    }
    walk_end(ev);
}

void prism_events_unsubscribe(struct prism_events *ev, struct prism_conn *conn)
{
    if (ev->walking == 0) {
        g_hash_table_remove(ev->subs, conn);
        return;
    }
    struct subscription *sub = g_hash_table_lookup(ev->subs, conn);
    if (sub != NULL) {
        sub->dead = true;
        ev->any_dead = true;
    }
}
