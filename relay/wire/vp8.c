/* The VP8 RTP payload descriptor (see vp8.h).
 *
 *      0 1 2 3 4 5 6 7
 *     |X|R|N|S|R| PID |   required
 *     |I|L|T|K| RSV   |   X: extensions present
 *     |M| PictureID   |   I (M: a second byte follows, 15 bits)
 *     |   TL0PICIDX   |   L
 *     |TID|Y| KEYIDX  |   T or K
 * then the VP8 payload header, whose first bit (P, inverse key frame) is 0
 * on a key frame's first packet.
 */
#include "relay/wire/vp8.h"
#include "relay/wire/picture_id.h"

#include "relay/base/check.h"

int prism_vp8_parse(const uint8_t *payload, size_t len, struct prism_vp8_desc *out)
{
    if (payload == NULL || out == NULL || len < 1)
        return -1;
    *out = (struct prism_vp8_desc){0};
    size_t i = 0;
    uint8_t b = payload[i++];
    out->start = (b & 0x10) != 0;
    out->partition = b & 0x07;
    if (b & 0x80) {
        if (i >= len)
            return -1;
        uint8_t x = payload[i++];
        if (x & 0x80) {
            if (i >= len)
                return -1;
            out->has_picture_id = true;
            out->picture_id_off = i;
            out->long_picture_id = (payload[i] & 0x80) != 0;
            if (out->long_picture_id) {
                if (i + 1 >= len)
                    return -1;
                out->picture_id = (uint16_t)(((payload[i] & 0x7f) << 8) | payload[i + 1]);
                i += 2;
            } else {
                out->picture_id = payload[i] & 0x7f;
                i += 1;
            }
        }
        if (x & 0x40) {
            if (i >= len)
                return -1;
            out->has_tl0picidx = true;
            out->tl0picidx_off = i;
            out->tl0picidx = payload[i++];
        }
        if (x & 0x30) {
            if (i >= len)
                return -1;
            if (x & 0x20) {
                out->has_tid = true;
                out->tid = payload[i] >> 6;
                out->layer_sync = (payload[i] & 0x20) != 0;
            }
            i++;
        }
    }
    out->header_len = i;
    out->keyframe = out->start && out->partition == 0 && i < len && (payload[i] & 0x01) == 0;
    /* RFC 6386 §9.1: a key frame's 3-byte tag, start code, then 14-bit
     * width and height, little-endian (the top 2 bits are scaling). */
    out->width = out->height = 0;
    if (out->keyframe && len - i >= 10 && payload[i + 3] == 0x9d && payload[i + 4] == 0x01 &&
        payload[i + 5] == 0x2a) {
        out->width = (uint16_t)((payload[i + 6] | payload[i + 7] << 8) & 0x3fff);
        out->height = (uint16_t)((payload[i + 8] | payload[i + 9] << 8) & 0x3fff);
    }
    return 0;
}

void prism_vp8_set_picture_id(uint8_t *payload, const struct prism_vp8_desc *d, uint16_t picture_id)
{
    PRISM_CHECK(d->has_picture_id);
    prism_picture_id_write(payload + d->picture_id_off, d->long_picture_id, picture_id);
}

void prism_vp8_set_tl0picidx(uint8_t *payload, const struct prism_vp8_desc *d, uint8_t tl0picidx)
{
    PRISM_CHECK(d->has_tl0picidx);
    payload[d->tl0picidx_off] = tl0picidx;
}
