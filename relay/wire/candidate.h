/* ICE candidates as text: the one grammar every layer of the relay uses.
 *
 * Owns: reading an a=candidate attribute (RFC 8839 §5.1, from RFC 5245
 * §15.1; tcptype from RFC 6544) into a struct prism_candidate, and writing
 * one back. Used by the SDP parser (candidates of an offer or answer), the SDP
 * writer (the relay's own candidates), `peer.candidate` (trickled ones) and
 * ICE (which builds a NiceCandidate from the struct and writes its local
 * candidates with prism_candidate_format()).
 *
 * Thread: any. Pure: no I/O, no globals, no allocation, no locks. Every read
 * is bounded by the length given; the input need not be NUL-terminated.
 *
 * The rules (one set, for every caller):
 *   [a=]candidate:<foundation> <component> <transport> <priority>
 *       <address> <port> typ <type> [<name> <value>]...
 * - "a=" is optional, "candidate:" is required (case-sensitive, as SDP
 *   attribute names are). Without "a=", at most PRISM_CANDIDATE_MAX bytes,
 *   so the value fits every PRISM_CANDIDATE_LEN buffer it travels in.
 * - Fields are separated by exactly one space; every byte of a field is
 *   visible ASCII (0x21..0x7e): no tabs, CR, LF, NUL or UTF-8. At most
 *   PRISM_CANDIDATE_MAX_TOKENS fields in all.
 * - foundation: 1..32 ice-chars (ALPHA / DIGIT / "+" / "/").
 * - component: 1..3 digits, 1..256.
 * - transport: "UDP" or "TCP", any case. Other transport extensions are
 *   refused (as Chromium and Firefox refuse them).
 * - priority: 1..10 digits, 1..2^32-1.
 * - address: an IPv4 literal, an IPv6 literal (no brackets, no zone), or a
 *   host name (letters, digits and '-' in dot-separated labels of 1..63,
 *   at most 253 bytes, last label not all digits). A name ending in ".local"
 *   (any case) is an mDNS name (RFC 6762, draft-ietf-mmusic-mdns-ice-
 *   candidates) and is flagged PRISM_CANDIDATE_ADDR_MDNS.
 * - port: 1..5 digits, 0..65535; a UDP candidate may not have port 0 (only a
 *   TCP active candidate has no port of its own, written 9 by convention).
 * - "typ" (any case), then host, srflx, prflx or relay (any case).
 * - Then name/value pairs. raddr takes an address as above, rport a port
 *   0..65535 (0 is how browsers hide the base), each at most once. On a TCP
 *   candidate tcptype is active, passive or so (any case), at most once; on
 *   UDP it is an unknown extension. Any other pair (generation, ufrag,
 *   network-id, network-cost, ...) is skipped: bounded by the field count and
 *   the length, never stored. A name without a value is malformed.
 *
 * What each layer does with a candidate that follows the rules:
 * - SDP parser: keeps it (as the text it read, up to PRISM_SDP_MAX_CAND),
 *   TCP and mDNS included; one that breaks them makes the SDP bad_sdp
 *   ("line N: malformed a=candidate (<reason>)").
 * - SDP writer: writes the strings it is given, each checked by these rules
 *   and without "a="; any that breaks them fails the write (PRISM_EINVAL).
 * - peer.candidate: accepted and passed on as written (without "a="); one
 *   that breaks the rules is -32602 (the old message when it does not start
 *   with "candidate:" or is too long, else "params.candidate is malformed
 *   (<reason>)").
 * - ICE: builds a NiceCandidate from the struct. UDP candidates of component 1
 *   with an IP literal are added. TCP candidates (ice-tcp is off), other
 *   components (rtcp-mux only) and host names, mDNS or not (a worker never
 *   resolves), are accepted and ignored (return 0). raddr/rport become the
 *   base address only when raddr is an IP literal and rport is not 0.
 *   Local candidates are written with prism_candidate_format(), "UDP" in
 *   upper case, as libnice wrote them.
 *
 * Addresses a relay must not send to (issue 9, finding 9). A well-formed
 * candidate whose address is an IP literal of one of these scopes is refused
 * by prism_candidate_refused(): the relay would otherwise send STUN checks,
 * then media, wherever a client points it (its own host, the cloud metadata
 * service, the local link, a multicast group):
 *   unspecified 0.0.0.0/8, ::; loopback 127.0.0.0/8, ::1 (allowed when the
 *   relay's own media addresses include a loopback one: tests, a co-located
 *   client); link-local 169.254.0.0/16, fe80::/10; cloud metadata
 *   169.254.169.254, fd00:ec2::254; multicast 224.0.0.0/4, ff00::/8;
 *   broadcast 255.255.255.255. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 *   is judged as the IPv4 address it maps. Private (RFC 1918, fc00::/7) and
 *   public unicast are usable. Host names are not judged (ICE ignores them).
 *   raddr is not judged: a remote candidate's base is never sent to.
 * What callers do with a refused one:
 * - peer.candidate (relay/control/media.c): -32602, "params.candidate is
 *   refused (<reason>)".
 * - SDP offers and answers: the candidate is dropped, the rest of the SDP
 *   (and its other candidates) is used; ICE drops it where remote candidates
 *   are added (relay/net/ice.c), so trickled and SDP candidates meet the same
 *   check on the worker too.
 */
#ifndef PRISM_RELAY_CANDIDATE_H
#define PRISM_RELAY_CANDIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_CANDIDATE_MAX 255           /* bytes of "candidate:...", without "a=" */
#define PRISM_CANDIDATE_LEN 256           /* a buffer holding any accepted value + NUL */
#define PRISM_CANDIDATE_MAX_TOKENS 32     /* fields after "candidate:", extensions included */
#define PRISM_CANDIDATE_FOUNDATION_LEN 33 /* 32 ice-chars + NUL */
#define PRISM_CANDIDATE_ADDR_LEN 254      /* 253-byte host name + NUL */

enum prism_candidate_transport {
    PRISM_CANDIDATE_UDP,
    PRISM_CANDIDATE_TCP,
};

enum prism_candidate_type {
    PRISM_CANDIDATE_HOST,
    PRISM_CANDIDATE_SRFLX,
    PRISM_CANDIDATE_PRFLX,
    PRISM_CANDIDATE_RELAY,
};

enum prism_candidate_tcptype {
    PRISM_CANDIDATE_TCPTYPE_NONE, /* UDP, or TCP without a tcptype */
    PRISM_CANDIDATE_TCPTYPE_ACTIVE,
    PRISM_CANDIDATE_TCPTYPE_PASSIVE,
    PRISM_CANDIDATE_TCPTYPE_SO,
};

enum prism_candidate_addr_kind {
    PRISM_CANDIDATE_ADDR_IPV4,
    PRISM_CANDIDATE_ADDR_IPV6,
    PRISM_CANDIDATE_ADDR_NAME, /* a host name a resolver would have to look up */
    PRISM_CANDIDATE_ADDR_MDNS, /* a host name ending in ".local" */
};

struct prism_candidate_addr {
    enum prism_candidate_addr_kind kind;
    char text[PRISM_CANDIDATE_ADDR_LEN]; /* as written (IPv6 not canonicalised) */
};

struct prism_candidate {
    char foundation[PRISM_CANDIDATE_FOUNDATION_LEN]; /* 1..32 ice-chars */
    uint16_t component;                              /* 1..256; 1 is RTP (rtcp-mux: the only) */
    enum prism_candidate_transport transport;
    uint32_t priority; /* 1..2^32-1 */
    struct prism_candidate_addr address;
    uint16_t port; /* 0..65535; not 0 for UDP */
    enum prism_candidate_type type;
    bool has_raddr;                       /* raddr was given */
    struct prism_candidate_addr raddr;    /* valid when has_raddr */
    bool has_rport;                       /* rport was given */
    uint16_t rport;                       /* valid when has_rport */
    enum prism_candidate_tcptype tcptype; /* NONE for UDP */
    /* Set by prism_candidate_parse() when it returns PRISM_EINVAL: a static
     * string naming the rule broken ("port out of range"); NULL on success. */
    const char *reason;
};

/* Where an address reaches, for the refusal rules above. */
enum prism_candidate_scope {
    PRISM_CANDIDATE_SCOPE_UNICAST,     /* public or private unicast: usable */
    PRISM_CANDIDATE_SCOPE_NOT_IP,      /* not an IP literal (a host name): not judged */
    PRISM_CANDIDATE_SCOPE_UNSPECIFIED, /* 0.0.0.0/8, :: */
    PRISM_CANDIDATE_SCOPE_LOOPBACK,    /* 127.0.0.0/8, ::1 */
    PRISM_CANDIDATE_SCOPE_METADATA,    /* 169.254.169.254, fd00:ec2::254 */
    PRISM_CANDIDATE_SCOPE_LINK_LOCAL,  /* 169.254.0.0/16 (but metadata), fe80::/10 */
    PRISM_CANDIDATE_SCOPE_MULTICAST,   /* 224.0.0.0/4, ff00::/8 */
    PRISM_CANDIDATE_SCOPE_BROADCAST,   /* 255.255.255.255 */
};

/* The scope of `ip`, a NUL-terminated IPv4 or IPv6 literal (no brackets, no
 * zone); PRISM_CANDIDATE_SCOPE_NOT_IP for anything else. Pure. */
enum prism_candidate_scope prism_candidate_ip_scope(const char *ip);

/* NULL if the relay may send to candidate `c`'s address, else a static
 * reason ("address is link-local"). `loopback_ok`: the relay's own media
 * addresses include a loopback one, so loopback candidates are usable. */
const char *prism_candidate_refused(const struct prism_candidate *c, bool loopback_ok);

/* True when `line` (`len` bytes) is framed as a candidate: an optional "a=",
 * then "candidate:", and at most PRISM_CANDIDATE_MAX bytes after the "a=".
 * Says nothing of the fields: prism_candidate_parse() checks them. */
bool prism_candidate_framed(const char *line, size_t len);

/* Reads `len` bytes of `line` (need not be NUL-terminated; a NUL inside is
 * malformed) by the rules above into `*out`. O(len).
 * Returns 0, or PRISM_EINVAL with out->reason set (the other fields of
 * `*out` are then unspecified). `line` may be NULL only with len 0. */
int prism_candidate_parse(const char *line, size_t len, struct prism_candidate *out);

/* Writes `*c` as "candidate:<foundation> <component> UDP|TCP <priority>
 * <address> <port> typ <type>[ raddr <a>][ rport <p>][ tcptype <t>]",
 * without "a=", NUL-terminated, into buf[0..len). What it writes parses back
 * into the same fields. Returns 0; PRISM_EINVAL when a field breaks the
 * rules (c->reason is not used or set); PRISM_ENOMEM when it does not fit in
 * `len` bytes. On error buf holds "" (when len > 0). */
int prism_candidate_format(const struct prism_candidate *c, char *buf, size_t len);

/* Whether the NUL-terminated `s` is min_len..max_len ice-chars (RFC 8839
 * §5.4: ALPHA / DIGIT / "+" / "/"), as ICE credentials must be (ice-ufrag
 * 4..256, ice-pwd 22..256). Reads at most max_len + 1 bytes of `s`. */
bool prism_candidate_ice_chars(const char *s, size_t min_len, size_t max_len);

#endif
