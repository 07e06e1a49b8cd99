/* relay/net/ice_lite.c and media_socket.c: connectivity checks built by an
 * independent codec user (libnice's STUN usage as a full agent builds them),
 * the verdicts, the replies and the address table (issue 10, item 2; issue
 * 9, finding 8); then the demultiplexer on a real loopback socket.
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
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "relay/base/error.h"
#include "relay/net/ice_lite.h"
#include "relay/net/media_socket.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static const uint16_t client_known[] = {
    STUN_ATTRIBUTE_USERNAME,        STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_ERROR_CODE,      STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_FINGERPRINT,     STUN_ATTRIBUTE_ICE_CONTROLLED,
    STUN_ATTRIBUTE_ICE_CONTROLLING, 0,
};

/* A transport's side of a binding: what its callbacks saw. */
struct peer {
    struct prism_lite_binding b;
    int validated;
    int received;
    size_t last_len;
    uint8_t tags[8]; /* the third byte of datagram k, at k % 8 */
    int misaligned;  /* datagrams handed on at an address not a multiple of 8 */
};

static void on_recv(void *ud, uint8_t *data, size_t len)
{
    struct peer *p = ud;
    p->tags[p->received % 8] = len > 2 ? data[2] : 0;
    p->received++;
    p->last_len = len;
    p->misaligned += (uintptr_t)data % 8 != 0;
}

static void on_validated(void *ud)
{
    struct peer *p = ud;
    p->validated++;
}

/* The checking (full) agent: its codec state and what it sent. */
struct client {
    StunAgent agent;
    uint8_t req[512];
    size_t req_len;
    const char *pwd; /* the key of the reply's MESSAGE-INTEGRITY */
};

static void client_init(struct client *c)
{
    stun_agent_init(&c->agent, client_known, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
}

/* Builds a Binding request as libnice's full agent does: USERNAME
 * "ours:theirs", PRIORITY, ICE-CONTROLLING (or CONTROLLED), USE-CANDIDATE
 * when asked, MESSAGE-INTEGRITY under `pwd`, FINGERPRINT. */
static void client_check(struct client *c, const char *ours, const char *theirs, const char *pwd,
                         bool use, bool controlling)
{
    char user[300];
    StunMessage msg;
    snprintf(user, sizeof(user), "%s:%s", ours, theirs);
    client_init(c); /* its table of requests awaiting an answer is small */
    c->pwd = pwd;
    c->req_len = stun_usage_ice_conncheck_create(
        &c->agent, &msg, c->req, sizeof(c->req), (const uint8_t *)user, strlen(user),
        (const uint8_t *)pwd, strlen(pwd), use, controlling, 0x6e0001ff, 0x1234567890ULL, NULL,
        STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    assert_true(c->req_len > 20);
}

static bool client_password(StunAgent *agent, StunMessage *message, uint8_t *username,
                            uint16_t username_len, uint8_t **password, size_t *password_len,
                            void *user_data)
{
    struct client *c = user_data;
    (void)agent;
    (void)message;
    (void)username;
    (void)username_len;
    *password = (uint8_t *)c->pwd;
    *password_len = strlen(c->pwd);
    return true;
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

struct fixture {
    struct prism_ice_lite *lite;
    struct peer p;
    struct client c;
};

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(prism_ice_lite_new(&f->lite), 0);
    assert_int_equal(prism_ice_lite_attach(f->lite, &f->p.b, on_recv, on_validated, &f->p), 0);
    client_init(&f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    prism_ice_lite_detach(f->lite, &f->p.b);
    prism_ice_lite_free(f->lite);
    test_free(f);
    return 0;
}

static enum prism_lite_verdict feed(struct fixture *f, const struct sockaddr_storage *from,
                                    socklen_t len, uint8_t *reply, size_t *reply_len)
{
    return prism_ice_lite_on_stun(f->lite, f->c.req, f->c.req_len, from, len, 7, 1000, reply,
                                  reply_len);
}

/* A good check: a success reply the client's codec accepts (integrity
 * under our pwd, fingerprint, same transaction), whose XOR-MAPPED-ADDRESS is
 * the check's source; the source is validated and selected. */
static void test_valid_check(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    struct sockaddr_storage from = v4("192.0.2.10", 50000, &len);
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;

    assert_int_equal(strlen(f->p.b.ufrag), PRISM_LITE_UFRAG_LEN);
    assert_int_equal(strlen(f->p.b.pwd), PRISM_LITE_PWD_LEN);
    assert_false(prism_ice_lite_validated(&f->p.b));
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_REPLY);

    StunMessage resp;
    assert_int_equal(
        stun_agent_validate(&f->c.agent, &resp, reply, reply_len, client_password, &f->c),
        STUN_VALIDATION_SUCCESS);
    assert_int_equal(stun_message_get_class(&resp), STUN_RESPONSE);
    struct sockaddr_storage mapped;
    socklen_t mapped_len = sizeof(mapped);
    assert_int_equal(stun_usage_ice_conncheck_process(&resp, &mapped, &mapped_len,
                                                      STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
                     STUN_USAGE_ICE_RETURN_SUCCESS);
    assert_int_equal(mapped_len, len);
    assert_memory_equal(&mapped, &from, len);

    assert_int_equal(f->p.validated, 1);
    assert_true(prism_ice_lite_validated(&f->p.b));
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &from, len), &f->p.b);
    assert_int_equal(f->p.b.path.fd, 7);
    assert_memory_equal(&f->p.b.path.to, &from, len);
    assert_int_equal(prism_ice_lite_stats(f->lite)->stun_auth, 0);

    /* Media from it reaches the binding; from a neighbour port it does not. */
    uint8_t rtp[20] = {0x80, 0x60};
    prism_ice_lite_on_datagram(f->lite, rtp, sizeof(rtp), &from, len, 1001);
    assert_int_equal(f->p.received, 1);
    assert_int_equal(f->p.b.last_rx_ms, 1001);
    struct sockaddr_storage other = v4("192.0.2.10", 50001, &len);
    prism_ice_lite_on_datagram(f->lite, rtp, sizeof(rtp), &other, len, 1002);
    assert_int_equal(f->p.received, 1);
    assert_int_equal(prism_ice_lite_stats(f->lite)->unknown_source, 1);
}

/* Wrong password, unknown ufrag, wrong peer ufrag, a request without
 * integrity, a response, garbage: no reply, counted, nothing validated. */
static void test_refused_checks(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    struct sockaddr_storage from = v4("192.0.2.11", 50000, &len);
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len = 99;

    client_check(&f->c, f->p.b.ufrag, "clnt", "wrongpasswordwrongpassword", false, true);
    assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_DROPPED);
    assert_int_equal(reply_len, 0);
    client_check(&f->c, "zzzzzzzz", "clnt", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_DROPPED);
    assert_int_equal(prism_ice_lite_set_remote(&f->p.b, "real"), 0);
    client_check(&f->c, f->p.b.ufrag, "fake", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_DROPPED);

    /* A plain RFC 5389 Binding request (what a reflection scan sends). */
    uint8_t plain[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                         3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
    assert_int_equal(prism_ice_lite_on_stun(f->lite, plain, sizeof(plain), &from, len, 7, 1000,
                                            reply, &reply_len),
                     PRISM_LITE_DROPPED);
    uint8_t junk[3] = {1, 2, 3};
    assert_int_equal(
        prism_ice_lite_on_stun(f->lite, junk, sizeof(junk), &from, len, 7, 1000, reply, &reply_len),
        PRISM_LITE_DROPPED);
    assert_int_equal(reply_len, 0);
    assert_int_equal(prism_ice_lite_stats(f->lite)->stun_auth, 5);
    assert_int_equal(f->p.validated, 0);
    assert_null(prism_ice_lite_lookup(f->lite, &from, len));
    assert_false(prism_ice_lite_validated(&f->p.b));

    /* The right peer ufrag passes. */
    client_check(&f->c, f->p.b.ufrag, "real", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_int_equal(f->p.validated, 1);
    assert_int_equal(prism_ice_lite_set_remote(&f->p.b, "x"), PRISM_EINVAL);
}

/* A peer that also says controlled gets 487 (with integrity) and its
 * address is not validated: the relay never takes the controlling role. */
static void test_role_conflict(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    struct sockaddr_storage from = v4("192.0.2.12", 50000, &len);
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;

    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, false, false);
    assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_REPLY);
    StunMessage resp;
    assert_int_equal(
        stun_agent_validate(&f->c.agent, &resp, reply, reply_len, client_password, &f->c),
        STUN_VALIDATION_SUCCESS);
    assert_int_equal(stun_message_get_class(&resp), STUN_ERROR);
    int code = 0;
    assert_int_equal(stun_message_find_error(&resp, &code), STUN_MESSAGE_RETURN_SUCCESS);
    assert_int_equal(code, STUN_ERROR_ROLE_CONFLICT);
    assert_int_equal(f->p.validated, 0);
    assert_null(prism_ice_lite_lookup(f->lite, &from, len));
}

/* USE-CANDIDATE selects; an unnominated check afterwards does not move
 * the selection; a fifth address replaces the oldest unselected one. */
static void test_nomination_and_slots(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;
    struct sockaddr_storage a = v4("192.0.2.20", 1000, &len), b = v4("192.0.2.21", 1000, &len);

    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_memory_equal(&f->p.b.path.to, &a, len);
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &b, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_memory_equal(&f->p.b.path.to, &b, len);
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_memory_equal(&f->p.b.path.to, &b, len);

    /* a, b, then c, d, e: a (the oldest unselected) makes room for e. */
    for (int i = 0; i < 3; i++) {
        struct sockaddr_storage x = v4("192.0.2.30", (uint16_t)(2000 + i), &len);
        client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, false, true);
        assert_int_equal(prism_ice_lite_on_stun(f->lite, f->c.req, f->c.req_len, &x, len, 7,
                                                (uint64_t)(2000 + i), reply, &reply_len),
                         PRISM_LITE_REPLY);
    }
    struct sockaddr_storage e = v4("192.0.2.30", 2002, &len);
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &e, len), &f->p.b);
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &b, len), &f->p.b);
    assert_null(prism_ice_lite_lookup(f->lite, &a, len));
}

/* An address another binding's check proves moves to that binding (the
 * latest proof wins); the first binding no longer sends there. */
static void test_address_moves(void **state)
{
    struct fixture *f = *state;
    struct peer q = {0};
    socklen_t len;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;
    struct sockaddr_storage a = v4("192.0.2.40", 4000, &len);

    assert_int_equal(prism_ice_lite_attach(f->lite, &q.b, on_recv, on_validated, &q), 0);
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &a, len), &f->p.b);
    client_check(&f->c, q.b.ufrag, "clnt", q.b.pwd, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &a, len), &q.b);
    assert_false(prism_ice_lite_validated(&f->p.b));
    assert_true(prism_ice_lite_validated(&q.b));
    prism_ice_lite_detach(f->lite, &q.b);
    assert_null(prism_ice_lite_lookup(f->lite, &a, len));
}

/* Many bindings (the tables grow), each validated on its own address;
 * detaching one takes its addresses out; the others still resolve. */
static void test_table(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    static struct peer peers[N];
    socklen_t len;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;

    for (int i = 0; i < N; i++) {
        memset(&peers[i], 0, sizeof(peers[i]));
        assert_int_equal(
            prism_ice_lite_attach(f->lite, &peers[i].b, on_recv, on_validated, &peers[i]), 0);
        struct sockaddr_storage from = v4("198.51.100.1", (uint16_t)(10000 + i), &len);
        client_check(&f->c, peers[i].b.ufrag, "clnt", peers[i].b.pwd, true, true);
        assert_int_equal(feed(f, &from, len, reply, &reply_len), PRISM_LITE_REPLY);
    }
    assert_int_equal(prism_ice_lite_count(f->lite), N + 1);
    for (int i = 0; i < N; i++) {
        struct sockaddr_storage from = v4("198.51.100.1", (uint16_t)(10000 + i), &len);
        assert_ptr_equal(prism_ice_lite_lookup(f->lite, &from, len), &peers[i].b);
        assert_int_equal(peers[i].validated, 1);
    }
    struct sockaddr_storage gone = v4("198.51.100.1", 10007, &len);
    prism_ice_lite_detach(f->lite, &peers[7].b);
    prism_ice_lite_detach(f->lite, &peers[7].b); /* idempotent */
    assert_null(prism_ice_lite_lookup(f->lite, &gone, len));
    /* Its credentials no longer pass either. */
    client_check(&f->c, peers[7].b.ufrag, "clnt", peers[7].b.pwd, true, true);
    assert_int_equal(feed(f, &gone, len, reply, &reply_len), PRISM_LITE_DROPPED);
    for (int i = 0; i < N; i++)
        prism_ice_lite_detach(f->lite, &peers[i].b);
    assert_int_equal(prism_ice_lite_count(f->lite), 1);
}

/* ICE restart (RFC 8445 §9): the old credentials keep media on the old
 * path until the first check under the new ones passes; that check drops
 * them and every address they validated, and selects its own source. */
static void test_restart(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;
    struct sockaddr_storage a = v4("192.0.2.50", 5000, &len), b = v4("192.0.2.51", 5001, &len);
    char old_ufrag[PRISM_LITE_UFRAG_LEN + 1], old_pwd[PRISM_LITE_PWD_LEN + 1];

    assert_int_equal(prism_ice_lite_set_remote(&f->p.b, "clnt"), 0);
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    memcpy(old_ufrag, f->p.b.ufrag, sizeof(old_ufrag));
    memcpy(old_pwd, f->p.b.pwd, sizeof(old_pwd));

    /* A malformed peer ufrag changes nothing. */
    assert_int_equal(prism_ice_lite_restart(f->lite, &f->p.b, "x"), PRISM_EINVAL);
    assert_false(prism_ice_lite_restarting(&f->p.b));
    assert_string_equal(f->p.b.ufrag, old_ufrag);

    assert_int_equal(prism_ice_lite_restart(f->lite, &f->p.b, "cln2"), 0);
    assert_true(prism_ice_lite_restarting(&f->p.b));
    assert_int_equal(strlen(f->p.b.ufrag), PRISM_LITE_UFRAG_LEN);
    assert_string_not_equal(f->p.b.ufrag, old_ufrag);
    assert_string_not_equal(f->p.b.pwd, old_pwd);
    assert_string_equal(f->p.b.remote_ufrag, "cln2");
    assert_int_equal(f->p.b.restarts, 0);

    /* Meanwhile the old credentials still pass and media stays on a. */
    client_check(&f->c, old_ufrag, "clnt", old_pwd, false, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_true(prism_ice_lite_validated(&f->p.b));
    assert_memory_equal(&f->p.b.path.to, &a, len);
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &a, len), &f->p.b);
    /* Mixed: our new ufrag with the peer's old one, or our old pwd. */
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &b, len, reply, &reply_len), PRISM_LITE_DROPPED);
    client_check(&f->c, f->p.b.ufrag, "cln2", old_pwd, true, true);
    assert_int_equal(feed(f, &b, len, reply, &reply_len), PRISM_LITE_DROPPED);
    assert_true(prism_ice_lite_restarting(&f->p.b));

    /* The first check under the new credentials, not even nominating:
     * the old path goes, b is selected. */
    int validated = f->p.validated;
    client_check(&f->c, f->p.b.ufrag, "cln2", f->p.b.pwd, false, true);
    assert_int_equal(feed(f, &b, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_int_equal(f->p.validated, validated + 1);
    assert_false(prism_ice_lite_restarting(&f->p.b));
    assert_int_equal(f->p.b.restarts, 1);
    assert_memory_equal(&f->p.b.path.to, &b, len);
    assert_false(f->p.b.nominated);
    assert_null(prism_ice_lite_lookup(f->lite, &a, len));
    assert_ptr_equal(prism_ice_lite_lookup(f->lite, &b, len), &f->p.b);
    /* Media from a is now an unknown source; the old credentials fail. */
    uint64_t unknown = prism_ice_lite_stats(f->lite)->unknown_source;
    uint8_t rtp[20] = {0x80, 0x60};
    prism_ice_lite_on_datagram(f->lite, rtp, sizeof(rtp), &a, len, 1001);
    assert_int_equal(prism_ice_lite_stats(f->lite)->unknown_source, unknown + 1);
    client_check(&f->c, old_ufrag, "clnt", old_pwd, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_DROPPED);
    /* a may come back, proven under the current credentials. */
    client_check(&f->c, f->p.b.ufrag, "cln2", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_memory_equal(&f->p.b.path.to, &a, len);
    assert_int_equal(f->p.b.restarts, 1);
}

/* A restart we offer (no peer ufrag yet): checks under our new
 * credentials pass with the peer's new ufrag before its answer is known;
 * once it is, only with that one. */
static void test_restart_offered(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;
    struct sockaddr_storage a = v4("192.0.2.70", 7000, &len), b = v4("192.0.2.71", 7001, &len);

    assert_int_equal(prism_ice_lite_set_remote(&f->p.b, "clnt"), 0);
    client_check(&f->c, f->p.b.ufrag, "clnt", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_int_equal(prism_ice_lite_restart(f->lite, &f->p.b, NULL), 0);
    assert_string_equal(f->p.b.remote_ufrag, "");
    client_check(&f->c, f->p.b.ufrag, "new1", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &b, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_false(prism_ice_lite_restarting(&f->p.b));
    assert_null(prism_ice_lite_lookup(f->lite, &a, len));
    assert_int_equal(prism_ice_lite_set_remote(&f->p.b, "new1"), 0);
    client_check(&f->c, f->p.b.ufrag, "othr", f->p.b.pwd, true, true);
    assert_int_equal(feed(f, &b, len, reply, &reply_len), PRISM_LITE_DROPPED);
}

/* A second restart before the first completed: the unproven credentials
 * of the first are replaced, the proven ones still pass; detaching
 * mid-restart takes both ufrags out. */
static void test_restart_twice(void **state)
{
    struct fixture *f = *state;
    socklen_t len;
    uint8_t reply[PRISM_LITE_REPLY_MAX];
    size_t reply_len;
    struct sockaddr_storage a = v4("192.0.2.60", 6000, &len);
    char u0[PRISM_LITE_UFRAG_LEN + 1], p0[PRISM_LITE_PWD_LEN + 1];
    char u1[PRISM_LITE_UFRAG_LEN + 1], p1[PRISM_LITE_PWD_LEN + 1];

    assert_int_equal(prism_ice_lite_set_remote(&f->p.b, "clnt"), 0);
    memcpy(u0, f->p.b.ufrag, sizeof(u0));
    memcpy(p0, f->p.b.pwd, sizeof(p0));
    assert_int_equal(prism_ice_lite_restart(f->lite, &f->p.b, "cln1"), 0);
    memcpy(u1, f->p.b.ufrag, sizeof(u1));
    memcpy(p1, f->p.b.pwd, sizeof(p1));
    assert_int_equal(prism_ice_lite_restart(f->lite, &f->p.b, "cln2"), 0);
    assert_int_equal(prism_ice_lite_count(f->lite), 1);

    client_check(&f->c, u1, "cln1", p1, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_DROPPED);
    client_check(&f->c, u0, "clnt", p0, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_REPLY);
    assert_true(prism_ice_lite_restarting(&f->p.b));

    prism_ice_lite_detach(f->lite, &f->p.b);
    assert_null(prism_ice_lite_lookup(f->lite, &a, len));
    client_check(&f->c, u0, "clnt", p0, true, true);
    assert_int_equal(feed(f, &a, len, reply, &reply_len), PRISM_LITE_DROPPED);
    /* Detached: no restart either; teardown's detach is idempotent. */
    assert_int_equal(prism_ice_lite_restart(f->lite, &f->p.b, "cln3"), PRISM_EINVAL);
}

/* --- the media socket on loopback ------------------------------------------------ */

static int client_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends `len` bytes as one UDP GSO message of `seg`-byte datagrams; false
 * when the kernel has no UDP_SEGMENT. */
static bool send_gso(int fd, const struct sockaddr_storage *to, socklen_t to_len, uint8_t *data,
                     size_t len, uint16_t seg)
{
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr msg = {.msg_name = (void *)to,
                         .msg_namelen = to_len,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(seg));
    memcpy(CMSG_DATA(c), &seg, sizeof(seg));
    return sendmsg(fd, &msg, 0) == (ssize_t)len;
}

static void pump(uv_loop_t *loop)
{
    for (int i = 0; i < 20; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
}

/* Unauthenticated STUN and garbage to the worker port: no reply at all,
 * each counted; a valid check gets its answer from the same port. */
static void test_socket_demux(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *addrs[] = {"127.0.0.1"};
    struct prism_media_socket_config cfg = {.addrs = addrs,
                                            .n_addrs = 1,
                                            .port_min = 47300,
                                            .port_max = 47399,
                                            .index = 1,
                                            .n_workers = 2};
    struct prism_media_socket *ms = NULL;
    char err[160];
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &ms, err, sizeof(err)), 0);
    uint16_t port = prism_media_socket_port(ms);
    assert_true(port >= 47301 && port <= 47399 && (port - 47301) % 2 == 0);
    char cands[2][PRISM_CANDIDATE_LEN];
    assert_int_equal(prism_media_socket_candidates(ms, cands, 2), 1);
    char want[64];
    snprintf(want, sizeof(want), " 127.0.0.1 %u typ host", (unsigned)port);
    assert_non_null(strstr(cands[0], want));
    assert_true(prism_media_socket_loopback(ms));

    struct prism_ice_lite *lite = prism_media_socket_lite(ms);
    struct peer p = {0};
    assert_int_equal(prism_ice_lite_attach(lite, &p.b, on_recv, on_validated, &p), 0);

    int fd = client_socket();
    socklen_t to_len;
    struct sockaddr_storage to = v4("127.0.0.1", port, &to_len);
    uint8_t plain[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                         3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
    uint8_t rtp[100] = {0x80, 0x60}, dtls[30] = {22, 0xfe, 0xfd};
    assert_int_equal(sendto(fd, plain, sizeof(plain), 0, (struct sockaddr *)&to, to_len),
                     (ssize_t)sizeof(plain));
    assert_true(sendto(fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, to_len) > 0);
    assert_true(sendto(fd, dtls, sizeof(dtls), 0, (struct sockaddr *)&to, to_len) > 0);
    struct client c;
    client_init(&c);
    client_check(&c, p.b.ufrag, "clnt", "not-the-password-at-all", false, true);
    assert_true(sendto(fd, c.req, c.req_len, 0, (struct sockaddr *)&to, to_len) > 0);
    pump(&loop);
    uint8_t buf[600];
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_equal(prism_ice_lite_stats(lite)->stun_auth, 2);
    assert_int_equal(prism_ice_lite_stats(lite)->unknown_source, 2);
    assert_int_equal(p.received, 0);

    /* The right key: answered; then media from that address arrives. */
    client_check(&c, p.b.ufrag, "clnt", p.b.pwd, true, true);
    assert_true(sendto(fd, c.req, c.req_len, 0, (struct sockaddr *)&to, to_len) > 0);
    pump(&loop);
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    assert_true(n > 20);
    StunMessage resp;
    assert_int_equal(stun_agent_validate(&c.agent, &resp, buf, (size_t)n, client_password, &c),
                     STUN_VALIDATION_SUCCESS);
    assert_int_equal(p.validated, 1);
    assert_true(sendto(fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, to_len) > 0);
    pump(&loop);
    assert_int_equal(p.received, 1);
    assert_int_equal(p.last_len, sizeof(rtp));
    /* The relay may now send to it, on its own port. */
    struct prism_ice_datagram d = {.data = rtp, .len = 40};
    assert_int_equal(prism_udp_send_batch(&p.b.path, &d, 1), 1);
    struct sockaddr_in src;
    socklen_t src_len = sizeof(src);
    assert_int_equal(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &src_len), 40);
    assert_int_equal(ntohs(src.sin_port), port);

    /* Three 101-byte datagrams as one UDP GSO message, which loopback hands
     * whole to a GRO socket: cut back apart, each handed on aligned (libsrtp
     * reads headers by 32-bit words), bytes intact. A kernel without GSO
     * gets three plain datagrams. */
    uint8_t burst[303];
    for (size_t k = 0; k < 3; k++) {
        memset(burst + k * 101, 0, 101);
        burst[k * 101] = 0x80;
        burst[k * 101 + 2] = (uint8_t)(0xa0 + k);
    }
    if (!send_gso(fd, &to, to_len, burst, sizeof(burst), 101))
        for (size_t k = 0; k < 3; k++)
            assert_int_equal(sendto(fd, burst + k * 101, 101, 0, (struct sockaddr *)&to, to_len),
                             101);
    pump(&loop);
    assert_int_equal(p.received, 4);
    assert_int_equal(p.last_len, 101);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(p.tags[1 + k], 0xa0 + k);
    assert_int_equal(p.misaligned, 0);

    close(fd);
    prism_ice_lite_detach(lite, &p.b);
    prism_media_socket_close(ms);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Two sockets cannot share a port: the second worker moves on by its
 * stride; a range with no room is a clear error. */
static void test_socket_ports(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *addrs[] = {"127.0.0.1"};
    struct prism_media_socket_config cfg = {
        .addrs = addrs, .n_addrs = 1, .port_min = 47400, .port_max = 47402, .n_workers = 2};
    struct prism_media_socket *a = NULL, *b = NULL, *c = NULL;
    char err[160];
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &a, err, sizeof(err)), 0);
    assert_int_equal(prism_media_socket_port(a), 47400);
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &b, err, sizeof(err)), 0);
    assert_int_equal(prism_media_socket_port(b), 47402);
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &c, err, sizeof(err)), PRISM_EIO);
    assert_non_null(strstr(err, "no free media port"));
    const char *bad[] = {"not-an-ip"};
    cfg.addrs = bad;
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &c, err, sizeof(err)), PRISM_EINVAL);
    prism_media_socket_close(a);
    prism_media_socket_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The port is the worker's alone, though two sockets share it (the
 * receiving one and its sending twin): nobody else binds it, with or
 * without SO_REUSEADDR or SO_REUSEPORT; and datagrams from any source
 * reach the receiving socket, never the twin (each from an unknown
 * address: counted there, once). */
static void test_socket_twin(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *addrs[] = {"127.0.0.1"};
    struct prism_media_socket_config cfg = {
        .addrs = addrs, .n_addrs = 1, .port_min = 47410, .port_max = 47419, .n_workers = 1};
    struct prism_media_socket *ms = NULL;
    char err[160];
    assert_int_equal(prism_media_socket_open(&loop, &cfg, &ms, err, sizeof(err)), 0);
    uint16_t port = prism_media_socket_port(ms);
    socklen_t to_len;
    struct sockaddr_storage to = v4("127.0.0.1", port, &to_len);
    static const int opts[] = {0, SO_REUSEADDR, SO_REUSEPORT};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (opts[i] != 0)
            assert_int_equal(setsockopt(fd, SOL_SOCKET, opts[i], &one, sizeof(one)), 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&to, to_len), -1);
        assert_int_equal(errno, EADDRINUSE);
        close(fd);
    }
    enum { SOURCES = 40 };
    uint8_t rtp[60] = {0x80, 0x60};
    for (int i = 0; i < SOURCES; i++) {
        int fd = client_socket();
        assert_true(sendto(fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, to_len) > 0);
        close(fd);
    }
    pump(&loop);
    assert_int_equal(prism_ice_lite_stats(prism_media_socket_lite(ms))->unknown_source, SOURCES);
    prism_media_socket_close(ms);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nomination_and_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_offered, setup, teardown),
        cmocka_unit_test(test_socket_demux),
        cmocka_unit_test(test_socket_ports),
        cmocka_unit_test(test_socket_twin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
