/**
 * weir-load's answer to a server's subscriber offer, for any number of
 * m-lines (a meeting of 10 is 18 of them, a classroom of 31 publishers 62;
 * weir-client's answer writer stops at 16). Each audio m-line takes Opus,
 * each video m-line VP8 (+ its RTX), recvonly; anything else is rejected
 * with port 0 and left out of BUNDLE. a=setup:active: we are the DTLS client.
 *
 * Pure: parses with the core SDP parser, writes text; no I/O.
 */
#ifndef WL_ANSWER_H
#define WL_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/sdp.h"

#define WL_ANSWER_MAX_CANDS 8

typedef struct wl_answer_params {
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *fingerprint; /* "sha-256 AB:CD:..." */
    uint64_t session_version;
} wl_answer_params;

/** What the caller needs of the offer to connect to it. */
typedef struct wl_offer_info {
    char ice_ufrag[257];
    char ice_pwd[257];
    char fp_hash[16];
    char fingerprint[200];
    weir_sdp_setup setup;
    char candidates[WL_ANSWER_MAX_CANDS][160]; /* "candidate:..." (UDP only) */
    size_t n_candidates;
    int audio_pt;    /* Opus payload type of the offer; -1 when none */
    size_t accepted; /* m-lines accepted */
} wl_offer_info;

/**
 * Answers offer (text, borrowed). Returns 0 with *answer (weir_free) and
 * *info filled, or -WEIR_EINVAL with a reason in err.
 */
int wl_answer_offer(const char *offer, const wl_answer_params *p, char **answer,
                    wl_offer_info *info, char *err, size_t err_len);

#endif
