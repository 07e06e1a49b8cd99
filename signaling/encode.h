/* The relay's C values as the control protocol's JSON (PROTOCOL.md
 * "Methods" and "Events", docs/signaling.md).
 *
 * relay/ returns structs and typed events (relay/control/relay.h) and never
 * sees JSON; this file is the one place that names them on the wire. The
 * media counters' keys come from PRISM_MEDIA_COUNTERS and the transport
 * states' names from prism_transport_state_name (relay/base/counters.h), so
 * adding a counter or a state needs no change here.
 *
 * Pure: no I/O, no state. Every function returns a new reference owned by
 * the caller, or NULL if jansson could not allocate. Object keys are inserted
 * in the order the protocol has always written them (the wire is serialised
 * with JSON_PRESERVE_ORDER). Any thread; the control thread in practice.
 */
#ifndef PRISM_SIGNALING_ENCODE_H
#define PRISM_SIGNALING_ENCODE_H

#include <jansson.h>

#include "relay/base/counters.h"
#include "relay/control/relay.h"

/* relay.info's result: {version, epoch, workers, draining, uptime_s}. */
json_t *prism_encode_relay_info(const struct prism_relay_info *info);

/* bubble.info's result: {peers: [{peer, publish, state, publish_state,
 * subscribe_state, tracks: [{kind, track, mid}]}]}. */
json_t *prism_encode_bubble_info(const struct prism_relay_bubble_info *info);

/* The media counters: each TRAFFIC counter as a top-level key, then
 * {drops: {...}} with each DROP counter, in PRISM_MEDIA_COUNTERS order. */
json_t *prism_encode_counters(const struct prism_media_counters *c);

/* stats.get's result: the counters, then by scope {tenants, bubbles, peers,
 * workers: [{worker, bubbles, transports, loop_lag_ms, cpu_s, relay_delay}]} (relay),
 * {bubbles, peers, limits: {max_bubbles, max_peers, max_kbps}} (tenant) or
 * {peers} (bubble). */
json_t *prism_encode_stats(const struct prism_relay_stats *st);

/* peer.publish's result {answer} or peer.subscribe's {offer, revision}. */
json_t *prism_encode_sdp_result(const struct prism_relay_sdp_result *r);

/* The event's method name ("peer.state", ...): a static string. */
const char *prism_encode_event_method(enum prism_relay_event_type type);

/* The event's params without seq and epoch (prism_events_emit adds those):
 * the type's own fields, then bubble, peer and tenant where the event has
 * them. peer.state: {transport, state[, reason]}; peer.offer: {offer,
 * revision}; bubble.speaker and relay.drained: no fields of their own. */
json_t *prism_encode_event(const struct prism_relay_event *ev);

#endif
