/* JSON-RPC 2.0 messages (see rpc.h). */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "signaling/rpc.h"

/* Compact output, keys in insertion order, UTF-8 kept as is. Reals (only
 * stats.get's workers: a lag to 0.1 ms, CPU seconds to 0.01) with 12
 * significant digits: jansson's default of 17 writes 2.3 as
 * 2.2999999999999998. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))

int prism_rpc_parse(const char *line, size_t len, struct prism_rpc_request *req, json_t **id_out,
                    char *msg, size_t msg_len)
{
    memset(req, 0, sizeof(*req));
    *id_out = NULL;
    json_error_t jerr;
    /* Duplicate keys would let two readers of one request disagree. */
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        snprintf(msg, msg_len, "parse error at byte %d: %s", jerr.position, jerr.text);
        return PRISM_RPC_PARSE_ERROR;
    }
    if (!json_is_object(root)) {
        snprintf(msg, msg_len, "a request must be a JSON object (batches are not supported)");
        goto invalid;
    }
    json_t *id = json_object_get(root, "id");
    if (id != NULL && !json_is_string(id) && !json_is_integer(id) && !json_is_real(id) &&
        !json_is_null(id)) {
        snprintf(msg, msg_len, "\"id\" must be a string, a number or null");
        goto invalid;
    }
    if (id != NULL)
        *id_out = json_incref(id);
    json_t *version = json_object_get(root, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
        snprintf(msg, msg_len, "\"jsonrpc\" must be \"2.0\"");
        goto invalid;
    }
    json_t *method = json_object_get(root, "method");
    if (!json_is_string(method)) {
        snprintf(msg, msg_len, "\"method\" must be a string");
        goto invalid;
    }
    json_t *params = json_object_get(root, "params");
    if (params != NULL && !json_is_object(params)) {
        snprintf(msg, msg_len, "\"params\" must be an object");
        json_decref(root);
        return PRISM_RPC_INVALID_PARAMS;
    }
    if (params == NULL) {
        params = json_object();
        json_object_set_new(root, "params", params);
    }
    req->root = root;
    req->id = id;
    req->method = json_string_value(method);
    req->params = params;
    return 0;
invalid:
    json_decref(root);
    return PRISM_RPC_INVALID_REQUEST;
}

void prism_rpc_request_deinit(struct prism_rpc_request *req)
{
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}

char *prism_rpc_result(json_t *id, json_t *result)
{
    json_t *msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                            "result", result);
    char *out = json_dumps(msg, DUMP_FLAGS);
    json_decref(msg);
    return out;
}

char *prism_rpc_error(json_t *id, int code, const char *message, const char *reason)
{
    /* A message may quote the request's bytes (jansson's parse errors do,
     * raw) or cut a name to a width in the middle of a character; jansson
     * packs only valid UTF-8, and a failed pack would leave the request
     * without a reply. */
    char *text = g_utf8_make_valid(message, -1);
    json_t *error = json_pack("{s:i, s:s}", "code", code, "message", text);
    g_free(text);
    if (reason != NULL)
        json_object_set_new(error, "data", json_pack("{s:s}", "reason", reason));
    json_t *msg =
        json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", error);
    char *out = json_dumps(msg, DUMP_FLAGS);
    json_decref(msg);
    return out;
}

int prism_rpc_code_for_reason(const char *reason)
{
    static const char *const reasons[] = {"internal",       "not_found", "exists",
                                          "quota_exceeded", "forbidden", "bad_sdp",
                                          "unsupported",    "draining",  "overloaded"};
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strcmp(reason, reasons[i]) == 0)
            return -32000 - (int)i;
    return -32000;
}

char *prism_rpc_notification(const char *method, json_t *params)
{
    json_t *msg =
        json_pack("{s:s, s:s, s:O}", "jsonrpc", "2.0", "method", method, "params", params);
    char *out = json_dumps(msg, DUMP_FLAGS);
    json_decref(msg);
    return out;
}
