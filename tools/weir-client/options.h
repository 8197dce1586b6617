/**
 * weir-client's command line. Pure: parsing fills a wc_options (strings
 * borrowed from argv) and never prints; main prints the usage.
 */
#ifndef WC_OPTIONS_H
#define WC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define WC_MAX_BIND 8
#define WC_MAX_DC 8

typedef struct wc_options {
    const char *url;
    const char *room;
    const char *token;   /* NULL = none */
    const char *display; /* default "weir-client" */
    const char *role;    /* join param (honoured when auth is off); NULL = none */
    const char *report;  /* file, "-" = stdout (default) */
    bool publish;
    bool audio; /* default true */
    bool video; /* default true */
    bool simulcast;
    bool subscribe;
    bool insecure;
    int width, height, fps; /* default 640x360@30 */
    double duration_s;      /* default 10 */
    const char *bind[WC_MAX_BIND];
    size_t n_bind;
    const char *log_level;     /* default "warn" */
    double simulated_loss_pct; /* 0..50 */
    long sync_marks_ms;        /* A/V sync marks every MS of media time; 0 = none (the tone) */
    long
        stop_top_layer_after_ms; /* --simulcast: the top layer stops after MS of media; 0 = never */
    /* -1 = no expectation */
    long expect_video_frames;
    long expect_audio_frames;
    long expect_tracks;
    long expect_max_freeze_ms;
    /* Data channels (datachannel.c), opened on the publisher PC: */
    const char *dc[WC_MAX_DC]; /* labels; --dc-send-ops and --dc-clear add their label */
    size_t n_dc;
    long dc_send_ops;          /* scripted ops on dc_send_label (0 = none) */
    double dc_rate;            /* ops per second (default 50) */
    long dc_send_after_ms;     /* from the channel's opening */
    const char *dc_send_label; /* default "whiteboard" */
    long dc_op_pad;            /* bytes of padding ("p") in each op */
    bool dc_clear;             /* send {"op":"clear"} on whiteboard after the ops */
    const char *dc_record;     /* every received frame, one per line; NULL = none */
    long dc_stall_after;       /* stop reading SCTP after N messages; -1 = never */
    long dc_expect_messages;   /* -1 = no expectation */
    long dc_expect_history;    /* -1 = no expectation */
} wc_options;

extern const char wc_usage[];

/**
 * Parses argv. Returns 0 (run), 1 (--help asked) or -WEIR_EINVAL with a
 * one-line reason in err.
 */
int wc_options_parse(int argc, char **argv, wc_options *o, char *err, size_t err_len);

#endif
