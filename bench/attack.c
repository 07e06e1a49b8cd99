/* prism-bench run --attack: the attacker (see attack.h). */
#include "bench/attack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "bench/rpc.h"
#include "relay/base/bytes.h"
#include "relay/base/error.h"
#include "relay/wire/candidate.h"
#include "relay/wire/rtcp.h"

#define TICK_MS 1 /* the flood's pacing timer */
#define READY_TIMEOUT_NS 30000000000ull
#define FINAL_STATS_MS 1200    /* after the stop: the workers' next counter tick */
#define HDR_BYTES 28           /* IPv4 (20) + UDP (8) before the payload */
#define SRTP_PAYLOAD_BYTES 100 /* an Opus frame's size */
#define SRTP_TAG_BYTES 16
#define STUN_MAGIC 0x2112A442u
#define STUN_FINGERPRINT_XOR 0x5354554eu

struct prism_bench_attack {
    const struct prism_bench_site *run_site; /* the run's, borrowed */
    struct prism_bench_site site;            /* a copy at the join, with our tenant */
    char tenant[PRISM_BENCH_ID_LEN];
    enum prism_bench_attack_kind kind;
    double pps;
    struct prism_bench_endpoint *pub, *sub;
    uv_timer_t timer, final;
    bool timers_open;
    void (*ready)(void *ud, const char *why);
    void *ready_ud;
    uint64_t deadline_ns; /* for readiness */
    char why[320];        /* why it is not ready, when an endpoint says */
    bool flooding;

    int fd;       /* raw IPv4 (spoofed) or UDP */
    bool spoofed; /* fd is raw: we write the IPv4 and UDP headers */
    struct sockaddr_in dst;
    uint32_t src_ip;   /* network order; spoofed sources */
    uint16_t pub_port; /* srtp: pub's own address */
    char target[64];   /* "ip:port", for the report */
    uint32_t ssrc;     /* srtp: pub's audio SSRC */
    uint16_t seq;
    uint32_t ts;
    uint32_t media_ssrc; /* pli: the relay's SSRC of the video sub receives */
    uint64_t rng;

    /* srtp, stun and garbage flood from a thread of their own (flood_main),
     * so that their sends never hold up the run's loop, which receives and
     * timestamps the victims' packets; pli floods from the loop (it uses
     * sub's SRTCP session, which is the loop's). While `thread_running`,
     * the fields below up to `skipped` are the flood thread's alone. */
    uv_thread_t thread;
    bool thread_running;
    atomic_bool thread_stop;

    uint64_t start_ns, stop_ns, due_total, sent, send_errors, skipped;
    long rss_start_kib, rss_peak_kib;
    json_t *drops_start, *drops_end; /* relay-wide stats.get drops, owned */
    uint8_t pkt[HDR_BYTES + 1500];
};

static const char *const kind_names[] = {"none", "srtp", "stun", "garbage", "pli"};

bool prism_bench_attack_kind_parse(const char *s, enum prism_bench_attack_kind *out)
{
    for (int k = PRISM_BENCH_ATTACK_SRTP; k <= PRISM_BENCH_ATTACK_PLI; k++)
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (enum prism_bench_attack_kind)k;
            return true;
        }
    return false;
}

static uint64_t next_rand(struct prism_bench_attack *a) /* xorshift64: fast, not secret */
{
    a->rng ^= a->rng << 13;
    a->rng ^= a->rng >> 7;
    a->rng ^= a->rng << 17;
    return a->rng;
}

static void fill_random(struct prism_bench_attack *a, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = next_rand(a);
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
}

/* CRC-32 (ISO-HDLC, as STUN's FINGERPRINT uses), bitwise: the attacker's
 * cost per packet, not the relay's. */
static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* --- packets (payload at a->pkt + HDR_BYTES; each returns its length) ------------ */

static size_t build_srtp(struct prism_bench_attack *a, uint8_t *p)
{
    p[0] = 0x80;
    p[1] = PRISM_BENCH_PT_OPUS;
    prism_store_be16(p + 2, a->seq++);
    prism_store_be32(p + 4, a->ts);
    a->ts += 960;
    prism_store_be32(p + 8, a->ssrc);
    fill_random(a, p + 12, SRTP_PAYLOAD_BYTES + SRTP_TAG_BYTES);
    return 12 + SRTP_PAYLOAD_BYTES + SRTP_TAG_BYTES;
}

static size_t put_attr(uint8_t *p, size_t at, uint16_t type, const void *v, size_t len)
{
    prism_store_be16(p + at, type);
    prism_store_be16(p + at + 2, (uint16_t)len);
    memcpy(p + at + 4, v, len);
    size_t padded = (len + 3) & ~(size_t)3;
    memset(p + at + 4 + len, 0, padded - len);
    return at + 4 + padded;
}

/* A Binding request as an ICE agent of the controlling side would send it
 * (RFC 8445 7.1.2), but whose MESSAGE-INTEGRITY is random. */
static size_t build_stun(struct prism_bench_attack *a, uint8_t *p)
{
    char user[PRISM_SDP_ICE_LEN + 16];
    uint64_t r = next_rand(a);
    int ul = snprintf(user, sizeof(user), "%s:%08x", a->pub->relay_ufrag, (unsigned)r);
    uint8_t prio[4], tiebreak[8], mi[20];
    prism_store_be32(prio, 0x6e7f00ffu);
    fill_random(a, tiebreak, sizeof(tiebreak));
    fill_random(a, mi, sizeof(mi));
    prism_store_be16(p, 0x0001);
    prism_store_be32(p + 4, STUN_MAGIC);
    fill_random(a, p + 8, 12);
    size_t at = 20;
    at = put_attr(p, at, 0x0006, user, ul > 0 && (size_t)ul < sizeof(user) ? (size_t)ul : 0);
    at = put_attr(p, at, 0x0024, prio, sizeof(prio));
    at = put_attr(p, at, 0x802A, tiebreak, sizeof(tiebreak));
    prism_store_be16(p + 2, (uint16_t)(at + 24 - 20)); /* as if MI were last */
    at = put_attr(p, at, 0x0008, mi, sizeof(mi));
    prism_store_be16(p + 2, (uint16_t)(at + 8 - 20)); /* FINGERPRINT included */
    uint8_t fp[4];
    prism_store_be32(fp, crc32(p, at) ^ STUN_FINGERPRINT_XOR);
    return put_attr(p, at, 0x8028, fp, sizeof(fp));
}

static size_t build_garbage(struct prism_bench_attack *a, uint8_t *p)
{
    size_t len = 20 + (size_t)(next_rand(a) % 1181);
    fill_random(a, p, len);
    return len;
}

/* Sends the payload at a->pkt + HDR_BYTES (`len` bytes) from `sport`. */
static void send_datagram(struct prism_bench_attack *a, size_t len, uint16_t sport)
{
    ssize_t n;
    if (a->spoofed) {
        uint8_t *ip = a->pkt, *udp = a->pkt + 20;
        memset(ip, 0, 20);
        ip[0] = 0x45;
        prism_store_be16(ip + 2, (uint16_t)(HDR_BYTES + len));
        ip[8] = 64;
        ip[9] = IPPROTO_UDP;
        memcpy(ip + 12, &a->src_ip, 4);
        memcpy(ip + 16, &a->dst.sin_addr.s_addr, 4);
        prism_store_be16(udp, sport);
        memcpy(udp + 2, &a->dst.sin_port, 2);
        prism_store_be16(udp + 4, (uint16_t)(8 + len));
        prism_store_be16(udp + 6, 0); /* no UDP checksum (IPv4 allows it) */
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = a->dst.sin_addr};
        n = sendto(a->fd, a->pkt, HDR_BYTES + len, 0, (struct sockaddr *)&to, sizeof(to));
    } else {
        n = sendto(a->fd, a->pkt + HDR_BYTES, len, 0, (struct sockaddr *)&a->dst, sizeof(a->dst));
    }
    if (n < 0)
        a->send_errors++;
    else
        a->sent++;
}

static uint16_t random_port(struct prism_bench_attack *a)
{
    return (uint16_t)(1024 + next_rand(a) % (65536 - 1024));
}

static void send_one(struct prism_bench_attack *a)
{
    uint8_t *p = a->pkt + HDR_BYTES;
    switch (a->kind) {
    case PRISM_BENCH_ATTACK_SRTP: send_datagram(a, build_srtp(a, p), a->pub_port); break;
    case PRISM_BENCH_ATTACK_STUN: send_datagram(a, build_stun(a, p), random_port(a)); break;
    case PRISM_BENCH_ATTACK_GARBAGE: send_datagram(a, build_garbage(a, p), random_port(a)); break;
    case PRISM_BENCH_ATTACK_PLI: {
        uint8_t pli[PRISM_RTCP_PLI_BYTES];
        if (prism_rtcp_build_pli(pli, sizeof(pli), a->sub->rtcp_ssrc, a->media_ssrc) > 0 &&
            prism_transport_send_rtcp(a->sub->sub, pli, sizeof(pli)) == 0)
            a->sent++;
        else
            a->send_errors++;
        break;
    }
    case PRISM_BENCH_ATTACK_NONE: break;
    }
}

/* --- setup ----------------------------------------------------------------------- */

int prism_bench_attack_new(const struct prism_bench_site *site, enum prism_bench_attack_kind kind,
                           double pps, const struct prism_bench_clip *audio,
                           const struct prism_bench_clip *video, struct prism_bench_attack **out)
{
    struct prism_bench_attack *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return PRISM_ENOMEM;
    a->run_site = site;
    a->site = *site;
    snprintf(a->tenant, sizeof(a->tenant), "%.60s-atk", site->tenant);
    a->site.tenant = a->tenant;
    a->kind = kind;
    a->pps = pps;
    a->fd = -1;
    if (RAND_bytes((unsigned char *)&a->rng, sizeof(a->rng)) != 1 || a->rng == 0)
        a->rng = 0x9e3779b97f4a7c15ull;
    int rc = prism_bench_endpoint_new(&a->site, "attack", "pub", audio, video, &a->pub);
    if (rc == 0)
        rc = prism_bench_endpoint_new(&a->site, "attack", "sub", NULL, NULL, &a->sub);
    if (rc != 0) {
        prism_bench_attack_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

const char *prism_bench_attack_tenant(const struct prism_bench_attack *a)
{
    return a->tenant;
}

/* Parses a candidate "candidate:... IP PORT typ ..." into an IPv4 loopback
 * address; false for anything else. */
static bool loopback_v4(const char *cand, struct sockaddr_in *sa)
{
    struct prism_candidate c;
    if (prism_candidate_parse(cand, strlen(cand), &c) != 0 ||
        c.address.kind != PRISM_CANDIDATE_ADDR_IPV4 ||
        prism_candidate_ip_scope(c.address.text) != PRISM_CANDIDATE_SCOPE_LOOPBACK)
        return false;
    *sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(c.port)};
    return inet_pton(AF_INET, c.address.text, &sa->sin_addr) == 1;
}

/* The target, pub's own address (srtp) and the media SSRC (pli), and the socket. */
static const char *aim(struct prism_bench_attack *a)
{
    struct sockaddr_in pub_addr;
    if (!loopback_v4(a->pub->relay_cand, &a->dst) || a->pub->n_pub_cands == 0 ||
        !loopback_v4(a->pub->pub_cands[0], &pub_addr))
        return "the attack targets the relay on loopback (IPv4) only";
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &a->dst.sin_addr, ip, sizeof(ip));
    snprintf(a->target, sizeof(a->target), "%s:%u", ip, ntohs(a->dst.sin_port));
    a->src_ip = pub_addr.sin_addr.s_addr;
    a->pub_port = ntohs(pub_addr.sin_port);
    a->ssrc = a->pub->tx_audio.ssrc;
    a->seq = (uint16_t)(a->pub->tx_audio.seq + 20000); /* ahead of pub's own: not a replay */
    a->ts = a->pub->tx_audio.ts + 960u * 20000u;
    for (size_t i = 0; i < a->sub->n_rx; i++)
        if (a->sub->rx[i]->rx.video)
            a->media_ssrc = a->sub->rx[i]->rx.ssrc;
    if (a->kind == PRISM_BENCH_ATTACK_PLI)
        return NULL;
    a->fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    a->spoofed = a->fd >= 0;
    if (a->fd < 0) { /* no CAP_NET_RAW: one ordinary socket */
        a->fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (a->fd < 0)
            return "cannot open a socket";
    }
    int fl = fcntl(a->fd, F_GETFL);
    if (fl < 0 || fcntl(a->fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return "cannot make the socket non-blocking";
    return NULL;
}

static bool video_flowing(const struct prism_bench_endpoint *ep)
{
    for (size_t i = 0; i < ep->n_rx; i++)
        if (ep->rx[i]->rx.video && ep->rx[i]->rx.packets > 0)
            return true;
    return false;
}

/* Every packet due since the start; after a stall at most 20 ms' worth at
 * once (the rest is counted as skipped, not burst out). */
static void send_due(struct prism_bench_attack *a, uint64_t now)
{
    uint64_t due = (uint64_t)((double)(now - a->start_ns) / 1e9 * a->pps);
    uint64_t n = due - a->due_total, cap = (uint64_t)(a->pps / 50) + 1;
    a->due_total = due;
    if (n > cap) {
        a->skipped += n - cap;
        n = cap;
    }
    for (uint64_t i = 0; i < n; i++)
        send_one(a);
}

static void on_tick(uv_timer_t *h)
{
    struct prism_bench_attack *a = h->data;
    uint64_t now = prism_bench_now_ns();
    prism_bench_endpoint_tick(a->pub, now);
    if (a->ready != NULL) {
        void (*ready)(void *, const char *) = a->ready;
        const char *why = NULL;
        const struct prism_bench_endpoint *failed = NULL;
        if (a->pub->state == PRISM_BENCH_EP_FAILED)
            failed = a->pub;
        else if (a->sub->state == PRISM_BENCH_EP_FAILED)
            failed = a->sub;
        if (failed != NULL) {
            snprintf(a->why, sizeof(a->why), "an attacker endpoint failed to join: %s",
                     failed->error);
            why = a->why;
        } else if (a->pub->sending && a->pub->relay_cand[0] != '\0' && video_flowing(a->sub))
            why = aim(a);
        else if (now < a->deadline_ns)
            return;
        else
            why = "the attacker's call did not flow within 30 s";
        a->ready = NULL;
        ready(a->ready_ud, why);
        return;
    }
    if (a->flooding && !a->thread_running)
        send_due(a, now);
}

/* The flood thread: the due packets every TICK_MS until told to stop. At
 * the lowest priority, so that on a shared core the run's receivers, woken
 * by the victims' packets, go first. */
static void flood_main(void *arg)
{
    struct prism_bench_attack *a = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    struct timespec tick = {.tv_nsec = TICK_MS * 1000000L};
    while (!atomic_load(&a->thread_stop)) {
        send_due(a, prism_bench_now_ns());
        nanosleep(&tick, NULL);
    }
}

void prism_bench_attack_join(struct prism_bench_attack *a, void (*ready)(void *ud, const char *why),
                             void *ud)
{
    a->site = *a->run_site; /* its control connection is open now */
    a->site.tenant = a->tenant;
    prism_bench_rpc_call(a->site.rpc, "tenant.create",
                         json_pack("{s:s, s:{s:i, s:i}}", "tenant", a->tenant, "limits",
                                   "max_bubbles", 0, "max_peers", 0),
                         NULL, NULL);
    prism_bench_rpc_call(a->site.rpc, "bubble.create",
                         json_pack("{s:s, s:s}", "tenant", a->tenant, "bubble", "attack"), NULL,
                         NULL);
    prism_bench_endpoint_join(a->pub);
    prism_bench_endpoint_join(a->sub);
    a->ready = ready;
    a->ready_ud = ud;
    a->deadline_ns = prism_bench_now_ns() + READY_TIMEOUT_NS;
    uv_timer_init(a->site.loop, &a->timer);
    uv_timer_init(a->site.loop, &a->final);
    a->timer.data = a->final.data = a;
    a->timers_open = true;
    uv_timer_start(&a->timer, on_tick, TICK_MS, TICK_MS);
}

bool prism_bench_attack_on_offer(struct prism_bench_attack *a, const char *tenant, const char *peer,
                                 const char *offer, uint64_t revision)
{
    if (tenant == NULL || strcmp(tenant, a->tenant) != 0)
        return false;
    if (strcmp(peer, a->sub->peer) == 0)
        prism_bench_endpoint_on_offer(a->sub, offer, revision);
    else if (strcmp(peer, a->pub->peer) == 0)
        prism_bench_endpoint_on_offer(a->pub, offer, revision);
    return true;
}

/* --- the flood's window ------------------------------------------------------------ */

static void on_drops(void *ud, json_t *result, json_t *error)
{
    json_t **slot = ud;
    (void)error;
    if (result != NULL)
        *slot = json_deep_copy(json_object_get(result, "drops"));
}

void prism_bench_attack_start(struct prism_bench_attack *a, long rss_kib)
{
    prism_bench_rpc_call(a->site.rpc, "stats.get", json_object(), on_drops, &a->drops_start);
    a->rss_start_kib = a->rss_peak_kib = rss_kib;
    a->start_ns = prism_bench_now_ns();
    a->flooding = true;
    if (a->kind != PRISM_BENCH_ATTACK_PLI) {
        atomic_store(&a->thread_stop, false);
        /* Without a thread (out of resources), the loop's timer floods. */
        a->thread_running = uv_thread_create(&a->thread, flood_main, a) == 0;
    }
}

static void join_flood_thread(struct prism_bench_attack *a)
{
    if (!a->thread_running)
        return;
    atomic_store(&a->thread_stop, true);
    uv_thread_join(&a->thread);
    a->thread_running = false;
}

void prism_bench_attack_sample(struct prism_bench_attack *a, long rss_kib)
{
    if (a->flooding && rss_kib > a->rss_peak_kib)
        a->rss_peak_kib = rss_kib;
}

static void on_final(uv_timer_t *h)
{
    struct prism_bench_attack *a = h->data;
    prism_bench_rpc_call(a->site.rpc, "stats.get", json_object(), on_drops, &a->drops_end);
}

void prism_bench_attack_stop(struct prism_bench_attack *a)
{
    if (!a->flooding)
        return;
    a->flooding = false;
    join_flood_thread(a);
    a->stop_ns = prism_bench_now_ns();
    uv_timer_start(&a->final, on_final, FINAL_STATS_MS, 0);
}

int prism_bench_attack_leave(struct prism_bench_attack *a, void (*closed_cb)(void *ud), void *ud)
{
    prism_bench_endpoint_leave(a->pub, closed_cb, ud);
    prism_bench_endpoint_leave(a->sub, closed_cb, ud);
    prism_bench_rpc_call(a->site.rpc, "tenant.delete", json_pack("{s:s}", "tenant", a->tenant),
                         NULL, NULL);
    return 2;
}

void prism_bench_attack_close(struct prism_bench_attack *a)
{
    if (a == NULL || !a->timers_open)
        return;
    a->timers_open = false;
    uv_close((uv_handle_t *)&a->timer, NULL);
    uv_close((uv_handle_t *)&a->final, NULL);
}

json_t *prism_bench_attack_report(const struct prism_bench_attack *a)
{
    double s = a->stop_ns > a->start_ns ? (double)(a->stop_ns - a->start_ns) / 1e9 : 0;
    json_t *drops = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(a->drops_end, key, v)
    {
        json_int_t before = json_integer_value(json_object_get(a->drops_start, key));
        json_object_set_new(drops, key, json_integer(json_integer_value(v) - before));
    }
    return json_pack(
        "{s:s, s:f, s:f, s:f, s:I, s:I, s:I, s:s, s:b, s:o, s:b, s:I, s:I, s:I}", "kind",
        kind_names[a->kind], "pps_asked", a->pps, "pps_sent", s > 0 ? (double)a->sent / s : 0.0,
        "seconds", s, "packets_sent", (json_int_t)a->sent, "send_errors",
        (json_int_t)a->send_errors, "skipped", (json_int_t)a->skipped, "target", a->target,
        "spoofed", a->spoofed, "relay_drops", drops, "relay_drops_read",
        a->drops_start != NULL && a->drops_end != NULL, "relay_rss_start_kib",
        (json_int_t)a->rss_start_kib, "relay_rss_peak_kib", (json_int_t)a->rss_peak_kib,
        "relay_rss_growth_kib", (json_int_t)(a->rss_peak_kib - a->rss_start_kib));
}

void prism_bench_attack_free(struct prism_bench_attack *a)
{
    if (a == NULL)
        return;
    join_flood_thread(a);
    prism_bench_endpoint_free(a->pub);
    prism_bench_endpoint_free(a->sub);
    if (a->fd >= 0)
        close(a->fd);
    json_decref(a->drops_start);
    json_decref(a->drops_end);
    free(a);
}
