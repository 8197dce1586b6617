/* The worker → recorder packet queue (packet_queue.h). */
#include "packet_queue.h"

#include <string.h>

#include "base/ring.h"
#include "weir/alloc.h"

struct wrec_packet_queue {
    weir_ring *free; /* recorder → worker: empty slots */
    weir_ring *full; /* worker → recorder: packets */
    wrec_slot *slots;
    size_t capacity;
};

wrec_packet_queue *wrec_packet_queue_create(size_t capacity)
{
    wrec_packet_queue *q = WEIR_NEW(wrec_packet_queue);
    q->free = weir_ring_create(capacity);
    q->capacity = weir_ring_capacity(q->free);
    q->full = weir_ring_create(q->capacity);
    q->slots = weir_calloc(q->capacity, sizeof *q->slots);
    for (size_t i = 0; i < q->capacity; i++)
        weir_ring_push(q->free, &q->slots[i]);
    return q;
}

void wrec_packet_queue_destroy(wrec_packet_queue *q)
{
    if (!q)
        return;
    weir_ring_destroy(q->free);
    weir_ring_destroy(q->full);
    weir_free(q->slots);
    weir_free(q);
}

bool wrec_packet_queue_push(wrec_packet_queue *q, const uint8_t *data, size_t len,
                            int64_t arrival_us, uint64_t capture_ntp)
{
    if (len > WREC_SLOT_BYTES)
        return false;
    wrec_slot *s = weir_ring_pop(q->free);
    if (!s)
        return false;
    memcpy(s->data, data, len);
    s->len = len;
    s->arrival_us = arrival_us;
    s->capture_ntp = capture_ntp;
    weir_ring_push(q->full, s); /* cannot fail: as many places as slots */
    return true;
}

wrec_slot *wrec_packet_queue_pop(wrec_packet_queue *q)
{
    return weir_ring_pop(q->full);
}

void wrec_packet_queue_release(wrec_packet_queue *q, wrec_slot *s)
{
    weir_ring_push(q->free, s);
}

size_t wrec_packet_queue_capacity(const wrec_packet_queue *q)
{
    return q->capacity;
}
