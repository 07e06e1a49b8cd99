/* Unit tests for relay/wire/av1dd (the AV1 dependency descriptor): the
 * mandatory fields, the extended flags, a template structure's layers for
 * L1T3 and L3T3 (with a template id offset), truncation, and the template
 * id to layers mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay/wire/av1dd.h"

static void test_mandatory(void **state)
{
    (void)state;
    const uint8_t m[] = {0x4a, 0x01, 0x02}; /* E, template 10, frame 258 */
    struct prism_av1dd d;
    assert_int_equal(prism_av1dd_parse(m, sizeof(m), &d), 0);
    assert_false(d.start_of_frame);
    assert_true(d.end_of_frame);
    assert_int_equal(d.template_id, 10);
    assert_int_equal(d.frame_number, 258);
    assert_false(d.extended);
    assert_false(d.has_structure);
    uint8_t sid, tid;
    assert_int_equal(prism_av1dd_layers(&d, 10, &sid, &tid), -1);
    assert_int_equal(prism_av1dd_parse(m, 2, &d), -1);
    assert_int_equal(prism_av1dd_parse(NULL, 3, &d), -1);
}

static void test_structure(void **state)
{
    (void)state;
    /* L1T3 key frame: S E, template 1, frame 0x1234; a structure with
     * offset 0, 3 decode targets, templates (0,0) (0,0) (0,1) (0,2) (0,2). */
    const uint8_t l1t3[] = {0xc1, 0x12, 0x34, 0x80, 0x02, 0x14, 0xc0};
    struct prism_av1dd d;
    assert_int_equal(prism_av1dd_parse(l1t3, sizeof(l1t3), &d), 0);
    assert_true(d.start_of_frame && d.end_of_frame);
    assert_int_equal(d.frame_number, 0x1234);
    assert_true(d.extended && d.has_structure);
    assert_false(d.custom_dtis || d.custom_fdiffs || d.custom_chains);
    assert_int_equal(d.n_decode_targets, 3);
    assert_int_equal(d.n_templates, 5);
    assert_int_equal(d.max_sid, 0);
    assert_int_equal(d.max_tid, 2);
    const uint8_t want_tid[5] = {0, 0, 1, 2, 2};
    for (uint8_t i = 0; i < 5; i++) {
        uint8_t sid = 9, tid = 9;
        assert_int_equal(prism_av1dd_layers(&d, i, &sid, &tid), 0);
        assert_int_equal(sid, 0);
        assert_int_equal(tid, want_tid[i]);
    }
    uint8_t sid, tid;
    assert_int_equal(prism_av1dd_layers(&d, 5, &sid, &tid), -1);
    /* Cut inside the template layers: refused. */
    assert_int_equal(prism_av1dd_parse(l1t3, 6, &d), -1);
    /* L3T3, offset 5: template ids 5..13 are (s, t) in order. */
    const uint8_t l3t3[] = {0x85, 0x00, 0x07, 0x80, 0xa8, 0x59, 0x65, 0xc0};
    assert_int_equal(prism_av1dd_parse(l3t3, sizeof(l3t3), &d), 0);
    assert_int_equal(d.template_id_offset, 5);
    assert_int_equal(d.n_decode_targets, 9);
    assert_int_equal(d.n_templates, 9);
    assert_int_equal(d.max_sid, 2);
    assert_int_equal(d.max_tid, 2);
    assert_int_equal(prism_av1dd_layers(&d, 5 + 7, &sid, &tid), 0);
    assert_int_equal(sid, 2);
    assert_int_equal(tid, 1);
    assert_int_equal(prism_av1dd_layers(&d, 4, &sid, &tid), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mandatory),
        cmocka_unit_test(test_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
