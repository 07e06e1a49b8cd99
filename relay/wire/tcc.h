/* Transport-wide congestion control feedback from the relay to a publisher
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01).
 *
 * Owns: per publish transport, the record of which transport-wide sequence
 * numbers arrived and when (struct prism_tcc), and the writer of RTCP
 * transport-cc feedback (RTPFB FMT 15) that reports them. The publisher's
 * send-side bandwidth estimator (Chromium's GoogCC) reads these reports; with
 * transport-cc negotiated it grows its estimate from them and from nothing
 * else, so without them a publisher stays at its start rate.
 *
 * Thread: any. Pure: no I/O, no clock (arrival times are given, so tests use
 * a fake clock), no allocation (the history is a fixed array inside the
 * caller-owned struct), no locks. A struct prism_tcc belongs to the worker
 * that owns the transport.
 *
 * Workload: prism_tcc_record() per received RTP packet, O(1) (O(gap) slots
 * cleared when the sequence jumps ahead, bounded by PRISM_TCC_HISTORY);
 * prism_tcc_build() every ~50 ms, O(packets reported), at most
 * PRISM_TCC_MAX_STATUS_PER_BUILD per call.
 *
 * Invariants: sequence numbers are unwrapped to `ext_seq` (64-bit); the
 * history holds exactly the ext_seqs [begin, max] (older slots are reused);
 * max was received; next (the first ext_seq not yet reported) lies in
 * [begin, max + 1]. A packet already recorded keeps its first arrival time
 * (duplicates ignored). A late packet (below next, still in the history and
 * less than PRISM_TCC_MAX_STATUS_PER_BUILD behind max) moves next back to
 * itself, so the next feedback reports it received (as libwebrtc's own
 * receiver does). A sequence number PRISM_TCC_HISTORY or more away from max
 * in either direction (a sender that restarted its counter) restarts the
 * record there; what was not yet reported is dropped.
 *
 * Wire format written (draft -01 §3.1): header, sender and media SSRC, base
 * sequence number, packet status count, 24-bit reference time in 64 ms units
 * (wrapping), feedback packet count (wrapping), then packet chunks
 * (run-length: up to 8191 equal symbols; status vector: 14 one-bit or 7
 * two-bit symbols, chosen greedily as libwebrtc does), then a receive delta
 * per received packet in 250 µs ticks (1 byte unsigned when 0..255 "small",
 * else 2 bytes signed "large"), zero padding to 32 bits (no P bit, so
 * several feedback packets can be concatenated into one compound). Deltas
 * are taken between tick counts (arrival_us / 250, floored), so rounding
 * never accumulates. The first received packet's delta is from the reference
 * time (arrival floored to 64 ms), so it is always small.
 */
#ifndef PRISM_RELAY_TCC_H
#define PRISM_RELAY_TCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_TCC_HISTORY 4096              /* packets remembered per transport (power of 2) */
#define PRISM_TCC_MAX_STATUS_PER_BUILD 1000 /* packet statuses one prism_tcc_build() reports */
#define PRISM_TCC_MAX_STATUS 65535          /* statuses one feedback packet can carry */
#define PRISM_TCC_FIXED_BYTES 20            /* header, SSRCs, base, count, ref time, fb count */
#define PRISM_TCC_MIN_BYTES 24              /* smallest feedback: one chunk, one delta, padded */
#define PRISM_TCC_DELTA_US 250              /* receive delta tick */
#define PRISM_TCC_REF_US 64000              /* reference time unit */
#define PRISM_TCC_NOT_RECEIVED (-1)         /* arrival time of a packet not (yet) received */

/* What one publish transport received. Fields are private to tcc.c; the
 * struct is public so that it can live inside its owner without allocation
 * (32 KiB of history). */
struct prism_tcc {
    int64_t arrival_us[PRISM_TCC_HISTORY]; /* by ext_seq % HISTORY; PRISM_TCC_NOT_RECEIVED */
    bool started;                          /* a first packet was recorded */
    int64_t begin;                         /* oldest ext_seq in the history */
    int64_t max;                           /* highest ext_seq recorded (received) */
    int64_t next;                          /* first ext_seq not yet reported */
    uint8_t fb_count;                      /* feedback packet count of the next packet */
    uint64_t restarts;                     /* times a far sequence number restarted the record */
};

/* Reset `r` to an empty record (no allocation; call again to reuse it for a
 * new transport). */
void prism_tcc_init(struct prism_tcc *r);

/* Record that the packet with transport-wide sequence number `seq` arrived
 * at `arrival_us` (any monotonic clock in µs, >= 0; a bug otherwise).
 * Duplicates keep their first time; see the header for late and far
 * sequence numbers. O(1), or O(jump) slots cleared when max moves ahead. */
void prism_tcc_record(struct prism_tcc *r, uint16_t seq, int64_t arrival_us);

/* Whether recorded packets wait to be reported. */
bool prism_tcc_pending(const struct prism_tcc *r);

/* Write feedback for the packets recorded since the last call, as one or
 * more complete transport-cc packets from `sender_ssrc` about `media_ssrc`,
 * concatenated at `buf` (a valid RFC 5506 reduced-size compound), never more
 * than `cap` bytes. Reports at most PRISM_TCC_MAX_STATUS_PER_BUILD statuses,
 * each packet starting at the first unreported status (so losses are
 * reported) and ending on a received one, except that a run of that many
 * lost packets or more is skipped, not reported; what does not fit is left for the
 * next call (so a caller that sends one datagram per call passes its MTU
 * budget and calls again while this returns > 0). Each packet written
 * advances the feedback packet count.
 * Returns the bytes written (a multiple of 4), 0 when nothing is pending,
 * PRISM_ENOMEM when something is pending but not one packet fits in `cap`
 * (PRISM_TCC_MIN_BYTES is the least that can; 64 bytes always hold one),
 * PRISM_EINVAL for NULL arguments. O(reported). */
int prism_tcc_build(struct prism_tcc *r, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf,
                    size_t cap);

/* The writer under prism_tcc_build(), public for tests: one feedback packet
 * for the statuses `arrival_us[(start + i) & mask]`, i < n (mask: the ring
 * size - 1, or SIZE_MAX for a plain array), the first being `base_seq`, each
 * an arrival time in µs (>= 0) or PRISM_TCC_NOT_RECEIVED. It reports the
 * longest prefix that ends on a received packet, fits in `cap` bytes, holds
 * at most PRISM_TCC_MAX_STATUS statuses and whose deltas fit in 16 bits;
 * `*n_reported` receives its length.
 * Returns the bytes written (a multiple of 4), 0 when the n statuses hold no
 * received packet (nothing written), PRISM_ENOMEM when not even the first
 * received packet fits, PRISM_EINVAL for NULL arguments. O(n reported). */
int prism_tcc_write(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    uint16_t base_seq, uint8_t fb_count, const int64_t *arrival_us, size_t mask,
                    size_t start, size_t n, size_t *n_reported);

/* --- the reader: a subscriber's feedback about what the relay sent it --- */

/* One packet's fate in a transport-cc feedback. */
struct prism_tcc_status {
    uint16_t seq;       /* transport-wide sequence number */
    bool received;      /* false: reported lost (not received yet) */
    int64_t arrival_us; /* when received: reference time + deltas, µs on the
                           receiver's clock (any origin; only differences mean
                           something, also across feedback packets) */
};

/* Reads the statuses of a transport-cc feedback whose FCI (from the base
 * sequence number on, RTCP item body) is `fci`, `len` bytes, into `out`: the
 * first min(packet status count, `cap`) of them, in sequence order.
 * Returns how many were written, or PRISM_EINVAL (NULL arguments, a
 * truncated FCI: chunks or deltas missing, or a reserved status symbol).
 * Pure, bounded by `len`: O(len + cap). */
int prism_tcc_parse(const uint8_t *fci, size_t len, struct prism_tcc_status *out, size_t cap);

#endif
