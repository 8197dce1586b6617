/*
 * libFuzzer target for weir_negotiate_subscriber_answer(): the first byte
 * picks one of Weir's own offers (audio+video; three publishers; a removed
 * video and a removed first line), the rest is parsed as the client's
 * answer. An accepted answer must give a desc whose strings are terminated
 * and whose counts are in range; a refused one must leave the desc
 * untouched. Seeds: tests/fuzz/corpus/subscriber_answer (Chromium's and
 * aiortc's real answers, prefixed with the offer byte).
 */
#include <stdlib.h>
#include <string.h>

#include "peer/negotiate_subscriber.h"
#include "weir/alloc.h"

static weir_subscriber_track track(const char *mid, const char *pub, weir_codec c, uint32_t ssrc,
                                   bool active)
{
    weir_subscriber_track t = {.kind = c == WEIR_CODEC_OPUS ? WEIR_SDP_AUDIO : WEIR_SDP_VIDEO,
                               .active = active,
                               .codec = c,
                               .red = c == WEIR_CODEC_OPUS,
                               .ssrc = ssrc,
                               .rtx_ssrc = c == WEIR_CODEC_OPUS ? 0 : ssrc + 1};
    strcpy(t.mid, mid);
    strcpy(t.stream_id, pub);
    strcpy(t.track_id, mid);
    strcpy(t.cname, pub);
    return t;
}

static weir_sdp *make_offer(unsigned which)
{
    weir_subscriber_track t[6] = {
        track("0", "a", WEIR_CODEC_OPUS, 10, which != 2),
        track("1", "a", WEIR_CODEC_VP8, 20, true),
        track("2", "b", WEIR_CODEC_OPUS, 30, true),
        track("3", "b", WEIR_CODEC_VP8, 40, which != 2),
        track("4", "c", WEIR_CODEC_OPUS, 50, true),
        track("5", "c", WEIR_CODEC_H264, 60, true),
    };
    size_t n = which == 0 ? 2 : which == 1 ? 6 : 4;
    weir_local_params lp;
    weir_local_params_init(&lp);
    lp.ice_ufrag = "Wz3k";
    lp.ice_pwd = "abcdefghijklmnopqrstuvwx";
    lp.fingerprint = "sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
                     "CD:EF:01:23:45:67:89:AB:CD:EF";
    lp.session_id = 1;
    lp.session_version = 1;
    weir_sdp *o = NULL;
    if (weir_negotiate_subscriber_offer(&lp, t, n, &o, NULL, 0) != 0)
        abort();
    return o;
}

static void check_desc(const weir_subscriber_answer_desc *d, const weir_sdp *offer)
{
    if (d->n_media != offer->n_media || d->n_candidates > WEIR_SUBSCRIBER_MAX_CANDIDATES)
        abort();
    if (!memchr(d->ice_ufrag, 0, sizeof d->ice_ufrag) ||
        !memchr(d->ice_pwd, 0, sizeof d->ice_pwd) ||
        !memchr(d->fingerprint, 0, sizeof d->fingerprint) ||
        !memchr(d->fingerprint_hash, 0, sizeof d->fingerprint_hash) || !d->bundle_mid[0])
        abort();
    for (size_t i = 0; i < d->n_candidates; i++)
        if (!memchr(d->candidates[i], 0, sizeof d->candidates[i]) ||
            strncmp(d->candidates[i], "candidate:", 10))
            abort();
    for (size_t i = 0; i < d->n_media; i++)
        if (strcmp(d->media[i].mid, offer->media[i]->mid) ||
            (d->media[i].accepted && !d->media[i].bundled))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static weir_sdp *offers[3];
    if (size < 1)
        return 0;
    unsigned which = data[0] % 3;
    if (!offers[which])
        offers[which] = make_offer(which); /* kept for the process: not a leak per input */
    weir_sdp *answer = NULL;
    if (weir_sdp_parse((const char *)data + 1, size - 1, &answer, NULL, 0) != 0)
        return 0;
    weir_subscriber_answer_desc *d = weir_malloc(sizeof *d);
    memset(d, 0x5a, sizeof *d);
    char err[256];
    if (weir_negotiate_subscriber_answer(offers[which], answer, d, err, sizeof err) == 0) {
        check_desc(d, offers[which]);
    } else {
        for (size_t i = 0; i < sizeof *d; i++)
            if (((unsigned char *)d)[i] != 0x5a)
                abort(); /* desc touched on error */
        if (!memchr(err, 0, sizeof err))
            abort();
    }
    weir_free(d);
    weir_sdp_free(answer);
    return 0;
}
