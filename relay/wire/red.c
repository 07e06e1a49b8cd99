/* RFC 2198 redundant audio (see red.h). */
#include "relay/wire/red.h"

#include "relay/base/bytes.h"
#include "relay/base/error.h"

int prism_red_parse(const uint8_t *payload, size_t len, struct prism_red_block *blocks, size_t cap,
                    size_t *n)
{
    if (payload == NULL || blocks == NULL || n == NULL || len > UINT16_MAX)
        return PRISM_EINVAL;
    if (cap > PRISM_RED_MAX_BLOCKS)
        cap = PRISM_RED_MAX_BLOCKS;
    size_t count = 0, at = 0, data = 0; /* `data`: bytes of redundant data announced */
    for (;;) {
        if (at >= len || count >= cap)
            return PRISM_EINVAL;
        struct prism_red_block *b = &blocks[count++];
        b->pt = payload[at] & 0x7f;
        if ((payload[at] & 0x80) == 0) { /* F = 0: the primary's header, the last */
            at++;
            break;
        }
        if (len - at < 4)
            return PRISM_EINVAL;
        uint32_t word = prism_load_be32(payload + at);
        b->ts_offset = (uint16_t)((word >> 10) & 0x3fff);
        b->len = (uint16_t)(word & 0x3ff);
        data += b->len;
        at += 4;
    }
    /* Headers end at `at`; then the redundant data, then the primary's. */
    if (data >= len - at)
        return PRISM_EINVAL; /* overrun, or nothing left for the primary */
    size_t off = at;
    for (size_t i = 0; i + 1 < count; i++) {
        blocks[i].offset = (uint16_t)off;
        off += blocks[i].len;
    }
    struct prism_red_block *primary = &blocks[count - 1];
    primary->ts_offset = 0;
    primary->offset = (uint16_t)off;
    primary->len = (uint16_t)(len - off);
    *n = count;
    return 0;
}
