/* prism-bench --limit: the machine's bare forwarding limit.
 *
 * A forwarding loop with nothing but the unavoidable work, to put the relay's
 * CPU per forwarded packet in proportion: recvmmsg (one loopback UDP socket)
 * -> SRTP unprotect -> for each of K outputs: copy + SRTP protect -> one
 * sendmmsg per output socket, on one pinned core, with the same libsrtp build
 * (crypto/srtp.h), SRTP profile, packet size and fan-out as the scenario. A
 * feeder thread on another core (when there is one) protects fresh packets
 * and sends them as fast as the loop takes them, and drains the output
 * sockets like the bench's receivers do, so the kernel's delivery work lands
 * where it does for the relay. CPU is the loop thread's own
 * (CLOCK_THREAD_CPUTIME_ID: user + system, softirq run in its context).
 */
#ifndef PRISM_BENCH_LIMIT_H
#define PRISM_BENCH_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/srtp.h"

struct prism_bench_limit_result {
    double cpu_us_per_packet; /* loop CPU per forwarded (sent) packet */
    double packets_per_s;     /* forwarded packets per second of wall time */
    double packets_per_cpu_s; /* forwarded per second of loop CPU */
    uint64_t forwarded;       /* packets sent during the measurement */
    uint64_t received;        /* packets received and unprotected */
    double seconds;           /* measured wall time */
};

/* Runs the loop for `seconds` (after 0.3 s of warm-up) with plain RTP
 * packets of `packet_bytes` (12..1400), fan-out `fanout` (1..64) and
 * `profile`; pins the loop to `cpu_loop` and the feeder to `cpu_feed`
 * (-1: unpinned). Blocking. Returns 0 or a negative PRISM_E code / errno. */
int prism_bench_limit_run(size_t packet_bytes, unsigned fanout, enum prism_srtp_profile profile,
                          double seconds, int cpu_loop, int cpu_feed,
                          struct prism_bench_limit_result *out);

#endif
