/* prismctl drain (see prismctl_drain.h).
 *
 * The order matters: subscribe to events first, then relay.drain, then ask
 * how many bubbles are left. relay.drained fires once, when the last bubble
 * goes; subscribing before the drain means it cannot be missed, and the
 * bubble count answers for a relay that had already drained (no event
 * comes again). Polling the count once a second also shows progress.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "relay/base/error.h"
#include "signaling/prismctl_drain.h"

#define POLL_MS 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_event(json_t *ev, void *arg)
{
    bool *drained = arg;
    const char *method = json_string_value(json_object_get(ev, "method"));
    if (method != NULL && strcmp(method, "relay.drained") == 0)
        *drained = true;
}

static void print_json(FILE *out, const json_t *v, size_t flags)
{
    char *s = json_dumps(v, flags | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (s != NULL)
        fprintf(out, "%s\n", s);
    free(s);
}

/* Calls `method`; an error reply is printed and makes *status 1. */
static json_t *call(struct prism_ctl_conn *c, const char *method, bool *drained, int *status)
{
    json_t *reply;
    if (prism_ctl_conn_call(c, method, NULL, on_event, drained, &reply) != 0) {
        fprintf(stderr, "prismctl: the relay closed the connection\n");
        *status = 2;
        return NULL;
    }
    json_t *result = json_object_get(reply, "result");
    if (result == NULL) {
        print_json(stderr, json_object_get(reply, "error"), JSON_INDENT(2));
        *status = 1;
        json_decref(reply);
        return NULL;
    }
    json_incref(result);
    json_decref(reply);
    return result;
}

int prism_ctl_drain_run(const struct prism_ctl_target *target, bool wait, double deadline_s)
{
    struct prism_ctl_conn *c;
    if (prism_ctl_conn_open(target, &c) != 0)
        return 2;
    int status = 0;
    bool drained = false;
    double deadline = deadline_s > 0 ? now_s() + deadline_s : INFINITY;
    json_t *result = NULL;
    if (wait)
        json_decref(call(c, "events.subscribe", &drained, &status));
    if (status == 0)
        result = call(c, "relay.drain", &drained, &status);
    if (status == 0 && !wait)
        print_json(stdout, result, JSON_INDENT(2));
    json_decref(result);
    long long last_left = -1;
    while (status == 0 && wait && !drained) {
        json_t *stats = call(c, "stats.get", &drained, &status);
        json_t *bubbles = json_object_get(stats, "bubbles");
        json_t *peers = json_object_get(stats, "peers");
        long long left = json_is_integer(bubbles) ? json_integer_value(bubbles) : -1;
        if (left == 0)
            drained = true;
        else if (left > 0 && left != last_left)
            fprintf(stderr, "prismctl: draining: %lld bubbles, %lld peers left\n", left,
                    json_is_integer(peers) ? (long long)json_integer_value(peers) : -1LL);
        json_decref(stats);
        last_left = left;
        if (status != 0 || drained)
            break;
        double wait_s = deadline - now_s();
        if (wait_s <= 0) {
            fprintf(stderr, "prismctl: deadline passed with %lld bubbles left\n", left);
            status = PRISM_CTL_EXIT_DEADLINE;
            break;
        }
        /* Until the next look at the count, or relay.drained, whichever first. */
        double until = now_s() + (wait_s < POLL_MS / 1e3 ? wait_s : POLL_MS / 1e3);
        for (double t; !drained && (t = until - now_s()) > 0;) {
            json_t *msg;
            int rc = prism_ctl_conn_recv(c, (int)ceil(t * 1000), &msg);
            if (rc < 0) {
                fprintf(stderr, "prismctl: the relay closed the connection\n");
                status = 2;
                break;
            }
            if (rc == 1 && json_object_get(msg, "method") != NULL)
                on_event(msg, &drained);
            json_decref(msg);
        }
    }
    if (status == 0 && wait)
        fprintf(stderr, "prismctl: drained: the relay holds no bubble\n");
    prism_ctl_conn_close(c);
    return status;
}
