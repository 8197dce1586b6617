/**
 * Token bucket rate limiter, time passed in. Used per WebSocket connection
 * for signalling requests.
 */
#ifndef WEIR_BASE_TOKEN_BUCKET_H
#define WEIR_BASE_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct weir_token_bucket {
    double tokens;
    double rate_per_sec;
    double burst;
    int64_t last_us; /* -1 until the first call */
} weir_token_bucket;

/** Starts full. burst below 1 is raised to 1. */
void weir_token_bucket_init(weir_token_bucket *b, double rate_per_sec, double burst);
/** Takes one token if available; a time earlier than the last one counts as the last one. */
bool weir_token_bucket_take(weir_token_bucket *b, int64_t now_us);

#endif
