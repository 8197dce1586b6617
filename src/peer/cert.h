/**
 * The DTLS certificate of this process: an ECDSA P-256 key and a self-signed
 * X.509 certificate, generated at start-up or loaded from PEM files, and its
 * SHA-256 fingerprint as it goes into SDP (RFC 8122 §5: "a=fingerprint:").
 *
 * WebRTC authenticates DTLS peers by the fingerprint carried in signalling,
 * not by a CA chain (RFC 8827 §6.5), so the certificate only has to exist,
 * be stable for the life of the process and match what we announce.
 *
 * Thread safety: a weir_cert is immutable once created. main creates one,
 * every media worker reads it concurrently (each worker builds its own
 * SSL_CTX from it with weir_dtls_ctx_create, which takes its own references
 * on the X509 and EVP_PKEY), and main destroys it after the workers stopped.
 */
#ifndef WEIR_PEER_CERT_H
#define WEIR_PEER_CERT_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

typedef struct weir_cert weir_cert;

/* "sha-256 " + 32 bytes as "AB:" pairs (the last without ':') + NUL. */
#define WEIR_CERT_FINGERPRINT_LEN (8 + 32 * 3)

/** Common name and validity of generated certificates. */
#define WEIR_CERT_COMMON_NAME "weir"
#define WEIR_CERT_VALID_DAYS 30

/**
 * Generates a fresh P-256 key and a self-signed certificate (random 64-bit
 * serial, CN "weir", valid from one day before now_wall_ms for
 * WEIR_CERT_VALID_DAYS days; the day of slack absorbs peers' clock skew).
 * now_wall_ms is wall time in milliseconds since the epoch (the caller reads
 * the clock). On failure returns NULL and writes a one-line reason into err
 * (when err_len > 0).
 */
weir_cert *weir_cert_generate(int64_t now_wall_ms, char *err, size_t err_len);

/**
 * Builds a weir_cert from PEM text held in memory: a certificate and its
 * unencrypted private key (any key type OpenSSL can sign with; browsers
 * accept ECDSA and RSA). Checks that the key matches the certificate.
 * The buffers are borrowed for the call. On failure returns NULL and writes
 * a one-line reason into err.
 */
weir_cert *weir_cert_parse_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                               size_t key_len, char *err, size_t err_len);

/**
 * Loads the certificate and key from PEM files, for operators who want a
 * stable fingerprint across restarts. File I/O under src/peer: this runs
 * once in main before any worker starts, never on the media path. On failure
 * returns NULL and writes a reason naming the file into err.
 */
weir_cert *weir_cert_load_pem_files(const char *cert_path, const char *key_path, char *err,
                                    size_t err_len);

/** Frees the certificate. NULL is a no-op. Only after every weir_dtls_ctx built from it is gone. */
void weir_cert_destroy(weir_cert *cert);

/** "sha-256 AB:CD:..." as it follows "a=fingerprint:"; static for the cert's lifetime. */
const char *weir_cert_fingerprint(const weir_cert *cert);

/** The raw SHA-256 digest of the DER certificate (32 bytes). */
const uint8_t *weir_cert_fingerprint_sha256(const weir_cert *cert);

/** Borrowed OpenSSL objects for building an SSL_CTX (callers up-ref what they keep). */
X509 *weir_cert_x509(const weir_cert *cert);
EVP_PKEY *weir_cert_pkey(const weir_cert *cert);

#endif
