/**
 * The bounded queue between a media worker and the recorder's thread for
 * one track: a fixed pool of packet slots that circulate through two
 * lock-free SPSC rings (base/ring.h): `free` (recorder → worker) and `full`
 * (worker → recorder). The worker copies a packet into a free slot and
 * pushes it; the recorder pops it, uses it and gives the slot back. No
 * allocation after creation, no lock and no syscall on the worker's side,
 * and the memory is capacity × slot size whatever the disk does: when the
 * recorder falls behind, the worker finds no free slot and the packet is
 * dropped (counted by the caller).
 */
#ifndef WREC_PACKET_QUEUE_H
#define WREC_PACKET_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WREC_SLOT_BYTES 1500 /* an RTP packet as the server forwards it (≤ MTU) */

typedef struct wrec_slot {
    size_t len;
    int64_t arrival_us;
    uint64_t capture_ntp;
    uint8_t data[WREC_SLOT_BYTES];
} wrec_slot;

typedef struct wrec_packet_queue wrec_packet_queue;

/** capacity slots (rounded up to a power of two). Never NULL. */
wrec_packet_queue *wrec_packet_queue_create(size_t capacity);
void wrec_packet_queue_destroy(wrec_packet_queue *q);

/** Producer (one worker at a time): copies the packet. false when full or too long. */
bool wrec_packet_queue_push(wrec_packet_queue *q, const uint8_t *data, size_t len,
                            int64_t arrival_us, uint64_t capture_ntp);
/** Consumer: the oldest packet, or NULL. Give it back with _release once used. */
wrec_slot *wrec_packet_queue_pop(wrec_packet_queue *q);
void wrec_packet_queue_release(wrec_packet_queue *q, wrec_slot *s);
size_t wrec_packet_queue_capacity(const wrec_packet_queue *q);

#endif
