/* Batched UDP sending (see udp_send.h).
 *
 * sendmmsg stops at the first message that fails and reports only the ones
 * before it, so after a partial send the next call starts at that message
 * and gets its error:
 * - a full socket buffer (EAGAIN, ENOBUFS) ends the batch: media is
 *   real-time and the next loop iteration brings fresher packets;
 * - an error GSO can cause, on a message of several segments (no checksum
 *   offload: EIO; a segment above the path MTU: EMSGSIZE, EINVAL before
 *   Linux 6.x), turns GSO off for this path and the message is tried again
 *   without it;
 * - any other error on a message of several segments is tried again
 *   without GSO for that call only, so that it falls on one datagram;
 * - one datagram the kernel refuses (EPERM from a firewall rule, EMSGSIZE,
 *   an unreachable route) is marked refused and skipped: the rest of the
 *   batch still goes (issue 9, finding 13). At most 2n + 1 sendmmsg calls;
 * - an error of the socket itself (EBADF, ...) ends the batch.
 */
#include "relay/net/udp_send.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/net/tcp_send.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* One GSO message: at most this many segments (the kernel's UDP_MAX_SEGMENTS
 * is 64 or more) and bytes (an IP datagram carries at most 65,507). */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 60000

/* Sends pkts[0..n) (n <= PRISM_UDP_BATCH_MAX) with one sendmmsg on the
 * path. With `gso`, a run of datagrams of one size, optionally ended
 * by one shorter datagram, goes as one message with a UDP_SEGMENT cmsg (the
 * kernel requires every segment but the last to be exactly that size).
 * Returns the datagrams sent (messages are all-or-nothing), or -errno when
 * the first message failed; *first_segs is the datagrams in the first
 * message. */
static int direct_send(struct prism_udp_path *p, const struct prism_ice_datagram *pkts, size_t n,
                       bool gso, size_t *first_segs)
{
    struct iovec iov[PRISM_UDP_BATCH_MAX];
    struct mmsghdr msg[PRISM_UDP_BATCH_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl[PRISM_UDP_BATCH_MAX];
    unsigned n_segs[PRISM_UDP_BATCH_MAX];
    unsigned n_msg = 0;

    for (size_t i = 0; i < n; i++) {
        iov[i].iov_base = (void *)pkts[i].data;
        iov[i].iov_len = pkts[i].len;
    }
    for (size_t i = 0; i < n;) {
        size_t seg = pkts[i].len, total = seg, j = i + 1;
        if (gso) {
            while (j < n && j - i < GSO_MAX_SEGMENTS && pkts[j].len <= seg &&
                   total + pkts[j].len <= GSO_MAX_BYTES) {
                total += pkts[j].len;
                if (pkts[j++].len < seg)
                    break; /* a shorter datagram ends the run */
            }
        }
        struct msghdr *h = &msg[n_msg].msg_hdr;
        *h = (struct msghdr){
            .msg_name = &p->to,
            .msg_namelen = p->to_len,
            .msg_iov = &iov[i],
            .msg_iovlen = j - i,
        };
        if (j - i > 1) {
            memset(&ctl[n_msg], 0, sizeof(ctl[n_msg]));
            h->msg_control = ctl[n_msg].buf;
            h->msg_controllen = sizeof(ctl[n_msg].buf);
            struct cmsghdr *cm = CMSG_FIRSTHDR(h);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg16 = (uint16_t)seg;
            memcpy(CMSG_DATA(cm), &seg16, sizeof(seg16));
        }
        n_segs[n_msg++] = (unsigned)(j - i);
        i = j;
    }
    *first_segs = n_segs[0];
    int r;
    do
        r = sendmmsg(p->fd, msg, n_msg, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    int sent = 0;
    for (int m = 0; m < r; m++)
        sent += (int)n_segs[m];
    return sent;
}

/* A send error that says nothing of the datagram: the socket itself is
 * unusable, and so is the rest of the batch. */
static bool socket_error(int err)
{
    return err == -EBADF || err == -ENOTSOCK || err == -EFAULT || err == -EDESTADDRREQ ||
           err == -ENOTCONN || err == -EPIPE;
}

/* The batch, as the file header tells. Returns the datagrams done with
 * (sent or refused), or PRISM_EIO when the socket failed before the first. */
static int direct_send_batch(struct prism_udp_path *p, struct prism_ice_datagram *pkts, size_t n)
{
    size_t done = 0;
    bool no_gso_once = false;
    while (done < n) {
        size_t chunk = n - done < PRISM_UDP_BATCH_MAX ? n - done : PRISM_UDP_BATCH_MAX;
        size_t first_segs = 1;
        int r = direct_send(p, pkts + done, chunk, p->gso && !no_gso_once, &first_segs);
        no_gso_once = false;
        if (r == 0 || r == -EAGAIN || r == -ENOBUFS) /* the socket buffer is full */
            break;
        if (r > 0) {
            for (size_t i = done; i < done + (size_t)r; i++)
                pkts[i].refused = false;
            done += (size_t)r;
            continue;
        }
        if (socket_error(r))
            return done > 0 ? (int)done : PRISM_EIO;
        if (first_segs > 1) {
            if (r == -EIO || r == -EINVAL || r == -EMSGSIZE || r == -ENOPROTOOPT ||
                r == -EOPNOTSUPP)
                p->gso = false;
            else
                no_gso_once = true;
            continue;
        }
        pkts[done++].refused = true;
    }
    return (int)done;
}

int prism_udp_send_batch(struct prism_udp_path *path, struct prism_ice_datagram *pkts, size_t n)
{
    if (path->fd < 0)
        return PRISM_EIO;
    if (path->tcp)
        return prism_tcp_outq_send(path->tcp, path->fd, pkts, n);
    return direct_send_batch(path, pkts, n);
}

void prism_udp_set_recv_buffer(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

void prism_udp_set_send_buffer(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

void prism_udp_set_buffers(int fd, int bytes)
{
    prism_udp_set_recv_buffer(fd, bytes);
    prism_udp_set_send_buffer(fd, bytes);
}
