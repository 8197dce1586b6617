/*
 * Tracks are kept by mid across renegotiations; a mid that comes back with
 * another msid track id is a new track (the old one's numbers stay in the
 * report). Feedback goes out from one 20 ms tick: NACKs for what the
 * depacketizers miss, PLIs (at most one per 300 ms per track) for what the
 * decoders cannot use.
 */
#include "subscriber.h"

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
#include "sdp_build.h"
#include "video_sink.h"
#include "vp8_depacketizer.h"
#include "rtc/receive_stats.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define TICK_MS 20
#define PLI_MIN_INTERVAL_US 300000
#define MAX_TRACKS 64
#define MAX_NACK 64

typedef struct rx_track {
    wc_sub_media m;
    bool active; /* in the latest offer */
    uint32_t ssrc, rtx_ssrc;
    char participant[80];
    /* video: */
    wc_vp8_depack *depack;
    wc_video_decoder *dec;
    wc_video_stats stats;
    bool waiting_keyframe;
    bool want_pli;
    int64_t last_pli_us;
    uint64_t plis_sent, nack_packets_sent, frames_undecodable;
    /* receiver report (RFC 3550 §6.4.2) of the media SSRC: */
    weir_receive_stats rr;
    uint32_t rr_ssrc; /* the SSRC rr was initialised for; 0 = none yet */
    /* audio: */
    wc_audio_sink *audio;
    bool audio_started;
    uint16_t audio_last_seq;
    uint64_t audio_packets, audio_lost, audio_late;
} rx_track;

struct wc_subscriber {
    wc_subscriber_config cfg;
    wc_subscriber_callbacks cb;
    /* borrowed: */
    void *user;
    GMainContext *ctx;
    weir_dtls_ctx *dctx;
    wc_sig *sig;
    /* owned: */
    wc_pc *pc;
    GSource *tick;
    rx_track *tracks[MAX_TRACKS];
    size_t n_tracks;
    json_t *early_candidates;
    json_t *known_tracks; /* id -> track object from signalling */
    char fingerprint[WEIR_CERT_FINGERPRINT_LEN + 1];
    /* state: */
    weir_rand rand;
    uint64_t session_id, session_version;
    uint8_t ext_mid;
    bool remote_set;
    bool failed;
    uint32_t our_ssrc; /* sender SSRC of our feedback */
    int64_t last_rr_us;
    uint64_t unroutable;
};

static void fail(wc_subscriber *s, const char *why)
{
    if (s->failed)
        return;
    s->failed = true;
    if (s->cb.on_failed)
        s->cb.on_failed(s->user, why);
}

/* ---- tracks ---- */

static void track_free(rx_track *t)
{
    wc_vp8_depack_destroy(t->depack);
    wc_video_decoder_destroy(t->dec);
    wc_video_stats_deinit(&t->stats);
    wc_audio_sink_destroy(t->audio);
    weir_free(t);
}

static rx_track *track_new(const wc_sub_media *m)
{
    rx_track *t = WEIR_NEW(rx_track);
    t->m = *m;
    t->active = true;
    if (m->n_ssrcs > 0) {
        t->ssrc = m->ssrcs[0];
        t->rtx_ssrc = m->rtx_ssrcs[0];
    }
    if (m->kind == WEIR_SDP_VIDEO) {
        t->depack = wc_vp8_depack_create(NULL);
        t->dec = wc_video_decoder_create();
        wc_video_stats_init(&t->stats);
        t->waiting_keyframe = true;
    } else {
        t->audio = wc_audio_sink_create();
    }
    return t;
}

static rx_track *find_by_mid(wc_subscriber *s, const char *mid)
{
    for (size_t i = s->n_tracks; i-- > 0;)
        if (s->tracks[i]->active && strcmp(s->tracks[i]->m.mid, mid) == 0)
            return s->tracks[i];
    return NULL;
}

static void apply_desc(wc_subscriber *s, const wc_sub_desc *d)
{
    s->ext_mid = d->ext_mid;
    for (size_t i = 0; i < s->n_tracks; i++)
        s->tracks[i]->active = false;
    for (size_t i = 0; i < d->n_media; i++) {
        const wc_sub_media *m = &d->media[i];
        if (!m->accepted)
            continue;
        rx_track *t = NULL;
        for (size_t k = 0; k < s->n_tracks; k++) {
            rx_track *o = s->tracks[k];
            if (strcmp(o->m.mid, m->mid) == 0 && o->m.kind == m->kind &&
                strcmp(o->m.track_id, m->track_id) == 0)
                t = o;
        }
        if (t) {
            t->active = true;
            t->m = *m;
            if (m->n_ssrcs > 0 && m->ssrcs[0] != t->ssrc) {
                t->ssrc = m->ssrcs[0];
                t->rtx_ssrc = m->rtx_ssrcs[0];
            }
            continue;
        }
        if (s->n_tracks == MAX_TRACKS) {
            fprintf(stderr, "weir-client: subscriber: more than %d tracks, mid %s ignored\n",
                    MAX_TRACKS, m->mid);
            continue;
        }
        s->tracks[s->n_tracks++] = track_new(m);
    }
}

/* ---- feedback ---- */

static void send_rtcp(wc_subscriber *s, uint8_t *buf, int len, size_t cap)
{
    if (len > 0)
        wc_pc_send_rtcp(s->pc, buf, (size_t)len, cap);
}

static void video_feedback(wc_subscriber *s, rx_track *t, int64_t now_us)
{
    uint8_t buf[512];
    size_t cap = sizeof buf;
    if (t->ssrc == 0)
        return;
    uint16_t seqs[MAX_NACK];
    size_t n = wc_vp8_depack_nack(t->depack, now_us, seqs, MAX_NACK);
    if (n > 0) {
        send_rtcp(s, buf,
                  weir_rtcp_fb_nack_write(buf, cap - WEIR_SRTP_MAX_RTCP_OVERHEAD, s->our_ssrc,
                                          t->ssrc, seqs, n),
                  cap);
        t->nack_packets_sent++;
    }
    if (t->want_pli && now_us - t->last_pli_us >= PLI_MIN_INTERVAL_US) {
        t->want_pli = false;
        t->last_pli_us = now_us;
        t->plis_sent++;
        send_rtcp(s, buf, weir_rtcp_fb_pli_write(buf, cap, s->our_ssrc, t->ssrc), cap);
    }
}

/* ---- media ---- */

static void drain_frames(rx_track *t, int64_t now_us)
{
    wc_vp8_frame f;
    while (wc_vp8_depack_poll_frame(t->depack, now_us, &f) == 1) {
        if ((f.after_gap || t->waiting_keyframe) && !f.keyframe) {
            /* Its references may be gone: decoding it would show garbage. */
            t->waiting_keyframe = true;
            t->want_pli = true;
            t->frames_undecodable++;
            continue;
        }
        int w = 0, h = 0;
        bool info_ok = false;
        wc_pattern_info info;
        int r = wc_video_decoder_decode(t->dec, f.data, f.len, &w, &h, &info, &info_ok);
        if (r < 0) {
            t->stats.decode_errors++;
            t->waiting_keyframe = true;
            t->want_pli = true;
            continue;
        }
        t->waiting_keyframe = false;
        if (r == 1)
            wc_video_stats_add(&t->stats, weir_clock_wall_ms(), w, h, info_ok ? &info : NULL);
    }
}

static void handle_audio(rx_track *t, const weir_rtp *h, const uint8_t *buf)
{
    t->audio_packets++;
    if (t->audio_started) {
        int16_t d = (int16_t)(uint16_t)(h->seq - t->audio_last_seq);
        if (d <= 0) {
            t->audio_late++;
            return;
        }
        for (int i = 1; i < d && i < 10; i++)
            wc_audio_sink_conceal(t->audio);
        t->audio_lost += (uint64_t)(d - 1);
    }
    t->audio_started = true;
    t->audio_last_seq = h->seq;
    wc_audio_sink_decode(t->audio, weir_rtp_payload(h, buf), h->payload_len);
}

static rx_track *route(wc_subscriber *s, const weir_rtp *h, const uint8_t *buf)
{
    for (size_t i = 0; i < s->n_tracks; i++) {
        rx_track *t = s->tracks[i];
        if (t->active && (t->ssrc == h->ssrc || (t->rtx_ssrc && t->rtx_ssrc == h->ssrc)))
            return t;
    }
    weir_rtp_ext e;
    char mid[40];
    if (!s->ext_mid || weir_rtp_ext_find(h, buf, s->ext_mid, &e) < 0 ||
        weir_rtp_ext_str_parse(&e, mid, sizeof mid) < 0)
        return NULL;
    rx_track *t = find_by_mid(s, mid);
    if (!t)
        return NULL;
    /* RFC 8843 §9.2: learn the SSRC from the mid extension. */
    if (t->m.rtx_pt >= 0 && h->payload_type == t->m.rtx_pt) {
        t->rtx_ssrc = h->ssrc;
    } else if (h->payload_type == t->m.pt) {
        if (t->ssrc && t->ssrc != h->ssrc && t->depack) {
            /* A new sender SSRC for this mid: a new sequence space. */
            wc_vp8_depack_destroy(t->depack);
            t->depack = wc_vp8_depack_create(NULL);
            t->waiting_keyframe = true;
        }
        t->ssrc = h->ssrc;
    } else {
        return NULL;
    }
    return t;
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    wc_subscriber *s = user;
    weir_rtp h;
    if (weir_rtp_parse(&h, buf, len) < 0)
        return;
    rx_track *t = route(s, &h, buf);
    if (!t) {
        s->unroutable++;
        return;
    }
    int64_t now = weir_clock_now_us();
    if (h.ssrc == t->ssrc) {
        if (t->rr_ssrc != h.ssrc) {
            weir_receive_stats_init(&t->rr, h.ssrc, t->audio ? 48000 : 90000);
            t->rr_ssrc = h.ssrc;
        }
        weir_receive_stats_handle_packet(&t->rr, h.seq, h.timestamp, now, false);
    }
    if (t->audio) {
        if (h.payload_type == t->m.pt)
            handle_audio(t, &h, buf);
        return;
    }
    wc_vp8_depack_push_rtp(t->depack, now, buf, len, t->m.pt, t->m.rtx_pt);
    drain_frames(t, now);
}

/* A receiver report every second, as browsers send: the server's loss and
 * RTT figures come from it, and it is the inbound traffic that tells the
 * server this connection is alive. */
static void send_receiver_report(wc_subscriber *s, int64_t now)
{
    weir_rtcp_report_block blocks[31];
    size_t n = 0;
    for (size_t i = 0; i < s->n_tracks && n < 31; i++) {
        rx_track *t = s->tracks[i];
        if (t->active && t->rr_ssrc && weir_receive_stats_write_block(&t->rr, now, &blocks[n]) == 0)
            n++;
    }
    uint8_t buf[8 + 31 * 24 + WEIR_SRTP_MAX_RTCP_OVERHEAD];
    int len =
        weir_rtcp_rr_write(buf, sizeof buf - WEIR_SRTP_MAX_RTCP_OVERHEAD, s->our_ssrc, blocks, n);
    if (len > 0)
        wc_pc_send_rtcp(s->pc, buf, (size_t)len, sizeof buf);
}

static gboolean on_tick(gpointer data)
{
    wc_subscriber *s = data;
    int64_t now = weir_clock_now_us();
    if (s->pc && now - s->last_rr_us >= 1000000) {
        s->last_rr_us = now;
        send_receiver_report(s, now);
    }
    for (size_t i = 0; i < s->n_tracks; i++) {
        rx_track *t = s->tracks[i];
        if (!t->depack || !t->active)
            continue;
        drain_frames(t, now);
        video_feedback(s, t, now);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- signalling ---- */

static void on_candidate(void *user, const char *candidate)
{
    wc_subscriber *s = user;
    const char *mid = "0";
    for (size_t i = 0; i < s->n_tracks; i++)
        if (s->tracks[i]->active) {
            mid = s->tracks[i]->m.mid;
            break;
        }
    json_t *c = candidate ? json_pack("{s:s, s:s, s:i}", "candidate", candidate, "sdpMid", mid,
                                      "sdpMLineIndex", 0)
                          : json_null();
    wc_sig_call(s->sig, "trickle", json_pack("{s:s, s:o}", "pc", "subscriber", "candidate", c),
                NULL, NULL);
}

static void on_state(void *user, wc_pc_state state, const char *detail)
{
    wc_subscriber *s = user;
    if (state == WC_PC_CONNECTED) {
        fprintf(stderr, "weir-client: subscriber connected (%s)\n", detail);
    } else if (state == WC_PC_FAILED) {
        char why[200];
        snprintf(why, sizeof why, "subscriber connection failed: %s", detail);
        fail(s, why);
    }
}

static void on_answer_result(void *user, json_t *result, json_t *error)
{
    wc_subscriber *s = user;
    if (result)
        return;
    char why[300];
    snprintf(why, sizeof why, "answer refused: %s",
             error ? json_string_value(json_object_get(error, "message")) ?: "?" : "no response");
    fail(s, why);
}

static void add_trickled(wc_subscriber *s, json_t *candidate)
{
    if (json_is_null(candidate)) {
        wc_pc_add_candidate(s->pc, NULL);
        return;
    }
    const char *c = json_string_value(json_object_get(candidate, "candidate"));
    if (c && *c)
        wc_pc_add_candidate(s->pc, c);
}

static int ensure_pc(wc_subscriber *s, const wc_remote_transport *rt)
{
    if (s->pc)
        return 0;
    wc_pc_config pcc = {.bind_addresses = s->cfg.bind_addresses,
                        .n_bind_addresses = s->cfg.n_bind_addresses,
                        /* the offerer controls unless it is ice-lite (RFC 8445 §6.1.1) */
                        .controlling = rt->ice_lite,
                        .name = "subscriber",
                        .simulated_loss_pct = s->cfg.simulated_loss_pct};
    wc_pc_callbacks pcb = {.on_candidate = on_candidate, .on_state = on_state, .on_rtp = on_rtp};
    s->pc = wc_pc_create(s->ctx, s->dctx, &pcc, &pcb, s);
    if (!s->pc)
        return -WEIR_EIO;
    s->our_ssrc = (uint32_t)weir_rand_u64(&s->rand) | 1;
    s->tick = g_timeout_source_new(TICK_MS);
    g_source_set_callback(s->tick, on_tick, s, NULL);
    g_source_attach(s->tick, s->ctx);
    return 0;
}

void wc_subscriber_handle_offer(wc_subscriber *s, json_t *params)
{
    const char *text = json_string_value(json_object_get(params, "sdp"));
    char err[300] = "";
    wc_sub_desc *d = g_new0(wc_sub_desc, 1);
    char *answer = NULL;
    char why[400];
    /* Credentials are only known once the pc exists: read the transport first. */
    weir_sdp *sdp = NULL;
    if (!text || weir_sdp_parse(text, strlen(text), &sdp, err, sizeof err) < 0 ||
        wc_sdp_read_transport(sdp, &d->transport, err, sizeof err) < 0 ||
        ensure_pc(s, &d->transport) < 0) {
        snprintf(why, sizeof why, "subscriber offer unusable: %s", text ? err : "no sdp");
        weir_sdp_free(sdp);
        g_free(d);
        fail(s, why);
        return;
    }
    weir_sdp_free(sdp);
    wc_pc_restart_if_needed(s->pc, &d->transport);
    wc_answer_params ap = {.ice_ufrag = wc_pc_local_ufrag(s->pc),
                           .ice_pwd = wc_pc_local_pwd(s->pc),
                           .fingerprint = s->fingerprint,
                           .session_id = s->session_id,
                           .session_version = ++s->session_version};
    if (wc_sdp_subscribe_answer(text, &ap, &answer, d, err, sizeof err) < 0) {
        snprintf(why, sizeof why, "subscriber offer unusable: %s", err);
        g_free(d);
        fail(s, why);
        return;
    }
    apply_desc(s, d);
    wc_sig_call(s->sig, "answer", json_pack("{s:s}", "sdp", answer), on_answer_result, s);
    weir_free(answer);
    int rc = wc_pc_set_remote(s->pc, &d->transport, err, sizeof err);
    g_free(d);
    if (rc < 0) {
        snprintf(why, sizeof why, "subscriber: %s", err);
        fail(s, why);
        return;
    }
    if (!s->remote_set) {
        s->remote_set = true;
        size_t i;
        json_t *c;
        json_array_foreach(s->early_candidates, i, c) {
            add_trickled(s, c);
        }
        json_array_clear(s->early_candidates);
    }
}

void wc_subscriber_handle_trickle(wc_subscriber *s, json_t *candidate)
{
    if (!s->remote_set) {
        json_array_append(s->early_candidates, candidate ? candidate : json_null());
        return;
    }
    add_trickled(s, candidate);
}

void wc_subscriber_note_track(wc_subscriber *s, json_t *track)
{
    const char *id = json_string_value(json_object_get(track, "id"));
    if (id)
        json_object_set(s->known_tracks, id, track);
}

wc_subscriber *wc_subscriber_create(GMainContext *ctx, weir_dtls_ctx *dctx, wc_sig *sig,
                                    const wc_subscriber_config *cfg,
                                    const wc_subscriber_callbacks *cb, void *user)
{
    wc_subscriber *s = WEIR_NEW(wc_subscriber);
    s->cfg = *cfg;
    s->cb = *cb;
    s->user = user;
    s->ctx = ctx;
    s->dctx = dctx;
    s->sig = sig;
    snprintf(s->fingerprint, sizeof s->fingerprint, "%s", cfg->fingerprint);
    s->cfg.fingerprint = s->fingerprint;
    s->early_candidates = json_array();
    s->known_tracks = json_object();
    weir_rand_seed_os(&s->rand);
    s->session_id = weir_rand_u64(&s->rand) >> 2;
    return s;
}

void wc_subscriber_destroy(wc_subscriber *s)
{
    if (!s)
        return;
    if (s->tick) {
        g_source_destroy(s->tick);
        g_source_unref(s->tick);
    }
    wc_pc_destroy(s->pc);
    for (size_t i = 0; i < s->n_tracks; i++)
        track_free(s->tracks[i]);
    json_decref(s->early_candidates);
    json_decref(s->known_tracks);
    weir_free(s);
}

static json_t *video_report(const rx_track *t)
{
    const wc_vp8_depack_stats *d = wc_vp8_depack_get_stats(t->depack);
    wc_latency_summary l;
    wc_video_stats_latency(&t->stats, &l);
    json_t *o = json_object();
    json_object_set_new(o, "frames_decoded", json_integer((json_int_t)t->stats.frames_decoded));
    json_object_set_new(o, "width", json_integer(t->stats.width));
    json_object_set_new(o, "height", json_integer(t->stats.height));
    json_object_set_new(o, "freezes", json_integer((json_int_t)t->stats.freezes));
    json_object_set_new(o, "max_freeze_ms", json_integer(t->stats.max_freeze_ms));
    json_object_set_new(o, "max_gap_ms", json_integer(t->stats.max_gap_ms));
    json_object_set_new(o, "latency_ms",
                        json_pack("{s:i, s:i, s:i, s:I}", "p50", l.p50, "p95", l.p95, "max", l.max,
                                  "samples", (json_int_t)l.n));
    json_object_set_new(o, "packets_received", json_integer((json_int_t)d->packets));
    json_object_set_new(o, "packets_lost", json_integer((json_int_t)d->packets_lost));
    json_object_set_new(o, "packets_recovered", json_integer((json_int_t)d->packets_recovered));
    json_object_set_new(o, "nacked", json_integer((json_int_t)d->nacked));
    json_object_set_new(o, "plis_sent", json_integer((json_int_t)t->plis_sent));
    json_object_set_new(o, "frames_dropped", json_integer((json_int_t)d->frames_dropped));
    json_object_set_new(o, "frames_undecodable", json_integer((json_int_t)t->frames_undecodable));
    json_object_set_new(o, "frames_skipped", json_integer((json_int_t)t->stats.frames_skipped));
    json_object_set_new(o, "order_errors", json_integer((json_int_t)t->stats.order_errors));
    json_object_set_new(o, "frames_repeated", json_integer((json_int_t)t->stats.frames_repeated));
    json_object_set_new(
        o, "content_errors",
        json_integer((json_int_t)(t->stats.content_errors + t->stats.decode_errors)));
    return o;
}

static json_t *audio_report(const rx_track *t)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:f}", "frames_decoded",
                     (json_int_t)wc_audio_sink_frames(t->audio), "packets_received",
                     (json_int_t)t->audio_packets, "packets_lost", (json_int_t)t->audio_lost,
                     "decode_errors", (json_int_t)wc_audio_sink_errors(t->audio), "tone_hz",
                     wc_audio_sink_frequency_hz(t->audio));
}

unsigned wc_subscriber_ice_restarts(const wc_subscriber *s)
{
    if (!s->pc)
        return 0;
    wc_pc_stats st;
    wc_pc_get_stats(s->pc, &st);
    return (unsigned)st.ice_restarts;
}

json_t *wc_subscriber_report(const wc_subscriber *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n_tracks; i++) {
        const rx_track *t = s->tracks[i];
        json_t *o = t->audio ? audio_report(t) : video_report(t);
        const char *id = t->m.track_id[0] ? t->m.track_id : t->m.mid;
        json_object_set_new(o, "track", json_string(id));
        json_object_set_new(o, "mid", json_string(t->m.mid));
        json_object_set_new(o, "kind", json_string(t->audio ? "audio" : "video"));
        json_object_set_new(o, "ssrc", json_integer(t->ssrc));
        json_object_set_new(o, "active", json_boolean(t->active));
        json_t *known = json_object_get(s->known_tracks, id);
        if (known && json_object_get(known, "participant"))
            json_object_set(o, "participant", json_object_get(known, "participant"));
        json_array_append_new(arr, o);
    }
    return arr;
}
