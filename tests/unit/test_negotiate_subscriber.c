/*
 * Subscriber offer/answer (peer/negotiate_subscriber.c): the offers Weir
 * builds, read back with the SDP parser; the answers real peers gave to
 * exactly those offers (tests/data/sdp/subscriber, captured from Chromium
 * and aiortc by tools/capture-subscriber-answer.mjs); and each way an
 * answer is refused, built by editing Chromium's answer.
 *
 * The offers in tests/data/sdp/subscriber/weir-offer-*.sdp must be what the
 * builder writes today (scenarios_match_data): when the builder changes,
 * regenerate them with WEIR_WRITE_SUBSCRIBER_OFFERS=1 and capture the
 * answers again.
 */
#include <criterion/criterion.h>

#include "support/sdp_edit.h"
#include "support/test_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer/negotiate_subscriber.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define LOCAL_UFRAG "Wz3k"
#define LOCAL_PWD "abcdefghijklmnopqrstuvwx"
#define LOCAL_FP                                                                                   \
    "sha-256 "                                                                                     \
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"   \
    "CD:EF"
#define SESSION_ID 4611686018427387904ull
#define MAX_TRACKS 8

/* ---- tracks and scenarios ---- */

static const char *fmtp_of(weir_codec c)
{
    switch (c) {
    case WEIR_CODEC_OPUS:
        return "minptime=10;useinbandfec=1";
    case WEIR_CODEC_VP9:
        return "profile-id=0";
    case WEIR_CODEC_H264:
        return "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
    case WEIR_CODEC_AV1:
        return "level-idx=5;profile=0;tier=0";
    default:
        return "";
    }
}

/* One track of publisher pub ("alice"): stream id = pub, cname = pub's. */
static weir_subscriber_track track(const char *mid, const char *pub, weir_codec codec,
                                   uint32_t ssrc, bool active)
{
    weir_subscriber_track t = {
        .kind = codec == WEIR_CODEC_OPUS ? WEIR_SDP_AUDIO : WEIR_SDP_VIDEO,
        .active = active,
        .codec = codec,
        .red = codec == WEIR_CODEC_OPUS,
        .ssrc = ssrc,
        .rtx_ssrc = codec == WEIR_CODEC_OPUS ? 0 : ssrc + 1,
    };
    snprintf(t.mid, sizeof t.mid, "%s", mid);
    snprintf(t.fmtp, sizeof t.fmtp, "%s", fmtp_of(codec));
    snprintf(t.stream_id, sizeof t.stream_id, "%s", pub);
    snprintf(t.track_id, sizeof t.track_id, "%s-%s", pub, mid);
    snprintf(t.cname, sizeof t.cname, "cname-%s", pub);
    return t;
}

#define A(mid, pub, ssrc) track(mid, pub, WEIR_CODEC_OPUS, ssrc, true)
#define V(mid, pub, ssrc) track(mid, pub, WEIR_CODEC_VP8, ssrc, true)

typedef struct scenario {
    const char *name;
    uint64_t version; /* o= session version: bumped per re-offer */
    bool candidates;
    size_t n;
    weir_subscriber_track tracks[MAX_TRACKS];
} scenario;

/*
 * The offers the peers answered. The single ones go to a fresh peer
 * connection each; reneg-1..5 are one connection re-offered in turn: two
 * publishers join, one's video leaves, everything leaves (the first m-line
 * stays bundled, inactive), a third publisher joins.
 */
static size_t scenarios(scenario *s)
{
    weir_subscriber_track a0 = A("0", "alice", 1001), v1 = V("1", "alice", 1011);
    weir_subscriber_track a2 = A("2", "bob", 2001), v3 = V("3", "bob", 2011);
    weir_subscriber_track a4 = A("4", "carol", 3001), v5 = V("5", "carol", 3011);
    size_t n = 0;
    s[n++] = (scenario){"audio-video", 1, false, 2, {a0, v1}};
    s[n++] = (scenario){
        "removed-video", 1, false, 3, {a0, v1, track("2", "bob", WEIR_CODEC_VP8, 2011, false)}};
    s[n++] = (scenario){"three-publishers", 1, true, 6, {a0, v1, a2, v3, a4, v5}};
    s[n++] = (scenario){"codecs",
                        1,
                        false,
                        4,
                        {a0, track("1", "alice", WEIR_CODEC_VP9, 1021, true),
                         track("2", "alice", WEIR_CODEC_H264, 1031, true),
                         track("3", "alice", WEIR_CODEC_AV1, 1041, true)}};
    s[n++] = (scenario){"audio-h264", /* aiortc has no VP9 or AV1 */
                        1,
                        false,
                        2,
                        {a0, track("1", "alice", WEIR_CODEC_H264, 1031, true)}};
    s[n++] = (scenario){"reneg-1", 1, false, 2, {a0, v1}};
    s[n++] = (scenario){"reneg-2", 2, false, 4, {a0, v1, a2, v3}};
    s[n++] = (scenario){
        "reneg-3", 3, false, 4, {a0, track("1", "alice", WEIR_CODEC_VP8, 1011, false), a2, v3}};
    weir_subscriber_track gone[4] = {a0, v1, a2, v3};
    for (size_t i = 0; i < 4; i++)
        gone[i].active = false;
    s[n++] = (scenario){"reneg-4", 4, false, 4, {gone[0], gone[1], gone[2], gone[3]}};
    s[n++] = (scenario){"reneg-5", 5, false, 6, {gone[0], gone[1], gone[2], gone[3], a4, v5}};
    return n;
}

static const scenario *find_scenario(const char *name)
{
    static scenario all[16];
    static size_t n;
    if (!n)
        n = scenarios(all);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(all[i].name, name))
            return &all[i];
    cr_assert_fail("no scenario %s", name);
    return NULL;
}

static const char *const local_cands[] = {
    "candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host",
    "candidate:2 1 udp 1694498815 198.51.100.7 40000 typ srflx raddr 192.0.2.10 rport 40000",
};

static void local_params(weir_local_params *lp, uint64_t version, bool candidates)
{
    weir_local_params_init(lp);
    lp->ice_ufrag = LOCAL_UFRAG;
    lp->ice_pwd = LOCAL_PWD;
    lp->fingerprint = LOCAL_FP;
    lp->session_id = SESSION_ID;
    lp->session_version = version;
    if (candidates) {
        lp->candidates = local_cands;
        lp->n_candidates = 2;
        lp->candidates_complete = true;
    }
}

/* The scenario's offer, written; checks it parses back to an equal model. */
static char *offer_text(const scenario *s, weir_sdp **model)
{
    weir_local_params lp;
    local_params(&lp, s->version, s->candidates);
    weir_sdp *o = NULL;
    char err[256] = "";
    int rc = weir_negotiate_subscriber_offer(&lp, s->tracks, s->n, &o, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", s->name, err);
    size_t len;
    char *text = weir_sdp_write(o, &len);
    weir_sdp *again = NULL;
    cr_assert_eq(weir_sdp_parse(text, len, &again, err, sizeof err), 0, "%s: %s\n%s", s->name, err,
                 text);
    cr_assert(weir_sdp_equal(o, again), "%s: offer re-parses differently", s->name);
    weir_sdp_free(again);
    if (model)
        *model = o;
    else
        weir_sdp_free(o);
    return text;
}

static weir_sdp *parse_text(const char *text)
{
    weir_sdp *sdp = NULL;
    char err[128] = "";
    int rc = weir_sdp_parse(text, strlen(text), &sdp, err, sizeof err);
    cr_assert_eq(rc, 0, "does not parse: %s", err);
    return sdp;
}

static char *read_data(const char *file)
{
    char rel[256];
    snprintf(rel, sizeof rel, "sdp/subscriber/%s", file);
    return test_data_read(rel, NULL);
}

/* The data files are today's builder output (or, with the variable set, become it). */
Test(subscriber_data, scenarios_match_data)
{
    scenario all[16];
    size_t n = scenarios(all);
    bool write = getenv("WEIR_WRITE_SUBSCRIBER_OFFERS") != NULL;
    for (size_t i = 0; i < n; i++) {
        char *text = offer_text(&all[i], NULL);
        char file[128];
        snprintf(file, sizeof file, "weir-offer-%s.sdp", all[i].name);
        if (write) {
            char path[512];
            snprintf(path, sizeof path, "%s/tests/data/sdp/subscriber/%s", WEIR_SOURCE_ROOT, file);
            FILE *f = fopen(path, "wb");
            cr_assert_not_null(f, "cannot write %s", path);
            fputs(text, f);
            fclose(f);
        } else {
            char *saved = read_data(file);
            cr_expect_str_eq(saved, text, "%s is stale: WEIR_WRITE_SUBSCRIBER_OFFERS=1, recapture",
                             file);
            weir_free(saved);
        }
        weir_free(text);
    }
}

/* ---- the offer ---- */

static void expect_formats(const weir_sdp_media *m, const char *want)
{
    char got[128] = "";
    for (size_t i = 0; i < m->n_formats; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", m->formats[i]);
    cr_expect_str_eq(got, want, "mid=%s", m->mid);
}

static size_t count_ssrc_attr(const weir_sdp_media *m, uint32_t ssrc, const char *attr,
                              const char *value)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_ssrcs; i++)
        n += m->ssrcs[i].ssrc == ssrc && !strcmp(m->ssrcs[i].attribute, attr) &&
             m->ssrcs[i].value && !strcmp(m->ssrcs[i].value, value);
    return n;
}

/* Transport, header extensions and rtcp flags every m-line carries. */
static void expect_common(const weir_sdp *o, const weir_sdp_media *m)
{
    weir_sdp_transport t;
    weir_sdp_media_transport(o, m, &t);
    cr_expect_str_eq(m->proto, "UDP/TLS/RTP/SAVPF");
    cr_expect_str_eq(t.ice_ufrag, LOCAL_UFRAG);
    cr_expect_str_eq(t.ice_pwd, LOCAL_PWD);
    cr_expect(t.ice_trickle);
    cr_assert_eq(t.n_fingerprints, 1);
    cr_expect_str_eq(t.fingerprints[0].hash, "sha-256");
    cr_expect_eq(t.setup, WEIR_SDP_SETUP_ACTPASS);
    cr_expect(m->rtcp_mux && m->rtcp_rsize, "mid=%s", m->mid);
    bool audio = m->kind == WEIR_SDP_AUDIO;
    cr_expect_eq(m->n_extmaps, audio ? 4 : 3, "mid=%s", m->mid);
    cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_MID), WEIR_SUB_EXT_MID);
    cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_ABS_SEND_TIME),
                 WEIR_SUB_EXT_ABS_SEND_TIME);
    cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_TWCC), WEIR_SUB_EXT_TWCC);
    cr_expect_eq(weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_AUDIO_LEVEL),
                 audio ? WEIR_SUB_EXT_AUDIO_LEVEL : 0);
}

static void expect_audio(const weir_sdp_media *m)
{
    cr_expect_eq(m->kind, WEIR_SDP_AUDIO);
    expect_formats(m, "111 63");
    const weir_sdp_rtpmap *r = weir_sdp_media_find_rtpmap(m, 111);
    cr_assert_not_null(r);
    cr_expect_str_eq(r->encoding, "opus");
    cr_expect_eq(r->clock_rate_hz, 48000);
    cr_expect_eq(r->channels, 2);
    cr_expect_str_eq(weir_sdp_media_find_fmtp(m, 111), "minptime=10;useinbandfec=1");
    cr_expect_str_eq(weir_sdp_media_find_rtpmap(m, 63)->encoding, "red");
    cr_expect_str_eq(weir_sdp_media_find_fmtp(m, 63), "111/111");
    cr_expect_eq(m->n_rtcp_fbs, 1);
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 111, "transport-cc", NULL));
    cr_expect_eq(weir_sdp_media_rtx_pt(m, 111), -1);
}

static void expect_video_vp8(const weir_sdp_media *m)
{
    cr_expect_eq(m->kind, WEIR_SDP_VIDEO);
    expect_formats(m, "96 97");
    cr_expect_str_eq(weir_sdp_media_find_rtpmap(m, 96)->encoding, "VP8");
    cr_expect_eq(weir_sdp_media_find_rtpmap(m, 96)->clock_rate_hz, 90000);
    cr_expect_null(weir_sdp_media_find_fmtp(m, 96));
    cr_expect_eq(weir_sdp_media_rtx_pt(m, 96), 97);
    cr_expect_eq(m->n_rtcp_fbs, 5);
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 96, "goog-remb", NULL));
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 96, "transport-cc", NULL));
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 96, "ccm", "fir"));
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 96, "nack", NULL));
    cr_expect(weir_sdp_media_has_rtcp_fb(m, 96, "nack", "pli"));
}

/* msid, cname and FID of an active track. */
static void expect_ssrcs(const weir_sdp_media *m, const weir_subscriber_track *t)
{
    cr_assert_eq(m->n_msids, 1, "mid=%s", m->mid);
    cr_expect_str_eq(m->msids[0].stream_id, t->stream_id);
    cr_expect_str_eq(m->msids[0].track_id, t->track_id);
    char msid[2 * WEIR_NEGOTIATE_MSID_MAX + 2];
    snprintf(msid, sizeof msid, "%s %s", t->stream_id, t->track_id);
    cr_expect_eq(count_ssrc_attr(m, t->ssrc, "cname", t->cname), 1);
    cr_expect_eq(count_ssrc_attr(m, t->ssrc, "msid", msid), 1);
    if (!t->rtx_ssrc) {
        cr_expect_eq(m->n_ssrc_groups, 0);
        cr_expect_eq(m->n_ssrcs, 2);
        return;
    }
    cr_expect_eq(m->n_ssrcs, 4);
    cr_expect_eq(count_ssrc_attr(m, t->rtx_ssrc, "cname", t->cname), 1);
    cr_assert_eq(m->n_ssrc_groups, 1);
    cr_expect_str_eq(m->ssrc_groups[0].semantics, "FID");
    cr_assert_eq(m->ssrc_groups[0].n_ssrcs, 2);
    cr_expect_eq(m->ssrc_groups[0].ssrcs[0], t->ssrc);
    cr_expect_eq(m->ssrc_groups[0].ssrcs[1], t->rtx_ssrc);
}

static void expect_bundle(const weir_sdp *o, const char *want)
{
    const weir_sdp_group *g = weir_sdp_find_group(o, "BUNDLE");
    cr_assert_not_null(g);
    char got[128] = "";
    for (size_t i = 0; i < g->n_mids; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", g->mids[i]);
    cr_expect_str_eq(got, want);
}

Test(subscriber_offer, three_publishers)
{
    const scenario *s = find_scenario("three-publishers");
    char *text = offer_text(s, NULL);
    weir_sdp *o = parse_text(text);
    cr_expect_eq(o->origin.sess_id, SESSION_ID);
    cr_expect_eq(o->origin.sess_version, 1);
    expect_bundle(o, "0 1 2 3 4 5");
    cr_expect_str_eq(o->msid_semantic, "WMS");
    cr_expect(o->transport.ice_trickle);
    cr_assert_eq(o->n_media, 6);
    for (size_t i = 0; i < 6; i++) {
        const weir_sdp_media *m = o->media[i];
        cr_expect_str_eq(m->mid, s->tracks[i].mid);
        cr_expect_eq(m->direction, WEIR_SDP_SENDONLY);
        expect_common(o, m);
        if (i % 2 == 0)
            expect_audio(m);
        else
            expect_video_vp8(m);
        expect_ssrcs(m, &s->tracks[i]);
        /* RFC 8843 §7.1: candidates on the tag line only, the default address from them. */
        cr_expect_eq(m->n_candidates, i == 0 ? 2 : 0);
        cr_expect_eq(m->end_of_candidates, i == 0);
        cr_expect_eq(m->port, i == 0 ? 40000 : 9);
        cr_expect_str_eq(m->connection.address, i == 0 ? "192.0.2.10" : "0.0.0.0");
    }
    /* Lip-sync: one cname per publisher, distinct between publishers. */
    cr_expect_str_eq(s->tracks[0].cname, s->tracks[1].cname);
    cr_expect_str_neq(s->tracks[0].cname, s->tracks[2].cname);
    cr_expect_not_null(strstr(text, "a=msid-semantic: WMS\r\n"));
    weir_sdp_free(o);
    weir_free(text);
}

/* Removed tracks keep their m-line and mid; the first stays bundled. */
Test(subscriber_offer, removed_tracks_stay)
{
    static const struct {
        const char *name, *bundle;
        uint16_t ports[6];
        weir_sdp_direction dirs[6];
    } rows[] = {
        {"reneg-3", "0 2 3", {9, 0, 9, 9}, {WEIR_SDP_SENDONLY, WEIR_SDP_INACTIVE}},
        {"reneg-4", "0", {9, 0, 0, 0}, {WEIR_SDP_INACTIVE, WEIR_SDP_INACTIVE, WEIR_SDP_INACTIVE}},
        {"reneg-5", "0 4 5", {9, 0, 0, 0, 9, 9}, {WEIR_SDP_INACTIVE, WEIR_SDP_INACTIVE}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
        const scenario *s = find_scenario(rows[r].name);
        weir_sdp *o = NULL;
        char *text = offer_text(s, &o);
        expect_bundle(o, rows[r].bundle);
        cr_assert_eq(o->n_media, s->n);
        for (size_t i = 0; i < s->n; i++) {
            const weir_sdp_media *m = o->media[i];
            cr_expect_str_eq(m->mid, s->tracks[i].mid);
            cr_expect_eq(m->port, rows[r].ports[i], "%s mid=%s", s->name, m->mid);
            weir_sdp_direction want = s->tracks[i].active ? WEIR_SDP_SENDONLY : WEIR_SDP_INACTIVE;
            cr_expect_eq(m->direction, want, "%s mid=%s", s->name, m->mid);
            expect_common(o, m);
            if (!s->tracks[i].active) {
                cr_expect_eq(m->n_msids + m->n_ssrcs + m->n_ssrc_groups, 0);
                cr_expect_gt(m->n_rtpmaps, 0); /* RFC 3264 §8.2: still a format */
            }
        }
        cr_expect_eq(o->origin.sess_version, s->version);
        weir_sdp_free(o);
        weir_free(text);
    }
}

Test(subscriber_offer, codec_pts)
{
    static const struct {
        weir_codec c;
        int pt, rtx;
        const char *formats;
    } rows[] = {
        {WEIR_CODEC_OPUS, 111, -1, "111 63"}, {WEIR_CODEC_VP8, 96, 97, "96 97"},
        {WEIR_CODEC_VP9, 98, 99, "98 99"},    {WEIR_CODEC_H264, 102, 103, "102 103"},
        {WEIR_CODEC_AV1, 45, 46, "45 46"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        int pt = 0, rtx = 0;
        cr_expect_eq(weir_subscriber_codec_pts(rows[i].c, &pt, &rtx), 0);
        cr_expect_eq(pt, rows[i].pt);
        cr_expect_eq(rtx, rows[i].rtx);
        weir_subscriber_track t = track("x", "p", rows[i].c, 5, true);
        weir_local_params lp;
        local_params(&lp, 1, false);
        weir_sdp *o = NULL;
        cr_assert_eq(weir_negotiate_subscriber_offer(&lp, &t, 1, &o, NULL, 0), 0);
        expect_formats(o->media[0], rows[i].formats);
        cr_expect_eq(weir_sdp_media_rtx_pt(o->media[0], (unsigned)pt), rtx);
        const char *fmtp = weir_sdp_media_find_fmtp(o->media[0], (unsigned)pt);
        cr_expect_str_eq(fmtp ? fmtp : "", fmtp_of(rows[i].c));
        weir_sdp_free(o);
    }
    cr_expect_eq(weir_subscriber_codec_pts((weir_codec)99, NULL, NULL), -WEIR_EINVAL);
}

/* ---- the offer refused ---- */

typedef enum {
    T_MID,
    T_KIND,
    T_CODEC,
    T_SSRC,
    T_RTX,
    T_MSID,
    T_CNAME,
    T_FMTP,
    T_RED,
    T_RATE
} field;

static const struct refuse_track_row {
    const char *name;
    size_t index; /* which of three tracks (audio, video, video) is edited */
    field f;
    const char *text;
    uint32_t num;
    const char *reason;
} refuse_track_rows[] = {
    {"empty mid", 0, T_MID, "", 0, "track 0: mid must be"},
    {"mid with a space", 1, T_MID, "a b", 0, "track 1: mid must be"},
    {"duplicate mid", 2, T_MID, "1", 0, "duplicate mid=1"},
    {"kind", 0, T_KIND, NULL, WEIR_SDP_APPLICATION, "kind must be audio or video"},
    {"opus on video", 1, T_CODEC, NULL, WEIR_CODEC_OPUS, "codec does not fit its kind"},
    {"no ssrc", 1, T_SSRC, NULL, 0, "has no SSRC"},
    {"duplicate ssrc", 2, T_SSRC, NULL, 1011, "SSRC already used"},
    {"rtx ssrc of another", 2, T_RTX, NULL, 1001, "SSRC already used"},
    {"rtx on audio", 0, T_RTX, NULL, 7, "opus has no RTX"},
    {"rtx = media ssrc", 1, T_RTX, NULL, 1011, "RTX SSRC equals"},
    {"msid with a space", 1, T_MSID, "a b", 0, "msid ids must be"},
    {"empty msid", 1, T_MSID, "", 0, "msid ids must be"},
    {"duplicate msid", 2, T_MSID, "alice-1", 0, "msid alice alice-1 already used"},
    {"cname with CRLF", 1, T_CNAME, "x\r\na=foo", 0, "cname missing or malformed"},
    {"fmtp with CRLF", 1, T_FMTP, "x=1\r\na=inject", 0, "malformed fmtp"},
    {"red on video", 1, T_RED, NULL, 1, "RED is offered over opus only"},
    {"opus at 16 kHz", 0, T_RATE, NULL, 16000, "opus is 48000 Hz, 2 channels"},
};

static void edit_track(weir_subscriber_track *t, const struct refuse_track_row *row)
{
    switch (row->f) {
    case T_MID:
        snprintf(t->mid, sizeof t->mid, "%s", row->text);
        break;
    case T_KIND:
        t->kind = (weir_sdp_kind)row->num;
        break;
    case T_CODEC:
        t->codec = (weir_codec)row->num;
        break;
    case T_SSRC:
        t->ssrc = row->num;
        break;
    case T_RTX:
        t->rtx_ssrc = row->num;
        break;
    case T_MSID:
        snprintf(t->track_id, sizeof t->track_id, "%s", row->text);
        break;
    case T_CNAME:
        snprintf(t->cname, sizeof t->cname, "%s", row->text);
        break;
    case T_FMTP:
        snprintf(t->fmtp, sizeof t->fmtp, "%s", row->text);
        break;
    case T_RED:
        t->red = true;
        break;
    case T_RATE:
        t->clock_rate_hz = row->num;
        break;
    }
}

Test(subscriber_offer, refuse_rows)
{
    for (size_t r = 0; r < sizeof refuse_track_rows / sizeof *refuse_track_rows; r++) {
        const struct refuse_track_row *row = &refuse_track_rows[r];
        weir_subscriber_track t[3] = {A("0", "alice", 1001), V("1", "alice", 1011),
                                      V("2", "alice", 2011)};
        edit_track(&t[row->index], row);
        weir_local_params lp;
        local_params(&lp, 1, false);
        weir_sdp *o = (weir_sdp *)&lp; /* must stay untouched */
        char err[256] = "";
        int rc = weir_negotiate_subscriber_offer(&lp, t, 3, &o, err, sizeof err);
        cr_expect_eq(rc, -WEIR_EINVAL, "%s: rc %d", row->name, rc);
        cr_expect_not_null(strstr(err, row->reason), "%s: \"%s\"", row->name, err);
        cr_expect_eq(o, (weir_sdp *)&lp, "%s: output touched", row->name);
    }
}

Test(subscriber_offer, limits_and_local_params)
{
    static weir_subscriber_track many[WEIR_SUBSCRIBER_MAX_MEDIA + 1];
    for (size_t i = 0; i <= WEIR_SUBSCRIBER_MAX_MEDIA; i++) {
        char mid[8], pub[16];
        snprintf(mid, sizeof mid, "%zu", i);
        snprintf(pub, sizeof pub, "p%zu", i / 2);
        many[i] = track(mid, pub, i % 2 ? WEIR_CODEC_VP8 : WEIR_CODEC_OPUS, (uint32_t)(100 + 2 * i),
                        true);
    }
    weir_local_params lp;
    local_params(&lp, 1, false);
    weir_sdp *o = NULL;
    char err[256] = "";
    /* A class of 30 with cameras and microphones, and then some. */
    cr_expect_eq(
        weir_negotiate_subscriber_offer(&lp, many, WEIR_SUBSCRIBER_MAX_MEDIA, &o, err, sizeof err),
        0, "%s", err);
    cr_expect_eq(o ? o->n_media : 0, WEIR_SUBSCRIBER_MAX_MEDIA);
    weir_sdp_free(o);
    o = NULL;
    cr_expect_eq(weir_negotiate_subscriber_offer(&lp, many, WEIR_SUBSCRIBER_MAX_MEDIA + 1, &o, err,
                                                 sizeof err),
                 -WEIR_ETOOBIG);
    cr_expect_eq(weir_negotiate_subscriber_offer(&lp, many, 0, &o, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "no tracks to offer");
    lp.ice_pwd = "short";
    cr_expect_eq(weir_negotiate_subscriber_offer(&lp, many, 2, &o, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "local ICE credentials missing or malformed");
    local_params(&lp, 1, false);
    lp.fingerprint = "sha-256";
    cr_expect_eq(weir_negotiate_subscriber_offer(&lp, many, 2, &o, err, sizeof err), -WEIR_EINVAL);
    local_params(&lp, 1, false);
    static const char *const bad[] = {"a=foo"};
    lp.candidates = bad;
    lp.n_candidates = 1;
    cr_expect_eq(weir_negotiate_subscriber_offer(&lp, many, 2, &o, err, sizeof err), -WEIR_EINVAL);
    cr_expect_str_eq(err, "local candidate 0 malformed");
    cr_expect_null(o);
    local_params(&lp, 1, false);
    lp.rtcp_fb = WEIR_NEGOTIATE_FB_NACK | WEIR_NEGOTIATE_FB_PLI; /* policy limits the feedback */
    lp.ice_lite = true;
    cr_assert_eq(weir_negotiate_subscriber_offer(&lp, many, 2, &o, err, sizeof err), 0);
    cr_expect_eq(o->media[1]->n_rtcp_fbs, 2);
    cr_expect_eq(o->media[0]->n_rtcp_fbs, 0);
    weir_sdp_free(o);
}

/* ---- real answers ---- */

typedef struct answer_result {
    int rc;
    char err[256];
    weir_subscriber_answer_desc desc;
} answer_result;

/* Our offer for the scenario (from the builder, equal to the data file)
 * against an answer text. */
static void check_answer_text(const char *scenario_name, const char *answer_text, answer_result *r)
{
    weir_sdp *offer = NULL;
    char *offer_txt = offer_text(find_scenario(scenario_name), &offer);
    weir_sdp *answer = parse_text(answer_text);
    memset(r, 0, sizeof *r);
    memset(&r->desc, 0x5a, sizeof r->desc);
    r->rc = weir_negotiate_subscriber_answer(offer, answer, &r->desc, r->err, sizeof r->err);
    if (r->rc < 0) {
        const unsigned char *p = (const unsigned char *)&r->desc;
        for (size_t i = 0; i < sizeof r->desc; i++)
            cr_assert_eq(p[i], 0x5a, "%s: desc touched on error", scenario_name);
    }
    weir_sdp_free(answer);
    weir_sdp_free(offer);
    weir_free(offer_txt);
}

static void check_answer_file(const char *peer, const char *name, answer_result *r)
{
    char file[128];
    snprintf(file, sizeof file, "%s-answer-%s.sdp", peer, name);
    char *text = read_data(file);
    check_answer_text(name, text, r);
    weir_free(text);
}

static void list_mids(const weir_subscriber_answer_desc *d, bool accepted, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < d->n_media; i++)
        if (accepted ? d->media[i].accepted : d->media[i].bundled)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "",
                     d->media[i].mid);
}

#define CHROMIUM "chromium-156"
#define AIORTC "aiortc-1.4"
#define VIDEO_FB_CHROMIUM WEIR_NEGOTIATE_FB_ALL
#define VIDEO_FB_AIORTC (WEIR_NEGOTIATE_FB_NACK | WEIR_NEGOTIATE_FB_PLI | WEIR_NEGOTIATE_FB_REMB)

static const struct real_row {
    const char *peer, *name;
    const char *accepted, *bundled; /* mids */
    unsigned video_fb;              /* on every bundled video line */
    unsigned audio_fb;
    bool red;                            /* kept on bundled audio lines */
    weir_subscriber_extids audio, video; /* kept on the first bundled line of each kind */
} real_rows[] = {
#define C_EXT_A                                                                                    \
    {                                                                                              \
        1, 2, 3, 4                                                                                 \
    }
#define C_EXT_V                                                                                    \
    {                                                                                              \
        1, 2, 3, 0                                                                                 \
    }
#define A_EXT_A                                                                                    \
    {                                                                                              \
        1, 0, 0, 4                                                                                 \
    }
#define A_EXT_V                                                                                    \
    {                                                                                              \
        1, 2, 0, 0                                                                                 \
    }
    {CHROMIUM, "audio-video", "0 1", "0 1", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true,
     C_EXT_A, C_EXT_V},
    {CHROMIUM, "removed-video", "0 1", "0 1", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true,
     C_EXT_A, C_EXT_V},
    {CHROMIUM, "three-publishers", "0 1 2 3 4 5", "0 1 2 3 4 5", VIDEO_FB_CHROMIUM,
     WEIR_NEGOTIATE_FB_TWCC, true, C_EXT_A, C_EXT_V},
    {CHROMIUM, "codecs", "0 1 2 3", "0 1 2 3", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true,
     C_EXT_A, C_EXT_V},
    {CHROMIUM, "audio-h264", "0 1", "0 1", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true, C_EXT_A,
     C_EXT_V},
    {CHROMIUM, "reneg-1", "0 1", "0 1", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true, C_EXT_A,
     C_EXT_V},
    {CHROMIUM, "reneg-2", "0 1 2 3", "0 1 2 3", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true,
     C_EXT_A, C_EXT_V},
    {CHROMIUM, "reneg-3", "0 2 3", "0 2 3", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true,
     C_EXT_A, C_EXT_V},
    /* Everything removed: the tag line stays, inactive, with the transport. */
    {CHROMIUM, "reneg-4", "", "0", 0, 0, false, C_EXT_A, {0, 0, 0, 0}},
    {CHROMIUM, "reneg-5", "4 5", "0 4 5", VIDEO_FB_CHROMIUM, WEIR_NEGOTIATE_FB_TWCC, true, C_EXT_A,
     C_EXT_V},
    /* aiortc: no RED, no transport-cc, no rtcp-rsize; abs-send-time on video only. */
    {AIORTC, "audio-video", "0 1", "0 1", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
    {AIORTC, "removed-video", "0 1", "0 1", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
    {AIORTC, "three-publishers", "0 1 2 3 4 5", "0 1 2 3 4 5", VIDEO_FB_AIORTC, 0, false, A_EXT_A,
     A_EXT_V},
    {AIORTC, "audio-h264", "0 1", "0 1", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
    {AIORTC, "reneg-1", "0 1", "0 1", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
    {AIORTC, "reneg-2", "0 1 2 3", "0 1 2 3", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
    {AIORTC, "reneg-3", "0 2 3", "0 2 3", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
    {AIORTC, "reneg-4", "", "0", 0, 0, false, A_EXT_A, {0, 0, 0, 0}},
    {AIORTC, "reneg-5", "4 5", "0 4 5", VIDEO_FB_AIORTC, 0, false, A_EXT_A, A_EXT_V},
};

static void expect_real_media(const struct real_row *row, const weir_subscriber_answer_desc *d)
{
    bool seen_audio = false, seen_video = false;
    for (size_t i = 0; i < d->n_media; i++) {
        const weir_subscriber_answer_media *sm = &d->media[i];
        if (!sm->bundled)
            continue;
        bool audio = sm->kind == WEIR_SDP_AUDIO;
        if (sm->accepted) {
            cr_expect_eq(sm->rtcp_fb, audio ? row->audio_fb : row->video_fb, "%s %s mid=%s",
                         row->peer, row->name, sm->mid);
            cr_expect_eq(sm->rtx, !audio, "%s %s mid=%s", row->peer, row->name, sm->mid);
            cr_expect_eq(sm->red, audio && row->red, "%s %s mid=%s", row->peer, row->name, sm->mid);
        }
        const weir_subscriber_extids *want = audio ? &row->audio : &row->video;
        if (!(audio ? seen_audio : seen_video))
            cr_expect(!memcmp(&sm->ext, want, sizeof *want), "%s %s mid=%s: ext %u %u %u %u",
                      row->peer, row->name, sm->mid, sm->ext.mid, sm->ext.abs_send_time,
                      sm->ext.twcc, sm->ext.audio_level);
        seen_audio = seen_audio || audio;
        seen_video = seen_video || !audio;
    }
}

Test(subscriber_answer, real_answers)
{
    for (size_t r = 0; r < sizeof real_rows / sizeof *real_rows; r++) {
        const struct real_row *row = &real_rows[r];
        answer_result res;
        check_answer_file(row->peer, row->name, &res);
        cr_assert_eq(res.rc, 0, "%s %s: %s", row->peer, row->name, res.err);
        const weir_subscriber_answer_desc *d = &res.desc;
        char mids[128];
        cr_expect_eq(d->n_media, find_scenario(row->name)->n);
        list_mids(d, true, mids, sizeof mids);
        cr_expect_str_eq(mids, row->accepted, "%s %s accepted", row->peer, row->name);
        list_mids(d, false, mids, sizeof mids);
        cr_expect_str_eq(mids, row->bundled, "%s %s bundled", row->peer, row->name);
        /* Both answer a=setup:active: Weir is the DTLS server. */
        cr_expect_eq(d->remote_setup, WEIR_SDP_SETUP_ACTIVE, "%s %s", row->peer, row->name);
        cr_expect_eq(d->dtls_role, WEIR_DTLS_ROLE_SERVER);
        cr_expect_str_eq(d->bundle_mid, "0");
        cr_expect_str_eq(d->fingerprint_hash, "sha-256");
        cr_expect_eq(strlen(d->fingerprint), 95);
        cr_expect_geq(strlen(d->ice_ufrag), 4);
        cr_expect_geq(strlen(d->ice_pwd), 22);
        cr_expect_gt(d->n_candidates, 0, "%s %s: candidates", row->peer, row->name);
        for (size_t i = 0; i < d->n_candidates; i++)
            cr_expect(!strncmp(d->candidates[i], "candidate:", 10));
        expect_real_media(row, d);
    }
}

/* What the desc says in detail for Chromium's plainest answer. */
Test(subscriber_answer, chromium_desc)
{
    answer_result r;
    check_answer_file(CHROMIUM, "audio-video", &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const weir_subscriber_answer_desc *d = &r.desc;
    cr_expect(d->ice_trickle);
    weir_subscriber_extids all = {1, 2, 3, 4};
    cr_expect(!memcmp(&d->ext, &all, sizeof all));
    cr_expect_eq(d->media[0].kind, WEIR_SDP_AUDIO);
    cr_expect_eq(d->media[1].kind, WEIR_SDP_VIDEO);
    /* Chromium gathers mDNS host candidates; the answer was taken after gathering. */
    cr_expect(!d->end_of_candidates);
    cr_expect_not_null(strstr(d->candidates[0], " typ host"));
}

/* ---- answers refused: Chromium's, edited ---- */

/* Every line starting with prefix removed. */
static char *drop_lines(char *text, const char *prefix)
{
    return edit_lines(text, prefix, NULL);
}

static const struct refuse_answer_row {
    const char *scenario;
    const char *from[3], *to[3]; /* replacements; to NULL: drop lines starting with from */
    const char *reason;
} refuse_answer_rows[] = {
    {"audio-video", {"a=mid:1"}, {"a=mid:x"}, "answer m-line 1 has mid x, offer has 1"},
    {"audio-video", {"a=mid:1"}, {NULL}, "answer m-line 1 has mid (none), offer has 1"},
    {"three-publishers",
     {"m=video"},
     {"m=audio"},
     "answer m-line 1 (mid=1) is audio, offer has video"},
    {"audio-video", {"a=group:BUNDLE"}, {NULL}, "answer has no BUNDLE group"},
    {"audio-video", {"BUNDLE 0 1"}, {"BUNDLE 0"}, "answer BUNDLE group lacks mid 1"},
    {"audio-video", {"BUNDLE 0 1"}, {"BUNDLE 0 1 7"}, "answer BUNDLE group names unknown mid 7"},
    {"audio-video", {"a=rtcp-mux"}, {NULL}, "answer m-line 0 (mid=0) has no rtcp-mux"},
    {"audio-video", {"a=fingerprint"}, {NULL}, "answer m-line 0 (mid=0) has no DTLS fingerprint"},
    {"audio-video",
     {"a=fingerprint:sha-256"},
     {"a=fingerprint:sha-1"},
     "no usable sha-256/384/512"},
    {"audio-video", {"a=ice-pwd"}, {NULL}, "answer m-line 0 (mid=0) has no ICE credentials"},
    {"audio-video", {"a=setup:active"}, {"a=setup:actpass"}, "has a=setup:actpass, want active"},
    {"audio-video", {"a=setup:active"}, {"a=setup:holdconn"}, "has a=setup:holdconn"},
    {"audio-video", {"a=setup:"}, {NULL}, "has a=setup:(none), want active or passive"},
    {"audio-video",
     {"a=extmap:3 http"},
     {"a=extmap:5 http"},
     "answer m-line 0 (mid=0) maps http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-"
     "extensions-01 to id 5, offer has 3"},
    {"audio-video",
     {"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"},
     {"a=extmap:3 urn:ietf:params:rtp-hdrext:toffset"},
     "maps extension id 3 to urn:ietf:params:rtp-hdrext:toffset, offer has"},
    {"audio-video",
     {"UDP/TLS/RTP/SAVPF 96 97"},
     {"UDP/TLS/RTP/SAVPF 97"},
     "answer m-line 1 (mid=1) does not accept payload type 96"},
    {"audio-video",
     {"m=video 9"},
     {"m=video 0"},
     "answer BUNDLE group names mid 1, which the answer rejects"},
    {"reneg-4", {"m=audio 9"}, {"m=audio 0"}, "answer rejects every m-line"},
    {"reneg-1",
     {"m=video 9"},
     {"m=video 0 UDP/TLS/RTP/SAVPF 96\r\nm=video 9"},
     "answer has 3 m-lines, offer has 2"},
};

Test(subscriber_answer, refuse_rows)
{
    for (size_t r = 0; r < sizeof refuse_answer_rows / sizeof *refuse_answer_rows; r++) {
        const struct refuse_answer_row *row = &refuse_answer_rows[r];
        char file[128];
        snprintf(file, sizeof file, CHROMIUM "-answer-%s.sdp", row->scenario);
        char *text = read_data(file);
        for (size_t i = 0; i < 3 && row->from[i]; i++)
            text = row->to[i] ? replace_all(text, row->from[i], row->to[i])
                              : drop_lines(text, row->from[i]);
        weir_sdp *probe = NULL;
        if (weir_sdp_parse(text, strlen(text), &probe, NULL, 0) != 0) {
            cr_expect_fail("row %zu: edited answer does not parse", r);
            weir_free(text);
            continue;
        }
        weir_sdp_free(probe);
        answer_result res;
        check_answer_text(row->scenario, text, &res);
        cr_expect_eq(res.rc, -WEIR_EINVAL, "row %zu (%s): accepted", r, row->reason);
        cr_expect_not_null(strstr(res.err, row->reason), "row %zu: \"%s\" lacks \"%s\"", r, res.err,
                           row->reason);
        weir_free(text);
    }
}

/* Accepted leniencies: a sendrecv answer, a passive one, dropped extras. */
Test(subscriber_answer, accept_rows)
{
    static const struct {
        const char *from, *to;
    } rows[] = {
        {"a=recvonly", "a=sendrecv"},
        {"a=setup:active", "a=setup:passive"},
        {"a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 foo"},
        {"a=extmap:2 http", "a=extmap:12 http://example.com/"},
    };
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
        char *text =
            replace_all(read_data(CHROMIUM "-answer-audio-video.sdp"), rows[r].from, rows[r].to);
        answer_result res;
        check_answer_text("audio-video", text, &res);
        cr_expect_eq(res.rc, 0, "row %zu: %s", r, res.err);
        if (r == 0)
            cr_expect(res.desc.media[0].accepted && res.desc.media[1].accepted);
        if (r == 1)
            cr_expect_eq(res.desc.dtls_role, WEIR_DTLS_ROLE_CLIENT);
        if (r == 2)
            cr_expect_eq(res.desc.media[1].rtcp_fb, WEIR_NEGOTIATE_FB_ALL & ~WEIR_NEGOTIATE_FB_PLI);
        if (r == 3)
            cr_expect_eq(res.desc.media[1].ext.abs_send_time, 0);
        weir_free(text);
    }
}
