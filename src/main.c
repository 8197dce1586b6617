/*
 * Process entry: command line, configuration, signals, the control plane.
 * The only place with process-wide state: the signal thread's handle on
 * the control plane.
 */
#define WEIR_LOG_MODULE "main"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "control/cli.h"
#include "control/config.h"
#include "control/control.h"
#include "peer/srtp.h"
#include "shell/sctp.h"
#include "weir/alloc.h"
#include "weir/log.h"

/*
 * Signals are blocked in every thread and taken synchronously by one
 * thread with sigwait, so the stop request runs as ordinary code rather
 * than in a handler (lws_cancel_service is not async-signal-safe).
 */
static void *signal_thread(void *arg)
{
    weir_control *ctl = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    if (sigwait(&set, &sig) == 0) {
        WEIR_LOG_INFO("signal_received signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
        weir_control_request_stop(ctl);
    }
    return NULL;
}

static int load_config(const weir_cli *cli, weir_config *cfg)
{
    char err[512];
    weir_config_init(cfg);
    if ((cli->config_path && weir_config_load_file(cfg, cli->config_path, err, sizeof err) < 0) ||
        weir_cli_apply(cli, cfg, err, sizeof err) < 0 ||
        weir_config_validate(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "weir: config: %s\n", err);
        return -1;
    }
    return 0;
}

static int serve(weir_config *cfg)
{
    weir_log_set_level(cfg->log_level);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started below */
    signal(SIGPIPE, SIG_IGN);
    /* A file over RLIMIT_FSIZE fails its write with EFBIG (a recording stops with a clear
     * error) instead of killing the server. */
    signal(SIGXFSZ, SIG_IGN);

    WEIR_LOG_INFO("starting version=%s", WEIR_VERSION);
    if (weir_srtp_global_init() < 0) {
        WEIR_LOG_ERROR("srtp_init_failed");
        return 1;
    }
    weir_control *ctl = weir_control_create(cfg);
    if (!ctl)
        return 1;
    pthread_t sig_thread;
    if (pthread_create(&sig_thread, NULL, signal_thread, ctl) != 0) {
        weir_control_destroy(ctl);
        return 1;
    }
    int rc = weir_control_run(ctl);
    /* Stopped by something other than a signal: wake the signal thread so it exits. */
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
    weir_control_destroy(ctl);
    weir_sctp_global_shutdown(); /* after the workers: every association is gone */
    WEIR_LOG_INFO("stopped");
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* jansson allocates through ours, so running out of memory aborts like everywhere else. */
    json_set_alloc_funcs(weir_malloc, weir_free);
    weir_cli cli;
    char err[256];
    if (weir_cli_parse(argc, argv, &cli, err, sizeof err) < 0) {
        fprintf(stderr, "weir: %s\n%s", err, weir_cli_usage());
        return 2;
    }
    if (cli.mode == WEIR_CLI_HELP) {
        fputs(weir_cli_usage(), stdout);
        return 0;
    }
    if (cli.mode == WEIR_CLI_VERSION) {
        printf("weir %s\n", WEIR_VERSION);
        return 0;
    }
    weir_config cfg;
    if (load_config(&cli, &cfg) < 0) {
        weir_config_deinit(&cfg);
        return 2;
    }
    int rc = cli.mode == WEIR_CLI_TOKEN ? weir_cli_run_token(&cli, &cfg) : serve(&cfg);
    weir_config_deinit(&cfg);
    return rc;
}
