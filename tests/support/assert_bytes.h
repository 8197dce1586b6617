/* Shared Criterion assertion for tests that compare wire bytes. */
#ifndef WEIR_TEST_ASSERT_BYTES_H
#define WEIR_TEST_ASSERT_BYTES_H

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

/* Equal length and equal bytes; the message names the first differing byte. */
static inline void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
                                size_t want_len)
{
    cr_assert_eq(got_len, want_len, "length %zu, want %zu", got_len, want_len);
    for (size_t i = 0; i < want_len; i++)
        cr_assert_eq(got[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, got[i], want[i]);
}

#endif
