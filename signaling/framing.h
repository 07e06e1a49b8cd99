/* Line framing of the control protocol: one JSON-RPC message per
 * '\n'-terminated line (PROTOCOL.md "Transport and framing").
 *
 * A framer belongs to one connection (control thread). Bytes go in as they
 * arrive; complete lines come out through a callback, in order. A line longer
 * than max_line bytes is reported once through `on_overlong` and skipped up to
 * the next newline, so the connection stays usable; the framer never holds
 * more than max_line bytes. A trailing '\r' is stripped; blank lines are
 * ignored.
 */
#ifndef PRISM_SIGNALING_FRAMING_H
#define PRISM_SIGNALING_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

struct prism_framer {
    char *buf;       /* a partial line; owned */
    size_t len;      /* bytes in buf */
    size_t cap;      /* allocated bytes */
    size_t max_line; /* longest accepted line, without the newline */
    bool skipping;   /* inside an overlong line */
};

/* Return false from a callback to stop feeding (the connection closes). */
struct prism_framer_callbacks {
    bool (*on_line)(void *ud, const char *line, size_t len);
    bool (*on_overlong)(void *ud);
};

void prism_framer_init(struct prism_framer *f, size_t max_line);
void prism_framer_deinit(struct prism_framer *f);

/* Feeds `len` bytes. Complete lines are passed straight from `data` when the
 * framer holds no partial line (no copy). Returns 0, PRISM_ENOMEM, or 1 when a
 * callback asked to stop. */
int prism_framer_feed(struct prism_framer *f, const char *data, size_t len,
                      const struct prism_framer_callbacks *cb, void *ud);

/* Bytes held of an unfinished line. */
size_t prism_framer_pending(const struct prism_framer *f);

#endif
