/**
 * Frame assembly for the recorder: turns one track's RTP packets (as the
 * server forwards them: possibly reordered, duplicated, late because they
 * were retransmitted, or lost) into whole codec frames, in order.
 *
 * - A small reorder buffer keyed by the extended (unwrapped) sequence number.
 * - A video frame is the packets with one RTP timestamp, from a frame start
 *   (payload descriptor) to the marker bit, without a gap; an audio (Opus)
 *   frame is one packet.
 * - A missing packet is waited for up to max_wait_us after a later packet
 *   arrived (the server NACKs the publisher, retransmissions come late);
 *   then the assembler gives up on it: the incomplete frame is dropped and,
 *   for video, every frame after it until the next keyframe (a decoder could
 *   not use them: "no broken frames" in the file), and a keyframe is requested.
 * - Payload descriptors are removed: the frame is the codec bitstream a
 *   container stores (VP8/VP9 frame, Opus packet; H.264 as AVCC length-prefixed
 *   NAL units with SPS/PPS collected for the container's codec private).
 *
 * Pure (sans-IO): no clock, no I/O; time is passed in. Memory is bounded by
 * max_packets and max_frame_bytes given at creation.
 *
 * Details the rules above leave open:
 * - Packets are consumed in sequence order from a head; a packet older than
 *   the head (output or given up) is counted as too_old. Until the first
 *   frame is consumed, a packet a little older than the first one received
 *   moves the head back (reordering at the very start).
 * - While waiting for a keyframe, packets are kept (an earlier keyframe
 *   start may still arrive late) and dropped when one is found, or when the
 *   buffer is full.
 * - A packet beyond head + max_packets makes room by giving up the oldest
 *   slots (gaps_given_up, frames_dropped; video then waits for a keyframe).
 * - A packet with an empty payload (RTP padding, a bandwidth probe) fills
 *   its sequence number and is skipped.
 * - 32 packets in a row far behind the head (more than max_packets) mean the
 *   sender restarted its sequence numbers: the assembler starts over there.
 * - ext_ts: the first frame output has wrap count 0 (a value that would be
 *   below 0 is given as 0).
 * - Opus frames are always keyframes (every packet decodes on its own).
 * - A frame that fails to assemble (an H.264 FU-A that never ends) or is
 *   larger than max_frame_bytes is dropped like a lost one.
 * - After flush(), a last frame without its marker is dropped too.
 */
#ifndef WREC_FRAME_ASSEMBLER_H
#define WREC_FRAME_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum wrec_codec {
    WREC_CODEC_OPUS,
    WREC_CODEC_VP8,
    WREC_CODEC_VP9,
    WREC_CODEC_H264,
} wrec_codec;

typedef struct wrec_assembler wrec_assembler;

typedef struct wrec_assembler_config {
    wrec_codec codec;
    int64_t max_wait_us;    /* how long a gap is waited for (e.g. 300000) */
    size_t max_packets;     /* reorder buffer capacity (e.g. 512) */
    size_t max_frame_bytes; /* larger frames are dropped (e.g. 4 MiB) */
} wrec_assembler_config;

typedef struct wrec_frame {
    const uint8_t *data; /* borrowed: valid until the next push/poll/destroy */
    size_t len;
    uint64_t ext_ts; /* extended (unwrapped) RTP timestamp, first frame's wrap count 0 */
    bool keyframe;
    int64_t arrival_us;   /* arrival of the frame's last packet */
    uint64_t capture_ntp; /* from the first of its packets that carried one; 0 = none */
    uint16_t width,
        height; /* keyframes, when the bitstream says (VP8 always, VP9 when present, H.264 from SPS); else 0 */
} wrec_frame;

typedef struct wrec_assembler_stats {
    uint64_t packets_in, duplicates, too_old, malformed;
    uint64_t frames_out, frames_dropped, gaps_given_up, keyframe_requests;
} wrec_assembler_stats;

/** NULL for a bad config (unknown codec, zero capacity). */
wrec_assembler *wrec_assembler_create(const wrec_assembler_config *cfg);
void wrec_assembler_destroy(wrec_assembler *a);

/**
 * One RTP packet (borrowed; copied). 0, or -WEIR_EINVAL for a packet that is
 * not RTP or whose payload descriptor is malformed (counted, ignored).
 */
int wrec_assembler_push(wrec_assembler *a, const uint8_t *rtp, size_t len, int64_t arrival_us,
                        uint64_t capture_ntp, int64_t now_us);
/**
 * The next complete frame in order: 1 and *out, or 0 when none is ready yet
 * (a gap younger than max_wait_us blocks what follows it).
 */
int wrec_assembler_poll(wrec_assembler *a, int64_t now_us, wrec_frame *out);
/** Gives up on every gap now (end of track): what follows becomes available to poll. */
void wrec_assembler_flush(wrec_assembler *a);
/** True once per request: the track needs a keyframe. True initially for video. */
bool wrec_assembler_take_keyframe_request(wrec_assembler *a);
/**
 * H.264 only: the AVCDecoderConfigurationRecord (avcC) built from the newest
 * SPS and PPS seen; 0 with *out and *len set, or -WEIR_ENOTFOUND before both were seen.
 */
int wrec_assembler_h264_avcc(const wrec_assembler *a, const uint8_t **out, size_t *len);
void wrec_assembler_stats_get(const wrec_assembler *a, wrec_assembler_stats *out);

#endif
