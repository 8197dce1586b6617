/**
 * Sans-IO DTLS 1.2 for DTLS-SRTP (RFC 5764) and data channels (RFC 8261),
 * over OpenSSL with memory BIOs in both directions.
 *
 * One weir_dtls per peer connection. The shell feeds it datagrams whose
 * first byte is a DTLS content type (weir_dtls_is_record, RFC 7983 §7) and
 * the time, then drains weir_dtls_poll_transmit, weir_dtls_poll_event and
 * weir_dtls_poll_data until each returns 0, and arms one timer at
 * weir_dtls_next_timeout. Nothing here reads a clock or touches a socket.
 *
 * Roles (RFC 8842 §5): a=setup:active makes us the DTLS client,
 * a=setup:passive the server; as answerer to actpass we may pick either.
 * The peer is authenticated by the certificate fingerprint from its SDP
 * (RFC 8122, RFC 8827 §6.5): any self-signed certificate is accepted if its
 * digest matches. The fingerprint may arrive after the handshake started;
 * a handshake that completes first waits for it before CONNECTED.
 *
 * Timers: OpenSSL 3.0 measures the DTLS retransmission timer against
 * gettimeofday(), not against our now_us, and there is no API to feed it a
 * time. We use DTLS_set_timer_cb to choose the back-off schedule and turn
 * OpenSSL's remaining time (DTLSv1_get_timeout) into an absolute deadline on
 * the caller's clock at every call. In production the shell's monotonic
 * clock and the wall clock advance together, so the deadline is exact to
 * within the time between reading the clock and calling us. If a caller's
 * clock runs ahead of real time (a fake clock in a test), handle_timeout may
 * find OpenSSL's timer not yet expired; it then re-arms next_timeout with
 * OpenSSL's remaining time and retransmits nothing (tests that need
 * deterministic retransmission must make gettimeofday follow their clock).
 *
 * Thread safety: a weir_dtls_ctx belongs to one worker (its SSL_CTX is not
 * shared across threads), a weir_dtls to the worker that owns its peer.
 */
#ifndef WEIR_PEER_DTLS_H
#define WEIR_PEER_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/cert.h"
#include "peer/srtp.h"

#define WEIR_DTLS_DEFAULT_MTU 1200
/* RFC 6347 §4.2.4.1 suggests 1 s; WebRTC paths are short enough to start lower. */
#define WEIR_DTLS_DEFAULT_INITIAL_RTO_US 400000
#define WEIR_DTLS_MAX_RTO_US 6000000
/* Largest datagram accepted: one maximal record (2^14 plaintext + 2048 expansion + header). */
#define WEIR_DTLS_MAX_DATAGRAM (16384 + 2048 + 13)
/* Largest write: one DTLS record's plaintext (RFC 6347 §4.1). */
#define WEIR_DTLS_MAX_WRITE 16384
/* Received plaintext held for poll_data beyond this is dropped (and counted). */
#define WEIR_DTLS_MAX_QUEUED_DATA (256 * 1024)
/* next_timeout when no timer is armed. */
#define WEIR_DTLS_NO_TIMEOUT INT64_MAX

/** RFC 7983 §7: a first byte in 20..63 is DTLS. */
static inline bool weir_dtls_is_record(uint8_t first_byte)
{
    return first_byte >= 20 && first_byte <= 63;
}

typedef enum {
    WEIR_DTLS_ROLE_CLIENT, /* a=setup:active */
    WEIR_DTLS_ROLE_SERVER, /* a=setup:passive */
} weir_dtls_role;

typedef enum {
    WEIR_DTLS_STATE_NEW,
    WEIR_DTLS_STATE_HANDSHAKING,
    WEIR_DTLS_STATE_AWAIT_FINGERPRINT, /* handshake done, remote fingerprint not yet known */
    WEIR_DTLS_STATE_CONNECTED,
    WEIR_DTLS_STATE_CLOSED,
    WEIR_DTLS_STATE_FAILED,
} weir_dtls_state;

typedef enum {
    WEIR_DTLS_EVENT_CONNECTED = 1,
    WEIR_DTLS_EVENT_FAILED,
    WEIR_DTLS_EVENT_CLOSED,
} weir_dtls_event_type;

typedef enum {
    WEIR_DTLS_REASON_NONE,
    WEIR_DTLS_REASON_FINGERPRINT, /* peer certificate does not match its SDP fingerprint */
    WEIR_DTLS_REASON_NO_SRTP,     /* no common SRTP protection profile */
    WEIR_DTLS_REASON_TIMEOUT,     /* retransmissions exhausted */
    WEIR_DTLS_REASON_ALERT,       /* peer sent a fatal alert */
    WEIR_DTLS_REASON_PROTOCOL,    /* handshake error (bad message, no common cipher, ...) */
    WEIR_DTLS_REASON_PEER_CLOSE,  /* close_notify received */
    WEIR_DTLS_REASON_LOCAL_CLOSE, /* weir_dtls_close */
} weir_dtls_reason;

typedef struct weir_dtls_event {
    weir_dtls_event_type type;
    weir_dtls_reason reason; /* FAILED and CLOSED */
    char detail[120];        /* FAILED: OpenSSL's reason or ours, for a log line */
    /* CONNECTED: the negotiated profile and the exported keys, oriented from our side. */
    weir_srtp_keys keys;
} weir_dtls_event;

typedef struct weir_dtls_config {
    weir_dtls_role role;
    /* Optional: expected remote fingerprint; NULL to set it later. */
    const char *fingerprint_algorithm; /* "sha-256" (also sha-384, sha-512) */
    const char *fingerprint_hex;       /* "AB:CD:..." */
    size_t mtu;                        /* largest datagram we send; 0 = WEIR_DTLS_DEFAULT_MTU */
    int64_t initial_rto_us;            /* first retransmission timeout; 0 = default, min 50 ms */
    const char *log_id;                /* peer id for log lines (copied, truncated); may be NULL */
} weir_dtls_config;

typedef struct weir_dtls_ctx weir_dtls_ctx;
typedef struct weir_dtls weir_dtls;

/**
 * Per-worker OpenSSL context: DTLS 1.2 only, the certificate and key,
 * ECDHE-ECDSA/RSA AEAD suites, SRTP profiles AEAD_AES_128_GCM then
 * AES128_CM_SHA1_80, mutual certificate request, no session resumption (so
 * every handshake shows a certificate to check). cert is borrowed for the
 * call (the context takes its own references). NULL on failure (logged).
 */
weir_dtls_ctx *weir_dtls_ctx_create(const weir_cert *cert);
/**
 * Replaces the offered SRTP profiles, an OpenSSL list such as
 * "SRTP_AES128_CM_SHA1_80" (for peers whose GCM is broken, and for tests).
 * Affects sessions created afterwards. Returns 0 or -WEIR_EINVAL (unchanged).
 */
int weir_dtls_ctx_set_srtp_profiles(weir_dtls_ctx *ctx, const char *profiles);
/** Frees the context; sessions created from it keep it alive until they go. NULL is a no-op. */
void weir_dtls_ctx_destroy(weir_dtls_ctx *ctx);

/**
 * Creates a session in state NEW. The config's strings are copied. Returns
 * NULL on a malformed fingerprint, MTU below 256 or OpenSSL failure.
 */
weir_dtls *weir_dtls_create(weir_dtls_ctx *ctx, const weir_dtls_config *cfg);
/** Frees the session without sending anything (call weir_dtls_close first to say goodbye). */
void weir_dtls_destroy(weir_dtls *d);

/**
 * Starts the handshake: the client queues its ClientHello, the server waits.
 * Returns 0, or -WEIR_EPERM when not in state NEW.
 */
int weir_dtls_start(weir_dtls *d, int64_t now_us);

/**
 * Sets (or replaces, before the handshake completes) the expected remote
 * fingerprint. If the handshake already completed, checks it now and queues
 * CONNECTED or FAILED. Returns 0, -WEIR_EINVAL for a malformed value,
 * -WEIR_EUNSUPPORTED for an unknown algorithm (nothing changed), or
 * -WEIR_EPERM once CONNECTED/CLOSED/FAILED.
 */
int weir_dtls_set_remote_fingerprint(weir_dtls *d, const char *algorithm, const char *hex);

/**
 * Feeds one datagram (borrowed for the call). A session in NEW starts
 * implicitly. Invalid records are discarded as RFC 6347 §4.1.2.7 asks;
 * failures surface as FAILED events. Returns 0, or -WEIR_EINVAL for an
 * empty datagram or one that is not DTLS, -WEIR_ETOOBIG over
 * WEIR_DTLS_MAX_DATAGRAM (both dropped, nothing changed).
 */
int weir_dtls_handle_datagram(weir_dtls *d, int64_t now_us, const uint8_t *buf, size_t len);

/** Retransmits the last flight when its timer expired (see the timer note above). Returns 0. */
int weir_dtls_handle_timeout(weir_dtls *d, int64_t now_us);

/** Absolute deadline on the caller's clock, or WEIR_DTLS_NO_TIMEOUT. */
int64_t weir_dtls_next_timeout(const weir_dtls *d);

/**
 * Next datagram to send: whole records packed up to the MTU (a record that
 * alone exceeds it goes alone). Returns 1 with *data and *len set (valid until
 * the next call on d), or 0 when nothing is queued.
 */
int weir_dtls_poll_transmit(weir_dtls *d, const uint8_t **data, size_t *len);

/** Next event; returns 1 and fills *out, or 0. */
int weir_dtls_poll_event(weir_dtls *d, weir_dtls_event *out);

/**
 * Next received application-data record (one SCTP packet for data channels),
 * in order. Returns 1 with *data and *len (valid until the next call on d), or 0.
 * Data is only released once CONNECTED (after the fingerprint check).
 */
int weir_dtls_poll_data(weir_dtls *d, const uint8_t **data, size_t *len);

/**
 * Encrypts buf[0..len) (borrowed) as one record queued for poll_transmit.
 * Returns 0, -WEIR_EPERM unless CONNECTED, -WEIR_ETOOBIG over
 * WEIR_DTLS_MAX_WRITE or -WEIR_EINVAL for len 0 (nothing queued).
 */
int weir_dtls_write(weir_dtls *d, int64_t now_us, const uint8_t *buf, size_t len);

/**
 * Sends close_notify if the handshake completed, moves to CLOSED and queues
 * a CLOSED event (reason LOCAL_CLOSE). Idempotent; returns 0.
 */
int weir_dtls_close(weir_dtls *d, int64_t now_us);

weir_dtls_state weir_dtls_get_state(const weir_dtls *d);
const char *weir_dtls_state_name(weir_dtls_state s);
const char *weir_dtls_reason_name(weir_dtls_reason r);
/** Bytes of received application data dropped because poll_data was not drained. */
uint64_t weir_dtls_dropped_bytes(const weir_dtls *d);

#endif
