/* libFuzzer target for relay/sdp: the offer and answer parsers, then the
 * negotiation and answer writer on whatever parses. Invariant checked: a
 * parse either fails with PRISM_EBADSDP and a reason, or yields a session
 * whose answer can be written and parsed back as an answer (with its
 * setup flipped, see flip_setup()), and the reduced copy a pending publish
 * keeps (prism_sdp_session_for_answer()) writes the same answer; the same
 * with RED accepted (prism_sdp_negotiate_with()), where an audio m-line's
 * red precedes the Opus its fmtp names. Every session is freed (ASan builds
 * check for leaks). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay/base/error.h"
#include "relay/wire/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char answer[PRISM_SDP_MAX_BYTES];
static char answer2[PRISM_SDP_MAX_BYTES];
static char flipped[PRISM_SDP_MAX_BYTES];

/* The relay's answer says setup:passive; checked as a client answer (which
 * must say active), every such line is flipped. Returns the new length. */
static size_t flip_setup(const char *in, size_t len)
{
    static const char from[] = "a=setup:passive", to[] = "a=setup:active";
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (i + sizeof(from) - 1 <= len && memcmp(in + i, from, sizeof(from) - 1) == 0) {
            memcpy(flipped + o, to, sizeof(to) - 1);
            o += sizeof(to) - 1;
            i += sizeof(from) - 1;
        } else {
            flipped[o++] = in[i++];
        }
    }
    return o;
}

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_sdp: %s\n", what);
        abort();
    }
}

static void check_answer(struct prism_sdp_session *offer)
{
    char reason[PRISM_SDP_REASON_LEN];
    const char *cands[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"};
    struct prism_sdp_local local = {
        .ice_ufrag = "fuzz",
        .ice_pwd = "0123456789abcdefghijkl",
        .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
        .candidates = cands,
        .n_candidates = 1,
        .end_of_candidates = true,
        .session_id = 1,
        .session_version = 1,
    };
    size_t n = 0, n2 = 0;
    must(prism_sdp_write_answer(offer, &local, answer, sizeof(answer), &n) == 0, "write answer");
    struct prism_sdp_session *kept = NULL;
    must(prism_sdp_session_for_answer(offer, &kept) == 0, "reduced copy");
    must(prism_sdp_write_answer(kept, &local, answer2, sizeof(answer2), &n2) == 0,
         "write answer from the reduced copy");
    prism_sdp_session_free(kept);
    must(n2 == n && memcmp(answer, answer2, n) == 0, "the reduced copy writes the same answer");
    struct prism_sdp_session *back = NULL;
    int err = prism_sdp_parse_answer(flipped, flip_setup(answer, n), NULL, 0, &back, reason,
                                     sizeof(reason));
    if (err != 0)
        fprintf(stderr, "fuzz_sdp: own answer refused: %s\n", reason);
    must(err == 0, "own answer parses");
    must(back->n_media == offer->n_media, "own answer keeps the m-lines");
    prism_sdp_session_free(back);
}

/* A kept red is audio and precedes every codec it names (all kept Opus). */
static void check_red(const struct prism_sdp_media *m)
{
    bool seen_other = false;
    for (size_t p = 0; m->accepted && p < m->n_pts; p++) {
        bool red = strcasecmp(m->pts[p].name, "red") == 0;
        must(!red || (m->kind == PRISM_SDP_KIND_AUDIO && !seen_other), "red first, audio only");
        seen_other = seen_other || !red;
        if (!red)
            continue;
        for (const char *q = m->pts[p].fmtp; *q != '\0'; q += *q == '/') {
            unsigned pt = (unsigned)strtoul(q, (char **)&q, 10);
            bool opus = false;
            for (size_t k = 0; k < m->n_pts; k++)
                opus = opus || (m->pts[k].pt == pt && strcasecmp(m->pts[k].name, "opus") == 0);
            must(opus, "red names kept Opus only");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reason[PRISM_SDP_REASON_LEN];
    const char *sdp = (const char *)data;
    struct prism_sdp_session *back = NULL, *offer = NULL;
    int err = prism_sdp_parse_answer(sdp, size, NULL, 0, &back, reason, sizeof(reason));
    must(err == 0 || (err == PRISM_EBADSDP && reason[0] != '\0'), "answer parse: no reason");
    must((err == 0) == (back != NULL), "answer parse: a session exactly on success");
    prism_sdp_session_free(back);
    err = prism_sdp_parse_offer(sdp, size, &offer, reason, sizeof(reason));
    must(err == 0 || (err == PRISM_EBADSDP && reason[0] != '\0'), "offer parse: no reason");
    must((err == 0) == (offer != NULL), "offer parse: a session exactly on success");
    if (err == 0 && prism_sdp_negotiate(offer, reason, sizeof(reason)) == 0)
        check_answer(offer);
    prism_sdp_session_free(offer);
    offer = NULL;
    if (err == 0 && prism_sdp_parse_offer(sdp, size, &offer, reason, sizeof(reason)) == 0 &&
        prism_sdp_negotiate_with(offer, PRISM_SDP_ACCEPT_RED, reason, sizeof(reason)) == 0) {
        check_answer(offer);
        for (size_t i = 0; i < offer->n_media; i++)
            check_red(&offer->media[i]);
    }
    prism_sdp_session_free(offer);
    return 0;
}
