/* prismctl: the operator's command-line client for the control socket.
 *
 *   prismctl [OPTION]... METHOD [PARAMS-JSON]
 *   prismctl [OPTION]... events [PARAMS-JSON]
 *   prismctl [OPTION]... top [TOP-OPTION]...
 *   prismctl [OPTION]... drain [--wait [--deadline S]]
 *   prismctl --list-methods
 *
 * METHOD sends one JSON-RPC request and prints its `result` as JSON on
 * stdout (exit 0; with --table as aligned columns), or its `error` object on
 * stderr (exit 1). `events` subscribes (params as for events.subscribe, e.g.
 * {"since":0}) and prints each event as one JSON line until interrupted.
 * `top` and `drain` are in prismctl_top.c and prismctl_drain.c; the
 * connection (Unix socket or mutual TLS) in prismctl_conn.c. Exit 2 on usage
 * or connection errors; 3 when `drain --wait` reaches its deadline.
 *
 * This file owns the command line: options, the choice of command, and the
 * plain METHOD and `events` commands.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relay/base/ids.h"
#include "signaling/method_list.h"
#include "signaling/prismctl_conn.h"
#include "signaling/prismctl_drain.h"
#include "signaling/prismctl_table.h"
#include "signaling/prismctl_top.h"

static const char usage[] =
    "Usage: prismctl [OPTION]... METHOD [PARAMS-JSON]\n"
    "       prismctl [OPTION]... events [PARAMS-JSON]\n"
    "       prismctl [OPTION]... top [--interval S] [--once | --iterations N]\n"
    "                [--tenant T]... [--bubble T/B]... [--plain]\n"
    "       prismctl [OPTION]... drain [--wait [--deadline S]]\n"
    "       prismctl --list-methods\n"
    "Sends control requests to a Prism relay and prints the results.\n"
    "  --control PATH      the relay's Unix control socket (default ./prism-control.sock,\n"
    "                      or $PRISM_CONTROL)\n"
    "  --connect HOST:PORT the relay's mutual-TLS control listener instead\n"
    "                      (control.tls_listen; [IPV6]:PORT), with:\n"
    "  --cert FILE         this client's certificate (PEM)\n"
    "  --key FILE          its private key (PEM)\n"
    "  --ca FILE           the CA that signed the relay's certificate (PEM)\n"
    "  --table             print a METHOD's result as aligned columns, not JSON\n"
    "  --list-methods      print the protocol's method names, one per line\n"
    "  --help              show this help (also after top or drain)\n"
    "Commands:\n"
    "  METHOD              one request (see --list-methods); result on stdout, exit 0;\n"
    "                      error on stderr, exit 1\n"
    "  events              print events, one JSON line each, until interrupted\n"
    "  top                 live view of workers, tenants and bubbles (plain snapshots\n"
    "                      when stdout is not a terminal; q or Ctrl-C quits)\n"
    "    --interval S      seconds between refreshes (default 1)\n"
    "    --once            print one snapshot (rates over one interval) and exit\n"
    "    --iterations N    print N snapshots and exit\n"
    "    --tenant T        always show tenant T\n"
    "    --bubble T/B      always show bubble B of tenant T (others appear once\n"
    "                      they have media events)\n"
    "    --plain           plain snapshots even on a terminal\n"
    "  drain               stop new bubbles (relay.drain); calls go on\n"
    "    --wait            then wait until the relay holds no bubble (exit 0)\n"
    "    --deadline S      give up waiting after S seconds (exit 3)\n"
    "Exit status: 0 success, 1 error reply, 2 usage or connection error,\n"
    "3 drain deadline passed.\n"
    "Examples:\n"
    "  prismctl relay.info\n"
    "  prismctl tenant.create '{\"tenant\":\"acme\"}'\n"
    "  prismctl --table bubble.info '{\"tenant\":\"acme\",\"bubble\":\"standup\"}'\n"
    "  prismctl events '{\"since\":0}'\n"
    "  prismctl --connect relay1:7443 --cert op.pem --key op.key --ca ca.pem top\n"
    "  prismctl drain --wait --deadline 600\n";

enum {
    OPT_CONTROL = 256,
    OPT_CONNECT,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
    OPT_TABLE,
    OPT_LIST_METHODS,
    OPT_INTERVAL,
    OPT_ONCE,
    OPT_ITERATIONS,
    OPT_TENANT,
    OPT_BUBBLE,
    OPT_PLAIN,
    OPT_WAIT,
    OPT_DEADLINE,
};

/* Where the relay is: accepted before any command and after `top` and
 * `drain`. */
/* clang-format off */
#define CONNECTION_OPTIONS                                  \
    {"control", required_argument, NULL, OPT_CONTROL},      \
    {"connect", required_argument, NULL, OPT_CONNECT},      \
    {"cert", required_argument, NULL, OPT_CERT},            \
    {"key", required_argument, NULL, OPT_KEY},              \
    {"ca", required_argument, NULL, OPT_CA}
/* clang-format on */

static const struct option global_options[] = {
    CONNECTION_OPTIONS,
    {"table", no_argument, NULL, OPT_TABLE},
    {"list-methods", no_argument, NULL, OPT_LIST_METHODS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const struct option top_options[] = {
    CONNECTION_OPTIONS,
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"once", no_argument, NULL, OPT_ONCE},
    {"iterations", required_argument, NULL, OPT_ITERATIONS},
    {"tenant", required_argument, NULL, OPT_TENANT},
    {"bubble", required_argument, NULL, OPT_BUBBLE},
    {"plain", no_argument, NULL, OPT_PLAIN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const struct option drain_options[] = {
    CONNECTION_OPTIONS,
    {"wait", no_argument, NULL, OPT_WAIT},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct cmdline {
    struct prism_ctl_target target;
    bool control_given;                    /* --control was on the command line */
    bool table;                            /* --table */
    bool list_methods;                     /* --list-methods */
    bool help;                             /* --help */
    struct prism_ctl_top_options top;      /* top's options */
    bool once;                             /* --once */
    bool wait;                             /* drain --wait */
    double deadline_s;                     /* drain --deadline; 0: none */
    const char *tenants[64], *bubbles[64]; /* top --tenant, --bubble */
};

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("prismctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(usage, stderr);
    return 2;
}

/* A number of seconds > 0 (and below a day, to keep ms in an int). */
static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

/* TENANT, or TENANT/BUBBLE when `pair`: ids as the relay accepts them. */
static bool valid_name(const char *s, bool pair)
{
    const char *slash = strchr(s, '/');
    if (pair != (slash != NULL))
        return false;
    if (!pair)
        return prism_id_valid(s, strlen(s));
    return prism_id_valid(s, (size_t)(slash - s)) && prism_id_valid(slash + 1, strlen(slash + 1));
}

/* Parses options from argv[optind] on until the first non-option. Returns
 * 0 or an exit status. */
static int parse(struct cmdline *cl, int argc, char **argv, const struct option *table)
{
    for (int opt; (opt = getopt_long(argc, argv, "+h", table, NULL)) != -1;) {
        char *end = NULL;
        long n;
        switch (opt) {
        case OPT_CONTROL:
            cl->target.control = optarg;
            cl->control_given = true;
            break;
        case OPT_CONNECT: cl->target.connect = optarg; break;
        case OPT_CERT: cl->target.cert = optarg; break;
        case OPT_KEY: cl->target.key = optarg; break;
        case OPT_CA: cl->target.ca = optarg; break;
        case OPT_TABLE: cl->table = true; break;
        case OPT_LIST_METHODS: cl->list_methods = true; break;
        case 'h': cl->help = true; break;
        case OPT_INTERVAL:
            if (!parse_seconds(optarg, &cl->top.interval_s))
                return bad_usage("--interval wants seconds > 0, not %s", optarg);
            break;
        case OPT_ONCE: cl->once = true; break;
        case OPT_ITERATIONS:
            n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || n < 1)
                return bad_usage("--iterations wants a count >= 1, not %s", optarg);
            cl->top.iterations = n;
            break;
        case OPT_TENANT:
            if (!valid_name(optarg, false) || cl->top.n_tenants == 64)
                return bad_usage("--tenant wants a tenant id (at most 64 of them): %s", optarg);
            cl->tenants[cl->top.n_tenants++] = optarg;
            break;
        case OPT_BUBBLE:
            if (!valid_name(optarg, true) || cl->top.n_bubbles == 64)
                return bad_usage("--bubble wants TENANT/BUBBLE (at most 64 of them): %s", optarg);
            cl->bubbles[cl->top.n_bubbles++] = optarg;
            break;
        case OPT_PLAIN: cl->top.force_plain = true; break;
        case OPT_WAIT: cl->wait = true; break;
        case OPT_DEADLINE:
            if (!parse_seconds(optarg, &cl->deadline_s))
                return bad_usage("--deadline wants seconds > 0, not %s", optarg);
            break;
        default: fputs(usage, stderr); return 2;
        }
    }
    return 0;
}

static void print_json(FILE *out, json_t *v, size_t flags)
{
    char *s = json_dumps(v, flags | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (s != NULL) {
        fputs(s, out);
        fputc('\n', out);
        free(s);
    }
}

/* METHOD or events: one request, then its result, or events until the end. */
static int run_method(const struct cmdline *cl, const char *method, const char *params_json)
{
    bool events = strcmp(method, "events") == 0;
    json_t *params = NULL;
    if (params_json != NULL) {
        json_error_t jerr;
        params = json_loads(params_json, 0, &jerr);
        if (params == NULL || !json_is_object(params)) {
            fprintf(stderr, "prismctl: PARAMS-JSON must be a JSON object (%s)\n",
                    params == NULL ? jerr.text : "not an object");
            json_decref(params);
            return 2;
        }
    }
    struct prism_ctl_conn *c;
    if (prism_ctl_conn_open(&cl->target, &c) != 0) {
        json_decref(params);
        return 2;
    }
    /* rc stays 2 (connection error) until a result or an error arrives. */
    int rc =
        prism_ctl_conn_request(c, 1, events ? "events.subscribe" : method, params) == 0 ? 2 : -1;
    json_decref(params);
    for (json_t *msg; rc == 2 && prism_ctl_conn_recv(c, -1, &msg) == 1;) {
        json_t *error = json_object_get(msg, "error");
        json_t *result = json_object_get(msg, "result");
        if (json_object_get(msg, "method") != NULL) {
            print_json(stdout, msg, JSON_COMPACT);
            fflush(stdout);
        } else if (error != NULL) {
            print_json(stderr, error, JSON_INDENT(2));
            rc = 1;
        } else if (result != NULL && !events) {
            if (!cl->table)
                print_json(stdout, result, JSON_INDENT(2));
            else if (prism_ctl_table_print(stdout, result) != 0)
                fprintf(stderr, "prismctl: out of memory\n");
            rc = 0;
        }
        json_decref(msg);
    }
    if (rc == 2)
        fprintf(stderr, "prismctl: the relay closed the connection\n");
    prism_ctl_conn_close(c);
    return rc < 0 ? 2 : rc;
}

static void list_methods(void)
{
#define METHOD_NAME(name, handler) name "\n"
    fputs(PRISM_METHOD_LIST(METHOD_NAME), stdout);
#undef METHOD_NAME
}

int main(int argc, char **argv)
{
    static struct cmdline cl; /* zeroed */
    cl.target.control = getenv("PRISM_CONTROL");
    if (cl.target.control == NULL || *cl.target.control == '\0')
        cl.target.control = "./prism-control.sock";
    cl.top.interval_s = 1;
    cl.top.tenants = cl.tenants;
    cl.top.bubbles = cl.bubbles;
    int rc = parse(&cl, argc, argv, global_options);
    if (rc != 0)
        return rc;
    if (cl.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (cl.list_methods) {
        list_methods();
        return 0;
    }
    if (optind >= argc)
        return bad_usage("%s", "a METHOD or command is needed");
    const char *command = argv[optind++];
    bool top = strcmp(command, "top") == 0, drain = strcmp(command, "drain") == 0;
    if (top || drain) {
        rc = parse(&cl, argc, argv, top ? top_options : drain_options);
        if (rc != 0)
            return rc;
        if (cl.help) {
            fputs(usage, stdout);
            return 0;
        }
        if (optind < argc)
            return bad_usage("unexpected argument: %s", argv[optind]);
    } else if (argc - optind > 1) {
        return bad_usage("unexpected argument: %s", argv[optind + 1]);
    }
    if (cl.target.connect != NULL && cl.control_given)
        return bad_usage("%s", "--control and --connect exclude each other");
    if (cl.target.connect == NULL && (cl.target.cert || cl.target.key || cl.target.ca))
        return bad_usage("%s", "--cert, --key and --ca go with --connect");
    if (cl.target.connect != NULL && !(cl.target.cert && cl.target.key && cl.target.ca))
        return bad_usage("%s", "--connect needs --cert, --key and --ca");
    if (cl.table && (top || drain || strcmp(command, "events") == 0))
        return bad_usage("--table applies to a METHOD's result, not to %s", command);
    if (top) {
        if (cl.once)
            cl.top.iterations = 1;
        return prism_ctl_top_run(&cl.target, &cl.top);
    }
    if (drain) {
        if (cl.deadline_s > 0 && !cl.wait)
            return bad_usage("%s", "--deadline goes with --wait");
        return prism_ctl_drain_run(&cl.target, cl.wait, cl.deadline_s);
    }
    return run_method(&cl, command, optind < argc ? argv[optind] : NULL);
}
