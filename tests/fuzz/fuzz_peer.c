/*
 * libFuzzer target for peer/peer.c and peer/peer_rtp.c: arbitrary datagrams
 * into a server-role weir_peer (the publisher's connection as the SFU sees it).
 *
 * Input: one mode byte, then datagrams, each prefixed by a 2-byte big-endian
 * length (bit 15 set: first advance the clock by 1 s and call
 * handle_timeout). Mode (byte % 3):
 *   0  fresh peer: no handshake, the datagrams are its first input;
 *   1  established: a browser (client weir_dtls + weir_srtp) completes a
 *      handshake, then the datagrams go in raw. Without the keys nothing
 *      authenticates, so afterwards the peer must still be connected and
 *      deliver the browser's next audio packet: abort if not;
 *   2  established, and the harness protects each datagram with the
 *      browser's SRTP (SRTCP when RFC 5761 says RTCP) before feeding it, so
 *      the fuzzer reaches RTP routing, mid/rid learning, RTX unwrap and RTCP
 *      parsing with authentic packets.
 * Everything is created and destroyed per input, so LeakSanitizer sees each
 * input's allocations balance.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/cert.h"
#include "peer/dtls.h"
#include "peer/peer.h"
#include "peer/srtp.h"
#include "proto/rtcp.h"
#include "proto/rtp.h"
#include "weir/log.h"

#define MAX_FUZZ_INPUT 65536
#define AUDIO_SSRC 5555u

static weir_cert *browser_cert, *sfu_cert;
static weir_dtls_ctx *browser_ctx, *sfu_ctx;
static char sfu_fp[WEIR_CERT_FINGERPRINT_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    if (weir_srtp_global_init() != 0)
        abort();
    char err[256];
    browser_cert = weir_cert_generate(1700000000000, err, sizeof err);
    sfu_cert = weir_cert_generate(1700000000000, err, sizeof err);
    if (!browser_cert || !sfu_cert)
        abort();
    browser_ctx = weir_dtls_ctx_create(browser_cert);
    sfu_ctx = weir_dtls_ctx_create(sfu_cert);
    if (!browser_ctx || !sfu_ctx)
        abort();
    memcpy(sfu_fp, weir_cert_fingerprint(sfu_cert), sizeof sfu_fp);
    sfu_fp[7] = '\0'; /* "sha-256" and the hex after it */
    return 0;
}

/* Audio with a=ssrc, simulcast video q/h/f without, video by mid; Chromium's extension ids. */
static weir_peer *make_peer(void)
{
    weir_peer_media m[3];
    memset(m, 0, sizeof m);
    strcpy(m[0].mid, "0");
    m[0].kind = WEIR_PEER_KIND_AUDIO;
    m[0].clock_rate_hz = 48000;
    m[0].pt = 111;
    m[0].rtx_pt = -1;
    m[0].red_pt = 63;
    m[0].ssrcs[0].media = AUDIO_SSRC;
    m[0].n_ssrcs = 1;
    strcpy(m[1].mid, "1");
    m[1].kind = WEIR_PEER_KIND_VIDEO;
    m[1].clock_rate_hz = 90000;
    m[1].pt = 96;
    m[1].rtx_pt = 97;
    m[1].red_pt = -1;
    strcpy(m[1].rids[0], "q");
    strcpy(m[1].rids[1], "h");
    strcpy(m[1].rids[2], "f");
    m[1].n_rids = 3;
    strcpy(m[2].mid, "2");
    m[2].kind = WEIR_PEER_KIND_VIDEO;
    m[2].clock_rate_hz = 90000;
    m[2].pt = 98;
    m[2].rtx_pt = 99;
    m[2].red_pt = -1;
    weir_peer_config cfg = {
        .dtls_ctx = sfu_ctx,
        .role = WEIR_DTLS_ROLE_SERVER,
        .remote_fingerprint = weir_cert_fingerprint(browser_cert),
        .ext = {.mid = 4,
                .rid = 10,
                .repaired_rid = 11,
                .abs_send_time = 2,
                .twcc = 3,
                .audio_level = 1},
        .media = m,
        .n_media = 3,
        .log_id = "fuzz",
    };
    weir_peer *p = weir_peer_create(&cfg);
    if (!p)
        abort();
    return p;
}

static void drain_peer(weir_peer *p, weir_dtls *browser, int64_t now_us)
{
    weir_transmit t;
    weir_peer_event ev;
    weir_peer_packet pkt;
    while (weir_peer_poll_transmit(p, &t) == 1)
        if (browser)
            weir_dtls_handle_datagram(browser, now_us, t.data, t.len);
    while (weir_peer_poll_event(p, &ev) == 1)
        ;
    while (weir_peer_poll_packet(p, &pkt) == 1)
        if (pkt.len > WEIR_PEER_PACKET_MAX || pkt.rtp.payload_off + pkt.rtp.payload_len > pkt.len)
            abort();
}

/* Runs a handshake with a fresh browser; returns its SRTP session, or aborts. */
static weir_srtp *establish(weir_peer *p, weir_dtls **browser)
{
    weir_dtls_config bc = {.role = WEIR_DTLS_ROLE_CLIENT,
                           .fingerprint_algorithm = sfu_fp,
                           .fingerprint_hex = sfu_fp + 8};
    weir_dtls *b = weir_dtls_create(browser_ctx, &bc);
    if (!b)
        abort();
    weir_dtls_start(b, 0);
    weir_srtp *srtp = NULL;
    for (int i = 0; i < 8 && !srtp; i++) {
        const uint8_t *d;
        size_t n;
        uint8_t buf[WEIR_DTLS_MAX_DATAGRAM];
        while (weir_dtls_poll_transmit(b, &d, &n) == 1) {
            memcpy(buf, d, n);
            weir_peer_handle_datagram(p, 0, buf, n);
        }
        drain_peer(p, b, 0);
        weir_dtls_event ev;
        while (weir_dtls_poll_event(b, &ev) == 1)
            if (ev.type == WEIR_DTLS_EVENT_CONNECTED)
                srtp = weir_srtp_create(&ev.keys, NULL);
    }
    if (!srtp || !weir_peer_is_connected(p))
        abort();
    *browser = b;
    return srtp;
}

/* Copies the datagram and, in mode 2, protects it as the browser would. */
static size_t prepare(uint8_t *buf, size_t cap, const uint8_t *in, size_t len, weir_srtp *srtp)
{
    if (len > cap - WEIR_SRTP_MAX_RTCP_OVERHEAD)
        len = cap - WEIR_SRTP_MAX_RTCP_OVERHEAD;
    memcpy(buf, in, len);
    if (!srtp || len < 2 || buf[0] < 128 || buf[0] > 191)
        return len;
    size_t n = len;
    int rc = weir_rtcp_is_rtcp(buf, len) ? weir_srtp_protect_rtcp(srtp, buf, &n, cap)
                                         : weir_srtp_protect_rtp(srtp, buf, &n, cap);
    if (rc != 0) {
        memcpy(buf, in, len); /* libsrtp may have touched it */
        return len;
    }
    return n;
}

static void check_still_working(weir_peer *p, weir_srtp *srtp, int64_t now_us)
{
    static const uint8_t payload[] = "still here";
    uint8_t buf[256];
    weir_rtp_fields f = {.ssrc = AUDIO_SSRC, .seq = 4242, .payload_type = 111};
    int n = weir_rtp_write(buf, sizeof buf, &f, payload, sizeof payload, 0);
    size_t len = (size_t)n;
    if (n < 0 || weir_srtp_protect_rtp(srtp, buf, &len, sizeof buf) != 0)
        abort();
    if (!weir_peer_is_connected(p) || weir_peer_handle_datagram(p, now_us, buf, len) != 0)
        abort();
    weir_peer_packet pkt;
    if (weir_peer_poll_packet(p, &pkt) != 1 || pkt.rtp.seq != 4242 ||
        pkt.rtp.payload_len != sizeof payload ||
        memcmp(weir_rtp_payload(&pkt.rtp, pkt.data), payload, sizeof payload) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_FUZZ_INPUT)
        return 0;
    int mode = data[0] % 3;
    int64_t now_us = 1000000;
    weir_peer *p = make_peer();
    weir_dtls *browser = NULL;
    weir_srtp *srtp = mode == 0 ? NULL : establish(p, &browser);
    size_t off = 1;
    while (off + 2 <= size) {
        unsigned prefix = (unsigned)data[off] << 8 | data[off + 1];
        size_t len = prefix & 0x7fff;
        off += 2;
        if (len > size - off)
            len = size - off;
        if (prefix & 0x8000) {
            now_us += 1000000;
            weir_peer_handle_timeout(p, now_us);
        }
        static uint8_t buf[WEIR_DTLS_MAX_DATAGRAM + WEIR_SRTP_MAX_RTCP_OVERHEAD];
        size_t n = prepare(buf, sizeof buf, data + off, len, mode == 2 ? srtp : NULL);
        weir_peer_handle_datagram(p, now_us, buf, n);
        drain_peer(p, NULL, now_us);
        off += len;
    }
    if (mode == 1)
        check_still_working(p, srtp, now_us);
    weir_peer_close(p, now_us);
    drain_peer(p, NULL, now_us);
    weir_peer_destroy(p);
    weir_srtp_destroy(srtp);
    weir_dtls_destroy(browser);
    return 0;
}
