/*
 * libFuzzer target for weir-load's STUN reader (benchmarks/weir-load/stun.c),
 * which parses what the server under test sends. Properties: no crash or
 * overread on any input; a message that parses has a type and, when it
 * has a username, a NUL-terminated one that fits; answering it with a
 * success response gives a message that parses again with the same
 * transaction id.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "stun.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wl_stun_msg m;
    if (wl_stun_parse(data, size, &m) != 0)
        return 0;
    CHECK(size >= WL_STUN_HEADER);
    if (m.has_username)
        CHECK(strlen(m.username) < sizeof m.username);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
    uint8_t out[WL_STUN_MAX];
    int n = wl_stun_write_success(m.txid, &sa, "pw", out, sizeof out);
    CHECK(n > 0);
    wl_stun_msg back;
    CHECK(wl_stun_parse(out, (size_t)n, &back) == 0);
    CHECK(back.type == WL_STUN_BINDING_SUCCESS && memcmp(back.txid, m.txid, 12) == 0);
    return 0;
}
