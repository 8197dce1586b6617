/**
 * Keyframe requests toward a publisher for one published video track:
 * aggregates the requests of any number of subscribers (and of the NACK
 * generator, when a loss is unrecoverable) into few PLIs (RFC 4585 §6.3.1),
 * or FIRs (RFC 5104 §4.3.1) when PLI was not negotiated, per simulcast
 * layer (one SSRC each).
 *
 * Per layer:
 *  - A request while none is waiting or in flight makes one due at once,
 *    but never sooner than interval_us after the previous one for that
 *    layer, nor within hold_us after a keyframe of that layer arrived (a
 *    subscriber asking then has usually not seen that keyframe yet; the
 *    request waits rather than being dropped).
 *  - Requests while one is waiting or in flight (sent, no keyframe yet) are
 *    merged into it (suppressed): the coming keyframe serves them all.
 *  - A keyframe clears what is waiting and in flight.
 *  - A request in flight without a keyframe for retry_us is sent again, at
 *    most max_retries times (a lost PLI; or a layer the publisher paused).
 *  - FIR sequence numbers count per layer: +1 for each new request, the same
 *    number again for a retry (RFC 5104 §4.3.1.1).
 *  - Times earlier than the latest one seen are taken as the latest.
 *
 * Pure, sans-IO, no allocation: embed it (init, no deinit). The struct is
 * public only so it can be embedded: treat its fields as private.
 */
#ifndef WEIR_RTC_KEYFRAME_REQUESTER_H
#define WEIR_RTC_KEYFRAME_REQUESTER_H

#include <stdbool.h>
#include <stdint.h>

#define WEIR_KEYFRAME_REQUESTER_MAX_LAYERS 4
#define WEIR_KEYFRAME_REQUESTER_DEFAULT_INTERVAL_US 300000
#define WEIR_KEYFRAME_REQUESTER_DEFAULT_HOLD_US 100000
#define WEIR_KEYFRAME_REQUESTER_DEFAULT_RETRY_US 1000000
#define WEIR_KEYFRAME_REQUESTER_DEFAULT_MAX_RETRIES 2
#define WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT INT64_MAX

typedef struct weir_keyframe_requester_config {
    uint8_t n_layers;     /* 1..WEIR_KEYFRAME_REQUESTER_MAX_LAYERS */
    bool use_fir;         /* PLI not negotiated: send FIR */
    int64_t interval_us;  /* between two requests of a layer; 0: default (300 ms) */
    int64_t hold_us;      /* after a keyframe of the layer; 0: default (100 ms), < 0: none */
    int64_t retry_us;     /* in flight that long without keyframe: again; 0: default (1 s) */
    uint32_t max_retries; /* 0: default (2); use retry_us to space them */
} weir_keyframe_requester_config;

typedef struct weir_keyframe_requester_stats {
    uint64_t requested;  /* request() calls accepted */
    uint64_t sent;       /* PLIs / FIRs handed out by poll, retries included */
    uint64_t suppressed; /* requests merged into one waiting or in flight */
    uint64_t retries;    /* of those sent, repeats of a request in flight */
    uint64_t keyframes;  /* keyframe_seen() calls */
} weir_keyframe_requester_stats;

typedef struct weir_keyframe_requester_layer {
    bool waiting;   /* a request to send */
    bool in_flight; /* sent, no keyframe since */
    bool is_retry;  /* waiting is a repeat of the one in flight */
    uint8_t retries;
    uint8_t fir_seq;      /* of the last new request sent */
    uint8_t fir_next;     /* for the next new request */
    int64_t last_sent_us; /* INT64_MIN: never */
    int64_t last_keyframe_us;
} weir_keyframe_requester_layer;

typedef struct weir_keyframe_requester {
    /* config: */
    weir_keyframe_requester_config cfg;
    /* state (private): */
    int64_t last_now_us;
    weir_keyframe_requester_layer layers[WEIR_KEYFRAME_REQUESTER_MAX_LAYERS];
    weir_keyframe_requester_stats stats;
} weir_keyframe_requester;

/** Returns 0, or -WEIR_EINVAL for a bad n_layers (then *r is unchanged). */
int weir_keyframe_requester_init(weir_keyframe_requester *r,
                                 const weir_keyframe_requester_config *cfg);

/** Someone needs a keyframe of layer. 0, or -WEIR_EINVAL for a bad layer (nothing changed). */
int weir_keyframe_requester_request(weir_keyframe_requester *r, uint8_t layer, int64_t now_us);

/** A keyframe of layer arrived from the publisher. A bad layer is ignored. */
void weir_keyframe_requester_keyframe_seen(weir_keyframe_requester *r, uint8_t layer,
                                           int64_t now_us);

/**
 * The next request due at now_us: returns 1 with *layer, *use_fir and
 * *fir_seq (meaningful for FIR only) set; the caller writes a PLI or an FIR
 * for that layer's SSRC. 0 when none is due (outputs untouched). Call again
 * until 0: several layers may be due.
 */
int weir_keyframe_requester_poll(weir_keyframe_requester *r, int64_t now_us, uint8_t *layer,
                                 bool *use_fir, uint8_t *fir_seq);

/** When poll has work; WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT when none. */
int64_t weir_keyframe_requester_next_timeout(const weir_keyframe_requester *r);

/** Counters since init, all layers. */
weir_keyframe_requester_stats weir_keyframe_requester_get_stats(const weir_keyframe_requester *r);

#endif
