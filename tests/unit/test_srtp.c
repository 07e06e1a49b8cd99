/* Unit tests for crypto/srtp: the linked libsrtp is the OpenSSL build, and
 * what the wrapper puts on the wire is exactly what RFC 3711 and RFC 7714 say.
 *
 * RFC 7714's packet vectors (§16, §17) are given under *session* keys, and
 * libsrtp only accepts master keys, so the chain of evidence is:
 *   1. a small reference SRTP written here on OpenSSL's EVP reproduces the
 *      RFC 3711 B.2 keystream, the B.3 key derivation and the RFC 7714
 *      AES-128-GCM and AES-256-GCM SRTP/SRTCP packets byte for byte;
 *   2. the wrapper's output for a master key equals that reference run on the
 *      keys derived from the same master key, for all three profiles, and
 *      unprotects back to the plaintext;
 *   3. libsrtp's own known answers (srtp_driver.c srtp_validate and
 *      srtp_validate_gcm: RFC 3711 B.3 master key) still hold through the
 *      wrapper.
 * Then behaviour: round trips, tampering, replays, no repeated outbound
 * index, inbound streams bounded whatever the peer sends (issue 9), malformed
 * input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/srtp.h"
#include "relay/base/error.h"

/* ---- helpers ---------------------------------------------------------------- */

/* Decodes hex digits from `s`, skipping spaces and newlines. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s != '\0'; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return n;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- reference SRTP on EVP (RFC 3711 §4, RFC 7714 §8-§11) -------------------- */

/* AES in counter mode with a 16-byte initial counter block. */
static void ref_aes_ctr(const uint8_t *key, size_t key_len, const uint8_t iv[16], const uint8_t *in,
                        uint8_t *out, size_t n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    const EVP_CIPHER *alg = key_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr();
    int outl = 0;
    assert_int_equal(EVP_EncryptInit_ex(c, alg, NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out, &outl, in, (int)n), 1);
    assert_int_equal((size_t)outl, n);
    EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 §4.3.1 with the AES-CM PRF (§4.3.3), kdr = 0: the salt (14 bytes,
 * or GCM's 12 padded with zeros) with the label XORed into its 8th byte, times
 * 2^16, is the counter; the keystream is the key. */
static void ref_kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
                    size_t salt_len, uint8_t label, uint8_t *out, size_t out_len)
{
    uint8_t iv[16] = {0};
    uint8_t zeros[96] = {0};
    assert_true(salt_len <= 14 && out_len <= sizeof(zeros));
    memcpy(iv, master_salt, salt_len);
    iv[7] ^= label;
    ref_aes_ctr(master_key, key_len, iv, zeros, out, out_len);
}

struct ref_keys {
    size_t key_len;
    uint8_t rtp_key[32], rtp_salt[14], rtp_auth[20];
    uint8_t rtcp_key[32], rtcp_salt[14], rtcp_auth[20];
};

static void ref_derive(enum prism_srtp_profile p, const uint8_t *master, struct ref_keys *k)
{
    size_t kl = prism_srtp_profile_key_len(p), sl = prism_srtp_profile_salt_len(p);
    memset(k, 0, sizeof(*k));
    k->key_len = kl;
    ref_kdf(master, kl, master + kl, sl, 0, k->rtp_key, kl);
    ref_kdf(master, kl, master + kl, sl, 1, k->rtp_auth, 20);
    ref_kdf(master, kl, master + kl, sl, 2, k->rtp_salt, sl);
    ref_kdf(master, kl, master + kl, sl, 3, k->rtcp_key, kl);
    ref_kdf(master, kl, master + kl, sl, 4, k->rtcp_auth, 20);
    ref_kdf(master, kl, master + kl, sl, 5, k->rtcp_salt, sl);
}

/* AES-CM + HMAC-SHA1-80 SRTP (RFC 3711 §4.1.1, §4.2), 12-byte header, given ROC. */
static size_t ref_cm_rtp(const struct ref_keys *k, uint32_t roc, const uint8_t *pt, size_t len,
                         uint8_t *out)
{
    uint8_t iv[16] = {0}, mac[20];
    unsigned int mac_len = 0;
    uint64_t index = (uint64_t)roc << 16 | (uint32_t)(pt[2] << 8 | pt[3]);
    memcpy(iv, k->rtp_salt, 14);
    for (int i = 0; i < 4; i++)
        iv[4 + i] ^= pt[8 + i];
    for (int i = 0; i < 6; i++)
        iv[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
    memcpy(out, pt, 12);
    ref_aes_ctr(k->rtp_key, k->key_len, iv, pt + 12, out + 12, len - 12);
    put32(out + len, roc); /* authenticated, then overwritten by the tag */
    HMAC(EVP_sha1(), k->rtp_auth, 20, out, len + 4, mac, &mac_len);
    memcpy(out + len, mac, 10);
    return len + 10;
}

/* AES-CM + HMAC-SHA1-80 SRTCP (RFC 3711 §3.4), encrypted, given index. */
static size_t ref_cm_rtcp(const struct ref_keys *k, uint32_t index, const uint8_t *pt, size_t len,
                          uint8_t *out)
{
    uint8_t iv[16] = {0}, mac[20];
    unsigned int mac_len = 0;
    memcpy(iv, k->rtcp_salt, 14);
    for (int i = 0; i < 4; i++)
        iv[4 + i] ^= pt[4 + i];
    for (int i = 0; i < 4; i++)
        iv[10 + i] ^= (uint8_t)(index >> (24 - 8 * i));
    memcpy(out, pt, 8);
    ref_aes_ctr(k->rtcp_key, k->key_len, iv, pt + 8, out + 8, len - 8);
    put32(out + len, 0x80000000u | index);
    HMAC(EVP_sha1(), k->rtcp_auth, 20, out, len + 4, mac, &mac_len);
    memcpy(out + len + 4, mac, 10);
    return len + 14;
}

/* AES-GCM with a 12-byte IV and 16-byte tag: out = ct || tag. */
static void ref_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[12],
                         const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t n,
                         uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    const EVP_CIPHER *alg = key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    int outl = 0;
    assert_int_equal(EVP_EncryptInit_ex(c, alg, NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &outl, aad, (int)aad_len), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out, &outl, pt, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, out + outl, &outl), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n), 1);
    EVP_CIPHER_CTX_free(c);
}

/* AEAD SRTP (RFC 7714 §8.1, §9.1): IV = salt ^ (0 0 || SSRC || ROC || SEQ),
 * AAD = the header. Session key and salt given directly. */
static size_t ref_gcm_rtp(const uint8_t *key, size_t key_len, const uint8_t salt[12], uint32_t roc,
                          const uint8_t *pt, size_t len, uint8_t *out)
{
    uint8_t iv[12];
    memcpy(iv, salt, 12);
    for (int i = 0; i < 4; i++)
        iv[2 + i] ^= pt[8 + i];
    for (int i = 0; i < 4; i++)
        iv[6 + i] ^= (uint8_t)(roc >> (24 - 8 * i));
    iv[10] ^= pt[2];
    iv[11] ^= pt[3];
    memcpy(out, pt, 12);
    ref_gcm_seal(key, key_len, iv, pt, 12, pt + 12, len - 12, out + 12);
    return len + 16;
}

/* AEAD SRTCP (RFC 7714 §9.2, §10.1), encrypted: IV = salt ^ (0 0 || SSRC ||
 * 0 0 || index), AAD = header || E|index; out = header || ct || tag || E|index. */
static size_t ref_gcm_rtcp(const uint8_t *key, size_t key_len, const uint8_t salt[12],
                           uint32_t index, const uint8_t *pt, size_t len, uint8_t *out)
{
    uint8_t iv[12], aad[12];
    memcpy(iv, salt, 12);
    for (int i = 0; i < 4; i++)
        iv[2 + i] ^= pt[4 + i];
    for (int i = 0; i < 4; i++)
        iv[8 + i] ^= (uint8_t)(index >> (24 - 8 * i));
    memcpy(aad, pt, 8);
    put32(aad + 8, 0x80000000u | index);
    memcpy(out, pt, 8);
    ref_gcm_seal(key, key_len, iv, aad, 12, pt + 8, len - 8, out + 8);
    memcpy(out + len + 16, aad + 8, 4);
    return len + 20;
}

static bool is_gcm(enum prism_srtp_profile p)
{
    return p != PRISM_SRTP_AES128_CM_SHA1_80;
}

static size_t ref_rtp(enum prism_srtp_profile p, const struct ref_keys *k, uint32_t roc,
                      const uint8_t *pt, size_t len, uint8_t *out)
{
    if (is_gcm(p))
        return ref_gcm_rtp(k->rtp_key, k->key_len, k->rtp_salt, roc, pt, len, out);
    return ref_cm_rtp(k, roc, pt, len, out);
}

static size_t ref_rtcp(enum prism_srtp_profile p, const struct ref_keys *k, uint32_t index,
                       const uint8_t *pt, size_t len, uint8_t *out)
{
    if (is_gcm(p))
        return ref_gcm_rtcp(k->rtcp_key, k->key_len, k->rtcp_salt, index, pt, len, out);
    return ref_cm_rtcp(k, index, pt, len, out);
}

/* ---- vectors ------------------------------------------------------------------ */

/* RFC 3711 B.3 master key and salt. */
static const char *rfc3711_master = "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6";

/* RFC 7714 §16.1 / §17.1 plaintext packets. */
static const char *rfc7714_rtp_pt = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f"
                                    "6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573";
static const char *rfc7714_rtcp_pt = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a"
                                     "0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef"
                                     "deadbeef";
static const char *rfc7714_salt = "51 75 69 64 20 70 72 6f 20 71 75 6f";

/* libsrtp's srtp_validate / srtp_validate_gcm plaintexts (SSRC cafebabe). */
static const char *kat_rtp_pt = "800f1234 decafbad cafebabe abababab abababab abababab abababab";
static const char *kat_rtcp_pt = "81c8000b cafebabe abababab abababab abababab abababab";

static struct prism_srtp *make(enum prism_srtp_profile p, const uint8_t *key, bool outbound)
{
    struct prism_srtp *s = NULL;
    size_t len = prism_srtp_profile_key_len(p) + prism_srtp_profile_salt_len(p);
    assert_int_equal(prism_srtp_new(p, key, len, outbound, &s), 0);
    assert_non_null(s);
    return s;
}

static const enum prism_srtp_profile all_profiles[] = {
    PRISM_SRTP_AEAD_AES_256_GCM,
    PRISM_SRTP_AEAD_AES_128_GCM,
    PRISM_SRTP_AES128_CM_SHA1_80,
};

/* ---- tests -------------------------------------------------------------------- */

static void test_backend_is_openssl(void **state)
{
    (void)state;
    assert_int_equal(prism_srtp_init(), 0);
    assert_int_equal(prism_srtp_init(), 0);
    assert_string_equal(prism_srtp_crypto_backend(), "openssl");
}

static void test_profiles(void **state)
{
    (void)state;
    enum prism_srtp_profile p;
    assert_int_equal(prism_srtp_profile_key_len(PRISM_SRTP_AEAD_AES_256_GCM), 32);
    assert_int_equal(prism_srtp_profile_salt_len(PRISM_SRTP_AEAD_AES_256_GCM), 12);
    assert_int_equal(prism_srtp_profile_key_len(PRISM_SRTP_AEAD_AES_128_GCM), 16);
    assert_int_equal(prism_srtp_profile_salt_len(PRISM_SRTP_AEAD_AES_128_GCM), 12);
    assert_int_equal(prism_srtp_profile_key_len(PRISM_SRTP_AES128_CM_SHA1_80), 16);
    assert_int_equal(prism_srtp_profile_salt_len(PRISM_SRTP_AES128_CM_SHA1_80), 14);
    assert_int_equal(prism_srtp_profile_key_len((enum prism_srtp_profile)2), 0);

    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        const char *name = prism_srtp_profile_name(all_profiles[i]);
        assert_non_null(name);
        assert_int_equal(prism_srtp_profile_from_name(name, &p), 0);
        assert_int_equal(p, all_profiles[i]);
    }
    assert_int_equal(prism_srtp_profile_from_name("SRTP_AES128_CM_HMAC_SHA1_80", &p), 0);
    assert_int_equal(p, PRISM_SRTP_AES128_CM_SHA1_80);
    assert_int_equal(prism_srtp_profile_from_name("SRTP_AES128_CM_SHA1_32", &p),
                     PRISM_EUNSUPPORTED);
    assert_int_equal(prism_srtp_profile_from_name(NULL, &p), PRISM_EINVAL);

    /* RFC 5764 §4.1.2 and RFC 7714 §14.2 ids. */
    assert_int_equal(prism_srtp_profile_from_id(0x0001, &p), 0);
    assert_int_equal(p, PRISM_SRTP_AES128_CM_SHA1_80);
    assert_int_equal(prism_srtp_profile_from_id(0x0007, &p), 0);
    assert_int_equal(p, PRISM_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(prism_srtp_profile_from_id(0x0008, &p), 0);
    assert_int_equal(p, PRISM_SRTP_AEAD_AES_256_GCM);
    assert_int_equal(prism_srtp_profile_from_id(0x0002, &p), PRISM_EUNSUPPORTED);
    assert_int_equal(prism_srtp_profile_from_id(0x0005, &p), PRISM_EUNSUPPORTED);
    assert_int_equal(prism_srtp_profile_from_id(0x0006, &p), PRISM_EUNSUPPORTED);
}

/* RFC 3711 B.2: the AES-CM keystream of session key 2B7E..., salt F0F1...FCFD,
 * SSRC 0, index 0; blocks 0-2 and 0xFEFF-0xFF01 of the 65282-block segment. */
static void test_rfc3711_b2_keystream(void **state)
{
    (void)state;
    static uint8_t zeros[65282 * 16];
    static uint8_t ks[65282 * 16];
    uint8_t key[16], iv[16], want[48];
    unhex("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof(key));
    unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", iv, sizeof(iv));
    ref_aes_ctr(key, 16, iv, zeros, ks, sizeof(ks));
    unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"
          "41E95B3BB0A2E8DD477901E4FCA894C0",
          want, sizeof(want));
    assert_memory_equal(ks, want, 48);
    unhex("EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE"
          "6A2CC3787889374FBEB4C81B17BA6C44",
          want, sizeof(want));
    assert_memory_equal(ks + 0xFEFF * 16, want, 48);
}

/* RFC 3711 B.3: session keys derived from the master key and salt. */
static void test_rfc3711_b3_key_derivation(void **state)
{
    (void)state;
    uint8_t master[30], want[94];
    struct ref_keys k;
    unhex(rfc3711_master, master, sizeof(master));
    ref_derive(PRISM_SRTP_AES128_CM_SHA1_80, master, &k);
    unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof(want));
    assert_memory_equal(k.rtp_key, want, 16);
    unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof(want));
    assert_memory_equal(k.rtp_salt, want, 14);
    uint8_t auth[94];
    ref_kdf(master, 16, master + 16, 14, 1, auth, sizeof(auth));
    size_t n = unhex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE"
                     "E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25"
                     "6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
                     want, sizeof(want));
    assert_int_equal(n, 94);
    assert_memory_equal(auth, want, 94);
    assert_memory_equal(k.rtp_auth, want, 20);
}

/* RFC 7714 packet vectors under the given session key: RTP with ROC 0, SRTCP
 * with index 0x5d4. */
static void check_rfc7714(const char *key_hex, size_t key_len, const char *rtp_ct_hex,
                          const char *rtcp_ct_hex)
{
    uint8_t key[32], salt[12], pt[128], want[128], got[128];
    assert_int_equal(unhex(key_hex, key, sizeof(key)), key_len);
    unhex(rfc7714_salt, salt, sizeof(salt));

    size_t len = unhex(rfc7714_rtp_pt, pt, sizeof(pt));
    size_t want_len = unhex(rtp_ct_hex, want, sizeof(want));
    assert_int_equal(ref_gcm_rtp(key, key_len, salt, 0, pt, len, got), want_len);
    assert_memory_equal(got, want, want_len);

    len = unhex(rfc7714_rtcp_pt, pt, sizeof(pt));
    want_len = unhex(rtcp_ct_hex, want, sizeof(want));
    assert_int_equal(ref_gcm_rtcp(key, key_len, salt, 0x5d4, pt, len, got), want_len);
    assert_memory_equal(got, want, want_len);
}

static void test_rfc7714_aead_aes_128_gcm(void **state)
{
    (void)state;
    check_rfc7714("000102030405060708090a0b0c0d0e0f", 16,
                  "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5"
                  "0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce",
                  "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d"
                  "c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872"
                  "45d9eade 800005d4");
}

static void test_rfc7714_aead_aes_256_gcm(void **state)
{
    (void)state;
    check_rfc7714("000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f", 32,
                  "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238"
                  "9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13",
                  "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50"
                  "a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c"
                  "b26ac3be 800005d4");
}

/* Protects `pt` through the wrapper, compares with the reference on keys
 * derived from `master`, and unprotects back. Three RTP packets (ROC 0) and
 * three SRTCP packets (indexes 1, 2, 3). */
static void check_against_reference(enum prism_srtp_profile p, const uint8_t *master,
                                    const char *rtp_hex, const char *rtcp_hex)
{
    struct prism_srtp *tx = make(p, master, true);
    struct prism_srtp *rx = make(p, master, false);
    struct ref_keys k;
    uint8_t pt[128], buf[128 + PRISM_SRTP_MAX_TRAILER], want[128 + 32];
    ref_derive(p, master, &k);

    size_t pt_len = unhex(rtp_hex, pt, sizeof(pt));
    for (int i = 0; i < 3; i++) {
        pt[3] = (uint8_t)(pt[3] + 1); /* next sequence number */
        memcpy(buf, pt, pt_len);
        size_t len = pt_len;
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
        size_t want_len = ref_rtp(p, &k, 0, pt, pt_len, want);
        assert_int_equal(len, want_len);
        assert_memory_equal(buf, want, want_len);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
        assert_int_equal(len, pt_len);
        assert_memory_equal(buf, pt, pt_len);
    }

    pt_len = unhex(rtcp_hex, pt, sizeof(pt));
    for (uint32_t index = 1; index <= 3; index++) {
        memcpy(buf, pt, pt_len);
        size_t len = pt_len;
        assert_int_equal(prism_srtp_protect_rtcp(tx, buf, &len), 0);
        size_t want_len = ref_rtcp(p, &k, index, pt, pt_len, want);
        assert_int_equal(len, want_len);
        assert_memory_equal(buf, want, want_len);
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_OK);
        assert_int_equal(len, pt_len);
        assert_memory_equal(buf, pt, pt_len);
    }
    prism_srtp_free(tx);
    prism_srtp_free(rx);
}

static void test_wrapper_matches_reference(void **state)
{
    (void)state;
    uint8_t master[44];
    unhex(rfc3711_master, master, sizeof(master));
    check_against_reference(PRISM_SRTP_AES128_CM_SHA1_80, master, rfc7714_rtp_pt, rfc7714_rtcp_pt);
    unhex("000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab", master, sizeof(master));
    check_against_reference(PRISM_SRTP_AEAD_AES_128_GCM, master, rfc7714_rtp_pt, rfc7714_rtcp_pt);
    unhex("000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f"
          "a0a1a2a3a4a5a6a7a8a9aaab",
          master, sizeof(master));
    check_against_reference(PRISM_SRTP_AEAD_AES_256_GCM, master, rfc7714_rtp_pt, rfc7714_rtcp_pt);
}

/* libsrtp's known answers (test/srtp_driver.c), through the wrapper. */
static void check_known_answer(enum prism_srtp_profile p, const char *master_hex,
                               const char *rtp_ct_hex, const char *rtcp_ct_hex)
{
    uint8_t master[44], pt[64], want[64], buf[64 + PRISM_SRTP_MAX_TRAILER];
    unhex(master_hex, master, sizeof(master));
    struct prism_srtp *tx = make(p, master, true);
    struct prism_srtp *rx = make(p, master, false);

    size_t pt_len = unhex(kat_rtp_pt, pt, sizeof(pt));
    size_t want_len = unhex(rtp_ct_hex, want, sizeof(want));
    size_t len = pt_len;
    memcpy(buf, pt, pt_len);
    assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, want_len);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
    assert_int_equal(len, pt_len);
    assert_memory_equal(buf, pt, pt_len);

    pt_len = unhex(kat_rtcp_pt, pt, sizeof(pt));
    want_len = unhex(rtcp_ct_hex, want, sizeof(want));
    len = pt_len;
    memcpy(buf, pt, pt_len);
    assert_int_equal(prism_srtp_protect_rtcp(tx, buf, &len), 0);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, want_len);
    assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_OK);
    assert_int_equal(len, pt_len);
    assert_memory_equal(buf, pt, pt_len);

    prism_srtp_free(tx);
    prism_srtp_free(rx);
}

static void test_libsrtp_known_answers(void **state)
{
    (void)state;
    check_known_answer(PRISM_SRTP_AES128_CM_SHA1_80, rfc3711_master,
                       "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402"
                       "b78d6acc 99ea179b 8dbb",
                       "81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001"
                       "993e08cd 54d6c123 0798");
    check_known_answer(PRISM_SRTP_AEAD_AES_128_GCM,
                       "000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab",
                       "800f1234 decafbad cafebabe c5002ede 04cfdd2e b91159e0 880aa06e"
                       "d2976826 f796b201 df3131a1 27e8a392",
                       "81c8000b cafebabe c98b8b5d f0392a55 852b6c21 ac8e7025 c52c6fbe"
                       "a2b3b446 ea31123b a88ce61e 80000001");
}

/* Builds RTP packet `seq` of SSRC `ssrc` with a payload that depends on both. */
static size_t rtp_packet(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    put32(buf + 4, seq * 90u);
    put32(buf + 8, ssrc);
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(seq + ssrc + i);
    return 12 + payload;
}

static size_t rtcp_packet(uint8_t *buf, uint32_t ssrc)
{
    static const uint8_t rr[] = {0x80, 201, 0x00, 0x01};
    memcpy(buf, rr, sizeof(rr));
    put32(buf + 4, ssrc);
    return 8;
}

static void random_key(enum prism_srtp_profile p, uint8_t *key, uint8_t seed)
{
    size_t n = prism_srtp_profile_key_len(p) + prism_srtp_profile_salt_len(p);
    for (size_t i = 0; i < n; i++)
        key[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Many packets of two SSRCs, across a sequence number wrap, with RTCP. */
static void test_round_trip_all_profiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        enum prism_srtp_profile p = all_profiles[i];
        uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN];
        uint8_t pt[1200], buf[1200 + PRISM_SRTP_MAX_TRAILER];
        random_key(p, key, (uint8_t)i);
        struct prism_srtp *tx = make(p, key, true);
        struct prism_srtp *rx = make(p, key, false);
        for (uint32_t n = 0; n < 300; n++) {
            uint16_t seq = (uint16_t)(65400 + n);
            uint32_t ssrc = n % 2 ? 0x11111111 : 0x22222222;
            size_t pt_len = rtp_packet(pt, seq, ssrc, 100 + n);
            size_t len = pt_len;
            memcpy(buf, pt, pt_len);
            assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
            assert_true(len > pt_len && len <= pt_len + PRISM_SRTP_MAX_TRAILER);
            assert_memory_not_equal(buf + 12, pt + 12, pt_len - 12);
            assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
            assert_int_equal(len, pt_len);
            assert_memory_equal(buf, pt, pt_len);

            pt_len = rtcp_packet(pt, ssrc);
            len = pt_len;
            memcpy(buf, pt, pt_len);
            assert_int_equal(prism_srtp_protect_rtcp(tx, buf, &len), 0);
            assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_OK);
            assert_int_equal(len, pt_len);
            assert_memory_equal(buf, pt, pt_len);
        }
        prism_srtp_free(tx);
        prism_srtp_free(rx);
    }
}

/* A flipped bit anywhere (header, payload, tag, SRTCP index) fails
 * authentication; the intact packet still passes afterwards. */
static void test_tampered_is_auth_failed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        enum prism_srtp_profile p = all_profiles[i];
        uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN], good[200 + PRISM_SRTP_MAX_TRAILER];
        uint8_t buf[200 + PRISM_SRTP_MAX_TRAILER];
        random_key(p, key, 7);
        struct prism_srtp *tx = make(p, key, true);
        struct prism_srtp *rx = make(p, key, false);

        size_t good_len = rtp_packet(good, 1000, 0xabcdef01, 160);
        assert_int_equal(prism_srtp_protect_rtp(tx, good, &good_len), 0);
        const size_t spots[] = {1, 5, 20, good_len - 1};
        for (size_t s = 0; s < sizeof(spots) / sizeof(spots[0]); s++) {
            size_t len = good_len;
            memcpy(buf, good, good_len);
            buf[spots[s]] ^= 0x04;
            assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_AUTH_FAILED);
        }
        size_t len = good_len;
        memcpy(buf, good, good_len);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);

        good_len = rtcp_packet(good, 0xabcdef01);
        assert_int_equal(prism_srtp_protect_rtcp(tx, good, &good_len), 0);
        const size_t rtcp_spots[] = {5, 9, good_len - 1};
        for (size_t s = 0; s < sizeof(rtcp_spots) / sizeof(rtcp_spots[0]); s++) {
            len = good_len;
            memcpy(buf, good, good_len);
            buf[rtcp_spots[s]] ^= 0x01;
            assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_AUTH_FAILED);
        }
        len = good_len;
        memcpy(buf, good, good_len);
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_OK);

        /* Another key: authentic to nobody. */
        random_key(p, key, 8);
        struct prism_srtp *other = make(p, key, false);
        len = good_len;
        memcpy(buf, good, good_len);
        assert_int_equal(prism_srtp_unprotect_rtcp(other, buf, &len), PRISM_SRTP_AUTH_FAILED);
        prism_srtp_free(other);
        prism_srtp_free(tx);
        prism_srtp_free(rx);
    }
}

/* The same packet twice is a replay; so is one far behind the window. */
static void test_replay_is_replay(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        enum prism_srtp_profile p = all_profiles[i];
        uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN], first[300], saved[300], buf[300];
        random_key(p, key, 9);
        struct prism_srtp *tx = make(p, key, true);
        struct prism_srtp *rx = make(p, key, false);

        size_t first_len = rtp_packet(first, 10, 0x1234, 20);
        assert_int_equal(prism_srtp_protect_rtp(tx, first, &first_len), 0);
        size_t saved_len = first_len;
        memcpy(saved, first, first_len);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, first, &first_len), PRISM_SRTP_OK);
        size_t len = saved_len;
        memcpy(buf, saved, saved_len);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_REPLAY);

        /* Move 2000 packets ahead; seq 10 is now older than the window. */
        for (uint16_t seq = 11; seq < 2011; seq++) {
            len = rtp_packet(buf, seq, 0x1234, 20);
            assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
            if (seq > 2000)
                assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
        }
        len = saved_len;
        memcpy(buf, saved, saved_len);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_REPLAY);

        len = rtcp_packet(first, 0x1234);
        assert_int_equal(prism_srtp_protect_rtcp(tx, first, &len), 0);
        memcpy(saved, first, len);
        saved_len = len;
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, first, &len), PRISM_SRTP_OK);
        len = saved_len;
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, saved, &len), PRISM_SRTP_REPLAY);
        prism_srtp_free(tx);
        prism_srtp_free(rx);
    }
}

/* Issue 9, finding 3: an outbound session never protects one index twice,
 * whatever the payload (the same, or a different one: a reused AES-GCM
 * nonce), in every profile; the next index still goes out, a reordered
 * one not yet used too, and RTCP (its own counter) is unaffected. */
static void test_repeated_index_is_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        enum prism_srtp_profile p = all_profiles[i];
        uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN], buf[300];
        random_key(p, key, 3);
        struct prism_srtp *tx = make(p, key, true);
        struct prism_srtp *rx = make(p, key, false);
        size_t len = rtp_packet(buf, 500, 0x55, 50);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
        /* The identical packet, then another payload, under index 500. */
        len = rtp_packet(buf, 500, 0x55, 50);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), PRISM_ECRYPTO);
        len = rtp_packet(buf, 500, 0x55, 60);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), PRISM_ECRYPTO);
        /* Moving on works; so does 499 (reordered, never used), once. */
        len = rtp_packet(buf, 501, 0x55, 50);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
        len = rtp_packet(buf, 499, 0x55, 50);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
        len = rtp_packet(buf, 499, 0x55, 50);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), PRISM_ECRYPTO);
        /* Another SSRC has its own indexes. */
        len = rtp_packet(buf, 500, 0x56, 50);
        assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
        for (int r = 0; r < 3; r++) {
            len = rtcp_packet(buf, 0x55);
            assert_int_equal(prism_srtp_protect_rtcp(tx, buf, &len), 0);
            assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_OK);
        }
        prism_srtp_free(tx);
        prism_srtp_free(rx);
    }
}

/* ---- bounded inbound streams (issue 9, finding 2) ---------------------------- */

/* An authentic SRTP packet of `ssrc` under `master`, made by the reference
 * (no outbound session: it would hold a stream per SSRC itself). */
static size_t authentic_rtp(enum prism_srtp_profile p, const struct ref_keys *k, uint32_t ssrc,
                            uint16_t seq, uint8_t *out)
{
    uint8_t pt[64];
    size_t len = rtp_packet(pt, seq, ssrc, 20);
    return ref_rtp(p, k, 0, pt, len, out);
}

#define FLOOD_SSRCS 30000

/* 30,000 SSRCs, every packet authentic (what a peer holding the keys can
 * send): only the reserved SSRCs and `n_other` others get a stream, every
 * other packet is refused before libsrtp touches it, and libsrtp's stream
 * list, which each packet walks, stays at that size: the per-packet cost is
 * bounded by the allowance, not by what the peer sends. Reserved SSRCs
 * arriving after the flood still get in. RTCP draws on the same streams. */
static void test_streams_bounded(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        enum prism_srtp_profile p = all_profiles[i];
        uint8_t master[PRISM_SRTP_MAX_KEY_SALT_LEN], buf[64 + 32], copy[64 + 32];
        struct ref_keys k;
        random_key(p, master, 21);
        ref_derive(p, master, &k);
        struct prism_srtp *rx = make(p, master, false);
        const uint32_t reserved[] = {0xaaaa0001u, 0xaaaa0002u, 0xaaaa0001u};
        assert_int_equal(prism_srtp_set_ssrcs(rx, reserved, 3, 3), 0);

        size_t ok = 0, refused = 0;
        for (uint32_t n = 0; n < FLOOD_SSRCS; n++) {
            size_t len = authentic_rtp(p, &k, 0x10000u + n, 7, buf);
            memcpy(copy, buf, len);
            enum prism_srtp_verdict v = prism_srtp_unprotect_rtp(rx, buf, &len);
            if (v == PRISM_SRTP_OK) {
                ok++;
            } else {
                assert_int_equal(v, PRISM_SRTP_SSRC_REFUSED);
                assert_memory_equal(buf, copy, len); /* never decrypted */
                refused++;
            }
        }
        assert_int_equal(ok, 3);
        assert_int_equal(refused, FLOOD_SSRCS - 3);
        /* The first three came first; their later packets still pass. */
        size_t len = authentic_rtp(p, &k, 0x10002u, 8, buf);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
        for (size_t r = 0; r < 2; r++) {
            len = authentic_rtp(p, &k, reserved[r], 1, buf);
            assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
        }
        /* RTCP: an admitted SSRC passes, a new one is refused. */
        uint8_t pt[16];
        size_t pt_len = rtcp_packet(pt, 0x10001u);
        len = ref_rtcp(p, &k, 1, pt, pt_len, buf);
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_OK);
        pt_len = rtcp_packet(pt, 0x20000u + FLOOD_SSRCS);
        len = ref_rtcp(p, &k, 1, pt, pt_len, buf);
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_SSRC_REFUSED);

        /* libsrtp itself holds exactly five streams. */
        size_t streams = 0;
        for (uint32_t n = 0; n < FLOOD_SSRCS; n++)
            streams += prism__srtp_has_stream(rx, 0x10000u + n);
        assert_int_equal(streams, 3);
        assert_true(prism__srtp_has_stream(rx, reserved[0]));
        assert_true(prism__srtp_has_stream(rx, reserved[1]));
        assert_false(prism__srtp_has_stream(rx, 0x20000u + FLOOD_SSRCS));
        prism_srtp_free(rx);
    }
}

/* Forged packets of new SSRCs take no room: only authentic ones do. */
static void test_forgeries_take_no_room(void **state)
{
    (void)state;
    enum prism_srtp_profile p = PRISM_SRTP_AEAD_AES_128_GCM;
    uint8_t master[PRISM_SRTP_MAX_KEY_SALT_LEN], buf[64 + 32];
    struct ref_keys k;
    random_key(p, master, 22);
    ref_derive(p, master, &k);
    struct prism_srtp *rx = make(p, master, false);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 1), 0);
    for (uint32_t n = 0; n < 100; n++) {
        size_t len = authentic_rtp(p, &k, 0x300u + n, 7, buf);
        buf[len - 1] ^= 1;
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_AUTH_FAILED);
        assert_false(prism__srtp_has_stream(rx, 0x300u + n));
    }
    size_t len = authentic_rtp(p, &k, 0x999u, 7, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
    len = authentic_rtp(p, &k, 0x998u, 7, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_SSRC_REFUSED);
    prism_srtp_free(rx);
}

/* A receiver that renegotiates: the RTCP-only SSRCs of its stopped
 * transceivers fall silent and are dropped at the next setting, so the
 * room goes to its new ones; one that sent RTCP since the last setting, or
 * any that carried RTP (whose rollover counter a new stream would lose),
 * keeps its stream. */
static void test_silent_rtcp_streams_dropped(void **state)
{
    (void)state;
    enum prism_srtp_profile p = PRISM_SRTP_AES128_CM_SHA1_80;
    uint8_t master[PRISM_SRTP_MAX_KEY_SALT_LEN], buf[64 + 32], pt[16];
    struct ref_keys k;
    random_key(p, master, 24);
    ref_derive(p, master, &k);
    struct prism_srtp *rx = make(p, master, false);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 3), 0);
    uint32_t index = 1;
    size_t len;
#define RTCP_FROM(ssrc)                                                                            \
    (len = ref_rtcp(p, &k, index++, pt, rtcp_packet(pt, (ssrc)), buf),                             \
     prism_srtp_unprotect_rtcp(rx, buf, &len))
    /* Two transceivers' RTCP and one RTP stream fill the room. */
    assert_int_equal(RTCP_FROM(0x61u), PRISM_SRTP_OK);
    assert_int_equal(RTCP_FROM(0x62u), PRISM_SRTP_OK);
    len = authentic_rtp(p, &k, 0x63u, 7, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
    assert_int_equal(RTCP_FROM(0x64u), PRISM_SRTP_SSRC_REFUSED);
    /* Renegotiated: everything was used since the last setting, all stay. */
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 3), 0);
    assert_int_equal(RTCP_FROM(0x64u), PRISM_SRTP_SSRC_REFUSED);
    /* 0x61's transceiver stopped; 0x62 goes on; 0x63 (RTP) is silent. */
    assert_int_equal(RTCP_FROM(0x62u), PRISM_SRTP_OK);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 3), 0);
    assert_false(prism__srtp_has_stream(rx, 0x61u));
    assert_true(prism__srtp_has_stream(rx, 0x62u));
    assert_true(prism__srtp_has_stream(rx, 0x63u));
    assert_int_equal(RTCP_FROM(0x64u), PRISM_SRTP_OK);
    assert_int_equal(RTCP_FROM(0x65u), PRISM_SRTP_SSRC_REFUSED);
    /* A forged packet of a silent SSRC does not keep it. */
    len = ref_rtcp(p, &k, index++, pt, rtcp_packet(pt, 0x62u), buf);
    buf[len - 1] ^= 1;
    assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_AUTH_FAILED);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 3), 0);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 3), 0);
    assert_false(prism__srtp_has_stream(rx, 0x62u));
    assert_true(prism__srtp_has_stream(rx, 0x63u));
#undef RTCP_FROM
    prism_srtp_free(rx);
}

/* A new session admits PRISM_SRTP_DEFAULT_STREAMS SSRCs; a new setting
 * keeps streams while there is room and removes the others; bad arguments. */
static void test_set_ssrcs(void **state)
{
    (void)state;
    enum prism_srtp_profile p = PRISM_SRTP_AES128_CM_SHA1_80;
    uint8_t master[PRISM_SRTP_MAX_KEY_SALT_LEN], buf[64 + 32];
    struct ref_keys k;
    random_key(p, master, 23);
    ref_derive(p, master, &k);
    struct prism_srtp *rx = make(p, master, false);
    for (uint32_t n = 0; n <= PRISM_SRTP_DEFAULT_STREAMS; n++) {
        size_t len = authentic_rtp(p, &k, 0x500u + n, 7, buf);
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len),
                         n < PRISM_SRTP_DEFAULT_STREAMS ? PRISM_SRTP_OK : PRISM_SRTP_SSRC_REFUSED);
    }
    /* Reserve one of them and one new SSRC, room for two others: the
     * first two others keep their streams, the rest lose them. */
    const uint32_t reserved[] = {0x505u, 0x7777u};
    assert_int_equal(prism_srtp_set_ssrcs(rx, reserved, 2, 2), 0);
    assert_true(prism__srtp_has_stream(rx, 0x500u));
    assert_true(prism__srtp_has_stream(rx, 0x501u));
    assert_true(prism__srtp_has_stream(rx, 0x505u));
    size_t streams = 0;
    for (uint32_t n = 0; n < PRISM_SRTP_DEFAULT_STREAMS; n++)
        streams += prism__srtp_has_stream(rx, 0x500u + n);
    assert_int_equal(streams, 3);
    size_t len = authentic_rtp(p, &k, 0x502u, 8, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_SSRC_REFUSED);
    len = authentic_rtp(p, &k, 0x7777u, 8, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);
    len = authentic_rtp(p, &k, 0x501u, 8, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_OK);

    /* No longer reserved: 0x7777 keeps its stream as an other while there
     * is room (one), so 0x500 and 0x501 lose theirs. */
    assert_int_equal(prism_srtp_set_ssrcs(rx, reserved, 1, 1), 0);
    assert_true(prism__srtp_has_stream(rx, 0x505u));
    assert_true(prism__srtp_has_stream(rx, 0x7777u));
    assert_false(prism__srtp_has_stream(rx, 0x500u));
    assert_false(prism__srtp_has_stream(rx, 0x501u));

    uint32_t many[PRISM_SRTP_MAX_STREAMS + 1] = {0};
    assert_int_equal(prism_srtp_set_ssrcs(rx, many, PRISM_SRTP_MAX_STREAMS + 1, 0), PRISM_EINVAL);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 1, 0), PRISM_EINVAL);
    assert_int_equal(prism_srtp_set_ssrcs(NULL, NULL, 0, 0), PRISM_EINVAL);
    struct prism_srtp *tx = make(p, master, true);
    assert_int_equal(prism_srtp_set_ssrcs(tx, NULL, 0, 4), PRISM_EINVAL);
    prism_srtp_free(tx);
    /* Nothing allowed at all. */
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, 0), 0);
    len = authentic_rtp(p, &k, 0x505u, 9, buf);
    assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_SSRC_REFUSED);
    prism_srtp_free(rx);
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN], buf[64 + PRISM_SRTP_MAX_TRAILER] = {0x80};
    for (size_t i = 0; i < sizeof(all_profiles) / sizeof(all_profiles[0]); i++) {
        enum prism_srtp_profile p = all_profiles[i];
        random_key(p, key, 11);
        struct prism_srtp *tx = make(p, key, true);
        struct prism_srtp *rx = make(p, key, false);
        size_t len = 5;
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_MALFORMED);
        len = 0;
        assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), PRISM_SRTP_MALFORMED);
        len = 6;
        assert_int_equal(prism_srtp_unprotect_rtcp(rx, buf, &len), PRISM_SRTP_MALFORMED);
        len = 8;
        assert_true(prism_srtp_protect_rtp(tx, buf, &len) < 0);
        /* CSRC count 15 claims 60 header bytes the packet does not have. */
        buf[0] = 0x8f;
        len = 20;
        assert_true(prism_srtp_protect_rtp(tx, buf, &len) < 0);
        buf[0] = 0x80;
        prism_srtp_free(tx);
        prism_srtp_free(rx);
    }
}

static void test_new_rejects_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[64] = {0};
    struct prism_srtp *s = NULL;
    assert_int_equal(prism_srtp_new(PRISM_SRTP_AEAD_AES_256_GCM, key, 43, true, &s), PRISM_EINVAL);
    assert_int_equal(prism_srtp_new(PRISM_SRTP_AES128_CM_SHA1_80, key, 28, true, &s), PRISM_EINVAL);
    assert_int_equal(prism_srtp_new((enum prism_srtp_profile)2, key, 30, true, &s), PRISM_EINVAL);
    assert_int_equal(prism_srtp_new(PRISM_SRTP_AEAD_AES_128_GCM, NULL, 28, true, &s), PRISM_EINVAL);
    assert_null(s);
    prism_srtp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_is_openssl),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_rfc3711_b2_keystream),
        cmocka_unit_test(test_rfc3711_b3_key_derivation),
        cmocka_unit_test(test_rfc7714_aead_aes_128_gcm),
        cmocka_unit_test(test_rfc7714_aead_aes_256_gcm),
        cmocka_unit_test(test_wrapper_matches_reference),
        cmocka_unit_test(test_libsrtp_known_answers),
        cmocka_unit_test(test_round_trip_all_profiles),
        cmocka_unit_test(test_tampered_is_auth_failed),
        cmocka_unit_test(test_replay_is_replay),
        cmocka_unit_test(test_repeated_index_is_refused),
        cmocka_unit_test(test_streams_bounded),
        cmocka_unit_test(test_forgeries_take_no_room),
        cmocka_unit_test(test_set_ssrcs),
        cmocka_unit_test(test_silent_rtcp_streams_dropped),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_new_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
