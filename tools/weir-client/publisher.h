/**
 * The publisher side of weir-client: the publisher peer connection (we
 * offer with `publish`, Weir answers; trickle with pc "publisher"), a
 * synthetic VP8 video (one layer, or q/h/f simulcast at 1/4, 1/2 and full
 * size, each on its own SSRC with mid + rid header extensions) and an Opus
 * tone, sent in real time once DTLS-SRTP is up.
 *
 * Feedback: PLI and FIR force a keyframe on the layer they name; generic
 * NACKs are answered from a per-layer history by RTX (RFC 4588, repaired-rid
 * on simulcast layers). An RTCP SR + SDES goes out for every stream 100 ms
 * after media starts and then each second, mapping the stream's RTP time to
 * the wall clock at its instant.
 *
 * With sync_marks_ms the video flashes and the audio beeps at the same
 * media instants (sync_marks.h) instead of the tone.
 *
 * Data channels (datachannel.h) ride on the same PC: with a wc_dc_config
 * the offer gets an application m-line, alone when neither audio nor video
 * is published, and the association starts once DTLS is up.
 */
#ifndef WC_PUBLISHER_H
#define WC_PUBLISHER_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datachannel.h"
#include "peer/dtls.h"
#include "signalling.h"

typedef struct wc_publisher wc_publisher;

typedef struct wc_publisher_config {
    bool audio;
    bool video;
    bool simulcast;
    int width, height, fps; /* of the full layer */
    const char *const *bind_addresses;
    size_t n_bind_addresses;
    const char *cname;
    const char *fingerprint; /* ours, "sha-256 AB:..." (weir_cert_fingerprint) */
    double simulated_loss_pct;
    const wc_dc_config *dc; /* NULL = no data channels; copied at create */
    uint32_t sync_marks_ms; /* 0 = the tone; else flashes + beeps every MS (sync_marks.h) */
    uint32_t stop_top_layer_after_ms; /* simulcast: the top layer stops then (0 = never) */
} wc_publisher_config;

typedef struct wc_publisher_callbacks {
    /* The publisher connection is up (SRTP keyed): media starts. */
    void (*on_connected)(void *user);
    /* Negotiation or the connection failed; why is borrowed for the call. */
    void (*on_failed)(void *user, const char *why);
} wc_publisher_callbacks;

/** Everything borrowed must outlive the publisher. NULL with a reason in err. */
wc_publisher *wc_publisher_create(GMainContext *ctx, weir_dtls_ctx *dctx, wc_sig *sig,
                                  const wc_publisher_config *cfg, const wc_publisher_callbacks *cb,
                                  void *user, char *err, size_t err_len);
void wc_publisher_destroy(wc_publisher *p);

/** Sends the offer (`publish`). */
void wc_publisher_start(wc_publisher *p);
/** A `trickle` notification for pc "publisher": candidate object or null (borrowed). */
void wc_publisher_handle_trickle(wc_publisher *p, json_t *candidate);

/** The "published" part of the report (new reference). */
json_t *wc_publisher_report(const wc_publisher *p);
/**
 * With sync marks, {"period_ms", "marks": [nominal media ms of each mark
 * whose flash or beep was sent], "media_start_wall_ms"} (new reference);
 * NULL without.
 */
json_t *wc_publisher_sync_marks_report(const wc_publisher *p);
/** Full-layer video frames and audio frames sent so far. */
uint64_t wc_publisher_video_frames(const wc_publisher *p);
uint64_t wc_publisher_audio_frames(const wc_publisher *p);
bool wc_publisher_connected(const wc_publisher *p);
/** The data channels, NULL when none were asked for. */
wc_dc *wc_publisher_dc(const wc_publisher *p);

#endif
