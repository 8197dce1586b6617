/*
 * Hand-made AEAD_AES_128_GCM master keys for the SRTP unit tests and fuzz
 * targets: one side's keys and the same keys seen from the far side (local
 * and remote swapped), so a pair of weir_srtp objects can talk without a
 * DTLS handshake.
 */
#ifndef WEIR_TEST_SUPPORT_GCM_KEYS_H
#define WEIR_TEST_SUPPORT_GCM_KEYS_H

#include <string.h>

#include "peer/srtp.h"

static inline void test_gcm_keys(weir_srtp_keys *k, weir_srtp_keys *far)
{
    *k = (weir_srtp_keys){
        .profile = WEIR_SRTP_PROFILE_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 12};
    for (int i = 0; i < 16; i++) {
        k->local_key[i] = (uint8_t)(0x30 + i * 11);
        k->remote_key[i] = (uint8_t)(0xa0 ^ (i * 29));
    }
    for (int i = 0; i < 12; i++) {
        k->local_salt[i] = (uint8_t)(0x5c + i * 17);
        k->remote_salt[i] = (uint8_t)(0x07 * i + 1);
    }
    if (!far)
        return;
    *far = *k;
    memcpy(far->local_key, k->remote_key, 16);
    memcpy(far->remote_key, k->local_key, 16);
    memcpy(far->local_salt, k->remote_salt, 12);
    memcpy(far->remote_salt, k->local_salt, 12);
}

#endif
