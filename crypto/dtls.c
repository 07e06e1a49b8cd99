/* DTLS-SRTP over memory (see dtls.h). OpenSSL's error queue is cleared before
 * each SSL call and turned into a failure string here; it goes no further. */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto/dtls.h"
#include "relay/base/check.h"
#include "relay/base/error.h"

/* SSL_CTX_set_tlsext_use_srtp order is the server's preference (OpenSSL picks
 * the first of ours the client also offers). */
#define SRTP_PROFILES "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* DTLS 1.2 suites: ECDSA first (our certificate, and browsers'), RSA for
 * peers such as softphones when we are the client. */
#define CIPHERS                                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"   \
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
#define GROUPS "X25519:P-256"
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp" /* RFC 5764 §4.2 */
#define TIMER_INITIAL_US 400000u
#define TIMER_MAX_US 6400000u

struct prism_dtls_ctx {
    SSL_CTX *ssl_ctx; /* owned reference; sessions hold their own */
};

struct prism_dtls {
    SSL *ssl;                          /* owns both BIOs */
    BIO *rbio;                         /* memory BIO, one datagram at a time */
    enum prism_dtls_role role;         /* fixed at creation */
    enum prism_dtls_state state;       /* see dtls.h */
    bool have_keys;                    /* keys is filled (CONNECTED, maybe CLOSED since) */
    struct prism_fingerprint expected; /* the peer certificate must hash to this */
    prism_dtls_send_cb send_cb;        /* called for every outgoing datagram */
    void *ud;                          /* send_cb's argument */
    struct prism_dtls_keys keys;       /* wiped on free */
    char failure[128];                 /* "" unless FAILED */
};

/* ---- the write BIO: one BIO_write is one datagram -------------------------- */

static pthread_once_t method_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *send_method; /* written once under method_once; never freed */

static int on_bio_write(BIO *b, const char *data, int len)
{
    struct prism_dtls *d = BIO_get_data(b);
    if (len < 0)
        return -1;
    d->send_cb(d->ud, (const uint8_t *)data, (size_t)len);
    return len;
}

static long on_bio_ctrl(BIO *b, int cmd, long larg, void *parg)
{
    (void)b;
    (void)larg;
    (void)parg;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return PRISM_DTLS_MTU;
    default: return 0; /* pending bytes, MTU overhead, peer address...: none */
    }
}

static int on_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void make_method(void)
{
    int index = BIO_get_new_index();
    if (index == -1)
        return;
    BIO_METHOD *m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "prism dtls send");
    if (m == NULL)
        return;
    if (BIO_meth_set_write(m, on_bio_write) != 1 || BIO_meth_set_ctrl(m, on_bio_ctrl) != 1 ||
        BIO_meth_set_create(m, on_bio_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    send_method = m;
}

/* ---- failure bookkeeping ---------------------------------------------------------- */

/* Records the reason unless one is already there (the first cause wins: a
 * fingerprint mismatch seen in the verify callback must survive the generic
 * handshake error that follows). */
static void set_reason(struct prism_dtls *d, const char *reason)
{
    if (d->failure[0] == '\0')
        snprintf(d->failure, sizeof(d->failure), "%s", reason);
}

static int fail(struct prism_dtls *d, const char *reason)
{
    set_reason(d, reason);
    d->state = PRISM_DTLS_FAILED;
    ERR_clear_error();
    return PRISM_ECRYPTO;
}

/* Fails with "<what>: <OpenSSL's reason>" from the error queue. */
static int fail_ssl(struct prism_dtls *d, const char *what)
{
    char reason[96];
    unsigned long e = ERR_peek_last_error();
    const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;
    snprintf(reason, sizeof(reason), "%s: %s", what, why != NULL ? why : "unknown");
    return fail(d, reason);
}

/* ---- verification ------------------------------------------------------------------ */

/* Accepts any chain (self-signed, any dates): the SDP fingerprint is the
 * authentication, checked here on the leaf so that a wrong peer is refused
 * before the handshake completes. */
static int on_verify(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    if (X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct prism_dtls *d = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    if (d == NULL)
        return 0;
    if (!prism_cert_fingerprint_matches(&d->expected, X509_STORE_CTX_get_current_cert(store))) {
        set_reason(d, "fingerprint mismatch");
        return 0;
    }
    return 1;
}

static unsigned int on_timer(SSL *ssl, unsigned int previous_us)
{
    (void)ssl;
    if (previous_us == 0)
        return TIMER_INITIAL_US;
    return previous_us >= TIMER_MAX_US / 2 ? TIMER_MAX_US : previous_us * 2;
}

/* ---- context ------------------------------------------------------------------------ */

int prism_dtls_ctx_new(const struct prism_cert *cert, struct prism_dtls_ctx **out)
{
    int err = PRISM_ECRYPTO;
    if (cert == NULL || out == NULL)
        return PRISM_EINVAL;
    struct prism_dtls_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return PRISM_ENOMEM;
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(DTLS_method());
    ctx->ssl_ctx = c;
    if (c == NULL)
        goto fail;
    if (SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) != 1)
        goto fail;
    if (SSL_CTX_use_certificate(c, prism_cert_x509(cert)) != 1 ||
        SSL_CTX_use_PrivateKey(c, prism_cert_key(cert)) != 1 || SSL_CTX_check_private_key(c) != 1)
        goto fail;
    /* Unlike every other setter here, this one returns 0 on success. */
    if (SSL_CTX_set_tlsext_use_srtp(c, SRTP_PROFILES) != 0)
        goto fail;
    if (SSL_CTX_set_cipher_list(c, CIPHERS) != 1 || SSL_CTX_set1_groups_list(c, GROUPS) != 1)
        goto fail;
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, on_verify);
    SSL_CTX_set_read_ahead(c, 0);
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    *out = ctx;
    return 0;

fail:
    ERR_clear_error();
    prism_dtls_ctx_free(ctx);
    return err;
}

void prism_dtls_ctx_free(struct prism_dtls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ---- session ------------------------------------------------------------------------ */

int prism_dtls_new(struct prism_dtls_ctx *ctx, enum prism_dtls_role role,
                   const struct prism_fingerprint *peer_fp, prism_dtls_send_cb send_cb, void *ud,
                   struct prism_dtls **out)
{
    int err = PRISM_ECRYPTO;
    BIO *rbio = NULL, *wbio = NULL;
    if (ctx == NULL || peer_fp == NULL || send_cb == NULL || out == NULL ||
        (role != PRISM_DTLS_CLIENT && role != PRISM_DTLS_SERVER))
        return PRISM_EINVAL;
    PRISM_CHECK(pthread_once(&method_once, make_method) == 0);
    if (send_method == NULL)
        return PRISM_ENOMEM;
    struct prism_dtls *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return PRISM_ENOMEM;
    d->role = role;
    d->state = PRISM_DTLS_HANDSHAKING;
    d->expected = *peer_fp;
    d->send_cb = send_cb;
    d->ud = ud;

    ERR_clear_error();
    d->ssl = SSL_new(ctx->ssl_ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(send_method);
    if (d->ssl == NULL || rbio == NULL || wbio == NULL) {
        err = PRISM_ENOMEM;
        goto fail;
    }
    /* An empty read BIO means "no datagram yet", not end of file. */
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_data(wbio, d);
    SSL_set_bio(d->ssl, rbio, wbio); /* the SSL now owns both */
    d->rbio = rbio;
    rbio = NULL;
    wbio = NULL;
    SSL_set_app_data(d->ssl, d);
    /* Returns the MTU set, or 0 if refused. */
    if (SSL_set_mtu(d->ssl, PRISM_DTLS_MTU) == 0)
        goto fail;
    DTLS_set_timer_cb(d->ssl, on_timer);
    if (role == PRISM_DTLS_CLIENT)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    *out = d;
    return 0;

fail:
    ERR_clear_error();
    BIO_free(wbio);
    BIO_free(rbio);
    prism_dtls_free(d);
    return err;
}

void prism_dtls_free(struct prism_dtls *d)
{
    if (d == NULL)
        return;
    SSL_free(d->ssl);
    OPENSSL_cleanse(&d->keys, sizeof(d->keys));
    free(d);
}

/* The handshake has just completed: authenticate the peer, then derive the
 * SRTP keys. Any failure leaves no keys behind. */
static int on_handshake_done(struct prism_dtls *d)
{
    uint8_t material[2 * PRISM_SRTP_MAX_KEY_SALT_LEN];
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    if (peer == NULL)
        return fail(d, "no peer certificate");
    if (!prism_cert_fingerprint_matches(&d->expected, peer))
        return fail(d, "fingerprint mismatch");

    const SRTP_PROTECTION_PROFILE *srtp = SSL_get_selected_srtp_profile(d->ssl);
    enum prism_srtp_profile profile;
    if (srtp == NULL || prism_srtp_profile_from_id(srtp->id, &profile) != 0)
        return fail(d, "no SRTP profile negotiated");

    /* RFC 5764 §4.2: client key, server key, client salt, server salt. */
    size_t key_len = prism_srtp_profile_key_len(profile);
    size_t salt_len = prism_srtp_profile_salt_len(profile);
    size_t total = 2 * (key_len + salt_len);
    PRISM_CHECK(total <= sizeof(material));
    if (SSL_export_keying_material(d->ssl, material, total, EXPORTER_LABEL, strlen(EXPORTER_LABEL),
                                   NULL, 0, 0) != 1) {
        OPENSSL_cleanse(material, sizeof(material));
        return fail(d, "keying material export failed");
    }
    const uint8_t *client_key = material, *server_key = material + key_len;
    const uint8_t *client_salt = material + 2 * key_len;
    const uint8_t *server_salt = client_salt + salt_len;
    bool client = d->role == PRISM_DTLS_CLIENT;
    d->keys.profile = profile;
    d->keys.key_salt_len = key_len + salt_len;
    memcpy(d->keys.local, client ? client_key : server_key, key_len);
    memcpy(d->keys.local + key_len, client ? client_salt : server_salt, salt_len);
    memcpy(d->keys.remote, client ? server_key : client_key, key_len);
    memcpy(d->keys.remote + key_len, client ? server_salt : client_salt, salt_len);
    OPENSSL_cleanse(material, sizeof(material));
    d->have_keys = true;
    d->state = PRISM_DTLS_CONNECTED;
    return 0;
}

/* Drives the handshake as far as the datagrams received so far allow. */
static int advance_handshake(struct prism_dtls *d)
{
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1)
        return on_handshake_done(d);
    int e = SSL_get_error(d->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    return fail_ssl(d, "handshake failed");
}

/* After the handshake: consume records (retransmitted handshake flights are
 * answered by OpenSSL inside SSL_read), discard application data, and
 * notice close_notify. */
static int drain_records(struct prism_dtls *d)
{
    uint8_t scratch[PRISM_DTLS_MTU];
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(d->ssl, scratch, sizeof(scratch));
        if (r > 0)
            continue;
        int e = SSL_get_error(d->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN) {
            ERR_clear_error();
            SSL_shutdown(d->ssl); /* answer with our close_notify */
            ERR_clear_error();
            d->state = PRISM_DTLS_CLOSED;
            return 0;
        }
        return fail_ssl(d, "connection failed");
    }
}

int prism_dtls_start(struct prism_dtls *d)
{
    PRISM_CHECK(d != NULL);
    if (d->state == PRISM_DTLS_FAILED)
        return PRISM_ECRYPTO;
    if (d->state != PRISM_DTLS_HANDSHAKING)
        return 0;
    return advance_handshake(d);
}

int prism_dtls_feed(struct prism_dtls *d, const uint8_t *data, size_t len)
{
    PRISM_CHECK(d != NULL);
    if (d->state == PRISM_DTLS_FAILED)
        return PRISM_ECRYPTO;
    if (d->state == PRISM_DTLS_CLOSED)
        return 0;
    if (data == NULL || len == 0 || len > INT_MAX)
        return PRISM_EINVAL;
    if (BIO_write(d->rbio, data, (int)len) != (int)len)
        return fail(d, "out of memory");
    int err = 0;
    if (d->state == PRISM_DTLS_HANDSHAKING)
        err = advance_handshake(d);
    if (err == 0 && d->state == PRISM_DTLS_CONNECTED)
        err = drain_records(d);
    /* Whatever OpenSSL left unread must not be glued to the next datagram. */
    (void)BIO_reset(d->rbio);
    return err;
}

int64_t prism_dtls_timeout_ms(struct prism_dtls *d)
{
    struct timeval tv;
    PRISM_CHECK(d != NULL);
    if (d->state != PRISM_DTLS_HANDSHAKING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
        return -1;
    return (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

int prism_dtls_on_timeout(struct prism_dtls *d)
{
    PRISM_CHECK(d != NULL);
    if (d->state == PRISM_DTLS_FAILED)
        return PRISM_ECRYPTO;
    if (d->state != PRISM_DTLS_HANDSHAKING)
        return 0;
    ERR_clear_error();
    if (DTLSv1_handle_timeout(d->ssl) < 0)
        return fail(d, "handshake timeout");
    return 0;
}

void prism_dtls_close(struct prism_dtls *d)
{
    PRISM_CHECK(d != NULL);
    if (d->state == PRISM_DTLS_FAILED || d->state == PRISM_DTLS_CLOSED)
        return;
    ERR_clear_error();
    if (d->state == PRISM_DTLS_CONNECTED)
        SSL_shutdown(d->ssl);
    ERR_clear_error();
    d->state = PRISM_DTLS_CLOSED;
}

enum prism_dtls_state prism_dtls_state(const struct prism_dtls *d)
{
    return d->state;
}

const char *prism_dtls_failure(const struct prism_dtls *d)
{
    return d->state == PRISM_DTLS_FAILED ? d->failure : "";
}

int prism_dtls_keys(const struct prism_dtls *d, struct prism_dtls_keys *out)
{
    if (d == NULL || out == NULL || !d->have_keys || d->state == PRISM_DTLS_FAILED)
        return PRISM_ENOTFOUND;
    *out = d->keys;
    return 0;
}

void prism_dtls_keys_wipe(struct prism_dtls_keys *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k, sizeof(*k));
}
