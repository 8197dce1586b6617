/**
 * The SRTP key derivation function (RFC 3711 §4.3) for the OpenSSL paths
 * (srtp_gcm_tx.c, srtcp_gcm.c): session keys and salts from a DTLS-SRTP
 * master key and salt, with key_derivation_rate 0 (the only rate WebRTC
 * uses, RFC 5764 §4.1.2) and the AES-CM PRF.
 *
 * GCM master salts are 96 bits; the PRF takes 112, so the salt is
 * multiplied by 2^16 (two zero bytes appended: RFC 7714 §11, errata 4938),
 * which is what libsrtp does.
 *
 * Sans-IO: no clock, no I/O. Thread-safe (no shared state).
 */
#ifndef WEIR_PEER_SRTP_KDF_H
#define WEIR_PEER_SRTP_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "weir/errors.h"

#define WEIR_SRTP_KDF_MASTER_KEY_LEN 16
#define WEIR_SRTP_KDF_MAX_SALT_LEN 14

/* Labels, RFC 3711 §4.3.2. */
enum {
    WEIR_SRTP_LABEL_RTP_ENCRYPTION = 0x00,
    WEIR_SRTP_LABEL_RTP_SALT = 0x02,
    WEIR_SRTP_LABEL_RTCP_ENCRYPTION = 0x03,
    WEIR_SRTP_LABEL_RTCP_SALT = 0x05,
};

/**
 * Writes out_len (<= 16) bytes of the PRF keystream for label under the
 * 16-byte master key and the master salt (salt_len 12 or 14 bytes, taken
 * as the top salt_len bytes of the 112-bit x). Returns 0, -WEIR_EINVAL on a
 * bad length, or -WEIR_EIO if OpenSSL fails.
 */
int weir_srtp_kdf(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len,
                  uint8_t label, uint8_t *out, size_t out_len);

#endif
