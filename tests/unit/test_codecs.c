/* Unit tests for relay/control/codecs: equal sets are shared, different
 * ones are not, a set copies its strings, and the last reference frees it
 * (the ASan build checks that nothing leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/control/codecs.h"

static const char audio_level[] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

static void opus(struct prism_sdp_payload *p, char *fmtp, size_t fmtp_len)
{
    snprintf(fmtp, fmtp_len, "minptime=10;useinbandfec=1");
    *p = (struct prism_sdp_payload){
        .pt = 111, .name = "opus", .clock_hz = 48000, .channels = 2, .fmtp = fmtp, .apt = -1};
}

static void test_shared(void **state)
{
    (void)state;
    struct prism_codecs_table *t = prism_codecs_table_new();
    char fmtp_a[64], fmtp_b[64];
    struct prism_sdp_payload a, b;
    opus(&a, fmtp_a, sizeof(fmtp_a));
    opus(&b, fmtp_b, sizeof(fmtp_b)); /* equal content, other storage */
    struct prism_sdp_extmap ext = {1, audio_level};
    const struct prism_codecs *ca = prism_codecs_intern(t, &a, 1, &ext, 1);
    const struct prism_codecs *cb = prism_codecs_intern(t, &b, 1, &ext, 1);
    assert_non_null(ca);
    assert_ptr_equal(ca, cb);
    assert_int_equal(ca->refs, 2);
    assert_int_equal(prism_codecs_table_size(t), 1);
    /* the set owns copies: the caller's strings may go */
    fmtp_a[0] = 'X';
    assert_string_equal(ca->pts[0].fmtp, "minptime=10;useinbandfec=1");
    assert_string_equal(ca->pts[0].name, "opus");
    assert_string_equal(ca->exts[0].uri, audio_level);
    assert_ptr_not_equal(ca->exts[0].uri, audio_level);
    assert_ptr_equal(prism_codecs_ref(ca), ca);
    assert_int_equal(ca->refs, 3);
    prism_codecs_unref(t, ca);
    prism_codecs_unref(t, cb);
    assert_int_equal(prism_codecs_table_size(t), 1);
    prism_codecs_unref(t, ca);
    assert_int_equal(prism_codecs_table_size(t), 0);
    prism_codecs_unref(t, NULL);
    prism_codecs_table_free(t);
}

static void test_distinct(void **state)
{
    (void)state;
    struct prism_codecs_table *t = prism_codecs_table_new();
    char fmtp[64];
    struct prism_sdp_payload p;
    opus(&p, fmtp, sizeof(fmtp));
    struct prism_sdp_extmap ext = {1, audio_level};
    const struct prism_codecs *base = prism_codecs_intern(t, &p, 1, &ext, 1);
    const struct prism_codecs *no_ext = prism_codecs_intern(t, &p, 1, NULL, 0);
    ext.id = 2;
    const struct prism_codecs *other_id = prism_codecs_intern(t, &p, 1, &ext, 1);
    ext.id = 1;
    p.fb = 1;
    const struct prism_codecs *other_fb = prism_codecs_intern(t, &p, 1, &ext, 1);
    p.fb = 0;
    p.fmtp = NULL; /* "" */
    const struct prism_codecs *no_fmtp = prism_codecs_intern(t, &p, 1, &ext, 1);
    p.fmtp = "";
    const struct prism_codecs *empty_fmtp = prism_codecs_intern(t, &p, 1, &ext, 1);
    const struct prism_codecs *all[] = {base, no_ext, other_id, other_fb, no_fmtp};
    for (size_t i = 0; i < 5; i++)
        for (size_t k = i + 1; k < 5; k++)
            assert_ptr_not_equal(all[i], all[k]);
    assert_ptr_equal(no_fmtp, empty_fmtp);
    assert_string_equal(no_fmtp->pts[0].fmtp, "");
    assert_int_equal(no_ext->n_exts, 0);
    assert_int_equal(prism_codecs_table_size(t), 5);
    assert_null(prism_codecs_intern(t, &p, 0, &ext, 1));
    for (size_t i = 0; i < 5; i++)
        prism_codecs_unref(t, all[i]);
    prism_codecs_unref(t, empty_fmtp);
    assert_int_equal(prism_codecs_table_size(t), 0);
    prism_codecs_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
