/* Worker threads (see worker.h).
 *
 * Each worker owns a uv loop and a mailbox. Today a worker keeps the set of
 * bubbles placed on it; the media plane (transports, router) hangs off these
 * bubbles. STOP closes the mailbox so the loop runs out of handles and ends.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <glib.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/worker.h"

struct worker {
    unsigned index;
    pthread_t thread;
    uv_loop_t loop;                /* owned by the thread */
    struct prism_mailbox inbox;    /* control -> worker */
    GHashTable *bubbles;           /* handle -> (unused) marker; worker thread only */
    atomic_uint_fast32_t n_bubbles; /* written by the worker, read by stats */
};

struct prism_workers {
    unsigned n;
    struct worker *w;
};

struct prism_worker_msg *prism_worker_msg_new(enum prism_worker_msg_type type)
{
    struct prism_worker_msg *msg = calloc(1, sizeof(*msg));
    PRISM_CHECK(msg != NULL);
    msg->type = type;
    return msg;
}

static void on_mail(void *ud, struct prism_mail *mail)
{
    struct worker *w = ud;
    struct prism_worker_msg *msg = (struct prism_worker_msg *)mail;
    switch (msg->type) {
    case PRISM_WORKER_BUBBLE_OPEN:
        g_hash_table_add(w->bubbles, g_memdup2(&msg->bubble_handle, sizeof(uint64_t)));
        break;
    case PRISM_WORKER_BUBBLE_CLOSE:
        g_hash_table_remove(w->bubbles, &msg->bubble_handle);
        break;
    case PRISM_WORKER_STOP:
        uv_close((uv_handle_t *)&w->inbox.async, NULL);
        break;
    }
    atomic_store(&w->n_bubbles, g_hash_table_size(w->bubbles));
    free(msg);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

int prism_workers_start(unsigned n, struct prism_workers **out)
{
    PRISM_CHECK(n >= 1);
    struct prism_workers *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return PRISM_ENOMEM;
    pool->w = calloc(n, sizeof(*pool->w));
    if (pool->w == NULL) {
        free(pool);
        return PRISM_ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &pool->w[i];
        w->index = i;
        w->bubbles = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        if (uv_loop_init(&w->loop) != 0 || prism_mailbox_init(&w->inbox, &w->loop, on_mail, w) != 0)
            goto fail;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            goto fail;
        pool->n = i + 1;
    }
    *out = pool;
    return 0;
fail:
    prism_workers_stop(pool);
    return PRISM_EIO;
}

void prism_workers_stop(struct prism_workers *pool)
{
    if (pool == NULL)
        return;
    for (unsigned i = 0; i < pool->n; i++)
        prism_workers_post(pool, i, prism_worker_msg_new(PRISM_WORKER_STOP));
    for (unsigned i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        pthread_join(w->thread, NULL);
        uv_loop_close(&w->loop);
        pthread_mutex_destroy(&w->inbox.lock);
        g_hash_table_destroy(w->bubbles);
    }
    free(pool->w);
    free(pool);
}

unsigned prism_workers_count(const struct prism_workers *pool)
{
    return pool->n;
}

void prism_workers_post(struct prism_workers *pool, unsigned w, struct prism_worker_msg *msg)
{
    PRISM_CHECK(w < pool->n);
    prism_mailbox_post(&pool->w[w].inbox, &msg->mail);
}

uint32_t prism_workers_bubbles(const struct prism_workers *pool, unsigned w)
{
    PRISM_CHECK(w < pool->n);
    return (uint32_t)atomic_load_explicit(&pool->w[w].n_bubbles, memory_order_relaxed);
}
