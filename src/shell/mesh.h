/**
 * The packet mesh between media workers: one lock-free SPSC ring per ordered
 * worker pair (from → to) carrying references to published weir_pkt, plus
 * one eventfd per worker that says "packets are waiting for you"
 * (ARCHITECTURE.md "Crossing workers").
 *
 * Why rings of references: a publisher's packet is decrypted and parsed
 * once on its own worker; a subscriber on another worker needs the same
 * immutable bytes, and only its own worker may touch its SRTP context and
 * rewrite state. A ring per pair keeps each ring single-producer and
 * single-consumer, so neither side ever takes a lock or waits: a full ring
 * drops the packet (counted by the caller), which the subscriber repairs
 * like any loss (NACK, keyframe). The eventfd is written once per drain of
 * the sending worker, not once per packet.
 *
 * Thread safety: push/wake from worker `from` only, pop from worker `to`
 * only; create/destroy from the control thread while no worker runs.
 */
#ifndef WEIR_SHELL_MESH_H
#define WEIR_SHELL_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/pkt.h"

#define WEIR_MESH_MAX_WORKERS 64
#define WEIR_MESH_RING_SIZE 8192 /* packets in flight per worker pair */

typedef struct weir_mesh weir_mesh;

/** n_workers 1..WEIR_MESH_MAX_WORKERS. NULL when an eventfd cannot be created (logged). */
weir_mesh *weir_mesh_create(int n_workers);
/** Drops every reference still in the rings and frees the mesh. NULL is a no-op. */
void weir_mesh_destroy(weir_mesh *m);
int weir_mesh_size(const weir_mesh *m);

/**
 * Worker `from`: queues p for worker `to`, taking over the caller's
 * reference. Returns false when the ring is full: the reference stays the
 * caller's (unref it and count the drop).
 */
bool weir_mesh_push(weir_mesh *m, int from, int to, weir_pkt *p);
/** Worker `from`: wakes worker `to` after a batch of pushes. */
void weir_mesh_wake(weir_mesh *m, int to);
/** Worker `to`: the next packet from worker `from` (a reference now the caller's), or NULL. */
weir_pkt *weir_mesh_pop(weir_mesh *m, int from, int to);
/** The eventfd worker `worker` watches; readable when woken. Reading it clears it. */
int weir_mesh_fd(const weir_mesh *m, int worker);

#endif
