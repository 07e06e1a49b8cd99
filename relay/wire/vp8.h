/* The VP8 RTP payload descriptor (RFC 7741 §4.2): what a relay reads and
 * rewrites in it.
 *
 * A consumer that changes a stream's source (another publisher's stream, a
 * simulcast layer, a resumed stream) keeps the picture id and TL0PICIDX it
 * sends continuous, as it does the sequence number and timestamp: the
 * subscriber's decoder must never see a jump it would take for loss. The
 * descriptor is parsed from the payload; the rewrites work in place on the
 * same bytes, keeping the picture id's width (7 or 15 bits).
 *
 * Thread: any. Pure: no I/O, no allocation. Every read is bounded by `len`.
 */
#ifndef PRISM_WIRE_VP8_H
#define PRISM_WIRE_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prism_vp8_desc {
    bool start;            /* S: first packet of a partition */
    uint8_t partition;     /* PID */
    bool has_picture_id;   /* I */
    bool long_picture_id;  /* M: 15 bits (else 7) */
    uint16_t picture_id;   /* 7 or 15 bits */
    size_t picture_id_off; /* bytes into the payload */
    bool has_tl0picidx;    /* L */
    uint8_t tl0picidx;
    size_t tl0picidx_off;
    bool has_tid;      /* T: the temporal layer index is given */
    uint8_t tid;       /* TID, 0 without T */
    bool layer_sync;   /* Y: depends only on temporal base layer frames */
    size_t header_len; /* bytes of descriptor: the VP8 payload header follows */
    bool keyframe;     /* start of partition 0 of a key frame */
    uint16_t width;    /* a key frame's size in pixels (its VP8 header), 0 when */
    uint16_t height;   /* not a key frame or truncated before it */
};

/* Parses the descriptor at the start of `payload` (`len` bytes) into `out`.
 * Returns 0, or -1 when it is truncated (`out` is then unspecified). */
int prism_vp8_parse(const uint8_t *payload, size_t len, struct prism_vp8_desc *out);

/* Writes `picture_id` (masked to the descriptor's width) in place. The
 * descriptor must have one (a bug otherwise: checked). */
void prism_vp8_set_picture_id(uint8_t *payload, const struct prism_vp8_desc *d,
                              uint16_t picture_id);

/* Writes TL0PICIDX in place; the descriptor must carry one (checked). */
void prism_vp8_set_tl0picidx(uint8_t *payload, const struct prism_vp8_desc *d, uint8_t tl0picidx);

#endif
