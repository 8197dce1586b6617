/*
 * weir-pattern-read: reads weir-client's test pattern (tools/weir-client/
 * pattern.h) back from raw decoded video, so tests that decode Weir's output
 * with another program (ffmpeg or GStreamer reading a tap) check the content
 * with the very code weir-client uses, not a copy of its layout.
 *
 *   weir-pattern-read WIDTH HEIGHT [FILE]     (FILE or stdin: raw I420 frames)
 *
 * Prints one line per frame: "INDEX FRAME_NUMBER SEND_MS", or "INDEX -" when
 * the pattern does not read back (bad sync byte or CRC: a content error).
 * Exit status 0 when every frame was read whole, 2 on a usage or I/O error
 * (a truncated last frame is an I/O error: the decoder wrote less than a
 * picture).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

static int usage(void)
{
    fprintf(stderr, "usage: weir-pattern-read WIDTH HEIGHT [FILE]  (raw I420 frames)\n");
    return 2;
}

static int parse_dim(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 8192)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    int width, height;
    if (argc < 3 || argc > 4 || parse_dim(argv[1], &width) < 0 || parse_dim(argv[2], &height) < 0)
        return usage();
    FILE *in = stdin;
    if (argc == 4 && !(in = fopen(argv[3], "rb"))) {
        fprintf(stderr, "weir-pattern-read: %s: %s\n", argv[3], strerror(errno));
        return 2;
    }
    size_t luma = (size_t)width * (size_t)height;
    size_t frame = luma + 2 * ((size_t)(width + 1) / 2) * ((size_t)(height + 1) / 2);
    unsigned char *buf = malloc(frame);
    if (!buf)
        return 2;
    int rc = 0;
    for (unsigned long index = 0;; index++) {
        size_t got = fread(buf, 1, frame, in);
        if (got == 0)
            break;
        if (got < frame) {
            fprintf(stderr, "weir-pattern-read: frame %lu truncated (%zu of %zu bytes)\n", index,
                    got, frame);
            rc = 2;
            break;
        }
        wc_pattern_info info;
        if (wc_pattern_read(buf, width, width, height, &info) == 0)
            printf("%lu %u %u\n", index, info.frame_number, info.send_ms);
        else
            printf("%lu -\n", index);
    }
    free(buf);
    if (in != stdin)
        fclose(in);
    return rc;
}
