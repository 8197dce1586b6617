/**
 * weir-load's shared types: the run context, a simulated participant (one
 * signalling connection, a publisher and/or subscriber peer connection)
 * and the event loop that drives them all on one thread.
 *
 * Everything runs in one epoll loop: UDP sockets (one per peer
 * connection), signalling WebSockets, and the media clock of every
 * publisher. Signalling drivers block only through wl_run_until, which
 * keeps the loop turning (media keeps flowing while the next subscriber
 * joins).
 */
#ifndef WL_WL_H
#define WL_WL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media.h"
#include "peer/cert.h"
#include "peer/dtls.h"
#include "stats.h"
#include "ws.h"

typedef struct wl_ctx wl_ctx;
typedef struct wl_part wl_part;
typedef struct wl_peer wl_peer;

/** Something the loop waits on; on_ready gets the epoll events. */
typedef struct wl_io {
    int fd;
    void (*on_ready)(struct wl_io *io, uint32_t events);
} wl_io;

typedef enum { WL_SERVER_WEIR, WL_SERVER_JANUS } wl_server;

typedef struct wl_options {
    wl_server server;
    const char *host; /* signalling host (IPv4 literal) */
    uint16_t port;
    const char *local_ip; /* our media sockets */
    const char *room;
    const char *preset; /* fanout, classroom, meeting */
    int publishers;     /* fanout: 1 */
    int students;       /* classroom */
    int subscribers;    /* subscribers that do not publish */
    bool simulcast;     /* publishers send q/h/f */
    int video_kbps;     /* top layer */
    int width, height;  /* top layer */
    int fps;
    int loop_frames;     /* frames pre-encoded per layer and looped */
    int decode;          /* subscribers that decode fully (reported as frames decoded) */
    int verify_every;    /* subscribers unprotect 1 packet in N (latency + SRTP check) */
    bool udp_gro;        /* subscriber sockets accept coalesced datagrams (UDP_GRO) */
    double pacing;       /* video leaves at pacing x the layer's bitrate; 0 = one burst per frame */
    int pacing_burst_ms; /* the pacer may run this far ahead of its bucket (pacing.h) */
    double ramp_per_s;   /* joins per second */
    double warmup_s;
    double duration_s;
    int server_pid; /* 0 = do not sample the server */
    const char *json_path;
    const char *md_path;
    const char *label;
    bool quiet;
    bool verbose;
} wl_options;

struct wl_ctx {
    wl_options opt;
    int epfd;
    weir_cert *cert;
    weir_dtls_ctx *dctx;
    wl_clip clip;
    wl_part **parts;
    size_t n_parts;
    const struct wl_driver *driver;
    wl_stats stats;
    int64_t now_us;
    int64_t next_housekeeping_us;
    int64_t next_progress_us;
    int64_t start_us;
    bool stop;
    int decoders; /* subscribers given --decode so far */
    /* Weir: every track announced in the room (for classroom subscriptions) */
    struct wl_track {
        char id[64];
        char participant[64];
        bool video;
    } tracks[512];
    size_t n_tracks;
    uint64_t server_rss_pubs_kb; /* server RSS once the publishers are connected */
};

/** A simulated participant. */
struct wl_part {
    wl_io io; /* its signalling socket */
    wl_ctx *ctx;
    wl_ws *ws;
    int index;
    char name[32];
    bool publishes;
    bool subscribes;
    bool teacher;     /* classroom: index 0, publishes three layers */
    int pub_layers;   /* simulcast layers it publishes (1 = no simulcast) */
    char weir_id[64]; /* Weir: its participant id */
    bool decode;      /* its subscriber peer decodes the video (--decode) */
    wl_peer *pub;
    wl_peer *sub;
    bool closed;
    /* one outstanding blocking request */
    uint64_t next_txn;
    char wait_txn[32];
    json_t *wait_reply; /* owned when set */
    /* Janus */
    uint64_t janus_session;
    uint64_t janus_pub_handle;
    uint64_t janus_sub_handle;
    uint64_t janus_feed;
    bool janus_pub_up; /* Janus said "webrtcup" for the publisher handle: the feed is live */
    int64_t next_keepalive_us;
};

/** Turns the loop until done(arg) or timeout_ms; returns true when done. */
bool wl_run_until(wl_ctx *ctx, bool (*done)(void *arg), void *arg, int timeout_ms);
/** One loop turn waiting at most max_wait_us. */
void wl_loop_once(wl_ctx *ctx, int64_t max_wait_us);
int wl_loop_add(wl_ctx *ctx, wl_io *io);
void wl_loop_del(wl_ctx *ctx, wl_io *io);
int64_t wl_now_us(void);

#endif
