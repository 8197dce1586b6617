/**
 * The process-wide half of shell/sctp.h: usrsctp initialisation (one stack
 * per process, no threads of its own), its timers driven by whichever worker
 * ticks first, and the registry through which usrsctp's callbacks reach an
 * association (see sctp_internal.h for why callbacks never get a raw
 * pointer).
 */
#include "shell/sctp_internal.h"

#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <usrsctp.h>

#define WEIR_LOG_MODULE "sctp"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *registry; /* id -> weir_sctp *, under registry_mutex */
static uintptr_t next_id = 1;

static pthread_mutex_t tick_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t tick_last_us = -1; /* under tick_mutex */
static bool initialised;          /* set once by init_stack */

/* usrsctp hands every outgoing packet of an AF_CONN association here, on
 * whatever thread made it (the owner, or a worker running the timers). */
static int on_conn_output(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df)
{
    (void)tos;
    (void)set_df;
    pthread_mutex_lock(&registry_mutex);
    weir_sctp *s = registry ? g_hash_table_lookup(registry, addr) : NULL;
    if (s)
        weir_sctp_on_output(s, buffer, length);
    pthread_mutex_unlock(&registry_mutex);
    return 0;
}

static void init_stack(void)
{
    usrsctp_init_nothreads(0, on_conn_output, NULL);
    /*
     * DTLS authenticates every record that carries SCTP, so usrsctp need
     * not check CRC32c on input ("offload": it trusts the checksum). The
     * same switch stops it from computing the CRC on output, and peers
     * (browsers, aiortc) do check it, so sctp.c fills it in on every
     * outgoing packet. Nothing else is relaxed: usrsctp still checks
     * verification tags, chunk lengths and state.
     */
    usrsctp_enable_crc32c_offload();
    usrsctp_sysctl_set_sctp_ecn_enable(0);      /* no ECN on a DTLS tunnel */
    usrsctp_sysctl_set_sctp_blackhole(2);       /* no ABORT to stray packets */
    usrsctp_sysctl_set_sctp_pr_enable(1);       /* partially reliable channels */
    usrsctp_sysctl_set_sctp_reconfig_enable(1); /* stream reset closes channels */
    usrsctp_sysctl_set_sctp_nr_outgoing_streams_default(1024);
    pthread_mutex_lock(&registry_mutex);
    registry = g_hash_table_new(g_direct_hash, g_direct_equal);
    pthread_mutex_unlock(&registry_mutex);
    __atomic_store_n(&initialised, true, __ATOMIC_RELEASE);
}

int weir_sctp_global_init(void)
{
    return pthread_once(&init_once, init_stack) == 0 ? 0 : -WEIR_EIO;
}

void weir_sctp_global_tick(int64_t now_us)
{
    if (!__atomic_load_n(&initialised, __ATOMIC_ACQUIRE))
        return;
    if (pthread_mutex_trylock(&tick_mutex) != 0)
        return; /* another worker is running the timers right now */
    if (tick_last_us < 0 || now_us < tick_last_us)
        tick_last_us = now_us;
    int64_t elapsed_ms = (now_us - tick_last_us) / 1000;
    if (elapsed_ms > 0) {
        /* Keep the sub-millisecond remainder so ticks of 999 us add up. */
        tick_last_us += elapsed_ms * 1000;
        usrsctp_handle_timers((uint32_t)(elapsed_ms > 60000 ? 60000 : elapsed_ms));
    }
    pthread_mutex_unlock(&tick_mutex);
}

void weir_sctp_global_shutdown(void)
{
    if (!__atomic_load_n(&initialised, __ATOMIC_ACQUIRE))
        return;
    /* usrsctp_finish fails while sockets still linger in its tables. */
    for (int i = 0; i < 100 && usrsctp_finish() != 0; i++)
        weir_sctp_global_tick(g_get_monotonic_time() + (int64_t)(i + 1) * 1000000);
}

void weir_sctp_registry_upcall(struct socket *sock, void *arg, int flags)
{
    (void)sock;
    (void)flags;
    pthread_mutex_lock(&registry_mutex);
    weir_sctp *s = registry ? g_hash_table_lookup(registry, arg) : NULL;
    if (s)
        weir_sctp_on_upcall(s);
    pthread_mutex_unlock(&registry_mutex);
}

uintptr_t weir_sctp_registry_add(weir_sctp *s)
{
    pthread_mutex_lock(&registry_mutex);
    uintptr_t id = 0;
    if (registry && next_id != 0) {
        id = next_id++;
        g_hash_table_insert(registry, (void *)id, s);
    }
    pthread_mutex_unlock(&registry_mutex);
    return id;
}

void weir_sctp_registry_remove(uintptr_t id)
{
    pthread_mutex_lock(&registry_mutex);
    if (registry)
        g_hash_table_remove(registry, (void *)id);
    pthread_mutex_unlock(&registry_mutex);
}
