/* SDP parsing: a client's publish offer and subscribe answer (see sdp.h).
 *
 * Workload: a few KiB of text per offer, once per (re)negotiation, on the
 * control thread. The input is untrusted: every read is bounded by the line's
 * length, every number by its range, every table by its cap, and any violation
 * ends the parse with PRISM_EBADSDP and a human reason naming the line.
 *
 * Two passes over the lines. Pass 1 checks every line and fills the session
 * and its m-sections; transport attributes found at media level are checked
 * and dropped. Pass 2 knows the BUNDLE-tagged m-section (its mid may come after
 * its candidates, Chromium writes them first) and reads its transport
 * attributes and candidates; media-level values win over session-level ones.
 * aiortc writes different ICE credentials per m-line: the tagged one's count.
 *
 * Memory (sdp_internal.h): the session is allocated here, in an arena sized
 * by the input; strings are copied into it once validated, the payload types
 * of an m-line are counted before their table is made, and the per-section
 * tables that grow line by line (extmap, ssrc, ssrc-group, rid) double. Only
 * the last m-section grows, so its capacities are kept here, not in it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/candidate.h"
#include "relay/wire/sdp.h"
#include "relay/wire/sdp_internal.h"

/* A borrowed slice of the input; never NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

/* Transport attributes of one level (session or the tagged m-section). */
struct xport {
    char ufrag[PRISM_SDP_ICE_LEN];
    char pwd[PRISM_SDP_ICE_LEN];
    char fpr_hash[8];
    char fpr_value[PRISM_SDP_FPR_LEN];
    char weak_hash[8]; /* last refused hash, for the reason */
    enum prism_sdp_setup setup;
    bool setup_holdconn;
};

struct parser {
    /* inputs */
    const char *sdp;
    size_t len;
    bool answer;
    /* state */
    unsigned line_no;
    int pass;   /* 1 or 2 */
    size_t tag; /* pass 2: index of the BUNDLE-tagged m-section */
    bool seen_o, seen_s, seen_t;
    struct xport sess_x; /* session level */
    struct xport tag_x;  /* media level of the tagged m-section */
    size_t n_cand_lines; /* pass 1: a=candidate lines at any level */
    /* capacities of the tables of the session and its last m-section */
    size_t cap_media, cap_exts, cap_ssrcs, cap_groups, cap_rids;
    /* outputs */
    struct prism_sdp_session *s;
    char *reason;
    size_t reason_len;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *p, const char *fmt, ...)
{
    if (p->reason != NULL && p->reason_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->reason, p->reason_len, fmt, ap);
        va_end(ap);
    }
    return PRISM_EBADSDP;
}

static int nomem(struct parser *p)
{
    if (p->reason != NULL && p->reason_len > 0)
        snprintf(p->reason, p->reason_len, "out of memory");
    return PRISM_ENOMEM;
}

static bool span_eq(struct span a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && memcmp(a.p, lit, n) == 0;
}

static bool span_ieq(struct span a, const char *lit)
{
    size_t n = strlen(lit);
    if (a.n != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a.p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/* Split off the next space-separated token of `*sp`; false when none is left. */
static bool next_tok(struct span *sp, struct span *tok)
{
    while (sp->n > 0 && *sp->p == ' ') {
        sp->p++;
        sp->n--;
    }
    if (sp->n == 0)
        return false;
    size_t i = 0;
    while (i < sp->n && sp->p[i] != ' ')
        i++;
    tok->p = sp->p;
    tok->n = i;
    sp->p += i;
    sp->n -= i;
    return true;
}

/* What is left after the spaces following a token. */
static struct span rest(struct span sp)
{
    while (sp.n > 0 && *sp.p == ' ') {
        sp.p++;
        sp.n--;
    }
    return sp;
}

/* Split `sp` at the first `sep`: `*head` before it, `sp` after it. */
static bool split_at(struct span *sp, char sep, struct span *head)
{
    const char *q = memchr(sp->p, sep, sp->n);
    if (q == NULL)
        return false;
    head->p = sp->p;
    head->n = (size_t)(q - sp->p);
    sp->n -= head->n + 1;
    sp->p = q + 1;
    return true;
}

/* A decimal number of 1-20 digits, no sign, at most `max`. */
static bool span_u64(struct span a, uint64_t max, uint64_t *out)
{
    if (a.n == 0 || a.n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (a.p[i] < '0' || a.p[i] > '9')
            return false;
        unsigned d = (unsigned)(a.p[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A copy of `a` in the session's arena, or NULL when out of memory. */
static const char *span_dup(struct parser *p, struct span a)
{
    return prism__sdp_strndup(p->s, a.p, a.n);
}

/* Copy `a` into `dst` (NUL-terminated); false if it does not fit or is empty. */
static bool span_copy(char *dst, size_t cap, struct span a)
{
    if (a.n == 0 || a.n >= cap)
        return false;
    memcpy(dst, a.p, a.n);
    dst[a.n] = '\0';
    return true;
}

/* SDP token-char (RFC 8866 §9), used for mids, rids, msid ids and cnames. */
static bool token_ok(struct span a, size_t max)
{
    if (a.n == 0 || a.n > max)
        return false;
    for (size_t i = 0; i < a.n; i++) {
        unsigned char c = (unsigned char)a.p[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == '/' ||
            c == '[' || c == ']' || c == '\\')
            return false;
    }
    return true;
}

/* Printable ASCII without spaces, 1..max bytes (URIs). */
static bool visible_ok(struct span a, size_t max)
{
    if (a.n == 0 || a.n > max)
        return false;
    for (size_t i = 0; i < a.n; i++)
        if ((unsigned char)a.p[i] <= 0x20 || (unsigned char)a.p[i] >= 0x7f)
            return false;
    return true;
}

/* ice-char: ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4). */
static bool ice_ok(struct span a, size_t min)
{
    if (a.n < min || a.n >= PRISM_SDP_ICE_LEN)
        return false;
    for (size_t i = 0; i < a.n; i++) {
        char c = a.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- transport attributes ---------------------------------------------- */

static int on_fingerprint(struct parser *p, struct span v, struct xport *x)
{
    struct span hash, value;
    if (!next_tok(&v, &hash) || !next_tok(&v, &value) || rest(v).n != 0)
        return fail(p, "line %u: malformed a=fingerprint", p->line_no);
    static const struct {
        const char *name;
        size_t bytes;
        bool ok;
    } hashes[] = {
        {"sha-256", 32, true},  {"sha-384", 48, true}, {"sha-512", 64, true}, {"sha-1", 20, false},
        {"sha-224", 28, false}, {"md5", 16, false},    {"md2", 16, false},
    };
    size_t h = 0;
    while (h < sizeof(hashes) / sizeof(hashes[0]) && !span_ieq(hash, hashes[h].name))
        h++;
    if (h == sizeof(hashes) / sizeof(hashes[0]))
        return fail(p, "line %u: unknown fingerprint hash", p->line_no);
    if (value.n != hashes[h].bytes * 3 - 1)
        return fail(p, "line %u: fingerprint length does not match %s", p->line_no, hashes[h].name);
    char up[PRISM_SDP_FPR_LEN];
    for (size_t i = 0; i < value.n; i++) {
        char c = value.p[i];
        if (i % 3 == 2) {
            if (c != ':')
                return fail(p, "line %u: malformed fingerprint value", p->line_no);
        } else if (hexval(c) < 0) {
            return fail(p, "line %u: malformed fingerprint value", p->line_no);
        }
        up[i] = (c >= 'a' && c <= 'f') ? (char)(c - 'a' + 'A') : c;
    }
    up[value.n] = '\0';
    if (!hashes[h].ok) {
        snprintf(x->weak_hash, sizeof(x->weak_hash), "%s", hashes[h].name);
        return 0;
    }
    if (x->fpr_hash[0] == '\0') { /* RFC 8122 allows several: keep the first acceptable */
        snprintf(x->fpr_hash, sizeof(x->fpr_hash), "%s", hashes[h].name);
        memcpy(x->fpr_value, up, value.n + 1);
    }
    return 0;
}

_Static_assert(PRISM_SDP_CAND_LEN >= PRISM_CANDIDATE_LEN, "a kept candidate fits");

static int on_candidate(struct parser *p, struct span line, bool keep)
{
    /* line is "candidate:...": the rules are candidate.h's, as for ICE and
     * peer.candidate. What is kept is the text as read. */
    struct prism_candidate c;
    if (prism_candidate_parse(line.p, line.n, &c) != 0)
        return fail(p, "line %u: malformed a=candidate (%s)", p->line_no, c.reason);
    if (!keep)
        return 0;
    struct prism_sdp_session *s = p->s;
    if (s->n_candidates == PRISM_SDP_MAX_CAND) {
        s->n_candidates_dropped++;
        return 0;
    }
    span_copy(s->candidates[s->n_candidates++], PRISM_SDP_CAND_LEN, line);
    return 0;
}

/* Handle a transport attribute; *handled says whether `name` was one. */
static int on_transport_attr(struct parser *p, struct span name, struct span val, bool has_val,
                             struct span line, struct xport *x, bool keep_cands, bool *handled)
{
    *handled = true;
    if (span_eq(name, "ice-ufrag")) {
        if (!has_val || !ice_ok(val, 4))
            return fail(p, "line %u: malformed a=ice-ufrag", p->line_no);
        span_copy(x->ufrag, sizeof(x->ufrag), val);
    } else if (span_eq(name, "ice-pwd")) {
        if (!has_val || !ice_ok(val, 22))
            return fail(p, "line %u: malformed a=ice-pwd", p->line_no);
        span_copy(x->pwd, sizeof(x->pwd), val);
    } else if (span_eq(name, "fingerprint")) {
        if (!has_val)
            return fail(p, "line %u: malformed a=fingerprint", p->line_no);
        return on_fingerprint(p, val, x);
    } else if (span_eq(name, "setup")) {
        if (span_eq(val, "actpass"))
            x->setup = PRISM_SDP_SETUP_ACTPASS;
        else if (span_eq(val, "active"))
            x->setup = PRISM_SDP_SETUP_ACTIVE;
        else if (span_eq(val, "passive"))
            x->setup = PRISM_SDP_SETUP_PASSIVE;
        else if (span_eq(val, "holdconn"))
            x->setup_holdconn = true;
        else
            return fail(p, "line %u: malformed a=setup", p->line_no);
    } else if (span_eq(name, "candidate")) {
        if (!has_val) /* on_candidate() relies on the "candidate:" prefix */
            return fail(p, "line %u: malformed a=candidate", p->line_no);
        return on_candidate(p, line, keep_cands);
    } else if (span_eq(name, "end-of-candidates")) {
        if (keep_cands)
            p->s->end_of_candidates = true;
    } else {
        *handled = false;
    }
    return 0;
}

/* ---- media attributes -------------------------------------------------- */

static struct prism_sdp_payload *find_pt(struct prism_sdp_media *m, uint64_t pt)
{
    for (size_t i = 0; i < m->n_pts; i++)
        if (m->pts[i].pt == pt)
            return &m->pts[i];
    return NULL;
}

/* Parse "<pt> <rest>" and find the payload; fails on an unknown pt. */
static int pt_and_rest(struct parser *p, struct prism_sdp_media *m, struct span v, const char *what,
                       struct prism_sdp_payload **pl, struct span *after)
{
    struct span tok;
    uint64_t pt;
    if (!next_tok(&v, &tok) || !span_u64(tok, 127, &pt))
        return fail(p, "line %u: malformed a=%s", p->line_no, what);
    *pl = find_pt(m, pt);
    if (*pl == NULL)
        return fail(p, "line %u: a=%s for payload type %u not in the m-line", p->line_no, what,
                    (unsigned)pt);
    *after = rest(v);
    return 0;
}

static int on_rtpmap(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct prism_sdp_payload *pl;
    struct span enc, name, clock;
    uint64_t hz, ch = 1;
    int err = pt_and_rest(p, m, v, "rtpmap", &pl, &enc);
    if (err < 0)
        return err;
    if (!split_at(&enc, '/', &name) || name.n == 0 || name.n >= PRISM_SDP_CODEC_LEN)
        return fail(p, "line %u: malformed a=rtpmap", p->line_no);
    if (!split_at(&enc, '/', &clock)) {
        clock = enc;
        enc.n = 0;
    } else if (!span_u64(enc, 8, &ch) || ch == 0) {
        return fail(p, "line %u: malformed a=rtpmap channels", p->line_no);
    }
    if (!span_u64(clock, 1000000, &hz) || hz == 0)
        return fail(p, "line %u: malformed a=rtpmap clock rate", p->line_no);
    if (!token_ok(name, PRISM_SDP_CODEC_LEN - 1))
        return fail(p, "line %u: malformed a=rtpmap encoding name", p->line_no);
    if ((pl->name = span_dup(p, name)) == NULL)
        return nomem(p);
    pl->clock_hz = (uint32_t)hz;
    pl->channels = (uint8_t)ch;
    return 0;
}

static int on_fmtp(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct prism_sdp_payload *pl;
    struct span params;
    int err = pt_and_rest(p, m, v, "fmtp", &pl, &params);
    if (err < 0)
        return err;
    if (params.n == 0)
        return fail(p, "line %u: malformed a=fmtp", p->line_no);
    if (params.n >= PRISM_SDP_FMTP_LEN) {
        pl->fmtp = "";
        pl->fmtp_overflow = true;
    } else if ((pl->fmtp = span_dup(p, params)) == NULL) {
        return nomem(p);
    }
    /* rtx (RFC 4588): "apt=<pt>" among ';'-separated parameters */
    struct span par = params, one;
    while (par.n > 0) {
        if (!split_at(&par, ';', &one)) {
            one = par;
            par.n = 0;
        }
        one = rest(one);
        if (one.n > 4 && memcmp(one.p, "apt=", 4) == 0) {
            uint64_t apt;
            struct span num = {one.p + 4, one.n - 4};
            if (!span_u64(num, 127, &apt))
                return fail(p, "line %u: malformed apt in a=fmtp", p->line_no);
            pl->apt = (int16_t)apt;
        }
    }
    return 0;
}

static int on_rtcp_fb(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span ptok, type, sub = {NULL, 0};
    if (!next_tok(&v, &ptok) || !next_tok(&v, &type))
        return fail(p, "line %u: malformed a=rtcp-fb", p->line_no);
    bool has_sub = next_tok(&v, &sub);
    uint8_t bit = 0;
    if (span_eq(type, "nack") && !has_sub)
        bit = PRISM_SDP_FB_NACK;
    else if (span_eq(type, "nack") && span_eq(sub, "pli"))
        bit = PRISM_SDP_FB_NACK_PLI;
    else if (span_eq(type, "ccm") && span_eq(sub, "fir"))
        bit = PRISM_SDP_FB_CCM_FIR;
    else if (span_eq(type, "transport-cc") && !has_sub)
        bit = PRISM_SDP_FB_TRANSPORT_CC;
    else if (span_eq(type, "goog-remb") && !has_sub)
        bit = PRISM_SDP_FB_GOOG_REMB;
    if (span_eq(ptok, "*")) {
        for (size_t i = 0; i < m->n_pts; i++)
            m->pts[i].fb |= bit;
        return 0;
    }
    uint64_t pt;
    if (!span_u64(ptok, 127, &pt))
        return fail(p, "line %u: malformed a=rtcp-fb", p->line_no);
    struct prism_sdp_payload *pl = find_pt(m, pt);
    if (pl == NULL)
        return fail(p, "line %u: a=rtcp-fb for payload type %u not in the m-line", p->line_no,
                    (unsigned)pt);
    pl->fb |= bit;
    return 0;
}

static int on_extmap(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span idtok, uri, num;
    uint64_t id;
    if (!next_tok(&v, &idtok) || !next_tok(&v, &uri))
        return fail(p, "line %u: malformed a=extmap", p->line_no);
    if (split_at(&idtok, '/', &num)) { /* "3/sendrecv" (Firefox) */
        if (!(span_eq(idtok, "sendrecv") || span_eq(idtok, "sendonly") ||
              span_eq(idtok, "recvonly") || span_eq(idtok, "inactive")))
            return fail(p, "line %u: malformed a=extmap direction", p->line_no);
        idtok = num;
    }
    if (!span_u64(idtok, 255, &id) || id == 0 || id == 15)
        return fail(p, "line %u: malformed a=extmap id", p->line_no);
    for (size_t i = 0; i < m->n_exts; i++)
        if (m->exts[i].id == id)
            return fail(p, "line %u: duplicate a=extmap id %u", p->line_no, (unsigned)id);
    if (m->n_exts == PRISM_SDP_MAX_EXT)
        return fail(p, "line %u: more than %d a=extmap in an m-section", p->line_no,
                    PRISM_SDP_MAX_EXT);
    if (!visible_ok(uri, PRISM_SDP_URI_LEN - 1))
        return fail(p, "line %u: a=extmap URI too long or malformed", p->line_no);
    if (prism__sdp_reserve(p->s, (void **)&m->exts, m->n_exts, &p->cap_exts, sizeof(*m->exts)) < 0)
        return nomem(p);
    struct prism_sdp_extmap *e = &m->exts[m->n_exts];
    e->id = (uint16_t)id;
    if ((e->uri = span_dup(p, uri)) == NULL)
        return nomem(p);
    m->n_exts++;
    return 0;
}

/* The entry of `ssrc`, added if new; NULL with *err = PRISM_EBADSDP when
 * the section has PRISM_SDP_MAX_SSRC already, or PRISM_ENOMEM. */
static struct prism_sdp_ssrc *add_ssrc(struct parser *p, struct prism_sdp_media *m, uint32_t ssrc,
                                       int *err)
{
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (m->ssrcs[i].ssrc == ssrc)
            return &m->ssrcs[i];
    *err = PRISM_EBADSDP;
    if (m->n_ssrcs == PRISM_SDP_MAX_SSRC)
        return NULL;
    *err =
        prism__sdp_reserve(p->s, (void **)&m->ssrcs, m->n_ssrcs, &p->cap_ssrcs, sizeof(*m->ssrcs));
    if (*err < 0)
        return NULL;
    struct prism_sdp_ssrc *e = &m->ssrcs[m->n_ssrcs++];
    e->ssrc = ssrc;
    e->cname = "";
    return e;
}

static int on_ssrc(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span idtok, attr, name;
    uint64_t id;
    if (!next_tok(&v, &idtok) || !span_u64(idtok, UINT32_MAX, &id) || !next_tok(&v, &attr))
        return fail(p, "line %u: malformed a=ssrc", p->line_no);
    int err = 0;
    struct prism_sdp_ssrc *e = add_ssrc(p, m, (uint32_t)id, &err);
    if (e == NULL && err == PRISM_ENOMEM)
        return nomem(p);
    if (e == NULL)
        return fail(p, "line %u: more than %d ssrcs in an m-section", p->line_no,
                    PRISM_SDP_MAX_SSRC);
    if (split_at(&attr, ':', &name) && span_eq(name, "cname")) {
        /* Chromium's cnames are base64 ("ArJypp+/LoRWEcZE"): not token-chars */
        if (!visible_ok(attr, PRISM_SDP_TOKEN_LEN - 1))
            return fail(p, "line %u: malformed a=ssrc cname", p->line_no);
        if ((e->cname = span_dup(p, attr)) == NULL)
            return nomem(p);
    }
    return 0;
}

static int on_ssrc_group(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span sem, tok;
    if (!next_tok(&v, &sem) || sem.n >= sizeof(m->groups[0].semantics) ||
        !token_ok(sem, sizeof(m->groups[0].semantics) - 1))
        return fail(p, "line %u: malformed a=ssrc-group", p->line_no);
    if (m->n_groups == PRISM_SDP_MAX_SSRC_GROUP)
        return fail(p, "line %u: more than %d a=ssrc-group in an m-section", p->line_no,
                    PRISM_SDP_MAX_SSRC_GROUP);
    if (prism__sdp_reserve(p->s, (void **)&m->groups, m->n_groups, &p->cap_groups,
                           sizeof(*m->groups)) < 0)
        return nomem(p);
    struct prism_sdp_ssrc_group *g = &m->groups[m->n_groups];
    span_copy(g->semantics, sizeof(g->semantics), sem);
    g->n_ssrcs = 0;
    while (next_tok(&v, &tok)) {
        uint64_t id;
        if (!span_u64(tok, UINT32_MAX, &id))
            return fail(p, "line %u: malformed a=ssrc-group", p->line_no);
        if (g->n_ssrcs == PRISM_SDP_MAX_GROUP_SSRC)
            return fail(p, "line %u: more than %d ssrcs in an a=ssrc-group", p->line_no,
                        PRISM_SDP_MAX_GROUP_SSRC);
        g->ssrcs[g->n_ssrcs++] = (uint32_t)id;
    }
    if (g->n_ssrcs == 0)
        return fail(p, "line %u: empty a=ssrc-group", p->line_no);
    m->n_groups++;
    return 0;
}

static int on_msid(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span stream, track = {NULL, 0};
    if (!next_tok(&v, &stream) || !visible_ok(stream, PRISM_SDP_TOKEN_LEN - 1))
        return fail(p, "line %u: malformed a=msid", p->line_no);
    if (next_tok(&v, &track) && !visible_ok(track, PRISM_SDP_TOKEN_LEN - 1))
        return fail(p, "line %u: malformed a=msid track id", p->line_no);
    m->msid_stream = span_dup(p, stream);
    m->msid_track = track.n > 0 ? span_dup(p, track) : "";
    if (m->msid_stream == NULL || m->msid_track == NULL)
        return nomem(p);
    return 0;
}

static int on_rid(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span id, dir;
    if (!next_tok(&v, &id) || !token_ok(id, PRISM_SDP_TOKEN_LEN - 1) || !next_tok(&v, &dir) ||
        !(span_eq(dir, "send") || span_eq(dir, "recv")))
        return fail(p, "line %u: malformed a=rid", p->line_no);
    if (m->n_rids == PRISM_SDP_MAX_RID)
        return fail(p, "line %u: more than %d a=rid in an m-section", p->line_no,
                    PRISM_SDP_MAX_RID);
    if (prism__sdp_reserve(p->s, (void **)&m->rids, m->n_rids, &p->cap_rids, sizeof(*m->rids)) < 0)
        return nomem(p);
    struct prism_sdp_rid *r = &m->rids[m->n_rids++];
    if ((r->id = span_dup(p, id)) == NULL)
        return nomem(p);
    r->send = span_eq(dir, "send");
    return 0;
}

static int on_simulcast(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    struct span dir, list;
    int n = 0;
    while (next_tok(&v, &dir)) {
        const char **dst;
        if (span_eq(dir, "send"))
            dst = &m->simulcast_send;
        else if (span_eq(dir, "recv"))
            dst = &m->simulcast_recv;
        else
            return fail(p, "line %u: malformed a=simulcast", p->line_no);
        if (!next_tok(&v, &list) || !token_ok(list, PRISM_SDP_SIM_LEN - 1) || (*dst)[0] != '\0')
            return fail(p, "line %u: malformed a=simulcast", p->line_no);
        if ((*dst = span_dup(p, list)) == NULL)
            return nomem(p);
        n++;
    }
    if (n == 0)
        return fail(p, "line %u: malformed a=simulcast", p->line_no);
    return 0;
}

static int on_mid(struct parser *p, struct prism_sdp_media *m, struct span v)
{
    if (!token_ok(v, PRISM_SDP_TOKEN_LEN - 1))
        return fail(p, "line %u: malformed a=mid", p->line_no);
    if (m->mid[0] != '\0')
        return fail(p, "line %u: second a=mid in an m-section", p->line_no);
    for (size_t i = 0; i + 1 < p->s->n_media; i++)
        if (span_eq(v, p->s->media[i].mid))
            return fail(p, "line %u: duplicate mid", p->line_no);
    if ((m->mid = span_dup(p, v)) == NULL)
        return nomem(p);
    return 0;
}

static int on_media_attr(struct parser *p, struct prism_sdp_media *m, struct span name,
                         struct span val, bool has_val)
{
    static const struct {
        const char *name;
        int (*fn)(struct parser *, struct prism_sdp_media *, struct span);
    } with_value[] = {
        {"mid", on_mid},
        {"rtpmap", on_rtpmap},
        {"fmtp", on_fmtp},
        {"rtcp-fb", on_rtcp_fb},
        {"extmap", on_extmap},
        {"ssrc", on_ssrc},
        {"ssrc-group", on_ssrc_group},
        {"msid", on_msid},
        {"rid", on_rid},
        {"simulcast", on_simulcast},
    };
    for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++) {
        if (span_eq(name, with_value[i].name)) {
            if (!has_val)
                return fail(p, "line %u: a=%s without a value", p->line_no, with_value[i].name);
            return with_value[i].fn(p, m, val);
        }
    }
    if (span_eq(name, "sendrecv"))
        m->dir = PRISM_SDP_DIR_SENDRECV;
    else if (span_eq(name, "sendonly"))
        m->dir = PRISM_SDP_DIR_SENDONLY;
    else if (span_eq(name, "recvonly"))
        m->dir = PRISM_SDP_DIR_RECVONLY;
    else if (span_eq(name, "inactive"))
        m->dir = PRISM_SDP_DIR_INACTIVE;
    else if (span_eq(name, "rtcp-mux"))
        m->rtcp_mux = true;
    else if (span_eq(name, "rtcp-rsize"))
        m->rtcp_rsize = true;
    else if (span_eq(name, "bundle-only"))
        m->bundle_only = true;
    return 0; /* any other attribute is ignored */
}

/* ---- session attributes and lines -------------------------------------- */

static int on_group(struct parser *p, struct span v)
{
    struct span sem, mid;
    if (!next_tok(&v, &sem))
        return fail(p, "line %u: malformed a=group", p->line_no);
    if (!span_eq(sem, "BUNDLE"))
        return 0; /* LS and others: not used */
    struct prism_sdp_session *s = p->s;
    if (s->n_bundle > 0)
        return fail(p, "line %u: more than one BUNDLE group", p->line_no);
    size_t n = 0;
    for (struct span c = v; next_tok(&c, &mid);)
        n++;
    if (n > PRISM_SDP_MAX_MEDIA) /* the loop below fails at the cap */
        n = PRISM_SDP_MAX_MEDIA;
    if (n > 0 && (s->bundle = prism__sdp_alloc(s, n * sizeof(*s->bundle))) == NULL)
        return nomem(p);
    while (next_tok(&v, &mid)) {
        if (!token_ok(mid, PRISM_SDP_TOKEN_LEN - 1))
            return fail(p, "line %u: malformed a=group:BUNDLE", p->line_no);
        if (s->n_bundle == PRISM_SDP_MAX_MEDIA)
            return fail(p, "line %u: BUNDLE group larger than %d", p->line_no, PRISM_SDP_MAX_MEDIA);
        for (size_t i = 0; i < s->n_bundle; i++)
            if (span_eq(mid, s->bundle[i]))
                return fail(p, "line %u: duplicate mid in BUNDLE", p->line_no);
        if ((s->bundle[s->n_bundle++] = span_dup(p, mid)) == NULL)
            return nomem(p);
    }
    if (s->n_bundle == 0)
        return fail(p, "line %u: empty a=group:BUNDLE", p->line_no);
    return 0;
}

static int on_mline(struct parser *p, struct span v)
{
    struct prism_sdp_session *s = p->s;
    struct span kind, port, proto, fmt;
    uint64_t portnum;
    if (!next_tok(&v, &kind) || !next_tok(&v, &port) || !next_tok(&v, &proto))
        return fail(p, "line %u: malformed m-line", p->line_no);
    if (s->n_media == PRISM_SDP_MAX_MEDIA)
        return fail(p, "line %u: more than %d m-lines", p->line_no, PRISM_SDP_MAX_MEDIA);
    if (!span_u64(port, 65535, &portnum))
        return fail(p, "line %u: malformed m-line port", p->line_no);
    if (prism__sdp_reserve(s, (void **)&s->media, s->n_media, &p->cap_media, sizeof(*s->media)) < 0)
        return nomem(p);
    p->cap_exts = p->cap_ssrcs = p->cap_groups = p->cap_rids = 0;
    struct prism_sdp_media *m = &s->media[s->n_media++];
    memset(m, 0, sizeof(*m));
    m->mid = m->msid_stream = m->msid_track = m->simulcast_send = m->simulcast_recv = "";
    m->port = (uint16_t)portnum;
    m->dir = PRISM_SDP_DIR_SENDRECV;
    if (span_eq(kind, "audio"))
        m->kind = PRISM_SDP_KIND_AUDIO;
    else if (span_eq(kind, "video"))
        m->kind = PRISM_SDP_KIND_VIDEO;
    else if (span_eq(kind, "application"))
        m->kind = PRISM_SDP_KIND_APPLICATION;
    else
        m->kind = PRISM_SDP_KIND_OTHER;
    if (m->kind != PRISM_SDP_KIND_AUDIO && m->kind != PRISM_SDP_KIND_VIDEO)
        return 0; /* formats are not payload types here */
    if (!span_eq(proto, "UDP/TLS/RTP/SAVPF"))
        return fail(p, "m-line %zu uses proto %.*s, only UDP/TLS/RTP/SAVPF is accepted",
                    s->n_media - 1, (int)(proto.n > 32 ? 32 : proto.n), proto.p);
    size_t n = 0;
    for (struct span c = v; next_tok(&c, &fmt);)
        n++;
    if (n > PRISM_SDP_MAX_PT) /* the loop below fails at the cap */
        n = PRISM_SDP_MAX_PT;
    if (n > 0 && (m->pts = prism__sdp_alloc(s, n * sizeof(*m->pts))) == NULL)
        return nomem(p);
    while (next_tok(&v, &fmt)) {
        uint64_t pt;
        if (!span_u64(fmt, 127, &pt))
            return fail(p, "line %u: malformed payload type", p->line_no);
        if (find_pt(m, pt) != NULL)
            return fail(p, "line %u: duplicate payload type %u", p->line_no, (unsigned)pt);
        if (m->n_pts == PRISM_SDP_MAX_PT)
            return fail(p, "line %u: more than %d payload types", p->line_no, PRISM_SDP_MAX_PT);
        struct prism_sdp_payload *pl = &m->pts[m->n_pts++];
        pl->pt = (uint8_t)pt;
        pl->channels = 1;
        pl->apt = -1;
        pl->name = pl->fmtp = "";
    }
    if (m->n_pts == 0)
        return fail(p, "line %u: m-line without payload types", p->line_no);
    return 0;
}

static int on_origin(struct parser *p, struct span v)
{
    struct span user, id, ver;
    if (p->seen_o || p->s->n_media > 0)
        return fail(p, "line %u: misplaced o=", p->line_no);
    if (!next_tok(&v, &user) || !next_tok(&v, &id) || !next_tok(&v, &ver) ||
        !span_u64(id, UINT64_MAX, &p->s->origin_id) ||
        !span_u64(ver, UINT64_MAX, &p->s->origin_version))
        return fail(p, "line %u: malformed o=", p->line_no);
    p->seen_o = true;
    return 0;
}

static int on_attr(struct parser *p, struct span line)
{
    struct span v = {line.p + 2, line.n - 2}, name;
    bool has_val = split_at(&v, ':', &name);
    if (!has_val) {
        name = v;
        v.n = 0;
    }
    struct prism_sdp_session *s = p->s;
    bool media = s->n_media > 0;
    size_t idx = media ? s->n_media - 1 : 0;
    struct span cand = {line.p + 2, line.n - 2};
    bool handled;
    int err;
    if (p->pass == 2) {
        if (!media)
            return 0;
        if (idx != p->tag)
            return 0;
        return on_transport_attr(p, name, v, has_val, cand, &p->tag_x, true, &handled);
    }
    if (span_eq(name, "candidate"))
        p->n_cand_lines++; /* sizes the table pass 2 fills */
    struct xport scratch;
    memset(&scratch, 0, sizeof(scratch));
    err = on_transport_attr(p, name, v, has_val, cand, media ? &scratch : &p->sess_x, false,
                            &handled);
    if (err < 0 || handled)
        return err;
    if (media)
        return on_media_attr(p, &s->media[idx], name, v, has_val);
    if (span_eq(name, "group"))
        return has_val ? on_group(p, v) : fail(p, "line %u: malformed a=group", p->line_no);
    if (span_eq(name, "extmap-allow-mixed"))
        s->extmap_allow_mixed = true;
    return 0;
}

static int on_line(struct parser *p, struct span line)
{
    if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z')
        return fail(p, "line %u: not a <type>=<value> line", p->line_no);
    if (p->line_no == 1)
        return span_eq(line, "v=0") ? 0 : fail(p, "line 1: SDP must start with v=0");
    if (line.p[0] == 'a')
        return on_attr(p, line);
    if (p->pass == 2) {
        if (line.p[0] == 'm')
            p->s->n_media++;
        return 0;
    }
    struct span v = {line.p + 2, line.n - 2};
    switch (line.p[0]) {
    case 'm': return on_mline(p, v);
    case 'o': return on_origin(p, v);
    case 's': p->seen_s = true; return 0;
    case 't': p->seen_t = true; return 0;
    case 'v': return fail(p, "line %u: second v=", p->line_no);
    default: return 0; /* c=, b=, i=, u=, e=, p=, r=, z=, k=: not used */
    }
}

/* Run one pass over all lines. */
static int scan(struct parser *p)
{
    const char *q = p->sdp, *end = p->sdp + p->len;
    p->line_no = 0;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL)
            return fail(p, "SDP does not end with a line break (truncated?)");
        struct span line = {q, (size_t)(nl - q)};
        if (line.n > 0 && line.p[line.n - 1] == '\r')
            line.n--;
        q = nl + 1;
        p->line_no++;
        if (line.n > PRISM_SDP_MAX_LINE)
            return fail(p, "line %u longer than %d bytes", p->line_no, PRISM_SDP_MAX_LINE);
        for (size_t i = 0; i < line.n; i++) {
            unsigned char c = (unsigned char)line.p[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(p, "line %u: control character or NUL byte", p->line_no);
        }
        if (line.n == 0)
            continue; /* a stray blank line (some signaling code appends one) */
        int err = on_line(p, line);
        if (err < 0)
            return err;
    }
    return 0;
}

static int check_media(struct parser *p)
{
    struct prism_sdp_session *s = p->s;
    for (size_t i = 0; i < s->n_media; i++) {
        struct prism_sdp_media *m = &s->media[i];
        m->accepted = m->port != 0 || m->bundle_only;
        if (m->mid[0] == '\0')
            return fail(p, "m-line %zu lacks a=mid", i);
        bool bundled = false;
        for (size_t b = 0; b < s->n_bundle; b++)
            bundled |= strcmp(s->bundle[b], m->mid) == 0;
        if (m->accepted && !bundled)
            return fail(p, "m-line %zu (mid %s) is not in the BUNDLE group", i, m->mid);
        bool rtp = m->kind == PRISM_SDP_KIND_AUDIO || m->kind == PRISM_SDP_KIND_VIDEO;
        if (m->accepted && rtp && !m->rtcp_mux)
            return fail(p, "m-line %zu lacks a=rtcp-mux", i);
        for (size_t k = 0; k < m->n_pts; k++) {
            const struct prism_sdp_payload *pl = &m->pts[k];
            if (pl->apt >= 0 && find_pt(m, (uint64_t)pl->apt) == NULL)
                return fail(p, "m-line %zu: payload type %u has apt=%d, not in the m-line", i,
                            pl->pt, pl->apt);
        }
    }
    return 0;
}

/* Resolve the BUNDLE transport: the tagged m-section's attributes, else the session's. */
static int resolve_transport(struct parser *p)
{
    struct prism_sdp_session *s = p->s;
    const struct xport *t = &p->tag_x, *ss = &p->sess_x;
    const char *ufrag = t->ufrag[0] ? t->ufrag : ss->ufrag;
    const char *pwd = t->pwd[0] ? t->pwd : ss->pwd;
    if (ufrag[0] == '\0')
        return fail(p, "no a=ice-ufrag for the BUNDLE transport");
    if (pwd[0] == '\0')
        return fail(p, "no a=ice-pwd for the BUNDLE transport");
    s->ice_ufrag = prism__sdp_strndup(s, ufrag, strlen(ufrag));
    s->ice_pwd = prism__sdp_strndup(s, pwd, strlen(pwd));
    if (s->ice_ufrag == NULL || s->ice_pwd == NULL)
        return nomem(p);
    const struct xport *f = t->fpr_hash[0] ? t : ss;
    if (f->fpr_hash[0] == '\0') {
        const char *weak = t->weak_hash[0] ? t->weak_hash : ss->weak_hash;
        if (weak[0] != '\0')
            return fail(p, "fingerprint hash %s is not accepted (sha-256 or stronger)", weak);
        return fail(p, "no fingerprint");
    }
    snprintf(s->fpr_hash, sizeof(s->fpr_hash), "%s", f->fpr_hash);
    if ((s->fpr_value = prism__sdp_strndup(s, f->fpr_value, strlen(f->fpr_value))) == NULL)
        return nomem(p);
    bool holdconn = t->setup == PRISM_SDP_SETUP_NONE ? ss->setup_holdconn : t->setup_holdconn;
    s->setup = t->setup != PRISM_SDP_SETUP_NONE ? t->setup : ss->setup;
    const char *kind = p->answer ? "an answer" : "an offer";
    if (holdconn)
        return fail(p, "setup:holdconn is not allowed in %s", kind);
    if (s->setup == PRISM_SDP_SETUP_NONE)
        return fail(p, "no a=setup");
    if (!p->answer && s->setup == PRISM_SDP_SETUP_PASSIVE)
        return fail(p, "setup:passive is not allowed in an offer");
    if (p->answer && s->setup == PRISM_SDP_SETUP_ACTPASS)
        return fail(p, "setup:actpass is not allowed in an answer");
    if (p->answer && s->setup == PRISM_SDP_SETUP_PASSIVE)
        return fail(p, "setup:passive in an answer is not supported: the relay is the DTLS server");
    return 0;
}

static int parse(struct parser *p)
{
    struct prism_sdp_session *s = p->s;
    if (p->len > PRISM_SDP_MAX_BYTES)
        return fail(p, "SDP larger than %d bytes", PRISM_SDP_MAX_BYTES);
    if (p->len == 0)
        return fail(p, "empty SDP");
    p->pass = 1;
    int err = scan(p);
    if (err < 0)
        return err;
    const char *kind = p->answer ? "answer" : "offer";
    if (!p->seen_o || !p->seen_s || !p->seen_t)
        return fail(p, "%s lacks one of o=, s=, t=", kind);
    if (s->n_media == 0)
        return fail(p, "%s has no m-line", kind);
    if (s->n_bundle == 0)
        return fail(p, "%s lacks a=group:BUNDLE", kind);
    for (size_t b = 0; b < s->n_bundle; b++) {
        size_t i = 0;
        while (i < s->n_media && strcmp(s->media[i].mid, s->bundle[b]) != 0)
            i++;
        if (i == s->n_media)
            return fail(p, "BUNDLE names mid %s, which has no m-line", s->bundle[b]);
        if (b == 0)
            p->tag = i;
    }
    if (s->media[p->tag].port == 0 && !s->media[p->tag].bundle_only)
        return fail(p, "the first BUNDLE mid %s is a rejected m-line", s->bundle[0]);
    err = check_media(p);
    if (err < 0)
        return err;
    /* Pass 2 keeps the tagged section's candidates, at most one per line. */
    size_t n_cand = p->n_cand_lines < PRISM_SDP_MAX_CAND ? p->n_cand_lines : PRISM_SDP_MAX_CAND;
    if (n_cand > 0 &&
        (s->candidates = prism__sdp_alloc(s, n_cand * sizeof(*s->candidates))) == NULL)
        return nomem(p);
    size_t n_media = s->n_media;
    s->n_media = 0;
    p->pass = 2;
    err = scan(p);
    s->n_media = n_media;
    if (err < 0)
        return err;
    return resolve_transport(p);
}

/* Runs the parse into a new session of `*p`; on success moves it to `*out`. */
static int parse_new(struct parser *p, struct prism_sdp_session **out)
{
    /* The session costs about what its text does (sdp_internal.h): its
     * strings are at most the text, plus tables and candidates (~1.2 times
     * the text for browsers' offers). */
    size_t len = p->len < PRISM_SDP_MAX_BYTES ? p->len : PRISM_SDP_MAX_BYTES;
    p->s = prism__sdp_session_new(len + len / 2);
    if (p->s == NULL)
        return nomem(p);
    int err = parse(p);
    if (err < 0) {
        prism_sdp_session_free(p->s);
        return err;
    }
    *out = p->s;
    return 0;
}

int prism_sdp_parse_offer(const char *sdp, size_t len, struct prism_sdp_session **out, char *reason,
                          size_t reason_len)
{
    if (reason != NULL && reason_len > 0)
        reason[0] = '\0';
    if (out != NULL)
        *out = NULL;
    if (sdp == NULL || out == NULL)
        return PRISM_EINVAL;
    struct parser p = {.sdp = sdp, .len = len, .reason = reason, .reason_len = reason_len};
    return parse_new(&p, out);
}

/* The checks of an answer against the offer it answers. */
static int match_offer(struct parser *p, struct prism_sdp_session *out,
                       const struct prism_sdp_track *offered, size_t n_offered)
{
    if (out->n_media != n_offered)
        return fail(p, "answer has %zu m-lines, the offer had %zu", out->n_media, n_offered);
    for (size_t i = 0; i < n_offered; i++) {
        const struct prism_sdp_media *m = &out->media[i];
        if (strcmp(m->mid, offered[i].mid) != 0)
            return fail(p, "answer m-line %zu has mid %s, the offer had %s", i, m->mid,
                        offered[i].mid);
        /* Some stacks (aiortc 1.4) answer a removed m-line with a live port:
         * the relay removed it, so it stays rejected whatever the answer says. */
        if (offered[i].state == PRISM_SDP_TRACK_REMOVED)
            out->media[i].accepted = false;
    }
    return 0;
}

int prism_sdp_parse_answer(const char *sdp, size_t len, const struct prism_sdp_track *offered,
                           size_t n_offered, struct prism_sdp_session **out, char *reason,
                           size_t reason_len)
{
    if (reason != NULL && reason_len > 0)
        reason[0] = '\0';
    if (out != NULL)
        *out = NULL;
    if (sdp == NULL || out == NULL || (offered == NULL && n_offered > 0))
        return PRISM_EINVAL;
    struct parser p = {
        .sdp = sdp, .len = len, .answer = true, .reason = reason, .reason_len = reason_len};
    struct prism_sdp_session *s;
    int err = parse_new(&p, &s);
    if (err < 0)
        return err;
    if (offered != NULL && (err = match_offer(&p, s, offered, n_offered)) < 0) {
        prism_sdp_session_free(s);
        return err;
    }
    *out = s;
    return 0;
}
