/* libFuzzer target for relay/wire/red (RFC 2198). The input is a RED
 * payload. Invariants checked: a parse either fails or yields 1 to
 * PRISM_RED_MAX_BLOCKS blocks whose headers (4 bytes per redundant block,
 * 1 for the primary) and data tile the payload exactly, in order, the
 * primary last, non-empty and at offset 0 from the header timestamp; every
 * field fits its wire width; a cap below the block count is refused and one
 * above it changes nothing; and the parser never reads past its input
 * (ASan: the input is copied to an exact-size buffer). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/red.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BYTES 4096

static void must(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_red: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_BYTES)
        return 0;
    uint8_t *p = malloc(size > 0 ? size : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data, size);
    struct prism_red_block b[PRISM_RED_MAX_BLOCKS + 1], again[PRISM_RED_MAX_BLOCKS + 1];
    size_t n = 0, m = 0;
    int rc = prism_red_parse(p, size, b, PRISM_RED_MAX_BLOCKS + 1, &n);
    must(rc == 0 || rc == PRISM_EINVAL, "return code");
    if (rc == 0) {
        must(n >= 1 && n <= PRISM_RED_MAX_BLOCKS, "block count");
        size_t at = 4 * (n - 1) + 1;
        for (size_t i = 0; i < n; i++) {
            bool primary = i + 1 == n;
            must(b[i].pt < 128, "7-bit payload type");
            must(b[i].ts_offset < 16384, "14-bit offset");
            must(primary || b[i].len < 1024, "10-bit length");
            must(b[i].offset == at, "blocks in order, after the headers");
            must((p[4 * i] & 0x80) == (primary ? 0 : 0x80), "F bit of its header");
            must(b[i].pt == (p[4 * i] & 0x7f), "payload type of its header");
            at += b[i].len;
        }
        must(at == size, "blocks tile the payload");
        must(b[n - 1].len > 0 && b[n - 1].ts_offset == 0, "a non-empty primary at offset 0");
        must(prism_red_parse(p, size, again, n, &m) == 0 && m == n,
             "the exact cap gives the same count");
        for (size_t i = 0; i < n; i++)
            must(again[i].pt == b[i].pt && again[i].ts_offset == b[i].ts_offset &&
                     again[i].offset == b[i].offset && again[i].len == b[i].len,
                 "the exact cap gives the same blocks");
        must(n == 1 || prism_red_parse(p, size, again, n - 1, &m) == PRISM_EINVAL,
             "a cap below the count is refused");
    }
    free(p);
    return 0;
}
