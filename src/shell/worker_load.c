/* The worker's busy share and overload state (see worker_load.h). */
#include "shell/worker_load.h"

#include <string.h>

#include "base/clock.h"

/* The worker whose loop runs on this thread (GPollFunc has no user data). */
static _Thread_local weir_worker_load *thread_load;

void weir_worker_load_init(weir_worker_load *l, int64_t now_us)
{
    memset(l, 0, sizeof *l);
    l->window_start_us = now_us;
}

void weir_worker_load_add_idle(weir_worker_load *l, int64_t idle_us)
{
    if (idle_us > 0)
        l->idle_us += idle_us;
}

static gint measuring_poll(GPollFD *fds, guint n_fds, gint timeout_ms)
{
    int64_t start_us = weir_clock_now_us();
    gint rc = g_poll(fds, n_fds, timeout_ms);
    if (thread_load)
        weir_worker_load_add_idle(thread_load, weir_clock_now_us() - start_us);
    return rc;
}

void weir_worker_load_attach(weir_worker_load *l, GMainContext *ctx)
{
    thread_load = l;
    g_main_context_set_poll_func(ctx, measuring_poll);
}

weir_worker_load_change weir_worker_load_close_window(weir_worker_load *l, int64_t now_us)
{
    int64_t elapsed_us = now_us - l->window_start_us;
    if (elapsed_us < 1000)
        return WEIR_WORKER_LOAD_STEADY;
    int64_t idle_us = l->idle_us < elapsed_us ? l->idle_us : elapsed_us;
    int64_t busy_us = elapsed_us - idle_us;
    unsigned permille = (unsigned)(busy_us * 1000 / elapsed_us);
    atomic_store(&l->busy_permille, permille);
    atomic_fetch_add(&l->busy_us, (uint_fast64_t)busy_us);
    l->window_start_us = now_us;
    l->idle_us = 0;

    if (permille >= WEIR_WORKER_LOAD_HOT_PERMILLE) {
        l->hot_windows++;
        l->cool_windows = 0;
    } else if (permille < WEIR_WORKER_LOAD_COOL_PERMILLE) {
        l->cool_windows++;
        l->hot_windows = 0;
    } else {
        /* Between the thresholds: neither streak grows, the state holds. */
        l->hot_windows = 0;
        l->cool_windows = 0;
    }
    if (!l->overloaded && l->hot_windows >= WEIR_WORKER_LOAD_HOT_WINDOWS) {
        l->overloaded = true;
        l->last_warn_us = now_us;
        atomic_fetch_add(&l->overloads, 1);
        return WEIR_WORKER_LOAD_OVERLOADED;
    }
    if (l->overloaded && l->cool_windows >= WEIR_WORKER_LOAD_COOL_WINDOWS) {
        l->overloaded = false;
        return WEIR_WORKER_LOAD_RECOVERED;
    }
    if (l->overloaded && now_us - l->last_warn_us >= WEIR_WORKER_LOAD_REWARN_US) {
        l->last_warn_us = now_us;
        return WEIR_WORKER_LOAD_STILL_HOT;
    }
    return WEIR_WORKER_LOAD_STEADY;
}
