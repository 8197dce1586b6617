#include "dc_track.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/alloc.h"

/* ---- samples ---- */

void wc_dc_samples_add(wc_dc_samples *s, int64_t value)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = weir_realloc(s->v, s->cap * sizeof s->v[0]);
    }
    s->v[s->n++] = value;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t wc_dc_samples_percentile(wc_dc_samples *s, double pct)
{
    if (s->n == 0)
        return 0;
    qsort(s->v, s->n, sizeof s->v[0], cmp_i64);
    /* Nearest rank: the smallest value with at least pct% of the samples at or below it. */
    size_t rank = (size_t)(pct / 100.0 * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

void wc_dc_samples_free(wc_dc_samples *s)
{
    weir_free(s->v);
    memset(s, 0, sizeof *s);
}

static json_t *latency_ms(wc_dc_samples *s)
{
    size_t n = s->n;
    double p50 = (double)wc_dc_samples_percentile(s, 50) / 1000.0;
    double p95 = (double)wc_dc_samples_percentile(s, 95) / 1000.0;
    double max = n ? (double)s->v[n - 1] / 1000.0 : 0;
    return json_pack("{s:f, s:f, s:f, s:I}", "p50", p50, "p95", p95, "max", max, "samples",
                     (json_int_t)n);
}

/* ---- our own ops ---- */

void wc_dc_own_init(wc_dc_own *o, uint64_t planned)
{
    memset(o, 0, sizeof *o);
    o->planned = planned;
    if (planned) {
        o->sent_us = weir_calloc(planned, sizeof o->sent_us[0]);
        o->echoed = weir_calloc(planned, 1);
    }
}

void wc_dc_own_deinit(wc_dc_own *o)
{
    weir_free(o->sent_us);
    weir_free(o->echoed);
    wc_dc_samples_free(&o->latency_us);
    memset(o, 0, sizeof *o);
}

void wc_dc_own_sent(wc_dc_own *o, uint64_t n, int64_t now_us)
{
    if (n < 1 || n > o->planned)
        return;
    /* 0 means "not sent": a clock at 0 still marks it sent. */
    o->sent_us[n - 1] = now_us > 0 ? now_us : 1;
    o->sent++;
}

static void own_echo(wc_dc_own *o, const json_t *data, int64_t now_us)
{
    json_t *jn = json_is_object(data) ? json_object_get(data, "n") : NULL;
    if (!json_is_integer(jn)) {
        o->unknown++; /* a clear or something not from the script */
        return;
    }
    json_int_t n = json_integer_value(jn);
    if (n < 1 || (uint64_t)n > o->planned || o->sent_us[n - 1] == 0) {
        o->unknown++;
        return;
    }
    if (o->echoed[n - 1]) {
        o->duplicates++;
        return;
    }
    o->echoed[n - 1] = 1;
    o->echoed_count++;
    if ((uint64_t)n < o->last_echo_n)
        o->out_of_order++;
    o->last_echo_n = (uint64_t)n;
    int64_t lat = now_us - o->sent_us[n - 1];
    wc_dc_samples_add(&o->latency_us, lat > 0 ? lat : 0);
}

json_t *wc_dc_own_report(wc_dc_own *o)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "sent", (json_int_t)o->sent, "echoed",
                     (json_int_t)o->echoed_count, "missing",
                     (json_int_t)(o->sent - o->echoed_count), "duplicates",
                     (json_int_t)o->duplicates, "out_of_order", (json_int_t)o->out_of_order,
                     "unknown", (json_int_t)o->unknown, "latency_ms", latency_ms(&o->latency_us));
}

/* ---- one channel's frames ---- */

void wc_dc_rx_init(wc_dc_rx *rx, int64_t open_us, int64_t open_wall_ms)
{
    memset(rx, 0, sizeof *rx);
    rx->open_us = open_us;
    rx->open_wall_ms = open_wall_ms;
    rx->first_seq = -1;
    rx->last_seq = -1;
}

static void count_error(wc_dc_rx *rx, int code)
{
    rx->error_frames++;
    for (size_t i = 0; i < rx->n_errors; i++)
        if (rx->errors[i].code == code) {
            rx->errors[i].count++;
            return;
        }
    /* More distinct codes than the table holds: fold them into the last slot. */
    size_t i = rx->n_errors < WC_DC_MAX_ERROR_CODES ? rx->n_errors++ : WC_DC_MAX_ERROR_CODES - 1;
    rx->errors[i].code = code;
    rx->errors[i].count++;
}

uint64_t wc_dc_rx_errors(const wc_dc_rx *rx, int code)
{
    for (size_t i = 0; i < rx->n_errors; i++)
        if (rx->errors[i].code == code)
            return rx->errors[i].count;
    return 0;
}

static void stamped(wc_dc_rx *rx, wc_dc_own *own, const char *self_id, const json_t *msg,
                    int64_t now_us)
{
    json_int_t seq = json_integer_value(json_object_get(msg, "seq"));
    const char *from = json_string_value(json_object_get(msg, "from"));
    json_t *ts = json_object_get(msg, "ts");
    rx->stamped++;
    if (rx->first_seq < 0)
        rx->first_seq = seq;
    else if (seq <= rx->last_seq)
        rx->order_errors++;
    else
        rx->gaps += (uint64_t)(seq - rx->last_seq - 1);
    if (seq > rx->last_seq)
        rx->last_seq = seq;
    bool history = json_is_integer(ts) && json_integer_value(ts) < rx->open_wall_ms;
    if (history) {
        rx->history++;
        rx->history_done_us = now_us;
        if (rx->live_seen)
            rx->history_late++;
    } else {
        rx->live_seen = true;
    }
    if (own && self_id && from && strcmp(from, self_id) == 0)
        own_echo(own, json_object_get(msg, "data"), now_us);
}

wc_dc_frame_kind wc_dc_rx_frame(wc_dc_rx *rx, wc_dc_own *own, const char *self_id, bool binary,
                                const uint8_t *data, size_t len, int64_t now_us)
{
    rx->frames++;
    rx->bytes += len;
    if (binary) {
        rx->binary++;
        rx->relayed++;
        return WC_DC_FRAME_RELAYED;
    }
    json_t *msg = json_loadb((const char *)data, len, 0, NULL);
    wc_dc_frame_kind kind = WC_DC_FRAME_RELAYED;
    if (json_is_object(msg)) {
        json_t *err = json_object_get(msg, "error");
        if (json_is_integer(json_object_get(msg, "seq")) &&
            json_is_string(json_object_get(msg, "from")) && json_object_get(msg, "data")) {
            stamped(rx, own, self_id, msg, now_us);
            kind = WC_DC_FRAME_STAMPED;
        } else if (json_is_object(err) && json_is_integer(json_object_get(err, "code"))) {
            count_error(rx, (int)json_integer_value(json_object_get(err, "code")));
            kind = WC_DC_FRAME_ERROR;
        }
    }
    if (kind == WC_DC_FRAME_RELAYED)
        rx->relayed++;
    json_decref(msg);
    return kind;
}

void wc_dc_rx_report(const wc_dc_rx *rx, json_t *obj)
{
    json_t *errors = json_object();
    for (size_t i = 0; i < rx->n_errors; i++) {
        char code[16];
        snprintf(code, sizeof code, "%d", rx->errors[i].code);
        json_object_set_new(errors, code, json_integer((json_int_t)rx->errors[i].count));
    }
    json_object_set_new(obj, "frames", json_integer((json_int_t)rx->frames));
    json_object_set_new(obj, "stamped", json_integer((json_int_t)rx->stamped));
    json_object_set_new(obj, "relayed", json_integer((json_int_t)rx->relayed));
    json_object_set_new(obj, "binary", json_integer((json_int_t)rx->binary));
    json_object_set_new(obj, "bytes", json_integer((json_int_t)rx->bytes));
    json_object_set_new(obj, "first_seq",
                        rx->first_seq < 0 ? json_null() : json_integer(rx->first_seq));
    json_object_set_new(obj, "last_seq",
                        rx->last_seq < 0 ? json_null() : json_integer(rx->last_seq));
    json_object_set_new(obj, "gaps", json_integer((json_int_t)rx->gaps));
    json_object_set_new(obj, "order_errors", json_integer((json_int_t)rx->order_errors));
    json_object_set_new(obj, "history", json_integer((json_int_t)rx->history));
    json_object_set_new(obj, "history_late", json_integer((json_int_t)rx->history_late));
    json_object_set_new(obj, "history_ms",
                        rx->history
                            ? json_real((double)(rx->history_done_us - rx->open_us) / 1000.0)
                            : json_null());
    json_object_set_new(obj, "error_frames", json_integer((json_int_t)rx->error_frames));
    json_object_set_new(obj, "errors", errors);
}
