/* ICE candidate grammar: reader and writer (see candidate.h for the rules).
 *
 * Workload: a handful of candidates per transport, on the control thread
 * (SDP, peer.candidate) and on a worker (ICE); never per packet. The input
 * is untrusted: the line is first cut into at most PRISM_CANDIDATE_MAX_TOKENS
 * borrowed fields, each checked to be visible ASCII, then every field is read
 * by its own bounded reader. Nothing is copied before its length is known to
 * fit.
 */
#include "relay/wire/candidate.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "relay/base/error.h"

/* A borrowed field of the input; never NUL-terminated. */
struct tok {
    const char *p;
    size_t n;
};

static const char *const type_names[] = {
    [PRISM_CANDIDATE_HOST] = "host",
    [PRISM_CANDIDATE_SRFLX] = "srflx",
    [PRISM_CANDIDATE_PRFLX] = "prflx",
    [PRISM_CANDIDATE_RELAY] = "relay",
};

static const char *const tcptype_names[] = {
    [PRISM_CANDIDATE_TCPTYPE_NONE] = NULL,
    [PRISM_CANDIDATE_TCPTYPE_ACTIVE] = "active",
    [PRISM_CANDIDATE_TCPTYPE_PASSIVE] = "passive",
    [PRISM_CANDIDATE_TCPTYPE_SO] = "so",
};

static int bad(struct prism_candidate *out, const char *why)
{
    out->reason = why;
    return PRISM_EINVAL;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* `t` equals the lower-case literal `lit`, ignoring case. */
static bool tok_ieq(struct tok t, const char *lit)
{
    size_t n = strlen(lit);
    if (t.n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(t.p[i]) != lit[i])
            return false;
    return true;
}

/* A decimal of 1..max_digits digits, at most `max`. */
static bool read_dec(struct tok t, size_t max_digits, uint64_t max, uint64_t *out)
{
    if (t.n == 0 || t.n > max_digits)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] < '0' || t.p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(t.p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static bool ice_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static bool foundation_ok(const char *s, size_t n)
{
    if (n == 0 || n >= PRISM_CANDIDATE_FOUNDATION_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ice_char(s[i]))
            return false;
    return true;
}

/* Dot-separated labels of 1..63 letters, digits and '-'; the last label not
 * all digits (so "1.2.3.256" is a bad IPv4 literal, not a name). */
static bool host_name_ok(const char *s, size_t n)
{
    size_t label = 0;
    bool label_digits = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            label_digits = true;
            continue;
        }
        bool digit = c >= '0' && c <= '9';
        if (!digit && !(lower(c) >= 'a' && lower(c) <= 'z') && c != '-')
            return false;
        label_digits &= digit;
        if (++label > 63)
            return false;
    }
    return label > 0 && !label_digits;
}

static bool ends_with_local(const char *s, size_t n)
{
    static const char suffix[] = ".local";
    size_t k = sizeof(suffix) - 1;
    if (n <= k)
        return false;
    for (size_t i = 0; i < k; i++)
        if (lower(s[n - k + i]) != suffix[i])
            return false;
    return true;
}

/* Classifies the NUL-terminated `text` (n bytes); false when it is no
 * address by the rules. */
static bool classify_addr(const char *text, size_t n, enum prism_candidate_addr_kind *kind)
{
    unsigned char bin[16];
    if (n == 0 || n >= PRISM_CANDIDATE_ADDR_LEN)
        return false;
    if (inet_pton(AF_INET, text, bin) == 1)
        *kind = PRISM_CANDIDATE_ADDR_IPV4;
    else if (inet_pton(AF_INET6, text, bin) == 1)
        *kind = PRISM_CANDIDATE_ADDR_IPV6;
    else if (host_name_ok(text, n))
        *kind = ends_with_local(text, n) ? PRISM_CANDIDATE_ADDR_MDNS : PRISM_CANDIDATE_ADDR_NAME;
    else
        return false;
    return true;
}

static bool read_addr(struct tok t, struct prism_candidate_addr *a)
{
    if (t.n == 0 || t.n >= sizeof(a->text))
        return false;
    memcpy(a->text, t.p, t.n);
    a->text[t.n] = '\0';
    return classify_addr(a->text, t.n, &a->kind);
}

/* Strips "a=" and "candidate:" off `*line`; NULL when framed by the rules,
 * else why not. */
static const char *unframe(const char **line, size_t *len)
{
    static const char prefix[] = "candidate:";
    if (*line == NULL)
        return "no \"candidate:\" prefix";
    if (*len >= 2 && (*line)[0] == 'a' && (*line)[1] == '=') {
        *line += 2;
        *len -= 2;
    }
    if (*len < sizeof(prefix) - 1 || memcmp(*line, prefix, sizeof(prefix) - 1) != 0)
        return "no \"candidate:\" prefix";
    if (*len > PRISM_CANDIDATE_MAX)
        return "longer than 255 bytes";
    *line += sizeof(prefix) - 1;
    *len -= sizeof(prefix) - 1;
    return NULL;
}

bool prism_candidate_framed(const char *line, size_t len)
{
    return unframe(&line, &len) == NULL;
}

/* Cuts `s` (n bytes) at single spaces into at most PRISM_CANDIDATE_MAX_TOKENS
 * fields of visible ASCII. Returns the field count, or 0 with *why set. */
static size_t split(const char *s, size_t n, struct tok *tok, const char **why)
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ' ') {
            if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
                *why = "a byte that is not visible ASCII";
                return 0;
            }
            continue;
        }
        if (i == start) {
            *why = "an empty field (a leading, trailing or double space)";
            return 0;
        }
        if (count == PRISM_CANDIDATE_MAX_TOKENS) {
            *why = "too many fields";
            return 0;
        }
        tok[count].p = s + start;
        tok[count++].n = i - start;
        start = i + 1;
    }
    return count;
}

/* Reads the name/value pairs after the type. */
static int read_extensions(const struct tok *tok, size_t n, struct prism_candidate *out)
{
    for (size_t i = 0; i < n; i += 2) {
        struct tok name = tok[i], value = tok[i + 1];
        uint64_t v;
        if (tok_ieq(name, "raddr")) {
            if (out->has_raddr)
                return bad(out, "raddr given twice");
            if (!read_addr(value, &out->raddr))
                return bad(out, "raddr is not an IP address or host name");
            out->has_raddr = true;
        } else if (tok_ieq(name, "rport")) {
            if (out->has_rport)
                return bad(out, "rport given twice");
            if (!read_dec(value, 5, 65535, &v))
                return bad(out, "rport out of range 0..65535");
            out->rport = (uint16_t)v;
            out->has_rport = true;
        } else if (tok_ieq(name, "tcptype") && out->transport == PRISM_CANDIDATE_TCP) {
            if (out->tcptype != PRISM_CANDIDATE_TCPTYPE_NONE)
                return bad(out, "tcptype given twice");
            size_t t = PRISM_CANDIDATE_TCPTYPE_ACTIVE;
            while (t < sizeof(tcptype_names) / sizeof(tcptype_names[0]) &&
                   !tok_ieq(value, tcptype_names[t]))
                t++;
            if (t == sizeof(tcptype_names) / sizeof(tcptype_names[0]))
                return bad(out, "tcptype is not active, passive or so");
            out->tcptype = (enum prism_candidate_tcptype)t;
        }
        /* Anything else (generation, ufrag, network-id, ...) is skipped. */
    }
    return 0;
}

int prism_candidate_parse(const char *line, size_t len, struct prism_candidate *out)
{
    memset(out, 0, sizeof(*out));
    const char *why = unframe(&line, &len);
    if (why != NULL)
        return bad(out, why);

    struct tok tok[PRISM_CANDIDATE_MAX_TOKENS];
    size_t n = split(line, len, tok, &why);
    if (n == 0)
        return bad(out, why != NULL ? why : "no fields");
    /* foundation component transport priority address port "typ" type [name value]... */
    if (n < 8)
        return bad(out, "fewer than 8 fields");
    if (!tok_ieq(tok[6], "typ"))
        return bad(out, "\"typ\" expected after the port");
    if ((n - 8) % 2 != 0)
        return bad(out, "an extension name without a value");

    if (!foundation_ok(tok[0].p, tok[0].n))
        return bad(out, "foundation is not 1..32 ice-chars");
    memcpy(out->foundation, tok[0].p, tok[0].n);
    out->foundation[tok[0].n] = '\0';

    uint64_t v;
    if (!read_dec(tok[1], 3, 256, &v) || v == 0)
        return bad(out, "component out of range 1..256");
    out->component = (uint16_t)v;

    if (tok_ieq(tok[2], "udp"))
        out->transport = PRISM_CANDIDATE_UDP;
    else if (tok_ieq(tok[2], "tcp"))
        out->transport = PRISM_CANDIDATE_TCP;
    else
        return bad(out, "transport is not UDP or TCP");

    if (!read_dec(tok[3], 10, UINT32_MAX, &v) || v == 0)
        return bad(out, "priority out of range 1..4294967295");
    out->priority = (uint32_t)v;

    if (!read_addr(tok[4], &out->address))
        return bad(out, "address is not an IP address or host name");

    if (!read_dec(tok[5], 5, 65535, &v))
        return bad(out, "port out of range 0..65535");
    if (v == 0 && out->transport == PRISM_CANDIDATE_UDP)
        return bad(out, "a UDP candidate with port 0");
    out->port = (uint16_t)v;

    size_t t = 0;
    while (t < sizeof(type_names) / sizeof(type_names[0]) && !tok_ieq(tok[7], type_names[t]))
        t++;
    if (t == sizeof(type_names) / sizeof(type_names[0]))
        return bad(out, "type is not host, srflx, prflx or relay");
    out->type = (enum prism_candidate_type)t;

    return read_extensions(tok + 8, n - 8, out);
}

/* ---- writer ------------------------------------------------------------ */

static bool addr_ok(const struct prism_candidate_addr *a)
{
    size_t n = strnlen(a->text, sizeof(a->text));
    enum prism_candidate_addr_kind kind;
    return n < sizeof(a->text) && classify_addr(a->text, n, &kind) && kind == a->kind;
}

static bool fields_ok(const struct prism_candidate *c)
{
    size_t fn = strnlen(c->foundation, sizeof(c->foundation));
    if (!foundation_ok(c->foundation, fn) || c->component < 1 || c->component > 256 ||
        c->priority == 0 || !addr_ok(&c->address) || (unsigned)c->type > PRISM_CANDIDATE_RELAY)
        return false;
    if (c->transport == PRISM_CANDIDATE_UDP)
        return c->port != 0 && c->tcptype == PRISM_CANDIDATE_TCPTYPE_NONE &&
               (!c->has_raddr || addr_ok(&c->raddr));
    return c->transport == PRISM_CANDIDATE_TCP &&
           (unsigned)c->tcptype <= PRISM_CANDIDATE_TCPTYPE_SO &&
           (!c->has_raddr || addr_ok(&c->raddr));
}

int prism_candidate_format(const struct prism_candidate *c, char *buf, size_t len)
{
    if (len > 0)
        buf[0] = '\0';
    if (c == NULL || !fields_ok(c))
        return PRISM_EINVAL;
    /* Room for the longest fields (two 253-byte names): the length is known
     * before anything reaches buf. */
    char line[4 * PRISM_CANDIDATE_LEN];
    size_t off = 0;
    int n = snprintf(line, sizeof(line), "candidate:%s %u %s %lu %s %u typ %s", c->foundation,
                     (unsigned)c->component, c->transport == PRISM_CANDIDATE_UDP ? "UDP" : "TCP",
                     (unsigned long)c->priority, c->address.text, (unsigned)c->port,
                     type_names[c->type]);
    off += (size_t)n;
    if (c->has_raddr)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " raddr %s", c->raddr.text);
    if (c->has_rport)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " rport %u", (unsigned)c->rport);
    if (c->tcptype != PRISM_CANDIDATE_TCPTYPE_NONE)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " tcptype %s",
                                tcptype_names[c->tcptype]);
    if (off > PRISM_CANDIDATE_MAX)
        return PRISM_EINVAL; /* it would not parse back */
    if (off >= len)
        return PRISM_ENOMEM;
    memcpy(buf, line, off + 1);
    return 0;
}

/* --- address scopes (see candidate.h) --- */

static enum prism_candidate_scope ipv4_scope(const uint8_t a[4])
{
    if (a[0] == 0)
        return PRISM_CANDIDATE_SCOPE_UNSPECIFIED;
    if (a[0] == 127)
        return PRISM_CANDIDATE_SCOPE_LOOPBACK;
    if (a[0] == 169 && a[1] == 254)
        return a[2] == 169 && a[3] == 254 ? PRISM_CANDIDATE_SCOPE_METADATA
                                          : PRISM_CANDIDATE_SCOPE_LINK_LOCAL;
    if (a[0] >= 224 && a[0] <= 239)
        return PRISM_CANDIDATE_SCOPE_MULTICAST;
    if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
        return PRISM_CANDIDATE_SCOPE_BROADCAST;
    return PRISM_CANDIDATE_SCOPE_UNICAST;
}

static enum prism_candidate_scope ipv6_scope(const uint8_t a[16])
{
    static const uint8_t zero[16] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54};
    if (memcmp(a, mapped, sizeof(mapped)) == 0)
        return ipv4_scope(a + 12);
    if (memcmp(a, zero, 16) == 0)
        return PRISM_CANDIDATE_SCOPE_UNSPECIFIED;
    if (memcmp(a, zero, 15) == 0 && a[15] == 1)
        return PRISM_CANDIDATE_SCOPE_LOOPBACK;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return PRISM_CANDIDATE_SCOPE_LINK_LOCAL;
    if (a[0] == 0xff)
        return PRISM_CANDIDATE_SCOPE_MULTICAST;
    if (memcmp(a, metadata, 16) == 0)
        return PRISM_CANDIDATE_SCOPE_METADATA;
    return PRISM_CANDIDATE_SCOPE_UNICAST;
}

enum prism_candidate_scope prism_candidate_ip_scope(const char *ip)
{
    uint8_t a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        return ipv4_scope(a);
    if (inet_pton(AF_INET6, ip, a) == 1)
        return ipv6_scope(a);
    return PRISM_CANDIDATE_SCOPE_NOT_IP;
}

const char *prism_candidate_refused(const struct prism_candidate *c, bool loopback_ok)
{
    switch (prism_candidate_ip_scope(c->address.text)) {
    case PRISM_CANDIDATE_SCOPE_UNICAST:
    case PRISM_CANDIDATE_SCOPE_NOT_IP: return NULL;
    case PRISM_CANDIDATE_SCOPE_LOOPBACK:
        return loopback_ok ? NULL : "address is loopback and the relay's media is not";
    case PRISM_CANDIDATE_SCOPE_UNSPECIFIED: return "address is unspecified";
    case PRISM_CANDIDATE_SCOPE_METADATA: return "address is a cloud metadata service";
    case PRISM_CANDIDATE_SCOPE_LINK_LOCAL: return "address is link-local";
    case PRISM_CANDIDATE_SCOPE_MULTICAST: return "address is multicast";
    case PRISM_CANDIDATE_SCOPE_BROADCAST: return "address is broadcast";
    }
    return "address is unclassified";
}

bool prism_candidate_ice_chars(const char *s, size_t min_len, size_t max_len)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max_len || !ice_char(s[n]))
            return false;
    return n >= min_len;
}
