/* Simulcast layer choice (see layers.h). */
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
