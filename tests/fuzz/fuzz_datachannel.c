/*
 * libFuzzer target for a room's data channels (control/datachannel_room.c)
 * and what it parses: the clients' text (datachannel_frame.c). The input
 * is a script of events from a few peers: opens with any label, messages
 * (text or binary, any role, any bytes), DRAINED with any sent_total,
 * closes, leaves, ticks, a command ring that fills up. Invariants checked
 * on everything the room queues:
 *   - every frame on a whiteboard/chat channel is one JSON object, either
 *     {"error":{...}} or a stamp whose seqs strictly increase per channel
 *     (history, queued and live messages interleaved as they may be);
 *   - nothing leaks or crashes (ASan), and the per-worker replay budget
 *     returns to zero once the room is destroyed.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "control/datachannel_room.h"
#include "weir/errors.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define PEERS 4
#define STREAMS 4

static const char *const labels[] = {"whiteboard", "chat", "cursor", ""};

static struct {
    uint64_t last_seq[PEERS][STREAMS];
    int kind[PEERS][STREAMS]; /* label index at open, -1 closed */
    uint64_t sent[PEERS][STREAMS];
    bool ring_full;
} st;

/* One frame for (peer_id, stream): an open channel, and for whiteboard/chat a stamped frame
 * with a seq above the last one that channel got (or an error frame). */
static void check_frame(uint64_t peer_id, uint16_t stream, bool binary, const uint8_t *data,
                        size_t len)
{
    CHECK(peer_id < PEERS && stream < STREAMS);
    int kind = st.kind[peer_id][stream];
    CHECK(kind >= 0);
    st.sent[peer_id][stream] += len;
    if (kind > 1)
        return; /* relayed as is */
    CHECK(!binary);
    /* JSON allows \u0000 in strings (a client's text may hold NULs); jansson needs the flag */
    json_t *v = json_loadb((const char *)data, len, JSON_ALLOW_NUL, NULL);
    CHECK(v && json_is_object(v));
    if (!json_object_get(v, "error")) {
        json_t *seq = json_object_get(v, "seq");
        CHECK(json_is_integer(seq) && json_object_get(v, "data"));
        uint64_t s = (uint64_t)json_integer_value(seq);
        CHECK(s > st.last_seq[peer_id][stream]);
        st.last_seq[peer_id][stream] = s;
    }
    json_decref(v);
}

static int on_send(void *user, const weir_dc_peer *peer, uint16_t stream, bool binary,
                   const uint8_t *data, size_t len)
{
    (void)user;
    if (st.ring_full)
        return -WEIR_EAGAIN;
    check_frame(peer->peer_id, stream, binary, data, len);
    return 0;
}

static int on_fanout(void *user, int worker, const weir_dc_target *targets, size_t n, bool binary,
                     const uint8_t *data, size_t len)
{
    (void)user;
    (void)worker;
    if (st.ring_full)
        return -WEIR_EAGAIN;
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++)
        check_frame(targets[i].peer_id, targets[i].stream, binary, data, len);
    return 0;
}

static int on_close(void *user, const weir_dc_peer *peer, uint16_t stream, const char *reason)
{
    (void)user;
    (void)peer;
    (void)stream;
    CHECK(reason && reason[0]);
    return st.ring_full ? -WEIR_EAGAIN : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
    memset(&st, 0, sizeof st);
    memset(st.kind, 0xff, sizeof st.kind);
    weir_dc_stats stats = {0};
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.replay_window_msgs = 3;
    lim.replay_worker_msgs = 5;
    lim.max_backlog = 4096;
    lim.max_message_size = 2048;
    lim.history_cap[WEIR_ROOM_LOG_CHAT] = 4;
    weir_room_log_config cfg;
    weir_room_log_config_defaults(&cfg);
    cfg.max_entries[WEIR_ROOM_LOG_CHAT] = 4;
    weir_dc_io io = {.send = on_send, .fanout = on_fanout, .close = on_close};
    weir_dc_room *r = weir_dc_room_create("fuzz", weir_room_log_create(&cfg, "fuzz", 0, NULL, NULL),
                                          &lim, &io, &stats);
    size_t i = 0;
    int64_t now = 0;
    while (i + 2 <= len) {
        uint8_t op = buf[i], arg = buf[i + 1];
        i += 2;
        uint64_t peer = arg % PEERS;
        uint16_t stream = (uint16_t)((arg >> 2) % STREAMS);
        weir_role role = (weir_role)((arg >> 4) % WEIR_ROLE_COUNT);
        now += 1000;
        switch (op % 7) {
        case 0: {
            weir_dc_peer p = {.peer_id = peer, .worker = (int)(peer % 2), .role = role};
            strcpy(p.participant, "p0");
            p.participant[1] = (char)('0' + peer);
            int label = (arg >> 6) % 4;
            st.kind[peer][stream] = label;
            st.last_seq[peer][stream] = 0;
            weir_dc_room_open(r, &p, stream, labels[label]);
            break;
        }
        case 1:
        case 2: { /* a message: the next n bytes of the input */
            size_t n = i < len ? buf[i++] : 0;
            if (n > len - i)
                n = len - i;
            (void)weir_dc_room_message(r, peer, role, stream, op % 7 == 2, buf + i, n, now, now);
            i += n;
            break;
        }
        case 3:
            weir_dc_room_drained(r, peer, stream,
                                 op & 0x80 ? st.sent[peer][stream] : (uint64_t)arg * 37);
            break;
        case 4:
            weir_dc_room_closed(r, peer, stream);
            st.kind[peer][stream] = -1;
            break;
        case 5:
            weir_dc_room_peer_gone(r, peer);
            for (int s = 0; s < STREAMS; s++)
                st.kind[peer][s] = -1;
            break;
        case 6:
            st.ring_full = arg & 1;
            (void)weir_dc_room_tick(r, now);
            break;
        }
    }
    weir_dc_room_destroy(r);
    for (int w = 0; w < WEIR_DC_MAX_WORKERS; w++)
        CHECK(stats.replay_inflight[w] == 0);
    return 0;
}
