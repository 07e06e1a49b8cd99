/* Transport-wide congestion control feedback: the arrival record and the
 * feedback writer. See tcc.h for the contracts and the wire format.
 *
 * The writer makes two passes over the statuses it is given: the first
 * finds how many fit (the chunk encoder's state only depends on the symbols,
 * so sizes can be counted without writing), the second writes the chunks
 * and then the deltas, which follow all chunks on the wire. Both passes use
 * the same chunk encoder (struct chunker), a port of the greedy rule of
 * libwebrtc's transport feedback writer: fill a vector chunk while it can
 * take the symbol, keep a run going while every symbol is the same, and when
 * neither can take the next symbol emit a run, a 14-symbol one-bit vector or
 * the first 7 symbols as a two-bit vector.
 */
#include "relay/wire/tcc.h"

#include <string.h>

#include "relay/base/bytes.h"
#include "relay/base/check.h"
#include "relay/base/error.h"

#define HISTORY_MASK ((int64_t)PRISM_TCC_HISTORY - 1)
#define RTCP_VERSION 2
#define RTPFB 205
#define FMT_TCC 15
#define REF_TICKS (PRISM_TCC_REF_US / PRISM_TCC_DELTA_US) /* 256 delta ticks per 64 ms */

enum symbol {
    SYM_NOT_RECEIVED = 0,
    SYM_SMALL = 1, /* received, 1-byte delta */
    SYM_LARGE = 2, /* received, 2-byte signed delta */
};

#define RUN_MAX 8191 /* 13-bit run length */
#define ONE_BIT_MAX 14
#define TWO_BIT_MAX 7

/* --- chunk encoder ------------------------------------------------------ */

struct chunker {
    uint8_t sym[ONE_BIT_MAX]; /* the first symbols of the open chunk */
    size_t size;              /* symbols in the open chunk (up to RUN_MAX) */
    bool all_same;            /* every symbol equals sym[0] */
    bool has_large;           /* a SYM_LARGE among them */
};

static void chunker_clear(struct chunker *c)
{
    c->size = 0;
    c->all_same = true;
    c->has_large = false;
}

static bool chunker_can_add(const struct chunker *c, uint8_t s)
{
    if (c->size < TWO_BIT_MAX)
        return true;
    if (c->size < ONE_BIT_MAX && !c->has_large && s != SYM_LARGE)
        return true;
    return c->size < RUN_MAX && c->all_same && s == c->sym[0];
}

static void chunker_add(struct chunker *c, uint8_t s)
{
    if (c->size < ONE_BIT_MAX)
        c->sym[c->size] = s;
    c->all_same = c->all_same && s == c->sym[0];
    c->has_large = c->has_large || s == SYM_LARGE;
    c->size++;
}

static uint16_t encode_run(const struct chunker *c)
{
    return (uint16_t)((unsigned)c->sym[0] << 13 | c->size);
}

static uint16_t encode_one_bit(const struct chunker *c)
{
    unsigned v = 0x8000;
    for (size_t i = 0; i < c->size && i < ONE_BIT_MAX; i++)
        v |= (unsigned)(c->sym[i] != SYM_NOT_RECEIVED) << (ONE_BIT_MAX - 1 - i);
    return (uint16_t)v;
}

static uint16_t encode_two_bit(const struct chunker *c, size_t count)
{
    unsigned v = 0xC000;
    for (size_t i = 0; i < count; i++)
        v |= (unsigned)c->sym[i] << 2 * (TWO_BIT_MAX - 1 - i);
    return (uint16_t)v;
}

/* The open chunk cannot take another symbol: encode what it can and keep the
 * rest open. Only called with size >= TWO_BIT_MAX (chunker_can_add). */
static uint16_t chunker_emit(struct chunker *c)
{
    uint16_t chunk;
    if (c->all_same) {
        chunk = encode_run(c);
        chunker_clear(c);
        return chunk;
    }
    if (c->size == ONE_BIT_MAX) {
        chunk = encode_one_bit(c);
        chunker_clear(c);
        return chunk;
    }
    chunk = encode_two_bit(c, TWO_BIT_MAX);
    size_t rest = c->size - TWO_BIT_MAX;
    uint8_t tail[ONE_BIT_MAX];
    memcpy(tail, c->sym + TWO_BIT_MAX, rest);
    chunker_clear(c);
    for (size_t i = 0; i < rest; i++)
        chunker_add(c, tail[i]);
    return chunk;
}

/* The last, possibly partial, chunk (size > 0). Unused trailing symbols of a
 * vector are zero; the status count tells the reader where to stop. */
static uint16_t chunker_last(const struct chunker *c)
{
    if (c->all_same)
        return encode_run(c);
    if (c->size <= TWO_BIT_MAX)
        return encode_two_bit(c, c->size);
    return encode_one_bit(c);
}

/* --- the writer ----------------------------------------------------------- */

/* Symbol of a received packet whose delta from the previous one is `d` ticks,
 * or -1 when it does not fit in 16 bits (a new feedback packet must start). */
static int delta_symbol(int64_t d)
{
    if (d >= 0 && d <= 0xFF)
        return SYM_SMALL;
    if (d >= INT16_MIN && d <= INT16_MAX)
        return SYM_LARGE;
    return -1;
}

static size_t padded(size_t bytes)
{
    return (bytes + 3) & ~(size_t)3;
}

int prism_tcc_write(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    uint16_t base_seq, uint8_t fb_count, const int64_t *arrival_us, size_t mask,
                    size_t start, size_t n, size_t *n_reported)
{
    if (buf == NULL || arrival_us == NULL || n_reported == NULL)
        return PRISM_EINVAL;
    *n_reported = 0;
    if (n > PRISM_TCC_MAX_STATUS)
        n = PRISM_TCC_MAX_STATUS;

    /* Pass 1: how many statuses fit, and the bytes they take. */
    struct chunker c;
    chunker_clear(&c);
    size_t chunks = 0, delta_bytes = 0, fit = 0, fit_bytes = 0;
    bool have_ref = false;
    int64_t ref = 0, last_tick = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = arrival_us[(start + i) & mask];
        int s = SYM_NOT_RECEIVED;
        int64_t d = 0;
        if (a != PRISM_TCC_NOT_RECEIVED) {
            PRISM_CHECK(a >= 0);
            if (!have_ref) {
                have_ref = true;
                ref = a / PRISM_TCC_REF_US;
                last_tick = ref * REF_TICKS;
            }
            d = a / PRISM_TCC_DELTA_US - last_tick;
            s = delta_symbol(d);
            if (s < 0)
                break;
        }
        if (!chunker_can_add(&c, (uint8_t)s)) {
            chunker_emit(&c);
            chunks++;
        }
        chunker_add(&c, (uint8_t)s);
        if (s == SYM_NOT_RECEIVED)
            continue;
        last_tick += d;
        delta_bytes += (size_t)s;
        size_t bytes = padded(PRISM_TCC_FIXED_BYTES + 2 * (chunks + 1) + delta_bytes);
        if (bytes > cap)
            break;
        fit = i + 1;
        fit_bytes = bytes;
    }
    if (!have_ref)
        return 0;
    if (fit == 0)
        return PRISM_ENOMEM;

    /* Pass 2: header, chunks, deltas, zero padding. */
    memset(buf, 0, fit_bytes);
    buf[0] = (uint8_t)(RTCP_VERSION << 6 | FMT_TCC);
    buf[1] = RTPFB;
    prism_store_be16(buf + 2, (uint16_t)(fit_bytes / 4 - 1));
    prism_store_be32(buf + 4, sender_ssrc);
    prism_store_be32(buf + 8, media_ssrc);
    prism_store_be16(buf + 12, base_seq);
    prism_store_be16(buf + 14, (uint16_t)fit);
    uint32_t ref24 = (uint32_t)ref & 0xFFFFFF;
    buf[16] = (uint8_t)(ref24 >> 16);
    buf[17] = (uint8_t)(ref24 >> 8);
    buf[18] = (uint8_t)ref24;
    buf[19] = fb_count;
    uint8_t *w = buf + PRISM_TCC_FIXED_BYTES;
    chunker_clear(&c);
    last_tick = ref * REF_TICKS;
    for (size_t i = 0; i < fit; i++) {
        int64_t a = arrival_us[(start + i) & mask];
        int s = SYM_NOT_RECEIVED;
        if (a != PRISM_TCC_NOT_RECEIVED) {
            int64_t d = a / PRISM_TCC_DELTA_US - last_tick;
            s = delta_symbol(d);
            last_tick += d;
        }
        if (!chunker_can_add(&c, (uint8_t)s)) {
            prism_store_be16(w, chunker_emit(&c));
            w += 2;
        }
        chunker_add(&c, (uint8_t)s);
    }
    prism_store_be16(w, chunker_last(&c));
    w += 2;
    last_tick = ref * REF_TICKS;
    for (size_t i = 0; i < fit; i++) {
        int64_t a = arrival_us[(start + i) & mask];
        if (a == PRISM_TCC_NOT_RECEIVED)
            continue;
        int64_t d = a / PRISM_TCC_DELTA_US - last_tick;
        last_tick += d;
        if (delta_symbol(d) == SYM_SMALL) {
            *w++ = (uint8_t)d;
        } else {
            prism_store_be16(w, (uint16_t)(int16_t)d);
            w += 2;
        }
    }
    PRISM_CHECK((size_t)(w - buf) <= fit_bytes && fit_bytes - (size_t)(w - buf) < 4);
    *n_reported = fit;
    return (int)fit_bytes;
}

/* --- the record ------------------------------------------------------------- */

static int64_t *slot(struct prism_tcc *r, int64_t ext_seq)
{
    return &r->arrival_us[ext_seq & HISTORY_MASK];
}

void prism_tcc_init(struct prism_tcc *r)
{
    memset(r, 0, sizeof(*r));
}

/* Start the record over at `seq`, above every ext_seq used so far so that
 * ext_seq stays monotonic across restarts. */
static void restart(struct prism_tcc *r, uint16_t seq, int64_t arrival_us)
{
    int64_t ext = r->started ? (r->max & ~(int64_t)0xFFFF) + 0x10000 + seq : 0x10000 + seq;
    r->started = true;
    r->begin = r->max = r->next = ext;
    *slot(r, ext) = arrival_us;
}

void prism_tcc_record(struct prism_tcc *r, uint16_t seq, int64_t arrival_us)
{
    PRISM_CHECK(arrival_us >= 0);
    if (!r->started) {
        restart(r, seq, arrival_us);
        return;
    }
    int64_t ext = r->max + (int16_t)(uint16_t)(seq - (uint16_t)r->max);
    if (ext > r->max) {
        if (ext - r->max >= PRISM_TCC_HISTORY) {
            r->restarts++;
            restart(r, seq, arrival_us);
            return;
        }
        for (int64_t e = r->max + 1; e < ext; e++)
            *slot(r, e) = PRISM_TCC_NOT_RECEIVED;
        *slot(r, ext) = arrival_us;
        r->max = ext;
        if (r->begin < ext - HISTORY_MASK)
            r->begin = ext - HISTORY_MASK;
        if (r->next < r->begin)
            r->next = r->begin; /* unreported packets overwritten: 4096 in one interval */
        return;
    }
    if (r->max - ext >= PRISM_TCC_HISTORY) {
        r->restarts++;
        restart(r, seq, arrival_us);
        return;
    }
    if (ext < r->begin || *slot(r, ext) != PRISM_TCC_NOT_RECEIVED)
        return; /* before the record (or before its restart), or a duplicate */
    *slot(r, ext) = arrival_us;
    if (ext < r->next && r->max - ext < PRISM_TCC_MAX_STATUS_PER_BUILD)
        r->next = ext;
}

bool prism_tcc_pending(const struct prism_tcc *r)
{
    return r->started && r->next <= r->max;
}

int prism_tcc_build(struct prism_tcc *r, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf,
                    size_t cap)
{
    if (r == NULL || buf == NULL)
        return PRISM_EINVAL;
    size_t used = 0, budget = PRISM_TCC_MAX_STATUS_PER_BUILD;
    while (prism_tcc_pending(r) && budget > 0) {
        /* A packet starts at the first unreported status, lost or not, so
         * losses between two reports are reported; but a gap that alone
         * exceeds what one call reports is skipped (O(gap) <= HISTORY), and
         * one that exceeds what is left of this call waits for the next. */
        int64_t first = r->next;
        while (*slot(r, first) == PRISM_TCC_NOT_RECEIVED)
            first++; /* ends: max was received */
        if (first - r->next >= PRISM_TCC_MAX_STATUS_PER_BUILD)
            r->next = first;
        else if ((size_t)(first - r->next) >= budget)
            break;
        size_t n = (size_t)(r->max - r->next + 1);
        if (n > budget)
            n = budget;
        size_t reported = 0;
        int len = prism_tcc_write(
            buf + used, cap - used, sender_ssrc, media_ssrc, (uint16_t)r->next, r->fb_count,
            r->arrival_us, (size_t)HISTORY_MASK, (size_t)(r->next & HISTORY_MASK), n, &reported);
        PRISM_CHECK(len != 0); /* the window holds a received packet */
        if (len < 0)
            return used > 0 ? (int)used : len;
        used += (size_t)len;
        r->fb_count++;
        r->next += (int64_t)reported;
        budget -= reported;
    }
    return (int)used;
}

/* --- reader ------------------------------------------------------------- */

/* Statuses start as symbols in `received` (0..2), turned into flags once the
 * deltas are read. */
int prism_tcc_parse(const uint8_t *fci, size_t len, struct prism_tcc_status *out, size_t cap)
{
    if (fci == NULL || out == NULL || len < 8)
        return PRISM_EINVAL;
    uint16_t base = prism_load_be16(fci);
    size_t count = prism_load_be16(fci + 2);
    uint32_t ref = prism_load_be24(fci + 4);
    int64_t ref_ticks = (int64_t)(ref & 0x800000 ? ref - 0x1000000 : ref) * REF_TICKS;
    size_t want = count < cap ? count : cap;
    uint8_t sym[ONE_BIT_MAX];
    size_t at = 8, seen = 0;
    /* Pass 1: chunks. Every chunk is read (the deltas follow the last one);
     * symbols past `want` are only counted, for the delta bytes they own. */
    while (seen < count) {
        if (at + 2 > len)
            return PRISM_EINVAL;
        uint16_t c = prism_load_be16(fci + at);
        at += 2;
        size_t n;
        if ((c & 0x8000) == 0) { /* run length */
            n = c & 0x1fff;
            for (size_t k = 0; k < ONE_BIT_MAX; k++)
                sym[k] = (uint8_t)((c >> 13) & 3);
        } else if ((c & 0x4000) == 0) { /* 14 one-bit symbols */
            n = ONE_BIT_MAX;
            for (size_t k = 0; k < n; k++)
                sym[k] = (uint8_t)((c >> (13 - k)) & 1);
        } else { /* 7 two-bit symbols */
            n = TWO_BIT_MAX;
            for (size_t k = 0; k < n; k++)
                sym[k] = (uint8_t)((c >> (12 - 2 * k)) & 3);
        }
        for (size_t k = 0; k < n && seen < count; k++, seen++) {
            uint8_t s = sym[k < ONE_BIT_MAX ? k : 0];
            if (s == 3)
                return PRISM_EINVAL;
            if (seen < want) {
                out[seen].seq = (uint16_t)(base + seen);
                out[seen].received = s != SYM_NOT_RECEIVED;
                out[seen].arrival_us = s; /* the symbol until pass 2 */
            }
        }
    }
    /* Pass 2: a delta per received packet, in order, from the reference time. */
    int64_t ticks = ref_ticks;
    for (size_t i = 0; i < want; i++) {
        if (!out[i].received)
            continue;
        if (out[i].arrival_us == SYM_SMALL) {
            if (at + 1 > len)
                return PRISM_EINVAL;
            ticks += fci[at++];
        } else {
            if (at + 2 > len)
                return PRISM_EINVAL;
            ticks += (int16_t)prism_load_be16(fci + at);
            at += 2;
        }
        out[i].arrival_us = ticks * PRISM_TCC_DELTA_US;
    }
    return (int)want;
}
