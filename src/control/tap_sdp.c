/*
 * The tap's SDP (tap_sdp.h). ffmpeg (libavformat/rtsp.c's SDP reader) and
 * GStreamer's sdpdemux both bind each m-line's port on the c= address and
 * take the codec from a=rtpmap; ffmpeg keys SRTP from a=crypto on the
 * m-line it belongs to, so every stream carries its own line.
 */
#include "control/tap_sdp.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "weir/alloc.h"

/* An SDP of two m-lines is well under 1 KiB; fmtp is the only long field. */
#define SDP_CAP 4096
#define FMTP_MAX 512

typedef struct out {
    char buf[SDP_CAP];
    size_t len;
    bool overflow;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof o->buf - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

const char *weir_tap_sdp_codec_name(weir_codec codec)
{
    switch (codec) {
    case WEIR_CODEC_OPUS:
        return "opus";
    case WEIR_CODEC_VP8:
        return "VP8";
    case WEIR_CODEC_VP9:
        return "VP9";
    case WEIR_CODEC_H264:
        return "H264";
    case WEIR_CODEC_AV1:
        return "AV1";
    }
    return "unknown";
}

/* A value that goes into one SDP line: no CR/LF (it would start a line of its own). */
static bool one_line(const char *s, size_t max)
{
    return s && strlen(s) <= max && !strpbrk(s, "\r\n");
}

static void put_media(out *o, const weir_tap_sdp *s, const weir_tap_sdp_media *m)
{
    put(o, "m=%s %u RTP/%s %u\r\n", m->audio ? "audio" : "video", (unsigned)m->port,
        m->srtp_key ? "SAVP" : "AVP", (unsigned)m->pt);
    if (m->audio)
        put(o, "a=rtpmap:%u %s/%u/%u\r\n", (unsigned)m->pt, weir_tap_sdp_codec_name(m->codec),
            (unsigned)m->clock_rate_hz, (unsigned)(m->channels ? m->channels : 2));
    else
        put(o, "a=rtpmap:%u %s/%u\r\n", (unsigned)m->pt, weir_tap_sdp_codec_name(m->codec),
            (unsigned)m->clock_rate_hz);
    if (m->fmtp && m->fmtp[0])
        put(o, "a=fmtp:%u %s\r\n", (unsigned)m->pt, m->fmtp);
    if (m->rtcp_port != m->port + 1)
        put(o, "a=rtcp:%u\r\n", (unsigned)m->rtcp_port);
    if (m->srtp_key) {
        /* RFC 4568 §6.1: inline:<base64(key || salt)> */
        unsigned char b64[((WEIR_TAP_SRTP_KEY_LEN + 2) / 3) * 4 + 1];
        EVP_EncodeBlock(b64, m->srtp_key, WEIR_TAP_SRTP_KEY_LEN);
        put(o, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", (const char *)b64);
    }
    put(o, "a=ssrc:%u cname:weir-%s\r\n", (unsigned)m->ssrc, s->tap_id);
}

static bool usable(const weir_tap_sdp *s)
{
    if (!s || !one_line(s->tap_id, 64) || !s->tap_id[0] || !one_line(s->host, 64) || !s->host[0] ||
        s->n_media == 0 || s->n_media > WEIR_TAP_SDP_MAX_MEDIA)
        return false;
    for (size_t i = 0; i < s->n_media; i++) {
        const weir_tap_sdp_media *m = &s->media[i];
        if (!m->port || !m->rtcp_port || !m->clock_rate_hz || m->pt > 127)
            return false;
        if (m->fmtp && !one_line(m->fmtp, FMTP_MAX))
            return false;
    }
    return true;
}

char *weir_tap_sdp_write(const weir_tap_sdp *s)
{
    if (!usable(s))
        return NULL;
    out *o = weir_calloc(1, sizeof *o);
    const char *family = s->ipv6 ? "IP6" : "IP4";
    put(o, "v=0\r\n");
    put(o, "o=- %llu 1 IN %s %s\r\n", (unsigned long long)s->session_id, family, s->host);
    put(o, "s=Weir tap %s\r\n", s->tap_id);
    put(o, "c=IN %s %s\r\n", family, s->host);
    put(o, "t=0 0\r\n");
    for (size_t i = 0; i < s->n_media; i++)
        put_media(o, s, &s->media[i]);
    char *text = o->overflow ? NULL : weir_strdup(o->buf);
    weir_free(o);
    return text;
}
