/*
 * Differential libFuzzer target for peer/srtp_gcm_tx.c: every input is a
 * sequence of RTP packets protected twice under the same GCM keys, once on
 * the OpenSSL path (weir_srtp default) and once on libsrtp
 * (weir_srtp_options.libsrtp_tx). Both must return the same code and, on
 * success, the same bytes (abort() otherwise): header parsing (CSRCs,
 * extension lengths), the rollover estimate across arbitrary seq jumps, the
 * window edge and SSRC removal all have to agree with libsrtp's. The OpenSSL
 * table is not filled here (at most MAX_PACKETS SSRCs per input).
 *
 * Input: records of a 2-byte big-endian header then the packet. The
 * header's low 11 bits are the packet length (cut to what is left); bit 15:
 * first remove the packet's SSRC (outbound) on both; bit 14: give one byte
 * less tail room than the tag needs (-WEIR_ETOOBIG on both).
 * Sessions are created and destroyed per input, so LeakSanitizer sees each
 * input balance.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/srtp.h"
#include "support/gcm_keys.h"
#include "weir/log.h"

#define MAX_PACKETS 256
#define MAX_LEN 2047

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static weir_srtp_keys keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    if (weir_srtp_global_init() != 0)
        abort();
    test_gcm_keys(&keys, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t a[MAX_LEN + 16], b[MAX_LEN + 16];
    weir_srtp_options lib_opts = {.allow_repeat_tx = true, .libsrtp_tx = true};
    weir_srtp *fast = weir_srtp_create(&keys, NULL);
    weir_srtp *lib = weir_srtp_create(&keys, &lib_opts);
    CHECK(fast && lib);
    size_t off = 0;
    for (int k = 0; k < MAX_PACKETS && off + 2 <= size; k++) {
        unsigned hdr = (unsigned)data[off] << 8 | data[off + 1];
        off += 2;
        size_t len = hdr & MAX_LEN;
        if (len > size - off)
            len = size - off;
        memcpy(a, data + off, len);
        memcpy(b, data + off, len);
        off += len;
        if ((hdr & 0x8000) && len >= 12) {
            uint32_t ssrc = (uint32_t)a[8] << 24 | (uint32_t)a[9] << 16 | a[10] << 8 | a[11];
            weir_srtp_remove_ssrc(fast, ssrc, true);
            weir_srtp_remove_ssrc(lib, ssrc, true);
        }
        size_t cap = len + 16 - ((hdr & 0x4000) ? 1 : 0);
        size_t la = len, lb = len;
        int ra = weir_srtp_protect_rtp(fast, a, &la, cap);
        int rb = weir_srtp_protect_rtp(lib, b, &lb, cap);
        CHECK(ra == rb);
        CHECK(la == lb);
        if (ra == 0)
            CHECK(la == len + 16 && memcmp(a, b, la) == 0);
        else
            CHECK(la == len);
    }
    weir_srtp_destroy(fast);
    weir_srtp_destroy(lib);
    return 0;
}
