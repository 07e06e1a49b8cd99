/* SRTP sessions over libsrtp2 (see srtp.h). Foreign status codes
 * (srtp_err_status_t) are translated here and go no further.
 *
 * Inbound stream bookkeeping (srtp.h, "Bounded inbound streams"): `ssrcs`
 * lists the reserved SSRCs, then the other SSRCs that have a stream
 * (`n_other` of at most `max_other`). libsrtp clones a stream from the
 * template only after a packet of a new SSRC authenticated (srtp.c 2.5:
 * srtp_unprotect, srtp_unprotect_aead, srtp_unprotect_rtcp), so a packet of
 * an unlisted SSRC is let through only while there is room, and afterwards
 * libsrtp is asked whether it made a stream (except on an auth failure,
 * which never does: the flood path stays one array scan and one tag check).
 * Reserved SSRCs are listed whether or not a stream exists yet.
 *
 * Each listed SSRC carries two flags, set by a packet that authenticated:
 * USED (since the last prism_srtp_set_ssrcs()) and RTP (it ever carried
 * RTP). A new setting drops the other SSRCs that carried only RTCP and were
 * not used since the previous one: a receiver that renegotiates keeps
 * sending RTCP from the SSRCs of its live transceivers, and those of its
 * stopped ones would otherwise hold the room for good. RTP streams are
 * never dropped that way: a new stream restarts its rollover counter at 0,
 * which would fail every packet of a stream past its first 65,536. */
#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "crypto/srtp.h"
#include "relay/base/bytes.h"
#include "relay/base/check.h"
#include "relay/base/error.h"

/* Browsers use 1024 too: a video keyframe is a burst the network may reorder. */
#define REPLAY_WINDOW 1024

/* Our tailroom promise must cover libsrtp's documented worst case (SRTCP). */
_Static_assert(PRISM_SRTP_MAX_TRAILER >= SRTP_MAX_TRAILER_LEN + 4, "SRTP tailroom too small");
_Static_assert(PRISM_SRTP_MAX_KEY_SALT_LEN >= SRTP_AES_256_KEY_LEN + SRTP_AEAD_SALT_LEN,
               "key buffer too small");

/* What a listed SSRC has done since the last setting (flags). */
#define LISTED_USED 1u /* a packet authenticated */
#define LISTED_RTP 2u  /* it carried RTP, ever */

struct listed {
    uint32_t ssrc;
    uint8_t flags; /* LISTED_* */
};

struct prism_srtp {
    srtp_t session; /* owned; one direction, wildcard SSRC */
    bool outbound;  /* protect (true) or unprotect (false), fixed at creation */
    /* inbound only */
    struct listed *ssrcs; /* heap, n_reserved + max_other: reserved, then others with a stream */
    size_t n_reserved;    /* always admitted */
    size_t n_other;       /* others holding a stream */
    size_t max_other;     /* room for others */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = PRISM_ECRYPTO; /* written once, under init_once */
static const char *backend = "builtin"; /* written once, under init_once */

/* Called by srtp_list_debug_modules() once per line fragment, e.g.
 * "  aes icm ossl " then "(off)". Runs only inside init_once. */
static void on_module_line(srtp_log_level_t level, const char *msg, void *data)
{
    (void)level;
    (void)data;
    while (*msg == ' ')
        msg++;
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        n--;
    if (n == strlen("aes icm ossl") && memcmp(msg, "aes icm ossl", n) == 0)
        backend = "openssl";
    else if (n == strlen("aes icm nss") && memcmp(msg, "aes icm nss", n) == 0)
        backend = "nss";
}

static void init_once_fn(void)
{
    if (srtp_init() != srtp_err_status_ok)
        return;
    srtp_install_log_handler(on_module_line, NULL);
    srtp_list_debug_modules();
    srtp_install_log_handler(NULL, NULL);
    init_result = 0;
}

int prism_srtp_init(void)
{
    PRISM_CHECK(pthread_once(&init_once, init_once_fn) == 0);
    return init_result;
}

const char *prism_srtp_crypto_backend(void)
{
    prism_srtp_init();
    return backend;
}

size_t prism_srtp_profile_key_len(enum prism_srtp_profile profile)
{
    switch (profile) {
    case PRISM_SRTP_AES128_CM_SHA1_80:
    case PRISM_SRTP_AEAD_AES_128_GCM: return 16;
    case PRISM_SRTP_AEAD_AES_256_GCM: return 32;
    }
    return 0;
}

size_t prism_srtp_profile_salt_len(enum prism_srtp_profile profile)
{
    switch (profile) {
    case PRISM_SRTP_AES128_CM_SHA1_80: return 14;
    case PRISM_SRTP_AEAD_AES_128_GCM:
    case PRISM_SRTP_AEAD_AES_256_GCM: return 12;
    }
    return 0;
}

const char *prism_srtp_profile_name(enum prism_srtp_profile profile)
{
    switch (profile) {
    case PRISM_SRTP_AES128_CM_SHA1_80: return "SRTP_AES128_CM_SHA1_80";
    case PRISM_SRTP_AEAD_AES_128_GCM: return "SRTP_AEAD_AES_128_GCM";
    case PRISM_SRTP_AEAD_AES_256_GCM: return "SRTP_AEAD_AES_256_GCM";
    }
    return NULL;
}

int prism_srtp_profile_from_name(const char *name, enum prism_srtp_profile *out)
{
    if (name == NULL || out == NULL)
        return PRISM_EINVAL;
    /* OpenSSL drops "HMAC_" from the RFC 5764 name; accept both. */
    if (strcmp(name, "SRTP_AES128_CM_SHA1_80") == 0 ||
        strcmp(name, "SRTP_AES128_CM_HMAC_SHA1_80") == 0)
        *out = PRISM_SRTP_AES128_CM_SHA1_80;
    else if (strcmp(name, "SRTP_AEAD_AES_128_GCM") == 0)
        *out = PRISM_SRTP_AEAD_AES_128_GCM;
    else if (strcmp(name, "SRTP_AEAD_AES_256_GCM") == 0)
        *out = PRISM_SRTP_AEAD_AES_256_GCM;
    else
        return PRISM_EUNSUPPORTED;
    return 0;
}

int prism_srtp_profile_from_id(unsigned long id, enum prism_srtp_profile *out)
{
    if (out == NULL)
        return PRISM_EINVAL;
    switch (id) {
    case PRISM_SRTP_AES128_CM_SHA1_80:
    case PRISM_SRTP_AEAD_AES_128_GCM:
    case PRISM_SRTP_AEAD_AES_256_GCM: *out = (enum prism_srtp_profile)id; return 0;
    default: return PRISM_EUNSUPPORTED;
    }
}

/* Fills the RTP and RTCP crypto policies of `profile`. Returns false if
 * `profile` is not one of ours. */
static bool set_crypto_policy(enum prism_srtp_profile profile, srtp_policy_t *policy)
{
    switch (profile) {
    case PRISM_SRTP_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtcp);
        return true;
    case PRISM_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
        return true;
    case PRISM_SRTP_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy->rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy->rtcp);
        return true;
    }
    return false;
}

int prism_srtp_new(enum prism_srtp_profile profile, const uint8_t *key_salt, size_t len,
                   bool outbound, struct prism_srtp **out)
{
    unsigned char key[PRISM_SRTP_MAX_KEY_SALT_LEN];
    struct prism_srtp *s = NULL;
    srtp_policy_t policy;
    int err = prism_srtp_init();
    if (err != 0)
        return err;
    if (key_salt == NULL || out == NULL)
        return PRISM_EINVAL;
    size_t want = prism_srtp_profile_key_len(profile) + prism_srtp_profile_salt_len(profile);
    memset(&policy, 0, sizeof(policy));
    if (!set_crypto_policy(profile, &policy) || len != want)
        return PRISM_EINVAL;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return PRISM_ENOMEM;
    s->outbound = outbound;
    if (!outbound) {
        s->max_other = PRISM_SRTP_DEFAULT_STREAMS;
        s->ssrcs = calloc(s->max_other, sizeof(*s->ssrcs));
        if (s->ssrcs == NULL) {
            free(s);
            return PRISM_ENOMEM;
        }
    }
    /* libsrtp takes a non-const key; give it a copy we can wipe. */
    memcpy(key, key_salt, len);
    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = key;
    policy.window_size = REPLAY_WINDOW;
    /* Never: a repeated outbound index is a reused AES-GCM nonce (srtp.h). */
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    srtp_err_status_t st = srtp_create(&s->session, &policy);
    OPENSSL_cleanse(key, sizeof(key));
    if (st != srtp_err_status_ok) {
        err = st == srtp_err_status_alloc_fail ? PRISM_ENOMEM : PRISM_ECRYPTO;
        goto fail;
    }
    *out = s;
    return 0;

fail:
    free(s->ssrcs);
    free(s);
    return err;
}

void prism_srtp_free(struct prism_srtp *s)
{
    if (s == NULL)
        return;
    if (s->session != NULL)
        srtp_dealloc(s->session);
    free(s->ssrcs);
    free(s);
}

/* --- inbound streams ----------------------------------------------------------- */

/* The index of `ssrc` in `list`, or -1. */
static ptrdiff_t find(const struct listed *list, size_t n, uint32_t ssrc)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].ssrc == ssrc)
            return (ptrdiff_t)i;
    return -1;
}

bool prism__srtp_has_stream(struct prism_srtp *s, uint32_t ssrc)
{
    uint32_t roc;
    return srtp_get_stream_roc(s->session, ssrc, &roc) == srtp_err_status_ok;
}

int prism_srtp_set_ssrcs(struct prism_srtp *s, const uint32_t *reserved, size_t n_reserved,
                         size_t n_other)
{
    if (s == NULL || s->outbound || (reserved == NULL && n_reserved > 0) ||
        n_reserved > PRISM_SRTP_MAX_STREAMS)
        return PRISM_EINVAL;
    size_t max_other = n_other < PRISM_SRTP_MAX_STREAMS - n_reserved
                           ? n_other
                           : PRISM_SRTP_MAX_STREAMS - n_reserved;
    size_t cap = n_reserved + max_other;
    struct listed *next = calloc(cap > 0 ? cap : 1, sizeof(*next));
    if (next == NULL)
        return PRISM_ENOMEM;
    size_t n_next = 0;
    for (size_t i = 0; i < n_reserved; i++) {
        if (find(next, n_next, reserved[i]) >= 0)
            continue;
        ptrdiff_t was = find(s->ssrcs, s->n_reserved + s->n_other, reserved[i]);
        next[n_next].ssrc = reserved[i];
        next[n_next++].flags = was >= 0 ? s->ssrcs[was].flags & LISTED_RTP : 0;
    }
    size_t n_res = n_next;
    /* Every SSRC listed so far that has a stream and is not reserved now
     * keeps it while there is room, unless it carried only RTCP and fell
     * silent since the last setting; the rest lose theirs. */
    for (size_t i = 0; i < s->n_reserved + s->n_other; i++) {
        const struct listed *l = &s->ssrcs[i];
        if (find(next, n_next, l->ssrc) >= 0 || !prism__srtp_has_stream(s, l->ssrc))
            continue;
        if (n_next - n_res < max_other && (l->flags & (LISTED_USED | LISTED_RTP)) != 0) {
            next[n_next].ssrc = l->ssrc;
            next[n_next++].flags = l->flags & LISTED_RTP;
        } else {
            (void)srtp_remove_stream(s->session, htonl(l->ssrc));
        }
    }
    free(s->ssrcs);
    s->ssrcs = next;
    s->n_reserved = n_res;
    s->n_other = n_next - n_res;
    s->max_other = max_other;
    return 0;
}

/* Whether a packet of `ssrc` may reach libsrtp; `*at` is its index in the
 * list, or -1 when it is not accounted for yet. */
static bool admit(const struct prism_srtp *s, uint32_t ssrc, ptrdiff_t *at)
{
    *at = find(s->ssrcs, s->n_reserved + s->n_other, ssrc);
    return *at >= 0 || s->n_other < s->max_other;
}

/* After libsrtp saw a packet of an unlisted SSRC: lists it if a stream
 * now exists, and returns its index (else -1). */
static ptrdiff_t note_stream(struct prism_srtp *s, uint32_t ssrc, srtp_err_status_t st)
{
    if (st == srtp_err_status_auth_fail || !prism__srtp_has_stream(s, ssrc))
        return -1;
    size_t i = s->n_reserved + s->n_other++;
    s->ssrcs[i] = (struct listed){.ssrc = ssrc};
    return (ptrdiff_t)i;
}

/* libsrtp counts in int; refuse lengths it cannot represent with the trailer. */
static bool len_fits(size_t len)
{
    return len <= (size_t)(INT_MAX - PRISM_SRTP_MAX_TRAILER);
}

static int protect_status(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok: return 0;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return PRISM_EINVAL;
    default: return PRISM_ECRYPTO;
    }
}

static enum prism_srtp_verdict unprotect_verdict(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok: return PRISM_SRTP_OK;
    case srtp_err_status_auth_fail: /* HMAC or GCM tag */ return PRISM_SRTP_AUTH_FAILED;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return PRISM_SRTP_REPLAY;
    default: return PRISM_SRTP_MALFORMED;
    }
}

int prism_srtp_protect_rtp(struct prism_srtp *s, uint8_t *buf, size_t *len)
{
    PRISM_CHECK(s != NULL && s->outbound);
    if (!len_fits(*len))
        return PRISM_EINVAL;
    int n = (int)*len;
    int err = protect_status(srtp_protect(s->session, buf, &n));
    if (err == 0)
        *len = (size_t)n;
    return err;
}

int prism_srtp_protect_rtcp(struct prism_srtp *s, uint8_t *buf, size_t *len)
{
    PRISM_CHECK(s != NULL && s->outbound);
    if (!len_fits(*len))
        return PRISM_EINVAL;
    int n = (int)*len;
    int err = protect_status(srtp_protect_rtcp(s->session, buf, &n));
    if (err == 0)
        *len = (size_t)n;
    return err;
}

/* The SSRC sits at byte 8 of an RTP header and byte 4 of an RTCP one (the
 * sender's, which is what libsrtp keys its SRTCP stream by). */
static enum prism_srtp_verdict unprotect(struct prism_srtp *s, uint8_t *buf, size_t *len, bool rtcp)
{
    PRISM_CHECK(s != NULL && !s->outbound);
    size_t at = rtcp ? 4 : 8;
    if (*len > INT_MAX || *len < at + 4)
        return PRISM_SRTP_MALFORMED;
    uint32_t ssrc = prism_load_be32(buf + at);
    ptrdiff_t i;
    if (!admit(s, ssrc, &i))
        return PRISM_SRTP_SSRC_REFUSED;
    int n = (int)*len;
    srtp_err_status_t st =
        rtcp ? srtp_unprotect_rtcp(s->session, buf, &n) : srtp_unprotect(s->session, buf, &n);
    if (i < 0)
        i = note_stream(s, ssrc, st);
    enum prism_srtp_verdict v = unprotect_verdict(st);
    if (v == PRISM_SRTP_OK) {
        *len = (size_t)n;
        if (i >= 0)
            s->ssrcs[i].flags |= (uint8_t)(LISTED_USED | (rtcp ? 0u : LISTED_RTP));
    }
    return v;
}

enum prism_srtp_verdict prism_srtp_unprotect_rtp(struct prism_srtp *s, uint8_t *buf, size_t *len)
{
    return unprotect(s, buf, len, false);
}

enum prism_srtp_verdict prism_srtp_unprotect_rtcp(struct prism_srtp *s, uint8_t *buf, size_t *len)
{
    return unprotect(s, buf, len, true);
}
