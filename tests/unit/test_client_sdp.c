/*
 * weir-client's SDP: the publisher offer (plain and simulcast) is one that
 * Weir's own negotiation accepts with the expected payload types, header
 * extension ids, SSRCs and rids; the answer's transport reads back; a
 * subscriber offer is answered with opus / VP8+RTX recvonly, setup active,
 * and everything else rejected.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "peer/negotiate.h"
#include "peer/negotiate_subscriber.h"
#include "proto/sdp.h"
#include "sdp_build.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define FP                                                                                         \
    "sha-256 "                                                                                     \
    "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB"
#define FP_SERVER                                                                                  \
    "sha-256 "                                                                                     \
    "CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD:CD"

static wc_offer_params offer_params(bool simulcast)
{
    wc_offer_params p = {
        .ice_ufrag = "ufrg",
        .ice_pwd = "pwdpwdpwdpwdpwdpwdpwdpwd",
        .fingerprint = FP,
        .session_id = 42,
        .cname = "cname1",
        .stream_id = "wc",
        .audio = true,
        .audio_ssrc = 1111,
        .video = true,
        .simulcast = simulcast,
    };
    if (simulcast) {
        static const char *const rids[] = {"q", "h", "f"};
        for (size_t i = 0; i < 3; i++)
            p.layers[i] = (wc_offer_layer){
                .rid = rids[i], .ssrc = 2000 + (uint32_t)i, .rtx_ssrc = 3000 + (uint32_t)i};
        p.n_layers = 3;
    } else {
        p.layers[0] = (wc_offer_layer){.ssrc = 2222, .rtx_ssrc = 3333};
        p.n_layers = 1;
    }
    return p;
}

/* Runs the offer through Weir's negotiation; returns the answer text. */
static char *negotiate(const char *offer_text, weir_publish_desc *desc)
{
    weir_sdp *offer = NULL;
    char err[256] = "";
    cr_assert_eq(weir_sdp_parse(offer_text, strlen(offer_text), &offer, err, sizeof err), 0,
                 "%s\n%s", err, offer_text);
    weir_local_params lp;
    weir_local_params_init(&lp);
    lp.ice_ufrag = "srvu";
    lp.ice_pwd = "serverpasswordserverpassword";
    lp.fingerprint = FP_SERVER;
    lp.session_id = 7;
    lp.session_version = 1;
    weir_sdp *answer = NULL;
    cr_assert_eq(weir_negotiate_publisher_answer(offer, &lp, &answer, desc, err, sizeof err), 0,
                 "refused: %s\n%s", err, offer_text);
    char *text = weir_sdp_write(answer, NULL);
    weir_sdp_free(answer);
    weir_sdp_free(offer);
    return text;
}

static void check_common(const weir_publish_desc *d)
{
    cr_assert_eq(d->n_media, 2);
    const weir_publish_media *a = &d->media[0], *v = &d->media[1];
    cr_assert_str_eq(a->mid, "0");
    cr_assert(!a->rejected && a->receiving);
    cr_assert_eq(a->codec, WEIR_CODEC_OPUS);
    cr_assert_eq(a->pt, WC_PT_OPUS);
    cr_assert_eq(a->ext.mid, WC_EXT_MID);
    cr_assert_eq(a->ext.audio_level, WC_EXT_AUDIO_LEVEL);
    cr_assert_eq(a->n_ssrcs, 1);
    cr_assert_eq(a->ssrcs[0].media, 1111);
    cr_assert_str_eq(v->mid, "1");
    cr_assert(!v->rejected && v->receiving);
    cr_assert_eq(v->codec, WEIR_CODEC_VP8);
    cr_assert_eq(v->pt, WC_PT_VP8);
    cr_assert_eq(v->rtx_pt, WC_PT_VP8_RTX);
    cr_assert_eq(v->ext.mid, WC_EXT_MID);
    cr_assert_eq(v->ext.abs_send_time, WC_EXT_ABS_SEND_TIME);
    cr_assert_eq(v->ext.twcc, WC_EXT_TWCC);
    cr_assert(v->rtcp_fb & WEIR_NEGOTIATE_FB_NACK);
    cr_assert(v->rtcp_fb & WEIR_NEGOTIATE_FB_PLI);
    cr_assert_eq(d->dtls_role, WEIR_DTLS_ROLE_SERVER, "Weir answers passive to actpass");
    cr_assert_str_eq(d->ice_ufrag, "ufrg");
}

Test(client_sdp, publish_offer_plain)
{
    wc_offer_params p = offer_params(false);
    char *offer = wc_sdp_publish_offer(&p);
    weir_publish_desc desc;
    char *answer = negotiate(offer, &desc);
    check_common(&desc);
    const weir_publish_media *v = &desc.media[1];
    cr_assert_eq(v->n_rids, 0);
    cr_assert_eq(v->n_ssrcs, 1);
    cr_assert_eq(v->ssrcs[0].media, 2222);
    cr_assert_eq(v->ssrcs[0].rtx, 3333);

    weir_sdp *as = NULL;
    char err[128];
    cr_assert_eq(weir_sdp_parse(answer, strlen(answer), &as, err, sizeof err), 0, "%s", err);
    wc_remote_transport t;
    cr_assert_eq(wc_sdp_read_transport(as, &t, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(t.ice_ufrag, "srvu");
    cr_assert_str_eq(t.ice_pwd, "serverpasswordserverpassword");
    cr_assert_str_eq(t.fingerprint_hash, "sha-256");
    cr_assert_str_eq(t.fingerprint, FP_SERVER + 8);
    cr_assert_eq(t.setup, WEIR_SDP_SETUP_PASSIVE);
    weir_sdp_free(as);
    weir_free(answer);
    weir_free(offer);
}

Test(client_sdp, publish_offer_simulcast)
{
    wc_offer_params p = offer_params(true);
    char *offer = wc_sdp_publish_offer(&p);
    cr_assert_null(strstr(offer, "a=ssrc:2000"), "no a=ssrc for simulcast layers");
    weir_publish_desc desc;
    char *answer = negotiate(offer, &desc);
    check_common(&desc);
    const weir_publish_media *v = &desc.media[1];
    cr_assert_eq(v->n_rids, 3);
    cr_assert_str_eq(v->rids[0].id, "q");
    cr_assert_str_eq(v->rids[1].id, "h");
    cr_assert_str_eq(v->rids[2].id, "f");
    cr_assert_eq(v->n_ssrcs, 0);
    cr_assert_eq(v->ext.rid, WC_EXT_RID);
    cr_assert_eq(v->ext.repaired_rid, WC_EXT_RRID);
    cr_assert_not_null(strstr(answer, "a=simulcast:recv q;h;f"), "%s", answer);
    weir_free(answer);
    weir_free(offer);
}

Test(client_sdp, publish_offer_video_only)
{
    wc_offer_params p = offer_params(false);
    p.audio = false;
    char *offer = wc_sdp_publish_offer(&p);
    weir_publish_desc desc;
    char *answer = negotiate(offer, &desc);
    cr_assert_eq(desc.n_media, 1);
    cr_assert_str_eq(desc.media[0].mid, "1");
    weir_free(answer);
    weir_free(offer);
}

/* Data channels: with media, and alone (a watcher that only draws). */
Test(client_sdp, publish_offer_with_data)
{
    for (int alone = 0; alone < 2; alone++) {
        wc_offer_params p = offer_params(false);
        p.audio = p.video = !alone;
        p.data = true;
        p.sctp_port = 5000;
        p.max_message_size = 262144;
        char *offer = wc_sdp_publish_offer(&p);
        cr_assert_not_null(strstr(offer, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
        cr_assert_not_null(strstr(offer, "a=max-message-size:262144\r\n"));
        cr_assert_not_null(
            strstr(offer, alone ? "a=group:BUNDLE 2\r\n" : "a=group:BUNDLE 0 1 2\r\n"), "%s",
            offer);
        weir_publish_desc desc;
        char *answer = negotiate(offer, &desc);
        cr_assert_eq(desc.n_media, alone ? 1 : 3);
        const weir_publish_media *d = &desc.media[desc.n_media - 1];
        cr_assert_str_eq(d->mid, WC_MID_DATA);
        cr_assert(!d->rejected, "Weir accepts our application m-line");
        cr_assert_eq(d->remote_sctp_port, 5000);

        weir_sdp *as = NULL;
        char err[128];
        cr_assert_eq(weir_sdp_parse(answer, strlen(answer), &as, err, sizeof err), 0, "%s", err);
        wc_remote_transport t;
        cr_assert_eq(wc_sdp_read_transport(as, &t, err, sizeof err), 0, "%s", err);
        cr_assert(t.data);
        cr_assert_eq(t.sctp_port, 5000);
        cr_assert(t.max_message_size != 0, "%s", answer);
        weir_sdp_free(as);
        weir_free(answer);
        weir_free(offer);
    }
}

Test(client_sdp, read_transport_without_data)
{
    wc_offer_params p = offer_params(false);
    char *offer = wc_sdp_publish_offer(&p);
    weir_publish_desc desc;
    char *answer = negotiate(offer, &desc);
    weir_sdp *as = NULL;
    char err[128];
    cr_assert_eq(weir_sdp_parse(answer, strlen(answer), &as, err, sizeof err), 0, "%s", err);
    wc_remote_transport t;
    cr_assert_eq(wc_sdp_read_transport(as, &t, err, sizeof err), 0, "%s", err);
    cr_assert(!t.data);
    cr_assert_eq(t.sctp_port, -1);
    cr_assert_eq(t.max_message_size, -1);
    weir_sdp_free(as);
    weir_free(answer);
    weir_free(offer);
}

/* What a server offer for the subscriber PC looks like (Chromium-shaped). */
static const char SUB_OFFER[] =
    "v=0\r\n"
    "o=- 99 3 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1 2 3\r\n"
    "a=ice-lite\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:srvr\r\n"
    "a=ice-pwd:serverpasswordserverpassword\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:" FP_SERVER "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendonly\r\n"
    "a=msid:p1 track-a\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=ssrc:5001 cname:p1\r\n"
    "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 100 101\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:srvr\r\n"
    "a=ice-pwd:serverpasswordserverpassword\r\n"
    "a=fingerprint:" FP_SERVER "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=sendonly\r\n"
    "a=msid:p1 track-v\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:100 VP8/90000\r\n"
    "a=rtcp-fb:100 nack\r\n"
    "a=rtcp-fb:100 nack pli\r\n"
    "a=rtpmap:101 rtx/90000\r\n"
    "a=fmtp:101 apt=100\r\n"
    "a=ssrc-group:FID 6001 6002\r\n"
    "a=ssrc:6001 cname:p1\r\n"
    "a=ssrc:6002 cname:p1\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:2\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:3\r\n"
    "a=sctp-port:5000\r\n";

Test(client_sdp, subscribe_answer)
{
    wc_answer_params p = {.ice_ufrag = "myuf",
                          .ice_pwd = "mypasswordmypasswordmypass",
                          .fingerprint = FP,
                          .session_id = 5,
                          .session_version = 1};
    char *answer = NULL;
    wc_sub_desc d;
    char err[128] = "";
    cr_assert_eq(wc_sdp_subscribe_answer(SUB_OFFER, &p, &answer, &d, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(d.n_media, 4);
    cr_assert(d.media[0].accepted && d.media[0].pt == 111 && d.media[0].rtx_pt == -1);
    cr_assert_str_eq(d.media[0].track_id, "track-a");
    cr_assert_eq(d.media[0].n_ssrcs, 1);
    cr_assert_eq(d.media[0].ssrcs[0], 5001);
    cr_assert(d.media[1].accepted && d.media[1].pt == 100 && d.media[1].rtx_pt == 101);
    cr_assert_eq(d.media[1].n_ssrcs, 1, "the RTX SSRC is not a media SSRC");
    cr_assert_eq(d.media[1].ssrcs[0], 6001);
    cr_assert_eq(d.media[1].rtx_ssrcs[0], 6002);
    cr_assert(!d.media[2].accepted, "H264 is not decoded");
    cr_assert(!d.media[3].accepted, "no data channels");
    cr_assert(d.transport.ice_lite);
    cr_assert_eq(d.ext_mid, 4);
    cr_assert_eq(d.ext_abs_send_time, 2);
    cr_assert_str_eq(d.transport.ice_ufrag, "srvr");
    cr_assert_eq(d.transport.n_candidates, 1);
    cr_assert_str_eq(d.transport.candidates[0],
                     "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host");

    weir_sdp *as = NULL;
    cr_assert_eq(weir_sdp_parse(answer, strlen(answer), &as, err, sizeof err), 0, "%s\n%s", err,
                 answer);
    cr_assert_eq(as->n_media, 4);
    const weir_sdp_group *g = weir_sdp_find_group(as, "BUNDLE");
    cr_assert_not_null(g);
    cr_assert_eq(g->n_mids, 2);
    weir_sdp_transport t;
    weir_sdp_media_transport(as, as->media[1], &t);
    cr_assert_eq(t.setup, WEIR_SDP_SETUP_ACTIVE);
    cr_assert_str_eq(t.ice_ufrag, "myuf");
    cr_assert_eq(weir_sdp_media_direction(as, as->media[1]), WEIR_SDP_RECVONLY);
    cr_assert_eq(weir_sdp_media_rtx_pt(as->media[1], 100), 101);
    cr_assert(weir_sdp_media_has_rtcp_fb(as->media[1], 100, "nack", "pli"));
    cr_assert_eq(as->media[2]->port, 0);
    cr_assert_eq(as->media[3]->port, 0);
    weir_sdp_free(as);
    weir_free(answer);

    wc_sub_desc untouched = {.n_media = 77};
    cr_assert_lt(wc_sdp_subscribe_answer("v=0\r\n", &p, &answer, &untouched, err, sizeof err), 0);
    cr_assert_eq(untouched.n_media, 77);
}

/* Weir's own subscriber offer (peer/negotiate_subscriber.h), answered by weir-client, is an
 * answer Weir accepts: both lines accepted, RTX and NACK/PLI kept, Weir the DTLS server. */
Test(client_sdp, subscribe_answer_accepted_by_weir)
{
    weir_subscriber_track tracks[2];
    memset(tracks, 0, sizeof tracks);
    static const weir_sdp_kind kinds[] = {WEIR_SDP_AUDIO, WEIR_SDP_VIDEO};
    static const weir_codec codecs[] = {WEIR_CODEC_OPUS, WEIR_CODEC_VP8};
    for (size_t i = 0; i < 2; i++) {
        weir_subscriber_track *t = &tracks[i];
        snprintf(t->mid, sizeof t->mid, "%zu", i);
        t->kind = kinds[i];
        t->active = true;
        t->codec = codecs[i];
        t->ssrc = 7000 + (uint32_t)i;
        t->rtx_ssrc = i == 1 ? 7100 : 0;
        t->red = i == 0;
        snprintf(t->stream_id, sizeof t->stream_id, "alice");
        snprintf(t->track_id, sizeof t->track_id, "track%zu", i);
        snprintf(t->cname, sizeof t->cname, "alicecname");
    }
    weir_local_params lp;
    weir_local_params_init(&lp);
    lp.ice_ufrag = "srvu";
    lp.ice_pwd = "serverpasswordserverpassword";
    lp.fingerprint = FP_SERVER;
    lp.session_id = 9;
    lp.session_version = 1;
    weir_sdp *offer = NULL;
    char err[256] = "";
    cr_assert_eq(weir_negotiate_subscriber_offer(&lp, tracks, 2, &offer, err, sizeof err), 0, "%s",
                 err);
    char *offer_text = weir_sdp_write(offer, NULL);

    wc_answer_params p = {.ice_ufrag = "myuf",
                          .ice_pwd = "mypasswordmypasswordmypass",
                          .fingerprint = FP,
                          .session_id = 5,
                          .session_version = 1};
    char *answer_text = NULL;
    wc_sub_desc d;
    cr_assert_eq(wc_sdp_subscribe_answer(offer_text, &p, &answer_text, &d, err, sizeof err), 0,
                 "%s", err);
    cr_assert(d.media[0].accepted && d.media[1].accepted);
    cr_assert_str_eq(d.media[1].track_id, "track1");
    cr_assert_eq(d.media[1].ssrcs[0], 7001);
    cr_assert_eq(d.media[1].rtx_ssrcs[0], 7100);
    cr_assert(!d.transport.ice_lite);

    weir_sdp *answer = NULL;
    cr_assert_eq(weir_sdp_parse(answer_text, strlen(answer_text), &answer, err, sizeof err), 0,
                 "%s", err);
    weir_subscriber_answer_desc ad;
    cr_assert_eq(weir_negotiate_subscriber_answer(offer, answer, &ad, err, sizeof err), 0,
                 "Weir refuses weir-client's answer: %s\n%s", err, answer_text);
    cr_assert_eq(ad.n_media, 2);
    cr_assert(ad.media[0].accepted && ad.media[1].accepted);
    cr_assert(ad.media[1].rtx, "RTX kept");
    cr_assert(ad.media[1].rtcp_fb & WEIR_NEGOTIATE_FB_NACK);
    cr_assert(ad.media[1].rtcp_fb & WEIR_NEGOTIATE_FB_PLI);
    cr_assert_eq(ad.dtls_role, WEIR_DTLS_ROLE_SERVER, "we answer active: Weir is the DTLS server");
    cr_assert_eq(ad.ext.mid, WEIR_SUB_EXT_MID);
    weir_sdp_free(answer);
    weir_sdp_free(offer);
    weir_free(answer_text);
    weir_free(offer_text);
}
