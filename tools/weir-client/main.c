/*
 * weir-client: a headless WebRTC peer for Weir (see README.md and --help).
 *
 * One thread runs a GMainContext of its own (libnice, timers, media, data
 * channels, the signalling callbacks); libwebsockets runs in a second
 * thread inside signalling.c. The run ends after --duration seconds from a
 * successful join, when --dc-expect-messages is met, on SIGINT/SIGTERM, or
 * on the first fatal error; then the report is written and the exit status
 * says whether the expectations were met.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "options.h"
#include "peer/cert.h"
#include "peer/dtls.h"
#include "peer/srtp.h"
#include "publisher.h"
#include "report.h"
#include "shell/sctp.h"
#include "signalling.h"
#include "subscriber.h"
#include "weir/log.h"

#define EXIT_UNMET 1
#define EXIT_ERROR 2
#define JOIN_TIMEOUT_S 10

typedef struct app {
    wc_options opt;
    GMainContext *ctx;
    GMainLoop *loop;
    weir_cert *cert;
    weir_dtls_ctx *dctx;
    wc_sig *sig;
    wc_publisher *pub;
    wc_subscriber *sub;
    json_t *participant;
    const char *const *bind;
    size_t n_bind;
    char error[512]; /* first fatal error; "" = none */
    bool joined;
    bool interrupted;
    bool dc_done;
    bool sctp_initialised;
    int64_t joined_at_us;
} app;

static void stop_with_error(app *a, const char *why)
{
    if (!a->error[0])
        snprintf(a->error, sizeof a->error, "%s", why);
    g_main_loop_quit(a->loop);
}

static gboolean on_duration_over(gpointer data)
{
    app *a = data;
    g_main_loop_quit(a->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_join_timeout(gpointer data)
{
    app *a = data;
    if (!a->joined)
        stop_with_error(a, "no answer to join within 10 s");
    return G_SOURCE_REMOVE;
}

/*
 * SIGINT/SIGTERM end the run with a report. Not with GLib's unix signal
 * sources: when the main context is torn down (after the loop returned, e.g.
 * because the server went away), GLib puts the default action (terminate)
 * back, and a SIGTERM then, delivered to any of the process' threads (GLib's
 * and libsoup's included), kills the client before it writes its report. Our
 * handler stays for the whole life of the process and only writes a byte to a
 * pipe, which the loop watches while it runs.
 */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    (void)sig;
    int saved = errno;
    if (stop_pipe[1] >= 0)
        (void)!write(stop_pipe[1], "s", 1);
    errno = saved;
}

static gboolean on_stop_pipe(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    app *a = data;
    char buf[16];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    a->interrupted = true;
    g_main_loop_quit(a->loop);
    return G_SOURCE_CONTINUE;
}

static int watch_stop_signals(app *a, char *err, size_t err_len)
{
    if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, err_len, "pipe: %s", strerror(errno));
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    GSource *src = g_unix_fd_source_new(stop_pipe[0], G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(on_stop_pipe), a, NULL);
    g_source_attach(src, a->ctx);
    g_source_unref(src);
    return 0;
}

static void add_timeout(app *a, guint ms, GSourceFunc fn)
{
    GSource *src = g_timeout_source_new(ms);
    g_source_set_callback(src, fn, a, NULL);
    g_source_attach(src, a->ctx);
    g_source_unref(src);
}

static void on_pub_failed(void *user, const char *why)
{
    stop_with_error(user, why);
}

static void on_sub_failed(void *user, const char *why)
{
    stop_with_error(user, why);
}

static void on_dc_done(void *user)
{
    app *a = user;
    a->dc_done = true;
    g_main_loop_quit(a->loop);
}

static void start_media(app *a)
{
    char err[256] = "";
    const char *fp = weir_cert_fingerprint(a->cert);
    if (a->opt.subscribe) {
        wc_subscriber_config sc = {.bind_addresses = a->bind,
                                   .n_bind_addresses = a->n_bind,
                                   .fingerprint = fp,
                                   .simulated_loss_pct = a->opt.simulated_loss_pct};
        wc_subscriber_callbacks scb = {.on_failed = on_sub_failed};
        a->sub = wc_subscriber_create(a->ctx, a->dctx, a->sig, &sc, &scb, a);
    }
    wc_dc_config dcc = {
        .labels = a->opt.dc,
        .n_labels = a->opt.n_dc,
        .send_ops = (uint64_t)a->opt.dc_send_ops,
        .rate = a->opt.dc_rate,
        .send_after_ms = a->opt.dc_send_after_ms,
        .send_label = a->opt.dc_send_label,
        .op_pad = (size_t)a->opt.dc_op_pad,
        .clear = a->opt.dc_clear,
        .record_path = a->opt.dc_record,
        .stall_after = a->opt.dc_stall_after,
        .expect_messages = a->opt.dc_expect_messages,
        .self_id = json_string_value(json_object_get(a->participant, "id")),
        .on_done = on_dc_done,
        .user = a,
    };
    if (a->opt.publish || a->opt.n_dc > 0) {
        wc_publisher_config pc = {.audio = a->opt.publish && a->opt.audio,
                                  .video = a->opt.publish && a->opt.video,
                                  .simulcast = a->opt.simulcast,
                                  .width = a->opt.width,
                                  .height = a->opt.height,
                                  .fps = a->opt.fps,
                                  .bind_addresses = a->bind,
                                  .n_bind_addresses = a->n_bind,
                                  .cname = a->opt.display,
                                  .fingerprint = fp,
                                  .simulated_loss_pct = a->opt.simulated_loss_pct,
                                  .dc = a->opt.n_dc > 0 ? &dcc : NULL,
                                  .sync_marks_ms = (uint32_t)a->opt.sync_marks_ms,
                                  .stop_top_layer_after_ms =
                                      (uint32_t)a->opt.stop_top_layer_after_ms};
        wc_publisher_callbacks pcb = {.on_failed = on_pub_failed};
        a->pub = wc_publisher_create(a->ctx, a->dctx, a->sig, &pc, &pcb, a, err, sizeof err);
        if (!a->pub) {
            stop_with_error(a, err);
            return;
        }
        wc_publisher_start(a->pub);
    }
}

static void on_join_result(void *user, json_t *result, json_t *error)
{
    app *a = user;
    if (!result) {
        char why[400];
        snprintf(why, sizeof why, "join refused: %s (code %lld)",
                 error ? json_string_value(json_object_get(error, "message")) ?: "?"
                       : "connection closed",
                 error ? (long long)json_integer_value(json_object_get(error, "code")) : 0LL);
        stop_with_error(a, why);
        return;
    }
    a->joined = true;
    a->joined_at_us = weir_clock_now_us();
    a->participant = json_incref(json_object_get(result, "participant"));
    add_timeout(a, (guint)(a->opt.duration_s * 1000), on_duration_over);
    start_media(a);
    if (a->sub) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(result, "tracks"), i, t) {
            wc_subscriber_note_track(a->sub, t);
        }
    }
}

static void on_open(void *user)
{
    app *a = user;
    json_t *params = json_pack("{s:s, s:s}", "room", a->opt.room, "display", a->opt.display);
    if (a->opt.token)
        json_object_set_new(params, "token", json_string(a->opt.token));
    if (a->opt.role)
        json_object_set_new(params, "role", json_string(a->opt.role));
    wc_sig_call(a->sig, "join", params, on_join_result, a);
}

static void on_notification(void *user, const char *method, json_t *params)
{
    app *a = user;
    if (strcmp(method, "trickle") == 0) {
        const char *pc = json_string_value(json_object_get(params, "pc"));
        json_t *cand = json_object_get(params, "candidate");
        if (pc && strcmp(pc, "publisher") == 0 && a->pub)
            wc_publisher_handle_trickle(a->pub, cand);
        else if (pc && strcmp(pc, "subscriber") == 0 && a->sub)
            wc_subscriber_handle_trickle(a->sub, cand);
    } else if (strcmp(method, "offer") == 0) {
        if (a->sub)
            wc_subscriber_handle_offer(a->sub, params);
    } else if (strcmp(method, "track_published") == 0) {
        if (a->sub)
            wc_subscriber_note_track(a->sub, json_object_get(params, "track"));
    } else if (strcmp(method, "bye") == 0) {
        char why[300];
        snprintf(why, sizeof why, "server said bye: %s",
                 json_string_value(json_object_get(params, "reason")) ?: "?");
        stop_with_error(a, why);
    }
}

static void on_closed(void *user, const char *reason)
{
    char why[400];
    snprintf(why, sizeof why, "signalling: %s", reason);
    stop_with_error(user, why);
}

static bool is_loopback_url(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 ||
           strncmp(host, "[::1]", 5) == 0;
}

static json_t *build_report(app *a)
{
    json_t *r = json_object();
    json_object_set_new(r, "room", json_string(a->opt.room));
    json_object_set(r, "participant", a->participant ? a->participant : json_null());
    double ran = a->joined ? (double)(weir_clock_now_us() - a->joined_at_us) / 1e6 : 0;
    json_object_set_new(r, "duration_s", json_real(ran));
    json_object_set_new(r, "published", a->pub ? wc_publisher_report(a->pub) : json_null());
    json_object_set_new(r, "subscribed", a->sub ? wc_subscriber_report(a->sub) : json_array());
    wc_dc *dc = a->pub ? wc_publisher_dc(a->pub) : NULL;
    json_object_set_new(r, "datachannel", dc ? wc_dc_report(dc) : json_null());
    json_t *marks = a->pub ? wc_publisher_sync_marks_report(a->pub) : NULL;
    if (marks)
        json_object_set_new(r, "sync_marks", marks);
    if (a->dc_done)
        json_object_set_new(r, "ended", json_string("dc_expect_messages met"));
    if (a->sub)
        json_object_set_new(r, "subscriber_ice_restarts",
                            json_integer(wc_subscriber_ice_restarts(a->sub)));
    if (a->error[0])
        json_object_set_new(r, "error", json_string(a->error));
    if (a->interrupted)
        json_object_set_new(r, "interrupted", json_true());
    return r;
}

static int setup(app *a, char *err, size_t err_len)
{
    weir_log_level level;
    if (weir_log_level_parse(a->opt.log_level, &level) < 0) {
        snprintf(err, err_len, "--log-level: expected error|warn|info|debug");
        return -1;
    }
    weir_log_set_level(level);
    if (weir_srtp_global_init() < 0) {
        snprintf(err, err_len, "libsrtp initialisation failed");
        return -1;
    }
    if (a->opt.n_dc > 0) {
        if (weir_sctp_global_init() < 0) {
            snprintf(err, err_len, "usrsctp initialisation failed");
            return -1;
        }
        a->sctp_initialised = true;
    }
    a->cert = weir_cert_generate(weir_clock_wall_ms(), err, err_len);
    if (!a->cert)
        return -1;
    a->dctx = weir_dtls_ctx_create(a->cert);
    if (!a->dctx) {
        snprintf(err, err_len, "DTLS context could not be created");
        return -1;
    }
    static const char *const loopback[] = {"127.0.0.1"};
    if (a->opt.n_bind > 0) {
        a->bind = a->opt.bind;
        a->n_bind = a->opt.n_bind;
    } else if (is_loopback_url(a->opt.url)) {
        a->bind = loopback;
        a->n_bind = 1;
    }
    a->ctx = g_main_context_new();
    a->loop = g_main_loop_new(a->ctx, FALSE);
    wc_sig_callbacks cb = {
        .on_open = on_open, .on_notification = on_notification, .on_closed = on_closed};
    a->sig = wc_sig_create(a->ctx, a->opt.url, a->opt.insecure, &cb, a, err, err_len);
    if (!a->sig)
        return -1;
    if (watch_stop_signals(a, err, err_len) < 0)
        return -1;
    add_timeout(a, JOIN_TIMEOUT_S * 1000, on_join_timeout);
    return 0;
}

static void teardown(app *a)
{
    wc_publisher_destroy(a->pub);
    wc_subscriber_destroy(a->sub);
    /* libnice frees its agents from idle sources: let them run. */
    if (a->ctx)
        for (int i = 0; i < 10 && g_main_context_iteration(a->ctx, FALSE); i++)
            ;
    wc_sig_destroy(a->sig);
    if (a->loop)
        g_main_loop_unref(a->loop);
    if (a->ctx)
        g_main_context_unref(a->ctx);
    weir_dtls_ctx_destroy(a->dctx);
    weir_cert_destroy(a->cert);
    json_decref(a->participant);
    if (a->sctp_initialised)
        weir_sctp_global_shutdown();
}

int main(int argc, char **argv)
{
    app a;
    memset(&a, 0, sizeof a);
    char err[512] = "";
    int rc = wc_options_parse(argc, argv, &a.opt, err, sizeof err);
    if (rc == 1) {
        fputs(wc_usage, stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "weir-client: %s\n%s", err, wc_usage);
        return EXIT_ERROR;
    }
    if (setup(&a, err, sizeof err) < 0) {
        fprintf(stderr, "weir-client: %s\n", err);
        teardown(&a);
        return EXIT_ERROR;
    }
    g_main_loop_run(a.loop);

    json_t *report = build_report(&a);
    bool ok = wc_report_check(report, &a.opt);
    int status = a.error[0] ? EXIT_ERROR : ok ? 0 : EXIT_UNMET;
    teardown(&a);
    if (wc_report_write(report, a.opt.report, err, sizeof err) < 0) {
        fprintf(stderr, "weir-client: %s\n", err);
        status = EXIT_ERROR;
    }
    json_decref(report);
    if (a.error[0])
        fprintf(stderr, "weir-client: %s\n", a.error);
    else if (!ok)
        fprintf(stderr, "weir-client: expectations not met (see the report)\n");
    return status;
}
