/**
 * Command line: `weir [options]` runs the server, `weir token ...` mints a
 * join token. Parsing is separate from acting so it can be tested.
 */
#ifndef WEIR_CONTROL_CLI_H
#define WEIR_CONTROL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "control/config.h"

typedef enum {
    WEIR_CLI_SERVE,
    WEIR_CLI_TOKEN,
    WEIR_CLI_HELP,
    WEIR_CLI_VERSION,
} weir_cli_mode;

typedef struct weir_cli {
    weir_cli_mode mode;
    const char *config_path; /* NULL = built-in defaults */
    /* serve overrides (NULL / -1 = not given): */
    const char *listen_address;
    int listen_port;
    const char *log_level;
    int workers;
    /* token: */
    const char *secret;
    const char *room;
    const char *sub;
    const char *role;
    const char *name;
    long ttl_s;
} weir_cli;

/** Parses argv (strings borrowed). 0, or -WEIR_EINVAL with a one-line reason in err. */
int weir_cli_parse(int argc, char **argv, weir_cli *out, char *err, size_t errlen);
/** Applies the serve overrides on top of a loaded config. 0 or -WEIR_EINVAL + err. */
int weir_cli_apply(const weir_cli *cli, weir_config *cfg, char *err, size_t errlen);
/** Mints and prints the token for `weir token`. Returns the process exit status. */
int weir_cli_run_token(const weir_cli *cli, const weir_config *cfg);
/** Usage text for --help and errors. */
const char *weir_cli_usage(void);

#endif
