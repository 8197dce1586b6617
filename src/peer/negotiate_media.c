/*
 * What one publisher m-line carries: the codec Weir answers (with its RTX
 * and RED), the RTCP feedback, the header extensions, the simulcast rids
 * and the SSRCs the client announced. Everything chosen is the offerer's
 * numbering (payload types, extmap ids, rids): the answerer may not renumber
 * (RFC 3264 §6.1, RFC 8285 §7, RFC 8851 §6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "peer/negotiate_internal.h"
#include "weir/errors.h"

#define FAIL(...) weir_negotiate_fail(-WEIR_EINVAL, err, errlen, __VA_ARGS__)

/* ---- codecs ---- */

/* H264 profiles Weir accepts: constrained baseline 3.1 (42e01f), baseline
 * 3.1 (42001f), main 3.1 (4d001f), what every browser offers first. */
static const char *const h264_profiles[] = {"42e01f", "42001f", "4d001f"};

/* The fmtp parameter key equals want (or is absent, when absent_ok). */
static bool fmtp_is(const char *fmtp, const char *key, uint32_t want, bool absent_ok)
{
    const char *v;
    size_t len;
    uint32_t n;
    if (!weir_sdp_fmtp_param(fmtp, key, &v, &len))
        return absent_ok;
    return weir_sdp_fmtp_param_uint(fmtp, key, &n) && n == want;
}

static bool h264_ok(const char *fmtp)
{
    const char *v;
    size_t len;
    /* RFC 6184 §8.1: mode 0 (single NAL) is what packetization-mode absent means;
     * Weir forwards FU-A/STAP-A, i.e. mode 1, only. */
    if (!fmtp_is(fmtp, "packetization-mode", 1, false))
        return false;
    if (!weir_sdp_fmtp_param(fmtp, "profile-level-id", &v, &len) || len != 6)
        return false;
    for (size_t i = 0; i < sizeof h264_profiles / sizeof *h264_profiles; i++)
        if (!strncasecmp(v, h264_profiles[i], 6))
            return true;
    return false;
}

/* Which weir_codec the rtpmap/fmtp pair is, if Weir can forward it at all. */
static bool identify_codec(weir_sdp_kind kind, const weir_sdp_rtpmap *r, const char *fmtp,
                           weir_codec *out)
{
    if (kind == WEIR_SDP_AUDIO) {
        /* RFC 7587 §7: opus is always written opus/48000/2. */
        *out = WEIR_CODEC_OPUS;
        return !strcasecmp(r->encoding, "opus") && r->clock_rate_hz == 48000 && r->channels == 2;
    }
    if (kind != WEIR_SDP_VIDEO || r->clock_rate_hz != 90000)
        return false;
    if (!strcasecmp(r->encoding, "VP8")) {
        *out = WEIR_CODEC_VP8;
        return true;
    }
    if (!strcasecmp(r->encoding, "VP9")) {
        *out = WEIR_CODEC_VP9;
        return fmtp_is(fmtp, "profile-id", 0, true);
    }
    if (!strcasecmp(r->encoding, "H264")) {
        *out = WEIR_CODEC_H264;
        return h264_ok(fmtp);
    }
    if (!strcasecmp(r->encoding, "AV1")) {
        *out = WEIR_CODEC_AV1;
        return fmtp_is(fmtp, "profile", 0, true);
    }
    return false;
}

static const weir_codec_policy *find_policy(const weir_local_params *lp, weir_codec c)
{
    const weir_codec_policy *p = lp->codecs ? lp->codecs : weir_negotiate_default_codecs;
    size_t n = lp->codecs ? lp->n_codecs : weir_negotiate_n_default_codecs;
    for (size_t i = 0; i < n; i++)
        if (p[i].codec == c)
            return &p[i];
    return NULL;
}

/* RFC 2198 / Chromium's audio RED: "red/48000/2" with fmtp "111/111", every
 * redundant block being the primary codec. */
static int find_red(const weir_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->n_rtpmaps; i++) {
        const weir_sdp_rtpmap *r = &m->rtpmaps[i];
        const char *fmtp = weir_sdp_media_find_fmtp(m, r->pt);
        if (strcasecmp(r->encoding, "red") || r->clock_rate_hz != 48000 || !fmtp || !*fmtp)
            continue;
        bool ok = true;
        for (const char *p = fmtp; *p && ok; p += *p == '/') {
            char *end;
            unsigned long v = strtoul(p, &end, 10);
            ok = end != p && v == pt && (*end == '/' || *end == '\0');
            p = end;
        }
        if (ok)
            return r->pt;
    }
    return -1;
}

/* The encodings on the m= line other than RTX, in order, for "offered:". */
static void list_offered(const weir_sdp_media *m, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_pts; i++) {
        const weir_sdp_rtpmap *r = weir_sdp_media_find_rtpmap(m, m->pts[i]);
        const char *enc = r ? r->encoding : m->formats[i];
        bool seen = !strcasecmp(enc, "rtx");
        for (size_t j = 0; j < i && !seen; j++) {
            const weir_sdp_rtpmap *o = weir_sdp_media_find_rtpmap(m, m->pts[j]);
            seen = !strcasecmp(o ? o->encoding : m->formats[j], enc);
        }
        if (seen || len + 1 >= cap)
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", enc);
        len = n < 0 || (size_t)n >= cap - len ? cap - 1 : len + (size_t)n;
    }
    if (!len)
        snprintf(buf, cap, "none");
}

/*
 * The payload type whose codec comes first in the policy (the server's
 * preference order, [media] video_codecs); between payload types of one
 * codec, the offerer's order (RFC 3264 §6.1). An answer with that one codec
 * is what the client then sends.
 */
static bool choose_codec(const weir_sdp_media *m, const weir_local_params *lp,
                         weir_publish_media *pm)
{
    const weir_codec_policy *base = lp->codecs ? lp->codecs : weir_negotiate_default_codecs;
    const weir_sdp_rtpmap *best = NULL;
    const weir_codec_policy *best_pol = NULL;
    const char *best_fmtp = NULL;
    for (size_t i = 0; i < m->n_pts; i++) {
        const weir_sdp_rtpmap *r = weir_sdp_media_find_rtpmap(m, m->pts[i]);
        const char *fmtp = weir_sdp_media_find_fmtp(m, m->pts[i]);
        weir_codec c;
        const weir_codec_policy *pol;
        if (!r || !identify_codec(m->kind, r, fmtp, &c) || !(pol = find_policy(lp, c)) ||
            strlen(fmtp ? fmtp : "") >= sizeof pm->fmtp ||
            strlen(r->encoding) >= sizeof pm->codec_name)
            continue;
        if (!best || pol - base < best_pol - base) {
            best = r;
            best_pol = pol;
            best_fmtp = fmtp;
        }
    }
    if (!best)
        return false;
    weir_negotiate_copy(pm->fmtp, sizeof pm->fmtp, best_fmtp ? best_fmtp : "");
    weir_negotiate_copy(pm->codec_name, sizeof pm->codec_name, best->encoding);
    identify_codec(m->kind, best, best_fmtp, &pm->codec);
    pm->pt = best->pt;
    pm->clock_rate_hz = best->clock_rate_hz;
    pm->channels = best->channels;
    int rtx = best_pol->rtx ? weir_sdp_media_rtx_pt(m, best->pt) : -1;
    const weir_sdp_rtpmap *rr = rtx >= 0 ? weir_sdp_media_find_rtpmap(m, (unsigned)rtx) : NULL;
    /* RFC 4588 §8.1: the RTX clock rate is the original's. */
    pm->rtx_pt = rr && rr->clock_rate_hz == best->clock_rate_hz ? rtx : -1;
    pm->red_pt = best_pol->red && pm->codec == WEIR_CODEC_OPUS ? find_red(m, best->pt) : -1;
    return true;
}

/* ---- feedback and header extensions ---- */

static const struct {
    unsigned bit;
    const char *type, *subtype;
} fb_table[] = {
    /* Chromium's order. */
    {WEIR_NEGOTIATE_FB_REMB, "goog-remb", NULL}, {WEIR_NEGOTIATE_FB_TWCC, "transport-cc", NULL},
    {WEIR_NEGOTIATE_FB_FIR, "ccm", "fir"},       {WEIR_NEGOTIATE_FB_NACK, "nack", NULL},
    {WEIR_NEGOTIATE_FB_PLI, "nack", "pli"},
};

#define N_FB (sizeof fb_table / sizeof *fb_table)

static unsigned plan_rtcp_fb(const weir_sdp_media *m, const weir_local_params *lp, unsigned pt)
{
    unsigned mask = 0;
    for (size_t i = 0; i < N_FB; i++)
        if ((lp->rtcp_fb & fb_table[i].bit) &&
            weir_sdp_media_has_rtcp_fb(m, pt, fb_table[i].type, fb_table[i].subtype))
            mask |= fb_table[i].bit;
    return mask;
}

static const char *const default_exts[] = {
    WEIR_SDP_EXT_MID,           WEIR_SDP_EXT_RID,  WEIR_SDP_EXT_REPAIRED_RID,
    WEIR_SDP_EXT_ABS_SEND_TIME, WEIR_SDP_EXT_TWCC, WEIR_SDP_EXT_AUDIO_LEVEL,
};

/*
 * Whether the answer keeps the offered extmap e, and with which direction.
 * RFC 8285 §7: the answer reuses the offer's id; an extension the client
 * only sends (sendonly) is one we receive (recvonly); one it only wants to
 * receive is of no use on a publisher PC. Ids above 255 are RFC 5285's
 * "pick one for me" range, which Weir does not negotiate.
 */
static bool ext_accepted(const weir_local_params *lp, const weir_sdp_extmap *e,
                         weir_sdp_direction *dir)
{
    const char *const *uris = lp->extensions ? lp->extensions : default_exts;
    size_t n = lp->extensions ? lp->n_extensions : sizeof default_exts / sizeof *default_exts;
    bool known = false;
    for (size_t i = 0; i < n && !known; i++)
        known = !strcmp(uris[i], e->uri);
    if (!known || e->id > 255 || e->direction == WEIR_SDP_RECVONLY ||
        e->direction == WEIR_SDP_INACTIVE)
        return false;
    *dir = e->direction == WEIR_SDP_SENDONLY ? WEIR_SDP_RECVONLY : WEIR_SDP_DIR_NONE;
    return true;
}

static void plan_extensions(const weir_sdp_media *m, const weir_local_params *lp,
                            weir_publish_media *pm)
{
    static const struct {
        const char *uri;
        size_t off;
    } slots[] = {
        {WEIR_SDP_EXT_MID, offsetof(weir_publish_extids, mid)},
        {WEIR_SDP_EXT_RID, offsetof(weir_publish_extids, rid)},
        {WEIR_SDP_EXT_REPAIRED_RID, offsetof(weir_publish_extids, repaired_rid)},
        {WEIR_SDP_EXT_ABS_SEND_TIME, offsetof(weir_publish_extids, abs_send_time)},
        {WEIR_SDP_EXT_TWCC, offsetof(weir_publish_extids, twcc)},
        {WEIR_SDP_EXT_AUDIO_LEVEL, offsetof(weir_publish_extids, audio_level)},
    };
    for (size_t i = 0; i < m->n_extmaps; i++) {
        weir_sdp_direction dir;
        if (!ext_accepted(lp, &m->extmaps[i], &dir))
            continue;
        for (size_t j = 0; j < sizeof slots / sizeof *slots; j++)
            if (!strcmp(slots[j].uri, m->extmaps[i].uri))
                ((uint8_t *)&pm->ext)[slots[j].off] = (uint8_t)m->extmaps[i].id;
    }
}

/* ---- simulcast ---- */

/* RFC 8851 §4: "pt=96,97" restricts the rid to those payload types. */
static bool rid_allows_pt(const char *restrictions, int pt)
{
    const char *v;
    size_t len;
    if (!restrictions || !weir_sdp_fmtp_param(restrictions, "pt", &v, &len))
        return true;
    for (const char *p = v, *end = v + len; p < end;) {
        char *stop;
        long n = strtol(p, &stop, 10);
        if (stop != p && n == pt && (stop == end || *stop == ','))
            return true;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        p = comma ? comma + 1 : end;
    }
    return false;
}

/* An alternative Weir can receive: a send rid (RFC 8853 §5.1 requires the
 * a=rid line), short enough to keep, for the chosen codec, not a repeat. */
static bool rid_usable(const weir_sdp_media *m, const char *rid, const weir_publish_media *pm)
{
    if (strlen(rid) > WEIR_NEGOTIATE_RID_MAX)
        return false;
    for (size_t i = 0; i < pm->n_rids; i++)
        if (!strcmp(pm->rids[i].id, rid))
            return false;
    for (size_t i = 0; i < m->n_rids; i++)
        if (!strcmp(m->rids[i].id, rid))
            return m->rids[i].direction == WEIR_SDP_RID_SEND &&
                   rid_allows_pt(m->rids[i].restrictions, pm->pt);
    return false;
}

/*
 * RFC 8853 §5.3: the answer lists the streams it accepts, in the offer's
 * order, each with at most one of its alternatives. Weir keeps the first
 * usable alternative of each stream, up to three streams. Without the rid
 * header extension (RFC 8852) the streams cannot be told apart: no
 * simulcast then, and the client falls back to one encoding.
 */
static void plan_simulcast(const weir_sdp_media *m, weir_publish_media *pm)
{
    if (!m->simulcast.present || !pm->ext.rid)
        return;
    for (size_t i = 0; i < m->simulcast.n_send && pm->n_rids < WEIR_NEGOTIATE_MAX_RIDS; i++) {
        const weir_sdp_sc_stream *s = &m->simulcast.send[i];
        for (size_t j = 0; j < s->n_alts; j++) {
            if (!rid_usable(m, s->alts[j].rid, pm))
                continue;
            weir_publish_rid *r = &pm->rids[pm->n_rids++];
            weir_negotiate_copy(r->id, sizeof r->id, s->alts[j].rid);
            r->paused = s->alts[j].paused;
            break;
        }
    }
}

/* ---- SSRCs and msid ---- */

static bool is_secondary_ssrc(const weir_sdp_media *m, uint32_t ssrc)
{
    for (size_t i = 0; i < m->n_ssrc_groups; i++)
        for (size_t j = 1; j < m->ssrc_groups[i].n_ssrcs; j++)
            if (m->ssrc_groups[i].ssrcs[j] == ssrc)
                return true;
    return false;
}

/*
 * RFC 5576: each a=ssrc id that is not the second member of a group (the
 * RTX of FID, RFC 4588 §8; the FEC of FEC-FR) is a media SSRC; its RTX is
 * the FID partner. Chromium announces none with rids (RFC 8853): the media
 * path learns those SSRCs from the rid extension.
 */
static void plan_ssrcs(const weir_sdp_media *m, weir_publish_media *pm)
{
    for (size_t i = 0; i < m->n_ssrcs && pm->n_ssrcs < WEIR_NEGOTIATE_MAX_RIDS; i++) {
        uint32_t ssrc = m->ssrcs[i].ssrc;
        bool seen = is_secondary_ssrc(m, ssrc);
        for (size_t j = 0; j < pm->n_ssrcs && !seen; j++)
            seen = pm->ssrcs[j].media == ssrc;
        if (seen)
            continue;
        weir_publish_ssrc *s = &pm->ssrcs[pm->n_ssrcs++];
        *s = (weir_publish_ssrc){.media = ssrc};
        for (size_t g = 0; g < m->n_ssrc_groups; g++) {
            const weir_sdp_ssrc_group *grp = &m->ssrc_groups[g];
            if (!strcmp(grp->semantics, "FID") && grp->n_ssrcs == 2 && grp->ssrcs[0] == ssrc)
                s->rtx = grp->ssrcs[1];
        }
    }
}

/* a=msid (RFC 8830), else the legacy "a=ssrc:<n> msid:<stream> <track>". */
static int plan_msid(const weir_sdp_media *m, weir_publish_media *pm, char *err, size_t errlen)
{
    char buf[2 * WEIR_NEGOTIATE_MSID_MAX + 2];
    const char *stream = NULL, *track = NULL;
    if (m->n_msids) {
        stream = m->msids[0].stream_id;
        track = m->msids[0].track_id;
    } else {
        for (size_t i = 0; i < m->n_ssrcs && !stream; i++) {
            if (strcmp(m->ssrcs[i].attribute, "msid") || !m->ssrcs[i].value)
                continue;
            if (!weir_negotiate_copy(buf, sizeof buf, m->ssrcs[i].value))
                break; /* too long for either id: treated as absent, legacy is lenient */
            char *sp = strchr(buf, ' ');
            if (sp)
                *sp = '\0';
            stream = buf;
            track = sp ? sp + 1 : NULL;
        }
    }
    if ((stream && !weir_negotiate_copy(pm->stream_id, sizeof pm->stream_id, stream)) ||
        (track && !weir_negotiate_copy(pm->track_id, sizeof pm->track_id, track)))
        return FAIL("a=msid id longer than %d characters in m-line mid=%s", WEIR_NEGOTIATE_MSID_MAX,
                    pm->mid);
    return 0;
}

/* ---- planning ---- */

__attribute__((format(printf, 2, 3))) static void reject(weir_publish_media *pm, const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pm->reject_reason, sizeof pm->reject_reason, fmt, ap);
    va_end(ap);
    pm->rejected = true;
}

/*
 * RFC 8841: "UDP/DTLS/SCTP webrtc-datachannel" (TCP/ with ICE-TCP). The
 * legacy "DTLS/SCTP 5000" + a=sctpmap form predates every browser Weir
 * supports. JSEP §5.2.1 allows one data m-line.
 */
static void plan_application(const weir_sdp_media *m, bool data_taken, weir_publish_media *pm)
{
    if (strcmp(m->proto, "UDP/DTLS/SCTP") && strcmp(m->proto, "TCP/DTLS/SCTP"))
        reject(pm, "unsupported protocol %s in m-line mid=%s", m->proto, pm->mid);
    else if (m->n_formats != 1 || strcmp(m->formats[0], "webrtc-datachannel"))
        reject(pm, "no webrtc-datachannel format in m-line mid=%s", pm->mid);
    else if (data_taken)
        reject(pm, "a second data channel m-line (mid=%s) is not supported", pm->mid);
    if (pm->rejected)
        return;
    pm->remote_sctp_port = m->sctp_port >= 0 ? (uint16_t)m->sctp_port : 5000;
    pm->remote_max_message_size = m->max_message_size >= 0 ? (uint64_t)m->max_message_size : 65536;
}

int weir_negotiate_plan_media(const weir_sdp_media *m, const weir_local_params *lp, bool data_taken,
                              weir_publish_media *pm, char *err, size_t errlen)
{
    if (m->kind == WEIR_SDP_APPLICATION) {
        plan_application(m, data_taken, pm);
        return 0;
    }
    if (m->kind != WEIR_SDP_AUDIO && m->kind != WEIR_SDP_VIDEO) {
        reject(pm, "unsupported media kind %s in m-line mid=%s", m->media, pm->mid);
        return 0;
    }
    /* JSEP §5.1.1: SRTP with DTLS keying and AVPF feedback, nothing else. */
    if (strcmp(m->proto, "UDP/TLS/RTP/SAVPF") && strcmp(m->proto, "TCP/TLS/RTP/SAVPF")) {
        reject(pm, "unsupported protocol %s in m-line mid=%s", m->proto, pm->mid);
        return 0;
    }
    /* JSEP §5.1.3: the WebRTC policy is rtcp-mux "require"; Weir has no
     * separate RTCP transport to offer. */
    if (!m->rtcp_mux)
        return FAIL("offer has no rtcp-mux in m-line mid=%s", pm->mid);
    pm->source = m->kind == WEIR_SDP_AUDIO ? WEIR_SOURCE_MICROPHONE : WEIR_SOURCE_CAMERA;
    int rc = plan_msid(m, pm, err, errlen);
    if (rc < 0)
        return rc;
    if (strcasestr(pm->stream_id, "screen") || strcasestr(pm->track_id, "screen")) {
        pm->source = WEIR_SOURCE_SCREEN;
        pm->source_explicit = true;
    }
    if (!choose_codec(m, lp, pm)) {
        char offered[64];
        list_offered(m, offered, sizeof offered);
        reject(pm, "no common %s codec in m-line mid=%s (offered: %s)", m->media, pm->mid, offered);
        return 0;
    }
    pm->rtcp_fb = plan_rtcp_fb(m, lp, (unsigned)pm->pt);
    plan_extensions(m, lp, pm);
    plan_simulcast(m, pm);
    plan_ssrcs(m, pm);
    return 0;
}

/* ---- writing ---- */

static int write_codec(weir_sdp *a, weir_sdp_media *am, const weir_sdp_media *om, unsigned pt)
{
    const weir_sdp_rtpmap *r = weir_sdp_media_find_rtpmap(om, pt);
    return weir_sdp_media_add_codec(a, am, pt, r->encoding, r->clock_rate_hz, r->channels,
                                    weir_sdp_media_find_fmtp(om, pt));
}

static int write_codecs(weir_sdp *a, weir_sdp_media *am, const weir_sdp_media *om,
                        const weir_publish_media *pm)
{
    int rc = 0;
    /* Kept in the offer's order: Chromium sends the first codec of the
     * answer, so opus stays ahead of RED as the client listed it. */
    for (size_t i = 0; i < om->n_pts && rc == 0; i++) {
        int pt = om->pts[i];
        if (pt == pm->pt || pt == pm->rtx_pt || pt == pm->red_pt)
            rc = write_codec(a, am, om, (unsigned)pt);
    }
    for (size_t i = 0; i < N_FB && rc == 0; i++) {
        if (!(pm->rtcp_fb & fb_table[i].bit))
            continue;
        if (fb_table[i].subtype)
            rc = weir_sdp_add_attributef(a, am, "rtcp-fb:%d %s %s", pm->pt, fb_table[i].type,
                                         fb_table[i].subtype);
        else
            rc = weir_sdp_add_attributef(a, am, "rtcp-fb:%d %s", pm->pt, fb_table[i].type);
    }
    return rc;
}

static int write_extmaps(weir_sdp *a, weir_sdp_media *am, const weir_sdp_media *om,
                         const weir_local_params *lp)
{
    int rc = 0;
    for (size_t i = 0; i < om->n_extmaps && rc == 0; i++) {
        weir_sdp_direction dir;
        if (!ext_accepted(lp, &om->extmaps[i], &dir))
            continue;
        /* Extension attributes are dropped: none of ours takes any. */
        rc = weir_sdp_add_attributef(a, am, "extmap:%u%s%s %s", (unsigned)om->extmaps[i].id,
                                     dir == WEIR_SDP_DIR_NONE ? "" : "/",
                                     weir_sdp_direction_name(dir), om->extmaps[i].uri);
    }
    return rc;
}

/* RFC 8851 §6 / 8853 §5.3: "a=rid:<id> recv" for each stream accepted and
 * "a=simulcast:recv" listing them. Restrictions are not echoed: the
 * answerer may drop them, and a pt= list could name codecs not answered. */
static int write_simulcast(weir_sdp *a, weir_sdp_media *am, const weir_publish_media *pm)
{
    char list[WEIR_NEGOTIATE_MAX_RIDS * (WEIR_NEGOTIATE_RID_MAX + 2) + 1] = "";
    size_t len = 0;
    int rc = 0;
    for (size_t i = 0; i < pm->n_rids && rc == 0; i++) {
        rc = weir_sdp_add_attributef(a, am, "rid:%s recv", pm->rids[i].id);
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s%s", i ? ";" : "",
                                pm->rids[i].paused ? "~" : "", pm->rids[i].id);
    }
    if (rc == 0 && pm->n_rids)
        rc = weir_sdp_add_attributef(a, am, "simulcast:recv %s", list);
    return rc;
}

int weir_negotiate_write_rtp(weir_sdp *answer, weir_sdp_media *am, const weir_sdp_media *om,
                             const weir_local_params *lp, const weir_publish_media *pm)
{
    int rc = write_codecs(answer, am, om, pm);
    if (rc == 0)
        rc = write_extmaps(answer, am, om, lp);
    if (rc == 0)
        rc = write_simulcast(answer, am, pm);
    return rc;
}
