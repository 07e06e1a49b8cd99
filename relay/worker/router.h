/* The router of one bubble: its producers (tracks its publishers send) and,
 * per subscriber and track, a consumer that owns everything that subscriber
 * gets of that track.
 *
 * Owner and thread: a struct prism_router belongs to the worker holding the
 * bubble (relay/worker/room.c creates one per bubble) and is used on that
 * thread only: no locks. A router never sees another bubble: producers and
 * consumers are created on a router and only ever linked within it, so media
 * cannot cross bubbles, let alone tenants.
 *
 * A consumer owns, for one subscriber and one producer: the relay's SSRC
 * toward that subscriber, the sequence number, timestamp, VP8/VP9 picture
 * id and TL0PICIDX offsets that keep what it sends continuous when its source
 * changes (another producer, another layer, a resume after a pause), whether
 * it is paused, which of the producer's layers it takes (simulcast; and the
 * spatial and temporal layers of a layered stream, the ones above left out
 * with the sequence numbers and picture ids closed over them), and writing each
 * packet into an egress buffer for the subscriber's sink. A sink (the
 * subscriber's transport in the relay, a fake in tests) only protects and
 * queues the buffer it is given.
 *
 * Per packet (prism_router_forward): O(consumers of the producer), no
 * allocation, no lock, no syscall: one pool buffer, one copy, a few stores
 * and one sink call per consumer that takes the packet. A consumer whose
 * subscriber did not negotiate red copies only the header and the primary
 * block of a RED packet (RFC 2198: the redundant blocks are dropped). Removing a consumer
 * or producer during a forward (from inside a sink) is safe: the removal is
 * deferred to the end of that forward.
 *
 * Control path (O(consumers) each): adding and removing producers and
 * consumers, switching a consumer's source, pausing.
 */
#ifndef PRISM_WORKER_ROUTER_H
#define PRISM_WORKER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/net/egress.h"
#include "relay/worker/bwe.h"
#include "relay/worker/contract.h"
#include "relay/worker/layers.h"
#include "relay/worker/packet.h"
#include "relay/worker/svc.h"

struct prism_router;
struct prism_producer;
struct prism_consumer;

/* Where a subscriber's consumers write. `send` takes ownership of `buf` (a
 * buffer of the router's egress pool holding `len` bytes of plain RTP, with
 * SRTP tailroom): it protects and queues it, or puts it back and counts the
 * drop. It may remove consumers and producers of this router. */
struct prism_router_sink {
    void (*send)(void *ud, uint8_t *buf, size_t len);
    void *ud;
};

/* A subscriber of the router: caller-owned storage (the worker's peer
 * embeds one), between prism_router_sub_init and prism_router_sub_deinit.
 * Fields are the router's, read-only to others. */
struct prism_router_sub {
    struct prism_router *router;      /* the router it belongs to */
    uint64_t peer;                    /* the subscriber's peer handle: never fed its own tracks */
    struct prism_router_sink sink;    /* copied at init */
    struct prism_consumer *consumers; /* its consumers, linked by sub_next */
    uint64_t drop_egress;             /* packets it missed: the pool was empty */
    uint64_t rtx_nacked;              /* sequence numbers its NACKs asked for */
    uint64_t rtx_sent;                /* retransmissions sent to it */
    uint64_t rtx_missed;              /* asked for, but no longer (or never) in the history */
    uint64_t rtx_dropped;             /* asked for, left out: over its rtx rate, or a layer it
                                         is leaving */
    uint64_t probe_packets;           /* padding probes sent to it (prism_router_pad) */
    uint64_t probe_bytes;             /* their RTP bytes */
    uint32_t rtx_bps;                 /* its retransmissions' rate (prism_router_sub_pace_rtx);
                                         0: unpaced */
    uint64_t rtx_tokens;              /* bytes it may retransmit now, up to 1 s of rtx_bps */
    uint64_t rtx_tokens_ms;           /* when they were last topped up */
    uint64_t drop_layer;              /* packets of spatial/temporal layers above its choice */
    uint64_t drop_unknown_layer;      /* packets whose dependency descriptor's layers are
                                         unknown (no template structure for it) while it
                                         leaves some layers out */
    uint64_t drop_stale;              /* packets too late to place after its drops */
    /* Its downlink estimator (the worker's, while its subscribe transport
     * is connected; NULL otherwise): every packet sent to it that carries
     * the publisher's transport-wide-cc element gets the next sequence
     * number of this subscriber's own numbering, written in place. */
    struct prism_bwe *bwe;
};

/* Creates a router taking buffers from `eg` (the worker's egress, which must
 * outlive it). A video producer with rtx payload types keeps its last
 * `history_packets` packets (rounded up to a power of 2, at most
 * PRISM_ROUTER_HISTORY_MAX) for retransmissions, per simulcast layer,
 * allocated when its first consumer with rtx is added; 0: none. Returns
 * NULL on allocation failure. */
struct prism_router *prism_router_new(struct prism_egress *eg, size_t history_packets);

#define PRISM_ROUTER_HISTORY_MAX 4096

/* Frees the router with every producer and consumer still in it; subscribers
 * must have been deinitialised first (checked). Accepts NULL. */
void prism_router_free(struct prism_router *r);

/* Makes `sub` a subscriber of `r` for peer `peer`, writing to `sink`. */
void prism_router_sub_init(struct prism_router *r, struct prism_router_sub *sub, uint64_t peer,
                           const struct prism_router_sink *sink);

/* Removes every consumer of `sub`; the storage is the caller's again. */
void prism_router_sub_deinit(struct prism_router_sub *sub);

/* Adds the track `d` of publisher `publisher` as a producer. `owner` is returned by
 * prism_producer_owner(). Returns NULL on allocation failure, or when `r` already has a producer
 * for d->handle. */
struct prism_producer *prism_router_producer_add(struct prism_router *r, uint64_t publisher,
                                                 const struct prism_track_desc *d, void *owner);

/* Removes `p` and every consumer of it. */
void prism_router_producer_remove(struct prism_router *r, struct prism_producer *p);

/* The producer of track `track` published by `publisher`, or NULL. O(1). */
struct prism_producer *prism_router_producer_find(const struct prism_router *r, uint64_t publisher,
                                                  uint64_t track);

void *prism_producer_owner(const struct prism_producer *p);
void prism_producer_set_owner(struct prism_producer *p, void *owner);
uint64_t prism_producer_publisher(const struct prism_producer *p);
/* Consumers currently attached (paused ones included). */
size_t prism_producer_consumers(const struct prism_producer *p);

/* Adds a consumer of `p` for `sub`, sending as `ssrc` (the relay's SSRC
 * toward that subscriber, non-zero). Returns NULL when `p` and `sub` belong
 * to different routers, when `p` is the subscriber's own track, for ssrc 0,
 * or on allocation failure. */
struct prism_consumer *prism_router_consumer_add(struct prism_router_sub *sub,
                                                 struct prism_producer *p, uint32_t ssrc);

/* Removes `c` (deferred while a forward runs). */
void prism_router_consumer_remove(struct prism_consumer *c);

/* Moves `c` to another producer of the same router (the subscriber now gets
 * that track in place of the old one): what it sends stays continuous in
 * sequence number, timestamp and picture id. Returns 0, PRISM_EINVAL
 * (another router's producer, or the subscriber's own track) or
 * PRISM_ENOMEM (it stays on its old producer). */
int prism_router_consumer_switch(struct prism_consumer *c, struct prism_producer *p);

/* A paused consumer forwards nothing; resuming continues the sequence
 * numbers where they stopped (the gap is not loss). */
void prism_consumer_set_paused(struct prism_consumer *c, bool paused);
bool prism_consumer_paused(const struct prism_consumer *c);

/* Answers this consumer's NACKs with retransmissions (RFC 4588) under
 * `rtx_ssrc` (0: stop). Allocates the producer's history if it has none
 * yet (control path). Returns 0, PRISM_EINVAL (the producer has no rtx
 * payload type, or no history is configured) or PRISM_ENOMEM. */
int prism_consumer_set_rtx(struct prism_consumer *c, uint32_t rtx_ssrc);

/* A NACK from the subscriber for `seq`, a sequence number as `c` sent it:
 * the packet is taken from the producer's history and sent again as RTX
 * (its own SSRC and sequence numbers, the original sequence number in front
 * of the payload, the consumer's rewrite applied). Returns true when it
 * went to the sink; false when the packet is not in the history any more,
 * was another source's, or `c` has no rtx (counted in rtx_missed), or when
 * `c` is leaving its layer for a lower one (its key frame is on the way:
 * repairing the layer it leaves would spend the link that made it leave)
 * or the subscriber's rtx rate is spent (counted in rtx_dropped). */
bool prism_router_retransmit(struct prism_consumer *c, uint16_t seq);

/* Paces what prism_router_retransmit sends `sub` to `bps` (a token bucket
 * one second deep; 0: unpaced, the default): a lossy downlink's NACKs
 * cannot make the relay send it more than its estimate allows. Worker
 * thread; call when the estimate changes. */
void prism_router_sub_pace_rtx(struct prism_router_sub *sub, uint32_t bps);

/* Whether `c` can carry padding probes: not paused, video with rtx, its
 * producer's packets carry transport-wide sequence numbers, its subscriber
 * has an estimator, and it has sent media (its RTX stream has a timestamp
 * to use). */
bool prism_consumer_can_pad(const struct prism_consumer *c);

/* Sends `packets` padding-only packets (RFC 3550 padding, on c's RTX SSRC
 * and payload type, RFC 4588; PRISM_ROUTER_PAD_BYTES of padding, a
 * transport-wide sequence number from the subscriber's estimator stamped
 * as probe cluster `cluster`) at `now_ms`, written into the egress pool's
 * preallocated buffers: no allocation. Returns how many went to the sink
 * (fewer when the pool runs dry; 0 when !prism_consumer_can_pad). Counted
 * in the subscriber's probe_packets and probe_bytes. */
#define PRISM_ROUTER_PAD_BYTES 255
size_t prism_router_pad(struct prism_consumer *c, uint8_t cluster, size_t packets, uint64_t now_ms);

/* Whether the subscriber negotiated red (RFC 2198): a RED packet (one
 * ingress parsed, pkt->has_red) goes to it as is; otherwise (the default)
 * as its primary block alone, a plain packet of the primary's payload type
 * with the same header, sequence number and timestamp. */
void prism_consumer_set_red(struct prism_consumer *c, bool red);

/* Takes the producer's layer `layer` from the next packet on (simulcast). */
void prism_consumer_set_layer(struct prism_consumer *c, uint8_t layer);

/* Moves `c` to layer `layer` (< PRISM_MEDIA_MAX_LAYERS) at that layer's next
 * VP8 or VP9 key frame: until then it keeps forwarding the layer it has, so the
 * subscriber's decoder never sees a frame it cannot decode, and the switch
 * is continuous in sequence number, timestamp, picture id and TL0PICIDX.
 * Returns true while such a switch is pending (the caller asks the
 * publisher for that key frame). */
bool prism_consumer_set_target(struct prism_consumer *c, uint8_t layer);
uint8_t prism_consumer_layer(const struct prism_consumer *c);
/* The consumer's layer choice state (relay/worker/layers.h), the worker's
 * to use; reset when the consumer changes producer. */
struct prism_layer_choice *prism_consumer_choice(struct prism_consumer *c);

/* Sets the spatial and temporal layers `c` takes of a layered stream (VP9
 * SVC, VP8 temporal layers; PRISM_SVC_ALL: every one, the default). Lower
 * ones take effect at the start of the next picture, a higher temporal
 * layer at its next switching point, a higher spatial layer at the next key
 * frame. What the subscriber gets stays continuous in sequence number and
 * picture id (the layers left out are not loss); TL0PICIDX is unchanged.
 * Returns true while a higher spatial layer waits for a key frame (the
 * caller asks the publisher for one). */
bool prism_consumer_set_svc_target(struct prism_consumer *c, uint8_t sid, uint8_t tid);
/* The layers `c` forwards now. */
void prism_consumer_svc_layers(const struct prism_consumer *c, uint8_t *sid, uint8_t *tid);
/* The consumer's (S, T) choice state (layers.h), the worker's to use. */
struct prism_svc_choice *prism_consumer_svc_choice(struct prism_consumer *c);

/* The layered stream of `p` (its layer 0's, for simulcast) at `now_ms`
 * into `out`: per layer frame bitrate, per temporal layer frame rate over
 * the last 0.5-1 s, spatial heights from the scalability structure.
 * Returns false when it has not sent more than one layer in the last
 * second. O(layers). */
bool prism_producer_svc(const struct prism_producer *p, uint64_t now_ms,
                        struct prism_svc_info *out);

/* The layers of `p` at `now_ms` into `out` (room for PRISM_MEDIA_MAX_LAYERS):
 * bitrate over the last 0.5-1 s, height from the last key frame, whether
 * packets came in the last second. Returns how many (1 for a single
 * stream). O(layers). */
size_t prism_producer_layers(const struct prism_producer *p, uint64_t now_ms,
                             struct prism_layer_info *out);

struct prism_producer *prism_consumer_producer(const struct prism_consumer *c);
/* The next consumer of the same subscriber (from sub->consumers), or NULL. */
struct prism_consumer *prism_consumer_next(const struct prism_consumer *c);
uint32_t prism_consumer_ssrc(const struct prism_consumer *c);
/* Packets handed to the sink. */
uint64_t prism_consumer_packets(const struct prism_consumer *c);

/* The consumer of `sub` that sends as `ssrc`, or NULL: how a subscriber's
 * PLI/FIR finds the track it is about. O(consumers of sub). */
struct prism_consumer *prism_router_sub_find(const struct prism_router_sub *sub, uint32_t ssrc);

/* The per-packet path: hands `pkt`, received from `p`'s publisher, to every
 * consumer of `p` that takes pkt->layer and is not paused. Returns the number
 * of copies handed to sinks. */
size_t prism_router_forward(struct prism_router *r, struct prism_producer *p,
                            const struct prism_packet *pkt);

#endif
