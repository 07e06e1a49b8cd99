/* The AV1 RTP dependency descriptor header extension (AV1 RTP payload
 * specification, appendix A): what a relay reads of it.
 *
 * Read here: the mandatory fields of every packet (start and end of frame,
 * the frame's template id, its frame number), the flags of the extended
 * fields, and, from a template dependency structure (sent with key frames),
 * the first part of it: the template id offset, the number of decode
 * targets and each template's spatial and temporal layer. That is enough to
 * tell each later packet's layers by its template id (prism_av1dd_layers).
 * Not decoded: the rest of the structure (decode target indications, frame
 * diffs, chains, decode target layers, resolutions) and the per-frame
 * custom fields, so the descriptor is never rewritten (a relay that drops
 * AV1 layers would have to keep the subscriber's chains and active decode
 * targets coherent: not done).
 *
 * Thread: any. Pure: no I/O, no allocation. Every read is bounded by `len`.
 */
#ifndef PRISM_WIRE_AV1DD_H
#define PRISM_WIRE_AV1DD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_AV1DD_MAX_TEMPLATES 64 /* template ids are 6 bits */

/* The extension's URI (what the SDP's a=extmap names). */
#define PRISM_AV1DD_URI                                                                            \
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"

struct prism_av1dd {
    bool start_of_frame;
    bool end_of_frame;
    uint8_t template_id;   /* frame_dependency_template_id, 6 bits */
    uint16_t frame_number; /* 16 bits, wraps */
    bool extended;         /* more than the 3 mandatory bytes */
    bool has_structure;    /* template_dependency_structure_present_flag */
    bool has_active_decode_targets;
    bool custom_dtis, custom_fdiffs, custom_chains;
    /* the structure's first part, when has_structure */
    uint8_t template_id_offset;
    uint8_t n_decode_targets; /* DtCnt */
    uint8_t n_templates;      /* TemplateCnt */
    uint8_t template_sid[PRISM_AV1DD_MAX_TEMPLATES];
    uint8_t template_tid[PRISM_AV1DD_MAX_TEMPLATES];
    uint8_t max_sid, max_tid;
};

/* Parses the extension's data (`len` bytes, the element's value) into
 * `out`. Returns 0, or -1 when it is shorter than the mandatory fields or a
 * structure is cut short or lists more than 64 templates. */
int prism_av1dd_parse(const uint8_t *ext, size_t len, struct prism_av1dd *out);

/* The spatial and temporal layer of template `template_id` under
 * `structure` (a parsed descriptor with has_structure). Returns 0, or -1
 * when the template is not in it. */
int prism_av1dd_layers(const struct prism_av1dd *structure, uint8_t template_id, uint8_t *sid,
                       uint8_t *tid);

#endif
