/**
 * SRTP/SRTCP protection for one peer connection, over libsrtp2 except for
 * outbound RTP and all RTCP with AEAD_AES_128_GCM.
 *
 * A weir_srtp holds two libsrtp sessions: one keyed with the local write key
 * for everything we send (ssrc_any_outbound) and one keyed with the remote
 * write key for everything we receive (ssrc_any_inbound), so SSRCs need no
 * registration: libsrtp clones a per-SSRC stream from the template the first
 * time an SSRC authenticates. Keys come from the DTLS-SRTP exporter
 * (RFC 5764 §4.2, see dtls.h).
 *
 * Outbound RTP under the GCM profile goes through srtp_gcm_tx.c (OpenSSL
 * EVP, one cipher context keyed once) instead: the SFU encrypts every
 * forwarded packet once per subscriber, and Debian's libsrtp2 runs GCM on
 * NSS, which builds a PK11 context with mutexes per packet (~20 % of a core
 * in NSS plus ~6 % in libsrtp at 100 subscribers in the load benchmark;
 * benchmarks/bench_srtp measures the two paths side by side). Its output is
 * byte-identical to libsrtp's. It covers at most WEIR_SRTP_GCM_TX_MAX_SSRCS
 * outbound SSRCs at a time; SSRCs beyond that (logged once) and SSRCs that
 * libsrtp already carries stay on libsrtp, so no SSRC changes path while
 * it has state. RTCP under GCM, both ways, goes through srtcp_gcm.c (also
 * OpenSSL): that leaves a subscriber, which receives no RTP, with no libsrtp
 * session at all (each held NSS key contexts worth ~11 KB), since the
 * libsrtp sessions are created on first use. Inbound RTP and the AES_CM
 * profile stay on libsrtp2: inbound RTP is not multiplied by the
 * subscriber count, and dtls.c prefers GCM, so AES_CM is only for peers
 * that lack it.
 * weir_srtp_options.libsrtp_tx and libsrtp_rx force libsrtp for each
 * direction, to compare.
 *
 * All operations work in place on the caller's buffer. Protecting grows the
 * packet, so the buffer must have tail room: WEIR_SRTP_MAX_RTP_OVERHEAD bytes
 * for RTP (the authentication tag: 10 for AES_CM_SHA1_80, 16 for GCM) and
 * WEIR_SRTP_MAX_RTCP_OVERHEAD for RTCP (the tag plus the 4-byte E flag and
 * SRTCP index, RFC 3711 §3.4). Unprotecting shrinks it.
 *
 * Errors: 0 on success, else a negative code the caller can count by kind:
 *   -WEIR_SRTP_EAUTH    authentication (or AEAD decryption) failed
 *   -WEIR_SRTP_EREPLAY  index already seen or older than the replay window
 *   -WEIR_EINVAL        malformed packet (too short, bad header)
 *   -WEIR_ETOOBIG       not enough tail room / packet over INT_MAX
 *   -WEIR_ENOTFOUND     no stream context (not expected: the templates match any SSRC)
 *   -WEIR_EIO           any other libsrtp failure
 * and on error the buffer's bytes are unspecified (libsrtp may have started
 * work) but *len is unchanged. weir_srtp_last_status() gives the libsrtp
 * status of the last failure for a debug line. Never logs per packet.
 *
 * Not thread-safe: a weir_srtp belongs to the worker that owns the peer.
 */
#ifndef WEIR_PEER_SRTP_H
#define WEIR_PEER_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/errors.h"

/* Failure kinds a caller counts separately (aliases of generic codes). */
#define WEIR_SRTP_EAUTH WEIR_EAUTH
#define WEIR_SRTP_EREPLAY WEIR_EEXIST

#define WEIR_SRTP_MAX_RTP_OVERHEAD 16
#define WEIR_SRTP_MAX_RTCP_OVERHEAD (16 + 4)

#define WEIR_SRTP_MAX_KEY_LEN 16
#define WEIR_SRTP_MAX_SALT_LEN 14
/* Replay window in packets; deep enough that late NACK retransmissions still pass. */
#define WEIR_SRTP_DEFAULT_WINDOW 1024

/** DTLS-SRTP protection profiles (values are the IANA ids, RFC 5764 §4.1.2, RFC 7714 §14.2). */
typedef enum {
    WEIR_SRTP_PROFILE_NONE = 0,
    WEIR_SRTP_PROFILE_AES128_CM_SHA1_80 = 0x0001,
    WEIR_SRTP_PROFILE_AEAD_AES_128_GCM = 0x0007,
} weir_srtp_profile;

/** Master key and salt for both directions, oriented from our side. */
typedef struct weir_srtp_keys {
    weir_srtp_profile profile;
    uint8_t key_len;  /* 16 for both supported profiles */
    uint8_t salt_len; /* 14 for AES_CM, 12 for GCM */
    uint8_t local_key[WEIR_SRTP_MAX_KEY_LEN];
    uint8_t local_salt[WEIR_SRTP_MAX_SALT_LEN];
    uint8_t remote_key[WEIR_SRTP_MAX_KEY_LEN];
    uint8_t remote_salt[WEIR_SRTP_MAX_SALT_LEN];
} weir_srtp_keys;

typedef struct weir_srtp_options {
    /* Replay window (64..32767); 0 means WEIR_SRTP_DEFAULT_WINDOW. */
    uint32_t window_size;
    /*
     * Lets us protect the same (SSRC, seq) twice, for NACK answers resent
     * without RTX. The payload must then be byte-identical: AES-CM and GCM
     * reuse the keystream for a repeated index.
     */
    bool allow_repeat_tx;
    /*
     * true: outbound RTP and RTCP go through libsrtp even under GCM (tests
     * and benchmarks compare both paths in one process). Without
     * allow_repeat_tx it does anyway: refusing a repeated index needs
     * libsrtp's replay bitmap, which the OpenSSL path does not keep.
     */
    bool libsrtp_tx;
    /* true: inbound RTCP goes through libsrtp even under GCM (tests, as above). */
    bool libsrtp_rx;
} weir_srtp_options;

typedef struct weir_srtp weir_srtp;

/**
 * Calls srtp_init() (self-tests, crypto kernel) and routes libsrtp's log
 * lines to weir_log at debug level. Call from main before workers start
 * (not thread-safe); idempotent, so tests may call it in each test.
 * Returns 0 or -WEIR_EIO.
 */
int weir_srtp_global_init(void);

/** Key and salt lengths for a profile; returns 0, or -WEIR_EUNSUPPORTED. */
int weir_srtp_profile_lengths(weir_srtp_profile profile, size_t *key_len, size_t *salt_len);
/** "SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM" or "none". */
const char *weir_srtp_profile_name(weir_srtp_profile profile);

/**
 * Creates the protection state. keys is copied (the caller may wipe it;
 * the copy is wiped at destroy); opts may be NULL for
 * {WEIR_SRTP_DEFAULT_WINDOW, allow_repeat_tx = true, libsrtp_tx = false,
 * libsrtp_rx = false}. A libsrtp session is created here when its direction
 * needs it from the start (AES_CM, or an option above), else on first use;
 * a late creation failure is logged once and its packets fail -WEIR_EIO.
 * Returns NULL on an unsupported profile, wrong key/salt lengths, a bad
 * window or a libsrtp/OpenSSL failure (logged).
 */
weir_srtp *weir_srtp_create(const weir_srtp_keys *keys, const weir_srtp_options *opts);
/** Frees the sessions and OpenSSL contexts and wipes the keys. NULL is a no-op. */
void weir_srtp_destroy(weir_srtp *s);

/**
 * Protects the RTP packet buf[0..*len) in place; cap is the buffer size and
 * must be >= *len + WEIR_SRTP_MAX_RTP_OVERHEAD. On success *len grows by the
 * tag length. A seq at least the replay window behind the SSRC's highest
 * sent is refused (-WEIR_SRTP_EREPLAY) on both paths.
 */
int weir_srtp_protect_rtp(weir_srtp *s, uint8_t *buf, size_t *len, size_t cap);
/** Verifies and decrypts the SRTP packet buf[0..*len) in place; *len shrinks on success. */
int weir_srtp_unprotect_rtp(weir_srtp *s, uint8_t *buf, size_t *len);
/** As protect_rtp for a (compound) RTCP packet; cap >= *len + WEIR_SRTP_MAX_RTCP_OVERHEAD. */
int weir_srtp_protect_rtcp(weir_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int weir_srtp_unprotect_rtcp(weir_srtp *s, uint8_t *buf, size_t *len);

/**
 * Forgets the per-SSRC state (rollover counter, replay window) of an SSRC
 * in one direction (outbound = true for ours), e.g. when a track ends, so
 * that memory does not grow with SSRCs seen. A later packet on that SSRC
 * starts a fresh stream from the template. Outbound, this clears the SSRC
 * from both the GCM tx table and libsrtp; inbound, from the GCM RTCP replay
 * table and libsrtp. Returns 0 or -WEIR_ENOTFOUND.
 */
int weir_srtp_remove_ssrc(weir_srtp *s, uint32_t ssrc, bool outbound);

weir_srtp_profile weir_srtp_get_profile(const weir_srtp *s);
/**
 * Outbound SSRCs the OpenSSL GCM path carries now (0 when it is off: AES_CM,
 * libsrtp_tx, or no allow_repeat_tx); the rest of the outbound SSRCs are on
 * libsrtp. For tests and metrics.
 */
size_t weir_srtp_gcm_tx_ssrcs(const weir_srtp *s);
/** libsrtp sessions created so far (0..2): a GCM subscriber keeps 0. For tests. */
int weir_srtp_libsrtp_sessions(const weir_srtp *s);
/**
 * The libsrtp status (srtp_err_status_t) of the last failed call; 0 if
 * none. A failure on an OpenSSL path reports the libsrtp status of the same
 * kind (bad_param, auth_fail, replay_old, no_ctx, cipher_fail).
 */
int weir_srtp_last_status(const weir_srtp *s);
/** Name of a libsrtp status, e.g. "auth_fail", for debug lines. */
const char *weir_srtp_status_name(int status);
/** libsrtp's version string, e.g. "libsrtp2 2.5.0". */
const char *weir_srtp_version(void);

#endif
