/* Unit tests for relay/rtp: captured-style Chromium packets (Opus with a
 * one-byte extension block, VP8 key and delta frames), a two-byte extension
 * packet with CSRCs and padding, H.264 and VP9 key frame detection, every
 * kind of malformed or truncated header (each checked on an exact-size heap
 * copy so ASan sees any read past the end), in-place rewrites, and the
 * RFC 3550 A.1/A.3/A.8 receive statistics on known sequences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/wire/rtp.h"
#include "relay/wire/vp8.h"

/* Chromium Opus, extmap 1 ssrc-audio-level, 2 abs-send-time,
 * 3 transport-wide-cc, 4 mid; one-byte profile, 3 words. */
static const uint8_t opus_pkt[] = {
    0x90, 0x6f, 0x1a, 0x2b, /* V=2 X=1, PT 111, seq 0x1a2b */
    0x00, 0x01, 0xe2, 0x40, /* ts 123456 */
    0x5a, 0x3c, 0x8f, 0x11, /* ssrc */
    0xbe, 0xde, 0x00, 0x03, /* one-byte profile, 12 bytes */
    0x10, 0xaa,             /* id 1 len 1: V=1 level 42 */
    0x22, 0x12, 0x34, 0x56, /* id 2 len 3: abs-send-time */
    0x31, 0x00, 0x05,       /* id 3 len 2: transport seq 5 */
    0x40, 0x30,             /* id 4 len 1: mid "0" */
    0x00,                   /* padding */
    0x78, 0x0b, 0xe4, 0xc1, 0x36, 0xec, 0xc5, 0x8d, 0x8e, 0x47, 0x1e, 0x0a, /* Opus TOC + data */
};

/* Chromium VP8 key frame, first packet: descriptor X=1 S=1 PID=0, I=1 with a
 * 15-bit PictureID; then the key frame tag, start code and 640x480. */
static const uint8_t vp8_key_pkt[] = {
    0x90, 0xe0, 0x30, 0x39,                                     /* X=1, M=1 PT 96, seq 12345 */
    0x00, 0x0f, 0x42, 0x40,                                     /* ts */
    0x11, 0x22, 0x33, 0x44,                                     /* ssrc */
    0xbe, 0xde, 0x00, 0x01,                                     /* one-byte profile, 4 bytes */
    0x22, 0xab, 0xcd, 0xef,                                     /* id 2: abs-send-time */
    0x90, 0x80, 0x81, 0x23,                                     /* X S, I, M PictureID 0x0123 */
    0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, /* key frame header */
    0x39, 0x6b, 0x00, 0x27, 0x08, 0x85, 0x85, 0x88,
};

/* The next frame: a delta frame (frame tag bit 0 set). */
static const uint8_t vp8_delta_pkt[] = {
    0x80, 0xe0, 0x30, 0x3a, 0x00, 0x0f, 0x4d, 0xf8, 0x11, 0x22, 0x33, 0x44,
    0x90, 0x80, 0x81, 0x24, /* X S, I, PictureID 0x0124 */
    0x31, 0x0a, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x11, 0x22,
};

/* Two-byte profile (appbits 0), 2 CSRCs, 4 bytes of padding. */
static const uint8_t two_byte_pkt[] = {
    0xb2, 0x60, 0xff, 0xff, /* V=2 P=1 X=1 CC=2, PT 96, seq 65535 */
    0x00, 0x00, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00,
    0x00, 0xa1, 0x00, 0x00, 0x00, 0xa2, 0x10, 0x00, 0x00, 0x05, /* two-byte profile, 20 bytes */
    0x01, 0x01, 0x85,                                           /* id 1 len 1: level 5, V=1 */
    0x00,                                                       /* padding */
    0x0f, 0x00,                                                 /* id 15 len 0 */
    0x11, 0x08, 'v',  'i',  'd',  'e',  'o',  '-',  'h',  'i',  /* id 17: mid "video-hi" */
    0x00, 0x00, 0x00, 0x00,                                     /* padding */
    0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x04,             /* payload, 4 bytes of padding */
};

/* An exact-size heap copy: reading one byte past `len` trips ASan. */
static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
    uint8_t *d = malloc(len > 0 ? len : 1);
    assert_non_null(d);
    if (len > 0)
        memcpy(d, p, len);
    return d;
}

static int parse_exact(const uint8_t *p, size_t len, struct prism_rtp_header *h)
{
    uint8_t *d = dup_exact(p, len);
    int err = prism_rtp_parse(d, len, h);
    free(d);
    return err;
}

static void test_opus_one_byte(void **state)
{
    (void)state;
    struct prism_rtp_header h;
    assert_int_equal(prism_rtp_parse(opus_pkt, sizeof(opus_pkt), &h), 0);
    assert_int_equal(h.seq, 0x1a2b);
    assert_int_equal(h.timestamp, 123456);
    assert_int_equal(h.ssrc, 0x5a3c8f11);
    assert_int_equal(h.payload_type, 111);
    assert_false(h.marker);
    assert_int_equal(h.csrc_count, 0);
    assert_int_equal(h.ext_profile, PRISM_RTP_EXT_ONE_BYTE);
    assert_int_equal(h.ext_offset, 16);
    assert_int_equal(h.ext_len, 12);
    assert_int_equal(h.header_len, 28);
    assert_int_equal(h.payload_len, 12);
    assert_int_equal(h.padding_len, 0);
    assert_int_equal(opus_pkt[h.header_len], 0x78);

    bool voice = false;
    uint8_t level = 0;
    assert_int_equal(prism_rtp_get_audio_level(opus_pkt, &h, 1, &voice, &level), 0);
    assert_true(voice);
    assert_int_equal(level, 42);
    uint32_t ast = 0;
    assert_int_equal(prism_rtp_get_abs_send_time(opus_pkt, &h, 2, &ast), 0);
    assert_int_equal(ast, 0x123456);
    uint16_t tseq = 0;
    assert_int_equal(prism_rtp_get_transport_seq(opus_pkt, &h, 3, &tseq), 0);
    assert_int_equal(tseq, 5);
    char mid[PRISM_RTP_MID_MAX + 1];
    assert_int_equal(prism_rtp_get_mid(opus_pkt, &h, 4, mid, sizeof(mid)), 0);
    assert_string_equal(mid, "0");
    assert_int_equal(prism_rtp_get_mid(opus_pkt, &h, 4, mid, 1), PRISM_ENOMEM);
    /* The per-packet path reads the same three in one pass. */
    struct prism_rtp_ext_values v;
    assert_int_equal(
        prism_rtp_read_exts(opus_pkt, &h, &(struct prism_rtp_ext_ids){4, 1, 3, 0, 0, 0}, &v), 0);
    assert_true(v.has_mid && v.has_audio_level && v.has_transport_seq);
    assert_string_equal(v.mid, "0");
    assert_true(v.voice);
    assert_int_equal(v.level_dbov, 42);
    assert_int_equal(v.transport_seq, 5);
    /* Ids not negotiated (0) or absent are not flagged. */
    assert_int_equal(
        prism_rtp_read_exts(opus_pkt, &h, &(struct prism_rtp_ext_ids){0, 5, 2, 0, 0, 0}, &v), 0);
    assert_false(v.has_mid || v.has_audio_level);
    assert_true(v.has_transport_seq); /* id 2 is abs-send-time: 3 bytes, read as a seq */

    const uint8_t *d;
    size_t n;
    assert_int_equal(prism_rtp_find_ext(opus_pkt, &h, 5, &d, &n), PRISM_ENOTFOUND);
    assert_int_equal(prism_rtp_find_ext(opus_pkt, &h, 15, &d, &n), PRISM_ENOTFOUND);
    assert_int_equal(prism_rtp_find_ext(opus_pkt, &h, 200, &d, &n), PRISM_ENOTFOUND);
    assert_int_equal(prism_rtp_find_ext(opus_pkt, &h, 0, &d, &n), PRISM_EINVAL);
    /* Wrong sizes for the element: abs-send-time read as audio level is
     * fine (1 byte needed), audio level read as abs-send-time is not. */
    assert_int_equal(prism_rtp_get_abs_send_time(opus_pkt, &h, 1, &ast), PRISM_EINVAL);
    assert_int_equal(prism_rtp_get_transport_seq(opus_pkt, &h, 4, &tseq), PRISM_EINVAL);
    /* VP8 key frame packet: abs-send-time, no audio level. */
    assert_int_equal(prism_rtp_parse(vp8_key_pkt, sizeof(vp8_key_pkt), &h), 0);
    assert_int_equal(prism_rtp_get_abs_send_time(vp8_key_pkt, &h, 2, &ast), 0);
    assert_int_equal(ast, 0xabcdef);
    assert_int_equal(prism_rtp_get_audio_level(vp8_key_pkt, &h, 1, &voice, &level),
                     PRISM_ENOTFOUND);
    /* No extension block at all. */
    assert_int_equal(prism_rtp_parse(vp8_delta_pkt, sizeof(vp8_delta_pkt), &h), 0);
    assert_int_equal(h.ext_len, 0);
    assert_int_equal(prism_rtp_find_ext(vp8_delta_pkt, &h, 2, &d, &n), PRISM_ENOTFOUND);
}

static void test_two_byte_csrc_padding(void **state)
{
    (void)state;
    struct prism_rtp_header h;
    assert_int_equal(parse_exact(two_byte_pkt, sizeof(two_byte_pkt), &h), 0);
    assert_int_equal(h.seq, 65535);
    assert_int_equal(h.csrc_count, 2);
    assert_int_equal(h.ext_profile, 0x1000);
    assert_int_equal(h.ext_offset, 24);
    assert_int_equal(h.ext_len, 20);
    assert_int_equal(h.header_len, 44);
    assert_int_equal(h.padding_len, 4);
    assert_int_equal(h.payload_len, 4);
    assert_int_equal(two_byte_pkt[h.header_len], 0xde);

    bool voice;
    uint8_t level;
    assert_int_equal(prism_rtp_get_audio_level(two_byte_pkt, &h, 1, &voice, &level), 0);
    assert_true(voice);
    assert_int_equal(level, 5);
    const uint8_t *d;
    size_t n = 99;
    assert_int_equal(prism_rtp_find_ext(two_byte_pkt, &h, 15, &d, &n), 0);
    assert_int_equal(n, 0); /* zero-length elements exist in this profile */
    char mid[32];
    assert_int_equal(prism_rtp_get_mid(two_byte_pkt, &h, 17, mid, sizeof(mid)), 0);
    assert_string_equal(mid, "video-hi");
    assert_int_equal(prism_rtp_get_mid(two_byte_pkt, &h, 15, mid, sizeof(mid)), PRISM_EINVAL);
    /* One pass: the level is found; the mid (8 bytes) fits; the empty
     * element with id 15 is seen and decides: no transport seq. */
    struct prism_rtp_ext_values v;
    assert_int_equal(
        prism_rtp_read_exts(two_byte_pkt, &h, &(struct prism_rtp_ext_ids){17, 1, 15, 0, 0, 0}, &v),
        0);
    assert_true(v.has_audio_level && v.has_mid && !v.has_transport_seq);
    assert_string_equal(v.mid, "video-hi");
    assert_int_equal(v.level_dbov, 5);
    assert_int_equal(prism_rtp_find_ext(two_byte_pkt, &h, 200, &d, &n), PRISM_ENOTFOUND);

    /* Appbits in the low nibble are still the two-byte profile. */
    uint8_t p[sizeof(two_byte_pkt)];
    memcpy(p, two_byte_pkt, sizeof(p));
    p[21] = 0x0f;
    assert_int_equal(prism_rtp_parse(p, sizeof(p), &h), 0);
    assert_int_equal(prism_rtp_get_mid(p, &h, 17, mid, sizeof(mid)), 0);
    /* An unknown profile is skipped over but not looked into. */
    p[20] = 0x12;
    assert_int_equal(prism_rtp_parse(p, sizeof(p), &h), 0);
    assert_int_equal(h.header_len, 44);
    assert_int_equal(prism_rtp_find_ext(p, &h, 17, &d, &n), PRISM_ENOTFOUND);
}

static void test_malformed(void **state)
{
    (void)state;
    struct prism_rtp_header h;
    /* Shorter than the fixed header. */
    for (size_t len = 0; len < PRISM_RTP_HEADER_MIN; len++)
        assert_int_equal(parse_exact(opus_pkt, len, &h), PRISM_EINVAL);
    assert_int_equal(prism_rtp_parse(NULL, 20, &h), PRISM_EINVAL);
    assert_int_equal(prism_rtp_parse(opus_pkt, sizeof(opus_pkt), NULL), PRISM_EINVAL);
    /* Every truncation inside the extension block; any cut in the payload
     * still parses. */
    for (size_t len = PRISM_RTP_HEADER_MIN; len < sizeof(opus_pkt); len++) {
        int err = parse_exact(opus_pkt, len, &h);
        assert_int_equal(err, len < 28 ? PRISM_EINVAL : 0);
    }

    uint8_t p[64];
    /* Versions 0, 1 and 3. */
    for (unsigned v = 0; v < 4; v++) {
        if (v == 2)
            continue;
        memcpy(p, vp8_delta_pkt, sizeof(vp8_delta_pkt));
        p[0] = (uint8_t)((p[0] & 0x3f) | v << 6);
        assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), PRISM_EINVAL);
    }
    /* CSRC count beyond the length: 15 CSRCs need 72 bytes. */
    memcpy(p, vp8_delta_pkt, sizeof(vp8_delta_pkt));
    p[0] = 0x8f;
    assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), PRISM_EINVAL);
    /* CC=4 fills the 28 bytes exactly: an empty payload is fine. */
    p[0] = 0x84;
    assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), 0);
    assert_int_equal(h.payload_len, 0);
    /* X set with no room for the extension block header. */
    p[0] = 0x94;
    assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), PRISM_EINVAL);
    /* Extension length beyond the packet (4 words declared, 3 present). */
    memcpy(p, opus_pkt, 28);
    p[15] = 0x04;
    assert_int_equal(parse_exact(p, 28, &h), PRISM_EINVAL);
    p[15] = 0xff;
    assert_int_equal(parse_exact(p, 28, &h), PRISM_EINVAL);

    /* Padding larger than the payload, zero, and with nothing after the header. */
    memcpy(p, vp8_delta_pkt, sizeof(vp8_delta_pkt));
    p[0] |= 0x20;
    p[sizeof(vp8_delta_pkt) - 1] = 17; /* payload is 16 bytes */
    assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), PRISM_EINVAL);
    p[sizeof(vp8_delta_pkt) - 1] = 16; /* all of it is padding: allowed */
    assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), 0);
    assert_int_equal(h.payload_len, 0);
    p[sizeof(vp8_delta_pkt) - 1] = 0;
    assert_int_equal(parse_exact(p, sizeof(vp8_delta_pkt), &h), PRISM_EINVAL);
    assert_int_equal(parse_exact(p, PRISM_RTP_HEADER_MIN, &h), PRISM_EINVAL);
    /* Padding may not eat into the extension block either. */
    memcpy(p, opus_pkt, 28);
    p[0] |= 0x20;
    p[27] = 12;
    assert_int_equal(parse_exact(p, 28, &h), PRISM_EINVAL);
}

static void test_malformed_elements(void **state)
{
    (void)state;
    struct prism_rtp_header h;
    const uint8_t *d;
    size_t n;
    uint8_t p[sizeof(opus_pkt)];
    /* One-byte element whose length runs past the block: id 4 length 16. */
    memcpy(p, opus_pkt, sizeof(p));
    p[25] = 0x4f;
    assert_int_equal(prism_rtp_parse(p, sizeof(p), &h), 0);
    assert_int_equal(prism_rtp_find_ext(p, &h, 1, &d, &n), 0); /* before it: found */
    assert_int_equal(prism_rtp_find_ext(p, &h, 4, &d, &n), PRISM_EINVAL);
    assert_int_equal(prism_rtp_find_ext(p, &h, 9, &d, &n), PRISM_EINVAL);
    /* Id 15 stops the walk (RFC 8285 §4.2). */
    p[25] = 0xf0;
    assert_int_equal(prism_rtp_find_ext(p, &h, 4, &d, &n), PRISM_ENOTFOUND);
    assert_int_equal(prism_rtp_find_ext(p, &h, 3, &d, &n), 0);

    /* Two-byte: a length byte missing at the end, a length past the block. */
    uint8_t q[sizeof(two_byte_pkt)];
    memcpy(q, two_byte_pkt, sizeof(q));
    q[43] = 0x05; /* last block byte: an element id with no length */
    assert_int_equal(prism_rtp_parse(q, sizeof(q), &h), 0);
    assert_int_equal(prism_rtp_find_ext(q, &h, 99, &d, &n), PRISM_EINVAL);
    memcpy(q, two_byte_pkt, sizeof(q));
    q[31] = 0x0c; /* "video-hi" claims 12 bytes, 8 + 4 padding remain: fits */
    assert_int_equal(prism_rtp_parse(q, sizeof(q), &h), 0);
    assert_int_equal(prism_rtp_find_ext(q, &h, 17, &d, &n), 0);
    assert_int_equal(n, 12);
    q[31] = 0x0d;
    assert_int_equal(prism_rtp_find_ext(q, &h, 17, &d, &n), PRISM_EINVAL);
    /* A NUL inside an SDES item is refused. */
    memcpy(q, two_byte_pkt, sizeof(q));
    q[33] = 0;
    assert_int_equal(prism_rtp_parse(q, sizeof(q), &h), 0);
    char mid[32];
    assert_int_equal(prism_rtp_get_mid(q, &h, 17, mid, sizeof(mid)), PRISM_EINVAL);
}

static void test_rewrite(void **state)
{
    (void)state;
    uint8_t p[sizeof(opus_pkt)];
    memcpy(p, opus_pkt, sizeof(p));
    struct prism_rtp_header h;
    assert_int_equal(prism_rtp_parse(p, sizeof(p), &h), 0);
    prism_rtp_set_ssrc(p, 0xdeadbeef);
    prism_rtp_set_seq(p, 0xfffe);
    prism_rtp_set_timestamp(p, 0x80000001);
    prism_rtp_set_payload_type(p, 109);
    prism_rtp_set_marker(p, true);
    assert_int_equal(prism_rtp_set_transport_seq(p, &h, 3, 0xbeef), 0);
    assert_int_equal(prism_rtp_set_transport_seq(p, &h, 9, 1), PRISM_ENOTFOUND);
    assert_int_equal(prism_rtp_set_transport_seq(p, &h, 4, 1), PRISM_EINVAL);
    assert_int_equal(prism_rtp_parse(p, sizeof(p), &h), 0);
    assert_int_equal(h.ssrc, 0xdeadbeef);
    assert_int_equal(h.seq, 0xfffe);
    assert_int_equal(h.timestamp, 0x80000001);
    assert_int_equal(h.payload_type, 109);
    assert_true(h.marker);
    uint16_t tseq;
    assert_int_equal(prism_rtp_get_transport_seq(p, &h, 3, &tseq), 0);
    assert_int_equal(tseq, 0xbeef);
    /* Nothing else moved: the extension bits, CC and the payload. */
    assert_int_equal(p[0], opus_pkt[0]);
    assert_memory_equal(p + 12, opus_pkt + 12, 11);
    assert_memory_equal(p + 25, opus_pkt + 25, sizeof(p) - 25);
    prism_rtp_set_marker(p, false);
    prism_rtp_set_payload_type(p, 111);
    assert_int_equal(p[1], opus_pkt[1]);
}

/* Whether `fn` holds on the payload and is false on every strict prefix
 * (each an exact-size heap copy). */
static bool key_with_prefixes(bool (*fn)(const uint8_t *, size_t), const uint8_t *pl, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t *d = dup_exact(pl, i);
        bool k = fn(d, i);
        free(d);
        if (k)
            return false;
    }
    uint8_t *d = dup_exact(pl, len);
    bool k = fn(d, len);
    free(d);
    return k;
}

/* relay/wire/vp8: the descriptor's fields and offsets, in-place rewrites of
 * the picture id (7 and 15 bits) and TL0PICIDX, truncation. */
static void test_vp8_descriptor(void **state)
{
    (void)state;
    struct prism_vp8_desc d;
    const uint8_t plain[] = {0x10, 0x50};
    assert_int_equal(prism_vp8_parse(plain, sizeof(plain), &d), 0);
    assert_true(d.start && d.keyframe && !d.has_picture_id && !d.has_tl0picidx);
    assert_int_equal(d.header_len, 1);
    /* X, I (7 bits), L, T|K. */
    uint8_t all[] = {0x90, 0xf0, 0x05, 0x07, 0x40, 0x51};
    assert_int_equal(prism_vp8_parse(all, sizeof(all), &d), 0);
    assert_true(d.has_picture_id && !d.long_picture_id && d.has_tl0picidx && !d.keyframe);
    assert_int_equal(d.picture_id, 5);
    assert_int_equal(d.tl0picidx, 7);
    assert_int_equal(d.header_len, 5);
    prism_vp8_set_picture_id(all, &d, 0x1ff); /* masked to 7 bits */
    prism_vp8_set_tl0picidx(all, &d, 200);
    assert_int_equal(all[2], 0x7f);
    assert_int_equal(all[3], 200);
    /* 15-bit picture id. */
    uint8_t longer[] = {0x80, 0x80, 0x81, 0x23, 0x00};
    assert_int_equal(prism_vp8_parse(longer, sizeof(longer), &d), 0);
    assert_true(d.long_picture_id && !d.start && !d.keyframe);
    assert_int_equal(d.picture_id, 0x123);
    prism_vp8_set_picture_id(longer, &d, 0x7ffe);
    assert_int_equal(prism_vp8_parse(longer, sizeof(longer), &d), 0);
    assert_int_equal(d.picture_id, 0x7ffe);
    /* Every truncation of the descriptor is refused, never read past. */
    for (size_t n = 0; n < 5; n++)
        assert_int_equal(prism_vp8_parse(all, n, &d), -1);
    for (size_t n = 0; n < 4; n++)
        assert_int_equal(prism_vp8_parse(longer, n, &d), -1);
}

static void test_vp8_keyframe(void **state)
{
    (void)state;
    struct prism_rtp_header h;
    assert_int_equal(prism_rtp_parse(vp8_key_pkt, sizeof(vp8_key_pkt), &h), 0);
    const uint8_t *pl = vp8_key_pkt + h.header_len;
    assert_true(prism_rtp_is_vp8_keyframe(pl, h.payload_len));
    /* The descriptor (4) and frame header (10) are needed whole. */
    assert_true(key_with_prefixes(prism_rtp_is_vp8_keyframe, pl, 14));

    assert_int_equal(prism_rtp_parse(vp8_delta_pkt, sizeof(vp8_delta_pkt), &h), 0);
    assert_false(prism_rtp_is_vp8_keyframe(vp8_delta_pkt + h.header_len, h.payload_len));

    uint8_t k[32];
    memcpy(k, pl, 22);
    k[0] = 0x80; /* S clear: a continuation packet */
    assert_false(prism_rtp_is_vp8_keyframe(k, 22));
    k[0] = 0x91; /* partition 1 */
    assert_false(prism_rtp_is_vp8_keyframe(k, 22));
    /* No X: frame header right after the first byte. */
    const uint8_t plain[] = {0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
    assert_true(key_with_prefixes(prism_rtp_is_vp8_keyframe, plain, sizeof(plain)));
    /* X with I (7-bit id), L, T and K: 4 descriptor bytes after the first. */
    const uint8_t all[] = {0x90, 0xf0, 0x05, 0x07, 0x40, 0x50, 0x42, 0x00,
                           0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
    assert_true(key_with_prefixes(prism_rtp_is_vp8_keyframe, all, sizeof(all)));
    /* Bad start code. */
    memcpy(k, all, sizeof(all));
    k[9] = 0x02;
    assert_false(prism_rtp_is_vp8_keyframe(k, sizeof(all)));
}

/* Simulcast: the rid (or repaired-rid) in the one-pass reader, and a VP8
 * key frame's size from its header. */
static void test_rid_and_vp8_size(void **state)
{
    (void)state;
    uint8_t pkt[] = {
        0x90, 96,   0,    1,    0,    0,    0,    1,    0,    0,    0,    9, /* header, X */
        0xBE, 0xDE, 0,    2,                                                 /* 2 words */
        0x10, '3',  0xA0, 'f',  0x31, 0,    7,    0,                         /* mid, rid, tseq */
        0x90, 0x80, 0x05, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02};
    struct prism_rtp_header h;
    assert_int_equal(prism_rtp_parse(pkt, sizeof(pkt), &h), 0);
    struct prism_rtp_ext_ids ids = {.mid = 1, .transport_seq = 3, .rid = 10, .repaired_rid = 11};
    struct prism_rtp_ext_values v;
    assert_int_equal(prism_rtp_read_exts(pkt, &h, &ids, &v), 0);
    assert_true(v.has_mid && v.has_rid && !v.repaired && v.has_transport_seq);
    assert_string_equal(v.rid, "f");
    assert_int_equal(v.transport_seq, 7);
    pkt[18] = 0xB0; /* the same rid as repaired-rid: an rtx stream */
    assert_int_equal(prism_rtp_read_exts(pkt, &h, &ids, &v), 0);
    assert_true(v.has_rid && v.repaired);
    assert_string_equal(v.rid, "f");
    ids.rid = ids.repaired_rid = 0; /* not negotiated */
    assert_int_equal(prism_rtp_read_exts(pkt, &h, &ids, &v), 0);
    assert_false(v.has_rid);
    /* 0x500 x 0x2d0: 1280 x 720, scaling bits clear. */
    struct prism_vp8_desc d;
    assert_int_equal(prism_vp8_parse(pkt + h.header_len, h.payload_len, &d), 0);
    assert_true(d.keyframe);
    assert_int_equal(d.width, 1280);
    assert_int_equal(d.height, 720);
    assert_int_equal(prism_vp8_parse(pkt + h.header_len, h.payload_len - 1, &d), 0);
    assert_true(d.keyframe);
    assert_int_equal(d.height, 0); /* truncated: unknown */
}

static void test_h264_keyframe(void **state)
{
    (void)state;
    const uint8_t idr[] = {0x65, 0x88, 0x84, 0x00};
    const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f};
    const uint8_t slice[] = {0x41, 0x9a, 0x02};
    assert_true(prism_rtp_is_h264_keyframe(idr, sizeof(idr)));
    assert_true(prism_rtp_is_h264_keyframe(sps, 1));
    assert_false(prism_rtp_is_h264_keyframe(slice, sizeof(slice)));
    assert_false(prism_rtp_is_h264_keyframe(idr, 0));
    /* STAP-A: SPS (4) and PPS (3), as Chromium sends before an IDR. */
    const uint8_t stap[] = {0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00, 0x03, 0x68, 0xce, 0x3c};
    assert_true(key_with_prefixes(prism_rtp_is_h264_keyframe, stap, 7));
    assert_true(prism_rtp_is_h264_keyframe(stap, sizeof(stap)));
    /* STAP-A with only PPS and SEI: not a key frame; truncated sizes. */
    const uint8_t stap2[] = {0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x06, 0x05};
    assert_false(prism_rtp_is_h264_keyframe(stap2, sizeof(stap2)));
    const uint8_t stap_bad[] = {0x78, 0x00, 0x09, 0x65, 0x00};
    assert_false(key_with_prefixes(prism_rtp_is_h264_keyframe, stap_bad, sizeof(stap_bad)));
    const uint8_t stap_zero[] = {0x78, 0x00, 0x00, 0x00, 0x01, 0x65};
    assert_false(prism_rtp_is_h264_keyframe(stap_zero, sizeof(stap_zero)));
    /* FU-A: start of an IDR, middle of one, start of a non-IDR slice. */
    const uint8_t fu_start[] = {0x7c, 0x85, 0xb8, 0x00};
    const uint8_t fu_mid[] = {0x7c, 0x05, 0xb8, 0x00};
    const uint8_t fu_slice[] = {0x5c, 0x81, 0x9a};
    assert_true(key_with_prefixes(prism_rtp_is_h264_keyframe, fu_start, 2));
    assert_false(prism_rtp_is_h264_keyframe(fu_mid, sizeof(fu_mid)));
    assert_false(prism_rtp_is_h264_keyframe(fu_slice, sizeof(fu_slice)));
}

static void test_vp9_keyframe(void **state)
{
    (void)state;
    /* I (15-bit PictureID), B; non-flexible key frame with L: SID 0. */
    const uint8_t key[] = {0xa8, 0x80, 0x01, 0x00, 0x00, 0x83};
    assert_true(key_with_prefixes(prism_rtp_is_vp9_keyframe, key, 4));
    uint8_t k[sizeof(key)];
    memcpy(k, key, sizeof(k));
    k[0] = 0xe8; /* P set: inter-picture predicted */
    assert_false(prism_rtp_is_vp9_keyframe(k, sizeof(k)));
    k[0] = 0xa0; /* B clear: not the start of the frame */
    assert_false(prism_rtp_is_vp9_keyframe(k, sizeof(k)));
    k[0] = 0xa8;
    k[3] = 0x02; /* SID 1 */
    assert_false(prism_rtp_is_vp9_keyframe(k, sizeof(k)));
    const uint8_t bare[] = {0x08};
    assert_true(prism_rtp_is_vp9_keyframe(bare, 1));
    const uint8_t short_id[] = {0x88, 0x05};
    assert_true(key_with_prefixes(prism_rtp_is_vp9_keyframe, short_id, sizeof(short_id)));
}

static void test_seq_wrap(void **state)
{
    (void)state;
    struct prism_rtp_seq_stats s;
    prism_rtp_seq_stats_init(&s);
    uint64_t ext = 0;
    assert_int_equal(prism_rtp_seq_stats_update(&s, 65534, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(ext, 65534);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 65535, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(ext, 65535);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 0, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(ext, 65536);
    assert_int_equal(s.ext_seq, 65536);
    assert_int_equal(s.cycles, 1);
    assert_int_equal(s.max_seq, 0);
    /* A late 65535 after the wrap lands in the previous cycle. */
    assert_int_equal(prism_rtp_seq_stats_update(&s, 65535, 0, 0, &ext), PRISM_RTP_SEQ_OLD);
    assert_int_equal(ext, 65535);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 2, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(ext, 65538);
    assert_int_equal(prism_rtp_seq_stats_expected(&s), 5);
    assert_int_equal(s.received, 5); /* the duplicate 65535 counts, as in A.1 */
    assert_int_equal(prism_rtp_seq_stats_lost(&s), 0);
    /* Many wraps keep counting. */
    for (unsigned i = 0; i < 3 * 65536; i += 1000)
        prism_rtp_seq_stats_update(&s, (uint16_t)(2 + i), 0, 0, &ext);
    assert_int_equal(s.cycles, 3);
    assert_int_equal(ext, 65538 + 196000);
}

static void test_seq_loss(void **state)
{
    (void)state;
    struct prism_rtp_seq_stats s;
    prism_rtp_seq_stats_init(&s);
    assert_int_equal(prism_rtp_seq_stats_expected(&s), 0);
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&s), 0);
    /* 1..10 without 4 and 7. */
    for (uint16_t q = 1; q <= 10; q++) {
        if (q != 4 && q != 7)
            assert_int_equal(prism_rtp_seq_stats_update(&s, q, 0, 0, NULL), PRISM_RTP_SEQ_NEW);
    }
    assert_int_equal(prism_rtp_seq_stats_expected(&s), 10);
    assert_int_equal(s.received, 8);
    assert_int_equal(prism_rtp_seq_stats_lost(&s), 2);
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&s), (2 << 8) / 10); /* 51 */
    /* 11..20 all arrive, and the late 4: nothing lost in this interval. */
    uint64_t ext = 0;
    for (uint16_t q = 11; q <= 20; q++)
        prism_rtp_seq_stats_update(&s, q, 0, 0, NULL);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 4, 0, 0, &ext), PRISM_RTP_SEQ_OLD);
    assert_int_equal(ext, 4);
    assert_int_equal(prism_rtp_seq_stats_lost(&s), 1);
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&s), 0);
    /* 21..40 with 25..29 lost: 5 of 20. */
    for (uint16_t q = 21; q <= 40; q++) {
        if (q < 25 || q > 29)
            prism_rtp_seq_stats_update(&s, q, 0, 0, NULL);
    }
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&s), (5 << 8) / 20); /* 64 */
    assert_int_equal(prism_rtp_seq_stats_lost(&s), 6);
    /* Nothing new since: no expected packets, fraction 0. */
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&s), 0);
    /* Duplicates drive the cumulative count negative. */
    for (int i = 0; i < 8; i++)
        assert_int_equal(prism_rtp_seq_stats_update(&s, 40, 0, 0, NULL), PRISM_RTP_SEQ_OLD);
    assert_int_equal(prism_rtp_seq_stats_lost(&s), -2);
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&s), 0);
}

static void test_seq_jump(void **state)
{
    (void)state;
    struct prism_rtp_seq_stats s;
    prism_rtp_seq_stats_init(&s);
    uint64_t ext = 0;
    for (uint16_t q = 0; q <= 100; q++)
        prism_rtp_seq_stats_update(&s, q, 0, 0, NULL);
    /* A single far packet is held, not counted. */
    ext = 777;
    assert_int_equal(prism_rtp_seq_stats_update(&s, 40000, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);
    assert_int_equal(ext, 777);
    assert_int_equal(s.ext_seq, 100);
    assert_int_equal(s.received, 101);
    /* The stream goes on: the jump is forgotten. */
    assert_int_equal(prism_rtp_seq_stats_update(&s, 101, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 40000, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 102, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 40001, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);
    /* Two in a row: resync, statistics restart at the new seq. */
    assert_int_equal(prism_rtp_seq_stats_update(&s, 50000, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 50001, 0, 0, &ext), PRISM_RTP_SEQ_RESYNC);
    assert_int_equal(ext, 50001);
    assert_int_equal(prism_rtp_seq_stats_expected(&s), 1);
    assert_int_equal(s.received, 1);
    assert_int_equal(prism_rtp_seq_stats_lost(&s), 0);
    /* A resync to a lower seq keeps ext_seq increasing: next cycle. */
    assert_int_equal(prism_rtp_seq_stats_update(&s, 10, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 11, 0, 0, &ext), PRISM_RTP_SEQ_RESYNC);
    assert_int_equal(ext, 65536 + 11);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 12, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(ext, 65536 + 12);
    /* Gap limits: 2999 ahead is loss, 3000 is a jump; 99 behind is late,
     * 100 is a jump (A.1: udelta <= RTP_SEQ_MOD - MAX_MISORDER). */
    assert_int_equal(prism_rtp_seq_stats_update(&s, 12 + 2999, 0, 0, &ext), PRISM_RTP_SEQ_NEW);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 3011 + 3000, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 3011 - 99, 0, 0, &ext), PRISM_RTP_SEQ_OLD);
    assert_int_equal(ext, 65536 + 2912);
    assert_int_equal(prism_rtp_seq_stats_update(&s, 3011 - 100, 0, 0, &ext), PRISM_RTP_SEQ_JUMP);

    /* A late packet from before the first one's cycle has no ext_seq. */
    prism_rtp_seq_stats_init(&s);
    prism_rtp_seq_stats_update(&s, 5, 0, 0, NULL);
    ext = 777;
    assert_int_equal(prism_rtp_seq_stats_update(&s, 65534, 0, 0, &ext), PRISM_RTP_SEQ_OLD);
    assert_int_equal(ext, 777);
}

static void test_seq_jitter(void **state)
{
    (void)state;
    struct prism_rtp_seq_stats s;
    prism_rtp_seq_stats_init(&s);
    /* Opus at 48 kHz, 20 ms frames; transit alternates 0 / 100 ticks, so
     * |D| = 100 each time: J16 goes 0 -> 100 -> 194 -> 282 -> 364 (A.8). */
    const uint32_t base = 0xfffff000; /* the timestamp wraps on the way */
    const uint32_t j16[] = {0, 100, 194, 282, 364};
    for (uint32_t i = 0; i < 5; i++) {
        uint32_t ts = base + 960 * i;
        uint32_t arrival = 5000000 + 960 * i + (i % 2 ? 100 : 0);
        prism_rtp_seq_stats_update(&s, (uint16_t)(300 + i), ts, arrival, NULL);
        assert_int_equal(s.jitter_q4, j16[i]);
        assert_int_equal(prism_rtp_seq_stats_jitter(&s), j16[i] / 16);
    }
    /* Perfectly paced packets decay it: J16 -= (J16 + 8) / 16 each time. */
    uint64_t j = 364;
    for (uint32_t i = 5; i < 9; i++) {
        prism_rtp_seq_stats_update(&s, (uint16_t)(300 + i), base + 960 * i, 5000000 + 960 * i + 100,
                                   NULL);
        if (i > 5)
            j -= (j + 8) >> 4;
        else
            j = j + 100 - ((j + 8) >> 4); /* i = 5 still moves from transit 0 to 100 */
        assert_int_equal(s.jitter_q4, j);
    }
    /* A jump in transit after a resync is not counted as jitter. */
    uint64_t before = s.jitter_q4;
    prism_rtp_seq_stats_update(&s, 20000, 1, 1, NULL);
    prism_rtp_seq_stats_update(&s, 20001, 123456789, 42, NULL);
    assert_int_equal(s.jitter_q4, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opus_one_byte),  cmocka_unit_test(test_two_byte_csrc_padding),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_malformed_elements),
        cmocka_unit_test(test_rewrite),        cmocka_unit_test(test_vp8_keyframe),
        cmocka_unit_test(test_vp8_descriptor), cmocka_unit_test(test_h264_keyframe),
        cmocka_unit_test(test_vp9_keyframe),   cmocka_unit_test(test_seq_wrap),
        cmocka_unit_test(test_seq_loss),       cmocka_unit_test(test_seq_jump),
        cmocka_unit_test(test_seq_jitter),     cmocka_unit_test(test_rid_and_vp8_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
