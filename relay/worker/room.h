/* A worker's bubbles ("rooms"): their peers, transports, tracks and routes,
 * and the per-packet path between them.
 *
 * Worker thread only. The control thread describes what should exist through
 * messages (relay/worker.h); a room turns them into transports and routing
 * tables and reports back with events. Rooms never see another room: media
 * can only flow along routes set inside one room, and a packet is matched to
 * a track only among the tracks its own (SRTP-authenticated) transport
 * publishes, so no forged SSRC, id or address moves media across bubbles or
 * tenants.
 */
#ifndef PRISM_RELAY_ROOM_H
#define PRISM_RELAY_ROOM_H

#include <uv.h>

#include "relay/net/egress.h"
#include "relay/net/media_socket.h"
#include "relay/worker/worker.h"

struct prism_rooms;

/* Creates the room table of one worker, whose transports are ICE-lite on
 * `msock` (borrowed; outlives the rooms). Returns NULL on allocation
 * failure. */
struct prism_rooms *prism_rooms_new(uv_loop_t *loop, const struct prism_worker_shared *shared,
                                    struct prism_egress *egress, struct prism_media_socket *msock);

/* Applies one control message (ownership stays with the caller). */
void prism_rooms_handle(struct prism_rooms *rooms, const struct prism_worker_msg *msg);

/* Once a second: counters to the control thread, receiver reports and
 * bandwidth estimates to publishers. */
void prism_rooms_tick(struct prism_rooms *rooms);

/* The worker's size for its LOAD event: rooms held and transports open in
 * them. O(peers). */
void prism_rooms_load(const struct prism_rooms *rooms, uint32_t *bubbles, uint32_t *transports);

/* Every ~50 ms: pending transport-cc feedback to each publisher that
 * negotiated it (relay/tcc.h), a few datagrams each at most, and the
 * generic NACKs due for the gaps in its video (publisher.c). */
void prism_rooms_feedback(struct prism_rooms *rooms);

/* Closes every transport and frees the table (the loop must run on so the
 * transports can release their sockets). Accepts NULL. */
void prism_rooms_free(struct prism_rooms *rooms);

#endif
