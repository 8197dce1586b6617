/*
 * Room log benchmark: append throughput and replay time of N whiteboard
 * messages (default 100,000) of a typical stroke size, through the real
 * file code in a mkdtemp directory under $TMPDIR (or /tmp).
 *
 * Usage: bench_room_log [records]
 *
 * Three runs, each printed with its rate:
 *   append, fsync every 50 ms  (the default policy; the clock is simulated
 *                               at one message per 100 us, so one fdatasync
 *                               per 500 appends)
 *   append, no fsync           (the write(2) path alone: the baseline)
 *   replay                     (create on the file just written)
 * The ratio of the first two shows what the fsync policy costs on this disk.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/room_log.h"
#include "weir/errors.h"
#include "weir/log.h"

static char dir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clean_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static weir_room_log *open_or_die(const weir_room_log_config *cfg, weir_room_log_replay *r)
{
    int err = 0;
    weir_room_log *log = weir_room_log_create(cfg, "bench", 0, r, &err);
    if (!log) {
        fprintf(stderr, "bench_room_log: create: %s\n", weir_strerror(err));
        exit(1);
    }
    return log;
}

/* Appends n strokes; returns seconds. */
static double append_run(const weir_room_log_config *cfg, uint64_t n)
{
    char data[160];
    clean_dir();
    weir_room_log *log = open_or_die(cfg, NULL);
    double t0 = now_s();
    for (uint64_t s = 1; s <= n; s++) {
        int len = snprintf(data, sizeof data,
                           "{\"op\":\"line\",\"color\":\"#1e88e5\",\"w\":3,"
                           "\"pts\":[%llu,%llu,%llu,%llu,%llu,%llu]}",
                           (unsigned long long)(s % 1280), (unsigned long long)(s % 720),
                           (unsigned long long)(s % 1277), (unsigned long long)(s % 719),
                           (unsigned long long)(s % 1275), (unsigned long long)(s % 717));
        weir_room_log_entry e = {.seq = s,
                                 .ts_ms = 1700000000000 + (int64_t)s,
                                 .from = "Xk3pQ9rT2mZa",
                                 .from_len = 12,
                                 .data = (const uint8_t *)data,
                                 .data_len = (uint32_t)len};
        int64_t now_us = (int64_t)s * 100;
        if (weir_room_log_append(log, WEIR_ROOM_LOG_WHITEBOARD, &e, now_us) < 0 ||
            weir_room_log_tick(log, now_us) < 0) {
            fprintf(stderr, "bench_room_log: append failed\n");
            exit(1);
        }
    }
    weir_room_log_destroy(log); /* the final sync is part of the cost */
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/weir-bench-room-log.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n == 0 || !mkdtemp(dir)) {
        fprintf(stderr, "usage: bench_room_log [records]  (and a writable TMPDIR)\n");
        return 1;
    }
    weir_log_set_level(WEIR_LOG_WARN);
    weir_room_log_config cfg;
    weir_room_log_config_defaults(&cfg);
    cfg.dir = dir;

    double synced = append_run(&cfg, n);
    cfg.fsync_interval_ms = UINT32_MAX / 1000; /* never within the run */
    double unsynced = append_run(&cfg, n);

    weir_room_log_replay r;
    double t0 = now_s();
    weir_room_log *log = open_or_die(&cfg, &r);
    double replay = now_s() - t0;
    uint64_t bytes = weir_room_log_file_bytes(log);
    weir_room_log_destroy(log);

    printf("room_log: %llu records, %.1f MB on disk (%s)\n", (unsigned long long)n, bytes / 1e6,
           dir);
    printf("  append, fsync/50ms: %8.0f records/s  (%.1f ms)\n", n / synced, synced * 1e3);
    printf("  append, no fsync:   %8.0f records/s  (%.1f ms)\n", n / unsynced, unsynced * 1e3);
    printf("  fsync policy cost:  %.2fx the no-fsync time\n", synced / unsynced);
    printf("  replay:             %8.1f ms  (%.0f records/s, %llu read)\n", replay * 1e3,
           n / replay, (unsigned long long)r.records);
    clean_dir();
    rmdir(dir);
    return 0;
}
