/* The control thread (see control.h).
 *
 * One request line goes: parse (rpc.c) -> dispatch (methods.c) -> one reply
 * line on the same connection -> one audit record and one count in the
 * metrics. Replies are queued in order; the audit trail is flushed after
 * each batch of lines. The metrics listener (metrics.listen) runs here too. SIGHUP reloads
 * the TLS material and the log and audit destinations from the config file;
 * SIGTERM/SIGINT stop listening, end the workers and leave the loop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "crypto/idhash.h"
#include "crypto/tls.h"
#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/base/log.h"
#include "relay/control/relay.h"
#include "signaling/audit.h"
#include "signaling/control.h"
#include "signaling/encode.h"
#include "signaling/events.h"
#include "signaling/methods.h"
#include "signaling/metrics.h"
#include "signaling/metrics_http.h"
#include "signaling/rpc.h"
#include "signaling/server.h"

struct control {
    struct prism_config *cfg;
    uv_loop_t *loop;
    struct prism_relay *relay;
    struct prism_events *events;
    struct prism_audit *audit;
    struct prism_server *server;
    struct prism_metrics *metrics;   /* control requests by method and result */
    struct prism_metrics_http *http; /* NULL unless metrics.listen is set */
    uv_signal_t sigterm, sigint, sighup;
};

/* The relay's sink: each event as its JSON notification. */
static void emit_event(void *ud, const struct prism_relay_event *ev)
{
    struct control *ctl = ud;
    json_t *params = prism_encode_event(ev);
    if (params != NULL)
        prism_events_emit(ctl->events, ev->tenant, prism_encode_event_method(ev->type), params);
}

/* One request's audit record and its count (under `counted_method`, which
 * may name a method the audit leaves out: metrics count unknown names as
 * "other" without ever exporting them). */
static void record(struct control *ctl, const char *client, const char *method,
                   const char *counted_method, const char *tenant, const char *bubble,
                   const char *peer, const char *result)
{
    prism_audit_record(ctl->audit, client, method, tenant, bubble, peer, result);
    prism_metrics_count_request(ctl->metrics, counted_method, result);
}

static void reply_line(struct prism_conn *conn, char *line)
{
    if (line == NULL)
        return;
    prism_conn_reply(conn, line, strlen(line));
    free(line);
}

static const char *result_name(int rpc_code, int err)
{
    switch (rpc_code) {
    case PRISM_RPC_PARSE_ERROR: return "parse_error";
    case PRISM_RPC_INVALID_REQUEST: return "invalid_request";
    case PRISM_RPC_METHOD_NOT_FOUND: return "method_not_found";
    case PRISM_RPC_INVALID_PARAMS: return "invalid_params";
    default: return err == 0 ? "ok" : prism_error_reason(err);
    }
}

/* The reply to a request that ended with `rc` (0: `result`, stolen). A
 * result jansson could not encode (out of memory) still gets an answer, an
 * internal error: a request with an id never goes unanswered. */
static char *format_reply(json_t *id, int rc, json_t *result, const char *msg)
{
    char *out = rc == 0 ? prism_rpc_result(id, result) : NULL;
    if (out != NULL)
        return out;
    if (rc == 0)
        rc = PRISM_EINTERNAL;
    else
        json_decref(result);
    if (rc == PRISM_EINVAL)
        return prism_rpc_error(id, PRISM_RPC_INVALID_PARAMS, msg, NULL);
    const char *reason = prism_error_reason(rc);
    return prism_rpc_error(id, prism_rpc_code_for_reason(reason),
                           msg != NULL && msg[0] != '\0' ? msg : prism_error_str(rc), reason);
}

/* A request the relay answers later (peer.publish, peer.subscribe). */
struct deferred {
    struct control *ctl;
    uint64_t serial; /* the connection, found again by serial */
    uint64_t token;  /* its reply slot; 0 while the handler runs */
    json_t *id;      /* NULL for a notification */
    bool completed;  /* the relay answered while the handler ran */
    int rc;
    json_t *result;
    char msg[256];
    /* for the audit record */
    char client[80];
    char method[32];
    char tenant[PRISM_ID_MAX + 1], bubble[PRISM_ID_MAX + 1], peer[PRISM_ID_MAX + 1];
};

static void deferred_free(struct deferred *d)
{
    json_decref(d->id);
    json_decref(d->result);
    free(d);
}

static void deferred_audit(struct deferred *d)
{
    record(d->ctl, d->client, d->method, d->method, d->tenant[0] ? d->tenant : NULL,
           d->bubble[0] ? d->bubble : NULL, d->peer[0] ? d->peer : NULL, result_name(0, d->rc));
}

static void on_deferred_done(void *ud, int rc, const struct prism_relay_sdp_result *sdp,
                             const char *msg)
{
    struct deferred *d = ud;
    json_t *result = rc == 0 ? prism_encode_sdp_result(sdp) : NULL;
    if (rc == 0 && result == NULL) {
        rc = PRISM_ENOMEM;
        msg = NULL;
    }
    if (d->token == 0) { /* still inside the handler: on_line replies */
        d->completed = true;
        d->rc = rc;
        d->result = result;
        snprintf(d->msg, sizeof(d->msg), "%s", msg != NULL ? msg : "");
        return;
    }
    d->rc = rc;
    char *line = format_reply(d->id, rc, result, msg);
    if (line != NULL && d->id != NULL && d->ctl->server != NULL)
        prism_server_fulfil(d->ctl->server, d->serial, d->token, line, strlen(line));
    free(line);
    deferred_audit(d);
    prism_audit_flush(d->ctl->audit);
    deferred_free(d);
}

static void copy_id(char dst[PRISM_ID_MAX + 1], const char *src)
{
    snprintf(dst, PRISM_ID_MAX + 1, "%s", src != NULL ? src : "");
}

static struct prism_relay_done make_deferred(struct prism_call *call)
{
    struct control *ctl = call->defer_ud;
    struct deferred *d = calloc(1, sizeof(*d));
    PRISM_CHECK(d != NULL);
    d->ctl = ctl;
    d->serial = prism_conn_serial(call->conn);
    d->id = call->id != NULL ? json_incref(call->id) : NULL;
    snprintf(d->client, sizeof(d->client), "%s", call->client->label);
    copy_id(d->tenant, call->tenant);
    copy_id(d->bubble, call->bubble);
    copy_id(d->peer, call->peer);
    call->deferred = d;
    return (struct prism_relay_done){on_deferred_done, d};
}

static bool on_line(void *ud, struct prism_conn *conn, const char *line, size_t len)
{
    struct control *ctl = ud;
    const struct prism_client *client = prism_conn_client(conn);
    struct prism_rpc_request req;
    json_t *id = NULL;
    char msg[256];
    int code = prism_rpc_parse(line, len, &req, &id, msg, sizeof(msg));
    if (code != 0) {
        reply_line(conn, prism_rpc_error(id, code, msg, NULL));
        record(ctl, client->label, NULL, NULL, NULL, NULL, NULL, result_name(code, 0));
        json_decref(id);
        return true;
    }
    struct prism_call call = {
        .relay = ctl->relay,
        .events = ctl->events,
        .conn = conn,
        .client = client,
        .params = req.params,
        .id = req.id,
        .defer = make_deferred,
        .defer_ud = ctl,
    };
    int rc = prism_methods_call(&call, req.method);
    struct deferred *d = call.deferred;
    if (rc == PRISM_EPENDING && !d->completed) {
        snprintf(d->method, sizeof(d->method), "%s", req.method);
        /* JSON-RPC 2.0: a notification gets no reply, so it holds no slot. */
        d->token = req.id != NULL ? prism_conn_defer(conn) : UINT64_MAX;
        json_decref(id);
        prism_rpc_request_deinit(&req);
        return true;
    }
    if (rc == PRISM_EPENDING) { /* completed before the handler returned */
        rc = d->rc;
        call.result = d->result;
        d->result = NULL;
        snprintf(call.msg, sizeof(call.msg), "%s", d->msg);
        deferred_free(d);
    }
    char *out = NULL;
    if (rc == PRISM_RPC_METHOD_NOT_FOUND) {
        code = rc;
        snprintf(msg, sizeof(msg), "unknown method \"%.64s\"", req.method);
        out = prism_rpc_error(req.id, code, msg, NULL);
    } else if (!call.replied) {
        if (rc == PRISM_EINVAL)
            code = PRISM_RPC_INVALID_PARAMS;
        out = format_reply(req.id, rc, call.result, call.msg);
        call.result = NULL;
    }
    /* JSON-RPC 2.0: a notification (no id) gets no reply, not even an error. */
    if (req.id != NULL)
        reply_line(conn, out);
    else
        free(out);
    json_decref(call.result);
    /* An unknown method name is free text from the client (it could carry a
     * raw id): like any unparsed input, it stays out of the audit trail. */
    record(ctl, client->label, code == PRISM_RPC_METHOD_NOT_FOUND ? NULL : req.method, req.method,
           call.tenant, call.bubble, call.peer, result_name(code, rc));
    json_decref(id);
    prism_rpc_request_deinit(&req);
    return true;
}

static bool on_overlong(void *ud, struct prism_conn *conn)
{
    struct control *ctl = ud;
    char msg[96];
    snprintf(msg, sizeof(msg), "request line longer than %zu bytes (control.max_line) skipped",
             ctl->cfg->max_line_bytes);
    reply_line(conn, prism_rpc_error(NULL, PRISM_RPC_INVALID_REQUEST, msg, NULL));
    record(ctl, prism_conn_client(conn)->label, NULL, NULL, NULL, NULL, NULL, "invalid_request");
    return true;
}

static void on_close(void *ud, struct prism_conn *conn)
{
    struct control *ctl = ud;
    prism_events_unsubscribe(ctl->events, conn);
}

static void on_batch_end(void *ud)
{
    struct control *ctl = ud;
    prism_audit_flush(ctl->audit);
}

static const struct prism_server_callbacks server_cb = {on_line, on_overlong, on_close,
                                                        on_batch_end};

static int load_tls(const struct prism_config *cfg, struct prism_tls_ctx **out)
{
    *out = NULL;
    if (cfg->tls_listen[0] == '\0')
        return 0;
    if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0' || cfg->tls_client_ca[0] == '\0') {
        prism_log_error("config.invalid", "reason",
                        "control.tls_listen needs tls_cert, tls_key and tls_client_ca", NULL);
        return PRISM_EINVAL;
    }
    int rc = prism_tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca, out);
    if (rc != 0)
        prism_log_error("control.tls_material", "reason", prism_error_str(rc), NULL);
    return rc;
}

/* SIGHUP: TLS material, log and audit destinations, from the config file. */
static void reload(struct control *ctl)
{
    struct prism_config fresh;
    prism_config_defaults(&fresh);
    char err[256];
    if (ctl->cfg->config_file[0] != '\0' &&
        prism_config_load(&fresh, ctl->cfg->config_file, err, sizeof(err)) != 0) {
        prism_log_error("config.reload_failed", "reason", err, NULL);
        return;
    }
    if (ctl->cfg->config_file[0] == '\0') /* defaults only: reopen what we have */
        fresh = *ctl->cfg;
    if (prism_log_open(fresh.log_path, fresh.log_level) != 0)
        prism_log_error("log.reopen_failed", NULL);
    if (prism_audit_reopen(ctl->audit, fresh.audit_path) != 0)
        prism_log_error("audit.reopen_failed", NULL);
    if (ctl->cfg->tls_listen[0] != '\0') {
        struct prism_config tls_cfg = *ctl->cfg;
        memcpy(tls_cfg.tls_cert, fresh.tls_cert, sizeof(tls_cfg.tls_cert));
        memcpy(tls_cfg.tls_key, fresh.tls_key, sizeof(tls_cfg.tls_key));
        memcpy(tls_cfg.tls_client_ca, fresh.tls_client_ca, sizeof(tls_cfg.tls_client_ca));
        struct prism_tls_ctx *tls;
        if (load_tls(&tls_cfg, &tls) == 0) {
            prism_server_set_tls(ctl->server, tls);
            prism_tls_ctx_unref(tls);
            memcpy(ctl->cfg->tls_cert, fresh.tls_cert, sizeof(fresh.tls_cert));
            memcpy(ctl->cfg->tls_key, fresh.tls_key, sizeof(fresh.tls_key));
            memcpy(ctl->cfg->tls_client_ca, fresh.tls_client_ca, sizeof(fresh.tls_client_ca));
        }
    }
    memcpy(ctl->cfg->log_path, fresh.log_path, sizeof(fresh.log_path));
    ctl->cfg->log_level = fresh.log_level;
    memcpy(ctl->cfg->audit_path, fresh.audit_path, sizeof(fresh.audit_path));
    prism_log_info("relay.reloaded", NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct control *ctl = sig->data;
    if (signum == SIGHUP) {
        reload(ctl);
        return;
    }
    prism_log_info("relay.stopping", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    prism_server_stop(ctl->server);
    ctl->server = NULL;
    prism_metrics_http_stop(ctl->http);
    ctl->http = NULL;
    prism_relay_stop(ctl->relay);
    uv_close((uv_handle_t *)&ctl->sigterm, NULL);
    uv_close((uv_handle_t *)&ctl->sigint, NULL);
    uv_close((uv_handle_t *)&ctl->sighup, NULL);
}

static void render_metrics(void *ud, GString *out)
{
    struct control *ctl = ud;
    const struct prism_metrics_sources src = {ctl->relay, ctl->events, ctl->server};
    prism_metrics_render(ctl->metrics, &src, out);
}

static const char *unready(void *ud)
{
    struct control *ctl = ud;
    return prism_relay_unready_reason(ctl->relay);
}

/* Starts the metrics listener if metrics.listen is set. */
static int start_metrics(struct control *ctl)
{
    if (ctl->cfg->metrics_listen[0] == '\0')
        return 0;
    static const struct prism_metrics_http_callbacks cb = {render_metrics, unready};
    char err[256];
    int rc = prism_metrics_http_start(ctl->loop, ctl->cfg->metrics_listen, &cb, ctl, &ctl->http,
                                      err, sizeof(err));
    if (rc != 0)
        prism_log_error("metrics.listen_failed", "reason", err, NULL);
    else
        prism_log_info("metrics.ready", "listen", ctl->cfg->metrics_listen, NULL);
    return rc;
}

/* Control connections and media sockets all need descriptors: take the hard
 * limit, so admission control (not GLib's abort) decides when we are full. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int prism_control_run(struct prism_config *cfg)
{
    struct control ctl = {.cfg = cfg, .loop = uv_default_loop()};
    struct prism_tls_ctx *tls = NULL;
    char err[256] = "";
    int status = 1;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (prism_audit_open(cfg->audit_path, &ctl.audit) != 0) {
        prism_log_error("audit.open_failed", "path", cfg->audit_path, NULL);
        return 1;
    }
    struct prism_relay_event_sink sink = {emit_event, &ctl};
    int rc = prism_relay_new(cfg, ctl.loop, &sink, &ctl.relay);
    if (rc != 0) {
        prism_log_error("relay.start_failed", "reason", prism_error_str(rc), NULL);
        goto fail;
    }
    ctl.events = prism_events_new(cfg->event_backlog, cfg->event_backlog_bytes,
                                  PRISM_EVENTS_MIN_HELD, prism_relay_epoch(ctl.relay));
    ctl.metrics = prism_metrics_new();
    if (ctl.events == NULL || ctl.metrics == NULL || load_tls(cfg, &tls) != 0 ||
        start_metrics(&ctl) != 0)
        goto fail;
    if (prism_server_start(ctl.loop, cfg, tls, &server_cb, &ctl, &ctl.server, err, sizeof(err)) !=
        0) {
        prism_log_error("control.listen_failed", "reason", err, NULL);
        goto fail;
    }
    prism_tls_ctx_unref(tls);
    tls = NULL;
    uv_signal_init(ctl.loop, &ctl.sigterm);
    uv_signal_init(ctl.loop, &ctl.sigint);
    uv_signal_init(ctl.loop, &ctl.sighup);
    ctl.sigterm.data = ctl.sigint.data = ctl.sighup.data = &ctl;
    uv_signal_start(&ctl.sigterm, on_signal, SIGTERM);
    uv_signal_start(&ctl.sigint, on_signal, SIGINT);
    uv_signal_start(&ctl.sighup, on_signal, SIGHUP);

    char epoch[24], workers[12];
    struct prism_relay_info info;
    prism_relay_info(ctl.relay, &info);
    snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)info.epoch);
    snprintf(workers, sizeof(workers), "%u", info.workers);
    prism_log_info("relay.ready", "version", PRISM_VERSION, "epoch", epoch, "workers", workers,
                   "control", cfg->control_path, "tls", cfg->tls_listen, NULL);
    uv_run(ctl.loop, UV_RUN_DEFAULT);
    status = 0;
    prism_log_info("relay.stopped", NULL);
fail:
    if (status != 0)
        prism_metrics_http_stop(ctl.http);
    if (status != 0 && ctl.server == NULL)
        uv_run(ctl.loop, UV_RUN_NOWAIT); /* let a half-started server free itself */
    prism_tls_ctx_unref(tls);
    prism_events_free(ctl.events);
    prism_metrics_free(ctl.metrics);
    prism_relay_free(ctl.relay);
    prism_audit_close(ctl.audit);
    uv_loop_close(ctl.loop);
    return status;
}
