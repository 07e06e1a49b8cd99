/* prism-bench run --verify-sample N: which received packets the bench
 * authenticates, decrypts and decodes.
 *
 * A bench that unprotects and decodes every packet it receives runs out of
 * CPU long before the relay does (docs/performance.md, "--ramp"). What the
 * ramp judges, loss and one-way delay, needs only the RTP header, which
 * SRTP leaves in the clear with its header extensions (abs-send-time: no
 * RFC 6904 header encryption is negotiated). So with N > 1:
 * - one subscriber in N (prism_bench_sample_subscriber) checks everything
 *   it receives as before: every packet authenticated, decrypted, decoded
 *   (up to --decode-video), PLIs on loss, join time;
 * - the others read every packet's header in the clear
 *   (prism_bench_rx_header) and authenticate one packet in N per stream
 *   (struct prism_bench_sampler), so every transport's keys and the relay's
 *   protection are still checked. libsrtp's replay window and rollover
 *   guess follow the highest authenticated index and accept any later one,
 *   so the gaps between samples (N - 1 packets, far below 2^15) cost
 *   nothing.
 * N = 1 (the default) is the bench as it always was.
 *
 * Thread: the owner's (a sampler belongs to one receiver). Pure: no I/O.
 */
#ifndef PRISM_BENCH_SAMPLE_H
#define PRISM_BENCH_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>

/* --verify-sample's range. */
#define PRISM_BENCH_VERIFY_SAMPLE_MAX 1000

/* One in `every` packets of a stream. */
struct prism_bench_sampler {
    unsigned every; /* 1: every packet */
    unsigned left;  /* packets to skip before the next sample */
};

/* Samples one packet in `every` (0 counts as 1), the first one included. */
void prism_bench_sampler_init(struct prism_bench_sampler *s, unsigned every);

/* Whether the packet at hand is a sample. O(1). */
bool prism_bench_sampler_take(struct prism_bench_sampler *s);

/* Whether the subscriber at `index` (0-based, in join order) verifies
 * everything it receives under --verify-sample `every`: one in `every`,
 * index 0 included, so any run has at least one. */
bool prism_bench_sample_subscriber(unsigned every, size_t index);

#endif
