/*
 * Data-channel frames (control/datachannel_frame.c): what a client's text
 * becomes in `data`, the stamped frame around it and the error frame.
 * Every frame is parsed back with jansson: the test checks what a client
 * would read, not how the bytes were assembled.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "control/datachannel_frame.h"
#include "weir/alloc.h"
#include "weir/errors.h"

typedef struct data_row {
    const char *text;
    size_t len; /* 0: strlen */
    int rc;
    const char *json; /* expected `data` JSON text */
    bool clear;
} data_row;

static const data_row data_rows[] = {
    {"{\"op\":\"line\",\"x\":0.1}", 0, 0, "{\"op\":\"line\",\"x\":0.1}", false},
    {"  {\"op\":\"clear\"}\n", 0, 0, "{\"op\":\"clear\"}", true},
    {"{\"op\":\"clear\",\"by\":\"me\"}", 0, 0, "{\"op\":\"clear\",\"by\":\"me\"}", true},
    {"{\"op\":\"Clear\"}", 0, 0, "{\"op\":\"Clear\"}", false},
    {"[{\"op\":\"clear\"}]", 0, 0, "[{\"op\":\"clear\"}]", false},
    {"42", 0, 0, "42", false},
    {"\"quoted\"", 0, 0, "\"quoted\"", false},
    {"hello world", 0, 0, "\"hello world\"", false},
    {"say \"hi\"\\", 0, 0, "\"say \\\"hi\\\"\\\\\"", false},
    {"{\"a\":1", 0, 0, "\"{\\\"a\\\":1\"", false}, /* truncated JSON is text */
    {"{\"a\":1} x", 0, 0, "\"{\\\"a\\\":1} x\"", false},
    {"", 0, 0, "\"\"", false},
    {"caf\xc3\xa9", 0, 0, "\"caf\xc3\xa9\"", false},
    {"a\0b", 3, 0, "\"a\\u0000b\"", false},
    {"\xff\xfe", 0, -WEIR_EINVAL, NULL, false},
    {"{\"s\":\"\xc3\"}", 0, -WEIR_EINVAL, NULL, false},
};

Test(datachannel_frame, data_from_text)
{
    for (size_t i = 0; i < sizeof data_rows / sizeof data_rows[0]; i++) {
        const data_row *r = &data_rows[i];
        size_t len = r->len ? r->len : strlen(r->text);
        weir_dc_data d = {0};
        int rc = weir_dc_data_from_text((const uint8_t *)r->text, len, &d);
        cr_assert_eq(rc, r->rc, "row %zu: rc %d, want %d", i, rc, r->rc);
        if (rc < 0) {
            cr_assert_null(d.json, "row %zu: allocated on error", i);
            continue;
        }
        cr_assert_str_eq(d.json, r->json, "row %zu", i);
        cr_assert_eq(d.len, strlen(r->json), "row %zu", i);
        cr_assert_eq(d.is_clear, r->clear, "row %zu", i);
        /* whatever it is, it is one JSON value */
        json_t *v = json_loads(d.json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        cr_assert(v, "row %zu: %s is not JSON", i, d.json);
        json_decref(v);
        weir_dc_data_free(&d);
    }
}

static json_t *stamped(uint64_t seq, const char *from, int64_t ts, const char *data)
{
    weir_room_log_entry e = {.seq = seq,
                             .ts_ms = ts,
                             .from = from,
                             .from_len = (uint16_t)strlen(from),
                             .data = (const uint8_t *)data,
                             .data_len = (uint32_t)strlen(data)};
    uint8_t *buf;
    size_t n = weir_dc_frame_stamped(&e, &buf);
    cr_assert_eq(n, weir_dc_frame_stamped_len(&e));
    json_error_t err;
    json_t *v = json_loadb((const char *)buf, n, 0, &err);
    cr_assert(v, "not JSON (%s): %.*s", err.text, (int)n, buf);
    weir_free(buf);
    return v;
}

Test(datachannel_frame, stamped_fields_in_order)
{
    json_t *v = stamped(7, "p0123456789a", 1764120000123, "{\"op\":\"line\",\"pts\":[1,2]}");
    cr_assert_eq(json_integer_value(json_object_get(v, "seq")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(v, "from")), "p0123456789a");
    cr_assert_eq(json_integer_value(json_object_get(v, "ts")), 1764120000123);
    json_t *pts = json_object_get(json_object_get(v, "data"), "pts");
    cr_assert_eq(json_array_size(pts), 2);
    /* the contract's key order: seq, from, ts, data */
    const char *want[] = {"seq", "from", "ts", "data"};
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        (void)val;
        cr_assert_str_eq(key, want[i++]);
    }
    json_decref(v);
}

Test(datachannel_frame, stamped_escapes_a_strange_sender)
{
    json_t *v = stamped(UINT64_C(9007199254740993), "a\"b\\c\n", -5, "\"text\"");
    cr_assert_str_eq(json_string_value(json_object_get(v, "from")), "a\"b\\c\n");
    cr_assert_str_eq(json_string_value(json_object_get(v, "data")), "text");
    cr_assert_eq(json_integer_value(json_object_get(v, "ts")), -5);
    json_decref(v);
}

Test(datachannel_frame, error_frame)
{
    uint8_t *buf;
    size_t n = weir_dc_frame_error(403, "only a \"teacher\"", &buf);
    json_t *v = json_loadb((const char *)buf, n, 0, NULL);
    cr_assert(v);
    json_t *e = json_object_get(v, "error");
    cr_assert_eq(json_integer_value(json_object_get(e, "code")), 403);
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")), "only a \"teacher\"");
    cr_assert_eq(json_object_size(v), 1);
    json_decref(v);
    weir_free(buf);
}
