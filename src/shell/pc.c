#define WEIR_LOG_MODULE "shell.pc"
#include "shell/pc.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "peer/srtp.h"
#include "weir/errors.h"
#include "weir/log.h"

const char *weir_pc_state_name(weir_pc_state s)
{
    switch (s) {
    case WEIR_PC_NEW:
        return "new";
    case WEIR_PC_CONNECTED:
        return "connected";
    case WEIR_PC_DISCONNECTED:
        return "disconnected";
    case WEIR_PC_FAILED:
        return "failed";
    }
    return "unknown";
}

static void set_state(weir_pc *pc, weir_pc_state to, const char *detail)
{
    if (pc->state == to)
        return;
    WEIR_LOG_INFO("%s state %s -> %s (%s)", pc->log_tag, weir_pc_state_name(pc->state),
                  weir_pc_state_name(to), detail ? detail : "");
    pc->state = to;
    if (pc->hooks->on_state)
        pc->hooks->on_state(pc, to, detail);
}

static void cancel_timer(weir_pc *pc)
{
    if (pc->timer) {
        g_source_destroy(pc->timer);
        g_source_unref(pc->timer);
        pc->timer = NULL;
        pc->timer_at_us = 0;
    }
}

static gboolean on_timer(gpointer data)
{
    weir_pc *pc = data;
    g_source_unref(pc->timer);
    pc->timer = NULL;
    pc->timer_at_us = 0;
    if (pc->peer) {
        weir_peer_handle_timeout(pc->peer, weir_clock_now_us());
        weir_pc_drain(pc);
    }
    return G_SOURCE_REMOVE;
}

static void arm_timer(weir_pc *pc)
{
    int64_t at = pc->peer ? weir_peer_next_timeout(pc->peer) : WEIR_PEER_NO_TIMEOUT;
    if (at == WEIR_PEER_NO_TIMEOUT) {
        cancel_timer(pc);
        return;
    }
    if (pc->timer && pc->timer_at_us == at)
        return;
    cancel_timer(pc);
    int64_t delay_us = at - weir_clock_now_us();
    if (delay_us < 0)
        delay_us = 0;
    pc->timer = g_timeout_source_new((guint)((delay_us + 999) / 1000));
    g_source_set_callback(pc->timer, on_timer, pc, NULL);
    g_source_attach(pc->timer, pc->context);
    pc->timer_at_us = at;
}

static void handle_peer_event(weir_pc *pc, const weir_peer_event *ev)
{
    switch (ev->type) {
    case WEIR_PEER_EVENT_CONNECTED:
        set_state(pc, WEIR_PC_CONNECTED, ev->detail);
        break;
    case WEIR_PEER_EVENT_FAILED:
    case WEIR_PEER_EVENT_CLOSED:
        set_state(pc, WEIR_PC_FAILED, ev->detail);
        break;
    case WEIR_PEER_EVENT_STREAM_LEARNED:
    case WEIR_PEER_EVENT_RTCP_FEEDBACK:
        if (pc->hooks->on_peer_event)
            pc->hooks->on_peer_event(pc, ev);
        break;
    }
}

void weir_pc_drain(weir_pc *pc)
{
    if (!pc->peer)
        return;
    weir_transmit tx;
    while (weir_peer_poll_transmit(pc->peer, &tx) == 1)
        if (pc->ice)
            (void)weir_ice_agent_send(pc->ice, tx.data, tx.len);
    weir_peer_event ev;
    while (pc->peer && weir_peer_poll_event(pc->peer, &ev) == 1)
        handle_peer_event(pc, &ev);
    weir_peer_packet pkt;
    while (pc->peer && weir_peer_poll_packet(pc->peer, &pkt) == 1)
        if (pc->hooks->on_packet)
            pc->hooks->on_packet(pc, &pkt);
    const uint8_t *data;
    size_t data_len;
    while (pc->peer && pc->hooks->on_data && weir_peer_poll_data(pc->peer, &data, &data_len) == 1)
        pc->hooks->on_data(pc, data, data_len);
    arm_timer(pc);
    if (pc->hooks->on_drained)
        pc->hooks->on_drained(pc);
}

static void start_dtls_if_client(weir_pc *pc)
{
    if (!pc->client_role || pc->dtls_started || !pc->peer || !pc->ice)
        return;
    weir_ice_state s = weir_ice_agent_state(pc->ice);
    if (s != WEIR_ICE_CONNECTED && s != WEIR_ICE_READY)
        return;
    pc->dtls_started = true;
    weir_peer_start(pc->peer, weir_clock_now_us());
    weir_pc_drain(pc);
}

static void on_ice_candidate(void *user, const char *candidate)
{
    weir_pc *pc = user;
    if (pc->hooks->on_local_candidate)
        pc->hooks->on_local_candidate(pc, candidate);
}

static void on_ice_gathering_done(void *user)
{
    weir_pc *pc = user;
    if (pc->hooks->on_local_candidate)
        pc->hooks->on_local_candidate(pc, "");
}

static void on_ice_state(void *user, weir_ice_state state)
{
    weir_pc *pc = user;
    WEIR_LOG_DEBUG("%s ice_state=%s", pc->log_tag, weir_ice_state_name(state));
    switch (state) {
    case WEIR_ICE_CONNECTED:
    case WEIR_ICE_READY:
        /* Back from silence, or from an ICE failure that a restart repaired:
         * DTLS and SRTP never went away. */
        if ((pc->state == WEIR_PC_DISCONNECTED || pc->state == WEIR_PC_FAILED) &&
            weir_pc_connected(pc))
            set_state(pc, WEIR_PC_CONNECTED, "ice back");
        start_dtls_if_client(pc);
        break;
    case WEIR_ICE_DISCONNECTED:
        if (pc->state == WEIR_PC_CONNECTED)
            set_state(pc, WEIR_PC_DISCONNECTED, "ice silent");
        break;
    case WEIR_ICE_FAILED:
        set_state(pc, WEIR_PC_FAILED, "ice failed");
        break;
    default:
        break;
    }
}

static void on_ice_receive(void *user, const uint8_t *buf, size_t len)
{
    weir_pc *pc = user;
    if (!pc->peer)
        return;
    /* The peer unprotects in place; libnice's buffer is ours only for the call. */
    uint8_t copy[WEIR_DTLS_MAX_DATAGRAM];
    if (len > sizeof copy)
        return;
    memcpy(copy, buf, len);
    weir_peer_handle_datagram(pc->peer, weir_clock_now_us(), copy, len);
    weir_pc_drain(pc);
}

int weir_pc_init(weir_pc *pc, GMainContext *ctx, const weir_pc_params *params,
                 const weir_pc_hooks *hooks, void *user, const char *log_tag)
{
    memset(pc, 0, sizeof *pc);
    pc->context = ctx;
    pc->hooks = hooks;
    pc->user = user;
    snprintf(pc->log_tag, sizeof pc->log_tag, "%s", log_tag ? log_tag : "");
    if (params->peer && weir_pc_set_peer(pc, params->peer) < 0)
        return -WEIR_EINVAL;
    weir_ice_config ic = *params->ice;
    ic.log_tag = pc->log_tag;
    weir_ice_callbacks cb = {
        .on_local_candidate = on_ice_candidate,
        .on_gathering_done = on_ice_gathering_done,
        .on_state = on_ice_state,
        .on_receive = on_ice_receive,
    };
    pc->ice = weir_ice_agent_create(ctx, &ic, params->ice_controlling, &cb, pc);
    if (!pc->ice ||
        weir_ice_agent_set_local_credentials(pc->ice, params->local_ufrag, params->local_pwd) < 0) {
        WEIR_LOG_WARN("%s ice_setup_failed", pc->log_tag);
        weir_pc_deinit(pc);
        return -WEIR_EINVAL;
    }
    if (weir_ice_agent_gather(pc->ice) < 0) {
        WEIR_LOG_WARN("%s ice_gather_failed", pc->log_tag);
        weir_pc_deinit(pc);
        return -WEIR_EIO;
    }
    return 0;
}

int weir_pc_set_peer(weir_pc *pc, const weir_peer_config *cfg)
{
    if (pc->peer)
        return -WEIR_EEXIST;
    weir_peer_config c = *cfg;
    c.log_id = pc->log_tag;
    pc->peer = weir_peer_create(&c);
    if (!pc->peer)
        return -WEIR_EINVAL;
    pc->client_role = cfg->role == WEIR_DTLS_ROLE_CLIENT;
    weir_peer_enable_data(pc->peer, pc->hooks->on_data != NULL);
    start_dtls_if_client(pc);
    return 0;
}

void weir_pc_deinit(weir_pc *pc)
{
    cancel_timer(pc);
    weir_ice_agent_destroy(pc->ice);
    pc->ice = NULL;
    weir_peer_destroy(pc->peer);
    pc->peer = NULL;
    pc->dtls_started = false;
    pc->state = WEIR_PC_NEW;
}

bool weir_pc_connected(const weir_pc *pc)
{
    return pc->peer && weir_peer_is_connected(pc->peer);
}

int weir_pc_set_remote_credentials(weir_pc *pc, const char *ufrag, const char *pwd)
{
    return pc->ice ? weir_ice_agent_set_remote_credentials(pc->ice, ufrag, pwd) : -WEIR_EPERM;
}

int weir_pc_ice_restart(weir_pc *pc, const char *local_ufrag, const char *local_pwd,
                        const char *remote_ufrag, const char *remote_pwd)
{
    if (!pc->ice)
        return -WEIR_EPERM;
    int rc = weir_ice_agent_restart(pc->ice);
    if (rc == 0)
        rc = weir_ice_agent_set_local_credentials(pc->ice, local_ufrag, local_pwd);
    if (rc == 0)
        rc = weir_ice_agent_set_remote_credentials(pc->ice, remote_ufrag, remote_pwd);
    WEIR_LOG_INFO("%s ice_restart rc=%d", pc->log_tag, rc);
    return rc;
}

void weir_pc_add_remote_candidate(weir_pc *pc, const char *candidate)
{
    if (!pc->ice)
        return;
    if (!candidate[0]) {
        weir_ice_agent_end_of_candidates(pc->ice);
        return;
    }
    const char *why = NULL;
    if (weir_ice_agent_add_remote_candidate(pc->ice, candidate, &why) < 0)
        WEIR_LOG_DEBUG("%s remote_candidate_refused why=%s", pc->log_tag, why ? why : "");
}

void weir_pc_send_many(weir_pc *pc, const uint8_t *const *bufs, const size_t *lens, size_t n)
{
    if (pc->ice && n)
        (void)weir_ice_agent_send_many(pc->ice, bufs, lens, n);
}

int weir_pc_send_data(weir_pc *pc, const uint8_t *buf, size_t len)
{
    if (!pc->peer || !pc->ice)
        return -WEIR_EPERM;
    int rc = weir_peer_send_data(pc->peer, weir_clock_now_us(), buf, len);
    if (rc < 0)
        return rc;
    /* Only transmits: this may run inside weir_pc_drain's hooks. */
    weir_transmit tx;
    while (weir_peer_poll_transmit(pc->peer, &tx) == 1)
        (void)weir_ice_agent_send(pc->ice, tx.data, tx.len);
    return 0;
}

int weir_pc_send_rtcp(weir_pc *pc, const uint8_t *buf, size_t len)
{
    if (!pc->peer || !pc->ice)
        return -WEIR_EPERM;
    uint8_t out[WEIR_PEER_PACKET_MAX + WEIR_SRTP_MAX_RTCP_OVERHEAD];
    if (len > WEIR_PEER_PACKET_MAX)
        return -WEIR_ETOOBIG;
    memcpy(out, buf, len);
    size_t n = len;
    int rc = weir_peer_protect_rtcp(pc->peer, out, &n, sizeof out);
    if (rc < 0)
        return rc;
    return weir_ice_agent_send(pc->ice, out, n);
}
