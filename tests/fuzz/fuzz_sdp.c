/*
 * libFuzzer target for proto/sdp*.c. Each input is used two ways:
 *   1. as a whole SDP: whatever parses must write, parse again to an equal
 *      model, and write again to the same text (the writer is canonical);
 *      the lookups run over every section on the way;
 *   2. as one attribute given to the builder, on a session and on an RTP
 *      section: a rejected attribute must leave the model unchanged.
 * Seeds: tests/fuzz/corpus/sdp (Chromium's SDPs and small variants).
 */
#include <stdlib.h>
#include <string.h>

#include "proto/sdp.h"
#include "weir/alloc.h"

#define MAX_ATTR 4096

static void touch_lookups(const weir_sdp *sdp)
{
    weir_sdp_find_group(sdp, "BUNDLE");
    for (size_t i = 0; i < sdp->n_media; i++) {
        const weir_sdp_media *m = sdp->media[i];
        weir_sdp_transport t;
        weir_sdp_media_transport(sdp, m, &t);
        weir_sdp_media_direction(sdp, m);
        if (m->mid && weir_sdp_find_media(sdp, m->mid) == NULL)
            abort();
        for (size_t j = 0; j < m->n_rtpmaps; j++) {
            unsigned pt = m->rtpmaps[j].pt;
            uint32_t v;
            const char *fmtp = weir_sdp_media_find_fmtp(m, pt);
            weir_sdp_fmtp_param_uint(fmtp, "apt", &v);
            weir_sdp_fmtp_param_uint(fmtp, "profile-level-id", &v);
            weir_sdp_media_rtx_pt(m, pt);
            weir_sdp_media_has_rtcp_fb(m, pt, "nack", "pli");
            if (weir_sdp_media_find_rtpmap(m, pt) != &m->rtpmaps[j])
                abort(); /* payload types are unique */
        }
        weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_MID);
    }
}

static void fuzz_session(const uint8_t *data, size_t size)
{
    weir_sdp *a = NULL, *b = NULL;
    char err[128];
    if (weir_sdp_parse((const char *)data, size, &a, err, sizeof err) != 0)
        return;
    touch_lookups(a);
    size_t len1, len2;
    char *text1 = weir_sdp_write(a, &len1);
    if (weir_sdp_parse(text1, len1, &b, err, sizeof err) != 0)
        abort(); /* the writer produced something the parser refuses */
    if (!weir_sdp_equal(a, b))
        abort();
    char *text2 = weir_sdp_write(b, &len2);
    if (len1 != len2 || memcmp(text1, text2, len1) != 0)
        abort();
    weir_free(text1);
    weir_free(text2);
    weir_sdp_free(a);
    weir_sdp_free(b);
}

static void check_unchanged_on_error(weir_sdp *sdp, weir_sdp_media *m, const char *attr)
{
    size_t before_len, after_len;
    char *before = weir_sdp_write(sdp, &before_len);
    char err[128];
    if (weir_sdp_add_attribute(sdp, m, attr, err, sizeof err) < 0) {
        char *after = weir_sdp_write(sdp, &after_len);
        if (before_len != after_len || memcmp(before, after, before_len) != 0)
            abort();
        weir_free(after);
    }
    weir_free(before);
}

static void fuzz_attribute(const uint8_t *data, size_t size)
{
    if (size > MAX_ATTR)
        return;
    char *attr = weir_malloc(size + 1);
    memcpy(attr, data, size);
    attr[size] = '\0';
    weir_sdp *sdp = weir_sdp_create(1, 1);
    weir_sdp_media *m = weir_sdp_add_media(sdp, "video", 9, "UDP/TLS/RTP/SAVPF");
    if (!m || weir_sdp_media_add_codec(sdp, m, 96, "VP8", 90000, 0, NULL) != 0 ||
        weir_sdp_add_attribute(sdp, m, "mid:0", NULL, 0) != 0)
        abort();
    check_unchanged_on_error(sdp, NULL, attr);
    check_unchanged_on_error(sdp, m, attr);
    /* Whatever the builder accepted must survive the text round trip. */
    size_t len;
    char *text = weir_sdp_write(sdp, &len);
    weir_sdp *again = NULL;
    if (weir_sdp_parse(text, len, &again, NULL, 0) != 0 || !weir_sdp_equal(sdp, again))
        abort();
    weir_sdp_free(again);
    weir_free(text);
    weir_sdp_free(sdp);
    weir_free(attr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_session(data, size);
    fuzz_attribute(data, size);
    return 0;
}
