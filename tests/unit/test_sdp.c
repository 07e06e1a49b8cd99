/* Unit tests for relay/sdp (being written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay/sdp.h"

static void test_placeholder(void **state)
{
    (void)state;
    struct prism_sdp_track t;
    prism_sdp_track_placeholder(&t, "0");
    assert_int_equal(t.n_pts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
