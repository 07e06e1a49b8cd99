/* A mailbox: a multi-producer, single-consumer queue of messages into one
 * libuv loop, woken by uv_async_send.
 *
 * Used for control -> worker and worker -> control messages, never per
 * packet. Producers on any thread post; the consumer loop drains the whole
 * queue in one wake-up (uv_async coalesces sends) in post order. Ownership: the
 * sender allocates a message, the consumer's handler frees it.
 */
#ifndef PRISM_RELAY_MAILBOX_H
#define PRISM_RELAY_MAILBOX_H

#include <pthread.h>

#include <uv.h>

/* Embed as the first member of a message. */
struct prism_mail {
    struct prism_mail *next; /* owned by the mailbox while queued */
};

typedef void (*prism_mailbox_cb)(void *ud, struct prism_mail *mail);

struct prism_mailbox {
    uv_async_t async;     /* on the consumer's loop */
    pthread_mutex_t lock; /* guards head/tail */
    struct prism_mail *head;
    struct prism_mail *tail;
    prism_mailbox_cb cb; /* consumer's handler: takes ownership of each mail */
    void *ud;
};

/* Initialises on the consumer's thread and loop. Returns 0 or PRISM_EIO. */
int prism_mailbox_init(struct prism_mailbox *mb, uv_loop_t *loop, prism_mailbox_cb cb, void *ud);

/* Queues `mail` (ownership moves to the consumer) and wakes the consumer.
 * Any thread. */
void prism_mailbox_post(struct prism_mailbox *mb, struct prism_mail *mail);

/* Closes the async handle (consumer thread); undelivered mails are handed to
 * the handler first so nothing leaks. */
void prism_mailbox_close(struct prism_mailbox *mb);

#endif
