/* The relay's series (see metrics.h and docs/operations.md, "Monitor").
 *
 * Naming follows Prometheus' conventions: prefix prism_, counters end in
 * _total, base units (seconds, bytes). Relay-wide series carry no tenant
 * label; their per-tenant twins are named prism_tenant_* (not the same
 * family with an extra label) because the relay's totals also hold what
 * deleted tenants counted, so sum() over tenants is not the relay's total.
 * The media counters come from relay/base/counters.h: each TRAFFIC counter
 * is prism_<key>_total, the DROP ones are prism_packets_dropped_total by
 * reason, each RTX one prism_rtx_<key>_total; a counter added there shows
 * up here with no change.
 *
 * Control thread only. A scrape walks the registry (tenants, and each
 * tenant's peers for transports by state) once: O(tenants + peers).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/counters.h"
#include "signaling/methods.h"
#include "signaling/metrics.h"
#include "signaling/metrics_text.h"

/* Results a request is counted under; the last is the catch-all. */
static const char *const results[] = {
    "ok",          "parse_error", "invalid_request", "method_not_found", "invalid_params",
    "not_found",   "exists",      "quota_exceeded",  "forbidden",        "bad_sdp",
    "unsupported", "draining",    "overloaded",      "internal",         "other",
};
#define N_RESULTS (sizeof(results) / sizeof(results[0]))

struct prism_metrics {
    size_t n_methods;   /* the protocol's methods; index n_methods is "other" */
    uint64_t *requests; /* [(n_methods + 1) * N_RESULTS], by method then result */
};

struct prism_metrics *prism_metrics_new(void)
{
    struct prism_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->n_methods = prism_methods_count();
    m->requests = calloc((m->n_methods + 1) * N_RESULTS, sizeof(*m->requests));
    if (m->requests == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void prism_metrics_free(struct prism_metrics *m)
{
    if (m == NULL)
        return;
    free(m->requests);
    free(m);
}

void prism_metrics_count_request(struct prism_metrics *m, const char *method, const char *result)
{
    size_t mi = m->n_methods;
    for (size_t i = 0; method != NULL && i < m->n_methods; i++)
        if (strcmp(prism_methods_name(i), method) == 0)
            mi = i;
    size_t ri = N_RESULTS - 1;
    for (size_t i = 0; result != NULL && i + 1 < N_RESULTS; i++)
        if (strcmp(results[i], result) == 0)
            ri = i;
    m->requests[mi * N_RESULTS + ri]++;
}

/* --- helpers ------------------------------------------------------------------ */

#define NS_PER_S 1e9

static void gauge(GString *out, const char *name, const char *help, uint64_t v)
{
    prism_metrics_text_family(out, name, PRISM_METRICS_GAUGE, help);
    prism_metrics_text_u64(out, name, NULL, 0, v);
}

/* One tenant's numbers, gathered before the families are written (a family's
 * samples must be contiguous). */
struct tenant_row {
    const char *id; /* the registry's, valid during the scrape */
    struct prism_relay_stats stats;
    uint64_t transports[PRISM_RELAY_TRANSPORT_STATES];
};

struct rows {
    struct prism_relay *relay;
    struct tenant_row *rows;
    size_t n, cap;
};

static void add_row(void *ud, struct prism_tenant *t)
{
    struct rows *r = ud;
    if (r->n == r->cap)
        return; /* the count was taken just before; nothing can add a tenant meanwhile */
    struct tenant_row *row = &r->rows[r->n++];
    memset(row, 0, sizeof(*row));
    row->id = t->id;
    prism_relay_stats(r->relay, t->id, NULL, &row->stats);
    prism_relay_tenant_transports(r->relay, t, row->transports);
}

/* The media counters (relay/base/counters.h) as a table: a counter's group
 * picks its family (a new group fails to compile here until it has one). */
enum counter_group { GROUP_TRAFFIC, GROUP_DROP, GROUP_RTX, GROUP_LAYER };

static const struct counter_desc {
    const char *key;
    enum counter_group group;
    size_t offset; /* in struct prism_media_counters */
} counter_descs[] = {
#define COUNTER_DESC(field, group, key)                                                            \
    {key, GROUP_##group, offsetof(struct prism_media_counters, field)},
    PRISM_MEDIA_COUNTERS(COUNTER_DESC)
#undef COUNTER_DESC
};
#define N_COUNTERS (sizeof(counter_descs) / sizeof(counter_descs[0]))

static uint64_t counter_value(const struct prism_media_counters *c, const struct counter_desc *d)
{
    uint64_t v;
    memcpy(&v, (const char *)c + d->offset, sizeof(v));
    return v;
}

/* Writes the media counters of the relay (`rows` NULL: `relay_counters`, no
 * label) or of each tenant (label `tenant`): each TRAFFIC counter as
 * <prefix><key>_total, the DROP ones as one <prefix>packets_dropped_total
 * family by `reason`, each RTX one as <prefix>rtx_<key>_total. */
static void render_counters(GString *out, const struct prism_media_counters *relay_counters,
                            const struct tenant_row *rows, size_t n_rows)
{
    const char *prefix = rows == NULL ? "prism_" : "prism_tenant_";
    const char *scope = rows == NULL ? "the relay (deleted tenants included)" : "a tenant";
    size_t n = rows == NULL ? 1 : n_rows;
    char name[96], help[160];
    bool drops_done = false;
    for (size_t k = 0; k < N_COUNTERS; k++) {
        const struct counter_desc *d = &counter_descs[k];
        if (d->group == GROUP_DROP && drops_done)
            continue;
        if (d->group == GROUP_TRAFFIC) {
            snprintf(name, sizeof(name), "%s%s_total", prefix, d->key);
            snprintf(help, sizeof(help), "stats.get %s of %s (SRTP/SRTCP as on the wire)", d->key,
                     scope);
        } else if (d->group == GROUP_RTX) {
            snprintf(name, sizeof(name), "%srtx_%s_total", prefix, d->key);
            snprintf(help, sizeof(help), "stats.get rtx.%s of %s (NACK/RTX, video)", d->key, scope);
        } else if (d->group == GROUP_LAYER) {
            snprintf(name, sizeof(name), "%slayer_%s_total", prefix, d->key);
            snprintf(help, sizeof(help),
                     "stats.get layers.%s of %s (copies a layer choice left out)", d->key, scope);
        } else {
            snprintf(name, sizeof(name), "%spackets_dropped_total", prefix);
            snprintf(help, sizeof(help), "Datagrams dropped by %s, by reason (stats.get drops)",
                     scope);
        }
        prism_metrics_text_family(out, name, PRISM_METRICS_COUNTER, help);
        for (size_t i = 0; i < n; i++) {
            const struct prism_media_counters *c =
                rows == NULL ? relay_counters : &rows[i].stats.counters;
            struct prism_metrics_label l[2] = {{"tenant", rows != NULL ? rows[i].id : ""},
                                               {"reason", ""}};
            struct prism_metrics_label *lp = rows != NULL ? l : l + 1; /* no tenant label */
            size_t ln = rows != NULL ? 1 : 0;
            if (d->group != GROUP_DROP) {
                prism_metrics_text_u64(out, name, lp, ln, counter_value(c, d));
                continue;
            }
            for (size_t r = k; r < N_COUNTERS; r++) /* every DROP counter, by reason */
                if (counter_descs[r].group == GROUP_DROP) {
                    lp[ln].value = counter_descs[r].key;
                    prism_metrics_text_u64(out, name, lp, ln + 1,
                                           counter_value(c, &counter_descs[r]));
                }
        }
        drops_done = drops_done || d->group == GROUP_DROP;
    }
}

/* Transports by state: relay-wide (rows summed) or per tenant. */
static void render_transports(GString *out, const struct tenant_row *rows, size_t n_rows)
{
    uint64_t total[PRISM_RELAY_TRANSPORT_STATES] = {0};
    for (size_t i = 0; i < n_rows; i++)
        for (size_t s = 0; s < PRISM_RELAY_TRANSPORT_STATES; s++)
            total[s] += rows[i].transports[s];
    prism_metrics_text_family(out, "prism_transports", PRISM_METRICS_GAUGE,
                              "Media transports open or opening, by state");
    for (size_t s = 0; s < PRISM_RELAY_TRANSPORT_STATES; s++)
        prism_metrics_text_u64(
            out, "prism_transports",
            &(struct prism_metrics_label){"state", prism_transport_state_name(s)}, 1, total[s]);
    prism_metrics_text_family(out, "prism_tenant_transports", PRISM_METRICS_GAUGE,
                              "Media transports of a tenant open or opening, by state");
    for (size_t i = 0; i < n_rows; i++)
        for (size_t s = 0; s < PRISM_RELAY_TRANSPORT_STATES; s++) {
            struct prism_metrics_label l[2] = {{"tenant", rows[i].id},
                                               {"state", prism_transport_state_name(s)}};
            prism_metrics_text_u64(out, "prism_tenant_transports", l, 2, rows[i].transports[s]);
        }
}

static void render_tenants(GString *out, const struct tenant_row *rows, size_t n_rows)
{
    prism_metrics_text_family(out, "prism_tenant_bubbles", PRISM_METRICS_GAUGE,
                              "Bubbles of a tenant now");
    for (size_t i = 0; i < n_rows; i++)
        prism_metrics_text_u64(out, "prism_tenant_bubbles",
                               &(struct prism_metrics_label){"tenant", rows[i].id}, 1,
                               rows[i].stats.bubbles);
    prism_metrics_text_family(out, "prism_tenant_peers", PRISM_METRICS_GAUGE,
                              "Peers of a tenant now, over its bubbles");
    for (size_t i = 0; i < n_rows; i++)
        prism_metrics_text_u64(out, "prism_tenant_peers",
                               &(struct prism_metrics_label){"tenant", rows[i].id}, 1,
                               rows[i].stats.peers);
    render_counters(out, NULL, rows, n_rows);
}

/* prism_worker_relay_delay_seconds: each worker's residence-time histogram
 * (relay/net/media_socket.h), cumulative buckets as Prometheus wants them. */
static void render_delay(GString *out, const struct prism_relay_stats *st)
{
    static const char *const name = "prism_worker_relay_delay_seconds";
    prism_metrics_text_family(out, name, PRISM_METRICS_HISTOGRAM,
                              "Time a worker held a datagram: from the kernel's receive timestamp "
                              "to the sendmmsg of what it became");
    for (size_t i = 0; i < st->n_workers; i++) {
        const struct prism_relay_worker_stats *w = &st->workers[i];
        char idx[16], le[32];
        snprintf(idx, sizeof(idx), "%u", w->worker);
        struct prism_metrics_label l[2] = {{"worker", idx}, {"le", le}};
        uint64_t below = 0;
        for (size_t b = 0; b < PRISM_DELAY_BUCKETS; b++) {
            below += w->delay.counts[b];
            if (b < PRISM_DELAY_BUCKETS - 1)
                snprintf(le, sizeof(le), "%g", (double)prism_delay_le_us[b] / 1e6);
            else
                snprintf(le, sizeof(le), "+Inf");
            prism_metrics_text_u64(out, "prism_worker_relay_delay_seconds_bucket", l, 2, below);
        }
        prism_metrics_text_f64(out, "prism_worker_relay_delay_seconds_sum", l, 1,
                               (double)w->delay.sum_ns / NS_PER_S);
        prism_metrics_text_u64(out, "prism_worker_relay_delay_seconds_count", l, 1, below);
    }
}

static void render_workers(GString *out, const struct prism_relay_stats *st)
{
    static const struct {
        const char *name;
        enum prism_metrics_type type;
        const char *help;
    } fam[] = {
        {"prism_worker_bubbles", PRISM_METRICS_GAUGE, "Bubbles a worker holds"},
        {"prism_worker_transports", PRISM_METRICS_GAUGE, "Media transports open on a worker"},
        {"prism_worker_loop_lag_seconds", PRISM_METRICS_GAUGE,
         "The latest a worker's loop ran a due timer over its last one-second snapshot "
         "(resolution ~1 ms)"},
        {"prism_worker_cpu_seconds_total", PRISM_METRICS_COUNTER,
         "CPU time of a worker thread (user + system)"},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        prism_metrics_text_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < st->n_workers; i++) {
            const struct prism_relay_worker_stats *w = &st->workers[i];
            char idx[16];
            snprintf(idx, sizeof(idx), "%u", w->worker);
            const struct prism_metrics_label l = {"worker", idx};
            if (f == 0)
                prism_metrics_text_u64(out, fam[f].name, &l, 1, w->bubbles);
            else if (f == 1)
                prism_metrics_text_u64(out, fam[f].name, &l, 1, w->transports);
            else
                prism_metrics_text_f64(out, fam[f].name, &l, 1,
                                       (double)(f == 2 ? w->loop_lag_ns : w->cpu_ns) / NS_PER_S);
        }
    }
    render_delay(out, st);
}

static void render_relay(GString *out, struct prism_relay *relay)
{
    struct prism_relay_info info;
    prism_relay_info(relay, &info);
    prism_metrics_text_family(out, "prism_build_info", PRISM_METRICS_GAUGE,
                              "Always 1; the relay's version as a label");
    prism_metrics_text_u64(out, "prism_build_info",
                           &(struct prism_metrics_label){"version", info.version}, 1, 1);
    gauge(out, "prism_uptime_seconds", "Seconds since the relay started", info.uptime_s);
    gauge(out, "prism_workers", "Media worker threads", info.workers);
    gauge(out, "prism_draining", "1 while draining (relay.drain): no new bubbles", info.draining);
    gauge(out, "prism_ready", "1 when /readyz answers 200 (not draining, transports admitted)",
          prism_relay_unready_reason(relay) == NULL);
    size_t open, max;
    prism_relay_admission(relay, &open, &max);
    gauge(out, "prism_transports_admitted",
          "Media transports open or opening, as admission control counts them", open);
    gauge(out, "prism_transports_limit",
          "Media transports admitted at most (file descriptors); more are refused as overloaded",
          max);

    struct prism_relay_stats st;
    prism_relay_stats(relay, NULL, NULL, &st);
    gauge(out, "prism_tenants", "Tenants now", st.tenants);
    gauge(out, "prism_bubbles", "Bubbles now", st.bubbles);
    gauge(out, "prism_peers", "Peers now", st.peers);
    render_counters(out, &st.counters, NULL, 0);
    render_workers(out, &st);

    struct prism_registry *reg = prism_relay_registry(relay);
    struct rows r = {.relay = relay, .cap = prism_registry_tenant_count(reg)};
    r.rows = calloc(r.cap + 1, sizeof(*r.rows));
    if (r.rows == NULL)
        return; /* out of memory: the per-tenant series are left out of this scrape */
    prism_registry_foreach_tenant(reg, add_row, &r);
    render_transports(out, r.rows, r.n);
    render_tenants(out, r.rows, r.n);
    free(r.rows);
}

static void render_control(GString *out, const struct prism_metrics *m,
                           const struct prism_metrics_sources *src)
{
    if (m != NULL) {
        prism_metrics_text_family(out, "prism_control_requests_total", PRISM_METRICS_COUNTER,
                                  "Control requests by method (\"other\": unknown or unparsed) "
                                  "and result (\"ok\" or the error's reason)");
        for (size_t mi = 0; mi <= m->n_methods; mi++)
            for (size_t ri = 0; ri < N_RESULTS; ri++) {
                uint64_t v = m->requests[mi * N_RESULTS + ri];
                if (v == 0)
                    continue; /* only pairs seen: at most 18 x 15 */
                const char *method = mi < m->n_methods ? prism_methods_name(mi) : "other";
                struct prism_metrics_label l[2] = {{"method", method}, {"result", results[ri]}};
                prism_metrics_text_u64(out, "prism_control_requests_total", l, 2, v);
            }
    }
    if (src->server != NULL) {
        prism_metrics_text_family(out, "prism_control_tls_handshakes_refused_total",
                                  PRISM_METRICS_COUNTER,
                                  "TLS control connections closed before (or, max_connections, "
                                  "right after) their handshake, by reason");
        for (int why = 0; why < PRISM_SERVER_TLS_REFUSALS; why++)
            prism_metrics_text_u64(
                out, "prism_control_tls_handshakes_refused_total",
                &(struct prism_metrics_label){"reason", prism_server_tls_refusal_name(why)}, 1,
                prism_server_tls_refused(src->server, why));
    }
    if (src->events != NULL) {
        prism_metrics_text_family(out, "prism_events_total", PRISM_METRICS_COUNTER,
                                  "Events emitted (the last seq)");
        prism_metrics_text_u64(out, "prism_events_total", NULL, 0,
                               prism_events_last_seq(src->events));
        gauge(out, "prism_event_backlog_events", "Events held for events.subscribe since replay",
              prism_events_held(src->events));
        gauge(out, "prism_event_backlog_bytes", "Bytes of the events held for replay",
              prism_events_held_bytes(src->events));
        gauge(out, "prism_event_subscribers", "Control connections subscribed to events",
              prism_events_subscribers(src->events));
    }
}

void prism_metrics_render(const struct prism_metrics *m, const struct prism_metrics_sources *src,
                          GString *out)
{
    if (src->relay != NULL)
        render_relay(out, src->relay);
    render_control(out, m, src);
}
