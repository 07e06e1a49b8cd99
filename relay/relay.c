/* The relay facade (see relay.h): registry bookkeeping plus the messages that
 * keep workers in step with it, and the events those changes produce.
 *
 * Control thread only. The media-negotiation methods validate their scope
 * here; what follows validation belongs to the media plane.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/relay.h"
#include "relay/worker.h"

struct prism_relay {
    struct prism_config cfg;
    struct prism_registry *reg;
    struct prism_workers *workers;
    struct prism_relay_event_sink sink;
    uint64_t epoch;             /* random, < 2^53 so JSON readers keep it exact */
    uint64_t start_ms;          /* uv_hrtime at start, in ms */
    bool drained_sent;          /* relay.drained emitted for this drain */
};

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

int prism_relay_new(const struct prism_config *cfg, const struct prism_relay_event_sink *sink,
                    struct prism_relay **out)
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
    if (relay->reg == NULL) {
        free(relay);
        return PRISM_ENOMEM;
    }
    int rc = prism_workers_start(n, &relay->workers);
    if (rc != 0) {
        prism_registry_free(relay->reg);
        free(relay);
        return rc;
    }
    *out = relay;
    return 0;
}

void prism_relay_free(struct prism_relay *relay)
{
    if (relay == NULL)
        return;
    prism_workers_stop(relay->workers);
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
                     (json_int_t)relay->epoch, "workers",
                     (int)prism_workers_count(relay->workers), "draining",
                     prism_registry_draining(relay->reg), "uptime_s",
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
    struct prism_worker_msg *msg = prism_worker_msg_new(PRISM_WORKER_BUBBLE_CLOSE);
    msg->bubble_handle = bubble->handle;
    prism_workers_post(relay->workers, bubble->worker, msg);
}

int prism_relay_tenant_delete(struct prism_relay *relay, const char *tenant)
{
    int rc = prism_registry_tenant_delete(relay->reg, tenant, on_bubble_end, relay);
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
    struct prism_worker_msg *msg = prism_worker_msg_new(PRISM_WORKER_BUBBLE_OPEN);
    msg->bubble_handle = b->handle;
    prism_workers_post(relay->workers, b->worker, msg);
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
    enum prism_transport_state st = p->may_publish && p->publish_state != PRISM_TRANSPORT_NONE
                                        ? p->publish_state
                                        : p->subscribe_state;
    return prism_transport_state_name(st);
}

static void add_peer_info(void *ud, struct prism_peer *p)
{
    json_array_append_new(
        ud, json_pack("{s:s, s:b, s:s, s:s, s:s, s:[]}", "peer", p->id, "publish", p->may_publish,
                      "state", peer_state(p), "publish_state",
                      prism_transport_state_name(p->publish_state), "subscribe_state",
                      prism_transport_state_name(p->subscribe_state), "tracks"));
}

json_t *prism_relay_bubble_info(struct prism_relay *relay, const char *tenant, const char *bubble,
                                int *err)
{
    struct prism_bubble *b = prism_registry_bubble_find(relay->reg, tenant, bubble);
    if (b == NULL) {
        *err = PRISM_ENOTFOUND;
        return NULL;
    }
    json_t *peers = json_array();
    prism_registry_bubble_foreach_peer(b, add_peer_info, peers);
    return json_pack("{s:o}", "peers", peers);
}

int prism_relay_peer_join(struct prism_relay *relay, const char *tenant, const char *bubble,
                          const char *peer, bool may_publish)
{
    return prism_registry_peer_join(relay->reg, tenant, bubble, peer, may_publish, NULL);
}

int prism_relay_peer_leave(struct prism_relay *relay, const char *tenant, const char *bubble,
                           const char *peer)
{
    return prism_registry_peer_leave(relay->reg, tenant, bubble, peer);
}

void prism_relay_peer_publish(struct prism_relay *relay, const char *tenant, const char *bubble,
                              const char *peer, const char *offer,
                              const struct prism_relay_done *done)
{
    (void)offer;
    struct prism_peer *p = prism_registry_peer_find(relay->reg, tenant, bubble, peer);
    int rc = p == NULL ? PRISM_ENOTFOUND : !p->may_publish ? PRISM_EFORBIDDEN : PRISM_EUNSUPPORTED;
    done->cb(done->ud, rc, NULL, NULL);
}

void prism_relay_peer_subscribe(struct prism_relay *relay, const char *tenant, const char *bubble,
                                const char *peer, const struct prism_relay_done *done)
{
    int rc = prism_registry_peer_find(relay->reg, tenant, bubble, peer) == NULL
                 ? PRISM_ENOTFOUND
                 : PRISM_EUNSUPPORTED;
    done->cb(done->ud, rc, NULL, NULL);
}

int prism_relay_peer_answer(struct prism_relay *relay, const char *tenant, const char *bubble,
                            const char *peer, const char *answer, uint64_t revision, char *msg,
                            size_t msg_len)
{
    (void)answer;
    (void)revision;
    (void)msg;
    (void)msg_len;
    if (prism_registry_peer_find(relay->reg, tenant, bubble, peer) == NULL)
        return PRISM_ENOTFOUND;
    return PRISM_EUNSUPPORTED;
}

int prism_relay_peer_candidate(struct prism_relay *relay, const char *tenant, const char *bubble,
                               const char *peer, bool subscribe_transport, const char *candidate,
                               char *msg, size_t msg_len)
{
    (void)subscribe_transport;
    (void)candidate;
    (void)msg;
    (void)msg_len;
    if (prism_registry_peer_find(relay->reg, tenant, bubble, peer) == NULL)
        return PRISM_ENOTFOUND;
    return PRISM_EUNSUPPORTED;
}

/* Media counters of a scope. The media plane fills them from worker
 * snapshots; with no transport yet they are all zero. */
static json_t *media_counters(void)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "packets_in", 0,
                     "bytes_in", 0, "packets_out", 0, "bytes_out", 0, "drops", "not_srtp", 0,
                     "srtp_auth", 0, "srtp_replay", 0, "unknown_source", 0, "no_route", 0,
                     "malformed", 0);
}

json_t *prism_relay_stats(struct prism_relay *relay, const char *tenant, const char *bubble,
                          int *err)
{
    json_t *out = media_counters();
    if (tenant == NULL) {
        json_object_set_new(out, "tenants",
                            json_integer((json_int_t)prism_registry_tenant_count(relay->reg)));
        json_object_set_new(out, "bubbles",
                            json_integer((json_int_t)prism_registry_bubble_count(relay->reg)));
        json_object_set_new(out, "peers",
                            json_integer((json_int_t)prism_registry_peer_count(relay->reg)));
        return out;
    }
    struct prism_tenant *t = prism_registry_tenant_find(relay->reg, tenant);
    if (t == NULL || (bubble != NULL && prism_registry_bubble_find(relay->reg, tenant, bubble) == NULL)) {
        json_decref(out);
        *err = PRISM_ENOTFOUND;
        return NULL;
    }
    if (bubble != NULL) {
        struct prism_bubble *b = prism_registry_bubble_find(relay->reg, tenant, bubble);
        json_object_set_new(out, "peers", json_integer(b->n_peers));
        return out;
    }
    json_object_set_new(out, "bubbles", json_integer(t->n_bubbles));
    json_object_set_new(out, "peers", json_integer(t->n_peers));
    json_object_set_new(out, "limits",
                        json_pack("{s:I, s:I, s:I}", "max_bubbles", (json_int_t)t->limits.max_bubbles,
                                  "max_peers", (json_int_t)t->limits.max_peers, "max_kbps",
                                  (json_int_t)t->limits.max_kbps));
    return out;
}
