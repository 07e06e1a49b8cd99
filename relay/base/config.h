/* The relay's configuration: built-in defaults, an optional INI-style file
 * (GLib key file, see docs/configuration.md) and command-line overrides.
 *
 * Owned by the control thread. A loaded config is immutable once published to
 * workers; SIGHUP builds a new one and swaps only the reloadable parts (TLS
 * material, log settings).
 */
#ifndef PRISM_RELAY_CONFIG_H
#define PRISM_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "relay/base/ids.h"
#include "relay/base/log.h"

#define PRISM_CONFIG_MAX_UIDS 32
#define PRISM_CONFIG_MAX_CLIENTS 64
#define PRISM_CONFIG_MAX_CLIENT_TENANTS 32
#define PRISM_CONFIG_MAX_MEDIA_IPS 8
#define PRISM_PATH_MAX 512

/* Per-tenant limits; 0 means unlimited. */
struct prism_limits {
    uint32_t max_bubbles; /* bubbles at once */
    uint32_t max_peers;   /* peers at once, over all its bubbles */
    uint32_t max_kbps;    /* media bitrate cap, enforced by the media plane */
    /* Media transports open or opening at once, over all its peers. Only
     * from the config's [limits] (tenant.create cannot set it); 0 in the
     * config means what the port range holds: prism_config_resolve(). */
    uint32_t max_transports;
};

/* A control client named in the config and what it may touch. */
struct prism_config_client {
    char name[PRISM_ID_MAX + 1]; /* the group name, for logs */
    bool has_uid;                /* matches Unix clients by uid ... */
    uid_t uid;
    char fingerprint[65]; /* ... or TLS clients by cert SHA-256 (hex), "" if none */
    size_t n_tenants;     /* 0: every tenant (no `tenants` key; an empty one is an error) */
    char tenants[PRISM_CONFIG_MAX_CLIENT_TENANTS][PRISM_ID_MAX + 1];
    /* Most a tenant.create from this client may ask (its `max_*` keys); a
     * field whose has_ flag is false takes the [limits] default (auth.c). */
    struct prism_limits cap;
    bool has_max_bubbles, has_max_peers, has_max_kbps;
};

struct prism_config {
    char config_file[PRISM_PATH_MAX]; /* "" when running on defaults */

    /* [control] */
    char control_path[PRISM_PATH_MAX]; /* Unix socket; "" disables it */
    size_t n_allow_uids;               /* 0: only the relay's own uid */
    uid_t allow_uids[PRISM_CONFIG_MAX_UIDS];
    size_t max_line_bytes;           /* longest request line */
    size_t max_connections;          /* Unix, and apart established TLS, connections */
    size_t max_pending_bytes;        /* unsent replies before reading pauses */
    char tls_listen[PRISM_PATH_MAX]; /* "HOST:PORT", "" disables TLS */
    size_t tls_max_handshakes;       /* TLS connections in their handshake at once */
    size_t tls_handshake_timeout_ms; /* from accept to a finished handshake */
    size_t tls_idle_timeout_ms;      /* silence allowed before the handshake ends */
    size_t tls_handshakes_per_s;     /* TLS handshakes started per second */
    char tls_cert[PRISM_PATH_MAX];
    char tls_key[PRISM_PATH_MAX];
    char tls_client_ca[PRISM_PATH_MAX];
    size_t n_clients;
    struct prism_config_client clients[PRISM_CONFIG_MAX_CLIENTS];

    /* [media] */
    unsigned workers;            /* 0: one per core */
    uint16_t port_min, port_max; /* media port range */
    size_t rtx_history;          /* packets a video track keeps for retransmissions, 0: none */
    char advertise_ip[64];       /* "" : the host candidates' own */
    size_t n_media_ips;          /* 0: every non-loopback interface */
    char media_ips[PRISM_CONFIG_MAX_MEDIA_IPS][64];
    uint32_t connect_timeout_ms; /* a transport not connected this long after the peer's
                                    description fails ("timeout: ice"/"timeout: dtls") */
    uint32_t ice_timeout_ms;     /* a connected transport silent this long fails ("consent
                                    lost"): ICE-lite keeps no consent of its own */
    size_t tcp_max_connections;  /* ICE-TCP connections per worker at once; 0: no ICE-TCP */

    /* [limits] defaults for tenants created without limits */
    struct prism_limits tenant_defaults;
    size_t event_backlog;       /* events kept for `since` replay */
    size_t event_backlog_bytes; /* ... and the most bytes of them kept */

    /* [metrics] */
    char metrics_listen[64]; /* "HOST:PORT" of the HTTP listener (/metrics, /healthz,
                                /readyz); "" disables it */

    /* [log] */
    char log_path[PRISM_PATH_MAX]; /* "-" = stderr */
    enum prism_log_level log_level;
    char audit_path[PRISM_PATH_MAX]; /* append-only audit log; "-" = stderr */
};

/* Fills `cfg` with the built-in defaults (a checkout-friendly setup: socket
 * ./prism-control.sock, audit ./prism-audit.log, log on stderr). */
void prism_config_defaults(struct prism_config *cfg);

/* Loads `path` over the current contents of `cfg`. On error returns
 * PRISM_EINVAL or PRISM_EIO and writes a message to `err` (`err_len` bytes);
 * `cfg` may then be partly updated and must be discarded. */
int prism_config_load(struct prism_config *cfg, const char *path, char *err, size_t err_len);

/* Settles the defaults that depend on other settings, once the file and
 * the command line are applied: a tenant_defaults.max_transports of 0
 * becomes the transports the media port range holds (one port per media
 * address each; 4 addresses assumed when media_ip is unset). */
void prism_config_resolve(struct prism_config *cfg);

/* Parses "LO-HI" into a port range. Returns 0 or PRISM_EINVAL. */
int prism_config_parse_ports(const char *s, uint16_t *lo, uint16_t *hi);

/* Copies `src` into the fixed buffer `dst` of `cap` bytes. Returns 0, or
 * PRISM_EINVAL if it does not fit (dst is then left empty). */
int prism_config_set_str(char *dst, size_t cap, const char *src);

#endif
