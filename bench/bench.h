/* prism-bench: shared helpers of the load tester's subcommands. */
#ifndef PRISM_BENCH_BENCH_H
#define PRISM_BENCH_BENCH_H

#include <sys/types.h>

/* User+system CPU seconds of process `pid` (from /proc/<pid>/stat), or 0. */
double prism_bench_proc_cpu_s(pid_t pid);

/* The pid at the other end of a connected Unix socket (SO_PEERCRED), or -1. */
pid_t prism_bench_peer_pid(int fd);

/* Subcommands: argc/argv start at the subcommand name. Return an exit status. */
int prism_bench_control(int argc, char **argv);
int prism_bench_run(int argc, char **argv);

#endif
