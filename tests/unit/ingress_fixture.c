/* The ingress tests' shared fixture: see ingress_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/bytes.h"
#include "tests/unit/ingress_fixture.h"

#define SUB_SSRC 0x5ab0u
#define EGRESS_BUFS 16

static void sink(void *ud, uint8_t *buf, size_t len)
{
    struct ingress_fixture *f = ud;
    assert_true(len >= PRISM_RTP_HEADER_MIN);
    assert_int_equal(prism_load_be32(buf + 8), SUB_SSRC);
    if (f->n_sent < INGRESS_FIXTURE_MAX_SENT) {
        f->sent_seq[f->n_sent] = prism_load_be16(buf + 2);
        f->sent_ts[f->n_sent++] = prism_load_be32(buf + 4);
    }
    prism_egress_buf_put(f->eg, buf);
}

static void peer_init(struct ingress_fixture *f, struct peer *p, uint64_t handle)
{
    p->handle = handle;
    p->room = &f->room;
    p->pub = (struct link){.peer = p};
    p->sub = (struct link){.peer = p, .subscribe = true};
}

void ingress_fixture_init(struct ingress_fixture *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(prism_egress_new(EGRESS_BUFS, &f->eg), 0);
    f->rooms = (struct prism_rooms){.loop = &f->loop, .egress = f->eg};
    f->room = (struct room){.handle = 1, .rooms = &f->rooms};
    f->room.router = prism_router_new(f->eg, 64);
    assert_non_null(f->room.router);
    peer_init(f, &f->pub, 1);
    peer_init(f, &f->sub, 2);
}

void ingress_fixture_tracks(struct ingress_fixture *f, size_t n)
{
    f->pub.tracks = calloc(n, sizeof(*f->pub.tracks));
    assert_non_null(f->pub.tracks);
    f->pub.n_tracks = n;
}

void ingress_fixture_produce(struct ingress_fixture *f, struct track *tr)
{
    tr->peer = &f->pub;
    prism_rtp_seq_stats_init(&tr->stats);
    tr->producer = prism_router_producer_add(f->room.router, f->pub.handle, &tr->d, tr);
    assert_non_null(tr->producer);
}

void ingress_fixture_subscribe(struct ingress_fixture *f, struct prism_producer *producer)
{
    struct peer *s = &f->sub;
    prism_router_sub_init(f->room.router, &s->out, s->handle, &(struct prism_router_sink){sink, f});
    f->consumer = prism_router_consumer_add(&s->out, producer, SUB_SSRC);
    assert_non_null(f->consumer);
}

void ingress_fixture_deinit(struct ingress_fixture *f)
{
    prism_router_sub_deinit(&f->sub.out);
    prism__tracks_stop_nack(&f->pub);
    for (size_t i = 0; i < f->pub.n_tracks; i++) {
        free(f->pub.tracks[i].layers);
        free(f->pub.tracks[i].dd);
    }
    free(f->pub.tracks);
    prism_router_free(f->room.router);
    struct prism_egress_stats st;
    prism_egress_stats(f->eg, &st);
    assert_int_equal(st.bufs_free, EGRESS_BUFS);
    prism_egress_free(f->eg);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}
