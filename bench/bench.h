/* prism-bench: shared helpers of the load tester's subcommands. */
#ifndef PRISM_BENCH_BENCH_H
#define PRISM_BENCH_BENCH_H

#include <sys/types.h>

/* User+system CPU seconds of process `pid` (from /proc/<pid>/stat), or 0. */
double prism_bench_proc_cpu_s(pid_t pid);

/* The pid at the other end of a connected Unix socket (SO_PEERCRED), or -1. */
pid_t prism_bench_peer_pid(int fd);

/* Runs `prog` with `argv` in place of this (forked) process: a name without
 * '/' is looked up in PATH, a relative path is taken from the directory the
 * bench started in, whatever the child's working directory is now.
 * Returns only on failure. */
void prism_bench_exec(const char *prog, const char *const argv[]);

/* Remembers the starting directory; call first thing in main(). */
void prism_bench_remember_cwd(void);

/* Subcommands: argc/argv start at the subcommand name. Return an exit status. */
int prism_bench_control(int argc, char **argv);
int prism_bench_run(int argc, char **argv);

#endif
