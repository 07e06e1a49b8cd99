/* Method handlers (see methods.h).
 *
 * Every handler reads its params through the want_* helpers, which reject a
 * missing or mistyped field with a message naming it, and checks the client
 * may act on the tenant before asking whether anything exists, so a client
 * limited to some tenants learns nothing about the others.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/base/ids.h"
#include "signaling/encode.h"
#include "signaling/method_list.h"
#include "signaling/methods.h"
#include "signaling/rpc.h"

__attribute__((format(printf, 2, 3))) static int invalid(struct prism_call *call, const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->msg, sizeof(call->msg), fmt, ap);
    va_end(ap);
    return PRISM_EINVAL;
}

/* A required (or, with optional, possibly absent) identifier param. */
static int want_id(struct prism_call *call, const char *key, bool optional, const char **out)
{
    json_t *v = json_object_get(call->params, key);
    *out = NULL;
    if (v == NULL)
        return optional ? 0 : invalid(call, "params.%s is required", key);
    if (!json_is_string(v))
        return invalid(call, "params.%s must be a string", key);
    if (!prism_id_valid(json_string_value(v), json_string_length(v)))
        return invalid(call, "params.%s must be 1-64 bytes of [A-Za-z0-9._:@-]", key);
    *out = json_string_value(v);
    return 0;
}

static int want_string(struct prism_call *call, const char *key, const char **out)
{
    json_t *v = json_object_get(call->params, key);
    if (v == NULL)
        return invalid(call, "params.%s is required", key);
    if (!json_is_string(v))
        return invalid(call, "params.%s must be a string", key);
    *out = json_string_value(v);
    return 0;
}

static int authorise(struct prism_call *call)
{
    if (call->tenant != NULL && !prism_client_may(call->client, call->tenant)) {
        snprintf(call->msg, sizeof(call->msg), "this control client may not act on this tenant");
        return PRISM_EFORBIDDEN;
    }
    return 0;
}

enum scope { TENANT, BUBBLE, PEER };

/* Reads tenant (, bubble (, peer)) and authorises the client for the tenant. */
static int want_scope(struct prism_call *call, enum scope depth)
{
    int rc = want_id(call, "tenant", false, &call->tenant);
    if (rc == 0 && depth >= BUBBLE)
        rc = want_id(call, "bubble", false, &call->bubble);
    if (rc == 0 && depth >= PEER)
        rc = want_id(call, "peer", false, &call->peer);
    return rc != 0 ? rc : authorise(call);
}

static int unrestricted_only(struct prism_call *call)
{
    if (call->client->restricted) {
        snprintf(call->msg, sizeof(call->msg), "only an unrestricted control client may do this");
        return PRISM_EFORBIDDEN;
    }
    return 0;
}

static int done(struct prism_call *call, int rc, json_t *result)
{
    if (rc == 0)
        call->result = result != NULL ? result : json_object();
    else
        json_decref(result);
    return rc;
}

static int relay_info(struct prism_call *call)
{
    struct prism_relay_info info;
    prism_relay_info(call->relay, &info);
    return done(call, 0, prism_encode_relay_info(&info));
}

static int read_limit(struct prism_call *call, json_t *limits, const char *key, uint32_t *out)
{
    json_t *v = json_object_get(limits, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
        return invalid(call, "params.limits.%s must be an integer from 0 (unlimited) to 4294967295",
                       key);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

/* A capped client may not ask a limit looser than its cap (see auth.h): it
 * could otherwise delete its tenant and create it again unlimited. */
static int within_cap(struct prism_call *call, const struct prism_limits *limits)
{
    const struct prism_limits *cap = &call->client->cap;
    const char *over = NULL;
    if (!prism_client_limit_within(limits->max_bubbles, cap->max_bubbles))
        over = "max_bubbles";
    else if (!prism_client_limit_within(limits->max_peers, cap->max_peers))
        over = "max_peers";
    else if (!prism_client_limit_within(limits->max_kbps, cap->max_kbps))
        over = "max_kbps";
    if (over == NULL)
        return 0;
    snprintf(call->msg, sizeof(call->msg),
             "params.limits.%s is above what this control client may set", over);
    return PRISM_EFORBIDDEN;
}

static int tenant_create(struct prism_call *call)
{
    int rc = want_scope(call, TENANT);
    if (rc != 0)
        return rc;
    const bool capped = call->client->capped;
    struct prism_limits limits = *prism_relay_default_limits(call->relay);
    if (capped) { /* the three limits tenant.create takes; the rest stay defaults */
        limits.max_bubbles = call->client->cap.max_bubbles;
        limits.max_peers = call->client->cap.max_peers;
        limits.max_kbps = call->client->cap.max_kbps;
    }
    json_t *l = json_object_get(call->params, "limits");
    if (l != NULL) {
        if (!json_is_object(l))
            return invalid(call, "params.%s must be an object", "limits");
        if ((rc = read_limit(call, l, "max_bubbles", &limits.max_bubbles)) != 0 ||
            (rc = read_limit(call, l, "max_peers", &limits.max_peers)) != 0 ||
            (rc = read_limit(call, l, "max_kbps", &limits.max_kbps)) != 0)
            return rc;
    }
    if (capped && (rc = within_cap(call, &limits)) != 0)
        return rc;
    rc = prism_relay_tenant_create(call->relay, call->tenant, &limits);
    return done(call, rc, rc == 0 ? json_pack("{s:s}", "tenant", call->tenant) : NULL);
}

static int tenant_delete(struct prism_call *call)
{
    int rc = want_scope(call, TENANT);
    if (rc == 0)
        rc = prism_relay_tenant_delete(call->relay, call->tenant);
    return done(call, rc, NULL);
}

/* An optional integer param in [min, max]; absent leaves *out alone. */
static int want_uint(struct prism_call *call, const char *key, uint32_t min, uint32_t max,
                     uint32_t *out)
{
    json_t *v = json_object_get(call->params, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return invalid(call, "params.%s must be an integer from %u to %u", key, min, max);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static int want_last_n(struct prism_call *call, bool optional, uint32_t *out)
{
    if (!optional && json_object_get(call->params, "last_n") == NULL)
        return invalid(call, "params.%s is required", "last_n");
    return want_uint(call, "last_n", 0, PRISM_RELAY_LAST_N_MAX, out);
}

static int bubble_create(struct prism_call *call)
{
    uint32_t last_n = 0;
    int rc = want_scope(call, BUBBLE);
    if (rc == 0)
        rc = want_last_n(call, true, &last_n);
    if (rc == 0)
        rc = prism_relay_bubble_create(call->relay, call->tenant, call->bubble);
    if (rc == 0 && last_n > 0)
        rc = prism_relay_bubble_set_last_n(call->relay, call->tenant, call->bubble, last_n);
    return done(call, rc,
                rc == 0 ? json_pack("{s:s, s:s}", "tenant", call->tenant, "bubble", call->bubble)
                        : NULL);
}

static int bubble_delete(struct prism_call *call)
{
    int rc = want_scope(call, BUBBLE);
    if (rc == 0)
        rc = prism_relay_bubble_delete(call->relay, call->tenant, call->bubble);
    return done(call, rc, NULL);
}

static int bubble_configure(struct prism_call *call)
{
    uint32_t last_n = 0;
    int rc = want_scope(call, BUBBLE);
    if (rc == 0)
        rc = want_last_n(call, false, &last_n);
    if (rc == 0)
        rc = prism_relay_bubble_set_last_n(call->relay, call->tenant, call->bubble, last_n);
    return done(call, rc, NULL);
}

static int bubble_info(struct prism_call *call)
{
    int rc = want_scope(call, BUBBLE);
    struct prism_relay_bubble_info *info = NULL;
    if (rc == 0)
        rc = prism_relay_bubble_info(call->relay, call->tenant, call->bubble, &info);
    json_t *result = rc == 0 ? prism_encode_bubble_info(info) : NULL;
    prism_relay_bubble_info_free(info);
    return done(call, rc, result);
}

static int peer_join(struct prism_call *call)
{
    int rc = want_scope(call, PEER);
    if (rc != 0)
        return rc;
    json_t *publish = json_object_get(call->params, "publish");
    if (publish != NULL && !json_is_boolean(publish))
        return invalid(call, "params.%s must be a boolean", "publish");
    rc = prism_relay_peer_join(call->relay, call->tenant, call->bubble, call->peer,
                               publish == NULL || json_is_true(publish));
    return done(call, rc, NULL);
}

static int peer_leave(struct prism_call *call)
{
    int rc = want_scope(call, PEER);
    if (rc == 0)
        rc = prism_relay_peer_leave(call->relay, call->tenant, call->bubble, call->peer);
    return done(call, rc, NULL);
}

static int peer_prefer(struct prism_call *call)
{
    const char *publisher = NULL;
    struct prism_relay_prefer pref = {0};
    int rc = want_scope(call, PEER);
    if (rc == 0)
        rc = want_id(call, "publisher", false, &publisher);
    if (rc != 0)
        return rc;
    json_t *track = json_object_get(call->params, "track");
    if (track != NULL && (!json_is_string(track) || json_string_length(track) == 0 ||
                          json_string_length(track) >= PRISM_SDP_TOKEN_LEN))
        return invalid(call, "params.%s must be a track id as bubble.info lists it", "track");
    pref.track = json_string_value(track);
    json_t *paused = json_object_get(call->params, "paused");
    if (paused != NULL && !json_is_boolean(paused))
        return invalid(call, "params.%s must be a boolean", "paused");
    pref.paused = paused != NULL && json_is_true(paused);
    if ((rc = want_uint(call, "max_height", 1, 65535, &pref.max_height)) != 0 ||
        (rc = want_uint(call, "max_fps", 1, 65535, &pref.max_fps)) != 0)
        return rc;
    rc = prism_relay_peer_prefer(call->relay, call->tenant, call->bubble, call->peer, publisher,
                                 &pref, call->msg, sizeof(call->msg));
    return done(call, rc, NULL);
}

static int peer_publish(struct prism_call *call)
{
    const char *offer = NULL;
    int rc = want_scope(call, PEER);
    if (rc == 0)
        rc = want_string(call, "offer", &offer);
    if (rc != 0)
        return rc;
    struct prism_relay_done completion = call->defer(call);
    prism_relay_peer_publish(call->relay, call->tenant, call->bubble, call->peer, offer,
                             &completion);
    return PRISM_EPENDING;
}

static int peer_subscribe(struct prism_call *call)
{
    int rc = want_scope(call, PEER);
    if (rc != 0)
        return rc;
    json_t *restart = json_object_get(call->params, "ice_restart");
    if (restart != NULL && !json_is_boolean(restart))
        return invalid(call, "params.%s must be a boolean", "ice_restart");
    struct prism_relay_done completion = call->defer(call);
    prism_relay_peer_subscribe(call->relay, call->tenant, call->bubble, call->peer,
                               json_is_true(restart), &completion);
    return PRISM_EPENDING;
}

static int peer_answer(struct prism_call *call)
{
    const char *answer = NULL;
    int rc = want_scope(call, PEER);
    if (rc == 0)
        rc = want_string(call, "answer", &answer);
    if (rc != 0)
        return rc;
    json_t *rev = json_object_get(call->params, "revision");
    if (rev == NULL)
        return invalid(call, "params.%s is required", "revision");
    if (!json_is_integer(rev) || json_integer_value(rev) < 0)
        return invalid(call, "params.%s must be a non-negative integer", "revision");
    rc = prism_relay_peer_answer(call->relay, call->tenant, call->bubble, call->peer, answer,
                                 (uint64_t)json_integer_value(rev), call->msg, sizeof(call->msg));
    return done(call, rc, NULL);
}

static int peer_candidate(struct prism_call *call)
{
    const char *transport = NULL;
    int rc = want_scope(call, PEER);
    if (rc == 0)
        rc = want_string(call, "transport", &transport);
    if (rc != 0)
        return rc;
    bool subscribe = strcmp(transport, "subscribe") == 0;
    if (!subscribe && strcmp(transport, "publish") != 0)
        return invalid(call, "params.%s must be \"publish\" or \"subscribe\"", "transport");
    json_t *cand = json_object_get(call->params, "candidate");
    if (cand == NULL)
        return invalid(call, "params.%s is required (null for end-of-candidates)", "candidate");
    if (!json_is_string(cand) && !json_is_null(cand))
        return invalid(call, "params.%s must be a string or null", "candidate");
    rc = prism_relay_peer_candidate(call->relay, call->tenant, call->bubble, call->peer, subscribe,
                                    json_string_value(cand), call->msg, sizeof(call->msg));
    return done(call, rc, NULL);
}

static int events_subscribe(struct prism_call *call)
{
    json_t *since = json_object_get(call->params, "since");
    if (since != NULL && (!json_is_integer(since) || json_integer_value(since) < 0))
        return invalid(call, "params.%s must be a non-negative integer", "since");
    json_t *epoch = json_object_get(call->params, "epoch");
    if (epoch != NULL && !json_is_integer(epoch))
        return invalid(call, "params.%s must be an integer", "epoch");
    uint64_t from = since != NULL ? (uint64_t)json_integer_value(since) : 0;
    if (since != NULL &&
        ((epoch != NULL && (uint64_t)json_integer_value(epoch) != prism_relay_epoch(call->relay)) ||
         prism_events_check_since(call->events, from) != 0)) {
        snprintf(call->msg, sizeof(call->msg),
                 "events after seq %llu are no longer held (or are from another epoch): "
                 "resync with bubble.info",
                 (unsigned long long)from);
        return PRISM_ENOTFOUND;
    }
    int rc =
        prism_events_subscribe(call->events, call->conn, json_object_get(call->params, "tenants"),
                               call->msg, sizeof(call->msg));
    if (rc != 0)
        return rc;
    /* The reply goes first, then the replay, then live events. */
    /* A notification (no id) gets no reply. */
    char *line = call->id != NULL ? prism_rpc_result(call->id, json_object()) : NULL;
    if (line != NULL) {
        prism_conn_reply(call->conn, line, strlen(line));
        free(line);
    }
    call->replied = true;
    if (since != NULL)
        prism_events_replay(call->events, call->conn, from);
    return 0;
}

static int stats_get(struct prism_call *call)
{
    int rc = want_id(call, "tenant", true, &call->tenant);
    if (rc == 0)
        rc = want_id(call, "bubble", true, &call->bubble);
    if (rc != 0)
        return rc;
    if (call->bubble != NULL && call->tenant == NULL)
        return invalid(call, "params.%s is required with params.bubble", "tenant");
    if (call->tenant == NULL && (rc = unrestricted_only(call)) != 0)
        return rc;
    if ((rc = authorise(call)) != 0)
        return rc;
    struct prism_relay_stats stats;
    rc = prism_relay_stats(call->relay, call->tenant, call->bubble, &stats);
    return done(call, rc, rc == 0 ? prism_encode_stats(&stats) : NULL);
}

static int relay_drain(struct prism_call *call)
{
    int rc = unrestricted_only(call);
    if (rc == 0)
        prism_relay_drain(call->relay);
    return done(call, rc, NULL);
}

#define METHOD_ENTRY(name, handler) {name, handler},
static const struct {
    const char *name;
    int (*handler)(struct prism_call *call);
} methods[] = {PRISM_METHOD_LIST(METHOD_ENTRY)};
#undef METHOD_ENTRY

int prism_methods_call(struct prism_call *call, const char *method)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, method) == 0)
            return methods[i].handler(call);
    return PRISM_RPC_METHOD_NOT_FOUND;
}

size_t prism_methods_count(void)
{
    return sizeof(methods) / sizeof(methods[0]);
}

const char *prism_methods_name(size_t i)
{
    return i < prism_methods_count() ? methods[i].name : NULL;
}
