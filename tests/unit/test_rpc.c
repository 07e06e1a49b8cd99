/* Unit tests for signaling/rpc: request validation layers and reply shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/rpc.h"

static int parse(const char *line, json_t **id)
{
    struct prism_rpc_request req;
    char msg[256];
    int rc = prism_rpc_parse(line, strlen(line), &req, id, msg, sizeof(msg));
    if (rc == 0)
        prism_rpc_request_deinit(&req);
    else
        assert_true(strlen(msg) > 0);
    return rc;
}

static void test_valid(void **state)
{
    (void)state;
    struct prism_rpc_request req;
    json_t *id = NULL;
    char msg[256];
    const char *line = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"relay.info\"}";
    assert_int_equal(prism_rpc_parse(line, strlen(line), &req, &id, msg, sizeof(msg)), 0);
    assert_string_equal(req.method, "relay.info");
    assert_true(json_is_object(req.params));
    assert_int_equal(json_integer_value(req.id), 7);
    json_decref(id);
    prism_rpc_request_deinit(&req);
}

static void test_layers(void **state)
{
    (void)state;
    json_t *id = NULL;
    assert_int_equal(parse("{", &id), PRISM_RPC_PARSE_ERROR);
    assert_null(id);
    assert_int_equal(parse("nope", &id), PRISM_RPC_PARSE_ERROR);
    assert_int_equal(parse("[]", &id), PRISM_RPC_INVALID_REQUEST);
    assert_int_equal(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}]", &id),
                     PRISM_RPC_INVALID_REQUEST);
    assert_int_equal(parse("42", &id), PRISM_RPC_INVALID_REQUEST);
    assert_int_equal(parse("{\"id\":3,\"method\":\"x\"}", &id), PRISM_RPC_INVALID_REQUEST);
    assert_int_equal(json_integer_value(id), 3); /* the error reply can carry the id */
    json_decref(id);
    assert_int_equal(parse("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}", &id),
                     PRISM_RPC_INVALID_REQUEST);
    json_decref(id);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", &id),
                     PRISM_RPC_INVALID_REQUEST);
    json_decref(id);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}", &id),
                     PRISM_RPC_INVALID_REQUEST);
    assert_null(id);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}", &id),
                     PRISM_RPC_INVALID_PARAMS);
    json_decref(id);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"method\":\"y\"}", &id),
                     PRISM_RPC_PARSE_ERROR);
}

static void test_replies(void **state)
{
    (void)state;
    json_t *id = json_integer(9);
    char *s = prism_rpc_result(id, json_object());
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}");
    free(s);
    s = prism_rpc_error(id, prism_rpc_code_for_reason("not_found"), "no such bubble", "not_found");
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32001,\"message\":"
                           "\"no such bubble\",\"data\":{\"reason\":\"not_found\"}}}");
    free(s);
    s = prism_rpc_error(NULL, PRISM_RPC_PARSE_ERROR, "bad", NULL);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                           "\"message\":\"bad\"}}");
    free(s);
    json_decref(id);
    assert_int_equal(prism_rpc_code_for_reason("internal"), -32000);
    assert_int_equal(prism_rpc_code_for_reason("overloaded"), -32008);
}

/* A message that is not UTF-8 still makes a reply, one line, the bytes
 * replaced: jansson's parse error quotes the request's raw bytes (found by
 * fuzz_control: the reply was NULL, and the client got none), and a name
 * cut to a width can end in half a character. */
static void test_reply_not_utf8(void **state)
{
    (void)state;
    const char line[] = "{\"\\\305\221\212\223\202\365\204}";
    json_t *id = NULL;
    struct prism_rpc_request req;
    char msg[256];
    assert_int_equal(prism_rpc_parse(line, strlen(line), &req, &id, msg, sizeof(msg)),
                     PRISM_RPC_PARSE_ERROR);
    char *s = prism_rpc_error(id, PRISM_RPC_PARSE_ERROR, msg, NULL);
    assert_non_null(s);
    assert_null(strchr(s, '\n'));
    assert_non_null(strstr(s, "invalid escape"));
    free(s);
    s = prism_rpc_error(NULL, PRISM_RPC_METHOD_NOT_FOUND, "unknown method \"ab\303", NULL);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
                           "\"message\":\"unknown method \\\"ab\357\277\275\"}}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_reply_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
