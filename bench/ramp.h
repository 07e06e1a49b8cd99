/* prism-bench run --ramp: per-step figures and the capacity verdict.
 *
 * Owns the arithmetic of a ramp, not its timing: the scenario (bench/
 * scenario.c) adds participants step by step and, at the two ends of each
 * step's measurement window, takes a mark (struct prism_bench_ramp_mark:
 * cumulative counters at one instant). prism_bench_ramp_close computes the
 * step's figures from the two marks, over that window only (loss from the
 * receivers' RFC 3550 counters, delay percentiles from the difference of the
 * merged delay histograms, relay and bench CPU from /proc), and judges it
 * against the thresholds of issue 4: loss above 1 % or p99 one-way delay
 * above 50 ms ends the ramp. The capacity is the last step that passed.
 *
 * Thread: the bench thread. Marks are 8 KiB (one histogram); steps are a few
 * hundred bytes and allocated by the caller.
 */
#ifndef PRISM_BENCH_RAMP_H
#define PRISM_BENCH_RAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bench/media.h"

#define PRISM_BENCH_RAMP_MAX_LOSS_PCT 1.0
#define PRISM_BENCH_RAMP_MAX_P99_MS 50.0

/* Cumulative counters at one instant (all since the run began). */
struct prism_bench_ramp_mark {
    double t;                      /* s since joins began */
    size_t sample;                 /* index of the run's timeline sample taken then */
    double relay_cpu_s;            /* relay user+sys, s */
    double bench_cpu_s;            /* this process's user+sys, s */
    uint64_t rx_packets;           /* RTP packets the bench received */
    uint64_t lost, expected;       /* RFC 3550 A.3 summed over every stream */
    uint64_t decode_errors;        /* summed over every receiver */
    struct prism_bench_hist delay; /* every receiver's delay histogram, merged */
};

/* One step: the load after it was added, and the figures of its window. */
struct prism_bench_ramp_step {
    unsigned peers;   /* participants joined so far */
    unsigned bubbles; /* bubbles in use */
    size_t peers_ready, peers_failed;
    size_t streams_expected;          /* publisher -> subscriber streams */
    size_t streams_flowing;           /* of which carried packets by the close */
    double t_start, t_open, t_close;  /* s since joins began: step began, window */
    size_t sample_open, sample_close; /* timeline indices of the window's ends */
    double loss_pct;                  /* over the window */
    double delay_p50_ms, delay_p99_ms;
    double rx_pps;                      /* RTP packets/s delivered to the bench */
    double relay_in_pps, relay_out_pps; /* relay counters (filled by the caller) */
    double relay_cpu_pct;               /* % of one core */
    double bench_cpu_pct;
    double relay_cpu_us_per_packet; /* relay CPU / packets delivered */
    double worst_lag_ms;            /* bench pacer lateness (caller) */
    uint64_t decode_errors;         /* during the window */
    bool pass;
    char why[160]; /* why it failed; "" when it passed */
};

/* Computes `step`'s window figures from marks `a` (window open) and `b`
 * (close) and judges them: fails on loss > PRISM_BENCH_RAMP_MAX_LOSS_PCT,
 * p99 > PRISM_BENCH_RAMP_MAX_P99_MS, or any failed peer. Counters that went
 * backwards (a receiver removed) count as zero. The caller has filled
 * peers, bubbles, peers_*, streams_* and t_start. */
void prism_bench_ramp_close(struct prism_bench_ramp_step *step,
                            const struct prism_bench_ramp_mark *a,
                            const struct prism_bench_ramp_mark *b);

/* `out` = `b` - `a`, bucket by bucket (clamped at zero). */
void prism_bench_hist_diff(struct prism_bench_hist *out, const struct prism_bench_hist *a,
                           const struct prism_bench_hist *b);

/* The "ramp" object of the JSON report: the thresholds, every step and the
 * capacity (the last passing step's figures, or null when the first step
 * failed), with `stop` saying why the ramp ended. Returns a new reference. */
json_t *prism_bench_ramp_json(const struct prism_bench_ramp_step *steps, size_t n,
                              const char *stop);

/* The index of the capacity step (the last passing step before the first
 * failing one), or -1 when the first step failed or there is none. */
long prism_bench_ramp_capacity(const struct prism_bench_ramp_step *steps, size_t n);

/* Prints the per-step table and the capacity to stdout. */
void prism_bench_ramp_print(const struct prism_bench_ramp_step *steps, size_t n, const char *stop);

#endif
