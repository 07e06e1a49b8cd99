/* libFuzzer target for DTLS records into a server-side crypto/dtls session,
 * as the relay runs it (it is always the DTLS server, RFC 8842 passive).
 * The first input byte picks the mode:
 *   even: the rest is datagrams (a 2-byte big-endian length, then the bytes)
 *         fed to a fresh server session, expired timers served between;
 *   odd:  a real prism_dtls client handshakes with the server, and the rest
 *         is a script of edits on the client's datagrams (pass, drop,
 *         duplicate, flip a byte, cut short, replace by input bytes), so the
 *         fuzzer reaches every handshake state with hostile records.
 * Invariants: nothing crashes or leaks; every datagram the server sends is
 * 1..PRISM_DTLS_MTU bytes; the server never reports CONNECTED to a client
 * whose certificate does not match the pinned fingerprint; when both sides
 * connect, their SRTP keys agree (ours to send = theirs to receive). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/dtls.h"
#include "relay/base/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 32
#define ROUNDS 16

struct wire {
    uint8_t data[SLOTS][PRISM_DTLS_MTU];
    size_t len[SLOTS];
    size_t n;
};

struct in {
    const uint8_t *p;
    size_t left;
};

static struct prism_cert *server_cert, *client_cert, *stranger_cert;
static struct prism_dtls_ctx *server_ctx, *client_ctx, *stranger_ctx;
static struct prism_fingerprint server_fp, client_fp;
static struct wire to_client, to_server;

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_dtls: %s\n", what);
        abort();
    }
}

static void on_send(void *ud, const uint8_t *data, size_t len)
{
    struct wire *w = ud;
    must(len > 0 && len <= PRISM_DTLS_MTU, "a datagram beyond the MTU");
    if (w->n == SLOTS)
        return; /* lost on the way */
    memcpy(w->data[w->n], data, len);
    w->len[w->n++] = len;
}

static void init_once(void)
{
    if (server_ctx != NULL)
        return;
    must(prism_cert_generate(&server_cert) == 0 && prism_cert_generate(&client_cert) == 0 &&
             prism_cert_generate(&stranger_cert) == 0,
         "certificates");
    must(prism_dtls_ctx_new(server_cert, &server_ctx) == 0 &&
             prism_dtls_ctx_new(client_cert, &client_ctx) == 0 &&
             prism_dtls_ctx_new(stranger_cert, &stranger_ctx) == 0,
         "contexts");
    must(prism_cert_fingerprint_of(prism_cert_x509(server_cert), PRISM_CERT_SHA256, &server_fp) ==
                 0 &&
             prism_cert_fingerprint_of(prism_cert_x509(client_cert), PRISM_CERT_SHA256,
                                       &client_fp) == 0,
         "fingerprints");
}

static uint8_t byte(struct in *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static void serve_timer(struct prism_dtls *d)
{
    if (prism_dtls_timeout_ms(d) == 0)
        (void)prism_dtls_on_timeout(d);
}

static void check_state(struct prism_dtls *d)
{
    enum prism_dtls_state st = prism_dtls_state(d);
    must(st <= PRISM_DTLS_CLOSED, "state out of range");
    must((st == PRISM_DTLS_FAILED) == (prism_dtls_failure(d)[0] != '\0'),
         "a failure reason exactly when failed");
}

static void raw_datagrams(struct in *in)
{
    struct prism_dtls *server = NULL;
    must(prism_dtls_new(server_ctx, PRISM_DTLS_SERVER, &client_fp, on_send, &to_client, &server) ==
             0,
         "server session");
    must(prism_dtls_start(server) == 0, "server start");
    while (in->left > 0) {
        size_t len = (size_t)byte(in) << 8;
        len |= byte(in);
        if (len > in->left)
            len = in->left;
        int err = prism_dtls_feed(server, in->p, len);
        must(err == 0 || err == PRISM_EINVAL || err == PRISM_ECRYPTO, "feed: unexpected code");
        in->p += len;
        in->left -= len;
        to_client.n = 0;
        check_state(server);
        /* No certificate here can match client_fp: the input has no key. */
        must(prism_dtls_state(server) != PRISM_DTLS_CONNECTED, "connected without the key");
        serve_timer(server);
    }
    prism_dtls_close(server);
    prism_dtls_free(server);
}

/* Delivers the client's datagrams to the server through the script's edits. */
static void deliver_edited(struct in *in, struct prism_dtls *server)
{
    static uint8_t buf[PRISM_DTLS_MTU];
    for (size_t i = 0; i < to_server.n; i++) {
        uint8_t op = byte(in);
        size_t len = to_server.len[i];
        memcpy(buf, to_server.data[i], len);
        switch (op % 8) {
        case 0: /* drop */ continue;
        case 1: /* flip a byte */ buf[byte(in) % len] ^= (uint8_t)(1u << (byte(in) % 8)); break;
        case 2: /* cut short */ len = byte(in) % len; break;
        case 3: { /* replace by input bytes */
            size_t n = byte(in);
            n = n < in->left ? n : in->left;
            memcpy(buf, in->p, n);
            in->p += n;
            in->left -= n;
            len = n;
            break;
        }
        case 4: /* duplicate */ (void)prism_dtls_feed(server, buf, len); break;
        default: /* pass */ break;
        }
        (void)prism_dtls_feed(server, buf, len);
        check_state(server);
    }
    to_server.n = 0;
}

static void handshake(struct in *in)
{
    bool stranger = (byte(in) & 1) != 0; /* a client whose certificate is not the pinned one */
    struct prism_dtls *server = NULL, *client = NULL;
    must(prism_dtls_new(server_ctx, PRISM_DTLS_SERVER, &client_fp, on_send, &to_client, &server) ==
             0,
         "server session");
    must(prism_dtls_new(stranger ? stranger_ctx : client_ctx, PRISM_DTLS_CLIENT, &server_fp,
                        on_send, &to_server, &client) == 0,
         "client session");
    must(prism_dtls_start(server) == 0, "server start");
    (void)prism_dtls_start(client);
    for (int r = 0; r < ROUNDS && (to_server.n > 0 || to_client.n > 0); r++) {
        deliver_edited(in, server);
        for (size_t i = 0; i < to_client.n; i++)
            (void)prism_dtls_feed(client, to_client.data[i], to_client.len[i]);
        to_client.n = 0;
        if (stranger)
            must(prism_dtls_state(server) != PRISM_DTLS_CONNECTED, "a stranger got in");
        serve_timer(client);
        serve_timer(server);
    }
    if (prism_dtls_state(server) == PRISM_DTLS_CONNECTED &&
        prism_dtls_state(client) == PRISM_DTLS_CONNECTED) {
        struct prism_dtls_keys ks, kc;
        must(prism_dtls_keys(server, &ks) == 0 && prism_dtls_keys(client, &kc) == 0, "keys");
        must(ks.profile == kc.profile && ks.key_salt_len == kc.key_salt_len &&
                 memcmp(ks.local, kc.remote, ks.key_salt_len) == 0 &&
                 memcmp(ks.remote, kc.local, ks.key_salt_len) == 0,
             "the two sides' SRTP keys differ");
        prism_dtls_keys_wipe(&ks);
        prism_dtls_keys_wipe(&kc);
    }
    prism_dtls_close(client);
    prism_dtls_close(server);
    to_server.n = to_client.n = 0;
    prism_dtls_free(client);
    prism_dtls_free(server);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    struct in in = {data, size};
    to_server.n = to_client.n = 0;
    if ((byte(&in) & 1) == 0)
        raw_datagrams(&in);
    else
        handshake(&in);
    return 0;
}
