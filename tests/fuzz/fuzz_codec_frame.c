/*
 * libFuzzer target for proto/codec_frame.c: every input is an RTP payload
 * handed to the H.264, VP9 and AV1 frame readers. libFuzzer's buffer is
 * exactly `size` bytes, so ASan catches any read past it; a keyframe must
 * always be a frame start, and a failed call must leave its output alone.
 */
#include <stdlib.h>

#include "proto/codec_frame.h"

typedef int (*reader)(const uint8_t *, size_t, weir_frame_info *);

static void check(reader fn, const uint8_t *data, size_t size)
{
    weir_frame_info fi = {.is_keyframe = true, .frame_start = false}; /* a sentinel */
    int rc = fn(data, size, &fi);
    if (rc < 0) {
        if (!fi.is_keyframe || fi.frame_start)
            abort(); /* changed on error */
        return;
    }
    if (rc != 0 || (fi.is_keyframe && !fi.frame_start))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(weir_h264_frame_info, data, size);
    check(weir_vp9_frame_info, data, size);
    check(weir_av1_frame_info, data, size);
    return 0;
}
