/*
 * weir-load's Janus driver: the Janus API over its WebSocket transport
 * (subprotocol janus-protocol), the videoroom plugin. Per participant: one
 * session; a publisher handle (joinandconfigure with our offer, Janus
 * answers) and a subscriber handle (join as subscriber to the room's feeds,
 * Janus offers, we answer with `start`). Our candidate is trickled; Janus
 * puts its own in its SDP (and may trickle more). The first participant
 * creates the room (an existing room is fine).
 *
 * Janus answers a plugin message with an "ack" and later an "event" with
 * the same transaction; is_reply() waits for the event (or success/error).
 */
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "peer.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "load.janus"
#include "weir/log.h"

#define REQUEST_TIMEOUT_MS 10000
#define KEEPALIVE_US 20000000

static json_int_t room_id(const wl_ctx *ctx)
{
    long long id = atoll(ctx->opt.room);
    return id > 0 ? id : 1234;
}

static bool janus_is_reply(wl_part *part, json_t *msg)
{
    const char *txn = json_string_value(json_object_get(msg, "transaction"));
    const char *kind = json_string_value(json_object_get(msg, "janus"));
    if (!txn || !kind || strcmp(txn, part->wait_txn) != 0)
        return false;
    return strcmp(kind, "ack") != 0;
}

/* Sends a request and returns the final reply, or NULL (logged) on error. */
static json_t *call(wl_part *part, json_t *msg, const char *what)
{
    char txn[32];
    wl_part_txn(part, txn, sizeof txn);
    json_object_set_new(msg, "transaction", json_string(txn));
    if (part->janus_session)
        json_object_set_new(msg, "session_id", json_integer((json_int_t)part->janus_session));
    json_t *r = wl_part_request(part, msg, txn, REQUEST_TIMEOUT_MS);
    if (!r)
        return NULL;
    const char *kind = json_string_value(json_object_get(r, "janus"));
    json_t *perr =
        json_object_get(json_object_get(json_object_get(r, "plugindata"), "data"), "error");
    if (!kind || strcmp(kind, "error") == 0 || perr) {
        char *e = json_dumps(r, JSON_COMPACT);
        WEIR_LOG_ERROR("%s failed participant=%s: %.300s", what, part->name, e ? e : "?");
        free(e);
        json_decref(r);
        return NULL;
    }
    return r;
}

static uint64_t attach(wl_part *part)
{
    json_t *r =
        call(part, json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"),
             "attach");
    if (!r)
        return 0;
    uint64_t id = (uint64_t)json_integer_value(json_object_get(json_object_get(r, "data"), "id"));
    json_decref(r);
    return id;
}

static json_t *message(wl_part *part, uint64_t handle, json_t *body, json_t *jsep, const char *what)
{
    json_t *msg = json_pack("{s:s, s:I, s:o}", "janus", "message", "handle_id", (json_int_t)handle,
                            "body", body);
    if (jsep)
        json_object_set_new(msg, "jsep", jsep);
    return call(part, msg, what);
}

static void trickle_ours(wl_part *part, uint64_t handle, wl_peer *p)
{
    char cand[128];
    wl_peer_candidate(p, cand, sizeof cand);
    char txn[32];
    wl_part_txn(part, txn, sizeof txn);
    wl_part_send(part, json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s, s:i}}", "janus", "trickle",
                                 "transaction", txn, "session_id", (json_int_t)part->janus_session,
                                 "handle_id", (json_int_t)handle, "candidate", "candidate", cand,
                                 "sdpMid", "0", "sdpMLineIndex", 0));
    wl_part_txn(part, txn, sizeof txn);
    wl_part_send(part, json_pack("{s:s, s:s, s:I, s:I, s:{s:b}}", "janus", "trickle", "transaction",
                                 txn, "session_id", (json_int_t)part->janus_session, "handle_id",
                                 (json_int_t)handle, "candidate", "completed", 1));
}

static void janus_on_message(wl_part *part, json_t *msg)
{
    const char *kind = json_string_value(json_object_get(msg, "janus"));
    if (!kind)
        return;
    uint64_t sender = (uint64_t)json_integer_value(json_object_get(msg, "sender"));
    if (strcmp(kind, "trickle") == 0) {
        json_t *c = json_object_get(msg, "candidate");
        const char *cand = json_string_value(json_object_get(c, "candidate"));
        wl_peer *p = sender == part->janus_pub_handle ? part->pub : part->sub;
        if (p && cand)
            wl_peer_add_candidate(p, cand);
    } else if (strcmp(kind, "webrtcup") == 0) {
        if (sender == part->janus_pub_handle)
            part->janus_pub_up = true;
    } else if (strcmp(kind, "hangup") == 0 || strcmp(kind, "detached") == 0) {
        WEIR_LOG_WARN("%s participant=%s handle=%llu", kind, part->name,
                      (unsigned long long)sender);
    }
}

static int create_room(wl_part *part, uint64_t handle)
{
    json_t *body = json_pack("{s:s, s:I, s:i, s:i, s:s, s:s, s:b}", "request", "create", "room",
                             room_id(part->ctx), "publishers", 64, "bitrate", 0, "videocodec",
                             "vp8", "audiocodec", "opus", "permanent", 0);
    char txn[32];
    wl_part_txn(part, txn, sizeof txn);
    json_t *msg = json_pack("{s:s, s:I, s:I, s:o, s:s}", "janus", "message", "session_id",
                            (json_int_t)part->janus_session, "handle_id", (json_int_t)handle,
                            "body", body, "transaction", txn);
    json_t *r = wl_part_request(part, msg, txn, REQUEST_TIMEOUT_MS);
    json_decref(r); /* "already exists" (427) is fine */
    return 0;
}

static int publish(wl_part *part)
{
    wl_ctx *ctx = part->ctx;
    part->janus_pub_handle = attach(part);
    if (!part->janus_pub_handle)
        return -WEIR_EIO;
    if (part->index == 0)
        create_room(part, part->janus_pub_handle);
    part->pub = wl_peer_create(ctx, part, true, true);
    if (!part->pub)
        return -WEIR_EIO;
    char *offer = wl_publish_offer(part);
    json_t *r = message(part, part->janus_pub_handle,
                        json_pack("{s:s, s:s, s:I, s:s}", "request", "joinandconfigure", "ptype",
                                  "publisher", "room", room_id(ctx), "display", part->name),
                        json_pack("{s:s, s:s}", "type", "offer", "sdp", offer), "publish");
    weir_free(offer);
    if (!r)
        return -WEIR_EIO;
    const char *answer = json_string_value(json_object_get(json_object_get(r, "jsep"), "sdp"));
    json_t *data = json_object_get(json_object_get(r, "plugindata"), "data");
    part->janus_feed = (uint64_t)json_integer_value(json_object_get(data, "id"));
    int rc = answer ? wl_apply_publish_answer(part, answer) : -WEIR_EINVAL;
    json_decref(r);
    if (rc < 0)
        return rc;
    trickle_ours(part, part->janus_pub_handle, part->pub);
    return 0;
}

/* The streams this participant asks for: every feed, or the classroom's choice. */
static json_t *wanted_streams(wl_part *part)
{
    wl_ctx *ctx = part->ctx;
    bool classroom = strcmp(ctx->opt.preset, "classroom") == 0;
    json_t *streams = json_array();
    for (size_t i = 0; i < ctx->n_parts; i++) {
        wl_part *o = ctx->parts[i];
        if (o == part || !o->janus_feed)
            continue;
        if (!classroom || o->teacher || wl_classroom_thumbnail(part, o))
            json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)o->janus_feed));
        else /* audio only: mid "0" is the audio of every publish offer we write */
            json_array_append_new(
                streams, json_pack("{s:I, s:s}", "feed", (json_int_t)o->janus_feed, "mid", "0"));
    }
    return streams;
}

/* Classroom: thumbnails at the lowest substream (Janus sends the highest by default). */
static int configure_thumbnails(wl_part *part, json_t *attached)
{
    wl_ctx *ctx = part->ctx;
    if (strcmp(ctx->opt.preset, "classroom") != 0)
        return 0;
    json_t *list = json_object_get(json_object_get(json_object_get(attached, "plugindata"), "data"),
                                   "streams");
    json_t *cfg = json_array();
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *st = json_array_get(list, i);
        const char *type = json_string_value(json_object_get(st, "type"));
        const char *mid = json_string_value(json_object_get(st, "mid"));
        uint64_t feed = (uint64_t)json_integer_value(json_object_get(st, "feed_id"));
        if (!type || !mid || strcmp(type, "video") != 0)
            continue;
        for (size_t k = 0; k < ctx->n_parts; k++) {
            wl_part *o = ctx->parts[k];
            if (o->janus_feed == feed && wl_classroom_thumbnail(part, o))
                json_array_append_new(cfg, json_pack("{s:s, s:i}", "mid", mid, "substream", 0));
        }
    }
    if (json_array_size(cfg) == 0) {
        json_decref(cfg);
        return 0;
    }
    json_t *r =
        message(part, part->janus_sub_handle,
                json_pack("{s:s, s:o}", "request", "configure", "streams", cfg), NULL, "configure");
    int rc = r ? 0 : -WEIR_EIO;
    json_decref(r);
    return rc;
}

/* Whether every other publisher's feed is live at Janus (see subscribe()). */
static bool feeds_up(void *arg)
{
    wl_part *part = arg;
    wl_ctx *ctx = part->ctx;
    for (size_t i = 0; i < ctx->n_parts; i++) {
        wl_part *o = ctx->parts[i];
        if (o != part && o->janus_feed && !o->janus_pub_up && !o->closed)
            return false;
    }
    return true;
}

static int subscribe(wl_part *part)
{
    wl_ctx *ctx = part->ctx;
    /*
     * The videoroom answers "No such feed" (428) to a subscription until the
     * publisher's PeerConnection is up on its side ("webrtcup"), which comes
     * a moment after our end of the DTLS handshake completes: wait for it
     * (a feed that never comes up is left to the join to report).
     */
    if (!wl_run_until(ctx, feeds_up, part, REQUEST_TIMEOUT_MS))
        WEIR_LOG_WARN("participant=%s: a publisher's feed is not up at Janus yet", part->name);
    json_t *streams = wanted_streams(part);
    if (json_array_size(streams) == 0) {
        json_decref(streams);
        return 0;
    }
    part->janus_sub_handle = attach(part);
    if (!part->janus_sub_handle) {
        json_decref(streams);
        return -WEIR_EIO;
    }
    json_t *attached = message(part, part->janus_sub_handle,
                               json_pack("{s:s, s:s, s:I, s:o}", "request", "join", "ptype",
                                         "subscriber", "room", room_id(ctx), "streams", streams),
                               NULL, "subscribe");
    if (!attached)
        return -WEIR_EIO;
    const char *offer =
        json_string_value(json_object_get(json_object_get(attached, "jsep"), "sdp"));
    char *answer = offer ? wl_subscribe_answer(part, offer) : NULL;
    if (!answer) {
        json_decref(attached);
        return -WEIR_EINVAL;
    }
    json_t *r = message(part, part->janus_sub_handle, json_pack("{s:s}", "request", "start"),
                        json_pack("{s:s, s:s}", "type", "answer", "sdp", answer), "start");
    weir_free(answer);
    if (!r) {
        json_decref(attached);
        return -WEIR_EIO;
    }
    json_decref(r);
    trickle_ours(part, part->janus_sub_handle, part->sub);
    int rc = configure_thumbnails(part, attached);
    json_decref(attached);
    return rc;
}

static int janus_join(wl_part *part)
{
    if (wl_part_connect(part) < 0)
        return -WEIR_EIO;
    json_t *r = call(part, json_pack("{s:s}", "janus", "create"), "create");
    if (!r)
        return -WEIR_EIO;
    part->janus_session =
        (uint64_t)json_integer_value(json_object_get(json_object_get(r, "data"), "id"));
    json_decref(r);
    part->next_keepalive_us = part->ctx->now_us + KEEPALIVE_US;
    if (part->publishes && publish(part) < 0)
        return -WEIR_EIO;
    if (part->subscribes && !part->publishes && subscribe(part) < 0)
        return -WEIR_EIO;
    return 0;
}

/* A participant that publishes subscribes once every publisher is in (meeting). */
static int janus_subscribe_late(wl_part *part)
{
    return part->publishes && part->subscribes ? subscribe(part) : 0;
}

static void janus_housekeeping(wl_part *part, int64_t now_us)
{
    if (!part->janus_session || part->closed || now_us < part->next_keepalive_us)
        return;
    part->next_keepalive_us = now_us + KEEPALIVE_US;
    char txn[32];
    wl_part_txn(part, txn, sizeof txn);
    wl_part_send(part, json_pack("{s:s, s:s, s:I}", "janus", "keepalive", "transaction", txn,
                                 "session_id", (json_int_t)part->janus_session));
}

const wl_driver wl_driver_janus = {
    .name = "janus",
    .ws_path = "/",
    .ws_protocol = "janus-protocol",
    .is_reply = janus_is_reply,
    .on_message = janus_on_message,
    .join = janus_join,
    .subscribe_late = janus_subscribe_late,
    .housekeeping = janus_housekeeping,
};
