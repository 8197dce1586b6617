#include "base/token_bucket.h"

void weir_token_bucket_init(weir_token_bucket *b, double rate_per_sec, double burst)
{
    b->rate_per_sec = rate_per_sec;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last_us = -1;
}

bool weir_token_bucket_take(weir_token_bucket *b, int64_t now_us)
{
    if (b->last_us >= 0 && now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * b->rate_per_sec / 1e6;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
    }
    if (now_us > b->last_us)
        b->last_us = now_us;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}
