/* Unit tests for relay/rtcp: every builder's output read back by the
 * iterator and the readers; REMB's mantissa/exponent (2.5 Mbps); NACK
 * packing; compounds (SR+SDES, RR+PLI+REMB) and every truncation of them
 * (each on an exact-size heap copy, so ASan sees any read past the end);
 * malformed blocks of each kind; transport-cc header; in-place setters.
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
#include "relay/wire/rtcp.h"

/* An SDES with one chunk: CNAME "abcd" then END, padded to a word. */
static const uint8_t sdes_cname[] = {
    0x81, 0xca, 0x00, 0x03,                       /* V=2 SC=1, SDES, 4 words */
    0x11, 0x22, 0x33, 0x44,                       /* chunk SSRC */
    0x01, 0x04, 'a',  'b',  'c', 'd', 0x00, 0x00, /* CNAME, END, pad */
};

/* transport-cc as Chromium sends it: base seq 1, 3 packets, reference time
 * -2 (24-bit), fb count 7, one run-length chunk, 3 small deltas, zero fill. */
static const uint8_t tcc_pkt[] = {
    0x8f, 0xcd, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x01,
    0x00, 0x03, 0xff, 0xff, 0xfe, 0x07, 0x20, 0x03, 0x04, 0x08, 0x0c, 0x00, 0x00, 0x00,
};

static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
    uint8_t *d = malloc(len > 0 ? len : 1);
    assert_non_null(d);
    if (len > 0)
        memcpy(d, p, len);
    return d;
}

/* Walk `buf` into `items` (up to `cap`); returns the count and the final code. */
static size_t walk(const uint8_t *buf, size_t len, struct prism_rtcp_item *items, size_t cap,
                   int *end)
{
    struct prism_rtcp_iter it;
    prism_rtcp_iter_init(&it, buf, len);
    size_t n = 0;
    struct prism_rtcp_item item;
    int err;
    while ((err = prism_rtcp_next(&it, &item)) == 0) {
        assert_true(item.data >= buf && item.data + item.len <= buf + len);
        assert_true(item.body >= item.data && item.body + item.body_len <= item.data + item.len);
        assert_ptr_equal(item.data, buf + item.offset);
        if (n < cap)
            items[n] = item;
        n++;
    }
    /* Sticky. */
    assert_int_equal(prism_rtcp_next(&it, &item), err);
    *end = err;
    return n;
}

/* Exactly one well-formed block in buf. */
static struct prism_rtcp_item walk_one(const uint8_t *buf, size_t len)
{
    struct prism_rtcp_item item[2];
    int end;
    assert_int_equal(walk(buf, len, item, 2, &end), 1);
    assert_int_equal(end, PRISM_ENOTFOUND);
    return item[0];
}

static void test_pli_fir(void **state)
{
    (void)state;
    uint8_t buf[64];
    assert_int_equal(prism_rtcp_build_pli(buf, sizeof(buf), 0x01020304, 0xa0b0c0d0),
                     PRISM_RTCP_PLI_BYTES);
    const uint8_t want_pli[] = {0x81, 0xce, 0x00, 0x02, 0x01, 0x02,
                                0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0};
    assert_memory_equal(buf, want_pli, sizeof(want_pli));
    struct prism_rtcp_item it = walk_one(buf, PRISM_RTCP_PLI_BYTES);
    assert_int_equal(it.type, PRISM_RTCP_PSFB);
    assert_int_equal(it.fmt, PRISM_RTCP_PSFB_PLI);
    assert_int_equal(it.sender_ssrc, 0x01020304);
    assert_int_equal(it.media_ssrc, 0xa0b0c0d0);
    assert_int_equal(it.body_len, 0);
    assert_true(prism_rtcp_is_pli(&it));
    assert_int_equal(prism_rtcp_fir_count(&it), 0);
    assert_int_equal(prism_rtcp_nack_count(&it), 0);
    struct prism_rtcp_remb remb;
    assert_int_equal(prism_rtcp_parse_remb(&it, &remb), PRISM_EINVAL);
    assert_int_equal(prism_rtcp_build_pli(buf, PRISM_RTCP_PLI_BYTES - 1, 1, 2), PRISM_ENOMEM);

    assert_int_equal(prism_rtcp_build_fir(buf, sizeof(buf), 7, 0xfeedface, 42),
                     PRISM_RTCP_FIR_BYTES);
    it = walk_one(buf, PRISM_RTCP_FIR_BYTES);
    assert_int_equal(it.type, PRISM_RTCP_PSFB);
    assert_int_equal(it.fmt, PRISM_RTCP_PSFB_FIR);
    assert_int_equal(it.sender_ssrc, 7);
    assert_int_equal(it.media_ssrc, 0);
    assert_false(prism_rtcp_is_pli(&it));
    assert_int_equal(prism_rtcp_fir_count(&it), 1);
    uint32_t ssrc;
    uint8_t seq_nr;
    assert_int_equal(prism_rtcp_fir_entry(&it, 0, &ssrc, &seq_nr), 0);
    assert_int_equal(ssrc, 0xfeedface);
    assert_int_equal(seq_nr, 42);
    assert_int_equal(prism_rtcp_fir_entry(&it, 1, &ssrc, &seq_nr), PRISM_EINVAL);
    assert_int_equal(prism_rtcp_build_fir(buf, PRISM_RTCP_FIR_BYTES - 1, 1, 2, 3), PRISM_ENOMEM);
    assert_int_equal(prism_rtcp_build_fir(NULL, 100, 1, 2, 3), PRISM_EINVAL);
}

static void test_rr_sr(void **state)
{
    (void)state;
    uint8_t buf[256];
    /* Empty RR. */
    assert_int_equal(prism_rtcp_build_rr(buf, sizeof(buf), 0xcafe, NULL, 0), 8);
    struct prism_rtcp_item it = walk_one(buf, 8);
    assert_int_equal(it.type, PRISM_RTCP_RR);
    assert_int_equal(it.fmt, 0);
    assert_int_equal(it.sender_ssrc, 0xcafe);
    struct prism_rtcp_report_block rb;
    assert_int_equal(prism_rtcp_report_block(&it, 0, &rb), PRISM_EINVAL);

    /* Two blocks from receive statistics: 1..10 without 4 and 7, then a
     * stream with duplicates (negative cumulative loss). */
    struct prism_rtp_seq_stats a, b;
    prism_rtp_seq_stats_init(&a);
    prism_rtp_seq_stats_init(&b);
    for (uint16_t q = 1; q <= 10; q++) {
        if (q != 4 && q != 7)
            prism_rtp_seq_stats_update(&a, q, 960u * q, 960u * q + (q % 2) * 160, NULL);
    }
    for (int i = 0; i < 4; i++)
        prism_rtp_seq_stats_update(&b, 65535, 0, 0, NULL);
    prism_rtp_seq_stats_update(&b, 0, 0, 0, NULL);
    struct prism_rtcp_report_block blocks[2];
    prism_rtcp_report_block_from_stats(&blocks[0], 0x1111, &a);
    prism_rtcp_report_block_from_stats(&blocks[1], 0x2222, &b);
    blocks[1].lsr = 0x12345678;
    blocks[1].dlsr = 0x00010000;
    assert_int_equal(blocks[0].fraction_lost, 51);
    assert_int_equal(blocks[0].cumulative_lost, 2);
    assert_int_equal(blocks[0].ext_highest_seq, 10);
    assert_int_equal(blocks[0].jitter, prism_rtp_seq_stats_jitter(&a));
    assert_true(blocks[0].jitter > 0);
    assert_int_equal(blocks[1].cumulative_lost, -3);
    assert_int_equal(blocks[1].ext_highest_seq, 65536);
    /* The fraction interval restarted. */
    assert_int_equal(prism_rtp_seq_stats_fraction_lost(&a), 0);

    int n = prism_rtcp_build_rr(buf, sizeof(buf), 0xcafe, blocks, 2);
    assert_int_equal(n, 8 + 2 * 24);
    assert_int_equal(prism_rtcp_build_rr(buf, 8 + 2 * 24 - 1, 0xcafe, blocks, 2), PRISM_ENOMEM);
    assert_int_equal(prism_rtcp_build_rr(buf, sizeof(buf), 0xcafe, NULL, 1), PRISM_EINVAL);
    assert_int_equal(prism_rtcp_build_rr(buf, sizeof(buf), 0xcafe, blocks, 32), PRISM_EINVAL);
    it = walk_one(buf, (size_t)n);
    assert_int_equal(it.fmt, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(prism_rtcp_report_block(&it, i, &rb), 0);
        assert_int_equal(rb.ssrc, blocks[i].ssrc);
        assert_int_equal(rb.fraction_lost, blocks[i].fraction_lost);
        assert_int_equal(rb.cumulative_lost, blocks[i].cumulative_lost);
        assert_int_equal(rb.ext_highest_seq, blocks[i].ext_highest_seq);
        assert_int_equal(rb.jitter, blocks[i].jitter);
        assert_int_equal(rb.lsr, blocks[i].lsr);
        assert_int_equal(rb.dlsr, blocks[i].dlsr);
    }
    assert_int_equal(prism_rtcp_report_block(&it, 2, &rb), PRISM_EINVAL);
    /* Cumulative loss beyond 24 bits is clamped on the wire. */
    blocks[0].cumulative_lost = -9000000;
    blocks[1].cumulative_lost = 9000000;
    n = prism_rtcp_build_rr(buf, sizeof(buf), 1, blocks, 2);
    it = walk_one(buf, (size_t)n);
    assert_int_equal(prism_rtcp_report_block(&it, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, -0x800000);
    assert_int_equal(prism_rtcp_report_block(&it, 1, &rb), 0);
    assert_int_equal(rb.cumulative_lost, 0x7fffff);

    /* SR. */
    const struct prism_rtcp_sender_info si = {
        .ntp = 0xe8f1a2b3c4d5e6f7ull,
        .rtp_timestamp = 0x01020304,
        .packet_count = 1000,
        .octet_count = 160000,
    };
    assert_int_equal(prism_rtcp_build_sr(buf, sizeof(buf), 0xabcdef01, &si), PRISM_RTCP_SR_BYTES);
    assert_int_equal(prism_rtcp_build_sr(buf, PRISM_RTCP_SR_BYTES - 1, 1, &si), PRISM_ENOMEM);
    it = walk_one(buf, PRISM_RTCP_SR_BYTES);
    assert_int_equal(it.type, PRISM_RTCP_SR);
    assert_int_equal(it.fmt, 0);
    assert_int_equal(it.sender_ssrc, 0xabcdef01);
    struct prism_rtcp_sender_info back;
    assert_int_equal(prism_rtcp_parse_sr(&it, &back), 0);
    assert_true(back.ntp == si.ntp);
    assert_int_equal(back.rtp_timestamp, si.rtp_timestamp);
    assert_int_equal(back.packet_count, si.packet_count);
    assert_int_equal(back.octet_count, si.octet_count);
    it.type = PRISM_RTCP_RR;
    assert_int_equal(prism_rtcp_parse_sr(&it, &back), PRISM_EINVAL);
}

static void test_remb(void **state)
{
    (void)state;
    uint32_t mantissa;
    uint8_t exponent;
    prism_rtcp_remb_encode(2500000, &mantissa, &exponent);
    assert_int_equal(exponent, 4);
    assert_int_equal(mantissa, 156250); /* 156250 << 4 == 2500000 */
    prism_rtcp_remb_encode(262143, &mantissa, &exponent);
    assert_int_equal(exponent, 0);
    assert_int_equal(mantissa, 262143);
    prism_rtcp_remb_encode(262145, &mantissa, &exponent); /* rounded down */
    assert_int_equal(exponent, 1);
    assert_int_equal(mantissa, 131072);
    prism_rtcp_remb_encode(UINT64_MAX, &mantissa, &exponent);
    assert_int_equal(exponent, 46);
    assert_int_equal(mantissa, 262143);

    uint8_t buf[64];
    const uint32_t ssrcs[] = {0x11111111, 0x22222222};
    int n = prism_rtcp_build_remb(buf, sizeof(buf), 0x99, 2500000, ssrcs, 2);
    assert_int_equal(n, 28);
    const uint8_t want[] = {0x8f, 0xce, 0x00, 0x06, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00,
                            0x00, 0x00, 'R',  'E',  'M',  'B',  0x02, 0x12, 0x62, 0x5a,
                            0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22};
    assert_memory_equal(buf, want, sizeof(want));
    struct prism_rtcp_item it = walk_one(buf, (size_t)n);
    struct prism_rtcp_remb remb;
    assert_int_equal(prism_rtcp_parse_remb(&it, &remb), 0);
    assert_true(remb.bitrate_bps == 2500000);
    assert_int_equal(remb.n_ssrcs, 2);
    assert_int_equal(prism_rtcp_remb_ssrc(&remb, 0), 0x11111111);
    assert_int_equal(prism_rtcp_remb_ssrc(&remb, 1), 0x22222222);
    assert_int_equal(prism_rtcp_build_remb(buf, 27, 0x99, 1, ssrcs, 2), PRISM_ENOMEM);
    assert_int_equal(prism_rtcp_build_remb(buf, sizeof(buf), 0x99, 1, ssrcs, 0), PRISM_EINVAL);
    /* Num SSRC larger than the FCI, a wrong identifier. */
    buf[16] = 3;
    it = walk_one(buf, (size_t)n);
    assert_int_equal(prism_rtcp_parse_remb(&it, &remb), PRISM_EINVAL);
    buf[16] = 2;
    buf[12] = 'X';
    it = walk_one(buf, (size_t)n);
    assert_int_equal(prism_rtcp_parse_remb(&it, &remb), PRISM_EINVAL);
    /* The largest exponent saturates instead of overflowing. */
    buf[12] = 'R';
    buf[17] = 0xff;
    it = walk_one(buf, (size_t)n);
    assert_int_equal(prism_rtcp_parse_remb(&it, &remb), 0);
    assert_true(remb.bitrate_bps == UINT64_MAX);
}

static void test_nack(void **state)
{
    (void)state;
    uint8_t buf[64];
    const uint16_t lost[] = {100, 101, 116, 117};
    int n = prism_rtcp_build_nack(buf, sizeof(buf), 0x10, 0x20, lost, 4);
    assert_int_equal(n, 12 + 2 * 4);
    const uint8_t want[] = {0x81, 0xcd, 0x00, 0x04, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
                            0x00, 0x20, 0x00, 0x64, 0x80, 0x01, 0x00, 0x75, 0x00, 0x00};
    assert_memory_equal(buf, want, sizeof(want));
    struct prism_rtcp_item it = walk_one(buf, (size_t)n);
    assert_int_equal(it.type, PRISM_RTCP_RTPFB);
    assert_int_equal(it.fmt, PRISM_RTCP_RTPFB_NACK);
    assert_int_equal(it.media_ssrc, 0x20);
    assert_int_equal(prism_rtcp_nack_count(&it), 2);
    uint16_t pid, blp, seqs[PRISM_RTCP_NACK_MAX_SEQS];
    assert_int_equal(prism_rtcp_nack_entry(&it, 0, &pid, &blp), 0);
    assert_int_equal(pid, 100);
    assert_int_equal(blp, 0x8001);
    assert_int_equal(prism_rtcp_nack_expand(pid, blp, seqs), 3);
    assert_int_equal(seqs[0], 100);
    assert_int_equal(seqs[1], 101);
    assert_int_equal(seqs[2], 116);
    assert_int_equal(prism_rtcp_nack_entry(&it, 1, &pid, &blp), 0);
    assert_int_equal(pid, 117);
    assert_int_equal(blp, 0);
    assert_int_equal(prism_rtcp_nack_entry(&it, 2, &pid, &blp), PRISM_EINVAL);
    assert_false(prism_rtcp_is_tcc(&it));
    assert_int_equal(prism_rtcp_build_nack(buf, 19, 0x10, 0x20, lost, 4), PRISM_ENOMEM);
    assert_int_equal(prism_rtcp_build_nack(buf, sizeof(buf), 0x10, 0x20, lost, 0), PRISM_EINVAL);

    /* Across the wrap, with a duplicate: one entry. */
    const uint16_t wrap[] = {65535, 65535, 0, 1, 15};
    n = prism_rtcp_build_nack(buf, sizeof(buf), 1, 2, wrap, 5);
    assert_int_equal(n, 16);
    it = walk_one(buf, (size_t)n);
    assert_int_equal(prism_rtcp_nack_entry(&it, 0, &pid, &blp), 0);
    assert_int_equal(pid, 65535);
    assert_int_equal(blp, 0x8003);
    assert_int_equal(prism_rtcp_nack_expand(0xffff, 0xffff, seqs), 17);
    assert_int_equal(seqs[16], 15);
}

static void test_tcc(void **state)
{
    (void)state;
    struct prism_rtcp_item it = walk_one(tcc_pkt, sizeof(tcc_pkt));
    assert_true(prism_rtcp_is_tcc(&it));
    assert_int_equal(it.sender_ssrc, 1);
    assert_int_equal(it.media_ssrc, 0xaabbccdd);
    struct prism_rtcp_tcc tcc;
    assert_int_equal(prism_rtcp_parse_tcc(&it, &tcc), 0);
    assert_int_equal(tcc.base_seq, 1);
    assert_int_equal(tcc.status_count, 3);
    assert_int_equal(tcc.reference_time_64ms, -2);
    assert_int_equal(tcc.fb_pkt_count, 7);
    assert_int_equal(prism_rtcp_nack_count(&it), 0);
    /* An FCI shorter than the tcc header. */
    uint8_t p[12];
    memcpy(p, tcc_pkt, 12);
    p[3] = 0x02;
    it = walk_one(p, 12);
    assert_int_equal(prism_rtcp_parse_tcc(&it, &tcc), PRISM_EINVAL);
}

/* RR + PLI + REMB, as Chromium sends them together. */
static size_t build_rr_pli_remb(uint8_t *buf, size_t cap, size_t bounds[4])
{
    struct prism_rtcp_report_block rb = {.ssrc = 0x5555, .fraction_lost = 3, .jitter = 7};
    const uint32_t ssrc = 0x5555;
    size_t off = 0;
    bounds[0] = 0;
    int n = prism_rtcp_build_rr(buf, cap, 0x77, &rb, 1);
    assert_true(n > 0);
    off += (size_t)n;
    bounds[1] = off;
    n = prism_rtcp_build_pli(buf + off, cap - off, 0x77, 0x5555);
    assert_true(n > 0);
    off += (size_t)n;
    bounds[2] = off;
    n = prism_rtcp_build_remb(buf + off, cap - off, 0x77, 1500000, &ssrc, 1);
    assert_true(n > 0);
    off += (size_t)n;
    bounds[3] = off;
    return off;
}

static void test_compound(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct prism_rtcp_item items[4];
    int end;
    /* SR + SDES. */
    const struct prism_rtcp_sender_info si = {.ntp = 1, .rtp_timestamp = 2};
    int n = prism_rtcp_build_sr(buf, sizeof(buf), 0x11223344, &si);
    memcpy(buf + n, sdes_cname, sizeof(sdes_cname));
    size_t len = (size_t)n + sizeof(sdes_cname);
    assert_int_equal(walk(buf, len, items, 4, &end), 2);
    assert_int_equal(end, PRISM_ENOTFOUND);
    assert_int_equal(items[0].type, PRISM_RTCP_SR);
    assert_int_equal(items[1].type, PRISM_RTCP_SDES);
    assert_int_equal(items[1].fmt, 1);
    assert_int_equal(items[1].sender_ssrc, 0x11223344);
    assert_int_equal(items[1].offset, PRISM_RTCP_SR_BYTES);
    assert_int_equal(items[1].body_len, 12);
    assert_true(prism_rtcp_is_rtcp(buf, len));

    /* RR + PLI + REMB and every truncation of it. */
    size_t bounds[4];
    len = build_rr_pli_remb(buf, sizeof(buf), bounds);
    assert_int_equal(walk(buf, len, items, 4, &end), 3);
    assert_int_equal(end, PRISM_ENOTFOUND);
    assert_int_equal(items[0].type, PRISM_RTCP_RR);
    assert_true(prism_rtcp_is_pli(&items[1]));
    struct prism_rtcp_remb remb;
    assert_int_equal(prism_rtcp_parse_remb(&items[2], &remb), 0);
    assert_true(remb.bitrate_bps == 1500000);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *d = dup_exact(buf, cut);
        size_t whole = 0;
        bool boundary = false;
        for (size_t i = 0; i < 4; i++) {
            if (bounds[i] <= cut)
                whole = i;
            if (bounds[i] == cut)
                boundary = true;
        }
        assert_int_equal(walk(d, cut, items, 4, &end), whole);
        assert_int_equal(end, boundary && cut > 0 ? PRISM_ENOTFOUND : PRISM_EINVAL);
        free(d);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t p[128];
    struct prism_rtcp_item items[4];
    int end;
    size_t bounds[4];
    size_t len = build_rr_pli_remb(p, sizeof(p), bounds);

    assert_int_equal(walk(p, 0, items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    assert_int_equal(walk(NULL, 10, items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    /* Version 1 in the second block: the first is still yielded. */
    p[bounds[1]] = 0x41;
    assert_int_equal(walk(p, len, items, 4, &end), 1);
    assert_int_equal(end, PRISM_EINVAL);
    p[bounds[1]] = 0x81;
    /* Not an RTCP packet type (RTP PT 96 with the marker clear). */
    p[1] = 96;
    assert_int_equal(walk(p, len, items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    assert_false(prism_rtcp_is_rtcp(p, len));
    p[1] = PRISM_RTCP_RR;
    /* Length field beyond the compound. */
    p[bounds[2] + 3] = 0x40;
    assert_int_equal(walk(p, len, items, 4, &end), 2);
    assert_int_equal(end, PRISM_EINVAL);
    len = build_rr_pli_remb(p, sizeof(p), bounds);
    /* RC beyond the RR's length. */
    p[0] = 0x82;
    assert_int_equal(walk(p, len, items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    p[0] = 0x81;
    /* A feedback block shorter than its 12-byte fixed part. */
    p[bounds[1] + 3] = 0x01;
    assert_int_equal(walk(p, bounds[1] + 8, items, 4, &end), 1);
    assert_int_equal(end, PRISM_EINVAL);
    p[bounds[1] + 3] = 0x02;
    /* Padding on a block that is not the last. */
    p[bounds[1]] |= 0x20;
    assert_int_equal(walk(p, len, items, 4, &end), 1);
    assert_int_equal(end, PRISM_EINVAL);
    p[bounds[1]] &= (uint8_t)~0x20;

    /* SR shorter than its sender info; BYE with more sources than words;
     * SDES with more chunks than fit. */
    const uint8_t short_sr[] = {0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1};
    assert_int_equal(walk(short_sr, sizeof(short_sr), items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    const uint8_t bye[] = {0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1};
    assert_int_equal(walk(bye, sizeof(bye), items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    uint8_t sdes[sizeof(sdes_cname)];
    memcpy(sdes, sdes_cname, sizeof(sdes));
    sdes[0] = 0x82;
    assert_int_equal(walk(sdes, sizeof(sdes), items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    /* A 3-byte tail after a good block. */
    uint8_t tail[PRISM_RTCP_PLI_BYTES + 3];
    prism_rtcp_build_pli(tail, sizeof(tail), 1, 2);
    memset(tail + PRISM_RTCP_PLI_BYTES, 0x80, 3);
    assert_int_equal(walk(tail, sizeof(tail), items, 4, &end), 1);
    assert_int_equal(end, PRISM_EINVAL);

    /* Padding on the last block: valid, excluded from the body; a zero or
     * oversized count is not. */
    uint8_t padded[12];
    const uint8_t padded_rr[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 9, 0, 0, 0, 4};
    memcpy(padded, padded_rr, sizeof(padded));
    assert_int_equal(walk(padded, sizeof(padded), items, 4, &end), 1);
    assert_int_equal(end, PRISM_ENOTFOUND);
    assert_int_equal(items[0].body_len, 0);
    assert_int_equal(items[0].len, 12);
    padded[11] = 5;
    assert_int_equal(walk(padded, sizeof(padded), items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    padded[11] = 0;
    assert_int_equal(walk(padded, sizeof(padded), items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);
    /* An RR whose padding would hide a report block it counts. */
    const uint8_t rr_pad[] = {0xa1, 0xc9, 0x00, 0x07, 0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 0,
                              0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4};
    assert_int_equal(walk(rr_pad, sizeof(rr_pad), items, 4, &end), 0);
    assert_int_equal(end, PRISM_EINVAL);

    /* Unknown RTCP types (195, IJ) and APP/BYE are walked over. */
    const uint8_t other[] = {0x80, 0xc3, 0x00, 0x00, 0x81, 0xcb, 0x00, 0x01, 0,   0,   0,   5,
                             0x80, 0xcc, 0x00, 0x02, 0,    0,    0,    6,    'n', 'a', 'm', 'e'};
    assert_int_equal(walk(other, sizeof(other), items, 4, &end), 3);
    assert_int_equal(end, PRISM_ENOTFOUND);
    assert_int_equal(items[0].type, 195);
    assert_int_equal(items[0].sender_ssrc, 0);
    assert_int_equal(items[1].type, PRISM_RTCP_BYE);
    assert_int_equal(items[1].sender_ssrc, 5);
    assert_int_equal(items[2].type, PRISM_RTCP_APP);
    assert_int_equal(items[2].body_len, 0);
}

static void test_setters(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct prism_rtcp_item it;
    /* A subscriber's PLI toward the publisher: both SSRCs remapped. */
    int n = prism_rtcp_build_pli(buf, sizeof(buf), 0xaaaa, 0xbbbb);
    assert_int_equal(prism_rtcp_set_sender_ssrc(buf, (size_t)n, 0x1234), 0);
    assert_int_equal(prism_rtcp_rewrite_media_ssrc(buf, (size_t)n, 0x5678), 0);
    it = walk_one(buf, (size_t)n);
    assert_int_equal(it.sender_ssrc, 0x1234);
    assert_int_equal(it.media_ssrc, 0x5678);
    assert_int_equal(prism_rtcp_rewrite_media_ssrc(buf, 11, 1), PRISM_EINVAL);
    assert_int_equal(prism_rtcp_rewrite_fir_ssrc(buf, (size_t)n, 0, 1), PRISM_EINVAL);

    n = prism_rtcp_build_fir(buf, sizeof(buf), 0xaaaa, 0xbbbb, 9);
    assert_int_equal(prism_rtcp_rewrite_fir_ssrc(buf, (size_t)n, 0, 0xcccc), 0);
    assert_int_equal(prism_rtcp_rewrite_fir_ssrc(buf, (size_t)n, 1, 0xcccc), PRISM_EINVAL);
    it = walk_one(buf, (size_t)n);
    uint32_t ssrc;
    uint8_t seq_nr;
    assert_int_equal(prism_rtcp_fir_entry(&it, 0, &ssrc, &seq_nr), 0);
    assert_int_equal(ssrc, 0xcccc);
    assert_int_equal(seq_nr, 9);

    const uint16_t lost[] = {10, 12, 40};
    n = prism_rtcp_build_nack(buf, sizeof(buf), 1, 2, lost, 3);
    assert_int_equal(prism_rtcp_rewrite_nack_entry(buf, (size_t)n, 1, 500, 0x0003), 0);
    assert_int_equal(prism_rtcp_rewrite_nack_entry(buf, (size_t)n, 2, 1, 1), PRISM_EINVAL);
    it = walk_one(buf, (size_t)n);
    uint16_t pid, blp;
    assert_int_equal(prism_rtcp_nack_entry(&it, 0, &pid, &blp), 0);
    assert_int_equal(pid, 10);
    assert_int_equal(blp, 0x0002);
    assert_int_equal(prism_rtcp_nack_entry(&it, 1, &pid, &blp), 0);
    assert_int_equal(pid, 500);
    assert_int_equal(blp, 0x0003);
    assert_int_equal(prism_rtcp_rewrite_fir_ssrc(buf, (size_t)n, 0, 1), PRISM_EINVAL);

    /* SDES has no sender SSRC field to set. */
    memcpy(buf, sdes_cname, sizeof(sdes_cname));
    assert_int_equal(prism_rtcp_set_sender_ssrc(buf, sizeof(sdes_cname), 1), PRISM_EINVAL);
    assert_int_equal(prism_rtcp_rewrite_media_ssrc(buf, sizeof(sdes_cname), 1), PRISM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pli_fir),   cmocka_unit_test(test_rr_sr),
        cmocka_unit_test(test_remb),      cmocka_unit_test(test_nack),
        cmocka_unit_test(test_tcc),       cmocka_unit_test(test_compound),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_setters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
