/*
 * RTP taps, worker side: one track forwarded as plain RTP (or SRTP) over
 * UDP to an external recording worker (ffmpeg, GStreamer), with RTCP
 * sender reports. A tap is fed like a subscriber's consumer: the same
 * weir_consumer (rtc/consumer.h) does the layer selection, the seq/ts/
 * PictureID rewriting and the SRs, so layer switches, publisher restarts
 * and loss look to the receiver exactly as they look to a browser.
 *
 * Where a tap lives: on the producer's worker, in the track's route
 * (route->taps), so it needs neither the mesh nor a subscriber PC; the
 * control thread sends TAP_START/TAP_STOP there (control/taps.c).
 *
 * Keyframes: the consumer asks for one when it starts (it forwards nothing
 * before a keyframe, so the receiver can decode at once). A plain RTP
 * receiver such as ffmpeg never sends a PLI and usually starts after
 * tap_start has returned, so a tap also asks again every
 * keyframe_interval_ms; a receiver that does send PLI/FIR (GStreamer's
 * rtpbin with AVPF) is honoured too.
 *
 * Egress: one sendto per packet. A tap carries one stream, a few hundred
 * packets per second; batching with sendmmsg is not worth its code yet.
 * Send errors (ICMP port unreachable while the receiver is not up yet,
 * a full socket buffer) are counted, never logged per packet.
 */
#define WEIR_LOG_MODULE "shell.tap"
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "peer/srtp.h"
#include "proto/rtcp.h"
#include "proto/rtcp_fb.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define SR_INTERVAL_US 1000000

typedef struct tap {
    /* borrowed: */
    weir_worker *w;
    /* owned: */
    weir_consumer *consumer;
    weir_srtp *srtp; /* NULL: plain RTP */
    int fd;
    GSource *rx; /* RTCP (or anything) the receiver sends back */
    /* state: */
    weir_worker_tap cfg;
    struct sockaddr_storage rtp_to, rtcp_to;
    socklen_t to_len;
    int64_t last_sr_us;
    int64_t last_keyframe_us;
    uint64_t packets, bytes, rtcp_received, send_errors, keyframe_requests;
    bool stats_dirty;
    char log_tag[48];
} tap;

static void make_addr(const weir_worker_tap *cfg, uint16_t port, struct sockaddr_storage *out,
                      socklen_t *len)
{
    memset(out, 0, sizeof *out);
    if (cfg->family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        memcpy(&a->sin_addr, cfg->addr, 4);
        *len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        memcpy(&a->sin6_addr, cfg->addr, 16);
        *len = sizeof *a;
    }
}

/* True when from is the tap's destination host (any port): only it may ask for keyframes. */
static bool from_receiver(const tap *t, const struct sockaddr_storage *from)
{
    if (from->ss_family != t->cfg.family)
        return false;
    if (from->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)from)->sin_addr, t->cfg.addr, 4) == 0;
    return memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr, t->cfg.addr, 16) == 0;
}

static void request_keyframe(tap *t, int64_t now_us)
{
    int layer = weir_consumer_handle_keyframe_request(t->consumer);
    t->last_keyframe_us = now_us;
    /* -1: nothing forwarded yet, and the selector is already asking for its target. */
    if (layer >= 0) {
        t->keyframe_requests++;
        weir_router_request_keyframe(t->w, t->cfg.handle, layer);
    }
}

/* PLI or FIR about our SSRC, from a receiver that sends feedback. */
static void handle_feedback(tap *t, const uint8_t *buf, size_t len, int64_t now_us)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    weir_rtcp_iter_init(&it, buf, len);
    while (weir_rtcp_iter_next(&it, &p) == 1) {
        weir_rtcp_fb fb;
        if (p.type != WEIR_RTCP_PSFB || weir_rtcp_fb_parse(&p, &fb) < 0)
            continue;
        if (fb.fmt == WEIR_RTCP_FB_PLI && fb.media_ssrc == t->cfg.ssrc)
            request_keyframe(t, now_us);
        else if (fb.fmt == WEIR_RTCP_FB_FIR)
            request_keyframe(t, now_us); /* FIR names the SSRC in its FCI; one stream here */
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    tap *t = data;
    uint8_t buf[1500];
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n =
            recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0)
            break; /* EAGAIN, or a queued ICMP error (ECONNREFUSED): nothing to read */
        t->rtcp_received++;
        t->stats_dirty = true;
        size_t len = (size_t)n;
        if (!t->cfg.audio && from_receiver(t, &from) && weir_rtcp_is_rtcp(buf, len) &&
            (!t->srtp || weir_srtp_unprotect_rtcp(t->srtp, buf, &len) == 0))
            handle_feedback(t, buf, len, weir_clock_now_us());
    }
    return G_SOURCE_CONTINUE;
}

static void send_to(tap *t, const uint8_t *buf, size_t len, const struct sockaddr_storage *to)
{
    if (sendto(t->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to,
               t->to_len) < 0)
        t->send_errors++;
}

void weir_tap_forward(tap *t, weir_pkt *p, int64_t now_us)
{
    uint8_t buf[WEIR_CONSUMER_OUT_MAX + WEIR_SRTP_MAX_RTP_OVERHEAD];
    size_t len = 0;
    int rc =
        weir_consumer_handle_packet(t->consumer, p, now_us, NULL, buf, WEIR_CONSUMER_OUT_MAX, &len);
    weir_consumer_event ev;
    while (weir_consumer_poll_event(t->consumer, &ev) == 1)
        if (ev.type == WEIR_CONSUMER_EVENT_KEYFRAME_REQUEST) {
            t->keyframe_requests++;
            t->last_keyframe_us = now_us;
            weir_router_request_keyframe(t->w, t->cfg.handle, ev.spatial);
        }
    if (rc != 1)
        return;
    if (t->srtp && weir_srtp_protect_rtp(t->srtp, buf, &len, sizeof buf) < 0) {
        t->send_errors++;
        return;
    }
    send_to(t, buf, len, &t->rtp_to);
    t->packets++;
    t->bytes += len;
    t->stats_dirty = true;
}

static weir_consumer *new_consumer(const weir_worker_tap *cfg)
{
    /* What a plain RTP receiver expects; a tap answers PLI/FIR but no NACK. */
    weir_consumer *c = weir_router_sink_consumer(cfg->codec, cfg->audio, cfg->clock_rate_hz,
                                                 cfg->n_layers, cfg->ssrc, cfg->pt, cfg->in_pt);
    if (c && !cfg->audio && cfg->layer >= 0)
        weir_consumer_set_preferences(c, cfg->layer, 2);
    return c;
}

static int open_socket(tap *t)
{
    int fd = socket(t->cfg.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    t->fd = fd;
    t->rx = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(t->rx, G_SOURCE_FUNC(on_readable), t, NULL);
    g_source_attach(t->rx, t->w->context);
    return 0;
}

static weir_srtp *new_srtp(const weir_worker_tap *cfg)
{
    weir_srtp_keys keys = {
        .profile = WEIR_SRTP_PROFILE_AES128_CM_SHA1_80,
        .key_len = 16,
        .salt_len = 14,
    };
    /* One key for both directions: the receiver protects its RTCP with the SDP's key too. */
    memcpy(keys.local_key, cfg->srtp_key, 16);
    memcpy(keys.local_salt, cfg->srtp_key + 16, 14);
    memcpy(keys.remote_key, cfg->srtp_key, 16);
    memcpy(keys.remote_salt, cfg->srtp_key + 16, 14);
    weir_srtp *s = weir_srtp_create(&keys, NULL);
    memset(&keys, 0, sizeof keys);
    return s;
}

void weir_tap_destroy(tap *t)
{
    if (!t)
        return;
    if (t->rx) {
        g_source_destroy(t->rx);
        g_source_unref(t->rx);
    }
    if (t->fd >= 0)
        close(t->fd);
    weir_consumer_destroy(t->consumer);
    weir_srtp_destroy(t->srtp);
    memset(t->cfg.srtp_key, 0, sizeof t->cfg.srtp_key);
    weir_free(t);
}

void weir_tap_start(weir_worker *w, const weir_worker_tap *cfg)
{
    tap *t = WEIR_NEW(tap);
    t->w = w;
    t->fd = -1;
    t->cfg = *cfg;
    snprintf(t->log_tag, sizeof t->log_tag, "tap=%llu track=%u", (unsigned long long)cfg->tap_id,
             cfg->handle);
    make_addr(cfg, cfg->rtp_port, &t->rtp_to, &t->to_len);
    make_addr(cfg, cfg->rtcp_port, &t->rtcp_to, &t->to_len);
    const char *why = NULL;
    if (!(t->consumer = new_consumer(cfg)))
        why = "consumer refused the track";
    else if (cfg->srtp && !(t->srtp = new_srtp(cfg)))
        why = "srtp setup failed";
    else if (open_socket(t) < 0)
        why = strerror(errno);
    if (why) {
        WEIR_LOG_WARN("%s tap_start_failed reason=\"%s\"", t->log_tag, why);
        weir_tap_destroy(t);
        return;
    }
    route *r = weir_router_get(w, cfg->handle, true);
    if (!r->taps)
        r->taps = g_ptr_array_new();
    g_ptr_array_add(r->taps, t);
    t->last_keyframe_us = weir_clock_now_us();
    WEIR_LOG_INFO("%s tap_started worker=%d producer_here=%d srtp=%d rtp_port=%u rtcp_port=%u",
                  t->log_tag, w->index, r->producer != NULL, (int)cfg->srtp,
                  (unsigned)cfg->rtp_port, (unsigned)cfg->rtcp_port);
}

static void report(tap *t)
{
    t->stats_dirty = false;
    weir_worker_event *ev = weir_worker_new_event(t->w, WEIR_WORKER_EVENT_TAP_STATS, 0);
    ev->tap_id = t->cfg.tap_id;
    ev->handle = t->cfg.handle;
    ev->packets = t->packets;
    ev->bytes = t->bytes;
    ev->rtcp_received = t->rtcp_received;
    weir_worker_push_event(t->w, ev);
}

void weir_tap_stop(weir_worker *w, const weir_worker_tap_stop *stop)
{
    route *r = weir_router_get(w, stop->handle, false);
    for (guint i = 0; r && r->taps && i < r->taps->len; i++) {
        tap *t = g_ptr_array_index(r->taps, i);
        if (t->cfg.tap_id != stop->tap_id)
            continue;
        report(t); /* the final counts */
        WEIR_LOG_INFO("%s tap_stopped packets=%llu bytes=%llu rtcp_received=%llu send_errors=%llu "
                      "keyframe_requests=%llu",
                      t->log_tag, (unsigned long long)t->packets, (unsigned long long)t->bytes,
                      (unsigned long long)t->rtcp_received, (unsigned long long)t->send_errors,
                      (unsigned long long)t->keyframe_requests);
        g_ptr_array_remove_index(r->taps, i);
        weir_tap_destroy(t);
        weir_router_drop_if_unused(w, r);
        return;
    }
}

/* true when an SR went out; none can before the publisher's own first SR arrived. */
static bool send_sender_report(tap *t, int64_t now_us)
{
    uint8_t buf[128 + WEIR_SRTP_MAX_RTCP_OVERHEAD];
    size_t len = 0;
    weir_consumer_handle_timeout(t->consumer, now_us);
    if (weir_consumer_write_sr(t->consumer, now_us, buf, 128, &len) != 1)
        return false;
    if (t->srtp && weir_srtp_protect_rtcp(t->srtp, buf, &len, sizeof buf) < 0)
        return false;
    send_to(t, buf, len, &t->rtcp_to);
    return true;
}

static void tap_periodic(tap *t, int64_t now_us)
{
    /* Until the first SR could go out, try on every tick: a receiver aligns audio and video
     * by SRs, and the publisher's first one may come just after the tap started. */
    if (now_us - t->last_sr_us >= SR_INTERVAL_US && send_sender_report(t, now_us))
        t->last_sr_us = now_us;
    uint64_t interval_us = (uint64_t)t->cfg.keyframe_interval_ms * 1000;
    if (!t->cfg.audio && interval_us && now_us - t->last_keyframe_us >= (int64_t)interval_us)
        request_keyframe(t, now_us);
    if (t->stats_dirty)
        report(t);
}

void weir_tap_periodic(weir_worker *w, int64_t now_us)
{
    if (!w->routes)
        return;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->routes);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        route *r = v;
        for (guint i = 0; r->taps && i < r->taps->len; i++)
            tap_periodic(g_ptr_array_index(r->taps, i), now_us);
    }
}
