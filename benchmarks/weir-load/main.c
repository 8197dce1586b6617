/*
 * weir-load: simulated publishers and subscribers with real ICE, DTLS and
 * SRTP against Weir or the Janus videoroom, to measure what a server costs
 * per forwarded stream. See benchmarks/README.md for the presets, the
 * figures and how compare.py uses it.
 *
 *   weir-load --server weir --port 8088 --preset fanout --subscribers 200 \
 *             --server-pid PID --json out.json --md out.md
 *
 * The run: build the clip, join the publishers, join the subscribers at
 * --ramp per second, wait until every peer connection carries SRTP, warm
 * up, then measure for --duration seconds and report the window.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "peer.h"
#include "base/clock.h"
#include "report.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "load"
#include "weir/log.h"

#define HOUSEKEEPING_US 10000

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int64_t wl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int wl_loop_add(wl_ctx *ctx, wl_io *io)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = io};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
        WEIR_LOG_ERROR("epoll_ctl add errno=%d", errno);
        return -WEIR_EIO;
    }
    return 0;
}

void wl_loop_del(wl_ctx *ctx, wl_io *io)
{
    epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

static void progress(wl_ctx *ctx, int64_t now)
{
    static uint64_t last_rx;
    static double last_cpu;
    static int64_t last_t;
    if (ctx->opt.quiet || now < ctx->next_progress_us)
        return;
    ctx->next_progress_us = now + 1000000;
    size_t pubs = 0, pubs_ok = 0, subs = 0, subs_ok = 0;
    for (size_t i = 0; i < ctx->n_parts; i++) {
        wl_part *p = ctx->parts[i];
        if (p->pub) {
            pubs++;
            pubs_ok += wl_peer_connected(p->pub);
        }
        if (p->sub) {
            subs++;
            subs_ok += wl_peer_connected(p->sub);
        }
    }
    double cpu = wl_self_cpu_s();
    double dt = last_t ? (double)(now - last_t) / 1e6 : 0;
    double pps = dt > 0 ? (double)(ctx->stats.rx_packets - last_rx) / dt : 0;
    double tool = dt > 0 ? (cpu - last_cpu) / dt : 0;
    fprintf(stderr,
            "\r[%6.1fs] pubs %zu/%zu subs %zu/%zu rx %.0f pps lat p50 %.2f p99 %.2f ms "
            "srtp_fail %llu tool_cpu %.0f%% pacing %s   ",
            (double)(now - ctx->start_us) / 1e6, pubs_ok, pubs, subs_ok, subs, pps,
            wl_hist_percentile(&ctx->stats.lat_video, 50) / 1000.0,
            wl_hist_percentile(&ctx->stats.lat_video, 99) / 1000.0,
            (unsigned long long)ctx->stats.srtp_fail, tool * 100, wl_pacing_label(&ctx->opt));
    last_rx = ctx->stats.rx_packets;
    last_cpu = cpu;
    last_t = now;
}

void wl_loop_once(wl_ctx *ctx, int64_t max_wait_us)
{
    int64_t now = wl_now_us();
    ctx->now_us = now;
    int64_t next = now + max_wait_us;
    for (size_t i = 0; i < ctx->n_parts; i++) {
        wl_peer *p = ctx->parts[i]->pub;
        if (p && p->state == WL_PEER_CONNECTED) {
            int64_t d = wl_peer_send_media(p, now);
            if (d < next)
                next = d;
        }
    }
    if (now >= ctx->next_housekeeping_us) {
        for (size_t i = 0; i < ctx->n_parts; i++) {
            wl_part *part = ctx->parts[i];
            if (part->pub)
                wl_peer_housekeeping(part->pub, now);
            if (part->sub)
                wl_peer_housekeeping(part->sub, now);
            ctx->driver->housekeeping(part, now);
        }
        ctx->next_housekeeping_us = now + HOUSEKEEPING_US;
        progress(ctx, now);
    }
    if (ctx->next_housekeeping_us < next)
        next = ctx->next_housekeeping_us;
    int64_t wait = next - wl_now_us();
    if (wait < 0)
        wait = 0;
    struct timespec ts = {.tv_sec = wait / 1000000, .tv_nsec = (wait % 1000000) * 1000};
    struct epoll_event evs[256];
    int n = epoll_pwait2(ctx->epfd, evs, 256, &ts, NULL);
    for (int i = 0; i < n; i++) {
        wl_io *io = evs[i].data.ptr;
        io->on_ready(io, evs[i].events);
    }
}

bool wl_run_until(wl_ctx *ctx, bool (*done)(void *arg), void *arg, int timeout_ms)
{
    int64_t end = wl_now_us() + (int64_t)timeout_ms * 1000;
    while (!interrupted) {
        if (done && done(arg))
            return true;
        int64_t now = wl_now_us();
        if (now >= end)
            return false;
        wl_loop_once(ctx, end - now < 50000 ? end - now : 50000);
    }
    return false;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: weir-load [options]\n"
            "  --server weir|janus     signalling driver (default weir)\n"
            "  --host IP --port N      signalling address (default 127.0.0.1:8088)\n"
            "  --local-ip IP           address of our media sockets (default 127.0.0.1)\n"
            "  --room NAME             room (Janus: a number; default load / 1234)\n"
            "  --preset fanout|meeting|classroom\n"
            "                          fanout: 1 publisher -> S subscribers;\n"
            "                          meeting: N participants all publishing and receiving;\n"
            "                          classroom: 1 teacher (3 simulcast layers) + students (2\n"
            "                          layers), each receiving the teacher's top layer, 4\n"
            "                          students' low layer and every audio\n"
            "  --subscribers S         fanout subscribers (default 25)\n"
            "  --participants N        meeting participants (default 10)\n"
            "  --students N            classroom students (default 30)\n"
            "  --simulcast             publishers send three layers (q/h/f)\n"
            "  --kbps N --width W --height H --fps F   top video layer (1500, 1280x720, 30)\n"
            "  --loop-frames N         frames pre-encoded and looped (default 60)\n"
            "  --verify-every N        subscribers unprotect 1 packet in N (default 8)\n"
            "  --decode K              K subscribers unprotect everything and decode the video\n"
            "  --no-udp-gro            subscriber sockets take datagrams one by one (default:\n"
            "                          UDP_GRO on, see benchmarks/README.md)\n"
            "  --pacing FACTOR         spread each frame's video packets at FACTOR x the\n"
            "                          layer's bitrate, like a browser's pacer (libwebrtc:\n"
            "                          2.5); 0 (default) = one burst per frame\n"
            "  --pacing-burst MS       the pacer may send up to MS ms ahead of its rate\n"
            "                          (recent libwebrtc: 40); default 0\n"
            "  --ramp R                joins per second (default 100)\n"
            "  --warmup S --duration S measurement window (default 3 + 10 s)\n"
            "  --server-pid PID        sample the server's CPU and RSS from /proc\n"
            "  --json FILE|- --md FILE|-  reports\n"
            "  --label TEXT            copied into the JSON report\n"
            "  --quiet                 no progress line\n"
            "  --verbose               debug log (SDP, connection times)\n");
}

/*
 * --pacing: 0 (no pacing) or a factor from 1 to 100. Below 1 the pacer
 * would drain slower than the encoder fills it and the queue would only grow.
 */
static int parse_pacing(const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v == 0 || (v >= 1 && v <= 100))) {
        fprintf(stderr, "weir-load: --pacing %s: want 0 (off) or a factor from 1 to 100\n", arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_pacing_burst(const char *arg, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 0 || v > 1000) {
        fprintf(stderr, "weir-load: --pacing-burst %s: want milliseconds from 0 to 1000\n", arg);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, wl_options *o, int *participants)
{
    *o = (wl_options){
        .server = WL_SERVER_WEIR,
        .host = "127.0.0.1",
        .port = 8088,
        .local_ip = "127.0.0.1",
        .preset = "fanout",
        .publishers = 1,
        .subscribers = 25,
        .students = 30,
        .video_kbps = 1500,
        .width = 1280,
        .height = 720,
        .fps = 30,
        .loop_frames = 60,
        .verify_every = 8,
        .udp_gro = true,
        .ramp_per_s = 100,
        .warmup_s = 3,
        .duration_s = 10,
    };
    *participants = 10;
    static const struct option longs[] = {
        {"server", required_argument, 0, 'S'},
        {"host", required_argument, 0, 'h'},
        {"port", required_argument, 0, 'p'},
        {"local-ip", required_argument, 0, 'l'},
        {"room", required_argument, 0, 'r'},
        {"preset", required_argument, 0, 'P'},
        {"subscribers", required_argument, 0, 's'},
        {"participants", required_argument, 0, 'n'},
        {"simulcast", no_argument, 0, 'c'},
        {"kbps", required_argument, 0, 'k'},
        {"width", required_argument, 0, 'W'},
        {"height", required_argument, 0, 'H'},
        {"fps", required_argument, 0, 'f'},
        {"loop-frames", required_argument, 0, 'L'},
        {"verify-every", required_argument, 0, 'v'},
        {"ramp", required_argument, 0, 'R'},
        {"warmup", required_argument, 0, 'w'},
        {"duration", required_argument, 0, 'd'},
        {"server-pid", required_argument, 0, 'i'},
        {"json", required_argument, 0, 'j'},
        {"md", required_argument, 0, 'm'},
        {"label", required_argument, 0, 'b'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, '?'},
        {"verbose", no_argument, 0, 'V'},
        {"decode", required_argument, 0, 'D'},
        {"students", required_argument, 0, 'T'},
        {"no-udp-gro", no_argument, 0, 'G'},
        {"pacing", required_argument, 0, 'A'},
        {"pacing-burst", required_argument, 0, 'B'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'S':
            if (strcmp(optarg, "weir") == 0)
                o->server = WL_SERVER_WEIR;
            else if (strcmp(optarg, "janus") == 0)
                o->server = WL_SERVER_JANUS;
            else
                return -1;
            break;
        case 'h':
            o->host = optarg;
            break;
        case 'p':
            o->port = (uint16_t)atoi(optarg);
            break;
        case 'l':
            o->local_ip = optarg;
            break;
        case 'r':
            o->room = optarg;
            break;
        case 'P':
            o->preset = optarg;
            break;
        case 's':
            o->subscribers = atoi(optarg);
            break;
        case 'n':
            *participants = atoi(optarg);
            break;
        case 'c':
            o->simulcast = true;
            break;
        case 'k':
            o->video_kbps = atoi(optarg);
            break;
        case 'W':
            o->width = atoi(optarg);
            break;
        case 'H':
            o->height = atoi(optarg);
            break;
        case 'f':
            o->fps = atoi(optarg);
            break;
        case 'L':
            o->loop_frames = atoi(optarg);
            break;
        case 'v':
            o->verify_every = atoi(optarg);
            break;
        case 'G':
            o->udp_gro = false;
            break;
        case 'A':
            if (parse_pacing(optarg, &o->pacing) < 0)
                return -1;
            break;
        case 'B':
            if (parse_pacing_burst(optarg, &o->pacing_burst_ms) < 0)
                return -1;
            break;
        case 'R':
            o->ramp_per_s = atof(optarg);
            break;
        case 'w':
            o->warmup_s = atof(optarg);
            break;
        case 'd':
            o->duration_s = atof(optarg);
            break;
        case 'i':
            o->server_pid = atoi(optarg);
            break;
        case 'j':
            o->json_path = optarg;
            break;
        case 'm':
            o->md_path = optarg;
            break;
        case 'b':
            o->label = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'T':
            o->students = atoi(optarg);
            break;
        case 'D':
            o->decode = atoi(optarg);
            break;
        case 'V':
            o->verbose = true;
            break;
        default:
            return -1;
        }
    }
    if (optind != argc || o->port == 0 || o->subscribers < 0 || o->subscribers > 20000 ||
        *participants < 2 || *participants > 64 || o->video_kbps < 50 || o->fps < 1 ||
        o->fps > 60 || o->width < 64 || o->height < 64 || o->loop_frames < 1 ||
        o->verify_every < 1 || o->decode < 0 || o->students < 1 || o->students > 200 ||
        o->ramp_per_s <= 0 || o->warmup_s < 0 || o->duration_s <= 0)
        return -1;
    if (o->pacing_burst_ms > 0 && o->pacing == 0)
        fprintf(stderr, "weir-load: --pacing-burst without --pacing has no effect\n");
    if (strcmp(o->preset, "classroom") == 0)
        o->simulcast = true; /* the teacher's three layers, the students' two */
    else if (strcmp(o->preset, "fanout") != 0 && strcmp(o->preset, "meeting") != 0) {
        fprintf(stderr, "weir-load: unknown preset %s\n", o->preset);
        return -1;
    }
    if (!o->room)
        o->room = o->server == WL_SERVER_JANUS ? "1234" : "load";
    return 0;
}

static wl_part *add_part(wl_ctx *ctx, bool publishes, bool subscribes)
{
    wl_part *p = weir_calloc(1, sizeof *p);
    p->ctx = ctx;
    p->index = (int)ctx->n_parts;
    p->publishes = publishes;
    p->subscribes = subscribes;
    snprintf(p->name, sizeof p->name, "%s%d", publishes ? "pub" : "sub", p->index);
    if (subscribes && ctx->decoders < ctx->opt.decode) {
        p->decode = true;
        ctx->decoders++;
    }
    ctx->parts = weir_realloc(ctx->parts, (ctx->n_parts + 1) * sizeof *ctx->parts);
    ctx->parts[ctx->n_parts++] = p;
    return p;
}

static bool all_connected(void *arg)
{
    wl_ctx *ctx = arg;
    for (size_t i = 0; i < ctx->n_parts; i++) {
        wl_part *p = ctx->parts[i];
        if (p->pub && p->pub->state != WL_PEER_CONNECTED && p->pub->state != WL_PEER_FAILED)
            return false;
        if (p->sub && p->sub->state != WL_PEER_CONNECTED && p->sub->state != WL_PEER_FAILED)
            return false;
        if (p->subscribes && !p->sub && !p->closed)
            return false;
    }
    return true;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int join_all(wl_ctx *ctx, int participants)
{
    const wl_options *o = &ctx->opt;
    bool meeting = strcmp(o->preset, "meeting") == 0;
    bool classroom = strcmp(o->preset, "classroom") == 0;
    int n_pub = meeting ? participants : classroom ? 1 + o->students : o->publishers;
    int64_t gap_us = (int64_t)(1e6 / o->ramp_per_s);
    for (int i = 0; i < n_pub && !interrupted; i++) {
        int64_t t = wl_now_us();
        wl_part *p = add_part(ctx, true, meeting || classroom);
        p->teacher = classroom && i == 0;
        p->pub_layers = classroom ? (p->teacher ? 3 : 2) : (o->simulcast ? 3 : 1);
        if (ctx->driver->join(p) < 0)
            return -1;
        int64_t left = gap_us - (wl_now_us() - t);
        if (left > 0)
            wl_run_until(ctx, NULL, NULL, (int)(left / 1000));
    }
    /* Publishers first, so a subscriber is offered media as it joins. */
    wl_run_until(ctx, all_connected, ctx, 5000);
    ctx->server_rss_pubs_kb = wl_proc_rss_kb(o->server_pid);
    int n_sub = meeting || classroom ? 0 : o->subscribers;
    for (int i = 0; i < n_sub && !interrupted; i++) {
        int64_t t = wl_now_us();
        wl_part *p = add_part(ctx, false, true);
        if (ctx->driver->join(p) < 0)
            WEIR_LOG_WARN("subscriber %d did not join", i);
        int64_t left = gap_us - (wl_now_us() - t);
        if (left > 0)
            wl_run_until(ctx, NULL, NULL, (int)(left / 1000));
    }
    for (size_t i = 0; i < ctx->n_parts; i++)
        if (ctx->driver->subscribe_late(ctx->parts[i]) < 0)
            WEIR_LOG_WARN("participant %zu did not subscribe", i);
    return 0;
}

int main(int argc, char **argv)
{
    static wl_ctx ctx;
    int participants;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (parse_options(argc, argv, &ctx.opt, &participants) < 0) {
        usage(stderr);
        return 2;
    }
    weir_log_set_level(ctx.opt.verbose ? WEIR_LOG_DEBUG : WEIR_LOG_WARN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    ctx.driver = ctx.opt.server == WL_SERVER_JANUS ? &wl_driver_janus : &wl_driver_weir;
    ctx.epfd = epoll_create1(EPOLL_CLOEXEC);
    ctx.start_us = ctx.now_us = wl_now_us();
    weir_srtp_global_init();

    char err[200];
    int64_t t = wl_now_us();
    if (wl_clip_build(&ctx.clip, ctx.opt.simulcast, ctx.opt.width, ctx.opt.height, ctx.opt.fps,
                      ctx.opt.video_kbps, ctx.opt.loop_frames, err, sizeof err) < 0) {
        fprintf(stderr, "weir-load: %s\n", err);
        return 1;
    }
    wl_run_info info = {0};
    info.n_layers = ctx.clip.n_layers;
    for (size_t i = 0; i < ctx.clip.n_layers; i++) {
        const wl_layer_clip *l = &ctx.clip.layers[i];
        info.clip_kbps[i] = (double)l->bytes * 8 / 1000.0 * ctx.opt.fps / (double)l->n_frames;
    }
    if (!ctx.opt.quiet)
        fprintf(stderr,
                "weir-load: clip %zu layer(s), top %dx%d %.0f kbps payload, %.1f s to encode, "
                "pacing %s\n",
                ctx.clip.n_layers, ctx.clip.layers[ctx.clip.n_layers - 1].width,
                ctx.clip.layers[ctx.clip.n_layers - 1].height,
                info.clip_kbps[ctx.clip.n_layers - 1], (double)(wl_now_us() - t) / 1e6,
                wl_pacing_label(&ctx.opt));
    ctx.cert = weir_cert_generate(weir_clock_wall_ms(), err, sizeof err);
    if (!ctx.cert || !(ctx.dctx = weir_dtls_ctx_create(ctx.cert))) {
        fprintf(stderr, "weir-load: certificate: %s\n", err);
        return 1;
    }
    info.server_rss_start_kb = wl_proc_rss_kb(ctx.opt.server_pid);

    int64_t setup_start = wl_now_us();
    ctx.start_us = setup_start;
    int rc = join_all(&ctx, participants);
    wl_run_until(&ctx, all_connected, &ctx, 10000 + (int)(ctx.n_parts * 20));
    info.setup_ms = (wl_now_us() - setup_start) / 1000;
    info.server_rss_pubs_kb = ctx.server_rss_pubs_kb;
    for (size_t i = 0; i < ctx.n_parts; i++) {
        wl_part *p = ctx.parts[i];
        if (p->publishes) {
            info.pubs_total++;
            info.pubs_connected += wl_peer_connected(p->pub);
        }
        if (p->subscribes) {
            info.subs_total++;
            info.subs_connected += wl_peer_connected(p->sub);
        }
    }
    if (!ctx.opt.quiet)
        fprintf(stderr,
                "\nweir-load: setup %lld ms, publishers %zu/%zu, subscribers %zu/%zu connected\n",
                (long long)info.setup_ms, info.pubs_connected, info.pubs_total, info.subs_connected,
                info.subs_total);
    int exit_code = 0;
    if (rc < 0 || info.pubs_connected == 0) {
        fprintf(stderr, "weir-load: setup failed\n");
        exit_code = 1;
    } else {
        wl_run_until(&ctx, NULL, NULL, (int)(ctx.opt.warmup_s * 1000));
        wl_snapshot a, b;
        wl_hist_reset(&ctx.stats.lat_video);
        wl_hist_reset(&ctx.stats.lat_audio);
        ctx.stats.tx_frame_spread_max_us = 0; /* a maximum of the window, like the latency */
        wl_snapshot_take(&ctx, &a, 0);
        wl_run_until(&ctx, NULL, NULL, (int)(ctx.opt.duration_s * 1000));
        wl_snapshot_take(&ctx, &b, a.t_us);
        if (!ctx.opt.quiet)
            fputc('\n', stderr);
        if (wl_report_write(&ctx, &info, &a, &b) < 0)
            exit_code = 1;
        if (interrupted)
            exit_code = 130;
    }
    for (size_t i = 0; i < ctx.n_parts; i++) {
        wl_part *p = ctx.parts[i];
        wl_peer_destroy(p->pub);
        wl_peer_destroy(p->sub);
        if (p->ws && !p->closed)
            wl_loop_del(&ctx, &p->io);
        wl_ws_destroy(p->ws);
        json_decref(p->wait_reply);
        weir_free(p);
    }
    weir_free(ctx.parts);
    weir_dtls_ctx_destroy(ctx.dctx);
    weir_cert_destroy(ctx.cert);
    wl_clip_free(&ctx.clip);
    close(ctx.epfd);
    return exit_code;
}
