/* Unit tests for prism-bench's cheap receive path (issue 10, item 7):
 * the --verify-sample rule (bench/sample.h), the header-only accounting of
 * an SRTP packet left encrypted (prism_bench_rx_header: loss and delay from
 * the clear header, the encrypted padding count ignored) checked against
 * the full path on the same plain packets, and the ramp's new stop
 * criteria (bench/ramp.h: a passing step with the relay's or the bench's
 * core full ends the ramp, and says which; a failing window is measured
 * again under --ramp-retries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/media.h"
#include "bench/ramp.h"
#include "bench/sample.h"
#include "relay/base/error.h"

static void sampler_one_in_n(void **state)
{
    (void)state;
    struct prism_bench_sampler s;
    prism_bench_sampler_init(&s, 3);
    const bool want[] = {true, false, false, true, false, false, true};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(prism_bench_sampler_take(&s), want[i]);
    for (unsigned every = 0; every <= 1; every++) { /* 0 counts as 1: every packet */
        prism_bench_sampler_init(&s, every);
        for (int i = 0; i < 5; i++)
            assert_true(prism_bench_sampler_take(&s));
    }
}

static void subscribers_one_in_n(void **state)
{
    (void)state;
    for (size_t i = 0; i < 20; i++) {
        assert_true(prism_bench_sample_subscriber(1, i));
        assert_true(prism_bench_sample_subscriber(0, i));
        assert_int_equal(prism_bench_sample_subscriber(4, i), i % 4 == 0);
    }
}

/* abs-send-time (6.18 fixed point, 24 bits) of a CLOCK_MONOTONIC instant. */
static uint32_t ast(uint64_t ns)
{
    return (uint32_t)(((ns / 1000) << 18) / 1000000) & 0xFFFFFFu;
}

/* An RTP packet as the relay forwards the bench's: abs-send-time (id 3) in
 * a one-byte extension block, `payload` bytes, then a 10-byte "tag". With
 * `padded`, the P bit is set and the last byte (the count, encrypted in
 * SRTP) is garbage larger than the payload. Returns the length. */
static size_t make_pkt(uint8_t *p, uint16_t seq, uint64_t sent_ns, size_t payload, bool padded)
{
    size_t n = 0;
    p[n++] = (uint8_t)(0x90 | (padded ? 0x20 : 0));
    p[n++] = PRISM_BENCH_PT_OPUS;
    p[n++] = (uint8_t)(seq >> 8);
    p[n++] = (uint8_t)seq;
    uint32_t ts = (uint32_t)seq * 960u, ssrc = 0x11223344u, a = ast(sent_ns);
    const uint8_t fixed[] = {(uint8_t)(ts >> 24),
                             (uint8_t)(ts >> 16),
                             (uint8_t)(ts >> 8),
                             (uint8_t)ts,
                             (uint8_t)(ssrc >> 24),
                             (uint8_t)(ssrc >> 16),
                             (uint8_t)(ssrc >> 8),
                             (uint8_t)ssrc,
                             0xbe,
                             0xde,
                             0x00,
                             0x01,
                             PRISM_BENCH_EXT_ABS_SEND_TIME << 4 | 2,
                             (uint8_t)(a >> 16),
                             (uint8_t)(a >> 8),
                             (uint8_t)a};
    memcpy(p + n, fixed, sizeof(fixed));
    n += sizeof(fixed);
    for (size_t i = 0; i < payload + 10; i++)
        p[n++] = (uint8_t)(0xa5 ^ i);
    if (padded)
        p[n - 1] = 0xff;
    return n;
}

/* The header path counts what the full path counts: packets, loss over a
 * gap, and a delay near the 2 ms the packets spent "in flight". */
static void header_path_matches_full_path(void **state)
{
    (void)state;
    struct prism_bench_rx hdr, full;
    assert_int_equal(prism_bench_rx_init(&hdr, false, 0x11223344u), 0);
    assert_int_equal(prism_bench_rx_init(&full, false, 0x11223344u), 0);
    uint8_t pkt[256];
    uint64_t now = prism_bench_now_ns();
    size_t got = 0;
    for (uint16_t seq = 65500; seq != 40; seq++) { /* wraps */
        if (seq % 10 == 3)
            continue; /* lost */
        uint64_t at = now + (uint64_t)got * 20000000u;
        size_t len = make_pkt(pkt, seq, at - 2000000u, 60, seq % 2 == 0);
        assert_int_equal(prism_bench_rx_header(&hdr, pkt, len, at), 0);
        len = make_pkt(pkt, seq, at - 2000000u, 60, false);
        prism_bench_rx_packet(&full, pkt, len, at);
        got++;
    }
    assert_int_equal(hdr.packets, got);
    assert_int_equal(full.packets, got);
    assert_int_equal(prism_bench_rx_expected(&hdr), prism_bench_rx_expected(&full));
    assert_int_equal(prism_bench_rx_lost(&hdr), prism_bench_rx_lost(&full));
    assert_int_equal(prism_bench_rx_lost(&hdr), 8);
    assert_int_equal(hdr.delay.n, got);
    double p50 = prism_bench_hist_quantile_ms(&hdr.delay, 0.5);
    assert_true(p50 >= 1.9 && p50 <= 2.1);
    assert_int_equal(hdr.frames_decoded, 0); /* nothing decrypted, nothing decoded */
    prism_bench_rx_deinit(&hdr);
    prism_bench_rx_deinit(&full);
}

static void header_path_refuses_what_it_cannot_read(void **state)
{
    (void)state;
    struct prism_bench_rx rx;
    assert_int_equal(prism_bench_rx_init(&rx, true, 1), 0);
    uint8_t pkt[512];
    size_t len = make_pkt(pkt, 1, prism_bench_now_ns(), 60, false);
    assert_int_equal(prism_bench_rx_header(&rx, pkt, 11, 0), PRISM_EINVAL);
    pkt[0] = 0x40; /* version 1 */
    assert_int_equal(prism_bench_rx_header(&rx, pkt, len, 0), PRISM_EINVAL);
    /* An extension block longer than the header copy. */
    len = make_pkt(pkt, 1, prism_bench_now_ns(), 300, false);
    pkt[14] = 0;
    pkt[15] = 40; /* 160 bytes of elements */
    assert_int_equal(prism_bench_rx_header(&rx, pkt, len, 0), PRISM_EINVAL);
    assert_int_equal(rx.packets, 0);
    prism_bench_rx_deinit(&rx);
}

/* Drives one ramp step through JOINING, SETTLING and a 3 s window with
 * the relay and the bench using `relay_share` and `bench_share` of a core;
 * returns what the close of the window asks for. */
static enum prism_bench_ramp_action one_step(struct prism_bench_ramp *ramp, double relay_share,
                                             double bench_share)
{
    static struct prism_bench_hist delay;
    memset(&delay, 0, sizeof(delay));
    prism_bench_ramp_begin_step(ramp, 10, 1, 0);
    enum prism_bench_ramp_action a = PRISM_BENCH_RAMP_WAIT;
    for (int t = 1; t < 20 && a == PRISM_BENCH_RAMP_WAIT; t++) {
        prism_bench_hist_add(&delay, 1500);
        struct prism_bench_ramp_now now = {
            .t = t,
            .sample = (size_t)t,
            .relay_cpu_s = relay_share * t,
            .bench_cpu_s = bench_share * t,
            .rx_packets = 1000u * (uint64_t)t,
            .expected = 1000u * (uint64_t)t,
            .delay = &delay,
            .peers = 10,
            .peers_ready = 10,
            .joins_sent = true,
        };
        a = prism_bench_ramp_on_sample(ramp, &now);
    }
    return a;
}

static void ramp_stops_when_a_core_is_full(void **state)
{
    (void)state;
    struct prism_bench_ramp_step steps[4];
    struct prism_bench_ramp ramp = {
        .max_peers = 100, .step_s = 3, .relay_cores = 1, .bench_cores = 1, .steps = steps};
    memset(steps, 0, sizeof(steps));
    assert_int_equal(one_step(&ramp, 0.5, 0.5), PRISM_BENCH_RAMP_NEXT_STEP);

    memset(&ramp, 0, sizeof(ramp));
    ramp = (struct prism_bench_ramp){
        .max_peers = 100, .step_s = 3, .relay_cores = 1, .bench_cores = 1, .steps = steps};
    assert_int_equal(one_step(&ramp, 0.97, 0.5), PRISM_BENCH_RAMP_STOP);
    assert_true(steps[0].pass);
    assert_non_null(strstr(ramp.stop, "the relay's capacity"));
    assert_int_equal(prism_bench_ramp_capacity(steps, ramp.n_steps), 0);

    ramp = (struct prism_bench_ramp){
        .max_peers = 100, .step_s = 3, .relay_cores = 1, .bench_cores = 1, .steps = steps};
    assert_int_equal(one_step(&ramp, 0.5, 0.98), PRISM_BENCH_RAMP_STOP);
    assert_non_null(strstr(ramp.stop, "the bench's limit"));

    /* Unknown cores (an unpinned relay): CPU is not judged. */
    ramp = (struct prism_bench_ramp){.max_peers = 100, .step_s = 3, .steps = steps};
    assert_int_equal(one_step(&ramp, 0.99, 0.99), PRISM_BENCH_RAMP_NEXT_STEP);
}

/* Feeds 1 s samples of a 10-peer step, 1,000 packets/s, losing 10 % up
 * to `lossy_until` s; returns the first action that is not WAIT. */
static enum prism_bench_ramp_action lossy_step(struct prism_bench_ramp *ramp, int lossy_until)
{
    static struct prism_bench_hist delay;
    memset(&delay, 0, sizeof(delay));
    prism_bench_ramp_begin_step(ramp, 10, 1, 0);
    enum prism_bench_ramp_action a = PRISM_BENCH_RAMP_WAIT;
    uint64_t lost = 0;
    for (int t = 1; t < 30 && a == PRISM_BENCH_RAMP_WAIT; t++) {
        prism_bench_hist_add(&delay, 1500);
        lost += t <= lossy_until ? 100 : 0;
        struct prism_bench_ramp_now now = {
            .t = t,
            .sample = (size_t)t,
            .rx_packets = 1000u * (uint64_t)t,
            .lost = lost,
            .expected = 1000u * (uint64_t)t,
            .delay = &delay,
            .peers = 10,
            .peers_ready = 10,
            .joins_sent = true,
        };
        a = prism_bench_ramp_on_sample(ramp, &now);
    }
    return a;
}

/* --ramp-retries: a failing window is measured again; the step fails only
 * when the last window fails too. */
static void ramp_measures_a_failing_window_again(void **state)
{
    (void)state;
    struct prism_bench_ramp_step steps[4];
    memset(steps, 0, sizeof(steps));
    struct prism_bench_ramp ramp = {.max_peers = 100, .step_s = 3, .retries = 1, .steps = steps};
    assert_int_equal(lossy_step(&ramp, 6), PRISM_BENCH_RAMP_NEXT_STEP); /* one bad window */
    assert_true(steps[0].pass);
    assert_int_equal(steps[0].windows, 2);

    ramp = (struct prism_bench_ramp){.max_peers = 100, .step_s = 3, .retries = 1, .steps = steps};
    assert_int_equal(lossy_step(&ramp, 30), PRISM_BENCH_RAMP_STOP);
    assert_false(steps[0].pass);
    assert_int_equal(steps[0].windows, 2);
    assert_non_null(strstr(ramp.stop, "loss"));

    ramp = (struct prism_bench_ramp){.max_peers = 100, .step_s = 3, .steps = steps};
    assert_int_equal(lossy_step(&ramp, 6), PRISM_BENCH_RAMP_STOP); /* no retries: as before */
    assert_int_equal(steps[0].windows, 1);

    /* --ramp-max-p99: the 1.5 ms delay fails a 1 ms threshold. */
    ramp =
        (struct prism_bench_ramp){.max_peers = 100, .step_s = 3, .max_p99_ms = 1, .steps = steps};
    assert_int_equal(lossy_step(&ramp, 0), PRISM_BENCH_RAMP_STOP);
    assert_non_null(strstr(ramp.stop, "delay p99"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sampler_one_in_n),
        cmocka_unit_test(subscribers_one_in_n),
        cmocka_unit_test(header_path_matches_full_path),
        cmocka_unit_test(header_path_refuses_what_it_cannot_read),
        cmocka_unit_test(ramp_stops_when_a_core_is_full),
        cmocka_unit_test(ramp_measures_a_failing_window_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
