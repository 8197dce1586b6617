/**
 * weir-client's data channels: one SCTP association (shell/sctp.h, usrsctp)
 * over the publisher PC's DTLS session, the channels named on the command
 * line (opened by us with DCEP once the association is up), a scripted
 * sender of whiteboard stroke ops, a recorder of every received frame and
 * the checks of what comes back (dc_track.h).
 *
 * Why in weir-client: the server's data-channel contract (docs/protocol.md,
 * Data channels: stamping, history, clear, errors, flood limits,
 * backpressure) is tested end to end with real SCTP from several clients at
 * once, which browsers make slow and aiortc makes hard to script.
 *
 * Threads: everything runs on the caller's GMainContext thread. usrsctp's
 * timers run from a 5 ms GLib tick (weir_sctp_global_tick) that then drains
 * the association, so packets usrsctp produces from its timers go out
 * within that tick; the association's wake callback is therefore not
 * needed and only counts.
 *
 * Ops: {"op":"line","x":X,"y":Y,"c":"#rgb","n":N} with N = 1, 2, ... (the
 * counter that lets us find our echoes), optionally with "p" padding, sent
 * at --dc-rate per second from --dc-send-after-ms after the channel opened.
 * A send the channel's queue refuses (-WEIR_EAGAIN) is retried at the next
 * tick; the report counts it as blocked.
 */
#ifndef WC_DATACHANNEL_H
#define WC_DATACHANNEL_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pc.h"

typedef struct wc_dc wc_dc;

typedef struct wc_dc_config {
    const char *const *labels; /* channels to open (copied) */
    size_t n_labels;
    uint64_t send_ops;         /* scripted ops; 0 = none */
    double rate;               /* ops per second */
    int64_t send_after_ms;     /* from the send channel's opening */
    const char *send_label;    /* where the ops go; must be among labels when send_ops > 0 */
    size_t op_pad;             /* bytes of "p" padding per op */
    bool clear;                /* {"op":"clear"} on whiteboard after the ops */
    const char *record_path;   /* NULL = no recording */
    int64_t stall_after;       /* stop reading after N messages; -1 = never */
    int64_t expect_messages;   /* the run is done at N stamped messages (see on_done); -1 = never */
    const char *self_id;       /* our participant id (echoes of our ops come "from" it) */
    uint32_t max_message_size; /* what we accept and announce (0 = WEIR_SCTP_DEFAULT_MAX_MESSAGE) */
    /* Called once when expect_messages stamped messages arrived, every planned op was sent
     * and echoed and the clear (if any) was sent: the run may end. */
    void (*on_done)(void *user);
    void *user;
} wc_dc_config;

/**
 * Creates the channel set (nothing on the wire yet) and opens the record
 * file. NULL with a reason in err when the file cannot be created.
 * ctx is borrowed; cfg strings copied.
 */
wc_dc *wc_dc_create(GMainContext *ctx, const wc_dc_config *cfg, char *err, size_t err_len);
/** Aborts the association, flushes the record file. NULL is a no-op. */
void wc_dc_destroy(wc_dc *dc);

/**
 * The answer's application m-line: the peer's SCTP port (-1: absent, 5000)
 * and a=max-message-size (-1: absent, 64 KiB; 0: no limit).
 */
void wc_dc_set_remote(wc_dc *dc, int32_t sctp_port, int64_t max_message_size);
/** DTLS is up on pc (borrowed, must outlive dc): starts the association (we send INIT). */
int wc_dc_start(wc_dc *dc, wc_pc *pc);
/** One DTLS application-data record from pc (borrowed). */
void wc_dc_handle_packet(wc_dc *dc, const uint8_t *buf, size_t len);

/** The "datachannel" part of the report (new reference); see README.md. */
json_t *wc_dc_report(wc_dc *dc);

#endif
