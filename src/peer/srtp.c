/*
 * SRTP over libsrtp2 and OpenSSL (see srtp.h). Up to two libsrtp sessions
 * per peer because libsrtp allows one wildcard template per session and the
 * two directions use different master keys (RFC 5764 §4.2: client and
 * server write keys). Under GCM, outbound RTP goes to srtp_gcm_tx.c and
 * RTCP both ways to srtcp_gcm.c; the libsrtp sessions are then created
 * only when something needs them (inbound RTP from a publisher, an SSRC
 * past the GCM tx table), so a subscriber never pays for them. This file
 * decides which path carries each packet.
 */
#define WEIR_LOG_MODULE "peer.srtp"

#include "peer/srtp.h"

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <srtp2/srtp.h>
#include <string.h>

#include "peer/srtcp_gcm.h"
#include "peer/srtp_gcm_tx.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define RTP_MIN_HEADER 12
#define RTCP_MIN_HEADER 8

struct weir_srtp {
    /* owned: */
    srtp_t tx;                /* ssrc_any_outbound, local write key; NULL until needed */
    srtp_t rx;                /* ssrc_any_inbound, remote write key; NULL until needed */
    weir_srtp_gcm_tx *gcm_tx; /* outbound RTP under GCM; NULL: all on libsrtp */
    weir_srtcp_gcm *rtcp_tx;  /* outbound RTCP under GCM; NULL: on libsrtp */
    weir_srtcp_gcm *rtcp_rx;  /* inbound RTCP under GCM; NULL: on libsrtp */
    weir_srtp_keys keys;      /* for the libsrtp sessions created late; wiped at destroy */
    weir_srtp_options opts;
    /* state: */
    weir_srtp_profile profile;
    bool session_failed; /* a late libsrtp session could not be created (logged once) */
    int last_status;
    /* The GCM tx table was full once: from then on libsrtp may carry some SSRCs. */
    bool gcm_tx_spilled;
};

static const char *const status_names[] = {
    "ok",         "fail",      "bad_param",   "alloc_fail",  "dealloc_fail", "init_fail",
    "terminus",   "auth_fail", "cipher_fail", "replay_fail", "replay_old",   "algo_fail",
    "no_such_op", "no_ctx",    "cant_check",  "key_expired", "socket_err",   "signal_err",
    "nonce_bad",  "read_fail", "write_fail",  "parse_err",   "encode_err",   "semaphore_err",
    "pfkey_err",  "bad_mki",   "pkt_idx_old", "pkt_idx_adv",
};

const char *weir_srtp_status_name(int status)
{
    if (status >= 0 && (size_t)status < sizeof status_names / sizeof status_names[0])
        return status_names[status];
    return "unknown";
}

/* libsrtp reports from its data path too (e.g. per bad packet); keep it at debug. */
static void on_srtp_log(srtp_log_level_t level, const char *msg, void *data)
{
    (void)data;
    WEIR_LOG_DEBUG("libsrtp level=%d msg=\"%s\"", (int)level, msg);
}

/*
 * libsrtp's crypto kernel is process-wide and srtp_init() is not idempotent
 * (a second call fails registering its debug module again), so this flag
 * mirrors libsrtp's own global. Set from main before workers start.
 */
static bool srtp_ready;

int weir_srtp_global_init(void)
{
    if (srtp_ready)
        return 0;
    srtp_install_log_handler(on_srtp_log, NULL);
    srtp_err_status_t st = srtp_init();
    if (st != srtp_err_status_ok) {
        WEIR_LOG_ERROR("init_failed status=%s", weir_srtp_status_name((int)st));
        return -WEIR_EIO;
    }
    srtp_ready = true;
    return 0;
}

const char *weir_srtp_version(void)
{
    return srtp_get_version_string();
}

int weir_srtp_profile_lengths(weir_srtp_profile profile, size_t *key_len, size_t *salt_len)
{
    /* RFC 5764 §4.1.2 (AES_CM: 128-bit key, 112-bit salt), RFC 7714 §12 (GCM: 96-bit salt). */
    switch (profile) {
    case WEIR_SRTP_PROFILE_AES128_CM_SHA1_80:
        *key_len = 16;
        *salt_len = 14;
        return 0;
    case WEIR_SRTP_PROFILE_AEAD_AES_128_GCM:
        *key_len = 16;
        *salt_len = 12;
        return 0;
    default:
        return -WEIR_EUNSUPPORTED;
    }
}

const char *weir_srtp_profile_name(weir_srtp_profile profile)
{
    switch (profile) {
    case WEIR_SRTP_PROFILE_AES128_CM_SHA1_80:
        return "SRTP_AES128_CM_SHA1_80";
    case WEIR_SRTP_PROFILE_AEAD_AES_128_GCM:
        return "SRTP_AEAD_AES_128_GCM";
    default:
        return "none";
    }
}

static void set_crypto_policy(srtp_policy_t *p, weir_srtp_profile profile)
{
    if (profile == WEIR_SRTP_PROFILE_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
    }
}

static srtp_err_status_t create_session(srtp_t *out, weir_srtp_profile profile, const uint8_t *key,
                                        const uint8_t *salt, size_t key_len, size_t salt_len,
                                        srtp_ssrc_type_t dir, const weir_srtp_options *o)
{
    /* libsrtp takes the master key and salt as one concatenated buffer. */
    uint8_t master[WEIR_SRTP_MAX_KEY_LEN + WEIR_SRTP_MAX_SALT_LEN];
    memcpy(master, key, key_len);
    memcpy(master + key_len, salt, salt_len);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    set_crypto_policy(&p, profile);
    p.ssrc.type = dir;
    p.key = master;
    p.window_size = o->window_size;
    p.allow_repeat_tx = dir == ssrc_any_outbound && o->allow_repeat_tx;
    srtp_err_status_t st = srtp_create(out, &p);
    OPENSSL_cleanse(master, sizeof master);
    return st;
}

/* The libsrtp session of one direction, created on first use; NULL if that failed. */
static srtp_t session(weir_srtp *s, bool outbound)
{
    srtp_t *slot = outbound ? &s->tx : &s->rx;
    if (*slot)
        return *slot;
    size_t key_len, salt_len;
    (void)weir_srtp_profile_lengths(s->profile, &key_len, &salt_len); /* checked at create */
    const weir_srtp_keys *k = &s->keys;
    srtp_err_status_t st = outbound
                               ? create_session(slot, s->profile, k->local_key, k->local_salt,
                                                key_len, salt_len, ssrc_any_outbound, &s->opts)
                               : create_session(slot, s->profile, k->remote_key, k->remote_salt,
                                                key_len, salt_len, ssrc_any_inbound, &s->opts);
    if (st != srtp_err_status_ok) {
        *slot = NULL;
        s->last_status = (int)st;
        if (!s->session_failed)
            WEIR_LOG_ERROR("create_failed profile=%s direction=%s status=%s",
                           weir_srtp_profile_name(s->profile), outbound ? "out" : "in",
                           weir_srtp_status_name((int)st));
        s->session_failed = true;
    }
    return *slot;
}

weir_srtp *weir_srtp_create(const weir_srtp_keys *keys, const weir_srtp_options *opts)
{
    weir_srtp_options o = {WEIR_SRTP_DEFAULT_WINDOW, true, false, false};
    if (opts) {
        o = *opts;
        if (o.window_size == 0)
            o.window_size = WEIR_SRTP_DEFAULT_WINDOW;
    }
    size_t key_len, salt_len;
    if (!keys || weir_srtp_profile_lengths(keys->profile, &key_len, &salt_len) != 0 ||
        keys->key_len != key_len || keys->salt_len != salt_len || o.window_size < 64 ||
        o.window_size >= 0x8000) {
        WEIR_LOG_WARN("create_rejected profile=%s window=%u",
                      keys ? weir_srtp_profile_name(keys->profile) : "-", o.window_size);
        return NULL;
    }
    weir_srtp *s = WEIR_NEW(weir_srtp);
    s->profile = keys->profile;
    s->keys = *keys;
    s->opts = o;
    bool gcm = keys->profile == WEIR_SRTP_PROFILE_AEAD_AES_128_GCM;
    if (gcm && o.allow_repeat_tx && !o.libsrtp_tx) {
        s->gcm_tx = weir_srtp_gcm_tx_create(keys->local_key, keys->local_salt, o.window_size);
        if (!s->gcm_tx)
            goto fail;
    }
    if (gcm && !o.libsrtp_tx) {
        s->rtcp_tx = weir_srtcp_gcm_create(keys->local_key, keys->local_salt, false);
        if (!s->rtcp_tx)
            goto fail;
    }
    if (gcm && !o.libsrtp_rx) {
        s->rtcp_rx = weir_srtcp_gcm_create(keys->remote_key, keys->remote_salt, true);
        if (!s->rtcp_rx)
            goto fail;
    }
    /* What OpenSSL does not carry needs its libsrtp session from the start. */
    if ((!s->gcm_tx || !s->rtcp_tx) && !session(s, true))
        goto fail;
    if (!s->rtcp_rx && !session(s, false))
        goto fail;
    return s;
fail:
    weir_srtp_destroy(s);
    return NULL;
}

void weir_srtp_destroy(weir_srtp *s)
{
    if (!s)
        return;
    /* srtp_dealloc zeroes the session keys before freeing. */
    if (s->tx)
        srtp_dealloc(s->tx);
    if (s->rx)
        srtp_dealloc(s->rx);
    weir_srtp_gcm_tx_destroy(s->gcm_tx);
    weir_srtcp_gcm_destroy(s->rtcp_tx);
    weir_srtcp_gcm_destroy(s->rtcp_rx);
    OPENSSL_cleanse(&s->keys, sizeof s->keys);
    weir_free(s);
}

static int map_status(weir_srtp *s, srtp_err_status_t st)
{
    if (st == srtp_err_status_ok)
        return 0;
    s->last_status = (int)st;
    switch (st) {
    case srtp_err_status_auth_fail: /* also a GCM tag mismatch (srtp_unprotect_aead) */
        return -WEIR_SRTP_EAUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
    case srtp_err_status_pkt_idx_old:
        return -WEIR_SRTP_EREPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
    case srtp_err_status_bad_mki:
        return -WEIR_EINVAL;
    case srtp_err_status_no_ctx:
        return -WEIR_ENOTFOUND;
    default:
        return -WEIR_EIO;
    }
}

typedef srtp_err_status_t (*srtp_op)(srtp_t, void *, int *);

static int run(weir_srtp *s, bool outbound, srtp_op op, uint8_t *buf, size_t *len, size_t cap,
               size_t min_len, size_t overhead)
{
    if (!buf || *len < min_len) {
        s->last_status = (int)srtp_err_status_bad_param;
        return -WEIR_EINVAL;
    }
    if (cap < *len + overhead || *len + overhead > (size_t)INT_MAX) {
        s->last_status = (int)srtp_err_status_bad_param;
        return -WEIR_ETOOBIG;
    }
    srtp_t ses = session(s, outbound);
    if (!ses)
        return -WEIR_EIO;
    int n = (int)*len;
    int rc = map_status(s, op(ses, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

/*
 * Whether the GCM tx table takes a new SSRC. Once the table has been full,
 * libsrtp may hold SSRCs that did not fit; such an SSRC stays there even
 * when a slot frees up, because a fresh table entry would restart its ROC at
 * 0: wrong for the receiver, and a reused GCM nonce.
 */
static bool gcm_tx_adopt(weir_srtp *s, uint32_t ssrc)
{
    uint32_t roc;
    if (s->gcm_tx_spilled && s->tx && srtp_get_stream_roc(s->tx, ssrc, &roc) == srtp_err_status_ok)
        return false;
    int rc = weir_srtp_gcm_tx_add_ssrc(s->gcm_tx, ssrc);
    if (rc == -WEIR_EFULL && !s->gcm_tx_spilled) {
        WEIR_LOG_WARN("gcm_tx_table_full ssrcs=%d action=further_ssrcs_use_libsrtp",
                      WEIR_SRTP_GCM_TX_MAX_SSRCS);
        s->gcm_tx_spilled = true;
    }
    return rc == 0;
}

/* The libsrtp status of the same kind, for weir_srtp_last_status(). */
static int openssl_path_status(int rc)
{
    switch (rc) {
    case -WEIR_SRTP_EAUTH:
        return (int)srtp_err_status_auth_fail;
    case -WEIR_SRTP_EREPLAY:
        return (int)srtp_err_status_replay_old;
    case -WEIR_ENOTFOUND:
        return (int)srtp_err_status_no_ctx;
    case -WEIR_EINVAL:
    case -WEIR_ETOOBIG:
        return (int)srtp_err_status_bad_param;
    default:
        return (int)srtp_err_status_cipher_fail;
    }
}

int weir_srtp_protect_rtp(weir_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
    if (s->gcm_tx) {
        int rc = weir_srtp_gcm_tx_protect(s->gcm_tx, buf, len, cap);
        /* ENOTFOUND comes only after the length checks: bytes 8..11 are there. */
        if (rc == -WEIR_ENOTFOUND &&
            gcm_tx_adopt(s, (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 |
                                (uint32_t)buf[10] << 8 | buf[11]))
            rc = weir_srtp_gcm_tx_protect(s->gcm_tx, buf, len, cap);
        if (rc != -WEIR_ENOTFOUND) {
            if (rc != 0)
                s->last_status = openssl_path_status(rc);
            return rc;
        }
    }
    return run(s, true, srtp_protect, buf, len, cap, RTP_MIN_HEADER, WEIR_SRTP_MAX_RTP_OVERHEAD);
}

int weir_srtp_unprotect_rtp(weir_srtp *s, uint8_t *buf, size_t *len)
{
    return run(s, false, srtp_unprotect, buf, len, *len, RTP_MIN_HEADER, 0);
}

static int openssl_path(weir_srtp *s, int rc)
{
    if (rc != 0)
        s->last_status = openssl_path_status(rc);
    return rc;
}

int weir_srtp_protect_rtcp(weir_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
    if (s->rtcp_tx)
        return openssl_path(s, weir_srtcp_gcm_protect(s->rtcp_tx, buf, len, cap));
    return run(s, true, srtp_protect_rtcp, buf, len, cap, RTCP_MIN_HEADER,
               WEIR_SRTP_MAX_RTCP_OVERHEAD);
}

int weir_srtp_unprotect_rtcp(weir_srtp *s, uint8_t *buf, size_t *len)
{
    if (s->rtcp_rx)
        return openssl_path(s, weir_srtcp_gcm_unprotect(s->rtcp_rx, buf, len));
    return run(s, false, srtp_unprotect_rtcp, buf, len, *len, RTCP_MIN_HEADER, 0);
}

int weir_srtp_remove_ssrc(weir_srtp *s, uint32_t ssrc, bool outbound)
{
    bool fast = outbound ? s->gcm_tx && weir_srtp_gcm_tx_remove_ssrc(s->gcm_tx, ssrc) == 0
                         : s->rtcp_rx && weir_srtcp_gcm_remove_ssrc(s->rtcp_rx, ssrc) == 0;
    /* libsrtp looks streams up by the SSRC as it sits in the packet (network order). */
    srtp_t ses = outbound ? s->tx : s->rx;
    srtp_err_status_t st = ses ? srtp_remove_stream(ses, htonl(ssrc)) : srtp_err_status_no_ctx;
    if (fast || st == srtp_err_status_ok)
        return 0;
    s->last_status = (int)st;
    return -WEIR_ENOTFOUND;
}

weir_srtp_profile weir_srtp_get_profile(const weir_srtp *s)
{
    return s->profile;
}

int weir_srtp_libsrtp_sessions(const weir_srtp *s)
{
    return (s->tx != NULL) + (s->rx != NULL);
}

size_t weir_srtp_gcm_tx_ssrcs(const weir_srtp *s)
{
    return s->gcm_tx ? weir_srtp_gcm_tx_ssrc_count(s->gcm_tx) : 0;
}

int weir_srtp_last_status(const weir_srtp *s)
{
    return s->last_status;
}
