/* prism-bench: processes, sampled from /proc and started (see proc.h). */
#include "bench/proc.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* --- sampling ----------------------------------------------------------------------- */

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

long prism_bench_proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

long prism_bench_proc_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

long prism_bench_proc_nofile(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    long soft = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "Max open files", 14) == 0) {
            char *end;
            long v = strtol(line + 14, &end, 10);
            soft = end != line + 14 && v > 0 ? v : -1; /* "unlimited" does not parse */
            break;
        }
    fclose(f);
    return soft;
}

void prism_bench_proc_pin(pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof(set), &set);
}

void prism_bench_proc_pin_others(pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++)
        if (i != cpu)
            CPU_SET((int)i, &set);
    if (CPU_COUNT(&set) > 0)
        sched_setaffinity(pid, sizeof(set), &set);
}

pid_t prism_bench_peer_pid(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : -1;
}

/* --- the relay under test -------------------------------------------------------------- */

/* In the child, before exec: the soft descriptor limit up to the hard one,
 * after trying to lift the hard one to `want` (allowed only with
 * CAP_SYS_RESOURCE; otherwise the hard limit stays what it was). */
static void raise_nofile(unsigned long long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (want > 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit up = {.rlim_cur = want, .rlim_max = want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

pid_t prism_bench_relay_spawn(const struct prism_bench_relay_spawn *spawn, const char *dir,
                              char *sock, size_t sock_len)
{
    snprintf(sock, sock_len, "%s/control.sock", dir);
    char log[300];
    snprintf(log, sizeof(log), "%s/prism.out", dir);
    const char *argv[32] = {spawn->prism, "--control", sock};
    size_t n = 3;
    for (size_t i = 0; spawn->args != NULL && spawn->args[i] != NULL; i++)
        if (n < sizeof(argv) / sizeof(argv[0]) - 1)
            argv[n++] = spawn->args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        if (spawn->cpu >= 0)
            prism_bench_proc_pin(0, spawn->cpu);
        if (spawn->raise_nofile)
            raise_nofile(spawn->nofile_min);
        if (chdir(dir) != 0)
            _exit(127);
        FILE *f = freopen(log, "w", stdout);
        if (f != NULL)
            dup2(fileno(stdout), 2);
        prism_bench_exec(spawn->prism, argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    for (int i = 0; i < 400; i++) {
        struct stat st;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return -1;
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
            usleep(20000);
            return pid;
        }
        usleep(25000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

int prism_bench_relay_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(25000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 137;
}

void prism_bench_relay_log_tail(const char *dir, FILE *to, long max_bytes)
{
    char path[300], buf[4096];
    snprintf(path, sizeof(path), "%s/prism.out", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
    bool mid_line = size > max_bytes;
    fseek(f, mid_line ? size - max_bytes : 0, SEEK_SET);
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        const char *p = buf;
        if (mid_line) { /* the cut line is dropped */
            p = memchr(buf, '\n', n);
            if (p == NULL)
                continue;
            p++;
            mid_line = false;
        }
        fwrite(p, 1, n - (size_t)(p - buf), to);
    }
    fclose(f);
}

void prism_bench_relay_dir_remove(const char *dir)
{
    static const char *const files[] = {"control.sock", "prism-audit.log", "prism.out"};
    char path[300];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int prism_bench_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
