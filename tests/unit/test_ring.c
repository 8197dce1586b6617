#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>

#include "base/ring.h"

Test(ring, rounds_capacity_to_power_of_two)
{
    size_t rows[][2] = {{0, 2}, {1, 2}, {2, 2}, {3, 4}, {5, 8}, {1000, 1024}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        weir_ring *r = weir_ring_create(rows[i][0]);
        cr_expect_eq(weir_ring_capacity(r), rows[i][1], "capacity(%zu)", rows[i][0]);
        weir_ring_destroy(r);
    }
}

Test(ring, fifo_order_and_full_refusal)
{
    weir_ring *r = weir_ring_create(4);
    cr_assert_null(weir_ring_pop(r));
    for (uintptr_t i = 1; i <= 4; i++)
        cr_assert(weir_ring_push(r, (void *)i));
    cr_assert_not(weir_ring_push(r, (void *)5), "a full ring refuses the push");
    cr_assert_eq(weir_ring_count(r), 4);
    for (uintptr_t i = 1; i <= 4; i++)
        cr_assert_eq((uintptr_t)weir_ring_pop(r), i);
    cr_assert_null(weir_ring_pop(r));
    /* wraps around the end of the slot array */
    for (uintptr_t round = 0; round < 10; round++) {
        cr_assert(weir_ring_push(r, (void *)(round + 100)));
        cr_assert_eq((uintptr_t)weir_ring_pop(r), round + 100);
    }
    weir_ring_destroy(r);
}

#define ITEMS 200000

static void *producer(void *arg)
{
    weir_ring *r = arg;
    for (uintptr_t i = 1; i <= ITEMS;)
        if (weir_ring_push(r, (void *)i))
            i++;
    return NULL;
}

Test(ring, two_threads_see_every_item_in_order)
{
    weir_ring *r = weir_ring_create(64);
    pthread_t t;
    pthread_create(&t, NULL, producer, r);
    uintptr_t expected = 1;
    while (expected <= ITEMS) {
        void *item = weir_ring_pop(r);
        if (!item)
            continue;
        cr_assert_eq((uintptr_t)item, expected);
        expected++;
    }
    pthread_join(t, NULL);
    cr_assert_null(weir_ring_pop(r));
    weir_ring_destroy(r);
}
