/* The media counters and transport states, defined once.
 *
 * One table (PRISM_MEDIA_COUNTERS) generates the struct a transport bumps,
 * the sums a worker and the control thread make of them, and, in
 * signaling/, the JSON keys of stats.get. Adding a counter is one line here.
 *
 * A counter is X(field, group, key): `field` names the struct member,
 * `group` is TRAFFIC (a top-level stats.get key), DROP (under "drops"),
 * RTX (under "rtx") or LAYER (under "layers": copies of forwarded packets a
 * subscriber's layer choice left out, by design; not datagrams lost), and
 * `key` is the JSON key. drop_stun_auth,
 * drop_unknown_source and drop_tcp_* belong to no transport (a worker's
 * media socket counts them before any transport is known, or for a
 * connection): they are relay-wide only,
 * and `key` is the JSON key. Every counter is monotonic, uint64_t, and
 * touched by one thread only (the owning worker's) until it is copied into
 * an event.
 */
#ifndef PRISM_BASE_COUNTERS_H
#define PRISM_BASE_COUNTERS_H

#include <stdint.h>

#define PRISM_MEDIA_COUNTERS(X)                                                                    \
    X(packets_in, TRAFFIC, "packets_in")           /* authenticated RTP + RTCP received */         \
    X(bytes_in, TRAFFIC, "bytes_in")               /* their SRTP/SRTCP bytes */                    \
    X(packets_out, TRAFFIC, "packets_out")         /* SRTP/SRTCP datagrams the kernel accepted */  \
    X(bytes_out, TRAFFIC, "bytes_out")             /* their protected bytes */                     \
    X(drop_not_srtp, DROP, "not_srtp")             /* plain RTP/RTCP, unknown byte, before keys */ \
    X(drop_srtp_auth, DROP, "srtp_auth")           /* SRTP/SRTCP tag did not verify */             \
    X(drop_srtp_replay, DROP, "srtp_replay")       /* replayed or too old */                       \
    X(drop_malformed, DROP, "malformed")           /* truncated or bad headers */                  \
    X(drop_no_route, DROP, "no_route")             /* authentic, but no track has this SSRC */     \
    X(drop_egress, DROP, "egress")                 /* could not be queued or sent */               \
    X(drop_ssrc_limit, DROP, "ssrc_limit")         /* SSRC beyond the transport's streams */       \
    X(drop_stun_auth, DROP, "stun_auth")           /* STUN refused, unanswered (worker socket) */  \
    X(drop_unknown_source, DROP, "unknown_source") /* non-STUN from an unvalidated address */      \
    X(drop_tcp_auth, DROP, "tcp_auth")   /* ICE-TCP connections closed unauthenticated */          \
    X(drop_tcp_limit, DROP, "tcp_limit") /* ICE-TCP connections refused: worker's limit */         \
    X(drop_tcp_frame, DROP, "tcp_frame") /* RFC 4571 frames of length 0 or too long */             \
    X(drop_tcp_queue, DROP, "tcp_queue") /* packets dropped: an ICE-TCP send queue full */         \
    X(rtx_nacked, RTX, "nacked")         /* seqs subscribers' NACKs asked for */                   \
    X(rtx_sent, RTX, "sent")             /* retransmissions sent (RFC 4588) */                     \
    X(rtx_missed, RTX, "missed")         /* asked for, not in the history */                       \
    X(rtx_nacks_sent, RTX, "nacks_sent") /* seqs the relay's NACKs asked publishers for */         \
    X(rtx_recovered, RTX, "recovered")   /* publisher retransmissions that filled a gap */         \
    X(rtx_dropped, RTX, "dropped")       /* asked for, left out: over the rtx rate, or of a layer  \
                                            the subscriber is leaving */                           \
    X(probe_packets, RTX, "probe_packets") /* padding probes sent to subscribers (on rtx) */       \
    X(probe_bytes, RTX, "probe_bytes")     /* their RTP bytes */                                   \
    X(layer_dropped, LAYER,                                                                        \
      "dropped") /* copies left out: a layer above the subscriber's choice */                      \
    X(layer_unknown, LAYER, "unknown") /* copies left out: dependency descriptor layers unknown */ \
    X(layer_stale, LAYER, "stale")     /* copies too late to place after the layers left out */

struct prism_media_counters {
#define PRISM__COUNTER_FIELD(field, group, key) uint64_t field;
    PRISM_MEDIA_COUNTERS(PRISM__COUNTER_FIELD)
#undef PRISM__COUNTER_FIELD
};

/* sum += c, field by field. */
static inline void prism_media_counters_add(struct prism_media_counters *sum,
                                            const struct prism_media_counters *c)
{
#define PRISM__COUNTER_ADD(field, group, key) sum->field += c->field;
    PRISM_MEDIA_COUNTERS(PRISM__COUNTER_ADD)
#undef PRISM__COUNTER_ADD
}

/* A transport's state, as the worker reports it and as bubble.info and
 * peer.state events name it (prism_transport_state_name). Only moves
 * forward: NEW -> CONNECTING -> CONNECTED -> FAILED or CLOSED (both final). */
#define PRISM_TRANSPORT_STATES(X)                                                                  \
    X(PRISM_TRANSPORT_NEW, "new")               /* created or not negotiated yet */                \
    X(PRISM_TRANSPORT_CONNECTING, "connecting") /* remote description set: ICE, then DTLS */       \
    X(PRISM_TRANSPORT_CONNECTED, "connected")   /* SRTP keyed: media flows both ways */            \
    X(PRISM_TRANSPORT_FAILED, "failed")         /* final; ICE, consent or DTLS failed */           \
    X(PRISM_TRANSPORT_CLOSED, "closed")         /* final; the peer or the relay closed it */

enum prism_transport_state {
#define PRISM__STATE_ENUM(name, text) name,
    PRISM_TRANSPORT_STATES(PRISM__STATE_ENUM)
#undef PRISM__STATE_ENUM
};

/* "new", "connecting", "connected", "failed" or "closed". */
static inline const char *prism_transport_state_name(enum prism_transport_state st)
{
    switch (st) {
#define PRISM__STATE_NAME(name, text)                                                              \
    case name: return text;
        PRISM_TRANSPORT_STATES(PRISM__STATE_NAME)
#undef PRISM__STATE_NAME
    }
    return "closed";
}

#endif
