/**
 * The method table of PROTOCOL.md: which methods exist, which roles may
 * call them, and what their params must look like. Pure; the signalling
 * glue (signalling.c) looks methods up here before dispatching.
 */
#ifndef WEIR_CONTROL_METHODS_H
#define WEIR_CONTROL_METHODS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    WEIR_ROLE_TEACHER = 0,
    WEIR_ROLE_STUDENT,
    WEIR_ROLE_OBSERVER,
    WEIR_ROLE_RECORDER,
    WEIR_ROLE_COUNT,
} weir_role;

#define WEIR_ROLE_BIT(r) (1u << (r))
#define WEIR_ROLES_ALL 0xfu

/** "teacher" → WEIR_ROLE_TEACHER ...; returns 0 or -WEIR_EINVAL leaving *out unchanged. */
int weir_role_parse(const char *name, weir_role *out);
const char *weir_role_name(weir_role role);

typedef enum {
    WEIR_METHOD_JOIN = 0,
    WEIR_METHOD_LEAVE,
    WEIR_METHOD_PUBLISH,
    WEIR_METHOD_ANSWER,
    WEIR_METHOD_TRICKLE,
    WEIR_METHOD_SUBSCRIBE,
    WEIR_METHOD_UNSUBSCRIBE,
    WEIR_METHOD_SET_PREFERENCES,
    WEIR_METHOD_MUTE,
    WEIR_METHOD_MODERATE,
    WEIR_METHOD_RECORD_START,
    WEIR_METHOD_RECORD_STOP,
    WEIR_METHOD_TAP_START,
    WEIR_METHOD_TAP_STOP,
    WEIR_METHOD_COUNT,
} weir_method_id;

typedef struct weir_method {
    weir_method_id id;
    const char *name;
    unsigned roles;  /* WEIR_ROLE_BIT mask of roles allowed to call it */
    bool needs_room; /* must be joined first (everything but join) */
} weir_method;

/** Looks a method up by name; NULL when unknown (→ -32601). */
const weir_method *weir_method_find(const char *name);
const weir_method *weir_method_get(weir_method_id id);

/**
 * Checks params (an object) against the method's schema: required keys,
 * types, ranges and enums from PROTOCOL.md; unknown keys are ignored so
 * clients can add fields. Returns 0 or WEIR_RPC_INVALID_PARAMS (-32602) with
 * a message naming the param in err, e.g. "max_spatial: expected an integer 0..2".
 * String limits count UTF-8 bytes. Integers must be JSON integers (1.0 is refused),
 * booleans true/false. null counts as absent only where W3C makes it so (trickle's
 * sdpMid, sdpMLineIndex) and as a value for trickle's candidate (end of candidates).
 * Returns WEIR_RPC_METHOD_NOT_FOUND when m is NULL or has an id outside the table.
 * err may be NULL.
 */
int weir_method_validate(const weir_method *m, const json_t *params, char *err, size_t errlen);

#endif
