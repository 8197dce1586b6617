/* SRTP key derivation on OpenSSL's AES-128-CTR (see srtp_kdf.h). */
#include "peer/srtp_kdf.h"

#include <openssl/evp.h>
#include <string.h>

/*
 * AES-CM PRF with key_derivation_rate 0: the keystream of AES-128 in counter
 * mode under the master key, starting at x = (label << 48) XOR master_salt
 * in the top 112 bits and a 16-bit block counter of 0 (RFC 3711 §4.3.1,
 * §4.3.3). Encrypting zeros gives the keystream itself.
 */
int weir_srtp_kdf(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len,
                  uint8_t label, uint8_t *out, size_t out_len)
{
    if (!master_key || !master_salt || !out || out_len > 16 ||
        (salt_len != 12 && salt_len != WEIR_SRTP_KDF_MAX_SALT_LEN))
        return -WEIR_EINVAL;
    uint8_t iv[16] = {0};
    memcpy(iv, master_salt, salt_len);
    iv[7] ^= label; /* the label sits just above the 48-bit (index DIV kdr) */
    uint8_t zeros[16] = {0};
    int n = 0, fin = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, master_key, iv) == 1 &&
             EVP_EncryptUpdate(c, out, &n, zeros, (int)out_len) == 1 &&
             EVP_EncryptFinal_ex(c, out + n, &fin) == 1 && (size_t)(n + fin) == out_len;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -WEIR_EIO;
}
