/*
 * Recorder feeds, worker side: one recorded track handed to the recorder
 * plugin (include/weir/plugin.h, plugins/recorder/). Like a tap
 * (shell/tap.c), a sink lives on the producer's worker in the track's route
 * and has a weir_consumer of its own, so the recorder receives one stream
 * whatever the publisher does: the top simulcast layer, seq/ts/PictureID
 * continuous across layer switches and publisher restarts, starting at a
 * keyframe.
 *
 * Per packet the worker only copies it into the plugin's bounded queue
 * (ops->track_packet never blocks; a full queue drops and is counted by the
 * plugin), with the sender's capture time of its RTP timestamp
 * (weir_consumer_ntp_of), which is what lets the recorder keep a
 * participant's audio and video in sync.
 *
 * Keyframes: the consumer asks for one when it starts; later the recorder
 * asks (after loss it could not repair, or a queue overflow) and the
 * feedback tick passes that on to the publisher.
 */
#define WEIR_LOG_MODULE "shell.record"
#include <stdio.h>

#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/log.h"
#include "weir/plugin.h"

typedef struct record_sink {
    weir_worker *w;
    weir_consumer *consumer;
    weir_worker_record cfg;
    uint64_t packets, refused, keyframe_requests;
    char log_tag[48];
} record_sink;

static void request_keyframe(record_sink *s, int layer)
{
    s->keyframe_requests++;
    weir_router_request_keyframe(s->w, s->cfg.handle, layer);
}

void weir_record_sink_forward(record_sink *s, weir_pkt *p, int64_t now_us)
{
    uint8_t buf[WEIR_CONSUMER_OUT_MAX];
    size_t len = 0;
    int rc = weir_consumer_handle_packet(s->consumer, p, now_us, NULL, buf, sizeof buf, &len);
    weir_consumer_event ev;
    while (weir_consumer_poll_event(s->consumer, &ev) == 1)
        if (ev.type == WEIR_CONSUMER_EVENT_KEYFRAME_REQUEST)
            request_keyframe(s, ev.spatial);
    if (rc != 1 || len < 12)
        return;
    uint32_t out_ts =
        (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    weir_recording_packet rp = {.rtp = buf, .len = len, .arrival_us = now_us};
    if (weir_consumer_ntp_of(s->consumer, out_ts, &rp.capture_ntp) != 1)
        rp.capture_ntp = 0;
    if (s->cfg.ops->track_packet(s->cfg.track, &rp) == 0)
        s->packets++;
    else
        s->refused++;
}

static weir_consumer *new_consumer(const weir_worker_record *cfg)
{
    /* The recorder wants the media only, in the publisher's payload type. */
    return weir_router_sink_consumer(cfg->codec, cfg->audio, cfg->clock_rate_hz, cfg->n_layers,
                                     cfg->ssrc, (uint8_t)cfg->in_pt, cfg->in_pt);
}

void weir_record_sink_destroy(record_sink *s)
{
    if (!s)
        return;
    weir_consumer_destroy(s->consumer);
    s->w->record_sinks--;
    weir_free(s);
}

void weir_record_sink_start(weir_worker *w, const weir_worker_record *cfg)
{
    record_sink *s = WEIR_NEW(record_sink);
    s->w = w;
    s->cfg = *cfg;
    w->record_sinks++;
    snprintf(s->log_tag, sizeof s->log_tag, "sink=%llu track=%u", (unsigned long long)cfg->sink_id,
             cfg->handle);
    if (!(s->consumer = new_consumer(cfg))) {
        WEIR_LOG_WARN("%s record_start_failed reason=\"consumer refused the track\"", s->log_tag);
        weir_record_sink_destroy(s);
        return;
    }
    route *r = weir_router_get(w, cfg->handle, true);
    if (!r->records)
        r->records = g_ptr_array_new();
    g_ptr_array_add(r->records, s);
    WEIR_LOG_INFO("%s record_started worker=%d producer_here=%d", s->log_tag, w->index,
                  r->producer != NULL);
}

static void report_stopped(weir_worker *w, const weir_worker_record_stop *stop)
{
    weir_worker_event *ev = weir_worker_new_event(w, WEIR_WORKER_EVENT_RECORD_STOPPED, 0);
    ev->sink_id = stop->sink_id;
    ev->handle = stop->handle;
    weir_worker_push_event(w, ev);
}

void weir_record_sink_stop(weir_worker *w, const weir_worker_record_stop *stop)
{
    route *r = weir_router_get(w, stop->handle, false);
    for (guint i = 0; r && r->records && i < r->records->len; i++) {
        record_sink *s = g_ptr_array_index(r->records, i);
        if (s->cfg.sink_id != stop->sink_id)
            continue;
        WEIR_LOG_INFO("%s record_stopped packets=%llu refused=%llu keyframe_requests=%llu",
                      s->log_tag, (unsigned long long)s->packets, (unsigned long long)s->refused,
                      (unsigned long long)s->keyframe_requests);
        g_ptr_array_remove_index(r->records, i);
        weir_record_sink_destroy(s);
        weir_router_drop_if_unused(w, r);
        break;
    }
    /* Always answered: the control thread closes the plugin's track only after this. */
    report_stopped(w, stop);
}

void weir_record_sink_periodic(weir_worker *w, int64_t now_us)
{
    (void)now_us;
    if (!w->record_sinks || !w->routes)
        return;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->routes);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        route *r = v;
        for (guint i = 0; r->records && i < r->records->len; i++) {
            record_sink *s = g_ptr_array_index(r->records, i);
            if (s->cfg.audio || !s->cfg.ops->track_take_keyframe_request(s->cfg.track))
                continue;
            int layer = weir_consumer_handle_keyframe_request(s->consumer);
            if (layer >= 0)
                request_keyframe(s, layer);
        }
    }
}
