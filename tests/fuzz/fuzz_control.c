/* Fuzz target for the control socket's parsers: line framing (with a small
 * max_line so overlong handling is reached) and JSON-RPC request validation
 * of every line, then the reply serialisation of what was parsed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/check.h"
#include "signaling/framing.h"
#include "signaling/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool on_line(void *ud, const char *line, size_t len)
{
    (void)ud;
    struct prism_rpc_request req;
    json_t *id = NULL;
    char msg[256];
    int code = prism_rpc_parse(line, len, &req, &id, msg, sizeof(msg));
    char *out;
    if (code == 0) {
        PRISM_CHECK(req.method != NULL && json_is_object(req.params));
        out = prism_rpc_result(req.id, json_object());
        prism_rpc_request_deinit(&req);
    } else {
        PRISM_CHECK(code == PRISM_RPC_PARSE_ERROR || code == PRISM_RPC_INVALID_REQUEST ||
                    code == PRISM_RPC_INVALID_PARAMS);
        out = prism_rpc_error(id, code, msg, NULL);
    }
    PRISM_CHECK(out != NULL && strchr(out, '\n') == NULL); /* one line per reply */
    free(out);
    json_decref(id);
    return true;
}

static bool on_overlong(void *ud)
{
    (void)ud;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct prism_framer_callbacks cb = {on_line, on_overlong};
    struct prism_framer f;
    prism_framer_init(&f, 512);
    /* Feed in two pieces, split where the first byte says, to cross chunk edges. */
    size_t cut = size > 0 ? data[0] % (size + 1) : 0;
    if (prism_framer_feed(&f, (const char *)data, cut, &cb, NULL) == 0)
        prism_framer_feed(&f, (const char *)data + cut, size - cut, &cb, NULL);
    PRISM_CHECK(prism_framer_pending(&f) <= 512);
    prism_framer_deinit(&f);
    return 0;
}
