/* Layered streams (VP9 SVC, VP8 temporal layers, AV1 with the dependency
 * descriptor) on the per-packet path: where a packet sits (its spatial and
 * temporal layer, whether it starts a picture, a key frame or a switching
 * point), what one consumer does with it, and the producer's meter per
 * layer frame.
 *
 * A consumer's state is the layers it forwards and the ones it wants
 * (PRISM_SVC_ALL: every one). It moves toward the wanted ones only where
 * the stream allows it (prism_svc_take): up in spatial layer at a key frame
 * (the upper layers of L3T3_KEY's other pictures predict from their own
 * layer's earlier frames only), up in temporal layer at a key frame or at
 * the start of a picture of that layer marked as a switching point (VP8 Y,
 * VP9 U), down at the start of a picture, so no picture is cut short. The
 * router closes sequence numbers and picture ids over what is left out
 * (relay/worker/seqmap.h).
 *
 * With the dependency descriptor (AV1's L1T3, L3T3, L3T3_KEY...; VP8's
 * when libwebrtc sends one, as it then strips VP8's own descriptor of its
 * layers; VP9's own descriptor still decides for VP9): a packet's layers
 * come from its descriptor's template under the stream's template structure,
 * which only key frames carry: ingress keeps the last one per stream
 * (relay/wire/av1dd.h) and reads each packet's place against it
 * (prism_svc_dd_place). Up-switches, spatial or temporal, happen at a key
 * frame or at the start of a frame the descriptor marks as a switching
 * point (DTI "switch") into the decode target of the wanted layers (the
 * highest such one, spatial first); downs at a picture's start (its frame
 * of spatial layer 0). A frame within the forwarded layers but "not
 * present" in their decode target (L3T3_KEY's lower layers' delta frames,
 * for an upper layer) is left out too. A packet whose layers are unknown (no structure
 * yet, or its template is not in the one kept) goes to a consumer that
 * takes every layer (or the kept structure's top ones) and is left out by
 * the others (PRISM_SVC_DROP_UNKNOWN, counted): its frame may be of a
 * layer they do not decode.
 *
 * The meter counts bytes per layer frame (spatial, temporal) and pictures
 * per temporal layer in the router's two metering windows, and the spatial
 * layers' heights from VP9's scalability structure or the dependency
 * descriptor's resolutions; the choice reads it (layers.h).
 *
 * Pure: no I/O, no allocation, O(1) per packet. One thread (the worker's).
 */
#ifndef PRISM_WORKER_SVC_H
#define PRISM_WORKER_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/worker/layers.h"
#include "relay/worker/packet.h"

/* What a consumer forwards of a layered stream. */
struct prism_svc_state {
    uint8_t sid, sid_target; /* spatial layer forwarded / wanted */
    uint8_t tid, tid_target; /* temporal layer forwarded / wanted */
};

/* What a consumer does with a packet. */
enum prism_svc_verdict {
    PRISM_SVC_TAKE,
    PRISM_SVC_DROP_LAYER,   /* a spatial layer above the consumer's, or a frame its decode
                               target does not hold: the picture goes on */
    PRISM_SVC_DROP_PICTURE, /* a temporal layer above: the whole picture is left out */
    PRISM_SVC_DROP_UNKNOWN, /* unknown layers (dependency descriptor), to one that drops some */
};

/* The place of a packet from its dependency descriptor (`f`, read by
 * prism_av1dd_read against the stream's structure `st` with result `rc`)
 * into `out`: unknown unless rc is 0. */
void prism_svc_dd_place(const struct prism_av1dd_structure *st, const struct prism_av1dd_frame *f,
                        int rc, struct prism_dd_place *out);

/* Every layer, forwarded and wanted. */
void prism_svc_state_init(struct prism_svc_state *s);

/* Moves `s` toward its targets where `pkt` allows it (see above), then
 * says what to do with `pkt`. A packet without layer indices: taken. */
enum prism_svc_verdict prism_svc_take(struct prism_svc_state *s, const struct prism_packet *pkt);

/* Whether `pkt` is of a layer above what `s` forwards now (no change to
 * `s`): a retransmission of it must not go out. */
bool prism_svc_above(const struct prism_svc_state *s, const struct prism_packet *pkt);

/* Whether `pkt`, taken, is the last packet of the highest spatial layer
 * `s` keeps of its picture while upper ones are left out: it must then
 * carry the RTP marker (and VP9's E bit) for the subscriber. With the
 * dependency descriptor: the last packet of its frame of that layer. */
bool prism_svc_ends_picture(const struct prism_svc_state *s, const struct prism_packet *pkt);

/* A layered stream's traffic in the current and the previous window. */
struct prism_svc_meter {
    uint64_t bytes[PRISM_SVC_MAX_LAYERS][PRISM_SVC_MAX_LAYERS]; /* [sid][tid] */
    uint64_t prev_bytes[PRISM_SVC_MAX_LAYERS][PRISM_SVC_MAX_LAYERS];
    uint32_t frames[PRISM_SVC_MAX_LAYERS], prev_frames[PRISM_SVC_MAX_LAYERS]; /* per tid */
    uint16_t height[PRISM_SVC_MAX_LAYERS]; /* per sid, from the scalability structure */
    uint64_t last_ms;                      /* last layered packet; 0: none yet */
};

/* Counts `pkt` (of simulcast layer 0, the stream when not simulcast). */
void prism_svc_meter_note(struct prism_svc_meter *m, const struct prism_packet *pkt);

/* A new window starts; `skipped`: a whole window went by without packets. */
void prism_svc_meter_roll(struct prism_svc_meter *m, bool skipped);

/* The layers over the last `span_ms` (both windows) at `now_ms` into `out`.
 * Returns false when no layered packet came in the last `active_ms` or the
 * stream has a single layer. */
bool prism_svc_meter_read(const struct prism_svc_meter *m, uint64_t now_ms, uint64_t span_ms,
                          uint64_t active_ms, struct prism_svc_info *out);

#endif
