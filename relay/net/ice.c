/* ICE glue: one libnice agent per transport, on a worker's uv loop.
 *
 * Owns: the NiceAgent (one stream, component 1), the GLib context driver it
 * runs on, and copies of the local credentials. Thread: the worker that
 * created it (checked on every control call; not on the send path).
 *
 * Why these agent settings:
 * - RFC 5245 compatibility is libnice's RFC 8445 mode; regular nomination
 *   is what RFC 8445 keeps (aggressive nomination was removed).
 * - Trickle (RFC 8838): checks do not fail for good before the peer's
 *   end-of-candidates; signaling must pass it even when every candidate
 *   came in the SDP.
 * - Consent freshness (RFC 7675) with keepalive checks: a peer that vanishes
 *   turns the component FAILED (after libnice's 10 s).
 * - ice-tcp off (it would add a listening socket per agent), UPnP off.
 * - Local addresses always come from the configuration when given (with
 *   media_ip unset, relay.c fills in the default routes' source addresses):
 *   libnice's own enumeration, used only when the list is empty, skips
 *   loopback and picks up every interface.
 *
 * Invariants: `closing` set means no callback runs again and the agent is
 * unreferenced only from the driver's close callback, never from inside a
 * dispatch of its context. The mapped state only moves forward, and FAILED
 * is final (there is no ICE restart here).
 *
 * Every control call into the agent is followed by prism_gmain_uv_wake(),
 * because libnice adds timers and sockets that the uv handles must learn of.
 *
 * Send path. libnice's nice_agent_send_messages_nonblocking() takes the
 * agent's mutex and sends each message with its own sendmsg through GSocket
 * (address conversions, GError plumbing). Once ICE is CONNECTED and the
 * selected pair is a UDP pair on one of our own sockets (not relayed), we
 * send batches ourselves: one sendmmsg on that socket's fd to the selected
 * remote address, grouping runs of equal-size datagrams into one UDP GSO
 * message each (UDP_SEGMENT, Linux 4.18+): the kernel walks the stack once
 * per run instead of once per datagram (relay/net/udp_send.h, shared with
 * the relay's ICE-lite transports). The fd and address are refreshed on
 * "new-selected-pair-full" and on every state change; any state other than
 * CONNECTED (consent lost is FAILED, RFC 7675) goes back to libnice's path,
 * which refuses to send without consent. A GSO send the route refuses (no
 * checksum offload: EIO; a segment above the path MTU: EMSGSIZE, EINVAL
 * before Linux 6.x) turns GSO off for this agent and is retried without it;
 * one datagram the kernel refuses (a firewall rule's EPERM) is skipped and
 * the rest of the batch still goes.
 */
#include "relay/net/ice.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <nice/agent.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/net/gmain_uv.h"
#include "relay/wire/candidate.h"

/* The only component: RTP, RTCP, DTLS and STUN all share it (rtcp-mux). */
#define COMPONENT_ID 1

struct prism_ice {
    struct prism_gmain_uv *gm;     /* drives the agent's context; owned */
    NiceAgent *agent;              /* one reference, dropped after gm's handles close */
    guint stream_id;               /* our single stream */
    struct prism_ice_callbacks cb; /* copied from the caller */
    void *ud;                      /* passed to every callback */
    gchar *ufrag, *pwd;            /* local credentials (g_free) */
    NiceAddress advertise;         /* replaces host candidates' address when has_advertise */
    bool has_advertise;            /* advertise_ip was configured */
    bool loopback_ok;              /* a local address is loopback: so may remote ones be */
    bool gathered;                 /* prism_ice_gather() succeeded */
    bool have_remote_credentials;  /* candidates may be added */
    bool was_connected;            /* reached CONNECTED once: later loss means FAILED */
    bool closing;                  /* prism_ice_close() was called */
    enum prism_ice_state state;    /* what on_state last reported */
    void (*closed_cb)(void *ud);   /* from prism_ice_close() */
    struct prism_udp_path direct;  /* selected pair's socket (libnice's) and remote address
                                      for our own sendmmsg; fd -1: send through libnice */
};

static void check_thread(const struct prism_ice *ice)
{
    PRISM_CHECK(g_main_context_is_owner(prism_gmain_uv_context(ice->gm)));
}

/* --- libnice signals and receive callback (dispatch or control calls) --- */

/* A keyframe is a burst of tens of datagrams; the kernel's default socket
 * buffer (~208 KiB) overflows if the worker is busy when it lands. Ask for
 * SOCKET_BUF_BYTES, beyond net.core.[rw]mem_max when privileged
 * (SO_*BUFFORCE), else as much as the limits allow. */
#define SOCKET_BUF_BYTES (1 << 20)

static void enlarge_socket_buffers(struct prism_ice *ice)
{
    GSocket *sock = nice_agent_get_selected_socket(ice->agent, ice->stream_id, COMPONENT_ID);
    if (sock == NULL)
        return;
    prism_udp_set_buffers(g_socket_get_fd(sock), SOCKET_BUF_BYTES);
    g_object_unref(sock);
}

/* Points the direct send path at the selected pair, or turns it off (-1)
 * when we are not CONNECTED, there is no pair, or the pair is not plain UDP
 * on one of our sockets (a relayed candidate needs libnice's TURN framing). */
static void refresh_direct_path(struct prism_ice *ice)
{
    NiceCandidate *local = NULL, *remote = NULL;
    ice->direct.fd = -1;
    if (ice->closing || ice->state != PRISM_ICE_CONNECTED ||
        !nice_agent_get_selected_pair(ice->agent, ice->stream_id, COMPONENT_ID, &local, &remote) ||
        !local || !remote || local->type == NICE_CANDIDATE_TYPE_RELAYED ||
        local->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
        remote->transport != NICE_CANDIDATE_TRANSPORT_UDP)
        return;
    int family = remote->addr.s.addr.sa_family;
    if (family != AF_INET && family != AF_INET6)
        return;
    GSocket *sock = nice_agent_get_selected_socket(ice->agent, ice->stream_id, COMPONENT_ID);
    if (sock == NULL)
        return;
    /* The agent keeps the socket open while its pair is selected; a new
     * pair brings us back here. */
    int fd = g_socket_get_fd(sock);
    g_object_unref(sock);
    memset(&ice->direct.to, 0, sizeof(ice->direct.to));
    nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&ice->direct.to);
    ice->direct.to_len =
        family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    ice->direct.fd = fd;
}

static void on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                             NiceCandidate *local, NiceCandidate *remote, gpointer data)
{
    struct prism_ice *ice = data;
    (void)agent;
    (void)local;
    (void)remote;
    if (stream_id == ice->stream_id && component_id == COMPONENT_ID)
        refresh_direct_path(ice);
}

static void set_state(struct prism_ice *ice, enum prism_ice_state next)
{
    if (ice->closing || next == ice->state || ice->state == PRISM_ICE_FAILED)
        return;
    if (next == PRISM_ICE_CONNECTED && !ice->was_connected)
        enlarge_socket_buffers(ice);
    if (next == PRISM_ICE_CONNECTED)
        ice->was_connected = true;
    ice->state = next;
    refresh_direct_path(ice);
    if (ice->cb.on_state)
        ice->cb.on_state(ice->ud, next);
}

static void on_component_state(NiceAgent *agent, guint stream_id, guint component_id, guint st,
                               gpointer data)
{
    struct prism_ice *ice = data;
    (void)agent;
    if (stream_id != ice->stream_id || component_id != COMPONENT_ID)
        return;
    switch ((NiceComponentState)st) {
    case NICE_COMPONENT_STATE_DISCONNECTED:
        /* Only seen after a connection if keepalives time out. */
        if (ice->was_connected)
            set_state(ice, PRISM_ICE_FAILED);
        break;
    case NICE_COMPONENT_STATE_GATHERING: break;
    case NICE_COMPONENT_STATE_CONNECTING:
        /* Libnice also passes through CONNECTING when a new remote
         * candidate arrives after connecting: that is no regression. */
        if (!ice->was_connected)
            set_state(ice, PRISM_ICE_CHECKING);
        break;
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY: set_state(ice, PRISM_ICE_CONNECTED); break;
    case NICE_COMPONENT_STATE_FAILED:
    default: set_state(ice, PRISM_ICE_FAILED); break;
    }
}

/* Our candidate `cand` as candidate.h's struct: the advertised address in
 * place of a host candidate's own (same family only). Returns false for what
 * the grammar cannot say (a transport or type libnice has and we do not). */
static bool from_nice(const struct prism_ice *ice, const NiceCandidate *cand,
                      struct prism_candidate *pc)
{
    static const enum prism_candidate_type types[] = {
        [NICE_CANDIDATE_TYPE_HOST] = PRISM_CANDIDATE_HOST,
        [NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE] = PRISM_CANDIDATE_SRFLX,
        [NICE_CANDIDATE_TYPE_PEER_REFLEXIVE] = PRISM_CANDIDATE_PRFLX,
        [NICE_CANDIDATE_TYPE_RELAYED] = PRISM_CANDIDATE_RELAY,
    };
    if ((size_t)cand->type >= PRISM_ARRAY_LEN(types))
        return false;
    memset(pc, 0, sizeof(*pc));
    g_strlcpy(pc->foundation, cand->foundation, sizeof(pc->foundation));
    pc->component = (uint16_t)cand->component_id;
    pc->priority = cand->priority;
    pc->type = types[cand->type];
    switch (cand->transport) {
    case NICE_CANDIDATE_TRANSPORT_UDP: pc->transport = PRISM_CANDIDATE_UDP; break;
    case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE:
        pc->transport = PRISM_CANDIDATE_TCP;
        pc->tcptype = PRISM_CANDIDATE_TCPTYPE_ACTIVE;
        break;
    case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE:
        pc->transport = PRISM_CANDIDATE_TCP;
        pc->tcptype = PRISM_CANDIDATE_TCPTYPE_PASSIVE;
        break;
    case NICE_CANDIDATE_TRANSPORT_TCP_SO:
        pc->transport = PRISM_CANDIDATE_TCP;
        pc->tcptype = PRISM_CANDIDATE_TCPTYPE_SO;
        break;
    default: return false;
    }

    NiceAddress addr = cand->addr;
    bool advertised =
        ice->has_advertise && cand->type == NICE_CANDIDATE_TYPE_HOST &&
        nice_address_ip_version(&cand->addr) == nice_address_ip_version(&ice->advertise);
    if (advertised) {
        addr = ice->advertise;
        nice_address_set_port(&addr, nice_address_get_port(&cand->addr));
    }
    /* A port 0 (a TCP active candidate) is written 9, as libnice does. */
    guint port = nice_address_get_port(&addr);
    pc->port = (uint16_t)(port == 0 ? 9 : port);
    nice_address_to_string(&addr, pc->address.text);
    pc->address.kind =
        nice_address_ip_version(&addr) == 6 ? PRISM_CANDIDATE_ADDR_IPV6 : PRISM_CANDIDATE_ADDR_IPV4;
    /* The base goes out as raddr/rport when it differs, as libnice wrote it;
     * never for a host candidate, which is its own base (with an advertised
     * address, a differing base would leak the private one). */
    if (cand->type != NICE_CANDIDATE_TYPE_HOST && nice_address_is_valid(&cand->base_addr) &&
        !nice_address_equal(&cand->addr, &cand->base_addr)) {
        guint rport = nice_address_get_port(&cand->base_addr);
        pc->has_raddr = pc->has_rport = true;
        pc->rport = (uint16_t)(rport == 0 ? 9 : rport);
        nice_address_to_string(&cand->base_addr, pc->raddr.text);
        pc->raddr.kind = nice_address_ip_version(&cand->base_addr) == 6 ? PRISM_CANDIDATE_ADDR_IPV6
                                                                        : PRISM_CANDIDATE_ADDR_IPV4;
    }
    return true;
}

static void on_new_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
    struct prism_ice *ice = data;
    (void)agent;
    if (ice->closing || cand->stream_id != ice->stream_id || cand->component_id != COMPONENT_ID ||
        !ice->cb.on_candidate)
        return;
    struct prism_candidate pc;
    char line[PRISM_CANDIDATE_LEN];
    if (from_nice(ice, cand, &pc) && prism_candidate_format(&pc, line, sizeof(line)) == 0)
        ice->cb.on_candidate(ice->ud, line);
}

static void on_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    struct prism_ice *ice = data;
    (void)agent;
    if (ice->closing || stream_id != ice->stream_id || !ice->cb.on_gathering_done)
        return;
    ice->cb.on_gathering_done(ice->ud);
}

/* The hot path in: libnice read a datagram that is not STUN. */
static void on_nice_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len,
                         gchar *buf, gpointer data)
{
    struct prism_ice *ice = data;
    (void)agent;
    (void)stream_id;
    (void)component_id;
    if (ice->closing)
        return;
    ice->cb.on_recv(ice->ud, (uint8_t *)buf, len);
}

/* --- creation --- */

static bool parse_addr(const char *s, NiceAddress *out)
{
    nice_address_init(out);
    return s && nice_address_set_from_string(out, s);
}

static void set_bool_prop(NiceAgent *agent, const char *name, gboolean value)
{
    /* Some properties (upnp) only exist in some libnice builds. */
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(agent), name))
        g_object_set(agent, name, value, NULL);
}

int prism_ice_new(uv_loop_t *loop, const struct prism_ice_config *cfg,
                  const struct prism_ice_callbacks *cb, void *ud, struct prism_ice **out)
{
    PRISM_CHECK(loop && cfg && cb && out);
    *out = NULL;
    if (!cb->on_recv || cfg->port_min > cfg->port_max ||
        (cfg->port_min == 0) != (cfg->port_max == 0) ||
        (cfg->n_local_addrs > 0 && !cfg->local_addrs))
        return PRISM_EINVAL;

    NiceAddress adv;
    if (cfg->advertise_ip && !parse_addr(cfg->advertise_ip, &adv))
        return PRISM_EINVAL;
    for (size_t i = 0; i < cfg->n_local_addrs; i++) {
        NiceAddress a;
        if (!parse_addr(cfg->local_addrs[i], &a))
            return PRISM_EINVAL;
    }

    struct prism_ice *ice = g_new0(struct prism_ice, 1);
    ice->cb = *cb;
    ice->ud = ud;
    ice->state = PRISM_ICE_NEW;
    ice->direct.fd = -1;
    ice->direct.gso = true;
    if (cfg->advertise_ip) {
        ice->advertise = adv;
        ice->has_advertise = true;
    }
    int err = prism_gmain_uv_new(loop, &ice->gm);
    if (err) {
        g_free(ice);
        return err;
    }

    ice->agent =
        nice_agent_new_full(prism_gmain_uv_context(ice->gm), NICE_COMPATIBILITY_RFC5245,
                            NICE_AGENT_OPTION_REGULAR_NOMINATION | NICE_AGENT_OPTION_ICE_TRICKLE |
                                NICE_AGENT_OPTION_CONSENT_FRESHNESS);
    if (!ice->agent)
        goto fail;
    g_object_set(ice->agent, "controlling-mode", (gboolean)cfg->controlling, "ice-tcp", FALSE,
                 "ice-udp", TRUE, NULL);
    set_bool_prop(ice->agent, "upnp", FALSE);
    set_bool_prop(ice->agent, "keepalive-conncheck", TRUE);

    for (size_t i = 0; i < cfg->n_local_addrs; i++) {
        NiceAddress a;
        parse_addr(cfg->local_addrs[i], &a);
        if (!nice_agent_add_local_address(ice->agent, &a))
            goto fail;
        if (prism_candidate_ip_scope(cfg->local_addrs[i]) == PRISM_CANDIDATE_SCOPE_LOOPBACK)
            ice->loopback_ok = true;
    }
    ice->stream_id = nice_agent_add_stream(ice->agent, 1);
    if (ice->stream_id == 0)
        goto fail;
    if (cfg->port_min)
        nice_agent_set_port_range(ice->agent, ice->stream_id, COMPONENT_ID, cfg->port_min,
                                  cfg->port_max);
    if (!nice_agent_get_local_credentials(ice->agent, ice->stream_id, &ice->ufrag, &ice->pwd))
        goto fail;

    g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_component_state), ice);
    g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
    g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), ice);
    g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
    if (!nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID,
                                prism_gmain_uv_context(ice->gm), on_nice_recv, ice))
        goto fail;
    prism_gmain_uv_wake(ice->gm);
    *out = ice;
    return 0;

fail:
    if (ice->agent)
        g_object_unref(ice->agent);
    g_free(ice->ufrag);
    g_free(ice->pwd);
    prism_gmain_uv_close(ice->gm, NULL, NULL);
    g_free(ice);
    return PRISM_EINTERNAL;
}

/* --- control calls --- */

int prism_ice_gather(struct prism_ice *ice)
{
    check_thread(ice);
    if (ice->closing || ice->gathered)
        return PRISM_EINVAL;
    gboolean ok = nice_agent_gather_candidates(ice->agent, ice->stream_id);
    /* Callbacks ran inside the call above and may have closed us. */
    prism_gmain_uv_wake(ice->gm);
    if (!ok)
        return PRISM_EIO;
    ice->gathered = true;
    return 0;
}

void prism_ice_local_credentials(const struct prism_ice *ice, const char **ufrag, const char **pwd)
{
    *ufrag = ice->ufrag;
    *pwd = ice->pwd;
}

int prism_ice_set_remote_credentials(struct prism_ice *ice, const char *ufrag, const char *pwd)
{
    check_thread(ice);
    if (ice->closing || !ufrag || !pwd || !prism_candidate_ice_chars(ufrag, 4, 256) ||
        !prism_candidate_ice_chars(pwd, 22, 256))
        return PRISM_EINVAL;
    gboolean ok = nice_agent_set_remote_credentials(ice->agent, ice->stream_id, ufrag, pwd);
    prism_gmain_uv_wake(ice->gm);
    if (!ok)
        return PRISM_EINTERNAL;
    ice->have_remote_credentials = true;
    return 0;
}

/* A NiceCandidate for a remote candidate we can use, or NULL (caller
 * frees). Fields as libnice's own SDP reader set them; raddr/rport become
 * the base address only when both are given, raddr is an IP literal and
 * rport is not 0 (libnice's reader refused a named raddr; a base is only
 * informative for a remote candidate, so here it is left out instead). */
static NiceCandidate *to_nice(const struct prism_ice *ice, const struct prism_candidate *pc)
{
    static const NiceCandidateType types[] = {
        [PRISM_CANDIDATE_HOST] = NICE_CANDIDATE_TYPE_HOST,
        [PRISM_CANDIDATE_SRFLX] = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE,
        [PRISM_CANDIDATE_PRFLX] = NICE_CANDIDATE_TYPE_PEER_REFLEXIVE,
        [PRISM_CANDIDATE_RELAY] = NICE_CANDIDATE_TYPE_RELAYED,
    };
    NiceCandidate *c = nice_candidate_new(types[pc->type]);
    c->stream_id = ice->stream_id;
    c->component_id = pc->component;
    c->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    c->priority = pc->priority;
    g_strlcpy(c->foundation, pc->foundation, sizeof(c->foundation));
    if (!nice_address_set_from_string(&c->addr, pc->address.text)) {
        nice_candidate_free(c);
        return NULL;
    }
    nice_address_set_port(&c->addr, pc->port);
    bool raddr_ip = pc->has_raddr && (pc->raddr.kind == PRISM_CANDIDATE_ADDR_IPV4 ||
                                      pc->raddr.kind == PRISM_CANDIDATE_ADDR_IPV6);
    if (raddr_ip && pc->has_rport && pc->rport != 0 &&
        nice_address_set_from_string(&c->base_addr, pc->raddr.text))
        nice_address_set_port(&c->base_addr, pc->rport);
    return c;
}

int prism_ice_add_remote_candidate(struct prism_ice *ice, const char *candidate)
{
    check_thread(ice);
    if (ice->closing || !ice->have_remote_credentials)
        return PRISM_EINVAL;
    if (!candidate) {
        gboolean ok = nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream_id);
        prism_gmain_uv_wake(ice->gm);
        return ok ? 0 : PRISM_EINTERNAL;
    }

    struct prism_candidate pc;
    if (prism_candidate_parse(candidate, strnlen(candidate, PRISM_CANDIDATE_MAX + 3), &pc) != 0)
        return PRISM_EINVAL;
    /* Well-formed but useless to a UDP-only, rtcp-mux agent that never
     * resolves names: TCP, other components, host names (mDNS or not). */
    bool literal = pc.address.kind == PRISM_CANDIDATE_ADDR_IPV4 ||
                   pc.address.kind == PRISM_CANDIDATE_ADDR_IPV6;
    if (pc.transport != PRISM_CANDIDATE_UDP || pc.component != COMPONENT_ID || !literal)
        return 0;
    /* Never a check (nor media) towards an address a client may not point us
     * at: SDP candidates are not screened before they get here. */
    if (prism_candidate_refused(&pc, ice->loopback_ok) != NULL)
        return PRISM_EFORBIDDEN;

    NiceCandidate *cand = to_nice(ice, &pc);
    if (!cand)
        return PRISM_EINVAL;
    GSList one = {.data = cand, .next = NULL};
    int added = nice_agent_set_remote_candidates(ice->agent, ice->stream_id, COMPONENT_ID, &one);
    nice_candidate_free(cand);
    prism_gmain_uv_wake(ice->gm);
    return added < 0 ? PRISM_EINTERNAL : 0;
}

/* --- data path --- */

int prism_ice_send_batch(struct prism_ice *ice, struct prism_ice_datagram *pkts, size_t n)
{
    GOutputVector vec[PRISM_ICE_BATCH_MAX];
    NiceOutputMessage msg[PRISM_ICE_BATCH_MAX];
    size_t sent = 0;

    /* Not gated on our mapped state: libnice may already have a selected
     * pair (the peer's DTLS can arrive before our CONNECTED), and it refuses
     * itself when it has none. */
    if (ice->closing)
        return PRISM_EIO;
    if (ice->direct.fd >= 0)
        return prism_udp_send_batch(&ice->direct, pkts, n);
    while (sent < n) {
        size_t chunk = n - sent < PRISM_ICE_BATCH_MAX ? n - sent : PRISM_ICE_BATCH_MAX;
        for (size_t i = 0; i < chunk; i++) {
            pkts[sent + i].refused = false;
            vec[i].buffer = pkts[sent + i].data;
            vec[i].size = pkts[sent + i].len;
            msg[i].buffers = &vec[i];
            msg[i].n_buffers = 1;
        }
        /* No GError: it would allocate on every full socket buffer. */
        gint r = nice_agent_send_messages_nonblocking(ice->agent, ice->stream_id, COMPONENT_ID, msg,
                                                      (guint)chunk, NULL, NULL);
        if (r < 0)
            return sent > 0 ? (int)sent : PRISM_EIO;
        sent += (size_t)r;
        if ((size_t)r < chunk)
            break;
    }
    return (int)sent;
}

int prism_ice_send(struct prism_ice *ice, const uint8_t *data, size_t len)
{
    struct prism_ice_datagram one = {.data = data, .len = len};
    int r = prism_ice_send_batch(ice, &one, 1);
    return r < 0 ? r : 0;
}

enum prism_ice_state prism_ice_state(const struct prism_ice *ice)
{
    return ice->closing ? PRISM_ICE_CLOSED : ice->state;
}

size_t prism_ice_fd_count(const struct prism_ice *ice)
{
    return prism_gmain_uv_fd_count(ice->gm);
}

/* --- teardown --- */

/* Every uv handle is closed; the context is still ours. */
static void on_driver_closed(void *data)
{
    struct prism_ice *ice = data;
    void (*closed_cb)(void *ud) = ice->closed_cb;
    void *ud = ice->ud;

    g_object_unref(ice->agent); /* closes the sockets */
    g_free(ice->ufrag);
    g_free(ice->pwd);
    g_free(ice);
    if (closed_cb)
        closed_cb(ud);
}

void prism_ice_close(struct prism_ice *ice, void (*closed_cb)(void *ud))
{
    if (!ice)
        return;
    check_thread(ice);
    PRISM_CHECK(!ice->closing);
    ice->closing = true;
    ice->direct.fd = -1;
    ice->closed_cb = closed_cb;
    g_signal_handlers_disconnect_by_data(ice->agent, ice);
    prism_gmain_uv_close(ice->gm, on_driver_closed, ice);
}
