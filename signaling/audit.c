/* The audit trail (see audit.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/idhash.h"
#include "relay/base/error.h"
#include "relay/base/log.h"
#include "signaling/audit.h"

struct prism_audit {
    FILE *file; /* O_APPEND; stderr when path is "-" */
};

static FILE *open_append(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stderr;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "a");
    if (f == NULL) {
        close(fd);
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, 64 * 1024);
    return f;
}

int prism_audit_open(const char *path, struct prism_audit **out)
{
    struct prism_audit *audit = calloc(1, sizeof(*audit));
    if (audit == NULL)
        return PRISM_ENOMEM;
    audit->file = open_append(path);
    if (audit->file == NULL) {
        free(audit);
        return PRISM_EIO;
    }
    *out = audit;
    return 0;
}

static void close_file(FILE *f)
{
    if (f == stderr)
        fflush(f);
    else
        fclose(f);
}

void prism_audit_close(struct prism_audit *audit)
{
    if (audit == NULL)
        return;
    close_file(audit->file);
    free(audit);
}

int prism_audit_reopen(struct prism_audit *audit, const char *path)
{
    FILE *f = open_append(path);
    if (f == NULL)
        return PRISM_EIO;
    close_file(audit->file);
    audit->file = f;
    return 0;
}

static void field(char *line, size_t cap, size_t *len, const char *key, const char *value)
{
    int n = snprintf(line + *len, cap - *len, ",\"%s\":\"", key);
    if (n < 0 || (size_t)n >= cap - *len)
        return;
    *len += (size_t)n;
    prism_json_escape(line, cap - 2, len, value);
    line[(*len)++] = '"';
}

static void pseudonym(char *line, size_t cap, size_t *len, const char *kind, const char *id)
{
    if (id == NULL)
        return;
    char hash[PRISM_IDHASH_LEN + 1];
    prism_idhash(kind, id, strlen(id), hash);
    field(line, cap, len, kind, hash);
}

void prism_audit_record(struct prism_audit *audit, const char *client, const char *method,
                        const char *tenant, const char *bubble, const char *peer,
                        const char *result)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(line, sizeof(line), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len, ".%06ldZ\"", ts.tv_nsec / 1000);
    field(line, sizeof(line) - 4, &len, "client", client);
    field(line, sizeof(line) - 4, &len, "method", method != NULL ? method : "-");
    pseudonym(line, sizeof(line) - 4, &len, "tenant", tenant);
    pseudonym(line, sizeof(line) - 4, &len, "bubble", bubble);
    pseudonym(line, sizeof(line) - 4, &len, "peer", peer);
    field(line, sizeof(line) - 4, &len, "result", result);
    line[len++] = '}';
    line[len++] = '\n';
    fwrite(line, 1, len, audit->file);
}

void prism_audit_flush(struct prism_audit *audit)
{
    fflush(audit->file);
}
