/* libFuzzer target for relay/wire/candidate: any bytes as a candidate line.
 * Invariants checked: a refusal says why; an accepted line is framed, and
 * what prism_candidate_format() writes from it is at most
 * PRISM_CANDIDATE_MAX bytes and parses back into the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/check.h"
#include "relay/base/error.h"
#include "relay/wire/candidate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_addr(const struct prism_candidate_addr *a, const struct prism_candidate_addr *b)
{
    return a->kind == b->kind && strcmp(a->text, b->text) == 0;
}

static bool same(const struct prism_candidate *a, const struct prism_candidate *b)
{
    return strcmp(a->foundation, b->foundation) == 0 && a->component == b->component &&
           a->transport == b->transport && a->priority == b->priority &&
           same_addr(&a->address, &b->address) && a->port == b->port && a->type == b->type &&
           a->has_raddr == b->has_raddr && (!a->has_raddr || same_addr(&a->raddr, &b->raddr)) &&
           a->has_rport == b->has_rport && (!a->has_rport || a->rport == b->rport) &&
           a->tcptype == b->tcptype;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    struct prism_candidate c, back;
    int rc = prism_candidate_parse(line, size, &c);
    if (rc != 0) {
        PRISM_CHECK(rc == PRISM_EINVAL && c.reason != NULL);
        return 0;
    }
    PRISM_CHECK(c.reason == NULL && prism_candidate_framed(line, size));
    char buf[PRISM_CANDIDATE_LEN];
    PRISM_CHECK(prism_candidate_format(&c, buf, sizeof(buf)) == 0);
    size_t n = strlen(buf);
    PRISM_CHECK(n <= PRISM_CANDIDATE_MAX);
    PRISM_CHECK(prism_candidate_parse(buf, n, &back) == 0 && same(&c, &back));
    return 0;
}
