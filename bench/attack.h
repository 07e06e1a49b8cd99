/* prism-bench run --attack KIND: a flood next to a live call (issue 9).
 *
 * Owns the attacker of one run: a tenant of its own (the run's tenant plus
 * "-atk"), one bubble "attack" on the relay under test holding two
 * legitimately joined endpoints (bench/endpoint.h): "pub" publishes audio
 * and video, "sub" receives them. Once both flow, the flood runs at
 * --attack-pps for as long as the victims' measurement does, then stops;
 * the victims are the run's own bubbles (another tenant), whose loss and
 * delay the run reports as usual. On a one-worker relay (prism-bench's
 * default with --spawn) the attacker's bubble shares the victims' worker.
 *
 * Kinds (enum prism_bench_attack_kind):
 * - srtp: RTP under pub's negotiated audio SSRC, seq far ahead of pub's
 *   own, with a random 16-byte tag, sent from pub's own address: each must
 *   fail SRTP authentication (a drop counted as srtp_auth, or srtp_replay);
 * - stun: Binding requests naming the relay's ufrag, with a bogus
 *   MESSAGE-INTEGRITY and a correct FINGERPRINT (so the relay must check
 *   the integrity), each from a new source port;
 * - garbage: random UDP datagrams (20..1200 bytes, any first byte), each
 *   from a new source port;
 * - pli: PLIs (SRTCP, properly keyed) from sub about the video it receives.
 *
 * Where to aim: only "the address a transport of the relay answers on", the
 * first candidate of the relay's answer to pub's publish offer. With a port
 * per transport that is pub's own transport; with one port per worker it is
 * the worker's, the victims' too; either way the worker the victims share
 * reads every datagram. Only loopback targets are accepted.
 *
 * Sources: srtp, stun and garbage go out of a raw IPv4 socket (CAP_NET_RAW;
 * the tests run as root in a private network namespace) so that srtp can
 * come from pub's address (held by pub's transport) and stun/garbage from a
 * new port each; without one, they go out of one ordinary UDP socket and
 * the report says "spoofed": false.
 *
 * Thread: the run's loop thread, except the srtp, stun and garbage floods,
 * which run on a thread of their own at the lowest priority between
 * prism_bench_attack_start and _stop, so that the flood's sends never hold
 * up the loop that receives and timestamps the victims' packets. The flood
 * allocates nothing per packet (one buffer, one sendto each: a syscall per
 * packet is the attacker's cost, not the relay's).
 */
#ifndef PRISM_BENCH_ATTACK_H
#define PRISM_BENCH_ATTACK_H

#include <stdbool.h>

#include <jansson.h>

#include "bench/endpoint.h"
#include "bench/media.h"

enum prism_bench_attack_kind {
    PRISM_BENCH_ATTACK_NONE = 0,
    PRISM_BENCH_ATTACK_SRTP,
    PRISM_BENCH_ATTACK_STUN,
    PRISM_BENCH_ATTACK_GARBAGE,
    PRISM_BENCH_ATTACK_PLI,
};

struct prism_bench_attack;

/* "srtp", "stun", "garbage" or "pli" into *out; false for anything else. */
bool prism_bench_attack_kind_parse(const char *s, enum prism_bench_attack_kind *out);

/* Creates the attacker (nothing sent yet) for a run on `site` (borrowed:
 * read again at the join, once its control connection is open) whose
 * tenant is site->tenant; `audio` and `video` are the run's clips (borrowed; they
 * outlive the attacker). Returns 0 and sets *out, or PRISM_ENOMEM. */
int prism_bench_attack_new(const struct prism_bench_site *site, enum prism_bench_attack_kind kind,
                           double pps, const struct prism_bench_clip *audio,
                           const struct prism_bench_clip *video, struct prism_bench_attack **out);

/* The attacker's tenant id (for events.subscribe). */
const char *prism_bench_attack_tenant(const struct prism_bench_attack *a);

/* Creates the attacker's tenant and bubble, joins its endpoints and calls
 * `ready(ud, NULL)` once both flow and the target is known, or
 * `ready(ud, why)` (a static string) if that takes over 30 s or the target
 * is not on loopback. */
void prism_bench_attack_join(struct prism_bench_attack *a, void (*ready)(void *ud, const char *why),
                             void *ud);

/* A peer.offer event: handled (true) when it is for the attacker's tenant. */
bool prism_bench_attack_on_offer(struct prism_bench_attack *a, const char *tenant, const char *peer,
                                 const char *offer, uint64_t revision);

/* Starts the flood; `rss_kib` is the relay's RSS now (the report's base). */
void prism_bench_attack_start(struct prism_bench_attack *a, long rss_kib);

/* Records the relay's RSS (the sampler calls it once a second). */
void prism_bench_attack_sample(struct prism_bench_attack *a, long rss_kib);

/* Stops the flood; the relay-wide drops are read again 1.2 s later (the
 * workers publish their counters once a second). */
void prism_bench_attack_stop(struct prism_bench_attack *a);

/* Sends peer.leave for both endpoints and tenant.delete; `closed_cb(ud)`
 * (may be NULL) runs once per endpoint when its transports are released.
 * Returns the number of endpoints closing (2). */
int prism_bench_attack_leave(struct prism_bench_attack *a, void (*closed_cb)(void *ud), void *ud);

/* Closes the attacker's loop handles (before the loop ends). */
void prism_bench_attack_close(struct prism_bench_attack *a);

/* The report's "attack" object (new reference): kind, rates, packets sent,
 * target, spoofed, the relay-wide drops during the flood by reason, and
 * the relay's RSS at the flood's start and its peak. */
json_t *prism_bench_attack_report(const struct prism_bench_attack *a);

/* Frees the attacker (after prism_bench_attack_close and once its loop
 * has run the closes). Accepts NULL. */
void prism_bench_attack_free(struct prism_bench_attack *a);

#endif
