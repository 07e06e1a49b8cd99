/* prism-bench: the load tester's tool. Subcommands measure one aspect each. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"

double prism_bench_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the parenthesised command name: state is field 3, utime 14, stime 15. */
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

pid_t prism_bench_peer_pid(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : -1;
}

static char start_dir[4096];

void prism_bench_remember_cwd(void)
{
    if (getcwd(start_dir, sizeof(start_dir)) == NULL)
        start_dir[0] = '\0';
}

void prism_bench_exec(const char *prog, const char *const argv[])
{
    char path[sizeof(start_dir) + 256];
    if (strchr(prog, '/') != NULL && prog[0] != '/' && start_dir[0] != '\0') {
        snprintf(path, sizeof(path), "%s/%s", start_dir, prog);
        prog = path;
    }
    /* execvp() takes char *const[] for history's sake; it never writes. */
    execvp(prog, (char *const *)argv);
}

int main(int argc, char **argv)
{
    prism_bench_remember_cwd();
    if (argc >= 2 && strcmp(argv[1], "control") == 0)
        return prism_bench_control(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return prism_bench_run(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
        printf("prism-bench %s\n", PRISM_VERSION);
        return 0;
    }
    fputs("Usage: prism-bench control [OPTIONS]   control-plane requests/s\n"
          "       prism-bench run [OPTIONS]       bubbles of WebRTC endpoints (Opus, VP8)\n"
          "Each subcommand prints its options on a bad one (e.g. run --help).\n",
          argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
