/*
 * UDP egress with GSO, see udp_egress.h for what and why.
 *
 * One chunk (up to WEIR_UDP_EGRESS_CHUNK datagrams) becomes an array of
 * mmsghdr: a run of >= 2 datagrams is one message whose iovecs are the
 * run's datagrams and whose cmsg sets UDP_SEGMENT to the run's segment size
 * (the kernel cuts the concatenated payload every gso_size bytes, which
 * gives back exactly the original datagrams because all but the last have
 * that size); any other datagram is a message of its own. After a partial
 * sendmmsg the rest of the chunk is rebuilt from the first unsent datagram.
 */
#define WEIR_LOG_MODULE "shell.udp_egress"
#include "shell/udp_egress.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "weir/errors.h"
#include "weir/log.h"

/* -1 unknown, 0 no, 1 yes; shared by all worker threads. */
static atomic_int kernel_gso = -1;
/* The first refusal in the process is logged at info, later ones at debug. */
static atomic_bool refusal_logged = false;

bool weir_udp_egress_kernel_gso(void)
{
    int known = atomic_load_explicit(&kernel_gso, memory_order_relaxed);
    if (known >= 0)
        return known == 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false; /* out of descriptors: ask again next time */
    int val = 0;
    socklen_t len = sizeof val;
    /* Kernels before 4.18 answer ENOPROTOOPT. */
    bool yes = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &val, &len) == 0;
    int err = errno;
    close(fd);
    atomic_store_explicit(&kernel_gso, yes ? 1 : 0, memory_order_relaxed);
    if (!yes)
        WEIR_LOG_INFO("gso_unavailable reason=\"%s\" fallback=sendmmsg scope=process",
                      strerror(err));
    return yes;
}

void weir_udp_egress_init(weir_udp_egress *e, bool use_gso)
{
    memset(e, 0, sizeof *e);
    e->gso = use_gso && weir_udp_egress_kernel_gso();
}

typedef union gso_cmsg {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} gso_cmsg;

typedef struct chunk {
    struct iovec iov[WEIR_UDP_EGRESS_CHUNK];
    struct mmsghdr msg[WEIR_UDP_EGRESS_CHUNK];
    gso_cmsg ctl[WEIR_UDP_EGRESS_CHUNK];
    size_t segs[WEIR_UDP_EGRESS_CHUNK]; /* datagrams in each message */
} chunk;

/* Length of the run starting at lens[0] (1 = no run), within n datagrams. */
static size_t run_length(const size_t *lens, size_t n)
{
    size_t size = lens[0], total = size, k = 1;
    if (size == 0)
        return 1;
    while (k < n && k < WEIR_UDP_EGRESS_MAX_SEGMENTS && lens[k] == size &&
           total + size <= WEIR_UDP_EGRESS_MAX_RUN_BYTES) {
        total += size;
        k++;
    }
    /* A shorter datagram may close the run (the kernel's last segment). */
    if (k < n && k < WEIR_UDP_EGRESS_MAX_SEGMENTS && lens[k] > 0 && lens[k] < size &&
        total + lens[k] <= WEIR_UDP_EGRESS_MAX_RUN_BYTES)
        k++;
    return k;
}

/* Fills c with messages for datagrams [0, n) of bufs/lens; returns how many. */
static unsigned build(const weir_udp_egress *e, chunk *c, const struct sockaddr *dst,
                      socklen_t dst_len, const uint8_t *const *bufs, const size_t *lens, size_t n)
{
    unsigned m = 0;
    for (size_t i = 0; i < n; i++)
        c->iov[i] = (struct iovec){.iov_base = (void *)bufs[i], .iov_len = lens[i]};
    for (size_t i = 0; i < n; m++) {
        size_t k = e->gso ? run_length(lens + i, n - i) : 1;
        struct msghdr *h = &c->msg[m].msg_hdr;
        *h = (struct msghdr){
            .msg_name = (void *)dst,
            .msg_namelen = dst_len,
            .msg_iov = &c->iov[i],
            .msg_iovlen = k,
        };
        c->msg[m].msg_len = 0;
        if (k > 1) {
            memset(&c->ctl[m], 0, sizeof c->ctl[m]);
            h->msg_control = c->ctl[m].buf;
            h->msg_controllen = sizeof c->ctl[m].buf;
            struct cmsghdr *cm = CMSG_FIRSTHDR(h);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t gso_size = (uint16_t)lens[i];
            memcpy(CMSG_DATA(cm), &gso_size, sizeof gso_size);
        }
        c->segs[m] = k;
        i += k;
    }
    return m;
}

/* errno values with which the kernel refuses a GSO send it cannot do. */
static bool gso_refusal(int err)
{
    return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

static void refuse_gso(weir_udp_egress *e, int err)
{
    e->gso = false;
    e->stats.gso_refused++;
    bool expected = false;
    if (atomic_compare_exchange_strong(&refusal_logged, &expected, true))
        WEIR_LOG_INFO("gso_refused reason=\"%s\" fallback=sendmmsg scope=destination "
                      "(further refusals at debug)",
                      strerror(err));
    else
        WEIR_LOG_DEBUG("gso_refused reason=\"%s\"", strerror(err));
}

/*
 * Sends datagrams [0, n) (n <= CHUNK). Returns how many left, and sets *err
 * to the errno that stopped it early (0 when all left).
 */
static size_t send_chunk(weir_udp_egress *e, chunk *c, int fd, const struct sockaddr *dst,
                         socklen_t dst_len, const uint8_t *const *bufs, const size_t *lens,
                         size_t n, int *err)
{
    size_t done = 0;
    *err = 0;
    while (done < n) {
        unsigned m = build(e, c, dst, dst_len, bufs + done, lens + done, n - done);
        int r = sendmmsg(fd, c->msg, m, MSG_DONTWAIT);
        e->stats.syscalls++;
        if (r > 0) {
            for (int j = 0; j < r; j++) {
                size_t k = c->segs[j];
                if (k > 1) {
                    e->stats.gso_runs++;
                    e->stats.gso_segments += k;
                }
                for (size_t d = 0; d < k; d++)
                    e->stats.bytes += lens[done + d];
                e->stats.datagrams += k;
                done += k;
            }
            continue; /* a partial send: the next call reports why */
        }
        int why = r == 0 ? EAGAIN : errno; /* 0 is not documented; be safe */
        if (why == EINTR)
            continue;
        if (c->segs[0] > 1 && gso_refusal(why)) {
            refuse_gso(e, why); /* the same datagrams go again, one by one */
            continue;
        }
        *err = why;
        break;
    }
    return done;
}

int weir_udp_egress_send(weir_udp_egress *e, int fd, const struct sockaddr *dst, socklen_t dst_len,
                         const uint8_t *const *bufs, const size_t *lens, size_t n)
{
    chunk c; /* ~4.5 KB on the stack */
    size_t done = 0;
    int err = 0;
    while (done < n && err == 0) {
        size_t k = n - done < WEIR_UDP_EGRESS_CHUNK ? n - done : WEIR_UDP_EGRESS_CHUNK;
        done += send_chunk(e, &c, fd, dst, dst_len, bufs + done, lens + done, k, &err);
    }
    if (err == 0)
        return (int)done;
    e->stats.dropped += n - done;
    e->last_errno = err;
    bool full = err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
    if (full)
        e->stats.eagain++;
    else
        e->stats.errors++;
    if (done)
        return (int)done;
    return full ? -WEIR_EAGAIN : -WEIR_EIO;
}
