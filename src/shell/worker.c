/*
 * Worker thread shell. Commands and events are heap copies passed through
 * SPSC rings (pointer rings, the same type that carries packets between
 * workers in shell/mesh.c); they are rare (join/leave/publish), so the
 * allocation is not on a hot path. The publisher PC, the subscriber PC and
 * the router live in their own files (shell/worker_internal.h).
 */
#define WEIR_LOG_MODULE "shell.worker"
#include "shell/worker.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "peer/dtls.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define COMMAND_RING_SIZE 4096
#define EVENT_RING_SIZE 4096
/* Period of the statistics/audio level events and of the subscriber PCs' sender reports. */
#define STATS_PERIOD_MS 500
/* Period of the publishers' NACK and keyframe-request checks (NACK reorder delay is 20 ms). */
#define FEEDBACK_PERIOD_MS 10

static void emit(weir_worker *w, weir_worker_event_type type, uint64_t peer_id);

weir_worker *weir_worker_create(int index, const weir_worker_media *media, void (*wake)(void *),
                                void *wake_ctx)
{
    weir_worker *w = WEIR_NEW(weir_worker);
    weir_worker_load_init(&w->load, weir_clock_now_us());
    w->index = index;
    w->media = media;
    w->wake = wake;
    w->wake_ctx = wake_ctx;
    w->commands = weir_ring_create(COMMAND_RING_SIZE);
    w->events = weir_ring_create(EVENT_RING_SIZE);
    w->command_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->context = g_main_context_new();
    w->loop = g_main_loop_new(w->context, FALSE);
    w->peers = g_hash_table_new_full(g_int64_hash, g_int64_equal, weir_free, NULL);
    atomic_init(&w->events_dropped, 0);
    w->dc_fd = -1;
    (void)weir_datachannel_worker_init(w); /* logged; publishers then get no data channels */
    return w;
}

weir_worker_event *weir_worker_new_event(weir_worker *w, weir_worker_event_type type,
                                         uint64_t peer_id)
{
    weir_worker_event *ev = WEIR_NEW(weir_worker_event);
    ev->type = type;
    ev->worker_index = w->index;
    ev->peer_id = peer_id;
    ev->peers = g_hash_table_size(w->peers);
    return ev;
}

void weir_worker_push_event(weir_worker *w, weir_worker_event *ev)
{
    if (!weir_ring_push(w->events, ev)) {
        atomic_fetch_add(&w->events_dropped, 1);
        if (ev->type == WEIR_WORKER_EVENT_DATA_MESSAGE)
            weir_free(ev->data);
        weir_free(ev);
        return;
    }
    w->wake(w->wake_ctx);
}

static void emit(weir_worker *w, weir_worker_event_type type, uint64_t peer_id)
{
    weir_worker_push_event(w, weir_worker_new_event(w, type, peer_id));
}

const char *weir_publisher_state_name(weir_publisher_state s)
{
    switch (s) {
    case WEIR_PUBLISHER_NEW:
        return "new";
    case WEIR_PUBLISHER_CONNECTED:
        return "connected";
    case WEIR_PUBLISHER_FAILED:
        return "failed";
    case WEIR_PUBLISHER_DISCONNECTED:
        return "disconnected";
    }
    return "unknown";
}

weir_publisher_state weir_worker_state_of(weir_pc_state s)
{
    switch (s) {
    case WEIR_PC_CONNECTED:
        return WEIR_PUBLISHER_CONNECTED;
    case WEIR_PC_DISCONNECTED:
        return WEIR_PUBLISHER_DISCONNECTED;
    case WEIR_PC_FAILED:
        return WEIR_PUBLISHER_FAILED;
    case WEIR_PC_NEW:
        break;
    }
    return WEIR_PUBLISHER_NEW;
}

void weir_worker_report_pc(wpeer *wp, weir_worker_event_type type, weir_pc_state state,
                           const char *text)
{
    weir_worker_event *ev = weir_worker_new_event(wp->w, type, wp->peer_id);
    ev->state = weir_worker_state_of(state);
    snprintf(ev->text, sizeof ev->text, "%s", text ? text : "");
    weir_worker_push_event(wp->w, ev);
}

weir_dtls_ctx *weir_worker_dtls_ctx(weir_worker *w)
{
    if (!w->dtls_ctx)
        w->dtls_ctx = weir_dtls_ctx_create(w->media->cert);
    return w->dtls_ctx;
}

void weir_worker_ice_config(const weir_worker *w, weir_ice_config *out)
{
    *out = (weir_ice_config){
        .bind_addresses = w->media->bind_addresses,
        .n_bind_addresses = w->media->n_bind_addresses,
        .port_min = w->media->port_min,
        .port_max = w->media->port_max,
        .announced_ip = w->media->announced_ip,
        .consent_timeout_s = w->media->consent_timeout_s,
    };
}

static void wpeer_destroy(wpeer *wp)
{
    weir_subscriber_teardown(wp);
    weir_publisher_teardown(wp);
    weir_free(wp);
}

static wpeer *find_peer(weir_worker *w, uint64_t peer_id)
{
    int64_t key = (int64_t)peer_id;
    return g_hash_table_lookup(w->peers, &key);
}

/* Logs the loop's overload transitions (shell/worker_load.h says why they matter). */
static void check_load(weir_worker *w, int64_t now_us)
{
    weir_worker_load_change change = weir_worker_load_close_window(&w->load, now_us);
    unsigned busy = atomic_load(&w->load.busy_permille);
    unsigned peers = g_hash_table_size(w->peers);
    switch (change) {
    case WEIR_WORKER_LOAD_OVERLOADED:
    case WEIR_WORKER_LOAD_STILL_HOT:
        WEIR_LOG_WARN("overloaded worker=%d busy=%u.%u%% peers=%u: packets wait in socket "
                      "buffers, latency grows and subscribers may fail ICE consent; add "
                      "workers ([server] workers) or spread rooms over more nodes",
                      w->index, busy / 10, busy % 10, peers);
        break;
    case WEIR_WORKER_LOAD_RECOVERED:
        WEIR_LOG_INFO("recovered worker=%d busy=%u.%u%% peers=%u", w->index, busy / 10, busy % 10,
                      peers);
        break;
    default:
        break;
    }
}

static gboolean on_stats_timer(gpointer data)
{
    weir_worker *w = data;
    int64_t now_us = weir_clock_now_us();
    check_load(w, now_us);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->peers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        weir_publisher_report(v);
        weir_subscriber_periodic(v, now_us);
    }
    weir_tap_periodic(w, now_us);
    return G_SOURCE_CONTINUE;
}

static gboolean on_feedback_timer(gpointer data)
{
    weir_worker *w = data;
    int64_t now_us = weir_clock_now_us();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->peers);
    while (g_hash_table_iter_next(&it, &k, &v))
        weir_publisher_feedback_tick(v, now_us);
    weir_datachannel_tick(now_us);
    weir_record_sink_periodic(w, now_us);
    return G_SOURCE_CONTINUE;
}

static void handle_trickle(wpeer *wp, const weir_worker_trickle *t)
{
    weir_pc *pc = t->subscriber ? &wp->sub : &wp->pub;
    weir_pc_add_remote_candidate(pc, t->candidate);
}

/* Commands about one participant's peer. */
static void handle_peer_command(weir_worker *w, const weir_worker_cmd *cmd)
{
    wpeer *wp = find_peer(w, cmd->peer_id);
    if (!wp || !cmd->payload)
        return;
    switch (cmd->type) {
    case WEIR_WORKER_CMD_PUBLISH:
        weir_publisher_start(wp, cmd->payload);
        break;
    case WEIR_WORKER_CMD_TRICKLE:
        handle_trickle(wp, cmd->payload);
        break;
    case WEIR_WORKER_CMD_SUBSCRIBER_START:
        weir_subscriber_start(wp, cmd->payload);
        break;
    case WEIR_WORKER_CMD_SUBSCRIBER_ANSWER:
        weir_subscriber_answer(wp, cmd->payload);
        break;
    case WEIR_WORKER_CMD_PREFERENCES:
        weir_subscriber_preferences(wp, cmd->payload);
        break;
    case WEIR_WORKER_CMD_DATA_SEND:
        weir_datachannel_send(wp, cmd->payload);
        break;
    case WEIR_WORKER_CMD_DATA_CLOSE:
        weir_datachannel_close(wp, cmd->payload);
        break;
    default:
        break;
    }
    weir_router_flush(w);
}

/* Commands about a track, addressed by handle. */
static void handle_track_command(weir_worker *w, const weir_worker_cmd *cmd)
{
    if (!cmd->payload)
        return;
    const weir_worker_track_control *tc = cmd->payload;
    switch (cmd->type) {
    case WEIR_WORKER_CMD_ROUTE:
        weir_router_set_remote(w, cmd->payload);
        break;
    case WEIR_WORKER_CMD_KEYFRAME:
        weir_router_keyframe_command(w, tc->handle, tc->layer);
        break;
    case WEIR_WORKER_CMD_MUTE:
        weir_router_set_muted(w, tc->handle, tc->muted);
        break;
    default:
        break;
    }
}

static void handle_command(weir_worker *w, const weir_worker_cmd *cmd)
{
    switch (cmd->type) {
    case WEIR_WORKER_CMD_PEER_ADD: {
        int64_t *key = weir_malloc(sizeof *key);
        *key = (int64_t)cmd->peer_id;
        wpeer *wp = WEIR_NEW(wpeer);
        wp->w = w;
        wp->peer_id = cmd->peer_id;
        snprintf(wp->participant_id, sizeof wp->participant_id, "%s", cmd->participant_id);
        snprintf(wp->log_tag, sizeof wp->log_tag, "peer=%llu", (unsigned long long)cmd->peer_id);
        wpeer *old = find_peer(w, cmd->peer_id);
        if (old) {
            g_hash_table_remove(w->peers, key);
            wpeer_destroy(old);
        }
        g_hash_table_replace(w->peers, key, wp);
        WEIR_LOG_DEBUG("peer_added worker=%d peer=%llu participant=%s", w->index,
                       (unsigned long long)cmd->peer_id, cmd->participant_id);
        emit(w, WEIR_WORKER_EVENT_PEER_ADDED, cmd->peer_id);
        break;
    }
    case WEIR_WORKER_CMD_PEER_REMOVE: {
        int64_t key = (int64_t)cmd->peer_id;
        wpeer *wp = find_peer(w, cmd->peer_id);
        g_hash_table_remove(w->peers, &key);
        if (wp)
            wpeer_destroy(wp);
        WEIR_LOG_DEBUG("peer_removed worker=%d peer=%llu", w->index,
                       (unsigned long long)cmd->peer_id);
        emit(w, WEIR_WORKER_EVENT_PEER_REMOVED, cmd->peer_id);
        break;
    }
    case WEIR_WORKER_CMD_STOP:
        g_main_loop_quit(w->loop);
        break;
    case WEIR_WORKER_CMD_PUBLISH:
    case WEIR_WORKER_CMD_TRICKLE:
    case WEIR_WORKER_CMD_SUBSCRIBER_START:
    case WEIR_WORKER_CMD_SUBSCRIBER_ANSWER:
    case WEIR_WORKER_CMD_PREFERENCES:
    case WEIR_WORKER_CMD_DATA_SEND:
    case WEIR_WORKER_CMD_DATA_CLOSE:
        handle_peer_command(w, cmd);
        break;
    case WEIR_WORKER_CMD_ROUTE:
    case WEIR_WORKER_CMD_KEYFRAME:
    case WEIR_WORKER_CMD_MUTE:
        handle_track_command(w, cmd);
        break;
    case WEIR_WORKER_CMD_DATA_FANOUT: /* addressed to peers inside the payload */
        if (cmd->payload)
            weir_datachannel_fanout(w, cmd->payload);
        break;
    case WEIR_WORKER_CMD_TAP_START:
        if (cmd->payload)
            weir_tap_start(w, cmd->payload);
        break;
    case WEIR_WORKER_CMD_TAP_STOP:
        if (cmd->payload)
            weir_tap_stop(w, cmd->payload);
        break;
    case WEIR_WORKER_CMD_RECORD_START:
        if (cmd->payload)
            weir_record_sink_start(w, cmd->payload);
        break;
    case WEIR_WORKER_CMD_RECORD_STOP:
        if (cmd->payload)
            weir_record_sink_stop(w, cmd->payload);
        break;
    }
}

static void free_all_peers(weir_worker *w)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->peers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        wpeer_destroy(v);
        g_hash_table_iter_remove(&it);
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
        weir_free(cmd->payload);
        weir_free(cmd);
    }
    return G_SOURCE_CONTINUE;
}

/*
 * "Before the loop sleeps, flush" (ARCHITECTURE.md, packet path step 6): a
 * source whose prepare runs once per loop iteration, before the poll, sends
 * every subscriber PC's queued egress and wakes the workers that got
 * packets. Everything forwarded during one iteration's dispatches therefore
 * leaves in one send_many per PC and one eventfd write per worker.
 */
typedef struct flush_source {
    GSource base;
    weir_worker *w;
} flush_source;

static gboolean flush_prepare(GSource *src, gint *timeout)
{
    *timeout = -1;
    weir_router_flush(((flush_source *)src)->w);
    return FALSE;
}

static gboolean flush_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)src;
    (void)cb;
    (void)data;
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {.prepare = flush_prepare, .dispatch = flush_dispatch};

static GSource *flush_source_new(weir_worker *w)
{
    GSource *src = g_source_new(&flush_funcs, sizeof(flush_source));
    ((flush_source *)src)->w = w;
    g_source_attach(src, w->context);
    return src;
}

static gboolean on_mesh_packets(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    uint64_t n;
    ssize_t unused = read(fd, &n, sizeof n);
    (void)unused;
    weir_router_drain_mesh(data);
    return G_SOURCE_CONTINUE;
}

static void *worker_main(void *arg)
{
    weir_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "weir-media-%d", w->index);
    pthread_setname_np(pthread_self(), name);
    g_main_context_push_thread_default(w->context);
    weir_worker_load_attach(&w->load, w->context);
    GSource *src = g_unix_fd_source_new(w->command_fd, G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(on_commands), w, NULL);
    g_source_attach(src, w->context);
    GSource *mesh_src = NULL;
    if (w->media->mesh) {
        mesh_src = g_unix_fd_source_new(weir_mesh_fd(w->media->mesh, w->index), G_IO_IN);
        g_source_set_callback(mesh_src, G_SOURCE_FUNC(on_mesh_packets), w, NULL);
        g_source_attach(mesh_src, w->context);
    }
    w->stats_timer = g_timeout_source_new(STATS_PERIOD_MS);
    g_source_set_callback(w->stats_timer, on_stats_timer, w, NULL);
    g_source_attach(w->stats_timer, w->context);
    GSource *flusher = flush_source_new(w);
    GSource *feedback_timer = g_timeout_source_new(FEEDBACK_PERIOD_MS);
    g_source_set_callback(feedback_timer, on_feedback_timer, w, NULL);
    g_source_attach(feedback_timer, w->context);
    weir_datachannel_worker_start(w);
    WEIR_LOG_INFO("started worker=%d", w->index);
    g_main_loop_run(w->loop);
    g_source_destroy(src);
    g_source_unref(src);
    if (mesh_src) {
        g_source_destroy(mesh_src);
        g_source_unref(mesh_src);
    }
    g_source_destroy(feedback_timer);
    g_source_unref(feedback_timer);
    g_source_destroy(flusher);
    g_source_unref(flusher);
    g_source_destroy(w->stats_timer);
    g_source_unref(w->stats_timer);
    w->stats_timer = NULL;
    free_all_peers(w);
    weir_datachannel_worker_stop(w);
    if (w->routes) {
        g_hash_table_destroy(w->routes);
        w->routes = NULL;
    }
    /* ICE agents release their memory from idle sources: let them run (bounded, so a
     * source that is always ready cannot hold the shutdown). */
    for (int i = 0; i < 1000 && g_main_context_iteration(w->context, FALSE); i++)
        ;
    weir_dtls_ctx_destroy(w->dtls_ctx);
    w->dtls_ctx = NULL;
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
    while ((item = weir_ring_pop(w->commands))) {
        weir_free(((weir_worker_cmd *)item)->payload);
        weir_free(item);
    }
    while ((item = weir_ring_pop(w->events))) {
        weir_worker_event *ev = item;
        if (ev->type == WEIR_WORKER_EVENT_DATA_MESSAGE)
            weir_free(ev->data); /* never polled: nobody else will free it */
        weir_free(item);
    }
    weir_datachannel_worker_deinit(w);
    weir_ring_destroy(w->commands);
    weir_ring_destroy(w->events);
    g_hash_table_destroy(w->peers);
    weir_subscriber_pool_free(w); /* after the peers gave their slots back */
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

void weir_worker_load_figures(const weir_worker *w, weir_worker_load_figures_t *out)
{
    /* The atomics are only read here; casting away const is for C11's atomic_load prototypes. */
    weir_worker_load *l = (weir_worker_load *)&w->load;
    out->busy_permille = atomic_load(&l->busy_permille);
    out->busy_us = atomic_load(&l->busy_us);
    out->overloads = atomic_load(&l->overloads);
}
