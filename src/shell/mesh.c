#define WEIR_LOG_MODULE "shell.mesh"
#include "shell/mesh.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/ring.h"
#include "weir/alloc.h"
#include "weir/log.h"

struct weir_mesh {
    int n;
    weir_ring **rings; /* [from * n + to]; NULL on the diagonal */
    int *fds;          /* per worker */
};

weir_mesh *weir_mesh_create(int n_workers)
{
    if (n_workers < 1 || n_workers > WEIR_MESH_MAX_WORKERS)
        return NULL;
    weir_mesh *m = WEIR_NEW(weir_mesh);
    m->n = n_workers;
    m->rings = weir_calloc((size_t)n_workers * (size_t)n_workers, sizeof *m->rings);
    m->fds = weir_calloc((size_t)n_workers, sizeof *m->fds);
    for (int i = 0; i < n_workers; i++)
        m->fds[i] = -1;
    for (int i = 0; i < n_workers; i++) {
        m->fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->fds[i] < 0) {
            WEIR_LOG_ERROR("eventfd_failed errno=%d", errno);
            weir_mesh_destroy(m);
            return NULL;
        }
        for (int j = 0; j < n_workers; j++)
            if (i != j)
                m->rings[i * n_workers + j] = weir_ring_create(WEIR_MESH_RING_SIZE);
    }
    return m;
}

void weir_mesh_destroy(weir_mesh *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n * m->n; i++) {
        if (!m->rings[i])
            continue;
        weir_pkt *p;
        while ((p = weir_ring_pop(m->rings[i])))
            weir_pkt_unref(p);
        weir_ring_destroy(m->rings[i]);
    }
    for (int i = 0; i < m->n; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    weir_free(m->rings);
    weir_free(m->fds);
    weir_free(m);
}

int weir_mesh_size(const weir_mesh *m)
{
    return m->n;
}

bool weir_mesh_push(weir_mesh *m, int from, int to, weir_pkt *p)
{
    return weir_ring_push(m->rings[from * m->n + to], p);
}

void weir_mesh_wake(weir_mesh *m, int to)
{
    uint64_t one = 1;
    ssize_t unused = write(m->fds[to], &one, sizeof one);
    (void)unused;
}

weir_pkt *weir_mesh_pop(weir_mesh *m, int from, int to)
{
    return weir_ring_pop(m->rings[from * m->n + to]);
}

int weir_mesh_fd(const weir_mesh *m, int worker)
{
    return m->fds[worker];
}
