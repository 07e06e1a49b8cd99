/* prism-bench run --verify-sample: the sampling rule (see sample.h). */
#include "bench/sample.h"

void prism_bench_sampler_init(struct prism_bench_sampler *s, unsigned every)
{
    s->every = every > 0 ? every : 1;
    s->left = 0;
}

bool prism_bench_sampler_take(struct prism_bench_sampler *s)
{
    if (s->left > 0) {
        s->left--;
        return false;
    }
    s->left = s->every - 1;
    return true;
}

bool prism_bench_sample_subscriber(unsigned every, size_t index)
{
    return every <= 1 || index % every == 0;
}
