/*
 * weir-client's data-channel bookkeeping (tools/weir-client/dc_track.c):
 * frames are classified (stamped, error, relayed), seq gaps and reorders
 * are counted, history must come first, our own ops are matched to their
 * echoes with a latency, and percentiles are right.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dc_track.h"

#define ME "pme"
#define OPEN_WALL_MS 1000000

static wc_dc_frame_kind feed(wc_dc_rx *rx, wc_dc_own *own, const char *text, int64_t now_us)
{
    return wc_dc_rx_frame(rx, own, ME, false, (const uint8_t *)text, strlen(text), now_us);
}

static void stamp(char *buf, size_t cap, long seq, const char *from, long long ts, const char *data)
{
    snprintf(buf, cap, "{\"seq\":%ld,\"from\":\"%s\",\"ts\":%lld,\"data\":%s}", seq, from, ts,
             data);
}

Test(client_dc_track, classifies_frames)
{
    static const struct {
        const char *text;
        bool binary;
        wc_dc_frame_kind kind;
    } rows[] = {
        {"{\"seq\":1,\"from\":\"p1\",\"ts\":2000000,\"data\":{\"op\":\"line\"}}", false,
         WC_DC_FRAME_STAMPED},
        {"{\"seq\":2,\"from\":\"p1\",\"ts\":2000000,\"data\":\"just text\"}", false,
         WC_DC_FRAME_STAMPED},
        {"{\"error\":{\"code\":429,\"message\":\"flood\"}}", false, WC_DC_FRAME_ERROR},
        {"{\"error\":{\"code\":403,\"message\":\"no\"}}", false, WC_DC_FRAME_ERROR},
        {"{\"error\":{\"code\":429,\"message\":\"flood\"}}", false, WC_DC_FRAME_ERROR},
        {"{\"seq\":\"3\",\"from\":\"p1\",\"data\":1}", false, WC_DC_FRAME_RELAYED},
        {"{\"seq\":3,\"data\":1}", false, WC_DC_FRAME_RELAYED},
        {"{\"error\":\"x\"}", false, WC_DC_FRAME_RELAYED},
        {"not json {", false, WC_DC_FRAME_RELAYED},
        {"[1,2]", false, WC_DC_FRAME_RELAYED},
        {"\x01\x02\xff", true, WC_DC_FRAME_RELAYED},
        {"", false, WC_DC_FRAME_RELAYED},
    };
    wc_dc_rx rx;
    wc_dc_rx_init(&rx, 0, OPEN_WALL_MS);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        wc_dc_frame_kind k =
            wc_dc_rx_frame(&rx, NULL, ME, rows[i].binary, (const uint8_t *)rows[i].text,
                           strlen(rows[i].text), (int64_t)i);
        cr_assert_eq(k, rows[i].kind, "row %zu (%s): kind %d", i, rows[i].text, k);
    }
    cr_assert_eq(rx.frames, 12);
    cr_assert_eq(rx.stamped, 2);
    cr_assert_eq(rx.error_frames, 3);
    cr_assert_eq(wc_dc_rx_errors(&rx, 429), 2);
    cr_assert_eq(wc_dc_rx_errors(&rx, 403), 1);
    cr_assert_eq(wc_dc_rx_errors(&rx, 415), 0);
    cr_assert_eq(rx.relayed, 7);
    cr_assert_eq(rx.binary, 1);
    cr_assert_eq(rx.first_seq, 1);
    cr_assert_eq(rx.last_seq, 2);
}

Test(client_dc_track, gaps_and_reorders)
{
    /* seq sequence -> (gaps, order_errors) after it */
    static const struct {
        long seqs[8];
        size_t n;
        uint64_t gaps, order;
        long first, last;
    } rows[] = {
        {{1, 2, 3, 4}, 4, 0, 0, 1, 4},
        {{57, 58, 59}, 3, 0, 0, 57, 59}, /* after a clear: any start is fine */
        {{1, 2, 4, 5}, 4, 1, 0, 1, 5},
        {{1, 5}, 2, 3, 0, 1, 5},
        {{1, 2, 2, 3}, 4, 0, 1, 1, 3}, /* duplicate */
        {{1, 3, 2, 4}, 4, 1, 1, 1, 4}, /* swapped: the 2 is late, not a gap filler */
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        wc_dc_rx rx;
        wc_dc_rx_init(&rx, 0, OPEN_WALL_MS);
        for (size_t i = 0; i < rows[r].n; i++) {
            char buf[200];
            stamp(buf, sizeof buf, rows[r].seqs[i], "p1", OPEN_WALL_MS + 5, "{}");
            cr_assert_eq(feed(&rx, NULL, buf, 10), WC_DC_FRAME_STAMPED);
        }
        cr_assert_eq(rx.gaps, rows[r].gaps, "row %zu: gaps %llu", r, (unsigned long long)rx.gaps);
        cr_assert_eq(rx.order_errors, rows[r].order, "row %zu: order %llu", r,
                     (unsigned long long)rx.order_errors);
        cr_assert_eq(rx.first_seq, rows[r].first, "row %zu", r);
        cr_assert_eq(rx.last_seq, rows[r].last, "row %zu", r);
    }
}

Test(client_dc_track, history_comes_first)
{
    wc_dc_rx rx;
    wc_dc_rx_init(&rx, 1000, OPEN_WALL_MS);
    char buf[200];
    stamp(buf, sizeof buf, 1, "p1", OPEN_WALL_MS - 500, "{}");
    feed(&rx, NULL, buf, 3000);
    stamp(buf, sizeof buf, 2, "p2", OPEN_WALL_MS - 1, "{}");
    feed(&rx, NULL, buf, 5000);
    cr_assert_eq(rx.history, 2);
    cr_assert_eq(rx.history_late, 0);
    cr_assert_eq(rx.history_done_us, 5000);
    stamp(buf, sizeof buf, 3, "p2", OPEN_WALL_MS, "{}");
    feed(&rx, NULL, buf, 6000);
    cr_assert_eq(rx.history, 2, "stamped at the opening instant is live");
    /* A message stamped before we opened, delivered after a live one: the server
     * interleaved history and live traffic. */
    stamp(buf, sizeof buf, 4, "p1", OPEN_WALL_MS - 2, "{}");
    feed(&rx, NULL, buf, 7000);
    cr_assert_eq(rx.history, 3);
    cr_assert_eq(rx.history_late, 1);

    json_t *o = json_object();
    wc_dc_rx_report(&rx, o);
    cr_assert_eq(json_integer_value(json_object_get(o, "history")), 3);
    cr_assert_eq(json_integer_value(json_object_get(o, "history_late")), 1);
    cr_assert_float_eq(json_real_value(json_object_get(o, "history_ms")), 6.0, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(o, "first_seq")), 1);
    cr_assert_eq(json_integer_value(json_object_get(o, "last_seq")), 4);
    json_decref(o);
}

Test(client_dc_track, own_ops_echo_with_latency)
{
    wc_dc_own own;
    wc_dc_own_init(&own, 5);
    wc_dc_rx rx;
    wc_dc_rx_init(&rx, 0, OPEN_WALL_MS);
    for (uint64_t n = 1; n <= 4; n++)
        wc_dc_own_sent(&own, n, (int64_t)n * 1000);
    wc_dc_own_sent(&own, 99, 1); /* out of range: ignored */
    cr_assert_eq(own.sent, 4);

    char buf[200];
    long seq = 1;
    /* Ops 1 and 2 come back after 3 ms and 5 ms, interleaved with another sender's. */
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"op\":\"line\",\"n\":1}");
    feed(&rx, &own, buf, 4000);
    stamp(buf, sizeof buf, seq++, "pother", OPEN_WALL_MS + 1, "{\"op\":\"line\",\"n\":3}");
    feed(&rx, &own, buf, 5000);
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"op\":\"line\",\"n\":2}");
    feed(&rx, &own, buf, 7000);
    cr_assert_eq(own.echoed_count, 2, "another sender's n=3 is not ours");
    /* 4 before 3, then 2 again, then an n we never sent, then a clear. */
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"n\":4}");
    feed(&rx, &own, buf, 8000);
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"n\":3}");
    feed(&rx, &own, buf, 9000);
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"n\":2}");
    feed(&rx, &own, buf, 9500);
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"n\":5}");
    feed(&rx, &own, buf, 9600);
    stamp(buf, sizeof buf, seq++, ME, OPEN_WALL_MS + 1, "{\"op\":\"clear\"}");
    feed(&rx, &own, buf, 9700);
    cr_assert_eq(own.echoed_count, 4);
    cr_assert_eq(own.out_of_order, 1);
    cr_assert_eq(own.duplicates, 1);
    cr_assert_eq(own.unknown, 2, "n=5 never sent, and the clear has no n");
    cr_assert_eq(rx.gaps, 0);

    json_t *r = wc_dc_own_report(&own);
    cr_assert_eq(json_integer_value(json_object_get(r, "missing")), 0);
    json_t *lat = json_object_get(r, "latency_ms");
    /* Latencies 3, 5, 4, 6 ms: nearest-rank p50 = 4, p95 = 6. */
    cr_assert_eq(json_integer_value(json_object_get(lat, "samples")), 4);
    cr_assert_float_eq(json_real_value(json_object_get(lat, "p50")), 4.0, 1e-9);
    cr_assert_float_eq(json_real_value(json_object_get(lat, "p95")), 6.0, 1e-9);
    cr_assert_float_eq(json_real_value(json_object_get(lat, "max")), 6.0, 1e-9);
    json_decref(r);
    wc_dc_own_deinit(&own);
}

Test(client_dc_track, percentiles)
{
    wc_dc_samples s = {0};
    cr_assert_eq(wc_dc_samples_percentile(&s, 50), 0);
    for (int64_t v = 100; v >= 1; v--)
        wc_dc_samples_add(&s, v);
    cr_assert_eq(wc_dc_samples_percentile(&s, 50), 50);
    cr_assert_eq(wc_dc_samples_percentile(&s, 95), 95);
    cr_assert_eq(wc_dc_samples_percentile(&s, 100), 100);
    cr_assert_eq(wc_dc_samples_percentile(&s, 0), 1);
    wc_dc_samples_free(&s);
}

Test(client_dc_track, many_error_codes_do_not_overflow)
{
    wc_dc_rx rx;
    wc_dc_rx_init(&rx, 0, 0);
    for (int code = 400; code < 420; code++) {
        char buf[100];
        snprintf(buf, sizeof buf, "{\"error\":{\"code\":%d}}", code);
        cr_assert_eq(feed(&rx, NULL, buf, 0), WC_DC_FRAME_ERROR);
    }
    cr_assert_eq(rx.error_frames, 20);
    cr_assert_eq(rx.n_errors, WC_DC_MAX_ERROR_CODES);
    cr_assert_eq(wc_dc_rx_errors(&rx, 400), 1);
}
