/* libFuzzer target for the downstream offer writer (prism_sdp_write_offer)
 * fed hostile publisher fields: tracks whose peer and track ids, codec
 * names, fmtp, extmap URIs and ssrcs come from the input (fuzz_tracks.c).
 * Every track goes to the writer as built: since issue 9 the writer refuses
 * whatever field the parser would refuse (track_ok() in
 * relay/wire/sdp_write.c). Invariant: the writer
 * refuses the tracks (PRISM_EINVAL) or writes an offer that the relay's own
 * parser accepts with the same m-sections, mids, msids and ssrcs (no field
 * can smuggle a line in); the client answer prism-bench writes to it is
 * accepted by prism_sdp_parse_answer() against those tracks, with every
 * removed track rejected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/sdp.h"
#include "tests/fuzz/fuzz_tracks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char offer[PRISM_SDP_MAX_BYTES];
static char answer[PRISM_SDP_MAX_BYTES];

static void must(int cond, const char *what, const char *reason)
{
    if (!cond) {
        fprintf(stderr, "fuzz_sdp_offer: %s%s%s\n", what, reason ? ": " : "", reason ? reason : "");
        abort();
    }
}

static bool has_ssrc(const struct prism_sdp_media *m, uint32_t ssrc)
{
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (m->ssrcs[i].ssrc == ssrc)
            return true;
    return false;
}

static void check_media(const struct prism_sdp_track *t, const struct prism_sdp_media *m)
{
    must(strcmp(m->mid, t->mid) == 0, "the mid changed", t->mid);
    must(m->kind == t->kind, "the kind changed", NULL);
    must(m->accepted == (t->state != PRISM_SDP_TRACK_REMOVED),
         "removed tracks, and only they, "
         "have port 0",
         NULL);
    if (t->state != PRISM_SDP_TRACK_SEND) {
        must(m->n_ssrcs == 0, "a track that does not send has ssrcs", NULL);
        return;
    }
    must(m->dir == PRISM_SDP_DIR_SENDONLY, "a sending track is not sendonly", NULL);
    must(strcmp(m->msid_stream, t->peer_id) == 0 && strcmp(m->msid_track, t->track_id) == 0,
         "the msid changed", NULL);
    must(has_ssrc(m, t->ssrc), "the ssrc is missing", NULL);
    must(t->rtx_ssrc == 0 || has_ssrc(m, t->rtx_ssrc), "the rtx ssrc is missing", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct prism_sdp_track tracks[FUZZ_MAX_TRACKS];
    size_t n_tracks = 0, n = 0;
    fuzz_tracks_build(&in, tracks, &n_tracks);
    const struct prism_sdp_local *local = fuzz_tracks_local();
    int err = prism_sdp_write_offer(local, tracks, n_tracks, offer, sizeof(offer), &n);
    must(err == 0 || err == PRISM_EINVAL, "write offer: unexpected code", NULL);
    if (err != 0)
        return 0;
    must(n < sizeof(offer) && offer[n] == '\0', "write offer: length", NULL);
    char reason[PRISM_SDP_REASON_LEN] = "";
    struct prism_sdp_session *parsed = NULL;
    err = prism_sdp_parse_offer(offer, n, &parsed, reason, sizeof(reason));
    if (err != 0)
        fprintf(stderr, "%s", offer);
    must(err == 0, "our own offer does not parse", reason);
    must(parsed->n_media == n_tracks, "the m-sections changed", NULL);
    for (size_t i = 0; i < n_tracks; i++)
        check_media(&tracks[i], &parsed->media[i]);
    size_t a = 0;
    err = prism_sdp_write_client_answer(parsed, local, answer, sizeof(answer), &a);
    must(err == 0, "the client answer to our offer cannot be written", NULL);
    prism_sdp_session_free(parsed);
    struct prism_sdp_session *back = NULL;
    err = prism_sdp_parse_answer(answer, a, tracks, n_tracks, &back, reason, sizeof(reason));
    if (err != 0)
        fprintf(stderr, "%s", answer);
    must(err == 0, "the client answer to our offer is refused", reason);
    for (size_t i = 0; i < n_tracks; i++)
        must(!back->media[i].accepted || tracks[i].state != PRISM_SDP_TRACK_REMOVED,
             "a removed track is accepted", NULL);
    prism_sdp_session_free(back);
    return 0;
}
