/* The relay's public API: what the control plane may ask of the relay.
 *
 * Everything here runs on the control thread. Identifiers are validated by
 * the caller (prism_id_valid) and authorisation is the caller's job too; the
 * relay enforces existence, quotas and draining, places bubbles on workers and
 * reports events through the sink given at creation. Results are jansson
 * objects owned by the caller.
 */
#ifndef PRISM_RELAY_RELAY_H
#define PRISM_RELAY_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "relay/base/config.h"
#include "relay/control/registry.h"

struct prism_relay;

/* Receives every event. `tenant` is NULL for relay-wide events (visible to
 * every subscriber); `params` is stolen. Called on the control thread. */
struct prism_relay_event_sink {
    void (*emit)(void *ud, const char *tenant, const char *method, json_t *params);
    void *ud;
};

/* Starts the workers; their events arrive on `loop` (the control thread's).
 * `cfg` is copied. Returns 0 or a PRISM_E* code. */
int prism_relay_new(const struct prism_config *cfg, uv_loop_t *loop,
                    const struct prism_relay_event_sink *sink, struct prism_relay **out);
/* Ends every call: pending media calls complete with an error, the workers
 * close their transports and stop, and the relay's handles on the control
 * loop are closed so that loop can end. Idempotent. */
void prism_relay_stop(struct prism_relay *relay);

/* Stops (if needed) and frees everything. Accepts NULL. */
void prism_relay_free(struct prism_relay *relay);

/* {version, epoch, workers, draining, uptime_s} */
json_t *prism_relay_info(struct prism_relay *relay);
uint64_t prism_relay_epoch(const struct prism_relay *relay);
/* Limits given to tenants created without them (config [limits]). */
const struct prism_limits *prism_relay_default_limits(const struct prism_relay *relay);

/* Each returns 0 or a PRISM_E* code (see registry.h for which). */
int prism_relay_tenant_create(struct prism_relay *relay, const char *tenant,
                              const struct prism_limits *limits /* NULL: defaults */);
int prism_relay_tenant_delete(struct prism_relay *relay, const char *tenant);
int prism_relay_bubble_create(struct prism_relay *relay, const char *tenant, const char *bubble);
int prism_relay_bubble_delete(struct prism_relay *relay, const char *tenant, const char *bubble);
/* {peers: [{peer, publish, state, publish_state, subscribe_state, tracks}]}
 * or NULL with *err set. */
json_t *prism_relay_bubble_info(struct prism_relay *relay, const char *tenant, const char *bubble,
                                int *err);
int prism_relay_peer_join(struct prism_relay *relay, const char *tenant, const char *bubble,
                          const char *peer, bool may_publish);
int prism_relay_peer_leave(struct prism_relay *relay, const char *tenant, const char *bubble,
                           const char *peer);

/* Completion of a call whose answer needs a worker (the transport's ICE
 * credentials and candidates). Called exactly once on the control thread,
 * possibly before the call returns: `rc` 0 with `result` (stolen), or a
 * PRISM_E* code with a human `msg`. */
struct prism_relay_done {
    void (*cb)(void *ud, int rc, json_t *result, const char *msg);
    void *ud;
};

/* peer.publish: the peer's upstream transport from its SDP offer; the
 * result is {answer}. peer.subscribe: the downstream transport; the result is
 * {offer, revision}. Both always complete through `done`. Errors:
 * PRISM_ENOTFOUND, PRISM_EFORBIDDEN (publish by a peer joined with
 * publish=false), PRISM_EBADSDP, PRISM_EOVERLOADED. */
void prism_relay_peer_publish(struct prism_relay *relay, const char *tenant, const char *bubble,
                              const char *peer, const char *offer,
                              const struct prism_relay_done *done);
void prism_relay_peer_subscribe(struct prism_relay *relay, const char *tenant, const char *bubble,
                                const char *peer, const struct prism_relay_done *done);
/* Applies the client's answer to the outstanding downstream offer `revision`
 * (PRISM_ENOTFOUND if it is not the outstanding one). Returns 0 or a PRISM_E*
 * code with a message in `msg`. */
int prism_relay_peer_answer(struct prism_relay *relay, const char *tenant, const char *bubble,
                            const char *peer, const char *answer, uint64_t revision, char *msg,
                            size_t msg_len);
/* A trickled candidate of the client; NULL means end-of-candidates. */
int prism_relay_peer_candidate(struct prism_relay *relay, const char *tenant, const char *bubble,
                               const char *peer, bool subscribe_transport, const char *candidate,
                               char *msg, size_t msg_len);

/* Counters for the relay, a tenant, or a bubble (tenant and bubble given).
 * NULL with *err = PRISM_ENOTFOUND if the scope does not exist. */
json_t *prism_relay_stats(struct prism_relay *relay, const char *tenant, const char *bubble,
                          int *err);

/* Enters draining (idempotent); emits relay.drained once no bubble is left. */
void prism_relay_drain(struct prism_relay *relay);
bool prism_relay_draining(const struct prism_relay *relay);

/* The registry, for read-only inspection (tests, stats). */
struct prism_registry *prism_relay_registry(struct prism_relay *relay);

#endif
