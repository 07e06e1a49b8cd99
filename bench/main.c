/* prism-bench: the load tester's tool. Subcommands measure one aspect each
 * (bench/bench.h); this file only dispatches. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/proc.h"

int main(int argc, char **argv)
{
    prism_bench_remember_cwd();
    if (argc >= 2 && strcmp(argv[1], "control") == 0)
        return prism_bench_control(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return prism_bench_run(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "idle") == 0)
        return prism_bench_idle(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
        printf("prism-bench %s\n", PRISM_VERSION);
        return 0;
    }
    fputs("Usage: prism-bench control [OPTIONS]   control-plane requests/s\n"
          "       prism-bench run [OPTIONS]       bubbles of WebRTC endpoints (Opus, VP8)\n"
          "       prism-bench idle [OPTIONS]      relay RSS and fds per idle publishing peer\n"
          "Each subcommand prints its options on a bad one (e.g. run --help).\n",
          argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
