/* prism-bench --target janus (see janus.h).
 *
 * Two layers over bench/http.h (a blocking HTTP/1.1 client; one keep-alive
 * connection per thread: set-up, sender, poller):
 * - the sender and poller threads and the result queue they fill;
 * - the VideoRoom logic on the loop thread: requests are tracked by Janus
 *   transaction; a request whose answer comes as an event ("ack" first)
 *   stays pending until the event with its transaction arrives. Events and
 *   replies come through the same queue in the order they were read, so an
 *   event that overtakes its ack is delivered first and the ack is ignored.
 */
#include "bench/janus.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <jansson.h>

#include "bench/http.h"
#include "bench/media.h"
#include "relay/wire/rtp.h"

#define KEEPALIVE_NS (20ull * 1000000000ull)
#define HTTP_TIMEOUT_S 45 /* longer than Janus's 30 s long poll */
#define MAX_FEEDS 256     /* publishers per room this driver tracks */

/* --- model ----------------------------------------------------------------------- */

struct room;

/* What a publisher sent recently: payload hash -> abs-send-time stamp.
 * Janus rewrites SSRC, sequence numbers, timestamps and header extensions
 * but not payloads, so a receiver finds the stamp of what it got here (the
 * newest match: the Opus clip repeats every 2 s, far above any delay). */
#define STAMP_RING 1024
struct stamp {
    uint64_t key;
    uint32_t ast; /* abs-send-time, 6.18 fixed point, 24 bits */
};
struct stamp_ring {
    struct stamp s[STAMP_RING];
    size_t next; /* total pushed */
};

struct jep {
    struct prism_bench_janus *j;
    struct stamp_ring *rings; /* [0] audio, [1] video, owned */
    struct prism_bench_endpoint *ep;
    struct room *room;
    uint64_t pub_handle, sub_handle;
    uint64_t feed; /* our publisher id in the room */
    bool joined;   /* join asked (the scenario's ramp reached it) */
    bool pub_up;   /* webrtcup on the publisher handle */
    bool sub_joined, sub_busy, sub_started;
    uint64_t *subscribed; /* feeds asked for */
    size_t n_subscribed;
    uint64_t rev;
    json_t *streams; /* the subscription's streams (mid -> feed), owned */
};

struct room {
    char bubble[PRISM_BENCH_ID_LEN];
    uint64_t id;
    struct jep **members;
    size_t n;
};

typedef void (*reply_cb)(struct jep *je, json_t *msg, const char *err);

struct pending {
    uint64_t id;
    struct jep *je;
    reply_cb cb;
    bool expect_event; /* an "ack" is not the end */
};

enum item_kind { ITEM_REPLY, ITEM_EVENT };

struct item { /* from a thread to the loop */
    enum item_kind kind;
    uint64_t id; /* ITEM_REPLY: the request's */
    json_t *msg; /* owned; NULL: HTTP failure */
    struct item *next;
};

struct job { /* to the sender thread */
    uint64_t id;
    char *path, *body;
    struct job *next;
};

struct prism_bench_janus {
    uv_loop_t *loop;
    struct prism_bench_signaller sig;
    char host[64], base[128];
    int port;
    uint64_t session, admin_handle;
    struct prism_bench_http setup_conn, send_conn, poll_conn;

    struct room *rooms;
    size_t n_rooms;
    struct jep **jeps;
    size_t n_jeps;
    GHashTable *by_handle; /* handle id -> jep */
    GHashTable *by_ep;     /* endpoint -> jep */
    GHashTable *slot_ring; /* receiver slot -> its publisher's stamp ring (a cache) */
    GHashTable *pending;   /* transaction id -> struct pending */
    uint64_t next_id;

    pthread_t sender, poller;
    bool threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    struct job *jobs, *jobs_tail;
    struct item *items, *items_tail;
    uv_async_t async;
    bool async_open, stopped;
    bool async_closed; /* under mu */
};

static void set_err(char *err, size_t len, const char *what, json_t *reply)
{
    const char *reason =
        json_string_value(json_object_get(json_object_get(reply, "error"), "reason"));
    json_t *pd = json_object_get(json_object_get(reply, "plugindata"), "data");
    if (reason == NULL)
        reason = json_string_value(json_object_get(pd, "error"));
    snprintf(err, len, "janus %s: %s", what,
             reason  ? reason
             : reply ? "unexpected reply"
                     : "no reply");
}

/* A synchronous request on the set-up connection: POST `body` to `path`. */
static json_t *sync_post(struct prism_bench_janus *j, const char *path, json_t *body)
{
    char tx[32];
    snprintf(tx, sizeof(tx), "s%llu", (unsigned long long)++j->next_id);
    json_object_set_new(body, "transaction", json_string(tx));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return NULL;
    json_t *r = prism_bench_http_json(&j->setup_conn, "POST", path, text);
    free(text);
    return r;
}

static int attach(struct prism_bench_janus *j, uint64_t *handle)
{
    char path[192];
    snprintf(path, sizeof(path), "%s/%llu", j->base, (unsigned long long)j->session);
    json_t *r = sync_post(
        j, path, json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"));
    json_t *id = json_object_get(json_object_get(r, "data"), "id");
    int ok = json_is_integer(id) ? 0 : -1;
    if (ok == 0)
        *handle = (uint64_t)json_integer_value(id);
    json_decref(r);
    return ok;
}

int prism_bench_janus_open(uv_loop_t *loop, const char *url, double timeout_s,
                           struct prism_bench_janus **out, char *err, size_t err_len)
{
    struct prism_bench_janus *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    j->loop = loop;
    j->port = 80;
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof(j->host)) {
        snprintf(err, err_len, "bad --janus-url %s (http://IPv4:port/path)", url);
        free(j);
        return -1;
    }
    memcpy(j->host, p, hl);
    p += hl;
    if (*p == ':')
        j->port = (int)strtol(p + 1, (char **)&p, 10);
    snprintf(j->base, sizeof(j->base), "%s", *p == '/' ? p : "/janus");
    /* Requests get the run's reply deadline (at least 1 s: the socket's
     * timeouts are whole seconds here); the long poll waits longer. */
    int req_s = timeout_s < 1 ? 1 : (int)(timeout_s + 0.5);
    prism_bench_http_init(&j->setup_conn, j->host, j->port, req_s);
    prism_bench_http_init(&j->send_conn, j->host, j->port, req_s);
    prism_bench_http_init(&j->poll_conn, j->host, j->port, HTTP_TIMEOUT_S);
    j->by_handle = g_hash_table_new(g_int64_hash, g_int64_equal);
    j->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
    j->by_ep = g_hash_table_new(g_direct_hash, g_direct_equal);
    j->slot_ring = g_hash_table_new(g_direct_hash, g_direct_equal);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    json_t *r = sync_post(j, j->base, json_pack("{s:s}", "janus", "create"));
    json_t *id = json_object_get(json_object_get(r, "data"), "id");
    if (!json_is_integer(id)) {
        set_err(err, err_len, "create session", r);
        json_decref(r);
        prism_bench_janus_close(j);
        return -1;
    }
    j->session = (uint64_t)json_integer_value(id);
    json_decref(r);
    if (attach(j, &j->admin_handle) != 0) {
        snprintf(err, err_len, "janus: cannot attach janus.plugin.videoroom");
        prism_bench_janus_close(j);
        return -1;
    }
    *out = j;
    return 0;
}

int prism_bench_janus_add_bubble(struct prism_bench_janus *j, const char *bubble,
                                 unsigned publishers, char *err, size_t err_len)
{
    struct room *rooms = realloc(j->rooms, (j->n_rooms + 1) * sizeof(*rooms));
    if (rooms == NULL)
        return -1;
    j->rooms = rooms;
    char path[192];
    snprintf(path, sizeof(path), "%s/%llu/%llu", j->base, (unsigned long long)j->session,
             (unsigned long long)j->admin_handle);
    /* No periodic key frame requests (fir_freq 0), no bitrate cap, no
     * notifications of joins: forwarding only, as the Prism run. */
    json_t *r = sync_post(j, path,
                          json_pack("{s:s, s:{s:s, s:i, s:s, s:s, s:i, s:i, s:b, s:b, s:s}}",
                                    "janus", "message", "body", "request", "create", "publishers",
                                    publishers ? (int)publishers : 1, "audiocodec", "opus",
                                    "videocodec", "vp8", "bitrate", 0, "fir_freq", 0, "permanent",
                                    0, "notify_joining", 0, "description", bubble));
    json_t *data = json_object_get(json_object_get(r, "plugindata"), "data");
    json_t *room = json_object_get(data, "room");
    if (!json_is_integer(room)) {
        set_err(err, err_len, "create room", r);
        json_decref(r);
        return -1;
    }
    struct room *rm = &j->rooms[j->n_rooms++];
    memset(rm, 0, sizeof(*rm));
    snprintf(rm->bubble, sizeof(rm->bubble), "%s", bubble);
    rm->id = (uint64_t)json_integer_value(room);
    json_decref(r);
    return 0;
}

int prism_bench_janus_add_endpoint(struct prism_bench_janus *j, struct prism_bench_endpoint *ep,
                                   char *err, size_t err_len)
{
    struct room *rm = NULL;
    for (size_t i = 0; i < j->n_rooms && rm == NULL; i++)
        if (strcmp(j->rooms[i].bubble, ep->bubble) == 0)
            rm = &j->rooms[i];
    struct jep *je = calloc(1, sizeof(*je));
    struct jep **jeps = realloc(j->jeps, (j->n_jeps + 1) * sizeof(*jeps));
    struct jep **members = rm ? realloc(rm->members, (rm->n + 1) * sizeof(*members)) : NULL;
    if (jeps != NULL)
        j->jeps = jeps;
    if (members != NULL)
        rm->members = members;
    if (rm == NULL || je == NULL || jeps == NULL || members == NULL) {
        free(je);
        snprintf(err, err_len, "janus: no room for %s or out of memory", ep->bubble);
        return -1;
    }
    je->subscribed = calloc(MAX_FEEDS, sizeof(uint64_t));
    je->rings = calloc(2, sizeof(struct stamp_ring));
    if (je->subscribed == NULL || je->rings == NULL || attach(j, &je->pub_handle) != 0 ||
        attach(j, &je->sub_handle) != 0) {
        free(je->subscribed);
        free(je->rings);
        free(je);
        snprintf(err, err_len, "janus: cannot attach handles for %s/%s", ep->bubble, ep->peer);
        return -1;
    }
    je->j = j;
    je->ep = ep;
    je->room = rm;
    je->feed = j->n_jeps + 1;
    j->jeps[j->n_jeps++] = je;
    rm->members[rm->n++] = je;
    g_hash_table_insert(j->by_handle, &je->pub_handle, je);
    g_hash_table_insert(j->by_handle, &je->sub_handle, je);
    g_hash_table_insert(j->by_ep, ep, je);
    return 0;
}

/* --- threads --------------------------------------------------------------------- */

static void push_item(struct prism_bench_janus *j, enum item_kind kind, uint64_t id, json_t *msg)
{
    struct item *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        json_decref(msg);
        return;
    }
    *it = (struct item){.kind = kind, .id = id, .msg = msg};
    pthread_mutex_lock(&j->mu);
    if (j->items_tail != NULL)
        j->items_tail->next = it;
    else
        j->items = it;
    j->items_tail = it;
    if (!j->async_closed) /* under the lock: stop() closes it */
        uv_async_send(&j->async);
    pthread_mutex_unlock(&j->mu);
}

static void *sender_main(void *arg)
{
    struct prism_bench_janus *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (j->jobs == NULL && !j->quit)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->quit)
            break;
        struct job *jb = j->jobs;
        j->jobs = jb->next;
        if (j->jobs == NULL)
            j->jobs_tail = NULL;
        pthread_mutex_unlock(&j->mu);
        json_t *r = prism_bench_http_json(&j->send_conn, "POST", jb->path, jb->body);
        push_item(j, ITEM_REPLY, jb->id, r);
        free(jb->path);
        free(jb->body);
        free(jb);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static bool quitting(struct prism_bench_janus *j)
{
    pthread_mutex_lock(&j->mu);
    bool q = j->quit;
    pthread_mutex_unlock(&j->mu);
    return q;
}

static void *poller_main(void *arg)
{
    struct prism_bench_janus *j = arg;
    char path[192], ka_path[192];
    snprintf(path, sizeof(path), "%s/%llu?maxev=50", j->base, (unsigned long long)j->session);
    snprintf(ka_path, sizeof(ka_path), "%s/%llu", j->base, (unsigned long long)j->session);
    uint64_t last_ka = prism_bench_now_ns();
    int failures = 0;
    while (!quitting(j)) {
        if (prism_bench_now_ns() - last_ka > KEEPALIVE_NS) {
            json_decref(prism_bench_http_json(&j->poll_conn, "POST", ka_path,
                                              "{\"janus\":\"keepalive\",\"transaction\":\"ka\"}"));
            last_ka = prism_bench_now_ns();
        }
        json_t *r = prism_bench_http_json(&j->poll_conn, "GET", path, NULL);
        if (r == NULL) {
            if (++failures > 3 || quitting(j))
                break;
            usleep(100000);
            continue;
        }
        failures = 0;
        if (json_is_array(r)) {
            size_t i;
            json_t *e;
            json_array_foreach(r, i, e) push_item(j, ITEM_EVENT, 0, json_incref(e));
            json_decref(r);
        } else {
            push_item(j, ITEM_EVENT, 0, r);
        }
    }
    return NULL;
}

/* --- requests from the loop thread ------------------------------------------------ */

/* Sends {"janus": kind, body?, jsep?} to `handle`; `cb` gets the final reply. */
static void request(struct jep *je, uint64_t handle, const char *kind, json_t *body, json_t *jsep,
                    bool expect_event, reply_cb cb)
{
    struct prism_bench_janus *j = je->j;
    struct pending *p = calloc(1, sizeof(*p));
    struct job *jb = calloc(1, sizeof(*jb));
    json_t *msg = json_pack("{s:s}", "janus", kind);
    char tx[32], path[192];
    if (p == NULL || jb == NULL || msg == NULL) {
        free(p);
        free(jb);
        json_decref(msg);
        json_decref(body);
        json_decref(jsep);
        prism_bench_endpoint_fail(je->ep, "janus", "out of memory");
        return;
    }
    *p = (struct pending){.id = ++j->next_id, .je = je, .cb = cb, .expect_event = expect_event};
    snprintf(tx, sizeof(tx), "pb%llu", (unsigned long long)p->id);
    json_object_set_new(msg, "transaction", json_string(tx));
    if (body != NULL)
        json_object_set_new(msg, strcmp(kind, "trickle") == 0 ? "candidate" : "body", body);
    if (jsep != NULL)
        json_object_set_new(msg, "jsep", jsep);
    snprintf(path, sizeof(path), "%s/%llu/%llu", j->base, (unsigned long long)j->session,
             (unsigned long long)handle);
    jb->id = p->id;
    jb->path = strdup(path);
    jb->body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    g_hash_table_insert(j->pending, &p->id, p);
    pthread_mutex_lock(&j->mu);
    if (j->jobs_tail != NULL)
        j->jobs_tail->next = jb;
    else
        j->jobs = jb;
    j->jobs_tail = jb;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static json_t *plugin_data(json_t *msg)
{
    return json_object_get(json_object_get(msg, "plugindata"), "data");
}

static const char *jsep_sdp(json_t *msg)
{
    return json_string_value(json_object_get(json_object_get(msg, "jsep"), "sdp"));
}

static const char *msg_error(json_t *msg, const char *err)
{
    if (err != NULL)
        return err;
    const char *e = json_string_value(json_object_get(plugin_data(msg), "error"));
    if (e == NULL)
        e = json_string_value(json_object_get(json_object_get(msg, "error"), "reason"));
    return e;
}

static void on_trickled(struct jep *je, json_t *msg, const char *err)
{
    (void)msg;
    if (err != NULL)
        prism_bench_endpoint_fail(je->ep, "janus trickle", err);
}

/* Janus waits for end-of-candidates even when they are in the SDP. */
static void trickle_completed(struct jep *je, uint64_t handle)
{
    request(je, handle, "trickle", json_pack("{s:b}", "completed", 1), NULL, false, on_trickled);
}

/* --- publish --------------------------------------------------------------------- */

static void on_configured(struct jep *je, json_t *msg, const char *err)
{
    const char *sdp = jsep_sdp(msg);
    const char *e = msg_error(msg, err);
    if (sdp == NULL || e != NULL) {
        prism_bench_endpoint_published(je->ep, NULL, e ? e : "no answer from janus");
        return;
    }
    if (getenv("PRISM_BENCH_JANUS_DEBUG") != NULL)
        fprintf(stderr, "janus answer to %s/%s:\n%s\n", je->ep->bubble, je->ep->peer, sdp);
    prism_bench_endpoint_published(je->ep, sdp, NULL);
    trickle_completed(je, je->pub_handle);
}

/* Our offer with a=setup:actpass made a=setup:active (see janus.h). */
static char *active_offer(const char *offer)
{
    static const char from[] = "a=setup:actpass", to[] = "a=setup:active";
    size_t n = 0;
    for (const char *p = strstr(offer, from); p != NULL; p = strstr(p + 1, from))
        n++;
    char *out = malloc(strlen(offer) + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    for (const char *p = offer; *p != '\0';) {
        if (strncmp(p, from, sizeof(from) - 1) == 0) {
            memcpy(w, to, sizeof(to) - 1);
            w += sizeof(to) - 1;
            p += sizeof(from) - 1;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    (void)n;
    return out;
}

static void sig_publish(void *ud, struct prism_bench_endpoint *ep, const char *offer)
{
    struct prism_bench_janus *j = ud;
    struct jep *je = g_hash_table_lookup(j->by_ep, ep);
    char *sdp = je ? active_offer(offer) : NULL;
    if (sdp == NULL) {
        prism_bench_endpoint_fail(ep, "janus publish", je ? "out of memory" : "unknown endpoint");
        return;
    }
    json_t *body = json_pack("{s:s, s:s, s:I, s:I, s:s}", "request", "joinandconfigure", "ptype",
                             "publisher", "room", (json_int_t)je->room->id, "id",
                             (json_int_t)je->feed, "display", ep->peer);
    json_t *jsep = json_pack("{s:s, s:s}", "type", "offer", "sdp", sdp);
    free(sdp);
    request(je, je->pub_handle, "message", body, jsep, true, on_configured);
}

/* --- subscribe ------------------------------------------------------------------- */

static struct jep *find_jep(struct prism_bench_janus *j, struct prism_bench_endpoint *ep)
{
    return g_hash_table_lookup(j->by_ep, ep);
}

/* The publisher's peer name for an m-line `mid` of the subscription. */
static const char *feed_display(const struct jep *je, const char *mid, const char **type)
{
    size_t i;
    json_t *s;
    json_array_foreach(je->streams, i, s)
    {
        const char *m = json_string_value(json_object_get(s, "mid"));
        if (m != NULL && strcmp(m, mid) == 0) {
            *type = json_string_value(json_object_get(s, "type"));
            uint64_t feed = (uint64_t)json_integer_value(json_object_get(s, "feed_id"));
            for (size_t k = 0; k < je->room->n; k++)
                if (je->room->members[k]->feed == feed)
                    return je->room->members[k]->ep->peer;
            return json_string_value(json_object_get(s, "feed_display"));
        }
    }
    return NULL;
}

static bool line_has(const char *line, size_t len, const char *what)
{
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(line + i, what, n) == 0)
            return true;
    return false;
}

/* Janus's offer with each m-line's a=msid naming the publisher's peer (the
 * report attributes streams by it), and without abs-send-time (Janus stamps
 * its own send time there, which would pass for ours) and transport-wide-cc
 * (the bench gives no feedback; Prism's offers have neither). */
static char *rewrite_msid(const struct jep *je, const char *sdp)
{
    size_t cap = strlen(sdp) + 4096, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (const char *p = sdp; *p != '\0';) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) + 1 : strlen(p);
        if (strncmp(p, "a=msid:", 7) == 0 ||
            (strncmp(p, "a=extmap:", 9) == 0 &&
             (line_has(p, l, "abs-send-time") || line_has(p, l, "transport-wide-cc")))) {
            p += l;
            continue;
        }
        if (len + l + 256 > cap) {
            cap = (cap + l) * 2;
            char *np = realloc(out, cap);
            if (np == NULL) {
                free(out);
                return NULL;
            }
            out = np;
        }
        memcpy(out + len, p, l);
        len += l;
        if (strncmp(p, "a=mid:", 6) == 0) {
            char mid[PRISM_SDP_TOKEN_LEN];
            size_t ml = strcspn(p + 6, "\r\n");
            if (ml < sizeof(mid)) {
                memcpy(mid, p + 6, ml);
                mid[ml] = '\0';
                const char *type = NULL, *who = feed_display(je, mid, &type);
                if (who != NULL)
                    len += (size_t)snprintf(out + len, cap - len, "a=msid:%.64s %s-%.60s\r\n", who,
                                            type && strcmp(type, "video") == 0 ? "v" : "a", who);
            }
        }
        p += l;
    }
    out[len] = '\0';
    return out;
}

static void try_subscribe(struct jep *je);

static void on_sub_offer(struct jep *je, json_t *msg, const char *err)
{
    const char *e = msg_error(msg, err);
    if (e != NULL) {
        je->sub_busy = false;
        prism_bench_endpoint_fail(je->ep, "janus subscribe", e);
        return;
    }
    json_t *streams = json_object_get(plugin_data(msg), "streams");
    if (json_is_array(streams)) {
        json_decref(je->streams);
        je->streams = json_incref(streams);
    }
    const char *sdp = jsep_sdp(msg);
    if (sdp == NULL) { /* nothing changed */
        je->sub_busy = false;
        try_subscribe(je);
        return;
    }
    if (getenv("PRISM_BENCH_JANUS_DEBUG") != NULL)
        fprintf(stderr, "janus offer to %s/%s:\n%s\n", je->ep->bubble, je->ep->peer, sdp);
    char *offer = rewrite_msid(je, sdp);
    if (offer == NULL) {
        prism_bench_endpoint_fail(je->ep, "janus subscribe", "out of memory");
        return;
    }
    je->sub_joined = true;
    prism_bench_endpoint_on_offer(je->ep, offer, ++je->rev);
    free(offer);
}

static void on_started(struct jep *je, json_t *msg, const char *err)
{
    const char *e = msg_error(msg, err);
    prism_bench_endpoint_answered(je->ep, e);
    if (e != NULL)
        return;
    if (!je->sub_started) {
        je->sub_started = true;
        trickle_completed(je, je->sub_handle);
    }
    je->sub_busy = false;
    try_subscribe(je);
}

static void sig_answer(void *ud, struct prism_bench_endpoint *ep, const char *answer)
{
    struct jep *je = find_jep(ud, ep);
    if (je == NULL)
        return;
    request(je, je->sub_handle, "message", json_pack("{s:s}", "request", "start"),
            json_pack("{s:s, s:s}", "type", "answer", "sdp", answer), true, on_started);
}

/* Subscribes `je` to the feeds of its room that are up and not yet asked
 * for; one renegotiation at a time. */
static void try_subscribe(struct jep *je)
{
    if (!je->joined || je->sub_busy || je->ep->state == PRISM_BENCH_EP_FAILED ||
        je->ep->state == PRISM_BENCH_EP_LEFT || je->j->stopped)
        return;
    json_t *streams = json_array();
    for (size_t i = 0; i < je->room->n; i++) {
        const struct jep *o = je->room->members[i];
        if (o == je || !o->pub_up || je->n_subscribed == MAX_FEEDS)
            continue;
        bool have = false;
        for (size_t k = 0; k < je->n_subscribed && !have; k++)
            have = je->subscribed[k] == o->feed;
        if (have)
            continue;
        je->subscribed[je->n_subscribed++] = o->feed;
        json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)o->feed));
    }
    if (json_array_size(streams) == 0) {
        json_decref(streams);
        return;
    }
    je->sub_busy = true;
    json_t *body = je->sub_joined || je->rev > 0
                       ? json_pack("{s:s, s:o}", "request", "subscribe", "streams", streams)
                       : json_pack("{s:s, s:s, s:I, s:o}", "request", "join", "ptype", "subscriber",
                                   "room", (json_int_t)je->room->id, "streams", streams);
    je->sub_joined = true; /* the next one is a "subscribe" */
    request(je, je->sub_handle, "message", body, NULL, true, on_sub_offer);
}

static void sig_join(void *ud, struct prism_bench_endpoint *ep)
{
    struct jep *je = find_jep(ud, ep);
    if (je == NULL) {
        prism_bench_endpoint_fail(ep, "janus", "endpoint not attached");
        return;
    }
    je->joined = true;
    prism_bench_endpoint_joined(ep);
    try_subscribe(je);
}

/* --- delay through Janus ------------------------------------------------------------- */

static uint64_t payload_key(const uint8_t *pkt, size_t len, struct prism_rtp_header *h)
{
    if (prism_rtp_parse(pkt, len, h) != 0)
        return 0;
    const uint8_t *p = pkt + h->header_len;
    size_t n = h->payload_len < 48 ? h->payload_len : 48;
    uint64_t k = 1469598103934665603ull ^ h->payload_len; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        k = (k ^ p[i]) * 1099511628211ull;
    return k;
}

static void sig_sent(void *ud, struct prism_bench_endpoint *ep, const uint8_t *pkt, size_t len)
{
    struct jep *je = find_jep(ud, ep);
    struct prism_rtp_header h;
    uint64_t key = je != NULL ? payload_key(pkt, len, &h) : 0;
    const uint8_t *ext;
    size_t ext_len;
    if (key == 0 ||
        prism_rtp_find_ext(pkt, &h, PRISM_BENCH_EXT_ABS_SEND_TIME, &ext, &ext_len) != 0 ||
        ext_len != 3)
        return;
    struct stamp_ring *ring = &je->rings[h.ssrc == ep->tx_video.ssrc && ep->video != NULL];
    ring->s[ring->next++ % STAMP_RING] =
        (struct stamp){.key = key, .ast = (uint32_t)ext[0] << 16 | (uint32_t)ext[1] << 8 | ext[2]};
}

static struct stamp_ring *ring_of(struct prism_bench_janus *j, struct prism_bench_endpoint *ep,
                                  struct prism_bench_rx_slot *slot)
{
    struct stamp_ring *ring = g_hash_table_lookup(j->slot_ring, slot);
    if (ring != NULL)
        return ring;
    struct jep *je = find_jep(j, ep);
    for (size_t i = 0; je != NULL && i < je->room->n; i++)
        if (strcmp(je->room->members[i]->ep->peer, slot->publisher) == 0) {
            ring = &je->room->members[i]->rings[slot->rx.video];
            g_hash_table_insert(j->slot_ring, slot, ring); /* control path: once per slot */
            break;
        }
    return ring;
}

static void sig_received(void *ud, struct prism_bench_endpoint *ep,
                         struct prism_bench_rx_slot *slot, const uint8_t *pkt, size_t len,
                         uint64_t now_ns)
{
    struct stamp_ring *ring = ring_of(ud, ep, slot);
    struct prism_rtp_header h;
    uint64_t key = ring != NULL ? payload_key(pkt, len, &h) : 0;
    if (key == 0)
        return;
    size_t n = ring->next < STAMP_RING ? ring->next : STAMP_RING;
    for (size_t i = 1; i <= n; i++) { /* newest first */
        const struct stamp *st = &ring->s[(ring->next - i) % STAMP_RING];
        if (st->key != key)
            continue;
        uint32_t now_ast = (uint32_t)(((now_ns / 1000) << 18) / 1000000) & 0xFFFFFFu;
        uint32_t delta = (now_ast - st->ast) & 0xFFFFFFu;
        prism_bench_hist_add(&slot->rx.delay, (uint64_t)delta * 1000000u >> 18);
        return;
    }
}

static void sig_leave(void *ud, struct prism_bench_endpoint *ep)
{
    (void)ud;
    (void)ep; /* the session is destroyed at the end (prism_bench_janus_close) */
}

/* --- the loop side ------------------------------------------------------------------ */

static void on_event(struct prism_bench_janus *j, json_t *msg)
{
    const char *kind = json_string_value(json_object_get(msg, "janus"));
    const char *tx = json_string_value(json_object_get(msg, "transaction"));
    if (kind == NULL)
        return;
    if (tx != NULL && strncmp(tx, "pb", 2) == 0) {
        uint64_t id = strtoull(tx + 2, NULL, 10);
        struct pending *p = g_hash_table_lookup(j->pending, &id);
        if (p != NULL && strcmp(kind, "ack") != 0) {
            g_hash_table_steal(j->pending, &id);
            p->cb(p->je, msg, NULL);
            free(p);
            return;
        }
    }
    uint64_t sender = (uint64_t)json_integer_value(json_object_get(msg, "sender"));
    struct jep *je = g_hash_table_lookup(j->by_handle, &sender);
    if (je == NULL || j->stopped)
        return;
    if (strcmp(kind, "webrtcup") == 0 && sender == je->pub_handle) {
        je->pub_up = true;
        for (size_t i = 0; i < je->room->n; i++)
            try_subscribe(je->room->members[i]);
    } else if (strcmp(kind, "hangup") == 0) {
        const char *reason = json_string_value(json_object_get(msg, "reason"));
        prism_bench_endpoint_fail(je->ep,
                                  sender == je->pub_handle ? "janus hangup (publish)"
                                                           : "janus hangup (subscribe)",
                                  reason);
    }
}

static void on_reply(struct prism_bench_janus *j, uint64_t id, json_t *msg)
{
    struct pending *p = g_hash_table_lookup(j->pending, &id);
    if (p == NULL)
        return; /* its event came first */
    const char *kind = json_string_value(json_object_get(msg, "janus"));
    if (msg != NULL && kind != NULL && strcmp(kind, "ack") == 0 && p->expect_event)
        return; /* the event follows */
    g_hash_table_steal(j->pending, &id);
    if (msg == NULL)
        p->cb(p->je, NULL, "no HTTP reply from janus");
    else if (kind != NULL && strcmp(kind, "error") == 0)
        p->cb(p->je, msg, msg_error(msg, NULL) ? msg_error(msg, NULL) : "error");
    else
        p->cb(p->je, msg, NULL);
    free(p);
}

static void on_async(uv_async_t *h)
{
    struct prism_bench_janus *j = h->data;
    pthread_mutex_lock(&j->mu);
    struct item *it = j->items;
    j->items = j->items_tail = NULL;
    pthread_mutex_unlock(&j->mu);
    while (it != NULL) {
        struct item *next = it->next;
        if (!j->stopped) {
            if (it->kind == ITEM_REPLY)
                on_reply(j, it->id, it->msg);
            else if (it->msg != NULL)
                on_event(j, it->msg);
        }
        json_decref(it->msg);
        free(it);
        it = next;
    }
}

const struct prism_bench_signaller *prism_bench_janus_signaller(struct prism_bench_janus *j)
{
    j->sig = (struct prism_bench_signaller){.join = sig_join,
                                            .publish = sig_publish,
                                            .answer = sig_answer,
                                            .leave = sig_leave,
                                            .sent = sig_sent,
                                            .received = sig_received,
                                            .ud = j};
    return &j->sig;
}

int prism_bench_janus_start(struct prism_bench_janus *j)
{
    if (uv_async_init(j->loop, &j->async, on_async) != 0)
        return -1;
    j->async.data = j;
    j->async_open = true;
    if (pthread_create(&j->sender, NULL, sender_main, j) != 0)
        return -1;
    if (pthread_create(&j->poller, NULL, poller_main, j) != 0) {
        pthread_mutex_lock(&j->mu);
        j->quit = true;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->sender, NULL);
        return -1;
    }
    j->threads = true;
    return 0;
}

void prism_bench_janus_stop(struct prism_bench_janus *j)
{
    if (j == NULL || j->stopped)
        return;
    j->stopped = true;
    pthread_mutex_lock(&j->mu);
    j->async_closed = true;
    pthread_mutex_unlock(&j->mu);
    if (j->async_open)
        uv_close((uv_handle_t *)&j->async, NULL);
}

/* The inode of the TCP socket listening on `port` in this namespace. */
static unsigned long listener_inode(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long found = 0;
    if (f == NULL)
        return 0;
    while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
        unsigned lport = 0, state = 0;
        unsigned long inode = 0;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport, &state,
                   &inode) == 3 &&
            (int)lport == port && state == 0x0A)
            found = inode;
    }
    fclose(f);
    return found;
}

pid_t prism_bench_janus_pid(const struct prism_bench_janus *j)
{
    unsigned long inode = listener_inode(j->port);
    if (inode == 0)
        return -1;
    char want[64];
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    DIR *proc = opendir("/proc");
    pid_t pid = -1;
    struct dirent *d;
    while (proc != NULL && pid < 0 && (d = readdir(proc)) != NULL) {
        char *end;
        long n = strtol(d->d_name, &end, 10);
        if (*end != '\0' || n <= 0)
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/proc/%ld/fd", n);
        DIR *fds = opendir(path);
        struct dirent *e;
        while (fds != NULL && pid < 0 && (e = readdir(fds)) != NULL) {
            char link[300], target[128];
            snprintf(link, sizeof(link), "/proc/%ld/fd/%s", n, e->d_name);
            ssize_t l = readlink(link, target, sizeof(target) - 1);
            if (l > 0) {
                target[l] = '\0';
                if (strcmp(target, want) == 0)
                    pid = (pid_t)n;
            }
        }
        if (fds != NULL)
            closedir(fds);
    }
    if (proc != NULL)
        closedir(proc);
    return pid;
}

void prism_bench_janus_close(struct prism_bench_janus *j)
{
    if (j == NULL)
        return;
    if (j->threads) {
        pthread_mutex_lock(&j->mu);
        j->quit = true;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->sender, NULL);
        /* The poller may sit in a long poll: end it. */
        prism_bench_http_interrupt(&j->poll_conn);
    }
    char path[192];
    snprintf(path, sizeof(path), "%s/%llu/%llu", j->base, (unsigned long long)j->session,
             (unsigned long long)j->admin_handle);
    for (size_t i = 0; j->session != 0 && j->admin_handle != 0 && i < j->n_rooms; i++)
        json_decref(sync_post(j, path,
                              json_pack("{s:s, s:{s:s, s:I}}", "janus", "message", "body",
                                        "request", "destroy", "room", (json_int_t)j->rooms[i].id)));
    if (j->session != 0) {
        snprintf(path, sizeof(path), "%s/%llu", j->base, (unsigned long long)j->session);
        json_decref(sync_post(j, path, json_pack("{s:s}", "janus", "destroy")));
    }
    if (j->threads)
        pthread_join(j->poller, NULL);
    prism_bench_http_disconnect(&j->setup_conn);
    prism_bench_http_disconnect(&j->send_conn);
    prism_bench_http_disconnect(&j->poll_conn);
    while (j->jobs != NULL) {
        struct job *n = j->jobs->next;
        free(j->jobs->path);
        free(j->jobs->body);
        free(j->jobs);
        j->jobs = n;
    }
    while (j->items != NULL) {
        struct item *n = j->items->next;
        json_decref(j->items->msg);
        free(j->items);
        j->items = n;
    }
    for (size_t i = 0; i < j->n_jeps; i++) {
        json_decref(j->jeps[i]->streams);
        free(j->jeps[i]->subscribed);
        free(j->jeps[i]->rings);
        free(j->jeps[i]);
    }
    for (size_t i = 0; i < j->n_rooms; i++)
        free(j->rooms[i].members);
    free(j->rooms);
    free(j->jeps);
    g_hash_table_destroy(j->by_handle);
    g_hash_table_destroy(j->by_ep);
    g_hash_table_destroy(j->slot_ring);
    g_hash_table_destroy(j->pending);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
