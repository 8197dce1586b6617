#include "base/rand.h"

#include <sys/random.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64 expands one seed into the four words xoshiro needs. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void weir_rand_seed(weir_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

void weir_rand_seed_os(weir_rand *r)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)r ^ 0x5deece66dULL;
    weir_rand_seed(r, seed);
}

uint64_t weir_rand_u64(weir_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t weir_rand_below(weir_rand *r, uint32_t bound)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant for ids and loss models. */
    return (uint32_t)(((weir_rand_u64(r) >> 32) * (uint64_t)bound) >> 32);
}

void weir_rand_id(weir_rand *r, char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[weir_rand_below(r, sizeof alphabet - 1)];
    out[n] = '\0';
}
