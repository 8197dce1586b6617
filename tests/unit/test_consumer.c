/*
 * weir_consumer: one subscriber's forwarding state for one track, driven
 * with synthetic publisher packets on a fake clock. Asserted on the bytes
 * the subscriber would receive: audio continuity across a publisher
 * restart, simulcast start/switch/temporal filtering/pause with contiguous
 * sequence numbers and PictureIDs, NACK answered by RTX or plain resend with
 * the original bytes, SR consistent with the forwarded timestamps, no pkt
 * reference leaked, and no crash on garbage VP8 payloads.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/rtcp.h"
#include "proto/rtp.h"
#include "proto/vp8.h"
#include "rtc/consumer.h"
#include "weir/errors.h"

#define OUR_SSRC 0x5eed0001u
#define OUR_RTX_SSRC 0x5eed0002u
#define OUR_PT 100
#define OUR_RTX_PT 101
#define IN_PT 96
#define FRAME_US 33333

static uint64_t live_at_start;

static void remember_live(void)
{
    live_at_start = weir_pkt_live();
}

static void assert_no_leak(void)
{
    cr_assert_eq(weir_pkt_live(), live_at_start, "pkt references leaked: %llu live, %llu at start",
                 (unsigned long long)weir_pkt_live(), (unsigned long long)live_at_start);
}

static weir_pkt *make_pkt(uint32_t ssrc, uint16_t seq, uint32_t ts, uint8_t pt, bool marker,
                          const uint8_t *payload, size_t len)
{
    weir_pkt *p = weir_pkt_new();
    weir_rtp_fields f = {
        .ssrc = ssrc, .timestamp = ts, .seq = seq, .payload_type = pt, .marker = marker};
    int n = weir_rtp_write(p->data, sizeof p->data, &f, payload, len, 0);
    cr_assert_gt(n, 0);
    p->len = (size_t)n;
    cr_assert_eq(weir_rtp_parse(&p->rtp, p->data, p->len), 0);
    return p;
}

static weir_consumer_config video_config(uint8_t n_layers)
{
    weir_consumer_config cfg;
    weir_consumer_config_init(&cfg);
    cfg.codec = WEIR_CODEC_VP8;
    cfg.clock_rate_hz = 90000;
    cfg.n_layers = n_layers;
    cfg.ssrc = OUR_SSRC;
    cfg.pt = OUR_PT;
    cfg.in_pt = IN_PT;
    return cfg;
}

/* ---- config ---- */

Test(consumer, rejects_bad_configs)
{
    weir_consumer_config cfg = video_config(3);
    weir_consumer *c = weir_consumer_create(&cfg);
    cr_assert_not_null(c);
    weir_consumer_destroy(c);
    weir_consumer_destroy(NULL);

    weir_consumer_config bad = video_config(0);
    cr_assert_null(weir_consumer_create(&bad));
    bad = video_config(4);
    cr_assert_null(weir_consumer_create(&bad));
    bad = video_config(1);
    bad.clock_rate_hz = 0;
    cr_assert_null(weir_consumer_create(&bad));
    bad = video_config(1);
    bad.in_pt = 128;
    cr_assert_null(weir_consumer_create(&bad));
    bad = video_config(1);
    bad.ext_mid = 1; /* empty mid */
    cr_assert_null(weir_consumer_create(&bad));
    bad = video_config(1);
    bad.ext_mid = 1;
    memset(bad.mid, 'a', sizeof bad.mid); /* no terminator */
    cr_assert_null(weir_consumer_create(&bad));
}

/* ---- (1) audio: continuity across a publisher restart ---- */

typedef struct audio_rx {
    bool have;
    uint16_t last_seq;
    uint32_t last_ts;
    uint16_t last_twcc;
    int n;
} audio_rx;

static void audio_receive(audio_rx *rx, const uint8_t *buf, size_t len, const uint8_t *want_payload,
                          size_t want_len, uint32_t want_dts)
{
    weir_rtp h;
    cr_assert_eq(weir_rtp_parse(&h, buf, len), 0);
    cr_assert_eq(h.ssrc, OUR_SSRC);
    cr_assert_eq(h.payload_type, 111);
    cr_assert_eq(h.payload_len, want_len);
    cr_assert_arr_eq(buf + h.payload_off, want_payload, want_len);
    weir_rtp_ext e;
    cr_assert_eq(weir_rtp_ext_find(&h, buf, 1, &e), 0, "mid");
    cr_assert_eq(e.len, 1);
    cr_assert_eq(e.data[0], 'a');
    uint16_t twcc;
    cr_assert_eq(weir_rtp_ext_find(&h, buf, 3, &e), 0, "transport-cc");
    cr_assert_eq(weir_rtp_twcc_seq_parse(&e, &twcc), 0);
    bool voice;
    uint8_t level;
    cr_assert_eq(weir_rtp_ext_find(&h, buf, 4, &e), 0, "audio level");
    cr_assert_eq(weir_rtp_audio_level_parse(&e, &voice, &level), 0);
    cr_assert(voice);
    cr_assert_eq(level, 42);
    if (rx->have) {
        cr_assert_eq(h.seq, (uint16_t)(rx->last_seq + 1), "seq %u after %u", h.seq, rx->last_seq);
        cr_assert_eq(h.timestamp - rx->last_ts, want_dts, "ts advanced %u, want %u",
                     h.timestamp - rx->last_ts, want_dts);
        cr_assert_eq(twcc, (uint16_t)(rx->last_twcc + 1));
    }
    rx->have = true;
    rx->last_seq = h.seq;
    rx->last_ts = h.timestamp;
    rx->last_twcc = twcc;
    rx->n++;
}

static weir_consumer *audio_consumer(void)
{
    weir_consumer_config cfg;
    weir_consumer_config_init(&cfg);
    cfg.codec = WEIR_CODEC_OPUS;
    cfg.is_audio = true;
    cfg.clock_rate_hz = 48000;
    cfg.ssrc = OUR_SSRC;
    cfg.pt = 111;
    cfg.in_pt = 109;
    cfg.ext_mid = 1;
    strcpy(cfg.mid, "a");
    cfg.ext_abs_send_time = 2;
    cfg.ext_twcc = 3;
    cfg.ext_audio_level = 4;
    weir_consumer *c = weir_consumer_create(&cfg);
    cr_assert_not_null(c);
    return c;
}

Test(consumer, audio_seq_and_ts_continue_across_publisher_restart)
{
    remember_live();
    weir_consumer *c = audio_consumer();
    audio_rx rx = {0};
    uint16_t twcc = 65530; /* wraps during the test */
    uint8_t out[WEIR_CONSUMER_OUT_MAX];
    size_t out_len;
    int64_t now = 1000000;
    /* source A, then source B (new SSRC, seq and ts origins), then a seq jump on B */
    const struct {
        uint32_t ssrc;
        uint16_t seq0;
        uint32_t ts0;
    } sources[] = {{0xa, 65500, 4000000000u}, {0xb, 17, 123}, {0xb, 30000, 5000000}};
    for (size_t s = 0; s < 3; s++) {
        for (int i = 0; i < 60; i++) {
            uint8_t payload[40];
            memset(payload, (int)(s * 60 + (size_t)i), sizeof payload);
            weir_pkt *p =
                make_pkt(sources[s].ssrc, (uint16_t)(sources[s].seq0 + i),
                         sources[s].ts0 + 960u * (uint32_t)i, 109, false, payload, sizeof payload);
            p->has_audio_level = true;
            p->voice = true;
            p->audio_level = 42;
            cr_assert_eq(weir_consumer_handle_packet(c, p, now, &twcc, out, sizeof out, &out_len),
                         1);
            weir_pkt_unref(p);
            /* within a source the spacing is kept; at a restart, the 20 ms that passed */
            audio_receive(&rx, out, out_len, payload, sizeof payload, 960);
            now += 20000;
        }
    }
    cr_assert_eq(rx.n, 180);
    weir_consumer_stats st;
    weir_consumer_get_stats(c, &st);
    cr_assert_eq(st.restarts, 2);
    cr_assert_eq(st.packets_sent, 180);

    /* pause: nothing; resume continues seq + 1 and ts by the paused time */
    weir_consumer_set_paused(c, true);
    uint8_t pl[10] = {0};
    for (int i = 60; i < 70; i++) {
        weir_pkt *p = make_pkt(0xb, (uint16_t)(30000 + i), 5000000 + 960u * (uint32_t)i, 109, false,
                               pl, sizeof pl);
        cr_assert_eq(weir_consumer_handle_packet(c, p, now, &twcc, out, sizeof out, &out_len), 0);
        weir_pkt_unref(p);
        now += 20000;
    }
    weir_consumer_set_paused(c, false);
    weir_pkt *p = make_pkt(0xb, 30070, 5000000 + 960u * 70, 109, false, pl, sizeof pl);
    p->has_audio_level = true;
    p->voice = true;
    p->audio_level = 42;
    cr_assert_eq(weir_consumer_handle_packet(c, p, now, &twcc, out, sizeof out, &out_len), 1);
    weir_pkt_unref(p);
    audio_receive(&rx, out, out_len, pl, sizeof pl, 11 * 960);

    weir_consumer_get_stats(c, &st);
    cr_assert_eq(st.dropped[WEIR_CONSUMER_DROP_PAUSED], 10);
    weir_consumer_destroy(c);
    assert_no_leak();
}

Test(consumer, audio_unknown_pt_and_padding_leave_no_gap)
{
    remember_live();
    weir_consumer *c = audio_consumer();
    audio_rx rx = {0};
    uint16_t twcc = 0;
    uint8_t out[WEIR_CONSUMER_OUT_MAX];
    size_t out_len;
    uint8_t pl[8] = {1, 2, 3};
    for (int i = 0; i < 12; i++) {
        int kind = i % 4; /* 0, 1: media; 2: another PT (DTMF); 3: padding only */
        weir_pkt *p = make_pkt(7, (uint16_t)(100 + i), 960u * (uint32_t)i, kind == 2 ? 126 : 109,
                               false, pl, kind == 3 ? 0 : sizeof pl);
        p->has_audio_level = true;
        p->voice = true;
        p->audio_level = 42;
        int rc = weir_consumer_handle_packet(c, p, i * 20000, &twcc, out, sizeof out, &out_len);
        weir_pkt_unref(p);
        cr_assert_eq(rc, kind < 2 ? 1 : 0);
        if (rc == 1)
            audio_receive(&rx, out, out_len, pl, sizeof pl, kind == 0 ? 3 * 960 : 960);
    }
    weir_consumer_stats st;
    weir_consumer_get_stats(c, &st);
    cr_assert_eq(st.dropped[WEIR_CONSUMER_DROP_UNKNOWN_PT], 3);
    cr_assert_eq(st.dropped[WEIR_CONSUMER_DROP_PADDING], 3);
    cr_assert_eq(weir_consumer_handle_keyframe_request(c), -1);
    weir_consumer_destroy(c);
    assert_no_leak();
}

/* ---- (2) simulcast ---- */

/* VP8 descriptor (X, S; I 15-bit, L, T) + payload header + filler naming the layer. */
static size_t vp8_payload(uint8_t *buf, uint16_t pid, uint8_t tl0, uint8_t tid, bool y, bool key,
                          bool first, uint8_t layer)
{
    static const uint8_t KEY_HDR[] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
    static const uint8_t DELTA_HDR[] = {0x11, 0x00, 0x00};
    size_t n = 0;
    buf[n++] = (uint8_t)(0x80 | (first ? 0x10 : 0));
    buf[n++] = 0xe0;
    buf[n++] = (uint8_t)(0x80 | (pid >> 8));
    buf[n++] = (uint8_t)pid;
    buf[n++] = tl0;
    buf[n++] = (uint8_t)(tid << 6 | (y ? 0x20 : 0));
    if (first && key) {
        memcpy(buf + n, KEY_HDR, sizeof KEY_HDR);
        n += sizeof KEY_HDR;
    } else if (first) {
        memcpy(buf + n, DELTA_HDR, sizeof DELTA_HDR);
        n += sizeof DELTA_HDR;
    }
    memset(buf + n, 0xab, 20);
    n += 20;
    buf[n++] = layer;
    return n;
}

typedef struct pub_layer {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts0;
    uint16_t pid;
    uint8_t tl0;
    uint32_t pos; /* in the L1T3 pattern TID 0 2 1 2 */
    bool kf_pending;
    int64_t kf_due_frame; /* the encoder answers a request at the next frame */
} pub_layer;

typedef struct video_rx {
    bool have;
    uint16_t last_seq;
    uint32_t last_ts;
    uint16_t last_pid;
    uint8_t last_tl0;
    uint16_t last_twcc;
    int last_layer;
    int n;
    int max_tid; /* since reset */
    int keyframes;
} video_rx;

typedef struct scen {
    weir_consumer *c;
    pub_layer L[3];
    video_rx rx;
    uint16_t twcc;
    int64_t now;
    int64_t frame;
    weir_consumer_event layer_events[16];
    int n_layer_events;
    int kf_requests[3];
} scen;

static void video_receive(video_rx *rx, const uint8_t *buf, size_t len)
{
    weir_rtp h;
    cr_assert_eq(weir_rtp_parse(&h, buf, len), 0);
    cr_assert_eq(h.ssrc, OUR_SSRC);
    cr_assert_eq(h.payload_type, OUR_PT);
    const uint8_t *pl = buf + h.payload_off;
    weir_vp8_desc d;
    cr_assert_eq(weir_vp8_parse(&d, pl, h.payload_len), 0);
    int layer = pl[h.payload_len - 1];
    weir_rtp_ext e;
    uint16_t twcc;
    cr_assert_eq(weir_rtp_ext_find(&h, buf, 5, &e), 0);
    cr_assert_eq(weir_rtp_twcc_seq_parse(&e, &twcc), 0);
    if (rx->have) {
        cr_assert_eq(h.seq, (uint16_t)(rx->last_seq + 1), "seq %u after %u", h.seq, rx->last_seq);
        cr_assert_geq((int32_t)(h.timestamp - rx->last_ts), 0, "timestamp went back");
        uint16_t want_pid =
            d.is_frame_start ? (uint16_t)((rx->last_pid + 1) & 0x7fff) : rx->last_pid;
        cr_assert_eq(d.picture_id, want_pid, "PictureID %u after %u", d.picture_id, rx->last_pid);
        uint8_t want_tl0 =
            d.is_frame_start && d.tid == 0 ? (uint8_t)(rx->last_tl0 + 1) : rx->last_tl0;
        cr_assert_eq(d.tl0picidx, want_tl0, "TL0PICIDX %u after %u", d.tl0picidx, rx->last_tl0);
        cr_assert_eq(twcc, (uint16_t)(rx->last_twcc + 1));
        if (layer != rx->last_layer)
            cr_assert(d.is_keyframe, "layer %d -> %d not at a keyframe", rx->last_layer, layer);
    } else {
        cr_assert(d.is_keyframe, "forwarding starts at a keyframe");
    }
    if (d.tid > rx->max_tid)
        rx->max_tid = d.tid;
    rx->keyframes += d.is_keyframe;
    rx->have = true;
    rx->last_seq = h.seq;
    rx->last_ts = h.timestamp;
    rx->last_pid = d.picture_id;
    rx->last_tl0 = d.tl0picidx;
    rx->last_twcc = twcc;
    rx->last_layer = layer;
    rx->n++;
}

static void drain_events(scen *s)
{
    weir_consumer_event ev;
    while (weir_consumer_poll_event(s->c, &ev) == 1) {
        if (ev.type == WEIR_CONSUMER_EVENT_KEYFRAME_REQUEST) {
            cr_assert(ev.spatial >= 0 && ev.spatial < 3);
            pub_layer *L = &s->L[ev.spatial];
            if (!L->kf_pending) {
                L->kf_pending = true;
                L->kf_due_frame = s->frame + 1;
            }
            s->kf_requests[ev.spatial]++;
        } else {
            cr_assert_eq(ev.type, WEIR_CONSUMER_EVENT_LAYER_CHANGED);
            cr_assert_lt(s->n_layer_events, 16);
            s->layer_events[s->n_layer_events++] = ev;
        }
    }
}

/* One frame of layer l: two packets (the publisher answers a keyframe request at once). */
static void send_frame(scen *s, int l)
{
    static const uint8_t TIDS[4] = {0, 2, 1, 2};
    pub_layer *L = &s->L[l];
    bool key = L->kf_pending && s->frame >= L->kf_due_frame;
    if (key) {
        L->kf_pending = false;
        L->pos = 0;
    }
    uint32_t pos = L->pos++ % 4;
    uint8_t tid = TIDS[pos];
    bool y = pos == 1 || pos == 2;
    if (tid == 0)
        L->tl0++;
    L->pid = (uint16_t)((L->pid + 1) & 0x7fff);
    uint32_t ts = L->ts0 + (uint32_t)s->frame * 3000;
    for (int i = 0; i < 2; i++) {
        uint8_t payload[64];
        size_t n = vp8_payload(payload, L->pid, L->tl0, tid, y, key, i == 0, (uint8_t)l);
        weir_pkt *p = make_pkt(L->ssrc, L->seq++, ts, IN_PT, i == 1, payload, n);
        p->layer = (uint8_t)l;
        p->temporal = tid;
        p->layer_sync = y;
        p->is_keyframe = key && i == 0;
        p->frame_start = i == 0;
        uint8_t out[WEIR_CONSUMER_OUT_MAX];
        size_t out_len;
        int rc = weir_consumer_handle_packet(s->c, p, s->now, &s->twcc, out, sizeof out, &out_len);
        weir_pkt_unref(p);
        cr_assert_geq(rc, 0);
        if (rc == 1)
            video_receive(&s->rx, out, out_len);
        drain_events(s);
    }
}

static void run_frames(scen *s, int n)
{
    for (int f = 0; f < n; f++) {
        for (int l = 0; l < 3; l++)
            send_frame(s, l);
        s->frame++;
        s->now += FRAME_US;
    }
}

static void scen_init(scen *s)
{
    memset(s, 0, sizeof *s);
    weir_consumer_config cfg = video_config(3);
    cfg.ext_twcc = 5;
    s->c = weir_consumer_create(&cfg);
    cr_assert_not_null(s->c);
    s->now = 5000000;
    const pub_layer origins[3] = {
        {0x100, 60000, 4294000000u, 32700, 250, 0, true, 0},
        {0x101, 7, 1000, 5, 9, 0, true, 0},
        {0x102, 30000, 77777777, 1000, 100, 0, false, 0},
    };
    memcpy(s->L, origins, sizeof origins);
}

static void assert_layer_event(const scen *s, int i, int spatial, int temporal)
{
    cr_assert_gt(s->n_layer_events, i, "event %d missing", i);
    cr_assert_eq(s->layer_events[i].spatial, spatial, "event %d spatial", i);
    cr_assert_eq(s->layer_events[i].temporal, temporal, "event %d temporal", i);
}

Test(consumer, simulcast_start_switch_temporal_pause)
{
    remember_live();
    scen s;
    scen_init(&s);

    /* Layers 0 and 1 start with keyframes, layer 2 not: nothing until layer 2's keyframe. */
    run_frames(&s, 1);
    cr_assert_eq(s.rx.n, 0, "forwarded before the top layer's keyframe");
    cr_assert_eq(s.kf_requests[2], 1);
    run_frames(&s, 29);
    cr_assert_gt(s.rx.n, 0);
    cr_assert_eq(s.rx.last_layer, 2);
    cr_assert_eq(s.n_layer_events, 1);
    assert_layer_event(&s, 0, 2, 3);
    cr_assert_eq(weir_consumer_handle_keyframe_request(s.c), 2);

    /* Down to layer 0: layer 2 keeps flowing until layer 0's keyframe, which is requested. */
    cr_assert_eq(weir_consumer_set_preferences(s.c, 0, 3), 0);
    int before = s.kf_requests[0];
    send_frame(&s, 0); /* a delta frame of layer 0: waits, asks for a keyframe */
    cr_assert_eq(s.kf_requests[0], before + 1);
    send_frame(&s, 1);
    int n = s.rx.n;
    send_frame(&s, 2);
    cr_assert_eq(s.rx.n, n + 2, "layer 2 still forwarded before layer 0's keyframe");
    cr_assert_eq(s.rx.last_layer, 2);
    s.frame++;
    s.now += FRAME_US;
    run_frames(&s, 29);
    cr_assert_eq(s.rx.last_layer, 0);
    assert_layer_event(&s, 1, 0, 3);
    cr_assert_eq(weir_consumer_handle_keyframe_request(s.c), 0);

    /* Temporal filtering: only TID 0 frames, still no sequence or PictureID gap. */
    cr_assert_eq(weir_consumer_set_preferences(s.c, 0, 0), 0);
    run_frames(&s, 1); /* the frame in flight may finish */
    s.rx.max_tid = 0;
    n = s.rx.n;
    run_frames(&s, 30);
    cr_assert_eq(s.rx.max_tid, 0);
    cr_assert_gt(s.rx.n, n);
    cr_assert_lt(s.rx.n - n, 30 * 2, "TID > 0 frames were forwarded");
    assert_layer_event(&s, 2, 0, 0);

    /* Paused: nothing; resumed: nothing until a keyframe, then contiguous again. */
    weir_consumer_set_paused(s.c, true);
    n = s.rx.n;
    int keyframes = s.rx.keyframes;
    run_frames(&s, 10);
    cr_assert_eq(s.rx.n, n);
    assert_layer_event(&s, 3, -1, -1);
    cr_assert_eq(weir_consumer_handle_keyframe_request(s.c), -1);
    weir_consumer_set_paused(s.c, false);
    run_frames(&s, 10);
    cr_assert_gt(s.rx.n, n);
    cr_assert_eq(s.rx.keyframes, keyframes + 1);
    assert_layer_event(&s, 4, 0, 0);
    cr_assert_eq(s.n_layer_events, 5);

    weir_consumer_stats st;
    weir_consumer_get_stats(s.c, &st);
    cr_assert_eq(st.spatial, 0);
    cr_assert_eq(st.temporal, 0);
    cr_assert_gt(st.dropped[WEIR_CONSUMER_DROP_OTHER_LAYER], 0);
    cr_assert_gt(st.dropped[WEIR_CONSUMER_DROP_TEMPORAL], 0);
    cr_assert_gt(st.dropped[WEIR_CONSUMER_DROP_PAUSED], 0);
    cr_assert_gt(st.dropped[WEIR_CONSUMER_DROP_WAIT_KEYFRAME], 0);
    cr_assert_eq(st.packets_sent, (uint64_t)s.rx.n);
    weir_consumer_destroy(s.c);
    assert_no_leak();
}

Test(consumer, video_publisher_restart_resyncs_at_keyframe)
{
    remember_live();
    scen s;
    scen_init(&s);
    cr_assert_eq(weir_consumer_set_preferences(s.c, 1, 3), 0);
    run_frames(&s, 10);
    cr_assert_eq(s.rx.last_layer, 1);
    /* layer 1 restarts: new SSRC and origins; forwarding continues seamlessly after its
     * keyframe (video_receive checks seq, ts and PictureID continuity) */
    s.L[1] = (pub_layer){0x201, 999, 31337, 20000, 3, 0, false, 0};
    int before = s.kf_requests[1];
    run_frames(&s, 10);
    cr_assert_gt(s.kf_requests[1], before);
    cr_assert_eq(s.rx.last_layer, 1);
    weir_consumer_stats st;
    weir_consumer_get_stats(s.c, &st);
    cr_assert_eq(st.restarts, 1);
    weir_consumer_destroy(s.c);
    assert_no_leak();
}

/* ---- (3) NACK ---- */

typedef struct sent_copy {
    uint8_t buf[WEIR_CONSUMER_OUT_MAX];
    size_t len;
} sent_copy;

static sent_copy sent[100];

/* 100 single-packet frames (a keyframe first), 10 ms apart; copies of what went out. */
static weir_consumer *forward_100(uint32_t rtx_ssrc, size_t history, int64_t *now)
{
    weir_consumer_config cfg = video_config(1);
    cfg.rtx_ssrc = rtx_ssrc;
    cfg.rtx_pt = OUR_RTX_PT;
    cfg.rtx_seq_start = 65534;
    cfg.history_slots = history;
    weir_consumer *c = weir_consumer_create(&cfg);
    cr_assert_not_null(c);
    for (int i = 0; i < 100; i++) {
        uint8_t payload[64];
        size_t n = vp8_payload(payload, (uint16_t)(3000 + i), (uint8_t)i, 0, false, i == 0, true,
                               (uint8_t)i);
        weir_pkt *p =
            make_pkt(0x77, (uint16_t)(65500 + i), 9000u * (uint32_t)i, IN_PT, true, payload, n);
        p->is_keyframe = i == 0;
        p->frame_start = true;
        cr_assert_eq(weir_consumer_handle_packet(c, p, *now, NULL, sent[i].buf, sizeof sent[i].buf,
                                                 &sent[i].len),
                     1);
        weir_pkt_unref(p);
        *now += 10000;
    }
    return c;
}

static uint16_t out_seq_of(int i)
{
    weir_rtp h;
    cr_assert_eq(weir_rtp_parse(&h, sent[i].buf, sent[i].len), 0);
    return h.seq;
}

Test(consumer, nack_answered_with_rtx_carrying_the_original)
{
    remember_live();
    int64_t now = 0;
    weir_consumer *c = forward_100(OUR_RTX_SSRC, 0, &now);
    const int idx[3] = {97, 50, 98};
    uint16_t seqs[3];
    for (int i = 0; i < 3; i++)
        seqs[i] = out_seq_of(idx[i]);
    cr_assert_eq(weir_consumer_handle_nack(c, seqs, 3, now), 3);
    cr_assert_eq(weir_consumer_handle_nack(c, seqs, 3, now), 0, "already queued");
    uint8_t out[WEIR_CONSUMER_OUT_MAX];
    size_t len;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(weir_consumer_poll_retransmit(c, now, NULL, out, sizeof out, &len), 1);
        weir_rtp h;
        cr_assert_eq(weir_rtp_parse(&h, out, len), 0);
        cr_assert_eq(h.ssrc, OUR_RTX_SSRC);
        cr_assert_eq(h.payload_type, OUR_RTX_PT);
        cr_assert_eq(h.seq, (uint16_t)(65534 + i), "RTX seq counter");
        uint16_t osn;
        cr_assert_eq(weir_rtp_rtx_osn(&h, out, &osn), 0);
        cr_assert_eq(osn, seqs[i]);
        int n = weir_rtp_rtx_unwrap(&h, out, OUR_SSRC, OUR_PT);
        cr_assert_eq((size_t)n, sent[idx[i]].len);
        cr_assert_arr_eq(out, sent[idx[i]].buf, (size_t)n, "unwrapped RTX differs from packet %d",
                         idx[i]);
    }
    cr_assert_eq(weir_consumer_poll_retransmit(c, now, NULL, out, sizeof out, &len), 0);

    /* the same NACK again within 10 ms: the resend is in flight */
    cr_assert_eq(weir_consumer_handle_nack(c, seqs, 1, now + 5000), 0);
    /* later it is answered again */
    cr_assert_eq(weir_consumer_handle_nack(c, seqs, 1, now + 20000), 1);
    cr_assert_eq(weir_consumer_poll_retransmit(c, now + 20000, NULL, out, sizeof out, &len), 1);

    /* older than the 512-slot history?: all 100 fit; a seq never sent is unanswerable */
    uint16_t never = (uint16_t)(out_seq_of(99) + 1);
    uint16_t before_first = (uint16_t)(out_seq_of(0) - 1);
    cr_assert_eq(weir_consumer_handle_nack(c, &never, 1, now + 20000), 0);
    cr_assert_eq(weir_consumer_handle_nack(c, &before_first, 1, now + 20000), 0);
    /* aged out: more than 1 s after its first transmission */
    uint16_t old = out_seq_of(0);
    cr_assert_eq(weir_consumer_handle_nack(c, &old, 1, 1000000 + 1), 0);

    weir_consumer_stats st;
    weir_consumer_get_stats(c, &st);
    cr_assert_eq(st.nack_seqs, 3 + 3 + 1 + 1 + 2 + 1);
    cr_assert_eq(st.nack_rate_limited, 1);
    cr_assert_eq(st.nack_unanswerable, 3);
    cr_assert_eq(st.retransmitted, 4);
    weir_consumer_destroy(c);
    assert_no_leak();
}

Test(consumer, nack_older_than_history_is_unanswerable)
{
    remember_live();
    int64_t now = 0;
    weir_consumer *c = forward_100(OUR_RTX_SSRC, 20, &now); /* rounded up to 32 slots */
    uint16_t seqs[2] = {out_seq_of(67), out_seq_of(68)};
    cr_assert_eq(weir_consumer_handle_nack(c, seqs, 2, now), 1);
    weir_consumer_stats st;
    weir_consumer_get_stats(c, &st);
    cr_assert_eq(st.nack_unanswerable, 1);
    weir_consumer_destroy(c);
    assert_no_leak();
}

Test(consumer, nack_without_rtx_resends_the_identical_packet)
{
    remember_live();
    int64_t now = 0;
    weir_consumer *c = forward_100(0, 0, &now);
    uint16_t seq = out_seq_of(42);
    cr_assert_eq(weir_consumer_handle_nack(c, &seq, 1, now), 1);
    uint8_t out[WEIR_CONSUMER_OUT_MAX];
    size_t len;
    cr_assert_eq(weir_consumer_poll_retransmit(c, now, NULL, out, sizeof out, &len), 1);
    cr_assert_eq(len, sent[42].len);
    cr_assert_arr_eq(out, sent[42].buf, len);
    weir_consumer_destroy(c);
    assert_no_leak();
}

Test(consumer, history_released_by_age)
{
    remember_live();
    int64_t now = 0;
    weir_consumer *c = forward_100(OUR_RTX_SSRC, 0, &now);
    cr_assert_eq(weir_pkt_live(), live_at_start + 100);
    weir_consumer_handle_timeout(c, now + 2000000);
    cr_assert_eq(weir_pkt_live(), live_at_start, "aged history still holds references");
    weir_consumer_destroy(c);
    assert_no_leak();
}

/* n single-packet frames gap_us apart, out seqs into seqs[] (what went out is discarded). */
static weir_consumer *forward_fast(int n, int64_t gap_us, size_t history, uint16_t *seqs,
                                   int64_t *now)
{
    weir_consumer_config cfg = video_config(1);
    cfg.rtx_ssrc = OUR_RTX_SSRC;
    cfg.rtx_pt = OUR_RTX_PT;
    cfg.history_slots = history;
    weir_consumer *c = weir_consumer_create(&cfg);
    cr_assert_not_null(c);
    for (int i = 0; i < n; i++) {
        uint8_t payload[64], out[WEIR_CONSUMER_OUT_MAX];
        size_t len = vp8_payload(payload, (uint16_t)(100 + i), (uint8_t)i, 0, false, i == 0, true,
                                 (uint8_t)i);
        weir_pkt *p =
            make_pkt(0x77, (uint16_t)(40000 + i), 90u * (uint32_t)i, IN_PT, true, payload, len);
        p->is_keyframe = i == 0;
        p->frame_start = true;
        cr_assert_eq(weir_consumer_handle_packet(c, p, *now, NULL, out, sizeof out, &len), 1);
        weir_pkt_unref(p);
        weir_rtp h;
        cr_assert_eq(weir_rtp_parse(&h, out, len), 0);
        seqs[i] = h.seq;
        *now += gap_us;
    }
    return c;
}

/* The history ring starts small and grows while it would drop packets still
 * answerable (younger than the max age), up to the configured size. */
Test(consumer, history_grows_for_fast_streams_up_to_the_configured_size)
{
    remember_live();
    static uint16_t seqs[600];
    int64_t now = 0;
    /* 1000 pps for 0.5 s: all 500 are young, the default 512 slots keep them all */
    weir_consumer *c = forward_fast(500, 1000, 0, seqs, &now);
    cr_assert_eq(weir_pkt_live(), live_at_start + 500, "history dropped young packets");
    cr_assert_eq(weir_consumer_handle_nack(c, &seqs[0], 1, now), 1, "oldest still answerable");
    weir_consumer_destroy(c);
    assert_no_leak();

    /* a configured 128 slots is the ceiling: older seqs are gone */
    c = forward_fast(300, 1000, 128, seqs, &now);
    cr_assert_eq(weir_pkt_live(), live_at_start + 128);
    cr_assert_eq(weir_consumer_handle_nack(c, &seqs[100], 1, now), 0);
    cr_assert_eq(weir_consumer_handle_nack(c, &seqs[299 - 127], 1, now), 1);
    weir_consumer_destroy(c);
    assert_no_leak();

    /* 10 pps for 20 s: the age limit, not the ring, bounds what is kept */
    c = forward_fast(200, 100000, 0, seqs, &now);
    cr_assert_leq(weir_pkt_live(), live_at_start + 11);
    cr_assert_eq(weir_consumer_handle_nack(c, &seqs[199], 1, now), 1);
    weir_consumer_destroy(c);
    assert_no_leak();
}

/* ---- (4) sender reports ---- */

/* NTP 32.32 for a microsecond count since some epoch. */
static uint64_t ntp_of_us(int64_t us)
{
    return ((uint64_t)(us / 1000000) << 32) + (uint64_t)((us % 1000000) << 32) / 1000000;
}

static void check_sr(weir_consumer *c, int64_t now, uint32_t out_ts, uint32_t in_ts,
                     uint32_t sr_rtp, uint64_t sr_ntp, uint32_t rate)
{
    uint8_t buf[64];
    size_t len;
    cr_assert_eq(weir_consumer_write_sr(c, now, buf, sizeof buf, &len), 1);
    weir_rtcp_iter it;
    weir_rtcp_pkt pk;
    weir_rtcp_iter_init(&it, buf, len);
    cr_assert_eq(weir_rtcp_iter_next(&it, &pk), 1);
    weir_rtcp_sr sr;
    cr_assert_eq(weir_rtcp_sr_parse(&pk, &sr), 0);
    cr_assert_eq(sr.ssrc, OUR_SSRC);
    /* The publisher's NTP for the forwarded packet, via its own SR mapping... */
    double pkt_ntp_s = (double)sr_ntp / 4294967296.0 + (double)(int32_t)(in_ts - sr_rtp) / rate;
    /* ...and via ours: SR.ntp - (SR.rtp - out_ts) / rate. */
    double ours_s = (double)sr.ntp / 4294967296.0 - (double)(int32_t)(sr.rtp_ts - out_ts) / rate;
    cr_assert(ours_s - pkt_ntp_s < 0.001 && pkt_ntp_s - ours_s < 0.001,
              "SR maps the packet to %f s, the publisher to %f s", ours_s, pkt_ntp_s);
}

Test(consumer, sender_report_follows_the_publisher_mapping_across_restart)
{
    remember_live();
    weir_consumer *c = audio_consumer();
    uint8_t out[WEIR_CONSUMER_OUT_MAX];
    size_t out_len;
    uint8_t buf[64];
    size_t len;
    uint16_t twcc = 0;
    uint8_t pl[20] = {0};
    int64_t now = 3000000;
    cr_assert_eq(weir_consumer_write_sr(c, now, buf, sizeof buf, &len), 0, "nothing sent yet");
    /* Two publisher sources; each SR ties its own RTP origin to the same wall clock. */
    const struct {
        uint32_t ssrc, ts0;
        uint16_t seq0;
        int64_t start_us;
    } src[2] = {{0xa, 1000000, 100, 0}, {0xb, 3000000000u, 5000, 2000000}};
    for (int s = 0; s < 2; s++) {
        uint32_t sr_rtp = src[s].ts0 - 4800; /* an SR taken 100 ms before the first packet */
        uint64_t sr_ntp = ntp_of_us(3900000000ll * 1000000 + src[s].start_us - 100000);
        for (int i = 0; i < 50; i++) {
            uint32_t in_ts = src[s].ts0 + 960u * (uint32_t)i;
            weir_pkt *p = make_pkt(src[s].ssrc, (uint16_t)(src[s].seq0 + i), in_ts, 109, false, pl,
                                   sizeof pl);
            p->has_sr = i >= 5; /* the first SR of each source arrives a little late */
            p->sr_ntp = sr_ntp;
            p->sr_rtp_ts = sr_rtp;
            cr_assert_eq(weir_consumer_handle_packet(c, p, now, &twcc, out, sizeof out, &out_len),
                         1);
            weir_pkt_unref(p);
            weir_rtp h;
            cr_assert_eq(weir_rtp_parse(&h, out, out_len), 0);
            if (i < 5) {
                cr_assert_eq(weir_consumer_write_sr(c, now, buf, sizeof buf, &len), 0,
                             "no SR without the publisher's mapping");
            } else {
                check_sr(c, now, h.timestamp, in_ts, sr_rtp, sr_ntp, 48000);
                check_sr(c, now + 7000, h.timestamp, in_ts, sr_rtp, sr_ntp, 48000);
            }
            now += 20000;
        }
        now += 1000000;
    }
    /* RTT from the subscriber's report block echoing our last SR */
    cr_assert_eq(weir_consumer_write_sr(c, now, buf, sizeof buf, &len), 1);
    weir_rtcp_iter it;
    weir_rtcp_pkt pk;
    weir_rtcp_sr sr;
    weir_rtcp_iter_init(&it, buf, len);
    cr_assert_eq(weir_rtcp_iter_next(&it, &pk), 1);
    cr_assert_eq(weir_rtcp_sr_parse(&pk, &sr), 0);
    cr_assert_eq(sr.packet_count, 100);
    cr_assert_eq(sr.octet_count, 100 * sizeof pl);
    weir_rtcp_report_block b = {
        .ssrc = OUR_SSRC, .lsr = weir_rtcp_ntp_mid32(sr.ntp), .dlsr = 65536 / 2};
    cr_assert_eq(weir_consumer_handle_report_block(c, &b, now + 540000), 40000);
    b.lsr++;
    cr_assert_eq(weir_consumer_handle_report_block(c, &b, now + 540000), -1);
    weir_consumer_destroy(c);
    assert_no_leak();
}

/* ---- robustness ---- */

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

Test(consumer, random_vp8_payloads_do_not_crash)
{
    remember_live();
    weir_consumer_config cfg = video_config(3);
    cfg.rtx_ssrc = OUR_RTX_SSRC;
    cfg.ext_twcc = 2;
    cfg.ext_mid = 1;
    strcpy(cfg.mid, "0123456789abcdef0123"); /* two-byte extension form */
    weir_consumer *c = weir_consumer_create(&cfg);
    uint32_t rng = 12345;
    uint16_t twcc = 0;
    uint16_t seqs[3] = {0};
    int64_t now = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t payload[1200];
        size_t n = next_rand(&rng) % (i % 7 == 0 ? 1200 : 24);
        for (size_t k = 0; k < n; k++)
            payload[k] = (uint8_t)next_rand(&rng);
        uint32_t r = next_rand(&rng);
        uint8_t layer = (uint8_t)(r % 3);
        weir_pkt *p =
            make_pkt(0x10 + layer + (r % 997 == 0), seqs[layer]++, (uint32_t)(i / 3) * 3000,
                     (r >> 8) % 50 ? IN_PT : 97, r & 0x1000, payload, n);
        p->layer = layer;
        p->temporal = (uint8_t)((r >> 2) % 4);
        p->is_keyframe = (r >> 4) % 5 == 0;
        p->frame_start = p->is_keyframe || (r >> 5) % 2;
        p->layer_sync = (r >> 6) % 2;
        uint8_t out[WEIR_CONSUMER_OUT_MAX];
        size_t len;
        int rc = weir_consumer_handle_packet(c, p, now, &twcc, out, sizeof out, &len);
        weir_pkt_unref(p);
        cr_assert(rc == 0 || rc == 1, "rc %d", rc);
        weir_rtp h;
        if (rc == 1)
            cr_assert_eq(weir_rtp_parse(&h, out, len), 0);
        if (i % 50 == 0) {
            uint16_t nack[4];
            for (int k = 0; k < 4; k++)
                nack[k] = (uint16_t)next_rand(&rng);
            if (rc == 1)
                nack[0] = h.seq;
            weir_consumer_handle_nack(c, nack, 4, now + 20000);
            while (weir_consumer_poll_retransmit(c, now, &twcc, out, sizeof out, &len) == 1)
                cr_assert_eq(weir_rtp_parse(&h, out, len), 0);
        }
        weir_consumer_event ev;
        while (weir_consumer_poll_event(c, &ev) == 1)
            ;
        if (i % 1000 == 0)
            weir_consumer_set_preferences(c, (int)(r % 3), (int)((r >> 3) % 4));
        now += 3000;
    }
    weir_consumer_stats st;
    weir_consumer_get_stats(c, &st);
    cr_assert_gt(st.packets_sent, 0);
    weir_consumer_destroy(c);
    assert_no_leak();
}

Test(consumer, too_small_buffer_is_an_error)
{
    remember_live();
    weir_consumer_config cfg = video_config(1);
    weir_consumer *c = weir_consumer_create(&cfg);
    uint8_t payload[64];
    size_t n = vp8_payload(payload, 1, 1, 0, false, true, true, 0);
    weir_pkt *p = make_pkt(1, 1, 1, IN_PT, true, payload, n);
    p->is_keyframe = true;
    p->frame_start = true;
    uint8_t out[20];
    size_t len;
    cr_assert_eq(weir_consumer_handle_packet(c, p, 0, NULL, out, sizeof out, &len), -WEIR_ETOOBIG);
    weir_pkt_unref(p);
    weir_consumer_destroy(c);
    assert_no_leak();
}
