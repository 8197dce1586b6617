/**
 * The one place that reads clocks. Everything else receives `now_us` as a
 * parameter so that it can run on a fake clock in tests.
 */
#ifndef WEIR_BASE_CLOCK_H
#define WEIR_BASE_CLOCK_H

#include <stdint.h>

/** Monotonic time in microseconds (CLOCK_MONOTONIC). */
int64_t weir_clock_now_us(void);
/** Wall time in milliseconds since the epoch (for tokens, stamps shown to users). */
int64_t weir_clock_wall_ms(void);

#endif
