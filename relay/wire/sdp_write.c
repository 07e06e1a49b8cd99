/* SDP negotiation and writing: the relay's publish answer and subscribe offer
 * (see sdp.h).
 *
 * Output goes through a bounded string builder: every append is an snprintf
 * into the caller's buffer; once one does not fit, the builder stops and the
 * writer returns PRISM_ENOMEM, so a short buffer never yields a half SDP that
 * looks complete.
 *
 * Choices (RFC 8829 leaves them to us):
 * - ICE credentials, fingerprint and setup are written in every m-section
 *   (as Chromium does), candidates only in the first bundled one.
 * - m= port is 9 and c= is "IN IP4 0.0.0.0" (RFC 8840 §4.1.1 "dummy" values):
 *   browsers take the transport from the candidates, and a relay with several
 *   addresses has no single default one to name.
 * - a=ice-options:trickle always: the relay may trickle more candidates later
 *   (peer.candidate events) and says a=end-of-candidates when done.
 * - a=ice-lite at session level when the caller says so (the relay's own
 *   transports are ICE-lite on the workers' ports).
 * - The subscribe offer's cname is the publisher's peer id, so audio and video
 *   of one publisher share it and browsers lip-sync them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay/base/error.h"
#include "relay/wire/av1dd.h"
#include "relay/wire/candidate.h"
#include "relay/wire/sdp.h"

struct sb {
    char *buf;
    size_t cap;
    size_t len;
    bool full;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
    if (b->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->full = true;
        b->buf[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

static int sb_finish(struct sb *b, size_t *written)
{
    if (b->full)
        return PRISM_ENOMEM;
    if (written != NULL)
        *written = b->len;
    return 0;
}

/* A writer input's string: NULL is "" (sdp.h). */
static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

/* ---- negotiation ------------------------------------------------------- */

/* The value of `key` in a ';'-separated fmtp, or NULL; `*vlen` its length. */
static const char *fmtp_get(const char *fmtp, const char *key, size_t *vlen)
{
    size_t klen = strlen(key);
    const char *q = fmtp;
    while (*q != '\0') {
        while (*q == ' ' || *q == ';')
            q++;
        const char *e = strchr(q, ';');
        size_t n = e != NULL ? (size_t)(e - q) : strlen(q);
        if (n > klen && strncasecmp(q, key, klen) == 0 && q[klen] == '=') {
            *vlen = n - klen - 1;
            return q + klen + 1;
        }
        q += n;
    }
    return NULL;
}

static bool fmtp_is(const char *fmtp, const char *key, const char *value)
{
    size_t n;
    const char *v = fmtp_get(fmtp, key, &n);
    return v != NULL && n == strlen(value) && memcmp(v, value, n) == 0;
}

/* Whether the relay forwards this (non-rtx) codec. */
static bool codec_ok(enum prism_sdp_kind kind, const struct prism_sdp_payload *p)
{
    struct prism_sdp_payload strs = *p, *pl = &strs;
    pl->name = str(p->name);
    pl->fmtp = str(p->fmtp);
    if (pl->fmtp_overflow)
        return false;
    if (kind == PRISM_SDP_KIND_AUDIO)
        return strcasecmp(pl->name, "opus") == 0 && pl->clock_hz == 48000 && pl->channels == 2;
    if (kind != PRISM_SDP_KIND_VIDEO || pl->clock_hz != 90000)
        return false;
    if (strcasecmp(pl->name, "VP8") == 0)
        return true;
    if (strcasecmp(pl->name, "VP9") == 0) /* profile 2 (10 bit) is not decodable everywhere */
        return fmtp_get(pl->fmtp, "profile-id", &(size_t){0}) == NULL ||
               fmtp_is(pl->fmtp, "profile-id", "0");
    if (strcasecmp(pl->name, "H264") == 0)
        return fmtp_is(pl->fmtp, "packetization-mode", "1");
    if (strcasecmp(pl->name, "AV1") == 0) /* Main profile (0): what every AV1 decoder takes */
        return fmtp_get(pl->fmtp, "profile", &(size_t){0}) == NULL ||
               fmtp_is(pl->fmtp, "profile", "0");
    return false;
}

static bool ext_ok(const char *uri)
{
    static const char *const uris[] = {
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        PRISM_AV1DD_URI,
    };
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++)
        if (strcmp(uri, uris[i]) == 0)
            return true;
    return false;
}

/* Whether `p` is audio/red (RFC 2198) over codecs this m-section keeps:
 * red/48000/2 whose fmtp lists 1 to 32 payload types separated by '/',
 * each one of `m`'s kept codecs (libwebrtc writes "111/111"). */
static bool red_ok(const struct prism_sdp_media *m, const bool *keep,
                   const struct prism_sdp_payload *p)
{
    if (m->kind != PRISM_SDP_KIND_AUDIO || strcasecmp(str(p->name), "red") != 0 ||
        p->clock_hz != 48000 || p->channels != 2 || p->fmtp_overflow || p->apt >= 0)
        return false;
    const char *q = str(p->fmtp);
    for (size_t levels = 0; levels < 32; levels++) {
        unsigned pt = 0;
        size_t digits = 0;
        for (; *q >= '0' && *q <= '9' && digits < 3; q++, digits++)
            pt = pt * 10 + (unsigned)(*q - '0');
        bool known = false;
        for (size_t k = 0; k < m->n_pts && digits > 0 && !known; k++)
            known = keep[k] && m->pts[k].apt < 0 && m->pts[k].pt == pt;
        if (!known)
            return false;
        if (*q == '\0')
            return true;
        if (*q++ != '/')
            return false;
    }
    return false;
}

static void negotiate_media(struct prism_sdp_media *m, unsigned accept)
{
    bool rtp = m->kind == PRISM_SDP_KIND_AUDIO || m->kind == PRISM_SDP_KIND_VIDEO;
    bool sends = m->dir == PRISM_SDP_DIR_SENDONLY || m->dir == PRISM_SDP_DIR_SENDRECV;
    if (!rtp || !sends)
        m->accepted = false;
    if (!m->accepted)
        return;
    /* Codecs first, then the rtx whose apt survived; both keep offer order. */
    bool keep[PRISM_SDP_MAX_PT] = {false};
    for (size_t i = 0; i < m->n_pts; i++)
        keep[i] = m->pts[i].apt < 0 && codec_ok(m->kind, &m->pts[i]);
    bool red[PRISM_SDP_MAX_PT] = {false};
    for (size_t i = 0; i < m->n_pts && (accept & PRISM_SDP_ACCEPT_RED) != 0; i++)
        red[i] = red_ok(m, keep, &m->pts[i]);
    for (size_t i = 0; i < m->n_pts; i++) {
        if (m->pts[i].apt < 0 || strcasecmp(m->pts[i].name, "rtx") != 0)
            continue;
        for (size_t k = 0; k < m->n_pts; k++)
            if (keep[k] && m->pts[k].apt < 0 && m->pts[k].pt == m->pts[i].apt)
                keep[i] = true;
    }
    size_t n = 0;
    for (size_t i = 0; i < m->n_pts; i++)
        n += keep[i];
    if (n == 0) { /* rejected: the offer's formats stay for the port-0 m-line */
        m->accepted = false;
        return;
    }
    /* red goes first: a libwebrtc sender sends RED only when red precedes
     * the codec it carries in the answer. In place: the reds are copied
     * out before the others move down. */
    struct prism_sdp_payload reds[PRISM_SDP_MAX_PT];
    size_t n_red = 0;
    for (size_t i = 0; i < m->n_pts; i++)
        if (red[i])
            reds[n_red++] = m->pts[i];
    size_t kept = 0;
    for (size_t i = 0; i < m->n_pts; i++)
        if (keep[i])
            m->pts[kept++] = m->pts[i];
    memmove(&m->pts[n_red], &m->pts[0], kept * sizeof(m->pts[0]));
    memcpy(&m->pts[0], reds, n_red * sizeof(reds[0]));
    m->n_pts = n_red + kept;
    n = 0;
    for (size_t i = 0; i < m->n_exts; i++)
        if (ext_ok(str(m->exts[i].uri)))
            m->exts[n++] = m->exts[i];
    m->n_exts = n;
}

int prism_sdp_negotiate(struct prism_sdp_session *offer, char *reason, size_t reason_len)
{
    return prism_sdp_negotiate_with(offer, 0, reason, reason_len);
}

int prism_sdp_negotiate_with(struct prism_sdp_session *offer, unsigned accept, char *reason,
                             size_t reason_len)
{
    if (reason != NULL && reason_len > 0)
        reason[0] = '\0';
    if (offer == NULL)
        return PRISM_EINVAL;
    size_t accepted = 0;
    for (size_t i = 0; i < offer->n_media; i++) {
        negotiate_media(&offer->media[i], accept);
        accepted += offer->media[i].accepted;
    }
    if (accepted == 0) {
        if (reason != NULL && reason_len > 0)
            snprintf(reason, reason_len, "no m-line with an acceptable codec to receive");
        return PRISM_EBADSDP;
    }
    size_t n = 0;
    for (size_t i = 0; i < offer->n_media; i++)
        if (offer->media[i].accepted)
            offer->bundle[n++] = offer->media[i].mid;
    offer->n_bundle = n;
    return 0;
}

/* ---- shared writing ---------------------------------------------------- */

static bool ice_chars(const char *s, size_t min)
{
    size_t n = strnlen(s, PRISM_SDP_ICE_LEN);
    if (n < min || n >= PRISM_SDP_ICE_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* Printable ASCII without spaces (a superset of SDP token-char), 1..max. */
static bool visible(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool local_ok(const struct prism_sdp_local *l)
{
    if (l == NULL || l->ice_ufrag == NULL || l->ice_pwd == NULL || l->fingerprint == NULL ||
        (l->candidates == NULL && l->n_candidates > 0))
        return false;
    if (!ice_chars(l->ice_ufrag, 4) || !ice_chars(l->ice_pwd, 22))
        return false;
    const char *fp = l->fingerprint;
    if (!(strncmp(fp, "sha-256 ", 8) == 0 || strncmp(fp, "sha-384 ", 8) == 0 ||
          strncmp(fp, "sha-512 ", 8) == 0) ||
        !visible(fp + 8, PRISM_SDP_FPR_LEN - 1))
        return false;
    for (size_t i = 0; i < l->n_candidates; i++) {
        /* candidate.h's rules, as the parser applies them; no "a=" (we add it). */
        const char *c = l->candidates[i];
        size_t n = c != NULL ? strnlen(c, PRISM_SDP_CAND_LEN) : 0;
        struct prism_candidate parsed;
        if (n == 0 || strncmp(c, "a=", 2) == 0 || prism_candidate_parse(c, n, &parsed) != 0)
            return false;
    }
    return true;
}

static void write_session(struct sb *b, const struct prism_sdp_local *l, const char *bundle[],
                          size_t n_bundle, bool allow_mixed)
{
    sb_add(b, "v=0\r\no=- %llu %llu IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
           (unsigned long long)l->session_id, (unsigned long long)l->session_version);
    sb_add(b, "a=group:BUNDLE");
    for (size_t i = 0; i < n_bundle; i++)
        sb_add(b, " %s", bundle[i]);
    sb_add(b, "\r\n");
    if (l->ice_lite)
        sb_add(b, "a=ice-lite\r\n");
    if (allow_mixed)
        sb_add(b, "a=extmap-allow-mixed\r\n");
    sb_add(b, "a=msid-semantic: WMS\r\n");
}

static void write_mline(struct sb *b, const char *kind, bool port0,
                        const struct prism_sdp_payload *pts, size_t n_pts)
{
    sb_add(b, "m=%s %d UDP/TLS/RTP/SAVPF", kind, port0 ? 0 : 9);
    for (size_t i = 0; i < n_pts; i++)
        sb_add(b, " %u", pts[i].pt);
    sb_add(b, "\r\nc=IN IP4 0.0.0.0\r\n");
}

static void write_transport(struct sb *b, const struct prism_sdp_local *l, const char *setup,
                            bool cands)
{
    if (cands) {
        for (size_t i = 0; i < l->n_candidates; i++)
            sb_add(b, "a=%s\r\n", l->candidates[i]);
        if (l->end_of_candidates)
            sb_add(b, "a=end-of-candidates\r\n");
    }
    sb_add(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n", l->ice_ufrag,
           l->ice_pwd);
    sb_add(b, "a=fingerprint:%s\r\na=setup:%s\r\n", l->fingerprint, setup);
}

static void write_codecs(struct sb *b, const struct prism_sdp_payload *pts, size_t n_pts)
{
    static const struct {
        uint8_t bit;
        const char *text;
    } fbs[] = {
        {PRISM_SDP_FB_GOOG_REMB, "goog-remb"}, {PRISM_SDP_FB_TRANSPORT_CC, "transport-cc"},
        {PRISM_SDP_FB_CCM_FIR, "ccm fir"},     {PRISM_SDP_FB_NACK, "nack"},
        {PRISM_SDP_FB_NACK_PLI, "nack pli"},
    };
    for (size_t i = 0; i < n_pts; i++) {
        const struct prism_sdp_payload *pl = &pts[i];
        sb_add(b, "a=rtpmap:%u %s/%u", pl->pt, str(pl->name), (unsigned)pl->clock_hz);
        if (pl->channels > 1)
            sb_add(b, "/%u", pl->channels);
        sb_add(b, "\r\n");
        for (size_t k = 0; k < sizeof(fbs) / sizeof(fbs[0]); k++)
            if (pl->fb & fbs[k].bit)
                sb_add(b, "a=rtcp-fb:%u %s\r\n", pl->pt, fbs[k].text);
        if (str(pl->fmtp)[0] != '\0')
            sb_add(b, "a=fmtp:%u %s\r\n", pl->pt, pl->fmtp);
        else if (pl->apt >= 0)
            sb_add(b, "a=fmtp:%u apt=%d\r\n", pl->pt, pl->apt);
    }
}

static const char *kind_name(enum prism_sdp_kind k)
{
    switch (k) {
    case PRISM_SDP_KIND_AUDIO: return "audio";
    case PRISM_SDP_KIND_VIDEO: return "video";
    case PRISM_SDP_KIND_APPLICATION: return "application";
    case PRISM_SDP_KIND_OTHER: break;
    }
    return "unknown";
}

/* ---- the publish answer ------------------------------------------------ */

static void write_answer_media(struct sb *b, const struct prism_sdp_media *m,
                               const struct prism_sdp_local *l, bool first)
{
    if (!m->accepted) {
        /* JSEP §5.3.1: a rejected m-section keeps its kind and mid, port 0. */
        if ((m->kind == PRISM_SDP_KIND_AUDIO || m->kind == PRISM_SDP_KIND_VIDEO) && m->n_pts > 0) {
            write_mline(b, kind_name(m->kind), true, m->pts, 1);
        } else if (m->kind == PRISM_SDP_KIND_APPLICATION) {
            sb_add(b, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n");
        } else {
            sb_add(b, "m=%s 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n", kind_name(m->kind));
        }
        sb_add(b, "a=mid:%s\r\na=inactive\r\n", m->mid);
        return;
    }
    write_mline(b, kind_name(m->kind), false, m->pts, m->n_pts);
    write_transport(b, l, "passive", first);
    sb_add(b, "a=mid:%s\r\n", m->mid);
    for (size_t i = 0; i < m->n_exts; i++)
        sb_add(b, "a=extmap:%u %s\r\n", m->exts[i].id, m->exts[i].uri);
    sb_add(b, "a=%s\r\n",
           m->dir == PRISM_SDP_DIR_RECVONLY || m->dir == PRISM_SDP_DIR_INACTIVE ? "inactive"
                                                                                : "recvonly");
    sb_add(b, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
        sb_add(b, "a=rtcp-rsize\r\n");
    write_codecs(b, m->pts, m->n_pts);
    if (m->simulcast_send[0] != '\0') {
        for (size_t i = 0; i < m->n_rids; i++)
            if (m->rids[i].send)
                sb_add(b, "a=rid:%s recv\r\n", m->rids[i].id);
        sb_add(b, "a=simulcast:recv %s\r\n", m->simulcast_send);
    }
}

int prism_sdp_write_answer(const struct prism_sdp_session *negotiated,
                           const struct prism_sdp_local *local, char *out, size_t out_len,
                           size_t *written)
{
    if (negotiated == NULL || out == NULL || out_len == 0 || !local_ok(local) ||
        negotiated->n_media > PRISM_SDP_MAX_MEDIA)
        return PRISM_EINVAL;
    struct sb b = {out, out_len, 0, false};
    out[0] = '\0';
    const char *bundle[PRISM_SDP_MAX_MEDIA];
    size_t n = 0;
    for (size_t i = 0; i < negotiated->n_media; i++)
        if (negotiated->media[i].accepted)
            bundle[n++] = negotiated->media[i].mid;
    if (n == 0)
        return PRISM_EINVAL;
    write_session(&b, local, bundle, n, negotiated->extmap_allow_mixed);
    bool first = true;
    for (size_t i = 0; i < negotiated->n_media; i++) {
        write_answer_media(&b, &negotiated->media[i], local, first);
        first &= !negotiated->media[i].accepted;
    }
    return sb_finish(&b, written);
}

/* ---- the subscribe offer ----------------------------------------------- */

/* SDP token-char (RFC 8866 §9), 1..max bytes: what the parser takes for a
 * mid or an encoding name. */
static bool token(const char *s, size_t max)
{
    return visible(s, max) && strpbrk(s, "\"(),/[]\\") == NULL;
}

/* The apt the parser reads from `fmtp` ("apt=<0..127>" among ';'-separated
 * parameters, leading spaces skipped; the last one counts): 0..127, -1 when
 * there is none, -2 when one is malformed (the parser refuses the SDP). */
static int fmtp_apt(const char *fmtp)
{
    int apt = -1;
    for (const char *q = fmtp; q != NULL; q = strchr(q, ';') != NULL ? strchr(q, ';') + 1 : NULL) {
        q += strspn(q, " ");
        size_t n = strcspn(q, ";");
        if (n <= 4 || strncmp(q, "apt=", 4) != 0)
            continue;
        size_t digits = strspn(q + 4, "0123456789");
        if (digits != n - 4 || digits > 3)
            return -2;
        apt = (int)strtol(q + 4, NULL, 10);
        if (apt > 127)
            return -2;
    }
    return apt;
}

/* One payload of a track: refused for what the parser would refuse in the
 * a=rtpmap and a=fmtp lines written for it. */
static bool payload_ok(const struct prism_sdp_track *t, const struct prism_sdp_payload *pl,
                       size_t index)
{
    const char *fmtp = str(pl->fmtp);
    if (pl->pt > 127 || !token(str(pl->name), PRISM_SDP_CODEC_LEN - 1) || pl->clock_hz == 0 ||
        pl->clock_hz > 1000000 || pl->channels > 8)
        return false;
    for (size_t k = 0; k < index; k++)
        if (t->pts[k].pt == pl->pt)
            return false; /* a repeated payload type */
    /* The fmtp line: no control character but a tab, not only blanks. */
    if (strnlen(fmtp, PRISM_SDP_FMTP_LEN) == PRISM_SDP_FMTP_LEN ||
        (fmtp[0] != '\0' && fmtp[strspn(fmtp, " \t")] == '\0'))
        return false;
    for (const char *c = fmtp; *c != '\0'; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return false;
    /* The apt written (the fmtp's, else "apt=<apt>") says what the track
     * says and names a payload of the track. */
    int apt = fmtp[0] != '\0' ? fmtp_apt(fmtp) : pl->apt;
    if (apt == -2 || apt != pl->apt)
        return false;
    if (apt < 0)
        return true;
    for (size_t k = 0; k < t->n_pts; k++)
        if (t->pts[k].pt == apt)
            return true;
    return false;
}

/* A track the parser would read back as written: every field within the
 * parser's rules, so no field can smuggle a line in or make the relay's
 * own offer unparseable (tests/fuzz/fuzz_sdp_offer.c). */
static bool track_ok(const struct prism_sdp_track *t)
{
    if (!token(t->mid, PRISM_SDP_TOKEN_LEN - 1) ||
        strnlen(t->mid, PRISM_SDP_TOKEN_LEN) == PRISM_SDP_TOKEN_LEN)
        return false;
    if (t->kind != PRISM_SDP_KIND_AUDIO && t->kind != PRISM_SDP_KIND_VIDEO)
        return false;
    if (t->n_pts == 0 || t->n_pts > PRISM_SDP_MAX_TRACK_PT || t->n_exts > PRISM_SDP_MAX_EXT)
        return false;
    for (size_t i = 0; i < t->n_pts; i++)
        if (!payload_ok(t, &t->pts[i], i))
            return false;
    for (size_t i = 0; i < t->n_exts; i++) {
        /* RFC 8285: 1..14 one-byte, 16..255 two-byte; 15 is reserved. */
        if (t->exts[i].id == 0 || t->exts[i].id == 15 || t->exts[i].id > 255 ||
            !visible(str(t->exts[i].uri), PRISM_SDP_URI_LEN - 1))
            return false;
        for (size_t k = 0; k < i; k++)
            if (t->exts[k].id == t->exts[i].id)
                return false;
    }
    if (t->state == PRISM_SDP_TRACK_SEND &&
        (!visible(t->peer_id, PRISM_SDP_TOKEN_LEN - 1) ||
         !visible(t->track_id, PRISM_SDP_TOKEN_LEN - 1) || t->ssrc == 0 || t->rtx_ssrc == t->ssrc))
        return false;
    return true;
}

/* Within one BUNDLE group an extension id names one extension (RFC 8843
 * §9.1.1): the same id with another URI in an earlier track is refused. */
static bool extmaps_agree(const struct prism_sdp_track *tracks, size_t i)
{
    for (size_t e = 0; e < tracks[i].n_exts; e++)
        for (size_t j = 0; j < i; j++)
            for (size_t f = 0; f < tracks[j].n_exts; f++)
                if (tracks[j].exts[f].id == tracks[i].exts[e].id &&
                    strcmp(str(tracks[j].exts[f].uri), str(tracks[i].exts[e].uri)) != 0)
                    return false;
    return true;
}

static void write_offer_media(struct sb *b, const struct prism_sdp_track *t,
                              const struct prism_sdp_local *l, bool first)
{
    bool removed = t->state == PRISM_SDP_TRACK_REMOVED;
    write_mline(b, kind_name(t->kind), removed, t->pts, t->n_pts);
    write_transport(b, l, "actpass", first);
    sb_add(b, "a=mid:%s\r\n", t->mid);
    for (size_t i = 0; i < t->n_exts; i++)
        sb_add(b, "a=extmap:%u %s\r\n", t->exts[i].id, t->exts[i].uri);
    bool send = t->state == PRISM_SDP_TRACK_SEND;
    sb_add(b, "a=%s\r\n", send ? "sendonly" : "inactive");
    if (send)
        sb_add(b, "a=msid:%s %s\r\n", t->peer_id, t->track_id);
    sb_add(b, "a=rtcp-mux\r\na=rtcp-rsize\r\n");
    write_codecs(b, t->pts, t->n_pts);
    if (!send)
        return;
    if (t->rtx_ssrc != 0)
        sb_add(b, "a=ssrc-group:FID %lu %lu\r\n", (unsigned long)t->ssrc,
               (unsigned long)t->rtx_ssrc);
    uint32_t ssrcs[2] = {t->ssrc, t->rtx_ssrc};
    for (size_t i = 0; i < 2 && ssrcs[i] != 0; i++) {
        sb_add(b, "a=ssrc:%lu cname:%s\r\n", (unsigned long)ssrcs[i], t->peer_id);
        sb_add(b, "a=ssrc:%lu msid:%s %s\r\n", (unsigned long)ssrcs[i], t->peer_id, t->track_id);
    }
}

int prism_sdp_write_offer(const struct prism_sdp_local *local, const struct prism_sdp_track *tracks,
                          size_t n_tracks, char *out, size_t out_len, size_t *written)
{
    if (!local_ok(local) || tracks == NULL || n_tracks == 0 || n_tracks > PRISM_SDP_MAX_MEDIA ||
        out == NULL || out_len == 0)
        return PRISM_EINVAL;
    const char *bundle[PRISM_SDP_MAX_MEDIA];
    size_t n = 0;
    for (size_t i = 0; i < n_tracks; i++) {
        if (!track_ok(&tracks[i]) || !extmaps_agree(tracks, i))
            return PRISM_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (strcmp(tracks[k].mid, tracks[i].mid) == 0)
                return PRISM_EINVAL;
        if (tracks[i].state != PRISM_SDP_TRACK_REMOVED)
            bundle[n++] = tracks[i].mid;
    }
    if (n == 0)
        return PRISM_EINVAL;
    struct sb b = {out, out_len, 0, false};
    out[0] = '\0';
    write_session(&b, local, bundle, n, true);
    bool first = true;
    for (size_t i = 0; i < n_tracks; i++) {
        bool bundled = tracks[i].state != PRISM_SDP_TRACK_REMOVED;
        write_offer_media(&b, &tracks[i], local, first && bundled);
        first &= !bundled;
    }
    return sb_finish(&b, written);
}

void prism_sdp_track_placeholder(struct prism_sdp_track *t, const char *mid)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->mid, sizeof(t->mid), "%s", mid);
    t->kind = PRISM_SDP_KIND_AUDIO;
    t->state = PRISM_SDP_TRACK_INACTIVE;
    t->n_pts = 1;
    t->pts[0] = (struct prism_sdp_payload){.pt = 111,
                                           .name = "opus",
                                           .clock_hz = 48000,
                                           .channels = 2,
                                           .fmtp = "minptime=10;useinbandfec=1",
                                           .apt = -1};
}

/* ---- a client's answer (prism-bench) ------------------------------------ */

/* One m-section of a client's answer: the offer's codecs and extensions as
 * offered (the client takes what the relay forwards), recvonly for what the
 * relay sends, inactive otherwise; rejected sections keep kind and mid. */
static void write_client_answer_media(struct sb *b, const struct prism_sdp_media *m,
                                      const struct prism_sdp_local *l, bool first)
{
    bool av = m->kind == PRISM_SDP_KIND_AUDIO || m->kind == PRISM_SDP_KIND_VIDEO;
    if (!m->accepted || !av || m->n_pts == 0) {
        if (av && m->n_pts > 0)
            write_mline(b, kind_name(m->kind), true, m->pts, 1);
        else
            sb_add(b, "m=%s 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n", kind_name(m->kind));
        sb_add(b, "a=mid:%s\r\na=inactive\r\n", m->mid);
        return;
    }
    write_mline(b, kind_name(m->kind), false, m->pts, m->n_pts);
    write_transport(b, l, "active", first);
    sb_add(b, "a=mid:%s\r\n", m->mid);
    for (size_t i = 0; i < m->n_exts; i++)
        sb_add(b, "a=extmap:%u %s\r\n", m->exts[i].id, m->exts[i].uri);
    bool sends = m->dir == PRISM_SDP_DIR_SENDONLY || m->dir == PRISM_SDP_DIR_SENDRECV;
    sb_add(b, "a=%s\r\na=rtcp-mux\r\n", sends ? "recvonly" : "inactive");
    if (m->rtcp_rsize)
        sb_add(b, "a=rtcp-rsize\r\n");
    write_codecs(b, m->pts, m->n_pts);
}

int prism_sdp_write_client_answer(const struct prism_sdp_session *offer,
                                  const struct prism_sdp_local *local, char *out, size_t out_len,
                                  size_t *written)
{
    if (offer == NULL || out == NULL || out_len == 0 || !local_ok(local) || offer->n_media == 0 ||
        offer->n_media > PRISM_SDP_MAX_MEDIA)
        return PRISM_EINVAL;
    const char *bundle[PRISM_SDP_MAX_MEDIA];
    size_t n = 0;
    for (size_t i = 0; i < offer->n_media; i++)
        if (offer->media[i].accepted)
            bundle[n++] = offer->media[i].mid;
    if (n == 0)
        return PRISM_EINVAL;
    struct sb b = {out, out_len, 0, false};
    out[0] = '\0';
    write_session(&b, local, bundle, n, offer->extmap_allow_mixed);
    bool first = true;
    for (size_t i = 0; i < offer->n_media; i++) {
        write_client_answer_media(&b, &offer->media[i], local, first);
        first &= !offer->media[i].accepted;
    }
    return sb_finish(&b, written);
}
