/* Error code tables: reason strings of the control protocol and messages. */
#include <stdio.h>
#include <stdlib.h>

#include "relay/base/check.h"
#include "relay/base/error.h"

const char *prism_error_reason(int err)
{
    switch (err) {
    case PRISM_ENOTFOUND: return "not_found";
    case PRISM_EEXIST: return "exists";
    case PRISM_EQUOTA: return "quota_exceeded";
    case PRISM_EFORBIDDEN: return "forbidden";
    case PRISM_EBADSDP: return "bad_sdp";
    case PRISM_EUNSUPPORTED: return "unsupported";
    case PRISM_EDRAINING: return "draining";
    case PRISM_EOVERLOADED: return "overloaded";
    default: return "internal";
    }
}

const char *prism_error_str(int err)
{
    switch (err) {
    case PRISM_OK: return "success";
    case PRISM_EINVAL: return "invalid argument";
    case PRISM_ENOTFOUND: return "no such object";
    case PRISM_EEXIST: return "object already exists";
    case PRISM_EQUOTA: return "quota exceeded";
    case PRISM_EFORBIDDEN: return "forbidden";
    case PRISM_EBADSDP: return "malformed or unacceptable SDP";
    case PRISM_EUNSUPPORTED: return "not supported";
    case PRISM_EDRAINING: return "relay is draining";
    case PRISM_EOVERLOADED: return "relay is overloaded";
    case PRISM_ENOMEM: return "out of memory";
    case PRISM_EIO: return "input/output error";
    case PRISM_ECRYPTO: return "cryptographic failure";
    case PRISM_EPENDING: return "pending";
    default: return "internal error";
    }
}

void prism__check_failed(const char *expr, const char *file, int line)
{
    fprintf(stderr, "prism: check failed: %s at %s:%d\n", expr, file, line);
    abort();
}
