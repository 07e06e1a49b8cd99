/* A writer of AV1 dependency descriptors for the unit tests (the relay
 * only reads them): scripted packets of L1T3 and L3T3 streams, with or
 * without their template structure, custom DTIs and active decode
 * targets, so the readers and the layer dropping are tested against bytes
 * laid out as the AV1 RTP specification's appendix A says.
 *
 * Static functions only: each test executable that includes it gets its
 * own copy. No allocation.
 */
#ifndef PRISM_TESTS_AV1DD_WRITER_H
#define PRISM_TESTS_AV1DD_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DDW_MAX_TEMPLATES 16

/* A template: its layers, its DTIs as a string ('-' not present, 'D'
 * discardable, 'S' switch, 'R' required, one per decode target) and up to
 * 3 frame diffs. */
struct ddw_template {
    uint8_t sid, tid;
    const char *dtis;
    uint8_t n_fdiffs;
    uint8_t fdiffs[3];
};

/* A structure: templates in (sid, tid) order, one chain protecting every
 * decode target, resolutions when n_res > 0. */
struct ddw_structure {
    uint8_t offset;
    uint8_t n_dts;
    uint8_t n_templates;
    struct ddw_template t[DDW_MAX_TEMPLATES];
    uint8_t n_res;
    uint16_t width[4], height[4];
};

struct ddw_bits {
    uint8_t *p;
    size_t at; /* bits written */
};

static void ddw_put(struct ddw_bits *w, unsigned n, uint32_t v)
{
    for (unsigned i = n; i-- > 0; w->at++)
        w->p[w->at / 8] |= (uint8_t)(((v >> i) & 1u) << (7 - w->at % 8));
}

/* ns(n) of the specification: `v` < n. */
static void ddw_put_ns(struct ddw_bits *w, unsigned n, unsigned v)
{
    unsigned bits = 0;
    for (unsigned x = n; x != 0; x >>= 1)
        bits++;
    unsigned m = (1u << bits) - n;
    if (v < m) {
        ddw_put(w, bits - 1, v);
        return;
    }
    ddw_put(w, bits - 1, (v + m) >> 1);
    ddw_put(w, 1, (v + m) & 1);
}

static unsigned ddw_dti(char c)
{
    return c == 'D' ? 1 : c == 'S' ? 2 : c == 'R' ? 3 : 0;
}

static void ddw_structure(struct ddw_bits *w, const struct ddw_structure *s)
{
    ddw_put(w, 6, s->offset);
    ddw_put(w, 5, s->n_dts - 1u);
    for (unsigned i = 0; i < s->n_templates; i++) {
        unsigned idc = 3;
        if (i + 1 < s->n_templates) {
            const struct ddw_template *a = &s->t[i], *b = &s->t[i + 1];
            idc = b->sid == a->sid ? (b->tid == a->tid ? 0 : 1) : 2;
        }
        ddw_put(w, 2, idc);
    }
    for (unsigned i = 0; i < s->n_templates; i++)
        for (unsigned dt = 0; dt < s->n_dts; dt++)
            ddw_put(w, 2, ddw_dti(s->t[i].dtis[dt]));
    for (unsigned i = 0; i < s->n_templates; i++) {
        for (unsigned k = 0; k < s->t[i].n_fdiffs; k++) {
            ddw_put(w, 1, 1);
            ddw_put(w, 4, s->t[i].fdiffs[k] - 1u);
        }
        ddw_put(w, 1, 0);
    }
    ddw_put_ns(w, s->n_dts + 1u, 1); /* one chain */
    for (unsigned dt = 0; dt < s->n_dts; dt++)
        ddw_put_ns(w, 1, 0); /* protected by chain 0 */
    for (unsigned i = 0; i < s->n_templates; i++)
        ddw_put(w, 4, s->t[i].n_fdiffs > 0 ? s->t[i].fdiffs[0] : 0);
    ddw_put(w, 1, s->n_res > 0);
    for (unsigned i = 0; i < s->n_res; i++) {
        ddw_put(w, 16, s->width[i] - 1u);
        ddw_put(w, 16, s->height[i] - 1u);
    }
}

/* Writes a descriptor into `out` (room for 96 bytes); returns its length.
 * `st`: the structure to attach, or NULL; `dts` its decode target count
 * (what custom DTIs and the active mask are sized by); `custom`: the
 * frame's own DTIs, or NULL; `active`: the active decode targets, or -1. */
static size_t ddw_write(uint8_t *out, bool start, bool end, uint8_t template_id, uint16_t frame,
                        const struct ddw_structure *st, unsigned dts, const char *custom,
                        long active)
{
    memset(out, 0, 96);
    struct ddw_bits w = {out, 0};
    ddw_put(&w, 1, start);
    ddw_put(&w, 1, end);
    ddw_put(&w, 6, template_id);
    ddw_put(&w, 16, frame);
    if (st == NULL && custom == NULL && active < 0)
        return 3;
    ddw_put(&w, 1, st != NULL);
    ddw_put(&w, 1, active >= 0);
    ddw_put(&w, 1, custom != NULL);
    ddw_put(&w, 1, 0); /* custom fdiffs */
    ddw_put(&w, 1, 0); /* custom chains */
    if (st != NULL)
        ddw_structure(&w, st);
    if (active >= 0)
        ddw_put(&w, dts, (uint32_t)active);
    for (unsigned dt = 0; custom != NULL && dt < dts; dt++)
        ddw_put(&w, 2, ddw_dti(custom[dt]));
    return (w.at + 7) / 8;
}

/* L1T3 as libwebrtc lays it out: a key frame, then T0 T2 T1 T2 repeating;
 * the first T2 after a T0 is a switching point into decode target 2, T0
 * frames into every one. */
static const struct ddw_structure DDW_L1T3 = {
    .offset = 0,
    .n_dts = 3,
    .n_templates = 5,
    .t = {{0, 0, "SSS", 0, {0}},
          {0, 0, "SSS", 1, {4}},
          {0, 1, "-DR", 1, {2}},
          {0, 2, "--S", 1, {1}},
          {0, 2, "--D", 1, {1}}},
    .n_res = 1,
    .width = {640},
    .height = {360},
};
enum { DDW_L1T3_KEY = 0, DDW_L1T3_T0 = 1, DDW_L1T3_T1 = 2, DDW_L1T3_T2S = 3, DDW_L1T3_T2 = 4 };

/* L3T3 (full SVC: upper layers predict from the lower one of their
 * picture too), decode target s * 3 + t, template ids from 20: per spatial
 * layer a key picture's frame (a switching point into its targets), then
 * T0, T1, T2 delta frames (required, never a spatial switching point). */
static const struct ddw_structure DDW_L3T3 = {
    .offset = 20,
    .n_dts = 9,
    .n_templates = 13,
    .t = {{0, 0, "SSSSSSSSS", 0, {0}},
          {0, 0, "SSSRRRRRR", 1, {12}},
          {0, 1, "-DR-RR-RR", 1, {6}},
          {0, 2, "--S--R--R", 1, {3}},
          {0, 2, "--D--R--R", 1, {3}},
          {1, 0, "---SSSSSS", 1, {1}},
          {1, 0, "---RRRRRR", 2, {12, 1}},
          {1, 1, "----DR-RR", 2, {6, 1}},
          {1, 2, "-----D--R", 2, {3, 1}},
          {2, 0, "------SSS", 1, {1}},
          {2, 0, "------RRR", 2, {12, 1}},
          {2, 1, "-------DR", 2, {6, 1}},
          {2, 2, "--------D", 2, {3, 1}}},
    .n_res = 3,
    .width = {320, 640, 1280},
    .height = {180, 360, 720},
};

/* L2T1_KEY (K-SVC): spatial layer 1 predicts from layer 0 only in a key
 * picture; after it each layer predicts from its own. So the delta frames
 * of layer 0 are not present in decode target 1, nor layer 1's in 0.
 * Template ids from 40: S0 key, S0 delta, S1 key, S1 delta. */
static const struct ddw_structure DDW_L2T1_KEY = {
    .offset = 40,
    .n_dts = 2,
    .n_templates = 4,
    .t = {{0, 0, "SS", 0, {0}}, {0, 0, "S-", 1, {2}}, {1, 0, "-S", 1, {1}}, {1, 0, "-R", 1, {2}}},
    .n_res = 2,
    .width = {320, 640},
    .height = {180, 360},
};

#endif
