#define WEIR_LOG_MODULE "control"
#include "control/control.h"

#include <glib.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "control/datachannel.h"
#include "control/http_server.h"
#include "control/ice_binds.h"
#include "control/media.h"
#include "control/membership.h"
#include "control/session.h"
#include "control/recordings.h"
#include "control/taps.h"
#include "peer/cert.h"
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
    if (n > WEIR_MESH_MAX_WORKERS)
        n = WEIR_MESH_MAX_WORKERS;
    ctl->mesh = weir_mesh_create(n);
    if (!ctl->mesh)
        return -WEIR_EIO;
    ctl->media.mesh = ctl->mesh;
    ctl->workers = weir_calloc((size_t)n, sizeof *ctl->workers);
    ctl->worker_peers = weir_calloc((size_t)n, sizeof *ctl->worker_peers);
    ctl->mesh_drops = weir_calloc((size_t)n, sizeof *ctl->mesh_drops);
    ctl->n_workers = n;
    for (int i = 0; i < n; i++) {
        ctl->workers[i] = weir_worker_create(i, &ctl->media, wake_control, ctl);
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

/* Participants whose media stayed disconnected or failed for peer_timeout_s leave ("timeout"). */
static void check_media_timeouts(weir_control *ctl, int64_t now_us)
{
    int64_t limit_us = (int64_t)ctl->cfg->peer_timeout_s * 1000000;
    for (weir_session *s = ctl->sessions; s; s = s->next) {
        weir_participant *p = s->participant;
        if (!p || !p->media || !p->media->media_lost_since_us || s->closing)
            continue;
        if (now_us - p->media->media_lost_since_us < limit_us)
            continue;
        weir_session_log(s, WEIR_LOG_INFO, "media_timeout after_s=%d", ctl->cfg->peer_timeout_s);
        weir_membership_leave(ctl, p, "timeout");
        weir_session_bye(s, "timeout", 4003);
    }
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    weir_control *ctl = ((ticker *)sul)->ctl;
    int64_t now_us = weir_clock_now_us();
    weir_control_drain_worker_events(ctl);
    check_join_timeouts(ctl, now_us);
    check_media_timeouts(ctl, now_us);
    weir_datachannels_tick(ctl, now_us);
    lws_sul_schedule(ctl->lws, 0, sul, on_tick, TICK_US);
}

static int setup_media(weir_control *ctl)
{
    char err[256];
    const weir_config *cfg = ctl->cfg;
    if (cfg->dtls_cert[0])
        ctl->cert = weir_cert_load_pem_files(cfg->dtls_cert, cfg->dtls_key, err, sizeof err);
    else
        ctl->cert = weir_cert_generate(weir_clock_wall_ms(), err, sizeof err);
    if (!ctl->cert) {
        WEIR_LOG_ERROR("dtls_certificate_failed: %s", err);
        return -1;
    }
    if (weir_negotiate_parse_video_codecs(cfg->video_codecs, ctl->codecs, WEIR_NEGOTIATE_MAX_CODECS,
                                          &ctl->n_codecs, err, sizeof err) < 0) {
        WEIR_LOG_ERROR("config_invalid: [media] video_codecs: %s", err);
        return -1;
    }
    if (weir_ice_binds_parse(cfg->ice_bind_addresses, &ctl->bind_addresses, &ctl->n_bind_addresses,
                             err, sizeof err) < 0) {
        WEIR_LOG_ERROR("config_invalid: %s", err);
        return -1;
    }
    ctl->media = (weir_worker_media){
        .cert = ctl->cert,
        .bind_addresses = (const char *const *)ctl->bind_addresses,
        .n_bind_addresses = ctl->n_bind_addresses,
        .port_min = (uint16_t)ctl->cfg->ice_port_min,
        .port_max = (uint16_t)ctl->cfg->ice_port_max,
        .announced_ip = ctl->cfg->announced_ip,
        .consent_timeout_s = (uint32_t)ctl->cfg->ice_consent_timeout_s,
        .rtp_dump_dir = ctl->cfg->rtp_dump_dir,
        .rtp_dump_max_packets = (uint32_t)ctl->cfg->rtp_dump_max_packets,
    };
    weir_datachannels_media_limits(cfg, &ctl->media);
    WEIR_LOG_INFO("media_ready fingerprint=\"%s\" ice_bind_addresses=%zu",
                  weir_cert_fingerprint(ctl->cert), ctl->n_bind_addresses);
    return 0;
}

weir_control *weir_control_create(const weir_config *cfg)
{
    weir_control *ctl = WEIR_NEW(weir_control);
    ctl->cfg = cfg;
    ctl->rooms = weir_rooms_create();
    ctl->started_us = weir_clock_now_us();
    weir_rand_seed_os(&ctl->rand);
    atomic_init(&ctl->stop_requested, false);
    ctl->datachannels = weir_datachannels_create(ctl);
    if (setup_media(ctl) < 0 || weir_http_server_start(ctl) < 0 || start_workers(ctl) < 0) {
        weir_control_destroy(ctl);
        return NULL;
    }
    weir_recordings_init(ctl);
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

_Static_assert(WEIR_PEER_DROP_COUNT <= sizeof((weir_participant *)0)->pub_drops / sizeof(uint64_t),
               "weir_participant.pub_drops too small");

static void on_publisher_stats(weir_control *ctl, const weir_worker_event *ev)
{
    /* Metrics count even when the participant has just left. */
    weir_participant *p = weir_control_find_peer(ctl, ev->peer_id);
    if (!p)
        return;
    if (ev->packets > p->pub_packets)
        ctl->rtp_packets_total += ev->packets - p->pub_packets;
    for (int d = 0; d < WEIR_PEER_DROP_COUNT; d++) {
        if (ev->drops[d] > p->pub_drops[d])
            ctl->peer_drops_total[d] += ev->drops[d] - p->pub_drops[d];
        p->pub_drops[d] = ev->drops[d];
    }
    p->pub_packets = ev->packets;
    p->pub_bytes = ev->bytes;
    p->pub_streams = ev->streams;
}

static void notify_candidate(weir_participant *p, const char *pc, const char *text, const char *mid,
                             int index)
{
    if (!p->session)
        return;
    json_t *cand = json_null();
    if (text[0])
        cand =
            json_pack("{s:s, s:s, s:i}", "candidate", text, "sdpMid", mid, "sdpMLineIndex", index);
    weir_session_notify(p->session, "trickle",
                        json_pack("{s:s, s:o}", "pc", pc, "candidate", cand));
}

/* Connectivity: a PC that is disconnected or failed starts the participant's timeout clock. */
static void track_connectivity(weir_participant *p, weir_publisher_state state)
{
    if (!p->media)
        return;
    bool lost = state == WEIR_PUBLISHER_DISCONNECTED || state == WEIR_PUBLISHER_FAILED;
    if (lost && !p->media->media_lost_since_us)
        p->media->media_lost_since_us = weir_clock_now_us();
    else if (state == WEIR_PUBLISHER_CONNECTED)
        p->media->media_lost_since_us = 0;
}

static void on_pc_state(weir_control *ctl, weir_participant *p, const weir_worker_event *ev)
{
    const char *name = weir_publisher_state_name(ev->state);
    bool publisher = ev->type == WEIR_WORKER_EVENT_PUBLISHER_STATE;
    if (publisher) {
        p->pub_state = name;
        if (ev->state == WEIR_PUBLISHER_CONNECTED)
            snprintf(p->pub_srtp, sizeof p->pub_srtp, "%.47s", ev->text);
    } else if (p->media) {
        p->media->sub_state = name;
        if (ev->state == WEIR_PUBLISHER_CONNECTED) {
            snprintf(p->media->sub_srtp, sizeof p->media->sub_srtp, "%.47s", ev->text);
            weir_media_subscriber_connected(p);
        }
    }
    track_connectivity(p, ev->state);
    bool lost = ev->state == WEIR_PUBLISHER_DISCONNECTED || ev->state == WEIR_PUBLISHER_FAILED;
    if (!publisher && lost)
        weir_media_subscriber_lost(ctl, p);
    if (p->session)
        weir_session_log(p->session, WEIR_LOG_INFO, "%s_state state=%s detail=%s",
                         publisher ? "publisher" : "subscriber", name, ev->text);
}

static void handle_worker_event(weir_control *ctl, const weir_worker_event *ev)
{
    switch (ev->type) {
    case WEIR_WORKER_EVENT_PUBLISHER_STATS:
        on_publisher_stats(ctl, ev);
        return;
    case WEIR_WORKER_EVENT_KEYFRAME_NEEDED:
        weir_media_on_keyframe_needed(ctl, ev->handle, ev->spatial);
        return;
    case WEIR_WORKER_EVENT_AUDIO_LEVEL:
        weir_media_on_audio_level(ctl, ev->handle, ev->level, ev->voice);
        return;
    case WEIR_WORKER_EVENT_TAP_STATS:
        weir_taps_on_stats(ctl, ev);
        return;
    case WEIR_WORKER_EVENT_RECORD_STOPPED:
        weir_recordings_on_event(ctl, ev);
        return;
    case WEIR_WORKER_EVENT_DATA_OPEN:
    case WEIR_WORKER_EVENT_DATA_MESSAGE:
    case WEIR_WORKER_EVENT_DATA_CLOSED:
    case WEIR_WORKER_EVENT_DATA_DRAINED:
        weir_datachannels_on_event(ctl, ev); /* frees a message's data */
        return;
    default:
        break;
    }
    weir_participant *p = weir_control_find_peer(ctl, ev->peer_id);
    if (!p)
        return;
    switch (ev->type) {
    case WEIR_WORKER_EVENT_PUBLISHER_CANDIDATE:
        if (p->publishing)
            notify_candidate(p, "publisher", ev->text, p->pub_bundle_mid, p->pub_bundle_index);
        break;
    case WEIR_WORKER_EVENT_SUBSCRIBER_CANDIDATE:
        if (p->media && p->media->n_lines)
            notify_candidate(p, "subscriber", ev->text, p->media->lines[0].offered.mid, 0);
        break;
    case WEIR_WORKER_EVENT_PUBLISHER_STATE:
    case WEIR_WORKER_EVENT_SUBSCRIBER_STATE:
        on_pc_state(ctl, p, ev);
        break;
    case WEIR_WORKER_EVENT_SUBSCRIBER_STATS:
        if (ev->worker_index >= 0 && ev->worker_index < ctl->n_workers)
            ctl->mesh_drops[ev->worker_index] = ev->mesh_drops;
        if (p->media) {
            if (ev->packets > p->media->sub_packets)
                ctl->rtp_packets_sent_total += ev->packets - p->media->sub_packets;
            p->media->sub_packets = ev->packets;
            p->media->sub_bytes = ev->bytes;
            if (ev->retransmits > p->media->sub_retransmits)
                ctl->rtp_retransmits_total += ev->retransmits - p->media->sub_retransmits;
            p->media->sub_retransmits = ev->retransmits;
        }
        break;
    case WEIR_WORKER_EVENT_LAYER_CHANGED:
        weir_media_on_layer_changed(ctl, p, ev->handle, ev->spatial, ev->temporal);
        break;
    default:
        break;
    }
}

void weir_control_drain_worker_events(weir_control *ctl)
{
    weir_worker_event ev;
    for (int i = 0; i < ctl->n_workers; i++) {
        while (weir_worker_poll_event(ctl->workers[i], &ev) == 1) {
            WEIR_LOG_DEBUG("worker_event worker=%d type=%d peer=%llu peers=%u", ev.worker_index,
                           (int)ev.type, (unsigned long long)ev.peer_id, ev.peers);
            handle_worker_event(ctl, &ev);
        }
    }
}

weir_participant *weir_control_find_peer(weir_control *ctl, uint64_t peer_id)
{
    if (!peer_id)
        return NULL;
    for (weir_session *s = ctl->sessions; s; s = s->next)
        if (s->participant && s->participant->peer_id == peer_id)
            return s->participant;
    return NULL;
}

int weir_control_send_to_peer(weir_control *ctl, const weir_participant *p,
                              weir_worker_cmd_type type, void *payload)
{
    if (p->worker_index < 0 || p->worker_index >= ctl->n_workers) {
        weir_free(payload);
        return -1;
    }
    weir_worker_cmd cmd = {.type = type, .peer_id = p->peer_id, .payload = payload};
    snprintf(cmd.participant_id, sizeof cmd.participant_id, "%s", p->id);
    if (weir_worker_send(ctl->workers[p->worker_index], &cmd) < 0) {
        WEIR_LOG_ERROR("worker_queue_full worker=%d", p->worker_index);
        weir_free(payload);
        return -1;
    }
    return 0;
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
    /* The workers are joined: recordings close their files and the plugin unloads. */
    weir_recordings_destroy(ctl);
    for (int i = 0; i < ctl->n_workers; i++)
        weir_worker_destroy(ctl->workers[i]);
    weir_free(ctl->workers);
    weir_free(ctl->worker_peers);
    weir_taps_destroy(ctl);
    /* after the sockets: their sessions' leaves still reach the channel state */
    weir_datachannels_destroy(ctl->datachannels);
    weir_free(ctl->mesh_drops);
    weir_rooms_destroy(ctl->rooms);
    weir_mesh_destroy(ctl->mesh);
    if (ctl->tracks)
        g_hash_table_destroy(ctl->tracks);
    weir_free(ctl->ticker);
    weir_ice_binds_free(ctl->bind_addresses, ctl->n_bind_addresses);
    weir_cert_destroy(ctl->cert);
    weir_free(ctl);
}
