/* The AV1 RTP dependency descriptor header extension (AV1 RTP payload
 * specification, appendix A): what a relay reads of it.
 *
 * Two readers. prism_av1dd_parse reads the mandatory fields of every
 * packet (start and end of frame, the frame's template id, its frame
 * number), the flags of the extended fields, and, from a template
 * dependency structure (sent with key frames), its first part: the
 * template id offset, the number of decode targets and each template's
 * spatial and temporal layer (prism_av1dd_layers).
 *
 * prism_av1dd_read reads a whole descriptor against the stream's
 * remembered structure (struct prism_av1dd_structure, the caller's
 * storage, replaced in place when a descriptor carries a new one): the
 * structure's template layers, decode target indications (DTIs), frame
 * diffs and chains (skipped over), each decode target's layers, the render
 * resolutions; the frame's active decode targets and custom DTIs. That
 * gives each packet its spatial and temporal layer and whether its frame
 * is a switching point into a decode target: what a relay that drops
 * layers decides by. The descriptor itself is never rewritten: libwebrtc's
 * receiver reads the structure, frame number, frame diffs, layers and
 * resolution of it, not the chains or the active decode targets, so a
 * consumer that leaves frames out keeps it intact.
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

#define PRISM_AV1DD_MAX_DTS 32    /* decode targets: dt_cnt_minus_one is 5 bits */
#define PRISM_AV1DD_MAX_SPATIAL 4 /* AV1's spatial_id is 2 bits */

/* A decode target indication (2 bits per frame and decode target). */
enum prism_av1dd_dti {
    PRISM_AV1DD_DTI_NOT_PRESENT = 0, /* the frame is not in the decode target */
    PRISM_AV1DD_DTI_DISCARDABLE = 1, /* in it; nothing later in it depends on the frame */
    PRISM_AV1DD_DTI_SWITCH = 2,      /* in it, and the decode target can be joined here */
    PRISM_AV1DD_DTI_REQUIRED = 3,    /* in it; later frames of it depend on the frame */
};

/* A stream's template dependency structure as a relay keeps it (~730
 * bytes, caller-owned; zeroed: none yet). */
struct prism_av1dd_structure {
    uint8_t n_decode_targets; /* DtCnt, 1..32; 0: no structure known */
    uint8_t template_id_offset;
    uint8_t n_templates; /* 1..64 */
    uint8_t n_chains;
    uint8_t max_sid, max_tid;
    uint8_t template_sid[PRISM_AV1DD_MAX_TEMPLATES];
    uint8_t template_tid[PRISM_AV1DD_MAX_TEMPLATES];
    uint64_t template_dtis[PRISM_AV1DD_MAX_TEMPLATES]; /* decode target d in bits 2d, 2d+1 */
    uint8_t dt_sid[PRISM_AV1DD_MAX_DTS];               /* each decode target's top layers */
    uint8_t dt_tid[PRISM_AV1DD_MAX_DTS];
    bool has_resolutions;
    uint16_t width[PRISM_AV1DD_MAX_SPATIAL]; /* pixels, per spatial layer (65536: 65535) */
    uint16_t height[PRISM_AV1DD_MAX_SPATIAL];
};

/* One packet's descriptor, read against its stream's structure. */
struct prism_av1dd_frame {
    bool start_of_frame;
    bool end_of_frame;
    uint8_t template_id;
    uint16_t frame_number;
    bool new_structure; /* it carried a structure, now the stream's (a key frame) */
    uint8_t sid, tid;   /* the frame's layers, from its template */
    uint64_t dtis;      /* its DTIs (the template's or its own), 2 bits per target */
    bool has_active_decode_targets;
    uint32_t active_decode_targets; /* bit d: decode target d is active */
};

/* The DTI of decode target `dt` in `dtis`. */
static inline enum prism_av1dd_dti prism_av1dd_dti(uint64_t dtis, unsigned dt)
{
    return (enum prism_av1dd_dti)((dtis >> (2 * dt)) & 3u);
}

/* Reads the descriptor `ext` (`len` bytes) of one packet into `out`,
 * against `structure`, its stream's: a descriptor carrying a structure
 * (only valid on a frame's first packet) replaces it, and its frame is
 * read against the new one. Returns 0; PRISM_EINVAL when the descriptor is
 * malformed (shorter than its fields, a structure on a packet that does
 * not start a frame, more than 4 spatial layers: `structure` untouched);
 * PRISM_ENOTFOUND when it is well formed up to what can be read without
 * a structure but the stream has none yet, or its template id is not in
 * the one it has (the mandatory fields of `out` are set). O(len). */
int prism_av1dd_read(const uint8_t *ext, size_t len, struct prism_av1dd_structure *structure,
                     struct prism_av1dd_frame *out);

#endif
