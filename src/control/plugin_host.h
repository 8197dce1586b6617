/**
 * The plugin host: finds, loads (dlopen) and checks the plugins the server
 * uses (include/weir/plugin.h), and lends them the host functions. Today
 * one plugin, the recorder. Control thread only.
 *
 * Where the recorder's shared object is looked for, first found wins:
 *   1. [recorder] plugin, when set (a path);
 *   2. next to the running binary: <dir of /proc/self/exe>/plugins/recorder/weir-recorder.so
 *      (the build tree: `build/weir` and `build/plugins/recorder/`);
 *   3. the build directory this binary was configured in (WEIR_PLUGIN_BUILD_DIR);
 *   4. the install directory (WEIR_PLUGIN_INSTALL_DIR, <libdir>/weir/plugins).
 * A plugin whose ABI version differs from the server's is refused with both
 * numbers in the error.
 */
#ifndef WEIR_CONTROL_PLUGIN_HOST_H
#define WEIR_CONTROL_PLUGIN_HOST_H

#include <stddef.h>

#include "weir/plugin.h"

typedef struct weir_plugin_handle weir_plugin_handle;

/**
 * Loads the recorder plugin and starts its recorder with config_json.
 * NULL with err ("…: cannot open …", "ABI version 2, this server speaks 1")
 * when it cannot.
 */
weir_plugin_handle *weir_plugin_load_recorder(const char *configured_path, const char *config_json,
                                              char *err, size_t err_len);
const weir_recorder_ops *weir_plugin_recorder_ops(const weir_plugin_handle *h);
weir_recorder *weir_plugin_recorder(const weir_plugin_handle *h);
const weir_plugin *weir_plugin_info(const weir_plugin_handle *h);
const char *weir_plugin_path(const weir_plugin_handle *h);
/** Destroys the recorder, then unloads the object. NULL is fine. */
void weir_plugin_unload(weir_plugin_handle *h);

#endif
