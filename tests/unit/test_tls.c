/* Unit tests for crypto/tls: mutual TLS between two in-memory sessions.
 *
 * The group setup builds a throw-away PKI in a mkdtemp directory with
 * OpenSSL's C API (ECDSA P-256 everywhere): CA 1 with a server and a client
 * certificate, CA 2 with a client certificate of its own. Bytes are shuttled
 * between sessions by hand; nothing touches the network. Peers the API cannot
 * express (no client certificate, a TLS 1.1 client) are raw OpenSSL clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/tls.h"
#include "relay/base/error.h"

enum pem_file {
    CA1_CERT,
    SERVER_CERT,
    SERVER_KEY,
    CLIENT_CERT,
    CLIENT_KEY,
    CA2_CERT,
    CLIENT2_CERT,
    CLIENT2_KEY,
    GARBAGE,
    PEM_FILE_COUNT,
};

static const char *const pem_names[PEM_FILE_COUNT] = {
    "ca1.pem", "server.pem",  "server.key",  "client.pem",  "client.key",
    "ca2.pem", "client2.pem", "client2.key", "garbage.pem",
};

static char tmp_dir[64];                /* mkdtemp result */
static char paths[PEM_FILE_COUNT][128]; /* tmp_dir/pem_names[i] */
static long next_serial = 1;            /* certificate serial numbers */

/* --- throw-away PKI -------------------------------------------------------- */

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for `key` named `cn`, signed by issuer/issuer_key, or
 * self-signed when issuer is NULL. eku: extendedKeyUsage value or NULL. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                       const char *eku)
{
    X509 *cert = X509_new();
    assert_non_null(cert);
    assert_int_equal(X509_set_version(cert, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), next_serial++), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 86400));
    X509_NAME *name = X509_get_subject_name(cert);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
        1);
    assert_int_equal(
        X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name), 1);
    assert_int_equal(X509_set_pubkey(cert, key), 1);
    X509 *signer = issuer != NULL ? issuer : cert;
    add_ext(cert, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(cert, signer, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(cert, signer, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
    if (eku != NULL)
        add_ext(cert, signer, NID_ext_key_usage, eku);
    assert_true(X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

static void write_pem(enum pem_file which, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(paths[which], "w");
    assert_non_null(f);
    if (cert != NULL)
        assert_int_equal(PEM_write_X509(f, cert), 1);
    if (key != NULL)
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
}

static int pki_setup(void **state)
{
    (void)state;
    memcpy(tmp_dir, "/tmp/prism-tls-XXXXXX", sizeof("/tmp/prism-tls-XXXXXX"));
    if (mkdtemp(tmp_dir) == NULL)
        return -1;
    for (int i = 0; i < PEM_FILE_COUNT; i++)
        snprintf(paths[i], sizeof(paths[i]), "%s/%s", tmp_dir, pem_names[i]);

    EVP_PKEY *ca1_key = EVP_EC_gen("P-256");
    EVP_PKEY *server_key = EVP_EC_gen("P-256");
    EVP_PKEY *client_key = EVP_EC_gen("P-256");
    EVP_PKEY *ca2_key = EVP_EC_gen("P-256");
    EVP_PKEY *client2_key = EVP_EC_gen("P-256");
    assert_non_null(ca1_key);
    assert_non_null(server_key);
    assert_non_null(client_key);
    assert_non_null(ca2_key);
    assert_non_null(client2_key);

    X509 *ca1 = make_cert("Prism Test CA 1", ca1_key, NULL, NULL, true, NULL);
    X509 *server = make_cert("prism-relay", server_key, ca1, ca1_key, false, "serverAuth");
    X509 *client = make_cert("prism-backend", client_key, ca1, ca1_key, false, "clientAuth");
    X509 *ca2 = make_cert("Prism Test CA 2", ca2_key, NULL, NULL, true, NULL);
    X509 *client2 = make_cert("intruder", client2_key, ca2, ca2_key, false, "clientAuth");

    write_pem(CA1_CERT, ca1, NULL);
    write_pem(SERVER_CERT, server, NULL);
    write_pem(SERVER_KEY, NULL, server_key);
    write_pem(CLIENT_CERT, client, NULL);
    write_pem(CLIENT_KEY, NULL, client_key);
    write_pem(CA2_CERT, ca2, NULL);
    write_pem(CLIENT2_CERT, client2, NULL);
    write_pem(CLIENT2_KEY, NULL, client2_key);
    FILE *f = fopen(paths[GARBAGE], "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
    assert_int_equal(fclose(f), 0);

    X509_free(client2);
    X509_free(ca2);
    X509_free(client);
    X509_free(server);
    X509_free(ca1);
    EVP_PKEY_free(client2_key);
    EVP_PKEY_free(ca2_key);
    EVP_PKEY_free(client_key);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(ca1_key);
    return 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < PEM_FILE_COUNT; i++)
        unlink(paths[i]);
    return rmdir(tmp_dir);
}

/* --- shuttling --------------------------------------------------------------- */

static struct prism_tls_ctx *server_ctx(void)
{
    struct prism_tls_ctx *ctx = NULL;
    assert_int_equal(
        prism_tls_server_ctx_new(paths[SERVER_CERT], paths[SERVER_KEY], paths[CA1_CERT], &ctx), 0);
    return ctx;
}

static struct prism_tls_ctx *client_ctx(enum pem_file cert, enum pem_file key)
{
    struct prism_tls_ctx *ctx = NULL;
    assert_int_equal(prism_tls_client_ctx_new(paths[cert], paths[key], paths[CA1_CERT], &ctx), 0);
    return ctx;
}

/* Moves all pending ciphertext from `from` to `to`, in odd-sized pieces to
 * exercise partial records. Returns the byte count; a failed `to` eats it. */
static size_t move(struct prism_tls_session *from, struct prism_tls_session *to)
{
    unsigned char buf[777];
    size_t total = 0, n;
    while ((n = prism_tls_session_take_output(from, buf, sizeof(buf))) > 0) {
        total += n;
        (void)prism_tls_session_feed(to, buf, n);
    }
    return total;
}

/* Shuttles ciphertext both ways until quiet; plaintext stays queued in the
 * sessions for the test to read. */
static void pump(struct prism_tls_session *a, struct prism_tls_session *b)
{
    for (int round = 0; round < 50; round++) {
        size_t moved = move(a, b) + move(b, a);
        if (moved == 0)
            return;
    }
    fail_msg("sessions never went quiet");
}

/* Reads exactly len bytes of plaintext from `to`, pumping as needed. */
static void read_all(struct prism_tls_session *from, struct prism_tls_session *to,
                     unsigned char *out, size_t len)
{
    size_t got = 0;
    for (int round = 0; got < len && round < 10000; round++) {
        ssize_t n = prism_tls_session_read(to, out + got, len - got);
        assert_true(n >= 0);
        got += (size_t)n;
        if (n == 0)
            pump(from, to);
    }
    assert_int_equal(got, len);
}

static void handshake(struct prism_tls_session *client, struct prism_tls_session *server)
{
    for (int round = 0; round < 10; round++) {
        pump(client, server); /* feed() drives the handshake */
        if (prism_tls_session_established(client) && prism_tls_session_established(server))
            return;
    }
    fail_msg("handshake did not complete: server '%s' client '%s'", prism_tls_session_error(server),
             prism_tls_session_error(client));
}

/* A raw OpenSSL client, for peers prism_tls_client_ctx_new() cannot build. */
struct raw_client {
    SSL_CTX *ctx; /* owned */
    SSL *ssl;     /* owned, owns in and out */
    BIO *in;      /* ciphertext from the server */
    BIO *out;     /* ciphertext for the server */
};

/* tls11_max: an obsolete client; with_cert: presents the CA 1 client
 * certificate and speaks TLS 1.2 at most. */
static void raw_client_init(struct raw_client *c, bool tls11_max, bool with_cert)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    if (with_cert) {
        assert_int_equal(SSL_CTX_set_max_proto_version(c->ctx, TLS1_2_VERSION), 1);
        assert_int_equal(SSL_CTX_use_certificate_file(c->ctx, paths[CLIENT_CERT], SSL_FILETYPE_PEM),
                         1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(c->ctx, paths[CLIENT_KEY], SSL_FILETYPE_PEM),
                         1);
    }
    if (tls11_max) {
        SSL_CTX_set_security_level(c->ctx, 0);
        assert_int_equal(SSL_CTX_set_min_proto_version(c->ctx, TLS1_VERSION), 1);
        assert_int_equal(SSL_CTX_set_max_proto_version(c->ctx, TLS1_1_VERSION), 1);
        assert_int_equal(SSL_CTX_set_cipher_list(c->ctx, "DEFAULT:@SECLEVEL=0"), 1);
    }
    c->ssl = SSL_new(c->ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    assert_non_null(c->ssl);
    assert_non_null(c->in);
    assert_non_null(c->out);
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_connect_state(c->ssl);
}

static void raw_client_deinit(struct raw_client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    ERR_clear_error();
}

/* Runs the raw client against `server` until either side gives up. */
static void raw_pump(struct raw_client *c, struct prism_tls_session *server)
{
    unsigned char buf[1024];
    for (int round = 0; round < 20; round++) {
        (void)SSL_do_handshake(c->ssl);
        int n;
        size_t moved = 0;
        while ((n = BIO_read(c->out, buf, sizeof(buf))) > 0) {
            moved += (size_t)n;
            (void)prism_tls_session_feed(server, buf, (size_t)n);
        }
        (void)prism_tls_session_read(server, buf, sizeof(buf));
        size_t m;
        while ((m = prism_tls_session_take_output(server, buf, sizeof(buf))) > 0) {
            moved += m;
            assert_int_equal(BIO_write(c->in, buf, (int)m), (int)m);
        }
        if (moved == 0)
            break;
    }
    ERR_clear_error();
}

/* --- tests ------------------------------------------------------------------- */

static void test_handshake_data_and_fingerprints(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_ctx *cctx = client_ctx(CLIENT_CERT, CLIENT_KEY);
    struct prism_tls_session *server = NULL, *client = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    assert_int_equal(prism_tls_session_new(cctx, false, &client), 0);
    assert_true(prism_tls_session_pending_output(client) > 0); /* ClientHello */
    assert_int_equal(prism_tls_session_pending_output(server), 0);

    char fp[PRISM_TLS_FINGERPRINT_LEN + 1];
    assert_int_equal(prism_tls_session_peer_fingerprint(server, fp), PRISM_ENOTFOUND);
    assert_int_equal(prism_tls_session_peer_fingerprint(client, fp), PRISM_ENOTFOUND);

    /* Written before the handshake: buffered, then flushed in order. */
    assert_int_equal(prism_tls_session_write(client, "early ", 6), 0);
    assert_int_equal(prism_tls_session_write(client, "bird\n", 5), 0);

    handshake(client, server);
    assert_false(prism_tls_session_failed(server));
    assert_false(prism_tls_session_failed(client));
    assert_string_equal(prism_tls_session_error(server), "");

    unsigned char buf[64];
    read_all(client, server, buf, 11);
    assert_memory_equal(buf, "early bird\n", 11);

    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    const char *resp = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
    assert_int_equal(prism_tls_session_write(client, req, strlen(req)), 0);
    pump(client, server);
    read_all(client, server, buf, strlen(req));
    assert_memory_equal(buf, req, strlen(req));
    assert_int_equal(prism_tls_session_read(server, buf, sizeof(buf)), 0);
    assert_int_equal(prism_tls_session_write(server, resp, strlen(resp)), 0);
    read_all(server, client, buf, strlen(resp));
    assert_memory_equal(buf, resp, strlen(resp));

    /* A bulk transfer spanning many records. */
    size_t big_len = 200 * 1000;
    unsigned char *big = malloc(big_len), *got = malloc(big_len);
    assert_non_null(big);
    assert_non_null(got);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    assert_int_equal(prism_tls_session_write(server, big, big_len), 0);
    read_all(server, client, got, big_len);
    assert_memory_equal(got, big, big_len);
    free(got);
    free(big);

    char want[PRISM_TLS_FINGERPRINT_LEN + 1];
    assert_int_equal(prism_tls_session_peer_fingerprint(server, fp), 0);
    assert_int_equal(prism_tls_fingerprint_file(paths[CLIENT_CERT], want), 0);
    assert_string_equal(fp, want);
    assert_int_equal(strlen(fp), PRISM_TLS_FINGERPRINT_LEN);
    assert_int_equal(strspn(fp, "0123456789abcdef"), PRISM_TLS_FINGERPRINT_LEN);
    assert_int_equal(prism_tls_session_peer_fingerprint(client, fp), 0);
    assert_int_equal(prism_tls_fingerprint_file(paths[SERVER_CERT], want), 0);
    assert_string_equal(fp, want);

    /* Clean close, both directions. */
    prism_tls_session_shutdown(client);
    assert_int_equal(prism_tls_session_write(client, "x", 1), PRISM_ECRYPTO);
    pump(client, server);
    assert_int_equal(prism_tls_session_read(server, buf, sizeof(buf)), PRISM_ECRYPTO);
    assert_true(prism_tls_session_closed(server));
    assert_false(prism_tls_session_failed(server));
    pump(client, server); /* the server's answering close_notify */
    assert_int_equal(prism_tls_session_read(client, buf, sizeof(buf)), PRISM_ECRYPTO);
    assert_true(prism_tls_session_closed(client));
    assert_false(prism_tls_session_failed(client));
    assert_int_equal(ERR_peek_error(), 0);

    prism_tls_session_free(client);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(cctx);
    prism_tls_ctx_unref(sctx);
}

static void test_client_from_other_ca_fails(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_ctx *cctx = client_ctx(CLIENT2_CERT, CLIENT2_KEY);
    struct prism_tls_session *server = NULL, *client = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    assert_int_equal(prism_tls_session_new(cctx, false, &client), 0);
    assert_int_equal(prism_tls_session_write(client, "let me in\n", 10), 0);
    pump(client, server);

    assert_true(prism_tls_session_failed(server));
    assert_false(prism_tls_session_established(server));
    print_message("server: %s\n", prism_tls_session_error(server));
    assert_non_null(strstr(prism_tls_session_error(server), "handshake failed: "));
    assert_non_null(strstr(prism_tls_session_error(server), "certificate verify failed"));
    unsigned char buf[64];
    assert_int_equal(prism_tls_session_read(server, buf, sizeof(buf)), PRISM_ECRYPTO);
    assert_int_equal(prism_tls_session_feed(server, "x", 1), PRISM_ECRYPTO);
    assert_int_equal(prism_tls_session_write(server, "x", 1), PRISM_ECRYPTO);
    char fp[PRISM_TLS_FINGERPRINT_LEN + 1];
    assert_int_equal(prism_tls_session_peer_fingerprint(server, fp), PRISM_ENOTFOUND);
    /* The client learns from the server's alert (in TLS 1.3, after its own
     * side of the handshake already completed). */
    assert_int_equal(prism_tls_session_read(client, buf, sizeof(buf)), PRISM_ECRYPTO);
    assert_true(prism_tls_session_failed(client));
    assert_false(prism_tls_session_closed(client));
    print_message("client: %s\n", prism_tls_session_error(client));
    assert_int_equal(ERR_peek_error(), 0);

    prism_tls_session_free(client);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(cctx);
    prism_tls_ctx_unref(sctx);
}

static void test_no_client_cert_fails(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_session *server = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    struct raw_client c;
    raw_client_init(&c, false, false);
    raw_pump(&c, server);
    assert_true(prism_tls_session_failed(server));
    assert_false(prism_tls_session_established(server));
    print_message("server: %s\n", prism_tls_session_error(server));
    assert_non_null(strstr(prism_tls_session_error(server), "handshake failed: "));
    assert_int_equal(ERR_peek_error(), 0);
    raw_client_deinit(&c);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(sctx);
}

static void test_tls11_client_fails(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_session *server = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    struct raw_client c;
    raw_client_init(&c, true, false);
    raw_pump(&c, server);
    assert_true(prism_tls_session_failed(server));
    assert_false(prism_tls_session_established(server));
    print_message("server: %s\n", prism_tls_session_error(server));
    assert_non_null(strstr(prism_tls_session_error(server), "handshake failed: "));
    assert_int_equal(ERR_peek_error(), 0);
    raw_client_deinit(&c);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(sctx);
}

static void test_tls12_client_succeeds(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_session *server = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    struct raw_client c;
    raw_client_init(&c, false, true);
    raw_pump(&c, server);
    assert_true(prism_tls_session_established(server));
    assert_int_equal(SSL_version(c.ssl), TLS1_2_VERSION);
    const char *suite = SSL_get_cipher_name(c.ssl);
    assert_true(strstr(suite, "ECDHE-ECDSA-") == suite);
    assert_true(strstr(suite, "GCM") != NULL || strstr(suite, "CHACHA20") != NULL);
    raw_client_deinit(&c);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(sctx);
}

static void test_server_from_other_ca_fails(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_ctx *cctx = NULL;
    assert_int_equal(
        prism_tls_client_ctx_new(paths[CLIENT_CERT], paths[CLIENT_KEY], paths[CA2_CERT], &cctx), 0);
    struct prism_tls_session *server = NULL, *client = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    assert_int_equal(prism_tls_session_new(cctx, false, &client), 0);
    pump(client, server);
    assert_true(prism_tls_session_failed(client));
    assert_false(prism_tls_session_established(client));
    print_message("client: %s\n", prism_tls_session_error(client));
    assert_non_null(strstr(prism_tls_session_error(client), "certificate verify failed"));
    assert_true(prism_tls_session_failed(server));
    assert_int_equal(ERR_peek_error(), 0);
    prism_tls_session_free(client);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(cctx);
    prism_tls_ctx_unref(sctx);
}

static void test_plain_text_fails(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_session *server = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    const char *http = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(prism_tls_session_feed(server, http, strlen(http)), PRISM_ECRYPTO);
    assert_true(prism_tls_session_failed(server));
    print_message("server: %s\n", prism_tls_session_error(server));
    assert_non_null(strstr(prism_tls_session_error(server), "handshake failed: "));
    unsigned char buf[256];
    assert_int_equal(prism_tls_session_read(server, buf, sizeof(buf)), PRISM_ECRYPTO);
    assert_int_equal(prism_tls_session_feed(server, http, strlen(http)), PRISM_ECRYPTO);
    /* An alert, maybe: the caller would send it. */
    while (prism_tls_session_take_output(server, buf, sizeof(buf)) > 0) {
    }
    prism_tls_session_shutdown(server); /* no-op once failed */
    assert_int_equal(ERR_peek_error(), 0);
    prism_tls_session_free(server);

    /* Binary noise that looks like a TLS record header, fed byte by byte. */
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    static const unsigned char noise[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x00, 0x00};
    int err = 0;
    for (size_t i = 0; i < sizeof(noise) && err == 0; i++)
        err = prism_tls_session_feed(server, &noise[i], 1);
    assert_int_equal(err, PRISM_ECRYPTO);
    assert_true(prism_tls_session_failed(server));
    assert_int_equal(ERR_peek_error(), 0);
    prism_tls_session_free(server);
    prism_tls_ctx_unref(sctx);
}

static void test_ctx_unref_while_session_lives(void **state)
{
    (void)state;
    struct prism_tls_ctx *sctx = server_ctx();
    struct prism_tls_ctx *cctx = client_ctx(CLIENT_CERT, CLIENT_KEY);
    struct prism_tls_session *server = NULL, *client = NULL;
    assert_int_equal(prism_tls_session_new(sctx, true, &server), 0);
    assert_int_equal(prism_tls_session_new(cctx, false, &client), 0);
    /* A reload replaces the contexts: the sessions hold the last refs. */
    prism_tls_ctx_ref(sctx);
    prism_tls_ctx_unref(sctx);
    prism_tls_ctx_unref(sctx);
    prism_tls_ctx_unref(cctx);
    handshake(client, server);
    assert_int_equal(prism_tls_session_write(server, "still here\n", 11), 0);
    unsigned char buf[16];
    read_all(server, client, buf, 11);
    assert_memory_equal(buf, "still here\n", 11);
    prism_tls_session_free(client);
    prism_tls_session_free(server);
}

static void test_ctx_errors(void **state)
{
    (void)state;
    struct prism_tls_ctx *ctx = NULL;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing.pem", tmp_dir);
    assert_int_equal(prism_tls_server_ctx_new(missing, paths[SERVER_KEY], paths[CA1_CERT], &ctx),
                     PRISM_EIO);
    assert_int_equal(prism_tls_server_ctx_new(paths[SERVER_CERT], missing, paths[CA1_CERT], &ctx),
                     PRISM_EIO);
    assert_int_equal(prism_tls_client_ctx_new(paths[CLIENT_CERT], paths[CLIENT_KEY], missing, &ctx),
                     PRISM_EIO);
    /* Key of another certificate. */
    assert_int_equal(
        prism_tls_server_ctx_new(paths[SERVER_CERT], paths[CLIENT_KEY], paths[CA1_CERT], &ctx),
        PRISM_ECRYPTO);
    assert_int_equal(
        prism_tls_server_ctx_new(paths[GARBAGE], paths[SERVER_KEY], paths[CA1_CERT], &ctx),
        PRISM_ECRYPTO);
    /* A key file is not a CA bundle. */
    assert_int_equal(
        prism_tls_server_ctx_new(paths[SERVER_CERT], paths[SERVER_KEY], paths[SERVER_KEY], &ctx),
        PRISM_ECRYPTO);
    assert_null(ctx);
    assert_int_equal(ERR_peek_error(), 0);

    ctx = server_ctx();
    struct prism_tls_session *s = NULL;
    assert_int_equal(prism_tls_session_new(ctx, false, &s), PRISM_EINVAL);
    assert_null(s);
    prism_tls_ctx_unref(ctx);
    prism_tls_ctx_unref(NULL);
    prism_tls_session_free(NULL);

    char fp[PRISM_TLS_FINGERPRINT_LEN + 1];
    assert_int_equal(prism_tls_fingerprint_file(missing, fp), PRISM_EIO);
    assert_int_equal(prism_tls_fingerprint_file(paths[GARBAGE], fp), PRISM_ECRYPTO);
    assert_int_equal(prism_tls_fingerprint_file(paths[SERVER_KEY], fp), PRISM_ECRYPTO);
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_data_and_fingerprints),
        cmocka_unit_test(test_client_from_other_ca_fails),
        cmocka_unit_test(test_no_client_cert_fails),
        cmocka_unit_test(test_tls11_client_fails),
        cmocka_unit_test(test_tls12_client_succeeds),
        cmocka_unit_test(test_server_from_other_ca_fails),
        cmocka_unit_test(test_plain_text_fails),
        cmocka_unit_test(test_ctx_unref_while_session_lives),
        cmocka_unit_test(test_ctx_errors),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
