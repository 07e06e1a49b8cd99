/* Shared by the SDP offer/answer fuzz targets: builds the tracks of a
 * subscribe offer (struct prism_sdp_track) from fuzz input, as a hostile
 * publisher could shape them (ids, codec names, fmtp, extmap URIs, ssrcs),
 * and the relay-side struct prism_sdp_local the writers need. Not thread
 * safe: the strings live in a static pool, reset by each build. */
#ifndef PRISM_TESTS_FUZZ_TRACKS_H
#define PRISM_TESTS_FUZZ_TRACKS_H

#include <stddef.h>
#include <stdint.h>

#include "relay/wire/sdp.h"

#define FUZZ_MAX_TRACKS 4

/* A cursor over the input; reads past the end yield zeros. */
struct fuzz_in {
    const uint8_t *p;
    size_t left;
};

/* Fills `t[0..*n)` (1..FUZZ_MAX_TRACKS tracks) from `in`, consuming what it
 * reads. The fields may be anything a publisher could send, valid or not. */
void fuzz_tracks_build(struct fuzz_in *in, struct prism_sdp_track *t, size_t *n);

/* The relay's side of the transport: fixed, valid. */
const struct prism_sdp_local *fuzz_tracks_local(void);

#endif
