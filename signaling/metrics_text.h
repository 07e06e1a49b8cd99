/* The Prometheus text exposition format (version 0.0.4), written into a
 * GString: metric families (# HELP, # TYPE) and their samples.
 *
 * Pure: no I/O, no state; any thread (the control thread in practice).
 * Label values are the only text from outside (tenant ids); they are
 * escaped as the format requires (backslash, double quote, newline), so no
 * value can end a label or a line early. Metric and label names are the
 * relay's own constants and are checked (PRISM_CHECK: a bad one is a bug):
 * [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, without ':' for label names,
 * and a counter's name must end in "_total".
 */
#ifndef PRISM_SIGNALING_METRICS_TEXT_H
#define PRISM_SIGNALING_METRICS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* The types the relay exports. */
enum prism_metrics_type {
    PRISM_METRICS_COUNTER,   /* monotonic since the relay started; name ends in _total */
    PRISM_METRICS_GAUGE,     /* a value now */
    PRISM_METRICS_HISTOGRAM, /* name_bucket{le=...}, name_sum, name_count samples follow */
};

/* One label of a sample; `value` is any UTF-8 text (escaped on output). */
struct prism_metrics_label {
    const char *name;
    const char *value;
};

/* Starts the family `name`: "# HELP name help" (help escaped: backslash and
 * newline) and "# TYPE name counter|gauge|histogram". Every sample of the family must
 * follow before the next family starts. */
void prism_metrics_text_family(GString *out, const char *name, enum prism_metrics_type type,
                               const char *help);

/* One sample: name{label="value",...} value. `labels` may be NULL when `n`
 * is 0. The _u64 form writes the integer exactly; the _f64 form writes a
 * double with 15 significant digits, in the C locale (NaN, +Inf, -Inf as
 * the format spells them). */
void prism_metrics_text_u64(GString *out, const char *name,
                            const struct prism_metrics_label *labels, size_t n, uint64_t value);
void prism_metrics_text_f64(GString *out, const char *name,
                            const struct prism_metrics_label *labels, size_t n, double value);

#endif
