/* prism-bench run --ramp: per-step figures and the capacity verdict.
 *
 * Owns the course of a ramp and its arithmetic, not the participants: the
 * scenario (bench/scenario.c) feeds every 1 s sample to
 * prism_bench_ramp_on_sample (struct prism_bench_ramp_now: cumulative
 * counters at that instant, and how far the joins got) and does what it
 * answers: add the next step's peers (then prism_bench_ramp_begin_step), or
 * end the run. The state machine per step:
 *   JOINING (until every peer is ready or failed, or RAMP_JOIN_TIMEOUT_S)
 *   -> SETTLING (RAMP_SETTLE_S) -> MEASURING (a window of step_s, between
 *   two marks) -> judged -> next step, or DONE.
 * A mark (struct prism_bench_ramp_mark) is the cumulative counters at one
 * instant. prism_bench_ramp_close computes the step's figures from the two
 * marks, over that window only (loss from the receivers' RFC 3550 counters,
 * delay percentiles from the difference of the merged delay histograms,
 * relay and bench CPU from /proc), and judges it against the thresholds of
 * issue 4: loss above 1 % or p99 one-way delay above 50 ms ends the ramp.
 * The capacity is the last step that passed. A step that passes with the
 * relay at PRISM_BENCH_RAMP_FULL_CPU_PCT of its cores (relay_cores) ends
 * the ramp as the relay's capacity; with the bench there (bench_cores), as
 * the bench's limit: the stop text says which criterion ended it, and a
 * failing window is measured again up to `retries` times before its step
 * fails (the figures kept are the last window's); and a
 * failing step's says when the bench was near full too. Windows are whole samples, so
 * the relay's counters (1 s ticks) line up with them.
 *
 * Thread: the bench thread. Marks are 8 KiB (one histogram); steps are a few
 * hundred bytes and allocated by the caller.
 */
#ifndef PRISM_BENCH_RAMP_H
#define PRISM_BENCH_RAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bench/media.h"

#define PRISM_BENCH_RAMP_MAX_LOSS_PCT 1.0
#define PRISM_BENCH_RAMP_MAX_P99_MS 50.0
/* A step that passes with a process at this share of its cores ends the
 * ramp: the relay's core full is its capacity; the bench's, the bench's. */
#define PRISM_BENCH_RAMP_FULL_CPU_PCT 95.0

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
    double max_p99_ms;              /* the delay threshold it is judged by */
    unsigned windows;               /* windows measured (1 + failed ones measured again) */
    uint64_t decode_errors;         /* during the window */
    bool pass;
    char why[160]; /* why it failed; "" when it passed */
};

/* Computes `step`'s window figures from marks `a` (window open) and `b`
 * (close) and judges them: fails on loss > PRISM_BENCH_RAMP_MAX_LOSS_PCT,
 * p99 > step->max_p99_ms (0: PRISM_BENCH_RAMP_MAX_P99_MS), or any failed
 * peer. Counters that went
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

/* --- the course of a ramp ------------------------------------------------------------- */

enum prism_bench_ramp_state {
    PRISM_BENCH_RAMP_OFF,       /* no step begun yet */
    PRISM_BENCH_RAMP_JOINING,   /* the step's peers are joining */
    PRISM_BENCH_RAMP_SETTLING,  /* joined; waiting before the window opens */
    PRISM_BENCH_RAMP_MEASURING, /* the window is open */
    PRISM_BENCH_RAMP_DONE,      /* ended: see stop */
};

/* A ramp. The caller zeroes it, sets the four parameters and `steps`. */
struct prism_bench_ramp {
    unsigned max_peers;   /* --max-peers: reaching it without failing ends the ramp */
    double step_s;        /* --ramp-step-s: each step's measurement window, s */
    FILE *log;            /* one line per judged step; NULL: quiet */
    bool tty;             /* log is a terminal: lines begin with '\r' */
    unsigned relay_cores; /* cores the relay may use (pinned); 0: unknown, its CPU not judged */
    unsigned bench_cores; /* cores the bench's loop threads use; 0: its CPU not judged */
    double max_p99_ms;    /* --ramp-max-p99: delay threshold, ms; 0: PRISM_BENCH_RAMP_MAX_P99_MS */
    unsigned retries;     /* --ramp-retries: a failing window is measured again this many
                             times before the step fails (one stall of a busy machine is
                             not the relay's capacity) */
    unsigned tried;       /* windows of the current step measured again so far */
    struct prism_bench_ramp_step *steps; /* room for every step (max_peers / step
                                            peers + 2), owned by the caller */
    size_t n_steps;                      /* begun so far */
    enum prism_bench_ramp_state state;
    double settle_until;                      /* s since t0: the window opens */
    struct prism_bench_ramp_mark open, close; /* the current window's ends */
    char stop[256];                           /* why the ramp ended */
};

/* The run at one sample: cumulative counters and where the joins are. */
struct prism_bench_ramp_now {
    double t;                            /* s since joins began */
    size_t sample;                       /* index of this sample in the run's timeline */
    double relay_cpu_s, bench_cpu_s;     /* user+sys, s */
    uint64_t rx_packets, lost, expected; /* as in struct prism_bench_ramp_mark */
    uint64_t decode_errors;
    const struct prism_bench_hist *delay;    /* every receiver's delay, merged (borrowed) */
    size_t peers, peers_ready, peers_failed; /* endpoints so far, READY, FAILED */
    bool joins_sent;                         /* every endpoint's join has started */
    size_t streams_expected, streams_flowing;
};

/* What the caller does after a sample. */
enum prism_bench_ramp_action {
    PRISM_BENCH_RAMP_WAIT,      /* nothing */
    PRISM_BENCH_RAMP_NEXT_STEP, /* add the next step's peers, then begin_step */
    PRISM_BENCH_RAMP_STOP,      /* end the run: the ramp is DONE, stop says why */
};

/* Records that a step of `peers` participants in `bubbles` bubbles began at
 * `t_start` (s since joins began): the state becomes JOINING. */
void prism_bench_ramp_begin_step(struct prism_bench_ramp *ramp, unsigned peers, unsigned bubbles,
                                 double t_start);

/* Advances the state machine by one sample; when the window closes, judges
 * the step (prism_bench_ramp_close) and logs it. Does nothing (WAIT) before
 * the first step and after the ramp is DONE. */
enum prism_bench_ramp_action prism_bench_ramp_on_sample(struct prism_bench_ramp *ramp,
                                                        const struct prism_bench_ramp_now *now);

/* Ends the ramp (DONE) with `why` (copied). */
void prism_bench_ramp_stop(struct prism_bench_ramp *ramp, const char *why);

/* The longest one step can last, s: its joins' timeout, the settling, and
 * 1 + `retries` windows of `step_s` (each rounded to whole 1 s samples). For
 * the run's wall-clock bound (bench/scenario.c). */
double prism_bench_ramp_max_step_s(double step_s, unsigned retries);

#endif
