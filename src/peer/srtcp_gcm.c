/*
 * SRTCP AEAD_AES_128_GCM on OpenSSL EVP (see srtcp_gcm.h for why it is not
 * libsrtp's). Three parts: keying at create, the per-SSRC replay windows of
 * the inbound direction, and the two packet transforms.
 */
#define WEIR_LOG_MODULE "peer.srtcp_gcm"

#include "peer/srtcp_gcm.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#include "peer/srtp_kdf.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define HEADER_LEN 8 /* V/P/RC, PT, length, SSRC: the part left in clear */
#define INDEX_LEN 4  /* E flag + 31-bit SRTCP index */
#define SALT_LEN 12
#define IV_LEN 12
#define E_FLAG 0x80000000u

/*
 * Replay state of one remote SSRC: the highest index authenticated and a
 * 128-bit map of the indices below it; bit i of seen[i / 64] is highest - i.
 */
typedef struct replay_entry {
    uint32_t ssrc;
    uint32_t highest;
    uint64_t seen[2];
} replay_entry;

struct weir_srtcp_gcm {
    /* owned: */
    EVP_CIPHER_CTX *ctx;  /* keyed once with the SRTCP session key; only the IV changes */
    replay_entry *replay; /* inbound only; grows by doubling */
    /* state: */
    bool inbound;
    uint8_t session_salt[SALT_LEN];
    uint32_t last_index; /* outbound: the last index used (0: none yet) */
    size_t n_replay;
    size_t cap_replay;
};

weir_srtcp_gcm *weir_srtcp_gcm_create(const uint8_t *master_key, const uint8_t *master_salt,
                                      bool inbound)
{
    if (!master_key || !master_salt)
        return NULL;
    weir_srtcp_gcm *t = WEIR_NEW(weir_srtcp_gcm);
    t->inbound = inbound;
    uint8_t session_key[16];
    int rc = weir_srtp_kdf(master_key, master_salt, SALT_LEN, WEIR_SRTP_LABEL_RTCP_ENCRYPTION,
                           session_key, sizeof session_key);
    if (rc == 0)
        rc = weir_srtp_kdf(master_key, master_salt, SALT_LEN, WEIR_SRTP_LABEL_RTCP_SALT,
                           t->session_salt, sizeof t->session_salt);
    t->ctx = EVP_CIPHER_CTX_new();
    /* The default GCM IV length is 12 bytes, the SRTCP one (RFC 7714 §9.1). */
    int ok =
        rc == 0 && t->ctx &&
        (inbound ? EVP_DecryptInit_ex(t->ctx, EVP_aes_128_gcm(), NULL, session_key, NULL)
                 : EVP_EncryptInit_ex(t->ctx, EVP_aes_128_gcm(), NULL, session_key, NULL)) == 1;
    OPENSSL_cleanse(session_key, sizeof session_key);
    if (!ok) {
        WEIR_LOG_ERROR("create_failed reason=openssl inbound=%d", (int)inbound);
        weir_srtcp_gcm_destroy(t);
        return NULL;
    }
    return t;
}

void weir_srtcp_gcm_destroy(weir_srtcp_gcm *t)
{
    if (!t)
        return;
    EVP_CIPHER_CTX_free(t->ctx); /* cleanses the key schedule it holds */
    if (t->replay)
        OPENSSL_cleanse(t->replay, t->cap_replay * sizeof *t->replay);
    weir_free(t->replay);
    OPENSSL_cleanse(t, sizeof *t);
    weir_free(t);
}

/* ---- replay windows (inbound) ---------------------------------------- */

static replay_entry *find_replay(weir_srtcp_gcm *t, uint32_t ssrc)
{
    for (size_t i = 0; i < t->n_replay; i++)
        if (t->replay[i].ssrc == ssrc)
            return &t->replay[i];
    return NULL;
}

static bool seen_bit(const replay_entry *e, uint32_t back)
{
    return (e->seen[back / 64] >> (back % 64)) & 1u;
}

/* Whether index may be accepted: not seen, and not older than the window. */
static bool replay_ok(const replay_entry *e, uint32_t index)
{
    if (!e || index > e->highest)
        return true;
    uint32_t back = e->highest - index;
    return back < WEIR_SRTCP_GCM_REPLAY_WINDOW && !seen_bit(e, back);
}

/* Moves the window up by n indices: each bit i becomes bit i + n. */
static void shift_window(replay_entry *e, uint32_t n)
{
    if (n >= WEIR_SRTCP_GCM_REPLAY_WINDOW) {
        e->seen[0] = e->seen[1] = 0;
    } else if (n >= 64) {
        e->seen[1] = e->seen[0] << (n - 64);
        e->seen[0] = 0;
    } else if (n > 0) {
        e->seen[1] = (e->seen[1] << n) | (e->seen[0] >> (64 - n));
        e->seen[0] <<= n;
    }
}

/* Records an authenticated index; e is NULL for an SSRC not tracked yet (room checked). */
static void replay_commit(weir_srtcp_gcm *t, replay_entry *e, uint32_t ssrc, uint32_t index)
{
    if (!e) {
        if (t->n_replay == t->cap_replay) {
            size_t cap = t->cap_replay ? 2 * t->cap_replay : 4;
            replay_entry *grown = weir_calloc(cap, sizeof *grown);
            if (t->n_replay)
                memcpy(grown, t->replay, t->n_replay * sizeof *grown);
            weir_free(t->replay);
            t->replay = grown;
            t->cap_replay = cap;
        }
        t->replay[t->n_replay++] = (replay_entry){.ssrc = ssrc, .highest = index, .seen = {1, 0}};
        return;
    }
    if (index > e->highest) {
        shift_window(e, index - e->highest);
        e->highest = index;
        e->seen[0] |= 1;
    } else {
        uint32_t back = e->highest - index;
        e->seen[back / 64] |= (uint64_t)1 << (back % 64);
    }
}

int weir_srtcp_gcm_remove_ssrc(weir_srtcp_gcm *t, uint32_t ssrc)
{
    replay_entry *e = find_replay(t, ssrc);
    if (!e)
        return -WEIR_ENOTFOUND;
    *e = t->replay[--t->n_replay]; /* order does not matter */
    memset(&t->replay[t->n_replay], 0, sizeof t->replay[t->n_replay]);
    return 0;
}

size_t weir_srtcp_gcm_ssrc_count(const weir_srtcp_gcm *t)
{
    return t->n_replay;
}

/* ---- transforms --------------------------------------------------------- */

/* RFC 7714 §9.1: 00 00 || SSRC || 00 00 || 0 + index, XOR the session salt. */
static void make_iv(const weir_srtcp_gcm *t, const uint8_t *header, uint32_t index,
                    uint8_t iv[IV_LEN])
{
    uint8_t raw[IV_LEN] = {0,
                           0,
                           header[4],
                           header[5],
                           header[6],
                           header[7],
                           0,
                           0,
                           (uint8_t)(index >> 24),
                           (uint8_t)(index >> 16),
                           (uint8_t)(index >> 8),
                           (uint8_t)index};
    for (size_t i = 0; i < IV_LEN; i++)
        iv[i] = raw[i] ^ t->session_salt[i];
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int weir_srtcp_gcm_protect(weir_srtcp_gcm *t, uint8_t *buf, size_t *len, size_t cap)
{
    size_t n = *len;
    if (t->inbound || !buf || n < HEADER_LEN)
        return -WEIR_EINVAL;
    if (cap < n + WEIR_SRTCP_GCM_OVERHEAD || n + WEIR_SRTCP_GCM_OVERHEAD > (size_t)INT_MAX)
        return -WEIR_ETOOBIG;
    if (t->last_index >= WEIR_SRTCP_GCM_MAX_INDEX) {
        WEIR_LOG_ERROR("index_spent action=refuse_rtcp");
        return -WEIR_EIO;
    }
    uint32_t index = ++t->last_index;
    uint8_t iv[IV_LEN];
    make_iv(t, buf, index, iv);
    /* The E + index word goes after the tag but is part of the AAD, so write it first. */
    uint8_t *word = buf + n + WEIR_SRTCP_GCM_TAG_LEN;
    put_u32(word, E_FLAG | index);
    EVP_CIPHER_CTX *c = t->ctx;
    int out = 0, fin = 0;
    int payload_len = (int)(n - HEADER_LEN);
    OSSL_PARAM tag[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, buf + n,
                                          WEIR_SRTCP_GCM_TAG_LEN),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
        EVP_EncryptUpdate(c, NULL, &out, buf, HEADER_LEN) != 1 ||
        EVP_EncryptUpdate(c, NULL, &out, word, INDEX_LEN) != 1 ||
        (payload_len > 0 &&
         EVP_EncryptUpdate(c, buf + HEADER_LEN, &out, buf + HEADER_LEN, payload_len) != 1) ||
        EVP_EncryptFinal_ex(c, buf + n, &fin) != 1 || fin != 0 ||
        EVP_CIPHER_CTX_get_params(c, tag) != 1 || !OSSL_PARAM_modified(&tag[0]))
        return -WEIR_EIO;
    *len = n + WEIR_SRTCP_GCM_OVERHEAD;
    return 0;
}

int weir_srtcp_gcm_unprotect(weir_srtcp_gcm *t, uint8_t *buf, size_t *len)
{
    size_t n = *len;
    if (!t->inbound || !buf || n < HEADER_LEN + WEIR_SRTCP_GCM_OVERHEAD || n > (size_t)INT_MAX)
        return -WEIR_EINVAL;
    uint8_t *word = buf + n - INDEX_LEN;
    uint8_t *tag = word - WEIR_SRTCP_GCM_TAG_LEN;
    uint32_t e_index = get_u32(word);
    if (!(e_index & E_FLAG))
        return -WEIR_EAUTH;
    uint32_t index = e_index & WEIR_SRTCP_GCM_MAX_INDEX;
    uint32_t ssrc = get_u32(buf + 4);
    replay_entry *e = find_replay(t, ssrc);
    if (!replay_ok(e, index))
        return -WEIR_EEXIST;
    if (!e && t->n_replay >= WEIR_SRTCP_GCM_MAX_SSRCS)
        return -WEIR_ENOTFOUND;

    uint8_t iv[IV_LEN];
    make_iv(t, buf, index, iv);
    EVP_CIPHER_CTX *c = t->ctx;
    int out = 0, fin = 0;
    int payload_len = (int)(tag - buf - HEADER_LEN);
    OSSL_PARAM tag_param[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, WEIR_SRTCP_GCM_TAG_LEN),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
        EVP_DecryptUpdate(c, NULL, &out, buf, HEADER_LEN) != 1 ||
        EVP_DecryptUpdate(c, NULL, &out, word, INDEX_LEN) != 1 ||
        (payload_len > 0 &&
         EVP_DecryptUpdate(c, buf + HEADER_LEN, &out, buf + HEADER_LEN, payload_len) != 1) ||
        EVP_CIPHER_CTX_set_params(c, tag_param) != 1)
        return -WEIR_EIO;
    /* The tag is checked here: nothing decrypted above is used before this passes. */
    if (EVP_DecryptFinal_ex(c, buf + HEADER_LEN + payload_len, &fin) != 1 || fin != 0)
        return -WEIR_EAUTH;
    replay_commit(t, e, ssrc, index);
    *len = n - WEIR_SRTCP_GCM_OVERHEAD;
    return 0;
}
