/* prism-bench: a real browser's publish offer, for load that looks like
 * browsers to the relay's control plane.
 *
 * prism_bench_chromium_av_offer is tests/data/sdp/chromium-av-offer.sdp
 * (captured from Chromium 156: audio + video sendonly, BUNDLE, 8 candidates
 * per m-line, 8 audio and 23 video payload types, CRLF line ends), copied
 * into the binary at build time by bench/embed.py, so the installed tool
 * needs no data file. NUL-terminated; read-only.
 */
#ifndef PRISM_BENCH_CHROMIUM_OFFER_H
#define PRISM_BENCH_CHROMIUM_OFFER_H

extern const char prism_bench_chromium_av_offer[];

#endif
