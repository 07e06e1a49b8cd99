/* prism-bench run --threads N: the shard threads (see shard.h).
 *
 * A shard's story: started (loop, egress, connections made by the main
 * thread before the thread runs) -> events.subscribe -> setup reported ->
 * commands as they come: take endpoints, join them, snapshots, stop
 * sending -> leave: counters summed, every endpoint leaves, connections
 * closed once the replies are in (or after WAIT_ROUNDS), handles closed ->
 * the loop ends -> egress freed -> "done" reported -> the thread returns.
 *
 * Invariants: commands only grow (take_upto, join_upto, snap_req) or go
 * from false to true (stop, leave), so a shard that wakes once for several
 * commands does them all, in the order above. Fields under `mu` are the
 * only ones both threads touch while the shard runs.
 */
#include "bench/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>
#include <uv.h>

#include "bench/scenario_internal.h"
#include "relay/base/error.h"

#define EGRESS_BUFS 16384
#define WAIT_ROUNDS 100 /* x 50 ms for the last replies and closes */

struct shard_snap {
    uint64_t seq; /* the request it answers */
    struct prism__run_totals t;
    struct prism_bench_hist delay; /* every receiver's, merged (cumulative) */
    size_t flowing;                /* streams that carried packets */
    double lag_ms;                 /* worst pacer lateness since the previous snapshot */
};

struct shard {
    /* set before the thread starts, then read only */
    unsigned id, n;
    struct prism__run *run; /* eps[], options: read only */
    uv_async_t *main_wake;  /* the main loop's */

    /* the shard thread's own */
    uv_thread_t thread;
    bool made;    /* its loop and handles exist (main, before the thread) */
    bool started; /* its thread runs (set by main) */
    uv_loop_t loop;
    struct prism_bench_site site;
    struct prism_bench_rpc *events;
    uv_async_t wake;
    uv_timer_t pacer, wait;
    uv_prepare_t flush;
    GHashTable *by_name;               /* "bubble/peer" -> endpoint */
    struct prism_bench_endpoint **eps; /* its endpoints in join order; cap_eps */
    size_t n_eps, cap_eps, n_joined, next_take;
    uint64_t snap_done;
    bool stopped, left;
    double lag_ms;
    uint64_t last_pacer_ns;
    int closing, wait_rounds;
    struct shard_snap scratch;

    /* under mu */
    uv_mutex_t mu;
    size_t take_upto, join_upto; /* commands */
    bool stop, leave;
    uint64_t snap_req;
    struct shard_snap snap;           /* answer */
    int setup;                        /* 0 pending, 1 subscribed, -1 failed */
    bool done;                        /* the thread is about to return */
    struct prism_media_counters sums; /* its transports' counters, at leave */
};

struct prism__shards {
    struct shard *sh; /* n */
    unsigned n;
    uint64_t snap_req; /* the last request */
};

void prism__offer_event(GHashTable *by_name, const char *method, json_t *params)
{
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
    struct prism_bench_endpoint *ep = g_hash_table_lookup(by_name, key);
    if (ep != NULL)
        prism_bench_endpoint_on_offer(ep, offer, (uint64_t)json_integer_value(rev));
}

/* --- on the shard thread -------------------------------------------------------------- */

static void tell_main(struct shard *sh)
{
    uv_async_send(sh->main_wake);
}

static void on_event(void *ud, const char *method, json_t *params)
{
    struct shard *sh = ud;
    prism__offer_event(sh->by_name, method, params);
}

static void on_subscribed(void *ud, json_t *result, json_t *error)
{
    struct shard *sh = ud;
    if (result == NULL) {
        const char *m = json_string_value(json_object_get(error, "message"));
        fprintf(stderr, "prism-bench: thread %u: events.subscribe failed: %s\n", sh->id,
                m ? m : "connection closed");
    }
    uv_mutex_lock(&sh->mu);
    sh->setup = result != NULL ? 1 : -1;
    uv_mutex_unlock(&sh->mu);
    tell_main(sh);
}

static void on_pacer(uv_timer_t *h)
{
    struct shard *sh = h->data;
    uint64_t now = prism_bench_now_ns();
    if (sh->last_pacer_ns != 0) {
        double late = (double)(now - sh->last_pacer_ns) / 1e6 - sh->run->o.pacer_ms;
        if (late > sh->lag_ms)
            sh->lag_ms = late;
    }
    sh->last_pacer_ns = now;
    for (size_t i = 0; i < sh->n_eps; i++)
        prism_bench_endpoint_tick(sh->eps[i], now);
}

static void on_flush(uv_prepare_t *h)
{
    struct shard *sh = h->data;
    prism_egress_flush_all(sh->site.egress);
}

/* O(streams x histogram buckets), once a second. */
static void snapshot(struct shard *sh, uint64_t seq)
{
    struct shard_snap *s = &sh->scratch;
    prism__totals(sh->eps, sh->n_eps, &s->t);
    memset(&s->delay, 0, sizeof(s->delay));
    s->flowing = 0;
    for (size_t i = 0; i < sh->n_eps; i++)
        for (size_t k = 0; k < sh->eps[i]->n_rx; k++) {
            prism_bench_hist_merge(&s->delay, &sh->eps[i]->rx[k]->rx.delay);
            s->flowing += sh->eps[i]->rx[k]->rx.packets > 0;
        }
    s->lag_ms = sh->lag_ms;
    s->seq = seq;
    sh->lag_ms = 0;
    uv_mutex_lock(&sh->mu);
    sh->snap = *s;
    uv_mutex_unlock(&sh->mu);
    tell_main(sh);
}

static void close_all(struct shard *sh)
{
    uv_close((uv_handle_t *)&sh->pacer, NULL);
    uv_close((uv_handle_t *)&sh->wait, NULL);
    uv_close((uv_handle_t *)&sh->flush, NULL);
    uv_close((uv_handle_t *)&sh->wake, NULL);
    prism_bench_rpc_close(sh->site.rpc);
    prism_bench_rpc_close(sh->events);
}

static void on_wait(uv_timer_t *h)
{
    struct shard *sh = h->data;
    /* The transports close within a few loop turns; the replies to
     * peer.leave come back meanwhile. */
    if ((sh->closing > 0 || prism_bench_rpc_pending(sh->site.rpc) > 0) &&
        !prism_bench_rpc_closed(sh->site.rpc) && ++sh->wait_rounds < WAIT_ROUNDS)
        return;
    uv_timer_stop(h);
    close_all(sh);
}

static void on_closed_ep(void *ud)
{
    struct shard *sh = ud;
    sh->closing--;
}

static void leave(struct shard *sh)
{
    struct prism_media_counters sum = {0};
    for (size_t i = 0; i < sh->n_eps; i++) {
        struct prism_media_counters c;
        prism_bench_endpoint_counters(sh->eps[i], &c);
        prism_media_counters_add(&sum, &c);
    }
    uv_mutex_lock(&sh->mu);
    sh->sums = sum;
    uv_mutex_unlock(&sh->mu);
    uv_timer_stop(&sh->pacer);
    sh->closing = (int)sh->n_eps;
    for (size_t i = 0; i < sh->n_eps; i++)
        prism_bench_endpoint_leave(sh->eps[i], on_closed_ep, sh);
    uv_timer_start(&sh->wait, on_wait, 50, 50);
}

static void on_wake(uv_async_t *h)
{
    struct shard *sh = h->data;
    uv_mutex_lock(&sh->mu);
    size_t take = sh->take_upto, join = sh->join_upto;
    bool stop = sh->stop, go = sh->leave;
    uint64_t snap = sh->snap_req;
    uv_mutex_unlock(&sh->mu);
    if (sh->left)
        return;
    for (; sh->next_take < take; sh->next_take++) {
        if (sh->next_take % sh->n != sh->id || sh->n_eps == sh->cap_eps)
            continue;
        struct prism_bench_endpoint *ep = sh->run->eps[sh->next_take];
        sh->eps[sh->n_eps++] = ep;
        g_hash_table_insert(sh->by_name, g_strdup_printf("%s/%s", ep->bubble, ep->peer), ep);
    }
    /* Its k-th endpoint is the run's endpoint id + k n. */
    while (sh->n_joined < sh->n_eps && sh->id + sh->n_joined * sh->n < join)
        prism_bench_endpoint_join(sh->eps[sh->n_joined++]);
    if (snap > sh->snap_done) {
        sh->snap_done = snap;
        snapshot(sh, snap);
    }
    if (stop && !sh->stopped) {
        sh->stopped = true;
        for (size_t i = 0; i < sh->n_eps; i++)
            prism_bench_endpoint_stop_sending(sh->eps[i]);
    }
    if (go) {
        sh->left = true;
        leave(sh);
    }
}

static void shard_main(void *arg)
{
    struct shard *sh = arg;
    uv_prepare_start(&sh->flush, on_flush);
    uv_timer_start(&sh->pacer, on_pacer, sh->run->o.pacer_ms, sh->run->o.pacer_ms);
    if (prism_bench_rpc_call(sh->events, "events.subscribe",
                             json_pack("{s:[s]}", "tenants", sh->run->o.tenant), on_subscribed,
                             sh) != 0)
        on_subscribed(sh, NULL, NULL);
    uv_run(&sh->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&sh->loop);
    prism_egress_free(sh->site.egress);
    sh->site.egress = NULL;
    uv_mutex_lock(&sh->mu);
    sh->done = true;
    uv_mutex_unlock(&sh->mu);
    tell_main(sh);
}

/* --- on the main thread ----------------------------------------------------------------- */

/* Everything a shard needs before its thread runs. Returns 0 or an error
 * (what was made is undone by shard_undo). */
static int shard_make(struct shard *sh, struct prism__run *r, size_t cap)
{
    int rc = uv_loop_init(&sh->loop);
    if (rc != 0)
        return rc;
    sh->made = true;
    uv_async_init(&sh->loop, &sh->wake, on_wake);
    uv_timer_init(&sh->loop, &sh->pacer);
    uv_timer_init(&sh->loop, &sh->wait);
    uv_prepare_init(&sh->loop, &sh->flush);
    sh->wake.data = sh->pacer.data = sh->wait.data = sh->flush.data = sh;
    sh->site = (struct prism_bench_site){
        .loop = &sh->loop,
        .dtls_ctx = r->site.dtls_ctx,
        .local_ip = r->site.local_ip,
        .tenant = r->site.tenant,
        .max_video_decoders = r->site.max_video_decoders,
        .verify_sample = r->site.verify_sample,
        .quality = r->site.quality, /* --loss: read-only, shared */
    };
    memcpy(sh->site.fingerprint, r->site.fingerprint, sizeof(sh->site.fingerprint));
    sh->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    sh->cap_eps = cap;
    sh->eps = calloc(cap, sizeof(*sh->eps));
    if (sh->eps == NULL)
        return PRISM_ENOMEM;
    rc = prism_egress_new(EGRESS_BUFS, &sh->site.egress);
    if (rc == 0)
        rc = prism_bench_rpc_open(&sh->loop, r->o.control, NULL, NULL, &sh->site.rpc);
    if (rc == 0)
        rc = prism_bench_rpc_open(&sh->loop, r->o.control, on_event, sh, &sh->events);
    if (rc == 0) {
        prism_bench_rpc_set_timeout(sh->site.rpc, r->o.rpc_timeout_s);
        prism_bench_rpc_set_timeout(sh->events, r->o.rpc_timeout_s);
    }
    return rc;
}

/* Undoes shard_make for a shard whose thread never ran. */
static void shard_undo(struct shard *sh)
{
    if (!sh->made)
        return;
    close_all(sh);
    uv_run(&sh->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&sh->loop);
    prism_egress_free(sh->site.egress);
}

int prism__shards_start(struct prism__run *r, unsigned n, uv_async_t *wake,
                        struct prism__shards **out)
{
    struct prism__shards *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->sh = calloc(n, sizeof(*s->sh))) == NULL) {
        free(s);
        return PRISM_ENOMEM;
    }
    s->n = n;
    size_t total = r->o.ramp ? r->o.max_peers : (size_t)r->o.bubbles * r->o.peers;
    int rc = 0;
    for (unsigned i = 0; i < n; i++) /* every one: prism__shards_free destroys them all */
        uv_mutex_init(&s->sh[i].mu);
    unsigned made = 0;
    for (; made < n && rc == 0; made++) {
        struct shard *sh = &s->sh[made];
        sh->id = made;
        sh->n = n;
        sh->run = r;
        sh->main_wake = wake;
        rc = shard_make(sh, r, total / n + 1);
    }
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        rc = uv_thread_create(&s->sh[i].thread, shard_main, &s->sh[i]);
        s->sh[i].started = rc == 0;
    }
    if (rc != 0) {
        for (unsigned i = 0; i < made; i++)
            if (!s->sh[i].started)
                shard_undo(&s->sh[i]);
        prism__shards_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

struct prism_bench_site *prism__shards_site(struct prism__shards *s, size_t index)
{
    return &s->sh[index % s->n].site;
}

int prism__shards_setup(struct prism__shards *s)
{
    int all = 1;
    for (unsigned i = 0; i < s->n; i++) {
        uv_mutex_lock(&s->sh[i].mu);
        int st = s->sh[i].setup;
        uv_mutex_unlock(&s->sh[i].mu);
        if (st < 0)
            return -1;
        if (st == 0)
            all = 0;
    }
    return all;
}

void prism__shards_take(struct prism__shards *s, size_t created, size_t join_upto)
{
    for (unsigned i = 0; i < s->n; i++) {
        uv_mutex_lock(&s->sh[i].mu);
        s->sh[i].take_upto = created;
        s->sh[i].join_upto = join_upto;
        uv_mutex_unlock(&s->sh[i].mu);
        uv_async_send(&s->sh[i].wake);
    }
}

void prism__shards_stop_sending(struct prism__shards *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        uv_mutex_lock(&s->sh[i].mu);
        s->sh[i].stop = true;
        uv_mutex_unlock(&s->sh[i].mu);
        uv_async_send(&s->sh[i].wake);
    }
}

void prism__shards_snapshot(struct prism__shards *s)
{
    s->snap_req++;
    for (unsigned i = 0; i < s->n; i++) {
        uv_mutex_lock(&s->sh[i].mu);
        s->sh[i].snap_req = s->snap_req;
        uv_mutex_unlock(&s->sh[i].mu);
        uv_async_send(&s->sh[i].wake);
    }
}

bool prism__shards_snapshot_done(struct prism__shards *s, struct prism__run_totals *t,
                                 struct prism_bench_hist *delay, size_t *flowing, double *lag_ms)
{
    for (unsigned i = 0; i < s->n; i++) {
        uv_mutex_lock(&s->sh[i].mu);
        bool answered = s->sh[i].snap.seq == s->snap_req;
        uv_mutex_unlock(&s->sh[i].mu);
        if (!answered)
            return false;
    }
    memset(t, 0, sizeof(*t));
    memset(delay, 0, sizeof(*delay));
    *flowing = 0;
    *lag_ms = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct shard *sh = &s->sh[i];
        uv_mutex_lock(&sh->mu);
        const struct prism__run_totals *a = &sh->snap.t;
        t->rx_packets += a->rx_packets;
        t->rx_bytes += a->rx_bytes;
        t->tx_packets += a->tx_packets;
        t->tx_bytes += a->tx_bytes;
        t->lost += a->lost;
        t->expected += a->expected;
        t->decode_errors += a->decode_errors;
        t->frozen += a->frozen;
        t->decoded += a->decoded;
        t->authenticated += a->authenticated;
        t->ready += a->ready;
        t->failed += a->failed;
        prism_bench_hist_merge(delay, &sh->snap.delay);
        *flowing += sh->snap.flowing;
        if (sh->snap.lag_ms > *lag_ms)
            *lag_ms = sh->snap.lag_ms;
        uv_mutex_unlock(&sh->mu);
    }
    return true;
}

void prism__shards_leave(struct prism__shards *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (!s->sh[i].started)
            continue;
        uv_mutex_lock(&s->sh[i].mu);
        bool was = s->sh[i].leave || s->sh[i].done;
        s->sh[i].leave = true;
        uv_mutex_unlock(&s->sh[i].mu);
        if (!was)
            uv_async_send(&s->sh[i].wake);
    }
}

bool prism__shards_done(struct prism__shards *s, struct prism_media_counters *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < s->n; i++) {
        if (!s->sh[i].started)
            continue;
        uv_mutex_lock(&s->sh[i].mu);
        bool done = s->sh[i].done;
        prism_media_counters_add(sum, &s->sh[i].sums);
        uv_mutex_unlock(&s->sh[i].mu);
        if (!done)
            return false;
    }
    return true;
}

void prism__shards_free(struct prism__shards *s)
{
    if (s == NULL)
        return;
    prism__shards_leave(s);
    for (unsigned i = 0; i < s->n; i++) {
        struct shard *sh = &s->sh[i];
        if (sh->started)
            uv_thread_join(&sh->thread);
        if (sh->by_name != NULL)
            g_hash_table_destroy(sh->by_name);
        free(sh->eps);
        uv_mutex_destroy(&sh->mu);
    }
    free(s->sh);
    free(s);
}
