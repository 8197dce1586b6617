/*
 * SDP attributes (RFC 8866 §6 and the WebRTC ones JSEP, RFC 8829 §5.8,
 * relies on) -> model. Single-valued attributes may appear once per level;
 * unknown attributes, and known ones at a level where they mean nothing,
 * are kept raw so the model loses nothing.
 *
 * Every handler validates before it touches the model, so a failed
 * attribute leaves the model as it was; the builder relies on that.
 */
#include <stdio.h>
#include <string.h>

#include "proto/sdp_internal.h"
#include "weir/errors.h"

#define FAIL(reason) (*why = (reason), -WEIR_EINVAL)
#define NOMEM() (*why = "memory limit reached", -WEIR_ETOOBIG)

enum { AT_SESSION = 1, AT_MEDIA = 2, AT_BOTH = 3 };

#define MAX_CAND_EXT 16 /* name/value pairs after "typ"; browsers send three or four */

typedef int (*attr_fn)(weir_sdp *sdp, weir_sdp_media *m, char *value, const char **why);

static weir_sdp_transport *transport_of(weir_sdp *sdp, weir_sdp_media *m)
{
    return m ? &m->transport : &sdp->transport;
}

static weir_sdp_direction direction_of(const char *s)
{
    static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return (weir_sdp_direction)(WEIR_SDP_SENDRECV + i);
    return WEIR_SDP_DIR_NONE;
}

/* ---- session and transport attributes ---- */

static int attr_group(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)m;
    char *sem = next_token(&v);
    if (!is_token(sem))
        return FAIL("a=group: bad semantics");
    const char *mids[WEIR_SDP_MAX_LIST];
    size_t n = 0;
    for (char *t; (t = next_token(&v));) {
        if (n == WEIR_SDP_MAX_LIST)
            return (*why = "a=group: too many mids", -WEIR_ETOOBIG);
        if (!is_token(t))
            return FAIL("a=group: bad mid");
        mids[n++] = t;
    }
    weir_sdp_group g = {.semantics = weir_sdp_strdup(sdp, sem), .n_mids = 0};
    if (!g.semantics)
        return NOMEM();
    for (size_t i = 0; i < n; i++) {
        const char **slot = WEIR_SDP_PUSH(sdp, g.mids, g.n_mids);
        if (!slot || !(*slot = weir_sdp_strdup(sdp, mids[i])))
            return NOMEM();
    }
    weir_sdp_group *dst = WEIR_SDP_PUSH(sdp, sdp->groups, sdp->n_groups);
    if (!dst)
        return NOMEM();
    *dst = g;
    return 0;
}

static int attr_msid_semantic(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)m;
    /* Chromium writes "a=msid-semantic: WMS <ids>", with a space first. */
    char *sem = next_token(&v);
    char *ids = rest_of(&v);
    if (!is_token(sem))
        return FAIL("a=msid-semantic: bad semantics");
    if (sdp->msid_semantic)
        return FAIL("a=msid-semantic: duplicate");
    const char *s = weir_sdp_strdup(sdp, sem);
    const char *i = ids ? weir_sdp_strdup(sdp, ids) : NULL;
    if (!s || (ids && !i))
        return NOMEM();
    sdp->msid_semantic = s;
    sdp->msid_semantic_ids = i;
    return 0;
}

static int attr_ice_ufrag(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_transport *t = transport_of(sdp, m);
    char *u = next_token(&v);
    if (!u || next_token(&v))
        return FAIL("a=ice-ufrag: bad value");
    if (t->ice_ufrag)
        return FAIL("a=ice-ufrag: duplicate");
    return (t->ice_ufrag = weir_sdp_strdup(sdp, u)) ? 0 : NOMEM();
}

static int attr_ice_pwd(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_transport *t = transport_of(sdp, m);
    char *p = next_token(&v);
    if (!p || next_token(&v))
        return FAIL("a=ice-pwd: bad value");
    if (t->ice_pwd)
        return FAIL("a=ice-pwd: duplicate");
    return (t->ice_pwd = weir_sdp_strdup(sdp, p)) ? 0 : NOMEM();
}

static int attr_ice_options(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_transport *t = transport_of(sdp, m);
    char *opts = rest_of(&v);
    if (!opts)
        return FAIL("a=ice-options: missing value");
    if (t->ice_options)
        return FAIL("a=ice-options: duplicate");
    const char *copy = weir_sdp_strdup(sdp, opts);
    if (!copy)
        return NOMEM();
    bool trickle = false; /* RFC 8840 §4.1.1 */
    for (char *tok; (tok = next_token(&opts));)
        trickle = trickle || !strcmp(tok, "trickle");
    t->ice_options = copy;
    t->ice_trickle = trickle;
    return 0;
}

static int attr_fingerprint(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_transport *t = transport_of(sdp, m);
    char *hash = next_token(&v);
    char *fp = next_token(&v);
    if (!is_token(hash) || !fp || next_token(&v))
        return FAIL("a=fingerprint: expected <hash> <value>");
    weir_sdp_fingerprint f = {weir_sdp_strdup(sdp, hash), weir_sdp_strdup(sdp, fp)};
    weir_sdp_fingerprint *dst;
    if (!f.hash || !f.value || !(dst = WEIR_SDP_PUSH(sdp, t->fingerprints, t->n_fingerprints)))
        return NOMEM();
    *dst = f;
    return 0;
}

static int attr_setup(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    static const char *const names[] = {"actpass", "active", "passive", "holdconn"};
    weir_sdp_transport *t = transport_of(sdp, m);
    char *s = next_token(&v);
    if (!s || next_token(&v))
        return FAIL("a=setup: bad value");
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, names[i]))
            continue;
        if (t->setup != WEIR_SDP_SETUP_NONE)
            return FAIL("a=setup: duplicate");
        t->setup = (weir_sdp_setup)(WEIR_SDP_SETUP_ACTPASS + i);
        return 0;
    }
    return FAIL("a=setup: unknown role");
}

/* ---- media attributes ---- */

static int attr_mid(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *mid = next_token(&v);
    if (!is_token(mid) || next_token(&v))
        return FAIL("a=mid: bad value");
    if (m->mid)
        return FAIL("a=mid: duplicate");
    return (m->mid = weir_sdp_strdup(sdp, mid)) ? 0 : NOMEM();
}

/* RFC 3605: rtcp:<port> [<nettype> <addrtype> <address>]. JSEP offers carry
 * "9 IN IP4 0.0.0.0", meaningless with rtcp-mux but still sent. */
static int attr_rtcp(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    uint32_t port;
    if (!to_u32(next_token(&v), 65535, &port))
        return FAIL("a=rtcp: bad port");
    char *net = next_token(&v), *addrtype = next_token(&v), *addr = next_token(&v);
    if ((net && (!is_token(net) || !is_token(addrtype) || !addr)) || next_token(&v))
        return FAIL("a=rtcp: expected <port> [<nettype> <addrtype> <address>]");
    if (m->rtcp_port >= 0)
        return FAIL("a=rtcp: duplicate");
    weir_sdp_connection c = {0};
    if (net && (!(c.nettype = weir_sdp_strdup(sdp, net)) ||
                !(c.addrtype = weir_sdp_strdup(sdp, addrtype)) ||
                !(c.address = weir_sdp_strdup(sdp, addr))))
        return NOMEM();
    m->rtcp_port = (int32_t)port;
    m->rtcp_address = c;
    return 0;
}

/* RFC 8839 §5.1; tcptype is RFC 6544's extension. */
static int attr_candidate(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_candidate c = {.rport = -1};
    char *f[8];
    for (size_t i = 0; i < 8; i++)
        if (!(f[i] = next_token(&v)))
            return FAIL("a=candidate: too few fields");
    uint32_t port;
    if (!is_token(f[0]) || strlen(f[0]) > 32)
        return FAIL("a=candidate: bad foundation");
    if (!to_u32(f[1], 256, &c.component) || c.component == 0)
        return FAIL("a=candidate: bad component");
    if (!is_token(f[2]))
        return FAIL("a=candidate: bad transport");
    if (!to_u32(f[3], UINT32_MAX, &c.priority))
        return FAIL("a=candidate: bad priority");
    if (!to_u32(f[5], 65535, &port))
        return FAIL("a=candidate: bad port");
    if (strcmp(f[6], "typ") || !is_token(f[7]))
        return FAIL("a=candidate: bad type");
    c.port = (uint16_t)port;
    const char *raddr = NULL, *tcptype = NULL;
    const char *ext[2 * MAX_CAND_EXT]; /* other name/value pairs, kept in order */
    size_t n_ext = 0, ext_len = 0;
    for (char *name; (name = next_token(&v));) {
        char *val = next_token(&v);
        if (!val)
            return FAIL("a=candidate: extension without value");
        if (!strcmp(name, "raddr") && !raddr) {
            raddr = val;
        } else if (!strcmp(name, "rport") && c.rport < 0) {
            if (!to_u32(val, 65535, &port))
                return FAIL("a=candidate: bad rport");
            c.rport = (int32_t)port;
        } else if (!strcmp(name, "tcptype") && !tcptype) {
            tcptype = val;
        } else {
            if (n_ext == 2 * MAX_CAND_EXT)
                return FAIL("a=candidate: too many extensions");
            ext[n_ext++] = name;
            ext[n_ext++] = val;
            ext_len += strlen(name) + strlen(val) + 2;
        }
    }
    if (n_ext) {
        char *out = weir_sdp_alloc(sdp, ext_len, false);
        if (!out)
            return NOMEM();
        c.extensions = out;
        for (size_t i = 0; i < n_ext; i += 2)
            out += sprintf(out, "%s%s %s", i ? " " : "", ext[i], ext[i + 1]);
    }
    c.foundation = weir_sdp_strdup(sdp, f[0]);
    c.transport = weir_sdp_strdup(sdp, f[2]);
    c.address = weir_sdp_strdup(sdp, f[4]);
    c.type = weir_sdp_strdup(sdp, f[7]);
    c.raddr = raddr ? weir_sdp_strdup(sdp, raddr) : NULL;
    c.tcptype = tcptype ? weir_sdp_strdup(sdp, tcptype) : NULL;
    if (!c.foundation || !c.transport || !c.address || !c.type || (raddr && !c.raddr) ||
        (tcptype && !c.tcptype))
        return NOMEM();
    weir_sdp_candidate *dst = WEIR_SDP_PUSH(sdp, m->candidates, m->n_candidates);
    if (!dst)
        return NOMEM();
    *dst = c;
    return 0;
}

static int attr_rtpmap(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *pt_s = next_token(&v);
    char *enc = next_token(&v);
    weir_sdp_rtpmap r = {0};
    if (!to_pt(pt_s, &r.pt))
        return FAIL("a=rtpmap: bad payload type");
    if (!enc || next_token(&v))
        return FAIL("a=rtpmap: expected <pt> <encoding>/<clock rate>");
    char *clock = strchr(enc, '/');
    char *chans = clock ? strchr(clock + 1, '/') : NULL;
    if (clock)
        *clock++ = '\0';
    if (chans)
        *chans++ = '\0';
    if (!is_token(enc))
        return FAIL("a=rtpmap: bad encoding name");
    if (!to_u32(clock, UINT32_MAX, &r.clock_rate_hz) || r.clock_rate_hz == 0)
        return FAIL("a=rtpmap: bad clock rate");
    uint32_t n = 0;
    if (chans && (!to_u32(chans, 65535, &n) || n == 0))
        return FAIL("a=rtpmap: bad channel count");
    r.channels = (uint16_t)n;
    if (weir_sdp_media_find_rtpmap(m, r.pt))
        return FAIL("a=rtpmap: duplicate payload type");
    weir_sdp_rtpmap *dst;
    if (!(r.encoding = weir_sdp_strdup(sdp, enc)) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->rtpmaps, m->n_rtpmaps)))
        return NOMEM();
    *dst = r;
    return 0;
}

static int attr_fmtp(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_fmtp f = {0};
    if (!to_pt(next_token(&v), &f.pt))
        return FAIL("a=fmtp: bad payload type");
    char *params = rest_of(&v);
    if (!params)
        return FAIL("a=fmtp: missing parameters");
    if (weir_sdp_media_find_fmtp(m, f.pt))
        return FAIL("a=fmtp: duplicate payload type");
    weir_sdp_fmtp *dst;
    if (!(f.params = weir_sdp_strdup(sdp, params)) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->fmtps, m->n_fmtps)))
        return NOMEM();
    *dst = f;
    return 0;
}

static int attr_rtcp_fb(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *pt_s = next_token(&v);
    char *type = next_token(&v);
    char *sub = rest_of(&v);
    weir_sdp_rtcp_fb fb = {.pt = -1};
    uint8_t pt;
    if (pt_s && !strcmp(pt_s, "*"))
        fb.pt = -1; /* RFC 4585 §4.2: applies to every payload type */
    else if (to_pt(pt_s, &pt))
        fb.pt = pt;
    else
        return FAIL("a=rtcp-fb: bad payload type");
    if (!is_token(type))
        return FAIL("a=rtcp-fb: bad feedback type");
    weir_sdp_rtcp_fb *dst;
    if (!(fb.type = weir_sdp_strdup(sdp, type)) ||
        (sub && !(fb.subtype = weir_sdp_strdup(sdp, sub))) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->rtcp_fbs, m->n_rtcp_fbs)))
        return NOMEM();
    *dst = fb;
    return 0;
}

/* RFC 8285 §8: extmap:<id>[/<direction>] <uri> [<attributes>]. */
static int attr_extmap(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *id_s = next_token(&v);
    char *uri = next_token(&v);
    char *attrs = rest_of(&v);
    weir_sdp_extmap e = {0};
    char *dir = id_s ? strchr(id_s, '/') : NULL;
    if (dir)
        *dir++ = '\0';
    uint32_t id;
    /* 1-14 one-byte, up to 255 two-byte; 4096-4351 was RFC 5285's offer range. */
    if (!to_u32(id_s, 4351, &id) || id == 0)
        return FAIL("a=extmap: bad id");
    e.id = (uint16_t)id;
    if (dir && (e.direction = direction_of(dir)) == WEIR_SDP_DIR_NONE)
        return FAIL("a=extmap: bad direction");
    if (!uri)
        return FAIL("a=extmap: missing uri");
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (m->extmaps[i].id == e.id)
            return FAIL("a=extmap: duplicate id");
    weir_sdp_extmap *dst;
    if (!(e.uri = weir_sdp_strdup(sdp, uri)) ||
        (attrs && !(e.attributes = weir_sdp_strdup(sdp, attrs))) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->extmaps, m->n_extmaps)))
        return NOMEM();
    *dst = e;
    return 0;
}

static int attr_msid(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *stream = next_token(&v);
    char *track = next_token(&v);
    if (!is_token(stream) || (track && !is_token(track)) || next_token(&v))
        return FAIL("a=msid: expected <stream id> [<track id>]");
    weir_sdp_msid ms = {weir_sdp_strdup(sdp, stream), track ? weir_sdp_strdup(sdp, track) : NULL};
    weir_sdp_msid *dst;
    if (!ms.stream_id || (track && !ms.track_id) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->msids, m->n_msids)))
        return NOMEM();
    *dst = ms;
    return 0;
}

/* RFC 5576 §4.1: ssrc:<ssrc> <attribute>[:<value>], the value may hold spaces. */
static int attr_ssrc(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_ssrc s = {0};
    if (!to_u32(next_token(&v), UINT32_MAX, &s.ssrc))
        return FAIL("a=ssrc: bad ssrc");
    char *attr = rest_of(&v);
    char *colon = attr ? strchr(attr, ':') : NULL;
    if (colon)
        *colon = '\0';
    if (!is_token(attr))
        return FAIL("a=ssrc: bad attribute");
    weir_sdp_ssrc *dst;
    if (!(s.attribute = weir_sdp_strdup(sdp, attr)) ||
        (colon && !(s.value = weir_sdp_strdup(sdp, colon + 1))) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->ssrcs, m->n_ssrcs)))
        return NOMEM();
    *dst = s;
    return 0;
}

static int attr_ssrc_group(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *sem = next_token(&v);
    if (!is_token(sem))
        return FAIL("a=ssrc-group: bad semantics");
    uint32_t ssrcs[WEIR_SDP_MAX_LIST];
    size_t n = 0;
    for (char *t; (t = next_token(&v));) {
        if (n == WEIR_SDP_MAX_LIST)
            return (*why = "a=ssrc-group: too many ssrcs", -WEIR_ETOOBIG);
        if (!to_u32(t, UINT32_MAX, &ssrcs[n++]))
            return FAIL("a=ssrc-group: bad ssrc");
    }
    if (n == 0)
        return FAIL("a=ssrc-group: no ssrcs");
    weir_sdp_ssrc_group g = {.semantics = weir_sdp_strdup(sdp, sem), .n_ssrcs = n};
    g.ssrcs = weir_sdp_alloc(sdp, n * sizeof *g.ssrcs, true);
    weir_sdp_ssrc_group *dst;
    if (!g.semantics || !g.ssrcs || !(dst = WEIR_SDP_PUSH(sdp, m->ssrc_groups, m->n_ssrc_groups)))
        return NOMEM();
    memcpy(g.ssrcs, ssrcs, n * sizeof *ssrcs);
    *dst = g;
    return 0;
}

/* RFC 8851 §10: rid:<id> send|recv [<restrictions>]. */
static int attr_rid(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    char *id = next_token(&v);
    char *dir = next_token(&v);
    char *restr = rest_of(&v);
    weir_sdp_rid r = {0};
    if (!id || !is_rid_id(id, strlen(id)))
        return FAIL("a=rid: bad id");
    if (dir && !strcmp(dir, "send"))
        r.direction = WEIR_SDP_RID_SEND;
    else if (dir && !strcmp(dir, "recv"))
        r.direction = WEIR_SDP_RID_RECV;
    else
        return FAIL("a=rid: direction must be send or recv");
    for (size_t i = 0; i < m->n_rids; i++)
        if (!strcmp(m->rids[i].id, id))
            return FAIL("a=rid: duplicate id");
    weir_sdp_rid *dst;
    if (!(r.id = weir_sdp_strdup(sdp, id)) ||
        (restr && !(r.restrictions = weir_sdp_strdup(sdp, restr))) ||
        !(dst = WEIR_SDP_PUSH(sdp, m->rids, m->n_rids)))
        return NOMEM();
    *dst = r;
    return 0;
}

/*
 * One RFC 8853 sc-str-list: streams separated by ';', alternatives by ',',
 * a rid prefixed by '~' is paused. *budget counts rids left for this line.
 */
static int parse_sc_list(weir_sdp *sdp, char *list, weir_sdp_sc_stream **out, size_t *n_out,
                         size_t *budget, const char **why)
{
    weir_sdp_sc_stream *streams = NULL;
    size_t n = 0;
    for (char *s = list;; s++) {
        weir_sdp_sc_stream *st = WEIR_SDP_PUSH(sdp, streams, n);
        if (!st)
            return NOMEM();
        for (;; s++) {
            size_t len = strcspn(s, ",;");
            weir_sdp_sc_alt alt = {.paused = *s == '~'};
            const char *id = s + alt.paused;
            if (!is_rid_id(id, len - alt.paused))
                return FAIL("a=simulcast: bad rid");
            if (*budget == 0)
                return (*why = "a=simulcast: too many rids", -WEIR_ETOOBIG);
            (*budget)--;
            weir_sdp_sc_alt *dst;
            if (!(alt.rid = weir_sdp_strndup(sdp, id, len - alt.paused)) ||
                !(dst = WEIR_SDP_PUSH(sdp, st->alts, st->n_alts)))
                return NOMEM();
            *dst = alt;
            s += len;
            if (*s != ',')
                break;
        }
        if (*s != ';')
            break;
    }
    *out = streams;
    *n_out = n;
    return 0;
}

static int attr_simulcast(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    weir_sdp_simulcast sc = {.present = true};
    size_t budget = WEIR_SDP_MAX_RIDS;
    bool send = false, recv = false;
    for (char *dir; (dir = next_token(&v));) {
        char *list = next_token(&v);
        bool is_send = !strcmp(dir, "send");
        if (!is_send && strcmp(dir, "recv"))
            return FAIL("a=simulcast: direction must be send or recv");
        if (is_send ? send : recv)
            return FAIL("a=simulcast: duplicate direction");
        if (!list)
            return FAIL("a=simulcast: missing rid list");
        int rc = is_send ? parse_sc_list(sdp, list, &sc.send, &sc.n_send, &budget, why)
                         : parse_sc_list(sdp, list, &sc.recv, &sc.n_recv, &budget, why);
        if (rc < 0)
            return rc;
        send = send || is_send;
        recv = recv || !is_send;
    }
    if (!send && !recv)
        return FAIL("a=simulcast: empty");
    if (m->simulcast.present)
        return FAIL("a=simulcast: duplicate");
    m->simulcast = sc;
    return 0;
}

static int attr_sctp_port(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)sdp;
    uint32_t port;
    if (!to_u32(next_token(&v), 65535, &port) || next_token(&v))
        return FAIL("a=sctp-port: bad port");
    if (m->sctp_port >= 0)
        return FAIL("a=sctp-port: duplicate");
    m->sctp_port = (int32_t)port;
    return 0;
}

static int attr_max_message_size(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)sdp;
    uint64_t size;
    if (!to_u64(next_token(&v), INT64_MAX, &size) || next_token(&v))
        return FAIL("a=max-message-size: bad size");
    if (m->max_message_size >= 0)
        return FAIL("a=max-message-size: duplicate");
    m->max_message_size = (int64_t)size;
    return 0;
}

/* ---- flags (attributes without a value) ---- */

static int set_direction(weir_sdp *sdp, weir_sdp_media *m, weir_sdp_direction d, const char **why)
{
    weir_sdp_direction *dst = m ? &m->direction : &sdp->direction;
    if (*dst != WEIR_SDP_DIR_NONE)
        return FAIL("more than one direction attribute");
    *dst = d;
    return 0;
}

static int flag_sendrecv(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)v;
    return set_direction(sdp, m, WEIR_SDP_SENDRECV, why);
}

static int flag_sendonly(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)v;
    return set_direction(sdp, m, WEIR_SDP_SENDONLY, why);
}

static int flag_recvonly(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)v;
    return set_direction(sdp, m, WEIR_SDP_RECVONLY, why);
}

static int flag_inactive(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)v;
    return set_direction(sdp, m, WEIR_SDP_INACTIVE, why);
}

static int flag_extmap_allow_mixed(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)v, (void)why;
    *(m ? &m->extmap_allow_mixed : &sdp->extmap_allow_mixed) = true;
    return 0;
}

static int flag_rtcp_mux(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)sdp, (void)v, (void)why;
    m->rtcp_mux = true;
    return 0;
}

static int flag_rtcp_rsize(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)sdp, (void)v, (void)why;
    m->rtcp_rsize = true;
    return 0;
}

static int flag_end_of_candidates(weir_sdp *sdp, weir_sdp_media *m, char *v, const char **why)
{
    (void)sdp, (void)v, (void)why;
    m->end_of_candidates = true;
    return 0;
}

/* ---- dispatch ---- */

enum { VALUE, FLAG };

static const struct {
    const char *name;
    unsigned where;
    unsigned shape;
    bool rtp_only; /* a=rtpmap:5000 next to SCTP formats is kept raw */
    attr_fn fn;
} ATTRS[] = {
    {"group", AT_SESSION, VALUE, false, attr_group},
    {"msid-semantic", AT_SESSION, VALUE, false, attr_msid_semantic},
    {"ice-ufrag", AT_BOTH, VALUE, false, attr_ice_ufrag},
    {"ice-pwd", AT_BOTH, VALUE, false, attr_ice_pwd},
    {"ice-options", AT_BOTH, VALUE, false, attr_ice_options},
    {"fingerprint", AT_BOTH, VALUE, false, attr_fingerprint},
    {"setup", AT_BOTH, VALUE, false, attr_setup},
    {"sendrecv", AT_BOTH, FLAG, false, flag_sendrecv},
    {"sendonly", AT_BOTH, FLAG, false, flag_sendonly},
    {"recvonly", AT_BOTH, FLAG, false, flag_recvonly},
    {"inactive", AT_BOTH, FLAG, false, flag_inactive},
    {"extmap-allow-mixed", AT_BOTH, FLAG, false, flag_extmap_allow_mixed},
    {"mid", AT_MEDIA, VALUE, false, attr_mid},
    {"candidate", AT_MEDIA, VALUE, false, attr_candidate},
    {"end-of-candidates", AT_MEDIA, FLAG, false, flag_end_of_candidates},
    {"rtcp", AT_MEDIA, VALUE, false, attr_rtcp},
    {"rtcp-mux", AT_MEDIA, FLAG, false, flag_rtcp_mux},
    {"rtcp-rsize", AT_MEDIA, FLAG, false, flag_rtcp_rsize},
    {"rtpmap", AT_MEDIA, VALUE, true, attr_rtpmap},
    {"fmtp", AT_MEDIA, VALUE, true, attr_fmtp},
    {"rtcp-fb", AT_MEDIA, VALUE, true, attr_rtcp_fb},
    {"extmap", AT_MEDIA, VALUE, false, attr_extmap},
    {"msid", AT_MEDIA, VALUE, false, attr_msid},
    {"ssrc", AT_MEDIA, VALUE, false, attr_ssrc},
    {"ssrc-group", AT_MEDIA, VALUE, false, attr_ssrc_group},
    {"rid", AT_MEDIA, VALUE, false, attr_rid},
    {"simulcast", AT_MEDIA, VALUE, false, attr_simulcast},
    {"sctp-port", AT_MEDIA, VALUE, false, attr_sctp_port},
    {"max-message-size", AT_MEDIA, VALUE, false, attr_max_message_size},
};

static int raw_attribute(weir_sdp *sdp, weir_sdp_media *m, const char *name, const char *value,
                         const char **why)
{
    weir_sdp_attr a = {weir_sdp_strdup(sdp, name), value ? weir_sdp_strdup(sdp, value) : NULL};
    weir_sdp_attr *dst;
    if (!a.name || (value && !a.value))
        return NOMEM();
    if (m)
        dst = WEIR_SDP_PUSH(sdp, m->attrs, m->n_attrs);
    else
        dst = WEIR_SDP_PUSH(sdp, sdp->attrs, sdp->n_attrs);
    if (!dst)
        return NOMEM();
    *dst = a;
    return 0;
}

int weir_sdp_parse_attribute(weir_sdp *sdp, weir_sdp_media *m, char *text, const char **why)
{
    char *value = strchr(text, ':');
    if (value)
        *value++ = '\0';
    if (!is_token(text))
        return FAIL("a=: bad attribute name");
    unsigned where = m ? AT_MEDIA : AT_SESSION;
    for (size_t i = 0; i < sizeof ATTRS / sizeof ATTRS[0]; i++) {
        if (ATTRS[i].name[0] != text[0] || strcmp(ATTRS[i].name, text) || !(ATTRS[i].where & where))
            continue;
        /* rtpmap, fmtp and rtcp-fb only mean something next to RTP formats. */
        if (m && !m->is_rtp && ATTRS[i].rtp_only)
            break;
        if (ATTRS[i].shape == FLAG && value)
            return (*why = "unexpected value on a flag attribute", -WEIR_EINVAL);
        if (ATTRS[i].shape == VALUE && !value)
            return (*why = "attribute needs a value", -WEIR_EINVAL);
        return ATTRS[i].fn(sdp, m, value, why);
    }
    return raw_attribute(sdp, m, text, value, why);
}
