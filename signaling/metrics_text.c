/* The Prometheus text format writer (see metrics_text.h). Output grows one
 * GString; a scrape of the relay is a few KiB plus ~1.5 KiB per tenant. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "relay/base/check.h"
#include "signaling/metrics_text.h"

static bool name_ok(const char *name, bool colon_ok)
{
    if (name == NULL || name[0] == '\0' || g_ascii_isdigit(name[0]))
        return false;
    for (const char *c = name; *c != '\0'; c++)
        if (!g_ascii_isalnum(*c) && *c != '_' && !(colon_ok && *c == ':'))
            return false;
    return true;
}

/* Appends `text`, escaping backslash and newline, and double quotes too when
 * `quote` (label values; HELP text leaves them as they are). Copies runs
 * that need no escape at once: a scrape is mostly label values. */
static void append_escaped(GString *out, const char *text, bool quote)
{
    const char *special = quote ? "\\\n\"" : "\\\n";
    for (;;) {
        size_t run = strcspn(text, special);
        g_string_append_len(out, text, (gssize)run);
        text += run;
        if (*text == '\0')
            return;
        g_string_append(out, *text == '\\' ? "\\\\" : *text == '\n' ? "\\n" : "\\\"");
        text++;
    }
}

void prism_metrics_text_family(GString *out, const char *name, enum prism_metrics_type type,
                               const char *help)
{
    PRISM_CHECK(name_ok(name, true));
    size_t len = strlen(name);
    PRISM_CHECK(type != PRISM_METRICS_COUNTER ||
                (len > 6 && strcmp(name + len - 6, "_total") == 0));
    g_string_append_printf(out, "# HELP %s ", name);
    append_escaped(out, help, false);
    static const char *const types[] = {"counter", "gauge", "histogram"};
    g_string_append_printf(out, "\n# TYPE %s %s\n", name, types[type]);
}

static void sample_start(GString *out, const char *name, const struct prism_metrics_label *labels,
                         size_t n)
{
    PRISM_CHECK(name_ok(name, true));
    g_string_append(out, name);
    for (size_t i = 0; i < n; i++) {
        PRISM_CHECK(name_ok(labels[i].name, false));
        g_string_append_c(out, i == 0 ? '{' : ',');
        g_string_append(out, labels[i].name);
        g_string_append(out, "=\"");
        append_escaped(out, labels[i].value, true);
        g_string_append_c(out, '"');
    }
    if (n > 0)
        g_string_append_c(out, '}');
    g_string_append_c(out, ' ');
}

void prism_metrics_text_u64(GString *out, const char *name,
                            const struct prism_metrics_label *labels, size_t n, uint64_t value)
{
    sample_start(out, name, labels, n);
    char buf[24]; /* 20 digits, newline, NUL; not g_string_append_printf: it allocates */
    snprintf(buf, sizeof(buf), "%" PRIu64 "\n", value);
    g_string_append(out, buf);
}

void prism_metrics_text_f64(GString *out, const char *name,
                            const struct prism_metrics_label *labels, size_t n, double value)
{
    sample_start(out, name, labels, n);
    if (isnan(value)) {
        g_string_append(out, "NaN\n");
    } else if (isinf(value)) {
        g_string_append(out, value > 0 ? "+Inf\n" : "-Inf\n");
    } else {
        /* Locale-free; 15 digits: exact for what the relay measures (ns as seconds up
         * to ~10^6 s) without %.17g's 0.0024116559999999999. */
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.15g", value));
        g_string_append_c(out, '\n');
    }
}
