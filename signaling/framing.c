/* Line framing (see framing.h). */
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "signaling/framing.h"

void prism_framer_init(struct prism_framer *f, size_t max_line)
{
    memset(f, 0, sizeof(*f));
    f->max_line = max_line;
}

void prism_framer_deinit(struct prism_framer *f)
{
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

size_t prism_framer_pending(const struct prism_framer *f)
{
    return f->len;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static bool deliver(const char *line, size_t len, const struct prism_framer_callbacks *cb, void *ud)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (blank(line, len))
        return true;
    return cb->on_line(ud, line, len);
}

/* Appends to the partial line, growing geometrically up to max_line. */
static int hold(struct prism_framer *f, const char *data, size_t len)
{
    if (f->len + len > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + len)
            cap *= 2;
        if (cap > f->max_line)
            cap = f->max_line;
        char *buf = realloc(f->buf, cap);
        if (buf == NULL)
            return PRISM_ENOMEM;
        f->buf = buf;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, data, len);
    f->len += len;
    return 0;
}

int prism_framer_feed(struct prism_framer *f, const char *data, size_t len,
                      const struct prism_framer_callbacks *cb, void *ud)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl != NULL ? (size_t)(nl - data) : len;
        if (f->skipping) {
            if (nl != NULL)
                f->skipping = false;
        } else if (f->len + take > f->max_line) {
            f->len = 0;
            f->skipping = nl == NULL;
            if (!cb->on_overlong(ud))
                return 1;
        } else if (nl == NULL) {
            return hold(f, data, take);
        } else if (f->len == 0) {
            if (!deliver(data, take, cb, ud))
                return 1;
        } else {
            int rc = hold(f, data, take);
            if (rc != 0)
                return rc;
            size_t total = f->len;
            f->len = 0;
            if (!deliver(f->buf, total, cb, ud))
                return 1;
        }
        if (nl == NULL)
            break;
        take++;
        data += take;
        len -= take;
    }
    return 0;
}
