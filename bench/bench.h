/* prism-bench: the subcommands, as bench/main.c dispatches them.
 *
 * Each is implemented by its own file (control_bench.c, scenario.c,
 * idle.c) and used by main.c alone; the helpers they share live in their own modules
 * (bench/proc.h, bench/rpc.h, ...), never in main.c.
 */
#ifndef PRISM_BENCH_BENCH_H
#define PRISM_BENCH_BENCH_H

#include <stdio.h>

/* argc/argv start at the subcommand name. Each returns an exit status: 0,
 * 1 (failed), 2 (bad options; the usage was printed). */
int prism_bench_control(int argc, char **argv);
int prism_bench_run(int argc, char **argv);
int prism_bench_idle(int argc, char **argv);

/* Each subcommand's usage text (every option it takes) on `out`: stderr
 * after a bad option, stdout for --help (bench/main.c). The run
 * subcommand's is prism_bench_run_usage (bench/run_options.h). */
void prism_bench_control_usage(FILE *out);
void prism_bench_idle_usage(FILE *out);

#endif
