/* The track of a publisher's RTP packet (see demux.h). */
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
