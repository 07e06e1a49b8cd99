/* Framed sending on an ICE-TCP connection (see tcp_send.h).
 *
 * The ring is addressed modulo PRISM_TCP_OUTQ_BYTES: pending bytes are at
 * most two spans (up to the end of the ring, then from its start), so a
 * send's iovec list is at most 2 + 2 * PRISM_UDP_BATCH_MAX long, well under
 * IOV_MAX.
 */
#include "relay/net/tcp_send.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/net/tcp_frame.h"

#define MAX_IOV (2 + 2 * PRISM_UDP_BATCH_MAX)

int prism_tcp_outq_init(struct prism_tcp_outq *q, void (*wake)(struct prism_tcp_outq *))
{
    q->head = 0;
    q->len = 0;
    q->failed = false;
    q->wake = wake;
    q->ring = malloc(PRISM_TCP_OUTQ_BYTES);
    return q->ring ? 0 : PRISM_ENOMEM;
}

void prism_tcp_outq_deinit(struct prism_tcp_outq *q)
{
    free(q->ring);
    q->ring = NULL;
    q->head = 0;
    q->len = 0;
}

/* The pending bytes as up to two iovecs; returns how many. */
static int ring_iov(const struct prism_tcp_outq *q, struct iovec *iov)
{
    if (q->len == 0)
        return 0;
    size_t first = PRISM_TCP_OUTQ_BYTES - q->head;
    if (first >= q->len) {
        iov[0] = (struct iovec){q->ring + q->head, q->len};
        return 1;
    }
    iov[0] = (struct iovec){q->ring + q->head, first};
    iov[1] = (struct iovec){q->ring, q->len - first};
    return 2;
}

static void ring_consume(struct prism_tcp_outq *q, size_t n)
{
    q->head = (q->head + n) % PRISM_TCP_OUTQ_BYTES;
    q->len -= n;
    if (q->len == 0)
        q->head = 0; /* keeps the next spans contiguous */
}

static void ring_append(struct prism_tcp_outq *q, const uint8_t *data, size_t n)
{
    PRISM_CHECK(q->len + n <= PRISM_TCP_OUTQ_BYTES);
    size_t tail = (q->head + q->len) % PRISM_TCP_OUTQ_BYTES;
    size_t first = PRISM_TCP_OUTQ_BYTES - tail < n ? PRISM_TCP_OUTQ_BYTES - tail : n;
    memcpy(q->ring + tail, data, first);
    memcpy(q->ring, data + first, n - first);
    q->len += n;
}

/* One sendmsg of iov[0..n_iov). Returns bytes taken (0 when the socket
 * buffer is full) or PRISM_EIO. */
static ssize_t write_iov(int fd, struct iovec *iov, int n_iov)
{
    if (n_iov == 0)
        return 0;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
    ssize_t w;
    do
        w = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w >= 0)
        return w;
    /* EAGAIN is EWOULDBLOCK on Linux. */
    return errno == EAGAIN || errno == ENOBUFS ? 0 : PRISM_EIO;
}

/* Up to PRISM_UDP_BATCH_MAX packets: one sendmsg. */
static int send_chunk(struct prism_tcp_outq *q, int fd, struct prism_ice_datagram *pkts, size_t n)
{
    struct iovec iov[MAX_IOV];
    uint8_t hdr[PRISM_UDP_BATCH_MAX][2];
    int n_iov = ring_iov(q, iov), n_ring = n_iov;
    /* Only packets the ring could hold whole are offered: whatever part the
     * kernel leaves then fits, and nothing is ever cut out of the stream. */
    size_t room = PRISM_TCP_OUTQ_BYTES - q->len;
    for (size_t i = 0; i < n; i++) {
        size_t need = 2 + pkts[i].len;
        pkts[i].refused = need > room;
        if (pkts[i].refused) {
            if (q->dropped)
                (*q->dropped)++;
            continue;
        }
        room -= need;
        prism_tcp_frame_header(hdr[i], pkts[i].len);
        iov[n_iov++] = (struct iovec){hdr[i], 2};
        iov[n_iov++] = (struct iovec){(void *)pkts[i].data, pkts[i].len};
    }
    ssize_t w = write_iov(fd, iov, n_iov);
    if (w < 0)
        return PRISM_EIO;
    size_t taken = (size_t)w;
    for (int i = 0; i < n_iov; i++) {
        size_t len = iov[i].iov_len, used = taken < len ? taken : len;
        taken -= used;
        if (i < n_ring)
            ring_consume(q, used);
        else if (used < len)
            ring_append(q, (const uint8_t *)iov[i].iov_base + used, len - used);
    }
    return 0;
}

int prism_tcp_outq_send(struct prism_tcp_outq *q, int fd, struct prism_ice_datagram *pkts, size_t n)
{
    int r = (int)n;
    if (!q->ring) {
        for (size_t i = 0; i < n; i++)
            pkts[i].refused = true;
        if (q->dropped)
            *q->dropped += n;
        return r;
    }
    for (size_t done = 0; done < n && !q->failed; done += PRISM_UDP_BATCH_MAX) {
        size_t chunk = n - done < PRISM_UDP_BATCH_MAX ? n - done : PRISM_UDP_BATCH_MAX;
        if (send_chunk(q, fd, pkts + done, chunk) != 0)
            q->failed = true;
    }
    if (q->failed) {
        /* A broken connection: nothing of this call counts as sent. */
        for (size_t i = 0; i < n; i++)
            pkts[i].refused = true;
        r = PRISM_EIO;
    }
    if ((q->len > 0 || q->failed) && q->wake)
        q->wake(q);
    return r;
}

int prism_tcp_outq_flush(struct prism_tcp_outq *q, int fd)
{
    struct iovec iov[2];
    int n_iov = ring_iov(q, iov);
    ssize_t w = write_iov(fd, iov, n_iov);
    if (w < 0) {
        q->failed = true;
        return PRISM_EIO;
    }
    ring_consume(q, (size_t)w);
    return 0;
}
