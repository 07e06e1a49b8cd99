/* The picture id field shared by the VP8 (RFC 7741 §4.2) and VP9 payload
 * descriptors: 7 bits, or 15 bits with the M bit (0x80) set in the first
 * byte. Pure; writes in place at an offset the caller's parser found. */
#ifndef PRISM_RELAY_WIRE_PICTURE_ID_H
#define PRISM_RELAY_WIRE_PICTURE_ID_H

#include <stdbool.h>
#include <stdint.h>

/* Writes `picture_id` (its low 7 or 15 bits) at `p`, keeping the field's
 * width: `long_id` as parsed, so the descriptor's length never changes. */
static inline void prism_picture_id_write(uint8_t *p, bool long_id, uint16_t picture_id)
{
    if (long_id) {
        p[0] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
        p[1] = (uint8_t)picture_id;
    } else {
        p[0] = picture_id & 0x7f;
    }
}

#endif
