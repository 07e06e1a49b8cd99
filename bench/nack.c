/* prism-bench run --loss: retransmission on the receive side (see nack.h).
 *
 * The order of things per packet: unwrap a retransmission (RFC 4588 §4: the
 * original seq in the first two payload bytes), tell the NACK generator,
 * then either hand the packet over (the next in sequence, and whatever it
 * unblocks in the hold buffer) or hold it behind the gap. A seq behind
 * `next` was given up already: its retransmission is counted late and
 * thrown away, as a jitter buffer that moved on would.
 */
#include "bench/nack.h"

#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/rtp.h"

#define HOLD_NS ((uint64_t)PRISM_BENCH_REPAIR_HOLD_MS * 1000000u)

int prism_bench_repair_new(bool nack, uint32_t ssrc, uint32_t rtx_ssrc, uint8_t apt,
                           struct prism_bench_repair **out)
{
    struct prism_bench_repair *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return PRISM_ENOMEM;
    r->nack = nack;
    r->ssrc = ssrc;
    r->rtx_ssrc = rtx_ssrc;
    r->apt = apt;
    prism_nack_gen_init(&r->gen);
    for (size_t i = 0; i < PRISM_BENCH_REPAIR_DROPS; i++)
        r->drops[i] = UINT64_MAX;
    *out = r;
    return 0;
}

void prism_bench_repair_free(struct prism_bench_repair *r)
{
    free(r);
}

bool prism_bench_repair_started(const struct prism_bench_repair *r)
{
    return r->started;
}

/* `seq` extended around the generator's highest (within +-2^15 of it). */
static uint64_t extend(const struct prism_bench_repair *r, uint16_t seq)
{
    return r->gen.highest + (uint64_t)(int64_t)(int16_t)(seq - (uint16_t)r->gen.highest);
}

void prism_bench_repair_dropped(struct prism_bench_repair *r, const uint8_t *pkt, size_t len)
{
    struct prism_rtp_header h;
    if (prism_rtp_parse(pkt, len, &h) != 0)
        return;
    if (r->rtx_ssrc != 0 && h.ssrc == r->rtx_ssrc) {
        r->dropped_rtx++;
        return;
    }
    r->dropped++;
    r->drops[r->drops_next] = extend(r, h.seq);
    r->drops_next = (r->drops_next + 1) % PRISM_BENCH_REPAIR_DROPS;
}

/* Whether `ext` was dropped and not accounted for yet (then forgets it). */
static bool take_drop(struct prism_bench_repair *r, uint64_t ext)
{
    for (size_t i = 0; i < PRISM_BENCH_REPAIR_DROPS; i++)
        if (r->drops[i] == ext) {
            r->drops[i] = UINT64_MAX;
            return true;
        }
    return false;
}

/* Hands over every packet now in sequence, giving up a missing head whose
 * wait is over. */
static void drain(struct prism_bench_repair *r, uint64_t now_ns,
                  prism_bench_repair_deliver_cb deliver, void *ud)
{
    while (r->next <= r->top) {
        struct prism_bench_repair_slot *s = &r->slots[r->next % PRISM_BENCH_REPAIR_SLOTS];
        if (s->len != 0 && s->ext_seq == r->next) {
            deliver(ud, s->data, s->len, now_ns);
            s->len = 0;
            r->next++;
            r->wait_ns = 0;
            continue;
        }
        if (r->wait_ns == 0)
            r->wait_ns = now_ns;
        /* Consecutive missing seqs share the first one's wait. */
        if (r->nack && now_ns - r->wait_ns < HOLD_NS)
            return;
        r->given_up++;
        r->next++;
    }
    r->wait_ns = 0;
}

void prism_bench_repair_packet(struct prism_bench_repair *r, uint8_t *pkt, size_t len,
                               uint64_t now_ns, prism_bench_repair_deliver_cb deliver, void *ud)
{
    struct prism_rtp_header h;
    if (prism_rtp_parse(pkt, len, &h) != 0)
        return;
    bool repair = r->rtx_ssrc != 0 && h.ssrc == r->rtx_ssrc;
    uint16_t seq = h.seq;
    if (repair) {
        r->rtx_received++;
        if (prism_rtx_unwrap(pkt, &len, &h, r->apt, r->ssrc, &pkt, &seq) != 0)
            return; /* a padding probe */
    }
    enum prism_nack_verdict v = prism_nack_gen_note(&r->gen, seq, repair, now_ns / 1000000u);
    uint64_t ext = extend(r, seq);
    if (v == PRISM_NACK_DUPLICATE || v == PRISM_NACK_TOO_OLD)
        return;
    if (!r->started || (v == PRISM_NACK_FRESH && ext + PRISM_BENCH_REPAIR_SLOTS < r->next)) {
        /* The first packet, or the sender restarted its sequence. */
        r->started = true;
        r->next = r->top = ext;
        r->wait_ns = 0;
    }
    if (v == PRISM_NACK_LATE || ext < r->next) {
        r->late += take_drop(r, ext);
        return;
    }
    if (v == PRISM_NACK_FILLED)
        r->recovered += take_drop(r, ext);
    if (ext > r->top)
        r->top = ext;
    if (ext == r->next) {
        deliver(ud, pkt, len, now_ns);
        r->next++;
        r->wait_ns = 0;
        drain(r, now_ns, deliver, ud);
        return;
    }
    /* Behind a gap: held. One too far ahead gives up the oldest gaps. */
    while (ext >= r->next + PRISM_BENCH_REPAIR_SLOTS) {
        struct prism_bench_repair_slot *s = &r->slots[r->next % PRISM_BENCH_REPAIR_SLOTS];
        if (s->len != 0 && s->ext_seq == r->next)
            deliver(ud, s->data, s->len, now_ns);
        else
            r->given_up++;
        s->len = 0;
        r->next++;
    }
    struct prism_bench_repair_slot *s = &r->slots[ext % PRISM_BENCH_REPAIR_SLOTS];
    if (len > PRISM_BENCH_REPAIR_PACKET) {
        r->oversize++;
    } else {
        memcpy(s->data, pkt, len);
        s->len = (uint16_t)len;
        s->ext_seq = ext;
    }
    drain(r, now_ns, deliver, ud);
}

size_t prism_bench_repair_collect(struct prism_bench_repair *r, uint64_t now_ns, uint16_t *out,
                                  size_t cap)
{
    if (!r->nack || !r->started)
        return 0;
    return prism_nack_gen_collect(&r->gen, now_ns / 1000000u, out, cap);
}
