/* Unit tests for crypto/dtls: two sessions (or one session and a plain
 * OpenSSL peer) exchange datagrams in memory through the send callbacks.
 * Checked: the handshake completes with GCM-256 preferred, datagrams carry
 * whole records within the MTU (a flight larger than the MTU is handed over
 * as several datagrams), the exported keys follow
 * RFC 5764 §4.2 (cross-checked against OpenSSL's own exporter on the peer)
 * and key working SRTP sessions, fingerprint mismatches fail on either side,
 * a DTLS 1.0 client is refused, a lost ClientHello is retransmitted on the
 * timer, close_notify closes, garbage is ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "crypto/cert.h"
#include "crypto/dtls.h"
#include "crypto/srtp.h"
#include "relay/base/error.h"

/* ---- in-memory wire ----------------------------------------------------------- */

#define WIRE_SLOTS 64

/* Datagrams one side sent and the other has not read yet (FIFO). */
struct wire {
    uint8_t data[WIRE_SLOTS][PRISM_DTLS_MTU];
    size_t len[WIRE_SLOTS];
    size_t head, tail; /* read and write positions */
    size_t sent;       /* datagrams ever sent */
    bool drop;         /* lose everything sent while set */
};

static void on_send(void *ud, const uint8_t *data, size_t len)
{
    struct wire *w = ud;
    assert_true(len > 0 && len <= PRISM_DTLS_MTU);
    /* Whole DTLS records (13-byte header and body), none cut across datagrams:
     * OpenSSL packs a flight's records up to the MTU, then starts another. */
    size_t off = 0;
    while (off < len) {
        assert_true(len - off >= 13);
        off += 13 + ((size_t)data[off + 11] << 8 | data[off + 12]);
    }
    assert_int_equal(off, len);
    w->sent++;
    if (w->drop)
        return;
    assert_true(w->tail < WIRE_SLOTS);
    memcpy(w->data[w->tail], data, len);
    w->len[w->tail++] = len;
}

static size_t wire_pending(const struct wire *w)
{
    return w->tail - w->head;
}

static void wire_clear(struct wire *w)
{
    w->head = w->tail = 0;
}

/* Feeds every datagram queued on `w` to `to`. */
static void deliver(struct wire *w, struct prism_dtls *to)
{
    while (w->head < w->tail) {
        size_t i = w->head++;
        (void)prism_dtls_feed(to, w->data[i], w->len[i]);
    }
    wire_clear(w);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- a pair of Prism sessions --------------------------------------------------- */

struct side {
    struct prism_cert *cert;
    struct prism_dtls_ctx *ctx;
    struct prism_dtls *dtls;
    struct wire out; /* what this side sent */
};

static struct side client, server;

static void fingerprint_of(const struct prism_cert *c, struct prism_fingerprint *fp)
{
    assert_int_equal(prism_cert_fingerprint_of(prism_cert_x509(c), PRISM_CERT_SHA256, fp), 0);
}

static void side_init(struct side *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(prism_cert_generate(&s->cert), 0);
    assert_int_equal(prism_dtls_ctx_new(s->cert, &s->ctx), 0);
}

static void side_session(struct side *s, enum prism_dtls_role role, const struct side *peer,
                         bool wrong_fingerprint)
{
    struct prism_fingerprint fp;
    fingerprint_of(peer->cert, &fp);
    if (wrong_fingerprint)
        fp.digest[0] ^= 0x80;
    assert_int_equal(prism_dtls_new(s->ctx, role, &fp, on_send, &s->out, &s->dtls), 0);
}

static void side_deinit(struct side *s)
{
    prism_dtls_free(s->dtls);
    prism_dtls_ctx_free(s->ctx);
    prism_cert_free(s->cert);
}

static int setup_pair(void **state)
{
    (void)state;
    side_init(&client);
    side_init(&server);
    return 0;
}

static int teardown_pair(void **state)
{
    (void)state;
    side_deinit(&client);
    side_deinit(&server);
    return 0;
}

/* Exchanges datagrams until both wires are quiet. */
static void pump(void)
{
    for (int round = 0; round < 20; round++) {
        if (wire_pending(&client.out) == 0 && wire_pending(&server.out) == 0)
            return;
        deliver(&client.out, server.dtls);
        deliver(&server.out, client.dtls);
    }
    fail_msg("handshake does not settle");
}

static void connect_pair(bool client_wrong, bool server_wrong)
{
    side_session(&client, PRISM_DTLS_CLIENT, &server, client_wrong);
    side_session(&server, PRISM_DTLS_SERVER, &client, server_wrong);
    assert_int_equal(prism_dtls_start(server.dtls), 0);
    assert_int_equal(wire_pending(&server.out), 0);
    assert_int_equal(prism_dtls_start(client.dtls), 0);
    assert_int_equal(wire_pending(&client.out), 1); /* the ClientHello */
    pump();
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_handshake_and_keys(void **state)
{
    (void)state;
    side_session(&client, PRISM_DTLS_CLIENT, &server, false);
    side_session(&server, PRISM_DTLS_SERVER, &client, false);
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_HANDSHAKING);
    assert_int_equal(prism_dtls_start(client.dtls), 0);
    assert_true(prism_dtls_timeout_ms(client.dtls) > 0);
    assert_true(prism_dtls_timeout_ms(client.dtls) <= 400);
    pump();

    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_CONNECTED);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CONNECTED);
    assert_string_equal(prism_dtls_failure(client.dtls), "");
    assert_int_equal(prism_dtls_timeout_ms(client.dtls), -1);

    struct prism_dtls_keys ck, sk;
    assert_int_equal(prism_dtls_keys(client.dtls, &ck), 0);
    assert_int_equal(prism_dtls_keys(server.dtls, &sk), 0);
    assert_int_equal(ck.profile, PRISM_SRTP_AEAD_AES_256_GCM);
    assert_int_equal(sk.profile, PRISM_SRTP_AEAD_AES_256_GCM);
    assert_int_equal(ck.key_salt_len, 44);
    assert_int_equal(sk.key_salt_len, 44);
    assert_memory_equal(ck.local, sk.remote, 44);
    assert_memory_equal(ck.remote, sk.local, 44);
    assert_memory_not_equal(ck.local, ck.remote, 44);
    prism_dtls_keys_wipe(&ck);
    prism_dtls_keys_wipe(&sk);
    prism_dtls_keys_wipe(NULL);
}

/* Keys from both ends make SRTP sessions that talk to each other. */
static void test_keys_drive_srtp(void **state)
{
    (void)state;
    connect_pair(false, false);
    struct prism_dtls_keys ck, sk;
    assert_int_equal(prism_dtls_keys(client.dtls, &ck), 0);
    assert_int_equal(prism_dtls_keys(server.dtls, &sk), 0);
    struct prism_srtp *c_out = NULL, *c_in = NULL, *s_out = NULL, *s_in = NULL;
    assert_int_equal(prism_srtp_new(ck.profile, ck.local, ck.key_salt_len, true, &c_out), 0);
    assert_int_equal(prism_srtp_new(ck.profile, ck.remote, ck.key_salt_len, false, &c_in), 0);
    assert_int_equal(prism_srtp_new(sk.profile, sk.local, sk.key_salt_len, true, &s_out), 0);
    assert_int_equal(prism_srtp_new(sk.profile, sk.remote, sk.key_salt_len, false, &s_in), 0);
    prism_dtls_keys_wipe(&ck);
    prism_dtls_keys_wipe(&sk);

    uint8_t pkt[12 + 100 + PRISM_SRTP_MAX_TRAILER] = {0x80, 111, 0x00, 0x07, 0,    0,
                                                      0,    1,   0xde, 0xad, 0xbe, 0xef};
    uint8_t ref[12 + 100];
    memset(pkt + 12, 0x5a, 100);
    memcpy(ref, pkt, sizeof(ref));
    size_t len = sizeof(ref);
    assert_int_equal(prism_srtp_protect_rtp(c_out, pkt, &len), 0);
    assert_int_equal(prism_srtp_unprotect_rtp(s_in, pkt, &len), PRISM_SRTP_OK);
    assert_int_equal(len, sizeof(ref));
    assert_memory_equal(pkt, ref, sizeof(ref));

    len = sizeof(ref);
    assert_int_equal(prism_srtp_protect_rtp(s_out, pkt, &len), 0);
    assert_int_equal(prism_srtp_unprotect_rtp(c_in, pkt, &len), PRISM_SRTP_OK);
    assert_memory_equal(pkt, ref, sizeof(ref));

    /* The client cannot read its own direction back: keys differ. (A fresh
     * sequence number, or the replay check would answer first.) */
    ref[3] = 8;
    memcpy(pkt, ref, sizeof(ref));
    len = sizeof(ref);
    assert_int_equal(prism_srtp_protect_rtp(c_out, pkt, &len), 0);
    assert_int_equal(prism_srtp_unprotect_rtp(c_in, pkt, &len), PRISM_SRTP_AUTH_FAILED);

    prism_srtp_free(c_out);
    prism_srtp_free(c_in);
    prism_srtp_free(s_out);
    prism_srtp_free(s_in);
}

static void test_client_rejects_wrong_server_fingerprint(void **state)
{
    (void)state;
    struct prism_dtls_keys k;
    connect_pair(true, false);
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_FAILED);
    assert_string_equal(prism_dtls_failure(client.dtls), "fingerprint mismatch");
    assert_int_equal(prism_dtls_keys(client.dtls, &k), PRISM_ENOTFOUND);
    /* The server got our bad_certificate alert. */
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_FAILED);
    assert_non_null(strstr(prism_dtls_failure(server.dtls), "handshake failed"));
    assert_int_equal(prism_dtls_keys(server.dtls, &k), PRISM_ENOTFOUND);
    uint8_t junk[20] = {22, 0xfe, 0xfd};
    assert_int_equal(prism_dtls_feed(client.dtls, junk, sizeof(junk)), PRISM_ECRYPTO);
}

static void test_server_rejects_wrong_client_fingerprint(void **state)
{
    (void)state;
    struct prism_dtls_keys k;
    connect_pair(false, true);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_FAILED);
    assert_string_equal(prism_dtls_failure(server.dtls), "fingerprint mismatch");
    assert_int_equal(prism_dtls_keys(server.dtls, &k), PRISM_ENOTFOUND);
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_FAILED);
    assert_int_equal(prism_dtls_keys(client.dtls, &k), PRISM_ENOTFOUND);
}

/* A lost ClientHello is sent again when the timer fires. */
static void test_lost_client_hello_is_retransmitted(void **state)
{
    (void)state;
    side_session(&client, PRISM_DTLS_CLIENT, &server, false);
    side_session(&server, PRISM_DTLS_SERVER, &client, false);
    client.out.drop = true;
    assert_int_equal(prism_dtls_start(client.dtls), 0);
    client.out.drop = false;
    assert_int_equal(client.out.sent, 1);
    assert_int_equal(wire_pending(&client.out), 0);

    /* Before expiry, nothing happens. */
    assert_int_equal(prism_dtls_on_timeout(client.dtls), 0);
    assert_int_equal(client.out.sent, 1);

    int64_t ms = prism_dtls_timeout_ms(client.dtls);
    assert_true(ms > 0 && ms <= 400);
    struct timespec ts = {0, (long)(ms + 5) * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(prism_dtls_timeout_ms(client.dtls), 0);
    assert_int_equal(prism_dtls_on_timeout(client.dtls), 0);
    assert_int_equal(wire_pending(&client.out), 1);
    /* The next timer is longer (backoff). */
    assert_true(prism_dtls_timeout_ms(client.dtls) > 400);
    pump();
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_CONNECTED);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CONNECTED);
}

static void test_close_notify(void **state)
{
    (void)state;
    struct prism_dtls_keys k;
    connect_pair(false, false);
    prism_dtls_close(client.dtls);
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_CLOSED);
    assert_int_equal(wire_pending(&client.out), 1);
    pump();
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CLOSED);
    assert_string_equal(prism_dtls_failure(server.dtls), "");
    /* Keys negotiated before the close remain readable; closing is idempotent. */
    assert_int_equal(prism_dtls_keys(server.dtls, &k), 0);
    prism_dtls_keys_wipe(&k);
    prism_dtls_close(server.dtls);
    prism_dtls_close(client.dtls);
    uint8_t junk[20] = {23, 0xfe, 0xfd};
    assert_int_equal(prism_dtls_feed(server.dtls, junk, sizeof(junk)), 0);
}

/* Datagrams that are not DTLS, or not for this session, are dropped. */
static void test_garbage_is_ignored(void **state)
{
    (void)state;
    side_session(&client, PRISM_DTLS_CLIENT, &server, false);
    side_session(&server, PRISM_DTLS_SERVER, &client, false);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 1);
    junk[0] = 22;
    junk[1] = 0xfe;
    junk[2] = 0xfd;
    assert_int_equal(prism_dtls_feed(server.dtls, junk, sizeof(junk)), 0);
    assert_int_equal(prism_dtls_feed(server.dtls, junk, 1), 0);
    assert_int_equal(prism_dtls_feed(server.dtls, junk, 0), PRISM_EINVAL);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_HANDSHAKING);
    assert_int_equal(prism_dtls_start(client.dtls), 0);
    pump();
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CONNECTED);
    junk[0] = 23;
    assert_int_equal(prism_dtls_feed(server.dtls, junk, sizeof(junk)), 0);
    assert_int_equal(prism_dtls_feed(client.dtls, junk, sizeof(junk)), 0);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CONNECTED);
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_CONNECTED);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct prism_fingerprint fp;
    struct prism_dtls *d = NULL;
    struct prism_dtls_ctx *ctx = NULL;
    fingerprint_of(server.cert, &fp);
    assert_int_equal(prism_dtls_new(client.ctx, PRISM_DTLS_CLIENT, &fp, NULL, NULL, &d),
                     PRISM_EINVAL);
    assert_int_equal(prism_dtls_new(client.ctx, PRISM_DTLS_CLIENT, NULL, on_send, NULL, &d),
                     PRISM_EINVAL);
    assert_int_equal(prism_dtls_new(client.ctx, (enum prism_dtls_role)7, &fp, on_send, NULL, &d),
                     PRISM_EINVAL);
    assert_null(d);
    assert_int_equal(prism_dtls_ctx_new(NULL, &ctx), PRISM_EINVAL);
    assert_null(ctx);
    prism_dtls_free(NULL);
    prism_dtls_ctx_free(NULL);
}

/* Writes the PEM that `write` produces for `obj` to a fresh temp file. */
static void write_temp_pem(char path[32], int (*write)(BIO *, const void *), const void *obj)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    assert_non_null(b);
    assert_int_equal(write(b, obj), 1);
    long n = BIO_get_mem_data(b, &data);
    memcpy(path, "/tmp/prism-dtls-XXXXXX", 23);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, data, (size_t)n), 0);
    assert_int_equal(close(fd), 0);
    BIO_free(b);
}

static int pem_cert(BIO *b, const void *x)
{
    return PEM_write_bio_X509(b, (X509 *)x);
}

static int pem_key(BIO *b, const void *k)
{
    return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

/* A self-signed P-256 certificate made bigger than the MTU by a 1500-byte
 * comment extension, loaded through prism_cert_load_pem. */
static struct prism_cert *big_cert(void)
{
    static char comment[1501];
    memset(comment, 'x', sizeof(comment) - 1);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"big", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);

    char cert_path[32], key_path[32];
    struct prism_cert *c = NULL;
    write_temp_pem(cert_path, pem_cert, x);
    write_temp_pem(key_path, pem_key, key);
    assert_int_equal(prism_cert_load_pem(cert_path, key_path, &c), 0);
    unlink(cert_path);
    unlink(key_path);
    X509_free(x);
    EVP_PKEY_free(key);
    return c;
}

/* A server flight bigger than the MTU (its Certificate alone is) leaves as
 * several datagrams, each within the MTU (checked in on_send). */
static void test_large_flight_is_split_into_datagrams(void **state)
{
    (void)state;
    prism_dtls_ctx_free(server.ctx);
    prism_cert_free(server.cert);
    server.cert = big_cert();
    assert_int_equal(prism_dtls_ctx_new(server.cert, &server.ctx), 0);
    side_session(&client, PRISM_DTLS_CLIENT, &server, false);
    side_session(&server, PRISM_DTLS_SERVER, &client, false);
    assert_int_equal(prism_dtls_start(client.dtls), 0);
    deliver(&client.out, server.dtls);
    assert_true(wire_pending(&server.out) >= 2);
    pump();
    assert_int_equal(prism_dtls_state(client.dtls), PRISM_DTLS_CONNECTED);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CONNECTED);
}

/* ---- against a plain OpenSSL client ---------------------------------------------- */

struct raw_client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio; /* both memory BIOs, owned by ssl */
};

static void raw_new(struct raw_client *r, const struct prism_cert *cert, int version,
                    const char *profiles)
{
    r->ctx = SSL_CTX_new(DTLS_client_method());
    assert_non_null(r->ctx);
    /* Allow everything the version needs (DTLS 1.0 wants SHA-1 era suites). */
    SSL_CTX_set_security_level(r->ctx, 0);
    assert_int_equal(SSL_CTX_set_cipher_list(r->ctx, "DEFAULT:@SECLEVEL=0"), 1);
    assert_int_equal(SSL_CTX_set_min_proto_version(r->ctx, version), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(r->ctx, version), 1);
    assert_int_equal(SSL_CTX_use_certificate(r->ctx, prism_cert_x509(cert)), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(r->ctx, prism_cert_key(cert)), 1);
    assert_int_equal(SSL_CTX_set_tlsext_use_srtp(r->ctx, profiles), 0);
    r->ssl = SSL_new(r->ctx);
    assert_non_null(r->ssl);
    r->rbio = BIO_new(BIO_s_mem());
    r->wbio = BIO_new(BIO_s_mem());
    assert_non_null(r->rbio);
    assert_non_null(r->wbio);
    BIO_set_mem_eof_return(r->rbio, -1);
    BIO_set_mem_eof_return(r->wbio, -1);
    SSL_set_bio(r->ssl, r->rbio, r->wbio);
    SSL_set_connect_state(r->ssl);
}

static void raw_free(struct raw_client *r)
{
    SSL_free(r->ssl);
    SSL_CTX_free(r->ctx);
    ERR_clear_error();
}

/* Moves what the raw client wrote (possibly several records) into one
 * datagram for `to`. Returns its length. */
static size_t raw_flush(struct raw_client *r, struct prism_dtls *to, uint8_t *copy, size_t cap)
{
    uint8_t buf[8192];
    int n = BIO_read(r->wbio, buf, sizeof(buf));
    if (n <= 0)
        return 0;
    if (copy != NULL) {
        assert_true((size_t)n <= cap);
        memcpy(copy, buf, (size_t)n);
    }
    (void)prism_dtls_feed(to, buf, (size_t)n);
    return (size_t)n;
}

static int raw_step(struct raw_client *r)
{
    while (server.out.head < server.out.tail) {
        size_t i = server.out.head++;
        BIO_write(r->rbio, server.out.data[i], (int)server.out.len[i]);
        (void)SSL_do_handshake(r->ssl);
    }
    wire_clear(&server.out);
    int ret = SSL_do_handshake(r->ssl);
    ERR_clear_error();
    return ret;
}

/* Our server against a client offering only AES128_CM_SHA1_80: that profile
 * is chosen, and the keys match what OpenSSL exports on the client side, in
 * RFC 5764 §4.2 order (client key, server key, client salt, server salt). */
static void test_profile_fallback_and_key_layout(void **state)
{
    (void)state;
    struct raw_client r;
    raw_new(&r, client.cert, DTLS1_2_VERSION, "SRTP_AES128_CM_SHA1_80");
    side_session(&server, PRISM_DTLS_SERVER, &client, false);
    assert_int_equal(prism_dtls_start(server.dtls), 0);
    int done = 0;
    for (int i = 0; i < 10 && done != 1; i++) {
        done = raw_step(&r);
        raw_flush(&r, server.dtls, NULL, 0);
    }
    assert_int_equal(done, 1);
    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_CONNECTED);

    struct prism_dtls_keys sk;
    uint8_t m[60];
    assert_int_equal(prism_dtls_keys(server.dtls, &sk), 0);
    assert_int_equal(sk.profile, PRISM_SRTP_AES128_CM_SHA1_80);
    assert_int_equal(sk.key_salt_len, 30);
    assert_int_equal(
        SSL_export_keying_material(r.ssl, m, sizeof(m), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0), 1);
    assert_memory_equal(sk.remote, m, 16);           /* client key */
    assert_memory_equal(sk.local, m + 16, 16);       /* server key */
    assert_memory_equal(sk.remote + 16, m + 32, 14); /* client salt */
    assert_memory_equal(sk.local + 16, m + 46, 14);  /* server salt */
    prism_dtls_keys_wipe(&sk);
    raw_free(&r);
}

/* A DTLS 1.0-only ClientHello is refused. */
static void test_dtls10_client_is_refused(void **state)
{
    (void)state;
    struct raw_client r;
    uint8_t hello[2048];
    raw_new(&r, client.cert, DTLS1_VERSION, "SRTP_AES128_CM_SHA1_80");
    side_session(&server, PRISM_DTLS_SERVER, &client, false);
    assert_int_equal(prism_dtls_start(server.dtls), 0);
    assert_true(raw_step(&r) <= 0);
    size_t n = raw_flush(&r, server.dtls, hello, sizeof(hello));
    /* It really was a DTLS 1.0 ClientHello: record header (13 bytes),
     * handshake header (12 bytes), then client_version 0xfeff. */
    assert_true(n > 27);
    assert_int_equal(hello[0], 22);
    assert_int_equal(hello[13], 1);
    assert_int_equal(hello[25], 0xfe);
    assert_int_equal(hello[26], 0xff);

    assert_int_equal(prism_dtls_state(server.dtls), PRISM_DTLS_FAILED);
    assert_non_null(strstr(prism_dtls_failure(server.dtls), "handshake failed"));
    struct prism_dtls_keys k;
    assert_int_equal(prism_dtls_keys(server.dtls, &k), PRISM_ENOTFOUND);
    raw_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_and_keys, setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(test_keys_drive_srtp, setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(test_client_rejects_wrong_server_fingerprint, setup_pair,
                                        teardown_pair),
        cmocka_unit_test_setup_teardown(test_server_rejects_wrong_client_fingerprint, setup_pair,
                                        teardown_pair),
        cmocka_unit_test_setup_teardown(test_lost_client_hello_is_retransmitted, setup_pair,
                                        teardown_pair),
        cmocka_unit_test_setup_teardown(test_close_notify, setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(test_garbage_is_ignored, setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(test_large_flight_is_split_into_datagrams, setup_pair,
                                        teardown_pair),
        cmocka_unit_test_setup_teardown(test_profile_fallback_and_key_layout, setup_pair,
                                        teardown_pair),
        cmocka_unit_test_setup_teardown(test_dtls10_client_is_refused, setup_pair, teardown_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
