/* libFuzzer target for a room's ingress (relay/worker/ingress.c): what a
 * peer's transport hands the worker after SRTP unprotect, through the track
 * lookup (demux.c, rid simulcast layers), rtx unwrapping, the NACK
 * generator, transport-wide cc recording, RED/VP8/VP9 parsing,
 * dependency descriptors read against each stream's kept structure, and the
 * router's fan-out; and a subscriber's RTCP feedback (NACK, PLI, FIR, REMB,
 * transport-cc) back through its consumers.
 *
 * The worker objects are built by hand from room_internal.h, without
 * transports: room A holds peers 0-2, room B peer 3 alone. Each peer
 * publishes two tracks whose SSRCs (0: learned), rtx SSRCs, mids, rids or
 * SIM-group layer SSRCs, and payload types come from the head of the input
 * (HEAD bytes per track: flags bit 4 simulcast, bit 5 three layers, bit 6
 * SSRC simulcast), and every peer of a room consumes every other peer's tracks,
 * with rtx and red per consumer from the input too. Its links have no
 * transport (l->t NULL), the state of a link not yet open: keyframe
 * requests toward a publisher stop there, everything before is exercised.
 * The rest of the input is records: a byte (peer in bits 0-1, RTCP in bit
 * 2, the subscribe link in bit 3, a clock step in bits 4-7), a length byte,
 * then that many bytes for the ingress function. A clock step also builds
 * the publisher's NACKs due then (prism__publisher_nack_build), each of
 * which must name one of its streams.
 *
 * Invariants, on every packet the router sends: it goes to a peer of the
 * room of the peer whose packet is being ingested; for RTP never back to
 * that peer, for RTCP (retransmissions a NACK asked for) only to it; at most
 * PRISM_EGRESS_MAX_PACKET bytes. At the end every egress buffer is back in
 * the pool (ASan checks the rest: no overflow, no leak).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/bytes.h"
#include "relay/net/egress.h"
#include "relay/worker/room_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_PEERS 4 /* 0-2 in room A, 3 in room B */
#define N_TRACKS 2
#define HEAD 6 /* input bytes per track */
#define POOL 16
#define MAX_RECORDS 512
#define OPUS_PT 111
#define RED_PT 63
#define VP8_PT 96
#define VP8_RTX_PT 97
#define VP9_PT 98
#define VP9_RTX_PT 99
#define AV1_PT 45

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ingress: invariant broken: %s\n", what);
        abort();
    }
}

static struct state {
    uv_loop_t loop;
    bool loop_ready;
    struct prism_egress *eg;
    struct prism_rooms rooms;
    struct room room[2];
    struct peer peers[N_PEERS];
    const struct peer *from; /* whose packet is being ingested */
    bool from_rtcp;
} S;

static void sink(void *ud, uint8_t *buf, size_t len)
{
    const struct peer *to = ud;
    must(len <= PRISM_EGRESS_MAX_PACKET, "packet size");
    must(S.from != NULL && to->room == S.from->room, "only to a peer of the same room");
    must(S.from_rtcp ? to == S.from : to != S.from,
         "media to other peers, retransmissions to the one that NACKed");
    prism_egress_buf_put(S.eg, buf);
}

/* A NACK toward publisher `ud`: one generic NACK naming one of its
 * streams' SSRCs. */
static int nack_out(void *ud, const uint8_t *buf, size_t len)
{
    const struct peer *p = ud;
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, buf, len);
    must(prism_rtcp_next(&it, &item) == 0 && prism_rtcp_nack_count(&item) > 0, "a NACK");
    bool known = false;
    for (size_t i = 0; i < p->n_tracks; i++)
        for (uint8_t l = 0; l < (track_simulcast(&p->tracks[i]) ? p->tracks[i].d.n_layers : 1); l++)
            known = known || track_ssrc(&p->tracks[i], l) == item.media_ssrc;
    must(known && item.media_ssrc != 0, "a NACK names one of the publisher's streams");
    return 0;
}

/* One track from `in[0..HEAD)`. */
static void track_from(struct peer *p, size_t i, const uint8_t *in)
{
    struct track *tr = &p->tracks[i];
    uint8_t flags = in[0];
    struct prism_track_desc *d = &tr->d;
    d->handle = p->handle * 16 + i + 1;
    d->video = flags & 1;
    /* A small SSRC space, so peers and tracks collide as hostile ones may. */
    d->ssrc = in[1] & 0x80 ? 0 : in[1] & 0x0f;
    d->rtx_ssrc = in[2] & 0x80 ? 0 : in[2] & 0x0f;
    d->mid[0] = (char)('0' + in[3] % 4);
    d->mid_ext_id = flags & 2 ? 1 : 0;
    d->audio_level_ext_id = !d->video && (flags & 4) ? 2 : 0;
    d->tcc_ext_id = flags & 8 ? 3 : 0;
    d->vp8_pt = d->video && (in[4] & 1) ? VP8_PT : PRISM_PT_NONE;
    d->vp9_pt = d->video && (in[4] & 2) ? VP9_PT : PRISM_PT_NONE;
    d->opus_pt = d->video ? PRISM_PT_NONE : OPUS_PT;
    d->red_pt = !d->video && (in[4] & 4) ? RED_PT : PRISM_PT_NONE;
    d->av1dd_ext_id = d->video && (in[4] & 32) ? 6 : 0; /* the dependency descriptor */
    if (track_dd(tr)) {
        tr->dd = calloc(PRISM_MEDIA_MAX_LAYERS, sizeof(*tr->dd));
        must(tr->dd != NULL, "dependency descriptor structures");
    }
    if (d->video && (in[4] & 8))
        d->rtx_pts[d->n_rtx_pts++] = (struct prism_rtx_pt){VP8_PT, VP8_RTX_PT};
    if (d->video && (in[4] & 16))
        d->rtx_pts[d->n_rtx_pts++] = (struct prism_rtx_pt){VP9_PT, VP9_RTX_PT};
    /* Payload types alone on this m-line (a mask from the input). */
    static const uint8_t pts[] = {OPUS_PT, RED_PT, VP8_PT, VP8_RTX_PT, VP9_PT, VP9_RTX_PT, AV1_PT};
    for (size_t k = 0; k < sizeof(pts); k++)
        if (in[5] & (1u << k))
            d->pt_only[pts[k] / 32] |= 1u << (pts[k] % 32);
    if (d->video && (flags & 16)) {
        static const char *rids[] = {"l", "m", "h"};
        d->n_layers = (uint8_t)(2 + (flags >> 5 & 1));
        for (uint8_t l = 0; l < d->n_layers && !(flags & 64); l++)
            memcpy(d->rids[l], rids[l], 2);
        /* SSRC simulcast (a SIM group, FID partners): the layers' SSRCs
         * announced, from the track's SSRC bytes, in the same small space */
        for (uint8_t l = 0; l < d->n_layers && (flags & 64); l++) {
            d->layer_ssrcs[l] = (in[1] + l) & 0x0f;
            d->layer_rtx_ssrcs[l] = in[2] & 0x80 ? 0 : (in[2] + l) & 0x0f;
        }
        d->rid_ext_id = 4;
        d->repaired_rid_ext_id = 5;
        d->ssrc = 0;
        d->rtx_ssrc = 0;
        tr->layers = calloc(PRISM_MEDIA_MAX_LAYERS, sizeof(*tr->layers));
        must(tr->layers != NULL, "layers");
        for (size_t l = 0; l < PRISM_MEDIA_MAX_LAYERS; l++)
            prism_rtp_seq_stats_init(&tr->layers[l].stats);
    }
    tr->peer = p;
    prism_rtp_seq_stats_init(&tr->stats);
    tr->producer = prism_router_producer_add(p->room->router, p->handle, d, tr);
}

static void peer_init(size_t n, struct room *room, const uint8_t *head)
{
    struct peer *p = &S.peers[n];
    p->handle = n + 1;
    p->room = room;
    p->pub = (struct link){.peer = p};
    p->sub = (struct link){.peer = p, .subscribe = true};
    p->rtcp_ssrc = 0xabc0u + (uint32_t)n;
    p->ext_ids = (struct prism_rtp_ext_ids){1, 2, 3, 4, 5, 6};
    p->tracks = calloc(N_TRACKS, sizeof(*p->tracks));
    must(p->tracks != NULL, "tracks");
    p->n_tracks = N_TRACKS;
    for (size_t i = 0; i < N_TRACKS; i++)
        track_from(p, i, head + i * HEAD);
    p->tcc = malloc(sizeof(*p->tcc));
    must(p->tcc != NULL, "tcc");
    prism_tcc_init(p->tcc);
    prism__tracks_start_nack(p);
    prism_router_sub_init(room->router, &p->out, p->handle, &(struct prism_router_sink){sink, p});
    prism__subscriber_start_bwe(p);
}

/* `sub` consumes every other peer's tracks in its room; rtx and red per
 * consumer from `opts`. */
static void subscribe(struct peer *sub, uint8_t opts)
{
    uint32_t k = 0;
    for (size_t n = 0; n < N_PEERS; n++) {
        struct peer *p = &S.peers[n];
        if (p == sub || p->room != sub->room)
            continue;
        for (size_t i = 0; i < p->n_tracks; i++, k++) {
            if (p->tracks[i].producer == NULL)
                continue;
            uint32_t ssrc = 0x10000u * (uint32_t)sub->handle + k;
            struct prism_consumer *c =
                prism_router_consumer_add(&sub->out, p->tracks[i].producer, ssrc);
            must(c != NULL, "consumer");
            if (opts & (1u << (k % 8)))
                (void)prism_consumer_set_rtx(c, ssrc + 0x100u);
            prism_consumer_set_red(c, opts & 0x80);
        }
    }
}

static void peer_free(struct peer *p)
{
    prism__subscriber_stop_bwe(p);
    prism_router_sub_deinit(&p->out);
    prism__tracks_stop_nack(p);
    for (size_t i = 0; i < p->n_tracks; i++)
        free(p->tracks[i].layers);
    for (size_t i = 0; i < N_TRACKS; i++)
        free(p->tracks[i].dd);
    free(p->tracks);
    free(p->tcc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { HEAD_BYTES = N_PEERS * N_TRACKS * HEAD + N_PEERS };
    if (size < HEAD_BYTES)
        return 0;
    if (!S.loop_ready) {
        must(uv_loop_init(&S.loop) == 0, "loop");
        S.loop_ready = true;
    }
    S.rooms = (struct prism_rooms){.loop = &S.loop};
    must(prism_egress_new(POOL, &S.eg) == 0, "egress");
    S.rooms.egress = S.eg;
    for (size_t r = 0; r < 2; r++) {
        S.room[r] = (struct room){.handle = r + 1, .rooms = &S.rooms};
        S.room[r].router = prism_router_new(S.eg, 64);
        must(S.room[r].router != NULL, "router");
    }
    memset(S.peers, 0, sizeof(S.peers));
    for (size_t n = 0; n < N_PEERS; n++)
        peer_init(n, &S.room[n < 3 ? 0 : 1], data + n * N_TRACKS * HEAD);
    for (size_t n = 0; n < N_PEERS; n++)
        subscribe(&S.peers[n], data[N_PEERS * N_TRACKS * HEAD + n]);

    static uint8_t buf[PRISM_EGRESS_MAX_PACKET];
    size_t at = HEAD_BYTES;
    for (size_t k = 0; k < MAX_RECORDS && at + 2 <= size; k++) {
        uint8_t what = data[at], len = data[at + 1];
        at += 2;
        size_t n = len < size - at ? len : size - at;
        memcpy(buf, data + at, n); /* the ingress works in place */
        at += n;
        struct peer *p = &S.peers[what & 3];
        struct link *l = what & 8 ? &p->sub : &p->pub;
        if (what >> 4 != 0) {
            uv_update_time(&S.loop);
            /* the feedback tick's NACKs to this publisher, per stream */
            prism__publisher_nack_build(p, uv_now(&S.loop) + 40u * (what >> 4), nack_out, p);
        }
        S.from = p;
        S.from_rtcp = what & 4;
        if (S.from_rtcp)
            prism__ingress_rtcp(l, buf, n);
        else
            prism__ingress_rtp(l, buf, n);
        S.from = NULL;
    }

    for (size_t n = 0; n < N_PEERS; n++)
        peer_free(&S.peers[n]);
    for (size_t r = 0; r < 2; r++)
        prism_router_free(S.room[r].router);
    struct prism_egress_stats st;
    prism_egress_stats(S.eg, &st);
    must(st.bufs_free == POOL, "every buffer back in the pool");
    prism_egress_free(S.eg);
    return 0;
}
