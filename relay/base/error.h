/* Error codes shared by every Prism module.
 *
 * Fallible functions return 0 or a negative PRISM_E* code. Foreign errors
 * (OpenSSL, libsrtp, GError, libuv) are translated where they are caught and
 * never travel further. Each code maps to one stable `data.reason` string of
 * the control protocol (PROTOCOL.md), see prism_error_reason().
 */
#ifndef PRISM_BASE_ERROR_H
#define PRISM_BASE_ERROR_H

enum prism_error {
    PRISM_OK = 0,
    PRISM_EINVAL = -1,       /* a parameter is malformed (JSON-RPC invalid params) */
    PRISM_ENOTFOUND = -2,    /* reason "not_found" */
    PRISM_EEXIST = -3,       /* reason "exists" */
    PRISM_EQUOTA = -4,       /* reason "quota_exceeded" */
    PRISM_EFORBIDDEN = -5,   /* reason "forbidden" */
    PRISM_EBADSDP = -6,      /* reason "bad_sdp" */
    PRISM_EUNSUPPORTED = -7, /* reason "unsupported" */
    PRISM_EDRAINING = -8,    /* reason "draining" */
    PRISM_EOVERLOADED = -9,  /* reason "overloaded" */
    PRISM_EINTERNAL = -10,   /* reason "internal" */
    PRISM_ENOMEM = -11,      /* reported as "internal" */
    PRISM_EIO = -12,         /* reported as "internal" */
    PRISM_ECRYPTO = -13,     /* a crypto library refused; reported as "internal" */
    PRISM_EPENDING = -14,    /* not an error: the answer comes later through a callback */
};

/* The protocol's stable reason string for `err` (never NULL). */
const char *prism_error_reason(int err);

/* A short human-readable description of `err` (never NULL). */
const char *prism_error_str(int err);

#endif
