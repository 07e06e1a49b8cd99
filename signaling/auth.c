/* Control client identity and tenant limits (see auth.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "relay/base/error.h"
#include "signaling/auth.h"

static void apply_limits(const struct prism_config *cfg, const struct prism_config_client *entry,
                         struct prism_client *out)
{
    out->restricted = entry->n_tenants > 0;
    out->n_tenants = entry->n_tenants;
    memcpy(out->tenants, entry->tenants, sizeof(out->tenants));
    out->capped =
        out->restricted || entry->has_max_bubbles || entry->has_max_peers || entry->has_max_kbps;
    out->cap = cfg->tenant_defaults;
    if (entry->has_max_bubbles)
        out->cap.max_bubbles = entry->cap.max_bubbles;
    if (entry->has_max_peers)
        out->cap.max_peers = entry->cap.max_peers;
    if (entry->has_max_kbps)
        out->cap.max_kbps = entry->cap.max_kbps;
}

int prism_client_from_uid(const struct prism_config *cfg, uid_t uid, struct prism_client *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->label, sizeof(out->label), "uid:%lu", (unsigned long)uid);
    bool allowed = cfg->n_allow_uids == 0 && uid == geteuid();
    for (size_t i = 0; i < cfg->n_allow_uids; i++)
        allowed = allowed || cfg->allow_uids[i] == uid;
    for (size_t i = 0; i < cfg->n_clients; i++) {
        if (cfg->clients[i].has_uid && cfg->clients[i].uid == uid) {
            allowed = true;
            apply_limits(cfg, &cfg->clients[i], out);
            break;
        }
    }
    return allowed ? 0 : PRISM_EFORBIDDEN;
}

void prism_client_from_cert(const struct prism_config *cfg, const char *fingerprint_hex,
                            struct prism_client *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->label, sizeof(out->label), "cert:%s", fingerprint_hex);
    for (size_t i = 0; i < cfg->n_clients; i++) {
        if (strcmp(cfg->clients[i].fingerprint, fingerprint_hex) == 0) {
            apply_limits(cfg, &cfg->clients[i], out);
            break;
        }
    }
}

bool prism_client_may(const struct prism_client *client, const char *tenant)
{
    if (!client->restricted)
        return true;
    for (size_t i = 0; i < client->n_tenants; i++)
        if (strcmp(client->tenants[i], tenant) == 0)
            return true;
    return false;
}

bool prism_client_limit_within(uint32_t asked, uint32_t cap)
{
    return cap == 0 || (asked != 0 && asked <= cap);
}
