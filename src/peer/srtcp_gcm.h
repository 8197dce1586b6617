/**
 * SRTCP for AEAD_AES_128_GCM (RFC 7714 §9) on OpenSSL EVP, one direction
 * per object: protect (our RTCP to the peer, local write key) or unprotect
 * (the peer's RTCP, remote write key).
 *
 * Why not libsrtp2: with RTP out on srtp_gcm_tx.c, libsrtp was left holding
 * RTCP only, and for that each peer kept two libsrtp sessions whose NSS key
 * contexts cost ~22 KB per peer: the largest item in the memory per
 * subscriber. With RTCP here, a subscriber under GCM needs no libsrtp session
 * at all (srtp.c creates them on first use). Interoperation with libsrtp is
 * checked both ways in tests/unit/test_srtp.c.
 *
 * Packet layout (RFC 7714 §9.1-9.2):
 *   header (8) | encrypted payload | tag (16) | E (1 bit) + SRTCP index (31)
 * IV  = 00 00 || SSRC || 00 00 || 0 + index, XOR the SRTCP session salt;
 * AAD = the first 8 octets || the E + index word.
 * Session key and salt come from labels 0x03 and 0x05 (srtp_kdf.h).
 *
 * Protect: one SRTCP index counter per object, starting at 1 and shared by
 * every SSRC we send RTCP from. The IV holds the SSRC and an index used
 * once, so no (key, IV) pair repeats; a receiver keeps its replay window per
 * SSRC and accepts forward gaps. After 2^31 - 1 packets the counter is spent
 * and protect fails (-WEIR_EIO): the key must change (never reached in
 * practice: that is 68 years at one packet per second).
 *
 * Unprotect: a replay window of 128 indices per SSRC (as libsrtp's), kept
 * for up to WEIR_SRTCP_GCM_MAX_SSRCS SSRCs; an SSRC's state is created when
 * its first packet authenticates. Unencrypted SRTCP (E = 0) is refused as
 * an authentication failure: WebRTC always encrypts RTCP, and the E bit is
 * covered by the tag, so an E = 0 packet is either forged or tampered with.
 *
 * Sans-IO: no clock, no I/O, no locks. Not thread-safe (one per peer and
 * direction, owned by the peer's worker). Never logs per packet.
 */
#ifndef WEIR_PEER_SRTCP_GCM_H
#define WEIR_PEER_SRTCP_GCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/errors.h"

#define WEIR_SRTCP_GCM_TAG_LEN 16
/* Bytes protect adds: the tag and the E + index word. */
#define WEIR_SRTCP_GCM_OVERHEAD (WEIR_SRTCP_GCM_TAG_LEN + 4)
/* Remote SSRCs with replay state per object. */
#define WEIR_SRTCP_GCM_MAX_SSRCS 256
#define WEIR_SRTCP_GCM_REPLAY_WINDOW 128
#define WEIR_SRTCP_GCM_MAX_INDEX 0x7fffffffu

typedef struct weir_srtcp_gcm weir_srtcp_gcm;

/**
 * Derives the SRTCP session key and salt from the 16-byte master key and
 * 12-byte master salt (borrowed) and keys the cipher for one direction.
 * Returns NULL on an OpenSSL failure (logged).
 */
weir_srtcp_gcm *weir_srtcp_gcm_create(const uint8_t *master_key, const uint8_t *master_salt,
                                      bool inbound);
/** Frees the cipher context and wipes the keys and replay state. NULL is a no-op. */
void weir_srtcp_gcm_destroy(weir_srtcp_gcm *t);

/**
 * Protects the (compound) RTCP packet buf[0..*len) in place; cap is the
 * buffer size. On success *len grows by WEIR_SRTCP_GCM_OVERHEAD. Errors,
 * with *len unchanged:
 *   -WEIR_EINVAL    shorter than 8 bytes, or an inbound object
 *   -WEIR_ETOOBIG   cap < *len + overhead, or the packet is over INT_MAX
 *   -WEIR_EIO       the index is spent, or OpenSSL failed
 */
int weir_srtcp_gcm_protect(weir_srtcp_gcm *t, uint8_t *buf, size_t *len, size_t cap);

/**
 * Verifies and decrypts the SRTCP packet buf[0..*len) in place; on success
 * *len shrinks by WEIR_SRTCP_GCM_OVERHEAD. Errors, with *len unchanged and
 * the replay state untouched (the buffer may hold partly decrypted bytes
 * after an authentication failure):
 *   -WEIR_EINVAL     shorter than header + tag + index word, or an outbound object
 *   -WEIR_EAUTH      tag mismatch, or E = 0
 *   -WEIR_EEXIST     index already seen or older than the window (replay)
 *   -WEIR_ENOTFOUND  a new SSRC while WEIR_SRTCP_GCM_MAX_SSRCS are tracked
 *   -WEIR_EIO        OpenSSL failed
 */
int weir_srtcp_gcm_unprotect(weir_srtcp_gcm *t, uint8_t *buf, size_t *len);

/** Forgets an inbound SSRC's replay state; returns 0 or -WEIR_ENOTFOUND. */
int weir_srtcp_gcm_remove_ssrc(weir_srtcp_gcm *t, uint32_t ssrc);
/** Inbound SSRCs with replay state. */
size_t weir_srtcp_gcm_ssrc_count(const weir_srtcp_gcm *t);

#endif
