/* SDP for the relay's two transports: parse, negotiate, write.
 *
 * Owns: reading a client's Unified Plan offer for the publish transport and
 * its answer for the subscribe transport, the relay's answer to the former and
 * the relay's offer for the latter. Pure: no I/O, no globals; every function
 * may run on any thread, and the control thread is the one that calls them.
 * Everything is bounded: the input is capped at PRISM_SDP_MAX_BYTES, each line
 * at PRISM_SDP_MAX_LINE, each table below at its PRISM_SDP_MAX_* and each
 * string at its PRISM_SDP_*_LEN (an input beyond a cap is refused with a
 * reason, never truncated, except where a field says otherwise).
 *
 * Memory: a parsed session is sized by what its input holds, not by the caps.
 * The parsers allocate it (one arena, a few KiB for a browser's offer: the
 * session, its m-sections, their tables and every string live in it) and
 * prism_sdp_session_free() releases it at once; the pointers inside a session
 * stay valid until then. The writers allocate nothing.
 *
 * Invariants of a parsed session (prism_sdp_parse_offer/_answer return 0):
 * every string is non-NULL, NUL-terminated and shorter than its *_LEN cap
 * ("" when absent); every table holds exactly its n_* entries; n_* <= its cap; the
 * BUNDLE group is present and names only m-sections of the session; every
 * accepted RTP m-section has a mid, rtcp-mux and is in the BUNDLE group; the
 * transport attributes (ICE credentials, fingerprint, setup, candidates) are
 * those of the first mid in the BUNDLE group (media level, else session level).
 *
 * RFCs: RFC 8866 (SDP), RFC 8829 (JSEP), RFC 8843 (BUNDLE), RFC 5761 and
 * RFC 8858 (rtcp-mux), RFC 8122 (fingerprint), RFC 4145/5763 (setup),
 * RFC 8285 (extmap), RFC 8851/8853 (rid, simulcast), RFC 8830 (msid),
 * RFC 8839 (ICE attributes), RFC 4588 (rtx), RFC 5576 (ssrc, ssrc-group).
 */
#ifndef PRISM_RELAY_SDP_H
#define PRISM_RELAY_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_SDP_MAX_BYTES (64 * 1024) /* input size cap */
#define PRISM_SDP_MAX_LINE 1024         /* bytes per line, without the line break */
#define PRISM_SDP_MAX_MEDIA 64          /* m-sections per session */
#define PRISM_SDP_MAX_PT 32             /* payload types per m-section */
#define PRISM_SDP_MAX_EXT 16            /* a=extmap per m-section */
#define PRISM_SDP_MAX_SSRC 8            /* a=ssrc ids per m-section */
#define PRISM_SDP_MAX_SSRC_GROUP 4      /* a=ssrc-group per m-section */
#define PRISM_SDP_MAX_GROUP_SSRC 4      /* ssrcs per a=ssrc-group */
#define PRISM_SDP_MAX_RID 8             /* a=rid per m-section */
#define PRISM_SDP_MAX_CAND 16           /* candidates kept (the BUNDLE transport's) */
#define PRISM_SDP_MAX_TRACK_PT 8        /* payload types per forwarded track */

#define PRISM_SDP_TOKEN_LEN 65   /* mid, rid, cname, msid ids: 64 chars + NUL */
#define PRISM_SDP_ICE_LEN 257    /* ice-ufrag / ice-pwd: 256 chars + NUL (RFC 8839) */
#define PRISM_SDP_FPR_LEN 192    /* sha-512: 64 hex pairs with colons + NUL */
#define PRISM_SDP_CODEC_LEN 32   /* encoding name */
#define PRISM_SDP_FMTP_LEN 160   /* fmtp parameters */
#define PRISM_SDP_URI_LEN 128    /* extmap URI */
#define PRISM_SDP_CAND_LEN 256   /* "candidate:..." */
#define PRISM_SDP_SIM_LEN 128    /* simulcast stream list */
#define PRISM_SDP_REASON_LEN 128 /* a reason buffer this big never truncates */

enum prism_sdp_kind {
    PRISM_SDP_KIND_AUDIO,
    PRISM_SDP_KIND_VIDEO,
    PRISM_SDP_KIND_APPLICATION,
    PRISM_SDP_KIND_OTHER, /* any other m= media: always rejected */
};

enum prism_sdp_dir {
    PRISM_SDP_DIR_SENDRECV, /* also the default when no direction attribute */
    PRISM_SDP_DIR_SENDONLY,
    PRISM_SDP_DIR_RECVONLY,
    PRISM_SDP_DIR_INACTIVE,
};

enum prism_sdp_setup {
    PRISM_SDP_SETUP_NONE,
    PRISM_SDP_SETUP_ACTPASS,
    PRISM_SDP_SETUP_ACTIVE,
    PRISM_SDP_SETUP_PASSIVE,
};

/* rtcp-fb types the relay understands; any other type is dropped at parse. */
enum prism_sdp_fb {
    PRISM_SDP_FB_NACK = 1 << 0,         /* nack */
    PRISM_SDP_FB_NACK_PLI = 1 << 1,     /* nack pli */
    PRISM_SDP_FB_CCM_FIR = 1 << 2,      /* ccm fir */
    PRISM_SDP_FB_TRANSPORT_CC = 1 << 3, /* transport-cc */
    PRISM_SDP_FB_GOOG_REMB = 1 << 4,    /* goog-remb */
};

/* In a writer's input (struct prism_sdp_track), a NULL string is "". */
struct prism_sdp_payload {
    uint8_t pt;         /* 0..127 */
    uint8_t channels;   /* from a=rtpmap, 1 when not given */
    uint8_t fb;         /* enum prism_sdp_fb bits */
    bool fmtp_overflow; /* fmtp of PRISM_SDP_FMTP_LEN bytes or more: dropped, never accepted */
    int16_t apt;        /* rtx: associated payload type, -1 when not rtx */
    uint32_t clock_hz;  /* from a=rtpmap, 0 when absent */
    const char *name;   /* from a=rtpmap, "" when absent; < PRISM_SDP_CODEC_LEN bytes */
    const char *fmtp;   /* a=fmtp parameters, "" when absent; < PRISM_SDP_FMTP_LEN bytes */
};

struct prism_sdp_extmap {
    uint16_t id;     /* 1..14 one-byte, up to 255 two-byte */
    const char *uri; /* < PRISM_SDP_URI_LEN bytes */
};

struct prism_sdp_ssrc {
    uint32_t ssrc;
    const char *cname; /* a=ssrc:<id> cname:, "" when absent */
};

struct prism_sdp_ssrc_group {
    char semantics[8]; /* "FID", "SIM", "FEC-FR" */
    uint32_t ssrcs[PRISM_SDP_MAX_GROUP_SSRC];
    size_t n_ssrcs;
};

struct prism_sdp_rid {
    const char *id;
    bool send; /* "send" (else "recv") */
};

struct prism_sdp_media {
    enum prism_sdp_kind kind;
    uint16_t port;    /* 0 = rejected (unless bundle_only) */
    bool bundle_only; /* a=bundle-only */
    bool accepted;    /* parse: port != 0 or bundle_only; negotiate refines */
    const char *mid;  /* "" only while parsing */
    enum prism_sdp_dir dir;
    bool rtcp_mux;
    bool rtcp_rsize;
    struct prism_sdp_payload *pts; /* n_pts, in m-line order */
    size_t n_pts;
    struct prism_sdp_extmap *exts; /* n_exts */
    size_t n_exts;
    struct prism_sdp_ssrc *ssrcs; /* n_ssrcs */
    size_t n_ssrcs;
    struct prism_sdp_ssrc_group *groups; /* n_groups */
    size_t n_groups;
    const char *msid_stream; /* a=msid, "" when absent ("-" kept as is) */
    const char *msid_track;
    struct prism_sdp_rid *rids; /* n_rids */
    size_t n_rids;
    const char *simulcast_send; /* a=simulcast: the send list, "" when absent */
    const char *simulcast_recv; /* a=simulcast: the recv list, "" when absent */
};

struct prism_sdp_arena; /* private to relay/wire/sdp_mem.c */

struct prism_sdp_session {
    uint64_t origin_id;      /* o= sess-id */
    uint64_t origin_version; /* o= sess-version */
    const char **bundle;     /* n_bundle a=group:BUNDLE mids */
    size_t n_bundle;
    bool extmap_allow_mixed;
    /* The BUNDLE transport (first mid of the group), media level else session level. */
    const char *ice_ufrag;
    const char *ice_pwd;
    char fpr_hash[8];      /* "sha-256", "sha-384", "sha-512" (lower case) */
    const char *fpr_value; /* "AB:CD:..." upper case */
    enum prism_sdp_setup setup;
    char (*candidates)[PRISM_SDP_CAND_LEN]; /* n_candidates "candidate:..." */
    size_t n_candidates;
    size_t n_candidates_dropped; /* beyond PRISM_SDP_MAX_CAND, counted not kept */
    bool end_of_candidates;
    struct prism_sdp_media *media; /* n_media */
    size_t n_media;
    struct prism_sdp_arena *arena; /* owns this session and all it points to */
};

/* The relay's side of a transport, for the writers. All strings are borrowed
 * for the call and must be NUL-terminated. */
struct prism_sdp_local {
    const char *ice_ufrag;         /* 4..256 ice-chars */
    const char *ice_pwd;           /* 22..256 ice-chars */
    const char *fingerprint;       /* "sha-256 AB:CD:..." (sha-256/384/512) */
    const char *const *candidates; /* each "candidate:..." (candidate.h rules, no "a=") */
    size_t n_candidates;
    bool end_of_candidates;   /* write a=end-of-candidates */
    bool ice_lite;            /* write a=ice-lite (RFC 8839 §5.3): the relay only answers
                                 checks, so the client is the controlling agent */
    uint64_t session_id;      /* o= sess-id: stable for the transport */
    uint64_t session_version; /* o= sess-version; the revision for offers */
};

/* A forwarded track (one m-section) of the subscribe transport. */
enum prism_sdp_track_state {
    PRISM_SDP_TRACK_SEND,     /* sendonly, msid + ssrc lines, in BUNDLE */
    PRISM_SDP_TRACK_INACTIVE, /* port 9, a=inactive, in BUNDLE, no ssrc: a placeholder */
    PRISM_SDP_TRACK_REMOVED,  /* the track left: port 0, a=inactive, out of BUNDLE */
};

/* A writer's input, filled by the caller for one call: the strings its
 * payloads and extmaps point to are borrowed. */
struct prism_sdp_track {
    char mid[PRISM_SDP_TOKEN_LEN]; /* assigned by the caller, unique in the offer */
    enum prism_sdp_kind kind;      /* audio or video */
    enum prism_sdp_track_state state;
    char peer_id[PRISM_SDP_TOKEN_LEN];  /* publisher peer id: msid stream id and cname */
    char track_id[PRISM_SDP_TOKEN_LEN]; /* publisher's track id: msid track id */
    struct prism_sdp_payload pts[PRISM_SDP_MAX_TRACK_PT]; /* rtx entries: name "rtx", apt */
    size_t n_pts;
    struct prism_sdp_extmap exts[PRISM_SDP_MAX_EXT];
    size_t n_exts;
    uint32_t ssrc;     /* the relay's SSRC toward this subscriber */
    uint32_t rtx_ssrc; /* 0 = no rtx */
};

/* Parse a client's offer for the publish transport.
 *
 * `sdp` holds `len` bytes (not NUL-terminated; lines end in CRLF or LF, the
 * last one too). On success sets `*out` to a new session (the caller frees it
 * with prism_sdp_session_free(); it does not point into `sdp`) and returns 0.
 * On error `*out` is NULL (what it held before is not freed). PRISM_EBADSDP:
 * `reason` (if not NULL) holds a NUL-terminated human reason, e.g. "offer
 * lacks a=group:BUNDLE". PRISM_EINVAL: `sdp` or `out` is NULL. PRISM_ENOMEM.
 * Refused besides malformed lines: no BUNDLE, an accepted RTP m-section without
 * rtcp-mux or mid or outside BUNDLE, no ice-ufrag/ice-pwd, no fingerprint or
 * only sha-1 ones, no setup or setup:passive/holdconn, a proto other than
 * UDP/TLS/RTP/SAVPF for audio/video, any cap exceeded.
 */
int prism_sdp_parse_offer(const char *sdp, size_t len, struct prism_sdp_session **out, char *reason,
                          size_t reason_len);

/* Parse a client's answer to a prism_sdp_write_offer() offer.
 *
 * Same rules as prism_sdp_parse_offer(), but the setup must be active (the
 * relay is the DTLS server) and, when `offered` is not NULL, the answer must
 * have exactly `n_offered` m-sections with the offered mids in order; an
 * m-section the relay removed counts as rejected even if the answer keeps a
 * port for it. Which mids the
 * client accepted: `out->media[i].accepted`. Returns 0, PRISM_EINVAL or
 * PRISM_EBADSDP (with `reason`).
 */
int prism_sdp_parse_answer(const char *sdp, size_t len, const struct prism_sdp_track *offered,
                           size_t n_offered, struct prism_sdp_session **out, char *reason,
                           size_t reason_len);

/* Frees a session from a parser or prism_sdp_session_for_answer(), and
 * everything it points to. Accepts NULL. */
void prism_sdp_session_free(struct prism_sdp_session *s);

/* The rtx partner of `ssrc` in `m` (its a=ssrc-group:FID <ssrc> <rtx>;
 * RFC 4588 §8.2), 0 if none. */
uint32_t prism_sdp_fid_partner(const struct prism_sdp_media *m, uint32_t ssrc);

/* The first a=ssrc-group:SIM of `m`, NULL if none. */
const struct prism_sdp_ssrc_group *prism_sdp_sim_group(const struct prism_sdp_media *m);

/* SSRC simulcast (libwebrtc's legacy form, relay/wire/sdp_ssrc.c): when `m`
 * is video without send rids and its a=ssrc-group:SIM names two or more
 * distinct, non-zero SSRCs, writes the first `cap` of them (the layers, low
 * to high resolution) to `ssrcs` and each one's FID partner (0: none) to
 * `rtx_ssrcs`, and returns how many; else 0 (one stream, or rid
 * simulcast), writing nothing. */
size_t prism_sdp_sim_layers(const struct prism_sdp_media *m, uint32_t *ssrcs, uint32_t *rtx_ssrcs,
                            size_t cap);

/* Decide, in place, what the relay accepts of a parsed publish offer.
 *
 * Per m-section: audio keeps Opus/48000/2; video keeps VP8, VP9 (profile 0),
 * AV1 (profile 0), H264 with packetization-mode=1 and the rtx of those, in
 * offer order (the publisher's preference: it sends the first it can);
 * rtcp-fb keeps the enum prism_sdp_fb types; extmaps keep mid,
 * rtp-stream-id, repaired-rtp-stream-id, ssrc-audio-level, abs-send-time,
 * transport-wide-cc and the AV1 dependency descriptor with the offer's ids. An application/other
 * m-section, one with no acceptable codec, one already rejected, or one whose direction sends
 * nothing becomes `accepted = false`. The BUNDLE list keeps only accepted mids. Returns 0, or
 * PRISM_EBADSDP with `reason` when nothing is left to receive.
 */
int prism_sdp_negotiate(struct prism_sdp_session *offer, char *reason, size_t reason_len);

/* What prism_sdp_negotiate_with() accepts beyond that base set (bits). */
#define PRISM_SDP_ACCEPT_RED 1u /* audio: red/48000/2 (RFC 2198) over kept Opus payload types */

/* prism_sdp_negotiate() with the extras in `accept`. With
 * PRISM_SDP_ACCEPT_RED an audio m-section also keeps red/48000/2 whose fmtp
 * names only its kept Opus payload types ("111/111"), placed before them:
 * libwebrtc sends RED only when the answer lists red ahead of the codec it
 * carries. prism_sdp_negotiate() is this with `accept` 0. */
int prism_sdp_negotiate_with(struct prism_sdp_session *offer, unsigned accept, char *reason,
                             size_t reason_len);

/* What prism_sdp_write_answer() reads of a negotiated offer, as a new session
 * in memory sized to it (about 1 KiB for a browser's audio and video): each
 * m-section's kind, mid, direction, accepted flag, rtcp-rsize, its payload
 * types (only the first of a rejected one) and extmaps, the rids it sends and
 * its simulcast send list; extmap-allow-mixed and the BUNDLE mids. The
 * transport attributes are "" and there are no candidates, ssrcs, ssrc groups
 * or msids. Both write the same answer. For a publish waiting for its
 * transport: keep this, free the parsed offer.
 * Returns 0 (`*out` set; free it with prism_sdp_session_free()), PRISM_EINVAL
 * (NULL args) or PRISM_ENOMEM (`*out` NULL).
 */
int prism_sdp_session_for_answer(const struct prism_sdp_session *negotiated,
                                 struct prism_sdp_session **out);

/* Write the relay's answer to a negotiated publish offer into `out`.
 *
 * `negotiated` comes from prism_sdp_negotiate(). The answer is recvonly per
 * accepted m-section (port 0 for the others), a=setup:passive, our ICE
 * credentials and fingerprint, a=rtcp-mux, BUNDLE of accepted mids, our
 * candidates in the first bundled m-section; no a=ice-lite (the relay is a full
 * ICE agent). Simulcast offers get a=rid:<id> recv and a=simulcast:recv.
 * Writes at most `out_len` bytes including a NUL and sets `*written` (without
 * the NUL). Returns 0, PRISM_EINVAL (bad `local` or NULL args) or PRISM_ENOMEM
 * (`out` too small: PRISM_SDP_MAX_BYTES always suffices).
 */
int prism_sdp_write_answer(const struct prism_sdp_session *negotiated,
                           const struct prism_sdp_local *local, char *out, size_t out_len,
                           size_t *written);

/* Write the relay's offer for a subscribe transport into `out`.
 *
 * One m-section per track, in the given order (m-sections are never removed:
 * a track that left is passed again as PRISM_SDP_TRACK_REMOVED, and its line
 * may later be reused under a new mid). Each sending track is a=sendonly with
 * `a=msid:<peer_id> <track_id>`, a=ssrc cname/msid lines and, with rtx, an
 * a=ssrc-group:FID. Session: a=setup:actpass, BUNDLE of the non-removed mids,
 * o= version = local->session_version (the revision).
 * An offer needs one bundled m-section: with no track to send, pass an
 * inactive placeholder (prism_sdp_track_placeholder()) and keep passing it
 * (or reuse its line) in later revisions.
 * Returns 0, PRISM_EINVAL (no track, bad field, duplicate mid, every track
 * removed, NULL args) or PRISM_ENOMEM (`out` too small). A bad field is one
 * the relay's parser would refuse in the written offer (so the offer always
 * parses back): a mid or encoding name outside token-char, a clock rate
 * outside 1..1000000, more than 8 channels, a repeated payload type or
 * extmap id, extmap id 15, a fmtp with a control character or only blanks,
 * an apt that is malformed, differs from the fmtp's or names no payload of
 * the track, an extmap id with two URIs in the offer.
 */
int prism_sdp_write_offer(const struct prism_sdp_local *local, const struct prism_sdp_track *tracks,
                          size_t n_tracks, char *out, size_t out_len, size_t *written);

/* Fill `t` as an inactive audio placeholder m-section (Opus) with mid `mid`. */
void prism_sdp_track_placeholder(struct prism_sdp_track *t, const char *mid);

/* Write a client's answer to the relay's subscribe offer (prism-bench, tests).
 *
 * `offer` comes from prism_sdp_parse_offer() on a prism_sdp_write_offer()
 * offer. Same m-sections and mids in the same order; each accepted one is
 * answered with its offered codecs and extensions, a=recvonly when the relay
 * sends on it (a=inactive otherwise), a=setup:active (the client is the DTLS
 * client), our ICE credentials and fingerprint, a=rtcp-mux, candidates in the
 * first bundled m-section; rejected ones (port 0) come back with port 0.
 * What prism_sdp_parse_answer() accepts. Returns 0, PRISM_EINVAL (bad `local`,
 * nothing accepted, NULL args) or PRISM_ENOMEM (`out` too small).
 */
int prism_sdp_write_client_answer(const struct prism_sdp_session *offer,
                                  const struct prism_sdp_local *local, char *out, size_t out_len,
                                  size_t *written);

#endif
