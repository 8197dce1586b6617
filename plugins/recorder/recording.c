/*
 * One recording (record_start … record_stop): its directory, its timeline
 * (timeline.jsonl, appended as things happen), the participants it saw, and
 * the closing handshake with the control thread.
 *
 * The control thread only queues (events, new tracks, the close request)
 * under the recorder's lock; this file's *_service runs on the recorder's
 * thread and does the writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "recorder_internal.h"
#include "weir/alloc.h"

int64_t wrec_timeline_ms(const weir_recording *rec, int64_t at_us)
{
    int64_t d = at_us - rec->started_us;
    return d > 0 ? d / 1000 : 0;
}

/* mkdir -p for the recording's directory (the parents usually exist). */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Lines go out in time order: an event timed a little before the last one written (its
 * time was taken on another thread) is written at the last one's time. */
static void timeline_append(weir_recording *rec, json_t *line)
{
    json_int_t t_ms = json_integer_value(json_object_get(line, "t_ms"));
    if (t_ms < rec->timeline_last_ms)
        json_object_set_new(line, "t_ms", json_integer(rec->timeline_last_ms));
    else
        rec->timeline_last_ms = t_ms;
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the terminator: written with its length */
    if (rec->timeline_fd >= 0 && write_all(rec->timeline_fd, text, n + 1) < 0)
        WREC_LOG(rec->r, WEIR_LOG_ERROR,
                 "recording_timeline_write_failed recording=%s error=\"%s\"", rec->id,
                 strerror(errno));
    free(text);
}

void wrec_timeline_write(weir_recording *rec, int64_t t_ms, const char *type,
                         const char *fields_json)
{
    json_t *line = json_pack("{s:I, s:s}", "t_ms", (json_int_t)t_ms, "type", type);
    if (fields_json && fields_json[0]) {
        char buf[1024];
        snprintf(buf, sizeof buf, "{%s}", fields_json);
        json_t *fields = json_loads(buf, 0, NULL);
        if (fields)
            json_object_update(line, fields);
        json_decref(fields);
    }
    timeline_append(rec, line);
    json_decref(line);
}

wrec_participant *wrec_recording_participant(weir_recording *rec, const char *id)
{
    for (size_t i = 0; i < rec->n_participants; i++)
        if (strcmp(rec->participants[i].id, id) == 0)
            return &rec->participants[i];
    if (rec->n_participants == WREC_MAX_PARTICIPANTS)
        return NULL;
    wrec_participant *p = &rec->participants[rec->n_participants++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->left_ms = -1;
    return p;
}

/* ---- control thread ---- */

weir_recording *wrec_recording_open(weir_recorder *r, const weir_recording_info *info, char *err,
                                    size_t err_len)
{
    int rc = make_dirs(info->dir);
    if (rc < 0) {
        snprintf(err, err_len, "cannot create %s: %s", info->dir, strerror(-rc));
        return NULL;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/timeline.jsonl", info->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    weir_recording *rec = WEIR_NEW(weir_recording);
    rec->r = r;
    rec->timeline_fd = fd;
    snprintf(rec->id, sizeof rec->id, "%s", info->id);
    snprintf(rec->room, sizeof rec->room, "%s", info->room);
    snprintf(rec->by, sizeof rec->by, "%s", info->by ? info->by : "");
    snprintf(rec->dir, sizeof rec->dir, "%s", info->dir);
    rec->started_us = info->started_us;
    rec->started_wall_ms = info->started_wall_ms;
    rec->events_tail = &rec->events;
    rec->manifest_dirty = true;
    rec->duration_ms = -1;
    wrec_timeline_write(rec, 0, "recording_started", NULL);
    pthread_mutex_lock(&r->lock);
    rec->next = r->recordings;
    r->recordings = rec;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    WREC_LOG(r, WEIR_LOG_INFO, "recording_opened recording=%s room=%s dir=%s", rec->id, rec->room,
             rec->dir);
    return rec;
}

void wrec_recording_event(weir_recording *rec, int64_t at_us, const char *json_object)
{
    if (!rec || !json_object)
        return;
    size_t n = strlen(json_object);
    wrec_event *ev = weir_malloc(sizeof *ev + n + 1);
    ev->next = NULL;
    ev->at_us = at_us;
    memcpy(ev->json, json_object, n + 1);
    pthread_mutex_lock(&rec->r->lock);
    *rec->events_tail = ev;
    rec->events_tail = &ev->next;
    pthread_mutex_unlock(&rec->r->lock);
}

static void sum_tracks(weir_recording *rec, weir_recording_track_stats *out)
{
    memset(out, 0, sizeof *out);
    for (weir_recording_track *t = rec->tracks; t; t = t->next) {
        weir_recording_track_stats st;
        wrec_track_stats(t, &st);
        out->packets += st.packets;
        out->queue_drops += st.queue_drops;
        out->frames_written += st.frames_written;
        out->frames_dropped += st.frames_dropped;
        out->bytes_written += st.bytes_written;
        out->write_errors += st.write_errors;
        if (st.duration_ms > out->duration_ms)
            out->duration_ms = st.duration_ms;
        if (st.failed && !out->failed) {
            out->failed = true;
            memcpy(out->error, st.error, sizeof out->error);
            memcpy(out->file, st.file, sizeof out->file);
        }
    }
}

int wrec_recording_close(weir_recording *rec, int64_t at_us, int timeout_ms,
                         weir_recording_track_stats *totals, char *err, size_t err_len)
{
    weir_recorder *r = rec->r;
    if (totals)
        memset(totals, 0, sizeof *totals);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&r->lock);
    rec->close_requested = true;
    rec->close_us = at_us;
    pthread_cond_signal(&r->wake);
    while (!rec->finished)
        if (pthread_cond_timedwait(&r->changed, &r->lock, &until) == ETIMEDOUT)
            break;
    if (!rec->finished) {
        /* The disk is too slow: the thread finishes (and frees) it later. */
        rec->abandoned = true;
        pthread_mutex_unlock(&r->lock);
        snprintf(err, err_len, "recording %s: files not complete after %d ms (slow disk?)", rec->id,
                 timeout_ms);
        WREC_LOG(r, WEIR_LOG_WARN, "recording_close_timeout recording=%s timeout_ms=%d", rec->id,
                 timeout_ms);
        return -1;
    }
    pthread_mutex_unlock(&r->lock);
    if (totals)
        sum_tracks(rec, totals);
    int rc = 0;
    if (rec->close_error[0]) {
        snprintf(err, err_len, "%s", rec->close_error);
        rc = -1;
    }
    wrec_recording_free(rec);
    return rc;
}

void wrec_recording_free(weir_recording *rec)
{
    while (rec->tracks) {
        weir_recording_track *t = rec->tracks;
        rec->tracks = t->next;
        wrec_track_free(t);
    }
    while (rec->new_tracks) {
        weir_recording_track *t = rec->new_tracks;
        rec->new_tracks = t->next;
        wrec_track_free(t);
    }
    while (rec->events) {
        wrec_event *ev = rec->events;
        rec->events = ev->next;
        weir_free(ev);
    }
    if (rec->timeline_fd >= 0)
        close(rec->timeline_fd);
    weir_free(rec);
}

/* ---- recorder thread ---- */

static weir_recording_track *find_track(weir_recording *rec, const char *id)
{
    for (weir_recording_track *t = rec->tracks; t; t = t->next)
        if (strcmp(t->track, id) == 0)
            return t;
    return NULL;
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    snprintf(dst, cap, "%s", json_string_value(v) ? json_string_value(v) : "");
}

/* What the manifest keeps from an event: participants' presence and mutes. */
static void apply_event(weir_recording *rec, const char *type, const json_t *ev, int64_t t_ms)
{
    if (strcmp(type, "participant_joined") == 0 || strcmp(type, "participant_left") == 0) {
        const json_t *pj = json_object_get(ev, "participant");
        const char *id = json_string_value(json_object_get(pj, "id"));
        wrec_participant *p = id ? wrec_recording_participant(rec, id) : NULL;
        if (!p)
            return;
        if (type[12] == 'j') {
            copy_str(p->display, sizeof p->display, json_object_get(pj, "display"));
            copy_str(p->role, sizeof p->role, json_object_get(pj, "role"));
            p->joined_ms = t_ms;
            p->left_ms = -1;
        } else {
            p->left_ms = t_ms;
        }
        rec->manifest_dirty = true;
    } else if (strcmp(type, "track_muted") == 0) {
        const char *id = json_string_value(json_object_get(ev, "track"));
        weir_recording_track *t = id ? find_track(rec, id) : NULL;
        if (t)
            wrec_track_set_muted(t, json_is_true(json_object_get(ev, "muted")), t_ms);
        rec->manifest_dirty = true;
    }
}

static void process_event(weir_recording *rec, const wrec_event *e)
{
    json_t *ev = json_loads(e->json, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!json_is_object(ev) || !type) {
        WREC_LOG(rec->r, WEIR_LOG_WARN, "recording_event_invalid recording=%s", rec->id);
        json_decref(ev);
        return;
    }
    int64_t t_ms = wrec_timeline_ms(rec, e->at_us);
    apply_event(rec, type, ev, t_ms);
    json_t *line = json_pack("{s:I}", "t_ms", (json_int_t)t_ms);
    json_object_update(line, ev);
    timeline_append(rec, line);
    json_decref(line);
    json_decref(ev);
}

static void track_added(weir_recording *rec, weir_recording_track *t)
{
    char fields[640];
    snprintf(fields, sizeof fields,
             "\"track\":\"%s\",\"participant\":\"%s\",\"kind\":\"%s\",\"source\":\"%s\","
             "\"codec\":\"%s\",\"file\":\"%s\"",
             t->track, t->participant, t->kind, t->source, t->codec_name, t->file);
    wrec_timeline_write(rec, wrec_timeline_ms(rec, rec->r->host->now_us()), "track_added", fields);
    rec->manifest_dirty = true;
}

bool wrec_recording_service(weir_recording *rec, int64_t now_us)
{
    weir_recorder *r = rec->r;
    pthread_mutex_lock(&r->lock);
    weir_recording_track *adopted = rec->new_tracks;
    rec->new_tracks = NULL;
    wrec_event *events = rec->events;
    rec->events = NULL;
    rec->events_tail = &rec->events;
    bool closing = rec->close_requested;
    int64_t close_us = rec->close_us;
    pthread_mutex_unlock(&r->lock);

    /* adopted is newest first: append in opening order. */
    weir_recording_track *rev = NULL;
    while (adopted) {
        weir_recording_track *t = adopted;
        adopted = t->next;
        t->next = rev;
        rev = t;
    }
    weir_recording_track **tail = &rec->tracks;
    while (*tail)
        tail = &(*tail)->next;
    while (rev) {
        weir_recording_track *t = rev;
        rev = t->next;
        t->next = NULL;
        *tail = t;
        tail = &t->next;
        track_added(rec, t);
    }
    while (events) {
        wrec_event *e = events;
        events = e->next;
        process_event(rec, e);
        weir_free(e);
    }

    bool all_done = true;
    for (weir_recording_track *t = rec->tracks; t; t = t->next) {
        if (closing && !atomic_load(&t->closing)) {
            t->close_us = close_us;
            atomic_store(&t->closing, true);
        }
        bool was_done = t->done;
        if (!wrec_track_service(t, now_us))
            all_done = false;
        else if (!was_done)
            rec->manifest_dirty = true;
    }

    if (closing && all_done) {
        rec->duration_ms = wrec_timeline_ms(rec, close_us);
        wrec_timeline_write(rec, rec->duration_ms, "recording_stopped", NULL);
        char err[160] = "";
        if (wrec_manifest_write(rec, "complete", err, sizeof err) < 0)
            snprintf(rec->close_error, sizeof rec->close_error, "%s", err);
        if (rec->timeline_fd >= 0) {
            fdatasync(rec->timeline_fd);
            close(rec->timeline_fd);
            rec->timeline_fd = -1;
        }
        WREC_LOG(r, WEIR_LOG_INFO, "recording_closed recording=%s duration_ms=%lld", rec->id,
                 (long long)rec->duration_ms);
        return true;
    }
    if (rec->manifest_dirty && now_us - rec->last_manifest_us >= r->cfg.manifest_interval_us) {
        char err[160];
        rec->manifest_dirty = false;
        rec->last_manifest_us = now_us;
        if (wrec_manifest_write(rec, "recording", err, sizeof err) < 0)
            WREC_LOG(r, WEIR_LOG_ERROR, "recording_manifest_write_failed recording=%s error=\"%s\"",
                     rec->id, err);
    }
    return false;
}
