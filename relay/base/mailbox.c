/* Mailbox (see mailbox.h). */
#include "relay/base/mailbox.h"
#include "relay/base/error.h"

static struct prism_mail *take_all(struct prism_mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    struct prism_mail *head = mb->head;
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->lock);
    return head;
}

static void deliver(struct prism_mailbox *mb)
{
    for (struct prism_mail *m = take_all(mb); m != NULL;) {
        struct prism_mail *next = m->next;
        m->next = NULL;
        mb->cb(mb->ud, m);
        m = next;
    }
}

static void on_async(uv_async_t *async)
{
    deliver(async->data);
}

int prism_mailbox_init(struct prism_mailbox *mb, uv_loop_t *loop, prism_mailbox_cb cb, void *ud)
{
    mb->head = mb->tail = NULL;
    mb->cb = cb;
    mb->ud = ud;
    if (pthread_mutex_init(&mb->lock, NULL) != 0)
        return PRISM_EIO;
    if (uv_async_init(loop, &mb->async, on_async) != 0) {
        pthread_mutex_destroy(&mb->lock);
        return PRISM_EIO;
    }
    mb->async.data = mb;
    return 0;
}

void prism_mailbox_post(struct prism_mailbox *mb, struct prism_mail *mail)
{
    mail->next = NULL;
    pthread_mutex_lock(&mb->lock);
    if (mb->tail != NULL)
        mb->tail->next = mail;
    else
        mb->head = mail;
    mb->tail = mail;
    pthread_mutex_unlock(&mb->lock);
    uv_async_send(&mb->async);
}

void prism_mailbox_close(struct prism_mailbox *mb)
{
    deliver(mb);
    uv_close((uv_handle_t *)&mb->async, NULL);
}
