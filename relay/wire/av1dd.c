/* The AV1 dependency descriptor (see av1dd.h).
 *
 *     start_of_frame f(1), end_of_frame f(1), frame_dependency_template_id
 *     f(6), frame_number f(16); then, if more bytes: the five flags
 *     template_dependency_structure_present, active_decode_targets_present,
 *     custom_dtis, custom_fdiffs, custom_chains; then the structure:
 *     template_id_offset f(6), dt_cnt_minus_one f(5), template_layers():
 *     per template a next_layer_idc f(2) (0 same layer, 1 next temporal,
 *     2 next spatial, 3 no more templates).
 * Bits are read most significant first.
 */
#include "relay/wire/av1dd.h"

struct bits {
    const uint8_t *p;
    size_t len_bits;
    size_t at; /* bits read */
};

/* Reads `n` (<= 16) bits into *v; -1 past the end. */
static int take(struct bits *b, unsigned n, unsigned *v)
{
    if (b->len_bits - b->at < n)
        return -1;
    unsigned x = 0;
    for (unsigned i = 0; i < n; i++, b->at++)
        x = x << 1 | ((b->p[b->at / 8] >> (7 - b->at % 8)) & 1u);
    *v = x;
    return 0;
}

static int template_layers(struct bits *b, struct prism_av1dd *out)
{
    unsigned sid = 0, tid = 0, idc;
    do {
        if (out->n_templates == PRISM_AV1DD_MAX_TEMPLATES)
            return -1;
        out->template_sid[out->n_templates] = (uint8_t)sid;
        out->template_tid[out->n_templates] = (uint8_t)tid;
        out->n_templates++;
        if (take(b, 2, &idc) != 0)
            return -1;
        if (idc == 1) {
            tid++;
            out->max_tid = tid > out->max_tid ? (uint8_t)tid : out->max_tid;
        } else if (idc == 2) {
            tid = 0;
            sid++;
        }
    } while (idc != 3);
    out->max_sid = (uint8_t)sid;
    return 0;
}

int prism_av1dd_parse(const uint8_t *ext, size_t len, struct prism_av1dd *out)
{
    if (ext == NULL || out == NULL || len < 3)
        return -1;
    *out = (struct prism_av1dd){0};
    out->start_of_frame = (ext[0] & 0x80) != 0;
    out->end_of_frame = (ext[0] & 0x40) != 0;
    out->template_id = ext[0] & 0x3f;
    out->frame_number = (uint16_t)(ext[1] << 8 | ext[2]);
    if (len == 3)
        return 0;
    out->extended = true;
    struct bits b = {.p = ext, .len_bits = len * 8, .at = 24};
    unsigned f[5];
    for (unsigned i = 0; i < 5; i++)
        if (take(&b, 1, &f[i]) != 0)
            return -1;
    out->has_structure = f[0];
    out->has_active_decode_targets = f[1];
    out->custom_dtis = f[2];
    out->custom_fdiffs = f[3];
    out->custom_chains = f[4];
    if (!out->has_structure)
        return 0;
    unsigned offset, dt_minus_one;
    if (take(&b, 6, &offset) != 0 || take(&b, 5, &dt_minus_one) != 0)
        return -1;
    out->template_id_offset = (uint8_t)offset;
    out->n_decode_targets = (uint8_t)(dt_minus_one + 1);
    return template_layers(&b, out);
}

int prism_av1dd_layers(const struct prism_av1dd *structure, uint8_t template_id, uint8_t *sid,
                       uint8_t *tid)
{
    if (!structure->has_structure)
        return -1;
    unsigned i = (template_id + PRISM_AV1DD_MAX_TEMPLATES - structure->template_id_offset) %
                 PRISM_AV1DD_MAX_TEMPLATES;
    if (i >= structure->n_templates)
        return -1;
    *sid = structure->template_sid[i];
    *tid = structure->template_tid[i];
    return 0;
}
