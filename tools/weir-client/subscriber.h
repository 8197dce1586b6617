/**
 * The subscriber side of weir-client: Weir offers (notification `offer`),
 * we answer (`answer`) with opus and VP8 (+RTX) recvonly, DTLS client, and
 * trickle with pc "subscriber". Every later `offer` renegotiates on the same
 * transport (tracks added or removed).
 *
 * Per received track: video goes through the VP8 depacketizer (NACK for
 * holes, RTX unwrapped, PLI when a frame cannot be decoded or after a gap)
 * into libvpx and the pattern reader (video_sink.h); audio is decoded by
 * libopus (losses counted from sequence gaps and concealed). Packets are
 * routed by the SSRCs the offer announces, else learnt from the mid header
 * extension.
 */
#ifndef WC_SUBSCRIBER_H
#define WC_SUBSCRIBER_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "peer/dtls.h"
#include "signalling.h"

typedef struct wc_subscriber wc_subscriber;

typedef struct wc_subscriber_config {
    const char *const *bind_addresses;
    size_t n_bind_addresses;
    const char *fingerprint; /* ours, "sha-256 AB:..." */
    double simulated_loss_pct;
} wc_subscriber_config;

typedef struct wc_subscriber_callbacks {
    /* Negotiation or the connection failed; why is borrowed for the call. */
    void (*on_failed)(void *user, const char *why);
} wc_subscriber_callbacks;

/** Everything borrowed must outlive the subscriber. Never fails. */
wc_subscriber *wc_subscriber_create(GMainContext *ctx, weir_dtls_ctx *dctx, wc_sig *sig,
                                    const wc_subscriber_config *cfg,
                                    const wc_subscriber_callbacks *cb, void *user);
void wc_subscriber_destroy(wc_subscriber *s);

/** Notification `offer` (params borrowed). */
void wc_subscriber_handle_offer(wc_subscriber *s, json_t *params);
/** Notification `trickle` for pc "subscriber": candidate object or null (borrowed). */
void wc_subscriber_handle_trickle(wc_subscriber *s, json_t *candidate);
/** A track from `join`'s tracks or `track_published` (borrowed): names tracks in the report. */
void wc_subscriber_note_track(wc_subscriber *s, json_t *track);

/** The "subscribed" part of the report: an array (new reference). */
/** ICE restarts the server started on the subscriber PC (re-offers with new credentials). */
unsigned wc_subscriber_ice_restarts(const wc_subscriber *s);
json_t *wc_subscriber_report(const wc_subscriber *s);

#endif
