/* prism-bench run --html: a self-contained HTML report.
 *
 * Owns nothing beyond one call: reads the JSON report object that
 * prism-bench run builds (bench/report.c; the same object --json writes)
 * and writes one HTML file with inline CSS and inline SVG plots, no script
 * and no external reference, so it opens offline and can be attached to a
 * ticket. Plots come from the report's per-second "timeline": throughput
 * (packets/s into and out of the relay, delivered to the bench), one-way
 * delay p50/p99 per second, relay and bench CPU (% of a core), relay RSS;
 * then the summary table, the failures, and with --ramp the per-step table
 * and the capacity (step starts are marked on the plots).
 *
 * Thread: the caller's, after the run. Allocates per call (not a hot path).
 */
#ifndef PRISM_BENCH_HTML_H
#define PRISM_BENCH_HTML_H

#include <jansson.h>

/* Writes the report for `report` to `path` (created or truncated). Missing
 * keys show as empty cells or empty plots. Returns 0, or a negative errno
 * when the file cannot be written. */
int prism_bench_html_write(const json_t *report, const char *path);

#endif
