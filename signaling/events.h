/* Events: numbering, the replay backlog and the fan-out to subscribed
 * connections (PROTOCOL.md "Events").
 *
 * Every event gets params.seq (1, 2, ... within an epoch) and params.epoch,
 * is serialised once, kept in a ring of the last `backlog` events (at least
 * 10,000) as long as their lines fit `backlog_bytes` (the oldest go first
 * when they do not) and written to every subscribed connection allowed to see its
 * tenant. Relay-wide events (no tenant) go to every subscriber. Control
 * thread.
 */
#ifndef PRISM_SIGNALING_EVENTS_H
#define PRISM_SIGNALING_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "signaling/conn.h"

struct prism_events;

/* `backlog` (>= 1) events at most, holding at most `backlog_bytes` of lines
 * unless the last `min_held` events (>= 1: the newest is always held,
 * whatever its size) take more. NULL when out of memory. */
struct prism_events *prism_events_new(size_t backlog, size_t backlog_bytes, size_t min_held,
                                      uint64_t epoch);

/* What PROTOCOL.md promises a `since` replay: at least the last 10,000
 * events, whatever limits.event_backlog_bytes says. */
#define PRISM_EVENTS_MIN_HELD 10000
void prism_events_free(struct prism_events *ev); /* accepts NULL */

/* Numbers, stores and fans out one event; `params` is stolen. */
void prism_events_emit(struct prism_events *ev, const char *tenant, const char *method,
                       json_t *params);

/* Subscribes `conn` to the tenants in `tenants` (a JSON array of ids, or NULL
 * for every tenant the client may see). With `since`, the events after that
 * seq still held are replayed right away (after the caller's reply, which the
 * caller queues first). Returns 0; PRISM_EINVAL (bad tenants list, message
 * in `msg`); PRISM_EFORBIDDEN (a tenant the client may not see);
 * PRISM_ENOTFOUND (`since` older than the backlog or newer than the last
 * event). A second call replaces the first subscription. */
int prism_events_subscribe(struct prism_events *ev, struct prism_conn *conn, json_t *tenants,
                           char *msg, size_t msg_len);
int prism_events_check_since(const struct prism_events *ev, uint64_t since);
void prism_events_replay(struct prism_events *ev, struct prism_conn *conn, uint64_t since);

/* Drops the subscription of a closing connection (no-op if none). Safe from
 * inside prism_events_emit/replay (a subscriber cut off by the fan-out): the
 * others still get the event being sent, and `conn` gets nothing more. */
void prism_events_unsubscribe(struct prism_events *ev, struct prism_conn *conn);

/* Seq of the last event emitted (0 before the first). */
uint64_t prism_events_last_seq(const struct prism_events *ev);

/* Bytes of serialised events held for replay (at most backlog_bytes, or the
 * newest event's size if that alone is larger). */
size_t prism_events_held_bytes(const struct prism_events *ev);

/* Events held for replay now, and connections subscribed (metrics). */
size_t prism_events_held(const struct prism_events *ev);
size_t prism_events_subscribers(const struct prism_events *ev);

#endif
