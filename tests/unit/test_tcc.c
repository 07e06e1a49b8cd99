/* Unit tests for relay/tcc (transport-wide cc feedback, draft-holmer-rmcat-
 * transport-wide-cc-extensions-01), on a fake clock (arrival times in µs are
 * given by the test). Every feedback written is walked with relay/rtcp's
 * iterator, its header read with prism_rtcp_parse_tcc(), and its chunks and
 * deltas decoded here independently of tcc.c, then compared with what was
 * recorded: in-order runs, gaps, the 65535 -> 0 wrap, deltas that need the
 * 2-byte form (negative, > 63.75 ms) and ones that need a new packet (> 8 s),
 * runs longer than 8191, exact chunk words (run, one-bit and two-bit vectors),
 * duplicates, late packets, far sequence numbers, the reference time wrap,
 * the per-call bounds (capacity, 1000 statuses) and the feedback count.
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
#include "relay/wire/tcc.h"

#define SENDER 0x11223344u
#define MEDIA 0x55667788u
#define MAX_DECODED 70000
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One status read back from the wire. */
struct status {
    uint16_t seq;
    bool received;
    int64_t time_us;  /* reference time + deltas, when received */
    uint8_t fb_count; /* of the packet that carried it */
    size_t packet;    /* index of that packet in the compound */
};

static struct status decoded[MAX_DECODED];
static uint16_t chunk_words[MAX_DECODED];

/* Decodes every transport-cc packet of the compound `buf`: statuses
 * appended to `decoded`; the first packet's chunk words to `chunk_words`
 * (count in *n_chunks when not NULL). Returns the status count; fails the
 * test on anything malformed. */
static size_t decode(const uint8_t *buf, size_t len, size_t *n_chunks)
{
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    size_t n = 0, packet = 0;
    prism_rtcp_iter_init(&it, buf, len);
    int rc;
    while ((rc = prism_rtcp_next(&it, &item)) == 0) {
        struct prism_rtcp_tcc h;
        assert_true(prism_rtcp_is_tcc(&item));
        assert_int_equal(prism_rtcp_parse_tcc(&item, &h), 0);
        assert_int_equal(item.sender_ssrc, SENDER);
        assert_int_equal(item.media_ssrc, MEDIA);
        assert_true(h.status_count > 0);
        const uint8_t *p = item.body + 8, *end = item.body + item.body_len;
        uint8_t syms[65536];
        size_t got = 0, chunks = 0;
        while (got < h.status_count) {
            assert_true(p + 2 <= end);
            uint16_t ch = (uint16_t)(p[0] << 8 | p[1]);
            p += 2;
            if (packet == 0 && chunks < MAX_DECODED)
                chunk_words[chunks] = ch;
            chunks++;
            if ((ch & 0x8000) == 0) {
                uint8_t s = (ch >> 13) & 3;
                size_t run = ch & 0x1FFF;
                assert_true(s != 3);
                assert_true(run > 0);
                for (size_t k = 0; k < run && got < h.status_count; k++)
                    syms[got++] = s;
            } else if ((ch & 0x4000) == 0) {
                for (int k = 13; k >= 0 && got < h.status_count; k--)
                    syms[got++] = (ch >> k) & 1;
            } else {
                for (int k = 6; k >= 0 && got < h.status_count; k--) {
                    syms[got] = (ch >> (2 * k)) & 3;
                    assert_true(syms[got] != 3);
                    got++;
                }
            }
        }
        if (packet == 0 && n_chunks != NULL)
            *n_chunks = chunks;
        /* 24-bit reference time: parse_tcc reads it signed, the writer wraps it. */
        int64_t t = (int64_t)((uint32_t)h.reference_time_64ms & 0xFFFFFF) * 64000;
        for (size_t k = 0; k < got; k++) {
            struct status *st = &decoded[n++];
            assert_true(n <= MAX_DECODED);
            st->seq = (uint16_t)(h.base_seq + k);
            st->received = syms[k] != 0;
            st->fb_count = h.fb_pkt_count;
            st->packet = packet;
            if (syms[k] == 1) {
                assert_true(p + 1 <= end);
                t += 250 * (int64_t)p[0];
                p += 1;
            } else if (syms[k] == 2) {
                assert_true(p + 2 <= end);
                t += 250 * (int64_t)(int16_t)(uint16_t)(p[0] << 8 | p[1]);
                p += 2;
            }
            st->time_us = st->received ? t : 0;
        }
        /* Zero padding to the word, nothing else. */
        assert_true(end - p < 4);
        for (; p < end; p++)
            assert_int_equal(*p, 0);
        assert_int_equal(item.len % 4, 0);
        packet++;
    }
    assert_int_equal(rc, PRISM_ENOTFOUND);
    return n;
}

/* The time as the wire carries it: floored to the 250 µs tick. */
static int64_t tick(int64_t us)
{
    return us / 250 * 250;
}

static size_t build_all(struct prism_tcc *r, uint8_t *buf, size_t cap)
{
    int len = prism_tcc_build(r, SENDER, MEDIA, buf, cap);
    assert_true(len >= 0);
    assert_true((size_t)len <= cap);
    return (size_t)len;
}

static struct prism_tcc rec;
static uint8_t buf[1 << 18];

static void test_in_order(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    assert_false(prism_tcc_pending(&rec));
    assert_int_equal(prism_tcc_build(&rec, SENDER, MEDIA, buf, sizeof(buf)), 0);
    int64_t t0 = 5 * 64000 + 1234;
    for (uint16_t s = 100; s < 110; s++)
        prism_tcc_record(&rec, s, t0 + (s - 100) * 1000);
    assert_true(prism_tcc_pending(&rec));
    size_t n_chunks = 0;
    size_t len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(len, 20 + 2 + 10 + 0); /* one run chunk, 10 small deltas, 32 bytes */
    size_t n = decode(buf, len, &n_chunks);
    assert_int_equal(n, 10);
    assert_int_equal(n_chunks, 1);
    assert_int_equal(chunk_words[0], 0x2000 | 10); /* run of 10 "small" */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(decoded[i].seq, 100 + i);
        assert_true(decoded[i].received);
        assert_int_equal(decoded[i].time_us, tick(t0 + (int64_t)i * 1000));
        assert_int_equal(decoded[i].fb_count, 0);
    }
    assert_false(prism_tcc_pending(&rec));
    assert_int_equal(prism_tcc_build(&rec, SENDER, MEDIA, buf, sizeof(buf)), 0);
    /* The next packet gets the next feedback count and starts at 110. */
    prism_tcc_record(&rec, 110, t0 + 20000);
    len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 1);
    assert_int_equal(decoded[0].seq, 110);
    assert_int_equal(decoded[0].fb_count, 1);
    assert_int_equal(decoded[0].time_us, tick(t0 + 20000));
}

static void test_gaps_and_wrap(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    /* 65530..5 with 65533, 0 and 2..3 lost. */
    const uint16_t seqs[] = {65530, 65531, 65532, 65534, 65535, 1, 4, 5};
    int64_t t = 1000000;
    for (size_t i = 0; i < N_OF(seqs); i++)
        prism_tcc_record(&rec, seqs[i], t + (int64_t)i * 3000);
    size_t len = build_all(&rec, buf, sizeof(buf));
    size_t n = decode(buf, len, NULL);
    assert_int_equal(n, 12);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t s = (uint16_t)(65530 + i);
        assert_int_equal(decoded[i].seq, s);
        bool want = k < N_OF(seqs) && seqs[k] == s;
        assert_int_equal(decoded[i].received, want);
        if (want) {
            assert_int_equal(decoded[i].time_us, tick(t + (int64_t)k * 3000));
            k++;
        }
    }
    assert_int_equal(k, N_OF(seqs));
    /* Loss after the last report: 6 and 7 lost, 8 received -> 6, 7 reported lost. */
    prism_tcc_record(&rec, 8, t + 100000);
    len = build_all(&rec, buf, sizeof(buf));
    n = decode(buf, len, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(decoded[0].seq, 6);
    assert_false(decoded[0].received);
    assert_false(decoded[1].received);
    assert_true(decoded[2].received);
    assert_int_equal(decoded[2].time_us, tick(t + 100000));
}

static void test_large_deltas(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    int64_t t = 7 * 64000;
    /* 0: t; 1: +100 ms (large); 2: 30 ms before 1 (negative: large);
     * 3: +10 s after 2 (does not fit in 16 bits: a second packet). */
    const int64_t at[] = {t, t + 100000, t + 70000, t + 10070000, t + 10071000};
    for (size_t i = 0; i < N_OF(at); i++)
        prism_tcc_record(&rec, (uint16_t)(200 + i), at[i]);
    size_t len = build_all(&rec, buf, sizeof(buf));
    size_t n = decode(buf, len, NULL);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(decoded[i].seq, 200 + i);
        assert_true(decoded[i].received);
        assert_int_equal(decoded[i].time_us, tick(at[i]));
    }
    assert_int_equal(decoded[2].packet, 0);
    assert_int_equal(decoded[3].packet, 1);
    assert_int_equal(decoded[3].fb_count, 1);
    /* First packet: small, large, large -> one two-bit vector 01 10 10. */
    size_t n_chunks;
    decode(buf, len, &n_chunks);
    assert_int_equal(n_chunks, 1);
    assert_int_equal(chunk_words[0], 0xC000 | 1 << 12 | 2 << 10 | 2 << 8);
    /* 8191.75 ms is still a large delta; a delta of 32768 ticks is not. */
    prism_tcc_init(&rec);
    prism_tcc_record(&rec, 0, 0);
    prism_tcc_record(&rec, 1, 32767 * 250);
    prism_tcc_record(&rec, 2, 32767 * 250 + 32768 * 250);
    len = build_all(&rec, buf, sizeof(buf));
    n = decode(buf, len, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(decoded[1].packet, 0);
    assert_int_equal(decoded[2].packet, 1);
    assert_int_equal(decoded[2].time_us, 65535 * 250);
}

static void test_chunk_words(void **state)
{
    (void)state;
    /* 14 alternating received/lost: one one-bit vector 1010... */
    int64_t a[20];
    for (size_t i = 0; i < 14; i++)
        a[i] = i % 2 == 0 ? 1000 + (int64_t)i * 250 : PRISM_TCC_NOT_RECEIVED;
    a[13] = 5000; /* end on a received one */
    size_t rep;
    int len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 9, 3, a, SIZE_MAX, 0, 14, &rep);
    assert_true(len > 0);
    assert_int_equal(rep, 14);
    size_t n_chunks;
    assert_int_equal(decode(buf, (size_t)len, &n_chunks), 14);
    assert_int_equal(n_chunks, 1);
    assert_int_equal(chunk_words[0], 0x8000 | 0x2AAA | 1);
    assert_int_equal(decoded[0].fb_count, 3);
    /* small, large, lost, small x4: a two-bit vector of 7, exactly. */
    const int64_t b[] = {0, 100000, PRISM_TCC_NOT_RECEIVED, 100250, 100500, 100750, 101000};
    len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 0, 0, b, SIZE_MAX, 0, 7, &rep);
    assert_true(len > 0);
    assert_int_equal(decode(buf, (size_t)len, &n_chunks), 7);
    assert_int_equal(n_chunks, 1);
    assert_int_equal(chunk_words[0], 0xD855);
    /* Trailing lost statuses are not reported: the packet ends on a received one. */
    const int64_t c[] = {0, 250, PRISM_TCC_NOT_RECEIVED, PRISM_TCC_NOT_RECEIVED};
    len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 0, 0, c, SIZE_MAX, 0, 4, &rep);
    assert_int_equal(rep, 2);
    /* Nothing received: nothing written. */
    len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 0, 0, c + 2, SIZE_MAX, 0, 2, &rep);
    assert_int_equal(len, 0);
    assert_int_equal(rep, 0);
    /* Too small for even one packet. */
    assert_int_equal(prism_tcc_write(buf, 23, SENDER, MEDIA, 0, 0, c, SIZE_MAX, 0, 2, &rep),
                     PRISM_ENOMEM);
    assert_int_equal(prism_tcc_write(NULL, 23, SENDER, MEDIA, 0, 0, c, SIZE_MAX, 0, 2, &rep),
                     PRISM_EINVAL);
    /* A ring: statuses wrap around the array through the mask. */
    const int64_t ring[4] = {3000, PRISM_TCC_NOT_RECEIVED, 1000, 2000};
    len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 7, 0, ring, 3, 2, 3, &rep);
    assert_int_equal(rep, 3);
    assert_int_equal(decode(buf, (size_t)len, NULL), 3);
    assert_int_equal(decoded[0].time_us, 1000);
    assert_int_equal(decoded[2].time_us, 3000);
}

static int64_t big[20000];

static void test_long_runs(void **state)
{
    (void)state;
    size_t rep, n_chunks;
    /* 10000 received at the same tick: runs of 8191 and 1809 "small". */
    for (size_t i = 0; i < 10000; i++)
        big[i] = 64000;
    int len =
        prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 65000, 0, big, SIZE_MAX, 0, 10000, &rep);
    assert_true(len > 0);
    assert_int_equal(rep, 10000);
    assert_int_equal(decode(buf, (size_t)len, &n_chunks), 10000);
    assert_int_equal(n_chunks, 2);
    assert_int_equal(chunk_words[0], 0x2000 | 8191);
    assert_int_equal(chunk_words[1], 0x2000 | 1809);
    assert_int_equal(decoded[9999].seq, (uint16_t)(65000 + 9999));
    assert_int_equal(decoded[9999].time_us, 64000);
    /* 9000 lost then one received: two runs of "not received", then a run of 1. */
    for (size_t i = 0; i < 9000; i++)
        big[i] = PRISM_TCC_NOT_RECEIVED;
    big[9000] = 1000;
    len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 0, 0, big, SIZE_MAX, 0, 9001, &rep);
    assert_int_equal(rep, 9001);
    assert_int_equal(decode(buf, (size_t)len, &n_chunks), 9001);
    assert_int_equal(n_chunks, 3);
    assert_int_equal(chunk_words[0], 8191);
    assert_int_equal(chunk_words[1], 809);
    assert_int_equal(chunk_words[2], 0x2001);
    assert_true(decoded[9000].received);
    assert_false(decoded[8999].received);
    /* 70000 statuses: a packet carries at most 65535. */
    static int64_t huge[70000];
    for (size_t i = 0; i < 70000; i++)
        huge[i] = (int64_t)i * 10;
    len = prism_tcc_write(buf, sizeof(buf), SENDER, MEDIA, 0, 0, huge, SIZE_MAX, 0, 70000, &rep);
    assert_true(len > 0);
    assert_int_equal(rep, 65535);
    assert_int_equal(decode(buf, (size_t)len, NULL), 65535);
    assert_int_equal(decoded[65534].time_us, tick(65534 * 10));
}

static void test_duplicates_and_late(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    for (uint16_t s = 0; s < 10; s++)
        if (s != 5)
            prism_tcc_record(&rec, s, 100000 + s * 1000);
    prism_tcc_record(&rec, 3, 999999); /* duplicate: first time kept */
    size_t len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 10);
    assert_int_equal(decoded[3].time_us, tick(103000));
    assert_false(decoded[5].received);
    /* 5 arrives late: the next feedback reports 5..9 again, 5 received. */
    prism_tcc_record(&rec, 5, 120000);
    assert_true(prism_tcc_pending(&rec));
    len = build_all(&rec, buf, sizeof(buf));
    size_t n = decode(buf, len, NULL);
    assert_int_equal(n, 5);
    assert_int_equal(decoded[0].seq, 5);
    assert_true(decoded[0].received);
    assert_int_equal(decoded[0].time_us, 120000);
    assert_int_equal(decoded[4].time_us, tick(109000));
    /* A duplicate of a reported packet does not reopen the window. */
    prism_tcc_record(&rec, 7, 130000);
    assert_false(prism_tcc_pending(&rec));
}

static void test_far_seqs(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    for (uint16_t s = 0; s < 10; s++)
        prism_tcc_record(&rec, s, 1000 * s);
    size_t len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 10);
    /* The sender restarted far ahead: a new record there, nothing in between. */
    prism_tcc_record(&rec, 30000, 50000);
    prism_tcc_record(&rec, 30001, 51000);
    len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 2);
    assert_int_equal(decoded[0].seq, 30000);
    assert_int_equal(rec.restarts, 1);
    /* ... and far behind. */
    prism_tcc_record(&rec, 20000, 60000);
    len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 1);
    assert_int_equal(decoded[0].seq, 20000);
    assert_int_equal(rec.restarts, 2);
    /* A packet from before the restart, within the window of the new one, is ignored. */
    prism_tcc_record(&rec, 19990, 61000);
    assert_false(prism_tcc_pending(&rec));
    /* A jump ahead within the history is loss, reported. */
    prism_tcc_record(&rec, 20100, 62000);
    len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 100);
    assert_false(decoded[0].received);
    assert_true(decoded[99].received);
    /* A gap of 1000 or more lost is skipped (one call could not report it);
     * a shorter one is reported even when it fills most of a call. */
    prism_tcc_record(&rec, 21101, 63000);
    len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 1);
    assert_int_equal(decoded[0].seq, 21101);
    prism_tcc_record(&rec, 22100, 64000);
    len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 999);
    assert_int_equal(decoded[0].seq, 21102);
    assert_false(decoded[0].received);
    assert_true(decoded[998].received);
}

static void test_reference_wrap(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    int64_t t = ((int64_t)1 << 24) * 64000 + 3 * 64000 + 500;
    prism_tcc_record(&rec, 1, t);
    size_t len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), 1);
    assert_int_equal(decoded[0].time_us, tick(3 * 64000 + 500));
}

static void test_bounds(void **state)
{
    (void)state;
    prism_tcc_init(&rec);
    /* 3000 packets, 1 in 3 lost, times jittering: several calls, each within
     * its capacity and 1000 statuses; together they cover every seq once. */
    int64_t t = 0;
    static int64_t want[3000];
    for (uint16_t s = 0; s < 3000; s++) {
        t += 200 + (s * 7919) % 900;
        want[s] = s % 3 == 1 ? PRISM_TCC_NOT_RECEIVED : t;
        if (want[s] != PRISM_TCC_NOT_RECEIVED)
            prism_tcc_record(&rec, (uint16_t)(60000 + s), t);
    }
    size_t covered = 0, calls = 0;
    uint8_t expect_fb = 0;
    while (prism_tcc_pending(&rec)) {
        size_t len = build_all(&rec, buf, 200);
        assert_true(len > 0 && len <= 200);
        size_t n = decode(buf, len, NULL);
        assert_true(n <= PRISM_TCC_MAX_STATUS_PER_BUILD);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(decoded[i].seq, (uint16_t)(60000 + covered));
            assert_int_equal(decoded[i].received, want[covered] != PRISM_TCC_NOT_RECEIVED);
            if (decoded[i].received)
                assert_int_equal(decoded[i].time_us, tick(want[covered]));
            if (i == 0 || decoded[i].packet != decoded[i - 1].packet)
                assert_int_equal(decoded[i].fb_count, expect_fb++);
            covered++;
        }
        calls++;
    }
    assert_int_equal(covered, 3000);
    assert_true(calls > 3);
    /* A large capacity: 1000 statuses per call. */
    prism_tcc_init(&rec);
    for (uint16_t s = 0; s < 2500; s++)
        prism_tcc_record(&rec, s, (int64_t)s * 100);
    size_t len = build_all(&rec, buf, sizeof(buf));
    assert_int_equal(decode(buf, len, NULL), PRISM_TCC_MAX_STATUS_PER_BUILD);
    assert_int_equal(prism_tcc_build(&rec, SENDER, MEDIA, buf, 23), PRISM_ENOMEM);
    assert_int_equal(prism_tcc_build(NULL, SENDER, MEDIA, buf, 23), PRISM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),     cmocka_unit_test(test_gaps_and_wrap),
        cmocka_unit_test(test_large_deltas), cmocka_unit_test(test_chunk_words),
        cmocka_unit_test(test_long_runs),    cmocka_unit_test(test_duplicates_and_late),
        cmocka_unit_test(test_far_seqs),     cmocka_unit_test(test_reference_wrap),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
