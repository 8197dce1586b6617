#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_marks.h"
#include "weir/errors.h"

const char wc_usage[] =
    "usage: weir-client --url ws://HOST:PORT/ws --room R [--token JWT] [--display NAME]\n"
    "                   [--role teacher|student|observer|recorder]\n"
    "                   [--publish] [--no-audio] [--no-video] [--simulcast]\n"
    "                   [--width W --height H --fps F] [--subscribe] [--duration SECONDS]\n"
    "                   [--report FILE|-] [--ice-bind ADDR]... [--insecure] [--log-level L]\n"
    "                   [--simulate-loss PCT] [--sync-marks MS] [--stop-top-layer-after MS]\n"
    "                   [--expect-video-frames N] [--expect-audio-frames N]\n"
    "                   [--expect-tracks N] [--expect-max-freeze-ms MS]\n"
    "                   [--dc LABEL]... [--dc-send-ops N] [--dc-rate R] [--dc-send-after-ms MS]\n"
    "                   [--dc-send-label L] [--dc-op-pad B] [--dc-clear] [--dc-record FILE]\n"
    "                   [--dc-stall-after N] [--dc-expect-messages N] [--dc-expect-history N]\n"
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
    "  --stop-top-layer-after MS  with --simulcast: stop sending the full layer after MS\n"
    "                    of media, as a browser does when its bandwidth estimate falls\n"
    "  --role R          join as R (the server honours it only when auth is off)\n"
    "  --sync-marks MS   A/V sync marks (500..3600000): every MS of media time the first\n"
    "                    video frame at or after the mark is a white flash below the code\n"
    "                    rows, and the audio, otherwise silent, has a 1 kHz 100 ms beep\n"
    "                    starting at that frame's nominal time; listed in the report\n"
    "\n"
    "Data channels (on the publisher PC; without --publish it carries only data):\n"
    "  --dc LABEL        open a channel (repeatable), e.g. whiteboard, chat\n"
    "  --dc-send-ops N   send N scripted stroke ops on the send label (adds the channel)\n"
    "  --dc-rate R       ops per second (default 50)\n"
    "  --dc-send-after-ms MS  wait MS after the channel opened before the first op\n"
    "  --dc-send-label L channel for the ops (default whiteboard)\n"
    "  --dc-op-pad B     add B bytes of padding to each op\n"
    "  --dc-clear        send {\"op\":\"clear\"} on whiteboard once the ops are sent\n"
    "  --dc-record FILE  write every received frame, one per line, as received\n"
    "  --dc-stall-after N stop reading SCTP after N messages (a frozen tab)\n"
    "\n"
    "Expectations (checked at the end, listed in the report):\n"
    "  --expect-video-frames N   every subscribed video track decoded >= N frames\n"
    "                            (publish only: >= N full-size frames sent)\n"
    "  --expect-audio-frames N   every subscribed audio track decoded >= N frames\n"
    "                            (publish only: >= N frames sent)\n"
    "  --expect-tracks N         >= N subscribed tracks decoded at least one frame\n"
    "  --expect-max-freeze-ms MS no gap between two decoded video frames above MS\n"
    "  --dc-expect-messages N    >= N stamped messages received, seqs increasing without\n"
    "                            a gap, history first, every own op echoed (the run ends\n"
    "                            as soon as this holds)\n"
    "  --dc-expect-history N     >= N history messages received before anything live\n"
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
    OPT_STOP_TOP_LAYER,
    OPT_EXPECT_VIDEO,
    OPT_EXPECT_AUDIO,
    OPT_EXPECT_TRACKS,
    OPT_EXPECT_FREEZE,
    OPT_ROLE,
    OPT_DC,
    OPT_DC_SEND_OPS,
    OPT_DC_RATE,
    OPT_DC_SEND_AFTER,
    OPT_DC_SEND_LABEL,
    OPT_DC_OP_PAD,
    OPT_DC_CLEAR,
    OPT_DC_RECORD,
    OPT_DC_STALL_AFTER,
    OPT_DC_EXPECT_MESSAGES,
    OPT_DC_EXPECT_HISTORY,
    OPT_SYNC_MARKS,
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
    {"stop-top-layer-after", required_argument, NULL, OPT_STOP_TOP_LAYER},
    {"expect-video-frames", required_argument, NULL, OPT_EXPECT_VIDEO},
    {"expect-audio-frames", required_argument, NULL, OPT_EXPECT_AUDIO},
    {"expect-tracks", required_argument, NULL, OPT_EXPECT_TRACKS},
    {"expect-max-freeze-ms", required_argument, NULL, OPT_EXPECT_FREEZE},
    {"role", required_argument, NULL, OPT_ROLE},
    {"dc", required_argument, NULL, OPT_DC},
    {"dc-send-ops", required_argument, NULL, OPT_DC_SEND_OPS},
    {"dc-rate", required_argument, NULL, OPT_DC_RATE},
    {"dc-send-after-ms", required_argument, NULL, OPT_DC_SEND_AFTER},
    {"dc-send-label", required_argument, NULL, OPT_DC_SEND_LABEL},
    {"dc-op-pad", required_argument, NULL, OPT_DC_OP_PAD},
    {"dc-clear", no_argument, NULL, OPT_DC_CLEAR},
    {"dc-record", required_argument, NULL, OPT_DC_RECORD},
    {"dc-stall-after", required_argument, NULL, OPT_DC_STALL_AFTER},
    {"dc-expect-messages", required_argument, NULL, OPT_DC_EXPECT_MESSAGES},
    {"dc-expect-history", required_argument, NULL, OPT_DC_EXPECT_HISTORY},
    {"sync-marks", required_argument, NULL, OPT_SYNC_MARKS},
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
    o->dc_rate = 50;
    o->dc_send_label = "whiteboard";
    o->dc_stall_after = -1;
    o->dc_expect_messages = -1;
    o->dc_expect_history = -1;
}

/* Adds label to the channels to open unless it is there already. */
static int add_dc(wc_options *o, const char *label, char *err, size_t err_len)
{
    if (!*label || strlen(label) > 256) {
        snprintf(err, err_len, "--dc: a label is 1..256 bytes");
        return -WEIR_EINVAL;
    }
    for (size_t i = 0; i < o->n_dc; i++)
        if (strcmp(o->dc[i], label) == 0)
            return 0;
    if (o->n_dc == WC_MAX_DC) {
        snprintf(err, err_len, "--dc: at most %d channels", WC_MAX_DC);
        return -WEIR_EINVAL;
    }
    o->dc[o->n_dc++] = label;
    return 0;
}

static int check(const wc_options *o, char *err, size_t err_len)
{
    if (!o->url || !o->room) {
        snprintf(err, err_len, "--url and --room are required");
        return -WEIR_EINVAL;
    }
    if (!o->publish && !o->subscribe && o->n_dc == 0) {
        snprintf(err, err_len, "nothing to do: give --publish, --subscribe and/or --dc");
        return -WEIR_EINVAL;
    }
    if (o->publish && !o->audio && !o->video && o->n_dc == 0) {
        snprintf(err, err_len, "--publish with --no-audio and --no-video publishes nothing");
        return -WEIR_EINVAL;
    }
    if (o->simulcast && (o->width / 4 < 64 || o->height / 4 < 24)) {
        snprintf(err, err_len, "--simulcast needs at least 256x96 (the q layer is 1/4 size)");
        return -WEIR_EINVAL;
    }
    if (o->stop_top_layer_after_ms && !o->simulcast) {
        snprintf(err, err_len, "--stop-top-layer-after needs --simulcast");
        return -WEIR_EINVAL;
    }
    if (o->sync_marks_ms && !o->publish) {
        snprintf(err, err_len, "--sync-marks needs --publish");
        return -WEIR_EINVAL;
    }
    /* Two frames per period at least, so that no two marks fall on one frame. */
    if (o->sync_marks_ms && o->sync_marks_ms * o->fps < 2000) {
        snprintf(err, err_len, "--sync-marks %ld: at --fps %d a period needs >= 2 frames",
                 o->sync_marks_ms, o->fps);
        return -WEIR_EINVAL;
    }
    return 0;
}

/* The channels the scripted sending needs are opened even without --dc. */
static int add_implied_channels(wc_options *o, char *err, size_t err_len)
{
    if (o->dc_send_ops > 0 && add_dc(o, o->dc_send_label, err, err_len) < 0)
        return -WEIR_EINVAL;
    if (o->dc_clear && add_dc(o, "whiteboard", err, err_len) < 0)
        return -WEIR_EINVAL;
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
        case OPT_STOP_TOP_LAYER:
            rc = parse_long("stop-top-layer-after", optarg, 1, 3600000, &o->stop_top_layer_after_ms,
                            err, err_len);
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
        case OPT_ROLE:
            o->role = optarg;
            break;
        case OPT_DC:
            rc = add_dc(o, optarg, err, err_len);
            break;
        case OPT_DC_SEND_OPS:
            rc = parse_long("dc-send-ops", optarg, 0, 10000000, &o->dc_send_ops, err, err_len);
            break;
        case OPT_DC_RATE:
            o->dc_rate = strtod(optarg, &end);
            if (end == optarg || *end || !(o->dc_rate > 0 && o->dc_rate <= 1000000)) {
                snprintf(err, err_len, "--dc-rate: expected ops per second in (0, 1e6], got \"%s\"",
                         optarg);
                rc = -WEIR_EINVAL;
            }
            break;
        case OPT_DC_SEND_AFTER:
            rc = parse_long("dc-send-after-ms", optarg, 0, 86400000, &o->dc_send_after_ms, err,
                            err_len);
            break;
        case OPT_DC_SEND_LABEL:
            o->dc_send_label = optarg;
            break;
        case OPT_DC_OP_PAD:
            rc = parse_long("dc-op-pad", optarg, 0, 4 << 20, &o->dc_op_pad, err, err_len);
            break;
        case OPT_DC_CLEAR:
            o->dc_clear = true;
            break;
        case OPT_DC_RECORD:
            o->dc_record = optarg;
            break;
        case OPT_DC_STALL_AFTER:
            rc =
                parse_long("dc-stall-after", optarg, 0, 1L << 40, &o->dc_stall_after, err, err_len);
            break;
        case OPT_DC_EXPECT_MESSAGES:
            rc = parse_long("dc-expect-messages", optarg, 0, 1L << 40, &o->dc_expect_messages, err,
                            err_len);
            break;
        case OPT_DC_EXPECT_HISTORY:
            rc = parse_long("dc-expect-history", optarg, 0, 1L << 40, &o->dc_expect_history, err,
                            err_len);
            break;
        case OPT_SYNC_MARKS:
            rc = parse_long("sync-marks", optarg, WC_SYNC_MIN_PERIOD_MS, WC_SYNC_MAX_PERIOD_MS,
                            &o->sync_marks_ms, err, err_len);
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
    if (add_implied_channels(o, err, err_len) < 0)
        return -WEIR_EINVAL;
    return check(o, err, err_len);
}
