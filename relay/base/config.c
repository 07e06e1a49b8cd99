/* Configuration: defaults and the key-file parser (see config.h and
 * docs/configuration.md, which documents every key read here).
 *
 * The format is GLib's key file (INI with [groups], `key = value`, lists
 * separated by `;` or `,`). Unknown groups and keys are errors, so a typo never
 * silently leaves a security setting at its default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "relay/base/config.h"
#include "relay/base/error.h"

void prism_config_defaults(struct prism_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    prism_config_set_str(cfg->control_path, sizeof(cfg->control_path), "./prism-control.sock");
    cfg->max_line_bytes = 1024 * 1024;
    cfg->max_connections = 1024;
    cfg->max_pending_bytes = 8 * 1024 * 1024;
    cfg->tls_max_handshakes = 64;
    cfg->tls_handshake_timeout_ms = 5000;
    cfg->tls_idle_timeout_ms = 2000;
    cfg->tls_handshakes_per_s = 100;
    cfg->workers = 0;
    cfg->port_min = 40000;
    cfg->port_max = 49999;
    cfg->rtx_history = 256;
    cfg->connect_timeout_ms = 30000;
    cfg->ice_timeout_ms = 30000;
    cfg->tcp_max_connections = 256;
    cfg->tenant_defaults.max_bubbles = 1000;
    cfg->tenant_defaults.max_peers = 10000;
    cfg->tenant_defaults.max_kbps = 0;
    cfg->event_backlog = 16384;
    cfg->event_backlog_bytes = 16 * 1024 * 1024;
    prism_config_set_str(cfg->log_path, sizeof(cfg->log_path), "-");
    cfg->log_level = PRISM_LOG_INFO;
    prism_config_set_str(cfg->audit_path, sizeof(cfg->audit_path), "prism-audit.log");
}

void prism_config_resolve(struct prism_config *cfg)
{
    if (cfg->tenant_defaults.max_transports == 0) {
        uint32_t ports = (uint32_t)cfg->port_max - cfg->port_min + 1;
        uint32_t per = cfg->n_media_ips > 0 ? (uint32_t)cfg->n_media_ips : 4;
        cfg->tenant_defaults.max_transports = ports / per > 0 ? ports / per : 1;
    }
}

int prism_config_set_str(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    if (len >= cap) {
        dst[0] = '\0';
        return PRISM_EINVAL;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

/* Parses a whole decimal number in [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return PRISM_EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return PRISM_EINVAL;
    *out = v;
    return 0;
}

int prism_config_parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
    char buf[32];
    if (prism_config_set_str(buf, sizeof(buf), s) != 0)
        return PRISM_EINVAL;
    char *dash = strchr(buf, '-');
    if (dash == NULL)
        return PRISM_EINVAL;
    *dash = '\0';
    uint64_t a, b;
    if (parse_u64(buf, 1, 65535, &a) != 0 || parse_u64(dash + 1, 1, 65535, &b) != 0 || a > b)
        return PRISM_EINVAL;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return 0;
}

/* One key of the file and where its value goes. */
enum key_type { KEY_STR, KEY_SIZE, KEY_U32, KEY_WORKERS, KEY_PORTS, KEY_LEVEL, KEY_UIDS, KEY_IPS };

struct key_spec {
    const char *group;
    const char *key;
    enum key_type type;
    size_t offset; /* into struct prism_config */
    size_t size;   /* of the destination, for strings */
    uint64_t min, max;
};

#define FIELD(f) offsetof(struct prism_config, f), sizeof(((struct prism_config *)0)->f)

static const struct key_spec keys[] = {
    {"control", "socket", KEY_STR, FIELD(control_path), 0, 0},
    {"control", "allow_uids", KEY_UIDS, FIELD(allow_uids), 0, 0},
    {"control", "max_line", KEY_SIZE, FIELD(max_line_bytes), 1024, 64 * 1024 * 1024},
    {"control", "max_connections", KEY_SIZE, FIELD(max_connections), 1, 1000000},
    {"control", "max_pending", KEY_SIZE, FIELD(max_pending_bytes), 65536, 1024 * 1024 * 1024},
    {"control", "tls_listen", KEY_STR, FIELD(tls_listen), 0, 0},
    {"control", "tls_max_handshakes", KEY_SIZE, FIELD(tls_max_handshakes), 1, 100000},
    {"control", "tls_handshake_timeout_ms", KEY_SIZE, FIELD(tls_handshake_timeout_ms), 50, 600000},
    {"control", "tls_idle_timeout_ms", KEY_SIZE, FIELD(tls_idle_timeout_ms), 50, 600000},
    {"control", "tls_handshakes_per_s", KEY_SIZE, FIELD(tls_handshakes_per_s), 1, 1000000},
    {"control", "tls_cert", KEY_STR, FIELD(tls_cert), 0, 0},
    {"control", "tls_key", KEY_STR, FIELD(tls_key), 0, 0},
    {"control", "tls_client_ca", KEY_STR, FIELD(tls_client_ca), 0, 0},
    {"media", "workers", KEY_WORKERS, FIELD(workers), 0, 256},
    {"media", "ports", KEY_PORTS, 0, 0, 0, 0},
    {"media", "advertise_ip", KEY_STR, FIELD(advertise_ip), 0, 0},
    {"media", "media_ip", KEY_IPS, FIELD(media_ips), 0, 0},
    {"media", "rtx_history", KEY_SIZE, FIELD(rtx_history), 0, 4096},
    {"media", "connect_timeout_ms", KEY_U32, FIELD(connect_timeout_ms), 100, 3600000},
    {"media", "ice_timeout_ms", KEY_U32, FIELD(ice_timeout_ms), 1000, 3600000},
    {"media", "tcp_max_connections", KEY_SIZE, FIELD(tcp_max_connections), 0, 65536},
    {"limits", "max_bubbles", KEY_U32, FIELD(tenant_defaults.max_bubbles), 0, UINT32_MAX},
    {"limits", "max_peers", KEY_U32, FIELD(tenant_defaults.max_peers), 0, UINT32_MAX},
    {"limits", "max_kbps", KEY_U32, FIELD(tenant_defaults.max_kbps), 0, UINT32_MAX},
    {"limits", "max_transports", KEY_U32, FIELD(tenant_defaults.max_transports), 0, UINT32_MAX},
    {"limits", "event_backlog", KEY_SIZE, FIELD(event_backlog), 10000, 10000000},
    {"limits", "event_backlog_bytes", KEY_SIZE, FIELD(event_backlog_bytes), 1024 * 1024,
     (uint64_t)64 * 1024 * 1024 * 1024},
    {"metrics", "listen", KEY_STR, FIELD(metrics_listen), 0, 0},
    {"log", "file", KEY_STR, FIELD(log_path), 0, 0},
    {"log", "level", KEY_LEVEL, FIELD(log_level), 0, 0},
    {"log", "audit_file", KEY_STR, FIELD(audit_path), 0, 0},
};

static const struct key_spec *find_key(const char *group, const char *key)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

static bool group_known(const char *group)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].group, group) == 0)
            return true;
    return false;
}

/* Splits a list value on ';' or ',' and trims blanks. Returns a NULL-ended
 * vector to free with g_strfreev. */
static char **split_list(const char *value)
{
    char **items = g_strsplit_set(value, ";,", -1);
    size_t w = 0;
    for (size_t r = 0; items[r] != NULL; r++) {
        g_strstrip(items[r]);
        if (items[r][0] == '\0') {
            g_free(items[r]);
            continue;
        }
        items[w++] = items[r];
    }
    items[w] = NULL;
    return items;
}

static int apply_key(struct prism_config *cfg, const struct key_spec *k, const char *value)
{
    char *base = (char *)cfg;
    uint64_t v;
    switch (k->type) {
    case KEY_STR: return prism_config_set_str(base + k->offset, k->size, value);
    case KEY_SIZE:
        if (parse_u64(value, k->min, k->max, &v) != 0)
            return PRISM_EINVAL;
        *(size_t *)(void *)(base + k->offset) = (size_t)v;
        return 0;
    case KEY_U32:
        if (parse_u64(value, k->min, k->max, &v) != 0)
            return PRISM_EINVAL;
        *(uint32_t *)(void *)(base + k->offset) = (uint32_t)v;
        return 0;
    case KEY_WORKERS:
        if (parse_u64(value, k->min, k->max, &v) != 0)
            return PRISM_EINVAL;
        cfg->workers = (unsigned)v;
        return 0;
    case KEY_PORTS: return prism_config_parse_ports(value, &cfg->port_min, &cfg->port_max);
    case KEY_LEVEL: return prism_log_level_parse(value, &cfg->log_level);
    case KEY_UIDS: {
        char **items = split_list(value);
        int rc = 0;
        cfg->n_allow_uids = 0;
        for (size_t i = 0; items[i] != NULL && rc == 0; i++) {
            if (cfg->n_allow_uids == PRISM_CONFIG_MAX_UIDS ||
                parse_u64(items[i], 0, UINT32_MAX - 1, &v) != 0)
                rc = PRISM_EINVAL;
            else
                cfg->allow_uids[cfg->n_allow_uids++] = (uid_t)v;
        }
        g_strfreev(items);
        return rc;
    }
    case KEY_IPS: {
        char **items = split_list(value);
        int rc = 0;
        cfg->n_media_ips = 0;
        for (size_t i = 0; items[i] != NULL && rc == 0; i++) {
            if (cfg->n_media_ips == PRISM_CONFIG_MAX_MEDIA_IPS)
                rc = PRISM_EINVAL;
            else
                rc = prism_config_set_str(cfg->media_ips[cfg->n_media_ips++], 64, items[i]);
        }
        g_strfreev(items);
        return rc;
    }
    }
    return PRISM_EINVAL;
}

/* Reads a client group's `max_*` key into its cap. Returns 0 if `key` is
 * not one, 1 if it was read, PRISM_EINVAL if its value is bad. */
static int client_cap_key(struct prism_config_client *c, const char *key, const char *value)
{
    uint32_t *field = NULL;
    bool *has = NULL;
    if (strcmp(key, "max_bubbles") == 0) {
        field = &c->cap.max_bubbles;
        has = &c->has_max_bubbles;
    } else if (strcmp(key, "max_peers") == 0) {
        field = &c->cap.max_peers;
        has = &c->has_max_peers;
    } else if (strcmp(key, "max_kbps") == 0) {
        field = &c->cap.max_kbps;
        has = &c->has_max_kbps;
    } else {
        return 0;
    }
    uint64_t v;
    if (parse_u64(value, 0, UINT32_MAX, &v) != 0)
        return PRISM_EINVAL;
    *field = (uint32_t)v;
    *has = true;
    return 1;
}

/* [client NAME]: uid = N | fingerprint = HEX, tenants = a;b,
 * max_bubbles / max_peers / max_kbps = N */
static int load_client(struct prism_config *cfg, GKeyFile *kf, const char *group, char *err,
                       size_t err_len)
{
    const char *name = group + strlen("client ");
    if (cfg->n_clients == PRISM_CONFIG_MAX_CLIENTS || !prism_id_valid(name, strlen(name))) {
        snprintf(err, err_len, "[%s]: bad client name or too many clients", group);
        return PRISM_EINVAL;
    }
    struct prism_config_client *c = &cfg->clients[cfg->n_clients];
    memset(c, 0, sizeof(*c));
    prism_config_set_str(c->name, sizeof(c->name), name);
    gchar **ckeys = g_key_file_get_keys(kf, group, NULL, NULL);
    int rc = 0;
    for (size_t i = 0; ckeys != NULL && ckeys[i] != NULL && rc == 0; i++) {
        gchar *value = g_key_file_get_value(kf, group, ckeys[i], NULL);
        uint64_t v;
        if (strcmp(ckeys[i], "uid") == 0 && parse_u64(value, 0, UINT32_MAX - 1, &v) == 0) {
            c->has_uid = true;
            c->uid = (uid_t)v;
        } else if (strcmp(ckeys[i], "fingerprint") == 0 && strlen(value) == 64 &&
                   strspn(value, "0123456789abcdefABCDEF") == 64) {
            for (size_t j = 0; j < 64; j++)
                c->fingerprint[j] = (char)g_ascii_tolower(value[j]);
        } else if (strcmp(ckeys[i], "tenants") == 0) {
            char **items = split_list(value);
            for (size_t j = 0; items[j] != NULL && rc == 0; j++) {
                if (c->n_tenants == PRISM_CONFIG_MAX_CLIENT_TENANTS ||
                    !prism_id_valid(items[j], strlen(items[j])))
                    rc = PRISM_EINVAL;
                else
                    prism_config_set_str(c->tenants[c->n_tenants++], PRISM_ID_MAX + 1, items[j]);
            }
            g_strfreev(items);
            /* Fail closed: `tenants =` with no tenant would otherwise read as
             * "every tenant", the opposite of what the line seems to say. */
            if (rc == 0 && c->n_tenants == 0) {
                snprintf(err, err_len,
                         "[%s] tenants: empty list (name at least one tenant, or remove the key "
                         "for an unrestricted client)",
                         group);
                g_free(value);
                rc = PRISM_EINVAL;
                break;
            }
        } else if ((rc = client_cap_key(c, ckeys[i], value)) == 1) {
            rc = 0;
        } else {
            rc = PRISM_EINVAL;
        }
        if (rc != 0)
            snprintf(err, err_len, "[%s] %s: invalid", group, ckeys[i]);
        g_free(value);
    }
    g_strfreev(ckeys);
    if (rc == 0 && !c->has_uid && c->fingerprint[0] == '\0') {
        snprintf(err, err_len, "[%s]: needs uid or fingerprint", group);
        rc = PRISM_EINVAL;
    }
    if (rc == 0)
        cfg->n_clients++;
    return rc;
}

int prism_config_load(struct prism_config *cfg, const char *path, char *err, size_t err_len)
{
    GKeyFile *kf = g_key_file_new();
    GError *gerr = NULL;
    int rc = 0;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &gerr)) {
        snprintf(err, err_len, "%s: %s", path, gerr->message);
        rc = gerr->domain == G_FILE_ERROR ? PRISM_EIO : PRISM_EINVAL;
        g_error_free(gerr);
        g_key_file_free(kf);
        return rc;
    }
    prism_config_set_str(cfg->config_file, sizeof(cfg->config_file), path);
    cfg->n_clients = 0;
    gchar **groups = g_key_file_get_groups(kf, NULL);
    for (size_t g = 0; groups[g] != NULL && rc == 0; g++) {
        if (strncmp(groups[g], "client ", 7) == 0) {
            rc = load_client(cfg, kf, groups[g], err, err_len);
            continue;
        }
        if (!group_known(groups[g])) {
            snprintf(err, err_len, "%s: unknown group [%s]", path, groups[g]);
            rc = PRISM_EINVAL;
            break;
        }
        gchar **gkeys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
        for (size_t i = 0; gkeys != NULL && gkeys[i] != NULL && rc == 0; i++) {
            const struct key_spec *k = find_key(groups[g], gkeys[i]);
            gchar *value = g_key_file_get_value(kf, groups[g], gkeys[i], NULL);
            if (k == NULL) {
                snprintf(err, err_len, "%s: unknown key %s in [%s]", path, gkeys[i], groups[g]);
                rc = PRISM_EINVAL;
            } else if (apply_key(cfg, k, value) != 0) {
                snprintf(err, err_len, "%s: invalid value for %s in [%s]", path, gkeys[i],
                         groups[g]);
                rc = PRISM_EINVAL;
            }
            g_free(value);
        }
        g_strfreev(gkeys);
    }
    g_strfreev(groups);
    g_key_file_free(kf);
    return rc;
}
