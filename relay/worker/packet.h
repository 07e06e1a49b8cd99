/* One received RTP packet as ingress parsed it, once, for every reader after
 * it (router, consumers, feedback): the fixed header, the extensions the
 * worker uses and, for VP8 and VP9, the payload descriptor; its place read
 * from the dependency descriptor when it has one (AV1, and VP8/VP9 from
 * libwebrtc once negotiated); for RED, its primary block.
 *
 * Lives on the stack of the transport's receive callback; valid during it.
 */
#ifndef PRISM_WORKER_PACKET_H
#define PRISM_WORKER_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/wire/av1dd.h"
#include "relay/wire/red.h"
#include "relay/wire/rtp.h"
#include "relay/wire/vp8.h"
#include "relay/wire/vp9.h"

/* A packet's place in its stream from its dependency descriptor (AV1's,
 * and VP8's and VP9's when libwebrtc sends one), read against the stream's
 * template structure (relay/worker/svc.h). */
struct prism_dd_place {
    bool known;           /* the fields below hold: else no structure gives its layers (yet) */
    bool start, end;      /* first / last packet of a frame */
    bool key;             /* carries a new structure: the first packet of a key frame */
    uint8_t sid, tid;     /* the frame's layers */
    uint16_t switch_into; /* bit s * PRISM_DD_CELLS + t: a switching point into the
                             decode target of top layers (s, t) */
    uint16_t absent_from; /* same bits: not in that decode target (DTI "not present") */
    bool kept;            /* unknown: the stream keeps a structure (not this packet's) */
    uint8_t top_sid;      /* ... whose top layers are these */
    uint8_t top_tid;
    uint8_t n_heights; /* with `key`: the structure's resolutions, per spatial layer */
    uint16_t height[PRISM_AV1DD_MAX_SPATIAL];
};

#define PRISM_DD_CELLS 4 /* spatial and temporal layers switch_into covers, each */

struct prism_packet {
    /* inputs */
    uint8_t *data;   /* the decrypted packet, header included; not modified by readers */
    size_t len;      /* bytes */
    uint64_t now_ms; /* the worker loop's time at receipt */
    /* parsed once by ingress */
    struct prism_rtp_header h;       /* seq, timestamp, ssrc, payload type, offsets */
    struct prism_rtp_ext_values ext; /* mid, audio level, transport-wide seq */
    bool has_vp8;                    /* the payload is VP8 and its descriptor parsed */
    struct prism_vp8_desc vp8;
    bool has_vp9; /* the payload is VP9 and its descriptor parsed */
    struct prism_vp9_desc vp9;
    bool has_dd; /* it carries a dependency descriptor its track reads (any codec) */
    struct prism_dd_place dd;
    bool has_red;                       /* the payload is RED (RFC 2198), its blocks parsed */
    struct prism_red_block red_primary; /* then its primary (offset into the payload) */
    uint8_t layer;                      /* index of the producer's layer this packet belongs to */
};

#endif
