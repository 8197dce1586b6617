/*
 * The recorder's frame assembler (contract in frame_assembler.h).
 *
 * The reorder buffer is a ring of max_packets slots indexed by the extended
 * sequence number; it holds the packets in [head, head + max_packets).
 * Everything before head was output or given up: a packet arriving for it
 * is "too old" (a retransmission that came after we stopped waiting).
 *
 * poll() works from head: a missing packet blocks until max_wait_us after
 * the first later packet was received (RFC 4585 NACK round trips take
 * about an RTT; the recorder is not latency-bound, so the wait is generous);
 * a present packet begins a frame that ends at its marker bit (or where the
 * timestamp changes in a run without a gap: a sender that forgot the marker
 * cannot stall the track). Once a gap is given up, video drops everything
 * until a packet that starts a keyframe and asks for one.
 *
 * Per-codec descriptor reading and bitstream building are in
 * depacketize_*.c; this file only knows packets, sequence numbers and time.
 */
#include "frame_assembler.h"

#include <string.h>

#include "depacketize.h"
#include "proto/rtp.h"
#include "weir/alloc.h"
#include "weir/errors.h"

/* Packets this far behind head in a row mean the sender restarted its
 * sequence numbers (a new encoder, a publisher that reconnected on the same
 * track): start over from them instead of calling every one "too old". */
#define FAR_OLD_RESTART 32

typedef struct slot {
    /* owned: */
    uint8_t *data; /* the payload after its descriptor */
    /* state: */
    size_t len, cap;
    uint64_t seq;
    int64_t ext_ts;
    int64_t arrival_us; /* as given by the caller */
    int64_t recv_us;    /* now_us at push: when the gap wait starts */
    uint64_t capture_ntp;
    wrec_pkt_info info;
    bool used, marker, padding;
} slot;

struct wrec_assembler {
    wrec_assembler_config cfg;
    bool video;
    /* owned: */
    slot *slots;
    wrec_buf frame;
    /* state: */
    bool have_seq, started;
    uint64_t head, highest;
    bool have_ts;
    int64_t ts_ref; /* extended timestamp of the highest packet */
    int64_t last_now;
    bool need_key, key_request;
    uint64_t key_scan; /* while need_key: packets before it hold no keyframe start */
    bool have_out_ts;  /* the first frame out fixes the wrap count: out = ext + ts_offset */
    int64_t ts_offset;
    bool blocked; /* a gap at blocked_seq waits until blocked_deadline */
    uint64_t blocked_seq;
    int64_t blocked_deadline;
    bool flush_set; /* gaps up to flush_to are given up at once */
    uint64_t flush_to;
    uint32_t far_old;
    bool have_dropped_ts; /* counts dropped frames by distinct timestamp */
    int64_t dropped_ts;
    wrec_h264_params h264;
    wrec_assembler_stats st;
};

int wrec_buf_append(wrec_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return -WEIR_ETOOBIG;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        if (cap > b->max)
            cap = b->max;
        b->data = weir_realloc(b->data, cap);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void wrec_buf_free(wrec_buf *b)
{
    weir_free(b->data);
    *b = (wrec_buf){0};
}

wrec_assembler *wrec_assembler_create(const wrec_assembler_config *cfg)
{
    if (!cfg || cfg->max_packets == 0 || cfg->max_packets > 32768 || cfg->max_frame_bytes == 0 ||
        cfg->max_wait_us < 0)
        return NULL;
    switch (cfg->codec) {
    case WREC_CODEC_OPUS:
    case WREC_CODEC_VP8:
    case WREC_CODEC_VP9:
    case WREC_CODEC_H264:
        break;
    default:
        return NULL;
    }
    wrec_assembler *a = WEIR_NEW(wrec_assembler);
    a->cfg = *cfg;
    a->video = cfg->codec != WREC_CODEC_OPUS;
    a->slots = weir_calloc(cfg->max_packets, sizeof(slot));
    a->frame.max = cfg->max_frame_bytes;
    a->need_key = a->video;
    a->key_request = a->video;
    a->st.keyframe_requests = a->video ? 1 : 0;
    return a;
}

void wrec_assembler_destroy(wrec_assembler *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->cfg.max_packets; i++)
        weir_free(a->slots[i].data);
    weir_free(a->slots);
    wrec_buf_free(&a->frame);
    weir_free(a);
}

static slot *slot_at(wrec_assembler *a, uint64_t seq)
{
    slot *s = &a->slots[seq % a->cfg.max_packets];
    return s->used && s->seq == seq ? s : NULL;
}

static void lost_sync(wrec_assembler *a)
{
    if (!a->video)
        return;
    if (!a->need_key)
        a->st.keyframe_requests++;
    a->need_key = true;
    a->key_request = true;
}

/* Releases the slots in [head, to) and moves head there; present
 * packets are counted as dropped frames, one per distinct timestamp. */
static void drop_to(wrec_assembler *a, uint64_t to)
{
    uint64_t end = to < a->head + a->cfg.max_packets ? to : a->head + a->cfg.max_packets;
    for (uint64_t q = a->head; q < end; q++) {
        slot *s = slot_at(a, q);
        if (!s)
            continue;
        if (!s->padding && (!a->have_dropped_ts || s->ext_ts != a->dropped_ts)) {
            a->st.frames_dropped++;
            a->have_dropped_ts = true;
            a->dropped_ts = s->ext_ts;
        }
        s->used = false;
    }
    if (to > a->head) {
        a->head = to;
        a->started = true;
    }
    if (a->key_scan < a->head)
        a->key_scan = a->head;
    a->blocked = false;
}

static void restart_at(wrec_assembler *a, uint64_t ext)
{
    drop_to(a, a->head + a->cfg.max_packets);
    a->head = a->highest = a->key_scan = ext;
    a->started = false;
    a->far_old = 0;
    a->flush_set = false;
    lost_sync(a);
}

static int read_payload(const wrec_assembler *a, const uint8_t *p, size_t len, wrec_pkt_info *info)
{
    switch (a->cfg.codec) {
    case WREC_CODEC_VP8:
        return wrec_vp8_packet(p, len, info);
    case WREC_CODEC_VP9:
        return wrec_vp9_packet(p, len, info);
    case WREC_CODEC_H264:
        return wrec_h264_packet(p, len, info);
    case WREC_CODEC_OPUS:
        *info = (wrec_pkt_info){.starts = true, .key = true, .layer_start = true};
        return 0;
    }
    return -WEIR_EINVAL;
}

/* Where the packet goes: 1 = store it at *ext, 0 = ignore it (counted). */
static int place(wrec_assembler *a, uint16_t seq, uint64_t *ext)
{
    if (!a->have_seq) {
        /* Start far from 0 so that packets reordered before the first do not underflow. */
        a->have_seq = true;
        a->head = a->highest = ((uint64_t)1 << 32) + seq;
    }
    *ext = a->highest + (uint64_t)(int64_t)(int16_t)(seq - (uint16_t)a->highest);
    if (*ext < a->head) {
        if (!a->started && a->highest - *ext < a->cfg.max_packets) {
            a->head = *ext; /* nothing consumed yet: an earlier packet came late */
            a->blocked = false;
            a->key_scan = *ext;
        } else if (a->head - *ext > a->cfg.max_packets && ++a->far_old >= FAR_OLD_RESTART) {
            restart_at(a, *ext);
        } else {
            a->st.too_old++;
            return 0;
        }
    }
    a->far_old = 0;
    if (*ext >= a->head + a->cfg.max_packets) {
        /* Over capacity: give up what blocks the oldest slots rather than grow
         * (while waiting for a keyframe they are only frames no one can use). */
        if (!a->need_key) {
            a->st.gaps_given_up++;
            lost_sync(a);
        }
        drop_to(a, *ext - a->cfg.max_packets + 1);
    }
    if (slot_at(a, *ext)) {
        a->st.duplicates++;
        return 0;
    }
    return 1;
}

int wrec_assembler_push(wrec_assembler *a, const uint8_t *rtp, size_t len, int64_t arrival_us,
                        uint64_t capture_ntp, int64_t now_us)
{
    a->st.packets_in++;
    if (now_us < a->last_now)
        now_us = a->last_now;
    a->last_now = now_us;
    weir_rtp h;
    wrec_pkt_info info = {0};
    if (!rtp || weir_rtp_parse(&h, rtp, len) < 0) {
        a->st.malformed++;
        return -WEIR_EINVAL;
    }
    const uint8_t *payload = weir_rtp_payload(&h, rtp);
    bool padding = h.payload_len == 0; /* a bandwidth probe: fills its sequence number */
    if (!padding && read_payload(a, payload, h.payload_len, &info) < 0) {
        a->st.malformed++;
        return -WEIR_EINVAL;
    }
    uint64_t ext;
    if (place(a, h.seq, &ext) == 0)
        return 0;
    int64_t ext_ts = h.timestamp; /* the first packet: wrap count 0 */
    if (a->have_ts)
        ext_ts = a->ts_ref + (int32_t)(h.timestamp - (uint32_t)a->ts_ref);
    slot *s = &a->slots[ext % a->cfg.max_packets];
    size_t n = padding ? 0 : h.payload_len - info.skip;
    if (n > s->cap) {
        s->data = weir_realloc(s->data, n);
        s->cap = n;
    }
    if (n > 0)
        memcpy(s->data, payload + info.skip, n);
    s->len = n;
    s->seq = ext;
    s->ext_ts = ext_ts;
    s->arrival_us = arrival_us;
    s->recv_us = now_us;
    s->capture_ntp = capture_ntp;
    s->info = info;
    s->marker = h.marker;
    s->padding = padding;
    s->used = true;
    if (ext < a->key_scan)
        a->key_scan = ext;
    if (ext >= a->highest || !a->have_ts) {
        a->highest = ext > a->highest ? ext : a->highest;
        a->ts_ref = ext_ts;
        a->have_ts = true;
    }
    return 0;
}

/* A missing packet at gap: has it been waited for long enough? */
static bool gap_expired(wrec_assembler *a, uint64_t gap, int64_t now_us)
{
    if (a->flush_set && gap <= a->flush_to)
        return true;
    if (!a->blocked || a->blocked_seq != gap) {
        int64_t first = now_us;
        for (uint64_t q = gap + 1; q <= a->highest; q++) {
            slot *s = slot_at(a, q);
            if (s && s->recv_us < first)
                first = s->recv_us;
        }
        a->blocked = true;
        a->blocked_seq = gap;
        a->blocked_deadline = first + a->cfg.max_wait_us;
    }
    return now_us >= a->blocked_deadline;
}

typedef enum { FRAME_WAIT, FRAME_DONE, FRAME_BROKEN } frame_state;

/* From head (a frame start): the frame's end (exclusive) or why there is none. */
static frame_state find_end(wrec_assembler *a, int64_t now_us, uint64_t *end)
{
    const slot *first = slot_at(a, a->head);
    for (uint64_t q = a->head;; q++) {
        if (q > a->highest) {
            *end = q;
            return a->flush_set && a->highest <= a->flush_to ? FRAME_BROKEN : FRAME_WAIT;
        }
        const slot *s = slot_at(a, q);
        if (!s) {
            *end = q + 1; /* the gap goes with the broken frame */
            return gap_expired(a, q, now_us) ? FRAME_BROKEN : FRAME_WAIT;
        }
        if (s->padding)
            continue;
        if (q != a->head && s->ext_ts != first->ext_ts) {
            *end = q;
            return FRAME_DONE;
        }
        if (!a->video || s->marker) {
            *end = q + 1;
            return FRAME_DONE;
        }
    }
}

static int build(wrec_assembler *a, uint64_t end, wrec_frame *out)
{
    wrec_vp9_builder vp9;
    wrec_h264_builder h264;
    wrec_vp9_begin(&vp9);
    wrec_h264_begin(&h264, &a->h264);
    a->frame.len = 0;
    const slot *first = slot_at(a, a->head), *last = first;
    uint64_t ntp = 0;
    int rc = 0;
    for (uint64_t q = a->head; q < end && rc == 0; q++) {
        const slot *s = slot_at(a, q);
        if (s->padding)
            continue;
        last = s;
        if (!ntp)
            ntp = s->capture_ntp;
        if (a->cfg.codec == WREC_CODEC_VP9)
            rc = wrec_vp9_add(&vp9, &a->frame, s->data, s->len, s->info.layer_start);
        else if (a->cfg.codec == WREC_CODEC_H264)
            rc = wrec_h264_add(&h264, &a->frame, s->data, s->len);
        else
            rc = wrec_buf_append(&a->frame, s->data, s->len);
    }
    if (rc == 0 && a->cfg.codec == WREC_CODEC_VP9)
        rc = wrec_vp9_end(&vp9, &a->frame);
    if (rc == 0 && a->cfg.codec == WREC_CODEC_H264)
        rc = wrec_h264_end(&h264, &a->frame);
    if (rc < 0)
        return rc;
    bool key = a->cfg.codec == WREC_CODEC_H264 ? h264.idr : first->info.key;
    if (!a->have_out_ts) {
        /* The first frame out has wrap count 0, whichever packet came first. */
        a->have_out_ts = true;
        a->ts_offset = (int64_t)(uint32_t)first->ext_ts - first->ext_ts;
    }
    int64_t ext_ts = first->ext_ts + a->ts_offset;
    *out = (wrec_frame){
        .data = a->frame.data,
        .len = a->frame.len,
        .ext_ts = ext_ts < 0 ? 0 : (uint64_t)ext_ts,
        .keyframe = key,
        .arrival_us = last->arrival_us,
        .capture_ntp = ntp,
    };
    if (key && a->cfg.codec == WREC_CODEC_H264) {
        out->width = a->h264.width;
        out->height = a->h264.height;
    } else if (key) {
        out->width = first->info.width;
        out->height = first->info.height;
    }
    return 0;
}

/*
 * Video after a loss (or at the start): moves head to the first packet that
 * starts a keyframe, dropping what is before it. Without one, the packets
 * stay (an earlier keyframe start may still arrive late) unless the track
 * was flushed. False when there is none yet.
 */
static bool seek_keyframe(wrec_assembler *a)
{
    uint64_t from = a->key_scan > a->head ? a->key_scan : a->head;
    for (uint64_t q = from; q <= a->highest; q++) {
        const slot *s = slot_at(a, q);
        if (s && !s->padding && s->info.starts && s->info.key) {
            drop_to(a, q);
            a->key_scan = q;
            return true;
        }
    }
    a->key_scan = a->highest + 1;
    if (a->flush_set && a->highest <= a->flush_to)
        drop_to(a, a->highest + 1);
    return false;
}

int wrec_assembler_poll(wrec_assembler *a, int64_t now_us, wrec_frame *out)
{
    if (now_us < a->last_now)
        now_us = a->last_now;
    a->last_now = now_us;
    while (a->have_seq && a->head <= a->highest) {
        if (a->need_key && !seek_keyframe(a))
            return 0;
        const slot *s = slot_at(a, a->head);
        if (!s) {
            if (!gap_expired(a, a->head, now_us))
                return 0;
            a->st.gaps_given_up++;
            drop_to(a, a->head + 1);
            lost_sync(a);
            continue;
        }
        if (s->padding || !s->info.starts) {
            if (!s->padding)
                lost_sync(a); /* a frame's middle without its start */
            drop_to(a, a->head + 1);
            continue;
        }
        uint64_t end;
        frame_state st = find_end(a, now_us, &end);
        if (st == FRAME_WAIT)
            return 0;
        if (st == FRAME_BROKEN) {
            a->st.gaps_given_up++;
            drop_to(a, end);
            lost_sync(a);
            continue;
        }
        int rc = build(a, end, out);
        if (rc < 0) {
            if (rc == -WEIR_EINVAL)
                a->st.malformed++;
            drop_to(a, end);
            lost_sync(a);
            continue;
        }
        for (uint64_t q = a->head; q < end; q++)
            a->slots[q % a->cfg.max_packets].used = false;
        a->head = end;
        a->started = true;
        a->blocked = false;
        a->need_key = false;
        a->st.frames_out++;
        return 1;
    }
    return 0;
}

void wrec_assembler_flush(wrec_assembler *a)
{
    a->flush_set = true;
    a->flush_to = a->highest;
}

bool wrec_assembler_take_keyframe_request(wrec_assembler *a)
{
    bool r = a->key_request;
    a->key_request = false;
    return r;
}

int wrec_assembler_h264_avcc(const wrec_assembler *a, const uint8_t **out, size_t *len)
{
    if (a->cfg.codec != WREC_CODEC_H264 || a->h264.avcc_len == 0)
        return -WEIR_ENOTFOUND;
    *out = a->h264.avcc;
    *len = a->h264.avcc_len;
    return 0;
}

void wrec_assembler_stats_get(const wrec_assembler *a, wrec_assembler_stats *out)
{
    *out = a->st;
}
