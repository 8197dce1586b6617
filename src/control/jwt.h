/**
 * HS256 JSON Web Tokens (RFC 7519) for joining rooms. Only HS256 is
 * accepted; signature compared in constant time; exp/nbf checked against
 * the time passed in, with a leeway for clock skew.
 */
#ifndef WEIR_CONTROL_JWT_H
#define WEIR_CONTROL_JWT_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir_jwt_claims {
    char room[128]; /* "" when absent */
    char sub[128];  /* required */
    char name[128]; /* "" when absent */
    char role[16];  /* "teacher" | "student" | "observer" | "recorder"; required */
    int64_t exp;    /* seconds since the epoch; required */
    int64_t nbf;    /* 0 when absent */
} weir_jwt_claims;

/**
 * Verifies token (a NUL-terminated compact JWS) with secret, at wall time
 * now_s (seconds since the epoch). Returns 0 and fills *out, or
 * -WEIR_EAUTH with a short human reason in err ("bad signature",
 * "expired", "alg must be HS256", ...). On error *out is untouched.
 */
int weir_jwt_verify(const char *token, const uint8_t *secret, size_t secret_len, int64_t now_s,
                    int64_t leeway_s, weir_jwt_claims *out, char *err, size_t errlen);

/**
 * Mints a token for the claims (exp required; nbf written when non-zero;
 * room/name omitted when empty). Returns a heap string the caller frees
 * with weir_free, never NULL.
 */
char *weir_jwt_sign(const weir_jwt_claims *claims, const uint8_t *secret, size_t secret_len);

#endif
