/* prism-bench: synthetic media, its RTP packetization and its reception.
 *
 * Owns three things, all on the bench thread that uses them:
 * - clips (struct prism_bench_clip): a generated signal encoded ONCE per
 *   distinct stream configuration at start-up, kept in memory and replayed in
 *   a loop by every publisher: Opus (libopus, a 440 Hz sine, 20 ms frames)
 *   or VP8 (libvpx, moving synthetic frames at W x H, fps, kbps, one key
 *   frame at the start of the loop). Encoding never runs during a scenario.
 * - senders (struct prism_bench_tx): one per published stream; packetize
 *   the clip's frames when they are due (RFC 7587 Opus, RFC 7741 VP8 with a
 *   15-bit PictureID), continuing seq/timestamp across loops. Each packet
 *   carries abs-send-time (RFC 8285 one-byte extension, id
 *   PRISM_BENCH_EXT_ABS_SEND_TIME) stamped from CLOCK_MONOTONIC when it is
 *   built: sender and receiver share the host clock, so the receiver reads
 *   the one-way delay (3.8 us resolution, valid below 64 s). On a PLI the
 *   sender restarts the loop at its key frame.
 * - receivers (struct prism_bench_rx): one per received stream; RFC 3550
 *   loss and jitter (relay/rtp.h), a delay histogram, decoding (libopus /
 *   libvpx) with decode errors counted, VP8 frame reassembly and frozen
 *   frames (frames not rendered: lost, incomplete, or waiting for a key
 *   frame after a loss, which asks for a PLI). A packet left encrypted
 *   (--verify-sample, bench/sample.h) is accounted from its clear header
 *   only: loss, jitter and delay, no decoding.
 *
 * Hot path: tx_run and rx_packet allocate nothing; buffers are sized at init.
 */
#ifndef PRISM_BENCH_MEDIA_H
#define PRISM_BENCH_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/wire/rtp.h"

#define PRISM_BENCH_EXT_ABS_SEND_TIME 3 /* extmap id we offer for abs-send-time */
#define PRISM_BENCH_PT_OPUS 111
#define PRISM_BENCH_PT_VP8 96
#define PRISM_BENCH_PT_VP8_RTX 97    /* --loss: its rtx (RFC 4588) */
#define PRISM_BENCH_MAX_PAYLOAD 1100 /* RTP payload bytes per packet, at most */
#define PRISM_BENCH_MAX_PACKET 1200  /* whole RTP packet, at most */

/* Delay histogram: 10 us buckets below 10 ms, 1 ms buckets below 1 s, then
 * one overflow bucket. 8 KiB; merged by addition. */
#define PRISM_BENCH_HIST_FINE 1000
#define PRISM_BENCH_HIST_COARSE 990
#define PRISM_BENCH_HIST_N (PRISM_BENCH_HIST_FINE + PRISM_BENCH_HIST_COARSE + 1)

struct prism_bench_hist {
    uint64_t n;                     /* samples */
    uint32_t b[PRISM_BENCH_HIST_N]; /* counts per bucket */
};

void prism_bench_hist_add(struct prism_bench_hist *h, uint64_t us);
void prism_bench_hist_merge(struct prism_bench_hist *into, const struct prism_bench_hist *h);
/* The q-quantile (0..1) in ms (bucket upper bound), 0 when empty. */
double prism_bench_hist_quantile_ms(const struct prism_bench_hist *h, double q);

struct prism_bench_frame {
    const uint8_t *data; /* into the clip's blob */
    size_t len;          /* bytes */
    bool key;            /* VP8 key frame (always false for Opus) */
};

struct prism_bench_clip {
    bool video;
    unsigned width, height, fps, kbps; /* video: as asked; audio: kbps */
    uint32_t clock_hz;                 /* 48000 or 90000 */
    uint32_t ts_step;                  /* RTP timestamp units per frame */
    uint64_t interval_ns;              /* frame interval */
    struct prism_bench_frame *frames;  /* n_frames, frame 0 is a key frame for VP8 */
    size_t n_frames;
    uint8_t *blob;  /* every frame's bytes */
    uint64_t bytes; /* sum of frame sizes */
};

/* Encodes `seconds` of Opus at `kbps` (mono, 20 ms frames). Blocking,
 * start-up only. Returns 0 or a negative PRISM_E code. */
int prism_bench_clip_opus(unsigned kbps, double seconds, struct prism_bench_clip **out);

/* Encodes `seconds` of VP8 at width x height, fps, kbps (CBR, realtime,
 * one key frame first). Returns 0 or a negative PRISM_E code. */
int prism_bench_clip_vp8(unsigned width, unsigned height, unsigned fps, unsigned kbps,
                         double seconds, struct prism_bench_clip **out);

void prism_bench_clip_free(struct prism_bench_clip *c);

/* Sends one built RTP packet (`len` bytes, valid during the call). */
typedef void (*prism_bench_tx_send_cb)(void *ud, const uint8_t *pkt, size_t len);

struct prism_bench_tx {
    const struct prism_bench_clip *clip; /* borrowed; outlives the sender */
    uint32_t ssrc;
    uint8_t pt;
    uint16_t seq;        /* next */
    uint32_t ts;         /* next frame's RTP timestamp */
    uint16_t picture_id; /* VP8, 15 bits */
    size_t frame;        /* next frame index in the clip */
    uint64_t next_ns;    /* when the next frame is due (CLOCK_MONOTONIC) */
    bool keyframe_asked; /* restart at frame 0 on the next frame */
    uint64_t packets, bytes, frames, keyframes_asked;
    uint64_t resyncs; /* times it fell 25 frames behind and restarted */
};

/* Sets up a sender of `clip` starting at `start_ns`. Random initial seq/ts. */
void prism_bench_tx_init(struct prism_bench_tx *tx, const struct prism_bench_clip *clip,
                         uint32_t ssrc, uint8_t pt, uint64_t start_ns);

/* Sends the frames due at `now_ns`: video one frame per call, audio up to 4
 * (a late loop catches up without bursts); 25 frames behind, it restarts at
 * the key frame. Returns packets sent. */
size_t prism_bench_tx_run(struct prism_bench_tx *tx, uint64_t now_ns, prism_bench_tx_send_cb send,
                          void *ud);

/* A PLI or FIR arrived for this stream. */
void prism_bench_tx_keyframe(struct prism_bench_tx *tx);

struct prism_bench_rx {
    bool video;
    uint32_t ssrc; /* the relay's SSRC toward us */
    uint32_t clock_hz;
    struct prism_rtp_seq_stats seq;
    struct prism_bench_hist delay; /* one-way delay, us */
    void *decoder;                 /* OpusDecoder or vpx_codec_ctx_t, owned */
    int16_t *pcm;                  /* audio decode buffer (120 ms), owned */
    uint8_t *frame_buf;            /* VP8 frame reassembly, owned */
    size_t frame_cap, frame_len;
    uint32_t frame_ts;
    bool frame_open, frame_broken;
    bool have_last_seq;
    uint16_t last_seq;
    bool need_keyframe; /* after a loss until the next key frame */
    bool pli_due;       /* the owner should send a PLI (and clear it) */
    bool decode;        /* video: decode (else whole frames count as decoded) */
    uint64_t packets, bytes;
    uint64_t frames_decoded, frames_frozen, decode_errors;
    uint64_t first_packet_ns, first_decoded_ns, last_packet_ns;
};

/* Prepares a receiver (allocates its decoder and buffers). Returns 0 or a
 * negative PRISM_E code. */
int prism_bench_rx_init(struct prism_bench_rx *rx, bool video, uint32_t ssrc);
void prism_bench_rx_deinit(struct prism_bench_rx *rx);

/* Accounts and decodes one plain RTP packet of this stream received at
 * `now_ns`. No allocation. */
void prism_bench_rx_packet(struct prism_bench_rx *rx, const uint8_t *pkt, size_t len,
                           uint64_t now_ns);

/* Bytes of an SRTP packet prism_bench_rx_header reads at most: the RTP
 * header with its CSRCs and extension block must fit. */
#define PRISM_BENCH_CLEAR_HEADER_MAX 128

/* Accounts one packet of this stream received at `now_ns` from its RTP
 * header only, as prism_bench_rx_packet does before the payload: counts,
 * loss, jitter and delay (abs-send-time). For an SRTP packet left
 * encrypted (its header and extensions are in the clear; the P bit is
 * ignored, as the padding count is encrypted): nothing is decoded, and
 * `len` (with the auth tag) is what bytes counts. No allocation. Returns 0,
 * or PRISM_EINVAL (not an RTP header that fits PRISM_BENCH_CLEAR_HEADER_MAX
 * bytes: not counted). */
int prism_bench_rx_header(struct prism_bench_rx *rx, const uint8_t *pkt, size_t len,
                          uint64_t now_ns);

/* Lost packets (RFC 3550 A.3, >= 0) and packets expected. */
uint64_t prism_bench_rx_lost(const struct prism_bench_rx *rx);
uint64_t prism_bench_rx_expected(const struct prism_bench_rx *rx);

/* CLOCK_MONOTONIC in ns. */
uint64_t prism_bench_now_ns(void);

#endif
