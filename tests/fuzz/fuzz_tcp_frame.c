/* libFuzzer target for relay/net/tcp_frame (RFC 4571 deframing): the first
 * byte is the size of each read (0: everything in one read), the rest is
 * the TCP stream. Invariants checked against a plain walk of the stream's
 * lengths: the deframer hands out the same frames (length and bytes) in
 * the same order, reports each length 0 as EMPTY, stops with TOO_LONG at
 * the first length above PRISM_TCP_FRAME_MAX and never before, asks for
 * more only at the end of the stream, always has room for a read, and
 * hands frames out aligned. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/check.h"
#include "relay/net/tcp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] ? data[0] : size;
    const uint8_t *stream = data + 1;
    size_t len = size - 1;
    static struct prism_tcp_deframer d;
    prism_tcp_deframer_init(&d);

    size_t fed = 0, walk = 0; /* bytes given to the deframer; the reference's position */
    bool stopped = false;
    while (fed < len && !stopped) {
        size_t room;
        uint8_t *space = prism_tcp_deframer_space(&d, &room);
        PRISM_CHECK(room > 0);
        size_t n = len - fed < step ? len - fed : step;
        n = n < room ? n : room;
        memcpy(space, stream + fed, n);
        prism_tcp_deframer_commit(&d, n);
        fed += n;
        for (;;) {
            uint8_t *frame = NULL;
            size_t flen = 0;
            enum prism_tcp_frame_result r = prism_tcp_deframer_next(&d, &frame, &flen);
            /* The reference: what the next frame of the stream is. */
            bool have_len = fed - walk >= 2;
            size_t want = have_len ? (size_t)stream[walk] << 8 | stream[walk + 1] : 0;
            if (r == PRISM_TCP_MORE) {
                PRISM_CHECK(!have_len ||
                            (want <= PRISM_TCP_FRAME_MAX && want > 0 && fed - walk - 2 < want));
                break;
            }
            PRISM_CHECK(have_len);
            if (r == PRISM_TCP_TOO_LONG) {
                PRISM_CHECK(want > PRISM_TCP_FRAME_MAX);
                stopped = true;
                break;
            }
            if (r == PRISM_TCP_EMPTY) {
                PRISM_CHECK(want == 0);
                walk += 2;
                continue;
            }
            PRISM_CHECK(r == PRISM_TCP_FRAME && flen == want && want > 0 && fed - walk - 2 >= want);
            PRISM_CHECK(memcmp(frame, stream + walk + 2, flen) == 0);
            PRISM_CHECK(((uintptr_t)frame & (PRISM_TCP_FRAME_ALIGN - 1)) == 0);
            walk += 2 + want;
            frame[0] ^= 0xFF; /* frames may be modified in place */
        }
    }
    return 0;
}
