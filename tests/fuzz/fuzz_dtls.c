/*
 * libFuzzer target for peer/dtls.c: arbitrary datagrams into a server-role
 * weir_dtls at three points of its life.
 *
 * Input: one mode byte, then datagrams, each prefixed by a 2-byte big-endian
 * length (bit 15 set: first advance the clock by 1 s and call
 * handle_timeout). Mode (byte % 3):
 *   0  fresh server: the datagrams are its first input;
 *   1  mid-handshake: the server first gets a real ClientHello (captured
 *      once at start-up) and has answered it;
 *   2  established: a real client and server complete a handshake, then the
 *      datagrams go to the server. Nobody without the keys can forge an
 *      epoch-1 record and stale epochs are dropped, so the server must stay
 *      CONNECTED and still deliver the client's next record: abort if not.
 * Everything is created and destroyed per input, so LeakSanitizer sees each
 * input's allocations balance.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/cert.h"
#include "peer/dtls.h"
#include "weir/log.h"

#define MAX_FUZZ_INPUT 65536

static weir_cert *client_cert, *server_cert;
static weir_dtls_ctx *client_ctx, *server_ctx;
static char client_fp[WEIR_CERT_FINGERPRINT_LEN], server_fp[WEIR_CERT_FINGERPRINT_LEN];
static uint8_t client_hello[2048];
static size_t client_hello_len;

static weir_dtls *open_side(weir_dtls_role role)
{
    /* "sha-256 AB:..." split in place into algorithm and hex. */
    char *fp = role == WEIR_DTLS_ROLE_CLIENT ? server_fp : client_fp;
    weir_dtls_config cfg = {.role = role, .fingerprint_algorithm = fp, .fingerprint_hex = fp + 8};
    weir_dtls *d = weir_dtls_create(role == WEIR_DTLS_ROLE_CLIENT ? client_ctx : server_ctx, &cfg);
    if (!d)
        abort();
    return d;
}

static void drain(weir_dtls *from, weir_dtls *to, int64_t now_us)
{
    const uint8_t *data;
    size_t len;
    weir_dtls_event ev;
    while (weir_dtls_poll_transmit(from, &data, &len) == 1)
        if (to)
            weir_dtls_handle_datagram(to, now_us, data, len);
    while (weir_dtls_poll_event(from, &ev) == 1)
        ;
    while (weir_dtls_poll_data(from, &data, &len) == 1)
        ;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    char err[256];
    client_cert = weir_cert_generate(1700000000000, err, sizeof err);
    server_cert = weir_cert_generate(1700000000000, err, sizeof err);
    if (!client_cert || !server_cert)
        abort();
    client_ctx = weir_dtls_ctx_create(client_cert);
    server_ctx = weir_dtls_ctx_create(server_cert);
    if (!client_ctx || !server_ctx)
        abort();
    memcpy(client_fp, weir_cert_fingerprint(client_cert), sizeof client_fp);
    memcpy(server_fp, weir_cert_fingerprint(server_cert), sizeof server_fp);
    client_fp[7] = server_fp[7] = '\0';

    weir_dtls *c = open_side(WEIR_DTLS_ROLE_CLIENT);
    weir_dtls_start(c, 0);
    const uint8_t *data;
    if (weir_dtls_poll_transmit(c, &data, &client_hello_len) != 1 ||
        client_hello_len > sizeof client_hello)
        abort();
    memcpy(client_hello, data, client_hello_len);
    weir_dtls_destroy(c);
    return 0;
}

/* Runs a full handshake; returns the client with the server connected, or aborts. */
static weir_dtls *establish(weir_dtls *s)
{
    weir_dtls *c = open_side(WEIR_DTLS_ROLE_CLIENT);
    weir_dtls_start(c, 0);
    for (int i = 0; i < 8; i++) {
        drain(c, s, 0);
        drain(s, c, 0);
    }
    if (weir_dtls_get_state(s) != WEIR_DTLS_STATE_CONNECTED ||
        weir_dtls_get_state(c) != WEIR_DTLS_STATE_CONNECTED)
        abort();
    return c;
}

static void check_still_connected(weir_dtls *s, weir_dtls *c, int64_t now_us)
{
    static const uint8_t msg[] = "still here";
    if (weir_dtls_get_state(s) != WEIR_DTLS_STATE_CONNECTED)
        abort();
    drain(s, NULL, now_us); /* whatever the noise made the server say */
    if (weir_dtls_write(c, now_us, msg, sizeof msg) != 0)
        abort();
    drain(c, s, now_us);
    const uint8_t *data;
    size_t len;
    if (weir_dtls_poll_data(s, &data, &len) != 1 || len != sizeof msg ||
        memcmp(data, msg, len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_FUZZ_INPUT)
        return 0;
    int mode = data[0] % 3;
    int64_t now_us = 1000000;
    weir_dtls *s = open_side(WEIR_DTLS_ROLE_SERVER), *c = NULL;
    if (mode == 1) {
        weir_dtls_handle_datagram(s, now_us, client_hello, client_hello_len);
        drain(s, NULL, now_us);
    } else if (mode == 2) {
        c = establish(s);
    }
    size_t off = 1;
    while (off + 2 <= size) {
        unsigned prefix = (unsigned)data[off] << 8 | data[off + 1];
        size_t len = prefix & 0x7fff;
        off += 2;
        if (len > size - off)
            len = size - off;
        if (prefix & 0x8000) {
            now_us += 1000000;
            weir_dtls_handle_timeout(s, now_us);
        }
        weir_dtls_handle_datagram(s, now_us, data + off, len);
        drain(s, NULL, now_us);
        off += len;
    }
    if (c)
        check_still_connected(s, c, now_us);
    weir_dtls_close(s, now_us);
    drain(s, NULL, now_us);
    weir_dtls_destroy(s);
    weir_dtls_destroy(c);
    return 0;
}
