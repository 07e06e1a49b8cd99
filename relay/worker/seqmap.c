/* A counter rewritten across drops (see seqmap.h). */
#include "relay/worker/seqmap.h"

#include "relay/base/check.h"

static uint16_t mask(const struct prism_seqmap *m)
{
    return (uint16_t)((1u << m->bits) - 1);
}

/* a - b as a signed distance on the counter's circle. */
static int diff(const struct prism_seqmap *m, uint16_t a, uint16_t b)
{
    unsigned shift = 16u - m->bits;
    return (int16_t)(uint16_t)((uint16_t)(a - b) << shift) >> shift;
}

void prism_seqmap_reset(struct prism_seqmap *m, uint8_t bits, uint16_t delta)
{
    PRISM_CHECK(bits == 16 || bits == 15 || bits == 7);
    *m = (struct prism_seqmap){.bits = bits, .base = delta};
}

uint16_t prism_seqmap_delta(const struct prism_seqmap *m)
{
    return m->n > 0 ? m->changes[m->n - 1].delta : m->base;
}

/* The delta that held at `in`; false when it is older than what is known. */
static bool delta_at(const struct prism_seqmap *m, uint16_t in, uint16_t *delta)
{
    for (unsigned i = m->n; i-- > 0;)
        if (diff(m, in, m->changes[i].from) >= 0) {
            *delta = m->changes[i].delta;
            return true;
        }
    if (m->evicted && diff(m, in, m->floor) < 0)
        return false;
    *delta = m->base;
    return true;
}

bool prism_seqmap_map(const struct prism_seqmap *m, uint16_t in, uint16_t *out)
{
    uint16_t delta;
    if (!delta_at(m, in, &delta))
        return false;
    *out = (uint16_t)((in + delta) & mask(m));
    return true;
}

bool prism_seqmap_forward(struct prism_seqmap *m, uint16_t in, uint16_t *out)
{
    uint16_t delta;
    if (!delta_at(m, in, &delta))
        return false;
    if (!m->started || diff(m, in, m->highest) > 0)
        m->highest = in;
    m->started = true;
    *out = (uint16_t)((in + delta) & mask(m));
    return true;
}

void prism_seqmap_drop(struct prism_seqmap *m, uint16_t in)
{
    if (m->started && diff(m, in, m->highest) <= 0)
        return;
    m->highest = in;
    m->started = true;
    uint16_t next = (uint16_t)((in + 1u) & mask(m));
    uint16_t delta = (uint16_t)(prism_seqmap_delta(m) - 1u);
    if (m->n > 0 && m->changes[m->n - 1].from == in) {
        /* the previous input was dropped too, nothing went out since */
        m->changes[m->n - 1].from = next;
        m->changes[m->n - 1].delta = delta;
        return;
    }
    if (m->n == PRISM_SEQMAP_CHANGES) {
        m->base = m->changes[0].delta;
        m->floor = m->changes[0].from;
        m->evicted = true;
        for (unsigned i = 1; i < m->n; i++)
            m->changes[i - 1] = m->changes[i];
        m->n--;
    }
    m->changes[m->n].from = next;
    m->changes[m->n].delta = delta;
    m->n++;
}

bool prism_seqmap_unmap(const struct prism_seqmap *m, uint16_t out, uint16_t *in)
{
    for (unsigned i = m->n; i-- > 0;) {
        uint16_t cand = (uint16_t)((out - m->changes[i].delta) & mask(m));
        if (diff(m, cand, m->changes[i].from) >= 0) {
            *in = cand;
            return true;
        }
    }
    uint16_t cand = (uint16_t)((out - m->base) & mask(m));
    if (m->evicted && diff(m, cand, m->floor) < 0)
        return false;
    *in = cand;
    return true;
}
