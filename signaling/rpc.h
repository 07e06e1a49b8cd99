/* JSON-RPC 2.0 messages of the control protocol: request validation and
 * reply/event serialisation (PROTOCOL.md "Messages").
 *
 * Pure functions on the control thread. A request is validated in layers:
 * JSON syntax (-32700), JSON-RPC shape (-32600), then method and params are
 * the dispatcher's business (-32601, -32602, application errors). Serialised
 * messages are single lines without the trailing newline, malloc'd, for the
 * caller to free.
 */
#ifndef PRISM_SIGNALING_RPC_H
#define PRISM_SIGNALING_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum prism_rpc_code {
    PRISM_RPC_PARSE_ERROR = -32700,
    PRISM_RPC_INVALID_REQUEST = -32600,
    PRISM_RPC_METHOD_NOT_FOUND = -32601,
    PRISM_RPC_INVALID_PARAMS = -32602,
};

/* A validated request; fields borrow from `root`. */
struct prism_rpc_request {
    json_t *root; /* owned: free with prism_rpc_request_deinit */
    json_t *id;   /* string, number or null; NULL for a notification */
    const char *method;
    json_t *params; /* an object (an empty one when absent) */
};

/* Parses and validates one line. On success returns 0 and fills `req`. On
 * failure returns the JSON-RPC code and writes a reason to `msg` (`msg_len`
 * bytes); *id_out then holds the request id if one could be read (a new
 * reference, or NULL), so the error reply can carry it. */
int prism_rpc_parse(const char *line, size_t len, struct prism_rpc_request *req, json_t **id_out,
                    char *msg, size_t msg_len);
void prism_rpc_request_deinit(struct prism_rpc_request *req);

/* {"jsonrpc":"2.0","id":ID,"result":RESULT}; `result` is stolen. */
char *prism_rpc_result(json_t *id, json_t *result);

/* An error reply. `reason` NULL for the standard codes (-32700..-32602);
 * otherwise `data.reason` carries it. `id` NULL is written as null.
 * `message` may hold any bytes: what is not UTF-8 becomes U+FFFD. */
char *prism_rpc_error(json_t *id, int code, const char *message, const char *reason);

/* The application error code used for a protocol reason string. */
int prism_rpc_code_for_reason(const char *reason);

/* {"jsonrpc":"2.0","method":METHOD,"params":PARAMS}; `params` is borrowed. */
char *prism_rpc_notification(const char *method, json_t *params);

#endif
