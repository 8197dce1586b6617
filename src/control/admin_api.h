/**
 * The admin REST API under /api (PROTOCOL.md "HTTP beside the WebSocket"):
 * rooms (create, list, inspect, close), participants (list, kick) and join
 * tokens (mint). Transport-free: the HTTP server hands in the method, path,
 * Authorization header and body, and writes out the status and JSON body.
 */
#ifndef WEIR_CONTROL_ADMIN_API_H
#define WEIR_CONTROL_ADMIN_API_H

#include <jansson.h>
#include <stddef.h>

typedef struct weir_control weir_control;

/** Largest request body accepted (bigger → 413). */
#define WEIR_ADMIN_MAX_BODY_BYTES (64 * 1024)

/**
 * Handles one request. authorization may be NULL; body may be NULL when
 * empty. Returns the HTTP status and sets *out to the JSON answer (caller
 * decrefs); errors are {"error":{"code":status,"message":...}}.
 * No admin key configured → 403 for every path; wrong key → 401.
 */
int weir_admin_handle(weir_control *ctl, const char *method, const char *path,
                      const char *authorization, const char *body, size_t body_len, json_t **out);

#endif
