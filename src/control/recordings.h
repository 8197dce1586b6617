/**
 * Built-in recording, control side: record_start/record_stop, which tracks
 * a recording takes (the listed ones, or every track of the room now and
 * later), the RECORD_START/RECORD_STOP commands to the producers' workers,
 * the room's notifications and whiteboard/chat messages as the recording's
 * timeline, and what the admin API and /metrics show. The files themselves
 * are the recorder plugin's (plugins/recorder/, loaded by plugin_host.c).
 *
 * A track leaves a recording in two steps: RECORD_STOP to its worker, then,
 * when the worker answers RECORD_STOPPED (it no longer touches the plugin's
 * track), the plugin's track_close. A stopped recording is closed the same
 * way: record_stop answers at once (files, duration), the plugin finishes
 * the files once every worker has let go, and the manifest then says
 * "complete".
 */
#ifndef WEIR_CONTROL_RECORDINGS_H
#define WEIR_CONTROL_RECORDINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct weir_control;
struct weir_participant;
struct weir_track;
struct weir_room;
struct weir_worker_event;

typedef struct weir_recordings_stats {
    bool plugin_loaded;
    uint64_t active;        /* recordings not yet complete */
    uint64_t tracks_active; /* tracks being written */
    uint64_t started_total, completed_total, failed_total;
    uint64_t packets_total, queue_drops_total, frames_total, frames_dropped_total;
    uint64_t bytes_total, write_errors_total;
} weir_recordings_stats;

/** Loads the plugin when [recorder] enabled; a failure is logged and leaves recording off. */
void weir_recordings_init(struct weir_control *ctl);
/** record_start: 0 and *result, or an error code (403/404/503/-32602) and err. */
int weir_recordings_start(struct weir_control *ctl, struct weir_participant *p,
                          const json_t *params, json_t **result, char *err, size_t errlen);
/** record_stop: likewise. */
int weir_recordings_stop(struct weir_control *ctl, struct weir_participant *p, const char *id,
                         json_t **result, char *err, size_t errlen);
/** A track was announced in a room: recordings of "all tracks" take it. */
void weir_recordings_on_track_published(struct weir_control *ctl, struct weir_track *t);
/** A track is going away: its sinks are stopped. */
void weir_recordings_on_track_gone(struct weir_control *ctl, const struct weir_track *t);
/** The room is about to be freed: its recordings stop. */
void weir_recordings_on_room_closed(struct weir_control *ctl, struct weir_room *room);
/** WEIR_WORKER_EVENT_RECORD_STOPPED. */
void weir_recordings_on_event(struct weir_control *ctl, const struct weir_worker_event *ev);
/** Admin API: recordings (of one room, or all when room_id is NULL), with per-track counters. */
json_t *weir_recordings_json(const struct weir_control *ctl, const char *room_id);
void weir_recordings_get_stats(const struct weir_control *ctl, weir_recordings_stats *out);
/** The workers are stopped: close every recording now, then unload the plugin. */
void weir_recordings_destroy(struct weir_control *ctl);

#endif
