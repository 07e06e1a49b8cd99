/* The relay facade (see relay.h): registry bookkeeping plus the messages that
 * keep workers in step with it, and the events those changes produce.
 *
 * Control thread only. Owns the registry, the worker pool, the relay's DTLS
 * certificate (one per run, shared read-only by every worker) and the
 * mailbox through which workers report. The media-negotiation methods
 * validate their scope here and hand the rest to media.c.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/rand.h>
#include <uv.h>

#include "crypto/cert.h"
#include "crypto/dtls.h"
#include "crypto/srtp.h"
#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/base/log.h"
#include "relay/control/media.h"
#include "relay/control/relay.h"
#include "relay/worker/worker.h"

struct prism_relay {
    struct prism_config cfg;
    struct prism_registry *reg;
    struct prism_workers *workers;
    struct prism_cert *cert;           /* the relay's DTLS certificate, one per run */
    struct prism_dtls_ctx *dtls_ctx;   /* shared by every worker, immutable */
    struct prism_worker_shared shared; /* what workers read */
    struct prism_mailbox inbox;        /* worker -> control events */
    struct prism_media *media;
    struct prism_media_counters ended; /* counters of tenants deleted */
    bool stopped;                      /* prism_relay_stop() ran */
    struct prism_relay_event_sink sink;
    uint64_t epoch;    /* random, < 2^53 so JSON readers keep it exact */
    uint64_t start_ms; /* uv_hrtime at start, in ms */
    bool drained_sent; /* relay.drained emitted for this drain */
};

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

static void emit(struct prism_relay *relay, const char *tenant, const char *method, json_t *params);

static void on_media_emit(void *ud, const char *tenant, const char *method, json_t *params)
{
    emit(ud, tenant, method, params);
}

static void on_worker_event(void *ud, struct prism_mail *mail)
{
    struct prism_relay *relay = ud;
    struct prism_worker_event *ev = (struct prism_worker_event *)mail;
    if (relay->media != NULL)
        prism_media_on_event(relay->media, ev);
    free(ev);
}

/* How many media transports the descriptor limit allows: each holds GLib's
 * wake-up eventfd plus one UDP socket per media address (4 assumed when
 * every interface is used), after a reserve for control connections, logs
 * and the workers' own handles. */
static size_t max_transports(const struct prism_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    size_t per = 1 + (cfg->n_media_ips > 0 ? cfg->n_media_ips : 4);
    size_t reserve = cfg->max_connections + 256;
    return rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / per : 0;
}

/* The media plane's process-wide pieces: SRTP, the certificate, DTLS. */
static int media_init(struct prism_relay *relay)
{
    int rc = prism_srtp_init();
    if (rc == 0)
        rc = prism_cert_generate(&relay->cert);
    if (rc == 0)
        rc = prism_dtls_ctx_new(relay->cert, &relay->dtls_ctx);
    return rc;
}

int prism_relay_new(const struct prism_config *cfg, uv_loop_t *loop,
                    const struct prism_relay_event_sink *sink, struct prism_relay **out)
{
    struct prism_relay *relay = calloc(1, sizeof(*relay));
    if (relay == NULL)
        return PRISM_ENOMEM;
    relay->cfg = *cfg;
    relay->sink = *sink;
    unsigned n = cfg->workers != 0 ? cfg->workers : default_workers();
    if (RAND_bytes((unsigned char *)&relay->epoch, sizeof(relay->epoch)) != 1) {
        free(relay);
        return PRISM_ECRYPTO;
    }
    relay->epoch &= (UINT64_C(1) << 53) - 1;
    relay->start_ms = uv_hrtime() / 1000000;
    relay->reg = prism_registry_new(n);
    int rc = relay->reg == NULL ? PRISM_ENOMEM : media_init(relay);
    if (rc == 0)
        rc = prism_mailbox_init(&relay->inbox, loop, on_worker_event, relay);
    if (rc != 0) {
        relay->stopped = true;
        prism_dtls_ctx_free(relay->dtls_ctx);
        prism_cert_free(relay->cert);
        prism_registry_free(relay->reg);
        free(relay);
        return rc;
    }
    relay->shared = (struct prism_worker_shared){&relay->cfg, relay->dtls_ctx, &relay->inbox};
    rc = prism_workers_start(n, &relay->shared, &relay->workers);
    if (rc == 0) {
        relay->media =
            prism_media_new(relay->reg, relay->workers, prism_cert_fingerprint(relay->cert),
                            max_transports(&relay->cfg), on_media_emit, relay);
        rc = relay->media == NULL ? PRISM_ENOMEM : 0;
    }
    if (rc != 0) {
        prism_relay_free(relay);
        return rc;
    }
    prism_log_info("media.ready", "srtp", prism_srtp_crypto_backend(), NULL);
    *out = relay;
    return 0;
}

void prism_relay_stop(struct prism_relay *relay)
{
    if (relay->stopped)
        return;
    relay->stopped = true;
    prism_media_free(relay->media);
    relay->media = NULL;
    prism_workers_stop(relay->workers);
    relay->workers = NULL;
    prism_mailbox_close(&relay->inbox); /* late worker events are freed unread */
}

void prism_relay_free(struct prism_relay *relay)
{
    if (relay == NULL)
        return;
    prism_relay_stop(relay);
    prism_dtls_ctx_free(relay->dtls_ctx);
    prism_cert_free(relay->cert);
    prism_registry_free(relay->reg);
    free(relay);
}

uint64_t prism_relay_epoch(const struct prism_relay *relay)
{
    return relay->epoch;
}

const struct prism_limits *prism_relay_default_limits(const struct prism_relay *relay)
{
    return &relay->cfg.tenant_defaults;
}

struct prism_registry *prism_relay_registry(struct prism_relay *relay)
{
    return relay->reg;
}

json_t *prism_relay_info(struct prism_relay *relay)
{
    return json_pack("{s:s, s:I, s:i, s:b, s:I}", "version", PRISM_VERSION, "epoch",
                     (json_int_t)relay->epoch, "workers", (int)prism_workers_count(relay->workers),
                     "draining", prism_registry_draining(relay->reg), "uptime_s",
                     (json_int_t)((uv_hrtime() / 1000000 - relay->start_ms) / 1000));
}

static void emit(struct prism_relay *relay, const char *tenant, const char *method, json_t *params)
{
    relay->sink.emit(relay->sink.ud, tenant, method, params);
}

/* Emits relay.drained once when a drain has emptied the relay. */
static void check_drained(struct prism_relay *relay)
{
    if (prism_registry_draining(relay->reg) && !relay->drained_sent &&
        prism_registry_bubble_count(relay->reg) == 0) {
        relay->drained_sent = true;
        emit(relay, NULL, "relay.drained", json_object());
    }
}

void prism_relay_drain(struct prism_relay *relay)
{
    prism_registry_set_draining(relay->reg, true);
    check_drained(relay);
}

bool prism_relay_draining(const struct prism_relay *relay)
{
    return prism_registry_draining(relay->reg);
}

int prism_relay_tenant_create(struct prism_relay *relay, const char *tenant,
                              const struct prism_limits *limits)
{
    return prism_registry_tenant_create(relay->reg, tenant,
                                        limits != NULL ? limits : &relay->cfg.tenant_defaults);
}

/* A bubble ends: its worker closes its media. */
static void on_bubble_end(void *ud, struct prism_bubble *bubble)
{
    struct prism_relay *relay = ud;
    prism_media_bubble_ending(relay->media, bubble);
    struct prism_worker_msg *msg = prism_worker_msg_new(PRISM_WORKER_BUBBLE_CLOSE, sizeof(*msg));
    msg->bubble = bubble->handle;
    prism_workers_post(relay->workers, bubble->worker, msg);
}

static void on_tenant_bubble_end(void *ud, struct prism_bubble *bubble)
{
    struct prism_relay *relay = ud;
    on_bubble_end(ud, bubble);
    if (bubble->tenant->n_bubbles == 1) /* the last one: the tenant's totals move up */
        prism_media_counters_add(&relay->ended, &bubble->tenant->ended);
}

int prism_relay_tenant_delete(struct prism_relay *relay, const char *tenant)
{
    struct prism_tenant *t = prism_registry_tenant_find(relay->reg, tenant);
    if (t == NULL)
        return PRISM_ENOTFOUND;
    /* What the tenant's bubbles counted stays in the relay's totals. */
    if (t->n_bubbles == 0)
        prism_media_counters_add(&relay->ended, &t->ended);
    int rc = prism_registry_tenant_delete(relay->reg, tenant, on_tenant_bubble_end, relay);
    if (rc == 0)
        check_drained(relay);
    return rc;
}

int prism_relay_bubble_create(struct prism_relay *relay, const char *tenant, const char *bubble)
{
    struct prism_bubble *b;
    int rc = prism_registry_bubble_create(relay->reg, tenant, bubble, &b);
    if (rc != 0)
        return rc;
    struct prism_worker_msg *msg = prism_worker_msg_new(PRISM_WORKER_BUBBLE_OPEN, sizeof(*msg));
    msg->bubble = b->handle;
    prism_workers_post(relay->workers, b->worker, msg);
    prism_media_bubble_opened(relay->media, b);
    return 0;
}

int prism_relay_bubble_delete(struct prism_relay *relay, const char *tenant, const char *bubble)
{
    int rc = prism_registry_bubble_delete(relay->reg, tenant, bubble, on_bubble_end, relay);
    if (rc == 0)
        check_drained(relay);
    return rc;
}

static const char *peer_state(const struct prism_peer *p)
{
    /* The publish transport speaks for a publisher, the subscribe one for a listener. */
    enum prism_transport_state st = p->may_publish && p->publish_state != PRISM_TRANSPORT_NEW
                                        ? p->publish_state
                                        : p->subscribe_state;
    return prism_transport_state_name(st);
}

struct info_ctx {
    struct prism_relay *relay;
    json_t *peers;
};

static void add_peer_info(void *ud, struct prism_peer *p)
{
    struct info_ctx *ctx = ud;
    json_array_append_new(ctx->peers,
                          json_pack("{s:s, s:b, s:s, s:s, s:s, s:o}", "peer", p->id, "publish",
                                    p->may_publish, "state", peer_state(p), "publish_state",
                                    prism_transport_state_name(p->publish_state), "subscribe_state",
                                    prism_transport_state_name(p->subscribe_state), "tracks",
                                    prism_media_tracks_json(ctx->relay->media, p)));
}

json_t *prism_relay_bubble_info(struct prism_relay *relay, const char *tenant, const char *bubble,
                                int *err)
{
    struct prism_bubble *b = prism_registry_bubble_find(relay->reg, tenant, bubble);
    if (b == NULL) {
        *err = PRISM_ENOTFOUND;
        return NULL;
    }
    struct info_ctx ctx = {relay, json_array()};
    prism_registry_bubble_foreach_peer(b, add_peer_info, &ctx);
    return json_pack("{s:o}", "peers", ctx.peers);
}

int prism_relay_peer_join(struct prism_relay *relay, const char *tenant, const char *bubble,
                          const char *peer, bool may_publish)
{
    return prism_registry_peer_join(relay->reg, tenant, bubble, peer, may_publish, NULL);
}

int prism_relay_peer_leave(struct prism_relay *relay, const char *tenant, const char *bubble,
                           const char *peer)
{
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (p == NULL)
        return PRISM_ENOTFOUND;
    struct prism_bubble *b = p->bubble;
    bool published = p->n_tracks > 0;
    prism_media_peer_leaving(relay->media, p);
    prism_registry_peer_leave(relay->reg, tenant, bubble, peer);
    if (published) /* the others' downstream offers drop its tracks */
        prism_media_bubble_changed(relay->media, b);
    return 0;
}

void prism_relay_peer_publish(struct prism_relay *relay, const char *tenant, const char *bubble,
                              const char *peer, const char *offer,
                              const struct prism_relay_done *done)
{
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (p == NULL)
        done->cb(done->ud, PRISM_ENOTFOUND, NULL, "no such peer in this bubble");
    else if (!p->may_publish)
        done->cb(done->ud, PRISM_EFORBIDDEN, NULL, "this peer joined with publish=false");
    else
        prism_media_publish(relay->media, p, offer, done);
}

void prism_relay_peer_subscribe(struct prism_relay *relay, const char *tenant, const char *bubble,
                                const char *peer, const struct prism_relay_done *done)
{
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (p == NULL)
        done->cb(done->ud, PRISM_ENOTFOUND, NULL, "no such peer in this bubble");
    else
        prism_media_subscribe(relay->media, p, done);
}

int prism_relay_peer_answer(struct prism_relay *relay, const char *tenant, const char *bubble,
                            const char *peer, const char *answer, uint64_t revision, char *msg,
                            size_t msg_len)
{
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (p == NULL)
        return PRISM_ENOTFOUND;
    return prism_media_answer(relay->media, p, answer, revision, msg, msg_len);
}

int prism_relay_peer_candidate(struct prism_relay *relay, const char *tenant, const char *bubble,
                               const char *peer, bool subscribe_transport, const char *candidate,
                               char *msg, size_t msg_len)
{
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (p == NULL)
        return PRISM_ENOTFOUND;
    return prism_media_candidate(relay->media, p, subscribe_transport, candidate, msg, msg_len);
}

static json_t *counters_json(const struct prism_media_counters *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "packets_in",
                     (json_int_t)c->packets_in, "bytes_in", (json_int_t)c->bytes_in, "packets_out",
                     (json_int_t)c->packets_out, "bytes_out", (json_int_t)c->bytes_out, "drops",
                     "not_srtp", (json_int_t)c->drop_not_srtp, "srtp_auth",
                     (json_int_t)c->drop_srtp_auth, "srtp_replay", (json_int_t)c->drop_srtp_replay,
                     "malformed", (json_int_t)c->drop_malformed, "no_route",
                     (json_int_t)c->drop_no_route, "egress", (json_int_t)c->drop_egress);
}

/* Adds a tenant's counters (live bubbles and ended ones) to `sum`. */
static void add_tenant_counters(struct prism_media_counters *sum, struct prism_tenant *t)
{
    prism_media_counters_add(sum, &t->ended);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, t->bubbles);
    while (g_hash_table_iter_next(&it, NULL, &value))
        prism_media_counters_add(sum, &((struct prism_bubble *)value)->counters);
}

static void sum_tenant(void *ud, struct prism_tenant *t)
{
    add_tenant_counters(ud, t);
}

/* Counters come from the workers' snapshots, at most a second old. */
json_t *prism_relay_stats(struct prism_relay *relay, const char *tenant, const char *bubble,
                          int *err)
{
    if (tenant == NULL) {
        struct prism_media_counters sum = relay->ended;
        prism_registry_foreach_tenant(relay->reg, sum_tenant, &sum);
        json_t *out = counters_json(&sum);
        json_object_set_new(out, "tenants",
                            json_integer((json_int_t)prism_registry_tenant_count(relay->reg)));
        json_object_set_new(out, "bubbles",
                            json_integer((json_int_t)prism_registry_bubble_count(relay->reg)));
        json_object_set_new(out, "peers",
                            json_integer((json_int_t)prism_registry_peer_count(relay->reg)));
        return out;
    }
    struct prism_tenant *t = prism_registry_tenant_find(relay->reg, tenant);
    struct prism_bubble *b =
        bubble != NULL ? prism_registry_bubble_find(relay->reg, tenant, bubble) : NULL;
    if (t == NULL || (bubble != NULL && b == NULL)) {
        *err = PRISM_ENOTFOUND;
        return NULL;
    }
    if (b != NULL) {
        json_t *out = counters_json(&b->counters);
        json_object_set_new(out, "peers", json_integer(b->n_peers));
        return out;
    }
    struct prism_media_counters sum = {0};
    add_tenant_counters(&sum, t);
    json_t *out = counters_json(&sum);
    json_object_set_new(out, "bubbles", json_integer(t->n_bubbles));
    json_object_set_new(out, "peers", json_integer(t->n_peers));
    json_object_set_new(
        out, "limits",
        json_pack("{s:I, s:I, s:I}", "max_bubbles", (json_int_t)t->limits.max_bubbles, "max_peers",
                  (json_int_t)t->limits.max_peers, "max_kbps", (json_int_t)t->limits.max_kbps));
    return out;
}
