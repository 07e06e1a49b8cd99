/* What a parsed m-section's a=ssrc-group lines say about its streams
 * (RFC 5576 §4): the rtx partner of an SSRC (FID, RFC 4588 §8.2) and SSRC
 * simulcast (SIM). See sdp.h for the contracts.
 *
 * SIM is no RFC: it is libwebrtc's legacy simulcast (Plan B, and the SDP
 * munging that Unified Plan Chromium still honours), which some softphones
 * copy: one a=ssrc-group:SIM listing each layer's SSRC, lowest resolution
 * first, and an a=ssrc-group:FID per layer pairing it with its rtx SSRC.
 *
 * Pure: reads a session the parser built; no allocation. O(groups) per
 * lookup.
 */
#include <string.h>

#include "relay/wire/sdp.h"

uint32_t prism_sdp_fid_partner(const struct prism_sdp_media *m, uint32_t ssrc)
{
    for (size_t g = 0; g < m->n_groups; g++) {
        const struct prism_sdp_ssrc_group *grp = &m->groups[g];
        if (strcmp(grp->semantics, "FID") == 0 && grp->n_ssrcs == 2 && grp->ssrcs[0] == ssrc)
            return grp->ssrcs[1];
    }
    return 0;
}

const struct prism_sdp_ssrc_group *prism_sdp_sim_group(const struct prism_sdp_media *m)
{
    for (size_t g = 0; g < m->n_groups; g++)
        if (strcmp(m->groups[g].semantics, "SIM") == 0)
            return &m->groups[g];
    return NULL;
}

size_t prism_sdp_sim_layers(const struct prism_sdp_media *m, uint32_t *ssrcs, uint32_t *rtx_ssrcs,
                            size_t cap)
{
    const struct prism_sdp_ssrc_group *sim = prism_sdp_sim_group(m);
    if (m->kind != PRISM_SDP_KIND_VIDEO || sim == NULL || sim->n_ssrcs < 2)
        return 0;
    for (size_t i = 0; i < m->n_rids; i++)
        if (m->rids[i].send)
            return 0; /* rid simulcast: its streams are learned by rid */
    for (size_t i = 0; i < sim->n_ssrcs; i++)
        for (size_t j = 0; j <= i; j++)
            if (sim->ssrcs[i] == 0 || (j < i && sim->ssrcs[j] == sim->ssrcs[i]))
                return 0;
    size_t n = 0;
    for (; n < sim->n_ssrcs && n < cap; n++) {
        ssrcs[n] = sim->ssrcs[n];
        rtx_ssrcs[n] = prism_sdp_fid_partner(m, sim->ssrcs[n]);
    }
    return n;
}
