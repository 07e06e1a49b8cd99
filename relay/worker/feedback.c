/* Feedback policy (see feedback.h). */
#include "relay/worker/feedback.h"

#include <string.h>

#include "relay/base/bytes.h"
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

/* --- the relay's NACKs toward a publisher ------------------------------------ */

/* Extended seqs start here, so that highest - PRISM_NACK_WINDOW never wraps. */
#define NACK_EXT_BASE (UINT64_C(1) << 32)

static bool nack_bit(const struct prism_nack_gen *g, uint64_t seq)
{
    size_t i = (size_t)(seq & (PRISM_NACK_WINDOW - 1));
    return (g->received[i / 64] >> (i % 64)) & 1u;
}

static void nack_bit_set(struct prism_nack_gen *g, uint64_t seq, bool on)
{
    size_t i = (size_t)(seq & (PRISM_NACK_WINDOW - 1));
    uint64_t bit = UINT64_C(1) << (i % 64);
    g->received[i / 64] = on ? g->received[i / 64] | bit : g->received[i / 64] & ~bit;
}

/* `seq` starts the stream (again): the first packet, or one a window or more
 * away from `highest`. A repair never does (the relay asks only for seqs
 * within the window behind `highest`): it answers an older question, and is
 * left out. */
static enum prism_nack_verdict nack_start(struct prism_nack_gen *g, uint16_t seq, bool repair)
{
    if (repair)
        return PRISM_NACK_TOO_OLD;
    prism_nack_gen_init(g);
    g->started = true;
    g->highest = NACK_EXT_BASE + seq;
    nack_bit_set(g, g->highest, true);
    return PRISM_NACK_FRESH;
}

/* Seqs highest+1 .. ext-1 went missing at `now_ms`: the newest
 * PRISM_NACK_MAX_MISSING of them are awaited, the oldest awaited ones giving
 * way when the list is full. */
static void nack_gap(struct prism_nack_gen *g, uint64_t ext, uint64_t now_ms)
{
    for (uint64_t s = g->highest + 1; s < ext; s++)
        nack_bit_set(g, s, false);
    uint64_t first = g->highest + 1;
    if (ext - first > PRISM_NACK_MAX_MISSING)
        first = ext - PRISM_NACK_MAX_MISSING;
    size_t count = (size_t)(ext - first);
    if (g->n_miss + count > PRISM_NACK_MAX_MISSING) {
        size_t drop = g->n_miss + count - PRISM_NACK_MAX_MISSING;
        memmove(g->miss, g->miss + drop, (g->n_miss - drop) * sizeof(g->miss[0]));
        g->n_miss -= drop;
    }
    for (uint64_t s = first; s < ext; s++)
        g->miss[g->n_miss++] = (struct prism_nack_miss){.seq = s, .seen_ms = now_ms};
}

static bool nack_unmiss(struct prism_nack_gen *g, uint64_t ext)
{
    for (size_t i = 0; i < g->n_miss; i++) {
        if (g->miss[i].seq != ext)
            continue;
        memmove(g->miss + i, g->miss + i + 1, (g->n_miss - i - 1) * sizeof(g->miss[0]));
        g->n_miss--;
        return true;
    }
    return false;
}

void prism_nack_gen_init(struct prism_nack_gen *g)
{
    memset(g, 0, sizeof(*g));
}

enum prism_nack_verdict prism_nack_gen_note(struct prism_nack_gen *g, uint16_t seq, bool repair,
                                            uint64_t now_ms)
{
    if (!g->started)
        return nack_start(g, seq, repair);
    int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)g->highest);
    uint64_t ext = (uint64_t)((int64_t)g->highest + delta);
    if (delta > 0) {
        /* Ahead of the stream: never one the relay asked for (it asks only
         * below `highest`), e.g. another stream's seq in a restored rtx. */
        if (repair)
            return PRISM_NACK_TOO_OLD;
        if (delta >= PRISM_NACK_WINDOW)
            return nack_start(g, seq, false);
        nack_gap(g, ext, now_ms);
        g->highest = ext;
        nack_bit_set(g, ext, true);
        return PRISM_NACK_FRESH;
    }
    if (-delta >= PRISM_NACK_WINDOW)
        return nack_start(g, seq, repair);
    if (nack_bit(g, ext))
        return PRISM_NACK_DUPLICATE;
    nack_bit_set(g, ext, true);
    return nack_unmiss(g, ext) ? PRISM_NACK_FILLED : PRISM_NACK_LATE;
}

size_t prism_nack_gen_collect(struct prism_nack_gen *g, uint64_t now_ms, uint16_t *out, size_t cap)
{
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < g->n_miss; i++) {
        struct prism_nack_miss *m = &g->miss[i];
        if (m->tries >= PRISM_NACK_MAX_TRIES || now_ms - m->seen_ms > PRISM_NACK_MAX_AGE_MS)
            continue; /* forgotten */
        if (n < cap && (m->tries == 0 || now_ms - m->asked_ms >= PRISM_NACK_RETRY_MS)) {
            out[n++] = (uint16_t)m->seq;
            m->tries++;
            m->asked_ms = now_ms;
        }
        g->miss[kept++] = *m;
    }
    g->n_miss = kept;
    return n;
}

int prism_rtx_unwrap(uint8_t *pkt, size_t *len, const struct prism_rtp_header *h, uint8_t apt,
                     uint32_t media_ssrc, uint8_t **out, uint16_t *osn)
{
    if (pkt == NULL || len == NULL || h == NULL || out == NULL || osn == NULL ||
        h->header_len < PRISM_RTP_HEADER_MIN || h->payload_len <= 2 ||
        h->header_len + h->payload_len + h->padding_len != *len)
        return PRISM_EINVAL;
    *osn = prism_load_be16(pkt + h->header_len);
    memmove(pkt + 2, pkt, h->header_len);
    *out = pkt + 2;
    *len -= 2;
    prism_rtp_set_seq(*out, *osn);
    prism_rtp_set_payload_type(*out, apt);
    prism_rtp_set_ssrc(*out, media_ssrc);
    return 0;
}
