/* prismctl's text tables (see prismctl_table.h).
 *
 * A grid owns its cells (one malloc'd string each, "" for an unset cell, held
 * row after row in one growing array). Widths are measured in bytes: ids are
 * ASCII ([A-Za-z0-9._:@-]) and so are the numbers, which is all a relay
 * sends in a listing besides SDP, and SDP is JSON-escaped here.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "signaling/prismctl_table.h"

#define COLUMN_GAP "  "

struct prism_ctl_grid {
    size_t ncols;                       /* cells per row */
    size_t nrows;                       /* rows, the header included */
    size_t cap;                         /* rows allocated */
    char **cells;                       /* nrows * ncols strings, row-major; NULL means "" */
    bool left[PRISM_CTL_GRID_MAX_COLS]; /* text column: never right-aligned */
};

struct prism_ctl_grid *prism_ctl_grid_new(size_t ncols)
{
    PRISM_CHECK(ncols > 0 && ncols <= PRISM_CTL_GRID_MAX_COLS);
    struct prism_ctl_grid *g = calloc(1, sizeof(*g));
    if (g != NULL)
        g->ncols = ncols;
    return g;
}

void prism_ctl_grid_free(struct prism_ctl_grid *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nrows * g->ncols; i++)
        free(g->cells[i]);
    free(g->cells);
    free(g);
}

int prism_ctl_grid_add_row(struct prism_ctl_grid *g)
{
    if (g->nrows == g->cap) {
        size_t cap = g->cap == 0 ? 16 : g->cap * 2;
        char **cells = realloc(g->cells, cap * g->ncols * sizeof(*cells));
        if (cells == NULL)
            return PRISM_ENOMEM;
        g->cells = cells;
        g->cap = cap;
    }
    memset(g->cells + g->nrows * g->ncols, 0, g->ncols * sizeof(*g->cells));
    g->nrows++;
    return 0;
}

int prism_ctl_grid_set(struct prism_ctl_grid *g, size_t col, const char *fmt, ...)
{
    PRISM_CHECK(g->nrows > 0 && col < g->ncols);
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PRISM_ENOMEM;
    char **cell = &g->cells[(g->nrows - 1) * g->ncols + col];
    free(*cell);
    *cell = text;
    return 0;
}

void prism_ctl_grid_set_text(struct prism_ctl_grid *g, size_t col)
{
    PRISM_CHECK(col < g->ncols);
    g->left[col] = true;
}

size_t prism_ctl_grid_rows(const struct prism_ctl_grid *g)
{
    return g->nrows;
}

static const char *cell(const struct prism_ctl_grid *g, size_t row, size_t col)
{
    const char *s = g->cells[row * g->ncols + col];
    return s != NULL ? s : "";
}

/* A number as the tables print them: "-", "12", "-3", "1.5", "12.0%",
 * "1.2k", "3.4M" (what top writes), not an id like "1e5x". */
static bool numeric(const char *s)
{
    if (strcmp(s, "-") == 0 || *s == '\0')
        return true;
    char *end;
    strtod(s, &end);
    if (end == s)
        return false;
    if (*end == 'k' || *end == 'M' || *end == 'G' || *end == '%')
        end++;
    return *end == '\0';
}

/* Writes at most `room` bytes of `s`; returns how many it wrote. */
static size_t put_cut(FILE *out, const char *s, size_t len, size_t room)
{
    size_t n = len < room ? len : room;
    fwrite(s, 1, n, out);
    return n;
}

void prism_ctl_grid_print(const struct prism_ctl_grid *g, FILE *out, size_t max_width,
                          size_t max_rows)
{
    size_t width[PRISM_CTL_GRID_MAX_COLS];
    bool right[PRISM_CTL_GRID_MAX_COLS];
    size_t ncols = g->ncols;
    for (size_t c = 0; c < ncols; c++) {
        width[c] = 0;
        right[c] = !g->left[c];
        for (size_t r = 0; r < g->nrows; r++) {
            size_t len = strlen(cell(g, r, c));
            if (len > width[c])
                width[c] = len;
            if (r > 0 && !numeric(cell(g, r, c)))
                right[c] = false;
        }
    }
    size_t rows = max_rows == 0 || max_rows > g->nrows ? g->nrows : max_rows;
    size_t room_all = max_width == 0 ? (size_t)-1 : max_width;
    for (size_t r = 0; r < rows; r++) {
        /* The last non-empty cell ends the line: no trailing blanks. */
        size_t last = ncols;
        while (last > 0 && *cell(g, r, last - 1) == '\0')
            last--;
        size_t room = room_all;
        for (size_t c = 0; c < last && room > 0; c++) {
            const char *s = cell(g, r, c);
            size_t len = strlen(s);
            size_t pad = width[c] - len;
            if (c > 0)
                room -= put_cut(out, COLUMN_GAP, strlen(COLUMN_GAP), room);
            if (right[c] && r > 0)
                for (; pad > 0 && room > 0; pad--, room--)
                    fputc(' ', out);
            room -= put_cut(out, s, len, room);
            if (c + 1 < last && !(right[c] && r > 0))
                for (; pad > 0 && room > 0; pad--, room--)
                    fputc(' ', out);
        }
        fputc('\n', out);
    }
}

/* --table ------------------------------------------------------------------ */

static bool is_object_array(const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) if (!json_is_object(e)) return false;
    return true;
}

/* Appends the text of `v` as a cell shows it to the memory stream `out`. */
static void write_cell(FILE *out, const json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        bool plain = true;
        for (const char *p = s; *p != '\0' && plain; p++)
            plain = !iscntrl((unsigned char)*p);
        if (plain) {
            fputs(s, out);
            return;
        }
    }
    if (json_is_object(v) || json_is_array(v)) {
        const char *sep = json_is_object(v) ? ":" : ",";
        bool first = true;
        const char *key;
        const json_t *e;
        size_t i;
        if (json_is_object(v)) {
            json_object_foreach((json_t *)v, key, e)
            {
                fputs(first ? "" : sep, out);
                write_cell(out, e);
                first = false;
            }
        } else {
            json_array_foreach(v, i, e)
            {
                fputs(first ? "" : sep, out);
                write_cell(out, e);
                first = false;
            }
        }
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s != NULL)
        fputs(s, out);
    free(s);
}

static int set_json(struct prism_ctl_grid *g, size_t col, const json_t *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return PRISM_ENOMEM;
    write_cell(mem, v);
    int rc = fclose(mem) == 0 ? prism_ctl_grid_set(g, col, "%s", text) : PRISM_ENOMEM;
    free(text);
    return rc;
}

static int set_header(struct prism_ctl_grid *g, size_t col, const char *key)
{
    int rc = prism_ctl_grid_set(g, col, "%s", key);
    for (char *p = g->cells[(g->nrows - 1) * g->ncols + col]; rc == 0 && *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    return rc;
}

static void add_column(json_t *keys, const char *name)
{
    for (size_t k = 0; k < json_array_size(keys); k++)
        if (strcmp(json_string_value(json_array_get(keys, k)), name) == 0)
            return;
    if (json_array_size(keys) < PRISM_CTL_GRID_MAX_COLS)
        json_array_append_new(keys, json_string(name));
}

/* Row `e`'s value for column `name`: a member, or "key.sub" a scalar member
 * of an object member. NULL when it has none. */
static const json_t *column_value(const json_t *e, const char *name)
{
    const json_t *v = json_object_get(e, name);
    const char *dot = strchr(name, '.');
    if (v != NULL || dot == NULL)
        return v;
    char key[128];
    if ((size_t)(dot - name) >= sizeof(key))
        return NULL;
    memcpy(key, name, (size_t)(dot - name));
    key[dot - name] = '\0';
    return json_object_get(json_object_get(e, key), dot + 1);
}

/* An array of objects: one column per distinct key (the first
 * PRISM_CTL_GRID_MAX_COLS of them). An object member becomes a column per
 * scalar member, "key.sub", as the KEY/VALUE form flattens them; its lists
 * (a histogram's buckets) are left to the JSON. */
static int print_rows(FILE *out, const json_t *arr)
{
    json_t *keys = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *key, *sub;
        const json_t *v, *sv;
        json_object_foreach((json_t *)e, key, v)
        {
            if (!json_is_object(v)) {
                add_column(keys, key);
                continue;
            }
            json_object_foreach((json_t *)v, sub, sv)
            {
                if (json_is_object(sv) || json_is_array(sv))
                    continue;
                char name[256];
                snprintf(name, sizeof(name), "%s.%s", key, sub);
                add_column(keys, name);
            }
        }
    }
    size_t ncols = json_array_size(keys);
    struct prism_ctl_grid *g = ncols > 0 ? prism_ctl_grid_new(ncols) : NULL;
    int rc = g != NULL && prism_ctl_grid_add_row(g) == 0 ? 0 : PRISM_ENOMEM;
    for (size_t k = 0; rc == 0 && k < ncols; k++)
        rc = set_header(g, k, json_string_value(json_array_get(keys, k)));
    json_array_foreach(arr, i, e)
    {
        if (rc == 0)
            rc = prism_ctl_grid_add_row(g);
        for (size_t k = 0; rc == 0 && k < ncols; k++) {
            const json_t *v = column_value(e, json_string_value(json_array_get(keys, k)));
            rc = v == NULL ? 0 : set_json(g, k, v);
        }
    }
    if (rc == 0)
        prism_ctl_grid_print(g, out, 0, 0);
    prism_ctl_grid_free(g);
    json_decref(keys);
    return rc;
}

/* The members of `obj` as KEY/VALUE rows, nested objects flattened under
 * "prefix.". At the top (prefix ""), arrays of objects and empty arrays are
 * left for their own tables. */
static int add_pairs(struct prism_ctl_grid *g, const json_t *obj, const char *prefix)
{
    bool top = *prefix == '\0';
    const char *key;
    const json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (rc != 0 ||
            (top && (is_object_array(v) || (json_is_array(v) && json_array_size(v) == 0))))
            continue; /* listed after the pairs */
        char *name = NULL;
        if (asprintf(&name, "%s%s", prefix, key) < 0)
            return PRISM_ENOMEM;
        if (json_is_object(v) && json_object_size(v) > 0) {
            char *sub = NULL;
            rc = asprintf(&sub, "%s.", name) < 0 ? PRISM_ENOMEM : add_pairs(g, v, sub);
            free(sub);
        } else {
            rc = prism_ctl_grid_add_row(g);
            if (rc == 0)
                rc = prism_ctl_grid_set(g, 0, "%s", name);
            if (rc == 0)
                rc = set_json(g, 1, v);
        }
        free(name);
    }
    return rc;
}

int prism_ctl_table_print(FILE *out, const json_t *result)
{
    if (is_object_array(result))
        return print_rows(out, result);
    if (!json_is_object(result)) {
        char *s = json_dumps(result, JSON_ENCODE_ANY | JSON_COMPACT);
        if (s == NULL)
            return PRISM_ENOMEM;
        fprintf(out, "%s\n", s);
        free(s);
        return 0;
    }
    struct prism_ctl_grid *g = prism_ctl_grid_new(2);
    int rc = g != NULL && prism_ctl_grid_add_row(g) == 0 ? 0 : PRISM_ENOMEM;
    if (rc == 0)
        rc = prism_ctl_grid_set(g, 0, "KEY");
    if (rc == 0)
        rc = prism_ctl_grid_set(g, 1, "VALUE");
    if (rc == 0)
        rc = add_pairs(g, result, "");
    bool any = rc == 0 && prism_ctl_grid_rows(g) > 1;
    if (any)
        prism_ctl_grid_print(g, out, 0, 0);
    prism_ctl_grid_free(g);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)result, key, v)
    {
        if (rc != 0 || !json_is_array(v) || (!is_object_array(v) && json_array_size(v) > 0))
            continue;
        /* Each listing after a blank line, under its name. */
        if (any)
            fputc('\n', out);
        any = true;
        if (json_array_size(v) == 0) {
            fprintf(out, "%s: none\n", key);
            continue;
        }
        fprintf(out, "%s:\n", key);
        rc = print_rows(out, v);
    }
    return rc;
}
