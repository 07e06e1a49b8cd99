/* Unit tests for relay/transport and relay/egress: two real transports on one
 * uv loop over loopback (127.0.0.1 passed explicitly; CI runs unit tests in
 * `unshare -n` with only lo up).
 *
 * Side A plays the relay (DTLS server, ICE controlled), side B the client
 * (DTLS client, ICE controlling); each has its own certificate and DTLS
 * context. Credentials, fingerprints and trickled candidates travel through
 * the public API only. Checked:
 * - both reach CONNECTED; 500 RTP packets A -> B arrive decrypted with the
 *   SSRC rewritten, intact, each once; 500 RTCP packets B -> A arrive intact;
 *   batches of 100 are flushed early at PRISM_ICE_BATCH_MAX and the pool is
 *   whole again after every flush;
 * - the ingress demultiplexer (through prism__transport_ingress): plain RTP
 *   before keys, unknown first bytes, tampered SRTP, a replayed SRTP packet,
 *   plain RTP after keys, truncated packets: each lands in its counter and
 *   nothing is delivered;
 * - authentic packets of 300 SSRCs: only the negotiated one and the allowed
 *   others are delivered, the rest counted in drop_ssrc_limit (issue 9,
 *   finding 2);
 * - on_srtp_peek sees every SRTP packet with its header in the clear; the
 *   sample it lets through is delivered despite the gaps, the rest counted;
 * - egress refusals: pool empty, invalid packets, not connected; a second
 *   packet under an index already sent (issue 9, finding 3) is refused,
 *   counted, and arrives once;
 * - a wrong fingerprint (on the client or on the server) turns that side
 *   FAILED with a reason naming the fingerprint, and no packet is delivered;
 * - the egress pool and queues on their own (exhaustion, drops when ICE is
 *   not connected, detach);
 * - a close_notify from the peer turns a transport CLOSED;
 * - clean close from the API and from inside on_status; no handle left;
 * - the same connection and transfer with side A as the relay runs it:
 *   ICE-lite on a media socket (relay/net/media_socket.h), side B a
 *   libnice full agent; a lite transport whose peer goes quiet fails
 *   "consent lost" after its silence timeout.
 * Not here: consent loss takes libnice 10 s (relay/ice's slow test covers
 * the ICE side; the transport maps it to FAILED "consent lost").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "crypto/cert.h"
#include "crypto/dtls.h"
#include "relay/base/error.h"
#include "relay/net/egress.h"
#include "relay/net/ice.h"
#include "relay/net/transport.h"

#define N_RTP 500
#define N_RTCP 500
#define BURST 100
#define PAYLOAD_LEN 100
#define RTP_LEN (12 + PAYLOAD_LEN)
#define RTCP_LEN 32
#define ORIG_SSRC 0x11111111u
#define NEW_SSRC 0xcafebabeu
#define POOL_BUFS 8192
#define CONNECT_GUARD_MS 15000
#define TRANSFER_GUARD_MS 10000
#define CLOSE_GUARD_MS 5000

struct side {
    const char *name;
    struct prism_cert *cert;
    struct prism_dtls_ctx *dtls_ctx;
    struct prism_transport *t;
    struct side *peer;
    enum prism_transport_state status; /* last reported */
    int n_status;                      /* on_status calls */
    char reason[200];                  /* last reported reason */
    bool candidate_error;
    bool gathering_done;
    bool closed;
    bool close_on_failed; /* close from inside on_status(FAILED) */
    /* received media */
    uint32_t rtp_received, rtcp_received;
    bool rtp_bad, rtcp_bad, rtp_dup, rtcp_dup;
    uint8_t rtp_seen[N_RTP], rtcp_seen[N_RTCP];
};

struct fixture {
    uv_loop_t loop;
    uv_prepare_t flusher; /* flushes the egress once per iteration, like a worker */
    struct prism_egress *egress;
    struct prism_media_socket *msock; /* set: side A is ICE-lite on it (the relay's way) */
    uint64_t silence_ms;              /* side A's silence_timeout_ms when lite */
    struct side a, b;
};

static const char *const loopback[] = {"127.0.0.1"};

/* --- packets --- */

static void make_rtp(uint8_t *p, uint16_t seq)
{
    p[0] = 0x80;
    p[1] = 96; /* dynamic PT, no marker */
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    uint32_t ts = 90u * 33u * seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = p[9] = p[10] = p[11] = 0x11; /* ORIG_SSRC */
    for (size_t i = 0; i < PAYLOAD_LEN; i++)
        p[12 + i] = (uint8_t)(seq + i);
}

/* What the router's consumer does: a pool buffer holding the packet as the
 * subscriber gets it (here: with `ssrc`), handed to the transport. */
static int send_as(struct fixture *f, struct prism_transport *t, const uint8_t *pkt, size_t len,
                   uint32_t ssrc)
{
    uint8_t *buf = prism_egress_buf_get(f->egress);
    if (buf == NULL)
        return PRISM_ENOMEM;
    memcpy(buf, pkt, len);
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    return prism_transport_queue_rtp(t, buf, len);
}

/* A receiver report with one report block; `n` goes in the extended
 * highest sequence number field. */
static void make_rtcp(uint8_t *p, uint32_t n)
{
    memset(p, 0, RTCP_LEN);
    p[0] = 0x81; /* V=2, RC=1 */
    p[1] = 201;  /* RR */
    p[3] = RTCP_LEN / 4 - 1;
    p[4] = 0x22;
    p[7] = 0x22;
    p[8] = 0x33; /* reportee SSRC */
    p[16] = (uint8_t)(n >> 24);
    p[17] = (uint8_t)(n >> 16);
    p[18] = (uint8_t)(n >> 8);
    p[19] = (uint8_t)n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- callbacks --- */

static void on_rtp(void *ud, uint8_t *pkt, size_t len)
{
    struct side *s = ud;
    s->rtp_received++;
    if (len != RTP_LEN || be32(pkt + 8) != NEW_SSRC) {
        s->rtp_bad = true;
        return;
    }
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint8_t expect[RTP_LEN];
    make_rtp(expect, seq);
    if (seq >= N_RTP || memcmp(expect + 12, pkt + 12, PAYLOAD_LEN) != 0 || pkt[1] != 96) {
        s->rtp_bad = true;
        return;
    }
    if (s->rtp_seen[seq])
        s->rtp_dup = true;
    s->rtp_seen[seq] = 1;
}

static void on_rtcp(void *ud, uint8_t *pkt, size_t len)
{
    struct side *s = ud;
    s->rtcp_received++;
    if (len != RTCP_LEN) {
        s->rtcp_bad = true;
        return;
    }
    uint32_t n = be32(pkt + 16);
    uint8_t expect[RTCP_LEN];
    make_rtcp(expect, n);
    if (n >= N_RTCP || memcmp(expect, pkt, RTCP_LEN) != 0) {
        s->rtcp_bad = true;
        return;
    }
    if (s->rtcp_seen[n])
        s->rtcp_dup = true;
    s->rtcp_seen[n] = 1;
}

static void on_closed(void *ud)
{
    struct side *s = ud;
    s->closed = true;
}

static void on_status(void *ud, enum prism_transport_state st, const char *reason)
{
    struct side *s = ud;
    assert_non_null(reason);
    s->status = st;
    s->n_status++;
    size_t n = strlen(reason);
    if (n >= sizeof(s->reason))
        n = sizeof(s->reason) - 1;
    memcpy(s->reason, reason, n);
    s->reason[n] = '\0';
    if (st == PRISM_TRANSPORT_FAILED && s->close_on_failed) {
        prism_transport_close(s->t, on_closed);
        s->t = NULL;
    }
}

static void on_candidate(void *ud, const char *cand)
{
    struct side *s = ud;
    if (s->peer->t && prism_transport_add_remote_candidate(s->peer->t, cand) != 0)
        s->candidate_error = true;
}

static void on_gathering_done(void *ud)
{
    struct side *s = ud;
    s->gathering_done = true;
    if (s->peer->t && prism_transport_add_remote_candidate(s->peer->t, NULL) != 0)
        s->candidate_error = true;
}

static const struct prism_transport_callbacks callbacks = {
    .on_rtp = on_rtp,
    .on_rtcp = on_rtcp,
    .on_status = on_status,
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
};

/* on_srtp_peek (prism-bench --verify-sample): reads the clear header and
 * lets one packet in three (by sequence number) on to be authenticated. */
static uint32_t peeked;
static bool peek_bad;

static bool on_peek(void *ud, const uint8_t *pkt, size_t len)
{
    (void)ud;
    peeked++;
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    if (len <= RTP_LEN || be32(pkt + 8) != NEW_SSRC || pkt[1] != 96)
        peek_bad = true;
    return seq % 3 == 0;
}

static const struct prism_transport_callbacks peek_callbacks = {
    .on_rtp = on_rtp,
    .on_srtp_peek = on_peek,
    .on_rtcp = on_rtcp,
    .on_status = on_status,
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
};

static bool b_peeks = false; /* side b's transport gets peek_callbacks */

/* --- loop helpers --- */

static void on_flush(uv_prepare_t *h)
{
    struct fixture *f = h->data;
    prism_egress_flush_all(f->egress);
}

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
    return f->a.status == PRISM_TRANSPORT_CONNECTED && f->b.status == PRISM_TRANSPORT_CONNECTED;
}

static bool any_final(struct fixture *f)
{
    return f->a.status == PRISM_TRANSPORT_FAILED || f->b.status == PRISM_TRANSPORT_FAILED ||
           f->a.status == PRISM_TRANSPORT_CLOSED || f->b.status == PRISM_TRANSPORT_CLOSED;
}

static bool connected_or_final(struct fixture *f)
{
    return both_connected(f) || any_final(f);
}

static bool both_closed(struct fixture *f)
{
    return f->a.closed && f->b.closed;
}

static void side_init(struct side *s, const char *name, struct side *peer)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->peer = peer;
    assert_int_equal(prism_cert_generate(&s->cert), 0);
    assert_int_equal(prism_dtls_ctx_new(s->cert, &s->dtls_ctx), 0);
}

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(prism_egress_new(POOL_BUFS, &f->egress), 0);
    assert_int_equal(uv_prepare_init(&f->loop, &f->flusher), 0);
    f->flusher.data = f;
    assert_int_equal(uv_prepare_start(&f->flusher, on_flush), 0);
    side_init(&f->a, "a", &f->b);
    side_init(&f->b, "b", &f->a);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    /* Every transport must have been closed by the test. */
    assert_null(f->a.t);
    assert_null(f->b.t);
    prism_media_socket_close(f->msock);
    uv_close((uv_handle_t *)&f->flusher, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    /* Aborts if a buffer was not returned or a queue left linked. */
    prism_egress_free(f->egress);
    struct side *sides[2] = {&f->a, &f->b};
    for (int i = 0; i < 2; i++) {
        prism_dtls_ctx_free(sides[i]->dtls_ctx);
        prism_cert_free(sides[i]->cert);
    }
    free(f);
    return 0;
}

static void new_transport(struct fixture *f, struct side *s, enum prism_dtls_role role,
                          bool controlling)
{
    struct prism_transport_config cfg = {
        .ice = {.local_addrs = loopback, .n_local_addrs = 1, .controlling = controlling},
        .dtls_ctx = s->dtls_ctx,
        .dtls_role = role,
        .egress = f->egress,
        .lite = s == &f->a ? f->msock : NULL,
        .silence_timeout_ms = f->silence_ms,
    };
    const struct prism_transport_callbacks *cb =
        b_peeks && s == &f->b ? &peek_callbacks : &callbacks;
    assert_int_equal(prism_transport_new(&f->loop, &cfg, cb, s, &s->t), 0);
    assert_int_equal(prism_transport_status(s->t), PRISM_TRANSPORT_NEW);
}

/* "sha-256 AB:CD:..." of `s`'s certificate, with the first digit changed when
 * `wrong`. */
static void sdp_fingerprint(const struct side *s, bool wrong, char *out, size_t cap)
{
    int n = snprintf(out, cap, "sha-256 %s", prism_cert_fingerprint(s->cert));
    assert_true(n > 0 && (size_t)n < cap);
    if (wrong)
        out[8] = out[8] == '0' ? '1' : '0';
}

static void exchange_remote(struct side *s, bool wrong_fingerprint)
{
    const char *ufrag, *pwd;
    char fp[PRISM_CERT_FINGERPRINT_MAX + 16];
    prism_transport_local_credentials(s->peer->t, &ufrag, &pwd);
    sdp_fingerprint(s->peer, wrong_fingerprint, fp, sizeof(fp));
    assert_int_equal(prism_transport_set_remote(s->t, ufrag, pwd, fp), 0);
    assert_int_equal(prism_transport_status(s->t), PRISM_TRANSPORT_CONNECTING);
    assert_int_equal(prism_transport_set_remote(s->t, ufrag, pwd, fp), PRISM_EINVAL);
}

/* Creates both transports, exchanges everything and starts gathering. */
static void start_pair(struct fixture *f, bool a_wrong_fp, bool b_wrong_fp)
{
    new_transport(f, &f->a, PRISM_DTLS_SERVER, false);
    new_transport(f, &f->b, PRISM_DTLS_CLIENT, true);
    exchange_remote(&f->a, a_wrong_fp);
    exchange_remote(&f->b, b_wrong_fp);
    assert_int_equal(prism_transport_gather(f->a.t), 0);
    assert_int_equal(prism_transport_gather(f->b.t), 0);
}

static void connect_pair(struct fixture *f)
{
    start_pair(f, false, false);
    bool ok = run_until(f, connected_or_final, CONNECT_GUARD_MS);
    if (!ok || !both_connected(f))
        fail_msg("not connected: a=%d (%s) b=%d (%s)", f->a.status, f->a.reason, f->b.status,
                 f->b.reason);
    assert_true(f->a.gathering_done && f->b.gathering_done);
    assert_false(f->a.candidate_error || f->b.candidate_error);
    assert_string_equal(f->a.reason, "");
    /* CONNECTING then CONNECTED, each once. */
    assert_int_equal(f->a.n_status, 2);
    assert_int_equal(f->b.n_status, 2);
}

static void close_pair(struct fixture *f)
{
    prism_transport_close(f->a.t, on_closed);
    prism_transport_close(f->b.t, on_closed);
    f->a.t = f->b.t = NULL;
    assert_true(run_until(f, both_closed, CLOSE_GUARD_MS));
}

static size_t pool_free(const struct fixture *f)
{
    struct prism_egress_stats st;
    prism_egress_stats(f->egress, &st);
    return st.bufs_free;
}

/* --- transfer --- */

static uint32_t transfer_target;

static bool transfer_done(struct fixture *f)
{
    return f->b.rtp_received >= transfer_target && f->a.rtcp_received >= transfer_target;
}

static bool b_closed_by_peer(struct fixture *f)
{
    return f->b.status == PRISM_TRANSPORT_CLOSED;
}

static void connect_and_transfer(struct fixture *f)
{
    uint8_t pkt[RTP_LEN], rtcp[RTCP_LEN];
    connect_pair(f);

    for (uint32_t sent = 0; sent < N_RTP; sent += BURST) {
        for (uint32_t i = sent; i < sent + BURST; i++) {
            make_rtp(pkt, (uint16_t)i);
            assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
            make_rtcp(rtcp, i);
            assert_int_equal(prism_transport_send_rtcp(f->b.t, rtcp, sizeof(rtcp)), 0);
        }
        /* `pkt` is not modified by the send. */
        assert_int_equal(be32(pkt + 8), ORIG_SSRC);
        transfer_target = sent + BURST;
        assert_true(run_until(f, transfer_done, TRANSFER_GUARD_MS));
        assert_int_equal(pool_free(f), POOL_BUFS);
    }
    assert_int_equal(f->b.rtp_received, N_RTP);
    assert_int_equal(f->a.rtcp_received, N_RTCP);
    assert_false(f->b.rtp_bad || f->b.rtp_dup || f->a.rtcp_bad || f->a.rtcp_dup);
    assert_int_equal(f->a.rtp_received, 0);
    assert_int_equal(f->b.rtcp_received, 0);

    const struct prism_media_counters *ca = prism_transport_counters(f->a.t);
    const struct prism_media_counters *cb = prism_transport_counters(f->b.t);
    assert_int_equal(ca->packets_out, N_RTP);
    assert_int_equal(cb->packets_in, N_RTP);
    assert_int_equal(cb->packets_out, N_RTCP);
    assert_int_equal(ca->packets_in, N_RTCP);
    assert_int_equal(ca->bytes_out, cb->bytes_in);
    assert_int_equal(cb->bytes_out, ca->bytes_in);
    /* SRTP adds a tag (and SRTCP an index) to every packet. */
    assert_true(ca->bytes_out > (uint64_t)N_RTP * RTP_LEN);
    assert_true(cb->bytes_out > (uint64_t)N_RTCP * RTCP_LEN);
    assert_int_equal(ca->drop_egress + cb->drop_egress + ca->drop_not_srtp + cb->drop_not_srtp +
                         ca->drop_srtp_auth + cb->drop_srtp_auth + ca->drop_srtp_replay +
                         cb->drop_srtp_replay + ca->drop_malformed + cb->drop_malformed,
                     0);

    /* Bursts of 100 on one queue: an early flush at 64, the rest at the
     * iteration's flush. */
    struct prism_egress_stats st;
    prism_egress_stats(f->egress, &st);
    assert_true(st.early_flushes >= 2 * (N_RTP / BURST));
    assert_int_equal(st.pool_empty, 0);

    /* A closes: its close_notify tells B at once, B stops sending. */
    prism_transport_close(f->a.t, on_closed);
    f->a.t = NULL;
    assert_true(run_until(f, b_closed_by_peer, CLOSE_GUARD_MS));
    assert_string_equal(f->b.reason, "dtls: closed by peer");
    make_rtp(pkt, 0);
    assert_int_equal(prism_transport_send_rtp(f->b.t, pkt, sizeof(pkt)), PRISM_EIO);
    prism_transport_close(f->b.t, on_closed);
    f->b.t = NULL;
    assert_true(run_until(f, both_closed, CLOSE_GUARD_MS));
    assert_int_equal(pool_free(f), POOL_BUFS);
}

static void test_connect_and_transfer(void **state)
{
    connect_and_transfer(*state);
}

/* Side A as the relay: ICE-lite on the worker's socket, no agent of its
 * own; B checks, nominates and gets the same media both ways. */
static void test_lite_connect_and_transfer(void **state)
{
    struct fixture *f = *state;
    struct prism_media_socket_config mc = {
        .addrs = loopback, .n_addrs = 1, .port_min = 47500, .port_max = 47599, .n_workers = 1};
    char err[160];
    assert_int_equal(prism_media_socket_open(&f->loop, &mc, &f->msock, err, sizeof(err)), 0);
    connect_and_transfer(f);
    /* The binding left the worker's tables with the transport. */
    assert_int_equal(prism_ice_lite_count(prism_media_socket_lite(f->msock)), 0);
}

static bool a_silent(struct fixture *f)
{
    return f->a.status == PRISM_TRANSPORT_FAILED;
}

/* A lite transport whose peer goes quiet once connected (no media; its
 * consent checks come every few seconds) fails "consent lost" after its
 * silence timeout, here 300 ms. */
static void test_lite_silence(void **state)
{
    struct fixture *f = *state;
    struct prism_media_socket_config mc = {
        .addrs = loopback, .n_addrs = 1, .port_min = 47600, .port_max = 47699, .n_workers = 1};
    char err[160];
    assert_int_equal(prism_media_socket_open(&f->loop, &mc, &f->msock, err, sizeof(err)), 0);
    f->silence_ms = 300;
    connect_pair(f);
    uint64_t start = uv_now(&f->loop);
    assert_true(run_until(f, a_silent, 3000));
    assert_string_equal(f->a.reason, "consent lost");
    assert_true(uv_now(&f->loop) - start >= 200);
    assert_int_equal(f->b.status, PRISM_TRANSPORT_CONNECTED);
    close_pair(f);
}

static bool b_got_one_more(struct fixture *f)
{
    return f->b.rtp_received >= 1 && f->a.rtcp_received >= 1;
}

/* An ICE restart of a connected lite transport (issue 8 item 7): new
 * credentials of ours, candidates reported again, the same status, DTLS
 * session and SRTP contexts: media still flows both ways (B, which cannot
 * restart, goes on over the pair the old credentials proved). Another
 * fingerprint, malformed credentials, or a libnice transport: refused. */
static void test_lite_restart_keeps_session(void **state)
{
    struct fixture *f = *state;
    struct prism_media_socket_config mc = {
        .addrs = loopback, .n_addrs = 1, .port_min = 47700, .port_max = 47799, .n_workers = 1};
    char err[160], fp[PRISM_CERT_FINGERPRINT_MAX + 16], wrong[PRISM_CERT_FINGERPRINT_MAX + 16];
    assert_int_equal(prism_media_socket_open(&f->loop, &mc, &f->msock, err, sizeof(err)), 0);
    connect_pair(f);
    sdp_fingerprint(&f->b, false, fp, sizeof(fp));
    sdp_fingerprint(&f->b, true, wrong, sizeof(wrong));
    const char *u0, *p0;
    prism_transport_local_credentials(f->a.t, &u0, &p0);
    char old_ufrag[64];
    snprintf(old_ufrag, sizeof(old_ufrag), "%s", u0);
    const char *pwd = "Jm2kD5oOaQ0u1pVvWw3+yy9Z";

    assert_int_equal(prism_transport_restart_ice(f->a.t, "Zq9x", pwd, wrong), PRISM_EINVAL);
    assert_int_equal(prism_transport_restart_ice(f->a.t, "Zq9x", "short", fp), PRISM_EINVAL);
    assert_int_equal(prism_transport_restart_ice(f->a.t, "Zq9x", pwd, NULL), PRISM_EINVAL);
    assert_int_equal(prism_transport_restart_ice(f->b.t, "Zq9x", pwd, fp), PRISM_EUNSUPPORTED);
    prism_transport_local_credentials(f->a.t, &u0, &p0);
    assert_string_equal(u0, old_ufrag);

    f->a.gathering_done = false;
    assert_int_equal(prism_transport_restart_ice(f->a.t, "Zq9x", pwd, fp), 0);
    assert_true(f->a.gathering_done);
    prism_transport_local_credentials(f->a.t, &u0, &p0);
    assert_string_not_equal(u0, old_ufrag);
    assert_int_equal(prism_transport_status(f->a.t), PRISM_TRANSPORT_CONNECTED);
    assert_int_equal(f->a.n_status, 2);
    /* The answer side of a restart we offer: the same certificate only. */
    assert_int_equal(prism_transport_restart_remote(f->a.t, "Zq9y", pwd, wrong), PRISM_EINVAL);
    assert_int_equal(prism_transport_restart_remote(f->a.t, "Zq9y", pwd, fp), 0);

    uint8_t pkt[RTP_LEN], rtcp[RTCP_LEN];
    make_rtp(pkt, 1);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
    make_rtcp(rtcp, 1);
    assert_int_equal(prism_transport_send_rtcp(f->b.t, rtcp, sizeof(rtcp)), 0);
    assert_true(run_until(f, b_got_one_more, TRANSFER_GUARD_MS));
    assert_false(f->b.rtp_bad || f->a.rtcp_bad);
    assert_int_equal(f->a.n_status, 2);
    close_pair(f);
}

/* A renegotiation of a connected lite transport (the peer re-offers with
 * the same credentials and certificate): nothing changes but the
 * candidates, reported again for the answer; the same credentials, status,
 * DTLS session and SRTP contexts, media both ways. Another ufrag or
 * fingerprint, a malformed pwd, or a libnice transport: refused. */
static void test_lite_renegotiate_keeps_session(void **state)
{
    struct fixture *f = *state;
    struct prism_media_socket_config mc = {
        .addrs = loopback, .n_addrs = 1, .port_min = 47800, .port_max = 47899, .n_workers = 1};
    char err[160], fp[PRISM_CERT_FINGERPRINT_MAX + 16], wrong[PRISM_CERT_FINGERPRINT_MAX + 16];
    assert_int_equal(prism_media_socket_open(&f->loop, &mc, &f->msock, err, sizeof(err)), 0);
    connect_pair(f);
    sdp_fingerprint(&f->b, false, fp, sizeof(fp));
    sdp_fingerprint(&f->b, true, wrong, sizeof(wrong));
    const char *bu, *bp, *u0, *p0;
    prism_transport_local_credentials(f->b.t, &bu, &bp);
    prism_transport_local_credentials(f->a.t, &u0, &p0);
    char ufrag[64], pwd[300];
    snprintf(ufrag, sizeof(ufrag), "%s", u0);
    snprintf(pwd, sizeof(pwd), "%s", p0);

    f->a.gathering_done = false;
    assert_int_equal(prism_transport_renegotiate(f->a.t, bu, bp, wrong), PRISM_EINVAL);
    assert_int_equal(prism_transport_renegotiate(f->a.t, "Zq9x", bp, fp), PRISM_EINVAL);
    assert_int_equal(prism_transport_renegotiate(f->a.t, bu, "short", fp), PRISM_EINVAL);
    assert_int_equal(prism_transport_renegotiate(f->a.t, bu, NULL, fp), PRISM_EINVAL);
    assert_int_equal(prism_transport_renegotiate(f->b.t, bu, bp, fp), PRISM_EUNSUPPORTED);
    assert_false(f->a.gathering_done);

    assert_int_equal(prism_transport_renegotiate(f->a.t, bu, bp, fp), 0);
    assert_true(f->a.gathering_done);
    assert_false(f->a.candidate_error);
    prism_transport_local_credentials(f->a.t, &u0, &p0);
    assert_string_equal(u0, ufrag);
    assert_string_equal(p0, pwd);
    assert_int_equal(prism_transport_status(f->a.t), PRISM_TRANSPORT_CONNECTED);
    assert_int_equal(f->a.n_status, 2);

    uint8_t pkt[RTP_LEN], rtcp[RTCP_LEN];
    make_rtp(pkt, 1);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
    make_rtcp(rtcp, 1);
    assert_int_equal(prism_transport_send_rtcp(f->b.t, rtcp, sizeof(rtcp)), 0);
    assert_true(run_until(f, b_got_one_more, TRANSFER_GUARD_MS));
    assert_false(f->b.rtp_bad || f->a.rtcp_bad);
    assert_int_equal(f->a.n_status, 2);
    assert_int_equal(f->b.n_status, 2);
    close_pair(f);
}

/* --- ingress demultiplexing --- */

static void snapshot(const struct side *s, struct prism_media_counters *out)
{
    *out = *prism_transport_counters(s->t);
}

/* Injects `len` bytes (copied: the ingress works in place) into `s`. */
static void inject(struct side *s, const uint8_t *data, size_t len)
{
    uint8_t buf[PRISM_EGRESS_BUF_BYTES];
    assert_true(len <= sizeof(buf));
    memcpy(buf, data, len);
    prism__transport_ingress(s->t, buf, len);
}

static void test_ingress_demux(void **state)
{
    struct fixture *f = *state;
    struct prism_media_counters before;
    uint8_t plain[RTP_LEN];
    make_rtp(plain, 7);

    /* Before the handshake: plain RTP and RTCP are never accepted. */
    start_pair(f, false, false);
    snapshot(&f->b, &before);
    inject(&f->b, plain, sizeof(plain));
    uint8_t rr[RTCP_LEN];
    make_rtcp(rr, 1);
    inject(&f->b, rr, sizeof(rr));
    assert_int_equal(prism_transport_counters(f->b.t)->drop_not_srtp, before.drop_not_srtp + 2);

    assert_true(run_until(f, connected_or_final, CONNECT_GUARD_MS));
    assert_true(both_connected(f));

    /* Unknown first bytes: STUN range (libnice's, never ours), 64-127,
     * 192-255. */
    static const uint8_t firsts[] = {0, 1, 3, 19, 64, 100, 127, 192, 200, 255};
    snapshot(&f->b, &before);
    for (size_t i = 0; i < sizeof(firsts); i++) {
        uint8_t d[RTP_LEN];
        memcpy(d, plain, sizeof(d));
        d[0] = firsts[i];
        inject(&f->b, d, sizeof(d));
    }
    assert_int_equal(prism_transport_counters(f->b.t)->drop_not_srtp,
                     before.drop_not_srtp + sizeof(firsts));

    /* Plain RTP after the handshake is indistinguishable from a forgery. */
    snapshot(&f->b, &before);
    inject(&f->b, plain, sizeof(plain));
    assert_int_equal(prism_transport_counters(f->b.t)->drop_srtp_auth, before.drop_srtp_auth + 1);

    /* Truncated: shorter than any RTP or RTCP header, and empty. */
    snapshot(&f->b, &before);
    inject(&f->b, plain, 1);
    inject(&f->b, plain, 6);
    inject(&f->b, rr, 4);
    inject(&f->b, plain, 0);
    assert_int_equal(prism_transport_counters(f->b.t)->drop_malformed, before.drop_malformed + 4);

    /* A real SRTP packet from A, read from A's queue before the flush. */
    make_rtp(plain, 9);
    assert_int_equal(send_as(f, f->a.t, plain, sizeof(plain), NEW_SSRC), 0);
    struct prism_egress_queue *q = prism__transport_queue(f->a.t);
    assert_int_equal(q->n, 1);
    uint8_t srtp[PRISM_EGRESS_BUF_BYTES];
    size_t srtp_len = q->pkts[0].len;
    assert_true(srtp_len > sizeof(plain));
    memcpy(srtp, q->pkts[0].data, srtp_len);

    /* Tampered (one payload bit, then the tag) before the original arrives. */
    snapshot(&f->b, &before);
    uint8_t bad[PRISM_EGRESS_BUF_BYTES];
    memcpy(bad, srtp, srtp_len);
    bad[20] ^= 0x01;
    inject(&f->b, bad, srtp_len);
    memcpy(bad, srtp, srtp_len);
    bad[srtp_len - 1] ^= 0x80;
    inject(&f->b, bad, srtp_len);
    assert_int_equal(prism_transport_counters(f->b.t)->drop_srtp_auth, before.drop_srtp_auth + 2);
    assert_int_equal(f->b.rtp_received, 0);

    /* The original through the network: delivered once. */
    transfer_target = 1;
    f->a.rtcp_received = 1; /* only RTP is awaited here */
    assert_true(run_until(f, transfer_done, TRANSFER_GUARD_MS));
    assert_int_equal(f->b.rtp_received, 1);
    assert_true(f->b.rtp_seen[9]);

    /* Replayed: dropped as a replay, not delivered. */
    snapshot(&f->b, &before);
    inject(&f->b, srtp, srtp_len);
    inject(&f->b, srtp, srtp_len);
    assert_int_equal(prism_transport_counters(f->b.t)->drop_srtp_replay,
                     before.drop_srtp_replay + 2);
    assert_int_equal(f->b.rtp_received, 1);

    /* DTLS-looking garbage after the handshake: ignored by the session, the
     * transport stays up. */
    uint8_t dtls_junk[40];
    memset(dtls_junk, 0x5a, sizeof(dtls_junk));
    dtls_junk[0] = 23;
    inject(&f->b, dtls_junk, sizeof(dtls_junk));
    assert_int_equal(prism_transport_status(f->b.t), PRISM_TRANSPORT_CONNECTED);
    assert_false(f->b.rtp_bad);
    assert_int_equal(f->b.rtcp_received, 0);
    assert_int_equal(f->a.rtp_received, 0);

    close_pair(f);
}

/* --- egress refusals --- */

static void test_egress_refusals(void **state)
{
    struct fixture *f = *state;
    uint8_t pkt[RTP_LEN];
    make_rtp(pkt, 1);

    /* Not connected yet. */
    new_transport(f, &f->a, PRISM_DTLS_SERVER, false);
    assert_int_equal(prism_transport_send_rtp(f->a.t, pkt, sizeof(pkt)), PRISM_EIO);
    assert_int_equal(prism_transport_send_rtcp(f->a.t, pkt, sizeof(pkt)), PRISM_EIO);
    assert_int_equal(prism_transport_counters(f->a.t)->drop_egress, 2);
    prism_transport_close(f->a.t, NULL);
    f->a.t = NULL;
    f->a.status = PRISM_TRANSPORT_NEW;
    f->a.n_status = 0;

    connect_pair(f);
    const struct prism_media_counters *c = prism_transport_counters(f->a.t);

    /* Invalid packets. */
    uint8_t big[PRISM_EGRESS_MAX_PACKET + 1];
    memset(big, 0, sizeof(big));
    big[0] = 0x80;
    assert_int_equal(prism_transport_send_rtp(f->a.t, big, sizeof(big)), PRISM_EINVAL);
    assert_int_equal(prism_transport_send_rtp(f->a.t, pkt, 11), PRISM_EINVAL);
    assert_int_equal(prism_transport_send_rtcp(f->a.t, pkt, 7), PRISM_EINVAL);
    uint8_t v1[RTP_LEN];
    memcpy(v1, pkt, sizeof(v1));
    v1[0] = 0x40;
    assert_int_equal(prism_transport_send_rtp(f->a.t, v1, sizeof(v1)), PRISM_EINVAL);
    assert_int_equal(c->drop_egress, 4);

    /* Pool empty: take every buffer, then give them back. */
    static uint8_t *held[POOL_BUFS];
    size_t n_held = 0;
    uint8_t *b;
    while ((b = prism_egress_buf_get(f->egress)) != NULL)
        held[n_held++] = b;
    assert_int_equal(n_held, POOL_BUFS);
    assert_int_equal(prism_transport_send_rtp(f->a.t, pkt, sizeof(pkt)), PRISM_ENOMEM);
    assert_int_equal(c->drop_egress, 5);
    while (n_held > 0)
        prism_egress_buf_put(f->egress, held[--n_held]);

    /* ssrc 0 keeps the packet's own SSRC: B rejects it as not NEW_SSRC. */
    assert_int_equal(prism_transport_send_rtp(f->a.t, pkt, sizeof(pkt)), 0);
    transfer_target = 1;
    f->a.rtcp_received = 1;
    assert_true(run_until(f, transfer_done, TRANSFER_GUARD_MS));
    assert_true(f->b.rtp_bad);
    assert_int_equal(c->packets_out, 1);

    close_pair(f);
    /* Closed transports refuse nothing more: they are gone. The pool is whole. */
    assert_int_equal(pool_free(f), POOL_BUFS);
}

/* --- bounded inbound SSRCs (issue 9, finding 2) --- */

#define FLOOD_SSRCS 300
#define FLOOD_BURST 50

static uint32_t flood_target;

static bool b_counted_flood(struct fixture *f)
{
    const struct prism_media_counters *c = prism_transport_counters(f->b.t);
    return c->packets_in + c->drop_ssrc_limit >= flood_target;
}

/* A peer holding the keys sends authentic packets from 300 SSRCs: the
 * transport delivers the negotiated SSRC and two others (set before the
 * handshake keyed it), counts every other packet in drop_ssrc_limit, and
 * a smaller allowance given later does not take a stream back. */
static void test_inbound_ssrcs_bounded(void **state)
{
    struct fixture *f = *state;
    uint8_t pkt[RTP_LEN];
    start_pair(f, false, false);
    const uint32_t negotiated[] = {NEW_SSRC};
    assert_int_equal(prism_transport_set_ssrcs(f->b.t, negotiated, 1, 2), 0);
    assert_int_equal(prism_transport_set_ssrcs(f->b.t, NULL, 1, 2), PRISM_EINVAL);
    assert_true(run_until(f, connected_or_final, CONNECT_GUARD_MS));
    assert_true(both_connected(f));

    /* Others first: NEW_SSRC comes last, after the allowance is used up. */
    make_rtp(pkt, 1);
    for (uint32_t sent = 0; sent < FLOOD_SSRCS; sent += FLOOD_BURST) {
        for (uint32_t i = sent; i < sent + FLOOD_BURST; i++)
            assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), 0x40000000u + i), 0);
        flood_target = sent + FLOOD_BURST;
        assert_true(run_until(f, b_counted_flood, TRANSFER_GUARD_MS));
    }
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
    flood_target = FLOOD_SSRCS + 1;
    assert_true(run_until(f, b_counted_flood, TRANSFER_GUARD_MS));

    const struct prism_media_counters *c = prism_transport_counters(f->b.t);
    assert_int_equal(c->packets_in, 3);
    assert_int_equal(c->drop_ssrc_limit, FLOOD_SSRCS - 2);
    assert_int_equal(f->b.rtp_received, 3);
    assert_true(f->b.rtp_seen[1]);
    assert_int_equal(c->drop_srtp_auth + c->drop_srtp_replay + c->drop_malformed, 0);

    /* Less room now: the two others keep their streams (allowance only
     * grows within a transport); a third other is still refused. */
    assert_int_equal(prism_transport_set_ssrcs(f->b.t, negotiated, 1, 0), 0);
    make_rtp(pkt, 2);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), 0x40000000u), 0);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), 0x40000001u), 0);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), 0x40000002u), 0);
    flood_target = FLOOD_SSRCS + 4;
    assert_true(run_until(f, b_counted_flood, TRANSFER_GUARD_MS));
    assert_int_equal(c->packets_in, 5);
    assert_int_equal(c->drop_ssrc_limit, FLOOD_SSRCS - 1);
    close_pair(f);
}

/* --- a sample authenticated (on_srtp_peek) --- */

#define PEEK_PKTS 90

static bool b_counted_peeks(struct fixture *f)
{
    return prism_transport_counters(f->b.t)->packets_in >= PEEK_PKTS;
}

/* Every SRTP packet reaches on_srtp_peek with its header in the clear; the
 * one in three it lets through is authenticated and delivered despite the
 * gaps (libsrtp's replay window follows the highest authenticated index),
 * the others are counted in packets_in and go no further. SRTCP is not
 * peeked. */
static void test_srtp_peek_samples(void **state)
{
    struct fixture *f = *state;
    uint8_t pkt[RTP_LEN], rtcp[RTCP_LEN];
    b_peeks = true;
    connect_pair(f);
    b_peeks = false;
    for (uint16_t seq = 0; seq < PEEK_PKTS; seq++) {
        make_rtp(pkt, seq);
        assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
    }
    make_rtcp(rtcp, 7);
    assert_int_equal(prism_transport_send_rtcp(f->a.t, rtcp, sizeof(rtcp)), 0);
    assert_true(run_until(f, b_counted_peeks, TRANSFER_GUARD_MS));
    const struct prism_media_counters *c = prism_transport_counters(f->b.t);
    assert_int_equal(peeked, PEEK_PKTS);
    assert_false(peek_bad);
    assert_int_equal(f->b.rtp_received, PEEK_PKTS / 3);
    for (uint16_t seq = 0; seq < PEEK_PKTS; seq++)
        assert_int_equal(f->b.rtp_seen[seq], seq % 3 == 0);
    assert_false(f->b.rtp_bad || f->b.rtp_dup);
    assert_int_equal(c->drop_srtp_auth + c->drop_srtp_replay + c->drop_malformed, 0);
    close_pair(f);
}

/* --- repeated outbound index (issue 9, finding 3) --- */

static bool b_got_two(struct fixture *f)
{
    return f->b.rtp_received >= 2;
}

/* A publisher's packet duplicated on its way to the router, or a consumer
 * that maps two packets onto one sequence number, reaches the subscriber's
 * transport twice under one (SSRC, index): the second is refused by the
 * protect (never a reused AES-GCM nonce), counted in drop_egress, and the
 * subscriber gets the packet once. */
static void test_repeated_index_not_sent(void **state)
{
    struct fixture *f = *state;
    uint8_t pkt[RTP_LEN];
    connect_pair(f);
    const struct prism_media_counters *c = prism_transport_counters(f->a.t);

    make_rtp(pkt, 5);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), PRISM_ECRYPTO);
    pkt[40] ^= 0xff; /* another payload under the same index */
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), PRISM_ECRYPTO);
    assert_int_equal(c->drop_egress, 2);
    assert_int_equal(prism__transport_queue(f->a.t)->n, 1);
    make_rtp(pkt, 6);
    assert_int_equal(send_as(f, f->a.t, pkt, sizeof(pkt), NEW_SSRC), 0);
    assert_int_equal(pool_free(f), POOL_BUFS - 2);

    f->a.rtcp_received = 2; /* only RTP is awaited here */
    assert_true(run_until(f, b_got_two, TRANSFER_GUARD_MS));
    assert_int_equal(f->b.rtp_received, 2);
    assert_true(f->b.rtp_seen[5] && f->b.rtp_seen[6]);
    assert_false(f->b.rtp_bad || f->b.rtp_dup);
    assert_int_equal(c->packets_out, 2);
    assert_int_equal(prism_transport_counters(f->b.t)->drop_srtp_replay, 0);
    close_pair(f);
    assert_int_equal(pool_free(f), POOL_BUFS);
}

/* --- wrong fingerprint --- */

static bool side_failed(struct fixture *f, struct side *s)
{
    (void)f;
    return s->status == PRISM_TRANSPORT_FAILED;
}

static bool b_failed(struct fixture *f)
{
    return side_failed(f, &f->b);
}

static bool a_failed(struct fixture *f)
{
    return side_failed(f, &f->a);
}

static void check_wrong_fingerprint(struct fixture *f, bool on_client)
{
    struct side *victim = on_client ? &f->b : &f->a;
    struct side *other = on_client ? &f->a : &f->b;
    uint8_t pkt[RTP_LEN];

    victim->close_on_failed = true;
    start_pair(f, !on_client, on_client);
    if (!run_until(f, on_client ? b_failed : a_failed, CONNECT_GUARD_MS))
        fail_msg("%s did not fail: status %d (%s)", victim->name, victim->status, victim->reason);
    assert_non_null(strstr(victim->reason, "fingerprint"));
    assert_int_equal(strncmp(victim->reason, "dtls: ", 6), 0);
    /* Closed from inside on_status. */
    assert_null(victim->t);
    /* The other side never gets keys: its handshake failed or is stuck. */
    assert_int_not_equal(other->status, PRISM_TRANSPORT_CONNECTED);
    make_rtp(pkt, 1);
    assert_int_equal(send_as(f, other->t, pkt, sizeof(pkt), NEW_SSRC), PRISM_EIO);
    assert_int_equal(
        f->a.rtp_received + f->b.rtp_received + f->a.rtcp_received + f->b.rtcp_received, 0);
    prism_transport_close(other->t, on_closed);
    other->t = NULL;
    assert_true(run_until(f, both_closed, CLOSE_GUARD_MS));
}

static void test_wrong_fingerprint_client(void **state)
{
    check_wrong_fingerprint(*state, true);
}

static void test_wrong_fingerprint_server(void **state)
{
    check_wrong_fingerprint(*state, false);
}

/* --- API validation --- */

static void test_invalid_arguments(void **state)
{
    struct fixture *f = *state;
    struct prism_transport *t = NULL;
    struct prism_transport_config cfg = {
        .ice = {.local_addrs = loopback, .n_local_addrs = 1},
        .dtls_ctx = f->a.dtls_ctx,
        .dtls_role = PRISM_DTLS_SERVER,
        .egress = f->egress,
    };
    struct prism_transport_callbacks no_status = callbacks;
    no_status.on_status = NULL;
    assert_int_equal(prism_transport_new(&f->loop, &cfg, &no_status, NULL, &t), PRISM_EINVAL);
    cfg.egress = NULL;
    assert_int_equal(prism_transport_new(&f->loop, &cfg, &callbacks, NULL, &t), PRISM_EINVAL);
    cfg.egress = f->egress;
    cfg.dtls_ctx = NULL;
    assert_int_equal(prism_transport_new(&f->loop, &cfg, &callbacks, NULL, &t), PRISM_EINVAL);
    cfg.dtls_ctx = f->a.dtls_ctx;
    assert_null(t);

    new_transport(f, &f->a, PRISM_DTLS_SERVER, false);
    const char *ufrag, *pwd;
    prism_transport_local_credentials(f->a.t, &ufrag, &pwd);
    assert_true(strlen(ufrag) >= 4 && strlen(pwd) >= 22);
    /* Candidates before the remote description. */
    assert_int_equal(prism_transport_add_remote_candidate(
                         f->a.t, "candidate:1 1 UDP 2013266431 127.0.0.1 40000 typ host"),
                     PRISM_EINVAL);
    assert_int_equal(prism_transport_set_remote(f->a.t, ufrag, pwd, "sha-256 zz"), PRISM_EINVAL);
    assert_int_equal(prism_transport_set_remote(f->a.t, ufrag, pwd, "md5 AB:CD"),
                     PRISM_EUNSUPPORTED);
    assert_int_equal(prism_transport_set_remote(f->a.t, "x", pwd, "sha-256 AB"), PRISM_EINVAL);
    char fp[PRISM_CERT_FINGERPRINT_MAX + 16];
    sdp_fingerprint(&f->b, false, fp, sizeof(fp));
    assert_int_equal(prism_transport_set_remote(f->a.t, "x", pwd, fp), PRISM_EINVAL);
    /* A failed set_remote leaves no session behind: a good one still works. */
    assert_int_equal(prism_transport_set_remote(f->a.t, ufrag, pwd, fp), 0);
    assert_int_equal(f->a.status, PRISM_TRANSPORT_CONNECTING);
    prism_transport_close(f->a.t, on_closed);
    assert_int_equal(prism_transport_status(f->a.t), PRISM_TRANSPORT_CLOSED);
    f->a.t = NULL;
    prism_transport_close(NULL, NULL);
    f->b.closed = true;
    assert_true(run_until(f, both_closed, CLOSE_GUARD_MS));
}

/* --- egress on its own --- */

static void test_egress_pool(void **state)
{
    (void)state;
    struct prism_egress *eg = NULL;
    assert_int_equal(prism_egress_new(0, &eg), PRISM_EINVAL);
    assert_int_equal(prism_egress_new(PRISM_EGRESS_MAX_BUFS + 1, &eg), PRISM_EINVAL);
    assert_int_equal(prism_egress_new(4, NULL), PRISM_EINVAL);
    assert_int_equal(PRISM_EGRESS_BUF_BYTES % 64, 0);
    assert_true(PRISM_EGRESS_BUF_BYTES >= PRISM_EGRESS_MAX_PACKET + PRISM_SRTP_MAX_TRAILER);

    assert_int_equal(prism_egress_new(4, &eg), 0);
    uint8_t *b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = prism_egress_buf_get(eg);
        assert_non_null(b[i]);
        assert_int_equal((uintptr_t)b[i] % 64, 0);
        /* Every byte of every buffer is writable (ASan checks). */
        memset(b[i], i, PRISM_EGRESS_BUF_BYTES);
        for (int j = 0; j < i; j++)
            assert_true(b[i] != b[j]);
    }
    assert_null(prism_egress_buf_get(eg));
    assert_null(prism_egress_buf_get(eg));
    struct prism_egress_stats st;
    prism_egress_stats(eg, &st);
    assert_int_equal(st.bufs_total, 4);
    assert_int_equal(st.bufs_free, 0);
    assert_int_equal(st.pool_empty, 2);
    for (int i = 0; i < 4; i++)
        prism_egress_buf_put(eg, b[i]);
    /* LIFO: the last one put back comes out first. */
    assert_ptr_equal(prism_egress_buf_get(eg), b[3]);
    prism_egress_buf_put(eg, b[3]);
    prism_egress_free(eg);
    prism_egress_free(NULL);
}

static bool ice_closed_flag;

static void on_ice_closed(void *ud)
{
    (void)ud;
    ice_closed_flag = true;
}

static void on_ice_recv(void *ud, uint8_t *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
}

static bool ice_closed(struct fixture *f)
{
    (void)f;
    return ice_closed_flag;
}

/* Queues on an agent that is not connected: every datagram is dropped and
 * counted, buffers come back, the dirty list empties. */
static void test_egress_queue_unconnected(void **state)
{
    struct fixture *f = *state;
    struct prism_ice *ice;
    struct prism_ice_config cfg = {.local_addrs = loopback, .n_local_addrs = 1};
    struct prism_ice_callbacks cb = {.on_recv = on_ice_recv};
    assert_int_equal(prism_ice_new(&f->loop, &cfg, &cb, NULL, &ice), 0);

    uint64_t packets = 0, bytes = 0, drops = 0;
    struct prism_egress_queue q1, q2;
    prism_egress_queue_init(&q1, ice, &packets, &bytes, &drops);
    prism_egress_queue_init(&q2, ice, NULL, NULL, NULL);

    for (int i = 0; i < PRISM_ICE_BATCH_MAX + 6; i++) {
        uint8_t *b = prism_egress_buf_get(f->egress);
        assert_non_null(b);
        prism_egress_queue_take(f->egress, &q1, b, 100);
    }
    /* The 64th datagram flushed the queue at once. */
    assert_int_equal(drops, PRISM_ICE_BATCH_MAX);
    assert_int_equal(q1.n, 6);
    assert_true(q1.dirty);
    prism_egress_queue_take(f->egress, &q2, prism_egress_buf_get(f->egress), 50);
    assert_true(q2.dirty);
    assert_int_equal(pool_free(f), POOL_BUFS - 7);

    prism_egress_flush_all(f->egress);
    assert_int_equal(drops, PRISM_ICE_BATCH_MAX + 6);
    assert_int_equal(packets, 0);
    assert_int_equal(bytes, 0);
    assert_false(q1.dirty || q2.dirty);
    assert_int_equal(pool_free(f), POOL_BUFS);

    /* Detach unlinks from the middle of the list and drops what is queued. */
    struct prism_egress_queue q3;
    prism_egress_queue_init(&q3, ice, NULL, NULL, &drops);
    prism_egress_queue_take(f->egress, &q1, prism_egress_buf_get(f->egress), 10);
    prism_egress_queue_take(f->egress, &q3, prism_egress_buf_get(f->egress), 10);
    prism_egress_queue_take(f->egress, &q2, prism_egress_buf_get(f->egress), 10);
    prism_egress_queue_detach(f->egress, &q3);
    prism_egress_queue_detach(f->egress, &q3);
    assert_false(q3.dirty);
    assert_int_equal(drops, PRISM_ICE_BATCH_MAX + 7);
    prism_egress_flush_all(f->egress);
    assert_int_equal(drops, PRISM_ICE_BATCH_MAX + 8);
    assert_int_equal(pool_free(f), POOL_BUFS);
    prism_egress_queue_detach(f->egress, &q1);
    prism_egress_queue_detach(f->egress, &q2);

    struct prism_egress_stats st;
    prism_egress_stats(f->egress, &st);
    assert_true(st.early_flushes >= 1);

    ice_closed_flag = false;
    prism_ice_close(ice, on_ice_closed);
    assert_true(run_until(f, ice_closed, CLOSE_GUARD_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_egress_pool),
        cmocka_unit_test_setup_teardown(test_egress_queue_unconnected, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_connect_and_transfer, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lite_connect_and_transfer, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lite_silence, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lite_restart_keeps_session, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lite_renegotiate_keeps_session, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_demux, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_egress_refusals, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_srtp_peek_samples, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inbound_ssrcs_bounded, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_repeated_index_not_sent, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_fingerprint_client, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_fingerprint_server, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
