/* The contract between the control thread and the media workers: every
 * message and event that crosses between them, each type with its own
 * payload struct.
 *
 * Control -> worker: a message starts with struct prism_worker_msg (its type
 * and the bubble and peer it is about, by handle) and the type's payload
 * follows in the same allocation: prism_worker_msg_new() sizes it exactly,
 * flexible arrays included, so a message costs what it carries. Worker ->
 * control: the same with struct prism_worker_event. Both travel through a
 * struct prism_mailbox; the sender allocates, the receiver frees (free(),
 * once, after its handler). They carry handles and copied values, never
 * pointers into the other thread's objects.
 *
 * A payload is reached from its header by a cast checked against the type
 * (PRISM_MSG_AS, PRISM_EVENT_AS): the header is the payload's first member.
 */
#ifndef PRISM_WORKER_CONTRACT_H
#define PRISM_WORKER_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/base/check.h"
#include "relay/base/counters.h"
#include "relay/base/delay_hist.h"
#include "relay/base/ids.h"
#include "relay/base/mailbox.h"

#define PRISM_MEDIA_MAX_CANDS 16  /* candidates carried per message */
#define PRISM_MEDIA_CAND_LEN 256  /* bytes per candidate, NUL included */
#define PRISM_MEDIA_MAX_TRACKS 16 /* tracks a peer publishes */
#define PRISM_MEDIA_MAX_ROUTES 64 /* tracks a subscriber receives */
#define PRISM_MEDIA_ICE_LEN 257
#define PRISM_MEDIA_FPR_LEN 200
#define PRISM_MEDIA_REASON_LEN 96
#define PRISM_PT_NONE 0xFF /* no payload type: RTP's are 7 bits */

/* --- control -> worker ----------------------------------------------------- */

enum prism_worker_msg_type {
    PRISM_WORKER_BUBBLE_OPEN,       /* header only */
    PRISM_WORKER_BUBBLE_CLOSE,      /* header only: closes every transport in it */
    PRISM_WORKER_TRANSPORT_OPEN,    /* struct prism_msg_transport */
    PRISM_WORKER_TRANSPORT_REMOTE,  /* struct prism_msg_transport: the client's answer */
    PRISM_WORKER_TRANSPORT_RESTART, /* struct prism_msg_transport: an ICE restart, answered
                                       by READY with our new credentials */
    PRISM_WORKER_TRANSPORT_REOFFER, /* struct prism_msg_transport: a re-offer keeping ICE and
                                       DTLS, answered by READY with the same credentials */
    PRISM_WORKER_CANDIDATE,         /* struct prism_msg_candidate */
    PRISM_WORKER_TRACKS,            /* struct prism_msg_tracks: what the peer publishes */
    PRISM_WORKER_ROUTES,            /* struct prism_msg_routes: what the peer receives */
    PRISM_WORKER_PREFER,        /* struct prism_msg_prefer: what the peer wants of a publisher */
    PRISM_WORKER_BUBBLE_CONFIG, /* struct prism_msg_bubble_config: the bubble's options */
    PRISM_WORKER_PEER_CLOSE,    /* header only: both transports end */
    PRISM_WORKER_SYNC,          /* header only: answered by EV_SYNC once the worker has done
                                   what every earlier message began */
    PRISM_WORKER_STOP,          /* header only: leave once every handle is closed */
};

struct prism_worker_msg {
    struct prism_mail mail; /* must be first */
    enum prism_worker_msg_type type;
    uint64_t bubble; /* bubble handle; 0 for SYNC and STOP */
    uint64_t peer;   /* peer handle; 0 for bubble messages, SYNC and STOP */
};

/* TRANSPORT_OPEN (one of the peer's two transports), TRANSPORT_REMOTE
 * (the subscriber's answer to the relay's offer), TRANSPORT_RESTART (an
 * ICE restart of a transport that is up, DTLS and SRTP kept: with the
 * client's new credentials from its offer (publish), or without (subscribe:
 * the relay offers the restart; the answer follows as a REMOTE with
 * ice_restart)) and TRANSPORT_REOFFER (a renegotiation: the publisher
 * re-offered with the credentials and fingerprint its transport has, so
 * nothing changes on it; the READY carries them and the candidates again
 * for the answer). */
struct prism_msg_transport {
    struct prism_worker_msg h;
    bool subscribe;   /* which transport of the peer */
    uint64_t token;   /* OPEN, RESTART, REOFFER: echoed in the READY event */
    bool has_remote;  /* the fields below are set: the publish OPEN, RESTART and REOFFER,
                         and every REMOTE */
    bool ice_restart; /* REMOTE: the client's answer to an offer that restarted ICE (the
                         transport is up: only its ICE credentials change) */
    char ufrag[PRISM_MEDIA_ICE_LEN];
    char pwd[PRISM_MEDIA_ICE_LEN];
    char fingerprint[PRISM_MEDIA_FPR_LEN]; /* "sha-256 AB:..." */
    bool end_of_candidates;
    size_t n_candidates;
    char candidates[][PRISM_MEDIA_CAND_LEN];
};

/* One trickled candidate of the client, or its end. */
struct prism_msg_candidate {
    struct prism_worker_msg h;
    bool subscribe;
    bool end_of_candidates; /* candidate is "" then */
    char candidate[PRISM_MEDIA_CAND_LEN];
};

#define PRISM_MEDIA_MAX_RTX_PTS 4 /* codecs of a track that have an rtx payload type */
#define PRISM_MEDIA_MAX_LAYERS 3  /* simulcast layers of a track (rid), low to high */
#define PRISM_MEDIA_RID_LEN 17    /* a rid in the one-byte extension form, NUL included */

/* A codec's payload type and the one its retransmissions use (RFC 4588 apt). */
struct prism_rtx_pt {
    uint8_t pt;
    uint8_t rtx_pt;
};

/* A track a publisher sends, as negotiated on the control thread. */
struct prism_track_desc {
    uint64_t handle; /* relay-wide unique */
    bool video;
    uint32_t ssrc;              /* 0: learned from the first packet whose mid matches */
    uint32_t rtx_ssrc;          /* 0: none */
    char mid[PRISM_ID_MAX + 1]; /* the publisher's mid */
    uint8_t mid_ext_id;         /* the mid header extension's id, 0 if not negotiated */
    uint8_t audio_level_ext_id; /* ssrc-audio-level (RFC 6464) id, 0 if not negotiated */
    uint8_t tcc_ext_id;         /* transport-wide-cc seq id, 0 unless negotiated along
                                   with the transport-cc rtcp-fb (the relay then sends
                                   transport-cc feedback, relay/wire/tcc.h) */
    uint8_t vp8_pt;             /* VP8's payload type, PRISM_PT_NONE if not negotiated:
                                   its picture ids are rewritten per subscriber */
    uint8_t vp9_pt;             /* VP9's payload type, PRISM_PT_NONE if not negotiated:
                                   its spatial and temporal layers are chosen per
                                   subscriber */
    uint8_t av1dd_ext_id;       /* the dependency descriptor's id (AV1 RTP spec, appendix A),
                                   0 if not negotiated: the spatial and temporal layers
                                   of AV1 (and of VP8, whose descriptor libwebrtc then
                                   strips) are read from it */
    struct prism_rtx_pt rtx_pts[PRISM_MEDIA_MAX_RTX_PTS]; /* for retransmissions toward
                                                             subscribers that took rtx */
    uint8_t n_rtx_pts;
    uint8_t red_pt;      /* audio: red/48000/2's payload type (RFC 2198), PRISM_PT_NONE if
                            not negotiated; its primary block must be opus_pt */
    uint8_t opus_pt;     /* audio: Opus's payload type, PRISM_PT_NONE if none */
    uint32_t pt_only[4]; /* bit n of word n / 32: payload type n is in this track's m-line
                            and in no other of the publish description, so a packet
                            with it (and no mid) is this track's (RFC 8843 §9.2) */
    /* Simulcast: n_layers (2..PRISM_MEDIA_MAX_LAYERS) streams of one track,
     * low to high resolution; 0 for a single stream (ssrc then; ssrc and
     * rtx_ssrc stay 0 for simulcast). Either rid simulcast (RFC 8853): the
     * rids in the publisher's a=rid order, each layer's SSRC learned from
     * the first packet carrying its rid (relay/worker/demux.h); or SSRC
     * simulcast (a=ssrc-group:SIM, the legacy form): rids "", the SSRCs in
     * the group's order and each one's rtx partner from its
     * a=ssrc-group:FID. */
    uint8_t n_layers;
    char rids[PRISM_MEDIA_MAX_LAYERS][PRISM_MEDIA_RID_LEN];
    uint32_t layer_ssrcs[PRISM_MEDIA_MAX_LAYERS];     /* 0: not known (yet) */
    uint32_t layer_rtx_ssrcs[PRISM_MEDIA_MAX_LAYERS]; /* 0: not known (yet), or none */
    uint8_t rid_ext_id;                               /* sdes:rtp-stream-id, 0 if not negotiated */
    uint8_t repaired_rid_ext_id; /* sdes:repaired-rtp-stream-id, 0 if not negotiated */
};

/* Whether payload type `pt` routes to the track `d` alone (pt_only). */
static inline bool prism_track_pt_only(const struct prism_track_desc *d, uint8_t pt)
{
    return pt < 128 && (d->pt_only[pt / 32] & (1u << (pt % 32))) != 0;
}

/* TRACKS: what the peer publishes (replaces the previous set). */
struct prism_msg_tracks {
    struct prism_worker_msg h;
    uint32_t max_kbps; /* the tenant's cap for REMB, 0 = none */
    size_t n_tracks;   /* <= PRISM_MEDIA_MAX_TRACKS */
    struct prism_track_desc tracks[];
};

/* One forwarded track toward a subscriber. */
struct prism_route_desc {
    uint64_t publisher; /* peer handle */
    uint64_t track;     /* track handle */
    uint32_t ssrc;      /* the relay's SSRC toward this subscriber */
    uint32_t rtx_ssrc;  /* its retransmissions' SSRC; 0: the subscriber takes no rtx/nack */
    bool red;           /* the subscriber's answer kept red: RED goes to it as is (else
                           only each packet's primary, as plain Opus) */
};

/* ROUTES: what the peer receives (replaces the previous set). */
struct prism_msg_routes {
    struct prism_worker_msg h;
    uint32_t max_kbps; /* the tenant's cap on what one peer receives (simulcast layer choice),
                          0 = none */
    size_t n_routes;
    struct prism_route_desc routes[];
};

#define PRISM_LAST_N_MAX 64 /* a subscriber receives at most PRISM_MEDIA_MAX_ROUTES tracks */

/* PREFER (peer.prefer): the backend's preference of the peer (the
 * subscriber, in the header) for `publisher`'s tracks. It replaces the
 * previous one of the same scope (relay/worker/prefer.h) and outlives the
 * peer's consumers: a new ROUTES applies it again. */
struct prism_msg_prefer {
    struct prism_worker_msg h;
    uint64_t publisher;  /* peer handle */
    uint64_t track;      /* track handle; 0: every track of the publisher */
    bool paused;         /* forward nothing */
    uint32_t max_height; /* pixels, 0: no cap; caps the simulcast layer */
    uint32_t max_fps;    /* 0: no cap; caps the temporal layer */
};

/* BUBBLE_CONFIG: the bubble's options (header's peer is 0). */
struct prism_msg_bubble_config {
    struct prism_worker_msg h;
    uint32_t last_n; /* video only from the last_n most recent speakers; 0: off;
                        <= PRISM_LAST_N_MAX */
};

/* Allocates a zeroed message of `type` and `size` bytes (the payload struct's
 * size plus its flexible array; at least the header's); aborts on allocation
 * failure (control path, a few hundred bytes: no sane recovery). */
void *prism_worker_msg_new(enum prism_worker_msg_type type, size_t size);

/* The payload of `msg`, which must be of type `want` (checked: a bug otherwise). */
static inline const void *prism__msg_payload(const struct prism_worker_msg *msg,
                                             enum prism_worker_msg_type want)
{
    PRISM_CHECK(msg->type == want);
    return msg;
}
#define PRISM_MSG_AS(T, msg, want) ((const T *)prism__msg_payload((msg), (want)))

/* --- worker -> control ------------------------------------------------------- */

enum prism_worker_event_type {
    PRISM_WORKER_EV_READY,   /* struct prism_event_ready */
    PRISM_WORKER_EV_STATE,   /* struct prism_event_state */
    PRISM_WORKER_EV_STATS,   /* struct prism_event_stats */
    PRISM_WORKER_EV_SPEAKER, /* header only: `peer` is the bubble's dominant speaker now */
    PRISM_WORKER_EV_LOAD,    /* struct prism_event_load */
    PRISM_WORKER_EV_SYNC,    /* header only: the answer to a SYNC */
};

struct prism_worker_event {
    struct prism_mail mail; /* must be first */
    enum prism_worker_event_type type;
    uint64_t bubble; /* bubble handle; 0 for LOAD and SYNC */
    uint64_t peer;   /* peer handle; 0 for STATS, LOAD and SYNC */
};

/* READY: a transport gathered its candidates (error 0), or could not open;
 * for a TRANSPORT_RESTART: its new credentials, or why it could not restart
 * (PRISM_ENOTFOUND: the transport is gone); for a TRANSPORT_REOFFER: its
 * unchanged ones, or why not (PRISM_ENOTFOUND the same). */
struct prism_event_ready {
    struct prism_worker_event h;
    bool subscribe;
    uint64_t token; /* of the TRANSPORT_OPEN answered */
    int error;      /* 0 or PRISM_E* */
    char ufrag[PRISM_MEDIA_ICE_LEN];
    char pwd[PRISM_MEDIA_ICE_LEN];
    size_t n_candidates;
    char candidates[][PRISM_MEDIA_CAND_LEN];
};

/* STATE: a transport's state changed. */
struct prism_event_state {
    struct prism_worker_event h;
    bool subscribe;
    enum prism_transport_state state;
    char reason[PRISM_MEDIA_REASON_LEN]; /* FAILED/CLOSED: why; "" otherwise */
};

/* STATS: a bubble's counters, every second. */
struct prism_event_stats {
    struct prism_worker_event h;
    struct prism_media_counters counters;
};

/* LOAD: the worker itself, every second, after its bubbles' STATS. */
struct prism_event_load {
    struct prism_worker_event h;
    unsigned worker;                    /* its index */
    uint32_t bubbles;                   /* rooms it holds */
    uint32_t transports;                /* transports open in them */
    uint64_t loop_lag_ns;               /* the latest its timers ran over the last second */
    uint64_t cpu_ns;                    /* CPU time of its thread since it started */
    struct prism_media_counters socket; /* its media socket's drops, monotonic:
                                           drop_stun_auth, drop_unknown_source,
                                           drop_tcp_* (the rest 0) */
    struct prism_delay_hist delay;      /* its datagrams' residence times, monotonic */
};

/* As prism_worker_msg_new(), for events. */
void *prism_worker_event_new(enum prism_worker_event_type type, size_t size);

static inline const void *prism__event_payload(const struct prism_worker_event *ev,
                                               enum prism_worker_event_type want)
{
    PRISM_CHECK(ev->type == want);
    return ev;
}
#define PRISM_EVENT_AS(T, ev, want) ((const T *)prism__event_payload((ev), (want)))

#endif
