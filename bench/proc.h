/* prism-bench: the processes a subcommand watches and starts.
 *
 * Owns nothing long-lived but the directory the bench started in (so a
 * relative --prism still resolves after a child's chdir). Three jobs:
 * - sampling another process from /proc: user+system CPU (/proc/PID/stat),
 *   resident memory (VmRSS of /proc/PID/status), open descriptors (entries
 *   of /proc/PID/fd) and their limit (/proc/PID/limits);
 * - pinning a process to one CPU, finding the pid behind a Unix socket;
 * - starting the relay under test in a private directory (its control
 *   socket, its log and audit log there), waiting until the socket exists,
 *   and stopping it with SIGTERM (SIGKILL after 10 s).
 *
 * Thread: the bench's main thread. Every call is a few syscalls and blocks
 * at most for the waits it documents; none is meant for a hot path.
 */
#ifndef PRISM_BENCH_PROC_H
#define PRISM_BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Remembers the starting directory; call first thing in main(). */
void prism_bench_remember_cwd(void);

/* Runs `prog` with `argv` in place of this (forked) process: a name without
 * '/' is looked up in PATH, a relative path is taken from the directory the
 * bench started in, whatever the child's working directory is now.
 * Returns only on failure. */
void prism_bench_exec(const char *prog, const char *const argv[]);

/* User+system CPU seconds of process `pid` (from /proc/<pid>/stat), or 0. */
double prism_bench_proc_cpu_s(pid_t pid);

/* Resident set of process `pid` in KiB (VmRSS of /proc/<pid>/status), or 0. */
long prism_bench_proc_rss_kib(pid_t pid);

/* Open file descriptors of process `pid` (entries of /proc/<pid>/fd), or -1
 * when the directory cannot be read. O(descriptors). */
long prism_bench_proc_fds(pid_t pid);

/* The soft limit on open descriptors of process `pid` ("Max open files" in
 * /proc/<pid>/limits), or -1 when unknown or unlimited. */
long prism_bench_proc_nofile(pid_t pid);

/* Pins `pid` (0: the caller) to CPU `cpu`; failures are ignored (a figure
 * taken unpinned is noisier, not wrong). */
void prism_bench_proc_pin(pid_t pid, int cpu);

/* Lets `pid` (0: the calling thread, and the threads it creates later) run
 * on every online CPU but `cpu`; failures are ignored as above. */
void prism_bench_proc_pin_others(pid_t pid, int cpu);

/* The pid at the other end of a connected Unix socket (SO_PEERCRED), or -1. */
pid_t prism_bench_peer_pid(int fd);

/* How to start the relay under test (prism_bench_relay_spawn). */
struct prism_bench_relay_spawn {
    const char *prism;             /* the binary (see prism_bench_exec) */
    const char *const *args;       /* more arguments after --control PATH; NULL-terminated */
    int cpu;                       /* pin the relay to this CPU; -1: not pinned */
    bool raise_nofile;             /* soft RLIMIT_NOFILE up to the hard limit first */
    unsigned long long nofile_min; /* with raise_nofile: try to lift the hard limit
                                      this far too (needs CAP_SYS_RESOURCE); 0: no */
};

/* Starts the relay in `dir` (an existing, private directory) with
 * `--control DIR/control.sock` followed by spawn->args, its stdout and
 * stderr in DIR/prism.out. Writes the socket path to `sock` (`sock_len`
 * bytes) and waits up to 10 s for the socket to appear. Returns the pid, or
 * -1 when the relay exited or never made its socket (it is then stopped). */
pid_t prism_bench_relay_spawn(const struct prism_bench_relay_spawn *spawn, const char *dir,
                              char *sock, size_t sock_len);

/* Stops a spawned relay: SIGTERM, then SIGKILL after 10 s. Returns its exit
 * status (128 + signal when killed by one; 137 when it had to be killed). */
int prism_bench_relay_stop(pid_t pid);

/* Copies the last `max_bytes` of a spawned relay's log (`dir`/prism.out)
 * to `to`, from a line start: where a crash or a sanitizer report is, before
 * prism_bench_relay_dir_remove() deletes it. */
void prism_bench_relay_log_tail(const char *dir, FILE *to, long max_bytes);

/* Removes a spawned relay's directory and the files it leaves there
 * (control.sock, prism-audit.log, prism.out). */
void prism_bench_relay_dir_remove(const char *dir);

/* Sends all `n` bytes at `p` on the stream socket `fd` (retrying short
 * writes and EINTR; never raises SIGPIPE). Returns 0, or -1 when the
 * socket failed or closed. */
int prism_bench_send_all(int fd, const char *p, size_t n);

#endif
