/* prismctl: the operator's command-line client for the control socket.
 *
 *   prismctl [--control PATH] METHOD [PARAMS-JSON]
 *   prismctl [--control PATH] events [PARAMS-JSON]
 *
 * Sends one JSON-RPC request and prints its `result` as JSON on stdout (exit
 * 0), or its `error` object on stderr (exit 1). `events` subscribes (params
 * as for events.subscribe, e.g. {"since":0}) and prints each event as one
 * JSON line until interrupted. Exit 2 on usage or connection errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

static const char usage[] =
    "Usage: prismctl [--control PATH] METHOD [PARAMS-JSON]\n"
    "       prismctl [--control PATH] events [PARAMS-JSON]\n"
    "Sends one control request to a Prism relay and prints the result.\n"
    "  --control PATH   the relay's Unix control socket (default ./prism-control.sock,\n"
    "                   or $PRISM_CONTROL)\n"
    "Examples:\n"
    "  prismctl relay.info\n"
    "  prismctl tenant.create '{\"tenant\":\"acme\"}'\n"
    "  prismctl events '{\"since\":0}'\n";

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sun.sun_path)) {
        fprintf(stderr, "prismctl: socket path too long\n");
        return -1;
    }
    memcpy(sun.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr, "prismctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one '\n'-terminated line into a growing buffer; returns NULL at EOF. */
static char *read_line(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, in);
    if (n <= 0) {
        free(line);
        return NULL;
    }
    return line;
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

int main(int argc, char **argv)
{
    const char *control = getenv("PRISM_CONTROL");
    if (control == NULL || *control == '\0')
        control = "./prism-control.sock";
    static const struct option options[] = {
        {"control", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (int opt; (opt = getopt_long(argc, argv, "+h", options, NULL)) != -1;) {
        if (opt == 'C') {
            control = optarg;
        } else if (opt == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *method = argv[optind];
    bool events = strcmp(method, "events") == 0;
    json_t *params = NULL;
    if (optind + 1 < argc) {
        json_error_t jerr;
        params = json_loads(argv[optind + 1], 0, &jerr);
        if (params == NULL || !json_is_object(params)) {
            fprintf(stderr, "prismctl: PARAMS-JSON must be a JSON object (%s)\n",
                    params == NULL ? jerr.text : "not an object");
            json_decref(params);
            return 2;
        }
    }
    json_t *req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1, "method",
                            events ? "events.subscribe" : method);
    if (params != NULL)
        json_object_set_new(req, "params", params);
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);

    int fd = connect_unix(control);
    if (fd < 0) {
        free(line);
        return 2;
    }
    int rc = write_all(fd, line, strlen(line)) == 0 && write_all(fd, "\n", 1) == 0 ? 0 : 2;
    free(line);
    FILE *in = fdopen(fd, "r");
    if (rc != 0 || in == NULL) {
        fprintf(stderr, "prismctl: cannot send the request\n");
        close(fd);
        return 2;
    }
    rc = 2;
    for (char *reply; (reply = read_line(in)) != NULL;) {
        json_t *msg = json_loads(reply, 0, NULL);
        free(reply);
        if (msg == NULL)
            continue;
        json_t *error = json_object_get(msg, "error");
        json_t *result = json_object_get(msg, "result");
        if (json_object_get(msg, "method") != NULL) {
            print_json(stdout, msg, JSON_COMPACT);
            fflush(stdout);
        } else if (error != NULL) {
            print_json(stderr, error, JSON_INDENT(2));
            rc = 1;
        } else if (result != NULL && !events) {
            print_json(stdout, result, JSON_INDENT(2));
            rc = 0;
        }
        json_decref(msg);
        if (rc == 1 || (rc == 0 && !events))
            break;
    }
    if (rc == 2)
        fprintf(stderr, "prismctl: the relay closed the connection\n");
    fclose(in);
    return rc;
}
