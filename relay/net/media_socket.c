/* A worker's UDP media socket (see media_socket.h).
 *
 * Residence time: each read asks the kernel for its receive timestamp
 * (SO_TIMESTAMPNS, CLOCK_REALTIME, one control message per read); the
 * reads of one loop iteration are kept as (timestamp, datagrams) pairs and
 * settled against one clock read after the egress flush that sends what
 * they became. Per datagram that is a comparison and an add, no syscall.
 *
 * The receive buffers are shared by the worker's sockets (they are read one
 * after the other, and a datagram is handled before the next read): one
 * block of PRISM_MSOCK_BATCH buffers of RECV_BUF_BYTES, large enough for a
 * GRO read, touched only as far as datagrams fill them. A GRO read is cut
 * back into datagrams in place; one that starts off SEGMENT_ALIGN is moved
 * down to the aligned address below it, into bytes of the segments before
 * it, which were handled already (one memmove of a datagram, in cache).
 */
#include "relay/net/media_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/net/udp_send.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* The largest UDP payload, which a GRO read may reach. */
#define RECV_BUF_BYTES 65536

/* Shared by every transport of the worker: a keyframe burst of several
 * peers must fit while the worker is busy (SO_*BUFFORCE when privileged,
 * else as much as net.core.[rw]mem_max allows). */
#define SOCKET_BUF_BYTES (4 << 20)

/* Where a datagram is handed on: libsrtp reads the RTP header through
 * struct srtp_hdr_t and the payload by 32-bit words, which is undefined
 * behaviour (UBSan aborts the relay) at an address that is not a multiple
 * of 4; 8 leaves room for a 64-bit read. A read starts aligned (malloc);
 * a GRO read's later segments start wherever the segment size puts them. */
#define SEGMENT_ALIGN 8

/* Reads one iteration can make: every socket's budget of full batches. */
#define PENDING_MAX (PRISM_MSOCK_MAX_ADDRS * PRISM_MSOCK_BUDGET * PRISM_MSOCK_BATCH)

struct msock {
    int fd;      /* receives (the poll reads it) */
    int send_fd; /* sends: same address and port, nobody waits on it (see send_twin) */
    int tcp_fd;  /* listening ICE-TCP socket on the same port, -1: none (handed to
                    tcp_media once open) */
    uv_poll_t poll;
    struct prism_media_socket *ms;
    char ip[INET6_ADDRSTRLEN]; /* bound address */
    int family;
};

struct prism_media_socket {
    uv_loop_t *loop;
    struct prism_ice_lite *lite;
    struct prism_tcp_media *tcp; /* NULL: ICE-TCP off */
    struct msock socks[PRISM_MSOCK_MAX_ADDRS];
    size_t n_socks;
    uint16_t port;
    char advertise_ip[INET6_ADDRSTRLEN]; /* "" : none */
    int advertise_family;
    int pending_closes; /* poll handles still closing */
    uint8_t *bufs;      /* PRISM_MSOCK_BATCH * RECV_BUF_BYTES */
    struct mmsghdr msgs[PRISM_MSOCK_BATCH];
    struct iovec iov[PRISM_MSOCK_BATCH];
    struct sockaddr_storage from[PRISM_MSOCK_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl[PRISM_MSOCK_BATCH];
    struct {
        uint64_t rx_ns;     /* the kernel's receive time, CLOCK_REALTIME */
        uint32_t n;         /* datagrams in that read (a GRO read: several) */
    } pending[PENDING_MAX]; /* reads since the last settle */
    size_t n_pending;
    struct prism_delay_hist delay; /* settled residence times, monotonic */
};

/* --- receive ------------------------------------------------------------------ */

void prism_media_socket_demux(struct prism_media_socket *ms, int fd, uint8_t *data, size_t len,
                              const struct sockaddr_storage *from, socklen_t from_len)
{
    uint64_t now = uv_now(ms->loop);
    if (len > 0 && data[0] <= 3) {
        uint8_t reply[PRISM_LITE_REPLY_MAX];
        size_t reply_len = 0;
        if (prism_ice_lite_on_stun(ms->lite, data, len, from, from_len, fd, now, reply,
                                   &reply_len) == PRISM_LITE_REPLY &&
            fd >= 0)
            /* A lost reply is the checking agent's to retransmit. */
            (void)sendto(fd, reply, reply_len, MSG_DONTWAIT, (const struct sockaddr *)from,
                         from_len);
        return;
    }
    prism_ice_lite_on_datagram(ms->lite, data, len, from, from_len, now);
}

/* The GRO segment size of message `m` (0 when it holds one datagram), and
 * its kernel receive time (left as is when the kernel gave none). */
static size_t read_cmsgs(struct mmsghdr *m, uint64_t *rx_ns)
{
    size_t seg = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg_hdr); c; c = CMSG_NXTHDR(&m->msg_hdr, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int v;
            memcpy(&v, CMSG_DATA(c), sizeof(v));
            seg = v > 0 ? (size_t)v : 0;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            *rx_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        }
    }
    return seg;
}

static void note_read(struct prism_media_socket *ms, uint64_t rx_ns, uint32_t n)
{
    if (rx_ns == 0 || ms->n_pending == PENDING_MAX)
        return;
    ms->pending[ms->n_pending].rx_ns = rx_ns;
    ms->pending[ms->n_pending].n = n;
    ms->n_pending++;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct msock *s = h->data;
    struct prism_media_socket *ms = s->ms;
    (void)events;
    if (status < 0)
        return;
    for (int round = 0; round < PRISM_MSOCK_BUDGET; round++) {
        for (size_t i = 0; i < PRISM_MSOCK_BATCH; i++) {
            ms->iov[i].iov_base = ms->bufs + i * RECV_BUF_BYTES;
            ms->iov[i].iov_len = RECV_BUF_BYTES;
            ms->msgs[i].msg_hdr = (struct msghdr){
                .msg_name = &ms->from[i],
                .msg_namelen = sizeof(ms->from[i]),
                .msg_iov = &ms->iov[i],
                .msg_iovlen = 1,
                .msg_control = ms->ctl[i].buf,
                .msg_controllen = sizeof(ms->ctl[i].buf),
            };
        }
        int n = recvmmsg(s->fd, ms->msgs, PRISM_MSOCK_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN: drained; other errors (ICMP reports) wait for the next wake */
        for (int i = 0; i < n; i++) {
            struct mmsghdr *m = &ms->msgs[i];
            uint8_t *data = ms->iov[i].iov_base;
            uint64_t rx_ns = 0;
            size_t len = m->msg_len, seg = read_cmsgs(m, &rx_ns);
            if (seg == 0 || seg >= len) {
                note_read(ms, rx_ns, 1);
                prism_media_socket_demux(ms, s->send_fd, data, len, &ms->from[i],
                                         m->msg_hdr.msg_namelen);
                continue;
            }
            note_read(ms, rx_ns, (uint32_t)((len + seg - 1) / seg));
            for (size_t off = 0; off < len; off += seg) {
                size_t n_bytes = len - off < seg ? len - off : seg;
                uint8_t *at = data + (off & ~(size_t)(SEGMENT_ALIGN - 1));
                if (at != data + off)
                    memmove(at, data + off, n_bytes);
                prism_media_socket_demux(ms, s->send_fd, at, n_bytes, &ms->from[i],
                                         m->msg_hdr.msg_namelen);
            }
        }
        if (n < PRISM_MSOCK_BATCH)
            return;
    }
}

/* --- open and close --------------------------------------------------------------- */

static bool parse_ip(const char *ip, struct sockaddr_storage *sa, socklen_t *len)
{
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        *len = sizeof(*in);
        return true;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        *len = sizeof(*in6);
        return true;
    }
    return false;
}

/* A non-blocking socket of `type` (SOCK_DGRAM, SOCK_STREAM) bound to `ip`
 * and `port`; an IPv6 one takes IPv6 only. Returns the fd, or -errno. */
static int bound_socket(const char *ip, uint16_t port, int type)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (!parse_ip(ip, &sa, &len))
        return -EINVAL;
    int fd = socket(sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    /* TCP: a restarted relay gets its port back despite connections of the
     * previous one in TIME_WAIT. UDP: send_twin() binds a second socket to
     * the same address and port, then takes the option back from both. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
    } else {
        ((struct sockaddr_in *)&sa)->sin_port = htons(port);
    }
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* The sending twin of the receiving UDP socket `fd` bound to `ip` and
 * `port`: a second socket on the same address and port that only sends.
 *
 * Why: every datagram sent from a socket is charged back to it when the
 * kernel lets go of it (on loopback at once), and that wakes whoever
 * waits on the socket, which for the receiving socket is the worker's own
 * epoll: a lock and a callback per datagram sent, about 8 % of the relay's
 * CPU in a 1 x 10 call (perf, sock_wfree). Nobody waits on the twin.
 *
 * It never takes a datagram away from `fd`: it is connected to its own
 * address and port, so the kernel hands it only datagrams from itself,
 * which nobody sends (a sender on a connected UDP socket may still name
 * any destination). SO_REUSEADDR, which let the two share the port, is
 * then taken back from both, so no third socket can bind it (only one
 * that asks for SO_REUSEADDR itself, in the microseconds between the two
 * binds, could). Returns the twin's fd, or -errno. */
static int send_twin(int fd, const char *ip, uint16_t port)
{
    int tw = bound_socket(ip, port, SOCK_DGRAM);
    if (tw < 0)
        return tw;
    struct sockaddr_storage self;
    socklen_t self_len = sizeof(self);
    int zero = 0, small = 4096; /* it never receives */
    if (getsockname(tw, (struct sockaddr *)&self, &self_len) != 0 ||
        connect(tw, (struct sockaddr *)&self, self_len) != 0) {
        int e = -errno;
        close(tw);
        return e;
    }
    setsockopt(tw, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(tw, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
    prism_udp_set_send_buffer(tw, SOCKET_BUF_BYTES);
    return tw;
}

/* A non-blocking UDP socket bound to `ip` and `port`, with a large buffer and
 * UDP GRO asked for, and its sending twin in *send_fd. Returns the fd, or
 * -errno. */
static int bind_one(const char *ip, uint16_t port, int *send_fd)
{
    int fd = bound_socket(ip, port, SOCK_DGRAM);
    if (fd < 0)
        return fd;
    int tw = send_twin(fd, ip, port);
    if (tw < 0) {
        close(fd);
        return tw;
    }
    *send_fd = tw;
    prism_udp_set_recv_buffer(fd, SOCKET_BUF_BYTES); /* the twin sends */
    int one = 1;
    /* Not every kernel has it: without, one datagram per read. */
    (void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
    /* Without, no residence time is measured; media flows as before. */
    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    return fd;
}

/* Every non-loopback, up interface address (IPv6 link-local excluded: a
 * candidate cannot say its scope). */
static size_t interface_addrs(char (*out)[INET6_ADDRSTRLEN], size_t max)
{
    struct ifaddrs *ifs = NULL;
    size_t n = 0;
    if (getifaddrs(&ifs) != 0)
        return 0;
    for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out[n++],
                      INET6_ADDRSTRLEN);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (!IN6_IS_ADDR_LINKLOCAL(a))
                inet_ntop(AF_INET6, a, out[n++], INET6_ADDRSTRLEN);
        }
    }
    freeifaddrs(ifs);
    return n;
}

/* A non-blocking TCP socket listening on `ip` and `port`. Returns the fd,
 * or -errno. */
static int listen_one(const char *ip, uint16_t port)
{
    int fd = bound_socket(ip, port, SOCK_STREAM);
    if (fd < 0)
        return fd;
    if (listen(fd, SOMAXCONN) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static void close_fds(struct prism_media_socket *ms)
{
    for (size_t i = 0; i < ms->n_socks; i++) {
        if (ms->socks[i].fd >= 0)
            close(ms->socks[i].fd);
        if (ms->socks[i].send_fd >= 0)
            close(ms->socks[i].send_fd);
        if (ms->socks[i].tcp_fd >= 0)
            close(ms->socks[i].tcp_fd);
    }
}

/* Binds every address on one port of the range; EADDRINUSE on any moves on
 * to the next port. Returns 0 or a PRISM_E code with `err` written. */
static int bind_all(struct prism_media_socket *ms, const struct prism_media_socket_config *cfg,
                    char (*ips)[INET6_ADDRSTRLEN], size_t n_ips, char *err, size_t err_len)
{
    unsigned step = cfg->n_workers > 0 ? cfg->n_workers : 1;
    for (uint32_t port = (uint32_t)cfg->port_min + cfg->index; port <= cfg->port_max;
         port += step) {
        bool in_use = false;
        ms->n_socks = 0;
        for (size_t i = 0; i < n_ips; i++) {
            int send_fd = -1;
            int fd = bind_one(ips[i], (uint16_t)port, &send_fd);
            int tcp_fd = -1;
            const char *proto = "";
            if (fd >= 0 && cfg->tcp_max_connections > 0) {
                tcp_fd = listen_one(ips[i], (uint16_t)port);
                if (tcp_fd < 0) {
                    close(fd);
                    close(send_fd);
                    fd = tcp_fd;
                    proto = " (TCP)";
                }
            }
            if (fd == -EADDRINUSE) {
                in_use = true;
                break;
            }
            if (fd < 0) {
                close_fds(ms);
                ms->n_socks = 0;
                snprintf(err, err_len, "cannot bind media address %s port %u%s: %s", ips[i],
                         (unsigned)port, proto, strerror(-fd));
                return PRISM_EIO;
            }
            struct msock *s = &ms->socks[ms->n_socks++];
            s->fd = fd;
            s->send_fd = send_fd;
            s->tcp_fd = tcp_fd;
            s->ms = ms;
            memcpy(s->ip, ips[i], sizeof(s->ip)); /* both INET6_ADDRSTRLEN */
            s->family = strchr(ips[i], ':') ? AF_INET6 : AF_INET;
        }
        if (!in_use) {
            ms->port = (uint16_t)port;
            return 0;
        }
        close_fds(ms);
        ms->n_socks = 0;
    }
    snprintf(err, err_len, "no free media port for worker %u in %u-%u", cfg->index,
             (unsigned)cfg->port_min, (unsigned)cfg->port_max);
    return PRISM_EIO;
}

int prism_media_socket_open(uv_loop_t *loop, const struct prism_media_socket_config *cfg,
                            struct prism_media_socket **out, char *err, size_t err_len)
{
    char ips[PRISM_MSOCK_MAX_ADDRS][INET6_ADDRSTRLEN];
    size_t n_ips = 0;
    struct sockaddr_storage sa;
    socklen_t sa_len;

    snprintf(err, err_len, "invalid media socket configuration");
    if (cfg->n_addrs > PRISM_MSOCK_MAX_ADDRS || cfg->port_min == 0 ||
        cfg->port_min > cfg->port_max || (cfg->n_addrs > 0 && !cfg->addrs))
        return PRISM_EINVAL;
    for (size_t i = 0; i < cfg->n_addrs; i++) {
        if (!parse_ip(cfg->addrs[i], &sa, &sa_len))
            return PRISM_EINVAL;
        /* Canonical text, as the candidates will carry it. */
        if (sa.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, ips[n_ips++],
                      INET6_ADDRSTRLEN);
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, ips[n_ips++],
                      INET6_ADDRSTRLEN);
    }
    if (cfg->n_addrs == 0)
        n_ips = interface_addrs(ips, PRISM_MSOCK_MAX_ADDRS);
    if (cfg->advertise_ip && !parse_ip(cfg->advertise_ip, &sa, &sa_len))
        return PRISM_EINVAL;

    struct prism_media_socket *ms = calloc(1, sizeof(*ms));
    if (!ms)
        return PRISM_ENOMEM;
    ms->loop = loop;
    if (cfg->advertise_ip) {
        /* Canonical text too (parse_ip accepted it). */
        const void *a = sa.ss_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)&sa)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)&sa)->sin6_addr;
        inet_ntop(sa.ss_family, a, ms->advertise_ip, sizeof(ms->advertise_ip));
        ms->advertise_family = sa.ss_family;
    }
    ms->bufs = malloc((size_t)PRISM_MSOCK_BATCH * RECV_BUF_BYTES);
    int r = ms->bufs ? prism_ice_lite_new(&ms->lite) : PRISM_ENOMEM;
    if (r == 0)
        r = bind_all(ms, cfg, ips, n_ips, err, err_len);
    if (r != 0) {
        prism_ice_lite_free(ms->lite);
        free(ms->bufs);
        free(ms);
        return r;
    }
    if (cfg->tcp_max_connections > 0 && ms->n_socks > 0) {
        int fds[PRISM_MSOCK_MAX_ADDRS];
        for (size_t i = 0; i < ms->n_socks; i++) {
            fds[i] = ms->socks[i].tcp_fd;
            ms->socks[i].tcp_fd = -1; /* tcp_media's now, even on failure */
        }
        struct prism_tcp_media_config tc = {
            .fds = fds,
            .n_fds = ms->n_socks,
            .max_connections = cfg->tcp_max_connections,
            .idle_timeout_ms = cfg->tcp_idle_timeout_ms,
        };
        r = prism_tcp_media_new(loop, ms->lite, &tc, &ms->tcp);
        if (r != 0) {
            close_fds(ms);
            prism_ice_lite_free(ms->lite);
            free(ms->bufs);
            free(ms);
            snprintf(err, err_len, "cannot start ICE-TCP: out of memory");
            return r;
        }
    }
    for (size_t i = 0; i < ms->n_socks; i++) {
        struct msock *s = &ms->socks[i];
        /* Cannot fail on a valid socket and an initialised loop. */
        PRISM_CHECK(uv_poll_init(loop, &s->poll, s->fd) == 0);
        s->poll.data = s;
        uv_poll_start(&s->poll, UV_READABLE, on_readable);
    }
    *out = ms;
    return 0;
}

static void on_poll_closed(uv_handle_t *h)
{
    struct msock *s = h->data;
    struct prism_media_socket *ms = s->ms;
    if (--ms->pending_closes > 0)
        return;
    close_fds(ms);
    prism_ice_lite_free(ms->lite);
    free(ms->bufs);
    free(ms);
}

void prism_media_socket_close(struct prism_media_socket *ms)
{
    if (!ms)
        return;
    PRISM_CHECK(prism_ice_lite_count(ms->lite) == 0);
    /* Its connections leave the tables now; it frees itself later. */
    prism_tcp_media_close(ms->tcp);
    ms->tcp = NULL;
    if (ms->n_socks == 0) {
        prism_ice_lite_free(ms->lite);
        free(ms->bufs);
        free(ms);
        return;
    }
    ms->pending_closes = (int)ms->n_socks;
    for (size_t i = 0; i < ms->n_socks; i++) {
        uv_poll_stop(&ms->socks[i].poll);
        uv_close((uv_handle_t *)&ms->socks[i].poll, on_poll_closed);
    }
}

/* --- accessors ---------------------------------------------------------------------- */

struct prism_ice_lite *prism_media_socket_lite(struct prism_media_socket *ms)
{
    return ms->lite;
}

const struct prism_tcp_stats *prism_media_socket_tcp_stats(const struct prism_media_socket *ms)
{
    return ms->tcp ? prism_tcp_media_stats(ms->tcp) : NULL;
}

uint16_t prism_media_socket_port(const struct prism_media_socket *ms)
{
    return ms->port;
}

bool prism_media_socket_loopback(const struct prism_media_socket *ms)
{
    for (size_t i = 0; i < ms->n_socks; i++)
        if (prism_candidate_ip_scope(ms->socks[i].ip) == PRISM_CANDIDATE_SCOPE_LOOPBACK)
            return true;
    return false;
}

size_t prism_media_socket_candidates(const struct prism_media_socket *ms,
                                     char (*out)[PRISM_CANDIDATE_LEN], size_t max)
{
    size_t n = 0;
    size_t rounds = ms->tcp ? 2 : 1;
    for (size_t k = 0; k < rounds * ms->n_socks && n < max; k++) {
        size_t i = k % ms->n_socks;
        bool tcp = k >= ms->n_socks;
        const struct msock *s = &ms->socks[i];
        bool advertised = ms->advertise_ip[0] != '\0' && ms->advertise_family == s->family;
        const char *ip = advertised ? ms->advertise_ip : s->ip;
        /* RFC 8445 §5.1.2.1: host type preference 126, the first address
         * preferred, component 1. A TCP one's local preference is RFC 6544
         * §4.2's: direction 4 (passive host) << 13 plus 8191 - i, below
         * every UDP one's 65535 - i: a client that can use UDP does. */
        uint32_t local = tcp ? (4u << 13) + (uint32_t)(8191 - i) : (uint32_t)(65535 - i);
        struct prism_candidate c = {
            .component = 1,
            .transport = tcp ? PRISM_CANDIDATE_TCP : PRISM_CANDIDATE_UDP,
            .tcptype = tcp ? PRISM_CANDIDATE_TCPTYPE_PASSIVE : PRISM_CANDIDATE_TCPTYPE_NONE,
            .priority = (126u << 24) | (local << 8) | 255u,
            .port = ms->port,
            .type = PRISM_CANDIDATE_HOST,
        };
        /* Foundations differ by transport (RFC 8445 §5.1.1.3). */
        snprintf(c.foundation, sizeof(c.foundation), "%zu", k + 1);
        snprintf(c.address.text, sizeof(c.address.text), "%s", ip);
        c.address.kind = strchr(ip, ':') ? PRISM_CANDIDATE_ADDR_IPV6 : PRISM_CANDIDATE_ADDR_IPV4;
        if (prism_candidate_format(&c, out[n], PRISM_CANDIDATE_LEN) == 0)
            n++;
    }
    return n;
}

void prism_media_socket_settle(struct prism_media_socket *ms)
{
    if (ms->n_pending == 0)
        return;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        for (size_t i = 0; i < ms->n_pending; i++) {
            /* A clock stepped back reads as no delay rather than ~584 years. */
            uint64_t rx = ms->pending[i].rx_ns;
            prism_delay_hist_add(&ms->delay, now > rx ? now - rx : 0, ms->pending[i].n);
        }
    }
    ms->n_pending = 0;
}

const struct prism_delay_hist *prism_media_socket_delay(const struct prism_media_socket *ms)
{
    return &ms->delay;
}
