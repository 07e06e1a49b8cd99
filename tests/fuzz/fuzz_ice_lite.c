/* libFuzzer target for the media socket's input path: relay/net/ice_lite
 * (libnice's STUN codec behind it) as the demultiplexer drives it, with
 * first-byte dispatch as media_socket.c does it.
 *
 * The input is a script of records: an op byte, a source byte (address
 * and port), a length byte, then that many bytes. Ops: raw datagram (STUN
 * or not, by its first byte); a genuine check for binding i (built with
 * libnice's full-agent usage, with or without USE-CANDIDATE, controlling or
 * not, under the right or a wrong password, then one byte of it flipped
 * when the record says so); set a peer ufrag; detach and re-attach a
 * binding; restart its ICE (with the peer's ufrag or none yet). Invariants: a reply only for a
 * check under the right password; every reply fits PRISM_LITE_REPLY_MAX and parses as STUN; a
 * datagram reaches only the binding its source was validated for; a detached binding is never
 * reached; counters add up (each refused or unroutable datagram counted once). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "relay/net/ice_lite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_BINDINGS 3
#define MAX_RECORDS 256

static void must(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_ice_lite: %s\n", what);
        abort();
    }
}

struct peer {
    struct prism_lite_binding b;
    uint64_t received;
};

static struct peer *reached;

static void on_recv(void *ud, uint8_t *d, size_t len)
{
    (void)d;
    (void)len;
    reached = ud;
    reached->received++;
}

static void on_validated(void *ud)
{
    (void)ud;
}

static struct sockaddr_storage source(uint8_t s, socklen_t *len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (s & 0x80) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)(5000 + (s & 7)));
        in6->sin6_addr.s6_addr[0] = 0x20;
        in6->sin6_addr.s6_addr[15] = (uint8_t)((s >> 3) & 7);
        *len = sizeof(*in6);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)(5000 + (s & 7)));
        in->sin_addr.s_addr = htonl(0xc0000200u | ((s >> 3) & 7));
        *len = sizeof(*in);
    }
    return ss;
}

static const uint16_t client_known[] = {STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
                                        STUN_ATTRIBUTE_FINGERPRINT, 0};

/* A check for `b` as a full agent writes it. */
static size_t build_check(const struct prism_lite_binding *b, uint8_t flags, uint8_t *buf,
                          size_t cap)
{
    StunAgent agent;
    StunMessage msg;
    char user[PRISM_LITE_UFRAG_LEN + 16];
    stun_agent_init(&agent, client_known, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
    snprintf(user, sizeof(user), "%s:%s", b->ufrag, (flags & 8) ? "fuzz" : "peer");
    const char *pwd = (flags & 4) ? "0123456789012345678901" : b->pwd;
    return stun_usage_ice_conncheck_create(&agent, &msg, buf, cap, (const uint8_t *)user,
                                           strlen(user), (const uint8_t *)pwd, strlen(pwd),
                                           flags & 1, (flags & 2) != 0, 1, 42, NULL,
                                           STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct peer peers[N_BINDINGS];
    struct prism_ice_lite *lite;
    uint8_t pkt[300], reply[PRISM_LITE_REPLY_MAX];
    uint64_t refused = 0, unroutable = 0;

    must(prism_ice_lite_new(&lite) == 0, "new");
    for (int i = 0; i < N_BINDINGS; i++) {
        memset(&peers[i], 0, sizeof(peers[i]));
        must(prism_ice_lite_attach(lite, &peers[i].b, on_recv, on_validated, &peers[i]) == 0,
             "attach");
    }
    size_t at = 0;
    for (int rec = 0; rec < MAX_RECORDS && at + 3 <= size; rec++) {
        uint8_t op = data[at], src = data[at + 1], n = data[at + 2];
        at += 3;
        size_t len = n <= size - at ? n : size - at;
        const uint8_t *body = data + at;
        at += len;
        socklen_t from_len;
        struct sockaddr_storage from = source(src, &from_len);
        struct peer *p = &peers[(op >> 4) % N_BINDINGS];
        bool stun = false, right_key = false;
        size_t pkt_len = 0;

        switch (op & 7) {
        case 0: /* raw */
        case 1:
            memcpy(pkt, body, len);
            pkt_len = len;
            break;
        case 2: /* a genuine check, perhaps damaged */
        case 3: {
            uint8_t flags = len > 0 ? body[0] : 0;
            if (!p->b.attached)
                continue;
            pkt_len = build_check(&p->b, flags, pkt, sizeof(pkt));
            if (pkt_len == 0)
                continue;
            const char *theirs = (flags & 8) ? "fuzz" : "peer";
            right_key = !(flags & 4) &&
                        (p->b.remote_ufrag[0] == '\0' || strcmp(p->b.remote_ufrag, theirs) == 0);
            if (len > 2 && (flags & 0x10)) {
                pkt[body[1] % pkt_len] ^= body[2] | 1;
                right_key = false; /* a flipped bit may still pass: not asserted */
            }
            stun = true;
            break;
        }
        case 4: /* the peer's ufrag */
            (void)prism_ice_lite_set_remote(&p->b, (op & 8) ? "peer" : "fuzz");
            continue;
        case 6: /* an ICE restart: new credentials, the old ones until a check */
            (void)prism_ice_lite_restart(lite, &p->b, (op & 8) ? "peer" : NULL);
            continue;
        case 5: /* detach and attach again: new credentials, no addresses */
            prism_ice_lite_detach(lite, &p->b);
            if (op & 8)
                must(prism_ice_lite_attach(lite, &p->b, on_recv, on_validated, p) == 0,
                     "re-attach");
            continue;
        default: continue;
        }

        if (pkt_len > 0 && pkt[0] <= 3) {
            size_t reply_len = 0;
            struct prism_lite_binding *was = prism_ice_lite_lookup(lite, &from, from_len);
            enum prism_lite_verdict v = prism_ice_lite_on_stun(lite, pkt, pkt_len, &from, from_len,
                                                               3, (uint64_t)rec, reply, &reply_len);
            if (v == PRISM_LITE_REPLY) {
                must(reply_len >= 20 && reply_len <= sizeof(reply), "reply size");
                must(stun_message_validate_buffer_length(reply, reply_len, true) == (int)reply_len,
                     "reply is STUN");
            } else {
                must(reply_len == 0, "no reply when not REPLY");
            }
            if (v == PRISM_LITE_DROPPED)
                refused++;
            if (stun && right_key && p->b.attached)
                must(v == PRISM_LITE_REPLY, "a genuine check is answered");
            if (v == PRISM_LITE_IGNORED)
                must(was != NULL, "ignored only from a known address");
        } else {
            struct prism_lite_binding *owner = prism_ice_lite_lookup(lite, &from, from_len);
            reached = NULL;
            prism_ice_lite_on_datagram(lite, pkt, pkt_len, &from, from_len, (uint64_t)rec);
            if (owner == NULL) {
                unroutable++;
                must(reached == NULL, "unknown source reaches nobody");
            } else {
                must(reached != NULL && &reached->b == owner, "reaches its owner");
                must(owner->attached, "only attached bindings are reached");
            }
        }
        must(prism_ice_lite_stats(lite)->stun_auth == refused, "refusals counted once");
        must(prism_ice_lite_stats(lite)->unknown_source == unroutable, "unroutable counted once");
    }
    for (int i = 0; i < N_BINDINGS; i++)
        prism_ice_lite_detach(lite, &peers[i].b);
    prism_ice_lite_free(lite);
    return 0;
}
