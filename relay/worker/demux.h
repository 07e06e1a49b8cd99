/* Which of a publisher's tracks an RTP packet from its publish transport
 * belongs to (RFC 8843 §9.2): by SSRC, else by the mid header extension,
 * else by a payload type only one of its m-lines has. A track announced
 * without SSRC learns its SSRC from the first stream so matched, and a track
 * whose rtx SSRC was not announced learns it the same way from its rtx
 * payload type; after that the SSRC alone decides.
 *
 * Simulcast tracks (n_layers > 1) have a stream, and an rtx stream, per
 * layer, low to high, found by prism_demux_find_layer(): announced by SSRC
 * (a=ssrc-group:SIM, each layer's rtx by its a=ssrc-group:FID), or learned
 * from the first packet carrying a layer's rid (RFC 8852; its rtx stream's
 * from repaired-rid). Either way the SSRC alone decides after that, and
 * both kinds are the same track to everything after the demux.
 *
 * Matching only among the publisher's own tracks, on a transport whose SRTP
 * keys only that publisher has, is what keeps a forged SSRC from moving
 * media across peers, bubbles or tenants. How many SSRCs a transport lets
 * through at all is the transport's allowance (relay/worker/link.c), checked
 * before decryption; SSRC 0 is never matched or learned (a track whose SSRC
 * is not known yet holds 0).
 *
 * Thread: the worker owning the publisher. Pure: no I/O, no allocation;
 * O(tracks) per packet.
 */
#ifndef PRISM_WORKER_DEMUX_H
#define PRISM_WORKER_DEMUX_H

#include <stddef.h>

#include "relay/worker/contract.h"
#include "relay/worker/packet.h"

enum prism_demux_stream {
    PRISM_DEMUX_NONE,  /* no track: a no_route drop */
    PRISM_DEMUX_MEDIA, /* the track's media stream */
    PRISM_DEMUX_RTX,   /* the track's retransmission stream (RFC 4588) */
};

/* A publisher's track descriptors: `n` of them, the first at `first`, each
 * `stride` bytes after the previous (they may sit inside bigger structs). */
struct prism_demux_tracks {
    struct prism_track_desc *first;
    size_t n;
    size_t stride;
};

/* The stream `pkt` (parsed by ingress: SSRC, payload type, mid) belongs to,
 * and in `*index` its track's position in `t` (unless NONE). In order:
 * a track's SSRC, then its rtx SSRC; for an unknown SSRC, a packet with a
 * mid binds it to the track of that mid whose SSRC is unknown and that
 * negotiated the mid extension; a packet without one goes by its payload type, if that type is in
 * exactly one track's m-line (prism_track_pt_only): a media payload type
 * binds the SSRC to that track if its SSRC is unknown, an rtx one binds its
 * rtx SSRC if that is unknown and its SSRC known. Anything else: NONE.
 * A simulcast track (n_layers > 1) is never matched here: see
 * prism_demux_find_layer(). */
enum prism_demux_stream prism_demux_find(const struct prism_demux_tracks *t,
                                         const struct prism_packet *pkt, size_t *index);

/* The simulcast stream `pkt` belongs to: its track's position in `*index`
 * and its layer in `*layer` (unless NONE). In order: a layer's SSRC
 * (MEDIA) or rtx SSRC (RTX), announced or learned; for an unknown SSRC, a
 * packet carrying a rid (and a mid naming the track, when it carries one)
 * binds it to the layer of that rid whose rids the track announced: as the
 * layer's stream for a rid, its rtx stream for a repaired-rid (which may
 * move a learned layer to a new SSRC: the publisher restarted it). A layer
 * announced by SSRC has no rid and never binds. Tracks with one stream
 * are skipped; NONE sends the caller to prism_demux_find(). */
enum prism_demux_stream prism_demux_find_layer(const struct prism_demux_tracks *t,
                                               const struct prism_packet *pkt, size_t *index,
                                               uint8_t *layer);

#endif
