/*
 * libFuzzer target for proto/dcep.c. Each input is parsed as OPEN and as
 * ACK (the parsers see exactly size bytes, so ASan catches any read past
 * the end). Whatever OPEN parses must point inside the input, be written
 * back to the same length and parse again to equal fields; an accepted ACK
 * writes back byte-exact. The first four bytes also go through the PPID
 * classifier, whose answer must agree with weir_dcep_ppid_for.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/dcep.h"
#include "weir/errors.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void same_open(const weir_dcep_open *a, const weir_dcep_open *b)
{
    CHECK(a->channel_type == b->channel_type && a->priority == b->priority);
    CHECK(a->reliability == b->reliability);
    CHECK(a->label_len == b->label_len && a->protocol_len == b->protocol_len);
    CHECK(memcmp(a->label, b->label, a->label_len) == 0);
    CHECK(memcmp(a->protocol, b->protocol, a->protocol_len) == 0);
}

static void fuzz_open(const uint8_t *data, size_t size)
{
    weir_dcep_open o, o2;
    int rc = weir_dcep_open_parse(data, size, &o);
    if (rc < 0) {
        CHECK(rc == -WEIR_EINVAL || rc == -WEIR_ETOOBIG);
        return;
    }
    CHECK(weir_dcep_message_type(data, size) == WEIR_DCEP_OPEN);
    CHECK((const uint8_t *)o.label == data + WEIR_DCEP_OPEN_HEADER_LEN);
    CHECK(o.protocol == o.label + o.label_len);
    CHECK((const uint8_t *)o.protocol + o.protocol_len == data + size);
    CHECK(o.label_len <= WEIR_DCEP_LABEL_MAX && o.protocol_len <= WEIR_DCEP_PROTOCOL_MAX);

    uint8_t out[WEIR_DCEP_OPEN_MAX_LEN];
    int len = weir_dcep_open_write(out, sizeof out, &o);
    CHECK(len == (int)size);
    /* a reliable channel's ignored parameter is the only byte allowed to differ */
    CHECK(memcmp(out, data, 4) == 0 && memcmp(out + 8, data + 8, size - 8) == 0);
    CHECK(weir_dcep_open_parse(out, (size_t)len, &o2) == 0);
    same_open(&o, &o2);
    CHECK(weir_dcep_open_write(out, (size_t)len - 1, &o) == -WEIR_ETOOBIG);
}

static void fuzz_ppid(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    uint32_t ppid = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | data[2] << 8 | data[3];
    weir_dcep_ppid_info info;
    if (weir_dcep_ppid_classify(ppid % 64, &info) == 0 && !info.is_dcep)
        CHECK(weir_dcep_ppid_for(info.is_text, info.is_empty ? 0 : 1) == ppid % 64);
    (void)weir_dcep_ppid_classify(ppid, &info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open(data, size);
    if (weir_dcep_ack_parse(data, size) == 0) {
        uint8_t out[1];
        CHECK(weir_dcep_ack_write(out, sizeof out) == 1 && out[0] == data[0] && size == 1);
    }
    int t = weir_dcep_message_type(data, size);
    CHECK(t == WEIR_DCEP_OPEN || t == WEIR_DCEP_ACK || t == -WEIR_EINVAL);
    fuzz_ppid(data, size);
    return 0;
}
