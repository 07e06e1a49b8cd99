/* Unit tests for signaling/events: the replay backlog's bounds (issue 9,
 * finding 12: bounded by bytes as well as by count). No subscriber, so no
 * connection is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "signaling/events.h"

/* Emits one event whose line is a little over `payload` bytes. */
static void emit(struct prism_events *ev, size_t payload)
{
    char *s = malloc(payload + 1);
    assert_non_null(s);
    memset(s, 'x', payload);
    s[payload] = '\0';
    json_t *params = json_object();
    json_object_set_new(params, "pad", json_string(s));
    free(s);
    prism_events_emit(ev, "t", "peer.state", params);
}

/* The oldest `since` still accepted: every event after it is held. */
static uint64_t oldest_since(const struct prism_events *ev)
{
    uint64_t since = 0;
    while (prism_events_check_since(ev, since) != 0)
        since++;
    return since;
}

static void test_count_bound(void **state)
{
    (void)state;
    struct prism_events *ev = prism_events_new(100, 64 * 1024 * 1024, 1, 1);
    assert_non_null(ev);
    assert_int_equal(prism_events_check_since(ev, 0), 0);
    assert_int_equal(prism_events_check_since(ev, 1), PRISM_ENOTFOUND);
    for (int i = 0; i < 250; i++)
        emit(ev, 10);
    assert_int_equal(prism_events_last_seq(ev), 250);
    assert_int_equal(oldest_since(ev), 150); /* events 151..250 held */
    assert_int_equal(prism_events_check_since(ev, 250), 0);
    assert_int_equal(prism_events_check_since(ev, 251), PRISM_ENOTFOUND);
    prism_events_free(ev);
}

static void test_byte_bound(void **state)
{
    (void)state;
    const size_t max = 1024 * 1024;
    struct prism_events *ev = prism_events_new(16384, max, 1, 1);
    assert_non_null(ev);
    /* 64 KiB events: the count bound would keep 16,384 of them (1 GiB). */
    for (int i = 0; i < 100; i++) {
        emit(ev, 64 * 1024);
        assert_true(prism_events_held_bytes(ev) <= max);
    }
    assert_true(prism_events_held_bytes(ev) > max - 66 * 1024);
    uint64_t since = oldest_since(ev);
    assert_true(since >= 80 && since < 100); /* about 15 of the last held */
    /* Older than what is held: not_found, as when the count bound drops. */
    assert_int_equal(prism_events_check_since(ev, since - 1), PRISM_ENOTFOUND);
    assert_int_equal(prism_events_check_since(ev, 0), PRISM_ENOTFOUND);
    /* Small events push the big ones out, never each other. */
    for (int i = 0; i < 8000; i++)
        emit(ev, 10);
    assert_true(prism_events_held_bytes(ev) <= max);
    uint64_t after = oldest_since(ev);
    assert_true(after > since && after <= 100); /* every small one is held */
    prism_events_free(ev);
}

/* The byte bound never takes the backlog below the events PROTOCOL.md
 * promises a replay. */
static void test_byte_bound_keeps_the_promised_events(void **state)
{
    (void)state;
    struct prism_events *ev = prism_events_new(100, 64 * 1024, 40, 1);
    assert_non_null(ev);
    for (int i = 0; i < 90; i++)
        emit(ev, 4 * 1024);                 /* 40 of them take 160 KiB, over the bound */
    assert_int_equal(oldest_since(ev), 50); /* events 51..90 held */
    assert_true(prism_events_held_bytes(ev) > 64 * 1024);
    prism_events_free(ev);
}

static void test_one_event_larger_than_the_bound(void **state)
{
    (void)state;
    const size_t max = 1024 * 1024;
    struct prism_events *ev = prism_events_new(16384, max, 1, 1);
    assert_non_null(ev);
    emit(ev, 10);
    emit(ev, 2 * max); /* held alone: a backend can still resume after seq 1 */
    assert_int_equal(oldest_since(ev), 1);
    assert_true(prism_events_held_bytes(ev) > max);
    emit(ev, 10); /* and dropped by the next one */
    assert_int_equal(oldest_since(ev), 2);
    assert_true(prism_events_held_bytes(ev) < 1024);
    prism_events_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_bound),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_byte_bound_keeps_the_promised_events),
        cmocka_unit_test(test_one_event_larger_than_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
