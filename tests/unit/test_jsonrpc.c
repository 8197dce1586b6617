/* Unit tests for src/control/jsonrpc.c: frame → request or error, and the reply builders. */
#include <criterion/criterion.h>

#include "control/jsonrpc.h"

#include <stdlib.h>
#include <string.h>

/* Expected id: NO_ID means no "id" member (a notification); otherwise JSON text. */
#define NO_ID NULL

typedef struct parse_row {
    const char *in;
    int code;            /* 0 or the JSON-RPC error code */
    const char *id;      /* on success the request's id, on error the error id (JSON) */
    const char *method;  /* on success */
    const char *message; /* on error: a substring of err */
} parse_row;

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, e.text);
    return v;
}

static void expect_json(const json_t *got, const char *want, const char *ctx)
{
    json_t *w = load(want);
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    cr_expect(json_equal(got, w), "%s: got %s, want %s", ctx, g ? g : "NULL", want);
    free(g);
    json_decref(w);
}

static void run_parse_row(const parse_row *r)
{
    weir_rpc_msg msg = {0};
    json_t *err_id = NULL;
    char err[256] = "";

    int rc = weir_rpc_parse(r->in, strlen(r->in), &msg, &err_id, err, sizeof(err));
    cr_expect_eq(rc, r->code, "%s: rc %d want %d (%s)", r->in, rc, r->code, err);
    if (rc == 0) {
        cr_expect_null(err_id, "%s: err_id touched on success", r->in);
        cr_expect_str_eq(msg.method, r->method, "%s", r->in);
        cr_expect(json_is_object(msg.params), "%s: params not an object", r->in);
        if (r->id)
            expect_json(msg.id, r->id, r->in);
        else
            cr_expect_null(msg.id, "%s: expected a notification", r->in);
        weir_rpc_msg_deinit(&msg);
        return;
    }
    cr_expect_null(msg.root, "%s: out touched on error", r->in);
    cr_expect_str_neq(err, "", "%s: empty message", r->in);
    if (r->message)
        cr_expect(strstr(err, r->message) != NULL, "%s: message '%s' lacks '%s'", r->in, err,
                  r->message);
    expect_json(err_id, r->id ? r->id : "null", r->in);
    json_decref(err_id);
}

static void run_parse_rows(const parse_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_parse_row(&rows[i]);
}

#define RUN(rows) run_parse_rows(rows, sizeof(rows) / sizeof(rows[0]))

Test(jsonrpc_parse, valid_requests)
{
    static const parse_row rows[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"join\",\"params\":{\"room\":\"a\"}}", 0, "1",
         "join", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"leave\"}", 0, "\"abc\"", "leave", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"leave\"}", 0, "\"\"", "leave", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"leave\"}", 0, "null", "leave", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"x\"}", 0, "0", "x", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":-5,\"method\":\"x\"}", 0, "-5", "x", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"x\"}", 0,
         "9223372036854775807", "x", NULL},
        {"{\"method\":\"mute\",\"jsonrpc\":\"2.0\",\"params\":{\"track\":\"t\"}}", 0, NO_ID, "mute",
         NULL},
        {"  \n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"leave\",\"params\":null}\r\n ", 0, "2",
         "leave", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"x\",\"extra\":[1,2],\"result\":0}", 0, "3",
         "x", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"caf\\u00e9\"}", 0, "4", "caf\xc3\xa9", NULL},
    };
    RUN(rows);
}

Test(jsonrpc_parse, params_absent_or_null_become_empty_object)
{
    static const char *const inputs[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"leave\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"leave\",\"params\":null}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"leave\",\"params\":{}}",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        weir_rpc_msg msg;
        cr_assert_eq(weir_rpc_parse(inputs[i], strlen(inputs[i]), &msg, NULL, NULL, 0), 0);
        cr_expect(json_is_object(msg.params) && json_object_size(msg.params) == 0, "%s", inputs[i]);
        cr_expect_eq(json_object_get(msg.root, "params"), msg.params, "params borrowed from root");
        weir_rpc_msg_deinit(&msg);
        cr_expect_null(msg.root);
    }
}

Test(jsonrpc_parse, params_object_is_borrowed)
{
    const char *in = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"mute\","
                     "\"params\":{\"track\":\"t1\",\"muted\":true}}";
    weir_rpc_msg msg;
    cr_assert_eq(weir_rpc_parse(in, strlen(in), &msg, NULL, NULL, 0), 0);
    expect_json(msg.params, "{\"track\":\"t1\",\"muted\":true}", in);
    weir_rpc_msg_deinit(&msg);
}

Test(jsonrpc_parse, parse_errors_have_null_id)
{
    static const parse_row rows[] = {
        {"", WEIR_RPC_PARSE_ERROR, "null", NULL, "parse error"},
        {"   ", WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"{", WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"garbage", WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"{\"jsonrpc\":\"2.0\",}", WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"} trailing", WEIR_RPC_PARSE_ERROR, "null",
         NULL, NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}{}", WEIR_RPC_PARSE_ERROR, "null", NULL,
         NULL},
        /* duplicate keys are refused, whichever key it is */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}", WEIR_RPC_PARSE_ERROR, "null",
         NULL, "duplicate"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":1,\"a\":2}}",
         WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        /* invalid UTF-8, and NUL inside a string */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", WEIR_RPC_PARSE_ERROR, "null", NULL,
         NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\\u0000b\"}", WEIR_RPC_PARSE_ERROR, "null",
         NULL, NULL},
        /* numbers beyond json_int_t or double */
        {"{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999,\"method\":\"x\"}",
         WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":1e400,\"method\":\"x\"}", WEIR_RPC_PARSE_ERROR, "null", NULL,
         NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":-1e999}}",
         WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"{'jsonrpc':'2.0'}", WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
        {"NaN", WEIR_RPC_PARSE_ERROR, "null", NULL, NULL},
    };
    RUN(rows);
}

Test(jsonrpc_parse, parse_error_message_is_printable_ascii)
{
    const char in[] = "{\"a\":\xc3\xa9\xff\x01}";
    char err[128];
    json_t *id = NULL;
    weir_rpc_msg msg;

    cr_assert_eq(weir_rpc_parse(in, sizeof(in) - 1, &msg, &id, err, sizeof(err)),
                 WEIR_RPC_PARSE_ERROR);
    for (const char *p = err; *p; p++)
        cr_expect(*p >= 0x20 && *p <= 0x7e, "byte 0x%02x in '%s'", (unsigned char)*p, err);
    json_decref(id);
}

Test(jsonrpc_parse, nul_byte_and_deep_nesting)
{
    const char nul[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}\0";
    weir_rpc_msg msg;
    json_t *id = NULL;

    cr_expect_eq(weir_rpc_parse(nul, sizeof(nul) - 1, &msg, &id, NULL, 0), WEIR_RPC_PARSE_ERROR);
    expect_json(id, "null", "nul");
    json_decref(id);

    /* Past jansson's 2048-level cap: refused without recursing that deep. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    cr_expect_eq(weir_rpc_parse(deep, 2 * depth, &msg, &id, NULL, 0), WEIR_RPC_PARSE_ERROR);
    json_decref(id);
    free(deep);
}

Test(jsonrpc_parse, invalid_requests)
{
    static const parse_row rows[] = {
        /* not an object */
        {"[]", WEIR_RPC_INVALID_REQUEST, "null", NULL, "batch"},
        {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"join\"}]", WEIR_RPC_INVALID_REQUEST, "null",
         NULL, "batch"},
        {"[1]", WEIR_RPC_INVALID_REQUEST, "null", NULL, "batch"},
        {"1", WEIR_RPC_INVALID_REQUEST, "null", NULL, "object"},
        {"\"join\"", WEIR_RPC_INVALID_REQUEST, "null", NULL, "object"},
        {"null", WEIR_RPC_INVALID_REQUEST, "null", NULL, "object"},
        {"true", WEIR_RPC_INVALID_REQUEST, "null", NULL, "object"},
        {"{}", WEIR_RPC_INVALID_REQUEST, "null", NULL, "jsonrpc"},
        /* bad id: answered with id null */
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "null",
         NULL, "id"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "null",
         NULL, "id"},
        {"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST,
         "null", NULL, "id"},
        {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "null",
         NULL, "id"},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "null",
         NULL, "id"},
        {"{\"jsonrpc\":\"2.0\",\"id\":false,\"method\":\"x\",\"params\":[]}",
         WEIR_RPC_INVALID_REQUEST, "null", NULL, "id"},
        /* bad jsonrpc: the valid id is echoed */
        {"{\"id\":7,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "7", NULL, "jsonrpc"},
        {"{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "7", NULL,
         "jsonrpc"},
        {"{\"jsonrpc\":2.0,\"id\":\"q\",\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "\"q\"", NULL,
         "jsonrpc"},
        {"{\"jsonrpc\":\"2.0 \",\"id\":7,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "7", NULL,
         "jsonrpc"},
        {"{\"jsonrpc\":null,\"id\":null,\"method\":\"x\"}", WEIR_RPC_INVALID_REQUEST, "null", NULL,
         "jsonrpc"},
        /* bad method */
        {"{\"jsonrpc\":\"2.0\",\"id\":8}", WEIR_RPC_INVALID_REQUEST, "8", NULL, "method"},
        {"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"\"}", WEIR_RPC_INVALID_REQUEST, "8", NULL,
         "method"},
        {"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":5}", WEIR_RPC_INVALID_REQUEST, "8", NULL,
         "method"},
        {"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":null}", WEIR_RPC_INVALID_REQUEST, "8", NULL,
         "method"},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{}}", WEIR_RPC_INVALID_REQUEST, "\"r\"",
         NULL, "method"},
        /* a scalar params is no JSON-RPC shape at all */
        {"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"x\",\"params\":\"a\"}",
         WEIR_RPC_INVALID_REQUEST, "9", NULL, "params"},
        {"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"x\",\"params\":5}", WEIR_RPC_INVALID_REQUEST,
         "9", NULL, "params"},
        {"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"x\",\"params\":false}",
         WEIR_RPC_INVALID_REQUEST, "9", NULL, "params"},
    };
    RUN(rows);
}

Test(jsonrpc_parse, positional_params_are_invalid_params)
{
    static const parse_row rows[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"join\",\"params\":[\"room\"]}",
         WEIR_RPC_INVALID_PARAMS, "10", NULL, "params must be an object"},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"join\",\"params\":[]}",
         WEIR_RPC_INVALID_PARAMS, "\"s\"", NULL, "params must be an object"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"join\",\"params\":[]}", WEIR_RPC_INVALID_PARAMS, "null",
         NULL, "params must be an object"},
    };
    RUN(rows);
}

Test(jsonrpc_parse, error_leaves_out_untouched_and_tolerates_no_outputs)
{
    weir_rpc_msg msg = {.root = (json_t *)0x1, .method = "sentinel"};
    const char *in = "{\"jsonrpc\":\"2.0\",\"id\":1}";

    cr_expect_eq(weir_rpc_parse(in, strlen(in), &msg, NULL, NULL, 0), WEIR_RPC_INVALID_REQUEST);
    cr_expect_eq(msg.root, (json_t *)0x1);
    cr_expect_str_eq(msg.method, "sentinel");
}

Test(jsonrpc_parse, message_is_truncated_to_errlen)
{
    char err[8];
    weir_rpc_msg msg;
    memset(err, 'x', sizeof(err));
    cr_expect_eq(weir_rpc_parse("[]", 2, &msg, NULL, err, sizeof(err)), WEIR_RPC_INVALID_REQUEST);
    cr_expect_eq(strlen(err), sizeof(err) - 1);
}

Test(jsonrpc_parse, error_id_outlives_the_frame)
{
    const char *in = "{\"jsonrpc\":\"1\",\"id\":\"keep-me\",\"method\":\"x\"}";
    json_t *id = NULL;
    weir_rpc_msg msg;

    cr_assert_eq(weir_rpc_parse(in, strlen(in), &msg, &id, NULL, 0), WEIR_RPC_INVALID_REQUEST);
    /* The frame's tree is gone; id must hold its own reference. */
    cr_expect_str_eq(json_string_value(id), "keep-me");
    json_decref(id);
}

/* ---- builders ---- */

typedef struct build_row {
    json_t *msg;
    const char *want;
} build_row;

static void expect_dump(json_t *msg, const char *want)
{
    char *text = weir_rpc_dump(msg);
    cr_expect_str_eq(text, want);
    free(text);
    json_decref(msg);
}

Test(jsonrpc_build, result)
{
    json_t *id = json_integer(7);
    build_row rows[] = {
        {weir_rpc_result(id, json_pack("{s:s}", "sdp", "v=0")),
         "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"sdp\":\"v=0\"}}"},
        {weir_rpc_result(id, NULL), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}"},
        {weir_rpc_result(NULL, json_object()), "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}"},
    };
    json_decref(id); /* the builders took their own references */
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        expect_dump(rows[i].msg, rows[i].want);
}

Test(jsonrpc_build, error)
{
    json_t *id = json_string("a");
    build_row rows[] = {
        {weir_rpc_error(id, WEIR_RPC_INVALID_PARAMS, "room: required", NULL),
         "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-32602,"
         "\"message\":\"room: required\"}}"},
        {weir_rpc_error(NULL, WEIR_RPC_PARSE_ERROR, NULL, NULL),
         "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
         "\"message\":\"parse error\"}}"},
        {weir_rpc_error(id, 403, "role may not publish", json_pack("{s:s}", "role", "observer")),
         "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":403,"
         "\"message\":\"role may not publish\",\"data\":{\"role\":\"observer\"}}}"},
        /* a message that is not UTF-8 falls back to the code's default text */
        {weir_rpc_error(id, WEIR_RPC_METHOD_NOT_FOUND, "\xc3", NULL),
         "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-32601,"
         "\"message\":\"method not found\"}}"},
        {weir_rpc_error(id, 409, NULL, NULL),
         "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":409,\"message\":\"error\"}}"},
    };
    json_decref(id);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        expect_dump(rows[i].msg, rows[i].want);
}

Test(jsonrpc_build, notification)
{
    build_row rows[] = {
        {weir_rpc_notification("offer", json_pack("{s:s}", "sdp", "v=0")),
         "{\"jsonrpc\":\"2.0\",\"method\":\"offer\",\"params\":{\"sdp\":\"v=0\"}}"},
        {weir_rpc_notification("bye", NULL),
         "{\"jsonrpc\":\"2.0\",\"method\":\"bye\",\"params\":{}}"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        expect_dump(rows[i].msg, rows[i].want);
}

Test(jsonrpc_build, notification_parses_back)
{
    json_t *n =
        weir_rpc_notification("trickle", json_pack("{s:s,s:n}", "pc", "publisher", "candidate"));
    char *text = weir_rpc_dump(n);
    weir_rpc_msg msg;

    cr_assert_eq(weir_rpc_parse(text, strlen(text), &msg, NULL, NULL, 0), 0);
    cr_expect_null(msg.id);
    cr_expect_str_eq(msg.method, "trickle");
    cr_expect(json_equal(msg.params, json_object_get(n, "params")));
    weir_rpc_msg_deinit(&msg);
    free(text);
    json_decref(n);
}

Test(jsonrpc_build, dump_never_returns_null)
{
    char *text = weir_rpc_dump(NULL);
    cr_assert_not_null(text);
    cr_expect(strstr(text, "-32603") != NULL, "%s", text);
    free(text);

    /* Scalars dump too (JSON_ENCODE_ANY). */
    json_t *s = json_string("x");
    expect_dump(s, "\"x\"");
}

Test(jsonrpc_build, reply_to_a_parse_error)
{
    weir_rpc_msg msg;
    json_t *id = NULL;
    char err[128];

    int rc = weir_rpc_parse("{\"id\":", 6, &msg, &id, err, sizeof(err));
    json_t *reply = weir_rpc_error(id, rc, err, NULL);
    json_decref(id);
    json_t *error = json_object_get(reply, "error");
    cr_expect(json_is_null(json_object_get(reply, "id")));
    cr_expect_eq(json_integer_value(json_object_get(error, "code")), WEIR_RPC_PARSE_ERROR);
    cr_expect_str_eq(json_string_value(json_object_get(error, "message")), err);
    json_decref(reply);
}
