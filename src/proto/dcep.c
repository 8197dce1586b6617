/*
 * DCEP (RFC 8832) and the WebRTC PPIDs (RFC 8831 §8). The OPEN layout
 * (§5.1), all fields in network order:
 *
 *   0: message type (0x03)   1: channel type   2..3: priority
 *   4..7: reliability parameter
 *   8..9: label length       10..11: protocol length
 *   12..: label, then protocol (no padding, no terminator)
 */
#include "proto/dcep.h"

#include <string.h>

#include "proto/wire.h"
#include "weir/errors.h"

static bool channel_type_known(uint8_t t)
{
    switch (t) {
    case WEIR_DCEP_CHANNEL_RELIABLE:
    case WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT:
    case WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED:
    case WEIR_DCEP_CHANNEL_RELIABLE_UNORDERED:
    case WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED:
    case WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED_UNORDERED:
        return true;
    default:
        return false;
    }
}

static bool channel_reliable(uint8_t t)
{
    return (t & ~WEIR_DCEP_CHANNEL_UNORDERED_BIT) == WEIR_DCEP_CHANNEL_RELIABLE;
}

/* Length of the UTF-8 sequence at s (RFC 3629 §4), 0 when invalid. */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

int weir_dcep_message_type(const uint8_t *buf, size_t len)
{
    if (len < 1 || (buf[0] != WEIR_DCEP_OPEN && buf[0] != WEIR_DCEP_ACK))
        return -WEIR_EINVAL;
    return buf[0];
}

int weir_dcep_open_parse(const uint8_t *buf, size_t len, weir_dcep_open *out)
{
    if (len < WEIR_DCEP_OPEN_HEADER_LEN || buf[0] != WEIR_DCEP_OPEN)
        return -WEIR_EINVAL;
    uint8_t type = buf[1];
    uint16_t label_len = weir_wire_get16(buf + 8);
    uint16_t protocol_len = weir_wire_get16(buf + 10);
    if (!channel_type_known(type))
        return -WEIR_EINVAL;
    /* SCTP preserves message boundaries: anything but an exact fit is malformed */
    if (len != (size_t)WEIR_DCEP_OPEN_HEADER_LEN + label_len + protocol_len)
        return -WEIR_EINVAL;
    const uint8_t *label = buf + WEIR_DCEP_OPEN_HEADER_LEN;
    const uint8_t *protocol = label + label_len;
    if (!utf8_valid(label, label_len) || !utf8_valid(protocol, protocol_len))
        return -WEIR_EINVAL;
    if (label_len > WEIR_DCEP_LABEL_MAX || protocol_len > WEIR_DCEP_PROTOCOL_MAX)
        return -WEIR_ETOOBIG;

    out->label = (const char *)label;
    out->protocol = (const char *)protocol;
    out->reliability = channel_reliable(type) ? 0 : weir_wire_get32(buf + 4);
    out->priority = weir_wire_get16(buf + 2);
    out->label_len = label_len;
    out->protocol_len = protocol_len;
    out->channel_type = type;
    return 0;
}

int weir_dcep_open_write(uint8_t *out, size_t cap, const weir_dcep_open *open)
{
    if (!channel_type_known(open->channel_type))
        return -WEIR_EINVAL;
    if ((open->label_len && !open->label) || (open->protocol_len && !open->protocol))
        return -WEIR_EINVAL;
    if (open->label_len > WEIR_DCEP_LABEL_MAX || open->protocol_len > WEIR_DCEP_PROTOCOL_MAX)
        return -WEIR_ETOOBIG;
    size_t len = (size_t)WEIR_DCEP_OPEN_HEADER_LEN + open->label_len + open->protocol_len;
    if (len > cap)
        return -WEIR_ETOOBIG;

    out[0] = WEIR_DCEP_OPEN;
    out[1] = open->channel_type;
    weir_wire_put16(out + 2, open->priority);
    /* §5.1: the reliability parameter of a reliable channel MUST be 0 when sent */
    weir_wire_put32(out + 4, channel_reliable(open->channel_type) ? 0 : open->reliability);
    weir_wire_put16(out + 8, open->label_len);
    weir_wire_put16(out + 10, open->protocol_len);
    if (open->label_len)
        memcpy(out + WEIR_DCEP_OPEN_HEADER_LEN, open->label, open->label_len);
    if (open->protocol_len)
        memcpy(out + WEIR_DCEP_OPEN_HEADER_LEN + open->label_len, open->protocol,
               open->protocol_len);
    return (int)len;
}

int weir_dcep_ack_parse(const uint8_t *buf, size_t len)
{
    if (len != WEIR_DCEP_ACK_LEN || buf[0] != WEIR_DCEP_ACK)
        return -WEIR_EINVAL;
    return 0;
}

int weir_dcep_ack_write(uint8_t *out, size_t cap)
{
    if (cap < WEIR_DCEP_ACK_LEN)
        return -WEIR_ETOOBIG;
    out[0] = WEIR_DCEP_ACK;
    return WEIR_DCEP_ACK_LEN;
}

bool weir_dcep_channel_unordered(uint8_t channel_type)
{
    return (channel_type & WEIR_DCEP_CHANNEL_UNORDERED_BIT) != 0;
}

bool weir_dcep_label_is(const weir_dcep_open *open, const char *name)
{
    size_t n = strlen(name);
    return n == open->label_len && (n == 0 || memcmp(open->label, name, n) == 0);
}

int weir_dcep_ppid_classify(uint32_t ppid, weir_dcep_ppid_info *out)
{
    weir_dcep_ppid_info info = {0};
    switch (ppid) {
    case WEIR_DCEP_PPID_DCEP:
        info.is_dcep = true;
        break;
    case WEIR_DCEP_PPID_STRING:
        info.is_text = true;
        break;
    case WEIR_DCEP_PPID_BINARY:
        break;
    case WEIR_DCEP_PPID_STRING_EMPTY:
        info.is_text = true;
        info.is_empty = true;
        break;
    case WEIR_DCEP_PPID_BINARY_EMPTY:
        info.is_empty = true;
        break;
    case WEIR_DCEP_PPID_BINARY_PARTIAL:
    case WEIR_DCEP_PPID_STRING_PARTIAL:
        return -WEIR_EUNSUPPORTED;
    default:
        return -WEIR_EINVAL;
    }
    *out = info;
    return 0;
}

uint32_t weir_dcep_ppid_for(bool is_text, size_t len)
{
    if (len == 0)
        return is_text ? WEIR_DCEP_PPID_STRING_EMPTY : WEIR_DCEP_PPID_BINARY_EMPTY;
    return is_text ? WEIR_DCEP_PPID_STRING : WEIR_DCEP_PPID_BINARY;
}
