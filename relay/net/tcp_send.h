/* Framed sending on one ICE-TCP connection (RFC 6544, RFC 4571 framing)
 * with a bounded output queue.
 *
 * Owns: struct prism_tcp_outq, one per connection (caller-owned storage):
 * a ring of PRISM_TCP_OUTQ_BYTES holding stream bytes the kernel has not
 * taken yet. Does not own the socket. Thread: the worker owning the
 * connection; no locks.
 *
 * A send is one sendmsg (a writev with MSG_DONTWAIT | MSG_NOSIGNAL) of
 * whatever the ring holds followed by each new packet as two iovecs (its
 * 2-byte length, then the packet where it lies: no copy): the egress
 * flushes a transport's batch here once per loop iteration, so a batch of
 * 64 packets is one syscall, as with sendmmsg on UDP. Only what the kernel
 * did not take is copied into the ring (a partial frame included, so the
 * stream stays framed). A new packet that would not fit in the ring's free
 * room is not sent at all: it is marked refused (the caller counts it),
 * never waited for. The ring never grows; the caller polls the socket for
 * writability while prism_tcp_outq_pending() is non-zero and calls
 * prism_tcp_outq_flush() then.
 *
 * Cost: compared with UDP, a 2-byte header iovec per packet, and a copy
 * of what the kernel refuses (its send buffer full: the peer reads slowly).
 */
#ifndef PRISM_RELAY_TCP_SEND_H
#define PRISM_RELAY_TCP_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/net/udp_send.h"

/* Output queue per connection: ~300 ms of a 3 Mbit/s subscriber on top of
 * the kernel's send buffer; beyond that, real-time media is better dropped
 * than late. */
#define PRISM_TCP_OUTQ_BYTES (128 * 1024)

struct prism_tcp_outq {
    uint8_t *ring;                         /* PRISM_TCP_OUTQ_BYTES; NULL before init */
    size_t head;                           /* offset of the oldest pending byte */
    size_t len;                            /* pending bytes */
    bool failed;                           /* a send found the connection broken */
    uint64_t *dropped;                     /* owner's counter: packets refused for want of
                                              room (NULL: none) */
    void (*wake)(struct prism_tcp_outq *); /* the owner's: called after a send that left
                                             bytes pending or failed (poll for writable) */
};

/* Allocates the ring (when a connection is bound, not per packet) and sets
 * the owner's `wake`. Returns 0 or PRISM_ENOMEM. */
int prism_tcp_outq_init(struct prism_tcp_outq *q, void (*wake)(struct prism_tcp_outq *));

/* Frees the ring. Accepts a queue never initialised (zeroed). */
void prism_tcp_outq_deinit(struct prism_tcp_outq *q);

/* Sends pkts[0..n) framed on `fd` after what the queue holds, as the file
 * header tells; sets `refused` on each packet not taken (no room, or the
 * queue not initialised yet: counted in *dropped). Returns
 * n, or PRISM_EIO when the connection failed (reset, closed: every packet
 * refused, `failed` set). Either way `wake` runs when bytes are left
 * pending or the connection failed. Packets are 1 to 65,535 bytes. */
int prism_tcp_outq_send(struct prism_tcp_outq *q, int fd, struct prism_ice_datagram *pkts,
                        size_t n);

/* Writes what the queue holds (the socket became writable). Returns 0 or
 * PRISM_EIO (connection failed). */
int prism_tcp_outq_flush(struct prism_tcp_outq *q, int fd);

/* Bytes waiting in the queue. */
static inline size_t prism_tcp_outq_pending(const struct prism_tcp_outq *q)
{
    return q->len;
}

#endif
