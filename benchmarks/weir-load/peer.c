/*
 * A weir-load peer connection (see peer.h). The receive path runs per
 * packet for hundreds of subscribers, so it does as little as it can:
 * one recvmmsg per batch, one clock read per batch, header-only accounting,
 * and SRTP only on the sampled packets.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "stun.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "load.peer"
#include "weir/log.h"

#define RX_BATCH 32
/* A receive buffer holds a whole coalesced (UDP_GRO) run of datagrams. */
#define RX_BUF 65536
#define CHECK_INTERVAL_US 50000
#define MAX_CHECKS 200 /* 10 s */
#define RTCP_INTERVAL_US 1000000
#define VIDEO_CLOCK 90000

static const char ICE_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

static void random_ice_string(char *out, size_t n)
{
    uint8_t r[32];
    RAND_bytes(r, sizeof r);
    for (size_t i = 0; i < n; i++)
        out[i] = ICE_CHARS[r[i % sizeof r] & 63];
    out[n] = '\0';
}

static uint32_t random_u32(void)
{
    uint32_t v;
    RAND_bytes((uint8_t *)&v, sizeof v);
    return v ? v : 1;
}

const char *wl_peer_state_name(wl_peer_state s)
{
    switch (s) {
    case WL_PEER_NEW:
        return "new";
    case WL_PEER_CHECKING:
        return "checking";
    case WL_PEER_DTLS:
        return "dtls";
    case WL_PEER_CONNECTED:
        return "connected";
    case WL_PEER_FAILED:
        return "failed";
    }
    return "?";
}

static void on_ready(wl_io *io, uint32_t events);

wl_peer *wl_peer_create(wl_ctx *ctx, wl_part *part, bool is_publisher, bool controlling)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        WEIR_LOG_ERROR("socket failed errno=%d", errno);
        return NULL;
    }
    /*
     * Room for ~2 s of a subscriber's media, so that a tool descheduled on a
     * busy machine does not drop at its own socket. net.core.rmem_max caps
     * SO_RCVBUF (usually at 208 KiB: ~90 packets); as root, FORCE passes it.
     */
    int buf = 2 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    int on = 1;
    if (!is_publisher)
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    /*
     * UDP_GRO: a run of datagrams a server sent with UDP GSO arrives as one
     * buffer (split again in on_ready) instead of one socket enqueue and one
     * wake-up each. On loopback the sender's CPU pays for the receiver's
     * enqueue; on a real network it does not, so this keeps the tool's
     * socket from inflating the server's figures. Servers that send one
     * datagram per call (no GSO) see no difference.
     */
    if (!is_publisher && ctx->opt.udp_gro)
        setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, ctx->opt.local_ip, &sa.sin_addr);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        WEIR_LOG_ERROR("bind %s failed errno=%d", ctx->opt.local_ip, errno);
        close(fd);
        return NULL;
    }
    wl_peer *p = weir_calloc(1, sizeof *p);
    p->io.fd = fd;
    p->io.on_ready = on_ready;
    p->ctx = ctx;
    p->part = part;
    p->is_publisher = is_publisher;
    p->controlling = controlling;
    p->local = sa;
    random_ice_string(p->lufrag, 8);
    random_ice_string(p->lpwd, 24);
    p->created_us = ctx->now_us;
    p->rtcp_ssrc = random_u32();
    p->audio_pt = WL_PT_OPUS;
    if (wl_loop_add(ctx, &p->io) < 0) {
        close(fd);
        weir_free(p);
        return NULL;
    }
    return p;
}

void wl_peer_destroy(wl_peer *p)
{
    if (!p)
        return;
    wl_loop_del(p->ctx, &p->io);
    close(p->io.fd);
    weir_dtls_destroy(p->dtls);
    weir_srtp_destroy(p->srtp);
    for (size_t i = 0; i < p->n_streams; i++) {
        if (p->streams[i].depack)
            wc_vp8_depack_destroy(p->streams[i].depack);
        if (p->streams[i].decoder)
            wc_video_decoder_destroy(p->streams[i].decoder);
    }
    weir_free(p);
}

void wl_peer_enable_decode(wl_peer *p)
{
    p->decode = true;
}

/* Reassembles and decodes (trailer already stripped); counts frames and errors. */
static void decode_video(wl_peer *p, wl_rx_stream *s, const uint8_t *pkt, const uint8_t *payload,
                         size_t len)
{
    wl_stats *st = &p->ctx->stats;
    if (!s->depack) {
        s->depack = wc_vp8_depack_create(NULL);
        s->decoder = wc_video_decoder_create();
    }
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
    bool marker = pkt[1] & 0x80;
    if (wc_vp8_depack_push(s->depack, p->ctx->now_us, seq, ts, marker, payload, len) < 0) {
        st->decode_errors++;
        return;
    }
    wc_vp8_frame f;
    while (wc_vp8_depack_poll_frame(s->depack, p->ctx->now_us, &f) == 1) {
        int w, h;
        wc_pattern_info info;
        bool info_ok;
        int rc = wc_video_decoder_decode(s->decoder, f.data, f.len, &w, &h, &info, &info_ok);
        if (rc < 0)
            st->decode_errors++;
        else if (rc == 1)
            st->frames_decoded++;
    }
}

void wl_peer_candidate(const wl_peer *p, char *out, size_t cap)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->local.sin_addr, ip, sizeof ip);
    snprintf(out, cap, "candidate:1 1 udp 2130706431 %s %u typ host", ip, ntohs(p->local.sin_port));
}

void wl_peer_add_candidate(wl_peer *p, const char *candidate)
{
    if (strncmp(candidate, "a=", 2) == 0)
        candidate += 2;
    char foundation[64], transport[16], ip[64], typ[16], type[16];
    unsigned comp, port;
    unsigned long prio;
    if (sscanf(candidate, "candidate:%63s %u %15s %lu %63s %u %15s %15s", foundation, &comp,
               transport, &prio, ip, &port, typ, type) != 8)
        return;
    if (comp != 1 || strcasecmp(transport, "udp") != 0 || port == 0 || port > 65535)
        return;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return;
    for (size_t i = 0; i < p->n_cands; i++)
        if (p->cands[i].sin_addr.s_addr == sa.sin_addr.s_addr &&
            p->cands[i].sin_port == sa.sin_port)
            return;
    if (p->n_cands < WL_PEER_MAX_CANDS)
        p->cands[p->n_cands++] = sa;
}

int wl_peer_set_remote(wl_peer *p, const char *ufrag, const char *pwd, const char *fp_hash,
                       const char *fp, weir_sdp_setup remote_setup)
{
    if (p->remote_set) /* a re-offer: same transport, nothing to do */
        return strcmp(p->rufrag, ufrag) == 0 ? 0 : -WEIR_EINVAL;
    snprintf(p->rufrag, sizeof p->rufrag, "%s", ufrag);
    snprintf(p->rpwd, sizeof p->rpwd, "%s", pwd);
    weir_dtls_config dc = {
        .role =
            remote_setup == WEIR_SDP_SETUP_ACTIVE ? WEIR_DTLS_ROLE_SERVER : WEIR_DTLS_ROLE_CLIENT,
        .fingerprint_algorithm = fp_hash,
        .fingerprint_hex = fp,
        .log_id = p->part->name,
    };
    p->dtls = weir_dtls_create(p->ctx->dctx, &dc);
    if (!p->dtls)
        return -WEIR_EINVAL;
    p->remote_set = true;
    p->state = WL_PEER_CHECKING;
    p->next_check_us = p->ctx->now_us;
    return 0;
}

bool wl_peer_connected(const wl_peer *p)
{
    return p && p->state == WL_PEER_CONNECTED;
}

static void send_to(wl_peer *p, const struct sockaddr_in *to, const uint8_t *buf, size_t len)
{
    if (sendto(p->io.fd, buf, len, 0, (const struct sockaddr *)to, sizeof *to) < 0)
        p->ctx->stats.tx_errors++;
}

static void flush_dtls(wl_peer *p)
{
    const uint8_t *data;
    size_t len;
    while (weir_dtls_poll_transmit(p->dtls, &data, &len) == 1)
        if (p->have_remote)
            send_to(p, &p->remote, data, len);
    weir_dtls_event ev;
    while (weir_dtls_poll_event(p->dtls, &ev) == 1) {
        if (ev.type == WEIR_DTLS_EVENT_CONNECTED) {
            p->srtp = weir_srtp_create(&ev.keys, NULL);
            if (!p->srtp) {
                p->state = WL_PEER_FAILED;
                continue;
            }
            p->state = WL_PEER_CONNECTED;
            p->connected_us = p->ctx->now_us;
            p->next_rtcp_us = p->ctx->now_us;
            if (p->is_publisher) {
                p->tx.next_video_us = p->ctx->now_us;
                p->tx.next_audio_us = p->ctx->now_us;
                for (size_t l = 0; l < p->tx.n_layers; l++)
                    p->tx.layers[l].pacing =
                        wl_pacing_make(p->ctx->opt.pacing, p->ctx->clip.layers[l].kbps,
                                       (int64_t)p->ctx->opt.pacing_burst_ms * 1000);
            }
            WEIR_LOG_DEBUG("connected peer=%s pc=%s profile=%s ms=%lld", p->part->name,
                           p->is_publisher ? "pub" : "sub", weir_srtp_profile_name(ev.keys.profile),
                           (long long)((p->connected_us - p->created_us) / 1000));
        } else {
            WEIR_LOG_WARN("dtls peer=%s pc=%s %s %s", p->part->name,
                          p->is_publisher ? "pub" : "sub", weir_dtls_reason_name(ev.reason),
                          ev.detail);
            p->state = WL_PEER_FAILED;
        }
    }
}

static void start_dtls(wl_peer *p)
{
    if (p->dtls_started || !p->dtls || !p->have_remote)
        return;
    p->dtls_started = true;
    if (p->state == WL_PEER_CHECKING)
        p->state = WL_PEER_DTLS;
    weir_dtls_start(p->dtls, p->ctx->now_us);
    flush_dtls(p);
}

static void send_check(wl_peer *p)
{
    char username[600];
    snprintf(username, sizeof username, "%s:%s", p->rufrag, p->lufrag);
    RAND_bytes(p->txid, sizeof p->txid);
    wl_stun_request req = {
        .txid = p->txid,
        .username = username,
        .password = p->rpwd,
        .priority = 1862270975u, /* a peer-reflexive priority (RFC 8445 §7.1.1) */
        .controlling = p->controlling,
        .tiebreaker = p->controlling ? UINT64_MAX : 0,
        .use_candidate = p->controlling,
    };
    uint8_t buf[WL_STUN_MAX + 600];
    int len = wl_stun_write_request(&req, buf, sizeof buf);
    if (len <= 0)
        return;
    for (size_t i = 0; i < p->n_cands; i++) {
        send_to(p, &p->cands[i], buf, (size_t)len);
        p->ctx->stats.stun_out++;
    }
    if (p->checks_sent++ == 0)
        WEIR_LOG_DEBUG("first check peer=%s pc=%s candidates=%zu controlling=%d", p->part->name,
                       p->is_publisher ? "pub" : "sub", p->n_cands, p->controlling);
}

static void handle_stun(wl_peer *p, const uint8_t *buf, size_t len, const struct sockaddr_in *from)
{
    wl_stun_msg m;
    if (wl_stun_parse(buf, len, &m) < 0)
        return;
    p->ctx->stats.stun_in++;
    if (!p->have_remote)
        WEIR_LOG_DEBUG("stun peer=%s pc=%s type=0x%04x from port %u error=%d", p->part->name,
                       p->is_publisher ? "pub" : "sub", m.type, ntohs(from->sin_port),
                       m.error_code);
    if (m.type == WL_STUN_BINDING_REQUEST) {
        uint8_t out[WL_STUN_MAX];
        int n = wl_stun_write_success(m.txid, from, p->lpwd, out, sizeof out);
        if (n > 0)
            send_to(p, from, out, (size_t)n);
        if (!p->have_remote && p->remote_set && !p->controlling) {
            /* Controlled: the controlling side's check is as good as ours. */
            p->remote = *from;
            p->have_remote = true;
            start_dtls(p);
        }
        return;
    }
    if (memcmp(m.txid, p->txid, sizeof p->txid) != 0)
        return;
    if (m.type == WL_STUN_BINDING_ERROR) {
        if (m.error_code == 487) {
            p->controlling = !p->controlling;
            p->next_check_us = p->ctx->now_us;
        }
        return;
    }
    if (m.type == WL_STUN_BINDING_SUCCESS && !p->have_remote) {
        p->remote = *from;
        p->have_remote = true;
        start_dtls(p);
    }
}

static void send_rtcp_rr(wl_peer *p)
{
    /* An empty receiver report: proof of life for servers that time out silent peers. */
    uint8_t buf[64] = {0x80, 201, 0, 1};
    uint32_t s = htonl(p->rtcp_ssrc);
    memcpy(buf + 4, &s, 4);
    size_t len = 8;
    if (weir_srtp_protect_rtcp(p->srtp, buf, &len, sizeof buf) == 0)
        send_to(p, &p->remote, buf, len);
}

void wl_peer_housekeeping(wl_peer *p, int64_t now_us)
{
    if (p->state == WL_PEER_FAILED || !p->remote_set)
        return;
    if (!p->have_remote && p->n_cands > 0 && now_us >= p->next_check_us) {
        if (p->checks_sent >= MAX_CHECKS) {
            WEIR_LOG_WARN("ice failed peer=%s pc=%s checks=%d", p->part->name,
                          p->is_publisher ? "pub" : "sub", p->checks_sent);
            p->state = WL_PEER_FAILED;
            return;
        }
        send_check(p);
        p->next_check_us = now_us + CHECK_INTERVAL_US;
    }
    if (p->dtls_started && p->state == WL_PEER_DTLS && now_us >= weir_dtls_next_timeout(p->dtls)) {
        weir_dtls_handle_timeout(p->dtls, now_us);
        flush_dtls(p);
    }
    if (p->state == WL_PEER_CONNECTED && !p->is_publisher && now_us >= p->next_rtcp_us) {
        send_rtcp_rr(p);
        p->next_rtcp_us = now_us + RTCP_INTERVAL_US;
    }
}

/* ---- receive ---- */

static wl_rx_stream *rx_stream(wl_peer *p, uint32_t ssrc, uint8_t pt)
{
    for (size_t i = 0; i < p->n_streams; i++)
        if (p->streams[i].ssrc == ssrc)
            return &p->streams[i];
    if (p->n_streams == WL_PEER_MAX_STREAMS)
        return NULL;
    wl_rx_stream *s = &p->streams[p->n_streams++];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->pt = pt;
    s->audio = pt == p->audio_pt;
    return s;
}

static bool window_test_set(wl_rx_stream *s, uint32_t ext)
{
    uint32_t bit = ext & 1023;
    uint64_t mask = 1ull << (bit & 63);
    bool was = s->window[bit >> 6] & mask;
    s->window[bit >> 6] |= mask;
    return was;
}

static void window_clear(wl_rx_stream *s, uint32_t ext)
{
    uint32_t bit = ext & 1023;
    s->window[bit >> 6] &= ~(1ull << (bit & 63));
}

/* Header-only accounting: returns false for a duplicate. */
static bool account(wl_peer *p, wl_rx_stream *s, uint16_t seq)
{
    s->last_us = p->ctx->now_us;
    if (s->received == 0 && s->dups == 0) {
        s->first_ext = s->max_ext = 65536u + seq; /* room below for reordering */
        window_test_set(s, s->max_ext);
        s->received = 1;
        return true;
    }
    int16_t delta = (int16_t)(seq - (uint16_t)s->max_ext);
    uint32_t ext = s->max_ext + (uint32_t)(int32_t)delta;
    if (delta > 0) {
        for (uint32_t e = s->max_ext + 1; e < ext && ext - e < 1024; e++)
            window_clear(s, e);
        if (ext - s->max_ext >= 1024)
            memset(s->window, 0, sizeof s->window);
        s->max_ext = ext;
        window_test_set(s, ext);
    } else if (s->max_ext - ext < 1024) {
        if (window_test_set(s, ext)) {
            s->dups++;
            p->ctx->stats.dups++;
            return false;
        }
        if (ext < s->first_ext)
            s->first_ext = ext;
    }
    s->received++;
    return true;
}

static void verify_sample(wl_peer *p, wl_rx_stream *s, uint8_t *buf, size_t len, int64_t now_ns)
{
    wl_stats *st = &p->ctx->stats;
    if (weir_srtp_unprotect_rtp(p->srtp, buf, &len) != 0) {
        st->srtp_fail++;
        return;
    }
    st->verified++;
    size_t off, plen;
    uint32_t tseq;
    uint64_t send_ns;
    if (!wl_rtp_payload(buf, len, &off, &plen) ||
        !wl_trailer_read(buf + off, plen, &tseq, &send_ns)) {
        st->no_trailer++;
        return;
    }
    int64_t us = (now_ns - (int64_t)send_ns) / 1000;
    wl_hist_add(s->audio ? &st->lat_audio : &st->lat_video, us);
    if (p->decode && !s->audio)
        decode_video(p, s, buf, buf + off, plen - WL_TRAILER_LEN);
}

static void handle_publisher_rtcp(wl_peer *p, uint8_t *buf, size_t len)
{
    if (weir_srtp_unprotect_rtcp(p->srtp, buf, &len) != 0)
        return;
    size_t off = 0;
    while (len - off >= 4) {
        uint8_t fmt = buf[off] & 0x1F, pt = buf[off + 1];
        size_t plen = 4 * ((size_t)(buf[off + 2] << 8 | buf[off + 3]) + 1);
        if (plen > len - off)
            break;
        if (pt == 206 && (fmt == 1 || fmt == 4)) /* PLI, FIR */
            p->tx.keyframe_requested = true;
        off += plen;
    }
}

static void handle_datagram(wl_peer *p, uint8_t *buf, size_t len, const struct sockaddr_in *from,
                            int64_t now_ns)
{
    if (len == 0)
        return;
    uint8_t b0 = buf[0];
    if (b0 < 4) {
        handle_stun(p, buf, len, from);
        return;
    }
    if (weir_dtls_is_record(b0)) {
        if (!p->dtls)
            return;
        if (!p->have_remote) {
            p->remote = *from;
            p->have_remote = true;
        }
        if (!p->dtls_started) {
            p->dtls_started = true;
            p->state = WL_PEER_DTLS;
        }
        weir_dtls_handle_datagram(p->dtls, p->ctx->now_us, buf, len);
        flush_dtls(p);
        return;
    }
    if (b0 < 128 || b0 > 191 || len < 12 || !p->srtp)
        return;
    wl_stats *st = &p->ctx->stats;
    uint8_t pt = buf[1] & 0x7F;
    if (pt >= 64 && pt <= 95) {
        st->rx_rtcp++;
        if (p->is_publisher)
            handle_publisher_rtcp(p, buf, len);
        return;
    }
    if (p->is_publisher)
        return;
    st->rx_packets++;
    st->rx_bytes += len;
    uint32_t ssrc =
        (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    wl_rx_stream *s = rx_stream(p, ssrc, pt);
    if (!s)
        return;
    if (s->audio)
        st->rx_audio++;
    else
        st->rx_video++;
    if (!account(p, s, (uint16_t)(buf[2] << 8 | buf[3])))
        return;
    if (p->verify_counter++ % (uint64_t)p->ctx->opt.verify_every == 0 || p->decode)
        verify_sample(p, s, buf, len, now_ns);
}

static void on_ready(wl_io *io, uint32_t events)
{
    (void)events;
    wl_peer *p = (wl_peer *)io;
    static uint8_t bufs[RX_BATCH][RX_BUF];
    static struct sockaddr_in froms[RX_BATCH];
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iovs[RX_BATCH];
    static uint8_t ctrl[RX_BATCH][64];
    for (;;) {
        for (int i = 0; i < RX_BATCH; i++) {
            iovs[i].iov_base = bufs[i];
            iovs[i].iov_len = sizeof bufs[i];
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &froms[i];
            msgs[i].msg_hdr.msg_namelen = sizeof froms[i];
            msgs[i].msg_hdr.msg_control = ctrl[i];
            msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
        }
        int n = recvmmsg(p->io.fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        p->ctx->now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        for (int i = 0; i < n; i++) {
            /*
             * The kernel's receive time (SO_TIMESTAMPNS), so the latency does
             * not include how long this loop took to reach the socket.
             */
            int64_t rx_ns = wall_ns;
            size_t seg = msgs[i].msg_len;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
                 c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec k;
                    memcpy(&k, CMSG_DATA(c), sizeof k);
                    rx_ns = (int64_t)k.tv_sec * 1000000000 + k.tv_nsec;
                } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                    int gso_size;
                    memcpy(&gso_size, CMSG_DATA(c), sizeof gso_size);
                    if (gso_size > 0)
                        seg = (size_t)gso_size;
                }
            }
            /* A coalesced buffer: datagrams of seg bytes, the last one maybe shorter. */
            for (size_t off = 0; off < msgs[i].msg_len; off += seg) {
                size_t n_seg = msgs[i].msg_len - off < seg ? msgs[i].msg_len - off : seg;
                handle_datagram(p, bufs[i] + off, n_seg, &froms[i], rx_ns);
            }
        }
        if (n < RX_BATCH)
            return;
    }
}

void wl_peer_rx_totals(const wl_peer *p, uint64_t *expected, uint64_t *received, size_t *streams)
{
    for (size_t i = 0; i < p->n_streams; i++) {
        const wl_rx_stream *s = &p->streams[i];
        *expected += (uint64_t)(s->max_ext - s->first_ext) + 1;
        *received += s->received;
    }
    *streams += p->n_streams;
}

/* ---- send ---- */

/* Writes the RTP header (+ mid/rid extension) into out; returns its length. */
static size_t rtp_header(const wl_tx *tx, uint8_t *out, uint8_t pt, bool marker, uint16_t seq,
                         uint32_t ts, uint32_t ssrc, const char *mid, const char *rid)
{
    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
    out[2] = (uint8_t)(seq >> 8);
    out[3] = (uint8_t)seq;
    for (int i = 0; i < 4; i++) {
        out[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        out[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    if (!tx->ext_mid)
        return 12;
    out[0] |= 0x10;
    size_t o = 16;
    size_t ml = strlen(mid);
    out[o++] = (uint8_t)(tx->ext_mid << 4 | (ml - 1));
    memcpy(out + o, mid, ml);
    o += ml;
    if (rid && tx->ext_rid) {
        size_t rl = strlen(rid);
        out[o++] = (uint8_t)(tx->ext_rid << 4 | (rl - 1));
        memcpy(out + o, rid, rl);
        o += rl;
    }
    while ((o - 16) & 3)
        out[o++] = 0;
    size_t words = (o - 16) / 4;
    out[12] = 0xBE;
    out[13] = 0xDE;
    out[14] = (uint8_t)(words >> 8);
    out[15] = (uint8_t)words;
    return o;
}

#define TX_BATCH 64

typedef struct tx_batch {
    uint8_t bufs[TX_BATCH][WL_RTP_MAX];
    struct mmsghdr msgs[TX_BATCH];
    struct iovec iovs[TX_BATCH];
    int n;
} tx_batch;

static void batch_flush(wl_peer *p, tx_batch *b)
{
    int off = 0;
    while (off < b->n) {
        int r = sendmmsg(p->io.fd, b->msgs + off, (unsigned)(b->n - off), 0);
        if (r <= 0) {
            p->ctx->stats.tx_errors += (uint64_t)(b->n - off);
            break;
        }
        off += r;
    }
    b->n = 0;
}

static void batch_add(wl_peer *p, tx_batch *b, size_t len)
{
    tx_batch *bb = b;
    int i = bb->n;
    if (weir_srtp_protect_rtp(p->srtp, bb->bufs[i], &len, WL_RTP_MAX) != 0) {
        p->ctx->stats.tx_errors++;
        return;
    }
    bb->iovs[i].iov_base = bb->bufs[i];
    bb->iovs[i].iov_len = len;
    memset(&bb->msgs[i], 0, sizeof bb->msgs[i]);
    bb->msgs[i].msg_hdr.msg_iov = &bb->iovs[i];
    bb->msgs[i].msg_hdr.msg_iovlen = 1;
    bb->msgs[i].msg_hdr.msg_name = &p->remote;
    bb->msgs[i].msg_hdr.msg_namelen = sizeof p->remote;
    bb->n++;
    p->ctx->stats.tx_packets++;
    p->ctx->stats.tx_bytes += len;
    if (bb->n == TX_BATCH)
        batch_flush(p, bb);
}

/* Send times are wall-clock: the kernel's receive timestamps are too. */
static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Sends packet tl->packet of the layer's current frame (stamped now_ns,
 * the time it really leaves), accounts it to the pacer and moves on.
 */
static void send_video_packet(wl_peer *p, tx_batch *b, size_t l, int64_t now_us, int64_t due_us,
                              uint64_t now_ns)
{
    wl_tx *tx = &p->tx;
    wl_tx_layer *tl = &tx->layers[l];
    const wl_layer_clip *lc = &p->ctx->clip.layers[l];
    const wl_tx_frame *qf = &tx->queue[tl->frame % WL_TX_QUEUE];
    const wl_frame *f = &lc->frames[qf->clip_pos % lc->n_frames];
    const wl_packet *pk = &lc->packets[f->first + tl->packet];
    uint32_t ts = tl->frame * (VIDEO_CLOCK / (uint32_t)p->ctx->opt.fps);
    uint16_t picture_id = (uint16_t)(tl->frame & 0x7FFF);
    uint8_t *out = b->bufs[b->n];
    size_t h = rtp_header(tx, out, WL_PT_VP8, pk->marker, tl->seq++, ts, tl->ssrc, "1", lc->rid);
    memcpy(out + h, pk->payload, pk->len);
    /* PictureID (descriptor bytes 2-3, M bit set): continuous across clip loops. */
    out[h + 2] = (uint8_t)(0x80 | (picture_id >> 8));
    out[h + 3] = (uint8_t)picture_id;
    wl_trailer_write(out + h + pk->len, tl->trailer_seq++, now_ns);
    batch_add(p, b, h + pk->len + WL_TRAILER_LEN);
    /* The pacer counts the RTP payload, as libwebrtc's does by default (pacing.h). */
    wl_pacer_sent(&tl->pacer, &tl->pacing, now_us, (size_t)pk->len + WL_TRAILER_LEN);
    wl_stats *st = &p->ctx->stats;
    st->tx_video_packets++;
    if (now_us > due_us)
        st->tx_late_us += (uint64_t)(now_us - due_us);
    if (++tl->packet < f->count)
        return;
    /* the frame is out */
    uint64_t spread = now_us > qf->capture_us ? (uint64_t)(now_us - qf->capture_us) : 0;
    st->tx_frames++;
    st->tx_frame_spread_us += spread;
    if (spread > st->tx_frame_spread_max_us)
        st->tx_frame_spread_max_us = spread;
    tl->packet = 0;
    tl->frame++;
}

/*
 * Sends the layer's packets that are due at now_us; returns when the next
 * one is (INT64_MAX when the layer has sent every captured frame).
 */
static int64_t send_layer(wl_peer *p, tx_batch *b, size_t l, int64_t now_us, uint64_t *now_ns)
{
    wl_tx *tx = &p->tx;
    wl_tx_layer *tl = &tx->layers[l];
    while (tl->frame != tx->frame_no) {
        int64_t due = wl_pacer_next_us(&tl->pacer, &tl->pacing);
        int64_t capture = tx->queue[tl->frame % WL_TX_QUEUE].capture_us;
        if (due < capture)
            due = capture;
        if (due > now_us)
            return due;
        if (!*now_ns)
            *now_ns = wall_ns(); /* one clock read per call, when something leaves */
        send_video_packet(p, b, l, now_us, due, *now_ns);
    }
    return INT64_MAX;
}

/* Captures the frame due on the frame clock at capture_us into the queue. */
static void capture_frame(wl_peer *p, tx_batch *b, int64_t capture_us, uint64_t *now_ns)
{
    wl_tx *tx = &p->tx;
    const wl_clip *clip = &p->ctx->clip;
    if (tx->keyframe_requested) {
        tx->clip_pos = 0; /* the clip starts with a keyframe */
        tx->keyframe_requested = false;
    }
    /*
     * A layer that lags a whole queue behind (a pacing rate below the media
     * rate cannot happen: --pacing is 0 or >= 1; but a keyframe storm or a
     * starved loop can) sends its oldest frame at once to make room.
     */
    for (size_t l = 0; l < tx->n_layers; l++) {
        wl_tx_layer *tl = &tx->layers[l];
        if (tx->frame_no - tl->frame < WL_TX_QUEUE)
            continue;
        if (!*now_ns)
            *now_ns = wall_ns();
        uint32_t oldest = tl->frame;
        while (tl->frame == oldest)
            send_video_packet(p, b, l, capture_us, capture_us, *now_ns);
        if (p->ctx->stats.tx_queue_flushes++ == 0)
            WEIR_LOG_WARN("pacer queue full peer=%s layer=%zu: a frame left at once", p->part->name,
                          l);
    }
    wl_tx_frame *qf = &tx->queue[tx->frame_no % WL_TX_QUEUE];
    qf->clip_pos = (uint32_t)tx->clip_pos;
    qf->capture_us = capture_us;
    tx->frame_no++;
    tx->clip_pos++;
    if (tx->clip_pos >= clip->layers[0].n_frames)
        tx->clip_pos = 0;
}

static void send_audio(wl_peer *p, tx_batch *b)
{
    wl_tx *tx = &p->tx;
    const wl_clip *clip = &p->ctx->clip;
    size_t i = tx->audio_no % clip->n_audio;
    uint8_t *out = b->bufs[b->n];
    size_t h = rtp_header(tx, out, WL_PT_OPUS, false, tx->audio_seq++, tx->audio_no * 960,
                          tx->audio_ssrc, "0", NULL);
    memcpy(out + h, clip->audio[i], clip->audio_len[i]);
    wl_trailer_write(out + h + clip->audio_len[i], tx->audio_trailer_seq++, wall_ns());
    batch_add(p, b, h + clip->audio_len[i] + WL_TRAILER_LEN);
    tx->audio_no++;
}

int64_t wl_peer_send_media(wl_peer *p, int64_t now_us)
{
    if (p->state != WL_PEER_CONNECTED)
        return INT64_MAX;
    static tx_batch batch;
    wl_tx *tx = &p->tx;
    int64_t frame_us = 1000000 / p->ctx->opt.fps;
    /* After a stall (the loop was busy) resynchronise instead of bursting. */
    if (now_us - tx->next_video_us > 200000)
        tx->next_video_us = now_us;
    if (now_us - tx->next_audio_us > 200000)
        tx->next_audio_us = now_us;
    uint64_t now_ns = 0; /* the wall clock, read once something is sent */
    while (now_us >= tx->next_video_us) {
        capture_frame(p, &batch, tx->next_video_us, &now_ns);
        tx->next_video_us += frame_us;
    }
    int64_t next = tx->next_video_us;
    for (size_t l = 0; l < tx->n_layers; l++) {
        int64_t d = send_layer(p, &batch, l, now_us, &now_ns);
        if (d < next)
            next = d;
    }
    while (now_us >= tx->next_audio_us) {
        send_audio(p, &batch);
        tx->next_audio_us += 20000;
    }
    batch_flush(p, &batch);
    return next < tx->next_audio_us ? next : tx->next_audio_us;
}
