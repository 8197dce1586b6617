/**
 * weir-client's command line. Pure: parsing fills a wc_options (strings
 * borrowed from argv) and never prints; main prints the usage.
 */
#ifndef WC_OPTIONS_H
#define WC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define WC_MAX_BIND 8

typedef struct wc_options {
    const char *url;
    const char *room;
    const char *token;   /* NULL = none */
    const char *display; /* default "weir-client" */
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
    /* -1 = no expectation */
    long expect_video_frames;
    long expect_audio_frames;
    long expect_tracks;
    long expect_max_freeze_ms;
} wc_options;

extern const char wc_usage[];

/**
 * Parses argv. Returns 0 (run), 1 (--help asked) or -WEIR_EINVAL with a
 * one-line reason in err.
 */
int wc_options_parse(int argc, char **argv, wc_options *o, char *err, size_t err_len);

#endif
