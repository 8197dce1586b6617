/*
 * libFuzzer target for peer/negotiate*.c: whatever parses as SDP is offered
 * to the publisher negotiation; an answer it builds must write to text the
 * SDP parser accepts and that parses back to an equal model; a refusal must
 * leave the outputs untouched. The desc's strings must be terminated.
 * Seeds: tests/fuzz/corpus/negotiate (Chromium's offers and small variants).
 */
#include <stdlib.h>
#include <string.h>

#include "peer/negotiate.h"
#include "weir/alloc.h"

static void check_desc(const weir_publish_desc *d)
{
    if (d->n_media == 0 || d->n_media > WEIR_NEGOTIATE_MAX_MEDIA)
        abort();
    if (!memchr(d->ice_ufrag, 0, sizeof d->ice_ufrag) ||
        !memchr(d->bundle_mid, 0, sizeof d->bundle_mid))
        abort();
    for (size_t i = 0; i < d->n_media; i++) {
        const weir_publish_media *pm = &d->media[i];
        if (pm->n_rids > WEIR_NEGOTIATE_MAX_RIDS || pm->n_ssrcs > WEIR_NEGOTIATE_MAX_RIDS)
            abort();
        if (!memchr(pm->reject_reason, 0, sizeof pm->reject_reason))
            abort();
        if (!pm->rejected && (pm->kind == WEIR_SDP_AUDIO || pm->kind == WEIR_SDP_VIDEO) &&
            (pm->pt < 0 || pm->pt > 127))
            abort();
    }
}

static void answer_round_trip(const weir_sdp *answer)
{
    size_t len;
    char err[128];
    weir_sdp *again = NULL;
    char *text = weir_sdp_write(answer, &len);
    if (weir_sdp_parse(text, len, &again, err, sizeof err) != 0)
        abort(); /* we answered something no parser accepts */
    if (!weir_sdp_equal(answer, again))
        abort();
    weir_sdp_free(again);
    weir_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cands[] = {"candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host"};
    weir_sdp *offer = NULL;
    char err[256];
    if (weir_sdp_parse((const char *)data, size, &offer, err, sizeof err) != 0)
        return 0;
    weir_local_params lp;
    weir_local_params_init(&lp);
    lp.ice_ufrag = "Wz3k";
    lp.ice_pwd = "abcdefghijklmnopqrstuvwx";
    lp.fingerprint = "sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
                     "CD:EF:01:23:45:67:89:AB:CD:EF";
    lp.candidates = cands;
    lp.n_candidates = size & 1; /* both trickle and gathered */
    lp.candidates_complete = size & 2;
    weir_publish_desc *desc = weir_malloc(sizeof *desc);
    memset(desc, 0x5a, sizeof *desc);
    weir_sdp *answer = NULL;
    if (weir_negotiate_publisher_answer(offer, &lp, &answer, desc, err, sizeof err) == 0) {
        check_desc(desc);
        answer_round_trip(answer);
        const char *mids[] = {desc->media[0].mid};
        const char *sources[] = {"screen"};
        weir_negotiate_apply_sources(desc, mids, sources, 1, err, sizeof err);
        weir_sdp_free(answer);
    } else {
        if (answer != NULL || ((unsigned char *)desc)[0] != 0x5a)
            abort(); /* outputs touched on error */
    }
    weir_free(desc);
    weir_sdp_free(offer);
    return 0;
}
