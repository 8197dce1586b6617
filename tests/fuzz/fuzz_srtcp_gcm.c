/*
 * Differential libFuzzer target for peer/srtcp_gcm.c: SRTCP packets under
 * GCM, protected by libsrtp or by the OpenSSL path, maybe damaged or
 * replayed, are delivered to two receivers with the same keys, one on the
 * OpenSSL path (weir_srtp default) and one on libsrtp (libsrtp_rx). Both
 * must accept or refuse each packet alike and, on acceptance, give the same
 * bytes (abort() otherwise): the replay windows, the header and trailer
 * parsing and the tag check all have to agree with libsrtp's.
 *
 * Input: records. Byte 0 is the op:
 *   bit 7 set: replay stored packet (byte 1 % stored), bits 0..5: damage
 *              (see below);
 *   else: a new packet from SSRC (op & 7), sent by the OpenSSL sender if
 *         bit 3 is set (else libsrtp's), payload of (byte 1 % 64) words
 *         taken from the input.
 * Damage (bit 6 of a new packet's op, bit 5 of a replay's): the next two
 * bytes give a position (mod length) whose byte is XORed with the third;
 * or, if that byte is 0, the packet is cut to the position.
 * Sessions are created and destroyed per input, so LeakSanitizer sees each
 * input balance.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/srtp.h"
#include "support/gcm_keys.h"
#include "weir/log.h"

#define MAX_RECORDS 512
#define STORED 64
#define CAP 1600

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static weir_srtp_keys keys, far_keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    if (weir_srtp_global_init() != 0)
        abort();
    test_gcm_keys(&keys, &far_keys);
    return 0;
}

typedef struct reader {
    const uint8_t *data;
    size_t size, off;
} reader;

static uint8_t next(reader *r)
{
    return r->off < r->size ? r->data[r->off++] : 0;
}

static void damage(reader *r, uint8_t *pkt, size_t *len)
{
    size_t pos = (size_t)(next(r) << 8 | next(r));
    uint8_t x = next(r);
    if (*len == 0)
        return;
    pos %= *len;
    if (x)
        pkt[pos] ^= x;
    else
        *len = pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t stored[STORED][CAP];
    static size_t stored_len[STORED];
    const weir_srtp_options lib_opts = {
        .allow_repeat_tx = true, .libsrtp_tx = true, .libsrtp_rx = true};
    weir_srtp *send_lib = weir_srtp_create(&keys, &lib_opts);
    weir_srtp *send_fast = weir_srtp_create(&keys, NULL);
    weir_srtp *recv_fast = weir_srtp_create(&far_keys, NULL);
    weir_srtp *recv_lib = weir_srtp_create(&far_keys, &lib_opts);
    CHECK(send_lib && send_fast && recv_fast && recv_lib);
    size_t n_stored = 0;
    reader r = {data, size, 0};
    for (int k = 0; k < MAX_RECORDS && r.off < r.size; k++) {
        uint8_t op = next(&r);
        uint8_t pkt[CAP];
        size_t len;
        bool hurt;
        if (op & 0x80) {
            if (n_stored == 0)
                continue;
            size_t i = next(&r) % (n_stored < STORED ? n_stored : STORED);
            len = stored_len[i];
            memcpy(pkt, stored[i], len);
            hurt = op & 0x20;
        } else {
            size_t words = next(&r) % 64;
            memset(pkt, 0, 8);
            pkt[0] = 0x80;
            pkt[1] = 201;
            pkt[3] = (uint8_t)(1 + words);
            pkt[7] = op & 7;
            len = 8 + 4 * words;
            for (size_t i = 8; i < len; i++)
                pkt[i] = next(&r);
            weir_srtp *tx = (op & 0x08) ? send_fast : send_lib;
            CHECK(weir_srtp_protect_rtcp(tx, pkt, &len, CAP) == 0);
            memcpy(stored[n_stored % STORED], pkt, len);
            stored_len[n_stored % STORED] = len;
            n_stored++;
            hurt = op & 0x40;
        }
        if (hurt)
            damage(&r, pkt, &len);
        uint8_t a[CAP], b[CAP];
        memcpy(a, pkt, len);
        memcpy(b, pkt, len);
        size_t la = len, lb = len;
        int ra = weir_srtp_unprotect_rtcp(recv_fast, a, &la);
        int rb = weir_srtp_unprotect_rtcp(recv_lib, b, &lb);
        CHECK((ra == 0) == (rb == 0));
        if (ra == 0)
            CHECK(la == lb && memcmp(a, b, la) == 0);
        else
            CHECK(la == len);
    }
    weir_srtp_destroy(send_lib);
    weir_srtp_destroy(send_fast);
    weir_srtp_destroy(recv_fast);
    weir_srtp_destroy(recv_lib);
    return 0;
}
