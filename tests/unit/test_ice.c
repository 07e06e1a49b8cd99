/* Unit tests for relay/ice: two real libnice agents on one uv loop, loopback
 * only (127.0.0.1 passed explicitly; run inside `unshare -n` in CI).
 *
 * Fast group: connect through the public API with trickle and
 * end-of-candidates, 1,000 datagrams each way in batches, in order and on
 * the loop thread; a batch of mixed sizes (UDP GSO runs) arriving whole and
 * in order; a datagram the kernel refuses skipped, the rest of its batch
 * sent; input validation; 1:1 NAT candidate rewrite; clean close.
 * Slow group (PRISM_TEST_SLOW=1, meson suite 'slow'): a peer that vanishes
 * after connecting turns the survivor FAILED through consent freshness.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib-unix.h>
#include <glib.h>
#include <unistd.h>
#include <uv.h>

#include "relay/base/error.h"
#include "relay/net/gmain_uv.h"
#include "relay/net/ice.h"

#define N_DATAGRAMS 1000
#define BATCH 50
#define DATAGRAM_LEN 100
#define MAX_DATAGRAM_LEN 1400
#define CONNECT_GUARD_MS 15000
#define TRANSFER_GUARD_MS 15000
#define CONSENT_GUARD_MS 45000

struct side {
    struct prism_ice *ice;
    struct side *peer;
    const pthread_t *loop_thread; /* the thread running the uv loop */
    enum prism_ice_state state;   /* last reported by on_state */
    int n_candidates;             /* local candidates seen */
    bool gathering_done;
    bool candidate_error; /* the peer refused one of our candidates */
    uint32_t sent;        /* datagrams sent to the peer */
    uint32_t received;    /* datagrams received, in order */
    bool out_of_order;
    bool bad_datagram;
    bool wrong_thread; /* a callback ran off the loop thread */
    bool slow_path;    /* a datagram came other than from its socket's dispatch */
    bool blocked_src;  /* ... from a socket source GLib blocks while dispatching */
    bool closed;
    bool close_on_failed; /* close from inside on_state(FAILED) */
    char last_candidate[256];
};

struct fixture {
    uv_loop_t loop;
    pthread_t loop_thread;
    struct side a, b;          /* a controlling, b controlled */
    struct prism_gmain_uv *gm; /* gmain_uv test: the driver while open */
    int hits;                  /* gmain_uv test: GLib callbacks run */
    bool gm_closed;
};

static const char *const loopback[] = {"127.0.0.1"};

/* --- callbacks --- */

static void note_thread(struct side *s)
{
    if (!pthread_equal(pthread_self(), *s->loop_thread))
        s->wrong_thread = true;
}

static void on_closed(void *ud)
{
    struct side *s = ud;
    s->closed = true;
}

static void on_recv(void *ud, uint8_t *data, size_t len)
{
    struct side *s = ud;
    note_thread(s);
    /* Each datagram carries its own length in bytes 5-6 and ends in 0xab:
     * a batch split at the wrong boundaries shows. */
    if (len < 8 || data[0] != 0x80 || len != ((size_t)data[5] << 8 | data[6]) ||
        data[len - 1] != 0xab) {
        s->bad_datagram = true;
        return;
    }
    uint32_t seq =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    if (seq != s->received)
        s->out_of_order = true;
    /* The no-copy path: libnice calls us from inside the dispatch of the
     * socket's own GSource, not from an idle source holding a copy. */
    GSource *src = g_main_current_source();
    if (!src || g_strcmp0(g_source_get_name(src), "GSocket") != 0)
        s->slow_path = true;
    /* gmain_uv marks socket sources can-recurse: GLib then does not block
     * and unblock them (two eventfd writes) around each dispatch. */
    else if (!g_source_get_can_recurse(src))
        s->blocked_src = true;
    s->received++;
}

static void on_state(void *ud, enum prism_ice_state st)
{
    struct side *s = ud;
    note_thread(s);
    s->state = st;
    if (st == PRISM_ICE_FAILED && s->close_on_failed) {
        prism_ice_close(s->ice, on_closed);
        s->ice = NULL;
    }
}

static void on_candidate(void *ud, const char *cand)
{
    struct side *s = ud;
    note_thread(s);
    s->n_candidates++;
    size_t n = strlen(cand);
    if (n >= sizeof(s->last_candidate))
        n = sizeof(s->last_candidate) - 1;
    memcpy(s->last_candidate, cand, n);
    s->last_candidate[n] = '\0';
    /* Trickle straight into the peer, from inside our own signal. */
    if (s->peer && s->peer->ice && prism_ice_add_remote_candidate(s->peer->ice, cand) != 0)
        s->candidate_error = true;
}

static void on_gathering_done(void *ud)
{
    struct side *s = ud;
    note_thread(s);
    s->gathering_done = true;
    if (s->peer && s->peer->ice && prism_ice_add_remote_candidate(s->peer->ice, NULL) != 0)
        s->candidate_error = true;
}

static const struct prism_ice_callbacks callbacks = {
    .on_recv = on_recv,
    .on_state = on_state,
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
};

/* --- loop helpers --- */

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until done(f) or the guard expires; true if done. */
static bool run_until(struct fixture *f, bool (*done)(struct fixture *), uint64_t guard_ms)
{
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(&f->loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, on_guard, guard_ms, 0);
    while (!done(f) && !expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return done(f);
}

static bool both_connected(struct fixture *f)
{
    return f->a.state == PRISM_ICE_CONNECTED && f->b.state == PRISM_ICE_CONNECTED;
}

static bool both_closed(struct fixture *f)
{
    return f->a.closed && f->b.closed;
}

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->loop_thread = pthread_self();
    f->a.peer = &f->b;
    f->b.peer = &f->a;
    f->a.loop_thread = f->b.loop_thread = &f->loop_thread;
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    /* A failed test leaves its agents open: close them so this ends. */
    prism_ice_close(f->a.ice, NULL);
    prism_ice_close(f->b.ice, NULL);
    prism_gmain_uv_close(f->gm, NULL, NULL);
    /* Then no handle may be left behind. */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void new_side(struct fixture *f, struct side *s, bool controlling)
{
    struct prism_ice_config cfg = {
        .local_addrs = loopback,
        .n_local_addrs = 1,
        .controlling = controlling,
    };
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &callbacks, s, &s->ice), 0);
    assert_int_equal(prism_ice_state(s->ice), PRISM_ICE_NEW);
}

/* Creates both agents and runs them until connected. */
static void connect_pair(struct fixture *f)
{
    const char *ufrag, *pwd;
    new_side(f, &f->a, true);
    new_side(f, &f->b, false);
    /* Only GLib's wake-up eventfd before gathering. */
    assert_int_equal(prism_ice_fd_count(f->a.ice), 1);

    prism_ice_local_credentials(f->a.ice, &ufrag, &pwd);
    assert_int_equal(prism_ice_set_remote_credentials(f->b.ice, ufrag, pwd), 0);
    prism_ice_local_credentials(f->b.ice, &ufrag, &pwd);
    assert_int_equal(prism_ice_set_remote_credentials(f->a.ice, ufrag, pwd), 0);

    assert_int_equal(prism_ice_gather(f->a.ice), 0);
    assert_int_equal(prism_ice_gather(f->b.ice), 0);
    assert_int_equal(prism_ice_gather(f->a.ice), PRISM_EINVAL);
    /* One UDP socket for the one local address. */
    assert_int_equal(prism_ice_fd_count(f->a.ice), 2);
    assert_int_equal(prism_ice_fd_count(f->b.ice), 2);

    assert_true(run_until(f, both_connected, CONNECT_GUARD_MS));
    assert_true(f->a.gathering_done && f->b.gathering_done);
    assert_true(f->a.n_candidates >= 1 && f->b.n_candidates >= 1);
    assert_false(f->a.candidate_error || f->b.candidate_error);
    assert_non_null(strstr(f->a.last_candidate, " 127.0.0.1 "));
    assert_int_equal(strncmp(f->a.last_candidate, "candidate:", 10), 0);
}

static void close_pair(struct fixture *f)
{
    prism_ice_close(f->a.ice, on_closed);
    prism_ice_close(f->b.ice, on_closed);
    f->a.ice = f->b.ice = NULL;
    assert_true(run_until(f, both_closed, 5000));
}

/* --- transfer --- */

/* Fills `buf` as datagram `seq` of `len` bytes (8 to MAX_DATAGRAM_LEN). */
static void fill_datagram(uint8_t *buf, uint32_t seq, size_t len)
{
    memset(buf, 0xab, len);
    buf[0] = 0x80;
    buf[1] = (uint8_t)(seq >> 24);
    buf[2] = (uint8_t)(seq >> 16);
    buf[3] = (uint8_t)(seq >> 8);
    buf[4] = (uint8_t)seq;
    buf[5] = (uint8_t)(len >> 8);
    buf[6] = (uint8_t)len;
}

static void send_next_batch(struct side *s)
{
    uint8_t buf[BATCH][DATAGRAM_LEN];
    struct prism_ice_datagram pkts[BATCH];
    size_t n = N_DATAGRAMS - s->sent < BATCH ? N_DATAGRAMS - s->sent : BATCH;
    for (size_t i = 0; i < n; i++) {
        fill_datagram(buf[i], s->sent + (uint32_t)i, DATAGRAM_LEN);
        pkts[i].data = buf[i];
        pkts[i].len = DATAGRAM_LEN;
    }
    assert_int_equal(prism_ice_send_batch(s->ice, pkts, n), (int)n);
    s->sent += (uint32_t)n;
}

/* Before each poll: a side sends its next batch once the previous one has
 * all arrived, so the receive buffer never overflows on loopback. */
static void on_pump(uv_prepare_t *h)
{
    struct fixture *f = h->data;
    struct side *sides[2] = {&f->a, &f->b};
    for (int i = 0; i < 2; i++) {
        struct side *s = sides[i];
        if (s->sent < N_DATAGRAMS && s->peer->received == s->sent)
            send_next_batch(s);
    }
}

static bool all_received(struct fixture *f)
{
    return f->a.received >= N_DATAGRAMS && f->b.received >= N_DATAGRAMS;
}

static void test_connect_transfer_close(void **state)
{
    struct fixture *f = *state;
    connect_pair(f);

    uv_prepare_t pump;
    uv_prepare_init(&f->loop, &pump);
    pump.data = f;
    uv_prepare_start(&pump, on_pump);
    bool ok = run_until(f, all_received, TRANSFER_GUARD_MS);
    uv_close((uv_handle_t *)&pump, NULL);
    assert_true(ok);

    assert_int_equal(f->a.received, N_DATAGRAMS);
    assert_int_equal(f->b.received, N_DATAGRAMS);
    assert_false(f->a.out_of_order || f->b.out_of_order);
    assert_false(f->a.bad_datagram || f->b.bad_datagram);
    assert_false(f->a.wrong_thread || f->b.wrong_thread);
    assert_false(f->a.slow_path || f->b.slow_path);
    assert_false(f->a.blocked_src || f->b.blocked_src);

    uint8_t one[DATAGRAM_LEN] = {0x80};
    assert_int_equal(prism_ice_send(f->a.ice, one, sizeof(one)), 0);
    close_pair(f);
}

static bool b_got_mixed(struct fixture *f)
{
    return f->b.received >= f->a.sent;
}

/* One batch of PRISM_ICE_BATCH_MAX datagrams of mixed sizes: runs of equal
 * size (sent as UDP GSO messages where the kernel allows), runs ended by a
 * shorter datagram, single datagrams, a run larger than one GSO message can
 * hold, and 1,400-byte datagrams. Each arrives on its own, whole, in order. */
static void test_batch_mixed_sizes(void **state)
{
    struct fixture *f = *state;
    connect_pair(f);

    static uint8_t buf[PRISM_ICE_BATCH_MAX][MAX_DATAGRAM_LEN];
    struct prism_ice_datagram pkts[PRISM_ICE_BATCH_MAX];
    for (size_t i = 0; i < PRISM_ICE_BATCH_MAX; i++) {
        size_t len;
        if (i < 5)
            len = 300; /* a run ... */
        else if (i == 5)
            len = 120; /* ... ended by a shorter one */
        else if (i < 9)
            len = 200 + 10 * i; /* growing: one datagram per message */
        else if (i < 11)
            len = 8; /* the smallest, twice */
        else
            len = 1400; /* 53 x 1,400 bytes: more than one GSO message holds */
        fill_datagram(buf[i], (uint32_t)i, len);
        pkts[i].data = buf[i];
        pkts[i].len = len;
    }
    assert_int_equal(prism_ice_send_batch(f->a.ice, pkts, PRISM_ICE_BATCH_MAX),
                     PRISM_ICE_BATCH_MAX);
    f->a.sent = PRISM_ICE_BATCH_MAX;
    assert_true(run_until(f, b_got_mixed, TRANSFER_GUARD_MS));
    assert_int_equal(f->b.received, PRISM_ICE_BATCH_MAX);
    assert_false(f->b.out_of_order);
    assert_false(f->b.bad_datagram);
    close_pair(f);
}

/* Issue 9, finding 13: a datagram the kernel refuses in the middle of a
 * batch (here one above the 65,507 bytes of a UDP/IPv4 datagram: EMSGSIZE,
 * as a firewall rule's EPERM would be) is skipped and marked refused; the
 * datagrams before and after it still go, once each, in order. */
static void test_batch_refused_datagram(void **state)
{
    struct fixture *f = *state;
    connect_pair(f);

    enum { N = 12, BAD = 5, HUGE_LEN = 65600 };
    static uint8_t buf[N][DATAGRAM_LEN];
    static uint8_t huge[HUGE_LEN];
    struct prism_ice_datagram pkts[N];
    for (size_t i = 0; i < N; i++) {
        /* The receiver checks the sequence: the refused one takes none. */
        fill_datagram(buf[i], (uint32_t)(i < BAD ? i : i - 1), DATAGRAM_LEN);
        pkts[i] = (struct prism_ice_datagram){.data = buf[i], .len = DATAGRAM_LEN, .refused = true};
    }
    memset(huge, 0xab, sizeof(huge));
    pkts[BAD].data = huge;
    pkts[BAD].len = sizeof(huge);
    pkts[BAD].refused = false;
    assert_int_equal(prism_ice_send_batch(f->a.ice, pkts, N), N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(pkts[i].refused, i == BAD);
    f->a.sent = N - 1;
    assert_true(run_until(f, b_got_mixed, TRANSFER_GUARD_MS));
    assert_int_equal(f->b.received, N - 1);
    assert_false(f->b.out_of_order);
    assert_false(f->b.bad_datagram);

    /* One refused datagram alone: done with, not an error. */
    assert_int_equal(prism_ice_send_batch(f->a.ice, &pkts[BAD], 1), 1);
    assert_true(pkts[BAD].refused);
    close_pair(f);
}

/* --- validation --- */

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    struct side *s = &f->a;
    new_side(f, s, false);

    const char *cand = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host";
    /* Candidates before the peer's credentials are a caller bug we refuse. */
    assert_int_equal(prism_ice_add_remote_candidate(s->ice, cand), PRISM_EINVAL);

    assert_int_equal(prism_ice_set_remote_credentials(s->ice, "abc", "0123456789012345678901"),
                     PRISM_EINVAL);
    assert_int_equal(prism_ice_set_remote_credentials(s->ice, "abcd", "short"), PRISM_EINVAL);
    assert_int_equal(prism_ice_set_remote_credentials(s->ice, "ab d", "0123456789012345678901"),
                     PRISM_EINVAL);
    assert_int_equal(prism_ice_set_remote_credentials(s->ice, "abcd", NULL), PRISM_EINVAL);
    assert_int_equal(prism_ice_set_remote_credentials(s->ice, "ab+/", "0123456789012345678901"), 0);

    static const char *const malformed[] = {
        "",
        "candidate:",
        "candidat:1 1 udp 2122260223 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ",
        "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ bogus",
        "candidate:1 1 udp 2122260223 127.0.0.1 50000 type host",
        "candidate:1 1 udp x 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 0 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 4294967296 127.0.0.1 50000 typ host",
        "candidate:1 0 udp 2122260223 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 65536 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 0 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 -1 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1  50000 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation",
        "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\n",
        "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ srflx raddr",
        "a=candidate:1 1 udp 2122260223 127.0.0.1\t50000 typ host",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        if (prism_ice_add_remote_candidate(s->ice, malformed[i]) != PRISM_EINVAL)
            fail_msg("accepted malformed candidate #%zu: \"%s\"", i, malformed[i]);
    }
    char huge[PRISM_ICE_CANDIDATE_MAX + 64];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    memcpy(huge, "candidate:", 10);
    assert_int_equal(prism_ice_add_remote_candidate(s->ice, huge), PRISM_EINVAL);

    /* Well-formed, and usable or ignored. */
    static const char *const fine[] = {
        ("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 ufrag abcd "
         "network-id 1"),
        "a=candidate:2 1 UDP 1686052607 203.0.113.9 50001 typ srflx raddr 127.0.0.1 rport 50000",
        "candidate:3 1 udp 2122262783 ::1 50002 typ host",
        "candidate:4 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
        "candidate:5 1 udp 2122260223 0b7e5a40-4d7c-4d3f-9a0e-2f0d5f2b8c1e.local 50003 typ host",
        "candidate:6 2 udp 2122260222 127.0.0.1 50004 typ host",
    };
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        if (prism_ice_add_remote_candidate(s->ice, fine[i]) != 0)
            fail_msg("refused well-formed candidate #%zu: \"%s\"", i, fine[i]);
    }
    assert_int_equal(prism_ice_add_remote_candidate(s->ice, NULL), 0);

    /* Not connected: nothing to send on. */
    uint8_t d[4] = {0x80};
    assert_int_equal(prism_ice_send(s->ice, d, sizeof(d)), PRISM_EIO);

    prism_ice_close(s->ice, on_closed);
    s->ice = NULL;
}

/* Issue 9, finding 9: a candidate at an address the relay must not send to
 * is dropped where remote candidates are added, whether it came in an SDP
 * or trickled; loopback only when the agent's own address is loopback. */
static void test_refused_addresses(void **state)
{
    struct fixture *f = *state;
    static const char *const refused[] = {
        "candidate:1 1 udp 2122260223 169.254.169.254 80 typ host",
        "candidate:1 1 udp 2122260223 169.254.10.20 50000 typ host",
        "candidate:1 1 udp 2122260223 fe80::1 50000 typ host",
        "candidate:1 1 udp 2122260223 224.0.0.251 5353 typ host",
        "candidate:1 1 udp 2122260223 ff02::fb 5353 typ host",
        "candidate:1 1 udp 2122260223 255.255.255.255 50000 typ host",
        "candidate:1 1 udp 2122260223 0.0.0.0 50000 typ host",
        "candidate:1 1 udp 2122260223 :: 50000 typ host",
        "candidate:1 1 udp 2122260223 ::ffff:169.254.169.254 80 typ srflx raddr 10.0.0.1 rport 1",
    };
    static const char *const elsewhere[] = {"192.0.2.1"};
    static const char *const loop_only[] = {"127.0.0.1"};
    const char *const *locals[] = {loop_only, elsewhere, NULL};
    for (size_t l = 0; l < 3; l++) {
        struct prism_ice_config cfg = {.local_addrs = locals[l],
                                       .n_local_addrs = locals[l] != NULL};
        struct prism_ice *ice = NULL;
        assert_int_equal(prism_ice_new(&f->loop, &cfg, &callbacks, &f->a, &ice), 0);
        assert_int_equal(prism_ice_set_remote_credentials(ice, "abcd", "0123456789012345678901"),
                         0);
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
            if (prism_ice_add_remote_candidate(ice, refused[i]) != PRISM_EFORBIDDEN)
                fail_msg("local #%zu: did not refuse \"%s\"", l, refused[i]);
        /* Loopback: usable only when our own media address is loopback. */
        int want = locals[l] == loop_only ? 0 : PRISM_EFORBIDDEN;
        assert_int_equal(prism_ice_add_remote_candidate(
                             ice, "candidate:2 1 udp 2122260223 127.0.0.1 5 typ host"),
                         want);
        assert_int_equal(
            prism_ice_add_remote_candidate(ice, "candidate:2 1 udp 2122260223 ::1 5 typ host"),
            want);
        /* Private and public unicast stay usable. */
        assert_int_equal(
            prism_ice_add_remote_candidate(ice, "candidate:3 1 udp 2122260223 10.9.8.7 5 typ host"),
            0);
        assert_int_equal(prism_ice_add_remote_candidate(
                             ice, "candidate:4 1 udp 1686052607 203.0.113.9 5 typ srflx"),
                         0);
        prism_ice_close(ice, NULL);
    }
}

static void test_bad_config(void **state)
{
    struct fixture *f = *state;
    struct prism_ice *ice = NULL;
    static const char *const bad_addr[] = {"127.0.0.1", "localhost"};
    struct prism_ice_config cfg = {.local_addrs = bad_addr, .n_local_addrs = 2};
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &callbacks, &f->a, &ice), PRISM_EINVAL);
    cfg.n_local_addrs = 1;
    cfg.advertise_ip = "not-an-ip";
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &callbacks, &f->a, &ice), PRISM_EINVAL);
    cfg.advertise_ip = NULL;
    cfg.port_min = 40000;
    cfg.port_max = 30000;
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &callbacks, &f->a, &ice), PRISM_EINVAL);
    cfg.port_min = 0;
    cfg.port_max = 0;
    struct prism_ice_callbacks no_recv = callbacks;
    no_recv.on_recv = NULL;
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &no_recv, &f->a, &ice), PRISM_EINVAL);
    assert_null(ice);
    prism_ice_close(NULL, NULL);
}

/* 1:1 NAT: the host candidate we hand out carries the advertised address
 * and the real port, inside the configured port range. */
static void test_advertise_and_port_range(void **state)
{
    struct fixture *f = *state;
    struct side *s = &f->a;
    struct prism_ice_config cfg = {
        .local_addrs = loopback,
        .n_local_addrs = 1,
        .advertise_ip = "203.0.113.7",
        .port_min = 47000,
        .port_max = 47100,
    };
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &callbacks, s, &s->ice), 0);
    assert_int_equal(prism_ice_gather(s->ice), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_true(s->n_candidates >= 1);
    assert_non_null(strstr(s->last_candidate, " 203.0.113.7 "));
    assert_null(strstr(s->last_candidate, "127.0.0.1"));
    assert_non_null(strstr(s->last_candidate, " typ host"));
    const char *port = strstr(s->last_candidate, " 203.0.113.7 ") + strlen(" 203.0.113.7 ");
    long p = strtol(port, NULL, 10);
    assert_true(p >= 47000 && p <= 47100);
    prism_ice_close(s->ice, on_closed);
    s->ice = NULL;
}

/* --- the GLib-on-libuv driver alone --- */

static gboolean on_pipe_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct fixture *f = data;
    char c;
    (void)cond;
    if (read(fd, &c, 1) == 1)
        f->hits++;
    return G_SOURCE_CONTINUE;
}

static gboolean on_glib_timeout(gpointer data)
{
    struct fixture *f = data;
    f->hits++;
    return G_SOURCE_REMOVE;
}

static void on_gm_closed(void *ud)
{
    struct fixture *f = ud;
    f->gm_closed = true;
}

static bool two_hits(struct fixture *f)
{
    return f->hits >= 2;
}

static bool three_hits(struct fixture *f)
{
    return f->hits >= 3;
}

static bool gm_closed(struct fixture *f)
{
    return f->gm_closed;
}

static GSource *watch_pipe(struct fixture *f, GMainContext *ctx, int fd)
{
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(on_pipe_readable), f, NULL);
    g_source_attach(src, ctx);
    return src;
}

/* Timers and fds of a GLib context fire through uv, and an fd number GLib
 * closes and reuses under the same uv_poll_t is watched again after wake. */
static void test_gmain_uv_fd_reuse(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(prism_gmain_uv_new(&f->loop, &f->gm), 0);
    struct prism_gmain_uv *gm = f->gm;
    GMainContext *ctx = prism_gmain_uv_context(gm);
    assert_int_equal(prism_gmain_uv_fd_count(gm), 1);

    GSource *timeout = g_timeout_source_new(20);
    g_source_set_callback(timeout, on_glib_timeout, f, NULL);
    g_source_attach(timeout, ctx);
    g_source_unref(timeout);
    int p1[2];
    assert_int_equal(pipe(p1), 0);
    GSource *s1 = watch_pipe(f, ctx, p1[0]);
    prism_gmain_uv_wake(gm);
    assert_int_equal(prism_gmain_uv_fd_count(gm), 2);
    assert_int_equal(write(p1[1], "x", 1), 1);
    assert_true(run_until(f, two_hits, 2000));

    /* Same fd number, new file: epoll forgot the old one when it closed. */
    g_source_destroy(s1);
    g_source_unref(s1);
    close(p1[0]);
    close(p1[1]);
    int p2[2];
    assert_int_equal(pipe(p2), 0);
    assert_int_equal(p2[0], p1[0]);
    GSource *s2 = watch_pipe(f, ctx, p2[0]);
    prism_gmain_uv_wake(gm);
    assert_int_equal(write(p2[1], "y", 1), 1);
    assert_true(run_until(f, three_hits, 2000));

    g_source_destroy(s2);
    g_source_unref(s2);
    prism_gmain_uv_close(gm, on_gm_closed, f);
    f->gm = NULL;
    assert_true(run_until(f, gm_closed, 2000));
    close(p2[0]);
    close(p2[1]);
}

/* --- slow: consent --- */

static bool a_failed(struct fixture *f)
{
    return f->a.state == PRISM_ICE_FAILED && f->a.closed;
}

static void test_peer_vanishes(void **state)
{
    struct fixture *f = *state;
    connect_pair(f);

    prism_ice_close(f->b.ice, on_closed);
    f->b.ice = NULL;
    /* A closes itself from inside its on_state(FAILED). */
    f->a.close_on_failed = true;
    uint64_t start = uv_now(&f->loop);
    assert_true(run_until(f, a_failed, CONSENT_GUARD_MS));
    /* Consent expires after libnice's 10 s, not at once. */
    assert_true(uv_now(&f->loop) - start >= 5000);
    assert_true(f->b.closed);
}

int main(void)
{
    const struct CMUnitTest fast[] = {
        cmocka_unit_test_setup_teardown(test_connect_transfer_close, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_batch_mixed_sizes, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_batch_refused_datagram, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refused_addresses, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_advertise_and_port_range, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_gmain_uv_fd_reuse, fixture_setup, fixture_teardown),
    };
    const struct CMUnitTest slow[] = {
        cmocka_unit_test_setup_teardown(test_peer_vanishes, fixture_setup, fixture_teardown),
    };
    const char *mode = getenv("PRISM_TEST_SLOW");
    if (mode && strcmp(mode, "1") == 0)
        return cmocka_run_group_tests_name("ice_slow", slow, NULL, NULL);
    return cmocka_run_group_tests_name("ice", fast, NULL, NULL);
}
