/**
 * Data channels on the control thread: the glue between the workers'
 * DATA_* events, each room's channel state (datachannel_room.h, which
 * stamps, replays and relays) and the room logs under
 * <[server] data_dir>/rooms/ (room_log.h).
 *
 * The control thread is the only place that stamps: whatever worker a
 * participant's publisher PC lives on, its whiteboard and chat messages
 * come here, get their seq from the room's log and go back down as
 * DATA_SEND commands to every worker holding a channel of that label.
 *
 * Rooms get their state (and their log: opened lazily, replayed from the
 * file if one survives from an earlier run) at their first channel, and
 * lose it when the room closes. When the data directory cannot be used
 * the history is kept in memory only; this is logged once.
 */
#ifndef WEIR_CONTROL_DATACHANNEL_H
#define WEIR_CONTROL_DATACHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "control/config.h"
#include "control/datachannel_room.h"
#include "control/room.h"
#include "shell/worker.h"

typedef struct weir_control weir_control;
typedef struct weir_datachannels weir_datachannels;

/** The [data] limits the workers enforce (max message size, buffers, flood). */
void weir_datachannels_media_limits(const weir_config *cfg, weir_worker_media *media);

/**
 * Creates the data-channel state of ctl (ctl->datachannels): prepares the
 * history directory (created when missing). Never NULL: an unusable
 * directory means memory-only history, logged once.
 */
weir_datachannels *weir_datachannels_create(weir_control *ctl);
/** Forgets every channel, syncs and closes every room log. NULL is a no-op. */
void weir_datachannels_destroy(weir_datachannels *dcs);

/**
 * A DATA_OPEN, DATA_MESSAGE, DATA_CLOSED or DATA_DRAINED event. Frees a
 * message's data whatever happens to it (unknown peer included).
 */
void weir_datachannels_on_event(weir_control *ctl, const weir_worker_event *ev);

/** p leaves its room (before it is removed from it): its channels are forgotten. */
void weir_datachannels_participant_gone(weir_control *ctl, const weir_participant *p);
/** The room is being removed: its channel state and log are closed. */
void weir_datachannels_room_closed(weir_control *ctl, const weir_room *room);
/** Housekeeping from the control tick: retries, replays held back, log fsync/compaction. */
void weir_datachannels_tick(weir_control *ctl, int64_t now_us);

/** Counters for /metrics. */
const weir_dc_stats *weir_datachannels_stats(const weir_datachannels *dcs);
/** Gauges for /metrics: open channels, and history entries of kind over all rooms. */
size_t weir_datachannels_open_channels(const weir_datachannels *dcs);
size_t weir_datachannels_history_entries(const weir_datachannels *dcs, weir_room_log_kind kind);

#endif
