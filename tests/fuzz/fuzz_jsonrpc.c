/*
 * libFuzzer target for the signalling frame path: parse, look the method up,
 * validate params, build and dump the reply, free everything. Beyond "no crash,
 * no leak" it checks two properties that must hold for every input:
 *   - a failed parse leaves *out untouched and always yields an error id;
 *   - a parsed request re-emitted as a notification parses back to the same
 *     method and params (our writer and reader agree).
 */
#include "control/jsonrpc.h"
#include "control/methods.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static json_t *answer(const weir_rpc_msg *msg)
{
    char err[256];
    const weir_method *m = weir_method_find(msg->method);

    if (!m)
        return weir_rpc_error(msg->id, WEIR_RPC_METHOD_NOT_FOUND, "method not found", NULL);
    int rc = weir_method_validate(m, msg->params, err, sizeof(err));
    if (rc < 0)
        return weir_rpc_error(msg->id, rc, err, json_pack("{s:s}", "method", m->name));
    return weir_rpc_result(msg->id, json_deep_copy(msg->params));
}

/* Re-emits the request as a notification and parses that back. */
static void check_round_trip(const weir_rpc_msg *msg)
{
    json_t *note = weir_rpc_notification(msg->method, json_incref(msg->params));
    char *text = weir_rpc_dump(note);
    weir_rpc_msg back;

    if (weir_rpc_parse(text, strlen(text), &back, NULL, NULL, 0) != 0)
        abort();
    if (strcmp(back.method, msg->method) != 0 || !json_equal(back.params, msg->params) || back.id)
        abort();
    weir_rpc_msg_deinit(&back);
    free(text);
    json_decref(note);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_rpc_msg msg = {0};
    json_t *err_id = NULL;
    char err[256];
    json_t *reply;

    int rc = weir_rpc_parse((const char *)data, size, &msg, &err_id, err, sizeof(err));
    if (rc < 0) {
        if (msg.root || !err_id || rc >= 0)
            abort();
        reply = weir_rpc_error(err_id, rc, err, NULL);
        json_decref(err_id);
    } else {
        check_round_trip(&msg);
        reply = answer(&msg);
        weir_rpc_msg_deinit(&msg);
    }
    char *text = weir_rpc_dump(reply);
    free(text);
    json_decref(reply);
    return 0;
}
