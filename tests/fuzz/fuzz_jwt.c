/*
 * libFuzzer target for control/jwt.c and base/base64url.c. Each input is
 * used three ways:
 *   1. as a token, as a peer would send it;
 *   2. as base64url text: what decodes must re-encode to the same text,
 *      since the decoder accepts only canonical encodings;
 *   3. as the JSON payload of a token we sign correctly, because random
 *      bytes never get past the MAC and the claim parser would go unfuzzed.
 * Any token that verifies must survive sign -> verify with equal claims.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64url.h"
#include "control/jwt.h"
#include "weir/alloc.h"

#define NOW 1700000000
#define LEEWAY 30
#define MAX_FUZZ_INPUT 12288 /* enough to cross the 8 KiB token cap */

static const uint8_t SECRET[] = "fuzz-secret-0123456789abcdef";
/* {"alg":"HS256","typ":"JWT"} */
static const char HDR_B64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static int verify(const char *token, weir_jwt_claims *c)
{
    char err[64];
    return weir_jwt_verify(token, SECRET, sizeof SECRET - 1, NOW, LEEWAY, c, err, sizeof err);
}

static void check_resign(const weir_jwt_claims *c)
{
    char *tok = weir_jwt_sign(c, SECRET, sizeof SECRET - 1);
    weir_jwt_claims again;
    if (verify(tok, &again) != 0 || strcmp(again.sub, c->sub) || strcmp(again.role, c->role) ||
        strcmp(again.room, c->room) || strcmp(again.name, c->name) || again.exp != c->exp ||
        again.nbf != c->nbf)
        abort();
    weir_free(tok);
}

static void fuzz_token(const uint8_t *data, size_t size)
{
    char *tok = weir_malloc(size + 1);
    memcpy(tok, data, size);
    tok[size] = '\0';
    weir_jwt_claims c;
    if (verify(tok, &c) == 0)
        check_resign(&c);
    weir_free(tok);
}

static void fuzz_base64url(const uint8_t *data, size_t size)
{
    size_t cap = WEIR_BASE64URL_DECODED_MAX(size);
    uint8_t *raw = weir_malloc(cap);
    size_t n = 0;
    if (weir_base64url_decode((const char *)data, size, raw, cap, &n) == 0) {
        char *enc = weir_malloc(size + 1);
        if (weir_base64url_encode(raw, n, enc, size + 1) != size || memcmp(enc, data, size) != 0)
            abort();
        weir_free(enc);
    }
    weir_free(raw);
}

static void fuzz_payload(const uint8_t *data, size_t size)
{
    size_t h_len = sizeof HDR_B64 - 1;
    size_t p_len = WEIR_BASE64URL_ENCODED_LEN(size);
    size_t cap = h_len + 1 + p_len + 1 + WEIR_BASE64URL_ENCODED_LEN(32) + 1;
    char *tok = weir_malloc(cap);
    memcpy(tok, HDR_B64, h_len);
    tok[h_len] = '.';
    weir_base64url_encode(data, size, tok + h_len + 1, p_len + 1);
    size_t signed_len = h_len + 1 + p_len;
    uint8_t mac[32];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), SECRET, (int)(sizeof SECRET - 1), (const uint8_t *)tok, signed_len, mac,
              &mac_len))
        abort();
    tok[signed_len] = '.';
    weir_base64url_encode(mac, mac_len, tok + signed_len + 1, cap - signed_len - 1);
    weir_jwt_claims c;
    if (verify(tok, &c) == 0)
        check_resign(&c);
    weir_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_FUZZ_INPUT)
        return 0;
    fuzz_token(data, size);
    fuzz_base64url(data, size);
    fuzz_payload(data, size);
    return 0;
}
