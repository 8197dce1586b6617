/*
 * Prometheus text exposition (version 0.0.4). Gauges are computed from the
 * control plane's state at scrape time, so they can never drift from it.
 */
#include "control/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control/control.h"
#include "control/datachannel.h"
#include "control/recordings.h"
#include "control/taps.h"
#include "weir/alloc.h"

static const int error_codes[] = {
#define X(code) code,
    WEIR_METRICS_ERROR_CODES
#undef X
};
#define N_ERROR_CODES (sizeof error_codes / sizeof error_codes[0])
_Static_assert(N_ERROR_CODES <= 16, "errors_by_code is too small");

void weir_metrics_count_error(weir_metrics *m, int code)
{
    for (size_t i = 0; i < N_ERROR_CODES; i++) {
        if (error_codes[i] == code) {
            m->errors_by_code[i]++;
            return;
        }
    }
}

typedef struct text {
    char *buf;
    size_t len;
    size_t cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0);
        t->buf = weir_realloc(t->buf, t->cap);
    }
}

static void metric_header(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_participants(text *t, const weir_control *ctl)
{
    uint64_t by_role[WEIR_ROLE_COUNT] = {0};
    size_t n_rooms;
    weir_room *const *rooms = weir_rooms_list(ctl->rooms, &n_rooms);
    for (size_t r = 0; r < n_rooms; r++)
        for (size_t i = 0; i < weir_room_count(rooms[r]); i++)
            by_role[weir_room_at(rooms[r], i)->role]++;
    metric_header(t, "weir_rooms", "gauge", "Rooms open now.");
    put(t, "weir_rooms %zu\n", n_rooms);
    metric_header(t, "weir_participants", "gauge", "Participants in rooms, by role.");
    for (int role = 0; role < WEIR_ROLE_COUNT; role++)
        put(t, "weir_participants{role=\"%s\"} %llu\n", weir_role_name((weir_role)role),
            (unsigned long long)by_role[role]);
}

static weir_worker_load_figures_t worker_load(const weir_control *ctl, int i)
{
    weir_worker_load_figures_t f = {0};
    if (ctl->workers && ctl->workers[i])
        weir_worker_load_figures(ctl->workers[i], &f);
    return f;
}

static void render_workers(text *t, const weir_control *ctl)
{
    metric_header(t, "weir_workers", "gauge", "Media worker threads.");
    put(t, "weir_workers %d\n", ctl->n_workers);
    metric_header(t, "weir_worker_peers", "gauge", "Peers placed on each media worker.");
    for (int i = 0; i < ctl->n_workers; i++)
        put(t, "weir_worker_peers{worker=\"%d\"} %u\n", i, ctl->worker_peers[i]);
    metric_header(t, "weir_worker_busy_ratio", "gauge",
                  "Share of the last 500 ms a media worker's loop spent working, not waiting.");
    for (int i = 0; i < ctl->n_workers; i++)
        put(t, "weir_worker_busy_ratio{worker=\"%d\"} %.3f\n", i,
            worker_load(ctl, i).busy_permille / 1000.0);
    metric_header(t, "weir_worker_busy_seconds_total", "counter",
                  "Time a media worker's loop spent working (rate() gives its load).");
    for (int i = 0; i < ctl->n_workers; i++)
        put(t, "weir_worker_busy_seconds_total{worker=\"%d\"} %.3f\n", i,
            worker_load(ctl, i).busy_us / 1e6);
    metric_header(t, "weir_worker_overloads_total", "counter",
                  "Times a media worker became overloaded (busy >= 90% for 2 s; logged at warn).");
    for (int i = 0; i < ctl->n_workers; i++)
        put(t, "weir_worker_overloads_total{worker=\"%d\"} %llu\n", i,
            (unsigned long long)worker_load(ctl, i).overloads);
}

static void render_signalling(text *t, const weir_metrics *m)
{
    metric_header(t, "weir_ws_connections", "gauge", "Signalling WebSockets open now.");
    put(t, "weir_ws_connections %llu\n", (unsigned long long)m->ws_connections);
    metric_header(t, "weir_ws_connections_total", "counter", "Signalling WebSockets accepted.");
    put(t, "weir_ws_connections_total %llu\n", (unsigned long long)m->ws_connections_total);
    metric_header(t, "weir_signalling_messages_total", "counter",
                  "Signalling frames received from clients.");
    put(t, "weir_signalling_messages_total %llu\n", (unsigned long long)m->messages_total);
    metric_header(t, "weir_signalling_notifications_total", "counter",
                  "Notifications sent to clients.");
    put(t, "weir_signalling_notifications_total %llu\n", (unsigned long long)m->notifications_sent);
    metric_header(t, "weir_signalling_errors_total", "counter",
                  "Error answers sent, by JSON-RPC or application code.");
    for (size_t i = 0; i < N_ERROR_CODES; i++)
        put(t, "weir_signalling_errors_total{code=\"%d\"} %llu\n", error_codes[i],
            (unsigned long long)m->errors_by_code[i]);
    metric_header(t, "weir_signalling_abuse_disconnects_total", "counter",
                  "Sockets closed for flooding or garbage.");
    put(t, "weir_signalling_abuse_disconnects_total %llu\n",
        (unsigned long long)m->abuse_disconnects);
    metric_header(t, "weir_http_requests_total", "counter", "Plain HTTP requests served.");
    put(t, "weir_http_requests_total %llu\n", (unsigned long long)m->http_requests_total);
}

static void render_media(text *t, const weir_control *ctl)
{
    metric_header(t, "weir_media_rtp_packets_received_total", "counter",
                  "RTP packets received from publishers, decrypted and routed.");
    put(t, "weir_media_rtp_packets_received_total %llu\n",
        (unsigned long long)ctl->rtp_packets_total);
    metric_header(t, "weir_media_rtp_packets_sent_total", "counter",
                  "RTP packets forwarded to subscribers (first transmissions and resends).");
    put(t, "weir_media_rtp_packets_sent_total %llu\n",
        (unsigned long long)ctl->rtp_packets_sent_total);
    metric_header(t, "weir_media_rtp_retransmits_total", "counter",
                  "Packets resent to subscribers for their NACKs (RTX or plain).");
    put(t, "weir_media_rtp_retransmits_total %llu\n",
        (unsigned long long)ctl->rtp_retransmits_total);
    metric_header(t, "weir_worker_mesh_drops_total", "counter",
                  "Packets a worker could not hand to another worker (ring full).");
    for (int i = 0; i < ctl->n_workers; i++)
        put(t, "weir_worker_mesh_drops_total{worker=\"%d\"} %llu\n", i,
            (unsigned long long)(ctl->mesh_drops ? ctl->mesh_drops[i] : 0));
    metric_header(t, "weir_peer_drops_total", "counter",
                  "Datagrams publisher peers dropped, by reason.");
    for (int d = 0; d < WEIR_PEER_DROP_COUNT; d++)
        put(t, "weir_peer_drops_total{reason=\"%s\"} %llu\n", weir_peer_drop_name(d),
            (unsigned long long)ctl->peer_drops_total[d]);
}

static void render_taps(text *t, const weir_control *ctl)
{
    weir_taps_stats st;
    weir_taps_get_stats(ctl, &st);
    metric_header(t, "weir_taps", "gauge", "RTP taps open now.");
    put(t, "weir_taps %llu\n", (unsigned long long)st.active);
    metric_header(t, "weir_taps_started_total", "counter", "RTP taps started.");
    put(t, "weir_taps_started_total %llu\n", (unsigned long long)st.started_total);
    metric_header(t, "weir_taps_refused_total", "counter",
                  "tap_start refused: host not allowed, or the server's tap limit.");
    put(t, "weir_taps_refused_total{reason=\"host\"} %llu\n", (unsigned long long)st.refused_host);
    put(t, "weir_taps_refused_total{reason=\"limit\"} %llu\n",
        (unsigned long long)st.refused_limit);
    metric_header(t, "weir_taps_ended_total", "counter",
                  "RTP taps ended because their tracks did.");
    put(t, "weir_taps_ended_total{reason=\"track_ended\"} %llu\n",
        (unsigned long long)st.ended_track);
    metric_header(t, "weir_tap_rtp_packets_sent_total", "counter", "RTP packets sent by taps.");
    put(t, "weir_tap_rtp_packets_sent_total %llu\n", (unsigned long long)st.packets_total);
    metric_header(t, "weir_tap_rtp_bytes_sent_total", "counter", "RTP bytes sent by taps.");
    put(t, "weir_tap_rtp_bytes_sent_total %llu\n", (unsigned long long)st.bytes_total);
    metric_header(t, "weir_tap_rtcp_received_total", "counter",
                  "Datagrams tap receivers sent back (RTCP).");
    put(t, "weir_tap_rtcp_received_total %llu\n", (unsigned long long)st.rtcp_received);
}

static void render_recordings(text *t, const weir_control *ctl)
{
    weir_recordings_stats st;
    weir_recordings_get_stats(ctl, &st);
    metric_header(t, "weir_recorder_loaded", "gauge", "1 when the recorder plugin is loaded.");
    put(t, "weir_recorder_loaded %d\n", (int)st.plugin_loaded);
    metric_header(t, "weir_recordings", "gauge", "Recordings running (or finishing) now.");
    put(t, "weir_recordings %llu\n", (unsigned long long)st.active);
    metric_header(t, "weir_recording_tracks", "gauge", "Tracks being recorded now.");
    put(t, "weir_recording_tracks %llu\n", (unsigned long long)st.tracks_active);
    metric_header(t, "weir_recordings_total", "counter", "Recordings, by outcome.");
    put(t, "weir_recordings_total{outcome=\"started\"} %llu\n",
        (unsigned long long)st.started_total);
    put(t, "weir_recordings_total{outcome=\"complete\"} %llu\n",
        (unsigned long long)st.completed_total);
    put(t, "weir_recordings_total{outcome=\"incomplete\"} %llu\n",
        (unsigned long long)st.failed_total);
    metric_header(t, "weir_recorder_packets_total", "counter",
                  "RTP packets handed to the recorder.");
    put(t, "weir_recorder_packets_total %llu\n", (unsigned long long)st.packets_total);
    metric_header(t, "weir_recorder_queue_drops_total", "counter",
                  "Packets dropped because the recorder fell behind (slow disk).");
    put(t, "weir_recorder_queue_drops_total %llu\n", (unsigned long long)st.queue_drops_total);
    metric_header(t, "weir_recorder_frames_total", "counter", "Frames written, or dropped.");
    put(t, "weir_recorder_frames_total{outcome=\"written\"} %llu\n",
        (unsigned long long)st.frames_total);
    put(t, "weir_recorder_frames_total{outcome=\"dropped\"} %llu\n",
        (unsigned long long)st.frames_dropped_total);
    metric_header(t, "weir_recorder_bytes_total", "counter", "Bytes written to recording files.");
    put(t, "weir_recorder_bytes_total %llu\n", (unsigned long long)st.bytes_total);
    metric_header(t, "weir_recorder_write_errors_total", "counter",
                  "Failed writes (disk full, I/O errors); the track's file stops.");
    put(t, "weir_recorder_write_errors_total %llu\n", (unsigned long long)st.write_errors_total);
}

static void render_datachannels(text *t, const weir_control *ctl)
{
    if (!ctl->datachannels)
        return;
    const weir_dc_stats *s = weir_datachannels_stats(ctl->datachannels);
    static const char *const labels[WEIR_ROOM_LOG_KINDS] = {"whiteboard", "chat"};
    metric_header(t, "weir_dc_channels", "gauge", "Data channels open now.");
    put(t, "weir_dc_channels %zu\n", weir_datachannels_open_channels(ctl->datachannels));
    metric_header(t, "weir_dc_channels_opened_total", "counter", "Data channels opened.");
    put(t, "weir_dc_channels_opened_total %llu\n", (unsigned long long)s->opened);
    metric_header(t, "weir_dc_channels_closed_total", "counter",
                  "Data channels closed or forgotten, by reason.");
    for (int c = 0; c < WEIR_DC_CLOSE_COUNT; c++)
        put(t, "weir_dc_channels_closed_total{reason=\"%s\"} %llu\n",
            weir_dc_close_name((weir_dc_close)c), (unsigned long long)s->closed[c]);
    metric_header(t, "weir_dc_messages_stamped_total", "counter",
                  "Whiteboard and chat messages stamped (given a seq), by label.");
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++)
        put(t, "weir_dc_messages_stamped_total{label=\"%s\"} %llu\n", labels[k],
            (unsigned long long)s->stamped[k]);
    metric_header(t, "weir_dc_messages_delivered_total", "counter",
                  "Messages queued to channels (stamped, history replayed, relayed).");
    put(t, "weir_dc_messages_delivered_total %llu\n", (unsigned long long)s->delivered);
    metric_header(t, "weir_dc_messages_replayed_total", "counter",
                  "History messages sent to channels that opened late.");
    put(t, "weir_dc_messages_replayed_total %llu\n", (unsigned long long)s->replayed);
    metric_header(t, "weir_dc_messages_relayed_total", "counter",
                  "Messages of other labels relayed as is.");
    put(t, "weir_dc_messages_relayed_total %llu\n", (unsigned long long)s->relayed);
    metric_header(t, "weir_dc_messages_refused_total", "counter",
                  "Messages refused with an error frame, by reason.");
    for (int r = 0; r < WEIR_DC_REFUSE_COUNT; r++)
        put(t, "weir_dc_messages_refused_total{reason=\"%s\"} %llu\n",
            weir_dc_refuse_name((weir_dc_refuse)r), (unsigned long long)s->refused[r]);
    metric_header(t, "weir_dc_send_failures_total", "counter",
                  "Data-channel commands a full worker command ring refused.");
    put(t, "weir_dc_send_failures_total %llu\n", (unsigned long long)s->send_failed);
    metric_header(t, "weir_dc_history_entries", "gauge",
                  "Messages held as history over all open rooms, by label.");
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++)
        put(t, "weir_dc_history_entries{label=\"%s\"} %zu\n", labels[k],
            weir_datachannels_history_entries(ctl->datachannels, (weir_room_log_kind)k));
}

char *weir_metrics_render(const weir_control *ctl, int64_t now_us)
{
    text t = {.buf = weir_malloc(4096), .len = 0, .cap = 4096};
    metric_header(&t, "weir_build_info", "gauge", "Build information.");
    put(&t, "weir_build_info{version=\"%s\"} 1\n", WEIR_VERSION);
    metric_header(&t, "weir_uptime_seconds", "gauge", "Seconds since the server started.");
    put(&t, "weir_uptime_seconds %.3f\n", (double)(now_us - ctl->started_us) / 1e6);
    render_participants(&t, ctl);
    render_workers(&t, ctl);
    render_signalling(&t, &ctl->metrics);
    render_media(&t, ctl);
    render_datachannels(&t, ctl);
    render_taps(&t, ctl);
    render_recordings(&t, ctl);
    return t.buf;
}
