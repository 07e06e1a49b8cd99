/* libFuzzer target for a subscriber's answer checked against the offer it
 * answers: prism_sdp_parse_answer() with offered tracks built from the head
 * of the input (fuzz_tracks.c, valid or not), the rest of the input being
 * the answer. Invariant: the answer is refused with PRISM_EBADSDP and a
 * reason, or accepted with exactly the offered m-sections, their mids in
 * order, a track the relay removed never accepted, and every accepted
 * m-section muxed and in BUNDLE. Every session is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/sdp.h"
#include "tests/fuzz/fuzz_tracks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_sdp_answer: %s\n", what);
        abort();
    }
}

static bool bundled(const struct prism_sdp_session *s, const char *mid)
{
    for (size_t i = 0; i < s->n_bundle; i++)
        if (strcmp(s->bundle[i], mid) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct prism_sdp_track tracks[FUZZ_MAX_TRACKS];
    size_t n_tracks = 0;
    fuzz_tracks_build(&in, tracks, &n_tracks);
    char reason[PRISM_SDP_REASON_LEN] = "";
    struct prism_sdp_session *s = NULL;
    int err = prism_sdp_parse_answer((const char *)in.p, in.left, tracks, n_tracks, &s, reason,
                                     sizeof(reason));
    must(err == 0 || (err == PRISM_EBADSDP && reason[0] != '\0'), "refused without a reason");
    must((err == 0) == (s != NULL), "a session exactly on success");
    if (err != 0)
        return 0;
    must(s->n_media == n_tracks, "not the offered m-sections");
    for (size_t i = 0; i < n_tracks; i++) {
        const struct prism_sdp_media *m = &s->media[i];
        must(strcmp(m->mid, tracks[i].mid) == 0, "a mid differs from the offer's");
        must(!m->accepted || tracks[i].state != PRISM_SDP_TRACK_REMOVED,
             "a removed track is accepted");
        if (m->accepted && (m->kind == PRISM_SDP_KIND_AUDIO || m->kind == PRISM_SDP_KIND_VIDEO))
            must(m->rtcp_mux && bundled(s, m->mid), "an accepted m-section not muxed in BUNDLE");
    }
    must(s->setup == PRISM_SDP_SETUP_ACTIVE, "the answer's setup is not active");
    prism_sdp_session_free(s);
    return 0;
}
