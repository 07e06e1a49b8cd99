/* prism-bench run --loss PCT [--no-nack]: media quality on a lossy
 * downlink (issue 8), measured the way a browser would live it.
 *
 * Owns struct prism_bench_quality, one per subscribing endpoint: the
 * simulated loss (bench/loss.h) applied to every RTP packet the endpoint
 * receives (audio, video and retransmissions) after SRTP and before any
 * processing; per video stream, the repair (bench/nack.h: NACKs, RFC 4588
 * retransmissions unwrapped, the hold buffer) and the freeze detector
 * (Chromium's freezeCount / totalFreezesDuration); the NACKs it sends
 * (RFC 4585 generic NACK on the subscribe transport).
 *
 * The loss spares a stream's first packet (the receiver must know the
 * sequence before it can tell a gap), so every drop is one the receiver
 * can ask for. Endpoints must decrypt what they receive: a subscriber that
 * only samples (--verify-sample) cannot NACK what it does not read.
 *
 * Thread: the endpoint's loop thread. The per-packet path allocates
 * nothing; the repair's hold buffer is allocated once per video stream.
 */
#ifndef PRISM_BENCH_QUALITY_H
#define PRISM_BENCH_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/wire/sdp.h"

struct prism_bench_endpoint;
struct prism_bench_quality;
struct prism_bench_rx_slot;

/* The run's choice, shared (read-only) by every endpoint. */
struct prism_bench_quality_config {
    double loss_pct; /* --loss: % of received RTP dropped */
    bool nack;       /* false with --no-nack: gaps are never asked for */
    uint64_t seed;   /* --loss-seed: the drop sequence */
};

/* What the loss did and how the receivers lived it, summed. */
struct prism_bench_quality_totals {
    uint64_t dropped_audio; /* audio packets the simulated loss dropped */
    uint64_t dropped_video; /* original video packets dropped */
    uint64_t dropped_rtx;   /* retransmissions dropped */
    uint64_t recovered;     /* dropped video packets a retransmission restored in time */
    uint64_t late;          /* ... whose retransmission came after the give-up */
    uint64_t rtx_received;  /* retransmissions that arrived (RFC 4588 stream) */
    uint64_t given_up;      /* video seqs handed to the decoder as lost */
    uint64_t nacks_sent;    /* NACK packets */
    uint64_t seqs_nacked;   /* seqs they asked for (retries included) */
    uint64_t freezes;       /* freezeCount, over every video stream */
    uint64_t freeze_ns;     /* totalFreezesDuration */
    size_t video_streams;
};

/* A new endpoint's state (`name`: "bubble/peer", seeds its drops). Returns
 * 0 and sets *out, or PRISM_ENOMEM. */
int prism_bench_quality_new(const struct prism_bench_quality_config *c, const char *name,
                            struct prism_bench_quality **out);
void prism_bench_quality_free(struct prism_bench_quality *q);

/* The endpoint made receiver `i` for the offer's section `sec`: a video one
 * gets a repairer, told the rtx SSRC (a=ssrc-group:FID) and payload type
 * (apt) when the offer has them. Returns 0 or PRISM_ENOMEM. */
int prism_bench_quality_stream(struct prism_bench_quality *q, size_t i, bool video,
                               const struct prism_sdp_media *sec);

/* One received, decrypted RTP packet of the endpoint's subscribe transport
 * (in place; valid during the call): dropped or delivered to its receiver
 * through prism_bench_endpoint_deliver, NACKs sent as due. */
void prism_bench_quality_rtp(struct prism_bench_endpoint *ep, uint8_t *pkt, size_t len,
                             uint64_t now_ns);

/* Sends the RTCP feedback `fb` (`len` bytes: a PLI or NACK about receiver
 * `slot`) on the subscribe transport after a receiver report on that
 * stream, in one compound packet. Returns 0, PRISM_EINVAL (no transport, fb
 * too long) or the transport's error. */
int prism_bench_quality_send_feedback(struct prism_bench_endpoint *ep,
                                      struct prism_bench_rx_slot *slot, const uint8_t *fb,
                                      size_t len);

/* An RTCP packet the subscribe transport received: sender reports are
 * remembered for the LSR/DLSR of our receiver reports. */
void prism_bench_quality_rtcp(struct prism_bench_endpoint *ep, const uint8_t *pkt, size_t len,
                              uint64_t now_ns);

/* Adds the endpoint's counts (receiver `i` only, or all when i < 0) to `t`. */
void prism_bench_quality_add(const struct prism_bench_quality *q, long i,
                             struct prism_bench_quality_totals *t);

#endif
