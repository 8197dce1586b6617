/* The media worker's busy share and overload hysteresis (src/shell/worker_load.c). */
#include <criterion/criterion.h>

#include "base/clock.h"
#include "shell/worker_load.h"

#define WINDOW_US 500000

/* Closes one 500 ms window in which the loop was busy for busy_permille of the time. */
static weir_worker_load_change window(weir_worker_load *l, int64_t *now_us, unsigned busy_permille)
{
    weir_worker_load_add_idle(l, WINDOW_US * (int64_t)(1000 - busy_permille) / 1000);
    *now_us += WINDOW_US;
    return weir_worker_load_close_window(l, *now_us);
}

Test(worker_load, busy_share_of_a_window)
{
    weir_worker_load l;
    int64_t now = 1000000;
    weir_worker_load_init(&l, now);
    cr_expect_eq(window(&l, &now, 800), WEIR_WORKER_LOAD_STEADY);
    cr_expect_eq(atomic_load(&l.busy_permille), 800);
    cr_expect_eq(atomic_load(&l.busy_us), 400000);
    /* Idle longer than the window (clock granularity) counts as fully idle, never negative. */
    weir_worker_load_add_idle(&l, 2 * WINDOW_US);
    now += WINDOW_US;
    weir_worker_load_close_window(&l, now);
    cr_expect_eq(atomic_load(&l.busy_permille), 0);
    cr_expect_eq(atomic_load(&l.busy_us), 400000);
}

Test(worker_load, a_too_short_window_stays_open)
{
    weir_worker_load l;
    weir_worker_load_init(&l, 5000000);
    cr_expect_eq(weir_worker_load_close_window(&l, 5000500), WEIR_WORKER_LOAD_STEADY);
    cr_expect_eq(l.window_start_us, 5000000);
}

Test(worker_load, overloaded_after_sustained_saturation_only)
{
    weir_worker_load l;
    int64_t now = 0;
    weir_worker_load_init(&l, now);
    /* A 1.5 s burst (join storm) is not an overload. */
    for (int i = 0; i < WEIR_WORKER_LOAD_HOT_WINDOWS - 1; i++)
        cr_expect_eq(window(&l, &now, 990), WEIR_WORKER_LOAD_STEADY);
    cr_expect_eq(window(&l, &now, 300), WEIR_WORKER_LOAD_STEADY);
    cr_expect_not(l.overloaded);
    for (int i = 0; i < WEIR_WORKER_LOAD_HOT_WINDOWS - 1; i++)
        cr_expect_eq(window(&l, &now, 950), WEIR_WORKER_LOAD_STEADY);
    cr_expect_eq(window(&l, &now, 950), WEIR_WORKER_LOAD_OVERLOADED);
    cr_expect(l.overloaded);
    cr_expect_eq(atomic_load(&l.overloads), 1);
}

Test(worker_load, rewarns_while_hot_and_recovers_with_hysteresis)
{
    weir_worker_load l;
    int64_t now = 0;
    weir_worker_load_init(&l, now);
    for (int i = 0; i < WEIR_WORKER_LOAD_HOT_WINDOWS; i++)
        window(&l, &now, 1000);
    cr_assert(l.overloaded);
    int rewarns = 0;
    /* 61 s more at saturation: re-warned every 30 s, so twice. */
    for (int i = 0; i < 122; i++)
        if (window(&l, &now, 1000) == WEIR_WORKER_LOAD_STILL_HOT)
            rewarns++;
    cr_expect_eq(rewarns, 2);
    /* Between the thresholds the state holds, however long. */
    for (int i = 0; i < 20; i++)
        cr_expect_eq(window(&l, &now, 800), WEIR_WORKER_LOAD_STEADY);
    cr_expect(l.overloaded);
    for (int i = 0; i < WEIR_WORKER_LOAD_COOL_WINDOWS - 1; i++)
        cr_expect_eq(window(&l, &now, 500), WEIR_WORKER_LOAD_STEADY);
    cr_expect_eq(window(&l, &now, 500), WEIR_WORKER_LOAD_RECOVERED);
    cr_expect_not(l.overloaded);
    cr_expect_eq(atomic_load(&l.overloads), 1);
}

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

/* The real poll hook on a real GLib loop: a loop waiting on a 60 ms timer is idle, not busy. */
Test(worker_load, poll_hook_counts_waiting_as_idle)
{
    GMainContext *ctx = g_main_context_new();
    GMainLoop *loop = g_main_loop_new(ctx, FALSE);
    weir_worker_load l;
    int64_t start = weir_clock_now_us();
    weir_worker_load_init(&l, start);
    weir_worker_load_attach(&l, ctx);
    GSource *t = g_timeout_source_new(60);
    g_source_set_callback(t, quit_loop, loop, NULL);
    g_source_attach(t, ctx);
    g_main_loop_run(loop);
    cr_expect_geq(l.idle_us, 50000, "idle %lld us", (long long)l.idle_us);
    weir_worker_load_close_window(&l, weir_clock_now_us());
    cr_expect_lt(atomic_load(&l.busy_permille), 500);
    g_source_unref(t);
    g_main_loop_unref(loop);
    g_main_context_unref(ctx);
}
