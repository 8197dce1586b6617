/*
 * HS256 JWT and base64url tests. Tokens for the rejection tables are minted
 * here from raw JSON with OpenSSL directly, so that any header or payload
 * can be signed; interop with other implementations is proved by vectors
 * from Python's standard library, RFC 7515 A.1 and jwt.io.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "base/base64url.h"
#include "control/jwt.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define NOW 1700000000
#define SECRET "unit-test-secret-0123456789abcdef"
#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define HDR_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define MINIMAL "{\"sub\":\"alice\",\"role\":\"student\",\"exp\":1700000600}"

#define S16 "xxxxxxxxxxxxxxxx"
#define S112 S16 S16 S16 S16 S16 S16 S16
#define S127 S112 "xxxxxxxxxxxxxxx"
#define S128 S112 S16
#define E_ACUTE_63 "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
#define NAME_127_BYTES                                                                             \
    E_ACUTE_63 E_ACUTE_63 E_ACUTE_63 E_ACUTE_63 E_ACUTE_63 E_ACUTE_63 E_ACUTE_63 "x"

enum sig { SIG_GOOD, SIG_EMPTY, SIG_WRONG_SECRET };

static char *b64(const void *data, size_t len)
{
    size_t cap = WEIR_BASE64URL_ENCODED_LEN(len) + 1;
    char *s = weir_malloc(cap);
    weir_base64url_encode(data, len, s, cap);
    return s;
}

static char *make_token(const char *header, const char *payload, enum sig sig)
{
    char *h = b64(header, strlen(header));
    char *p = b64(payload, strlen(payload));
    size_t cap = strlen(h) + strlen(p) + 64;
    char *tok = weir_malloc(cap);
    snprintf(tok, cap, "%s.%s.", h, p);
    if (sig != SIG_EMPTY) {
        const char *key = sig == SIG_GOOD ? SECRET : SECRET "x";
        uint8_t mac[32];
        unsigned int mac_len = 0;
        HMAC(EVP_sha256(), key, (int)strlen(key), (const uint8_t *)tok, strlen(tok) - 1, mac,
             &mac_len);
        cr_assert_eq(mac_len, 32);
        weir_base64url_encode(mac, mac_len, tok + strlen(tok), cap - strlen(tok));
    }
    weir_free(h);
    weir_free(p);
    return tok;
}

static int verify(const char *token, int64_t leeway, weir_jwt_claims *out, char *err, size_t n)
{
    return weir_jwt_verify(token, (const uint8_t *)SECRET, strlen(SECRET), NOW, leeway, out, err,
                           n);
}

static void expect_verify(const char *name, const char *token, int64_t leeway, const char *reason)
{
    weir_jwt_claims c;
    char err[64] = "";
    int rc = verify(token, leeway, &c, err, sizeof err);
    if (reason) {
        cr_expect_eq(rc, -WEIR_EAUTH, "%s: rc %d", name, rc);
        cr_expect_str_eq(err, reason, "%s", name);
    } else {
        cr_expect_eq(rc, 0, "%s: rejected (%s)", name, err);
    }
}

static const struct verify_row {
    const char *name, *header, *payload;
    enum sig sig;
    int64_t leeway;
    const char *reason; /* NULL: accepted */
} verify_rows[] = {
    {"minimal", HDR, MINIMAL, SIG_GOOD, 30, NULL},
    {"all claims", HDR,
     "{\"sub\":\"bob\",\"role\":\"teacher\",\"exp\":1700000600,\"nbf\":1699999000,\"room\":\"r1\","
     "\"name\":\"Bob\"}",
     SIG_GOOD, 30, NULL},
    {"observer", HDR, "{\"sub\":\"o\",\"role\":\"observer\",\"exp\":1700000600}", SIG_GOOD, 0,
     NULL},
    {"recorder", HDR, "{\"sub\":\"r\",\"role\":\"recorder\",\"exp\":1700000600}", SIG_GOOD, 0,
     NULL},
    {"no typ", "{\"alg\":\"HS256\"}", MINIMAL, SIG_GOOD, 30, NULL},
    {"typ lowercase", "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", MINIMAL, SIG_GOOD, 30, NULL},
    {"unknown claims ignored", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"iat\":1,\"aud\":[\"x\"],\"iss\":{}}",
     SIG_GOOD, 30, NULL},
    /* time */
    {"expired", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1699999900}", SIG_GOOD, 30,
     "expired"},
    {"expired at leeway edge", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1699999970}",
     SIG_GOOD, 30, "expired"},
    {"expired within leeway", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1699999971}",
     SIG_GOOD, 30, NULL},
    {"exp now, no leeway", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000000}", SIG_GOOD,
     0, "expired"},
    {"negative leeway is 0", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000001}",
     SIG_GOOD, -100, NULL},
    {"nbf in future", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"nbf\":1700000100}", SIG_GOOD, 30,
     "not yet valid"},
    {"nbf at leeway edge", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"nbf\":1700000030}", SIG_GOOD, 30,
     NULL},
    {"nbf past leeway", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"nbf\":1700000031}", SIG_GOOD, 30,
     "not yet valid"},
    {"exp int64 max", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":9223372036854775807,"
     "\"nbf\":-9223372036854775808}",
     SIG_GOOD, 30, NULL},
    {"exp int64 min", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":-9223372036854775808}",
     SIG_GOOD, 30, "expired"},
    {"exp beyond int64", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":9223372036854775808}",
     SIG_GOOD, 30, "bad payload"},
    /* header */
    {"alg none, empty sig", "{\"alg\":\"none\",\"typ\":\"JWT\"}", MINIMAL, SIG_EMPTY, 30,
     "alg must be HS256"},
    {"alg none, signed", "{\"alg\":\"none\"}", MINIMAL, SIG_GOOD, 30, "alg must be HS256"},
    {"alg HS512", "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", MINIMAL, SIG_GOOD, 30,
     "alg must be HS256"},
    {"alg RS256", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", MINIMAL, SIG_GOOD, 30,
     "alg must be HS256"},
    {"alg missing", "{\"typ\":\"JWT\"}", MINIMAL, SIG_GOOD, 30, "alg must be HS256"},
    {"alg lowercase", "{\"alg\":\"hs256\"}", MINIMAL, SIG_GOOD, 30, "alg must be HS256"},
    {"alg number", "{\"alg\":256}", MINIMAL, SIG_GOOD, 30, "alg must be HS256"},
    {"alg with NUL", "{\"alg\":\"HS256\\u0000\"}", MINIMAL, SIG_GOOD, 30, "bad header"},
    {"alg duplicated", "{\"alg\":\"HS256\",\"alg\":\"none\"}", MINIMAL, SIG_GOOD, 30, "bad header"},
    {"typ JWS", "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", MINIMAL, SIG_GOOD, 30, "typ must be JWT"},
    {"typ number", "{\"alg\":\"HS256\",\"typ\":1}", MINIMAL, SIG_GOOD, 30, "typ must be JWT"},
    {"crit", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", MINIMAL, SIG_GOOD, 30, "unsupported crit"},
    {"header not JSON", "alg=HS256", MINIMAL, SIG_GOOD, 30, "bad header"},
    {"header array", "[\"HS256\"]", MINIMAL, SIG_GOOD, 30, "bad header"},
    {"header empty", "", MINIMAL, SIG_GOOD, 30, "bad header"},
    /* signature */
    {"wrong secret", HDR, MINIMAL, SIG_WRONG_SECRET, 30, "bad signature"},
    {"HS256 with empty sig", HDR, MINIMAL, SIG_EMPTY, 30, "bad signature"},
    /* payload, checked only once the signature holds */
    {"payload array", HDR, "[\"alice\",\"student\",1700000600]", SIG_GOOD, 30, "bad payload"},
    {"payload not JSON", HDR, "sub=alice", SIG_GOOD, 30, "bad payload"},
    {"payload trailing bytes", HDR, MINIMAL "x", SIG_GOOD, 30, "bad payload"},
    {"payload duplicate sub", HDR,
     "{\"sub\":\"alice\",\"sub\":\"eve\",\"role\":\"student\",\"exp\":1700000600}", SIG_GOOD, 30,
     "bad payload"},
    {"sub with NUL", HDR, "{\"sub\":\"a\\u0000b\",\"role\":\"student\",\"exp\":1700000600}",
     SIG_GOOD, 30, "bad payload"},
    {"missing sub", HDR, "{\"role\":\"student\",\"exp\":1700000600}", SIG_GOOD, 30, "missing sub"},
    {"missing role", HDR, "{\"sub\":\"a\",\"exp\":1700000600}", SIG_GOOD, 30, "missing role"},
    {"missing exp", HDR, "{\"sub\":\"a\",\"role\":\"student\"}", SIG_GOOD, 30, "missing exp"},
    {"empty sub", HDR, "{\"sub\":\"\",\"role\":\"student\",\"exp\":1700000600}", SIG_GOOD, 30,
     "empty sub"},
    {"sub number", HDR, "{\"sub\":42,\"role\":\"student\",\"exp\":1700000600}", SIG_GOOD, 30,
     "sub must be a string"},
    {"role admin", HDR, "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":1700000600}", SIG_GOOD, 30,
     "bad role"},
    {"role capitalised", HDR, "{\"sub\":\"a\",\"role\":\"Teacher\",\"exp\":1700000600}", SIG_GOOD,
     30, "bad role"},
    {"role empty", HDR, "{\"sub\":\"a\",\"role\":\"\",\"exp\":1700000600}", SIG_GOOD, 30,
     "bad role"},
    {"role null", HDR, "{\"sub\":\"a\",\"role\":null,\"exp\":1700000600}", SIG_GOOD, 30,
     "role must be a string"},
    {"role too long", HDR, "{\"sub\":\"a\",\"role\":\"teacherteacherteacher\",\"exp\":1700000600}",
     SIG_GOOD, 30, "role too long"},
    {"exp string", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":\"1700000600\"}", SIG_GOOD, 30,
     "exp must be an integer"},
    {"exp real", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600.0}", SIG_GOOD, 30,
     "exp must be an integer"},
    {"nbf string", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"nbf\":\"0\"}",
     SIG_GOOD, 30, "nbf must be an integer"},
    {"room number", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"room\":7}",
     SIG_GOOD, 30, "room must be a string"},
    {"name array", HDR, "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"name\":[]}",
     SIG_GOOD, 30, "name must be a string"},
    /* lengths: 127 bytes fit the 128-byte fields, 128 do not */
    {"sub 127", HDR, "{\"sub\":\"" S127 "\",\"role\":\"student\",\"exp\":1700000600}", SIG_GOOD, 30,
     NULL},
    {"sub 128", HDR, "{\"sub\":\"" S128 "\",\"role\":\"student\",\"exp\":1700000600}", SIG_GOOD, 30,
     "sub too long"},
    {"room 127", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"room\":\"" S127 "\"}", SIG_GOOD, 30,
     NULL},
    {"room 128", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"room\":\"" S128 "\"}", SIG_GOOD, 30,
     "room too long"},
    {"name 127 bytes of UTF-8", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"name\":\"" NAME_127_BYTES "\"}",
     SIG_GOOD, 30, NULL},
    {"name 128 bytes of UTF-8", HDR,
     "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"name\":\"" NAME_127_BYTES "y\"}",
     SIG_GOOD, 30, "name too long"},
};

Test(jwt, verify_table)
{
    for (size_t i = 0; i < sizeof verify_rows / sizeof verify_rows[0]; i++) {
        const struct verify_row *r = &verify_rows[i];
        char *tok = make_token(r->header, r->payload, r->sig);
        expect_verify(r->name, tok, r->leeway, r->reason);
        weir_free(tok);
    }
}

Test(jwt, verify_fills_claims)
{
    char *tok = make_token(HDR,
                           "{\"sub\":\"bob\",\"role\":\"teacher\",\"exp\":1700000600,"
                           "\"nbf\":1699999000,\"room\":\"r1\",\"name\":\"Bob \\\"B\\\"\"}",
                           SIG_GOOD);
    weir_jwt_claims c;
    cr_assert_eq(verify(tok, 30, &c, NULL, 0), 0);
    cr_expect_str_eq(c.sub, "bob");
    cr_expect_str_eq(c.role, "teacher");
    cr_expect_str_eq(c.room, "r1");
    cr_expect_str_eq(c.name, "Bob \"B\"");
    cr_expect_eq(c.exp, 1700000600);
    cr_expect_eq(c.nbf, 1699999000);
    weir_free(tok);

    tok = make_token(HDR, MINIMAL, SIG_GOOD);
    cr_assert_eq(verify(tok, 30, &c, NULL, 0), 0);
    cr_expect_str_eq(c.room, "");
    cr_expect_str_eq(c.name, "");
    cr_expect_eq(c.nbf, 0);
    weir_free(tok);
}

/* Rewrites the good token's text; the signature part is 43 characters (32 bytes, no padding). */
Test(jwt, malformed_and_tampered)
{
    char *good = make_token(HDR, MINIMAL, SIG_GOOD);
    char *sig = strrchr(good, '.') + 1;
    char *teacher =
        make_token(HDR, "{\"sub\":\"alice\",\"role\":\"teacher\",\"exp\":1700000600}", SIG_EMPTY);
    size_t n = strlen(good) + 64;
    struct {
        const char *name;
        char tok[512];
        const char *reason;
    } rows[] = {
        {"empty string", "", "malformed token"},
        {"no dots", "abc", "malformed token"},
        {"two parts", "", "malformed token"},
        {"four parts", "", "malformed token"},
        {"trailing dot", "", "malformed token"},
        {"only dots", "..", "bad header"},
        {"bad base64 in header", "", "bad header"},
        {"padded header", "", "bad header"},
        {"leading space", "", "bad header"},
        {"flipped signature char", "", "bad signature"},
        {"non-canonical signature", "", "bad signature"},
        {"standard alphabet in signature", "", "bad signature"},
        {"padded signature", "", "bad signature"},
        {"truncated signature", "", "bad signature"},
        {"payload swapped, old signature", "", "bad signature"},
    };
    cr_assert(n < sizeof rows[0].tok);
    snprintf(rows[2].tok, n, "%.*s", (int)(sig - 1 - good), good);
    snprintf(rows[3].tok, n, "%s.x", good);
    snprintf(rows[4].tok, n, "%s.", good);
    snprintf(rows[6].tok, n, "*%s", good + 1);
    snprintf(rows[7].tok, n, "%.*s=%s", (int)strlen(HDR_B64), good, good + strlen(HDR_B64));
    snprintf(rows[8].tok, n, " %s", good);
    for (size_t i = 9; i <= 13; i++)
        snprintf(rows[i].tok, n, "%s", good);
    char *s = rows[9].tok + (sig - good);
    s[5] = s[5] == 'A' ? 'B' : 'A';
    /* 43 characters carry 258 bits; setting the 2 spare bits keeps the bytes a lax decoder sees. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    s = rows[10].tok + strlen(good) - 1;
    *s = alphabet[(strchr(alphabet, *s) - alphabet) | 1];
    s = rows[11].tok + (sig - good);
    s[0] = '+';
    strcat(rows[12].tok, "=");
    rows[13].tok[strlen(good) - 1] = '\0';
    snprintf(rows[14].tok, n, "%s%s", teacher, sig);

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        expect_verify(rows[i].name, rows[i].tok, 30, rows[i].reason);
    expect_verify("good", good, 30, NULL);
    weir_free(good);
    weir_free(teacher);
}

/* Pads an ignored claim until the token is exactly 8192 characters, then one step more. */
Test(jwt, size_cap)
{
    char *payload = weir_malloc(8192);
    char *tok = NULL;
    size_t pad;
    for (pad = 5900; pad < 6200; pad++) {
        snprintf(payload, 8192,
                 "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"x\":\"%0*d\"}", (int)pad,
                 0);
        weir_free(tok);
        tok = make_token(HDR, payload, SIG_GOOD);
        if (strlen(tok) >= 8192)
            break;
    }
    cr_assert_eq(strlen(tok), 8192, "no padding gives exactly 8192 (%zu)", strlen(tok));
    expect_verify("8192 characters", tok, 30, NULL);
    snprintf(payload, 8192,
             "{\"sub\":\"a\",\"role\":\"student\",\"exp\":1700000600,\"x\":\"%0*d\"}", (int)pad + 1,
             0);
    weir_free(tok);
    tok = make_token(HDR, payload, SIG_GOOD);
    cr_assert_gt(strlen(tok), 8192);
    expect_verify("over 8192 characters", tok, 30, "token too long");
    weir_free(tok);
    weir_free(payload);
}

Test(jwt, error_outputs)
{
    char *tok = make_token(HDR, MINIMAL, SIG_WRONG_SECRET);
    weir_jwt_claims c, before;
    memset(&c, 0xAA, sizeof c);
    memcpy(&before, &c, sizeof c);
    char err[6] = "";
    cr_expect_eq(verify(tok, 30, &c, err, sizeof err), -WEIR_EAUTH);
    cr_expect_str_eq(err, "bad s");
    cr_expect_eq(memcmp(&c, &before, sizeof c), 0, "claims changed on error");
    cr_expect_eq(verify(tok, 30, &c, NULL, 0), -WEIR_EAUTH);
    cr_expect_eq(verify(tok, 30, &c, err, 0), -WEIR_EAUTH);
    cr_expect_eq(weir_jwt_verify(NULL, (const uint8_t *)SECRET, 8, NOW, 0, &c, err, sizeof err),
                 -WEIR_EAUTH);
    weir_free(tok);

    tok = make_token(HDR, MINIMAL, SIG_GOOD);
    char msg[64];
    cr_expect_eq(weir_jwt_verify(tok, (const uint8_t *)"", 0, NOW, 0, &c, msg, sizeof msg),
                 -WEIR_EAUTH);
    cr_expect_str_eq(msg, "no secret");
    weir_free(tok);
}

Test(jwt, sign_round_trip)
{
    static const weir_jwt_claims rows[] = {
        {.sub = "alice", .role = "student", .exp = NOW + 60},
        {.room = "lab/2 \"quoted\" \\",
         .sub = "b\303\266b",
         .name = "Zo\xc3\xab \xe2\x98\x83",
         .role = "teacher",
         .exp = INT64_MAX,
         .nbf = NOW - 5},
        {.room = S127, .sub = S127, .name = S127, .role = "recorder", .exp = NOW + 1, .nbf = -1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *tok = weir_jwt_sign(&rows[i], (const uint8_t *)SECRET, strlen(SECRET));
        cr_expect_eq(strncmp(tok, HDR_B64 ".", strlen(HDR_B64) + 1), 0, "row %zu: %s", i, tok);
        weir_jwt_claims c;
        char err[64] = "";
        cr_assert_eq(verify(tok, 0, &c, err, sizeof err), 0, "row %zu: %s", i, err);
        cr_expect_str_eq(c.sub, rows[i].sub);
        cr_expect_str_eq(c.role, rows[i].role);
        cr_expect_str_eq(c.room, rows[i].room);
        cr_expect_str_eq(c.name, rows[i].name);
        cr_expect_eq(c.exp, rows[i].exp);
        cr_expect_eq(c.nbf, rows[i].nbf);
        weir_free(tok);
    }
}

Test(jwt, sign_omits_absent_claims)
{
    weir_jwt_claims c = {.sub = "alice", .role = "student", .exp = NOW + 60};
    char *tok = weir_jwt_sign(&c, (const uint8_t *)SECRET, strlen(SECRET));
    const char *p = strchr(tok, '.') + 1;
    uint8_t json[256];
    size_t n = 0;
    cr_assert_eq(weir_base64url_decode(p, (size_t)(strchr(p, '.') - p), json, sizeof json, &n), 0);
    json_t *obj = json_loadb((const char *)json, n, 0, NULL);
    cr_assert(json_is_object(obj));
    cr_expect_eq(json_object_size(obj), 3);
    cr_expect_null(json_object_get(obj, "room"));
    cr_expect_null(json_object_get(obj, "name"));
    cr_expect_null(json_object_get(obj, "nbf"));
    json_decref(obj);
    weir_free(tok);
}

/*
 * Minted by Python's standard library (hmac, hashlib, base64, json) with
 * json.dumps defaults: spaced separators, keys in another order, \u escapes
 * and claims we ignore (iss, iat).
 */
Test(jwt, interop_python_verify)
{
    static const char secret[] = "interop-secret-from-python-3.11";
    static const char tok[] =
        "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJIUzI1NiJ9."
        "eyJpc3MiOiAicHl0aG9uIiwgIm5hbWUiOiAiWm9cdTAwZWIgXHUyNjAzIiwgImV4cCI6IDIwMDAwMDAwMDAsICJyb2"
        "9tIjogInBoeXNpY3MtMTAxIiwgIm5iZiI6IDE2MDAwMDAwMDAsICJyb2xlIjogInRlYWNoZXIiLCAiaWF0IjogMTYw"
        "MDAwMDAwMCwgInN1YiI6ICJhZGEubG92ZWxhY2UifQ."
        "WytULJSiP3GD9N4rcxhimhmZrY9mBtYRNGczeFadGKg";
    weir_jwt_claims c;
    char err[64] = "";
    cr_assert_eq(
        weir_jwt_verify(tok, (const uint8_t *)secret, strlen(secret), NOW, 0, &c, err, sizeof err),
        0, "%s", err);
    cr_expect_str_eq(c.sub, "ada.lovelace");
    cr_expect_str_eq(c.role, "teacher");
    cr_expect_str_eq(c.room, "physics-101");
    cr_expect_str_eq(c.name, "Zo\xc3\xab \xe2\x98\x83");
    cr_expect_eq(c.exp, 2000000000);
    cr_expect_eq(c.nbf, 1600000000);
    cr_expect_eq(weir_jwt_verify(tok, (const uint8_t *)secret, strlen(secret), 2000000000, 0, &c,
                                 err, sizeof err),
                 -WEIR_EAUTH);
    cr_expect_str_eq(err, "expired");
}

/*
 * Python with compact separators, ensure_ascii=False and our key order:
 * our output must match it byte for byte.
 */
Test(jwt, interop_python_sign)
{
    static const char secret[] = "weir-sign-vector-secret-0123456789";
    static const char want[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJncmFjZSIsInJvbGUiOiJvYnNlcnZlciIsInJvb20iOiJsYWIvMiIsIm5hbWUiOiJab8OrIFwi"
        "WlwiIiwi"
        "ZXhwIjoxOTAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDB9."
        "TyKWbSqPXorNhCHoM7un-i7GLlyO8LfZ73J2sRqb2TM";
    weir_jwt_claims c = {.sub = "grace",
                         .role = "observer",
                         .room = "lab/2",
                         .name = "Zo\xc3\xab \"Z\"",
                         .exp = 1900000000,
                         .nbf = 1700000000};
    char *tok = weir_jwt_sign(&c, (const uint8_t *)secret, strlen(secret));
    cr_expect_str_eq(tok, want);
    weir_free(tok);
}

/*
 * RFC 7515 A.1 (its header and payload contain CR LF, and the key is a JWK
 * "k") and the jwt.io sample: neither carries our claims, so getting past
 * the MAC to the first missing claim proves the signature matched.
 */
Test(jwt, interop_published_vectors)
{
    static const char k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuT"
        "wjAzZr1Z9CAow";
    char rfc[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb2"
        "90Ijp0cnVlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const char jwtio[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2Mj"
                                "M5MDIyfQ."
                                "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    uint8_t key[64];
    size_t key_len = 0;
    cr_assert_eq(weir_base64url_decode(k, strlen(k), key, sizeof key, &key_len), 0);
    cr_assert_eq(key_len, 64);
    weir_jwt_claims c;
    char err[64] = "";
    cr_expect_eq(weir_jwt_verify(rfc, key, key_len, 1300819000, 0, &c, err, sizeof err),
                 -WEIR_EAUTH);
    cr_expect_str_eq(err, "missing sub");
    rfc[strlen(rfc) - 3] ^= 1;
    cr_expect_eq(weir_jwt_verify(rfc, key, key_len, 1300819000, 0, &c, err, sizeof err),
                 -WEIR_EAUTH);
    cr_expect_str_eq(err, "bad signature");
    cr_expect_eq(weir_jwt_verify(jwtio, (const uint8_t *)"your-256-bit-secret", 19, 1516239022, 0,
                                 &c, err, sizeof err),
                 -WEIR_EAUTH);
    cr_expect_str_eq(err, "missing role");
}

/* RFC 4648 §10, without padding, plus the two characters that differ from base64. */
static const struct {
    const char *raw, *enc;
} b64_rows[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
    {"\xfb\xff", "-_8"},
    {"\xfb\xef\xbe", "----"},
    {"\xff\xff\xff", "____"},
};

Test(base64url, vectors)
{
    for (size_t i = 0; i < sizeof b64_rows / sizeof b64_rows[0]; i++) {
        const char *raw = b64_rows[i].raw, *enc = b64_rows[i].enc;
        char out[16];
        cr_expect_eq(weir_base64url_encode((const uint8_t *)raw, strlen(raw), out, sizeof out),
                     strlen(enc));
        cr_expect_str_eq(out, enc);
        uint8_t dec[16];
        size_t n = 99;
        cr_expect_eq(weir_base64url_decode(enc, strlen(enc), dec, sizeof dec, &n), 0, "%s", enc);
        cr_expect_eq(n, strlen(raw));
        cr_expect_eq(memcmp(dec, raw, n), 0, "%s", enc);
    }
}

Test(base64url, round_trip_all_lengths)
{
    uint8_t raw[256], dec[256];
    char enc[WEIR_BASE64URL_ENCODED_LEN(sizeof raw) + 1];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 167 + 13);
    for (size_t len = 0; len <= sizeof raw; len++) {
        size_t e = weir_base64url_encode(raw, len, enc, sizeof enc);
        cr_assert_eq(e, WEIR_BASE64URL_ENCODED_LEN(len));
        cr_assert_eq(strlen(enc), e);
        size_t n = 0;
        cr_assert_eq(weir_base64url_decode(enc, e, dec, WEIR_BASE64URL_DECODED_MAX(e), &n), 0);
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(dec, raw, len), 0, "len %zu", len);
    }
}

Test(base64url, length_macros)
{
    static const size_t enc[] = {0, 2, 3, 4, 6, 7, 8};
    for (size_t n = 0; n < sizeof enc / sizeof enc[0]; n++) {
        cr_expect_eq(WEIR_BASE64URL_ENCODED_LEN(n), enc[n]);
        cr_expect_eq(WEIR_BASE64URL_DECODED_MAX(enc[n]), n);
    }
}

Test(base64url, rejects)
{
    static const struct {
        const char *in;
        size_t len;
    } rows[] = {
        {"Z", 1},      {"Zm9vY", 5}, {"Zg==", 4}, {"Zg=", 3},   {"Zm9+", 4},
        {"Zm9/", 4},   {"Zm 9", 4},  {"Zm.v", 4}, {"Zm\0v", 4}, {"Zm\xc3\xa9", 4},
        {"Zm9v\n", 5}, {"Zh", 2},    {"Zm9", 3},  {"=", 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t out[8] = {0x5a, 0x5a};
        size_t n = 99;
        cr_expect_eq(weir_base64url_decode(rows[i].in, rows[i].len, out, sizeof out, &n),
                     -WEIR_EINVAL, "row %zu", i);
        cr_expect_eq(n, 99, "row %zu", i);
        cr_expect_eq(out[0], 0x5a, "row %zu", i);
    }
}

Test(base64url, capacity)
{
    uint8_t out[2] = {7, 7};
    size_t n = 99;
    cr_expect_eq(weir_base64url_decode("Zm9v", 4, out, sizeof out, &n), -WEIR_ETOOBIG);
    cr_expect_eq(n, 99);
    cr_expect_eq(out[0], 7);
    cr_expect_eq(weir_base64url_decode("", 0, NULL, 0, &n), 0);
    cr_expect_eq(n, 0);

    char enc[5] = "abcd";
    cr_expect_eq(weir_base64url_encode((const uint8_t *)"foo", 3, enc, 4), 0);
    cr_expect_str_eq(enc, "");
    enc[0] = 'q';
    cr_expect_eq(weir_base64url_encode((const uint8_t *)"foo", 3, enc, 0), 0);
    cr_expect_eq(enc[0], 'q');
    cr_expect_eq(weir_base64url_encode((const uint8_t *)"foo", 3, enc, 5), 4);
    cr_expect_str_eq(enc, "Zm9v");
    cr_expect_eq(weir_base64url_encode(NULL, 0, enc, 1), 0);
    cr_expect_str_eq(enc, "");
}
