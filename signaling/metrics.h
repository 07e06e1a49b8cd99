/* The relay's metrics: what /metrics serves (docs/operations.md, "Monitor"),
 * and the control-request counts only signaling/ sees.
 *
 * Control thread only: rendering reads the registry, the workers' latest
 * snapshots (at most a second old, as stats.get), the event backlog and the
 * control server's counters directly, with no lock and no round trip to a
 * worker. Series are relay-wide or per tenant; the only free text in a label
 * is a tenant id. Bubble and peer ids and addresses are never exported, and a
 * label's values come from fixed lists (methods, results, reasons, states) so
 * no client can grow the number of series except by creating tenants.
 */
#ifndef PRISM_SIGNALING_METRICS_H
#define PRISM_SIGNALING_METRICS_H

#include <glib.h>

#include "relay/control/relay.h"
#include "signaling/events.h"
#include "signaling/server.h"

struct prism_metrics;

/* What a scrape reads; each may be NULL (its series are left out), and
 * each is borrowed for the call. */
struct prism_metrics_sources {
    struct prism_relay *relay;
    const struct prism_events *events;
    const struct prism_server *server;
};

/* NULL when out of memory. */
struct prism_metrics *prism_metrics_new(void);
void prism_metrics_free(struct prism_metrics *m); /* accepts NULL */

/* Counts one control request: `method` as the client named it (NULL when
 * the line did not parse; a name that is not a method of the protocol is
 * counted as "other") and its `result` ("ok", a JSON-RPC error name such as
 * "invalid_params", or a data.reason such as "not_found"; another string is
 * counted as "other"). O(methods). */
void prism_metrics_count_request(struct prism_metrics *m, const char *method, const char *result);

/* Appends every series to `out`, in the text format (metrics_text.h). O(tenants +
 * peers + workers). */
void prism_metrics_render(const struct prism_metrics *m, const struct prism_metrics_sources *src,
                          GString *out);

#endif
