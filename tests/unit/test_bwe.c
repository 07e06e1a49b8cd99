/* Unit tests for relay/worker/bwe (a subscriber's downlink estimate) on
 * scripted feedback: a simulated link (rate, queue, loss) between the
 * relay's stamps and the feedback that reports them, in steady, congested,
 * lossy and recovering conditions, and REMB in place of transport-cc; for
 * relay/worker/layers (the layer choice and its hysteresis); and for the
 * transport-cc feedback reader of relay/wire/tcc (against its writer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/wire/tcc.h"
#include "relay/worker/bwe.h"
#include "relay/worker/layers.h"

/* --- a simulated downlink ------------------------------------------------------ */

#define PACKET_BYTES 1000
#define BASE_DELAY_US 20000
#define FEEDBACK_MS 100
#define QUEUE_MAX_US 300000 /* the bottleneck's queue: packets beyond it are dropped */
#define MAX_PENDING 4096

struct sim {
    struct prism_bwe bwe;
    uint64_t now_ms;
    uint32_t send_bps;   /* what the relay sends */
    uint32_t link_bps;   /* bottleneck; 0: none */
    unsigned loss_every; /* drop every n-th packet; 0: none */
    double credit;       /* bytes owed to the link by the sender */
    int64_t link_free_us;
    unsigned sent;
    struct prism_tcc_status pending[MAX_PENDING];
    size_t n_pending;
    bool saw_overuse;
};

static void sim_init(struct sim *s, uint32_t send_bps)
{
    memset(s, 0, sizeof(*s));
    prism_bwe_init(&s->bwe);
    s->now_ms = 1000;
    s->send_bps = send_bps;
}

/* Runs `ms` milliseconds: packets go out at send_bps, through the link,
 * and feedback comes every FEEDBACK_MS about what has arrived (or was
 * lost) by then. */
static void sim_run(struct sim *s, uint64_t ms)
{
    for (uint64_t end = s->now_ms + ms; s->now_ms < end; s->now_ms++) {
        s->credit += s->send_bps / 8000.0;
        while (s->credit >= PACKET_BYTES) {
            s->credit -= PACKET_BYTES;
            uint16_t seq = prism_bwe_stamp(&s->bwe, s->now_ms, PACKET_BYTES);
            int64_t t = (int64_t)s->now_ms * 1000;
            bool lost = s->loss_every != 0 && ++s->sent % s->loss_every == 0;
            if (s->link_bps != 0 && !lost) {
                int64_t start = t > s->link_free_us ? t : s->link_free_us;
                lost = start - t > QUEUE_MAX_US; /* tail drop */
                if (!lost) {
                    s->link_free_us = start + (int64_t)PACKET_BYTES * 8 * 1000000 / s->link_bps;
                    t = s->link_free_us;
                }
            }
            assert_true(s->n_pending < MAX_PENDING);
            s->pending[s->n_pending++] = (struct prism_tcc_status){seq, !lost, t + BASE_DELAY_US};
        }
        if (s->now_ms % FEEDBACK_MS != 0)
            continue;
        /* Report the prefix that has arrived (or is lost and overtaken). */
        size_t n = 0;
        while (n < s->n_pending && s->pending[n].arrival_us <= (int64_t)s->now_ms * 1000)
            n++;
        if (n > 0) {
            prism_bwe_feedback(&s->bwe, s->pending, n, s->now_ms);
            memmove(s->pending, s->pending + n, (s->n_pending - n) * sizeof(s->pending[0]));
            s->n_pending -= n;
        }
        s->saw_overuse |= s->bwe.usage == PRISM_BWE_OVERUSE;
    }
}

static uint32_t estimate(const struct sim *s)
{
    return prism_bwe_estimate(&s->bwe, s->now_ms);
}

/* An uncongested 800 kbps stream: no overuse; from the start value the
 * estimate grows, and stops at 1.5 x what was acknowledged. */
static void test_steady(void **state)
{
    (void)state;
    struct sim *s = calloc(1, sizeof(*s));
    sim_init(s, 800000);
    assert_int_equal(estimate(s), PRISM_BWE_START_BPS);
    sim_run(s, 30000);
    assert_false(s->saw_overuse);
    assert_in_range(s->bwe.acked_bps, 780000, 820000);
    assert_in_range(estimate(s), 1000000, 1250000);
    assert_int_equal(s->bwe.feedback_unknown, 0);
    free(s);
}

/* 1.5 Mbps into a 500 kbps bottleneck: the queue grows, the trendline sees
 * it, the queue overflows, and the estimate falls below what gets through. */
static void test_congested(void **state)
{
    (void)state;
    struct sim *s = calloc(1, sizeof(*s));
    sim_init(s, 1500000);
    prism_bwe_set_ceiling(&s->bwe, 3000000);
    s->link_bps = 500000;
    sim_run(s, 5000);
    assert_true(s->saw_overuse);
    assert_in_range(s->bwe.acked_bps, 450000, 550000);
    assert_in_range(estimate(s), PRISM_BWE_MIN_BPS, 480000);
    free(s);
}

/* Loss bands: 25% loss decreases the estimate (to half of what still gets
 * through), 5% holds it, 1% lets it grow. */
static void test_lossy(void **state)
{
    (void)state;
    struct sim *s = calloc(1, sizeof(*s));
    sim_init(s, 1000000);
    sim_run(s, 5000);
    uint32_t clean = estimate(s);
    assert_in_range(clean, 1200000, 1600000); /* ~1.5 x acknowledged + 10 kbps at most */
    s->loss_every = 4;
    sim_run(s, 8000);
    assert_false(s->saw_overuse);
    assert_in_range(estimate(s), 370000, 400000); /* 0.5 x 750 kbps */

    sim_init(s, 1000000);
    prism_bwe_set_ceiling(&s->bwe, 3000000);
    sim_run(s, 5000);
    clean = estimate(s);
    s->loss_every = 20;
    sim_run(s, 5000);
    assert_int_equal(estimate(s), clean); /* never grew, never fell */
    s->loss_every = 100;
    prism_bwe_set_ceiling(&s->bwe, 6000000);
    sim_run(s, 5000);
    assert_true(estimate(s) > clean);
    free(s);
}

/* After congestion the link clears: the estimate grows back (8%/s now that
 * the start-up is over), up to the ceiling the caller set. */
static void test_recovery(void **state)
{
    (void)state;
    struct sim *s = calloc(1, sizeof(*s));
    sim_init(s, 1500000);
    prism_bwe_set_ceiling(&s->bwe, 2000000);
    sim_run(s, 5000);
    assert_true(estimate(s) > 1500000);
    s->link_bps = 500000;
    sim_run(s, 5000);
    uint32_t low = estimate(s);
    assert_true(low < 500000);
    assert_false(s->bwe.startup);
    /* The relay now sends what fits (a low layer); the queue drains. */
    s->send_bps = 300000;
    sim_run(s, 5000);
    s->link_bps = 0;
    s->saw_overuse = false;
    sim_run(s, 20000);
    assert_false(s->saw_overuse);
    /* Beyond 1.5 x the 300 kbps acknowledged: the ceiling lets it try. */
    assert_in_range(estimate(s), 1200000, 2000000);
    free(s);
}

/* A subscriber that sends REMB instead of transport-cc feedback. */
static void test_remb(void **state)
{
    (void)state;
    struct prism_bwe *b = calloc(1, sizeof(*b));
    prism_bwe_init(b);
    assert_int_equal(prism_bwe_estimate(b, 1000), PRISM_BWE_START_BPS);
    prism_bwe_remb(b, 700000, 1000);
    assert_int_equal(prism_bwe_estimate(b, 1500), 700000);
    assert_int_equal(prism_bwe_estimate(b, 1000 + PRISM_BWE_FEEDBACK_STALE_MS),
                     PRISM_BWE_START_BPS); /* stale: the last estimate */
    /* transport-cc feedback, when it comes, rules. */
    uint16_t seq = prism_bwe_stamp(b, 3000, 1000);
    struct prism_tcc_status st = {seq, true, 3020000};
    prism_bwe_remb(b, 700000, 3000);
    prism_bwe_feedback(b, &st, 1, 3050);
    assert_int_equal(prism_bwe_estimate(b, 3100), PRISM_BWE_START_BPS);
    /* Feedback about what was never sent is counted, not used. */
    st.seq = (uint16_t)(seq + 7);
    prism_bwe_feedback(b, &st, 1, 3100);
    assert_int_equal(b->feedback_unknown, 1);
    free(b);
}

/* --- the layer choice ---------------------------------------------------------- */

static const struct prism_layer_info three[3] = {
    {150000, 180, true}, {500000, 360, true}, {1500000, 720, true}};

static void test_layers(void **state)
{
    (void)state;
    struct prism_layer_choice c = {0};
    /* The first choice: the highest that fits, at once. */
    assert_int_equal(prism_layer_choose(&c, three, 3, 600000, 0, 1000), 1);
    /* Up only after the hold. */
    assert_int_equal(prism_layer_choose(&c, three, 3, 2000000, 0, 2000), 1);
    assert_int_equal(prism_layer_choose(&c, three, 3, 2000000, 0, 2000 + PRISM_LAYERS_HOLD_MS - 1),
                     1);
    assert_int_equal(prism_layer_choose(&c, three, 3, 2000000, 0, 2000 + PRISM_LAYERS_HOLD_MS), 2);
    /* A keyframe burst (within 25% over) is not congestion; more is: down at once. */
    assert_int_equal(prism_layer_choose(&c, three, 3, 1300000, 0, 6000), 2);
    assert_int_equal(prism_layer_choose(&c, three, 3, 400000, 0, 6100), 0);
    /* That up-switch failed within its probation: the next hold doubles. */
    uint64_t t = 7000;
    assert_int_equal(prism_layer_choose(&c, three, 3, 600000, 0, t), 0);
    assert_int_equal(prism_layer_choose(&c, three, 3, 600000, 0, t + PRISM_LAYERS_HOLD_MS), 0);
    assert_int_equal(prism_layer_choose(&c, three, 3, 600000, 0, t + 2 * PRISM_LAYERS_HOLD_MS), 1);
    /* One that lasts resets it. */
    t += 2 * PRISM_LAYERS_HOLD_MS + PRISM_LAYERS_PROBATION_MS;
    assert_int_equal(prism_layer_choose(&c, three, 3, 600000, 0, t), 1);
    assert_int_equal(c.hold_ms, 0);
    /* The backend's max_height caps it, whatever the budget. */
    assert_int_equal(prism_layer_choose(&c, three, 3, 5000000, 360, t + 1), 1);
    assert_int_equal(prism_layer_choose(&c, three, 3, 5000000, 360, t + 99999), 1);
    assert_int_equal(prism_layer_choose(&c, three, 3, 5000000, 200, t + 100000), 0);
    /* Nothing fits: the lowest active layer. */
    assert_int_equal(prism_layer_choose(&c, three, 3, 1000, 0, t + 100001), 0);
    /* The layer it takes stops (the publisher dropped it): left at once. */
    struct prism_layer_info two[3] = {three[0], three[1], three[2]};
    struct prism_layer_choice d = {0};
    assert_int_equal(prism_layer_choose(&d, two, 3, 5000000, 0, 1000), 2);
    two[2].active = false;
    assert_int_equal(prism_layer_choose(&d, two, 3, 5000000, 0, 1001), 1);
    two[0].active = two[1].active = false; /* nothing is sent: stays */
    assert_int_equal(prism_layer_choose(&d, two, 3, 5000000, 0, 1002), 1);
}

/* --- the transport-cc reader --------------------------------------------------- */

static void test_tcc_parse(void **state)
{
    (void)state;
    /* Statuses the writer encodes as runs, one-bit and two-bit vectors,
     * small and large deltas. */
    enum { N = 40 };
    int64_t arrival[N];
    for (int i = 0; i < N; i++)
        arrival[i] = 1000000 + i * 3000;
    arrival[3] = arrival[4] = PRISM_TCC_NOT_RECEIVED;
    arrival[10] = arrival[9] + 200000; /* large delta */
    arrival[11] = arrival[10] - 5000;  /* negative: large */
    for (int i = 20; i < 30; i++)
        arrival[i] = PRISM_TCC_NOT_RECEIVED;
    uint8_t buf[512];
    size_t reported;
    int len = prism_tcc_write(buf, sizeof(buf), 1, 2, 65530, 0, arrival, SIZE_MAX, 0, N, &reported);
    assert_true(len > 0);
    assert_int_equal(reported, N);
    struct prism_tcc_status st[N];
    /* The FCI follows the 12-byte RTPFB header. */
    assert_int_equal(prism_tcc_parse(buf + 12, (size_t)len - 12, st, N), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(st[i].seq, (uint16_t)(65530 + i));
        assert_int_equal(st[i].received, arrival[i] != PRISM_TCC_NOT_RECEIVED);
        if (st[i].received) /* floored to the 250 µs tick, as the writer does */
            assert_int_equal(st[i].arrival_us, arrival[i] / 250 * 250);
    }
    /* A shorter cap: the first statuses, still with their deltas. */
    assert_int_equal(prism_tcc_parse(buf + 12, (size_t)len - 12, st, 5), 5);
    assert_int_equal(st[2].arrival_us, arrival[2] / 250 * 250);
    /* Truncated chunks or deltas, a reserved symbol: refused. */
    assert_int_equal(prism_tcc_parse(buf + 12, 9, st, N), PRISM_EINVAL);
    assert_int_equal(prism_tcc_parse(buf + 12, (size_t)len - 12 - 8, st, N), PRISM_EINVAL);
    uint8_t reserved[12] = {0, 1, 0, 1, 0, 0, 0, 0, 0x60, 0x01, 0, 0}; /* run of symbol 3 */
    assert_int_equal(prism_tcc_parse(reserved, sizeof(reserved), st, N), PRISM_EINVAL);
    assert_int_equal(prism_tcc_parse(NULL, 8, st, N), PRISM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady),    cmocka_unit_test(test_congested),
        cmocka_unit_test(test_lossy),     cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_remb),      cmocka_unit_test(test_layers),
        cmocka_unit_test(test_tcc_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
