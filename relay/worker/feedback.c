/* Feedback policy (see feedback.h). */
#include "relay/worker/feedback.h"

#include <string.h>

#include "relay/base/error.h"

#define SPEAKER_MIN_LOUDNESS 40 /* average 127 - level: louder than -87 dBov */

bool prism_keyframe_gate_open(const struct prism_keyframe_gate *g, uint64_t now_ms)
{
    return g->last_ms == 0 || now_ms - g->last_ms >= PRISM_KEYFRAME_GAP_MS;
}

void prism_keyframe_gate_sent(struct prism_keyframe_gate *g, uint64_t now_ms)
{
    g->last_ms = now_ms != 0 ? now_ms : 1;
}

bool prism_keyframe_budget_take(struct prism_keyframe_budget *b, uint64_t now_ms)
{
    if (now_ms - b->window_ms >= PRISM_KEYFRAME_BUDGET_MS) {
        b->window_ms = now_ms;
        b->used = 0;
    }
    if (b->used >= PRISM_KEYFRAME_BUDGET_ITEMS) {
        b->dropped++;
        return false;
    }
    b->used++;
    return true;
}

int prism_feedback_build_report(uint8_t *buf, size_t cap, uint32_t rtcp_ssrc,
                                const struct prism_feedback_stream *streams, size_t n,
                                uint32_t max_kbps)
{
    if (n > 31)
        return PRISM_EINVAL;
    struct prism_rtcp_report_block blocks[31];
    uint32_t ssrcs[31];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (streams[i].ssrc == 0 || streams[i].stats->received == 0)
            continue;
        prism_rtcp_report_block_from_stats(&blocks[nb], streams[i].ssrc, streams[i].stats);
        ssrcs[nb++] = streams[i].ssrc;
    }
    int len = prism_rtcp_build_rr(buf, cap, rtcp_ssrc, nb > 0 ? blocks : NULL, nb);
    if (len <= 0 || max_kbps == 0 || nb == 0)
        return len;
    int remb = prism_rtcp_build_remb(buf + len, cap - (size_t)len, rtcp_ssrc,
                                     (uint64_t)max_kbps * 1000, ssrcs, nb);
    return remb > 0 ? len + remb : remb;
}

void prism_speaker_meter_note(struct prism_speaker_meter *m, bool has_level, bool voice,
                              uint8_t level_dbov)
{
    m->packets++;
    if (has_level && voice) {
        m->voiced++;
        m->loudness_sum += 127u - (level_dbov & 0x7f);
    }
}

void prism_speaker_pick_init(struct prism_speaker_pick *pick)
{
    pick->best = 0;
    pick->best_loudness = SPEAKER_MIN_LOUDNESS;
}

void prism_speaker_pick_offer(struct prism_speaker_pick *pick, uint64_t peer,
                              struct prism_speaker_meter *m)
{
    if (m->voiced > 0 && m->voiced * 2 > m->packets &&
        m->loudness_sum / m->voiced > pick->best_loudness) {
        pick->best_loudness = m->loudness_sum / m->voiced;
        pick->best = peer;
    }
    memset(m, 0, sizeof(*m));
}

void prism_speaker_recency_spoke(uint64_t *clock, struct prism_speaker_recency *who)
{
    who->spoke = ++*clock;
}

bool prism_speaker_recency_before(const struct prism_speaker_recency *a,
                                  const struct prism_speaker_recency *b)
{
    if (a->spoke != b->spoke)
        return a->spoke > b->spoke; /* 0 (never) loses to any who spoke */
    return a->joined < b->joined;
}

void prism_last_n_init(struct prism_last_n_select *s, struct prism_last_n_entry *storage,
                       uint32_t n)
{
    s->top = storage;
    s->n = n;
    s->count = 0;
}

/* Insertion into the sorted `top`: the entry that falls off the end (the
 * least recent of N + 1) is forgotten. */
void prism_last_n_offer(struct prism_last_n_select *s, uint64_t peer,
                        const struct prism_speaker_recency *rank)
{
    uint32_t at = s->count;
    while (at > 0 && prism_speaker_recency_before(rank, &s->top[at - 1].rank))
        at--;
    if (at >= s->n)
        return;
    uint32_t last = s->count < s->n ? s->count : s->n - 1;
    for (uint32_t i = last; i > at; i--)
        s->top[i] = s->top[i - 1];
    s->top[at] = (struct prism_last_n_entry){peer, *rank};
    if (s->count < s->n)
        s->count++;
}

bool prism_last_n_has(const struct prism_last_n_select *s, uint64_t peer)
{
    for (uint32_t i = 0; i < s->count; i++)
        if (s->top[i].peer == peer)
            return true;
    return false;
}
