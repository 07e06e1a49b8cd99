/* Feedback policy beside the router: keyframe request throttling, receiver
 * reports and REMB toward publishers, the NACKs the relay sends a publisher
 * for its own gaps and the unwrapping of the publisher's retransmissions,
 * the dominant-speaker choice, and the recency ranking of speakers behind a
 * bubble's last-N.
 *
 * Pure decisions and packet builders over small state structs that the
 * worker keeps per track (relay/worker/room_internal.h); the worker sends
 * what these build. Transport-wide congestion feedback is built by
 * relay/wire/tcc.h. No I/O, no allocation; one thread (the worker's).
 *
 * RFCs: 3550 (RR), 4585 (PLI, generic NACK), 4588 (RTX), 5104 (FIR),
 * draft-alvestrand-rmcat-remb (REMB), 6464 (audio levels).
 */
#ifndef PRISM_WORKER_FEEDBACK_H
#define PRISM_WORKER_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/wire/rtcp.h"
#include "relay/wire/rtp.h"

/* At most one keyframe request per stream per this many ms reaches a
 * publisher, however many subscribers ask (PLI floods stay with us). */
#define PRISM_KEYFRAME_GAP_MS 300

struct prism_keyframe_gate {
    uint64_t last_ms; /* when the last request went out; 0: never */
};

/* Whether a request may go out at `now_ms` (the caller then sends it and
 * calls prism_keyframe_gate_sent). */
bool prism_keyframe_gate_open(const struct prism_keyframe_gate *g, uint64_t now_ms);
void prism_keyframe_gate_sent(struct prism_keyframe_gate *g, uint64_t now_ms);

/* One subscriber's keyframe requests (PLI items and FIR entries) looked up
 * per window: one for each of the PRISM_MEDIA_MAX_ROUTES (64) streams it can
 * receive per PRISM_KEYFRAME_BUDGET_MS. A compound RTCP packet of hundreds of
 * items costs a lookup each only up to the budget; the rest are counted and
 * dropped before any lookup (the per-track gate above still applies to what
 * passes). The worker keeps one such budget per kind of subscriber RTCP
 * (keyframe requests, NACK entries, transport-cc/REMB), so that one kind
 * never refuses another. */
#define PRISM_KEYFRAME_BUDGET_ITEMS 64
#define PRISM_KEYFRAME_BUDGET_MS 100

struct prism_keyframe_budget {
    uint64_t window_ms; /* start of the current window */
    uint32_t used;      /* items taken in it */
    uint64_t dropped;   /* items refused, ever */
};

/* Takes one item at `now_ms` (the loop's clock, never going back): true if
 * the caller may look it up, false when this window's budget is spent (then
 * counted in `dropped`). O(1). */
bool prism_keyframe_budget_take(struct prism_keyframe_budget *b, uint64_t now_ms);

/* One received stream of a publisher, for its receiver report. */
struct prism_feedback_stream {
    uint32_t ssrc;
    struct prism_rtp_seq_stats *stats; /* updated: the report starts a new loss interval */
};

/* Largest report prism_feedback_build_report() writes for `n` streams. */
#define PRISM_FEEDBACK_REPORT_MAX(n)                                                               \
    (PRISM_RTCP_HEADER_BYTES * 2 + PRISM_RTCP_REPORT_BLOCK_BYTES * (n) + 24 + 4 * (n))

/* A compound RTCP packet for one publisher: a receiver report from
 * `rtcp_ssrc` with a block per stream that received something (`n` <= 31),
 * and, when `max_kbps` is not 0 and some stream had a block, a REMB capping
 * those streams at `max_kbps`. Returns the bytes written, or a negative
 * PRISM_E* (`cap` too small: use PRISM_FEEDBACK_REPORT_MAX). */
int prism_feedback_build_report(uint8_t *buf, size_t cap, uint32_t rtcp_ssrc,
                                const struct prism_feedback_stream *streams, size_t n,
                                uint32_t max_kbps);

/* The relay's own gaps in a publisher's video stream (the uplink leg of
 * retransmission): which sequence numbers arrived among the last
 * PRISM_NACK_WINDOW, which of the missing ones are still awaited, and when
 * each was last asked for. Fed every packet of the track (originals and
 * unwrapped retransmissions) in arrival order; on the feedback tick,
 * prism_nack_gen_collect() names the seqs to NACK now. Each missing seq is
 * asked for at most PRISM_NACK_MAX_TRIES times, PRISM_NACK_RETRY_MS apart,
 * and forgotten PRISM_NACK_MAX_AGE_MS after the gap was seen (the
 * subscribers' decoders have moved on by then); at most
 * PRISM_NACK_MAX_MISSING are awaited at once, the oldest giving way. Fixed
 * size, no allocation; O(1) per in-order packet, O(gap) per gap and
 * O(PRISM_NACK_MAX_MISSING) per late packet or collection. */
#define PRISM_NACK_WINDOW 1024     /* seqs whose arrival is remembered (power of 2) */
#define PRISM_NACK_MAX_MISSING 128 /* awaited seqs per stream */
#define PRISM_NACK_MAX_TRIES 3
#define PRISM_NACK_RETRY_MS 40 /* between two NACKs of one seq: above a loopback or LAN RTT */
#define PRISM_NACK_MAX_AGE_MS 1000

struct prism_nack_miss {
    uint64_t seq;      /* extended */
    uint64_t seen_ms;  /* when the gap was seen */
    uint64_t asked_ms; /* when last NACKed */
    uint8_t tries;     /* NACKs sent for it */
};

struct prism_nack_gen {
    bool started;
    uint64_t highest;                          /* highest extended seq received */
    uint64_t received[PRISM_NACK_WINDOW / 64]; /* bit seq % WINDOW, for highest-WINDOW+1.. */
    struct prism_nack_miss miss[PRISM_NACK_MAX_MISSING]; /* awaited, ascending seq */
    size_t n_miss;
};

/* What one packet was to the stream (prism_nack_gen_note). */
enum prism_nack_verdict {
    PRISM_NACK_FRESH = 0, /* first packet, a new highest seq, or a restart */
    PRISM_NACK_FILLED,    /* a missing seq still awaited: now received */
    PRISM_NACK_LATE,      /* missing, no longer awaited (given up or pushed out) */
    PRISM_NACK_DUPLICATE, /* received already: forward it no more */
    PRISM_NACK_TOO_OLD,   /* a retransmission older than the window, or ahead of the
                             stream: unknown */
};

void prism_nack_gen_init(struct prism_nack_gen *g);

/* Records the arrival of `seq` at `now_ms`. `repair` is true for a
 * retransmission: it never moves the stream (a repair ahead of it, or
 * far behind, is TOO_OLD), while an original far behind restarts it (a new sender
 * state, as RFC 3550 A.1 resyncs). A jump ahead of PRISM_NACK_WINDOW or
 * more restarts the stream too (no NACK storm for a sequence jump). */
enum prism_nack_verdict prism_nack_gen_note(struct prism_nack_gen *g, uint16_t seq, bool repair,
                                            uint64_t now_ms);

/* The seqs to NACK at `now_ms`, ascending (modulo 2^16) into `out` (at most
 * `cap`): each awaited seq never asked for, or asked for PRISM_NACK_RETRY_MS
 * ago or more, whose tries are left; each counts a try. Seqs out of tries
 * or older than PRISM_NACK_MAX_AGE_MS are forgotten first. Returns how many
 * were written. */
size_t prism_nack_gen_collect(struct prism_nack_gen *g, uint64_t now_ms, uint16_t *out, size_t cap);

/* A publisher's retransmission (RFC 4588 §4) restored, in place, to the
 * original packet: `pkt` (`*len` bytes, parsed into `h`) carries the
 * original seq (OSN) in the first two payload bytes; they are removed by
 * moving the header up two bytes, and the seq, payload type `apt` and SSRC
 * `media_ssrc` are written back. On success `*out` is the start of the
 * restored packet (pkt + 2), `*len` its length, and `*osn` its seq.
 * Returns 0, or PRISM_EINVAL when there is no media to restore: a padding
 * probe (no payload beyond padding) or just an OSN; the caller consumes it.
 * A header_len of 0 (unparsed) is refused too. */
int prism_rtx_unwrap(uint8_t *pkt, size_t *len, const struct prism_rtp_header *h, uint8_t apt,
                     uint32_t media_ssrc, uint8_t **out, uint16_t *osn);

/* Audio levels of one track over the current second. */
struct prism_speaker_meter {
    uint32_t loudness_sum; /* sum of 127 - level (-dBov) over voiced packets */
    uint32_t voiced;       /* voiced packets */
    uint32_t packets;      /* packets */
};

/* Counts one audio packet; `has_level` false when it carried no RFC 6464
 * level (it still counts as unvoiced). */
void prism_speaker_meter_note(struct prism_speaker_meter *m, bool has_level, bool voice,
                              uint8_t level_dbov);

/* The choice of a second: offer every track's meter (which resets it), then
 * read `best` (0: nobody qualified, the current speaker stays). A publisher
 * qualifies when voiced in most of its packets and louder on average than
 * -87 dBov; the loudest wins. */
struct prism_speaker_pick {
    uint64_t best;          /* peer handle, 0 for none */
    uint32_t best_loudness; /* average 127 - level of `best` */
};

void prism_speaker_pick_init(struct prism_speaker_pick *pick);
void prism_speaker_pick_offer(struct prism_speaker_pick *pick, uint64_t peer,
                              struct prism_speaker_meter *m);

/* --- last-N: the most recent speakers -------------------------------------------
 *
 * A bubble with last_n N forwards video only from N publishers: the N that
 * were the dominant speaker (the one-second pick above) most recently.
 * Hysteresis comes from the pick: a publisher enters the N only by being
 * the dominant speaker for a second, which pushes out the least recent of
 * the N; silence (no pick) changes nothing, so the set does not flap while
 * nobody speaks. Publishers that never spoke rank after those who did, in
 * join order, so a new bubble shows its first N video publishers. */

/* One publisher's place in the ranking. */
struct prism_speaker_recency {
    uint64_t spoke;  /* the ranking clock at its last second as dominant speaker; 0: never */
    uint64_t joined; /* join order: smaller joined earlier (peer handles grow with joins) */
};

/* Records that `who` is the dominant speaker this second: it becomes the
 * most recent. `clock` is the bubble's ranking clock (starts at 0). */
void prism_speaker_recency_spoke(uint64_t *clock, struct prism_speaker_recency *who);

/* Whether `a` ranks before `b`: spoke more recently, or neither spoke and
 * `a` joined first; one who spoke ranks before one who never did. */
bool prism_speaker_recency_before(const struct prism_speaker_recency *a,
                                  const struct prism_speaker_recency *b);

/* Choosing the top N: offer every candidate, then ask who is in. The
 * caller gives storage for N entries; no allocation. O(N) per offer. */
struct prism_last_n_entry {
    uint64_t peer;
    struct prism_speaker_recency rank;
};

struct prism_last_n_select {
    struct prism_last_n_entry *top; /* caller's storage, `n` slots, best first */
    uint32_t n;                     /* how many to keep */
    uint32_t count;                 /* kept so far, <= n */
};

void prism_last_n_init(struct prism_last_n_select *s, struct prism_last_n_entry *storage,
                       uint32_t n);
void prism_last_n_offer(struct prism_last_n_select *s, uint64_t peer,
                        const struct prism_speaker_recency *rank);
/* Whether `peer` is among the kept. O(N). */
bool prism_last_n_has(const struct prism_last_n_select *s, uint64_t peer);

#endif
