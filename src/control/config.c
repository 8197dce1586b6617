/*
 * Config file: one table row per option (section, key, type, field, range,
 * default text). Defaults are applied through the same parser as the file,
 * so conf/weir.conf, the table and the struct cannot disagree about what a
 * value means. A file is parsed into a copy that replaces *cfg only when
 * every line was good, so a failed reload never leaves half a config.
 */
#include "control/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/tap_allow.h"
#include "peer/negotiate.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#ifndef WEIR_DEFAULT_WEB_ROOT
#define WEIR_DEFAULT_WEB_ROOT "web"
#endif

/* Longest stretch of user text quoted in an error, so the message stays one readable line. */
#define QUOTE_MAX 64
#define QUOTE_BUF (QUOTE_MAX * 4 + 8) /* every byte as \xNN, then "..." */

typedef enum {
    OPT_STRING,
    OPT_BOOL,
    OPT_LOG_LEVEL,
    OPT_INT,  /* min..max */
    OPT_NUM,  /* double, min..max */
    OPT_RATE, /* double per second, > 0 and <= max: zero would stop the bucket refilling */
} opt_type;

typedef struct option {
    const char *section;
    const char *key;
    opt_type type;
    size_t offset;
    double min;
    double max;
    const char *def; /* text, as it would appear in the file */
} option;

#define FIELD(f) offsetof(weir_config, f)

static const option options[] = {
    {"server", "listen_address", OPT_STRING, FIELD(listen_address), 0, 0, "127.0.0.1"},
    {"server", "listen_port", OPT_INT, FIELD(listen_port), 0, 65535, "8088"},
    {"server", "web_root", OPT_STRING, FIELD(web_root), 0, 0, WEIR_DEFAULT_WEB_ROOT},
    {"server", "tls_cert", OPT_STRING, FIELD(tls_cert), 0, 0, ""},
    {"server", "tls_key", OPT_STRING, FIELD(tls_key), 0, 0, ""},
    {"server", "workers", OPT_INT, FIELD(workers), 0, 256, "0"},
    {"server", "max_participants", OPT_INT, FIELD(max_participants), 1, 1000000, "1000"},
    {"server", "shutdown_grace_ms", OPT_INT, FIELD(shutdown_grace_ms), 0, 10000, "500"},
    {"server", "data_dir", OPT_STRING, FIELD(data_dir), 0, 0, "var/weir"},

    {"log", "level", OPT_LOG_LEVEL, FIELD(log_level), 0, 0, "info"},
    {"log", "participant_lines_per_sec", OPT_RATE, FIELD(log_participant_per_sec), 0, 1e6, "2"},
    {"log", "participant_burst", OPT_NUM, FIELD(log_participant_burst), 1, 1e6, "20"},

    {"rooms", "auto_create", OPT_BOOL, FIELD(rooms_auto_create), 0, 0, "true"},
    {"rooms", "max_participants", OPT_INT, FIELD(room_max_participants), 1, 100000, "100"},
    {"rooms", "auto_subscribe", OPT_BOOL, FIELD(rooms_auto_subscribe), 0, 0, "true"},
    {"rooms", "students_publish_by_default", OPT_BOOL, FIELD(students_publish_by_default), 0, 0,
     "true"},

    {"auth", "secret", OPT_STRING, FIELD(auth_secret), 0, 0, ""},
    {"auth", "leeway_s", OPT_INT, FIELD(auth_leeway_s), 0, 600, "30"},
    {"auth", "admin_key", OPT_STRING, FIELD(admin_key), 0, 0, ""},
    {"auth", "token_max_ttl_s", OPT_INT, FIELD(token_max_ttl_s), 60, 31536000, "86400"},

    {"signalling", "rate_limit_per_sec", OPT_RATE, FIELD(rate_limit_per_sec), 0, 1e6, "20"},
    {"signalling", "rate_limit_burst", OPT_NUM, FIELD(rate_limit_burst), 1, 1e6, "50"},
    {"signalling", "abuse_disconnect_after", OPT_INT, FIELD(abuse_disconnect_after), 1, 1000000,
     "100"},
    {"signalling", "join_timeout_s", OPT_INT, FIELD(join_timeout_s), 0, 86400, "60"},

    {"media", "ice_bind_addresses", OPT_STRING, FIELD(ice_bind_addresses), 0, 0, ""},
    {"media", "ice_port_min", OPT_INT, FIELD(ice_port_min), 0, 65535, "0"},
    {"media", "ice_port_max", OPT_INT, FIELD(ice_port_max), 0, 65535, "0"},
    {"media", "announced_ip", OPT_STRING, FIELD(announced_ip), 0, 0, ""},
    {"media", "ice_consent_timeout_s", OPT_INT, FIELD(ice_consent_timeout_s), 0, 3600, "5"},
    {"media", "peer_timeout_s", OPT_INT, FIELD(peer_timeout_s), 1, 3600, "20"},
    {"media", "ice_servers", OPT_STRING, FIELD(ice_servers), 0, 0, ""},
    {"media", "ice_username", OPT_STRING, FIELD(ice_username), 0, 0, ""},
    {"media", "ice_credential", OPT_STRING, FIELD(ice_credential), 0, 0, ""},
    {"media", "dtls_cert", OPT_STRING, FIELD(dtls_cert), 0, 0, ""},
    {"media", "dtls_key", OPT_STRING, FIELD(dtls_key), 0, 0, ""},
    {"media", "video_codecs", OPT_STRING, FIELD(video_codecs), 0, 0, "vp8, vp9, h264, av1"},
    {"media", "rtp_dump_dir", OPT_STRING, FIELD(rtp_dump_dir), 0, 0, ""},
    {"media", "rtp_dump_max_packets", OPT_INT, FIELD(rtp_dump_max_packets), 1, 10000000, "5000"},

    {"data", "history_on_disk", OPT_BOOL, FIELD(data_history_on_disk), 0, 0, "true"},
    {"data", "fsync_interval_ms", OPT_INT, FIELD(data_fsync_interval_ms), 0, 10000, "50"},
    {"data", "chat_history", OPT_INT, FIELD(data_chat_history), 1, 1000000, "200"},
    {"data", "max_message_size", OPT_INT, FIELD(data_max_message_size), 1024, 262144, "262144"},
    {"data", "max_buffered_per_channel", OPT_INT, FIELD(data_max_buffered_per_channel), 65536,
     67108864, "1048576"},
    {"data", "flood_messages_per_s", OPT_INT, FIELD(data_flood_messages_per_s), 0, 1000000, "200"},
    {"data", "flood_bytes_per_s", OPT_INT, FIELD(data_flood_bytes_per_s), 0, 1073741824, "1048576"},
    {"data", "compact_ratio", OPT_INT, FIELD(data_compact_ratio), 0, 1000, "2"},

    {"taps", "allow", OPT_STRING, FIELD(taps_allow), 0, 0, "127.0.0.0/8, ::1"},
    {"taps", "max", OPT_INT, FIELD(taps_max), 0, 4096, "16"},
    {"taps", "keyframe_interval_ms", OPT_INT, FIELD(taps_keyframe_interval_ms), 0, 600000, "2000"},

    {"recorder", "enabled", OPT_BOOL, FIELD(recorder_enabled), 0, 0, "true"},
    {"recorder", "plugin", OPT_STRING, FIELD(recorder_plugin), 0, 0, ""},
    {"recorder", "dir", OPT_STRING, FIELD(recorder_dir), 0, 0, ""},
    {"recorder", "max_active", OPT_INT, FIELD(recorder_max_active), 0, 4096, "16"},
    {"recorder", "queue_packets", OPT_INT, FIELD(recorder_queue_packets), 16, 65536, "512"},
    {"recorder", "max_wait_ms", OPT_INT, FIELD(recorder_max_wait_ms), 0, 5000, "300"},
    {"recorder", "sync_wait_ms", OPT_INT, FIELD(recorder_sync_wait_ms), 0, 30000, "5000"},
    {"recorder", "fsync_interval_ms", OPT_INT, FIELD(recorder_fsync_interval_ms), 0, 3600000,
     "2000"},
    {"recorder", "stop_timeout_ms", OPT_INT, FIELD(recorder_stop_timeout_ms), 100, 60000, "5000"},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static void *field_ptr(weir_config *cfg, const option *o)
{
    return (char *)cfg + o->offset;
}

static const void *field_cptr(const weir_config *cfg, const option *o)
{
    return (const char *)cfg + o->offset;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/*
 * User text goes into one-line messages that end up on a terminal: escape
 * quotes, backslashes and control bytes, and cut long values short.
 */
static const char *quote(char *buf, size_t buflen, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < buflen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == QUOTE_MAX) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}

static const char *find_section(const char *name, size_t n)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (strlen(options[i].section) == n && memcmp(options[i].section, name, n) == 0)
            return options[i].section;
    }
    return NULL;
}

static const option *find_option(const char *section, const char *key, size_t n)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        if (strcmp(o->section, section) == 0 && strlen(o->key) == n && memcmp(o->key, key, n) == 0)
            return o;
    }
    return NULL;
}

static int parse_bool(const char *s, bool *out)
{
    static const struct {
        const char *word;
        bool value;
    } words[] = {
        {"true", true},   {"yes", true}, {"on", true},   {"1", true},
        {"false", false}, {"no", false}, {"off", false}, {"0", false},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcasecmp(s, words[i].word) == 0) {
            *out = words[i].value;
            return 0;
        }
    }
    return -WEIR_EINVAL;
}

/* strto* skip leading white space; a value from weir_config_set is not trimmed, so refuse it. */
static bool starts_number(const char *s)
{
    return *s != '\0' && !isspace((unsigned char)*s);
}

static int parse_int(const char *s, const option *o, int *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!starts_number(s) || *end != '\0' || errno == ERANGE)
        return -WEIR_EINVAL;
    if ((double)v < o->min || (double)v > o->max)
        return -WEIR_EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_num(const char *s, const option *o, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!starts_number(s) || *end != '\0' || errno == ERANGE)
        return -WEIR_EINVAL;
    /* Written so that NaN fails every comparison and is rejected. */
    bool low_ok = o->type == OPT_RATE ? v > o->min : v >= o->min;
    if (!low_ok || !(v <= o->max))
        return -WEIR_EINVAL;
    *out = v;
    return 0;
}

/* Case-insensitive like the booleans: "INFO" in a file is not worth a failed start. */
static int parse_level(const char *s, weir_log_level *out)
{
    char lower[16];
    size_t n = strlen(s);
    if (n >= sizeof lower)
        return -WEIR_EINVAL;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)s[i]);
    return weir_log_level_parse(lower, out);
}

/* What a value of this option must look like, for "expected ..." and "must be ..." messages. */
static void describe(const option *o, char *buf, size_t buflen)
{
    switch (o->type) {
    case OPT_STRING:
        snprintf(buf, buflen, "a string");
        break;
    case OPT_BOOL:
        snprintf(buf, buflen, "true|false|yes|no|on|off|1|0");
        break;
    case OPT_LOG_LEVEL:
        snprintf(buf, buflen, "error|warn|info|debug");
        break;
    case OPT_INT:
        snprintf(buf, buflen, "an integer %lld..%lld", (long long)o->min, (long long)o->max);
        break;
    case OPT_NUM:
        snprintf(buf, buflen, "a number %.15g..%.15g", o->min, o->max);
        break;
    case OPT_RATE:
        snprintf(buf, buflen, "a number > %.15g and <= %.15g", o->min, o->max);
        break;
    }
}

/* Stores value into the option's field; on error the field is unchanged. */
static int apply(weir_config *cfg, const option *o, const char *value)
{
    void *f = field_ptr(cfg, o);
    switch (o->type) {
    case OPT_STRING: {
        char **sp = f;
        weir_free(*sp);
        *sp = weir_strdup(value);
        return 0;
    }
    case OPT_BOOL:
        return parse_bool(value, f);
    case OPT_LOG_LEVEL:
        return parse_level(value, f);
    case OPT_INT:
        return parse_int(value, o, f);
    case OPT_NUM:
    case OPT_RATE:
        return parse_num(value, o, f);
    }
    return -WEIR_EINVAL;
}

/* Writes "[section] key: expected ..., got "value"" at err. */
static void value_error(char *err, size_t errlen, const char *prefix, const option *o,
                        const char *value)
{
    char want[96], q[QUOTE_BUF];
    describe(o, want, sizeof want);
    set_err(err, errlen, "%s[%s] %s: expected %s, got \"%s\"", prefix, o->section, o->key, want,
            quote(q, sizeof q, value, strlen(value)));
}

void weir_config_init(weir_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        /* A default the parser rejects is a bug in the table above, not a runtime condition. */
        if (apply(cfg, &options[i], options[i].def) < 0)
            abort();
    }
}

void weir_config_deinit(weir_config *cfg)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == OPT_STRING) {
            char **sp = field_ptr(cfg, &options[i]);
            weir_free(*sp);
            *sp = NULL;
        }
    }
}

static void config_copy(weir_config *dst, const weir_config *src)
{
    *dst = *src;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == OPT_STRING) {
            char **sp = field_ptr(dst, &options[i]);
            *sp = weir_strdup(*sp ? *sp : "");
        }
    }
}

int weir_config_set(weir_config *cfg, const char *section, const char *key, const char *value,
                    char *err, size_t errlen)
{
    char q[QUOTE_BUF];
    const char *sec = find_section(section, strlen(section));
    if (!sec) {
        set_err(err, errlen, "unknown section [%s]", quote(q, sizeof q, section, strlen(section)));
        return -WEIR_EINVAL;
    }
    const option *o = find_option(sec, key, strlen(key));
    if (!o) {
        set_err(err, errlen, "unknown key \"%s\" in [%s]", quote(q, sizeof q, key, strlen(key)),
                sec);
        return -WEIR_EINVAL;
    }
    if (apply(cfg, o, value) < 0) {
        value_error(err, errlen, "", o, value);
        return -WEIR_EINVAL;
    }
    return 0;
}

/* ---- the file parser ---- */

typedef struct parser {
    /* borrowed: */
    char *err;
    size_t errlen;
    /* state: */
    int line;
    const char *section;        /* a table string, NULL before the first [section] */
    int set_on_line[N_OPTIONS]; /* 0 = not yet in this file; catches duplicate keys */
} parser;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_comment(char c)
{
    return c == '#' || c == ';';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_blank((*s)[*n - 1]))
        (*n)--;
}

/* True when what follows a value or header is only blanks and perhaps a comment. */
static bool only_comment(const char *s, size_t n)
{
    trim(&s, &n);
    return n == 0 || is_comment(*s);
}

static int parse_section(parser *ps, const char *s, size_t n)
{
    char q[QUOTE_BUF];
    const char *close = memchr(s, ']', n);
    if (!close) {
        set_err(ps->err, ps->errlen, "line %d: expected \"]\" to close the section header \"%s\"",
                ps->line, quote(q, sizeof q, s, n));
        return -WEIR_EINVAL;
    }
    const char *name = s + 1;
    size_t name_len = (size_t)(close - name);
    trim(&name, &name_len);
    if (!only_comment(close + 1, n - (size_t)(close + 1 - s))) {
        set_err(ps->err, ps->errlen, "line %d: unexpected text after section header \"%s\"",
                ps->line, quote(q, sizeof q, s, n));
        return -WEIR_EINVAL;
    }
    const char *sec = find_section(name, name_len);
    if (!sec) {
        set_err(ps->err, ps->errlen, "line %d: unknown section [%s]", ps->line,
                quote(q, sizeof q, name, name_len));
        return -WEIR_EINVAL;
    }
    ps->section = sec;
    return 0;
}

/*
 * Unquotes a value into out (which has room for n + 1 bytes). Inside quotes
 * only \" and \\ are escapes: anything else is refused rather than guessed,
 * so a Windows-style path does not silently lose its backslashes.
 * Unquoted values end at a # or ; that starts the value or follows a blank.
 */
static int unquote(parser *ps, const option *o, const char *s, size_t n, char *out)
{
    if (n == 0 || s[0] != '"') {
        size_t end = 0;
        while (end < n && !(is_comment(s[end]) && (end == 0 || is_blank(s[end - 1]))))
            end++;
        trim(&s, &end);
        memcpy(out, s, end);
        out[end] = '\0';
        return 0;
    }
    size_t o_len = 0, i = 1;
    for (; i < n && s[i] != '"'; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] == '"' || s[i + 1] == '\\') {
                out[o_len++] = s[++i];
                continue;
            }
            char q[QUOTE_BUF];
            set_err(ps->err, ps->errlen,
                    "line %d: [%s] %s: unknown escape \"%s\" in quoted value (only \\\" and \\\\)",
                    ps->line, o->section, o->key, quote(q, sizeof q, s + i, 2));
            return -WEIR_EINVAL;
        }
        out[o_len++] = s[i];
    }
    out[o_len] = '\0';
    if (i == n) {
        set_err(ps->err, ps->errlen, "line %d: [%s] %s: missing closing quote", ps->line,
                o->section, o->key);
        return -WEIR_EINVAL;
    }
    if (!only_comment(s + i + 1, n - i - 1)) {
        set_err(ps->err, ps->errlen, "line %d: [%s] %s: unexpected text after the closing quote",
                ps->line, o->section, o->key);
        return -WEIR_EINVAL;
    }
    return 0;
}

static int parse_assignment(parser *ps, weir_config *cfg, const char *s, size_t n)
{
    char q[QUOTE_BUF];
    const char *eq = memchr(s, '=', n);
    const char *key = s;
    size_t key_len = eq ? (size_t)(eq - s) : 0;
    trim(&key, &key_len);
    if (!eq || key_len == 0) {
        set_err(ps->err, ps->errlen,
                "line %d: expected \"key = value\", \"[section]\" or a comment, got \"%s\"",
                ps->line, quote(q, sizeof q, s, n));
        return -WEIR_EINVAL;
    }
    if (!ps->section) {
        set_err(ps->err, ps->errlen, "line %d: key \"%s\" outside any section", ps->line,
                quote(q, sizeof q, key, key_len));
        return -WEIR_EINVAL;
    }
    const option *o = find_option(ps->section, key, key_len);
    if (!o) {
        set_err(ps->err, ps->errlen, "line %d: unknown key \"%s\" in [%s]", ps->line,
                quote(q, sizeof q, key, key_len), ps->section);
        return -WEIR_EINVAL;
    }
    size_t idx = (size_t)(o - options);
    if (ps->set_on_line[idx]) {
        set_err(ps->err, ps->errlen, "line %d: [%s] %s: duplicate key (first set on line %d)",
                ps->line, o->section, o->key, ps->set_on_line[idx]);
        return -WEIR_EINVAL;
    }
    const char *v = eq + 1;
    size_t v_len = n - (size_t)(v - s);
    trim(&v, &v_len);
    char *value = weir_malloc(v_len + 1);
    int rc = unquote(ps, o, v, v_len, value);
    if (rc == 0 && (rc = apply(cfg, o, value)) < 0) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "line %d: ", ps->line);
        value_error(ps->err, ps->errlen, prefix, o, value);
        rc = -WEIR_EINVAL;
    }
    weir_free(value);
    if (rc == 0)
        ps->set_on_line[idx] = ps->line;
    return rc;
}

static int parse_line(parser *ps, weir_config *cfg, const char *s, size_t n)
{
    /* A NUL would cut a value short without anyone noticing; a config file is text. */
    if (memchr(s, '\0', n)) {
        set_err(ps->err, ps->errlen, "line %d: NUL byte in the line", ps->line);
        return -WEIR_EINVAL;
    }
    if (n && s[n - 1] == '\r') /* files edited on Windows */
        n--;
    trim(&s, &n);
    if (n == 0 || is_comment(s[0]))
        return 0;
    if (s[0] == '[')
        return parse_section(ps, s, n);
    return parse_assignment(ps, cfg, s, n);
}

int weir_config_parse(weir_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
    parser ps = {.err = err, .errlen = errlen};
    /* Some editors start UTF-8 files with a byte order mark. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    weir_config next;
    config_copy(&next, cfg);
    const char *p = text, *end = text + len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        ps.line++;
        rc = parse_line(&ps, &next, p, (size_t)(line_end - p));
        p = line_end + 1;
    }
    if (rc < 0) {
        weir_config_deinit(&next);
        return rc;
    }
    weir_config_deinit(cfg);
    *cfg = next;
    return 0;
}

int weir_config_load_file(weir_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        set_err(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    /* One byte over the cap tells "exactly 1 MiB" from "more". */
    char *buf = weir_malloc(WEIR_CONFIG_MAX_FILE_BYTES + 1);
    size_t len = 0, got;
    errno = 0;
    while (len <= WEIR_CONFIG_MAX_FILE_BYTES &&
           (got = fread(buf + len, 1, WEIR_CONFIG_MAX_FILE_BYTES + 1 - len, f)) > 0)
        len += got;
    /* fopen succeeds on a directory; the read is what fails (EISDIR). */
    int rc = 0, e = errno ? errno : EIO;
    if (ferror(f)) {
        set_err(err, errlen, "cannot read %s: %s", path, strerror(e));
        rc = -e;
    } else if (len > WEIR_CONFIG_MAX_FILE_BYTES) {
        set_err(err, errlen, "cannot read %s: larger than %d bytes", path,
                WEIR_CONFIG_MAX_FILE_BYTES);
        rc = -WEIR_ETOOBIG;
    }
    fclose(f);
    if (rc == 0)
        rc = weir_config_parse(cfg, buf, len, err, errlen);
    weir_free(buf);
    return rc;
}

static bool is_set(const char *s)
{
    return s && *s;
}

/* Fields main.c overrides from the command line skip the parser, so ranges are checked again. */
static int validate_ranges(const weir_config *cfg, char *err, size_t errlen)
{
    char want[96];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        const void *f = field_cptr(cfg, o);
        bool ok = true;
        char got[48];
        if (o->type == OPT_INT) {
            int v = *(const int *)f;
            ok = v >= o->min && v <= o->max;
            snprintf(got, sizeof got, "%d", v);
        } else if (o->type == OPT_NUM || o->type == OPT_RATE) {
            double v = *(const double *)f;
            ok = (o->type == OPT_RATE ? v > o->min : v >= o->min) && v <= o->max;
            snprintf(got, sizeof got, "%.15g", v);
        }
        if (!ok) {
            describe(o, want, sizeof want);
            set_err(err, errlen, "[%s] %s: expected %s, got %s", o->section, o->key, want, got);
            return -WEIR_EINVAL;
        }
    }
    return 0;
}

int weir_config_validate(const weir_config *cfg, char *err, size_t errlen)
{
    if (!is_set(cfg->listen_address)) {
        set_err(err, errlen, "[server] listen_address: must not be empty");
        return -WEIR_EINVAL;
    }
    if (is_set(cfg->tls_cert) && !is_set(cfg->tls_key)) {
        set_err(err, errlen, "[server] tls_key: must be set when tls_cert is set");
        return -WEIR_EINVAL;
    }
    if (is_set(cfg->tls_key) && !is_set(cfg->tls_cert)) {
        set_err(err, errlen, "[server] tls_cert: must be set when tls_key is set");
        return -WEIR_EINVAL;
    }
    if (is_set(cfg->dtls_cert) != is_set(cfg->dtls_key)) {
        set_err(err, errlen, "[media] dtls_cert and dtls_key: set both or neither");
        return -WEIR_EINVAL;
    }
    /* HS256 with a short secret can be brute-forced offline from a single token. */
    if (is_set(cfg->auth_secret) && strlen(cfg->auth_secret) < 16) {
        set_err(err, errlen, "[auth] secret: must be at least 16 bytes");
        return -WEIR_EINVAL;
    }
    if (cfg->ice_port_max && cfg->ice_port_min > cfg->ice_port_max) {
        set_err(err, errlen, "[media] ice_port_min: must not exceed ice_port_max");
        return -WEIR_EINVAL;
    }
    weir_codec_policy codecs[WEIR_NEGOTIATE_MAX_CODECS];
    size_t n_codecs;
    char why[160];
    if (weir_negotiate_parse_video_codecs(cfg->video_codecs, codecs, WEIR_NEGOTIATE_MAX_CODECS,
                                          &n_codecs, why, sizeof why) < 0) {
        set_err(err, errlen, "[media] video_codecs: %s", why);
        return -WEIR_EINVAL;
    }
    weir_tap_allow allow;
    if (weir_tap_allow_parse(cfg->taps_allow, &allow, why, sizeof why) < 0) {
        set_err(err, errlen, "[taps] allow: %s", why);
        return -WEIR_EINVAL;
    }
    return validate_ranges(cfg, err, errlen);
}
