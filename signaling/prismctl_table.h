/* prismctl's text tables: a grid of cells printed as aligned columns (used by
 * `top` and `--table`), and the rendering of any JSON-RPC result as such
 * tables (`--table`).
 *
 * Pure: no I/O but the FILE handed in, no global state; any thread.
 */
#ifndef PRISM_SIGNALING_PRISMCTL_TABLE_H
#define PRISM_SIGNALING_PRISMCTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define PRISM_CTL_GRID_MAX_COLS 64

struct prism_ctl_grid; /* rows of text cells; the first row is the header */

/* A grid of `ncols` columns (1..PRISM_CTL_GRID_MAX_COLS) and no row.
 * Returns NULL when out of memory. */
struct prism_ctl_grid *prism_ctl_grid_new(size_t ncols);

/* Frees the grid and its cells. Accepts NULL. */
void prism_ctl_grid_free(struct prism_ctl_grid *g);

/* Appends a row of empty cells; later set() calls fill it. Returns 0 or
 * PRISM_ENOMEM. */
int prism_ctl_grid_add_row(struct prism_ctl_grid *g);

/* Sets cell `col` of the last row to a copy of `text`, formatted like
 * printf. A col out of range, or no row yet, is a bug (PRISM_CHECK). Returns
 * 0 or PRISM_ENOMEM. */
__attribute__((format(printf, 3, 4))) int prism_ctl_grid_set(struct prism_ctl_grid *g, size_t col,
                                                             const char *fmt, ...);

/* Marks column `col` as text: left-aligned even when its cells look like
 * numbers or are all "-". */
void prism_ctl_grid_set_text(struct prism_ctl_grid *g, size_t col);

/* Rows so far, the header included. */
size_t prism_ctl_grid_rows(const struct prism_ctl_grid *g);

/* Prints rows [0, max_rows) (0: all) as columns two spaces apart, each as
 * wide as its widest cell; a column whose cells below the header are all
 * numbers (or "-") is right-aligned, unless marked as text. Trailing blanks are not printed; a line
 * longer than max_width bytes (0: no limit) is cut there. */
void prism_ctl_grid_print(const struct prism_ctl_grid *g, FILE *out, size_t max_width,
                          size_t max_rows);

/* Prints a JSON-RPC result as tables (prismctl --table):
 * - an array of objects: one row per element, one column per key (in order
 *   of first appearance, headers upper-cased);
 * - an object: its scalar members (nested objects flattened to dotted keys,
 *   arrays of scalars joined with ",") as KEY/VALUE rows, then each member
 *   that is an array of objects as its own titled table ("NAME:" above it;
 *   "NAME: none" for an empty array);
 * - anything else: its JSON.
 * Inside a cell an object shows its values joined with ":", an array its
 * elements joined with ","; strings holding control characters are shown
 * JSON-escaped, so a cell never breaks a line. Returns 0 or PRISM_ENOMEM. */
int prism_ctl_table_print(FILE *out, const json_t *result);

#endif
