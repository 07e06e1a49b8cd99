/* prism-bench run: bubbles of synthetic WebRTC participants against a relay.
 *
 * One bench thread runs one uv loop holding every endpoint (bench/endpoint.h),
 * one control connection for requests and one for events (peer.offer), a
 * pacer (every --pacer-ms: send the frames that are due), a once-per-second
 * sampler (relay CPU and RSS from /proc, relay counters from stats.get,
 * bench-side receive counts; the progress line) and the egress flush once per
 * loop iteration (uv_prepare). With --threads N > 1 the endpoints, their
 * pacer, flush and connections move to N shard threads (bench/shard.h):
 * this loop keeps setup, the joins' schedule, the sampler (from the
 * shards' snapshots), the ramp and teardown, and touches the endpoints
 * again only once the shards have ended. --verify-sample (bench/sample.h)
 * chooses which subscribers verify everything they receive.
 *
 * Timeline: setup (events.subscribe, tenant.create, bubble.create) -> joins
 * spread over --ramp-s -> media until ramp + duration -> senders stop ->
 * DRAIN_MS for the last packets and the relay's next counter tick -> final
 * stats.get -> peer.leave, tenant.delete, transports closed. Then the
 * figures, the summary table and the reports (bench/report.c), --limit, and
 * the verdict. A relay that closes the control connection (it died), or
 * leaves a request unanswered past its deadline (--rpc-timeout-s, it is
 * stuck: bench/rpc.h gives the connection up), ends the run at the next
 * second, as a failure naming the request; a spawned relay that does not
 * exit 0 has the end of its log printed before its directory goes. The run
 * as a whole has a wall-clock bound from its options (run_bound_s): past
 * it, a run still sending ends as planned runs do, failing, and one still
 * not done after the teardown's own bound leaves its loop without the
 * report. So the bench always stops by itself.
 * Options: bench/run_options.c; the relay under test is started and
 * sampled through bench/proc.h.
 *
 * --attack (bench/attack.h): after setup, the attacker's bubble (another
 * tenant) joins and flows before the baseline; its flood runs from the
 * baseline to the senders' stop, so every victim packet is measured under it.
 *
 * --loss (bench/quality.h): the site carries the run's quality config, so
 * every endpoint drops, NACKs and counts on its receive side; the report
 * gains a quality section and the loss verdict counts only loss beyond the
 * simulated.
 *
 * --ramp replaces the fixed timeline: after setup, steps of --ramp-step
 * peers (filling bubbles of --peers, each bubble created when its first peer
 * comes) join at once; once they are ready (or RAMP_JOIN_TIMEOUT_S passed)
 * and RAMP_SETTLE_S more, a window of --ramp-step-s opens, and at its close
 * bench/ramp.c judges it (loss > 1 %, p99 > 50 ms, failed peers). The first
 * failing step, or --max-peers, ends the run; the capacity is the last step
 * that passed. The state machine (bench/ramp.c) runs on the 1 s sampler, so
 * windows are whole samples and the relay counters line up with them; this
 * file only adds the peers it asks for.
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

#include "bench/attack.h"
#include "bench/bench.h"
#include "bench/endpoint.h"
#include "bench/janus.h"
#include "bench/limit.h"
#include "bench/media.h"
#include "bench/proc.h"
#include "bench/ramp.h"
#include "bench/rpc.h"
#include "bench/run_options.h"
#include "bench/sample.h"
#include "bench/scenario_internal.h"
#include "crypto/cert.h"
#include "crypto/dtls.h"
#include "relay/base/error.h"

#define DRAIN_MS 1500
#define EGRESS_BUFS 16384
#define MAX_SAMPLES 100000
#define WAIT_CLOSED_MS 50      /* on_wait_closed's period */
#define WAIT_CLOSED_ROUNDS 100 /* its rounds at most */
#define BOUND_MARGIN_S 15.0    /* the bound's slack over the planned course */

/* --- relay counters ------------------------------------------------------------ */

static void read_counters(json_t *res, struct prism__run_counters *c)
{
    c->packets_in = (uint64_t)json_integer_value(json_object_get(res, "packets_in"));
    c->bytes_in = (uint64_t)json_integer_value(json_object_get(res, "bytes_in"));
    c->packets_out = (uint64_t)json_integer_value(json_object_get(res, "packets_out"));
    c->bytes_out = (uint64_t)json_integer_value(json_object_get(res, "bytes_out"));
    c->valid = true;
}

static void progress(struct prism__run *r);

static void on_stats_sample(void *ud, json_t *result, json_t *error)
{
    struct prism__run_sample *s = ud;
    struct prism__run *r = s->run;
    (void)error;
    if (result == NULL)
        return;
    read_counters(result, &s->relay);
    r->last = s->relay;
    if (s == &r->samples[r->n_samples - 1])
        progress(r);
}

/* The reply deadline of the final stats.get (and its relay-wide twin): the
 * relay may be busy tearing down, so longer than the others. */
static double final_timeout_s(const struct prism__run *r)
{
    return 3 * r->o.rpc_timeout_s;
}

static void stats_get(struct prism__run *r, double timeout_s, prism_bench_rpc_reply_cb cb, void *ud)
{
    if (r->janus != NULL) { /* Janus has no stats.get: what the bench sent and got */
        struct prism__run_totals t;
        prism__run_totals(r, &t);
        json_t *res = json_pack("{s:I, s:I, s:I, s:I}", "packets_in", (json_int_t)t.tx_packets,
                                "bytes_in", (json_int_t)t.tx_bytes, "packets_out",
                                (json_int_t)t.rx_packets, "bytes_out", (json_int_t)t.rx_bytes);
        cb(ud, res, NULL);
        json_decref(res);
        return;
    }
    /* A closed connection (the relay died) answers nothing: the callback
     * hears (NULL, NULL) now, so no phase of the run waits for it forever. */
    if (prism_bench_rpc_call_within(r->site.rpc, "stats.get",
                                    json_pack("{s:s}", "tenant", r->o.tenant), timeout_s, cb,
                                    ud) != 0)
        cb(ud, NULL, NULL);
}

/* The relay-wide stats.get's workers' relay_delay counts, summed into
 * r->relay_delay[which]. */
struct relay_delay_req {
    struct prism__run *r;
    int which;
};

static void on_relay_delay(void *ud, json_t *result, json_t *error)
{
    struct relay_delay_req *q = ud;
    struct prism_delay_hist *h = &q->r->relay_delay[q->which];
    json_t *workers = json_object_get(result, "workers"), *w;
    size_t i;
    (void)error;
    *h = (struct prism_delay_hist){0};
    json_array_foreach(workers, i, w)
    {
        json_t *counts = json_object_get(json_object_get(w, "relay_delay"), "counts");
        if (json_array_size(counts) != PRISM_DELAY_BUCKETS)
            continue;
        for (size_t b = 0; b < PRISM_DELAY_BUCKETS; b++)
            h->counts[b] += (uint64_t)json_integer_value(json_array_get(counts, b));
        q->r->relay_delay_set[q->which] = true;
    }
    free(q);
}

/* Asks for the relay's residence times (not Janus's: it has none). */
static void relay_delay_get(struct prism__run *r, int which)
{
    if (r->janus != NULL)
        return;
    struct relay_delay_req *q = malloc(sizeof(*q));
    if (q == NULL)
        return;
    *q = (struct relay_delay_req){r, which};
    double timeout_s = which == 1 ? final_timeout_s(r) : r->o.rpc_timeout_s;
    if (prism_bench_rpc_call_within(r->site.rpc, "stats.get", json_object(), timeout_s,
                                    on_relay_delay, q) != 0)
        free(q); /* the connection is closed: no figure */
}

/* --- progress -------------------------------------------------------------------- */

static void progress(struct prism__run *r)
{
    if (r->o.quiet || r->n_samples < 2)
        return;
    const struct prism__run_sample *a = &r->samples[r->n_samples - 2],
                                   *b = &r->samples[r->n_samples - 1];
    double dt = b->t - a->t > 0 ? b->t - a->t : 1;
    const struct prism__run_totals t = r->last_totals; /* the endpoints may be on shards */
    double in_pps = 0, out_pps = 0, out_mbps = 0;
    const struct prism__run_counters *ra = &a->relay, *rb = &b->relay;
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
    struct prism__run *r = h->data;
    prism_egress_flush_all(r->site.egress);
}

static void on_pacer(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    uint64_t now = prism_bench_now_ns();
    if (r->last_pacer_ns != 0) {
        double late = (double)(now - r->last_pacer_ns) / 1e6 - r->o.pacer_ms;
        if (late > r->lag_ms)
            r->lag_ms = late;
    }
    r->last_pacer_ns = now;
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_endpoint_tick(r->eps[i], now);
}

/* Merges every receiver's delay histogram into r->delay_cum (cumulative).
 * O(streams x buckets): ~2k additions per stream, once a second. */
static void merge_delays(struct prism__run *r)
{
    memset(r->delay_cum, 0, sizeof(*r->delay_cum));
    for (size_t i = 0; i < r->n_eps; i++)
        for (size_t k = 0; k < r->eps[i]->n_rx; k++)
            prism_bench_hist_merge(r->delay_cum, &r->eps[i]->rx[k]->rx.delay);
}

static void ramp_on_sample(struct prism__run *r, const struct prism__run_totals *t);
static void on_end(uv_timer_t *h);

/* Streams that carried packets, over every endpoint (one bench thread). */
static size_t count_flowing(const struct prism__run *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_eps; i++)
        for (size_t k = 0; k < r->eps[i]->n_rx; k++)
            n += r->eps[i]->rx[k]->rx.packets > 0;
    return n;
}

/* Records the sample at this instant from the totals `t`, r->delay_cum,
 * the streams flowing and the pacer's worst lateness `lag_ms` (from this
 * thread's endpoints, or merged from the shards' snapshots). */
static void take_sample(struct prism__run *r, const struct prism__run_totals *tt, size_t flowing,
                        double lag_ms)
{
    if (r->n_samples == MAX_SAMPLES)
        return;
    uint64_t now = prism_bench_now_ns();
    const struct prism__run_totals t = *tt;
    r->last_totals = t;
    r->last_flowing = flowing;
    prism_bench_hist_diff(r->delay_prev, r->delay_prev, r->delay_cum); /* the last second */
    struct prism__run_sample *s = &r->samples[r->n_samples++];
    *s = (struct prism__run_sample){
        .run = r,
        .t = prism__run_s_since(r, now),
        .relay_cpu_s = prism_bench_proc_cpu_s(r->relay_pid),
        .rss_kib = prism_bench_proc_rss_kib(r->relay_pid),
        .rx_packets = t.rx_packets,
        .tx_packets = t.tx_packets,
        .lag_ms = lag_ms,
        .bench_cpu_s = prism_bench_proc_cpu_s(getpid()),
        .lost = t.lost,
        .expected = t.expected,
        .delay_p50_ms = prism_bench_hist_quantile_ms(r->delay_prev, 0.5),
        .delay_p99_ms = prism_bench_hist_quantile_ms(r->delay_prev, 0.99),
    };
    *r->delay_prev = *r->delay_cum;
    if (r->attack != NULL)
        prism_bench_attack_sample(r->attack, s->rss_kib);
    if (r->ready_ns == 0 && t.ready + t.failed == r->n_eps && r->next_join == r->n_eps) {
        r->ready_ns = now;
        relay_delay_get(r, 0);
    }
    stats_get(r, r->o.rpc_timeout_s, on_stats_sample, s);
    ramp_on_sample(r, &t);
}

/* The first missed reply deadline of our control connections, kept for the
 * verdict before they go. */
static void keep_no_reply(struct prism__run *r)
{
    const char *why = r->site.rpc ? prism_bench_rpc_failure(r->site.rpc) : NULL;
    if (why == NULL && r->events != NULL)
        why = prism_bench_rpc_failure(r->events);
    if (why != NULL && r->no_reply[0] == '\0')
        snprintf(r->no_reply, sizeof(r->no_reply), "%s", why);
}

static void on_second(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    /* The relay closed the control connection (it died) or left a request
     * unanswered past its deadline (it is stuck, bench/rpc.h): nothing can
     * flow or be measured any more, so the run ends now, not at its planned
     * end, and the verdict says why. */
    if (r->stop_ns == 0 && r->janus == NULL && prism_bench_rpc_closed(r->site.rpc)) {
        r->relay_lost_s = prism__run_s_since(r, prism_bench_now_ns());
        keep_no_reply(r);
        if (r->no_reply[0] != '\0')
            fprintf(stderr, "prism-bench: %s (at %.1f s)\n", r->no_reply, r->relay_lost_s);
        else
            fprintf(stderr, "prism-bench: the relay closed the control connection at %.1f s\n",
                    r->relay_lost_s);
        if (r->o.ramp && r->no_reply[0] != '\0') /* no later sample may add a step */
            prism_bench_ramp_stop(&r->ramp, r->no_reply);
        uv_timer_stop(&r->phase);
        on_end(&r->phase);
        return;
    }
    if (r->shards != NULL) { /* the sample is taken when every shard answered */
        if (!r->snap_pending) {
            r->snap_pending = true;
            prism__shards_snapshot(r->shards);
        }
        return;
    }
    struct prism__run_totals t;
    prism__run_totals(r, &t);
    merge_delays(r);
    double lag = r->lag_ms;
    r->lag_ms = 0;
    take_sample(r, &t, count_flowing(r), lag);
}

static void on_joiner(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    uint64_t now = prism_bench_now_ns();
    double per = r->o.ramp ? 0 : r->o.ramp_s / (double)r->n_eps;
    /* Every endpoint whose slot in the ramp has come. */
    while (r->next_join < r->n_eps &&
           (per <= 0 || (double)(now - r->t0_ns) / 1e9 >= per * (double)r->next_join)) {
        if (r->shards == NULL)
            prism_bench_endpoint_join(r->eps[r->next_join]);
        r->next_join++;
    }
    if (r->shards != NULL)
        prism__shards_take(r->shards, r->n_eps, r->next_join);
    if (r->next_join == r->n_eps)
        uv_timer_stop(h);
}

static void on_closed_ep(void *ud)
{
    struct prism__run *r = ud;
    r->closing--;
}

static void close_handles(struct prism__run *r)
{
    keep_no_reply(r);
    uv_close((uv_handle_t *)&r->bound, NULL);
    uv_close((uv_handle_t *)&r->pacer, NULL);
    uv_close((uv_handle_t *)&r->second, NULL);
    uv_close((uv_handle_t *)&r->joiner, NULL);
    uv_close((uv_handle_t *)&r->phase, NULL);
    uv_close((uv_handle_t *)&r->flush, NULL);
    prism_bench_rpc_close(r->site.rpc);
    prism_bench_rpc_close(r->events);
    prism_bench_janus_stop(r->janus);
    prism_bench_attack_close(r->attack);
    /* shard_wake (unreferenced) closes once the shard threads are joined. */
}

static void on_wait_closed(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    /* Transports close within a few loop turns; the replies to peer.leave
     * and tenant.delete come back meanwhile. */
    if (r->janus != NULL
            ? r->closing > 0 && ++r->wait_rounds < WAIT_CLOSED_ROUNDS
            : (r->closing > 0 || prism_bench_rpc_pending(r->site.rpc) > 0) &&
                  !prism_bench_rpc_closed(r->site.rpc) && ++r->wait_rounds < WAIT_CLOSED_ROUNDS)
        return;
    uv_timer_stop(h);
    close_handles(r);
}

static void left(struct prism__run *r, const struct prism_media_counters *sum);

static void on_final_stats(void *ud, json_t *result, json_t *error)
{
    struct prism__run *r = ud;
    (void)error;
    if (result != NULL) {
        read_counters(result, &r->final);
        r->relay_drops = json_deep_copy(json_object_get(result, "drops"));
    }
    uv_timer_stop(&r->second);
    uv_timer_stop(&r->pacer);
    if (r->shards != NULL) { /* they sum their counters and leave; then left() */
        r->shards_leaving = true;
        prism__shards_leave(r->shards);
        return;
    }
    /* The bench's own transport counters, before the transports close. */
    struct prism_media_counters sum = {0};
    for (size_t i = 0; i < r->n_eps; i++) {
        struct prism_media_counters c;
        prism_bench_endpoint_counters(r->eps[i], &c);
        prism_media_counters_add(&sum, &c);
    }
    r->closing = (int)r->n_eps;
    for (size_t i = 0; i < r->n_eps; i++)
        prism_bench_endpoint_leave(r->eps[i], on_closed_ep, r);
    left(r, &sum);
}

/* Every endpoint left (or is leaving), with its transports' counters
 * summed in `sum`: the tenant goes, then the connections once the replies
 * are in. */
static void left(struct prism__run *r, const struct prism_media_counters *sum)
{
    const struct prism_media_counters *c = sum;
    r->bench_counters = *c;
    r->bench_drop_egress = c->drop_egress;
    r->bench_drop_other = c->drop_not_srtp + c->drop_srtp_auth + c->drop_srtp_replay +
                          c->drop_malformed + c->drop_ssrc_limit;
    if (r->attack != NULL)
        r->closing += prism_bench_attack_leave(r->attack, on_closed_ep, r);
    if (r->janus == NULL)
        prism_bench_rpc_call(r->site.rpc, "tenant.delete",
                             json_pack("{s:s}", "tenant", r->o.tenant), NULL, NULL);
    uv_timer_start(&r->phase, on_wait_closed, WAIT_CLOSED_MS, WAIT_CLOSED_MS);
}

static void on_drained(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    relay_delay_get(r, 1); /* answered before the final stats, on the same connection */
    stats_get(r, final_timeout_s(r), on_final_stats, r);
}

static void on_end(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    r->stop_ns = prism_bench_now_ns();
    on_second(&r->second); /* a last sample at the stop */
    if (r->shards != NULL)
        prism__shards_stop_sending(r->shards);
    for (size_t i = 0; r->shards == NULL && i < r->n_eps; i++)
        prism_bench_endpoint_stop_sending(r->eps[i]);
    if (r->attack != NULL)
        prism_bench_attack_stop(r->attack);
    uv_timer_start(h, on_drained, DRAIN_MS, 0);
}

static void ramp_add_step(struct prism__run *r);

static void on_baseline(void *ud, json_t *result, json_t *error)
{
    struct prism__run *r = ud;
    (void)error;
    if (result != NULL)
        read_counters(result, &r->base);
    r->last = r->base;
    r->t0_ns = prism_bench_now_ns();
    r->base_cpu_s = prism_bench_proc_cpu_s(r->relay_pid);
    r->base_rss_kib = prism_bench_proc_rss_kib(r->relay_pid);
    r->samples[r->n_samples++] = (struct prism__run_sample){.run = r,
                                                            .t = 0,
                                                            .relay_cpu_s = r->base_cpu_s,
                                                            .rss_kib = r->base_rss_kib,
                                                            .relay = r->base};
    if (r->shards == NULL) /* else every shard runs its own */
        uv_timer_start(&r->pacer, on_pacer, r->o.pacer_ms, r->o.pacer_ms);
    uv_timer_start(&r->second, on_second, 1000, 1000);
    if (r->attack != NULL)
        prism_bench_attack_start(r->attack, r->base_rss_kib);
    if (r->o.ramp) {
        ramp_add_step(r); /* the ramp's steps end the run (ramp_on_sample) */
        return;
    }
    uv_timer_start(&r->joiner, on_joiner, 0, 1);
    uint64_t total_ms = (uint64_t)((r->o.ramp_s + r->o.duration_s) * 1000);
    uv_timer_start(&r->phase, on_end, total_ms, 0);
}

static void on_attack_ready(void *ud, const char *why)
{
    struct prism__run *r = ud;
    if (why == NULL) {
        stats_get(r, r->o.rpc_timeout_s, on_baseline, r);
        return;
    }
    fprintf(stderr, "prism-bench: attack setup failed: %s\n", why);
    r->setup_failed = true;
    prism_bench_attack_leave(r->attack, NULL, NULL); /* its transports hold the loop */
    close_handles(r);
}

static void setup_step(struct prism__run *r, bool ok)
{
    if (!ok)
        r->setup_failed = true;
    if (--r->setup_pending > 0)
        return;
    if (r->setup_failed) {
        close_handles(r);
        return;
    }
    if (r->attack != NULL) {
        prism_bench_attack_join(r->attack, on_attack_ready, r);
        return;
    }
    stats_get(r, r->o.rpc_timeout_s, on_baseline, r);
}

static void on_setup_reply(void *ud, json_t *result, json_t *error)
{
    struct prism__run *r = ud;
    if (result == NULL) {
        const char *m = json_string_value(json_object_get(error, "message"));
        fprintf(stderr, "prism-bench: setup failed: %s\n", m ? m : "connection closed");
    }
    setup_step(r, result != NULL);
}

/* A shard thread (bench/shard.h) has news: its setup, a snapshot, its end. */
static void on_shard_wake(uv_async_t *h)
{
    struct prism__run *r = h->data;
    if (r->shards_setup_pending) {
        int st = prism__shards_setup(r->shards);
        if (st != 0) {
            r->shards_setup_pending = false;
            setup_step(r, st > 0);
        }
    }
    struct prism__run_totals t;
    size_t flowing;
    double lag;
    if (r->snap_pending &&
        prism__shards_snapshot_done(r->shards, &t, r->delay_cum, &flowing, &lag)) {
        r->snap_pending = false;
        take_sample(r, &t, flowing, lag);
    }
    struct prism_media_counters sum;
    if (r->shards_leaving && prism__shards_done(r->shards, &sum)) {
        r->shards_leaving = false;
        left(r, &sum);
    }
}

static void on_event(void *ud, const char *method, json_t *params)
{
    struct prism__run *r = ud;
    if (r->attack != NULL && strcmp(method, "peer.offer") == 0) {
        const char *peer = json_string_value(json_object_get(params, "peer"));
        const char *offer = json_string_value(json_object_get(params, "offer"));
        json_t *rev = json_object_get(params, "revision");
        if (peer != NULL && offer != NULL && json_is_integer(rev) &&
            prism_bench_attack_on_offer(r->attack,
                                        json_string_value(json_object_get(params, "tenant")), peer,
                                        offer, (uint64_t)json_integer_value(rev)))
            return;
    }
    prism__offer_event(r->by_name, method, params);
}

/* --- main -------------------------------------------------------------------------- */

static int setup_site(struct prism__run *r)
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
    r->site.verify_sample = r->o.verify_sample;
    if (r->o.loss_pct >= 0) {
        r->quality = (struct prism_bench_quality_config){r->o.loss_pct, r->o.nack, r->o.loss_seed};
        r->site.quality = &r->quality;
    }
    return rc;
}

static int make_clips(struct prism__run *r)
{
    int rc = prism_bench_clip_opus(r->o.audio_kbps, 2.0, &r->audio);
    if (rc == 0 && (r->o.mode != PRISM_BENCH_MODE_AUDIO || r->o.attack != PRISM_BENCH_ATTACK_NONE))
        rc = prism_bench_clip_vp8(r->o.width, r->o.height, r->o.fps, r->o.video_kbps, 3.0,
                                  &r->video);
    return rc;
}

/* Creates endpoint number r->n_eps (peer i % P of bubble i / P) and counts it. */
static int add_endpoint(struct prism__run *r)
{
    size_t i = r->n_eps;
    unsigned b = (unsigned)(i / r->o.peers), p = (unsigned)(i % r->o.peers);
    char bubble[32], peer[32];
    snprintf(bubble, sizeof(bubble), "b%u", b);
    snprintf(peer, sizeof(peer), "p%u", p);
    bool video =
        r->o.mode == PRISM_BENCH_MODE_VIDEO || (r->o.mode == PRISM_BENCH_MODE_MIXED && b % 2 == 0);
    bool pub = r->o.publishers < 0 || (int)p < r->o.publishers;
    struct prism_bench_site *site = r->shards ? prism__shards_site(r->shards, i) : &r->site;
    int rc = prism_bench_endpoint_new(site, bubble, peer, pub ? r->audio : NULL,
                                      pub && video ? r->video : NULL, &r->eps[i]);
    if (rc != 0)
        return rc;
    r->eps[i]->verify = prism_bench_sample_subscriber(r->o.verify_sample, i);
    g_hash_table_insert(r->by_name, g_strdup_printf("%s/%s", bubble, peer), r->eps[i]);
    r->n_eps++;
    return 0;
}

/* Every endpoint up front; with --ramp, room for --max-peers, added per step. */
static int make_endpoints(struct prism__run *r)
{
    size_t cap = r->o.ramp ? r->o.max_peers : (size_t)r->o.bubbles * r->o.peers;
    r->eps = calloc(cap, sizeof(*r->eps));
    r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    if (r->eps == NULL)
        return PRISM_ENOMEM;
    if (r->o.ramp) {
        r->ramp.steps = calloc(r->o.max_peers / r->o.ramp_step + 2, sizeof(*r->ramp.steps));
        return r->ramp.steps != NULL ? 0 : PRISM_ENOMEM;
    }
    while (r->n_eps < cap) {
        int rc = add_endpoint(r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The longest the run may take from the start of set-up, s: set-up's
 * requests, the joins and --duration (or every step of the ramp), the
 * drain, the final stats, teardown, and a margin. */
static double run_bound_s(const struct prism_bench_run_options *o)
{
    double course = o->ramp_s + o->duration_s;
    if (o->ramp) {
        unsigned steps = (o->max_peers + o->ramp_step - 1) / o->ramp_step;
        course = steps * prism_bench_ramp_max_step_s(o->ramp_step_s, o->ramp_retries);
    }
    return o->rpc_timeout_s + course + DRAIN_MS / 1000.0 + 3 * o->rpc_timeout_s +
           WAIT_CLOSED_ROUNDS * WAIT_CLOSED_MS / 1000.0 + BOUND_MARGIN_S;
}

/* The bound passed. Still sending: the run ends now as planned runs do
 * (drain, final stats, teardown, each bounded), failing; the bound is
 * re-armed for that. In set-up, already ending, or the bound passed again:
 * the loop is left where it is and the run fails without its report. */
static void on_bound(uv_timer_t *h)
{
    struct prism__run *r = h->data;
    if (!r->overran) {
        r->overran = true;
        fprintf(stderr, "prism-bench: the run did not end within its bound of %.0f s: stopping\n",
                r->bound_s);
        if (r->t0_ns != 0 && r->stop_ns == 0) {
            uv_timer_stop(&r->joiner);
            uv_timer_stop(&r->phase);
            if (r->o.ramp)
                prism_bench_ramp_stop(&r->ramp, "the run's bound passed");
            on_end(&r->phase);
            double grace_s = DRAIN_MS / 1000.0 + final_timeout_s(r) +
                             WAIT_CLOSED_ROUNDS * WAIT_CLOSED_MS / 1000.0 + BOUND_MARGIN_S;
            uv_timer_start(h, on_bound, (uint64_t)(grace_s * 1000), 0);
            return;
        }
    }
    fprintf(stderr, "prism-bench: set-up or teardown did not finish in time: leaving it\n");
    r->hard_stopped = true;
    uv_stop(&r->loop);
}

static void start_setup(struct prism__run *r)
{
    r->bound_s = run_bound_s(&r->o);
    uv_timer_start(&r->bound, on_bound, (uint64_t)(r->bound_s * 1000), 0);
    if (r->janus != NULL) { /* rooms and handles exist already (janus_setup) */
        stats_get(r, r->o.rpc_timeout_s, on_baseline, r);
        return;
    }
    unsigned bubbles = r->o.ramp ? 0 : r->o.bubbles; /* the ramp creates its own */
    r->setup_pending = 2 + (int)bubbles;             /* events.subscribe: ours, or every shard's */
    r->shards_setup_pending = r->shards != NULL;
    if (r->shards == NULL) {
        json_t *tenants = json_pack("[s]", r->o.tenant);
        if (r->attack != NULL)
            json_array_append_new(tenants, json_string(prism_bench_attack_tenant(r->attack)));
        prism_bench_rpc_call(r->events, "events.subscribe", json_pack("{s:o}", "tenants", tenants),
                             on_setup_reply, r);
    }
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

static void on_bubble_created(void *ud, json_t *result, json_t *error)
{
    struct prism__run *r = ud;
    (void)result;
    (void)error;
    if (--r->bubbles_pending == 0)
        uv_timer_start(&r->joiner, on_joiner, 0, 1);
}

/* Adds the next step's peers: creates the bubbles they open (the control
 * connection handles requests in order, so their peer.join comes after;
 * the shards' joins go on other connections, so with --threads they wait
 * for the replies) and starts their joins at once. */
static void ramp_add_step(struct prism__run *r)
{
    size_t want = r->n_eps + r->o.ramp_step;
    if (want > r->o.max_peers)
        want = r->o.max_peers;
    while (r->n_eps < want) {
        if (r->n_eps % r->o.peers == 0) {
            char bubble[32];
            snprintf(bubble, sizeof(bubble), "b%zu", r->n_eps / r->o.peers);
            r->bubbles_pending += r->shards != NULL;
            prism_bench_rpc_call(r->site.rpc, "bubble.create",
                                 json_pack("{s:s, s:s}", "tenant", r->o.tenant, "bubble", bubble),
                                 r->shards ? on_bubble_created : NULL, r);
        }
        if (add_endpoint(r) != 0) {
            prism_bench_ramp_stop(&r->ramp, "out of memory adding peers");
            on_end(&r->phase);
            return;
        }
    }
    prism_bench_ramp_begin_step(&r->ramp, (unsigned)r->n_eps,
                                (unsigned)((r->n_eps + r->o.peers - 1) / r->o.peers),
                                prism__run_s_since(r, prism_bench_now_ns()));
    if (r->bubbles_pending == 0)
        uv_timer_start(&r->joiner, on_joiner, 0, 1);
}

/* Streams expected (every other publisher's tracks in the bubble), for
 * the step's figures. Bubbles are runs of P endpoints. Reads only what
 * endpoints are given at creation (publish, audio, video), which no thread
 * changes. */
static size_t count_expected(const struct prism__run *r)
{
    size_t expected = 0;
    for (size_t i = 0; i < r->n_eps; i++) {
        size_t first = i - i % r->o.peers, end = first + r->o.peers;
        for (size_t k = first; k < end && k < r->n_eps; k++)
            if (k != i && r->eps[k]->publish)
                expected += (r->eps[k]->audio != NULL) + (r->eps[k]->video != NULL);
    }
    return expected;
}

/* Feeds the sample just taken to the ramp's state machine (bench/ramp.c)
 * and does what it asks. */
static void ramp_on_sample(struct prism__run *r, const struct prism__run_totals *t)
{
    if (!r->o.ramp)
        return;
    const struct prism__run_sample *s = &r->samples[r->n_samples - 1];
    struct prism_bench_ramp_now now = {
        .t = s->t,
        .sample = r->n_samples - 1,
        .relay_cpu_s = s->relay_cpu_s,
        .bench_cpu_s = s->bench_cpu_s,
        .rx_packets = t->rx_packets,
        .lost = t->lost,
        .expected = t->expected,
        .decode_errors = t->decode_errors,
        .delay = r->delay_cum,
        .peers = r->n_eps,
        .peers_ready = t->ready,
        .peers_failed = t->failed,
        .joins_sent = r->next_join == r->n_eps,
    };
    if (r->ramp.state == PRISM_BENCH_RAMP_MEASURING) {
        now.streams_expected = count_expected(r);
        now.streams_flowing = r->last_flowing;
    }
    switch (prism_bench_ramp_on_sample(&r->ramp, &now)) {
    case PRISM_BENCH_RAMP_NEXT_STEP: ramp_add_step(r); break;
    case PRISM_BENCH_RAMP_STOP: on_end(&r->phase); break;
    case PRISM_BENCH_RAMP_WAIT: break;
    }
}

/* --- --target janus (bench/janus.h) ---------------------------------------------------- */

/* A session, one room per bubble and the endpoints' handles, before the
 * loop runs; the endpoints then signal through Janus. */
static int janus_setup(struct prism__run *r)
{
    char err[256] = "";
    int rc = prism_bench_janus_open(&r->loop, r->o.janus_url, r->o.rpc_timeout_s, &r->janus, err,
                                    sizeof(err));
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

/* Stops the spawned relay and returns its exit status; when it is not 0
 * (a crash, a sanitizer's report), says so with the end of its log, which
 * goes with `dir`. */
static int stop_relay(struct prism__run *r, const char *dir)
{
    int status = prism_bench_relay_stop(r->relay_pid);
    r->relay_pid = -1;
    if (status != 0) {
        fprintf(stderr, "prism-bench: the relay exited with status %d; the end of its log:\n",
                status);
        prism_bench_relay_log_tail(dir, stderr, 4096);
    }
    return status;
}

int prism_bench_run(int argc, char **argv)
{
    struct prism__run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return 1;
    r->relay_lost_s = -1;
    if (prism_bench_run_options_parse(argc, argv, &r->o) != 0) {
        free(r);
        return 2;
    }
    struct prism_bench_run_options *o = &r->o;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bool pin = cpus >= 2;
    if (o->relay_workers == 0)
        o->relay_workers = pin ? 1 : (unsigned)cpus;
    r->tty = isatty(2);
    r->ramp.max_peers = o->max_peers;
    r->ramp.step_s = o->ramp_step_s;
    r->ramp.log = o->quiet ? NULL : stderr;
    r->ramp.tty = r->tty;
    /* Pinned, the relay (--spawn) has one core; the bench's one thread one. */
    r->ramp.relay_cores = o->spawn && pin ? 1 : 0;
    /* Pinned, the bench's threads share every CPU but the relay's. */
    unsigned others = pin ? (unsigned)cpus - 1 : o->threads;
    r->ramp.bench_cores = o->threads < others ? o->threads : others;
    r->ramp.retries = o->ramp_retries;
    r->ramp.max_p99_ms = o->ramp_max_p99_ms;
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
        if (pin && o->threads > 1)
            prism_bench_proc_pin_others(0, 0);
        else if (pin)
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
    if (o->threads > 1) {
        uv_async_init(&r->loop, &r->shard_wake, on_shard_wake);
        r->shard_wake_open = true;
        r->shard_wake.data = r;
        uv_unref((uv_handle_t *)&r->shard_wake);
        int e = prism__shards_start(r, o->threads, &r->shard_wake, &r->shards);
        if (e != 0) {
            fprintf(stderr, "prism-bench: cannot start %u threads (connections to %s)\n",
                    o->threads, o->control);
            goto out;
        }
    }
    if (make_endpoints(r) != 0 || (o->attack != PRISM_BENCH_ATTACK_NONE &&
                                   prism_bench_attack_new(&r->site, o->attack, o->attack_pps,
                                                          r->audio, r->video, &r->attack) != 0)) {
        fprintf(stderr, "prism-bench: out of memory\n");
        goto out;
    }
    if (o->janus_url != NULL && janus_setup(r) != 0) /* --target janus */
        goto out;
    int e = o->janus_url != NULL
                ? 0
                : prism_bench_rpc_open(&r->loop, o->control, NULL, NULL, &r->site.rpc);
    if (e == 0 && o->janus_url == NULL && r->shards == NULL)
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
    uv_timer_init(&r->loop, &r->bound);
    uv_unref((uv_handle_t *)&r->bound); /* a bound, not a reason to run */
    uv_prepare_init(&r->loop, &r->flush);
    r->pacer.data = r->second.data = r->joiner.data = r->phase.data = r->flush.data = r;
    r->bound.data = r;
    if (r->site.rpc != NULL) /* NULL with --target janus */
        prism_bench_rpc_set_timeout(r->site.rpc, o->rpc_timeout_s);
    if (r->events != NULL)
        prism_bench_rpc_set_timeout(r->events, o->rpc_timeout_s);
    uv_prepare_start(&r->flush, on_flush);
    start_setup(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    prism__shards_free(r->shards); /* joins their threads: the endpoints are ours again */
    r->shards = NULL;
    if (!o->quiet && r->tty)
        fputc('\n', stderr);
    if (r->hard_stopped) {
        keep_no_reply(r);
        printf("verdict: FAIL: the run did not end within its bound of %.0f s%s%s\n", r->bound_s,
               r->no_reply[0] ? "; " : "", r->no_reply);
        goto out;
    }
    if (r->setup_failed)
        goto out;

    if (o->ramp)
        prism__run_ramp_finish(r);
    json_t *streams = json_array(), *failures = json_array();
    struct prism__run_figures f;
    prism__run_figures(r, &f, streams);
    int relay_exit = o->spawn && r->relay_pid > 0 ? stop_relay(r, dir) : -1;
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
    prism__run_summary(r, &f, have_limit, &lim);
    if (o->ramp)
        prism_bench_ramp_print(r->ramp.steps, r->ramp.n_steps, r->ramp.stop);

    char why[512];
    long cap = o->ramp ? prism_bench_ramp_capacity(r->ramp.steps, r->ramp.n_steps) : 0;
    if (r->relay_lost_s >= 0 && r->no_reply[0] == '\0') {
        snprintf(why, sizeof(why), "the relay closed the control connection at %.1f s (exit %d)",
                 r->relay_lost_s, relay_exit);
        json_array_append_new(failures, json_string(why));
    } else if (r->no_reply[0] != '\0') { /* a stuck relay, when or whatever it was asked */
        json_array_append_new(failures, json_string(r->no_reply));
    }
    if (r->overran) {
        snprintf(why, sizeof(why), "the run did not end within its bound of %.0f s", r->bound_s);
        json_array_append_new(failures, json_string(why));
    }
    if (o->ramp) {
        /* Overload is how a ramp ends: the whole run's loss is expected. */
        if (cap < 0) {
            snprintf(why, sizeof(why), "ramp: no step passed (%s)", r->ramp.stop);
            json_array_append_new(failures, json_string(why));
        }
    } else if (f.t.rx_packets == 0)
        json_array_append_new(failures, json_string("no media flowed"));
    else if (f.streams_flowing < f.streams_expected) {
        snprintf(why, sizeof(why), "no media on %zu of %zu streams",
                 f.streams_expected - f.streams_flowing, f.streams_expected);
        json_array_append_new(failures, json_string(why));
    }
    if (o->loss_pct >= 0 && f.loss_beyond_pct > 1.0) {
        snprintf(why, sizeof(why), "loss beyond the simulated %.2f %% > 1 %%", f.loss_beyond_pct);
        json_array_append_new(failures, json_string(why));
    } else if (!o->ramp && o->loss_pct < 0 && f.loss_pct > 1.0) {
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
        prism__run_write_reports(r, &f, streams, have_limit, &lim, failures, relay_exit);
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
    prism__shards_free(r->shards);
    if (r->shard_wake_open) {
        uv_close((uv_handle_t *)&r->shard_wake, NULL);
        uv_run(&r->loop, UV_RUN_NOWAIT);
    }
    if (r->relay_pid > 0 && o->spawn)
        stop_relay(r, dir);
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
    prism_bench_attack_free(r->attack);
    json_decref(r->relay_drops);
    free(r->samples);
    free(r->delay_cum);
    free(r->delay_prev);
    free(r->ramp.steps);
    free(r);
    return rc;
}
