/*
 * The method table of PROTOCOL.md and a small declarative schema per method.
 * Each schema is a list of rows {name, type, flags, range, enum values,
 * element schema}; one generic walker checks params against it, so adding a
 * param is one row, not another if-chain. The one or two rules that tie two
 * params together are a per-method extra check that runs after the rows pass.
 */
#include "control/methods.h"

#include "control/jsonrpc.h"
#include "weir/errors.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ID_MAX 128     /* track, participant, recording and tap ids; mids */
#define SDP_MAX 131072 /* fits a 256 KiB frame with room for JSON escaping */
#define LIST_MAX 256   /* tracks per subscribe/unsubscribe/record_start/publish */
#define PATH_MAX_LEN 96

static const char *const role_names[] = {"teacher", "student", "observer", "recorder", NULL};
static const char *const source_names[] = {"camera", "microphone", "screen", NULL};
static const char *const pc_names[] = {"publisher", "subscriber", NULL};
static const char *const action_names[] = {"mute", "kick", "allow_publish", "deny_publish", NULL};

static_assert(sizeof(role_names) / sizeof(role_names[0]) == WEIR_ROLE_COUNT + 1,
              "role_names must follow weir_role");

/* ---- schema rows ---- */

typedef enum {
    T_ID,          /* an identifier; limits in bytes, reported as characters (ids are ASCII) */
    T_TEXT,        /* free text (SDP, token, display name); limits in bytes */
    T_INT,         /* a JSON integer: 1.0 is a real and is refused */
    T_BOOL,        /* true or false, not 0 or 1 */
    T_ENUM,        /* one of values */
    T_ID_LIST,     /* array of min..max T_ID strings of 1..ID_MAX */
    T_OBJECT,      /* object checked against fields */
    T_OBJECT_LIST, /* array of min..max objects checked against fields */
} param_type;

enum {
    F_REQUIRED = 1u << 0,
    F_NULLABLE = 1u << 1,   /* null is accepted (optional: as if absent) */
    F_ROOM_CHARS = 1u << 2, /* only [A-Za-z0-9_.-] */
};

typedef struct param_spec {
    const char *name; /* NULL ends a schema */
    param_type type;
    unsigned flags;
    int64_t min, max;                /* string bytes, integer range or list length */
    const char *const *values;       /* T_ENUM: NULL-terminated */
    const struct param_spec *fields; /* T_OBJECT, T_OBJECT_LIST */
} param_spec;

/* One row per line reads as the table it is. */
/* clang-format off */
#define REQ F_REQUIRED
#define OPT 0u
#define ID(n, f, lo, hi) {.name = (n), .type = T_ID, .flags = (f), .min = (lo), .max = (hi)}
#define TEXT(n, f, lo, hi) {.name = (n), .type = T_TEXT, .flags = (f), .min = (lo), .max = (hi)}
#define INT(n, f, lo, hi) {.name = (n), .type = T_INT, .flags = (f), .min = (lo), .max = (hi)}
#define BOOL(n, f) {.name = (n), .type = T_BOOL, .flags = (f)}
#define ENUM(n, f, v) {.name = (n), .type = T_ENUM, .flags = (f), .values = (v)}
#define ID_LIST(n, f, lo, hi) \
    {.name = (n), .type = T_ID_LIST, .flags = (f), .min = (lo), .max = (hi)}
#define OBJECT(n, f, s) {.name = (n), .type = T_OBJECT, .flags = (f), .fields = (s)}
#define OBJECT_LIST(n, f, lo, hi, s) \
    {.name = (n), .type = T_OBJECT_LIST, .flags = (f), .min = (lo), .max = (hi), .fields = (s)}
#define END {.name = NULL}
/* clang-format on */

static const param_spec join_params[] = {
    ID("room", REQ | F_ROOM_CHARS, 1, 64),
    TEXT("display", OPT, 0, 64),
    TEXT("token", OPT, 0, 8192),
    ENUM("role", OPT, role_names),
    END,
};

static const param_spec no_params[] = {END};

/* PROTOCOL.md: the optional `tracks` hint of publish, [{mid, source}]. */
static const param_spec track_hint[] = {
    ID("mid", REQ, 1, ID_MAX),
    ENUM("source", REQ, source_names),
    END,
};

static const param_spec publish_params[] = {
    TEXT("sdp", REQ, 1, SDP_MAX),
    OBJECT_LIST("tracks", OPT, 0, LIST_MAX, track_hint),
    END,
};

static const param_spec answer_params[] = {
    TEXT("sdp", REQ, 1, SDP_MAX),
    END,
};

/*
 * RTCIceCandidate.toJSON(). W3C webrtc makes sdpMid and sdpMLineIndex
 * nullable and browsers send null when unknown, so null reads as absent.
 * An empty candidate string is Firefox's end-of-candidates, hence 0 bytes ok.
 */
static const param_spec candidate_fields[] = {
    TEXT("candidate", REQ, 0, 1024),
    ID("sdpMid", OPT | F_NULLABLE, 1, ID_MAX),
    INT("sdpMLineIndex", OPT | F_NULLABLE, 0, 255),
    END,
};

static const param_spec trickle_params[] = {
    ENUM("pc", REQ, pc_names),
    OBJECT("candidate", REQ | F_NULLABLE, candidate_fields), /* null: end of candidates */
    END,
};

static const param_spec track_list_params[] = {
    ID_LIST("tracks", REQ, 1, LIST_MAX),
    END,
};

static const param_spec set_preferences_params[] = {
    ID("track", REQ, 1, ID_MAX),
    BOOL("paused", OPT),
    INT("max_spatial", OPT, 0, 2),
    INT("max_temporal", OPT, 0, 2),
    END,
};

static const param_spec mute_params[] = {
    ID("track", REQ, 1, ID_MAX),
    BOOL("muted", REQ),
    END,
};

static const param_spec moderate_params[] = {
    ENUM("action", REQ, action_names),
    ID("participant", REQ, 1, ID_MAX),
    ID("track", OPT, 1, ID_MAX), /* required for mute: see check_moderate() */
    END,
};

/* Absent means every track of the room, now and later; [] would be ambiguous. */
static const param_spec record_start_params[] = {
    ID_LIST("tracks", OPT, 1, LIST_MAX),
    END,
};

static const param_spec record_stop_params[] = {
    ID("recording", REQ, 1, ID_MAX),
    END,
};

static const param_spec tap_start_params[] = {
    ID("track", OPT, 1, ID_MAX),       /* exactly one of track and participant: */
    ID("participant", OPT, 1, ID_MAX), /* see check_tap_start() */
    TEXT("host", REQ, 1, 255),
    INT("port", REQ, 1, 65535),
    INT("rtcp_port", OPT, 1, 65535),
    BOOL("srtp", OPT),
    END,
};

static const param_spec tap_stop_params[] = {
    ID("tap", REQ, 1, ID_MAX),
    END,
};

/* ---- the walker ---- */

/* Writes "path: <what>" into err and returns -32602. */
__attribute__((format(printf, 4, 5))) static int bad(char *err, size_t errlen, const char *path,
                                                     const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, what);
    return WEIR_RPC_INVALID_PARAMS;
}

static int check_object(const param_spec *schema, const json_t *obj, const char *prefix, char *err,
                        size_t errlen);

/* "1..64" or "at most 64" for a length limit. */
static void length_text(char *buf, size_t len, const param_spec *p)
{
    if (p->min > 0)
        snprintf(buf, len, "%lld..%lld", (long long)p->min, (long long)p->max);
    else
        snprintf(buf, len, "at most %lld", (long long)p->max);
}

static bool is_room_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static bool string_fits(const param_spec *p, const json_t *v)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    /* A string built with json_stringn() may hide a NUL; nothing downstream expects one. */
    if (strlen(s) != len || (int64_t)len < p->min || (int64_t)len > p->max)
        return false;
    for (size_t i = 0; (p->flags & F_ROOM_CHARS) && i < len; i++) {
        if (!is_room_char(s[i]))
            return false;
    }
    return true;
}

static int check_string(const param_spec *p, const json_t *v, const char *path, char *err,
                        size_t errlen)
{
    char range[48];

    if (string_fits(p, v))
        return 0;
    length_text(range, sizeof(range), p);
    return bad(err, errlen, path, "expected a string of %s %s%s", range,
               p->type == T_TEXT ? "bytes" : "characters",
               (p->flags & F_ROOM_CHARS) ? " from [A-Za-z0-9_.-]" : "");
}

static int check_int(const param_spec *p, const json_t *v, const char *path, char *err,
                     size_t errlen)
{
    if (json_is_integer(v) && json_integer_value(v) >= p->min && json_integer_value(v) <= p->max)
        return 0;
    return bad(err, errlen, path, "expected an integer %lld..%lld", (long long)p->min,
               (long long)p->max);
}

static int check_enum(const param_spec *p, const json_t *v, const char *path, char *err,
                      size_t errlen)
{
    char list[128] = "";
    size_t used = 0;

    for (const char *const *e = p->values; json_is_string(v) && *e; e++) {
        if (strcmp(json_string_value(v), *e) == 0)
            return 0;
    }
    for (const char *const *e = p->values; *e && used < sizeof(list); e++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", e == p->values ? "" : ", ", *e);
        used += n > 0 ? (size_t)n : 0;
    }
    return bad(err, errlen, path, "expected one of %s", list);
}

static int check_list(const param_spec *p, const json_t *v, const char *path, char *err,
                      size_t errlen)
{
    static const param_spec element_id = ID("", OPT, 1, ID_MAX);
    char range[48];
    char at[PATH_MAX_LEN + 24]; /* room for "[index]" after any path */
    size_t i;
    const json_t *e;

    if (!json_is_array(v) || (int64_t)json_array_size(v) < p->min ||
        (int64_t)json_array_size(v) > p->max) {
        length_text(range, sizeof(range), p);
        return bad(err, errlen, path, "expected an array of %s %s", range,
                   p->type == T_ID_LIST ? "track ids" : "objects");
    }
    json_array_foreach(v, i, e) {
        snprintf(at, sizeof(at), "%s[%zu]", path, i);
        int rc = p->type == T_ID_LIST ? check_string(&element_id, e, at, err, errlen)
                 : json_is_object(e)  ? check_object(p->fields, e, at, err, errlen)
                                      : bad(err, errlen, at, "expected an object");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int check_value(const param_spec *p, const json_t *v, const char *path, char *err,
                       size_t errlen)
{
    switch (p->type) {
    case T_ID:
    case T_TEXT:
        return check_string(p, v, path, err, errlen);
    case T_INT:
        return check_int(p, v, path, err, errlen);
    case T_BOOL:
        return json_is_boolean(v) ? 0 : bad(err, errlen, path, "expected true or false");
    case T_ENUM:
        return check_enum(p, v, path, err, errlen);
    case T_ID_LIST:
    case T_OBJECT_LIST:
        return check_list(p, v, path, err, errlen);
    case T_OBJECT:
        if (json_is_object(v))
            return check_object(p->fields, v, path, err, errlen);
        return bad(err, errlen, path, "expected an object%s",
                   (p->flags & F_NULLABLE) ? " or null" : "");
    }
    return bad(err, errlen, path, "unchecked type"); /* unreachable: every type is a case */
}

/* Unknown keys are ignored so that clients may send more than we read. */
static int check_object(const param_spec *schema, const json_t *obj, const char *prefix, char *err,
                        size_t errlen)
{
    char path[PATH_MAX_LEN];

    for (const param_spec *p = schema; p->name; p++) {
        const json_t *v = json_object_get(obj, p->name);
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", p->name);
        if (!v) {
            if (p->flags & F_REQUIRED)
                return bad(err, errlen, path, "required");
            continue;
        }
        if (json_is_null(v) && (p->flags & F_NULLABLE))
            continue;
        int rc = check_value(p, v, path, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- cross-field rules (run after the rows pass) ---- */

typedef int (*extra_check)(const json_t *params, char *err, size_t errlen);

static int check_moderate(const json_t *params, char *err, size_t errlen)
{
    const char *action = json_string_value(json_object_get(params, "action"));
    if (strcmp(action, "mute") == 0 && !json_object_get(params, "track"))
        return bad(err, errlen, "track", "required when action is mute");
    return 0;
}

static int check_tap_start(const json_t *params, char *err, size_t errlen)
{
    bool track = json_object_get(params, "track") != NULL;
    bool participant = json_object_get(params, "participant") != NULL;
    if (!track && !participant)
        return bad(err, errlen, "track", "required (or participant)");
    if (track && participant)
        return bad(err, errlen, "participant", "not allowed together with track");
    return 0;
}

/* ---- the table ---- */

typedef struct method_def {
    weir_method m;
    const param_spec *params;
    extra_check extra;
} method_def;

#define TEACHER WEIR_ROLE_BIT(WEIR_ROLE_TEACHER)
#define STUDENT WEIR_ROLE_BIT(WEIR_ROLE_STUDENT)
#define RECORDER WEIR_ROLE_BIT(WEIR_ROLE_RECORDER)
#define ALL WEIR_ROLES_ALL

#define DEF(id, name, roles, room, schema, extra) [id] = {{id, name, roles, room}, schema, extra}

static const method_def methods[WEIR_METHOD_COUNT] = {
    DEF(WEIR_METHOD_JOIN, "join", ALL, false, join_params, NULL),
    DEF(WEIR_METHOD_LEAVE, "leave", ALL, true, no_params, NULL),
    /* Every role: PROTOCOL.md lets a watcher open a data-channel-only publisher PC; who may
     * send audio/video is checked on the offer itself (signalling.c). */
    DEF(WEIR_METHOD_PUBLISH, "publish", WEIR_ROLES_ALL, true, publish_params, NULL),
    DEF(WEIR_METHOD_ANSWER, "answer", ALL, true, answer_params, NULL),
    DEF(WEIR_METHOD_TRICKLE, "trickle", ALL, true, trickle_params, NULL),
    DEF(WEIR_METHOD_SUBSCRIBE, "subscribe", ALL, true, track_list_params, NULL),
    DEF(WEIR_METHOD_UNSUBSCRIBE, "unsubscribe", ALL, true, track_list_params, NULL),
    DEF(WEIR_METHOD_SET_PREFERENCES, "set_preferences", ALL, true, set_preferences_params, NULL),
    DEF(WEIR_METHOD_MUTE, "mute", TEACHER | STUDENT, true, mute_params, NULL),
    DEF(WEIR_METHOD_MODERATE, "moderate", TEACHER, true, moderate_params, check_moderate),
    DEF(WEIR_METHOD_RECORD_START, "record_start", TEACHER | RECORDER, true, record_start_params,
        NULL),
    DEF(WEIR_METHOD_RECORD_STOP, "record_stop", TEACHER | RECORDER, true, record_stop_params, NULL),
    DEF(WEIR_METHOD_TAP_START, "tap_start", TEACHER | RECORDER, true, tap_start_params,
        check_tap_start),
    DEF(WEIR_METHOD_TAP_STOP, "tap_stop", TEACHER | RECORDER, true, tap_stop_params, NULL),
};

const weir_method *weir_method_find(const char *name)
{
    for (size_t i = 0; name && i < WEIR_METHOD_COUNT; i++) {
        if (strcmp(methods[i].m.name, name) == 0)
            return &methods[i].m;
    }
    return NULL;
}

const weir_method *weir_method_get(weir_method_id id)
{
    if ((unsigned)id >= WEIR_METHOD_COUNT)
        return NULL;
    return &methods[id].m;
}

int weir_method_validate(const weir_method *m, const json_t *params, char *err, size_t errlen)
{
    if (!m || (unsigned)m->id >= WEIR_METHOD_COUNT) {
        if (err && errlen)
            snprintf(err, errlen, "unknown method");
        return WEIR_RPC_METHOD_NOT_FOUND;
    }
    if (!json_is_object(params))
        return bad(err, errlen, "params", "expected an object");

    const method_def *d = &methods[m->id];
    int rc = check_object(d->params, params, "", err, errlen);
    if (rc == 0 && d->extra)
        rc = d->extra(params, err, errlen);
    return rc;
}

int weir_role_parse(const char *name, weir_role *out)
{
    for (int r = 0; name && r < WEIR_ROLE_COUNT; r++) {
        if (strcmp(role_names[r], name) == 0) {
            *out = (weir_role)r;
            return 0;
        }
    }
    return -WEIR_EINVAL;
}

const char *weir_role_name(weir_role role)
{
    if ((unsigned)role >= WEIR_ROLE_COUNT)
        return "unknown";
    return role_names[role];
}
