/* The relay's estimate of what one subscriber can receive (its downlink),
 * GCC-like (draft-ietf-rmcat-gcc-02), from the subscriber's transport-cc
 * feedback about what the relay sent it, or from its REMB where it sends
 * that instead. The worker picks each of the subscriber's simulcast layers
 * from it (relay/worker/layers.h).
 *
 * Owns, per subscribe transport: the send history (transport-wide sequence
 * number -> send time and size) that the router stamps every packet it
 * sends into (prism_bwe_stamp), and the estimator state:
 *  - delay-based: packets are grouped by send time (5 ms bursts, and
 *    arrival bursts the receiver delivered at once); per group
 *    the one-way delay variation (arrival delta - send delta) is accumulated,
 *    smoothed, and a least-squares trendline over the last 20 groups, scaled
 *    by the sample count, is compared with an adaptive threshold: overuse,
 *    underuse or normal;
 *  - loss-based: over each ~20 packets (or a second) of feedback, more than
 *    10% lost decreases the estimate by half the loss (at most once per
 *    300 ms, never below half the acknowledged bitrate), under 2% lets it
 *    grow, in between it holds;
 *  - AIMD: overuse sets it to 85% of the acknowledged (received) bitrate
 *    (the better of the last two 0.5 s windows), at
 *    most once per 200 ms; normal use grows it multiplicatively, 8% per
 *    second (50% per second until the first decrease: the start-up), and
 *    from at least the acknowledged bitrate (delivered cleanly);
 *    underuse holds. It never exceeds max(1.5 x the acknowledged bitrate,
 *    the ceiling the caller sets: what the subscriber would take at most),
 *    so it cannot run far ahead of what was tried.
 *
 * Probe clusters (relay/worker/probe.h decides when): padding packets
 * stamped with a cluster id are left out of the three estimators above (a
 * lost probe is not the media's loss, a burst of them not its queue); once
 * every packet of a cluster is reported, its result is the rate the
 * receiver got it at (its bytes after the first arrival over the arrival
 * span), at most the cluster's target (it is sent back to back: its own
 * send rate says nothing). A cluster that lost more than 20% of its packets
 * failed. A result above the estimate raises it (the cluster's target is
 * the bound: the caller probes only up to what it would use), unless the
 * link is overusing or lossy right now; growth above does not go on from
 * there past its cap.
 *
 * Pure: no I/O, no clock (times are passed in, ms on the worker's loop
 * clock; arrival times are the receiver's, only their differences used), no
 * allocation (a fixed history inside the caller-owned struct, ~6 KiB). One
 * thread (the worker's). Floats in the estimator, never per packet sent:
 * prism_bwe_stamp is O(1) integer work; prism_bwe_feedback is O(statuses).
 */
#ifndef PRISM_WORKER_BWE_H
#define PRISM_WORKER_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/wire/tcc.h"

#define PRISM_BWE_HISTORY 512            /* packets whose send is remembered (power of 2) */
#define PRISM_BWE_START_BPS 300000       /* before any feedback (GCC's usual start) */
#define PRISM_BWE_MIN_BPS 50000          /* never below: audio and a low layer still fit */
#define PRISM_BWE_MAX_BPS 100000000      /* never above */
#define PRISM_BWE_TRENDLINE_WINDOW 20    /* groups in the trendline */
#define PRISM_BWE_FEEDBACK_STALE_MS 2000 /* without feedback for this long, REMB rules */
#define PRISM_BWE_CLUSTERS 4             /* probe clusters measured at once (by id % this) */

enum prism_bwe_usage {
    PRISM_BWE_NORMAL = 0,
    PRISM_BWE_OVERUSE,  /* queues grow: decrease */
    PRISM_BWE_UNDERUSE, /* queues drain: hold */
};

struct prism_bwe_sent {
    uint16_t seq;     /* transport-wide; checked against the slot's index */
    uint16_t bytes;   /* RTP packet size */
    uint32_t send_ms; /* the loop's clock, low 32 bits */
    uint8_t cluster;  /* probe cluster id; 0: media (or a retransmission) */
};

/* One probe cluster being measured. */
struct prism_bwe_cluster {
    uint8_t id;           /* 0: slot free */
    bool done;            /* every packet reported: result_bps / failed hold */
    bool failed;          /* lost more than 20% */
    uint32_t target_bps;  /* what it was sent to try */
    uint16_t sent;        /* packets stamped into it */
    uint16_t received;    /* reported received */
    uint16_t lost;        /* reported lost */
    uint32_t bytes;       /* received */
    uint16_t first_bytes; /* of the earliest arrival (not part of the rate) */
    int64_t first_us;     /* earliest arrival */
    int64_t last_us;      /* latest arrival */
    uint32_t result_bps;  /* when done and not failed */
};

struct prism_bwe {
    /* send history */
    struct prism_bwe_sent sent[PRISM_BWE_HISTORY]; /* by seq % PRISM_BWE_HISTORY */
    uint16_t next_seq;                             /* stamped into the next packet */
    /* delay-based */
    bool group_open;                /* a send group is being filled */
    uint32_t group_send_ms;         /* its first packet's send time */
    uint32_t group_last_send_ms;    /* its last packet's send time */
    int64_t group_arrival_us;       /* its last packet's arrival */
    int64_t group_first_arrival_us; /* its first packet's arrival */
    bool has_prev_group;            /* prev_* hold the previous complete group */
    uint32_t prev_send_ms;          /* of the previous group */
    int64_t prev_arrival_us;        /* of the previous group */
    int64_t first_arrival_us;       /* origin of the trendline's x axis */
    double accumulated_ms;          /* sum of delay variations */
    double smoothed_ms;             /* its exponential smoothing */
    double tl_x[PRISM_BWE_TRENDLINE_WINDOW], tl_y[PRISM_BWE_TRENDLINE_WINDOW];
    unsigned tl_n, tl_at;       /* samples held, next slot */
    unsigned num_deltas;        /* groups seen, capped at 60 */
    double prev_trend;          /* the last modified trend */
    double threshold;           /* adaptive, ms */
    double overuse_ms;          /* time the trend has been over the threshold */
    unsigned overuse_count;     /* consecutive samples over it */
    uint64_t last_threshold_ms; /* last threshold update */
    enum prism_bwe_usage usage;
    /* acknowledged bitrate: bytes received over arrival time */
    uint64_t acked_bytes;    /* in the current window */
    int64_t acked_start_us;  /* first arrival of the window, -1: none */
    uint32_t acked_bps;      /* the better of the last two full windows' rates, 0: unknown */
    uint32_t acked_prev_bps; /* the last full window's rate */
    /* loss */
    uint32_t loss_received, loss_lost; /* in the current interval */
    uint64_t loss_start_ms;
    double loss; /* fraction of the last full interval */
    uint64_t last_loss_decrease_ms;
    /* AIMD */
    double estimate_bps;
    uint32_t ceiling_bps;      /* caller's: what the subscriber would take at most, 0: none */
    bool startup;              /* no decrease yet: grow fast */
    uint64_t last_update_ms;   /* last growth step */
    uint64_t last_decrease_ms; /* last delay-based decrease */
    uint64_t feedback_ms;      /* last transport-cc feedback, 0: never */
    uint32_t remb_bps;         /* the subscriber's REMB, 0: none */
    uint64_t remb_ms;          /* when it came */
    uint64_t feedback_unknown; /* statuses about seqs not (or no longer) in the history */
    /* probe clusters */
    struct prism_bwe_cluster clusters[PRISM_BWE_CLUSTERS]; /* by id % PRISM_BWE_CLUSTERS */
};

/* Starts `b` afresh: empty history, PRISM_BWE_START_BPS. */
void prism_bwe_init(struct prism_bwe *b);

/* The transport-wide sequence number to write into a packet of `bytes`
 * sent at `now_ms`; recorded in the history. O(1). */
uint16_t prism_bwe_stamp(struct prism_bwe *b, uint64_t now_ms, size_t bytes);

/* Opens probe cluster `id` (1..255; its slot, id % PRISM_BWE_CLUSTERS, is
 * forgotten) sent to try `target_bps`: its packets are then stamped with
 * prism_bwe_stamp_probe. */
void prism_bwe_probe_start(struct prism_bwe *b, uint8_t id, uint32_t target_bps);

/* prism_bwe_stamp for a padding packet of open cluster `id`. O(1). */
uint16_t prism_bwe_stamp_probe(struct prism_bwe *b, uint64_t now_ms, size_t bytes, uint8_t id);

/* The cluster `id`'s slot when every packet of it was reported (`done`),
 * else NULL (still out, or forgotten). */
const struct prism_bwe_cluster *prism_bwe_probe_result(const struct prism_bwe *b, uint8_t id);

/* What the subscriber would take at most (every consumer on its highest
 * allowed layer): the estimate may grow up to it without having been
 * acknowledged (trying a higher layer is the probe). 0: no ceiling beyond
 * 1.5 x the acknowledged bitrate. */
void prism_bwe_set_ceiling(struct prism_bwe *b, uint32_t bps);

/* One transport-cc feedback of the subscriber (`n` statuses, parsed by
 * prism_tcc_parse) at `now_ms`: matches each status with the history,
 * feeds the delay and loss estimators, and updates the estimate. Statuses
 * about seqs not in the history are counted in feedback_unknown. */
void prism_bwe_feedback(struct prism_bwe *b, const struct prism_tcc_status *st, size_t n,
                        uint64_t now_ms);

/* The subscriber's REMB of `bps` at `now_ms`. */
void prism_bwe_remb(struct prism_bwe *b, uint64_t bps, uint64_t now_ms);

/* The estimate at `now_ms`, bps: transport-cc's while its feedback is
 * fresh, else the last REMB if one came within PRISM_BWE_FEEDBACK_STALE_MS,
 * else transport-cc's last (the start value before any). */
uint32_t prism_bwe_estimate(const struct prism_bwe *b, uint64_t now_ms);

/* What retransmissions to the subscriber may spend at `now_ms`, bps: a
 * quarter of what its link is known to carry (the acknowledged rate; the
 * estimate before one is known, or from REMB), or 0 (unpaced) while nothing
 * measures it
 * (no fresh transport-cc feedback or REMB). The repairs of a lossy link
 * fit in a quarter; the losses of a narrow link cannot turn into repairs
 * that keep it full (test_simulcast behind a 300 kbit/s policer, unpaced:
 * after a failed up-switch the low layer's own losses were retransmitted
 * at ~350 kbit/s for seconds, each repair crowding out more of the layer;
 * the subscriber froze ~8 s). */
uint32_t prism_bwe_rtx_bps(const struct prism_bwe *b, uint64_t now_ms);

#endif
