/**
 * The methods of PROTOCOL.md on top of a session: parse, rate-limit,
 * validate, check role, dispatch. One table maps each method to its
 * handler; handlers answer through the session.
 */
#ifndef WEIR_CONTROL_SIGNALLING_H
#define WEIR_CONTROL_SIGNALLING_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir_session weir_session;

/** Handles one complete text message from the client. */
void weir_signalling_handle_message(weir_session *s, const char *buf, size_t len, int64_t now_us);
/**
 * Counts a rejected message (garbage, flood) in the session's streak and
 * disconnects the client once the streak reaches the configured limit.
 */
void weir_signalling_on_rejected(weir_session *s);

#endif
