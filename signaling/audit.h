/* The audit trail (REQUIREMENTS.md 2.2): one JSON line per control request,
 * appended to a file that Prism never truncates or rewrites.
 *
 * A record holds the time, the control client (uid or certificate
 * fingerprint), the method, the objects touched as keyed pseudonyms
 * (crypto/idhash.h) and the result ("ok" or the error reason). Never SDP,
 * candidates, keys or raw ids. Control thread; records are buffered and
 * written out by prism_audit_flush() once per batch of requests.
 */
#ifndef PRISM_SIGNALING_AUDIT_H
#define PRISM_SIGNALING_AUDIT_H

struct prism_audit;

/* Opens `path` for appending ("-" = stderr). Returns 0 or PRISM_EIO. */
int prism_audit_open(const char *path, struct prism_audit **out);
/* Flushes and closes. Accepts NULL. */
void prism_audit_close(struct prism_audit *audit);
/* Reopens at `path` (SIGHUP, log rotation). On failure the old file stays. */
int prism_audit_reopen(struct prism_audit *audit, const char *path);

/* Records one request. Any of method/tenant/bubble/peer may be NULL. */
void prism_audit_record(struct prism_audit *audit, const char *client, const char *method,
                        const char *tenant, const char *bubble, const char *peer,
                        const char *result);
void prism_audit_flush(struct prism_audit *audit);

#endif
