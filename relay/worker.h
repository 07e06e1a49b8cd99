/* Media workers: N threads, each running its own libuv loop, each owning
 * whole bubbles (DESIGN.md "Threads and ownership").
 *
 * The control thread starts and stops the pool and talks to a worker only by
 * posting messages that carry handles and copied values, never pointers into
 * the registry. A worker never blocks: no file I/O, DNS or sleeps.
 */
#ifndef PRISM_RELAY_WORKER_H
#define PRISM_RELAY_WORKER_H

#include <stdint.h>

#include "relay/mailbox.h"

enum prism_worker_msg_type {
    PRISM_WORKER_BUBBLE_OPEN,  /* bubble_handle */
    PRISM_WORKER_BUBBLE_CLOSE, /* bubble_handle: closes its transports */
    PRISM_WORKER_STOP,         /* leave the loop once every handle is closed */
};

/* Allocated by the sender (prism_worker_msg_new), freed by the worker. */
struct prism_worker_msg {
    struct prism_mail mail; /* must be first */
    enum prism_worker_msg_type type;
    uint64_t bubble_handle;
};

struct prism_workers;

/* Starts `n` worker threads (n >= 1). Returns 0 or PRISM_ENOMEM / PRISM_EIO. */
int prism_workers_start(unsigned n, struct prism_workers **out);

/* Stops every worker, joins the threads and frees the pool. Accepts NULL. */
void prism_workers_stop(struct prism_workers *pool);

unsigned prism_workers_count(const struct prism_workers *pool);

/* Allocates a zeroed message of `type`; aborts on allocation failure (a few
 * bytes on the control path; no sane recovery). */
struct prism_worker_msg *prism_worker_msg_new(enum prism_worker_msg_type type);

/* Posts `msg` to worker `w` (ownership moves). Control thread. */
void prism_workers_post(struct prism_workers *pool, unsigned w, struct prism_worker_msg *msg);

/* Bubbles a worker holds right now, as the worker last saw them (relaxed
 * read, for stats). */
uint32_t prism_workers_bubbles(const struct prism_workers *pool, unsigned w);

#endif
