#include "rtc/consumer_internal.h"

#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"

/* ---- configuration ---- */

void weir_consumer_config_init(weir_consumer_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->codec = WEIR_CODEC_VP8;
    cfg->clock_rate_hz = 90000;
    cfg->n_layers = 1;
    cfg->in_red_pt = -1;
}

static bool config_valid(const weir_consumer_config *cfg)
{
    if (cfg->clock_rate_hz == 0 || cfg->in_pt < 0 || cfg->in_pt > 127 || cfg->in_red_pt > 127)
        return false;
    if (!cfg->is_audio && (cfg->n_layers < 1 || cfg->n_layers > WEIR_SIMULCAST_MAX_SPATIAL))
        return false;
    const char *end = memchr(cfg->mid, 0, sizeof cfg->mid);
    if (cfg->ext_mid && (!end || end == cfg->mid))
        return false;
    return true;
}

static size_t history_size(const weir_consumer_config *cfg)
{
    size_t want = cfg->history_slots;
    if (want == 0)
        want = cfg->is_audio ? WEIR_CONSUMER_AUDIO_HISTORY : WEIR_CONSUMER_VIDEO_HISTORY;
    if (want > WEIR_CONSUMER_MAX_HISTORY)
        want = WEIR_CONSUMER_MAX_HISTORY;
    /* A power of two dividing 2^16, so out_seq & mask stays one slot across the wrap. */
    size_t n = 16;
    while (n < want)
        n <<= 1;
    return n;
}

weir_consumer *weir_consumer_create(const weir_consumer_config *cfg)
{
    if (!config_valid(cfg))
        return NULL;
    weir_consumer *c = WEIR_NEW(weir_consumer);
    c->cfg = *cfg;
    c->mid_len = cfg->ext_mid ? strlen(cfg->mid) : 0;
    size_t n = history_size(cfg);
    /* The history ring starts at WEIR_CONSUMER_HISTORY_FIRST slots and
     * doubles up to n only while it would evict packets younger than
     * WEIR_CONSUMER_HISTORY_MAX_AGE_US: a 200 pps video stream needs 256
     * slots (10 KiB), not the 512 (20 KiB) sized for the fastest. */
    size_t first = n < WEIR_CONSUMER_HISTORY_FIRST ? n : WEIR_CONSUMER_HISTORY_FIRST;
    c->hist = weir_calloc(first, sizeof *c->hist);
    c->hist_mask = (uint16_t)(first - 1);
    c->hist_max_mask = (uint16_t)(n - 1);
    c->rtx_queue = weir_calloc(n, sizeof *c->rtx_queue);
    c->rtx_cap = n;
    c->rtx_seq = cfg->rtx_seq_start;
    c->last_now_us = INT64_MIN;
    weir_simulcast_selector_init(&c->sel);
    weir_seqmap_init(&c->seq, WEIR_SEQMAP_RTP_BITS);
    weir_tsmap_init(&c->ts, cfg->clock_rate_hz);
    weir_vp8_rewriter_init(&c->vp8);
    c->st.spatial = WEIR_SIMULCAST_NO_LAYER;
    c->st.temporal = WEIR_SIMULCAST_NO_LAYER;
    return c;
}

void weir_consumer_destroy(weir_consumer *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->hist_mask; i++)
        weir_pkt_unref(c->hist[i].pkt);
    weir_free(c->hist);
    weir_free(c->rtx_queue);
    weir_free(c);
}

/* ---- inputs from the subscriber and the estimator ---- */

int weir_consumer_set_preferences(weir_consumer *c, int max_spatial, int max_temporal)
{
    if (max_spatial < 0 || max_spatial >= WEIR_SIMULCAST_MAX_SPATIAL || max_temporal < 0 ||
        max_temporal >= WEIR_SIMULCAST_MAX_TEMPORAL)
        return -WEIR_EINVAL;
    if (c->cfg.is_audio)
        return 0;
    return weir_simulcast_selector_set_preferences(&c->sel, max_spatial, max_temporal);
}

/* The next forwarded packet comes from a new source (or after a gap of our making). */
static void resync_maps(weir_consumer *c)
{
    weir_seqmap_sync(&c->seq);
    weir_tsmap_sync(&c->ts);
    weir_vp8_rewriter_sync(&c->vp8);
    c->has_src_sr = false;
    c->has_ref = false;
}

void weir_consumer_set_paused(weir_consumer *c, bool paused)
{
    if (paused == c->paused)
        return;
    c->paused = paused;
    if (!c->cfg.is_audio)
        weir_simulcast_selector_set_paused(&c->sel, paused);
    else if (!paused)
        /* Resuming continues the numbering and moves timestamps by the paused time (T2). */
        resync_maps(c);
}

int weir_consumer_set_cap_layer(weir_consumer *c, int spatial, int temporal)
{
    if (c->cfg.is_audio)
        return 0;
    return weir_simulcast_selector_set_cap_layer(&c->sel, spatial, temporal);
}

void weir_consumer_set_cap_bitrate(weir_consumer *c, uint32_t max_bitrate_bps)
{
    if (!c->cfg.is_audio)
        weir_simulcast_selector_set_cap_bitrate(&c->sel, max_bitrate_bps);
}

void weir_consumer_set_rtt(weir_consumer *c, int64_t rtt_us)
{
    c->rtt_us = rtt_us > 0 ? rtt_us : 0;
}

int weir_consumer_handle_keyframe_request(weir_consumer *c)
{
    if (c->cfg.is_audio)
        return -1;
    return weir_simulcast_selector_current_spatial(&c->sel);
}

int weir_consumer_poll_event(weir_consumer *c, weir_consumer_event *out)
{
    weir_simulcast_event ev;
    if (!c->cfg.is_audio && weir_simulcast_selector_poll_event(&c->sel, &ev) == 1) {
        *out = (weir_consumer_event){WEIR_CONSUMER_EVENT_LAYER_CHANGED, ev.spatial, ev.temporal};
        return 1;
    }
    for (int l = 0; l < WEIR_SIMULCAST_MAX_SPATIAL; l++) {
        if (c->kf_mask & (1u << l)) {
            c->kf_mask &= (uint8_t) ~(1u << l);
            *out = (weir_consumer_event){WEIR_CONSUMER_EVENT_KEYFRAME_REQUEST, (int8_t)l, -1};
            return 1;
        }
    }
    return 0;
}

void weir_consumer_get_stats(const weir_consumer *c, weir_consumer_stats *out)
{
    *out = c->st;
    if (c->cfg.is_audio) {
        out->spatial = (int8_t)(c->paused ? -1 : 0);
        out->temporal = out->spatial;
    } else {
        out->spatial = (int8_t)weir_simulcast_selector_current_spatial(&c->sel);
        out->temporal = (int8_t)weir_simulcast_selector_current_temporal(&c->sel);
    }
}

/* ---- the packet path ---- */

static int64_t clamp_now(weir_consumer *c, int64_t now_us)
{
    if (now_us < c->last_now_us)
        return c->last_now_us;
    c->last_now_us = now_us;
    return now_us;
}

static int drop(weir_consumer *c, weir_consumer_drop_reason reason)
{
    c->st.dropped[reason]++;
    return 0;
}

/* Our PT for the pkt's, or -1 when the track did not negotiate it. */
static int map_payload_type(const weir_consumer *c, const weir_pkt *p)
{
    if (p->rtp.payload_type == c->cfg.in_pt)
        return c->cfg.pt;
    if (c->cfg.in_red_pt >= 0 && p->rtp.payload_type == c->cfg.in_red_pt)
        return c->cfg.red_pt;
    return -1;
}

/* C4: a new SSRC, or a jump no reordering explains, is a new source. */
static bool detect_restart(weir_consumer_layer *t, const weir_pkt *p)
{
    if (!t->seen) {
        t->seen = true;
        t->ssrc = p->rtp.ssrc;
        t->max_seq = p->rtp.seq;
        return false;
    }
    int16_t ahead = (int16_t)(uint16_t)(p->rtp.seq - t->max_seq);
    if (p->rtp.ssrc != t->ssrc || ahead > WEIR_CONSUMER_SEQ_JUMP ||
        ahead < -WEIR_CONSUMER_SEQ_JUMP) {
        t->ssrc = p->rtp.ssrc;
        t->max_seq = p->rtp.seq;
        return true;
    }
    if (ahead > 0)
        t->max_seq = p->rtp.seq;
    return false;
}

/*
 * Layer activity from arrivals (see the header): the first packet starts every
 * announced layer's clock, so the top layer is the target from the start.
 */
static void update_activity(weir_consumer *c, int layer, int64_t now_us)
{
    if (!c->started) {
        c->started = true;
        for (int l = 0; l < c->cfg.n_layers; l++) {
            c->layers[l].active = true;
            c->layers[l].last_us = now_us;
            weir_simulcast_selector_set_layer_active(&c->sel, l, true);
        }
    }
    c->layers[layer].active = true;
    c->layers[layer].last_us = now_us;
    for (int l = 0; l < WEIR_SIMULCAST_MAX_SPATIAL; l++) {
        weir_consumer_layer *t = &c->layers[l];
        if (t->active && now_us - t->last_us > WEIR_SIMULCAST_INACTIVE_US) {
            t->active = false;
            weir_simulcast_selector_set_layer_active(&c->sel, l, false);
        }
    }
}

/* The publisher's SR for the forwarded source and the newest forwarded point, for write_sr. */
static void note_sr_source(weir_consumer *c, const weir_pkt *p, uint32_t out_ts, int64_t now_us)
{
    if (p->has_sr) {
        c->has_src_sr = true;
        c->src_sr_ntp = p->sr_ntp;
        c->src_sr_rtp = p->sr_rtp_ts;
    }
    if (!c->has_ref || (int32_t)(out_ts - c->ref_out_ts) >= 0) {
        c->has_ref = true;
        c->ref_out_ts = out_ts;
        c->ref_us = now_us;
    }
}

/*
 * Maps seq, PictureID and timestamp (in that order: a refused sequence
 * number must not consume a PictureID, or the receiver waits for a frame
 * that never comes), writes the packet and keeps it in the history.
 */
static int forward_packet(weir_consumer *c, weir_pkt *p, const weir_vp8_desc *d, uint8_t out_pt,
                          int64_t now_us, uint16_t *twcc_seq, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    uint32_t out_seq;
    if (weir_seqmap_forward(&c->seq, p->rtp.seq, &out_seq) != WEIR_SEQMAP_OK)
        return drop(c, WEIR_CONSUMER_DROP_OLD);
    weir_consumer_sent s = {.pkt = p, .out_seq = (uint16_t)out_seq, .out_pt = out_pt};
    if (d) {
        if (weir_vp8_rewriter_map(&c->vp8, d, &s.ids) != WEIR_SEQMAP_OK)
            return drop(c, WEIR_CONSUMER_DROP_OLD);
        s.has_ids = true;
    }
    s.out_ts = weir_tsmap_map(&c->ts, p->rtp.timestamp, now_us);
    note_sr_source(c, p, s.out_ts, now_us);
    int n = weir_consumer_build(c, &s, d, now_us, twcc_seq, out, cap);
    if (n < 0)
        return n;
    weir_consumer_history_store(c, &s, now_us);
    c->st.packets_sent++;
    c->st.bytes_sent += (uint64_t)n;
    c->sr_packets++;
    c->sr_octets += p->rtp.payload_len;
    *out_len = (size_t)n;
    return 1;
}

static weir_consumer_drop_reason selector_reason(weir_simulcast_drop_reason r)
{
    switch (r) {
    case WEIR_SIMULCAST_DROP_OTHER_LAYER:
        return WEIR_CONSUMER_DROP_OTHER_LAYER;
    case WEIR_SIMULCAST_DROP_WAIT_KEYFRAME:
        return WEIR_CONSUMER_DROP_WAIT_KEYFRAME;
    case WEIR_SIMULCAST_DROP_TEMPORAL:
        return WEIR_CONSUMER_DROP_TEMPORAL;
    default:
        return WEIR_CONSUMER_DROP_PAUSED;
    }
}

/*
 * The VP8 descriptor, for the PictureID rewrite. A payload that does not
 * parse is forwarded untouched (the selector decides on the producer's pkt
 * flags): nothing to rewrite, and dropping it would open a sequence gap.
 */
static const weir_vp8_desc *parse_vp8(weir_consumer *c, const weir_pkt *p, weir_vp8_desc *d)
{
    if (c->cfg.codec != WEIR_CODEC_VP8 || p->rtp.payload_len == 0)
        return NULL;
    if (weir_vp8_parse(d, weir_rtp_payload(&p->rtp, p->data), p->rtp.payload_len) < 0)
        return NULL;
    return d;
}

static weir_simulcast_pkt selector_input(const weir_pkt *p, bool media, int64_t now_us)
{
    /* A packet with nothing to forward is never a switching point. */
    return (weir_simulcast_pkt){
        .now_us = now_us,
        .spatial = p->layer,
        .temporal = p->temporal,
        .layer_sync = media && p->layer_sync,
        .is_keyframe = media && p->is_keyframe,
        .is_first_packet_of_frame = media && p->frame_start,
        .marker = p->rtp.marker,
    };
}

/*
 * Packets of the forwarded stream that we do not send (temporal filtering,
 * padding, a payload type we do not forward) are recorded in the maps so
 * they leave no gap (seqmap G1); other layers' packets never touch them (G7).
 */
static void drop_in_stream(weir_consumer *c, const weir_pkt *p, const weir_vp8_desc *d)
{
    weir_seqmap_drop(&c->seq, p->rtp.seq);
    if (d)
        weir_vp8_rewriter_drop(&c->vp8, d);
}

static int handle_video(weir_consumer *c, weir_pkt *p, int64_t now_us, uint16_t *twcc_seq,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    if (p->layer >= WEIR_SIMULCAST_MAX_SPATIAL || p->temporal >= WEIR_SIMULCAST_MAX_TEMPORAL)
        return drop(c, WEIR_CONSUMER_DROP_BAD);
    if (detect_restart(&c->layers[p->layer], p)) {
        c->st.restarts++;
        weir_simulcast_selector_restart_layer(&c->sel, p->layer);
    }
    update_activity(c, p->layer, now_us);
    int pt = map_payload_type(c, p);
    bool media = pt >= 0 && p->rtp.payload_len > 0;
    weir_simulcast_pkt sp = selector_input(p, media, now_us);
    weir_simulcast_decision dec;
    if (weir_simulcast_selector_handle_packet(&c->sel, &sp, &dec) < 0)
        return drop(c, WEIR_CONSUMER_DROP_BAD);
    if (dec.keyframe_request >= 0)
        c->kf_mask |= (uint8_t)(1u << dec.keyframe_request);
    weir_vp8_desc desc;
    const weir_vp8_desc *d = media ? parse_vp8(c, p, &desc) : NULL;
    if (dec.forward && !media) {
        drop_in_stream(c, p, d);
        return drop(c, pt < 0 ? WEIR_CONSUMER_DROP_UNKNOWN_PT : WEIR_CONSUMER_DROP_PADDING);
    }
    if (!dec.forward) {
        if (dec.in_stream)
            drop_in_stream(c, p, d);
        return drop(c, selector_reason(dec.reason));
    }
    if (dec.resync)
        resync_maps(c);
    if (media && c->cfg.codec == WEIR_CODEC_VP8 && !d)
        c->st.vp8_unparsed++;
    return forward_packet(c, p, d, (uint8_t)pt, now_us, twcc_seq, out, cap, out_len);
}

static int handle_audio(weir_consumer *c, weir_pkt *p, int64_t now_us, uint16_t *twcc_seq,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    if (detect_restart(&c->layers[0], p)) {
        c->st.restarts++;
        resync_maps(c);
    }
    if (c->paused)
        return drop(c, WEIR_CONSUMER_DROP_PAUSED);
    int pt = map_payload_type(c, p);
    if (pt < 0 || p->rtp.payload_len == 0) {
        drop_in_stream(c, p, NULL);
        return drop(c, pt < 0 ? WEIR_CONSUMER_DROP_UNKNOWN_PT : WEIR_CONSUMER_DROP_PADDING);
    }
    return forward_packet(c, p, NULL, (uint8_t)pt, now_us, twcc_seq, out, cap, out_len);
}

int weir_consumer_handle_packet(weir_consumer *c, weir_pkt *p, int64_t now_us, uint16_t *twcc_seq,
                                uint8_t *out, size_t cap, size_t *out_len)
{
    now_us = clamp_now(c, now_us);
    weir_consumer_history_expire(c, now_us);
    if (c->cfg.is_audio)
        return handle_audio(c, p, now_us, twcc_seq, out, cap, out_len);
    return handle_video(c, p, now_us, twcc_seq, out, cap, out_len);
}

void weir_consumer_handle_timeout(weir_consumer *c, int64_t now_us)
{
    weir_consumer_history_expire(c, clamp_now(c, now_us));
}
