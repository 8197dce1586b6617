/*
 * Media timing: one 5 ms GLib tick compares the monotonic clock with the
 * next video and audio deadlines, so frames keep their rate however late a
 * tick runs (GLib timeouts drift by their dispatch latency each period).
 *
 * Deadlines and RTP timestamps follow the nominal schedule (sync_marks.h):
 * video frame n is due at start + n / fps and stamped with that time, audio
 * frame m at start + m x 20 ms, whatever time the tick really runs. After a
 * stall the schedule skips ahead (no burst to catch up) and the indexes jump
 * with it, so timestamps stay on the time line. Sender Reports pair the NTP
 * of one wall-clock reading with the RTP time of that same instant
 * (base + elapsed x clock rate), the same way for every stream, so that a
 * receiver lines audio and video up on the publisher's wall clock.
 */
#include "publisher.h"

#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "base/clock.h"
#include "base/rand.h"
#include "pc.h"
#include "peer/srtp.h"
#include "proto/rtcp.h"
#include "proto/rtcp_fb.h"
#include "proto/rtp.h"
#include "proto/sdp.h"
#include "sdp_build.h"
#include "shell/sctp.h"
#include "sync_marks.h"
#include "video_source.h"
#include "vp8_packetizer.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define TICK_MS 5
#define MAX_PAYLOAD 1100 /* RTP payload: leaves room for header, extensions, SRTP tag under 1200 */
#define PKT_BUF 1500
#define HISTORY 1024
#define SR_INTERVAL_US 1000000
/* The first SR soon after media starts (both tracks have sent by then), so
 * that receivers can line tracks up early, as libwebrtc does. */
#define FIRST_SR_US 100000
#define AUDIO_BITRATE_BPS 32000
#define TONE_HZ 440.0
#define NTP_UNIX_OFFSET 2208988800ull
#define VIDEO_CLOCK_HZ 90000
#define AUDIO_STALL_US 100000 /* audio more late than this skips ahead */
#define VIDEO_STALL_FRAMES 5  /* video more frames late than this skips ahead */

typedef struct sent_pkt {
    bool valid;
    bool marker;
    uint16_t seq;
    uint16_t len;
    uint32_t timestamp;
    uint8_t payload[MAX_PAYLOAD];
} sent_pkt;

typedef struct stream_counters {
    uint64_t packets, bytes;
} stream_counters;

typedef struct layer {
    char rid[4]; /* "" without simulcast */
    uint32_t ssrc, rtx_ssrc;
    uint16_t seq, rtx_seq;
    uint16_t picture_id;
    int width, height;
    bool force_keyframe;
    /* owned: */
    wc_video_source *src;
    sent_pkt *history;
    /* counters: */
    stream_counters c;
    uint64_t frames, keyframes, dropped_by_encoder, plis, firs, nacked, retransmits, rtx_misses;
} layer;

struct wc_publisher {
    wc_publisher_config cfg;
    wc_publisher_callbacks cb;
    /* borrowed: */
    void *user;
    GMainContext *ctx;
    wc_sig *sig;
    /* owned: */
    wc_pc *pc;
    wc_dc *dc;
    wc_audio_source *audio;
    GSource *tick;
    char cname[32];
    /* state: */
    weir_rand rand;
    layer layers[WC_MAX_LAYERS];
    size_t n_layers;
    uint32_t audio_ssrc;
    uint16_t audio_seq;
    uint32_t audio_ts_base;
    stream_counters audio_c;
    uint64_t audio_frames;
    uint16_t twcc_seq;
    uint32_t frame_number; /* painted: counts frames sent, 1 first */
    uint32_t video_ts_base;
    /* The nominal schedule: indexes of the next video and audio frames. */
    uint64_t next_video_n, next_audio_m;
    uint64_t video_skipped, audio_skipped; /* frames the schedule skipped after stalls */
    int64_t start_us, start_wall_us, next_sr_us;
    wc_sync_marks marks;
    uint64_t *marks_sent; /* mark indexes k whose flash or beep went out, ascending */
    size_t n_marks_sent, cap_marks_sent;
    bool answered;
    bool failed;
    json_t *early_candidates; /* server candidates that arrived before the answer */
    uint64_t rtcp_received, rtcp_invalid;
    uint32_t dc_max_message_size;
};

/* ---- sending ---- */

static void fail(wc_publisher *p, const char *why)
{
    if (p->failed)
        return;
    p->failed = true;
    if (p->cb.on_failed)
        p->cb.on_failed(p->user, why);
}

/* Extensions every packet carries (RFC 8285): mid, (r)rid, abs-send-time, twcc seq. */
static size_t build_exts(wc_publisher *p, weir_rtp_ext *exts, const char *mid, const char *rid,
                         bool repaired, int64_t now_us, uint8_t abs[3], uint8_t twcc[2])
{
    size_t n = 0;
    exts[n++] =
        (weir_rtp_ext){.id = WC_EXT_MID, .len = (uint8_t)strlen(mid), .data = (const uint8_t *)mid};
    if (rid && rid[0])
        exts[n++] = (weir_rtp_ext){.id = repaired ? WC_EXT_RRID : WC_EXT_RID,
                                   .len = (uint8_t)strlen(rid),
                                   .data = (const uint8_t *)rid};
    weir_rtp_abs_send_time_write(abs, weir_rtp_abs_send_time_from_us(now_us));
    exts[n++] = (weir_rtp_ext){.id = WC_EXT_ABS_SEND_TIME, .len = 3, .data = abs};
    weir_rtp_twcc_seq_write(twcc, p->twcc_seq++);
    exts[n++] = (weir_rtp_ext){.id = WC_EXT_TWCC, .len = 2, .data = twcc};
    return n;
}

static void send_packet(wc_publisher *p, const weir_rtp_fields *f, const uint8_t *payload,
                        size_t len, stream_counters *c)
{
    uint8_t buf[PKT_BUF];
    int n = weir_rtp_write(buf, sizeof buf - WEIR_SRTP_MAX_RTCP_OVERHEAD, f, payload, len, 0);
    if (n < 0)
        return;
    if (wc_pc_send_rtp(p->pc, buf, (size_t)n, sizeof buf) == 0) {
        c->packets++;
        c->bytes += len;
    }
}

static void send_frame(wc_publisher *p, layer *l, const wc_encoded_frame *ef, uint32_t ts,
                       int64_t now_us)
{
    size_t n = wc_vp8_packet_count(ef->len, MAX_PAYLOAD);
    for (size_t i = 0; i < n; i++) {
        uint8_t payload[MAX_PAYLOAD];
        int len = wc_vp8_packetize(ef->data, ef->len, l->picture_id, MAX_PAYLOAD, i, payload,
                                   sizeof payload);
        if (len < 0)
            return;
        weir_rtp_ext exts[4];
        uint8_t abs[3], twcc[2];
        weir_rtp_fields f = {.ssrc = l->ssrc,
                             .timestamp = ts,
                             .seq = l->seq++,
                             .payload_type = WC_PT_VP8,
                             .marker = i + 1 == n};
        f.exts = exts;
        f.ext_count = build_exts(p, exts, WC_MID_VIDEO, l->rid, false, now_us, abs, twcc);
        sent_pkt *h = &l->history[f.seq % HISTORY];
        h->valid = true;
        h->seq = f.seq;
        h->marker = f.marker;
        h->timestamp = ts;
        h->len = (uint16_t)len;
        memcpy(h->payload, payload, (size_t)len);
        send_packet(p, &f, payload, (size_t)len, &l->c);
    }
    l->picture_id = (uint16_t)((l->picture_id + 1) & 0x7fff);
}

/* Mark k's flash or beep went out: listed once for the report. */
static void note_mark(wc_publisher *p, uint64_t k)
{
    if (p->n_marks_sent > 0 && p->marks_sent[p->n_marks_sent - 1] >= k)
        return;
    if (p->n_marks_sent == p->cap_marks_sent) {
        p->cap_marks_sent = p->cap_marks_sent ? 2 * p->cap_marks_sent : 32;
        p->marks_sent = weir_realloc(p->marks_sent, p->cap_marks_sent * sizeof *p->marks_sent);
    }
    p->marks_sent[p->n_marks_sent++] = k;
}

/* Frame n of the nominal schedule, on every layer. */
static void send_video(wc_publisher *p, uint64_t n, int64_t now_us)
{
    p->frame_number++;
    wc_pattern_info info = {.frame_number = p->frame_number,
                            .send_ms = (uint32_t)weir_clock_wall_ms()};
    uint32_t ts = p->video_ts_base + (uint32_t)wc_media_frame_ticks(n, p->cfg.fps, VIDEO_CLOCK_HZ);
    uint64_t mark = wc_sync_marks_frame_mark(&p->marks, n);
    bool sent = false;
    /* What a browser does when its bandwidth estimate falls: the top layer stops. */
    bool top_stopped = p->cfg.stop_top_layer_after_ms && p->n_layers > 1 &&
                       n * 1000 / (uint64_t)p->cfg.fps >= p->cfg.stop_top_layer_after_ms;
    for (size_t i = 0; i < p->n_layers; i++) {
        layer *l = &p->layers[i];
        if (top_stopped && i == p->n_layers - 1)
            continue;
        wc_encoded_frame ef;
        bool kf = l->force_keyframe || l->frames == 0;
        int r = wc_video_source_encode_flash(l->src, &info, mark != 0, kf, &ef);
        if (r <= 0) {
            l->dropped_by_encoder++;
            continue;
        }
        l->force_keyframe = false;
        l->frames++;
        l->keyframes += ef.keyframe;
        send_frame(p, l, &ef, ts, now_us);
        sent = true;
    }
    if (mark && sent)
        note_mark(p, mark);
}

/* Audio frame m of the nominal schedule: samples m x 960 .. m x 960 + 959. */
static void send_audio(wc_publisher *p, uint64_t m, int64_t now_us)
{
    uint8_t payload[WC_AUDIO_MAX_PACKET];
    uint64_t first_sample = m * WC_AUDIO_FRAME_SAMPLES;
    uint64_t mark = 0;
    /* RFC 6464 -dBov: a 0.3 full-scale sine is about -10, the 0.5 beep -9; 127 is silence. */
    uint8_t dbov = 10;
    int len;
    if (p->marks.period_ms) {
        int16_t pcm[WC_AUDIO_FRAME_SAMPLES];
        mark = wc_sync_marks_fill_audio(&p->marks, first_sample, pcm, WC_AUDIO_FRAME_SAMPLES);
        bool sound = false;
        for (size_t i = 0; i < WC_AUDIO_FRAME_SAMPLES && !sound; i++)
            sound = pcm[i] != 0;
        dbov = sound ? 9 : 127;
        len = wc_audio_source_encode_pcm(p->audio, pcm, payload, sizeof payload);
    } else {
        len = wc_audio_source_encode(p->audio, payload, sizeof payload);
    }
    if (len <= 0)
        return;
    if (mark)
        note_mark(p, mark);
    weir_rtp_ext exts[5];
    uint8_t abs[3], twcc[2], level[1];
    weir_rtp_fields f = {.ssrc = p->audio_ssrc,
                         .timestamp = p->audio_ts_base + (uint32_t)first_sample,
                         .seq = p->audio_seq++,
                         .payload_type = WC_PT_OPUS,
                         .marker = p->audio_frames == 0};
    f.exts = exts;
    f.ext_count = build_exts(p, exts, WC_MID_AUDIO, NULL, false, now_us, abs, twcc);
    weir_rtp_audio_level_write(level, dbov != 127, dbov);
    exts[f.ext_count++] = (weir_rtp_ext){.id = WC_EXT_AUDIO_LEVEL, .len = 1, .data = level};
    p->audio_frames++;
    send_packet(p, &f, payload, (size_t)len, &p->audio_c);
}

static void retransmit(wc_publisher *p, layer *l, uint16_t seq, int64_t now_us)
{
    const sent_pkt *h = &l->history[seq % HISTORY];
    l->nacked++;
    if (!h->valid || h->seq != seq) {
        l->rtx_misses++;
        return;
    }
    uint8_t payload[MAX_PAYLOAD + 2];
    payload[0] = (uint8_t)(seq >> 8);
    payload[1] = (uint8_t)seq;
    memcpy(payload + 2, h->payload, h->len);
    weir_rtp_ext exts[4];
    uint8_t abs[3], twcc[2];
    weir_rtp_fields f = {.ssrc = l->rtx_ssrc,
                         .timestamp = h->timestamp,
                         .seq = l->rtx_seq++,
                         .payload_type = WC_PT_VP8_RTX,
                         .marker = h->marker};
    f.exts = exts;
    f.ext_count = build_exts(p, exts, WC_MID_VIDEO, l->rid, true, now_us, abs, twcc);
    stream_counters rtx_c = {0};
    send_packet(p, &f, payload, (size_t)h->len + 2, &rtx_c);
    l->retransmits += rtx_c.packets;
}

/* Unix microseconds as NTP 32.32. */
static uint64_t ntp_from_unix_us(int64_t us)
{
    uint64_t sec = (uint64_t)(us / 1000000) + NTP_UNIX_OFFSET;
    uint64_t frac = ((uint64_t)(us % 1000000) << 32) / 1000000;
    return sec << 32 | frac;
}

static void send_sr(wc_publisher *p, uint32_t ssrc, const stream_counters *c, uint64_t ntp,
                    uint32_t rtp_ts)
{
    if (c->packets == 0)
        return;
    uint8_t buf[256];
    weir_rtcp_sr sr = {.ssrc = ssrc,
                       .ntp = ntp,
                       .rtp_ts = rtp_ts,
                       .packet_count = (uint32_t)c->packets,
                       .octet_count = (uint32_t)c->bytes};
    int n = weir_rtcp_sr_write(buf, 200, &sr, NULL, 0);
    if (n < 0)
        return;
    int m = weir_rtcp_sdes_write(buf + n, 200 - (size_t)n, ssrc, p->cname, strlen(p->cname));
    if (m < 0)
        return;
    wc_pc_send_rtcp(p->pc, buf, (size_t)(n + m), sizeof buf);
}

/*
 * One SR per stream, all from one reading of the monotonic clock (the RTP
 * side: base + elapsed media time in the stream's clock) and one of the wall
 * clock taken right after it (the NTP side). Encoding may have taken the
 * tick's time, so both are read here, not at the tick's start.
 */
static void send_srs(wc_publisher *p)
{
    int64_t now = weir_clock_now_us();
    /* base/clock.h has the wall clock in ms only; an SR wants better than a
     * frame's precision, so GLib's microsecond wall clock. */
    int64_t wall_us = g_get_real_time();
    int64_t elapsed = now - p->start_us;
    uint64_t ntp = ntp_from_unix_us(wall_us);
    uint32_t video_ts = p->video_ts_base + (uint32_t)wc_media_us_ticks(elapsed, VIDEO_CLOCK_HZ);
    for (size_t i = 0; i < p->n_layers; i++) /* every simulcast layer shares the video clock */
        send_sr(p, p->layers[i].ssrc, &p->layers[i].c, ntp, video_ts);
    if (p->audio)
        send_sr(p, p->audio_ssrc, &p->audio_c, ntp,
                p->audio_ts_base + (uint32_t)wc_media_us_ticks(elapsed, WC_AUDIO_RATE_HZ));
}

static gboolean on_tick(gpointer data)
{
    wc_publisher *p = data;
    int64_t now = weir_clock_now_us();
    int64_t elapsed = now - p->start_us;
    int fps = p->cfg.fps;
    if (p->n_layers > 0 && elapsed >= wc_media_frame_us(p->next_video_n, fps)) {
        send_video(p, p->next_video_n, now);
        p->next_video_n++;
        int64_t late = elapsed - wc_media_frame_us(p->next_video_n, fps);
        if (late > VIDEO_STALL_FRAMES * 1000000 / fps) {
            /* Stalled: do not burst to catch up; the next frame is the next one due. */
            uint64_t next = wc_media_frame_after(elapsed, fps);
            fprintf(stderr, "weir-client: video %lld ms late, skipping %llu frame(s)\n",
                    (long long)(late / 1000), (unsigned long long)(next - p->next_video_n));
            p->video_skipped += next - p->next_video_n;
            p->next_video_n = next;
        }
    }
    while (p->audio && elapsed >= (int64_t)p->next_audio_m * WC_AUDIO_FRAME_MS * 1000) {
        send_audio(p, p->next_audio_m, now);
        p->next_audio_m++;
        int64_t late = elapsed - (int64_t)p->next_audio_m * WC_AUDIO_FRAME_MS * 1000;
        if (late > AUDIO_STALL_US) {
            uint64_t next = (uint64_t)(elapsed / (WC_AUDIO_FRAME_MS * 1000)) + 1;
            fprintf(stderr, "weir-client: audio %lld ms late, skipping %llu frame(s)\n",
                    (long long)(late / 1000), (unsigned long long)(next - p->next_audio_m));
            p->audio_skipped += next - p->next_audio_m;
            p->next_audio_m = next;
        }
    }
    if (now >= p->next_sr_us) {
        p->next_sr_us = now + SR_INTERVAL_US;
        send_srs(p);
    }
    return G_SOURCE_CONTINUE;
}

static void start_media(wc_publisher *p)
{
    int64_t now = weir_clock_now_us();
    p->start_us = now;
    p->start_wall_us = g_get_real_time();
    p->next_video_n = 0;
    p->next_audio_m = 0;
    p->next_sr_us = now + FIRST_SR_US;
    p->tick = g_timeout_source_new(TICK_MS);
    g_source_set_callback(p->tick, on_tick, p, NULL);
    g_source_attach(p->tick, p->ctx);
}

/* ---- feedback ---- */

static layer *find_layer(wc_publisher *p, uint32_t ssrc)
{
    for (size_t i = 0; i < p->n_layers; i++)
        if (p->layers[i].ssrc == ssrc)
            return &p->layers[i];
    return NULL;
}

static void handle_feedback(wc_publisher *p, const weir_rtcp_pkt *pkt, int64_t now_us)
{
    weir_rtcp_fb fb;
    if (pkt->type == WEIR_RTCP_PSFB && weir_rtcp_fb_pli_parse(pkt, &fb) == 0) {
        layer *l = find_layer(p, fb.media_ssrc);
        if (l) {
            l->plis++;
            l->force_keyframe = true;
        }
        return;
    }
    weir_rtcp_fb_fir fir;
    if (pkt->type == WEIR_RTCP_PSFB && weir_rtcp_fb_fir_parse(pkt, &fir) == 0) {
        for (uint32_t i = 0; i < fir.entry_count; i++) {
            weir_rtcp_fb_fir_entry e;
            layer *l =
                weir_rtcp_fb_fir_entry_parse(&fir, i, &e) == 0 ? find_layer(p, e.ssrc) : NULL;
            if (l) {
                l->firs++;
                l->force_keyframe = true;
            }
        }
        return;
    }
    weir_rtcp_fb_nack nack;
    if (pkt->type == WEIR_RTCP_RTPFB && weir_rtcp_fb_nack_parse(pkt, &nack) == 0) {
        layer *l = find_layer(p, nack.media_ssrc);
        uint16_t seqs[17 * 64];
        size_t n = weir_rtcp_fb_nack_expand(&nack, seqs, sizeof seqs / sizeof seqs[0]);
        if (n > sizeof seqs / sizeof seqs[0])
            n = sizeof seqs / sizeof seqs[0];
        for (size_t i = 0; l && i < n; i++)
            retransmit(p, l, seqs[i], now_us);
    }
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    wc_publisher *p = user;
    weir_rtcp_iter it;
    weir_rtcp_pkt pkt;
    int64_t now = weir_clock_now_us();
    p->rtcp_received++;
    weir_rtcp_iter_init(&it, buf, len);
    int r;
    while ((r = weir_rtcp_iter_next(&it, &pkt)) == 1)
        if (pkt.type == WEIR_RTCP_PSFB || pkt.type == WEIR_RTCP_RTPFB)
            handle_feedback(p, &pkt, now);
    if (r < 0)
        p->rtcp_invalid++;
}

static void on_data(void *user, const uint8_t *buf, size_t len)
{
    wc_publisher *p = user;
    if (p->dc)
        wc_dc_handle_packet(p->dc, buf, len);
}

/* ---- signalling ---- */

static void on_candidate(void *user, const char *candidate)
{
    wc_publisher *p = user;
    const char *mid = p->cfg.audio ? WC_MID_AUDIO : p->cfg.video ? WC_MID_VIDEO : WC_MID_DATA;
    json_t *c = candidate ? json_pack("{s:s, s:s, s:i}", "candidate", candidate, "sdpMid", mid,
                                      "sdpMLineIndex", 0)
                          : json_null();
    wc_sig_call(p->sig, "trickle", json_pack("{s:s, s:o}", "pc", "publisher", "candidate", c), NULL,
                NULL);
}

static void on_state(void *user, wc_pc_state state, const char *detail)
{
    wc_publisher *p = user;
    if (state == WC_PC_CONNECTED) {
        fprintf(stderr, "weir-client: publisher connected (%s)\n", detail);
        if (p->cfg.audio || p->cfg.video)
            start_media(p);
        if (p->dc && wc_dc_start(p->dc, p->pc) < 0)
            fail(p, "data channels: the SCTP association could not be created");
        if (p->cb.on_connected)
            p->cb.on_connected(p->user);
    } else if (state == WC_PC_FAILED) {
        char why[200];
        snprintf(why, sizeof why, "publisher connection failed: %s", detail);
        fail(p, why);
    }
}

static void add_trickled(wc_publisher *p, json_t *candidate)
{
    if (json_is_null(candidate)) {
        wc_pc_add_candidate(p->pc, NULL);
        return;
    }
    const char *c = json_string_value(json_object_get(candidate, "candidate"));
    if (c && *c)
        wc_pc_add_candidate(p->pc, c);
}

static void on_publish_result(void *user, json_t *result, json_t *error)
{
    wc_publisher *p = user;
    char why[400];
    if (!result) {
        snprintf(why, sizeof why, "publish refused: %s (code %lld)",
                 error ? json_string_value(json_object_get(error, "message")) : "no answer",
                 error ? (long long)json_integer_value(json_object_get(error, "code")) : 0LL);
        fail(p, why);
        return;
    }
    const char *sdp_text = json_string_value(json_object_get(result, "sdp"));
    weir_sdp *answer = NULL;
    char err[200] = "";
    if (!sdp_text || weir_sdp_parse(sdp_text, strlen(sdp_text), &answer, err, sizeof err) < 0) {
        snprintf(why, sizeof why, "publish: unusable answer: %s", sdp_text ? err : "no sdp");
        fail(p, why);
        return;
    }
    wc_remote_transport *rt = g_new0(wc_remote_transport, 1);
    int rc = wc_sdp_read_transport(answer, rt, err, sizeof err);
    weir_sdp_free(answer);
    if (rc == 0 && rt->setup != WEIR_SDP_SETUP_PASSIVE) {
        snprintf(err, sizeof err, "answer has a=setup:%s; weir-client only does DTLS client",
                 weir_sdp_setup_name(rt->setup));
        rc = -WEIR_EINVAL;
    }
    if (rc == 0 && p->dc && !rt->data) {
        snprintf(err, sizeof err, "the answer rejected the data channels (no application m-line)");
        rc = -WEIR_EINVAL;
    }
    if (rc == 0 && p->dc)
        wc_dc_set_remote(p->dc, rt->sctp_port, rt->max_message_size);
    if (rc == 0)
        rc = wc_pc_set_remote(p->pc, rt, err, sizeof err);
    g_free(rt);
    if (rc < 0) {
        snprintf(why, sizeof why, "publish: %s", err);
        fail(p, why);
        return;
    }
    p->answered = true;
    size_t i;
    json_t *c;
    json_array_foreach(p->early_candidates, i, c) {
        add_trickled(p, c);
    }
    json_array_clear(p->early_candidates);
}

void wc_publisher_handle_trickle(wc_publisher *p, json_t *candidate)
{
    if (!p->answered) {
        json_array_append(p->early_candidates, candidate ? candidate : json_null());
        return;
    }
    add_trickled(p, candidate);
}

void wc_publisher_start(wc_publisher *p)
{
    wc_offer_params op = {
        .ice_ufrag = wc_pc_local_ufrag(p->pc),
        .ice_pwd = wc_pc_local_pwd(p->pc),
        .fingerprint = p->cfg.fingerprint,
        .session_id = weir_rand_u64(&p->rand) >> 2,
        .cname = p->cname,
        .stream_id = "weir-client",
        .audio = p->cfg.audio,
        .audio_ssrc = p->audio_ssrc,
        .video = p->cfg.video,
        .simulcast = p->cfg.simulcast,
        .n_layers = p->n_layers,
        .data = p->dc != NULL,
        .sctp_port = WEIR_SCTP_PORT,
        .max_message_size = p->dc_max_message_size,
    };
    for (size_t i = 0; i < p->n_layers; i++)
        op.layers[i] = (wc_offer_layer){
            .rid = p->layers[i].rid, .ssrc = p->layers[i].ssrc, .rtx_ssrc = p->layers[i].rtx_ssrc};
    char *offer = wc_sdp_publish_offer(&op);
    json_t *tracks = json_array();
    if (p->cfg.audio)
        json_array_append_new(tracks,
                              json_pack("{s:s, s:s}", "mid", WC_MID_AUDIO, "source", "microphone"));
    if (p->cfg.video)
        json_array_append_new(tracks,
                              json_pack("{s:s, s:s}", "mid", WC_MID_VIDEO, "source", "camera"));
    wc_sig_call(p->sig, "publish", json_pack("{s:s, s:o}", "sdp", offer, "tracks", tracks),
                on_publish_result, p);
    weir_free(offer);
}

/* Bitrate for a layer: about 0.2 bit per pixel per frame, what libwebrtc gives VP8 at these sizes. */
static int layer_kbps(int width, int height, int fps)
{
    long kbps = (long)width * height * fps / 5000;
    return (int)(kbps < 100 ? 100 : kbps > 2500 ? 2500 : kbps);
}

static int init_layers(wc_publisher *p, char *err, size_t err_len)
{
    static const char *const rids[] = {"q", "h", "f"};
    static const int divisors[] = {4, 2, 1};
    p->n_layers = p->cfg.simulcast ? 3 : 1;
    for (size_t i = 0; i < p->n_layers; i++) {
        layer *l = &p->layers[i];
        int div = p->cfg.simulcast ? divisors[i] : 1;
        if (p->cfg.simulcast)
            snprintf(l->rid, sizeof l->rid, "%s", rids[i]);
        /* VP8 wants even sizes; round down to 2. */
        l->width = (p->cfg.width / div) & ~1;
        l->height = (p->cfg.height / div) & ~1;
        l->ssrc = (uint32_t)weir_rand_u64(&p->rand) | 1;
        l->rtx_ssrc = (uint32_t)weir_rand_u64(&p->rand) | 1;
        l->seq = (uint16_t)weir_rand_u64(&p->rand);
        l->rtx_seq = (uint16_t)weir_rand_u64(&p->rand);
        l->picture_id = (uint16_t)(weir_rand_u64(&p->rand) & 0x7fff);
        l->src = wc_video_source_create(l->width, l->height, p->cfg.fps,
                                        layer_kbps(l->width, l->height, p->cfg.fps), err, err_len);
        if (!l->src)
            return -WEIR_EINVAL;
        l->history = weir_calloc(HISTORY, sizeof(sent_pkt));
    }
    return 0;
}

wc_publisher *wc_publisher_create(GMainContext *ctx, weir_dtls_ctx *dctx, wc_sig *sig,
                                  const wc_publisher_config *cfg, const wc_publisher_callbacks *cb,
                                  void *user, char *err, size_t err_len)
{
    wc_publisher *p = WEIR_NEW(wc_publisher);
    p->cfg = *cfg;
    p->cb = *cb;
    p->user = user;
    p->ctx = ctx;
    p->sig = sig;
    p->early_candidates = json_array();
    weir_rand_seed_os(&p->rand);
    snprintf(p->cname, sizeof p->cname, "%s", cfg->cname ? cfg->cname : "weir-client");
    p->cfg.cname = p->cname;
    p->audio_ssrc = (uint32_t)weir_rand_u64(&p->rand) | 1;
    p->audio_seq = (uint16_t)weir_rand_u64(&p->rand);
    p->audio_ts_base = (uint32_t)weir_rand_u64(&p->rand);
    p->marks = (wc_sync_marks){
        .period_ms = cfg->sync_marks_ms, .fps = cfg->fps, .audio_rate_hz = WC_AUDIO_RATE_HZ};
    p->video_ts_base = (uint32_t)weir_rand_u64(&p->rand);
    if (cfg->video && init_layers(p, err, err_len) < 0)
        goto fail;
    if (cfg->audio) {
        p->audio = wc_audio_source_create(TONE_HZ, AUDIO_BITRATE_BPS, err, err_len);
        if (!p->audio)
            goto fail;
    }
    wc_pc_config pcc = {.bind_addresses = cfg->bind_addresses,
                        .n_bind_addresses = cfg->n_bind_addresses,
                        .controlling = true, /* the offerer, and Weir runs full ICE */
                        .name = "publisher",
                        .simulated_loss_pct = cfg->simulated_loss_pct};
    if (cfg->dc) {
        p->dc = wc_dc_create(ctx, cfg->dc, err, err_len);
        if (!p->dc)
            goto fail;
        p->dc_max_message_size =
            cfg->dc->max_message_size ? cfg->dc->max_message_size : WEIR_SCTP_DEFAULT_MAX_MESSAGE;
    }
    p->cfg.dc = NULL;
    wc_pc_callbacks pcb = {
        .on_candidate = on_candidate, .on_state = on_state, .on_rtcp = on_rtcp, .on_data = on_data};
    p->pc = wc_pc_create(ctx, dctx, &pcc, &pcb, p);
    if (!p->pc) {
        snprintf(err, err_len, "publisher: ICE agent could not be created");
        goto fail;
    }
    return p;
fail:
    wc_publisher_destroy(p);
    return NULL;
}

void wc_publisher_destroy(wc_publisher *p)
{
    if (!p)
        return;
    if (p->tick) {
        g_source_destroy(p->tick);
        g_source_unref(p->tick);
    }
    wc_dc_destroy(p->dc); /* before the PC it sends through */
    wc_pc_destroy(p->pc);
    for (size_t i = 0; i < p->n_layers; i++) {
        wc_video_source_destroy(p->layers[i].src);
        weir_free(p->layers[i].history);
    }
    wc_audio_source_destroy(p->audio);
    json_decref(p->early_candidates);
    weir_free(p->marks_sent);
    weir_free(p);
}

json_t *wc_publisher_report(const wc_publisher *p)
{
    json_t *layers = json_array();
    for (size_t i = 0; i < p->n_layers; i++) {
        const layer *l = &p->layers[i];
        json_array_append_new(
            layers,
            json_pack("{s:s, s:I, s:I, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                      "s:I}",
                      "rid", l->rid, "ssrc", (json_int_t)l->ssrc, "rtx_ssrc",
                      (json_int_t)l->rtx_ssrc, "width", l->width, "height", l->height, "frames",
                      (json_int_t)l->frames, "keyframes", (json_int_t)l->keyframes, "packets",
                      (json_int_t)l->c.packets, "bytes", (json_int_t)l->c.bytes, "plis",
                      (json_int_t)l->plis, "firs", (json_int_t)l->firs, "nacked",
                      (json_int_t)l->nacked, "retransmits", (json_int_t)l->retransmits,
                      "encoder_drops", (json_int_t)l->dropped_by_encoder));
    }
    wc_pc_stats st;
    wc_pc_get_stats(p->pc, &st);
    json_t *o = json_object();
    json_object_set_new(o, "connected", json_boolean(wc_pc_get_state(p->pc) == WC_PC_CONNECTED));
    json_object_set_new(o, "state", json_string(wc_pc_state_name(wc_pc_get_state(p->pc))));
    json_object_set_new(o, "srtp_profile", json_string(wc_pc_srtp_profile(p->pc)));
    json_object_set_new(o, "video_frames", json_integer((json_int_t)wc_publisher_video_frames(p)));
    json_object_set_new(o, "audio_frames", json_integer((json_int_t)p->audio_frames));
    json_object_set_new(o, "rtp_packets", json_integer((json_int_t)st.rtp_sent));
    json_object_set_new(o, "rtcp_sent", json_integer((json_int_t)st.rtcp_sent));
    json_object_set_new(o, "rtcp_received", json_integer((json_int_t)p->rtcp_received));
    json_object_set_new(o, "send_errors", json_integer((json_int_t)st.send_errors));
    json_object_set_new(o, "simulated_drops", json_integer((json_int_t)st.rtp_dropped_sent));
    json_object_set_new(o, "skipped_video_frames", json_integer((json_int_t)p->video_skipped));
    json_object_set_new(o, "skipped_audio_frames", json_integer((json_int_t)p->audio_skipped));
    json_object_set_new(o, "layers", layers);
    return o;
}

json_t *wc_publisher_sync_marks_report(const wc_publisher *p)
{
    if (!p->marks.period_ms)
        return NULL;
    json_t *marks = json_array();
    for (size_t i = 0; i < p->n_marks_sent; i++) {
        double ms = wc_sync_marks_time_ms(&p->marks, p->marks_sent[i]);
        json_array_append_new(marks, ms == (double)(json_int_t)ms ? json_integer((json_int_t)ms)
                                                                  : json_real(ms));
    }
    json_t *o = json_object();
    json_object_set_new(o, "period_ms", json_integer(p->marks.period_ms));
    json_object_set_new(o, "marks", marks);
    json_object_set_new(o, "media_start_wall_ms",
                        p->start_us ? json_real((double)p->start_wall_us / 1000.0) : json_null());
    return o;
}

uint64_t wc_publisher_video_frames(const wc_publisher *p)
{
    return p->n_layers ? p->layers[p->n_layers - 1].frames : 0;
}

uint64_t wc_publisher_audio_frames(const wc_publisher *p)
{
    return p->audio_frames;
}

wc_dc *wc_publisher_dc(const wc_publisher *p)
{
    return p->dc;
}

bool wc_publisher_connected(const wc_publisher *p)
{
    return wc_pc_get_state(p->pc) == WC_PC_CONNECTED;
}
