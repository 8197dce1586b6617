/*
 * Config parser: defaults, every value type, quoting and comments, each
 * error class with the exact message, cross-field validation, and the
 * shipped conf/weir.conf, which must set every option to its default.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen under -std=c17 */
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/config.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#ifndef WEIR_SOURCE_ROOT
#define WEIR_SOURCE_ROOT "."
#endif

#ifndef WEIR_DEFAULT_WEB_ROOT
#define WEIR_DEFAULT_WEB_ROOT "web"
#endif

#define CONF_PATH WEIR_SOURCE_ROOT "/conf/weir.conf"

static int parse_str(weir_config *cfg, const char *text, char *err, size_t errlen)
{
    return weir_config_parse(cfg, text, strlen(text), err, errlen);
}

static void expect_same(const weir_config *a, const weir_config *b, const char *what)
{
    cr_expect_str_eq(a->listen_address, b->listen_address, "%s: listen_address", what);
    cr_expect_eq(a->listen_port, b->listen_port, "%s: listen_port", what);
    cr_expect_str_eq(a->web_root, b->web_root, "%s: web_root", what);
    cr_expect_str_eq(a->tls_cert, b->tls_cert, "%s: tls_cert", what);
    cr_expect_str_eq(a->tls_key, b->tls_key, "%s: tls_key", what);
    cr_expect_eq(a->workers, b->workers, "%s: workers", what);
    cr_expect_eq(a->max_participants, b->max_participants, "%s: max_participants", what);
    cr_expect_eq(a->shutdown_grace_ms, b->shutdown_grace_ms, "%s: shutdown_grace_ms", what);
    cr_expect_str_eq(a->data_dir, b->data_dir, "%s: data_dir", what);
    cr_expect_eq(a->log_level, b->log_level, "%s: log_level", what);
    cr_expect_eq(a->log_participant_per_sec, b->log_participant_per_sec, "%s: lines/s", what);
    cr_expect_eq(a->log_participant_burst, b->log_participant_burst, "%s: burst", what);
    cr_expect_eq(a->rooms_auto_create, b->rooms_auto_create, "%s: auto_create", what);
    cr_expect_eq(a->room_max_participants, b->room_max_participants, "%s: room max", what);
    cr_expect_eq(a->rooms_auto_subscribe, b->rooms_auto_subscribe, "%s: auto_subscribe", what);
    cr_expect_eq(a->students_publish_by_default, b->students_publish_by_default,
                 "%s: students_publish_by_default", what);
    cr_expect_str_eq(a->auth_secret, b->auth_secret, "%s: secret", what);
    cr_expect_eq(a->auth_leeway_s, b->auth_leeway_s, "%s: leeway_s", what);
    cr_expect_str_eq(a->admin_key, b->admin_key, "%s: admin_key", what);
    cr_expect_eq(a->token_max_ttl_s, b->token_max_ttl_s, "%s: token_max_ttl_s", what);
    cr_expect_eq(a->rate_limit_per_sec, b->rate_limit_per_sec, "%s: rate_limit_per_sec", what);
    cr_expect_eq(a->rate_limit_burst, b->rate_limit_burst, "%s: rate_limit_burst", what);
    cr_expect_eq(a->abuse_disconnect_after, b->abuse_disconnect_after, "%s: abuse", what);
    cr_expect_eq(a->join_timeout_s, b->join_timeout_s, "%s: join_timeout_s", what);
    cr_expect_str_eq(a->ice_bind_addresses, b->ice_bind_addresses, "%s: ice_bind", what);
    cr_expect_eq(a->ice_port_min, b->ice_port_min, "%s: ice_port_min", what);
    cr_expect_eq(a->ice_port_max, b->ice_port_max, "%s: ice_port_max", what);
    cr_expect_str_eq(a->announced_ip, b->announced_ip, "%s: announced_ip", what);
    cr_expect_str_eq(a->taps_allow, b->taps_allow, "%s: taps allow", what);
    cr_expect_eq(a->taps_max, b->taps_max, "%s: taps max", what);
    cr_expect_eq(a->taps_keyframe_interval_ms, b->taps_keyframe_interval_ms,
                 "%s: taps keyframe_interval_ms", what);
}

Test(config, defaults)
{
    weir_config c;
    weir_config_init(&c);
    cr_expect_str_eq(c.listen_address, "127.0.0.1");
    cr_expect_eq(c.listen_port, 8088);
    cr_expect_str_eq(c.web_root, WEIR_DEFAULT_WEB_ROOT);
    cr_expect_str_eq(c.tls_cert, "");
    cr_expect_str_eq(c.tls_key, "");
    cr_expect_eq(c.workers, 0);
    cr_expect_eq(c.max_participants, 1000);
    cr_expect_eq(c.shutdown_grace_ms, 500);
    cr_expect_str_eq(c.data_dir, "var/weir");
    cr_expect_eq(c.log_level, WEIR_LOG_INFO);
    cr_expect_eq(c.log_participant_per_sec, 2.0);
    cr_expect_eq(c.log_participant_burst, 20.0);
    cr_expect(c.rooms_auto_create);
    cr_expect_eq(c.room_max_participants, 100);
    cr_expect(c.rooms_auto_subscribe);
    cr_expect(c.students_publish_by_default);
    cr_expect_str_eq(c.auth_secret, "");
    cr_expect_eq(c.auth_leeway_s, 30);
    cr_expect_str_eq(c.admin_key, "");
    cr_expect_eq(c.token_max_ttl_s, 86400);
    cr_expect_eq(c.rate_limit_per_sec, 20.0);
    cr_expect_eq(c.rate_limit_burst, 50.0);
    cr_expect_eq(c.abuse_disconnect_after, 100);
    cr_expect_eq(c.join_timeout_s, 60);
    char err[256] = "";
    cr_expect_eq(weir_config_validate(&c, err, sizeof err), 0, "defaults invalid: %s", err);
    weir_config_deinit(&c);
}

/* ---- values that parse ---- */

typedef enum { K_INT, K_DOUBLE, K_BOOL, K_STRING, K_LEVEL } kind;

typedef struct value_row {
    const char *text;
    kind kind;
    size_t off;
    long long i; /* K_INT, K_BOOL, K_LEVEL */
    double d;
    const char *s;
} value_row;

/* One row per line; clang-format would spread each macro's braces over four. */
/* clang-format off */
#define F(field) offsetof(weir_config, field)
#define INT(text, field, v) {text, K_INT, F(field), v, 0, NULL}
#define DBL(text, field, v) {text, K_DOUBLE, F(field), 0, v, NULL}
#define BOOL(text, field, v) {text, K_BOOL, F(field), v, 0, NULL}
#define STR(text, field, v) {text, K_STRING, F(field), 0, 0, v}
#define LEVEL(text, v) {text, K_LEVEL, F(log_level), v, 0, NULL}
/* clang-format on */

static const value_row value_rows[] = {
    /* integers, at and inside their bounds */
    INT("[server]\nlisten_port = 0", listen_port, 0),
    INT("[server]\nlisten_port = 65535", listen_port, 65535),
    INT("[server]\nlisten_port = 010", listen_port, 10), /* decimal, never octal */
    INT("[server]\nlisten_port = \"9000\"", listen_port, 9000),
    INT("[server]\nworkers = 256", workers, 256),
    INT("[server]\nmax_participants = 1000000", max_participants, 1000000),
    INT("[server]\nshutdown_grace_ms = 10000", shutdown_grace_ms, 10000),
    INT("[rooms]\nmax_participants = 1", room_max_participants, 1),
    INT("[auth]\nleeway_s = 600", auth_leeway_s, 600),
    INT("[auth]\ntoken_max_ttl_s = 60", token_max_ttl_s, 60),
    INT("[auth]\ntoken_max_ttl_s = 31536000", token_max_ttl_s, 31536000),
    INT("[signalling]\nabuse_disconnect_after = 1", abuse_disconnect_after, 1),
    INT("[signalling]\njoin_timeout_s = 0", join_timeout_s, 0),
    INT("[media]\nice_port_min = 40000", ice_port_min, 40000),
    INT("[media]\nice_port_max = 65535", ice_port_max, 65535),
    INT("[taps]\nmax = 0", taps_max, 0),
    INT("[taps]\nkeyframe_interval_ms = 600000", taps_keyframe_interval_ms, 600000),
    /* the two max_participants keys are different options */
    INT("[server]\nmax_participants = 7\n[rooms]\nmax_participants = 8", max_participants, 7),
    INT("[server]\nmax_participants = 7\n[rooms]\nmax_participants = 8", room_max_participants, 8),
    /* doubles */
    DBL("[signalling]\nrate_limit_per_sec = 0.5", rate_limit_per_sec, 0.5),
    DBL("[signalling]\nrate_limit_per_sec = 1e-3", rate_limit_per_sec, 1e-3),
    DBL("[signalling]\nrate_limit_per_sec = 1000000", rate_limit_per_sec, 1e6),
    DBL("[signalling]\nrate_limit_burst = 1", rate_limit_burst, 1.0),
    DBL("[log]\nparticipant_lines_per_sec = 2.5", log_participant_per_sec, 2.5),
    DBL("[log]\nparticipant_burst = 1e6", log_participant_burst, 1e6),
    /* booleans, every spelling, any case */
    BOOL("[rooms]\nauto_create = false", rooms_auto_create, false),
    BOOL("[rooms]\nauto_create = no", rooms_auto_create, false),
    BOOL("[rooms]\nauto_create = off", rooms_auto_create, false),
    BOOL("[rooms]\nauto_create = 0", rooms_auto_create, false),
    BOOL("[rooms]\nauto_create = OFF", rooms_auto_create, false),
    BOOL("[rooms]\nauto_subscribe = False", rooms_auto_subscribe, false),
    BOOL("[rooms]\nstudents_publish_by_default = \"no\"", students_publish_by_default, false),
    BOOL("[rooms]\nauto_create = no\nauto_subscribe = true", rooms_auto_subscribe, true),
    BOOL("[rooms]\nauto_create = yes", rooms_auto_create, true),
    BOOL("[rooms]\nauto_create = on", rooms_auto_create, true),
    BOOL("[rooms]\nauto_create = 1", rooms_auto_create, true),
    BOOL("[rooms]\nauto_create = TRUE", rooms_auto_create, true),
    /* log levels */
    LEVEL("[log]\nlevel = error", WEIR_LOG_ERROR),
    LEVEL("[log]\nlevel = warn", WEIR_LOG_WARN),
    LEVEL("[log]\nlevel = debug", WEIR_LOG_DEBUG),
    LEVEL("[log]\nlevel = DEBUG", WEIR_LOG_DEBUG),
    /* strings, quoting and escapes */
    STR("[server]\nlisten_address = 0.0.0.0", listen_address, "0.0.0.0"),
    STR("[media]\nice_bind_addresses = 127.0.0.1", ice_bind_addresses, "127.0.0.1"),
    STR("[media]\nannounced_ip = 203.0.113.7", announced_ip, "203.0.113.7"),
    STR("[taps]\nallow = \"192.168.0.0/16, ::1\"", taps_allow, "192.168.0.0/16, ::1"),
    STR("[server]\nweb_root = /srv/weir web  ", web_root, "/srv/weir web"),
    STR("[server]\ntls_cert = \"\"", tls_cert, ""),
    STR("[server]\ntls_cert =", tls_cert, ""),
    STR("[server]\ndata_dir = \"  padded  \"", data_dir, "  padded  "),
    STR("[auth]\nsecret = \"a # b ; c\"", auth_secret, "a # b ; c"),
    STR("[auth]\nsecret = \"say \\\"hi\\\" \\\\o/\"", auth_secret, "say \"hi\" \\o/"),
    STR("[auth]\nsecret = \"\\\\\"", auth_secret, "\\"),
    STR("[auth]\nsecret = \"x\" # trailing comment", auth_secret, "x"),
    STR("[auth]\nsecret = \"x\"; trailing comment", auth_secret, "x"),
    STR("[auth]\nsecret = a#b;c", auth_secret, "a#b;c"), /* no blank before: part of the value */
    STR("[auth]\nsecret = a\\b", auth_secret, "a\\b"),   /* escapes only inside quotes */
    STR("[auth]\nsecret = say \"hi\"", auth_secret, "say \"hi\""),
    STR("[auth]\nadmin_key = k3y # the admin key", admin_key, "k3y"),
    STR("[auth]\nadmin_key = k3y\t; the admin key", admin_key, "k3y"),
    STR("[auth]\nadmin_key = # only a comment", admin_key, ""),
    STR("[auth]\nadmin_key = \xc3\xa9t\xc3\xa9", admin_key, "\xc3\xa9t\xc3\xa9"),
    /* layout: comments, blanks, CRLF, BOM, section spelling, no final newline */
    INT("# comment\n; comment\n   # indented\n\n[server]\n\tlisten_port=81\t\n", listen_port, 81),
    INT("[server]\r\nlisten_port = 82\r\n", listen_port, 82),
    INT("\xef\xbb\xbf[server]\nlisten_port = 83", listen_port, 83),
    INT("[ server ]\nlisten_port = 84", listen_port, 84),
    INT("[server] # the server\nlisten_port = 85 # port", listen_port, 85),
    INT("[server]\nlisten_port = 86 ; port", listen_port, 86),
    INT("[server]\nworkers = 1\n[log]\nlevel = warn\n[server]\nlisten_port = 87", listen_port, 87),
    INT("", listen_port, 8088),
    INT("\n\n\n", listen_port, 8088),
};

Test(config, values)
{
    for (size_t i = 0; i < sizeof value_rows / sizeof value_rows[0]; i++) {
        const value_row *r = &value_rows[i];
        weir_config c;
        weir_config_init(&c);
        char err[256] = "";
        int rc = parse_str(&c, r->text, err, sizeof err);
        cr_expect_eq(rc, 0, "row %zu \"%s\": %s", i, r->text, err);
        const char *f = (const char *)&c + r->off;
        switch (r->kind) {
        case K_INT:
            cr_expect_eq(*(const int *)f, r->i, "row %zu \"%s\"", i, r->text);
            break;
        case K_DOUBLE:
            cr_expect_eq(*(const double *)f, r->d, "row %zu \"%s\"", i, r->text);
            break;
        case K_BOOL:
            cr_expect_eq(*(const bool *)f, r->i, "row %zu \"%s\"", i, r->text);
            break;
        case K_LEVEL:
            cr_expect_eq(*(const weir_log_level *)f, r->i, "row %zu \"%s\"", i, r->text);
            break;
        case K_STRING:
            cr_expect_str_eq(*(char *const *)f, r->s, "row %zu \"%s\"", i, r->text);
            break;
        }
        weir_config_deinit(&c);
    }
}

/* ---- errors: one line, the line number, the section and key ---- */

typedef struct error_row {
    const char *text;
    const char *msg;
} error_row;

static const error_row error_rows[] = {
    /* structure */
    {"listen_port = 1", "line 1: key \"listen_port\" outside any section"},
    {"# c\n\nlisten_port = 1", "line 3: key \"listen_port\" outside any section"},
    {"[foo]", "line 1: unknown section [foo]"},
    {"[server]\n[Server]", "line 2: unknown section [Server]"},
    {"[]", "line 1: unknown section []"},
    {"[server", "line 1: expected \"]\" to close the section header \"[server\""},
    {"[server] x", "line 1: unexpected text after section header \"[server] x\""},
    {"[server]\nlisen_port = 1", "line 2: unknown key \"lisen_port\" in [server]"},
    {"[rooms]\nlisten_port = 1", "line 2: unknown key \"listen_port\" in [rooms]"},
    {"[log]\nLevel = info", "line 2: unknown key \"Level\" in [log]"},
    {"[server]\nlisten_port", "line 2: expected \"key = value\", \"[section]\" or a comment, "
                              "got \"listen_port\""},
    {"[server]\n= 5", "line 2: expected \"key = value\", \"[section]\" or a comment, got \"= 5\""},
    {"[server]\nlisten_port = 1\n\nlisten_port = 2",
     "line 4: [server] listen_port: duplicate key (first set on line 2)"},
    {"[server]\nworkers = 1\n[log]\n[server]\nworkers = 2",
     "line 5: [server] workers: duplicate key (first set on line 2)"},
    {"[server]\r\nlisten_port = 1\r\nbogus = 2\r\n", "line 3: unknown key \"bogus\" in [server]"},
    /* integers */
    {"# a\n[server]\nlisten_port = abc",
     "line 3: [server] listen_port: expected an integer 0..65535, got \"abc\""},
    {"[server]\nlisten_port = 65536",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"65536\""},
    {"[server]\nlisten_port = -1",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"-1\""},
    {"[server]\nlisten_port = 80x",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"80x\""},
    {"[server]\nlisten_port = 0x50",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"0x50\""},
    {"[server]\nlisten_port = 80.0",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"80.0\""},
    {"[server]\nlisten_port =",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"\""},
    {"[server]\nlisten_port = 99999999999999999999",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"99999999999999999999\""},
    {"[server]\nlisten_port = 4294967376", /* 2^32 + 80: must not wrap to 80 */
     "line 2: [server] listen_port: expected an integer 0..65535, got \"4294967376\""},
    {"[server]\nlisten_port = abc # why",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"abc\""},
    {"[server]\nworkers = 257",
     "line 2: [server] workers: expected an integer 0..256, got \"257\""},
    {"[server]\nmax_participants = 0",
     "line 2: [server] max_participants: expected an integer 1..1000000, got \"0\""},
    {"[server]\nshutdown_grace_ms = 10001",
     "line 2: [server] shutdown_grace_ms: expected an integer 0..10000, got \"10001\""},
    {"[rooms]\nmax_participants = 100001",
     "line 2: [rooms] max_participants: expected an integer 1..100000, got \"100001\""},
    {"[auth]\nleeway_s = 601", "line 2: [auth] leeway_s: expected an integer 0..600, got \"601\""},
    {"[auth]\ntoken_max_ttl_s = 59",
     "line 2: [auth] token_max_ttl_s: expected an integer 60..31536000, got \"59\""},
    {"[signalling]\nabuse_disconnect_after = 0",
     "line 2: [signalling] abuse_disconnect_after: expected an integer 1..1000000, got \"0\""},
    {"[signalling]\njoin_timeout_s = -5",
     "line 2: [signalling] join_timeout_s: expected an integer 0..86400, got \"-5\""},
    /* doubles */
    {"[signalling]\nrate_limit_per_sec = 0",
     "line 2: [signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got \"0\""},
    {"[signalling]\nrate_limit_per_sec = -1",
     "line 2: [signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got \"-1\""},
    {"[signalling]\nrate_limit_per_sec = nan",
     "line 2: [signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got \"nan\""},
    {"[signalling]\nrate_limit_per_sec = inf",
     "line 2: [signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got \"inf\""},
    {"[signalling]\nrate_limit_per_sec = 1e7",
     "line 2: [signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got \"1e7\""},
    {"[signalling]\nrate_limit_per_sec = fast",
     "line 2: [signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got \"fast\""},
    {"[signalling]\nrate_limit_burst = 0.5",
     "line 2: [signalling] rate_limit_burst: expected a number 1..1000000, got \"0.5\""},
    {"[log]\nparticipant_lines_per_sec = 0",
     "line 2: [log] participant_lines_per_sec: expected a number > 0 and <= 1000000, got \"0\""},
    {"[log]\nparticipant_burst = 2x",
     "line 2: [log] participant_burst: expected a number 1..1000000, got \"2x\""},
    /* booleans and levels */
    {"[rooms]\nauto_create = maybe",
     "line 2: [rooms] auto_create: expected true|false|yes|no|on|off|1|0, got \"maybe\""},
    {"[rooms]\nauto_subscribe = 2",
     "line 2: [rooms] auto_subscribe: expected true|false|yes|no|on|off|1|0, got \"2\""},
    {"[rooms]\nstudents_publish_by_default =",
     "line 2: [rooms] students_publish_by_default: expected true|false|yes|no|on|off|1|0, "
     "got \"\""},
    {"[log]\nlevel = verbose",
     "line 2: [log] level: expected error|warn|info|debug, got \"verbose\""},
    {"[log]\nlevel = informational",
     "line 2: [log] level: expected error|warn|info|debug, got \"informational\""},
    /* quoting */
    {"[auth]\nsecret = \"abc", "line 2: [auth] secret: missing closing quote"},
    {"[auth]\nsecret = \"abc\\\"", "line 2: [auth] secret: missing closing quote"},
    {"[auth]\nsecret = \"abc\\", "line 2: [auth] secret: missing closing quote"},
    {"[auth]\nsecret = \"a\\nb\"",
     "line 2: [auth] secret: unknown escape \"\\\\n\" in quoted value (only \\\" and \\\\)"},
    {"[auth]\nsecret = \"abc\" x",
     "line 2: [auth] secret: unexpected text after the closing quote"},
    {"[auth]\nsecret = \"a\"\"b\"",
     "line 2: [auth] secret: unexpected text after the closing quote"},
    /* what gets quoted back is escaped so the message stays one line */
    {"[server]\nlisten_port = a\"b\\c",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"a\\\"b\\\\c\""},
    {"[server]\nlisten_port = a\x01\x1b"
     "b",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"a\\x01\\x1bb\""},
    {"[server]\nlisten_port = a\rb",
     "line 2: [server] listen_port: expected an integer 0..65535, got \"a\\x0db\""},
    {"[fo\to]", "line 1: unknown section [fo\\x09o]"},
};

Test(config, errors)
{
    for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++) {
        const error_row *r = &error_rows[i];
        weir_config c;
        weir_config_init(&c);
        char err[512] = "";
        int rc = parse_str(&c, r->text, err, sizeof err);
        cr_expect_eq(rc, -WEIR_EINVAL, "row %zu \"%s\": rc %d", i, r->text, rc);
        cr_expect_str_eq(err, r->msg, "row %zu \"%s\"", i, r->text);
        weir_config_deinit(&c);
    }
}

Test(config, error_leaves_config_unchanged)
{
    weir_config c, d;
    weir_config_init(&c);
    weir_config_init(&d);
    char err[256];
    const char *text = "[server]\nlisten_port = 9\nweb_root = elsewhere\n[auth]\nadmin_key = k\n"
                       "[log]\nlevel = debug\n[rooms]\nauto_create = no\nbogus = 1\n";
    cr_expect_eq(parse_str(&c, text, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "line 10: unknown key \"bogus\" in [rooms]");
    expect_same(&c, &d, "after a failed parse");
    weir_config_deinit(&c);
    weir_config_deinit(&d);
}

Test(config, later_text_overrides_earlier)
{
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    cr_assert_eq(parse_str(&c, "[server]\nweb_root = one\nworkers = 3", err, sizeof err), 0, "%s",
                 err);
    /* each text is its own file: a key set by an earlier one is not a duplicate */
    cr_assert_eq(parse_str(&c, "[server]\nweb_root = two", err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.web_root, "two");
    cr_expect_eq(c.workers, 3);
    weir_config_deinit(&c);
}

Test(config, text_is_bounded_by_len)
{
    weir_config c;
    weir_config_init(&c);
    const char text[] = "[server]\nlisten_port = 1234";
    char err[256] = "";
    /* cut after "12": nothing past len may be read */
    cr_assert_eq(weir_config_parse(&c, text, sizeof text - 3, err, sizeof err), 0, "%s", err);
    cr_expect_eq(c.listen_port, 12);
    weir_config_deinit(&c);
}

Test(config, nul_byte_is_an_error)
{
    weir_config c;
    weir_config_init(&c);
    const char text[] = "[auth]\nsecret = abc\0def\n";
    char err[256] = "";
    cr_expect_eq(weir_config_parse(&c, text, sizeof text - 1, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "line 2: NUL byte in the line");
    cr_expect_str_eq(c.auth_secret, "");
    weir_config_deinit(&c);
}

Test(config, long_value_is_cut_in_the_message)
{
    char text[300] = "[server]\nlisten_port = ";
    size_t n = strlen(text);
    memset(text + n, 'x', 200);
    text[n + 200] = '\0';
    weir_config c;
    weir_config_init(&c);
    char err[512] = "";
    cr_expect_eq(parse_str(&c, text, err, sizeof err), -WEIR_EINVAL);
    char want[256] = "line 2: [server] listen_port: expected an integer 0..65535, got \"";
    n = strlen(want);
    memset(want + n, 'x', 64);
    strcpy(want + n + 64, "...\"");
    cr_expect_str_eq(err, want);
    weir_config_deinit(&c);
}

Test(config, small_or_missing_err_buffer)
{
    weir_config c;
    weir_config_init(&c);
    char err[8];
    memset(err, 'x', sizeof err);
    cr_expect_eq(parse_str(&c, "[foo]", err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "line 1:");
    cr_expect_eq(parse_str(&c, "[foo]", NULL, 0), -WEIR_EINVAL);
    cr_expect_eq(weir_config_load_file(&c, "/nonexistent/weir.conf", NULL, 0), -ENOENT);
    weir_config_deinit(&c);
}

/* ---- weir_config_set: the command-line path ---- */

typedef struct set_row {
    const char *section, *key, *value;
    const char *msg; /* NULL = accepted */
} set_row;

static const set_row set_rows[] = {
    {"server", "listen_port", "9000", NULL},
    {"server", "listen_address", "0.0.0.0", NULL},
    {"server", "workers", "4", NULL},
    {"log", "level", "debug", NULL},
    {"server", "listen_port", "x", "[server] listen_port: expected an integer 0..65535, got \"x\""},
    {"server", "listen_port", " 80", /* not trimmed: leading blanks are a mistake */
     "[server] listen_port: expected an integer 0..65535, got \" 80\""},
    {"server", "workers", "1000", "[server] workers: expected an integer 0..256, got \"1000\""},
    {"log", "level", "loud", "[log] level: expected error|warn|info|debug, got \"loud\""},
    {"server", "port", "1", "unknown key \"port\" in [server]"},
    {"srv", "listen_port", "1", "unknown section [srv]"},
};

Test(config, set)
{
    for (size_t i = 0; i < sizeof set_rows / sizeof set_rows[0]; i++) {
        const set_row *r = &set_rows[i];
        weir_config c, d;
        weir_config_init(&c);
        weir_config_init(&d);
        char err[256] = "";
        int rc = weir_config_set(&c, r->section, r->key, r->value, err, sizeof err);
        if (r->msg) {
            cr_expect_eq(rc, -WEIR_EINVAL, "row %zu", i);
            cr_expect_str_eq(err, r->msg, "row %zu", i);
            expect_same(&c, &d, "after a failed set");
        } else {
            cr_expect_eq(rc, 0, "row %zu: %s", i, err);
        }
        weir_config_deinit(&c);
        weir_config_deinit(&d);
    }
    weir_config c;
    weir_config_init(&c);
    cr_assert_eq(weir_config_set(&c, "server", "listen_port", "9000", NULL, 0), 0);
    cr_assert_eq(weir_config_set(&c, "log", "level", "debug", NULL, 0), 0);
    cr_assert_eq(weir_config_set(&c, "server", "listen_address", "::", NULL, 0), 0);
    cr_expect_eq(c.listen_port, 9000);
    cr_expect_eq(c.log_level, WEIR_LOG_DEBUG);
    cr_expect_str_eq(c.listen_address, "::");
    weir_config_deinit(&c);
}

/* ---- validate ---- */

typedef struct validate_row {
    const char *text;
    const char *msg; /* NULL = valid */
} validate_row;

static const validate_row validate_rows[] = {
    {"", NULL},
    {"[server]\ntls_cert = c.pem\ntls_key = k.pem", NULL},
    {"[server]\ntls_cert = c.pem", "[server] tls_key: must be set when tls_cert is set"},
    {"[server]\ntls_key = k.pem", "[server] tls_cert: must be set when tls_key is set"},
    {"[auth]\nsecret = 0123456789abcde", "[auth] secret: must be at least 16 bytes"},
    {"[auth]\nsecret = x", "[auth] secret: must be at least 16 bytes"},
    {"[auth]\nsecret = 0123456789abcdef", NULL},
    {"[auth]\nsecret = \"\"", NULL},
    {"[server]\nlisten_address = \"\"", "[server] listen_address: must not be empty"},
    {"[taps]\nallow = \"10.0.0.0/8, 2001:db8::/32\"", NULL},
    {"[taps]\nallow = \"\"", NULL},
    {"[taps]\nallow = 10.0.0.1/8",
     "[taps] allow: \"10.0.0.1/8\": expected ADDRESS or ADDRESS/PREFIX (no host bits under the "
     "prefix)"},
};

Test(config, validate)
{
    for (size_t i = 0; i < sizeof validate_rows / sizeof validate_rows[0]; i++) {
        const validate_row *r = &validate_rows[i];
        weir_config c;
        weir_config_init(&c);
        char err[256] = "";
        cr_assert_eq(parse_str(&c, r->text, err, sizeof err), 0, "row %zu: %s", i, err);
        int rc = weir_config_validate(&c, err, sizeof err);
        if (r->msg) {
            cr_expect_eq(rc, -WEIR_EINVAL, "row %zu", i);
            cr_expect_str_eq(err, r->msg, "row %zu", i);
        } else {
            cr_expect_eq(rc, 0, "row %zu: %s", i, err);
        }
        weir_config_deinit(&c);
    }
}

Test(config, validate_checks_ranges_of_fields_set_directly)
{
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    c.listen_port = 70000;
    cr_expect_eq(weir_config_validate(&c, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "[server] listen_port: expected an integer 0..65535, got 70000");
    c.listen_port = 8088;
    c.rate_limit_per_sec = 0;
    cr_expect_eq(weir_config_validate(&c, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(
        err, "[signalling] rate_limit_per_sec: expected a number > 0 and <= 1000000, got 0");
    weir_config_deinit(&c);
}

/* ---- files ---- */

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    char *buf = weir_malloc(WEIR_CONFIG_MAX_FILE_BYTES);
    *len = fread(buf, 1, WEIR_CONFIG_MAX_FILE_BYTES, f);
    fclose(f);
    return buf;
}

Test(config, shipped_conf_is_the_defaults)
{
    weir_config c, d;
    weir_config_init(&c);
    weir_config_init(&d);
    char err[256] = "";
    cr_assert_eq(weir_config_load_file(&c, CONF_PATH, err, sizeof err), 0, "%s", err);
    expect_same(&c, &d, CONF_PATH);
    cr_expect_eq(weir_config_validate(&c, err, sizeof err), 0, "%s", err);
    weir_config_deinit(&c);
    weir_config_deinit(&d);
}

/* Every option (web_root aside) must be written out in the shipped file, not merely
 * defaulted: setting it once more after the file's text has to be a duplicate. */
static const struct {
    const char *section, *key, *value;
} all_keys[] = {
    {"server", "listen_address", "x"},
    {"server", "listen_port", "1"},
    {"server", "tls_cert", "x"},
    {"server", "tls_key", "x"},
    {"server", "workers", "1"},
    {"server", "max_participants", "1"},
    {"server", "shutdown_grace_ms", "1"},
    {"server", "data_dir", "x"},
    {"log", "level", "warn"},
    {"log", "participant_lines_per_sec", "1"},
    {"log", "participant_burst", "1"},
    {"rooms", "auto_create", "no"},
    {"rooms", "max_participants", "1"},
    {"rooms", "auto_subscribe", "no"},
    {"rooms", "students_publish_by_default", "no"},
    {"auth", "secret", "x"},
    {"auth", "leeway_s", "1"},
    {"auth", "admin_key", "x"},
    {"auth", "token_max_ttl_s", "60"},
    {"signalling", "rate_limit_per_sec", "1"},
    {"signalling", "rate_limit_burst", "1"},
    {"signalling", "abuse_disconnect_after", "1"},
    {"signalling", "join_timeout_s", "1"},
    {"media", "ice_bind_addresses", "x"},
    {"media", "ice_port_min", "1"},
    {"media", "ice_port_max", "1"},
    {"media", "announced_ip", "x"},
};

Test(config, shipped_conf_lists_every_option)
{
    size_t len;
    char *conf = read_whole(CONF_PATH, &len);
    for (size_t i = 0; i < sizeof all_keys / sizeof all_keys[0]; i++) {
        char extra[128];
        int n = snprintf(extra, sizeof extra, "\n[%s]\n%s = %s\n", all_keys[i].section,
                         all_keys[i].key, all_keys[i].value);
        char *text = weir_malloc(len + (size_t)n);
        memcpy(text, conf, len);
        memcpy(text + len, extra, (size_t)n);
        weir_config c;
        weir_config_init(&c);
        char err[256] = "";
        cr_expect_eq(weir_config_parse(&c, text, len + (size_t)n, err, sizeof err), -WEIR_EINVAL,
                     "[%s] %s missing from conf/weir.conf", all_keys[i].section, all_keys[i].key);
        cr_expect(strstr(err, "duplicate key") != NULL, "[%s] %s: %s", all_keys[i].section,
                  all_keys[i].key, err);
        weir_config_deinit(&c);
        weir_free(text);
    }
    /* web_root stays commented out so the compiled-in default applies */
    const char extra[] = "\n[server]\nweb_root = elsewhere\n";
    char *text = weir_malloc(len + sizeof extra);
    memcpy(text, conf, len);
    memcpy(text + len, extra, sizeof extra);
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    cr_expect_eq(weir_config_parse(&c, text, len + sizeof extra - 1, err, sizeof err), 0, "%s",
                 err);
    weir_config_deinit(&c);
    weir_free(text);
    weir_free(conf);
}

Test(config, load_missing_file)
{
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    cr_expect_eq(weir_config_load_file(&c, "/nonexistent/weir.conf", err, sizeof err), -ENOENT);
    cr_expect_str_eq(err, "cannot read /nonexistent/weir.conf: No such file or directory");
    cr_expect_eq(c.listen_port, 8088);
    weir_config_deinit(&c);
}

Test(config, load_directory)
{
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    cr_expect_eq(weir_config_load_file(&c, "/", err, sizeof err), -EISDIR);
    cr_expect_str_eq(err, "cannot read /: Is a directory");
    weir_config_deinit(&c);
}

static char *write_temp(const char *text, size_t len, size_t pad_to)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "wb");
    cr_assert_not_null(f);
    fwrite(text, 1, len, f);
    for (size_t i = len; i < pad_to; i++)
        fputc(i % 64 == 63 ? '\n' : '#', f); /* comment lines: valid, only too many */
    fclose(f);
    return path;
}

Test(config, load_file_size_cap)
{
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    const char head[] = "[server]\nlisten_port = 7\n";
    const char *path = write_temp(head, sizeof head - 1, WEIR_CONFIG_MAX_FILE_BYTES);
    cr_expect_eq(weir_config_load_file(&c, path, err, sizeof err), 0, "exactly the cap: %s", err);
    cr_expect_eq(c.listen_port, 7);
    unlink(path);

    path = write_temp(head, sizeof head - 1, WEIR_CONFIG_MAX_FILE_BYTES + 1);
    c.listen_port = 8088;
    cr_expect_eq(weir_config_load_file(&c, path, err, sizeof err), -WEIR_ETOOBIG);
    char want[128];
    snprintf(want, sizeof want, "cannot read %s: larger than 1048576 bytes", path);
    cr_expect_str_eq(err, want);
    cr_expect_eq(c.listen_port, 8088);
    unlink(path);
    weir_config_deinit(&c);
}

Test(config, load_file_reports_line)
{
    weir_config c;
    weir_config_init(&c);
    char err[256] = "";
    const char text[] = "[server]\n\nlisten_port = abc\n";
    const char *path = write_temp(text, sizeof text - 1, 0);
    cr_expect_eq(weir_config_load_file(&c, path, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err,
                     "line 3: [server] listen_port: expected an integer 0..65535, got \"abc\"");
    unlink(path);
    weir_config_deinit(&c);
}
