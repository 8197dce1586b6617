/*
 * HS256 JWTs (RFC 7519) in JWS compact serialization (RFC 7515 §7.1).
 * Verification follows RFC 7515 §5.2: the header is decoded first only to
 * learn that it asks for HS256, the MAC is checked next, and only then is
 * the payload decoded and believed.
 */
#define WEIR_LOG_MODULE "control.jwt"
#include "control/jwt.h"

#include "base/base64url.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Our tokens are a few hundred bytes. The cap bounds the base64 and JSON work an
 * unauthenticated peer can cause and lets the decoded parts live on the stack.
 */
#define MAX_TOKEN_LEN 8192
#define MAX_PART_LEN WEIR_BASE64URL_DECODED_MAX(MAX_TOKEN_LEN)
#define MAC_LEN 32 /* SHA-256 */
/* json_dumpb worst case: at most 4 x 128 string bytes, each escaped as \u00XX (6 bytes). */
#define MAX_PAYLOAD_JSON 4096

static const char HEADER_JSON[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static const char *const ROLES[] = {"teacher", "student", "observer", "recorder"};

struct parts {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
};

enum claim { CLAIM_OK, CLAIM_MISSING, CLAIM_BAD, CLAIM_TOO_LONG };

static int fail_claim(char *err, size_t errlen, const char *pre, const char *key, const char *post)
{
    if (err && errlen > 0)
        snprintf(err, errlen, "%s%s%s", pre, key, post);
    return -WEIR_EAUTH;
}

static int fail(char *err, size_t errlen, const char *reason)
{
    return fail_claim(err, errlen, "", reason, "");
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

static int hs256(const uint8_t *secret, size_t secret_len, const char *data, size_t len,
                 uint8_t mac[MAC_LEN])
{
    /* OpenSSL gives a NULL key a special meaning; an empty key still gets a real pointer. */
    static const uint8_t empty_key[1];
    unsigned int mac_len = 0;
    if (secret_len > INT_MAX)
        return -WEIR_EINVAL;
    if (!HMAC(EVP_sha256(), secret_len ? secret : empty_key, (int)secret_len,
              (const unsigned char *)data, len, mac, &mac_len) ||
        mac_len != MAC_LEN)
        return -WEIR_EINVAL;
    return 0;
}

/* RFC 7515 §7.1: exactly two dots; a JWE (four dots) or detached form is not for us. */
static int split(const char *token, size_t len, struct parts *p)
{
    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        return -WEIR_EINVAL;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return -WEIR_EINVAL;
    p->header = token;
    p->header_len = (size_t)(dot1 - token);
    p->payload = dot1 + 1;
    p->payload_len = (size_t)(dot2 - p->payload);
    p->sig = dot2 + 1;
    p->sig_len = len - (size_t)(p->sig - token);
    return 0;
}

/*
 * RFC 7515 §5.2 step 4 and RFC 7519 §4: duplicate member names are
 * rejected rather than resolved, so we never read a different claim than
 * some other parser would.
 */
static json_t *decode_object(const char *b64, size_t len, uint8_t buf[MAX_PART_LEN])
{
    size_t n = 0;
    if (weir_base64url_decode(b64, len, buf, MAX_PART_LEN, &n) < 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool string_is(const json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) &&
           memcmp(json_string_value(v), want, strlen(want)) == 0;
}

/* typ is a media type, compared case-insensitively (RFC 7515 §4.1.9). */
static bool typ_is_jwt(const json_t *v)
{
    const char *s = json_string_value(v);
    return json_string_length(v) == 3 && (s[0] | 0x20) == 'j' && (s[1] | 0x20) == 'w' &&
           (s[2] | 0x20) == 't';
}

static const char *check_header(const json_t *h)
{
    /*
     * The algorithm is ours to choose, never the token's (RFC 8725 §2.1,
     * §3.1): this rejects "none" and any public-key alg our secret would be
     * mistaken for.
     */
    if (!string_is(json_object_get(h, "alg"), "HS256"))
        return "alg must be HS256";
    const json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || !typ_is_jwt(typ)))
        return "typ must be JWT";
    /* RFC 7515 §4.1.11: we implement no extension, so any "crit" names one we cannot honour. */
    if (json_object_get(h, "crit"))
        return "unsupported crit";
    return NULL;
}

static int check_mac(const struct parts *p, const uint8_t *secret, size_t secret_len)
{
    uint8_t want[MAC_LEN], got[MAC_LEN];
    size_t got_len = 0;
    /* RFC 7515 §5.2 step 8: the signing input is the text as received, never a re-encoding. */
    size_t signed_len = p->header_len + 1 + p->payload_len;
    if (weir_base64url_decode(p->sig, p->sig_len, got, sizeof got, &got_len) < 0 ||
        got_len != MAC_LEN)
        return -WEIR_EAUTH;
    if (hs256(secret, secret_len, p->header, signed_len, want) < 0)
        return -WEIR_EAUTH;
    return CRYPTO_memcmp(want, got, MAC_LEN) == 0 ? 0 : -WEIR_EAUTH;
}

static enum claim read_string(const json_t *obj, const char *key, char *dst, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return CLAIM_MISSING;
    if (!json_is_string(v))
        return CLAIM_BAD;
    /* jansson refuses \u0000 by default, so length and C-string length agree. */
    size_t n = json_string_length(v);
    if (n >= cap)
        return CLAIM_TOO_LONG;
    memcpy(dst, json_string_value(v), n + 1);
    return CLAIM_OK;
}

/* NumericDate (RFC 7519 §2) may be fractional; we mint integers and accept only those. */
static enum claim read_time(const json_t *obj, const char *key, int64_t *dst)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return CLAIM_MISSING;
    if (!json_is_integer(v))
        return CLAIM_BAD;
    *dst = (int64_t)json_integer_value(v);
    return CLAIM_OK;
}

static bool is_role(const char *role)
{
    for (size_t i = 0; i < sizeof ROLES / sizeof ROLES[0]; i++) {
        if (strcmp(role, ROLES[i]) == 0)
            return true;
    }
    return false;
}

/* Other claims (iat, iss, aud, jti...) are ignored, as RFC 7519 §4 asks of unknown ones. */
static int parse_claims(const json_t *p, weir_jwt_claims *c, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        size_t off, cap;
        bool required;
    } strings[] = {
        {"sub", offsetof(weir_jwt_claims, sub), sizeof c->sub, true},
        {"role", offsetof(weir_jwt_claims, role), sizeof c->role, true},
        {"room", offsetof(weir_jwt_claims, room), sizeof c->room, false},
        {"name", offsetof(weir_jwt_claims, name), sizeof c->name, false},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char *key = strings[i].key;
        switch (read_string(p, key, (char *)c + strings[i].off, strings[i].cap)) {
        case CLAIM_OK:
            break;
        case CLAIM_MISSING:
            if (strings[i].required)
                return fail_claim(err, errlen, "missing ", key, "");
            break;
        case CLAIM_BAD:
            return fail_claim(err, errlen, "", key, " must be a string");
        case CLAIM_TOO_LONG:
            return fail_claim(err, errlen, "", key, " too long");
        }
    }
    if (c->sub[0] == '\0')
        return fail(err, errlen, "empty sub");
    if (!is_role(c->role))
        return fail(err, errlen, "bad role");
    enum claim exp = read_time(p, "exp", &c->exp);
    if (exp == CLAIM_MISSING)
        return fail(err, errlen, "missing exp");
    if (exp == CLAIM_BAD)
        return fail(err, errlen, "exp must be an integer");
    if (read_time(p, "nbf", &c->nbf) == CLAIM_BAD)
        return fail(err, errlen, "nbf must be an integer");
    return 0;
}

/* The leeway absorbs skew between the issuer's clock and ours (RFC 7519 §4.1.4, §4.1.5). */
static int check_times(const weir_jwt_claims *c, int64_t now_s, int64_t leeway_s, char *err,
                       size_t errlen)
{
    if (leeway_s < 0)
        leeway_s = 0;
    if (c->exp <= sat_sub(now_s, leeway_s))
        return fail(err, errlen, "expired");
    if (c->nbf > sat_add(now_s, leeway_s))
        return fail(err, errlen, "not yet valid");
    return 0;
}

int weir_jwt_verify(const char *token, const uint8_t *secret, size_t secret_len, int64_t now_s,
                    int64_t leeway_s, weir_jwt_claims *out, char *err, size_t errlen)
{
    /* An empty key lets anyone mint tokens; config demands >= 16 bytes, this is the backstop. */
    if (secret_len == 0)
        return fail(err, errlen, "no secret");
    if (!token)
        return fail(err, errlen, "malformed token");
    size_t len = 0;
    while (len <= MAX_TOKEN_LEN && token[len])
        len++;
    if (len > MAX_TOKEN_LEN)
        return fail(err, errlen, "token too long");

    struct parts p;
    if (split(token, len, &p) < 0)
        return fail(err, errlen, "malformed token");
    uint8_t buf[MAX_PART_LEN];
    json_t *h = decode_object(p.header, p.header_len, buf);
    if (!h)
        return fail(err, errlen, "bad header");
    const char *reason = check_header(h);
    json_decref(h);
    if (reason)
        return fail(err, errlen, reason);
    if (check_mac(&p, secret, secret_len) < 0)
        return fail(err, errlen, "bad signature");

    json_t *payload = decode_object(p.payload, p.payload_len, buf);
    if (!payload)
        return fail(err, errlen, "bad payload");
    weir_jwt_claims c;
    memset(&c, 0, sizeof c);
    int rc = parse_claims(payload, &c, err, errlen);
    json_decref(payload);
    if (rc == 0)
        rc = check_times(&c, now_s, leeway_s, err, errlen);
    if (rc == 0)
        *out = c;
    return rc;
}

/* Claims come from our own config and tools; a bad one is a bug, like running out of memory. */
static void die(const char *why)
{
    WEIR_LOG_ERROR("sign_failed reason=\"%s\"", why);
    abort();
}

static size_t bounded_len(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    return nul ? (size_t)(nul - s) : cap;
}

static int put_string(json_t *obj, const char *key, const char *s, size_t cap, bool omit_empty)
{
    size_t n = bounded_len(s, cap);
    if (n == 0 && omit_empty)
        return 0;
    /* json_stringn() is NULL for invalid UTF-8; set_new() then fails. */
    return json_object_set_new(obj, key, json_stringn(s, n));
}

static size_t payload_json(const weir_jwt_claims *c, char *buf, size_t cap)
{
    json_t *p = json_object();
    int rc = 0;
    rc |= put_string(p, "sub", c->sub, sizeof c->sub, false);
    rc |= put_string(p, "role", c->role, sizeof c->role, false);
    rc |= put_string(p, "room", c->room, sizeof c->room, true);
    rc |= put_string(p, "name", c->name, sizeof c->name, true);
    rc |= json_object_set_new(p, "exp", json_integer((json_int_t)c->exp));
    if (c->nbf != 0)
        rc |= json_object_set_new(p, "nbf", json_integer((json_int_t)c->nbf));
    size_t n = rc == 0 ? json_dumpb(p, buf, cap, JSON_COMPACT) : 0;
    json_decref(p);
    if (n == 0 || n > cap)
        die("claims are not valid UTF-8, or out of memory");
    return n;
}

char *weir_jwt_sign(const weir_jwt_claims *claims, const uint8_t *secret, size_t secret_len)
{
    char payload[MAX_PAYLOAD_JSON];
    size_t payload_len = payload_json(claims, payload, sizeof payload);
    size_t h_len = WEIR_BASE64URL_ENCODED_LEN(sizeof HEADER_JSON - 1);
    size_t p_len = WEIR_BASE64URL_ENCODED_LEN(payload_len);
    size_t s_len = WEIR_BASE64URL_ENCODED_LEN(MAC_LEN);
    size_t total = h_len + 1 + p_len + 1 + s_len;
    char *tok = weir_malloc(total + 1);

    weir_base64url_encode((const uint8_t *)HEADER_JSON, sizeof HEADER_JSON - 1, tok, h_len + 1);
    tok[h_len] = '.';
    weir_base64url_encode((const uint8_t *)payload, payload_len, tok + h_len + 1, p_len + 1);
    tok[h_len + 1 + p_len] = '.';
    uint8_t mac[MAC_LEN];
    if (hs256(secret, secret_len, tok, h_len + 1 + p_len, mac) < 0)
        die("HMAC failed");
    weir_base64url_encode(mac, MAC_LEN, tok + h_len + 1 + p_len + 1, s_len + 1);
    return tok;
}
