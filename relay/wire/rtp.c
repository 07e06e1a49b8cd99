/* RTP header parsing, extensions, rewrites, key frames and receive
 * statistics. See rtp.h for the contracts; this file runs once or more per
 * packet on a worker, so it is O(header) with no allocation, and every read
 * is checked against the length first. Fields are read byte-wise: a packet
 * in a pool buffer has no alignment guarantee.
 */
#include "relay/wire/rtp.h"

#include <string.h>

#include "relay/base/bytes.h"
#include "relay/base/error.h"

#define RTP_VERSION 2
#define SEQ_MOD 65536u
#define MAX_DROPOUT 3000u /* RFC 3550 A.1: a gap this big or less is loss */
#define MAX_MISORDER 100u /* RFC 3550 A.1: this far behind is a late packet */

int prism_rtp_parse(const uint8_t *pkt, size_t len, struct prism_rtp_header *out)
{
    if (pkt == NULL || out == NULL || len < PRISM_RTP_HEADER_MIN)
        return PRISM_EINVAL;
    if (pkt[0] >> 6 != RTP_VERSION)
        return PRISM_EINVAL;
    bool has_padding = (pkt[0] & 0x20) != 0;
    bool has_ext = (pkt[0] & 0x10) != 0;
    memset(out, 0, sizeof(*out));
    out->csrc_count = pkt[0] & 0x0f;
    out->marker = (pkt[1] & 0x80) != 0;
    out->payload_type = pkt[1] & 0x7f;
    out->seq = prism_load_be16(pkt + 2);
    out->timestamp = prism_load_be32(pkt + 4);
    out->ssrc = prism_load_be32(pkt + 8);

    size_t off = PRISM_RTP_HEADER_MIN + 4u * out->csrc_count;
    if (off > len)
        return PRISM_EINVAL;
    if (has_ext) {
        if (len - off < 4)
            return PRISM_EINVAL;
        out->ext_profile = prism_load_be16(pkt + off);
        size_t ext_len = 4u * prism_load_be16(pkt + off + 2);
        off += 4;
        if (ext_len > len - off)
            return PRISM_EINVAL;
        out->ext_offset = off;
        out->ext_len = ext_len;
        off += ext_len;
    }
    out->header_len = off;
    if (has_padding) {
        /* The count is the last byte and counts itself, so 0 is malformed
         * (RFC 3550 §5.1), and it may not eat into the header. */
        if (off == len)
            return PRISM_EINVAL;
        uint8_t pad = pkt[len - 1];
        if (pad == 0 || pad > len - off)
            return PRISM_EINVAL;
        out->padding_len = pad;
    }
    out->payload_len = len - off - out->padding_len;
    return 0;
}

int prism_rtp_ext_iter_init(struct prism_rtp_ext_iter *it, const uint8_t *pkt,
                            const struct prism_rtp_header *h)
{
    if (it == NULL || pkt == NULL || h == NULL)
        return PRISM_EINVAL;
    it->p = pkt + h->ext_offset;
    it->n = h->ext_offset == 0 ? 0 : h->ext_len;
    it->i = 0;
    it->two_byte = (h->ext_profile & PRISM_RTP_EXT_TWO_BYTE_MASK) == PRISM_RTP_EXT_TWO_BYTE;
    if (h->ext_profile != PRISM_RTP_EXT_ONE_BYTE && !it->two_byte)
        it->n = 0; /* an unknown profile: nothing we can read inside */
    return 0;
}

int prism_rtp_ext_next(struct prism_rtp_ext_iter *it, uint8_t *id, const uint8_t **data,
                       size_t *len)
{
    while (it->i < it->n) {
        uint8_t b = it->p[it->i];
        if (b == 0) { /* padding between elements */
            it->i++;
            continue;
        }
        size_t elen;
        if (!it->two_byte) {
            if (b >> 4 == 15) { /* RFC 8285 §4.2: stop processing the block */
                it->i = it->n;
                return 0;
            }
            elen = (size_t)(b & 0x0f) + 1;
            it->i++;
            *id = b >> 4;
        } else {
            if (it->n - it->i < 2)
                return PRISM_EINVAL;
            elen = it->p[it->i + 1];
            it->i += 2;
            *id = b;
        }
        if (elen > it->n - it->i)
            return PRISM_EINVAL;
        *data = it->p + it->i;
        *len = elen;
        it->i += elen;
        return 1;
    }
    return 0;
}

int prism_rtp_find_ext(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                       const uint8_t **data, size_t *len)
{
    struct prism_rtp_ext_iter it;
    if (data == NULL || len == NULL || id == 0 || prism_rtp_ext_iter_init(&it, pkt, h) != 0)
        return PRISM_EINVAL;
    if (!it.two_byte && id > 14)
        return PRISM_ENOTFOUND;
    uint8_t eid;
    const uint8_t *d;
    size_t n;
    int rc;
    while ((rc = prism_rtp_ext_next(&it, &eid, &d, &n)) == 1) {
        if (eid == id) {
            *data = d;
            *len = n;
            return 0;
        }
    }
    return rc < 0 ? rc : PRISM_ENOTFOUND;
}

/* An SDES item element (mid, rid) into `out` (PRISM_RTP_MID_MAX + 1 bytes):
 * true when it is 1..PRISM_RTP_MID_MAX bytes without a NUL. */
static bool sdes_item(const uint8_t *d, size_t n, char *out)
{
    if (n == 0 || n > PRISM_RTP_MID_MAX || memchr(d, 0, n) != NULL)
        return false;
    memcpy(out, d, n);
    out[n] = '\0';
    return true;
}

int prism_rtp_read_exts(const uint8_t *pkt, const struct prism_rtp_header *h,
                        const struct prism_rtp_ext_ids *ids, struct prism_rtp_ext_values *out)
{
    struct prism_rtp_ext_iter it;
    if (ids == NULL || out == NULL || prism_rtp_ext_iter_init(&it, pkt, h) != 0)
        return PRISM_EINVAL;
    out->has_mid = out->has_audio_level = out->has_transport_seq = false;
    out->has_rid = out->repaired = out->has_av1dd = false;
    /* The first element of an id decides, valid or not (as prism_rtp_find_ext). */
    bool seen_mid = ids->mid == 0, seen_level = ids->audio_level == 0;
    bool seen_tseq = ids->transport_seq == 0, seen_dd = ids->av1dd == 0;
    /* A packet carries a rid or a repaired-rid, never both: either ends the search. */
    bool seen_rid = ids->rid == 0 && ids->repaired_rid == 0;
    uint8_t id;
    const uint8_t *d;
    size_t n;
    int rc = 0;
    while ((!seen_mid || !seen_level || !seen_tseq || !seen_rid || !seen_dd) &&
           (rc = prism_rtp_ext_next(&it, &id, &d, &n)) == 1) {
        if (id == ids->mid && !seen_mid) {
            seen_mid = true;
            out->has_mid = sdes_item(d, n, out->mid);
        } else if (id == ids->audio_level && !seen_level) {
            seen_level = true;
            if (n >= 1) {
                out->voice = (d[0] & 0x80) != 0;
                out->level_dbov = d[0] & 0x7f;
                out->has_audio_level = true;
            }
        } else if (id == ids->transport_seq && !seen_tseq) {
            seen_tseq = true;
            if (n >= 2) {
                out->transport_seq = prism_load_be16(d);
                out->has_transport_seq = true;
            }
        } else if ((id == ids->rid || id == ids->repaired_rid) && !seen_rid) {
            seen_rid = true;
            out->repaired = id == ids->repaired_rid;
            out->has_rid = sdes_item(d, n, out->rid);
        } else if (id == ids->av1dd && !seen_dd) {
            seen_dd = true;
            out->has_av1dd = n >= 1;
            out->av1dd_off = (uint16_t)(d - pkt); /* within the header: < 64 KiB */
            out->av1dd_len = (uint16_t)n;
        }
    }
    return rc < 0 ? rc : 0;
}

int prism_rtp_get_audio_level(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                              bool *voice, uint8_t *level_dbov)
{
    const uint8_t *d;
    size_t n;
    int err = prism_rtp_find_ext(pkt, h, id, &d, &n);
    if (err < 0)
        return err;
    if (n < 1 || voice == NULL || level_dbov == NULL)
        return PRISM_EINVAL;
    *voice = (d[0] & 0x80) != 0;
    *level_dbov = d[0] & 0x7f;
    return 0;
}

int prism_rtp_get_mid(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id, char *out,
                      size_t cap)
{
    const uint8_t *d;
    size_t n;
    int err = prism_rtp_find_ext(pkt, h, id, &d, &n);
    if (err < 0)
        return err;
    if (out == NULL || n == 0 || memchr(d, 0, n) != NULL)
        return PRISM_EINVAL;
    if (cap < n + 1)
        return PRISM_ENOMEM;
    memcpy(out, d, n);
    out[n] = '\0';
    return 0;
}

int prism_rtp_get_abs_send_time(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                                uint32_t *abs_send_time)
{
    const uint8_t *d;
    size_t n;
    int err = prism_rtp_find_ext(pkt, h, id, &d, &n);
    if (err < 0)
        return err;
    if (n != 3 || abs_send_time == NULL)
        return PRISM_EINVAL;
    *abs_send_time = prism_load_be24(d);
    return 0;
}

int prism_rtp_get_transport_seq(const uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                                uint16_t *transport_seq)
{
    const uint8_t *d;
    size_t n;
    int err = prism_rtp_find_ext(pkt, h, id, &d, &n);
    if (err < 0)
        return err;
    if (n < 2 || transport_seq == NULL)
        return PRISM_EINVAL;
    *transport_seq = prism_load_be16(d);
    return 0;
}

int prism_rtp_set_transport_seq(uint8_t *pkt, const struct prism_rtp_header *h, uint8_t id,
                                uint16_t transport_seq)
{
    const uint8_t *d;
    size_t n;
    int err = prism_rtp_find_ext(pkt, h, id, &d, &n);
    if (err < 0)
        return err;
    if (n < 2)
        return PRISM_EINVAL;
    /* d points into pkt, which the caller gave us writable. */
    prism_store_be16(pkt + (size_t)(d - pkt), transport_seq);
    return 0;
}

void prism_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc)
{
    prism_store_be32(pkt + 8, ssrc);
}

void prism_rtp_set_seq(uint8_t *pkt, uint16_t seq)
{
    prism_store_be16(pkt + 2, seq);
}

void prism_rtp_set_timestamp(uint8_t *pkt, uint32_t timestamp)
{
    prism_store_be32(pkt + 4, timestamp);
}

void prism_rtp_set_payload_type(uint8_t *pkt, uint8_t payload_type)
{
    pkt[1] = (uint8_t)((pkt[1] & 0x80) | (payload_type & 0x7f));
}

void prism_rtp_set_marker(uint8_t *pkt, bool marker)
{
    pkt[1] = (uint8_t)((pkt[1] & 0x7f) | (marker ? 0x80 : 0));
}

bool prism_rtp_is_vp8_keyframe(const uint8_t *payload, size_t len)
{
    if (payload == NULL || len < 1)
        return false;
    uint8_t b = payload[0];
    /* S: start of a partition; PID 0: the first partition, which holds the
     * frame header. */
    if ((b & 0x10) == 0 || (b & 0x07) != 0)
        return false;
    size_t i = 1;
    if (b & 0x80) { /* X: extension byte I|L|T|K */
        if (i >= len)
            return false;
        uint8_t x = payload[i++];
        if (x & 0x80) { /* I: PictureID, 15 bits when M is set */
            if (i >= len)
                return false;
            i += (payload[i] & 0x80) ? 2 : 1;
        }
        if (x & 0x40) /* L: TL0PICIDX */
            i++;
        if (x & 0x30) /* T or K: TID|Y|KEYIDX share one byte */
            i++;
    }
    /* RFC 6386 §9.1: a 3-byte frame tag whose bit 0 is 0 on key frames, then
     * the start code and 4 bytes of dimensions. */
    if (i > len || len - i < 10)
        return false;
    const uint8_t *f = payload + i;
    return (f[0] & 0x01) == 0 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a;
}

static bool h264_key_nal(uint8_t nal_type)
{
    return nal_type == 5 || nal_type == 7; /* IDR slice, SPS */
}

bool prism_rtp_is_h264_keyframe(const uint8_t *payload, size_t len)
{
    if (payload == NULL || len < 1)
        return false;
    uint8_t type = payload[0] & 0x1f;
    if (type >= 1 && type <= 23)
        return h264_key_nal(type);
    if (type == 24) { /* STAP-A: (16-bit size, NAL unit)* */
        size_t i = 1;
        while (len - i >= 2) {
            size_t size = prism_load_be16(payload + i);
            i += 2;
            if (size == 0 || size > len - i)
                return false;
            if (h264_key_nal(payload[i] & 0x1f))
                return true;
            i += size;
        }
        return false;
    }
    if (type == 28) { /* FU-A: indicator, then S|E|R|type */
        if (len < 2 || (payload[1] & 0x80) == 0)
            return false;
        return h264_key_nal(payload[1] & 0x1f);
    }
    return false;
}

bool prism_rtp_is_vp9_keyframe(const uint8_t *payload, size_t len)
{
    if (payload == NULL || len < 1)
        return false;
    uint8_t b = payload[0]; /* I|P|L|F|B|E|V|Z */
    if ((b & 0x40) != 0 || (b & 0x08) == 0)
        return false;
    size_t i = 1;
    if (b & 0x80) { /* I: PictureID, 15 bits when M is set */
        if (i >= len)
            return false;
        i += (payload[i] & 0x80) ? 2 : 1;
    }
    if (b & 0x20) { /* L: TID(3)|U|SID(3)|D; a key frame starts at layer 0 */
        if (i >= len)
            return false;
        if (((payload[i] >> 1) & 0x07) != 0)
            return false;
    }
    return true;
}

void prism_rtp_seq_stats_init(struct prism_rtp_seq_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->bad_seq = SEQ_MOD + 1; /* matches no seq */
}

/* A.1 init_seq(), with `ext` as the extended seq of the first packet. */
static void seq_stats_start(struct prism_rtp_seq_stats *s, uint16_t seq, uint64_t ext)
{
    s->started = true;
    s->max_seq = seq;
    s->ext_seq = ext;
    s->cycles = (uint32_t)(ext >> 16);
    s->base_ext_seq = ext;
    s->bad_seq = SEQ_MOD + 1;
    s->received = 0;
    s->expected_prior = 0;
    s->received_prior = 0;
}

/* A.8: J += (|D| - J) / 16, kept as 16 * J to stay in integers. */
static void seq_stats_count(struct prism_rtp_seq_stats *s, uint32_t timestamp, uint32_t arrival)
{
    s->received++;
    uint32_t transit = arrival - timestamp;
    if (s->received > 1) {
        int64_t d = (int32_t)(transit - s->last_transit);
        uint64_t ad = (uint64_t)(d < 0 ? -d : d);
        s->jitter_q4 = s->jitter_q4 + ad - ((s->jitter_q4 + 8) >> 4);
    }
    s->last_transit = transit;
}

enum prism_rtp_seq_verdict prism_rtp_seq_stats_update(struct prism_rtp_seq_stats *s, uint16_t seq,
                                                      uint32_t timestamp, uint32_t arrival,
                                                      uint64_t *ext_seq_out)
{
    if (!s->started) {
        seq_stats_start(s, seq, seq);
        seq_stats_count(s, timestamp, arrival);
        if (ext_seq_out != NULL)
            *ext_seq_out = s->ext_seq;
        return PRISM_RTP_SEQ_NEW;
    }
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    enum prism_rtp_seq_verdict verdict;
    if (udelta < MAX_DROPOUT) {
        if (seq < s->max_seq)
            s->cycles++;
        s->max_seq = seq;
        s->ext_seq = (uint64_t)s->cycles << 16 | seq;
        if (ext_seq_out != NULL)
            *ext_seq_out = s->ext_seq;
        verdict = udelta == 0 ? PRISM_RTP_SEQ_OLD : PRISM_RTP_SEQ_NEW;
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        if (seq != s->bad_seq) {
            s->bad_seq = (uint16_t)(seq + 1);
            return PRISM_RTP_SEQ_JUMP;
        }
        /* Two sequential packets after a jump: the source restarted. Keep
         * ext_seq monotonic so NACK history keyed on it stays ordered. */
        uint64_t ext = (s->ext_seq & ~(uint64_t)0xffff) | seq;
        if (ext <= s->ext_seq)
            ext += SEQ_MOD;
        seq_stats_start(s, seq, ext);
        if (ext_seq_out != NULL)
            *ext_seq_out = ext;
        verdict = PRISM_RTP_SEQ_RESYNC;
    } else {
        uint16_t back = (uint16_t)(s->max_seq - seq);
        if (ext_seq_out != NULL && back <= s->ext_seq)
            *ext_seq_out = s->ext_seq - back;
        verdict = PRISM_RTP_SEQ_OLD;
    }
    s->bad_seq = SEQ_MOD + 1;
    seq_stats_count(s, timestamp, arrival);
    return verdict;
}

uint64_t prism_rtp_seq_stats_expected(const struct prism_rtp_seq_stats *s)
{
    return s->started ? s->ext_seq - s->base_ext_seq + 1 : 0;
}

int32_t prism_rtp_seq_stats_lost(const struct prism_rtp_seq_stats *s)
{
    uint64_t expected = prism_rtp_seq_stats_expected(s);
    if (expected >= s->received) {
        uint64_t lost = expected - s->received;
        return lost > 0x7fffff ? 0x7fffff : (int32_t)lost;
    }
    uint64_t extra = s->received - expected;
    return extra > 0x800000 ? -0x800000 : -(int32_t)extra;
}

uint32_t prism_rtp_seq_stats_jitter(const struct prism_rtp_seq_stats *s)
{
    uint64_t j = s->jitter_q4 >> 4;
    return j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
}

uint8_t prism_rtp_seq_stats_fraction_lost(struct prism_rtp_seq_stats *s)
{
    uint64_t expected = prism_rtp_seq_stats_expected(s);
    uint64_t expected_interval = expected - s->expected_prior;
    uint64_t received_interval = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    if (expected_interval == 0 || received_interval >= expected_interval)
        return 0;
    uint64_t fraction = ((expected_interval - received_interval) << 8) / expected_interval;
    return fraction > 255 ? 255 : (uint8_t)fraction;
}
