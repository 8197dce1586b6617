/*
 * Published tracks: created from an answered publish, announced to the
 * room, muted by their publisher, ranked for active_speaker, and removed
 * when the publisher leaves.
 */
#define WEIR_LOG_MODULE "control.media"
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "control/control.h"
#include "control/media.h"
#include "control/membership.h"
#include "control/session.h"
#include "control/recordings.h"
#include "control/taps.h"
#include "weir/alloc.h"
#include "weir/log.h"

/* Participants named in active_speaker, loudest first. */
#define ACTIVE_SPEAKERS_MAX 3
/* -dBov above which a voiced level counts as speech (127 = silence). */
#define SPEECH_LEVEL_MAX 70

static GHashTable *track_table(weir_control *ctl)
{
    if (!ctl->tracks)
        ctl->tracks = g_hash_table_new(g_direct_hash, g_direct_equal);
    return ctl->tracks;
}

void weir_media_participant_init(weir_control *ctl, weir_participant *p)
{
    (void)ctl;
    p->media = WEIR_NEW(weir_participant_media);
    p->media->announced_rank = -1;
    p->media->sub_state = "new";
}

weir_sub_line *weir_media_add_line(weir_participant_media *pm)
{
    if (pm->n_lines == WEIR_MEDIA_MAX_LINES)
        return NULL;
    if (pm->n_lines == pm->lines_cap) {
        size_t cap = pm->lines_cap ? 2 * pm->lines_cap : 4;
        if (cap > WEIR_MEDIA_MAX_LINES)
            cap = WEIR_MEDIA_MAX_LINES;
        pm->lines = weir_realloc(pm->lines, cap * sizeof *pm->lines);
        pm->lines_cap = cap;
    }
    weir_sub_line *l = &pm->lines[pm->n_lines++];
    memset(l, 0, sizeof *l);
    return l;
}

static json_t *track_json(const weir_track *t)
{
    json_t *rids = json_array();
    for (size_t i = 0; i < t->n_rids; i++)
        json_array_append_new(rids, json_string(t->rids[i]));
    const char *source = weir_track_source_name(t->source);
    if (!source[0])
        source = t->kind == WEIR_SDP_AUDIO ? "microphone" : "camera";
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b}", "id", t->id, "participant", t->owner->id,
                     "kind", t->kind == WEIR_SDP_AUDIO ? "audio" : "video", "source", source,
                     "simulcast", rids, "muted", t->muted);
}

json_t *weir_media_tracks_json(const weir_room *room, const weir_participant *except)
{
    json_t *list = json_array();
    for (size_t i = 0; i < weir_room_count(room); i++) {
        const weir_participant *p = weir_room_at(room, i);
        if (p == except || !p->media)
            continue;
        for (size_t k = 0; k < p->media->n_tracks; k++)
            json_array_append_new(list, track_json(p->media->tracks[k]));
    }
    return list;
}

json_t *weir_media_own_tracks_json(const weir_participant *p)
{
    json_t *list = json_array();
    for (size_t k = 0; p->media && k < p->media->n_tracks; k++) {
        json_t *t = track_json(p->media->tracks[k]);
        json_object_set_new(t, "mid", json_string(p->media->tracks[k]->pub_mid));
        json_array_append_new(list, t);
    }
    return list;
}

weir_track *weir_media_find_track(weir_control *ctl, const weir_room *room, const char *id)
{
    (void)ctl;
    for (size_t i = 0; room && i < weir_room_count(room); i++) {
        const weir_participant *p = weir_room_at(room, i);
        for (size_t k = 0; p->media && k < p->media->n_tracks; k++)
            if (strcmp(p->media->tracks[k]->id, id) == 0)
                return p->media->tracks[k];
    }
    return NULL;
}

weir_track *weir_media_track_by_handle(weir_control *ctl, uint32_t handle)
{
    return ctl->tracks ? g_hash_table_lookup(ctl->tracks, GUINT_TO_POINTER(handle)) : NULL;
}

static weir_track *new_track(weir_control *ctl, weir_participant *p, const weir_publish_media *m)
{
    weir_track *t = WEIR_NEW(weir_track);
    t->id[0] = 't';
    weir_rand_id(&ctl->rand, t->id + 1, WEIR_TRACK_ID_LEN - 1);
    t->handle = ++ctl->next_track_handle;
    t->owner = p;
    t->kind = m->kind;
    t->source = m->source;
    t->n_rids = m->n_rids;
    for (size_t r = 0; r < m->n_rids; r++)
        snprintf(t->rids[r], sizeof t->rids[r], "%s", m->rids[r].id);
    t->codec = m->codec;
    snprintf(t->fmtp, sizeof t->fmtp, "%s", m->fmtp);
    t->clock_rate_hz = m->clock_rate_hz;
    t->channels = m->channels;
    t->pt = m->pt;
    t->rtx_pt = m->rtx_pt;
    t->red_pt = m->red_pt;
    t->level = 127;
    snprintf(t->pub_mid, sizeof t->pub_mid, "%s", m->mid);
    g_hash_table_insert(track_table(ctl), GUINT_TO_POINTER(t->handle), t);
    return t;
}

static bool carries_track(const weir_publish_media *m)
{
    return !m->rejected && m->receiving && (m->kind == WEIR_SDP_AUDIO || m->kind == WEIR_SDP_VIDEO);
}

/* The m-line of desc a track still has, or NULL when its mid no longer sends that kind. */
static const weir_publish_media *still_sent(const weir_publish_desc *desc, const weir_track *t,
                                            size_t *index)
{
    for (size_t i = 0; i < desc->n_media; i++) {
        const weir_publish_media *m = &desc->media[i];
        if (strcmp(m->mid, t->pub_mid) == 0 && carries_track(m) && m->kind == t->kind &&
            m->codec == t->codec) {
            *index = i;
            return m;
        }
    }
    return NULL;
}

static void unpublish(weir_control *ctl, weir_participant *p, weir_track *t, bool quiet)
{
    g_hash_table_remove(track_table(ctl), GUINT_TO_POINTER(t->handle));
    if (!quiet && t->announced)
        weir_membership_broadcast(p->room, p, "track_unpublished",
                                  json_pack("{s:{s:s}}", "track", "id", t->id));
    WEIR_LOG_INFO("track_unpublished participant=%s track=%s", p->id, t->id);
    weir_taps_on_track_gone(ctl, t);
    weir_recordings_on_track_gone(ctl, t);
    weir_free(t);
}

void weir_media_publish(weir_control *ctl, weir_participant *p, const weir_publish_desc *desc,
                        weir_worker_publish *pub)
{
    weir_participant_media *pm = p->media;
    bool claimed[WEIR_NEGOTIATE_MAX_MEDIA] = {0};
    size_t kept = 0, removed = 0;
    for (size_t k = 0; k < pm->n_tracks; k++) {
        weir_track *t = pm->tracks[k];
        size_t i;
        const weir_publish_media *m = still_sent(desc, t, &i);
        if (!m) {
            unpublish(ctl, p, t, false);
            removed++;
            continue;
        }
        claimed[i] = true;
        pub->track_handles[i] = t->handle;
        if (m->source_explicit) /* else the renegotiating offer did not say: keep it */
            t->source = m->source;
        pm->tracks[kept++] = t;
    }
    pm->n_tracks = kept;
    for (size_t i = 0; i < desc->n_media && pm->n_tracks < WEIR_MEDIA_MAX_TRACKS; i++) {
        const weir_publish_media *m = &desc->media[i];
        if (claimed[i] || !carries_track(m))
            continue;
        weir_track *t = new_track(ctl, p, m);
        pm->tracks[pm->n_tracks++] = t;
        pub->track_handles[i] = t->handle;
        WEIR_LOG_INFO("track_published participant=%s track=%s kind=%s layers=%zu", p->id, t->id,
                      t->kind == WEIR_SDP_AUDIO ? "audio" : "video", t->n_rids);
    }
    if (removed)
        weir_media_refresh_room(ctl, p->room, p);
}

/* After the publish command was queued: tell the room about new tracks and re-offer. */
void weir_media_announce(weir_control *ctl, weir_participant *p)
{
    bool any = false;
    for (size_t k = 0; k < p->media->n_tracks; k++) {
        weir_track *t = p->media->tracks[k];
        if (t->announced)
            continue;
        t->announced = true;
        any = true;
        weir_membership_broadcast(p->room, p, "track_published",
                                  json_pack("{s:o}", "track", track_json(t)));
        weir_recordings_on_track_published(ctl, t);
    }
    if (any)
        weir_media_refresh_room(ctl, p->room, p);
}

static void send_track_control(weir_control *ctl, const weir_track *t, weir_worker_cmd_type type,
                               const weir_worker_track_control *tc)
{
    const weir_participant *owner = t->owner;
    if (owner->worker_index < 0 || owner->worker_index >= ctl->n_workers)
        return;
    weir_worker_track_control *copy = WEIR_NEW(weir_worker_track_control);
    *copy = *tc;
    weir_worker_cmd cmd = {.type = type, .payload = copy};
    if (weir_worker_send(ctl->workers[owner->worker_index], &cmd) < 0)
        weir_free(copy);
}

void weir_media_set_muted(weir_control *ctl, weir_track *t, bool muted)
{
    if (t->muted == muted)
        return;
    t->muted = muted;
    weir_worker_track_control tc = {.handle = t->handle, .muted = muted};
    send_track_control(ctl, t, WEIR_WORKER_CMD_MUTE, &tc);
    weir_membership_broadcast(t->owner->room, NULL, "track_muted",
                              json_pack("{s:s, s:b}", "track", t->id, "muted", muted));
}

void weir_media_on_keyframe_needed(weir_control *ctl, uint32_t handle, int layer)
{
    weir_track *t = weir_media_track_by_handle(ctl, handle);
    if (!t)
        return;
    weir_worker_track_control tc = {.handle = handle, .layer = layer};
    send_track_control(ctl, t, WEIR_WORKER_CMD_KEYFRAME, &tc);
}

/* A participant's loudness: its loudest speaking audio track (lower -dBov = louder), or 128. */
static int loudness(const weir_participant *p)
{
    int best = 128;
    for (size_t k = 0; p->media && k < p->media->n_tracks; k++) {
        const weir_track *t = p->media->tracks[k];
        if (t->kind == WEIR_SDP_AUDIO && !t->muted && t->voice && t->level <= SPEECH_LEVEL_MAX &&
            t->level < best)
            best = t->level;
    }
    return best;
}

/* Broadcasts active_speaker when the ranking of speaking participants changed. */
static void rank_speakers(weir_room *room)
{
    weir_participant *top[ACTIVE_SPEAKERS_MAX] = {0};
    int top_level[ACTIVE_SPEAKERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < weir_room_count(room); i++) {
        weir_participant *p = weir_room_at(room, i);
        int level = loudness(p);
        if (level > SPEECH_LEVEL_MAX)
            continue;
        size_t pos = n < ACTIVE_SPEAKERS_MAX ? n : ACTIVE_SPEAKERS_MAX;
        while (pos > 0 && top_level[pos - 1] > level) {
            if (pos < ACTIVE_SPEAKERS_MAX) {
                top[pos] = top[pos - 1];
                top_level[pos] = top_level[pos - 1];
            }
            pos--;
        }
        if (pos < ACTIVE_SPEAKERS_MAX) {
            top[pos] = p;
            top_level[pos] = level;
            if (n < ACTIVE_SPEAKERS_MAX)
                n++;
        }
    }
    bool changed = false;
    for (size_t i = 0; i < weir_room_count(room); i++) {
        weir_participant *p = weir_room_at(room, i);
        int rank = -1;
        for (size_t k = 0; k < n; k++)
            if (top[k] == p)
                rank = (int)k;
        if (p->media && p->media->announced_rank != rank) {
            p->media->announced_rank = rank;
            changed = true;
        }
    }
    if (!changed)
        return;
    json_t *list = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(list, json_string(top[k]->id));
    weir_membership_broadcast(room, NULL, "active_speaker",
                              json_pack("{s:o}", "participants", list));
}

void weir_media_on_audio_level(weir_control *ctl, uint32_t handle, uint8_t level, bool voice)
{
    weir_track *t = weir_media_track_by_handle(ctl, handle);
    if (!t || !t->owner->room)
        return;
    t->level = level;
    t->voice = voice;
    rank_speakers(t->owner->room);
}

void weir_media_participant_gone(weir_control *ctl, weir_participant *p)
{
    weir_participant_media *pm = p->media;
    if (!pm)
        return;
    weir_media_drop_subscriptions(ctl, p);
    weir_room *room = p->room;
    bool quiet = ctl->shutting_down || !room || weir_room_state_get(room) == WEIR_ROOM_CLOSING;
    for (size_t k = 0; k < pm->n_tracks; k++)
        unpublish(ctl, p, pm->tracks[k], quiet);
    size_t had_tracks = pm->n_tracks;
    pm->n_tracks = 0;
    if (!quiet && had_tracks) {
        weir_media_refresh_room(ctl, room, p);
        rank_speakers(room);
    }
    weir_free(pm->lines);
    weir_free(pm);
    p->media = NULL;
}
