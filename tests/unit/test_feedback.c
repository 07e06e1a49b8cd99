/* Unit tests for relay/worker/feedback: the keyframe request throttle, a
 * subscriber's keyframe budget, the receiver report + REMB a publisher gets
 * (parsed back with relay/wire/rtcp), and the dominant-speaker choice (voiced share, loudness
 * threshold, ties, meters reset by each choice). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/worker/feedback.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyframe_gate),
        cmocka_unit_test(test_keyframe_budget),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_speaker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
