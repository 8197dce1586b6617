/*
 * shell/second_ticker.c on real GLib main contexts: every entry is called
 * once per tick from one shared source, callbacks may remove entries (their
 * own and others) mid-tick, the source goes away with the last entry, and
 * contexts on different threads each get their own ticker.
 */
#include <criterion/criterion.h>

#include "shell/second_ticker.h"

typedef struct probe {
    weir_tick_entry entry;
    int calls;
    struct probe *remove_other; /* removed by this probe's callback */
    bool remove_self;
    struct probe *add_other; /* added by this probe's callback */
    GMainContext *ctx;
} probe;

static void on_probe(void *user);

static void probe_add(GMainContext *ctx, probe *p)
{
    p->ctx = ctx;
    weir_tick_add(ctx, &p->entry, on_probe, p);
}

static void on_probe(void *user)
{
    probe *p = user;
    p->calls++;
    if (p->remove_other) {
        weir_tick_remove(&p->remove_other->entry);
        p->remove_other = NULL;
    }
    if (p->add_other) {
        probe_add(p->ctx, p->add_other);
        p->add_other = NULL;
    }
    if (p->remove_self)
        weir_tick_remove(&p->entry);
}

/* Iterates ctx until probe *until has been called `calls` times, or 4 s pass. */
static void run_until(GMainContext *ctx, const probe *until, int calls)
{
    gint64 end = g_get_monotonic_time() + 4 * G_USEC_PER_SEC;
    while (until->calls < calls && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(ctx, FALSE))
            g_usleep(5000);
}

Test(second_ticker, every_entry_is_called_once_per_tick_from_one_source)
{
    GMainContext *ctx = g_main_context_new();
    probe p[5] = {0};
    for (int i = 0; i < 5; i++)
        probe_add(ctx, &p[i]);
    weir_tick_add(ctx, &p[0].entry, on_probe, &p[0]); /* a second add is a no-op */
    cr_assert_eq(weir_tick_count(ctx), 5);
    run_until(ctx, &p[0], 2);
    cr_assert_eq(p[0].calls, 2, "two ticks within 4 s");
    for (int i = 1; i < 5; i++)
        cr_expect_eq(p[i].calls, p[0].calls, "probe %d: %d calls", i, p[i].calls);
    for (int i = 0; i < 5; i++)
        weir_tick_remove(&p[i].entry);
    weir_tick_remove(&p[0].entry); /* a second remove is a no-op */
    /* The shared source went with the last entry (LeakSanitizer checks it is freed). */
    cr_expect_eq(weir_tick_count(ctx), 0);
    g_main_context_unref(ctx);
}

Test(second_ticker, callbacks_may_remove_entries_and_add_new_ones_mid_tick)
{
    GMainContext *ctx = g_main_context_new();
    /* The list is LIFO: added c, b, a -> called a, b, c. */
    probe a = {0}, b = {0}, c = {0}, late = {0}, self = {0};
    probe_add(ctx, &c);
    probe_add(ctx, &self);
    probe_add(ctx, &b);
    probe_add(ctx, &a);
    a.remove_other = &b; /* b is next in this tick: must not be called */
    a.add_other = &late; /* added during the tick: first called on the next */
    self.remove_self = true;
    run_until(ctx, &c, 1);
    cr_assert_eq(c.calls, 1);
    cr_expect_eq(a.calls, 1);
    cr_expect_eq(b.calls, 0, "removed before its turn");
    cr_expect_eq(self.calls, 1);
    cr_expect_not(weir_tick_is_added(&self.entry));
    cr_expect_not(weir_tick_is_added(&b.entry));
    cr_expect_eq(late.calls, 0, "added mid-tick: not in that tick");
    cr_expect_eq(weir_tick_count(ctx), 3);
    run_until(ctx, &c, 2);
    cr_expect_eq(late.calls, 1);
    cr_expect_eq(self.calls, 1);
    weir_tick_remove(&a.entry);
    weir_tick_remove(&c.entry);
    weir_tick_remove(&late.entry);
    cr_expect_eq(weir_tick_count(ctx), 0);
    g_main_context_unref(ctx);
}

Test(second_ticker, the_last_entry_may_remove_itself_and_the_ticker_comes_back)
{
    GMainContext *ctx = g_main_context_new();
    probe only = {.remove_self = true};
    probe_add(ctx, &only);
    run_until(ctx, &only, 1);
    cr_assert_eq(only.calls, 1);
    cr_expect_eq(weir_tick_count(ctx), 0);
    probe again = {0};
    probe_add(ctx, &again);
    run_until(ctx, &again, 1);
    cr_expect_eq(again.calls, 1);
    weir_tick_remove(&again.entry);
    g_main_context_unref(ctx);
}

static gpointer thread_main(gpointer data)
{
    (void)data;
    GMainContext *ctx = g_main_context_new();
    probe p[50] = {0};
    for (int i = 0; i < 50; i++)
        probe_add(ctx, &p[i]);
    run_until(ctx, &p[0], 1);
    int ok = p[0].calls == 1 && weir_tick_count(ctx) == 50;
    for (int i = 1; i < 50; i++)
        ok &= p[i].calls == 1;
    for (int i = 0; i < 50; i++)
        weir_tick_remove(&p[i].entry);
    ok &= weir_tick_count(ctx) == 0;
    g_main_context_unref(ctx);
    return GINT_TO_POINTER(ok);
}

Test(second_ticker, contexts_on_different_threads_have_their_own_ticker)
{
    GThread *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = g_thread_new("tick", thread_main, NULL);
    for (int i = 0; i < 4; i++)
        cr_expect(GPOINTER_TO_INT(g_thread_join(t[i])), "thread %d", i);
}
