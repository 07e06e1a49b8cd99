/* prism-bench run: options (see run_options.h). */
#include "bench/run_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/rpc.h"
#include "bench/sample.h"
#include "bench/shard.h"

void prism_bench_run_usage(FILE *out)
{
    fputs("Usage: prism-bench run [--bubbles M] [--peers P] [--duration S]\n"
          "         [--audio-only | --video | --mixed] [--publishers N] [--ramp-s S]\n"
          "         [--control PATH | --spawn [--prism BIN] [--relay-workers N]]\n"
          "         [--json FILE] [--html FILE] [--limit] [--quiet]\n"
          "         [--width W] [--height H] [--fps F] [--video-kbps K] [--audio-kbps K]\n"
          "         [--local-ip ADDR] [--tenant ID] [--decode-video N]\n"
          "         [--ramp [--ramp-step N] [--ramp-step-s S] [--max-peers N]]\n"
          "         [--attack KIND [--attack-pps N]] [--loss PCT [--no-nack] [--loss-seed N]]\n"
          "         [--verify-sample N] [--ramp-retries N] [--ramp-max-p99 MS] [--threads N]\n"
          "         [--rpc-timeout-s S] [--pacer-ms N]\n"
          "Bubbles of P WebRTC endpoints (ICE, DTLS, SRTP; Opus and VP8 encoded once and\n"
          "decoded by every receiver) driven through the control socket. --video sends\n"
          "Opus + VP8 per publisher, --mixed makes odd bubbles audio-only. Defaults:\n"
          "2 bubbles x 3 peers, 10 s, --video 640x360 30 fps 600 kb/s, Opus 32 kb/s.\n"
          "--decode-video N: each peer decodes at most N video streams (default all; the\n"
          "others are reassembled and measured but not decoded, for big bubbles).\n"
          "--html FILE: a self-contained report (inline SVG plots over time, tables).\n"
          "--ramp: instead of --bubbles and --duration, add N peers per step (default\n"
          "--peers: one bubble) filling bubbles of --peers, measure each step for S s\n"
          "(default 5) once its peers joined and settled, and stop at the first step\n"
          "with loss > 1 % or delay p99 > 50 ms, or at --max-peers (default 500); the\n"
          "capacity is the last step that passed; a step that passes with the relay at\n"
          ">= 95 % of a core (or the bench at >= 95 %) ends the ramp there too.\n"
          "--ramp-retries N: a failing window is measured again up to N times before\n"
          "its step fails (default 1: one stall of a busy machine is not the relay).\n"
          "--ramp-max-p99 MS: the delay threshold (default 50); a large one lets a busy\n"
          "machine's stalls pass, to find where loss or CPU ends the ramp.\n"
          "--threads N: the endpoints run on N loop threads (default 1); with --spawn\n"
          "on 2+ CPUs they share every CPU but the relay's (not with janus or --attack).\n"
          "--verify-sample N: one subscriber in N authenticates, decrypts and decodes\n"
          "everything it receives; the others read loss and delay from the clear RTP\n"
          "header (abs-send-time) and authenticate one packet in N per stream\n"
          "(default 1: every subscriber verifies everything; not with --target janus).\n"
          "Fails (exit 1) when loss > 1 %, any decode error, or media did not flow\n"
          "(with --ramp: when even the first step failed).\n"
          "--target janus [--janus-url URL] [--janus-pid PID]: the same participants\n"
          "through a Janus VideoRoom over its HTTP API (bench/janus-start.sh starts one;\n"
          "not with --spawn or --ramp); relay figures are then Janus's.\n"
          "--attack srtp|stun|garbage|pli [--attack-pps N]: while the bubbles run, a\n"
          "bubble of another tenant floods the relay at N datagrams/s (default 10000):\n"
          "bad-tag SRTP, unauthenticated STUN, random UDP, or PLIs from a joined\n"
          "subscriber (bench/attack.h; loopback only; not with --ramp or janus).\n"
          "--loss PCT: every subscriber drops PCT % (0..50) of the RTP it receives (a\n"
          "stream's first packet spared; drops repeat with --loss-seed N, default 1),\n"
          "NACKs the video gaps, unwraps retransmissions (rtx) and reports lost,\n"
          "recovered and unrecovered packets and Chromium-style freezes (count and\n"
          "duration); the loss verdict then counts only loss beyond the simulated.\n"
          "--no-nack: the same receivers never NACK (nothing can be recovered).\n"
          "Not with --ramp, --attack or --verify-sample > 1 (every subscriber decrypts).\n"
          "--rpc-timeout-s S: a control request the relay does not answer within S s\n"
          "(default 10; the final stats.get 3 S; with --target janus, each HTTP request)\n"
          "fails the run with \"no reply to METHOD within S s\"; and the whole run stops\n"
          "itself, failing, once its bound (set-up, joins, --duration or the ramp's\n"
          "steps, drain, final stats and teardown, plus a margin) passed.\n"
          "--pacer-ms N: the senders' timer period, 1..20 ms (default 5): every frame\n"
          "due in a period leaves at its start, so with many publishers a shorter one\n"
          "sends smaller bursts (closer to independent cameras) at more wake-ups.\n",
          out);
}

static int usage(void)
{
    prism_bench_run_usage(stderr);
    return 2;
}

bool prism_bench_parse_num(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

int prism_bench_run_options_parse(int argc, char **argv, struct prism_bench_run_options *o)
{
    *o = (struct prism_bench_run_options){.bubbles = 2,
                                          .peers = 3,
                                          .publishers = -1,
                                          .duration_s = 10,
                                          .mode = PRISM_BENCH_MODE_VIDEO,
                                          .width = 640,
                                          .height = 360,
                                          .fps = 30,
                                          .video_kbps = 600,
                                          .audio_kbps = 32,
                                          .control = "./prism-control.sock",
                                          .prism = "prism",
                                          .local_ip = "127.0.0.1",
                                          .relay_workers = 0,
                                          .decode_video = 1000,
                                          .max_peers = 500,
                                          .ramp_step_s = 5,
                                          .attack_pps = 10000,
                                          .verify_sample = 1,
                                          .pacer_ms = 5,
                                          .ramp_retries = 1,
                                          .threads = 1,
                                          .loss_pct = -1,
                                          .nack = true,
                                          .loss_seed = 1,
                                          .rpc_timeout_s = PRISM_BENCH_RPC_TIMEOUT_S};
    snprintf(o->tenant, sizeof(o->tenant), "bench-%d", (int)getpid());
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (strcmp(a, "--spawn") == 0) {
            o->spawn = true;
            continue;
        } else if (strcmp(a, "--limit") == 0) {
            o->limit = true;
            continue;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            continue;
        } else if (strcmp(a, "--audio-only") == 0) {
            o->mode = PRISM_BENCH_MODE_AUDIO;
            continue;
        } else if (strcmp(a, "--video") == 0) {
            o->mode = PRISM_BENCH_MODE_VIDEO;
            continue;
        } else if (strcmp(a, "--mixed") == 0) {
            o->mode = PRISM_BENCH_MODE_MIXED;
            continue;
        } else if (strcmp(a, "--ramp") == 0) {
            o->ramp = true;
            continue;
        } else if (strcmp(a, "--no-nack") == 0) {
            o->nack = false;
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--control") == 0) {
            o->control = v;
        } else if (strcmp(a, "--target") == 0 && strcmp(v, "prism") == 0) {
            o->janus_url = NULL;
        } else if (strcmp(a, "--target") == 0 && strcmp(v, "janus") == 0) {
            o->janus_url = o->janus_url ? o->janus_url : "http://127.0.0.1:8088/janus";
        } else if (strcmp(a, "--janus-url") == 0) {
            o->janus_url = v;
        } else if (strcmp(a, "--janus-pid") == 0 && prism_bench_parse_num(v, 1, 1e9, &d)) {
            o->janus_pid = (int)d;
        } else if (strcmp(a, "--prism") == 0) {
            o->prism = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json_out = v;
        } else if (strcmp(a, "--html") == 0) {
            o->html_out = v;
        } else if (strcmp(a, "--local-ip") == 0) {
            o->local_ip = v;
        } else if (strcmp(a, "--tenant") == 0 && strlen(v) < sizeof(o->tenant)) {
            snprintf(o->tenant, sizeof(o->tenant), "%s", v);
        } else if (strcmp(a, "--bubbles") == 0 && prism_bench_parse_num(v, 1, 10000, &d)) {
            o->bubbles = (unsigned)d;
        } else if (strcmp(a, "--peers") == 0 && prism_bench_parse_num(v, 1, 1000, &d)) {
            o->peers = (unsigned)d;
        } else if (strcmp(a, "--publishers") == 0 && prism_bench_parse_num(v, 0, 1000, &d)) {
            o->publishers = (int)d;
        } else if (strcmp(a, "--duration") == 0 && prism_bench_parse_num(v, 1, 86400, &d)) {
            o->duration_s = d;
        } else if (strcmp(a, "--ramp-s") == 0 && prism_bench_parse_num(v, 0, 86400, &d)) {
            o->ramp_s = d;
        } else if (strcmp(a, "--relay-workers") == 0 && prism_bench_parse_num(v, 1, 256, &d)) {
            o->relay_workers = (unsigned)d;
        } else if (strcmp(a, "--width") == 0 && prism_bench_parse_num(v, 16, 4096, &d)) {
            o->width = (unsigned)d;
        } else if (strcmp(a, "--height") == 0 && prism_bench_parse_num(v, 16, 4096, &d)) {
            o->height = (unsigned)d;
        } else if (strcmp(a, "--fps") == 0 && prism_bench_parse_num(v, 1, 120, &d)) {
            o->fps = (unsigned)d;
        } else if (strcmp(a, "--video-kbps") == 0 && prism_bench_parse_num(v, 30, 50000, &d)) {
            o->video_kbps = (unsigned)d;
        } else if (strcmp(a, "--decode-video") == 0 && prism_bench_parse_num(v, 0, 1000, &d)) {
            o->decode_video = (unsigned)d;
        } else if (strcmp(a, "--audio-kbps") == 0 && prism_bench_parse_num(v, 6, 510, &d)) {
            o->audio_kbps = (unsigned)d;
        } else if (strcmp(a, "--ramp-step") == 0 && prism_bench_parse_num(v, 1, 1000, &d)) {
            o->ramp_step = (unsigned)d;
        } else if (strcmp(a, "--ramp-step-s") == 0 && prism_bench_parse_num(v, 1, 3600, &d)) {
            o->ramp_step_s = d;
        } else if (strcmp(a, "--max-peers") == 0 && prism_bench_parse_num(v, 1, 10000, &d)) {
            o->max_peers = (unsigned)d;
        } else if (strcmp(a, "--attack") == 0) {
            if (!prism_bench_attack_kind_parse(v, &o->attack))
                return usage();
        } else if (strcmp(a, "--attack-pps") == 0 && prism_bench_parse_num(v, 1, 1e6, &d)) {
            o->attack_pps = d;
        } else if (strcmp(a, "--verify-sample") == 0 &&
                   prism_bench_parse_num(v, 1, PRISM_BENCH_VERIFY_SAMPLE_MAX, &d)) {
            o->verify_sample = (unsigned)d;
        } else if (strcmp(a, "--pacer-ms") == 0 && prism_bench_parse_num(v, 1, 20, &d)) {
            o->pacer_ms = (unsigned)d;
        } else if (strcmp(a, "--threads") == 0 &&
                   prism_bench_parse_num(v, 1, PRISM_BENCH_MAX_THREADS, &d)) {
            o->threads = (unsigned)d;
        } else if (strcmp(a, "--ramp-max-p99") == 0 && prism_bench_parse_num(v, 1, 1e6, &d)) {
            o->ramp_max_p99_ms = d;
        } else if (strcmp(a, "--ramp-retries") == 0 && prism_bench_parse_num(v, 0, 10, &d)) {
            o->ramp_retries = (unsigned)d;
        } else if (strcmp(a, "--loss") == 0 && prism_bench_parse_num(v, 0, 50, &d)) {
            o->loss_pct = d;
        } else if (strcmp(a, "--rpc-timeout-s") == 0 && prism_bench_parse_num(v, 0.1, 3600, &d)) {
            o->rpc_timeout_s = d;
        } else if (strcmp(a, "--loss-seed") == 0 && prism_bench_parse_num(v, 0, 4294967295.0, &d)) {
            o->loss_seed = (uint64_t)d;
        } else {
            return usage();
        }
    }
    if (o->janus_url != NULL && (o->spawn || o->ramp))
        return usage(); /* --target janus: Janus is started by bench/janus-start.sh */
    if (o->attack != PRISM_BENCH_ATTACK_NONE && (o->janus_url != NULL || o->ramp || o->threads > 1))
        return usage(); /* a flood measures one fixed load against one relay, from this loop */
    if (o->janus_url != NULL && (o->verify_sample > 1 || o->threads > 1))
        return usage(); /* its delay needs every packet in the clear (bench/janus.h) */
    if (o->loss_pct >= 0 && (o->ramp || o->attack != PRISM_BENCH_ATTACK_NONE))
        return usage(); /* the quality of one fixed call, not a capacity or a flood */
    if (o->loss_pct >= 0 && o->verify_sample > 1)
        return usage(); /* a subscriber that only samples cannot NACK what it does not read */
    if (o->loss_pct < 0 && (!o->nack || o->loss_seed != 1))
        return usage(); /* --no-nack and --loss-seed qualify --loss */
    if (o->ramp_step == 0)
        o->ramp_step = o->peers;
    return 0;
}

const char *prism_bench_mode_name(enum prism_bench_mode m)
{
    return m == PRISM_BENCH_MODE_AUDIO   ? "audio-only"
           : m == PRISM_BENCH_MODE_VIDEO ? "video"
                                         : "mixed";
}
