/*
 * h264-rtp-sample: the recorder's H.264 path end to end, against a real
 * encoder and decoder (tests/integration/test_h264_recording.py makes the
 * input with ffmpeg + libx264 and decodes the output with ffmpeg).
 *
 *   Annex-B file → access units → RFC 6184 RTP packets, packetized like a
 *   browser (packetization-mode 1) → wrec_assembler (plugins/recorder/
 *   frame_assembler.c, depacketize_h264.c, h264_sps.c) → wrec_webm
 *   (webm_writer.c, V_MPEG4/ISO/AVC with the assembler's avcC) → .mkv
 *
 * Usage: h264-rtp-sample [--fps N] [--reorder] [--drop-frame K] IN.h264 OUT.mkv
 *
 * Access units: each AUD (NAL type 9; ffmpeg -bsf:v h264_metadata=aud=insert)
 * starts one, and so does the first slice of a picture (first_mb_in_slice 0)
 * or a parameter set / SEI after a slice (see starts_unit). AUDs themselves
 * are not sent (browsers do not send them). Packetization, as libwebrtc does it: SPS and PPS go together in a
 * STAP-A before an IDR (the newest ones seen are re-sent when an IDR access
 * unit lacks them), a NAL unit over MAX_PAYLOAD bytes is split into FU-A
 * fragments, any other NAL unit is a single NAL unit packet; the last packet
 * of an access unit has the marker bit. Timestamps are 90 kHz at the given
 * frame rate, starting just below 2^32 and sequence numbers near 65535, so
 * both wrap during a 3 s clip. Timestamps follow decode order, so the input
 * must have no B-frames (browsers' encoders use none; x264: -bf 0 or
 * baseline profile).
 *
 * Arrival is simulated: access unit n "arrives" at n / fps seconds; that is
 * also the assembler's clock, so a lost packet is given up once later
 * packets arrived max_wait_us after it.
 * --reorder swaps a few neighbouring packets (every 13th with the next one);
 * --drop-frame K drops the middle packet of access unit K (the test picks a
 * delta frame), so the assembler must drop it and everything up to the next
 * keyframe.
 *
 * Prints one JSON line: frames pushed (access units), frames written,
 * keyframes written, width, height, frames dropped by the assembler, and
 * the index of every access unit that was written (the test compares those
 * frames with ffmpeg's own decode of the input).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_assembler.h"
#include "webm_writer.h"

#define MAX_INPUT (64u << 20)
#define MAX_PAYLOAD 1100 /* NAL units larger than this go as FU-A */
#define MAX_PACKETS 200000
#define MAX_UNITS 100000
#define RTP_HEADER 12
#define FIRST_SEQ 65530
#define FIRST_TS 4294900000u /* wraps after ~0.75 s at 90 kHz */
#define SSRC 0x12345678u
#define WAIT_US 300000

enum { NAL_IDR = 5, NAL_SPS = 7, NAL_PPS = 8, NAL_AUD = 9 };

typedef struct nal {
    const uint8_t *p;
    size_t len;
} nal;

typedef struct packet {
    uint8_t *data;
    size_t len;
    int unit;            /* access unit index */
    int index_in_unit;   /* 0.. */
    int packets_in_unit; /* filled once the unit is done */
} packet;

typedef struct sample {
    packet *pkts;
    size_t npkts;
    uint16_t seq;
    /* the newest parameter sets, re-sent before an IDR that lacks them */
    nal sps, pps;
} sample;

/* ---- Annex-B input ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "h264-rtp-sample: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(MAX_INPUT);
    size_t n = buf ? fread(buf, 1, MAX_INPUT, f) : 0;
    bool too_big = buf && n == MAX_INPUT && fgetc(f) != EOF;
    fclose(f);
    if (!buf || n == 0 || too_big) {
        fprintf(stderr, "h264-rtp-sample: %s: empty, unreadable or over %u bytes\n", path,
                MAX_INPUT);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Offset just past the next start code (00 00 01) at or after off, or len. */
static size_t next_start(const uint8_t *b, size_t len, size_t off)
{
    for (size_t i = off; i + 3 <= len; i++)
        if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1)
            return i + 3;
    return len;
}

/*
 * Splits the stream into NAL units. A NAL unit ends where the next start
 * code begins; its trailing zero bytes (the leading zero of a 4-byte start
 * code, trailing_zero_8bits) are not part of it.
 */
static size_t split_nals(const uint8_t *b, size_t len, nal *out, size_t max)
{
    size_t n = 0, start = next_start(b, len, 0);
    while (start < len && n < max) {
        size_t next = next_start(b, len, start);
        size_t end = next == len ? len : next - 3;
        while (end > start && b[end - 1] == 0)
            end--;
        if (end > start)
            out[n++] = (nal){b + start, end - start};
        start = next;
    }
    return n;
}

static bool is_slice(nal n)
{
    uint8_t type = n.p[0] & 0x1f;
    return type == 1 || type == NAL_IDR;
}

/*
 * Whether n begins a new access unit (H.264 §7.4.1.2.3, the cases an
 * encoder like x264 produces): an AUD always; after the unit's first slice,
 * an SEI, SPS or PPS, or a slice whose first_mb_in_slice is 0 (ue(v) 0 is
 * the single bit 1 right after the NAL header). Single-slice inputs without
 * AUDs are split correctly too; the test's input has AUDs.
 */
static bool starts_unit(nal n, bool unit_has_slice)
{
    uint8_t type = n.p[0] & 0x1f;
    if (type == NAL_AUD)
        return true;
    if (!unit_has_slice)
        return false;
    if (type == 6 || type == NAL_SPS || type == NAL_PPS)
        return true;
    return is_slice(n) && n.len > 1 && (n.p[1] & 0x80);
}

/* ---- RTP packetization (RFC 6184, packetization-mode 1) ---- */

static int add_packet(sample *s, int unit, const uint8_t *payload, size_t len,
                      const uint8_t *prefix, size_t prefix_len, uint32_t ts)
{
    if (s->npkts == MAX_PACKETS)
        return -1;
    uint8_t *d = malloc(RTP_HEADER + prefix_len + len);
    if (!d)
        return -1;
    d[0] = 0x80; /* V=2 */
    d[1] = 102;  /* dynamic payload type; the marker is set when the unit ends */
    d[2] = (uint8_t)(s->seq >> 8);
    d[3] = (uint8_t)s->seq;
    d[4] = (uint8_t)(ts >> 24);
    d[5] = (uint8_t)(ts >> 16);
    d[6] = (uint8_t)(ts >> 8);
    d[7] = (uint8_t)ts;
    d[8] = (uint8_t)(SSRC >> 24);
    d[9] = (uint8_t)(SSRC >> 16);
    d[10] = (uint8_t)(SSRC >> 8);
    d[11] = (uint8_t)SSRC;
    if (prefix_len)
        memcpy(d + RTP_HEADER, prefix, prefix_len);
    memcpy(d + RTP_HEADER + prefix_len, payload, len);
    s->seq++;
    s->pkts[s->npkts++] = (packet){.data = d, .len = RTP_HEADER + prefix_len + len, .unit = unit};
    return 0;
}

static int add_nal(sample *s, int unit, nal n, uint32_t ts)
{
    if (n.len <= MAX_PAYLOAD)
        return add_packet(s, unit, n.p, n.len, NULL, 0, ts);
    /* FU-A: indicator (F, NRI of the NAL unit, type 28), header (S, E, type). */
    uint8_t fu[2] = {(uint8_t)((n.p[0] & 0xe0) | 28), 0};
    for (size_t off = 1; off < n.len;) {
        size_t chunk = n.len - off > MAX_PAYLOAD - 2 ? MAX_PAYLOAD - 2 : n.len - off;
        fu[1] =
            (uint8_t)((off == 1 ? 0x80 : 0) | (off + chunk == n.len ? 0x40 : 0) | (n.p[0] & 0x1f));
        if (add_packet(s, unit, n.p + off, chunk, fu, 2, ts) < 0)
            return -1;
        off += chunk;
    }
    return 0;
}

static int add_stap_a(sample *s, int unit, nal a, nal b, uint32_t ts)
{
    size_t len = 1 + 2 + a.len + 2 + b.len;
    uint8_t *buf = malloc(len);
    if (!buf)
        return -1;
    /* STAP-A NAL header: F 0, NRI the highest of its units (both 3 here), type 24. */
    uint8_t nri = (uint8_t)((a.p[0] & 0x60) > (b.p[0] & 0x60) ? a.p[0] & 0x60 : b.p[0] & 0x60);
    size_t o = 0;
    buf[o++] = (uint8_t)(nri | 24);
    buf[o++] = (uint8_t)(a.len >> 8);
    buf[o++] = (uint8_t)a.len;
    memcpy(buf + o, a.p, a.len);
    o += a.len;
    buf[o++] = (uint8_t)(b.len >> 8);
    buf[o++] = (uint8_t)b.len;
    memcpy(buf + o, b.p, b.len);
    int rc = add_packet(s, unit, buf, len, NULL, 0, ts);
    free(buf);
    return rc;
}

/* One access unit's NAL units (AUD excluded) as packets. */
static int packetize_unit(sample *s, int unit, const nal *nals, size_t count, uint32_t ts)
{
    size_t first = s->npkts;
    bool idr = false;
    for (size_t i = 0; i < count; i++) {
        uint8_t type = nals[i].p[0] & 0x1f;
        if (type == NAL_SPS)
            s->sps = nals[i];
        else if (type == NAL_PPS)
            s->pps = nals[i];
        else if (type == NAL_IDR)
            idr = true;
    }
    if (idr && s->sps.len && s->pps.len && add_stap_a(s, unit, s->sps, s->pps, ts) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        uint8_t type = nals[i].p[0] & 0x1f;
        if (type == NAL_SPS || type == NAL_PPS || type == NAL_AUD)
            continue; /* parameter sets went in the STAP-A (or are out of place: skip) */
        if (add_nal(s, unit, nals[i], ts) < 0)
            return -1;
    }
    if (s->npkts == first)
        return 0;                          /* nothing but an AUD */
    s->pkts[s->npkts - 1].data[1] |= 0x80; /* marker */
    for (size_t i = first; i < s->npkts; i++) {
        s->pkts[i].index_in_unit = (int)(i - first);
        s->pkts[i].packets_in_unit = (int)(s->npkts - first);
    }
    return 0;
}

/* ---- assembler → Matroska ---- */

typedef struct output {
    FILE *f;
    wrec_webm *w;
    uint64_t first_ts;
    int64_t last_t_ms;
    int written, keyframes, width, height;
    int *written_units; /* access unit index of each frame written */
    uint32_t fps;
} output;

static int file_write(void *user, const void *buf, size_t len)
{
    output *o = user;
    return fwrite(buf, 1, len, o->f) == len ? 0 : -EIO;
}

static int write_frame(output *o, const wrec_assembler *a, const wrec_frame *fr)
{
    if (!o->w) {
        /* The assembler outputs a keyframe first; its SPS gave the size and the avcC. */
        const uint8_t *avcc;
        size_t avcc_len;
        if (!fr->keyframe || wrec_assembler_h264_avcc(a, &avcc, &avcc_len) < 0) {
            fprintf(stderr, "h264-rtp-sample: first frame is not a keyframe with SPS/PPS\n");
            return -1;
        }
        o->width = fr->width;
        o->height = fr->height;
        o->first_ts = fr->ext_ts;
        wrec_webm_track track = {.video = true,
                                 .codec_id = "V_MPEG4/ISO/AVC",
                                 .codec_private = avcc,
                                 .codec_private_len = avcc_len,
                                 .width = fr->width,
                                 .height = fr->height,
                                 .name = "h264 sample"};
        wrec_webm_info info = {.title = "h264-rtp-sample", .app = "weir h264-rtp-sample"};
        o->w = wrec_webm_create(&track, &info, file_write, o);
        if (!o->w) {
            fprintf(stderr, "h264-rtp-sample: wrec_webm_create refused %ux%u avcC %zu bytes\n",
                    fr->width, fr->height, avcc_len);
            return -1;
        }
    }
    /* Units are numbered from the RTP timestamp (exactly 90000 / fps apart). */
    uint64_t ticks = fr->ext_ts - o->first_ts;
    int64_t t_ms = (int64_t)(ticks / 90);
    int rc = wrec_webm_write_frame(o->w, t_ms, fr->keyframe, fr->data, fr->len);
    if (rc < 0) {
        fprintf(stderr, "h264-rtp-sample: write_frame: %d\n", rc);
        return -1;
    }
    o->written_units[o->written++] = (int)(ticks / (90000 / o->fps));
    o->keyframes += fr->keyframe;
    o->last_t_ms = t_ms;
    return 0;
}

static int drain(output *o, wrec_assembler *a, int64_t now_us)
{
    wrec_frame fr;
    while (wrec_assembler_poll(a, now_us, &fr) == 1)
        if (write_frame(o, a, &fr) < 0)
            return -1;
    return 0;
}

/* Adds Duration in place (the writer reserved room for it in Info). */
static int patch_duration(output *o)
{
    uint8_t el[11];
    uint64_t off;
    int64_t end_ms = o->last_t_ms + 1000 / (int64_t)o->fps;
    if (wrec_webm_duration_patch(o->w, end_ms, el, &off) < 0)
        return -1;
    if (fseek(o->f, (long)off, SEEK_SET) != 0 || fwrite(el, 1, sizeof el, o->f) != sizeof el)
        return -1;
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: h264-rtp-sample [--fps N] [--reorder] [--drop-frame K] IN.h264 OUT.mkv\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint32_t fps = 25;
    bool reorder = false;
    long drop_unit = -1;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--reorder") == 0)
            reorder = true;
        else if (strcmp(argv[i], "--fps") == 0 && i + 1 < argc)
            fps = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--drop-frame") == 0 && i + 1 < argc)
            drop_unit = strtol(argv[++i], NULL, 10);
        else
            return usage();
    }
    if (argc - i != 2 || fps == 0 || 90000 % fps != 0)
        return usage();
    const char *in_path = argv[i], *out_path = argv[i + 1];

    size_t in_len;
    uint8_t *in = read_file(in_path, &in_len);
    if (!in)
        return 1;
    nal *nals = malloc(sizeof(nal) * MAX_UNITS);
    sample s = {.pkts = malloc(sizeof(packet) * MAX_PACKETS), .seq = FIRST_SEQ};
    output o = {.fps = fps, .written_units = malloc(sizeof(int) * MAX_UNITS)};
    int rc = nals && s.pkts && o.written_units ? 0 : 1;

    size_t n_nals = rc ? 0 : split_nals(in, in_len, nals, MAX_UNITS);
    int units = 0;
    for (size_t k = 0; k < n_nals && rc == 0;) {
        size_t end = k + 1;
        bool has_slice = is_slice(nals[k]);
        while (end < n_nals && !starts_unit(nals[end], has_slice))
            has_slice |= is_slice(nals[end++]);
        uint32_t ts = FIRST_TS + (uint32_t)units * (90000 / fps);
        if (packetize_unit(&s, units, nals + k, end - k, ts) < 0)
            rc = 1;
        units++;
        k = end;
    }
    if (rc == 0 && reorder)
        for (size_t k = 5; k + 1 < s.npkts; k += 13) {
            packet t = s.pkts[k];
            s.pkts[k] = s.pkts[k + 1];
            s.pkts[k + 1] = t;
        }

    wrec_assembler_config cfg = {.codec = WREC_CODEC_H264,
                                 .max_wait_us = WAIT_US,
                                 .max_packets = 512,
                                 .max_frame_bytes = 4u << 20};
    wrec_assembler *a = rc ? NULL : wrec_assembler_create(&cfg);
    o.f = rc ? NULL : fopen(out_path, "wb");
    if (rc == 0 && (!a || !o.f)) {
        fprintf(stderr, "h264-rtp-sample: cannot start (%s)\n", out_path);
        rc = 1;
    }
    int dropped_packets = 0;
    for (size_t k = 0; k < s.npkts && rc == 0; k++) {
        const packet *p = &s.pkts[k];
        if (p->unit == drop_unit && p->index_in_unit == p->packets_in_unit / 2) {
            dropped_packets++;
            continue;
        }
        int64_t now_us = (int64_t)p->unit * 1000000 / fps;
        if (wrec_assembler_push(a, p->data, p->len, now_us, 0, now_us) < 0) {
            fprintf(stderr, "h264-rtp-sample: assembler refused packet %zu\n", k);
            rc = 1;
        } else if (drain(&o, a, now_us) < 0) {
            rc = 1;
        }
    }
    if (rc == 0) {
        wrec_assembler_flush(a);
        if (drain(&o, a, (int64_t)units * 1000000 / fps + WAIT_US) < 0)
            rc = 1;
    }
    if (rc == 0 && (!o.w || patch_duration(&o) < 0)) {
        fprintf(stderr, "h264-rtp-sample: nothing written or duration patch failed\n");
        rc = 1;
    }
    wrec_assembler_stats st = {0};
    if (a)
        wrec_assembler_stats_get(a, &st);
    if (o.f && fclose(o.f) != 0)
        rc = 1;
    if (rc == 0) {
        printf("{\"frames_pushed\": %d, \"packets\": %zu, \"packets_dropped\": %d, "
               "\"frames_written\": %d, \"keyframes\": %d, \"width\": %d, \"height\": %d, "
               "\"dropped\": %llu, \"malformed\": %llu, \"written_units\": [",
               units, s.npkts, dropped_packets, o.written, o.keyframes, o.width, o.height,
               (unsigned long long)st.frames_dropped, (unsigned long long)st.malformed);
        for (int k = 0; k < o.written; k++)
            printf("%s%d", k ? ", " : "", o.written_units[k]);
        printf("]}\n");
    }
    wrec_webm_destroy(o.w);
    wrec_assembler_destroy(a);
    for (size_t k = 0; s.pkts && k < s.npkts; k++)
        free(s.pkts[k].data);
    free(s.pkts);
    free(o.written_units);
    free(nals);
    free(in);
    return rc;
}
