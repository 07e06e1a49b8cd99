/* libFuzzer target for relay/rtcp. Invariants checked: the iterator ends
 * with PRISM_ENOTFOUND or PRISM_EINVAL, every item and its body lie inside
 * the input, the readers and setters never go past an item (ASan), and a
 * NACK or REMB read from the input, rebuilt by the builders, reads back the
 * same; with the input read as 16-bit seqs, the NACK packer covers each. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/base/error.h"
#include "relay/wire/rtcp.h"
#include "relay/wire/tcc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BYTES 4096

static uint8_t out[FUZZ_MAX_BYTES + 64];

static void must(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_rtcp: %s\n", what);
        abort();
    }
}

/* The only item of `buf`. */
static struct prism_rtcp_item only_item(const uint8_t *buf, size_t len)
{
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, buf, len);
    must(prism_rtcp_next(&it, &item) == 0, "built packet walks");
    struct prism_rtcp_item extra;
    must(prism_rtcp_next(&it, &extra) == PRISM_ENOTFOUND, "built packet is one block");
    return item;
}

static void check_item(const uint8_t *buf, size_t len, const struct prism_rtcp_item *item)
{
    must(item->data >= buf && item->len <= len && item->data + item->len <= buf + len,
         "item inside");
    must(item->body >= item->data && item->body + item->body_len <= item->data + item->len,
         "body inside item");
    struct prism_rtcp_sender_info si;
    struct prism_rtcp_report_block rb;
    prism_rtcp_parse_sr(item, &si);
    for (size_t i = 0; i <= item->fmt; i++)
        prism_rtcp_report_block(item, i, &rb);
    prism_rtcp_is_pli(item);
    for (size_t i = 0; i < prism_rtcp_fir_count(item); i++) {
        uint32_t ssrc;
        uint8_t seq_nr;
        must(prism_rtcp_fir_entry(item, i, &ssrc, &seq_nr) == 0, "fir entry");
    }
    struct prism_rtcp_tcc tcc;
    if (prism_rtcp_parse_tcc(item, &tcc) == 0) {
        /* The full reader (a subscriber's feedback): bounded, in order. */
        static struct prism_tcc_status st[1024];
        int n = prism_tcc_parse(item->body, item->body_len, st, 1024);
        must(n == PRISM_EINVAL || (n >= 0 && n <= tcc.status_count), "tcc statuses");
        for (int i = 0; i < n; i++)
            must(st[i].seq == (uint16_t)(tcc.base_seq + i), "tcc status seq");
    }

    struct prism_rtcp_remb remb;
    if (prism_rtcp_parse_remb(item, &remb) == 0 && remb.n_ssrcs > 0) {
        uint32_t ssrcs[PRISM_RTCP_REMB_MAX_SSRCS];
        for (size_t i = 0; i < remb.n_ssrcs; i++)
            ssrcs[i] = prism_rtcp_remb_ssrc(&remb, i);
        int n = prism_rtcp_build_remb(out, sizeof(out), item->sender_ssrc, remb.bitrate_bps, ssrcs,
                                      remb.n_ssrcs);
        must(n > 0, "remb rebuilt");
        struct prism_rtcp_item again = only_item(out, (size_t)n);
        struct prism_rtcp_remb back;
        must(prism_rtcp_parse_remb(&again, &back) == 0, "rebuilt remb parses");
        must(back.n_ssrcs == remb.n_ssrcs && back.bitrate_bps <= remb.bitrate_bps,
             "remb round trip");
        if (remb.bitrate_bps < (UINT64_C(1) << 18))
            must(back.bitrate_bps == remb.bitrate_bps, "small remb exact");
    }

    size_t entries = prism_rtcp_nack_count(item);
    if (entries > 0 && entries <= 64) {
        uint16_t seqs[64 * PRISM_RTCP_NACK_MAX_SEQS];
        size_t n_seqs = 0;
        for (size_t i = 0; i < entries; i++) {
            uint16_t pid, blp;
            must(prism_rtcp_nack_entry(item, i, &pid, &blp) == 0, "nack entry");
            n_seqs += prism_rtcp_nack_expand(pid, blp, seqs + n_seqs);
        }
        int n = prism_rtcp_build_nack(out, sizeof(out), item->sender_ssrc, item->media_ssrc, seqs,
                                      n_seqs);
        must(n > 0, "nack rebuilt");
        struct prism_rtcp_item again = only_item(out, (size_t)n);
        must(prism_rtcp_nack_count(&again) <= entries, "repacking never grows");
    }

    /* Setters on a mutable exact-size copy of the block. */
    uint8_t *copy = malloc(item->len);
    must(copy != NULL, "malloc");
    memcpy(copy, item->data, item->len);
    prism_rtcp_set_sender_ssrc(copy, item->len, 1);
    prism_rtcp_rewrite_media_ssrc(copy, item->len, 2);
    for (size_t i = 0; i <= item->body_len / 4; i++) {
        prism_rtcp_rewrite_fir_ssrc(copy, item->len, i, 3);
        prism_rtcp_rewrite_nack_entry(copy, item->len, i, 4, 5);
    }
    free(copy);
}

static void check_nack_packer(const uint8_t *data, size_t size)
{
    size_t n = size / 2 > 256 ? 256 : size / 2;
    if (n == 0)
        return;
    uint16_t seqs[256];
    for (size_t i = 0; i < n; i++)
        seqs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    int len = prism_rtcp_build_nack(out, sizeof(out), 1, 2, seqs, n);
    must(len > 0, "nack built");
    struct prism_rtcp_item item = only_item(out, (size_t)len);
    /* Every input seq is named by some entry. */
    static uint8_t named[65536 / 8];
    memset(named, 0, sizeof(named));
    for (size_t i = 0; i < prism_rtcp_nack_count(&item); i++) {
        uint16_t pid, blp, exp[PRISM_RTCP_NACK_MAX_SEQS];
        must(prism_rtcp_nack_entry(&item, i, &pid, &blp) == 0, "entry");
        size_t k = prism_rtcp_nack_expand(pid, blp, exp);
        for (size_t j = 0; j < k; j++)
            named[exp[j] >> 3] |= (uint8_t)(1u << (exp[j] & 7));
    }
    for (size_t i = 0; i < n; i++)
        must((named[seqs[i] >> 3] >> (seqs[i] & 7)) & 1, "seq covered");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_BYTES)
        return 0;
    uint8_t *buf = calloc(1, size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    struct prism_rtcp_iter it;
    struct prism_rtcp_item item;
    prism_rtcp_iter_init(&it, buf, size);
    int err;
    size_t items = 0;
    while ((err = prism_rtcp_next(&it, &item)) == 0) {
        check_item(buf, size, &item);
        items++;
    }
    must(err == PRISM_ENOTFOUND || err == PRISM_EINVAL, "iterator end code");
    must(prism_rtcp_next(&it, &item) == err, "iterator end is sticky");
    must(items <= size / 4, "no more items than words");
    prism_rtcp_is_rtcp(buf, size);
    free(buf);
    check_nack_packer(data, size);
    return 0;
}
