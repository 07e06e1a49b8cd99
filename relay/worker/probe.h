/* When the relay probes a subscriber's downlink upward: the policy, pure.
 *
 * A subscriber whose estimate (relay/worker/bwe.h) is below what the next
 * layer up of its consumers needs would otherwise only find out whether
 * that layer fits by switching to it. Instead, while its link looks clean
 * (no overuse, loss under 2% in the last interval, fresh feedback), the
 * relay sends it rounds of two probe clusters, at 2x and then 3x the
 * estimate (each at most the rate it needs: `need_bps`), ~15 ms worth of
 * padding each (PRISM_PROBE_MIN_PACKETS to PRISM_PROBE_MAX_PACKETS
 * packets of PRISM_ROUTER_PAD_BYTES), the second a feedback tick after the
 * first. The estimator measures each cluster from the subscriber's
 * transport-cc feedback and raises the estimate to what got through (as
 * GCC's ProbeController and probe estimator do).
 *
 * A round whose best cluster got through at 70% of its target or more
 * succeeded: the next round may follow PRISM_PROBE_AGAIN_MS later, from
 * the raised estimate. A round that failed (a cluster lost more than 20%,
 * got through slower, or was not reported within PRISM_PROBE_TIMEOUT_MS),
 * or any sign of congestion while probing, or a decrease of the estimate
 * within PRISM_PROBE_TRUST_MS of a round that raised it (a policer's
 * bucket lets a short cluster through and the layer it unlocked then
 * overshoots: the round was wrong), ends probing for a back-off
 * that starts at PRISM_PROBE_BACKOFF_MS and doubles to
 * PRISM_PROBE_BACKOFF_MAX_MS (reset once a raise has held for
 * PRISM_PROBE_TRUST_MS); reaching `need_bps` ends probing. The caller passes can_probe false when
 * the subscriber has no consumer to pad on (paused, audio-only, or without rtx and transport-cc):
 * then nothing is sent.
 *
 * The caller sends what prism_probe_step() asks for (padding-only RTX
 * packets, relay/worker/router.h: prism_router_pad) and stamps them with
 * prism_bwe_stamp_probe. No I/O, no allocation; times are passed in. One
 * thread (the worker's).
 */
#ifndef PRISM_WORKER_PROBE_H
#define PRISM_WORKER_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/worker/bwe.h"

#define PRISM_PROBE_MIN_PACKETS 5
#define PRISM_PROBE_MAX_PACKETS 30
#define PRISM_PROBE_CLUSTER_MS 15   /* the rate x this = a cluster's bytes */
#define PRISM_PROBE_AGAIN_MS 1000   /* after a round that succeeded */
#define PRISM_PROBE_TIMEOUT_MS 1000 /* a cluster not reported by then failed */
#define PRISM_PROBE_BACKOFF_MS 2000 /* after the first failure ... */
#define PRISM_PROBE_BACKOFF_MAX_MS                                                                 \
    16000                         /* ... doubling up to this (the layer hold, 24 s at most,        \
                                     spaces failed up-switches already) */
#define PRISM_PROBE_TRUST_MS 5000 /* a decrease this soon after a raise: it failed */

/* One subscriber's probing state (zeroed: idle, no back-off). */
struct prism_probe {
    uint8_t next_id;     /* the id of the next cluster (1..255, wrapping past 0) */
    uint8_t ids[2];      /* the round's clusters; 0: not sent yet */
    uint32_t rates[2];   /* their targets, bps */
    bool active;         /* a round is under way */
    uint64_t round_ms;   /* when its first cluster went out */
    uint64_t next_ms;    /* no round starts before this */
    uint32_t backoff_ms; /* the next failure's back-off; 0: PRISM_PROBE_BACKOFF_MS */
    uint64_t raised_ms;  /* when the last round that succeeded ended; 0: none on trial */
};

/* What to send now: a cluster `id` of `packets` padding packets at
 * `target_bps` (open it with prism_bwe_probe_start first). */
struct prism_probe_cluster {
    uint8_t id; /* 0: nothing */
    uint32_t target_bps;
    unsigned packets;
};

/* One step at `now_ms` (call on every feedback tick): reads the estimator
 * `b` (the estimate, the link's state and the results of the round's
 * clusters) against `need_bps`, what the subscriber's consumers would take
 * one layer up, and returns the cluster to send now (id 0: none). */
struct prism_probe_cluster prism_probe_step(struct prism_probe *p, const struct prism_bwe *b,
                                            uint32_t need_bps, bool can_probe, uint64_t now_ms);

#endif
