/*
 * Sans-IO DTLS 1.2 over OpenSSL memory BIOs (see dtls.h for the contract).
 *
 * Datagram boundaries: a BIO_s_mem is a byte stream, so each call feeds
 * exactly one datagram and runs OpenSSL until it has consumed it (then the
 * read BIO is reset), and outgoing bytes are cut back into datagrams on
 * record boundaries. OpenSSL sizes handshake fragments against the MTU
 * minus what already sits in the write BIO (dtls1_do_write), so greedy
 * packing of whole records reproduces the datagrams it had in mind.
 */
#define WEIR_LOG_MODULE "peer.dtls"

#include "peer/dtls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "weir/alloc.h"
#include "weir/log.h"

#define RECORD_HEADER_LEN 13
#define MIN_MTU 256
/* OpenSSL treats a timer within 15 ms of expiry as expired; shorter RTOs would spin. */
#define MIN_RTO_US 50000
#define EVENT_QUEUE_LEN 4
/* Application-data queue: first allocation, and what is kept once drained. */
#define RX_MIN_CAP 2048
#define RX_KEEP_CAP (2 * WEIR_DTLS_MAX_WRITE)
/* RFC 5764 §4.2 */
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

/*
 * WebRTC endpoints sign with ECDSA (browsers) or RSA (some native stacks);
 * AEAD suites first. Profiles in preference order: GCM (RFC 7714) is both
 * faster and smaller on the wire than AES_CM + HMAC-SHA1.
 */
static const char CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA";
static const char SRTP_PROFILES[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

struct weir_dtls_ctx {
    /* owned: */
    SSL_CTX *ssl_ctx;
};

struct rx_item {
    size_t off, len;
};

struct weir_dtls {
    /* owned: */
    SSL *ssl; /* owns rbio and wbio */
    uint8_t *tx_buf;
    size_t tx_cap;
    uint8_t *rx_buf; /* received plaintext records, back to back */
    size_t rx_cap, rx_used;
    struct rx_item *rx_items;
    size_t rx_items_cap, rx_head, rx_count;
    /* borrowed (owned by ssl): */
    BIO *rbio, *wbio;
    /* config: */
    weir_dtls_role role;
    size_t mtu;
    unsigned int initial_rto_us;
    char log_id[32];
    const EVP_MD *fp_md;
    uint8_t fp[EVP_MAX_MD_SIZE];
    unsigned int fp_len; /* 0 until the remote fingerprint is known */
    /* state: */
    weir_dtls_state state;
    int64_t now_us;
    int64_t deadline_us;
    bool fp_mismatch;
    weir_srtp_keys keys; /* exported at handshake end, released with CONNECTED */
    weir_dtls_event events[EVENT_QUEUE_LEN];
    unsigned int ev_head, ev_count;
    uint64_t dropped_bytes;
    bool app_data;         /* application data passed: keep the record buffers */
    bool buffers_released; /* SSL_free_buffers done, SSL_alloc_buffers before the next use */
};

static const char *const state_names[] = {
    "new", "handshaking", "await_fingerprint", "connected", "closed", "failed",
};

static const char *const reason_names[] = {
    "none", "fingerprint", "no_srtp", "timeout", "alert", "protocol", "peer_close", "local_close",
};

const char *weir_dtls_state_name(weir_dtls_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

const char *weir_dtls_reason_name(weir_dtls_reason r)
{
    return (unsigned)r < sizeof reason_names / sizeof reason_names[0] ? reason_names[r] : "?";
}

/* ---- fingerprint ------------------------------------------------------- */

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 8122 §5: hash-func SP fingerprint, the fingerprint as colon-separated uppercase hex pairs
 * (we accept either case). SHA-1 and smaller digests are refused (RFC 8827 §6.5). */
static int parse_fingerprint(const char *alg, const char *hex, const EVP_MD **md_out, uint8_t *out,
                             unsigned int *out_len)
{
    const EVP_MD *md;
    if (!alg || !hex)
        return -WEIR_EINVAL;
    if (strcasecmp(alg, "sha-256") == 0)
        md = EVP_sha256();
    else if (strcasecmp(alg, "sha-384") == 0)
        md = EVP_sha384();
    else if (strcasecmp(alg, "sha-512") == 0)
        md = EVP_sha512();
    else
        return -WEIR_EUNSUPPORTED;
    size_t want = (size_t)EVP_MD_get_size(md), n = 0;
    uint8_t tmp[EVP_MAX_MD_SIZE];
    for (const char *p = hex; *p;) {
        int hi = hex_nibble(p[0]), lo = hi < 0 ? -1 : hex_nibble(p[1]);
        if (lo < 0 || n == want)
            return -WEIR_EINVAL;
        tmp[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
        if (*p == ':' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            return -WEIR_EINVAL;
    }
    if (n != want)
        return -WEIR_EINVAL;
    *md_out = md;
    memcpy(out, tmp, n);
    *out_len = (unsigned int)n;
    return 0;
}

static bool fingerprint_matches(const weir_dtls *d, X509 *peer)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!peer || X509_digest(peer, d->fp_md, md, &n) != 1)
        return false;
    return n == d->fp_len && CRYPTO_memcmp(md, d->fp, n) == 0;
}

/*
 * Replaces chain verification: WebRTC certificates are self-signed and
 * authenticated by the SDP fingerprint alone (RFC 8827 §6.5), so validity
 * dates, issuers and chains are not checked. With the fingerprint still
 * unknown we accept here and check at handshake end.
 */
static int on_verify_cert(X509_STORE_CTX *store, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    weir_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *peer = X509_STORE_CTX_get0_cert(store);
    if (!d || !peer)
        return 0;
    if (d->fp_len == 0 || fingerprint_matches(d, peer))
        return 1;
    d->fp_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/*
 * OpenSSL calls this when the retransmission timer starts (prev_us == 0)
 * and each time it expires; the value returned is the next duration.
 * Exponential back-off as RFC 6347 §4.2.4 asks, capped lower than its 60 s
 * because OpenSSL gives up after 12 expiries anyway.
 */
static unsigned int on_dtls_timer(SSL *ssl, unsigned int prev_us)
{
    weir_dtls *d = SSL_get_app_data(ssl);
    if (prev_us == 0)
        return d->initial_rto_us;
    WEIR_LOG_DEBUG("retransmit peer=%s rto_ms=%u", d->log_id, prev_us / 1000);
    return prev_us >= WEIR_DTLS_MAX_RTO_US / 2 ? WEIR_DTLS_MAX_RTO_US : prev_us * 2;
}

/* ---- context ----------------------------------------------------------- */

static bool configure_ctx(SSL_CTX *c, const weir_cert *cert)
{
    /* No resumption: an abbreviated handshake shows no certificate to check. Cookies
     * (HelloVerifyRequest) add a round trip for nothing: ICE already proved the address. */
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(c, on_verify_cert, NULL);
    return SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) == 1 &&
           SSL_CTX_use_certificate(c, weir_cert_x509(cert)) == 1 &&
           SSL_CTX_use_PrivateKey(c, weir_cert_pkey(cert)) == 1 &&
           SSL_CTX_check_private_key(c) == 1 && SSL_CTX_set_cipher_list(c, CIPHERS) == 1 &&
           SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") == 1 &&
           SSL_CTX_set_tlsext_use_srtp(c, SRTP_PROFILES) == 0; /* 0 is success here */
}

weir_dtls_ctx *weir_dtls_ctx_create(const weir_cert *cert)
{
    weir_dtls_ctx *ctx = WEIR_NEW(weir_dtls_ctx);
    ERR_clear_error();
    ctx->ssl_ctx = SSL_CTX_new(DTLS_method());
    if (!ctx->ssl_ctx || !cert || !configure_ctx(ctx->ssl_ctx, cert)) {
        char why[160] = "no certificate";
        if (ERR_peek_error())
            ERR_error_string_n(ERR_peek_error(), why, sizeof why);
        WEIR_LOG_ERROR("ctx_create_failed error=\"%s\"", why);
        ERR_clear_error();
        goto fail;
    }
    return ctx;
fail:
    weir_dtls_ctx_destroy(ctx);
    return NULL;
}

int weir_dtls_ctx_set_srtp_profiles(weir_dtls_ctx *ctx, const char *profiles)
{
    /* OpenSSL keeps the old list when parsing fails (and returns 1 for failure here). */
    int rc = profiles ? SSL_CTX_set_tlsext_use_srtp(ctx->ssl_ctx, profiles) : 1;
    ERR_clear_error();
    return rc == 0 ? 0 : -WEIR_EINVAL;
}

void weir_dtls_ctx_destroy(weir_dtls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    weir_free(ctx);
}

/* ---- state, events ----------------------------------------------------- */

static void set_state(weir_dtls *d, weir_dtls_state to, const char *why)
{
    if (d->state == to)
        return;
    WEIR_LOG_INFO("transition peer=%s role=%s from=%s to=%s reason=\"%s\"", d->log_id,
                  d->role == WEIR_DTLS_ROLE_CLIENT ? "client" : "server",
                  weir_dtls_state_name(d->state), weir_dtls_state_name(to), why);
    d->state = to;
}

static weir_dtls_event *push_event(weir_dtls *d, weir_dtls_event_type type)
{
    /* At most CONNECTED plus one terminal event are ever queued; the queue cannot fill. */
    if (d->ev_count == EVENT_QUEUE_LEN)
        return NULL;
    weir_dtls_event *ev = &d->events[(d->ev_head + d->ev_count++) % EVENT_QUEUE_LEN];
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    return ev;
}

static void drop_rx(weir_dtls *d)
{
    d->rx_used = d->rx_head = d->rx_count = 0;
}

static bool is_terminal(const weir_dtls *d)
{
    return d->state == WEIR_DTLS_STATE_CLOSED || d->state == WEIR_DTLS_STATE_FAILED;
}

static void fail(weir_dtls *d, weir_dtls_reason reason, const char *detail)
{
    if (is_terminal(d))
        return;
    set_state(d, WEIR_DTLS_STATE_FAILED, detail);
    OPENSSL_cleanse(&d->keys, sizeof d->keys);
    drop_rx(d);
    d->deadline_us = WEIR_DTLS_NO_TIMEOUT;
    weir_dtls_event *ev = push_event(d, WEIR_DTLS_EVENT_FAILED);
    if (ev) {
        ev->reason = reason;
        snprintf(ev->detail, sizeof ev->detail, "%s", detail);
    }
}

static void closed(weir_dtls *d, weir_dtls_reason reason)
{
    if (is_terminal(d))
        return;
    set_state(d, WEIR_DTLS_STATE_CLOSED, weir_dtls_reason_name(reason));
    OPENSSL_cleanse(&d->keys, sizeof d->keys);
    d->deadline_us = WEIR_DTLS_NO_TIMEOUT;
    weir_dtls_event *ev = push_event(d, WEIR_DTLS_EVENT_CLOSED);
    if (ev)
        ev->reason = reason;
}

/* Fails the session from OpenSSL's error queue after a fatal SSL_ERROR_SSL/SYSCALL. */
static void fail_from_openssl(weir_dtls *d, const char *during)
{
    unsigned long e = ERR_peek_error();
    int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);
    weir_dtls_reason reason = WEIR_DTLS_REASON_PROTOCOL;
    if (d->fp_mismatch)
        reason = WEIR_DTLS_REASON_FINGERPRINT;
    else if (lib == ERR_LIB_SSL && r == SSL_R_READ_TIMEOUT_EXPIRED)
        reason = WEIR_DTLS_REASON_TIMEOUT;
    else if (lib == ERR_LIB_SSL && r >= SSL_AD_REASON_OFFSET)
        reason = WEIR_DTLS_REASON_ALERT;
    char detail[120];
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    if (reason == WEIR_DTLS_REASON_FINGERPRINT)
        why = "peer certificate does not match its fingerprint";
    snprintf(detail, sizeof detail, "%s: %s", during, why ? why : "fatal error");
    ERR_clear_error();
    fail(d, reason, detail);
}

/* ---- handshake completion ---------------------------------------------- */

static int export_keys(weir_dtls *d)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    weir_srtp_profile profile = p ? (weir_srtp_profile)p->id : WEIR_SRTP_PROFILE_NONE;
    size_t kl, sl;
    if (weir_srtp_profile_lengths(profile, &kl, &sl) != 0)
        return -WEIR_EUNSUPPORTED;
    /* RFC 5764 §4.2: client key | server key | client salt | server salt. */
    uint8_t m[2 * (WEIR_SRTP_MAX_KEY_LEN + WEIR_SRTP_MAX_SALT_LEN)];
    size_t total = 2 * (kl + sl);
    if (SSL_export_keying_material(d->ssl, m, total, EXPORTER_LABEL, strlen(EXPORTER_LABEL), NULL,
                                   0, 0) != 1)
        return -WEIR_EIO;
    bool client = d->role == WEIR_DTLS_ROLE_CLIENT;
    const uint8_t *ck = m, *sk = m + kl, *cs = m + 2 * kl, *ss = m + 2 * kl + sl;
    weir_srtp_keys *k = &d->keys;
    k->profile = profile;
    k->key_len = (uint8_t)kl;
    k->salt_len = (uint8_t)sl;
    memcpy(k->local_key, client ? ck : sk, kl);
    memcpy(k->remote_key, client ? sk : ck, kl);
    memcpy(k->local_salt, client ? cs : ss, sl);
    memcpy(k->remote_salt, client ? ss : cs, sl);
    OPENSSL_cleanse(m, sizeof m);
    return 0;
}

/* The fingerprint is known and the handshake done: authenticate and release the keys. */
static void authenticate(weir_dtls *d)
{
    if (!fingerprint_matches(d, SSL_get0_peer_certificate(d->ssl))) {
        d->fp_mismatch = true;
        fail(d, WEIR_DTLS_REASON_FINGERPRINT, "peer certificate does not match its fingerprint");
        return;
    }
    set_state(d, WEIR_DTLS_STATE_CONNECTED, weir_srtp_profile_name(d->keys.profile));
    weir_dtls_event *ev = push_event(d, WEIR_DTLS_EVENT_CONNECTED);
    if (ev)
        ev->keys = d->keys;
    OPENSSL_cleanse(&d->keys, sizeof d->keys);
}

static void on_handshake_done(weir_dtls *d)
{
    int rc = export_keys(d);
    if (rc == -WEIR_EUNSUPPORTED) {
        fail(d, WEIR_DTLS_REASON_NO_SRTP, "no common SRTP protection profile");
        return;
    }
    if (rc != 0) {
        fail_from_openssl(d, "keying material export");
        return;
    }
    if (d->fp_len == 0) {
        set_state(d, WEIR_DTLS_STATE_AWAIT_FINGERPRINT, "handshake done before the SDP");
        return;
    }
    authenticate(d);
}

/* ---- driving OpenSSL --------------------------------------------------- */

static bool want_io(int err)
{
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

static void drive_handshake(weir_dtls *d)
{
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
        on_handshake_done(d);
        return;
    }
    if (want_io(SSL_get_error(d->ssl, r))) {
        ERR_clear_error(); /* records OpenSSL discarded may leave entries behind */
        return;
    }
    fail_from_openssl(d, "handshake");
}

/*
 * Room for n more plaintext bytes and one more item. The buffer is sized to
 * what is queued (doubling from RX_MIN_CAP), not to WEIR_DTLS_MAX_WRITE up
 * front: most peers (every subscriber PC without a data channel) never
 * receive application data and should not carry 16 KiB for it.
 */
static void reserve_rx(weir_dtls *d, size_t n)
{
    size_t need = d->rx_used + n;
    if (need > d->rx_cap) {
        size_t cap = d->rx_cap ? d->rx_cap : RX_MIN_CAP;
        while (cap < need)
            cap *= 2;
        d->rx_cap = cap;
        d->rx_buf = weir_realloc(d->rx_buf, d->rx_cap);
    }
    if (d->rx_count == d->rx_items_cap) {
        d->rx_items_cap = d->rx_items_cap ? 2 * d->rx_items_cap : 8;
        d->rx_items = weir_realloc(d->rx_items, d->rx_items_cap * sizeof *d->rx_items);
    }
}

/* Gives back a queue that a burst grew, once the application drained it. */
static void trim_rx(weir_dtls *d)
{
    if (d->rx_count != 0 || d->rx_cap <= RX_KEEP_CAP)
        return;
    weir_free(d->rx_buf);
    d->rx_buf = NULL;
    d->rx_cap = 0;
}

static void queue_rx(weir_dtls *d, const uint8_t *buf, size_t n)
{
    if (d->rx_used + n > WEIR_DTLS_MAX_QUEUED_DATA) {
        d->dropped_bytes += n;
        return;
    }
    reserve_rx(d, n);
    memcpy(d->rx_buf + d->rx_used, buf, n);
    d->rx_items[d->rx_count++] = (struct rx_item){d->rx_used, n};
    d->rx_used += n;
    d->app_data = true;
}

static void on_peer_close(weir_dtls *d)
{
    /* Answer close_notify with ours (RFC 5246 §7.2.1) so the peer can tear down too. */
    ERR_clear_error();
    SSL_shutdown(d->ssl);
    ERR_clear_error();
    closed(d, WEIR_DTLS_REASON_PEER_CLOSE);
}

static void read_app_data(weir_dtls *d)
{
    /* Records land on the stack first and are copied into the queue only when
     * there are any (one copy per data-channel record, never on the RTP path). */
    uint8_t rec[WEIR_DTLS_MAX_WRITE];
    trim_rx(d);
    while (d->state == WEIR_DTLS_STATE_CONNECTED || d->state == WEIR_DTLS_STATE_AWAIT_FINGERPRINT) {
        ERR_clear_error();
        /* DTLS hands out one record per SSL_read when the buffer can hold it. */
        int n = SSL_read(d->ssl, rec, (int)sizeof rec);
        if (n > 0) {
            queue_rx(d, rec, (size_t)n);
            continue;
        }
        int err = SSL_get_error(d->ssl, n);
        if (want_io(err)) {
            ERR_clear_error();
            return;
        }
        if (err == SSL_ERROR_ZERO_RETURN)
            on_peer_close(d);
        else
            fail_from_openssl(d, "read");
        return;
    }
}

/*
 * OpenSSL's record buffers (~17 KiB to read, ~17 KiB to write) live as long
 * as the SSL. SSL_MODE_RELEASE_BUFFERS does not release them for DTLS in
 * OpenSSL 3.0 (measured with heaptrack), and most connected sessions are
 * idle: a subscriber PC without a data channel only ever sees the odd
 * retransmitted flight or close_notify after the handshake. So a CONNECTED
 * session that has carried no application data hands them back after each
 * call, and gets them again before the next call that may read or write a
 * record (the DTLS write path in OpenSSL 3.0 does not re-create a freed
 * write buffer by itself). Once application data passes (a data channel),
 * the buffers stay, so SCTP traffic pays nothing per record.
 */
static bool wake_buffers(weir_dtls *d)
{
    if (!d->buffers_released)
        return true;
    if (SSL_alloc_buffers(d->ssl) != 1) {
        ERR_clear_error();
        return false;
    }
    d->buffers_released = false;
    return true;
}

/* wake_buffers for a call that cannot go on without them. */
static bool need_buffers(weir_dtls *d)
{
    if (wake_buffers(d))
        return true;
    fail(d, WEIR_DTLS_REASON_PROTOCOL, "record buffers: out of memory");
    return false;
}

static void idle_buffers(weir_dtls *d)
{
    if (d->state != WEIR_DTLS_STATE_CONNECTED || d->app_data || d->buffers_released)
        return;
    /* refused (returns 0) while a record is partly read or written: try next time */
    d->buffers_released = SSL_free_buffers(d->ssl) == 1;
}

static void update_deadline(weir_dtls *d)
{
    struct timeval tv;
    if (is_terminal(d) || d->state == WEIR_DTLS_STATE_NEW || DTLSv1_get_timeout(d->ssl, &tv) != 1)
        d->deadline_us = WEIR_DTLS_NO_TIMEOUT;
    else
        d->deadline_us = d->now_us + (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void advance_clock(weir_dtls *d, int64_t now_us)
{
    if (now_us > d->now_us)
        d->now_us = now_us;
}

/* ---- public API -------------------------------------------------------- */

static bool apply_config(weir_dtls *d, const weir_dtls_config *cfg)
{
    d->role = cfg->role;
    d->mtu = cfg->mtu ? cfg->mtu : WEIR_DTLS_DEFAULT_MTU;
    int64_t rto = cfg->initial_rto_us ? cfg->initial_rto_us : WEIR_DTLS_DEFAULT_INITIAL_RTO_US;
    snprintf(d->log_id, sizeof d->log_id, "%s", cfg->log_id ? cfg->log_id : "-");
    if (d->mtu < MIN_MTU || d->mtu > WEIR_DTLS_MAX_DATAGRAM || rto < MIN_RTO_US ||
        rto > WEIR_DTLS_MAX_RTO_US)
        return false;
    d->initial_rto_us = (unsigned int)rto;
    if (cfg->fingerprint_algorithm || cfg->fingerprint_hex)
        return parse_fingerprint(cfg->fingerprint_algorithm, cfg->fingerprint_hex, &d->fp_md, d->fp,
                                 &d->fp_len) == 0;
    return true;
}

weir_dtls *weir_dtls_create(weir_dtls_ctx *ctx, const weir_dtls_config *cfg)
{
    if (!ctx || !cfg)
        return NULL;
    weir_dtls *d = WEIR_NEW(weir_dtls);
    d->deadline_us = WEIR_DTLS_NO_TIMEOUT;
    d->now_us = INT64_MIN;
    if (!apply_config(d, cfg)) {
        WEIR_LOG_WARN("create_rejected peer=%s mtu=%zu", d->log_id, d->mtu);
        goto fail;
    }
    ERR_clear_error();
    d->ssl = SSL_new(ctx->ssl_ctx);
    d->rbio = BIO_new(BIO_s_mem());
    d->wbio = BIO_new(BIO_s_mem());
    if (!d->ssl || !d->rbio || !d->wbio) {
        BIO_free(d->rbio);
        BIO_free(d->wbio);
        goto fail;
    }
    /* An empty BIO means "no datagram yet", not end of stream. */
    BIO_set_mem_eof_return(d->rbio, -1);
    BIO_set_mem_eof_return(d->wbio, -1);
    SSL_set_bio(d->ssl, d->rbio, d->wbio);
    SSL_set_app_data(d->ssl, d);
    DTLS_set_timer_cb(d->ssl, on_dtls_timer);
    /* The path MTU is ours to state (SSL_OP_NO_QUERY_MTU): ICE paths rarely carry more
     * than 1200 bytes of UDP payload safely once TURN/IPv6 overheads are counted. */
    if (DTLS_set_link_mtu(d->ssl, (long)d->mtu) != 1)
        goto fail;
    if (d->role == WEIR_DTLS_ROLE_CLIENT)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    d->tx_cap = d->mtu;
    d->tx_buf = weir_malloc(d->tx_cap);
    return d;
fail:
    ERR_clear_error();
    weir_dtls_destroy(d);
    return NULL;
}

void weir_dtls_destroy(weir_dtls *d)
{
    if (!d)
        return;
    SSL_free(d->ssl);
    OPENSSL_cleanse(&d->keys, sizeof d->keys);
    OPENSSL_cleanse(d->events, sizeof d->events);
    weir_free(d->tx_buf);
    weir_free(d->rx_buf);
    weir_free(d->rx_items);
    weir_free(d);
}

int weir_dtls_start(weir_dtls *d, int64_t now_us)
{
    if (d->state != WEIR_DTLS_STATE_NEW)
        return -WEIR_EPERM;
    advance_clock(d, now_us);
    set_state(d, WEIR_DTLS_STATE_HANDSHAKING, "start");
    if (d->role == WEIR_DTLS_ROLE_CLIENT)
        drive_handshake(d);
    update_deadline(d);
    return 0;
}

int weir_dtls_set_remote_fingerprint(weir_dtls *d, const char *algorithm, const char *hex)
{
    if (d->state == WEIR_DTLS_STATE_CONNECTED || is_terminal(d))
        return -WEIR_EPERM;
    int rc = parse_fingerprint(algorithm, hex, &d->fp_md, d->fp, &d->fp_len);
    if (rc == 0 && d->state == WEIR_DTLS_STATE_AWAIT_FINGERPRINT)
        authenticate(d);
    return rc;
}

int weir_dtls_handle_datagram(weir_dtls *d, int64_t now_us, const uint8_t *buf, size_t len)
{
    if (!buf || len == 0 || !weir_dtls_is_record(buf[0]))
        return -WEIR_EINVAL;
    if (len > WEIR_DTLS_MAX_DATAGRAM)
        return -WEIR_ETOOBIG;
    advance_clock(d, now_us);
    if (is_terminal(d))
        return 0;
    if (d->state == WEIR_DTLS_STATE_NEW)
        weir_dtls_start(d, now_us);
    if (!need_buffers(d))
        return 0;
    if (BIO_write(d->rbio, buf, (int)len) != (int)len)
        return -WEIR_EIO;
    if (d->state == WEIR_DTLS_STATE_HANDSHAKING)
        drive_handshake(d);
    read_app_data(d);
    /* Whatever OpenSSL left unread belongs to this datagram only. */
    (void)BIO_reset(d->rbio);
    update_deadline(d);
    idle_buffers(d);
    return 0;
}

int weir_dtls_handle_timeout(weir_dtls *d, int64_t now_us)
{
    advance_clock(d, now_us);
    if (is_terminal(d) || d->state == WEIR_DTLS_STATE_NEW)
        return 0;
    if (d->now_us >= d->deadline_us && need_buffers(d)) {
        ERR_clear_error();
        /* 0: OpenSSL's own (wall-clock) timer has not expired yet; we re-arm below. */
        if (DTLSv1_handle_timeout(d->ssl) < 0)
            fail_from_openssl(d, "retransmission");
        ERR_clear_error();
        idle_buffers(d);
    }
    update_deadline(d);
    return 0;
}

int64_t weir_dtls_next_timeout(const weir_dtls *d)
{
    return d->deadline_us;
}

static size_t record_len(const uint8_t *p, size_t avail)
{
    if (avail < RECORD_HEADER_LEN)
        return avail; /* never produced by OpenSSL; ship it rather than wedge the queue */
    size_t n = RECORD_HEADER_LEN + ((size_t)p[11] << 8 | p[12]);
    return n < avail ? n : avail;
}

int weir_dtls_poll_transmit(weir_dtls *d, const uint8_t **data, size_t *len)
{
    char *pending = NULL;
    long avail = BIO_get_mem_data(d->wbio, &pending);
    if (avail <= 0 || !pending)
        return 0;
    const uint8_t *p = (const uint8_t *)pending;
    size_t total = (size_t)avail, take = 0;
    while (take < total) {
        size_t rec = record_len(p + take, total - take);
        if (take > 0 && take + rec > d->mtu)
            break;
        take += rec;
    }
    if (take > d->tx_cap) {
        d->tx_cap = take;
        d->tx_buf = weir_realloc(d->tx_buf, d->tx_cap);
    }
    if (BIO_read(d->wbio, d->tx_buf, (int)take) != (int)take)
        return 0;
    *data = d->tx_buf;
    *len = take;
    return 1;
}

int weir_dtls_poll_event(weir_dtls *d, weir_dtls_event *out)
{
    if (d->ev_count == 0)
        return 0;
    weir_dtls_event *ev = &d->events[d->ev_head];
    *out = *ev;
    OPENSSL_cleanse(ev, sizeof *ev);
    d->ev_head = (d->ev_head + 1) % EVENT_QUEUE_LEN;
    d->ev_count--;
    return 1;
}

int weir_dtls_poll_data(weir_dtls *d, const uint8_t **data, size_t *len)
{
    if (d->rx_head == d->rx_count ||
        (d->state != WEIR_DTLS_STATE_CONNECTED && d->state != WEIR_DTLS_STATE_CLOSED))
        return 0;
    const struct rx_item *it = &d->rx_items[d->rx_head++];
    *data = d->rx_buf + it->off;
    *len = it->len;
    /* Rewind once drained; the bytes stay valid until the next call on d. */
    if (d->rx_head == d->rx_count)
        drop_rx(d);
    return 1;
}

int weir_dtls_write(weir_dtls *d, int64_t now_us, const uint8_t *buf, size_t len)
{
    if (d->state != WEIR_DTLS_STATE_CONNECTED)
        return -WEIR_EPERM;
    if (!buf || len == 0)
        return -WEIR_EINVAL;
    if (len > WEIR_DTLS_MAX_WRITE)
        return -WEIR_ETOOBIG;
    advance_clock(d, now_us);
    if (!need_buffers(d))
        return -WEIR_EIO;
    d->app_data = true;
    ERR_clear_error();
    int n = SSL_write(d->ssl, buf, (int)len);
    if (n == (int)len)
        return 0;
    fail_from_openssl(d, "write");
    return -WEIR_EIO;
}

int weir_dtls_close(weir_dtls *d, int64_t now_us)
{
    if (is_terminal(d))
        return 0;
    advance_clock(d, now_us);
    if (SSL_is_init_finished(d->ssl) && wake_buffers(d)) {
        ERR_clear_error();
        SSL_shutdown(d->ssl); /* queues close_notify; we do not wait for the answer */
        ERR_clear_error();
    }
    closed(d, WEIR_DTLS_REASON_LOCAL_CLOSE);
    return 0;
}

weir_dtls_state weir_dtls_get_state(const weir_dtls *d)
{
    return d->state;
}

uint64_t weir_dtls_dropped_bytes(const weir_dtls *d)
{
    return d->dropped_bytes;
}
