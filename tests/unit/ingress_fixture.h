/* The fixture the publisher-ingress unit tests share (test_ingress.c,
 * test_ingress_dd.c): a worker's room built by hand from room_internal.h,
 * as tests/fuzz/fuzz_ingress.c does, without transports. A publisher peer
 * whose tracks each test describes itself, and a subscriber with one
 * consumer whose sent packets are recorded (seq and timestamp, in order).
 *
 * One test at a time on the calling thread; the fixture owns everything it
 * creates and ingress_fixture_deinit() frees it all, checking on the way
 * that every egress buffer came back (a forwarded packet leaked would
 * fail the test there).
 */
#ifndef PRISM_TESTS_INGRESS_FIXTURE_H
#define PRISM_TESTS_INGRESS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "relay/net/egress.h"
#include "relay/worker/room_internal.h"

#define INGRESS_FIXTURE_MAX_SENT 64

struct ingress_fixture {
    uv_loop_t loop;
    struct prism_egress *eg; /* 16 buffers */
    struct prism_rooms rooms;
    struct room room; /* handle 1, its router sized for 64 routes */
    struct peer pub;  /* handle 1: the publisher the test feeds */
    struct peer sub;  /* handle 2: its one consumer below */
    struct prism_consumer *consumer;
    /* what the consumer sent, in order (the first MAX_SENT packets) */
    uint16_t sent_seq[INGRESS_FIXTURE_MAX_SENT];
    uint32_t sent_ts[INGRESS_FIXTURE_MAX_SENT];
    size_t n_sent;
};

/* Zeroes `f` and makes its loop, egress, room and router, and both peers
 * (handles and links only). Fails the running test on error. */
void ingress_fixture_init(struct ingress_fixture *f);

/* Gives the publisher `n` zeroed tracks (f->pub.tracks, n_tracks) for the
 * test to describe before ingress_fixture_produce(). */
void ingress_fixture_tracks(struct ingress_fixture *f, size_t n);

/* Makes `tr`, one of the publisher's tracks, described and with whatever
 * per-track memory the test gives it, a producer in the room's router. */
void ingress_fixture_produce(struct ingress_fixture *f, struct track *tr);

/* The subscriber's consumer of `producer` (f->consumer), sending as SSRC
 * 0x5ab0 to a sink that records each packet in f->sent_* and returns its
 * buffer to the egress. */
void ingress_fixture_subscribe(struct ingress_fixture *f, struct prism_producer *producer);

/* Frees what ingress_fixture_init() and the calls after it made, and the
 * publisher's tracks as room.c frees them (NACK generators, layers,
 * descriptor structures); fails the test if an egress buffer is missing
 * or the loop still has handles. */
void ingress_fixture_deinit(struct ingress_fixture *f);

#endif
