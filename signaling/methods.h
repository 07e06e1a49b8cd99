/* The methods of the control protocol (PROTOCOL.md "Methods"): thin
 * handlers that validate params, authorise the client for the tenant, call
 * the relay and shape the result. Control thread.
 */
#ifndef PRISM_SIGNALING_METHODS_H
#define PRISM_SIGNALING_METHODS_H

#include <stdbool.h>

#include <jansson.h>

#include "relay/control/relay.h"
#include "signaling/audit.h"
#include "signaling/conn.h"
#include "signaling/events.h"

struct deferred;

/* What a handler needs and what it leaves behind. */
struct prism_call {
    /* inputs */
    struct prism_relay *relay;
    struct prism_events *events;
    struct prism_conn *conn;
    const struct prism_client *client;
    json_t *params; /* an object */
    json_t *id;     /* request id, for handlers that reply themselves */
    /* Prepares the completion of a call the relay answers later (see
     * prism_relay_done); the caller then learns the outcome through it. */
    struct prism_relay_done (*defer)(struct prism_call *call);
    void *defer_ud; /* the caller's, for defer() */
    /* outputs */
    const char *tenant; /* objects touched (validated ids, borrowed from params), for audit */
    const char *bubble;
    const char *peer;
    json_t *result;            /* on success (owned) */
    char msg[256];             /* on failure: human text */
    bool replied;              /* the handler queued its own reply */
    struct deferred *deferred; /* made by defer(), owned by the caller */
};

/* Runs `method`. Returns 0 (call->result set, unless replied), PRISM_EINVAL
 * (invalid params: call->msg says which), PRISM_EPENDING (the outcome goes
 * to the completion made by call->defer), another PRISM_E* code, or
 * PRISM_RPC_METHOD_NOT_FOUND for an unknown method. */
int prism_methods_call(struct prism_call *call, const char *method);

/* The methods' names, for metrics labels: the name of method `i`, or NULL
 * past the last (prism_methods_count() of them). */
size_t prism_methods_count(void);
const char *prism_methods_name(size_t i);

#endif
