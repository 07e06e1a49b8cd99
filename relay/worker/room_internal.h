/* A worker's rooms, inside: the structs that room.c, link.c, ingress.c and
 * publisher.c share. Worker thread only; see room.h for the story.
 *
 * Ownership: struct prism_rooms owns its rooms; a room owns its peers and
 * its router; a peer owns its two links (and the transports in them), its
 * tracks (each a producer in the room's router) and its router subscriber
 * (its consumers). Memory is sized by what was negotiated: tracks, routes
 * and candidate lists are exact-size heap arrays, transport-cc history
 * exists only while a publish transport that negotiated it is connected.
 */
#ifndef PRISM_WORKER_ROOM_INTERNAL_H
#define PRISM_WORKER_ROOM_INTERNAL_H

#include <glib.h>
#include <uv.h>

#include "relay/net/transport.h"
#include "relay/wire/rtp.h"
#include "relay/wire/tcc.h"
#include "relay/worker/bwe.h"
#include "relay/worker/feedback.h"
#include "relay/worker/prefer.h"
#include "relay/worker/probe.h"
#include "relay/worker/room.h"
#include "relay/worker/router.h"

struct peer;

/* One simulcast layer of a track: a stream of its own, whose SSRC and rtx
 * SSRC are in the track's d.layer_ssrcs / d.layer_rtx_ssrcs (announced by
 * a SIM group, or learned from rids: demux.h). */
struct track_layer {
    struct prism_rtp_seq_stats stats; /* for receiver reports */
    struct prism_keyframe_gate keyframe;
    struct prism_nack_gen *nack; /* as struct track's, for this layer's own seqs */
};

/* A track a peer publishes. */
struct track {
    struct prism_track_desc d;
    struct peer *peer;                /* owner */
    struct prism_producer *producer;  /* in the room's router; NULL if it could not be added */
    struct prism_rtp_seq_stats stats; /* for receiver reports */
    struct prism_keyframe_gate keyframe;
    struct prism_speaker_meter meter; /* audio levels this second */
    /* The relay's own gaps in it, NACKed to the publisher: for video whose
     * publisher negotiated rtx (track_nacks()), while its publish transport
     * is connected (~4 KiB, so an idle publisher holds none); else NULL.
     * Simulcast keeps one per layer instead (each layer numbers its own
     * seqs): in `layers`, this one NULL. */
    struct prism_nack_gen *nack;
    /* Simulcast (d.n_layers > 1; d.ssrc stays 0): its layers, a heap array
     * of PRISM_MEDIA_MAX_LAYERS; NULL for other tracks. */
    struct track_layer *layers;
    /* Video with the dependency descriptor negotiated (track_dd()): the
     * last template structure of each stream (PRISM_MEDIA_MAX_LAYERS, one
     * per simulcast layer; ~2.2 KiB), a heap array zeroed until a key frame
     * brings one; NULL for other tracks. */
    struct prism_av1dd_structure *dd;
};

static inline bool track_simulcast(const struct track *tr)
{
    return tr->d.n_layers > 1;
}

/* Whether the relay reads `tr`'s dependency descriptors to choose layers:
 * video that negotiated the extension. libwebrtc sends it with every codec
 * once negotiated (AV1, VP9, and VP8, whose own descriptor it then strips
 * of its temporal layer and picture id). */
static inline bool track_dd(const struct track *tr)
{
    return tr->d.video && tr->d.av1dd_ext_id != 0;
}

/* Whether the relay NACKs the publisher's gaps in `tr` and unwraps its
 * retransmissions: video with an rtx payload type in the answer (the
 * relay's answer keeps the offer's nack feedback with it); for simulcast,
 * each layer alike. */
static inline bool track_nacks(const struct track *tr)
{
    return tr->d.video && tr->d.n_rtx_pts > 0;
}

/* The SSRC of `tr`'s stream `layer` (a simulcast layer; else its one
 * stream, whatever `layer`); 0 while unknown. */
static inline uint32_t track_ssrc(const struct track *tr, uint8_t layer)
{
    if (!track_simulcast(tr))
        return tr->d.ssrc;
    return layer < tr->d.n_layers && layer < PRISM_MEDIA_MAX_LAYERS ? tr->d.layer_ssrcs[layer] : 0;
}

/* The NACK generator of that stream, NULL when it has none. */
static inline struct prism_nack_gen *track_nack(const struct track *tr, uint8_t layer)
{
    if (!track_simulcast(tr))
        return tr->nack;
    return layer < tr->d.n_layers && layer < PRISM_MEDIA_MAX_LAYERS ? tr->layers[layer].nack : NULL;
}

/* room.c: the NACK state of `p`'s tracks that need one, from when its
 * publish transport connects (or its tracks change while connected) until
 * that transport closes. */
void prism__tracks_start_nack(struct peer *p);
void prism__tracks_stop_nack(struct peer *p);

/* One of a peer's two transports and its negotiation state. */
struct link {
    struct peer *peer;         /* owner */
    struct prism_transport *t; /* NULL before open and after close */
    bool subscribe;
    uint64_t token; /* of the TRANSPORT_OPEN to answer */
    bool ready_sent;
    char (*cands)[PRISM_MEDIA_CAND_LEN]; /* ours until READY; heap, up to PRISM_MEDIA_MAX_CANDS */
    size_t n_cands;
    bool remote_set; /* the peer's credentials are known */
    /* The peer's trickled candidates that came before its credentials (a
     * subscriber may trickle before its answer is applied); heap. */
    char (*early)[PRISM_MEDIA_CAND_LEN];
    size_t n_early;
    bool early_end;
};

struct peer {
    uint64_t handle;
    struct room *room; /* owner */
    struct link pub, sub;
    struct track *tracks; /* what it publishes: heap, n_tracks */
    size_t n_tracks;
    struct prism_route_desc *routes; /* what it receives: heap, n_routes */
    size_t n_routes;
    struct prism_router_sub out; /* its consumers, writing to sub.t */
    /* One set of extension ids for every track: in a BUNDLE group an id
     * means the same in every m-section (RFC 8843). */
    struct prism_rtp_ext_ids ext_ids;
    uint32_t rtcp_ssrc;      /* the relay's SSRC in RTCP toward this peer */
    uint32_t max_kbps;       /* tenant cap for REMB, 0 = none */
    uint64_t drop_no_route;  /* authentic RTP matching none of its tracks */
    uint64_t drop_malformed; /* authentic RTP its track cannot carry (a bad RED payload) */
    uint64_t rtx_nacks_sent; /* seqs the relay NACKed to it as a publisher */
    uint64_t rtx_recovered;  /* its retransmissions that filled a gap */
    /* Its RTCP as a subscriber, how many items a window may look up: each
     * kind its own budget, so that a flood of NACKs (a lossy downlink
     * asks for hundreds of packets) never refuses its keyframe requests
     * nor the feedback its estimate lives on. */
    struct prism_keyframe_budget keyframe_budget; /* PLI and FIR */
    struct prism_keyframe_budget nack_budget;     /* generic NACK entries */
    struct prism_keyframe_budget cc_budget;       /* transport-cc and REMB */
    /* Transport-wide cc of the publish transport (relay/wire/tcc.h): the
     * arrivals not yet reported; allocated when that transport connects
     * with the extension negotiated, freed when it closes. */
    struct prism_tcc *tcc;
    /* What the backend asked it to receive (peer.prefer), applied to its
     * consumers whenever they are made again. */
    struct prism_prefer_set prefs;
    struct prism_speaker_recency recency; /* its place among the bubble's speakers */
    bool last_n_out;                      /* last-N leaves its video out */
    /* Its downlink estimate (relay/worker/bwe.h, ~4.5 KiB), from when its
     * subscribe transport connects until it closes; else NULL. */
    struct prism_bwe *bwe;
    uint32_t sub_max_kbps;    /* tenant cap on what it receives (ROUTES), 0 = none */
    uint64_t layers_ms;       /* its last simulcast layer choice */
    uint32_t need_bps;        /* its consumers one layer up (the last choice's); 0: none above */
    struct prism_probe probe; /* probing its downlink toward need_bps (relay/worker/probe.h) */
};

struct room {
    uint64_t handle;
    uint64_t speaker;                      /* peer handle of the dominant speaker, 0 for none */
    struct prism_rooms *rooms;             /* owner */
    GHashTable *peers;                     /* handle -> struct peer */
    struct prism_router *router;           /* its producers and consumers */
    struct prism_media_counters closed;    /* totals of transports already closed */
    uint32_t last_n;                       /* bubble option: 0 off, else <= PRISM_LAST_N_MAX */
    uint64_t rank_clock;                   /* the speakers' recency clock (feedback.h) */
    struct prism_last_n_entry *last_n_top; /* heap, last_n slots, while last_n > 0 */
};

struct prism_rooms {
    uv_loop_t *loop;
    const struct prism_worker_shared *shared;
    struct prism_egress *egress;
    struct prism_media_socket *msock; /* the worker's: every transport is ICE-lite on it */
    GHashTable *rooms;                /* handle -> struct room */
    GHashTable *peers;                /* handle -> struct peer, every room's */
};

/* room.c */
void prism__rooms_post(struct prism_rooms *rooms, struct prism_worker_event *ev);
struct peer *prism__room_peer(struct room *room, uint64_t handle);

/* link.c: the transports of a peer. */
void prism__link_open(struct link *l, const struct prism_msg_transport *msg);
void prism__link_remote(struct link *l, const struct prism_msg_transport *msg);
/* TRANSPORT_RESTART: an ICE restart of the link's transport, answered by READY
 * (PRISM_ENOTFOUND when the transport is gone). */
void prism__link_restart(struct link *l, const struct prism_msg_transport *msg);
/* TRANSPORT_REOFFER: the publisher's re-offer keeps the link's ICE and
 * DTLS; answered by READY with the unchanged credentials and candidates
 * (PRISM_ENOTFOUND when the transport is gone). */
void prism__link_renegotiate(struct link *l, const struct prism_msg_transport *msg);
void prism__link_candidate(struct link *l, const struct prism_msg_candidate *msg);
void prism__link_close(struct link *l);
/* Tells the link's transport which SSRCs its peer may send (issue 9,
 * finding 2): a publish link its tracks' SSRCs and rtx SSRCs plus room for
 * rid-learned and RTCP-only ones, a subscribe link room for one receiver
 * SSRC per route and a few more. Control path; call when the transport
 * opens and when TRACKS or ROUTES change them. */
void prism__link_set_ssrcs(struct link *l);

/* link.c: what `p`'s connected publish transport needs: its transport-cc
 * arrival history (when negotiated) and its tracks' NACK state, each made
 * only if missing. On connecting, and when TRACKS changes while connected. */
void prism__link_publish_connected(struct peer *p);

/* ingress.c: what a transport received (its callbacks' ud is the link). */
void prism__ingress_rtp(void *ud, uint8_t *pkt, size_t len);
void prism__ingress_rtcp(void *ud, uint8_t *pkt, size_t len);

/* publisher.c: what the relay sends publishers. */
/* Asks for a keyframe of `tr` (of its simulcast layer `layer`; 0 for one
 * stream), at most once per PRISM_KEYFRAME_GAP_MS per stream. */
void prism__publisher_keyframe(struct track *tr, uint8_t layer);
void prism__publisher_report(struct peer *p);
void prism__publisher_tcc(struct peer *p);
/* NACKs for the gaps in its tracks that are due (every feedback tick). */
void prism__publisher_nack(struct peer *p);
/* Where prism__publisher_nack_build() puts each NACK: 0 once sent. */
typedef int (*prism__rtcp_out_cb)(void *ud, const uint8_t *buf, size_t len);
/* The NACKs due at `now_ms` in `p`'s streams, one generic NACK per stream
 * (a track, or a simulcast layer) handed to `out`, counted in
 * rtx_nacks_sent when `out` took them; the transport-free half of
 * prism__publisher_nack() (unit tests call it directly). */
void prism__publisher_nack_build(struct peer *p, uint64_t now_ms, prism__rtcp_out_cb out, void *ud);
/* Asks for a keyframe of every track `sub` receives (it just connected, or
 * its routes changed). */
void prism__subscriber_wants_keyframes(struct peer *sub);

/* subscriber.c: a subscriber's downlink estimate and simulcast layers. */
void prism__subscriber_start_bwe(struct peer *sub);
void prism__subscriber_stop_bwe(struct peer *sub);
/* Its RTCP item `item` when it is transport-cc feedback or a REMB (else
 * nothing), within its feedback budget (feedback.h): the estimate follows. */
void prism__subscriber_cc(struct peer *sub, const struct prism_rtcp_item *item, uint64_t now_ms);
/* Paces its retransmissions to its estimate and probes its downlink when
 * a layer up needs more (every call), and chooses the layer of each of its
 * simulcast consumers (every SUBSCRIBER_LAYERS_MS at most); call on the
 * feedback tick. */
void prism__subscriber_layers(struct peer *sub, uint64_t now_ms);

#endif
