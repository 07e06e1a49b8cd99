/* Delay histograms (see delay_hist.h). */
#include "relay/base/delay_hist.h"

const uint32_t prism_delay_le_us[PRISM_DELAY_BUCKETS - 1] = {PRISM_DELAY_BOUNDS_US};

uint64_t prism_delay_hist_total(const struct prism_delay_hist *h)
{
    uint64_t n = 0;
    for (size_t b = 0; b < PRISM_DELAY_BUCKETS; b++)
        n += h->counts[b];
    return n;
}

void prism_delay_hist_diff(const struct prism_delay_hist *later,
                           const struct prism_delay_hist *earlier, struct prism_delay_hist *out)
{
    for (size_t b = 0; b < PRISM_DELAY_BUCKETS; b++)
        out->counts[b] =
            later->counts[b] >= earlier->counts[b] ? later->counts[b] - earlier->counts[b] : 0;
    out->sum_ns = later->sum_ns >= earlier->sum_ns ? later->sum_ns - earlier->sum_ns : 0;
}

double prism_delay_hist_quantile_us(const struct prism_delay_hist *h, double q)
{
    uint64_t total = prism_delay_hist_total(h);
    if (total == 0 || q <= 0)
        return 0;
    double rank = q > 1 ? (double)total : q * (double)total;
    uint64_t below = 0;
    for (size_t b = 0; b < PRISM_DELAY_BUCKETS; b++) {
        if (h->counts[b] == 0 || (double)(below + h->counts[b]) < rank) {
            below += h->counts[b];
            continue;
        }
        double lo = b == 0 ? 0 : (double)prism_delay_le_us[b - 1];
        if (b == PRISM_DELAY_BUCKETS - 1)
            return lo;
        double hi = (double)prism_delay_le_us[b];
        return lo + (hi - lo) * (rank - (double)below) / (double)h->counts[b];
    }
    return (double)prism_delay_le_us[PRISM_DELAY_BUCKETS - 2];
}
