/*
 * Worker thread shell. Commands and events are heap copies passed through
 * SPSC rings (pointer rings keep the ring type generic for packets later);
 * they are rare (join/leave), so the allocation is not on a hot path.
 */
#define WEIR_LOG_MODULE "shell.worker"
#include "shell/worker.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/ring.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define COMMAND_RING_SIZE 4096
#define EVENT_RING_SIZE 4096

struct weir_worker {
    /* borrowed: */
    void (*wake)(void *);
    void *wake_ctx;
    /* owned: */
    weir_ring *commands; /* control → worker */
    weir_ring *events;   /* worker → control */
    int command_fd;      /* eventfd: commands waiting */
    GMainContext *context;
    GMainLoop *loop;
    GHashTable *peers; /* peer_id (uint64 key) → participant id (heap string) */
    pthread_t thread;
    /* state: */
    int index;
    bool started;
    bool stopped;
    atomic_uint_fast64_t events_dropped;
};

weir_worker *weir_worker_create(int index, void (*wake)(void *), void *wake_ctx)
{
    weir_worker *w = WEIR_NEW(weir_worker);
    w->index = index;
    w->wake = wake;
    w->wake_ctx = wake_ctx;
    w->commands = weir_ring_create(COMMAND_RING_SIZE);
    w->events = weir_ring_create(EVENT_RING_SIZE);
    w->command_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->context = g_main_context_new();
    w->loop = g_main_loop_new(w->context, FALSE);
    w->peers = g_hash_table_new_full(g_int64_hash, g_int64_equal, weir_free, weir_free);
    atomic_init(&w->events_dropped, 0);
    return w;
}

static void emit(weir_worker *w, weir_worker_event_type type, uint64_t peer_id)
{
    weir_worker_event *ev = WEIR_NEW(weir_worker_event);
    ev->type = type;
    ev->worker_index = w->index;
    ev->peer_id = peer_id;
    ev->peers = g_hash_table_size(w->peers);
    if (!weir_ring_push(w->events, ev)) {
        atomic_fetch_add(&w->events_dropped, 1);
        weir_free(ev);
        return;
    }
    w->wake(w->wake_ctx);
}

static void handle_command(weir_worker *w, const weir_worker_cmd *cmd)
{
    switch (cmd->type) {
    case WEIR_WORKER_CMD_PEER_ADD: {
        int64_t *key = weir_malloc(sizeof *key);
        *key = (int64_t)cmd->peer_id;
        g_hash_table_replace(w->peers, key, weir_strdup(cmd->participant_id));
        WEIR_LOG_DEBUG("peer_added worker=%d peer=%llu participant=%s", w->index,
                       (unsigned long long)cmd->peer_id, cmd->participant_id);
        emit(w, WEIR_WORKER_EVENT_PEER_ADDED, cmd->peer_id);
        break;
    }
    case WEIR_WORKER_CMD_PEER_REMOVE: {
        int64_t key = (int64_t)cmd->peer_id;
        g_hash_table_remove(w->peers, &key);
        WEIR_LOG_DEBUG("peer_removed worker=%d peer=%llu", w->index,
                       (unsigned long long)cmd->peer_id);
        emit(w, WEIR_WORKER_EVENT_PEER_REMOVED, cmd->peer_id);
        break;
    }
    case WEIR_WORKER_CMD_STOP:
        g_main_loop_quit(w->loop);
        break;
    }
}

static gboolean on_commands(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    weir_worker *w = data;
    uint64_t n;
    ssize_t unused = read(fd, &n, sizeof n); /* clears the eventfd counter */
    (void)unused;
    weir_worker_cmd *cmd;
    while ((cmd = weir_ring_pop(w->commands))) {
        handle_command(w, cmd);
        weir_free(cmd);
    }
    return G_SOURCE_CONTINUE;
}

static void *worker_main(void *arg)
{
    weir_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "weir-media-%d", w->index);
    pthread_setname_np(pthread_self(), name);
    g_main_context_push_thread_default(w->context);
    GSource *src = g_unix_fd_source_new(w->command_fd, G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(on_commands), w, NULL);
    g_source_attach(src, w->context);
    WEIR_LOG_INFO("started worker=%d", w->index);
    g_main_loop_run(w->loop);
    g_source_destroy(src);
    g_source_unref(src);
    g_hash_table_remove_all(w->peers);
    emit(w, WEIR_WORKER_EVENT_STOPPED, 0);
    g_main_context_pop_thread_default(w->context);
    WEIR_LOG_INFO("stopped worker=%d", w->index);
    return NULL;
}

int weir_worker_start(weir_worker *w)
{
    if (w->command_fd < 0)
        return -errno;
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc)
        return -rc;
    w->started = true;
    return 0;
}

static void wake_worker(weir_worker *w)
{
    uint64_t one = 1;
    ssize_t unused = write(w->command_fd, &one, sizeof one);
    (void)unused;
}

int weir_worker_send(weir_worker *w, const weir_worker_cmd *cmd)
{
    weir_worker_cmd *copy = weir_malloc(sizeof *copy);
    *copy = *cmd;
    if (!weir_ring_push(w->commands, copy)) {
        weir_free(copy);
        return -WEIR_EAGAIN;
    }
    wake_worker(w);
    return 0;
}

int weir_worker_poll_event(weir_worker *w, weir_worker_event *out)
{
    weir_worker_event *ev = weir_ring_pop(w->events);
    if (!ev)
        return 0;
    *out = *ev;
    weir_free(ev);
    return 1;
}

void weir_worker_stop(weir_worker *w)
{
    if (!w->started || w->stopped)
        return;
    weir_worker_cmd stop = {.type = WEIR_WORKER_CMD_STOP};
    /* A full ring means the worker is far behind; spin until STOP fits. */
    while (weir_worker_send(w, &stop) == -WEIR_EAGAIN)
        usleep(1000);
    pthread_join(w->thread, NULL);
    w->stopped = true;
}

void weir_worker_destroy(weir_worker *w)
{
    if (!w)
        return;
    weir_worker_stop(w);
    void *item;
    while ((item = weir_ring_pop(w->commands)))
        weir_free(item);
    while ((item = weir_ring_pop(w->events)))
        weir_free(item);
    weir_ring_destroy(w->commands);
    weir_ring_destroy(w->events);
    g_hash_table_destroy(w->peers);
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->context);
    if (w->command_fd >= 0)
        close(w->command_fd);
    weir_free(w);
}

int weir_worker_index(const weir_worker *w)
{
    return w->index;
}

uint64_t weir_worker_events_dropped(const weir_worker *w)
{
    return atomic_load(&w->events_dropped);
}
