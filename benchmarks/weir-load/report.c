/*
 * Snapshots and the JSON + Markdown report of weir-load (see report.h).
 * Definitions used in both reports:
 *   server_cpu      CPU-seconds the server used per second of the window
 *   sub_streams     subscriber video streams receiving media (one per
 *                   forwarded 1.5 Mbps video; audio counted apart)
 *   cpu_per_stream  server_cpu / sub_streams
 *   loss            1 - received / expected over the window, where
 *                   expected comes from the RTP sequence numbers
 *   latency         receive time - send time in the payload trailer, on
 *                   the SRTP-verified sample of packets
 *   pacing          how publishers spread a frame's packets (--pacing);
 *                   frame_send_ms is the time from a frame's tick on the
 *                   frame clock to its last packet sent, send_late_us how
 *                   late a video packet left after its pacer allowed it
 *                   (the loop's timing error), both over the window
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "driver.h"
#include "peer.h"

#define WEIR_LOG_MODULE "load.report"
#include "weir/log.h"

double wl_proc_cpu_s(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

uint64_t wl_proc_rss_kb(int pid)
{
    if (pid <= 0)
        return 0;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Udp RcvbufErrors and InErrors of the network namespace (all sockets, server's too). */
static void udp_errors(uint64_t *rcvbuf, uint64_t *in)
{
    FILE *f = fopen("/proc/net/snmp", "r");
    if (!f)
        return;
    char names[1024], vals[1024];
    while (fgets(names, sizeof names, f) && fgets(vals, sizeof vals, f)) {
        if (strncmp(names, "Udp:", 4) != 0)
            continue;
        char *sn = NULL, *sv = NULL;
        char *n = strtok_r(names + 4, " \n", &sn);
        char *v = strtok_r(vals + 4, " \n", &sv);
        while (n && v) {
            if (strcmp(n, "RcvbufErrors") == 0)
                *rcvbuf = strtoull(v, NULL, 10);
            else if (strcmp(n, "InErrors") == 0)
                *in = strtoull(v, NULL, 10);
            n = strtok_r(NULL, " \n", &sn);
            v = strtok_r(NULL, " \n", &sv);
        }
        break;
    }
    fclose(f);
}

const char *wl_pacing_label(const wl_options *o)
{
    static char buf[48];
    if (o->pacing <= 0)
        return "off";
    if (o->pacing_burst_ms > 0)
        snprintf(buf, sizeof buf, "%gx+%dms", o->pacing, o->pacing_burst_ms);
    else
        snprintf(buf, sizeof buf, "%gx", o->pacing);
    return buf;
}

double wl_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void wl_snapshot_take(wl_ctx *ctx, wl_snapshot *s, int64_t since_us)
{
    memset(s, 0, sizeof *s);
    s->t_us = wl_now_us();
    if (since_us <= 0)
        since_us = s->t_us - 1000000;
    s->stats = ctx->stats;
    for (size_t i = 0; i < ctx->n_parts; i++) {
        wl_peer *p = ctx->parts[i]->sub;
        if (!p)
            continue;
        size_t n = 0;
        wl_peer_rx_totals(p, &s->expected, &s->received, &n);
        for (size_t k = 0; k < p->n_streams; k++) {
            /* streams that flowed in the window (not those unsubscribed before it) */
            if (p->streams[k].last_us < since_us)
                continue;
            if (p->streams[k].audio)
                s->audio_streams++;
            else
                s->video_streams++;
        }
    }
    s->tool_cpu_s = wl_self_cpu_s();
    s->server_cpu_s = wl_proc_cpu_s(ctx->opt.server_pid);
    s->server_rss_kb = wl_proc_rss_kb(ctx->opt.server_pid);
    udp_errors(&s->udp_rcvbuf_errors, &s->udp_in_errors);
}

typedef struct figures {
    double secs;
    double server_cpu; /* CPU-s/s; < 0 unknown */
    double tool_cpu;
    double rx_pps, tx_pps, rx_mbps;
    double loss_pct;
    uint64_t lost, expected, dups;
    double cpu_per_stream;
    double streams_per_core;
    double pkts_per_core_s;
    double rss_per_stream_kb;
    double lat_v[4], lat_a[4]; /* p50 p90 p99 max (ms) */
    double frame_send_ms;      /* mean, frame clock -> last packet of the frame sent */
    double send_late_us;       /* mean lateness of a video packet after its pacer's time */
} figures;

static void compute(const wl_ctx *ctx, const wl_run_info *info, const wl_snapshot *a,
                    const wl_snapshot *b, figures *f)
{
    memset(f, 0, sizeof *f);
    f->secs = (double)(b->t_us - a->t_us) / 1e6;
    if (f->secs <= 0)
        f->secs = 1e-9;
    f->server_cpu = a->server_cpu_s >= 0 && b->server_cpu_s >= 0
                        ? (b->server_cpu_s - a->server_cpu_s) / f->secs
                        : -1;
    f->tool_cpu = (b->tool_cpu_s - a->tool_cpu_s) / f->secs;
    uint64_t rx = b->stats.rx_packets - a->stats.rx_packets;
    f->rx_pps = (double)rx / f->secs;
    f->tx_pps = (double)(b->stats.tx_packets - a->stats.tx_packets) / f->secs;
    f->rx_mbps = (double)(b->stats.rx_bytes - a->stats.rx_bytes) * 8 / 1e6 / f->secs;
    f->expected = b->expected - a->expected;
    uint64_t got = b->received - a->received;
    f->lost = f->expected > got ? f->expected - got : 0;
    f->loss_pct = f->expected ? 100.0 * (double)f->lost / (double)f->expected : 0;
    f->dups = b->stats.dups - a->stats.dups;
    size_t streams = b->video_streams;
    if (f->server_cpu > 0 && streams) {
        f->cpu_per_stream = f->server_cpu / (double)streams;
        f->streams_per_core = (double)streams / f->server_cpu;
        f->pkts_per_core_s = f->rx_pps / f->server_cpu;
    }
    /* Growth per subscriber stream: from the publishers-only point, so ingress is not counted. */
    if (streams && info->server_rss_pubs_kb && b->server_rss_kb)
        f->rss_per_stream_kb =
            ((double)b->server_rss_kb - (double)info->server_rss_pubs_kb) / (double)streams;
    const wl_hist *hv = &ctx->stats.lat_video, *ha = &ctx->stats.lat_audio;
    static const double pcts[3] = {50, 90, 99};
    for (int i = 0; i < 3; i++) {
        f->lat_v[i] = wl_hist_percentile(hv, pcts[i]) / 1000.0;
        f->lat_a[i] = wl_hist_percentile(ha, pcts[i]) / 1000.0;
    }
    f->lat_v[3] = (double)hv->max_us / 1000.0;
    f->lat_a[3] = (double)ha->max_us / 1000.0;
    uint64_t frames = b->stats.tx_frames - a->stats.tx_frames;
    if (frames)
        f->frame_send_ms = (double)(b->stats.tx_frame_spread_us - a->stats.tx_frame_spread_us) /
                           1000.0 / (double)frames;
    uint64_t vpk = b->stats.tx_video_packets - a->stats.tx_video_packets;
    if (vpk)
        f->send_late_us = (double)(b->stats.tx_late_us - a->stats.tx_late_us) / (double)vpk;
}

static json_t *report_json(const wl_ctx *ctx, const wl_run_info *info, const wl_snapshot *a,
                           const wl_snapshot *b, const figures *f)
{
    const wl_options *o = &ctx->opt;
    json_t *j = json_object();
    json_object_set_new(j, "tool", json_string("weir-load"));
    json_object_set_new(j, "label", json_string(o->label ? o->label : ""));
    json_object_set_new(j, "server", json_string(ctx->driver->name));
    json_object_set_new(j, "preset", json_string(o->preset));
    json_t *cfg =
        json_pack("{s:i, s:i, s:b, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:i, s:b}", "publishers",
                  (int)info->pubs_total, "subscribers", (int)info->subs_total, "simulcast",
                  o->simulcast, "video_kbps", o->video_kbps, "width", o->width, "height", o->height,
                  "fps", o->fps, "verify_every", o->verify_every, "warmup_s", o->warmup_s,
                  "duration_s", o->duration_s, "decode", o->decode, "udp_gro", o->udp_gro);
    json_object_set_new(cfg, "pacing", json_real(o->pacing));
    json_object_set_new(cfg, "pacing_burst_ms", json_integer(o->pacing_burst_ms));
    json_object_set_new(j, "config", cfg);
    json_object_set_new(j, "setup",
                        json_pack("{s:I, s:i, s:i, s:i, s:i}", "ms", (json_int_t)info->setup_ms,
                                  "publishers_connected", (int)info->pubs_connected,
                                  "subscribers_connected", (int)info->subs_connected, "publishers",
                                  (int)info->pubs_total, "subscribers", (int)info->subs_total));
    json_t *w = json_object();
    json_object_set_new(w, "seconds", json_real(f->secs));
    json_object_set_new(w, "video_streams", json_integer((json_int_t)b->video_streams));
    json_object_set_new(w, "audio_streams", json_integer((json_int_t)b->audio_streams));
    json_object_set_new(w, "rx_pps", json_real(f->rx_pps));
    json_object_set_new(w, "rx_mbps", json_real(f->rx_mbps));
    json_object_set_new(w, "tx_pps", json_real(f->tx_pps));
    json_object_set_new(w, "expected", json_integer((json_int_t)f->expected));
    json_object_set_new(w, "lost", json_integer((json_int_t)f->lost));
    json_object_set_new(w, "loss_pct", json_real(f->loss_pct));
    json_object_set_new(w, "duplicates", json_integer((json_int_t)f->dups));
    json_object_set_new(w, "srtp_verified",
                        json_integer((json_int_t)(b->stats.verified - a->stats.verified)));
    json_object_set_new(w, "srtp_failed",
                        json_integer((json_int_t)(b->stats.srtp_fail - a->stats.srtp_fail)));
    json_object_set_new(w, "no_trailer",
                        json_integer((json_int_t)(b->stats.no_trailer - a->stats.no_trailer)));
    json_object_set_new(w, "udp_rcvbuf_errors",
                        json_integer((json_int_t)(b->udp_rcvbuf_errors - a->udp_rcvbuf_errors)));
    json_object_set_new(w, "udp_in_errors",
                        json_integer((json_int_t)(b->udp_in_errors - a->udp_in_errors)));
    json_object_set_new(w, "decoders", json_integer(ctx->decoders));
    json_object_set_new(
        w, "frames_decoded",
        json_integer((json_int_t)(b->stats.frames_decoded - a->stats.frames_decoded)));
    json_object_set_new(
        w, "decode_errors",
        json_integer((json_int_t)(b->stats.decode_errors - a->stats.decode_errors)));
    json_object_set_new(w, "tx_errors",
                        json_integer((json_int_t)(b->stats.tx_errors - a->stats.tx_errors)));
    json_object_set_new(w, "latency_video_ms",
                        json_pack("{s:f, s:f, s:f, s:f, s:I}", "p50", f->lat_v[0], "p90",
                                  f->lat_v[1], "p99", f->lat_v[2], "max", f->lat_v[3], "samples",
                                  (json_int_t)ctx->stats.lat_video.count));
    json_object_set_new(w, "latency_audio_ms",
                        json_pack("{s:f, s:f, s:f, s:f, s:I}", "p50", f->lat_a[0], "p90",
                                  f->lat_a[1], "p99", f->lat_a[2], "max", f->lat_a[3], "samples",
                                  (json_int_t)ctx->stats.lat_audio.count));
    json_object_set_new(
        w, "pacing",
        json_pack("{s:s, s:f, s:i, s:f, s:f, s:f, s:I}", "label", wl_pacing_label(o), "factor",
                  o->pacing, "burst_ms", o->pacing_burst_ms, "frame_send_ms", f->frame_send_ms,
                  "frame_send_max_ms", (double)b->stats.tx_frame_spread_max_us / 1000.0,
                  "send_late_us", f->send_late_us, "queue_flushes",
                  (json_int_t)(b->stats.tx_queue_flushes - a->stats.tx_queue_flushes)));
    json_object_set_new(j, "window", w);
    json_t *s = json_object();
    json_object_set_new(s, "pid", json_integer(o->server_pid));
    if (f->server_cpu >= 0) {
        json_object_set_new(s, "cpu_s_per_s", json_real(f->server_cpu));
        json_object_set_new(s, "cpu_per_stream", json_real(f->cpu_per_stream));
        json_object_set_new(s, "streams_per_core", json_real(f->streams_per_core));
        json_object_set_new(s, "packets_per_core_s", json_real(f->pkts_per_core_s));
    }
    json_object_set_new(s, "rss_start_kb", json_integer((json_int_t)info->server_rss_start_kb));
    json_object_set_new(s, "rss_pubs_kb", json_integer((json_int_t)info->server_rss_pubs_kb));
    json_object_set_new(s, "rss_load_kb", json_integer((json_int_t)b->server_rss_kb));
    json_object_set_new(s, "rss_per_stream_kb", json_real(f->rss_per_stream_kb));
    json_object_set_new(j, "server_stats", s);
    json_object_set_new(j, "tool",
                        json_pack("{s:s, s:f}", "name", "weir-load", "cpu_s_per_s", f->tool_cpu));
    return j;
}

static void write_md(FILE *out, const wl_ctx *ctx, const wl_run_info *info, const wl_snapshot *b,
                     const figures *f)
{
    fprintf(out, "| server | preset | pubs | subs | video streams | server CPU-s/s | "
                 "CPU/stream | streams/core | pkts/core-s | RSS start MB | RSS load MB | "
                 "RSS/stream KB | lat p50 ms | lat p99 ms | loss %% | tool CPU | pacing |\n");
    fprintf(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fprintf(out,
            "| %s | %s | %zu/%zu | %zu/%zu | %zu | %.3f | %.5f | %.0f | %.0f | %.1f | %.1f | "
            "%.1f | %.2f | %.2f | %.3f | %.2f | %s |\n",
            ctx->driver->name, ctx->opt.preset, info->pubs_connected, info->pubs_total,
            info->subs_connected, info->subs_total, b->video_streams, f->server_cpu,
            f->cpu_per_stream, f->streams_per_core, f->pkts_per_core_s,
            (double)info->server_rss_start_kb / 1024.0, (double)b->server_rss_kb / 1024.0,
            f->rss_per_stream_kb, f->lat_v[0], f->lat_v[2], f->loss_pct, f->tool_cpu,
            wl_pacing_label(&ctx->opt));
}

int wl_report_write(wl_ctx *ctx, const wl_run_info *info, const wl_snapshot *a,
                    const wl_snapshot *b)
{
    figures f;
    compute(ctx, info, a, b, &f);
    int rc = 0;
    if (ctx->opt.json_path) {
        json_t *j = report_json(ctx, info, a, b, &f);
        if (strcmp(ctx->opt.json_path, "-") == 0) {
            json_dumpf(j, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
        } else if (json_dump_file(j, ctx->opt.json_path, JSON_INDENT(2)) < 0) {
            WEIR_LOG_ERROR("cannot write %s", ctx->opt.json_path);
            rc = -1;
        }
        json_decref(j);
    }
    if (ctx->opt.md_path) {
        FILE *out = strcmp(ctx->opt.md_path, "-") == 0 ? stdout : fopen(ctx->opt.md_path, "w");
        if (!out) {
            WEIR_LOG_ERROR("cannot write %s", ctx->opt.md_path);
            rc = -1;
        } else {
            write_md(out, ctx, info, b, &f);
            if (out != stdout)
                fclose(out);
        }
    }
    fprintf(stderr,
            "weir-load: %s %s subs=%zu/%zu streams=%zu server_cpu=%.3f cpu/stream=%.5f "
            "rx=%.0fpps loss=%.3f%% lat_p50=%.2fms p99=%.2fms tool_cpu=%.2f pacing=%s "
            "frame_send=%.2fms\n",
            ctx->driver->name, ctx->opt.preset, info->subs_connected, info->subs_total,
            b->video_streams, f.server_cpu, f.cpu_per_stream, f.rx_pps, f.loss_pct, f.lat_v[0],
            f.lat_v[2], f.tool_cpu, wl_pacing_label(&ctx->opt), f.frame_send_ms);
    return rc;
}
