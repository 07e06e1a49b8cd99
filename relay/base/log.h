/* Structured logging: one JSON object per line.
 *
 * Every line is {"ts":"<RFC 3339 UTC>","level":"info","event":"<name>",...}
 * followed by the caller's string fields. Callers never pass raw peer, bubble
 * or tenant ids, addresses, SDP or keys: ids go through prism_idhash() first
 * (REQUIREMENTS.md 1.5). Any thread may log; a line is written with a single
 * write(2) so lines from different threads never interleave. Logging is never
 * done per packet.
 */
#ifndef PRISM_BASE_LOG_H
#define PRISM_BASE_LOG_H

#include <stddef.h>

enum prism_log_level {
    PRISM_LOG_DEBUG = 0,
    PRISM_LOG_INFO = 1,
    PRISM_LOG_WARN = 2,
    PRISM_LOG_ERROR = 3,
};

/* Parses "debug", "info", "warn" or "error". Returns 0 or PRISM_EINVAL. */
int prism_log_level_parse(const char *name, enum prism_log_level *out);

/* (Re)opens the log: `path` NULL or "-" means stderr, otherwise the file is
 * opened for appending (created 0640). Called at start and on SIGHUP by the
 * control thread. Returns 0 or PRISM_EIO (the previous destination is kept). */
int prism_log_open(const char *path, enum prism_log_level level);

/* Closes a log file opened by prism_log_open (stderr stays). */
void prism_log_close(void);

/* Writes one line. The variadic part is pairs of (const char *key,
 * const char *value) ended by a single NULL; values are JSON-escaped. */
void prism_log(enum prism_log_level level, const char *event, ...) __attribute__((sentinel));

#define prism_log_info(...) prism_log(PRISM_LOG_INFO, __VA_ARGS__)
#define prism_log_warn(...) prism_log(PRISM_LOG_WARN, __VA_ARGS__)
#define prism_log_error(...) prism_log(PRISM_LOG_ERROR, __VA_ARGS__)

/* Appends `s` to `out` (capacity `cap`, current length *len) as the inside of
 * a JSON string, truncating at the capacity. Used by the log and audit. */
void prism_json_escape(char *out, size_t cap, size_t *len, const char *s);

#endif
