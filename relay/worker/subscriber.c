/* What the relay does for a subscriber's downlink: its bandwidth estimate
 * and the simulcast layer (and the spatial and temporal layers of a layered
 * stream) of each consumer.
 *
 * Worker thread. While a peer's subscribe transport is connected it has an
 * estimator (relay/worker/bwe.h) that the router stamps every packet sent to
 * it into (transport-wide sequence numbers of its own), fed by its
 * transport-cc feedback or, from a subscriber that sends that instead, its
 * REMB.
 *
 * Every SUBSCRIBER_LAYERS_MS its simulcast consumers choose their layer
 * (relay/worker/layers.h): the subscriber's budget is min(estimate, the
 * tenant's max_kbps); what its other, non-simulcast consumers carry is
 * taken off it (their measured bitrate) and the rest is shared equally by
 * its simulcast consumers, each further capped by the backend's max_height
 * (peer.prefer). A consumer whose layer changes switches at that layer's
 * next key frame (router.h), which is asked for here through the layer's
 * keyframe gate. A consumer of a layered stream (VP9 SVC, VP8 temporal
 * layers: prism_producer_svc) takes its share likewise for its spatial and
 * temporal layers, capped by max_height and max_fps (layers.h); a higher
 * spatial layer waits for a key frame, asked for the same way. A simulcast
 * stream with temporal layers: max_fps picks the temporal layer within the
 * simulcast layer the budget picked.
 *
 * Going up: while the estimate is below what its consumers would take one
 * layer up (need_bps) and the link is clean, it is probed with padding
 * (relay/worker/probe.h), sent on the first consumer that can carry it;
 * such a subscriber's estimate grows past 1.5 x what it acknowledged only
 * by what a probe got through. One that cannot be probed (no consumer with
 * rtx and transport-cc) may grow to what its consumers would take on their
 * highest allowed layers (the ceiling, with 20% headroom): trying a higher
 * layer is its probe. Every feedback tick its retransmissions are paced to
 * prism_bwe_rtx_bps.
 *
 * Cost: O(its consumers) per choice and per feedback tick; O(statuses) per
 * feedback item.
 */
#include <stdlib.h>

#include "relay/base/check.h"
#include "relay/worker/room_internal.h"

#define SUBSCRIBER_LAYERS_MS 200
#define TCC_MAX_STATUSES 1024 /* per feedback item: more is not a subscriber's feedback */

void prism__subscriber_start_bwe(struct peer *sub)
{
    if (sub->bwe == NULL) {
        sub->bwe = malloc(sizeof(*sub->bwe));
        PRISM_CHECK(sub->bwe != NULL);
    }
    prism_bwe_init(sub->bwe);
    sub->out.bwe = sub->bwe;
}

void prism__subscriber_stop_bwe(struct peer *sub)
{
    sub->out.bwe = NULL;
    free(sub->bwe);
    sub->bwe = NULL;
}

void prism__subscriber_cc(struct peer *sub, const struct prism_rtcp_item *item, uint64_t now_ms)
{
    if (sub->bwe == NULL)
        return;
    struct prism_rtcp_remb remb;
    bool tcc = prism_rtcp_is_tcc(item);
    if (!tcc && prism_rtcp_parse_remb(item, &remb) != 0)
        return; /* SR, RR, SDES...: nothing for the estimate */
    if (!prism_keyframe_budget_take(&sub->cc_budget, now_ms))
        return;
    if (tcc) {
        struct prism_tcc_status st[TCC_MAX_STATUSES];
        int n = prism_tcc_parse(item->body, item->body_len, st, TCC_MAX_STATUSES);
        if (n > 0)
            prism_bwe_feedback(sub->bwe, st, (size_t)n, now_ms);
    } else {
        prism_bwe_remb(sub->bwe, remb.bitrate_bps, now_ms);
    }
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* The bitrate of the next active layer above `layer` under `max_height`;
 * `layer`'s own when there is none. */
static uint32_t next_bps(const struct prism_layer_info *layers, size_t n, uint8_t layer,
                         uint32_t max_height)
{
    for (size_t i = (size_t)layer + 1; i < n; i++)
        if (layers[i].active &&
            (max_height == 0 || layers[i].height == 0 || layers[i].height <= max_height))
            return layers[i].bps;
    return layer < n ? layers[layer].bps : 0;
}

/* The bitrate of the next (S, T) above `sc` toward `top`: a spatial layer
 * first, as the choice goes up. */
static uint32_t svc_next_bps(const struct prism_svc_info *svc, const struct prism_svc_choice *sc,
                             const struct prism_svc_choice *top)
{
    if (sc->sid < top->sid)
        return prism_svc_bps(svc, (uint8_t)(sc->sid + 1), sc->tid);
    if (sc->tid < top->tid)
        return prism_svc_bps(svc, sc->sid, (uint8_t)(sc->tid + 1));
    return prism_svc_bps(svc, sc->sid, sc->tid);
}

/* Paces its retransmissions (prism_bwe_rtx_bps) and sends the probe
 * cluster due, if any, on the first consumer that can carry padding (a
 * video one with rtx, not paused). */
static void pace_and_probe(struct peer *sub, uint64_t now_ms)
{
    if (sub->bwe == NULL)
        return;
    prism_router_sub_pace_rtx(&sub->out, prism_bwe_rtx_bps(sub->bwe, now_ms));
    struct prism_consumer *pad = sub->out.consumers;
    while (pad != NULL && !prism_consumer_can_pad(pad))
        pad = prism_consumer_next(pad);
    struct prism_probe_cluster k =
        prism_probe_step(&sub->probe, sub->bwe, sub->need_bps, pad != NULL, now_ms);
    if (k.id == 0)
        return;
    prism_bwe_probe_start(sub->bwe, k.id, k.target_bps);
    (void)prism_router_pad(pad, k.id, k.packets, now_ms);
}

/* The bitrate of the highest active layer `c` could take under `max_height`. */
static uint32_t top_bps(const struct prism_layer_info *layers, size_t n, uint32_t max_height)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++)
        if (layers[i].active &&
            (max_height == 0 || layers[i].height == 0 || layers[i].height <= max_height))
            top = layers[i].bps;
    return top;
}

void prism__subscriber_layers(struct peer *sub, uint64_t now_ms)
{
    pace_and_probe(sub, now_ms);
    if (now_ms - sub->layers_ms < SUBSCRIBER_LAYERS_MS)
        return;
    sub->layers_ms = now_ms;
    struct prism_layer_info layers[PRISM_MEDIA_MAX_LAYERS];
    struct prism_svc_info svc;
    uint32_t fixed = 0, want = 0, need = 0;
    size_t n_sim = 0;
    for (struct prism_consumer *c = sub->out.consumers; c != NULL; c = prism_consumer_next(c)) {
        if (prism_consumer_paused(c))
            continue;
        size_t n = prism_producer_layers(prism_consumer_producer(c), now_ms, layers);
        if (n > 1 || prism_producer_svc(prism_consumer_producer(c), now_ms, &svc))
            n_sim++;
        else
            fixed = sat_add(fixed, layers[0].bps);
    }
    sub->need_bps = 0;
    if (n_sim == 0)
        return;
    uint32_t budget = sub->bwe != NULL ? prism_bwe_estimate(sub->bwe, now_ms) : UINT32_MAX;
    if (sub->sub_max_kbps != 0 && (uint64_t)sub->sub_max_kbps * 1000 < budget)
        budget = sub->sub_max_kbps * 1000;
    uint32_t share = budget > fixed ? (uint32_t)((budget - fixed) / n_sim) : 0;
    for (struct prism_consumer *c = sub->out.consumers; c != NULL; c = prism_consumer_next(c)) {
        struct prism_producer *p = prism_consumer_producer(c);
        size_t n = prism_producer_layers(p, now_ms, layers);
        bool layered = prism_producer_svc(p, now_ms, &svc);
        if ((n <= 1 && !layered) || prism_consumer_paused(c))
            continue;
        struct track *tr = prism_producer_owner(p);
        const struct prism_prefer *pref =
            prism_prefer_set_find(&sub->prefs, tr->peer->handle, tr->d.handle);
        uint32_t max_height = pref != NULL ? pref->max_height : 0;
        uint32_t max_fps = pref != NULL ? pref->max_fps : 0;
        if (n > 1) {
            want = sat_add(want, top_bps(layers, n, max_height));
            uint8_t l =
                prism_layer_choose(prism_consumer_choice(c), layers, n, share, max_height, now_ms);
            if (prism_consumer_set_target(c, l))
                prism__publisher_keyframe(tr, l);
            if (!layered)
                need = sat_add(need, next_bps(layers, n, l, max_height));
        }
        if (!layered)
            continue;
        /* Simulcast with temporal layers: the layer above spends the
         * budget, the temporal layer follows max_fps alone. */
        struct prism_svc_choice *sc = prism_consumer_svc_choice(c);
        prism_svc_choose(sc, &svc, n > 1 ? UINT32_MAX : share, max_height, max_fps, now_ms);
        struct prism_svc_choice top = {0};
        prism_svc_choose(&top, &svc, UINT32_MAX, max_height, max_fps, now_ms);
        if (n <= 1) {
            want = sat_add(want, prism_svc_bps(&svc, top.sid, top.tid));
            need = sat_add(need, svc_next_bps(&svc, sc, &top));
        } else {
            /* simulcast with temporal layers: the simulcast layer above is its step up */
            need = sat_add(need, next_bps(layers, n, prism_consumer_layer(c), max_height));
        }
        if (prism_consumer_set_svc_target(c, sc->sid, sc->tid))
            prism__publisher_keyframe(tr, prism_consumer_layer(c));
    }
    /* Probing for more than the tenant's cap allows is pointless. */
    need = sat_add(need, fixed);
    sub->need_bps = sub->sub_max_kbps != 0 && need > (uint64_t)sub->sub_max_kbps * 1000 ? 0 : need;
    /* A subscriber the relay can probe finds its way up by probing: its
     * estimate grows past what it acknowledged only by what a probe got
     * through. One it cannot probe (no consumer with rtx and transport-cc)
     * tries the layer itself: its estimate may grow to the ceiling. */
    if (sub->bwe != NULL) {
        uint32_t ceiling = sat_add(fixed, want);
        bool probing = false;
        for (struct prism_consumer *c = sub->out.consumers; c != NULL && !probing;
             c = prism_consumer_next(c))
            probing = prism_consumer_can_pad(c);
        prism_bwe_set_ceiling(sub->bwe, probing ? 0 : sat_add(ceiling, ceiling / 5));
    }
}
