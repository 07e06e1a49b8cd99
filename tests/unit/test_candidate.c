/* Unit tests for relay/wire/candidate: every a=candidate line of the golden
 * SDPs (Chromium, Firefox, Safari, aiortc, the relay's own) parses and
 * survives parse -> format -> parse; each field at and past its bounds;
 * IPv6, mDNS and host names; garbage, truncation at every byte (inputs
 * without a NUL), overlong lines and fields; the writer's refusals; the SDP
 * parser refusing by the same rules; the ice-chars check of ICE credentials.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/wire/candidate.h"
#include "relay/wire/sdp.h"

#ifndef PRISM_SDP_DATA
#define PRISM_SDP_DATA "tests/data/sdp"
#endif

static int parse(const char *s, struct prism_candidate *c)
{
    return prism_candidate_parse(s, strlen(s), c);
}

static void assert_same(const struct prism_candidate *a, const struct prism_candidate *b)
{
    assert_string_equal(a->foundation, b->foundation);
    assert_int_equal(a->component, b->component);
    assert_int_equal(a->transport, b->transport);
    assert_int_equal(a->priority, b->priority);
    assert_int_equal(a->address.kind, b->address.kind);
    assert_string_equal(a->address.text, b->address.text);
    assert_int_equal(a->port, b->port);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->has_raddr, b->has_raddr);
    if (a->has_raddr) {
        assert_int_equal(a->raddr.kind, b->raddr.kind);
        assert_string_equal(a->raddr.text, b->raddr.text);
    }
    assert_int_equal(a->has_rport, b->has_rport);
    if (a->has_rport)
        assert_int_equal(a->rport, b->rport);
    assert_int_equal(a->tcptype, b->tcptype);
}

/* parse -> format -> parse gives the same fields. */
static void round_trip(const struct prism_candidate *c)
{
    char buf[PRISM_CANDIDATE_LEN];
    struct prism_candidate back;
    int rc = prism_candidate_format(c, buf, sizeof(buf));
    if (rc != 0)
        fail_msg("format refused a parsed candidate (%d)", rc);
    if (parse(buf, &back) != 0)
        fail_msg("own output refused: \"%s\" (%s)", buf, back.reason);
    assert_same(c, &back);
}

static void must_parse(const char *s, struct prism_candidate *c)
{
    if (parse(s, c) != 0)
        fail_msg("refused \"%s\": %s", s, c->reason);
    assert_null(c->reason);
    round_trip(c);
}

/* Refused, with a short reason that contains `why`. */
static void must_refuse(const char *s, const char *why)
{
    struct prism_candidate c;
    if (parse(s, &c) != PRISM_EINVAL)
        fail_msg("accepted \"%s\"", s);
    assert_non_null(c.reason);
    assert_true(strlen(c.reason) < 64); /* fits an SDP reason with its line number */
    if (why != NULL && strstr(c.reason, why) == NULL)
        fail_msg("\"%s\": reason \"%s\", expected \"%s\"", s, c.reason, why);
}

static void test_golden_lines(void **state)
{
    (void)state;
    const char *dir_name = getenv("PRISM_SDP_DATA");
    if (dir_name == NULL)
        dir_name = PRISM_SDP_DATA;
    DIR *dir = opendir(dir_name);
    assert_non_null(dir);
    size_t lines = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".sdp") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir_name, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char line[2048];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "a=candidate:", 12) != 0)
                continue;
            line[strcspn(line, "\r\n")] = '\0';
            struct prism_candidate c;
            must_parse(line, &c);     /* with "a=" */
            must_parse(line + 2, &c); /* as the SDP parser and ICE see it */
            lines++;
        }
        fclose(f);
    }
    closedir(dir);
    assert_true(lines >= 40);
}

static void test_browser_fields(void **state)
{
    (void)state;
    struct prism_candidate c;
    /* Chromium, with its extensions (skipped). */
    must_parse("candidate:1564528750 1 udp 2122194687 127.0.0.1 39410 typ host generation 0 "
               "network-id 3 network-cost 50",
               &c);
    assert_string_equal(c.foundation, "1564528750");
    assert_int_equal(c.component, 1);
    assert_int_equal(c.transport, PRISM_CANDIDATE_UDP);
    assert_int_equal(c.priority, 2122194687u);
    assert_int_equal(c.address.kind, PRISM_CANDIDATE_ADDR_IPV4);
    assert_string_equal(c.address.text, "127.0.0.1");
    assert_int_equal(c.port, 39410);
    assert_int_equal(c.type, PRISM_CANDIDATE_HOST);
    assert_false(c.has_raddr || c.has_rport);
    assert_int_equal(c.tcptype, PRISM_CANDIDATE_TCPTYPE_NONE);

    /* Chromium TCP active, IPv6. */
    must_parse("candidate:1606341531 1 tcp 1518288127 ::1 9 typ host tcptype active generation 0",
               &c);
    assert_int_equal(c.transport, PRISM_CANDIDATE_TCP);
    assert_int_equal(c.address.kind, PRISM_CANDIDATE_ADDR_IPV6);
    assert_string_equal(c.address.text, "::1");
    assert_int_equal(c.tcptype, PRISM_CANDIDATE_TCPTYPE_ACTIVE);

    /* Chromium with mDNS and its hidden base on a srflx. */
    must_parse("a=candidate:842163049 1 udp 1677729535 203.0.113.4 46154 typ srflx raddr 0.0.0.0 "
               "rport 0 generation 0 ufrag EEtu network-cost 999",
               &c);
    assert_int_equal(c.type, PRISM_CANDIDATE_SRFLX);
    assert_true(c.has_raddr && c.has_rport);
    assert_string_equal(c.raddr.text, "0.0.0.0");
    assert_int_equal(c.rport, 0);
    must_parse("candidate:2851726114 1 udp 2113937151 4d3a1f8e-7b2c-4e90-a6d5-1c8f3b7e2a09.local "
               "61342 typ host generation 0 network-cost 999",
               &c);
    assert_int_equal(c.address.kind, PRISM_CANDIDATE_ADDR_MDNS);

    /* Firefox: upper-case transport, relay with base. */
    must_parse("candidate:0 1 UDP 2122252543 127.0.0.1 51200 typ host", &c);
    assert_string_equal(c.foundation, "0");
    must_parse("candidate:4 1 UDP 8331263 198.51.100.7 60001 typ relay raddr 198.51.100.7 rport "
               "60001",
               &c);
    assert_int_equal(c.type, PRISM_CANDIDATE_RELAY);
    must_parse("candidate:1 1 TCP 2105524479 127.0.0.1 9 typ host tcptype active", &c);
    must_parse("candidate:3 1 TCP 2105458943 10.0.0.2 49999 typ host tcptype passive", &c);
    assert_int_equal(c.tcptype, PRISM_CANDIDATE_TCPTYPE_PASSIVE);
    must_parse("candidate:3 1 tcp 2105458943 10.0.0.2 49999 typ prflx tcptype so", &c);
    assert_int_equal(c.tcptype, PRISM_CANDIDATE_TCPTYPE_SO);
    assert_int_equal(c.type, PRISM_CANDIDATE_PRFLX);

    /* aiortc: 32 hex-digit foundation. */
    must_parse("candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 33773 typ "
               "host",
               &c);
    assert_int_equal(strlen(c.foundation), 32);

    /* Keywords in any case; a host name that is not mDNS. */
    must_parse("candidate:a+/Z 256 Udp 1 turn.example.net 3478 TYP Relay RADDR 192.0.2.1 RPORT 1",
               &c);
    assert_int_equal(c.component, 256);
    assert_int_equal(c.address.kind, PRISM_CANDIDATE_ADDR_NAME);
    assert_int_equal(c.type, PRISM_CANDIDATE_RELAY);
    must_parse("candidate:1 1 udp 1 HOST-1.LOCAL 1 typ host", &c);
    assert_int_equal(c.address.kind, PRISM_CANDIDATE_ADDR_MDNS);

    /* IPv6 forms. */
    must_parse("candidate:1 1 udp 1 fd00::2 1 typ host", &c);
    must_parse("candidate:1 1 udp 1 2001:db8:0:0:0:0:0:1 1 typ host", &c);
    must_parse("candidate:1 1 udp 1 ::ffff:192.0.2.1 1 typ host", &c);
    assert_int_equal(c.address.kind, PRISM_CANDIDATE_ADDR_IPV6);
    must_parse("candidate:1 1 udp 1 fe80::1 1 typ srflx raddr fe80::2 rport 2", &c);
    assert_int_equal(c.raddr.kind, PRISM_CANDIDATE_ADDR_IPV6);
}

static void test_field_bounds(void **state)
{
    (void)state;
    struct prism_candidate c;
    /* foundation: 1..32 ice-chars */
    must_parse("candidate:abcdefghijklmnopqrstuvwxyz012345 1 udp 1 192.0.2.1 1 typ host", &c);
    must_refuse("candidate:abcdefghijklmnopqrstuvwxyz0123456 1 udp 1 192.0.2.1 1 typ host",
                "foundation");
    must_refuse("candidate:a-b 1 udp 1 192.0.2.1 1 typ host", "foundation");
    must_refuse("candidate:a_b 1 udp 1 192.0.2.1 1 typ host", "foundation");
    must_refuse("candidate: 1 udp 1 192.0.2.1 1 typ host", "empty field");
    /* component: 1..256 */
    must_parse("candidate:1 001 udp 1 192.0.2.1 1 typ host", &c);
    assert_int_equal(c.component, 1);
    must_refuse("candidate:1 0 udp 1 192.0.2.1 1 typ host", "component");
    must_refuse("candidate:1 257 udp 1 192.0.2.1 1 typ host", "component");
    must_refuse("candidate:1 0001 udp 1 192.0.2.1 1 typ host", "component");
    must_refuse("candidate:1 x udp 1 192.0.2.1 1 typ host", "component");
    must_refuse("candidate:1 +1 udp 1 192.0.2.1 1 typ host", "component");
    /* transport */
    must_refuse("candidate:1 1 sctp 1 192.0.2.1 1 typ host", "transport");
    must_refuse("candidate:1 1 udpx 1 192.0.2.1 1 typ host", "transport");
    must_refuse("candidate:1 1 tcp-act 1 192.0.2.1 1 typ host", "transport");
    /* priority: 1..2^32-1 */
    must_parse("candidate:1 1 udp 4294967295 192.0.2.1 1 typ host", &c);
    assert_int_equal(c.priority, 4294967295u);
    must_refuse("candidate:1 1 udp 0 192.0.2.1 1 typ host", "priority");
    must_refuse("candidate:1 1 udp 4294967296 192.0.2.1 1 typ host", "priority");
    must_refuse("candidate:1 1 udp 18446744073709551617 192.0.2.1 1 typ host", "priority");
    must_refuse("candidate:1 1 udp -1 192.0.2.1 1 typ host", "priority");
    must_refuse("candidate:1 1 udp 1e3 192.0.2.1 1 typ host", "priority");
    /* address */
    must_refuse("candidate:1 1 udp 1 192.0.2.256 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 192.0.2 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 [::1] 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 fe80::1%eth0 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 1:2:3:4:5:6:7:8:9 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 a..local 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 .local 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 host. 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 under_score.local 1 typ host", "address");
    must_refuse("candidate:1 1 udp 1 a/b 1 typ host", "address");
    char line[PRISM_CANDIDATE_LEN + 64];
    char label[80];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(line, sizeof(line), "candidate:1 1 udp 1 %s.local 1 typ host", label);
    must_parse(line, &c);
    memset(label, 'a', 64);
    label[64] = '\0';
    snprintf(line, sizeof(line), "candidate:1 1 udp 1 %s.local 1 typ host", label);
    must_refuse(line, "address");
    /* port: 0..65535, 0 only for TCP */
    must_parse("candidate:1 1 udp 1 192.0.2.1 65535 typ host", &c);
    assert_int_equal(c.port, 65535);
    must_parse("candidate:1 1 tcp 1 192.0.2.1 0 typ host tcptype active", &c);
    assert_int_equal(c.port, 0);
    must_refuse("candidate:1 1 udp 1 192.0.2.1 0 typ host", "port 0");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 65536 typ host", "port");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 000001 typ host", "port");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 -1 typ host", "port");
    /* typ and type */
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 type host", "typ");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ bogus", "type");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ hosts", "type");
    /* raddr, rport, tcptype */
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr 300.1.1.1 rport 1", "raddr");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 rport 65536", "rport");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 raddr 10.0.0.2", "twice");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx rport 1 rport 2", "twice");
    must_refuse("candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype bogus", "tcptype");
    must_refuse("candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype active tcptype so", "twice");
    must_parse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx rport 7", &c); /* each optional */
    assert_true(c.has_rport && !c.has_raddr);
    must_parse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr relay.example", &c);
    assert_true(c.has_raddr && !c.has_rport);
    /* tcptype on UDP is an unknown extension: skipped, not stored. */
    must_parse("candidate:1 1 udp 1 192.0.2.1 1 typ host tcptype bogus", &c);
    assert_int_equal(c.tcptype, PRISM_CANDIDATE_TCPTYPE_NONE);
    /* TCP without tcptype */
    must_parse("candidate:1 1 tcp 1 192.0.2.1 9 typ host", &c);
    assert_int_equal(c.tcptype, PRISM_CANDIDATE_TCPTYPE_NONE);
    /* extensions are pairs */
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host generation", "without a value");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr", "without a value");
    must_parse("candidate:1 1 udp 1 192.0.2.1 1 typ host x-any !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
               &c);
}

static void test_garbage(void **state)
{
    (void)state;
    struct prism_candidate c;
    assert_int_equal(prism_candidate_parse(NULL, 0, &c), PRISM_EINVAL);
    assert_non_null(c.reason);
    must_refuse("", "prefix");
    must_refuse("a=", "prefix");
    must_refuse("candidate", "prefix");
    must_refuse("Candidate:1 1 udp 1 192.0.2.1 1 typ host", "prefix");
    must_refuse("a=candidat:1 1 udp 1 192.0.2.1 1 typ host", "prefix");
    must_refuse("a=a=candidate:1 1 udp 1 192.0.2.1 1 typ host", "prefix");
    must_refuse(" candidate:1 1 udp 1 192.0.2.1 1 typ host", "prefix");
    must_refuse("1 1 udp 1 192.0.2.1 1 typ host", "prefix");
    must_refuse("candidate:", "empty field");
    must_refuse("a=candidate:", "empty field");
    must_refuse("candidate:1", "fewer");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ", "fewer");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host ", "empty field");
    must_refuse("candidate: 1 1 udp 1 192.0.2.1 1 typ host", "empty field");
    must_refuse("candidate:1  1 udp 1 192.0.2.1 1 typ host", "empty field");
    must_refuse("candidate:1\t1 udp 1 192.0.2.1 1 typ host", "visible");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host\r", "visible");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host\n", "visible");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host\r\na=evil", "visible");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host x \xc3\xa9", "visible");
    must_refuse("candidate:1 1 udp 1 192.0.2.1 1 typ host x \x7f", "visible");
    /* A NUL inside the given length. */
    static const char nul[] = "candidate:1 1 udp 1 192.0.2.1 1 typ host x y\0z";
    assert_int_equal(prism_candidate_parse(nul, sizeof(nul) - 1, &c), PRISM_EINVAL);
    /* Every byte value in every position of a valid line: no crash, and
     * a refusal always says why. */
    char line[] = "candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 rport 2";
    for (size_t i = 0; i < sizeof(line) - 1; i++) {
        char keep = line[i];
        for (int b = 0; b < 256; b++) {
            line[i] = (char)b;
            if (prism_candidate_parse(line, sizeof(line) - 1, &c) == 0)
                round_trip(&c);
            else
                assert_non_null(c.reason);
        }
        line[i] = keep;
    }
}

/* Every prefix of a valid line, each in a buffer of exactly its length (no
 * NUL to stop a reader that overruns: ASan builds catch that). A prefix
 * that ends before the type is complete never parses. */
static void test_truncation(void **state)
{
    (void)state;
    static const char full[] = "a=candidate:842163049 1 udp 1677729535 203.0.113.4 46154 typ srflx "
                               "raddr 10.0.0.17 rport 46154 generation 0 ufrag EEtu network-id 3";
    const char *end_of_type = strstr(full, "srflx") + strlen("srflx");
    size_t required = (size_t)(end_of_type - full);
    for (size_t n = 0; n <= sizeof(full) - 1; n++) {
        char *exact = malloc(n > 0 ? n : 1);
        assert_non_null(exact);
        memcpy(exact, full, n);
        struct prism_candidate c;
        int rc = prism_candidate_parse(exact, n, &c);
        if (n < required && rc == 0)
            fail_msg("a prefix of %zu bytes parsed", n);
        if (rc == 0)
            round_trip(&c);
        else
            assert_non_null(c.reason);
        free(exact);
    }
}

static void test_overlong(void **state)
{
    (void)state;
    struct prism_candidate c;
    char line[PRISM_CANDIDATE_LEN + 16];
    static const char head[] = "candidate:1 1 udp 1 192.0.2.1 1 typ host x ";
    /* Exactly PRISM_CANDIDATE_MAX bytes: accepted; one more: refused. */
    memset(line, 'v', sizeof(line));
    memcpy(line, head, sizeof(head) - 1);
    line[PRISM_CANDIDATE_MAX] = '\0';
    must_parse(line, &c);
    char with_a[PRISM_CANDIDATE_LEN + 16] = "a=";
    memcpy(with_a + 2, line, PRISM_CANDIDATE_MAX + 1);
    must_parse(with_a, &c); /* "a=" is not counted */
    memset(line, 'v', sizeof(line));
    memcpy(line, head, sizeof(head) - 1);
    line[PRISM_CANDIDATE_MAX + 1] = '\0';
    must_refuse(line, "longer than 255");
    /* A huge input is refused without reading it all. */
    size_t big = 1u << 20;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'x', big);
    memcpy(huge, "candidate:", 10);
    assert_int_equal(prism_candidate_parse(huge, big, &c), PRISM_EINVAL);
    free(huge);
    /* Fields: PRISM_CANDIDATE_MAX_TOKENS in all, then too many. */
    char many[PRISM_CANDIDATE_LEN];
    int n = snprintf(many, sizeof(many), "candidate:1 1 udp 1 192.0.2.1 1 typ host");
    for (size_t fields = 8; fields + 2 <= PRISM_CANDIDATE_MAX_TOKENS; fields += 2)
        n += snprintf(many + n, sizeof(many) - (size_t)n, " a b");
    must_parse(many, &c);
    snprintf(many + n, sizeof(many) - (size_t)n, " a b");
    must_refuse(many, "too many fields");
}

static void test_format(void **state)
{
    (void)state;
    struct prism_candidate c;
    memset(&c, 0, sizeof(c));
    memcpy(c.foundation, "1", 2);
    c.component = 1;
    c.transport = PRISM_CANDIDATE_UDP;
    c.priority = 2130706431u;
    c.address.kind = PRISM_CANDIDATE_ADDR_IPV4;
    memcpy(c.address.text, "127.0.0.1", 10);
    c.port = 40000;
    c.type = PRISM_CANDIDATE_HOST;
    char buf[PRISM_CANDIDATE_LEN];
    assert_int_equal(prism_candidate_format(&c, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host");
    size_t n = strlen(buf);
    assert_int_equal(prism_candidate_format(&c, buf, n + 1), 0);
    assert_int_equal(prism_candidate_format(&c, buf, n), PRISM_ENOMEM);
    assert_string_equal(buf, "");
    assert_int_equal(prism_candidate_format(&c, buf, 0), PRISM_ENOMEM);

    struct prism_candidate t = c;
    t.transport = PRISM_CANDIDATE_TCP;
    t.tcptype = PRISM_CANDIDATE_TCPTYPE_PASSIVE;
    t.type = PRISM_CANDIDATE_SRFLX;
    t.has_raddr = t.has_rport = true;
    t.raddr.kind = PRISM_CANDIDATE_ADDR_IPV6;
    memcpy(t.raddr.text, "fd00::1", 8);
    t.rport = 9;
    assert_int_equal(prism_candidate_format(&t, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "candidate:1 1 TCP 2130706431 127.0.0.1 40000 typ srflx raddr "
                             "fd00::1 rport 9 tcptype passive");

    /* What would not parse back is refused, and buf left empty. */
    struct prism_candidate bad;
#define REFUSED(edit)                                                                              \
    do {                                                                                           \
        bad = c;                                                                                   \
        edit;                                                                                      \
        memcpy(buf, "junk", 5);                                                                    \
        assert_int_equal(prism_candidate_format(&bad, buf, sizeof(buf)), PRISM_EINVAL);            \
        assert_string_equal(buf, "");                                                              \
    } while (0)
    REFUSED(bad.foundation[0] = '\0');
    REFUSED(bad.foundation[0] = '-');
    REFUSED(memset(bad.foundation, 'a', sizeof(bad.foundation)));
    REFUSED(bad.component = 0);
    REFUSED(bad.component = 257);
    REFUSED(bad.priority = 0);
    REFUSED(bad.port = 0);
    REFUSED(bad.type = (enum prism_candidate_type)4);
    REFUSED(bad.transport = (enum prism_candidate_transport)2);
    REFUSED(bad.tcptype = PRISM_CANDIDATE_TCPTYPE_ACTIVE); /* on UDP */
    REFUSED(bad.address.kind = PRISM_CANDIDATE_ADDR_IPV6); /* kind does not match */
    REFUSED(memcpy(bad.address.text, "1.2.3.4 5", 10));
    REFUSED(memset(bad.address.text, 'a', sizeof(bad.address.text)));
    REFUSED((bad.has_raddr = true, bad.raddr.text[0] = '\0'));
    /* Within every field's bounds but longer than PRISM_CANDIDATE_MAX. */
    bad = c;
    bad.address.kind = PRISM_CANDIDATE_ADDR_NAME;
    memset(bad.address.text, 'a', 200);
    for (size_t i = 50; i < 200; i += 50)
        bad.address.text[i] = '.';
    bad.address.text[200] = '\0';
    assert_int_equal(prism_candidate_format(&bad, buf, sizeof(buf)), 0); /* alone it fits */
    bad.has_raddr = true;
    bad.raddr = bad.address;
    assert_int_equal(prism_candidate_format(&bad, buf, sizeof(buf)), PRISM_EINVAL);
    assert_string_equal(buf, "");
#undef REFUSED
    assert_int_equal(prism_candidate_format(NULL, buf, sizeof(buf)), PRISM_EINVAL);
}

static void test_framed(void **state)
{
    (void)state;
    assert_true(prism_candidate_framed("candidate:", 10));
    assert_true(prism_candidate_framed("a=candidate:x", 13));
    assert_false(prism_candidate_framed("a=candidat", 10));
    assert_false(prism_candidate_framed("typ host", 8));
    assert_false(prism_candidate_framed(NULL, 0));
    char line[PRISM_CANDIDATE_LEN + 2];
    memset(line, 'x', sizeof(line));
    memcpy(line, "a=candidate:", 12);
    assert_true(prism_candidate_framed(line, PRISM_CANDIDATE_MAX + 2));
    assert_false(prism_candidate_framed(line, PRISM_CANDIDATE_MAX + 3));
    assert_false(prism_candidate_framed(line + 2, PRISM_CANDIDATE_MAX + 1));
}

/* The SDP parser applies the same rules and names the rule in its reason. */
static void test_sdp_uses_grammar(void **state)
{
    (void)state;
    char path[1024];
    const char *dir = getenv("PRISM_SDP_DATA");
    snprintf(path, sizeof(path), "%s/chromium-audio-offer.sdp", dir != NULL ? dir : PRISM_SDP_DATA);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char sdp[PRISM_SDP_MAX_BYTES];
    size_t n = fread(sdp, 1, sizeof(sdp) - 1, f);
    fclose(f);
    sdp[n] = '\0';
    struct prism_sdp_session *s = NULL;
    char reason[PRISM_SDP_REASON_LEN];
    assert_int_equal(prism_sdp_parse_offer(sdp, n, &s, reason, sizeof(reason)), 0);
    prism_sdp_session_free(s);
    char *udp = strstr(strstr(sdp, "a=candidate:"), " udp ");
    assert_non_null(udp);
    memcpy(udp, " UDX ", 5);
    assert_int_equal(prism_sdp_parse_offer(sdp, n, &s, reason, sizeof(reason)), PRISM_EBADSDP);
    assert_non_null(strstr(reason, ": malformed a=candidate (transport is not UDP or TCP)"));
}

/* Issue 9, finding 9: the scope of every address class, at its edges. */
static void test_ip_scope(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        enum prism_candidate_scope scope;
    } cases[] = {
        {"0.0.0.0", PRISM_CANDIDATE_SCOPE_UNSPECIFIED},
        {"0.1.2.3", PRISM_CANDIDATE_SCOPE_UNSPECIFIED},
        {"::", PRISM_CANDIDATE_SCOPE_UNSPECIFIED},
        {"0:0:0:0:0:0:0:0", PRISM_CANDIDATE_SCOPE_UNSPECIFIED},
        {"1.0.0.0", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"127.0.0.1", PRISM_CANDIDATE_SCOPE_LOOPBACK},
        {"127.255.255.254", PRISM_CANDIDATE_SCOPE_LOOPBACK},
        {"128.0.0.1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"126.255.255.255", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"::1", PRISM_CANDIDATE_SCOPE_LOOPBACK},
        {"0::0:1", PRISM_CANDIDATE_SCOPE_LOOPBACK},
        {"::2", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"169.254.0.1", PRISM_CANDIDATE_SCOPE_LINK_LOCAL},
        {"169.254.255.255", PRISM_CANDIDATE_SCOPE_LINK_LOCAL},
        {"169.253.255.255", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"169.255.0.0", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"169.254.169.254", PRISM_CANDIDATE_SCOPE_METADATA},
        {"169.254.169.253", PRISM_CANDIDATE_SCOPE_LINK_LOCAL},
        {"fd00:ec2::254", PRISM_CANDIDATE_SCOPE_METADATA},
        {"fd00:ec2::255", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"fe80::1", PRISM_CANDIDATE_SCOPE_LINK_LOCAL},
        {"FEBF:ffff::1", PRISM_CANDIDATE_SCOPE_LINK_LOCAL},
        {"fec0::1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"fe7f::1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"224.0.0.1", PRISM_CANDIDATE_SCOPE_MULTICAST},
        {"239.255.255.250", PRISM_CANDIDATE_SCOPE_MULTICAST},
        {"223.255.255.255", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"240.0.0.1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"ff02::1", PRISM_CANDIDATE_SCOPE_MULTICAST},
        {"ff0e::1:3", PRISM_CANDIDATE_SCOPE_MULTICAST},
        {"255.255.255.255", PRISM_CANDIDATE_SCOPE_BROADCAST},
        {"255.255.255.254", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"10.0.0.1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"192.168.1.2", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"172.17.0.1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"203.0.113.7", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"fd12:3456::1", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"2001:db8::1", PRISM_CANDIDATE_SCOPE_UNICAST},
        /* IPv4-mapped IPv6 is judged as the IPv4 address it maps. */
        {"::ffff:127.0.0.1", PRISM_CANDIDATE_SCOPE_LOOPBACK},
        {"::ffff:169.254.169.254", PRISM_CANDIDATE_SCOPE_METADATA},
        {"::ffff:a9fe:1", PRISM_CANDIDATE_SCOPE_LINK_LOCAL},
        {"::ffff:0.0.0.0", PRISM_CANDIDATE_SCOPE_UNSPECIFIED},
        {"::ffff:224.0.0.251", PRISM_CANDIDATE_SCOPE_MULTICAST},
        {"::ffff:255.255.255.255", PRISM_CANDIDATE_SCOPE_BROADCAST},
        {"::ffff:8.8.8.8", PRISM_CANDIDATE_SCOPE_UNICAST},
        {"host.example", PRISM_CANDIDATE_SCOPE_NOT_IP},
        {"abc.local", PRISM_CANDIDATE_SCOPE_NOT_IP},
        {"1.2.3", PRISM_CANDIDATE_SCOPE_NOT_IP},
        {"", PRISM_CANDIDATE_SCOPE_NOT_IP},
        {"[::1]", PRISM_CANDIDATE_SCOPE_NOT_IP},
        {"fe80::1%eth0", PRISM_CANDIDATE_SCOPE_NOT_IP},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum prism_candidate_scope got = prism_candidate_ip_scope(cases[i].ip);
        if (got != cases[i].scope)
            fail_msg("%s: scope %d, want %d", cases[i].ip, (int)got, (int)cases[i].scope);
    }
}

/* Whole candidates as a peer sends them: refused with a reason, loopback
 * only when the relay's own media is on loopback; names and raddr are not
 * judged. */
static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *reason_loopback_off; /* NULL: usable */
        const char *reason_loopback_on;
    } cases[] = {
        {"candidate:1 1 udp 2122260223 203.0.113.9 50000 typ host", NULL, NULL},
        {"candidate:1 1 udp 2122260223 10.1.2.3 50000 typ host", NULL, NULL},
        {"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
         "address is loopback and the relay's media is not", NULL},
        {"candidate:1 1 udp 2122260223 ::1 50000 typ host",
         "address is loopback and the relay's media is not", NULL},
        {"candidate:1 1 udp 2122260223 169.254.169.254 80 typ host",
         "address is a cloud metadata service", "address is a cloud metadata service"},
        {"candidate:1 1 udp 2122260223 169.254.3.4 9 typ host", "address is link-local",
         "address is link-local"},
        {"candidate:1 1 udp 2122260223 fe80::1 9 typ host", "address is link-local",
         "address is link-local"},
        {"candidate:1 1 udp 2122260223 239.1.2.3 9 typ srflx raddr 10.0.0.1 rport 9",
         "address is multicast", "address is multicast"},
        {"candidate:1 1 udp 2122260223 255.255.255.255 9 typ host", "address is broadcast",
         "address is broadcast"},
        {"candidate:1 1 udp 2122260223 0.0.0.0 9 typ host", "address is unspecified",
         "address is unspecified"},
        {"candidate:1 1 udp 2122260223 :: 9 typ relay raddr 203.0.113.1 rport 3478",
         "address is unspecified", "address is unspecified"},
        {"candidate:1 1 tcp 2122260223 169.254.169.254 9 typ host tcptype active",
         "address is a cloud metadata service", "address is a cloud metadata service"},
        /* An mDNS name is not judged here (ICE never resolves it). */
        {"candidate:1 1 udp 2122260223 0a1b2c3d-aaaa-bbbb-cccc-0123456789ab.local 9 typ host", NULL,
         NULL},
        /* raddr is a base, never sent to. */
        {"candidate:1 1 udp 1686052607 198.51.100.4 9 typ srflx raddr 127.0.0.1 rport 9", NULL,
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct prism_candidate c;
        assert_int_equal(prism_candidate_parse(cases[i].line, strlen(cases[i].line), &c), 0);
        const char *off = prism_candidate_refused(&c, false);
        const char *on = prism_candidate_refused(&c, true);
        if (cases[i].reason_loopback_off == NULL)
            assert_null(off);
        else
            assert_string_equal(off, cases[i].reason_loopback_off);
        if (cases[i].reason_loopback_on == NULL)
            assert_null(on);
        else
            assert_string_equal(on, cases[i].reason_loopback_on);
    }
}

/* ICE credentials (relay/net/ice.c, ice_lite.c, transport.c): ice-chars,
 * within the bounds given. */
static void test_ice_chars(void **state)
{
    (void)state;
    assert_true(prism_candidate_ice_chars("abcd", 4, 256));
    assert_true(prism_candidate_ice_chars("AZaz09+/", 4, 8));
    assert_false(prism_candidate_ice_chars("abc", 4, 256));     /* too short */
    assert_false(prism_candidate_ice_chars("abcdefghi", 4, 8)); /* too long */
    assert_false(prism_candidate_ice_chars("abc-d", 4, 256));   /* not an ice-char */
    assert_false(prism_candidate_ice_chars("abc d", 4, 256));
    assert_false(prism_candidate_ice_chars("ab\xc3\xa9"
                                           "d",
                                           4, 256)); /* UTF-8 */
    assert_false(prism_candidate_ice_chars("", 1, 256));
    assert_true(prism_candidate_ice_chars("", 0, 256));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_lines),     cmocka_unit_test(test_browser_fields),
        cmocka_unit_test(test_field_bounds),     cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncation),       cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_format),           cmocka_unit_test(test_framed),
        cmocka_unit_test(test_sdp_uses_grammar), cmocka_unit_test(test_ip_scope),
        cmocka_unit_test(test_refused),          cmocka_unit_test(test_ice_chars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
