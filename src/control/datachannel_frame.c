/*
 * Stamped and error frames of the data channels (datachannel_frame.h).
 * The stamped frame is assembled as text around the stored `data` JSON so
 * that replaying a 100,000-op history never parses anything.
 */
#include "control/datachannel_frame.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool object_is_clear(const json_t *v)
{
    const char *op = json_string_value(json_object_get(v, "op"));
    return json_is_object(v) && op && strcmp(op, "clear") == 0;
}

int weir_dc_data_from_text(const uint8_t *text, size_t len, weir_dc_data *out)
{
    json_error_t jerr;
    /* JSON_DECODE_ANY: "42" and "\"hi\"" are values too. NULs (\u0000) are refused by
     * jansson without JSON_ALLOW_NUL, so such a text is kept as a string instead. A raw
     * NUL byte can end what jansson reads while len goes on (found by fuzz_datachannel:
     * the copy below would then be shorter than len), so such a text is a string too. */
    json_t *v =
        memchr(text, 0, len) ? NULL : json_loadb((const char *)text, len, JSON_DECODE_ANY, &jerr);
    if (v) {
        size_t b = 0, e = len;
        while (b < e && is_space(text[b]))
            b++;
        while (e > b && is_space(text[e - 1]))
            e--;
        out->is_clear = object_is_clear(v);
        json_decref(v);
        out->json = weir_strndup((const char *)text + b, e - b);
        out->len = e - b;
        return 0;
    }
    json_t *s = json_stringn((const char *)text, len); /* NULL when not UTF-8 */
    if (!s)
        return -WEIR_EINVAL;
    char *dumped = json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(s);
    if (!dumped)
        return -WEIR_EINVAL;
    out->len = strlen(dumped);
    out->json = weir_strndup(dumped, out->len);
    free(dumped); /* jansson allocated it */
    out->is_clear = false;
    return 0;
}

void weir_dc_data_free(weir_dc_data *d)
{
    weir_free(d->json);
    d->json = NULL;
    d->len = 0;
}

/*
 * The sender id as a JSON string. Participant ids are [a-z0-9], but a log
 * file carries whatever was stored: escape what JSON requires, so a
 * strange id can never break the frame.
 */
static size_t write_from(char *out, const char *from, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (out)
        out[o] = '"';
    o++;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)from[i];
        if (c == '"' || c == '\\') {
            if (out) {
                out[o] = '\\';
                out[o + 1] = (char)c;
            }
            o += 2;
        } else if (c < 0x20) {
            if (out) {
                memcpy(out + o, "\\u00", 4);
                out[o + 4] = hex[c >> 4];
                out[o + 5] = hex[c & 15];
            }
            o += 6;
        } else {
            if (out)
                out[o] = (char)c;
            o++;
        }
    }
    if (out)
        out[o] = '"';
    return o + 1;
}

static size_t render(const weir_room_log_entry *e, char *out)
{
    char head[64];
    int n = snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"from\":", e->seq);
    char mid[48];
    int m = snprintf(mid, sizeof mid, ",\"ts\":%" PRId64 ",\"data\":", e->ts_ms);
    size_t o = 0;
    if (out)
        memcpy(out, head, (size_t)n);
    o += (size_t)n;
    o += write_from(out ? out + o : NULL, e->from, e->from_len);
    if (out)
        memcpy(out + o, mid, (size_t)m);
    o += (size_t)m;
    if (out && e->data_len)
        memcpy(out + o, e->data, e->data_len);
    o += e->data_len;
    if (out)
        out[o] = '}';
    return o + 1;
}

size_t weir_dc_frame_stamped_len(const weir_room_log_entry *e)
{
    return render(e, NULL);
}

size_t weir_dc_frame_stamped(const weir_room_log_entry *e, uint8_t **out)
{
    size_t n = render(e, NULL);
    char *buf = weir_malloc(n);
    render(e, buf);
    *out = (uint8_t *)buf;
    return n;
}

size_t weir_dc_frame_error(int code, const char *message, uint8_t **out)
{
    json_t *v = json_pack("{s:{s:i, s:s}}", "error", "code", code, "message", message);
    char *dumped = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    /* a message that is not UTF-8: ours are ASCII, so only a bug gets here */
    const char *text = dumped ? dumped : "{\"error\":{\"code\":500,\"message\":\"internal\"}}";
    size_t n = strlen(text);
    *out = (uint8_t *)weir_strndup(text, n);
    free(dumped); /* jansson's allocation */
    return n;
}
