/* prism-bench: the load tester's tool. Subcommands measure one aspect each
 * (bench/bench.h); this file only dispatches, and answers --help (every
 * subcommand's options, which man/prism-bench.1.scd documents) and --version. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/proc.h"
#include "bench/run_options.h"

struct subcommand {
    const char *name;
    int (*main)(int argc, char **argv);
    void (*usage)(FILE *out);
};

static const struct subcommand subcommands[] = {
    {"control", prism_bench_control, prism_bench_control_usage},
    {"run", prism_bench_run, prism_bench_run_usage},
    {"idle", prism_bench_idle, prism_bench_idle_usage},
};

static bool asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    prism_bench_remember_cwd();
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        const struct subcommand *s = &subcommands[i];
        if (argc < 2 || strcmp(argv[1], s->name) != 0)
            continue;
        if (asks_help(argc - 1, argv + 1)) {
            s->usage(stdout);
            return 0;
        }
        return s->main(argc - 1, argv + 1);
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("prism-bench %s\n", PRISM_VERSION);
        return 0;
    }
    bool help = argc == 2 && strcmp(argv[1], "--help") == 0;
    FILE *out = help ? stdout : stderr;
    fputs("Usage: prism-bench control [OPTIONS]   control-plane requests/s\n"
          "       prism-bench run [OPTIONS]       bubbles of WebRTC endpoints (Opus, VP8)\n"
          "       prism-bench idle [OPTIONS]      relay RSS and fds per idle publishing peer\n"
          "       prism-bench --help | --version\n"
          "prism-bench SUBCOMMAND --help prints that subcommand's options alone.\n",
          out);
    if (!help)
        return 2;
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        fputc('\n', out);
        subcommands[i].usage(out);
    }
    return 0;
}
