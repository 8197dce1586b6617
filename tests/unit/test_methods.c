/* Unit tests for src/control/methods.c: the table, the role masks and every param schema. */
#include <criterion/criterion.h>

#include "control/jsonrpc.h"
#include "control/methods.h"
#include "weir/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(rows) (sizeof(rows) / sizeof((rows)[0]))

/* ---- table ---- */

Test(methods_table, find_and_get_agree)
{
    static const char *const names[WEIR_METHOD_COUNT] = {
        "join",         "leave",       "publish",         "answer",   "trickle",
        "subscribe",    "unsubscribe", "set_preferences", "mute",     "moderate",
        "record_start", "record_stop", "tap_start",       "tap_stop",
    };
    for (int id = 0; id < WEIR_METHOD_COUNT; id++) {
        const weir_method *m = weir_method_find(names[id]);
        cr_assert_not_null(m, "%s", names[id]);
        cr_expect_eq(m->id, (weir_method_id)id, "%s", names[id]);
        cr_expect_str_eq(m->name, names[id]);
        cr_expect_eq(weir_method_get((weir_method_id)id), m, "%s", names[id]);
        cr_expect_eq(m->needs_room, id != WEIR_METHOD_JOIN, "%s needs_room", names[id]);
    }
}

Test(methods_table, unknown_names)
{
    static const char *const unknown[] = {"",      "Join",         "join ",    "joi",
                                          "offer", "rpc.discover", "tap_stopx"};
    for (size_t i = 0; i < N(unknown); i++)
        cr_expect_null(weir_method_find(unknown[i]), "'%s'", unknown[i]);
    cr_expect_null(weir_method_find(NULL));
    cr_expect_null(weir_method_get(WEIR_METHOD_COUNT));
    cr_expect_null(weir_method_get((weir_method_id)-1));
}

/* ---- roles ---- */

Test(methods_roles, parse_and_name)
{
    static const struct {
        const char *name;
        int rc;
        weir_role role;
    } rows[] = {
        {"teacher", 0, WEIR_ROLE_TEACHER},   {"student", 0, WEIR_ROLE_STUDENT},
        {"observer", 0, WEIR_ROLE_OBSERVER}, {"recorder", 0, WEIR_ROLE_RECORDER},
        {"Teacher", -WEIR_EINVAL, 0},        {"", -WEIR_EINVAL, 0},
        {"admin", -WEIR_EINVAL, 0},          {"teacher ", -WEIR_EINVAL, 0},
    };
    for (size_t i = 0; i < N(rows); i++) {
        weir_role r = WEIR_ROLE_COUNT;
        cr_expect_eq(weir_role_parse(rows[i].name, &r), rows[i].rc, "%s", rows[i].name);
        if (rows[i].rc == 0) {
            cr_expect_eq(r, rows[i].role, "%s", rows[i].name);
            cr_expect_str_eq(weir_role_name(r), rows[i].name);
        } else {
            cr_expect_eq(r, WEIR_ROLE_COUNT, "%s: out changed on error", rows[i].name);
        }
    }
    weir_role r = WEIR_ROLE_COUNT;
    cr_expect_eq(weir_role_parse(NULL, &r), -WEIR_EINVAL);
    cr_expect_str_eq(weir_role_name(WEIR_ROLE_COUNT), "unknown");
}

#define T WEIR_ROLE_BIT(WEIR_ROLE_TEACHER)
#define S WEIR_ROLE_BIT(WEIR_ROLE_STUDENT)
#define O WEIR_ROLE_BIT(WEIR_ROLE_OBSERVER)
#define R WEIR_ROLE_BIT(WEIR_ROLE_RECORDER)

Test(methods_roles, masks_follow_protocol)
{
    static const struct {
        const char *method;
        unsigned roles;
    } rows[] = {
        {"join", T | S | O | R},
        {"leave", T | S | O | R},
        {"publish", T | S | O | R}, /* media only for T | S: signalling.c checks the offer */
        {"answer", T | S | O | R},
        {"trickle", T | S | O | R},
        {"subscribe", T | S | O | R},
        {"unsubscribe", T | S | O | R},
        {"set_preferences", T | S | O | R},
        {"mute", T | S},
        {"moderate", T},
        {"record_start", T | R},
        {"record_stop", T | R},
        {"tap_start", T | R},
        {"tap_stop", T | R},
    };
    cr_assert_eq(N(rows), WEIR_METHOD_COUNT);
    for (size_t i = 0; i < N(rows); i++)
        cr_expect_eq(weir_method_find(rows[i].method)->roles, rows[i].roles, "%s", rows[i].method);
}

static bool allowed(const char *method, weir_role role)
{
    return (weir_method_find(method)->roles & WEIR_ROLE_BIT(role)) != 0;
}

Test(methods_roles, who_may_do_what)
{
    static const struct {
        const char *method;
        weir_role role;
        bool allowed;
    } rows[] = {
        {"publish", WEIR_ROLE_OBSERVER, true},     {"publish", WEIR_ROLE_RECORDER, true},
        {"publish", WEIR_ROLE_STUDENT, true},      {"publish", WEIR_ROLE_TEACHER, true},
        {"moderate", WEIR_ROLE_STUDENT, false},    {"moderate", WEIR_ROLE_RECORDER, false},
        {"moderate", WEIR_ROLE_TEACHER, true},     {"tap_start", WEIR_ROLE_RECORDER, true},
        {"tap_start", WEIR_ROLE_STUDENT, false},   {"tap_stop", WEIR_ROLE_OBSERVER, false},
        {"record_start", WEIR_ROLE_TEACHER, true}, {"record_stop", WEIR_ROLE_STUDENT, false},
        {"mute", WEIR_ROLE_OBSERVER, false},       {"mute", WEIR_ROLE_STUDENT, true},
        {"subscribe", WEIR_ROLE_OBSERVER, true},   {"trickle", WEIR_ROLE_RECORDER, true},
        {"answer", WEIR_ROLE_OBSERVER, true},      {"set_preferences", WEIR_ROLE_RECORDER, true},
    };
    for (size_t i = 0; i < N(rows); i++)
        cr_expect_eq(allowed(rows[i].method, rows[i].role), rows[i].allowed, "%s as %s",
                     rows[i].method, weir_role_name(rows[i].role));
}

/* ---- validation rows: {method, params JSON, NULL when valid or the exact message} ---- */

typedef struct vrow {
    const char *method;
    const char *params;
    const char *error;
} vrow;

static void run_vrows(const vrow *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const weir_method *m = weir_method_find(rows[i].method);
        json_error_t je;
        json_t *params = json_loads(rows[i].params, 0, &je);
        char err[256] = "";

        cr_assert_not_null(m, "%s", rows[i].method);
        cr_assert_not_null(params, "bad test JSON %s: %s", rows[i].params, je.text);
        int rc = weir_method_validate(m, params, err, sizeof(err));
        if (!rows[i].error) {
            cr_expect_eq(rc, 0, "%s %s: %s", rows[i].method, rows[i].params, err);
        } else {
            cr_expect_eq(rc, WEIR_RPC_INVALID_PARAMS, "%s %s", rows[i].method, rows[i].params);
            cr_expect_str_eq(err, rows[i].error, "%s %s", rows[i].method, rows[i].params);
        }
        json_decref(params);
    }
}

#define RUN(rows) run_vrows(rows, N(rows))

Test(methods_validate, valid_examples_of_every_method)
{
    static const vrow rows[] = {
        {"join", "{\"room\":\"math-101\"}", NULL},
        {"join",
         "{\"room\":\"A.b_c-9\",\"display\":\"Ada\",\"token\":\"e.y.J\","
         "\"role\":\"student\"}",
         NULL},
        {"join", "{\"room\":\"r\",\"display\":\"\",\"role\":\"recorder\",\"extra\":[1]}", NULL},
        {"leave", "{}", NULL},
        {"leave", "{\"reason\":\"bye\"}", NULL},
        {"publish", "{\"sdp\":\"v=0\\r\\n\"}", NULL},
        {"publish",
         "{\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\"},"
         "{\"mid\":\"1\",\"source\":\"microphone\"},"
         "{\"mid\":\"2\",\"source\":\"screen\",\"x\":1}]}",
         NULL},
        {"publish", "{\"sdp\":\"v=0\",\"tracks\":[]}", NULL},
        {"answer", "{\"sdp\":\"v=0\"}", NULL},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":null}", NULL},
        {"trickle",
         "{\"pc\":\"subscriber\",\"candidate\":{\"candidate\":\"candidate:1 1 udp "
         "2122260223 192.0.2.1 54321 typ host\",\"sdpMid\":\"0\","
         "\"sdpMLineIndex\":0,\"usernameFragment\":\"abcd\"}}",
         NULL},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"\"}}", NULL},
        {"trickle",
         "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":null,"
         "\"sdpMLineIndex\":null}}",
         NULL},
        {"trickle",
         "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\","
         "\"sdpMLineIndex\":255}}",
         NULL},
        {"subscribe", "{\"tracks\":[\"t1\"]}", NULL},
        {"subscribe", "{\"tracks\":[\"t1\",\"t2\",\"t3\"]}", NULL},
        {"unsubscribe", "{\"tracks\":[\"t1\"]}", NULL},
        {"set_preferences", "{\"track\":\"t1\"}", NULL},
        {"set_preferences",
         "{\"track\":\"t1\",\"paused\":false,\"max_spatial\":0,"
         "\"max_temporal\":2}",
         NULL},
        {"set_preferences", "{\"track\":\"t1\",\"max_spatial\":2}", NULL},
        {"mute", "{\"track\":\"t1\",\"muted\":true}", NULL},
        {"mute", "{\"track\":\"t1\",\"muted\":false}", NULL},
        {"moderate", "{\"action\":\"mute\",\"participant\":\"p1\",\"track\":\"t1\"}", NULL},
        {"moderate", "{\"action\":\"kick\",\"participant\":\"p1\"}", NULL},
        {"moderate", "{\"action\":\"allow_publish\",\"participant\":\"p1\"}", NULL},
        {"moderate", "{\"action\":\"deny_publish\",\"participant\":\"p1\",\"track\":\"t\"}", NULL},
        {"record_start", "{}", NULL},
        {"record_start", "{\"tracks\":[\"t1\",\"t2\"]}", NULL},
        {"record_stop", "{\"recording\":\"rec-1\"}", NULL},
        {"tap_start", "{\"track\":\"t1\",\"host\":\"127.0.0.1\",\"port\":5004}", NULL},
        {"tap_start",
         "{\"participant\":\"p1\",\"host\":\"::1\",\"port\":1,\"rtcp_port\":65535,"
         "\"srtp\":true}",
         NULL},
        {"tap_start", "{\"track\":\"t1\",\"host\":\"localhost\",\"port\":65535,\"srtp\":false}",
         NULL},
        {"tap_stop", "{\"tap\":\"tap-1\"}", NULL},
    };
    RUN(rows);
}

Test(methods_validate, required_params)
{
    static const vrow rows[] = {
        {"join", "{}", "room: required"},
        {"join", "{\"display\":\"x\"}", "room: required"},
        {"publish", "{\"tracks\":[]}", "sdp: required"},
        {"answer", "{}", "sdp: required"},
        {"trickle", "{\"candidate\":null}", "pc: required"},
        {"trickle", "{\"pc\":\"publisher\"}", "candidate: required"},
        {"subscribe", "{}", "tracks: required"},
        {"unsubscribe", "{}", "tracks: required"},
        {"set_preferences", "{\"paused\":true}", "track: required"},
        {"mute", "{\"track\":\"t\"}", "muted: required"},
        {"mute", "{\"muted\":true}", "track: required"},
        {"moderate", "{\"participant\":\"p\"}", "action: required"},
        {"moderate", "{\"action\":\"kick\"}", "participant: required"},
        {"record_stop", "{}", "recording: required"},
        {"tap_start", "{\"track\":\"t\",\"port\":5004}", "host: required"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\"}", "port: required"},
        {"tap_stop", "{}", "tap: required"},
        /* required and not nullable: null is not a value */
        {"answer", "{\"sdp\":null}", "sdp: expected a string of 1..131072 bytes"},
        {"mute", "{\"track\":\"t\",\"muted\":null}", "muted: expected true or false"},
    };
    RUN(rows);
}

Test(methods_validate, wrong_types)
{
    static const vrow rows[] = {
        {"join", "{\"room\":5}", "room: expected a string of 1..64 characters from [A-Za-z0-9_.-]"},
        {"join", "{\"room\":\"r\",\"display\":[]}",
         "display: expected a string of at most 64 bytes"},
        {"join", "{\"room\":\"r\",\"token\":{}}", "token: expected a string of at most 8192 bytes"},
        {"join", "{\"room\":\"r\",\"display\":null}",
         "display: expected a string of at most 64 bytes"},
        {"publish", "{\"sdp\":true}", "sdp: expected a string of 1..131072 bytes"},
        {"set_preferences", "{\"track\":\"t\",\"paused\":1}", "paused: expected true or false"},
        {"set_preferences", "{\"track\":\"t\",\"paused\":\"true\"}",
         "paused: expected true or false"},
        {"set_preferences", "{\"track\":\"t\",\"max_spatial\":1.0}",
         "max_spatial: expected an integer 0..2"},
        {"set_preferences", "{\"track\":\"t\",\"max_spatial\":true}",
         "max_spatial: expected an integer 0..2"},
        {"set_preferences", "{\"track\":\"t\",\"max_temporal\":\"1\"}",
         "max_temporal: expected an integer 0..2"},
        {"set_preferences", "{\"track\":7}", "track: expected a string of 1..128 characters"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\",\"port\":\"5004\"}",
         "port: expected an integer 1..65535"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\",\"port\":5004.0}",
         "port: expected an integer 1..65535"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\",\"port\":5004,\"srtp\":0}",
         "srtp: expected true or false"},
        {"tap_start", "{\"track\":\"t\",\"host\":1,\"port\":5004}",
         "host: expected a string of 1..255 bytes"},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":\"candidate:1 1 udp\"}",
         "candidate: expected an object or null"},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":[]}",
         "candidate: expected an object or null"},
        {"subscribe", "{\"tracks\":\"t1\"}", "tracks: expected an array of 1..256 track ids"},
        {"subscribe", "{\"tracks\":{\"0\":\"t1\"}}",
         "tracks: expected an array of 1..256 track ids"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":{}}",
         "tracks: expected an array of at most 256 objects"},
        {"record_start", "{\"tracks\":null}", "tracks: expected an array of 1..256 track ids"},
    };
    RUN(rows);
}

Test(methods_validate, ranges)
{
    static const vrow rows[] = {
        {"set_preferences", "{\"track\":\"t\",\"max_spatial\":3}",
         "max_spatial: expected an integer 0..2"},
        {"set_preferences", "{\"track\":\"t\",\"max_spatial\":-1}",
         "max_spatial: expected an integer 0..2"},
        {"set_preferences", "{\"track\":\"t\",\"max_temporal\":9223372036854775807}",
         "max_temporal: expected an integer 0..2"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\",\"port\":0}",
         "port: expected an integer 1..65535"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\",\"port\":65536}",
         "port: expected an integer 1..65535"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"h\",\"port\":5004,\"rtcp_port\":0}",
         "rtcp_port: expected an integer 1..65535"},
        {"trickle",
         "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\","
         "\"sdpMLineIndex\":256}}",
         "candidate.sdpMLineIndex: expected an integer 0..255"},
        {"trickle",
         "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\","
         "\"sdpMLineIndex\":-1}}",
         "candidate.sdpMLineIndex: expected an integer 0..255"},
        {"join", "{\"room\":\"\"}",
         "room: expected a string of 1..64 characters from [A-Za-z0-9_.-]"},
        {"answer", "{\"sdp\":\"\"}", "sdp: expected a string of 1..131072 bytes"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"\",\"port\":1}",
         "host: expected a string of 1..255 bytes"},
        {"mute", "{\"track\":\"\",\"muted\":true}",
         "track: expected a string of 1..128 characters"},
        {"subscribe", "{\"tracks\":[]}", "tracks: expected an array of 1..256 track ids"},
        {"record_start", "{\"tracks\":[]}", "tracks: expected an array of 1..256 track ids"},
    };
    RUN(rows);
}

Test(methods_validate, enums)
{
    static const vrow rows[] = {
        {"trickle", "{\"pc\":\"both\",\"candidate\":null}",
         "pc: expected one of publisher, subscriber"},
        {"trickle", "{\"pc\":\"Publisher\",\"candidate\":null}",
         "pc: expected one of publisher, subscriber"},
        {"trickle", "{\"pc\":1,\"candidate\":null}", "pc: expected one of publisher, subscriber"},
        {"join", "{\"room\":\"r\",\"role\":\"admin\"}",
         "role: expected one of teacher, student, observer, recorder"},
        {"moderate", "{\"action\":\"ban\",\"participant\":\"p\"}",
         "action: expected one of mute, kick, allow_publish, deny_publish"},
        {"moderate", "{\"action\":null,\"participant\":\"p\"}",
         "action: expected one of mute, kick, allow_publish, deny_publish"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":[{\"mid\":\"0\",\"source\":\"webcam\"}]}",
         "tracks[0].source: expected one of camera, microphone, screen"},
    };
    RUN(rows);
}

Test(methods_validate, room_characters)
{
    static const vrow rows[] = {
        {"join", "{\"room\":\"a b\"}",
         "room: expected a string of 1..64 characters from [A-Za-z0-9_.-]"},
        {"join", "{\"room\":\"a/b\"}",
         "room: expected a string of 1..64 characters from [A-Za-z0-9_.-]"},
        {"join", "{\"room\":\"caf\\u00e9\"}",
         "room: expected a string of 1..64 characters from [A-Za-z0-9_.-]"},
        {"join", "{\"room\":\"..\"}", NULL}, /* a name, never a path */
        {"join", "{\"room\":\"_-.\"}", NULL},
    };
    RUN(rows);
}

Test(methods_validate, list_elements)
{
    static const vrow rows[] = {
        {"subscribe", "{\"tracks\":[\"a\",\"b\",5]}",
         "tracks[2]: expected a string of 1..128 characters"},
        {"unsubscribe", "{\"tracks\":[\"\"]}", "tracks[0]: expected a string of 1..128 characters"},
        {"record_start", "{\"tracks\":[null]}",
         "tracks[0]: expected a string of 1..128 characters"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":[\"0\"]}", "tracks[0]: expected an object"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\"},{}]}",
         "tracks[1].mid: required"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":[{\"mid\":\"0\"}]}", "tracks[0].source: required"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":[{\"mid\":0,\"source\":\"camera\"}]}",
         "tracks[0].mid: expected a string of 1..128 characters"},
        {"publish", "{\"sdp\":\"v\",\"tracks\":[{\"mid\":\"\",\"source\":\"camera\"}]}",
         "tracks[0].mid: expected a string of 1..128 characters"},
    };
    RUN(rows);
}

Test(methods_validate, candidate_object)
{
    static const vrow rows[] = {
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":{}}", "candidate.candidate: required"},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":null}}",
         "candidate.candidate: expected a string of at most 1024 bytes"},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":0}}",
         "candidate.sdpMid: expected a string of 1..128 characters"},
        {"trickle",
         "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\","
         "\"sdpMLineIndex\":0.0}}",
         "candidate.sdpMLineIndex: expected an integer 0..255"},
    };
    RUN(rows);
}

Test(methods_validate, cross_field_rules)
{
    static const vrow rows[] = {
        {"moderate", "{\"action\":\"mute\",\"participant\":\"p\"}",
         "track: required when action is mute"},
        {"moderate", "{\"action\":\"mute\",\"participant\":\"p\",\"track\":\"\"}",
         "track: expected a string of 1..128 characters"},
        {"tap_start", "{\"host\":\"h\",\"port\":5004}", "track: required (or participant)"},
        {"tap_start", "{\"track\":\"t\",\"participant\":\"p\",\"host\":\"h\",\"port\":5004}",
         "participant: not allowed together with track"},
        {"tap_start", "{\"track\":5,\"host\":\"h\",\"port\":5004}",
         "track: expected a string of 1..128 characters"},
    };
    RUN(rows);
}

/* ---- length limits, at and one past each boundary ---- */

typedef struct lrow {
    const char *method;
    const char *fmt; /* params with one %s that receives n copies of 'a' */
    size_t n;
    const char *error;
} lrow;

Test(methods_validate, length_boundaries)
{
    static const lrow rows[] = {
        {"join", "{\"room\":\"%s\"}", 64, NULL},
        {"join", "{\"room\":\"%s\"}", 65,
         "room: expected a string of 1..64 characters from [A-Za-z0-9_.-]"},
        {"join", "{\"room\":\"r\",\"display\":\"%s\"}", 64, NULL},
        {"join", "{\"room\":\"r\",\"display\":\"%s\"}", 65,
         "display: expected a string of at most 64 bytes"},
        {"join", "{\"room\":\"r\",\"token\":\"%s\"}", 8192, NULL},
        {"join", "{\"room\":\"r\",\"token\":\"%s\"}", 8193,
         "token: expected a string of at most 8192 bytes"},
        {"publish", "{\"sdp\":\"%s\"}", 131072, NULL},
        {"publish", "{\"sdp\":\"%s\"}", 131073, "sdp: expected a string of 1..131072 bytes"},
        {"answer", "{\"sdp\":\"%s\"}", 131073, "sdp: expected a string of 1..131072 bytes"},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"%s\"}}", 1024, NULL},
        {"trickle", "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"%s\"}}", 1025,
         "candidate.candidate: expected a string of at most 1024 bytes"},
        {"subscribe", "{\"tracks\":[\"t\",\"%s\"]}", 128, NULL},
        {"subscribe", "{\"tracks\":[\"t\",\"%s\"]}", 129,
         "tracks[1]: expected a string of 1..128 characters"},
        {"tap_start", "{\"track\":\"t\",\"host\":\"%s\",\"port\":1}", 255, NULL},
        {"tap_start", "{\"track\":\"t\",\"host\":\"%s\",\"port\":1}", 256,
         "host: expected a string of 1..255 bytes"},
        {"tap_stop", "{\"tap\":\"%s\"}", 129, "tap: expected a string of 1..128 characters"},
        {"record_stop", "{\"recording\":\"%s\"}", 128, NULL},
    };
    for (size_t i = 0; i < N(rows); i++) {
        char *fill = malloc(rows[i].n + 1);
        memset(fill, 'a', rows[i].n);
        fill[rows[i].n] = '\0';
        size_t len = strlen(rows[i].fmt) + rows[i].n + 1;
        char *text = malloc(len);
        snprintf(text, len, rows[i].fmt, fill);
        vrow row = {rows[i].method, text, rows[i].error};
        run_vrows(&row, 1);
        free(text);
        free(fill);
    }
}

/* "[\"t0\",\"t1\",...]" with n ids. */
static json_t *id_list(size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof(id), "t%zu", i);
        json_array_append_new(a, json_string(id));
    }
    return a;
}

Test(methods_validate, list_sizes)
{
    static const struct {
        const char *method;
        size_t n;
        int rc;
    } rows[] = {
        {"subscribe", 256, 0},
        {"subscribe", 257, WEIR_RPC_INVALID_PARAMS},
        {"unsubscribe", 257, WEIR_RPC_INVALID_PARAMS},
        {"record_start", 256, 0},
        {"record_start", 257, WEIR_RPC_INVALID_PARAMS},
    };
    for (size_t i = 0; i < N(rows); i++) {
        json_t *params = json_pack("{s:o}", "tracks", id_list(rows[i].n));
        char err[128] = "";
        int rc = weir_method_validate(weir_method_find(rows[i].method), params, err, sizeof(err));
        cr_expect_eq(rc, rows[i].rc, "%s %zu: %s", rows[i].method, rows[i].n, err);
        if (rc)
            cr_expect_str_eq(err, "tracks: expected an array of 1..256 track ids");
        json_decref(params);
    }
}

/* ---- misuse ---- */

Test(methods_validate, hidden_nul_in_a_string)
{
    json_t *params = json_pack("{s:o,s:b}", "track", json_stringn("t\0x", 3), "muted", 1);
    char err[128];
    cr_expect_eq(weir_method_validate(weir_method_find("mute"), params, err, sizeof(err)),
                 WEIR_RPC_INVALID_PARAMS);
    cr_expect_str_eq(err, "track: expected a string of 1..128 characters");
    json_decref(params);
}

Test(methods_validate, params_not_an_object_or_no_method)
{
    json_t *arr = json_array();
    char err[128];
    const weir_method *join = weir_method_find("join");

    cr_expect_eq(weir_method_validate(join, arr, err, sizeof(err)), WEIR_RPC_INVALID_PARAMS);
    cr_expect_str_eq(err, "params: expected an object");
    cr_expect_eq(weir_method_validate(join, NULL, err, sizeof(err)), WEIR_RPC_INVALID_PARAMS);

    weir_method bogus = {.id = WEIR_METHOD_COUNT, .name = "bogus"};
    cr_expect_eq(weir_method_validate(&bogus, arr, err, sizeof(err)), WEIR_RPC_METHOD_NOT_FOUND);
    cr_expect_eq(weir_method_validate(NULL, arr, NULL, 0), WEIR_RPC_METHOD_NOT_FOUND);
    json_decref(arr);
}

Test(methods_validate, a_copy_of_the_table_entry_validates_the_same)
{
    weir_method copy = *weir_method_find("mute");
    json_t *params = json_pack("{s:s}", "track", "t");
    char err[64];
    cr_expect_eq(weir_method_validate(&copy, params, err, sizeof(err)), WEIR_RPC_INVALID_PARAMS);
    cr_expect_str_eq(err, "muted: required");
    json_decref(params);
}

Test(methods_validate, message_truncated_to_errlen)
{
    json_t *params = json_object();
    char err[6];
    cr_expect_eq(weir_method_validate(weir_method_find("join"), params, err, sizeof(err)),
                 WEIR_RPC_INVALID_PARAMS);
    cr_expect_str_eq(err, "room:");
    cr_expect_eq(weir_method_validate(weir_method_find("join"), params, NULL, 0),
                 WEIR_RPC_INVALID_PARAMS);
    json_decref(params);
}
