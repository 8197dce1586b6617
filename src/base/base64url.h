/**
 * base64url without padding (RFC 4648 §5, as JWS uses it: RFC 7515 §2).
 * Decoding is strict: '=' padding, characters outside the URL-safe
 * alphabet, impossible lengths (len % 4 == 1) and non-zero trailing bits
 * (RFC 4648 §3.5) are all rejected, so every byte string has exactly one
 * accepted encoding.
 */
#ifndef WEIR_BASE_BASE64URL_H
#define WEIR_BASE_BASE64URL_H

#include <stddef.h>
#include <stdint.h>

/** Characters produced for n input bytes, excluding the NUL. */
#define WEIR_BASE64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/** Upper bound on the bytes decoded from n characters (exact when n % 4 != 1). */
#define WEIR_BASE64URL_DECODED_MAX(n) (((n) / 4) * 3 + ((n) % 4 ? (n) % 4 - 1 : 0))

/**
 * Encodes len bytes of in (borrowed; may be NULL when len is 0) into out
 * and NUL-terminates it. out_cap must be at least
 * WEIR_BASE64URL_ENCODED_LEN(len) + 1. Returns the number of characters
 * written, excluding the NUL. When out_cap is too small, returns 0 and
 * leaves out as "" (out_cap 0: nothing written); since empty input also
 * returns 0, size out with the macro rather than testing the result.
 */
size_t weir_base64url_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);

/**
 * Decodes len characters of in (borrowed; need not be NUL-terminated) into
 * out and sets *out_len. Returns 0, -WEIR_EINVAL when in is not canonical
 * unpadded base64url (see above), or -WEIR_ETOOBIG when the decoded bytes
 * would exceed out_cap (WEIR_BASE64URL_DECODED_MAX(len) always suffices).
 * On error out and *out_len are untouched.
 */
int weir_base64url_decode(const char *in, size_t len, uint8_t *out, size_t out_cap,
                          size_t *out_len);

#endif
