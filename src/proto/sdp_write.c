/*
 * Model -> SDP text, CRLF line ends (RFC 8866 §5). Lines go out in the
 * order RFC 8866 prescribes for line types, and attributes in one fixed
 * order close to Chromium's; entries of one kind keep the model's order,
 * which is what makes parse(write(x)) equal to x.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/sdp_internal.h"
#include "weir/alloc.h"

typedef struct out {
    char *buf;
    size_t len;
    size_t cap;
} out;

__attribute__((format(printf, 2, 3))) static void put(out *o, const char *fmt, ...)
{
    /* Print into the free space; grow and print again only when it did not fit. */
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        o->cap = (o->len + (size_t)n + 1) * 2;
        o->buf = weir_realloc(o->buf, o->cap);
    }
}

/* The raw lines whose type is in types, in model order. */
static void put_lines(out *o, const weir_sdp_line *lines, size_t n, const char *types)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(types, lines[i].type))
            put(o, "%c=%s\r\n", lines[i].type, lines[i].value);
}

static void put_attrs(out *o, const weir_sdp_attr *attrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (attrs[i].value)
            put(o, "a=%s:%s\r\n", attrs[i].name, attrs[i].value);
        else
            put(o, "a=%s\r\n", attrs[i].name);
    }
}

static void put_connection(out *o, const weir_sdp_connection *c)
{
    if (c->address)
        put(o, "c=%s %s %s\r\n", c->nettype, c->addrtype, c->address);
}

static void put_direction(out *o, weir_sdp_direction d)
{
    if (d != WEIR_SDP_DIR_NONE)
        put(o, "a=%s\r\n", weir_sdp_direction_name(d));
}

static void put_transport(out *o, const weir_sdp_transport *t)
{
    if (t->ice_ufrag)
        put(o, "a=ice-ufrag:%s\r\n", t->ice_ufrag);
    if (t->ice_pwd)
        put(o, "a=ice-pwd:%s\r\n", t->ice_pwd);
    if (t->ice_options)
        put(o, "a=ice-options:%s\r\n", t->ice_options);
    for (size_t i = 0; i < t->n_fingerprints; i++)
        put(o, "a=fingerprint:%s %s\r\n", t->fingerprints[i].hash, t->fingerprints[i].value);
    if (t->setup != WEIR_SDP_SETUP_NONE)
        put(o, "a=setup:%s\r\n", weir_sdp_setup_name(t->setup));
}

static void put_candidate(out *o, const weir_sdp_candidate *c)
{
    put(o, "a=candidate:%s %" PRIu32 " %s %" PRIu32 " %s %u typ %s", c->foundation, c->component,
        c->transport, c->priority, c->address, (unsigned)c->port, c->type);
    if (c->raddr)
        put(o, " raddr %s", c->raddr);
    if (c->rport >= 0)
        put(o, " rport %d", (int)c->rport);
    if (c->tcptype)
        put(o, " tcptype %s", c->tcptype);
    if (c->extensions)
        put(o, " %s", c->extensions);
    put(o, "\r\n");
}

static void put_extmap(out *o, const weir_sdp_extmap *e)
{
    put(o, "a=extmap:%u", (unsigned)e->id);
    if (e->direction != WEIR_SDP_DIR_NONE)
        put(o, "/%s", weir_sdp_direction_name(e->direction));
    put(o, " %s%s%s\r\n", e->uri, e->attributes ? " " : "", e->attributes ? e->attributes : "");
}

static void put_rtpmap(out *o, const weir_sdp_rtpmap *r)
{
    put(o, "a=rtpmap:%u %s/%" PRIu32, (unsigned)r->pt, r->encoding, r->clock_rate_hz);
    if (r->channels)
        put(o, "/%u", (unsigned)r->channels);
    put(o, "\r\n");
}

static void put_rtcp_fb(out *o, const weir_sdp_rtcp_fb *fb)
{
    if (fb->pt < 0)
        put(o, "a=rtcp-fb:*");
    else
        put(o, "a=rtcp-fb:%d", fb->pt);
    put(o, " %s%s%s\r\n", fb->type, fb->subtype ? " " : "", fb->subtype ? fb->subtype : "");
}

static void put_fmtp(out *o, const weir_sdp_fmtp *f)
{
    put(o, "a=fmtp:%u %s\r\n", (unsigned)f->pt, f->params);
}

/*
 * Each rtpmap followed by the rtcp-fb and fmtp lines of its payload type
 * that come next in their own arrays (Chromium's layout), then what is
 * left of those arrays: every array's order is kept either way.
 */
static void put_codecs(out *o, const weir_sdp_media *m)
{
    size_t fb = 0, fp = 0;
    for (size_t i = 0; i < m->n_rtpmaps; i++) {
        int pt = m->rtpmaps[i].pt;
        put_rtpmap(o, &m->rtpmaps[i]);
        for (; fb < m->n_rtcp_fbs && m->rtcp_fbs[fb].pt == pt; fb++)
            put_rtcp_fb(o, &m->rtcp_fbs[fb]);
        for (; fp < m->n_fmtps && m->fmtps[fp].pt == pt; fp++)
            put_fmtp(o, &m->fmtps[fp]);
    }
    for (; fb < m->n_rtcp_fbs; fb++)
        put_rtcp_fb(o, &m->rtcp_fbs[fb]);
    for (; fp < m->n_fmtps; fp++)
        put_fmtp(o, &m->fmtps[fp]);
}

static void put_sc_list(out *o, const char *dir, const weir_sdp_sc_stream *s, size_t n)
{
    put(o, "%s", dir);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < s[i].n_alts; j++) {
            const char *sep = j ? "," : ";"; /* RFC 8853: ';' between streams, ',' alternatives */
            put(o, "%s%s%s", i || j ? sep : "", s[i].alts[j].paused ? "~" : "", s[i].alts[j].rid);
        }
    }
}

static void put_simulcast(out *o, const weir_sdp_simulcast *sc)
{
    if (!sc->present)
        return;
    put(o, "a=simulcast:");
    if (sc->n_send)
        put_sc_list(o, "send ", sc->send, sc->n_send);
    if (sc->n_recv)
        put_sc_list(o, sc->n_send ? " recv " : "recv ", sc->recv, sc->n_recv);
    put(o, "\r\n");
}

static void put_ssrcs(out *o, const weir_sdp_media *m)
{
    for (size_t i = 0; i < m->n_ssrc_groups; i++) {
        put(o, "a=ssrc-group:%s", m->ssrc_groups[i].semantics);
        for (size_t j = 0; j < m->ssrc_groups[i].n_ssrcs; j++)
            put(o, " %" PRIu32, m->ssrc_groups[i].ssrcs[j]);
        put(o, "\r\n");
    }
    for (size_t i = 0; i < m->n_ssrcs; i++) {
        const weir_sdp_ssrc *s = &m->ssrcs[i];
        put(o, "a=ssrc:%" PRIu32 " %s%s%s\r\n", s->ssrc, s->attribute, s->value ? ":" : "",
            s->value ? s->value : "");
    }
}

static void put_media(out *o, const weir_sdp_media *m)
{
    put(o, "m=%s %u", m->media, (unsigned)m->port);
    if (m->num_ports)
        put(o, "/%u", (unsigned)m->num_ports);
    put(o, " %s", m->proto);
    for (size_t i = 0; i < m->n_formats; i++)
        put(o, " %s", m->formats[i]);
    put(o, "\r\n");
    put_lines(o, m->lines, m->n_lines, "i");
    put_connection(o, &m->connection);
    put_lines(o, m->lines, m->n_lines, "bk");
    if (m->rtcp_port >= 0) {
        put(o, "a=rtcp:%d", (int)m->rtcp_port);
        if (m->rtcp_address.address)
            put(o, " %s %s %s", m->rtcp_address.nettype, m->rtcp_address.addrtype,
                m->rtcp_address.address);
        put(o, "\r\n");
    }

    for (size_t i = 0; i < m->n_candidates; i++)
        put_candidate(o, &m->candidates[i]);
    if (m->end_of_candidates)
        put(o, "a=end-of-candidates\r\n");
    put_transport(o, &m->transport);
    if (m->mid)
        put(o, "a=mid:%s\r\n", m->mid);
    if (m->extmap_allow_mixed)
        put(o, "a=extmap-allow-mixed\r\n");
    for (size_t i = 0; i < m->n_extmaps; i++)
        put_extmap(o, &m->extmaps[i]);
    put_direction(o, m->direction);
    for (size_t i = 0; i < m->n_msids; i++)
        put(o, "a=msid:%s%s%s\r\n", m->msids[i].stream_id, m->msids[i].track_id ? " " : "",
            m->msids[i].track_id ? m->msids[i].track_id : "");
    if (m->rtcp_mux)
        put(o, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
        put(o, "a=rtcp-rsize\r\n");
    put_attrs(o, m->attrs, m->n_attrs);
    put_codecs(o, m);
    for (size_t i = 0; i < m->n_rids; i++)
        put(o, "a=rid:%s %s%s%s\r\n", m->rids[i].id,
            m->rids[i].direction == WEIR_SDP_RID_SEND ? "send" : "recv",
            m->rids[i].restrictions ? " " : "",
            m->rids[i].restrictions ? m->rids[i].restrictions : "");
    put_simulcast(o, &m->simulcast);
    put_ssrcs(o, m);
    if (m->sctp_port >= 0)
        put(o, "a=sctp-port:%d\r\n", (int)m->sctp_port);
    if (m->max_message_size >= 0)
        put(o, "a=max-message-size:%" PRId64 "\r\n", m->max_message_size);
}

char *weir_sdp_write(const weir_sdp *sdp, size_t *len)
{
    out o = {.buf = weir_malloc(4096), .cap = 4096};
    const weir_sdp_origin *org = &sdp->origin;
    put(&o, "v=0\r\n");
    put(&o, "o=%s %" PRIu64 " %" PRIu64 " %s %s %s\r\n", org->username, org->sess_id,
        org->sess_version, org->nettype, org->addrtype, org->address);
    put(&o, "s=%s\r\n", sdp->session_name ? sdp->session_name : "-");
    put_lines(&o, sdp->lines, sdp->n_lines, "iuep");
    put_connection(&o, &sdp->connection);
    put_lines(&o, sdp->lines, sdp->n_lines, "b");
    put(&o, "t=%" PRIu64 " %" PRIu64 "\r\n", sdp->start_time, sdp->stop_time);
    put_lines(&o, sdp->lines, sdp->n_lines, "tr"); /* r= belongs to the t= before it */
    put_lines(&o, sdp->lines, sdp->n_lines, "z");
    put_lines(&o, sdp->lines, sdp->n_lines, "k");

    for (size_t i = 0; i < sdp->n_groups; i++) {
        put(&o, "a=group:%s", sdp->groups[i].semantics);
        for (size_t j = 0; j < sdp->groups[i].n_mids; j++)
            put(&o, " %s", sdp->groups[i].mids[j]);
        put(&o, "\r\n");
    }
    if (sdp->extmap_allow_mixed)
        put(&o, "a=extmap-allow-mixed\r\n");
    /* Chromium's spelling, with a space after the colon. */
    if (sdp->msid_semantic)
        put(&o, "a=msid-semantic: %s%s%s\r\n", sdp->msid_semantic,
            sdp->msid_semantic_ids ? " " : "",
            sdp->msid_semantic_ids ? sdp->msid_semantic_ids : "");
    put_transport(&o, &sdp->transport);
    put_direction(&o, sdp->direction);
    put_attrs(&o, sdp->attrs, sdp->n_attrs);
    for (size_t i = 0; i < sdp->n_media; i++)
        put_media(&o, sdp->media[i]);
    if (len)
        *len = o.len;
    return o.buf;
}
