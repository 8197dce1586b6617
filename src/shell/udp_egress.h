/**
 * UDP egress: sends a batch of datagrams to one destination on a UDP socket
 * in as few system calls as the kernel allows, never blocking.
 *
 * Consecutive datagrams of equal size (the last of a run may be shorter) are
 * coalesced into one UDP GSO "super-datagram" (UDP_SEGMENT, Linux >= 4.18):
 * one route lookup and one skb through the stack for the whole run, split
 * into the original datagrams at the bottom of the stack. A forwarded video
 * frame (5 full packets + a shorter last one) becomes one run. Runs and the
 * datagrams that fit no run leave together, in order, in one sendmmsg (the
 * kernel honours a per-message UDP_SEGMENT cmsg in sendmmsg too).
 *
 * Fallback to plain sendmmsg (one mmsghdr per datagram):
 *  - per process, when the kernel does not know UDP_SEGMENT (probed once
 *    with getsockopt: on an old kernel a cmsg it ignores would send the
 *    whole run as ONE big datagram, so we must know before using it);
 *  - per egress object, permanently, when the kernel refuses a GSO send
 *    (EIO: no checksum offload or IPsec on the route; EINVAL: a segment
 *    over the path MTU; ENOPROTOOPT/EOPNOTSUPP): the reasons belong to the
 *    route and device of one destination, so one peer behind such a route
 *    must not disable GSO for the others. The refused run is re-sent
 *    without GSO, so nothing is lost. Logged at info once per process.
 *
 * EAGAIN or ENOBUFS (socket or device queue full) drops the rest of the
 * batch: counted, never logged per packet. Not thread-safe: one object per
 * sending thread.
 */
#ifndef WEIR_SHELL_UDP_EGRESS_H
#define WEIR_SHELL_UDP_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Kernel limits for one GSO send: UDP_MAX_SEGMENTS is 64 before Linux 6.11
 * (128 after), and the whole run must fit one IP datagram (64 KiB minus the
 * headers); 65000 leaves room for IPv4/IPv6 + UDP headers. */
#define WEIR_UDP_EGRESS_MAX_SEGMENTS 64
#define WEIR_UDP_EGRESS_MAX_RUN_BYTES 65000
/* Datagrams handled per system call; larger batches loop. */
#define WEIR_UDP_EGRESS_CHUNK 64

typedef struct weir_udp_egress_stats {
    uint64_t datagrams;    /* accepted by the kernel */
    uint64_t bytes;        /* payload bytes of those */
    uint64_t dropped;      /* not sent: socket full or an error */
    uint64_t syscalls;     /* sendmmsg calls made (successful or not) */
    uint64_t gso_runs;     /* messages sent with UDP_SEGMENT */
    uint64_t gso_segments; /* datagrams inside those runs */
    uint64_t eagain;       /* batches cut short by a full socket */
    uint64_t errors;       /* batches cut short by another error */
    uint64_t gso_refused;  /* GSO sends the kernel refused (then fallback) */
} weir_udp_egress_stats;

typedef struct weir_udp_egress {
    bool gso; /* may try GSO: false when forced off or after a refusal */
    int last_errno;
    weir_udp_egress_stats stats;
} weir_udp_egress;

/** use_gso = false forces plain sendmmsg (tests, or a deployment switch). */
void weir_udp_egress_init(weir_udp_egress *e, bool use_gso);

/**
 * Sends n datagrams (bufs[i], lens[i] borrowed) to dst on the UDP socket fd,
 * in order, with MSG_DONTWAIT. Returns how many were sent from the front
 * (the rest are counted as dropped), or, when none was sent, -WEIR_EAGAIN
 * (socket full) or -WEIR_EIO (any other error; errno in last_errno).
 */
int weir_udp_egress_send(weir_udp_egress *e, int fd, const struct sockaddr *dst, socklen_t dst_len,
                         const uint8_t *const *bufs, const size_t *lens, size_t n);

/** Whether this kernel supports UDP GSO (probed once per process). */
bool weir_udp_egress_kernel_gso(void);

#endif
