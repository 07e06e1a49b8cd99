/* Probing a subscriber's downlink upward (see probe.h). */
#include "relay/worker/probe.h"

#define PROBE_SUCCESS 0.7      /* of a cluster's target: the round succeeded */
#define PROBE_PACKET_BYTES 275 /* a padding packet on the wire: header, tcc element, padding */

/* Whether the link looks clean: fresh feedback, no overuse, the last loss
 * interval under 2%. */
static bool clean(const struct prism_bwe *b, uint64_t now_ms)
{
    return b->feedback_ms != 0 && now_ms - b->feedback_ms < PRISM_BWE_FEEDBACK_STALE_MS &&
           b->usage != PRISM_BWE_OVERUSE && b->loss < 0.02;
}

static void backoff(struct prism_probe *p, uint64_t now_ms)
{
    uint32_t wait = p->backoff_ms != 0 ? p->backoff_ms : PRISM_PROBE_BACKOFF_MS;
    p->active = false;
    p->next_ms = now_ms + wait;
    p->backoff_ms = wait * 2 < PRISM_PROBE_BACKOFF_MAX_MS ? wait * 2 : PRISM_PROBE_BACKOFF_MAX_MS;
}

static struct prism_probe_cluster cluster(struct prism_probe *p, unsigned i)
{
    if (++p->next_id == 0)
        p->next_id = 1;
    p->ids[i] = p->next_id;
    uint64_t bytes = (uint64_t)p->rates[i] * PRISM_PROBE_CLUSTER_MS / 8000;
    uint64_t packets = (bytes + PROBE_PACKET_BYTES - 1) / PROBE_PACKET_BYTES;
    if (packets < PRISM_PROBE_MIN_PACKETS)
        packets = PRISM_PROBE_MIN_PACKETS;
    if (packets > PRISM_PROBE_MAX_PACKETS)
        packets = PRISM_PROBE_MAX_PACKETS;
    return (struct prism_probe_cluster){p->ids[i], p->rates[i], (unsigned)packets};
}

static uint32_t at_most(uint64_t a, uint32_t b)
{
    return a < b ? (uint32_t)a : b;
}

/* The round's verdict, once both its clusters are reported (or overdue):
 * either got through at PROBE_SUCCESS of its target or better, or the
 * round failed. */
static void judge(struct prism_probe *p, const struct prism_bwe *b, uint64_t now_ms)
{
    if (!p->active || p->ids[1] == 0)
        return;
    const struct prism_bwe_cluster *r[2] = {prism_bwe_probe_result(b, p->ids[0]),
                                            prism_bwe_probe_result(b, p->ids[1])};
    if (r[0] == NULL || r[1] == NULL) {
        if (now_ms - p->round_ms >= PRISM_PROBE_TIMEOUT_MS)
            backoff(p, now_ms);
        return;
    }
    for (unsigned i = 0; i < 2; i++) {
        if (!r[i]->failed && r[i]->result_bps >= PROBE_SUCCESS * p->rates[i]) {
            p->active = false;
            p->next_ms = now_ms + PRISM_PROBE_AGAIN_MS;
            p->raised_ms = now_ms != 0 ? now_ms : 1;
            return;
        }
    }
    backoff(p, now_ms);
}

struct prism_probe_cluster prism_probe_step(struct prism_probe *p, const struct prism_bwe *b,
                                            uint32_t need_bps, bool can_probe, uint64_t now_ms)
{
    struct prism_probe_cluster none = {0};
    if (p->raised_ms != 0 && now_ms - p->raised_ms > PRISM_PROBE_TRUST_MS) {
        p->raised_ms = 0; /* it held: failures before it are forgiven */
        p->backoff_ms = 0;
    }
    if (p->raised_ms != 0 &&
        (b->last_loss_decrease_ms > p->raised_ms || b->last_decrease_ms > p->raised_ms)) {
        p->raised_ms = 0;
        backoff(p, now_ms);
    }
    judge(p, b, now_ms);
    uint32_t est = prism_bwe_estimate(b, now_ms);
    if (est >= need_bps) {
        p->active = false; /* reached: probing is over */
        return none;
    }
    if (!can_probe) {
        p->active = false;
        return none;
    }
    if (!clean(b, now_ms)) {
        if (p->active)
            backoff(p, now_ms); /* loss or delay rose while probing */
        return none;
    }
    if (!p->active) {
        if (now_ms < p->next_ms)
            return none;
        p->active = true;
        p->round_ms = now_ms;
        p->rates[0] = at_most((uint64_t)est * 2, need_bps);
        p->rates[1] = at_most((uint64_t)est * 3, need_bps);
        p->ids[1] = 0;
        return cluster(p, 0);
    }
    return p->ids[1] == 0 ? cluster(p, 1) : none;
}
