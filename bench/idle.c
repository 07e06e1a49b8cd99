/* prism-bench idle: what an idle publishing peer costs the relay.
 *
 * Creates a tenant (no quotas) and its bubbles, takes the relay's resident
 * memory (VmRSS) and open descriptors (/proc/PID/fd), then makes N peers as
 * a backend would for browsers that never show up: per peer, peer.join
 * (publish true) and peer.publish with a real Chromium audio+video offer
 * (bench/chromium_offer.h, or --offer FILE). Every publish opens a publish
 * transport on the relay (a UDP socket, ICE agent, DTLS session, the
 * negotiated tracks) that nobody ever connects to. After --settle-s the
 * memory and descriptors are taken again: the difference divided by the
 * peers created is the cost per idle peer. Then tenant.delete, and the
 * figures once the relay has closed the transports (they should come back
 * near the first ones).
 *
 * The relay needs nothing unique per peer: credentials, fingerprint and
 * SSRCs of one offer may repeat across peers (tracks are looked up per
 * publisher), so every peer sends the same offer. Its a=candidate lines are
 * left out (unless --candidates), as a trickling browser's offer would be
 * before its peer.candidate calls, which an idle one never makes: with the
 * captured candidates the relay's ICE agent checks addresses where nobody
 * answers, fails within ~10 s and the relay closes the transport, so the
 * figures would depend on how long creating N peers took. Without them
 * the transport waits, open, as long as the peer stays.
 *
 * Requests are pipelined: --window peers in flight, each a join and a
 * publish sent back to back on one control connection (the relay answers
 * them in order; the publish reply comes once the worker opened the
 * transport). A peer counts as created when its publish returned an answer.
 *
 * With --spawn the relay runs in a private directory with one media address
 * (--local-ip), --relay-workers workers, a media port range wide enough for
 * N transports, and its descriptor limit raised to the hard limit (lifted
 * first when the bench may), since the relay admits only as many
 * transports as that limit allows (relay/control/relay.c).
 *
 * Every request has a reply deadline (--rpc-timeout-s, bench/rpc.h): a relay
 * that leaves one unanswered fails the run at once with "no reply to METHOD
 * within N s" (the connection is given up, so every phase ends), and the
 * other waits are timers, so idle always stops by itself: within the
 * deadline per window of requests, --settle-s and DELETE_WAIT_MS.
 *
 * Thread: one, running one uv loop. Exit status 0 when every peer was
 * created and the relay answered every request, 1 otherwise, 2 for bad
 * options.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/chromium_offer.h"
#include "bench/media.h"
#include "bench/proc.h"
#include "bench/rpc.h"
#include "bench/run_options.h"

#define MAX_PEERS 100000
#define DEFAULT_PORTS 10000 /* the relay's default media.ports: 40000-49999 */
#define FD_RESERVE 1280     /* the relay's: control.max_connections (1024) + 256 */
#define FD_PER_PEER 3       /* measured: its UDP socket and two eventfds (GLib wake-ups) */
#define DELETE_POLL_MS 250
#define DELETE_WAIT_MS 20000 /* for the transports to close after tenant.delete */
#define DRAIN_WAIT_MS 5000   /* for the last replies after a failure */

struct idle_opts {
    unsigned peers, bubbles, window, relay_workers;
    double settle_s;
    double rpc_timeout_s; /* --rpc-timeout-s: a request's reply deadline */
    const char *control, *prism, *json_out, *offer_path, *local_ip;
    bool spawn, quiet;
    bool candidates; /* --candidates: keep the offer's a=candidate lines */
    char tenant[64];
};

/* The relay at one instant. */
struct idle_sample {
    long rss_kib; /* VmRSS */
    long fds;     /* entries of /proc/PID/fd */
};

enum idle_phase { PHASE_SETUP, PHASE_PEERS, PHASE_SETTLE, PHASE_DELETE, PHASE_DONE };

struct idle {
    struct idle_opts o;
    uv_loop_t loop;
    uv_timer_t timer;
    struct prism_bench_rpc *rpc;
    const char *offer; /* borrowed: embedded, or offer_buf */
    char *offer_buf;   /* --offer FILE, owned */
    pid_t relay_pid;
    enum idle_phase phase;
    unsigned setup_pending; /* replies to tenant.create and bubble.create */
    bool setup_failed;
    unsigned next_peer; /* peers whose requests were sent */
    unsigned in_flight; /* publish replies awaited */
    unsigned created;   /* publish answered */
    unsigned failed;    /* join or publish refused, or never sent */
    char first_error[256];
    char no_reply[96]; /* the connection's missed deadline (bench/rpc.h); empty: none */
    struct idle_sample before, after, deleted;
    uint64_t peers_t0_ns, peers_t1_ns;
    unsigned delete_polls;
};

/* --- options ------------------------------------------------------------------------- */

void prism_bench_idle_usage(FILE *out)
{
    fputs("Usage: prism-bench idle --peers N [--bubbles B]\n"
          "         [--control PATH | --spawn [--prism BIN] [--relay-workers N]]\n"
          "         [--json FILE] [--offer FILE] [--window N] [--settle-s S]\n"
          "         [--candidates] [--local-ip ADDR] [--tenant ID] [--quiet]\n"
          "         [--rpc-timeout-s S]\n"
          "N peers that each peer.join (publish) and peer.publish a Chromium audio+video\n"
          "offer (--offer FILE: another SDP), and that nobody ever connects; reports the\n"
          "relay's resident memory (VmRSS) and open descriptors before and after, and per\n"
          "peer. Defaults: 100 peers, one bubble per 10 peers, 32 peers in flight\n"
          "(--window), figures taken 1 s after the last publish (--settle-s).\n"
          "The offer's candidates are left out, so that the relay's transports wait\n"
          "instead of failing ICE against addresses where nobody answers (--candidates:\n"
          "keep them; the relay then closes each transport within ~10 s).\n"
          "--spawn starts the relay with its descriptor limit at the hard limit and\n"
          "room for N transports. Fails (exit 1) when any peer could not be created.\n"
          "--rpc-timeout-s S: a request the relay does not answer within S s (default\n"
          "10) fails the run at once with \"no reply to METHOD within S s\".\n",
          out);
}

static int usage(void)
{
    prism_bench_idle_usage(stderr);
    return 2;
}

static int parse(int argc, char **argv, struct idle_opts *o)
{
    *o = (struct idle_opts){.peers = 100,
                            .window = 32,
                            .relay_workers = 1,
                            .settle_s = 1,
                            .rpc_timeout_s = PRISM_BENCH_RPC_TIMEOUT_S,
                            .control = "./prism-control.sock",
                            .prism = "prism",
                            .local_ip = "127.0.0.1"};
    snprintf(o->tenant, sizeof(o->tenant), "idle-%d", (int)getpid());
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (strcmp(a, "--spawn") == 0) {
            o->spawn = true;
            continue;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            continue;
        } else if (strcmp(a, "--candidates") == 0) {
            o->candidates = true;
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--control") == 0) {
            o->control = v;
        } else if (strcmp(a, "--prism") == 0) {
            o->prism = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json_out = v;
        } else if (strcmp(a, "--offer") == 0) {
            o->offer_path = v;
        } else if (strcmp(a, "--local-ip") == 0) {
            o->local_ip = v;
        } else if (strcmp(a, "--tenant") == 0 && strlen(v) < sizeof(o->tenant)) {
            snprintf(o->tenant, sizeof(o->tenant), "%s", v);
        } else if (strcmp(a, "--peers") == 0 && prism_bench_parse_num(v, 1, MAX_PEERS, &d)) {
            o->peers = (unsigned)d;
        } else if (strcmp(a, "--bubbles") == 0 && prism_bench_parse_num(v, 1, MAX_PEERS, &d)) {
            o->bubbles = (unsigned)d;
        } else if (strcmp(a, "--window") == 0 && prism_bench_parse_num(v, 1, 4096, &d)) {
            o->window = (unsigned)d;
        } else if (strcmp(a, "--settle-s") == 0 && prism_bench_parse_num(v, 0, 3600, &d)) {
            o->settle_s = d;
        } else if (strcmp(a, "--rpc-timeout-s") == 0 && prism_bench_parse_num(v, 0.1, 3600, &d)) {
            o->rpc_timeout_s = d;
        } else if (strcmp(a, "--relay-workers") == 0 && prism_bench_parse_num(v, 1, 256, &d)) {
            o->relay_workers = (unsigned)d;
        } else {
            return usage();
        }
    }
    if (o->bubbles == 0)
        o->bubbles = (o->peers + 9) / 10;
    if (o->bubbles > o->peers)
        o->bubbles = o->peers;
    return 0;
}

/* The whole of `path`, NUL-terminated (malloc'ed), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

/* `sdp` without its a=candidate and a=end-of-candidates lines (malloc'ed),
 * or NULL when out of memory. */
static char *without_candidates(const char *sdp)
{
    char *out = malloc(strlen(sdp) + 1);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    for (const char *p = sdp; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, "a=candidate:", 12) != 0 && strncmp(p, "a=end-of-candidates", 19) != 0) {
            memcpy(out + len, p, n);
            len += n;
        }
        p += n;
    }
    out[len] = '\0';
    return out;
}

/* --- the run ------------------------------------------------------------------------- */

static void sample(const struct idle *s, struct idle_sample *out)
{
    out->rss_kib = prism_bench_proc_rss_kib(s->relay_pid);
    out->fds = prism_bench_proc_fds(s->relay_pid);
}

static void note_error(struct idle *s, const char *what, json_t *error)
{
    if (s->first_error[0] != '\0')
        return;
    const char *m = json_string_value(json_object_get(error, "message"));
    const char *reason =
        json_string_value(json_object_get(json_object_get(error, "data"), "reason"));
    snprintf(s->first_error, sizeof(s->first_error), "%s: %s%s%s%s", what,
             m ? m : "connection closed", reason ? " (" : "", reason ? reason : "",
             reason ? ")" : "");
}

/* Ends the loop: no more timers, the connection closed. */
static void finish(struct idle *s)
{
    s->phase = PHASE_DONE;
    const char *why = prism_bench_rpc_failure(s->rpc);
    if (why != NULL) {
        snprintf(s->no_reply, sizeof(s->no_reply), "%s", why);
        fprintf(stderr, "prism-bench idle: %s\n", why);
    }
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, NULL);
    prism_bench_rpc_close(s->rpc);
    s->rpc = NULL;
}

static void on_deleted_poll(uv_timer_t *h)
{
    struct idle *s = h->data;
    sample(s, &s->deleted);
    /* Transports close on their worker after the reply: wait for the
     * descriptors to come back (or DELETE_WAIT_MS). */
    if (s->deleted.fds > s->before.fds && ++s->delete_polls < DELETE_WAIT_MS / DELETE_POLL_MS)
        return;
    finish(s);
}

static void on_tenant_deleted(void *ud, json_t *result, json_t *error)
{
    struct idle *s = ud;
    if (result == NULL)
        note_error(s, "tenant.delete", error);
    uv_timer_start(&s->timer, on_deleted_poll, DELETE_POLL_MS, DELETE_POLL_MS);
}

static void on_settled(uv_timer_t *h)
{
    struct idle *s = h->data;
    sample(s, &s->after);
    s->phase = PHASE_DELETE;
    if (prism_bench_rpc_call(s->rpc, "tenant.delete", json_pack("{s:s}", "tenant", s->o.tenant),
                             on_tenant_deleted, s) != 0)
        finish(s);
}

static void peers_done(struct idle *s)
{
    s->peers_t1_ns = prism_bench_now_ns();
    s->phase = PHASE_SETTLE;
    if (prism_bench_rpc_closed(s->rpc)) {
        sample(s, &s->after);
        finish(s);
        return;
    }
    uv_timer_start(&s->timer, on_settled, (uint64_t)(s->o.settle_s * 1000), 0);
}

static void on_join(void *ud, json_t *result, json_t *error)
{
    if (result == NULL)
        note_error(ud, "peer.join", error);
}

static void launch(struct idle *s);

static void on_publish(void *ud, json_t *result, json_t *error)
{
    struct idle *s = ud;
    s->in_flight--;
    if (result != NULL && json_is_string(json_object_get(result, "answer"))) {
        s->created++;
    } else {
        s->failed++;
        note_error(s, "peer.publish", error);
    }
    if (!s->o.quiet && (s->created + s->failed) % 500 == 0)
        fprintf(stderr, "prism-bench idle: %u peers created, %u failed, relay %ld KiB\n",
                s->created, s->failed, prism_bench_proc_rss_kib(s->relay_pid));
    launch(s);
}

/* Sends the next peers' join + publish until --window are in flight; once
 * every peer is answered, moves to the settle phase. */
static void launch(struct idle *s)
{
    while (s->phase == PHASE_PEERS && s->in_flight < s->o.window && s->next_peer < s->o.peers) {
        unsigned i = s->next_peer++;
        if (prism_bench_rpc_closed(s->rpc)) {
            s->failed++;
            note_error(s, "peer.join", NULL);
            continue;
        }
        char bubble[32], peer[32];
        snprintf(bubble, sizeof(bubble), "b%u", i % s->o.bubbles);
        snprintf(peer, sizeof(peer), "p%u", i);
        s->in_flight++; /* before the calls: a failing call may answer at once */
        int rc = prism_bench_rpc_call(s->rpc, "peer.join",
                                      json_pack("{s:s, s:s, s:s, s:b}", "tenant", s->o.tenant,
                                                "bubble", bubble, "peer", peer, "publish", 1),
                                      on_join, s);
        if (rc == 0)
            rc = prism_bench_rpc_call(s->rpc, "peer.publish",
                                      json_pack("{s:s, s:s, s:s, s:s}", "tenant", s->o.tenant,
                                                "bubble", bubble, "peer", peer, "offer", s->offer),
                                      on_publish, s);
        if (rc != 0) { /* not sent: on_publish will not come */
            s->in_flight--;
            s->failed++;
            note_error(s, "peer.publish", NULL);
        }
    }
    if (s->phase == PHASE_PEERS && s->in_flight == 0 && s->next_peer == s->o.peers)
        peers_done(s);
}

static void on_setup_reply(void *ud, json_t *result, json_t *error)
{
    struct idle *s = ud;
    if (result == NULL) {
        note_error(s, "setup", error);
        s->setup_failed = true;
    }
    if (--s->setup_pending > 0)
        return;
    if (s->setup_failed) {
        finish(s);
        return;
    }
    sample(s, &s->before);
    s->phase = PHASE_PEERS;
    s->peers_t0_ns = prism_bench_now_ns();
    launch(s);
}

static void start_setup(struct idle *s)
{
    s->setup_pending = 1 + s->o.bubbles;
    prism_bench_rpc_call(s->rpc, "tenant.create",
                         json_pack("{s:s, s:{s:i, s:i}}", "tenant", s->o.tenant, "limits",
                                   "max_bubbles", 0, "max_peers", 0),
                         on_setup_reply, s);
    for (unsigned b = 0; b < s->o.bubbles; b++) {
        char bubble[32];
        snprintf(bubble, sizeof(bubble), "b%u", b);
        prism_bench_rpc_call(s->rpc, "bubble.create",
                             json_pack("{s:s, s:s}", "tenant", s->o.tenant, "bubble", bubble),
                             on_setup_reply, s);
    }
}

/* --- the relay under test ------------------------------------------------------------ */

/* Starts the relay with room for `peers` transports: one media address,
 * a port range holding them, the descriptor limit as high as allowed. */
static pid_t spawn(const struct idle_opts *o, const char *dir, char *sock, size_t sock_len)
{
    char workers[16], ports[32];
    snprintf(workers, sizeof(workers), "%u", o->relay_workers);
    const char *args[12] = {"--workers", workers, "--media-ip", o->local_ip};
    size_t n = 4;
    if (o->peers + 100 > DEFAULT_PORTS) {
        unsigned lo = 10000, hi = lo + o->peers + 1000;
        snprintf(ports, sizeof(ports), "%u-%u", lo, hi > 65535 ? 65535 : hi);
        args[n++] = "--media-ports";
        args[n++] = ports;
    }
    args[n] = NULL;
    struct prism_bench_relay_spawn sp = {
        .prism = o->prism,
        .args = args,
        .cpu = -1,
        .raise_nofile = true,
        /* the descriptors of a transport, plus the relay's reserve and
         * some room */
        .nofile_min = (FD_PER_PEER + 1ull) * o->peers + FD_RESERVE + 1024,
    };
    return prism_bench_relay_spawn(&sp, dir, sock, sock_len);
}

/* --- report -------------------------------------------------------------------------- */

static double per_peer(long before, long after, unsigned created)
{
    return created > 0 ? (double)(after - before) / (double)created : 0;
}

static void report(const struct idle *s, long nofile, int relay_exit)
{
    double secs = (double)(s->peers_t1_ns - s->peers_t0_ns) / 1e9;
    double rss_pp = per_peer(s->before.rss_kib, s->after.rss_kib, s->created);
    double fds_pp = per_peer(s->before.fds, s->after.fds, s->created);
    printf("\nprism-bench idle: %u peers in %u bubbles, each peer.join + peer.publish "
           "(%s offer, %s candidates), never connected\n",
           s->o.peers, s->o.bubbles, s->o.offer_path ? s->o.offer_path : "Chromium audio+video",
           s->o.candidates ? "with" : "without");
    printf("  %-22s %u created, %u failed in %.1f s (%.0f peers/s)%s%s\n", "peers", s->created,
           s->failed, secs, secs > 0 ? (double)s->created / secs : 0.0,
           s->first_error[0] ? "; first error: " : "", s->first_error);
    printf("  %-22s %ld KiB before, %ld KiB after: %.1f KiB per peer\n", "relay RSS",
           s->before.rss_kib, s->after.rss_kib, rss_pp);
    printf("  %-22s %ld before, %ld after: %.2f per peer (limit %ld)\n", "relay open fds",
           s->before.fds, s->after.fds, fds_pp, nofile);
    printf("  %-22s RSS %ld KiB, %ld fds\n", "after tenant.delete", s->deleted.rss_kib,
           s->deleted.fds);
    if (relay_exit >= 0)
        printf("  %-22s %d\n", "relay exit status", relay_exit);
    if (s->o.json_out == NULL)
        return;
    json_t *root = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:{s:I, s:I, s:f}, s:{s:I, s:I, s:f}, s:{s:I, s:I},"
        " s:I, s:i}",
        "offer", s->o.offer_path ? s->o.offer_path : "chromium-av-offer", "peers", (int)s->o.peers,
        "bubbles", (int)s->o.bubbles, "peers_created", (int)s->created, "peers_failed",
        (int)s->failed, "create_s", secs, "settle_s", s->o.settle_s, "relay_rss_kib", "before",
        (json_int_t)s->before.rss_kib, "after", (json_int_t)s->after.rss_kib, "per_peer", rss_pp,
        "relay_fds", "before", (json_int_t)s->before.fds, "after", (json_int_t)s->after.fds,
        "per_peer", fds_pp, "after_delete", "relay_rss_kib", (json_int_t)s->deleted.rss_kib,
        "relay_fds", (json_int_t)s->deleted.fds, "relay_nofile_limit", (json_int_t)nofile,
        "relay_exit_status", relay_exit);
    json_object_set_new(root, "offer_candidates", json_boolean(s->o.candidates));
    json_object_set_new(root, "first_error",
                        s->first_error[0] ? json_string(s->first_error) : json_null());
    if (json_dump_file(root, s->o.json_out, JSON_INDENT(1)) != 0)
        fprintf(stderr, "prism-bench: cannot write %s\n", s->o.json_out);
    json_decref(root);
}

int prism_bench_idle(int argc, char **argv)
{
    struct idle *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return 1;
    if (parse(argc, argv, &s->o) != 0) {
        free(s);
        return 2;
    }
    s->offer = prism_bench_chromium_av_offer;
    if (s->o.offer_path != NULL && (s->offer = s->offer_buf = read_file(s->o.offer_path)) == NULL) {
        fprintf(stderr, "prism-bench: cannot read %s\n", s->o.offer_path);
        free(s);
        return 1;
    }
    if (!s->o.candidates) {
        char *o = without_candidates(s->offer);
        free(s->offer_buf);
        s->offer = s->offer_buf = o;
        if (o == NULL) {
            free(s);
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/prism-bench-XXXXXX", sock[256];
    const char *control = s->o.control;
    int rc = 1, relay_exit = -1, e = -1;
    long nofile = -1;
    s->relay_pid = -1;
    if (s->o.spawn) {
        if (mkdtemp(dir) == NULL) {
            perror("prism-bench: mkdtemp");
            goto out;
        }
        s->relay_pid = spawn(&s->o, dir, sock, sizeof(sock));
        if (s->relay_pid < 0) {
            fprintf(stderr, "prism-bench: could not start %s (see --prism)\n", s->o.prism);
            prism_bench_relay_dir_remove(dir);
            goto out;
        }
        control = sock;
    }
    uv_loop_init(&s->loop);
    uv_timer_init(&s->loop, &s->timer);
    s->timer.data = s;
    e = prism_bench_rpc_open(&s->loop, control, NULL, NULL, &s->rpc);
    if (e != 0) {
        fprintf(stderr, "prism-bench: cannot connect to %s: %s\n", control, uv_strerror(e));
        uv_close((uv_handle_t *)&s->timer, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        goto stop;
    }
    if (s->relay_pid < 0)
        s->relay_pid = prism_bench_rpc_peer_pid(s->rpc);
    prism_bench_rpc_set_timeout(s->rpc, s->o.rpc_timeout_s);
    nofile = prism_bench_proc_nofile(s->relay_pid);
    if (nofile > 0 && (unsigned long)nofile < (unsigned long)FD_PER_PEER * s->o.peers + FD_RESERVE)
        fprintf(stderr,
                "prism-bench: the relay's descriptor limit (%ld) may not admit %u transports\n",
                nofile, s->o.peers);
    start_setup(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
stop:
    if (s->o.spawn && s->relay_pid > 0) {
        relay_exit = prism_bench_relay_stop(s->relay_pid);
        prism_bench_relay_dir_remove(dir);
    }
    if (e == 0) {
        report(s, nofile, relay_exit);
        rc = s->created == s->o.peers && !s->setup_failed && s->no_reply[0] == '\0' ? 0 : 1;
        printf("verdict: %s%s%s\n", rc == 0 ? "PASS" : "FAIL", s->no_reply[0] ? ": " : "",
               s->no_reply);
    }
out:
    free(s->offer_buf);
    free(s);
    return rc;
}
