/*
 * libFuzzer target for the room log's reader (control/room_log_history.c):
 * the input is a whole log file. Replay must never crash or read past the
 * input, must account for every byte (accepted + dropped), and what it
 * accepts must survive the trip through a snapshot: the accepted prefix
 * replays alone with nothing dropped, the history serializes into a file
 * that replays to the same history, and that file serializes back to the
 * same bytes. The chat cap comes from the input's length so caps get
 * exercised without spending input bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "control/room_log.h"
#include "weir/errors.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void same_history(const weir_room_log_history *a, const weir_room_log_history *b)
{
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++) {
        size_t n = weir_room_log_history_count(a, k);
        CHECK(n == weir_room_log_history_count(b, k));
        CHECK(weir_room_log_history_next_seq(a, k) == weir_room_log_history_next_seq(b, k));
        for (size_t i = 0; i < n; i++) {
            const weir_room_log_entry *x = weir_room_log_history_at(a, k, i);
            const weir_room_log_entry *y = weir_room_log_history_at(b, k, i);
            CHECK(x->seq == y->seq && x->ts_ms == y->ts_ms);
            CHECK(x->from_len == y->from_len && x->data_len == y->data_len);
            CHECK(memcmp(x->from, y->from, x->from_len) == 0 && x->from[x->from_len] == '\0');
            CHECK(memcmp(x->data, y->data, x->data_len) == 0 && x->data[x->data_len] == '\0');
        }
        CHECK(weir_room_log_history_at(a, k, n) == NULL);
    }
}

static weir_room_log_history *replay_whole(const uint32_t *max, const uint8_t *buf, size_t len)
{
    weir_room_log_history *h = weir_room_log_history_create(max);
    weir_room_log_replay r;
    CHECK(weir_room_log_history_replay(h, buf, len, &r) == 0);
    CHECK(r.accepted_bytes == len && r.dropped_bytes == 0 && r.stop == WEIR_ROOM_LOG_STOP_END);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t max[WEIR_ROOM_LOG_KINDS] = {0, (uint32_t)(size % 5)};
    weir_room_log_history *h = weir_room_log_history_create(max);
    weir_room_log_replay r;
    int rc = weir_room_log_history_replay(h, data, size, &r);
    if (rc < 0) {
        CHECK(rc == -WEIR_EINVAL || rc == -WEIR_EUNSUPPORTED);
        weir_room_log_history_destroy(h);
        return 0;
    }
    CHECK(r.accepted_bytes + r.dropped_bytes == size);
    CHECK((r.dropped_bytes == 0) == (r.stop == WEIR_ROOM_LOG_STOP_END));
    CHECK(r.accepted_bytes == 0 || r.accepted_bytes >= WEIR_ROOM_LOG_HEADER_LEN);

    weir_room_log_history *prefix = replay_whole(max, data, (size_t)r.accepted_bytes);
    same_history(h, prefix);
    weir_room_log_history_destroy(prefix);

    size_t n = weir_room_log_history_serialize(h, NULL, 0);
    uint8_t *snap = malloc(n), *again = malloc(n);
    CHECK(snap && again);
    CHECK(weir_room_log_history_serialize(h, snap, n) == n);
    CHECK(weir_room_log_history_serialize(h, snap, n - 1) == n); /* too small: nothing written */
    weir_room_log_history *h2 = replay_whole(max, snap, n);
    same_history(h, h2);
    CHECK(weir_room_log_history_serialize(h2, again, n) == n && memcmp(snap, again, n) == 0);

    free(snap);
    free(again);
    weir_room_log_history_destroy(h2);
    weir_room_log_history_destroy(h);
    return 0;
}
