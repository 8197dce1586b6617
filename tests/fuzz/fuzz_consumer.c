/*
 * libFuzzer target for rtc/consumer*.c, the per-subscriber rewriter. The
 * input is a script of operations on one VP8 simulcast consumer:
 *   0: a packet (layer, flags, seq/ts steps, SSRC change, payload bytes from
 *      the input, run through the real VP8 descriptor parser like the producer
 *      does), 1: a NACK of output sequence numbers, 2: preferences,
 *   3: pause/resume, 4: time passes (history ages out), 5: an SR.
 * Every packet written must parse as RTP with our SSRC and payload type and
 * fit WEIR_CONSUMER_OUT_MAX; at the end no pkt reference may be left over.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/rtp.h"
#include "proto/vp8.h"
#include "rtc/consumer.h"

#define OUR_SSRC 0x11223344u
#define OUR_RTX_SSRC 0x55667788u

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t take(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static void check_out(const uint8_t *out, size_t len, bool rtx)
{
    weir_rtp h;
    if (len > WEIR_CONSUMER_OUT_MAX || weir_rtp_parse(&h, out, len) < 0)
        abort();
    if (h.ssrc != (rtx ? OUR_RTX_SSRC : OUR_SSRC))
        abort();
}

static weir_pkt *make_packet(reader *r, uint32_t ssrc[3], uint16_t seq[3], uint32_t ts[3])
{
    uint8_t op = take(r);
    uint8_t layer = op % 3;
    if (op & 0x80)
        ssrc[layer] += 1;
    seq[layer] += (uint16_t)(1 + (take(r) & 0x7));
    ts[layer] += (uint32_t)take(r) * 100;
    uint8_t payload[64];
    size_t plen = take(r) % sizeof payload;
    for (size_t i = 0; i < plen; i++)
        payload[i] = take(r);
    weir_pkt *p = weir_pkt_new();
    weir_rtp_fields f = {.ssrc = ssrc[layer],
                         .timestamp = ts[layer],
                         .seq = seq[layer],
                         .payload_type = 96,
                         .marker = (op & 0x40) != 0};
    int len = weir_rtp_write(p->data, sizeof p->data, &f, payload, plen, 0);
    if (len < 0 || weir_rtp_parse(&p->rtp, p->data, (size_t)len) < 0) {
        weir_pkt_unref(p);
        return NULL;
    }
    p->len = (size_t)len;
    p->layer = layer;
    weir_vp8_desc d;
    if (weir_vp8_parse(&d, payload, plen) == 0) {
        p->is_keyframe = d.is_keyframe || (op & 0x20);
        p->frame_start = d.is_frame_start;
        p->temporal = d.has_tid ? d.tid : 0;
        p->layer_sync = d.has_tid && d.layer_sync;
    }
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t live_before = weir_pkt_live();
    weir_consumer_config cfg;
    weir_consumer_config_init(&cfg);
    cfg.codec = WEIR_CODEC_VP8;
    cfg.clock_rate_hz = 90000;
    cfg.n_layers = 3;
    cfg.ssrc = OUR_SSRC;
    cfg.rtx_ssrc = OUR_RTX_SSRC;
    cfg.pt = 96;
    cfg.rtx_pt = 97;
    cfg.in_pt = 96;
    cfg.ext_mid = 1;
    strcpy(cfg.mid, "0");
    cfg.ext_twcc = 3;
    weir_consumer *c = weir_consumer_create(&cfg);
    if (!c)
        abort();
    reader r = {data, size};
    uint32_t ssrc[3] = {1, 2, 3}, ts[3] = {0};
    uint16_t seq[3] = {0}, twcc = 0;
    int64_t now = 1000000;
    uint8_t out[WEIR_CONSUMER_OUT_MAX];
    size_t len;
    while (r.n) {
        switch (take(&r) % 6) {
        case 0: {
            weir_pkt *p = make_packet(&r, ssrc, seq, ts);
            if (p && weir_consumer_handle_packet(c, p, now, &twcc, out, sizeof out, &len) == 1)
                check_out(out, len, false);
            weir_pkt_unref(p);
            break;
        }
        case 1: {
            uint16_t nack[8];
            size_t n = take(&r) % 8;
            for (size_t i = 0; i < n; i++)
                nack[i] = (uint16_t)(take(&r) << 8 | take(&r));
            weir_consumer_handle_nack(c, nack, n, now);
            while (weir_consumer_poll_retransmit(c, now, &twcc, out, sizeof out, &len) == 1)
                check_out(out, len, true);
            break;
        }
        case 2:
            weir_consumer_set_preferences(c, take(&r) % 4, take(&r) % 5);
            break;
        case 3:
            weir_consumer_set_paused(c, take(&r) & 1);
            break;
        case 4:
            now += (int64_t)take(&r) * 20000;
            weir_consumer_handle_timeout(c, now);
            break;
        default:
            weir_consumer_write_sr(c, now, out, sizeof out, &len);
            break;
        }
        weir_consumer_event ev;
        while (weir_consumer_poll_event(c, &ev) == 1)
            if (ev.spatial > 2 || ev.spatial < -1)
                abort();
        now += 1000;
    }
    weir_consumer_destroy(c);
    if (weir_pkt_live() != live_before)
        abort(); /* a pkt reference leaked */
    return 0;
}
