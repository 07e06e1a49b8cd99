/* The relay's values as JSON (see encode.h).
 *
 * Each function builds one object with the keys in wire order. json_pack
 * fails as a whole (NULL) when a value cannot be made, and an "o" argument
 * that is NULL makes it fail too, so a NULL from a helper propagates up.
 */
#include <stddef.h>

#include "signaling/encode.h"

json_t *prism_encode_relay_info(const struct prism_relay_info *info)
{
    return json_pack("{s:s, s:I, s:i, s:b, s:I}", "version", info->version, "epoch",
                     (json_int_t)info->epoch, "workers", (int)info->workers, "draining",
                     info->draining, "uptime_s", (json_int_t)info->uptime_s);
}

static json_t *track_json(const struct prism_relay_track_info *t)
{
    return json_pack("{s:s, s:s, s:s}", "kind", t->video ? "video" : "audio", "track", t->track,
                     "mid", t->mid);
}

static json_t *peer_json(const struct prism_relay_peer_info *p)
{
    json_t *tracks = json_array();
    for (size_t i = 0; tracks != NULL && i < p->n_tracks; i++)
        if (json_array_append_new(tracks, track_json(&p->tracks[i])) != 0) {
            json_decref(tracks);
            tracks = NULL;
        }
    return json_pack("{s:s, s:b, s:s, s:s, s:s, s:o}", "peer", p->peer, "publish", p->publish,
                     "state", prism_transport_state_name(p->state), "publish_state",
                     prism_transport_state_name(p->publish_state), "subscribe_state",
                     prism_transport_state_name(p->subscribe_state), "tracks", tracks);
}

json_t *prism_encode_bubble_info(const struct prism_relay_bubble_info *info)
{
    json_t *peers = json_array();
    for (size_t i = 0; peers != NULL && i < info->n_peers; i++)
        if (json_array_append_new(peers, peer_json(&info->peers[i])) != 0) {
            json_decref(peers);
            peers = NULL;
        }
    return json_pack("{s:o}", "peers", peers);
}

json_t *prism_encode_counters(const struct prism_media_counters *c)
{
    json_t *out = json_object();
    json_t *drops = json_object();
    json_t *rtx = json_object();
    json_t *layers = json_object();
    if (out == NULL || drops == NULL || rtx == NULL || layers == NULL) {
        json_decref(out);
        json_decref(drops);
        json_decref(rtx);
        json_decref(layers);
        return NULL;
    }
    /* A counter's group names the object it goes into. */
    json_t *into_TRAFFIC = out;
    json_t *into_DROP = drops;
    json_t *into_RTX = rtx;
    json_t *into_LAYER = layers;
    int failed = 0;
#define PUT_COUNTER(field, group, key)                                                             \
    failed |= json_object_set_new(into_##group, key, json_integer((json_int_t)c->field));
    PRISM_MEDIA_COUNTERS(PUT_COUNTER)
#undef PUT_COUNTER
    failed |= json_object_set_new(out, "drops", drops);
    failed |= json_object_set_new(out, "rtx", rtx);
    failed |= json_object_set_new(out, "layers", layers);
    if (failed != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Sets out[key] = v (a new integer); nonzero on failure. */
static int put_int(json_t *out, const char *key, uint64_t v)
{
    return json_object_set_new(out, key, json_integer((json_int_t)v));
}

/* A quantile of `h` in ms, to 0.01 ms (its buckets are coarser). */
static double quantile_ms(const struct prism_delay_hist *h, double q)
{
    return (double)(int64_t)(prism_delay_hist_quantile_us(h, q) / 10.0) / 100.0;
}

/* A worker's "relay_delay": {datagrams, p50_ms, p99_ms} over its last
 * second, and since the relay started the histogram's bounds "le_us" (the
 * last bucket has none) and per-bucket "counts". */
static json_t *delay_json(const struct prism_relay_worker_stats *w)
{
    json_t *le = json_array(), *counts = json_array();
    for (size_t b = 0; le != NULL && b < PRISM_DELAY_BUCKETS - 1; b++)
        json_array_append_new(le, json_integer(prism_delay_le_us[b]));
    for (size_t b = 0; counts != NULL && b < PRISM_DELAY_BUCKETS; b++)
        json_array_append_new(counts, json_integer((json_int_t)w->delay.counts[b]));
    return json_pack("{s:I, s:f, s:f, s:o*, s:o*}", "datagrams",
                     (json_int_t)prism_delay_hist_total(&w->delay_last), "p50_ms",
                     quantile_ms(&w->delay_last, 0.5), "p99_ms", quantile_ms(&w->delay_last, 0.99),
                     "le_us", le, "counts", counts);
}

/* stats.get's "workers": [{worker, bubbles, transports, loop_lag_ms, cpu_s,
 * relay_delay}]: lag to 0.1 ms, CPU to 10 ms (finer digits would be noise:
 * the lag is measured to ~1 ms, and `prismctl top` samples CPU once a
 * second). */
static json_t *workers_json(const struct prism_relay_stats *st)
{
    json_t *workers = json_array();
    for (size_t i = 0; workers != NULL && i < st->n_workers; i++) {
        const struct prism_relay_worker_stats *w = &st->workers[i];
        json_t *one =
            json_pack("{s:i, s:I, s:I, s:f, s:f, s:o*}", "worker", (int)w->worker, "bubbles",
                      (json_int_t)w->bubbles, "transports", (json_int_t)w->transports,
                      "loop_lag_ms", (double)(w->loop_lag_ns / 100000) / 10.0, "cpu_s",
                      (double)(w->cpu_ns / 10000000) / 100.0, "relay_delay", delay_json(w));
        if (json_array_append_new(workers, one) != 0) {
            json_decref(workers);
            workers = NULL;
        }
    }
    return workers;
}

json_t *prism_encode_stats(const struct prism_relay_stats *st)
{
    json_t *out = prism_encode_counters(&st->counters);
    if (out == NULL)
        return NULL;
    int failed = 0;
    switch (st->scope) {
    case PRISM_RELAY_SCOPE_RELAY:
        failed |= put_int(out, "tenants", st->tenants);
        failed |= put_int(out, "bubbles", st->bubbles);
        failed |= put_int(out, "peers", st->peers);
        failed |= json_object_set_new(out, "workers", workers_json(st));
        break;
    case PRISM_RELAY_SCOPE_TENANT:
        failed |= put_int(out, "bubbles", st->bubbles);
        failed |= put_int(out, "peers", st->peers);
        failed |= json_object_set_new(out, "limits",
                                      json_pack("{s:I, s:I, s:I}", "max_bubbles",
                                                (json_int_t)st->limits.max_bubbles, "max_peers",
                                                (json_int_t)st->limits.max_peers, "max_kbps",
                                                (json_int_t)st->limits.max_kbps));
        break;
    case PRISM_RELAY_SCOPE_BUBBLE: failed |= put_int(out, "peers", st->peers); break;
    }
    if (failed != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *prism_encode_sdp_result(const struct prism_relay_sdp_result *r)
{
    if (r->kind == PRISM_RELAY_SDP_ANSWER)
        return json_pack("{s:s}", "answer", r->sdp);
    return json_pack("{s:s, s:I}", "offer", r->sdp, "revision", (json_int_t)r->revision);
}

const char *prism_encode_event_method(enum prism_relay_event_type type)
{
    switch (type) {
    case PRISM_RELAY_EV_PEER_STATE: return "peer.state";
    case PRISM_RELAY_EV_PEER_OFFER: return "peer.offer";
    case PRISM_RELAY_EV_BUBBLE_SPEAKER: return "bubble.speaker";
    case PRISM_RELAY_EV_RELAY_DRAINED: return "relay.drained";
    }
    return "relay.unknown"; /* not reached: the switch covers the enum (-Wswitch) */
}

static json_t *peer_state_json(const struct prism_relay_peer_state *ps)
{
    json_t *out = json_pack("{s:s, s:s}", "transport", ps->subscribe ? "subscribe" : "publish",
                            "state", prism_transport_state_name(ps->state));
    if (out != NULL && ps->reason != NULL && ps->reason[0] != '\0' &&
        json_object_set_new(out, "reason", json_string(ps->reason)) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The fields of the event's own type. */
static json_t *payload_json(const struct prism_relay_event *ev)
{
    switch (ev->type) {
    case PRISM_RELAY_EV_PEER_STATE: return peer_state_json(&ev->peer_state);
    case PRISM_RELAY_EV_PEER_OFFER:
        return json_pack("{s:s, s:I}", "offer", ev->peer_offer.sdp, "revision",
                         (json_int_t)ev->peer_offer.revision);
    case PRISM_RELAY_EV_BUBBLE_SPEAKER:
    case PRISM_RELAY_EV_RELAY_DRAINED: return json_object();
    }
    return json_object();
}

/* Sets out[key] = s when s is given; nonzero on failure. */
static int put_id(json_t *out, const char *key, const char *s)
{
    return s != NULL ? json_object_set_new(out, key, json_string(s)) : 0;
}

json_t *prism_encode_event(const struct prism_relay_event *ev)
{
    json_t *params = payload_json(ev);
    if (params == NULL)
        return NULL;
    /* || keeps the keys in this order (and stops at a failure). */
    if (put_id(params, "bubble", ev->bubble) != 0 || put_id(params, "peer", ev->peer) != 0 ||
        put_id(params, "tenant", ev->tenant) != 0) {
        json_decref(params);
        return NULL;
    }
    return params;
}
