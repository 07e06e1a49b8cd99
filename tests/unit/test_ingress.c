/* Unit tests for the uplink NACK of simulcast layers (relay/worker/ingress.c,
 * publisher.c): each layer is a stream of its own, so a gap in one layer's
 * seqs is NACKed naming that layer's SSRC alone, and a retransmission on a
 * layer's rtx SSRC is restored into that layer (its SSRC, its seq space)
 * and forwarded as one of its packets. Both kinds of simulcast: SSRC
 * simulcast (a=ssrc-group:SIM, the layers' SSRCs announced) and rid
 * simulcast (the SSRCs learned from rid and repaired-rid).
 *
 * The worker objects are built by tests/unit/ingress_fixture.c, without
 * transports: a publisher with both tracks and a subscriber whose consumer
 * takes SIM layer 1. NACKs are taken from prism__publisher_nack_build(),
 * the transport-free half of what the feedback tick sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/bytes.h"
#include "tests/unit/ingress_fixture.h"

#define VP8_PT 96
#define RTX_PT 97
#define RID_EXT 4
#define REPAIRED_EXT 5

static const uint32_t sim_ssrcs[3] = {0x100, 0x200, 0x300};
static const uint32_t sim_rtx[3] = {0x101, 0x201, 0x301};

static struct ingress_fixture F;

/* NACKs built: media SSRC and the seqs it names */
static struct {
    uint32_t ssrc;
    uint16_t seqs[32];
    size_t n;
} nacks[8];
static size_t n_nacks;

static int take_nack(void *ud, const uint8_t *buf, size_t len)
{
    (void)ud;
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, buf, len);
    assert_int_equal(prism_rtcp_next(&it, &item), 0);
    assert_true(n_nacks < 8);
    nacks[n_nacks].ssrc = item.media_ssrc;
    for (size_t e = 0; e < prism_rtcp_nack_count(&item); e++) {
        uint16_t pid, blp;
        assert_int_equal(prism_rtcp_nack_entry(&item, e, &pid, &blp), 0);
        for (unsigned b = 0; b < 17; b++)
            if ((b == 0 || (blp & (1u << (b - 1)))) && nacks[n_nacks].n < 32)
                nacks[n_nacks].seqs[nacks[n_nacks].n++] = (uint16_t)(pid + b);
    }
    n_nacks++;
    return 0;
}

/* Feeds an RTP packet to the publisher's ingress: `pt`, `ssrc`, `seq`, and
 * a rid (or repaired-rid) element when `rid` is not NULL; `osn` >= 0 puts
 * that original seq in front of the payload (an RTX packet). */
static void rtp(uint8_t pt, uint32_t ssrc, uint16_t seq, const char *rid, bool repaired, int osn)
{
    uint8_t b[64] = {0};
    size_t n = 12;
    b[0] = 0x80;
    b[1] = pt;
    prism_store_be16(b + 2, seq);
    prism_store_be32(b + 4, 90u * seq);
    prism_store_be32(b + 8, ssrc);
    if (rid != NULL) {
        size_t rl = strlen(rid);
        b[0] |= 0x10;
        b[12] = 0xBE;
        b[13] = 0xDE;
        prism_store_be16(b + 14, 1); /* one word: rl <= 3 */
        b[16] = (uint8_t)(((repaired ? REPAIRED_EXT : RID_EXT) << 4) | (rl - 1));
        memcpy(b + 17, rid, rl);
        n = 20;
    }
    if (osn >= 0) {
        prism_store_be16(b + n, (uint16_t)osn);
        n += 2;
    }
    memset(b + n, 0xAA, 20); /* media */
    n += 20;
    prism__ingress_rtp(&F.pub.pub, b, n);
}

static void init_layers(struct track *tr)
{
    tr->layers = calloc(PRISM_MEDIA_MAX_LAYERS, sizeof(*tr->layers));
    assert_non_null(tr->layers);
    for (size_t l = 0; l < PRISM_MEDIA_MAX_LAYERS; l++)
        prism_rtp_seq_stats_init(&tr->layers[l].stats);
}

static int setup(void **state)
{
    (void)state;
    ingress_fixture_init(&F);
    memset(nacks, 0, sizeof(nacks));
    n_nacks = 0;

    struct peer *p = &F.pub;
    p->rtcp_ssrc = 0xabc0;
    p->ext_ids = (struct prism_rtp_ext_ids){.rid = RID_EXT, .repaired_rid = REPAIRED_EXT};
    ingress_fixture_tracks(&F, 2);
    /* 0: SSRC simulcast, its layers announced (a=ssrc-group:SIM + FID) */
    struct prism_track_desc *d = &p->tracks[0].d;
    *d = (struct prism_track_desc){.handle = 11,
                                   .video = true,
                                   .mid = "1",
                                   .n_layers = 3,
                                   .n_rtx_pts = 1,
                                   .vp8_pt = PRISM_PT_NONE,
                                   .vp9_pt = PRISM_PT_NONE,
                                   .red_pt = PRISM_PT_NONE,
                                   .opus_pt = PRISM_PT_NONE};
    d->rtx_pts[0] = (struct prism_rtx_pt){VP8_PT, RTX_PT};
    memcpy(d->layer_ssrcs, sim_ssrcs, sizeof(sim_ssrcs));
    memcpy(d->layer_rtx_ssrcs, sim_rtx, sizeof(sim_rtx));
    /* 1: rid simulcast "q", "f", its layers learned */
    p->tracks[1].d = *d;
    d = &p->tracks[1].d;
    d->handle = 12;
    d->mid[0] = '2';
    d->n_layers = 2;
    memset(d->layer_ssrcs, 0, sizeof(d->layer_ssrcs));
    memset(d->layer_rtx_ssrcs, 0, sizeof(d->layer_rtx_ssrcs));
    memcpy(d->rids[0], "q", 2);
    memcpy(d->rids[1], "f", 2);
    d->rid_ext_id = RID_EXT;
    d->repaired_rid_ext_id = REPAIRED_EXT;
    for (size_t i = 0; i < 2; i++) {
        init_layers(&p->tracks[i]);
        ingress_fixture_produce(&F, &p->tracks[i]);
    }
    prism__tracks_start_nack(p); /* as when its publish transport connects */

    ingress_fixture_subscribe(&F, p->tracks[0].producer); /* the SIM track, on layer 1 */
    prism_consumer_set_layer(F.consumer, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ingress_fixture_deinit(&F);
    return 0;
}

static void nacks_now(void)
{
    n_nacks = 0;
    prism__publisher_nack_build(&F.pub, uv_now(&F.loop), take_nack, NULL);
}

/* Seqs base..base+9 of SIM layer `l`, but those in [skip_from, skip_to]. */
static void sim_run(uint8_t l, uint16_t base, int skip_from, int skip_to)
{
    for (int s = base; s < base + 10; s++)
        if (s < skip_from || s > skip_to)
            rtp(VP8_PT, sim_ssrcs[l], (uint16_t)s, NULL, false, -1);
}

static void test_sim_gap_nacks_its_layer_only(void **state)
{
    (void)state;
    struct track *tr = &F.pub.tracks[0];
    /* every layer numbers its own seqs; only layer 2 loses two */
    sim_run(0, 1000, -1, -1);
    sim_run(1, 2000, -1, -1);
    sim_run(2, 3000, 3004, 3005);
    assert_int_equal(tr->layers[0].nack->n_miss, 0);
    assert_int_equal(tr->layers[1].nack->n_miss, 0);
    assert_int_equal(tr->layers[2].nack->n_miss, 2);
    assert_null(tr->nack); /* simulcast keeps its generators per layer */
    nacks_now();
    assert_int_equal(n_nacks, 1);
    assert_int_equal(nacks[0].ssrc, sim_ssrcs[2]);
    assert_int_equal(nacks[0].n, 2);
    assert_int_equal(nacks[0].seqs[0], 3004);
    assert_int_equal(nacks[0].seqs[1], 3005);
    assert_int_equal(F.pub.rtx_nacks_sent, 2);
    /* the consumer on layer 1 got layer 1's ten packets, as they were */
    assert_int_equal(F.n_sent, 10);
    assert_int_equal(F.sent_seq[0], 2000);
    assert_int_equal(F.sent_seq[9], 2009);
}

static void test_sim_rtx_restored_into_its_layer(void **state)
{
    (void)state;
    struct track *tr = &F.pub.tracks[0];
    sim_run(0, 1000, -1, -1);
    sim_run(1, 2000, 2003, 2003);
    sim_run(2, 3000, 3005, 3005);
    nacks_now();
    assert_int_equal(n_nacks, 2);
    assert_int_equal(nacks[0].ssrc, sim_ssrcs[1]);
    assert_int_equal(nacks[0].seqs[0], 2003);
    assert_int_equal(nacks[1].ssrc, sim_ssrcs[2]);
    assert_int_equal(nacks[1].seqs[0], 3005);
    size_t before = F.n_sent;
    /* layer 1's retransmission of 2003, on its rtx SSRC */
    rtp(RTX_PT, sim_rtx[1], 7, NULL, false, 2003);
    assert_int_equal(F.pub.rtx_recovered, 1);
    assert_int_equal(tr->layers[1].nack->n_miss, 0);
    assert_int_equal(tr->layers[2].nack->n_miss, 1); /* layer 2's gap untouched */
    /* forwarded late as layer 1's packet 2003 (the consumer is on layer 1) */
    assert_int_equal(F.n_sent, before + 1);
    assert_int_equal(F.sent_seq[before], 2003);
    /* the same again: a duplicate, forwarded no more */
    rtp(RTX_PT, sim_rtx[1], 8, NULL, false, 2003);
    assert_int_equal(F.n_sent, before + 1);
    assert_int_equal(F.pub.rtx_recovered, 1);
    /* layer 1's rtx carrying layer 2's missing seq is still layer 1's: it
     * fills nothing of layer 2 (ahead of layer 1: unknown, dropped) */
    rtp(RTX_PT, sim_rtx[1], 9, NULL, false, 3005);
    assert_int_equal(tr->layers[2].nack->n_miss, 1);
    assert_int_equal(F.n_sent, before + 1);
    /* layer 2's own rtx fills it; the layer-1 consumer does not get it */
    rtp(RTX_PT, sim_rtx[2], 3, NULL, false, 3005);
    assert_int_equal(tr->layers[2].nack->n_miss, 0);
    assert_int_equal(F.pub.rtx_recovered, 2);
    assert_int_equal(F.n_sent, before + 1);
    /* nothing left to NACK */
    uv_update_time(&F.loop);
    nacks_now();
    assert_int_equal(n_nacks, 0);
}

static void test_rid_layers_nack_their_learned_ssrc(void **state)
{
    (void)state;
    struct track *tr = &F.pub.tracks[1];
    for (uint16_t s = 10; s < 20; s++) {
        if (s != 12)
            rtp(VP8_PT, 0x900, s, "q", false, -1);
        rtp(VP8_PT, 0xA00, (uint16_t)(500 + s), "f", false, -1);
    }
    assert_int_equal(tr->d.layer_ssrcs[0], 0x900);
    assert_int_equal(tr->d.layer_ssrcs[1], 0xA00);
    nacks_now();
    assert_int_equal(n_nacks, 1);
    assert_int_equal(nacks[0].ssrc, 0x900);
    assert_int_equal(nacks[0].n, 1);
    assert_int_equal(nacks[0].seqs[0], 12);
    /* its rtx, named by repaired-rid, binds layer q's rtx SSRC and fills it */
    rtp(RTX_PT, 0x901, 1, "q", true, 12);
    assert_int_equal(tr->d.layer_rtx_ssrcs[0], 0x901);
    assert_int_equal(tr->layers[0].nack->n_miss, 0);
    assert_int_equal(F.pub.rtx_recovered, 1);
    /* later ones go by SSRC alone */
    rtp(VP8_PT, 0x900, 21, NULL, false, -1);
    rtp(RTX_PT, 0x901, 2, NULL, false, 20);
    assert_int_equal(F.pub.rtx_recovered, 2);
    assert_int_equal(tr->layers[0].nack->n_miss, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sim_gap_nacks_its_layer_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_rtx_restored_into_its_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rid_layers_nack_their_learned_ssrc, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
