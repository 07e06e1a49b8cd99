/* prism: the relay daemon's entry point.
 *
 * Builds the configuration (built-in defaults, then --config FILE, then the
 * other command-line options, which win) and hands it to the control plane.
 * This is the one file that sees both relay/ and signaling/.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/config.h"
#include "relay/base/error.h"
#include "relay/base/log.h"
#include "signaling/control.h"

static const char usage[] =
    "Usage: prism [OPTION]...\n"
    "Prism, a multi-tenant WebRTC media relay (SFU) driven over a control socket.\n"
    "With no options it runs on built-in defaults (see docs/configuration.md).\n"
    "\n"
    "  -c, --config FILE         read settings from FILE (INI-style key file)\n"
    "      --control PATH        Unix control socket (default ./prism-control.sock)\n"
    "      --workers N           media worker threads (default: one per core)\n"
    "      --media-ports LO-HI   UDP port range for media (default 40000-49999)\n"
    "      --advertise-ip ADDR   address put in ICE candidates (1:1 NAT)\n"
    "      --media-ip ADDR       local address to gather candidates on (repeatable;\n"
    "                            default: every non-loopback interface)\n"
    "  -h, --help                show this help and exit\n"
    "  -V, --version             show the version and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads TLS material and log settings.\n";

enum { OPT_CONTROL = 256, OPT_WORKERS, OPT_PORTS, OPT_ADVERTISE, OPT_MEDIA_IP };

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"media-ports", required_argument, NULL, OPT_PORTS},
    {"advertise-ip", required_argument, NULL, OPT_ADVERTISE},
    {"media-ip", required_argument, NULL, OPT_MEDIA_IP},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int fail(const char *what, const char *value)
{
    fprintf(stderr, "prism: %s: %s\n", what, value);
    return 2;
}

/* Applies the options other than --config over `cfg`. Returns 0, or an exit
 * status (2 for bad usage). */
static int apply_options(struct prism_config *cfg, int argc, char **argv)
{
    bool media_ip_seen = false;
    optind = 1;
    for (int opt; (opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1;) {
        char *end = NULL;
        long n;
        switch (opt) {
        case 'c': break;
        case OPT_CONTROL:
            if (prism_config_set_str(cfg->control_path, sizeof(cfg->control_path), optarg) != 0)
                return fail("--control: path too long", optarg);
            break;
        case OPT_WORKERS:
            n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || n < 1 || n > 256)
                return fail("--workers must be 1-256", optarg);
            cfg->workers = (unsigned)n;
            break;
        case OPT_PORTS:
            if (prism_config_parse_ports(optarg, &cfg->port_min, &cfg->port_max) != 0)
                return fail("--media-ports must be LO-HI", optarg);
            break;
        case OPT_ADVERTISE:
            if (prism_config_set_str(cfg->advertise_ip, sizeof(cfg->advertise_ip), optarg) != 0)
                return fail("--advertise-ip: too long", optarg);
            break;
        case OPT_MEDIA_IP:
            if (!media_ip_seen)
                cfg->n_media_ips = 0; /* the command line replaces the file's list */
            media_ip_seen = true;
            if (cfg->n_media_ips == PRISM_CONFIG_MAX_MEDIA_IPS ||
                prism_config_set_str(cfg->media_ips[cfg->n_media_ips++], 64, optarg) != 0)
                return fail("--media-ip: too many or too long", optarg);
            break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc)
        return fail("unexpected argument", argv[optind]);
    return 0;
}

/* Blocks of 64 KiB and more come from their own mappings, never from the
 * heap: libnice gives every ICE component two 64 KiB buffers it touches a
 * page of, and SDP parsing takes large short-lived blocks. Mapped, their
 * untouched pages cost no memory and freeing returns them to the system;
 * from the heap they made an idle peer ~90 KiB heavier and its memory stayed
 * after it left (docs/performance.md, "Idle peers"). Fixing the threshold
 * also stops glibc from raising it as such blocks are freed. */
#define MMAP_THRESHOLD_BYTES (64 * 1024)

int main(int argc, char **argv)
{
    static struct prism_config cfg; /* large; lives for the whole run */
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    prism_config_defaults(&cfg);
    const char *config_file = NULL;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1;) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (opt == 'V') {
            printf("prism %s\n", PRISM_VERSION);
            return 0;
        }
        if (opt == 'c')
            config_file = optarg;
        if (opt == '?') {
            fprintf(stderr, "prism: unknown or incomplete option %s\n", argv[optind - 1]);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (config_file != NULL) {
        char err[512];
        if (prism_config_load(&cfg, config_file, err, sizeof(err)) != 0)
            return fail("configuration", err);
    }
    int rc = apply_options(&cfg, argc, argv);
    if (rc != 0)
        return rc;
    if (prism_log_open(cfg.log_path, cfg.log_level) != 0)
        return fail("cannot open log file", cfg.log_path);
    rc = prism_control_run(&cfg);
    prism_log_close();
    return rc;
}
