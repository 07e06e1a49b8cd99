/* A control connection as the rest of signaling/ sees it (server.c owns it).
 *
 * Control thread only. A connection outlives nothing: the relay's state never
 * belongs to it, and every reference to it (event subscriptions) is dropped
 * through prism_events_unsubscribe before it is freed.
 */
#ifndef PRISM_SIGNALING_CONN_H
#define PRISM_SIGNALING_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "signaling/auth.h"

struct prism_conn;

/* Queues `line` (without newline; one is added). Replies go out in order.
 * If the peer stops reading and the queue passes control.max_pending, the
 * connection stops reading requests until it drains; an event subscriber that
 * falls that far behind is disconnected (it can resume with `since`). */
void prism_conn_send_line(struct prism_conn *conn, const char *line, size_t len);

/* Queues the reply to a request. Replies leave in request order: one that
 * follows a deferred request waits until that request is answered. */
void prism_conn_reply(struct prism_conn *conn, const char *line, size_t len);

/* Reserves the reply slot of a request that will be answered later, through
 * prism_server_fulfil(). Returns the slot's token. */
uint64_t prism_conn_defer(struct prism_conn *conn);

/* A number naming this connection for its whole life, never reused: late
 * answers find their connection by it, and are dropped if it has closed. */
uint64_t prism_conn_serial(const struct prism_conn *conn);

/* The authenticated client behind the connection. */
const struct prism_client *prism_conn_client(const struct prism_conn *conn);

/* Closes the connection after what is queued has been sent. */
void prism_conn_close(struct prism_conn *conn);

#endif
