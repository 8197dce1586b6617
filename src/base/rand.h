/**
 * Seedable pseudo-random generator (xoshiro256**) so that a failing test
 * replays exactly. Not for secrets: those come from OpenSSL's RAND_bytes.
 */
#ifndef WEIR_BASE_RAND_H
#define WEIR_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir_rand {
    uint64_t s[4];
} weir_rand;

void weir_rand_seed(weir_rand *r, uint64_t seed);
/** Seeds from the operating system's entropy (getrandom). */
void weir_rand_seed_os(weir_rand *r);
uint64_t weir_rand_u64(weir_rand *r);
/** Uniform in [0, bound) for bound > 0. */
uint32_t weir_rand_below(weir_rand *r, uint32_t bound);
/**
 * Writes a random identifier of n characters from [a-z0-9] plus NUL into
 * out (cap >= n + 1).
 */
void weir_rand_id(weir_rand *r, char *out, size_t n);

#endif
