/**
 * weir-load's measurement window and its report. A snapshot is taken at
 * the start and at the end of the window (counters, the server's CPU time
 * and RSS from /proc when its pid is known, the tool's own CPU time); the
 * report is their difference, written as JSON (for compare.py) and as a
 * Markdown table (for a human).
 */
#ifndef WL_REPORT_H
#define WL_REPORT_H

#include <stdint.h>

#include "stats.h"
#include "wl.h"

typedef struct wl_snapshot {
    int64_t t_us;
    wl_stats stats;
    uint64_t expected; /* packets subscribers should have had (by RTP sequence numbers) */
    uint64_t received;
    size_t video_streams; /* subscriber streams that received since the given time */
    size_t audio_streams;
    double tool_cpu_s; /* user + system */
    double server_cpu_s;
    uint64_t server_rss_kb;
    uint64_t udp_rcvbuf_errors; /* this network namespace's, from /proc/net/snmp */
    uint64_t udp_in_errors;
} wl_snapshot;

typedef struct wl_run_info {
    int64_t setup_ms; /* from the first join to every peer connected */
    size_t pubs_connected, pubs_total;
    size_t subs_connected, subs_total;
    uint64_t server_rss_start_kb; /* before anyone joined */
    uint64_t server_rss_pubs_kb;  /* publishers connected, no subscriber yet */
    double clip_kbps[3];
    size_t n_layers;
} wl_run_info;

/**
 * Fills a snapshot of the run now. Streams count when they received a
 * packet since since_us (0: in the last second).
 */
void wl_snapshot_take(wl_ctx *ctx, wl_snapshot *s, int64_t since_us);
/** CPU seconds (user + system) of a process from /proc; -1 when unknown. */
double wl_proc_cpu_s(int pid);
/** Resident set of a process in KiB from /proc; 0 when unknown. */
uint64_t wl_proc_rss_kb(int pid);
double wl_self_cpu_s(void);
/** The pacing in words for the reports: "off", "2.5x" or "2.5x+40ms" (a static buffer). */
const char *wl_pacing_label(const wl_options *o);
/** Writes the JSON and Markdown reports where the options say, and a summary line on stderr. */
int wl_report_write(wl_ctx *ctx, const wl_run_info *info, const wl_snapshot *a,
                    const wl_snapshot *b);

#endif
