/*
 * libFuzzer target for shell/sctp.c: two real usrsctp associations joined
 * back to back (a = DTLS client, b = server), connected with one channel
 * open, then driven by the input. The input is a list of records
 *
 *   kind (1 byte) | length (2 bytes, big endian) | body
 *
 * kind % 4 == 0: body is an SCTP packet given to b as if it came out of
 *                DTLS (garbage, truncated, or a mutated real one);
 *          == 1: body = stream (1 byte, mod 8) | PPID selector (1 byte:
 *                PPID 48 + n % 12, so DCEP 50, text/binary 51/53, the
 *                deprecated partials 52/54, empty 56/57 and unknown ones)
 *                | payload: sent raw by a, so b parses it as DCEP or data;
 *          == 2: a sends body on the open channel (text or binary by size);
 *          == 3: packets are exchanged and the timers run body[0] ticks.
 *
 * b must never crash or leak whatever it gets; events are drained and
 * checked for sanity (message lengths within b's limit).
 */
#include <stdlib.h>
#include <string.h>

#include "shell/sctp.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define B_MAX_MESSAGE 4096

static int64_t now_us = 1000000;

static weir_sctp *make(bool client, uint32_t max_msg)
{
    weir_sctp_config cfg = {
        .local_port = WEIR_SCTP_PORT,
        .remote_port = WEIR_SCTP_PORT,
        .max_message_size = max_msg,
        .remote_max_message_size = 65536,
        .max_buffered_per_channel = 65536,
        .dtls_client = client,
    };
    return weir_sctp_create(&cfg);
}

static void drain_events(weir_sctp *s)
{
    weir_sctp_event e;
    for (int i = 0; i < 10000 && weir_sctp_poll_event(s, &e) == 1; i++)
        if (e.type == WEIR_SCTP_EVENT_MESSAGE)
            CHECK(e.len <= B_MAX_MESSAGE || s == NULL);
}

static void move(weir_sctp *from, weir_sctp *to)
{
    uint8_t buf[1500];
    size_t len;
    for (int i = 0; i < 10000 && weir_sctp_poll_transmit(from, buf, sizeof buf, &len) == 1; i++) {
        CHECK(len <= WEIR_SCTP_MTU);
        weir_sctp_handle_packet(to, buf, len);
    }
}

static void exchange(weir_sctp *a, weir_sctp *b, int ticks)
{
    for (int i = 0; i < ticks + 3; i++) {
        move(a, b);
        move(b, a);
        drain_events(a);
        drain_events(b);
        now_us += 10000;
        weir_sctp_global_tick(now_us);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_sctp_global_init();
    weir_sctp *a = make(true, 0);
    weir_sctp *b = make(false, B_MAX_MESSAGE);
    if (!a || !b)
        abort();
    exchange(a, b, 2);
    uint16_t stream = 0;
    if (weir_sctp_open_channel(a, "fuzz", "", &stream) == 0)
        exchange(a, b, 1);
    size_t off = 0;
    while (off + 3 <= size) {
        uint8_t kind = data[off];
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        const uint8_t *body = data + off;
        off += len;
        switch (kind % 4) {
        case 0:
            weir_sctp_handle_packet(b, body, len);
            drain_events(b);
            break;
        case 1:
            if (len >= 3)
                (void)weir_sctp_send_raw(a, body[0] % 8, 48u + body[1] % 12u, body + 2, len - 2);
            break;
        case 2:
            (void)weir_sctp_send(a, stream, len % 2, body, len);
            break;
        case 3:
            exchange(a, b, len ? body[0] % 64 : 1);
            break;
        }
    }
    exchange(a, b, 3);
    weir_sctp_destroy(a);
    weir_sctp_destroy(b);
    return 0;
}
