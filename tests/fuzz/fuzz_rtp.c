/* libFuzzer target for relay/rtp. Invariants checked: a parse either fails
 * or yields a header whose parts add up to the input length; every
 * extension element found lies inside the extension block; the decoders
 * and key frame detectors never read past their input (ASan); the fixed
 * header setters change only their fields; and, with the input read as a
 * stream of 16-bit seqs, the receive statistics keep lost == expected -
 * received and ext_seq never decreases. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/rtp.h"
#include "relay/wire/vp8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BYTES 2048

static void must(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_rtp: %s\n", what);
        abort();
    }
}

static void check_header(const uint8_t *pkt, size_t len)
{
    struct prism_rtp_header h;
    if (prism_rtp_parse(pkt, len, &h) != 0)
        return;
    must(h.header_len >= PRISM_RTP_HEADER_MIN, "header at least 12 bytes");
    must(h.header_len + h.payload_len + h.padding_len == len, "parts add up");
    must(h.ext_offset + h.ext_len <= h.header_len, "extension inside the header");
    for (unsigned id = 0; id <= 255; id++) {
        const uint8_t *d;
        size_t n;
        int err = prism_rtp_find_ext(pkt, &h, (uint8_t)id, &d, &n);
        must(err == 0 || err == PRISM_ENOTFOUND || err == PRISM_EINVAL, "find_ext code");
        if (err == 0)
            must(d >= pkt + h.ext_offset && d + n <= pkt + h.ext_offset + h.ext_len,
                 "element inside the block");
        bool voice;
        uint8_t level;
        uint32_t ast;
        uint16_t tseq;
        char mid[256];
        prism_rtp_get_audio_level(pkt, &h, (uint8_t)id, &voice, &level);
        prism_rtp_get_abs_send_time(pkt, &h, (uint8_t)id, &ast);
        prism_rtp_get_transport_seq(pkt, &h, (uint8_t)id, &tseq);
        if (prism_rtp_get_mid(pkt, &h, (uint8_t)id, mid, sizeof(mid)) == 0)
            must(strlen(mid) > 0 && strlen(mid) < sizeof(mid), "mid NUL-terminated");
    }
    /* The one-pass reader agrees with the single-id readers. */
    for (unsigned base = 1; base < 256; base += base < 13 ? 3 : 61) {
        struct prism_rtp_ext_ids ids = {(uint8_t)base,       (uint8_t)(base + 1),
                                        (uint8_t)(base + 2), (uint8_t)(base + 3),
                                        (uint8_t)(base + 4), (uint8_t)(base + 5)};
        struct prism_rtp_ext_values v;
        int rc = prism_rtp_read_exts(pkt, &h, &ids, &v);
        must(rc == 0 || rc == PRISM_EINVAL, "read_exts code");
        bool voice;
        uint8_t level;
        uint16_t tseq;
        char mid[256];
        bool lv = prism_rtp_get_audio_level(pkt, &h, ids.audio_level, &voice, &level) == 0;
        must(lv == v.has_audio_level && (!lv || (voice == v.voice && level == v.level_dbov)),
             "read_exts audio level");
        bool ts = prism_rtp_get_transport_seq(pkt, &h, ids.transport_seq, &tseq) == 0;
        must(ts == v.has_transport_seq && (!ts || tseq == v.transport_seq), "read_exts seq");
        bool m = prism_rtp_get_mid(pkt, &h, ids.mid, mid, sizeof(mid)) == 0 &&
                 strlen(mid) <= PRISM_RTP_MID_MAX;
        must(m == v.has_mid && (!m || strcmp(mid, v.mid) == 0), "read_exts mid");
        const uint8_t *dd;
        size_t dd_len;
        bool d = prism_rtp_find_ext(pkt, &h, ids.av1dd, &dd, &dd_len) == 0 && dd_len >= 1;
        must(d == v.has_av1dd && (!d || (pkt + v.av1dd_off == dd && v.av1dd_len == dd_len)),
             "read_exts dependency descriptor");
    }
    const uint8_t *pl = pkt + h.header_len;
    prism_rtp_is_vp8_keyframe(pl, h.payload_len);
    prism_rtp_is_h264_keyframe(pl, h.payload_len);
    prism_rtp_is_vp9_keyframe(pl, h.payload_len);
    struct prism_vp8_desc vp8;
    if (prism_vp8_parse(pl, h.payload_len, &vp8) == 0) {
        must(vp8.header_len >= 1 && vp8.header_len <= h.payload_len, "vp8 descriptor inside");
        must(!vp8.keyframe || vp8.header_len < h.payload_len, "vp8 key frame has a header");
        uint8_t desc[8];
        memcpy(desc, pl, vp8.header_len); /* at most 6 bytes */
        struct prism_vp8_desc back;
        if (vp8.has_picture_id)
            prism_vp8_set_picture_id(desc, &vp8, (uint16_t)(vp8.picture_id + 1));
        if (vp8.has_tl0picidx)
            prism_vp8_set_tl0picidx(desc, &vp8, (uint8_t)(vp8.tl0picidx + 1));
        must(prism_vp8_parse(desc, vp8.header_len, &back) == 0, "vp8 rewrite parses");
        must(back.header_len == vp8.header_len, "vp8 rewrite keeps the layout");
        must(!vp8.has_picture_id ||
                 back.picture_id == ((vp8.picture_id + 1) & (vp8.long_picture_id ? 0x7fff : 0x7f)),
             "vp8 picture id rewritten");
        must(!vp8.has_tl0picidx || back.tl0picidx == (uint8_t)(vp8.tl0picidx + 1),
             "vp8 tl0picidx rewritten");
    }

    uint8_t *copy = malloc(len);
    must(copy != NULL, "malloc");
    memcpy(copy, pkt, len);
    prism_rtp_set_ssrc(copy, ~h.ssrc);
    prism_rtp_set_seq(copy, (uint16_t)(h.seq + 1));
    prism_rtp_set_timestamp(copy, h.timestamp + 90000);
    prism_rtp_set_marker(copy, !h.marker);
    prism_rtp_set_payload_type(copy, (uint8_t)(h.payload_type ^ 1));
    struct prism_rtp_header back;
    must(prism_rtp_parse(copy, len, &back) == 0, "rewritten packet parses");
    must(back.ssrc == ~h.ssrc && back.seq == (uint16_t)(h.seq + 1) &&
             back.timestamp == h.timestamp + 90000 && back.marker == !h.marker &&
             back.payload_type == (h.payload_type ^ 1),
         "setters took");
    must(back.header_len == h.header_len && back.payload_len == h.payload_len &&
             memcmp(copy + PRISM_RTP_HEADER_MIN, pkt + PRISM_RTP_HEADER_MIN,
                    len - PRISM_RTP_HEADER_MIN) == 0,
         "setters touched only the fixed header");
    free(copy);
}

static void check_stats(const uint8_t *data, size_t size)
{
    struct prism_rtp_seq_stats s;
    prism_rtp_seq_stats_init(&s);
    uint64_t last_ext = 0;
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint16_t seq = (uint16_t)(data[i] << 8 | data[i + 1]);
        uint32_t ts = (uint32_t)data[i + 2] * 3000u;
        uint32_t arrival = (uint32_t)i * 750u + data[i + 3];
        prism_rtp_seq_stats_update(&s, seq, ts, arrival, NULL);
        must(s.ext_seq >= last_ext, "ext_seq monotonic");
        last_ext = s.ext_seq;
        must((s.ext_seq & 0xffff) == s.max_seq, "ext_seq low bits are max_seq");
        int64_t lost = (int64_t)prism_rtp_seq_stats_expected(&s) - (int64_t)s.received;
        must(prism_rtp_seq_stats_lost(&s) == lost, "lost == expected - received");
        if (i % 64 == 0)
            prism_rtp_seq_stats_fraction_lost(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_BYTES)
        return 0;
    /* An exact-size copy so a read past the end is caught. */
    uint8_t *pkt = calloc(1, size > 0 ? size : 1);
    if (pkt == NULL)
        return 0;
    if (size > 0)
        memcpy(pkt, data, size);
    check_header(pkt, size);
    prism_rtp_is_vp8_keyframe(pkt, size);
    prism_rtp_is_h264_keyframe(pkt, size);
    prism_rtp_is_vp9_keyframe(pkt, size);
    free(pkt);
    check_stats(data, size);
    return 0;
}
