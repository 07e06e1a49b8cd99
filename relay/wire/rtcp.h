/* RTCP on the worker's per-packet path: walking compound packets, reading
 * the feedback the relay acts on, and writing the packets it sends.
 *
 * Owns: the iterator over a (SRTCP-unprotected) compound or reduced-size RTCP
 * packet; readers for SR sender info, SR/RR report blocks, PLI, FIR, REMB,
 * generic NACK and the transport-cc header; builders for PLI, FIR, RR, SR,
 * REMB and generic NACK into caller buffers; in-place setters used to
 * translate a subscriber's feedback toward the publisher (the caller maps
 * SSRCs and sequence numbers, this file only writes them).
 *
 * Thread: any. Pure: no I/O, no globals, no allocation, no locks.
 *
 * Invariants: every reader is bounded by the length it is given; a block
 * yielded by the iterator lies wholly inside the compound, is at least as
 * long as its type's fixed part and its report/FCI counts fit in it. Fields
 * are read and written byte-wise in network order (any alignment). Builders
 * never write past `cap` and write nothing when they fail.
 *
 * RFCs: RFC 3550 (SR, RR, SDES, BYE, APP), RFC 3611 (XR, walked only),
 * RFC 4585 (RTPFB/PSFB, PLI, generic NACK), RFC 5104 (FIR), RFC 5506
 * (reduced-size RTCP: no SR/RR first rule), RFC 5761 (demultiplexing),
 * draft-alvestrand-rmcat-remb-03 (REMB), draft-holmer-rmcat-transport-wide-cc-
 * extensions-01 (transport-cc).
 */
#ifndef PRISM_RELAY_RTCP_H
#define PRISM_RELAY_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/wire/rtp.h"

enum prism_rtcp_type {
    PRISM_RTCP_SR = 200,
    PRISM_RTCP_RR = 201,
    PRISM_RTCP_SDES = 202,
    PRISM_RTCP_BYE = 203,
    PRISM_RTCP_APP = 204,
    PRISM_RTCP_RTPFB = 205,
    PRISM_RTCP_PSFB = 206,
    PRISM_RTCP_XR = 207,
};

enum prism_rtcp_fmt {
    PRISM_RTCP_RTPFB_NACK = 1, /* RFC 4585 generic NACK */
    PRISM_RTCP_RTPFB_TCC = 15, /* transport-wide congestion control feedback */
    PRISM_RTCP_PSFB_PLI = 1,   /* RFC 4585 picture loss indication */
    PRISM_RTCP_PSFB_FIR = 4,   /* RFC 5104 full intra request */
    PRISM_RTCP_PSFB_AFB = 15,  /* application layer feedback: REMB */
};

#define PRISM_RTCP_HEADER_BYTES 4
#define PRISM_RTCP_REPORT_BLOCK_BYTES 24
#define PRISM_RTCP_MAX_REPORT_BLOCKS 31 /* RC is 5 bits */
#define PRISM_RTCP_PLI_BYTES 12
#define PRISM_RTCP_FIR_BYTES 20       /* with one FCI entry */
#define PRISM_RTCP_SR_BYTES 28        /* without report blocks */
#define PRISM_RTCP_NACK_MAX_SEQS 17   /* seqs one FCI entry covers: pid + 16 */
#define PRISM_RTCP_REMB_MAX_SSRCS 255 /* "Num SSRC" is 8 bits */

/* The iterator over one compound packet. Fields are private to rtcp.c. */
struct prism_rtcp_iter {
    const uint8_t *buf; /* the compound, not owned */
    size_t len;         /* bytes in buf */
    size_t off;         /* bytes: next block */
    int err;            /* sticky: 0, PRISM_ENOTFOUND (done) or PRISM_EINVAL */
};

/* One RTCP packet of a compound, as the iterator yields it. Pointers are
 * into the compound given to prism_rtcp_iter_init(). */
struct prism_rtcp_item {
    uint8_t type;         /* packet type, enum prism_rtcp_type or another 192..223 value */
    uint8_t fmt;          /* low 5 bits of byte 0: FMT (FB), RC (SR/RR), SC (SDES/BYE),
                             subtype (APP) */
    uint32_t sender_ssrc; /* sender SSRC (SR/RR/APP/XR/FB), first chunk or source
                             (SDES/BYE), else 0 */
    uint32_t media_ssrc;  /* media source SSRC, RTPFB/PSFB only, else 0 */
    const uint8_t *data;  /* the whole block, from its first byte */
    size_t len;           /* bytes of the block: (length + 1) * 4, padding included */
    size_t offset;        /* bytes: where the block starts in the compound (for in-place setters) */
    const uint8_t *body;  /* after the fixed part (below), padding excluded */
    size_t body_len;      /* bytes of body */
};
/* The fixed part `body` follows: SR: header, SSRC and the 20-byte sender info
 * (body = report blocks then extensions); RR: header and SSRC; SDES, BYE:
 * header (body = chunks / SSRC list and reason); APP: header, SSRC and name
 * (body = application data); RTPFB/PSFB: header and both SSRCs (body = FCI);
 * XR: header and SSRC (body = report blocks); other types: header only. */

/* Start walking the compound `buf` of `len` bytes (kept, not copied). */
void prism_rtcp_iter_init(struct prism_rtcp_iter *it, const uint8_t *buf, size_t len);

/* Yield the next block of the compound into `item`.
 * Checks per block: version 2, packet type 192..223 (RFC 5761), the length
 * field within the compound, the type's fixed part and counts (SR/RR report
 * blocks, BYE sources) within the block, padding only on the last block with
 * a non-zero count within the block's body.
 * Returns 0 (an item), PRISM_ENOTFOUND (clean end: every byte was consumed),
 * or PRISM_EINVAL (malformed; also for an empty compound). Errors are sticky:
 * once the walk failed or ended, every further call returns the same code. */
int prism_rtcp_next(struct prism_rtcp_iter *it, struct prism_rtcp_item *item);

/* RFC 5761 §4: whether the 2-byte-or-longer datagram `pkt` is RTCP rather than
 * RTP when both share a port (second byte 192..223). */
bool prism_rtcp_is_rtcp(const uint8_t *pkt, size_t len);

/* SR sender info (RFC 3550 §6.4.1). */
struct prism_rtcp_sender_info {
    uint64_t ntp;           /* NTP timestamp, 32.32 fixed point seconds since 1900 */
    uint32_t rtp_timestamp; /* same instant in the RTP clock */
    uint32_t packet_count;  /* packets sent since the start */
    uint32_t octet_count;   /* payload octets sent since the start */
};

/* One SR/RR report block (RFC 3550 §6.4.1). */
struct prism_rtcp_report_block {
    uint32_t ssrc;            /* the source this block reports on */
    uint8_t fraction_lost;    /* since the last report, 8-bit fixed point */
    int32_t cumulative_lost;  /* 24-bit signed on the wire */
    uint32_t ext_highest_seq; /* low 32 bits of ext_seq */
    uint32_t jitter;          /* interarrival jitter, RTP clock units */
    uint32_t lsr;             /* middle 32 bits of the last SR's NTP time, 0 if none */
    uint32_t dlsr;            /* delay since that SR, 1/65536 s */
};

/* REMB (draft-alvestrand-rmcat-remb): the bitrate and the SSRC list left in
 * the packet, read with prism_rtcp_remb_ssrc(). */
struct prism_rtcp_remb {
    uint64_t bitrate_bps;      /* mantissa << exponent (up to 2^18 << 63 saturates to UINT64_MAX) */
    uint8_t n_ssrcs;           /* SSRCs in the list */
    const uint8_t *ssrc_bytes; /* n_ssrcs big-endian words inside the item */
};

/* transport-cc feedback header (the chunks and deltas are not decoded). */
struct prism_rtcp_tcc {
    uint16_t base_seq;           /* first transport-wide seq reported */
    uint16_t status_count;       /* packets reported */
    int32_t reference_time_64ms; /* 24-bit signed, multiples of 64 ms */
    uint8_t fb_pkt_count;        /* feedback packet counter */
};

/* Fill `out` for source `ssrc` from the receive statistics `stats`: fraction
 * lost since the previous report (this starts a new interval, see
 * prism_rtp_seq_stats_fraction_lost()), cumulative lost, extended highest
 * seq and jitter. lsr and dlsr are set to 0 for the caller to fill. */
void prism_rtcp_report_block_from_stats(struct prism_rtcp_report_block *out, uint32_t ssrc,
                                        struct prism_rtp_seq_stats *stats);

/* Read the SR sender info of `item` (type SR). Returns 0 or PRISM_EINVAL. */
int prism_rtcp_parse_sr(const struct prism_rtcp_item *item, struct prism_rtcp_sender_info *out);

/* Read report block `i` (< item->fmt) of an SR or RR. Returns 0 or
 * PRISM_EINVAL (other type, i out of range). */
int prism_rtcp_report_block(const struct prism_rtcp_item *item, size_t i,
                            struct prism_rtcp_report_block *out);

/* Whether `item` is a PLI (PSFB FMT 1). */
bool prism_rtcp_is_pli(const struct prism_rtcp_item *item);

/* Number of FIR entries in `item`, 0 when it is not a FIR (PSFB FMT 4). */
size_t prism_rtcp_fir_count(const struct prism_rtcp_item *item);

/* FIR entry `i`: the target SSRC and the command sequence number.
 * Returns 0 or PRISM_EINVAL (not a FIR, i out of range). */
int prism_rtcp_fir_entry(const struct prism_rtcp_item *item, size_t i, uint32_t *ssrc,
                         uint8_t *seq_nr);

/* Read a REMB (PSFB FMT 15 with the "REMB" identifier and a consistent SSRC
 * count). Returns 0 or PRISM_EINVAL (not a REMB, truncated). */
int prism_rtcp_parse_remb(const struct prism_rtcp_item *item, struct prism_rtcp_remb *out);

/* SSRC `i` (< remb->n_ssrcs; a bug otherwise) of a parsed REMB. */
uint32_t prism_rtcp_remb_ssrc(const struct prism_rtcp_remb *remb, size_t i);

/* Number of generic NACK FCI entries in `item`, 0 when it is not a NACK. */
size_t prism_rtcp_nack_count(const struct prism_rtcp_item *item);

/* Generic NACK entry `i`: packet id and bitmask of following lost packets.
 * Returns 0 or PRISM_EINVAL (not a NACK, i out of range). */
int prism_rtcp_nack_entry(const struct prism_rtcp_item *item, size_t i, uint16_t *pid,
                          uint16_t *blp);

/* Expand one NACK entry into the seqs it names, in order: `pid` then each
 * pid + k (mod 2^16) whose bit k - 1 is set in `blp`. `out` holds
 * PRISM_RTCP_NACK_MAX_SEQS. Returns how many were written (1..17). */
size_t prism_rtcp_nack_expand(uint16_t pid, uint16_t blp, uint16_t out[PRISM_RTCP_NACK_MAX_SEQS]);

/* Whether `item` is transport-cc feedback (RTPFB FMT 15). */
bool prism_rtcp_is_tcc(const struct prism_rtcp_item *item);

/* Read a transport-cc header (8 bytes of FCI). Returns 0 or PRISM_EINVAL. */
int prism_rtcp_parse_tcc(const struct prism_rtcp_item *item, struct prism_rtcp_tcc *out);

/* Builders. Each writes one RTCP packet at `buf` (any alignment), never more
 * than `cap` bytes, and returns the bytes written (a multiple of 4), or
 * PRISM_ENOMEM when `cap` is too small or PRISM_EINVAL for bad arguments;
 * nothing is written on failure. Compounds are built by concatenation. */

/* PLI from `sender_ssrc` about `media_ssrc`: PRISM_RTCP_PLI_BYTES. */
int prism_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);

/* FIR with one entry asking `media_ssrc` for a key frame; `seq_nr` is the
 * command sequence number (increment per new request, RFC 5104 §4.3.1.1).
 * The header's media SSRC is 0 as RFC 5104 requires: PRISM_RTCP_FIR_BYTES. */
int prism_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                         uint8_t seq_nr);

/* RR from `sender_ssrc` with `n` (<= 31) report `blocks` (NULL when n is 0:
 * an empty RR, 8 bytes). Returns 8 + 24 * n, PRISM_ENOMEM or PRISM_EINVAL. */
int prism_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
                        const struct prism_rtcp_report_block *blocks, size_t n);

/* SR without report blocks: PRISM_RTCP_SR_BYTES. */
int prism_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
                        const struct prism_rtcp_sender_info *info);

/* REMB from `sender_ssrc` (header media SSRC 0) announcing `bitrate_bps` for
 * `n` (1..255) `ssrcs`. The bitrate is encoded as an 18-bit mantissa and a
 * 6-bit exponent, rounded down. Returns 20 + 4 * n, PRISM_ENOMEM or
 * PRISM_EINVAL. */
int prism_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate_bps,
                          const uint32_t *ssrcs, size_t n);

/* REMB mantissa/exponent for `bitrate_bps`: the largest mantissa << exponent
 * not above it with mantissa < 2^18 and the smallest exponent. */
void prism_rtcp_remb_encode(uint64_t bitrate_bps, uint32_t *mantissa, uint8_t *exponent);

/* Generic NACK from `sender_ssrc` to `media_ssrc` for the `n` (>= 1) lost
 * `seqs`, given in ascending order (modulo 2^16). A seq within pid+1..pid+16
 * of the current entry's pid sets a bit of its blp, any other opens a new
 * entry; duplicates are ignored. O(n). Returns 12 + 4 * entries,
 * PRISM_ENOMEM or PRISM_EINVAL (n == 0, NULL seqs, over 65535 words). */
int prism_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                          const uint16_t *seqs, size_t n);

/* In-place setters for translating feedback, on a mutable copy of a block the
 * iterator yielded (`block` = compound + item.offset, `block_len` = item.len).
 * A setter that does not apply (too short, index out of range) returns
 * PRISM_EINVAL and writes nothing; otherwise 0. */

/* The sender SSRC (bytes 4..7: SR, RR, APP, XR, RTPFB, PSFB). */
int prism_rtcp_set_sender_ssrc(uint8_t *block, size_t block_len, uint32_t ssrc);

/* The media source SSRC of an RTPFB/PSFB block (bytes 8..11): PLI, NACK,
 * transport-cc. */
int prism_rtcp_rewrite_media_ssrc(uint8_t *block, size_t block_len, uint32_t ssrc);

/* The target SSRC of FIR entry `i`. */
int prism_rtcp_rewrite_fir_ssrc(uint8_t *block, size_t block_len, size_t i, uint32_t ssrc);

/* NACK entry `i`, after mapping its seqs into the publisher's space. */
int prism_rtcp_rewrite_nack_entry(uint8_t *block, size_t block_len, size_t i, uint16_t pid,
                                  uint16_t blp);

#endif
