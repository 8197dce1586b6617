/**
 * One GLib seconds-granularity timer per main context, shared by any number
 * of per-second callbacks (the ICE silence watchdog of every agent).
 *
 * Why: GLib walks every GSource of a context in each loop iteration
 * (prepare, query, check). A worker loaded with 200 subscribers iterates
 * hundreds of times a second, and a timer source per ICE agent was one
 * of the three or so sources each agent adds (libnice has its socket and
 * keepalive timer): measured at fanout 200, one shared
 * timer instead of 200 took ~7 % off the worker's CPU (medians of 4
 * alternating runs: 0.426 -> 0.398 CPU-s/s).
 *
 * Entries are intrusive (the owner embeds a weir_tick_entry), so adding and
 * removing allocate nothing after the context's first entry. The timer
 * source exists while the context has at least one entry.
 *
 * Threads: the registry of contexts is locked, so workers may use it at
 * once; an entry itself is added, removed and called only on the thread
 * that iterates its context (as everything else a libnice agent does).
 * A callback may remove its own entry or any other one of the same
 * context while the tick runs; an entry added during a tick is first
 * called on the next one.
 */
#ifndef WEIR_SHELL_SECOND_TICKER_H
#define WEIR_SHELL_SECOND_TICKER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct weir_second_ticker weir_second_ticker;

typedef struct weir_tick_entry {
    /* private, zero-initialise: */
    weir_second_ticker *ticker;
    struct weir_tick_entry *prev, *next;
    void (*fn)(void *user);
    void *user;
    bool added_in_tick;
} weir_tick_entry;

/** Calls fn(user) about once a second on ctx's loop until removed. No-op if already added. */
void weir_tick_add(GMainContext *ctx, weir_tick_entry *e, void (*fn)(void *user), void *user);
/** Stops the calls; the entry may be freed after. No-op if not added. */
void weir_tick_remove(weir_tick_entry *e);
bool weir_tick_is_added(const weir_tick_entry *e);
/** Entries on ctx's ticker (0 when it has none): for tests. */
size_t weir_tick_count(GMainContext *ctx);

#endif
