/* prism-bench control: control-plane throughput.
 *
 * Drives the relay's Unix control socket with a pipelined cycle of
 * bubble.create, 4 x peer.join, 4 x peer.leave, bubble.delete (10 requests)
 * and reports requests per second of wall time and per second of relay CPU
 * (user+sys from /proc/<pid>/stat), so the figure holds on a shared machine.
 * With --spawn it starts its own relay pinned to one core (and itself to
 * another when there are two), and stops it at the end.
 *
 * The calls block, so the socket's own timeouts (SO_RCVTIMEO/SO_SNDTIMEO,
 * --rpc-timeout-s) are the reply deadline: a relay that sends nothing for
 * that long fails the run with "no reply to METHOD within N s", naming the
 * request it owes next.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/proc.h"
#include "bench/rpc.h"
#include "bench/run_options.h"

#define CYCLE_LEN 10

struct control_opts {
    const char *control; /* socket path */
    const char *prism;   /* binary for --spawn */
    long cycles;
    int window;           /* cycles in flight */
    double rpc_timeout_s; /* --rpc-timeout-s: the longest silence awaiting a reply */
    bool spawn;
    const char *json_out;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return -1;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads until *lines newlines were seen, counting them down; counts replies
 * carrying "error" (the 6 bytes kept from the previous chunk catch a key
 * split across reads). -1 when the socket failed, closed or timed out
 * (errno EAGAIN), *lines then the replies still owed. */
static int read_replies(int fd, long *lines, long *errors)
{
    static char buf[6 + (1 << 16)];
    size_t carry = 0;
    while (*lines > 0) {
        ssize_t n = read(fd, buf + carry, sizeof(buf) - carry);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = ECONNRESET;
        if (n <= 0)
            return -1;
        for (ssize_t i = 0; i < n; i++)
            if (buf[carry + (size_t)i] == '\n')
                (*lines)--;
        size_t len = carry + (size_t)n;
        for (char *p = buf; (p = memmem(p, (size_t)(buf + len - p), "\"error\"", 7)) != NULL; p++)
            (*errors)++;
        carry = len < 6 ? len : 6;
        memmove(buf, buf + len - carry, carry);
    }
    return 0;
}

/* The method of a cycle's `k`th request (format_cycle's order). */
static const char *cycle_method(long k)
{
    return k == 0   ? "bubble.create"
           : k <= 4 ? "peer.join"
           : k <= 8 ? "peer.leave"
                    : "bubble.delete";
}

/* Sets the socket's send and receive timeouts to `s` seconds. */
static void set_timeouts(int fd, double s)
{
    struct timeval tv = {.tv_sec = (time_t)s,
                         .tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Says why the run stopped at a failed read or write: the relay's silence
 * past the deadline names the request it owes. */
static void report_io_failure(const struct control_opts *o, const char *method)
{
    if (errno == EAGAIN)
        fprintf(stderr, "prism-bench: no reply to %s within %g s\n", method, o->rpc_timeout_s);
    else
        fprintf(stderr, "prism-bench: control connection lost awaiting %s: %s\n", method,
                strerror(errno));
}

static size_t format_cycle(char *out, size_t cap, long n)
{
    size_t len = 0;
    long id = n * CYCLE_LEN;
#define EMIT(...) len += (size_t)snprintf(out + len, cap - len, __VA_ARGS__)
    EMIT("{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"bubble.create\",\"params\":"
         "{\"tenant\":\"bench\",\"bubble\":\"b%ld\"}}\n",
         id++, n);
    for (int p = 0; p < 4; p++)
        EMIT("{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"peer.join\",\"params\":"
             "{\"tenant\":\"bench\",\"bubble\":\"b%ld\",\"peer\":\"p%d\"}}\n",
             id++, n, p);
    for (int p = 0; p < 4; p++)
        EMIT("{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"peer.leave\",\"params\":"
             "{\"tenant\":\"bench\",\"bubble\":\"b%ld\",\"peer\":\"p%d\"}}\n",
             id++, n, p);
    EMIT("{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"bubble.delete\",\"params\":"
         "{\"tenant\":\"bench\",\"bubble\":\"b%ld\"}}\n",
         id, n);
#undef EMIT
    return len;
}

static pid_t spawn_relay(const char *prism, const char *dir, char *sock, size_t sock_len)
{
    snprintf(sock, sock_len, "%s/control.sock", dir);
    pid_t pid = fork();
    if (pid == 0) {
        prism_bench_proc_pin(0, 0);
        if (chdir(dir) != 0)
            _exit(127);
        const char *const args[] = {prism, "--control", sock, "--workers", "1", NULL};
        prism_bench_exec(prism, args);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        int fd = connect_unix(sock);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        usleep(25000);
    }
    kill(pid, SIGTERM);
    return -1;
}

void prism_bench_control_usage(FILE *out)
{
    fputs("Usage: prism-bench control [--control PATH | --spawn [--prism BIN]]\n"
          "                           [--cycles N] [--window N] [--json FILE]\n"
          "                           [--rpc-timeout-s S]\n"
          "Pipelined cycles of bubble.create, 4 x peer.join, 4 x peer.leave,\n"
          "bubble.delete; reports requests/s of wall time and of relay CPU.\n"
          "--rpc-timeout-s S: a relay that sends no reply for S s (default 10) fails\n"
          "the run (exit 1) with \"no reply to METHOD within S s\".\n",
          out);
}

static int usage(void)
{
    prism_bench_control_usage(stderr);
    return 2;
}

int prism_bench_control(int argc, char **argv)
{
    struct control_opts o = {.control = "./prism-control.sock",
                             .prism = "prism",
                             .cycles = 20000,
                             .window = 32,
                             .rpc_timeout_s = PRISM_BENCH_RPC_TIMEOUT_S};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--spawn") == 0) {
            o.spawn = true;
        } else if (v != NULL && strcmp(a, "--control") == 0) {
            o.control = v;
            i++;
        } else if (v != NULL && strcmp(a, "--prism") == 0) {
            o.prism = v;
            i++;
        } else if (v != NULL && strcmp(a, "--cycles") == 0 &&
                   (o.cycles = strtol(v, NULL, 10)) > 0) {
            i++;
        } else if (v != NULL && strcmp(a, "--window") == 0 &&
                   (o.window = (int)strtol(v, NULL, 10)) > 0) {
            i++;
        } else if (v != NULL && strcmp(a, "--rpc-timeout-s") == 0 &&
                   prism_bench_parse_num(v, 0.1, 3600, &o.rpc_timeout_s)) {
            i++;
        } else if (v != NULL && strcmp(a, "--json") == 0) {
            o.json_out = v;
            i++;
        } else {
            return usage();
        }
    }
    char sock[256];
    char dir[] = "/tmp/prism-bench-XXXXXX";
    pid_t relay = -1;
    if (o.spawn) {
        if (mkdtemp(dir) == NULL)
            return 1;
        relay = spawn_relay(o.prism, dir, sock, sizeof(sock));
        if (relay < 0) {
            fprintf(stderr, "prism-bench: could not start %s\n", o.prism);
            return 1;
        }
        if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
            prism_bench_proc_pin(0, 1);
        o.control = sock;
    }
    int fd = connect_unix(o.control);
    if (fd < 0) {
        fprintf(stderr, "prism-bench: cannot connect to %s\n", o.control);
        return 1;
    }
    set_timeouts(fd, o.rpc_timeout_s);
    pid_t pid = relay > 0 ? relay : prism_bench_peer_pid(fd);
    const char *setup = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"tenant.create\","
                        "\"params\":{\"tenant\":\"bench\",\"limits\":{\"max_bubbles\":0,"
                        "\"max_peers\":0}}}\n";
    long errors = 0, owed = 1;
    if (prism_bench_send_all(fd, setup, strlen(setup)) != 0 ||
        read_replies(fd, &owed, &errors) != 0) {
        report_io_failure(&o, "tenant.create");
        close(fd);
        if (relay > 0)
            prism_bench_relay_stop(relay);
        return 1;
    }
    errors = 0;

    char *batch = malloc((size_t)o.window * 2048);
    double cpu0 = prism_bench_proc_cpu_s(pid);
    double t0 = now_s();
    long sent = 0;
    int rc = 0;
    while (sent < o.cycles && rc == 0) {
        long n = o.cycles - sent < o.window ? o.cycles - sent : o.window;
        size_t len = 0;
        for (long c = 0; c < n; c++)
            len += format_cycle(batch + len, (size_t)o.window * 2048 - len, sent + c);
        owed = n * CYCLE_LEN;
        if (prism_bench_send_all(fd, batch, len) != 0 || read_replies(fd, &owed, &errors) != 0) {
            report_io_failure(&o, cycle_method((n * CYCLE_LEN - owed) % CYCLE_LEN));
            rc = 1;
        }
        sent += n;
    }
    double wall = now_s() - t0;
    double cpu = prism_bench_proc_cpu_s(pid) - cpu0;
    free(batch);
    close(fd);
    long requests = sent * CYCLE_LEN;
    printf("control cycle: %ld requests in %.3f s wall, relay CPU %.3f s, errors %ld\n", requests,
           wall, cpu, errors);
    printf("  %.0f requests/s (wall)   %.0f requests/s per relay CPU second\n",
           (double)requests / wall, cpu > 0 ? (double)requests / cpu : 0.0);
    if (o.json_out != NULL) {
        FILE *f = fopen(o.json_out, "w");
        if (f != NULL) {
            fprintf(f,
                    "{\"requests\":%ld,\"errors\":%ld,\"wall_s\":%.6f,\"relay_cpu_s\":%.6f,"
                    "\"requests_per_s\":%.1f,\"requests_per_cpu_s\":%.1f}\n",
                    requests, errors, wall, cpu, (double)requests / wall,
                    cpu > 0 ? (double)requests / cpu : 0.0);
            fclose(f);
        }
    }
    if (relay > 0) {
        kill(relay, SIGTERM);
        waitpid(relay, NULL, 0);
        char path[300];
        snprintf(path, sizeof(path), "%s/prism-audit.log", dir);
        unlink(path);
        rmdir(dir);
    }
    return rc != 0 || errors != 0 ? 1 : 0;
}
