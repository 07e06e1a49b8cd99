/* I/O-free mutual TLS over memory BIOs (see tls.h).
 *
 * Owns: the SSL_CTX wrappers (immutable after *_ctx_new, refcounted with an
 * atomic so any thread may ref/unref) and the sessions (one SSL each, used by
 * the connection's thread only).
 *
 * Invariants:
 * - rbio is a growable memory BIO whose "empty" answer is retry (-1), so
 *   OpenSSL reports SSL_ERROR_WANT_READ instead of EOF when it needs more
 *   ciphertext; wbio is a growable memory BIO, so SSL never wants to write.
 * - Plaintext written before the handshake completes sits in `pending` and is
 *   handed to SSL_write, in order, right after the handshake; once
 *   established, `pending` is empty and writes go straight to SSL_write.
 * - `failed` is sticky. OpenSSL's thread-local error queue is cleared before
 *   each SSL call and drained into `error` (or dropped) after it, so no
 *   OpenSSL error outlives the call that raised it.
 *
 * RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 5746 (renegotiation: refused).
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto/tls.h"
#include "relay/base/check.h"
#include "relay/base/error.h"

/* TLS 1.2 only; TLS 1.3 suites stay OpenSSL's defaults (all AEAD). */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
#define VERIFY_DEPTH 4 /* leaf + up to 3 intermediates: a private CA is shallow */

struct prism_tls_ctx {
    SSL_CTX *ssl_ctx; /* owned; immutable once published */
    atomic_int refs;  /* references; the last unref frees */
    bool server;      /* built by prism_tls_server_ctx_new() */
};

struct prism_tls_session {
    struct prism_tls_ctx *ctx; /* one reference held */
    SSL *ssl;                  /* owns rbio and wbio */
    BIO *rbio;                 /* ciphertext from the network, fed by feed() */
    BIO *wbio;                 /* ciphertext for the network, drained by take_output() */
    unsigned char *pending;    /* plaintext queued before the handshake completed */
    size_t pending_len;        /* bytes used in pending */
    size_t pending_cap;        /* bytes allocated for pending */
    bool established;          /* handshake completed */
    bool failed;               /* sticky; error holds the reason */
    bool closed;               /* peer's close_notify received */
    bool shutdown_wanted;      /* shutdown() called, close_notify not sent yet */
    bool shutdown_sent;        /* our close_notify is queued */
    char error[192];           /* why it failed, "" otherwise */
};

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Checks that the file opens, to tell "unreadable" (PRISM_EIO) from "bad
 * material" (PRISM_ECRYPTO) before OpenSSL reads it. */
static int check_readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return PRISM_EIO;
    fclose(f);
    return 0;
}

/* Never prompt on a terminal for an encrypted key: refuse it. */
static int on_no_password(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return 0;
}

static int ctx_new(bool server, const char *cert_file, const char *key_file, const char *ca_file,
                   struct prism_tls_ctx **out)
{
    if (cert_file == NULL || key_file == NULL || ca_file == NULL || out == NULL)
        return PRISM_EINVAL;
    int err = check_readable(cert_file);
    if (err == 0)
        err = check_readable(key_file);
    if (err == 0)
        err = check_readable(ca_file);
    if (err != 0)
        return err;

    ERR_clear_error();
    struct prism_tls_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return PRISM_ENOMEM;
    err = PRISM_ECRYPTO;
    ctx->server = server;
    atomic_init(&ctx->refs, 1);
    ctx->ssl_ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx->ssl_ctx == NULL)
        goto fail;
    SSL_CTX *c = ctx->ssl_ctx;
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1)
        goto fail;
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    /* Send exactly the chain in cert_file: never pad it from the CA store. */
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    if (SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1)
        goto fail;
    SSL_CTX_set_default_passwd_cb(c, on_no_password);

    if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1)
        goto fail;
    if (SSL_CTX_load_verify_file(c, ca_file) != 1)
        goto fail;
    SSL_CTX_set_verify_depth(c, VERIFY_DEPTH);
    if (server) {
        /* Tells clients which CAs we accept, so they pick the right cert. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
        if (names == NULL)
            goto fail;
        SSL_CTX_set_client_CA_list(c, names);
        if (SSL_CTX_set_num_tickets(c, 0) != 1)
            goto fail;
        SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    }
    ERR_clear_error();
    *out = ctx;
    return 0;

fail:
    /* Allocation failures inside OpenSSL also land here: reported as
     * PRISM_ECRYPTO, since the queue does not tell them apart reliably. */
    ERR_clear_error();
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
    return err;
}

int prism_tls_server_ctx_new(const char *cert_file, const char *key_file,
                             const char *client_ca_file, struct prism_tls_ctx **out)
{
    return ctx_new(true, cert_file, key_file, client_ca_file, out);
}

int prism_tls_client_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                             struct prism_tls_ctx **out)
{
    return ctx_new(false, cert_file, key_file, ca_file, out);
}

void prism_tls_ctx_ref(struct prism_tls_ctx *ctx)
{
    int before = atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    PRISM_CHECK(before > 0);
}

void prism_tls_ctx_unref(struct prism_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    /* acq_rel: the freeing thread must see every other thread's last use. */
    int before = atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel);
    PRISM_CHECK(before > 0);
    if (before != 1)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* Marks the session failed, with the first reason in OpenSSL's queue (the
 * root cause), and empties the queue. Returns PRISM_ECRYPTO. */
static int fail_session(struct prism_tls_session *s, int ssl_err)
{
    const char *phase = s->established ? "connection failed" : "handshake failed";
    const char *reason = NULL;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (reason == NULL)
            reason = ERR_reason_error_string(e);
    }
    if (reason == NULL)
        reason = ssl_err == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "unknown error";
    long verify = SSL_get_verify_result(s->ssl);
    if (verify != X509_V_OK)
        snprintf(s->error, sizeof(s->error), "%s: %s (%s)", phase, reason,
                 X509_verify_cert_error_string(verify));
    else
        snprintf(s->error, sizeof(s->error), "%s: %s", phase, reason);
    s->failed = true;
    if (s->pending != NULL)
        OPENSSL_cleanse(s->pending, s->pending_cap);
    s->pending_len = 0;
    return PRISM_ECRYPTO;
}

/* Encrypts len bytes into wbio. SSL_write is all-or-nothing here (no
 * partial-write mode, and a memory wbio never pushes back). */
static int write_now(struct prism_tls_session *s, const unsigned char *data, size_t len)
{
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        ERR_clear_error();
        int n = SSL_write(s->ssl, data, chunk);
        if (n <= 0)
            return fail_session(s, SSL_get_error(s->ssl, n));
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void send_close_notify(struct prism_tls_session *s)
{
    s->shutdown_wanted = false;
    s->shutdown_sent = true;
    ERR_clear_error();
    /* 0 means "sent, peer's not seen yet": all we ask. A failure here only
     * means no close_notify goes out; the caller closes the socket anyway. */
    (void)SSL_shutdown(s->ssl);
    ERR_clear_error();
}

/* Runs the handshake while it is incomplete; on completion, flushes the
 * pending plaintext and a deferred close_notify. Returns 0 (done or waiting
 * for more ciphertext) or PRISM_ECRYPTO. */
static int advance(struct prism_tls_session *s)
{
    if (s->failed)
        return PRISM_ECRYPTO;
    if (s->established)
        return 0;
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    if (r != 1) {
        int ssl_err = SSL_get_error(s->ssl, r);
        if (ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            return 0;
        }
        return fail_session(s, ssl_err);
    }
    s->established = true;
    if (s->pending_len > 0) {
        int err = write_now(s, s->pending, s->pending_len);
        if (err != 0)
            return err;
        OPENSSL_cleanse(s->pending, s->pending_len);
        s->pending_len = 0;
    }
    if (s->shutdown_wanted)
        send_close_notify(s);
    return 0;
}

int prism_tls_session_new(struct prism_tls_ctx *ctx, bool server, struct prism_tls_session **out)
{
    if (ctx == NULL || out == NULL || server != ctx->server)
        return PRISM_EINVAL;
    struct prism_tls_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return PRISM_ENOMEM;
    int err = PRISM_ENOMEM;
    ERR_clear_error();
    BIO *rbio = BIO_new(BIO_s_mem()); /* owned here until SSL_set_bio */
    BIO *wbio = BIO_new(BIO_s_mem());
    s->ssl = SSL_new(ctx->ssl_ctx);
    if (s->ssl == NULL || rbio == NULL || wbio == NULL)
        goto fail;
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(s->ssl, rbio, wbio);
    s->rbio = rbio;
    s->wbio = wbio;
    rbio = NULL;
    wbio = NULL;
    prism_tls_ctx_ref(ctx);
    s->ctx = ctx;
    if (server) {
        SSL_set_accept_state(s->ssl);
    } else {
        SSL_set_connect_state(s->ssl);
        /* Queues the ClientHello; cannot complete yet. */
        err = advance(s);
        if (err != 0)
            goto fail;
    }
    ERR_clear_error();
    *out = s;
    return 0;

fail:
    ERR_clear_error();
    BIO_free(wbio);
    BIO_free(rbio);
    prism_tls_session_free(s);
    return err;
}

void prism_tls_session_free(struct prism_tls_session *s)
{
    if (s == NULL)
        return;
    SSL_free(s->ssl);
    if (s->pending != NULL) {
        OPENSSL_cleanse(s->pending, s->pending_cap);
        free(s->pending);
    }
    prism_tls_ctx_unref(s->ctx);
    free(s);
}

int prism_tls_session_feed(struct prism_tls_session *s, const void *data, size_t len)
{
    if (s->failed)
        return PRISM_ECRYPTO;
    const unsigned char *p = data;
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        ERR_clear_error();
        int n = BIO_write(s->rbio, p, chunk);
        if (n <= 0) {
            ERR_clear_error();
            return PRISM_ENOMEM;
        }
        p += n;
        len -= (size_t)n;
    }
    return advance(s);
}

ssize_t prism_tls_session_read(struct prism_tls_session *s, void *buf, size_t cap)
{
    if (s->failed || s->closed)
        return PRISM_ECRYPTO;
    int err = advance(s);
    if (err != 0)
        return err;
    if (!s->established || cap == 0)
        return 0;
    int want = cap > INT_MAX ? INT_MAX : (int)cap;
    ERR_clear_error();
    int n = SSL_read(s->ssl, buf, want);
    if (n > 0)
        return n;
    int ssl_err = SSL_get_error(s->ssl, n);
    switch (ssl_err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: ERR_clear_error(); return 0;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        s->closed = true;
        if (!s->shutdown_sent)
            send_close_notify(s);
        return PRISM_ECRYPTO;
    default: return fail_session(s, ssl_err);
    }
}

/* Appends to the pre-handshake buffer, doubling its size as needed. */
static int queue_pending(struct prism_tls_session *s, const void *data, size_t len)
{
    if (len > SIZE_MAX - s->pending_len)
        return PRISM_ENOMEM;
    size_t need = s->pending_len + len;
    if (need > s->pending_cap) {
        size_t cap = s->pending_cap > 0 ? s->pending_cap : 1024;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        /* Not realloc: the old buffer may hold secrets and is wiped first. */
        unsigned char *p = malloc(cap);
        if (p == NULL)
            return PRISM_ENOMEM;
        if (s->pending_len > 0)
            memcpy(p, s->pending, s->pending_len);
        if (s->pending != NULL) {
            OPENSSL_cleanse(s->pending, s->pending_cap);
            free(s->pending);
        }
        s->pending = p;
        s->pending_cap = cap;
    }
    memcpy(s->pending + s->pending_len, data, len);
    s->pending_len = need;
    return 0;
}

int prism_tls_session_write(struct prism_tls_session *s, const void *data, size_t len)
{
    if (s->failed || s->shutdown_wanted || s->shutdown_sent)
        return PRISM_ECRYPTO;
    if (len == 0)
        return 0;
    if (!s->established)
        return queue_pending(s, data, len);
    return write_now(s, data, len);
}

size_t prism_tls_session_take_output(struct prism_tls_session *s, void *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    int want = cap > INT_MAX ? INT_MAX : (int)cap;
    int n = BIO_read(s->wbio, buf, want);
    return n > 0 ? (size_t)n : 0;
}

size_t prism_tls_session_pending_output(const struct prism_tls_session *s)
{
    return BIO_ctrl_pending(s->wbio);
}

bool prism_tls_session_established(const struct prism_tls_session *s)
{
    return s->established;
}

bool prism_tls_session_failed(const struct prism_tls_session *s)
{
    return s->failed;
}

bool prism_tls_session_closed(const struct prism_tls_session *s)
{
    return s->closed;
}

const char *prism_tls_session_error(const struct prism_tls_session *s)
{
    return s->error;
}

static int cert_fingerprint(X509 *cert, char out[PRISM_TLS_FINGERPRINT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    ERR_clear_error();
    /* X509_digest hashes the certificate's DER encoding. */
    if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32) {
        ERR_clear_error();
        return PRISM_ECRYPTO;
    }
    hex_encode(md, md_len, out);
    return 0;
}

int prism_tls_session_peer_fingerprint(const struct prism_tls_session *s,
                                       char out[PRISM_TLS_FINGERPRINT_LEN + 1])
{
    if (!s->established)
        return PRISM_ENOTFOUND;
    X509 *cert = SSL_get0_peer_certificate(s->ssl);
    if (cert == NULL)
        return PRISM_ENOTFOUND;
    return cert_fingerprint(cert, out);
}

void prism_tls_session_shutdown(struct prism_tls_session *s)
{
    if (s->failed || s->shutdown_wanted || s->shutdown_sent)
        return;
    if (s->established)
        send_close_notify(s);
    else
        s->shutdown_wanted = true;
}

int prism_tls_fingerprint_file(const char *cert_pem_file, char out[PRISM_TLS_FINGERPRINT_LEN + 1])
{
    if (cert_pem_file == NULL || out == NULL)
        return PRISM_EINVAL;
    ERR_clear_error();
    BIO *bio = BIO_new_file(cert_pem_file, "rb");
    if (bio == NULL) {
        ERR_clear_error();
        return PRISM_EIO;
    }
    X509 *cert = PEM_read_bio_X509(bio, NULL, on_no_password, NULL);
    int err = cert != NULL ? cert_fingerprint(cert, out) : PRISM_ECRYPTO;
    X509_free(cert);
    BIO_free(bio);
    ERR_clear_error();
    return err;
}
