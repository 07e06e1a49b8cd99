/* The track, and the simulcast layer, of a publisher's RTP packet (see
 * demux.h). */
#include "relay/worker/demux.h"

#include <string.h>

static struct prism_track_desc *desc_at(const struct prism_demux_tracks *t, size_t i)
{
    return (struct prism_track_desc *)(void *)((char *)t->first + i * t->stride);
}

static bool is_rtx_pt(const struct prism_track_desc *d, uint8_t pt)
{
    for (uint8_t i = 0; i < d->n_rtx_pts && i < PRISM_MEDIA_MAX_RTX_PTS; i++)
        if (d->rtx_pts[i].rtx_pt == pt)
            return true;
    return false;
}

/* An unknown SSRC without mid: the one track whose m-line alone has the
 * packet's payload type, if the stream it names is still unbound. */
static enum prism_demux_stream by_payload_type(const struct prism_demux_tracks *t,
                                               const struct prism_packet *pkt, size_t *index)
{
    uint8_t pt = pkt->h.payload_type;
    for (size_t i = 0; i < t->n; i++) {
        struct prism_track_desc *d = desc_at(t, i);
        if (!prism_track_pt_only(d, pt) || d->n_layers > 1) /* simulcast: ingress.c's */
            continue;
        *index = i;
        if (is_rtx_pt(d, pt)) {
            if (d->rtx_ssrc != 0 || d->ssrc == 0)
                return PRISM_DEMUX_NONE;
            d->rtx_ssrc = pkt->h.ssrc;
            return PRISM_DEMUX_RTX;
        }
        if (d->ssrc != 0)
            return PRISM_DEMUX_NONE;
        d->ssrc = pkt->h.ssrc;
        return PRISM_DEMUX_MEDIA;
    }
    return PRISM_DEMUX_NONE;
}

enum prism_demux_stream prism_demux_find(const struct prism_demux_tracks *t,
                                         const struct prism_packet *pkt, size_t *index)
{
    uint32_t ssrc = pkt->h.ssrc;
    if (ssrc == 0)
        return PRISM_DEMUX_NONE; /* never: it would match a track whose SSRC is not known yet */
    for (size_t i = 0; i < t->n; i++)
        if (desc_at(t, i)->ssrc == ssrc) {
            *index = i;
            return PRISM_DEMUX_MEDIA;
        }
    for (size_t i = 0; i < t->n; i++)
        if (desc_at(t, i)->rtx_ssrc == ssrc) {
            *index = i;
            return PRISM_DEMUX_RTX;
        }
    if (!pkt->ext.has_mid)
        return by_payload_type(t, pkt, index);
    for (size_t i = 0; i < t->n; i++) {
        struct prism_track_desc *d = desc_at(t, i);
        if (d->ssrc == 0 && d->mid_ext_id != 0 && d->n_layers <= 1 &&
            strcmp(pkt->ext.mid, d->mid) == 0) {
            d->ssrc = ssrc;
            *index = i;
            return PRISM_DEMUX_MEDIA;
        }
    }
    return PRISM_DEMUX_NONE;
}

/* The layer of simulcast track `d` whose rid `pkt` carries, its stream
 * bound to the packet's SSRC (a layer's rtx stream, named by repaired-rid,
 * is bound too; `*rtx` then). A layer announced by SSRC (SIM group) has no
 * rid and never binds. Returns the layer, or -1 when no rid matches. */
static int bind_by_rid(struct prism_track_desc *d, const struct prism_packet *pkt, bool *rtx)
{
    for (uint8_t l = 0; l < d->n_layers && l < PRISM_MEDIA_MAX_LAYERS; l++) {
        if (d->rids[l][0] == '\0' || strcmp(d->rids[l], pkt->ext.rid) != 0)
            continue;
        *rtx = pkt->ext.repaired;
        if (pkt->ext.repaired)
            d->layer_rtx_ssrcs[l] = pkt->h.ssrc;
        else
            d->layer_ssrcs[l] = pkt->h.ssrc;
        return l;
    }
    return -1;
}

enum prism_demux_stream prism_demux_find_layer(const struct prism_demux_tracks *t,
                                               const struct prism_packet *pkt, size_t *index,
                                               uint8_t *layer)
{
    uint32_t ssrc = pkt->h.ssrc;
    if (ssrc == 0)
        return PRISM_DEMUX_NONE;
    for (size_t i = 0; i < t->n; i++) {
        const struct prism_track_desc *d = desc_at(t, i);
        for (uint8_t l = 0; d->n_layers > 1 && l < d->n_layers && l < PRISM_MEDIA_MAX_LAYERS; l++) {
            if (d->layer_ssrcs[l] != ssrc && d->layer_rtx_ssrcs[l] != ssrc)
                continue;
            *index = i;
            *layer = l;
            return d->layer_ssrcs[l] == ssrc ? PRISM_DEMUX_MEDIA : PRISM_DEMUX_RTX;
        }
    }
    if (!pkt->ext.has_rid)
        return PRISM_DEMUX_NONE;
    for (size_t i = 0; i < t->n; i++) {
        struct prism_track_desc *d = desc_at(t, i);
        if (d->n_layers <= 1 || (pkt->ext.has_mid && strcmp(pkt->ext.mid, d->mid) != 0))
            continue;
        bool rtx;
        int l = bind_by_rid(d, pkt, &rtx);
        if (l < 0)
            continue;
        *index = i;
        *layer = (uint8_t)l;
        return rtx ? PRISM_DEMUX_RTX : PRISM_DEMUX_MEDIA;
    }
    return PRISM_DEMUX_NONE;
}
