/**
 * The media weir-load sends, built once at start so that sending costs a
 * copy and an encryption: a few seconds of VP8 per layer, encoded with
 * libvpx (weir-client's video source: test pattern, realtime CBR) and
 * packetized (RFC 7741), plus one second of Opus, all looped. The first
 * frame of a loop is a keyframe, so the loop seam is decodable and a
 * keyframe request is served by restarting the loop.
 *
 * Every RTP payload ends with a 16-byte trailer, WL_TRAILER_MAGIC, a
 * per-stream sequence number and the send time (CLOCK_REALTIME ns, the
 * clock of the kernel's SO_TIMESTAMPNS receive stamps; the tool and the
 * server share the host), so subscribers measure latency
 * through the server and count gaps without decoding. A decoding
 * subscriber strips it first.
 */
#ifndef WL_MEDIA_H
#define WL_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_MAX_LAYERS 3
#define WL_TRAILER_LEN 16
#define WL_TRAILER_MAGIC 0x574c4431u /* "WLD1" */
#define WL_MAX_PAYLOAD 1100          /* VP8 payload before the trailer */
#define WL_PT_OPUS 111
#define WL_PT_VP8 96
#define WL_RTP_MAX 1500

typedef struct wl_packet {
    uint8_t *payload; /* VP8 descriptor + data (trailer not included) */
    uint16_t len;
    bool marker;
} wl_packet;

typedef struct wl_frame {
    uint32_t first; /* index into packets */
    uint32_t count;
    bool keyframe;
} wl_frame;

typedef struct wl_layer_clip {
    const char *rid; /* "q", "h", "f"; NULL without simulcast */
    int width, height, kbps;
    wl_frame *frames;
    size_t n_frames;
    wl_packet *packets;
    size_t n_packets;
    uint64_t bytes;
} wl_layer_clip;

typedef struct wl_clip {
    wl_layer_clip layers[WL_MAX_LAYERS];
    size_t n_layers;
    uint8_t *audio[50]; /* one second of 20 ms Opus frames */
    uint16_t audio_len[50];
    size_t n_audio;
} wl_clip;

/**
 * Encodes frames frames per layer: one layer width x height at kbps, or
 * with simulcast three (quarter, half, full size; kbps/8, kbps/3, kbps).
 * Returns 0, or -WEIR_EIO with a reason in err.
 */
int wl_clip_build(wl_clip *clip, bool simulcast, int width, int height, int fps, int kbps,
                  int frames, char *err, size_t err_len);
void wl_clip_free(wl_clip *clip);

/** Writes the trailer at p (16 bytes). */
void wl_trailer_write(uint8_t *p, uint32_t seq, uint64_t send_ns);
/** Reads a trailer at the end of payload[0..len); returns false when there is none. */
bool wl_trailer_read(const uint8_t *payload, size_t len, uint32_t *seq, uint64_t *send_ns);

/**
 * Finds the payload of a plain RTP packet (after CSRCs, extension,
 * before padding). Returns false when malformed.
 */
bool wl_rtp_payload(const uint8_t *pkt, size_t len, size_t *off, size_t *plen);

#endif
