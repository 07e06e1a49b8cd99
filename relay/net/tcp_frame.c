/* RFC 4571 deframing (see tcp_frame.h). */
#include "relay/net/tcp_frame.h"

#include <string.h>

#include "relay/base/check.h"

void prism_tcp_deframer_init(struct prism_tcp_deframer *d)
{
    d->start = 0;
    d->end = 0;
}

uint8_t *prism_tcp_deframer_space(struct prism_tcp_deframer *d, size_t *room)
{
    size_t pending = d->end - d->start;
    if (d->start > 0) {
        memmove(d->buf, d->buf + d->start, pending);
        d->start = 0;
        d->end = pending;
    }
    *room = sizeof(d->buf) - d->end;
    return d->buf + d->end;
}

void prism_tcp_deframer_commit(struct prism_tcp_deframer *d, size_t n)
{
    PRISM_CHECK(n <= sizeof(d->buf) - d->end);
    d->end += n;
}

enum prism_tcp_frame_result prism_tcp_deframer_next(struct prism_tcp_deframer *d, uint8_t **frame,
                                                    size_t *len)
{
    size_t pending = d->end - d->start;
    if (pending < 2)
        return PRISM_TCP_MORE;
    const uint8_t *p = d->buf + d->start;
    size_t n = (size_t)p[0] << 8 | p[1];
    if (n > PRISM_TCP_FRAME_MAX)
        return PRISM_TCP_TOO_LONG;
    if (n == 0) {
        d->start += 2;
        return PRISM_TCP_EMPTY;
    }
    if (pending - 2 < n)
        return PRISM_TCP_MORE;
    uint8_t *data = d->buf + d->start + 2;
    /* buf is aligned, so moving back to the boundary stays inside it and
     * over bytes already handed out (see tcp_frame.h, Alignment). */
    size_t off = (uintptr_t)data & (PRISM_TCP_FRAME_ALIGN - 1);
    if (off != 0) {
        memmove(data - off, data, n);
        data -= off;
    }
    *frame = data;
    *len = n;
    d->start += 2 + n;
    return PRISM_TCP_FRAME;
}
