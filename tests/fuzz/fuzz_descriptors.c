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
 * every template id maps to its template's layers. ASan checks every read
 * is bounded by the input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_BYTES)
        size = FUZZ_MAX_BYTES;
    check_vp9(data, size);
    check_vp8(data, size);
    check_av1dd(data, size);
    return 0;
}
