/* prism-bench run --loss: simulated downlink loss and freezes (see loss.h).
 *
 * The generator is xorshift64* (Vigna, "An experimental exploration of
 * Marsaglia's xorshift generators", 2016): one multiply per draw, good
 * enough low-order statistics for a Bernoulli draw on its top 32 bits.
 */
#include "bench/loss.h"

void prism_bench_loss_init(struct prism_bench_loss *l, double pct, uint64_t seed, const char *name)
{
    /* FNV-1a over the name, mixed with the seed: each endpoint its own
     * sequence, the same one on every run with that seed. */
    uint64_t h = 0xcbf29ce484222325u ^ seed;
    for (const char *p = name; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3u;
    l->state = h != 0 ? h : 1;
    if (pct < 0)
        pct = 0;
    double t = pct / 100.0 * 4294967296.0;
    l->threshold = t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
}

bool prism_bench_loss_drop(struct prism_bench_loss *l)
{
    if (l->threshold == 0)
        return false;
    l->state ^= l->state >> 12;
    l->state ^= l->state << 25;
    l->state ^= l->state >> 27;
    uint32_t draw = (uint32_t)((l->state * 0x2545F4914F6CDD1Du) >> 32);
    return draw < l->threshold || l->threshold == UINT32_MAX;
}

#define MIN_INTERVALS 5
#define MIN_INCREASE_NS 150000000u

void prism_bench_freeze_frame(struct prism_bench_freeze *f, uint64_t now_ns)
{
    if (f->last_ns == 0 || now_ns < f->last_ns) {
        f->last_ns = now_ns;
        return;
    }
    uint64_t d = now_ns - f->last_ns;
    f->last_ns = now_ns;
    if (f->n >= MIN_INTERVALS) {
        uint64_t avg = f->sum_ns / f->n;
        uint64_t bar = 3 * avg > avg + MIN_INCREASE_NS ? 3 * avg : avg + MIN_INCREASE_NS;
        if (d >= bar) {
            f->freezes++;
            f->freeze_ns += d;
            return;
        }
    }
    if (f->n == PRISM_BENCH_FREEZE_WINDOW)
        f->sum_ns -= f->interval_ns[f->next];
    else
        f->n++;
    f->interval_ns[f->next] = d;
    f->sum_ns += d;
    f->next = (f->next + 1) % PRISM_BENCH_FREEZE_WINDOW;
}
