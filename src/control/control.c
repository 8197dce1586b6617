#define WEIR_LOG_MODULE "control"
#include "control/control.h"

#include <libwebsockets.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "control/http_server.h"
#include "control/membership.h"
#include "control/session.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

/* Period of the housekeeping tick (join timeouts, shutdown deadline). */
#define TICK_US (200 * 1000)

/* The tick's lws timer; lws hands back the embedded node, we find the control plane. */
typedef struct ticker {
    lws_sorted_usec_list_t sul; /* first: the callback casts back */
    weir_control *ctl;
} ticker;

static void wake_control(void *arg)
{
    weir_control *ctl = arg;
    /* lws_cancel_service is the one lws call documented as safe from other threads. */
    lws_cancel_service(ctl->lws);
}

static int start_workers(weir_control *ctl)
{
    int n = ctl->cfg->workers;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    ctl->workers = weir_calloc((size_t)n, sizeof *ctl->workers);
    ctl->worker_peers = weir_calloc((size_t)n, sizeof *ctl->worker_peers);
    ctl->n_workers = n;
    for (int i = 0; i < n; i++) {
        ctl->workers[i] = weir_worker_create(i, wake_control, ctl);
        int rc = weir_worker_start(ctl->workers[i]);
        if (rc < 0) {
            WEIR_LOG_ERROR("worker_start_failed worker=%d error=%s", i, weir_strerror(rc));
            return rc;
        }
    }
    WEIR_LOG_INFO("workers_started count=%d", n);
    return 0;
}

static void check_join_timeouts(weir_control *ctl, int64_t now_us)
{
    int limit_s = ctl->cfg->join_timeout_s;
    if (limit_s <= 0)
        return;
    for (weir_session *s = ctl->sessions; s; s = s->next) {
        if (!s->ever_joined && !s->closing && now_us - s->opened_us > (int64_t)limit_s * 1000000)
            weir_session_bye(s, "join_timeout", 4002);
    }
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    weir_control *ctl = ((ticker *)sul)->ctl;
    int64_t now_us = weir_clock_now_us();
    weir_control_drain_worker_events(ctl);
    check_join_timeouts(ctl, now_us);
    lws_sul_schedule(ctl->lws, 0, sul, on_tick, TICK_US);
}

weir_control *weir_control_create(const weir_config *cfg)
{
    weir_control *ctl = WEIR_NEW(weir_control);
    ctl->cfg = cfg;
    ctl->rooms = weir_rooms_create();
    ctl->started_us = weir_clock_now_us();
    weir_rand_seed_os(&ctl->rand);
    atomic_init(&ctl->stop_requested, false);
    if (weir_http_server_start(ctl) < 0 || start_workers(ctl) < 0) {
        weir_control_destroy(ctl);
        return NULL;
    }
    ticker *t = WEIR_NEW(ticker);
    t->ctl = ctl;
    ctl->ticker = t;
    lws_sul_schedule(ctl->lws, 0, &t->sul, on_tick, TICK_US);
    return ctl;
}

void weir_control_request_stop(weir_control *ctl)
{
    atomic_store(&ctl->stop_requested, true);
    if (ctl->lws)
        lws_cancel_service(ctl->lws);
}

/* Every session gets `bye`; participants leave without broadcasts (everyone is going). */
static void begin_shutdown(weir_control *ctl)
{
    ctl->shutting_down = true;
    ctl->shutdown_deadline_us = weir_clock_now_us() + (int64_t)ctl->cfg->shutdown_grace_ms * 1000;
    int n = 0;
    for (weir_session *s = ctl->sessions; s; s = s->next, n++) {
        if (s->participant)
            weir_membership_leave(ctl, s->participant, "left");
        weir_session_bye(s, "shutdown", LWS_CLOSE_STATUS_GOINGAWAY);
    }
    WEIR_LOG_INFO("shutdown_started sessions=%d grace_ms=%d", n, ctl->cfg->shutdown_grace_ms);
}

int weir_control_run(weir_control *ctl)
{
    while (!atomic_load(&ctl->stop_requested))
        if (lws_service(ctl->lws, 0) < 0)
            break;
    begin_shutdown(ctl);
    while (ctl->sessions && weir_clock_now_us() < ctl->shutdown_deadline_us)
        if (lws_service(ctl->lws, 0) < 0)
            break;
    if (ctl->sessions)
        WEIR_LOG_WARN("shutdown_grace_expired: closing the remaining sockets");
    return 0;
}

void weir_control_drain_worker_events(weir_control *ctl)
{
    weir_worker_event ev;
    for (int i = 0; i < ctl->n_workers; i++) {
        while (weir_worker_poll_event(ctl->workers[i], &ev) == 1) {
            /* The media path adds real events (ICE state, keyframe requests); for now
             * the acknowledgements only confirm placement. */
            WEIR_LOG_DEBUG("worker_event worker=%d type=%d peer=%llu peers=%u", ev.worker_index,
                           (int)ev.type, (unsigned long long)ev.peer_id, ev.peers);
        }
    }
}

int weir_control_place_peer(weir_control *ctl, const char *participant_id, uint64_t *peer_id)
{
    int best = 0;
    for (int i = 1; i < ctl->n_workers; i++)
        if (ctl->worker_peers[i] < ctl->worker_peers[best])
            best = i;
    weir_worker_cmd cmd = {.type = WEIR_WORKER_CMD_PEER_ADD, .peer_id = ++ctl->next_peer_id};
    snprintf(cmd.participant_id, sizeof cmd.participant_id, "%s", participant_id);
    if (weir_worker_send(ctl->workers[best], &cmd) < 0) {
        WEIR_LOG_ERROR("worker_queue_full worker=%d", best);
        return -1;
    }
    ctl->worker_peers[best]++;
    *peer_id = cmd.peer_id;
    return best;
}

void weir_control_release_peer(weir_control *ctl, int worker_index, uint64_t peer_id)
{
    if (worker_index < 0 || worker_index >= ctl->n_workers)
        return;
    weir_worker_cmd cmd = {.type = WEIR_WORKER_CMD_PEER_REMOVE, .peer_id = peer_id};
    if (weir_worker_send(ctl->workers[worker_index], &cmd) < 0)
        WEIR_LOG_ERROR("worker_queue_full worker=%d", worker_index);
    ctl->worker_peers[worker_index]--;
}

void weir_control_destroy(weir_control *ctl)
{
    if (!ctl)
        return;
    /* Workers first: their STOPPED events wake lws, which must still exist. */
    for (int i = 0; i < ctl->n_workers; i++)
        if (ctl->workers[i])
            weir_worker_stop(ctl->workers[i]);
    if (ctl->lws) {
        if (ctl->ticker)
            lws_sul_cancel(&((ticker *)ctl->ticker)->sul);
        /* Closes the remaining sockets; their CLOSED callbacks free the sessions. */
        lws_context_destroy(ctl->lws);
        ctl->lws = NULL;
    }
    for (int i = 0; i < ctl->n_workers; i++)
        weir_worker_destroy(ctl->workers[i]);
    weir_free(ctl->workers);
    weir_free(ctl->worker_peers);
    weir_rooms_destroy(ctl->rooms);
    weir_free(ctl->ticker);
    weir_free(ctl);
}
