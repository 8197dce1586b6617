/**
 * Outbound SRTP for AEAD_AES_128_GCM (RFC 7714) on OpenSSL EVP: the
 * SFU's hot path, since every forwarded packet is encrypted once per
 * subscriber.
 *
 * Why not libsrtp2: Debian builds libsrtp2 on NSS, whose GCM sets up a
 * PK11 context (with mutexes) for every packet; at 100 subscribers that was
 * ~20 % of a core in NSS plus ~6 % in libsrtp's own stream bookkeeping.
 * Here one EVP_CIPHER_CTX is keyed once with the session key and only the
 * IV changes per packet. Output is byte-identical to libsrtp's protect
 * (tests/unit/test_srtp.c checks it), so the receiver cannot tell.
 *
 * What it does per packet: the session key and salt come from the master
 * key/salt through the SRTP KDF once, at create (srtp_kdf.h); IV = 00 00 || SSRC || ROC || SEQ, XOR session
 * salt (RFC 7714 §8.1); AAD = the RTP header with CSRCs and header
 * extension; the payload is encrypted in place and a 16-byte tag appended.
 *
 * Rollover counters: one entry per SSRC holds the highest packet index
 * sent (ROC << 16 | SEQ). A packet's index is estimated from it like
 * libsrtp's sender does (RFC 3711 Appendix A), so a seq wrap moves to the
 * next ROC and an older seq resent for a NACK gets the ROC it had first.
 * Repeats are allowed (the caller resends byte-identical packets, see
 * weir_srtp_options.allow_repeat_tx): this module keeps no replay bitmap.
 * A seq `window` or more packets behind the highest is refused, as libsrtp
 * refuses it, so both paths answer alike.
 *
 * SSRCs are not added implicitly: protect answers -WEIR_ENOTFOUND for an
 * unknown SSRC and the owner decides (weir_srtp_gcm_tx_add_ssrc). The table
 * grows with use up to WEIR_SRTP_GCM_TX_MAX_SSRCS entries; past it add_ssrc answers
 * -WEIR_EFULL and nothing is evicted, because forgetting a live SSRC's ROC
 * would reuse GCM nonces (fatal for GCM's authenticity) and desynchronise
 * the receiver. srtp.c sends such SSRCs through libsrtp instead.
 *
 * Sans-IO: no clock, no I/O, no locks. Not thread-safe (one per peer, owned
 * by the peer's worker). Never logs per packet.
 */
#ifndef WEIR_PEER_SRTP_GCM_TX_H
#define WEIR_PEER_SRTP_GCM_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/errors.h"

#define WEIR_SRTP_GCM_TX_KEY_LEN 16
#define WEIR_SRTP_GCM_TX_SALT_LEN 12
#define WEIR_SRTP_GCM_TX_TAG_LEN 16
/* Live SSRCs per object; the hash table grows to twice as many slots. */
#define WEIR_SRTP_GCM_TX_MAX_SSRCS 256

typedef struct weir_srtp_gcm_tx weir_srtp_gcm_tx;

/**
 * Derives the session key and salt from the master key (16 bytes) and
 * master salt (12 bytes) and keys the cipher. Both inputs are borrowed
 * (the caller may wipe them after the call). window (1..32767) is the
 * replay window of the twin libsrtp session: a packet window or more
 * packets behind the highest sent is refused (window rounded up to a
 * multiple of 32, as libsrtp sizes its bitmap). Returns NULL on a bad window
 * or an OpenSSL failure (logged).
 */
weir_srtp_gcm_tx *weir_srtp_gcm_tx_create(const uint8_t *master_key, const uint8_t *master_salt,
                                          uint32_t window);
/** Frees the cipher context and wipes the session key, salt and SSRC table. NULL is a no-op. */
void weir_srtp_gcm_tx_destroy(weir_srtp_gcm_tx *t);

/**
 * Protects the RTP packet buf[0..*len) in place; cap is the buffer size.
 * On success *len grows by WEIR_SRTP_GCM_TX_TAG_LEN and the SSRC's highest
 * index may advance. Errors, with the buffer, *len and the state unchanged:
 *   -WEIR_EINVAL     shorter than its header (12 bytes, CSRCs, extension)
 *   -WEIR_ETOOBIG    cap < *len + tag, or the packet is over INT_MAX
 *   -WEIR_ENOTFOUND  SSRC not in the table (see weir_srtp_gcm_tx_add_ssrc)
 *   -WEIR_EEXIST     seq older than the window (WEIR_SRTP_EREPLAY)
 *   -WEIR_EIO        OpenSSL failed (then the buffer's bytes are unspecified)
 */
int weir_srtp_gcm_tx_protect(weir_srtp_gcm_tx *t, uint8_t *buf, size_t *len, size_t cap);

/**
 * Starts tracking ssrc with no packet sent (its first packet's seq is taken
 * at ROC 0, as libsrtp does for a new stream). Returns 0, -WEIR_EEXIST if
 * already tracked, or -WEIR_EFULL with WEIR_SRTP_GCM_TX_MAX_SSRCS tracked.
 */
int weir_srtp_gcm_tx_add_ssrc(weir_srtp_gcm_tx *t, uint32_t ssrc);
/** Forgets ssrc's rollover state; returns 0 or -WEIR_ENOTFOUND. */
int weir_srtp_gcm_tx_remove_ssrc(weir_srtp_gcm_tx *t, uint32_t ssrc);
bool weir_srtp_gcm_tx_has_ssrc(const weir_srtp_gcm_tx *t, uint32_t ssrc);
/** Number of SSRCs tracked. */
size_t weir_srtp_gcm_tx_ssrc_count(const weir_srtp_gcm_tx *t);

#endif
