/*
 * libFuzzer target for the recorder's frame assembler (plugins/recorder/
 * frame_assembler.c and depacketize_*.c, h264_sps.c).
 *
 * Input: one codec selector byte (Opus, VP8, VP9, H.264: value % 4), then
 * packets, each as a 2-byte big-endian length, one byte of time step
 * (milliseconds), and that many bytes of RTP. Every packet is pushed with
 * the clock advanced by its step and followed by polling everything ready;
 * at the end the track is flushed and drained. A small reorder buffer and
 * frame limit make the overflow and too-large paths reachable.
 *
 * Checks: no crash or leak (ASan), frames within the size limit, keyframe
 * sizes only on keyframes, nothing left after flush, and the counters add
 * up (frames out equals what poll returned).
 */
#include <stdlib.h>

#include "frame_assembler.h"
#include "weir/errors.h"

#define MAX_PACKETS 24
#define MAX_FRAME 8192

static int64_t drain(wrec_assembler *a, int64_t now_us)
{
    int64_t n = 0;
    wrec_frame f;
    while (wrec_assembler_poll(a, now_us, &f) == 1) {
        if (f.len > MAX_FRAME || (f.len > 0 && !f.data))
            abort();
        if (!f.keyframe && (f.width || f.height))
            abort();
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    wrec_assembler_config cfg = {
        .codec = (wrec_codec)(data[0] % 4),
        .max_wait_us = 50000,
        .max_packets = MAX_PACKETS,
        .max_frame_bytes = MAX_FRAME,
    };
    wrec_assembler *a = wrec_assembler_create(&cfg);
    if (!a)
        abort();
    int64_t now_us = 0, frames = 0;
    size_t off = 1;
    while (size - off >= 3) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        now_us += (int64_t)data[off + 2] * 1000;
        off += 3;
        if (len > size - off)
            len = size - off;
        int rc = wrec_assembler_push(a, data + off, len, now_us, 0, now_us);
        if (rc != 0 && rc != -WEIR_EINVAL)
            abort();
        off += len;
        frames += drain(a, now_us);
        (void)wrec_assembler_take_keyframe_request(a);
    }
    wrec_assembler_flush(a);
    frames += drain(a, now_us);
    wrec_frame f;
    if (wrec_assembler_poll(a, now_us + 10000000, &f) != 0)
        abort(); /* everything was given up or output */
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    if (st.frames_out != (uint64_t)frames)
        abort();
    const uint8_t *avcc;
    size_t avcc_len;
    if (wrec_assembler_h264_avcc(a, &avcc, &avcc_len) == 0 &&
        (cfg.codec != WREC_CODEC_H264 || avcc_len < 11 || avcc[0] != 1))
        abort();
    wrec_assembler_destroy(a);
    return 0;
}
