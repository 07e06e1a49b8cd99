/* prism-bench run --html: a self-contained HTML report (see html.h).
 *
 * Plots are SVG polylines over the timeline's seconds; rates are differences
 * of the cumulative counters between consecutive samples. A sample whose
 * counter went backwards (a stats.get that never answered reads as zero) or
 * that sits less than 0.2 s after the previous one (the extra sample taken
 * when the senders stop) leaves a gap instead of a spike.
 */
#include "bench/html.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define PLOT_W 760
#define PLOT_H 230
#define PAD_L 64
#define PAD_R 16
#define PAD_T 28
#define PAD_B 34

struct series {
    const char *name;
    const char *color;
    const double *y; /* n values, NAN: no point */
};

static void esc(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The smallest 1, 2 or 5 times a power of ten at or above v (1 for v <= 0). */
static double nice_max(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    for (int m = 1; m <= 10; m++)
        if ((m == 1 || m == 2 || m == 5 || m == 10) && m * p >= v)
            return m * p;
    return 10 * p;
}

static void plot(FILE *f, const char *title, const char *unit, const double *x, size_t n,
                 const struct series *s, size_t n_series, const double *marks, size_t n_marks)
{
    double xmax = 0, ymax = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] > xmax)
            xmax = x[i];
        for (size_t k = 0; k < n_series; k++)
            if (!isnan(s[k].y[i]) && s[k].y[i] > ymax)
                ymax = s[k].y[i];
    }
    double xstep = nice_max(xmax / 5);
    xmax = ceil(xmax / xstep) * xstep;
    ymax = nice_max(ymax * 1.05);
    double w = PLOT_W - PAD_L - PAD_R, h = PLOT_H - PAD_T - PAD_B;
    fprintf(f, "<h3>");
    esc(f, title);
    fprintf(f,
            "</h3>\n<svg width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\">\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H);
    /* Axes, grid and labels. */
    for (int g = 0; g <= 4; g++) {
        double y = PAD_T + h - h * g / 4.0;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
                PAD_L, y, PAD_L + w, y, PAD_L - 4, y + 4, ymax * g / 4.0);
    }
    for (int g = 0; g * xstep <= xmax + 1e-9; g++) {
        double xv = g * xstep, xp = PAD_L + w * xv / xmax;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.0f</text>\n",
                xp, PAD_T + h + 14, xv);
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">seconds since "
            "joins began</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\">",
            PAD_L + w / 2, PLOT_H - 4, PAD_L, PAD_T - 14);
    esc(f, unit);
    fprintf(f,
            "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#888\"/>\n",
            PAD_L, PAD_T, w, h);
    for (size_t m = 0; m < n_marks; m++) {
        double xp = PAD_L + w * marks[m] / xmax;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#aaa\" "
                "stroke-dasharray=\"3,3\"/>\n",
                xp, PAD_T, xp, PAD_T + h);
    }
    /* Series: one polyline per run of defined points; legend top right. */
    for (size_t k = 0; k < n_series; k++) {
        bool open = false;
        for (size_t i = 0; i < n; i++) {
            if (isnan(s[k].y[i])) {
                if (open)
                    fputs("\"/>\n", f);
                open = false;
                continue;
            }
            if (!open)
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"",
                        s[k].color);
            open = true;
            fprintf(f, "%.1f,%.1f ", PAD_L + w * x[i] / xmax, PAD_T + h - h * s[k].y[i] / ymax);
        }
        if (open)
            fputs("\"/>\n", f);
        double lx = PAD_L + w - 150.0 * (double)(n_series - k);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">",
                lx, PAD_T - 24, s[k].color, lx + 14, PAD_T - 15);
        esc(f, s[k].name);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

static double num(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Per-second rate of cumulative `key` (NAN where it cannot be told). */
static void rate(const json_t *tl, const double *t, size_t n, const char *key, double scale,
                 double *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = NAN;
        if (i == 0)
            continue;
        double a = num(json_array_get(tl, i - 1), key), b = num(json_array_get(tl, i), key);
        double dt = t[i] - t[i - 1];
        if (dt < 0.2 || isnan(a) || isnan(b) || b < a || (a == 0 && i > 1))
            continue;
        out[i] = (b - a) * scale / dt;
    }
}

static void row(FILE *f, const char *name, int decimals, double v)
{
    fputs("<tr><th>", f);
    esc(f, name);
    fputs("</th><td>", f);
    if (isnan(v))
        fputs("&ndash;", f);
    else
        fprintf(f, "%.*f", decimals, v);
    fputs("</td></tr>\n", f);
}

static void summary_table(FILE *f, const json_t *r)
{
    const json_t *d = json_object_get(r, "delay_ms"), *j = json_object_get(r, "join_ms");
    const json_t *relay = json_object_get(r, "relay");
    fputs("<h2>Summary</h2>\n<table>\n", f);
    row(f, "peers ready", 0, num(r, "peers_ready"));
    row(f, "peers failed", 0, num(r, "peers_failed"));
    row(f, "streams flowing", 0, num(r, "streams_flowing"));
    row(f, "streams expected", 0, num(r, "streams_expected"));
    row(f, "packets forwarded by the relay", 0, num(r, "packets_forwarded"));
    row(f, "relay packets in/s (steady)", 0, num(relay, "packets_in_per_s"));
    row(f, "relay packets out/s (steady)", 0, num(relay, "packets_out_per_s"));
    row(f, "relay Mb/s out (steady)", 2, num(relay, "mbps_out"));
    row(f, "loss %", 3, num(r, "loss_pct"));
    row(f, "one-way delay p50 (ms)", 2, num(d, "p50"));
    row(f, "one-way delay p99 (ms)", 2, num(d, "p99"));
    row(f, "join p50 (ms)", 1, num(j, "p50"));
    row(f, "join p95 (ms)", 1, num(j, "p95"));
    row(f, "join p99 (ms)", 1, num(j, "p99"));
    row(f, "decode errors", 0, num(r, "decode_errors"));
    row(f, "frozen frames", 0, num(r, "frozen_frames"));
    row(f, "relay CPU (us per forwarded packet)", 2, num(r, "relay_cpu_us_per_packet"));
    row(f, "relay CPU (% of a core, steady)", 1, num(r, "relay_cpu_pct"));
    row(f, "limit loop (us per packet)", 2, num(r, "limit_cpu_us_per_packet"));
    row(f, "ratio to the limit loop", 2, num(r, "ratio_to_limit"));
    row(f, "relay RSS (KiB)", 0, num(r, "relay_rss_kib"));
    row(f, "relay RSS per peer (KiB)", 0, num(r, "relay_rss_kib_per_peer"));
    row(f, "bench worst pacer lateness (ms)", 1, num(r, "bench_worst_lag_ms"));
    fputs("</table>\n", f);
}

static void ramp_table(FILE *f, const json_t *ramp)
{
    const json_t *steps = json_object_get(ramp, "steps"), *cap = json_object_get(ramp, "capacity");
    fputs("<h2>Ramp</h2>\n<p>Stopped: ", f);
    esc(f, json_string_value(json_object_get(ramp, "stop")));
    if (json_is_object(cap))
        fprintf(f,
                ". <b>Capacity: %.0f peers, %.0f streams, %.0f packets/s forwarded, relay CPU "
                "%.0f %% (%.2f us/packet), bench CPU %.0f %%</b>",
                num(cap, "peers"), num(cap, "streams_flowing"), num(cap, "packets_forwarded_per_s"),
                num(cap, "relay_cpu_pct"), num(cap, "relay_cpu_us_per_packet"),
                num(cap, "bench_cpu_pct"));
    else
        fputs(". <b>No step passed.</b>", f);
    fputs("</p>\n<table>\n<tr><th>peers</th><th>bubbles</th><th>streams</th><th>forwarded/s</th>"
          "<th>delivered/s</th><th>loss %</th><th>p50 ms</th><th>p99 ms</th><th>relay CPU %</th>"
          "<th>us/packet</th><th>bench CPU %</th><th>verdict</th></tr>\n",
          f);
    size_t i;
    const json_t *s;
    json_array_foreach(steps, i, s)
    {
        fprintf(f,
                "<tr><td>%.0f</td><td>%.0f</td><td>%.0f/%.0f</td><td>%.0f</td><td>%.0f</td>"
                "<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.0f</td><td>%.2f</td><td>%.0f</td>"
                "<td>",
                num(s, "peers"), num(s, "bubbles"), num(s, "streams_flowing"),
                num(s, "streams_expected"), num(s, "packets_forwarded_per_s"),
                num(s, "bench_rx_packets_per_s"), num(s, "loss_pct"), num(s, "delay_p50_ms"),
                num(s, "delay_p99_ms"), num(s, "relay_cpu_pct"), num(s, "relay_cpu_us_per_packet"),
                num(s, "bench_cpu_pct"));
        const char *why = json_string_value(json_object_get(s, "why"));
        esc(f, why != NULL ? why : "pass");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

int prism_bench_html_write(const json_t *report, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    const json_t *tl = json_object_get(report, "timeline");
    const json_t *sc = json_object_get(report, "scenario");
    const json_t *ramp = json_object_get(report, "ramp");
    size_t n = json_array_size(tl);
    double *buf = calloc(9 * (n + 1), sizeof(double));
    double *marks = calloc(json_array_size(json_object_get(ramp, "steps")) + 1, sizeof(double));
    if (buf == NULL || marks == NULL) {
        free(buf);
        free(marks);
        fclose(f);
        return -ENOMEM;
    }
    double *t = buf, *in = t + n, *out = in + n, *rx = out + n, *p50 = rx + n, *p99 = p50 + n;
    double *rcpu = p99 + n, *bcpu = rcpu + n, *rss = bcpu + n;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(tl, i);
        t[i] = num(e, "t");
        /* 0: no packet arrived in that second (before joins, after the stop). */
        p50[i] = num(e, "delay_p50_ms") > 0 ? num(e, "delay_p50_ms") : NAN;
        p99[i] = num(e, "delay_p99_ms") > 0 ? num(e, "delay_p99_ms") : NAN;
        rss[i] = num(e, "relay_rss_kib") / 1024.0;
    }
    rate(tl, t, n, "relay_packets_in", 1, in);
    rate(tl, t, n, "relay_packets_out", 1, out);
    rate(tl, t, n, "bench_rx_packets", 1, rx);
    rate(tl, t, n, "relay_cpu_s", 100, rcpu);
    rate(tl, t, n, "bench_cpu_s", 100, bcpu);
    size_t n_marks = 0, i;
    const json_t *s;
    json_array_foreach(json_object_get(ramp, "steps"), i, s) marks[n_marks++] = num(s, "t_start");

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>prism-bench report</title>\n<style>\n"
          "body{font-family:sans-serif;margin:2em;max-width:60em;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0}\n"
          "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}\n"
          "th{background:#f4f4f4;text-align:left}\n"
          ".pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}\n"
          "svg{display:block;margin-bottom:1em}\n</style></head><body>\n",
          f);
    const char *verdict = json_string_value(json_object_get(report, "verdict"));
    bool pass = verdict != NULL && verdict[0] == 'p';
    fprintf(f, "<h1>prism-bench run: ");
    esc(f, json_string_value(json_object_get(report, "target")));
    fprintf(f, "</h1>\n<p>%.0f bubbles &times; %.0f peers (%.0f publishing), ", num(sc, "bubbles"),
            num(sc, "peers"), num(sc, "publishers"));
    esc(f, json_string_value(json_object_get(sc, "mode")));
    if (json_is_object(ramp))
        fprintf(f, ", --ramp: +%.0f peers per step, %.0f s windows, at most %.0f peers",
                num(sc, "ramp_step"), num(sc, "ramp_step_s"), num(sc, "max_peers"));
    else
        fprintf(f, ", %.0f s (+%.0f s join ramp)", num(sc, "duration_s"), num(sc, "ramp_s"));
    fputs("; SRTP backend ", f);
    esc(f, json_string_value(json_object_get(report, "srtp_backend")));
    fprintf(f, ". Verdict: <span class=\"%s\">%s</span></p>\n", pass ? "pass" : "fail",
            pass ? "PASS" : "FAIL");
    const json_t *fails = json_object_get(report, "failures");
    if (json_array_size(fails) > 0) {
        fputs("<ul>\n", f);
        json_array_foreach(fails, i, s)
        {
            fputs("<li>", f);
            esc(f, json_string_value(s));
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    summary_table(f, report);
    if (json_is_object(ramp))
        ramp_table(f, ramp);
    fputs("<h2>Over time</h2>\n", f);
    struct series thr[] = {{"relay in", "#1f77b4", in},
                           {"relay out (forwarded)", "#d62728", out},
                           {"delivered to the bench", "#2ca02c", rx}};
    plot(f, "Throughput", "packets/s", t, n, thr, 3, marks, n_marks);
    struct series del[] = {{"p50", "#1f77b4", p50}, {"p99", "#d62728", p99}};
    plot(f, "One-way delay through the relay (per second)", "ms", t, n, del, 2, marks, n_marks);
    struct series cpu[] = {{"relay", "#d62728", rcpu}, {"bench", "#7f7f7f", bcpu}};
    plot(f, "CPU", "% of one core", t, n, cpu, 2, marks, n_marks);
    struct series mem[] = {{"relay RSS", "#9467bd", rss}};
    plot(f, "Relay memory", "MiB", t, n, mem, 1, marks, n_marks);
    fputs("<p>Rates are per second between consecutive samples; dashed lines mark ramp steps. "
          "Delay is stamped by the sender (abs-send-time, shared host clock) and read after SRTP "
          "unprotect at the receiver: bench egress, kernel, relay, kernel, bench ingress.</p>\n"
          "</body></html>\n",
          f);
    free(buf);
    free(marks);
    return fclose(f) == 0 ? 0 : -errno;
}
