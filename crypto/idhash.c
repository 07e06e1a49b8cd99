/* Keyed pseudonyms with a daily key (see idhash.h). */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto/idhash.h"
#include "relay/base/check.h"

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char day_key[32];     /* guarded by key_lock */
static uint64_t key_day = UINT64_MAX; /* UTC day of day_key; guarded by key_lock */

void prism__idhash_at(uint64_t day, const char *kind, const char *value, size_t len,
                      char out[PRISM_IDHASH_LEN + 1])
{
    if (value == NULL || len == 0) {
        memcpy(out, "-", 2);
        return;
    }
    /* ids are at most 64 bytes and addresses shorter; longer values are cut. */
    unsigned char msg[128];
    size_t kind_len = strlen(kind);
    PRISM_CHECK(kind_len < 32);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    pthread_mutex_lock(&key_lock);
    if (day != key_day) {
        PRISM_CHECK(RAND_priv_bytes(day_key, sizeof(day_key)) == 1);
        key_day = day;
    }
    memcpy(msg, kind, kind_len);
    msg[kind_len] = 0;
    size_t n = kind_len + 1;
    size_t take = len < sizeof(msg) - n ? len : sizeof(msg) - n;
    memcpy(msg + n, value, take);
    n += take;
    PRISM_CHECK(HMAC(EVP_sha256(), day_key, sizeof(day_key), msg, n, mac, &mac_len) != NULL);
    pthread_mutex_unlock(&key_lock);

    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < PRISM_IDHASH_LEN / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[PRISM_IDHASH_LEN] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
}

void prism_idhash(const char *kind, const char *value, size_t len, char out[PRISM_IDHASH_LEN + 1])
{
    prism__idhash_at((uint64_t)time(NULL) / 86400, kind, value, len, out);
}
