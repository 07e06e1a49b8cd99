/* top's frames (see prismctl_top.h): pure formatting of snapshots.
 *
 * A frame is a header (relay.info and the relay's totals), then three
 * tables: workers, tenants, bubbles. Every figure a snapshot lacks prints as
 * "-", so a relay without a `workers` list in stats.get, a limited client
 * without relay-wide stats, or the first frame without a previous snapshot
 * all render.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "signaling/prismctl_table.h"
#include "signaling/prismctl_top.h"

/* The member at a dotted path ("rtx.nacked"), or NULL. */
static const json_t *at(const json_t *v, const char *path)
{
    char key[64];
    while (v != NULL && *path != '\0') {
        size_t len = strcspn(path, ".");
        if (len >= sizeof(key))
            return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        v = json_object_get(v, key);
        path += len + (path[len] == '.');
    }
    return v;
}

/* A counter's value; "drops" (an object) is the sum of its members. */
static bool counter(const json_t *stats, const char *path, double *out)
{
    const json_t *v = at(stats, path);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_object(v))
        return false;
    double sum = 0;
    const char *key;
    json_t *e;
    json_object_foreach((json_t *)v, key, e)
    {
        if (!json_is_number(e))
            return false;
        sum += json_number_value(e);
    }
    *out = sum;
    return true;
}

double prism_ctl_top_rate(const json_t *prev, const json_t *cur, const char *path, double dt_s)
{
    double a, b;
    if (dt_s <= 0 || !counter(prev, path, &a) || !counter(cur, path, &b) || b < a)
        return NAN;
    return (b - a) / dt_s;
}

double prism_ctl_top_loss_pct(const json_t *prev, const json_t *cur)
{
    double sent = prism_ctl_top_rate(prev, cur, "packets_out", 1);
    double nacked = prism_ctl_top_rate(prev, cur, "rtx.nacked", 1);
    if (isnan(sent) || isnan(nacked) || sent <= 0)
        return NAN;
    return 100.0 * nacked / sent;
}

void prism_ctl_top_fmt_rate(char *buf, size_t cap, double v)
{
    if (isnan(v) || v < 0)
        snprintf(buf, cap, "-");
    else if (v == 0)
        snprintf(buf, cap, "0");
    else if (v < 10)
        snprintf(buf, cap, "%.1f", v);
    else if (v < 999.5)
        snprintf(buf, cap, "%.0f", v);
    else if (v < 999.95e3)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else if (v < 999.95e6)
        snprintf(buf, cap, "%.1fM", v / 1e6);
    else
        snprintf(buf, cap, "%.1fG", v / 1e9);
}

static void fmt_pct(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f", v);
}

/* A count as an integer, or "-". */
static void fmt_count(char *buf, size_t cap, const json_t *v)
{
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_number(v))
        snprintf(buf, cap, "%.1f", json_number_value(v));
    else
        snprintf(buf, cap, "-");
}

static double dt_of(const json_t *prev, const json_t *cur)
{
    const json_t *a = json_object_get(prev, "t");
    const json_t *b = json_object_get(cur, "t");
    if (!json_is_number(a) || !json_is_number(b))
        return 0;
    return json_number_value(b) - json_number_value(a);
}

/* Set each cell through this: the first failure sticks in *rc. */
#define SET(g, col, ...)                                                                           \
    do {                                                                                           \
        if (*rc == 0)                                                                              \
            *rc = prism_ctl_grid_set(g, col, __VA_ARGS__);                                         \
    } while (0)

/* The traffic columns shared by tenants and bubbles, from column `col` on:
 * IN/S OUT/S IN_KBPS OUT_KBPS LOSS% DROPS/S. */
enum { TRAFFIC_COLS = 6 };
static const char *const traffic_header[TRAFFIC_COLS] = {"IN/S",     "OUT/S", "IN_KBPS",
                                                         "OUT_KBPS", "LOSS%", "DROPS/S"};

static void traffic(struct prism_ctl_grid *g, size_t col, const json_t *prev, const json_t *cur,
                    double dt, int *rc)
{
    char buf[32];
    prism_ctl_top_fmt_rate(buf, sizeof(buf), prism_ctl_top_rate(prev, cur, "packets_in", dt));
    SET(g, col, "%s", buf);
    prism_ctl_top_fmt_rate(buf, sizeof(buf), prism_ctl_top_rate(prev, cur, "packets_out", dt));
    SET(g, col + 1, "%s", buf);
    prism_ctl_top_fmt_rate(buf, sizeof(buf),
                           prism_ctl_top_rate(prev, cur, "bytes_in", dt) * 8 / 1000);
    SET(g, col + 2, "%s", buf);
    prism_ctl_top_fmt_rate(buf, sizeof(buf),
                           prism_ctl_top_rate(prev, cur, "bytes_out", dt) * 8 / 1000);
    SET(g, col + 3, "%s", buf);
    fmt_pct(buf, sizeof(buf), prism_ctl_top_loss_pct(prev, cur));
    SET(g, col + 4, "%s", buf);
    prism_ctl_top_fmt_rate(buf, sizeof(buf), prism_ctl_top_rate(prev, cur, "drops", dt));
    SET(g, col + 5, "%s", buf);
}

static void header_row(struct prism_ctl_grid *g, const char *const *names, size_t n, int *rc)
{
    if (*rc == 0)
        *rc = prism_ctl_grid_add_row(g);
    for (size_t i = 0; i < n; i++)
        SET(g, i, "%s", names[i]);
}

/* Prints a grid within what is left of the frame; returns lines used. */
static size_t emit(FILE *out, const struct prism_ctl_grid *g, size_t width, size_t left)
{
    if (left <= 1) /* the header alone says nothing */
        return 0;
    size_t rows = prism_ctl_grid_rows(g);
    if (left != (size_t)-1 && rows > left)
        rows = left;
    prism_ctl_grid_print(g, out, width, rows);
    return rows;
}

static int workers_table(FILE *out, const json_t *prev, const json_t *cur, size_t width,
                         size_t *left)
{
    static const char *const names[] = {"WORKER", "BUBBLES", "TRANSPORTS", "LAG_MS", "CPU%"};
    struct prism_ctl_grid *g = prism_ctl_grid_new(5);
    if (g == NULL)
        return PRISM_ENOMEM;
    int rc_ = 0, *rc = &rc_;
    header_row(g, names, 5, rc);
    const json_t *list = at(cur, "stats.workers");
    const json_t *old = at(prev, "stats.workers");
    double dt = dt_of(prev, cur);
    char buf[32];
    if (json_is_array(list)) {
        size_t i;
        const json_t *w;
        json_array_foreach(list, i, w)
        {
            if (*rc == 0)
                *rc = prism_ctl_grid_add_row(g);
            fmt_count(buf, sizeof(buf), json_object_get(w, "worker"));
            SET(g, 0, "%s", buf);
            fmt_count(buf, sizeof(buf), json_object_get(w, "bubbles"));
            SET(g, 1, "%s", buf);
            fmt_count(buf, sizeof(buf), json_object_get(w, "transports"));
            SET(g, 2, "%s", buf);
            const json_t *lag = json_object_get(w, "loop_lag_ms");
            if (json_is_number(lag))
                SET(g, 3, "%.1f", json_number_value(lag));
            else
                SET(g, 3, "-");
            /* The same worker in the previous snapshot, by its number. */
            const json_t *was = NULL;
            size_t j;
            const json_t *o;
            json_array_foreach(old, j, o) if (json_equal(json_object_get(o, "worker"),
                                                         json_object_get(w, "worker"))) was = o;
            fmt_pct(buf, sizeof(buf), 100 * prism_ctl_top_rate(was, w, "cpu_s", dt));
            SET(g, 4, "%s", buf);
        }
    } else {
        /* No per-worker figures from this relay: one row of "-" per worker. */
        const json_t *n = at(cur, "info.workers");
        json_int_t count = json_is_integer(n) ? json_integer_value(n) : 0;
        for (json_int_t i = 0; i < count && i < 1024; i++) {
            if (*rc == 0)
                *rc = prism_ctl_grid_add_row(g);
            SET(g, 0, "%lld", (long long)i);
            for (size_t c = 1; c < 5; c++)
                SET(g, c, "-");
        }
    }
    if (*rc == 0)
        *left -= emit(out, g, width, *left);
    prism_ctl_grid_free(g);
    return *rc;
}

static int tenants_table(FILE *out, const json_t *prev, const json_t *cur, size_t width,
                         size_t *left)
{
    struct prism_ctl_grid *g = prism_ctl_grid_new(3 + TRAFFIC_COLS);
    if (g == NULL)
        return PRISM_ENOMEM;
    int rc_ = 0, *rc = &rc_;
    static const char *const names[] = {"TENANT", "BUBBLES", "PEERS"};
    header_row(g, names, 3, rc);
    prism_ctl_grid_set_text(g, 0);
    for (size_t i = 0; i < TRAFFIC_COLS; i++)
        SET(g, 3 + i, "%s", traffic_header[i]);
    const json_t *tenants = json_object_get(cur, "tenants");
    const json_t *old = json_object_get(prev, "tenants");
    double dt = dt_of(prev, cur);
    /* Tenants in name order: a stable screen. */
    const char **names_sorted = calloc(json_object_size(tenants) + 1, sizeof(*names_sorted));
    size_t n = 0;
    const char *key;
    const json_t *v;
    if (names_sorted == NULL)
        *rc = PRISM_ENOMEM;
    else
        json_object_foreach((json_t *)tenants, key, v) names_sorted[n++] = key;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names_sorted[j - 1], names_sorted[j]) > 0; j--) {
            const char *t = names_sorted[j];
            names_sorted[j] = names_sorted[j - 1];
            names_sorted[j - 1] = t;
        }
    char buf[32];
    for (size_t i = 0; i < n; i++) {
        v = json_object_get(tenants, names_sorted[i]);
        if (*rc == 0)
            *rc = prism_ctl_grid_add_row(g);
        SET(g, 0, "%s", names_sorted[i]);
        fmt_count(buf, sizeof(buf), json_object_get(v, "bubbles"));
        SET(g, 1, "%s", buf);
        fmt_count(buf, sizeof(buf), json_object_get(v, "peers"));
        SET(g, 2, "%s", buf);
        traffic(g, 3, json_object_get(old, names_sorted[i]), v, dt, rc);
    }
    free(names_sorted);
    if (*rc == 0 && n > 0)
        *left -= emit(out, g, width, *left);
    prism_ctl_grid_free(g);
    return *rc;
}

struct bubble_row {
    const char *name;    /* TENANT/BUBBLE, borrowed from the snapshot */
    const json_t *stats; /* its stats.get result */
    const json_t *prev;  /* the same in the previous snapshot, or NULL */
    const char *speaker; /* or NULL */
    double out_rate;     /* packets out per second; NAN unknown */
};

/* Busiest first; unknown rates last; then by name. */
static int busier(const void *pa, const void *pb)
{
    const struct bubble_row *a = pa, *b = pb;
    double ra = isnan(a->out_rate) ? -1 : a->out_rate;
    double rb = isnan(b->out_rate) ? -1 : b->out_rate;
    if (ra != rb)
        return ra > rb ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int bubbles_table(FILE *out, const json_t *prev, const json_t *cur, size_t width,
                         size_t *left)
{
    struct prism_ctl_grid *g = prism_ctl_grid_new(2 + TRAFFIC_COLS + 1);
    if (g == NULL)
        return PRISM_ENOMEM;
    int rc_ = 0, *rc = &rc_;
    static const char *const names[] = {"BUBBLE", "PEERS"};
    header_row(g, names, 2, rc);
    for (size_t i = 0; i < TRAFFIC_COLS; i++)
        SET(g, 2 + i, "%s", traffic_header[i]);
    SET(g, 2 + TRAFFIC_COLS, "SPEAKER");
    prism_ctl_grid_set_text(g, 0);
    prism_ctl_grid_set_text(g, 2 + TRAFFIC_COLS);
    const json_t *bubbles = json_object_get(cur, "bubbles");
    const json_t *old = json_object_get(prev, "bubbles");
    double dt = dt_of(prev, cur);
    struct bubble_row *rows = calloc(json_object_size(bubbles) + 1, sizeof(*rows));
    size_t n = 0;
    const char *key;
    const json_t *v;
    if (rows == NULL)
        *rc = PRISM_ENOMEM;
    else
        json_object_foreach((json_t *)bubbles, key, v)
        {
            struct bubble_row *r = &rows[n++];
            r->name = key;
            r->stats = json_object_get(v, "stats");
            r->prev = at(json_object_get(old, key), "stats");
            r->speaker = json_string_value(json_object_get(v, "speaker"));
            r->out_rate = prism_ctl_top_rate(r->prev, r->stats, "packets_out", dt);
        }
    if (n > 1)
        qsort(rows, n, sizeof(*rows), busier);
    char buf[32];
    for (size_t i = 0; i < n; i++) {
        if (*rc == 0)
            *rc = prism_ctl_grid_add_row(g);
        SET(g, 0, "%s", rows[i].name);
        fmt_count(buf, sizeof(buf), json_object_get(rows[i].stats, "peers"));
        SET(g, 1, "%s", buf);
        traffic(g, 2, rows[i].prev, rows[i].stats, dt, rc);
        SET(g, 2 + TRAFFIC_COLS, "%s", rows[i].speaker != NULL ? rows[i].speaker : "-");
    }
    free(rows);
    if (*rc == 0 && n > 0)
        *left -= emit(out, g, width, *left);
    prism_ctl_grid_free(g);
    return *rc;
}

/* A line of the header, cut at width. Returns 1 (a line used) or 0. */
__attribute__((format(printf, 4, 5))) static size_t line(FILE *out, size_t width, size_t left,
                                                         const char *fmt, ...)
{
    if (left == 0)
        return 0;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t len = strlen(text);
    if (width > 0 && len > width)
        len = width;
    fwrite(text, 1, len, out);
    fputc('\n', out);
    return 1;
}

static size_t blank(FILE *out, size_t left)
{
    if (left == 0)
        return 0;
    fputc('\n', out);
    return 1;
}

int prism_ctl_top_render(FILE *out, const json_t *prev, const json_t *cur, size_t width,
                         size_t height)
{
    size_t left = height == 0 ? (size_t)-1 : height;
    const json_t *info = json_object_get(cur, "info");
    const json_t *stats = json_object_get(cur, "stats");
    const json_t *pstats = json_object_get(prev, "stats");
    double dt = dt_of(prev, cur);
    char epoch[32], up[32], workers[16], tenants[16], bubbles[16], peers[16];
    fmt_count(epoch, sizeof(epoch), json_object_get(info, "epoch"));
    fmt_count(workers, sizeof(workers), json_object_get(info, "workers"));
    const json_t *uptime = json_object_get(info, "uptime_s");
    if (json_is_number(uptime)) {
        long long s = (long long)json_number_value(uptime);
        snprintf(up, sizeof(up), "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    } else {
        snprintf(up, sizeof(up), "-");
    }
    const json_t *draining = json_object_get(info, "draining");
    const char *version = json_string_value(json_object_get(info, "version"));
    const char *clock = json_string_value(json_object_get(cur, "clock"));
    left -= line(out, width, left, "prism %s  epoch %s  up %s  workers %s  draining %s%s%s",
                 version != NULL ? version : "-", epoch, up, workers,
                 json_is_boolean(draining) ? (json_is_true(draining) ? "yes" : "no") : "-",
                 clock != NULL ? "  " : "", clock != NULL ? clock : "");
    fmt_count(tenants, sizeof(tenants), json_object_get(stats, "tenants"));
    fmt_count(bubbles, sizeof(bubbles), json_object_get(stats, "bubbles"));
    fmt_count(peers, sizeof(peers), json_object_get(stats, "peers"));
    char in[16], out_[16], kin[16], kout[16], loss[16], drops[16];
    prism_ctl_top_fmt_rate(in, sizeof(in), prism_ctl_top_rate(pstats, stats, "packets_in", dt));
    prism_ctl_top_fmt_rate(out_, sizeof(out_),
                           prism_ctl_top_rate(pstats, stats, "packets_out", dt));
    prism_ctl_top_fmt_rate(kin, sizeof(kin),
                           prism_ctl_top_rate(pstats, stats, "bytes_in", dt) * 8 / 1000);
    prism_ctl_top_fmt_rate(kout, sizeof(kout),
                           prism_ctl_top_rate(pstats, stats, "bytes_out", dt) * 8 / 1000);
    double loss_pct = prism_ctl_top_loss_pct(pstats, stats);
    fmt_pct(loss, sizeof(loss), loss_pct);
    prism_ctl_top_fmt_rate(drops, sizeof(drops), prism_ctl_top_rate(pstats, stats, "drops", dt));
    left -=
        line(out, width, left,
             "tenants %s  bubbles %s  peers %s  in %s/s %s kbit/s  out %s/s %s kbit/s  "
             "loss %s%s  drops %s/s",
             tenants, bubbles, peers, in, kin, out_, kout, loss, isnan(loss_pct) ? "" : "%", drops);
    /* Say when bubbles exist that this view cannot name (no listing method:
     * they are learnt from events and --bubble). */
    const json_t *total = json_object_get(stats, "bubbles");
    size_t shown = json_object_size(json_object_get(cur, "bubbles"));
    if (json_is_integer(total) && (size_t)json_integer_value(total) > shown)
        left -= line(out, width, left,
                     "(%zu of %lld bubbles shown: the others had no media events yet; name "
                     "them with --bubble TENANT/BUBBLE)",
                     shown, (long long)json_integer_value(total));
    left -= blank(out, left);
    int rc = workers_table(out, prev, cur, width, &left);
    if (rc == 0 && json_object_size(json_object_get(cur, "tenants")) > 0) {
        left -= blank(out, left);
        rc = tenants_table(out, prev, cur, width, &left);
    }
    if (rc == 0 && json_object_size(json_object_get(cur, "bubbles")) > 0) {
        left -= blank(out, left);
        rc = bubbles_table(out, prev, cur, width, &left);
    }
    return rc;
}
