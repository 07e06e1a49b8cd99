/* The relay's public API: what the control plane may ask of the relay.
 *
 * Everything here runs on the control thread. Identifiers are validated by
 * the caller (prism_id_valid) and authorisation is the caller's job too; the
 * relay enforces existence, quotas and draining, places bubbles on workers and
 * reports events through the sink given at creation.
 *
 * The relay speaks C: results are plain structs and typed events, never JSON.
 * signaling/ (signaling/encode.h) turns them into the control protocol's
 * JSON; the wire names of counters and states come from relay/base/counters.h.
 */
#ifndef PRISM_RELAY_RELAY_H
#define PRISM_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "relay/base/config.h"
#include "relay/base/counters.h"
#include "relay/base/delay_hist.h"
#include "relay/base/ids.h"
#include "relay/control/registry.h"
#include "relay/wire/sdp.h"

struct prism_relay;

/* --- events ------------------------------------------------------------------ */

/* What happened. signaling/ names each on the wire (in parentheses). */
enum prism_relay_event_type {
    PRISM_RELAY_EV_PEER_STATE,     /* ("peer.state") a peer's transport changed state */
    PRISM_RELAY_EV_PEER_OFFER,     /* ("peer.offer") a new downstream offer revision */
    PRISM_RELAY_EV_BUBBLE_SPEAKER, /* ("bubble.speaker") the bubble's speaker changed */
    PRISM_RELAY_EV_RELAY_DRAINED,  /* ("relay.drained") a drain left no bubble */
};

/* PRISM_RELAY_EV_PEER_STATE */
struct prism_relay_peer_state {
    bool subscribe;                   /* the subscribe transport, else the publish one */
    enum prism_transport_state state; /* the state it reached */
    const char *reason;               /* why (FAILED), or NULL / "" when there is none */
};

/* PRISM_RELAY_EV_PEER_OFFER: the client answers it with peer.answer. */
struct prism_relay_peer_offer {
    const char *sdp;   /* the offer */
    uint64_t revision; /* its revision */
};

/* One event. Every pointer is borrowed: valid only during the sink's call. */
struct prism_relay_event {
    enum prism_relay_event_type type;
    const char *tenant; /* NULL for relay-wide events (RELAY_DRAINED) */
    const char *bubble; /* peer and bubble events; NULL for relay-wide ones */
    const char *peer;   /* peer events and BUBBLE_SPEAKER (the speaker); else NULL */
    union {             /* the payload of `type`; the other types carry none */
        struct prism_relay_peer_state peer_state;
        struct prism_relay_peer_offer peer_offer;
    };
};

/* Receives every event, on the control thread, in the order they happen;
 * `ev` is borrowed for the call. The sink may not call back into the relay. */
struct prism_relay_event_sink {
    void (*emit)(void *ud, const struct prism_relay_event *ev);
    void *ud;
};

/* --- lifetime ------------------------------------------------------------------ */

/* Starts the workers; their events arrive on `loop` (the control thread's).
 * `cfg` is copied. Returns 0 or a PRISM_E* code. */
int prism_relay_new(const struct prism_config *cfg, uv_loop_t *loop,
                    const struct prism_relay_event_sink *sink, struct prism_relay **out);
/* Ends every call: pending media calls complete with an error, the workers
 * close their transports and stop, and the relay's handles on the control
 * loop are closed so that loop can end. Idempotent. */
void prism_relay_stop(struct prism_relay *relay);

/* Stops (if needed) and frees everything. Accepts NULL. */
void prism_relay_free(struct prism_relay *relay);

/* Calls `cb(ud)` on the control thread once every worker has done what the
 * relay asked of it before this call (transports it closed freed) and every
 * event it sent before has reached the sink. The control plane never needs
 * to wait for a worker; this is for an in-process test that must see the
 * workers caught up (tests/fuzz/fuzz_methods.c: an input leaves no
 * allocation behind). One at a time: calling again before `cb` ran is a
 * bug. Once prism_relay_stop() has begun, `cb` may never be called. */
void prism_relay_sync(struct prism_relay *relay, void (*cb)(void *ud), void *ud);

/* What relay.info reports. */
struct prism_relay_info {
    const char *version; /* PRISM_VERSION, static */
    uint64_t epoch;      /* random per run, < 2^53 */
    unsigned workers;    /* worker threads */
    bool draining;       /* prism_relay_drain() was called */
    uint64_t uptime_s;   /* seconds since prism_relay_new() */
};

/* Fills `out`. Cannot fail. */
void prism_relay_info(struct prism_relay *relay, struct prism_relay_info *out);
/* The run's epoch (as in prism_relay_info). */
uint64_t prism_relay_epoch(const struct prism_relay *relay);
/* Limits given to tenants created without them (config [limits]). */
const struct prism_limits *prism_relay_default_limits(const struct prism_relay *relay);

/* Each returns 0 or a PRISM_E* code (see registry.h for which). */
int prism_relay_tenant_create(struct prism_relay *relay, const char *tenant,
                              const struct prism_limits *limits /* NULL: defaults */);
int prism_relay_tenant_delete(struct prism_relay *relay, const char *tenant);
int prism_relay_bubble_create(struct prism_relay *relay, const char *tenant, const char *bubble);
int prism_relay_bubble_delete(struct prism_relay *relay, const char *tenant, const char *bubble);
#define PRISM_RELAY_LAST_N_MAX 64 /* largest last_n: a subscriber receives <= 64 tracks */

/* Sets the bubble's last_n (0: off; the caller keeps it <=
 * PRISM_RELAY_LAST_N_MAX): its subscribers then receive video only from the
 * last_n most recent speakers, audio from everyone. Returns 0 or
 * PRISM_ENOTFOUND. */
int prism_relay_bubble_set_last_n(struct prism_relay *relay, const char *tenant, const char *bubble,
                                  uint32_t last_n);

/* One track a peer publishes. */
struct prism_relay_track_info {
    bool video;                      /* else audio */
    char track[PRISM_SDP_TOKEN_LEN]; /* its msid track id, or its mid when it has none */
    char mid[PRISM_SDP_TOKEN_LEN];   /* its m-line in the publisher's offer */
};

/* One peer of a bubble. */
struct prism_relay_peer_info {
    char peer[PRISM_ID_MAX + 1];
    bool publish;                                /* joined with publish=true */
    enum prism_transport_state state;            /* the one that speaks for the peer: publish
                                                    for a publisher once it has begun, else
                                                    subscribe */
    enum prism_transport_state publish_state;    /* of its publish transport */
    enum prism_transport_state subscribe_state;  /* of its subscribe transport */
    const struct prism_relay_track_info *tracks; /* its tracks, in the info's storage */
    size_t n_tracks;
};

/* A bubble's peers, in no particular order. One allocation owned by the
 * caller: release it with prism_relay_bubble_info_free. */
struct prism_relay_bubble_info {
    size_t n_peers;
    struct prism_relay_peer_info *peers;   /* n_peers of them */
    struct prism_relay_track_info *tracks; /* storage the peers' tracks point into */
};

/* The bubble's peers and their tracks, a snapshot taken now. Returns 0 with
 * *out set, PRISM_ENOTFOUND (no such bubble) or PRISM_ENOMEM (*out NULL). */
int prism_relay_bubble_info(struct prism_relay *relay, const char *tenant, const char *bubble,
                            struct prism_relay_bubble_info **out);
/* Frees what prism_relay_bubble_info made. Accepts NULL. Any thread. */
void prism_relay_bubble_info_free(struct prism_relay_bubble_info *info);

int prism_relay_peer_join(struct prism_relay *relay, const char *tenant, const char *bubble,
                          const char *peer, bool may_publish);
int prism_relay_peer_leave(struct prism_relay *relay, const char *tenant, const char *bubble,
                           const char *peer);

/* What a media call produced: the relay's SDP toward the client. */
enum prism_relay_sdp_kind {
    PRISM_RELAY_SDP_ANSWER, /* peer.publish: the answer to the client's offer */
    PRISM_RELAY_SDP_OFFER,  /* peer.subscribe: the downstream offer, answered by peer.answer */
};

struct prism_relay_sdp_result {
    enum prism_relay_sdp_kind kind;
    const char *sdp;   /* the SDP, borrowed for the completion's call */
    uint64_t revision; /* an OFFER's revision; 0 for an ANSWER */
};

/* Completion of a call whose answer needs a worker (the transport's ICE
 * credentials and candidates). Called exactly once on the control thread,
 * possibly before the call returns: `rc` 0 with `result` (borrowed for the
 * call, never NULL), or a PRISM_E* code with `result` NULL and a human `msg`
 * (possibly NULL). */
struct prism_relay_done {
    void (*cb)(void *ud, int rc, const struct prism_relay_sdp_result *result, const char *msg);
    void *ud;
};

/* peer.publish: the peer's upstream transport from its SDP offer; the
 * result is an ANSWER. peer.subscribe: the downstream transport; the result
 * is an OFFER with its revision. Both always complete through `done`. Errors:
 * PRISM_ENOTFOUND, PRISM_EFORBIDDEN (publish by a peer joined with
 * publish=false), PRISM_EBADSDP, PRISM_EOVERLOADED. */
void prism_relay_peer_publish(struct prism_relay *relay, const char *tenant, const char *bubble,
                              const char *peer, const char *offer,
                              const struct prism_relay_done *done);
/* `ice_restart`: on a subscribe transport that is up, the new offer
 * restarts ICE (new relay credentials; DTLS and SRTP stay). */
void prism_relay_peer_subscribe(struct prism_relay *relay, const char *tenant, const char *bubble,
                                const char *peer, bool ice_restart,
                                const struct prism_relay_done *done);
/* Applies the client's answer to the outstanding downstream offer `revision`
 * (PRISM_ENOTFOUND if it is not the outstanding one). Returns 0 or a PRISM_E*
 * code with a message in `msg`. */
int prism_relay_peer_answer(struct prism_relay *relay, const char *tenant, const char *bubble,
                            const char *peer, const char *answer, uint64_t revision, char *msg,
                            size_t msg_len);
/* peer.prefer: what a subscriber wants of one publisher. */
struct prism_relay_prefer {
    const char *track;   /* the publisher's track id (as bubble.info lists it); NULL: all */
    bool paused;         /* forward nothing of it */
    uint32_t max_height; /* 0: no cap; caps the simulcast layer forwarded */
    uint32_t max_fps;    /* likewise */
};

/* Sets `peer`'s preference for what it receives from `publisher` (both
 * peers of the bubble), replacing the previous one of the same scope (the
 * track, or every track when pref->track is NULL). It lasts until either
 * peer leaves (or, for one track, until that track is gone) and survives
 * re-offers. Returns 0, or PRISM_ENOTFOUND (no such peer, publisher, or
 * track of that publisher: `msg` says which). */
int prism_relay_peer_prefer(struct prism_relay *relay, const char *tenant, const char *bubble,
                            const char *peer, const char *publisher,
                            const struct prism_relay_prefer *pref, char *msg, size_t msg_len);

/* A trickled candidate of the client; NULL means end-of-candidates. */
int prism_relay_peer_candidate(struct prism_relay *relay, const char *tenant, const char *bubble,
                               const char *peer, bool subscribe_transport, const char *candidate,
                               char *msg, size_t msg_len);

/* What stats.get covers. */
enum prism_relay_scope {
    PRISM_RELAY_SCOPE_RELAY,  /* every tenant, including deleted ones' totals */
    PRISM_RELAY_SCOPE_TENANT, /* one tenant, including its deleted bubbles' totals */
    PRISM_RELAY_SCOPE_BUBBLE, /* one bubble */
};

/* One worker's load, from its once-a-second snapshot (zeros before the
 * first). */
struct prism_relay_worker_stats {
    unsigned worker;                    /* its index, 0 .. workers-1 */
    uint32_t bubbles;                   /* bubbles it holds */
    uint32_t transports;                /* media transports open on it */
    uint64_t loop_lag_ns;               /* the latest its loop ran a timer over that second (~1 ms
                                           resolution) */
    uint64_t cpu_ns;                    /* CPU time its thread used since the relay started */
    struct prism_delay_hist delay;      /* datagrams' residence times: kernel receive to
                                           sendmmsg, since the relay started */
    struct prism_delay_hist delay_last; /* the same over the snapshot's last second */
};

/* Counters and sizes of a scope. Counters come from the workers' snapshots,
 * at most a second old. */
struct prism_relay_stats {
    enum prism_relay_scope scope;
    struct prism_media_counters counters;           /* summed over the scope */
    uint64_t tenants;                               /* RELAY only: tenants now */
    uint64_t bubbles;                               /* RELAY and TENANT: bubbles now */
    uint64_t peers;                                 /* every scope: peers now */
    struct prism_limits limits;                     /* TENANT only: the tenant's limits */
    const struct prism_relay_worker_stats *workers; /* RELAY only: one per worker, in
                                                       index order; borrowed from the
                                                       relay until its loop runs again */
    size_t n_workers;
};

/* Fills `out` for the relay (tenant NULL), a tenant, or a bubble (tenant
 * and bubble given). Returns 0, or PRISM_ENOTFOUND if the scope does not
 * exist (`out` untouched). */
int prism_relay_stats(struct prism_relay *relay, const char *tenant, const char *bubble,
                      struct prism_relay_stats *out);

/* Transport states counted by prism_relay_tenant_transports. */
#define PRISM_RELAY_TRANSPORT_STATES (PRISM_TRANSPORT_CLOSED + 1)

/* Adds the media transports of `tenant` that are open or opening to
 * by_state[state] (a transport whose offer is still being answered counts
 * as "new"). O(peers of the tenant). */
void prism_relay_tenant_transports(struct prism_relay *relay, struct prism_tenant *tenant,
                                   uint64_t by_state[PRISM_RELAY_TRANSPORT_STATES]);

/* Media transports open or opening relay-wide, and the admission limit
 * (peer.publish and peer.subscribe answer `overloaded` at it). */
void prism_relay_admission(struct prism_relay *relay, size_t *open, size_t *max);

/* Whether the relay takes new bubbles and media: NULL if so, else why not
 * ("draining", or "overloaded" when transport admission is at its limit). */
const char *prism_relay_unready_reason(struct prism_relay *relay);

/* Enters draining (idempotent); emits relay.drained once no bubble is left. */
void prism_relay_drain(struct prism_relay *relay);
bool prism_relay_draining(const struct prism_relay *relay);

/* The registry, for read-only inspection (tests, stats). */
struct prism_registry *prism_relay_registry(struct prism_relay *relay);

#endif
