/* Unit tests for prism-bench's control-socket client (bench/rpc.h): its
 * reply deadlines, against a Unix socket that this test listens on and
 * answers by hand (or never), so no relay is needed. A request the "relay"
 * never answers completes with PRISM_BENCH_RPC_NO_REPLY and "no reply to
 * METHOD within N s"; the connection is then given up (the other pending
 * request hears (NULL, NULL), a later call fails at once); a request
 * answered in time completes normally and no deadline fires after it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "bench/rpc.h"

struct reply {
    int calls;
    bool result;   /* a result came */
    int code;      /* the error's code, 0: none */
    char msg[128]; /* the error's message */
};

static void on_reply(void *ud, json_t *result, json_t *error)
{
    struct reply *r = ud;
    r->calls++;
    r->result = result != NULL;
    r->code = (int)json_integer_value(json_object_get(error, "code"));
    const char *m = json_string_value(json_object_get(error, "message"));
    snprintf(r->msg, sizeof(r->msg), "%s", m ? m : "");
}

/* A listening socket in a fresh directory; `path` gets its name. */
static int listen_unix(char *dir, char *path, size_t path_len)
{
    assert_non_null(mkdtemp(dir));
    snprintf(path, path_len, "%s/control.sock", dir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void cleanup(int lfd, const char *dir, const char *path)
{
    close(lfd);
    unlink(path);
    rmdir(dir);
}

static void silent_relay_misses_deadline(void **state)
{
    (void)state;
    char dir[] = "/tmp/prism-test-rpc-XXXXXX", path[128];
    int lfd = listen_unix(dir, path, sizeof(path));
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct prism_bench_rpc *c = NULL;
    /* connect() completes from the backlog: nobody ever accepts or answers */
    assert_int_equal(prism_bench_rpc_open(&loop, path, NULL, NULL, &c), 0);
    prism_bench_rpc_set_timeout(c, 0.2);
    struct reply first = {0}, second = {0}, late = {0};
    assert_int_equal(prism_bench_rpc_call(c, "tenant.create", json_object(), on_reply, &first), 0);
    assert_int_equal(prism_bench_rpc_call_within(c, "stats.get", NULL, 5.0, on_reply, &second), 0);
    assert_null(prism_bench_rpc_failure(c));
    uint64_t t0 = uv_hrtime();
    while (first.calls == 0 && uv_hrtime() - t0 < 3000000000ull)
        uv_run(&loop, UV_RUN_ONCE);
    double waited_s = (double)(uv_hrtime() - t0) / 1e9;
    assert_int_equal(first.calls, 1);
    assert_false(first.result);
    assert_int_equal(first.code, PRISM_BENCH_RPC_NO_REPLY);
    assert_string_equal(first.msg, "no reply to tenant.create within 0.2 s");
    assert_true(waited_s >= 0.15 && waited_s < 2.0);
    /* the connection is given up: the other request is failed now, not in 5 s */
    assert_int_equal(second.calls, 1);
    assert_false(second.result);
    assert_int_equal(second.code, 0);
    assert_true(prism_bench_rpc_closed(c));
    assert_int_equal(prism_bench_rpc_pending(c), 0);
    assert_string_equal(prism_bench_rpc_failure(c), "no reply to tenant.create within 0.2 s");
    assert_int_equal(prism_bench_rpc_call(c, "tenant.delete", NULL, on_reply, &late), -EPIPE);
    assert_int_equal(late.calls, 0);
    prism_bench_rpc_close(c);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    cleanup(lfd, dir, path);
}

static void reply_in_time_keeps_connection(void **state)
{
    (void)state;
    char dir[] = "/tmp/prism-test-rpc-XXXXXX", path[128];
    int lfd = listen_unix(dir, path, sizeof(path));
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct prism_bench_rpc *c = NULL;
    assert_int_equal(prism_bench_rpc_open(&loop, path, NULL, NULL, &c), 0);
    prism_bench_rpc_set_timeout(c, 0.3);
    int peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    struct reply r = {0};
    assert_int_equal(prism_bench_rpc_call(c, "bubble.create", json_object(), on_reply, &r), 0);
    const char *line = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
    assert_int_equal(write(peer, line, strlen(line)), (ssize_t)strlen(line));
    while (r.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(r.result);
    /* past the deadline: nothing fires, the connection stays usable */
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 500000000ull)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.calls, 1);
    assert_false(prism_bench_rpc_closed(c));
    assert_null(prism_bench_rpc_failure(c));
    prism_bench_rpc_close(c);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(peer);
    cleanup(lfd, dir, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(silent_relay_misses_deadline),
        cmocka_unit_test(reply_in_time_keeps_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
