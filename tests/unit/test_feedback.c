/* Unit tests for relay/worker/feedback: the keyframe request throttle, a
 * subscriber's keyframe budget, the receiver report + REMB a publisher gets
 * (parsed back with relay/wire/rtcp), the NACK generator of the uplink leg
 * (gaps, retries, giving up, forgetting, wrap, restarts, bounds), the
 * unwrapping of a publisher's RTX, the dominant-speaker choice (voiced
 * share, loudness threshold, ties, meters reset by each choice), the last-N
 * ranking of speakers (recency, hysteresis, join order), and
 * relay/worker/prefer: a subscriber's preferences and the pause decision
 * that combines them with last-N. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/worker/feedback.h"
#include "relay/worker/prefer.h"

static void test_keyframe_gate(void **state)
{
    (void)state;
    struct prism_keyframe_gate g = {0};
    assert_true(prism_keyframe_gate_open(&g, 0)); /* never sent: open, even at time 0 */
    prism_keyframe_gate_sent(&g, 0);
    assert_false(prism_keyframe_gate_open(&g, PRISM_KEYFRAME_GAP_MS - 1));
    assert_true(prism_keyframe_gate_open(&g, PRISM_KEYFRAME_GAP_MS + 1));
    prism_keyframe_gate_sent(&g, 5000);
    assert_false(prism_keyframe_gate_open(&g, 5000));
    assert_false(prism_keyframe_gate_open(&g, 5000 + PRISM_KEYFRAME_GAP_MS - 1));
    assert_true(prism_keyframe_gate_open(&g, 5000 + PRISM_KEYFRAME_GAP_MS));
}

/* Issue 9, finding 5: a subscriber's compound RTCP of hundreds of PLI/FIR
 * items gets PRISM_KEYFRAME_BUDGET_ITEMS lookups per window; the rest are
 * counted and dropped, and the next window starts afresh. */
static void test_keyframe_budget(void **state)
{
    (void)state;
    struct prism_keyframe_budget b = {0};
    size_t taken = 0;
    for (int i = 0; i < 500; i++) /* one packet's items, all at one time */
        taken += prism_keyframe_budget_take(&b, 0);
    assert_int_equal(taken, PRISM_KEYFRAME_BUDGET_ITEMS);
    assert_int_equal(b.dropped, 500 - PRISM_KEYFRAME_BUDGET_ITEMS);
    assert_false(prism_keyframe_budget_take(&b, PRISM_KEYFRAME_BUDGET_MS - 1));
    assert_int_equal(b.dropped, 501 - PRISM_KEYFRAME_BUDGET_ITEMS);
    /* A new window: the whole budget again, then refused again. */
    uint64_t t = 1000;
    taken = 0;
    for (int i = 0; i < PRISM_KEYFRAME_BUDGET_ITEMS + 10; i++)
        taken += prism_keyframe_budget_take(&b, t + (uint64_t)i % PRISM_KEYFRAME_BUDGET_MS);
    assert_int_equal(taken, PRISM_KEYFRAME_BUDGET_ITEMS);
    assert_int_equal(b.dropped, 511 - PRISM_KEYFRAME_BUDGET_ITEMS);
    assert_true(prism_keyframe_budget_take(&b, t + PRISM_KEYFRAME_BUDGET_MS));
}

static void feed(struct prism_rtp_seq_stats *s, uint16_t first, uint16_t n, uint16_t skip)
{
    prism_rtp_seq_stats_init(s);
    for (uint16_t i = 0; i < n; i++)
        if (i != skip)
            prism_rtp_seq_stats_update(s, (uint16_t)(first + i), 90u * i, 90u * i, NULL);
}

static void test_report(void **state)
{
    (void)state;
    struct prism_rtp_seq_stats a, b, idle;
    feed(&a, 100, 50, 10); /* one lost */
    feed(&b, 7, 20, 99);
    prism_rtp_seq_stats_init(&idle);
    struct prism_feedback_stream streams[] = {{0xA, &a}, {0xB, &b}, {0xC, &idle}, {0, &a}};
    uint8_t buf[PRISM_FEEDBACK_REPORT_MAX(4)];
    int len = prism_feedback_build_report(buf, sizeof(buf), 0x5E1F, streams, 4, 800);
    assert_true(len > 0);
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(prism_rtcp_next(&it, &item), 0);
    assert_int_equal(item.type, PRISM_RTCP_RR);
    assert_int_equal(item.sender_ssrc, 0x5E1F);
    assert_int_equal(item.fmt, 2); /* only the streams that received something */
    struct prism_rtcp_report_block rb;
    assert_int_equal(prism_rtcp_report_block(&item, 0, &rb), 0);
    assert_int_equal(rb.ssrc, 0xA);
    assert_int_equal(rb.cumulative_lost, 1);
    assert_int_equal(rb.ext_highest_seq, 149);
    assert_int_equal(prism_rtcp_report_block(&item, 1, &rb), 0);
    assert_int_equal(rb.ssrc, 0xB);
    assert_int_equal(rb.cumulative_lost, 0);
    assert_int_equal(prism_rtcp_next(&it, &item), 0);
    struct prism_rtcp_remb remb;
    assert_int_equal(prism_rtcp_parse_remb(&item, &remb), 0);
    assert_true(remb.bitrate_bps <= 800000 && remb.bitrate_bps > 790000);
    assert_int_equal(remb.n_ssrcs, 2);
    assert_int_equal(prism_rtcp_remb_ssrc(&remb, 1), 0xB);
    assert_int_not_equal(prism_rtcp_next(&it, &item), 0);

    /* No cap: a plain RR. Nothing received: an RR without blocks, no REMB. */
    feed(&a, 1, 5, 99);
    len = prism_feedback_build_report(buf, sizeof(buf), 1, streams, 1, 0);
    prism_rtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(prism_rtcp_next(&it, &item), 0);
    assert_int_equal(item.fmt, 1);
    assert_int_not_equal(prism_rtcp_next(&it, &item), 0);
    len = prism_feedback_build_report(buf, sizeof(buf), 1, &streams[2], 1, 800);
    prism_rtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(prism_rtcp_next(&it, &item), 0);
    assert_int_equal(item.fmt, 0);
    assert_int_not_equal(prism_rtcp_next(&it, &item), 0);
    /* Too small a buffer is an error, never an overflow. */
    assert_true(prism_feedback_build_report(buf, 10, 1, streams, 2, 800) < 0);
}

static void meter(struct prism_speaker_meter *m, uint32_t packets, uint32_t voiced, uint8_t level)
{
    for (uint32_t i = 0; i < packets; i++)
        prism_speaker_meter_note(m, true, i < voiced, level);
}

static void test_speaker(void **state)
{
    (void)state;
    struct prism_speaker_meter quiet = {0}, loud = {0}, sparse = {0}, none = {0};
    meter(&quiet, 50, 50, 100); /* voiced but at -100 dBov: below the threshold */
    meter(&loud, 50, 40, 20);   /* mostly voiced, -20 dBov */
    meter(&sparse, 50, 10, 5);  /* loudest, but voiced in a fifth of its packets */
    for (int i = 0; i < 50; i++)
        prism_speaker_meter_note(&none, false, false, 0);
    struct prism_speaker_pick pick;
    prism_speaker_pick_init(&pick);
    prism_speaker_pick_offer(&pick, 1, &quiet);
    prism_speaker_pick_offer(&pick, 2, &sparse);
    prism_speaker_pick_offer(&pick, 3, &loud);
    prism_speaker_pick_offer(&pick, 4, &none);
    assert_int_equal(pick.best, 3);
    assert_int_equal(pick.best_loudness, 127 - 20);
    /* Offering resets a meter: the next second starts from nothing. */
    assert_int_equal(loud.packets + loud.voiced + loud.loudness_sum, 0);
    prism_speaker_pick_init(&pick);
    prism_speaker_pick_offer(&pick, 3, &loud);
    assert_int_equal(pick.best, 0); /* silence: nobody, the current speaker stays */
    /* A louder one later in the round wins; a tie keeps the first. */
    struct prism_speaker_meter x = {0}, y = {0}, z = {0};
    meter(&x, 10, 10, 30);
    meter(&y, 10, 10, 10);
    meter(&z, 10, 10, 10);
    prism_speaker_pick_init(&pick);
    prism_speaker_pick_offer(&pick, 7, &x);
    prism_speaker_pick_offer(&pick, 8, &y);
    prism_speaker_pick_offer(&pick, 9, &z);
    assert_int_equal(pick.best, 8);
}

/* A bubble's publishers as room.c ranks them: handles 1..n joined in order. */
struct lastn_room {
    struct prism_speaker_recency r[8];
    uint64_t clock;
    size_t n;
};

/* Bit i set when publisher i + 1 is in the top `n`, as room.c computes it. */
static unsigned top_of(const struct lastn_room *room, uint32_t n)
{
    struct prism_last_n_entry storage[8];
    struct prism_last_n_select sel;
    prism_last_n_init(&sel, storage, n);
    for (size_t i = 0; i < room->n; i++)
        prism_last_n_offer(&sel, i + 1, &room->r[i]);
    unsigned bits = 0;
    for (size_t i = 0; i < room->n; i++)
        if (prism_last_n_has(&sel, i + 1))
            bits |= 1u << i;
    assert_int_equal(sel.count, n < room->n ? n : room->n);
    return bits;
}

/* A second whose pick is `who` (1-based; 0: silence), as choose_speaker does. */
static void second(struct lastn_room *room, size_t who)
{
    if (who != 0)
        prism_speaker_recency_spoke(&room->clock, &room->r[who - 1]);
}

static void test_last_n_ranking(void **state)
{
    (void)state;
    struct lastn_room room = {.n = 5};
    for (size_t i = 0; i < room.n; i++)
        room.r[i].joined = i + 1;
    /* Nobody spoke: the first to join rank first. */
    assert_int_equal(top_of(&room, 2), 0x03);
    assert_int_equal(top_of(&room, 1), 0x01);
    assert_int_equal(top_of(&room, 9), 0x1f); /* N above the publishers: everyone */
    /* Publisher 4 speaks: it enters, the least recent of the two (2) leaves. */
    second(&room, 4);
    assert_int_equal(top_of(&room, 2), 0x09);
    /* Silence for a while: nothing moves. */
    for (int i = 0; i < 10; i++)
        second(&room, 0);
    assert_int_equal(top_of(&room, 2), 0x09);
    /* 5 speaks: 1, who never spoke, leaves before 4, who did. */
    second(&room, 5);
    assert_int_equal(top_of(&room, 2), 0x18);
    /* 4 speaks again: still the same two, no churn. */
    second(&room, 4);
    second(&room, 4);
    assert_int_equal(top_of(&room, 2), 0x18);
    /* 3 speaks: 5 is now the least recent of the two and leaves. */
    second(&room, 3);
    assert_int_equal(top_of(&room, 2), 0x0c);
    assert_int_equal(top_of(&room, 1), 0x04);
    /* With N 3, the speakers in recency order, then who never spoke by join order. */
    assert_int_equal(top_of(&room, 3), 0x1c);
    assert_int_equal(top_of(&room, 4), 0x1d);
    /* The ordering itself. */
    struct prism_speaker_recency never_a = {0, 1}, never_b = {0, 2}, spoke = {7, 3};
    assert_true(prism_speaker_recency_before(&never_a, &never_b));
    assert_false(prism_speaker_recency_before(&never_b, &never_a));
    assert_true(prism_speaker_recency_before(&spoke, &never_a));
    assert_false(prism_speaker_recency_before(&never_a, &spoke));
}

static void test_prefer_set(void **state)
{
    (void)state;
    struct prism_prefer_set s = {0};
    assert_null(prism_prefer_set_find(&s, 1, 10));
    /* Publisher-wide, then a per-track exception: the most specific applies. */
    prism_prefer_set_put(&s, &(struct prism_prefer){.publisher = 1, .paused = true});
    prism_prefer_set_put(&s, &(struct prism_prefer){.publisher = 1, .track = 11});
    prism_prefer_set_put(&s, &(struct prism_prefer){.publisher = 2, .track = 20, .max_fps = 15});
    assert_true(prism_prefer_set_find(&s, 1, 10)->paused);
    assert_false(prism_prefer_set_find(&s, 1, 11)->paused);
    assert_int_equal(prism_prefer_set_find(&s, 2, 20)->max_fps, 15);
    assert_null(prism_prefer_set_find(&s, 2, 21));
    assert_int_equal(s.n, 3);
    /* Same scope again: replaced, not added. */
    prism_prefer_set_put(&s,
                         &(struct prism_prefer){.publisher = 2, .track = 20, .max_height = 360});
    assert_int_equal(s.n, 3);
    assert_int_equal(prism_prefer_set_find(&s, 2, 20)->max_fps, 0);
    assert_int_equal(prism_prefer_set_find(&s, 2, 20)->max_height, 360);
    /* The publisher published anew: per-track ones of gone tracks go. */
    uint64_t live[] = {12, 13};
    prism_prefer_set_drop(&s, 1, live, 2);
    assert_int_equal(s.n, 2);
    assert_true(prism_prefer_set_find(&s, 1, 11)->paused); /* the wide one now */
    /* A default publisher-wide preference clears that publisher entirely. */
    prism_prefer_set_put(&s, &(struct prism_prefer){.publisher = 2, .track = 21, .paused = true});
    prism_prefer_set_put(&s, &(struct prism_prefer){.publisher = 2});
    assert_null(prism_prefer_set_find(&s, 2, 20));
    assert_null(prism_prefer_set_find(&s, 2, 21));
    assert_int_equal(s.n, 1);
    /* The publisher left. */
    prism_prefer_set_drop(&s, 1, NULL, 0);
    assert_int_equal(s.n, 0);
    assert_null(s.items);
    prism_prefer_set_put(&s, &(struct prism_prefer){.publisher = 3, .paused = true});
    prism_prefer_set_clear(&s);
    assert_int_equal(s.n, 0);
}

/* A consumer is paused when the backend paused it OR last-N excludes its
 * video; audio is never paused by last-N. */
static void test_prefer_paused(void **state)
{
    (void)state;
    const struct prism_prefer paused = {.publisher = 1, .paused = true};
    const struct prism_prefer capped = {.publisher = 1, .max_height = 180};
    for (int video = 0; video <= 1; video++) {
        assert_false(prism_prefer_paused(NULL, video, false));
        assert_false(prism_prefer_paused(&capped, video, false)); /* caps never pause */
        assert_true(prism_prefer_paused(&paused, video, false));
        assert_true(prism_prefer_paused(&paused, video, true));
    }
    assert_true(prism_prefer_paused(NULL, true, true));
    assert_true(prism_prefer_paused(&capped, true, true));
    assert_false(prism_prefer_paused(NULL, false, true));
    assert_false(prism_prefer_paused(&capped, false, true));
}

static void note_range(struct prism_nack_gen *g, unsigned from, unsigned to, uint64_t now)
{
    for (unsigned s = from; s <= to; s++)
        assert_int_equal(prism_nack_gen_note(g, (uint16_t)s, false, now), PRISM_NACK_FRESH);
}

/* Gaps are NACKed on the next collection, again after PRISM_NACK_RETRY_MS,
 * PRISM_NACK_MAX_TRIES times in all, then forgotten; what fills a gap is
 * FILLED once, a DUPLICATE after that, LATE once given up. */
static void test_nack_gaps(void **state)
{
    (void)state;
    struct prism_nack_gen g;
    prism_nack_gen_init(&g);
    uint16_t out[PRISM_NACK_MAX_MISSING];
    assert_int_equal(prism_nack_gen_collect(&g, 0, out, 8), 0); /* nothing yet */
    note_range(&g, 100, 102, 1000);
    assert_int_equal(prism_nack_gen_note(&g, 102, false, 1000), PRISM_NACK_DUPLICATE);
    assert_int_equal(prism_nack_gen_collect(&g, 1000, out, 8), 0); /* in order: no gap */
    assert_int_equal(prism_nack_gen_note(&g, 106, false, 1010), PRISM_NACK_FRESH);
    assert_int_equal(g.n_miss, 3);
    assert_int_equal(prism_nack_gen_collect(&g, 1020, out, 8), 3);
    assert_int_equal(out[0], 103);
    assert_int_equal(out[1], 104);
    assert_int_equal(out[2], 105);
    assert_int_equal(prism_nack_gen_collect(&g, 1020 + PRISM_NACK_RETRY_MS - 1, out, 8), 0);
    /* 104 comes back, as an RTX: filled; its duplicate is not. */
    assert_int_equal(prism_nack_gen_note(&g, 104, true, 1030), PRISM_NACK_FILLED);
    assert_int_equal(prism_nack_gen_note(&g, 104, true, 1031), PRISM_NACK_DUPLICATE);
    assert_int_equal(prism_nack_gen_note(&g, 104, false, 1032), PRISM_NACK_DUPLICATE);
    assert_int_equal(prism_nack_gen_collect(&g, 1020 + PRISM_NACK_RETRY_MS, out, 8), 2);
    assert_int_equal(out[0], 103);
    assert_int_equal(out[1], 105);
    size_t tries = 2;
    for (uint64_t t = 1020 + 2 * PRISM_NACK_RETRY_MS; t < 1500; t += PRISM_NACK_RETRY_MS)
        tries += prism_nack_gen_collect(&g, t, out, 8) > 0;
    assert_int_equal(tries, PRISM_NACK_MAX_TRIES);
    assert_int_equal(g.n_miss, 0); /* out of tries: forgotten */
    /* Given up, but it arrives after all: still new to the subscribers. */
    assert_int_equal(prism_nack_gen_note(&g, 103, true, 1600), PRISM_NACK_LATE);
    assert_int_equal(prism_nack_gen_note(&g, 103, true, 1601), PRISM_NACK_DUPLICATE);
    /* A gap not collected within PRISM_NACK_MAX_AGE_MS is forgotten unasked. */
    assert_int_equal(prism_nack_gen_note(&g, 108, false, 2000), PRISM_NACK_FRESH);
    assert_int_equal(prism_nack_gen_collect(&g, 2000 + PRISM_NACK_MAX_AGE_MS + 1, out, 8), 0);
    assert_int_equal(g.n_miss, 0);
    /* `cap` bounds one collection; the rest wait for the next. */
    note_range(&g, 110, 110, 3000); /* 109 missing */
    note_range(&g, 120, 120, 3000); /* 111..119 missing */
    assert_int_equal(prism_nack_gen_collect(&g, 3000, out, 4), 4);
    assert_int_equal(out[0], 109);
    assert_int_equal(out[3], 113);
    assert_int_equal(prism_nack_gen_collect(&g, 3001, out, 8), 6);
    assert_int_equal(out[0], 114);
    assert_int_equal(out[5], 119);
}

/* Sequence numbers wrap; jumps restart; repairs never move the stream; at
 * most PRISM_NACK_MAX_MISSING are awaited, the newest. */
static void test_nack_bounds(void **state)
{
    (void)state;
    struct prism_nack_gen g;
    prism_nack_gen_init(&g);
    uint16_t out[PRISM_NACK_MAX_MISSING];
    /* A repair before any original is unknown. */
    assert_int_equal(prism_nack_gen_note(&g, 5, true, 0), PRISM_NACK_TOO_OLD);
    note_range(&g, 65533, 65534, 0);
    assert_int_equal(prism_nack_gen_note(&g, 2, false, 0), PRISM_NACK_FRESH);
    assert_int_equal(prism_nack_gen_collect(&g, 0, out, 8), 3);
    assert_int_equal(out[0], 65535);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    assert_int_equal(prism_nack_gen_note(&g, 0, true, 5), PRISM_NACK_FILLED);
    assert_int_equal(prism_nack_gen_note(&g, 65534, false, 5), PRISM_NACK_DUPLICATE);
    /* A repair far off is TOO_OLD and changes nothing. */
    assert_int_equal(prism_nack_gen_note(&g, 2 + PRISM_NACK_WINDOW, true, 6), PRISM_NACK_TOO_OLD);
    /* So is one just ahead of the stream (no gap, no move). */
    assert_int_equal(prism_nack_gen_note(&g, 9, true, 6), PRISM_NACK_TOO_OLD);
    assert_int_equal(prism_nack_gen_note(&g, 3, false, 6), PRISM_NACK_FRESH);
    assert_int_equal(g.n_miss, 2);
    /* An original jumping a window ahead restarts: no gap to NACK. */
    assert_int_equal(prism_nack_gen_note(&g, 3 + PRISM_NACK_WINDOW, false, 7), PRISM_NACK_FRESH);
    assert_int_equal(g.n_miss, 0);
    assert_int_equal(prism_nack_gen_note(&g, 3 + PRISM_NACK_WINDOW, false, 7),
                     PRISM_NACK_DUPLICATE);
    /* ... and so does one far behind (a new sender state). */
    assert_int_equal(prism_nack_gen_note(&g, 3, false, 8), PRISM_NACK_FRESH);
    assert_int_equal(prism_nack_gen_note(&g, 4, false, 8), PRISM_NACK_FRESH);
    /* A gap wider than the list: the newest PRISM_NACK_MAX_MISSING wait. */
    unsigned top = 4 + PRISM_NACK_MAX_MISSING + 50;
    assert_int_equal(prism_nack_gen_note(&g, (uint16_t)top, false, 9), PRISM_NACK_FRESH);
    assert_int_equal(g.n_miss, PRISM_NACK_MAX_MISSING);
    assert_int_equal(prism_nack_gen_note(&g, 5, true, 9), PRISM_NACK_LATE); /* pushed out */
    /* One more gap pushes the oldest awaited out. */
    assert_int_equal(prism_nack_gen_note(&g, (uint16_t)(top + 3), false, 9), PRISM_NACK_FRESH);
    assert_int_equal(g.n_miss, PRISM_NACK_MAX_MISSING);
    size_t n = prism_nack_gen_collect(&g, 10, out, PRISM_NACK_MAX_MISSING);
    assert_int_equal(n, PRISM_NACK_MAX_MISSING);
    assert_int_equal(out[0], top - PRISM_NACK_MAX_MISSING + 2);
    assert_int_equal(out[n - 1], top + 2);
}

/* An RTX packet (RFC 4588 §4) with a header extension and the marker bit,
 * restored to the original; padding probes and a bare OSN are refused. */
static void test_rtx_unwrap(void **state)
{
    (void)state;
    uint8_t buf[64] = {
        0x90, 0x80 | 97, 0x01, 0xf4,      /* V=2, X, M, pt 97, seq 500 */
        0x00, 0x00,      0x30, 0x39,      /* timestamp 12345 */
        0x00, 0x00,      0x11, 0x11,      /* rtx SSRC */
        0xbe, 0xde,      0x00, 0x01,      /* one-byte extensions, one word */
        0x10, 0x2a,      0x00, 0x00,      /* id 1 len 1: 0x2a, padding */
        0x04, 0xd2,      'a',  'b',  'c', /* OSN 1234, payload */
    };
    size_t len = 25;
    struct prism_rtp_header h;
    assert_int_equal(prism_rtp_parse(buf, len, &h), 0);
    uint8_t *orig = NULL;
    uint16_t osn = 0;
    assert_int_equal(prism_rtx_unwrap(buf, &len, &h, 96, 0x2222, &orig, &osn), 0);
    assert_ptr_equal(orig, buf + 2);
    assert_int_equal(len, 23);
    assert_int_equal(osn, 1234);
    struct prism_rtp_header o;
    assert_int_equal(prism_rtp_parse(orig, len, &o), 0);
    assert_int_equal(o.seq, 1234);
    assert_int_equal(o.payload_type, 96);
    assert_true(o.marker);
    assert_int_equal(o.ssrc, 0x2222);
    assert_int_equal(o.timestamp, 12345);
    assert_int_equal(o.ext_len, 4);
    assert_int_equal(orig[o.ext_offset + 1], 0x2a);
    assert_int_equal(o.payload_len, 3);
    assert_memory_equal(orig + o.header_len, "abc", 3);

    /* Padding only (a bandwidth probe): nothing to restore. */
    uint8_t probe[32] = {0xa0, 97, 0, 1, 0, 0, 0, 0, 0, 0, 0x11, 0x11};
    probe[31] = 20; /* 20 bytes of padding after the header */
    len = 32;
    assert_int_equal(prism_rtp_parse(probe, len, &h), 0);
    assert_int_equal(prism_rtx_unwrap(probe, &len, &h, 96, 0x2222, &orig, &osn), PRISM_EINVAL);
    assert_int_equal(len, 32);
    /* An OSN and padding, no media. */
    uint8_t bare[20] = {0xa0, 97, 0, 2, 0, 0, 0, 0, 0, 0, 0x11, 0x11, 0x00, 0x07};
    bare[19] = 6;
    len = 20;
    assert_int_equal(prism_rtp_parse(bare, len, &h), 0);
    assert_int_equal(h.payload_len, 2);
    assert_int_equal(prism_rtx_unwrap(bare, &len, &h, 96, 0x2222, &orig, &osn), PRISM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyframe_gate),  cmocka_unit_test(test_keyframe_budget),
        cmocka_unit_test(test_report),         cmocka_unit_test(test_speaker),
        cmocka_unit_test(test_last_n_ranking), cmocka_unit_test(test_prefer_set),
        cmocka_unit_test(test_prefer_paused),  cmocka_unit_test(test_nack_gaps),
        cmocka_unit_test(test_nack_bounds),    cmocka_unit_test(test_rtx_unwrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
