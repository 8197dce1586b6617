/*
 * shell/udp_egress against real sockets: UDP on 127.0.0.1 for the GSO and
 * the plain path (what arrives must be the batch, complete, in order,
 * byte-equal), a unix datagram socket nobody reads for the "socket full"
 * path (loopback UDP never fills: the sender's buffer is released on
 * delivery), and a descriptor that is not a socket for errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shell/udp_egress.h"
#include "weir/errors.h"

#define MAXN 200

typedef struct batch {
    uint8_t data[MAXN][1500];
    const uint8_t *bufs[MAXN];
    size_t lens[MAXN];
    size_t n;
} batch;

/* Each datagram gets distinct content: its index and a per-index pattern. */
static void add(batch *b, size_t len)
{
    size_t i = b->n++;
    for (size_t k = 0; k < len; k++)
        b->data[i][k] = (uint8_t)(i * 31 + k * 7 + (k >> 8));
    b->data[i][0] = (uint8_t)i;
    b->bufs[i] = b->data[i];
    b->lens[i] = len;
}

static int udp_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    cr_assert(fd >= 0);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

/* Reads count datagrams and checks each against b, in order. */
static void expect_received(int fd, const batch *b, size_t count)
{
    static uint8_t got[65536];
    for (size_t i = 0; i < count; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_eq(poll(&p, 1, 2000), 1, "datagram %zu of %zu never arrived", i, count);
        ssize_t r = recv(fd, got, sizeof got, 0);
        cr_assert_eq(r, (ssize_t)b->lens[i], "datagram %zu: %zd bytes, sent %zu", i, r, b->lens[i]);
        cr_assert_eq(memcmp(got, b->data[i], b->lens[i]), 0, "datagram %zu differs", i);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 100), 0, "more datagrams than sent");
}

/* A forwarded video frame (5 full + a shorter last), audio, a second frame. */
static void mixed_batch(batch *b)
{
    b->n = 0;
    for (int i = 0; i < 5; i++)
        add(b, 1100);
    add(b, 700);
    add(b, 120);
    for (int i = 0; i < 3; i++)
        add(b, 1100);
}

static void send_mixed(bool gso, weir_udp_egress *e)
{
    static batch b;
    struct sockaddr_in rx_addr, tx_addr;
    int rx = udp_socket(&rx_addr), tx = udp_socket(&tx_addr);
    mixed_batch(&b);
    weir_udp_egress_init(e, gso);
    int rc = weir_udp_egress_send(e, tx, (struct sockaddr *)&rx_addr, sizeof rx_addr, b.bufs,
                                  b.lens, b.n);
    cr_assert_eq(rc, (int)b.n, "sent %d of %zu (errno %d)", rc, b.n, e->last_errno);
    expect_received(rx, &b, b.n);
    cr_assert_eq(e->stats.datagrams, b.n);
    cr_assert_eq(e->stats.dropped, 0);
    size_t bytes = 0;
    for (size_t i = 0; i < b.n; i++)
        bytes += b.lens[i];
    cr_assert_eq(e->stats.bytes, bytes);
    close(rx);
    close(tx);
}

Test(udp_egress, mixed_batch_arrives_in_order_in_fewer_calls_with_gso)
{
    if (!weir_udp_egress_kernel_gso())
        cr_skip_test("kernel without UDP_SEGMENT");
    weir_udp_egress e;
    send_mixed(true, &e);
    cr_assert(e.gso, "loopback accepts GSO");
    cr_assert_lt(e.stats.syscalls, e.stats.datagrams);
    /* 5x1100+700 and 3x1100 are runs, the 120-byte audio goes alone. */
    cr_assert_eq(e.stats.gso_runs, 2);
    cr_assert_eq(e.stats.gso_segments, 9);
    cr_assert_eq(e.stats.syscalls, 1, "runs and the single leave in one sendmmsg");
}

Test(udp_egress, forced_fallback_delivers_the_same_bytes)
{
    weir_udp_egress e;
    send_mixed(false, &e);
    cr_assert_not(e.gso);
    cr_assert_eq(e.stats.gso_runs, 0);
    cr_assert_eq(e.stats.gso_segments, 0);
    cr_assert_eq(e.stats.syscalls, 1, "one sendmmsg for the 10 datagrams");
}

Test(udp_egress, runs_respect_the_kernel_segment_and_byte_limits)
{
    if (!weir_udp_egress_kernel_gso())
        cr_skip_test("kernel without UDP_SEGMENT");
    static batch b;
    struct sockaddr_in rx_addr, tx_addr;
    int rx = udp_socket(&rx_addr), tx = udp_socket(&tx_addr);
    weir_udp_egress e;
    weir_udp_egress_init(&e, true);

    /* 130 x 100 bytes: chunks of 64, 64, 2, each one run (segment limit). */
    b.n = 0;
    for (int i = 0; i < 130; i++)
        add(&b, 100);
    cr_assert_eq(weir_udp_egress_send(&e, tx, (struct sockaddr *)&rx_addr, sizeof rx_addr, b.bufs,
                                      b.lens, b.n),
                 130);
    expect_received(rx, &b, b.n);
    cr_assert_eq(e.stats.gso_runs, 3);
    cr_assert_eq(e.stats.syscalls, 3);

    /* 60 x 1400 = 84000 bytes: split where a run would pass 65000 bytes. */
    memset(&e.stats, 0, sizeof e.stats);
    b.n = 0;
    for (int i = 0; i < 60; i++)
        add(&b, 1400);
    cr_assert_eq(weir_udp_egress_send(&e, tx, (struct sockaddr *)&rx_addr, sizeof rx_addr, b.bufs,
                                      b.lens, b.n),
                 60);
    expect_received(rx, &b, b.n);
    cr_assert_eq(e.stats.gso_runs, 2, "46 + 14 segments");
    cr_assert_eq(e.stats.gso_segments, 60);
    cr_assert_eq(e.stats.syscalls, 1);

    /* A longer datagram after a run starts a new one, never joins it. */
    memset(&e.stats, 0, sizeof e.stats);
    b.n = 0;
    add(&b, 500);
    add(&b, 500);
    add(&b, 900);
    add(&b, 900);
    add(&b, 40);
    add(&b, 40);
    cr_assert_eq(weir_udp_egress_send(&e, tx, (struct sockaddr *)&rx_addr, sizeof rx_addr, b.bufs,
                                      b.lens, b.n),
                 6);
    expect_received(rx, &b, b.n);
    cr_assert_eq(e.stats.gso_runs, 2, "500,500 | 900,900,40 | 40");
    cr_assert_eq(e.stats.gso_segments, 5);
    close(rx);
    close(tx);
}

Test(udp_egress, a_full_socket_drops_the_rest_and_counts_it)
{
    /* Unix datagram sockets refuse with EAGAIN once the reader's queue is
     * full (net.unix.max_dgram_qlen); GSO is a UDP feature, so off here. */
    static batch b;
    int rx = socket(AF_UNIX, SOCK_DGRAM, 0), tx = socket(AF_UNIX, SOCK_DGRAM, 0);
    cr_assert(rx >= 0 && tx >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    /* abstract name: nothing on disk */
    snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "weir-udp-egress-%d", (int)getpid());
    socklen_t alen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1));
    cr_assert_eq(bind(rx, (struct sockaddr *)&addr, alen), 0);
    weir_udp_egress e;
    weir_udp_egress_init(&e, false);
    b.n = 0;
    for (int i = 0; i < MAXN; i++)
        add(&b, 1000);
    int sent = 0, rc;
    /* Keep sending until the queue refuses (it holds far fewer than this). */
    for (int round = 0; round < 100; round++) {
        rc = weir_udp_egress_send(&e, tx, (struct sockaddr *)&addr, alen, b.bufs, b.lens, b.n);
        if (rc != (int)b.n)
            break;
        sent += rc;
    }
    cr_assert_neq(rc, (int)b.n, "the reader's queue never filled");
    cr_assert(rc == -WEIR_EAGAIN || rc >= 0, "rc=%d errno=%d", rc, e.last_errno);
    int part = rc > 0 ? rc : 0;
    cr_assert_eq(e.stats.eagain, 1);
    cr_assert_eq(e.stats.errors, 0);
    cr_assert_eq(e.stats.datagrams, (uint64_t)(sent + part));
    cr_assert_eq(e.stats.dropped, b.n - (size_t)part);
    /* What was accepted is in the queue in order: the last round's part. */
    (void)sent;
    if (sent == 0)
        expect_received(rx, &b, (size_t)part);
    close(rx);
    close(tx);
}

Test(udp_egress, errors_are_returned_and_counted)
{
    static batch b;
    b.n = 0;
    add(&b, 100);
    add(&b, 100);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
    weir_udp_egress e;
    weir_udp_egress_init(&e, true);
    int rc =
        weir_udp_egress_send(&e, fds[1], (struct sockaddr *)&dst, sizeof dst, b.bufs, b.lens, b.n);
    cr_assert_eq(rc, -WEIR_EIO);
    cr_assert_eq(e.last_errno, ENOTSOCK);
    cr_assert_eq(e.stats.dropped, 2);
    cr_assert_eq(e.stats.errors, 1);
    cr_assert_eq(e.stats.datagrams, 0);
    close(fds[0]);
    close(fds[1]);
    /* An empty batch is a no-op. */
    cr_assert_eq(
        weir_udp_egress_send(&e, -1, (struct sockaddr *)&dst, sizeof dst, b.bufs, b.lens, 0), 0);
}
