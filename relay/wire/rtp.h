/* RTP on the worker's per-packet path: header parsing, header extensions,
 * in-place rewrites, key frame detection and receive statistics.
 *
 * Owns: reading an (already SRTP-unprotected) RTP packet's fixed header, CSRC
 * list, header extension block and padding; finding RFC 8285 extension
 * elements and decoding the ones the relay uses (audio level, mid/rid,
 * abs-send-time, transport-wide sequence number); rewriting SSRC, sequence
 * number and timestamp in place; telling whether a VP8, VP9 or H.264 payload
 * starts a key frame; the RFC 3550 A.1/A.3/A.8 sequence, loss and jitter
 * bookkeeping of one received stream.
 *
 * Thread: any. Pure: no I/O, no globals, no allocation, no locks; a
 * prism_rtp_seq_stats belongs to the one worker that owns its track.
 *
 * Invariants: every reader is bounded by the length it is given and never
 * reads past it; multi-byte fields are read and written byte-wise in network
 * order (packets sit at any alignment in the pools). After prism_rtp_parse()
 * returns 0: 12 <= header_len <= header_len + payload_len + padding_len == len,
 * and the extension block [ext_offset, ext_offset + ext_len) lies inside the
 * header. Naming: `seq` is the 16-bit wire value, `ext_seq` the 64-bit
 * unwrapped one.
 *
 * RFCs: RFC 3550 (RTP, appendix A.1/A.3/A.8), RFC 8285 (header extensions),
 * RFC 6464 (audio level), RFC 7941 and RFC 8843 (SDES items mid/rid),
 * abs-send-time and transport-wide-cc-02 (WebRTC extensions), RFC 7741 (VP8),
 * RFC 6184 (H.264), RFC 9628 (VP9).
 */
#ifndef PRISM_RELAY_RTP_H
#define PRISM_RELAY_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRISM_RTP_HEADER_MIN 12        /* fixed header bytes */
#define PRISM_RTP_EXT_ONE_BYTE 0xBEDEu /* RFC 8285 §4.2 profile */
#define PRISM_RTP_EXT_TWO_BYTE 0x1000u /* RFC 8285 §4.3, low 4 bits: appbits */
#define PRISM_RTP_EXT_TWO_BYTE_MASK 0xFFF0u
#define PRISM_RTP_MID_MAX 16 /* bytes of an SDES item element, one-byte form */

/* A parsed RTP header. Offsets are from the first byte of the packet. */
struct prism_rtp_header {
    uint16_t seq;         /* sequence number, wire value */
    uint32_t timestamp;   /* RTP timestamp, media clock units */
    uint32_t ssrc;        /* synchronization source */
    uint8_t payload_type; /* 7 bits */
    bool marker;          /* M bit */
    uint8_t csrc_count;   /* CC, 0..15 */
    uint16_t ext_profile; /* "defined by profile" word; 0 when there is no extension */
    size_t ext_offset;    /* bytes: first extension element (after the 4-byte block header) */
    size_t ext_len;       /* bytes of extension elements (0 when none) */
    size_t header_len;    /* bytes: offset of the payload */
    size_t payload_len;   /* bytes of payload, padding excluded */
    uint8_t padding_len;  /* bytes of padding at the end (0 when P is clear) */
};

/* Parse the RTP packet `pkt` of `len` bytes into `out`.
 * Checks: version 2, len >= 12, the CSRC list and the extension block fit,
 * the padding count is non-zero and no larger than what follows the header.
 * An extension block with an unknown profile is kept (ext_* filled) but
 * prism_rtp_find_ext() will not look inside it.
 * Returns 0, or PRISM_EINVAL for NULL arguments or any malformed packet
 * (`out` is then unspecified). O(1). */
int prism_rtp_parse(const uint8_t *pkt, size_t len, struct prism_rtp_header *out);

/* Find the header extension element with local identifier `id` in `pkt`
 * parsed as `h` (one-byte profile: ids 1..14; two-byte profile: 1..255).
 * On success `*data` points into `pkt` at the element's data and `*len` is
 * its length (0 is possible in the two-byte profile). The first element with
 * that id wins. Parsing stops at the one-byte profile's id 15.
 * Returns 0, PRISM_ENOTFOUND (no extension, unknown profile, id absent or
 * not encodable in the profile), or PRISM_EINVAL (id 0, NULL arguments, an
 * element running past the block). O(ext_len). */
int prism_rtp_find_ext(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                       const uint8_t **data, size_t *len);

/* Walks the extension elements of a parsed packet, in order: init, then
 * next until it returns 0 (end, or the one-byte profile's id 15) or
 * PRISM_EINVAL (an element running past the block). Padding is skipped. A
 * block of an unknown profile yields nothing. Fields are private. */
struct prism_rtp_ext_iter {
    const uint8_t *p; /* first element */
    size_t n;         /* bytes of elements */
    size_t i;         /* offset of the next element */
    bool two_byte;    /* RFC 8285 §4.3 */
};

/* Returns 0, or PRISM_EINVAL for NULL arguments. */
int prism_rtp_ext_iter_init(struct prism_rtp_ext_iter *it, const uint8_t *pkt,
                            const struct prism_rtp_header *h);

/* The next element: returns 1 with its `*id`, `*data` (into the packet) and
 * `*len`; 0 at the end; PRISM_EINVAL when malformed. */
int prism_rtp_ext_next(struct prism_rtp_ext_iter *it, uint8_t *id, const uint8_t **data,
                       size_t *len);

/* The extensions the worker reads on every packet, by local id (0: not
 * negotiated, never matched). */
struct prism_rtp_ext_ids {
    uint8_t mid;           /* RFC 8843 sdes:mid */
    uint8_t audio_level;   /* RFC 6464 */
    uint8_t transport_seq; /* transport-wide-cc */
    uint8_t rid;           /* RFC 8852 sdes:rtp-stream-id (simulcast layer) */
    uint8_t repaired_rid;  /* RFC 8852 sdes:repaired-rtp-stream-id (its rtx stream) */
    uint8_t av1dd;         /* the AV1 dependency descriptor (relay/wire/av1dd.h) */
};

/* Their values in one packet; each valid when its has_ flag is set. */
struct prism_rtp_ext_values {
    bool has_mid;
    char mid[PRISM_RTP_MID_MAX + 1]; /* NUL-terminated (one-byte profile lengths) */
    bool has_audio_level;
    bool voice;         /* RFC 6464 V bit */
    uint8_t level_dbov; /* 0 loudest .. 127 silence */
    bool has_transport_seq;
    uint16_t transport_seq;
    bool has_rid;                    /* rid or repaired-rid: which one in `repaired` */
    bool repaired;                   /* the rid came as repaired-rid: an rtx stream */
    char rid[PRISM_RTP_MID_MAX + 1]; /* NUL-terminated */
    bool has_av1dd;                  /* the dependency descriptor's element: where it is */
    uint16_t av1dd_off;              /* bytes from the packet's start */
    uint16_t av1dd_len;              /* bytes, >= 1 */
};

/* Reads every extension named in `ids` in ONE pass over the block (the
 * per-packet path reads them once, never rescanning). The first element of
 * an id wins; an element too short (or a mid longer than PRISM_RTP_MID_MAX
 * or holding a NUL) is ignored. Returns 0 (whatever was found is flagged),
 * or PRISM_EINVAL (NULL arguments, or the block is malformed: what was read
 * before the fault stays flagged). O(ext_len). */
int prism_rtp_read_exts(const uint8_t *pkt, const struct prism_rtp_header *h,
                        const struct prism_rtp_ext_ids *ids, struct prism_rtp_ext_values *out);

/* RFC 6464 client-to-mixer audio level in extension `id`: `*voice` is the V
 * bit, `*level_dbov` the level in -dBov (0 loudest, 127 silence).
 * Returns 0, PRISM_ENOTFOUND (see prism_rtp_find_ext) or PRISM_EINVAL
 * (element shorter than 1 byte). */
int prism_rtp_get_audio_level(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                              bool *voice, uint8_t *level_dbov);

/* An RFC 7941 SDES item in extension `id` (mid, rid, repaired-rid), copied
 * into `out` with a terminating NUL. Returns 0, PRISM_ENOTFOUND, PRISM_EINVAL
 * (empty element, a NUL byte inside it, NULL arguments) or PRISM_ENOMEM
 * (`cap` < length + 1; PRISM_RTP_MID_MAX + 1 suffices for the one-byte
 * profile, 256 for the two-byte one). */
int prism_rtp_get_mid(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id, char *out,
                      size_t cap);

/* abs-send-time in extension `id`: 24-bit 6.18 fixed point seconds.
 * Returns 0, PRISM_ENOTFOUND or PRISM_EINVAL (element not 3 bytes). */
int prism_rtp_get_abs_send_time(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                                uint32_t *abs_send_time);

/* transport-wide sequence number in extension `id` (16 bits).
 * Returns 0, PRISM_ENOTFOUND or PRISM_EINVAL (element shorter than 2 bytes;
 * a longer one, the -02 variant with feedback request, is read for its
 * first 2 bytes). */
int prism_rtp_get_transport_seq(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                                uint16_t *transport_seq);

/* Overwrite the transport-wide sequence number in extension `id` in place
 * (egress renumbers per transport). Returns 0, PRISM_ENOTFOUND or
 * PRISM_EINVAL, as prism_rtp_get_transport_seq(). */
int prism_rtp_set_transport_seq(uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                                uint16_t transport_seq);

/* In-place rewrites of the fixed header. Precondition (a bug if broken):
 * `pkt` holds at least PRISM_RTP_HEADER_MIN bytes, e.g. it parsed. */
void prism_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc);
void prism_rtp_set_seq(uint8_t *pkt, uint16_t seq);
void prism_rtp_set_timestamp(uint8_t *pkt, uint32_t timestamp);
void prism_rtp_set_payload_type(uint8_t *pkt, uint8_t payload_type);
void prism_rtp_set_marker(uint8_t *pkt, bool marker);

/* Whether the VP8 RTP payload `payload` (RFC 7741 descriptor first) is the
 * first packet of a key frame: S bit set, partition index 0, and a VP8 frame
 * tag with the (inverse) key frame bit clear followed by the 0x9d 0x01 0x2a
 * start code. False for anything truncated. */
bool prism_rtp_is_vp8_keyframe(const uint8_t *payload, size_t len);

/* Whether the H.264 RTP payload (RFC 6184, packetization mode 0 or 1) starts
 * a key frame: a single NAL unit, a STAP-A aggregate containing one, or an
 * FU-A with the S bit, of type 5 (IDR slice) or 7 (SPS). False when truncated. */
bool prism_rtp_is_h264_keyframe(const uint8_t *payload, size_t len);

/* Whether the VP9 RTP payload (RFC 9628 descriptor) starts a key frame: B
 * (start of frame) set, P (inter-picture predicted) clear and, when layer
 * indices are present, spatial layer 0. False when truncated. */
bool prism_rtp_is_vp9_keyframe(const uint8_t *payload, size_t len);

/* Receive statistics of one stream (RFC 3550 A.1, A.3, A.8). Fields are
 * read-only outside rtp.c; all counters are packets unless named otherwise. */
struct prism_rtp_seq_stats {
    bool started;            /* a first packet was seen */
    uint16_t max_seq;        /* highest seq seen, wire value */
    uint32_t cycles;         /* seq wrap count (A.1 keeps it shifted; this is not) */
    uint64_t ext_seq;        /* highest extended seq = cycles * 65536 + max_seq */
    uint64_t base_ext_seq;   /* extended seq of the first packet (after a resync) */
    uint32_t bad_seq;        /* A.1: expected next seq after a big jump, or > 0xFFFF */
    uint64_t received;       /* packets counted since base_ext_seq */
    uint64_t expected_prior; /* expected at the last report */
    uint64_t received_prior; /* received at the last report */
    uint32_t last_transit;   /* arrival - timestamp of the last counted packet, RTP units */
    uint64_t jitter_q4;      /* interarrival jitter * 16, RTP units (A.8; 64 bits: no overflow) */
};

/* What prism_rtp_seq_stats_update() made of a packet. */
enum prism_rtp_seq_verdict {
    PRISM_RTP_SEQ_NEW = 0,    /* first packet, or a new highest seq (maybe after a gap) */
    PRISM_RTP_SEQ_OLD = 1,    /* at or below the highest seq: late, retransmitted or duplicate */
    PRISM_RTP_SEQ_JUMP = 2,   /* far outside the window: not counted (A.1 bad_seq) */
    PRISM_RTP_SEQ_RESYNC = 3, /* second packet in a row after a jump: statistics restarted */
};

/* Reset `s` for a new stream; the first update sets the base. */
void prism_rtp_seq_stats_init(struct prism_rtp_seq_stats *s);

/* Account one received packet: its wire `seq`, RTP `timestamp` and arrival
 * time in the same RTP clock units (any origin, wrapping at 2^32).
 * A.1 window: less than 3000 ahead is in order (a gap is loss), less than
 * 100 behind is a late packet; anything else is a jump, counted only once the next
 * packet confirms it (A.1's probation for new sources is not done: packets
 * are SRTP-authenticated). On a resync ext_seq stays monotonic: the new seq
 * is placed in the next 65536-cycle above the old highest.
 * `*ext_seq_out` (may be NULL) receives the packet's extended seq (for late
 * packets, the one nearest below the highest); it is left unchanged for a
 * JUMP and for a late packet that would precede extended seq 0.
 * Returns the verdict. Jitter (A.8) is updated for every counted packet. */
enum prism_rtp_seq_verdict prism_rtp_seq_stats_update(struct prism_rtp_seq_stats *s, uint16_t seq,
                                                      uint32_t timestamp, uint32_t arrival,
                                                      uint64_t *ext_seq_out);

/* Packets expected since the base (A.3): ext_seq - base_ext_seq + 1, or 0. */
uint64_t prism_rtp_seq_stats_expected(const struct prism_rtp_seq_stats *s);

/* Cumulative packets lost (A.3): expected - received, clamped to the 24-bit
 * signed range of a report block (negative with duplicates). */
int32_t prism_rtp_seq_stats_lost(const struct prism_rtp_seq_stats *s);

/* Interarrival jitter in RTP clock units (A.8: jitter_q4 / 16, saturated). */
uint32_t prism_rtp_seq_stats_jitter(const struct prism_rtp_seq_stats *s);

/* Fraction lost since the previous call (A.3), 8-bit fixed point (256 = all),
 * 0 when nothing was expected or more arrived than expected; then starts a
 * new interval. Call once per report sent. */
uint8_t prism_rtp_seq_stats_fraction_lost(struct prism_rtp_seq_stats *s);

#endif
