/*
 * The built-in recorder as a plugin (include/weir/plugin.h): its entry
 * point, its configuration and its one thread.
 *
 * One thread writes every recording of the server. Per frame the work is a
 * depacketization and one write(2): about 0.1 % of a core per recorded
 * stream (benchmarks/recorder.py), so a thread keeps up with hundreds of
 * tracks, and one thread keeps the files' code free of locks. While
 * something is recording, the thread wakes every 10 ms (or when the control
 * thread has news), drains each track's packet queue and writes what is
 * complete; the media workers never wait for it. With nothing to record it
 * sleeps until a recording opens.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recorder_internal.h"
#include "weir/alloc.h"

#define RECORDER_VERSION "1.0.0"
#define TICK_NS (10 * 1000 * 1000)

/* ---- config ---- */

static int read_int(const json_t *cfg, const char *key, long min, long max, long *out, char *err,
                    size_t err_len)
{
    const json_t *v = json_object_get(cfg, key);
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    long n = s ? strtol(s, &end, 10) : json_is_integer(v) ? (long)json_integer_value(v) : 0;
    if ((s && (errno || end == s || *end)) || (!s && !json_is_integer(v)) || n < min || n > max) {
        snprintf(err, err_len, "[recorder] %s: expected an integer %ld..%ld", key, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_config(const char *text, wrec_config *cfg, char *err, size_t err_len)
{
    long queue = 512, wait_ms = 300, pending_ms = 5000, fsync_ms = 2000, manifest_ms = 1000;
    json_t *j = text && text[0] ? json_loads(text, 0, NULL) : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, err_len, "[recorder]: the configuration is not a JSON object");
        return -1;
    }
    int rc = 0;
    if (read_int(j, "queue_packets", 16, 65536, &queue, err, err_len) < 0 ||
        read_int(j, "max_wait_ms", 0, 5000, &wait_ms, err, err_len) < 0 ||
        read_int(j, "sync_wait_ms", 0, 30000, &pending_ms, err, err_len) < 0 ||
        read_int(j, "fsync_interval_ms", 0, 3600000, &fsync_ms, err, err_len) < 0 ||
        read_int(j, "manifest_interval_ms", 100, 3600000, &manifest_ms, err, err_len) < 0)
        rc = -1;
    json_decref(j);
    cfg->queue_packets = (size_t)queue;
    cfg->max_wait_us = wait_ms * 1000;
    cfg->pending_max_us = pending_ms * 1000;
    cfg->fsync_interval_us = fsync_ms * 1000;
    cfg->manifest_interval_us = manifest_ms * 1000;
    return rc;
}

/* ---- the thread ---- */

static void unlink_recording(weir_recorder *r, weir_recording *rec)
{
    for (weir_recording **pp = &r->recordings; *pp; pp = &(*pp)->next)
        if (*pp == rec) {
            *pp = rec->next;
            return;
        }
}

static void service_all(weir_recorder *r)
{
    int64_t now = r->host->now_us();
    pthread_mutex_lock(&r->lock);
    weir_recording *rec = r->recordings;
    pthread_mutex_unlock(&r->lock);
    while (rec) {
        /* Only this thread unlinks recordings: rec and its next stay valid while it runs. */
        bool finished = wrec_recording_service(rec, now);
        pthread_mutex_lock(&r->lock);
        weir_recording *next = rec->next;
        if (finished && !rec->finished) {
            rec->finished = true;
            unlink_recording(r, rec);
            if (rec->abandoned) {
                pthread_mutex_unlock(&r->lock);
                wrec_recording_free(rec);
                pthread_mutex_lock(&r->lock);
            }
            pthread_cond_broadcast(&r->changed);
        }
        pthread_mutex_unlock(&r->lock);
        rec = next;
    }
}

static void *thread_main(void *arg)
{
    weir_recorder *r = arg;
    pthread_setname_np(pthread_self(), "weir-recorder"); /* top -H, benchmarks/recorder.py */
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        pthread_mutex_unlock(&r->lock);
        service_all(r);
        pthread_mutex_lock(&r->lock);
        if (r->stop)
            break;
        if (!r->recordings) { /* nothing to write: sleep until recording_open or destroy */
            pthread_cond_wait(&r->wake, &r->lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_NS;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->wake, &r->lock, &until);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- create / destroy ---- */

static weir_recorder *recorder_create(const weir_plugin_host *host, const char *config_json,
                                      char *err, size_t err_len)
{
    wrec_config cfg;
    if (parse_config(config_json, &cfg, err, err_len) < 0)
        return NULL;
    weir_recorder *r = WEIR_NEW(weir_recorder);
    r->host = host;
    r->cfg = cfg;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &attr);
    pthread_cond_init(&r->changed, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&r->thread, NULL, thread_main, r);
    if (rc != 0) {
        snprintf(err, err_len, "recorder thread: %s", strerror(rc));
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->wake);
        pthread_cond_destroy(&r->changed);
        weir_free(r);
        return NULL;
    }
    WREC_LOG(
        r, WEIR_LOG_INFO,
        "recorder_started version=%s queue_packets=%zu max_wait_ms=%lld fsync_interval_ms=%lld",
        RECORDER_VERSION, cfg.queue_packets, (long long)cfg.max_wait_us / 1000,
        (long long)cfg.fsync_interval_us / 1000);
    return r;
}

static void recorder_destroy(weir_recorder *r)
{
    if (!r)
        return;
    /* The host closes its recordings first; anything left is closed here, briefly. */
    for (;;) {
        pthread_mutex_lock(&r->lock);
        weir_recording *rec = r->recordings;
        while (rec && rec->abandoned)
            rec = rec->next;
        pthread_mutex_unlock(&r->lock);
        if (!rec)
            break;
        char err[160];
        wrec_recording_close(rec, r->host->now_us(), 2000, NULL, err, sizeof err);
    }
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    /* Abandoned recordings whose files never finished: free what is left. */
    while (r->recordings) {
        weir_recording *rec = r->recordings;
        r->recordings = rec->next;
        wrec_recording_free(rec);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->changed);
    weir_free(r);
}

static const weir_recorder_ops ops = {
    .struct_size = sizeof(weir_recorder_ops),
    .create = recorder_create,
    .destroy = recorder_destroy,
    .recording_open = wrec_recording_open,
    .recording_event = wrec_recording_event,
    .track_open = wrec_track_open,
    .track_packet = wrec_track_packet,
    .track_take_keyframe_request = wrec_track_take_keyframe_request,
    .track_stats = wrec_track_stats,
    .track_close = wrec_track_close,
    .recording_close = wrec_recording_close,
};

static const weir_plugin plugin = {
    .abi_version = WEIR_PLUGIN_ABI_VERSION,
    .name = "recorder",
    .version = RECORDER_VERSION,
    .description = "built-in recorder: one WebM/Matroska file per track, manifest and timeline",
    .recorder = &ops,
};

__attribute__((visibility("default"))) const weir_plugin *weir_plugin_entry(void)
{
    return &plugin;
}
