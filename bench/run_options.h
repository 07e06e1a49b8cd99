/* prism-bench run: its command-line options, parsed and validated.
 *
 * Owns struct prism_bench_run_options, the defaults and the usage text.
 * Every number is range-checked here (a bad value prints the usage), and
 * the combinations that make no sense are refused (--target janus with
 * --spawn, --ramp or --attack; --ramp with --attack); the scenario (bench/scenario.c) trusts what
 * it gets.
 *
 * Thread: the caller's, once, before the run.
 */
#ifndef PRISM_BENCH_RUN_OPTIONS_H
#define PRISM_BENCH_RUN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/attack.h"

enum prism_bench_mode {
    PRISM_BENCH_MODE_AUDIO, /* --audio-only: Opus */
    PRISM_BENCH_MODE_VIDEO, /* --video: Opus + VP8 per publisher */
    PRISM_BENCH_MODE_MIXED, /* --mixed: odd bubbles audio-only */
};

struct prism_bench_run_options {
    unsigned bubbles, peers;
    int publishers; /* per bubble; -1 = all */
    double duration_s, ramp_s;
    enum prism_bench_mode mode;
    unsigned width, height, fps, video_kbps, audio_kbps;
    const char *control, *prism, *json_out, *local_ip;
    const char *html_out; /* --html: the self-contained report (bench/html.h) */
    bool spawn, limit, quiet;
    bool ramp;          /* --ramp: add ramp_step peers per step up to max_peers */
    unsigned ramp_step; /* peers per step (default: one bubble, --peers) */
    unsigned max_peers; /* the ramp's cap */
    double ramp_step_s; /* measurement window per step, s */
    unsigned relay_workers;
    unsigned decode_video; /* video streams each peer decodes */
    char tenant[64];
    const char *janus_url;               /* --target janus: a Janus VideoRoom (bench/janus.h) */
    int janus_pid;                       /* --janus-pid, else found from the URL's port */
    enum prism_bench_attack_kind attack; /* --attack (bench/attack.h); NONE: no flood */
    double attack_pps;                   /* --attack-pps: datagrams per second */
    /* issue 10 item 7: a bench that can load the relay */
    unsigned verify_sample; /* --verify-sample N (bench/sample.h); 1: verify everything */
    unsigned pacer_ms;      /* --pacer-ms N: the senders' timer period */
    unsigned ramp_retries;  /* --ramp-retries: failing windows measured again per step */
    double ramp_max_p99_ms; /* --ramp-max-p99: a step's delay threshold, ms */
    unsigned threads;       /* --threads: bench loop threads (bench/shard.h); 1: this one */
    double loss_pct;        /* --loss: % of received RTP each subscriber drops; < 0: none */
    bool nack;              /* false with --no-nack */
    uint64_t loss_seed;     /* --loss-seed */
    double rpc_timeout_s;   /* --rpc-timeout-s: a control request's reply deadline, s */
};

/* Fills `o` from `argv` (argv[0] is "run") over the defaults. Returns 0, or
 * 2 after printing the usage on stderr (unknown option, value missing or
 * out of range, options that exclude each other). Strings in `o` point into
 * `argv` or are literals. */
int prism_bench_run_options_parse(int argc, char **argv, struct prism_bench_run_options *o);

/* The usage text, every option, on `out` (stderr from the parser, stdout for
 * prism-bench run --help). */
void prism_bench_run_usage(FILE *out);

/* "audio-only", "video" or "mixed", as the report writes the mode. */
const char *prism_bench_mode_name(enum prism_bench_mode m);

/* Parses `v` as a number within [lo, hi] into *out; false (and *out
 * untouched) when it is not one, has trailing bytes, or is out of range. */
bool prism_bench_parse_num(const char *v, double lo, double hi, double *out);

#endif
