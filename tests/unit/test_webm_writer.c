/*
 * plugins/recorder/webm_writer.c: frames are written into memory and the
 * bytes are read back with a small EBML reader written here from RFC 8794
 * (element ID and size varints), independent of the writer's encoder. The
 * checks follow the live layout the header promises: unknown-size Segment
 * and Clusters, one write call per frame, clusters where the rules say,
 * blocks whose time, flags and bytes equal what was written.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support/assert_bytes.h"
#include "webm_writer.h"
#include "weir/errors.h"

/* ---- the sink ---- */

typedef struct sink {
    uint8_t *data;
    size_t len, cap;
    size_t calls;
    size_t call_off[64]; /* where each write call started */
    size_t fail_at;      /* 1-based call that fails with -ENOSPC; 0 = never */
} sink;

static int sink_write(void *user, const void *buf, size_t len)
{
    sink *s = user;
    s->calls++;
    if (s->fail_at && s->calls >= s->fail_at)
        return -ENOSPC;
    if (s->calls <= 64)
        s->call_off[s->calls - 1] = s->len;
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
        cr_assert_not_null(s->data);
    }
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    return 0;
}

/* ---- a tiny EBML reader ---- */

#define UNKNOWN UINT64_MAX

typedef struct reader {
    const uint8_t *p;
    size_t len, pos;
} reader;

static uint32_t read_id(reader *r)
{
    cr_assert_lt(r->pos, r->len);
    uint8_t first = r->p[r->pos];
    size_t n = first >= 0x80 ? 1 : first >= 0x40 ? 2 : first >= 0x20 ? 3 : 4;
    cr_assert(first >= 0x10, "ID at %zu", r->pos);
    cr_assert_leq(r->pos + n, r->len);
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++)
        id = id << 8 | r->p[r->pos + i];
    r->pos += n;
    return id;
}

static uint64_t read_size(reader *r)
{
    cr_assert_lt(r->pos, r->len);
    uint8_t first = r->p[r->pos];
    cr_assert_neq(first, 0, "size at %zu", r->pos);
    size_t n = 1;
    while (!(first & (0x80 >> (n - 1))))
        n++;
    cr_assert_leq(r->pos + n, r->len);
    uint64_t v = first & (0xff >> n);
    bool ones = v == (uint64_t)(0xff >> n);
    for (size_t i = 1; i < n; i++) {
        v = v << 8 | r->p[r->pos + i];
        ones = ones && r->p[r->pos + i] == 0xff;
    }
    r->pos += n;
    return ones ? UNKNOWN : v;
}

static uint64_t as_uint(const uint8_t *p, uint64_t n)
{
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Finds child id in [p, p+len): its body and size; false when absent. */
static bool find(const uint8_t *p, size_t len, uint32_t id, const uint8_t **body, size_t *n)
{
    reader r = {p, len, 0};
    while (r.pos < r.len) {
        uint32_t got = read_id(&r);
        uint64_t size = read_size(&r);
        cr_assert_neq(size, UNKNOWN, "only Segment and Cluster have unknown sizes");
        cr_assert_leq(r.pos + size, r.len);
        if (got == id) {
            *body = p + r.pos;
            *n = (size_t)size;
            return true;
        }
        r.pos += size;
    }
    return false;
}

static uint64_t find_uint(const uint8_t *p, size_t len, uint32_t id)
{
    const uint8_t *b;
    size_t n;
    cr_assert(find(p, len, id, &b, &n), "element 0x%x", id);
    return as_uint(b, n);
}

static void expect_string(const uint8_t *p, size_t len, uint32_t id, const char *want)
{
    const uint8_t *b;
    size_t n;
    cr_assert(find(p, len, id, &b, &n), "element 0x%x", id);
    assert_bytes(b, n, (const uint8_t *)want, strlen(want));
}

typedef struct block {
    int64_t t;
    bool key;
    const uint8_t *data;
    size_t len;
    size_t cluster; /* index of its cluster */
} block;

typedef struct parsed {
    const uint8_t *ebml, *info, *tracks;
    size_t ebml_len, info_len, tracks_len;
    block blocks[1024];
    size_t nblocks, nclusters;
    int64_t cluster_ts[64];
} parsed;

static void parse_file(const uint8_t *p, size_t len, parsed *out)
{
    memset(out, 0, sizeof *out);
    reader r = {p, len, 0};
    cr_assert_eq(read_id(&r), 0x1A45DFA3, "EBML header first");
    out->ebml_len = (size_t)read_size(&r);
    out->ebml = p + r.pos;
    r.pos += out->ebml_len;
    cr_assert_eq(read_id(&r), 0x18538067, "then the Segment");
    const uint8_t unknown[8] = {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_bytes(p + r.pos, 8, unknown, 8);
    r.pos += 8;
    int64_t cluster_ts = -1;
    while (r.pos < r.len) {
        uint32_t id = read_id(&r);
        uint64_t size = read_size(&r);
        if (id == 0x1F43B675) {
            cr_assert_eq(size, UNKNOWN, "live clusters have unknown size");
            cr_assert_eq(read_id(&r), 0xE7, "Cluster Timestamp first");
            uint64_t n = read_size(&r);
            cluster_ts = (int64_t)as_uint(p + r.pos, n);
            r.pos += n;
            out->cluster_ts[out->nclusters++] = cluster_ts;
            continue;
        }
        cr_assert_neq(size, UNKNOWN);
        cr_assert_leq(r.pos + size, r.len, "element 0x%x overruns the file", id);
        const uint8_t *body = p + r.pos;
        r.pos += size;
        if (id == 0x1549A966) {
            out->info = body;
            out->info_len = (size_t)size;
        } else if (id == 0x1654AE6B) {
            out->tracks = body;
            out->tracks_len = (size_t)size;
        } else if (id == 0xA3) {
            cr_assert_geq(cluster_ts, 0, "a block inside a cluster");
            cr_assert_eq(body[0], 0x81, "track 1");
            block *b = &out->blocks[out->nblocks++];
            b->t = cluster_ts + (int16_t)(body[1] << 8 | body[2]);
            b->key = body[3] & 0x80;
            cr_assert_eq(body[3] & 0x7f, 0, "no lacing, no other flags");
            b->data = body + 4;
            b->len = (size_t)size - 4;
            b->cluster = out->nclusters - 1;
        } else {
            cr_assert_fail("unexpected element 0x%x", id);
        }
    }
}

static const uint8_t *track_entry(const parsed *f, size_t *len)
{
    const uint8_t *e;
    cr_assert(find(f->tracks, f->tracks_len, 0xAE, &e, len));
    return e;
}

/* ---- tests ---- */

typedef struct frame {
    int64_t t;
    bool key;
    size_t len;
} frame;

static void fill(uint8_t *buf, size_t len, size_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 37 + i * 11);
}

Test(webm_writer, vp8_live_layout_clusters_and_blocks)
{
    sink s = {0};
    wrec_webm_track track = {
        .video = true, .codec_id = "V_VP8", .width = 640, .height = 480, .name = "camera"};
    wrec_webm_info info = {.title = "room 7", .date_utc_ms = 1700000000123, .app = "weir-test"};
    wrec_webm *w = wrec_webm_create(&track, &info, sink_write, &s);
    cr_assert_not_null(w);
    cr_assert_eq(s.calls, 0, "nothing before the first frame");
    const frame frames[] = {
        {0, true, 300},                         /* cluster 0 */
        {33, false, 20},       {999, true, 40}, /* a keyframe 999 ms in: same cluster */
        {1000, false, 20},                      /* 1 s, but not a keyframe */
        {1033, true, 200},                      /* cluster 1 */
        {1066, false, 100000},                  /* a size varint of 3 octets */
        {1050, false, 10},                      /* backwards: written at 1066 */
        {40000, false, 30},                     /* past the int16 offset range: cluster 2 */
        {40100, true, 30},                      /* keyframe 100 ms in: same cluster */
    };
    const size_t n = sizeof frames / sizeof frames[0];
    static uint8_t buf[100000];
    uint64_t before = 0;
    for (size_t i = 0; i < n; i++) {
        fill(buf, frames[i].len, i);
        cr_assert_eq(wrec_webm_write_frame(w, frames[i].t, frames[i].key, buf, frames[i].len), 0);
        cr_assert_eq(s.calls, i + 1, "one write per frame");
        cr_assert_eq(wrec_webm_bytes(w), s.len);
        cr_assert_gt(wrec_webm_bytes(w), before + frames[i].len);
        before = wrec_webm_bytes(w);
    }
    parsed *f = malloc(sizeof *f);
    parse_file(s.data, s.len, f);
    expect_string(f->ebml, f->ebml_len, 0x4282, "webm");
    cr_assert_eq(find_uint(f->ebml, f->ebml_len, 0x4285), 2, "DocTypeReadVersion");
    cr_assert_eq(find_uint(f->info, f->info_len, 0x2AD7B1), 1000000);
    expect_string(f->info, f->info_len, 0x4D80, "weir-test");
    expect_string(f->info, f->info_len, 0x5741, "weir-test");
    expect_string(f->info, f->info_len, 0x7BA9, "room 7");
    /* DateUTC: ns since 2001-01-01, a signed 8-octet integer here. */
    cr_assert_eq((int64_t)find_uint(f->info, f->info_len, 0x4461),
                 (1700000000123ll - 978307200000ll) * 1000000ll);
    size_t elen;
    const uint8_t *e = track_entry(f, &elen);
    cr_assert_eq(find_uint(e, elen, 0xD7), 1, "TrackNumber");
    cr_assert_eq(find_uint(e, elen, 0x83), 1, "video");
    expect_string(e, elen, 0x86, "V_VP8");
    expect_string(e, elen, 0x536E, "camera");
    const uint8_t *v;
    size_t vlen;
    cr_assert(find(e, elen, 0xE0, &v, &vlen));
    cr_assert_eq(find_uint(v, vlen, 0xB0), 640);
    cr_assert_eq(find_uint(v, vlen, 0xBA), 480);
    const uint8_t *unused;
    size_t ulen;
    cr_assert_not(find(e, elen, 0x63A2, &unused, &ulen), "no CodecPrivate for VP8");

    cr_assert_eq(f->nblocks, n);
    cr_assert_eq(f->nclusters, 3);
    const size_t cluster_of[] = {0, 0, 0, 0, 1, 1, 1, 2, 2};
    const int64_t cluster_ts[] = {0, 1033, 40000};
    for (size_t c = 0; c < 3; c++)
        cr_assert_eq(f->cluster_ts[c], cluster_ts[c]);
    for (size_t i = 0; i < n; i++) {
        const block *b = &f->blocks[i];
        int64_t want_t = i == 6 ? 1066 : frames[i].t;
        cr_assert_eq(b->t, want_t, "block %zu at %lld", i, (long long)b->t);
        cr_assert_eq(b->key, frames[i].key, "block %zu flag", i);
        cr_assert_eq(b->cluster, cluster_of[i], "block %zu cluster", i);
        fill(buf, frames[i].len, i);
        assert_bytes(b->data, b->len, buf, frames[i].len);
    }
    /* The header went out with the first frame, each later call starts a block or cluster. */
    for (size_t i = 1; i < n; i++) {
        uint8_t first = s.data[s.call_off[i]];
        cr_assert(first == 0xA3 || first == 0x1F, "call %zu starts with 0x%02x", i, first);
    }
    free(f);
    free(s.data);
    wrec_webm_destroy(w);
}

Test(webm_writer, opus_track_with_built_opus_head)
{
    sink s = {0};
    wrec_webm_track track = {.video = false,
                             .codec_id = "A_OPUS",
                             .sample_rate = 48000,
                             .channels = 2,
                             .codec_delay_ns = 6500000,
                             .seek_preroll_ns = 80000000};
    wrec_webm *w = wrec_webm_create(&track, NULL, sink_write, &s);
    cr_assert_not_null(w);
    uint8_t pkt[40];
    size_t n = 0;
    for (int64_t t = 20; t < 12020; t += 20, n++) {
        fill(pkt, sizeof pkt - (size_t)(t % 7), (size_t)t);
        cr_assert_eq(wrec_webm_write_frame(w, t, false, pkt, sizeof pkt - (size_t)(t % 7)), 0);
    }
    parsed *f = malloc(sizeof *f);
    parse_file(s.data, s.len, f);
    expect_string(f->ebml, f->ebml_len, 0x4282, "webm");
    cr_assert_eq(find_uint(f->info, f->info_len, 0x2AD7B1), 1000000);
    const uint8_t *dummy;
    size_t dlen;
    cr_assert_not(find(f->info, f->info_len, 0x4461, &dummy, &dlen), "no DateUTC without info");
    size_t elen;
    const uint8_t *e = track_entry(f, &elen);
    cr_assert_eq(find_uint(e, elen, 0x83), 2, "audio");
    expect_string(e, elen, 0x86, "A_OPUS");
    cr_assert_eq(find_uint(e, elen, 0x56AA), 6500000);
    cr_assert_eq(find_uint(e, elen, 0x56BB), 80000000);
    /* RFC 7845 §5.1, written out byte by byte: pre-skip 312 = 6.5 ms at 48 kHz. */
    const uint8_t head[19] = {'O',  'p',  'u',  's',  'H',  'e',  'a', 'd', 1, 2,
                              0x38, 0x01, 0x80, 0xbb, 0x00, 0x00, 0,   0,   0};
    const uint8_t *cp;
    size_t cplen;
    cr_assert(find(e, elen, 0x63A2, &cp, &cplen));
    assert_bytes(cp, cplen, head, sizeof head);
    const uint8_t *au;
    size_t aulen;
    cr_assert(find(e, elen, 0xE1, &au, &aulen));
    const uint8_t *fl;
    size_t fllen;
    cr_assert(find(au, aulen, 0xB5, &fl, &fllen));
    cr_assert_eq(fllen, 8);
    uint64_t bits = as_uint(fl, 8);
    double rate;
    memcpy(&rate, &bits, sizeof rate);
    cr_assert_float_eq(rate, 48000.0, 1e-9);
    cr_assert_eq(find_uint(au, aulen, 0x9F), 2);

    cr_assert_eq(f->nblocks, n);
    cr_assert_eq(f->nclusters, 3, "a cluster every 5 s of audio");
    cr_assert_eq(f->cluster_ts[0], 20);
    cr_assert_eq(f->cluster_ts[1], 5020);
    cr_assert_eq(f->cluster_ts[2], 10020);
    for (size_t i = 0; i < n; i++) {
        int64_t t = 20 + 20 * (int64_t)i;
        cr_assert_eq(f->blocks[i].t, t);
        cr_assert(f->blocks[i].key, "every audio block is a keyframe");
        fill(pkt, sizeof pkt - (size_t)(t % 7), (size_t)t);
        assert_bytes(f->blocks[i].data, f->blocks[i].len, pkt, sizeof pkt - (size_t)(t % 7));
    }
    free(f);
    free(s.data);
    wrec_webm_destroy(w);
}

Test(webm_writer, h264_is_matroska_with_avcc)
{
    sink s = {0};
    const uint8_t avcc[] = {1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 1, 0x68};
    wrec_webm_track track = {.video = true,
                             .codec_id = "V_MPEG4/ISO/AVC",
                             .codec_private = avcc,
                             .codec_private_len = sizeof avcc,
                             .width = 320,
                             .height = 240};
    wrec_webm *w = wrec_webm_create(&track, NULL, sink_write, &s);
    cr_assert_not_null(w);
    const uint8_t nal[] = {0, 0, 0, 2, 0x65, 0x88};
    cr_assert_eq(wrec_webm_write_frame(w, 5, true, nal, sizeof nal), 0);
    parsed *f = malloc(sizeof *f);
    parse_file(s.data, s.len, f);
    expect_string(f->ebml, f->ebml_len, 0x4282, "matroska");
    size_t elen;
    const uint8_t *e = track_entry(f, &elen);
    const uint8_t *cp;
    size_t cplen;
    cr_assert(find(e, elen, 0x63A2, &cp, &cplen));
    assert_bytes(cp, cplen, avcc, sizeof avcc);
    cr_assert_eq(f->nblocks, 1);
    cr_assert_eq(f->blocks[0].t, 5);
    assert_bytes(f->blocks[0].data, f->blocks[0].len, nal, sizeof nal);
    free(f);
    free(s.data);
    wrec_webm_destroy(w);
}

Test(webm_writer, write_errors_are_returned_and_stick)
{
    sink s = {.fail_at = 3};
    wrec_webm_track track = {.video = true, .codec_id = "V_VP9", .width = 8, .height = 8};
    wrec_webm *w = wrec_webm_create(&track, NULL, sink_write, &s);
    const uint8_t data[] = {1, 2, 3};
    cr_assert_eq(wrec_webm_write_frame(w, 0, true, data, sizeof data), 0);
    cr_assert_eq(wrec_webm_write_frame(w, 10, false, data, sizeof data), 0);
    uint64_t bytes = wrec_webm_bytes(w);
    cr_assert_eq(wrec_webm_write_frame(w, 20, false, data, sizeof data), -ENOSPC);
    cr_assert_eq(wrec_webm_write_frame(w, 30, true, data, sizeof data), -ENOSPC);
    cr_assert_eq(s.calls, 3, "no write after the failed one");
    cr_assert_eq(wrec_webm_bytes(w), bytes);
    cr_assert_eq(wrec_webm_write_frame(w, 40, true, NULL, 0), -ENOSPC);
    wrec_webm_destroy(w);
    free(s.data);

    sink s2 = {0};
    w = wrec_webm_create(&track, NULL, sink_write, &s2);
    cr_assert_eq(wrec_webm_write_frame(w, 0, true, data, 0), -WEIR_EINVAL, "empty frame");
    cr_assert_eq(s2.calls, 0);
    cr_assert_eq(wrec_webm_write_frame(w, -5, true, data, sizeof data), 0, "clamped to 0");
    parsed *f = malloc(sizeof *f);
    parse_file(s2.data, s2.len, f);
    cr_assert_eq(f->blocks[0].t, 0);
    free(f);
    free(s2.data);
    wrec_webm_destroy(w);
}

Test(webm_writer, bad_tracks_are_refused)
{
    sink s = {0};
    const wrec_webm_track bad[] = {
        {.video = true, .codec_id = NULL, .width = 1, .height = 1},
        {.video = true, .codec_id = "V_AV1", .width = 1, .height = 1},
        {.video = true, .codec_id = "V_VP8", .width = 0, .height = 1},
        {.video = false, .codec_id = "V_VP8", .sample_rate = 48000, .channels = 1},
        {.video = true, .codec_id = "V_MPEG4/ISO/AVC", .width = 2, .height = 2},
        {.video = false, .codec_id = "A_OPUS", .sample_rate = 48000, .channels = 0},
        {.video = false, .codec_id = "A_OPUS", .sample_rate = 48000, .channels = 6},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null(wrec_webm_create(&bad[i], NULL, sink_write, &s), "case %zu", i);
    wrec_webm_track ok = {.video = true, .codec_id = "V_VP8", .width = 2, .height = 2};
    cr_assert_null(wrec_webm_create(&ok, NULL, NULL, &s), "no write function");
    cr_assert_eq(s.calls, 0);
}

/* A clean end turns the Void reserved at the end of Info into the Duration, in place. */
Test(webm_writer, duration_patch_replaces_the_reserved_void)
{
    sink s = {0};
    wrec_webm_track track = {.video = true, .codec_id = "V_VP8", .width = 320, .height = 180};
    wrec_webm *w = wrec_webm_create(&track, NULL, sink_write, &s);
    uint8_t patch[11];
    uint64_t at;
    cr_assert_eq(wrec_webm_duration_patch(w, 1000, patch, &at), -WEIR_EINVAL, "no header yet");
    uint8_t data[16] = {0};
    cr_assert_eq(wrec_webm_write_frame(w, 12300, true, data, sizeof data), 0);
    cr_assert_eq(wrec_webm_write_frame(w, 20450, false, data, sizeof data), 0);
    parsed before;
    parse_file(s.data, s.len, &before);
    const uint8_t *body;
    size_t n;
    cr_assert(find(before.info, before.info_len, 0xEC, &body, &n), "a Void reserves the place");
    cr_assert_eq(n, 9);
    cr_assert(!find(before.info, before.info_len, 0x4489, &body, &n), "no Duration yet");

    cr_assert_eq(wrec_webm_duration_patch(w, 20450, patch, &at), 0);
    cr_assert_leq(at + sizeof patch, s.len);
    cr_assert_eq(s.data[at], 0xEC, "the patch goes over the Void");
    memcpy(s.data + at, patch, sizeof patch);
    parsed after;
    parse_file(s.data, s.len, &after);
    cr_assert(!find(after.info, after.info_len, 0xEC, &body, &n), "the Void is gone");
    cr_assert(find(after.info, after.info_len, 0x4489, &body, &n), "Duration in Info");
    cr_assert_eq(n, 8);
    uint64_t bits = as_uint(body, 8);
    double d;
    memcpy(&d, &bits, sizeof d);
    cr_assert_float_eq(d, 20450.0, 1e-9, "Duration in TimestampScale units (ms)");
    cr_assert_eq(after.nblocks, 2, "the blocks are untouched");
    cr_assert_eq(after.blocks[0].t, 12300);
    wrec_webm_destroy(w);
    free(s.data);
}
