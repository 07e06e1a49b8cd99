/* Egress batching of one worker: packet buffers and per-transport send queues.
 *
 * Owns: struct prism_egress, one per worker thread: a pool of fixed-size
 * packet buffers (PRISM_EGRESS_BUF_BYTES each, all preallocated by
 * prism_egress_new, handed out from a free-list stack) and the "dirty list"
 * of send queues that hold datagrams queued during the current loop
 * iteration. A struct prism_egress_queue is embedded in each transport
 * (relay/transport.h) and names the ICE agent (a client's) or the UDP path
 * (the relay's ICE-lite transports: relay/net/udp_send.h) its datagrams go
 * out on.
 *
 * Workload: the router copies each forwarded packet into a pool buffer,
 * the transport protects it in place (SRTP needs PRISM_SRTP_MAX_TRAILER bytes
 * of tailroom, which every buffer has) and queues it; once per loop iteration
 * (a uv_prepare_t of the worker) prism_egress_flush_all() hands every dirty
 * queue to the kernel with one sendmmsg per queue (prism_ice_send_batch) and
 * returns the buffers to the pool. A queue that reaches PRISM_ICE_BATCH_MAX
 * datagrams is flushed at once, so a queue never holds more than that.
 *
 * Thread: everything here runs on the worker that created the context; no
 * locks. No allocation after prism_egress_new(). No logging.
 *
 * Invariants:
 * - A buffer is in exactly one place: the free stack, a queue, or the hands
 *   of the one caller that got it (who must queue it or put it back).
 * - A queue is on the dirty list iff it is linked (`dirty` set); a queue with
 *   datagrams is always on the dirty list.
 * - A full pool is PRISM_EGRESS_BUF_BYTES * n_bufs bytes (8,192 buffers:
 *   13.6 MB per worker).
 */
#ifndef PRISM_RELAY_EGRESS_H
#define PRISM_RELAY_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/srtp.h"
#include "relay/net/ice.h"
#include "relay/net/udp_send.h"

/* Largest plain RTP/RTCP packet the egress accepts, in bytes (an Ethernet
 * MTU; browsers keep media packets under ~1,200). */
#define PRISM_EGRESS_MAX_PACKET 1500

/* Bytes per pool buffer: PRISM_EGRESS_MAX_PACKET plus the SRTP tailroom,
 * rounded up to a multiple of 64 (cache lines): 1,664. */
#define PRISM_EGRESS_BUF_BYTES ((PRISM_EGRESS_MAX_PACKET + PRISM_SRTP_MAX_TRAILER + 63) / 64 * 64)

/* Largest pool prism_egress_new() accepts (about 1.7 GB of buffers). */
#define PRISM_EGRESS_MAX_BUFS (1u << 20)

struct prism_egress;

/* One transport's send queue, embedded in the transport (caller-owned
 * storage). Initialise with prism_egress_queue_init(); the fields are the
 * egress's, read-only to everyone else. */
struct prism_egress_queue {
    struct prism_ice *ice;                     /* where flushes send (a libnice agent) ... */
    struct prism_udp_path *path;               /* ... or this path (ICE-lite); set at init */
    uint64_t *packets_out, *bytes_out, *drops; /* owner's counters: bumped on flush
                                                  (sent datagrams and SRTP bytes; datagrams
                                                  the socket refused) */
    size_t n;                                  /* datagrams queued, <= PRISM_ICE_BATCH_MAX */
    struct prism_ice_datagram pkts[PRISM_ICE_BATCH_MAX]; /* data points at pool buffers */
    struct prism_egress_queue *prev, *next;              /* dirty list links */
    bool dirty;                                          /* linked on the dirty list */
};

/* Pool and batching counters of one worker (read by stats snapshots). */
struct prism_egress_stats {
    size_t bufs_total;      /* buffers in the pool */
    size_t bufs_free;       /* buffers on the free stack now */
    uint64_t pool_empty;    /* prism_egress_buf_get() calls that found no buffer */
    uint64_t batches;       /* prism_ice_send_batch() calls made */
    uint64_t early_flushes; /* queues flushed because they reached PRISM_ICE_BATCH_MAX */
};

/* Creates an egress context with `n_bufs` preallocated buffers (1 to
 * PRISM_EGRESS_MAX_BUFS), on the worker thread that will use it. Returns 0
 * and sets *out, or PRISM_EINVAL (bad count, NULL out) or PRISM_ENOMEM. */
int prism_egress_new(size_t n_bufs, struct prism_egress **out);

/* Frees the context and its buffers. Every queue must have been detached
 * (prism_egress_queue_detach) and every buffer put back first (checked: a
 * buffer still out is a bug and aborts). Accepts NULL. */
void prism_egress_free(struct prism_egress *eg);

/* Takes a buffer of PRISM_EGRESS_BUF_BYTES from the pool. O(1). Returns NULL
 * when the pool is empty (counted in stats.pool_empty): the caller drops the
 * packet and counts it. */
uint8_t *prism_egress_buf_get(struct prism_egress *eg);

/* Returns a buffer obtained from prism_egress_buf_get() and not queued. O(1). */
void prism_egress_buf_put(struct prism_egress *eg, uint8_t *buf);

/* Initialises `q` for the agent `ice`; flushes bump the three counters of its
 * owner (any may be NULL). The queue starts empty and clean. */
void prism_egress_queue_init(struct prism_egress_queue *q, struct prism_ice *ice,
                             uint64_t *packets_out, uint64_t *bytes_out, uint64_t *drops);

/* The same for a transport that sends on `path` (its ICE-lite binding's
 * selected address on the worker's media socket) instead of an agent;
 * `path` outlives the queue. */
void prism_egress_queue_init_path(struct prism_egress_queue *q, struct prism_udp_path *path,
                                  uint64_t *packets_out, uint64_t *bytes_out, uint64_t *drops);

/* Queues `len` bytes at `buf` (a pool buffer; ownership moves to the queue)
 * for the next flush and puts `q` on the dirty list. When `q` then holds
 * PRISM_ICE_BATCH_MAX datagrams it is flushed at once. Never fails. */
void prism_egress_queue_take(struct prism_egress *eg, struct prism_egress_queue *q, uint8_t *buf,
                             size_t len);

/* Sends what `q` holds now (one sendmmsg per PRISM_ICE_BATCH_MAX), counts
 * the datagrams the socket refused (or all of them when ICE is not
 * connected) as drops, and returns every buffer to the pool. `q` stays on
 * the dirty list until the next prism_egress_flush_all(). */
void prism_egress_queue_flush(struct prism_egress *eg, struct prism_egress_queue *q);

/* Drops what `q` holds (counted as drops, buffers back to the pool) and takes
 * it off the dirty list: call before the queue's storage or its agent goes
 * away. Idempotent. */
void prism_egress_queue_detach(struct prism_egress *eg, struct prism_egress_queue *q);

/* Flushes every dirty queue and empties the dirty list. O(dirty queues).
 * Called once per loop iteration by the worker. */
void prism_egress_flush_all(struct prism_egress *eg);

/* Copies the counters to `*out`. */
void prism_egress_stats(const struct prism_egress *eg, struct prism_egress_stats *out);

#endif
