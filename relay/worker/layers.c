/* Simulcast and SVC layer choice (see layers.h). */
#include "relay/worker/layers.h"

/* The highest active layer within the budget and the height cap; the
 * lowest active one when none fits; the current one when none is active. */
static uint8_t wanted(const struct prism_layer_info *layers, size_t n, uint32_t budget_bps,
                      uint32_t max_height, uint8_t current)
{
    int best = -1, lowest = -1;
    for (size_t i = 0; i < n; i++) {
        if (!layers[i].active)
            continue;
        if (lowest < 0)
            lowest = (int)i;
        bool tall = max_height != 0 && layers[i].height != 0 && layers[i].height > max_height;
        if (!tall && layers[i].bps <= budget_bps)
            best = (int)i;
    }
    if (best >= 0)
        return (uint8_t)best;
    return lowest >= 0 ? (uint8_t)lowest : current;
}

uint8_t prism_layer_choose(struct prism_layer_choice *c, const struct prism_layer_info *layers,
                           size_t n, uint32_t budget_bps, uint32_t max_height, uint64_t now_ms)
{
    uint8_t want = wanted(layers, n, budget_bps, max_height, c->layer);
    uint32_t hold = c->hold_ms != 0 ? c->hold_ms : PRISM_LAYERS_HOLD_MS;
    if (!c->chosen || (c->layer < n && !layers[c->layer].active) || c->layer >= n) {
        c->chosen = true;
        c->layer = want;
        c->want_up_ms = 0;
        return c->layer;
    }
    /* A layer a little over its share stays (a key frame's burst is not
     * congestion); a real congestion cuts the estimate well below it. */
    const struct prism_layer_info *cur = &layers[c->layer];
    bool cur_tall = max_height != 0 && cur->height != 0 && cur->height > max_height;
    if (want < c->layer && !cur_tall && (uint64_t)cur->bps * 4 <= (uint64_t)budget_bps * 5)
        want = c->layer;
    if (want < c->layer) {
        if (c->up_ms != 0 && now_ms - c->up_ms < PRISM_LAYERS_PROBATION_MS)
            c->hold_ms = hold * 2 < PRISM_LAYERS_HOLD_MAX_MS ? hold * 2 : PRISM_LAYERS_HOLD_MAX_MS;
        c->layer = want;
        c->want_up_ms = 0;
        c->up_ms = 0;
        return c->layer;
    }
    if (c->up_ms != 0 && now_ms - c->up_ms >= PRISM_LAYERS_PROBATION_MS) {
        c->hold_ms = 0; /* the last up-switch held */
        c->up_ms = 0;
    }
    if (want == c->layer) {
        c->want_up_ms = 0;
        return c->layer;
    }
    if (c->want_up_ms == 0)
        c->want_up_ms = now_ms != 0 ? now_ms : 1;
    if (now_ms - c->want_up_ms >= hold) {
        c->layer = want;
        c->want_up_ms = 0;
        c->up_ms = now_ms != 0 ? now_ms : 1;
    }
    return c->layer;
}

/* --- spatial and temporal layers ------------------------------------------------ */

uint32_t prism_svc_bps(const struct prism_svc_info *in, uint8_t sid, uint8_t tid)
{
    uint64_t sum = 0;
    for (uint8_t s = 0; s <= sid && s < PRISM_SVC_MAX_LAYERS; s++)
        for (uint8_t t = 0; t <= tid && t < PRISM_SVC_MAX_LAYERS; t++)
            sum += in->bps[s][t];
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* The wanted pair under the caps and `budget_bps`, into *sid and *tid. */
static void svc_wanted(const struct prism_svc_info *in, uint32_t budget_bps, uint32_t max_height,
                       uint32_t max_fps, uint8_t *sid, uint8_t *tid)
{
    uint8_t ns = in->n_spatial < PRISM_SVC_MAX_LAYERS ? in->n_spatial : PRISM_SVC_MAX_LAYERS;
    uint8_t nt = in->n_temporal < PRISM_SVC_MAX_LAYERS ? in->n_temporal : PRISM_SVC_MAX_LAYERS;
    uint8_t s = 0, t = 0;
    for (uint8_t i = 0; i < ns; i++)
        if (max_height == 0 || in->height[i] == 0 || in->height[i] <= max_height)
            s = i;
    /* A frame rate measured over 0.5-1 s wanders around the nominal one
     * (a frame more or less in the window is 5-10% at 20 fps): 20% slack,
     * so a layer at the cap is not left and taken back by turns. */
    uint64_t fps_sum = 0, fps_cap = (uint64_t)max_fps * 1200;
    for (uint8_t i = 0; i < nt; i++) {
        fps_sum += in->fps_milli[i];
        if (max_fps == 0 || fps_sum <= fps_cap)
            t = i;
    }
    while (prism_svc_bps(in, s, t) > budget_bps && (s > 0 || t > 0)) {
        if (s > 0)
            s--;
        else
            t--;
    }
    *sid = s;
    *tid = t;
}

void prism_svc_choose(struct prism_svc_choice *c, const struct prism_svc_info *in,
                      uint32_t budget_bps, uint32_t max_height, uint32_t max_fps, uint64_t now_ms)
{
    uint8_t ws, wt, ks, kt;
    svc_wanted(in, budget_bps, max_height, max_fps, &ws, &wt);
    if (!c->chosen) {
        *c = (struct prism_svc_choice){.chosen = true, .sid = ws, .tid = wt};
        return;
    }
    /* What a budget 25% larger allows: the current pair stays within it (a
     * key frame's burst is not congestion). */
    uint32_t slack = budget_bps > UINT32_MAX / 5 * 4 ? UINT32_MAX : budget_bps / 4 * 5;
    svc_wanted(in, slack, max_height, max_fps, &ks, &kt);
    bool keep = c->sid <= ks && c->tid <= kt;
    if (ws < c->sid && !keep)
        c->sid = ws;
    if (wt < c->tid && !keep)
        c->tid = wt;
    if (ws <= c->sid && wt <= c->tid) {
        c->want_up_ms = 0;
        return;
    }
    if (c->want_up_ms == 0)
        c->want_up_ms = now_ms != 0 ? now_ms : 1;
    if (now_ms - c->want_up_ms >= PRISM_LAYERS_HOLD_MS) {
        c->sid = ws > c->sid ? ws : c->sid;
        c->tid = wt > c->tid ? wt : c->tid;
        c->want_up_ms = 0;
    }
}
