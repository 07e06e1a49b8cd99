/* Which simulcast layer a consumer takes: the policy, pure.
 *
 * Inputs per choice: the producer's layers (index order low to high, each
 * with its measured bitrate, its height when a key frame told it, and
 * whether it is being sent at all), the consumer's share of its
 * subscriber's budget (min of the bandwidth estimate, relay/worker/bwe.h,
 * and the tenant's max_kbps), and the backend's max_height (peer.prefer).
 *
 * The wanted layer is the highest active one that fits the budget and the
 * height cap (a layer of unknown height passes the cap); when none fits,
 * the lowest active one. Hysteresis: a lower wanted layer is taken at once
 * (congestion) unless the current layer is at most 25% over the budget (a
 * key frame's burst in its measured rate), a higher one only after it was wanted for `hold_ms`
 * straight. An up-switch that has to go down again within PRISM_LAYERS_
 * PROBATION_MS failed: the next hold doubles, up to PRISM_LAYERS_HOLD_MAX_MS;
 * one that lasts resets it. A layer that stopped (the publisher dropped it)
 * is left at once for the wanted one.
 *
 * No I/O, no allocation; times are passed in. One thread (the worker's).
 */
#ifndef PRISM_WORKER_LAYERS_H
#define PRISM_WORKER_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_LAYERS_HOLD_MS 3000      /* an up-switch waits this long at first */
#define PRISM_LAYERS_HOLD_MAX_MS 24000 /* ... and at most this long after failures */
#define PRISM_LAYERS_PROBATION_MS 5000 /* a down-switch this soon after an up-switch: it failed */

/* One layer as the router measures it. */
struct prism_layer_info {
    uint32_t bps;    /* recent bitrate */
    uint16_t height; /* pixels, from its last key frame; 0: unknown */
    bool active;     /* packets arrived recently */
};

/* One consumer's choice state (zeroed: nothing chosen yet). */
struct prism_layer_choice {
    bool chosen;         /* `layer` holds a choice */
    uint8_t layer;       /* the chosen layer */
    uint64_t want_up_ms; /* since when a higher layer is wanted; 0: not */
    uint64_t up_ms;      /* when it last switched up; 0: never */
    uint32_t hold_ms;    /* the current hold; 0 means PRISM_LAYERS_HOLD_MS */
};

/* Chooses among `n` (>= 1) layers at `now_ms` for a consumer allowed
 * `budget_bps` and `max_height` (0: no cap); returns the layer (also in
 * c->layer). The first choice is the wanted layer, without hold. */
uint8_t prism_layer_choose(struct prism_layer_choice *c, const struct prism_layer_info *layers,
                           size_t n, uint32_t budget_bps, uint32_t max_height, uint64_t now_ms);

#endif
