/*
 * libFuzzer target for control/tap_allow.c. The input (made a C string) is
 * parsed as an allow list and as a host. An accepted list must be
 * canonical (every network's host bits clear, prefix within its family)
 * and must match its own networks' addresses; a failed parse must leave
 * its output untouched. An accepted host must format and parse back to
 * the same address, and is checked against the list (no crash, no read
 * past the end: ASan).
 */
#include <stdlib.h>
#include <string.h>

#include "control/tap_allow.h"
#include "weir/errors.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_list(const weir_tap_allow *a)
{
    CHECK(a->n <= WEIR_TAP_ALLOW_MAX);
    for (size_t i = 0; i < a->n; i++) {
        const weir_tap_net *net = &a->nets[i];
        CHECK(net->addr.family == 4 || net->addr.family == 6);
        size_t bits = net->addr.family == 4 ? 32 : 128;
        CHECK(net->prefix_len <= bits);
        for (size_t b = net->prefix_len; b < bits; b++)
            CHECK(!(net->addr.bytes[b / 8] & (0x80 >> (b % 8))));
        CHECK(weir_tap_allow_match(a, &net->addr));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;

    weir_tap_allow *list = malloc(sizeof *list);
    list->n = 12345;
    char err[160];
    int rc = weir_tap_allow_parse(text, list, err, sizeof err);
    if (rc < 0) {
        CHECK(rc == -WEIR_EINVAL && list->n == 12345 && strlen(err) > 0);
        list->n = 0;
    } else {
        check_list(list);
    }

    weir_tap_addr addr, again;
    if (weir_tap_addr_parse(text, &addr) == 0) {
        char buf[64];
        CHECK(weir_tap_addr_parse(weir_tap_addr_format(&addr, buf, sizeof buf), &again) == 0);
        CHECK(again.family == addr.family && memcmp(again.bytes, addr.bytes, 16) == 0);
        (void)weir_tap_allow_match(list, &addr);
    }
    free(list);
    free(text);
    return 0;
}
