/*
 * The live-layout WebM/Matroska writer (contract and layout in
 * webm_writer.h). Element IDs and semantics: the Matroska specification
 * (RFC 9559) and the WebM container guidelines; only the subset one track
 * needs is written.
 *
 * Every frame is assembled in a scratch buffer (header first time, Cluster
 * header when one starts, the SimpleBlock) and handed to the write function
 * in one call, so the file never holds half a header or a Cluster header
 * without its first block unless the write itself was cut.
 */
#include "webm_writer.h"

#include <string.h>

#include "ebml.h"
#include "weir/alloc.h"
#include "weir/errors.h"

enum {
    ID_EBML = 0x1A45DFA3,
    ID_EBML_VERSION = 0x4286,
    ID_EBML_READ_VERSION = 0x42F7,
    ID_EBML_MAX_ID_LENGTH = 0x42F2,
    ID_EBML_MAX_SIZE_LENGTH = 0x42F3,
    ID_DOCTYPE = 0x4282,
    ID_DOCTYPE_VERSION = 0x4287,
    ID_DOCTYPE_READ_VERSION = 0x4285,
    ID_SEGMENT = 0x18538067,
    ID_INFO = 0x1549A966,
    ID_TIMESTAMP_SCALE = 0x2AD7B1,
    ID_DURATION = 0x4489,
    ID_VOID = 0xEC,
    ID_MUXING_APP = 0x4D80,
    ID_WRITING_APP = 0x5741,
    ID_DATE_UTC = 0x4461,
    ID_TITLE = 0x7BA9,
    ID_TRACKS = 0x1654AE6B,
    ID_TRACK_ENTRY = 0xAE,
    ID_TRACK_NUMBER = 0xD7,
    ID_TRACK_UID = 0x73C5,
    ID_TRACK_TYPE = 0x83,
    ID_FLAG_LACING = 0x9C,
    ID_NAME = 0x536E,
    ID_CODEC_ID = 0x86,
    ID_CODEC_PRIVATE = 0x63A2,
    ID_CODEC_DELAY = 0x56AA,
    ID_SEEK_PREROLL = 0x56BB,
    ID_VIDEO = 0xE0,
    ID_PIXEL_WIDTH = 0xB0,
    ID_PIXEL_HEIGHT = 0xBA,
    ID_AUDIO = 0xE1,
    ID_SAMPLING_FREQUENCY = 0xB5,
    ID_CHANNELS = 0x9F,
    ID_CLUSTER = 0x1F43B675,
    ID_CLUSTER_TIMESTAMP = 0xE7,
    ID_SIMPLE_BLOCK = 0xA3,
};

#define TRACK_TYPE_VIDEO 1
#define TRACK_TYPE_AUDIO 2
/* DateUTC counts from 2001-01-01T00:00:00 UTC (RFC 9559 §5.1.2.8). */
#define MATROSKA_EPOCH_UNIX_MS 978307200000ll
#define VIDEO_CLUSTER_MS 1000 /* a keyframe after this long starts a cluster */
#define AUDIO_CLUSTER_MS 5000
#define BLOCK_OFFSET_MAX 32767 /* SimpleBlock timestamps are int16 relative to the cluster */
#define OPUS_HEAD_LEN 19

struct wrec_webm {
    /* borrowed: */
    wrec_write_fn write;
    void *user;
    /* owned: */
    wrec_ebml_buf header; /* EBML header, Segment start, Info, Tracks */
    wrec_ebml_buf scratch;
    /* state: */
    bool video;
    bool header_written, cluster_open;
    int64_t cluster_ms, last_ms;
    uint64_t bytes;
    int err;              /* the first write error: the writer is finished after it */
    uint64_t duration_at; /* file offset of the Void that a clean end turns into Duration */
};

/* Duration: 2-octet id, size 8 (0x88), an 8-octet float. The Void that holds its place
 * has the same length: 1-octet id, size 9 (0x89), 9 zero octets. */
#define DURATION_ELEMENT_LEN 11

static const char *doctype_for(const char *codec_id, bool *video)
{
    static const struct {
        const char *id, *doctype;
        bool video;
    } known[] = {
        {"V_VP8", "webm", true},
        {"V_VP9", "webm", true},
        {"A_OPUS", "webm", false},
        {"V_MPEG4/ISO/AVC", "matroska", true},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(codec_id, known[i].id) == 0) {
            *video = known[i].video;
            return known[i].doctype;
        }
    }
    return NULL;
}

/* RFC 7845 §5.1: the identification header, channel mapping family 0. */
static void opus_head(uint8_t out[OPUS_HEAD_LEN], uint8_t channels, uint64_t codec_delay_ns)
{
    uint64_t pre_skip = codec_delay_ns * 48000 / 1000000000ull;
    if (pre_skip > 0xffff)
        pre_skip = 0xffff;
    memcpy(out, "OpusHead", 8);
    out[8] = 1; /* version */
    out[9] = channels;
    out[10] = (uint8_t)pre_skip; /* little-endian fields */
    out[11] = (uint8_t)(pre_skip >> 8);
    uint32_t rate = 48000; /* input sample rate: informational */
    for (int i = 0; i < 4; i++)
        out[12 + i] = (uint8_t)(rate >> (8 * i));
    out[16] = 0; /* output gain, Q7.8 */
    out[17] = 0;
    out[18] = 0; /* mapping family 0: mono or stereo */
}

static void build_track(wrec_ebml_buf *b, const wrec_webm_track *t)
{
    wrec_ebml_buf e = {0}, sub = {0};
    wrec_ebml_uint(&e, ID_TRACK_NUMBER, 1);
    wrec_ebml_uint(&e, ID_TRACK_UID, 1);
    wrec_ebml_uint(&e, ID_TRACK_TYPE, t->video ? TRACK_TYPE_VIDEO : TRACK_TYPE_AUDIO);
    wrec_ebml_uint(&e, ID_FLAG_LACING, 0);
    if (t->name && t->name[0])
        wrec_ebml_string(&e, ID_NAME, t->name);
    wrec_ebml_string(&e, ID_CODEC_ID, t->codec_id);
    if (t->codec_private && t->codec_private_len > 0) {
        wrec_ebml_binary(&e, ID_CODEC_PRIVATE, t->codec_private, t->codec_private_len);
    } else if (!t->video && strcmp(t->codec_id, "A_OPUS") == 0) {
        uint8_t head[OPUS_HEAD_LEN];
        opus_head(head, t->channels, t->codec_delay_ns);
        wrec_ebml_binary(&e, ID_CODEC_PRIVATE, head, sizeof head);
    }
    if (t->codec_delay_ns)
        wrec_ebml_uint(&e, ID_CODEC_DELAY, t->codec_delay_ns);
    if (t->seek_preroll_ns)
        wrec_ebml_uint(&e, ID_SEEK_PREROLL, t->seek_preroll_ns);
    if (t->video) {
        wrec_ebml_uint(&sub, ID_PIXEL_WIDTH, t->width);
        wrec_ebml_uint(&sub, ID_PIXEL_HEIGHT, t->height);
        wrec_ebml_master(&e, ID_VIDEO, &sub);
    } else {
        wrec_ebml_float(&sub, ID_SAMPLING_FREQUENCY, (double)t->sample_rate);
        wrec_ebml_uint(&sub, ID_CHANNELS, t->channels);
        wrec_ebml_master(&e, ID_AUDIO, &sub);
    }
    sub.len = 0;
    wrec_ebml_master(&sub, ID_TRACK_ENTRY, &e);
    wrec_ebml_master(b, ID_TRACKS, &sub);
    wrec_ebml_free(&e);
    wrec_ebml_free(&sub);
}

static void build_header(wrec_ebml_buf *b, const char *doctype, const wrec_webm_track *t,
                         const wrec_webm_info *info, uint64_t *duration_at)
{
    wrec_ebml_buf e = {0};
    wrec_ebml_uint(&e, ID_EBML_VERSION, 1);
    wrec_ebml_uint(&e, ID_EBML_READ_VERSION, 1);
    wrec_ebml_uint(&e, ID_EBML_MAX_ID_LENGTH, 4);
    wrec_ebml_uint(&e, ID_EBML_MAX_SIZE_LENGTH, 8);
    wrec_ebml_string(&e, ID_DOCTYPE, doctype);
    wrec_ebml_uint(&e, ID_DOCTYPE_VERSION, 4);      /* CodecDelay, SeekPreRoll */
    wrec_ebml_uint(&e, ID_DOCTYPE_READ_VERSION, 2); /* SimpleBlock */
    wrec_ebml_master(b, ID_EBML, &e);

    wrec_ebml_id(b, ID_SEGMENT);
    wrec_ebml_unknown_size(b);

    const char *app = info && info->app && info->app[0] ? info->app : "weir-recorder";
    e.len = 0;
    wrec_ebml_uint(&e, ID_TIMESTAMP_SCALE, 1000000);
    wrec_ebml_string(&e, ID_MUXING_APP, app);
    wrec_ebml_string(&e, ID_WRITING_APP, app);
    if (info && info->date_utc_ms != 0)
        wrec_ebml_int(&e, ID_DATE_UTC, (info->date_utc_ms - MATROSKA_EPOCH_UNIX_MS) * 1000000);
    if (info && info->title && info->title[0])
        wrec_ebml_string(&e, ID_TITLE, info->title);
    /* Last in Info: the place of the Duration a clean end writes (wrec_webm_duration_patch). */
    size_t void_at = e.len;
    static const uint8_t placeholder[DURATION_ELEMENT_LEN] = {ID_VOID, 0x80 | 9};
    wrec_ebml_bytes(&e, placeholder, sizeof placeholder);
    wrec_ebml_master(b, ID_INFO, &e);
    *duration_at = b->len - e.len + void_at;
    wrec_ebml_free(&e);

    build_track(b, t);
}

static bool track_ok(const wrec_webm_track *t, bool codec_video)
{
    if (t->video != codec_video)
        return false;
    if (t->video)
        return t->width > 0 && t->height > 0 &&
               (strcmp(t->codec_id, "V_MPEG4/ISO/AVC") != 0 ||
                (t->codec_private && t->codec_private_len > 0));
    if (t->sample_rate == 0 || t->channels == 0)
        return false;
    /* Without a given OpusHead ours uses mapping family 0: mono or stereo only. */
    return t->codec_private || t->channels <= 2;
}

wrec_webm *wrec_webm_create(const wrec_webm_track *track, const wrec_webm_info *info,
                            wrec_write_fn write, void *user)
{
    if (!track || !track->codec_id || !write)
        return NULL;
    bool codec_video;
    const char *doctype = doctype_for(track->codec_id, &codec_video);
    if (!doctype || !track_ok(track, codec_video))
        return NULL;
    wrec_webm *w = WEIR_NEW(wrec_webm);
    w->write = write;
    w->user = user;
    w->video = track->video;
    build_header(&w->header, doctype, track, info, &w->duration_at);
    return w;
}

static bool starts_cluster(const wrec_webm *w, int64_t t_ms, bool keyframe)
{
    if (!w->cluster_open)
        return true;
    int64_t span = t_ms - w->cluster_ms;
    if (span > BLOCK_OFFSET_MAX)
        return true;
    return w->video ? (keyframe && span >= VIDEO_CLUSTER_MS) : span >= AUDIO_CLUSTER_MS;
}

int wrec_webm_write_frame(wrec_webm *w, int64_t t_ms, bool keyframe, const uint8_t *data,
                          size_t len)
{
    if (w->err)
        return w->err;
    if (!data || len == 0 || len > WREC_EBML_MAX_SIZE - 4)
        return -WEIR_EINVAL;
    if (t_ms < 0)
        t_ms = 0;
    if ((w->header_written || w->cluster_open) && t_ms < w->last_ms)
        t_ms = w->last_ms;
    bool new_cluster = starts_cluster(w, t_ms, keyframe);
    wrec_ebml_buf *b = &w->scratch;
    b->len = 0;
    if (!w->header_written)
        wrec_ebml_bytes(b, w->header.data, w->header.len);
    if (new_cluster) {
        wrec_ebml_id(b, ID_CLUSTER);
        wrec_ebml_unknown_size(b);
        wrec_ebml_uint(b, ID_CLUSTER_TIMESTAMP, (uint64_t)t_ms);
    }
    int64_t rel = t_ms - (new_cluster ? t_ms : w->cluster_ms);
    /* Every Opus packet decodes on its own (after the pre-roll): audio blocks are all key. */
    uint8_t head[4] = {0x81, (uint8_t)(rel >> 8), (uint8_t)rel,
                       (uint8_t)(keyframe || !w->video ? 0x80 : 0x00)};
    wrec_ebml_id(b, ID_SIMPLE_BLOCK);
    wrec_ebml_size(b, sizeof head + len);
    wrec_ebml_bytes(b, head, sizeof head);
    wrec_ebml_bytes(b, data, len);
    int rc = w->write(w->user, b->data, b->len);
    if (rc < 0) {
        w->err = rc;
        return rc;
    }
    w->bytes += b->len;
    w->header_written = true;
    if (new_cluster) {
        w->cluster_open = true;
        w->cluster_ms = t_ms;
    }
    w->last_ms = t_ms;
    return 0;
}

int wrec_webm_duration_patch(const wrec_webm *w, int64_t duration_ms, uint8_t out[11],
                             uint64_t *offset)
{
    if (!w->header_written || w->err || duration_ms < 0)
        return -WEIR_EINVAL;
    double d = (double)duration_ms;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    out[0] = ID_DURATION >> 8;
    out[1] = ID_DURATION & 0xff;
    out[2] = 0x80 | 8;
    for (int i = 0; i < 8; i++)
        out[3 + i] = (uint8_t)(bits >> (56 - 8 * i));
    *offset = w->duration_at;
    return 0;
}

uint64_t wrec_webm_bytes(const wrec_webm *w)
{
    return w->bytes;
}

void wrec_webm_destroy(wrec_webm *w)
{
    if (!w)
        return;
    wrec_ebml_free(&w->header);
    wrec_ebml_free(&w->scratch);
    weir_free(w);
}
