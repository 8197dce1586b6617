/*
 * Subscriber answers for weir-load (see answer.h). Written line by line:
 * the answer's shape is fixed and reads best as the lines it is.
 */
#include "answer.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* The payload type of encoding in m (case-insensitive), or -1. */
static int find_codec(const weir_sdp_media *m, const char *encoding)
{
    for (size_t i = 0; i < m->n_rtpmaps; i++)
        if (strcasecmp(m->rtpmaps[i].encoding, encoding) == 0)
            return m->rtpmaps[i].pt;
    return -1;
}

static void read_transport(const weir_sdp *sdp, wl_offer_info *info)
{
    for (size_t mi = 0; mi < sdp->n_media; mi++) {
        const weir_sdp_media *m = sdp->media[mi];
        if (!info->ice_ufrag[0]) {
            weir_sdp_transport t;
            weir_sdp_media_transport(sdp, m, &t);
            if (t.ice_ufrag && t.ice_pwd && t.n_fingerprints > 0) {
                snprintf(info->ice_ufrag, sizeof info->ice_ufrag, "%s", t.ice_ufrag);
                snprintf(info->ice_pwd, sizeof info->ice_pwd, "%s", t.ice_pwd);
                snprintf(info->fp_hash, sizeof info->fp_hash, "%s", t.fingerprints[0].hash);
                snprintf(info->fingerprint, sizeof info->fingerprint, "%s",
                         t.fingerprints[0].value);
                info->setup = t.setup;
            }
        }
        for (size_t i = 0; i < m->n_candidates && info->n_candidates < WL_ANSWER_MAX_CANDS; i++) {
            const weir_sdp_candidate *c = &m->candidates[i];
            if (strcasecmp(c->transport, "udp") != 0 || c->component != 1)
                continue;
            snprintf(info->candidates[info->n_candidates++], sizeof info->candidates[0],
                     "candidate:%s %u udp %u %s %u typ %s", c->foundation, c->component,
                     c->priority, c->address, c->port, c->type);
        }
    }
}

static const char *answer_direction(weir_sdp_direction offered)
{
    return offered == WEIR_SDP_INACTIVE || offered == WEIR_SDP_RECVONLY ? "inactive" : "recvonly";
}

int wl_answer_offer(const char *offer, const wl_answer_params *p, char **answer,
                    wl_offer_info *info, char *err, size_t err_len)
{
    weir_sdp *sdp = NULL;
    if (weir_sdp_parse(offer, strlen(offer), &sdp, err, err_len) < 0)
        return -WEIR_EINVAL;
    memset(info, 0, sizeof *info);
    info->audio_pt = -1;
    read_transport(sdp, info);
    if (!info->ice_ufrag[0]) {
        snprintf(err, err_len, "offer without ICE credentials or fingerprint");
        weir_sdp_free(sdp);
        return -WEIR_EINVAL;
    }
    GString *bundle = g_string_new("a=group:BUNDLE");
    GString *body = g_string_new(NULL);
    for (size_t mi = 0; mi < sdp->n_media; mi++) {
        const weir_sdp_media *m = sdp->media[mi];
        const char *mid = m->mid ? m->mid : "";
        int pt = -1, rtx = -1;
        if (m->port != 0 && m->is_rtp && m->kind == WEIR_SDP_AUDIO)
            pt = find_codec(m, "opus");
        else if (m->port != 0 && m->is_rtp && m->kind == WEIR_SDP_VIDEO)
            pt = find_codec(m, "VP8");
        if (pt >= 0 && m->kind == WEIR_SDP_VIDEO)
            rtx = weir_sdp_media_rtx_pt(m, (unsigned)pt);
        if (pt < 0 || !m->mid) {
            line(body, "m=%s 0 %s %s", m->media, m->proto, m->n_formats ? m->formats[0] : "0");
            line(body, "c=IN IP4 0.0.0.0");
            if (m->mid)
                line(body, "a=mid:%s", mid);
            line(body, "a=inactive");
            continue;
        }
        info->accepted++;
        if (m->kind == WEIR_SDP_AUDIO && info->audio_pt < 0)
            info->audio_pt = pt;
        g_string_append_printf(bundle, " %s", mid);
        if (rtx >= 0)
            line(body, "m=%s 9 UDP/TLS/RTP/SAVPF %d %d", m->media, pt, rtx);
        else
            line(body, "m=%s 9 UDP/TLS/RTP/SAVPF %d", m->media, pt);
        line(body, "c=IN IP4 0.0.0.0");
        line(body, "a=rtcp:9 IN IP4 0.0.0.0");
        line(body, "a=ice-ufrag:%s", p->ice_ufrag);
        line(body, "a=ice-pwd:%s", p->ice_pwd);
        line(body, "a=ice-options:trickle");
        line(body, "a=fingerprint:%s", p->fingerprint);
        line(body, "a=setup:active");
        line(body, "a=mid:%s", mid);
        int ext = weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_MID);
        if (ext > 0)
            line(body, "a=extmap:%d %s", ext, WEIR_SDP_EXT_MID);
        line(body, "a=%s", answer_direction(m->direction));
        line(body, "a=rtcp-mux");
        if (m->kind == WEIR_SDP_AUDIO) {
            line(body, "a=rtpmap:%d opus/48000/2", pt);
            line(body, "a=fmtp:%d minptime=10;useinbandfec=1", pt);
        } else {
            line(body, "a=rtcp-rsize");
            line(body, "a=rtpmap:%d VP8/90000", pt);
            line(body, "a=rtcp-fb:%d nack", pt);
            line(body, "a=rtcp-fb:%d nack pli", pt);
            line(body, "a=rtcp-fb:%d ccm fir", pt);
            if (rtx >= 0) {
                line(body, "a=rtpmap:%d rtx/90000", rtx);
                line(body, "a=fmtp:%d apt=%d", rtx, pt);
            }
        }
    }
    weir_sdp_free(sdp);
    GString *s = g_string_new(NULL);
    line(s, "v=0");
    line(s, "o=- 4242 %llu IN IP4 127.0.0.1", (unsigned long long)p->session_version);
    line(s, "s=-");
    line(s, "t=0 0");
    if (info->accepted)
        line(s, "%s", bundle->str);
    line(s, "a=msid-semantic: WMS");
    g_string_append(s, body->str);
    g_string_free(bundle, TRUE);
    g_string_free(body, TRUE);
    *answer = weir_strdup(s->str);
    g_string_free(s, TRUE);
    return 0;
}
