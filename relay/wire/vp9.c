/* The VP9 RTP payload descriptor (see vp9.h).
 *
 *      0 1 2 3 4 5 6 7
 *     |I|P|L|F|B|E|V|Z|   required
 *     |M| PICTURE ID  |   I (M: a second byte follows, 15 bits)
 *     |TID|U| SID |D  |   L
 *     |   TL0PICIDX   |   L and not F
 *     | P_DIFF      |N|   F and P, up to 3 (N: another follows)
 *     |N_S|Y|G|-|-|-|     V: the scalability structure, then
 *     WIDTH, HEIGHT (16 bits each) per spatial layer if Y; N_G if G, then per
 *     picture |TID|U| R |-|-| and R P_DIFF bytes.
 */
#include "relay/wire/vp9.h"
#include "relay/wire/picture_id.h"

#include "relay/base/check.h"

/* Reads the scalability structure at payload[*i]; advances *i. */
static int parse_ss(const uint8_t *payload, size_t len, size_t *i, struct prism_vp9_desc *out)
{
    if (*i >= len)
        return -1;
    uint8_t b = payload[(*i)++];
    out->has_ss = true;
    out->ss_n_spatial = (uint8_t)((b >> 5) + 1);
    out->ss_has_size = (b & 0x10) != 0;
    if (out->ss_has_size) {
        if (len - *i < (size_t)out->ss_n_spatial * 4)
            return -1;
        for (uint8_t s = 0; s < out->ss_n_spatial; s++) {
            const uint8_t *p = payload + *i + (size_t)s * 4;
            out->ss_width[s] = (uint16_t)(p[0] << 8 | p[1]);
            out->ss_height[s] = (uint16_t)(p[2] << 8 | p[3]);
        }
        *i += (size_t)out->ss_n_spatial * 4;
    }
    if (b & 0x08) {
        if (*i >= len)
            return -1;
        out->ss_n_pictures = payload[(*i)++];
        for (unsigned g = 0; g < out->ss_n_pictures; g++) {
            if (*i >= len)
                return -1;
            size_t refs = (payload[(*i)++] >> 2) & 0x03;
            if (len - *i < refs)
                return -1;
            *i += refs;
        }
    }
    return 0;
}

int prism_vp9_parse(const uint8_t *payload, size_t len, struct prism_vp9_desc *out)
{
    if (payload == NULL || out == NULL || len < 1)
        return -1;
    *out = (struct prism_vp9_desc){0};
    size_t i = 0;
    uint8_t b = payload[i++];
    out->inter_picture = (b & 0x40) != 0;
    out->flexible = (b & 0x10) != 0;
    out->begin = (b & 0x08) != 0;
    out->end = (b & 0x04) != 0;
    out->not_ref_upper = (b & 0x01) != 0;
    if (b & 0x80) {
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
            out->picture_id = payload[i++] & 0x7f;
        }
    }
    if (b & 0x20) {
        if (i >= len)
            return -1;
        uint8_t l = payload[i++];
        out->has_layers = true;
        out->tid = l >> 5;
        out->switch_up = (l & 0x10) != 0;
        out->sid = (l >> 1) & 0x07;
        out->inter_layer = (l & 0x01) != 0;
        if (!out->flexible) {
            if (i >= len)
                return -1;
            out->has_tl0picidx = true;
            out->tl0picidx_off = i;
            out->tl0picidx = payload[i++];
        }
    }
    if (out->flexible && out->inter_picture) {
        bool more = true;
        while (more) {
            if (i >= len || out->n_pdiff == PRISM_VP9_MAX_PDIFF)
                return -1;
            out->pdiff[out->n_pdiff++] = payload[i] >> 1;
            more = (payload[i++] & 0x01) != 0;
        }
    }
    if ((b & 0x02) && parse_ss(payload, len, &i, out) != 0)
        return -1;
    out->header_len = i;
    out->keyframe = !out->inter_picture && out->begin && out->sid == 0;
    return 0;
}

void prism_vp9_set_picture_id(uint8_t *payload, const struct prism_vp9_desc *d, uint16_t picture_id)
{
    PRISM_CHECK(d->has_picture_id);
    prism_picture_id_write(payload + d->picture_id_off, d->long_picture_id, picture_id);
}

void prism_vp9_set_tl0picidx(uint8_t *payload, const struct prism_vp9_desc *d, uint8_t tl0picidx)
{
    PRISM_CHECK(d->has_tl0picidx);
    payload[d->tl0picidx_off] = tl0picidx;
}

void prism_vp9_set_end(uint8_t *payload)
{
    payload[0] |= 0x04; /* E is in the required first octet */
}
