#include "pc.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/rand.h"
#include "peer/srtp.h"
#include "proto/rtcp.h"
#include "shell/ice_agent.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define RX_BUF 2048

struct wc_pc {
    wc_pc_callbacks cb;
    wc_pc_config cfg;
    /* borrowed: */
    void *user;
    weir_dtls_ctx *dctx;
    GMainContext *ctx;
    /* owned: */
    weir_ice_agent *ice;
    weir_dtls *dtls;
    weir_srtp *srtp;
    GSource *dtls_timer;
    char name[16];
    /* state: */
    wc_pc_state state;
    bool gathering;
    bool remote_set;
    bool dtls_started;
    char remote_ufrag[257]; /* a re-offer with another one is an ICE restart */
    wc_pc_stats stats;
    weir_rand rand;
    uint32_t loss_per_million;
    uint8_t rx[RX_BUF];
};

const char *wc_pc_state_name(wc_pc_state s)
{
    switch (s) {
    case WC_PC_NEW:
        return "new";
    case WC_PC_CONNECTING:
        return "connecting";
    case WC_PC_CONNECTED:
        return "connected";
    case WC_PC_FAILED:
        return "failed";
    }
    return "?";
}

static void set_state(wc_pc *pc, wc_pc_state s, const char *detail)
{
    if (pc->state == s || pc->state == WC_PC_FAILED)
        return;
    pc->state = s;
    if (pc->cb.on_state)
        pc->cb.on_state(pc->user, s, detail);
}

static void arm_dtls_timer(wc_pc *pc);

static void flush_dtls(wc_pc *pc)
{
    const uint8_t *data;
    size_t len;
    while (weir_dtls_poll_transmit(pc->dtls, &data, &len) == 1)
        if (weir_ice_agent_send(pc->ice, data, len) < 0)
            pc->stats.send_errors++;
}

static void drain_dtls(wc_pc *pc)
{
    const uint8_t *data;
    size_t len;
    flush_dtls(pc);
    weir_dtls_event ev;
    while (weir_dtls_poll_event(pc->dtls, &ev) == 1) {
        if (ev.type == WEIR_DTLS_EVENT_CONNECTED) {
            pc->srtp = weir_srtp_create(&ev.keys, NULL);
            if (!pc->srtp)
                set_state(pc, WC_PC_FAILED, "SRTP session could not be created");
            else
                set_state(pc, WC_PC_CONNECTED, weir_srtp_profile_name(ev.keys.profile));
        } else if (ev.type == WEIR_DTLS_EVENT_FAILED) {
            static char why[160];
            snprintf(why, sizeof why, "DTLS failed: %s %s", weir_dtls_reason_name(ev.reason),
                     ev.detail);
            set_state(pc, WC_PC_FAILED, why);
        } else if (ev.type == WEIR_DTLS_EVENT_CLOSED) {
            set_state(pc, WC_PC_FAILED, "DTLS closed by the peer");
        }
    }
    /* The callback may write (wc_pc_send_data) after it used data: poll_data's buffer
     * only has to last until the next call on the session, which the loop makes. */
    while (weir_dtls_poll_data(pc->dtls, &data, &len) == 1)
        if (pc->cb.on_data)
            pc->cb.on_data(pc->user, data, len);
    flush_dtls(pc);
    arm_dtls_timer(pc);
}

static gboolean on_dtls_timer(gpointer data)
{
    wc_pc *pc = data;
    g_source_unref(pc->dtls_timer);
    pc->dtls_timer = NULL;
    weir_dtls_handle_timeout(pc->dtls, weir_clock_now_us());
    drain_dtls(pc);
    return G_SOURCE_REMOVE;
}

static void arm_dtls_timer(wc_pc *pc)
{
    if (pc->dtls_timer) {
        g_source_destroy(pc->dtls_timer);
        g_source_unref(pc->dtls_timer);
        pc->dtls_timer = NULL;
    }
    int64_t next = weir_dtls_next_timeout(pc->dtls);
    if (next == WEIR_DTLS_NO_TIMEOUT)
        return;
    int64_t wait_ms = (next - weir_clock_now_us() + 999) / 1000;
    pc->dtls_timer = g_timeout_source_new((guint)(wait_ms > 0 ? wait_ms : 0));
    g_source_set_callback(pc->dtls_timer, on_dtls_timer, pc, NULL);
    g_source_attach(pc->dtls_timer, pc->ctx);
}

static void on_ice_candidate(void *user, const char *candidate)
{
    wc_pc *pc = user;
    if (pc->cb.on_candidate)
        pc->cb.on_candidate(pc->user, candidate);
}

static void on_ice_gathering_done(void *user)
{
    wc_pc *pc = user;
    if (pc->cb.on_candidate)
        pc->cb.on_candidate(pc->user, NULL);
}

static void on_ice_state(void *user, weir_ice_state state)
{
    wc_pc *pc = user;
    switch (state) {
    case WEIR_ICE_CHECKING:
        /* An ICE restart re-checks while DTLS-SRTP carries on: stay connected. */
        if (!pc->srtp)
            set_state(pc, WC_PC_CONNECTING, "ICE checking");
        break;
    case WEIR_ICE_CONNECTED:
    case WEIR_ICE_READY:
        if (pc->srtp) {
            set_state(pc, WC_PC_CONNECTED, "ICE back");
        } else if (!pc->dtls_started) {
            pc->dtls_started = true;
            set_state(pc, WC_PC_CONNECTING, "DTLS handshake");
            weir_dtls_start(pc->dtls, weir_clock_now_us());
            drain_dtls(pc);
        }
        break;
    case WEIR_ICE_FAILED:
        set_state(pc, WC_PC_FAILED, "ICE failed");
        break;
    default:
        break;
    }
}

static bool simulated_loss(wc_pc *pc)
{
    return pc->loss_per_million && weir_rand_below(&pc->rand, 1000000) < pc->loss_per_million;
}

static void on_ice_receive(void *user, const uint8_t *buf, size_t len)
{
    wc_pc *pc = user;
    if (len == 0 || len > RX_BUF)
        return;
    if (weir_dtls_is_record(buf[0])) {
        weir_dtls_handle_datagram(pc->dtls, weir_clock_now_us(), buf, len);
        drain_dtls(pc);
        return;
    }
    if (buf[0] < 128 || buf[0] > 191 || !pc->srtp)
        return; /* RFC 7983: only RTP/RTCP here; nothing decryptable before DTLS */
    memcpy(pc->rx, buf, len);
    if (weir_rtcp_is_rtcp(pc->rx, len)) {
        if (weir_srtp_unprotect_rtcp(pc->srtp, pc->rx, &len) < 0) {
            pc->stats.srtp_errors++;
            return;
        }
        pc->stats.rtcp_received++;
        if (pc->cb.on_rtcp)
            pc->cb.on_rtcp(pc->user, pc->rx, len);
        return;
    }
    if (simulated_loss(pc)) {
        pc->stats.rtp_dropped_received++;
        return;
    }
    if (weir_srtp_unprotect_rtp(pc->srtp, pc->rx, &len) < 0) {
        pc->stats.srtp_errors++;
        return;
    }
    pc->stats.rtp_received++;
    if (pc->cb.on_rtp)
        pc->cb.on_rtp(pc->user, pc->rx, len);
}

wc_pc *wc_pc_create(GMainContext *ctx, weir_dtls_ctx *dctx, const wc_pc_config *cfg,
                    const wc_pc_callbacks *cb, void *user)
{
    wc_pc *pc = WEIR_NEW(wc_pc);
    pc->cb = *cb;
    pc->cfg = *cfg;
    pc->user = user;
    pc->dctx = dctx;
    pc->ctx = ctx;
    snprintf(pc->name, sizeof pc->name, "%s", cfg->name ? cfg->name : "pc");
    pc->cfg.name = pc->name;
    weir_rand_seed_os(&pc->rand);
    pc->loss_per_million = (uint32_t)(cfg->simulated_loss_pct * 10000);
    weir_ice_config ic = {
        .bind_addresses = cfg->bind_addresses,
        .n_bind_addresses = cfg->n_bind_addresses,
        .consent_timeout_s = 0,
        .log_tag = pc->name,
    };
    weir_ice_callbacks icb = {
        .on_local_candidate = on_ice_candidate,
        .on_gathering_done = on_ice_gathering_done,
        .on_state = on_ice_state,
        .on_receive = on_ice_receive,
    };
    pc->ice = weir_ice_agent_create(ctx, &ic, cfg->controlling, &icb, pc);
    weir_dtls_config dc = {.role = WEIR_DTLS_ROLE_CLIENT, .log_id = pc->name};
    pc->dtls = pc->ice ? weir_dtls_create(dctx, &dc) : NULL;
    if (!pc->ice || !pc->dtls) {
        weir_ice_agent_destroy(pc->ice);
        weir_free(pc);
        return NULL;
    }
    return pc;
}

void wc_pc_destroy(wc_pc *pc)
{
    if (!pc)
        return;
    if (pc->dtls_timer) {
        g_source_destroy(pc->dtls_timer);
        g_source_unref(pc->dtls_timer);
    }
    weir_ice_agent_destroy(pc->ice);
    weir_dtls_destroy(pc->dtls);
    weir_srtp_destroy(pc->srtp);
    weir_free(pc);
}

const char *wc_pc_local_ufrag(const wc_pc *pc)
{
    return weir_ice_agent_local_ufrag(pc->ice);
}

const char *wc_pc_local_pwd(const wc_pc *pc)
{
    return weir_ice_agent_local_pwd(pc->ice);
}

int wc_pc_set_remote(wc_pc *pc, const wc_remote_transport *rt, char *err, size_t err_len)
{
    if (!pc->remote_set) {
        if (weir_ice_agent_set_remote_credentials(pc->ice, rt->ice_ufrag, rt->ice_pwd) < 0) {
            snprintf(err, err_len, "%s: invalid remote ICE credentials", pc->name);
            return -WEIR_EINVAL;
        }
        if (weir_dtls_set_remote_fingerprint(pc->dtls, rt->fingerprint_hash, rt->fingerprint) < 0) {
            snprintf(err, err_len, "%s: unusable remote fingerprint %s", pc->name,
                     rt->fingerprint_hash);
            return -WEIR_EINVAL;
        }
        pc->remote_set = true;
        snprintf(pc->remote_ufrag, sizeof pc->remote_ufrag, "%s", rt->ice_ufrag);
    }
    for (size_t i = 0; i < rt->n_candidates; i++)
        wc_pc_add_candidate(pc, rt->candidates[i]);
    if (rt->end_of_candidates)
        wc_pc_add_candidate(pc, NULL);
    if (!pc->gathering) {
        pc->gathering = true;
        if (weir_ice_agent_gather(pc->ice) < 0) {
            snprintf(err, err_len, "%s: ICE could not bind a socket", pc->name);
            return -WEIR_EINVAL;
        }
    }
    return 0;
}

bool wc_pc_restart_if_needed(wc_pc *pc, const wc_remote_transport *rt)
{
    if (!pc->remote_set || strcmp(pc->remote_ufrag, rt->ice_ufrag) == 0)
        return false;
    /* RFC 8445 §9: new credentials on both sides; DTLS and SRTP carry on. */
    if (weir_ice_agent_restart(pc->ice) < 0 ||
        weir_ice_agent_set_remote_credentials(pc->ice, rt->ice_ufrag, rt->ice_pwd) < 0)
        return false;
    snprintf(pc->remote_ufrag, sizeof pc->remote_ufrag, "%s", rt->ice_ufrag);
    pc->stats.ice_restarts++;
    return true;
}

int wc_pc_add_candidate(wc_pc *pc, const char *candidate)
{
    if (!candidate) {
        weir_ice_agent_end_of_candidates(pc->ice);
        return 0;
    }
    return weir_ice_agent_add_remote_candidate(pc->ice, candidate, NULL);
}

int wc_pc_send_rtp(wc_pc *pc, uint8_t *buf, size_t len, size_t cap)
{
    if (pc->state != WC_PC_CONNECTED)
        return -WEIR_EPERM;
    if (simulated_loss(pc)) {
        pc->stats.rtp_dropped_sent++;
        return 0;
    }
    int rc = weir_srtp_protect_rtp(pc->srtp, buf, &len, cap);
    if (rc == 0)
        rc = weir_ice_agent_send(pc->ice, buf, len);
    if (rc < 0) {
        pc->stats.send_errors++;
        return rc;
    }
    pc->stats.rtp_sent++;
    pc->stats.rtp_bytes_sent += len;
    return 0;
}

int wc_pc_send_rtcp(wc_pc *pc, uint8_t *buf, size_t len, size_t cap)
{
    if (pc->state != WC_PC_CONNECTED)
        return -WEIR_EPERM;
    int rc = weir_srtp_protect_rtcp(pc->srtp, buf, &len, cap);
    if (rc == 0)
        rc = weir_ice_agent_send(pc->ice, buf, len);
    if (rc < 0) {
        pc->stats.send_errors++;
        return rc;
    }
    pc->stats.rtcp_sent++;
    return 0;
}

int wc_pc_send_data(wc_pc *pc, const uint8_t *buf, size_t len)
{
    if (pc->state != WC_PC_CONNECTED)
        return -WEIR_EPERM;
    int rc = weir_dtls_write(pc->dtls, weir_clock_now_us(), buf, len);
    if (rc < 0) {
        pc->stats.send_errors++;
        return rc;
    }
    flush_dtls(pc);
    return 0;
}

wc_pc_state wc_pc_get_state(const wc_pc *pc)
{
    return pc->state;
}

void wc_pc_get_stats(const wc_pc *pc, wc_pc_stats *out)
{
    *out = pc->stats;
}

const char *wc_pc_srtp_profile(const wc_pc *pc)
{
    return pc->srtp ? weir_srtp_profile_name(weir_srtp_get_profile(pc->srtp)) : "none";
}
