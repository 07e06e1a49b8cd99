/* One media transport: ICE agent + DTLS-SRTP session + SRTP contexts + send
 * queue, glued together on one worker (RFC 7983 demultiplexing, RFC 5764
 * DTLS-SRTP, RFC 3711 SRTP, RFC 5761 rtcp-mux).
 *
 * Story of a received datagram (prism__transport_ingress, called straight
 * from libnice's socket read): first byte -> DTLS (feed the session, re-arm
 * its timer, maybe finish the handshake and key SRTP) or RTP/RTCP (unprotect
 * in place with the inbound context, hand to on_rtp/on_rtcp; an owner's
 * on_srtp_peek may stop an SRTP packet before that) or drop. Each
 * drop bumps exactly one counter. The inbound context refuses, unread, an
 * SSRC beyond what prism_transport_set_ssrcs() allows (drop_ssrc_limit):
 * the transport keeps that setting and hands it to the context when keyed.
 *
 * Story of a sent packet: a pool buffer holding the plain packet (the
 * router's consumer wrote it: prism_transport_queue_rtp; or a copy made
 * here: prism_transport_send_rtp/rtcp) -> protect in place with the
 * outbound context -> the egress queue, flushed by the worker once per loop
 * iteration. The transport never rewrites what it is given.
 *
 * Invariants:
 * - srtp_in and srtp_out exist iff the DTLS handshake completed with the
 *   expected fingerprint; they are created together, from keys that are
 *   wiped right after.
 * - status only moves forward: NEW -> CONNECTING -> CONNECTED -> FAILED or
 *   CLOSED; FAILED and CLOSED are final and reported once.
 * - a transport CONNECTING longer than connect_timeout_ms (from the moment
 *   the peer's description is set) fails with "timeout: ice" (no ICE pair
 *   yet) or "timeout: dtls" (ICE done, no DTLS handshake): a peer that never
 *   finishes holds no port and no descriptors for long (issue 9, finding 7).
 * - `lite` mode (msock set) or agent mode (ice set), never both: a lite
 *   transport's binding is in the worker's ICE-lite tables from creation
 *   until prism_transport_close(), which takes it out at once (nothing
 *   reaches a closing transport and nothing is sent for it).
 * - `closing` set: no callback runs again, ICE is closed, the queue is
 *   detached. The struct is freed only after the ICE agent, the DTLS timer
 *   and the deadline timer have finished closing (`pending_closes` reaches
 *   0), never
 *   inside a callback, so code that runs after a user callback may still
 *   read the transport.
 */
#include "relay/net/transport.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/srtp.h"
#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/wire/candidate.h"

/* Room for "dtls: " plus the longest failure text crypto/dtls.h builds. */
#define REASON_MAX 160

struct prism_transport {
    /* inputs */
    uv_loop_t *loop;                     /* the worker's loop */
    struct prism_transport_callbacks cb; /* copied from the caller */
    void *ud;                            /* passed to every callback */
    struct prism_dtls_ctx *dtls_ctx;     /* shared; borrowed until set_remote */
    enum prism_dtls_role dtls_role;
    struct prism_egress *egress; /* the worker's; borrowed */

    /* state */
    struct prism_ice *ice;              /* agent mode: owned; closed by prism_transport_close */
    struct prism_media_socket *msock;   /* lite mode: the worker's; borrowed */
    struct prism_ice_lite *lite_ctx;    /* lite mode: msock's tables */
    struct prism_lite_binding lite;     /* lite mode: our ICE state in those tables */
    uint64_t silence_timeout_ms;        /* lite mode: from the config; 0: never */
    bool gathered;                      /* lite mode: prism_transport_gather() called */
    struct prism_fingerprint remote_fp; /* the peer's certificate, from set_remote */
    bool remote_set;                    /* prism_transport_set_remote() succeeded */
    struct prism_dtls *dtls;            /* owned; NULL until the peer may speak DTLS */
    uv_timer_t dtls_timer;              /* DTLS retransmission */
    uv_timer_t deadline;                /* CONNECTING -> CONNECTED, else FAILED "timeout: ..." */
    uint64_t connect_timeout_ms;        /* from the config; 0: no deadline */
    struct prism_srtp *srtp_in;         /* peer's key: unprotect; NULL before keys */
    struct prism_srtp *srtp_out;        /* our key: protect; NULL before keys */
    enum prism_transport_state status;  /* as last reported */
    bool ice_connected;                 /* ICE reported CONNECTED once */
    bool dtls_started;                  /* prism_dtls_start() called */
    bool closing;                       /* prism_transport_close() called */
    int pending_closes;                 /* ICE (agent mode) + two timers' closes outstanding */
    void (*closed_cb)(void *ud);        /* from prism_transport_close */
    char reason[REASON_MAX];            /* why FAILED/CLOSED */

    /* the SSRCs the peer may send (prism_transport_set_ssrcs), for srtp_in */
    uint32_t *ssrcs; /* heap, n_ssrcs: negotiated, always admitted */
    size_t n_ssrcs;
    size_t n_other; /* room for others; only grows */
    bool ssrcs_set; /* prism_transport_set_ssrcs() was called */

    /* outputs */
    struct prism_egress_queue queue; /* protected datagrams waiting for the flush */
    struct prism_media_counters counters;
};

/* --- status ------------------------------------------------------------------ */

static bool is_final(enum prism_transport_state st)
{
    return st == PRISM_TRANSPORT_FAILED || st == PRISM_TRANSPORT_CLOSED;
}

static void on_deadline(uv_timer_t *h);
static void on_silence(uv_timer_t *h);

/* Moves forward to `st` and reports it (reason "" unless given). Entering
 * CONNECTING starts the deadline; CONNECTED or a final status stops it. */
static void set_status(struct prism_transport *t, enum prism_transport_state st, const char *reason)
{
    if (t->closing || is_final(t->status) || st <= t->status)
        return;
    t->status = st;
    snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "");
    if (is_final(st))
        uv_timer_stop(&t->dtls_timer);
    if (st == PRISM_TRANSPORT_CONNECTING && t->connect_timeout_ms != 0) {
        uv_timer_start(&t->deadline, on_deadline, t->connect_timeout_ms, 0);
    } else if (st == PRISM_TRANSPORT_CONNECTED && t->msock && t->silence_timeout_ms != 0) {
        /* The same timer watches for silence from now on, checked 4 times
         * per timeout: a silent peer fails within 1.25 timeouts. */
        uint64_t period = t->silence_timeout_ms / 4 > 0 ? t->silence_timeout_ms / 4 : 1;
        uv_timer_start(&t->deadline, on_silence, period, period);
    } else {
        uv_timer_stop(&t->deadline);
    }
    t->cb.on_status(t->ud, st, t->reason);
}

/* Still CONNECTING when the deadline passed: ICE found no pair, or it did
 * and the peer never finished (or never started) its DTLS handshake. */
static void on_deadline(uv_timer_t *h)
{
    struct prism_transport *t = h->data;
    if (t->status == PRISM_TRANSPORT_CONNECTING)
        set_status(t, PRISM_TRANSPORT_FAILED, t->ice_connected ? "timeout: dtls" : "timeout: ice");
}

/* CONNECTED (lite mode): the peer's checks, DTLS and media all stopped. */
static void on_silence(uv_timer_t *h)
{
    struct prism_transport *t = h->data;
    if (t->status == PRISM_TRANSPORT_CONNECTED &&
        uv_now(t->loop) - t->lite.last_rx_ms >= t->silence_timeout_ms)
        set_status(t, PRISM_TRANSPORT_FAILED, "consent lost");
}

/* --- DTLS ---------------------------------------------------------------------- */

static void on_dtls_send(void *ud, const uint8_t *data, size_t len)
{
    struct prism_transport *t = ud;
    /* A lost datagram is retransmitted on the DTLS timer. A lite
     * transport sends only to the address its peer's checks validated. */
    if (t->msock) {
        struct prism_ice_datagram one = {.data = data, .len = len};
        (void)prism_udp_send_batch(&t->lite.path, &one, 1);
    } else {
        (void)prism_ice_send(t->ice, data, len);
    }
}

static void on_dtls_timer(uv_timer_t *h);

static void arm_dtls_timer(struct prism_transport *t)
{
    if (t->closing || is_final(t->status))
        return;
    int64_t ms = prism_dtls_timeout_ms(t->dtls);
    if (ms < 0)
        uv_timer_stop(&t->dtls_timer);
    else
        uv_timer_start(&t->dtls_timer, on_dtls_timer, (uint64_t)ms, 0);
}

/* Keys SRTP from the finished handshake. Returns 0 or a PRISM_E code. */
static int key_srtp(struct prism_transport *t)
{
    struct prism_dtls_keys keys;
    int r = prism_dtls_keys(t->dtls, &keys);
    if (r == 0)
        r = prism_srtp_new(keys.profile, keys.remote, keys.key_salt_len, false, &t->srtp_in);
    if (r == 0 && t->ssrcs_set)
        r = prism_srtp_set_ssrcs(t->srtp_in, t->ssrcs, t->n_ssrcs, t->n_other);
    if (r == 0)
        r = prism_srtp_new(keys.profile, keys.local, keys.key_salt_len, true, &t->srtp_out);
    prism_dtls_keys_wipe(&keys);
    if (r != 0) {
        prism_srtp_free(t->srtp_in);
        t->srtp_in = NULL;
    }
    return r;
}

/* Acts on the session's state after any call that may change it. */
static void after_dtls(struct prism_transport *t)
{
    char reason[REASON_MAX];

    switch (prism_dtls_state(t->dtls)) {
    case PRISM_DTLS_HANDSHAKING: break;
    case PRISM_DTLS_CONNECTED:
        if (t->status == PRISM_TRANSPORT_CONNECTING && !t->srtp_in) {
            if (key_srtp(t) != 0) {
                set_status(t, PRISM_TRANSPORT_FAILED, "srtp: key setup failed");
                return;
            }
            set_status(t, PRISM_TRANSPORT_CONNECTED, "");
        }
        break;
    case PRISM_DTLS_FAILED:
        snprintf(reason, sizeof(reason), "dtls: %s", prism_dtls_failure(t->dtls));
        set_status(t, PRISM_TRANSPORT_FAILED, reason);
        return;
    case PRISM_DTLS_CLOSED: set_status(t, PRISM_TRANSPORT_CLOSED, "dtls: closed by peer"); return;
    }
    arm_dtls_timer(t);
}

static void on_dtls_timer(uv_timer_t *h)
{
    struct prism_transport *t = h->data;
    if (t->closing)
        return;
    (void)prism_dtls_on_timeout(t->dtls);
    after_dtls(t);
}

/* Creates the DTLS session once the peer can reach it: when ICE connects,
 * or when its first record arrives, whichever comes first. An SSL object is
 * ~7 KiB and a transport whose peer never shows up (the idle ones a backend
 * prepares ahead of a call) never needs one. Returns false, having failed
 * the transport, when OpenSSL cannot make it. */
static bool ensure_dtls(struct prism_transport *t)
{
    if (t->dtls)
        return true;
    if (prism_dtls_new(t->dtls_ctx, t->dtls_role, &t->remote_fp, on_dtls_send, t, &t->dtls) != 0) {
        t->dtls = NULL;
        set_status(t, PRISM_TRANSPORT_FAILED, "dtls: session setup failed");
        return false;
    }
    return true;
}

static void maybe_start_dtls(struct prism_transport *t)
{
    if (t->closing || t->dtls_started || !t->remote_set || !t->ice_connected || is_final(t->status))
        return;
    if (!ensure_dtls(t))
        return;
    t->dtls_started = true;
    (void)prism_dtls_start(t->dtls);
    after_dtls(t);
}

/* --- ingress --------------------------------------------------------------------- */

static void ingress_media(struct prism_transport *t, uint8_t *data, size_t len)
{
    struct prism_media_counters *c = &t->counters;
    if (t->status != PRISM_TRANSPORT_CONNECTED) {
        c->drop_not_srtp++;
        return;
    }
    if (len < 2) {
        c->drop_malformed++;
        return;
    }
    /* RFC 5761 §4: with rtcp-mux, RTP payload types stay outside 64-95, so
     * a second byte (marker + PT, or RTCP's PT) of 192-223 is RTCP. */
    bool rtcp = data[1] >= 192 && data[1] <= 223;
    size_t wire_len = len;
    if (!rtcp && t->cb.on_srtp_peek != NULL && !t->cb.on_srtp_peek(t->ud, data, len)) {
        c->packets_in++;
        c->bytes_in += wire_len;
        return;
    }
    enum prism_srtp_verdict v = rtcp ? prism_srtp_unprotect_rtcp(t->srtp_in, data, &len)
                                     : prism_srtp_unprotect_rtp(t->srtp_in, data, &len);
    switch (v) {
    case PRISM_SRTP_OK:
        c->packets_in++;
        c->bytes_in += wire_len;
        if (rtcp)
            t->cb.on_rtcp(t->ud, data, len);
        else
            t->cb.on_rtp(t->ud, data, len);
        return;
    case PRISM_SRTP_AUTH_FAILED: c->drop_srtp_auth++; return;
    case PRISM_SRTP_REPLAY: c->drop_srtp_replay++; return;
    case PRISM_SRTP_SSRC_REFUSED: c->drop_ssrc_limit++; return;
    case PRISM_SRTP_MALFORMED:
    default: c->drop_malformed++; return;
    }
}

void prism__transport_ingress(struct prism_transport *t, uint8_t *data, size_t len)
{
    if (t->closing)
        return;
    if (len == 0) {
        t->counters.drop_malformed++;
        return;
    }
    uint8_t b = data[0];
    if (b >= 20 && b <= 63) {
        /* DTLS (RFC 7983 §7). Before the remote description there is no
         * session to feed; after a final status there is nothing left to
         * negotiate. A ClientHello that beats our own ICE CONNECTED is fed
         * anyway: the session answers once ICE can send (the peer
         * retransmits otherwise). */
        if (!t->remote_set) {
            t->counters.drop_malformed++;
            return;
        }
        if (is_final(t->status) || !ensure_dtls(t))
            return;
        (void)prism_dtls_feed(t->dtls, data, len);
        after_dtls(t);
    } else if (b >= 128 && b <= 191) {
        ingress_media(t, data, len);
    } else {
        /* STUN (0-3) never gets here: libnice or the media socket consumes
         * it. ZRTP, TURN channels and anything else have no business on
         * this transport. */
        t->counters.drop_not_srtp++;
    }
}

struct prism_egress_queue *prism__transport_queue(struct prism_transport *t)
{
    return &t->queue;
}

/* --- ICE callbacks --------------------------------------------------------------- */

static void on_ice_recv(void *ud, uint8_t *data, size_t len)
{
    prism__transport_ingress(ud, data, len);
}

static void on_ice_state(void *ud, enum prism_ice_state st)
{
    struct prism_transport *t = ud;
    switch (st) {
    case PRISM_ICE_CHECKING: set_status(t, PRISM_TRANSPORT_CONNECTING, ""); break;
    case PRISM_ICE_CONNECTED:
        t->ice_connected = true;
        set_status(t, PRISM_TRANSPORT_CONNECTING, "");
        maybe_start_dtls(t);
        break;
    case PRISM_ICE_FAILED:
        /* libnice only fails a connected pair when consent checks go
         * unanswered (RFC 7675). */
        set_status(t, PRISM_TRANSPORT_FAILED, t->ice_connected ? "consent lost" : "ice failed");
        break;
    case PRISM_ICE_NEW:
    case PRISM_ICE_CLOSED: break;
    }
}

static void on_ice_candidate(void *ud, const char *candidate)
{
    struct prism_transport *t = ud;
    if (!t->closing && t->cb.on_candidate)
        t->cb.on_candidate(t->ud, candidate);
}

static void on_ice_gathering_done(void *ud)
{
    struct prism_transport *t = ud;
    if (!t->closing && t->cb.on_gathering_done)
        t->cb.on_gathering_done(t->ud);
}

static const struct prism_ice_callbacks ice_callbacks = {
    .on_recv = on_ice_recv,
    .on_state = on_ice_state,
    .on_candidate = on_ice_candidate,
    .on_gathering_done = on_ice_gathering_done,
};

/* --- ICE-lite (lite mode) ------------------------------------------------------- */

/* A check with our credentials passed: the peer may now get DTLS (once its
 * description, with the fingerprint, is known). */
static void on_lite_validated(void *ud)
{
    struct prism_transport *t = ud;
    if (t->closing || !t->remote_set || t->ice_connected)
        return;
    t->ice_connected = true;
    maybe_start_dtls(t);
}

/* The media socket's host candidates, then end-of-candidates. A worker
 * with no media address bound (none configured, no interface up) has
 * nothing to offer: PRISM_EIO, as when a libnice agent binds nothing. */
static int lite_gather(struct prism_transport *t)
{
    char cands[PRISM_MSOCK_MAX_CANDS][PRISM_CANDIDATE_LEN];
    size_t n = prism_media_socket_candidates(t->msock, cands, PRISM_MSOCK_MAX_CANDS);
    if (n == 0)
        return PRISM_EIO;
    for (size_t i = 0; i < n && !t->closing; i++)
        on_ice_candidate(t, cands[i]);
    on_ice_gathering_done(t);
    return 0;
}

/* A trickled candidate, for a lite transport: the form is checked (the
 * protocol's promise), the address is not used. */
static int lite_candidate(const char *candidate)
{
    struct prism_candidate pc;
    if (candidate == NULL)
        return 0;
    size_t len = strnlen(candidate, PRISM_CANDIDATE_MAX + 3);
    return prism_candidate_parse(candidate, len, &pc) == 0 ? 0 : PRISM_EINVAL;
}

/* --- control ------------------------------------------------------------------- */

int prism_transport_new(uv_loop_t *loop, const struct prism_transport_config *cfg,
                        const struct prism_transport_callbacks *cb, void *ud,
                        struct prism_transport **out)
{
    if (!loop || !cfg || !cb || !out || !cfg->dtls_ctx || !cfg->egress || !cb->on_rtp ||
        !cb->on_rtcp || !cb->on_status)
        return PRISM_EINVAL;
    if (cfg->dtls_role != PRISM_DTLS_CLIENT && cfg->dtls_role != PRISM_DTLS_SERVER)
        return PRISM_EINVAL;
    struct prism_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return PRISM_ENOMEM;
    t->loop = loop;
    t->cb = *cb;
    t->ud = ud;
    t->dtls_ctx = cfg->dtls_ctx;
    t->dtls_role = cfg->dtls_role;
    t->egress = cfg->egress;
    t->status = PRISM_TRANSPORT_NEW;
    int r;
    if (cfg->lite) {
        t->msock = cfg->lite;
        t->lite_ctx = prism_media_socket_lite(cfg->lite);
        t->silence_timeout_ms = cfg->silence_timeout_ms;
        r = prism_ice_lite_attach(t->lite_ctx, &t->lite, on_ice_recv, on_lite_validated, t);
    } else {
        r = prism_ice_new(loop, &cfg->ice, &ice_callbacks, t, &t->ice);
    }
    if (r != 0) {
        free(t);
        return r;
    }
    /* Cannot fail once the loop is initialised. */
    uv_timer_init(loop, &t->dtls_timer);
    t->dtls_timer.data = t;
    uv_timer_init(loop, &t->deadline);
    t->deadline.data = t;
    t->connect_timeout_ms = cfg->connect_timeout_ms;
    if (t->msock)
        prism_egress_queue_init_path(&t->queue, &t->lite.path, &t->counters.packets_out,
                                     &t->counters.bytes_out, &t->counters.drop_egress);
    else
        prism_egress_queue_init(&t->queue, t->ice, &t->counters.packets_out, &t->counters.bytes_out,
                                &t->counters.drop_egress);
    *out = t;
    return 0;
}

int prism_transport_gather(struct prism_transport *t)
{
    if (t->closing)
        return PRISM_EINVAL;
    if (t->msock) {
        if (t->gathered)
            return PRISM_EINVAL;
        t->gathered = true;
        return lite_gather(t);
    }
    return prism_ice_gather(t->ice);
}

void prism_transport_local_credentials(const struct prism_transport *t, const char **ufrag,
                                       const char **pwd)
{
    if (t->msock) {
        *ufrag = t->lite.ufrag;
        *pwd = t->lite.pwd;
        return;
    }
    prism_ice_local_credentials(t->ice, ufrag, pwd);
}

int prism_transport_set_remote(struct prism_transport *t, const char *ufrag, const char *pwd,
                               const char *fingerprint)
{
    struct prism_fingerprint fp;

    if (t->closing || t->remote_set || !ufrag || !pwd || !fingerprint)
        return PRISM_EINVAL;
    int r = prism_cert_fingerprint_parse(fingerprint, &fp);
    if (r != 0)
        return r;
    if (t->msock)
        r = prism_candidate_ice_chars(pwd, 22, 256) ? prism_ice_lite_set_remote(&t->lite, ufrag)
                                                    : PRISM_EINVAL;
    else
        r = prism_ice_set_remote_credentials(t->ice, ufrag, pwd);
    if (r != 0)
        return r;
    t->remote_fp = fp;
    t->remote_set = true;
    set_status(t, PRISM_TRANSPORT_CONNECTING, "");
    /* The peer's checks may have come before its description did. */
    if (t->msock && prism_ice_lite_validated(&t->lite))
        on_lite_validated(t);
    return 0;
}

/* For an ICE restart: `pwd` is well-formed and `fingerprint` is the one
 * the session was set up with (RFC 8842: another certificate is another
 * DTLS association, which a restart is not). Returns 0 or PRISM_EINVAL /
 * PRISM_EUNSUPPORTED. */
static int same_peer(const struct prism_transport *t, const char *pwd, const char *fingerprint)
{
    struct prism_fingerprint fp;
    if (!prism_candidate_ice_chars(pwd, 22, 256))
        return PRISM_EINVAL;
    int r = prism_cert_fingerprint_parse(fingerprint, &fp);
    if (r != 0)
        return r;
    return prism_cert_fingerprint_equal(&fp, &t->remote_fp) ? 0 : PRISM_EINVAL;
}

/* Whether a live lite transport may take a new description from its peer.
 * Returns 0, PRISM_EUNSUPPORTED (a libnice transport) or PRISM_EINVAL. */
static int live(const struct prism_transport *t)
{
    if (!t->msock)
        return PRISM_EUNSUPPORTED;
    return t->closing || !t->remote_set || is_final(t->status) ? PRISM_EINVAL : 0;
}

/* live(), all three values given, and same_peer(). */
static int live_same_peer(const struct prism_transport *t, const char *ufrag, const char *pwd,
                          const char *fingerprint)
{
    int r = live(t);
    if (r == 0 && (!ufrag || !pwd || !fingerprint))
        r = PRISM_EINVAL;
    return r == 0 ? same_peer(t, pwd, fingerprint) : r;
}

int prism_transport_restart_ice(struct prism_transport *t, const char *ufrag, const char *pwd,
                                const char *fingerprint)
{
    int r = ufrag ? live_same_peer(t, ufrag, pwd, fingerprint) : live(t);
    if (r == 0)
        r = prism_ice_lite_restart(t->lite_ctx, &t->lite, ufrag);
    return r == 0 ? lite_gather(t) : r;
}

int prism_transport_renegotiate(struct prism_transport *t, const char *ufrag, const char *pwd,
                                const char *fingerprint)
{
    int r = live_same_peer(t, ufrag, pwd, fingerprint);
    if (r != 0)
        return r;
    /* The peer's ufrag is all the lite binding keeps of its credentials
     * (it checks our pwd, not its own). */
    if (strcmp(ufrag, t->lite.remote_ufrag) != 0)
        return PRISM_EINVAL;
    return lite_gather(t);
}

int prism_transport_restart_remote(struct prism_transport *t, const char *ufrag, const char *pwd,
                                   const char *fingerprint)
{
    int r = live_same_peer(t, ufrag, pwd, fingerprint);
    return r == 0 ? prism_ice_lite_set_remote(&t->lite, ufrag) : r;
}

int prism_transport_add_remote_candidate(struct prism_transport *t, const char *candidate)
{
    if (t->closing)
        return PRISM_EINVAL;
    if (t->msock)
        return t->remote_set ? lite_candidate(candidate) : PRISM_EINVAL;
    return prism_ice_add_remote_candidate(t->ice, candidate);
}

int prism_transport_set_ssrcs(struct prism_transport *t, const uint32_t *ssrcs, size_t n,
                              size_t n_other)
{
    if (t->closing || (ssrcs == NULL && n > 0) || n > PRISM_SRTP_MAX_STREAMS)
        return PRISM_EINVAL;
    uint32_t *copy = malloc((n > 0 ? n : 1) * sizeof(*copy));
    if (copy == NULL)
        return PRISM_ENOMEM;
    if (n > 0)
        memcpy(copy, ssrcs, n * sizeof(*copy));
    if (t->ssrcs_set && t->n_other > n_other)
        n_other = t->n_other;
    if (t->srtp_in != NULL) {
        int r = prism_srtp_set_ssrcs(t->srtp_in, copy, n, n_other);
        if (r != 0) {
            free(copy);
            return r;
        }
    }
    free(t->ssrcs);
    t->ssrcs = copy;
    t->n_ssrcs = n;
    t->n_other = n_other;
    t->ssrcs_set = true;
    return 0;
}

/* --- egress (hot path) --------------------------------------------------------------- */

/* Protects the packet of `len` bytes in the pool buffer `buf` (ownership
 * moves here) and queues it, or puts the buffer back and counts the drop.
 * `min_len` is the fixed header of the packet type. */
static int queue_packet(struct prism_transport *t, uint8_t *buf, size_t len, bool rtcp)
{
    size_t min_len = rtcp ? 8 : 12;
    int r = 0;
    if (t->closing || t->status != PRISM_TRANSPORT_CONNECTED)
        r = PRISM_EIO;
    else if (len < min_len || len > PRISM_EGRESS_MAX_PACKET || (buf[0] & 0xc0) != 0x80)
        r = PRISM_EINVAL;
    else /* every pool buffer has PRISM_SRTP_MAX_TRAILER bytes after PRISM_EGRESS_MAX_PACKET */
        r = rtcp ? prism_srtp_protect_rtcp(t->srtp_out, buf, &len)
                 : prism_srtp_protect_rtp(t->srtp_out, buf, &len);
    if (r != 0) {
        prism_egress_buf_put(t->egress, buf);
        t->counters.drop_egress++;
        return r;
    }
    prism_egress_queue_take(t->egress, &t->queue, buf, len);
    return 0;
}

/* Copies `pkt` into a pool buffer and queues it. */
static int send_packet(struct prism_transport *t, const uint8_t *pkt, size_t len, bool rtcp)
{
    if (t->closing || t->status != PRISM_TRANSPORT_CONNECTED) {
        t->counters.drop_egress++;
        return PRISM_EIO;
    }
    if (pkt == NULL || len > PRISM_EGRESS_MAX_PACKET) {
        t->counters.drop_egress++;
        return PRISM_EINVAL;
    }
    uint8_t *buf = prism_egress_buf_get(t->egress);
    if (!buf) {
        t->counters.drop_egress++;
        return PRISM_ENOMEM;
    }
    memcpy(buf, pkt, len);
    return queue_packet(t, buf, len, rtcp);
}

int prism_transport_queue_rtp(struct prism_transport *t, uint8_t *buf, size_t len)
{
    return queue_packet(t, buf, len, false);
}

int prism_transport_send_rtp(struct prism_transport *t, const uint8_t *pkt, size_t len)
{
    return send_packet(t, pkt, len, false);
}

int prism_transport_send_rtcp(struct prism_transport *t, const uint8_t *pkt, size_t len)
{
    return send_packet(t, pkt, len, true);
}

const struct prism_media_counters *prism_transport_counters(const struct prism_transport *t)
{
    return &t->counters;
}

enum prism_transport_state prism_transport_status(const struct prism_transport *t)
{
    return t->closing ? PRISM_TRANSPORT_CLOSED : t->status;
}

/* --- teardown ---------------------------------------------------------------------- */

static void release(struct prism_transport *t)
{
    if (--t->pending_closes > 0)
        return;
    void (*closed_cb)(void *ud) = t->closed_cb;
    void *ud = t->ud;
    prism_srtp_free(t->srtp_in);
    prism_srtp_free(t->srtp_out);
    prism_dtls_free(t->dtls);
    free(t->ssrcs);
    free(t);
    if (closed_cb)
        closed_cb(ud);
}

static void on_ice_closed(void *ud)
{
    release(ud);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

void prism_transport_close(struct prism_transport *t, void (*closed_cb)(void *ud))
{
    if (!t)
        return;
    PRISM_CHECK(!t->closing);
    /* Queued media, then a close_notify, go out on the still-open agent,
     * so the peer learns at once rather than after a consent timeout. */
    prism_egress_queue_flush(t->egress, &t->queue);
    prism_egress_queue_detach(t->egress, &t->queue);
    if (t->dtls)
        prism_dtls_close(t->dtls);
    t->closing = true;
    t->closed_cb = closed_cb;
    t->pending_closes = t->msock ? 2 : 3;
    uv_timer_stop(&t->dtls_timer);
    uv_close((uv_handle_t *)&t->dtls_timer, on_timer_closed);
    uv_timer_stop(&t->deadline);
    uv_close((uv_handle_t *)&t->deadline, on_timer_closed);
    if (t->msock)
        prism_ice_lite_detach(t->lite_ctx, &t->lite);
    else
        prism_ice_close(t->ice, on_ice_closed);
}
