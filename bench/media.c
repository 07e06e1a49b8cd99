/* prism-bench: clips, senders and receivers (see media.h).
 *
 * VP8 payload descriptor we write (RFC 7741 §4.2): X=1, S on the first
 * packet of a frame, PID 0, then I=1 with a 15-bit PictureID (M=1): 4 bytes.
 * A frame is split into near-equal packets of at most PRISM_BENCH_MAX_PAYLOAD
 * bytes; the marker bit ends it. Opus (RFC 7587): one 20 ms frame per packet.
 *
 * Receiver policy for VP8: a frame is decoded only when its packets arrived
 * in sequence from the S packet to the marker; after any sequence gap the
 * decoder's references are unknown, so nothing is decoded until the next
 * key frame and a PLI is asked for (pli_due). Frames not decoded are frozen
 * frames. Decode errors are what libvpx/libopus reject among frames that
 * arrived whole: on a clean path, there must be none.
 */
#include "bench/media.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus/opus.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "relay/base/error.h"

#define OPUS_RATE 48000
#define OPUS_FRAME 960                   /* samples per 20 ms */
#define PCM_MAX (OPUS_RATE / 1000 * 120) /* 120 ms, the largest Opus frame */
#define VP8_FRAME_CAP (512 * 1024)
#define EXT_BYTES 8 /* 0xBEDE block: 4 header + 1 id/len + 3 data */
#define VP8_DESC 4

uint64_t prism_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* abs-send-time: 6.18 fixed-point seconds, 24 bits. */
static uint32_t abs_send_time(uint64_t ns)
{
    return (uint32_t)(((ns / 1000) << 18) / 1000000) & 0xFFFFFFu;
}

/* --- histogram ----------------------------------------------------------- */

void prism_bench_hist_add(struct prism_bench_hist *h, uint64_t us)
{
    size_t i;
    if (us < 10 * PRISM_BENCH_HIST_FINE)
        i = us / 10;
    else if (us < 1000000)
        i = PRISM_BENCH_HIST_FINE + (us - 10000) / 1000;
    else
        i = PRISM_BENCH_HIST_N - 1;
    h->b[i]++;
    h->n++;
}

void prism_bench_hist_merge(struct prism_bench_hist *into, const struct prism_bench_hist *h)
{
    for (size_t i = 0; i < PRISM_BENCH_HIST_N; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
}

double prism_bench_hist_quantile_ms(const struct prism_bench_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->n);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < PRISM_BENCH_HIST_N; i++) {
        seen += h->b[i];
        if (seen >= want) {
            if (i < PRISM_BENCH_HIST_FINE)
                return (double)(i + 1) * 0.01;
            if (i < PRISM_BENCH_HIST_N - 1)
                return 10.0 + (double)(i - PRISM_BENCH_HIST_FINE + 1);
            return 1000.0;
        }
    }
    return 1000.0;
}

/* --- clips ----------------------------------------------------------------- */

static int clip_alloc(size_t n_frames, size_t blob_cap, struct prism_bench_clip **out)
{
    struct prism_bench_clip *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PRISM_ENOMEM;
    c->frames = calloc(n_frames, sizeof(*c->frames));
    c->blob = malloc(blob_cap);
    if (c->frames == NULL || c->blob == NULL) {
        prism_bench_clip_free(c);
        return PRISM_ENOMEM;
    }
    *out = c;
    return 0;
}

void prism_bench_clip_free(struct prism_bench_clip *c)
{
    if (c == NULL)
        return;
    free(c->frames);
    free(c->blob);
    free(c);
}

int prism_bench_clip_opus(unsigned kbps, double seconds, struct prism_bench_clip **out)
{
    size_t n = (size_t)(seconds * 50);
    if (n == 0 || kbps < 6 || kbps > 510)
        return PRISM_EINVAL;
    struct prism_bench_clip *c;
    int r = clip_alloc(n, n * 1276, &c);
    if (r != 0)
        return r;
    int err;
    OpusEncoder *enc = opus_encoder_create(OPUS_RATE, 1, OPUS_APPLICATION_VOIP, &err);
    if (enc == NULL) {
        prism_bench_clip_free(c);
        return PRISM_EINTERNAL;
    }
    opus_encoder_ctl(enc, OPUS_SET_BITRATE((opus_int32)kbps * 1000));
    int16_t pcm[OPUS_FRAME];
    size_t off = 0;
    for (size_t f = 0; f < n; f++) {
        for (size_t i = 0; i < OPUS_FRAME; i++) {
            double t = (double)(f * OPUS_FRAME + i) / OPUS_RATE;
            pcm[i] = (int16_t)(8000.0 * sin(2 * M_PI * 440.0 * t));
        }
        opus_int32 len = opus_encode(enc, pcm, OPUS_FRAME, c->blob + off, 1276);
        if (len <= 0) {
            opus_encoder_destroy(enc);
            prism_bench_clip_free(c);
            return PRISM_EINTERNAL;
        }
        c->frames[f] = (struct prism_bench_frame){c->blob + off, (size_t)len, false};
        off += (size_t)len;
    }
    opus_encoder_destroy(enc);
    c->n_frames = n;
    c->bytes = off;
    c->kbps = kbps;
    c->clock_hz = OPUS_RATE;
    c->ts_step = OPUS_FRAME;
    c->interval_ns = 20000000;
    *out = c;
    return 0;
}

/* Synthetic picture t: diagonal bands moving right, a grid of 16x16 blocks
 * whose shades drift (pseudo-random per block, so the encoder has work
 * without per-pixel noise that would make every key frame costly to decode)
 * and a bright square moving across. */
static void draw(vpx_image_t *img, unsigned t)
{
    unsigned w = img->d_w, h = img->d_h;
    for (unsigned y = 0; y < h; y++) {
        uint8_t *row = img->planes[0] + (size_t)y * (size_t)img->stride[0];
        for (unsigned x = 0; x < w; x++) {
            uint32_t blk = (x / 16) * 2654435761u ^ (y / 16) * 40503u;
            unsigned shade = (blk >> 7) + t * ((blk >> 3) & 3);
            row[x] = (uint8_t)(((x + y + 3 * t) & 0xff) / 2 + (shade & 63));
        }
    }
    unsigned s = h / 4, bx = (t * 4) % (w > s ? w - s : 1), by = h / 3;
    for (unsigned y = by; y < by + s && y < h; y++)
        memset(img->planes[0] + (size_t)y * (size_t)img->stride[0] + bx, 235, s);
    for (int p = 1; p < 3; p++)
        for (unsigned y = 0; y < (h + 1) / 2; y++)
            memset(img->planes[p] + (size_t)y * (size_t)img->stride[p],
                   (int)(128 + (p == 1 ? 40 : -40) * sin((double)(t + y) / 20.0)), (w + 1) / 2);
}

int prism_bench_clip_vp8(unsigned width, unsigned height, unsigned fps, unsigned kbps,
                         double seconds, struct prism_bench_clip **out)
{
    size_t n = (size_t)(seconds * fps);
    if (n == 0 || width < 16 || height < 16 || width > 4096 || height > 4096 || fps == 0 ||
        fps > 120 || kbps < 30)
        return PRISM_EINVAL;
    vpx_codec_enc_cfg_t cfg;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        return PRISM_EINTERNAL;
    cfg.g_w = width;
    cfg.g_h = height;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = (int)fps;
    cfg.rc_target_bitrate = kbps;
    cfg.rc_end_usage = VPX_CBR;
    cfg.g_lag_in_frames = 0;
    cfg.g_threads = 1;
    cfg.g_error_resilient = 0;
    cfg.kf_mode = VPX_KF_DISABLED;
    cfg.rc_min_quantizer = 4;
    cfg.rc_max_quantizer = 56;
    vpx_codec_ctx_t enc;
    if (vpx_codec_enc_init(&enc, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        return PRISM_EINTERNAL;
    vpx_codec_control(&enc, VP8E_SET_CPUUSED, -8);
    vpx_image_t img;
    if (vpx_img_alloc(&img, VPX_IMG_FMT_I420, width, height, 16) == NULL) {
        vpx_codec_destroy(&enc);
        return PRISM_ENOMEM;
    }
    /* Room for 4x the target rate plus key frames. */
    size_t cap = (size_t)kbps * 125 * 4 * (size_t)(seconds + 1) + 256 * 1024;
    struct prism_bench_clip *c = NULL;
    int r = clip_alloc(n, cap, &c);
    size_t off = 0, got = 0;
    for (size_t f = 0; r == 0 && f < n; f++) {
        draw(&img, (unsigned)f);
        vpx_enc_frame_flags_t flags = f == 0 ? VPX_EFLAG_FORCE_KF : 0;
        if (vpx_codec_encode(&enc, &img, (vpx_codec_pts_t)f, 1, flags, VPX_DL_REALTIME) !=
            VPX_CODEC_OK) {
            r = PRISM_EINTERNAL;
            break;
        }
        vpx_codec_iter_t it = NULL;
        const vpx_codec_cx_pkt_t *pkt;
        while ((pkt = vpx_codec_get_cx_data(&enc, &it)) != NULL) {
            if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || got == n)
                continue;
            if (off + pkt->data.frame.sz > cap) {
                r = PRISM_ENOMEM;
                break;
            }
            memcpy(c->blob + off, pkt->data.frame.buf, pkt->data.frame.sz);
            c->frames[got++] = (struct prism_bench_frame){
                c->blob + off, pkt->data.frame.sz, (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0};
            off += pkt->data.frame.sz;
        }
    }
    vpx_img_free(&img);
    vpx_codec_destroy(&enc);
    if (r == 0 && (got == 0 || !c->frames[0].key))
        r = PRISM_EINTERNAL;
    if (r != 0) {
        prism_bench_clip_free(c);
        return r;
    }
    c->video = true;
    c->n_frames = got;
    c->bytes = off;
    c->width = width;
    c->height = height;
    c->fps = fps;
    c->kbps = kbps;
    c->clock_hz = 90000;
    c->ts_step = 90000 / fps;
    c->interval_ns = 1000000000u / fps;
    *out = c;
    return 0;
}

/* --- sender ------------------------------------------------------------------ */

void prism_bench_tx_init(struct prism_bench_tx *tx, const struct prism_bench_clip *clip,
                         uint32_t ssrc, uint8_t pt, uint64_t start_ns)
{
    memset(tx, 0, sizeof(*tx));
    tx->clip = clip;
    tx->ssrc = ssrc;
    tx->pt = pt;
    tx->seq = (uint16_t)rand();
    tx->ts = (uint32_t)rand();
    tx->picture_id = (uint16_t)(rand() & 0x7fff);
    tx->next_ns = start_ns;
}

/* Writes the fixed header and the abs-send-time extension; returns its size. */
static size_t write_header(struct prism_bench_tx *tx, uint8_t *p, bool marker, uint64_t now_ns)
{
    p[0] = 0x90; /* V=2, X=1 */
    p[1] = (uint8_t)((marker ? 0x80 : 0) | tx->pt);
    p[2] = (uint8_t)(tx->seq >> 8);
    p[3] = (uint8_t)tx->seq;
    p[4] = (uint8_t)(tx->ts >> 24);
    p[5] = (uint8_t)(tx->ts >> 16);
    p[6] = (uint8_t)(tx->ts >> 8);
    p[7] = (uint8_t)tx->ts;
    p[8] = (uint8_t)(tx->ssrc >> 24);
    p[9] = (uint8_t)(tx->ssrc >> 16);
    p[10] = (uint8_t)(tx->ssrc >> 8);
    p[11] = (uint8_t)tx->ssrc;
    p[12] = 0xBE;
    p[13] = 0xDE;
    p[14] = 0;
    p[15] = 1; /* one 32-bit word of elements */
    uint32_t ast = abs_send_time(now_ns);
    p[16] = (uint8_t)(PRISM_BENCH_EXT_ABS_SEND_TIME << 4 | 2); /* 3 bytes */
    p[17] = (uint8_t)(ast >> 16);
    p[18] = (uint8_t)(ast >> 8);
    p[19] = (uint8_t)ast;
    tx->seq++;
    return 12 + EXT_BYTES;
}

static size_t send_frame(struct prism_bench_tx *tx, const struct prism_bench_frame *fr,
                         uint64_t now_ns, prism_bench_tx_send_cb send, void *ud)
{
    uint8_t pkt[PRISM_BENCH_MAX_PACKET];
    size_t sent = 0;
    if (!tx->clip->video) {
        size_t h = write_header(tx, pkt, false, now_ns);
        size_t len = fr->len < PRISM_BENCH_MAX_PACKET - h ? fr->len : PRISM_BENCH_MAX_PACKET - h;
        memcpy(pkt + h, fr->data, len);
        send(ud, pkt, h + len);
        tx->bytes += h + len;
        sent = 1;
    } else {
        size_t room = PRISM_BENCH_MAX_PAYLOAD - VP8_DESC;
        size_t n = (fr->len + room - 1) / room;
        size_t per = (fr->len + n - 1) / n;
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            size_t len = fr->len - off < per ? fr->len - off : per;
            size_t h = write_header(tx, pkt, i + 1 == n, now_ns);
            pkt[h] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0)); /* X, S, PID 0 */
            pkt[h + 1] = 0x80;                              /* I */
            pkt[h + 2] = (uint8_t)(0x80 | (tx->picture_id >> 8));
            pkt[h + 3] = (uint8_t)tx->picture_id;
            memcpy(pkt + h + VP8_DESC, fr->data + off, len);
            off += len;
            send(ud, pkt, h + VP8_DESC + len);
            tx->bytes += h + VP8_DESC + len;
            sent++;
        }
        tx->picture_id = (uint16_t)((tx->picture_id + 1) & 0x7fff);
    }
    tx->packets += sent;
    tx->frames++;
    return sent;
}

size_t prism_bench_tx_run(struct prism_bench_tx *tx, uint64_t now_ns, prism_bench_tx_send_cb send,
                          void *ud)
{
    const struct prism_bench_clip *c = tx->clip;
    if (now_ns > tx->next_ns + 25 * c->interval_ns) {
        /* Far behind (a stalled loop): resynchronise on the key frame rather
         * than burst, as an encoder starved of CPU would. */
        uint64_t skip = (now_ns - tx->next_ns) / c->interval_ns;
        tx->next_ns += skip * c->interval_ns;
        tx->ts += (uint32_t)(skip * c->ts_step);
        tx->frame = 0;
        tx->resyncs++;
    }
    /* A late video frame goes out one per call (the pacer runs every few
     * ms, several times per frame interval): catching up never bursts
     * several frames into the relay's socket at once. Audio packets are
     * small: up to 4. */
    size_t max_frames = c->video ? 1 : 4, sent = 0;
    for (size_t n = 0; n < max_frames && tx->next_ns <= now_ns; n++) {
        if (tx->keyframe_asked) {
            tx->frame = 0;
            tx->keyframe_asked = false;
        }
        sent += send_frame(tx, &c->frames[tx->frame], now_ns, send, ud);
        tx->frame = (tx->frame + 1) % c->n_frames;
        tx->ts += c->ts_step;
        tx->next_ns += c->interval_ns;
    }
    return sent;
}

void prism_bench_tx_keyframe(struct prism_bench_tx *tx)
{
    if (tx->clip->video) {
        tx->keyframe_asked = true;
        tx->keyframes_asked++;
    }
}

/* --- receiver ------------------------------------------------------------------ */

int prism_bench_rx_init(struct prism_bench_rx *rx, bool video, uint32_t ssrc)
{
    memset(rx, 0, sizeof(*rx));
    rx->video = video;
    rx->ssrc = ssrc;
    rx->clock_hz = video ? 90000 : OPUS_RATE;
    rx->decode = true;
    prism_rtp_seq_stats_init(&rx->seq);
    if (video) {
        vpx_codec_ctx_t *dec = calloc(1, sizeof(*dec));
        rx->frame_buf = malloc(VP8_FRAME_CAP);
        vpx_codec_dec_cfg_t cfg = {.threads = 1};
        if (dec == NULL || rx->frame_buf == NULL ||
            vpx_codec_dec_init(dec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
            free(dec);
            free(rx->frame_buf);
            rx->frame_buf = NULL;
            return PRISM_ENOMEM;
        }
        rx->decoder = dec;
        rx->frame_cap = VP8_FRAME_CAP;
        rx->need_keyframe = true;
    } else {
        int err;
        rx->decoder = opus_decoder_create(OPUS_RATE, 1, &err);
        rx->pcm = malloc(PCM_MAX * sizeof(*rx->pcm));
        if (rx->decoder == NULL || rx->pcm == NULL) {
            if (rx->decoder)
                opus_decoder_destroy(rx->decoder);
            free(rx->pcm);
            rx->decoder = NULL;
            rx->pcm = NULL;
            return PRISM_ENOMEM;
        }
    }
    return 0;
}

void prism_bench_rx_deinit(struct prism_bench_rx *rx)
{
    if (rx->decoder != NULL) {
        if (rx->video) {
            vpx_codec_destroy(rx->decoder);
            free(rx->decoder);
        } else {
            opus_decoder_destroy(rx->decoder);
        }
    }
    free(rx->pcm);
    free(rx->frame_buf);
    rx->decoder = NULL;
    rx->pcm = NULL;
    rx->frame_buf = NULL;
}

uint64_t prism_bench_rx_expected(const struct prism_bench_rx *rx)
{
    return prism_rtp_seq_stats_expected(&rx->seq);
}

uint64_t prism_bench_rx_lost(const struct prism_bench_rx *rx)
{
    uint64_t e = prism_rtp_seq_stats_expected(&rx->seq);
    return e > rx->seq.received ? e - rx->seq.received : 0;
}

static void decode_frame(struct prism_bench_rx *rx, uint64_t now_ns)
{
    bool key = rx->frame_len >= 3 && (rx->frame_buf[0] & 0x01) == 0;
    if (rx->frame_broken || (rx->need_keyframe && !key)) {
        rx->frames_frozen++;
        if (rx->frame_broken)
            rx->need_keyframe = true;
        rx->pli_due = rx->need_keyframe;
        return;
    }
    if (!rx->decode) {
        /* Not decoded (--decode-video): a whole frame in sequence counts. */
        rx->need_keyframe = false;
        rx->frames_decoded++;
        if (rx->first_decoded_ns == 0)
            rx->first_decoded_ns = now_ns;
        return;
    }
    if (vpx_codec_decode(rx->decoder, rx->frame_buf, (unsigned)rx->frame_len, NULL, 0) !=
        VPX_CODEC_OK) {
        rx->decode_errors++;
        rx->need_keyframe = true;
        rx->pli_due = true;
        return;
    }
    vpx_codec_iter_t it = NULL;
    vpx_image_t *img;
    bool shown = false;
    while ((img = vpx_codec_get_frame(rx->decoder, &it)) != NULL)
        shown = true;
    if (!shown) {
        rx->frames_frozen++;
        return;
    }
    rx->need_keyframe = false;
    rx->frames_decoded++;
    if (rx->first_decoded_ns == 0)
        rx->first_decoded_ns = now_ns;
}

/* One VP8 packet: payload descriptor, then reassembly in sequence. */
static void rx_vp8(struct prism_bench_rx *rx, const struct prism_rtp_header *h, const uint8_t *pl,
                   size_t len, bool in_seq, uint64_t now_ns)
{
    size_t d = 1;
    if (len < 1)
        return;
    bool start = (pl[0] & 0x10) != 0 && (pl[0] & 0x07) == 0;
    if (pl[0] & 0x80) {
        if (len < 2)
            return;
        uint8_t x = pl[1];
        d = 2;
        if (x & 0x80)
            d += len > d && (pl[d] & 0x80) ? 2 : 1;
        if (x & 0x40)
            d++;
        if (x & 0x30)
            d++;
    }
    if (d > len)
        return;
    if (!in_seq) {
        /* Something was lost: the references are gone until a key frame. */
        if (rx->frame_open)
            rx->frame_broken = true;
        rx->need_keyframe = true;
        rx->pli_due = true;
    }
    if (start) {
        if (rx->frame_open) {
            /* The previous frame never saw its marker. */
            rx->frames_frozen++;
            rx->need_keyframe = true;
            rx->pli_due = true;
        }
        rx->frame_open = true;
        rx->frame_broken = false;
        rx->frame_len = 0;
        rx->frame_ts = h->timestamp;
    } else if (!rx->frame_open || h->timestamp != rx->frame_ts) {
        return; /* the middle of a frame whose start we lost */
    }
    if (rx->frame_len + (len - d) > rx->frame_cap) {
        rx->frame_broken = true;
    } else {
        memcpy(rx->frame_buf + rx->frame_len, pl + d, len - d);
        rx->frame_len += len - d;
    }
    if (h->marker) {
        decode_frame(rx, now_ns);
        rx->frame_open = false;
    }
}

/* The accounting every packet gets, from its header: counts, RFC 3550
 * loss and jitter, one-way delay from abs-send-time. Returns whether it is
 * the next in sequence (for VP8 reassembly). */
static bool rx_account(struct prism_bench_rx *rx, const uint8_t *pkt,
                       const struct prism_rtp_header *h, size_t len, uint64_t now_ns)
{
    rx->packets++;
    rx->bytes += len;
    if (rx->first_packet_ns == 0)
        rx->first_packet_ns = now_ns;
    rx->last_packet_ns = now_ns;
    uint32_t arrival = (uint32_t)((now_ns / 1000) * (rx->clock_hz / 1000) / 1000);
    prism_rtp_seq_stats_update(&rx->seq, h->seq, h->timestamp, arrival, NULL);
    bool in_seq = !rx->have_last_seq || h->seq == (uint16_t)(rx->last_seq + 1);
    if (!rx->have_last_seq || (int16_t)(h->seq - rx->last_seq) > 0) {
        rx->last_seq = h->seq;
        rx->have_last_seq = true;
    }
    const uint8_t *ext;
    size_t ext_len;
    if (prism_rtp_find_ext(pkt, h, PRISM_BENCH_EXT_ABS_SEND_TIME, &ext, &ext_len) == 0 &&
        ext_len == 3) {
        uint32_t sent = (uint32_t)ext[0] << 16 | (uint32_t)ext[1] << 8 | ext[2];
        uint32_t delta = (abs_send_time(now_ns) - sent) & 0xFFFFFFu;
        /* 2^18 units per second. */
        prism_bench_hist_add(&rx->delay, (uint64_t)delta * 1000000u >> 18);
    }
    return in_seq;
}

int prism_bench_rx_header(struct prism_bench_rx *rx, const uint8_t *pkt, size_t len,
                          uint64_t now_ns)
{
    struct prism_rtp_header h;
    if (len < 12)
        return PRISM_EINVAL;
    if ((pkt[0] & 0x20) == 0) { /* no padding: the header reads in place */
        if (prism_rtp_parse(pkt, len, &h) != 0 || h.header_len > PRISM_BENCH_CLEAR_HEADER_MAX)
            return PRISM_EINVAL;
        (void)rx_account(rx, pkt, &h, len, now_ns);
        return 0;
    }
    /* The padding count is the last byte of the encrypted payload: read the
     * header from a copy without the P bit. An RTP header (12 bytes, 15
     * CSRCs, an extension block) this bench receives fits in the copy. */
    uint8_t head[PRISM_BENCH_CLEAR_HEADER_MAX];
    size_t n = len < sizeof(head) ? len : sizeof(head);
    memcpy(head, pkt, n);
    head[0] &= (uint8_t)~0x20u;
    if (prism_rtp_parse(head, n, &h) != 0)
        return PRISM_EINVAL;
    (void)rx_account(rx, head, &h, len, now_ns);
    return 0;
}

void prism_bench_rx_packet(struct prism_bench_rx *rx, const uint8_t *pkt, size_t len,
                           uint64_t now_ns)
{
    struct prism_rtp_header h;
    if (prism_rtp_parse(pkt, len, &h) != 0)
        return;
    bool in_seq = rx_account(rx, pkt, &h, len, now_ns);
    const uint8_t *pl = pkt + h.header_len;
    if (rx->video) {
        rx_vp8(rx, &h, pl, h.payload_len, in_seq, now_ns);
        return;
    }
    int n = opus_decode(rx->decoder, pl, (opus_int32)h.payload_len, rx->pcm, PCM_MAX, 0);
    if (n < 0) {
        rx->decode_errors++;
        return;
    }
    rx->frames_decoded++;
    if (rx->first_decoded_ns == 0)
        rx->first_decoded_ns = now_ns;
}
