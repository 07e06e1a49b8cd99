/* libFuzzer target for relay/tcc. The input is a script of 5-byte steps:
 * record a packet (sequence number stepped by a signed byte or set outright,
 * arrival time stepped forward or back, never below 0) or build feedback
 * into a buffer of a scripted capacity. Invariants checked on every build:
 * the output fits the capacity, is a multiple of 4 and walks as a compound
 * of transport-cc packets (relay/rtcp's iterator and prism_rtcp_parse_tcc);
 * each packet's chunks cover exactly its status count and its deltas lie
 * inside it, followed by at most 3 zero bytes; a call reports at most
 * PRISM_TCC_MAX_STATUS_PER_BUILD statuses; feedback counts run on by one;
 * and every status reported received carries, to the 250 µs tick, an arrival
 * time that was recorded for that sequence number.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/rtcp.h"
#include "relay/wire/tcc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_STEPS 2048
#define STEP_BYTES 5
#define CAP_MAX 2048

static struct prism_tcc rec;
static uint8_t out[CAP_MAX];
/* What was recorded, in order, chained per sequence number (newest
 * first) so that checking a reported status costs its own recordings, not
 * the whole input's: an input of 2,048 steps reports thousands of statuses,
 * and a scan of every recording per status made the target quadratic. A
 * chain head belongs to the current input only if its generation is. */
static int64_t rec_time[FUZZ_MAX_STEPS];
static int32_t rec_next[FUZZ_MAX_STEPS];
static size_t n_rec;
static int32_t seq_head[65536];
static uint32_t seq_gen[65536], gen;
static uint8_t syms[65536];

static void must(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_tcc: %s\n", what);
        abort();
    }
}

static bool was_recorded(uint16_t seq, int64_t time_us)
{
    for (int32_t i = seq_gen[seq] == gen ? seq_head[seq] : -1; i >= 0; i = rec_next[i])
        if (rec_time[i] / 250 * 250 == time_us)
            return true;
    return false;
}

/* Walks and decodes one build's output; returns the statuses it reports. */
static size_t check_output(const uint8_t *buf, size_t len, uint8_t *fb_next, bool *fb_known)
{
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    size_t total = 0;
    int rc;
    prism_rtcp_iter_init(&it, buf, len);
    while ((rc = prism_rtcp_next(&it, &item)) == 0) {
        struct prism_rtcp_tcc h;
        must(prism_rtcp_parse_tcc(&item, &h) == 0, "a transport-cc packet");
        must(h.status_count > 0, "statuses in each packet");
        must(!*fb_known || h.fb_pkt_count == *fb_next, "feedback count runs on");
        *fb_known = true;
        *fb_next = (uint8_t)(h.fb_pkt_count + 1);
        const uint8_t *p = item.body + 8, *end = item.body + item.body_len;
        size_t got = 0;
        while (got < h.status_count) {
            must(p + 2 <= end, "chunks inside the packet");
            unsigned ch = (unsigned)p[0] << 8 | p[1];
            p += 2;
            if ((ch & 0x8000) == 0) {
                must((ch >> 13 & 3) != 3 && (ch & 0x1FFF) != 0, "valid run");
                for (size_t k = 0; k < (ch & 0x1FFF) && got < h.status_count; k++)
                    syms[got++] = (uint8_t)(ch >> 13 & 3);
            } else if ((ch & 0x4000) == 0) {
                for (int k = 13; k >= 0 && got < h.status_count; k--)
                    syms[got++] = (uint8_t)(ch >> k & 1);
            } else {
                for (int k = 6; k >= 0 && got < h.status_count; k--) {
                    syms[got] = (uint8_t)(ch >> 2 * k & 3);
                    must(syms[got] != 3, "valid two-bit symbol");
                    got++;
                }
            }
        }
        must(syms[got - 1] != 0, "a packet ends on a received status");
        int64_t t = (int64_t)((uint32_t)h.reference_time_64ms & 0xFFFFFF) * 64000;
        for (size_t k = 0; k < got; k++) {
            if (syms[k] == 0)
                continue;
            if (syms[k] == 1) {
                must(p + 1 <= end, "small delta inside");
                t += 250 * (int64_t)p[0];
                p++;
            } else {
                must(p + 2 <= end, "large delta inside");
                int16_t d = (int16_t)(uint16_t)(p[0] << 8 | p[1]);
                must(d < 0 || d > 255, "large only when small cannot");
                t += 250 * (int64_t)d;
                p += 2;
            }
            /* The reference time wraps at 2^24 * 64 ms; recorded times stay below. */
            must(was_recorded((uint16_t)(h.base_seq + k), t), "reported time was recorded");
        }
        must(end - p < 4, "at most 3 bytes of padding");
        for (; p < end; p++)
            must(*p == 0, "zero padding");
        total += got;
    }
    must(rc == PRISM_ENOTFOUND, "output walks cleanly");
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prism_tcc_init(&rec);
    n_rec = 0;
    gen++;
    uint16_t seq = 0;
    int64_t now = 0;
    uint8_t fb_next = 0;
    bool fb_known = false;
    for (size_t off = 0; off + STEP_BYTES <= size && off / STEP_BYTES < FUZZ_MAX_STEPS;
         off += STEP_BYTES) {
        const uint8_t *s = data + off;
        unsigned arg16 = (unsigned)s[1] | (unsigned)s[2] << 8;
        if (s[0] & 0x80) {
            size_t cap = arg16 % CAP_MAX;
            bool pending = prism_tcc_pending(&rec);
            int len = prism_tcc_build(&rec, 1, 2, out, cap);
            if (!pending) {
                must(len == 0, "nothing pending, nothing written");
                continue;
            }
            if (cap < PRISM_TCC_MIN_BYTES) {
                must(len == PRISM_ENOMEM, "no room, ENOMEM");
                continue;
            }
            if (len == PRISM_ENOMEM) {
                must(cap < 64, "64 bytes always hold a packet");
                continue;
            }
            must(len >= 0 && (size_t)len <= cap && len % 4 == 0, "length within cap");
            if (len > 0)
                must(check_output(out, (size_t)len, &fb_next, &fb_known) <=
                         PRISM_TCC_MAX_STATUS_PER_BUILD,
                     "statuses per build bounded");
            continue;
        }
        seq = (s[0] & 0x40) ? (uint16_t)arg16 : (uint16_t)(seq + (int8_t)s[1]);
        int64_t step = (int64_t)((unsigned)s[3] | (unsigned)s[4] << 8) << (s[0] & 0x07);
        now = (s[0] & 0x20) ? (now > step ? now - step : 0) : now + step;
        prism_tcc_record(&rec, seq, now);
        rec_time[n_rec] = now;
        rec_next[n_rec] = seq_gen[seq] == gen ? seq_head[seq] : -1;
        seq_head[seq] = (int32_t)n_rec;
        seq_gen[seq] = gen;
        n_rec++;
    }
    return 0;
}
