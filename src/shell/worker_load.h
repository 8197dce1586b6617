/**
 * How busy a media worker's loop is, and a clear warning when it stays
 * saturated.
 *
 * A worker is one thread running a GLib main loop. The time its loop spends
 * inside poll() is idle time; everything else (reading, forwarding,
 * encrypting, sending, timers) is work. When the work fills the thread,
 * packets queue in the kernel's socket buffers, latency grows, and the
 * first visible failure is usually not loss but subscribers whose STUN
 * consent checks are answered too late and whose ICE then fails. Without a
 * warning that looks like a network problem on the clients' side; this
 * module names the real cause in the log and in /metrics.
 *
 * The busy share is measured over windows (the worker's stats timer closes
 * one every 500 ms). A worker is *overloaded* after
 * WEIR_WORKER_LOAD_HOT_WINDOWS windows in a row at or above
 * WEIR_WORKER_LOAD_HOT_PERMILLE, and *recovered* after
 * WEIR_WORKER_LOAD_COOL_WINDOWS windows in a row below
 * WEIR_WORKER_LOAD_COOL_PERMILLE: the hysteresis keeps one busy burst (a
 * join storm, a keyframe) from flapping the state. While overloaded, the
 * warning repeats at most every WEIR_WORKER_LOAD_REWARN_US.
 *
 * The poll hook is GLib's per-context poll function, which carries no user
 * data: the worker's load object is found through a thread-local pointer,
 * so each worker thread installs its own (weir_worker_load_attach).
 */
#ifndef WEIR_SHELL_WORKER_LOAD_H
#define WEIR_SHELL_WORKER_LOAD_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WEIR_WORKER_LOAD_HOT_PERMILLE 900
#define WEIR_WORKER_LOAD_COOL_PERMILLE 750
#define WEIR_WORKER_LOAD_HOT_WINDOWS 4 /* 2 s at the 500 ms stats period */
#define WEIR_WORKER_LOAD_COOL_WINDOWS 4
#define WEIR_WORKER_LOAD_REWARN_US (30 * 1000000LL)

typedef enum {
    WEIR_WORKER_LOAD_STEADY = 0, /* no change worth a log line */
    WEIR_WORKER_LOAD_OVERLOADED, /* just became overloaded */
    WEIR_WORKER_LOAD_STILL_HOT,  /* overloaded, and the re-warning is due */
    WEIR_WORKER_LOAD_RECOVERED,  /* just left the overloaded state */
} weir_worker_load_change;

typedef struct weir_worker_load {
    /* state (worker thread only): */
    int64_t window_start_us; /* 0 until the first window starts */
    int64_t idle_us;         /* time in poll() since window_start_us */
    int hot_windows;
    int cool_windows;
    bool overloaded;
    int64_t last_warn_us;
    /* read from other threads (metrics): */
    atomic_uint busy_permille;      /* of the last closed window */
    atomic_uint_fast64_t busy_us;   /* total busy time since start */
    atomic_uint_fast64_t overloads; /* times the worker became overloaded */
} weir_worker_load;

/** Zeroes the object; now_us starts the first window. */
void weir_worker_load_init(weir_worker_load *l, int64_t now_us);

/**
 * Installs the measuring poll function on ctx (the calling thread's worker
 * context) and binds l to the calling thread. l must outlive the loop.
 */
void weir_worker_load_attach(weir_worker_load *l, GMainContext *ctx);

/** Adds idle time (what the poll hook calls; exposed for the unit test). */
void weir_worker_load_add_idle(weir_worker_load *l, int64_t idle_us);

/**
 * Closes the current window at now_us and starts the next: updates
 * busy_permille and the counters, and returns the state change to log
 * (the caller logs: it knows the worker's index and peer count).
 * A window shorter than 1 ms is left open (STEADY).
 */
weir_worker_load_change weir_worker_load_close_window(weir_worker_load *l, int64_t now_us);

#endif
