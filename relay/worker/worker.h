/* Media workers: N threads, each running its own libuv loop, each owning
 * whole bubbles (DESIGN.md "Threads and ownership").
 *
 * The control thread starts and stops the pool and talks to a worker only by
 * posting messages that carry handles and copied values, never pointers into
 * the registry. Workers answer through the control mailbox given at start
 * (struct prism_worker_event). A worker never blocks: no file I/O, DNS or
 * sleeps. Ownership of messages: the sender allocates, the receiver frees.
 */
#ifndef PRISM_RELAY_WORKER_H
#define PRISM_RELAY_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/dtls.h"
#include "relay/base/config.h"
#include "relay/base/counters.h"
#include "relay/base/ids.h"
#include "relay/base/mailbox.h"

#define PRISM_MEDIA_MAX_CANDS 16  /* candidates carried per message */
#define PRISM_MEDIA_CAND_LEN 256  /* bytes per candidate, NUL included */
#define PRISM_MEDIA_MAX_TRACKS 16 /* tracks a peer publishes */
#define PRISM_MEDIA_MAX_ROUTES 64 /* tracks a subscriber receives */
#define PRISM_MEDIA_ICE_LEN 257
#define PRISM_MEDIA_FPR_LEN 200

enum prism_worker_msg_type {
    PRISM_WORKER_BUBBLE_OPEN,      /* bubble_handle */
    PRISM_WORKER_BUBBLE_CLOSE,     /* bubble_handle: closes every transport in it */
    PRISM_WORKER_TRANSPORT_OPEN,   /* peer, subscribe, token; remote_* for publish */
    PRISM_WORKER_TRANSPORT_REMOTE, /* peer, subscribe: the client's answer (remote_*) */
    PRISM_WORKER_CANDIDATE,        /* peer, subscribe, candidates[0] or end_of_candidates */
    PRISM_WORKER_TRACKS,           /* peer: what it publishes (replaces) */
    PRISM_WORKER_ROUTES,           /* peer: what it receives (replaces) */
    PRISM_WORKER_PEER_CLOSE,       /* peer: both transports end */
    PRISM_WORKER_STOP,             /* leave the loop once every handle is closed */
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
                                   transport-cc feedback, relay/tcc.h) */
};

/* One forwarded track toward a subscriber. */
struct prism_route_desc {
    uint64_t publisher; /* peer handle */
    uint64_t track;     /* track handle */
    uint32_t ssrc;      /* the relay's SSRC toward this subscriber */
};

/* Control -> worker. Fields not named by the type are unused. */
struct prism_worker_msg {
    struct prism_mail mail; /* must be first */
    enum prism_worker_msg_type type;
    uint64_t bubble_handle;
    uint64_t peer_handle;
    bool subscribe; /* which transport of the peer */
    uint64_t token; /* TRANSPORT_OPEN: echoed in the READY event */
    char remote_ufrag[PRISM_MEDIA_ICE_LEN];
    char remote_pwd[PRISM_MEDIA_ICE_LEN];
    char remote_fingerprint[PRISM_MEDIA_FPR_LEN]; /* "sha-256 AB:..." */
    char candidates[PRISM_MEDIA_MAX_CANDS][PRISM_MEDIA_CAND_LEN];
    size_t n_candidates;
    bool end_of_candidates;
    struct prism_track_desc tracks[PRISM_MEDIA_MAX_TRACKS];
    size_t n_tracks;
    struct prism_route_desc routes[PRISM_MEDIA_MAX_ROUTES];
    size_t n_routes;
    uint32_t max_kbps; /* TRACKS: the tenant's cap for REMB, 0 = none */
};

enum prism_worker_event_type {
    PRISM_WORKER_EV_READY,   /* token: the transport gathered (or failed: error) */
    PRISM_WORKER_EV_STATE,   /* peer, subscribe: the transport's state changed */
    PRISM_WORKER_EV_STATS,   /* bubble: counters snapshot */
    PRISM_WORKER_EV_SPEAKER, /* bubble, peer: the dominant speaker changed */
};

/* Worker -> control. */
struct prism_worker_event {
    struct prism_mail mail; /* must be first */
    enum prism_worker_event_type type;
    uint64_t bubble_handle;
    uint64_t peer_handle;
    bool subscribe;
    uint64_t token;
    int error; /* READY: 0 or PRISM_E* */
    char ufrag[PRISM_MEDIA_ICE_LEN];
    char pwd[PRISM_MEDIA_ICE_LEN];
    char candidates[PRISM_MEDIA_MAX_CANDS][PRISM_MEDIA_CAND_LEN];
    size_t n_candidates;
    enum prism_transport_state state;
    char reason[96]; /* STATE failed/closed: why */
    struct prism_media_counters counters;
};

/* What every worker shares, immutable while they run. */
struct prism_worker_shared {
    const struct prism_config *cfg;  /* media addresses and ports */
    struct prism_dtls_ctx *dtls_ctx; /* the relay's certificate */
    struct prism_mailbox *control;   /* where events go */
};

struct prism_workers;

/* Starts `n` worker threads (n >= 1). `shared` must outlive the pool.
 * Returns 0 or PRISM_ENOMEM / PRISM_EIO. */
int prism_workers_start(unsigned n, const struct prism_worker_shared *shared,
                        struct prism_workers **out);

/* Stops every worker, joins the threads and frees the pool. Accepts NULL. */
void prism_workers_stop(struct prism_workers *pool);

unsigned prism_workers_count(const struct prism_workers *pool);

/* Allocates a zeroed message of `type`; aborts on allocation failure (a few
 * KiB on the control path; no sane recovery). */
struct prism_worker_msg *prism_worker_msg_new(enum prism_worker_msg_type type);

/* Posts `msg` to worker `w` (ownership moves). Control thread. */
void prism_workers_post(struct prism_workers *pool, unsigned w, struct prism_worker_msg *msg);

#endif
