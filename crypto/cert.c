/* DTLS certificates and SDP fingerprints (see cert.h). OpenSSL's error queue
 * is cleared where it is used and never read by callers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/cert.h"
#include "relay/base/check.h"
#include "relay/base/error.h"

#define VALIDITY_DAYS 30
#define BACKDATE_SECONDS (24 * 60 * 60)
#define SERIAL_BITS 127 /* positive and under RFC 5280's 20 octets */

struct prism_cert {
    X509 *x509;                                   /* owned reference */
    EVP_PKEY *key;                                /* owned reference */
    char fingerprint[PRISM_CERT_FINGERPRINT_MAX]; /* SHA-256, SDP form */
};

static const EVP_MD *hash_md(enum prism_cert_hash hash)
{
    switch (hash) {
    case PRISM_CERT_SHA256: return EVP_sha256();
    case PRISM_CERT_SHA384: return EVP_sha384();
    case PRISM_CERT_SHA512: return EVP_sha512();
    }
    return NULL;
}

const char *prism_cert_hash_name(enum prism_cert_hash hash)
{
    switch (hash) {
    case PRISM_CERT_SHA256: return "sha-256";
    case PRISM_CERT_SHA384: return "sha-384";
    case PRISM_CERT_SHA512: return "sha-512";
    }
    return NULL;
}

int prism_cert_fingerprint_of(const X509 *x, enum prism_cert_hash hash,
                              struct prism_fingerprint *out)
{
    const EVP_MD *md = hash_md(hash);
    unsigned int n = 0;
    if (x == NULL || out == NULL || md == NULL)
        return PRISM_EINVAL;
    /* X509_digest hashes the DER encoding, as RFC 8122 §5 requires. */
    if (X509_digest(x, md, out->digest, &n) != 1 || n > sizeof(out->digest)) {
        ERR_clear_error();
        return PRISM_ECRYPTO;
    }
    out->hash = hash;
    out->len = n;
    return 0;
}

int prism_cert_fingerprint_format(const struct prism_fingerprint *fp, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    if (fp == NULL || out == NULL || fp->len == 0 || fp->len > sizeof(fp->digest) ||
        cap < 3 * fp->len)
        return PRISM_EINVAL;
    for (size_t i = 0; i < fp->len; i++) {
        out[3 * i] = hex[fp->digest[i] >> 4];
        out[3 * i + 1] = hex[fp->digest[i] & 15];
        out[3 * i + 2] = ':';
    }
    out[3 * fp->len - 1] = '\0';
    return 0;
}

/* Completes `c` once x509 and key are set: checks they match and caches the
 * fingerprint. */
static int finish(struct prism_cert *c)
{
    struct prism_fingerprint fp;
    if (X509_check_private_key(c->x509, c->key) != 1) {
        ERR_clear_error();
        return PRISM_ECRYPTO;
    }
    int err = prism_cert_fingerprint_of(c->x509, PRISM_CERT_SHA256, &fp);
    if (err != 0)
        return err;
    return prism_cert_fingerprint_format(&fp, c->fingerprint, sizeof(c->fingerprint));
}

/* Fills a fresh X509 for `key`: version 3, random serial, CN=prism, validity,
 * self-signed with SHA-256. Returns 0 or PRISM_ECRYPTO. */
static int build_self_signed(X509 *x, EVP_PKEY *key)
{
    int ok = 0;
    BIGNUM *serial = BN_new();
    X509_NAME *name = X509_get_subject_name(x);
    if (serial == NULL || BN_rand(serial, SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
        goto fail;
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
        goto fail;
    if (X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), VALIDITY_DAYS, 0, NULL) == NULL)
        goto fail;
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"prism", -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1)
        goto fail;
    if (X509_set_pubkey(x, key) != 1 || X509_sign(x, key, EVP_sha256()) <= 0)
        goto fail;
    ok = 1;

fail:
    BN_free(serial);
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : PRISM_ECRYPTO;
}

int prism_cert_generate(struct prism_cert **out)
{
    int err = PRISM_ECRYPTO;
    if (out == NULL)
        return PRISM_EINVAL;
    struct prism_cert *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PRISM_ENOMEM;
    c->key = EVP_EC_gen("P-256");
    c->x509 = X509_new();
    if (c->key == NULL || c->x509 == NULL) {
        ERR_clear_error();
        goto fail;
    }
    err = build_self_signed(c->x509, c->key);
    if (err != 0)
        goto fail;
    err = finish(c);
    if (err != 0)
        goto fail;
    *out = c;
    return 0;

fail:
    prism_cert_free(c);
    return err;
}

/* Refuses to decrypt: an interactive prompt would block the daemon. */
static int no_passphrase(char *buf, int size, int rwflag, void *ud)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)ud;
    return -1;
}

int prism_cert_load_pem(const char *cert_file, const char *key_file, struct prism_cert **out)
{
    int err = PRISM_ENOMEM;
    BIO *cert_bio = NULL, *key_bio = NULL;
    if (cert_file == NULL || key_file == NULL || out == NULL)
        return PRISM_EINVAL;
    struct prism_cert *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PRISM_ENOMEM;
    cert_bio = BIO_new_file(cert_file, "r");
    key_bio = BIO_new_file(key_file, "r");
    if (cert_bio == NULL || key_bio == NULL) {
        err = PRISM_EIO;
        goto fail;
    }
    err = PRISM_ECRYPTO;
    c->x509 = PEM_read_bio_X509(cert_bio, NULL, no_passphrase, NULL);
    c->key = PEM_read_bio_PrivateKey(key_bio, NULL, no_passphrase, NULL);
    if (c->x509 == NULL || c->key == NULL)
        goto fail;
    err = finish(c);
    if (err == 0) {
        *out = c;
        c = NULL;
    }

fail:
    ERR_clear_error();
    BIO_free(key_bio);
    BIO_free(cert_bio);
    prism_cert_free(c);
    return err;
}

void prism_cert_free(struct prism_cert *c)
{
    if (c == NULL)
        return;
    X509_free(c->x509);
    EVP_PKEY_free(c->key); /* OpenSSL clears private key material on free */
    free(c);
}

X509 *prism_cert_x509(const struct prism_cert *c)
{
    return c->x509;
}

EVP_PKEY *prism_cert_key(const struct prism_cert *c)
{
    return c->key;
}

const char *prism_cert_fingerprint(const struct prism_cert *c)
{
    return c->fingerprint;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* RFC 8122 hash-func token characters (RFC 3261 token, enough for names). */
static bool is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '+' || ch == '!' || ch == '%' ||
           ch == '*' || ch == '`' || ch == '\'' || ch == '~';
}

int prism_cert_fingerprint_parse(const char *value, struct prism_fingerprint *out)
{
    static const struct {
        const char *name;
        enum prism_cert_hash hash;
        size_t len;
    } known[] = {
        {"sha-256", PRISM_CERT_SHA256, 32},
        {"sha-384", PRISM_CERT_SHA384, 48},
        {"sha-512", PRISM_CERT_SHA512, 64},
    };
    if (value == NULL || out == NULL)
        return PRISM_EINVAL;
    const char *p = value;
    while (is_space(*p))
        p++;
    const char *name = p;
    while (is_token_char(*p))
        p++;
    size_t name_len = (size_t)(p - name);
    if (name_len == 0 || *p != ' ')
        return PRISM_EINVAL;
    while (*p == ' ')
        p++;

    size_t want = 0;
    enum prism_cert_hash hash = PRISM_CERT_SHA256;
    for (size_t i = 0; i < PRISM_ARRAY_LEN(known); i++) {
        if (strlen(known[i].name) == name_len && strncasecmp(name, known[i].name, name_len) == 0) {
            hash = known[i].hash;
            want = known[i].len;
        }
    }

    /* Parse the digest before judging the name, so that a malformed value is
     * EINVAL whatever its hash. */
    uint8_t digest[PRISM_CERT_DIGEST_MAX];
    size_t n = 0;
    for (;;) {
        int hi = hex_value(p[0]);
        int lo = hi < 0 ? -1 : hex_value(p[1]);
        if (lo < 0 || n == sizeof(digest))
            return PRISM_EINVAL;
        digest[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
        if (*p != ':')
            break;
        p++;
    }
    while (is_space(*p))
        p++;
    if (*p != '\0')
        return PRISM_EINVAL;
    if (want == 0)
        return PRISM_EUNSUPPORTED;
    if (n != want)
        return PRISM_EINVAL;
    out->hash = hash;
    out->len = n;
    memcpy(out->digest, digest, n);
    return 0;
}

bool prism_cert_fingerprint_equal(const struct prism_fingerprint *a,
                                  const struct prism_fingerprint *b)
{
    if (a == NULL || b == NULL || a->hash != b->hash || a->len != b->len ||
        a->len > sizeof(a->digest))
        return false;
    return CRYPTO_memcmp(a->digest, b->digest, a->len) == 0;
}

bool prism_cert_fingerprint_matches(const struct prism_fingerprint *expected, const X509 *x)
{
    struct prism_fingerprint actual;
    if (expected == NULL || prism_cert_fingerprint_of(x, expected->hash, &actual) != 0)
        return false;
    return prism_cert_fingerprint_equal(expected, &actual);
}
