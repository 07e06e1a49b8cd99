/* A histogram of delays with fixed bounds: how long the relay held a
 * datagram, from the kernel's receive timestamp to the moment its copies
 * were handed to sendmmsg (relay/net/media_socket.h).
 *
 * Owns nothing: a plain value, copied between threads in messages. The
 * bounds are those of a Prometheus histogram (`le`, in microseconds), fixed
 * so that snapshots taken at different times subtract bucket by bucket.
 * Adding is a few comparisons and no allocation: it runs per datagram.
 */
#ifndef PRISM_BASE_DELAY_HIST_H
#define PRISM_BASE_DELAY_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds of every bucket but the last (which has none), in µs. */
#define PRISM_DELAY_BOUNDS_US                                                                      \
    50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000
#define PRISM_DELAY_BUCKETS 15

extern const uint32_t prism_delay_le_us[PRISM_DELAY_BUCKETS - 1];

struct prism_delay_hist {
    uint64_t counts[PRISM_DELAY_BUCKETS]; /* per bucket, not cumulative */
    uint64_t sum_ns;                      /* of every delay added */
};

/* Adds `n` datagrams held `ns` nanoseconds each. */
static inline void prism_delay_hist_add(struct prism_delay_hist *h, uint64_t ns, uint64_t n)
{
    uint64_t us = ns / 1000;
    size_t b = 0;
    while (b < PRISM_DELAY_BUCKETS - 1 && us > prism_delay_le_us[b])
        b++;
    h->counts[b] += n;
    h->sum_ns += ns * n;
}

/* The datagrams counted in `h`. */
uint64_t prism_delay_hist_total(const struct prism_delay_hist *h);

/* `later` less `earlier`, bucket by bucket (both snapshots of one
 * monotonic histogram). */
void prism_delay_hist_diff(const struct prism_delay_hist *later,
                           const struct prism_delay_hist *earlier, struct prism_delay_hist *out);

/* The q-quantile (0 < q <= 1) in microseconds, interpolated linearly inside
 * its bucket as Prometheus's histogram_quantile does; the last bucket,
 * which has no upper bound, answers its lower one. 0 when empty. */
double prism_delay_hist_quantile_us(const struct prism_delay_hist *h, double q);

#endif
