/*
 * The worker → recorder packet queue (plugins/recorder/packet_queue.h): what
 * keeps a slow disk from ever stalling a media worker. A full queue refuses
 * the push at once (the caller drops and counts), memory never grows past
 * the slots made at creation, order is kept, and a slot given back is used
 * again.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "packet_queue.h"

Test(packet_queue, a_full_queue_refuses_instead_of_waiting_or_growing)
{
    wrec_packet_queue *q = wrec_packet_queue_create(16);
    size_t cap = wrec_packet_queue_capacity(q);
    cr_assert_eq(cap, 16);
    uint8_t pkt[1200];
    for (size_t i = 0; i < cap; i++) {
        memset(pkt, (int)i, sizeof pkt);
        cr_assert(wrec_packet_queue_push(q, pkt, sizeof pkt, (int64_t)i, i + 100));
    }
    /* The recorder fell behind: every further push is refused at once. */
    for (int i = 0; i < 1000; i++)
        cr_assert_not(wrec_packet_queue_push(q, pkt, sizeof pkt, 0, 0));
    /* In order, with their times. */
    for (size_t i = 0; i < cap; i++) {
        wrec_slot *s = wrec_packet_queue_pop(q);
        cr_assert_not_null(s);
        cr_assert_eq(s->len, sizeof pkt);
        cr_assert_eq(s->data[0], (uint8_t)i);
        cr_assert_eq(s->data[sizeof pkt - 1], (uint8_t)i);
        cr_assert_eq(s->arrival_us, (int64_t)i);
        cr_assert_eq(s->capture_ntp, i + 100);
        if (i == 0)
            cr_assert_not(wrec_packet_queue_push(q, pkt, 10, 0, 0),
                          "a popped slot is not free before it is released");
        wrec_packet_queue_release(q, s);
    }
    cr_assert_null(wrec_packet_queue_pop(q));
    wrec_packet_queue_destroy(q);
}

Test(packet_queue, released_slots_circulate_forever)
{
    wrec_packet_queue *q = wrec_packet_queue_create(4);
    uint8_t pkt[64] = {0};
    for (int round = 0; round < 10000; round++) {
        pkt[0] = (uint8_t)round;
        cr_assert(wrec_packet_queue_push(q, pkt, sizeof pkt, round, 0));
        wrec_slot *s = wrec_packet_queue_pop(q);
        cr_assert_not_null(s);
        cr_assert_eq(s->data[0], (uint8_t)round);
        wrec_packet_queue_release(q, s);
    }
    wrec_packet_queue_destroy(q);
}

Test(packet_queue, a_packet_longer_than_a_slot_is_refused)
{
    wrec_packet_queue *q = wrec_packet_queue_create(4);
    static uint8_t big[WREC_SLOT_BYTES + 1];
    cr_assert_not(wrec_packet_queue_push(q, big, sizeof big, 0, 0));
    cr_assert(wrec_packet_queue_push(q, big, WREC_SLOT_BYTES, 0, 0));
    wrec_packet_queue_destroy(q);
}
