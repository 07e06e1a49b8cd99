/* prism-bench run --loss: the receive side of retransmission for one video
 * stream, as a browser's jitter buffer does it.
 *
 * Owns struct prism_bench_repair: the stream's gaps (relay/worker/feedback.h's
 * NACK generator, the one the relay uses toward publishers: each missing seq
 * asked for up to 3 times, 40 ms apart), the RFC 4588 retransmissions
 * unwrapped back into the stream, and a small hold buffer that hands the
 * receiver (bench/media.h, which decodes only what arrives in sequence)
 * every packet in order: a packet after a gap waits until the gap is filled
 * or PRISM_BENCH_REPAIR_HOLD_MS passed since it was seen, then the missing
 * seq is given up (the receiver sees the loss: frozen frames until a key
 * frame). Without NACK a gap is given up at once.
 *
 * It also counts what the simulated loss (bench/loss.h) did to the stream:
 * originals dropped, their retransmissions dropped, originals recovered (a
 * retransmission arrived before the seq was given up), and repairs that
 * came too late.
 *
 * Thread: the endpoint's. Memory: PRISM_BENCH_REPAIR_SLOTS packets per
 * stream (about 190 KiB), allocated once when the stream appears; the
 * per-packet path copies a packet into the hold buffer only while a gap is
 * open, and allocates nothing.
 */
#ifndef PRISM_BENCH_NACK_H
#define PRISM_BENCH_NACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/worker/feedback.h"

#define PRISM_BENCH_REPAIR_SLOTS 128   /* packets held behind a gap, at most */
#define PRISM_BENCH_REPAIR_PACKET 1500 /* bytes of one held packet, at most */
#define PRISM_BENCH_REPAIR_HOLD_MS                                                                 \
    250 /* wait for a missing seq: 3 NACKs 40 ms apart, a slow answer */
#define PRISM_BENCH_REPAIR_DROPS 256 /* dropped seqs remembered for the counts */

struct prism_bench_repair_slot {
    uint64_t ext_seq;
    uint16_t len; /* 0: empty */
    uint8_t data[PRISM_BENCH_REPAIR_PACKET];
};

struct prism_bench_repair {
    bool nack;         /* ask for retransmissions and wait for them */
    uint32_t ssrc;     /* the stream's, toward us */
    uint32_t rtx_ssrc; /* its retransmissions' (RFC 4588); 0: none negotiated */
    uint8_t apt;       /* the payload type a retransmission restores */
    struct prism_nack_gen gen;
    bool started;
    uint64_t next;    /* extended seq handed to the receiver next */
    uint64_t top;     /* highest extended seq received */
    uint64_t wait_ns; /* since when the missing `next` holds packets back; 0: not */
    uint64_t drops[PRISM_BENCH_REPAIR_DROPS]; /* extended seqs dropped, not recovered; ring */
    size_t drops_next;
    struct prism_bench_repair_slot slots[PRISM_BENCH_REPAIR_SLOTS];
    /* counts */
    uint64_t dropped;     /* originals the simulated loss dropped */
    uint64_t dropped_rtx; /* retransmissions it dropped */
    uint64_t recovered;   /* dropped originals a retransmission restored in time */
    uint64_t late;        /* dropped originals whose retransmission came after the give-up */
    uint64_t given_up;    /* seqs handed over as lost */
    uint64_t rtx_received, oversize;
};

/* Hands one packet, in sequence, to the receiver. */
typedef void (*prism_bench_repair_deliver_cb)(void *ud, const uint8_t *pkt, size_t len,
                                              uint64_t now_ns);

/* A repairer of stream `ssrc` with retransmissions on `rtx_ssrc` restoring
 * payload type `apt` (rtx_ssrc 0: retransmissions come on `ssrc`, as plain
 * copies). Returns 0 and sets *out, or PRISM_ENOMEM. */
int prism_bench_repair_new(bool nack, uint32_t ssrc, uint32_t rtx_ssrc, uint8_t apt,
                           struct prism_bench_repair **out);
void prism_bench_repair_free(struct prism_bench_repair *r);

/* Whether the stream has received anything (before that, its sequence
 * numbers are unknown: the simulated loss spares its first packet). */
bool prism_bench_repair_started(const struct prism_bench_repair *r);

/* The simulated loss dropped this packet (`pkt`, `len`: plain RTP of `ssrc`
 * or `rtx_ssrc`): counted, and remembered to tell a recovery later. */
void prism_bench_repair_dropped(struct prism_bench_repair *r, const uint8_t *pkt, size_t len);

/* A received packet of `ssrc` or `rtx_ssrc` (modified in place when it is a
 * retransmission): every packet now in sequence goes to `deliver`. */
void prism_bench_repair_packet(struct prism_bench_repair *r, uint8_t *pkt, size_t len,
                               uint64_t now_ns, prism_bench_repair_deliver_cb deliver, void *ud);

/* The seqs to NACK now into `out` (at most `cap`), ascending; 0 without
 * NACK. */
size_t prism_bench_repair_collect(struct prism_bench_repair *r, uint64_t now_ns, uint16_t *out,
                                  size_t cap);

#endif
