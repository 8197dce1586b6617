/* The admin API on a control plane without sockets: rooms and tokens only. */
#include <criterion/criterion.h>
#include <string.h>

#include "control/admin_api.h"
#include "control/control.h"
#include "control/jwt.h"
#include "weir/alloc.h"

static weir_config cfg;
static weir_control *ctl;

static void setup(void)
{
    weir_config_init(&cfg);
    weir_free(cfg.admin_key);
    cfg.admin_key = weir_strdup("admin-key-for-tests");
    weir_free(cfg.auth_secret);
    cfg.auth_secret = weir_strdup("0123456789abcdef0123456789abcdef");
    ctl = WEIR_NEW(weir_control);
    ctl->cfg = &cfg;
    ctl->rooms = weir_rooms_create();
    weir_rand_seed(&ctl->rand, 7);
}

static void teardown(void)
{
    weir_rooms_destroy(ctl->rooms);
    weir_free(ctl);
    weir_config_deinit(&cfg);
}

static int call(const char *method, const char *path, const char *auth, const char *body,
                json_t **out)
{
    return weir_admin_handle(ctl, method, path, auth, body, body ? strlen(body) : 0, out);
}

#define AUTH "Bearer admin-key-for-tests"

TestSuite(admin_api, .init = setup, .fini = teardown);

Test(admin_api, auth_rules)
{
    struct {
        const char *auth;
        int status;
    } rows[] = {
        {NULL, 401},
        {"Bearer wrong", 401},
        {"admin-key-for-tests", 401},
        {"Bearer admin-key-for-tests-longer", 401},
        {AUTH, 200},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *out = NULL;
        cr_expect_eq(call("GET", "/api/rooms", rows[i].auth, NULL, &out), rows[i].status, "row %zu",
                     i);
        json_decref(out);
    }
}

Test(admin_api, no_admin_key_means_forbidden)
{
    weir_free(cfg.admin_key);
    cfg.admin_key = weir_strdup("");
    json_t *out = NULL;
    cr_assert_eq(call("GET", "/api/rooms", AUTH, NULL, &out), 403);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "error"), "code")), 403);
    json_decref(out);
}

Test(admin_api, create_list_inspect_close)
{
    json_t *out = NULL;
    cr_assert_eq(call("POST", "/api/rooms", AUTH,
                      "{\"id\":\"math\",\"max_participants\":3,\"students_publish\":false}", &out),
                 201);
    json_t *room = json_object_get(out, "room");
    cr_assert_str_eq(json_string_value(json_object_get(room, "id")), "math");
    cr_assert_eq(json_integer_value(json_object_get(room, "max_participants")), 3);
    cr_assert(json_is_false(json_object_get(room, "students_publish")));
    json_decref(out);

    cr_assert_eq(call("POST", "/api/rooms", AUTH, "{\"id\":\"math\"}", &out), 409);
    json_decref(out);
    cr_assert_eq(call("POST", "/api/rooms", AUTH, NULL, &out), 201, "id generated when absent");
    json_decref(out);
    cr_assert_eq(call("GET", "/api/rooms", AUTH, NULL, &out), 200);
    cr_assert_eq(json_array_size(json_object_get(out, "rooms")), 2);
    json_decref(out);
    cr_assert_eq(call("GET", "/api/rooms/math", AUTH, NULL, &out), 200);
    cr_assert_eq(json_array_size(json_object_get(out, "participants")), 0);
    json_decref(out);
    cr_assert_eq(call("GET", "/api/rooms/math/participants", AUTH, NULL, &out), 200);
    json_decref(out);
    cr_assert_eq(call("DELETE", "/api/rooms/math/participants/nobody", AUTH, NULL, &out), 404);
    json_decref(out);
    cr_assert_eq(call("DELETE", "/api/rooms/math", AUTH, NULL, &out), 200);
    json_decref(out);
    cr_assert_eq(call("GET", "/api/rooms/math", AUTH, NULL, &out), 404);
    json_decref(out);
}

Test(admin_api, bad_requests)
{
    struct {
        const char *method, *path, *body;
        int status;
    } rows[] = {
        {"POST", "/api/rooms", "not json", 400},
        {"POST", "/api/rooms", "[1,2]", 400},
        {"POST", "/api/rooms", "{\"id\":\"bad id\"}", 400},
        {"POST", "/api/rooms", "{\"id\":7}", 400},
        {"POST", "/api/rooms", "{\"max_participants\":0}", 400},
        {"POST", "/api/rooms", "{\"auto_subscribe\":\"yes\"}", 400},
        {"PUT", "/api/rooms", NULL, 405},
        {"GET", "/api/nothing", NULL, 404},
        {"GET", "/api", NULL, 404},
        {"GET", "/api/rooms/a/b/c/d/e/f", NULL, 404},
        {"POST", "/api/tokens", "{\"room\":\"r\",\"sub\":\"u\"}", 400},
        {"POST", "/api/tokens", "{\"room\":\"r\",\"sub\":\"u\",\"role\":\"king\"}", 400},
        {"POST", "/api/tokens", "{\"room\":\"r\",\"sub\":\"u\",\"role\":\"student\",\"ttl_s\":0}",
         400},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *out = NULL;
        cr_expect_eq(call(rows[i].method, rows[i].path, AUTH, rows[i].body, &out), rows[i].status,
                     "row %zu: %s %s", i, rows[i].method, rows[i].path);
        cr_expect_not_null(json_object_get(out, "error"), "row %zu has an error body", i);
        json_decref(out);
    }
}

Test(admin_api, minted_token_verifies)
{
    json_t *out = NULL;
    cr_assert_eq(call("POST", "/api/tokens", AUTH,
                      "{\"room\":\"math\",\"sub\":\"u1\",\"role\":\"teacher\",\"name\":\"Ada\"}",
                      &out),
                 200);
    const char *token = json_string_value(json_object_get(out, "token"));
    cr_assert_not_null(token);
    weir_jwt_claims claims;
    char err[128];
    int64_t exp = json_integer_value(json_object_get(out, "expires_at"));
    cr_assert_eq(weir_jwt_verify(token, (const uint8_t *)cfg.auth_secret, strlen(cfg.auth_secret),
                                 exp - 10, 0, &claims, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(claims.room, "math");
    cr_assert_str_eq(claims.role, "teacher");
    cr_assert_str_eq(claims.name, "Ada");
    json_decref(out);
}

Test(admin_api, tokens_need_a_secret)
{
    weir_free(cfg.auth_secret);
    cfg.auth_secret = weir_strdup("");
    json_t *out = NULL;
    cr_assert_eq(call("POST", "/api/tokens", AUTH,
                      "{\"room\":\"math\",\"sub\":\"u1\",\"role\":\"teacher\"}", &out),
                 400);
    json_decref(out);
}
