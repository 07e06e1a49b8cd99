/* Layered streams on the per-packet path (see svc.h). */
#include "relay/worker/svc.h"

#include <string.h>

/* A packet's place in a layered stream. */
struct place {
    bool key;   /* starts a key frame */
    bool start; /* starts a picture */
    bool sync;  /* a temporal switching point (VP8, VP9) */
    uint8_t sid, tid;
    bool dd;      /* from the dependency descriptor: the fields below hold */
    bool unknown; /* its layers are not known (nor the rest) */
    bool top;     /* unknown: it is of the kept structure's top layers at most */
    uint8_t top_sid, top_tid;
    bool frame_start;     /* starts a frame (of any spatial layer) */
    uint16_t switch_into; /* prism_dd_place's */
    uint16_t absent_from; /* prism_dd_place's */
};

/* Reads `pkt`'s place from its descriptor; false when it has no layer
 * indices. VP9's own descriptor first (the relay rewrites its picture ids
 * by it), then the dependency descriptor (libwebrtc strips VP8's own of its
 * layers when it sends one), then VP8's. */
static bool place_of(const struct prism_packet *pkt, struct place *out)
{
    if (pkt->has_vp9 && pkt->vp9.has_layers) {
        *out = (struct place){.key = pkt->vp9.keyframe,
                              .start = pkt->vp9.begin && pkt->vp9.sid == 0,
                              .sync = pkt->vp9.switch_up,
                              .sid = pkt->vp9.sid,
                              .tid = pkt->vp9.tid};
        return true;
    }
    if (pkt->has_dd) {
        const struct prism_dd_place *a = &pkt->dd;
        *out = (struct place){.key = a->known && a->key,
                              .start = a->known && a->start && a->sid == 0,
                              .sid = a->sid,
                              .tid = a->tid,
                              .dd = true,
                              .unknown = !a->known,
                              .top = !a->known && a->kept,
                              .top_sid = a->top_sid,
                              .top_tid = a->top_tid,
                              .frame_start = a->known && a->start,
                              .switch_into = a->switch_into,
                              .absent_from = a->absent_from};
        return true;
    }
    if (pkt->has_vp8 && pkt->vp8.has_tid) {
        *out = (struct place){.key = pkt->vp8.keyframe,
                              .start = pkt->vp8.start && pkt->vp8.partition == 0,
                              .sync = pkt->vp8.layer_sync,
                              .tid = pkt->vp8.tid};
        return true;
    }
    return false;
}

void prism_svc_dd_place(const struct prism_av1dd_structure *st, const struct prism_av1dd_frame *f,
                        int rc, struct prism_dd_place *out)
{
    if (rc != 0) {
        *out = (struct prism_dd_place){
            .kept = st->n_decode_targets > 0, .top_sid = st->max_sid, .top_tid = st->max_tid};
        return;
    }
    *out = (struct prism_dd_place){.known = true,
                                   .start = f->start_of_frame,
                                   .end = f->end_of_frame,
                                   .key = f->new_structure,
                                   .sid = f->sid,
                                   .tid = f->tid};
    for (unsigned dt = 0; dt < st->n_decode_targets; dt++) {
        if (st->dt_sid[dt] >= PRISM_DD_CELLS || st->dt_tid[dt] >= PRISM_DD_CELLS)
            continue;
        uint16_t cell = (uint16_t)(1u << (st->dt_sid[dt] * PRISM_DD_CELLS + st->dt_tid[dt]));
        enum prism_av1dd_dti dti = prism_av1dd_dti(f->dtis, dt);
        if (dti == PRISM_AV1DD_DTI_SWITCH)
            out->switch_into |= cell;
        else if (dti == PRISM_AV1DD_DTI_NOT_PRESENT)
            out->absent_from |= cell;
    }
    if (f->new_structure && st->has_resolutions) {
        out->n_heights = (uint8_t)(st->max_sid + 1);
        memcpy(out->height, st->height, sizeof(out->height));
    }
}

/* The dependency descriptor: the highest layers within the targets (spatial first) that the
 * frame starting at `pl` is a switching point into, above the forwarded
 * ones in one and not below in the other; the forwarded ones stay when
 * none. A target of every layer waits for a key frame. */
static void dd_up(struct prism_svc_state *s, const struct place *pl)
{
    if (s->sid_target == PRISM_SVC_ALL || s->tid_target == PRISM_SVC_ALL ||
        (s->sid >= s->sid_target && s->tid >= s->tid_target))
        return;
    for (int sv = s->sid_target < PRISM_DD_CELLS ? s->sid_target : PRISM_DD_CELLS - 1; sv >= s->sid;
         sv--)
        for (int tv = s->tid_target < PRISM_DD_CELLS ? s->tid_target : PRISM_DD_CELLS - 1;
             tv >= s->tid; tv--) {
            if ((sv == s->sid && tv == s->tid) ||
                !(pl->switch_into & (1u << (sv * PRISM_DD_CELLS + tv))))
                continue;
            s->sid = (uint8_t)sv;
            s->tid = (uint8_t)tv;
            return;
        }
}

/* Whether the frame of a known dependency descriptor is not in the decode
 * target of the layers a consumer forwards, though within them: K-SVC's
 * (L3T3_KEY's) lower spatial layers' delta frames, which an upper layer's
 * decoder never references. A consumer of every spatial or temporal layer
 * has no one decode target: it takes them. */
static bool dd_absent(const struct prism_svc_state *s, const struct place *pl)
{
    return pl->dd && s->sid < PRISM_DD_CELLS && s->tid < PRISM_DD_CELLS &&
           (pl->absent_from & (1u << (s->sid * PRISM_DD_CELLS + s->tid)));
}

/* Whether a consumer takes a packet of unknown layers: when it forwards
 * every layer, or the top ones of the structure the stream keeps (the
 * packet is most likely of the next one, which a lost key frame brought;
 * a subscriber of everything stashes it until that key frame is repaired). */
static bool unknown_taken(const struct prism_svc_state *s, const struct place *pl)
{
    if (s->sid == PRISM_SVC_ALL && s->tid == PRISM_SVC_ALL)
        return true;
    return pl->top && s->sid >= pl->top_sid && s->tid >= pl->top_tid;
}

void prism_svc_state_init(struct prism_svc_state *s)
{
    s->sid = s->sid_target = s->tid = s->tid_target = PRISM_SVC_ALL;
}

enum prism_svc_verdict prism_svc_take(struct prism_svc_state *s, const struct prism_packet *pkt)
{
    struct place pl;
    if (!place_of(pkt, &pl))
        return PRISM_SVC_TAKE;
    if (pl.unknown)
        return unknown_taken(s, &pl) ? PRISM_SVC_TAKE : PRISM_SVC_DROP_UNKNOWN;
    if (pl.key) {
        s->sid = s->sid_target;
        s->tid = s->tid_target;
    } else if (pl.start) {
        if (s->sid_target < s->sid)
            s->sid = s->sid_target;
        if (s->tid_target < s->tid)
            s->tid = s->tid_target;
        if (pl.sync && pl.tid > s->tid && pl.tid <= s->tid_target)
            s->tid = pl.tid;
    }
    if (pl.dd && pl.frame_start && !pl.key)
        dd_up(s, &pl);
    if (pl.tid > s->tid)
        return PRISM_SVC_DROP_PICTURE;
    return pl.sid > s->sid || dd_absent(s, &pl) ? PRISM_SVC_DROP_LAYER : PRISM_SVC_TAKE;
}

bool prism_svc_above(const struct prism_svc_state *s, const struct prism_packet *pkt)
{
    struct place pl;
    return place_of(pkt, &pl) && (pl.tid > s->tid || pl.sid > s->sid || dd_absent(s, &pl) ||
                                  (pl.unknown && !unknown_taken(s, &pl)));
}

bool prism_svc_ends_picture(const struct prism_svc_state *s, const struct prism_packet *pkt)
{
    /* RFC 9628's E ends a layer frame; the publisher's marker is on the
     * top layer's, which this consumer may leave out. */
    if (pkt->has_dd)
        return pkt->dd.known && pkt->dd.end && s->sid != PRISM_SVC_ALL && pkt->dd.sid == s->sid;
    return pkt->has_vp9 && pkt->vp9.has_layers && pkt->vp9.end && s->sid != PRISM_SVC_ALL &&
           pkt->vp9.sid == s->sid;
}

void prism_svc_meter_note(struct prism_svc_meter *m, const struct prism_packet *pkt)
{
    if (pkt->has_vp9 && pkt->vp9.has_ss && pkt->vp9.ss_has_size)
        for (uint8_t s = 0; s < pkt->vp9.ss_n_spatial && s < PRISM_SVC_MAX_LAYERS; s++)
            m->height[s] = pkt->vp9.ss_height[s];
    if (pkt->has_dd && pkt->layer == 0)
        for (uint8_t s = 0; s < pkt->dd.n_heights && s < PRISM_SVC_MAX_LAYERS; s++)
            m->height[s] = pkt->dd.height[s];
    struct place pl;
    if (pkt->layer != 0 || !place_of(pkt, &pl) || pl.unknown || pl.sid >= PRISM_SVC_MAX_LAYERS ||
        pl.tid >= PRISM_SVC_MAX_LAYERS)
        return;
    m->bytes[pl.sid][pl.tid] += pkt->len;
    m->frames[pl.tid] += pl.start;
    m->last_ms = pkt->now_ms != 0 ? pkt->now_ms : 1;
}

void prism_svc_meter_roll(struct prism_svc_meter *m, bool skipped)
{
    memcpy(m->prev_bytes, m->bytes, sizeof(m->bytes));
    memcpy(m->prev_frames, m->frames, sizeof(m->frames));
    if (skipped) {
        memset(m->prev_bytes, 0, sizeof(m->prev_bytes));
        memset(m->prev_frames, 0, sizeof(m->prev_frames));
    }
    memset(m->bytes, 0, sizeof(m->bytes));
    memset(m->frames, 0, sizeof(m->frames));
}

bool prism_svc_meter_read(const struct prism_svc_meter *m, uint64_t now_ms, uint64_t span_ms,
                          uint64_t active_ms, struct prism_svc_info *out)
{
    if (m->last_ms == 0 || now_ms - m->last_ms >= active_ms || span_ms == 0)
        return false;
    *out = (struct prism_svc_info){0};
    for (uint8_t s = 0; s < PRISM_SVC_MAX_LAYERS; s++) {
        out->height[s] = m->height[s];
        for (uint8_t t = 0; t < PRISM_SVC_MAX_LAYERS; t++) {
            uint64_t bytes = m->bytes[s][t] + m->prev_bytes[s][t];
            if (bytes == 0)
                continue;
            out->n_spatial = s + 1 > out->n_spatial ? (uint8_t)(s + 1) : out->n_spatial;
            out->n_temporal = t + 1 > out->n_temporal ? (uint8_t)(t + 1) : out->n_temporal;
            out->bps[s][t] = (uint32_t)(bytes * 8 * 1000 / span_ms);
        }
    }
    for (uint8_t t = 0; t < PRISM_SVC_MAX_LAYERS; t++)
        out->fps_milli[t] =
            (uint32_t)((uint64_t)(m->frames[t] + m->prev_frames[t]) * 1000000 / span_ms);
    return out->n_spatial > 1 || out->n_temporal > 1;
}
