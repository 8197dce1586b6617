/*
 * libFuzzer target for the config parser: arbitrary bytes in, no crash, no
 * leak (init/deinit around every input), and the contract on failure: a
 * non-empty, single-line message and a config left exactly as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/config.h"

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool same_string(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The fields a failed parse could plausibly have touched, strings included. */
static bool unchanged(const weir_config *c, const weir_config *d)
{
    return same_string(c->listen_address, d->listen_address) &&
           same_string(c->web_root, d->web_root) && same_string(c->tls_cert, d->tls_cert) &&
           same_string(c->tls_key, d->tls_key) && same_string(c->data_dir, d->data_dir) &&
           same_string(c->auth_secret, d->auth_secret) && same_string(c->admin_key, d->admin_key) &&
           c->listen_port == d->listen_port && c->workers == d->workers &&
           c->log_level == d->log_level && c->rooms_auto_create == d->rooms_auto_create &&
           c->rate_limit_per_sec == d->rate_limit_per_sec && c->join_timeout_s == d->join_timeout_s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_config cfg, ref;
    weir_config_init(&cfg);
    weir_config_init(&ref);
    char err[256] = "";
    if (weir_config_parse(&cfg, (const char *)data, size, err, sizeof err) == 0) {
        weir_config_validate(&cfg, err, sizeof err);
    } else {
        check(err[0] != '\0' && strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
        check(unchanged(&cfg, &ref));
    }
    weir_config_deinit(&cfg);
    weir_config_deinit(&ref);
    return 0;
}
