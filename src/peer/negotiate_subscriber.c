/*
 * Subscriber offer (Weir offers) and the check of the client's answer.
 * Offer: check_local -> check_tracks -> build_offer. Answer: check_lines
 * -> check_bundle -> check_transport -> take_candidates, into a desc built
 * aside and copied on success.
 *
 * A few small checks (ICE tokens, fingerprint values) repeat negotiate.c's
 * static ones: the publisher side keeps its helpers private to its two
 * files, and these are a dozen lines each.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "peer/negotiate_internal.h"
#include "peer/negotiate_subscriber.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define fail weir_negotiate_fail
#define FAIL(...) fail(-WEIR_EINVAL, err, errlen, __VA_ARGS__)

static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

/* ---- the fixed numbering ---- */

static const struct codec_row {
    weir_codec codec;
    weir_sdp_kind kind;
    const char *name; /* as Chromium spells it in a=rtpmap */
    uint32_t clock_rate_hz;
    uint16_t channels;
    int pt, rtx_pt;
} codec_rows[] = {
    {WEIR_CODEC_OPUS, WEIR_SDP_AUDIO, "opus", 48000, 2, 111, -1},
    {WEIR_CODEC_VP8, WEIR_SDP_VIDEO, "VP8", 90000, 0, 96, 97},
    {WEIR_CODEC_VP9, WEIR_SDP_VIDEO, "VP9", 90000, 0, 98, 99},
    {WEIR_CODEC_H264, WEIR_SDP_VIDEO, "H264", 90000, 0, 102, 103},
    {WEIR_CODEC_AV1, WEIR_SDP_VIDEO, "AV1", 90000, 0, 45, 46},
};

static const struct codec_row *find_codec(weir_codec c)
{
    for (size_t i = 0; i < sizeof codec_rows / sizeof *codec_rows; i++)
        if (codec_rows[i].codec == c)
            return &codec_rows[i];
    return NULL;
}

int weir_subscriber_codec_pts(weir_codec codec, int *pt, int *rtx_pt)
{
    const struct codec_row *r = find_codec(codec);
    if (!r)
        return -WEIR_EINVAL;
    if (pt)
        *pt = r->pt;
    if (rtx_pt)
        *rtx_pt = r->rtx_pt;
    return 0;
}

static const struct {
    const char *uri;
    int id;
    bool audio_only;
    size_t off;
} ext_rows[] = {
    {WEIR_SDP_EXT_MID, WEIR_SUB_EXT_MID, false, offsetof(weir_subscriber_extids, mid)},
    {WEIR_SDP_EXT_ABS_SEND_TIME, WEIR_SUB_EXT_ABS_SEND_TIME, false,
     offsetof(weir_subscriber_extids, abs_send_time)},
    {WEIR_SDP_EXT_TWCC, WEIR_SUB_EXT_TWCC, false, offsetof(weir_subscriber_extids, twcc)},
    {WEIR_SDP_EXT_AUDIO_LEVEL, WEIR_SUB_EXT_AUDIO_LEVEL, true,
     offsetof(weir_subscriber_extids, audio_level)},
};

#define N_EXT (sizeof ext_rows / sizeof *ext_rows)

static const struct {
    unsigned bit;
    const char *type, *subtype;
    bool audio;
} fb_rows[] = {
    /* Chromium's order. Audio gets transport-cc only, as Chromium offers. */
    {WEIR_NEGOTIATE_FB_REMB, "goog-remb", NULL, false},
    {WEIR_NEGOTIATE_FB_TWCC, "transport-cc", NULL, true},
    {WEIR_NEGOTIATE_FB_FIR, "ccm", "fir", false},
    {WEIR_NEGOTIATE_FB_NACK, "nack", NULL, false},
    {WEIR_NEGOTIATE_FB_PLI, "nack", "pli", false},
};

#define N_FB (sizeof fb_rows / sizeof *fb_rows)

/* ---- checking the caller's input ---- */

/* RFC 8866 §9 token-char: what a mid (RFC 5888) and an msid id (RFC 8830)
 * are made of. */
static bool token_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`{|}~", c));
}

/* s is a NUL-terminated string of cap bytes at most, 1..max token chars. */
static bool token_ok(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap);
    if (!end || end == s)
        return false;
    for (; s < end; s++)
        if (!token_char((unsigned char)*s))
            return false;
    return true;
}

/* Printable ASCII (spaces too when allowed): nothing that could end the
 * line and start another one in the SDP. */
static bool text_ok(const char *s, size_t cap, bool spaces)
{
    const char *end = memchr(s, '\0', cap);
    if (!end)
        return false;
    for (; s < end; s++)
        if (*s < (spaces ? 0x20 : 0x21) || *s > 0x7e)
            return false;
    return true;
}

/* RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/". */
static bool ice_token_ok(const char *s, size_t min)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > WEIR_NEGOTIATE_ICE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return false;
    return true;
}

static int check_local(const weir_local_params *lp, char *err, size_t errlen)
{
    if (!ice_token_ok(lp->ice_ufrag, 4) || !ice_token_ok(lp->ice_pwd, 22))
        return FAIL("local ICE credentials missing or malformed");
    if (!lp->fingerprint || !strchr(lp->fingerprint, ' ') ||
        !text_ok(lp->fingerprint, strlen(lp->fingerprint) + 1, true))
        return FAIL("local DTLS fingerprint missing or malformed");
    if (lp->n_candidates && !lp->candidates)
        return FAIL("local candidates missing");
    return 0;
}

static int check_active(const weir_subscriber_track *t, const struct codec_row *row, char *err,
                        size_t errlen)
{
    if (t->ssrc == 0)
        return FAIL("track mid=%s has no SSRC", t->mid);
    if (row->rtx_pt < 0 && t->rtx_ssrc)
        return FAIL("track mid=%s: %s has no RTX", t->mid, row->name);
    if (t->rtx_ssrc == t->ssrc)
        return FAIL("track mid=%s: RTX SSRC equals the media SSRC", t->mid);
    if (!token_ok(t->stream_id, sizeof t->stream_id) || !token_ok(t->track_id, sizeof t->track_id))
        return FAIL("track mid=%s: msid ids must be 1..%d token characters", t->mid,
                    WEIR_NEGOTIATE_MSID_MAX);
    if (!text_ok(t->cname, sizeof t->cname, false) || !t->cname[0])
        return FAIL("track mid=%s: cname missing or malformed", t->mid);
    return 0;
}

static int check_track(const weir_subscriber_track *t, size_t i, char *err, size_t errlen)
{
    if (!token_ok(t->mid, sizeof t->mid))
        return FAIL("track %zu: mid must be 1..%d token characters", i, WEIR_NEGOTIATE_MID_MAX);
    const struct codec_row *row = find_codec(t->codec);
    if (t->kind != WEIR_SDP_AUDIO && t->kind != WEIR_SDP_VIDEO)
        return FAIL("track mid=%s: kind must be audio or video", t->mid);
    if (!row || row->kind != t->kind)
        return FAIL("track mid=%s: codec does not fit its kind", t->mid);
    if ((t->clock_rate_hz && t->clock_rate_hz != row->clock_rate_hz) ||
        (t->channels && t->channels != row->channels))
        return FAIL("track mid=%s: %s is %u Hz, %u channels", t->mid, row->name,
                    (unsigned)row->clock_rate_hz, (unsigned)row->channels);
    if (!text_ok(t->fmtp, sizeof t->fmtp, true) || t->fmtp[0] == ' ')
        return FAIL("track mid=%s: malformed fmtp", t->mid);
    if (t->red && t->codec != WEIR_CODEC_OPUS)
        return FAIL("track mid=%s: RED is offered over opus only", t->mid);
    return t->active ? check_active(t, row, err, errlen) : 0;
}

static bool ssrc_taken(const weir_subscriber_track *tracks, size_t n, uint32_t ssrc)
{
    for (size_t j = 0; ssrc && j < n; j++)
        if (tracks[j].active && (tracks[j].ssrc == ssrc || tracks[j].rtx_ssrc == ssrc))
            return true;
    return false;
}

static bool msid_taken(const weir_subscriber_track *tracks, size_t n,
                       const weir_subscriber_track *t)
{
    for (size_t j = 0; j < n; j++)
        if (tracks[j].active && !strcmp(tracks[j].stream_id, t->stream_id) &&
            !strcmp(tracks[j].track_id, t->track_id))
            return true;
    return false;
}

/* BUNDLE demux (RFC 8843 §9.2) needs unique mids and unique SSRCs. */
static int check_tracks(const weir_subscriber_track *tracks, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return FAIL("no tracks to offer");
    if (n > WEIR_SUBSCRIBER_MAX_MEDIA)
        return fail(-WEIR_ETOOBIG, err, errlen, "more than %d m-lines", WEIR_SUBSCRIBER_MAX_MEDIA);
    for (size_t i = 0; i < n; i++) {
        const weir_subscriber_track *t = &tracks[i];
        int rc = check_track(t, i, err, errlen);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(tracks[j].mid, t->mid))
                return FAIL("duplicate mid=%s", t->mid);
        if (t->active && (ssrc_taken(tracks, i, t->ssrc) || ssrc_taken(tracks, i, t->rtx_ssrc)))
            return FAIL("track mid=%s: SSRC already used by another track", t->mid);
        /* Chromium refuses the offer: "Duplicate a=msid lines detected". */
        if (t->active && msid_taken(tracks, i, t))
            return FAIL("track mid=%s: msid %s %s already used by another track", t->mid,
                        t->stream_id, t->track_id);
    }
    return 0;
}

/* ---- building the offer ---- */

/* The first m-line is the BUNDLE tag and is never rejected (see the header). */
static bool bundled(const weir_subscriber_track *tracks, size_t i)
{
    return i == 0 || tracks[i].active;
}

static int add_session(weir_sdp *o, const weir_local_params *lp,
                       const weir_subscriber_track *tracks, size_t n)
{
    size_t cap = 16 + n * (WEIR_NEGOTIATE_MID_MAX + 1);
    char *line = weir_malloc(cap);
    size_t len = (size_t)snprintf(line, cap, "group:BUNDLE");
    for (size_t i = 0; i < n; i++)
        if (bundled(tracks, i))
            len += (size_t)snprintf(line + len, cap - len, " %s", tracks[i].mid);
    int rc = weir_sdp_add_attribute(o, NULL, line, NULL, 0);
    weir_free(line);
    /* RFC 8830 §3: WMS with no ids, as Chromium writes it in unified plan. */
    if (rc == 0)
        rc = weir_sdp_add_attribute(o, NULL, "msid-semantic: WMS", NULL, 0);
    if (rc == 0)
        rc = weir_sdp_add_attribute(o, NULL, "ice-options:trickle", NULL, 0);
    if (rc == 0 && lp->ice_lite)
        rc = weir_sdp_add_attribute(o, NULL, "ice-lite", NULL, 0);
    return rc;
}

/* ICE and DTLS on every m-line, rejected ones too, as Chromium writes its
 * own offers: a parser that looks for them per m-line finds them. */
static int add_transport(weir_sdp *o, weir_sdp_media *m, const weir_local_params *lp)
{
    int rc = weir_sdp_add_attributef(o, m, "ice-ufrag:%s", lp->ice_ufrag);
    if (rc == 0)
        rc = weir_sdp_add_attributef(o, m, "ice-pwd:%s", lp->ice_pwd);
    if (rc == 0)
        rc = weir_sdp_add_attributef(o, m, "fingerprint:%s", lp->fingerprint);
    /* RFC 8842 §5.3 / JSEP §5.2.1: offers say actpass, re-offers too; the
     * answerer keeps the role it has (Chromium does). */
    if (rc == 0)
        rc = weir_sdp_add_attribute(o, m, "setup:actpass", NULL, 0);
    return rc;
}

static int add_codecs(weir_sdp *o, weir_sdp_media *m, const weir_local_params *lp,
                      const weir_subscriber_track *t, const struct codec_row *row)
{
    int rc = weir_sdp_media_add_codec(o, m, (unsigned)row->pt, row->name, row->clock_rate_hz,
                                      row->channels, t->fmtp[0] ? t->fmtp : NULL);
    for (size_t i = 0; i < N_FB && rc == 0; i++) {
        if (!(lp->rtcp_fb & fb_rows[i].bit) || (t->kind == WEIR_SDP_AUDIO && !fb_rows[i].audio))
            continue;
        rc = weir_sdp_add_attributef(o, m, "rtcp-fb:%d %s%s%s", row->pt, fb_rows[i].type,
                                     fb_rows[i].subtype ? " " : "",
                                     fb_rows[i].subtype ? fb_rows[i].subtype : "");
    }
    /* RED after opus: its payload is opus, and a receiver decodes either. */
    if (rc == 0 && t->red) {
        char fmtp[16];
        snprintf(fmtp, sizeof fmtp, "%d/%d", row->pt, row->pt);
        rc = weir_sdp_media_add_codec(o, m, WEIR_SUBSCRIBER_RED_PT, "red", 48000, 2, fmtp);
    }
    if (rc == 0 && row->rtx_pt >= 0) {
        char fmtp[16];
        snprintf(fmtp, sizeof fmtp, "apt=%d", row->pt);
        rc = weir_sdp_media_add_codec(o, m, (unsigned)row->rtx_pt, "rtx", row->clock_rate_hz, 0,
                                      fmtp);
    }
    return rc;
}

/* RFC 8830 a=msid, plus RFC 5576 a=ssrc lines: the cname groups one
 * publisher's tracks for lip-sync, and older receivers read msid there. */
static int add_ssrcs(weir_sdp *o, weir_sdp_media *m, const weir_subscriber_track *t)
{
    uint32_t ssrcs[2] = {t->ssrc, t->rtx_ssrc};
    int rc = weir_sdp_add_attributef(o, m, "msid:%s %s", t->stream_id, t->track_id);
    if (rc == 0 && t->rtx_ssrc)
        rc = weir_sdp_add_attributef(o, m, "ssrc-group:FID %u %u", (unsigned)t->ssrc,
                                     (unsigned)t->rtx_ssrc);
    for (size_t i = 0; i < 2 && ssrcs[i] && rc == 0; i++) {
        rc = weir_sdp_add_attributef(o, m, "ssrc:%u cname:%s", (unsigned)ssrcs[i], t->cname);
        if (rc == 0)
            rc = weir_sdp_add_attributef(o, m, "ssrc:%u msid:%s %s", (unsigned)ssrcs[i],
                                         t->stream_id, t->track_id);
    }
    return rc;
}

static int add_track(weir_sdp *o, const weir_local_params *lp, const weir_subscriber_track *t,
                     bool in_bundle)
{
    const struct codec_row *row = find_codec(t->codec);
    weir_sdp_media *m = weir_sdp_add_media(o, t->kind == WEIR_SDP_AUDIO ? "audio" : "video",
                                           in_bundle ? 9 : 0, "UDP/TLS/RTP/SAVPF");
    if (!m)
        return -WEIR_ETOOBIG;
    m->connection = (weir_sdp_connection){"IN", "IP4", "0.0.0.0"};
    int rc = add_transport(o, m, lp);
    if (rc == 0)
        rc = weir_sdp_add_attributef(o, m, "mid:%s", t->mid);
    for (size_t i = 0; i < N_EXT && rc == 0; i++)
        if (t->kind == WEIR_SDP_AUDIO || !ext_rows[i].audio_only)
            rc = weir_sdp_add_attributef(o, m, "extmap:%d %s", ext_rows[i].id, ext_rows[i].uri);
    /* Weir only sends here (PROTOCOL.md); a removed track sends nothing. */
    m->direction = t->active ? WEIR_SDP_SENDONLY : WEIR_SDP_INACTIVE;
    m->rtcp_mux = true;
    m->rtcp_rsize = true;
    if (rc == 0)
        rc = add_codecs(o, m, lp, t, row);
    if (rc == 0 && t->active)
        rc = add_ssrcs(o, m, t);
    return rc;
}

static int build_offer(const weir_local_params *lp, const weir_subscriber_track *tracks, size_t n,
                       weir_sdp **out, char *err, size_t errlen)
{
    weir_sdp *o = weir_sdp_create(lp->session_id, lp->session_version);
    int rc = add_session(o, lp, tracks, n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_track(o, lp, &tracks[i], bundled(tracks, i));
    if (rc < 0) {
        weir_sdp_free(o);
        return fail(rc, err, errlen, "cannot build the offer (%s)", weir_strerror(rc));
    }
    /* RFC 8843 §7.1: the tag m-line (the first) carries the candidates. */
    rc = weir_negotiate_add_candidates(o, o->media[0], lp, err, errlen);
    if (rc < 0) {
        weir_sdp_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int weir_negotiate_subscriber_offer(const weir_local_params *lp,
                                    const weir_subscriber_track *tracks, size_t n, weir_sdp **offer,
                                    char *err, size_t errlen)
{
    if (!lp || (!tracks && n) || !offer)
        return FAIL("missing argument");
    int rc = check_local(lp, err, errlen);
    if (rc == 0)
        rc = check_tracks(tracks, n, err, errlen);
    if (rc == 0)
        rc = build_offer(lp, tracks, n, offer, err, errlen);
    return rc;
}

/* ---- checking the answer ---- */

static const char *mid_or_none(const char *mid)
{
    return mid ? mid : "(none)";
}

static int check_mid(size_t i, const weir_sdp_media *om, const weir_sdp_media *am, char *err,
                     size_t errlen)
{
    if (!om->mid)
        return FAIL("offer m-line %zu has no mid", i);
    /* RFC 8843 §7.3.3 lets a rejected answer line drop everything but port 0. */
    if ((am->mid || am->port) && (!am->mid || strcmp(am->mid, om->mid)))
        return FAIL("answer m-line %zu has mid %s, offer has %s", i, mid_or_none(am->mid), om->mid);
    if (am->kind != om->kind)
        return FAIL("answer m-line %zu (mid=%s) is %s, offer has %s", i, om->mid, am->media,
                    om->media);
    return 0;
}

/* RFC 8285 §7: the answer keeps an offered id or drops the extension; an id
 * we use for one URI must not mean another to the client. */
static int check_extmaps(size_t i, const weir_sdp_media *om, const weir_sdp_media *am,
                         weir_subscriber_extids *ext, char *err, size_t errlen)
{
    for (size_t k = 0; k < am->n_extmaps; k++) {
        const weir_sdp_extmap *e = &am->extmaps[k];
        for (size_t j = 0; j < om->n_extmaps; j++) {
            const weir_sdp_extmap *oe = &om->extmaps[j];
            if (oe->id == e->id && strcmp(oe->uri, e->uri))
                return FAIL("answer m-line %zu (mid=%s) maps extension id %u to %s, offer has %s",
                            i, om->mid, (unsigned)e->id, e->uri, oe->uri);
            if (oe->id != e->id && !strcmp(oe->uri, e->uri))
                return FAIL("answer m-line %zu (mid=%s) maps %s to id %u, offer has %u", i, om->mid,
                            e->uri, (unsigned)e->id, (unsigned)oe->id);
        }
    }
    for (size_t k = 0; k < N_EXT; k++) {
        int id = weir_sdp_media_extmap_id(am, ext_rows[k].uri);
        if (id > 0 && weir_sdp_media_extmap_id(om, ext_rows[k].uri) == id)
            ((uint8_t *)ext)[ext_rows[k].off] = (uint8_t)id;
    }
    return 0;
}

static bool has_pt(const weir_sdp_media *m, int pt)
{
    for (size_t i = 0; i < m->n_pts; i++)
        if (m->pts[i] == pt)
            return true;
    return false;
}

/* What the answer kept of the offered codec (the first format of our
 * m-line), its RTX and RED. */
static int check_codecs(size_t i, const weir_sdp_media *om, const weir_sdp_media *am,
                        weir_subscriber_answer_media *sm, char *err, size_t errlen)
{
    if (!om->n_pts)
        return FAIL("offer m-line %zu has no payload type", i);
    int pt = om->pts[0];
    if (!has_pt(am, pt))
        return FAIL("answer m-line %zu (mid=%s) does not accept payload type %d", i, om->mid, pt);
    for (size_t k = 0; k < N_FB; k++)
        if (weir_sdp_media_has_rtcp_fb(am, (unsigned)pt, fb_rows[k].type, fb_rows[k].subtype))
            sm->rtcp_fb |= fb_rows[k].bit;
    int rtx = weir_sdp_media_rtx_pt(om, (unsigned)pt);
    sm->rtx = rtx >= 0 && has_pt(am, rtx) && weir_sdp_media_rtx_pt(am, (unsigned)pt) == rtx;
    const weir_sdp_rtpmap *red = weir_sdp_media_find_rtpmap(am, WEIR_SUBSCRIBER_RED_PT);
    sm->red = has_pt(om, WEIR_SUBSCRIBER_RED_PT) && has_pt(am, WEIR_SUBSCRIBER_RED_PT) && red &&
              !strcasecmp(red->encoding, "red");
    return 0;
}

static int check_line(const weir_sdp *offer, const weir_sdp *answer, size_t i,
                      weir_subscriber_answer_desc *d, char *err, size_t errlen)
{
    const weir_sdp_media *om = offer->media[i], *am = answer->media[i];
    weir_subscriber_answer_media *sm = &d->media[i];
    int rc = check_mid(i, om, am, err, errlen);
    if (rc < 0)
        return rc;
    copy(sm->mid, sizeof sm->mid, om->mid);
    sm->kind = om->kind;
    /* RFC 3264 §6: a line the offer rejected stays rejected. aiortc 1.4
     * answers such lines with a port (inactive, and names them in BUNDLE):
     * read as rejected rather than refused. */
    sm->bundled = am->port != 0 && om->port != 0;
    if (!sm->bundled)
        return 0;
    /* JSEP §5.1.3: rtcp-mux is required; Weir has no RTCP port to use. */
    if (!am->rtcp_mux)
        return FAIL("answer m-line %zu (mid=%s) has no rtcp-mux", i, om->mid);
    rc = check_codecs(i, om, am, sm, err, errlen);
    if (rc == 0)
        rc = check_extmaps(i, om, am, &sm->ext, err, errlen);
    if (rc < 0)
        return rc;
    weir_sdp_direction od = weir_sdp_media_direction(offer, om);
    weir_sdp_direction ad = weir_sdp_media_direction(answer, am);
    sm->accepted = od == WEIR_SDP_SENDONLY && (ad == WEIR_SDP_RECVONLY || ad == WEIR_SDP_SENDRECV);
    for (size_t k = 0; k < N_EXT; k++) {
        uint8_t *slot = (uint8_t *)&d->ext + ext_rows[k].off;
        *slot = *slot ? *slot : ((const uint8_t *)&sm->ext)[ext_rows[k].off];
    }
    return 0;
}

static int check_lines(const weir_sdp *offer, const weir_sdp *answer,
                       weir_subscriber_answer_desc *d, char *err, size_t errlen)
{
    if (offer->n_media > WEIR_SUBSCRIBER_MAX_MEDIA)
        return FAIL("offer has more than %d m-lines", WEIR_SUBSCRIBER_MAX_MEDIA);
    if (answer->n_media != offer->n_media)
        return FAIL("answer has %zu m-lines, offer has %zu", answer->n_media, offer->n_media);
    d->n_media = offer->n_media;
    size_t n_bundled = 0;
    for (size_t i = 0; i < offer->n_media; i++) {
        int rc = check_line(offer, answer, i, d, err, errlen);
        if (rc < 0)
            return rc;
        n_bundled += d->media[i].bundled;
    }
    if (n_bundled == 0)
        return FAIL("answer rejects every m-line");
    return 0;
}

static const weir_subscriber_answer_media *find_line(const weir_subscriber_answer_desc *d,
                                                     const char *mid)
{
    for (size_t i = 0; i < d->n_media; i++)
        if (!strcmp(d->media[i].mid, mid))
            return &d->media[i];
    return NULL;
}

/* RFC 8843 §7.3: one group with every line the answer kept; its first mid
 * is the answerer's tag, whose transport the bundle uses. */
static int check_bundle(const weir_sdp *offer, const weir_sdp *answer,
                        weir_subscriber_answer_desc *d, char *err, size_t errlen)
{
    const weir_sdp_group *g = weir_sdp_find_group(answer, "BUNDLE");
    const char *tag = NULL;
    if (!g || g->n_mids == 0)
        return FAIL("answer has no BUNDLE group");
    for (size_t i = 0; i < g->n_mids; i++) {
        const weir_subscriber_answer_media *sm = find_line(d, g->mids[i]);
        if (!sm)
            return FAIL("answer BUNDLE group names unknown mid %s", g->mids[i]);
        if (!sm->bundled && weir_sdp_find_media(offer, g->mids[i])->port == 0)
            continue; /* the aiortc 1.4 leniency of check_line */
        if (!sm->bundled)
            return FAIL("answer BUNDLE group names mid %s, which the answer rejects", g->mids[i]);
        tag = tag ? tag : sm->mid;
    }
    for (size_t i = 0; i < d->n_media; i++) {
        bool in = false;
        for (size_t k = 0; k < g->n_mids && !in; k++)
            in = !strcmp(g->mids[k], d->media[i].mid);
        if (d->media[i].bundled && !in)
            return FAIL("answer BUNDLE group lacks mid %s", d->media[i].mid);
    }
    copy(d->bundle_mid, sizeof d->bundle_mid, tag);
    return 0;
}

/* RFC 8122 §5: "AB:CD:..." with as many bytes as the hash has. */
static bool fingerprint_value_ok(const char *v, size_t bytes)
{
    if (strlen(v) != bytes * 3 - 1)
        return false;
    for (size_t i = 0; v[i]; i++)
        if (i % 3 == 2 ? v[i] != ':' : !isxdigit((unsigned char)v[i]))
            return false;
    return true;
}

/* The first fingerprint DTLS can check (RFC 8827 §6.5), or NULL. */
static const weir_sdp_fingerprint *pick_fingerprint(const weir_sdp_transport *t)
{
    static const struct {
        const char *name;
        size_t bytes;
    } hashes[] = {{"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}};
    for (size_t i = 0; i < t->n_fingerprints; i++)
        for (size_t h = 0; h < sizeof hashes / sizeof *hashes; h++)
            if (!strcasecmp(t->fingerprints[i].hash, hashes[h].name) &&
                fingerprint_value_ok(t->fingerprints[i].value, hashes[h].bytes))
                return &t->fingerprints[i];
    return NULL;
}

static int check_line_transport(const weir_sdp_transport *t, size_t i, const char *mid, char *err,
                                size_t errlen)
{
    if (!t->ice_ufrag || !t->ice_pwd)
        return FAIL("answer m-line %zu (mid=%s) has no ICE credentials", i, mid);
    if (!ice_token_ok(t->ice_ufrag, 4) || !ice_token_ok(t->ice_pwd, 22))
        return FAIL("answer m-line %zu (mid=%s) has malformed ICE credentials", i, mid);
    if (!t->n_fingerprints)
        return FAIL("answer m-line %zu (mid=%s) has no DTLS fingerprint", i, mid);
    if (!pick_fingerprint(t))
        return FAIL("answer m-line %zu (mid=%s) has no usable sha-256/384/512 fingerprint", i, mid);
    /* RFC 8842 §5.2 / RFC 5763 §5: the answerer picks active or passive. */
    if (t->setup != WEIR_SDP_SETUP_ACTIVE && t->setup != WEIR_SDP_SETUP_PASSIVE)
        return FAIL("answer m-line %zu (mid=%s) has a=setup:%s, want active or passive", i, mid,
                    t->setup == WEIR_SDP_SETUP_NONE ? "(none)" : weir_sdp_setup_name(t->setup));
    return 0;
}

static int check_transport(const weir_sdp *answer, weir_subscriber_answer_desc *d, char *err,
                           size_t errlen)
{
    weir_sdp_transport t;
    for (size_t i = 0; i < answer->n_media; i++) {
        if (!d->media[i].bundled)
            continue;
        weir_sdp_media_transport(answer, answer->media[i], &t);
        int rc = check_line_transport(&t, i, d->media[i].mid, err, errlen);
        if (rc < 0)
            return rc;
    }
    weir_sdp_media_transport(answer, weir_sdp_find_media(answer, d->bundle_mid), &t);
    const weir_sdp_fingerprint *fp = pick_fingerprint(&t);
    copy(d->ice_ufrag, sizeof d->ice_ufrag, t.ice_ufrag);
    copy(d->ice_pwd, sizeof d->ice_pwd, t.ice_pwd);
    d->ice_trickle = t.ice_trickle;
    for (size_t i = 0; fp->hash[i] && i + 1 < sizeof d->fingerprint_hash; i++)
        d->fingerprint_hash[i] = (char)tolower((unsigned char)fp->hash[i]); /* RFC 8122: any case */
    copy(d->fingerprint, sizeof d->fingerprint, fp->value);
    d->remote_setup = t.setup;
    d->dtls_role = t.setup == WEIR_SDP_SETUP_ACTIVE ? WEIR_DTLS_ROLE_SERVER : WEIR_DTLS_ROLE_CLIENT;
    return 0;
}

/* The tag line's candidates as trickle strings (the candidate-attribute of
 * RFC 8839 §5.1), for the ICE agent. */
static void take_candidates(const weir_sdp *answer, weir_subscriber_answer_desc *d)
{
    const weir_sdp_media *m = weir_sdp_find_media(answer, d->bundle_mid);
    for (size_t i = 0; i < m->n_candidates && d->n_candidates < WEIR_SUBSCRIBER_MAX_CANDIDATES;
         i++) {
        const weir_sdp_candidate *c = &m->candidates[i];
        char buf[WEIR_SUBSCRIBER_CANDIDATE_MAX];
        size_t cap = sizeof buf;
        int n = snprintf(buf, cap, "candidate:%s %u %s %u %s %u typ %s", c->foundation,
                         (unsigned)c->component, c->transport, (unsigned)c->priority, c->address,
                         (unsigned)c->port, c->type);
        if (n >= 0 && c->raddr && (size_t)n < cap)
            n += snprintf(buf + n, cap - (size_t)n, " raddr %s", c->raddr);
        if (n >= 0 && c->rport >= 0 && (size_t)n < cap)
            n += snprintf(buf + n, cap - (size_t)n, " rport %d", (int)c->rport);
        if (n >= 0 && c->tcptype && (size_t)n < cap)
            n += snprintf(buf + n, cap - (size_t)n, " tcptype %s", c->tcptype);
        if (n >= 0 && c->extensions && (size_t)n < cap)
            n += snprintf(buf + n, cap - (size_t)n, " %s", c->extensions);
        if (n < 0 || (size_t)n >= cap)
            continue; /* too long for the worker's command: skipped, as documented */
        memcpy(d->candidates[d->n_candidates++], buf, (size_t)n + 1);
    }
    d->end_of_candidates = m->end_of_candidates;
}

int weir_negotiate_subscriber_answer(const weir_sdp *offer, const weir_sdp *answer,
                                     weir_subscriber_answer_desc *desc, char *err, size_t errlen)
{
    if (!offer || !answer || !desc)
        return FAIL("missing argument");
    /* Built aside and copied on success: on error nothing is changed. */
    weir_subscriber_answer_desc *d = WEIR_NEW(weir_subscriber_answer_desc);
    int rc = check_lines(offer, answer, d, err, errlen);
    if (rc == 0)
        rc = check_bundle(offer, answer, d, err, errlen);
    if (rc == 0)
        rc = check_transport(answer, d, err, errlen);
    if (rc == 0) {
        take_candidates(answer, d);
        *desc = *d;
    }
    weir_free(d);
    return rc;
}
