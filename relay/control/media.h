/* The control thread's half of the media plane: SDP negotiation, the tracks
 * each peer publishes, each subscriber's downstream offer and its revisions,
 * and the messages that keep the workers' rooms in step.
 *
 * Control thread only. The registry stays the source of truth for which
 * tenants, bubbles and peers exist; this module keeps, per peer handle, what
 * the media plane needs on top, and forgets it when the registry drops the
 * peer. Revisions (PROTOCOL.md "Media contract"): at most one downstream offer
 * is outstanding per peer; changes meanwhile are folded into the next one,
 * sent as a peer.offer event when the answer arrives.
 */
#ifndef PRISM_RELAY_MEDIA_H
#define PRISM_RELAY_MEDIA_H

#include "relay/control/registry.h"
#include "relay/control/relay.h"
#include "relay/worker/worker.h"

struct prism_media;

/* Emits an event (relay.c's sink); `ev` is borrowed for the call. */
typedef void (*prism_media_emit_cb)(void *ud, const struct prism_relay_event *ev);

/* `max_transports` caps the transports open at once (admission control:
 * each holds file descriptors, and GLib aborts when it runs out). */
struct prism_media *prism_media_new(struct prism_registry *reg, struct prism_workers *workers,
                                    const char *fingerprint, size_t max_transports,
                                    prism_media_emit_cb emit, void *ud);
/* Completes every pending call with PRISM_EINTERNAL and frees. Accepts NULL. */
void prism_media_free(struct prism_media *m);

/* Whether peer.candidate accepts loopback addresses: true when the relay's
 * own media addresses include a loopback one (see candidate.h; ICE applies
 * the same rule from its local addresses). False until set. */
void prism_media_set_loopback_ok(struct prism_media *m, bool loopback_ok);

void prism_media_publish(struct prism_media *m, struct prism_peer *peer, const char *offer,
                         const struct prism_relay_done *done);
/* `ice_restart`: on a subscribe transport that is up, the offer carries new
 * relay ICE credentials (TRANSPORT_RESTART), and the client's next accepted
 * answer its new ones; ignored for a new transport. */
void prism_media_subscribe(struct prism_media *m, struct prism_peer *peer, bool ice_restart,
                           const struct prism_relay_done *done);
int prism_media_answer(struct prism_media *m, struct prism_peer *peer, const char *answer,
                       uint64_t revision, char *msg, size_t msg_len);
int prism_media_candidate(struct prism_media *m, struct prism_peer *peer, bool subscribe,
                          const char *candidate, char *msg, size_t msg_len);

/* peer.prefer (see prism_relay_peer_prefer): finds the track by its id and
 * sends the preference to the bubble's worker. Returns 0 or PRISM_ENOTFOUND
 * (`publisher` publishes no such track; `msg` says so). */
int prism_media_prefer(struct prism_media *m, struct prism_peer *sub, struct prism_peer *publisher,
                       const struct prism_relay_prefer *pref, char *msg, size_t msg_len);

/* A bubble was created (its worker counters will name it by handle). */
void prism_media_bubble_opened(struct prism_media *m, struct prism_bubble *bubble);
/* The registry is about to drop `peer` (peer.leave). */
void prism_media_peer_leaving(struct prism_media *m, struct prism_peer *peer);
/* The registry is about to drop `bubble` and its peers (its worker closes them). */
void prism_media_bubble_ending(struct prism_media *m, struct prism_bubble *bubble);
/* After a peer left: the others' downstream offers drop its tracks. */
void prism_media_bubble_changed(struct prism_media *m, struct prism_bubble *bubble);

/* A worker's event (ownership stays with the caller). */
void prism_media_on_event(struct prism_media *m, const struct prism_worker_event *ev);

/* The tracks `peer` publishes, for bubble.info: copies the first `cap` of
 * them into `out` (which may be NULL when `cap` is 0) and returns how many
 * there are, which may exceed `cap`. */
size_t prism_media_tracks(struct prism_media *m, const struct prism_peer *peer,
                          struct prism_relay_track_info *out, size_t cap);

/* Which transports `peer` has open or opening (bit 0: publish, bit 1:
 * subscribe), for the metrics' transports by state. O(1). */
unsigned prism_media_peer_transports(struct prism_media *m, const struct prism_peer *peer);

/* Transports open or opening relay-wide, and the admission limit they are
 * held under (peer.publish/subscribe answer `overloaded` at the limit). */
void prism_media_admission(const struct prism_media *m, size_t *open, size_t *max);

/* Internal, for unit tests: whether a re-offer restarts ICE on an open
 * transport. `cur` and `next` are the client's ICE ufrag, pwd and
 * a=fingerprint value ("sha-256 AB:..."), each NUL-terminated, one after the
 * other: the transport's and the re-offer's. True when the ufrag or the pwd
 * changed (RFC 8839 §4.4.1.1.1) and the fingerprint did not (parsed and
 * compared, so case and hash spelling do not matter); false for NULL or an
 * unparsable fingerprint. */
bool prism__media_is_ice_restart(const char *cur, const char *next);

/* Internal, for unit tests: whether two such blocks name the same
 * certificate (false for NULL or an unparsable fingerprint). */
bool prism__media_same_fingerprint(const char *cur, const char *next);

/* What a peer.publish does with the publish transport. */
enum prism_media_reoffer {
    PRISM_MEDIA_REOFFER_NEW,         /* opens a new one (none open, or it replaces the open
                                        one: another certificate is a new DTLS association,
                                        RFC 8842) */
    PRISM_MEDIA_REOFFER_RESTART,     /* restarts ICE on the open one (new credentials) */
    PRISM_MEDIA_REOFFER_RENEGOTIATE, /* keeps the open one as it is (same credentials and
                                        certificate): only the tracks change */
};

/* Internal, for unit tests: the decision for a re-offer on an open
 * transport, from two blocks as above (the transport's, the re-offer's):
 * RESTART when prism__media_is_ice_restart(), RENEGOTIATE when the
 * credentials and the certificate are the same, else NEW (also for NULL or
 * an unparsable fingerprint). */
enum prism_media_reoffer prism__media_reoffer(const char *cur, const char *next);

#endif
