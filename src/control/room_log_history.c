/*
 * The room log's in-memory history and its record format (room_log.h).
 * Pure: the file side (room_log.c) reads and writes, this decides what the
 * bytes mean. Both replay and append go through one check, so a record the
 * replay accepts is exactly a record an append could have written.
 */
#include <string.h>

#include "control/room_log.h"
#include "proto/wire.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define FRAME_HEADER_LEN 8   /* length + crc */
#define PAYLOAD_FIXED_LEN 20 /* type, kind, from_len, seq, ts_ms */
#define PAYLOAD_MAX_LEN (PAYLOAD_FIXED_LEN + WEIR_ROOM_LOG_FROM_MAX + WEIR_ROOM_LOG_DATA_MAX)
#define FORMAT_VERSION 1

enum { RECORD_MSG = 1, RECORD_BASE = 2 };

static const uint8_t MAGIC[WEIR_ROOM_LOG_HEADER_LEN] = {'W', 'E', 'I', 'R',
                                                        'L', 'O', 'G', FORMAT_VERSION};

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78): the iSCSI/ext4 CRC. */
static const uint32_t CRC32C_TABLE[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        crc = CRC32C_TABLE[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* One entry in one allocation: the public struct, then "from\0data\0". */
typedef struct stored {
    weir_room_log_entry e;
    uint32_t record_len;
    char bytes[];
} stored;

/* A deque of entries, oldest at head; evicted slots before head are reclaimed by sliding down. */
typedef struct kind_hist {
    /* owned: */
    stored **items;
    /* state: */
    size_t head, count, cap;
    uint64_t next_seq;
    uint64_t live_bytes; /* record sizes of the live entries */
    uint32_t max;        /* 0 = unlimited */
} kind_hist;

struct weir_room_log_history {
    kind_hist kinds[WEIR_ROOM_LOG_KINDS];
};

weir_room_log_history *weir_room_log_history_create(const uint32_t max_entries[])
{
    weir_room_log_history *h = WEIR_NEW(weir_room_log_history);
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++) {
        h->kinds[k].next_seq = WEIR_ROOM_LOG_FIRST_SEQ;
        h->kinds[k].max = max_entries ? max_entries[k] : 0;
    }
    return h;
}

static void kind_empty(kind_hist *k)
{
    for (size_t i = 0; i < k->count; i++)
        weir_free(k->items[k->head + i]);
    k->head = k->count = 0;
    k->live_bytes = 0;
}

void weir_room_log_history_destroy(weir_room_log_history *h)
{
    if (!h)
        return;
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++) {
        kind_empty(&h->kinds[k]);
        weir_free(h->kinds[k].items);
    }
    weir_free(h);
}

/* ---- records ---- */

size_t weir_room_log_header_write(uint8_t *out)
{
    memcpy(out, MAGIC, sizeof MAGIC);
    return sizeof MAGIC;
}

size_t weir_room_log_msg_size(const weir_room_log_entry *entry)
{
    return FRAME_HEADER_LEN + PAYLOAD_FIXED_LEN + (size_t)entry->from_len + entry->data_len;
}

static size_t record_write(uint8_t *out, uint8_t type, weir_room_log_kind kind, uint64_t seq,
                           int64_t ts_ms, const weir_room_log_entry *entry)
{
    size_t from_len = entry ? entry->from_len : 0, data_len = entry ? entry->data_len : 0;
    size_t payload_len = PAYLOAD_FIXED_LEN + from_len + data_len;
    uint8_t *p = out + FRAME_HEADER_LEN;
    p[0] = type;
    p[1] = (uint8_t)kind;
    weir_wire_put16(p + 2, (uint16_t)from_len);
    weir_wire_put64(p + 4, seq);
    weir_wire_put64(p + 12, (uint64_t)ts_ms);
    if (from_len)
        memcpy(p + PAYLOAD_FIXED_LEN, entry->from, from_len);
    if (data_len)
        memcpy(p + PAYLOAD_FIXED_LEN + from_len, entry->data, data_len);
    weir_wire_put32(out, (uint32_t)payload_len);
    weir_wire_put32(out + 4, crc32c(p, payload_len));
    return FRAME_HEADER_LEN + payload_len;
}

size_t weir_room_log_msg_write(uint8_t *out, weir_room_log_kind kind,
                               const weir_room_log_entry *entry)
{
    return record_write(out, RECORD_MSG, kind, entry->seq, entry->ts_ms, entry);
}

size_t weir_room_log_base_write(uint8_t *out, weir_room_log_kind kind, uint64_t next_seq,
                                int64_t ts_ms)
{
    return record_write(out, RECORD_BASE, kind, next_seq, ts_ms, NULL);
}

/* ---- history ---- */

int weir_room_log_history_check(const weir_room_log_history *h, weir_room_log_kind kind,
                                const weir_room_log_entry *entry)
{
    if ((unsigned)kind >= WEIR_ROOM_LOG_KINDS)
        return -WEIR_EINVAL;
    if (entry->from_len > WEIR_ROOM_LOG_FROM_MAX || entry->data_len > WEIR_ROOM_LOG_DATA_MAX)
        return -WEIR_ETOOBIG;
    if ((entry->from_len && !entry->from) || (entry->data_len && !entry->data))
        return -WEIR_EINVAL;
    /* ids are C strings everywhere else; a NUL inside one would cut it short there */
    if (entry->from_len && memchr(entry->from, '\0', entry->from_len))
        return -WEIR_EINVAL;
    /* seqs only go up; UINT64_MAX is refused so next_seq cannot wrap */
    if (entry->seq < h->kinds[kind].next_seq || entry->seq == UINT64_MAX)
        return -WEIR_EINVAL;
    return 0;
}

static void kind_make_room(kind_hist *k)
{
    if (k->head + k->count < k->cap)
        return;
    if (k->head > k->count) {
        /* at least half the array is evicted slots: slide down, amortised O(1) */
        memmove(k->items, k->items + k->head, k->count * sizeof *k->items);
        k->head = 0;
        return;
    }
    k->cap = k->cap ? k->cap * 2 : 16;
    k->items = weir_realloc(k->items, k->cap * sizeof *k->items);
}

static void kind_evict_oldest(kind_hist *k)
{
    stored *s = k->items[k->head];
    k->live_bytes -= s->record_len;
    weir_free(s);
    k->head++;
    k->count--;
}

int weir_room_log_history_push(weir_room_log_history *h, weir_room_log_kind kind,
                               const weir_room_log_entry *entry)
{
    int rc = weir_room_log_history_check(h, kind, entry);
    if (rc < 0)
        return rc;
    kind_hist *k = &h->kinds[kind];
    stored *s = weir_malloc(sizeof *s + (size_t)entry->from_len + entry->data_len + 2);
    char *from = s->bytes;
    uint8_t *data = (uint8_t *)s->bytes + entry->from_len + 1;
    if (entry->from_len)
        memcpy(from, entry->from, entry->from_len);
    from[entry->from_len] = '\0';
    if (entry->data_len)
        memcpy(data, entry->data, entry->data_len);
    data[entry->data_len] = '\0';
    s->e = *entry;
    s->e.from = from;
    s->e.data = data;
    s->record_len = (uint32_t)weir_room_log_msg_size(entry);

    kind_make_room(k);
    k->items[k->head + k->count++] = s;
    k->live_bytes += s->record_len;
    k->next_seq = entry->seq + 1;
    if (k->max && k->count > k->max)
        kind_evict_oldest(k);
    return 0;
}

int weir_room_log_history_reset(weir_room_log_history *h, weir_room_log_kind kind,
                                uint64_t next_seq)
{
    if ((unsigned)kind >= WEIR_ROOM_LOG_KINDS || next_seq < h->kinds[kind].next_seq)
        return -WEIR_EINVAL;
    kind_empty(&h->kinds[kind]);
    h->kinds[kind].next_seq = next_seq;
    return 0;
}

size_t weir_room_log_history_count(const weir_room_log_history *h, weir_room_log_kind kind)
{
    return (unsigned)kind < WEIR_ROOM_LOG_KINDS ? h->kinds[kind].count : 0;
}

const weir_room_log_entry *weir_room_log_history_at(const weir_room_log_history *h,
                                                    weir_room_log_kind kind, size_t i)
{
    if ((unsigned)kind >= WEIR_ROOM_LOG_KINDS || i >= h->kinds[kind].count)
        return NULL;
    const kind_hist *k = &h->kinds[kind];
    return &k->items[k->head + i]->e;
}

uint64_t weir_room_log_history_next_seq(const weir_room_log_history *h, weir_room_log_kind kind)
{
    return (unsigned)kind < WEIR_ROOM_LOG_KINDS ? h->kinds[kind].next_seq : 0;
}

/* ---- snapshot and replay ---- */

size_t weir_room_log_history_serialize(const weir_room_log_history *h, uint8_t *out, size_t cap)
{
    size_t need = WEIR_ROOM_LOG_HEADER_LEN;
    for (int i = 0; i < WEIR_ROOM_LOG_KINDS; i++)
        need += WEIR_ROOM_LOG_BASE_LEN + h->kinds[i].live_bytes;
    if (!out || cap < need)
        return need;

    uint8_t *p = out + weir_room_log_header_write(out);
    for (int i = 0; i < WEIR_ROOM_LOG_KINDS; i++) {
        const kind_hist *k = &h->kinds[i];
        /* the BASE carries the first live seq so that next_seq survives eviction and clears */
        uint64_t base = k->count ? k->items[k->head]->e.seq : k->next_seq;
        p += weir_room_log_base_write(p, (weir_room_log_kind)i, base, 0);
        for (size_t j = 0; j < k->count; j++)
            p += weir_room_log_msg_write(p, (weir_room_log_kind)i, &k->items[k->head + j]->e);
    }
    return need;
}

/* 1: a whole valid header; 0: empty or a cut-short header (a crash at creation); < 0: not ours. */
static int header_check(const uint8_t *buf, size_t len)
{
    if (len < sizeof MAGIC)
        return len == 0 || memcmp(buf, MAGIC, len) == 0 ? 0 : -WEIR_EINVAL;
    if (memcmp(buf, MAGIC, sizeof MAGIC - 1) != 0 || buf[sizeof MAGIC - 1] == 0)
        return -WEIR_EINVAL;
    if (buf[sizeof MAGIC - 1] > FORMAT_VERSION)
        return -WEIR_EUNSUPPORTED;
    return 1;
}

/* Applies the record at p; END when it was valid (*rec_len set), else why the replay stops. */
static weir_room_log_stop apply_record(weir_room_log_history *h, const uint8_t *p, size_t avail,
                                       size_t *rec_len)
{
    if (avail < FRAME_HEADER_LEN)
        return WEIR_ROOM_LOG_STOP_TORN;
    uint32_t len = weir_wire_get32(p);
    if (len < PAYLOAD_FIXED_LEN || len > PAYLOAD_MAX_LEN)
        return WEIR_ROOM_LOG_STOP_CORRUPT;
    if (avail - FRAME_HEADER_LEN < len)
        return WEIR_ROOM_LOG_STOP_TORN;
    const uint8_t *q = p + FRAME_HEADER_LEN;
    if (crc32c(q, len) != weir_wire_get32(p + 4))
        return WEIR_ROOM_LOG_STOP_CORRUPT;

    uint8_t type = q[0];
    weir_room_log_kind kind = (weir_room_log_kind)q[1];
    uint16_t from_len = weir_wire_get16(q + 2);
    uint64_t seq = weir_wire_get64(q + 4);
    int rc = -WEIR_EINVAL;
    if (type == RECORD_BASE && len == PAYLOAD_FIXED_LEN && from_len == 0) {
        rc = weir_room_log_history_reset(h, kind, seq);
    } else if (type == RECORD_MSG && from_len <= len - PAYLOAD_FIXED_LEN) {
        weir_room_log_entry e = {
            .seq = seq,
            .ts_ms = (int64_t)weir_wire_get64(q + 12),
            .from = (const char *)q + PAYLOAD_FIXED_LEN,
            .from_len = from_len,
            .data = q + PAYLOAD_FIXED_LEN + from_len,
            .data_len = len - PAYLOAD_FIXED_LEN - from_len,
        };
        rc = weir_room_log_history_push(h, kind, &e);
    }
    if (rc < 0)
        return WEIR_ROOM_LOG_STOP_CORRUPT;
    *rec_len = FRAME_HEADER_LEN + len;
    return WEIR_ROOM_LOG_STOP_END;
}

int weir_room_log_history_replay(weir_room_log_history *h, const uint8_t *buf, size_t len,
                                 weir_room_log_replay *out)
{
    int rc = header_check(buf, len);
    if (rc < 0)
        return rc;
    weir_room_log_replay r = {0};
    size_t off = rc == 1 ? WEIR_ROOM_LOG_HEADER_LEN : 0;
    if (rc == 0 && len > 0)
        r.stop = WEIR_ROOM_LOG_STOP_TORN;
    while (rc == 1 && off < len) {
        size_t rec_len = 0;
        r.stop = apply_record(h, buf + off, len - off, &rec_len);
        if (r.stop != WEIR_ROOM_LOG_STOP_END)
            break;
        off += rec_len;
        r.records++;
    }
    r.accepted_bytes = off;
    r.dropped_bytes = len - off;
    *out = r;
    return 0;
}
