/* RTCP compound walking, feedback readers, builders and in-place setters.
 * See rtcp.h for the contracts. The iterator validates each block's length
 * and counts once, so the readers below only re-check the type and index
 * they are given; builders size their output before writing a byte.
 */
#include "relay/wire/rtcp.h"

#include <string.h>

#include "relay/base/bytes.h"
#include "relay/base/check.h"
#include "relay/base/error.h"

#define RTCP_VERSION 2
#define RTCP_PT_MIN 192 /* RFC 5761 §4: RTCP packet types that can share a port with RTP */
#define RTCP_PT_MAX 223
#define SENDER_INFO_BYTES 20
#define FB_FIXED_BYTES 12 /* header, sender SSRC, media SSRC */
#define FIR_ENTRY_BYTES 8
#define NACK_ENTRY_BYTES 4
#define REMB_FIXED_FCI 8 /* "REMB", num SSRC, exponent and mantissa */
#define TCC_FIXED_FCI 8  /* base seq, status count, reference time, fb count */
#define MAX_LENGTH_WORDS 65535u

/* 24-bit two's complement, as cumulative lost and the tcc reference time. */
static int32_t sign24(uint32_t v)
{
    return (v & 0x800000) ? (int32_t)v - 0x1000000 : (int32_t)v;
}

void prism_rtcp_iter_init(struct prism_rtcp_iter *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = buf == NULL ? 0 : len;
    it->off = 0;
    it->err = 0;
}

/* Bytes before the body of a block of type `pt`. */
static size_t fixed_bytes(uint8_t pt)
{
    switch (pt) {
    case PRISM_RTCP_SR: return 8 + SENDER_INFO_BYTES;
    case PRISM_RTCP_RR:
    case PRISM_RTCP_XR: return 8;
    case PRISM_RTCP_APP: return 12;
    case PRISM_RTCP_RTPFB:
    case PRISM_RTCP_PSFB: return FB_FIXED_BYTES;
    default: /* SDES, BYE and types the relay does not read */ return 4;
    }
}

static int iter_fail(struct prism_rtcp_iter *it, int err)
{
    it->err = err;
    return err;
}

int prism_rtcp_next(struct prism_rtcp_iter *it, struct prism_rtcp_item *item)
{
    if (it->err != 0)
        return it->err;
    if (it->off == it->len)
        return iter_fail(it, it->len == 0 ? PRISM_EINVAL : PRISM_ENOTFOUND);
    size_t rem = it->len - it->off;
    const uint8_t *p = it->buf + it->off;
    if (rem < PRISM_RTCP_HEADER_BYTES || p[0] >> 6 != RTCP_VERSION || p[1] < RTCP_PT_MIN ||
        p[1] > RTCP_PT_MAX)
        return iter_fail(it, PRISM_EINVAL);
    size_t blen = ((size_t)prism_load_be16(p + 2) + 1) * 4;
    uint8_t pt = p[1];
    uint8_t count = p[0] & 0x1f;
    size_t fixed = fixed_bytes(pt);
    if (blen > rem || blen < fixed)
        return iter_fail(it, PRISM_EINVAL);
    size_t pad = 0;
    if (p[0] & 0x20) {
        /* RFC 3550 §6.4.1: only the last packet of a compound is padded; the
         * count includes itself. */
        pad = p[blen - 1];
        if (blen != rem || pad == 0 || pad > blen - fixed)
            return iter_fail(it, PRISM_EINVAL);
    }
    size_t body_len = blen - fixed - pad;
    switch (pt) {
    case PRISM_RTCP_SR:
    case PRISM_RTCP_RR:
        if ((size_t)count * PRISM_RTCP_REPORT_BLOCK_BYTES > body_len)
            return iter_fail(it, PRISM_EINVAL);
        break;
    case PRISM_RTCP_BYE:
        if ((size_t)count * 4 > body_len)
            return iter_fail(it, PRISM_EINVAL);
        break;
    case PRISM_RTCP_SDES:
        /* A chunk is at least its SSRC and one word of items/terminator. */
        if ((size_t)count * 8 > body_len)
            return iter_fail(it, PRISM_EINVAL);
        break;
    default: break;
    }
    memset(item, 0, sizeof(*item));
    item->type = pt;
    item->fmt = count;
    if (fixed >= 8 || ((pt == PRISM_RTCP_SDES || pt == PRISM_RTCP_BYE) && count > 0))
        item->sender_ssrc = prism_load_be32(p + 4);
    if (pt == PRISM_RTCP_RTPFB || pt == PRISM_RTCP_PSFB)
        item->media_ssrc = prism_load_be32(p + 8);
    item->data = p;
    item->len = blen;
    item->offset = it->off;
    item->body = p + fixed;
    item->body_len = body_len;
    it->off += blen;
    return 0;
}

bool prism_rtcp_is_rtcp(const uint8_t *pkt, size_t len)
{
    return pkt != NULL && len >= 2 && pkt[1] >= RTCP_PT_MIN && pkt[1] <= RTCP_PT_MAX;
}

static bool is_fb(const struct prism_rtcp_item *item, uint8_t type, uint8_t fmt)
{
    return item != NULL && item->type == type && item->fmt == fmt;
}

int prism_rtcp_parse_sr(const struct prism_rtcp_item *item, struct prism_rtcp_sender_info *out)
{
    if (item == NULL || out == NULL || item->type != PRISM_RTCP_SR)
        return PRISM_EINVAL;
    const uint8_t *si = item->data + 8;
    out->ntp = (uint64_t)prism_load_be32(si) << 32 | prism_load_be32(si + 4);
    out->rtp_timestamp = prism_load_be32(si + 8);
    out->packet_count = prism_load_be32(si + 12);
    out->octet_count = prism_load_be32(si + 16);
    return 0;
}

int prism_rtcp_report_block(const struct prism_rtcp_item *item, size_t i,
                            struct prism_rtcp_report_block *out)
{
    if (item == NULL || out == NULL ||
        (item->type != PRISM_RTCP_SR && item->type != PRISM_RTCP_RR) || i >= item->fmt)
        return PRISM_EINVAL;
    const uint8_t *b = item->body + i * PRISM_RTCP_REPORT_BLOCK_BYTES;
    out->ssrc = prism_load_be32(b);
    out->fraction_lost = b[4];
    out->cumulative_lost = sign24(prism_load_be24(b + 5));
    out->ext_highest_seq = prism_load_be32(b + 8);
    out->jitter = prism_load_be32(b + 12);
    out->lsr = prism_load_be32(b + 16);
    out->dlsr = prism_load_be32(b + 20);
    return 0;
}

void prism_rtcp_report_block_from_stats(struct prism_rtcp_report_block *out, uint32_t ssrc,
                                        struct prism_rtp_seq_stats *stats)
{
    out->ssrc = ssrc;
    out->fraction_lost = prism_rtp_seq_stats_fraction_lost(stats);
    out->cumulative_lost = prism_rtp_seq_stats_lost(stats);
    out->ext_highest_seq = (uint32_t)stats->ext_seq;
    out->jitter = prism_rtp_seq_stats_jitter(stats);
    out->lsr = 0;
    out->dlsr = 0;
}

bool prism_rtcp_is_pli(const struct prism_rtcp_item *item)
{
    return is_fb(item, PRISM_RTCP_PSFB, PRISM_RTCP_PSFB_PLI);
}

size_t prism_rtcp_fir_count(const struct prism_rtcp_item *item)
{
    if (!is_fb(item, PRISM_RTCP_PSFB, PRISM_RTCP_PSFB_FIR))
        return 0;
    return item->body_len / FIR_ENTRY_BYTES;
}

int prism_rtcp_fir_entry(const struct prism_rtcp_item *item, size_t i, uint32_t *ssrc,
                         uint8_t *seq_nr)
{
    if (i >= prism_rtcp_fir_count(item) || ssrc == NULL || seq_nr == NULL)
        return PRISM_EINVAL;
    const uint8_t *e = item->body + i * FIR_ENTRY_BYTES;
    *ssrc = prism_load_be32(e);
    *seq_nr = e[4];
    return 0;
}

int prism_rtcp_parse_remb(const struct prism_rtcp_item *item, struct prism_rtcp_remb *out)
{
    if (!is_fb(item, PRISM_RTCP_PSFB, PRISM_RTCP_PSFB_AFB) || out == NULL ||
        item->body_len < REMB_FIXED_FCI)
        return PRISM_EINVAL;
    const uint8_t *f = item->body;
    if (memcmp(f, "REMB", 4) != 0)
        return PRISM_EINVAL;
    uint8_t n = f[4];
    if ((size_t)n * 4 > item->body_len - REMB_FIXED_FCI)
        return PRISM_EINVAL;
    unsigned exponent = f[5] >> 2;
    uint64_t mantissa = (uint64_t)(f[5] & 0x03) << 16 | prism_load_be16(f + 6);
    if (exponent > 0 && mantissa > (UINT64_MAX >> exponent))
        out->bitrate_bps = UINT64_MAX;
    else
        out->bitrate_bps = mantissa << exponent;
    out->n_ssrcs = n;
    out->ssrc_bytes = f + REMB_FIXED_FCI;
    return 0;
}

uint32_t prism_rtcp_remb_ssrc(const struct prism_rtcp_remb *remb, size_t i)
{
    PRISM_CHECK(i < remb->n_ssrcs);
    return prism_load_be32(remb->ssrc_bytes + 4 * i);
}

size_t prism_rtcp_nack_count(const struct prism_rtcp_item *item)
{
    if (!is_fb(item, PRISM_RTCP_RTPFB, PRISM_RTCP_RTPFB_NACK))
        return 0;
    return item->body_len / NACK_ENTRY_BYTES;
}

int prism_rtcp_nack_entry(const struct prism_rtcp_item *item, size_t i, uint16_t *pid,
                          uint16_t *blp)
{
    if (i >= prism_rtcp_nack_count(item) || pid == NULL || blp == NULL)
        return PRISM_EINVAL;
    const uint8_t *e = item->body + i * NACK_ENTRY_BYTES;
    *pid = prism_load_be16(e);
    *blp = prism_load_be16(e + 2);
    return 0;
}

size_t prism_rtcp_nack_expand(uint16_t pid, uint16_t blp, uint16_t out[PRISM_RTCP_NACK_MAX_SEQS])
{
    size_t n = 0;
    out[n++] = pid;
    for (unsigned k = 1; k <= 16; k++) {
        if (blp & (1u << (k - 1)))
            out[n++] = (uint16_t)(pid + k);
    }
    return n;
}

bool prism_rtcp_is_tcc(const struct prism_rtcp_item *item)
{
    return is_fb(item, PRISM_RTCP_RTPFB, PRISM_RTCP_RTPFB_TCC);
}

int prism_rtcp_parse_tcc(const struct prism_rtcp_item *item, struct prism_rtcp_tcc *out)
{
    if (!prism_rtcp_is_tcc(item) || out == NULL || item->body_len < TCC_FIXED_FCI)
        return PRISM_EINVAL;
    const uint8_t *f = item->body;
    out->base_seq = prism_load_be16(f);
    out->status_count = prism_load_be16(f + 2);
    out->reference_time_64ms = sign24(prism_load_be24(f + 4));
    out->fb_pkt_count = f[7];
    return 0;
}

/* The common header of a `bytes`-long packet (a multiple of 4, >= 4). */
static void write_header(uint8_t *buf, uint8_t count, uint8_t pt, size_t bytes)
{
    buf[0] = (uint8_t)(RTCP_VERSION << 6 | (count & 0x1f));
    buf[1] = pt;
    prism_store_be16(buf + 2, (uint16_t)(bytes / 4 - 1));
}

int prism_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (buf == NULL)
        return PRISM_EINVAL;
    if (cap < PRISM_RTCP_PLI_BYTES)
        return PRISM_ENOMEM;
    write_header(buf, PRISM_RTCP_PSFB_PLI, PRISM_RTCP_PSFB, PRISM_RTCP_PLI_BYTES);
    prism_store_be32(buf + 4, sender_ssrc);
    prism_store_be32(buf + 8, media_ssrc);
    return PRISM_RTCP_PLI_BYTES;
}

int prism_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                         uint8_t seq_nr)
{
    if (buf == NULL)
        return PRISM_EINVAL;
    if (cap < PRISM_RTCP_FIR_BYTES)
        return PRISM_ENOMEM;
    write_header(buf, PRISM_RTCP_PSFB_FIR, PRISM_RTCP_PSFB, PRISM_RTCP_FIR_BYTES);
    prism_store_be32(buf + 4, sender_ssrc);
    prism_store_be32(buf + 8, 0); /* RFC 5104 §4.3.1.2: the FCI names the target */
    prism_store_be32(buf + 12, media_ssrc);
    buf[16] = seq_nr;
    buf[17] = buf[18] = buf[19] = 0;
    return PRISM_RTCP_FIR_BYTES;
}

static void write_report_block(uint8_t *b, const struct prism_rtcp_report_block *r)
{
    int32_t lost = r->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    else if (lost < -0x800000)
        lost = -0x800000;
    prism_store_be32(b, r->ssrc);
    prism_store_be32(b + 4, (uint32_t)r->fraction_lost << 24 | ((uint32_t)lost & 0xffffff));
    prism_store_be32(b + 8, r->ext_highest_seq);
    prism_store_be32(b + 12, r->jitter);
    prism_store_be32(b + 16, r->lsr);
    prism_store_be32(b + 20, r->dlsr);
}

int prism_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
                        const struct prism_rtcp_report_block *blocks, size_t n)
{
    if (buf == NULL || n > PRISM_RTCP_MAX_REPORT_BLOCKS || (n > 0 && blocks == NULL))
        return PRISM_EINVAL;
    size_t bytes = 8 + n * PRISM_RTCP_REPORT_BLOCK_BYTES;
    if (cap < bytes)
        return PRISM_ENOMEM;
    write_header(buf, (uint8_t)n, PRISM_RTCP_RR, bytes);
    prism_store_be32(buf + 4, sender_ssrc);
    for (size_t i = 0; i < n; i++)
        write_report_block(buf + 8 + i * PRISM_RTCP_REPORT_BLOCK_BYTES, &blocks[i]);
    return (int)bytes;
}

int prism_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
                        const struct prism_rtcp_sender_info *info)
{
    if (buf == NULL || info == NULL)
        return PRISM_EINVAL;
    if (cap < PRISM_RTCP_SR_BYTES)
        return PRISM_ENOMEM;
    write_header(buf, 0, PRISM_RTCP_SR, PRISM_RTCP_SR_BYTES);
    prism_store_be32(buf + 4, sender_ssrc);
    prism_store_be32(buf + 8, (uint32_t)(info->ntp >> 32));
    prism_store_be32(buf + 12, (uint32_t)info->ntp);
    prism_store_be32(buf + 16, info->rtp_timestamp);
    prism_store_be32(buf + 20, info->packet_count);
    prism_store_be32(buf + 24, info->octet_count);
    return PRISM_RTCP_SR_BYTES;
}

void prism_rtcp_remb_encode(uint64_t bitrate_bps, uint32_t *mantissa, uint8_t *exponent)
{
    uint8_t e = 0;
    while ((bitrate_bps >> e) >= (1u << 18))
        e++;
    *mantissa = (uint32_t)(bitrate_bps >> e);
    *exponent = e;
}

int prism_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate_bps,
                          const uint32_t *ssrcs, size_t n)
{
    if (buf == NULL || ssrcs == NULL || n == 0 || n > PRISM_RTCP_REMB_MAX_SSRCS)
        return PRISM_EINVAL;
    size_t bytes = FB_FIXED_BYTES + REMB_FIXED_FCI + 4 * n;
    if (cap < bytes)
        return PRISM_ENOMEM;
    uint32_t mantissa;
    uint8_t exponent;
    prism_rtcp_remb_encode(bitrate_bps, &mantissa, &exponent);
    write_header(buf, PRISM_RTCP_PSFB_AFB, PRISM_RTCP_PSFB, bytes);
    prism_store_be32(buf + 4, sender_ssrc);
    prism_store_be32(buf + 8, 0); /* the draft: media source SSRC is always 0 */
    memcpy(buf + 12, "REMB", 4);
    buf[16] = (uint8_t)n;
    buf[17] = (uint8_t)((uint32_t)exponent << 2 | mantissa >> 16);
    prism_store_be16(buf + 18, (uint16_t)mantissa);
    for (size_t i = 0; i < n; i++)
        prism_store_be32(buf + 20 + 4 * i, ssrcs[i]);
    return (int)bytes;
}

/* Walk `seqs` as the NACK packer does; with `fci` non-NULL also write the
 * entries there. Returns the number of entries. */
static size_t pack_nack(const uint16_t *seqs, size_t n, uint8_t *fci)
{
    size_t entries = 0;
    uint16_t pid = 0, blp = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t d = (uint16_t)(seqs[i] - pid);
        if (entries > 0 && d == 0)
            continue;
        if (entries > 0 && d <= 16) {
            blp |= (uint16_t)(1u << (d - 1));
            continue;
        }
        if (entries > 0 && fci != NULL) {
            prism_store_be16(fci + 4 * (entries - 1), pid);
            prism_store_be16(fci + 4 * (entries - 1) + 2, blp);
        }
        entries++;
        pid = seqs[i];
        blp = 0;
    }
    if (entries > 0 && fci != NULL) {
        prism_store_be16(fci + 4 * (entries - 1), pid);
        prism_store_be16(fci + 4 * (entries - 1) + 2, blp);
    }
    return entries;
}

int prism_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                          const uint16_t *seqs, size_t n)
{
    if (buf == NULL || seqs == NULL || n == 0)
        return PRISM_EINVAL;
    size_t entries = pack_nack(seqs, n, NULL);
    if (entries > MAX_LENGTH_WORDS - 2)
        return PRISM_EINVAL;
    size_t bytes = FB_FIXED_BYTES + NACK_ENTRY_BYTES * entries;
    if (cap < bytes || bytes > (size_t)INT32_MAX)
        return PRISM_ENOMEM;
    write_header(buf, PRISM_RTCP_RTPFB_NACK, PRISM_RTCP_RTPFB, bytes);
    prism_store_be32(buf + 4, sender_ssrc);
    prism_store_be32(buf + 8, media_ssrc);
    pack_nack(seqs, n, buf + FB_FIXED_BYTES);
    return (int)bytes;
}

/* Bytes of FCI in a feedback block of type `pt` and format `fmt` (padding
 * excluded), or -1 when `block` is not one or is malformed. */
static long fb_fci_len(const uint8_t *block, size_t block_len, uint8_t pt, uint8_t fmt)
{
    if (block == NULL || block_len < FB_FIXED_BYTES || block[1] != pt || (block[0] & 0x1f) != fmt)
        return -1;
    size_t pad = (block[0] & 0x20) ? block[block_len - 1] : 0;
    if (pad > block_len - FB_FIXED_BYTES)
        return -1;
    return (long)(block_len - FB_FIXED_BYTES - pad);
}

int prism_rtcp_set_sender_ssrc(uint8_t *block, size_t block_len, uint32_t ssrc)
{
    if (block == NULL || block_len < 8)
        return PRISM_EINVAL;
    switch (block[1]) {
    case PRISM_RTCP_SR:
    case PRISM_RTCP_RR:
    case PRISM_RTCP_APP:
    case PRISM_RTCP_XR:
    case PRISM_RTCP_RTPFB:
    case PRISM_RTCP_PSFB: prism_store_be32(block + 4, ssrc); return 0;
    default: return PRISM_EINVAL;
    }
}

int prism_rtcp_rewrite_media_ssrc(uint8_t *block, size_t block_len, uint32_t ssrc)
{
    if (block == NULL || block_len < FB_FIXED_BYTES ||
        (block[1] != PRISM_RTCP_RTPFB && block[1] != PRISM_RTCP_PSFB))
        return PRISM_EINVAL;
    prism_store_be32(block + 8, ssrc);
    return 0;
}

int prism_rtcp_rewrite_fir_ssrc(uint8_t *block, size_t block_len, size_t i, uint32_t ssrc)
{
    long fci = fb_fci_len(block, block_len, PRISM_RTCP_PSFB, PRISM_RTCP_PSFB_FIR);
    if (fci < 0 || i >= (size_t)fci / FIR_ENTRY_BYTES)
        return PRISM_EINVAL;
    prism_store_be32(block + FB_FIXED_BYTES + i * FIR_ENTRY_BYTES, ssrc);
    return 0;
}

int prism_rtcp_rewrite_nack_entry(uint8_t *block, size_t block_len, size_t i, uint16_t pid,
                                  uint16_t blp)
{
    long fci = fb_fci_len(block, block_len, PRISM_RTCP_RTPFB, PRISM_RTCP_RTPFB_NACK);
    if (fci < 0 || i >= (size_t)fci / NACK_ENTRY_BYTES)
        return PRISM_EINVAL;
    uint8_t *e = block + FB_FIXED_BYTES + i * NACK_ENTRY_BYTES;
    prism_store_be16(e, pid);
    prism_store_be16(e + 2, blp);
    return 0;
}
