/* Unit tests for relay/config: defaults, the key file, strict errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "relay/base/config.h"
#include "relay/base/error.h"

static char path[64];

static int load(struct prism_config *cfg, const char *text, char *err, size_t err_len)
{
    snprintf(path, sizeof(path), "/tmp/prism-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    prism_config_defaults(cfg);
    int rc = prism_config_load(cfg, path, err, err_len);
    unlink(path);
    return rc;
}

static void test_defaults(void **state)
{
    (void)state;
    struct prism_config cfg;
    prism_config_defaults(&cfg);
    assert_string_equal(cfg.control_path, "./prism-control.sock");
    assert_int_equal(cfg.max_line_bytes, 1024 * 1024);
    assert_true(cfg.event_backlog >= 10000);
    assert_string_equal(cfg.tls_listen, "");
}

static void test_full_file(void **state)
{
    (void)state;
    struct prism_config cfg;
    char err[256] = "";
    int rc = load(&cfg,
                  "# comment\n[control]\nsocket = /tmp/x.sock\nallow_uids = 0, 1000\n"
                  "max_line = 4096\n[media]\nworkers = 3\nports = 5000-5100\n"
                  "media_ip = 127.0.0.1;::1\n[limits]\nmax_bubbles = 7\n[log]\nlevel = warn\n"
                  "[client backend]\nfingerprint = "
                  "AB00000000000000000000000000000000000000000000000000000000000000\n"
                  "tenants = acme; globex\n",
                  err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.control_path, "/tmp/x.sock");
    assert_int_equal(cfg.n_allow_uids, 2);
    assert_int_equal(cfg.allow_uids[1], 1000);
    assert_int_equal(cfg.max_line_bytes, 4096);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.port_min, 5000);
    assert_int_equal(cfg.port_max, 5100);
    assert_int_equal(cfg.n_media_ips, 2);
    assert_string_equal(cfg.media_ips[1], "::1");
    assert_int_equal(cfg.tenant_defaults.max_bubbles, 7);
    assert_int_equal(cfg.log_level, PRISM_LOG_WARN);
    assert_int_equal(cfg.n_clients, 1);
    assert_string_equal(cfg.clients[0].name, "backend");
    assert_string_equal(cfg.clients[0].fingerprint,
                        "ab00000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(cfg.clients[0].n_tenants, 2);
    assert_string_equal(cfg.clients[0].tenants[1], "globex");
}

static void test_errors(void **state)
{
    (void)state;
    struct prism_config cfg;
    char err[256];
    static const char *const bad[] = {
        "[control]\nsocktet = x\n",       "[nosuch]\na = b\n",
        "[media]\nworkers = -1\n",        "[media]\nworkers = 2x\n",
        "[media]\nports = 10-5\n",        "[media]\nports = 0-5\n",
        "[log]\nlevel = loud\n",          "[control]\nmax_line = 1\n",
        "[client x]\ntenants = a\n",      "[client x]\nuid = 1\ntenants = bad id\n",
        "[client x]\nfingerprint = 12\n", "not a key file",
        "[limits]\nevent_backlog = 5\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_not_equal(load(&cfg, bad[i], err, sizeof(err)), 0);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(prism_config_load(&cfg, "/nonexistent/prism.conf", err, sizeof(err)),
                     PRISM_EIO);
}

/* Issue 9, finding 11: a `tenants` key that names no tenant is an error, not
 * an unrestricted client (fail closed). Absent, the client is unrestricted. */
static void test_client_empty_tenants(void **state)
{
    (void)state;
    struct prism_config cfg;
    char err[256];
    static const char *const bad[] = {
        "[client x]\nuid = 1\ntenants =\n",
        "[client x]\nuid = 1\ntenants = ;\n",
        "[client x]\nuid = 1\ntenants = , ; \n",
        ("[client x]\nfingerprint = "
         "ab00000000000000000000000000000000000000000000000000000000000000\ntenants = \n"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(load(&cfg, bad[i], err, sizeof(err)), PRISM_EINVAL);
        assert_non_null(strstr(err, "tenants: empty list"));
        assert_non_null(strstr(err, "[client x]"));
    }
    assert_int_equal(load(&cfg, "[client x]\nuid = 1\n", err, sizeof(err)), 0);
    assert_int_equal(cfg.n_clients, 1);
    assert_int_equal(cfg.clients[0].n_tenants, 0);
    assert_int_equal(load(&cfg, "[client x]\nuid = 1\ntenants = ;a;\n", err, sizeof(err)), 0);
    assert_int_equal(cfg.clients[0].n_tenants, 1);
}

/* Issue 9, finding 6: a client group's max_* keys cap its tenant.create. */
static void test_client_caps(void **state)
{
    (void)state;
    struct prism_config cfg;
    char err[256];
    assert_int_equal(load(&cfg, "[client x]\nuid = 1\ntenants = a\nmax_peers = 0\nmax_kbps = 900\n",
                          err, sizeof(err)),
                     0);
    assert_true(cfg.clients[0].has_max_peers);
    assert_int_equal(cfg.clients[0].cap.max_peers, 0);
    assert_true(cfg.clients[0].has_max_kbps);
    assert_int_equal(cfg.clients[0].cap.max_kbps, 900);
    assert_false(cfg.clients[0].has_max_bubbles);
    assert_int_not_equal(load(&cfg, "[client x]\nuid = 1\nmax_peers = -1\n", err, sizeof(err)), 0);
    assert_int_not_equal(
        load(&cfg, "[client x]\nuid = 1\nmax_bubbles = 4294967296\n", err, sizeof(err)), 0);
    assert_int_not_equal(load(&cfg, "[client x]\nuid = 1\nmax_peer = 5\n", err, sizeof(err)), 0);
}

static void test_ports(void **state)
{
    (void)state;
    uint16_t lo, hi;
    assert_int_equal(prism_config_parse_ports("1-65535", &lo, &hi), 0);
    assert_int_equal(hi, 65535);
    assert_int_not_equal(prism_config_parse_ports("1-65536", &lo, &hi), 0);
    assert_int_not_equal(prism_config_parse_ports("100", &lo, &hi), 0);
    assert_int_not_equal(prism_config_parse_ports("-1-5", &lo, &hi), 0);
}

/* Issue 9, finding 7: the connect deadline and the per-tenant transport
 * quota, whose default 0 is what the port range holds. */
static void test_transport_limits(void **state)
{
    (void)state;
    struct prism_config cfg;
    char err[256] = "";
    prism_config_defaults(&cfg);
    assert_int_equal(cfg.connect_timeout_ms, 30000);
    prism_config_resolve(&cfg); /* 10,000 ports, every interface: 4 addresses assumed */
    assert_int_equal(cfg.tenant_defaults.max_transports, 2500);
    assert_int_equal(
        load(&cfg, "[media]\nports = 41000-41002\nmedia_ip = 127.0.0.1\n", err, sizeof(err)), 0);
    prism_config_resolve(&cfg);
    assert_int_equal(cfg.tenant_defaults.max_transports, 3);
    assert_int_equal(load(&cfg, "[media]\nconnect_timeout_ms = 500\n[limits]\nmax_transports = 7\n",
                          err, sizeof(err)),
                     0);
    prism_config_resolve(&cfg); /* set: kept */
    assert_int_equal(cfg.connect_timeout_ms, 500);
    assert_int_equal(cfg.tenant_defaults.max_transports, 7);
    assert_int_not_equal(load(&cfg, "[media]\nconnect_timeout_ms = 99\n", err, sizeof(err)), 0);
    assert_int_not_equal(load(&cfg, "[limits]\nmax_transports = -1\n", err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_client_empty_tenants),
        cmocka_unit_test(test_client_caps),      cmocka_unit_test(test_ports),
        cmocka_unit_test(test_transport_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
