/* Unit tests for relay/wire/av1dd (the AV1 dependency descriptor): the
 * mandatory fields, the extended flags, a template structure's layers for
 * L1T3 and L3T3 (with a template id offset), truncation, and the template
 * id to layers mapping. The whole-descriptor reader (prism_av1dd_read)
 * against written L1T3 and L3T3 streams (tests/unit/av1dd_writer.h): a key
 * frame's structure kept, later packets' layers and DTIs from it, decode
 * target layers and resolutions, custom DTIs and active decode targets, no
 * structure yet or an unknown template (ENOTFOUND), a malformed or cut
 * structure, or one on a packet that does not start a frame (EINVAL, the
 * kept structure untouched), and the ns() code across its range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/wire/av1dd.h"
#include "tests/unit/av1dd_writer.h"

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

static uint64_t dtis(const char *s)
{
    uint64_t v = 0;
    for (unsigned dt = 0; s[dt] != '\0'; dt++)
        v |= (uint64_t)ddw_dti(s[dt]) << (2 * dt);
    return v;
}

static void test_read_l1t3(void **state)
{
    (void)state;
    struct prism_av1dd_structure st = {0};
    struct prism_av1dd_frame f;
    uint8_t b[96];
    /* Before any structure: the mandatory fields, then not found. */
    size_t n = ddw_write(b, true, true, DDW_L1T3_T0, 7, NULL, 3, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), PRISM_ENOTFOUND);
    assert_int_equal(f.frame_number, 7);
    assert_true(f.start_of_frame && f.end_of_frame);
    assert_int_equal(st.n_decode_targets, 0);
    /* The key frame's first packet brings the structure. */
    n = ddw_write(b, true, false, DDW_L1T3_KEY, 8, &DDW_L1T3, 3, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
    assert_true(f.new_structure && f.start_of_frame && !f.end_of_frame);
    assert_int_equal(f.sid, 0);
    assert_int_equal(f.tid, 0);
    assert_int_equal(f.dtis, dtis("SSS"));
    assert_false(f.has_active_decode_targets);
    assert_int_equal(st.n_decode_targets, 3);
    assert_int_equal(st.n_templates, 5);
    assert_int_equal(st.n_chains, 1);
    assert_int_equal(st.max_sid, 0);
    assert_int_equal(st.max_tid, 2);
    const uint8_t want_dt_tid[3] = {0, 1, 2};
    for (unsigned dt = 0; dt < 3; dt++) {
        assert_int_equal(st.dt_sid[dt], 0);
        assert_int_equal(st.dt_tid[dt], want_dt_tid[dt]);
    }
    assert_true(st.has_resolutions);
    assert_int_equal(st.width[0], 640);
    assert_int_equal(st.height[0], 360);
    /* Its next packet and the frames after: 3 bytes each, read by it. */
    n = ddw_write(b, false, true, DDW_L1T3_KEY, 8, NULL, 3, NULL, -1);
    assert_int_equal(n, 3);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
    assert_false(f.new_structure);
    const struct {
        uint8_t id, tid;
        const char *dtis;
    } frames[] = {{DDW_L1T3_T0, 0, "SSS"},
                  {DDW_L1T3_T2S, 2, "--S"},
                  {DDW_L1T3_T1, 1, "-DR"},
                  {DDW_L1T3_T2, 2, "--D"}};
    for (unsigned i = 0; i < 4; i++) {
        n = ddw_write(b, true, true, frames[i].id, (uint16_t)(9 + i), NULL, 3, NULL, -1);
        assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
        assert_int_equal(f.tid, frames[i].tid);
        assert_int_equal(f.dtis, dtis(frames[i].dtis));
        assert_int_equal(prism_av1dd_dti(f.dtis, 2), ddw_dti(frames[i].dtis[2])); /* the accessor */
    }
    /* A frame's own DTIs and the active decode targets (sized by the kept
     * structure's 3 targets). */
    n = ddw_write(b, true, true, DDW_L1T3_T2, 13, NULL, 3, "--S", 0x3);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
    assert_int_equal(f.dtis, dtis("--S"));
    assert_true(f.has_active_decode_targets);
    assert_int_equal(f.active_decode_targets, 0x3);
    n = ddw_write(b, true, true, DDW_L1T3_T2, 13, NULL, 3, "--S", -1);
    assert_int_equal(prism_av1dd_read(b, 4, &st, &f), PRISM_EINVAL); /* cut in the DTIs */
    /* A template id the structure does not have: not found, kept as is. */
    n = ddw_write(b, true, true, 5, 14, NULL, 3, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), PRISM_ENOTFOUND);
    assert_int_equal(st.n_templates, 5);
    /* Refused, the kept structure untouched: a structure on a packet that
     * does not start the frame, one cut short anywhere after the mandatory
     * fields, one whose frame's template is not in it. */
    struct prism_av1dd_structure before = st;
    n = ddw_write(b, false, true, DDW_L1T3_KEY, 15, &DDW_L3T3, 9, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), PRISM_EINVAL);
    n = ddw_write(b, true, true, 20, 15, &DDW_L3T3, 9, NULL, -1);
    for (size_t cut = 4; cut < n; cut++)
        assert_int_equal(prism_av1dd_read(b, cut, &st, &f), PRISM_EINVAL);
    n = ddw_write(b, true, true, 40, 15, &DDW_L3T3, 9, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), PRISM_EINVAL);
    assert_memory_equal(&st, &before, sizeof(st));
    assert_int_equal(prism_av1dd_read(NULL, 3, &st, &f), PRISM_EINVAL);
    assert_int_equal(prism_av1dd_read(b, 2, &st, &f), PRISM_EINVAL);
}

static void test_read_l3t3(void **state)
{
    (void)state;
    struct prism_av1dd_structure st = {0};
    struct prism_av1dd_frame f;
    uint8_t b[96];
    size_t n = ddw_write(b, true, true, 20, 100, &DDW_L3T3, 9, NULL, -1);
    assert_true(n > 16); /* what makes libwebrtc use the two-byte extension form */
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
    assert_int_equal(st.template_id_offset, 20);
    assert_int_equal(st.n_decode_targets, 9);
    assert_int_equal(st.n_templates, 13);
    assert_int_equal(st.max_sid, 2);
    assert_int_equal(st.max_tid, 2);
    for (unsigned dt = 0; dt < 9; dt++) {
        assert_int_equal(st.dt_sid[dt], dt / 3);
        assert_int_equal(st.dt_tid[dt], dt % 3);
    }
    const uint16_t heights[3] = {180, 360, 720};
    for (unsigned s = 0; s < 3; s++)
        assert_int_equal(st.height[s], heights[s]);
    assert_int_equal(st.width[2], 1280);
    /* Every template id maps to its template's layers and DTIs, modulo 64. */
    for (unsigned i = 0; i < DDW_L3T3.n_templates; i++) {
        n = ddw_write(b, true, false, (uint8_t)(20 + i), 101, NULL, 9, NULL, -1);
        assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
        assert_int_equal(f.sid, DDW_L3T3.t[i].sid);
        assert_int_equal(f.tid, DDW_L3T3.t[i].tid);
        assert_int_equal(f.dtis, dtis(DDW_L3T3.t[i].dtis));
    }
    n = ddw_write(b, true, false, 19, 102, NULL, 9, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), PRISM_ENOTFOUND);
    /* A new structure replaces the kept one (the next key frame's). */
    n = ddw_write(b, true, true, 0, 103, &DDW_L1T3, 3, NULL, -1);
    assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
    assert_true(f.new_structure);
    assert_int_equal(st.n_decode_targets, 3);
    assert_int_equal(st.max_sid, 0);
}

/* ns(n) as the writer codes it reads back, for every n a structure can
 * hold (chain counts up to 33) and every value below it. */
static void test_ns(void **state)
{
    (void)state;
    struct ddw_structure one = DDW_L1T3;
    for (unsigned dts = 1; dts <= 32; dts++) {
        one.n_dts = (uint8_t)dts;
        char all[33];
        memset(all, 'S', dts);
        all[dts] = '\0';
        for (unsigned i = 0; i < one.n_templates; i++)
            one.t[i].dtis = all;
        uint8_t b[96];
        size_t n = ddw_write(b, true, true, 0, 1, &one, dts, NULL, (long)((1ull << dts) - 1));
        struct prism_av1dd_structure st = {0};
        struct prism_av1dd_frame f;
        assert_int_equal(prism_av1dd_read(b, n, &st, &f), 0);
        assert_int_equal(st.n_decode_targets, dts);
        assert_int_equal(st.n_chains, 1);
        assert_int_equal(f.active_decode_targets, (uint32_t)((1ull << dts) - 1));
        assert_true(st.has_resolutions);
        assert_int_equal(st.height[0], 360);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mandatory), cmocka_unit_test(test_structure),
        cmocka_unit_test(test_read_l1t3), cmocka_unit_test(test_read_l3t3),
        cmocka_unit_test(test_ns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
