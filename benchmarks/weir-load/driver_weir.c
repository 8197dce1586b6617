/*
 * weir-load's Weir driver: JSON-RPC 2.0 over the /ws WebSocket
 * (/work/shared/PROTOCOL.md). join, then publish (our offer, Weir's
 * answer) and trickle our one candidate; the subscriber peer connection is
 * created by Weir's `offer` notification (rooms auto-subscribe), which we
 * answer with `answer`. Weir trickles its candidates as `trickle`.
 */
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "peer.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "load.weir"
#include "weir/log.h"

#define REQUEST_TIMEOUT_MS 10000

static json_t *rpc(wl_part *part, const char *method, json_t *params)
{
    uint64_t id = ++part->next_txn;
    char txn[32];
    snprintf(txn, sizeof txn, "%llu", (unsigned long long)id);
    json_t *msg = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)id,
                            "method", method, "params", params ? params : json_object());
    json_t *reply = wl_part_request(part, msg, txn, REQUEST_TIMEOUT_MS);
    if (!reply)
        return NULL;
    json_t *err = json_object_get(reply, "error");
    if (err) {
        char *e = json_dumps(err, JSON_COMPACT);
        WEIR_LOG_ERROR("%s failed participant=%s: %s", method, part->name, e ? e : "?");
        free(e);
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static void notify(wl_part *part, const char *method, json_t *params)
{
    uint64_t id = ++part->next_txn;
    wl_part_send(part, json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)id,
                                 "method", method, "params", params));
}

static void trickle_ours(wl_part *part, wl_peer *p, const char *pc)
{
    char cand[128];
    wl_peer_candidate(p, cand, sizeof cand);
    notify(part, "trickle",
           json_pack("{s:s, s:{s:s, s:s, s:i}}", "pc", pc, "candidate", "candidate", cand, "sdpMid",
                     "0", "sdpMLineIndex", 0));
    notify(part, "trickle", json_pack("{s:s, s:n}", "pc", pc, "candidate"));
}

static bool weir_is_reply(wl_part *part, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    if (!json_is_integer(id) || json_object_get(msg, "method"))
        return false;
    char txn[32];
    snprintf(txn, sizeof txn, "%lld", (long long)json_integer_value(id));
    return strcmp(txn, part->wait_txn) == 0;
}

/* Remembers a track announced in the room (join result or track_published). */
static void register_track(wl_ctx *ctx, json_t *t)
{
    const char *id = json_string_value(json_object_get(t, "id"));
    const char *who = json_string_value(json_object_get(t, "participant"));
    const char *kind = json_string_value(json_object_get(t, "kind"));
    if (!id || !who || !kind)
        return;
    for (size_t i = 0; i < ctx->n_tracks; i++)
        if (strcmp(ctx->tracks[i].id, id) == 0)
            return;
    if (ctx->n_tracks == sizeof ctx->tracks / sizeof ctx->tracks[0])
        return;
    struct wl_track *tr = &ctx->tracks[ctx->n_tracks++];
    snprintf(tr->id, sizeof tr->id, "%s", id);
    snprintf(tr->participant, sizeof tr->participant, "%s", who);
    tr->video = strcmp(kind, "video") == 0;
}

static void handle_offer(wl_part *part, json_t *params)
{
    const char *sdp = json_string_value(json_object_get(params, "sdp"));
    if (!sdp)
        return;
    bool first = part->sub == NULL || !part->sub->remote_set;
    char *answer = wl_subscribe_answer(part, sdp);
    if (!answer)
        return;
    notify(part, "answer", json_pack("{s:s}", "sdp", answer));
    weir_free(answer);
    if (first)
        trickle_ours(part, part->sub, "subscriber");
}

static void weir_on_message(wl_part *part, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (!method) {
        json_t *err = json_object_get(msg, "error");
        if (err) {
            char *e = json_dumps(err, JSON_COMPACT);
            WEIR_LOG_WARN("error participant=%s: %s", part->name, e ? e : "?");
            free(e);
        }
        return;
    }
    json_t *params = json_object_get(msg, "params");
    if (strcmp(method, "offer") == 0) {
        handle_offer(part, params);
    } else if (strcmp(method, "trickle") == 0) {
        const char *pc = json_string_value(json_object_get(params, "pc"));
        json_t *c = json_object_get(params, "candidate");
        const char *cand = json_string_value(json_object_get(c, "candidate"));
        wl_peer *p = pc && strcmp(pc, "publisher") == 0 ? part->pub : part->sub;
        if (p && cand)
            wl_peer_add_candidate(p, cand);
    } else if (strcmp(method, "track_published") == 0) {
        register_track(part->ctx, json_object_get(params, "track"));
    } else if (strcmp(method, "bye") == 0) {
        WEIR_LOG_WARN("bye participant=%s", part->name);
    }
}

static bool sub_ready(void *arg)
{
    wl_part *part = arg;
    return part->closed || (part->sub && part->sub->remote_set);
}

static int weir_join(wl_part *part)
{
    wl_ctx *ctx = part->ctx;
    if (wl_part_connect(part) < 0)
        return -WEIR_EIO;
    json_t *r =
        rpc(part, "join", json_pack("{s:s, s:s}", "room", ctx->opt.room, "display", part->name));
    if (!r)
        return -WEIR_EIO;
    json_t *result = json_object_get(r, "result");
    json_t *tracks_json = json_object_get(result, "tracks");
    size_t tracks = json_array_size(tracks_json);
    for (size_t i = 0; i < tracks; i++)
        register_track(ctx, json_array_get(tracks_json, i));
    const char *me =
        json_string_value(json_object_get(json_object_get(result, "participant"), "id"));
    snprintf(part->weir_id, sizeof part->weir_id, "%s", me ? me : "");
    json_decref(r);
    if (part->publishes) {
        part->pub = wl_peer_create(ctx, part, true, true);
        if (!part->pub)
            return -WEIR_EIO;
        char *offer = wl_publish_offer(part);
        r = rpc(part, "publish", json_pack("{s:s}", "sdp", offer));
        weir_free(offer);
        if (!r)
            return -WEIR_EIO;
        const char *answer =
            json_string_value(json_object_get(json_object_get(r, "result"), "sdp"));
        int rc = answer ? wl_apply_publish_answer(part, answer) : -WEIR_EINVAL;
        json_decref(r);
        if (rc < 0)
            return rc;
        trickle_ours(part, part->pub, "publisher");
    }
    if (part->subscribes && tracks > 0 && !wl_run_until(ctx, sub_ready, part, REQUEST_TIMEOUT_MS)) {
        WEIR_LOG_ERROR("no subscriber offer participant=%s", part->name);
        return -WEIR_EIO;
    }
    return 0;
}

static wl_part *part_by_id(wl_ctx *ctx, const char *weir_id)
{
    for (size_t i = 0; i < ctx->n_parts; i++)
        if (strcmp(ctx->parts[i]->weir_id, weir_id) == 0)
            return ctx->parts[i];
    return NULL;
}

/*
 * Rooms auto-subscribe, so Weir offers each new track by itself. The
 * classroom trims that: the teacher's video at its top layer (the default),
 * 4 students' video capped at the low layer, every audio; other videos are
 * unsubscribed.
 */
static int weir_subscribe_late(wl_part *part)
{
    wl_ctx *ctx = part->ctx;
    if (strcmp(ctx->opt.preset, "classroom") != 0 || !part->subscribes || part->closed)
        return 0;
    json_t *drop = json_array();
    json_t *thumbs = json_array();
    for (size_t i = 0; i < ctx->n_tracks; i++) {
        const struct wl_track *t = &ctx->tracks[i];
        wl_part *owner = part_by_id(ctx, t->participant);
        if (!t->video || !owner || owner == part || owner->teacher)
            continue;
        json_array_append_new(wl_classroom_thumbnail(part, owner) ? thumbs : drop,
                              json_string(t->id));
    }
    int rc = 0;
    if (json_array_size(drop) > 0) {
        json_t *r = rpc(part, "unsubscribe", json_pack("{s:O}", "tracks", drop));
        rc = r ? 0 : -WEIR_EIO;
        json_decref(r);
    }
    for (size_t i = 0; i < json_array_size(thumbs) && rc == 0; i++) {
        json_t *r =
            rpc(part, "set_preferences",
                json_pack("{s:O, s:i}", "track", json_array_get(thumbs, i), "max_spatial", 0));
        rc = r ? 0 : -WEIR_EIO;
        json_decref(r);
    }
    json_decref(drop);
    json_decref(thumbs);
    return rc;
}

static void weir_housekeeping(wl_part *part, int64_t now_us)
{
    (void)part;
    (void)now_us;
}

const wl_driver wl_driver_weir = {
    .name = "weir",
    .ws_path = "/ws",
    .ws_protocol = "weir-v1",
    .is_reply = weir_is_reply,
    .on_message = weir_on_message,
    .join = weir_join,
    .subscribe_late = weir_subscribe_late,
    .housekeeping = weir_housekeeping,
};
