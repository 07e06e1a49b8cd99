/* Unit tests for crypto/srtp_streams.c, the stream list libsrtp calls
 * (include/stream_list_priv.h): lookups, removal, iteration that removes as
 * it goes (what libsrtp does when it frees a session), growth, churn through
 * tombstones, and SSRCs chosen to collide under a fixed hash; then the same
 * list under libsrtp itself, through crypto/srtp.h, with many SSRCs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <srtp_priv.h>
#include <stream_list_priv.h>

#include "crypto/srtp.h"
#include "relay/base/error.h"

/* Streams made here only carry an SSRC: the list reads nothing else. */
static srtp_stream_t new_stream(uint32_t ssrc)
{
    srtp_stream_t s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->ssrc = ssrc;
    return s;
}

static srtp_stream_list_t new_list(void)
{
    srtp_stream_list_t list = NULL;
    assert_int_equal(srtp_stream_list_alloc(&list), srtp_err_status_ok);
    assert_non_null(list);
    return list;
}

/* A cheap deterministic sequence of distinct-enough SSRCs (xorshift32). */
static uint32_t next_ssrc(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void test_empty(void **state)
{
    (void)state;
    srtp_stream_list_t list = new_list();
    assert_null(srtp_stream_list_get(list, 0));
    assert_null(srtp_stream_list_get(list, 0x12345678));
    assert_int_equal(srtp_stream_list_dealloc(list), srtp_err_status_ok);
}

static void test_insert_get_remove(void **state)
{
    (void)state;
    srtp_stream_list_t list = new_list();
    srtp_stream_t a = new_stream(1), b = new_stream(2), c = new_stream(0xffffffff);
    assert_int_equal(srtp_stream_list_insert(list, a), srtp_err_status_ok);
    assert_int_equal(srtp_stream_list_insert(list, b), srtp_err_status_ok);
    assert_int_equal(srtp_stream_list_insert(list, c), srtp_err_status_ok);
    assert_ptr_equal(srtp_stream_list_get(list, 1), a);
    assert_ptr_equal(srtp_stream_list_get(list, 2), b);
    assert_ptr_equal(srtp_stream_list_get(list, 0xffffffff), c);
    assert_null(srtp_stream_list_get(list, 3));

    /* Not empty: libsrtp must empty it first. */
    assert_int_equal(srtp_stream_list_dealloc(list), srtp_err_status_fail);

    srtp_stream_list_remove(list, b);
    assert_null(srtp_stream_list_get(list, 2));
    assert_ptr_equal(srtp_stream_list_get(list, 1), a);
    assert_ptr_equal(srtp_stream_list_get(list, 0xffffffff), c);
    /* The SSRC can come back, as another stream. */
    srtp_stream_t b2 = new_stream(2);
    assert_int_equal(srtp_stream_list_insert(list, b2), srtp_err_status_ok);
    assert_ptr_equal(srtp_stream_list_get(list, 2), b2);

    srtp_stream_list_remove(list, a);
    srtp_stream_list_remove(list, b2);
    srtp_stream_list_remove(list, c);
    assert_null(srtp_stream_list_get(list, 1));
    assert_null(srtp_stream_list_get(list, 0xffffffff));
    assert_int_equal(srtp_stream_list_dealloc(list), srtp_err_status_ok);
    free(a);
    free(b);
    free(b2);
    free(c);
}

struct visit {
    srtp_stream_list_t list;
    srtp_stream_t *streams; /* what was inserted, by index */
    size_t n;
    unsigned *seen; /* visits per index */
    size_t calls;
    size_t stop_after; /* return non-zero at this call (0: never) */
    bool remove;       /* remove the stream visited */
    bool remove_odd;   /* only those at odd indexes */
};

static int on_stream(srtp_stream_t stream, void *data)
{
    struct visit *v = data;
    size_t i = 0;
    while (i < v->n && v->streams[i] != stream)
        i++;
    assert_true(i < v->n);
    v->seen[i]++;
    v->calls++;
    if (v->remove || (v->remove_odd && i % 2 == 1)) {
        srtp_stream_list_remove(v->list, stream);
        /* libsrtp frees it at once: poison it so a later read shows. */
        memset(stream, 0xa5, sizeof(*stream));
    }
    return v->stop_after != 0 && v->calls == v->stop_after;
}

/* `n` streams with SSRCs from `seed`, inserted into a new list. */
static srtp_stream_list_t filled(size_t n, uint32_t seed, srtp_stream_t *streams)
{
    srtp_stream_list_t list = new_list();
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        streams[i] = new_stream(next_ssrc(&x));
        assert_int_equal(srtp_stream_list_insert(list, streams[i]), srtp_err_status_ok);
    }
    return list;
}

static void test_for_each_removing(void **state)
{
    (void)state;
    enum { N = 100 };
    srtp_stream_t streams[N];
    unsigned seen[N];
    uint32_t ssrcs[N];

    /* Removing every other one: each visited once, the rest stay. */
    srtp_stream_list_t list = filled(N, 7, streams);
    for (size_t i = 0; i < N; i++)
        ssrcs[i] = streams[i]->ssrc;
    memset(seen, 0, sizeof(seen));
    struct visit v = {.list = list, .streams = streams, .n = N, .seen = seen, .remove_odd = true};
    srtp_stream_list_for_each(list, on_stream, &v);
    assert_int_equal(v.calls, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(seen[i], 1);
        if (i % 2 == 1) {
            assert_null(srtp_stream_list_get(list, ssrcs[i]));
            free(streams[i]);
            streams[i] = NULL;
        } else {
            assert_ptr_equal(srtp_stream_list_get(list, ssrcs[i]), streams[i]);
        }
    }

    /* Stopping early: the callback's non-zero ends the walk. */
    memset(seen, 0, sizeof(seen));
    v = (struct visit){.list = list, .streams = streams, .n = N, .seen = seen, .stop_after = 5};
    srtp_stream_list_for_each(list, on_stream, &v);
    assert_int_equal(v.calls, 5);

    /* Removing each as visited, as srtp_dealloc does: all gone, once each. */
    memset(seen, 0, sizeof(seen));
    v = (struct visit){.list = list, .streams = streams, .n = N, .seen = seen, .remove = true};
    srtp_stream_list_for_each(list, on_stream, &v);
    assert_int_equal(v.calls, N / 2);
    for (size_t i = 0; i < N; i += 2)
        assert_int_equal(seen[i], 1);
    for (size_t i = 0; i < N; i++) {
        assert_null(srtp_stream_list_get(list, ssrcs[i]));
        free(streams[i]);
    }
    assert_int_equal(srtp_stream_list_dealloc(list), srtp_err_status_ok);
}

/* Thousands of SSRCs, inserted one by one (the table grows many times), all
 * found after every growth; absent ones are not. */
static void test_many_and_growth(void **state)
{
    (void)state;
    enum { N = 5000 };
    srtp_stream_t *streams = calloc(N, sizeof(*streams));
    assert_non_null(streams);
    srtp_stream_list_t list = new_list();
    for (size_t i = 0; i < N; i++) {
        /* Sequential SSRCs, then ones apart by powers of two: the patterns a
         * weak hash would pile into one run. */
        uint32_t ssrc = i < N / 2 ? (uint32_t)i : (uint32_t)(i - N / 2 + 1) << 20 | 0x5a5;
        streams[i] = new_stream(ssrc);
        assert_int_equal(srtp_stream_list_insert(list, streams[i]), srtp_err_status_ok);
        if ((i & (i + 1)) == 0) /* after each power of two: all still there */
            for (size_t j = 0; j <= i; j++)
                assert_ptr_equal(srtp_stream_list_get(list, streams[j]->ssrc), streams[j]);
    }
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(srtp_stream_list_get(list, streams[i]->ssrc), streams[i]);
    assert_null(srtp_stream_list_get(list, 0xdeadbeef));
    assert_null(srtp_stream_list_get(list, (uint32_t)N));
    for (size_t i = 0; i < N; i++) {
        srtp_stream_list_remove(list, streams[i]);
        free(streams[i]);
    }
    assert_int_equal(srtp_stream_list_dealloc(list), srtp_err_status_ok);
    free(streams);
}

/* Streams come and go for a long time (tombstones pile up and are cleared
 * by rebuilds); the list always agrees with a plain array. */
static void test_churn(void **state)
{
    (void)state;
    enum { SLOTS = 40, ROUNDS = 20000 };
    srtp_stream_t held[SLOTS] = {0};
    srtp_stream_list_t list = new_list();
    uint32_t x = 12345;
    for (int r = 0; r < ROUNDS; r++) {
        uint32_t k = next_ssrc(&x) % SLOTS;
        /* SSRCs 1000 apart, so a slot's SSRC is stable and unique. */
        uint32_t ssrc = k * 1000u;
        if (held[k] != NULL) {
            assert_ptr_equal(srtp_stream_list_get(list, ssrc), held[k]);
            srtp_stream_list_remove(list, held[k]);
            free(held[k]);
            held[k] = NULL;
        } else {
            assert_null(srtp_stream_list_get(list, ssrc));
            held[k] = new_stream(ssrc);
            assert_int_equal(srtp_stream_list_insert(list, held[k]), srtp_err_status_ok);
        }
    }
    for (uint32_t k = 0; k < SLOTS; k++) {
        assert_ptr_equal(srtp_stream_list_get(list, k * 1000u), held[k]);
        if (held[k] != NULL) {
            srtp_stream_list_remove(list, held[k]);
            free(held[k]);
        }
    }
    assert_int_equal(srtp_stream_list_dealloc(list), srtp_err_status_ok);
}

static size_t rtp_packet(uint8_t *buf, uint16_t seq, uint32_t ssrc)
{
    memset(buf, 0, 12 + 40);
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    memset(buf + 12, 0x42, 40);
    return 12 + 40;
}

/* Through libsrtp: an outbound session takes 300 SSRCs (a stream each, so
 * its list grows under libsrtp), interleaved; the inbound one (allowed that
 * many) unprotects them all; freeing both walks and empties their lists. */
static void test_many_ssrcs_through_libsrtp(void **state)
{
    (void)state;
    enum { N = 300 };
    uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN];
    memset(key, 0x3c, sizeof(key));
    enum prism_srtp_profile p = PRISM_SRTP_AEAD_AES_128_GCM;
    size_t key_len = prism_srtp_profile_key_len(p) + prism_srtp_profile_salt_len(p);
    struct prism_srtp *tx = NULL, *rx = NULL;
    assert_int_equal(prism_srtp_new(p, key, key_len, true, &tx), 0);
    assert_int_equal(prism_srtp_new(p, key, key_len, false, &rx), 0);
    assert_int_equal(prism_srtp_set_ssrcs(rx, NULL, 0, PRISM_SRTP_MAX_STREAMS), 0);
    uint8_t buf[64 + PRISM_SRTP_MAX_TRAILER], pt[64];
    for (uint16_t seq = 1; seq <= 3; seq++) {
        for (uint32_t i = 0; i < N; i++) {
            uint32_t ssrc = 0x10000000u + i * 0x01000000u + i;
            size_t len = rtp_packet(buf, seq, ssrc);
            memcpy(pt, buf, len);
            assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), 0);
            enum prism_srtp_verdict want =
                i < PRISM_SRTP_MAX_STREAMS ? PRISM_SRTP_OK : PRISM_SRTP_SSRC_REFUSED;
            assert_int_equal(prism_srtp_unprotect_rtp(rx, buf, &len), want);
            if (want == PRISM_SRTP_OK) {
                assert_int_equal(len, 52);
                assert_memory_equal(buf, pt, len);
                assert_true(prism__srtp_has_stream(rx, ssrc));
            } else {
                assert_false(prism__srtp_has_stream(rx, ssrc));
            }
        }
    }
    /* An index already protected is still refused: the stream was found. */
    size_t len = rtp_packet(buf, 2, 0x10000000u);
    assert_int_equal(prism_srtp_protect_rtp(tx, buf, &len), PRISM_ECRYPTO);
    prism_srtp_free(tx);
    prism_srtp_free(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_get_remove),
        cmocka_unit_test(test_for_each_removing),
        cmocka_unit_test(test_many_and_growth),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_many_ssrcs_through_libsrtp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
