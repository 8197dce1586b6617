/**
 * Bounded single-producer/single-consumer ring of pointers, lock-free.
 * Used between the control thread and each media worker (commands down,
 * events up) and later between workers for packets. Exactly one thread
 * pushes and exactly one thread pops; a full ring refuses the push (the
 * caller decides: drop and count, or report an error) and never blocks.
 */
#ifndef WEIR_BASE_RING_H
#define WEIR_BASE_RING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct weir_ring weir_ring;

/** capacity is rounded up to a power of two (>= 2). Never NULL. */
weir_ring *weir_ring_create(size_t capacity);
/** Frees the ring only; items still inside belong to the caller (drain first). */
void weir_ring_destroy(weir_ring *ring);

/** Producer side. Returns false when full (item not stored). */
bool weir_ring_push(weir_ring *ring, void *item);
/** Consumer side. Returns NULL when empty. */
void *weir_ring_pop(weir_ring *ring);
/** Approximate count (exact when called from either end while the other is idle). */
size_t weir_ring_count(const weir_ring *ring);
size_t weir_ring_capacity(const weir_ring *ring);

#endif
