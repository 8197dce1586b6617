/*
 * Process certificate for DTLS-SRTP. Generated with OpenSSL 3's one-call
 * keygen; loaded from PEM through OpenSSL BIOs. See cert.h for the contract.
 */
#define WEIR_LOG_MODULE "peer.cert"

#include "peer/cert.h"

#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "weir/alloc.h"
#include "weir/log.h"

struct weir_cert {
    /* owned: */
    X509 *x509;
    EVP_PKEY *pkey;
    /* state (computed once, then read-only): */
    uint8_t sha256[32];
    char fingerprint[WEIR_CERT_FINGERPRINT_LEN];
};

/* Writes "what: <first OpenSSL reason>" into err and clears OpenSSL's error queue. */
static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    unsigned long e = ERR_peek_error();
    if (err && err_len > 0) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (e) {
            char reason[160];
            ERR_error_string_n(e, reason, sizeof reason);
            snprintf(err, err_len, "%s: %s", what, reason);
        } else {
            snprintf(err, err_len, "%s", what);
        }
    }
    ERR_clear_error();
}

static int compute_fingerprint(weir_cert *c)
{
    unsigned int n = 0;
    if (X509_digest(c->x509, EVP_sha256(), c->sha256, &n) != 1 || n != sizeof c->sha256)
        return -1;
    static const char hex[] = "0123456789ABCDEF";
    char *p = c->fingerprint;
    memcpy(p, "sha-256 ", 8);
    p += 8;
    for (size_t i = 0; i < sizeof c->sha256; i++) {
        *p++ = hex[c->sha256[i] >> 4];
        *p++ = hex[c->sha256[i] & 15];
        *p++ = i + 1 < sizeof c->sha256 ? ':' : '\0';
    }
    return 0;
}

/* Takes ownership of x509 and pkey (freed on failure). */
static weir_cert *cert_wrap(X509 *x509, EVP_PKEY *pkey, char *err, size_t err_len)
{
    weir_cert *c = WEIR_NEW(weir_cert);
    c->x509 = x509;
    c->pkey = pkey;
    if (compute_fingerprint(c) != 0) {
        set_err(err, err_len, "certificate digest failed");
        weir_cert_destroy(c);
        return NULL;
    }
    return c;
}

/* A positive, non-zero 63-bit serial (RFC 5280 §4.1.2.2 asks for positive, at most 20 octets). */
static int set_random_serial(X509 *x)
{
    uint8_t raw[8];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    raw[0] &= 0x7f;
    raw[0] |= 0x01 << 6;
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    if (!bn)
        return -1;
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return serial ? 0 : -1;
}

static int fill_self_signed(X509 *x, EVP_PKEY *pkey, int64_t now_wall_ms)
{
    time_t now = (time_t)(now_wall_ms / 1000);
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) != 0)
        return -1;
    if (!X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), WEIR_CERT_VALID_DAYS, 0, &now))
        return -1;
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)WEIR_CERT_COMMON_NAME, -1, -1, 0) != 1)
        return -1;
    if (X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1)
        return -1;
    return X509_sign(x, pkey, EVP_sha256()) > 0 ? 0 : -1;
}

weir_cert *weir_cert_generate(int64_t now_wall_ms, char *err, size_t err_len)
{
    X509 *x = NULL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pkey) {
        set_err(err, err_len, "P-256 key generation failed");
        goto fail;
    }
    x = X509_new();
    if (!x || fill_self_signed(x, pkey, now_wall_ms) != 0) {
        set_err(err, err_len, "self-signed certificate creation failed");
        goto fail;
    }
    weir_cert *c = cert_wrap(x, pkey, err, err_len);
    if (c)
        WEIR_LOG_INFO("generated key=ecdsa-p256 days=%d fingerprint=\"%s\"", WEIR_CERT_VALID_DAYS,
                      c->fingerprint);
    return c;
fail:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return NULL;
}

/* Never prompts on a terminal for a passphrase (OpenSSL's default callback would). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static weir_cert *from_bios(BIO *cert_bio, const char *cert_what, BIO *key_bio,
                            const char *key_what, char *err, size_t err_len)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = PEM_read_bio_X509(cert_bio, NULL, no_passphrase, NULL);
    if (!x) {
        set_err(err, err_len, "%s: no PEM certificate", cert_what);
        goto fail;
    }
    pkey = PEM_read_bio_PrivateKey(key_bio, NULL, no_passphrase, NULL);
    if (!pkey) {
        set_err(err, err_len, "%s: no unencrypted PEM private key", key_what);
        goto fail;
    }
    if (X509_check_private_key(x, pkey) != 1) {
        set_err(err, err_len, "%s does not match the certificate in %s", key_what, cert_what);
        goto fail;
    }
    return cert_wrap(x, pkey, err, err_len);
fail:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return NULL;
}

weir_cert *weir_cert_parse_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                               size_t key_len, char *err, size_t err_len)
{
    if (!cert_pem || !key_pem || cert_len > INT_MAX || key_len > INT_MAX) {
        set_err(err, err_len, "invalid PEM buffers");
        return NULL;
    }
    BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len);
    BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
    weir_cert *c = NULL;
    if (cb && kb)
        c = from_bios(cb, "certificate PEM", kb, "key PEM", err, err_len);
    else
        set_err(err, err_len, "out of memory");
    BIO_free(cb);
    BIO_free(kb);
    return c;
}

weir_cert *weir_cert_load_pem_files(const char *cert_path, const char *key_path, char *err,
                                    size_t err_len)
{
    BIO *cb = NULL, *kb = NULL;
    weir_cert *c = NULL;
    errno = 0;
    if (!cert_path || !(cb = BIO_new_file(cert_path, "r"))) { /* purity: start-up only */
        int e = errno ? errno : ENOENT;
        ERR_clear_error(); /* errno says it better than OpenSSL's "system library" line */
        set_err(err, err_len, "cannot open certificate file %s (%s)", cert_path ? cert_path : "-",
                strerror(e));
        goto out;
    }
    errno = 0;
    if (!key_path || !(kb = BIO_new_file(key_path, "r"))) { /* purity: start-up only */
        int e = errno ? errno : ENOENT;
        ERR_clear_error();
        set_err(err, err_len, "cannot open key file %s (%s)", key_path ? key_path : "-",
                strerror(e));
        goto out;
    }
    c = from_bios(cb, cert_path, kb, key_path, err, err_len);
    if (c)
        WEIR_LOG_INFO("loaded cert=%s fingerprint=\"%s\"", cert_path, c->fingerprint);
out:
    BIO_free(cb);
    BIO_free(kb);
    return c;
}

void weir_cert_destroy(weir_cert *cert)
{
    if (!cert)
        return;
    X509_free(cert->x509);
    EVP_PKEY_free(cert->pkey);
    weir_free(cert);
}

const char *weir_cert_fingerprint(const weir_cert *cert)
{
    return cert->fingerprint;
}

const uint8_t *weir_cert_fingerprint_sha256(const weir_cert *cert)
{
    return cert->sha256;
}

X509 *weir_cert_x509(const weir_cert *cert)
{
    return cert->x509;
}

EVP_PKEY *weir_cert_pkey(const weir_cert *cert)
{
    return cert->pkey;
}
