/* Batched UDP sending to one address: one sendmmsg per batch, runs of
 * equal-size datagrams as one UDP GSO message each (UDP_SEGMENT, Linux
 * 4.18+); and the socket buffers the relay's UDP sockets (libnice's, the
 * workers' media sockets) ask for, so a keyframe burst fits.
 *
 * Owns nothing: a struct prism_udp_path names a socket it does not own (a
 * libnice agent's for a client transport, the worker's media socket for a
 * relay transport) and the destination. Thread: whoever owns the socket's
 * user (one worker); no locks, no allocation.
 */
#ifndef PRISM_RELAY_UDP_SEND_H
#define PRISM_RELAY_UDP_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Datagrams per sendmmsg. */
#define PRISM_UDP_BATCH_MAX 64

/* One datagram to send: `len` bytes at `data`. (Named for the ICE module
 * that defined it first; the egress queues hold these.) */
struct prism_ice_datagram {
    const uint8_t *data;
    size_t len;
    bool refused; /* out: the kernel refused this one datagram */
};

struct prism_tcp_outq;

/* A socket and a destination. */
struct prism_udp_path {
    int fd;                     /* -1: nowhere to send yet */
    struct sockaddr_storage to; /* destination */
    socklen_t to_len;           /* bytes of `to` in use */
    bool gso;                   /* UDP_SEGMENT not refused yet on this path */
    struct prism_tcp_outq *tcp; /* NULL: UDP; else an ICE-TCP connection's queue
                                   (relay/net/tcp_send.h), `fd` its socket */
};

/* Sends pkts[0..n) in order to path->to on path->fd, PRISM_UDP_BATCH_MAX
 * per sendmmsg, never blocking. (On an ICE-TCP path, framed on the
 * connection instead: prism_tcp_outq_send(), which returns n with `refused`
 * set on what its queue had no room for.) Returns how many of the first datagrams it
 * is done with, r (fewer than `n` when the socket buffer is full), or
 * PRISM_EIO when fd is -1 or the socket failed before the first. Of
 * pkts[0..r), `refused` is set on each the kernel refused alone (a firewall
 * rule's EPERM, EMSGSIZE, no route: skipped, the rest still sent). A GSO
 * send the route refuses turns path->gso off and is retried without it. */
int prism_udp_send_batch(struct prism_udp_path *path, struct prism_ice_datagram *pkts, size_t n);

/* Asks for `bytes` of receive and of send buffer on the socket `fd`: beyond
 * net.core.[rw]mem_max when privileged (SO_*BUFFORCE), else as much as
 * those limits allow. Best effort: a socket keeps the buffers it gets.
 * Control path (once per socket). */
void prism_udp_set_buffers(int fd, int bytes);

/* The same for the receive buffer alone, and for the send buffer alone. */
void prism_udp_set_recv_buffer(int fd, int bytes);
void prism_udp_set_send_buffer(int fd, int bytes);

#endif
