/* A subscriber's downlink estimate (see bwe.h).
 *
 * The constants are GCC's (draft-ietf-rmcat-gcc-02 §5) as libwebrtc uses
 * them: 5 ms send bursts, smoothing 0.9, a 20-group trendline with gain 4,
 * threshold 12.5 ms adapting at 0.039 (down) / 0.0087 (up) per ms within
 * [6, 600] ms, overuse after 10 ms and two samples over it, a decrease to
 * 0.85 x the acknowledged rate, loss bands 2% / 10%.
 */
#include "relay/worker/bwe.h"

#include <string.h>

#define HISTORY_MASK (PRISM_BWE_HISTORY - 1)
#define BURST_MS 5
#define MAX_BURST_US 100000
#define SMOOTHING 0.9
#define TREND_GAIN 4.0
#define MAX_DELTAS 60
#define THRESHOLD_START_MS 12.5
#define THRESHOLD_MIN_MS 6.0
#define THRESHOLD_MAX_MS 600.0
#define K_DOWN 0.039
#define K_UP 0.0087
#define OVERUSE_TIME_MS 10.0
#define BETA 0.85
#define DECREASE_GAP_MS 200      /* between two delay-based decreases (~ an RTT) */
#define LOSS_DECREASE_GAP_MS 300 /* between two loss-based ones */
#define LOSS_PACKETS 20          /* a loss interval: this many packets ... */
#define LOSS_INTERVAL_MS 1000    /* ... or this long */
#define ACKED_WINDOW_US 500000
#define GROWTH_PER_S 0.08
#define STARTUP_GROWTH_PER_S 0.5

void prism_bwe_init(struct prism_bwe *b)
{
    memset(b, 0, sizeof(*b));
    b->threshold = THRESHOLD_START_MS;
    b->overuse_ms = -1;
    b->acked_start_us = -1;
    b->estimate_bps = PRISM_BWE_START_BPS;
    b->startup = true;
}

static uint16_t stamp(struct prism_bwe *b, uint64_t now_ms, size_t bytes, uint8_t cluster)
{
    uint16_t seq = b->next_seq++;
    b->sent[seq & HISTORY_MASK] =
        (struct prism_bwe_sent){.seq = seq,
                                .bytes = (uint16_t)(bytes < UINT16_MAX ? bytes : UINT16_MAX),
                                .send_ms = (uint32_t)now_ms,
                                .cluster = cluster};
    return seq;
}

uint16_t prism_bwe_stamp(struct prism_bwe *b, uint64_t now_ms, size_t bytes)
{
    return stamp(b, now_ms, bytes, 0);
}

void prism_bwe_probe_start(struct prism_bwe *b, uint8_t id, uint32_t target_bps)
{
    b->clusters[id % PRISM_BWE_CLUSTERS] =
        (struct prism_bwe_cluster){.id = id, .target_bps = target_bps};
}

uint16_t prism_bwe_stamp_probe(struct prism_bwe *b, uint64_t now_ms, size_t bytes, uint8_t id)
{
    struct prism_bwe_cluster *c = &b->clusters[id % PRISM_BWE_CLUSTERS];
    if (c->id == id && !c->done)
        c->sent++;
    return stamp(b, now_ms, bytes, id);
}

const struct prism_bwe_cluster *prism_bwe_probe_result(const struct prism_bwe *b, uint8_t id)
{
    const struct prism_bwe_cluster *c = &b->clusters[id % PRISM_BWE_CLUSTERS];
    return id != 0 && c->id == id && c->done ? c : NULL;
}

void prism_bwe_set_ceiling(struct prism_bwe *b, uint32_t bps)
{
    b->ceiling_bps = bps;
}

/* --- delay-based: the trendline ---------------------------------------------- */

static void update_threshold(struct prism_bwe *b, double modified, uint64_t now_ms)
{
    if (b->last_threshold_ms == 0)
        b->last_threshold_ms = now_ms;
    double abs_trend = modified < 0 ? -modified : modified;
    if (abs_trend > b->threshold + 15.0) { /* a spike: do not adapt to it */
        b->last_threshold_ms = now_ms;
        return;
    }
    double k = abs_trend < b->threshold ? K_DOWN : K_UP;
    double dt = (double)(now_ms - b->last_threshold_ms);
    if (dt > 100)
        dt = 100;
    b->threshold += k * (abs_trend - b->threshold) * dt;
    if (b->threshold < THRESHOLD_MIN_MS)
        b->threshold = THRESHOLD_MIN_MS;
    if (b->threshold > THRESHOLD_MAX_MS)
        b->threshold = THRESHOLD_MAX_MS;
    b->last_threshold_ms = now_ms;
}

/* Least-squares slope of the window's (x, y) samples. */
static double trend_slope(const struct prism_bwe *b)
{
    double sx = 0, sy = 0;
    for (unsigned i = 0; i < b->tl_n; i++) {
        sx += b->tl_x[i];
        sy += b->tl_y[i];
    }
    double mx = sx / b->tl_n, my = sy / b->tl_n, num = 0, den = 0;
    for (unsigned i = 0; i < b->tl_n; i++) {
        num += (b->tl_x[i] - mx) * (b->tl_y[i] - my);
        den += (b->tl_x[i] - mx) * (b->tl_x[i] - mx);
    }
    return den > 0 ? num / den : 0;
}

/* One group's delay variation `delay_ms` (arrival delta - send delta) after
 * `send_delta_ms`, its arrival at `x_ms` on the trendline's axis. */
static void trendline_update(struct prism_bwe *b, double delay_ms, double send_delta_ms,
                             double x_ms, uint64_t now_ms)
{
    if (b->num_deltas < MAX_DELTAS)
        b->num_deltas++;
    b->accumulated_ms += delay_ms;
    b->smoothed_ms = SMOOTHING * b->smoothed_ms + (1 - SMOOTHING) * b->accumulated_ms;
    b->tl_x[b->tl_at] = x_ms;
    b->tl_y[b->tl_at] = b->smoothed_ms;
    b->tl_at = (b->tl_at + 1) % PRISM_BWE_TRENDLINE_WINDOW;
    if (b->tl_n < PRISM_BWE_TRENDLINE_WINDOW)
        b->tl_n++;
    double trend = b->tl_n == PRISM_BWE_TRENDLINE_WINDOW ? trend_slope(b) : b->prev_trend;
    if (b->num_deltas < 2) {
        b->usage = PRISM_BWE_NORMAL;
        b->prev_trend = trend;
        return;
    }
    double modified = b->num_deltas * trend * TREND_GAIN;
    if (modified > b->threshold) {
        b->overuse_ms = b->overuse_ms < 0 ? send_delta_ms / 2 : b->overuse_ms + send_delta_ms;
        b->overuse_count++;
        if (b->overuse_ms > OVERUSE_TIME_MS && b->overuse_count > 1 && trend >= b->prev_trend) {
            b->overuse_ms = 0;
            b->overuse_count = 0;
            b->usage = PRISM_BWE_OVERUSE;
        }
    } else {
        b->overuse_ms = -1;
        b->overuse_count = 0;
        b->usage = modified < -b->threshold ? PRISM_BWE_UNDERUSE : PRISM_BWE_NORMAL;
    }
    b->prev_trend = trend;
    update_threshold(b, modified, now_ms);
}

/* The group that just completed (group_*) against the previous one. */
static void group_done(struct prism_bwe *b, uint64_t now_ms)
{
    if (b->has_prev_group) {
        int32_t send_delta = (int32_t)(b->group_last_send_ms - b->prev_send_ms);
        double arrival_delta = (double)(b->group_arrival_us - b->prev_arrival_us) / 1000.0;
        /* Reordered across groups: no sample (the next group compares with this one). */
        if (send_delta >= 0 && arrival_delta >= 0)
            trendline_update(b, arrival_delta - send_delta, send_delta,
                             (double)(b->group_arrival_us - b->first_arrival_us) / 1000.0, now_ms);
    } else {
        b->first_arrival_us = b->group_arrival_us;
    }
    b->has_prev_group = true;
    b->prev_send_ms = b->group_last_send_ms;
    b->prev_arrival_us = b->group_arrival_us;
}

/* A packet joins the open group when it was sent within BURST_MS of the
 * group's first packet, or when it arrived within BURST_MS of the group's
 * last one sooner than its send spacing says (a burst the receiver's stack
 * delivered at once: not queueing), as libwebrtc's inter-arrival does, for
 * at most MAX_BURST_US. */
static bool joins_group(const struct prism_bwe *b, uint32_t send_ms, int64_t arrival_us)
{
    int32_t since_first = (int32_t)(send_ms - b->group_send_ms);
    if (since_first >= 0 && since_first <= BURST_MS)
        return true;
    int64_t arrival_delta = arrival_us - b->group_arrival_us;
    int64_t send_delta_us = (int64_t)(int32_t)(send_ms - b->group_last_send_ms) * 1000;
    return arrival_delta >= 0 && arrival_delta <= BURST_MS * 1000 &&
           arrival_delta - send_delta_us < 0 &&
           arrival_us - b->group_first_arrival_us < MAX_BURST_US;
}

static void delay_note(struct prism_bwe *b, uint32_t send_ms, int64_t arrival_us, uint64_t now_ms)
{
    if (b->group_open && joins_group(b, send_ms, arrival_us)) {
        if ((int32_t)(send_ms - b->group_last_send_ms) > 0)
            b->group_last_send_ms = send_ms;
        if (arrival_us > b->group_arrival_us)
            b->group_arrival_us = arrival_us;
        return;
    }
    if (b->group_open)
        group_done(b, now_ms);
    b->group_open = true;
    b->group_send_ms = b->group_last_send_ms = send_ms;
    b->group_arrival_us = b->group_first_arrival_us = arrival_us;
}

/* --- acknowledged rate, loss ------------------------------------------------- */

static void acked_note(struct prism_bwe *b, int64_t arrival_us, size_t bytes)
{
    if (b->acked_start_us < 0 || arrival_us < b->acked_start_us) {
        b->acked_start_us = arrival_us;
        b->acked_bytes = 0;
    }
    b->acked_bytes += bytes;
    int64_t span = arrival_us - b->acked_start_us;
    if (span >= ACKED_WINDOW_US) {
        /* The better of the last two windows: a receiver that stalled for a
         * moment (or a sender with less to send) is not a smaller link. */
        uint32_t rate = (uint32_t)(b->acked_bytes * 8 * 1000000 / (uint64_t)span);
        b->acked_bps = rate > b->acked_prev_bps ? rate : b->acked_prev_bps;
        b->acked_prev_bps = rate;
        b->acked_start_us = arrival_us;
        b->acked_bytes = 0;
    }
}

/* Returns true when an interval just ended (b->loss is then fresh). */
static bool loss_interval_end(struct prism_bwe *b, uint64_t now_ms)
{
    uint32_t total = b->loss_received + b->loss_lost;
    if (b->loss_start_ms == 0)
        b->loss_start_ms = now_ms;
    if (total == 0 || (total < LOSS_PACKETS && now_ms - b->loss_start_ms < LOSS_INTERVAL_MS))
        return false;
    b->loss = (double)b->loss_lost / total;
    b->loss_received = b->loss_lost = 0;
    b->loss_start_ms = now_ms;
    return true;
}

/* --- AIMD -------------------------------------------------------------------- */

/* How far growth (or a probe) may take the estimate: 1.5 x what was
 * acknowledged, or the caller's ceiling when higher. */
static double estimate_cap(const struct prism_bwe *b)
{
    double cap = b->acked_bps > 0 ? 1.5 * b->acked_bps + 10000 : PRISM_BWE_START_BPS;
    return cap < b->ceiling_bps ? b->ceiling_bps : cap;
}

static void update_estimate(struct prism_bwe *b, uint64_t now_ms)
{
    double est = b->estimate_bps;
    bool grow = true;
    if (loss_interval_end(b, now_ms) && b->loss > 0.10 &&
        now_ms - b->last_loss_decrease_ms >= LOSS_DECREASE_GAP_MS) {
        est *= 1 - 0.5 * b->loss;
        /* What gets through is not in doubt: half of it stays (a policer's
         * drops must not take the estimate to nothing). */
        if (est < 0.5 * b->acked_bps)
            est = 0.5 * b->acked_bps;
        b->last_loss_decrease_ms = now_ms;
        b->startup = false;
    }
    if (b->loss >= 0.02)
        grow = false; /* lossy (or decreased just now): hold */
    if (b->usage == PRISM_BWE_OVERUSE) {
        double target = BETA * (b->acked_bps > 0 ? b->acked_bps : est);
        if (now_ms - b->last_decrease_ms >= DECREASE_GAP_MS && target < est) {
            est = target;
            b->last_decrease_ms = now_ms;
            b->startup = false;
        }
        grow = false;
    } else if (b->usage == PRISM_BWE_UNDERUSE) {
        grow = false;
    }
    if (grow && est < b->acked_bps)
        est = b->acked_bps; /* clean delivery of more than the estimate: at least that */
    if (grow && b->last_update_ms != 0) {
        uint64_t dt = now_ms - b->last_update_ms;
        if (dt > 1000)
            dt = 1000;
        est *= 1 + (b->startup ? STARTUP_GROWTH_PER_S : GROWTH_PER_S) * (double)dt / 1000.0;
    }
    b->last_update_ms = now_ms;
    double cap = estimate_cap(b);
    if (est > cap && est > b->estimate_bps)
        est = cap > b->estimate_bps ? cap : b->estimate_bps; /* growth stops at the cap */
    if (est < PRISM_BWE_MIN_BPS)
        est = PRISM_BWE_MIN_BPS;
    if (est > PRISM_BWE_MAX_BPS)
        est = PRISM_BWE_MAX_BPS;
    b->estimate_bps = est;
}

/* --- probe clusters ------------------------------------------------------------ */

#define PROBE_MAX_LOSS 0.2

static void probe_note(struct prism_bwe *b, const struct prism_bwe_sent *s,
                       const struct prism_tcc_status *st)
{
    struct prism_bwe_cluster *c = &b->clusters[s->cluster % PRISM_BWE_CLUSTERS];
    if (c->id != s->cluster || c->done)
        return; /* forgotten, or reported twice */
    if (!st->received) {
        c->lost++;
        return;
    }
    if (c->received == 0 || st->arrival_us < c->first_us) {
        c->first_us = st->arrival_us;
        c->first_bytes = s->bytes;
    }
    if (c->received == 0 || st->arrival_us > c->last_us)
        c->last_us = st->arrival_us;
    c->received++;
    c->bytes += s->bytes;
}

/* Closes the clusters whose every packet was reported; a result above the
 * estimate raises it while the link is clean (the cluster's target bounds
 * it: the caller probes only up to what it would use). */
static void probe_results(struct prism_bwe *b)
{
    for (unsigned i = 0; i < PRISM_BWE_CLUSTERS; i++) {
        struct prism_bwe_cluster *c = &b->clusters[i];
        if (c->id == 0 || c->done || c->sent == 0 || c->received + c->lost < c->sent)
            continue;
        c->done = true;
        c->failed = c->lost > PROBE_MAX_LOSS * c->sent || c->received == 0;
        if (c->failed)
            continue;
        uint64_t rate = c->target_bps;
        if (c->last_us > c->first_us) {
            uint64_t got = (uint64_t)(c->bytes - c->first_bytes) * 8 * 1000000 /
                           (uint64_t)(c->last_us - c->first_us);
            if (got < rate)
                rate = got;
        }
        c->result_bps = (uint32_t)rate;
        if (b->usage == PRISM_BWE_OVERUSE || b->loss >= 0.02)
            continue;
        if (rate > PRISM_BWE_MAX_BPS)
            rate = PRISM_BWE_MAX_BPS;
        if ((double)rate > b->estimate_bps)
            b->estimate_bps = (double)rate;
    }
}

void prism_bwe_feedback(struct prism_bwe *b, const struct prism_tcc_status *st, size_t n,
                        uint64_t now_ms)
{
    bool probes = false;
    for (size_t i = 0; i < n; i++) {
        const struct prism_bwe_sent *s = &b->sent[st[i].seq & HISTORY_MASK];
        if (s->seq != st[i].seq || s->bytes == 0) {
            b->feedback_unknown++;
            continue;
        }
        if (s->cluster != 0) {
            probe_note(b, s, &st[i]);
            probes = true;
            continue;
        }
        if (!st[i].received) {
            b->loss_lost++;
            continue;
        }
        b->loss_received++;
        acked_note(b, st[i].arrival_us, s->bytes);
        delay_note(b, s->send_ms, st[i].arrival_us, now_ms);
    }
    b->feedback_ms = now_ms != 0 ? now_ms : 1;
    update_estimate(b, now_ms);
    if (probes)
        probe_results(b);
}

void prism_bwe_remb(struct prism_bwe *b, uint64_t bps, uint64_t now_ms)
{
    b->remb_bps = (uint32_t)(bps < PRISM_BWE_MAX_BPS ? bps : PRISM_BWE_MAX_BPS);
    b->remb_ms = now_ms != 0 ? now_ms : 1;
}

uint32_t prism_bwe_estimate(const struct prism_bwe *b, uint64_t now_ms)
{
    bool fresh_tcc = b->feedback_ms != 0 && now_ms - b->feedback_ms < PRISM_BWE_FEEDBACK_STALE_MS;
    bool fresh_remb = b->remb_ms != 0 && now_ms - b->remb_ms < PRISM_BWE_FEEDBACK_STALE_MS;
    if (!fresh_tcc && fresh_remb)
        return b->remb_bps;
    return (uint32_t)b->estimate_bps;
}

#define RTX_SHARE 4

uint32_t prism_bwe_rtx_bps(const struct prism_bwe *b, uint64_t now_ms)
{
    bool fresh_tcc = b->feedback_ms != 0 && now_ms - b->feedback_ms < PRISM_BWE_FEEDBACK_STALE_MS;
    bool fresh_remb = b->remb_ms != 0 && now_ms - b->remb_ms < PRISM_BWE_FEEDBACK_STALE_MS;
    if (!fresh_tcc && !fresh_remb)
        return 0;
    uint32_t known = fresh_tcc && b->acked_bps != 0 ? b->acked_bps : prism_bwe_estimate(b, now_ms);
    return known / RTX_SHARE > 0 ? known / RTX_SHARE : 1;
}
