#include "control/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "control/jwt.h"
#include "control/methods.h"
#include "control/room.h"
#include "weir/alloc.h"
#include "weir/errors.h"

const char *weir_cli_usage(void)
{
    return "usage: weir [-c|--config PATH] [--listen ADDR] [--port N] [--log-level LEVEL]\n"
           "            [--workers N]\n"
           "       weir token [-c PATH] [--secret S] --room R --sub ID --role ROLE\n"
           "                  [--name NAME] [--ttl SECONDS]\n"
           "       weir --version | --help\n"
           "\n"
           "Runs the Weir SFU, or mints a join token (HS256 JWT) with `token`.\n"
           "LEVEL is error|warn|info|debug; ROLE is teacher|student|observer|recorder.\n"
           "See docs/config.md for the configuration file.\n";
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return -WEIR_EINVAL;
    *out = v;
    return 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_PORT,
    OPT_LOG_LEVEL,
    OPT_WORKERS,
    OPT_SECRET,
    OPT_ROOM,
    OPT_SUB,
    OPT_ROLE,
    OPT_NAME,
    OPT_TTL
};

static const struct option serve_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port", required_argument, NULL, OPT_PORT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {0},
};

static const struct option token_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"room", required_argument, NULL, OPT_ROOM},
    {"sub", required_argument, NULL, OPT_SUB},
    {"role", required_argument, NULL, OPT_ROLE},
    {"name", required_argument, NULL, OPT_NAME},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"help", no_argument, NULL, 'h'},
    {0},
};

static int apply_option(weir_cli *cli, int opt, const char *arg, char *err, size_t errlen)
{
    long v;
    switch (opt) {
    case 'c':
        cli->config_path = arg;
        return 0;
    case OPT_LISTEN:
        cli->listen_address = arg;
        return 0;
    case OPT_LOG_LEVEL:
        cli->log_level = arg;
        return 0;
    case OPT_SECRET:
        cli->secret = arg;
        return 0;
    case OPT_ROOM:
        cli->room = arg;
        return 0;
    case OPT_SUB:
        cli->sub = arg;
        return 0;
    case OPT_ROLE:
        cli->role = arg;
        return 0;
    case OPT_NAME:
        cli->name = arg;
        return 0;
    case 'h':
        cli->mode = WEIR_CLI_HELP;
        return 0;
    case 'V':
        cli->mode = WEIR_CLI_VERSION;
        return 0;
    case OPT_PORT:
        if (parse_int(arg, 0, 65535, &v) < 0)
            break;
        cli->listen_port = (int)v;
        return 0;
    case OPT_WORKERS:
        if (parse_int(arg, 0, 256, &v) < 0)
            break;
        cli->workers = (int)v;
        return 0;
    case OPT_TTL:
        if (parse_int(arg, 1, 31536000, &v) < 0)
            break;
        cli->ttl_s = v;
        return 0;
    default:
        snprintf(err, errlen, "unknown option");
        return -WEIR_EINVAL;
    }
    snprintf(err, errlen, "bad value \"%s\" for an option", arg);
    return -WEIR_EINVAL;
}

int weir_cli_parse(int argc, char **argv, weir_cli *cli, char *err, size_t errlen)
{
    memset(cli, 0, sizeof *cli);
    cli->listen_port = -1;
    cli->workers = -1;
    cli->ttl_s = 3600;
    cli->mode = WEIR_CLI_SERVE;
    const struct option *options = serve_options;
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "token") == 0) {
        cli->mode = WEIR_CLI_TOKEN;
        options = token_options;
        first = 2;
    }
    optind = 0; /* full re-initialisation (GNU), so parsing twice works */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc - first + 1, argv + first - 1, "c:hV", options, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "unknown option or missing value: %s",
                     argv[first - 1 + optind - 1]);
            return -WEIR_EINVAL;
        }
        if (apply_option(cli, opt, optarg, err, errlen) < 0)
            return -WEIR_EINVAL;
    }
    if (optind < argc - first + 1) {
        snprintf(err, errlen, "unexpected argument: %s", argv[first - 1 + optind]);
        return -WEIR_EINVAL;
    }
    if (cli->mode == WEIR_CLI_TOKEN && (!cli->room || !cli->sub || !cli->role)) {
        snprintf(err, errlen, "token: --room, --sub and --role are required");
        return -WEIR_EINVAL;
    }
    return 0;
}

int weir_cli_apply(const weir_cli *cli, weir_config *cfg, char *err, size_t errlen)
{
    if (cli->listen_address) {
        weir_free(cfg->listen_address);
        cfg->listen_address = weir_strdup(cli->listen_address);
    }
    if (cli->listen_port >= 0)
        cfg->listen_port = cli->listen_port;
    if (cli->workers >= 0)
        cfg->workers = cli->workers;
    /* Same parsing (and case rules) as the file's [log] level. */
    char why[160];
    if (cli->log_level && weir_config_set(cfg, "log", "level", cli->log_level, why, sizeof why)) {
        snprintf(err, errlen, "--log-level: %s", why);
        return -WEIR_EINVAL;
    }
    return 0;
}

int weir_cli_run_token(const weir_cli *cli, const weir_config *cfg)
{
    const char *secret = cli->secret ? cli->secret : cfg->auth_secret;
    weir_role role;
    if (!secret || !secret[0]) {
        fprintf(stderr, "weir: token: no secret (give --secret or a config with [auth] secret)\n");
        return 2;
    }
    if (weir_role_parse(cli->role, &role) < 0) {
        fprintf(stderr, "weir: token: --role must be teacher|student|observer|recorder\n");
        return 2;
    }
    weir_jwt_claims claims = {0};
    if (!weir_room_id_valid(cli->room) || strlen(cli->sub) >= sizeof claims.sub ||
        (cli->name && strlen(cli->name) >= sizeof claims.name)) {
        fprintf(stderr, "weir: token: room must be 1..64 of [A-Za-z0-9_.-]; sub and name < 128 "
                        "bytes\n");
        return 2;
    }
    snprintf(claims.room, sizeof claims.room, "%s", cli->room);
    snprintf(claims.sub, sizeof claims.sub, "%s", cli->sub);
    snprintf(claims.role, sizeof claims.role, "%s", cli->role);
    snprintf(claims.name, sizeof claims.name, "%s", cli->name ? cli->name : "");
    claims.exp = weir_clock_wall_ms() / 1000 + cli->ttl_s;
    char *token = weir_jwt_sign(&claims, (const uint8_t *)secret, strlen(secret));
    printf("%s\n", token);
    weir_free(token);
    return 0;
}
