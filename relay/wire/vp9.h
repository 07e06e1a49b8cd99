/* The VP9 RTP payload descriptor (RFC 9628 §4.2): what a relay reads and
 * rewrites in it to drop spatial and temporal layers of an SVC stream.
 *
 * A consumer that forwards only the layers up to (S, T) of a VP9 SVC
 * stream reads each packet's layer indices (SID, TID), the switching-up
 * point (U), the frame boundaries (B, E) and whether the packet starts a
 * key frame; it rewrites the picture id (continuous over dropped pictures)
 * and, on the last packet of the highest spatial layer it keeps, the end
 * of frame bit (E). The scalability structure (SS, sent with key frames)
 * gives each spatial layer's resolution.
 *
 * Thread: any. Pure: no I/O, no allocation. Every read is bounded by `len`.
 */
#ifndef PRISM_WIRE_VP9_H
#define PRISM_WIRE_VP9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_VP9_MAX_SPATIAL 8 /* N_S is 3 bits: up to 8 spatial layers */
#define PRISM_VP9_MAX_PDIFF 3   /* flexible mode: up to 3 reference indices */

struct prism_vp9_desc {
    bool inter_picture;    /* P: the picture is predicted from earlier ones */
    bool flexible;         /* F: flexible mode (P_DIFFs; no TL0PICIDX) */
    bool begin;            /* B: first packet of a layer frame */
    bool end;              /* E: last packet of a layer frame */
    bool not_ref_upper;    /* Z: upper spatial layers do not refer to this frame */
    bool has_picture_id;   /* I */
    bool long_picture_id;  /* M: 15 bits (else 7) */
    uint16_t picture_id;   /* 7 or 15 bits */
    size_t picture_id_off; /* bytes into the payload */
    bool has_layers;       /* L: TID/U/SID/D present */
    uint8_t tid;           /* temporal layer, 0 without L */
    bool switch_up;        /* U: a switching-up point to a higher temporal layer */
    uint8_t sid;           /* spatial layer, 0 without L */
    bool inter_layer;      /* D: predicted from the lower spatial layer */
    bool has_tl0picidx;    /* non-flexible mode with L */
    uint8_t tl0picidx;
    size_t tl0picidx_off;
    uint8_t n_pdiff; /* flexible mode with P */
    uint8_t pdiff[PRISM_VP9_MAX_PDIFF];
    bool has_ss;                              /* V: a scalability structure follows */
    uint8_t ss_n_spatial;                     /* N_S + 1 */
    bool ss_has_size;                         /* Y: sizes given */
    uint16_t ss_width[PRISM_VP9_MAX_SPATIAL]; /* pixels, per spatial layer */
    uint16_t ss_height[PRISM_VP9_MAX_SPATIAL];
    uint8_t ss_n_pictures; /* N_G: pictures in the group description */
    size_t header_len;     /* bytes of descriptor: the VP9 frame data follows */
    bool keyframe;         /* first packet of an intra-only base layer frame: !P, B, SID 0 */
};

/* Parses the descriptor at the start of `payload` (`len` bytes) into `out`.
 * Returns 0, or -1 when it is truncated or malformed (a P_DIFF list longer
 * than 3, flexible mode's P_DIFFs without P); `out` is then unspecified. */
int prism_vp9_parse(const uint8_t *payload, size_t len, struct prism_vp9_desc *out);

/* Writes `picture_id` (masked to the descriptor's width) in place. The
 * descriptor must have one (a bug otherwise: checked). */
void prism_vp9_set_picture_id(uint8_t *payload, const struct prism_vp9_desc *d,
                              uint16_t picture_id);

/* Writes TL0PICIDX in place; the descriptor must carry one (checked). */
void prism_vp9_set_tl0picidx(uint8_t *payload, const struct prism_vp9_desc *d, uint8_t tl0picidx);

/* Sets the E (end of layer frame) bit in place. */
void prism_vp9_set_end(uint8_t *payload);

#endif
