/*
 * Classic Lamport SPSC queue with C11 acquire/release: the producer owns
 * `head`, the consumer owns `tail`; each reads the other's index with
 * acquire so the slot contents written before the release are visible.
 * The indices live on separate cache lines to avoid false sharing.
 */
#include "base/ring.h"

#include <stdalign.h>
#include <stdatomic.h>

#include "weir/alloc.h"

struct weir_ring {
    alignas(64) atomic_size_t head; /* next slot to write; producer-owned */
    alignas(64) atomic_size_t tail; /* next slot to read; consumer-owned */
    alignas(64) size_t mask;
    void **slots;
};

weir_ring *weir_ring_create(size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity)
        cap <<= 1;
    weir_ring *ring = weir_calloc(1, sizeof *ring);
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    ring->mask = cap - 1;
    ring->slots = weir_calloc(cap, sizeof(void *));
    return ring;
}

void weir_ring_destroy(weir_ring *ring)
{
    if (!ring)
        return;
    weir_free(ring->slots);
    weir_free(ring);
}

bool weir_ring_push(weir_ring *ring, void *item)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    if (head - tail > ring->mask)
        return false;
    ring->slots[head & ring->mask] = item;
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    return true;
}

void *weir_ring_pop(weir_ring *ring)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    if (tail == head)
        return NULL;
    void *item = ring->slots[tail & ring->mask];
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
    return item;
}

size_t weir_ring_count(const weir_ring *ring)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    return head - tail;
}

size_t weir_ring_capacity(const weir_ring *ring)
{
    return ring->mask + 1;
}
