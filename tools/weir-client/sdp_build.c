/*
 * SDP text is written line by line (GString) rather than through the core's
 * builder: the offer's shape is fixed and reads best as the lines it is,
 * and the unit test parses every result with the core parser (and runs the
 * publisher offer through Weir's own negotiation).
 */
#include "sdp_build.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"

static void line(GString *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(GString *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(s, fmt, ap);
    va_end(ap);
    g_string_append(s, "\r\n");
}

static char *finish(GString *s)
{
    char *out = weir_strdup(s->str);
    g_string_free(s, TRUE);
    return out;
}

static void transport_lines(GString *s, const char *ufrag, const char *pwd, const char *fp,
                            const char *setup)
{
    line(s, "c=IN IP4 0.0.0.0");
    line(s, "a=rtcp:9 IN IP4 0.0.0.0");
    line(s, "a=ice-ufrag:%s", ufrag);
    line(s, "a=ice-pwd:%s", pwd);
    line(s, "a=ice-options:trickle");
    line(s, "a=fingerprint:%s", fp);
    line(s, "a=setup:%s", setup);
}

static void offer_audio(GString *s, const wc_offer_params *p)
{
    line(s, "m=audio 9 UDP/TLS/RTP/SAVPF %d", WC_PT_OPUS);
    transport_lines(s, p->ice_ufrag, p->ice_pwd, p->fingerprint, "actpass");
    line(s, "a=mid:%s", WC_MID_AUDIO);
    line(s, "a=extmap:%d %s", WC_EXT_AUDIO_LEVEL, WEIR_SDP_EXT_AUDIO_LEVEL);
    line(s, "a=extmap:%d %s", WC_EXT_ABS_SEND_TIME, WEIR_SDP_EXT_ABS_SEND_TIME);
    line(s, "a=extmap:%d %s", WC_EXT_TWCC, WEIR_SDP_EXT_TWCC);
    line(s, "a=extmap:%d %s", WC_EXT_MID, WEIR_SDP_EXT_MID);
    line(s, "a=sendonly");
    line(s, "a=msid:%s %s-audio", p->stream_id, p->stream_id);
    line(s, "a=rtcp-mux");
    line(s, "a=rtpmap:%d opus/48000/2", WC_PT_OPUS);
    line(s, "a=rtcp-fb:%d transport-cc", WC_PT_OPUS);
    line(s, "a=fmtp:%d minptime=10;useinbandfec=1", WC_PT_OPUS);
    line(s, "a=ssrc:%u cname:%s", p->audio_ssrc, p->cname);
}

static void offer_video(GString *s, const wc_offer_params *p)
{
    line(s, "m=video 9 UDP/TLS/RTP/SAVPF %d %d", WC_PT_VP8, WC_PT_VP8_RTX);
    transport_lines(s, p->ice_ufrag, p->ice_pwd, p->fingerprint, "actpass");
    line(s, "a=mid:%s", WC_MID_VIDEO);
    line(s, "a=extmap:%d %s", WC_EXT_ABS_SEND_TIME, WEIR_SDP_EXT_ABS_SEND_TIME);
    line(s, "a=extmap:%d %s", WC_EXT_TWCC, WEIR_SDP_EXT_TWCC);
    line(s, "a=extmap:%d %s", WC_EXT_MID, WEIR_SDP_EXT_MID);
    line(s, "a=extmap:%d %s", WC_EXT_RID, WEIR_SDP_EXT_RID);
    line(s, "a=extmap:%d %s", WC_EXT_RRID, WEIR_SDP_EXT_REPAIRED_RID);
    line(s, "a=sendonly");
    line(s, "a=msid:%s %s-video", p->stream_id, p->stream_id);
    line(s, "a=rtcp-mux");
    line(s, "a=rtcp-rsize");
    line(s, "a=rtpmap:%d VP8/90000", WC_PT_VP8);
    line(s, "a=rtcp-fb:%d goog-remb", WC_PT_VP8);
    line(s, "a=rtcp-fb:%d transport-cc", WC_PT_VP8);
    line(s, "a=rtcp-fb:%d ccm fir", WC_PT_VP8);
    line(s, "a=rtcp-fb:%d nack", WC_PT_VP8);
    line(s, "a=rtcp-fb:%d nack pli", WC_PT_VP8);
    line(s, "a=rtpmap:%d rtx/90000", WC_PT_VP8_RTX);
    line(s, "a=fmtp:%d apt=%d", WC_PT_VP8_RTX, WC_PT_VP8);
    if (p->simulcast) {
        GString *sim = g_string_new("a=simulcast:send ");
        for (size_t i = 0; i < p->n_layers; i++) {
            line(s, "a=rid:%s send", p->layers[i].rid);
            g_string_append_printf(sim, "%s%s", i ? ";" : "", p->layers[i].rid);
        }
        line(s, "%s", sim->str);
        g_string_free(sim, TRUE);
        return;
    }
    const wc_offer_layer *l = &p->layers[0];
    line(s, "a=ssrc-group:FID %u %u", l->ssrc, l->rtx_ssrc);
    line(s, "a=ssrc:%u cname:%s", l->ssrc, p->cname);
    line(s, "a=ssrc:%u cname:%s", l->rtx_ssrc, p->cname);
}

/* RFC 8841 §4-6 and what Chromium offers; the data m-line is bundled like the others. */
static void offer_data(GString *s, const wc_offer_params *p)
{
    line(s, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel");
    transport_lines(s, p->ice_ufrag, p->ice_pwd, p->fingerprint, "actpass");
    line(s, "a=mid:%s", WC_MID_DATA);
    line(s, "a=sctp-port:%u", (unsigned)p->sctp_port);
    line(s, "a=max-message-size:%u", (unsigned)p->max_message_size);
}

char *wc_sdp_publish_offer(const wc_offer_params *p)
{
    GString *s = g_string_new(NULL);
    line(s, "v=0");
    line(s, "o=- %llu 2 IN IP4 127.0.0.1", (unsigned long long)p->session_id);
    line(s, "s=-");
    line(s, "t=0 0");
    line(s, "a=group:BUNDLE%s%s%s", p->audio ? " " WC_MID_AUDIO : "",
         p->video ? " " WC_MID_VIDEO : "", p->data ? " " WC_MID_DATA : "");
    line(s, "a=extmap-allow-mixed");
    line(s, "a=msid-semantic: WMS %s", p->stream_id);
    if (p->audio)
        offer_audio(s, p);
    if (p->video)
        offer_video(s, p);
    if (p->data)
        offer_data(s, p);
    return finish(s);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int wc_sdp_read_transport(const weir_sdp *sdp, wc_remote_transport *out, char *err, size_t err_len)
{
    if (sdp->n_media == 0) {
        snprintf(err, err_len, "no m-line");
        return -WEIR_EINVAL;
    }
    const weir_sdp_media *m = sdp->media[0];
    weir_sdp_transport t;
    weir_sdp_media_transport(sdp, m, &t);
    if (!t.ice_ufrag || !t.ice_pwd || t.n_fingerprints == 0) {
        snprintf(err, err_len, "no ICE credentials or DTLS fingerprint");
        return -WEIR_EINVAL;
    }
    wc_remote_transport r;
    memset(&r, 0, sizeof r);
    copy_str(r.ice_ufrag, sizeof r.ice_ufrag, t.ice_ufrag);
    copy_str(r.ice_pwd, sizeof r.ice_pwd, t.ice_pwd);
    copy_str(r.fingerprint_hash, sizeof r.fingerprint_hash, t.fingerprints[0].hash);
    copy_str(r.fingerprint, sizeof r.fingerprint, t.fingerprints[0].value);
    r.setup = t.setup;
    r.sctp_port = -1;
    r.max_message_size = -1;
    for (size_t i = 0; i < sdp->n_attrs; i++)
        r.ice_lite |= strcmp(sdp->attrs[i].name, "ice-lite") == 0;
    for (size_t mi = 0; mi < sdp->n_media; mi++) {
        const weir_sdp_media *mm = sdp->media[mi];
        for (size_t i = 0; i < mm->n_candidates && r.n_candidates < WC_SDP_MAX_CANDIDATES; i++) {
            const weir_sdp_candidate *c = &mm->candidates[i];
            if (strcmp(c->transport, "udp") != 0 && strcmp(c->transport, "UDP") != 0)
                continue;
            char rel[96] = "";
            if (c->raddr && c->rport >= 0)
                snprintf(rel, sizeof rel, " raddr %s rport %d", c->raddr, (int)c->rport);
            snprintf(r.candidates[r.n_candidates++], sizeof r.candidates[0],
                     "candidate:%s %u %s %u %s %u typ %s%s", c->foundation, c->component,
                     c->transport, c->priority, c->address, c->port, c->type, rel);
        }
        r.end_of_candidates |= mm->end_of_candidates;
        if (mm->kind == WEIR_SDP_APPLICATION && mm->port != 0 && !r.data) {
            r.data = true;
            r.sctp_port = mm->sctp_port;
            r.max_message_size = mm->max_message_size;
        }
    }
    *out = r;
    return 0;
}

/* ---- subscriber answer ---- */

/* The first payload type with this encoding (case-insensitive), or -1. */
static int find_codec(const weir_sdp_media *m, const char *encoding, uint32_t clock_rate_hz)
{
    for (size_t i = 0; i < m->n_pts; i++) {
        const weir_sdp_rtpmap *r = weir_sdp_media_find_rtpmap(m, m->pts[i]);
        if (r && g_ascii_strcasecmp(r->encoding, encoding) == 0 &&
            r->clock_rate_hz == clock_rate_hz)
            return m->pts[i];
    }
    return -1;
}

static void read_ssrcs(const weir_sdp_media *m, wc_sub_media *out)
{
    for (size_t i = 0; i < m->n_ssrcs; i++) {
        uint32_t ssrc = m->ssrcs[i].ssrc;
        bool is_rtx = false, known = false;
        for (size_t g = 0; g < m->n_ssrc_groups; g++) {
            const weir_sdp_ssrc_group *grp = &m->ssrc_groups[g];
            if (strcmp(grp->semantics, "FID") == 0 && grp->n_ssrcs == 2 && grp->ssrcs[1] == ssrc)
                is_rtx = true;
        }
        for (size_t k = 0; k < out->n_ssrcs; k++)
            known |= out->ssrcs[k] == ssrc;
        if (is_rtx || known || out->n_ssrcs == WC_SDP_MAX_SSRCS)
            continue;
        out->ssrcs[out->n_ssrcs] = ssrc;
        for (size_t g = 0; g < m->n_ssrc_groups; g++) {
            const weir_sdp_ssrc_group *grp = &m->ssrc_groups[g];
            if (strcmp(grp->semantics, "FID") == 0 && grp->n_ssrcs == 2 && grp->ssrcs[0] == ssrc)
                out->rtx_ssrcs[out->n_ssrcs] = grp->ssrcs[1];
        }
        out->n_ssrcs++;
    }
}

/* Decides what we receive on m-line m; fills out. */
static void choose_media(const weir_sdp_media *m, wc_sub_media *out)
{
    memset(out, 0, sizeof *out);
    copy_str(out->mid, sizeof out->mid, m->mid);
    out->kind = m->kind;
    out->pt = -1;
    out->rtx_pt = -1;
    if (m->port == 0 || !m->is_rtp || !m->mid)
        return;
    if (m->kind == WEIR_SDP_AUDIO)
        out->pt = find_codec(m, "opus", 48000);
    else if (m->kind == WEIR_SDP_VIDEO)
        out->pt = find_codec(m, "VP8", 90000);
    if (out->pt < 0)
        return;
    if (m->kind == WEIR_SDP_VIDEO)
        out->rtx_pt = weir_sdp_media_rtx_pt(m, (unsigned)out->pt);
    out->accepted = true;
    if (m->n_msids > 0) {
        copy_str(out->stream_id, sizeof out->stream_id, m->msids[0].stream_id);
        copy_str(out->track_id, sizeof out->track_id, m->msids[0].track_id);
    }
    read_ssrcs(m, out);
}

static void answer_media(GString *s, const weir_sdp *sdp, const weir_sdp_media *m,
                         const wc_sub_media *c, const wc_answer_params *p)
{
    if (!c->accepted) {
        line(s, "m=%s 0 %s %s", m->media, m->proto,
             m->n_formats ? m->formats[0] : (m->is_rtp ? "0" : "webrtc-datachannel"));
        line(s, "c=IN IP4 0.0.0.0");
        if (m->mid)
            line(s, "a=mid:%s", m->mid);
        line(s, "a=inactive");
        return;
    }
    if (c->rtx_pt >= 0)
        line(s, "m=%s 9 UDP/TLS/RTP/SAVPF %d %d", m->media, c->pt, c->rtx_pt);
    else
        line(s, "m=%s 9 UDP/TLS/RTP/SAVPF %d", m->media, c->pt);
    transport_lines(s, p->ice_ufrag, p->ice_pwd, p->fingerprint, "active");
    line(s, "a=mid:%s", c->mid);
    static const char *const known[] = {WEIR_SDP_EXT_MID, WEIR_SDP_EXT_ABS_SEND_TIME,
                                        WEIR_SDP_EXT_AUDIO_LEVEL};
    for (size_t i = 0; i < m->n_extmaps; i++)
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(m->extmaps[i].uri, known[k]) == 0)
                line(s, "a=extmap:%u %s", m->extmaps[i].id, m->extmaps[i].uri);
    weir_sdp_direction dir = weir_sdp_media_direction(sdp, m);
    bool sends = dir == WEIR_SDP_SENDONLY || dir == WEIR_SDP_SENDRECV;
    line(s, "a=%s", sends ? "recvonly" : "inactive");
    line(s, "a=rtcp-mux");
    if (m->kind == WEIR_SDP_AUDIO) {
        line(s, "a=rtpmap:%d opus/48000/2", c->pt);
        line(s, "a=fmtp:%d minptime=10;useinbandfec=1", c->pt);
        return;
    }
    line(s, "a=rtcp-rsize");
    line(s, "a=rtpmap:%d VP8/90000", c->pt);
    line(s, "a=rtcp-fb:%d ccm fir", c->pt);
    line(s, "a=rtcp-fb:%d nack", c->pt);
    line(s, "a=rtcp-fb:%d nack pli", c->pt);
    if (c->rtx_pt >= 0) {
        line(s, "a=rtpmap:%d rtx/90000", c->rtx_pt);
        line(s, "a=fmtp:%d apt=%d", c->rtx_pt, c->pt);
    }
}

int wc_sdp_subscribe_answer(const char *offer_text, const wc_answer_params *p, char **answer,
                            wc_sub_desc *desc, char *err, size_t err_len)
{
    weir_sdp *sdp = NULL;
    if (weir_sdp_parse(offer_text, strlen(offer_text), &sdp, err, err_len) < 0)
        return -WEIR_EINVAL;
    wc_sub_desc *d = g_new0(wc_sub_desc, 1);
    int rc = wc_sdp_read_transport(sdp, &d->transport, err, err_len);
    if (rc == 0 && sdp->n_media > WC_SDP_MAX_MEDIA) {
        snprintf(err, err_len, "more than %d m-lines", WC_SDP_MAX_MEDIA);
        rc = -WEIR_EINVAL;
    }
    if (rc < 0) {
        g_free(d);
        weir_sdp_free(sdp);
        return rc;
    }
    d->n_media = sdp->n_media;
    for (size_t i = 0; i < sdp->n_media; i++) {
        const weir_sdp_media *m = sdp->media[i];
        choose_media(m, &d->media[i]);
        if (!d->ext_mid)
            d->ext_mid = (uint8_t)weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_MID);
        if (!d->ext_abs_send_time)
            d->ext_abs_send_time = (uint8_t)weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_ABS_SEND_TIME);
    }

    GString *s = g_string_new(NULL);
    line(s, "v=0");
    line(s, "o=- %llu %llu IN IP4 127.0.0.1", (unsigned long long)p->session_id,
         (unsigned long long)p->session_version);
    line(s, "s=-");
    line(s, "t=0 0");
    GString *bundle = g_string_new("a=group:BUNDLE");
    for (size_t i = 0; i < d->n_media; i++)
        if (d->media[i].accepted)
            g_string_append_printf(bundle, " %s", d->media[i].mid);
    line(s, "%s", bundle->str);
    g_string_free(bundle, TRUE);
    line(s, "a=msid-semantic: WMS");
    for (size_t i = 0; i < sdp->n_media; i++)
        answer_media(s, sdp, sdp->media[i], &d->media[i], p);
    weir_sdp_free(sdp);
    *answer = finish(s);
    *desc = *d;
    g_free(d);
    return 0;
}
