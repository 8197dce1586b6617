#include "rtc/pkt.h"

#include <string.h>

#include "weir/alloc.h"

static atomic_uint_fast64_t live_packets;

weir_pkt *weir_pkt_new(void)
{
    /* Not zeroing data[]: only the header fields must start clear. */
    weir_pkt *p = weir_malloc(sizeof *p);
    memset(p, 0, offsetof(weir_pkt, data));
    atomic_init(&p->refs, 1);
    atomic_fetch_add_explicit(&live_packets, 1, memory_order_relaxed);
    return p;
}

weir_pkt *weir_pkt_ref(weir_pkt *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void weir_pkt_unref(weir_pkt *p)
{
    if (!p)
        return;
    /* acq_rel: the freeing thread must see every write made before the other releases. */
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        atomic_fetch_sub_explicit(&live_packets, 1, memory_order_relaxed);
        weir_free(p);
    }
}

uint64_t weir_pkt_live(void)
{
    return atomic_load_explicit(&live_packets, memory_order_relaxed);
}
