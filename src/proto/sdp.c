/*
 * The SDP model's memory, builder and lookups. Parsing is in sdp_parse.c and
 * sdp_attr.c, serializing in sdp_write.c.
 *
 * Memory: each weir_sdp owns one arena of chunks; strings, arrays and
 * sections are carved from it and never freed alone, so weir_sdp_free is
 * the one release and error paths cannot leak. Arrays grow by doubling
 * (the old copy stays in the arena until the end); the arena is capped at
 * WEIR_SDP_MAX_MEMORY, so no input can make the parser allocate without
 * bound.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/sdp_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define CHUNK_SIZE 8192
#define ALIGN _Alignof(max_align_t)

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    max_align_t data[]; /* aligned for any type */
};

struct weir_sdp_arena {
    struct chunk *head; /* the chunk small allocations come from */
    size_t total;       /* bytes held, headers included */
};

weir_sdp *weir_sdp_new(void)
{
    weir_sdp *sdp = WEIR_NEW(weir_sdp);
    sdp->arena = WEIR_NEW(struct weir_sdp_arena);
    return sdp;
}

void weir_sdp_free(weir_sdp *sdp)
{
    if (!sdp)
        return;
    for (struct chunk *c = sdp->arena->head, *next; c; c = next) {
        next = c->next;
        weir_free(c);
    }
    weir_free(sdp->arena);
    weir_free(sdp);
}

void *weir_sdp_alloc(weir_sdp *sdp, size_t size, bool align)
{
    struct weir_sdp_arena *a = sdp->arena;
    struct chunk *c = a->head;
    size_t off = 0;
    if (c)
        off = align ? (c->used + ALIGN - 1) / ALIGN * ALIGN : c->used;
    if (!c || off > c->cap || size > c->cap - off) {
        /* Big blocks get a chunk of their own behind the current one, so the
         * current chunk's free space is not thrown away. */
        bool big = size > CHUNK_SIZE / 4;
        size_t cap = big ? size : CHUNK_SIZE;
        if (size > WEIR_SDP_MAX_MEMORY || a->total + sizeof *c + cap > WEIR_SDP_MAX_MEMORY)
            return NULL;
        struct chunk *n = weir_malloc(sizeof *n + cap);
        n->used = 0;
        n->cap = cap;
        a->total += sizeof *n + cap;
        if (big && c) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
        off = 0;
    }
    void *p = (unsigned char *)c->data + off;
    c->used = off + size;
    memset(p, 0, size);
    return p;
}

char *weir_sdp_strndup(weir_sdp *sdp, const char *s, size_t n)
{
    char *d = weir_sdp_alloc(sdp, n + 1, false);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *weir_sdp_strdup(weir_sdp *sdp, const char *s)
{
    return weir_sdp_strndup(sdp, s, strlen(s));
}

void *weir_sdp_push(weir_sdp *sdp, void *arrp, size_t *n, size_t elem)
{
    unsigned char *arr;
    memcpy(&arr, arrp, sizeof arr); /* arrp is a T **; read it without aliasing a void * */
    size_t cnt = *n;
    /* Capacity is implicit: 4, then the next power of two. */
    if (cnt == 0 || (cnt >= 4 && (cnt & (cnt - 1)) == 0)) {
        size_t cap = cnt ? cnt * 2 : 4;
        if (elem && cap > WEIR_SDP_MAX_MEMORY / elem)
            return NULL;
        unsigned char *grown = weir_sdp_alloc(sdp, cap * elem, true);
        if (!grown)
            return NULL;
        if (cnt)
            memcpy(grown, arr, cnt * elem);
        arr = grown;
        memcpy(arrp, &arr, sizeof arr);
    }
    *n = cnt + 1;
    return arr + cnt * elem; /* zeroed: fresh from the arena */
}

/* ---- building ---- */

weir_sdp *weir_sdp_create(uint64_t sess_id, uint64_t sess_version)
{
    weir_sdp *sdp = weir_sdp_new();
    /* A fresh arena has room for these; they cannot fail. */
    sdp->origin = (weir_sdp_origin){
        .username = weir_sdp_strdup(sdp, "-"),
        .sess_id = sess_id,
        .sess_version = sess_version,
        .nettype = weir_sdp_strdup(sdp, "IN"),
        .addrtype = weir_sdp_strdup(sdp, "IP4"),
        .address = weir_sdp_strdup(sdp, "127.0.0.1"),
    };
    sdp->session_name = weir_sdp_strdup(sdp, "-");
    return sdp;
}

/* Reports a builder failure the way weir_sdp_parse reports a bad line. */
static int report(int rc, const char *why, char *err, size_t err_len)
{
    if (rc < 0 && err && err_len)
        snprintf(err, err_len, "%s", why);
    return rc;
}

weir_sdp_media *weir_sdp_add_media(weir_sdp *sdp, const char *media, uint16_t port,
                                   const char *proto)
{
    if (strpbrk(media, " \t\r\n") || strpbrk(proto, " \t\r\n"))
        return NULL;
    size_t cap = strlen(media) + strlen(proto) + 16;
    char *line = weir_malloc(cap);
    snprintf(line, cap, "%s %u %s", media, (unsigned)port, proto);
    const char *why;
    int rc = weir_sdp_parse_media_line(sdp, line, &why);
    weir_free(line);
    return rc < 0 ? NULL : sdp->media[sdp->n_media - 1];
}

int weir_sdp_media_add_format(weir_sdp *sdp, weir_sdp_media *m, const char *format)
{
    const char *why;
    return weir_sdp_media_push_format(sdp, m, format, &why);
}

int weir_sdp_media_add_codec(weir_sdp *sdp, weir_sdp_media *m, unsigned pt, const char *encoding,
                             uint32_t clock_rate_hz, unsigned channels, const char *fmtp)
{
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%u", pt);
    int rc = weir_sdp_media_add_format(sdp, m, fmt);
    if (rc == 0 && channels)
        rc = weir_sdp_add_attributef(sdp, m, "rtpmap:%u %s/%u/%u", pt, encoding,
                                     (unsigned)clock_rate_hz, channels);
    else if (rc == 0)
        rc = weir_sdp_add_attributef(sdp, m, "rtpmap:%u %s/%u", pt, encoding,
                                     (unsigned)clock_rate_hz);
    if (rc == 0 && fmtp)
        rc = weir_sdp_add_attributef(sdp, m, "fmtp:%u %s", pt, fmtp);
    return rc;
}

int weir_sdp_add_attribute(weir_sdp *sdp, weir_sdp_media *m, const char *attr, char *err,
                           size_t err_len)
{
    /* The writer puts values back verbatim: a line break would split the line. */
    if (strpbrk(attr, "\r\n"))
        return report(-WEIR_EINVAL, "line break in attribute", err, err_len);
    char *copy = weir_strdup(attr);
    const char *why = NULL;
    int rc = weir_sdp_parse_attribute(sdp, m, copy, &why);
    weir_free(copy);
    return report(rc, why, err, err_len);
}

int weir_sdp_add_attributef(weir_sdp *sdp, weir_sdp_media *m, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -WEIR_EINVAL;
    if ((size_t)n < sizeof small)
        return weir_sdp_add_attribute(sdp, m, small, NULL, 0);
    char *attr = weir_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(attr, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = weir_sdp_add_attribute(sdp, m, attr, NULL, 0);
    weir_free(attr);
    return rc;
}

/* ---- lookups ---- */

const weir_sdp_group *weir_sdp_find_group(const weir_sdp *sdp, const char *semantics)
{
    for (size_t i = 0; i < sdp->n_groups; i++)
        if (!strcmp(sdp->groups[i].semantics, semantics))
            return &sdp->groups[i];
    return NULL;
}

weir_sdp_media *weir_sdp_find_media(const weir_sdp *sdp, const char *mid)
{
    for (size_t i = 0; i < sdp->n_media; i++)
        if (sdp->media[i]->mid && !strcmp(sdp->media[i]->mid, mid))
            return sdp->media[i];
    return NULL;
}

weir_sdp_direction weir_sdp_media_direction(const weir_sdp *sdp, const weir_sdp_media *m)
{
    if (m->direction != WEIR_SDP_DIR_NONE)
        return m->direction;
    return sdp->direction != WEIR_SDP_DIR_NONE ? sdp->direction : WEIR_SDP_SENDRECV;
}

void weir_sdp_media_transport(const weir_sdp *sdp, const weir_sdp_media *m, weir_sdp_transport *out)
{
    const weir_sdp_transport *s = &sdp->transport, *t = &m->transport;
    out->ice_ufrag = t->ice_ufrag ? t->ice_ufrag : s->ice_ufrag;
    out->ice_pwd = t->ice_pwd ? t->ice_pwd : s->ice_pwd;
    out->ice_options = t->ice_options ? t->ice_options : s->ice_options;
    out->ice_trickle = t->ice_options ? t->ice_trickle : s->ice_trickle;
    out->fingerprints = t->n_fingerprints ? t->fingerprints : s->fingerprints;
    out->n_fingerprints = t->n_fingerprints ? t->n_fingerprints : s->n_fingerprints;
    out->setup = t->setup != WEIR_SDP_SETUP_NONE ? t->setup : s->setup;
}

const weir_sdp_rtpmap *weir_sdp_media_find_rtpmap(const weir_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->n_rtpmaps; i++)
        if (m->rtpmaps[i].pt == pt)
            return &m->rtpmaps[i];
    return NULL;
}

const char *weir_sdp_media_find_fmtp(const weir_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->n_fmtps; i++)
        if (m->fmtps[i].pt == pt)
            return m->fmtps[i].params;
    return NULL;
}

int weir_sdp_fmtp_param(const char *params, const char *key, const char **value, size_t *len)
{
    size_t key_len = strlen(key);
    for (const char *p = params; p && *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t seg = strcspn(p, ";");
        const char *eq = memchr(p, '=', seg);
        if (eq) {
            size_t k = (size_t)(eq - p);
            while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
                k--;
            if (k == key_len && !strncasecmp(p, key, k)) {
                const char *v = eq + 1, *end = p + seg;
                while (v < end && (*v == ' ' || *v == '\t'))
                    v++;
                while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                    end--;
                *value = v;
                *len = (size_t)(end - v);
                return 1;
            }
        }
        p += seg + (p[seg] == ';');
    }
    return 0;
}

int weir_sdp_fmtp_param_uint(const char *params, const char *key, uint32_t *out)
{
    const char *v;
    size_t len;
    if (!weir_sdp_fmtp_param(params, key, &v, &len) || len == 0 || len > 10)
        return 0;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n > UINT32_MAX)
        return 0;
    *out = (uint32_t)n;
    return 1;
}

int weir_sdp_media_rtx_pt(const weir_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->n_rtpmaps; i++) {
        const weir_sdp_rtpmap *r = &m->rtpmaps[i];
        uint32_t apt;
        if (!strcasecmp(r->encoding, "rtx") &&
            weir_sdp_fmtp_param_uint(weir_sdp_media_find_fmtp(m, r->pt), "apt", &apt) && apt == pt)
            return r->pt;
    }
    return -1;
}

int weir_sdp_media_extmap_id(const weir_sdp_media *m, const char *uri)
{
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (!strcmp(m->extmaps[i].uri, uri))
            return m->extmaps[i].id;
    return 0;
}

bool weir_sdp_media_has_rtcp_fb(const weir_sdp_media *m, unsigned pt, const char *type,
                                const char *subtype)
{
    for (size_t i = 0; i < m->n_rtcp_fbs; i++) {
        const weir_sdp_rtcp_fb *fb = &m->rtcp_fbs[i];
        if ((fb->pt < 0 || (unsigned)fb->pt == pt) && !strcmp(fb->type, type) &&
            (subtype ? fb->subtype && !strcmp(fb->subtype, subtype) : !fb->subtype))
            return true;
    }
    return false;
}

const char *weir_sdp_direction_name(weir_sdp_direction d)
{
    static const char *const names[] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};
    return (unsigned)d < 5 ? names[d] : "";
}

const char *weir_sdp_setup_name(weir_sdp_setup s)
{
    static const char *const names[] = {"", "actpass", "active", "passive", "holdconn"};
    return (unsigned)s < 5 ? names[s] : "";
}

/* ---- equality ---- */

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Both arrays have n elements and eq() holds pairwise. */
#define ARRAYS_EQ(a, b, field, n_field, eq)                                                        \
    array_eq((a)->field, (b)->field, (a)->n_field, (b)->n_field, sizeof *(a)->field, eq)

static bool array_eq(const void *a, const void *b, size_t na, size_t nb, size_t elem,
                     bool (*eq)(const void *, const void *))
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!eq((const char *)a + i * elem, (const char *)b + i * elem))
            return false;
    return true;
}

static bool strp_eq(const void *a, const void *b)
{
    return str_eq(*(const char *const *)a, *(const char *const *)b);
}

static bool u8_eq(const void *va, const void *vb)
{
    const uint8_t *a = va, *b = vb;
    return *a == *b;
}

static bool u32_eq(const void *va, const void *vb)
{
    const uint32_t *a = va, *b = vb;
    return *a == *b;
}

static bool line_eq(const void *va, const void *vb)
{
    const weir_sdp_line *a = va, *b = vb;
    return a->type == b->type && str_eq(a->value, b->value);
}

static bool attr_eq(const void *va, const void *vb)
{
    const weir_sdp_attr *a = va, *b = vb;
    return str_eq(a->name, b->name) && str_eq(a->value, b->value);
}

static bool conn_eq(const void *va, const void *vb)
{
    const weir_sdp_connection *a = va, *b = vb;
    return str_eq(a->nettype, b->nettype) && str_eq(a->addrtype, b->addrtype) &&
           str_eq(a->address, b->address);
}

static bool fp_eq(const void *va, const void *vb)
{
    const weir_sdp_fingerprint *a = va, *b = vb;
    return str_eq(a->hash, b->hash) && str_eq(a->value, b->value);
}

static bool transport_eq(const void *va, const void *vb)
{
    const weir_sdp_transport *a = va, *b = vb;
    return str_eq(a->ice_ufrag, b->ice_ufrag) && str_eq(a->ice_pwd, b->ice_pwd) &&
           str_eq(a->ice_options, b->ice_options) && a->ice_trickle == b->ice_trickle &&
           a->setup == b->setup && ARRAYS_EQ(a, b, fingerprints, n_fingerprints, fp_eq);
}

static bool group_eq(const void *va, const void *vb)
{
    const weir_sdp_group *a = va, *b = vb;
    return str_eq(a->semantics, b->semantics) && ARRAYS_EQ(a, b, mids, n_mids, strp_eq);
}

static bool cand_eq(const void *va, const void *vb)
{
    const weir_sdp_candidate *a = va, *b = vb;
    return str_eq(a->foundation, b->foundation) && a->component == b->component &&
           str_eq(a->transport, b->transport) && a->priority == b->priority &&
           str_eq(a->address, b->address) && a->port == b->port && str_eq(a->type, b->type) &&
           str_eq(a->raddr, b->raddr) && a->rport == b->rport && str_eq(a->tcptype, b->tcptype) &&
           str_eq(a->extensions, b->extensions);
}

static bool rtpmap_eq(const void *va, const void *vb)
{
    const weir_sdp_rtpmap *a = va, *b = vb;
    return a->pt == b->pt && str_eq(a->encoding, b->encoding) &&
           a->clock_rate_hz == b->clock_rate_hz && a->channels == b->channels;
}

static bool fmtp_eq(const void *va, const void *vb)
{
    const weir_sdp_fmtp *a = va, *b = vb;
    return a->pt == b->pt && str_eq(a->params, b->params);
}

static bool fb_eq(const void *va, const void *vb)
{
    const weir_sdp_rtcp_fb *a = va, *b = vb;
    return a->pt == b->pt && str_eq(a->type, b->type) && str_eq(a->subtype, b->subtype);
}

static bool extmap_eq(const void *va, const void *vb)
{
    const weir_sdp_extmap *a = va, *b = vb;
    return a->id == b->id && a->direction == b->direction && str_eq(a->uri, b->uri) &&
           str_eq(a->attributes, b->attributes);
}

static bool msid_eq(const void *va, const void *vb)
{
    const weir_sdp_msid *a = va, *b = vb;
    return str_eq(a->stream_id, b->stream_id) && str_eq(a->track_id, b->track_id);
}

static bool ssrc_eq(const void *va, const void *vb)
{
    const weir_sdp_ssrc *a = va, *b = vb;
    return a->ssrc == b->ssrc && str_eq(a->attribute, b->attribute) && str_eq(a->value, b->value);
}

static bool ssrc_group_eq(const void *va, const void *vb)
{
    const weir_sdp_ssrc_group *a = va, *b = vb;
    return str_eq(a->semantics, b->semantics) && ARRAYS_EQ(a, b, ssrcs, n_ssrcs, u32_eq);
}

static bool rid_eq(const void *va, const void *vb)
{
    const weir_sdp_rid *a = va, *b = vb;
    return str_eq(a->id, b->id) && a->direction == b->direction &&
           str_eq(a->restrictions, b->restrictions);
}

static bool sc_alt_eq(const void *va, const void *vb)
{
    const weir_sdp_sc_alt *a = va, *b = vb;
    return str_eq(a->rid, b->rid) && a->paused == b->paused;
}

static bool sc_stream_eq(const void *va, const void *vb)
{
    const weir_sdp_sc_stream *a = va, *b = vb;
    return ARRAYS_EQ(a, b, alts, n_alts, sc_alt_eq);
}

static bool simulcast_eq(const void *va, const void *vb)
{
    const weir_sdp_simulcast *a = va, *b = vb;
    return a->present == b->present && ARRAYS_EQ(a, b, send, n_send, sc_stream_eq) &&
           ARRAYS_EQ(a, b, recv, n_recv, sc_stream_eq);
}

static bool media_eq(const void *va, const void *vb)
{
    const weir_sdp_media *a = *(const weir_sdp_media *const *)va;
    const weir_sdp_media *b = *(const weir_sdp_media *const *)vb;
    return a->kind == b->kind && str_eq(a->media, b->media) && a->port == b->port &&
           a->num_ports == b->num_ports && str_eq(a->proto, b->proto) && a->is_rtp == b->is_rtp &&
           ARRAYS_EQ(a, b, formats, n_formats, strp_eq) && ARRAYS_EQ(a, b, pts, n_pts, u8_eq) &&
           conn_eq(&a->connection, &b->connection) && a->rtcp_port == b->rtcp_port &&
           conn_eq(&a->rtcp_address, &b->rtcp_address) && str_eq(a->mid, b->mid) &&
           a->direction == b->direction && a->rtcp_mux == b->rtcp_mux &&
           a->rtcp_rsize == b->rtcp_rsize && a->extmap_allow_mixed == b->extmap_allow_mixed &&
           a->end_of_candidates == b->end_of_candidates &&
           transport_eq(&a->transport, &b->transport) &&
           ARRAYS_EQ(a, b, candidates, n_candidates, cand_eq) &&
           ARRAYS_EQ(a, b, rtpmaps, n_rtpmaps, rtpmap_eq) &&
           ARRAYS_EQ(a, b, fmtps, n_fmtps, fmtp_eq) &&
           ARRAYS_EQ(a, b, rtcp_fbs, n_rtcp_fbs, fb_eq) &&
           ARRAYS_EQ(a, b, extmaps, n_extmaps, extmap_eq) &&
           ARRAYS_EQ(a, b, msids, n_msids, msid_eq) && ARRAYS_EQ(a, b, ssrcs, n_ssrcs, ssrc_eq) &&
           ARRAYS_EQ(a, b, ssrc_groups, n_ssrc_groups, ssrc_group_eq) &&
           ARRAYS_EQ(a, b, rids, n_rids, rid_eq) && simulcast_eq(&a->simulcast, &b->simulcast) &&
           a->sctp_port == b->sctp_port && a->max_message_size == b->max_message_size &&
           ARRAYS_EQ(a, b, attrs, n_attrs, attr_eq) && ARRAYS_EQ(a, b, lines, n_lines, line_eq);
}

bool weir_sdp_equal(const weir_sdp *a, const weir_sdp *b)
{
    const weir_sdp_origin *oa = &a->origin, *ob = &b->origin;
    return str_eq(oa->username, ob->username) && oa->sess_id == ob->sess_id &&
           oa->sess_version == ob->sess_version && str_eq(oa->nettype, ob->nettype) &&
           str_eq(oa->addrtype, ob->addrtype) && str_eq(oa->address, ob->address) &&
           str_eq(a->session_name, b->session_name) && a->start_time == b->start_time &&
           a->stop_time == b->stop_time && conn_eq(&a->connection, &b->connection) &&
           transport_eq(&a->transport, &b->transport) && a->direction == b->direction &&
           ARRAYS_EQ(a, b, groups, n_groups, group_eq) &&
           str_eq(a->msid_semantic, b->msid_semantic) &&
           str_eq(a->msid_semantic_ids, b->msid_semantic_ids) &&
           a->extmap_allow_mixed == b->extmap_allow_mixed &&
           ARRAYS_EQ(a, b, attrs, n_attrs, attr_eq) && ARRAYS_EQ(a, b, lines, n_lines, line_eq) &&
           ARRAYS_EQ(a, b, media, n_media, media_eq);
}
