/*
 * weir-impair: a UDP impairment proxy for tests on loopback, where `tc
 * netem` is not available. It stands between a client and a server:
 * datagrams from the client (the first source that writes to --listen) go
 * to --target from the proxy's own socket, replies go back to the client,
 * and each direction can lose, delay, jitter (which reorders) and
 * rate-limit packets. To ICE the proxy looks like a NAT: connectivity
 * checks pass through it and the server learns the proxy's address as a
 * peer-reflexive candidate.
 *
 *   weir-impair --listen 127.0.0.3:40000 --target 127.0.0.1:51234
 *               [--loss PCT] [--delay-ms MS] [--jitter-ms MS] [--rate-kbps KBPS]
 *               [--direction both|down|up] [--seed N] [--stats FILE]
 *
 * "down" is target → client (what a subscriber receives), "up" client →
 * target. On SIGTERM/SIGINT it writes counters as JSON to --stats (or
 * stderr) and exits 0. Deterministic for a given --seed and arrival order.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM 65536
#define QUEUE_MAX 8192

typedef struct held {
    int64_t release_us;
    uint64_t order; /* ties keep arrival order */
    size_t len;
    uint8_t *data;
} held;

typedef struct direction {
    const char *name;
    bool impaired;
    held queue[QUEUE_MAX]; /* binary min-heap on (release_us, order) */
    size_t n;
    int64_t rate_free_us; /* when the rate-limited link is next free */
    uint64_t in, out, lost, overflow;
} direction;

static struct {
    double loss_pct;
    int64_t delay_us, jitter_us;
    double rate_bps;
    uint64_t rng;
    uint64_t order;
} cfg = {.rng = 0x9e3779b97f4a7c15ull};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* xorshift64*: reproducible with --seed. */
static double uniform(void)
{
    cfg.rng ^= cfg.rng >> 12;
    cfg.rng ^= cfg.rng << 25;
    cfg.rng ^= cfg.rng >> 27;
    return (double)((cfg.rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static bool earlier(const held *a, const held *b)
{
    return a->release_us < b->release_us || (a->release_us == b->release_us && a->order < b->order);
}

static void heap_push(direction *d, held h)
{
    size_t i = d->n++;
    d->queue[i] = h;
    while (i > 0 && earlier(&d->queue[i], &d->queue[(i - 1) / 2])) {
        held t = d->queue[i];
        d->queue[i] = d->queue[(i - 1) / 2];
        d->queue[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static held heap_pop(direction *d)
{
    held top = d->queue[0];
    d->queue[0] = d->queue[--d->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < d->n && earlier(&d->queue[l], &d->queue[m]))
            m = l;
        if (r < d->n && earlier(&d->queue[r], &d->queue[m]))
            m = r;
        if (m == i)
            break;
        held t = d->queue[i];
        d->queue[i] = d->queue[m];
        d->queue[m] = t;
        i = m;
    }
    return top;
}

/* Decides a datagram's fate: dropped, or held until its release time. */
static void admit(direction *d, const uint8_t *buf, size_t len, int64_t t)
{
    d->in++;
    int64_t release = t;
    if (d->impaired) {
        if (uniform() * 100.0 < cfg.loss_pct) {
            d->lost++;
            return;
        }
        if (cfg.rate_bps > 0) {
            int64_t start = d->rate_free_us > t ? d->rate_free_us : t;
            d->rate_free_us = start + (int64_t)((double)len * 8.0 * 1e6 / cfg.rate_bps);
            release = d->rate_free_us;
        }
        release += cfg.delay_us;
        if (cfg.jitter_us > 0)
            release += (int64_t)(uniform() * (double)cfg.jitter_us);
    }
    if (d->n == QUEUE_MAX) {
        d->overflow++;
        return;
    }
    held h = {
        .release_us = release, .order = cfg.order++, .len = len, .data = malloc(len ? len : 1)};
    if (!h.data)
        abort();
    memcpy(h.data, buf, len);
    heap_push(d, h);
}

static void release_due(direction *d, int fd, const struct sockaddr_in *to, bool have_to, int64_t t)
{
    while (d->n && d->queue[0].release_us <= t) {
        held h = heap_pop(d);
        if (have_to && sendto(fd, h.data, h.len, 0, (const struct sockaddr *)to, sizeof *to) >= 0)
            d->out++;
        free(h.data);
    }
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: weir-impair --listen IP:PORT --target IP:PORT [--loss PCT] "
                    "[--delay-ms MS] [--jitter-ms MS] [--rate-kbps KBPS] "
                    "[--direction both|down|up] [--seed N] [--stats FILE]\n");
}

static void write_stats(const char *path, const direction *up, const direction *down)
{
    FILE *f = path ? fopen(path, "w") : stderr;
    if (!f)
        f = stderr;
    const direction *dirs[2] = {up, down};
    fprintf(f, "{");
    for (int i = 0; i < 2; i++)
        fprintf(f, "%s\"%s\":{\"in\":%llu,\"out\":%llu,\"lost\":%llu,\"overflow\":%llu}",
                i ? "," : "", dirs[i]->name, (unsigned long long)dirs[i]->in,
                (unsigned long long)dirs[i]->out, (unsigned long long)dirs[i]->lost,
                (unsigned long long)dirs[i]->overflow);
    fprintf(f, "}\n");
    if (f != stderr)
        fclose(f);
}

int main(int argc, char **argv)
{
    static direction up = {.name = "up"}, down = {.name = "down"};
    struct sockaddr_in listen_addr, target;
    bool have_listen = false, have_target = false;
    const char *direction_arg = "both", *stats_path = NULL;
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},
        {"target", required_argument, 0, 't'},
        {"loss", required_argument, 0, 'p'},
        {"delay-ms", required_argument, 0, 'd'},
        {"jitter-ms", required_argument, 0, 'j'},
        {"rate-kbps", required_argument, 0, 'r'},
        {"direction", required_argument, 0, 'D'},
        {"seed", required_argument, 0, 's'},
        {"stats", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'l':
            have_listen = parse_addr(optarg, &listen_addr) == 0;
            break;
        case 't':
            have_target = parse_addr(optarg, &target) == 0;
            break;
        case 'p':
            cfg.loss_pct = atof(optarg);
            break;
        case 'd':
            cfg.delay_us = (int64_t)(atof(optarg) * 1000);
            break;
        case 'j':
            cfg.jitter_us = (int64_t)(atof(optarg) * 1000);
            break;
        case 'r':
            cfg.rate_bps = atof(optarg) * 1000;
            break;
        case 'D':
            direction_arg = optarg;
            break;
        case 's':
            cfg.rng = strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
            break;
        case 'S':
            stats_path = optarg;
            break;
        default:
            usage();
            return c == 'h' ? 0 : 2;
        }
    }
    if (!have_listen || !have_target || cfg.loss_pct < 0 || cfg.loss_pct > 100) {
        usage();
        return 2;
    }
    up.impaired = strcmp(direction_arg, "down") != 0;
    down.impaired = strcmp(direction_arg, "up") != 0;
    int client_fd = socket(AF_INET, SOCK_DGRAM, 0);
    int server_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (client_fd < 0 || server_fd < 0 ||
        bind(client_fd, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0) {
        fprintf(stderr, "weir-impair: cannot bind: %s\n", strerror(errno));
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready\n");
    fflush(stdout);
    struct sockaddr_in client;
    bool have_client = false;
    static uint8_t buf[MAX_DATAGRAM];
    while (!stop_requested) {
        int64_t t = now_us(), next = t + 100000;
        if (up.n && up.queue[0].release_us < next)
            next = up.queue[0].release_us;
        if (down.n && down.queue[0].release_us < next)
            next = down.queue[0].release_us;
        struct pollfd p[2] = {{.fd = client_fd, .events = POLLIN},
                              {.fd = server_fd, .events = POLLIN}};
        int wait_ms = next > t ? (int)((next - t + 999) / 1000) : 0;
        if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
            break;
        t = now_us();
        if (p[0].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(client_fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n >= 0) {
                client = from;
                have_client = true;
                admit(&up, buf, (size_t)n, t);
            }
        }
        if (p[1].revents & POLLIN) {
            ssize_t n = recv(server_fd, buf, sizeof buf, 0);
            if (n >= 0)
                admit(&down, buf, (size_t)n, t);
        }
        release_due(&up, server_fd, &target, true, t);
        release_due(&down, client_fd, &client, have_client, t);
    }
    write_stats(stats_path, &up, &down);
    return 0;
}
