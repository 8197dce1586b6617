/**
 * The text frames the server writes on data channels (docs/protocol.md,
 * "Data channels"): the stamp of a whiteboard or chat message and the
 * error frame. Pure: jansson and memory, nothing else.
 *
 *   stamped: {"seq":N,"from":"<participant id>","ts":<unix ms>,"data":<value>}
 *   error:   {"error":{"code":C,"message":"..."}}
 *
 * `data` is the text the client sent when that text is one valid JSON
 * value (kept byte for byte, only surrounding white space trimmed: a
 * re-encoding would turn 0.1 into 0.10000000000000001 and bloat every pen
 * stroke), else the text as a JSON string. The room log stores exactly
 * that JSON text, so a replayed message is the same bytes as the live one.
 */
#ifndef WEIR_CONTROL_DATACHANNEL_FRAME_H
#define WEIR_CONTROL_DATACHANNEL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/room_log.h"

/** What a client's text becomes. */
typedef struct weir_dc_data {
    char *json;    /* owned (weir_free): the JSON text of `data`, NUL-terminated */
    size_t len;    /* strlen(json) */
    bool is_clear; /* an object whose "op" is "clear" */
} weir_dc_data;

/**
 * Converts the text a client sent (borrowed, len bytes, may hold NULs) to
 * the `data` value. Returns 0 with *out filled, or -WEIR_EINVAL when the
 * text is not UTF-8 (nothing allocated).
 */
int weir_dc_data_from_text(const uint8_t *text, size_t len, weir_dc_data *out);
void weir_dc_data_free(weir_dc_data *d);

/**
 * Writes the stamped frame of a stored entry (its data is the JSON text of
 * `data`) into a heap buffer (*out, weir_free). Returns its length.
 */
size_t weir_dc_frame_stamped(const weir_room_log_entry *e, uint8_t **out);

/** The length weir_dc_frame_stamped would produce, without writing. */
size_t weir_dc_frame_stamped_len(const weir_room_log_entry *e);

/** Writes {"error":{"code":code,"message":message}} into *out (heap). Returns its length. */
size_t weir_dc_frame_error(int code, const char *message, uint8_t **out);

#endif
