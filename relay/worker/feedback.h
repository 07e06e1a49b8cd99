/* Feedback policy beside the router: keyframe request throttling, receiver
 * reports and REMB toward publishers, and the dominant-speaker choice.
 *
 * Pure decisions and packet builders over small state structs that the
 * worker keeps per track (relay/worker/room_internal.h); the worker sends
 * what these build. Transport-wide congestion feedback is built by
 * relay/wire/tcc.h. No I/O, no allocation; one thread (the worker's).
 *
 * RFCs: 3550 (RR), 4585 (PLI), 5104 (FIR), draft-alvestrand-rmcat-remb
 * (REMB), 6464 (audio levels).
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
 * passes). */
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

#endif
