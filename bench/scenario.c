/* prism-bench run: bubbles of synthetic WebRTC participants against a relay.
 *
 * One bench thread runs one uv loop holding every endpoint (bench/endpoint.h),
 * one control connection for requests and one for events (peer.offer), a
 * pacer (every PACER_MS: send the frames that are due), a once-per-second
 * sampler (relay CPU and RSS from /proc, relay counters from stats.get,
 * bench-side receive counts; the progress line) and the egress flush once per
 * loop iteration (uv_prepare).
 *
 * Timeline: setup (events.subscribe, tenant.create, bubble.create) -> joins
 * spread over --ramp-s -> media until ramp + duration -> senders stop ->
 * DRAIN_MS for the last packets and the relay's next counter tick -> final
 * stats.get -> peer.leave, tenant.delete, transports closed. Then figures,
 * the summary table, the JSON report, --limit, and the verdict.
 *
 * Figures:
 * - join time: per (subscriber, stream), first decoded frame minus the later
 *   of the publisher's publish start and the subscriber's peer.join;
 * - loss (RFC 3550 A.3 from sequence numbers), jitter (A.8), one-way delay
 *   (abs-send-time stamped when the packet is built, read when it is
 *   decrypted: bench egress + kernel + relay + kernel + bench ingress);
 * - relay CPU per forwarded packet over the steady window (from one second
 *   after every endpoint is ready to the senders' stop): relay user+sys
 *   seconds / RTP packets the bench received in that window (sampled at the
 *   same instants, so the relay's 1 s counter tick does not blur it);
 * - packets_forwarded: the relay's packets_out over the run (stats.get).
 * - per second (the JSON timeline): relay and bench CPU, relay RSS and
 *   counters, loss counters and the delay p50/p99 of that second (every
 *   receiver's histogram merged, minus the previous second's).
 *
 * --ramp replaces the fixed timeline: after setup, steps of --ramp-step
 * peers (filling bubbles of --peers, each bubble created when its first peer
 * comes) join at once; once they are ready (or RAMP_JOIN_TIMEOUT_S passed)
 * and RAMP_SETTLE_S more, a window of --ramp-step-s opens, and at its close
 * bench/ramp.c judges it (loss > 1 %, p99 > 50 ms, failed peers). The first
 * failing step, or --max-peers, ends the run; the capacity is the last step
 * that passed. The state machine runs on the 1 s sampler, so windows are
 * whole samples and the relay counters line up with them.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <jansson.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/endpoint.h"
#include "bench/html.h"
#include "bench/janus.h"
#include "bench/limit.h"
#include "bench/media.h"
#include "bench/proc.h"
#include "bench/ramp.h"
#include "bench/rpc.h"
#include "crypto/cert.h"
#include "crypto/dtls.h"
#include "relay/base/error.h"

#define PACER_MS 5
#define DRAIN_MS 1500
#define EGRESS_BUFS 16384
#define MAX_SAMPLES 100000
#define RAMP_SETTLE_S 2.0        /* after a step's joins, before its window opens */
#define RAMP_JOIN_TIMEOUT_S 20.0 /* a step's joins that take longer are not waited for */

enum mode { MODE_AUDIO, MODE_VIDEO, MODE_MIXED };

struct opts {
    unsigned bubbles, peers;
    int publishers; /* per bubble; -1 = all */
    double duration_s, ramp_s;
    enum mode mode;
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
    const char *janus_url; /* --target janus: a Janus VideoRoom (bench/janus.h) */
    int janus_pid;         /* --janus-pid, else found from the URL's port */
};

struct relay_counters {
    uint64_t packets_in, bytes_in, packets_out, bytes_out;
    bool valid;
};

struct run;

struct sample {
    struct run *run; /* for the stats.get reply */
    double t;        /* s since joins began */
    double relay_cpu_s;
    long rss_kib;
    uint64_t rx_packets; /* RTP packets the bench received so far */
    uint64_t tx_packets;
    struct relay_counters relay;       /* filled when stats.get answers */
    double lag_ms;                     /* worst pacer lateness in the last second */
    double bench_cpu_s;                /* this process's user+sys */
    uint64_t lost, expected;           /* RFC 3550 A.3 summed over every stream */
    double delay_p50_ms, delay_p99_ms; /* one-way delay over the last second */
};

enum ramp_state { RAMP_OFF, RAMP_JOINING, RAMP_SETTLING, RAMP_MEASURING, RAMP_DONE };

struct run {
    struct opts o;
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
    uint64_t t0_ns;    /* joins begin */
    uint64_t stop_ns;  /* senders stopped */
    uint64_t ready_ns; /* every endpoint READY (or failed) */
    size_t next_join;
    struct sample *samples;
    size_t n_samples;
    struct relay_counters base, last, final;
    double base_cpu_s;
    long base_rss_kib;
    double lag_ms;
    uint64_t last_pacer_ns;
    int closing; /* endpoints still closing */
    int wait_rounds;
    struct prism_bench_hist *delay_cum, *delay_prev; /* merged over every receiver, owned */
    /* --ramp */
    enum ramp_state ramp;
    struct prism_bench_ramp_step *steps; /* n_steps of max_peers / ramp_step + 1, owned */
    size_t n_steps;
    double settle_until; /* s since t0: the current step's window opens */
    struct prism_bench_ramp_mark mark_open, mark_close;
    char ramp_stop[256];                          /* why the ramp ended */
    json_t *relay_drops;                          /* stats.get drops at the end, owned */
    uint64_t bench_drop_egress, bench_drop_other; /* the bench transports' drops */
    bool tty;
};

static double s_since(const struct run *r, uint64_t ns)
{
    return ns > r->t0_ns ? (double)(ns - r->t0_ns) / 1e9 : 0;
}

/* --- totals over the endpoints ------------------------------------------------ */

struct totals {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, lost, expected;
    uint64_t decode_errors, frozen, decoded;
    size_t ready, failed;
};

static void totals(const struct run *r, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < r->n_eps; i++) {
        const struct prism_bench_endpoint *ep = r->eps[i];
        t->tx_packets += ep->tx_audio.packets + ep->tx_video.packets;
        t->tx_bytes += ep->tx_audio.bytes + ep->tx_video.bytes;
        t->ready += ep->ready_ns != 0 && ep->error[0] == '\0';
        t->failed += ep->error[0] != '\0';
        for (size_t k = 0; k < ep->n_rx; k++) {
            const struct prism_bench_rx *rx = &ep->rx[k]->rx;
            t->rx_packets += rx->packets;
            t->rx_bytes += rx->bytes;
            t->lost += prism_bench_rx_lost(rx);
            t->expected += prism_bench_rx_expected(rx);
            t->decode_errors += rx->decode_errors;
            t->frozen += rx->frames_frozen;
            t->decoded += rx->frames_decoded;
        }
    }
}

/* --- relay counters ------------------------------------------------------------ */

static void read_counters(json_t *res, struct relay_counters *c)
{
    c->packets_in = (uint64_t)json_integer_value(json_object_get(res, "packets_in"));
    c->bytes_in = (uint64_t)json_integer_value(json_object_get(res, "bytes_in"));
    c->packets_out = (uint64_t)json_integer_value(json_object_get(res, "packets_out"));
    c->bytes_out = (uint64_t)json_integer_value(json_object_get(res, "bytes_out"));
    c->valid = true;
}

static void progress(struct run *r);

static void on_stats_sample(void *ud, json_t *result, json_t *error)
{
    struct sample *s = ud;
    struct run *r = s->run;
    (void)error;
    if (result == NULL)
        return;
    read_counters(result, &s->relay);
    r->last = s->relay;
    if (s == &r->samples[r->n_samples - 1])
        progress(r);
}

static void stats_get(struct run *r, prism_bench_rpc_reply_cb cb, void *ud)
{
    if (r->janus != NULL) { /* Janus has no stats.get: what the bench sent and got */
        struct totals t;
        totals(r, &t);
        json_t *res = json_pack("{s:I, s:I, s:I, s:I}", "packets_in", (json_int_t)t.tx_packets,
                                "bytes_in", (json_int_t)t.tx_bytes, "packets_out",
                                (json_int_t)t.rx_packets, "bytes_out", (json_int_t)t.rx_bytes);
        cb(ud, res, NULL);
        json_decref(res);
        return;
    }
    prism_bench_rpc_call(r->site.rpc, "stats.get", json_pack("{s:s}", "tenant", r->o.tenant), cb,
                         ud);
}

/* --- progress -------------------------------------------------------------------- */

static void progress(struct run *r)
{
    if (r->o.quiet || r->n_samples < 2)
        return;
    const struct sample *a = &r->samples[r->n_samples - 2], *b = &r->samples[r->n_samples - 1];
    double dt = b->t - a->t > 0 ? b->t - a->t : 1;
    struct totals t;
    totals(r, &t);
    double in_pps = 0, out_pps = 0, out_mbps = 0;
    const struct relay_counters *ra = &a->relay, *rb = &b->relay;
    if (ra->valid && rb->valid) {
        in_pps = (double)(rb->packets_in - ra->packets_in) / dt;
        out_pps = (double)(rb->packets_out - ra->packets_out) / dt;
        out_mbps = (double)(rb->bytes_out - ra->bytes_out) * 8 / dt / 1e6;
    }
    double loss = t.expected > 0 ? 100.0 * (double)t.lost / (double)t.expected : 0;
    fprintf(stderr,
            "%s[%5.1f s] peers %zu/%zu ready%s | relay in %.0f pps, out %.0f pps %.1f Mb/s | "
            "relay cpu %.0f%% | loss %.2f%% | decode errors %llu%s",
            r->tty ? "\r" : "", b->t, t.ready, r->n_eps, t.failed ? " (some failed)" : "", in_pps,
            out_pps, out_mbps, 100.0 * (b->relay_cpu_s - a->relay_cpu_s) / dt, loss,
            (unsigned long long)t.decode_errors, r->tty ? "   " : "\n");
    fflush(stderr);
}

/* --- the loop's handles ----------------------------------------------------------- */

static void on_flush(uv_prepare_t *h)
{
    struct run *r = h->data;
    prism_egress_flush_all(r->site.egress);
}

static void on_pacer(uv_timer_t *h)
{
    struct run *r = h->data;
    uint64_t now = prism_bench_now_ns();
    if (r->last_pacer_ns != 0) {
        double late = (double)(now - r->last_pacer_ns) / 1e6 - PACER_MS;
        if (late > r->lag_ms)
            r->lag_ms = late;
    }
    r->last_pacer_ns = now;
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_endpoint_tick(r->eps[i], now);
}

/* Merges every receiver's delay histogram into r->delay_cum (cumulative).
 * O(streams x buckets): ~2k additions per stream, once a second. */
static void merge_delays(struct run *r)
{
    memset(r->delay_cum, 0, sizeof(*r->delay_cum));
    for (size_t i = 0; i < r->n_eps; i++)
        for (size_t k = 0; k < r->eps[i]->n_rx; k++)
            prism_bench_hist_merge(r->delay_cum, &r->eps[i]->rx[k]->rx.delay);
}

static void ramp_on_sample(struct run *r, const struct totals *t);
static void on_end(uv_timer_t *h);

static void on_second(uv_timer_t *h)
{
    struct run *r = h->data;
    if (r->n_samples == MAX_SAMPLES)
        return;
    uint64_t now = prism_bench_now_ns();
    struct totals t;
    totals(r, &t);
    merge_delays(r);
    prism_bench_hist_diff(r->delay_prev, r->delay_prev, r->delay_cum); /* the last second */
    struct sample *s = &r->samples[r->n_samples++];
    *s = (struct sample){
        .run = r,
        .t = s_since(r, now),
        .relay_cpu_s = prism_bench_proc_cpu_s(r->relay_pid),
        .rss_kib = prism_bench_proc_rss_kib(r->relay_pid),
        .rx_packets = t.rx_packets,
        .tx_packets = t.tx_packets,
        .lag_ms = r->lag_ms,
        .bench_cpu_s = prism_bench_proc_cpu_s(getpid()),
        .lost = t.lost,
        .expected = t.expected,
        .delay_p50_ms = prism_bench_hist_quantile_ms(r->delay_prev, 0.5),
        .delay_p99_ms = prism_bench_hist_quantile_ms(r->delay_prev, 0.99),
    };
    *r->delay_prev = *r->delay_cum;
    r->lag_ms = 0;
    if (r->ready_ns == 0 && t.ready + t.failed == r->n_eps && r->next_join == r->n_eps)
        r->ready_ns = now;
    stats_get(r, on_stats_sample, s);
    ramp_on_sample(r, &t);
}

static void on_joiner(uv_timer_t *h)
{
    struct run *r = h->data;
    uint64_t now = prism_bench_now_ns();
    double per = r->o.ramp ? 0 : r->o.ramp_s / (double)r->n_eps;
    /* Every endpoint whose slot in the ramp has come. */
    while (r->next_join < r->n_eps &&
           (per <= 0 || (double)(now - r->t0_ns) / 1e9 >= per * (double)r->next_join))
        prism_bench_endpoint_join(r->eps[r->next_join++]);
    if (r->next_join == r->n_eps)
        uv_timer_stop(h);
}

static void on_closed_ep(void *ud)
{
    struct run *r = ud;
    r->closing--;
}

static void close_handles(struct run *r)
{
    uv_close((uv_handle_t *)&r->pacer, NULL);
    uv_close((uv_handle_t *)&r->second, NULL);
    uv_close((uv_handle_t *)&r->joiner, NULL);
    uv_close((uv_handle_t *)&r->phase, NULL);
    uv_close((uv_handle_t *)&r->flush, NULL);
    prism_bench_rpc_close(r->site.rpc);
    prism_bench_rpc_close(r->events);
    prism_bench_janus_stop(r->janus);
}

static void on_wait_closed(uv_timer_t *h)
{
    struct run *r = h->data;
    /* Transports close within a few loop turns; the replies to peer.leave
     * and tenant.delete come back meanwhile. */
    if (r->janus != NULL ? r->closing > 0 && ++r->wait_rounds < 100
                         : (r->closing > 0 || prism_bench_rpc_pending(r->site.rpc) > 0) &&
                               !prism_bench_rpc_closed(r->site.rpc) && ++r->wait_rounds < 100)
        return;
    uv_timer_stop(h);
    close_handles(r);
}

static void on_final_stats(void *ud, json_t *result, json_t *error)
{
    struct run *r = ud;
    (void)error;
    if (result != NULL) {
        read_counters(result, &r->final);
        r->relay_drops = json_deep_copy(json_object_get(result, "drops"));
    }
    /* The bench's own transport counters, before the transports close. */
    for (size_t i = 0; i < r->n_eps; i++) {
        struct prism_media_counters c;
        prism_bench_endpoint_counters(r->eps[i], &c);
        r->bench_drop_egress += c.drop_egress;
        r->bench_drop_other +=
            c.drop_not_srtp + c.drop_srtp_auth + c.drop_srtp_replay + c.drop_malformed;
    }
    uv_timer_stop(&r->second);
    uv_timer_stop(&r->pacer);
    r->closing = (int)r->n_eps;
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_endpoint_leave(r->eps[i], on_closed_ep, r);
    if (r->janus == NULL)
        prism_bench_rpc_call(r->site.rpc, "tenant.delete",
                             json_pack("{s:s}", "tenant", r->o.tenant), NULL, NULL);
    uv_timer_start(&r->phase, on_wait_closed, 50, 50);
}

static void on_drained(uv_timer_t *h)
{
    struct run *r = h->data;
    stats_get(r, on_final_stats, r);
}

static void on_end(uv_timer_t *h)
{
    struct run *r = h->data;
    r->stop_ns = prism_bench_now_ns();
    on_second(&r->second); /* a last sample at the stop */
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_endpoint_stop_sending(r->eps[i]);
    uv_timer_start(h, on_drained, DRAIN_MS, 0);
}

static void ramp_add_step(struct run *r);

static void on_baseline(void *ud, json_t *result, json_t *error)
{
    struct run *r = ud;
    (void)error;
    if (result != NULL)
        read_counters(result, &r->base);
    r->last = r->base;
    r->t0_ns = prism_bench_now_ns();
    r->base_cpu_s = prism_bench_proc_cpu_s(r->relay_pid);
    r->base_rss_kib = prism_bench_proc_rss_kib(r->relay_pid);
    r->samples[r->n_samples++] = (struct sample){.run = r,
                                                 .t = 0,
                                                 .relay_cpu_s = r->base_cpu_s,
                                                 .rss_kib = r->base_rss_kib,
                                                 .relay = r->base};
    uv_timer_start(&r->pacer, on_pacer, PACER_MS, PACER_MS);
    uv_timer_start(&r->second, on_second, 1000, 1000);
    if (r->o.ramp) {
        ramp_add_step(r); /* the ramp's steps end the run (ramp_on_sample) */
        return;
    }
    uv_timer_start(&r->joiner, on_joiner, 0, 1);
    uint64_t total_ms = (uint64_t)((r->o.ramp_s + r->o.duration_s) * 1000);
    uv_timer_start(&r->phase, on_end, total_ms, 0);
}

static void on_setup_reply(void *ud, json_t *result, json_t *error)
{
    struct run *r = ud;
    if (result == NULL) {
        const char *m = json_string_value(json_object_get(error, "message"));
        fprintf(stderr, "prism-bench: setup failed: %s\n", m ? m : "connection closed");
        r->setup_failed = true;
    }
    if (--r->setup_pending > 0)
        return;
    if (r->setup_failed) {
        close_handles(r);
        return;
    }
    stats_get(r, on_baseline, r);
}

static void on_event(void *ud, const char *method, json_t *params)
{
    struct run *r = ud;
    if (strcmp(method, "peer.offer") != 0)
        return;
    const char *bubble = json_string_value(json_object_get(params, "bubble"));
    const char *peer = json_string_value(json_object_get(params, "peer"));
    const char *offer = json_string_value(json_object_get(params, "offer"));
    json_t *rev = json_object_get(params, "revision");
    if (bubble == NULL || peer == NULL || offer == NULL || !json_is_integer(rev))
        return;
    char key[2 * PRISM_BENCH_ID_LEN + 2];
    snprintf(key, sizeof(key), "%s/%s", bubble, peer);
    struct prism_bench_endpoint *ep = g_hash_table_lookup(r->by_name, key);
    if (ep != NULL)
        prism_bench_endpoint_on_offer(ep, offer, (uint64_t)json_integer_value(rev));
}

/* --- figures ----------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)ceil(q * (double)n);
    return v[i == 0 ? 0 : (i > n ? n - 1 : i - 1)];
}

static struct prism_bench_endpoint *find_ep(struct run *r, const char *bubble, const char *peer)
{
    char key[2 * PRISM_BENCH_ID_LEN + 2];
    snprintf(key, sizeof(key), "%s/%s", bubble, peer);
    return g_hash_table_lookup(r->by_name, key);
}

/* The sample nearest at or after `t`, and at or before `t`. */
static const struct sample *sample_at_or_after(const struct run *r, double t)
{
    for (size_t i = 0; i < r->n_samples; i++)
        if (r->samples[i].t >= t)
            return &r->samples[i];
    return r->n_samples ? &r->samples[r->n_samples - 1] : NULL;
}

struct figures {
    struct totals t;
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
};

static void figures(struct run *r, struct figures *f, json_t *streams)
{
    memset(f, 0, sizeof(*f));
    totals(r, &f->t);
    struct prism_bench_hist *all = calloc(1, sizeof(*all));
    double *joins = calloc(r->n_eps * PRISM_BENCH_MAX_RX + 1, sizeof(double));
    size_t n_jitter = 0;
    for (size_t i = 0; i < r->n_eps; i++) {
        struct prism_bench_endpoint *ep = r->eps[i];
        /* Streams this endpoint should receive: every other publisher's. */
        for (size_t k = 0; k < r->n_eps; k++) {
            const struct prism_bench_endpoint *p = r->eps[k];
            if (p != ep && p->publish && strcmp(p->bubble, ep->bubble) == 0)
                f->streams_expected += (p->audio != NULL) + (p->video != NULL);
        }
        for (size_t k = 0; k < ep->n_rx; k++) {
            const struct prism_bench_rx_slot *s = ep->rx[k];
            const struct prism_bench_rx *rx = &s->rx;
            if (rx->packets > 0)
                f->streams_flowing++;
            prism_bench_hist_merge(all, &rx->delay);
            double jit = (double)prism_rtp_seq_stats_jitter(&rx->seq) * 1000.0 / rx->clock_hz;
            f->jitter_ms_mean += jit;
            if (jit > f->jitter_ms_max)
                f->jitter_ms_max = jit;
            n_jitter++;
            double join = -1;
            const struct prism_bench_endpoint *pub = find_ep(r, ep->bubble, s->publisher);
            if (rx->first_decoded_ns != 0 && pub != NULL) {
                uint64_t ref =
                    pub->publish_req_ns > ep->join_req_ns ? pub->publish_req_ns : ep->join_req_ns;
                join = rx->first_decoded_ns > ref ? (double)(rx->first_decoded_ns - ref) / 1e6 : 0;
                joins[f->joins++] = join;
            }
            uint64_t exp = prism_bench_rx_expected(rx), lost = prism_bench_rx_lost(rx);
            json_array_append_new(
                streams,
                json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f}",
                          "bubble", ep->bubble, "subscriber", ep->peer, "publisher", s->publisher,
                          "kind", rx->video ? "video" : "audio", "packets", (json_int_t)rx->packets,
                          "lost", (json_int_t)lost, "loss_pct",
                          exp ? 100.0 * (double)lost / (double)exp : 0.0, "jitter_ms", jit,
                          "delay_p50_ms", prism_bench_hist_quantile_ms(&rx->delay, 0.5),
                          "delay_p99_ms", prism_bench_hist_quantile_ms(&rx->delay, 0.99),
                          "frames_decoded", (json_int_t)rx->frames_decoded, "frozen_frames",
                          (json_int_t)rx->frames_frozen, "decode_errors",
                          (json_int_t)rx->decode_errors, "join_ms", join));
        }
    }
    f->loss_pct = f->t.expected ? 100.0 * (double)f->t.lost / (double)f->t.expected : 0;
    f->jitter_ms_mean = n_jitter ? f->jitter_ms_mean / (double)n_jitter : 0;
    f->delay_p50 = prism_bench_hist_quantile_ms(all, 0.5);
    f->delay_p99 = prism_bench_hist_quantile_ms(all, 0.99);
    qsort(joins, f->joins, sizeof(double), cmp_double);
    f->join_p50 = quantile(joins, f->joins, 0.5);
    f->join_p95 = quantile(joins, f->joins, 0.95);
    f->join_p99 = quantile(joins, f->joins, 0.99);
    free(joins);
    free(all);

    /* Steady window: from 1 s after every endpoint was ready to the stop. */
    double end = s_since(r, r->stop_ns);
    double start = r->ready_ns ? s_since(r, r->ready_ns) + 1.0 : r->o.ramp_s + 1.0;
    const struct sample *a = sample_at_or_after(r, start), *b = sample_at_or_after(r, end);
    if (a == NULL || b == NULL || b->t - a->t < 1.0) {
        a = r->n_samples > 1 ? &r->samples[1] : NULL; /* too short: the whole run */
        b = r->n_samples ? &r->samples[r->n_samples - 1] : NULL;
    }
    if (a != NULL && b != NULL && b->t > a->t) {
        f->win_s = b->t - a->t;
        double cpu = b->relay_cpu_s - a->relay_cpu_s;
        uint64_t pk = b->rx_packets - a->rx_packets;
        f->cpu_us_per_packet = pk ? cpu * 1e6 / (double)pk : 0;
        f->relay_cpu_pct = 100.0 * cpu / f->win_s;
        if (a->relay.valid && b->relay.valid) {
            f->in_pps = (double)(b->relay.packets_in - a->relay.packets_in) / f->win_s;
            f->out_pps = (double)(b->relay.packets_out - a->relay.packets_out) / f->win_s;
            f->in_mbps = (double)(b->relay.bytes_in - a->relay.bytes_in) * 8 / f->win_s / 1e6;
            f->out_mbps = (double)(b->relay.bytes_out - a->relay.bytes_out) * 8 / f->win_s / 1e6;
        }
        f->rss_kib = b->rss_kib;
    }
    for (size_t i = 0; i < r->n_samples; i++)
        if (r->samples[i].lag_ms > f->worst_lag_ms)
            f->worst_lag_ms = r->samples[i].lag_ms;
    if (r->final.valid && r->base.valid) {
        f->packets_forwarded = r->final.packets_out - r->base.packets_out;
        f->packets_received_by_relay = r->final.packets_in - r->base.packets_in;
    }
    f->rss_kib_per_peer = r->n_eps && f->rss_kib > r->base_rss_kib
                              ? (f->rss_kib - r->base_rss_kib) / (long)r->n_eps
                              : 0;
    f->mean_packet_bytes = f->t.tx_packets ? (double)f->t.tx_bytes / (double)f->t.tx_packets : 0;
    f->fanout = f->t.tx_packets ? (double)f->t.rx_packets / (double)f->t.tx_packets : 0;
}

/* --- options ---------------------------------------------------------------------- */

static int usage(void)
{
    fputs("Usage: prism-bench run [--bubbles M] [--peers P] [--duration S]\n"
          "         [--audio-only | --video | --mixed] [--publishers N] [--ramp-s S]\n"
          "         [--control PATH | --spawn [--prism BIN] [--relay-workers N]]\n"
          "         [--json FILE] [--html FILE] [--limit] [--quiet]\n"
          "         [--width W] [--height H] [--fps F] [--video-kbps K] [--audio-kbps K]\n"
          "         [--local-ip ADDR] [--tenant ID] [--decode-video N]\n"
          "         [--ramp [--ramp-step N] [--ramp-step-s S] [--max-peers N]]\n"
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
          "capacity is the last step that passed.\n"
          "Fails (exit 1) when loss > 1 %, any decode error, or media did not flow\n"
          "(with --ramp: when even the first step failed).\n"
          "--target janus [--janus-url URL] [--janus-pid PID]: the same participants\n"
          "through a Janus VideoRoom over its HTTP API (bench/janus-start.sh starts one;\n"
          "not with --spawn or --ramp); relay figures are then Janus's.\n",
          stderr);
    return 2;
}

static bool num(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.bubbles = 2,
                       .peers = 3,
                       .publishers = -1,
                       .duration_s = 10,
                       .mode = MODE_VIDEO,
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
                       .ramp_step_s = 5};
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
            o->mode = MODE_AUDIO;
            continue;
        } else if (strcmp(a, "--video") == 0) {
            o->mode = MODE_VIDEO;
            continue;
        } else if (strcmp(a, "--mixed") == 0) {
            o->mode = MODE_MIXED;
            continue;
        } else if (strcmp(a, "--ramp") == 0) {
            o->ramp = true;
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
        } else if (strcmp(a, "--janus-pid") == 0 && num(v, 1, 1e9, &d)) {
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
        } else if (strcmp(a, "--bubbles") == 0 && num(v, 1, 10000, &d)) {
            o->bubbles = (unsigned)d;
        } else if (strcmp(a, "--peers") == 0 && num(v, 1, 1000, &d)) {
            o->peers = (unsigned)d;
        } else if (strcmp(a, "--publishers") == 0 && num(v, 0, 1000, &d)) {
            o->publishers = (int)d;
        } else if (strcmp(a, "--duration") == 0 && num(v, 1, 86400, &d)) {
            o->duration_s = d;
        } else if (strcmp(a, "--ramp-s") == 0 && num(v, 0, 86400, &d)) {
            o->ramp_s = d;
        } else if (strcmp(a, "--relay-workers") == 0 && num(v, 1, 256, &d)) {
            o->relay_workers = (unsigned)d;
        } else if (strcmp(a, "--width") == 0 && num(v, 16, 4096, &d)) {
            o->width = (unsigned)d;
        } else if (strcmp(a, "--height") == 0 && num(v, 16, 4096, &d)) {
            o->height = (unsigned)d;
        } else if (strcmp(a, "--fps") == 0 && num(v, 1, 120, &d)) {
            o->fps = (unsigned)d;
        } else if (strcmp(a, "--video-kbps") == 0 && num(v, 30, 50000, &d)) {
            o->video_kbps = (unsigned)d;
        } else if (strcmp(a, "--decode-video") == 0 && num(v, 0, 1000, &d)) {
            o->decode_video = (unsigned)d;
        } else if (strcmp(a, "--audio-kbps") == 0 && num(v, 6, 510, &d)) {
            o->audio_kbps = (unsigned)d;
        } else if (strcmp(a, "--ramp-step") == 0 && num(v, 1, 1000, &d)) {
            o->ramp_step = (unsigned)d;
        } else if (strcmp(a, "--ramp-step-s") == 0 && num(v, 1, 3600, &d)) {
            o->ramp_step_s = d;
        } else if (strcmp(a, "--max-peers") == 0 && num(v, 1, 10000, &d)) {
            o->max_peers = (unsigned)d;
        } else {
            return usage();
        }
    }
    if (o->janus_url != NULL && (o->spawn || o->ramp))
        return usage(); /* --target janus: Janus is started by bench/janus-start.sh */
    if (o->ramp_step == 0)
        o->ramp_step = o->peers;
    return 0;
}

/* --- report ------------------------------------------------------------------------ */

static const char *mode_name(enum mode m)
{
    return m == MODE_AUDIO ? "audio-only" : m == MODE_VIDEO ? "video" : "mixed";
}

static void summary(const struct run *r, const struct figures *f, bool have_limit,
                    const struct prism_bench_limit_result *lim)
{
    const struct opts *o = &r->o;
    if (o->ramp)
        printf("\nprism-bench run --ramp: %u bubbles of up to %u peers (%s), +%u peers per step, "
               "%.0f s windows, %zu steps\n",
               o->bubbles, o->peers, mode_name(o->mode), o->ramp_step, o->ramp_step_s, r->n_steps);
    else
        printf("\nprism-bench run: %u bubbles x %u peers (%s), %.0f s + %.0f s ramp\n", o->bubbles,
               o->peers, mode_name(o->mode), o->duration_s, o->ramp_s);
    printf("  %-34s %zu ready, %zu failed of %zu\n", "peers", f->t.ready, f->t.failed, r->n_eps);
    printf("  %-34s %zu of %zu flowing\n", "streams (publisher -> subscriber)", f->streams_flowing,
           f->streams_expected);
    printf("  %-34s p50 %.1f  p95 %.1f  p99 %.1f ms (%zu joins)\n", "join (publish -> decoded)",
           f->join_p50, f->join_p95, f->join_p99, f->joins);
    printf("  %-34s %.3f %% (%llu of %llu)\n", "loss", f->loss_pct, (unsigned long long)f->t.lost,
           (unsigned long long)f->t.expected);
    printf("  %-34s mean %.2f  max %.2f ms\n", "jitter", f->jitter_ms_mean, f->jitter_ms_max);
    printf("  %-34s p50 %.2f  p99 %.2f ms\n", "one-way delay through the relay", f->delay_p50,
           f->delay_p99);
    printf("  %-34s %llu decoded, %llu frozen, %llu decode errors\n", "frames",
           (unsigned long long)f->t.decoded, (unsigned long long)f->t.frozen,
           (unsigned long long)f->t.decode_errors);
    printf("  %-34s in %.0f pps %.2f Mb/s, out %.0f pps %.2f Mb/s\n", "relay traffic (steady)",
           f->in_pps, f->in_mbps, f->out_pps, f->out_mbps);
    printf("  %-34s %llu (received %llu)\n", "packets forwarded by the relay",
           (unsigned long long)f->packets_forwarded,
           (unsigned long long)f->packets_received_by_relay);
    printf("  %-34s %.2f us/packet, %.0f %% of a core (%.1f s window)\n", "relay CPU",
           f->cpu_us_per_packet, f->relay_cpu_pct, f->win_s);
    printf("  %-34s %ld KiB, %ld KiB per peer\n", "relay RSS", f->rss_kib, f->rss_kib_per_peer);
    printf("  %-34s %.1f ms worst pacer lateness; drops: %llu egress, %llu ingress\n", "bench loop",
           f->worst_lag_ms, (unsigned long long)r->bench_drop_egress,
           (unsigned long long)r->bench_drop_other);
    if (r->relay_drops != NULL) {
        char *d = json_dumps(r->relay_drops, JSON_COMPACT);
        printf("  %-34s %s\n", "relay drops", d ? d : "?");
        free(d);
    }
    if (have_limit)
        printf("  %-34s %.2f us/packet (%.0f pps/core, %.0f B, fan-out %.0f) -> ratio %.2f\n",
               "limit loop", lim->cpu_us_per_packet, lim->packets_per_cpu_s, f->mean_packet_bytes,
               f->fanout < 1 ? 1 : round(f->fanout),
               lim->cpu_us_per_packet > 0 ? f->cpu_us_per_packet / lim->cpu_us_per_packet : 0);
}

/* --- main -------------------------------------------------------------------------- */

static int setup_site(struct run *r)
{
    struct prism_cert *cert = NULL;
    int rc = prism_cert_generate(&cert);
    if (rc == 0)
        rc = prism_dtls_ctx_new(cert, &r->site.dtls_ctx);
    if (rc == 0)
        snprintf(r->site.fingerprint, sizeof(r->site.fingerprint), "sha-256 %s",
                 prism_cert_fingerprint(cert));
    prism_cert_free(cert);
    if (rc == 0)
        rc = prism_egress_new(EGRESS_BUFS, &r->site.egress);
    r->site.loop = &r->loop;
    r->site.local_ip = r->o.local_ip;
    r->site.tenant = r->o.tenant;
    r->site.max_video_decoders = r->o.decode_video;
    return rc;
}

static int make_clips(struct run *r)
{
    int rc = prism_bench_clip_opus(r->o.audio_kbps, 2.0, &r->audio);
    if (rc == 0 && r->o.mode != MODE_AUDIO)
        rc = prism_bench_clip_vp8(r->o.width, r->o.height, r->o.fps, r->o.video_kbps, 3.0,
                                  &r->video);
    return rc;
}

/* Creates endpoint number r->n_eps (peer i % P of bubble i / P) and counts it. */
static int add_endpoint(struct run *r)
{
    size_t i = r->n_eps;
    unsigned b = (unsigned)(i / r->o.peers), p = (unsigned)(i % r->o.peers);
    char bubble[32], peer[32];
    snprintf(bubble, sizeof(bubble), "b%u", b);
    snprintf(peer, sizeof(peer), "p%u", p);
    bool video = r->o.mode == MODE_VIDEO || (r->o.mode == MODE_MIXED && b % 2 == 0);
    bool pub = r->o.publishers < 0 || (int)p < r->o.publishers;
    int rc = prism_bench_endpoint_new(&r->site, bubble, peer, pub ? r->audio : NULL,
                                      pub && video ? r->video : NULL, &r->eps[i]);
    if (rc != 0)
        return rc;
    g_hash_table_insert(r->by_name, g_strdup_printf("%s/%s", bubble, peer), r->eps[i]);
    r->n_eps++;
    return 0;
}

/* Every endpoint up front; with --ramp, room for --max-peers, added per step. */
static int make_endpoints(struct run *r)
{
    size_t cap = r->o.ramp ? r->o.max_peers : (size_t)r->o.bubbles * r->o.peers;
    r->eps = calloc(cap, sizeof(*r->eps));
    r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    if (r->eps == NULL)
        return PRISM_ENOMEM;
    if (r->o.ramp) {
        r->steps = calloc(r->o.max_peers / r->o.ramp_step + 2, sizeof(*r->steps));
        return r->steps != NULL ? 0 : PRISM_ENOMEM;
    }
    while (r->n_eps < cap) {
        int rc = add_endpoint(r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void start_setup(struct run *r)
{
    if (r->janus != NULL) { /* rooms and handles exist already (janus_setup) */
        stats_get(r, on_baseline, r);
        return;
    }
    unsigned bubbles = r->o.ramp ? 0 : r->o.bubbles; /* the ramp creates its own */
    r->setup_pending = 2 + (int)bubbles;
    prism_bench_rpc_call(r->events, "events.subscribe",
                         json_pack("{s:[s]}", "tenants", r->o.tenant), on_setup_reply, r);
    prism_bench_rpc_call(r->site.rpc, "tenant.create",
                         json_pack("{s:s, s:{s:i, s:i}}", "tenant", r->o.tenant, "limits",
                                   "max_bubbles", 0, "max_peers", 0),
                         on_setup_reply, r);
    for (unsigned b = 0; b < bubbles; b++) {
        char bubble[32];
        snprintf(bubble, sizeof(bubble), "b%u", b);
        prism_bench_rpc_call(r->site.rpc, "bubble.create",
                             json_pack("{s:s, s:s}", "tenant", r->o.tenant, "bubble", bubble),
                             on_setup_reply, r);
    }
}

/* --- --ramp ------------------------------------------------------------------------- */

static void ramp_mark(struct run *r, const struct totals *t, struct prism_bench_ramp_mark *m)
{
    const struct sample *s = &r->samples[r->n_samples - 1];
    m->t = s->t;
    m->sample = r->n_samples - 1;
    m->relay_cpu_s = s->relay_cpu_s;
    m->bench_cpu_s = s->bench_cpu_s;
    m->rx_packets = t->rx_packets;
    m->lost = t->lost;
    m->expected = t->expected;
    m->decode_errors = t->decode_errors;
    m->delay = *r->delay_cum;
}

static void ramp_stop(struct run *r, const char *why)
{
    r->ramp = RAMP_DONE;
    snprintf(r->ramp_stop, sizeof(r->ramp_stop), "%s", why);
    on_end(&r->phase);
}

/* Adds the next step's peers: creates the bubbles they open (the control
 * connection handles requests in order, so their peer.join comes after) and
 * starts their joins at once. */
static void ramp_add_step(struct run *r)
{
    size_t want = r->n_eps + r->o.ramp_step;
    if (want > r->o.max_peers)
        want = r->o.max_peers;
    while (r->n_eps < want) {
        if (r->n_eps % r->o.peers == 0) {
            char bubble[32];
            snprintf(bubble, sizeof(bubble), "b%zu", r->n_eps / r->o.peers);
            prism_bench_rpc_call(r->site.rpc, "bubble.create",
                                 json_pack("{s:s, s:s}", "tenant", r->o.tenant, "bubble", bubble),
                                 NULL, NULL);
        }
        if (add_endpoint(r) != 0) {
            ramp_stop(r, "out of memory adding peers");
            return;
        }
    }
    struct prism_bench_ramp_step *st = &r->steps[r->n_steps++];
    st->peers = (unsigned)r->n_eps;
    st->bubbles = (unsigned)((r->n_eps + r->o.peers - 1) / r->o.peers);
    st->t_start = s_since(r, prism_bench_now_ns());
    r->ramp = RAMP_JOINING;
    uv_timer_start(&r->joiner, on_joiner, 0, 1);
}

/* Streams expected (every other publisher's tracks in the bubble) and
 * flowing, for the step's figures. Bubbles are runs of P endpoints. */
static void count_streams(const struct run *r, size_t *expected, size_t *flowing)
{
    *expected = *flowing = 0;
    for (size_t i = 0; i < r->n_eps; i++) {
        const struct prism_bench_endpoint *ep = r->eps[i];
        size_t first = i - i % r->o.peers, end = first + r->o.peers;
        for (size_t k = first; k < end && k < r->n_eps; k++)
            if (k != i && r->eps[k]->publish)
                *expected += (r->eps[k]->audio != NULL) + (r->eps[k]->video != NULL);
        for (size_t k = 0; k < ep->n_rx; k++)
            *flowing += ep->rx[k]->rx.packets > 0;
    }
}

/* The ramp's state machine, run on every 1 s sample: joins -> settle ->
 * measurement window -> judge -> next step or stop. */
static void ramp_on_sample(struct run *r, const struct totals *t)
{
    if (r->ramp == RAMP_OFF || r->ramp == RAMP_DONE || r->n_steps == 0)
        return;
    struct prism_bench_ramp_step *st = &r->steps[r->n_steps - 1];
    double now = r->samples[r->n_samples - 1].t;
    switch (r->ramp) {
    case RAMP_JOINING:
        if ((t->ready + t->failed == r->n_eps && r->next_join == r->n_eps) ||
            now - st->t_start > RAMP_JOIN_TIMEOUT_S) {
            r->ramp = RAMP_SETTLING;
            r->settle_until = now + RAMP_SETTLE_S;
        }
        break;
    case RAMP_SETTLING:
        if (now >= r->settle_until - 0.05) {
            ramp_mark(r, t, &r->mark_open);
            r->ramp = RAMP_MEASURING;
        }
        break;
    case RAMP_MEASURING:
        if (now - r->mark_open.t < r->o.ramp_step_s - 0.05)
            break;
        ramp_mark(r, t, &r->mark_close);
        st->peers_ready = t->ready;
        st->peers_failed = t->failed + (r->n_eps - t->ready - t->failed);
        count_streams(r, &st->streams_expected, &st->streams_flowing);
        prism_bench_ramp_close(st, &r->mark_open, &r->mark_close);
        if (!r->o.quiet)
            fprintf(stderr,
                    "%sramp step %zu: %u peers, %zu/%zu streams, %.0f pps delivered, loss %.2f %%, "
                    "delay p99 %.2f ms, relay cpu %.0f %%, bench cpu %.0f %% -> %s\n",
                    r->tty ? "\r" : "", r->n_steps, st->peers, st->streams_flowing,
                    st->streams_expected, st->rx_pps, st->loss_pct, st->delay_p99_ms,
                    st->relay_cpu_pct, st->bench_cpu_pct, st->pass ? "pass" : st->why);
        char why[200];
        if (!st->pass) {
            snprintf(why, sizeof(why), "step %zu (%u peers) failed: %s", r->n_steps, st->peers,
                     st->why);
            ramp_stop(r, why);
        } else if (r->n_eps >= r->o.max_peers) {
            snprintf(why, sizeof(why), "reached --max-peers %u without failing", r->o.max_peers);
            ramp_stop(r, why);
        } else {
            ramp_add_step(r);
        }
        break;
    default: break;
    }
}

/* Per-step figures only known at the end: relay counters (stats.get replies
 * arrive after their sample) and the pacer's worst lateness. */
static void ramp_finish(struct run *r)
{
    for (size_t i = 0; i < r->n_steps; i++) {
        struct prism_bench_ramp_step *st = &r->steps[i];
        if (st->sample_close <= st->sample_open || st->sample_close >= r->n_samples)
            continue;
        const struct sample *a = &r->samples[st->sample_open], *b = &r->samples[st->sample_close];
        double win = b->t - a->t;
        if (a->relay.valid && b->relay.valid && win > 0) {
            st->relay_in_pps = (double)(b->relay.packets_in - a->relay.packets_in) / win;
            st->relay_out_pps = (double)(b->relay.packets_out - a->relay.packets_out) / win;
        }
        for (size_t k = st->sample_open + 1; k <= st->sample_close; k++)
            if (r->samples[k].lag_ms > st->worst_lag_ms)
                st->worst_lag_ms = r->samples[k].lag_ms;
    }
    if (r->ramp != RAMP_DONE)
        snprintf(r->ramp_stop, sizeof(r->ramp_stop), "interrupted");
    r->o.bubbles = (unsigned)((r->n_eps + r->o.peers - 1) / r->o.peers);
}

/* Builds the report object and writes it as --json and/or --html. */
static void write_reports(const struct run *r, const struct figures *f, json_t *streams,
                          bool have_limit, const struct prism_bench_limit_result *lim,
                          json_t *failures, int relay_exit)
{
    const struct opts *o = &r->o;
    json_t *timeline = json_array();
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct sample *s = &r->samples[i];
        json_array_append_new(timeline,
                              json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "t", s->t,
                                        "relay_cpu_s", s->relay_cpu_s, "relay_rss_kib",
                                        (json_int_t)s->rss_kib, "bench_rx_packets",
                                        (json_int_t)s->rx_packets, "relay_packets_in",
                                        (json_int_t)s->relay.packets_in, "relay_packets_out",
                                        (json_int_t)s->relay.packets_out, "relay_bytes_in",
                                        (json_int_t)s->relay.bytes_in, "relay_bytes_out",
                                        (json_int_t)s->relay.bytes_out, "bench_lag_ms", s->lag_ms));
        json_t *e = json_array_get(timeline, json_array_size(timeline) - 1);
        json_object_set_new(e, "bench_cpu_s", json_real(s->bench_cpu_s));
        json_object_set_new(e, "packets_lost", json_integer((json_int_t)s->lost));
        json_object_set_new(e, "packets_expected", json_integer((json_int_t)s->expected));
        json_object_set_new(e, "delay_p50_ms", json_real(s->delay_p50_ms));
        json_object_set_new(e, "delay_p99_ms", json_real(s->delay_p99_ms));
    }
    json_t *root = json_pack(
        "{s:s, s:{s:i, s:i, s:i, s:f, s:f, s:s, s:{s:i, s:i, s:i, s:i}, s:{s:i}},"
        " s:I, s:I, s:f, s:I, s:I, s:I, s:f, s:{s:f, s:f}, s:{s:f, s:f}, s:{s:f, s:f, s:f},"
        " s:f, s:f, s:I, s:I, s:{s:f, s:f, s:f, s:f}, s:f, s:i, s:i, s:I, s:I, s:f}",
        "target", "prism", "scenario", "bubbles", (int)o->bubbles, "peers", (int)o->peers,
        "publishers", o->publishers < 0 ? (int)o->peers : o->publishers, "duration_s",
        o->duration_s, "ramp_s", o->ramp_s, "mode", mode_name(o->mode), "video", "width",
        (int)o->width, "height", (int)o->height, "fps", (int)o->fps, "kbps", (int)o->video_kbps,
        "audio", "kbps", (int)o->audio_kbps, "packets_forwarded", (json_int_t)f->packets_forwarded,
        "packets_received_by_relay", (json_int_t)f->packets_received_by_relay, "loss_pct",
        f->loss_pct, "packets_lost", (json_int_t)f->t.lost, "packets_expected",
        (json_int_t)f->t.expected, "decode_errors", (json_int_t)f->t.decode_errors,
        "relay_cpu_us_per_packet", f->cpu_us_per_packet, "delay_ms", "p50", f->delay_p50, "p99",
        f->delay_p99, "jitter_ms", "mean", f->jitter_ms_mean, "max", f->jitter_ms_max, "join_ms",
        "p50", f->join_p50, "p95", f->join_p95, "p99", f->join_p99, "relay_rss_kib_per_peer",
        (double)f->rss_kib_per_peer, "relay_cpu_pct", f->relay_cpu_pct, "frames_decoded",
        (json_int_t)f->t.decoded, "frozen_frames", (json_int_t)f->t.frozen, "relay",
        "packets_in_per_s", f->in_pps, "packets_out_per_s", f->out_pps, "mbps_in", f->in_mbps,
        "mbps_out", f->out_mbps, "window_s", f->win_s, "streams_expected", (int)f->streams_expected,
        "streams_flowing", (int)f->streams_flowing, "peers_ready", (json_int_t)f->t.ready,
        "peers_failed", (json_int_t)f->t.failed, "bench_worst_lag_ms", f->worst_lag_ms);
    json_object_set_new(root, "relay_rss_kib", json_integer(f->rss_kib));
    if (r->janus != NULL)
        json_object_set_new(root, "target", json_string("janus"));
    json_object_set_new(root, "relay_exit_status", json_integer(relay_exit));
    json_object_set_new(root, "mean_packet_bytes", json_real(f->mean_packet_bytes));
    json_object_set_new(root, "fanout", json_real(f->fanout));
    if (r->relay_drops != NULL)
        json_object_set(root, "relay_drops", r->relay_drops);
    json_object_set_new(root, "bench_drop_egress", json_integer((json_int_t)r->bench_drop_egress));
    json_object_set_new(root, "bench_drop_ingress", json_integer((json_int_t)r->bench_drop_other));
    json_object_set_new(root, "srtp_backend", json_string(prism_srtp_crypto_backend()));
    if (have_limit) {
        json_object_set_new(root, "limit_cpu_us_per_packet", json_real(lim->cpu_us_per_packet));
        json_object_set_new(root, "limit_packets_per_cpu_s", json_real(lim->packets_per_cpu_s));
        json_object_set_new(root, "ratio_to_limit",
                            json_real(lim->cpu_us_per_packet > 0
                                          ? f->cpu_us_per_packet / lim->cpu_us_per_packet
                                          : 0));
    }
    json_object_set_new(root, "verdict", json_string(json_array_size(failures) ? "fail" : "pass"));
    json_object_set(root, "failures", failures);
    json_object_set(root, "streams", streams);
    json_object_set_new(root, "timeline", timeline);
    if (o->ramp) {
        json_object_set_new(root, "ramp",
                            prism_bench_ramp_json(r->steps, r->n_steps, r->ramp_stop));
        json_object_set_new(json_object_get(root, "scenario"), "ramp_step",
                            json_integer(o->ramp_step));
        json_object_set_new(json_object_get(root, "scenario"), "ramp_step_s",
                            json_real(o->ramp_step_s));
        json_object_set_new(json_object_get(root, "scenario"), "max_peers",
                            json_integer(o->max_peers));
    }
    if (o->json_out != NULL && json_dump_file(root, o->json_out, JSON_INDENT(1)) != 0)
        fprintf(stderr, "prism-bench: cannot write %s\n", o->json_out);
    if (o->html_out != NULL && prism_bench_html_write(root, o->html_out) != 0)
        fprintf(stderr, "prism-bench: cannot write %s\n", o->html_out);
    json_decref(root);
}

/* --- --target janus (bench/janus.h) ---------------------------------------------------- */

/* A session, one room per bubble and the endpoints' handles, before the
 * loop runs; the endpoints then signal through Janus. */
static int janus_setup(struct run *r)
{
    char err[256] = "";
    int rc = prism_bench_janus_open(&r->loop, r->o.janus_url, &r->janus, err, sizeof(err));
    for (unsigned b = 0; rc == 0 && b < r->o.bubbles; b++) {
        char bubble[32];
        snprintf(bubble, sizeof(bubble), "b%u", b);
        rc = prism_bench_janus_add_bubble(r->janus, bubble, r->o.peers, err, sizeof(err));
    }
    for (size_t i = 0; rc == 0 && i < r->n_eps; i++)
        rc = prism_bench_janus_add_endpoint(r->janus, r->eps[i], err, sizeof(err));
    if (rc == 0) {
        r->site.signaller = prism_bench_janus_signaller(r->janus);
        r->relay_pid = r->o.janus_pid > 0 ? r->o.janus_pid : prism_bench_janus_pid(r->janus);
        if (r->relay_pid <= 0) {
            snprintf(err, sizeof(err), "cannot find the Janus pid (give --janus-pid)");
            rc = -1;
        }
    }
    if (rc == 0 && prism_bench_janus_start(r->janus) != 0) {
        snprintf(err, sizeof(err), "cannot start the Janus threads");
        rc = -1;
    }
    if (rc != 0)
        fprintf(stderr, "prism-bench: %s\n", err);
    return rc;
}

int prism_bench_run(int argc, char **argv)
{
    struct run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return 1;
    if (parse(argc, argv, &r->o) != 0) {
        free(r);
        return 2;
    }
    struct opts *o = &r->o;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bool pin = cpus >= 2;
    if (o->relay_workers == 0)
        o->relay_workers = pin ? 1 : (unsigned)cpus;
    r->tty = isatty(2);
    r->samples = calloc(MAX_SAMPLES, sizeof(*r->samples));
    r->delay_cum = calloc(1, sizeof(*r->delay_cum));
    r->delay_prev = calloc(1, sizeof(*r->delay_prev));
    if (r->samples == NULL || r->delay_cum == NULL || r->delay_prev == NULL) {
        fprintf(stderr, "prism-bench: out of memory\n");
        free(r->samples);
        free(r->delay_cum);
        free(r->delay_prev);
        free(r);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/prism-bench-XXXXXX", sock[256];
    int rc = 1;
    r->relay_pid = -1;
    if (o->spawn) {
        if (mkdtemp(dir) == NULL) {
            perror("prism-bench: mkdtemp");
            return 1;
        }
        char workers[16];
        snprintf(workers, sizeof(workers), "%u", o->relay_workers);
        const char *const args[] = {"--workers", workers, "--media-ip", o->local_ip, NULL};
        struct prism_bench_relay_spawn spawn = {
            .prism = o->prism, .args = args, .cpu = pin ? 0 : -1};
        r->relay_pid = prism_bench_relay_spawn(&spawn, dir, sock, sizeof(sock));
        if (r->relay_pid < 0) {
            fprintf(stderr, "prism-bench: could not start %s (see --prism)\n", o->prism);
            prism_bench_relay_dir_remove(dir);
            return 1;
        }
        o->control = sock;
        if (pin)
            prism_bench_proc_pin(0, 1);
    }
    if (uv_loop_init(&r->loop) != 0 || setup_site(r) != 0) {
        fprintf(stderr, "prism-bench: setup failed\n");
        goto out;
    }
    uint64_t enc0 = prism_bench_now_ns();
    if (make_clips(r) != 0) {
        fprintf(stderr, "prism-bench: encoding the clips failed\n");
        goto out;
    }
    if (!o->quiet)
        fprintf(stderr,
                "prism-bench: clips encoded once in %.0f ms: opus %.0f kb/s; vp8 %.0f kb/s, "
                "key frame %zu bytes\n",
                (double)(prism_bench_now_ns() - enc0) / 1e6,
                (double)r->audio->bytes * 8 / ((double)r->audio->n_frames * 0.02) / 1000,
                r->video ? (double)r->video->bytes * 8 /
                               ((double)r->video->n_frames / r->video->fps) / 1000
                         : 0.0,
                r->video ? r->video->frames[0].len : (size_t)0);
    if (make_endpoints(r) != 0) {
        fprintf(stderr, "prism-bench: out of memory\n");
        goto out;
    }
    if (o->janus_url != NULL && janus_setup(r) != 0) /* --target janus */
        goto out;
    int e = o->janus_url != NULL
                ? 0
                : prism_bench_rpc_open(&r->loop, o->control, NULL, NULL, &r->site.rpc);
    if (e == 0 && o->janus_url == NULL)
        e = prism_bench_rpc_open(&r->loop, o->control, on_event, r, &r->events);
    if (e != 0) {
        fprintf(stderr, "prism-bench: cannot connect to %s: %s\n", o->control, uv_strerror(e));
        goto out;
    }
    if (r->relay_pid < 0)
        r->relay_pid = prism_bench_rpc_peer_pid(r->site.rpc);
    uv_timer_init(&r->loop, &r->pacer);
    uv_timer_init(&r->loop, &r->second);
    uv_timer_init(&r->loop, &r->joiner);
    uv_timer_init(&r->loop, &r->phase);
    uv_prepare_init(&r->loop, &r->flush);
    r->pacer.data = r->second.data = r->joiner.data = r->phase.data = r->flush.data = r;
    uv_prepare_start(&r->flush, on_flush);
    start_setup(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    if (!o->quiet && r->tty)
        fputc('\n', stderr);
    if (r->setup_failed)
        goto out;

    if (o->ramp)
        ramp_finish(r);
    json_t *streams = json_array(), *failures = json_array();
    struct figures f;
    figures(r, &f, streams);
    int relay_exit = -1;
    if (o->spawn && r->relay_pid > 0) {
        relay_exit = prism_bench_relay_stop(r->relay_pid);
        r->relay_pid = -1;
    }
    struct prism_bench_limit_result lim = {0};
    bool have_limit = false;
    if (o->limit) {
        size_t bytes = f.mean_packet_bytes >= 12 ? (size_t)f.mean_packet_bytes : 1200;
        unsigned k = f.fanout >= 1 ? (unsigned)lround(f.fanout) : 1;
        if (!o->quiet)
            fprintf(stderr, "prism-bench: limit loop: %zu-byte packets, fan-out %u, %s...\n", bytes,
                    k, prism_srtp_profile_name(PRISM_SRTP_AEAD_AES_256_GCM));
        have_limit = prism_bench_limit_run(bytes, k > 64 ? 64 : k, PRISM_SRTP_AEAD_AES_256_GCM, 3.0,
                                           pin ? 0 : -1, pin ? 1 : -1, &lim) == 0;
        if (!have_limit)
            fprintf(stderr, "prism-bench: the limit loop failed\n");
    }
    summary(r, &f, have_limit, &lim);
    if (o->ramp)
        prism_bench_ramp_print(r->steps, r->n_steps, r->ramp_stop);

    char why[512];
    long cap = o->ramp ? prism_bench_ramp_capacity(r->steps, r->n_steps) : 0;
    if (o->ramp) {
        /* Overload is how a ramp ends: the whole run's loss is expected. */
        if (cap < 0) {
            snprintf(why, sizeof(why), "ramp: no step passed (%s)", r->ramp_stop);
            json_array_append_new(failures, json_string(why));
        }
    } else if (f.t.rx_packets == 0)
        json_array_append_new(failures, json_string("no media flowed"));
    else if (f.streams_flowing < f.streams_expected) {
        snprintf(why, sizeof(why), "no media on %zu of %zu streams",
                 f.streams_expected - f.streams_flowing, f.streams_expected);
        json_array_append_new(failures, json_string(why));
    }
    if (!o->ramp && f.loss_pct > 1.0) {
        snprintf(why, sizeof(why), "loss %.2f %% > 1 %%", f.loss_pct);
        json_array_append_new(failures, json_string(why));
    }
    if (f.t.decode_errors > 0) {
        snprintf(why, sizeof(why), "%llu decode errors", (unsigned long long)f.t.decode_errors);
        json_array_append_new(failures, json_string(why));
    }
    if (!o->ramp && f.t.failed > 0) {
        const char *first = "";
        for (size_t i = 0; i < r->n_eps && first[0] == '\0'; i++)
            first = r->eps[i]->error;
        snprintf(why, sizeof(why), "%zu peers failed (%s)", f.t.failed, first);
        json_array_append_new(failures, json_string(why));
    }
    if (o->json_out != NULL || o->html_out != NULL)
        write_reports(r, &f, streams, have_limit, &lim, failures, relay_exit);
    if (json_array_size(failures) == 0) {
        printf("verdict: PASS\n");
        rc = 0;
    } else {
        printf("verdict: FAIL:");
        for (size_t i = 0; i < json_array_size(failures); i++)
            printf("%s %s", i ? ";" : "", json_string_value(json_array_get(failures, i)));
        printf("\n");
        rc = 1;
    }
    json_decref(streams);
    json_decref(failures);
out:
    if (r->relay_pid > 0 && o->spawn)
        prism_bench_relay_stop(r->relay_pid);
    if (o->spawn)
        prism_bench_relay_dir_remove(dir);
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_endpoint_free(r->eps[i]);
    free(r->eps);
    if (r->by_name != NULL)
        g_hash_table_destroy(r->by_name);
    uv_loop_close(&r->loop);
    prism_egress_free(r->site.egress);
    prism_dtls_ctx_free(r->site.dtls_ctx);
    prism_bench_clip_free(r->audio);
    prism_bench_clip_free(r->video);
    prism_bench_janus_close(r->janus);
    json_decref(r->relay_drops);
    free(r->samples);
    free(r->delay_cum);
    free(r->delay_prev);
    free(r->steps);
    free(r);
    return rc;
}
