/*
 * A plugin built for another ABI version: the plugin host must refuse it
 * with both version numbers, without calling anything in it
 * (tests/unit/test_plugin_host.c).
 */
#include <stdlib.h>

#include "weir/plugin.h"

static weir_recorder *never_called(const weir_plugin_host *host, const char *config_json, char *err,
                                   size_t err_len)
{
    (void)host;
    (void)config_json;
    (void)err;
    (void)err_len;
    abort();
}

static const weir_recorder_ops ops = {.struct_size = sizeof ops, .create = never_called};

static const weir_plugin plugin = {
    .abi_version = WEIR_PLUGIN_ABI_VERSION + 98,
    .name = "from-the-future",
    .version = "9.9.9",
    .recorder = &ops,
};

__attribute__((visibility("default"))) const weir_plugin *weir_plugin_entry(void)
{
    return &plugin;
}
