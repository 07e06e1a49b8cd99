/* Which simulcast layer, and which spatial and temporal layers of a
 * layered (SVC) stream, a consumer takes: the policy, pure.
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
 * Spatial and temporal layers (VP9 SVC, VP8 temporal layers; see
 * prism_svc_choose): the wanted (S, T) is the highest spatial layer within
 * max_height and the highest temporal layer whose frame rate (its frames
 * and all lower layers', as measured, with 20% slack) is within max_fps,
 * then lowered to fit the budget, spatial first (a lower resolution at
 * full frame rate), then temporal. The same hysteresis: down at once
 * unless the current pair is at most 25% over the budget, up after
 * PRISM_LAYERS_HOLD_MS of wanting it.
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

#define PRISM_SVC_MAX_LAYERS 3 /* spatial and temporal layers a consumer chooses among */
#define PRISM_SVC_ALL 0xFF     /* a layer index above any: every layer */

/* A layered stream as the router measures it, per layer frame (spatial,
 * temporal) in the last 0.5-1 s. */
struct prism_svc_info {
    uint8_t n_spatial;  /* spatial layers seen, 1 for VP8; 0: not a layered stream */
    uint8_t n_temporal; /* temporal layers seen */
    uint32_t bps[PRISM_SVC_MAX_LAYERS][PRISM_SVC_MAX_LAYERS]; /* [sid][tid], not cumulative */
    uint16_t height[PRISM_SVC_MAX_LAYERS];    /* per spatial layer, from the scalability
                                                 structure; 0: unknown */
    uint32_t fps_milli[PRISM_SVC_MAX_LAYERS]; /* frames per 1000 s of each temporal layer */
};

/* One consumer's (S, T) choice state (zeroed: nothing chosen yet). */
struct prism_svc_choice {
    bool chosen;
    uint8_t sid, tid;    /* the chosen layers */
    uint64_t want_up_ms; /* since when a higher pair is wanted; 0: not */
};

/* The bitrate of layers (0..sid, 0..tid) of `in`. */
uint32_t prism_svc_bps(const struct prism_svc_info *in, uint8_t sid, uint8_t tid);

/* Chooses (S, T) of `in` (n_spatial and n_temporal >= 1) at `now_ms` for a
 * consumer allowed `budget_bps`, `max_height` and `max_fps` (0: no cap);
 * the result is in c->sid and c->tid. The first choice is taken without
 * hold. */
void prism_svc_choose(struct prism_svc_choice *c, const struct prism_svc_info *in,
                      uint32_t budget_bps, uint32_t max_height, uint32_t max_fps, uint64_t now_ms);

#endif
