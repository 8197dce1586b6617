#include <criterion/criterion.h>

#include "base/token_bucket.h"
#include "weir/log.h"

Test(token_bucket, burst_then_refill_on_fake_clock)
{
    weir_token_bucket b;
    weir_token_bucket_init(&b, 10.0, 3.0); /* 10/s, burst 3 */
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        cr_assert(weir_token_bucket_take(&b, t), "burst token %d", i);
    cr_assert_not(weir_token_bucket_take(&b, t));
    cr_assert_not(weir_token_bucket_take(&b, t + 50000), "half a token after 50 ms");
    cr_assert(weir_token_bucket_take(&b, t + 100000), "one token after 100 ms");
    cr_assert_not(weir_token_bucket_take(&b, t + 100000));
    /* a long pause refills only up to the burst */
    t += 10000000;
    for (int i = 0; i < 3; i++)
        cr_assert(weir_token_bucket_take(&b, t));
    cr_assert_not(weir_token_bucket_take(&b, t));
}

Test(token_bucket, time_going_backwards_counts_as_the_last_time)
{
    weir_token_bucket b;
    weir_token_bucket_init(&b, 1.0, 1.0);
    cr_assert(weir_token_bucket_take(&b, 5000000));
    cr_assert_not(weir_token_bucket_take(&b, 1000000));
    cr_assert_not(weir_token_bucket_take(&b, 5500000));
    cr_assert(weir_token_bucket_take(&b, 6000000));
}

Test(lograte, suppresses_and_reports_the_count)
{
    weir_lograte r;
    weir_lograte_init(&r, 1.0, 2.0);
    uint32_t dropped = 99;
    cr_assert(weir_lograte_allow(&r, 1000000, &dropped));
    cr_assert_eq(dropped, 0);
    cr_assert(weir_lograte_allow(&r, 1000000, NULL));
    for (int i = 0; i < 5; i++)
        cr_assert_not(weir_lograte_allow(&r, 1000000, NULL));
    cr_assert(weir_lograte_allow(&r, 2000000, &dropped));
    cr_assert_eq(dropped, 5, "the next allowed line reports the 5 dropped");
}
