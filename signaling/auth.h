/* Who a control client is and what it may touch (REQUIREMENTS.md 1.2).
 *
 * No anonymous access: a Unix client is admitted only if its uid (from
 * SO_PEERCRED) is on the allow-list (control.allow_uids, the relay's own uid
 * by default, plus the uids named in [client NAME] groups); a TLS client only
 * with a certificate from the configured CA. A [client NAME] group that
 * matches the uid or certificate fingerprint may limit it to some tenants;
 * anything else it touches is `forbidden`. Control thread.
 *
 * Quota ceiling (issue 9, finding 6): a limited client may delete and create
 * its own tenants, so the limits it gives tenant.create are capped, or it
 * could lift its own quotas. A client matched by a group with `tenants` or
 * any `max_*` key is "capped": each limit it asks must be no looser than its
 * cap (the group's `max_*`, else the [limits] default), 0 (unlimited) being
 * looser than any number; a limit it does not give takes the cap.
 */
#ifndef PRISM_SIGNALING_AUTH_H
#define PRISM_SIGNALING_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "relay/base/config.h"

struct prism_client {
    char label[80];  /* for the audit log: "uid:1000" or "cert:<sha-256 hex>" */
    bool restricted; /* limited to `tenants` */
    size_t n_tenants;
    char tenants[PRISM_CONFIG_MAX_CLIENT_TENANTS][PRISM_ID_MAX + 1];
    bool capped;             /* tenant.create limits may not exceed `cap` */
    struct prism_limits cap; /* max_bubbles, max_peers, max_kbps only (the limits
                                tenant.create takes); 0 in one: not capped */
};

/* Identifies a Unix client. Returns 0, or PRISM_EFORBIDDEN if `uid` may not
 * connect at all. */
int prism_client_from_uid(const struct prism_config *cfg, uid_t uid, struct prism_client *out);

/* Identifies a TLS client whose certificate the CA already vouched for. */
void prism_client_from_cert(const struct prism_config *cfg, const char *fingerprint_hex,
                            struct prism_client *out);

/* True if the client may act on `tenant`. */
bool prism_client_may(const struct prism_client *client, const char *tenant);

/* True if a tenant limit `asked` (0 = unlimited) is no looser than `cap`
 * (0 = uncapped): cap == 0, or 0 < asked <= cap. */
bool prism_client_limit_within(uint32_t asked, uint32_t cap);

#endif
