/* libFuzzer target for SRTP/SRTCP from the network (crypto/srtp.h): what a
 * peer's transport hands prism_srtp_unprotect_rtp/_rtcp after the DTLS
 * handshake. The first byte picks the profile; a fresh pair of sessions
 * sharing one key (the peer's outbound, our inbound) then runs a script:
 *   raw:      bytes from the input, unprotected as RTP or RTCP;
 *   genuine:  an RTP or RTCP packet from the input, protected by the peer,
 *             optionally with one bit flipped, then unprotected twice;
 *   ssrcs:    prism_srtp_set_ssrcs() with SSRCs and a budget from the input.
 * Invariants: every verdict is one of the enum; an OK packet is no longer
 * than what came in; a genuine packet unprotects to exactly its plaintext
 * (or is refused as a replay or for its SSRC; once one was lost or a
 * budget change may have removed streams, also as unauthentic: the
 * rollover counters may disagree), never twice (the second
 * time is a replay); a packet with any bit flipped is never OK. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/srtp.h"
#include "relay/base/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PACKET 1200

struct in {
    const uint8_t *p;
    size_t left;
};

static uint8_t buf[MAX_PACKET + PRISM_SRTP_MAX_TRAILER];
static uint8_t plain[MAX_PACKET];
static uint8_t sent[MAX_PACKET + PRISM_SRTP_MAX_TRAILER];
static bool lost; /* a genuine packet of this input did not get through */

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_srtp: %s\n", what);
        abort();
    }
}

static uint8_t byte(struct in *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static size_t take(struct in *in, uint8_t *dst, size_t max)
{
    size_t n = (size_t)byte(in) << 8;
    n |= byte(in);
    n = n < max ? n : max;
    n = n < in->left ? n : in->left;
    memcpy(dst, in->p, n);
    in->p += n;
    in->left -= n;
    return n;
}

static enum prism_srtp_verdict unprotect(struct prism_srtp *s, bool rtcp, uint8_t *b, size_t *len)
{
    size_t before = *len;
    enum prism_srtp_verdict v =
        rtcp ? prism_srtp_unprotect_rtcp(s, b, len) : prism_srtp_unprotect_rtp(s, b, len);
    must(v <= PRISM_SRTP_SSRC_REFUSED, "verdict out of range");
    must(v != PRISM_SRTP_OK || *len <= before, "plaintext longer than the packet");
    return v;
}

static void genuine(struct in *in, struct prism_srtp *tx, struct prism_srtp *rx)
{
    uint8_t how = byte(in);
    bool rtcp = (how & 1) != 0;
    size_t n = take(in, plain, MAX_PACKET);
    if (n < (rtcp ? 8u : 12u))
        return;
    plain[0] = (uint8_t)((plain[0] & 0x3f) | 0x80); /* version 2 */
    if (rtcp)
        plain[1] = (uint8_t)(200 + plain[1] % 8); /* an RTCP packet type */
    else
        plain[1] &= 0x7f; /* a payload type outside the RTCP range */
    bool flip = (how & 2) != 0;
    size_t at = flip ? ((size_t)byte(in) << 8 | byte(in)) : 0;
    uint8_t bit = flip ? (uint8_t)(1u << (byte(in) % 8)) : 0;
    memcpy(buf, plain, n);
    size_t len = n;
    int rc = rtcp ? prism_srtp_protect_rtcp(tx, buf, &len) : prism_srtp_protect_rtp(tx, buf, &len);
    if (rc != 0)
        return; /* malformed header, or an index already protected: nothing sent */
    memcpy(sent, buf, len);
    size_t sent_len = len;
    if (flip)
        buf[at % len] ^= bit;
    enum prism_srtp_verdict v = unprotect(rx, rtcp, buf, &len);
    if (flip) {
        must(v != PRISM_SRTP_OK, "a packet with a flipped bit was accepted");
        lost = true;
        return;
    }
    /* After a loss the receiver's rollover counter may guess another index
     * than the sender's (RFC 3711 §3.3.1, a jump of 2^15 or more): then, and
     * only then, a genuine packet may fail to authenticate. */
    must(v == PRISM_SRTP_OK || v == PRISM_SRTP_REPLAY || v == PRISM_SRTP_SSRC_REFUSED ||
             (lost && v == PRISM_SRTP_AUTH_FAILED),
         "a genuine packet was refused");
    if (v != PRISM_SRTP_OK) {
        lost = true;
        return;
    }
    must(len == n && memcmp(buf, plain, n) == 0, "a genuine packet decrypted to other bytes");
    memcpy(buf, sent, sent_len);
    len = sent_len;
    must(unprotect(rx, rtcp, buf, &len) == PRISM_SRTP_REPLAY, "a replay was accepted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum prism_srtp_profile profiles[] = {
        PRISM_SRTP_AES128_CM_SHA1_80, PRISM_SRTP_AEAD_AES_128_GCM, PRISM_SRTP_AEAD_AES_256_GCM};
    struct in in = {data, size};
    lost = false;
    enum prism_srtp_profile profile = profiles[byte(&in) % 3];
    uint8_t key[PRISM_SRTP_MAX_KEY_SALT_LEN];
    size_t key_len = prism_srtp_profile_key_len(profile) + prism_srtp_profile_salt_len(profile);
    for (size_t i = 0; i < key_len; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    struct prism_srtp *tx = NULL, *rx = NULL;
    must(prism_srtp_new(profile, key, key_len, true, &tx) == 0 &&
             prism_srtp_new(profile, key, key_len, false, &rx) == 0,
         "sessions");
    for (int ops = 0; in.left > 0 && ops < 64; ops++) {
        uint8_t op = byte(&in);
        switch (op % 4) {
        case 0:
        case 1: { /* raw */
            size_t len = take(&in, buf, MAX_PACKET);
            unprotect(rx, op % 4 == 1, buf, &len);
            break;
        }
        case 2: genuine(&in, tx, rx); break;
        default: { /* ssrcs */
            uint32_t ssrcs[8];
            size_t n = byte(&in) % 9;
            for (size_t i = 0; i < n; i++)
                ssrcs[i] = (uint32_t)byte(&in) << 24 | (uint32_t)byte(&in);
            int rc = prism_srtp_set_ssrcs(rx, ssrcs, n, byte(&in) % 8);
            must(rc == 0 || rc == PRISM_ENOMEM, "set_ssrcs refused valid arguments");
            lost = true; /* streams that no longer fit are gone, their state too */
            break;
        }
        }
    }
    prism_srtp_free(tx);
    prism_srtp_free(rx);
    return 0;
}
