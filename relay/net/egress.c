/* Egress batching of one worker: the buffer pool and the dirty list.
 *
 * The pool is one aligned block cut into PRISM_EGRESS_BUF_BYTES buffers and
 * a stack of pointers to the free ones: get and put are a pop and a push,
 * O(1), and the most recently freed buffer (still warm in cache) is reused
 * first. The dirty list is intrusive and doubly linked so that a closing
 * transport leaves it in O(1). Thread: the worker that owns the context.
 */
#include "relay/net/egress.h"

#include <stdlib.h>

#include "relay/base/check.h"
#include "relay/base/error.h"

struct prism_egress {
    uint8_t *block;                   /* n_bufs * PRISM_EGRESS_BUF_BYTES, 64-byte aligned */
    uint8_t **free_stack;             /* free buffers, top at free_stack[n_free - 1] */
    size_t n_bufs;                    /* buffers in the pool */
    size_t n_free;                    /* entries on free_stack */
    struct prism_egress_queue *dirty; /* head of the dirty list */
    struct prism_egress_stats stats;  /* bufs_* filled on read */
};

int prism_egress_new(size_t n_bufs, struct prism_egress **out)
{
    if (!out || n_bufs == 0 || n_bufs > PRISM_EGRESS_MAX_BUFS)
        return PRISM_EINVAL;
    struct prism_egress *eg = calloc(1, sizeof(*eg));
    if (!eg)
        return PRISM_ENOMEM;
    /* PRISM_EGRESS_BUF_BYTES is a multiple of 64, as aligned_alloc needs. */
    eg->block = aligned_alloc(64, n_bufs * PRISM_EGRESS_BUF_BYTES);
    eg->free_stack = calloc(n_bufs, sizeof(*eg->free_stack));
    if (!eg->block || !eg->free_stack) {
        free(eg->block);
        free(eg->free_stack);
        free(eg);
        return PRISM_ENOMEM;
    }
    eg->n_bufs = n_bufs;
    /* Push in reverse so the first get returns the first buffer. */
    for (size_t i = 0; i < n_bufs; i++)
        eg->free_stack[i] = eg->block + (n_bufs - 1 - i) * PRISM_EGRESS_BUF_BYTES;
    eg->n_free = n_bufs;
    *out = eg;
    return 0;
}

void prism_egress_free(struct prism_egress *eg)
{
    if (!eg)
        return;
    PRISM_CHECK(eg->dirty == NULL);
    PRISM_CHECK(eg->n_free == eg->n_bufs);
    free(eg->free_stack);
    free(eg->block);
    free(eg);
}

uint8_t *prism_egress_buf_get(struct prism_egress *eg)
{
    if (eg->n_free == 0) {
        eg->stats.pool_empty++;
        return NULL;
    }
    return eg->free_stack[--eg->n_free];
}

void prism_egress_buf_put(struct prism_egress *eg, uint8_t *buf)
{
    /* More puts than gets would overflow the stack: a double free. */
    PRISM_CHECK(eg->n_free < eg->n_bufs);
    eg->free_stack[eg->n_free++] = buf;
}

void prism_egress_queue_init(struct prism_egress_queue *q, struct prism_ice *ice,
                             uint64_t *packets_out, uint64_t *bytes_out, uint64_t *drops)
{
    *q = (struct prism_egress_queue){
        .ice = ice,
        .packets_out = packets_out,
        .bytes_out = bytes_out,
        .drops = drops,
    };
}

void prism_egress_queue_init_path(struct prism_egress_queue *q, struct prism_udp_path *path,
                                  uint64_t *packets_out, uint64_t *bytes_out, uint64_t *drops)
{
    prism_egress_queue_init(q, NULL, packets_out, bytes_out, drops);
    q->path = path;
}

static void link_dirty(struct prism_egress *eg, struct prism_egress_queue *q)
{
    q->prev = NULL;
    q->next = eg->dirty;
    if (eg->dirty)
        eg->dirty->prev = q;
    eg->dirty = q;
    q->dirty = true;
}

static void unlink_dirty(struct prism_egress *eg, struct prism_egress_queue *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        eg->dirty = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
    q->dirty = false;
}

void prism_egress_queue_take(struct prism_egress *eg, struct prism_egress_queue *q, uint8_t *buf,
                             size_t len)
{
    PRISM_CHECK(q->n < PRISM_ICE_BATCH_MAX);
    q->pkts[q->n].data = buf;
    q->pkts[q->n].len = len;
    q->n++;
    if (!q->dirty)
        link_dirty(eg, q);
    if (q->n == PRISM_ICE_BATCH_MAX) {
        eg->stats.early_flushes++;
        prism_egress_queue_flush(eg, q);
    }
}

/* Returns the buffers of q->pkts[from..n) to the pool and counts them as
 * dropped. */
static void drop_from(struct prism_egress *eg, struct prism_egress_queue *q, size_t from)
{
    for (size_t i = from; i < q->n; i++)
        prism_egress_buf_put(eg, (uint8_t *)q->pkts[i].data);
    if (q->drops)
        *q->drops += q->n - from;
}

void prism_egress_queue_flush(struct prism_egress *eg, struct prism_egress_queue *q)
{
    if (q->n == 0)
        return;
    /* q->n <= PRISM_ICE_BATCH_MAX: exactly one sendmmsg. */
    int r = q->path ? prism_udp_send_batch(q->path, q->pkts, q->n)
                    : prism_ice_send_batch(q->ice, q->pkts, q->n);
    eg->stats.batches++;
    size_t done = r > 0 ? (size_t)r : 0, sent = 0, refused = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < done; i++) {
        if (q->pkts[i].refused) {
            refused++; /* one datagram the kernel refused: the others went */
        } else {
            sent++;
            bytes += q->pkts[i].len;
        }
        prism_egress_buf_put(eg, (uint8_t *)q->pkts[i].data);
    }
    if (q->packets_out)
        *q->packets_out += sent;
    if (q->bytes_out)
        *q->bytes_out += bytes;
    if (q->drops)
        *q->drops += refused;
    /* A full socket buffer: the rest is dropped, not retried (media is
     * real-time and the next iteration brings fresher packets). */
    drop_from(eg, q, done);
    q->n = 0;
}

void prism_egress_queue_detach(struct prism_egress *eg, struct prism_egress_queue *q)
{
    drop_from(eg, q, 0);
    q->n = 0;
    if (q->dirty)
        unlink_dirty(eg, q);
}

void prism_egress_flush_all(struct prism_egress *eg)
{
    while (eg->dirty) {
        struct prism_egress_queue *q = eg->dirty;
        unlink_dirty(eg, q);
        prism_egress_queue_flush(eg, q);
    }
}

void prism_egress_stats(const struct prism_egress *eg, struct prism_egress_stats *out)
{
    *out = eg->stats;
    out->bufs_total = eg->n_bufs;
    out->bufs_free = eg->n_free;
}
