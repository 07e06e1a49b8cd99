/* ICE-lite: the two tables and the check handling (see ice_lite.h).
 *
 * Both tables are arrays of bucket heads with chains through the entries
 * themselves (a binding's `next`, an address slot's `next`), so inserting
 * never allocates. They are sized together on attach: ufrag buckets >=
 * bindings, address buckets twice that, so a chain stays short even with
 * PRISM_LITE_MAX_ADDRS addresses per binding. Only checks that pass
 * MESSAGE-INTEGRITY add addresses, so nobody without a binding's password
 * can lengthen a chain. The address hash is keyed with a per-worker random
 * seed all the same.
 */
#include "relay/net/ice_lite.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/wire/candidate.h"

#define MIN_BUCKETS 64

struct prism_ice_lite {
    StunAgent agent;                    /* libnice's codec: integrity and fingerprint */
    struct prism_lite_binding **ufrags; /* n_ufrag_buckets heads */
    struct prism_lite_old **olds;       /* n_ufrag_buckets heads: ufrags before a restart */
    size_t n_ufrag_buckets;             /* power of two */
    struct prism_lite_addr **addrs;     /* n_addr_buckets heads */
    size_t n_addr_buckets;              /* power of two, 2 * n_ufrag_buckets */
    size_t n_bindings;                  /* attached */
    uint64_t seed;                      /* address hash key */
    struct prism_lite_binding *found;   /* set by the validater during one check */
    bool found_old;                     /* ... under its credentials from before a restart */
    struct prism_ice_lite_stats stats;  /* counted drops */
};

/* Attributes a check may carry that the codec must not call unknown
 * (comprehension-required ones outside this list fail validation). */
static const uint16_t known_attributes[] = {
    STUN_ATTRIBUTE_USERNAME,
    STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_ERROR_CODE,
    STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES,
    STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_PRIORITY,
    STUN_ATTRIBUTE_USE_CANDIDATE,
    STUN_ATTRIBUTE_FINGERPRINT,
    STUN_ATTRIBUTE_ICE_CONTROLLED,
    STUN_ATTRIBUTE_ICE_CONTROLLING,
    0,
};

/* --- hashing ------------------------------------------------------------------ */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static size_t ufrag_bucket(const struct prism_ice_lite *lite, const char *ufrag, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)ufrag[i]) * 1099511628211ULL;
    return (size_t)(mix(h) & (lite->n_ufrag_buckets - 1));
}

/* Set in a key's first word for an ICE-TCP connection's address: TCP and
 * UDP port spaces are distinct, so 1.2.3.4:5000 over TCP is not the UDP
 * peer 1.2.3.4:5000 (a datagram never reaches a TCP-validated binding). */
#define KEY_TCP (1ULL << 48)

/* The address's bytes that identify it: protocol, family, port, IP. */
static bool addr_key(const struct sockaddr_storage *sa, socklen_t len, bool tcp, uint64_t key[3])
{
    key[0] = key[1] = key[2] = 0;
    if (sa->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[0] = (tcp ? KEY_TCP : 0) | ((uint64_t)AF_INET << 32) | in->sin_port;
        key[1] = in->sin_addr.s_addr;
        return true;
    }
    if (sa->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        key[0] = (tcp ? KEY_TCP : 0) | ((uint64_t)AF_INET6 << 32) | in6->sin6_port;
        memcpy(&key[1], in6->sin6_addr.s6_addr, 8);
        memcpy(&key[2], in6->sin6_addr.s6_addr + 8, 8);
        return true;
    }
    return false;
}

static size_t addr_bucket(const struct prism_ice_lite *lite, const uint64_t key[3])
{
    uint64_t h = mix(key[0] ^ lite->seed);
    h = mix(h ^ key[1]);
    h = mix(h ^ key[2]);
    return (size_t)(h & (lite->n_addr_buckets - 1));
}

static bool same_addr(const struct prism_lite_addr *a, const uint64_t key[3])
{
    return a->key[0] == key[0] && a->key[1] == key[1] && a->key[2] == key[2];
}

static struct prism_lite_addr *addr_find(const struct prism_ice_lite *lite, const uint64_t key[3])
{
    for (struct prism_lite_addr *a = lite->addrs[addr_bucket(lite, key)]; a; a = a->next)
        if (same_addr(a, key))
            return a;
    return NULL;
}

/* Whether media for `b` goes to its address `a` now. */
static bool is_selected(const struct prism_lite_binding *b, const struct prism_lite_addr *a)
{
    return b->path.fd >= 0 && b->path.tcp == a->tcp && b->path.to_len == a->len &&
           memcmp(&b->path.to, &a->sa, a->len) == 0;
}

/* --- tables ------------------------------------------------------------------- */

static void addr_link(struct prism_ice_lite *lite, struct prism_lite_addr *a)
{
    size_t i = addr_bucket(lite, a->key);
    a->next = lite->addrs[i];
    lite->addrs[i] = a;
}

static void addr_unlink(struct prism_ice_lite *lite, struct prism_lite_addr *a)
{
    for (struct prism_lite_addr **pp = &lite->addrs[addr_bucket(lite, a->key)]; *pp;
         pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            a->next = NULL;
            return;
        }
    }
}

static void ufrag_link(struct prism_ice_lite *lite, struct prism_lite_binding *b)
{
    size_t i = ufrag_bucket(lite, b->ufrag, PRISM_LITE_UFRAG_LEN);
    b->next = lite->ufrags[i];
    lite->ufrags[i] = b;
}

static void ufrag_unlink(struct prism_ice_lite *lite, struct prism_lite_binding *b)
{
    size_t i = ufrag_bucket(lite, b->ufrag, PRISM_LITE_UFRAG_LEN);
    for (struct prism_lite_binding **pp = &lite->ufrags[i]; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }
    b->next = NULL;
}

static struct prism_lite_binding *ufrag_find(const struct prism_ice_lite *lite, const char *ufrag,
                                             size_t len)
{
    if (len != PRISM_LITE_UFRAG_LEN)
        return NULL;
    for (struct prism_lite_binding *b = lite->ufrags[ufrag_bucket(lite, ufrag, len)]; b;
         b = b->next)
        if (memcmp(b->ufrag, ufrag, len) == 0)
            return b;
    return NULL;
}

static void old_link(struct prism_ice_lite *lite, struct prism_lite_old *o)
{
    size_t i = ufrag_bucket(lite, o->ufrag, PRISM_LITE_UFRAG_LEN);
    o->next = lite->olds[i];
    lite->olds[i] = o;
}

static struct prism_lite_old *old_find(const struct prism_ice_lite *lite, const char *ufrag,
                                       size_t len)
{
    if (len != PRISM_LITE_UFRAG_LEN)
        return NULL;
    for (struct prism_lite_old *o = lite->olds[ufrag_bucket(lite, ufrag, len)]; o; o = o->next)
        if (memcmp(o->ufrag, ufrag, len) == 0)
            return o;
    return NULL;
}

/* Forgets `b`'s credentials from before a restart (no-op without one). */
static void old_drop(struct prism_ice_lite *lite, struct prism_lite_binding *b)
{
    struct prism_lite_old *o = b->old;
    if (!o)
        return;
    size_t i = ufrag_bucket(lite, o->ufrag, PRISM_LITE_UFRAG_LEN);
    for (struct prism_lite_old **pp = &lite->olds[i]; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    }
    explicit_bzero(o->pwd, sizeof(o->pwd));
    free(o);
    b->old = NULL;
}

/* Rebuilds both tables with `n` ufrag buckets (control path). */
static int resize(struct prism_ice_lite *lite, size_t n)
{
    struct prism_lite_binding **ufrags = calloc(n, sizeof(*ufrags));
    struct prism_lite_old **olds = calloc(n, sizeof(*olds));
    struct prism_lite_addr **addrs = calloc(2 * n, sizeof(*addrs));
    if (!ufrags || !olds || !addrs) {
        free(ufrags);
        free(olds);
        free(addrs);
        return PRISM_ENOMEM;
    }
    struct prism_lite_binding **old_u = lite->ufrags;
    struct prism_lite_old **old_o = lite->olds;
    struct prism_lite_addr **old_a = lite->addrs;
    size_t old_nu = lite->n_ufrag_buckets, old_na = lite->n_addr_buckets;
    lite->ufrags = ufrags;
    lite->olds = olds;
    lite->addrs = addrs;
    lite->n_ufrag_buckets = n;
    lite->n_addr_buckets = 2 * n;
    for (size_t i = 0; i < old_nu; i++) {
        for (struct prism_lite_binding *b = old_u[i], *next; b; b = next) {
            next = b->next;
            ufrag_link(lite, b);
        }
        for (struct prism_lite_old *o = old_o[i], *next; o; o = next) {
            next = o->next;
            old_link(lite, o);
        }
    }
    for (size_t i = 0; i < old_na; i++) {
        for (struct prism_lite_addr *a = old_a[i], *next; a; a = next) {
            next = a->next;
            addr_link(lite, a);
        }
    }
    free(old_u);
    free(old_o);
    free(old_a);
    return 0;
}

/* --- lifecycle ---------------------------------------------------------------- */

int prism_ice_lite_new(struct prism_ice_lite **out)
{
    struct prism_ice_lite *lite = calloc(1, sizeof(*lite));
    if (!lite)
        return PRISM_ENOMEM;
    if (resize(lite, MIN_BUCKETS) != 0) {
        free(lite);
        return PRISM_ENOMEM;
    }
    if (getrandom(&lite->seed, sizeof(lite->seed), 0) != (ssize_t)sizeof(lite->seed))
        lite->seed = (uint64_t)(uintptr_t)lite; /* still distinct per worker */
    /* RFC 5389 messages with short-term credentials and FINGERPRINT, as
     * libnice's own agent checks them in RFC 5245 (RFC 8445) mode;
     * indications (keepalives) need no credentials. */
    stun_agent_init(&lite->agent, known_attributes, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT |
                        STUN_AGENT_USAGE_NO_INDICATION_AUTH);
    *out = lite;
    return 0;
}

void prism_ice_lite_free(struct prism_ice_lite *lite)
{
    if (!lite)
        return;
    PRISM_CHECK(lite->n_bindings == 0);
    free(lite->ufrags);
    free(lite->olds);
    free(lite->addrs);
    free(lite);
}

/* ice-char (RFC 8839 §5.4): 64 of them, so one random byte's low 6 bits. */
static const char ice_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int random_ice_chars(char *out, size_t n)
{
    uint8_t bytes[PRISM_LITE_PWD_LEN];
    PRISM_CHECK(n <= sizeof(bytes));
    if (getrandom(bytes, n, 0) != (ssize_t)n)
        return PRISM_EIO;
    for (size_t i = 0; i < n; i++)
        out[i] = ice_alphabet[bytes[i] & 63];
    out[n] = '\0';
    return 0;
}

/* New credentials of ours into `ufrag` and `pwd`: a ufrag no binding of
 * this worker answers to, now or from before a restart. */
static int fresh_credentials(const struct prism_ice_lite *lite,
                             char ufrag[PRISM_LITE_UFRAG_LEN + 1], char pwd[PRISM_LITE_PWD_LEN + 1])
{
    int r;
    do
        r = random_ice_chars(ufrag, PRISM_LITE_UFRAG_LEN);
    while (r == 0 && (ufrag_find(lite, ufrag, PRISM_LITE_UFRAG_LEN) != NULL ||
                      old_find(lite, ufrag, PRISM_LITE_UFRAG_LEN) != NULL));
    return r == 0 ? random_ice_chars(pwd, PRISM_LITE_PWD_LEN) : r;
}

int prism_ice_lite_attach(struct prism_ice_lite *lite, struct prism_lite_binding *b,
                          void (*on_recv)(void *ud, uint8_t *data, size_t len),
                          void (*on_validated)(void *ud), void *ud)
{
    if (!on_recv || !on_validated)
        return PRISM_EINVAL;
    PRISM_CHECK(!b->attached);
    if (lite->n_bindings + 1 > lite->n_ufrag_buckets &&
        resize(lite, 2 * lite->n_ufrag_buckets) != 0)
        return PRISM_ENOMEM;
    memset(b, 0, sizeof(*b));
    b->path.fd = -1;
    b->path.gso = true;
    int r = fresh_credentials(lite, b->ufrag, b->pwd);
    if (r != 0)
        return r;
    b->on_recv = on_recv;
    b->on_validated = on_validated;
    b->ud = ud;
    ufrag_link(lite, b);
    b->attached = true;
    lite->n_bindings++;
    return 0;
}

void prism_ice_lite_detach(struct prism_ice_lite *lite, struct prism_lite_binding *b)
{
    if (!b->attached)
        return;
    for (size_t i = 0; i < PRISM_LITE_MAX_ADDRS; i++) {
        if (b->addrs[i].len != 0)
            addr_unlink(lite, &b->addrs[i]);
        b->addrs[i].len = 0;
    }
    ufrag_unlink(lite, b);
    old_drop(lite, b);
    b->path.fd = -1;
    b->path.tcp = NULL;
    b->attached = false;
    lite->n_bindings--;
}

int prism_ice_lite_set_remote(struct prism_lite_binding *b, const char *ufrag)
{
    if (!ufrag || !prism_candidate_ice_chars(ufrag, 4, PRISM_LITE_REMOTE_UFRAG_MAX))
        return PRISM_EINVAL;
    memcpy(b->remote_ufrag, ufrag, strlen(ufrag) + 1);
    return 0;
}

int prism_ice_lite_restart(struct prism_ice_lite *lite, struct prism_lite_binding *b,
                           const char *remote_ufrag)
{
    char ufrag[PRISM_LITE_UFRAG_LEN + 1], pwd[PRISM_LITE_PWD_LEN + 1];
    if (!b->attached ||
        (remote_ufrag && !prism_candidate_ice_chars(remote_ufrag, 4, PRISM_LITE_REMOTE_UFRAG_MAX)))
        return PRISM_EINVAL;
    int r = fresh_credentials(lite, ufrag, pwd);
    if (r != 0)
        return r;
    struct prism_lite_old *o = NULL;
    if (!b->old) {
        /* The credentials checks proved so far stay answered meanwhile. */
        o = malloc(sizeof(*o));
        if (!o)
            return PRISM_ENOMEM;
        memcpy(o->ufrag, b->ufrag, sizeof(o->ufrag));
        memcpy(o->pwd, b->pwd, sizeof(o->pwd));
        memcpy(o->remote_ufrag, b->remote_ufrag, sizeof(o->remote_ufrag));
        o->owner = b;
    } /* else the current ones were never proven: replaced */
    ufrag_unlink(lite, b);
    if (o) {
        old_link(lite, o);
        b->old = o;
    }
    memcpy(b->ufrag, ufrag, sizeof(b->ufrag));
    memcpy(b->pwd, pwd, sizeof(b->pwd));
    if (remote_ufrag)
        memcpy(b->remote_ufrag, remote_ufrag, strlen(remote_ufrag) + 1);
    else
        b->remote_ufrag[0] = '\0';
    ufrag_link(lite, b);
    return 0;
}

bool prism_ice_lite_restarting(const struct prism_lite_binding *b)
{
    return b->old != NULL;
}

bool prism_ice_lite_validated(const struct prism_lite_binding *b)
{
    return b->path.fd >= 0;
}

/* --- packet path --------------------------------------------------------------- */

/* libnice's validater: USERNAME is "ours:theirs"; our part names the
 * binding whose password keys MESSAGE-INTEGRITY. */
static bool find_password(StunAgent *agent, StunMessage *message, uint8_t *username,
                          uint16_t username_len, uint8_t **password, size_t *password_len,
                          void *user_data)
{
    struct prism_ice_lite *lite = user_data;
    (void)agent;
    (void)message;
    const uint8_t *colon = memchr(username, ':', username_len);
    size_t ours = colon ? (size_t)(colon - username) : username_len;
    struct prism_lite_binding *b = ufrag_find(lite, (const char *)username, ours);
    struct prism_lite_old *o = b ? NULL : old_find(lite, (const char *)username, ours);
    if (!b && !o)
        return false;
    const char *remote = b ? b->remote_ufrag : o->remote_ufrag;
    /* Once the peer's ufrag is known, "theirs" must be it (RFC 8445 §7.3). */
    if (remote[0] != '\0') {
        size_t theirs = colon ? username_len - ours - 1 : 0;
        if (theirs != strlen(remote) || memcmp(colon + 1, remote, theirs) != 0)
            return false;
    }
    lite->found = b ? b : o->owner;
    lite->found_old = o != NULL;
    *password = (uint8_t *)(b ? b->pwd : o->pwd);
    *password_len = PRISM_LITE_PWD_LEN;
    return true;
}

/* Validates `from` for `b`: an existing slot is refreshed, else a free one,
 * else the oldest unselected one, is taken. An address validated for
 * another binding moves to `b` (the latest proof wins). Returns the slot. */
static struct prism_lite_addr *validate_addr(struct prism_ice_lite *lite,
                                             struct prism_lite_binding *b, const uint64_t key[3],
                                             const struct sockaddr_storage *from,
                                             socklen_t from_len, int fd, struct prism_tcp_outq *tcp,
                                             uint64_t now_ms)
{
    struct prism_lite_addr *slot = addr_find(lite, key);
    if (slot && slot->owner != b) {
        struct prism_lite_binding *other = slot->owner;
        addr_unlink(lite, slot);
        if (is_selected(other, slot)) {
            other->path.fd = -1; /* its next check selects again */
            other->path.tcp = NULL;
            other->nominated = false;
        }
        slot->len = 0;
        slot = NULL;
    }
    if (!slot) {
        for (size_t i = 0; i < PRISM_LITE_MAX_ADDRS && !slot; i++)
            if (b->addrs[i].len == 0)
                slot = &b->addrs[i];
        for (size_t i = 0; i < PRISM_LITE_MAX_ADDRS && !slot; i++) {
            struct prism_lite_addr *a = &b->addrs[i];
            if (!is_selected(b, a) && (!slot || a->seen_ms < slot->seen_ms))
                slot = a;
        }
        if (!slot)
            slot = &b->addrs[0];
        if (slot->len != 0)
            addr_unlink(lite, slot);
        memset(&slot->sa, 0, sizeof(slot->sa));
        memcpy(&slot->sa, from, from_len);
        slot->len = from_len;
        memcpy(slot->key, key, sizeof(slot->key));
        slot->owner = b;
        addr_link(lite, slot);
    }
    slot->fd = fd;
    slot->tcp = tcp;
    slot->seen_ms = now_ms;
    return slot;
}

/* The first check under the credentials of a restart passed: the old
 * credentials and every address they validated go (RFC 8445 §9: the new
 * pair replaces the previously selected one). */
static void complete_restart(struct prism_ice_lite *lite, struct prism_lite_binding *b)
{
    old_drop(lite, b);
    for (size_t i = 0; i < PRISM_LITE_MAX_ADDRS; i++) {
        if (b->addrs[i].len != 0)
            addr_unlink(lite, &b->addrs[i]);
        b->addrs[i].len = 0;
        b->addrs[i].tcp = NULL; /* a TCP connection checking again is validated again */
    }
    b->path.fd = -1;
    b->path.tcp = NULL;
    b->nominated = false;
    b->restarts++;
}

static void select_addr(struct prism_lite_binding *b, const struct prism_lite_addr *a)
{
    b->path.fd = a->fd;
    b->path.tcp = a->tcp;
    memcpy(&b->path.to, &a->sa, sizeof(b->path.to));
    b->path.to_len = a->len;
}

/* A check from `from` over UDP (tcp NULL) or on an ICE-TCP connection
 * (its queue `tcp`, socket `fd`): prism_ice_lite_on_stun and _on_stun_tcp. */
static enum prism_lite_verdict on_check(struct prism_ice_lite *lite, const uint8_t *data,
                                        size_t len, const struct sockaddr_storage *from,
                                        socklen_t from_len, int fd, struct prism_tcp_outq *tcp,
                                        uint64_t now_ms, uint8_t *reply, size_t *reply_len)
{
    StunMessage req, resp;
    uint64_t key[3];

    *reply_len = 0;
    if (!addr_key(from, from_len, tcp != NULL, key)) {
        lite->stats.stun_auth++;
        return PRISM_LITE_DROPPED;
    }
    lite->found = NULL;
    lite->found_old = false;
    StunValidationStatus st =
        stun_agent_validate(&lite->agent, &req, data, len, find_password, lite);
    if (st == STUN_VALIDATION_SUCCESS && stun_message_get_class(&req) == STUN_INDICATION &&
        addr_find(lite, key) != NULL)
        return PRISM_LITE_IGNORED; /* a keepalive from a peer we know */
    struct prism_lite_binding *b = lite->found;
    /* A TCP connection stays with the binding its first check named (one
     * more lookup, for TCP checks only). */
    const struct prism_lite_addr *known = tcp != NULL ? addr_find(lite, key) : NULL;
    bool moved = known != NULL && known->owner != b;
    if (st != STUN_VALIDATION_SUCCESS || b == NULL || moved ||
        stun_message_get_class(&req) != STUN_REQUEST ||
        stun_message_get_method(&req) != STUN_BINDING) {
        lite->stats.stun_auth++;
        return PRISM_LITE_DROPPED;
    }

    /* The relay is always controlled, with tie-breaker 0: a peer that
     * also says controlled gets 487 and takes the controlling role. */
    bool control = false;
    size_t n = PRISM_LITE_REPLY_MAX;
    StunUsageIceReturn r =
        stun_usage_ice_conncheck_create_reply(&lite->agent, &req, &resp, reply, &n, from, from_len,
                                              &control, 0, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    bool success =
        r == STUN_USAGE_ICE_RETURN_SUCCESS || (r == STUN_USAGE_ICE_RETURN_ROLE_CONFLICT && control);
    if (n == 0 || (!success && r != STUN_USAGE_ICE_RETURN_ROLE_CONFLICT)) {
        lite->stats.stun_auth++;
        return PRISM_LITE_DROPPED;
    }
    *reply_len = n;
    if (!success)
        return PRISM_LITE_REPLY; /* 487: no address validated by a refused check */

    if (!lite->found_old && prism_ice_lite_restarting(b))
        complete_restart(lite, b);
    struct prism_lite_addr *a = validate_addr(lite, b, key, from, from_len, fd, tcp, now_ms);
    bool use = stun_usage_ice_conncheck_use_candidate(&req);
    if (use || !b->nominated)
        select_addr(b, a);
    if (use)
        b->nominated = true;
    b->last_rx_ms = now_ms;
    b->on_validated(b->ud);
    return PRISM_LITE_REPLY;
}

enum prism_lite_verdict prism_ice_lite_on_stun(struct prism_ice_lite *lite, const uint8_t *data,
                                               size_t len, const struct sockaddr_storage *from,
                                               socklen_t from_len, int fd, uint64_t now_ms,
                                               uint8_t *reply, size_t *reply_len)
{
    return on_check(lite, data, len, from, from_len, fd, NULL, now_ms, reply, reply_len);
}

enum prism_lite_verdict prism_ice_lite_on_stun_tcp(struct prism_ice_lite *lite, const uint8_t *data,
                                                   size_t len, const struct sockaddr_storage *from,
                                                   socklen_t from_len, int fd,
                                                   struct prism_tcp_outq *tcp, uint64_t now_ms,
                                                   uint8_t *reply, size_t *reply_len)
{
    PRISM_CHECK(tcp != NULL);
    return on_check(lite, data, len, from, from_len, fd, tcp, now_ms, reply, reply_len);
}

static struct prism_lite_binding *lookup(struct prism_ice_lite *lite,
                                         const struct sockaddr_storage *from, socklen_t from_len,
                                         bool tcp)
{
    uint64_t key[3];
    if (!addr_key(from, from_len, tcp, key))
        return NULL;
    struct prism_lite_addr *a = addr_find(lite, key);
    return a ? a->owner : NULL;
}

struct prism_lite_binding *prism_ice_lite_lookup(struct prism_ice_lite *lite,
                                                 const struct sockaddr_storage *from,
                                                 socklen_t from_len)
{
    return lookup(lite, from, from_len, false);
}

void prism_ice_lite_on_datagram(struct prism_ice_lite *lite, uint8_t *data, size_t len,
                                const struct sockaddr_storage *from, socklen_t from_len,
                                uint64_t now_ms)
{
    struct prism_lite_binding *b = lookup(lite, from, from_len, false);
    if (!b) {
        lite->stats.unknown_source++;
        return;
    }
    b->last_rx_ms = now_ms;
    b->on_recv(b->ud, data, len);
}

bool prism_ice_lite_on_frame_tcp(struct prism_ice_lite *lite, uint8_t *data, size_t len,
                                 const struct sockaddr_storage *from, socklen_t from_len,
                                 uint64_t now_ms)
{
    struct prism_lite_binding *b = lookup(lite, from, from_len, true);
    if (!b) {
        lite->stats.unknown_source++;
        return false;
    }
    b->last_rx_ms = now_ms;
    b->on_recv(b->ud, data, len);
    return true;
}

bool prism_ice_lite_bound_tcp(struct prism_ice_lite *lite, const struct sockaddr_storage *from,
                              socklen_t from_len)
{
    return lookup(lite, from, from_len, true) != NULL;
}

void prism_ice_lite_forget_tcp(struct prism_ice_lite *lite, const struct sockaddr_storage *from,
                               socklen_t from_len)
{
    uint64_t key[3];
    if (!addr_key(from, from_len, true, key))
        return;
    struct prism_lite_addr *a = addr_find(lite, key);
    if (!a)
        return;
    struct prism_lite_binding *b = a->owner;
    if (is_selected(b, a)) {
        b->path.fd = -1; /* the peer's next check (on another path) selects again */
        b->path.tcp = NULL;
        b->nominated = false;
    }
    addr_unlink(lite, a);
    a->len = 0;
    a->tcp = NULL;
}

const struct prism_ice_lite_stats *prism_ice_lite_stats(const struct prism_ice_lite *lite)
{
    return &lite->stats;
}

size_t prism_ice_lite_count(const struct prism_ice_lite *lite)
{
    return lite->n_bindings;
}
