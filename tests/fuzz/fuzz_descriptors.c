/* libFuzzer target for the payload descriptors a relay reads to drop
 * layers: the same bytes as relay/wire/vp9 (the VP9 RTP payload
 * descriptor), relay/wire/vp8 (its temporal layer fields) and
 * relay/wire/av1dd (the AV1 dependency descriptor). VP9 invariants: a parse
 * either fails or yields a descriptor inside the input (header_len, and the
 * picture id and TL0PICIDX offsets before it); the layer indices fit their
 * bits, at most 3 P_DIFFs, at most 8 spatial layers in the scalability
 * structure; a key frame begins a layer frame of spatial layer 0; the
 * setters change only their own bytes, and the rewritten descriptor parses
 * back to the same layout with the new values. VP8: TID fits 2 bits, TID and
 * Y only with T. AV1: the mandatory fields are the first 3 bytes; a
 * structure's templates are 1 to 64, their layers within the maxima, and
 * every template id maps to its template's layers. The whole-descriptor
 * reader, statefully: the input read whole, then as records (a length
 * byte, then that many bytes) each read against the structure the earlier
 * ones left: a refusal or a not-found leaves the kept structure as it was;
 * a structure is taken only from a frame's first packet, and agrees with
 * the first-part parser's layers; the frame's layers are within the
 * structure's; decode targets 1 to 32, their layers and chains within the
 * structure's, DTIs only for existing decode targets, spatial layers at
 * most 4, resolutions not 0. ASan checks every read is bounded by the
 * input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/av1dd.h"
#include "relay/wire/vp8.h"
#include "relay/wire/vp9.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BYTES 256

static void must(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_descriptors: %s\n", what);
        abort();
    }
}

static void check_vp9(const uint8_t *data, size_t size)
{
    struct prism_vp9_desc d, back;
    if (prism_vp9_parse(data, size, &d) != 0)
        return;
    must(d.header_len >= 1 && d.header_len <= size, "descriptor inside the input");
    must(!d.has_picture_id || d.picture_id_off + 1u + d.long_picture_id <= d.header_len,
         "picture id inside");
    must(!d.has_tl0picidx || d.tl0picidx_off < d.header_len, "tl0picidx inside");
    must(d.tid < 8 && d.sid < 8, "layer indices fit 3 bits");
    must(d.n_pdiff <= PRISM_VP9_MAX_PDIFF, "at most 3 P_DIFFs");
    must(!d.has_ss || (d.ss_n_spatial >= 1 && d.ss_n_spatial <= PRISM_VP9_MAX_SPATIAL),
         "1 to 8 spatial layers");
    must(!d.keyframe || (d.begin && d.sid == 0 && !d.inter_picture), "key frame begins SID 0");
    uint8_t copy[FUZZ_MAX_BYTES];
    memcpy(copy, data, size);
    uint16_t pid = (uint16_t)(d.picture_id + 1);
    if (d.has_picture_id)
        prism_vp9_set_picture_id(copy, &d, pid);
    if (d.has_tl0picidx)
        prism_vp9_set_tl0picidx(copy, &d, (uint8_t)(d.tl0picidx + 1));
    prism_vp9_set_end(copy);
    must(memcmp(copy + d.header_len, data + d.header_len, size - d.header_len) == 0,
         "setters stay in the descriptor");
    must(prism_vp9_parse(copy, size, &back) == 0, "rewrite parses");
    must(back.header_len == d.header_len && back.sid == d.sid && back.tid == d.tid,
         "rewrite keeps the layout");
    must(back.end, "end set");
    must(!d.has_picture_id || back.picture_id == (pid & (d.long_picture_id ? 0x7fff : 0x7f)),
         "picture id rewritten");
    must(!d.has_tl0picidx || back.tl0picidx == (uint8_t)(d.tl0picidx + 1), "tl0picidx rewritten");
}

static void check_vp8(const uint8_t *data, size_t size)
{
    struct prism_vp8_desc d;
    if (prism_vp8_parse(data, size, &d) != 0)
        return;
    must(d.header_len >= 1 && d.header_len <= size, "vp8 descriptor inside the input");
    must(d.tid < 4, "vp8 TID fits 2 bits");
    must(d.has_tid || (d.tid == 0 && !d.layer_sync), "vp8 TID and Y only with T");
}

static void check_av1dd(const uint8_t *data, size_t size)
{
    struct prism_av1dd d;
    if (prism_av1dd_parse(data, size, &d) != 0) {
        must(size != 3, "the mandatory fields alone always parse");
        return;
    }
    must(size >= 3, "at least the mandatory fields");
    must(d.template_id == (data[0] & 0x3f) && d.frame_number == (data[1] << 8 | data[2]),
         "mandatory fields");
    must(d.extended == (size > 3), "extended iff more bytes");
    if (!d.has_structure)
        return;
    must(d.n_templates >= 1 && d.n_templates <= PRISM_AV1DD_MAX_TEMPLATES, "1 to 64 templates");
    must(d.n_decode_targets >= 1 && d.n_decode_targets <= 32, "decode targets");
    for (unsigned id = 0; id < PRISM_AV1DD_MAX_TEMPLATES; id++) {
        uint8_t sid, tid;
        unsigned i = (id + 64 - d.template_id_offset) % 64;
        int rc = prism_av1dd_layers(&d, (uint8_t)id, &sid, &tid);
        must((rc == 0) == (i < d.n_templates), "a template id maps iff in the structure");
        must(rc != 0 || (sid <= d.max_sid && tid <= d.max_tid), "layers within the maxima");
    }
}

static void check_read(const uint8_t *data, size_t size, struct prism_av1dd_structure *st)
{
    struct prism_av1dd_structure before = *st;
    struct prism_av1dd_frame f;
    int rc = prism_av1dd_read(data, size, st, &f);
    must(rc == 0 || rc == PRISM_EINVAL || rc == PRISM_ENOTFOUND, "read code");
    if (rc != 0) {
        must(memcmp(&before, st, sizeof(before)) == 0, "a refusal keeps the structure");
        return;
    }
    must(f.template_id == (data[0] & 0x3f) && f.frame_number == (data[1] << 8 | data[2]),
         "read mandatory fields");
    must(!f.new_structure || f.start_of_frame, "a structure only on a frame's first packet");
    must(f.new_structure || memcmp(&before, st, sizeof(before)) == 0, "no structure, no change");
    must(st->n_decode_targets >= 1 && st->n_decode_targets <= PRISM_AV1DD_MAX_DTS,
         "1 to 32 decode targets");
    must(st->n_templates >= 1 && st->n_templates <= PRISM_AV1DD_MAX_TEMPLATES, "1 to 64 templates");
    must(st->max_sid < PRISM_AV1DD_MAX_SPATIAL, "at most 4 spatial layers");
    must(st->n_chains <= st->n_decode_targets, "chains");
    must(f.sid <= st->max_sid && f.tid <= st->max_tid, "frame layers within the structure");
    must(st->n_decode_targets == 32 || (f.dtis >> (2 * st->n_decode_targets)) == 0,
         "DTIs of existing decode targets only");
    for (unsigned dt = 0; dt < st->n_decode_targets; dt++)
        must(st->dt_sid[dt] <= st->max_sid && st->dt_tid[dt] <= st->max_tid, "target layers");
    for (unsigned s = 0; st->has_resolutions && s <= st->max_sid; s++)
        must(st->width[s] >= 1 && st->height[s] >= 1, "resolutions");
    struct prism_av1dd first;
    if (f.new_structure && prism_av1dd_parse(data, size, &first) == 0) {
        must(first.n_templates == st->n_templates && first.n_decode_targets == st->n_decode_targets,
             "the two parsers agree");
        must(memcmp(first.template_sid, st->template_sid, st->n_templates) == 0 &&
                 memcmp(first.template_tid, st->template_tid, st->n_templates) == 0,
             "the two parsers agree on the layers");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_BYTES)
        size = FUZZ_MAX_BYTES;
    check_vp9(data, size);
    check_vp8(data, size);
    check_av1dd(data, size);
    struct prism_av1dd_structure st = {0};
    check_read(data, size, &st);
    st = (struct prism_av1dd_structure){0};
    for (size_t at = 0; at < size;) {
        size_t n = data[at++];
        if (n > size - at)
            n = size - at;
        check_read(data + at, n, &st);
        at += n;
    }
    return 0;
}
