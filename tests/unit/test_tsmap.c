/*
 * weir_tsmap: scripts of map / sync steps on a fake clock; then a sweep of
 * switches across the 32-bit wrap checking that output never goes back.
 */
#include <criterion/criterion.h>

#include "rtc/tsmap.h"
#include "weir/errors.h"

enum op { END = 0, MAP, SYNC };

typedef struct step {
    enum op op;
    uint32_t in;
    int64_t now_us;
    uint32_t want;
} step;

typedef struct script {
    const char *name;
    uint32_t clock_rate_hz;
    step steps[10];
} script;

/* clang-format off */
#define M(in, now, want) {MAP, in, now, want}
#define S {SYNC, 0, 0, 0}
/* clang-format on */

static const script SCRIPTS[] = {
    {"first source is unchanged, across the wrap",
     90000,
     {M(4294967000u, 0, 4294967000u), M(200, 33333, 200), M(3200, 66666, 3200)}},
    {"switch continues with the elapsed wall time",
     90000,
     {M(1000, 0, 1000), M(4000, 33333, 4000), S, M(777777, 100000, 10000),
      M(780777, 133333, 13000)}},
    {"elapsed time counts from when the newest timestamp first went out",
     90000,
     {M(1000, 0, 1000), M(1000, 30000, 1000), S, M(5, 40000, 4600)}},
    {"switch at the same instant still moves forward by one tick",
     90000,
     {M(1000, 5000, 1000), S, M(123, 5000, 1001), M(3123, 5000, 4001)}},
    {"switch across the output wrap",
     90000,
     {M(0xffffff00u, 0, 0xffffff00u), S, M(42, 10000, 0x00000284u), M(942, 20000, 0x00000608u)}},
    {"reordered older packet maps back but does not move the base",
     90000,
     {M(9000, 0, 9000), M(12000, 33333, 12000), M(9000, 40000, 9000), S, M(1, 66666, 14999)}},
    {"a clock going backwards counts as its newest value",
     90000,
     {M(1000, 100000, 1000), S, M(50, 20000, 1001)}},
    {"a huge pause advances by at most 2^30 ticks (still forwards)",
     90000,
     {M(0, 0, 0), S, M(0, 36000000000, 1u << 30)}},
    {"repeated syncs without output advance once",
     90000,
     {M(100, 0, 100), S, S, S, M(7, 1000000, 90100)}},
    {"sync before any output keeps the first source unchanged",
     90000,
     {S, M(555, 0, 555), M(1515, 20000, 1515)}},
    {"audio clock rate", 48000, {M(0, 0, 0), S, M(99, 20000, 960)}},
};

static void run_script(const script *sc)
{
    weir_tsmap m;
    cr_assert_eq(weir_tsmap_init(&m, sc->clock_rate_hz), 0);
    for (size_t i = 0; i < 10 && sc->steps[i].op != END; i++) {
        const step *st = &sc->steps[i];
        if (st->op == SYNC) {
            weir_tsmap_sync(&m);
            continue;
        }
        uint32_t out = weir_tsmap_map(&m, st->in, st->now_us);
        cr_assert_eq(out, st->want, "%s: step %zu: %u -> %u, want %u", sc->name, i, st->in, out,
                     st->want);
        cr_assert_eq(weir_tsmap_offset(&m), out - st->in, "%s: offset", sc->name);
    }
}

Test(tsmap, scripts)
{
    for (size_t i = 0; i < sizeof SCRIPTS / sizeof SCRIPTS[0]; i++)
        run_script(&SCRIPTS[i]);
}

Test(tsmap, init_rejects_zero_clock_rate)
{
    weir_tsmap m;
    cr_assert_eq(weir_tsmap_init(&m, 0), -WEIR_EINVAL);
}

/*
 * Three sources with unrelated origins, switching every 7 frames for 2^16
 * frames (output wraps 32 bits about once). Each output frame must be
 * newer than the previous one in serial order and, at a switch, ahead by
 * the elapsed wall time (at least one tick).
 */
Test(tsmap, switches_never_go_backwards_over_the_wrap)
{
    const uint32_t origins[3] = {0xfffff000u, 12345u, 0x80000000u};
    weir_tsmap m;
    weir_tsmap_init(&m, 90000);
    uint32_t prev = 0;
    int64_t prev_us = 0;
    for (uint32_t f = 0; f < 65536; f++) {
        int64_t now_us = (int64_t)f * 1000000 / 15; /* 15 fps: 6000 ticks a frame */
        uint32_t src = (f / 7) % 3;
        bool switching = f > 0 && f % 7 == 0;
        if (switching)
            weir_tsmap_sync(&m);
        uint32_t out = weir_tsmap_map(&m, origins[src] + f * 6000, now_us);
        if (f > 0) {
            cr_assert_gt((int32_t)(out - prev), 0, "frame %u went back", f);
            if (switching) {
                uint32_t want = (uint32_t)((now_us - prev_us) * 90000 / 1000000);
                cr_assert_eq(out - prev, want, "frame %u", f);
            }
        }
        prev = out;
        prev_us = now_us;
    }
}
