/*
 * Pre-encoded media for weir-load (see media.h).
 */
#include "media.h"

#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "pattern.h"
#include "video_source.h"
#include "vp8_packetizer.h"
#include "weir/alloc.h"
#include "weir/errors.h"

static int build_layer(wl_layer_clip *l, int fps, int frames, char *err, size_t err_len)
{
    wc_video_source *src = wc_video_source_create(l->width, l->height, fps, l->kbps, err, err_len);
    if (!src)
        return -WEIR_EIO;
    size_t cap_pk = 64;
    l->frames = weir_calloc((size_t)frames, sizeof *l->frames);
    l->packets = weir_calloc(cap_pk, sizeof *l->packets);
    for (int f = 0; f < frames; f++) {
        wc_pattern_info info = {.frame_number = (uint32_t)f, .send_ms = (uint32_t)f * 33};
        wc_encoded_frame ef;
        int rc = wc_video_source_encode(src, &info, f == 0, &ef);
        if (rc < 0) {
            snprintf(err, err_len, "VP8 encoder failed on frame %d", f);
            wc_video_source_destroy(src);
            return -WEIR_EIO;
        }
        if (rc == 0 || ef.len == 0)
            continue; /* dropped by the rate controller: the clip just has fewer frames */
        size_t n = wc_vp8_packet_count(ef.len, WL_MAX_PAYLOAD);
        wl_frame *fr = &l->frames[l->n_frames++];
        fr->first = (uint32_t)l->n_packets;
        fr->count = (uint32_t)n;
        fr->keyframe = ef.keyframe;
        for (size_t i = 0; i < n; i++) {
            if (l->n_packets == cap_pk) {
                cap_pk *= 2;
                l->packets = weir_realloc(l->packets, cap_pk * sizeof *l->packets);
            }
            uint8_t buf[WL_MAX_PAYLOAD];
            int len = wc_vp8_packetize(ef.data, ef.len, 0, WL_MAX_PAYLOAD, i, buf, sizeof buf);
            if (len <= 0) {
                snprintf(err, err_len, "VP8 packetizer failed");
                wc_video_source_destroy(src);
                return -WEIR_EIO;
            }
            wl_packet *p = &l->packets[l->n_packets++];
            p->payload = weir_malloc((size_t)len);
            memcpy(p->payload, buf, (size_t)len);
            p->len = (uint16_t)len;
            p->marker = i + 1 == n;
            l->bytes += (uint64_t)len;
        }
    }
    wc_video_source_destroy(src);
    if (l->n_frames == 0 || !l->frames[0].keyframe) {
        snprintf(err, err_len, "the encoder produced no keyframe");
        return -WEIR_EIO;
    }
    return 0;
}

int wl_clip_build(wl_clip *clip, bool simulcast, int width, int height, int fps, int kbps,
                  int frames, char *err, size_t err_len)
{
    memset(clip, 0, sizeof *clip);
    static const char *rids[WL_MAX_LAYERS] = {"q", "h", "f"};
    clip->n_layers = simulcast ? 3 : 1;
    for (size_t i = 0; i < clip->n_layers; i++) {
        wl_layer_clip *l = &clip->layers[i];
        int div = simulcast ? 1 << (2 - i) : 1; /* 4, 2, 1 */
        l->rid = simulcast ? rids[i] : NULL;
        l->width = (width / div) & ~1;
        l->height = (height / div) & ~1;
        l->kbps = simulcast ? (i == 0 ? kbps / 8 : i == 1 ? kbps / 3 : kbps) : kbps;
        if (build_layer(l, fps, frames, err, err_len) < 0)
            return -WEIR_EIO;
    }
    wc_audio_source *a = wc_audio_source_create(440.0, 32000, err, err_len);
    if (!a)
        return -WEIR_EIO;
    for (size_t i = 0; i < 50; i++) {
        uint8_t buf[WC_AUDIO_MAX_PACKET];
        int len = wc_audio_source_encode(a, buf, sizeof buf);
        if (len <= 0 || len > WL_MAX_PAYLOAD) {
            snprintf(err, err_len, "Opus encoder failed");
            wc_audio_source_destroy(a);
            return -WEIR_EIO;
        }
        clip->audio[i] = weir_malloc((size_t)len);
        memcpy(clip->audio[i], buf, (size_t)len);
        clip->audio_len[i] = (uint16_t)len;
        clip->n_audio++;
    }
    wc_audio_source_destroy(a);
    return 0;
}

void wl_clip_free(wl_clip *clip)
{
    for (size_t i = 0; i < clip->n_layers; i++) {
        wl_layer_clip *l = &clip->layers[i];
        for (size_t k = 0; k < l->n_packets; k++)
            weir_free(l->packets[k].payload);
        weir_free(l->packets);
        weir_free(l->frames);
    }
    for (size_t i = 0; i < clip->n_audio; i++)
        weir_free(clip->audio[i]);
    memset(clip, 0, sizeof *clip);
}

void wl_trailer_write(uint8_t *p, uint32_t seq, uint64_t send_ns)
{
    uint32_t m = WL_TRAILER_MAGIC;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(m >> (24 - 8 * i));
    for (int i = 0; i < 4; i++)
        p[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        p[8 + i] = (uint8_t)(send_ns >> (56 - 8 * i));
}

bool wl_trailer_read(const uint8_t *payload, size_t len, uint32_t *seq, uint64_t *send_ns)
{
    if (len < WL_TRAILER_LEN)
        return false;
    const uint8_t *p = payload + len - WL_TRAILER_LEN;
    uint32_t m = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (m != WL_TRAILER_MAGIC)
        return false;
    *seq = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | p[8 + i];
    *send_ns = t;
    return true;
}

bool wl_rtp_payload(const uint8_t *pkt, size_t len, size_t *off, size_t *plen)
{
    if (len < 12 || (pkt[0] >> 6) != 2)
        return false;
    size_t o = 12 + 4 * (size_t)(pkt[0] & 0x0F);
    if (pkt[0] & 0x10) {
        if (len < o + 4)
            return false;
        o += 4 + 4 * (size_t)(pkt[o + 2] << 8 | pkt[o + 3]);
    }
    if (o > len)
        return false;
    size_t end = len;
    if (pkt[0] & 0x20) {
        uint8_t pad = pkt[len - 1];
        if (pad == 0 || pad > len - o)
            return false;
        end -= pad;
    }
    *off = o;
    *plen = end - o;
    return true;
}
