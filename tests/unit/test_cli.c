#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "control/cli.h"
#include "weir/alloc.h"

static int parse(weir_cli *cli, const char *line, char *err, size_t errlen)
{
    static char buf[512];
    static char *argv[32];
    snprintf(buf, sizeof buf, "%s", line);
    int argc = 0;
    for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    return weir_cli_parse(argc, argv, cli, err, errlen);
}

Test(cli, serve_options)
{
    weir_cli cli;
    char err[128];
    cr_assert_eq(parse(&cli,
                       "weir -c my.conf --listen 0.0.0.0 --port 9000 --log-level debug "
                       "--workers 3",
                       err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cli.mode, WEIR_CLI_SERVE);
    cr_assert_str_eq(cli.config_path, "my.conf");
    cr_assert_str_eq(cli.listen_address, "0.0.0.0");
    cr_assert_eq(cli.listen_port, 9000);
    cr_assert_eq(cli.workers, 3);

    weir_config cfg;
    weir_config_init(&cfg);
    cr_assert_eq(weir_cli_apply(&cli, &cfg, err, sizeof err), 0);
    cr_assert_str_eq(cfg.listen_address, "0.0.0.0");
    cr_assert_eq(cfg.listen_port, 9000);
    cr_assert_eq(cfg.workers, 3);
    cr_assert_eq(cfg.log_level, WEIR_LOG_DEBUG);
    weir_config_deinit(&cfg);
}

Test(cli, defaults_leave_config_alone)
{
    weir_cli cli;
    char err[128];
    cr_assert_eq(parse(&cli, "weir", err, sizeof err), 0);
    weir_config cfg;
    weir_config_init(&cfg);
    int port = cfg.listen_port;
    cr_assert_eq(weir_cli_apply(&cli, &cfg, err, sizeof err), 0);
    cr_assert_eq(cfg.listen_port, port);
    cr_assert_null(cli.config_path);
    weir_config_deinit(&cfg);
}

Test(cli, errors)
{
    const char *rows[] = {
        "weir --port 70000",
        "weir --port abc",
        "weir --workers -1",
        "weir --bogus",
        "weir extra-arg",
        "weir token --room r --sub u",
        "weir token --room r --role x",
        "weir --port",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        weir_cli cli;
        char err[128] = "";
        cr_expect_lt(parse(&cli, rows[i], err, sizeof err), 0, "%s", rows[i]);
        cr_expect_neq(err[0], '\0', "%s has a message", rows[i]);
    }
    weir_cli cli;
    char err[128];
    cr_assert_eq(parse(&cli, "weir --log-level loud", err, sizeof err), 0);
    weir_config cfg;
    weir_config_init(&cfg);
    cr_expect_lt(weir_cli_apply(&cli, &cfg, err, sizeof err), 0);
    cr_expect(strstr(err, "--log-level") != NULL, "%s", err);
    weir_config_deinit(&cfg);
}

Test(cli, token_and_info_modes)
{
    weir_cli cli;
    char err[128];
    cr_assert_eq(parse(&cli,
                       "weir token --secret s --room r1 --sub u1 --role teacher --name Ada "
                       "--ttl 60",
                       err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cli.mode, WEIR_CLI_TOKEN);
    cr_assert_str_eq(cli.room, "r1");
    cr_assert_str_eq(cli.role, "teacher");
    cr_assert_eq(cli.ttl_s, 60);
    cr_assert_eq(parse(&cli, "weir --version", err, sizeof err), 0);
    cr_assert_eq(cli.mode, WEIR_CLI_VERSION);
    cr_assert_eq(parse(&cli, "weir --help", err, sizeof err), 0);
    cr_assert_eq(cli.mode, WEIR_CLI_HELP);
}
