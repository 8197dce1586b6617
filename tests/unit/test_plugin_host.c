/*
 * The plugin host (control/plugin_host.h) against real shared objects: the
 * recorder plugin of this build loads and starts; a plugin of another ABI
 * version, a file that is not a plugin and a missing file are refused with
 * an error that says which and why.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "control/plugin_host.h"

#ifndef RECORDER_PLUGIN
#error "tests/meson.build passes the built plugin's path"
#endif

Test(plugin_host, loads_the_recorder_of_this_build)
{
    char err[512] = "";
    weir_plugin_handle *h = weir_plugin_load_recorder(RECORDER_PLUGIN, "{}", err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(weir_plugin_info(h)->abi_version, WEIR_PLUGIN_ABI_VERSION);
    cr_assert_str_eq(weir_plugin_info(h)->name, "recorder");
    cr_assert_not_null(weir_plugin_recorder(h));
    cr_assert_str_eq(weir_plugin_path(h), RECORDER_PLUGIN);
    weir_plugin_unload(h);
}

Test(plugin_host, refuses_another_abi_version_naming_both)
{
    char err[512] = "";
    weir_plugin_handle *h = weir_plugin_load_recorder(WRONG_ABI_PLUGIN, "{}", err, sizeof err);
    cr_assert_null(h);
    char want[64];
    snprintf(want, sizeof want, "plugin ABI version %u, this server speaks %u",
             WEIR_PLUGIN_ABI_VERSION + 98, WEIR_PLUGIN_ABI_VERSION);
    cr_assert(strstr(err, want), "%s", err);
}

Test(plugin_host, refuses_a_bad_config_with_the_plugins_reason)
{
    char err[512] = "";
    weir_plugin_handle *h =
        weir_plugin_load_recorder(RECORDER_PLUGIN, "{\"queue_packets\": \"3\"}", err, sizeof err);
    cr_assert_null(h);
    cr_assert(strstr(err, "queue_packets"), "%s", err);
}

Test(plugin_host, refuses_what_is_not_a_plugin)
{
    char err[512] = "";
    /* A shared object without weir_plugin_entry: the C library. */
    cr_assert_null(weir_plugin_load_recorder("libm.so.6", "{}", err, sizeof err));
    cr_assert(strstr(err, "no weir_plugin_entry()"), "%s", err);
    cr_assert_null(
        weir_plugin_load_recorder("/nonexistent/weir-recorder.so", "{}", err, sizeof err));
    cr_assert(strstr(err, "cannot open /nonexistent/weir-recorder.so"), "%s", err);
}
