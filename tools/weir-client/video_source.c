#include "video_source.h"

#include <stdio.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "weir/alloc.h"
#include "weir/errors.h"

struct wc_video_source {
    int width, height, fps;
    int64_t pts;
    /* owned: */
    vpx_codec_ctx_t codec;
    vpx_image_t img;
    uint8_t *out;
    size_t out_cap;
};

wc_video_source *wc_video_source_create(int width, int height, int fps, int bitrate_kbps, char *err,
                                        size_t err_len)
{
    if (wc_pattern_block_size(width, height) == 0 || fps <= 0 || bitrate_kbps <= 0) {
        snprintf(err, err_len, "video %dx%d@%d: too small for the test pattern", width, height,
                 fps);
        return NULL;
    }
    vpx_codec_enc_cfg_t cfg;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
        snprintf(err, err_len, "vpx_codec_enc_config_default failed");
        return NULL;
    }
    cfg.g_w = (unsigned)width;
    cfg.g_h = (unsigned)height;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = fps;
    cfg.g_threads = 1;
    cfg.g_lag_in_frames = 0;
    cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = (unsigned)bitrate_kbps;
    cfg.rc_min_quantizer = 2;
    cfg.rc_max_quantizer = 52;
    cfg.rc_undershoot_pct = 100;
    cfg.rc_overshoot_pct = 15;
    cfg.rc_buf_initial_sz = 500;
    cfg.rc_buf_optimal_sz = 600;
    cfg.rc_buf_sz = 1000;
    cfg.rc_dropframe_thresh = 0;   /* every frame number must reach the wire */
    cfg.kf_mode = VPX_KF_DISABLED; /* keyframes on request only, like libwebrtc */

    wc_video_source *s = WEIR_NEW(wc_video_source);
    s->width = width;
    s->height = height;
    s->fps = fps;
    if (vpx_codec_enc_init(&s->codec, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
        snprintf(err, err_len, "vpx_codec_enc_init: %s", vpx_codec_error(&s->codec));
        weir_free(s);
        return NULL;
    }
    vpx_codec_control(&s->codec, VP8E_SET_CPUUSED, -6);
    vpx_codec_control(&s->codec, VP8E_SET_STATIC_THRESHOLD, 1);
    vpx_codec_control(&s->codec, VP8E_SET_NOISE_SENSITIVITY, 0);
    vpx_codec_control(&s->codec, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION);
    if (!vpx_img_alloc(&s->img, VPX_IMG_FMT_I420, (unsigned)width, (unsigned)height, 16)) {
        snprintf(err, err_len, "vpx_img_alloc failed");
        vpx_codec_destroy(&s->codec);
        weir_free(s);
        return NULL;
    }
    s->out_cap = 256 * 1024;
    s->out = weir_malloc(s->out_cap);
    return s;
}

void wc_video_source_destroy(wc_video_source *s)
{
    if (!s)
        return;
    vpx_img_free(&s->img);
    vpx_codec_destroy(&s->codec);
    weir_free(s->out);
    weir_free(s);
}

int wc_video_source_encode(wc_video_source *s, const wc_pattern_info *info, bool force_keyframe,
                           wc_encoded_frame *out)
{
    return wc_video_source_encode_flash(s, info, false, force_keyframe, out);
}

int wc_video_source_encode_flash(wc_video_source *s, const wc_pattern_info *info, bool flash,
                                 bool force_keyframe, wc_encoded_frame *out)
{
    wc_i420 pic = {
        .y = s->img.planes[VPX_PLANE_Y],
        .u = s->img.planes[VPX_PLANE_U],
        .v = s->img.planes[VPX_PLANE_V],
        .y_stride = s->img.stride[VPX_PLANE_Y],
        .u_stride = s->img.stride[VPX_PLANE_U],
        .v_stride = s->img.stride[VPX_PLANE_V],
        .width = s->width,
        .height = s->height,
    };
    if (wc_pattern_draw_flash(&pic, info, flash) < 0)
        return -WEIR_EINVAL;
    vpx_enc_frame_flags_t flags = force_keyframe ? VPX_EFLAG_FORCE_KF : 0;
    if (vpx_codec_encode(&s->codec, &s->img, s->pts++, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK)
        return -WEIR_EIO;
    int got = 0;
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    while ((pkt = vpx_codec_get_cx_data(&s->codec, &iter)) != NULL) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || got)
            continue;
        if (pkt->data.frame.sz > s->out_cap) {
            s->out_cap = pkt->data.frame.sz * 2;
            s->out = weir_realloc(s->out, s->out_cap);
        }
        memcpy(s->out, pkt->data.frame.buf, pkt->data.frame.sz);
        out->data = s->out;
        out->len = pkt->data.frame.sz;
        out->keyframe = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
        got = 1;
    }
    return got;
}

int wc_video_source_width(const wc_video_source *s)
{
    return s->width;
}

int wc_video_source_height(const wc_video_source *s)
{
    return s->height;
}
