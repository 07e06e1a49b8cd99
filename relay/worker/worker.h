/* Media workers: N threads, each running its own libuv loop, each owning
 * whole bubbles (DESIGN.md "Threads and ownership").
 *
 * The control thread starts and stops the pool and talks to a worker only by
 * posting messages that carry handles and copied values, never pointers into
 * the registry. Workers answer through the control mailbox given at start
 * (relay/worker/contract.h). A worker never blocks: no file I/O, DNS or
 * sleeps. Ownership of messages: the sender allocates, the receiver frees.
 */
#ifndef PRISM_RELAY_WORKER_H
#define PRISM_RELAY_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/dtls.h"
#include "relay/base/config.h"
#include "relay/base/mailbox.h"
#include "relay/worker/contract.h"

/* What every worker shares, immutable while they run. */
struct prism_worker_shared {
    const struct prism_config *cfg;  /* media addresses and ports */
    struct prism_dtls_ctx *dtls_ctx; /* the relay's certificate */
    struct prism_mailbox *control;   /* where events go */
};

struct prism_workers;

/* Starts `n` worker threads (n >= 1). `shared` must outlive the pool.
 * Returns 0 or PRISM_ENOMEM / PRISM_EIO. */
int prism_workers_start(unsigned n, const struct prism_worker_shared *shared,
                        struct prism_workers **out);

/* Stops every worker, joins the threads and frees the pool. Accepts NULL. */
void prism_workers_stop(struct prism_workers *pool);

unsigned prism_workers_count(const struct prism_workers *pool);

/* Posts `msg` to worker `w` (ownership moves). Control thread. */
void prism_workers_post(struct prism_workers *pool, unsigned w, struct prism_worker_msg *msg);

#endif
