/*
 * JSON-RPC 2.0 framing for the signalling WebSocket (PROTOCOL.md "Transport").
 * Parses one frame into a request and builds the replies; what the methods
 * mean lives in methods.c and signalling.c.
 */
#include "control/jsonrpc.h"

#include "weir/alloc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * JSON_DECODE_ANY: a frame that is valid JSON but not an object ("1", "[]") is
 * an invalid request (-32600), not a parse error, as in the JSON-RPC 2.0 spec's
 * examples; so jansson accepts any top-level value and we judge it.
 *
 * JSON_REJECT_DUPLICATES: {"id":1,"id":2} is a parse error instead of silently
 * keeping the last key, so that we never disagree with a proxy, a logger or
 * the client about which id or method a frame carries.
 *
 * No JSON_ALLOW_NUL: "\u0000" inside a string is a parse error, so every string
 * handed on is a plain C string with no hidden tail after the NUL.
 *
 * jansson stops at JSON_PARSER_MAX_DEPTH (2048) levels of nesting, so deeply
 * nested garbage cannot exhaust the stack; integers beyond json_int_t and reals
 * beyond double are parse errors too.
 */
#define PARSE_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

__attribute__((format(printf, 4, 5))) static int say(char *err, size_t errlen, int code,
                                                     const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/*
 * jansson quotes the offending input ("invalid token near '\xff'"); keep only
 * printable ASCII so the message is valid UTF-8 once it goes back as a string.
 */
static int parse_error(const json_error_t *jerr, char *err, size_t errlen)
{
    int rc = say(err, errlen, WEIR_RPC_PARSE_ERROR, "parse error at byte %d: %s", jerr->position,
                 jerr->text);
    for (size_t i = 0; err && i < errlen && err[i]; i++) {
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
            err[i] = '?';
    }
    return rc;
}

static bool is_valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_null(id);
}

static bool is_version_2(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) == 3 &&
           memcmp(json_string_value(v), "2.0", 3) == 0;
}

/*
 * params absent → an empty object stored in root, so that msg->params is
 * borrowed from root like everything else. params null is read as absent too:
 * the spec wants a structured value, but clients that build params from an
 * optional argument send null for "nothing" and are not worth an error.
 * An array is a valid JSON-RPC shape this protocol does not use (-32602);
 * a scalar is no valid shape at all (-32600).
 */
static int read_params(weir_rpc_msg *msg, char *err, size_t errlen)
{
    json_t *params = json_object_get(msg->root, "params");
    if (!params || json_is_null(params)) {
        params = json_object();
        /* set_new steals params even when it fails; jansson fails only on OOM. */
        if (json_object_set_new(msg->root, "params", params) < 0)
            return say(err, errlen, WEIR_RPC_INTERNAL_ERROR, "out of memory");
    } else if (json_is_array(params)) {
        return say(err, errlen, WEIR_RPC_INVALID_PARAMS, "params must be an object");
    } else if (!json_is_object(params)) {
        return say(err, errlen, WEIR_RPC_INVALID_REQUEST, "params must be an object");
    }
    msg->params = params;
    return 0;
}

/* Fills msg from msg->root; msg->id is set as soon as it is known to be valid. */
static int read_request(weir_rpc_msg *msg, char *err, size_t errlen)
{
    const int bad = WEIR_RPC_INVALID_REQUEST;
    json_t *root = msg->root;

    if (json_is_array(root))
        return say(err, errlen, bad, "batch requests are not supported");
    if (!json_is_object(root))
        return say(err, errlen, bad, "request must be an object");

    json_t *id = json_object_get(root, "id");
    if (id && !is_valid_id(id))
        return say(err, errlen, bad, "id must be a string, an integer or null");
    msg->id = id;

    if (!is_version_2(json_object_get(root, "jsonrpc")))
        return say(err, errlen, bad, "jsonrpc must be \"2.0\"");

    json_t *method = json_object_get(root, "method");
    if (!json_is_string(method) || json_string_length(method) == 0)
        return say(err, errlen, bad, "method must be a non-empty string");
    msg->method = json_string_value(method);

    return read_params(msg, err, errlen);
}

int weir_rpc_parse(const char *buf, size_t len, weir_rpc_msg *out, json_t **err_id, char *err,
                   size_t errlen)
{
    json_error_t jerr;
    weir_rpc_msg msg = {0};
    int rc;

    msg.root = json_loadb(buf, len, PARSE_FLAGS, &jerr);
    if (!msg.root)
        rc = parse_error(&jerr, err, errlen);
    else
        rc = read_request(&msg, err, errlen);

    if (rc == 0) {
        *out = msg;
        return 0;
    }
    /* Take the id's reference before root, which owns it, goes away. */
    if (err_id)
        *err_id = msg.id ? json_incref(msg.id) : json_null();
    json_decref(msg.root);
    return rc;
}

void weir_rpc_msg_deinit(weir_rpc_msg *msg)
{
    if (!msg)
        return;
    json_decref(msg->root);
    memset(msg, 0, sizeof(*msg));
}

/* {"jsonrpc":"2.0","id":id,key:value}; steals value, NULL only when jansson is out of memory. */
static json_t *reply(json_t *id, const char *key, json_t *value)
{
    json_t *msg = json_object();
    if (!msg) {
        json_decref(value);
        return NULL;
    }
    /* Each set_new steals its value even on failure, so nothing leaks. */
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    json_object_set_new(msg, "id", id ? json_incref(id) : json_null());
    json_object_set_new(msg, key, value);
    return msg;
}

json_t *weir_rpc_result(json_t *id, json_t *result)
{
    return reply(id, "result", result ? result : json_object());
}

static const char *default_message(int code)
{
    switch (code) {
    case WEIR_RPC_PARSE_ERROR:
        return "parse error";
    case WEIR_RPC_INVALID_REQUEST:
        return "invalid request";
    case WEIR_RPC_METHOD_NOT_FOUND:
        return "method not found";
    case WEIR_RPC_INVALID_PARAMS:
        return "invalid params";
    case WEIR_RPC_INTERNAL_ERROR:
        return "internal error";
    default:
        return "error";
    }
}

json_t *weir_rpc_error(json_t *id, int code, const char *message, json_t *data)
{
    json_t *error = json_object();
    if (!error) {
        json_decref(data);
        return NULL;
    }
    /* json_string() refuses invalid UTF-8 (a message cut mid-character); say something. */
    json_t *text = message ? json_string(message) : NULL;
    json_object_set_new(error, "code", json_integer(code));
    json_object_set_new(error, "message", text ? text : json_string(default_message(code)));
    if (data)
        json_object_set_new(error, "data", data);
    return reply(id, "error", error);
}

json_t *weir_rpc_notification(const char *method, json_t *params)
{
    json_t *msg = json_object();
    if (!params)
        params = json_object();
    if (!msg) {
        json_decref(params);
        return NULL;
    }
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    json_object_set_new(msg, "method", json_string(method ? method : ""));
    json_object_set_new(msg, "params", params);
    return msg;
}

char *weir_rpc_dump(const json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text)
        return text;
    /*
     * Only a NULL message (a builder that ran out of memory), a message holding
     * invalid UTF-8 or a cycle gets here; the peer still deserves an answer.
     * weir_malloc is malloc underneath, so free() remains the way to release it.
     */
    return weir_strdup("{\"jsonrpc\":\"2.0\",\"id\":null,"
                       "\"error\":{\"code\":-32603,\"message\":\"internal error\"}}");
}
