/* Unit tests for signaling/encode: the relay's C values as the exact JSON
 * the control protocol has always carried (keys, order, nesting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/encode.h"

/* Serialised as the wire does (signaling/rpc.c); takes `v`. */
static void assert_json(json_t *v, const char *want)
{
    assert_non_null(v);
    char *got = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(v);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_relay_info(void **state)
{
    (void)state;
    struct prism_relay_info info = {"1.2.3", UINT64_C(9007199254740991), 4, true, 61};
    assert_json(prism_encode_relay_info(&info),
                "{\"version\":\"1.2.3\",\"epoch\":9007199254740991,\"workers\":4,"
                "\"draining\":true,\"uptime_s\":61}");
}

static void test_bubble_info(void **state)
{
    (void)state;
    struct prism_relay_track_info tracks[2] = {{false, "a0", "0"}, {true, "v1", "1"}};
    struct prism_relay_peer_info peers[2] = {
        {.peer = "alice",
         .publish = true,
         .state = PRISM_TRANSPORT_CONNECTED,
         .publish_state = PRISM_TRANSPORT_CONNECTED,
         .subscribe_state = PRISM_TRANSPORT_NEW,
         .tracks = tracks,
         .n_tracks = 2},
        {.peer = "bob",
         .state = PRISM_TRANSPORT_FAILED,
         .publish_state = PRISM_TRANSPORT_NEW,
         .subscribe_state = PRISM_TRANSPORT_FAILED},
    };
    struct prism_relay_bubble_info info = {2, peers, tracks};
    assert_json(prism_encode_bubble_info(&info),
                "{\"peers\":[{\"peer\":\"alice\",\"publish\":true,\"state\":\"connected\","
                "\"publish_state\":\"connected\",\"subscribe_state\":\"new\",\"tracks\":["
                "{\"kind\":\"audio\",\"track\":\"a0\",\"mid\":\"0\"},"
                "{\"kind\":\"video\",\"track\":\"v1\",\"mid\":\"1\"}]},"
                "{\"peer\":\"bob\",\"publish\":false,\"state\":\"failed\","
                "\"publish_state\":\"new\",\"subscribe_state\":\"failed\",\"tracks\":[]}]}");
    struct prism_relay_bubble_info empty = {0};
    assert_json(prism_encode_bubble_info(&empty), "{\"peers\":[]}");
}

static const char counters_json[] =
    "\"packets_in\":1,\"bytes_in\":2,\"packets_out\":3,\"bytes_out\":4,"
    "\"drops\":{\"not_srtp\":5,\"srtp_auth\":6,\"srtp_replay\":7,\"malformed\":8,"
    "\"no_route\":9,\"egress\":10,\"ssrc_limit\":11,\"stun_auth\":22,\"unknown_source\":23,"
    "\"tcp_auth\":24,\"tcp_limit\":25,\"tcp_frame\":26,\"tcp_queue\":27},"
    "\"rtx\":{\"nacked\":17,\"sent\":18,\"missed\":19,\"nacks_sent\":20,\"recovered\":21,"
    "\"dropped\":28,\"probe_packets\":29,\"probe_bytes\":30},"
    "\"layers\":{\"dropped\":31,\"unknown\":32,\"stale\":33}";

static const struct prism_media_counters counters = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                     11, 22, 23, 24, 25, 26, 27, 17, 18, 19,
                                                     20, 21, 28, 29, 30, 31, 32, 33};

static void test_stats(void **state)
{
    (void)state;
    const char *le = "[50,100,200,500,1000,2000,5000,10000,20000,50000,100000,200000,500000,"
                     "1000000]";
    char want[2048];
    /* 2.3 ms, 1.23 s: cut, not rounded. Over its last second worker 0 held
     * 98 datagrams under 50 µs and 2 in 1-2 ms: p50 25 µs, p99 1.5 ms. */
    const struct prism_relay_worker_stats workers[2] = {
        {.worker = 0,
         .bubbles = 3,
         .transports = 7,
         .loop_lag_ns = UINT64_C(2345678),
         .cpu_ns = UINT64_C(1239999999),
         .delay = {.counts = {100, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
         .delay_last = {.counts = {98, 0, 0, 0, 0, 2}}},
        {.worker = 1},
    };
    struct prism_relay_stats st = {PRISM_RELAY_SCOPE_RELAY, counters, 11, 12, 13,
                                   {14, 15, 16, 0},         workers,  2};
    snprintf(want, sizeof(want),
             "{%s,\"tenants\":11,\"bubbles\":12,\"peers\":13,\"workers\":["
             "{\"worker\":0,\"bubbles\":3,\"transports\":7,\"loop_lag_ms\":2.3,\"cpu_s\":1.23,"
             "\"relay_delay\":{\"datagrams\":100,\"p50_ms\":0.02,\"p99_ms\":1.5,\"le_us\":%s,"
             "\"counts\":[100,0,0,0,0,2,0,0,0,0,0,0,0,0,1]}},"
             "{\"worker\":1,\"bubbles\":0,\"transports\":0,\"loop_lag_ms\":0.0,\"cpu_s\":0.0,"
             "\"relay_delay\":{\"datagrams\":0,\"p50_ms\":0.0,\"p99_ms\":0.0,\"le_us\":%s,"
             "\"counts\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}]}",
             counters_json, le, le);
    assert_json(prism_encode_stats(&st), want);
    st.scope = PRISM_RELAY_SCOPE_TENANT;
    snprintf(want, sizeof(want),
             "{%s,\"bubbles\":12,\"peers\":13,\"limits\":{\"max_bubbles\":14,"
             "\"max_peers\":15,\"max_kbps\":16}}",
             counters_json);
    assert_json(prism_encode_stats(&st), want);
    st.scope = PRISM_RELAY_SCOPE_BUBBLE;
    snprintf(want, sizeof(want), "{%s,\"peers\":13}", counters_json);
    assert_json(prism_encode_stats(&st), want);
}

static void test_sdp_result(void **state)
{
    (void)state;
    struct prism_relay_sdp_result answer = {PRISM_RELAY_SDP_ANSWER, "v=0\r\n", 0};
    assert_json(prism_encode_sdp_result(&answer), "{\"answer\":\"v=0\\r\\n\"}");
    struct prism_relay_sdp_result offer = {PRISM_RELAY_SDP_OFFER, "v=0\r\n", 3};
    assert_json(prism_encode_sdp_result(&offer), "{\"offer\":\"v=0\\r\\n\",\"revision\":3}");
}

static void test_events(void **state)
{
    (void)state;
    struct prism_relay_event ev = {.type = PRISM_RELAY_EV_PEER_STATE,
                                   .tenant = "t",
                                   .bubble = "b",
                                   .peer = "p",
                                   .peer_state = {true, PRISM_TRANSPORT_FAILED, "ice"}};
    assert_string_equal(prism_encode_event_method(ev.type), "peer.state");
    assert_json(prism_encode_event(&ev), "{\"transport\":\"subscribe\",\"state\":\"failed\","
                                         "\"reason\":\"ice\",\"bubble\":\"b\",\"peer\":\"p\","
                                         "\"tenant\":\"t\"}");
    ev.peer_state = (struct prism_relay_peer_state){false, PRISM_TRANSPORT_CLOSED, ""};
    assert_json(prism_encode_event(&ev), "{\"transport\":\"publish\",\"state\":\"closed\","
                                         "\"bubble\":\"b\",\"peer\":\"p\",\"tenant\":\"t\"}");
    ev.type = PRISM_RELAY_EV_PEER_OFFER;
    ev.peer_offer = (struct prism_relay_peer_offer){"v=0", 2};
    assert_string_equal(prism_encode_event_method(ev.type), "peer.offer");
    assert_json(prism_encode_event(&ev), "{\"offer\":\"v=0\",\"revision\":2,\"bubble\":\"b\","
                                         "\"peer\":\"p\",\"tenant\":\"t\"}");
    ev.type = PRISM_RELAY_EV_BUBBLE_SPEAKER;
    assert_string_equal(prism_encode_event_method(ev.type), "bubble.speaker");
    assert_json(prism_encode_event(&ev), "{\"bubble\":\"b\",\"peer\":\"p\",\"tenant\":\"t\"}");
    struct prism_relay_event drained = {.type = PRISM_RELAY_EV_RELAY_DRAINED};
    assert_string_equal(prism_encode_event_method(drained.type), "relay.drained");
    assert_json(prism_encode_event(&drained), "{}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_info), cmocka_unit_test(test_bubble_info),
        cmocka_unit_test(test_stats),      cmocka_unit_test(test_sdp_result),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
