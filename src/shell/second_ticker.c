/*
 * Shared per-context seconds timer (see second_ticker.h). A doubly linked
 * list of entries per context, found through a locked hash table keyed by
 * the context; the tick walks the list with a cursor that removals advance,
 * so a callback may remove any entry, itself included.
 */
#include "shell/second_ticker.h"

#include "weir/alloc.h"

struct weir_second_ticker {
    GMainContext *ctx; /* referenced */
    GSource *source;
    weir_tick_entry *head;
    weir_tick_entry *cursor; /* the next entry of the tick in progress */
    bool in_tick;
    size_t count;
};

static GMutex registry_lock;
static GHashTable *registry; /* GMainContext * -> weir_second_ticker * */

static void ticker_release(weir_second_ticker *t);

static gboolean on_tick(gpointer data)
{
    weir_second_ticker *t = data;
    for (weir_tick_entry *e = t->head; e; e = e->next)
        e->added_in_tick = false;
    t->in_tick = true;
    for (weir_tick_entry *e = t->head; e; e = t->cursor) {
        t->cursor = e->next;
        if (!e->added_in_tick)
            e->fn(e->user);
    }
    t->cursor = NULL;
    t->in_tick = false;
    if (t->count == 0) { /* every entry left during the tick */
        ticker_release(t);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static weir_second_ticker *ticker_for(GMainContext *ctx)
{
    if (!ctx)
        ctx = g_main_context_default();
    g_mutex_lock(&registry_lock);
    if (!registry)
        registry = g_hash_table_new(g_direct_hash, g_direct_equal);
    weir_second_ticker *t = g_hash_table_lookup(registry, ctx);
    if (!t) {
        t = WEIR_NEW(weir_second_ticker);
        t->ctx = g_main_context_ref(ctx);
        t->source = g_timeout_source_new_seconds(1);
        g_source_set_callback(t->source, on_tick, t, NULL);
        g_source_attach(t->source, ctx);
        g_hash_table_insert(registry, ctx, t);
    }
    g_mutex_unlock(&registry_lock);
    return t;
}

static void ticker_release(weir_second_ticker *t)
{
    g_mutex_lock(&registry_lock);
    g_hash_table_remove(registry, t->ctx);
    if (g_hash_table_size(registry) == 0) {
        g_hash_table_destroy(registry);
        registry = NULL;
    }
    g_mutex_unlock(&registry_lock);
    g_source_destroy(t->source);
    g_source_unref(t->source);
    g_main_context_unref(t->ctx);
    weir_free(t);
}

void weir_tick_add(GMainContext *ctx, weir_tick_entry *e, void (*fn)(void *user), void *user)
{
    if (e->ticker)
        return;
    weir_second_ticker *t = ticker_for(ctx);
    e->ticker = t;
    e->fn = fn;
    e->user = user;
    e->added_in_tick = t->in_tick;
    e->prev = NULL;
    e->next = t->head;
    if (t->head)
        t->head->prev = e;
    t->head = e;
    t->count++;
}

void weir_tick_remove(weir_tick_entry *e)
{
    weir_second_ticker *t = e->ticker;
    if (!t)
        return;
    if (t->cursor == e)
        t->cursor = e->next;
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    e->ticker = NULL;
    /* Not inside its own tick: on_tick still walks t. The next add reuses it. */
    if (--t->count == 0 && !t->in_tick)
        ticker_release(t);
}

bool weir_tick_is_added(const weir_tick_entry *e)
{
    return e->ticker != NULL;
}

size_t weir_tick_count(GMainContext *ctx)
{
    if (!ctx)
        ctx = g_main_context_default();
    g_mutex_lock(&registry_lock);
    weir_second_ticker *t = registry ? g_hash_table_lookup(registry, ctx) : NULL;
    size_t n = t ? t->count : 0;
    g_mutex_unlock(&registry_lock);
    return n;
}
