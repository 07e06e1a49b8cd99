/* libsrtp's stream list, replaced: an open-addressing hash table keyed by
 * SSRC, so that finding a packet's stream costs O(1) instead of a walk.
 *
 * Why: libsrtp 2.5 keeps a session's streams in a linked list and walks it on
 * every srtp_protect/srtp_unprotect. A subscriber's outbound session holds a
 * stream for every SSRC it receives (audio, video and rtx of each publisher
 * in the bubble), so in a 10-peer video bubble each forwarded packet chased
 * ~27 pointers, and the walk was the relay's top user-space symbol
 * (docs/performance.md, "SRTP stream lookup"). libsrtp lets the application
 * own the list: built with SRTP_NO_STREAM_LIST (meson.build passes it to the
 * subproject) it leaves out its own srtp_stream_list_* functions and calls
 * these, whose contract is libsrtp's include/stream_list_priv.h. The
 * session's template stream is never in a list (libsrtp keeps it aside).
 *
 * Table: a power-of-two array of slots, each the stream pointer with a copy
 * of its SSRC (so a probe compares keys without touching the stream), probed
 * linearly from hash(SSRC). A removed stream leaves a tombstone (not a
 * backward shift), so removing the current stream inside
 * srtp_stream_list_for_each(), as libsrtp does when it frees a session,
 * moves no other stream past or behind the iteration. Live streams plus
 * tombstones stay at most half the slots, so a probe always meets an empty
 * slot; an insert that would pass that rebuilds the table sized for the live
 * streams (growing it, or only clearing tombstones). Only insert allocates:
 * srtp_stream_list_get(), the per-packet call, never does.
 *
 * Hash: multiply-shift with a random odd 64-bit multiplier drawn per list
 * (Dietzfelbinger et al.: two SSRCs collide with probability at most
 * 2 / slots), since a peer chooses its SSRCs and could otherwise pick ones
 * that all land in one run. Inbound sessions admit at most
 * PRISM_SRTP_MAX_STREAMS streams anyway (crypto/srtp.c), which bounds even a
 * probe through every slot.
 *
 * Thread: a list belongs to its libsrtp session and is used by the one
 * thread using that session (crypto/srtp.h). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/rand.h>
#include <srtp_priv.h>
#include <stream_list_priv.h>

#include "relay/base/check.h"

#define MIN_SLOTS 8u

struct slot {
    srtp_stream_t stream; /* NULL: empty, or a tombstone if `dead` */
    uint32_t ssrc;        /* stream->ssrc (network order, as libsrtp keys it) */
    bool dead;            /* a stream was removed here: probes go on past it */
};

/* The type libsrtp declares opaque (srtp_stream_list_t) and leaves to us. */
struct srtp_stream_list_ctx_t_ {
    struct slot *slots; /* heap, `mask + 1` (a power of two) */
    uint32_t mask;      /* slots - 1 */
    unsigned shift;     /* 64 - log2(slots): the hash keeps the top bits */
    uint64_t mult;      /* random, odd; fixed for the list's life */
    size_t live;        /* streams held */
    size_t dead;        /* tombstones */
};

static uint32_t home(const struct srtp_stream_list_ctx_t_ *list, uint32_t ssrc)
{
    return (uint32_t)(((uint64_t)ssrc * list->mult) >> list->shift);
}

/* Points `list` at a fresh table of `n` slots (a power of two >= MIN_SLOTS)
 * holding its live streams, without tombstones. Returns false, with `list`
 * untouched, if out of memory. */
static bool rebuild(struct srtp_stream_list_ctx_t_ *list, uint32_t n)
{
    struct slot *slots = calloc(n, sizeof(*slots));
    if (slots == NULL)
        return false;
    struct slot *old = list->slots;
    uint32_t old_n = old != NULL ? list->mask + 1 : 0;
    unsigned bits = 0;
    while ((1u << bits) < n)
        bits++;
    list->slots = slots;
    list->mask = n - 1;
    list->shift = 64 - bits;
    list->dead = 0;
    for (uint32_t i = 0; i < old_n; i++) {
        if (old[i].stream == NULL)
            continue;
        uint32_t j = home(list, old[i].ssrc);
        while (slots[j].stream != NULL)
            j = (j + 1) & list->mask;
        slots[j] = old[i];
    }
    free(old);
    return true;
}

srtp_err_status_t srtp_stream_list_alloc(srtp_stream_list_t *list_ptr)
{
    struct srtp_stream_list_ctx_t_ *list = calloc(1, sizeof(*list));
    if (list == NULL)
        return srtp_err_status_alloc_fail;
    if (RAND_bytes((unsigned char *)&list->mult, sizeof(list->mult)) != 1) {
        free(list);
        return srtp_err_status_fail;
    }
    list->mult |= 1;
    if (!rebuild(list, MIN_SLOTS)) {
        free(list);
        return srtp_err_status_alloc_fail;
    }
    *list_ptr = list;
    return srtp_err_status_ok;
}

srtp_err_status_t srtp_stream_list_dealloc(srtp_stream_list_t list)
{
    if (list->live != 0)
        return srtp_err_status_fail; /* libsrtp empties it first */
    free(list->slots);
    free(list);
    return srtp_err_status_ok;
}

srtp_err_status_t srtp_stream_list_insert(srtp_stream_list_t list, srtp_stream_t stream)
{
    PRISM_CHECK(srtp_stream_list_get(list, stream->ssrc) == NULL);
    size_t slots = (size_t)list->mask + 1;
    if ((list->live + list->dead + 1) * 2 > slots) {
        /* Room for twice the live streams: a quarter full at most. */
        size_t n = MIN_SLOTS;
        while (n < (list->live + 1) * 4)
            n *= 2;
        if (n > UINT32_MAX / 2 + 1 || !rebuild(list, (uint32_t)n))
            return srtp_err_status_alloc_fail;
    }
    uint32_t i = home(list, stream->ssrc);
    while (list->slots[i].stream != NULL)
        i = (i + 1) & list->mask;
    if (list->slots[i].dead)
        list->dead--;
    list->slots[i] = (struct slot){.stream = stream, .ssrc = stream->ssrc};
    list->live++;
    return srtp_err_status_ok;
}

/* Per packet: no allocation, and at least one empty slot ends every probe. */
srtp_stream_t srtp_stream_list_get(srtp_stream_list_t list, uint32_t ssrc)
{
    for (uint32_t i = home(list, ssrc);; i = (i + 1) & list->mask) {
        const struct slot *s = &list->slots[i];
        if (s->stream == NULL) {
            if (!s->dead)
                return NULL;
        } else if (s->ssrc == ssrc) {
            return s->stream;
        }
    }
}

void srtp_stream_list_remove(srtp_stream_list_t list, srtp_stream_t stream)
{
    uint32_t i = home(list, stream->ssrc);
    while (list->slots[i].stream != stream) {
        /* libsrtp removes only streams it got from this list. */
        PRISM_CHECK(list->slots[i].stream != NULL || list->slots[i].dead);
        i = (i + 1) & list->mask;
    }
    list->live--;
    /* No probe runs on past an empty slot, so none needs this one if the
     * next is empty: no tombstone then. */
    const struct slot *next = &list->slots[(i + 1) & list->mask];
    if (next->stream == NULL && !next->dead) {
        list->slots[i] = (struct slot){0};
    } else {
        list->slots[i] = (struct slot){.dead = true};
        list->dead++;
    }
}

/* The callback may remove the stream it is given (that only empties its
 * slot or makes it a tombstone); anything else that changes the list
 * meanwhile is undefined, as libsrtp's contract says. */
void srtp_stream_list_for_each(srtp_stream_list_t list, int (*callback)(srtp_stream_t, void *),
                               void *data)
{
    for (size_t i = 0; i <= list->mask; i++) {
        srtp_stream_t stream = list->slots[i].stream;
        if (stream != NULL && callback(stream, data) != 0)
            return;
    }
}
