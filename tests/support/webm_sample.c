/*
 * webm-sample: encodes ~3 s of VP8 (libvpx, 320x240, 30 fps, a keyframe
 * every 30 frames) and ~3 s of Opus (libopus, stereo, 20 ms frames) and
 * writes them through the recorder's WebM writer (plugins/recorder/
 * webm_writer.c) into two files, so that tests/integration/
 * test_webm_writer.py can check them with real decoders (ffprobe, ffmpeg).
 *
 * Usage: webm-sample VIDEO.webm AUDIO.webm
 * Prints one JSON object: per track the frame count, the t_ms of the first
 * and last frame, the frame duration, and the byte offsets where each
 * frame's write started and ended (the test cuts the files at such offsets).
 */
#include <errno.h>
#include <math.h>
#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "webm_writer.h"

#define VIDEO_W 320
#define VIDEO_H 240
#define VIDEO_FPS 30
#define VIDEO_FRAMES 90
#define VIDEO_KEY_EVERY 30
#define VIDEO_T0_MS 100
#define AUDIO_FRAMES 150
#define AUDIO_SAMPLES 960 /* 20 ms at 48 kHz */
#define AUDIO_T0_MS 60
#define MAX_FRAMES 200

typedef struct out_file {
    FILE *f;
    long offset;
    long starts[MAX_FRAMES], ends[MAX_FRAMES];
    int frames;
    int64_t first_ms, last_ms;
    uint64_t codec_delay_ns;
} out_file;

static int file_write(void *user, const void *buf, size_t len)
{
    out_file *o = user;
    if (fwrite(buf, 1, len, o->f) != len)
        return -EIO;
    o->offset += (long)len;
    return 0;
}

static int put_frame(wrec_webm *w, out_file *o, int64_t t_ms, bool key, const uint8_t *data,
                     size_t len)
{
    if (o->frames == MAX_FRAMES)
        return -1;
    o->starts[o->frames] = o->offset;
    int rc = wrec_webm_write_frame(w, t_ms, key, data, len);
    if (rc < 0) {
        fprintf(stderr, "webm-sample: write_frame: %d\n", rc);
        return -1;
    }
    o->ends[o->frames] = o->offset;
    if (o->frames == 0)
        o->first_ms = t_ms;
    o->last_ms = t_ms;
    o->frames++;
    return 0;
}

/* A moving gradient with a square: every frame differs, so every frame costs bits. */
static void draw(vpx_image_t *img, int n)
{
    for (int y = 0; y < VIDEO_H; y++)
        for (int x = 0; x < VIDEO_W; x++) {
            bool square =
                x >= (n * 3) % VIDEO_W && x < (n * 3) % VIDEO_W + 40 && y >= 100 && y < 140;
            img->planes[0][y * img->stride[0] + x] = square ? 235 : (uint8_t)(x + y + n * 2);
        }
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < VIDEO_H / 2; y++)
            memset(img->planes[p] + y * img->stride[p], p == 1 ? 90 + n : 160 - n, VIDEO_W / 2);
}

static int write_video(const char *path, out_file *o)
{
    vpx_codec_enc_cfg_t cfg;
    vpx_codec_ctx_t codec;
    vpx_image_t img;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        return -1;
    cfg.g_w = VIDEO_W;
    cfg.g_h = VIDEO_H;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = VIDEO_FPS;
    cfg.g_threads = 1;
    cfg.g_lag_in_frames = 0;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = 400;
    cfg.rc_dropframe_thresh = 0;
    cfg.kf_mode = VPX_KF_DISABLED; /* forced below, every VIDEO_KEY_EVERY frames */
    if (vpx_codec_enc_init(&codec, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
        return -1;
    vpx_codec_control(&codec, VP8E_SET_CPUUSED, 8);
    if (!vpx_img_alloc(&img, VPX_IMG_FMT_I420, VIDEO_W, VIDEO_H, 16))
        return -1;
    o->f = fopen(path, "wb");
    if (!o->f)
        return -1;
    wrec_webm_track track = {.video = true,
                             .codec_id = "V_VP8",
                             .width = VIDEO_W,
                             .height = VIDEO_H,
                             .name = "sample video"};
    wrec_webm_info info = {
        .title = "webm-sample", .date_utc_ms = 1700000000000, .app = "weir webm-sample"};
    wrec_webm *w = wrec_webm_create(&track, &info, file_write, o);
    int rc = w ? 0 : -1;
    for (int n = 0; n < VIDEO_FRAMES && rc == 0; n++) {
        draw(&img, n);
        vpx_enc_frame_flags_t flags = n % VIDEO_KEY_EVERY == 0 ? VPX_EFLAG_FORCE_KF : 0;
        if (vpx_codec_encode(&codec, &img, n, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
            rc = -1;
            break;
        }
        const vpx_codec_cx_pkt_t *pkt;
        vpx_codec_iter_t iter = NULL;
        int64_t t_ms = VIDEO_T0_MS + (int64_t)llround(n * 1000.0 / VIDEO_FPS);
        while (rc == 0 && (pkt = vpx_codec_get_cx_data(&codec, &iter)) != NULL) {
            if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
                continue;
            bool key = pkt->data.frame.flags & VPX_FRAME_IS_KEY;
            rc = put_frame(w, o, t_ms, key, pkt->data.frame.buf, pkt->data.frame.sz);
        }
    }
    wrec_webm_destroy(w);
    vpx_img_free(&img);
    vpx_codec_destroy(&codec);
    if (fclose(o->f) != 0)
        rc = -1;
    return rc;
}

static int write_audio(const char *path, out_file *o)
{
    int err;
    OpusEncoder *enc = opus_encoder_create(48000, 2, OPUS_APPLICATION_AUDIO, &err);
    if (!enc)
        return -1;
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));
    opus_int32 lookahead = 0;
    opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
    o->f = fopen(path, "wb");
    if (!o->f)
        return -1;
    wrec_webm_track track = {.video = false,
                             .codec_id = "A_OPUS",
                             .sample_rate = 48000,
                             .channels = 2,
                             .codec_delay_ns = (uint64_t)lookahead * 1000000000ull / 48000,
                             .seek_preroll_ns = 80000000,
                             .name = "sample audio"};
    o->codec_delay_ns = track.codec_delay_ns;
    wrec_webm *w = wrec_webm_create(&track, NULL, file_write, o);
    int rc = w ? 0 : -1;
    static opus_int16 pcm[AUDIO_SAMPLES * 2];
    uint8_t packet[1500];
    for (int n = 0; n < AUDIO_FRAMES && rc == 0; n++) {
        for (int i = 0; i < AUDIO_SAMPLES; i++) {
            double t = (double)(n * AUDIO_SAMPLES + i) / 48000.0;
            pcm[2 * i] = (opus_int16)(8000 * sin(2 * M_PI * 440 * t));
            pcm[2 * i + 1] = (opus_int16)(8000 * sin(2 * M_PI * 660 * t));
        }
        opus_int32 len = opus_encode(enc, pcm, AUDIO_SAMPLES, packet, sizeof packet);
        if (len <= 0) {
            rc = -1;
            break;
        }
        rc = put_frame(w, o, AUDIO_T0_MS + 20 * (int64_t)n, true, packet, (size_t)len);
    }
    wrec_webm_destroy(w);
    opus_encoder_destroy(enc);
    if (fclose(o->f) != 0)
        rc = -1;
    return rc;
}

static void print_track(const char *name, const out_file *o, double frame_ms, bool last)
{
    printf("\"%s\": {\"frames\": %d, \"first_t_ms\": %lld, \"last_t_ms\": %lld, "
           "\"frame_ms\": %.4f, \"codec_delay_ns\": %llu, \"size\": %ld, \"starts\": [",
           name, o->frames, (long long)o->first_ms, (long long)o->last_ms, frame_ms,
           (unsigned long long)o->codec_delay_ns, o->offset);
    for (int i = 0; i < o->frames; i++)
        printf("%s%ld", i ? ", " : "", o->starts[i]);
    printf("], \"ends\": [");
    for (int i = 0; i < o->frames; i++)
        printf("%s%ld", i ? ", " : "", o->ends[i]);
    printf("]}%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: webm-sample VIDEO.webm AUDIO.webm\n");
        return 2;
    }
    static out_file video, audio;
    if (write_video(argv[1], &video) < 0) {
        fprintf(stderr, "webm-sample: video failed\n");
        return 1;
    }
    if (write_audio(argv[2], &audio) < 0) {
        fprintf(stderr, "webm-sample: audio failed\n");
        return 1;
    }
    printf("{\n");
    print_track("video", &video, 1000.0 / VIDEO_FPS, false);
    print_track("audio", &audio, 20.0, true);
    printf("}\n");
    return 0;
}
