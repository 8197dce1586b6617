/**
 * The bookkeeping behind weir-client's data-channel checks, kept pure (no
 * I/O, no clock: times are parameters) so a unit test can feed it frames by
 * hand. datachannel.c owns one wc_dc_rx per open channel and one wc_dc_own
 * for the ops it sends.
 *
 * wc_dc_rx classifies every frame received on one channel
 * (docs/protocol.md, Data channels):
 *   - stamped: a text frame {"seq": N, "from": "<id>", "ts": <ms>, "data": ...}
 *     (whiteboard, chat). Seqs must be strictly increasing with no gap
 *     between consecutive ones; the first one may be anything (a clear
 *     empties the history and seqs are never reused);
 *   - error: a text frame {"error": {"code": C, ...}} (403, 413, 415, 429);
 *   - relayed: anything else, binary included (other labels).
 * A stamped message with ts before the wall time at which we opened the
 * channel was stamped before we were there: it is history, and all history
 * must arrive first, as one prefix, before any live message.
 *
 * wc_dc_own remembers when each of our ops (counter n = 1, 2, ...) was sent;
 * a stamped message from us whose data.n is k is the echo of op k and gives
 * one latency sample (send to echo).
 */
#ifndef WC_DC_TRACK_H
#define WC_DC_TRACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WC_DC_MAX_ERROR_CODES 8

/* A growable list of samples (µs), for percentiles at the end. */
typedef struct wc_dc_samples {
    int64_t *v;
    size_t n, cap;
} wc_dc_samples;

void wc_dc_samples_add(wc_dc_samples *s, int64_t value);
/** The pct-th percentile (0..100, nearest rank) or 0 when empty. Sorts s->v in place. */
int64_t wc_dc_samples_percentile(wc_dc_samples *s, double pct);
void wc_dc_samples_free(wc_dc_samples *s);

typedef struct wc_dc_own {
    uint64_t planned; /* ops the script will send: n in 1..planned */
    /* owned: */
    int64_t *sent_us; /* [n - 1]; 0 = not sent yet */
    uint8_t *echoed;  /* [n - 1] */
    wc_dc_samples latency_us;
    /* counters: */
    uint64_t sent;
    uint64_t echoed_count;
    uint64_t duplicates;   /* an op echoed twice */
    uint64_t out_of_order; /* an echo with n below the previous one */
    uint64_t unknown;      /* an echo naming an n we never sent */
    uint64_t last_echo_n;
} wc_dc_own;

void wc_dc_own_init(wc_dc_own *o, uint64_t planned);
void wc_dc_own_deinit(wc_dc_own *o);
/** Op n (1..planned) went out at now_us. Out-of-range n is ignored. */
void wc_dc_own_sent(wc_dc_own *o, uint64_t n, int64_t now_us);
/** {"sent", "echoed", "missing", "duplicates", "out_of_order", "latency_ms": {...}} */
json_t *wc_dc_own_report(wc_dc_own *o);

typedef enum {
    WC_DC_FRAME_STAMPED,
    WC_DC_FRAME_ERROR,
    WC_DC_FRAME_RELAYED,
} wc_dc_frame_kind;

typedef struct wc_dc_error_count {
    int code;
    uint64_t count;
} wc_dc_error_count;

typedef struct wc_dc_rx {
    int64_t open_us;      /* monotonic time the channel was opened */
    int64_t open_wall_ms; /* the same instant, unix ms (compared with the server's ts) */
    /* counters: */
    uint64_t frames, binary, bytes;
    uint64_t stamped, relayed, error_frames;
    wc_dc_error_count errors[WC_DC_MAX_ERROR_CODES];
    size_t n_errors;
    int64_t first_seq, last_seq; /* -1 before the first stamped message */
    uint64_t gaps;               /* seqs missing between consecutive stamped messages */
    uint64_t order_errors;       /* a seq not above the previous one */
    uint64_t history;            /* stamped before we opened */
    uint64_t history_late;       /* history that came after a live message */
    int64_t history_done_us;     /* when the last history message arrived; 0 = none */
    bool live_seen;
} wc_dc_rx;

void wc_dc_rx_init(wc_dc_rx *rx, int64_t open_us, int64_t open_wall_ms);

/**
 * One received frame (borrowed). own may be NULL; self_id is our
 * participant id (stamped messages "from" it are echoes of our ops).
 * Returns what the frame was.
 */
wc_dc_frame_kind wc_dc_rx_frame(wc_dc_rx *rx, wc_dc_own *own, const char *self_id, bool binary,
                                const uint8_t *data, size_t len, int64_t now_us);

/** The count of error frames with this code. */
uint64_t wc_dc_rx_errors(const wc_dc_rx *rx, int code);

/**
 * Adds the channel's figures to obj: frames, stamped, relayed, binary,
 * first_seq, last_seq (null when none), gaps, order_errors, history,
 * history_late, history_ms (null when no history), error_frames,
 * errors {"<code>": count}.
 */
void wc_dc_rx_report(const wc_dc_rx *rx, json_t *obj);

#endif
