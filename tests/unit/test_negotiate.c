/*
 * Publisher offer -> answer (peer/negotiate*.c) over Chromium 156's own
 * offers (tests/data/sdp): the answer Weir gives to what weir.js sends, the
 * desc the media path reads, and each way an offer is refused, built by
 * editing the captured text (drop lines, replace text, drop m-sections).
 */
#include <criterion/criterion.h>

#include "support/sdp_edit.h"
#include "support/test_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer/negotiate.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#ifndef WEIR_SOURCE_ROOT
#define WEIR_SOURCE_ROOT "."
#endif

#define PUBLISH "chromium-156-publish-simulcast.sdp"
#define OFFER "chromium-156-offer-audio-video.sdp"

#define LOCAL_UFRAG "Wz3k"
#define LOCAL_PWD "abcdefghijklmnopqrstuvwx"
#define LOCAL_FP                                                                                   \
    "sha-256 "                                                                                     \
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"   \
    "CD:EF"
#define PUBLISH_FP                                                                                 \
    "D3:D6:8D:6F:3B:44:49:42:E6:1D:01:C3:AD:8A:E0:ED:AB:8E:E9:E9:4C:CE:6D:A3:65:54:F0:8F:01:B4:"   \
    "F2:30"

/* ---- helpers: files, text edits, one negotiation ---- */

static char *read_data(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "sdp/%s", name);
    return test_data_read(rel, NULL);
}

typedef enum {
    END,
    DROP_LINES,   /* every line starting with a */
    REPLACE,      /* every occurrence of a by b */
    REPLACE_LINE, /* every line starting with a by the line b */
    DROP_SECTION, /* the m-section number a ("0", "1", ...) */
} edit_op;

typedef struct edit {
    edit_op op;
    const char *a, *b;
} edit;

#define MAX_EDITS 8
/* One-line initializers; clang-format would spread each over four lines. */
/* clang-format off */
#define DROP(prefix) {DROP_LINES, (prefix), NULL}
#define SUB(from, to) {REPLACE, (from), (to)}
#define LINE(prefix, line) {REPLACE_LINE, (prefix), (line)}
#define CUT(index) {DROP_SECTION, (index), NULL}
/* clang-format on */

static char *drop_section(char *text, int index)
{
    char *start = text;
    for (int i = -1; i < index; i++) {
        start = strstr(start + 1, "\r\nm=");
        cr_assert_not_null(start, "no m-section %d", index);
    }
    char *end = strstr(start + 2, "\r\nm=");
    memmove(start, end ? end : start + strlen(start),
            strlen(end ? end : start + strlen(start)) + 1);
    return text;
}

static char *apply_edits(const char *file, const edit *edits)
{
    char *text = read_data(file);
    for (size_t i = 0; i < MAX_EDITS && edits[i].op != END; i++) {
        const edit *e = &edits[i];
        if (e->op == DROP_LINES)
            text = edit_lines(text, e->a, NULL);
        else if (e->op == REPLACE_LINE)
            text = edit_lines(text, e->a, e->b);
        else if (e->op == REPLACE)
            text = replace_all(text, e->a, e->b);
        else
            text = drop_section(text, atoi(e->a));
    }
    return text;
}

static weir_sdp *parse_text(const char *text)
{
    weir_sdp *sdp = NULL;
    char err[128] = "";
    int rc = weir_sdp_parse(text, strlen(text), &sdp, err, sizeof err);
    cr_assert_eq(rc, 0, "offer does not parse: %s", err);
    return sdp;
}

static void local_params(weir_local_params *lp)
{
    weir_local_params_init(lp);
    lp->ice_ufrag = LOCAL_UFRAG;
    lp->ice_pwd = LOCAL_PWD;
    lp->fingerprint = LOCAL_FP;
    lp->session_id = 42;
    lp->session_version = 2;
}

typedef struct result {
    int rc;
    char err[256];
    weir_sdp *answer;
    char *text; /* the answer written */
    weir_publish_desc desc;
} result;

/* Negotiates; on success checks the written answer parses to an equal model. */
static void negotiate_text(const char *offer_text, const weir_local_params *lp, result *r)
{
    weir_sdp *offer = parse_text(offer_text);
    memset(r, 0, sizeof *r);
    r->rc = weir_negotiate_publisher_answer(offer, lp, &r->answer, &r->desc, r->err, sizeof r->err);
    weir_sdp_free(offer);
    if (r->rc < 0)
        return;
    size_t len;
    r->text = weir_sdp_write(r->answer, &len);
    weir_sdp *again = NULL;
    char err[128] = "";
    cr_assert_eq(weir_sdp_parse(r->text, len, &again, err, sizeof err), 0, "answer: %s\n%s", err,
                 r->text);
    cr_assert(weir_sdp_equal(r->answer, again), "answer re-parses differently");
    weir_sdp_free(again);
}

static void negotiate_file(const char *file, const weir_local_params *lp, result *r)
{
    char *text = read_data(file);
    negotiate_text(text, lp, r);
    weir_free(text);
}

static void result_free(result *r)
{
    weir_sdp_free(r->answer);
    weir_free(r->text);
}

static const weir_publish_media *find_pm(const weir_publish_desc *d, const char *mid)
{
    for (size_t i = 0; i < d->n_media; i++)
        if (!strcmp(d->media[i].mid, mid))
            return &d->media[i];
    cr_assert_fail("no mid %s in desc", mid);
    return NULL;
}

static void expect_formats(const weir_sdp_media *m, const char *want)
{
    char got[128] = "";
    for (size_t i = 0; i < m->n_formats; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", m->formats[i]);
    cr_expect_str_eq(got, want, "mid=%s", m->mid);
}

/* ---- the simulcast publish offer weir.js makes ---- */

/* What every m-line of the answer to PUBLISH carries (JSEP §5.3.1, as Chromium). */
static void expect_answer_lines(const weir_sdp *a, const weir_sdp_group *g)
{
    static const char *const mids[] = {"0", "1", "2"};
    static const weir_sdp_kind kinds[] = {WEIR_SDP_AUDIO, WEIR_SDP_VIDEO, WEIR_SDP_APPLICATION};
    for (size_t i = 0; i < 3; i++) {
        const weir_sdp_media *m = a->media[i];
        cr_expect_str_eq(m->mid, mids[i]);
        cr_expect_str_eq(g->mids[i], mids[i]);
        cr_expect_eq(m->kind, kinds[i]);
        cr_expect_eq(m->port, 9);
        cr_expect_str_eq(m->transport.ice_ufrag, LOCAL_UFRAG);
        cr_expect_str_eq(m->transport.ice_pwd, LOCAL_PWD);
        cr_expect(m->transport.ice_trickle);
        cr_assert_eq(m->transport.n_fingerprints, 1);
        cr_expect_str_eq(m->transport.fingerprints[0].hash, "sha-256");
        cr_expect_eq(m->transport.setup, WEIR_SDP_SETUP_PASSIVE);
        cr_expect_eq(m->n_candidates, 0); /* trickle: none given */
        cr_expect(!m->end_of_candidates);
        cr_expect_eq(m->n_msids, 0);
        cr_expect_eq(m->n_ssrcs, 0);
        cr_expect_str_eq(m->connection.address, "0.0.0.0");
    }
}

Test(negotiate, publish_simulcast_answer)
{
    weir_local_params lp;
    local_params(&lp);
    result r;
    negotiate_file(PUBLISH, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_sdp *a = r.answer;

    cr_expect_eq(a->origin.sess_id, 42);
    cr_expect(a->extmap_allow_mixed);
    cr_expect_null(a->msid_semantic);
    const weir_sdp_group *g = weir_sdp_find_group(a, "BUNDLE");
    cr_assert_not_null(g);
    cr_assert_eq(g->n_mids, 3);
    cr_assert_eq(a->n_media, 3);
    expect_answer_lines(a, g);

    const weir_sdp_media *au = a->media[0], *vi = a->media[1], *dc = a->media[2];
    cr_expect_eq(au->direction, WEIR_SDP_RECVONLY);
    cr_expect(au->rtcp_mux && au->rtcp_rsize);
    expect_formats(au, "111 63");
    cr_expect_str_eq(weir_sdp_media_find_fmtp(au, 111), "minptime=10;useinbandfec=1");
    cr_expect(weir_sdp_media_has_rtcp_fb(au, 111, "transport-cc", NULL));
    cr_expect_eq(au->n_extmaps, 4); /* audio-level 1, abs-send-time 2, twcc 3, mid 4 */
    for (unsigned id = 1; id <= 4; id++)
        cr_expect_eq(au->extmaps[id - 1].id, id);

    cr_expect_eq(vi->direction, WEIR_SDP_RECVONLY);
    expect_formats(vi, "96 97");
    cr_expect_str_eq(weir_sdp_media_find_rtpmap(vi, 96)->encoding, "VP8");
    cr_expect_eq(weir_sdp_media_rtx_pt(vi, 96), 97);
    cr_expect_eq(vi->n_rtcp_fbs, 5);
    cr_expect(weir_sdp_media_has_rtcp_fb(vi, 96, "nack", "pli"));
    cr_expect(weir_sdp_media_has_rtcp_fb(vi, 96, "ccm", "fir"));
    static const struct {
        const char *uri;
        int id;
    } vext[] = {
        {WEIR_SDP_EXT_ABS_SEND_TIME, 2}, {WEIR_SDP_EXT_TWCC, 3},          {WEIR_SDP_EXT_MID, 4},
        {WEIR_SDP_EXT_RID, 10},          {WEIR_SDP_EXT_REPAIRED_RID, 11},
    };
    cr_expect_eq(vi->n_extmaps, 5); /* toffset, orientation, playout-delay, ... dropped */
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(weir_sdp_media_extmap_id(vi, vext[i].uri), vext[i].id, "%s", vext[i].uri);
    cr_assert_eq(vi->n_rids, 3);
    static const char *const rids[] = {"q", "h", "f"};
    for (size_t i = 0; i < 3; i++) {
        cr_expect_str_eq(vi->rids[i].id, rids[i]);
        cr_expect_eq(vi->rids[i].direction, WEIR_SDP_RID_RECV);
        cr_expect_null(vi->rids[i].restrictions);
    }
    cr_expect(strstr(r.text, "a=simulcast:recv q;h;f\r\n"));

    cr_expect_str_eq(dc->proto, "UDP/DTLS/SCTP");
    expect_formats(dc, "webrtc-datachannel");
    cr_expect_eq(dc->sctp_port, 5000);
    cr_expect_eq(dc->max_message_size, 262144);
    cr_expect_eq(dc->direction, WEIR_SDP_DIR_NONE);
    result_free(&r);
}

Test(negotiate, publish_simulcast_desc)
{
    weir_local_params lp;
    local_params(&lp);
    result r;
    negotiate_file(PUBLISH, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_publish_desc *d = &r.desc;
    cr_assert_eq(d->n_media, 3);
    cr_expect_str_eq(d->bundle_mid, "0");
    cr_expect_str_eq(d->ice_ufrag, "MhZ1");
    cr_expect_str_eq(d->ice_pwd, "mRede2mBGLmAeF2Yahc8KFlh");
    cr_expect(d->ice_trickle);
    cr_expect_str_eq(d->fingerprint_hash, "sha-256");
    cr_expect_str_eq(d->fingerprint, PUBLISH_FP);
    cr_expect_eq(d->remote_setup, WEIR_SDP_SETUP_ACTPASS);
    cr_expect_eq(d->dtls_role, WEIR_DTLS_ROLE_SERVER);

    const weir_publish_media *au = find_pm(d, "0"), *vi = find_pm(d, "1"), *dc = find_pm(d, "2");
    cr_expect(!au->rejected && au->receiving);
    cr_expect_eq(au->kind, WEIR_SDP_AUDIO);
    cr_expect_eq(au->codec, WEIR_CODEC_OPUS);
    cr_expect_str_eq(au->codec_name, "opus");
    cr_expect_eq(au->pt, 111);
    cr_expect_eq(au->red_pt, 63);
    cr_expect_eq(au->rtx_pt, -1);
    cr_expect_eq(au->clock_rate_hz, 48000);
    cr_expect_eq(au->channels, 2);
    cr_expect_eq(au->rtcp_fb, WEIR_NEGOTIATE_FB_TWCC);
    cr_expect_eq(au->ext.audio_level, 1);
    cr_expect_eq(au->ext.mid, 4);
    cr_expect_eq(au->ext.rid, 0);
    cr_expect_eq(au->source, WEIR_SOURCE_MICROPHONE);
    cr_expect_str_eq(au->stream_id, "7134fec4-029d-41d5-8f98-c6122116210e");
    cr_expect_str_eq(au->track_id, "f8dc2aa4-6bf4-429d-94f9-c0c3f803e59c");
    cr_expect_eq(au->n_ssrcs, 1); /* Chromium announces the audio SSRC */
    cr_expect_eq(au->ssrcs[0].media, 53182727u);

    cr_expect(!vi->rejected && vi->receiving);
    cr_expect_eq(vi->codec, WEIR_CODEC_VP8);
    cr_expect_eq(vi->pt, 96);
    cr_expect_eq(vi->rtx_pt, 97);
    cr_expect_eq(vi->red_pt, -1);
    cr_expect_eq(vi->clock_rate_hz, 90000);
    cr_expect_eq(vi->rtcp_fb, WEIR_NEGOTIATE_FB_ALL);
    cr_expect_eq(vi->source, WEIR_SOURCE_CAMERA);
    weir_publish_extids want = {
        .mid = 4, .rid = 10, .repaired_rid = 11, .abs_send_time = 2, .twcc = 3};
    cr_expect(!memcmp(&vi->ext, &want, sizeof want));
    cr_assert_eq(vi->n_rids, 3);
    cr_expect_str_eq(vi->rids[0].id, "q");
    cr_expect_str_eq(vi->rids[1].id, "h");
    cr_expect_str_eq(vi->rids[2].id, "f");
    cr_expect(!vi->rids[0].paused && !vi->rids[1].paused && !vi->rids[2].paused);
    cr_expect_eq(vi->n_ssrcs, 0); /* rids: SSRCs come from the rid extension */
    cr_expect_str_eq(vi->track_id, "d5fa2ea5-01ae-4318-a1c3-c5423f1797ce");

    cr_expect(!dc->rejected);
    cr_expect_eq(dc->kind, WEIR_SDP_APPLICATION);
    cr_expect_eq(dc->source, WEIR_SOURCE_NONE);
    cr_expect_eq(dc->remote_sctp_port, 5000);
    cr_expect_eq(dc->remote_max_message_size, 262144);
    result_free(&r);
}

/* The addTrack offer: sendrecv, no simulcast, a=ssrc-group:FID for RTX. */
Test(negotiate, plain_offer_ssrcs)
{
    weir_local_params lp;
    local_params(&lp);
    result r;
    negotiate_file(OFFER, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_publish_media *au = find_pm(&r.desc, "0"), *vi = find_pm(&r.desc, "1");
    cr_expect(au->receiving && vi->receiving);
    cr_expect_eq(r.answer->media[0]->direction, WEIR_SDP_RECVONLY); /* sendrecv -> recvonly */
    cr_expect_eq(r.answer->media[1]->direction, WEIR_SDP_RECVONLY);
    cr_assert_eq(au->n_ssrcs, 1);
    cr_expect_eq(au->ssrcs[0].media, 3878751324u);
    cr_expect_eq(au->ssrcs[0].rtx, 0);
    cr_assert_eq(vi->n_ssrcs, 1);
    cr_expect_eq(vi->ssrcs[0].media, 476217097u);
    cr_expect_eq(vi->ssrcs[0].rtx, 325878299u);
    cr_expect_eq(vi->n_rids, 0);
    cr_expect_null(strstr(r.text, "a=simulcast"));
    cr_expect_null(strstr(r.text, "a=rid"));
    cr_expect_null(strstr(r.text, "a=ssrc"));
    result_free(&r);
}

/* ---- edited offers: accepted ---- */

static const struct accept_row {
    const char *name;
    const char *file;
    edit edits[MAX_EDITS];
    const char *has[4];   /* substrings of the written answer */
    const char *lacks[3]; /* ... and what it must not contain */
} accept_rows[] = {
    {"setup passive -> we are active",
     PUBLISH,
     {SUB("a=setup:actpass", "a=setup:passive")},
     {"a=setup:active\r\n"},
     {"a=setup:passive"}},
    {"setup active -> passive",
     PUBLISH,
     {SUB("a=setup:actpass", "a=setup:active")},
     {"a=setup:passive\r\n"},
     {"a=setup:active"}},
    {"no setup is active (RFC 4145)", PUBLISH, {DROP("a=setup:")}, {"a=setup:passive\r\n"}, {NULL}},
    {"data channel only (a watcher)",
     PUBLISH,
     {CUT("0"), CUT("0"), SUB("BUNDLE 0 1 2", "BUNDLE 2")},
     {"a=group:BUNDLE 2\r\n", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
      "a=sctp-port:5000\r\n", "a=max-message-size:262144\r\n"},
     {"m=audio", "m=video"}},
    {"recvonly media is answered inactive",
     PUBLISH,
     {SUB("a=sendonly", "a=recvonly")},
     {"a=inactive\r\n", "m=audio 9 ", "m=video 9 "},
     {"a=recvonly", "a=sendonly"}},
    {"unusable audio beside usable video: audio rejected",
     PUBLISH,
     {SUB("opus/48000/2", "opus/48000/1")},
     {"m=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\nm=video 9",
      "a=group:BUNDLE 1 2\r\n", "a=simulcast:recv q;h;f"},
     {"a=rtpmap:111"}},
    {"simulcast: unknown alternative dropped, paused kept, at most 3",
     PUBLISH,
     {SUB("a=simulcast:send q;h;f", "a=simulcast:send q,x;~h;f;g"),
      SUB("a=rid:f send", "a=rid:f send\r\na=rid:g send")},
     {"a=simulcast:recv q;~h;f\r\n", "a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\n"},
     {"a=rid:g", "rid:x", ",x"}},
    {"simulcast: a rid restricted to another codec is dropped",
     PUBLISH,
     {SUB("a=rid:h send", "a=rid:h send pt=98")},
     {"a=simulcast:recv q;f\r\n"},
     {"a=rid:h", " pt="}},
    {"simulcast needs the rid extension",
     PUBLISH,
     {DROP("a=extmap:10 ")},
     {"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"},
     {"a=simulcast", "a=rid:", "a=extmap:10"}},
    {"extmap-allow-mixed and rtcp-rsize only when offered",
     OFFER,
     {DROP("a=extmap-allow-mixed"), DROP("a=rtcp-rsize")},
     {"a=rtcp-mux\r\n"},
     {"a=extmap-allow-mixed", "a=rtcp-rsize"}},
    {"sendonly extmap is answered recvonly",
     OFFER,
     {SUB("a=extmap:4 urn", "a=extmap:4/sendonly urn")},
     {"a=extmap:4/recvonly urn:ietf:params:rtp-hdrext:sdes:mid\r\n"},
     {NULL}},
    {"session-level transport",
     OFFER,
     {DROP("a=fingerprint:"),
      SUB("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1\r\na=fingerprint:sha-256 " PUBLISH_FP)},
     {"a=fingerprint:" LOCAL_FP "\r\n"},
     {NULL}},
};

Test(negotiate, accept_rows)
{
    weir_local_params lp;
    local_params(&lp);
    for (size_t i = 0; i < sizeof accept_rows / sizeof *accept_rows; i++) {
        const struct accept_row *row = &accept_rows[i];
        char *text = apply_edits(row->file, row->edits);
        result r;
        negotiate_text(text, &lp, &r);
        cr_expect_eq(r.rc, 0, "%s: %s", row->name, r.err);
        for (size_t j = 0; r.rc == 0 && j < 4 && row->has[j]; j++)
            cr_expect_not_null(strstr(r.text, row->has[j]), "%s: lacks \"%s\"\n%s", row->name,
                               row->has[j], r.text);
        for (size_t j = 0; r.rc == 0 && j < 3 && row->lacks[j]; j++)
            cr_expect_null(strstr(r.text, row->lacks[j]), "%s: has \"%s\"", row->name,
                           row->lacks[j]);
        result_free(&r);
        weir_free(text);
    }
}

Test(negotiate, setup_passive_makes_us_dtls_client)
{
    weir_local_params lp;
    local_params(&lp);
    edit edits[MAX_EDITS] = {SUB("a=setup:actpass", "a=setup:passive")};
    char *text = apply_edits(PUBLISH, edits);
    result r;
    negotiate_text(text, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_expect_eq(r.desc.remote_setup, WEIR_SDP_SETUP_PASSIVE);
    cr_expect_eq(r.desc.dtls_role, WEIR_DTLS_ROLE_CLIENT);
    result_free(&r);
    weir_free(text);
}

Test(negotiate, rejected_line_is_reported_in_desc)
{
    weir_local_params lp;
    local_params(&lp);
    edit edits[MAX_EDITS] = {SUB("opus/48000/2", "opus/48000/1")};
    char *text = apply_edits(PUBLISH, edits);
    result r;
    negotiate_text(text, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_publish_media *au = find_pm(&r.desc, "0");
    cr_expect(au->rejected);
    cr_expect_str_eq(au->reject_reason, "no common audio codec in m-line mid=0 (offered: opus, "
                                        "red, G722, PCMU, PCMA, CN, telephone-event)");
    cr_expect_eq(au->pt, -1);
    cr_expect(!find_pm(&r.desc, "1")->rejected);
    cr_expect_str_eq(r.desc.bundle_mid, "1");
    result_free(&r);
    weir_free(text);
}

/* ---- edited offers: refused ---- */

/* A video-only offer whose only codec is H265. */
#define H265_ONLY                                                                                  \
    CUT("0"), SUB("BUNDLE 0 1", "BUNDLE 1"), DROP("a=rtpmap:"), DROP("a=fmtp:"),                   \
        DROP("a=rtcp-fb:"), LINE("m=video", "m=video 57569 UDP/TLS/RTP/SAVPF 49 50"),              \
        SUB("a=mid:1\r\n",                                                                         \
            "a=mid:1\r\na=rtpmap:49 H265/90000\r\na=rtpmap:50 rtx/90000\r\na=fmtp:50 apt=49\r\n")

static const struct refuse_row {
    const char *name;
    const char *file;
    edit edits[MAX_EDITS];
    int rc;
    const char *err; /* the reason starts with this */
} refuse_rows[] = {
    {"no fingerprint",
     PUBLISH,
     {DROP("a=fingerprint:")},
     -WEIR_EINVAL,
     "offer has no DTLS fingerprint"},
    {"sha-1 fingerprint",
     PUBLISH,
     {SUB("fingerprint:sha-256", "fingerprint:sha-1")},
     -WEIR_EINVAL,
     "offer has no sha-256/384/512 DTLS fingerprint"},
    {"short fingerprint",
     PUBLISH,
     {SUB("F2:30\r\n", "F2:3\r\n")},
     -WEIR_EINVAL,
     "offer has a malformed DTLS fingerprint"},
    {"no BUNDLE", PUBLISH, {DROP("a=group:BUNDLE")}, -WEIR_EINVAL, "offer has no BUNDLE group"},
    {"BUNDLE without the data line",
     PUBLISH,
     {SUB("BUNDLE 0 1 2", "BUNDLE 0 1")},
     -WEIR_EINVAL,
     "offer has no BUNDLE group with every m-line (mid=2 is missing)"},
    {"BUNDLE names an unknown mid",
     PUBLISH,
     {SUB("BUNDLE 0 1 2", "BUNDLE 0 1 2 7")},
     -WEIR_EINVAL,
     "BUNDLE group names unknown mid=7"},
    {"no rtcp-mux",
     PUBLISH,
     {DROP("a=rtcp-mux")},
     -WEIR_EINVAL,
     "offer has no rtcp-mux in m-line mid=0"},
    {"setup holdconn",
     PUBLISH,
     {SUB("a=setup:actpass", "a=setup:holdconn")},
     -WEIR_EINVAL,
     "setup must be actpass, active or passive"},
    {"no ice-ufrag", PUBLISH, {DROP("a=ice-ufrag:")}, -WEIR_EINVAL, "offer has no ICE credentials"},
    {"short ice-pwd",
     PUBLISH,
     {SUB("a=ice-pwd:mRede2mBGLmAeF2Yahc8KFlh", "a=ice-pwd:short")},
     -WEIR_EINVAL,
     "offer has malformed ICE credentials"},
    {"no mid", PUBLISH, {DROP("a=mid:")}, -WEIR_EINVAL, "offer has no a=mid in m-line 0"},
    {"duplicate mid", OFFER, {SUB("a=mid:1", "a=mid:0")}, -WEIR_EINVAL, "duplicate mid=0 in offer"},
    {"video-only offer in H265",
     OFFER,
     {H265_ONLY},
     -WEIR_EINVAL,
     "no common video codec in m-line mid=1 (offered: H265)"},
    {"H264 packetization-mode 0 only",
     OFFER,
     {CUT("0"), SUB("BUNDLE 0 1", "BUNDLE 1"),
      LINE("m=video", "m=video 57569 UDP/TLS/RTP/SAVPF 104 107")},
     -WEIR_EINVAL,
     "no common video codec in m-line mid=1 (offered: H264)"},
    {"legacy SCTP data line only",
     PUBLISH,
     {CUT("0"), CUT("0"), SUB("BUNDLE 0 1 2", "BUNDLE 2"),
      SUB("UDP/DTLS/SCTP webrtc-datachannel", "DTLS/SCTP 5000")},
     -WEIR_EINVAL,
     "unsupported protocol DTLS/SCTP in m-line mid=2"},
    {"every line rejected by the offer",
     OFFER,
     {SUB("m=audio 51235", "m=audio 0"), SUB("m=video 57569", "m=video 0")},
     -WEIR_EINVAL,
     "offer has no usable m-line"},
};

Test(negotiate, refuse_rows)
{
    weir_local_params lp;
    local_params(&lp);
    for (size_t i = 0; i < sizeof refuse_rows / sizeof *refuse_rows; i++) {
        const struct refuse_row *row = &refuse_rows[i];
        char *text = apply_edits(row->file, row->edits);
        weir_sdp *offer = parse_text(text);
        weir_sdp *answer = (weir_sdp *)&lp; /* sentinel: must stay */
        weir_publish_desc desc, before;
        memset(&desc, 0xa5, sizeof desc);
        before = desc;
        char err[256] = "";
        int rc = weir_negotiate_publisher_answer(offer, &lp, &answer, &desc, err, sizeof err);
        cr_expect_eq(rc, row->rc, "%s: rc %d (%s)", row->name, rc, err);
        cr_expect_eq(strncmp(err, row->err, strlen(row->err)), 0, "%s: \"%s\"", row->name, err);
        cr_expect_eq(answer, (weir_sdp *)&lp, "%s: answer touched", row->name);
        cr_expect(!memcmp(&desc, &before, sizeof desc), "%s: desc touched", row->name);
        weir_sdp_free(offer);
        weir_free(text);
    }
}

Test(negotiate, local_params_are_checked)
{
    char *text = read_data(PUBLISH);
    weir_sdp *offer = parse_text(text);
    weir_free(text);
    weir_local_params lp;
    weir_sdp *answer = NULL;
    weir_publish_desc desc;
    char err[128];
    static const char *const bad_cand[] = {"candidate:oops"};
    for (int c = 0; c < 4; c++) {
        local_params(&lp);
        if (c == 0)
            lp.ice_ufrag = "ab";
        else if (c == 1)
            lp.ice_pwd = NULL;
        else if (c == 2)
            lp.fingerprint = "nospace";
        else
            lp.candidates = bad_cand, lp.n_candidates = 1;
        cr_expect_eq(weir_negotiate_publisher_answer(offer, &lp, &answer, &desc, err, sizeof err),
                     -WEIR_EINVAL, "case %d", c);
        cr_expect_null(answer, "case %d", c);
    }
    weir_sdp_free(offer);
}

Test(negotiate, too_many_m_lines)
{
    char *text = read_data(PUBLISH);
    size_t len = strlen(text), cap = len * 20;
    text = weir_realloc(text, cap);
    char *dc = strstr(text, "m=application");
    char *sec = weir_strdup(dc);
    for (int i = 3; i < 20; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s", sec);
    weir_free(sec);
    weir_sdp *offer = NULL;
    char err[128];
    /* Same mid over and over: the count is checked before the mids are. */
    cr_assert_eq(weir_sdp_parse(text, len, &offer, err, sizeof err), 0, "%s", err);
    weir_local_params lp;
    local_params(&lp);
    weir_sdp *answer = NULL;
    weir_publish_desc desc;
    cr_expect_eq(weir_negotiate_publisher_answer(offer, &lp, &answer, &desc, err, sizeof err),
                 -WEIR_ETOOBIG);
    cr_expect_str_eq(err, "offer has more than 16 m-lines");
    weir_sdp_free(offer);
    weir_free(text);
}

/* ---- policy ---- */

static const struct codec_row {
    const char *name;
    weir_codec_policy policy[3];
    size_t n;
    int pt, rtx_pt;
    weir_codec codec;
    const char *fmtp;
} codec_rows[] = {
    {"VP8", {{WEIR_CODEC_VP8, true, false}}, 1, 96, 97, WEIR_CODEC_VP8, ""},
    {"H264 mode 1 first",
     {{WEIR_CODEC_H264, true, false}},
     1,
     102,
     103,
     WEIR_CODEC_H264,
     "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
    {"VP9 profile 0, not 2",
     {{WEIR_CODEC_VP9, true, false}},
     1,
     98,
     99,
     WEIR_CODEC_VP9,
     "profile-id=0"},
    {"AV1",
     {{WEIR_CODEC_AV1, true, false}},
     1,
     45,
     46,
     WEIR_CODEC_AV1,
     "level-idx=5;profile=0;tier=0"},
    {"VP9 without RTX",
     {{WEIR_CODEC_VP9, false, false}},
     1,
     98,
     -1,
     WEIR_CODEC_VP9,
     "profile-id=0"},
    /* Chromium lists VP8, then VP9, H264 and AV1: the server's order wins over it. */
    {"the server's order decides: AV1 before H264",
     {{WEIR_CODEC_AV1, true, false}, {WEIR_CODEC_H264, true, false}},
     2,
     45,
     46,
     WEIR_CODEC_AV1,
     "level-idx=5;profile=0;tier=0"},
    {"the server's order decides: H264 before VP8",
     {{WEIR_CODEC_H264, true, false}, {WEIR_CODEC_VP8, true, false}},
     2,
     102,
     103,
     WEIR_CODEC_H264,
     "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
    {"VP8 first: the default order",
     {{WEIR_CODEC_VP8, true, false}, {WEIR_CODEC_VP9, true, false}},
     2,
     96,
     97,
     WEIR_CODEC_VP8,
     ""},
};

Test(negotiate, parse_video_codecs)
{
    weir_codec_policy p[WEIR_NEGOTIATE_MAX_CODECS];
    size_t n = 0;
    char err[160];
    cr_assert_eq(weir_negotiate_parse_video_codecs("H264, vp8", p, 5, &n, err, sizeof err), 0, "%s",
                 err);
    cr_expect_eq(n, 3);
    cr_expect(p[0].codec == WEIR_CODEC_OPUS && p[0].red && p[0].rtx);
    cr_expect(p[1].codec == WEIR_CODEC_H264 && p[1].rtx && !p[1].red);
    cr_expect(p[2].codec == WEIR_CODEC_VP8);
    cr_assert_eq(
        weir_negotiate_parse_video_codecs("  vp8 vp9,,h264 , av1 ", p, 5, &n, err, sizeof err), 0,
        "%s", err);
    cr_expect_eq(n, 5);
    cr_expect_eq(p[4].codec, WEIR_CODEC_AV1);
    static const struct {
        const char *list, *why;
    } bad[] = {{"", "no video codec"}, {" , ", "no video codec"}, {"vp8, theora", "theora"},
               {"vp8, VP8", "twice"},  {"vp8x", "unknown"},       {NULL, "no video codec"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        cr_expect_eq(weir_negotiate_parse_video_codecs(bad[i].list, p, 5, &n, err, sizeof err),
                     -WEIR_EINVAL, "%s", bad[i].list ? bad[i].list : "(null)");
        cr_expect(strstr(err, bad[i].why) != NULL, "%s: %s", bad[i].why, err);
    }
}

Test(negotiate, codec_rows)
{
    for (size_t i = 0; i < sizeof codec_rows / sizeof *codec_rows; i++) {
        const struct codec_row *row = &codec_rows[i];
        weir_codec_policy policy[4] = {{WEIR_CODEC_OPUS, false, false}};
        memcpy(&policy[1], row->policy, row->n * sizeof *policy);
        weir_local_params lp;
        local_params(&lp);
        lp.codecs = policy;
        lp.n_codecs = row->n + 1;
        result r;
        negotiate_file(OFFER, &lp, &r);
        cr_assert_eq(r.rc, 0, "%s: %s", row->name, r.err);
        const weir_publish_media *vi = find_pm(&r.desc, "1"), *au = find_pm(&r.desc, "0");
        cr_expect_eq(vi->codec, row->codec, "%s", row->name);
        cr_expect_eq(vi->pt, row->pt, "%s", row->name);
        cr_expect_eq(vi->rtx_pt, row->rtx_pt, "%s", row->name);
        cr_expect_str_eq(vi->fmtp, row->fmtp, "%s", row->name);
        cr_expect_eq(au->red_pt, -1, "%s: RED off by policy", row->name);
        char want[64];
        if (row->rtx_pt >= 0)
            snprintf(want, sizeof want, "%d %d", row->pt, row->rtx_pt);
        else
            snprintf(want, sizeof want, "%d", row->pt);
        expect_formats(r.answer->media[1], want);
        expect_formats(r.answer->media[0], "111");
        result_free(&r);
    }
}

Test(negotiate, extension_and_feedback_policy)
{
    static const char *const exts[] = {WEIR_SDP_EXT_TWCC, WEIR_SDP_EXT_MID};
    weir_local_params lp;
    local_params(&lp);
    lp.extensions = exts;
    lp.n_extensions = 2;
    lp.rtcp_fb = WEIR_NEGOTIATE_FB_NACK | WEIR_NEGOTIATE_FB_PLI;
    result r;
    negotiate_file(PUBLISH, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_sdp_media *vi = r.answer->media[1];
    cr_assert_eq(vi->n_extmaps, 2);
    cr_expect_eq(vi->extmaps[0].id, 3); /* the offer's order: twcc (3) before mid (4) */
    cr_expect_eq(vi->extmaps[1].id, 4);
    cr_expect_eq(vi->n_rtcp_fbs, 2);
    cr_expect(weir_sdp_media_has_rtcp_fb(vi, 96, "nack", NULL));
    cr_expect(weir_sdp_media_has_rtcp_fb(vi, 96, "nack", "pli"));
    const weir_publish_media *pm = find_pm(&r.desc, "1");
    cr_expect_eq(pm->rtcp_fb, WEIR_NEGOTIATE_FB_NACK | WEIR_NEGOTIATE_FB_PLI);
    cr_expect_eq(pm->ext.rid, 0);
    cr_expect_eq(pm->n_rids, 0); /* no rid extension, no simulcast */
    cr_expect_eq(find_pm(&r.desc, "0")->rtcp_fb, 0);
    result_free(&r);
}

Test(negotiate, candidates_ice_lite_end_of_candidates)
{
    static const char *const cands[] = {
        "a=candidate:1 1 tcp 1518280447 192.0.2.10 443 typ host tcptype passive",
        "candidate:2 1 udp 2130706431 192.0.2.10 40000 typ host",
        "candidate:3 1 udp 2130706175 2001:db8::10 40002 typ host",
    };
    weir_local_params lp;
    local_params(&lp);
    lp.candidates = cands;
    lp.n_candidates = 3;
    lp.candidates_complete = true;
    lp.ice_lite = true;
    result r;
    negotiate_file(PUBLISH, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_sdp_media *tag = r.answer->media[0];
    cr_expect_eq(tag->n_candidates, 3);
    cr_expect(tag->end_of_candidates);
    cr_expect_eq(tag->port, 40000); /* the first UDP candidate is the default (JSEP §5.3.1) */
    cr_expect_str_eq(tag->connection.address, "192.0.2.10");
    cr_expect_str_eq(tag->connection.addrtype, "IP4");
    for (size_t i = 1; i < 3; i++) {
        cr_expect_eq(r.answer->media[i]->n_candidates, 0);
        cr_expect(!r.answer->media[i]->end_of_candidates);
        cr_expect_eq(r.answer->media[i]->port, 9);
    }
    cr_expect_not_null(strstr(r.text, "a=ice-lite\r\n"));
    cr_expect_not_null(strstr(r.text, "a=end-of-candidates\r\n"));
    result_free(&r);
}

/* ---- sources ---- */

static const struct source_row {
    const char *name;
    const char *mids[2];
    const char *sources[2];
    size_t n;
    int rc;
    weir_track_source audio, video; /* afterwards */
} source_rows[] = {
    {"defaults", {0}, {0}, 0, 0, WEIR_SOURCE_MICROPHONE, WEIR_SOURCE_CAMERA},
    {"screen video", {"1"}, {"screen"}, 1, 0, WEIR_SOURCE_MICROPHONE, WEIR_SOURCE_SCREEN},
    {"screen audio + video",
     {"0", "1"},
     {"screen", "screen"},
     2,
     0,
     WEIR_SOURCE_SCREEN,
     WEIR_SOURCE_SCREEN},
    {"camera on audio",
     {"0"},
     {"camera"},
     1,
     -WEIR_EINVAL,
     WEIR_SOURCE_MICROPHONE,
     WEIR_SOURCE_CAMERA},
    {"unknown mid leaves all unchanged",
     {"1", "9"},
     {"screen", "camera"},
     2,
     -WEIR_EINVAL,
     WEIR_SOURCE_MICROPHONE,
     WEIR_SOURCE_CAMERA},
    {"unknown source",
     {"1"},
     {"window"},
     1,
     -WEIR_EINVAL,
     WEIR_SOURCE_MICROPHONE,
     WEIR_SOURCE_CAMERA},
    {"data line has no source",
     {"2"},
     {"camera"},
     1,
     -WEIR_EINVAL,
     WEIR_SOURCE_MICROPHONE,
     WEIR_SOURCE_CAMERA},
};

Test(negotiate, source_rows)
{
    weir_local_params lp;
    local_params(&lp);
    result r;
    negotiate_file(PUBLISH, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    for (size_t i = 0; i < sizeof source_rows / sizeof *source_rows; i++) {
        const struct source_row *row = &source_rows[i];
        weir_publish_desc d = r.desc;
        char err[128] = "";
        int rc = weir_negotiate_apply_sources(&d, row->mids, row->sources, row->n, err, sizeof err);
        cr_expect_eq(rc, row->rc, "%s: %s", row->name, err);
        cr_expect_eq(find_pm(&d, "0")->source, row->audio, "%s", row->name);
        cr_expect_eq(find_pm(&d, "1")->source, row->video, "%s", row->name);
        cr_expect_str_eq(weir_track_source_name(find_pm(&d, "1")->source),
                         row->video == WEIR_SOURCE_SCREEN ? "screen" : "camera", "%s", row->name);
    }
    result_free(&r);
}

/* PROTOCOL.md: the source may come from a=msid; an id naming "screen" marks a screen share. */
Test(negotiate, source_from_msid_screen)
{
    weir_local_params lp;
    local_params(&lp);
    char *text =
        replace_all(read_data(PUBLISH), "7134fec4-029d-41d5-8f98-c6122116210e", "ScreenShare-1");
    result r;
    negotiate_text(text, &lp, &r);
    weir_free(text);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_publish_media *au = find_pm(&r.desc, "0"), *vi = find_pm(&r.desc, "1");
    cr_expect_eq(vi->source, WEIR_SOURCE_SCREEN);
    cr_expect(vi->source_explicit);
    cr_expect_eq(au->source, WEIR_SOURCE_SCREEN); /* the same stream: the share's audio */
    result_free(&r);

    negotiate_file(PUBLISH, &lp, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_expect_eq(find_pm(&r.desc, "1")->source, WEIR_SOURCE_CAMERA);
    cr_expect(!find_pm(&r.desc, "1")->source_explicit);
    result_free(&r);
}
