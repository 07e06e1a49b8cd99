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
