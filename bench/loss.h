/* prism-bench run --loss: the simulated loss on a subscriber's downlink and
 * the freeze detector its video receivers feed.
 *
 * Owns two small pure mechanisms, each on the bench thread of the endpoint
 * that holds it:
 * - struct prism_bench_loss: which received RTP packets the endpoint throws
 *   away before processing them, PCT % of them, decided by a xorshift64*
 *   generator seeded from the run's seed and the endpoint's name, so a run
 *   drops the same packets of the same streams every time (the packets the
 *   relay sends can still differ between runs: PLIs, retransmissions and
 *   timing move the sequence).
 * - struct prism_bench_freeze: frozen frames as Chromium counts them for
 *   getStats (freezeCount, totalFreezesDuration): an interval between two
 *   rendered (decoded) frames is a freeze when it is at least
 *   max(3 x average, average + 150 ms), the average taken over the last 30
 *   intervals that were not freezes (a freeze does not raise the bar for
 *   the next); its duration is that whole interval. Nothing is judged
 *   before 5 intervals are known.
 *
 * No allocation, no I/O: O(1) per packet or frame.
 */
#ifndef PRISM_BENCH_LOSS_H
#define PRISM_BENCH_LOSS_H

#include <stdbool.h>
#include <stdint.h>

struct prism_bench_loss {
    uint64_t state;     /* xorshift64* state, never 0 */
    uint32_t threshold; /* a draw below it drops: pct / 100 * 2^32 */
};

/* Drops `pct` (0..100) % of packets; `seed` (the run's) and `name` (the
 * endpoint's "bubble/peer") make the sequence of decisions. */
void prism_bench_loss_init(struct prism_bench_loss *l, double pct, uint64_t seed, const char *name);

/* Whether the next received packet is dropped. */
bool prism_bench_loss_drop(struct prism_bench_loss *l);

#define PRISM_BENCH_FREEZE_WINDOW 30 /* intervals in the average */

struct prism_bench_freeze {
    uint64_t last_ns;                                /* previous rendered frame; 0: none */
    uint64_t interval_ns[PRISM_BENCH_FREEZE_WINDOW]; /* the last intervals, not freezes */
    uint64_t sum_ns;                                 /* of interval_ns[0..n) */
    unsigned n, next;                                /* filled entries; where the next goes */
    uint64_t freezes;                                /* freezeCount */
    uint64_t freeze_ns;                              /* totalFreezesDuration, ns */
};

/* A frame was rendered (decoded and shown) at `now_ns`. */
void prism_bench_freeze_frame(struct prism_bench_freeze *f, uint64_t now_ns);

#endif
