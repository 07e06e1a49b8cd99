/* prism-bench --limit: bare forwarding loop (see limit.h).
 *
 * Buffers: BATCH input slots and BATCH x K output slots, each with SRTP
 * tailroom, allocated once; the loop allocates nothing. Packets dropped by a
 * full socket are not forwarded and not counted.
 */
#include "bench/limit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "relay/base/error.h"

#define BATCH 64
#define SLOT (1536 + PRISM_SRTP_MAX_TRAILER)
#define MAX_FANOUT 64

struct limit {
    size_t plain_len;
    unsigned k;
    enum prism_srtp_profile profile;
    uint8_t key_in[PRISM_SRTP_MAX_KEY_SALT_LEN];
    size_t key_len;
    int in_sock;                /* the loop receives here */
    int feed_sock;              /* the feeder sends from here to in_sock */
    int out_socks[MAX_FANOUT];  /* the loop sends from these ... */
    int sink_socks[MAX_FANOUT]; /* ... to these, drained by the feeder */
    atomic_bool stop;
    int cpu_feed;
};

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static int udp_bound(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    if (addr != NULL)
        *addr = a;
    return fd;
}

static int connect_to(int fd, const struct sockaddr_in *to)
{
    return connect(fd, (const struct sockaddr *)to, sizeof(*to));
}

/* The feeder: fresh SRTP packets into the loop, and drains the sinks. */
static void *feeder(void *arg)
{
    struct limit *L = arg;
    pin(L->cpu_feed);
    struct prism_srtp *ctx = NULL;
    if (prism_srtp_new(L->profile, L->key_in, L->key_len, true, &ctx) != 0)
        return NULL;
    static uint8_t bufs[BATCH][SLOT];
    static uint8_t drain[BATCH][64];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint16_t seq = 1;
    uint32_t ts = 0;
    while (!atomic_load_explicit(&L->stop, memory_order_relaxed)) {
        for (int i = 0; i < BATCH; i++) {
            uint8_t *p = bufs[i];
            memset(p + 12, 0xA5, L->plain_len - 12);
            p[0] = 0x80;
            p[1] = 96;
            p[2] = (uint8_t)(seq >> 8);
            p[3] = (uint8_t)seq;
            p[4] = (uint8_t)(ts >> 24);
            p[5] = (uint8_t)(ts >> 16);
            p[6] = (uint8_t)(ts >> 8);
            p[7] = (uint8_t)ts;
            p[8] = 0x11;
            p[9] = 0x22;
            p[10] = 0x33;
            p[11] = 0x44;
            seq++;
            ts += 3000;
            size_t len = L->plain_len;
            prism_srtp_protect_rtp(ctx, p, &len);
            iov[i] = (struct iovec){p, len};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        sendmmsg(L->feed_sock, msgs, BATCH, 0);
        /* Drain what the loop sent, like the receiving endpoints would. */
        for (unsigned k = 0; k < L->k; k++) {
            for (;;) {
                struct mmsghdr rm[BATCH];
                struct iovec riov[BATCH];
                for (int i = 0; i < BATCH; i++) {
                    riov[i] = (struct iovec){drain[i], sizeof(drain[i])};
                    rm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &riov[i], .msg_iovlen = 1}};
                }
                int n = recvmmsg(L->sink_socks[k], rm, BATCH, MSG_DONTWAIT, NULL);
                if (n < BATCH)
                    break;
            }
        }
    }
    prism_srtp_free(ctx);
    return NULL;
}

int prism_bench_limit_run(size_t packet_bytes, unsigned fanout, enum prism_srtp_profile profile,
                          double seconds, int cpu_loop, int cpu_feed,
                          struct prism_bench_limit_result *out)
{
    if (packet_bytes < 12 || packet_bytes > 1400 || fanout == 0 || fanout > MAX_FANOUT ||
        seconds <= 0 || out == NULL)
        return PRISM_EINVAL;
    struct limit *L = calloc(1, sizeof(*L));
    uint8_t *in_bufs = malloc((size_t)BATCH * SLOT);
    uint8_t *out_bufs = malloc((size_t)BATCH * SLOT * fanout);
    struct mmsghdr *in_msgs = calloc(BATCH, sizeof(*in_msgs));
    struct iovec *in_iov = calloc(BATCH, sizeof(*in_iov));
    struct mmsghdr *out_msgs = calloc((size_t)BATCH * fanout, sizeof(*out_msgs));
    struct iovec *out_iov = calloc((size_t)BATCH * fanout, sizeof(*out_iov));
    struct prism_srtp *in_ctx = NULL, *out_ctx[MAX_FANOUT] = {NULL};
    int rc = 0;
    if (L != NULL) {
        L->in_sock = L->feed_sock = -1;
        for (unsigned k = 0; k < MAX_FANOUT; k++)
            L->out_socks[k] = L->sink_socks[k] = -1;
    }
    if (!L || !in_bufs || !out_bufs || !in_msgs || !in_iov || !out_msgs || !out_iov) {
        rc = PRISM_ENOMEM;
        goto done;
    }
    L->plain_len = packet_bytes;
    L->k = fanout;
    L->profile = profile;
    L->cpu_feed = cpu_feed;
    L->key_len = prism_srtp_profile_key_len(profile) + prism_srtp_profile_salt_len(profile);
    RAND_bytes(L->key_in, (int)L->key_len);
    struct sockaddr_in in_addr, a;
    L->in_sock = udp_bound(&in_addr);
    L->feed_sock = udp_bound(NULL);
    if (L->in_sock < 0 || L->feed_sock < 0 || connect_to(L->feed_sock, &in_addr) != 0) {
        rc = -errno;
        goto done;
    }
    for (unsigned k = 0; k < fanout; k++) {
        L->sink_socks[k] = udp_bound(&a);
        L->out_socks[k] = udp_bound(NULL);
        if (L->sink_socks[k] < 0 || L->out_socks[k] < 0 || connect_to(L->out_socks[k], &a) != 0) {
            rc = -errno;
            goto done;
        }
    }
    rc = prism_srtp_new(profile, L->key_in, L->key_len, false, &in_ctx);
    for (unsigned k = 0; rc == 0 && k < fanout; k++) {
        uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN];
        RAND_bytes(key, (int)L->key_len);
        rc = prism_srtp_new(profile, key, L->key_len, true, &out_ctx[k]);
    }
    if (rc != 0)
        goto done;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(L->in_sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (int i = 0; i < BATCH; i++) {
        in_iov[i] = (struct iovec){in_bufs + (size_t)i * SLOT, SLOT - PRISM_SRTP_MAX_TRAILER};
        in_msgs[i].msg_hdr = (struct msghdr){.msg_iov = &in_iov[i], .msg_iovlen = 1};
    }

    cpu_set_t old;
    sched_getaffinity(0, sizeof(old), &old);
    pin(cpu_loop);
    pthread_t th;
    if (pthread_create(&th, NULL, feeder, L) != 0) {
        sched_setaffinity(0, sizeof(old), &old);
        rc = PRISM_EIO;
        goto done;
    }
    double start = now_s(CLOCK_MONOTONIC), t0 = 0, c0 = 0;
    bool measuring = false;
    uint64_t fwd = 0, rcvd = 0;
    for (;;) {
        double now = now_s(CLOCK_MONOTONIC);
        if (!measuring && now - start >= 0.3) {
            measuring = true;
            t0 = now;
            c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
            fwd = rcvd = 0;
        }
        if (measuring && now - t0 >= seconds)
            break;
        for (int i = 0; i < BATCH; i++)
            in_iov[i].iov_len = SLOT - PRISM_SRTP_MAX_TRAILER;
        int n = recvmmsg(L->in_sock, in_msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        size_t m = 0; /* packets kept this round */
        for (int i = 0; i < n; i++) {
            uint8_t *p = in_bufs + (size_t)i * SLOT;
            size_t len = in_msgs[i].msg_len;
            if (prism_srtp_unprotect_rtp(in_ctx, p, &len) != PRISM_SRTP_OK)
                continue;
            rcvd++;
            for (unsigned k = 0; k < fanout; k++) {
                uint8_t *o = out_bufs + ((size_t)k * BATCH + m) * SLOT;
                memcpy(o, p, len);
                size_t olen = len;
                prism_srtp_protect_rtp(out_ctx[k], o, &olen);
                size_t j = (size_t)k * BATCH + m;
                out_iov[j] = (struct iovec){o, olen};
                out_msgs[j].msg_hdr = (struct msghdr){.msg_iov = &out_iov[j], .msg_iovlen = 1};
            }
            m++;
        }
        for (unsigned k = 0; k < fanout && m > 0; k++) {
            int s = sendmmsg(L->out_socks[k], out_msgs + (size_t)k * BATCH, (unsigned)m, 0);
            if (s > 0)
                fwd += (uint64_t)s;
        }
    }
    double c1 = now_s(CLOCK_THREAD_CPUTIME_ID), t1 = now_s(CLOCK_MONOTONIC);
    atomic_store(&L->stop, true);
    pthread_join(th, NULL);
    sched_setaffinity(0, sizeof(old), &old);
    *out = (struct prism_bench_limit_result){
        .cpu_us_per_packet = fwd > 0 ? (c1 - c0) * 1e6 / (double)fwd : 0,
        .packets_per_s = (double)fwd / (t1 - t0),
        .packets_per_cpu_s = c1 > c0 ? (double)fwd / (c1 - c0) : 0,
        .forwarded = fwd,
        .received = rcvd,
        .seconds = t1 - t0,
    };
    if (fwd == 0)
        rc = PRISM_EIO;
done:
    prism_srtp_free(in_ctx);
    for (unsigned k = 0; k < MAX_FANOUT; k++)
        prism_srtp_free(out_ctx[k]);
    if (L != NULL) {
        if (L->in_sock >= 0)
            close(L->in_sock);
        if (L->feed_sock >= 0)
            close(L->feed_sock);
        for (unsigned k = 0; k < MAX_FANOUT; k++) {
            if (L->out_socks[k] >= 0)
                close(L->out_socks[k]);
            if (L->sink_socks[k] >= 0)
                close(L->sink_socks[k]);
        }
    }
    free(L);
    free(in_bufs);
    free(out_bufs);
    free(in_msgs);
    free(in_iov);
    free(out_msgs);
    free(out_iov);
    return rc;
}
