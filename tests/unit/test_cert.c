/* Unit tests for crypto/cert: generated certificates are what browsers
 * expect (self-signed ECDSA P-256, CN "prism", 30 days), fingerprints match
 * `openssl x509 -fingerprint` on a fixed certificate, SDP values are parsed
 * strictly, and PEM loading refuses mismatched or encrypted keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/cert.h"
#include "relay/base/error.h"

/* A fixed certificate (openssl req -x509, CN=kat) and its fingerprints as
 * printed by `openssl x509 -noout -fingerprint -sha256|-sha384|-sha512`. */
static const char kat_pem[] = "-----BEGIN CERTIFICATE-----\n"
                              "MIIBcTCCARegAwIBAgIUPm4dA/9JGorggN50LmPspuPIhVAwCgYIKoZIzj0EAwIw\n"
                              "DjEMMAoGA1UEAwwDa2F0MB4XDTI2MTEyNjE0MzAzMloXDTM2MTEyMzE0MzAzMlow\n"
                              "DjEMMAoGA1UEAwwDa2F0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMheSD6iY\n"
                              "0X+fHJjv1pEId1S6ZTUnEg9ca6qWsDpNDbH7xjYsboxKp7PltqRQjwlBRwERja6h\n"
                              "Lxe/IfAMa0/IpKNTMFEwHQYDVR0OBBYEFH+xLuVNKIz6OuYaNDLPN3Vt88C8MB8G\n"
                              "A1UdIwQYMBaAFH+xLuVNKIz6OuYaNDLPN3Vt88C8MA8GA1UdEwEB/wQFMAMBAf8w\n"
                              "CgYIKoZIzj0EAwIDSAAwRQIhAM56EjVoepf5lg0ttQL7neQv0oFTOBvOIjGQu6NK\n"
                              "DTfbAiB8PibqVvjZ3rY3R2zt4rcXSIgCcG36PhEWjaFaaYhY8g==\n"
                              "-----END CERTIFICATE-----\n";
static const char kat_sha256[] = "C1:DB:32:C2:DB:C0:62:2B:A1:D5:E8:67:0A:F4:72:03:AD:2C:34:65:"
                                 "03:87:04:05:EA:15:83:79:81:5C:88:AA";
static const char kat_sha384[] = "DA:61:A6:42:89:FA:DE:96:79:BF:EE:00:82:B8:F8:01:44:CF:60:09:"
                                 "29:43:74:48:CF:1F:72:C1:AC:64:53:CD:9E:A1:D3:5D:B4:E4:39:9A:"
                                 "85:44:0F:94:91:07:E9:24";
static const char kat_sha512[] = "17:AF:23:40:E8:83:7B:89:6F:F1:7A:83:66:F0:F2:37:44:0D:19:F6:"
                                 "6A:7F:75:F2:6C:44:FF:35:04:E5:99:30:43:60:2D:07:11:AF:BD:F7:"
                                 "37:8A:1E:1D:BB:A7:53:D5:98:3B:D5:55:ED:34:B7:E5:D3:5B:C0:4E:"
                                 "E9:F6:EA:AC";

static X509 *load_kat(void)
{
    BIO *b = BIO_new_mem_buf(kat_pem, -1);
    assert_non_null(b);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    BIO_free(b);
    return x;
}

static void check_format(const X509 *x, enum prism_cert_hash hash, const char *want)
{
    struct prism_fingerprint fp;
    char out[PRISM_CERT_FINGERPRINT_MAX];
    assert_int_equal(prism_cert_fingerprint_of(x, hash, &fp), 0);
    assert_int_equal(fp.hash, hash);
    assert_int_equal(prism_cert_fingerprint_format(&fp, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_fingerprint_known_answer(void **state)
{
    (void)state;
    X509 *x = load_kat();
    check_format(x, PRISM_CERT_SHA256, kat_sha256);
    check_format(x, PRISM_CERT_SHA384, kat_sha384);
    check_format(x, PRISM_CERT_SHA512, kat_sha512);

    struct prism_fingerprint fp;
    char small[95];
    assert_int_equal(prism_cert_fingerprint_of(x, PRISM_CERT_SHA256, &fp), 0);
    assert_int_equal(fp.len, 32);
    assert_int_equal(prism_cert_fingerprint_format(&fp, small, sizeof(small)), PRISM_EINVAL);
    assert_int_equal(prism_cert_fingerprint_of(x, (enum prism_cert_hash)9, &fp), PRISM_EINVAL);
    X509_free(x);
}

static void test_generate(void **state)
{
    (void)state;
    struct prism_cert *a = NULL, *b = NULL;
    assert_int_equal(prism_cert_generate(&a), 0);
    assert_int_equal(prism_cert_generate(&b), 0);
    X509 *x = prism_cert_x509(a);
    EVP_PKEY *key = prism_cert_key(a);

    /* ECDSA P-256, self-signed. */
    char group[64];
    size_t group_len = 0;
    assert_true(EVP_PKEY_is_a(key, "EC"));
    assert_int_equal(EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len), 1);
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_verify(x, key), 1);
    assert_int_equal(X509_check_issued(x, x), X509_V_OK);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);

    /* CN "prism" as subject and issuer. */
    char cn[32];
    assert_int_equal(
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)), 5);
    assert_string_equal(cn, "prism");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

    /* Valid now, for 30 days (give or take a minute of test time). */
    int days = 0, secs = 0;
    assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    assert_true(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
    long ahead = (long)days * 86400 + secs;
    assert_true(ahead > 30L * 86400 - 60 && ahead <= 30L * 86400);

    /* Positive random serials: two certificates differ. */
    BIGNUM *sa = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    BIGNUM *sb = ASN1_INTEGER_to_BN(X509_get0_serialNumber(prism_cert_x509(b)), NULL);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_false(BN_is_negative(sa));
    assert_false(BN_is_zero(sa));
    assert_int_not_equal(BN_cmp(sa, sb), 0);
    BN_free(sa);
    BN_free(sb);

    /* The cached fingerprint is the SHA-256 one, in SDP form. */
    const char *fp = prism_cert_fingerprint(a);
    assert_int_equal(strlen(fp), 95);
    for (size_t i = 0; i < 95; i++) {
        if (i % 3 == 2)
            assert_int_equal(fp[i], ':');
        else
            assert_non_null(strchr("0123456789ABCDEF", fp[i]));
    }
    check_format(x, PRISM_CERT_SHA256, fp);
    assert_string_not_equal(fp, prism_cert_fingerprint(b));

    prism_cert_free(a);
    prism_cert_free(b);
    prism_cert_free(NULL);
    assert_int_equal(prism_cert_generate(NULL), PRISM_EINVAL);
}

static void parse_ok(const char *value, enum prism_cert_hash hash, size_t len)
{
    struct prism_fingerprint fp;
    assert_int_equal(prism_cert_fingerprint_parse(value, &fp), 0);
    assert_int_equal(fp.hash, hash);
    assert_int_equal(fp.len, len);
}

static void parse_fails(const char *value, int err)
{
    struct prism_fingerprint fp;
    assert_int_equal(prism_cert_fingerprint_parse(value, &fp), err);
}

static void test_parse(void **state)
{
    (void)state;
    char buf[512];
    snprintf(buf, sizeof(buf), "sha-256 %s", kat_sha256);
    parse_ok(buf, PRISM_CERT_SHA256, 32);
    snprintf(buf, sizeof(buf), "SHA-256   %s\r\n", kat_sha256);
    parse_ok(buf, PRISM_CERT_SHA256, 32);
    snprintf(buf, sizeof(buf), " sha-384 %s", kat_sha384);
    parse_ok(buf, PRISM_CERT_SHA384, 48);
    snprintf(buf, sizeof(buf), "Sha-512 %s", kat_sha512);
    parse_ok(buf, PRISM_CERT_SHA512, 64);
    parse_ok("sha-256 c1:db:32:c2:db:c0:62:2b:a1:d5:e8:67:0a:f4:72:03:ad:2c:34:65:03:87:04:05:"
             "ea:15:83:79:81:5C:88:Aa",
             PRISM_CERT_SHA256, 32);

    /* Other hash functions, well formed: unsupported. */
    parse_fails("sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
                PRISM_EUNSUPPORTED);
    parse_fails("md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B", PRISM_EUNSUPPORTED);
    parse_fails("sha-224 00:11", PRISM_EUNSUPPORTED);

    /* Malformed. */
    parse_fails(NULL, PRISM_EINVAL);
    parse_fails("", PRISM_EINVAL);
    parse_fails("sha-256", PRISM_EINVAL);
    parse_fails("sha-256 ", PRISM_EINVAL);
    parse_fails(kat_sha256, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-256\t%s", kat_sha256);
    parse_fails(buf, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-384 %s", kat_sha256); /* wrong length for the hash */
    parse_fails(buf, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-256 %s:00", kat_sha256); /* 33 bytes */
    parse_fails(buf, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-256 %.92s", kat_sha256); /* 31 bytes */
    parse_fails(buf, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-256 %s:", kat_sha256);
    parse_fails(buf, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-256 :%s", kat_sha256);
    parse_fails(buf, PRISM_EINVAL);
    snprintf(buf, sizeof(buf), "sha-256 %s x", kat_sha256);
    parse_fails(buf, PRISM_EINVAL);
    parse_fails("sha-256 C1DB:32:C2:DB:C0:62:2B:A1:D5:E8:67:0A:F4:72:03:AD:2C:34:65:03:87:04:05:"
                "EA:15:83:79:81:5C:88:AA",
                PRISM_EINVAL);
    parse_fails("sha-256 C1:DB::C2:DB:C0:62:2B:A1:D5:E8:67:0A:F4:72:03:AD:2C:34:65:03:87:04:05:"
                "EA:15:83:79:81:5C:88:AA",
                PRISM_EINVAL);
    parse_fails("sha-256 G1:DB:32:C2:DB:C0:62:2B:A1:D5:E8:67:0A:F4:72:03:AD:2C:34:65:03:87:04:05:"
                "EA:15:83:79:81:5C:88:AA",
                PRISM_EINVAL);
    parse_fails("sha-256 1:DB:32:C2:DB:C0:62:2B:A1:D5:E8:67:0A:F4:72:03:AD:2C:34:65:03:87:04:05:"
                "EA:15:83:79:81:5C:88:AA",
                PRISM_EINVAL);
    /* Longer than any digest. */
    size_t n = (size_t)snprintf(buf, sizeof(buf), "sha-512 ");
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, i ? ":AB" : "AB");
    parse_fails(buf, PRISM_EINVAL);
}

static void test_matches(void **state)
{
    (void)state;
    struct prism_cert *a = NULL, *b = NULL;
    struct prism_fingerprint fp, other, lower;
    char buf[512], out[PRISM_CERT_FINGERPRINT_MAX];
    assert_int_equal(prism_cert_generate(&a), 0);
    assert_int_equal(prism_cert_generate(&b), 0);

    snprintf(buf, sizeof(buf), "sha-256 %s", prism_cert_fingerprint(a));
    assert_int_equal(prism_cert_fingerprint_parse(buf, &fp), 0);
    assert_true(prism_cert_fingerprint_matches(&fp, prism_cert_x509(a)));
    assert_false(prism_cert_fingerprint_matches(&fp, prism_cert_x509(b)));
    assert_false(prism_cert_fingerprint_matches(NULL, prism_cert_x509(a)));
    assert_false(prism_cert_fingerprint_matches(&fp, NULL));

    /* Case does not matter. */
    for (size_t i = 0; buf[i] != '\0'; i++)
        if (buf[i] >= 'A' && buf[i] <= 'F')
            buf[i] = (char)(buf[i] - 'A' + 'a');
    assert_int_equal(prism_cert_fingerprint_parse(buf, &lower), 0);
    assert_true(prism_cert_fingerprint_equal(&fp, &lower));

    /* A SHA-512 fingerprint round-trips through format and parse. */
    assert_int_equal(prism_cert_fingerprint_of(prism_cert_x509(a), PRISM_CERT_SHA512, &other), 0);
    assert_int_equal(prism_cert_fingerprint_format(&other, out, sizeof(out)), 0);
    snprintf(buf, sizeof(buf), "%s %s", prism_cert_hash_name(other.hash), out);
    assert_int_equal(prism_cert_fingerprint_parse(buf, &other), 0);
    assert_true(prism_cert_fingerprint_matches(&other, prism_cert_x509(a)));
    assert_false(prism_cert_fingerprint_equal(&fp, &other));

    /* One differing bit, or the same bytes under another hash, do not match. */
    other = fp;
    other.digest[31] ^= 1;
    assert_false(prism_cert_fingerprint_equal(&fp, &other));
    assert_false(prism_cert_fingerprint_matches(&other, prism_cert_x509(a)));
    other = fp;
    other.hash = PRISM_CERT_SHA384;
    assert_false(prism_cert_fingerprint_equal(&fp, &other));

    prism_cert_free(a);
    prism_cert_free(b);
}

/* Writes `text` of `len` bytes to a fresh temp file whose path goes to `path`. */
static void write_temp(char path[32], const char *text, size_t len)
{
    memcpy(path, "/tmp/prism-cert-XXXXXX", 23);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* PEM of the certificate of `c` (cert) and of its key, optionally encrypted. */
static void write_pem(const struct prism_cert *c, bool encrypt, char cert_path[32],
                      char key_path[32])
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_X509(b, prism_cert_x509(c)), 1);
    long n = BIO_get_mem_data(b, &data);
    write_temp(cert_path, data, (size_t)n);
    BIO_free(b);

    b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    static const unsigned char pass[] = "secret";
    assert_int_equal(PEM_write_bio_PrivateKey(b, prism_cert_key(c),
                                              encrypt ? EVP_aes_128_cbc() : NULL,
                                              encrypt ? pass : NULL, encrypt ? 6 : 0, NULL, NULL),
                     1);
    n = BIO_get_mem_data(b, &data);
    write_temp(key_path, data, (size_t)n);
    BIO_free(b);
}

static void test_load_pem(void **state)
{
    (void)state;
    struct prism_cert *a = NULL, *b = NULL, *loaded = NULL;
    char a_cert[32], a_key[32], b_cert[32], b_key[32], enc_cert[32], enc_key[32], junk[32];
    assert_int_equal(prism_cert_generate(&a), 0);
    assert_int_equal(prism_cert_generate(&b), 0);
    write_pem(a, false, a_cert, a_key);
    write_pem(b, false, b_cert, b_key);
    write_pem(a, true, enc_cert, enc_key);
    write_temp(junk, "not a pem\n", 10);

    assert_int_equal(prism_cert_load_pem(a_cert, a_key, &loaded), 0);
    assert_string_equal(prism_cert_fingerprint(loaded), prism_cert_fingerprint(a));
    assert_int_equal(X509_cmp(prism_cert_x509(loaded), prism_cert_x509(a)), 0);
    prism_cert_free(loaded);
    loaded = NULL;

    assert_int_equal(prism_cert_load_pem(a_cert, b_key, &loaded), PRISM_ECRYPTO);
    assert_int_equal(prism_cert_load_pem(enc_cert, enc_key, &loaded), PRISM_ECRYPTO);
    assert_int_equal(prism_cert_load_pem(junk, a_key, &loaded), PRISM_ECRYPTO);
    assert_int_equal(prism_cert_load_pem(a_cert, junk, &loaded), PRISM_ECRYPTO);
    assert_int_equal(prism_cert_load_pem("/nonexistent/prism.pem", a_key, &loaded), PRISM_EIO);
    assert_int_equal(prism_cert_load_pem(a_cert, "/nonexistent/prism.key", &loaded), PRISM_EIO);
    assert_int_equal(prism_cert_load_pem(NULL, a_key, &loaded), PRISM_EINVAL);
    assert_null(loaded);

    const char *paths[] = {a_cert, a_key, b_cert, b_key, enc_cert, enc_key, junk};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        unlink(paths[i]);
    prism_cert_free(a);
    prism_cert_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_known_answer),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_load_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
