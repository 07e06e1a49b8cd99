/* libFuzzer target for the downstream offer writer (prism_sdp_write_offer)
 * fed hostile publisher fields: tracks whose peer and track ids, codec
 * names, fmtp, extmap URIs and ssrcs come from the input (fuzz_tracks.c).
 * Tracks that break what the parser, negotiation and media.c guarantee of
 * the fields they pass on (relay_shaped(), extmaps_shaped()) are skipped:
 * the writer relies on those and does not check them. Invariant: the writer
 * refuses the tracks (PRISM_EINVAL) or writes an offer that the relay's own
 * parser accepts with the same m-sections, mids, msids and ssrcs (no field
 * can smuggle a line in); the client answer prism-bench writes to it is
 * accepted by prism_sdp_parse_answer() against those tracks, with every
 * removed track rejected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay/base/error.h"
#include "relay/wire/sdp.h"
#include "tests/fuzz/fuzz_tracks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char offer[PRISM_SDP_MAX_BYTES];
static char answer[PRISM_SDP_MAX_BYTES];

/* A decimal of up to 3 digits (0..127 is an apt), else -2: never -1. */
static int atoi_bounded(const char *s)
{
    int v = 0, n = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 4)
        v = v * 10 + (s[n++] - '0');
    return n == 0 || n > 3 || v > 127 || (s[n] != '\0' && s[n] != ';') ? -2 : v;
}

static void must(int cond, const char *what, const char *reason)
{
    if (!cond) {
        fprintf(stderr, "fuzz_sdp_offer: %s%s%s\n", what, reason ? ": " : "", reason ? reason : "");
        abort();
    }
}

static bool has_ssrc(const struct prism_sdp_media *m, uint32_t ssrc)
{
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (m->ssrcs[i].ssrc == ssrc)
            return true;
    return false;
}

static void check_media(const struct prism_sdp_track *t, const struct prism_sdp_media *m)
{
    must(strcmp(m->mid, t->mid) == 0, "the mid changed", t->mid);
    must(m->kind == t->kind, "the kind changed", NULL);
    must(m->accepted == (t->state != PRISM_SDP_TRACK_REMOVED),
         "removed tracks, and only they, "
         "have port 0",
         NULL);
    if (t->state != PRISM_SDP_TRACK_SEND) {
        must(m->n_ssrcs == 0, "a track that does not send has ssrcs", NULL);
        return;
    }
    must(m->dir == PRISM_SDP_DIR_SENDONLY, "a sending track is not sendonly", NULL);
    must(strcmp(m->msid_stream, t->peer_id) == 0 && strcmp(m->msid_track, t->track_id) == 0,
         "the msid changed", NULL);
    must(has_ssrc(m, t->ssrc), "the ssrc is missing", NULL);
    must(t->rtx_ssrc == 0 || has_ssrc(m, t->rtx_ssrc), "the rtx ssrc is missing", NULL);
}

/* The apt of an "apt=<n>" among `fmtp`'s ';'-separated parameters, as the
 * parser reads it, or -1. */
static int fmtp_apt(const char *fmtp)
{
    for (const char *q = fmtp; q != NULL && *q != '\0';
         q = strchr(q, ';') ? strchr(q, ';') + 1 : NULL) {
        while (*q == ' ')
            q++;
        if (strncmp(q, "apt=", 4) == 0)
            return atoi_bounded(q + 4);
    }
    return -1;
}

/* What prism_sdp_negotiate() guarantees of every track the relay builds
 * (relay/control/media.c copies negotiated payloads): an rtx payload, and
 * only it, has an apt, naming a non-rtx payload of the same track, and the
 * fmtp says the same apt; no payload type appears twice; each clock rate
 * and encoding name passed the parser's a=rtpmap rules and no fmtp holds a
 * control character or only blanks; the mids (media.c's own) are tokens. The writer relies on these
 * and does not check them; other fields stay as hostile as the input makes them. */
static bool relay_shaped(const struct prism_sdp_track *t)
{
    /* media.c assigns the mids itself ("a0", "v1", ...): tokens. */
    if (strpbrk(t->mid, "\"(),/[]\\") != NULL)
        return false;
    for (size_t i = 0; i < t->n_pts && i < PRISM_SDP_MAX_TRACK_PT; i++) {
        const struct prism_sdp_payload *p = &t->pts[i];
        bool rtx = p->name != NULL && strcasecmp(p->name, "rtx") == 0;
        if (fmtp_apt(p->fmtp) != p->apt || (p->apt >= 0) != rtx)
            return false;
        /* The parser refuses a line with a control character (but a tab). */
        for (const char *c = p->fmtp != NULL ? p->fmtp : ""; *c != '\0'; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return false;
        if (p->fmtp != NULL && p->fmtp[0] != '\0' && p->fmtp[strspn(p->fmtp, " \t")] == '\0')
            return false; /* an a=fmtp of blanks is malformed */
        /* The parser's a=rtpmap rules: clock rate 1..1000000, a token name. */
        if (p->clock_hz == 0 || p->clock_hz > 1000000 ||
            (p->name != NULL && strpbrk(p->name, "\"(),/[]\\") != NULL))
            return false;
        for (size_t k = 0; k < i; k++)
            if (t->pts[k].pt == p->pt)
                return false; /* the parser refuses a repeated payload type */
        bool found = !rtx;
        for (size_t k = 0; k < t->n_pts && !found; k++)
            found = t->pts[k].pt == p->apt && t->pts[k].apt < 0;
        if (!found)
            return false;
    }
    return true;
}

/* What media.c guarantees of the extmaps it passes (from a parsed offer,
 * which refuses a repeated id, then skipping any that clashes with another
 * track's): an id means one URI in the whole offer, and is never 15. */
static bool extmaps_shaped(const struct prism_sdp_track *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t e = 0; e < t[i].n_exts && e < PRISM_SDP_MAX_EXT; e++) {
            if (t[i].exts[e].id == 15)
                return false; /* reserved (RFC 8285): the parser refuses it */
            for (size_t j = 0; j <= i; j++)
                for (size_t f = 0; f < (j == i ? e : t[j].n_exts); f++)
                    if (t[j].exts[f].id == t[i].exts[e].id &&
                        (j == i || strcmp(t[j].exts[f].uri, t[i].exts[e].uri) != 0))
                        return false;
        }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct prism_sdp_track tracks[FUZZ_MAX_TRACKS];
    size_t n_tracks = 0, n = 0;
    fuzz_tracks_build(&in, tracks, &n_tracks);
    for (size_t i = 0; i < n_tracks; i++)
        if (!relay_shaped(&tracks[i]))
            return 0;
    if (!extmaps_shaped(tracks, n_tracks))
        return 0;
    const struct prism_sdp_local *local = fuzz_tracks_local();
    int err = prism_sdp_write_offer(local, tracks, n_tracks, offer, sizeof(offer), &n);
    must(err == 0 || err == PRISM_EINVAL, "write offer: unexpected code", NULL);
    if (err != 0)
        return 0;
    must(n < sizeof(offer) && offer[n] == '\0', "write offer: length", NULL);
    char reason[PRISM_SDP_REASON_LEN] = "";
    struct prism_sdp_session *parsed = NULL;
    err = prism_sdp_parse_offer(offer, n, &parsed, reason, sizeof(reason));
    if (err != 0)
        fprintf(stderr, "%s", offer);
    must(err == 0, "our own offer does not parse", reason);
    must(parsed->n_media == n_tracks, "the m-sections changed", NULL);
    for (size_t i = 0; i < n_tracks; i++)
        check_media(&tracks[i], &parsed->media[i]);
    size_t a = 0;
    err = prism_sdp_write_client_answer(parsed, local, answer, sizeof(answer), &a);
    must(err == 0, "the client answer to our offer cannot be written", NULL);
    prism_sdp_session_free(parsed);
    struct prism_sdp_session *back = NULL;
    err = prism_sdp_parse_answer(answer, a, tracks, n_tracks, &back, reason, sizeof(reason));
    if (err != 0)
        fprintf(stderr, "%s", answer);
    must(err == 0, "the client answer to our offer is refused", reason);
    for (size_t i = 0; i < n_tracks; i++)
        must(!back->media[i].accepted || tracks[i].state != PRISM_SDP_TRACK_REMOVED,
             "a removed track is accepted", NULL);
    prism_sdp_session_free(back);
    return 0;
}
