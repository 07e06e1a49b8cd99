/* The AV1 dependency descriptor (see av1dd.h).
 *
 *     start_of_frame f(1), end_of_frame f(1), frame_dependency_template_id
 *     f(6), frame_number f(16); then, if more bytes: the five flags
 *     template_dependency_structure_present, active_decode_targets_present,
 *     custom_dtis, custom_fdiffs, custom_chains; then the structure:
 *     template_id_offset f(6), dt_cnt_minus_one f(5), template_layers():
 *     per template a next_layer_idc f(2) (0 same layer, 1 next temporal,
 *     2 next spatial, 3 no more templates); template_dtis(): f(2) per
 *     template and decode target; template_fdiffs(): per template, while a
 *     follows flag f(1) is set, an fdiff_minus_one f(4); template_chains():
 *     chain_cnt ns(DtCnt + 1), then, when not 0, per decode target its
 *     chain ns(chain_cnt) and per template and chain an fdiff f(4);
 *     resolutions_present f(1), then per spatial layer width and height
 *     minus one f(16) each. After the structure: the active decode targets
 *     f(DtCnt) when flagged, then the frame's custom DTIs f(2) per decode
 *     target (custom frame diffs and chains follow; not read).
 * Bits are read most significant first; ns(n) is the spec's non-symmetric
 * unsigned code.
 */
#include "relay/wire/av1dd.h"

#include "relay/base/error.h"

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

/* --- the whole descriptor ------------------------------------------------------ */

/* Reads `n` (<= 32) bits into *v; -1 past the end. */
static int take32(struct bits *b, unsigned n, uint32_t *v)
{
    unsigned hi = 0, lo = 0;
    if (n > 16) {
        if (take(b, n - 16, &hi) != 0 || take(b, 16, &lo) != 0)
            return -1;
        *v = (uint32_t)hi << 16 | lo;
        return 0;
    }
    if (take(b, n, &lo) != 0)
        return -1;
    *v = lo;
    return 0;
}

/* The non-symmetric unsigned code ns(n), n >= 1, into *v. */
static int take_ns(struct bits *b, unsigned n, unsigned *v)
{
    unsigned w = 0;
    for (unsigned x = n; x != 0; x >>= 1)
        w++;
    unsigned m = (1u << w) - n, x, extra;
    if (take(b, w - 1, &x) != 0)
        return -1;
    if (x < m) {
        *v = x;
        return 0;
    }
    if (take(b, 1, &extra) != 0)
        return -1;
    *v = (x << 1) - m + extra;
    return 0;
}

static int structure_layers(struct bits *b, struct prism_av1dd_structure *st)
{
    unsigned sid = 0, tid = 0, idc;
    do {
        if (st->n_templates == PRISM_AV1DD_MAX_TEMPLATES || sid >= PRISM_AV1DD_MAX_SPATIAL)
            return -1;
        st->template_sid[st->n_templates] = (uint8_t)sid;
        st->template_tid[st->n_templates] = (uint8_t)tid;
        st->n_templates++;
        st->max_sid = sid > st->max_sid ? (uint8_t)sid : st->max_sid;
        st->max_tid = tid > st->max_tid ? (uint8_t)tid : st->max_tid;
        if (take(b, 2, &idc) != 0)
            return -1;
        if (idc == 1) {
            tid++;
        } else if (idc == 2) {
            tid = 0;
            sid++;
        }
    } while (idc != 3);
    return 0;
}

/* template_dependency_structure() into `st` (zeroed by the caller). */
static int read_structure(struct bits *b, struct prism_av1dd_structure *st)
{
    unsigned offset, dt_minus_one, v;
    if (take(b, 6, &offset) != 0 || take(b, 5, &dt_minus_one) != 0)
        return -1;
    st->template_id_offset = (uint8_t)offset;
    st->n_decode_targets = (uint8_t)(dt_minus_one + 1);
    if (structure_layers(b, st) != 0)
        return -1;
    for (unsigned t = 0; t < st->n_templates; t++)
        for (unsigned dt = 0; dt < st->n_decode_targets; dt++) {
            if (take(b, 2, &v) != 0)
                return -1;
            st->template_dtis[t] |= (uint64_t)v << (2 * dt);
            if (v != PRISM_AV1DD_DTI_NOT_PRESENT) { /* decode_target_layers() */
                if (st->template_sid[t] > st->dt_sid[dt])
                    st->dt_sid[dt] = st->template_sid[t];
                if (st->template_tid[t] > st->dt_tid[dt])
                    st->dt_tid[dt] = st->template_tid[t];
            }
        }
    for (unsigned t = 0; t < st->n_templates; t++) /* frame diffs: not needed, skipped */
        do {
            if (take(b, 1, &v) != 0 || (v != 0 && take(b, 4, &(unsigned){0}) != 0))
                return -1;
        } while (v != 0);
    unsigned chains;
    if (take_ns(b, st->n_decode_targets + 1u, &chains) != 0)
        return -1;
    st->n_chains = (uint8_t)chains;
    if (chains > 0) {
        for (unsigned dt = 0; dt < st->n_decode_targets; dt++)
            if (take_ns(b, chains, &v) != 0)
                return -1;
        for (unsigned i = 0; i < st->n_templates * chains; i++)
            if (take(b, 4, &v) != 0)
                return -1;
    }
    if (take(b, 1, &v) != 0)
        return -1;
    st->has_resolutions = v != 0;
    for (unsigned s = 0; st->has_resolutions && s <= st->max_sid; s++) {
        unsigned w, h;
        if (take(b, 16, &w) != 0 || take(b, 16, &h) != 0)
            return -1;
        /* 65536 pixels (minus one 0xffff) does not fit: kept as 65535 */
        st->width[s] = (uint16_t)(w < UINT16_MAX ? w + 1 : UINT16_MAX);
        st->height[s] = (uint16_t)(h < UINT16_MAX ? h + 1 : UINT16_MAX);
    }
    return 0;
}

int prism_av1dd_read(const uint8_t *ext, size_t len, struct prism_av1dd_structure *structure,
                     struct prism_av1dd_frame *out)
{
    if (ext == NULL || structure == NULL || out == NULL || len < 3)
        return PRISM_EINVAL;
    *out = (struct prism_av1dd_frame){.start_of_frame = (ext[0] & 0x80) != 0,
                                      .end_of_frame = (ext[0] & 0x40) != 0,
                                      .template_id = ext[0] & 0x3f,
                                      .frame_number = (uint16_t)(ext[1] << 8 | ext[2])};
    struct bits b = {.p = ext, .len_bits = len * 8, .at = 24};
    unsigned f[5] = {0};
    for (unsigned i = 0; i < 5 && len > 3; i++)
        if (take(&b, 1, &f[i]) != 0)
            return PRISM_EINVAL;
    /* A new structure is read aside: a malformed one leaves the stream's. */
    struct prism_av1dd_structure fresh = {0};
    const struct prism_av1dd_structure *st = structure;
    if (f[0]) {
        if (!out->start_of_frame || read_structure(&b, &fresh) != 0)
            return PRISM_EINVAL;
        st = &fresh;
    }
    if (st->n_decode_targets == 0)
        return PRISM_ENOTFOUND;
    uint32_t mask = 0;
    if (f[1] && take32(&b, st->n_decode_targets, &mask) != 0)
        return PRISM_EINVAL;
    unsigned i = (out->template_id + PRISM_AV1DD_MAX_TEMPLATES - st->template_id_offset) %
                 PRISM_AV1DD_MAX_TEMPLATES;
    if (i >= st->n_templates)
        return st == &fresh ? PRISM_EINVAL : PRISM_ENOTFOUND;
    out->sid = st->template_sid[i];
    out->tid = st->template_tid[i];
    out->dtis = st->template_dtis[i];
    out->has_active_decode_targets = f[1] != 0;
    out->active_decode_targets = mask;
    if (f[2]) {
        out->dtis = 0;
        for (unsigned dt = 0; dt < st->n_decode_targets; dt++) {
            unsigned v;
            if (take(&b, 2, &v) != 0)
                return PRISM_EINVAL;
            out->dtis |= (uint64_t)v << (2 * dt);
        }
    }
    if (st == &fresh) {
        *structure = fresh;
        out->new_structure = true;
    }
    return 0;
}
