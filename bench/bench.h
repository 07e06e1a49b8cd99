/* prism-bench: the subcommands, as bench/main.c dispatches them.
 *
 * Each is implemented by its own file (control_bench.c, scenario.c,
 * idle.c) and used by main.c alone; the helpers they share live in their own modules
 * (bench/proc.h, bench/rpc.h, ...), never in main.c.
 */
#ifndef PRISM_BENCH_BENCH_H
#define PRISM_BENCH_BENCH_H

/* argc/argv start at the subcommand name. Each returns an exit status: 0,
 * 1 (failed), 2 (bad options; the usage was printed). */
int prism_bench_control(int argc, char **argv);
int prism_bench_run(int argc, char **argv);
int prism_bench_idle(int argc, char **argv);

#endif
