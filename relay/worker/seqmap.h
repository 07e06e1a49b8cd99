/* A counter rewritten across drops: what a consumer sends stays continuous
 * when it leaves packets (or whole pictures) out.
 *
 * A consumer that forwards only some of a stream's layers must not let the
 * subscriber take the packets it leaves out for loss (it would NACK them
 * and ask for key frames), nor the pictures it leaves out for missing ones.
 * A map turns an input counter (the RTP sequence number, 16 bits; the VP8
 * or VP9 picture id, 15 or 7 bits) into an output one: out = in + delta,
 * modulo its width, where the delta shrinks by one for each input value
 * dropped. It keeps the last PRISM_SEQMAP_CHANGES points where the delta
 * changed, so a packet that arrives late (reordered, or a retransmission
 * the relay asked for) gets the delta that held at its place, and a NACK
 * for an output value maps back to its input (unmap).
 *
 * Limits: a value dropped after a newer one was already forwarded (a
 * reordered packet of a dropped layer) leaves a hole the subscriber sees as
 * loss; a value older than the oldest change kept, once changes were
 * evicted, cannot be mapped (the caller drops it and counts it).
 *
 * Pure, O(PRISM_SEQMAP_CHANGES) per call at most, no allocation. One thread.
 */
#ifndef PRISM_WORKER_SEQMAP_H
#define PRISM_WORKER_SEQMAP_H

#include <stdbool.h>
#include <stdint.h>

#define PRISM_SEQMAP_CHANGES 16

struct prism_seqmap {
    uint8_t bits;     /* width of the counter: 16, 15 or 7 */
    bool started;     /* `highest` is set */
    uint16_t highest; /* the newest input seen, forwarded or dropped */
    uint16_t base;    /* the delta before the oldest change (or always, without changes) */
    bool evicted;     /* changes were forgotten: `base` holds from `floor` on only */
    uint16_t floor;   /* then the oldest input still known */
    uint8_t n;        /* changes held, oldest first */
    struct {
        uint16_t from;  /* the first input this delta applies to */
        uint16_t delta; /* out = in + delta from `from` on */
    } changes[PRISM_SEQMAP_CHANGES];
};

/* Starts `m` over for a `bits`-wide counter (16, 15 or 7) with one delta. */
void prism_seqmap_reset(struct prism_seqmap *m, uint8_t bits, uint16_t delta);

/* The delta that applies to the next new input. */
uint16_t prism_seqmap_delta(const struct prism_seqmap *m);

/* Input `in` goes out: its output into `*out`. Returns false when `in` is
 * older than what the map remembers (`*out` untouched). */
bool prism_seqmap_forward(struct prism_seqmap *m, uint16_t in, uint16_t *out);

/* The output of an input already seen (a retransmission), without
 * changing `m`. Returns false when `in` is older than what it remembers. */
bool prism_seqmap_map(const struct prism_seqmap *m, uint16_t in, uint16_t *out);

/* Input `in` is left out: the inputs after it go out one lower. A value not
 * newer than every one seen changes nothing (see the limits above). */
void prism_seqmap_drop(struct prism_seqmap *m, uint16_t in);

/* The input that went out as `out`, into `*in`. Returns false when the map
 * no longer knows it. */
bool prism_seqmap_unmap(const struct prism_seqmap *m, uint16_t out, uint16_t *in);

#endif
