/* libFuzzer target for the control methods with authorisation: each line of
 * the input (after a first byte that picks the client) is parsed as a
 * JSON-RPC request and dispatched to the real handlers
 * (signaling/methods.c prism_methods_call) against one relay that lives for
 * the whole run: one worker, media on 127.0.0.1, no control socket (the
 * target plays signaling/control.c's part: it makes the deferred
 * completions and runs the control loop until every one has come back).
 *
 * Clients (first byte % 3): unrestricted; limited to tenant "t1" with a
 * quota cap (a [client] group with `tenants` and `max_*`); limited to "t1"
 * and "t2" without `max_*` keys (capped at the [limits] defaults).
 * Invariants: every reply, result or error, encodes as JSON (a message that
 * is not UTF-8 once left a request unanswered); a limited client never
 * succeeds on a tenant outside its list,
 * never on a relay-wide stats.get or relay.drain, and no tenant.create it
 * makes succeeds with a limit looser than its cap; every code is one the
 * dispatcher may return; every deferred call completes exactly once. Not
 * fuzzed: events.subscribe (it needs a connection), and relay.drain for the
 * unrestricted client (it would end the run's relay for good).
 *
 * After each input every tenant is deleted, so inputs stay independent, and
 * when the input created a bubble, the target waits until the worker has
 * freed what the deletions closed (prism_relay_sync). Without that wait the
 * worker's frees trailed the input, and libFuzzer, which counts mallocs and
 * frees across every thread, ran the input again and then LeakSanitizer
 * over the whole heap: ~90 % of an execution's time (50-76 executions/s),
 * and after 1000 such inputs it would have stopped checking for leaks at
 * all. An input that created no bubble posted nothing to the worker: every
 * message to a worker is about a bubble or a peer in one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "relay/base/error.h"
#include "relay/base/log.h"
#include "relay/control/registry.h"
#include "relay/control/relay.h"
#include "signaling/auth.h"
#include "signaling/methods.h"
#include "signaling/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct prism_relay *relay;
static struct prism_config cfg;
static int pending; /* deferred calls not completed yet */
static bool opened; /* a bubble.create of this input succeeded */

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_methods: %s\n", what);
        abort();
    }
}

static void on_event(void *ud, const struct prism_relay_event *ev)
{
    (void)ud;
    (void)ev;
}

/* At exit (after the replay, or libFuzzer's end): the workers stop before
 * the process tears down what they use. */
static void teardown(void)
{
    prism_relay_stop(relay);
    uv_run(&loop, UV_RUN_DEFAULT);
    prism_relay_free(relay);
    uv_loop_close(&loop);
    prism_log_close();
}

static void init_once(void)
{
    if (relay != NULL)
        return;
    prism_log_open("/dev/null", PRISM_LOG_ERROR);
    prism_config_defaults(&cfg);
    cfg.workers = 1;
    cfg.n_media_ips = 1;
    prism_config_set_str(cfg.media_ips[0], sizeof(cfg.media_ips[0]), "127.0.0.1");
    cfg.port_min = 42000;
    cfg.port_max = 42999;
    cfg.tenant_defaults.max_bubbles = 8;
    cfg.tenant_defaults.max_peers = 16;
    prism_config_resolve(&cfg);
    must(uv_loop_init(&loop) == 0, "loop");
    static const struct prism_relay_event_sink sink = {on_event, NULL};
    must(prism_relay_new(&cfg, &loop, &sink, &relay) == 0, "relay");
    atexit(teardown);
}

static void client_for(uint8_t pick, struct prism_client *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->label, sizeof(c->label), "uid:%u", pick % 3);
    if (pick % 3 == 0)
        return;
    c->restricted = c->capped = true;
    snprintf(c->tenants[c->n_tenants++], PRISM_ID_MAX + 1, "t1");
    if (pick % 3 == 1) {
        c->cap = (struct prism_limits){.max_bubbles = 2, .max_peers = 4, .max_kbps = 1000};
    } else {
        snprintf(c->tenants[c->n_tenants++], PRISM_ID_MAX + 1, "t2");
        c->cap = cfg.tenant_defaults;
    }
}

static void on_done(void *ud, int rc, const struct prism_relay_sdp_result *result, const char *msg)
{
    int *calls = ud;
    (*calls)++;
    must(*calls == 1, "a deferred call completed twice");
    must((rc == 0) == (result != NULL && result->sdp != NULL), "a result exactly on success");
    /* What control.c would send: an SDP and a message JSON can carry. */
    json_t *sdp = rc == 0 ? json_string(result->sdp) : NULL;
    char *out = rc != 0 ? prism_rpc_error(NULL, -32000, msg != NULL ? msg : "", NULL) : NULL;
    must(rc == 0 ? sdp != NULL : out != NULL, "a deferred reply that cannot be encoded");
    json_decref(sdp);
    free(out);
    pending--;
}

/* Collecting the tenants' ids: deleting one while walking would change the walk. */
struct tenant_ids {
    char (*ids)[PRISM_ID_MAX + 1];
    size_t n;
};

static void collect_tenant(void *ud, struct prism_tenant *t)
{
    struct tenant_ids *c = ud;
    snprintf(c->ids[c->n++], PRISM_ID_MAX + 1, "%s", t->id);
}

/* Deletes every tenant there is, however many the input created. */
static void delete_tenants(void)
{
    struct prism_registry *reg = prism_relay_registry(relay);
    size_t n = prism_registry_tenant_count(reg);
    if (n == 0)
        return;
    struct tenant_ids c = {calloc(n, sizeof(*c.ids)), 0};
    must(c.ids != NULL, "memory");
    prism_registry_foreach_tenant(reg, collect_tenant, &c);
    must(c.n == n, "the tenant count");
    for (size_t i = 0; i < n; i++)
        must(prism_relay_tenant_delete(relay, c.ids[i]) == 0, "a tenant could not be deleted");
    free(c.ids);
}

static void on_synced(void *ud)
{
    *(bool *)ud = true;
}

/* Completion records: one per deferred call of an input, checked at its end. */
static int calls[256];
static size_t n_calls;

static struct prism_relay_done defer(struct prism_call *call)
{
    (void)call;
    must(n_calls < sizeof(calls) / sizeof(calls[0]), "too many deferred calls");
    calls[n_calls] = 0;
    pending++;
    return (struct prism_relay_done){on_done, &calls[n_calls++]};
}

/* A limit of a tenant.create that succeeded, as asked (absent: the cap). */
static void check_limits(const struct prism_client *c, json_t *params)
{
    json_t *limits = json_object_get(params, "limits");
    static const char *const keys[] = {"max_bubbles", "max_peers", "max_kbps"};
    const uint32_t caps[] = {c->cap.max_bubbles, c->cap.max_peers, c->cap.max_kbps};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(limits, keys[i]);
        if (v == NULL || !json_is_integer(v))
            continue;
        must(prism_client_limit_within((uint32_t)json_integer_value(v), caps[i]),
             "a capped client created a tenant above its cap");
    }
}

static void run_line(const struct prism_client *client, const char *line, size_t len)
{
    struct prism_rpc_request req;
    json_t *id = NULL;
    char msg[256];
    if (prism_rpc_parse(line, len, &req, &id, msg, sizeof(msg)) != 0) {
        json_decref(id);
        return;
    }
    bool skip = strcmp(req.method, "events.subscribe") == 0 ||
                (strcmp(req.method, "relay.drain") == 0 && !client->restricted);
    if (!skip) {
        struct prism_call call = {
            .relay = relay,
            .client = client,
            .params = req.params,
            .id = req.id,
            .defer = defer,
        };
        int rc = prism_methods_call(&call, req.method);
        must(rc == 0 || rc == PRISM_EPENDING || rc == PRISM_RPC_METHOD_NOT_FOUND ||
                 (rc < 0 && rc > PRISM_EPENDING),
             "an unknown code");
        must(rc != 0 || call.result != NULL, "success without a result");
        must(rc == 0 || call.result == NULL, "a result on failure");
        /* Every reply encodes (a NULL one would leave the client waiting). */
        char *out = rc == 0                ? prism_rpc_result(req.id, json_incref(call.result))
                    : rc == PRISM_EPENDING ? NULL
                                           : prism_rpc_error(req.id, -32000, call.msg, NULL);
        must(rc == PRISM_EPENDING || out != NULL, "a reply that cannot be encoded");
        free(out);
        bool ok = rc == 0 || rc == PRISM_EPENDING;
        if (ok && client->restricted) {
            must(call.tenant != NULL || strcmp(req.method, "relay.info") == 0,
                 "a limited client acted relay-wide");
            must(call.tenant == NULL || prism_client_may(client, call.tenant),
                 "a limited client acted on another tenant");
        }
        if (rc == 0 && strcmp(req.method, "bubble.create") == 0)
            opened = true;
        if (rc == 0 && strcmp(req.method, "tenant.create") == 0) {
            if (client->capped)
                check_limits(client, req.params);
        }
        json_decref(call.result);
    }
    json_decref(id);
    prism_rpc_request_deinit(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size == 0 || size > 64 * 1024)
        return 0;
    struct prism_client client;
    client_for(data[0], &client);
    n_calls = 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        run_line(&client, p, len);
        p += len + 1;
    }
    while (pending > 0)
        uv_run(&loop, UV_RUN_ONCE);
    for (size_t i = 0; i < n_calls; i++)
        must(calls[i] == 1, "a deferred call never completed");
    delete_tenants();
    if (opened) {
        opened = false;
        bool synced = false;
        prism_relay_sync(relay, on_synced, &synced);
        while (!synced)
            uv_run(&loop, UV_RUN_ONCE);
    }
    return 0;
}
