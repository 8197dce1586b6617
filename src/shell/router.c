/*
 * The worker's router: for each track handle, the producer (when the
 * publisher is on this worker), the consumers on this worker and the other
 * workers that have consumers. A published packet goes to the local
 * consumers directly and to each remote worker as one reference through the
 * mesh; the receiving worker fans it out to its own consumers. Handles, not
 * pointers, cross threads, so a route torn down on one side while packets
 * are in flight costs only a lookup miss.
 */
#define WEIR_LOG_MODULE "shell.router"
#include <string.h>

#include "base/clock.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/log.h"

static void route_free(gpointer data)
{
    route *r = data;
    g_ptr_array_free(r->consumers, TRUE);
    for (guint i = 0; r->taps && i < r->taps->len; i++)
        weir_tap_destroy(g_ptr_array_index(r->taps, i));
    if (r->taps)
        g_ptr_array_free(r->taps, TRUE);
    for (guint i = 0; r->records && i < r->records->len; i++)
        weir_record_sink_destroy(g_ptr_array_index(r->records, i));
    if (r->records)
        g_ptr_array_free(r->records, TRUE);
    weir_free(r);
}

route *weir_router_get(weir_worker *w, uint32_t handle, bool create)
{
    if (!w->routes)
        w->routes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, route_free);
    route *r = g_hash_table_lookup(w->routes, GUINT_TO_POINTER(handle));
    if (r || !create)
        return r;
    r = WEIR_NEW(route);
    r->handle = handle;
    r->consumers = g_ptr_array_new();
    g_hash_table_insert(w->routes, GUINT_TO_POINTER(handle), r);
    return r;
}

void weir_router_drop_if_unused(weir_worker *w, route *r)
{
    if (r && !r->producer && r->consumers->len == 0 && r->remote_workers == 0 &&
        (!r->taps || r->taps->len == 0) && (!r->records || r->records->len == 0))
        g_hash_table_remove(w->routes, GUINT_TO_POINTER(r->handle));
}

static void fan_out_local(route *r, weir_pkt *p, int64_t now_us)
{
    for (guint i = 0; i < r->consumers->len; i++)
        weir_subscriber_forward(g_ptr_array_index(r->consumers, i), p, now_us);
    /* Taps are consumers without a subscriber PC (shell/tap.c). */
    for (guint i = 0; r->taps && i < r->taps->len; i++)
        weir_tap_forward(g_ptr_array_index(r->taps, i), p, now_us);
    for (guint i = 0; r->records && i < r->records->len; i++)
        weir_record_sink_forward(g_ptr_array_index(r->records, i), p, now_us);
}

void weir_router_publish(weir_worker *w, weir_pkt *p, int64_t now_us)
{
    route *r = weir_router_get(w, p->track, false);
    if (!r || r->muted) {
        weir_pkt_unref(p);
        return;
    }
    weir_mesh *mesh = w->media->mesh;
    for (uint64_t mask = r->remote_workers; mask; mask &= mask - 1) {
        int to = __builtin_ctzll(mask);
        if (!mesh || to == w->index || to >= weir_mesh_size(mesh))
            continue;
        if (weir_mesh_push(mesh, w->index, to, weir_pkt_ref(p)))
            w->mesh_wake_mask |= 1ull << to;
        else {
            weir_pkt_unref(p);
            w->mesh_drops++;
        }
    }
    fan_out_local(r, p, now_us);
    weir_pkt_unref(p);
}

void weir_router_add_consumer(weir_worker *w, sub_track *st)
{
    route *r = weir_router_get(w, st->cfg.handle, true);
    g_ptr_array_add(r->consumers, st);
}

void weir_router_remove_consumer(weir_worker *w, sub_track *st)
{
    route *r = weir_router_get(w, st->cfg.handle, false);
    if (!r)
        return;
    g_ptr_array_remove(r->consumers, st);
    weir_router_drop_if_unused(w, r);
}

void weir_router_set_remote(weir_worker *w, const weir_worker_route *cmd)
{
    if (cmd->worker < 0 || cmd->worker >= 64)
        return;
    route *r = weir_router_get(w, cmd->handle, cmd->add);
    if (!r)
        return;
    if (cmd->add)
        r->remote_workers |= 1ull << cmd->worker;
    else
        r->remote_workers &= ~(1ull << cmd->worker);
    WEIR_LOG_DEBUG("route worker=%d track=%u to=%d add=%d", w->index, cmd->handle, cmd->worker,
                   (int)cmd->add);
    weir_router_drop_if_unused(w, r);
}

void weir_router_set_muted(weir_worker *w, uint32_t handle, bool muted)
{
    route *r = weir_router_get(w, handle, false);
    if (r)
        r->muted = muted;
}

void weir_router_keyframe_command(weir_worker *w, uint32_t handle, int layer)
{
    route *r = weir_router_get(w, handle, false);
    if (r && r->producer)
        weir_publisher_keyframe(r->producer, r->media_index, layer);
}

void weir_router_request_keyframe(weir_worker *w, uint32_t handle, int layer)
{
    route *r = weir_router_get(w, handle, false);
    if (r && r->producer) {
        weir_publisher_keyframe(r->producer, r->media_index, layer);
        return;
    }
    /* The producer lives on another worker: the control thread knows where. */
    weir_worker_event *ev = weir_worker_new_event(w, WEIR_WORKER_EVENT_KEYFRAME_NEEDED, 0);
    ev->handle = handle;
    ev->spatial = (int8_t)layer;
    weir_worker_push_event(w, ev);
}

void weir_router_drain_mesh(weir_worker *w)
{
    weir_mesh *mesh = w->media->mesh;
    if (!mesh)
        return;
    int64_t now_us = weir_clock_now_us();
    for (int from = 0; from < weir_mesh_size(mesh); from++) {
        if (from == w->index)
            continue;
        weir_pkt *p;
        while ((p = weir_mesh_pop(mesh, from, w->index))) {
            route *r = weir_router_get(w, p->track, false);
            if (r)
                fan_out_local(r, p, now_us);
            weir_pkt_unref(p);
        }
    }
}

void weir_router_flush(weir_worker *w)
{
    weir_mesh *mesh = w->media->mesh;
    for (uint64_t mask = w->mesh_wake_mask; mask && mesh; mask &= mask - 1)
        weir_mesh_wake(mesh, __builtin_ctzll(mask));
    w->mesh_wake_mask = 0;
    weir_subscriber_flush_all(w);
}

weir_consumer *weir_router_sink_consumer(weir_codec codec, bool audio, uint32_t clock_rate_hz,
                                         uint8_t n_layers, uint32_t ssrc, uint8_t pt, int in_pt)
{
    weir_consumer_config cc;
    weir_consumer_config_init(&cc);
    cc.codec = codec;
    cc.is_audio = audio;
    cc.clock_rate_hz = clock_rate_hz;
    cc.n_layers = n_layers ? n_layers : 1;
    cc.ssrc = ssrc;
    cc.pt = pt;
    cc.in_pt = in_pt;
    cc.history_slots = 16;
    return weir_consumer_create(&cc);
}
