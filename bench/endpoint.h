/* prism-bench: one synthetic WebRTC participant, driven like a browser.
 *
 * Owns: a struct prism_bench_endpoint is one peer of one bubble with up to
 * two transports built on relay/transport.h in the client role: a publish
 * transport (we offer: ICE controlling, a=setup:actpass answered passive, so
 * DTLS client) and a subscribe transport (the relay offers: ICE controlled,
 * we answer a=setup:active, DTLS client). Its senders (bench/media.h) send
 * clips shared by every publisher; its receivers decode what the relay forwards.
 *
 * Signalling goes through the relay's control socket exactly as a backend's
 * would (bench/rpc.h): peer.join, then peer.publish with our offer (after
 * gathering, every candidate inline with end-of-candidates: no trickle) and
 * peer.subscribe; the relay's offer is answered with peer.answer under its
 * revision, and so is every later revision arriving as a peer.offer event
 * (prism_bench_endpoint_on_offer).
 *
 * A struct prism_bench_site is what the endpoints of one bench thread share:
 * its uv loop, egress pool (flushed once per loop iteration by the owner),
 * DTLS context and certificate fingerprint, and control connection.
 *
 * Thread: everything runs on the site's loop thread. Allocation happens on
 * the control path only (joins, offers); the per-packet path allocates
 * nothing.
 */
#ifndef PRISM_BENCH_ENDPOINT_H
#define PRISM_BENCH_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bench/media.h"
#include "bench/quality.h"
#include "bench/rpc.h"
#include "bench/sample.h"
#include "crypto/dtls.h"
#include "relay/net/egress.h"
#include "relay/net/transport.h"
#include "relay/wire/sdp.h"

#define PRISM_BENCH_ID_LEN 65
#define PRISM_BENCH_MAX_RX PRISM_SDP_MAX_MEDIA /* streams one endpoint receives */

struct prism_bench_endpoint;
struct prism_bench_rx_slot;

/* Another signalling path than the relay's control socket (bench/janus.h
 * drives a Janus VideoRoom): when a site has one, its endpoints hand their
 * join, publish offer, subscribe answers and leave to it, and it reports back
 * with prism_bench_endpoint_joined/_published/_answered/_fail and
 * prism_bench_endpoint_on_offer. Every call runs on the site's loop thread. */
struct prism_bench_signaller {
    void (*join)(void *ud, struct prism_bench_endpoint *ep);
    void (*publish)(void *ud, struct prism_bench_endpoint *ep, const char *offer);
    void (*answer)(void *ud, struct prism_bench_endpoint *ep, const char *answer);
    void (*leave)(void *ud, struct prism_bench_endpoint *ep);
    /* Optional (NULL: not called), on the per-packet path, allocating
     * nothing: every RTP packet a publisher sends (plain, before SRTP), and
     * every one a receiver got, after its own accounting. Janus does not
     * forward our abs-send-time, so its driver measures delay with these. */
    void (*sent)(void *ud, struct prism_bench_endpoint *ep, const uint8_t *pkt, size_t len);
    void (*received)(void *ud, struct prism_bench_endpoint *ep, struct prism_bench_rx_slot *slot,
                     const uint8_t *pkt, size_t len, uint64_t now_ns);
    void *ud;
};

struct prism_bench_site {
    uv_loop_t *loop;
    struct prism_egress *egress;             /* the thread's pool */
    struct prism_dtls_ctx *dtls_ctx;         /* shared by every transport */
    char fingerprint[PRISM_SDP_FPR_LEN + 8]; /* "sha-256 AB:..." */
    const char *local_ip;                    /* where our transports gather */
    const char *tenant;
    struct prism_bench_rpc *rpc;                   /* requests */
    const struct prism_bench_signaller *signaller; /* NULL: rpc (the relay) */
    unsigned max_video_decoders;                   /* per endpoint; further video streams are
                                                      reassembled and measured, not decoded */
    unsigned verify_sample; /* --verify-sample (bench/sample.h): endpoints that do not verify
                               authenticate one packet in this many per stream; <= 1: all */
    const struct prism_bench_quality_config *quality; /* --loss (bench/quality.h); NULL: off */
    uint64_t rpc_errors;                              /* error replies */
    char last_error[256];                             /* the last one, for the report */
};

enum prism_bench_ep_state {
    PRISM_BENCH_EP_NEW = 0,
    PRISM_BENCH_EP_JOINING, /* requests in flight */
    PRISM_BENCH_EP_READY,   /* both transports answered (not necessarily connected) */
    PRISM_BENCH_EP_FAILED,  /* see error */
    PRISM_BENCH_EP_LEFT,
};

/* One received stream and who sent it (from the offer's a=msid). */
struct prism_bench_rx_slot {
    struct prism_bench_rx rx;
    char publisher[PRISM_BENCH_ID_LEN];
    bool removed; /* its m-line was removed in a later revision */
    uint64_t last_pli_ns;
    struct prism_bench_sampler auth; /* not verifying: which packets to authenticate */
    uint64_t authenticated;          /* not verifying: sampled packets that authenticated */
};

struct prism_bench_endpoint {
    struct prism_bench_site *site;
    char bubble[PRISM_BENCH_ID_LEN], peer[PRISM_BENCH_ID_LEN];
    bool publish; /* publishes audio and/or video */
    bool verify;  /* authenticates, decrypts and decodes all it receives (default); else reads
                     headers and authenticates a sample (bench/sample.h). Set before joining */
    const struct prism_bench_clip *audio; /* what it sends, borrowed; NULL: none */
    const struct prism_bench_clip *video;
    enum prism_bench_ep_state state;
    char error[256];

    uint64_t join_req_ns;    /* peer.join sent */
    uint64_t publish_req_ns; /* publish started (before gathering) */
    uint64_t pub_connected_ns, sub_connected_ns;
    uint64_t ready_ns; /* reached READY (0: never) */

    /* publish */
    struct prism_transport *pub;
    bool pub_closing;
    char relay_ufrag[PRISM_SDP_ICE_LEN]; /* the relay's, from its answer ("" before) */
    char relay_cand[PRISM_SDP_CAND_LEN]; /* its first candidate: where the relay answers */
    struct prism_bench_tx tx_audio, tx_video;
    bool sending;                        /* publish transport CONNECTED */
    uint32_t rtcp_ssrc;                  /* our SSRC in RTCP (PLIs, NACKs) */
    struct prism_bench_quality *quality; /* --loss: the lossy downlink, owned; else NULL */

    /* subscribe */
    struct prism_transport *sub;
    bool sub_gathered, sub_remote_set;
    struct prism_sdp_session *held_offer; /* waiting for gathering; owned */
    uint64_t held_revision;
    uint64_t answered_revision;
    struct prism_bench_rx_slot *rx[PRISM_BENCH_MAX_RX]; /* owned */
    size_t n_rx;
    unsigned n_video_decoders; /* receivers that decode video */
    uint64_t offers;           /* offers answered */

    char (*pub_cands)[PRISM_SDP_CAND_LEN]; /* gathered candidates, owned */
    size_t n_pub_cands;
    char (*sub_cands)[PRISM_SDP_CAND_LEN];
    size_t n_sub_cands;
    int pending_closes;
    void (*closed_cb)(void *ud);
    void *closed_ud;
};

/* Creates an endpoint (nothing sent yet) that publishes `audio` and/or
 * `video` (clips shared by every publisher; both NULL: a listener). Returns
 * 0 and sets *out, or PRISM_ENOMEM. */
int prism_bench_endpoint_new(struct prism_bench_site *site, const char *bubble, const char *peer,
                             const struct prism_bench_clip *audio,
                             const struct prism_bench_clip *video,
                             struct prism_bench_endpoint **out);

/* Starts the join: peer.join, then publish (if a publisher) and subscribe.
 * Progress and failures show in ep->state / ep->error. */
void prism_bench_endpoint_join(struct prism_bench_endpoint *ep);

/* Sends every frame that is due (the site's pacer calls this every few ms). */
void prism_bench_endpoint_tick(struct prism_bench_endpoint *ep, uint64_t now_ns);

/* Stops sending (receiving goes on). */
void prism_bench_endpoint_stop_sending(struct prism_bench_endpoint *ep);

/* A peer.offer event for this endpoint: parse and answer under `revision`. */
void prism_bench_endpoint_on_offer(struct prism_bench_endpoint *ep, const char *offer,
                                   uint64_t revision);

/* Sends peer.leave and closes both transports; `closed_cb(ud)` runs once
 * their memory and sockets are released (the endpoint itself stays until
 * prism_bench_endpoint_free). */
void prism_bench_endpoint_leave(struct prism_bench_endpoint *ep, void (*closed_cb)(void *ud),
                                void *ud);

/* Frees a left (or never joined) endpoint and its receivers. Accepts NULL. */
void prism_bench_endpoint_free(struct prism_bench_endpoint *ep);

/* Transport counters summed over both transports (zeros when closed). */
void prism_bench_endpoint_counters(const struct prism_bench_endpoint *ep,
                                   struct prism_media_counters *sum);

/* One received RTP packet of receiver `slot`, in sequence, at `now_ns`:
 * accounted and decoded, shown to the signaller, a PLI sent if due. Called
 * by on_sub_rtp, or with --loss by bench/quality.c after the loss and the
 * repair. */
void prism_bench_endpoint_deliver(struct prism_bench_endpoint *ep, struct prism_bench_rx_slot *slot,
                                  const uint8_t *pkt, size_t len, uint64_t now_ns);

/* For a site's signaller (see struct prism_bench_signaller):
 * joined: the join went through; a publisher starts gathering and offers.
 * published: the SFU's answer to our publish offer (`answer` NULL: `error`).
 * answered: our subscribe answer was taken (`error` NULL) or refused.
 * fail: marks the endpoint FAILED with "what: detail". */
void prism_bench_endpoint_joined(struct prism_bench_endpoint *ep);
void prism_bench_endpoint_published(struct prism_bench_endpoint *ep, const char *answer,
                                    const char *error);
void prism_bench_endpoint_answered(struct prism_bench_endpoint *ep, const char *error);
void prism_bench_endpoint_fail(struct prism_bench_endpoint *ep, const char *what,
                               const char *detail);

#endif
