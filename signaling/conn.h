/* A control connection as the rest of signaling/ sees it (server.c owns it).
 *
 * Control thread only. A connection outlives nothing: the relay's state never
 * belongs to it, and every reference to it (event subscriptions) is dropped
 * through prism_events_unsubscribe before it is freed.
 */
#ifndef PRISM_SIGNALING_CONN_H
#define PRISM_SIGNALING_CONN_H

#include <stddef.h>

#include "signaling/auth.h"

struct prism_conn;

/* Queues `line` (without newline; one is added). Replies go out in order.
 * If the peer stops reading and the queue passes control.max_pending, the
 * connection stops reading requests until it drains; an event subscriber that
 * falls that far behind is disconnected (it can resume with `since`). */
void prism_conn_send_line(struct prism_conn *conn, const char *line, size_t len);

/* The authenticated client behind the connection. */
const struct prism_client *prism_conn_client(const struct prism_conn *conn);

/* Closes the connection after what is queued has been sent. */
void prism_conn_close(struct prism_conn *conn);

#endif
