/* prism-bench run: the state of one run, shared by the files that make the
 * subcommand (internal; nothing outside bench/scenario.c and bench/report.c
 * includes it).
 *
 * bench/scenario.c owns a struct prism__run for the whole subcommand: it
 * runs the loop (setup, joins, the pacer, the 1 s sampler, teardown) and
 * fills the samples; bench/report.c reads them afterwards to compute the
 * figures and write the text summary and the JSON (and HTML) reports.
 *
 * Thread: the bench thread; the run lives from prism_bench_run's start to
 * its return.
 */
#ifndef PRISM_BENCH_SCENARIO_INTERNAL_H
#define PRISM_BENCH_SCENARIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>
#include <jansson.h>
#include <uv.h>

#include "bench/attack.h"
#include "bench/endpoint.h"
#include "bench/janus.h"
#include "bench/limit.h"
#include "bench/media.h"
#include "bench/quality.h"
#include "bench/ramp.h"
#include "bench/run_options.h"
#include "bench/shard.h"
#include "relay/base/delay_hist.h"

/* The relay's own counters (stats.get). */
struct prism__run_counters {
    uint64_t packets_in, bytes_in, packets_out, bytes_out;
    bool valid; /* stats.get answered */
};

/* Totals over the endpoints at one instant. */
struct prism__run_totals {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, lost, expected;
    uint64_t decode_errors, frozen, decoded;
    uint64_t authenticated; /* --verify-sample: sampled packets that authenticated */
    size_t ready, failed;
};

struct prism__run;

/* One second of the run (the JSON report's timeline). */
struct prism__run_sample {
    struct prism__run *run; /* for the stats.get reply */
    double t;               /* s since joins began */
    double relay_cpu_s;
    long rss_kib;
    uint64_t rx_packets; /* RTP packets the bench received so far */
    uint64_t tx_packets;
    struct prism__run_counters relay;  /* filled when stats.get answers */
    double lag_ms;                     /* worst pacer lateness in the last second */
    double bench_cpu_s;                /* this process's user+sys */
    uint64_t lost, expected;           /* RFC 3550 A.3 summed over every stream */
    double delay_p50_ms, delay_p99_ms; /* one-way delay over the last second */
};

struct prism__run {
    struct prism_bench_run_options o;
    uv_loop_t loop;
    struct prism_bench_site site;
    struct prism_bench_rpc *events;
    struct prism_bench_janus *janus; /* --target janus; then rpc and events are NULL */
    struct prism_bench_clip *audio, *video;
    struct prism_bench_endpoint **eps;
    size_t n_eps;
    GHashTable *by_name; /* "bubble/peer" -> endpoint */
    uv_timer_t pacer, second, joiner, phase;
    uv_prepare_t flush;
    pid_t relay_pid;
    int setup_pending;
    bool setup_failed;
    uint64_t t0_ns;      /* joins begin */
    uint64_t stop_ns;    /* senders stopped */
    double relay_lost_s; /* the relay closed the control connection, s since t0; < 0: never */
    uint64_t ready_ns;   /* every endpoint READY (or failed) */
    size_t next_join;
    struct prism__run_sample *samples;
    size_t n_samples;
    struct prism__run_counters base, last, final;
    double base_cpu_s;
    long base_rss_kib;
    double lag_ms;
    uint64_t last_pacer_ns;
    int closing; /* endpoints still closing */
    int wait_rounds;
    struct prism_bench_hist *delay_cum, *delay_prev; /* merged over every receiver, owned */
    struct prism_bench_ramp ramp;                    /* --ramp; its steps owned */
    json_t *relay_drops;                             /* stats.get drops at the end, owned */
    uint64_t bench_drop_egress, bench_drop_other;    /* the bench transports' drops */
    struct prism_media_counters bench_counters;      /* summed at the end, for the drops */
    bool tty;
    struct prism_bench_attack *attack; /* --attack (bench/attack.h), owned; else NULL */
    /* --threads N > 1 (bench/shard.h): the endpoints run on shard threads */
    struct prism__shards *shards;              /* NULL: every endpoint on this loop */
    uv_async_t shard_wake;                     /* a shard has news (unreferenced) */
    bool shard_wake_open;                      /* shard_wake initialized, to close */
    bool shards_setup_pending;                 /* waiting for their events.subscribe */
    bool snap_pending;                         /* a snapshot asked, not all answered */
    bool shards_leaving;                       /* asked to leave, not all ended */
    int bubbles_pending;                       /* --ramp: bubble.create replies awaited */
    struct prism__run_totals last_totals;      /* at the last sample */
    size_t last_flowing;                       /* streams flowing at the last sample */
    struct prism_bench_quality_config quality; /* --loss; site.quality points here */
    /* The relay's own residence times (stats.get relay-wide, workers'
     * relay_delay summed) when every endpoint was ready and at the end;
     * a relay that refuses relay-wide stats (a tenant-limited client) or
     * Janus leaves them unset. */
    struct prism_delay_hist relay_delay[2];
    bool relay_delay_set[2];
    /* Bounds: a relay that stops answering ends the run (bench/rpc.h), and
     * the run as a whole stops itself after bound_s (run_bound_s). */
    char no_reply[96]; /* our connections' first missed deadline; empty: none */
    uv_timer_t bound;  /* the run's wall-clock bound (unreferenced) */
    double bound_s;    /* its length from the start of set-up, s */
    bool overran;      /* the bound passed: the run was stopped */
    bool hard_stopped; /* the bound passed again in teardown: the loop was left */
};

/* The run's figures, computed once at the end (prism__run_figures). */
struct prism__run_figures {
    struct prism__run_totals t;
    double loss_pct, jitter_ms_mean, jitter_ms_max;
    double delay_p50, delay_p99;
    double join_p50, join_p95, join_p99;
    size_t joins, streams_expected, streams_flowing;
    double win_s, cpu_us_per_packet, relay_cpu_pct;
    double in_pps, out_pps, in_mbps, out_mbps;
    uint64_t packets_forwarded, packets_received_by_relay;
    long rss_kib, rss_kib_per_peer;
    double worst_lag_ms;
    double mean_packet_bytes, fanout;
    struct prism_bench_quality_totals q; /* --loss */
    double loss_beyond_pct;              /* --loss: loss the simulated drops do not explain, % */
    bool relay_delay;                    /* the relay reported its residence times */
    double relay_delay_p50, relay_delay_p99; /* theirs from ready to the end, ms */
    uint64_t relay_delay_datagrams;          /* datagrams they cover */
};

/* Seconds from the start of the joins to `ns` (0 before it). */
static inline double prism__run_s_since(const struct prism__run *r, uint64_t ns)
{
    return ns > r->t0_ns ? (double)(ns - r->t0_ns) / 1e9 : 0;
}

/* --- bench/report.c ------------------------------------------------------------------ */

/* Sums every endpoint's counters into `t`. O(endpoints x streams). */
void prism__run_totals(const struct prism__run *r, struct prism__run_totals *t);

/* Same over the `n` endpoints at `eps` (a shard's, bench/shard.h). */
void prism__totals(struct prism_bench_endpoint *const *eps, size_t n, struct prism__run_totals *t);

/* The figures of the whole run into `f`; appends one object per received
 * stream to `streams` (a JSON array). */
void prism__run_figures(struct prism__run *r, struct prism__run_figures *f, json_t *streams);

/* --ramp, after the loop: the per-step figures only known at the end (relay
 * counters, whose stats.get replies arrive after their sample, and the
 * pacer's worst lateness), "interrupted" when the ramp did not end itself,
 * and the bubbles actually used. */
void prism__run_ramp_finish(struct prism__run *r);

/* Prints the text summary on stdout (`lim` only when `have_limit`). */
void prism__run_summary(const struct prism__run *r, const struct prism__run_figures *f,
                        bool have_limit, const struct prism_bench_limit_result *lim);

/* Builds the report object and writes it as --json and/or --html (a file
 * that cannot be written is reported on stderr). `streams` and `failures`
 * are borrowed. */
void prism__run_write_reports(const struct prism__run *r, const struct prism__run_figures *f,
                              json_t *streams, bool have_limit,
                              const struct prism_bench_limit_result *lim, json_t *failures,
                              int relay_exit);

#endif
