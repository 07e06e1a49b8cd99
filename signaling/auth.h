/* Who a control client is and what it may touch (REQUIREMENTS.md 1.2).
 *
 * No anonymous access: a Unix client is admitted only if its uid (from
 * SO_PEERCRED) is on the allow-list (control.allow_uids, the relay's own uid
 * by default, plus the uids named in [client NAME] groups); a TLS client only
 * with a certificate from the configured CA. A [client NAME] group that
 * matches the uid or certificate fingerprint may limit it to some tenants;
 * anything else it touches is `forbidden`. Control thread.
 */
#ifndef PRISM_SIGNALING_AUTH_H
#define PRISM_SIGNALING_AUTH_H

#include <stdbool.h>
#include <sys/types.h>

#include "relay/base/config.h"

struct prism_client {
    char label[80];  /* for the audit log: "uid:1000" or "cert:<sha-256 hex>" */
    bool restricted; /* limited to `tenants` */
    size_t n_tenants;
    char tenants[PRISM_CONFIG_MAX_CLIENT_TENANTS][PRISM_ID_MAX + 1];
};

/* Identifies a Unix client. Returns 0, or PRISM_EFORBIDDEN if `uid` may not
 * connect at all. */
int prism_client_from_uid(const struct prism_config *cfg, uid_t uid, struct prism_client *out);

/* Identifies a TLS client whose certificate the CA already vouched for. */
void prism_client_from_cert(const struct prism_config *cfg, const char *fingerprint_hex,
                            struct prism_client *out);

/* True if the client may act on `tenant`. */
bool prism_client_may(const struct prism_client *client, const char *tenant);

#endif
