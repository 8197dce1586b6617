/*
 * OpenSSL 3.0's DTLS retransmission timer reads gettimeofday() itself (there
 * is no API to pass a time in), so tests that drive DTLS on a fake clock
 * interpose gettimeofday(): while fake_wall is true it returns WALL_BASE_S
 * plus fake_now_us; otherwise the real time. Include this in exactly one
 * translation unit of a test executable (each Criterion test file is one).
 */
#ifndef WEIR_TEST_FAKE_WALL_CLOCK_H
#define WEIR_TEST_FAKE_WALL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#define WALL_BASE_S 1700000000LL

static int64_t fake_now_us = 1000000;
static bool fake_wall;

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    if (fake_wall) {
        tv->tv_sec = (time_t)(WALL_BASE_S + fake_now_us / 1000000);
        tv->tv_usec = (suseconds_t)(fake_now_us % 1000000);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

#endif
