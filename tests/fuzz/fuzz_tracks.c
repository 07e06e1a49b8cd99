/* Builds subscribe-offer tracks from fuzz input: see fuzz_tracks.h. Each
 * string is either drawn from a dictionary of what browsers send (so the
 * fuzzer reaches valid offers quickly) or copied raw from the input (any
 * byte, NULs cut it short), as the publisher's offer could carry it. */
#include "tests/fuzz/fuzz_tracks.h"

#include <stdbool.h>
#include <string.h>

static uint8_t byte(struct fuzz_in *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static uint32_t u32(struct fuzz_in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | byte(in);
    return v;
}

/* The pool the built tracks' borrowed strings live in. */
static char pool[FUZZ_MAX_TRACKS * (PRISM_SDP_MAX_TRACK_PT * 2 + PRISM_SDP_MAX_EXT) * 160];
static size_t pool_used;

/* Copies a string of the input into `dst` (`cap` bytes with its NUL): one
 * length byte, then the bytes; a length with the top bit clear maps each
 * byte to a token character, one with the top bit set copies raw bytes (a
 * NUL ends the string early). Length 0x7f fills `dst` to the brim. */
static void str_in(struct fuzz_in *in, char *dst, size_t cap)
{
    static const char token[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "-_.@:=;/+!#$%&'*^`{|}~";
    uint8_t l = byte(in);
    bool raw = (l & 0x80) != 0;
    size_t n = (l & 0x7f) == 0x7f ? cap - 1 : (size_t)(l & 0x7f);
    if (n > cap - 1)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = byte(in);
        dst[i] = raw ? (char)c : token[c % (sizeof(token) - 1)];
    }
    dst[n] = '\0';
}

/* A string from the pool: a dictionary entry or input bytes. */
static const char *pooled(struct fuzz_in *in, const char *const *dict, size_t n_dict, size_t cap)
{
    uint8_t pick = byte(in);
    if (pick < 0xc0 && n_dict > 0)
        return dict[pick % n_dict];
    if (pool_used + cap + 1 > sizeof(pool))
        return "";
    char *s = pool + pool_used;
    str_in(in, s, cap + 1); /* one over the writer's cap, to reach its checks */
    pool_used += strlen(s) + 1;
    return s;
}

static const char *const codecs[] = {"opus", "VP8", "VP9", "H264", "rtx", "red", "ulpfec", ""};
static const char *const fmtps[] = {"",
                                    "minptime=10;useinbandfec=1",
                                    "apt=96",
                                    "profile-id=0",
                                    "packetization-mode=1;profile-level-id=42e01f",
                                    "x-google-start-bitrate=800"};
static const char *const uris[] = {
    "urn:ietf:params:rtp-hdrext:sdes:mid",
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
};

#define DICT(a) a, sizeof(a) / sizeof(a[0])

void fuzz_tracks_build(struct fuzz_in *in, struct prism_sdp_track *t, size_t *n)
{
    pool_used = 0;
    *n = 1 + byte(in) % FUZZ_MAX_TRACKS;
    memset(t, 0, *n * sizeof(*t));
    for (size_t i = 0; i < *n; i++) {
        uint8_t b = byte(in);
        t[i].kind = (b & 1) ? PRISM_SDP_KIND_VIDEO : PRISM_SDP_KIND_AUDIO;
        if ((b & 0x0e) == 0x0e)
            t[i].kind = (enum prism_sdp_kind)(b >> 4); /* out of range too */
        t[i].state = (enum prism_sdp_track_state)((b >> 4) % 3);
        str_in(in, t[i].mid, sizeof(t[i].mid));
        str_in(in, t[i].peer_id, sizeof(t[i].peer_id));
        str_in(in, t[i].track_id, sizeof(t[i].track_id));
        t[i].n_pts = byte(in) % (PRISM_SDP_MAX_TRACK_PT + 1);
        for (size_t k = 0; k < t[i].n_pts; k++) {
            struct prism_sdp_payload *p = &t[i].pts[k];
            p->pt = byte(in);
            p->channels = byte(in) % 3;
            p->fb = byte(in);
            p->apt = (int16_t)(byte(in) % 130) - 1;
            uint8_t clk = byte(in);
            p->clock_hz = clk < 0x80 ? 48000 : clk < 0xf0 ? 90000 : u32(in);
            p->name = pooled(in, DICT(codecs), PRISM_SDP_CODEC_LEN);
            p->fmtp = pooled(in, DICT(fmtps), PRISM_SDP_FMTP_LEN);
        }
        t[i].n_exts = byte(in) % 5;
        for (size_t k = 0; k < t[i].n_exts; k++) {
            t[i].exts[k].id = byte(in);
            t[i].exts[k].uri = pooled(in, DICT(uris), PRISM_SDP_URI_LEN);
        }
        t[i].ssrc = u32(in);
        uint8_t r = byte(in);
        t[i].rtx_ssrc = r < 0x80 ? 0 : r < 0xf0 ? t[i].ssrc + 1 : u32(in);
    }
}

const struct prism_sdp_local *fuzz_tracks_local(void)
{
    static const char *const cands[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"};
    static const struct prism_sdp_local local = {
        .ice_ufrag = "fuzz",
        .ice_pwd = "0123456789abcdefghijkl",
        .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
        .candidates = cands,
        .n_candidates = 1,
        .end_of_candidates = true,
        .session_id = 1,
        .session_version = 2,
    };
    return &local;
}
