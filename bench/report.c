/* prism-bench run: figures and reports, after the loop (see
 * scenario_internal.h).
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
 * - delay inside the relay: the relay's own residence-time histogram
 *   (relay-wide stats.get, kernel receive to sendmmsg), from when every
 *   endpoint was ready to the end: the relay's share of the one-way delay
 *   without the bench's scheduling in it;
 * - per second (the JSON timeline): relay and bench CPU, relay RSS and
 *   counters, loss counters and the delay p50/p99 of that second (every
 *   receiver's histogram merged, minus the previous second's).
 *
 * Reports: the text summary on stdout, the JSON object (--json) and the
 * HTML page made from it (--html, bench/html.h); with --ramp, the per-step
 * table (bench/ramp.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/html.h"
#include "bench/scenario_internal.h"

/* --- totals over the endpoints ------------------------------------------------------- */

void prism__run_totals(const struct prism__run *r, struct prism__run_totals *t)
{
    prism__totals(r->eps, r->n_eps, t);
}

void prism__totals(struct prism_bench_endpoint *const *eps, size_t n, struct prism__run_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        const struct prism_bench_endpoint *ep = eps[i];
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
            t->authenticated += ep->rx[k]->authenticated;
        }
    }
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

static struct prism_bench_endpoint *find_ep(struct prism__run *r, const char *bubble,
                                            const char *peer)
{
    char key[2 * PRISM_BENCH_ID_LEN + 2];
    snprintf(key, sizeof(key), "%s/%s", bubble, peer);
    return g_hash_table_lookup(r->by_name, key);
}

/* The sample nearest at or after `t`, and at or before `t`. */
static const struct prism__run_sample *sample_at_or_after(const struct prism__run *r, double t)
{
    for (size_t i = 0; i < r->n_samples; i++)
        if (r->samples[i].t >= t)
            return &r->samples[i];
    return r->n_samples ? &r->samples[r->n_samples - 1] : NULL;
}

/* The --loss counts as the JSON report writes them (`all`: the run's
 * totals, with the NACKs and audio drops an endpoint counts). */
static json_t *quality_json(const struct prism_bench_quality_totals *q, bool all)
{
    uint64_t unrecovered = q->dropped_video - q->recovered;
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f}", "video_lost",
        (json_int_t)q->dropped_video, "recovered", (json_int_t)q->recovered, "unrecovered",
        (json_int_t)unrecovered, "late", (json_int_t)q->late, "recovered_pct",
        q->dropped_video ? 100.0 * (double)q->recovered / (double)q->dropped_video : 0.0,
        "rtx_lost", (json_int_t)q->dropped_rtx, "rtx_received", (json_int_t)q->rtx_received,
        "given_up", (json_int_t)q->given_up, "freeze_count", (json_int_t)q->freezes,
        "total_freezes_duration_s", (double)q->freeze_ns / 1e9);
    if (all) {
        json_object_set_new(o, "audio_lost", json_integer((json_int_t)q->dropped_audio));
        json_object_set_new(
            o, "lost",
            json_integer((json_int_t)(q->dropped_audio + q->dropped_video + q->dropped_rtx)));
        json_object_set_new(o, "nacks_sent", json_integer((json_int_t)q->nacks_sent));
        json_object_set_new(o, "seqs_nacked", json_integer((json_int_t)q->seqs_nacked));
        json_object_set_new(o, "video_streams", json_integer((json_int_t)q->video_streams));
    }
    return o;
}

void prism__run_figures(struct prism__run *r, struct prism__run_figures *f, json_t *streams)
{
    memset(f, 0, sizeof(*f));
    prism__run_totals(r, &f->t);
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
            if (ep->quality != NULL && rx->video) {
                struct prism_bench_quality_totals q = {0};
                prism_bench_quality_add(ep->quality, (long)k, &q);
                json_t *st = json_array_get(streams, json_array_size(streams) - 1);
                json_object_set_new(st, "quality", quality_json(&q, false));
            }
        }
    }
    f->loss_pct = f->t.expected ? 100.0 * (double)f->t.lost / (double)f->t.expected : 0;
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_quality_add(r->eps[i]->quality, -1, &f->q);
    if (r->o.loss_pct >= 0 && f->t.expected) {
        /* The receivers count as lost what the simulated loss dropped and
         * no retransmission restored; anything beyond is the path's. */
        uint64_t sim = f->q.dropped_audio + f->q.dropped_video - f->q.recovered;
        f->loss_beyond_pct =
            f->t.lost > sim ? 100.0 * (double)(f->t.lost - sim) / (double)f->t.expected : 0;
    }
    f->jitter_ms_mean = n_jitter ? f->jitter_ms_mean / (double)n_jitter : 0;
    f->delay_p50 = prism_bench_hist_quantile_ms(all, 0.5);
    f->delay_p99 = prism_bench_hist_quantile_ms(all, 0.99);
    if (r->relay_delay_set[0] && r->relay_delay_set[1]) {
        struct prism_delay_hist d;
        prism_delay_hist_diff(&r->relay_delay[1], &r->relay_delay[0], &d);
        f->relay_delay = true;
        f->relay_delay_datagrams = prism_delay_hist_total(&d);
        f->relay_delay_p50 = prism_delay_hist_quantile_us(&d, 0.5) / 1000.0;
        f->relay_delay_p99 = prism_delay_hist_quantile_us(&d, 0.99) / 1000.0;
    }
    qsort(joins, f->joins, sizeof(double), cmp_double);
    f->join_p50 = quantile(joins, f->joins, 0.5);
    f->join_p95 = quantile(joins, f->joins, 0.95);
    f->join_p99 = quantile(joins, f->joins, 0.99);
    free(joins);
    free(all);

    /* Steady window: from 1 s after every endpoint was ready to the stop. */
    double end = prism__run_s_since(r, r->stop_ns);
    double start = r->ready_ns ? prism__run_s_since(r, r->ready_ns) + 1.0 : r->o.ramp_s + 1.0;
    const struct prism__run_sample *a = sample_at_or_after(r, start),
                                   *b = sample_at_or_after(r, end);
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

/* --- reports ----------------------------------------------------------------------- */

/* The relay's peak RSS over the samples minus its RSS at the baseline
 * (--attack compares this with and without the flood). */
static long rss_growth_kib(const struct prism__run *r)
{
    long peak = r->base_rss_kib;
    for (size_t i = 0; i < r->n_samples; i++)
        if (r->samples[i].rss_kib > peak)
            peak = r->samples[i].rss_kib;
    return peak - r->base_rss_kib;
}

void prism__run_summary(const struct prism__run *r, const struct prism__run_figures *f,
                        bool have_limit, const struct prism_bench_limit_result *lim)
{
    const struct prism_bench_run_options *o = &r->o;
    if (o->ramp)
        printf("\nprism-bench run --ramp: %u bubbles of up to %u peers (%s), +%u peers per step, "
               "%.0f s windows, %zu steps\n",
               o->bubbles, o->peers, prism_bench_mode_name(o->mode), o->ramp_step, o->ramp_step_s,
               r->ramp.n_steps);
    else
        printf("\nprism-bench run: %u bubbles x %u peers (%s), %.0f s + %.0f s ramp\n", o->bubbles,
               o->peers, prism_bench_mode_name(o->mode), o->duration_s, o->ramp_s);
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
    if (f->relay_delay)
        printf("  %-34s p50 %.3f  p99 %.3f ms (%llu datagrams, kernel receive to sendmmsg)\n",
               "delay inside the relay", f->relay_delay_p50, f->relay_delay_p99,
               (unsigned long long)f->relay_delay_datagrams);
    printf("  %-34s %llu decoded, %llu frozen, %llu decode errors\n", "frames",
           (unsigned long long)f->t.decoded, (unsigned long long)f->t.frozen,
           (unsigned long long)f->t.decode_errors);
    if (o->verify_sample > 1)
        printf("  %-34s 1 subscriber in %u verifies all; the others: %llu sampled packets "
               "authenticated\n",
               "verification (--verify-sample)", o->verify_sample,
               (unsigned long long)f->t.authenticated);
    printf("  %-34s in %.0f pps %.2f Mb/s, out %.0f pps %.2f Mb/s\n", "relay traffic (steady)",
           f->in_pps, f->in_mbps, f->out_pps, f->out_mbps);
    printf("  %-34s %llu (received %llu)\n", "packets forwarded by the relay",
           (unsigned long long)f->packets_forwarded,
           (unsigned long long)f->packets_received_by_relay);
    printf("  %-34s %.2f us/packet, %.0f %% of a core (%.1f s window)\n", "relay CPU",
           f->cpu_us_per_packet, f->relay_cpu_pct, f->win_s);
    printf("  %-34s %ld KiB, %ld KiB per peer; peak - baseline %ld KiB\n", "relay RSS", f->rss_kib,
           f->rss_kib_per_peer, rss_growth_kib(r));
    printf("  %-34s %.1f ms worst pacer lateness; drops: %llu egress, %llu ingress\n", "bench loop",
           f->worst_lag_ms, (unsigned long long)r->bench_drop_egress,
           (unsigned long long)r->bench_drop_other);
    if (o->loss_pct >= 0) {
        const struct prism_bench_quality_totals *q = &f->q;
        printf("  %-34s %.1f %%, NACK %s: %llu video + %llu audio + %llu rtx packets dropped\n",
               "simulated downlink loss", o->loss_pct, o->nack ? "on" : "off",
               (unsigned long long)q->dropped_video, (unsigned long long)q->dropped_audio,
               (unsigned long long)q->dropped_rtx);
        printf("  %-34s %llu of %llu (%.1f %%), %llu unrecovered, %llu late; %llu NACKs\n",
               "video packets recovered", (unsigned long long)q->recovered,
               (unsigned long long)q->dropped_video,
               q->dropped_video ? 100.0 * (double)q->recovered / (double)q->dropped_video : 0.0,
               (unsigned long long)(q->dropped_video - q->recovered), (unsigned long long)q->late,
               (unsigned long long)q->nacks_sent);
        printf("  %-34s %llu freezes, %.2f s frozen over %zu video streams\n",
               "freezes (Chromium's definition)", (unsigned long long)q->freezes,
               (double)q->freeze_ns / 1e9, q->video_streams);
        printf("  %-34s %.3f %%\n", "loss beyond the simulated", f->loss_beyond_pct);
    }
    if (r->relay_drops != NULL) {
        char *d = json_dumps(r->relay_drops, JSON_COMPACT);
        printf("  %-34s %s\n", "relay drops", d ? d : "?");
        free(d);
    }
    if (r->attack != NULL) {
        json_t *a = prism_bench_attack_report(r->attack);
        char *d = json_dumps(a, JSON_COMPACT);
        printf("  %-34s %s\n", "attack", d ? d : "?");
        free(d);
        json_decref(a);
    }
    if (have_limit)
        printf("  %-34s %.2f us/packet (%.0f pps/core, %.0f B, fan-out %.0f) -> ratio %.2f\n",
               "limit loop", lim->cpu_us_per_packet, lim->packets_per_cpu_s, f->mean_packet_bytes,
               f->fanout < 1 ? 1 : round(f->fanout),
               lim->cpu_us_per_packet > 0 ? f->cpu_us_per_packet / lim->cpu_us_per_packet : 0);
}

/* --- --ramp ------------------------------------------------------------------------ */

void prism__run_ramp_finish(struct prism__run *r)
{
    for (size_t i = 0; i < r->ramp.n_steps; i++) {
        struct prism_bench_ramp_step *st = &r->ramp.steps[i];
        if (st->sample_close <= st->sample_open || st->sample_close >= r->n_samples)
            continue;
        const struct prism__run_sample *a = &r->samples[st->sample_open],
                                       *b = &r->samples[st->sample_close];
        double win = b->t - a->t;
        if (a->relay.valid && b->relay.valid && win > 0) {
            st->relay_in_pps = (double)(b->relay.packets_in - a->relay.packets_in) / win;
            st->relay_out_pps = (double)(b->relay.packets_out - a->relay.packets_out) / win;
        }
        for (size_t k = st->sample_open + 1; k <= st->sample_close; k++)
            if (r->samples[k].lag_ms > st->worst_lag_ms)
                st->worst_lag_ms = r->samples[k].lag_ms;
    }
    if (r->ramp.state != PRISM_BENCH_RAMP_DONE)
        snprintf(r->ramp.stop, sizeof(r->ramp.stop), "interrupted");
    r->o.bubbles = (unsigned)((r->n_eps + r->o.peers - 1) / r->o.peers);
}

void prism__run_write_reports(const struct prism__run *r, const struct prism__run_figures *f,
                              json_t *streams, bool have_limit,
                              const struct prism_bench_limit_result *lim, json_t *failures,
                              int relay_exit)
{
    const struct prism_bench_run_options *o = &r->o;
    json_t *timeline = json_array();
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct prism__run_sample *s = &r->samples[i];
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
        o->duration_s, "ramp_s", o->ramp_s, "mode", prism_bench_mode_name(o->mode), "video",
        "width", (int)o->width, "height", (int)o->height, "fps", (int)o->fps, "kbps",
        (int)o->video_kbps, "audio", "kbps", (int)o->audio_kbps, "packets_forwarded",
        (json_int_t)f->packets_forwarded, "packets_received_by_relay",
        (json_int_t)f->packets_received_by_relay, "loss_pct", f->loss_pct, "packets_lost",
        (json_int_t)f->t.lost, "packets_expected", (json_int_t)f->t.expected, "decode_errors",
        (json_int_t)f->t.decode_errors, "relay_cpu_us_per_packet", f->cpu_us_per_packet, "delay_ms",
        "p50", f->delay_p50, "p99", f->delay_p99, "jitter_ms", "mean", f->jitter_ms_mean, "max",
        f->jitter_ms_max, "join_ms", "p50", f->join_p50, "p95", f->join_p95, "p99", f->join_p99,
        "relay_rss_kib_per_peer", (double)f->rss_kib_per_peer, "relay_cpu_pct", f->relay_cpu_pct,
        "frames_decoded", (json_int_t)f->t.decoded, "frozen_frames", (json_int_t)f->t.frozen,
        "relay", "packets_in_per_s", f->in_pps, "packets_out_per_s", f->out_pps, "mbps_in",
        f->in_mbps, "mbps_out", f->out_mbps, "window_s", f->win_s, "streams_expected",
        (int)f->streams_expected, "streams_flowing", (int)f->streams_flowing, "peers_ready",
        (json_int_t)f->t.ready, "peers_failed", (json_int_t)f->t.failed, "bench_worst_lag_ms",
        f->worst_lag_ms);
    json_object_set_new(root, "relay_rss_kib", json_integer(f->rss_kib));
    if (f->relay_delay)
        json_object_set_new(root, "relay_delay_ms",
                            json_pack("{s:f, s:f, s:I}", "p50", f->relay_delay_p50, "p99",
                                      f->relay_delay_p99, "datagrams",
                                      (json_int_t)f->relay_delay_datagrams));
    json_object_set_new(root, "relay_rss_growth_kib", json_integer(rss_growth_kib(r)));
    if (r->attack != NULL)
        json_object_set_new(root, "attack", prism_bench_attack_report(r->attack));
    if (o->loss_pct >= 0) {
        json_t *q = quality_json(&f->q, true);
        json_object_set_new(q, "loss_pct", json_real(o->loss_pct));
        json_object_set_new(q, "nack", json_boolean(o->nack));
        json_object_set_new(q, "seed", json_integer((json_int_t)o->loss_seed));
        json_object_set_new(q, "loss_beyond_pct", json_real(f->loss_beyond_pct));
        json_object_set_new(root, "quality", q);
    }
    if (r->janus != NULL)
        json_object_set_new(root, "target", json_string("janus"));
    json_object_set_new(root, "relay_exit_status", json_integer(relay_exit));
    json_object_set_new(root, "mean_packet_bytes", json_real(f->mean_packet_bytes));
    json_object_set_new(root, "fanout", json_real(f->fanout));
    if (r->relay_drops != NULL)
        json_object_set(root, "relay_drops", r->relay_drops);
    json_object_set_new(root, "bench_drop_egress", json_integer((json_int_t)r->bench_drop_egress));
    json_object_set_new(root, "bench_drop_ingress", json_integer((json_int_t)r->bench_drop_other));
    const struct prism_media_counters *bc = &r->bench_counters;
    json_object_set_new(
        root, "bench_drops",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "not_srtp", (json_int_t)bc->drop_not_srtp,
                  "srtp_auth", (json_int_t)bc->drop_srtp_auth, "srtp_replay",
                  (json_int_t)bc->drop_srtp_replay, "malformed", (json_int_t)bc->drop_malformed,
                  "ssrc_limit", (json_int_t)bc->drop_ssrc_limit));
    json_object_set_new(root, "srtp_backend", json_string(prism_srtp_crypto_backend()));
    json_object_set_new(json_object_get(root, "scenario"), "verify_sample",
                        json_integer(o->verify_sample));
    json_object_set_new(root, "packets_authenticated_sampled",
                        json_integer((json_int_t)f->t.authenticated));
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
                            prism_bench_ramp_json(r->ramp.steps, r->ramp.n_steps, r->ramp.stop));
        json_object_set_new(json_object_get(root, "scenario"), "ramp_step",
                            json_integer(o->ramp_step));
        json_object_set_new(json_object_get(root, "scenario"), "ramp_step_s",
                            json_real(o->ramp_step_s));
        json_object_set_new(json_object_get(root, "scenario"), "max_peers",
                            json_integer(o->max_peers));
        json_object_set_new(json_object_get(root, "scenario"), "ramp_retries",
                            json_integer(o->ramp_retries));
    }
    if (o->json_out != NULL && json_dump_file(root, o->json_out, JSON_INDENT(1)) != 0)
        fprintf(stderr, "prism-bench: cannot write %s\n", o->json_out);
    if (o->html_out != NULL && prism_bench_html_write(root, o->html_out) != 0)
        fprintf(stderr, "prism-bench: cannot write %s\n", o->html_out);
    json_decref(root);
}
