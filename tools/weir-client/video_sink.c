#include "video_sink.h"

#include <stdlib.h>
#include <string.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "weir/alloc.h"
#include "weir/errors.h"

#define FREEZE_EXTRA_MS 150

void wc_video_stats_init(wc_video_stats *st)
{
    memset(st, 0, sizeof *st);
}

void wc_video_stats_deinit(wc_video_stats *st)
{
    weir_free(st->latency_ms);
    memset(st, 0, sizeof *st);
}

static void add_latency(wc_video_stats *st, int32_t ms)
{
    if (st->n_latency == st->cap_latency) {
        st->cap_latency = st->cap_latency ? st->cap_latency * 2 : 256;
        st->latency_ms = weir_realloc(st->latency_ms, st->cap_latency * sizeof(int32_t));
    }
    st->latency_ms[st->n_latency++] = ms;
}

static void account_gap(wc_video_stats *st, int64_t recv_ms)
{
    int64_t gap = recv_ms - st->last_ms;
    if (gap > st->max_gap_ms)
        st->max_gap_ms = gap;
    /* Mean over the gaps before this one (frames_decoded - 1 of them). */
    uint64_t n_gaps = st->frames_decoded - 1;
    if (n_gaps > 0) {
        double mean = (double)(st->last_ms - st->first_ms) / (double)n_gaps;
        double limit = 3 * mean > mean + FREEZE_EXTRA_MS ? 3 * mean : mean + FREEZE_EXTRA_MS;
        if ((double)gap > limit) {
            st->freezes++;
            if (gap > st->max_freeze_ms)
                st->max_freeze_ms = gap;
        }
    }
}

void wc_video_stats_add(wc_video_stats *st, int64_t recv_wall_ms, int width, int height,
                        const wc_pattern_info *info)
{
    if (st->frames_decoded == 0)
        st->first_ms = recv_wall_ms;
    else
        account_gap(st, recv_wall_ms);
    st->frames_decoded++;
    st->last_ms = recv_wall_ms;
    st->width = width;
    st->height = height;
    if (!info) {
        st->content_errors++;
        return;
    }
    if (st->have_last) {
        if (info->frame_number < st->last_frame_number)
            st->order_errors++;
        else if (info->frame_number == st->last_frame_number)
            st->frames_repeated++;
        else
            st->frames_skipped += info->frame_number - st->last_frame_number - 1;
    }
    st->have_last = true;
    st->last_frame_number = info->frame_number;
    add_latency(st, (int32_t)((uint32_t)recv_wall_ms - info->send_ms));
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int32_t rank(const int32_t *sorted, size_t n, int pct)
{
    size_t r = (n * (size_t)pct + 99) / 100; /* nearest rank, 1-based */
    return sorted[r > 0 ? r - 1 : 0];
}

void wc_video_stats_latency(const wc_video_stats *st, wc_latency_summary *out)
{
    memset(out, 0, sizeof *out);
    if (st->n_latency == 0)
        return;
    int32_t *v = weir_malloc(st->n_latency * sizeof *v);
    memcpy(v, st->latency_ms, st->n_latency * sizeof *v);
    qsort(v, st->n_latency, sizeof *v, cmp_i32);
    out->n = st->n_latency;
    out->p50 = rank(v, st->n_latency, 50);
    out->p95 = rank(v, st->n_latency, 95);
    out->max = v[st->n_latency - 1];
    weir_free(v);
}

struct wc_video_decoder {
    vpx_codec_ctx_t codec;
};

wc_video_decoder *wc_video_decoder_create(void)
{
    wc_video_decoder *d = WEIR_NEW(wc_video_decoder);
    vpx_codec_dec_cfg_t cfg = {.threads = 1};
    if (vpx_codec_dec_init(&d->codec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
        weir_free(d);
        return NULL;
    }
    return d;
}

void wc_video_decoder_destroy(wc_video_decoder *d)
{
    if (!d)
        return;
    vpx_codec_destroy(&d->codec);
    weir_free(d);
}

int wc_video_decoder_decode(wc_video_decoder *d, const uint8_t *data, size_t len, int *width,
                            int *height, wc_pattern_info *info, bool *info_ok)
{
    if (len == 0 || vpx_codec_decode(&d->codec, data, (unsigned)len, NULL, 0) != VPX_CODEC_OK)
        return -WEIR_EINVAL;
    vpx_codec_iter_t iter = NULL;
    vpx_image_t *img = vpx_codec_get_frame(&d->codec, &iter);
    if (!img)
        return 0;
    *width = (int)img->d_w;
    *height = (int)img->d_h;
    *info_ok = wc_pattern_read(img->planes[VPX_PLANE_Y], img->stride[VPX_PLANE_Y], (int)img->d_w,
                               (int)img->d_h, info) == 0;
    while (vpx_codec_get_frame(&d->codec, &iter))
        ;
    return 1;
}
