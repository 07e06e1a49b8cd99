/* The relay facade (see relay.h): registry bookkeeping plus the messages that
 * keep workers in step with it, and the events those changes produce.
 *
 * Control thread only. Owns the registry, the worker pool, the relay's DTLS
 * certificate (one per run, shared read-only by every worker) and the
 * mailbox through which workers report. The media-negotiation methods
 * validate their scope here and hand the rest to media.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#include "relay/wire/candidate.h"
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
    struct prism_media_counters ended;    /* counters of tenants deleted */
    struct prism_media_counters *sockets; /* per worker: its media socket's latest */
    unsigned n_sockets;
    bool stopped; /* prism_relay_stop() ran */
    struct prism_relay_event_sink sink;
    uint64_t epoch;                         /* random, < 2^53 so JSON readers keep it exact */
    uint64_t start_ms;                      /* uv_hrtime at start, in ms */
    bool drained_sent;                      /* relay.drained emitted for this drain */
    struct prism_relay_worker_stats *loads; /* one per worker: its latest LOAD event */
    unsigned n_loads;
    void (*sync_cb)(void *ud); /* prism_relay_sync()'s, while workers have not answered */
    void *sync_ud;
    unsigned sync_waiting; /* workers yet to answer the SYNC */
};

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

static void emit(struct prism_relay *relay, const struct prism_relay_event *ev)
{
    relay->sink.emit(relay->sink.ud, ev);
}

static void on_media_emit(void *ud, const struct prism_relay_event *ev)
{
    emit(ud, ev);
}

static void on_worker_event(void *ud, struct prism_mail *mail)
{
    struct prism_relay *relay = ud;
    struct prism_worker_event *ev = (struct prism_worker_event *)mail;
    if (ev->type == PRISM_WORKER_EV_LOAD) {
        const struct prism_event_load *load =
            PRISM_EVENT_AS(struct prism_event_load, ev, PRISM_WORKER_EV_LOAD);
        if (load->worker < relay->n_loads) {
            struct prism_relay_worker_stats *w = &relay->loads[load->worker];
            struct prism_delay_hist last;
            prism_delay_hist_diff(&load->delay, &w->delay, &last);
            *w = (struct prism_relay_worker_stats){
                .worker = load->worker,
                .bubbles = load->bubbles,
                .transports = load->transports,
                .loop_lag_ns = load->loop_lag_ns,
                .cpu_ns = load->cpu_ns,
                .delay = load->delay,
                .delay_last = last,
            };
        }
        if (load->worker < relay->n_sockets)
            relay->sockets[load->worker] = load->socket;
    } else if (ev->type == PRISM_WORKER_EV_SYNC) {
        PRISM_CHECK(relay->sync_waiting > 0);
        if (--relay->sync_waiting == 0)
            relay->sync_cb(relay->sync_ud);
    } else if (relay->media != NULL) {
        prism_media_on_event(relay->media, ev);
    }
    free(ev);
}

/* How many media transports the descriptor limit allows (issue 9, finding
 * 10, as issue 10 changed it). A relay transport holds no descriptor: it is
 * a binding in its worker's ICE-lite tables, on the worker's one UDP socket
 * per media address (relay/net/media_socket.h). Descriptors are a fixed
 * set: the control connections (Unix, and apart the established TLS ones
 * and the TLS handshake pool when a TLS listener is on), logs, listeners,
 * and per worker its loop's handles and, per media address, a receiving
 * and a sending UDP socket and an ICE-TCP listener. Below that reserve
 * no transport is admitted ("descriptor limit"); above it, descriptors do
 * not limit transports (memory and limits.max_transports do). */
static size_t max_transports(const struct prism_config *cfg, unsigned workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    size_t reserve =
        cfg->max_connections + 256 + (16 + 3 * (size_t)PRISM_CONFIG_MAX_MEDIA_IPS) * workers;
    if (cfg->tls_listen[0] != '\0')
        reserve += cfg->max_connections + cfg->tls_max_handshakes;
    return rl.rlim_cur <= reserve ? 0 : SIZE_MAX;
}

/* True when a configured media address is loopback: then so may the
 * clients' candidates be (tests, a client on the relay's host). */
static bool media_on_loopback(const struct prism_config *cfg)
{
    for (size_t i = 0; i < cfg->n_media_ips; i++)
        if (prism_candidate_ip_scope(cfg->media_ips[i]) == PRISM_CANDIDATE_SCOPE_LOOPBACK)
            return true;
    return false;
}

/* With media_ip unset: the address the kernel sends from towards the
 * Internet, one per family (IPv4, IPv6), read from a UDP socket connected to
 * a documentation address (connect sends nothing). Only that: a docker
 * bridge, a VPN or a private network the relay happens to sit on is not
 * offered to clients unless the operator names it in media_ip. A family
 * without a default route, or whose source address is not plain unicast,
 * adds nothing; with none at all the list stays empty and each worker's
 * media socket binds every non-loopback interface address
 * (relay/net/media_socket.c; logged as a warning). Control
 * thread, once, before the workers start. */
static void default_media_ips(struct prism_config *cfg)
{
    static const struct {
        int family;
        const char *probe;
    } probes[] = {{AF_INET, "192.0.2.1"}, {AF_INET6, "2001:db8::1"}};
    char list[2 * INET6_ADDRSTRLEN + 2] = "";
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        struct sockaddr_storage to = {0}, from = {0};
        socklen_t to_len, from_len = sizeof(from);
        if (probes[i].family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&to;
            a->sin_family = AF_INET;
            a->sin_port = htons(9);
            inet_pton(AF_INET, probes[i].probe, &a->sin_addr);
            to_len = sizeof(*a);
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(9);
            inet_pton(AF_INET6, probes[i].probe, &a->sin6_addr);
            to_len = sizeof(*a);
        }
        int fd = socket(probes[i].family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        char ip[INET6_ADDRSTRLEN] = "";
        bool ok = connect(fd, (struct sockaddr *)&to, to_len) == 0 &&
                  getsockname(fd, (struct sockaddr *)&from, &from_len) == 0 &&
                  inet_ntop(probes[i].family,
                            probes[i].family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)&from)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)&from)->sin6_addr,
                            ip, sizeof(ip)) != NULL;
        close(fd);
        if (!ok || prism_candidate_ip_scope(ip) != PRISM_CANDIDATE_SCOPE_UNICAST ||
            prism_config_set_str(cfg->media_ips[cfg->n_media_ips], sizeof(cfg->media_ips[0]), ip) !=
                0)
            continue;
        cfg->n_media_ips++;
        if (list[0] != '\0')
            g_strlcat(list, ",", sizeof(list));
        g_strlcat(list, ip, sizeof(list));
    }
    if (cfg->n_media_ips > 0)
        prism_log_info("media.default_addresses", "media_ip", list, NULL);
    else
        prism_log_warn("media.no_default_route", "reason",
                       "media_ip unset and no default route: gathering on every non-loopback "
                       "interface",
                       NULL);
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
    if (relay->cfg.n_media_ips == 0) /* before resolve: it counts the addresses */
        default_media_ips(&relay->cfg);
    prism_config_resolve(&relay->cfg); /* the tenants' default max_transports */
    relay->sink = *sink;
    unsigned n = cfg->workers != 0 ? cfg->workers : default_workers();
    if (RAND_bytes((unsigned char *)&relay->epoch, sizeof(relay->epoch)) != 1) {
        free(relay);
        return PRISM_ECRYPTO;
    }
    relay->epoch &= (UINT64_C(1) << 53) - 1;
    relay->start_ms = uv_hrtime() / 1000000;
    relay->reg = prism_registry_new(n);
    relay->loads = calloc(n, sizeof(*relay->loads));
    relay->n_loads = n;
    for (unsigned i = 0; relay->loads != NULL && i < n; i++)
        relay->loads[i].worker = i;
    int rc = relay->reg == NULL || relay->loads == NULL ? PRISM_ENOMEM : media_init(relay);
    if (rc == 0)
        rc = prism_mailbox_init(&relay->inbox, loop, on_worker_event, relay);
    if (rc != 0) {
        relay->stopped = true;
        prism_dtls_ctx_free(relay->dtls_ctx);
        prism_cert_free(relay->cert);
        prism_registry_free(relay->reg);
        free(relay->loads);
        free(relay);
        return rc;
    }
    relay->shared = (struct prism_worker_shared){&relay->cfg, relay->dtls_ctx, &relay->inbox};
    relay->sockets = calloc(n, sizeof(*relay->sockets));
    relay->n_sockets = relay->sockets != NULL ? n : 0;
    rc = relay->sockets == NULL ? PRISM_ENOMEM
                                : prism_workers_start(n, &relay->shared, &relay->workers);
    if (rc == 0) {
        relay->media =
            prism_media_new(relay->reg, relay->workers, prism_cert_fingerprint(relay->cert),
                            max_transports(&relay->cfg, n), on_media_emit, relay);
        rc = relay->media == NULL ? PRISM_ENOMEM : 0;
        if (rc == 0)
            prism_media_set_loopback_ok(relay->media, media_on_loopback(&relay->cfg));
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
    free(relay->loads);
    free(relay->sockets);
    free(relay);
}

void prism_relay_sync(struct prism_relay *relay, void (*cb)(void *ud), void *ud)
{
    PRISM_CHECK(relay->sync_waiting == 0);
    if (relay->stopped)
        return;
    relay->sync_cb = cb;
    relay->sync_ud = ud;
    relay->sync_waiting = prism_workers_count(relay->workers);
    for (unsigned i = 0; i < relay->sync_waiting; i++)
        prism_workers_post(
            relay->workers, i,
            prism_worker_msg_new(PRISM_WORKER_SYNC, sizeof(struct prism_worker_msg)));
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

void prism_relay_info(struct prism_relay *relay, struct prism_relay_info *out)
{
    *out = (struct prism_relay_info){
        .version = PRISM_VERSION,
        .epoch = relay->epoch,
        .workers = prism_workers_count(relay->workers),
        .draining = prism_registry_draining(relay->reg),
        .uptime_s = (uv_hrtime() / 1000000 - relay->start_ms) / 1000,
    };
}

/* Emits relay.drained once when a drain has emptied the relay. */
static void check_drained(struct prism_relay *relay)
{
    if (prism_registry_draining(relay->reg) && !relay->drained_sent &&
        prism_registry_bubble_count(relay->reg) == 0) {
        relay->drained_sent = true;
        emit(relay, &(struct prism_relay_event){.type = PRISM_RELAY_EV_RELAY_DRAINED});
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

_Static_assert(PRISM_RELAY_LAST_N_MAX == PRISM_LAST_N_MAX, "one limit, two names");

int prism_relay_bubble_set_last_n(struct prism_relay *relay, const char *tenant, const char *bubble,
                                  uint32_t last_n)
{
    struct prism_bubble *b = prism_registry_bubble_find(relay->reg, tenant, bubble);
    if (b == NULL)
        return PRISM_ENOTFOUND;
    b->last_n = last_n < PRISM_LAST_N_MAX ? last_n : PRISM_LAST_N_MAX;
    struct prism_msg_bubble_config *msg =
        prism_worker_msg_new(PRISM_WORKER_BUBBLE_CONFIG, sizeof(*msg));
    msg->h.bubble = b->handle;
    msg->last_n = b->last_n;
    prism_workers_post(relay->workers, b->worker, &msg->h);
    return 0;
}

/* The transport that speaks for a peer: the publish one for a publisher
 * that has begun publishing, else the subscribe one. */
static enum prism_transport_state peer_state(const struct prism_peer *p)
{
    return p->may_publish && p->publish_state != PRISM_TRANSPORT_NEW ? p->publish_state
                                                                     : p->subscribe_state;
}

/* Filling a bubble info: the room counted, then the slots used. */
struct info_ctx {
    struct prism_relay *relay;
    struct prism_relay_bubble_info *info;
    size_t peers_cap;  /* room in info->peers */
    size_t tracks_cap; /* room in info->tracks */
    size_t n_tracks;   /* used */
};

static void count_peer(void *ud, struct prism_peer *p)
{
    struct info_ctx *ctx = ud;
    ctx->peers_cap++;
    ctx->tracks_cap += prism_media_tracks(ctx->relay->media, p, NULL, 0);
}

static void add_peer_info(void *ud, struct prism_peer *p)
{
    struct info_ctx *ctx = ud;
    PRISM_CHECK(ctx->info->n_peers < ctx->peers_cap); /* counted just before */
    struct prism_relay_peer_info *pi = &ctx->info->peers[ctx->info->n_peers++];
    struct prism_relay_track_info *tracks = &ctx->info->tracks[ctx->n_tracks];
    size_t n = prism_media_tracks(ctx->relay->media, p, tracks, ctx->tracks_cap - ctx->n_tracks);
    PRISM_CHECK(n <= ctx->tracks_cap - ctx->n_tracks); /* counted just before */
    ctx->n_tracks += n;
    *pi = (struct prism_relay_peer_info){
        .publish = p->may_publish,
        .state = peer_state(p),
        .publish_state = p->publish_state,
        .subscribe_state = p->subscribe_state,
        .tracks = tracks,
        .n_tracks = n,
    };
    snprintf(pi->peer, sizeof(pi->peer), "%s", p->id);
}

/* O(peers + tracks); two walks over the bubble: count, then fill. */
int prism_relay_bubble_info(struct prism_relay *relay, const char *tenant, const char *bubble,
                            struct prism_relay_bubble_info **out)
{
    *out = NULL;
    struct prism_bubble *b = prism_registry_bubble_find(relay->reg, tenant, bubble);
    if (b == NULL)
        return PRISM_ENOTFOUND;
    struct prism_relay_bubble_info *info = calloc(1, sizeof(*info));
    if (info == NULL)
        return PRISM_ENOMEM;
    struct info_ctx ctx = {.relay = relay, .info = info};
    prism_registry_bubble_foreach_peer(b, count_peer, &ctx);
    /* +1: calloc(0, ...) may return NULL */
    info->peers = calloc(ctx.peers_cap + 1, sizeof(*info->peers));
    info->tracks = calloc(ctx.tracks_cap + 1, sizeof(*info->tracks));
    if (info->peers == NULL || info->tracks == NULL) {
        prism_relay_bubble_info_free(info);
        return PRISM_ENOMEM;
    }
    prism_registry_bubble_foreach_peer(b, add_peer_info, &ctx);
    *out = info;
    return 0;
}

void prism_relay_bubble_info_free(struct prism_relay_bubble_info *info)
{
    if (info == NULL)
        return;
    free(info->peers);
    free(info->tracks);
    free(info);
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
                                const char *peer, bool ice_restart,
                                const struct prism_relay_done *done)
{
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (p == NULL)
        done->cb(done->ud, PRISM_ENOTFOUND, NULL, "no such peer in this bubble");
    else
        prism_media_subscribe(relay->media, p, ice_restart, done);
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

int prism_relay_peer_prefer(struct prism_relay *relay, const char *tenant, const char *bubble,
                            const char *peer, const char *publisher,
                            const struct prism_relay_prefer *pref, char *msg, size_t msg_len)
{
    struct prism_peer *sub = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    if (sub == NULL)
        return PRISM_ENOTFOUND;
    struct prism_peer *pub = prism_registry_peer_find(relay->reg, tenant, bubble, publisher);
    if (pub == NULL) {
        snprintf(msg, msg_len, "no such publisher in this bubble");
        return PRISM_ENOTFOUND;
    }
    return prism_media_prefer(relay->media, sub, pub, pref, msg, msg_len);
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

int prism_relay_stats(struct prism_relay *relay, const char *tenant, const char *bubble,
                      struct prism_relay_stats *out)
{
    if (tenant == NULL) {
        *out = (struct prism_relay_stats){
            .scope = PRISM_RELAY_SCOPE_RELAY,
            .counters = relay->ended,
            .tenants = prism_registry_tenant_count(relay->reg),
            .bubbles = prism_registry_bubble_count(relay->reg),
            .peers = prism_registry_peer_count(relay->reg),
            .workers = relay->loads,
            .n_workers = relay->n_loads,
        };
        prism_registry_foreach_tenant(relay->reg, sum_tenant, &out->counters);
        for (unsigned i = 0; i < relay->n_sockets; i++)
            prism_media_counters_add(&out->counters, &relay->sockets[i]);
        return 0;
    }
    struct prism_tenant *t = prism_registry_tenant_find(relay->reg, tenant);
    struct prism_bubble *b =
        bubble != NULL ? prism_registry_bubble_find(relay->reg, tenant, bubble) : NULL;
    if (t == NULL || (bubble != NULL && b == NULL))
        return PRISM_ENOTFOUND;
    if (b != NULL) {
        *out = (struct prism_relay_stats){
            .scope = PRISM_RELAY_SCOPE_BUBBLE, .counters = b->counters, .peers = b->n_peers};
        return 0;
    }
    *out = (struct prism_relay_stats){.scope = PRISM_RELAY_SCOPE_TENANT,
                                      .bubbles = t->n_bubbles,
                                      .peers = t->n_peers,
                                      .limits = t->limits};
    add_tenant_counters(&out->counters, t);
    return 0;
}

/* Walking a tenant's peers for prism_relay_tenant_transports. */
struct transports_ctx {
    struct prism_relay *relay;
    uint64_t *by_state;
};

static void count_peer_transports(void *ud, struct prism_peer *p)
{
    struct transports_ctx *ctx = ud;
    unsigned open =
        ctx->relay->media != NULL ? prism_media_peer_transports(ctx->relay->media, p) : 0;
    if (open & 1u)
        ctx->by_state[p->publish_state]++;
    if (open & 2u)
        ctx->by_state[p->subscribe_state]++;
}

void prism_relay_tenant_transports(struct prism_relay *relay, struct prism_tenant *tenant,
                                   uint64_t by_state[PRISM_RELAY_TRANSPORT_STATES])
{
    struct transports_ctx ctx = {relay, by_state};
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, tenant->bubbles);
    while (g_hash_table_iter_next(&it, NULL, &value))
        prism_registry_bubble_foreach_peer(value, count_peer_transports, &ctx);
}

void prism_relay_admission(struct prism_relay *relay, size_t *open, size_t *max)
{
    *open = *max = 0;
    if (relay->media != NULL)
        prism_media_admission(relay->media, open, max);
}

const char *prism_relay_unready_reason(struct prism_relay *relay)
{
    if (prism_registry_draining(relay->reg))
        return "draining";
    size_t open, max;
    prism_relay_admission(relay, &open, &max);
    return relay->media == NULL || open >= max ? "overloaded" : NULL;
}
