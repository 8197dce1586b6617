/**
 * JSON-RPC 2.0 framing for the signalling WebSocket (PROTOCOL.md): one
 * object per text frame. Pure: no I/O, no clock.
 */
#ifndef WEIR_CONTROL_JSONRPC_H
#define WEIR_CONTROL_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

enum {
    WEIR_RPC_PARSE_ERROR = -32700,
    WEIR_RPC_INVALID_REQUEST = -32600,
    WEIR_RPC_METHOD_NOT_FOUND = -32601,
    WEIR_RPC_INVALID_PARAMS = -32602,
    WEIR_RPC_INTERNAL_ERROR = -32603,
};

/** Largest frame accepted (PROTOCOL.md: 256 KiB); larger ones get 413. */
#define WEIR_RPC_MAX_FRAME_BYTES (256 * 1024)

typedef struct weir_rpc_msg {
    /* owned: */
    json_t *root; /* the whole parsed object */
    /* borrowed from root: */
    json_t *id;         /* string or integer; NULL for a notification */
    const char *method; /* non-empty */
    json_t *params;     /* always an object (an empty one when absent) */
} weir_rpc_msg;

/**
 * Parses one frame. Returns 0 and fills *out (free with weir_rpc_msg_deinit),
 * or a negative JSON-RPC code (WEIR_RPC_PARSE_ERROR, WEIR_RPC_INVALID_REQUEST,
 * or WEIR_RPC_INVALID_PARAMS when params is present but not an object — positional
 * params are not used by this protocol) with a message in err and *err_id set to
 * a new reference to the request's id when it could be read (else json_null()).
 * Rules: jsonrpc must be "2.0"; method a non-empty string; id, when present,
 * a string, an integer or null (null is answered like any id, per JSON-RPC 2.0);
 * a batch (array) is an invalid request. On error *out is untouched.
 * Also: "params": null is read as absent; a scalar params is WEIR_RPC_INVALID_REQUEST;
 * duplicate keys anywhere are a parse error; WEIR_RPC_INTERNAL_ERROR only if jansson
 * runs out of memory. err_id and err may be NULL; on success neither is written.
 * The caller enforces WEIR_RPC_MAX_FRAME_BYTES before calling.
 */
int weir_rpc_parse(const char *buf, size_t len, weir_rpc_msg *out, json_t **err_id, char *err,
                   size_t errlen);
void weir_rpc_msg_deinit(weir_rpc_msg *msg);

/** {"jsonrpc":"2.0","id":id,"result":result}. Steals result (NULL: {}); id gets a new ref. */
json_t *weir_rpc_result(json_t *id, json_t *result);
/**
 * {"jsonrpc":"2.0","id":id,"error":{"code","message"[,"data"]}}. Steals data (may be NULL).
 * id is copied (NULL → null). A NULL or non-UTF-8 message becomes the code's default text.
 * The builders return NULL only when jansson is out of memory (stolen args are freed).
 */
json_t *weir_rpc_error(json_t *id, int code, const char *message, json_t *data);
/** {"jsonrpc":"2.0","method":method,"params":params}. Steals params (NULL → {}). */
json_t *weir_rpc_notification(const char *method, json_t *params);

/**
 * Serialises compactly; returns a heap string (free with free()), never NULL: a NULL or
 * unencodable msg yields a -32603 internal-error reply with id null.
 */
char *weir_rpc_dump(const json_t *msg);

#endif
