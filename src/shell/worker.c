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

#include "base/clock.h"
#include "base/ring.h"
#include "peer/dtls.h"
#include "shell/ice_agent.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define COMMAND_RING_SIZE 4096
#define EVENT_RING_SIZE 4096
/* Period of the publisher statistics events (sent only when something changed). */
#define STATS_PERIOD_MS 500

typedef struct wpeer wpeer;

struct weir_worker {
    /* borrowed: */
    const weir_worker_media *media;
    void (*wake)(void *);
    void *wake_ctx;
    /* owned: */
    weir_ring *commands; /* control → worker */
    weir_ring *events;   /* worker → control */
    int command_fd;      /* eventfd: commands waiting */
    GMainContext *context;
    GMainLoop *loop;
    GHashTable *peers;       /* peer_id (uint64 key) → wpeer */
    weir_dtls_ctx *dtls_ctx; /* built lazily from media->cert on the first publish */
    GSource *stats_timer;
    pthread_t thread;
    /* state: */
    int index;
    bool started;
    bool stopped;
    atomic_uint_fast64_t events_dropped;
};

/* One participant's media state on this worker. */
struct wpeer {
    weir_worker *w;
    uint64_t peer_id;
    char participant_id[48];
    char log_tag[64];
    /* publisher (ingress) connection, NULL until PUBLISH: */
    weir_ice_agent *ice;
    weir_peer *peer;
    GSource *timer; /* armed at weir_peer_next_timeout */
    int64_t timer_at_us;
    bool dtls_started;
    bool client_role;
    weir_publisher_state state;
    bool stats_dirty;
    uint64_t packets;
    uint64_t bytes;
};

static void emit(weir_worker *w, weir_worker_event_type type, uint64_t peer_id);

weir_worker *weir_worker_create(int index, const weir_worker_media *media, void (*wake)(void *),
                                void *wake_ctx)
{
    weir_worker *w = WEIR_NEW(weir_worker);
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
    return w;
}

static weir_worker_event *new_event(weir_worker *w, weir_worker_event_type type, uint64_t peer_id)
{
    weir_worker_event *ev = WEIR_NEW(weir_worker_event);
    ev->type = type;
    ev->worker_index = w->index;
    ev->peer_id = peer_id;
    ev->peers = g_hash_table_size(w->peers);
    return ev;
}

static void push_event(weir_worker *w, weir_worker_event *ev)
{
    if (!weir_ring_push(w->events, ev)) {
        atomic_fetch_add(&w->events_dropped, 1);
        weir_free(ev);
        return;
    }
    w->wake(w->wake_ctx);
}

static void emit(weir_worker *w, weir_worker_event_type type, uint64_t peer_id)
{
    push_event(w, new_event(w, type, peer_id));
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
    }
    return "unknown";
}

/* ---- publisher (ingress) peer connection ---- */

static void emit_state(wpeer *wp, weir_publisher_state state, const char *text)
{
    if (wp->state == state)
        return;
    wp->state = state;
    weir_worker_event *ev = new_event(wp->w, WEIR_WORKER_EVENT_PUBLISHER_STATE, wp->peer_id);
    ev->state = state;
    snprintf(ev->text, sizeof ev->text, "%s", text ? text : "");
    push_event(wp->w, ev);
}

static void emit_stats(wpeer *wp)
{
    weir_worker_event *ev = new_event(wp->w, WEIR_WORKER_EVENT_PUBLISHER_STATS, wp->peer_id);
    ev->state = wp->state;
    ev->packets = wp->packets;
    ev->bytes = wp->bytes;
    if (wp->peer) {
        ev->streams = (uint32_t)weir_peer_stream_count(wp->peer);
        weir_peer_stats st;
        weir_peer_get_stats(wp->peer, &st);
        memcpy(ev->drops, st.drops, sizeof ev->drops);
    }
    push_event(wp->w, ev);
}

static void arm_timer(wpeer *wp);

/* Drains the peer's outputs: datagrams to send, events, received packets; re-arms its timer. */
static void drain_peer(wpeer *wp)
{
    if (!wp->peer)
        return;
    weir_transmit tx;
    while (weir_peer_poll_transmit(wp->peer, &tx) == 1)
        if (wp->ice)
            (void)weir_ice_agent_send(wp->ice, tx.data, tx.len);
    weir_peer_event ev;
    while (weir_peer_poll_event(wp->peer, &ev) == 1) {
        switch (ev.type) {
        case WEIR_PEER_EVENT_CONNECTED:
            WEIR_LOG_INFO("%s publisher_connected srtp=%s", wp->log_tag, ev.detail);
            emit_state(wp, WEIR_PUBLISHER_CONNECTED, ev.detail);
            break;
        case WEIR_PEER_EVENT_FAILED:
        case WEIR_PEER_EVENT_CLOSED:
            WEIR_LOG_INFO("%s publisher_failed reason=%s", wp->log_tag, ev.detail);
            emit_state(wp, WEIR_PUBLISHER_FAILED, ev.detail);
            break;
        case WEIR_PEER_EVENT_STREAM_LEARNED:
            WEIR_LOG_DEBUG("%s stream_learned ssrc=%u mid=%s rid=%s rtx=%d", wp->log_tag, ev.ssrc,
                           ev.mid, ev.rid, (int)ev.is_rtx);
            wp->stats_dirty = true;
            break;
        case WEIR_PEER_EVENT_RTCP_FEEDBACK:
            break;
        }
    }
    weir_peer_packet pkt;
    while (weir_peer_poll_packet(wp->peer, &pkt) == 1) {
        wp->packets++;
        wp->bytes += pkt.len;
        wp->stats_dirty = true;
    }
    arm_timer(wp);
}

static gboolean on_peer_timer(gpointer data)
{
    wpeer *wp = data;
    g_source_unref(wp->timer);
    wp->timer = NULL;
    wp->timer_at_us = 0;
    if (wp->peer) {
        weir_peer_handle_timeout(wp->peer, weir_clock_now_us());
        drain_peer(wp);
    }
    return G_SOURCE_REMOVE;
}

static void cancel_timer(wpeer *wp)
{
    if (wp->timer) {
        g_source_destroy(wp->timer);
        g_source_unref(wp->timer);
        wp->timer = NULL;
        wp->timer_at_us = 0;
    }
}

static void arm_timer(wpeer *wp)
{
    int64_t at = wp->peer ? weir_peer_next_timeout(wp->peer) : WEIR_PEER_NO_TIMEOUT;
    if (at == WEIR_PEER_NO_TIMEOUT) {
        cancel_timer(wp);
        return;
    }
    if (wp->timer && wp->timer_at_us == at)
        return;
    cancel_timer(wp);
    int64_t delay_us = at - weir_clock_now_us();
    if (delay_us < 0)
        delay_us = 0;
    wp->timer = g_timeout_source_new((guint)((delay_us + 999) / 1000));
    g_source_set_callback(wp->timer, on_peer_timer, wp, NULL);
    g_source_attach(wp->timer, wp->w->context);
    wp->timer_at_us = at;
}

static void on_ice_candidate(void *user, const char *candidate)
{
    wpeer *wp = user;
    weir_worker_event *ev = new_event(wp->w, WEIR_WORKER_EVENT_PUBLISHER_CANDIDATE, wp->peer_id);
    snprintf(ev->text, sizeof ev->text, "%s", candidate);
    push_event(wp->w, ev);
}

static void on_ice_gathering_done(void *user)
{
    wpeer *wp = user;
    push_event(wp->w, new_event(wp->w, WEIR_WORKER_EVENT_PUBLISHER_CANDIDATE, wp->peer_id));
}

static void on_ice_state(void *user, weir_ice_state state)
{
    wpeer *wp = user;
    WEIR_LOG_DEBUG("%s ice_state=%s", wp->log_tag, weir_ice_state_name(state));
    if ((state == WEIR_ICE_CONNECTED || state == WEIR_ICE_READY) && wp->client_role &&
        !wp->dtls_started && wp->peer) {
        wp->dtls_started = true;
        weir_peer_start(wp->peer, weir_clock_now_us());
        drain_peer(wp);
    } else if (state == WEIR_ICE_FAILED) {
        emit_state(wp, WEIR_PUBLISHER_FAILED, "ice failed");
    }
}

static void on_ice_receive(void *user, const uint8_t *buf, size_t len)
{
    wpeer *wp = user;
    if (!wp->peer)
        return;
    /* The peer unprotects in place; libnice's buffer is ours only for the call. */
    uint8_t copy[WEIR_DTLS_MAX_DATAGRAM];
    if (len > sizeof copy)
        return;
    memcpy(copy, buf, len);
    weir_peer_handle_datagram(wp->peer, weir_clock_now_us(), copy, len);
    drain_peer(wp);
}

/* weir_publish_desc → weir_peer_config (media arrays into caller's storage). */
static size_t desc_to_media(const weir_publish_desc *d, weir_peer_media *out, weir_peer_extids *ext)
{
    size_t n = 0;
    memset(ext, 0, sizeof *ext);
    for (size_t i = 0; i < d->n_media && n < WEIR_PEER_MAX_MEDIA; i++) {
        const weir_publish_media *m = &d->media[i];
        if (m->rejected || (m->kind != WEIR_SDP_AUDIO && m->kind != WEIR_SDP_VIDEO))
            continue;
        weir_peer_media *pm = &out[n++];
        memset(pm, 0, sizeof *pm);
        snprintf(pm->mid, sizeof pm->mid, "%s", m->mid);
        pm->kind = m->kind == WEIR_SDP_AUDIO ? WEIR_PEER_KIND_AUDIO : WEIR_PEER_KIND_VIDEO;
        pm->clock_rate_hz = m->clock_rate_hz;
        pm->pt = m->pt;
        pm->rtx_pt = m->rtx_pt;
        pm->red_pt = m->red_pt;
        for (size_t r = 0; r < m->n_rids && r < WEIR_PEER_MAX_RIDS; r++)
            snprintf(pm->rids[r], sizeof pm->rids[r], "%s", m->rids[r].id);
        pm->n_rids = m->n_rids < WEIR_PEER_MAX_RIDS ? m->n_rids : WEIR_PEER_MAX_RIDS;
        for (size_t k = 0; k < m->n_ssrcs && k < WEIR_PEER_MAX_SSRCS; k++) {
            pm->ssrcs[k].media = m->ssrcs[k].media;
            pm->ssrcs[k].rtx = m->ssrcs[k].rtx;
        }
        pm->n_ssrcs = m->n_ssrcs < WEIR_PEER_MAX_SSRCS ? m->n_ssrcs : WEIR_PEER_MAX_SSRCS;
        /* BUNDLE shares one id set; take the first non-zero of each. */
        if (!ext->mid)
            ext->mid = m->ext.mid;
        if (!ext->rid)
            ext->rid = m->ext.rid;
        if (!ext->repaired_rid)
            ext->repaired_rid = m->ext.repaired_rid;
        if (!ext->abs_send_time)
            ext->abs_send_time = m->ext.abs_send_time;
        if (!ext->twcc)
            ext->twcc = m->ext.twcc;
        if (!ext->audio_level)
            ext->audio_level = m->ext.audio_level;
    }
    return n;
}

static void publisher_teardown(wpeer *wp)
{
    cancel_timer(wp);
    weir_ice_agent_destroy(wp->ice);
    wp->ice = NULL;
    weir_peer_destroy(wp->peer);
    wp->peer = NULL;
}

static void start_publisher(weir_worker *w, wpeer *wp, const weir_worker_publish *pub)
{
    if (wp->peer) {
        WEIR_LOG_WARN("%s publish_ignored: already publishing", wp->log_tag);
        return;
    }
    if (!w->dtls_ctx) {
        w->dtls_ctx = weir_dtls_ctx_create(w->media->cert);
        if (!w->dtls_ctx) {
            emit_state(wp, WEIR_PUBLISHER_FAILED, "dtls context");
            return;
        }
    }
    weir_peer_media media[WEIR_PEER_MAX_MEDIA];
    char fp[WEIR_NEGOTIATE_FP_MAX + 16];
    snprintf(fp, sizeof fp, "%s %s", pub->desc.fingerprint_hash, pub->desc.fingerprint);
    weir_peer_config pc = {
        .dtls_ctx = w->dtls_ctx,
        .role = pub->desc.dtls_role,
        .remote_fingerprint = fp,
        .log_id = wp->log_tag,
    };
    pc.n_media = desc_to_media(&pub->desc, media, &pc.ext);
    pc.media = media;
    wp->peer = weir_peer_create(&pc);
    if (!wp->peer) {
        emit_state(wp, WEIR_PUBLISHER_FAILED, "peer config");
        return;
    }
    wp->client_role = pub->desc.dtls_role == WEIR_DTLS_ROLE_CLIENT;
    weir_ice_config ic = {
        .bind_addresses = w->media->bind_addresses,
        .n_bind_addresses = w->media->n_bind_addresses,
        .port_min = w->media->port_min,
        .port_max = w->media->port_max,
        .announced_ip = w->media->announced_ip,
        .log_tag = wp->log_tag,
    };
    weir_ice_callbacks cb = {
        .on_local_candidate = on_ice_candidate,
        .on_gathering_done = on_ice_gathering_done,
        .on_state = on_ice_state,
        .on_receive = on_ice_receive,
    };
    wp->ice = weir_ice_agent_create(w->context, &ic, false, &cb, wp);
    if (!wp->ice ||
        weir_ice_agent_set_local_credentials(wp->ice, pub->local_ufrag, pub->local_pwd) < 0 ||
        weir_ice_agent_set_remote_credentials(wp->ice, pub->desc.ice_ufrag, pub->desc.ice_pwd) <
            0) {
        WEIR_LOG_WARN("%s ice_setup_failed", wp->log_tag);
        publisher_teardown(wp);
        emit_state(wp, WEIR_PUBLISHER_FAILED, "ice setup");
        return;
    }
    wp->stats_dirty = true;
    if (weir_ice_agent_gather(wp->ice) < 0) {
        WEIR_LOG_WARN("%s ice_gather_failed", wp->log_tag);
        publisher_teardown(wp);
        emit_state(wp, WEIR_PUBLISHER_FAILED, "ice gathering");
        return;
    }
    for (size_t i = 0; wp->ice && i < pub->n_candidates; i++) {
        const char *why = NULL;
        if (weir_ice_agent_add_remote_candidate(wp->ice, pub->candidates[i], &why) < 0)
            WEIR_LOG_DEBUG("%s remote_candidate_refused why=%s", wp->log_tag, why ? why : "");
    }
    if (wp->ice && pub->end_of_candidates)
        weir_ice_agent_end_of_candidates(wp->ice);
    WEIR_LOG_INFO("%s publisher_started media=%zu role=%s", wp->log_tag, pc.n_media,
                  wp->client_role ? "client" : "server");
}

static void trickle_publisher(wpeer *wp, const weir_worker_trickle *t)
{
    if (!wp->ice)
        return;
    if (!t->candidate[0]) {
        weir_ice_agent_end_of_candidates(wp->ice);
        return;
    }
    const char *why = NULL;
    if (weir_ice_agent_add_remote_candidate(wp->ice, t->candidate, &why) < 0)
        WEIR_LOG_DEBUG("%s remote_candidate_refused why=%s", wp->log_tag, why ? why : "");
}

static void wpeer_destroy(wpeer *wp)
{
    publisher_teardown(wp);
    weir_free(wp);
}

static wpeer *find_peer(weir_worker *w, uint64_t peer_id)
{
    int64_t key = (int64_t)peer_id;
    return g_hash_table_lookup(w->peers, &key);
}

static gboolean on_stats_timer(gpointer data)
{
    weir_worker *w = data;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->peers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        wpeer *wp = v;
        if (wp->peer && wp->stats_dirty) {
            wp->stats_dirty = false;
            emit_stats(wp);
        }
    }
    return G_SOURCE_CONTINUE;
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
    case WEIR_WORKER_CMD_PUBLISH: {
        wpeer *wp = find_peer(w, cmd->peer_id);
        if (wp && cmd->payload)
            start_publisher(w, wp, cmd->payload);
        break;
    }
    case WEIR_WORKER_CMD_TRICKLE: {
        wpeer *wp = find_peer(w, cmd->peer_id);
        if (wp && cmd->payload)
            trickle_publisher(wp, cmd->payload);
        break;
    }
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
    w->stats_timer = g_timeout_source_new(STATS_PERIOD_MS);
    g_source_set_callback(w->stats_timer, on_stats_timer, w, NULL);
    g_source_attach(w->stats_timer, w->context);
    WEIR_LOG_INFO("started worker=%d", w->index);
    g_main_loop_run(w->loop);
    g_source_destroy(src);
    g_source_unref(src);
    g_source_destroy(w->stats_timer);
    g_source_unref(w->stats_timer);
    w->stats_timer = NULL;
    free_all_peers(w);
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
