/* ICE-TCP (issue 10, item 3): relay/net/tcp_frame.c (RFC 4571 deframing:
 * partial reads, several frames in one read, length 0, too long),
 * tcp_send.c (framed writev, the bounded queue when the peer reads
 * slowly, a broken connection), the ICE-lite TCP entry points and
 * tcp_media.c on real loopback connections (garbage refused, the limit,
 * a check binding a connection, media reaching its transport).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "relay/base/error.h"
#include "relay/net/ice_lite.h"
#include "relay/net/media_socket.h"
#include "relay/net/tcp_frame.h"
#include "relay/net/tcp_media.h"
#include "relay/net/tcp_send.h"

/* --- deframer ------------------------------------------------------------------ */

/* Feeds `len` bytes of `stream` into `d` in reads of `step` bytes, handing
 * out frames as they complete; their lengths and first bytes go to
 * lens[]/firsts[]. Returns the frames seen; *last is the final result. */
static size_t feed_stream(struct prism_tcp_deframer *d, const uint8_t *stream, size_t len,
                          size_t step, size_t *lens, uint8_t *firsts, size_t max,
                          enum prism_tcp_frame_result *last)
{
    size_t seen = 0, off = 0;
    *last = PRISM_TCP_MORE;
    while (off < len) {
        size_t room;
        uint8_t *space = prism_tcp_deframer_space(d, &room);
        assert_true(room > 0);
        size_t n = len - off < step ? len - off : step;
        n = n < room ? n : room;
        memcpy(space, stream + off, n);
        prism_tcp_deframer_commit(d, n);
        off += n;
        for (;;) {
            uint8_t *frame;
            size_t flen;
            *last = prism_tcp_deframer_next(d, &frame, &flen);
            if (*last == PRISM_TCP_FRAME) {
                assert_true(seen < max);
                assert_int_equal((uintptr_t)frame % PRISM_TCP_FRAME_ALIGN, 0);
                lens[seen] = flen;
                firsts[seen++] = frame[0];
            } else if (*last != PRISM_TCP_EMPTY) {
                break;
            }
        }
        if (*last == PRISM_TCP_TOO_LONG)
            break;
    }
    return seen;
}

static size_t put_frame(uint8_t *out, size_t len, uint8_t fill)
{
    prism_tcp_frame_header(out, len);
    memset(out + 2, fill, len);
    return 2 + len;
}

/* Three frames, read one byte at a time, then in larger reads: the same
 * frames, each handed out aligned (their stream offsets are not). */
static void test_deframe_partial_and_whole(void **state)
{
    (void)state;
    uint8_t stream[3000];
    size_t n = put_frame(stream, 100, 0x80);
    n += put_frame(stream + n, 1200, 0x17);
    n += put_frame(stream + n, 1, 0x00);
    size_t steps[] = {1, 2, 3, 101, 1000, sizeof(stream)};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        struct prism_tcp_deframer d;
        prism_tcp_deframer_init(&d);
        size_t lens[4];
        uint8_t firsts[4];
        enum prism_tcp_frame_result last;
        assert_int_equal(feed_stream(&d, stream, n, steps[s], lens, firsts, 4, &last), 3);
        assert_int_equal(last, PRISM_TCP_MORE);
        assert_int_equal(lens[0], 100);
        assert_int_equal(firsts[0], 0x80);
        assert_int_equal(lens[1], 1200);
        assert_int_equal(firsts[1], 0x17);
        assert_int_equal(lens[2], 1);
    }
}

/* A length alone, then half a frame: nothing yet; the rest: one frame. */
static void test_deframe_incomplete(void **state)
{
    (void)state;
    struct prism_tcp_deframer d;
    prism_tcp_deframer_init(&d);
    uint8_t *frame;
    size_t len, room;
    uint8_t *space = prism_tcp_deframer_space(&d, &room);
    assert_int_equal(room, PRISM_TCP_RBUF_BYTES);
    space[0] = 0x00;
    prism_tcp_deframer_commit(&d, 1);
    assert_int_equal(prism_tcp_deframer_next(&d, &frame, &len), PRISM_TCP_MORE);
    space = prism_tcp_deframer_space(&d, &room);
    space[0] = 0x04;
    space[1] = 0xAA;
    prism_tcp_deframer_commit(&d, 2);
    assert_int_equal(prism_tcp_deframer_next(&d, &frame, &len), PRISM_TCP_MORE);
    space = prism_tcp_deframer_space(&d, &room);
    memset(space, 0xAA, 3);
    prism_tcp_deframer_commit(&d, 3);
    assert_int_equal(prism_tcp_deframer_next(&d, &frame, &len), PRISM_TCP_FRAME);
    assert_int_equal(len, 4);
    assert_int_equal(frame[3], 0xAA);
    assert_int_equal(prism_tcp_deframer_next(&d, &frame, &len), PRISM_TCP_MORE);
}

/* Length 0 is reported and skipped; the frame after it is intact. */
static void test_deframe_zero_length(void **state)
{
    (void)state;
    uint8_t stream[16];
    size_t n = put_frame(stream, 0, 0);
    n += put_frame(stream + n, 3, 0x90);
    struct prism_tcp_deframer d;
    prism_tcp_deframer_init(&d);
    size_t room;
    memcpy(prism_tcp_deframer_space(&d, &room), stream, n);
    prism_tcp_deframer_commit(&d, n);
    uint8_t *frame;
    size_t len;
    assert_int_equal(prism_tcp_deframer_next(&d, &frame, &len), PRISM_TCP_EMPTY);
    assert_int_equal(prism_tcp_deframer_next(&d, &frame, &len), PRISM_TCP_FRAME);
    assert_int_equal(len, 3);
    assert_int_equal(frame[0], 0x90);
}

/* PRISM_TCP_FRAME_MAX passes; one more is refused before any byte of it
 * is awaited (a huge length cannot make the connection buffer more). */
static void test_deframe_too_long(void **state)
{
    (void)state;
    static uint8_t stream[2 * (PRISM_TCP_FRAME_MAX + 2)];
    size_t n = put_frame(stream, PRISM_TCP_FRAME_MAX, 0x80);
    prism_tcp_frame_header(stream + n, PRISM_TCP_FRAME_MAX + 1);
    n += 2;
    struct prism_tcp_deframer d;
    prism_tcp_deframer_init(&d);
    size_t lens[2];
    uint8_t firsts[2];
    enum prism_tcp_frame_result last;
    assert_int_equal(feed_stream(&d, stream, n, 700, lens, firsts, 2, &last), 1);
    assert_int_equal(lens[0], PRISM_TCP_FRAME_MAX);
    assert_int_equal(last, PRISM_TCP_TOO_LONG);
    prism_tcp_deframer_init(&d);
    uint8_t huge[2] = {0xFF, 0xFF};
    assert_int_equal(feed_stream(&d, huge, 2, 2, lens, firsts, 2, &last), 0);
    assert_int_equal(last, PRISM_TCP_TOO_LONG);
}

/* --- send queue ----------------------------------------------------------------- */

static int wakes;

static void count_wake(struct prism_tcp_outq *q)
{
    (void)q;
    wakes++;
}

static void nonblocking(int fd)
{
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* Reads what `fd` has into the deframer and checks each frame: `len`
 * bytes, all equal to a sequence byte that only grows. Returns frames. */
static size_t drain_check(int fd, struct prism_tcp_deframer *d, size_t len, int *last_seq)
{
    size_t frames = 0;
    for (;;) {
        size_t room;
        uint8_t *space = prism_tcp_deframer_space(d, &room);
        ssize_t r = read(fd, space, room);
        if (r <= 0)
            return frames;
        prism_tcp_deframer_commit(d, (size_t)r);
        uint8_t *frame;
        size_t flen;
        while (prism_tcp_deframer_next(d, &frame, &flen) == PRISM_TCP_FRAME) {
            assert_int_equal(flen, len);
            for (size_t i = 1; i < flen; i++)
                assert_int_equal(frame[i], frame[0]);
            assert_true((int)frame[0] > *last_seq);
            *last_seq = frame[0];
            frames++;
        }
    }
}

/* A batch goes out framed in order; when the peer stops reading, what the
 * kernel leaves waits in the queue (wake called), what does not fit is
 * refused and counted, never cut: the stream the peer reads is whole
 * frames, in order. A closed peer fails the queue. */
static void test_outq(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    nonblocking(sv[0]);
    nonblocking(sv[1]);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    uint64_t dropped = 0;
    struct prism_tcp_outq q = {.dropped = &dropped};
    assert_int_equal(prism_tcp_outq_init(&q, count_wake), 0);

    enum { LEN = 1200, N = 64 };
    static uint8_t bufs[N][LEN];
    struct prism_ice_datagram pkts[N];
    struct prism_tcp_deframer d;
    prism_tcp_deframer_init(&d);
    int last_seq = -1;
    size_t accepted = 0, got = 0;
    wakes = 0;
    /* 250 packets of 1,200 bytes (300 KB): more than the queue and the
     * socket buffer hold, with the peer not reading. */
    for (int round = 0, seq = 0; round < 4; round++) {
        size_t n = round < 3 ? N : 250 - 3 * N;
        for (size_t i = 0; i < n; i++, seq++) {
            memset(bufs[i], seq, LEN);
            pkts[i] = (struct prism_ice_datagram){.data = bufs[i], .len = LEN};
        }
        assert_int_equal(prism_tcp_outq_send(&q, sv[0], pkts, n), (int)n);
        for (size_t i = 0; i < n; i++)
            accepted += !pkts[i].refused;
    }
    assert_true(wakes > 0);
    assert_true(prism_tcp_outq_pending(&q) > 0);
    assert_true(prism_tcp_outq_pending(&q) <= PRISM_TCP_OUTQ_BYTES);
    assert_int_equal(dropped, 250 - accepted);
    assert_true(dropped > 0);
    /* The peer reads; the queue drains on writable. */
    for (int i = 0; i < 1000 && (prism_tcp_outq_pending(&q) > 0 || i == 0); i++) {
        got += drain_check(sv[1], &d, LEN, &last_seq);
        assert_int_equal(prism_tcp_outq_flush(&q, sv[0]), 0);
    }
    got += drain_check(sv[1], &d, LEN, &last_seq);
    assert_int_equal(prism_tcp_outq_pending(&q), 0);
    assert_int_equal(got, accepted);

    close(sv[1]);
    pkts[0] = (struct prism_ice_datagram){.data = bufs[0], .len = LEN};
    int r = 0;
    for (int i = 0; i < 3 && r >= 0; i++)
        r = prism_tcp_outq_send(&q, sv[0], pkts, 1);
    assert_int_equal(r, PRISM_EIO);
    assert_true(q.failed);
    assert_true(pkts[0].refused);
    prism_tcp_outq_deinit(&q);
    close(sv[0]);
}

/* Before init (an unbound connection) nothing is sent: refused, counted. */
static void test_outq_uninitialised(void **state)
{
    (void)state;
    uint64_t dropped = 0;
    struct prism_tcp_outq q = {.dropped = &dropped};
    uint8_t b[10] = {0};
    struct prism_ice_datagram p = {.data = b, .len = sizeof(b)};
    assert_int_equal(prism_tcp_outq_send(&q, -1, &p, 1), 1);
    assert_true(p.refused);
    assert_int_equal(dropped, 1);
    prism_tcp_outq_deinit(&q);
}

/* --- ICE-lite over TCP ------------------------------------------------------------ */

static const uint16_t client_known[] = {
    STUN_ATTRIBUTE_USERNAME,        STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_ERROR_CODE,      STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_FINGERPRINT,     STUN_ATTRIBUTE_ICE_CONTROLLED,
    STUN_ATTRIBUTE_ICE_CONTROLLING, 0,
};

struct peer {
    struct prism_lite_binding b;
    int validated, received;
};

static void on_recv(void *ud, uint8_t *data, size_t len)
{
    struct peer *p = ud;
    (void)data;
    (void)len;
    p->received++;
}

static void on_validated(void *ud)
{
    struct peer *p = ud;
    p->validated++;
}

/* A full agent's Binding request (libnice's codec) with USE-CANDIDATE. */
static size_t make_check(uint8_t *out, size_t cap, const char *ours, const char *pwd)
{
    StunAgent agent;
    StunMessage msg;
    char user[64];
    stun_agent_init(&agent, client_known, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
    snprintf(user, sizeof(user), "%s:clnt", ours);
    size_t n = stun_usage_ice_conncheck_create(&agent, &msg, out, cap, (const uint8_t *)user,
                                               strlen(user), (const uint8_t *)pwd, strlen(pwd),
                                               true, true, 0x6e0001ff, 0x1234567890ULL, NULL,
                                               STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    assert_true(n > 20);
    return n;
}

static struct sockaddr_storage v4(const char *ip, uint16_t port, socklen_t *len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    *len = sizeof(*in);
    return ss;
}

/* A check on a TCP connection validates it (the path names its queue);
 * the same address over UDP is still unknown; a check on it naming
 * another binding is refused; forgetting it clears the path. */
static void test_lite_tcp(void **state)
{
    (void)state;
    struct prism_ice_lite *lite;
    struct peer a = {0}, b = {0};
    assert_int_equal(prism_ice_lite_new(&lite), 0);
    assert_int_equal(prism_ice_lite_attach(lite, &a.b, on_recv, on_validated, &a), 0);
    assert_int_equal(prism_ice_lite_attach(lite, &b.b, on_recv, on_validated, &b), 0);
    socklen_t len;
    struct sockaddr_storage from = v4("192.0.2.7", 50000, &len);
    struct prism_tcp_outq q = {0};
    uint8_t req[512], reply[PRISM_LITE_REPLY_MAX];
    size_t req_len = make_check(req, sizeof(req), a.b.ufrag, a.b.pwd), reply_len;

    assert_false(prism_ice_lite_bound_tcp(lite, &from, len));
    assert_int_equal(
        prism_ice_lite_on_stun_tcp(lite, req, req_len, &from, len, 9, &q, 100, reply, &reply_len),
        PRISM_LITE_REPLY);
    assert_true(reply_len > 20);
    assert_true(prism_ice_lite_bound_tcp(lite, &from, len));
    assert_int_equal(a.validated, 1);
    assert_int_equal(a.b.path.fd, 9);
    assert_ptr_equal(a.b.path.tcp, &q);
    assert_null(prism_ice_lite_lookup(lite, &from, len)); /* not a UDP address */

    uint8_t rtp[20] = {0x80, 0x60};
    prism_ice_lite_on_datagram(lite, rtp, sizeof(rtp), &from, len, 101);
    assert_int_equal(a.received, 0);
    assert_true(prism_ice_lite_on_frame_tcp(lite, rtp, sizeof(rtp), &from, len, 102));
    assert_int_equal(a.received, 1);
    assert_int_equal(a.b.last_rx_ms, 102);

    req_len = make_check(req, sizeof(req), b.b.ufrag, b.b.pwd);
    assert_int_equal(
        prism_ice_lite_on_stun_tcp(lite, req, req_len, &from, len, 9, &q, 103, reply, &reply_len),
        PRISM_LITE_DROPPED);
    assert_int_equal(b.validated, 0);
    assert_int_equal(prism_ice_lite_stats(lite)->stun_auth, 1);

    prism_ice_lite_forget_tcp(lite, &from, len);
    assert_false(prism_ice_lite_validated(&a.b));
    assert_null(a.b.path.tcp);
    assert_false(prism_ice_lite_on_frame_tcp(lite, rtp, sizeof(rtp), &from, len, 104));
    prism_ice_lite_forget_tcp(lite, &from, len); /* idempotent */
    prism_ice_lite_detach(lite, &a.b);
    prism_ice_lite_detach(lite, &b.b);
    prism_ice_lite_free(lite);
}

/* --- connections on loopback --------------------------------------------------------- */

static int listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof(in);
    getsockname(fd, (struct sockaddr *)&in, &len);
    *port = ntohs(in.sin_port);
    return fd;
}

static int connect_loopback(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_frame(int fd, const uint8_t *data, size_t len)
{
    uint8_t buf[8192];
    prism_tcp_frame_header(buf, len);
    memcpy(buf + 2, data, len);
    assert_int_equal(write(fd, buf, len + 2), (ssize_t)(len + 2));
}

/* Runs the loop until `done` or a couple of seconds. */
static void spin(uv_loop_t *loop, bool (*done)(void *), void *arg)
{
    for (int i = 0; i < 200 && !done(arg); i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

struct media_fixture {
    uv_loop_t loop;
    struct prism_ice_lite *lite;
    struct prism_tcp_media *tm;
    uint16_t port;
    struct peer p;
};

static bool auth_is_1(void *arg)
{
    struct media_fixture *f = arg;
    return prism_tcp_media_stats(f->tm)->auth == 1 && prism_tcp_media_count(f->tm) == 0;
}

static bool limit_is_1(void *arg)
{
    struct media_fixture *f = arg;
    return prism_tcp_media_stats(f->tm)->limit == 1;
}

static bool received_1(void *arg)
{
    struct media_fixture *f = arg;
    return f->p.received == 1;
}

static bool frame_closed(void *arg)
{
    struct media_fixture *f = arg;
    return prism_tcp_media_stats(f->tm)->frame == 2 && prism_tcp_media_count(f->tm) == 0;
}

static bool validated_1(void *arg)
{
    struct media_fixture *f = arg;
    return f->p.validated == 1;
}

/* Garbage first: closed, counted in auth. With the one allowed connection
 * open, another is refused (limit). A passing check binds it, gets its
 * reply framed back and RTP then reaches the binding; a length 0 frame is
 * skipped, a too long one closes the connection (frame) and takes it out
 * of the tables. */
static void test_media_connections(void **state)
{
    (void)state;
    struct media_fixture f = {0};
    assert_int_equal(uv_loop_init(&f.loop), 0);
    assert_int_equal(prism_ice_lite_new(&f.lite), 0);
    assert_int_equal(prism_ice_lite_attach(f.lite, &f.p.b, on_recv, on_validated, &f.p), 0);
    int lfd = listen_loopback(&f.port);
    struct prism_tcp_media_config cfg = {
        .fds = &lfd, .n_fds = 1, .max_connections = 1, .idle_timeout_ms = 30000};
    assert_int_equal(prism_tcp_media_new(&f.loop, f.lite, &cfg, &f.tm), 0);

    int c1 = connect_loopback(f.port);
    uint8_t garbage[30] = {0x16, 0xfe, 0xfd};
    send_frame(c1, garbage, sizeof(garbage));
    spin(&f.loop, auth_is_1, &f);
    assert_true(auth_is_1(&f));
    uint8_t byte;
    assert_int_equal(read(c1, &byte, 1), 0); /* closed by the relay */
    close(c1);

    int c2 = connect_loopback(f.port);
    int c3 = connect_loopback(f.port);
    spin(&f.loop, limit_is_1, &f);
    assert_int_equal(prism_tcp_media_stats(f.tm)->limit, 1);
    close(c3);

    uint8_t req[512];
    size_t req_len = make_check(req, sizeof(req), f.p.b.ufrag, f.p.b.pwd);
    send_frame(c2, req, req_len);
    spin(&f.loop, validated_1, &f);
    assert_int_equal(f.p.validated, 1);
    assert_non_null(f.p.b.path.tcp);
    uint8_t reply[600];
    ssize_t got = 0;
    while (got < 2 || got < 2 + (reply[0] << 8 | reply[1])) {
        ssize_t r = read(c2, reply + got, sizeof(reply) - (size_t)got);
        assert_true(r > 0);
        got += r;
    }
    assert_int_equal(reply[2], 0x01); /* a Binding success response */
    assert_int_equal(reply[3], 0x01);

    uint8_t rtp[40] = {0x80, 0x60};
    send_frame(c2, rtp, 0); /* length 0 */
    send_frame(c2, rtp, sizeof(rtp));
    spin(&f.loop, received_1, &f);
    assert_int_equal(f.p.received, 1);
    uint8_t too_long[2] = {0x20, 0x00};
    assert_int_equal(write(c2, too_long, 2), 2);
    spin(&f.loop, frame_closed, &f);
    assert_true(frame_closed(&f));
    assert_false(prism_ice_lite_validated(&f.p.b));
    close(c2);

    prism_tcp_media_close(f.tm);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    prism_ice_lite_detach(f.lite, &f.p.b);
    prism_ice_lite_free(f.lite);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

static bool counted_limit(void *arg)
{
    return prism_tcp_media_stats(((struct media_fixture *)arg)->tm)->limit > 0;
}

static bool accepted_1(void *arg)
{
    return prism_tcp_media_count(((struct media_fixture *)arg)->tm) == 1;
}

/* Out of descriptors, a pending connection cannot be accepted and stays
 * in the backlog: the listener is counted once and rests (it is not
 * woken again and again for as long as the shortage lasts), then accepts
 * it after the next sweep once descriptors are back. */
static void test_media_out_of_descriptors(void **state)
{
    (void)state;
    struct media_fixture f = {0};
    assert_int_equal(uv_loop_init(&f.loop), 0);
    assert_int_equal(prism_ice_lite_new(&f.lite), 0);
    int lfd = listen_loopback(&f.port);
    struct prism_tcp_media_config cfg = {
        .fds = &lfd, .n_fds = 1, .max_connections = 4, .idle_timeout_ms = 30000};
    assert_int_equal(prism_tcp_media_new(&f.loop, f.lite, &cfg, &f.tm), 0);
    int c = connect_loopback(f.port);
    struct rlimit saved, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)fcntl(c, F_DUPFD, 0); /* the lowest free descriptor: none left */
    close((int)low.rlim_cur);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    spin(&f.loop, counted_limit, &f);
    for (int i = 0; i < 30; i++) { /* 300 ms, shorter than the sweep */
        uv_run(&f.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    assert_int_equal(prism_tcp_media_stats(f.tm)->limit, 1);
    assert_int_equal(prism_tcp_media_count(f.tm), 0);
    spin(&f.loop, accepted_1, &f); /* the sweep comes within a second */
    assert_int_equal(prism_tcp_media_count(f.tm), 1);
    assert_int_equal(prism_tcp_media_stats(f.tm)->limit, 1);
    close(c);
    prism_tcp_media_close(f.tm);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    prism_ice_lite_free(f.lite);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

/* A media socket with ICE-TCP: a UDP and a passive TCP host candidate on
 * one port, the TCP one of lower priority (RFC 6544 §4.2); a TCP port
 * taken moves the worker on to its next port as a UDP one does; the
 * listener accepts and its connections count against the limit. */
static void test_media_socket_candidates(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    /* Take the TCP side of the first port: the worker must skip it. */
    int blocker = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {
        .sin_family = AF_INET, .sin_port = htons(47500), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(blocker, (struct sockaddr *)&in, sizeof(in)), 0);
    assert_int_equal(listen(blocker, 1), 0);
    const char *addrs[] = {"127.0.0.1"};
    struct prism_media_socket_config cfg = {.addrs = addrs,
                                            .n_addrs = 1,
                                            .port_min = 47500,
                                            .port_max = 47510,
                                            .n_workers = 1,
                                            .tcp_max_connections = 1,
                                            .tcp_idle_timeout_ms = 30000};
    struct prism_media_socket *ms = NULL;
    char err[160];
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &ms, err, sizeof(err)), 0);
    uint16_t port = prism_media_socket_port(ms);
    assert_int_equal(port, 47501);
    char cands[PRISM_MSOCK_MAX_CANDS][PRISM_CANDIDATE_LEN];
    assert_int_equal(prism_media_socket_candidates(ms, cands, PRISM_MSOCK_MAX_CANDS), 2);
    char want[96];
    snprintf(want, sizeof(want), "candidate:1 1 UDP 2130706431 127.0.0.1 %u typ host",
             (unsigned)port);
    assert_string_equal(cands[0], want);
    /* (126 << 24) | ((4 << 13) + 8191) << 8 | 255 */
    snprintf(want, sizeof(want),
             "candidate:2 1 TCP 2124414975 127.0.0.1 %u typ host tcptype passive", (unsigned)port);
    assert_string_equal(cands[1], want);
    assert_non_null(prism_media_socket_tcp_stats(ms));

    int c1 = connect_loopback(port);
    int c2 = connect_loopback(port);
    for (int i = 0; i < 200 && prism_media_socket_tcp_stats(ms)->limit == 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_int_equal(prism_media_socket_tcp_stats(ms)->limit, 1);
    close(c1);
    close(c2);
    prism_media_socket_close(ms);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    /* ICE-TCP off: no TCP candidate, no counters. */
    cfg.tcp_max_connections = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &ms, err, sizeof(err)), 0);
    assert_int_equal(prism_media_socket_port(ms), 47500);
    assert_int_equal(prism_media_socket_candidates(ms, cands, PRISM_MSOCK_MAX_CANDS), 1);
    assert_null(prism_media_socket_tcp_stats(ms));
    prism_media_socket_close(ms);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(blocker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deframe_partial_and_whole),
        cmocka_unit_test(test_deframe_incomplete),
        cmocka_unit_test(test_deframe_zero_length),
        cmocka_unit_test(test_deframe_too_long),
        cmocka_unit_test(test_outq),
        cmocka_unit_test(test_outq_uninitialised),
        cmocka_unit_test(test_lite_tcp),
        cmocka_unit_test(test_media_connections),
        cmocka_unit_test(test_media_out_of_descriptors),
        cmocka_unit_test(test_media_socket_candidates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
