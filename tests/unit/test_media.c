/* relay/control/media.c, its pure parts: whether a re-offer restarts ICE
 * on an open transport (RFC 8839 §4.4.1.1.1, RFC 8842; issue 8 item 7),
 * renegotiates on it as it is (RFC 8829 §5.2.2) or replaces it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/control/media.h"

#define FPR                                                                                        \
    "sha-256 "                                                                                     \
    "E2:0A:FA:DB:71:46:D3:B6:AC:09:FD:D2:90:A7:6D:72:C7:1E:F8:03:00:47:81:A2:D3:6D:DB:49:1C:77:"   \
    "13:73"
#define FPR_LOWER                                                                                  \
    "SHA-256 "                                                                                     \
    "e2:0a:fa:db:71:46:d3:b6:ac:09:fd:d2:90:a7:6d:72:c7:1e:f8:03:00:47:81:a2:d3:6d:db:49:1c:77:"   \
    "13:73"
#define FPR_OTHER                                                                                  \
    "sha-256 "                                                                                     \
    "E2:0A:FA:DB:71:46:D3:B6:AC:09:FD:D2:90:A7:6D:72:C7:1E:F8:03:00:47:81:A2:D3:6D:DB:49:1C:77:"   \
    "13:74"

/* A remote block as media.c keeps it: ufrag, pwd, fingerprint, each
 * NUL-terminated, one after the other. */
static const char *block(char *buf, size_t cap, const char *ufrag, const char *pwd, const char *fpr)
{
    size_t nu = strlen(ufrag) + 1, np = strlen(pwd) + 1, nf = strlen(fpr) + 1;
    assert_true(nu + np + nf <= cap);
    memcpy(buf, ufrag, nu);
    memcpy(buf + nu, pwd, np);
    memcpy(buf + nu + np, fpr, nf);
    return buf;
}

static void test_ice_restart_detection(void **state)
{
    (void)state;
    char a[300], b[300];
    const char *cur = block(a, sizeof(a), "F17V", "HKbOObmargp47x3+idDHNR7M", FPR);

    /* New ufrag and pwd, same certificate: a restart. */
    assert_true(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "Zq9x", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR)));
    /* Either one changed is enough. */
    assert_true(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "Zq9x", "HKbOObmargp47x3+idDHNR7M", FPR)));
    assert_true(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "F17V", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR)));
    /* The fingerprint compares as a value, not as text. */
    assert_true(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "Zq9x", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR_LOWER)));
    /* Same credentials: a renegotiation, not a restart. */
    assert_false(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "F17V", "HKbOObmargp47x3+idDHNR7M", FPR)));
    /* Another certificate: a new DTLS association, not a restart. */
    assert_false(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "Zq9x", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR_OTHER)));
    assert_false(prism__media_is_ice_restart(
        cur, block(b, sizeof(b), "Zq9x", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", "sha-256 zz")));
    /* No open transport. */
    assert_false(prism__media_is_ice_restart(NULL, cur));
    assert_false(prism__media_is_ice_restart(cur, NULL));
}

/* The three ways a re-offer on an open publish transport goes. */
static void test_reoffer_decision(void **state)
{
    (void)state;
    char a[300], b[300];
    const char *cur = block(a, sizeof(a), "F17V", "HKbOObmargp47x3+idDHNR7M", FPR);

    /* The same credentials and certificate (a track added or removed): the
     * transport stays as it is. */
    assert_int_equal(
        prism__media_reoffer(cur, block(b, sizeof(b), "F17V", "HKbOObmargp47x3+idDHNR7M", FPR)),
        PRISM_MEDIA_REOFFER_RENEGOTIATE);
    /* The fingerprint compares as a value there too. */
    assert_int_equal(prism__media_reoffer(
                         cur, block(b, sizeof(b), "F17V", "HKbOObmargp47x3+idDHNR7M", FPR_LOWER)),
                     PRISM_MEDIA_REOFFER_RENEGOTIATE);
    /* New ufrag or pwd, same certificate: an ICE restart. */
    assert_int_equal(
        prism__media_reoffer(cur, block(b, sizeof(b), "Zq9x", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR)),
        PRISM_MEDIA_REOFFER_RESTART);
    assert_int_equal(
        prism__media_reoffer(cur, block(b, sizeof(b), "F17V", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR)),
        PRISM_MEDIA_REOFFER_RESTART);
    assert_int_equal(
        prism__media_reoffer(cur, block(b, sizeof(b), "F17Vx", "HKbOObmargp47x3+idDHNR7M", FPR)),
        PRISM_MEDIA_REOFFER_RESTART);
    /* Another certificate, with the same credentials or new ones: a new
     * DTLS association, so a new transport. */
    assert_int_equal(prism__media_reoffer(
                         cur, block(b, sizeof(b), "F17V", "HKbOObmargp47x3+idDHNR7M", FPR_OTHER)),
                     PRISM_MEDIA_REOFFER_NEW);
    assert_int_equal(prism__media_reoffer(
                         cur, block(b, sizeof(b), "Zq9x", "Jm2kD5oOaQ0u1pVvWw3+yy9Z", FPR_OTHER)),
                     PRISM_MEDIA_REOFFER_NEW);
    /* An unparsable fingerprint, or no open transport: a new one. */
    assert_int_equal(prism__media_reoffer(cur, block(b, sizeof(b), "F17V",
                                                     "HKbOObmargp47x3+idDHNR7M", "sha-256 zz")),
                     PRISM_MEDIA_REOFFER_NEW);
    assert_int_equal(prism__media_reoffer(NULL, cur), PRISM_MEDIA_REOFFER_NEW);
    assert_int_equal(prism__media_reoffer(cur, NULL), PRISM_MEDIA_REOFFER_NEW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ice_restart_detection),
        cmocka_unit_test(test_reoffer_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
