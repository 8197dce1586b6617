/*
 * Ingress peer tests: the test plays the browser (a client-role weir_dtls
 * and, once keyed, a weir_srtp session) and shuttles datagrams to and from
 * a server-role weir_peer in memory on a fake clock. No sockets.
 *
 * As in test_dtls.c, this binary interposes gettimeofday() so that
 * OpenSSL's DTLS retransmission timer follows the fake clock.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "peer/cert.h"
#include "peer/dtls.h"
#include "peer/peer.h"
#include "peer/srtp.h"
#include "proto/rtcp.h"
#include "proto/rtcp_fb.h"
#include "proto/rtp.h"
#include "proto/twcc.h"
#include "weir/log.h"

/* ---- fake clock -------------------------------------------------------- */

#include "support/fake_wall_clock.h"

/* ---- fixture: a browser and the SFU's peer ------------------------------ */

enum { EXT_AUDIO_LEVEL = 1, EXT_ABS = 2, EXT_TWCC = 3, EXT_MID = 4, EXT_RID = 10, EXT_RRID = 11 };
enum { PT_OPUS = 111, PT_RED = 63, PT_VP8 = 96, PT_VP8_RTX = 97, PT_VP9 = 98, PT_VP9_RTX = 99 };
#define AUDIO_SSRC 5555u
#define MAX_EVENTS 128

typedef struct fixture {
    weir_cert *browser_cert, *sfu_cert;
    weir_dtls_ctx *browser_ctx, *sfu_ctx;
    weir_dtls *browser;
    weir_srtp *browser_srtp; /* keyed on the browser's CONNECTED */
    weir_peer *peer;
    weir_peer_event ev[MAX_EVENTS];
    int n_ev;
    int drop_from_browser; /* drop this many of the browser's next datagrams */
    int dropped;
} fixture;

static fixture F;

static weir_cert *make_cert(void)
{
    char err[256];
    weir_cert *c = weir_cert_generate(WALL_BASE_S * 1000, err, sizeof err);
    cr_assert_not_null(c, "generate: %s", err);
    return c;
}

/* mid 0: audio with a=ssrc; mid 1: simulcast video q/h/f without a=ssrc; mid 2: video by mid. */
static void default_media(weir_peer_media m[3])
{
    memset(m, 0, 3 * sizeof *m);
    strcpy(m[0].mid, "0");
    m[0].kind = WEIR_PEER_KIND_AUDIO;
    m[0].clock_rate_hz = 48000;
    m[0].pt = PT_OPUS;
    m[0].rtx_pt = -1;
    m[0].red_pt = PT_RED;
    m[0].ssrcs[0].media = AUDIO_SSRC;
    m[0].n_ssrcs = 1;

    strcpy(m[1].mid, "1");
    m[1].kind = WEIR_PEER_KIND_VIDEO;
    m[1].clock_rate_hz = 90000;
    m[1].pt = PT_VP8;
    m[1].rtx_pt = PT_VP8_RTX;
    m[1].red_pt = -1;
    strcpy(m[1].rids[0], "q");
    strcpy(m[1].rids[1], "h");
    strcpy(m[1].rids[2], "f");
    m[1].n_rids = 3;

    strcpy(m[2].mid, "2");
    m[2].kind = WEIR_PEER_KIND_VIDEO;
    m[2].clock_rate_hz = 90000;
    m[2].pt = PT_VP9;
    m[2].rtx_pt = PT_VP9_RTX;
    m[2].red_pt = -1;
}

static weir_peer *make_peer(void)
{
    weir_peer_media media[3];
    default_media(media);
    weir_peer_config cfg = {
        .dtls_ctx = F.sfu_ctx,
        .role = WEIR_DTLS_ROLE_SERVER,
        .remote_fingerprint = weir_cert_fingerprint(F.browser_cert),
        .ext = {.mid = EXT_MID,
                .rid = EXT_RID,
                .repaired_rid = EXT_RRID,
                .abs_send_time = EXT_ABS,
                .twcc = EXT_TWCC,
                .audio_level = EXT_AUDIO_LEVEL},
        .media = media,
        .n_media = 3,
        .log_id = "test",
    };
    weir_peer *p = weir_peer_create(&cfg);
    cr_assert_not_null(p);
    return p;
}

static void setup(void)
{
    weir_log_set_level(WEIR_LOG_WARN);
    fake_now_us = 1000000;
    fake_wall = true;
    cr_assert_eq(weir_srtp_global_init(), 0);
    memset(&F, 0, sizeof F);
    F.browser_cert = make_cert();
    F.sfu_cert = make_cert();
    F.browser_ctx = weir_dtls_ctx_create(F.browser_cert);
    F.sfu_ctx = weir_dtls_ctx_create(F.sfu_cert);
    cr_assert(F.browser_ctx && F.sfu_ctx);

    char alg[16], hex[128];
    sscanf(weir_cert_fingerprint(F.sfu_cert), "%15s %127s", alg, hex);
    weir_dtls_config bc = {.role = WEIR_DTLS_ROLE_CLIENT,
                           .fingerprint_algorithm = alg,
                           .fingerprint_hex = hex,
                           .log_id = "browser"};
    F.browser = weir_dtls_create(F.browser_ctx, &bc);
    cr_assert_not_null(F.browser);
    F.peer = make_peer();
}

static void teardown(void)
{
    weir_peer_destroy(F.peer);
    weir_srtp_destroy(F.browser_srtp);
    weir_dtls_destroy(F.browser);
    weir_dtls_ctx_destroy(F.browser_ctx);
    weir_dtls_ctx_destroy(F.sfu_ctx);
    weir_cert_destroy(F.browser_cert);
    weir_cert_destroy(F.sfu_cert);
    fake_wall = false;
}

TestSuite(peer, .init = setup, .fini = teardown);

static void collect(void)
{
    weir_peer_event ev;
    while (weir_peer_poll_event(F.peer, &ev) == 1) {
        cr_assert_lt(F.n_ev, MAX_EVENTS);
        F.ev[F.n_ev++] = ev;
    }
    weir_dtls_event de;
    while (weir_dtls_poll_event(F.browser, &de) == 1) {
        if (de.type == WEIR_DTLS_EVENT_CONNECTED) {
            F.browser_srtp = weir_srtp_create(&de.keys, NULL);
            cr_assert_not_null(F.browser_srtp);
        }
    }
}

/* Moves datagrams both ways until neither side has anything to send. */
static void shuttle(void)
{
    for (bool moved = true; moved;) {
        moved = false;
        weir_transmit t;
        while (weir_peer_poll_transmit(F.peer, &t) == 1) {
            moved = true;
            weir_dtls_handle_datagram(F.browser, fake_now_us, t.data, t.len);
        }
        const uint8_t *d;
        size_t n;
        while (weir_dtls_poll_transmit(F.browser, &d, &n) == 1) {
            moved = true;
            if (F.drop_from_browser > 0) {
                F.drop_from_browser--;
                F.dropped++;
                continue;
            }
            uint8_t buf[WEIR_DTLS_MAX_DATAGRAM];
            memcpy(buf, d, n);
            cr_assert_eq(weir_peer_handle_datagram(F.peer, fake_now_us, buf, n), 0);
        }
        collect();
    }
}

static const weir_peer_event *find_event(weir_peer_event_type type, int nth)
{
    for (int i = 0; i < F.n_ev; i++)
        if (F.ev[i].type == type && nth-- == 0)
            return &F.ev[i];
    return NULL;
}

static int count_events(weir_peer_event_type type)
{
    int n = 0;
    for (int i = 0; i < F.n_ev; i++)
        n += F.ev[i].type == type;
    return n;
}

/* Handshake, advancing the fake clock to the earliest deadline whenever both sides are idle. */
static void connect_peer(void)
{
    cr_assert_eq(weir_peer_start(F.peer, fake_now_us), 0);
    cr_assert_eq(weir_dtls_start(F.browser, fake_now_us), 0);
    for (int i = 0; i < 20; i++) {
        shuttle();
        if (weir_peer_is_connected(F.peer) && F.browser_srtp)
            return;
        int64_t a = weir_peer_next_timeout(F.peer), b = weir_dtls_next_timeout(F.browser);
        int64_t next = a < b ? a : b;
        cr_assert_neq(next, WEIR_PEER_NO_TIMEOUT, "stuck without a timer");
        fake_now_us = next > fake_now_us ? next : fake_now_us;
        weir_peer_handle_timeout(F.peer, fake_now_us);
        weir_dtls_handle_timeout(F.browser, fake_now_us);
    }
    cr_assert_fail("handshake did not complete");
}

/* ---- building packets as the browser ------------------------------------ */

typedef struct spec {
    uint32_t ssrc;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    const char *mid, *rid, *rrid;
    bool has_twcc;
    uint16_t twcc_seq;
    bool has_level;
    uint8_t audio_level;
} spec;

#define SPEC(...) ((spec){__VA_ARGS__})

static void fill_payload(uint8_t *out, size_t len, uint32_t ssrc, uint16_t seq)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(ssrc * 7u + seq * 13u + i);
}

static size_t build_plain(uint8_t *out, size_t cap, const spec *s, size_t payload_len)
{
    weir_rtp_ext ext[5];
    size_t n = 0;
    uint8_t twcc[2], level[1];
    if (s->mid)
        ext[n++] = (weir_rtp_ext){
            .id = EXT_MID, .len = (uint8_t)strlen(s->mid), .data = (const uint8_t *)s->mid};
    if (s->rid)
        ext[n++] = (weir_rtp_ext){
            .id = EXT_RID, .len = (uint8_t)strlen(s->rid), .data = (const uint8_t *)s->rid};
    if (s->rrid)
        ext[n++] = (weir_rtp_ext){
            .id = EXT_RRID, .len = (uint8_t)strlen(s->rrid), .data = (const uint8_t *)s->rrid};
    if (s->has_twcc) {
        weir_rtp_twcc_seq_write(twcc, s->twcc_seq);
        ext[n++] = (weir_rtp_ext){.id = EXT_TWCC, .len = 2, .data = twcc};
    }
    if (s->has_level) {
        weir_rtp_audio_level_write(level, true, s->audio_level);
        ext[n++] = (weir_rtp_ext){.id = EXT_AUDIO_LEVEL, .len = 1, .data = level};
    }
    uint8_t payload[1200];
    cr_assert_leq(payload_len, sizeof payload);
    fill_payload(payload, payload_len, s->ssrc, s->seq);
    weir_rtp_fields f = {.ssrc = s->ssrc,
                         .timestamp = s->ts,
                         .seq = s->seq,
                         .payload_type = s->pt,
                         .exts = ext,
                         .ext_count = n};
    int len = weir_rtp_write(out, cap, &f, payload, payload_len, 0);
    cr_assert_gt(len, 0);
    return (size_t)len;
}

/* Protects in place as the browser would. */
static size_t protect(uint8_t *buf, size_t len, size_t cap)
{
    cr_assert_not_null(F.browser_srtp);
    cr_assert_eq(weir_srtp_protect_rtp(F.browser_srtp, buf, &len, cap), 0);
    return len;
}

static size_t protect_rtcp(uint8_t *buf, size_t len, size_t cap)
{
    cr_assert_eq(weir_srtp_protect_rtcp(F.browser_srtp, buf, &len, cap), 0);
    return len;
}

static int feed(uint8_t *buf, size_t len)
{
    int rc = weir_peer_handle_datagram(F.peer, fake_now_us, buf, len);
    collect();
    return rc;
}

/* Builds, protects and feeds one packet; returns handle_datagram's result. */
static int send_rtp(spec s, size_t payload_len)
{
    uint8_t buf[1500];
    size_t len = build_plain(buf, sizeof buf, &s, payload_len);
    return feed(buf, protect(buf, len, sizeof buf));
}

static void expect_packet(uint32_t ssrc, uint16_t seq, uint8_t pt, size_t payload_len,
                          uint8_t media_index, uint8_t layer)
{
    weir_peer_packet pkt;
    cr_assert_eq(weir_peer_poll_packet(F.peer, &pkt), 1, "expected ssrc %u seq %u", ssrc, seq);
    cr_expect_eq(pkt.rtp.ssrc, ssrc);
    cr_expect_eq(pkt.rtp.seq, seq);
    cr_expect_eq(pkt.rtp.payload_type, pt);
    cr_expect_eq(pkt.media_index, media_index);
    cr_expect_eq(pkt.layer, layer);
    cr_expect_eq(pkt.arrival_us, fake_now_us);
    cr_assert_eq(pkt.rtp.payload_len, payload_len);
    uint8_t want[1200];
    fill_payload(want, payload_len, ssrc, seq);
    cr_expect_arr_eq(weir_rtp_payload(&pkt.rtp, pkt.data), want, payload_len);
    weir_rtp again;
    cr_assert_eq(weir_rtp_parse(&again, pkt.data, pkt.len), 0, "data holds a whole RTP packet");
    cr_expect_eq(again.seq, seq);
}

static uint64_t drops(weir_peer_drop why)
{
    weir_peer_stats st;
    weir_peer_get_stats(F.peer, &st);
    return st.drops[why];
}

static weir_peer_stream_info stream_of(uint32_t ssrc)
{
    weir_peer_stream_info info;
    cr_assert_eq(weir_peer_find_stream(F.peer, ssrc, &info), 0, "stream %u", ssrc);
    return info;
}

/* ---- handshake ----------------------------------------------------------- */

Test(peer, handshake_connects_and_reports_the_srtp_profile)
{
    connect_peer();
    const weir_peer_event *ev = find_event(WEIR_PEER_EVENT_CONNECTED, 0);
    cr_assert_not_null(ev);
    cr_expect_str_eq(ev->detail, "SRTP_AEAD_AES_128_GCM");
    cr_expect_eq(count_events(WEIR_PEER_EVENT_FAILED), 0);
    cr_expect_eq(weir_peer_next_timeout(F.peer), WEIR_PEER_NO_TIMEOUT);
    cr_expect_eq(weir_peer_start(F.peer, fake_now_us), -WEIR_EPERM, "start once");
}

Test(peer, lost_first_client_flight_is_recovered_after_handle_timeout)
{
    F.drop_from_browser = 1;
    int64_t t0 = fake_now_us;
    connect_peer();
    cr_expect_eq(F.dropped, 1);
    cr_expect_gt(fake_now_us, t0, "the fake clock had to reach the browser's retransmission");
    cr_expect_not_null(find_event(WEIR_PEER_EVENT_CONNECTED, 0));
}

Test(peer, wrong_fingerprint_fails_and_then_drops_srtp_as_closed)
{
    weir_peer_destroy(F.peer);
    weir_peer_media media[3];
    default_media(media);
    weir_peer_config cfg = {.dtls_ctx = F.sfu_ctx,
                            .role = WEIR_DTLS_ROLE_SERVER,
                            .remote_fingerprint = weir_cert_fingerprint(F.sfu_cert),
                            .media = media,
                            .n_media = 3};
    F.peer = weir_peer_create(&cfg);
    cr_assert_not_null(F.peer);
    weir_peer_start(F.peer, fake_now_us);
    weir_dtls_start(F.browser, fake_now_us);
    shuttle();
    const weir_peer_event *ev = find_event(WEIR_PEER_EVENT_FAILED, 0);
    cr_assert_not_null(ev);
    cr_expect(strstr(ev->detail, "fingerprint") != NULL, "detail: %s", ev->detail);
    cr_expect_not(weir_peer_is_connected(F.peer));
    uint8_t rtp[32] = {0x80, 96};
    cr_expect_eq(weir_peer_handle_datagram(F.peer, fake_now_us, rtp, sizeof rtp), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_CLOSED), 1);
}

Test(peer, create_rejects_bad_configs)
{
    weir_peer_media media[3];
    default_media(media);
    weir_peer_config ok = {.dtls_ctx = F.sfu_ctx, .media = media, .n_media = 3};
    weir_peer *p = weir_peer_create(&ok);
    cr_assert_not_null(p, "no fingerprint yet is fine");
    cr_expect_eq(weir_peer_set_remote_fingerprint(p, "garbage"), -WEIR_EINVAL);
    cr_expect_eq(weir_peer_set_remote_fingerprint(p, weir_cert_fingerprint(F.browser_cert)), 0);
    weir_peer_destroy(p);

    weir_peer_config c = ok;
    c.dtls_ctx = NULL;
    cr_expect_null(weir_peer_create(&c));
    c = ok;
    c.remote_fingerprint = "sha-256";
    cr_expect_null(weir_peer_create(&c));
    c = ok;
    c.n_media = WEIR_PEER_MAX_MEDIA + 1;
    cr_expect_null(weir_peer_create(&c));
    media[1].n_rids = WEIR_PEER_MAX_RIDS + 1;
    cr_expect_null(weir_peer_create(&ok));
    default_media(media);
    memset(media[2].mid, 'x', sizeof media[2].mid); /* not NUL-terminated */
    cr_expect_null(weir_peer_create(&ok));
    default_media(media);
    media[0].mid[0] = '\0';
    cr_expect_null(weir_peer_create(&ok));
}

/* ---- (a) Chromium simulcast: rids, no a=ssrc ------------------------------ */

static const uint32_t SIM_SSRC[3] = {0x1111, 0x2222, 0x3333};
static const char *const SIM_RID[3] = {"q", "h", "f"};

Test(peer, simulcast_streams_are_learned_from_mid_and_rid_and_packets_arrive_in_order)
{
    connect_peer();
    /* Three rounds; the last without mid/rid, as Chromium stops sending them once acked. */
    for (uint16_t round = 0; round < 3; round++)
        for (int l = 0; l < 3; l++) {
            spec s =
                SPEC(.ssrc = SIM_SSRC[l], .pt = PT_VP8, .seq = (uint16_t)(100 + round),
                     .ts = 9000u * round, .has_twcc = true, .twcc_seq = (uint16_t)(round * 3 + l));
            if (round < 2) {
                s.mid = "1";
                s.rid = SIM_RID[l];
            }
            cr_assert_eq(send_rtp(s, 300 + 100 * (size_t)l), 0);
        }
    cr_assert_eq(count_events(WEIR_PEER_EVENT_STREAM_LEARNED), 3);
    for (int l = 0; l < 3; l++) {
        const weir_peer_event *ev = find_event(WEIR_PEER_EVENT_STREAM_LEARNED, l);
        cr_expect_eq(ev->ssrc, SIM_SSRC[l]);
        cr_expect_eq(ev->media_index, 1);
        cr_expect_eq(ev->layer, l);
        cr_expect_not(ev->is_rtx);
        cr_expect_str_eq(ev->mid, "1");
        cr_expect_str_eq(ev->rid, SIM_RID[l]);
        weir_peer_stream_info info = stream_of(SIM_SSRC[l]);
        cr_expect_eq(info.layer, l);
        cr_expect_not(info.announced);
        cr_expect_eq(info.clock_rate_hz, 90000);
        cr_expect_eq(info.payload_type, PT_VP8);
        cr_expect_eq(info.packets, 3);
        cr_expect_eq(info.highest_seq, 102);
        cr_expect_eq(info.lost, 0);
    }
    for (uint16_t round = 0; round < 3; round++)
        for (int l = 0; l < 3; l++) {
            expect_packet(SIM_SSRC[l], (uint16_t)(100 + round), PT_VP8, 300 + 100 * (size_t)l, 1,
                          (uint8_t)l);
        }
    weir_peer_packet pkt;
    cr_expect_eq(weir_peer_poll_packet(F.peer, &pkt), 0);
}

Test(peer, transport_cc_sequence_and_audio_level_are_exposed)
{
    connect_peer();
    cr_assert_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 7, .has_twcc = true,
                               .twcc_seq = 4242, .has_level = true, .audio_level = 30),
                          80),
                 0);
    weir_peer_packet pkt;
    cr_assert_eq(weir_peer_poll_packet(F.peer, &pkt), 1);
    cr_expect(pkt.has_twcc_seq);
    cr_expect_eq(pkt.twcc_seq, 4242);
    cr_expect(pkt.has_audio_level);
    cr_expect(pkt.voice);
    cr_expect_eq(pkt.audio_level, 30);
    cr_expect_not(pkt.has_abs_send_time);

    /* A time earlier than the last is taken as the last (STYLE.md "Time"). */
    int64_t t = fake_now_us;
    fake_now_us -= 1000;
    cr_assert_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 8), 80), 0);
    cr_assert_eq(weir_peer_poll_packet(F.peer, &pkt), 1);
    cr_expect_eq(pkt.arrival_us, t);
}

/* ---- (b) audio with a=ssrc ---------------------------------------------- */

Test(peer, announced_audio_ssrc_routes_without_any_extension)
{
    connect_peer();
    cr_assert_eq(weir_peer_stream_count(F.peer), 1, "the a=ssrc stream exists from the start");
    for (uint16_t i = 0; i < 5; i++)
        cr_assert_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = (uint16_t)(65533 + i),
                                   .ts = 960u * i),
                              100),
                     0);
    cr_assert_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_RED, .seq = 2), 120), 0, "RED passes");
    for (uint16_t i = 0; i < 5; i++)
        expect_packet(AUDIO_SSRC, (uint16_t)(65533 + i), PT_OPUS, 100, 0, 0);
    expect_packet(AUDIO_SSRC, 2, PT_RED, 120, 0, 0);
    const weir_peer_event *ev = find_event(WEIR_PEER_EVENT_STREAM_LEARNED, 0);
    cr_assert_not_null(ev);
    cr_expect_eq(ev->ssrc, AUDIO_SSRC);
    cr_expect_str_eq(ev->mid, "0");
    cr_expect_str_eq(ev->rid, "");
    weir_peer_stream_info info = stream_of(AUDIO_SSRC);
    cr_expect(info.announced);
    cr_expect_eq(info.highest_seq, 65536u + 2, "extended across the wrap");
    cr_expect_eq(info.lost, 0);

    cr_expect_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_VP8, .seq = 3), 10), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_BAD_PT), 1);
}

Test(peer, video_without_rids_is_learned_from_mid_alone_and_loss_is_estimated)
{
    connect_peer();
    const uint16_t seqs[] = {10, 11, 13, 14, 17};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(send_rtp(SPEC(.ssrc = 0xabc, .pt = PT_VP9, .seq = seqs[i], .mid = "2"), 50),
                     0);
    weir_peer_stream_info info = stream_of(0xabc);
    cr_expect_eq(info.media_index, 2);
    cr_expect_eq(info.layer, 0);
    cr_expect_eq(info.packets, 5);
    cr_expect_eq(info.highest_seq, 17);
    cr_expect_eq(info.lost, 3);
    cr_expect_eq(info.bytes, 250);
}

/* ---- (c) RTX with repaired-rid -------------------------------------------- */

static int send_rtx(uint32_t rtx_ssrc, uint16_t rtx_seq, const spec *orig, size_t payload_len,
                    const char *mid, const char *rrid, uint8_t rtx_pt)
{
    uint8_t plain[1500], buf[1500];
    spec o = *orig;
    o.mid = mid;
    o.rrid = rrid;
    o.rid = NULL;
    size_t len = build_plain(plain, sizeof plain, &o, payload_len);
    weir_rtp h;
    cr_assert_eq(weir_rtp_parse(&h, plain, len), 0);
    int n = weir_rtp_rtx_wrap(buf, sizeof buf, &h, plain, rtx_ssrc, rtx_pt, rtx_seq);
    cr_assert_gt(n, 0);
    return feed(buf, protect(buf, (size_t)n, sizeof buf));
}

Test(peer, rtx_with_repaired_rid_is_unwrapped_to_the_original_stream)
{
    connect_peer();
    for (int l = 0; l < 3; l++)
        cr_assert_eq(send_rtp(SPEC(.ssrc = SIM_SSRC[l], .pt = PT_VP8, .seq = 1000, .mid = "1",
                                   .rid = SIM_RID[l]),
                              200),
                     0);
    spec lost = SPEC(.ssrc = SIM_SSRC[1], .pt = PT_VP8, .seq = 999, .ts = 1234);
    cr_assert_eq(send_rtx(0x2222f, 500, &lost, 222, "1", "h", PT_VP8_RTX), 0);
    /* Later retransmissions carry no extensions: the SSRC is known now. */
    spec lost2 = SPEC(.ssrc = SIM_SSRC[1], .pt = PT_VP8, .seq = 998);
    cr_assert_eq(send_rtx(0x2222f, 501, &lost2, 100, NULL, NULL, PT_VP8_RTX), 0);

    for (int l = 0; l < 3; l++)
        expect_packet(SIM_SSRC[l], 1000, PT_VP8, 200, 1, (uint8_t)l);
    weir_peer_packet pkt;
    cr_assert_eq(weir_peer_poll_packet(F.peer, &pkt), 1);
    cr_expect(pkt.was_rtx);
    cr_expect_eq(pkt.rtp.timestamp, 1234);
    cr_expect_eq(pkt.rtp.ssrc, SIM_SSRC[1]);
    cr_expect_eq(pkt.rtp.seq, 999);
    cr_expect_eq(pkt.rtp.payload_type, PT_VP8);
    cr_expect_eq(pkt.layer, 1);
    uint8_t want[222];
    fill_payload(want, sizeof want, SIM_SSRC[1], 999);
    cr_assert_eq(pkt.rtp.payload_len, sizeof want);
    cr_expect_arr_eq(weir_rtp_payload(&pkt.rtp, pkt.data), want, sizeof want);
    expect_packet(SIM_SSRC[1], 998, PT_VP8, 100, 1, 1);

    const weir_peer_event *ev = find_event(WEIR_PEER_EVENT_STREAM_LEARNED, 3);
    cr_assert_not_null(ev);
    cr_expect_eq(ev->ssrc, 0x2222f);
    cr_expect(ev->is_rtx);
    cr_expect_eq(ev->layer, 1);
    cr_expect_str_eq(ev->rid, "h");
    weir_peer_stream_info rtx = stream_of(0x2222f);
    cr_expect(rtx.is_rtx);
    cr_expect_eq(rtx.packets, 2);
}

Test(peer, rtx_before_its_media_stream_and_padding_probes_are_dropped_and_counted)
{
    connect_peer();
    spec orig = SPEC(.ssrc = SIM_SSRC[2], .pt = PT_VP8, .seq = 5);
    cr_expect_eq(send_rtx(0x3333f, 1, &orig, 50, "1", "f", PT_VP8_RTX), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_RTX_ORPHAN), 1);

    /* A padding-only RTX probe: no OSN. Counted in the stream, not forwarded. */
    cr_expect_eq(send_rtp(SPEC(.ssrc = 0x3333f, .pt = PT_VP8_RTX, .seq = 2), 0), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_PADDING), 1);
    cr_expect_eq(stream_of(0x3333f).packets, 2);
    weir_peer_packet pkt;
    cr_expect_eq(weir_peer_poll_packet(F.peer, &pkt), 0);
}

Test(peer, announced_rtx_pair_unwraps_without_extensions)
{
    weir_peer_destroy(F.peer);
    weir_peer_media media[3];
    default_media(media);
    media[2].ssrcs[0] = (weir_peer_ssrc){.media = 0x9000, .rtx = 0x9001};
    media[2].n_ssrcs = 1;
    weir_peer_config cfg = {.dtls_ctx = F.sfu_ctx,
                            .role = WEIR_DTLS_ROLE_SERVER,
                            .remote_fingerprint = weir_cert_fingerprint(F.browser_cert),
                            .media = media,
                            .n_media = 3};
    F.peer = weir_peer_create(&cfg);
    cr_assert_not_null(F.peer);
    connect_peer();
    spec orig = SPEC(.ssrc = 0x9000, .pt = PT_VP9, .seq = 77);
    cr_assert_eq(send_rtx(0x9001, 3, &orig, 60, NULL, NULL, PT_VP9_RTX), 0);
    expect_packet(0x9000, 77, PT_VP9, 60, 2, 0);
}

/* ---- (d) RTCP in ----------------------------------------------------------- */

Test(peer, sender_report_records_the_ntp_rtp_mapping)
{
    connect_peer();
    cr_assert_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 1), 40), 0);
    uint8_t buf[1500];
    weir_rtcp_sr sr = {.ssrc = AUDIO_SSRC,
                       .ntp = 0xe1234567abcd0000ull,
                       .rtp_ts = 48000,
                       .packet_count = 1,
                       .octet_count = 40};
    int n = weir_rtcp_sr_write(buf, sizeof buf, &sr, NULL, 0);
    cr_assert_gt(n, 0);
    int m = weir_rtcp_sdes_write(buf + n, sizeof buf - (size_t)n, AUDIO_SSRC, "cname", 5);
    cr_assert_gt(m, 0);
    fake_now_us += 5000;
    cr_assert_eq(feed(buf, protect_rtcp(buf, (size_t)(n + m), sizeof buf)), 0);
    weir_peer_stream_info info = stream_of(AUDIO_SSRC);
    cr_expect(info.has_sr);
    cr_expect_eq(info.sr_ntp, 0xe1234567abcd0000ull);
    cr_expect_eq(info.sr_rtp_ts, 48000);
    cr_expect_eq(info.sr_arrival_us, fake_now_us);
    weir_peer_stats st;
    weir_peer_get_stats(F.peer, &st);
    cr_expect_eq(st.rtcp_packets, 1);
    cr_expect_eq(st.rtcp_sr, 1);
    cr_expect_eq(st.rtcp_other, 1, "the SDES");

    sr.ssrc = 0xdead;
    n = weir_rtcp_sr_write(buf, sizeof buf, &sr, NULL, 0);
    cr_assert_eq(feed(buf, protect_rtcp(buf, (size_t)n, sizeof buf)), 0);
    weir_peer_get_stats(F.peer, &st);
    cr_expect_eq(st.rtcp_sr_unknown_ssrc, 1);
}

Test(peer, feedback_in_becomes_events)
{
    connect_peer();
    uint8_t buf[1500];
    size_t len = 0;
    int n = weir_rtcp_rr_write(buf, sizeof buf, 0x77, NULL, 0);
    cr_assert_gt(n, 0);
    len += (size_t)n;
    n = weir_rtcp_fb_pli_write(buf + len, sizeof buf - len, 0x77, SIM_SSRC[2]);
    cr_assert_gt(n, 0);
    len += (size_t)n;
    const uint16_t lost[] = {100, 101, 105, 140};
    n = weir_rtcp_fb_nack_write(buf + len, sizeof buf - len, 0x77, SIM_SSRC[0], lost, 4);
    cr_assert_gt(n, 0);
    len += (size_t)n;
    weir_rtcp_fb_fir_entry fir = {.ssrc = SIM_SSRC[1], .seq_nr = 9};
    n = weir_rtcp_fb_fir_write(buf + len, sizeof buf - len, 0x77, &fir, 1);
    cr_assert_gt(n, 0);
    len += (size_t)n;
    const uint32_t remb_ssrcs[] = {SIM_SSRC[0]};
    n = weir_rtcp_fb_remb_write(buf + len, sizeof buf - len, 0x77, 1500000, remb_ssrcs, 1);
    cr_assert_gt(n, 0);
    len += (size_t)n;
    weir_twcc th = {.sender_ssrc = 0x77, .media_ssrc = 0x88};
    weir_twcc_entry te[2] = {{.seq = 10, .received = true, .delta_us = 250}, {.seq = 11}};
    n = weir_twcc_write(buf + len, sizeof buf - len, &th, te, 2);
    cr_assert_gt(n, 0);
    len += (size_t)n;
    cr_assert_eq(feed(buf, protect_rtcp(buf, len, sizeof buf)), 0);

    cr_assert_eq(count_events(WEIR_PEER_EVENT_RTCP_FEEDBACK), 5);
    const weir_peer_event *pli = find_event(WEIR_PEER_EVENT_RTCP_FEEDBACK, 0);
    cr_expect_eq(pli->fb, WEIR_PEER_FB_PLI);
    cr_expect_eq(pli->sender_ssrc, 0x77);
    cr_expect_eq(pli->media_ssrc, SIM_SSRC[2]);
    const weir_peer_event *nack = find_event(WEIR_PEER_EVENT_RTCP_FEEDBACK, 1);
    cr_expect_eq(nack->fb, WEIR_PEER_FB_NACK);
    cr_expect_eq(nack->media_ssrc, SIM_SSRC[0]);
    cr_assert_eq(nack->nack_count, 4);
    cr_expect_eq(nack->nack_total, 4);
    cr_expect_arr_eq(nack->nack_seqs, lost, sizeof lost);
    const weir_peer_event *f = find_event(WEIR_PEER_EVENT_RTCP_FEEDBACK, 2);
    cr_expect_eq(f->fb, WEIR_PEER_FB_FIR);
    cr_expect_eq(f->media_ssrc, SIM_SSRC[1]);
    cr_expect_eq(f->fir_seq, 9);
    const weir_peer_event *remb = find_event(WEIR_PEER_EVENT_RTCP_FEEDBACK, 3);
    cr_expect_eq(remb->fb, WEIR_PEER_FB_REMB);
    cr_expect_eq(remb->media_ssrc, SIM_SSRC[0]);
    cr_expect_geq(remb->bitrate_bps, 1490000);
    cr_expect_leq(remb->bitrate_bps, 1500000);
    const weir_peer_event *twcc = find_event(WEIR_PEER_EVENT_RTCP_FEEDBACK, 4);
    cr_expect_eq(twcc->fb, WEIR_PEER_FB_TWCC);
    cr_expect_eq(twcc->media_ssrc, 0x88);
    weir_peer_stats st;
    weir_peer_get_stats(F.peer, &st);
    cr_expect_eq(st.rtcp_rr, 1);
    cr_expect_eq(st.rtcp_pli, 1);
    cr_expect_eq(st.rtcp_nack, 1);
    cr_expect_eq(st.rtcp_fir, 1);
    cr_expect_eq(st.rtcp_remb, 1);
    cr_expect_eq(st.rtcp_twcc, 1);
}

Test(peer, send_rtcp_protects_for_the_browser)
{
    uint8_t rr[64];
    int n = weir_rtcp_fb_pli_write(rr, sizeof rr, 1, SIM_SSRC[2]);
    cr_assert_gt(n, 0);
    cr_expect_eq(weir_peer_send_rtcp(F.peer, rr, (size_t)n), -WEIR_EPERM, "no keys yet");
    connect_peer();
    cr_expect_eq(weir_peer_send_rtcp(F.peer, rr, 3), -WEIR_EINVAL);
    cr_assert_eq(weir_peer_send_rtcp(F.peer, rr, (size_t)n), 0);
    weir_transmit t;
    cr_assert_eq(weir_peer_poll_transmit(F.peer, &t), 1);
    cr_expect_gt(t.len, (size_t)n, "SRTCP adds index and tag");
    uint8_t buf[1500];
    memcpy(buf, t.data, t.len);
    size_t len = t.len;
    cr_assert_eq(weir_srtp_unprotect_rtcp(F.browser_srtp, buf, &len), 0);
    cr_assert_eq(len, (size_t)n);
    cr_expect_arr_eq(buf, rr, len);
    cr_expect_eq(weir_peer_poll_transmit(F.peer, &t), 0);
    for (int i = 0; i < WEIR_PEER_RTCP_SLOTS; i++)
        cr_assert_eq(weir_peer_send_rtcp(F.peer, rr, (size_t)n), 0);
    cr_expect_eq(weir_peer_send_rtcp(F.peer, rr, (size_t)n), -WEIR_EAGAIN);
}

/* ---- (e) garbage ------------------------------------------------------------ */

static void expect_still_working(uint16_t seq)
{
    weir_peer_packet pkt;
    while (weir_peer_poll_packet(F.peer, &pkt) == 1)
        ;
    cr_assert_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = seq), 64), 0);
    expect_packet(AUDIO_SSRC, seq, PT_OPUS, 64, 0, 0);
}

Test(peer, rtp_before_keys_stun_and_other_bytes_are_dropped_by_demux)
{
    struct {
        uint8_t first, second;
        size_t len;
        weir_peer_drop why;
    } rows[] = {
        {0x00, 0x01, 20, WEIR_PEER_DROP_STUN},   {0x01, 0x01, 20, WEIR_PEER_DROP_STUN},
        {0x80, 96, 40, WEIR_PEER_DROP_NO_KEYS},  {0x80, 200, 28, WEIR_PEER_DROP_NO_KEYS},
        {0x40, 0, 10, WEIR_PEER_DROP_NOT_RTP},   {0xc0, 0, 10, WEIR_PEER_DROP_NOT_RTP},
        {0x04, 0, 10, WEIR_PEER_DROP_NOT_RTP},   {0xff, 0xff, 1, WEIR_PEER_DROP_NOT_RTP},
        {0x00, 0x00, 0, WEIR_PEER_DROP_NOT_RTP}, /* empty */
    };
    uint64_t want[WEIR_PEER_DROP_COUNT] = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t buf[64] = {rows[i].first, rows[i].second};
        cr_expect_eq(weir_peer_handle_datagram(F.peer, fake_now_us, buf, rows[i].len), 1, "row %zu",
                     i);
        want[rows[i].why]++;
        cr_expect_eq(drops(rows[i].why), want[rows[i].why], "row %zu", i);
    }
    connect_peer();
    expect_still_working(1);
}

Test(peer, garbage_is_counted_by_reason_and_the_session_keeps_working)
{
    connect_peer();
    expect_still_working(1);

    /* random bytes after a plain RTP first byte: authentication fails */
    uint32_t seed = 12345;
    uint8_t rnd[200];
    for (int i = 0; i < 70; i++) {
        for (size_t j = 0; j < sizeof rnd; j++) {
            seed = seed * 1664525u + 1013904223u;
            rnd[j] = (uint8_t)(seed >> 24);
        }
        /* the first 50 with V=2 and no flags; then random flags (CSRCs, X, P) too */
        rnd[0] = i < 50 ? 0x80 : (uint8_t)(0x80 | (rnd[0] & 0x3f));
        rnd[1] = (uint8_t)(rnd[1] % 2 ? 96 : 111); /* RTP, never RTCP */
        cr_expect_eq(feed(rnd, sizeof rnd), 1);
        if (i == 49)
            cr_expect_eq(drops(WEIR_PEER_DROP_SRTP_AUTH), 50);
    }
    uint64_t auth = drops(WEIR_PEER_DROP_SRTP_AUTH), malformed = drops(WEIR_PEER_DROP_MALFORMED);
    cr_expect_eq(auth + malformed, 70, "a header libsrtp cannot walk is malformed");
    expect_still_working(2);

    /* truncated SRTP: shorter than an RTP header, then tag cut short */
    uint8_t buf[1500];
    size_t len =
        build_plain(buf, sizeof buf, &SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 3), 64);
    len = protect(buf, len, sizeof buf);
    cr_expect_eq(feed(buf, 8), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_MALFORMED), ++malformed);
    cr_expect_eq(feed(buf, len - 4), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_SRTP_AUTH), ++auth);
    expect_still_working(4);

    /* replay: the same protected packet twice */
    len = build_plain(buf, sizeof buf, &SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 5), 64);
    len = protect(buf, len, sizeof buf);
    uint8_t copy[1500];
    memcpy(copy, buf, len);
    cr_expect_eq(feed(buf, len), 0);
    cr_expect_eq(feed(copy, len), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_SRTP_REPLAY), 1);
    expect_still_working(6);

    /* another key: authentication fails */
    weir_srtp_keys k = {.profile = weir_srtp_get_profile(F.browser_srtp), .key_len = 16};
    size_t kl, sl;
    weir_srtp_profile_lengths(k.profile, &kl, &sl);
    k.salt_len = (uint8_t)sl;
    memset(k.local_key, 0x5a, sizeof k.local_key);
    memset(k.remote_key, 0xa5, sizeof k.remote_key);
    weir_srtp *wrong = weir_srtp_create(&k, NULL);
    cr_assert_not_null(wrong);
    len = build_plain(buf, sizeof buf, &SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 7), 64);
    cr_assert_eq(weir_srtp_protect_rtp(wrong, buf, &len, sizeof buf), 0);
    cr_expect_eq(feed(buf, len), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_SRTP_AUTH), ++auth);
    len = (size_t)weir_rtcp_rr_write(buf, sizeof buf, 1, NULL, 0);
    cr_assert_eq(weir_srtp_protect_rtcp(wrong, buf, &len, sizeof buf), 0);
    cr_expect_eq(feed(buf, len), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_SRTP_AUTH), ++auth);
    weir_srtp_destroy(wrong);
    expect_still_working(8);

    /* authentic but not a valid RTCP compound inside */
    uint8_t bad[64] = {0x80, 201, 0x00, 0x09, 0, 0, 0, 1}; /* the length word says 40 bytes */
    cr_expect_eq(feed(bad, protect_rtcp(bad, 8, sizeof bad)), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_MALFORMED), ++malformed);
    expect_still_working(10);
    cr_expect_eq(drops(WEIR_PEER_DROP_SRTP_REPLAY), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_UNKNOWN_SSRC), 0);
}

Test(peer, unroutable_packets_are_counted_by_reason)
{
    connect_peer();
    cr_expect_eq(send_rtp(SPEC(.ssrc = 0x42, .pt = PT_VP8, .seq = 1), 10), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_UNKNOWN_SSRC), 1, "no mid");
    cr_expect_eq(send_rtp(SPEC(.ssrc = 0x42, .pt = PT_VP8, .seq = 2, .mid = "9"), 10), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_UNKNOWN_MID), 1);
    cr_expect_eq(send_rtp(SPEC(.ssrc = 0x42, .pt = PT_VP8, .seq = 3, .mid = "1"), 10), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_UNKNOWN_RID), 1, "simulcast media without rid");
    cr_expect_eq(send_rtp(SPEC(.ssrc = 0x42, .pt = PT_VP8, .seq = 4, .mid = "1", .rid = "x"), 10),
                 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_UNKNOWN_RID), 2);
    cr_expect_eq(weir_peer_stream_count(F.peer), 1, "only the announced audio");
    expect_still_working(9);
}

Test(peer, a_new_ssrc_for_a_learned_rid_replaces_the_old_one)
{
    connect_peer();
    cr_assert_eq(send_rtp(SPEC(.ssrc = 0x10, .pt = PT_VP8, .seq = 1, .mid = "1", .rid = "q"), 10),
                 0);
    cr_assert_eq(send_rtp(SPEC(.ssrc = 0x20, .pt = PT_VP8, .seq = 9, .mid = "1", .rid = "q"), 10),
                 0);
    weir_peer_stream_info info;
    cr_expect_eq(weir_peer_find_stream(F.peer, 0x10, &info), -WEIR_ENOTFOUND);
    cr_expect_eq(stream_of(0x20).layer, 0);
    cr_expect_eq(weir_peer_stream_count(F.peer), 2);
    cr_expect_eq(count_events(WEIR_PEER_EVENT_STREAM_LEARNED), 2);
}

Test(peer, an_undrained_packet_queue_drops_and_counts)
{
    connect_peer();
    for (int i = 0; i < WEIR_PEER_PACKET_SLOTS + 3; i++)
        send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = (uint16_t)i), 20);
    cr_expect_eq(drops(WEIR_PEER_DROP_QUEUE_FULL), 3);
    for (int i = 0; i < WEIR_PEER_PACKET_SLOTS; i++)
        expect_packet(AUDIO_SSRC, (uint16_t)i, PT_OPUS, 20, 0, 0);
}

Test(peer, close_sends_close_notify_and_reports_closed)
{
    connect_peer();
    cr_assert_eq(weir_peer_close(F.peer, fake_now_us), 0);
    shuttle();
    cr_expect_not_null(find_event(WEIR_PEER_EVENT_CLOSED, 0));
    cr_expect_eq(weir_dtls_get_state(F.browser), WEIR_DTLS_STATE_CLOSED,
                 "browser got close_notify");
    cr_expect_eq(send_rtp(SPEC(.ssrc = AUDIO_SSRC, .pt = PT_OPUS, .seq = 1), 10), 1);
    cr_expect_eq(drops(WEIR_PEER_DROP_CLOSED), 1);
    cr_expect_eq(weir_peer_close(F.peer, fake_now_us), 0, "idempotent");
}

Test(peer, drop_names_are_unique_and_non_empty)
{
    for (int i = 0; i < WEIR_PEER_DROP_COUNT; i++) {
        const char *a = weir_peer_drop_name((weir_peer_drop)i);
        cr_assert(a && a[0], "reason %d", i);
        for (int j = 0; j < i; j++)
            cr_expect_str_neq(a, weir_peer_drop_name((weir_peer_drop)j));
    }
    cr_expect_str_eq(weir_peer_drop_name(WEIR_PEER_DROP_COUNT), "unknown");
}
