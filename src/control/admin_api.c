#define WEIR_LOG_MODULE "control.admin"
#include "control/admin_api.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/jwt.h"
#include "control/media.h"
#include "control/membership.h"
#include "control/recordings.h"
#include "control/taps.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define MAX_SEGMENTS 6

typedef struct request {
    weir_control *ctl;
    const char *method;
    const char *seg[MAX_SEGMENTS]; /* path segments after /api */
    int n_seg;
    json_t *body; /* NULL when absent */
} request;

static int error(json_t **out, int status, const char *message)
{
    *out = json_pack("{s:{s:i, s:s}}", "error", "code", status, "message", message);
    return status;
}

static bool authorized(const char *key, const char *authorization)
{
    static const char prefix[] = "Bearer ";
    if (!authorization || strncmp(authorization, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *given = authorization + sizeof prefix - 1;
    size_t len = strlen(key);
    /* Length is not secret; the bytes are compared in constant time. */
    return strlen(given) == len && CRYPTO_memcmp(given, key, len) == 0;
}

/* Splits "/api/rooms/x/participants" into segments; false when too deep or empty segment. */
static bool split_path(char *path, request *r)
{
    char *save = NULL;
    r->n_seg = 0;
    for (char *tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (r->n_seg == MAX_SEGMENTS)
            return false;
        r->seg[r->n_seg++] = tok;
    }
    return r->n_seg >= 1 && strcmp(r->seg[0], "api") == 0;
}

static json_t *participants_json(const weir_room *room)
{
    json_t *list = json_array();
    for (size_t i = 0; i < weir_room_count(room); i++) {
        const weir_participant *p = weir_room_at(room, i);
        json_t *o = weir_membership_participant_json(p);
        json_object_set_new(o, "joined_ms", json_integer(p->joined_ms));
        json_object_set_new(o, "worker", json_integer(p->worker_index));
        if (p->identity[0])
            json_object_set_new(o, "identity", json_string(p->identity));
        if (p->publishing)
            json_object_set_new(o, "publisher",
                                json_pack("{s:s, s:s?, s:I, s:I, s:i}", "state", p->pub_state,
                                          "srtp_profile", p->pub_srtp[0] ? p->pub_srtp : NULL,
                                          "packets", (json_int_t)p->pub_packets, "bytes",
                                          (json_int_t)p->pub_bytes, "streams",
                                          (int)p->pub_streams));
        const weir_participant_media *pm = p->media;
        if (pm && pm->sub_started) {
            size_t active = 0;
            for (size_t k = 0; k < pm->n_lines; k++)
                active += pm->lines[k].applied_handle != 0;
            json_object_set_new(o, "subscriber",
                                json_pack("{s:s, s:s?, s:I, s:I, s:i, s:i}", "state", pm->sub_state,
                                          "srtp_profile", pm->sub_srtp[0] ? pm->sub_srtp : NULL,
                                          "packets", (json_int_t)pm->sub_packets, "bytes",
                                          (json_int_t)pm->sub_bytes, "tracks", (int)active,
                                          "m_lines", (int)pm->n_lines));
        }
        json_array_append_new(list, o);
    }
    return list;
}

static int list_rooms(const request *r, json_t **out)
{
    size_t n;
    weir_room *const *rooms = weir_rooms_list(r->ctl->rooms, &n);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, weir_membership_room_json(rooms[i]));
    *out = json_pack("{s:o}", "rooms", list);
    return 200;
}

/* Reads an optional field of the body with a type check; false (and *out set) on a bad type. */
static bool body_int(const request *r, const char *key, int min, int max, int *val, json_t **out)
{
    json_t *v = r->body ? json_object_get(r->body, key) : NULL;
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: expected an integer %d..%d", key, min, max);
        error(out, 400, msg);
        return false;
    }
    *val = (int)json_integer_value(v);
    return true;
}

static bool body_bool(const request *r, const char *key, bool *val, json_t **out)
{
    json_t *v = r->body ? json_object_get(r->body, key) : NULL;
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: expected a boolean", key);
        error(out, 400, msg);
        return false;
    }
    *val = json_is_true(v);
    return true;
}

static int create_room(const request *r, json_t **out)
{
    const weir_config *cfg = r->ctl->cfg;
    weir_room_options opts = {
        .max_participants = cfg->room_max_participants,
        .auto_subscribe = cfg->rooms_auto_subscribe,
        .students_publish = cfg->students_publish_by_default,
    };
    char generated[16];
    const char *id = NULL;
    json_t *jid = r->body ? json_object_get(r->body, "id") : NULL;
    if (jid && !(id = json_string_value(jid)))
        return error(out, 400, "id: expected a string");
    if (!id) {
        generated[0] = 'r';
        weir_rand_id(&r->ctl->rand, generated + 1, 10);
        id = generated;
    }
    if (!body_int(r, "max_participants", 1, 100000, &opts.max_participants, out) ||
        !body_bool(r, "auto_subscribe", &opts.auto_subscribe, out) ||
        !body_bool(r, "students_publish", &opts.students_publish, out))
        return 400;
    weir_room *room;
    int rc = weir_rooms_open(r->ctl->rooms, id, &opts, true, weir_clock_wall_ms(), &room);
    if (rc == -WEIR_EEXIST)
        return error(out, 409, "room already exists");
    if (rc < 0)
        return error(out, 400, "id: 1..64 characters of A-Z a-z 0-9 _ . -");
    *out = json_pack("{s:o}", "room", weir_membership_room_json(room));
    return 201;
}

static int mint_token(const request *r, json_t **out)
{
    const weir_config *cfg = r->ctl->cfg;
    if (!cfg->auth_secret[0])
        return error(out, 400, "auth is off: set [auth] secret to mint tokens");
    if (!r->body)
        return error(out, 400, "body: expected a JSON object with room, sub, role");
    weir_jwt_claims claims = {0};
    const char *room = json_string_value(json_object_get(r->body, "room"));
    const char *sub = json_string_value(json_object_get(r->body, "sub"));
    const char *role = json_string_value(json_object_get(r->body, "role"));
    const char *name = json_string_value(json_object_get(r->body, "name"));
    weir_role parsed;
    if (!room || !weir_room_id_valid(room))
        return error(out, 400, "room: required, 1..64 characters of A-Z a-z 0-9 _ . -");
    if (!sub || !sub[0] || strlen(sub) >= sizeof claims.sub)
        return error(out, 400, "sub: required string of 1..127 bytes");
    if (!role || weir_role_parse(role, &parsed) < 0)
        return error(out, 400, "role: expected one of teacher, student, observer, recorder");
    if (name && strlen(name) >= sizeof claims.name)
        return error(out, 400, "name: at most 127 bytes");
    int ttl = 3600;
    if (!body_int(r, "ttl_s", 1, cfg->token_max_ttl_s, &ttl, out))
        return 400;
    snprintf(claims.room, sizeof claims.room, "%s", room);
    snprintf(claims.sub, sizeof claims.sub, "%s", sub);
    snprintf(claims.role, sizeof claims.role, "%s", role);
    snprintf(claims.name, sizeof claims.name, "%s", name ? name : "");
    claims.exp = weir_clock_wall_ms() / 1000 + ttl;
    char *token =
        weir_jwt_sign(&claims, (const uint8_t *)cfg->auth_secret, strlen(cfg->auth_secret));
    *out = json_pack("{s:s, s:I}", "token", token, "expires_at", (json_int_t)claims.exp);
    weir_free(token);
    WEIR_LOG_INFO("token_minted room=%s sub=%s role=%s ttl_s=%d", room, sub, role, ttl);
    return 200;
}

static int room_routes(const request *r, json_t **out)
{
    weir_room *room = weir_rooms_find(r->ctl->rooms, r->seg[2]);
    if (!room)
        return error(out, 404, "no such room");
    const char *m = r->method;
    if (r->n_seg == 3 && strcmp(m, "GET") == 0) {
        *out = json_pack("{s:o, s:o}", "room", weir_membership_room_json(room), "participants",
                         participants_json(room));
        return 200;
    }
    if (r->n_seg == 3 && strcmp(m, "DELETE") == 0) {
        weir_membership_close_room(r->ctl, room);
        *out = json_object();
        return 200;
    }
    if (r->n_seg == 4 && strcmp(r->seg[3], "taps") == 0 && strcmp(m, "GET") == 0) {
        *out = json_pack("{s:o}", "taps", weir_taps_json(r->ctl, weir_room_id(room)));
        return 200;
    }
    if (r->n_seg == 4 && strcmp(r->seg[3], "recordings") == 0 && strcmp(m, "GET") == 0) {
        *out = json_pack("{s:o}", "recordings", weir_recordings_json(r->ctl, weir_room_id(room)));
        return 200;
    }
    if (r->n_seg == 4 && strcmp(r->seg[3], "participants") == 0 && strcmp(m, "GET") == 0) {
        *out = json_pack("{s:o}", "participants", participants_json(room));
        return 200;
    }
    if (r->n_seg == 5 && strcmp(r->seg[3], "participants") == 0 && strcmp(m, "DELETE") == 0) {
        weir_participant *p = weir_room_find(room, r->seg[4]);
        if (!p)
            return error(out, 404, "no such participant");
        weir_membership_kick(r->ctl, p, "admin");
        *out = json_object();
        return 200;
    }
    return error(out, 404, "no such endpoint");
}

static int route(const request *r, json_t **out)
{
    const char *m = r->method;
    if (r->n_seg == 2 && strcmp(r->seg[1], "rooms") == 0) {
        if (strcmp(m, "GET") == 0)
            return list_rooms(r, out);
        if (strcmp(m, "POST") == 0)
            return create_room(r, out);
        return error(out, 405, "method not allowed");
    }
    if (r->n_seg >= 3 && strcmp(r->seg[1], "rooms") == 0)
        return room_routes(r, out);
    if (r->n_seg == 2 && strcmp(r->seg[1], "taps") == 0) {
        if (strcmp(m, "GET") == 0) {
            *out = json_pack("{s:o}", "taps", weir_taps_json(r->ctl, NULL));
            return 200;
        }
        return error(out, 405, "method not allowed");
    }
    if (r->n_seg == 2 && strcmp(r->seg[1], "recordings") == 0) {
        if (strcmp(m, "GET") == 0) {
            *out = json_pack("{s:o}", "recordings", weir_recordings_json(r->ctl, NULL));
            return 200;
        }
        return error(out, 405, "method not allowed");
    }
    if (r->n_seg == 2 && strcmp(r->seg[1], "tokens") == 0) {
        if (strcmp(m, "POST") == 0)
            return mint_token(r, out);
        return error(out, 405, "method not allowed");
    }
    return error(out, 404, "no such endpoint");
}

int weir_admin_handle(weir_control *ctl, const char *method, const char *path,
                      const char *authorization, const char *body, size_t body_len, json_t **out)
{
    if (!ctl->cfg->admin_key[0])
        return error(out, 403, "admin API disabled: set [auth] admin_key");
    if (!authorized(ctl->cfg->admin_key, authorization))
        return error(out, 401, "missing or wrong admin key (Authorization: Bearer <key>)");
    if (body_len > WEIR_ADMIN_MAX_BODY_BYTES)
        return error(out, 413, "body too large");
    request r = {.ctl = ctl, .method = method};
    char *copy = weir_strdup(path);
    int status;
    if (!split_path(copy, &r)) {
        status = error(out, 404, "no such endpoint");
    } else if (body && body_len > 0 &&
               (!(r.body = json_loadb(body, body_len, 0, NULL)) || !json_is_object(r.body))) {
        status = error(out, 400, "body: expected a JSON object");
    } else {
        status = route(&r, out);
    }
    json_decref(r.body);
    weir_free(copy);
    return status;
}
