/*
 * SDP parser, writer and builder. The captured SDPs in tests/data/sdp are
 * Chromium's own (tools/capture-sdp.mjs); the facts asserted about them are
 * what the SFU relies on: BUNDLE, DTLS fingerprint, header extension ids,
 * codecs with their RTX, feedback, simulcast rids, FID groups, SCTP.
 */
#include <criterion/criterion.h>

#include "support/test_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sdp.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#ifndef WEIR_SOURCE_ROOT
#define WEIR_SOURCE_ROOT "."
#endif

#define PUBLISH "chromium-156-publish-simulcast.sdp"
#define OFFER "chromium-156-offer-audio-video.sdp"
#define ANSWER "chromium-156-answer-recvonly.sdp"

static char *read_data(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "sdp/%s", name);
    return test_data_read(rel, len);
}

static weir_sdp *parse_data(const char *name)
{
    size_t len;
    char *text = read_data(name, &len);
    weir_sdp *sdp = NULL;
    char err[128] = "";
    int rc = weir_sdp_parse(text, len, &sdp, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", name, err);
    weir_free(text);
    return sdp;
}

static weir_sdp *parse_str(const char *text)
{
    weir_sdp *sdp = NULL;
    char err[128] = "";
    int rc = weir_sdp_parse(text, strlen(text), &sdp, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    return sdp;
}

/* ---- facts common to every capture ---- */

static const struct capture_row {
    const char *file;
    const char *kinds; /* a = audio, v = video, d = data, one per m-line */
    const char *bundle;
    weir_sdp_setup setup;
    weir_sdp_direction direction; /* of the audio and video sections */
    bool msid;                    /* audio/video carry a=msid */
} capture_rows[] = {
    {PUBLISH, "avd", "0 1 2", WEIR_SDP_SETUP_ACTPASS, WEIR_SDP_SENDONLY, true},
    {OFFER, "av", "0 1", WEIR_SDP_SETUP_ACTPASS, WEIR_SDP_SENDRECV, true},
    {ANSWER, "av", "0 1", WEIR_SDP_SETUP_ACTIVE, WEIR_SDP_RECVONLY, false},
};

static void expect_bundle(const char *file, const weir_sdp *sdp, const char *mids)
{
    const weir_sdp_group *g = weir_sdp_find_group(sdp, "BUNDLE");
    cr_assert_not_null(g, "%s: no BUNDLE", file);
    char joined[64] = "";
    for (size_t i = 0; i < g->n_mids; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", i ? " " : "",
                 g->mids[i]);
    cr_expect_str_eq(joined, mids, "%s", file);
    for (size_t i = 0; i < g->n_mids; i++)
        cr_expect_not_null(weir_sdp_find_media(sdp, g->mids[i]), "%s: mid %s", file, g->mids[i]);
}

static void expect_transport(const char *file, const weir_sdp *sdp, const weir_sdp_media *m,
                             weir_sdp_setup setup)
{
    weir_sdp_transport t;
    weir_sdp_media_transport(sdp, m, &t);
    cr_expect_not_null(t.ice_ufrag, "%s", file);
    cr_expect(t.ice_pwd && strlen(t.ice_pwd) >= 22, "%s: ice-pwd", file); /* RFC 8839 */
    cr_expect(t.ice_trickle, "%s: trickle", file);
    cr_assert_eq(t.n_fingerprints, 1, "%s", file);
    cr_expect_str_eq(t.fingerprints[0].hash, "sha-256", "%s", file);
    cr_expect_eq(strlen(t.fingerprints[0].value), 32 * 3 - 1, "%s: 32 hex pairs", file);
    cr_expect_eq(t.setup, setup, "%s", file);
}

Test(sdp, chromium_common_facts)
{
    for (size_t r = 0; r < sizeof capture_rows / sizeof capture_rows[0]; r++) {
        const struct capture_row *row = &capture_rows[r];
        weir_sdp *sdp = parse_data(row->file);
        cr_assert_eq(sdp->n_media, strlen(row->kinds), "%s", row->file);
        expect_bundle(row->file, sdp, row->bundle);
        cr_expect(sdp->extmap_allow_mixed, "%s", row->file);
        cr_expect_str_eq(sdp->msid_semantic, "WMS", "%s", row->file);
        cr_expect_str_eq(sdp->origin.username, "-", "%s", row->file);
        cr_expect_eq(sdp->origin.sess_version, 2, "%s", row->file);
        for (size_t i = 0; i < sdp->n_media; i++) {
            const weir_sdp_media *m = sdp->media[i];
            char kind = row->kinds[i];
            char mid[24];
            snprintf(mid, sizeof mid, "%zu", i);
            cr_expect_str_eq(m->mid, mid, "%s", row->file);
            cr_expect_eq(m->kind,
                         kind == 'a'   ? WEIR_SDP_AUDIO
                         : kind == 'v' ? WEIR_SDP_VIDEO
                                       : WEIR_SDP_APPLICATION,
                         "%s m%zu", row->file, i);
            expect_transport(row->file, sdp, m, row->setup);
            if (kind == 'd') {
                cr_expect_str_eq(m->proto, "UDP/DTLS/SCTP", "%s", row->file);
                cr_expect(!m->is_rtp);
                continue;
            }
            cr_expect_str_eq(m->proto, "UDP/TLS/RTP/SAVPF", "%s", row->file);
            cr_expect(m->is_rtp && m->rtcp_mux && m->rtcp_rsize, "%s m%zu", row->file, i);
            cr_expect_eq(m->direction, row->direction, "%s m%zu", row->file, i);
            cr_expect_eq(m->n_msids, row->msid ? 1u : 0u, "%s m%zu", row->file, i);
            cr_expect_eq(m->rtcp_port, 9, "%s: a=rtcp:9", row->file);
            cr_expect_eq(m->n_pts, m->n_formats);
            /* Every payload type on the m= line has its rtpmap. */
            for (size_t p = 0; p < m->n_pts; p++)
                cr_expect_not_null(weir_sdp_media_find_rtpmap(m, m->pts[p]), "%s pt %u", row->file,
                                   m->pts[p]);
            cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_MID), 4, "%s", row->file);
            cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_ABS_SEND_TIME), 2);
            cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_TWCC), 3);
        }
        weir_sdp_free(sdp);
    }
}

/* ---- codecs ---- */

static const struct codec_row {
    const char *kind; /* "audio" / "video" */
    unsigned pt;
    const char *encoding;
    uint32_t clock_rate_hz;
    unsigned channels;
    int rtx; /* -1: none */
    const char *fmtp_key, *fmtp_value;
} codec_rows[] = {
    {"audio", 111, "opus", 48000, 2, -1, "useinbandfec", "1"},
    {"audio", 63, "red", 48000, 2, -1, NULL, NULL},
    {"audio", 0, "PCMU", 8000, 0, -1, NULL, NULL},
    {"audio", 126, "telephone-event", 8000, 0, -1, NULL, NULL},
    {"video", 96, "VP8", 90000, 0, 97, NULL, NULL},
    {"video", 102, "H264", 90000, 0, 103, "profile-level-id", "42001f"},
    {"video", 104, "H264", 90000, 0, 107, "packetization-mode", "0"},
    {"video", 108, "H264", 90000, 0, 109, "profile-level-id", "42e01f"},
    {"video", 116, "H264", 90000, 0, 117, "profile-level-id", "4d001f"},
    {"video", 39, "H264", 90000, 0, 40, "packetization-mode", "0"},
    {"video", 45, "AV1", 90000, 0, 46, "level-idx", "5"},
    {"video", 98, "VP9", 90000, 0, 99, "profile-id", "0"},
    {"video", 100, "VP9", 90000, 0, 101, "profile-id", "2"},
    {"video", 118, "red", 90000, 0, 119, NULL, NULL},
    {"video", 120, "ulpfec", 90000, 0, -1, NULL, NULL},
};

static const weir_sdp_media *first_of_kind(const weir_sdp *sdp, const char *kind)
{
    for (size_t i = 0; i < sdp->n_media; i++)
        if (!strcmp(sdp->media[i]->media, kind))
            return sdp->media[i];
    cr_assert_fail("no %s section", kind);
    return NULL;
}

Test(sdp, chromium_codecs)
{
    const char *files[] = {PUBLISH, ANSWER};
    for (size_t f = 0; f < 2; f++) {
        weir_sdp *sdp = parse_data(files[f]);
        for (size_t r = 0; r < sizeof codec_rows / sizeof codec_rows[0]; r++) {
            const struct codec_row *row = &codec_rows[r];
            const weir_sdp_media *m = first_of_kind(sdp, row->kind);
            const weir_sdp_rtpmap *map = weir_sdp_media_find_rtpmap(m, row->pt);
            cr_assert_not_null(map, "%s pt %u", files[f], row->pt);
            cr_expect_str_eq(map->encoding, row->encoding, "%s pt %u", files[f], row->pt);
            cr_expect_eq(map->clock_rate_hz, row->clock_rate_hz);
            cr_expect_eq(map->channels, row->channels, "pt %u", row->pt);
            cr_expect_eq(weir_sdp_media_rtx_pt(m, row->pt), row->rtx, "%s pt %u", files[f],
                         row->pt);
            if (row->fmtp_key) {
                const char *v;
                size_t n;
                cr_assert(weir_sdp_fmtp_param(weir_sdp_media_find_fmtp(m, row->pt), row->fmtp_key,
                                              &v, &n),
                          "pt %u %s", row->pt, row->fmtp_key);
                cr_expect_eq(n, strlen(row->fmtp_value));
                cr_expect_eq(strncmp(v, row->fmtp_value, n), 0, "pt %u", row->pt);
            }
        }
        weir_sdp_free(sdp);
    }
}

Test(sdp, chromium_rtcp_fb)
{
    static const struct {
        unsigned pt;
        const char *type, *subtype;
        bool present;
    } rows[] = {
        {96, "nack", NULL, true},      {96, "nack", "pli", true},
        {96, "ccm", "fir", true},      {96, "transport-cc", NULL, true},
        {96, "goog-remb", NULL, true}, {45, "nack", "pli", true},
        {98, "ccm", "fir", true},      {102, "transport-cc", NULL, true},
        {97, "nack", NULL, false}, /* RTX gets no feedback */
        {120, "nack", NULL, false},    {96, "nack", "sli", false},
    };
    weir_sdp *sdp = parse_data(PUBLISH);
    const weir_sdp_media *v = first_of_kind(sdp, "video");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(weir_sdp_media_has_rtcp_fb(v, rows[i].pt, rows[i].type, rows[i].subtype),
                     rows[i].present, "pt %u %s %s", rows[i].pt, rows[i].type,
                     rows[i].subtype ? rows[i].subtype : "");
    const weir_sdp_media *a = first_of_kind(sdp, "audio");
    cr_expect(weir_sdp_media_has_rtcp_fb(a, 111, "transport-cc", NULL));
    cr_expect(!weir_sdp_media_has_rtcp_fb(a, 111, "nack", NULL));
    weir_sdp_free(sdp);
}

/* ---- the publisher offer: simulcast and data channel ---- */

Test(sdp, chromium_simulcast_offer)
{
    weir_sdp *sdp = parse_data(PUBLISH);
    const weir_sdp_media *a = sdp->media[0], *v = sdp->media[1];
    cr_expect_eq(weir_sdp_media_extmap_id(a, WEIR_SDP_EXT_AUDIO_LEVEL), 1);
    cr_expect_eq(weir_sdp_media_extmap_id(a, WEIR_SDP_EXT_RID), 0, "no rid on audio");
    cr_expect_eq(weir_sdp_media_extmap_id(v, WEIR_SDP_EXT_RID), 10);
    cr_expect_eq(weir_sdp_media_extmap_id(v, WEIR_SDP_EXT_REPAIRED_RID), 11);
    cr_expect_eq(weir_sdp_media_extmap_id(v, WEIR_SDP_EXT_DEPENDENCY_DESCRIPTOR), 12);
    cr_expect_eq(weir_sdp_media_extmap_id(v, WEIR_SDP_EXT_VIDEO_ORIENTATION), 13);

    /* RFC 8851 rids, RFC 8853 "a=simulcast:send q;h;f", and no a=ssrc for the
     * video: the SFU learns its SSRCs from the rid header extension. */
    static const char *const rids[] = {"q", "h", "f"};
    cr_assert_eq(v->n_rids, 3);
    cr_assert(v->simulcast.present);
    cr_assert_eq(v->simulcast.n_send, 3);
    cr_expect_eq(v->simulcast.n_recv, 0);
    for (size_t i = 0; i < 3; i++) {
        cr_expect_str_eq(v->rids[i].id, rids[i]);
        cr_expect_eq(v->rids[i].direction, WEIR_SDP_RID_SEND);
        cr_expect_null(v->rids[i].restrictions);
        cr_assert_eq(v->simulcast.send[i].n_alts, 1);
        cr_expect_str_eq(v->simulcast.send[i].alts[0].rid, rids[i]);
        cr_expect(!v->simulcast.send[i].alts[0].paused);
    }
    cr_expect_eq(v->n_ssrcs, 0);
    cr_expect_eq(v->n_ssrc_groups, 0);
    cr_expect_eq(a->n_ssrcs, 2, "audio keeps cname + msid ssrc lines");
    cr_expect_str_eq(a->ssrcs[0].attribute, "cname");
    cr_expect_str_eq(a->msids[0].stream_id, v->msids[0].stream_id, "one stream");
    cr_expect_str_eq(sdp->msid_semantic_ids, a->msids[0].stream_id);

    const weir_sdp_media *d = sdp->media[2];
    cr_expect_str_eq(d->media, "application");
    cr_assert_eq(d->n_formats, 1);
    cr_expect_str_eq(d->formats[0], "webrtc-datachannel");
    cr_expect_eq(d->sctp_port, 5000);
    cr_expect_eq(d->max_message_size, 262144);
    cr_expect_eq(a->sctp_port, -1);
    cr_expect_eq(a->max_message_size, -1);
    weir_sdp_free(sdp);
}

Test(sdp, chromium_candidates)
{
    weir_sdp *sdp = parse_data(PUBLISH);
    for (size_t i = 0; i < sdp->n_media; i++) {
        const weir_sdp_media *m = sdp->media[i];
        cr_assert_eq(m->n_candidates, 8, "m%zu: udp+tcp over four addresses", i);
        cr_expect(!m->end_of_candidates, "Chromium does not write end-of-candidates");
        for (size_t j = 0; j < m->n_candidates; j++) {
            const weir_sdp_candidate *c = &m->candidates[j];
            bool tcp = !strcmp(c->transport, "tcp");
            cr_expect_eq(c->component, 1);
            cr_expect_str_eq(c->type, "host");
            cr_expect(tcp || !strcmp(c->transport, "udp"));
            cr_expect_null(c->raddr);
            cr_expect_eq(c->rport, -1);
            /* Chromium's active TCP candidates carry the discard port 9. */
            if (tcp) {
                cr_expect_str_eq(c->tcptype, "active");
                cr_expect_eq(c->port, 9);
            } else {
                cr_expect_null(c->tcptype);
            }
            cr_expect(c->extensions && !strncmp(c->extensions, "generation 0 network-id ", 24));
        }
    }
    const weir_sdp_candidate *c = &sdp->media[0]->candidates[0];
    cr_expect_str_eq(c->foundation, "478522755");
    cr_expect_eq(c->priority, 2122194687u);
    cr_expect_str_eq(c->address, "127.0.0.1");
    cr_expect_eq(c->port, sdp->media[0]->port, "the default candidate is on the m= line");
    cr_expect_str_eq(c->extensions, "generation 0 network-id 3 network-cost 50");
    weir_sdp_free(sdp);
}

Test(sdp, chromium_fid_offer)
{
    weir_sdp *sdp = parse_data(OFFER);
    const weir_sdp_media *v = first_of_kind(sdp, "video");
    cr_expect(!v->simulcast.present);
    cr_expect_eq(v->n_rids, 0);
    cr_assert_eq(v->n_ssrc_groups, 1);
    const weir_sdp_ssrc_group *g = &v->ssrc_groups[0];
    cr_expect_str_eq(g->semantics, "FID"); /* RFC 4588: media SSRC, then RTX SSRC */
    cr_assert_eq(g->n_ssrcs, 2);
    cr_expect_neq(g->ssrcs[0], g->ssrcs[1]);
    cr_assert_eq(v->n_ssrcs, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_expect_eq(v->ssrcs[i].ssrc, g->ssrcs[i / 2]);
        cr_expect_str_eq(v->ssrcs[i].attribute, i % 2 ? "msid" : "cname");
    }
    /* a=ssrc msid value holds a space: "<stream> <track>", as a=msid. */
    char msid[256];
    snprintf(msid, sizeof msid, "%s %s", v->msids[0].stream_id, v->msids[0].track_id);
    cr_expect_str_eq(v->ssrcs[1].value, msid);
    /* Without simulcast Chromium offers no dependency descriptor extension. */
    cr_expect_eq(weir_sdp_media_extmap_id(v, WEIR_SDP_EXT_DEPENDENCY_DESCRIPTOR), 0);
    cr_expect_eq(weir_sdp_media_extmap_id(v, WEIR_SDP_EXT_RID), 10);
    weir_sdp_free(sdp);
}

Test(sdp, chromium_answer)
{
    weir_sdp *sdp = parse_data(ANSWER);
    cr_expect_null(sdp->msid_semantic_ids, "a recvonly answer has no streams");
    /* With BUNDLE agreed Chromium gathers on the first section only. */
    cr_expect_eq(sdp->media[0]->n_candidates, 8);
    cr_expect_eq(sdp->media[1]->n_candidates, 0);
    cr_expect_eq(sdp->media[1]->port, 9);
    cr_expect_str_eq(sdp->media[1]->connection.address, "0.0.0.0");
    cr_expect_eq(sdp->media[0]->n_ssrcs + sdp->media[1]->n_ssrcs, 0);
    cr_expect_eq(weir_sdp_media_direction(sdp, sdp->media[1]), WEIR_SDP_RECVONLY);
    weir_sdp_free(sdp);
}

/* ---- round trips ---- */

static const char *const all_files[] = {PUBLISH, OFFER, ANSWER};

Test(sdp, round_trip_is_exact_for_chromium)
{
    for (size_t i = 0; i < 3; i++) {
        size_t len, out_len, again_len;
        char *text = read_data(all_files[i], &len);
        weir_sdp *a = parse_data(all_files[i]), *b = NULL;
        char *out = weir_sdp_write(a, &out_len);
        cr_expect_eq(out_len, strlen(out));
        /* The writer's order is Chromium's, so the text comes back byte for byte. */
        cr_expect_eq(out_len, len, "%s", all_files[i]);
        cr_expect(out_len == len && !memcmp(out, text, len), "%s differs", all_files[i]);
        cr_assert_eq(weir_sdp_parse(out, out_len, &b, NULL, 0), 0);
        cr_expect(weir_sdp_equal(a, b), "%s", all_files[i]);
        char *again = weir_sdp_write(b, &again_len);
        cr_expect_str_eq(again, out);
        weir_free(text);
        weir_free(out);
        weir_free(again);
        weir_sdp_free(a);
        weir_sdp_free(b);
    }
}

/* Turns CRLF into LF in place. */
static size_t to_lf(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
            s[o++] = s[i];
    return o;
}

Test(sdp, lf_line_ends_parse_the_same)
{
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        char *text = read_data(all_files[i], &len);
        len = to_lf(text, len);
        weir_sdp *lf = NULL, *crlf = parse_data(all_files[i]);
        cr_assert_eq(weir_sdp_parse(text, len, &lf, NULL, 0), 0);
        cr_expect(weir_sdp_equal(lf, crlf), "%s", all_files[i]);
        weir_free(text);
        weir_sdp_free(lf);
        weir_sdp_free(crlf);
    }
}

/* Hand-written SDPs that exercise what Chromium does not send. */
static const char *const round_trip_rows[] = {
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
    /* no t=, blank lines, LF only, runs of spaces */
    "v=0\no=-  7 8 IN IP4 10.0.0.1\ns=x\n\nm=audio 9  RTP/AVP 0 8\na=rtpmap:0  PCMU/8000\n\n",
    /* line types out of RFC order, session-level transport, raw lines */
    "v=0\r\no=alice 3 4 IN IP6 ::1\r\ns=call\r\nb=AS:100\r\ni=info\r\nt=1 2\r\nk=prompt\r\n"
    "r=7d 1h 0\r\nt=3 4\r\nz=0 0\r\nu=http://example.com/\r\na=ice-lite\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=ice-options:ice2 trickle\r\n"
    "a=fingerprint:sha-256 AB:CD\r\na=fingerprint:sha-1 EF\r\na=setup:passive\r\n"
    "a=sendonly\r\na=group:BUNDLE a b\r\na=group:LS a\r\na=x-custom:1 2 3\r\n"
    "m=audio 9/2 UDP/TLS/RTP/SAVPF 111\r\nb=TIAS:1\r\ni=m\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n"
    "a=rtcp:9\r\na=rtcp-fb:* nack\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 a=1; b=2 \r\n"
    "a=extmap:1/recvonly urn:x attr\r\na=msid:- t\r\na=ssrc:1 cname:\r\na=ssrc:1 flag\r\n"
    "a=end-of-candidates\r\na=extmap-allow-mixed\r\na=inactive\r\n",
    /* simulcast receive with alternatives and paused streams, rid restrictions */
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
    "a=rtpmap:97 H264/90000\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1\r\na=fmtp:97 y=2\r\n"
    "a=rtcp-fb:97 nack\r\na=rtcp-fb:96 nack pli\r\na=rid:1 recv pt=96;max-width=1280\r\n"
    "a=rid:2 recv\r\na=rid:3 send\r\na=simulcast:recv 1;~2,3 send 3\r\n"
    "a=candidate:1 1 udp 1 203.0.113.1 5 typ srflx generation 0 raddr 10.0.0.1 rport 6\r\n"
    "a=candidate:2 2 TCP 2 x.local 9 typ host tcptype passive\r\n"
    "a=ssrc-group:SIM 1 2 3\r\na=ssrc-group:FID 1 4\r\n",
    /* data channel, old SCTP syntax kept raw, rejected and non-RTP sections */
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n"
    "a=max-message-size:0\r\nm=application 0 DTLS/SCTP 5000\r\na=sctpmap:5000 x 1\r\n"
    "a=rtpmap:5000 x\r\nm=text 0 RTP/AVP\r\nm=video 0 UDP/TLS/RTP/SAVPF 0\r\n",
};

Test(sdp, round_trip_rows)
{
    for (size_t i = 0; i < sizeof round_trip_rows / sizeof round_trip_rows[0]; i++) {
        weir_sdp *a = parse_str(round_trip_rows[i]), *b = NULL;
        size_t len;
        char *out = weir_sdp_write(a, &len);
        char err[128] = "";
        cr_assert_eq(weir_sdp_parse(out, len, &b, err, sizeof err), 0, "row %zu: %s", i, err);
        cr_expect(weir_sdp_equal(a, b), "row %zu:\n%s", i, out);
        weir_free(out);
        weir_sdp_free(a);
        weir_sdp_free(b);
    }
}

Test(sdp, hand_written_details)
{
    weir_sdp *sdp = parse_str(round_trip_rows[2]);
    cr_expect_eq(sdp->start_time, 1);
    cr_expect_eq(sdp->n_lines, 7, "b i k r t z u kept raw");
    cr_expect_eq(sdp->lines[0].type, 'i', "kept in RFC 8866 order");
    cr_expect_eq(sdp->direction, WEIR_SDP_SENDONLY);
    cr_expect(sdp->transport.ice_trickle);
    cr_expect_eq(sdp->n_groups, 2);
    cr_assert_eq(sdp->n_attrs, 2);
    cr_expect_str_eq(sdp->attrs[0].name, "ice-lite");
    cr_expect_null(sdp->attrs[0].value);
    cr_expect_str_eq(sdp->attrs[1].value, "1 2 3");
    const weir_sdp_media *m = sdp->media[0];
    cr_expect_eq(m->num_ports, 2);
    weir_sdp_transport t;
    weir_sdp_media_transport(sdp, m, &t);
    cr_expect_str_eq(t.ice_ufrag, "abcd", "inherited from the session");
    cr_expect_eq(t.n_fingerprints, 2);
    cr_expect_eq(t.setup, WEIR_SDP_SETUP_PASSIVE);
    cr_expect_eq(m->rtcp_fbs[0].pt, -1);
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 111, "nack", NULL), "'*' applies to 111");
    cr_expect_eq(m->extmaps[0].direction, WEIR_SDP_RECVONLY);
    cr_expect_str_eq(m->extmaps[0].attributes, "attr");
    cr_expect_str_eq(m->msids[0].track_id, "t");
    cr_expect_str_eq(m->msids[0].stream_id, "-");
    cr_expect_str_eq(m->ssrcs[0].value, "");
    cr_expect_null(m->ssrcs[1].value);
    cr_expect(m->end_of_candidates && m->extmap_allow_mixed);
    cr_expect_eq(weir_sdp_media_direction(sdp, m), WEIR_SDP_INACTIVE);
    weir_sdp_free(sdp);

    sdp = parse_str(round_trip_rows[3]);
    m = sdp->media[0];
    const weir_sdp_simulcast *sc = &m->simulcast;
    cr_assert_eq(sc->n_recv, 2);
    cr_assert_eq(sc->recv[1].n_alts, 2);
    cr_expect(!sc->recv[0].alts[0].paused);
    cr_expect(sc->recv[1].alts[0].paused);
    cr_expect_str_eq(sc->recv[1].alts[1].rid, "3");
    cr_expect_eq(sc->n_send, 1);
    cr_expect_str_eq(m->rids[0].restrictions, "pt=96;max-width=1280");
    const weir_sdp_candidate *c = &m->candidates[0];
    cr_expect_str_eq(c->raddr, "10.0.0.1");
    cr_expect_eq(c->rport, 6);
    cr_expect_str_eq(c->extensions, "generation 0");
    cr_expect_str_eq(m->candidates[1].tcptype, "passive");
    cr_expect_eq(m->ssrc_groups[0].n_ssrcs, 3);
    weir_sdp_free(sdp);

    sdp = parse_str(round_trip_rows[4]);
    cr_expect_eq(sdp->media[0]->max_message_size, 0, "0 means no limit (RFC 8841)");
    cr_expect_eq(sdp->media[1]->n_attrs, 2, "sctpmap and rtpmap kept raw off RTP");
    cr_expect_eq(sdp->media[2]->kind, WEIR_SDP_OTHER_KIND);
    cr_expect_eq(sdp->media[2]->n_formats, 0);
    weir_sdp_free(sdp);
}

/* ---- errors ---- */

#define HEAD "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define AUDIO HEAD "m=audio 9 RTP/AVP 0 111\r\n"

static const struct error_row {
    const char *name;
    const char *text;
    size_t len; /* 0: strlen(text) */
    int rc;
    const char *reason;
} error_rows[] = {
    {"empty", "", 0, -WEIR_EINVAL, "missing v= line"},
    {"only blank lines", "\r\n\n", 0, -WEIR_EINVAL, "missing v= line"},
    {"missing v=", "o=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n", 0, -WEIR_EINVAL,
     "line 1: expected v=0 first"},
    {"v=1", "v=1\r\n", 0, -WEIR_EINVAL, "line 1: expected v=0 first"},
    {"missing o=", "v=0\r\ns=-\r\n", 0, -WEIR_EINVAL, "line 2: expected o= after v="},
    {"missing s=", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", 0, -WEIR_EINVAL, "missing s= line"},
    {"o= fields", "v=0\r\no=- 1 1 IN IP4\r\n", 0, -WEIR_EINVAL, "line 2: o=: expected 6 fields"},
    {"o= session id", "v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n", 0, -WEIR_EINVAL,
     "line 2: o=: bad session id or version"},
    {"o= id overflow", "v=0\r\no=- 18446744073709551616 1 IN IP4 1.2.3.4\r\n", 0, -WEIR_EINVAL,
     "line 2: o=: bad session id or version"},
    {"duplicate s=", HEAD "s=again\r\n", 0, -WEIR_EINVAL, "line 5: duplicate v=, o= or s= line"},
    {"not type=value", HEAD "hello\r\n", 0, -WEIR_EINVAL, "line 5: expected <type>=<value>"},
    {"upper-case type", HEAD "A=x\r\n", 0, -WEIR_EINVAL, "line 5: expected <type>=<value>"},
    {"unknown type", HEAD "x=1\r\n", 0, -WEIR_EINVAL, "line 5: unknown line type"},
    {"bad t=", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0\r\n", 0, -WEIR_EINVAL,
     "line 4: t=: expected <start> <stop>"},
    {"bad c=", HEAD "c=IN IP4\r\n", 0, -WEIR_EINVAL,
     "line 5: c=: expected <nettype> <addrtype> <address>"},
    {"m= port", HEAD "m=audio nine RTP/AVP 0\r\n", 0, -WEIR_EINVAL, "line 5: m=: bad port"},
    {"m= port range", HEAD "m=audio 65536 RTP/AVP 0\r\n", 0, -WEIR_EINVAL, "line 5: m=: bad port"},
    {"m= no proto", HEAD "m=audio 9\r\n", 0, -WEIR_EINVAL,
     "line 5: m=: expected <media> <port> <proto> <fmt>..."},
    {"m= bad proto", HEAD "m=audio 9 RTP//AVP 0\r\n", 0, -WEIR_EINVAL,
     "line 5: m=: expected <media> <port> <proto> <fmt>..."},
    {"m= pt 128", HEAD "m=audio 9 RTP/AVP 128\r\n", 0, -WEIR_EINVAL,
     "line 5: m=: bad payload type"},
    {"m= pt text", HEAD "m=video 9 UDP/TLS/RTP/SAVPF vp8\r\n", 0, -WEIR_EINVAL,
     "line 5: m=: bad payload type"},
    {"m= duplicate pt", HEAD "m=audio 9 RTP/AVP 0 00\r\n", 0, -WEIR_EINVAL,
     "line 5: m=: duplicate payload type"},
    {"m= number of ports", HEAD "m=audio 9/0 RTP/AVP 0\r\n", 0, -WEIR_EINVAL,
     "line 5: m=: bad number of ports"},
    {"media-level o=", AUDIO "o=- 1 1 IN IP4 1.2.3.4\r\n", 0, -WEIR_EINVAL,
     "line 6: line type not allowed in a media section"},
    {"rtpmap pt", AUDIO "a=rtpmap:300 opus/48000\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rtpmap: bad payload type"},
    {"rtpmap no clock", AUDIO "a=rtpmap:111 opus\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rtpmap: bad clock rate"},
    {"rtpmap zero clock", AUDIO "a=rtpmap:111 opus/0\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rtpmap: bad clock rate"},
    {"rtpmap channels", AUDIO "a=rtpmap:111 opus/48000/x\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rtpmap: bad channel count"},
    {"rtpmap missing", AUDIO "a=rtpmap:111\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rtpmap: expected <pt> <encoding>/<clock rate>"},
    {"rtpmap duplicate", AUDIO "a=rtpmap:111 opus/48000\r\na=rtpmap:111 x/1\r\n", 0, -WEIR_EINVAL,
     "line 7: a=rtpmap: duplicate payload type"},
    {"fmtp no params", AUDIO "a=fmtp:111\r\n", 0, -WEIR_EINVAL,
     "line 6: a=fmtp: missing parameters"},
    {"rtcp-fb pt", AUDIO "a=rtcp-fb:x nack\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rtcp-fb: bad payload type"},
    {"flag with value", AUDIO "a=rtcp-mux:yes\r\n", 0, -WEIR_EINVAL,
     "line 6: unexpected value on a flag attribute"},
    {"value missing", AUDIO "a=mid\r\n", 0, -WEIR_EINVAL, "line 6: attribute needs a value"},
    {"duplicate mid", AUDIO "a=mid:0\r\na=mid:1\r\n", 0, -WEIR_EINVAL, "line 7: a=mid: duplicate"},
    {"two directions", AUDIO "a=sendonly\r\na=recvonly\r\n", 0, -WEIR_EINVAL,
     "line 7: more than one direction attribute"},
    {"setup role", AUDIO "a=setup:server\r\n", 0, -WEIR_EINVAL, "line 6: a=setup: unknown role"},
    {"fingerprint", AUDIO "a=fingerprint:sha-256\r\n", 0, -WEIR_EINVAL,
     "line 6: a=fingerprint: expected <hash> <value>"},
    {"candidate short", AUDIO "a=candidate:1 1 udp 1 1.2.3.4 5 typ\r\n", 0, -WEIR_EINVAL,
     "line 6: a=candidate: too few fields"},
    {"candidate component", AUDIO "a=candidate:1 0 udp 1 1.2.3.4 5 typ host\r\n", 0, -WEIR_EINVAL,
     "line 6: a=candidate: bad component"},
    {"candidate typ", AUDIO "a=candidate:1 1 udp 1 1.2.3.4 5 type host\r\n", 0, -WEIR_EINVAL,
     "line 6: a=candidate: bad type"},
    {"candidate odd extension", AUDIO "a=candidate:1 1 udp 1 1.2.3.4 5 typ host generation\r\n", 0,
     -WEIR_EINVAL, "line 6: a=candidate: extension without value"},
    {"extmap id", AUDIO "a=extmap:0 urn:x\r\n", 0, -WEIR_EINVAL, "line 6: a=extmap: bad id"},
    {"extmap duplicate", AUDIO "a=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n", 0, -WEIR_EINVAL,
     "line 7: a=extmap: duplicate id"},
    {"ssrc", AUDIO "a=ssrc:4294967296 cname:x\r\n", 0, -WEIR_EINVAL, "line 6: a=ssrc: bad ssrc"},
    {"ssrc-group empty", AUDIO "a=ssrc-group:FID\r\n", 0, -WEIR_EINVAL,
     "line 6: a=ssrc-group: no ssrcs"},
    {"rid direction", AUDIO "a=rid:q both\r\n", 0, -WEIR_EINVAL,
     "line 6: a=rid: direction must be send or recv"},
    {"rid id", AUDIO "a=rid:q.1 send\r\n", 0, -WEIR_EINVAL, "line 6: a=rid: bad id"},
    {"simulcast rid", AUDIO "a=simulcast:send q;;f\r\n", 0, -WEIR_EINVAL,
     "line 6: a=simulcast: bad rid"},
    {"simulcast old syntax", AUDIO "a=simulcast:send rid=q;h\r\n", 0, -WEIR_EINVAL,
     "line 6: a=simulcast: bad rid"},
    {"simulcast direction", AUDIO "a=simulcast:both q\r\n", 0, -WEIR_EINVAL,
     "line 6: a=simulcast: direction must be send or recv"},
    {"simulcast twice", AUDIO "a=simulcast:send q send h\r\n", 0, -WEIR_EINVAL,
     "line 6: a=simulcast: duplicate direction"},
    {"sctp-port", AUDIO "a=sctp-port:70000\r\n", 0, -WEIR_EINVAL, "line 6: a=sctp-port: bad port"},
    {"max-message-size", AUDIO "a=max-message-size:-1\r\n", 0, -WEIR_EINVAL,
     "line 6: a=max-message-size: bad size"},
    {"attribute name", AUDIO "a=:x\r\n", 0, -WEIR_EINVAL, "line 6: a=: bad attribute name"},
    {"NUL byte", AUDIO "a=mid:0\0x\r\n", sizeof(AUDIO "a=mid:0\0x\r\n") - 1, -WEIR_EINVAL,
     "line 6: NUL byte"},
    {"CR inside", AUDIO "a=mid:0\rx\r\n", 0, -WEIR_EINVAL, "line 6: CR inside a line"},
    {"garbage", "\x89PNG\r\n\x1a\n\xff\xfe", 0, -WEIR_EINVAL, "line 1: expected <type>=<value>"},
    {"garbage after header", HEAD "\xde\xad\xbe\xef=\x01\r\n", 0, -WEIR_EINVAL,
     "line 5: expected <type>=<value>"},
};

Test(sdp, error_rows)
{
    for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++) {
        const struct error_row *row = &error_rows[i];
        weir_sdp *sdp = (weir_sdp *)0x1; /* must stay untouched */
        char err[128] = "";
        size_t len = row->len ? row->len : strlen(row->text);
        int rc = weir_sdp_parse(row->text, len, &sdp, err, sizeof err);
        cr_expect_eq(rc, row->rc, "%s: rc %d (%s)", row->name, rc, err);
        cr_expect_str_eq(err, row->reason, "%s", row->name);
        cr_expect_eq(sdp, (weir_sdp *)0x1, "%s: output touched", row->name);
    }
}

/* Builds a text of n copies of line after HEAD (and prefix). */
static char *repeat(const char *prefix, const char *line, size_t n, size_t *len)
{
    size_t cap = strlen(HEAD) + strlen(prefix) + n * strlen(line) + 1;
    char *s = weir_malloc(cap);
    size_t o = (size_t)snprintf(s, cap, "%s%s", HEAD, prefix);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s", line);
    *len = o;
    return s;
}

/* Parses HEAD prefix line*n and expects the limit with this reason. */
static void expect_limit(const char *prefix, const char *line, size_t n, const char *reason)
{
    size_t len;
    char *text = repeat(prefix, line, n, &len);
    weir_sdp *sdp = NULL;
    char err[128] = "";
    cr_expect_eq(weir_sdp_parse(text, len, &sdp, err, sizeof err), -WEIR_ETOOBIG, "%s: %s", reason,
                 err);
    cr_expect_str_eq(err, reason);
    cr_expect_null(sdp);
    weir_free(text);
}

Test(sdp, limits)
{
    size_t len;
    char *t = repeat("", "m=audio 9 RTP/AVP 0\r\n", WEIR_SDP_MAX_MEDIA, &len);
    weir_sdp *sdp = NULL;
    cr_expect_eq(weir_sdp_parse(t, len, &sdp, NULL, 0), 0, "64 m-lines are fine");
    weir_sdp_free(sdp);
    weir_free(t);
    sdp = NULL;
    expect_limit("", "m=audio 9 RTP/AVP 0\r\n", 65, "line 69: too many m-lines");
    expect_limit("", "a=x-pad:0123456789012345678901234567890123456789\r\n",
                 WEIR_SDP_MAX_INPUT / 48, "input too large");
    expect_limit("m=audio 9 RTP/AVP 0\r\n", "a=x\r\n", 1024,
                 "line 1029: too many lines in one section");
    expect_limit("m=video 9 RTP/AVP 96\r\na=simulcast:send ", "a;b;c;d;e;f;g;h;", 5,
                 "line 6: a=simulcast: too many rids");
    expect_limit("a=group:BUNDLE", " 0 1 2 3 4 5 6 7", 9, "line 5: a=group: too many mids");
    /* 129 formats need a non-RTP proto: RTP has only 128 payload types. */
    expect_limit("m=application 9 X/Y", " f", 129, "line 5: m=: too many formats");
    cr_expect_eq(weir_sdp_parse("v=0", WEIR_SDP_MAX_INPUT + 1, &sdp, NULL, 0), -WEIR_ETOOBIG,
                 "the size is checked before the bytes are read");
    cr_expect_null(sdp);
}

/* ---- lookups ---- */

Test(sdp, fmtp_param)
{
    static const struct {
        const char *params, *key, *value; /* value NULL: absent */
    } rows[] = {
        {"minptime=10;useinbandfec=1", "useinbandfec", "1"},
        {"minptime=10;useinbandfec=1", "minptime", "10"},
        {"minptime=10;useinbandfec=1", "ptime", NULL},
        {"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
         "Profile-Level-ID", "42e01f"},
        {" a = 1 ; b=2 ", "a", "1"},
        {" a = 1 ; b=2 ", "b", "2"},
        {"111/111", "apt", NULL},
        {"apt=", "apt", ""},
        {"xapt=1;apt=2", "apt", "2"},
        {";;apt=3;", "apt", "3"},
        {"", "apt", NULL},
        {NULL, "apt", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *v = NULL;
        size_t n = 0;
        int found = weir_sdp_fmtp_param(rows[i].params, rows[i].key, &v, &n);
        cr_expect_eq(found, rows[i].value != NULL, "row %zu", i);
        if (found && rows[i].value)
            cr_expect(n == strlen(rows[i].value) && !strncmp(v, rows[i].value, n), "row %zu", i);
    }
    uint32_t u = 0;
    cr_expect(weir_sdp_fmtp_param_uint("apt=96", "apt", &u) && u == 96);
    cr_expect(weir_sdp_fmtp_param_uint("x=4294967295", "x", &u) && u == UINT32_MAX);
    cr_expect(!weir_sdp_fmtp_param_uint("x=4294967296", "x", &u));
    cr_expect(!weir_sdp_fmtp_param_uint("x=1a", "x", &u));
    cr_expect(!weir_sdp_fmtp_param_uint("x=", "x", &u));
}

/* ---- building ---- */

Test(sdp, builder_answer)
{
    weir_sdp *sdp = weir_sdp_create(42, 1);
    cr_assert_eq(weir_sdp_add_attribute(sdp, NULL, "group:BUNDLE 0 1 2", NULL, 0), 0);
    cr_assert_eq(weir_sdp_add_attributef(sdp, NULL, "msid-semantic: %s", "WMS"), 0);
    cr_assert_eq(weir_sdp_add_attribute(sdp, NULL, "ice-lite", NULL, 0), 0);

    weir_sdp_media *a = weir_sdp_add_media(sdp, "audio", 9, "UDP/TLS/RTP/SAVPF");
    cr_assert_not_null(a);
    cr_assert_eq(
        weir_sdp_media_add_codec(sdp, a, 111, "opus", 48000, 2, "minptime=10;useinbandfec=1"), 0);
    a->direction = WEIR_SDP_RECVONLY;
    a->rtcp_mux = a->rtcp_rsize = true;
    static const char *const audio_attrs[] = {
        "mid:0",
        "ice-ufrag:weir",
        "ice-pwd:0123456789abcdefghijkl",
        "ice-options:trickle",
        "fingerprint:sha-256 AA:BB:CC",
        "setup:passive",
        ("extmap:4 " WEIR_SDP_EXT_MID),
        "rtcp-fb:111 transport-cc",
        "candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host",
        "end-of-candidates",
    };
    for (size_t i = 0; i < sizeof audio_attrs / sizeof audio_attrs[0]; i++)
        cr_assert_eq(weir_sdp_add_attribute(sdp, a, audio_attrs[i], NULL, 0), 0, "%s",
                     audio_attrs[i]);

    weir_sdp_media *v = weir_sdp_add_media(sdp, "video", 9, "UDP/TLS/RTP/SAVPF");
    cr_assert_eq(weir_sdp_media_add_codec(sdp, v, 96, "VP8", 90000, 0, NULL), 0);
    cr_assert_eq(weir_sdp_media_add_codec(sdp, v, 97, "rtx", 90000, 0, "apt=96"), 0);
    cr_assert_eq(weir_sdp_add_attributef(sdp, v, "mid:%d", 1), 0);
    cr_assert_eq(weir_sdp_add_attributef(sdp, v, "rid:%s recv", "q"), 0);
    cr_assert_eq(weir_sdp_add_attributef(sdp, v, "rid:%s recv", "h"), 0);
    cr_assert_eq(weir_sdp_add_attribute(sdp, v, "simulcast:recv q;h", NULL, 0), 0);
    cr_assert_eq(weir_sdp_add_attribute(sdp, v, "sendonly", NULL, 0), 0);

    weir_sdp_media *d = weir_sdp_add_media(sdp, "application", 9, "UDP/DTLS/SCTP");
    cr_assert_eq(weir_sdp_media_add_format(sdp, d, "webrtc-datachannel"), 0);
    cr_assert_eq(weir_sdp_add_attribute(sdp, d, "mid:2", NULL, 0), 0);
    d->sctp_port = 5000;
    d->max_message_size = 262144;

    size_t len;
    char *text = weir_sdp_write(sdp, &len);
    cr_expect(!strncmp(text, "v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 44), "%s",
              text);
    cr_expect_not_null(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    cr_expect_not_null(strstr(text, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"));
    cr_expect_not_null(strstr(text, "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"));
    cr_expect_not_null(strstr(text, "a=simulcast:recv q;h\r\n"));
    cr_expect_not_null(strstr(text, "a=sctp-port:5000\r\na=max-message-size:262144\r\n"));
    weir_sdp *back = parse_str(text);
    cr_expect(weir_sdp_equal(sdp, back), "%s", text);
    cr_expect_eq(weir_sdp_media_rtx_pt(back->media[1], 96), 97);
    cr_expect_eq(weir_sdp_media_direction(back, back->media[0]), WEIR_SDP_RECVONLY);
    cr_expect_str_eq(back->media[0]->candidates[0].address, "192.0.2.10");
    weir_free(text);
    weir_sdp_free(back);
    weir_sdp_free(sdp);
}

Test(sdp, builder_rejects_and_changes_nothing)
{
    static const struct {
        const char *attr, *reason;
    } rows[] = {
        {"rtpmap:111 opus/48000/2", "a=rtpmap: duplicate payload type"},
        {"mid:1", "a=mid: duplicate"},
        {"candidate:1 1 udp", "a=candidate: too few fields"},
        {"mid:0\r\na=evil", "line break in attribute"},
        {"simulcast:send a;b;~", "a=simulcast: bad rid"},
        {"extmap:4 urn:y", "a=extmap: duplicate id"},
        {"rtcp-mux:1", "unexpected value on a flag attribute"},
    };
    weir_sdp *sdp = weir_sdp_create(1, 1);
    weir_sdp_media *m = weir_sdp_add_media(sdp, "audio", 9, "UDP/TLS/RTP/SAVPF");
    cr_assert_eq(weir_sdp_media_add_codec(sdp, m, 111, "opus", 48000, 2, NULL), 0);
    cr_assert_eq(weir_sdp_add_attribute(sdp, m, "mid:0", NULL, 0), 0);
    cr_assert_eq(weir_sdp_add_attribute(sdp, m, "extmap:4 urn:x", NULL, 0), 0);
    size_t before_len;
    char *before = weir_sdp_write(sdp, &before_len);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[128] = "";
        cr_expect_lt(weir_sdp_add_attribute(sdp, m, rows[i].attr, err, sizeof err), 0, "%s",
                     rows[i].attr);
        cr_expect_str_eq(err, rows[i].reason);
        char *after = weir_sdp_write(sdp, NULL);
        cr_expect_str_eq(after, before, "%s changed the model", rows[i].attr);
        weir_free(after);
    }
    weir_free(before);
    cr_expect_null(weir_sdp_add_media(sdp, "audio video", 9, "RTP/AVP"));
    cr_expect_null(weir_sdp_add_media(sdp, "audio", 9, "RTP AVP"));
    cr_expect_lt(weir_sdp_media_add_format(sdp, m, "200"), 0);
    cr_expect_lt(weir_sdp_media_add_format(sdp, m, "111"), 0, "already there");
    weir_sdp_free(sdp);
}

Test(sdp, builder_memory_is_capped)
{
    /* Builder calls are not bounded by the text limits, only by the arena cap. */
    char big[4001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weir_sdp *sdp = weir_sdp_create(1, 1);
    int rc = 0;
    size_t i = 0;
    for (; i < 100000 && rc == 0; i++)
        rc = weir_sdp_add_attributef(sdp, NULL, "x-big:%s", big);
    cr_expect_eq(rc, -WEIR_ETOOBIG);
    cr_expect_lt(i, (size_t)(WEIR_SDP_MAX_MEMORY / 4000 + 10));
    cr_expect_eq(sdp->n_attrs, i - 1, "the failed one was not added");
    weir_sdp_free(sdp);
}

Test(sdp, trickled_candidate)
{
    /* What arrives in a `trickle` request: the attribute without "a=". */
    weir_sdp *sdp = parse_data(ANSWER);
    weir_sdp_media *m = weir_sdp_find_media(sdp, "0");
    size_t n = m->n_candidates;
    char err[128] = "";
    cr_assert_eq(weir_sdp_add_attribute(sdp, m,
                                        "candidate:842163049 1 udp 1677729535 203.0.113.7 61219 "
                                        "typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Kbr4 "
                                        "network-cost 999",
                                        err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(m->n_candidates, n + 1);
    const weir_sdp_candidate *c = &m->candidates[n];
    cr_expect_str_eq(c->type, "srflx");
    cr_expect_str_eq(c->raddr, "0.0.0.0");
    cr_expect_eq(c->rport, 0);
    cr_expect_str_eq(c->extensions, "generation 0 ufrag Kbr4 network-cost 999");
    cr_assert_eq(weir_sdp_add_attribute(sdp, m, "end-of-candidates", NULL, 0), 0);
    cr_expect(m->end_of_candidates);
    weir_sdp_free(sdp);
}
