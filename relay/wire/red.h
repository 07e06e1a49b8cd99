/* RTP payload for redundant audio data (RFC 2198): reading the block
 * headers of a RED payload, so the relay can forward it whole to a
 * subscriber that negotiated red/48000/2 and take out the primary block for
 * one that did not.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     |1|   block PT  |  timestamp offset         |   block length    |
 *     ... one such 4-byte header per redundant block, oldest first, then
 *     |0|   block PT  |   the primary's 1-byte header
 *     then the blocks' data in the same order; the primary's runs to the
 *     end of the payload and its timestamp is the RTP header's.
 *
 * Thread: any. Pure: no I/O, no allocation. Every read is bounded by `len`.
 */
#ifndef PRISM_WIRE_RED_H
#define PRISM_WIRE_RED_H

#include <stddef.h>
#include <stdint.h>

/* Blocks a payload may hold, primary included: libwebrtc's bound too. */
#define PRISM_RED_MAX_BLOCKS 32

struct prism_red_block {
    uint8_t pt;         /* the block's payload type, 7 bits */
    uint16_t ts_offset; /* 14 bits: the block's timestamp is the header's minus this;
                           0 for the primary */
    uint16_t offset;    /* bytes into the RED payload where its data starts */
    uint16_t len;       /* bytes of data */
};

/* Reads the RED payload `payload` of `len` bytes (the RTP payload, padding
 * excluded) into `blocks`, which has room for `cap` entries, and sets `*n`
 * to how many blocks it holds: the redundant ones in order, then the
 * primary at blocks[*n - 1]. Refused (PRISM_EINVAL, `blocks` and `*n`
 * unspecified): NULL arguments, a payload over 65535 bytes, headers
 * running past the end, redundant blocks longer than what follows the
 * headers, more than `cap` (or PRISM_RED_MAX_BLOCKS) blocks, and an empty
 * primary (RFC 6716: an Opus packet is at least one byte; none has
 * anything to play). O(blocks). */
int prism_red_parse(const uint8_t *payload, size_t len, struct prism_red_block *blocks, size_t cap,
                    size_t *n);

#endif
