/* Finding, loading and checking plugins (plugin_host.h). */
#define WEIR_LOG_MODULE "control.plugins"
#include "control/plugin_host.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define RECORDER_FILE "weir-recorder.so"

struct weir_plugin_handle {
    void *dl;
    const weir_plugin *plugin;
    weir_recorder *recorder;
    char path[PATH_MAX];
};

static const weir_plugin_host host = {
    .struct_size = sizeof(weir_plugin_host),
    .log = weir_log,
    .now_us = weir_clock_now_us,
    .wall_ms = weir_clock_wall_ms,
};

/* Candidate paths in search order (plugin_host.h); returns how many. */
static size_t candidates(const char *configured, char out[][PATH_MAX], size_t cap)
{
    size_t n = 0;
    if (configured && configured[0]) {
        snprintf(out[n++], PATH_MAX, "%.4000s", configured);
        return n;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(out[n++], PATH_MAX, "%.3000s/plugins/recorder/" RECORDER_FILE, exe);
        }
    }
#ifdef WEIR_PLUGIN_BUILD_DIR
    if (n < cap)
        snprintf(out[n++], PATH_MAX, "%s/recorder/" RECORDER_FILE, WEIR_PLUGIN_BUILD_DIR);
#endif
#ifdef WEIR_PLUGIN_INSTALL_DIR
    if (n < cap)
        snprintf(out[n++], PATH_MAX, "%s/" RECORDER_FILE, WEIR_PLUGIN_INSTALL_DIR);
#endif
    return n;
}

static int open_plugin(weir_plugin_handle *h, const char *path, char *err, size_t err_len)
{
    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h->dl) {
        snprintf(err, err_len, "cannot open %.1024s: %.400s", path, dlerror());
        return -1;
    }
    weir_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h->dl, WEIR_PLUGIN_ENTRY_SYMBOL);
    const weir_plugin *p = entry ? entry() : NULL;
    if (!p) {
        snprintf(err, err_len, "%.1024s: no %s()", path, WEIR_PLUGIN_ENTRY_SYMBOL);
    } else if (p->abi_version != WEIR_PLUGIN_ABI_VERSION) {
        snprintf(err, err_len, "%.1024s: plugin ABI version %u, this server speaks %u", path,
                 p->abi_version, WEIR_PLUGIN_ABI_VERSION);
        p = NULL;
    } else if (!p->recorder || p->recorder->struct_size < sizeof(weir_recorder_ops)) {
        snprintf(err, err_len, "%.1024s: plugin \"%.64s\" is not a recorder", path,
                 p->name ? p->name : "?");
        p = NULL;
    }
    if (!p) {
        dlclose(h->dl);
        h->dl = NULL;
        return -1;
    }
    h->plugin = p;
    snprintf(h->path, sizeof h->path, "%.4000s", path);
    return 0;
}

weir_plugin_handle *weir_plugin_load_recorder(const char *configured_path, const char *config_json,
                                              char *err, size_t err_len)
{
    char paths[4][PATH_MAX];
    size_t n = candidates(configured_path, paths, 4);
    weir_plugin_handle *h = WEIR_NEW(weir_plugin_handle);
    char why[2048] = "no candidate path";
    bool opened = false;
    for (size_t i = 0; i < n && !opened; i++) {
        if (access(paths[i], R_OK) != 0 && !(configured_path && configured_path[0])) {
            snprintf(why, sizeof why, "not found (last looked at %.400s)", paths[i]);
            continue;
        }
        opened = open_plugin(h, paths[i], why, sizeof why) == 0;
    }
    if (!opened) {
        snprintf(err, err_len, "recorder plugin: %s", why);
        weir_free(h);
        return NULL;
    }
    h->recorder = h->plugin->recorder->create(&host, config_json, why, sizeof why);
    if (!h->recorder) {
        snprintf(err, err_len, "recorder plugin %.1024s: %.400s", h->path, why);
        dlclose(h->dl);
        weir_free(h);
        return NULL;
    }
    WEIR_LOG_INFO("plugin_loaded name=%s version=%s abi=%u path=%s", h->plugin->name,
                  h->plugin->version, h->plugin->abi_version, h->path);
    return h;
}

const weir_recorder_ops *weir_plugin_recorder_ops(const weir_plugin_handle *h)
{
    return h->plugin->recorder;
}

weir_recorder *weir_plugin_recorder(const weir_plugin_handle *h)
{
    return h->recorder;
}

const weir_plugin *weir_plugin_info(const weir_plugin_handle *h)
{
    return h->plugin;
}

const char *weir_plugin_path(const weir_plugin_handle *h)
{
    return h->path;
}

void weir_plugin_unload(weir_plugin_handle *h)
{
    if (!h)
        return;
    h->plugin->recorder->destroy(h->recorder);
    dlclose(h->dl);
    weir_free(h);
}
