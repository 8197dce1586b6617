/*
 * DCEP (RFC 8832) messages and the WebRTC PPIDs (RFC 8831 §8). Vectors are
 * built by hand from the §5.1 field layout. Truncation tests copy into
 * exactly sized heap buffers so ASan sees any read past the end.
 */
#include <criterion/criterion.h>

#include "support/assert_bytes.h"
#include <stdlib.h>
#include <string.h>

#include "proto/dcep.h"
#include "weir/errors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */

/* createDataChannel("whiteboard"): reliable, ordered, normal priority, no protocol. */
static const uint8_t OPEN_WHITEBOARD[] = {
    0x03,                   /* DATA_CHANNEL_OPEN */
    0x00,                   /* DATA_CHANNEL_RELIABLE */
    0x01, 0x00,             /* priority 256 */
    0x00, 0x00, 0x00, 0x00, /* reliability parameter */
    0x00, 0x0a,             /* label length 10 */
    0x00, 0x00,             /* protocol length 0 */
    'w', 'h', 'i', 't', 'e', 'b', 'o', 'a', 'r', 'd',
};

/* createDataChannel("cursor", {ordered: false, maxRetransmits: 3, protocol: "v1"}). */
static const uint8_t OPEN_CURSOR_REXMIT[] = {
    0x03,
    0x81,                   /* DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED */
    0x02, 0x00,             /* priority 512 (high) */
    0x00, 0x00, 0x00, 0x03, /* 3 retransmissions */
    0x00, 0x06,
    0x00, 0x02,
    'c', 'u', 'r', 's', 'o', 'r',
    'v', '1',
};

/* createDataChannel("", {maxPacketLifeTime: 1500}): empty label is legal. */
static const uint8_t OPEN_TIMED_EMPTY[] = {
    0x03, 0x02, 0x00, 0x80,
    0x00, 0x00, 0x05, 0xdc, /* 1500 ms */
    0x00, 0x00, 0x00, 0x00,
};

/* Unordered reliable with a non-ASCII label: "é✓" (2 + 3 bytes of UTF-8). */
static const uint8_t OPEN_UTF8[] = {
    0x03, 0x80, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x05, 0x00, 0x00,
    0xc3, 0xa9, 0xe2, 0x9c, 0x93,
};

/* clang-format on */

static uint8_t *heap_copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    cr_assert(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

typedef struct open_row {
    const char *name;
    const uint8_t *msg;
    size_t len;
    uint8_t channel_type;
    uint16_t priority;
    uint32_t reliability;
    const char *label;
    const char *protocol;
    bool unordered;
} open_row;

static const open_row OPEN_ROWS[] = {
    {"whiteboard", OPEN_WHITEBOARD, sizeof OPEN_WHITEBOARD, WEIR_DCEP_CHANNEL_RELIABLE, 256, 0,
     "whiteboard", "", false},
    {"cursor", OPEN_CURSOR_REXMIT, sizeof OPEN_CURSOR_REXMIT,
     WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED, 512, 3, "cursor", "v1", true},
    {"timed", OPEN_TIMED_EMPTY, sizeof OPEN_TIMED_EMPTY, WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED,
     128, 1500, "", "", false},
    {"utf8", OPEN_UTF8, sizeof OPEN_UTF8, WEIR_DCEP_CHANNEL_RELIABLE_UNORDERED, 256, 0,
     "\xc3\xa9\xe2\x9c\x93", "", true},
};

Test(dcep, open_vectors_parse_and_write_back_byte_exact)
{
    for (size_t i = 0; i < N(OPEN_ROWS); i++) {
        const open_row *r = &OPEN_ROWS[i];
        uint8_t *buf = heap_copy(r->msg, r->len);
        weir_dcep_open o;
        cr_assert_eq(weir_dcep_message_type(buf, r->len), WEIR_DCEP_OPEN, "%s", r->name);
        cr_assert_eq(weir_dcep_open_parse(buf, r->len, &o), 0, "%s", r->name);
        cr_assert_eq(o.channel_type, r->channel_type, "%s", r->name);
        cr_assert_eq(o.priority, r->priority, "%s", r->name);
        cr_assert_eq(o.reliability, r->reliability, "%s", r->name);
        cr_assert(weir_dcep_label_is(&o, r->label), "%s", r->name);
        cr_assert_eq(o.protocol_len, strlen(r->protocol), "%s", r->name);
        cr_assert(o.protocol_len == 0 || memcmp(o.protocol, r->protocol, o.protocol_len) == 0);
        /* zero-copy: the strings point into the caller's buffer */
        cr_assert_eq((const uint8_t *)o.label, buf + WEIR_DCEP_OPEN_HEADER_LEN, "%s", r->name);
        cr_assert_eq(weir_dcep_channel_unordered(o.channel_type), r->unordered, "%s", r->name);

        uint8_t out[WEIR_DCEP_OPEN_MAX_LEN];
        int len = weir_dcep_open_write(out, sizeof out, &o);
        assert_bytes(out, (size_t)(len < 0 ? 0 : len), r->msg, r->len);
        free(buf);
    }
}

Test(dcep, every_truncation_is_rejected_and_leaves_output_untouched)
{
    for (size_t i = 0; i < N(OPEN_ROWS); i++) {
        const open_row *r = &OPEN_ROWS[i];
        for (size_t n = 0; n < r->len; n++) {
            uint8_t *buf = heap_copy(r->msg, n);
            weir_dcep_open o, sentinel;
            memset(&o, 0xa5, sizeof o);
            memcpy(&sentinel, &o, sizeof o);
            cr_assert_eq(weir_dcep_open_parse(buf, n, &o), -WEIR_EINVAL, "%s len %zu", r->name, n);
            cr_assert_eq(memcmp(&o, &sentinel, sizeof o), 0, "%s len %zu", r->name, n);
            free(buf);
        }
    }
}

Test(dcep, trailing_bytes_are_malformed)
{
    uint8_t buf[sizeof OPEN_WHITEBOARD + 1];
    memcpy(buf, OPEN_WHITEBOARD, sizeof OPEN_WHITEBOARD);
    buf[sizeof OPEN_WHITEBOARD] = 'x';
    weir_dcep_open o;
    cr_assert_eq(weir_dcep_open_parse(buf, sizeof buf, &o), -WEIR_EINVAL);
}

typedef struct bad_row {
    const char *name;
    size_t offset; /* byte of OPEN_WHITEBOARD to replace */
    uint8_t value;
} bad_row;

Test(dcep, bad_fields_are_rejected)
{
    static const bad_row rows[] = {
        {"ack type", 0, 0x02},        {"reserved type", 0, 0x00},      {"type 0xff", 0, 0xff},
        {"channel 0x03", 1, 0x03},    {"channel 0x40", 1, 0x40},       {"channel 0x83", 1, 0x83},
        {"label len +1", 9, 0x0b},    {"label len -1", 9, 0x09},       {"protocol len 1", 11, 0x01},
        {"label not utf8", 12, 0xff}, {"lone continuation", 13, 0x80},
    };
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t buf[sizeof OPEN_WHITEBOARD];
        memcpy(buf, OPEN_WHITEBOARD, sizeof buf);
        buf[rows[i].offset] = rows[i].value;
        weir_dcep_open o;
        cr_assert_eq(weir_dcep_open_parse(buf, sizeof buf, &o), -WEIR_EINVAL, "%s", rows[i].name);
    }
}

Test(dcep, invalid_utf8_sequences)
{
    static const struct {
        const char *name;
        uint8_t bytes[4];
        uint8_t len;
        bool ok;
    } rows[] = {
        {"ascii", {'a'}, 1, true},
        {"U+00E9", {0xc3, 0xa9}, 2, true},
        {"overlong 2", {0xc0, 0xaf}, 2, false},
        {"overlong 3", {0xe0, 0x80, 0xaf}, 3, false},
        {"surrogate", {0xed, 0xa0, 0x80}, 3, false},
        {"U+FFFD", {0xef, 0xbf, 0xbd}, 3, true},
        {"U+1F600", {0xf0, 0x9f, 0x98, 0x80}, 4, true},
        {"above U+10FFFF", {0xf4, 0x90, 0x80, 0x80}, 4, false},
        {"cut 3-byte", {0xe2, 0x9c}, 2, false},
        {"bad continuation", {0xe2, 0x9c, 0x41}, 3, false},
        {"NUL", {0x00}, 1, true},
    };
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t buf[WEIR_DCEP_OPEN_HEADER_LEN + 4] = {0x03, 0x00, 0x01, 0x00,        0,    0,
                                                      0,    0,    0x00, rows[i].len, 0x00, 0x00};
        memcpy(buf + WEIR_DCEP_OPEN_HEADER_LEN, rows[i].bytes, rows[i].len);
        weir_dcep_open o;
        int rc = weir_dcep_open_parse(buf, WEIR_DCEP_OPEN_HEADER_LEN + rows[i].len, &o);
        cr_assert_eq(rc, rows[i].ok ? 0 : -WEIR_EINVAL, "%s: %d", rows[i].name, rc);
        /* the same bytes as the protocol */
        buf[9] = 0;
        buf[11] = rows[i].len;
        rc = weir_dcep_open_parse(buf, WEIR_DCEP_OPEN_HEADER_LEN + rows[i].len, &o);
        cr_assert_eq(rc, rows[i].ok ? 0 : -WEIR_EINVAL, "%s as protocol: %d", rows[i].name, rc);
    }
}

/* An OPEN with a label of label_len 'a's and protocol of protocol_len 'b's. */
static uint8_t *make_open(size_t label_len, size_t protocol_len, size_t *len)
{
    *len = WEIR_DCEP_OPEN_HEADER_LEN + label_len + protocol_len;
    uint8_t *m = malloc(*len);
    cr_assert(m);
    memcpy(m, (const uint8_t[]){0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0}, 8);
    m[8] = (uint8_t)(label_len >> 8);
    m[9] = (uint8_t)label_len;
    m[10] = (uint8_t)(protocol_len >> 8);
    m[11] = (uint8_t)protocol_len;
    memset(m + WEIR_DCEP_OPEN_HEADER_LEN, 'a', label_len);
    memset(m + WEIR_DCEP_OPEN_HEADER_LEN + label_len, 'b', protocol_len);
    return m;
}

Test(dcep, label_and_protocol_caps)
{
    static const struct {
        size_t label, protocol;
        int rc;
    } rows[] = {
        {WEIR_DCEP_LABEL_MAX, WEIR_DCEP_PROTOCOL_MAX, 0},
        {WEIR_DCEP_LABEL_MAX + 1, 0, -WEIR_ETOOBIG},
        {0, WEIR_DCEP_PROTOCOL_MAX + 1, -WEIR_ETOOBIG},
        {65535, 65535, -WEIR_ETOOBIG}, /* the RFC's largest: well formed, over our cap */
    };
    for (size_t i = 0; i < N(rows); i++) {
        size_t len;
        uint8_t *m = make_open(rows[i].label, rows[i].protocol, &len);
        weir_dcep_open o;
        cr_assert_eq(weir_dcep_open_parse(m, len, &o), rows[i].rc, "row %zu", i);
        if (rows[i].rc == 0) {
            uint8_t out[WEIR_DCEP_OPEN_MAX_LEN];
            cr_assert_eq(weir_dcep_open_write(out, sizeof out, &o), (int)len);
            cr_assert_eq(memcmp(out, m, len), 0);
            cr_assert_eq(weir_dcep_open_write(out, len - 1, &o), -WEIR_ETOOBIG);
        }
        free(m);
    }
}

Test(dcep, writer_refuses_bad_opens)
{
    uint8_t out[WEIR_DCEP_OPEN_MAX_LEN + 1];
    char big[WEIR_DCEP_LABEL_MAX + 1];
    memset(big, 'x', sizeof big);
    weir_dcep_open o = {.label = "chat", .label_len = 4, .channel_type = 0x03};
    cr_assert_eq(weir_dcep_open_write(out, sizeof out, &o), -WEIR_EINVAL);
    o.channel_type = WEIR_DCEP_CHANNEL_RELIABLE;
    o.label = NULL;
    cr_assert_eq(weir_dcep_open_write(out, sizeof out, &o), -WEIR_EINVAL);
    o.label = big;
    o.label_len = sizeof big;
    cr_assert_eq(weir_dcep_open_write(out, sizeof out, &o), -WEIR_ETOOBIG);
    o.label_len = 4;
    cr_assert_eq(weir_dcep_open_write(out, WEIR_DCEP_OPEN_HEADER_LEN + 3, &o), -WEIR_ETOOBIG);
    cr_assert_eq(weir_dcep_open_write(out, WEIR_DCEP_OPEN_HEADER_LEN + 4, &o), 16);
}

Test(dcep, reliability_parameter_of_reliable_channels_is_ignored_and_written_as_zero)
{
    uint8_t buf[sizeof OPEN_WHITEBOARD];
    memcpy(buf, OPEN_WHITEBOARD, sizeof buf);
    buf[7] = 0x09; /* a sender that did not zero it */
    weir_dcep_open o;
    cr_assert_eq(weir_dcep_open_parse(buf, sizeof buf, &o), 0);
    cr_assert_eq(o.reliability, 0);

    o.reliability = 77;
    uint8_t out[64];
    int len = weir_dcep_open_write(out, sizeof out, &o);
    assert_bytes(out, (size_t)len, OPEN_WHITEBOARD, sizeof OPEN_WHITEBOARD);
}

Test(dcep, ack)
{
    static const uint8_t ack[] = {0x02};
    static const uint8_t long_ack[] = {0x02, 0x00};
    uint8_t out[4];
    cr_assert_eq(weir_dcep_message_type(ack, 1), WEIR_DCEP_ACK);
    cr_assert_eq(weir_dcep_ack_parse(ack, 1), 0);
    cr_assert_eq(weir_dcep_ack_parse(ack, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_dcep_ack_parse(long_ack, 2), -WEIR_EINVAL);
    cr_assert_eq(weir_dcep_ack_parse(OPEN_WHITEBOARD, 1), -WEIR_EINVAL);
    cr_assert_eq(weir_dcep_ack_write(out, 0), -WEIR_ETOOBIG);
    cr_assert_eq(weir_dcep_ack_write(out, sizeof out), 1);
    assert_bytes(out, 1, ack, 1);
    cr_assert_eq(weir_dcep_message_type(ack, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_dcep_message_type((const uint8_t[]){0x01}, 1), -WEIR_EINVAL);
}

Test(dcep, ppids)
{
    static const struct {
        uint32_t ppid;
        int rc;
        bool dcep, text, empty;
    } rows[] = {
        {50, 0, true, false, false},
        {51, 0, false, true, false},
        {53, 0, false, false, false},
        {56, 0, false, true, true},
        {57, 0, false, false, true},
        {52, -WEIR_EUNSUPPORTED, false, false, false},
        {54, -WEIR_EUNSUPPORTED, false, false, false},
        {0, -WEIR_EINVAL, false, false, false},
        {55, -WEIR_EINVAL, false, false, false},
        {58, -WEIR_EINVAL, false, false, false},
        {0xffffffffu, -WEIR_EINVAL, false, false, false},
    };
    for (size_t i = 0; i < N(rows); i++) {
        weir_dcep_ppid_info info = {.is_dcep = true, .is_text = true, .is_empty = true};
        cr_assert_eq(weir_dcep_ppid_classify(rows[i].ppid, &info), rows[i].rc, "ppid %u",
                     rows[i].ppid);
        if (rows[i].rc < 0) {
            cr_assert(info.is_dcep && info.is_text && info.is_empty, "untouched on error");
            continue;
        }
        cr_assert_eq(info.is_dcep, rows[i].dcep, "ppid %u", rows[i].ppid);
        cr_assert_eq(info.is_text, rows[i].text, "ppid %u", rows[i].ppid);
        cr_assert_eq(info.is_empty, rows[i].empty, "ppid %u", rows[i].ppid);
    }
    cr_assert_eq(weir_dcep_ppid_for(true, 5), WEIR_DCEP_PPID_STRING);
    cr_assert_eq(weir_dcep_ppid_for(true, 0), WEIR_DCEP_PPID_STRING_EMPTY);
    cr_assert_eq(weir_dcep_ppid_for(false, 5), WEIR_DCEP_PPID_BINARY);
    cr_assert_eq(weir_dcep_ppid_for(false, 0), WEIR_DCEP_PPID_BINARY_EMPTY);
}
