/* Unit tests for relay/sdp: golden offers from Chromium, aiortc and
 * hand-written Firefox/Safari ones parse with the expected fields; the
 * relay's answers to them parse back; the subscribe offer writer reproduces
 * its golden and a captured Chromium answer to it parses; malformed inputs
 * are refused with their reason; the reduced copy a pending publish keeps
 * writes the same answer as the whole session. Goldens: tests/data/sdp
 * (README.md there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/wire/sdp.h"
#include "relay/wire/sdp_internal.h"

#ifndef PRISM_SDP_DATA
#define PRISM_SDP_DATA "tests/data/sdp"
#endif

#define BUF_BYTES (4u * 1024 * 1024)

static char *in_buf;                          /* a golden as read */
static char *mod_buf;                         /* a golden after an edit */
static char *out_buf;                         /* what a writer wrote */
static char *out2_buf;                        /* what a writer wrote from a reduced copy */
static struct prism_sdp_session *sess, *back; /* the last parse results, or NULL */
static char reason[PRISM_SDP_REASON_LEN];

static const char *relay_cands[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"};
static const struct prism_sdp_local relay_local = {
    .ice_ufrag = "PrSm",
    .ice_pwd = "relaypasswordrelaypassw0rd",
    .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                   "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
    .candidates = relay_cands,
    .n_candidates = 1,
    .end_of_candidates = true,
    .session_id = 4242,
    .session_version = 3,
};

static int setup(void **state)
{
    (void)state;
    in_buf = malloc(BUF_BYTES);
    mod_buf = malloc(BUF_BYTES);
    out_buf = malloc(BUF_BYTES);
    out2_buf = malloc(BUF_BYTES);
    return in_buf && mod_buf && out_buf && out2_buf ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(in_buf);
    free(mod_buf);
    free(out_buf);
    free(out2_buf);
    prism_sdp_session_free(sess);
    prism_sdp_session_free(back);
    return 0;
}

/* prism_sdp_parse_offer() into `*s`, freeing what it held. */
static int parse_offer(struct prism_sdp_session **s, const char *sdp, size_t len, char *why,
                       size_t why_len)
{
    prism_sdp_session_free(*s);
    int err = prism_sdp_parse_offer(sdp, len, s, why, why_len);
    if (err != 0)
        assert_null(*s);
    return err;
}

/* prism_sdp_parse_answer() into `*s`, freeing what it held. */
static int parse_answer(struct prism_sdp_session **s, const char *sdp, size_t len,
                        const struct prism_sdp_track *offered, size_t n_offered, char *why,
                        size_t why_len)
{
    prism_sdp_session_free(*s);
    int err = prism_sdp_parse_answer(sdp, len, offered, n_offered, s, why, why_len);
    if (err != 0)
        assert_null(*s);
    return err;
}

static size_t load(const char *name)
{
    char path[512];
    const char *dir = getenv("PRISM_SDP_DATA");
    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : PRISM_SDP_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    size_t n = fread(in_buf, 1, BUF_BYTES - 1, f);
    fclose(f);
    in_buf[n] = '\0';
    return n;
}

/* mod_buf = in_buf with every occurrence of `from` replaced by `to`. */
static size_t replace_all(size_t len, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), o = 0;
    for (size_t i = 0; i < len;) {
        if (i + fl <= len && memcmp(in_buf + i, from, fl) == 0) {
            memcpy(mod_buf + o, to, tl);
            o += tl;
            i += fl;
        } else {
            mod_buf[o++] = in_buf[i++];
        }
    }
    mod_buf[o] = '\0';
    return o;
}

/* mod_buf = in_buf without the lines starting with `prefix`. */
static size_t drop_lines(size_t len, const char *prefix)
{
    size_t pl = strlen(prefix), o = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(in_buf + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (in_buf + i)) + 1 : len - i;
        if (!(n >= pl && memcmp(in_buf + i, prefix, pl) == 0)) {
            memcpy(mod_buf + o, in_buf + i, n);
            o += n;
        }
        i += n;
    }
    mod_buf[o] = '\0';
    return o;
}

static void parse_ok(const char *name)
{
    size_t n = load(name);
    int err = parse_offer(&sess, in_buf, n, reason, sizeof(reason));
    if (err != 0)
        fail_msg("%s: %s", name, reason);
}

static void refused(const char *sdp, size_t len, const char *want)
{
    assert_int_equal(parse_offer(&sess, sdp, len, reason, sizeof(reason)), PRISM_EBADSDP);
    if (strstr(reason, want) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", reason, want);
}

static const struct prism_sdp_payload *pt_of(const struct prism_sdp_media *m, unsigned pt)
{
    static const struct prism_sdp_payload none = {.apt = -2};
    for (size_t i = 0; i < m->n_pts; i++)
        if (m->pts[i].pt == pt)
            return &m->pts[i];
    fail_msg("no payload type %u", pt);
    return &none; /* not reached; keeps -Wnull-dereference quiet */
}

static int ext_id(const struct prism_sdp_media *m, const char *uri)
{
    for (size_t i = 0; i < m->n_exts; i++)
        if (strcmp(m->exts[i].uri, uri) == 0)
            return m->exts[i].id;
    return -1;
}

/* Negotiate `sess`, write the answer into out_buf and parse it back into
 * `back`. The answer says setup:passive; parsed as a client answer it must
 * say active, so that one line is flipped for the check. */
static size_t answer_roundtrip(void)
{
    size_t n = 0;
    assert_int_equal(prism_sdp_negotiate(sess, reason, sizeof(reason)), 0);
    assert_int_equal(prism_sdp_write_answer(sess, &relay_local, out_buf, BUF_BYTES, &n), 0);
    assert_int_equal(strlen(out_buf), n);
    /* what a pending publish keeps writes the very same answer */
    struct prism_sdp_session *kept = NULL;
    size_t n2 = 0;
    assert_int_equal(prism_sdp_session_for_answer(sess, &kept), 0);
    assert_int_equal(kept->n_candidates, 0);
    assert_int_equal(prism_sdp_write_answer(kept, &relay_local, out2_buf, BUF_BYTES, &n2), 0);
    prism_sdp_session_free(kept);
    assert_int_equal(n2, n);
    assert_memory_equal(out2_buf, out_buf, n);
    assert_null(strstr(out_buf, "a=ice-lite"));
    assert_non_null(strstr(out_buf, "a=setup:passive\r\n"));
    assert_non_null(strstr(out_buf, "a=ice-ufrag:PrSm\r\n"));
    assert_non_null(strstr(out_buf, "a=fingerprint:sha-256 00:11:22"));
    assert_non_null(strstr(out_buf, "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"
                                    "a=end-of-candidates\r\n"));
    memcpy(in_buf, out_buf, n + 1);
    size_t m = replace_all(n, "a=setup:passive", "a=setup:active");
    int err = parse_answer(&back, mod_buf, m, NULL, 0, reason, sizeof(reason));
    if (err != 0)
        fail_msg("own answer: %s", reason);
    assert_int_equal(back->n_media, sess->n_media);
    assert_int_equal(back->setup, PRISM_SDP_SETUP_ACTIVE);
    assert_string_equal(back->ice_ufrag, "PrSm");
    assert_int_equal(back->n_candidates, 1);
    assert_true(back->end_of_candidates);
    for (size_t i = 0; i < sess->n_media; i++) {
        assert_string_equal(back->media[i].mid, sess->media[i].mid);
        assert_int_equal(back->media[i].accepted, sess->media[i].accepted);
        if (sess->media[i].accepted)
            assert_int_equal(back->media[i].dir, PRISM_SDP_DIR_RECVONLY);
    }
    return n;
}

/* ---- golden offers ----------------------------------------------------- */

static void test_chromium_av(void **state)
{
    (void)state;
    parse_ok("chromium-av-offer.sdp");
    assert_int_equal(sess->n_media, 2);
    assert_int_equal(sess->n_bundle, 2);
    assert_string_equal(sess->bundle[0], "0");
    assert_true(sess->extmap_allow_mixed);
    assert_string_equal(sess->ice_ufrag, "GF5U");
    assert_string_equal(sess->ice_pwd, "5FvKfmd1gf8II4a3tCAsIVTI");
    assert_string_equal(sess->fpr_hash, "sha-256");
    assert_memory_equal(sess->fpr_value, "A9:D6:4D:11", 11);
    assert_int_equal(sess->setup, PRISM_SDP_SETUP_ACTPASS);
    assert_int_equal(sess->n_candidates, 8);
    assert_memory_equal(sess->candidates[0], "candidate:1564528750 1 udp", 26);
    assert_false(sess->end_of_candidates);

    const struct prism_sdp_media *a = &sess->media[0], *v = &sess->media[1];
    assert_int_equal(a->kind, PRISM_SDP_KIND_AUDIO);
    assert_string_equal(a->mid, "0");
    assert_int_equal(a->dir, PRISM_SDP_DIR_SENDONLY);
    assert_int_equal(a->port, 39410);
    assert_true(a->rtcp_mux && a->accepted);
    assert_int_equal(a->n_pts, 8);
    const struct prism_sdp_payload *opus = pt_of(a, 111);
    assert_string_equal(opus->name, "opus");
    assert_int_equal(opus->clock_hz, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(opus->fb, PRISM_SDP_FB_TRANSPORT_CC);
    assert_int_equal(pt_of(a, 0)->clock_hz, 8000);
    assert_int_equal(ext_id(a, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), 1);
    assert_int_equal(ext_id(a, "urn:ietf:params:rtp-hdrext:sdes:mid"), 4);
    assert_int_equal(a->n_ssrcs, 1);
    assert_int_equal(a->ssrcs[0].ssrc, 1817671344u);
    assert_string_equal(a->ssrcs[0].cname, "9rhpTfkpfamFymyq");
    assert_string_equal(a->msid_stream, "cb2bf767-ca1a-47fc-9ebb-3ba200aa46f8");
    assert_string_equal(a->msid_track, "524e417d-4e71-4f6f-a17c-fa643da40b17");

    assert_int_equal(v->kind, PRISM_SDP_KIND_VIDEO);
    assert_int_equal(v->n_pts, 23);
    assert_int_equal(v->n_exts, 11);
    assert_int_equal(pt_of(v, 96)->fb, PRISM_SDP_FB_NACK | PRISM_SDP_FB_NACK_PLI |
                                           PRISM_SDP_FB_CCM_FIR | PRISM_SDP_FB_TRANSPORT_CC |
                                           PRISM_SDP_FB_GOOG_REMB);
    assert_int_equal(pt_of(v, 97)->apt, 96);
    assert_int_equal(pt_of(v, 96)->apt, -1);
    assert_string_equal(pt_of(v, 104)->fmtp,
                        "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f");
    assert_int_equal(v->n_groups, 1);
    assert_string_equal(v->groups[0].semantics, "FID");
    assert_int_equal(v->groups[0].ssrcs[0], 3139062738u);
    assert_int_equal(v->groups[0].ssrcs[1], 3295177167u);
    assert_int_equal(v->n_ssrcs, 2);

    answer_roundtrip();
    /* audio: Opus only; video: VP8, H264 pm=1 (3 profiles), AV1 profile 0, VP9
     * profile 0, their rtx, in the offer's order */
    assert_non_null(strstr(out_buf, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    assert_non_null(strstr(
        out_buf, "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 109 116 117 45 46 98 99\r\n"));
    assert_non_null(strstr(out_buf, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(out_buf, "a=recvonly\r\n"));
    assert_non_null(strstr(out_buf, "a=rtcp-mux\r\n"));
    assert_non_null(strstr(out_buf, "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;"
                                    "profile-level-id=42001f\r\n"));
    assert_non_null(strstr(out_buf, "a=rtcp-fb:96 nack pli\r\n"));
    assert_non_null(strstr(out_buf, "a=extmap:3 http://www.ietf.org/id/"
                                    "draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"));
    assert_non_null(strstr(out_buf, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"));
    assert_null(strstr(out_buf, "toffset"));
    /* AV1 is forwarded (layers chosen by its dependency descriptor, kept with its id) */
    assert_non_null(strstr(out_buf, "a=rtpmap:45 AV1/90000\r\n"));
    assert_non_null(strstr(out_buf, "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"));
    assert_null(strstr(out_buf, "a=rtpmap:104 "));
    assert_null(strstr(out_buf, "a=rtpmap:100 VP9"));
    assert_null(strstr(out_buf, "a=msid:"));
    assert_null(strstr(out_buf, "a=ssrc"));
    assert_int_equal(back->media[1].n_pts, 12);
}

/* A session costs about what its text does (the old fixed tables were
 * 680 KB), and what a pending publish keeps is smaller still. */
static void test_memory(void **state)
{
    (void)state;
    size_t n = load("chromium-av-offer.sdp");
    assert_int_equal(parse_offer(&sess, in_buf, n, reason, sizeof(reason)), 0);
    size_t parsed = prism__sdp_session_bytes(sess);
    assert_true(parsed < 2 * n + 4096);
    assert_int_equal(prism_sdp_negotiate(sess, reason, sizeof(reason)), 0);
    struct prism_sdp_session *kept = NULL;
    assert_int_equal(prism_sdp_session_for_answer(sess, &kept), 0);
    size_t reduced = prism__sdp_session_bytes(kept);
    print_message("chromium-av-offer.sdp: %zu bytes of text, session %zu bytes, kept %zu\n", n,
                  parsed, reduced);
    assert_true(reduced < 3 * 1024);
    assert_true(reduced < parsed / 3);
    prism_sdp_session_free(kept);
}

static void test_chromium_audio(void **state)
{
    (void)state;
    parse_ok("chromium-audio-offer.sdp");
    assert_int_equal(sess->n_media, 1);
    assert_int_equal(sess->media[0].kind, PRISM_SDP_KIND_AUDIO);
    answer_roundtrip();
    assert_non_null(strstr(out_buf, "a=group:BUNDLE 0\r\n"));
    assert_int_equal(back->media[0].n_pts, 1);
    assert_int_equal(back->media[0].pts[0].pt, 111);
}

/* Issue 8 item 5: with RED accepted, Chromium's red/48000/2 ("111/111")
 * stays in the answer, ahead of Opus (libwebrtc then sends RED); a red
 * naming a payload type the relay does not keep, or of another clock, does
 * not; without RED the answer is Opus alone, as before. */
static void test_chromium_red(void **state)
{
    (void)state;
    parse_ok("chromium-audio-offer.sdp");
    assert_int_equal(prism_sdp_negotiate_with(sess, PRISM_SDP_ACCEPT_RED, reason, sizeof(reason)),
                     0);
    const struct prism_sdp_media *a = &sess->media[0];
    assert_int_equal(a->n_pts, 2);
    assert_int_equal(a->pts[0].pt, 63);
    assert_string_equal(a->pts[0].name, "red");
    assert_string_equal(a->pts[0].fmtp, "111/111");
    assert_int_equal(a->pts[1].pt, 111);
    size_t n = 0;
    assert_int_equal(prism_sdp_write_answer(sess, &relay_local, out_buf, BUF_BYTES, &n), 0);
    assert_non_null(strstr(out_buf, "m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"));
    assert_non_null(strstr(out_buf, "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n"));

    static const char *const refused_fmtps[] = {"a=fmtp:63 111/0", "a=fmtp:63 111/", "a=fmtp:63 x",
                                                "a=fmtp:63 1111/111", "a=fmtp:63 63/63"};
    size_t len = load("chromium-audio-offer.sdp");
    for (size_t i = 0; i < sizeof(refused_fmtps) / sizeof(refused_fmtps[0]); i++) {
        size_t m = replace_all(len, "a=fmtp:63 111/111", refused_fmtps[i]);
        assert_int_equal(parse_offer(&sess, mod_buf, m, reason, sizeof(reason)), 0);
        assert_int_equal(
            prism_sdp_negotiate_with(sess, PRISM_SDP_ACCEPT_RED, reason, sizeof(reason)), 0);
        assert_int_equal(sess->media[0].n_pts, 1);
        assert_int_equal(sess->media[0].pts[0].pt, 111);
    }
    size_t m = replace_all(len, "a=rtpmap:63 red/48000/2", "a=rtpmap:63 red/8000");
    assert_int_equal(parse_offer(&sess, mod_buf, m, reason, sizeof(reason)), 0);
    assert_int_equal(prism_sdp_negotiate_with(sess, PRISM_SDP_ACCEPT_RED, reason, sizeof(reason)),
                     0);
    assert_int_equal(sess->media[0].n_pts, 1);
    /* without Opus there is nothing for red to carry */
    m = replace_all(len, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 foo/48000/2");
    assert_int_equal(parse_offer(&sess, mod_buf, m, reason, sizeof(reason)), 0);
    assert_int_equal(prism_sdp_negotiate_with(sess, PRISM_SDP_ACCEPT_RED, reason, sizeof(reason)),
                     PRISM_EBADSDP);
    /* the base set: Opus alone */
    parse_ok("chromium-audio-offer.sdp");
    assert_int_equal(prism_sdp_negotiate_with(sess, 0, reason, sizeof(reason)), 0);
    assert_int_equal(sess->media[0].n_pts, 1);
    assert_int_equal(sess->media[0].pts[0].pt, 111);
}

static void test_chromium_simulcast(void **state)
{
    (void)state;
    parse_ok("chromium-simulcast-offer.sdp");
    const struct prism_sdp_media *v = &sess->media[1];
    assert_int_equal(v->n_rids, 3);
    assert_string_equal(v->rids[0].id, "q");
    assert_true(v->rids[2].send);
    assert_string_equal(v->simulcast_send, "q;h;f");
    assert_string_equal(v->simulcast_recv, "");
    assert_int_equal(v->n_ssrcs, 0);
    answer_roundtrip();
    /* the AV1 dependency descriptor is kept under the offer's id */
    assert_non_null(strstr(out_buf, "a=extmap:12 https://aomediacodec.github.io/av1-rtp-spec/"
                                    "#dependency-descriptor-rtp-header-extension\r\n"));
    assert_non_null(strstr(out_buf, "a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\n"
                                    "a=simulcast:recv q;h;f\r\n"));
    assert_string_equal(back->media[1].simulcast_recv, "q;h;f");
    assert_int_equal(back->media[1].n_rids, 3);
}

/* SSRC simulcast as Chromium 156 writes it once its offer was munged
 * (a=ssrc-group:SIM of three SSRCs, an a=ssrc-group:FID per layer): the
 * layers low to high with their rtx partners; the answer has no rid or
 * simulcast line (nothing to negotiate: the layers are the publisher's
 * SSRCs). What is not SSRC simulcast gives no layers. */
static void test_chromium_sim_munged(void **state)
{
    (void)state;
    uint32_t ssrcs[3] = {0}, rtx[3] = {0};
    size_t n = load("chromium-sim-munged-offer.sdp");
    assert_int_equal(parse_offer(&sess, in_buf, n, reason, sizeof(reason)), 0);
    const struct prism_sdp_media *v = &sess->media[1];
    assert_int_equal(v->kind, PRISM_SDP_KIND_VIDEO);
    assert_int_equal(v->n_groups, 4);
    assert_int_equal(v->n_ssrcs, 6);
    assert_int_equal(v->n_rids, 0);
    const struct prism_sdp_ssrc_group *sim = prism_sdp_sim_group(v);
    assert_non_null(sim);
    assert_int_equal(sim->n_ssrcs, 3);
    assert_int_equal(prism_sdp_sim_layers(v, ssrcs, rtx, 3), 3);
    assert_int_equal(ssrcs[0], 425810576u);
    assert_int_equal(ssrcs[1], 3741215330u);
    assert_int_equal(ssrcs[2], 279722161u);
    assert_int_equal(rtx[0], 2639561708u);
    assert_int_equal(rtx[1], 3094383887u);
    assert_int_equal(rtx[2], 3979114572u);
    assert_int_equal(prism_sdp_fid_partner(v, 3741215330u), 3094383887u);
    assert_int_equal(prism_sdp_fid_partner(v, 3094383887u), 0); /* an rtx SSRC has none */
    /* a cap below the group keeps the lowest layers */
    memset(ssrcs, 0, sizeof(ssrcs));
    assert_int_equal(prism_sdp_sim_layers(v, ssrcs, rtx, 2), 2);
    assert_int_equal(ssrcs[1], 3741215330u);
    assert_int_equal(ssrcs[2], 0);
    /* audio has none */
    assert_int_equal(prism_sdp_sim_layers(&sess->media[0], ssrcs, rtx, 3), 0);
    answer_roundtrip();
    assert_null(strstr(out_buf, "a=rid:"));
    assert_null(strstr(out_buf, "a=simulcast"));
    assert_null(strstr(out_buf, "a=ssrc"));

    /* a layer without an FID group: no rtx for it */
    n = load("chromium-sim-munged-offer.sdp");
    n = drop_lines(n, "a=ssrc-group:FID 3741215330");
    assert_int_equal(parse_offer(&sess, mod_buf, n, reason, sizeof(reason)), 0);
    assert_int_equal(prism_sdp_sim_layers(&sess->media[1], ssrcs, rtx, 3), 3);
    assert_int_equal(rtx[0], 2639561708u);
    assert_int_equal(rtx[1], 0);
    /* a group that repeats an SSRC is no simulcast */
    n = load("chromium-sim-munged-offer.sdp");
    n = replace_all(n, "SIM 425810576 3741215330 279722161", "SIM 425810576 3741215330 425810576");
    assert_int_equal(parse_offer(&sess, mod_buf, n, reason, sizeof(reason)), 0);
    assert_int_equal(prism_sdp_sim_layers(&sess->media[1], ssrcs, rtx, 3), 0);
    /* nor one of a single SSRC */
    n = load("chromium-sim-munged-offer.sdp");
    n = replace_all(n, "SIM 425810576 3741215330 279722161", "SIM 425810576");
    assert_int_equal(parse_offer(&sess, mod_buf, n, reason, sizeof(reason)), 0);
    assert_int_equal(prism_sdp_sim_layers(&sess->media[1], ssrcs, rtx, 3), 0);
    /* rid simulcast and a single stream have no SSRC layers */
    parse_ok("chromium-simulcast-offer.sdp");
    assert_int_equal(prism_sdp_sim_layers(&sess->media[1], ssrcs, rtx, 3), 0);
    parse_ok("chromium-av-offer.sdp");
    assert_int_equal(prism_sdp_sim_layers(&sess->media[1], ssrcs, rtx, 3), 0);
    assert_null(prism_sdp_sim_group(&sess->media[1]));
}

static void test_chromium_datachannel(void **state)
{
    (void)state;
    parse_ok("chromium-datachannel-offer.sdp");
    assert_int_equal(sess->n_media, 3);
    assert_int_equal(sess->media[2].kind, PRISM_SDP_KIND_APPLICATION);
    assert_true(sess->media[2].accepted);
    answer_roundtrip();
    assert_false(sess->media[2].accepted);
    assert_non_null(strstr(out_buf, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert_non_null(strstr(out_buf, "a=group:BUNDLE 0 1\r\n"));
}

static void test_aiortc(void **state)
{
    (void)state;
    parse_ok("aiortc-av-offer.sdp");
    /* one ufrag per m-line: the BUNDLE-tagged (first) one counts */
    assert_string_equal(sess->ice_ufrag, "6dH0");
    assert_string_equal(sess->ice_pwd, "YB6KAAweKF0VMRgeRTbtPZ");
    assert_int_equal(sess->n_candidates, 1);
    assert_true(sess->end_of_candidates);
    assert_false(sess->extmap_allow_mixed);
    assert_int_equal(ext_id(&sess->media[1], "http://www.webrtc.org/experiments/rtp-hdrext/"
                                             "abs-send-time"),
                     3);
    assert_int_equal(sess->media[1].n_groups, 1);
    answer_roundtrip();
    assert_non_null(strstr(out_buf, "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102\r\n"));
    assert_null(strstr(out_buf, "a=extmap-allow-mixed"));
}

static void test_firefox(void **state)
{
    (void)state;
    parse_ok("firefox128-av-offer.sdp");
    assert_string_equal(sess->fpr_hash, "sha-256"); /* session level */
    assert_memory_equal(sess->fpr_value, "5B:0E:23", 8);
    assert_string_equal(sess->ice_ufrag, "7c1f4e2a");
    assert_int_equal(sess->n_candidates, 2);
    assert_true(sess->end_of_candidates);
    const struct prism_sdp_media *a = &sess->media[0], *v = &sess->media[1];
    assert_int_equal(ext_id(a, "urn:ietf:params:rtp-hdrext:csrc-audio-level"), 2); /* 2/recvonly */
    assert_string_equal(a->msid_stream, "{5f1c7a2e-3b9d-4e60-8a41-2c7d9e0f6b13}");
    assert_string_equal(pt_of(a, 109)->fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    assert_int_equal(pt_of(a, 9)->channels, 1);
    assert_int_equal(pt_of(v, 124)->apt, 120);
    assert_true(v->rtcp_rsize);
    answer_roundtrip();
    /* VP8, VP9 (no profile-id = 0), H264 pm=1 126/105, AV1 profile 0 and rtx;
     * not pm=0 97/103, red */
    assert_non_null(
        strstr(out_buf, "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 105 106 99 100\r\n"));
    assert_non_null(strstr(out_buf, "m=audio 9 UDP/TLS/RTP/SAVPF 109\r\n"));
    assert_null(strstr(out_buf, "csrc-audio-level"));
}

static void test_safari(void **state)
{
    (void)state;
    parse_ok("safari17-av-offer.sdp");
    assert_non_null(strstr(sess->candidates[0], ".local 61342 typ host")); /* mDNS */
    answer_roundtrip();
    /* H264 first, as offered */
    assert_non_null(strstr(out_buf, "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 127 125\r\n"));
    assert_non_null(strstr(out_buf, "a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;"
                                    "profile-level-id=640c1f\r\n"));
}

/* ---- the subscribe transport ------------------------------------------- */

/* The tracks that produced relay-subscribe-offer.sdp: alice's audio and video
 * and bob's video, which left (port 0). */
static void demo_tracks(struct prism_sdp_track t[3])
{
    memset(t, 0, 3 * sizeof(*t));
    uint8_t fb = PRISM_SDP_FB_NACK | PRISM_SDP_FB_NACK_PLI | PRISM_SDP_FB_CCM_FIR |
                 PRISM_SDP_FB_TRANSPORT_CC | PRISM_SDP_FB_GOOG_REMB;
    const char *twcc = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    snprintf(t[0].mid, sizeof(t[0].mid), "a0");
    t[0].kind = PRISM_SDP_KIND_AUDIO;
    t[0].state = PRISM_SDP_TRACK_SEND;
    snprintf(t[0].peer_id, sizeof(t[0].peer_id), "alice@acme:1");
    snprintf(t[0].track_id, sizeof(t[0].track_id), "mic-1");
    t[0].pts[0] = (struct prism_sdp_payload){.pt = 111,
                                             .name = "opus",
                                             .clock_hz = 48000,
                                             .channels = 2,
                                             .fmtp = "minptime=10;useinbandfec=1",
                                             .fb = PRISM_SDP_FB_TRANSPORT_CC,
                                             .apt = -1};
    t[0].n_pts = 1;
    t[0].exts[0] = (struct prism_sdp_extmap){1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"};
    t[0].exts[1] = (struct prism_sdp_extmap){3, twcc};
    t[0].exts[2] = (struct prism_sdp_extmap){4, "urn:ietf:params:rtp-hdrext:sdes:mid"};
    t[0].n_exts = 3;
    t[0].ssrc = 1001;
    snprintf(t[1].mid, sizeof(t[1].mid), "v1");
    t[1].kind = PRISM_SDP_KIND_VIDEO;
    t[1].state = PRISM_SDP_TRACK_SEND;
    snprintf(t[1].peer_id, sizeof(t[1].peer_id), "alice@acme:1");
    snprintf(t[1].track_id, sizeof(t[1].track_id), "cam-1");
    t[1].pts[0] = (struct prism_sdp_payload){
        .pt = 96, .name = "VP8", .clock_hz = 90000, .channels = 1, .fb = fb, .apt = -1};
    t[1].pts[1] = (struct prism_sdp_payload){
        .pt = 97, .name = "rtx", .clock_hz = 90000, .channels = 1, .fmtp = "apt=96", .apt = 96};
    t[1].n_pts = 2;
    t[1].exts[0] = (struct prism_sdp_extmap){3, twcc};
    t[1].exts[1] = (struct prism_sdp_extmap){4, "urn:ietf:params:rtp-hdrext:sdes:mid"};
    t[1].exts[2] =
        (struct prism_sdp_extmap){2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"};
    t[1].n_exts = 3;
    t[1].ssrc = 2002;
    t[1].rtx_ssrc = 2003;
    t[2] = t[1];
    snprintf(t[2].mid, sizeof(t[2].mid), "v2");
    snprintf(t[2].peer_id, sizeof(t[2].peer_id), "bob");
    t[2].state = PRISM_SDP_TRACK_REMOVED;
    t[2].ssrc = 3002;
    t[2].rtx_ssrc = 3003;
}

static void test_subscribe_offer(void **state)
{
    (void)state;
    struct prism_sdp_track t[3];
    demo_tracks(t);
    size_t n = 0;
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 3, out_buf, BUF_BYTES, &n), 0);
    size_t g = load("relay-subscribe-offer.sdp");
    assert_int_equal(n, g);
    assert_memory_equal(out_buf, in_buf, n); /* byte for byte the offer Chromium accepted */
    assert_non_null(strstr(out_buf, "o=- 4242 3 IN IP4 0.0.0.0\r\n"));
    assert_non_null(strstr(out_buf, "a=group:BUNDLE a0 v1\r\n"));
    assert_non_null(strstr(out_buf, "a=setup:actpass\r\n"));
    assert_non_null(strstr(out_buf, "a=msid:alice@acme:1 cam-1\r\n"));
    assert_non_null(strstr(out_buf, "a=ssrc-group:FID 2002 2003\r\n"));
    assert_non_null(strstr(out_buf, "a=ssrc:2003 msid:alice@acme:1 cam-1\r\n"));
    assert_non_null(strstr(out_buf, "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\n"));
    assert_null(strstr(out_buf, "a=ssrc:3002"));

    /* and it parses as an offer (the relay never parses its own, but peers do) */
    assert_int_equal(parse_offer(&sess, out_buf, n, reason, sizeof(reason)), 0);
    assert_int_equal(sess->n_media, 3);
    assert_false(sess->media[2].accepted);
    assert_string_equal(sess->media[1].msid_stream, "alice@acme:1");

    /* Chromium's answer to it */
    g = load("chromium-answer-to-relay-offer.sdp");
    int err = parse_answer(&back, in_buf, g, t, 3, reason, sizeof(reason));
    if (err != 0)
        fail_msg("chromium answer: %s", reason);
    assert_int_equal(back->setup, PRISM_SDP_SETUP_ACTIVE);
    assert_string_equal(back->ice_ufrag, "tVG7");
    assert_string_equal(back->fpr_hash, "sha-256");
    assert_int_equal(back->n_candidates, 8);
    assert_true(back->media[0].accepted && back->media[1].accepted);
    assert_false(back->media[2].accepted);
    assert_int_equal(back->media[1].dir, PRISM_SDP_DIR_RECVONLY);

    /* the same answer against an offer it does not match */
    t[2].state = PRISM_SDP_TRACK_SEND;
    assert_int_equal(parse_answer(&back, in_buf, g, t, 2, reason, sizeof(reason)), PRISM_EBADSDP);
    assert_non_null(strstr(reason, "answer has 3 m-lines, the offer had 2"));
    snprintf(t[1].mid, sizeof(t[1].mid), "zz");
    assert_int_equal(parse_answer(&back, in_buf, g, t, 3, reason, sizeof(reason)), PRISM_EBADSDP);
    assert_non_null(strstr(reason, "mid v1, the offer had zz"));
    /* setup:passive in an answer */
    size_t m = replace_all(g, "a=setup:active", "a=setup:passive");
    assert_int_equal(parse_answer(&back, mod_buf, m, NULL, 0, reason, sizeof(reason)),
                     PRISM_EBADSDP);
    assert_non_null(strstr(reason, "setup:passive"));
}

static void test_subscribe_empty(void **state)
{
    (void)state;
    struct prism_sdp_track t;
    prism_sdp_track_placeholder(&t, "0");
    struct prism_sdp_local l = relay_local;
    l.session_version = 1;
    size_t n = 0;
    assert_int_equal(prism_sdp_write_offer(&l, &t, 1, out_buf, BUF_BYTES, &n), 0);
    size_t g = load("relay-subscribe-empty-offer.sdp");
    assert_int_equal(n, g);
    assert_memory_equal(out_buf, in_buf, n);
    assert_non_null(strstr(out_buf, "a=group:BUNDLE 0\r\n"));
    assert_non_null(strstr(out_buf, "m=audio 9 "));
    assert_non_null(strstr(out_buf, "a=inactive\r\n"));
    g = load("chromium-answer-to-empty-offer.sdp");
    assert_int_equal(parse_answer(&back, in_buf, g, &t, 1, reason, sizeof(reason)), 0);
    assert_true(back->media[0].accepted);
    assert_int_equal(back->media[0].dir, PRISM_SDP_DIR_INACTIVE);
}

static void test_writer_refusals(void **state)
{
    (void)state;
    struct prism_sdp_track t[3];
    size_t n = 0;
    demo_tracks(t);
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 0, out_buf, BUF_BYTES, &n),
                     PRISM_EINVAL);
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 3, out_buf, 100, &n), PRISM_ENOMEM);
    t[0].state = t[1].state = PRISM_SDP_TRACK_REMOVED; /* nothing left to bundle */
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 3, out_buf, BUF_BYTES, &n),
                     PRISM_EINVAL);
    demo_tracks(t);
    snprintf(t[1].mid, sizeof(t[1].mid), "a0");
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 3, out_buf, BUF_BYTES, &n),
                     PRISM_EINVAL);
    demo_tracks(t);
    snprintf(t[0].track_id, sizeof(t[0].track_id), "a b");
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 3, out_buf, BUF_BYTES, &n),
                     PRISM_EINVAL);
    demo_tracks(t);
    struct prism_sdp_local l = relay_local;
    l.fingerprint = "sha-1 00:11";
    assert_int_equal(prism_sdp_write_offer(&l, t, 3, out_buf, BUF_BYTES, &n), PRISM_EINVAL);
    l = relay_local;
    const char *bad[] = {"candidate:1 1 udp 1 127.0.0.1 1 typ host\r\na=evil"};
    l.candidates = bad;
    assert_int_equal(prism_sdp_write_offer(&l, t, 3, out_buf, BUF_BYTES, &n), PRISM_EINVAL);

    parse_ok("chromium-datachannel-offer.sdp");
    for (size_t i = 0; i < sess->n_media; i++)
        sess->media[i].accepted = sess->media[i].kind == PRISM_SDP_KIND_APPLICATION;
    assert_int_equal(prism_sdp_negotiate(sess, reason, sizeof(reason)), PRISM_EBADSDP);
    assert_string_equal(reason, "no m-line with an acceptable codec to receive");
}

/* One field the parser would refuse in the written offer, by number; its
 * name, or NULL past the last. */
static const char *break_field(struct prism_sdp_track t[3], int i)
{
    switch (i) {
    case 0: snprintf(t[0].mid, sizeof(t[0].mid), "a/0"); return "a mid outside token-char";
    case 1: t[0].pts[0].name = "op(us)"; return "an encoding name outside token-char";
    case 2: t[0].pts[0].clock_hz = 1000001; return "a clock rate above 1,000,000";
    case 3: t[0].pts[0].channels = 9; return "more than 8 channels";
    case 4: t[1].pts[1].pt = 96; return "a repeated payload type";
    case 5: t[0].pts[0].fmtp = "minptime=10\x01"; return "a control character in a fmtp";
    case 6: t[0].pts[0].fmtp = "minptime=10\x7f"; return "DEL in a fmtp";
    case 7: t[0].pts[0].fmtp = "  \t "; return "a fmtp of blanks";
    case 8: t[1].pts[1].fmtp = "apt=9x"; return "a malformed apt";
    case 9: t[1].pts[1].fmtp = "apt=128"; return "an apt above 127";
    case 10: t[1].pts[1].fmtp = "apt=111"; return "a fmtp apt other than the payload's";
    case 11:
        t[1].pts[1].fmtp = "apt=100";
        t[1].pts[1].apt = 100;
        return "an apt naming no payload of the track";
    case 12:
        t[1].pts[1].fmtp = NULL;
        t[1].pts[1].apt = 100;
        return "an apt (no fmtp) naming no payload of the track";
    case 13: t[0].exts[0].id = 15; return "extmap id 15";
    case 14: t[0].exts[1].id = 1; return "a repeated extmap id";
    case 15: t[1].exts[0].id = 1; return "one extmap id, two URIs in the bundle";
    default: return NULL;
    }
}

/* Every field the parser would refuse in the written offer is refused by
 * the writer (issue 9: tests/fuzz/fuzz_sdp_offer.c no longer skips such
 * tracks); what the parser takes, the writer writes. */
static void test_writer_refuses_what_the_parser_refuses(void **state)
{
    (void)state;
    struct prism_sdp_track t[3];
    size_t n = 0;
    const char *what;
    demo_tracks(t);
    for (int i = 0; (what = break_field(t, i)) != NULL; i++, demo_tracks(t))
        if (prism_sdp_write_offer(&relay_local, t, 3, out_buf, BUF_BYTES, &n) != PRISM_EINVAL)
            fail_msg("written despite %s", what);
    /* Within the rules: a tab in a fmtp, a two-byte extmap id, an apt given
     * only by the payload, the same id and URI in two tracks (demo_tracks). */
    t[0].pts[0].fmtp = "minptime=10;\tuseinbandfec=1";
    t[0].exts[2].id = 16;
    t[1].pts[1].fmtp = NULL;
    assert_int_equal(prism_sdp_write_offer(&relay_local, t, 3, out_buf, BUF_BYTES, &n), 0);
    assert_int_equal(parse_offer(&sess, out_buf, n, reason, sizeof(reason)), 0);
    assert_int_equal(sess->media[1].pts[1].apt, 96);
    assert_int_equal(sess->media[0].exts[2].id, 16);
}

/* ---- refusals ---------------------------------------------------------- */

static void test_refusals(void **state)
{
    (void)state;
    size_t n = load("chromium-av-offer.sdp"), m;
    m = drop_lines(n, "a=group:BUNDLE");
    refused(mod_buf, m, "offer lacks a=group:BUNDLE");
    m = drop_lines(n, "a=rtcp-mux");
    refused(mod_buf, m, "m-line 0 lacks a=rtcp-mux");
    m = drop_lines(n, "a=fingerprint");
    refused(mod_buf, m, "no fingerprint");
    m = replace_all(
        n,
        "a=fingerprint:sha-256 A9:D6:4D:11:F5:85:11:9D:B5:3D:A3:C7:8C:F3:55:74:E9:B3:"
        "3E:9A:D0:AE:11:66:AF:C3:2D:B8:43:19:3F:14",
        "a=fingerprint:sha-1 A9:D6:4D:11:F5:85:11:9D:B5:3D:A3:C7:8C:F3:55:74:E9:B3:3E:9A");
    refused(mod_buf, m, "fingerprint hash sha-1 is not accepted");
    m = drop_lines(n, "a=ice-ufrag");
    refused(mod_buf, m, "no a=ice-ufrag");
    m = drop_lines(n, "a=ice-pwd");
    refused(mod_buf, m, "no a=ice-pwd");
    m = replace_all(n, "a=setup:actpass", "a=setup:passive");
    refused(mod_buf, m, "setup:passive is not allowed in an offer");
    m = drop_lines(n, "a=setup");
    refused(mod_buf, m, "no a=setup");
    m = replace_all(n, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
    refused(mod_buf, m, "m-line 1 (mid 1) is not in the BUNDLE group");
    m = replace_all(n, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 7");
    refused(mod_buf, m, "BUNDLE names mid 7");
    m = replace_all(n, "UDP/TLS/RTP/SAVPF", "RTP/AVP");
    refused(mod_buf, m, "only UDP/TLS/RTP/SAVPF is accepted");
    m = replace_all(n, "a=fmtp:97 apt=96", "a=fmtp:97 apt=95");
    refused(mod_buf, m, "apt=95, not in the m-line");
    m = replace_all(n, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8");
    refused(mod_buf, m, "malformed a=rtpmap");
    m = replace_all(n, "a=rtpmap:96 VP8/90000", "a=rtpmap:95 VP8/90000");
    refused(mod_buf, m, "a=rtpmap for payload type 95 not in the m-line");
    m = replace_all(n, "a=extmap:4 urn", "a=extmap:1 urn");
    refused(mod_buf, m, "duplicate a=extmap id 1");
    m = replace_all(n, "a=mid:1", "a=mid:0");
    refused(mod_buf, m, "duplicate mid");
    m = replace_all(n, "v=0\r\n", "v=1\r\n");
    refused(mod_buf, m, "SDP must start with v=0");

    /* truncated: mid-line, and a line cut short but still ended */
    refused(in_buf, n / 2, "does not end with a line break (truncated?)");
    m = replace_all(n,
                    "a=fingerprint:sha-256 A9:D6:4D:11:F5:85:11:9D:B5:3D:A3:C7:8C:F3:55:74:E9:B3:"
                    "3E:9A:D0:AE:11:66:AF:C3:2D:B8:43:19:3F:14",
                    "a=fingerprint:sha-256 A9:D6:4D:11:F5");
    refused(mod_buf, m, "fingerprint length does not match sha-256");
    refused(in_buf, 0, "empty SDP");

    /* NUL and control bytes */
    memcpy(mod_buf, in_buf, n);
    mod_buf[200] = '\0';
    refused(mod_buf, n, "control character or NUL byte");
    mod_buf[200] = '\x1b';
    refused(mod_buf, n, "control character or NUL byte");

    /* 2 MiB */
    memset(mod_buf, 'a', 2u * 1024 * 1024);
    refused(mod_buf, 2u * 1024 * 1024, "SDP larger than 65536 bytes");

    /* a very long line */
    size_t o = (size_t)snprintf(mod_buf, BUF_BYTES, "v=0\r\na=x:");
    memset(mod_buf + o, 'y', 2000);
    memcpy(mod_buf + o + 2000, "\r\n", 2);
    refused(mod_buf, o + 2002, "line 2 longer than 1024 bytes");

    /* a thousand m-lines */
    o = (size_t)snprintf(mod_buf, BUF_BYTES, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
    for (int i = 0; i < 1000; i++)
        o += (size_t)snprintf(mod_buf + o, BUF_BYTES - o,
                              "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
    assert_true(o < PRISM_SDP_MAX_BYTES);
    refused(mod_buf, o, "more than 64 m-lines");

    /* an m-line without a mid (edit twice: out of BUNDLE too) */
    n = load("chromium-av-offer.sdp");
    m = replace_all(n, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
    memcpy(in_buf, mod_buf, m + 1);
    m = drop_lines(m, "a=mid:1");
    refused(mod_buf, m, "m-line 1 lacks a=mid");
    n = load("chromium-av-offer.sdp");

    /* a reason buffer of 1 byte stays a valid empty string; NULL is fine */
    char tiny[1] = {'x'};
    m = drop_lines(n, "a=group:BUNDLE");
    assert_int_equal(parse_offer(&sess, mod_buf, m, tiny, sizeof(tiny)), PRISM_EBADSDP);
    assert_int_equal(tiny[0], '\0');
    assert_int_equal(parse_offer(&sess, mod_buf, m, NULL, 0), PRISM_EBADSDP);
    assert_int_equal(parse_offer(&sess, NULL, 0, NULL, 0), PRISM_EINVAL);
}

static void test_line_endings(void **state)
{
    (void)state;
    size_t n = load("chromium-av-offer.sdp");
    size_t m = replace_all(n, "\r\n", "\n");
    assert_int_equal(parse_offer(&sess, mod_buf, m, reason, sizeof(reason)), 0);
    assert_int_equal(sess->n_media, 2);
    assert_string_equal(sess->media[1].mid, "1");
    assert_string_equal(sess->ice_pwd, "5FvKfmd1gf8II4a3tCAsIVTI");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chromium_av),
        cmocka_unit_test(test_chromium_audio),
        cmocka_unit_test(test_chromium_red),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_chromium_simulcast),
        cmocka_unit_test(test_chromium_sim_munged),
        cmocka_unit_test(test_chromium_datachannel),
        cmocka_unit_test(test_aiortc),
        cmocka_unit_test(test_firefox),
        cmocka_unit_test(test_safari),
        cmocka_unit_test(test_subscribe_offer),
        cmocka_unit_test(test_writer_refuses_what_the_parser_refuses),
        cmocka_unit_test(test_subscribe_empty),
        cmocka_unit_test(test_writer_refusals),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_line_endings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
