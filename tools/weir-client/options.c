#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/errors.h"

const char wc_usage[] =
    "usage: weir-client --url ws://HOST:PORT/ws --room R [--token JWT] [--display NAME]\n"
    "                   [--publish] [--no-audio] [--no-video] [--simulcast]\n"
    "                   [--width W --height H --fps F] [--subscribe] [--duration SECONDS]\n"
    "                   [--report FILE|-] [--ice-bind ADDR]... [--insecure] [--log-level L]\n"
    "                   [--simulate-loss PCT]\n"
    "                   [--expect-video-frames N] [--expect-audio-frames N]\n"
    "                   [--expect-tracks N] [--expect-max-freeze-ms MS]\n"
    "\n"
    "A headless WebRTC peer for Weir: joins ROOM over the WebSocket, publishes a synthetic\n"
    "VP8 test pattern (frame number and send time painted in every frame; --simulcast sends\n"
    "q/h/f layers at 1/4, 1/2 and full size) and a 440 Hz Opus tone, and/or subscribes,\n"
    "decodes and checks what it receives. Prints a JSON report after --duration seconds.\n"
    "\n"
    "  --ice-bind ADDR   local address for ICE candidates (repeatable); default 127.0.0.1\n"
    "                    when the URL's host is a loopback address, else every interface\n"
    "  --insecure        accept a self-signed certificate for wss://\n"
    "  --log-level L     error|warn|info|debug for the Weir libraries (default warn)\n"
    "  --simulate-loss P drop P% (0..50) of RTP packets at random, sent and received\n"
    "                    (exercises NACK/RTX/PLI where netem is not available)\n"
    "\n"
    "Expectations (checked at the end, listed in the report):\n"
    "  --expect-video-frames N   every subscribed video track decoded >= N frames\n"
    "                            (publish only: >= N full-size frames sent)\n"
    "  --expect-audio-frames N   every subscribed audio track decoded >= N frames\n"
    "                            (publish only: >= N frames sent)\n"
    "  --expect-tracks N         >= N subscribed tracks decoded at least one frame\n"
    "  --expect-max-freeze-ms MS no gap between two decoded video frames above MS\n"
    "\n"
    "Exit status: 0 expectations met, 1 not met (the report says which),\n"
    "2 usage, connection or protocol error (reason on stderr).\n";

enum {
    OPT_URL = 256,
    OPT_ROOM,
    OPT_TOKEN,
    OPT_DISPLAY,
    OPT_PUBLISH,
    OPT_NO_AUDIO,
    OPT_NO_VIDEO,
    OPT_SIMULCAST,
    OPT_WIDTH,
    OPT_HEIGHT,
    OPT_FPS,
    OPT_SUBSCRIBE,
    OPT_DURATION,
    OPT_REPORT,
    OPT_ICE_BIND,
    OPT_INSECURE,
    OPT_LOG_LEVEL,
    OPT_SIMULATE_LOSS,
    OPT_EXPECT_VIDEO,
    OPT_EXPECT_AUDIO,
    OPT_EXPECT_TRACKS,
    OPT_EXPECT_FREEZE,
    OPT_HELP,
};

static const struct option LONG_OPTS[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"room", required_argument, NULL, OPT_ROOM},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"display", required_argument, NULL, OPT_DISPLAY},
    {"publish", no_argument, NULL, OPT_PUBLISH},
    {"no-audio", no_argument, NULL, OPT_NO_AUDIO},
    {"no-video", no_argument, NULL, OPT_NO_VIDEO},
    {"simulcast", no_argument, NULL, OPT_SIMULCAST},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"height", required_argument, NULL, OPT_HEIGHT},
    {"fps", required_argument, NULL, OPT_FPS},
    {"subscribe", no_argument, NULL, OPT_SUBSCRIBE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"report", required_argument, NULL, OPT_REPORT},
    {"ice-bind", required_argument, NULL, OPT_ICE_BIND},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"simulate-loss", required_argument, NULL, OPT_SIMULATE_LOSS},
    {"expect-video-frames", required_argument, NULL, OPT_EXPECT_VIDEO},
    {"expect-audio-frames", required_argument, NULL, OPT_EXPECT_AUDIO},
    {"expect-tracks", required_argument, NULL, OPT_EXPECT_TRACKS},
    {"expect-max-freeze-ms", required_argument, NULL, OPT_EXPECT_FREEZE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int parse_long(const char *name, const char *s, long lo, long hi, long *out, char *err,
                      size_t err_len)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        snprintf(err, err_len, "--%s: expected an integer %ld..%ld, got \"%s\"", name, lo, hi, s);
        return -WEIR_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *name, const char *s, long lo, long hi, int *out, char *err,
                     size_t err_len)
{
    long v = 0;
    if (parse_long(name, s, lo, hi, &v, err, err_len) < 0)
        return -WEIR_EINVAL;
    *out = (int)v;
    return 0;
}

static void defaults(wc_options *o)
{
    memset(o, 0, sizeof *o);
    o->display = "weir-client";
    o->report = "-";
    o->audio = true;
    o->video = true;
    o->width = 640;
    o->height = 360;
    o->fps = 30;
    o->duration_s = 10;
    o->log_level = "warn";
    o->expect_video_frames = -1;
    o->expect_audio_frames = -1;
    o->expect_tracks = -1;
    o->expect_max_freeze_ms = -1;
}

static int check(const wc_options *o, char *err, size_t err_len)
{
    if (!o->url || !o->room) {
        snprintf(err, err_len, "--url and --room are required");
        return -WEIR_EINVAL;
    }
    if (!o->publish && !o->subscribe) {
        snprintf(err, err_len, "nothing to do: give --publish and/or --subscribe");
        return -WEIR_EINVAL;
    }
    if (o->publish && !o->audio && !o->video) {
        snprintf(err, err_len, "--publish with --no-audio and --no-video publishes nothing");
        return -WEIR_EINVAL;
    }
    if (o->simulcast && (o->width / 4 < 64 || o->height / 4 < 24)) {
        snprintf(err, err_len, "--simulcast needs at least 256x96 (the q layer is 1/4 size)");
        return -WEIR_EINVAL;
    }
    return 0;
}

int wc_options_parse(int argc, char **argv, wc_options *o, char *err, size_t err_len)
{
    defaults(o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", LONG_OPTS, NULL)) != -1) {
        int rc = 0;
        char *end = NULL;
        switch (c) {
        case OPT_URL:
            o->url = optarg;
            break;
        case OPT_ROOM:
            o->room = optarg;
            break;
        case OPT_TOKEN:
            o->token = optarg;
            break;
        case OPT_DISPLAY:
            o->display = optarg;
            break;
        case OPT_PUBLISH:
            o->publish = true;
            break;
        case OPT_NO_AUDIO:
            o->audio = false;
            break;
        case OPT_NO_VIDEO:
            o->video = false;
            break;
        case OPT_SIMULCAST:
            o->simulcast = true;
            break;
        case OPT_WIDTH:
            rc = parse_int("width", optarg, 64, 3840, &o->width, err, err_len);
            break;
        case OPT_HEIGHT:
            rc = parse_int("height", optarg, 24, 2160, &o->height, err, err_len);
            break;
        case OPT_FPS:
            rc = parse_int("fps", optarg, 1, 60, &o->fps, err, err_len);
            break;
        case OPT_SUBSCRIBE:
            o->subscribe = true;
            break;
        case OPT_DURATION:
            o->duration_s = strtod(optarg, &end);
            if (end == optarg || *end || !(o->duration_s > 0 && o->duration_s <= 86400)) {
                snprintf(err, err_len, "--duration: expected seconds in (0, 86400], got \"%s\"",
                         optarg);
                rc = -WEIR_EINVAL;
            }
            break;
        case OPT_REPORT:
            o->report = optarg;
            break;
        case OPT_ICE_BIND:
            if (o->n_bind == WC_MAX_BIND) {
                snprintf(err, err_len, "--ice-bind: at most %d addresses", WC_MAX_BIND);
                rc = -WEIR_EINVAL;
            } else {
                o->bind[o->n_bind++] = optarg;
            }
            break;
        case OPT_INSECURE:
            o->insecure = true;
            break;
        case OPT_LOG_LEVEL:
            o->log_level = optarg;
            break;
        case OPT_SIMULATE_LOSS:
            o->simulated_loss_pct = strtod(optarg, &end);
            if (end == optarg || *end ||
                !(o->simulated_loss_pct >= 0 && o->simulated_loss_pct <= 50)) {
                snprintf(err, err_len, "--simulate-loss: expected a percentage 0..50, got \"%s\"",
                         optarg);
                rc = -WEIR_EINVAL;
            }
            break;
        case OPT_EXPECT_VIDEO:
            rc = parse_long("expect-video-frames", optarg, 0, 1L << 30, &o->expect_video_frames,
                            err, err_len);
            break;
        case OPT_EXPECT_AUDIO:
            rc = parse_long("expect-audio-frames", optarg, 0, 1L << 30, &o->expect_audio_frames,
                            err, err_len);
            break;
        case OPT_EXPECT_TRACKS:
            rc = parse_long("expect-tracks", optarg, 0, 1000, &o->expect_tracks, err, err_len);
            break;
        case OPT_EXPECT_FREEZE:
            rc = parse_long("expect-max-freeze-ms", optarg, 0, 1L << 30, &o->expect_max_freeze_ms,
                            err, err_len);
            break;
        case OPT_HELP:
        case 'h':
            return 1;
        default:
            snprintf(err, err_len, "unknown or incomplete option '%s'",
                     optind > 0 && optind <= argc ? argv[optind - 1] : "?");
            return -WEIR_EINVAL;
        }
        if (rc < 0)
            return rc;
    }
    if (optind < argc) {
        snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
        return -WEIR_EINVAL;
    }
    return check(o, err, err_len);
}
