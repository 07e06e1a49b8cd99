/* `prismctl top`: a live view of a relay's workers, tenants and bubbles.
 *
 * Two halves. prismctl_top_view.c is pure: it turns two snapshots (JSON
 * values built from stats.get, relay.info and events) into one text frame,
 * with rates from the difference of counters. prismctl_top.c does the I/O:
 * it polls the relay, follows events to learn bubbles and speakers, and
 * paints frames on a terminal (ANSI escapes) or prints plain snapshots.
 *
 * A snapshot is an object (every member optional):
 *   "t":       monotonic seconds when it was taken (rates: delta / delta t)
 *   "clock":   wall-clock time to show ("03:21:05")
 *   "info":    the relay.info result
 *   "stats":   the relay-wide stats.get result (absent for a limited client)
 *   "tenants": {"TENANT": the stats.get {tenant} result, ...}
 *   "bubbles": {"TENANT/BUBBLE": {"stats": stats.get {tenant,bubble} result,
 *                                 "speaker": "PEER" (from bubble.speaker)}}
 * The relay updates its counters once a second: a refresh interval near
 * 1 s now and then sees no update or two, and its rates read 0 or double.
 * Loss is what the counters offer: the share of packets sent to subscribers
 * that their NACKs asked for again (rtx.nacked / packets_out, over the
 * interval). Only video with NACK reports loss this way; audio loss is not
 * visible to the relay.
 */
#ifndef PRISM_SIGNALING_PRISMCTL_TOP_H
#define PRISM_SIGNALING_PRISMCTL_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "signaling/prismctl_conn.h"

/* The per-second rate of the counter at `path` (dotted: "rtx.nacked";
 * "drops" sums every member of the drops object) between two stats.get
 * results dt_s seconds apart. NAN when either lacks it, dt_s <= 0, or the
 * counter went backwards (a restarted relay). */
double prism_ctl_top_rate(const json_t *prev, const json_t *cur, const char *path, double dt_s);

/* Loss in percent over the interval: delta rtx.nacked / delta packets_out
 * x 100. NAN when nothing was sent or a counter is missing. */
double prism_ctl_top_loss_pct(const json_t *prev, const json_t *cur);

/* Writes `v` as top shows a rate into buf: "-" for NAN or a negative value,
 * "0", "2.5", "740", "12.3k", "4.1M", "1.0G". */
void prism_ctl_top_fmt_rate(char *buf, size_t cap, double v);

/* Prints one frame for snapshot `cur` (rates against `prev`, which may be
 * NULL: rates show "-"). Lines are cut at `width` bytes and the frame at
 * `height` lines (0: no limit). Bubbles are listed busiest first (packets
 * out per second, then name). Returns 0 or PRISM_ENOMEM. */
int prism_ctl_top_render(FILE *out, const json_t *prev, const json_t *cur, size_t width,
                         size_t height);

struct prism_ctl_top_options {
    double interval_s;    /* between refreshes (> 0) */
    long iterations;      /* frames to print, 0: until interrupted or 'q' */
    const char **tenants; /* tenants to show whether or not they had events */
    size_t n_tenants;     /* entries in tenants */
    const char **bubbles; /* TENANT/BUBBLE to show whether or not they had events */
    size_t n_bubbles;     /* entries in bubbles */
    bool force_plain;     /* plain snapshots even on a terminal */
};

/* Runs top on `target` until `o->iterations` frames are printed, the user
 * presses q or Ctrl-C, or the relay goes away. Returns the exit status: 0,
 * or 2 when the connection fails. */
int prism_ctl_top_run(const struct prism_ctl_target *target, const struct prism_ctl_top_options *o);

#endif
