/* Structured JSON-lines log (see log.h).
 *
 * The destination fd and level are plain atomics: the control thread swaps
 * them on SIGHUP while workers may be writing. A replaced fd is closed only at
 * the next open, one generation late, so a writer racing the swap never writes
 * into a reused descriptor number. Lines are capped at 4 KiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay/base/error.h"
#include "relay/base/log.h"

#define LOG_LINE_MAX 4096

static atomic_int log_fd = 2;
static atomic_int log_level = PRISM_LOG_INFO;
static int retired_fd = -1; /* owned by the control thread */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int prism_log_level_parse(const char *name, enum prism_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum prism_log_level)i;
            return 0;
        }
    }
    return PRISM_EINVAL;
}

int prism_log_open(const char *path, enum prism_log_level level)
{
    int fd = 2;
    if (path != NULL && strcmp(path, "-") != 0) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return PRISM_EIO;
    }
    if (retired_fd > 2)
        close(retired_fd);
    retired_fd = atomic_exchange(&log_fd, fd);
    atomic_store(&log_level, (int)level);
    return 0;
}

void prism_log_close(void)
{
    int old = atomic_exchange(&log_fd, 2);
    if (old > 2)
        close(old);
    if (retired_fd > 2)
        close(retired_fd);
    retired_fd = -1;
}

void prism_json_escape(char *out, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *len;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c < 0x20) {
            esc[k++] = '\\';
            esc[k++] = 'u';
            esc[k++] = '0';
            esc[k++] = '0';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        if (n + k >= cap)
            break;
        memcpy(out + n, esc, k);
        n += k;
    }
    *len = n;
}

static void append(char *out, size_t cap, size_t *len, const char *s)
{
    size_t k = strlen(s);
    if (*len + k >= cap)
        k = cap - *len - 1;
    memcpy(out + *len, s, k);
    *len += k;
}

void prism_log(enum prism_log_level level, const char *event, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    char line[LOG_LINE_MAX];
    size_t len = 0;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    len = strftime(line, sizeof(line), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
    len +=
        (size_t)snprintf(line + len, sizeof(line) - len, ".%03ldZ\",\"level\":\"%s\",\"event\":\"",
                         ts.tv_nsec / 1000000, level_names[level]);
    prism_json_escape(line, sizeof(line) - 3, &len, event);
    append(line, sizeof(line) - 3, &len, "\"");

    va_list ap;
    va_start(ap, event);
    for (const char *key = va_arg(ap, const char *); key != NULL; key = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        append(line, sizeof(line) - 3, &len, ",\"");
        prism_json_escape(line, sizeof(line) - 3, &len, key);
        append(line, sizeof(line) - 3, &len, "\":\"");
        prism_json_escape(line, sizeof(line) - 3, &len, value != NULL ? value : "");
        append(line, sizeof(line) - 3, &len, "\"");
    }
    va_end(ap);
    line[len++] = '}';
    line[len++] = '\n';
    ssize_t rc;
    do
        rc = write(atomic_load(&log_fd), line, len);
    while (rc < 0 && errno == EINTR);
}
