/*
 * SDP text -> model: RFC 8866 §5 line syntax; attributes are sdp_attr.c's.
 * Strict where a mistake would change meaning (field counts, numbers,
 * payload types, duplicates), lenient where stacks differ harmlessly (LF or
 * CRLF, blank lines, runs of spaces, a missing t=).
 */
#include <stdio.h>
#include <string.h>

#include "proto/sdp_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define FAIL(reason) (*why = (reason), -WEIR_EINVAL)
#define NOMEM() (*why = "memory limit reached", -WEIR_ETOOBIG)

static weir_sdp_kind kind_of(const char *media)
{
    if (!strcmp(media, "audio"))
        return WEIR_SDP_AUDIO;
    if (!strcmp(media, "video"))
        return WEIR_SDP_VIDEO;
    if (!strcmp(media, "application"))
        return WEIR_SDP_APPLICATION;
    return WEIR_SDP_OTHER_KIND;
}

int weir_sdp_media_push_format(weir_sdp *sdp, weir_sdp_media *m, const char *fmt, const char **why)
{
    uint8_t pt = 0;
    if (!is_token(fmt))
        return FAIL("m=: bad format");
    if (m->n_formats == WEIR_SDP_MAX_FORMATS)
        return (*why = "m=: too many formats", -WEIR_ETOOBIG);
    if (m->is_rtp) {
        if (!to_pt(fmt, &pt))
            return FAIL("m=: bad payload type");
        for (size_t i = 0; i < m->n_pts; i++)
            if (m->pts[i] == pt)
                return FAIL("m=: duplicate payload type");
    }
    const char *copy = weir_sdp_strdup(sdp, fmt);
    uint8_t *pt_slot = NULL;
    if (!copy || (m->is_rtp && !(pt_slot = WEIR_SDP_PUSH(sdp, m->pts, m->n_pts))))
        return NOMEM();
    const char **slot = WEIR_SDP_PUSH(sdp, m->formats, m->n_formats);
    if (!slot) {
        m->n_pts -= m->is_rtp;
        return NOMEM();
    }
    *slot = copy;
    if (pt_slot)
        *pt_slot = pt;
    return 0;
}

/* RFC 8866 §5.14 proto: token *("/" token), e.g. UDP/TLS/RTP/SAVPF. */
static bool is_proto(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p += *p == '/') {
        size_t n = strcspn(p, "/");
        char tok[64];
        if (n == 0 || n >= sizeof tok)
            return false;
        memcpy(tok, p, n);
        tok[n] = '\0';
        if (!is_token(tok))
            return false;
        p += n;
        if (*p == '/' && !p[1])
            return false;
    }
    return true;
}

/* RFC 8866 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
int weir_sdp_parse_media_line(weir_sdp *sdp, char *v, const char **why)
{
    char *media = next_token(&v);
    char *port_s = next_token(&v);
    char *proto = next_token(&v);
    if (!is_token(media) || !port_s || !is_proto(proto))
        return FAIL("m=: expected <media> <port> <proto> <fmt>...");
    if (sdp->n_media == WEIR_SDP_MAX_MEDIA)
        return (*why = "too many m-lines", -WEIR_ETOOBIG);
    char *num = strchr(port_s, '/');
    if (num)
        *num++ = '\0';
    uint32_t port, n_ports = 0;
    if (!to_u32(port_s, 65535, &port))
        return FAIL("m=: bad port");
    if (num && (!to_u32(num, 65535, &n_ports) || n_ports == 0))
        return FAIL("m=: bad number of ports");
    weir_sdp_media *m = weir_sdp_alloc(sdp, sizeof *m, true);
    if (!m || !(m->media = weir_sdp_strdup(sdp, media)) ||
        !(m->proto = weir_sdp_strdup(sdp, proto)))
        return NOMEM();
    m->kind = kind_of(media);
    m->port = (uint16_t)port;
    m->num_ports = (uint16_t)n_ports;
    m->is_rtp = strstr(proto, "RTP/") != NULL; /* RTP/AVP, UDP/TLS/RTP/SAVPF, ... */
    m->rtcp_port = -1;
    m->sctp_port = -1;
    m->max_message_size = -1;
    for (char *fmt; (fmt = next_token(&v));) {
        int rc = weir_sdp_media_push_format(sdp, m, fmt, why);
        if (rc < 0)
            return rc;
    }
    weir_sdp_media **slot = WEIR_SDP_PUSH(sdp, sdp->media, sdp->n_media);
    if (!slot)
        return NOMEM();
    *slot = m;
    return 0;
}

static int parse_connection(weir_sdp *sdp, weir_sdp_connection *c, char *v, const char **why)
{
    char *net = next_token(&v), *addrtype = next_token(&v), *addr = next_token(&v);
    if (!is_token(net) || !is_token(addrtype) || !addr || next_token(&v))
        return FAIL("c=: expected <nettype> <addrtype> <address>");
    if (c->address)
        return FAIL("c=: duplicate");
    weir_sdp_connection nc = {weir_sdp_strdup(sdp, net), weir_sdp_strdup(sdp, addrtype),
                              weir_sdp_strdup(sdp, addr)};
    if (!nc.nettype || !nc.addrtype || !nc.address)
        return NOMEM();
    *c = nc;
    return 0;
}

static int parse_origin(weir_sdp *sdp, char *v, const char **why)
{
    char *f[6];
    for (size_t i = 0; i < 6; i++)
        if (!(f[i] = next_token(&v)))
            return FAIL("o=: expected 6 fields");
    if (next_token(&v))
        return FAIL("o=: expected 6 fields");
    weir_sdp_origin o = {0};
    if (!to_u64(f[1], UINT64_MAX, &o.sess_id) || !to_u64(f[2], UINT64_MAX, &o.sess_version))
        return FAIL("o=: bad session id or version");
    if (!is_token(f[3]) || !is_token(f[4]))
        return FAIL("o=: bad network or address type");
    o.username = weir_sdp_strdup(sdp, f[0]);
    o.nettype = weir_sdp_strdup(sdp, f[3]);
    o.addrtype = weir_sdp_strdup(sdp, f[4]);
    o.address = weir_sdp_strdup(sdp, f[5]);
    if (!o.username || !o.nettype || !o.addrtype || !o.address)
        return NOMEM();
    sdp->origin = o;
    return 0;
}

/* The writer's slot for a raw line type; RFC 8866 §5 fixes the order of types. */
static int line_rank(bool media, char type)
{
    if (media)
        return type == 'i' ? 0 : 1; /* i=, then b= and k= */
    if (strchr("iuep", type))
        return 0;
    return type == 'b' ? 1 : type == 't' || type == 'r' ? 2 : type == 'z' ? 3 : 4;
}

/* Keeps raw lines sorted by line_rank (stable), so writing them in that
 * order and parsing again gives the same array. */
static int raw_line(weir_sdp *sdp, weir_sdp_media *m, char type, const char *value,
                    const char **why)
{
    weir_sdp_line l = {type, weir_sdp_strdup(sdp, value)};
    weir_sdp_line **lines = m ? &m->lines : &sdp->lines;
    size_t *n = m ? &m->n_lines : &sdp->n_lines;
    if (!l.value || !weir_sdp_push(sdp, lines, n, sizeof l))
        return NOMEM();
    size_t i = *n - 1;
    for (; i > 0 && line_rank(m != NULL, (*lines)[i - 1].type) > line_rank(m != NULL, type); i--)
        (*lines)[i] = (*lines)[i - 1];
    (*lines)[i] = l;
    return 0;
}

typedef struct parser {
    weir_sdp *sdp;
    weir_sdp_media *m; /* current section; NULL before the first m= */
    unsigned section_lines;
    bool seen_v, seen_o, seen_s, seen_t;
} parser;

static int session_line(parser *p, char type, char *v, const char **why)
{
    weir_sdp *sdp = p->sdp;
    switch (type) {
    case 'v':
    case 'o':
    case 's':
        return FAIL("duplicate v=, o= or s= line");
    case 'c':
        return parse_connection(sdp, &sdp->connection, v, why);
    case 'a':
        return weir_sdp_parse_attribute(sdp, NULL, v, why);
    case 't':
        if (p->seen_t)
            return raw_line(sdp, NULL, type, v, why); /* more t= lines: rare, kept raw */
        char *start = next_token(&v), *stop = next_token(&v);
        if (!to_u64(start, UINT64_MAX, &sdp->start_time) ||
            !to_u64(stop, UINT64_MAX, &sdp->stop_time) || next_token(&v))
            return FAIL("t=: expected <start> <stop>");
        p->seen_t = true;
        return 0;
    case 'i':
    case 'u':
    case 'e':
    case 'p':
    case 'b':
    case 'r':
    case 'z':
    case 'k':
        return raw_line(sdp, NULL, type, v, why);
    default:
        /* RFC 8866 §5: a parser must reject unknown line types. */
        return FAIL("unknown line type");
    }
}

static int media_line(parser *p, char type, char *v, const char **why)
{
    switch (type) {
    case 'c':
        return parse_connection(p->sdp, &p->m->connection, v, why);
    case 'a':
        return weir_sdp_parse_attribute(p->sdp, p->m, v, why);
    case 'i':
    case 'b':
    case 'k':
        return raw_line(p->sdp, p->m, type, v, why);
    default:
        return FAIL("line type not allowed in a media section");
    }
}

/* RFC 8866 §5: v=, o=, s= come first and in that order. */
static int header_line(parser *p, char type, char *v, const char **why)
{
    if (!p->seen_v) {
        if (type != 'v' || strcmp(v, "0"))
            return FAIL("expected v=0 first");
        p->seen_v = true;
        return 0;
    }
    if (!p->seen_o) {
        if (type != 'o')
            return FAIL("expected o= after v=");
        p->seen_o = true;
        return parse_origin(p->sdp, v, why);
    }
    if (type != 's')
        return FAIL("expected s= after o=");
    p->seen_s = true;
    return (p->sdp->session_name = weir_sdp_strdup(p->sdp, v)) ? 0 : NOMEM();
}

static int one_line(parser *p, char *line, size_t len, const char **why)
{
    if (len < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
        return FAIL("expected <type>=<value>");
    char type = line[0];
    char *v = line + 2;
    if (++p->section_lines > WEIR_SDP_MAX_LINES)
        return (*why = "too many lines in one section", -WEIR_ETOOBIG);
    if (!p->seen_s)
        return header_line(p, type, v, why);
    if (type == 'm') {
        int rc = weir_sdp_parse_media_line(p->sdp, v, why);
        if (rc < 0)
            return rc;
        p->m = p->sdp->media[p->sdp->n_media - 1];
        p->section_lines = 1;
        return 0;
    }
    return p->m ? media_line(p, type, v, why) : session_line(p, type, v, why);
}

/* Splits buf (NUL-terminated copy of the input) into lines and feeds them. */
static int parse_lines(parser *p, char *buf, size_t len, unsigned *lineno, const char **why)
{
    char *end = buf + len;
    for (char *s = buf; s < end;) {
        ++*lineno;
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - s);
        if (n && s[n - 1] == '\r')
            n--; /* RFC 8866 §5 says CRLF; accept LF alone too */
        if (memchr(s, '\0', n))
            return FAIL("NUL byte");
        if (memchr(s, '\r', n))
            return FAIL("CR inside a line");
        s[n] = '\0';
        char *line = s;
        s = nl ? nl + 1 : end;
        if (n == 0)
            continue; /* blank lines, e.g. a trailing one, carry nothing */
        int rc = one_line(p, line, n, why);
        if (rc < 0)
            return rc;
    }
    if (!p->seen_s) {
        *lineno = 0;
        return FAIL(!p->seen_v   ? "missing v= line"
                    : !p->seen_o ? "missing o= line"
                                 : "missing s= line");
    }
    return 0;
}

int weir_sdp_parse(const char *text, size_t len, weir_sdp **out, char *err, size_t err_len)
{
    const char *why = NULL;
    unsigned lineno = 0;
    int rc;
    if (len > WEIR_SDP_MAX_INPUT) {
        why = "input too large";
        rc = -WEIR_ETOOBIG;
        goto fail;
    }
    char *buf = weir_malloc(len + 1);
    if (len)
        memcpy(buf, text, len);
    buf[len] = '\0';
    weir_sdp *sdp = weir_sdp_new();
    parser p = {.sdp = sdp};
    rc = parse_lines(&p, buf, len, &lineno, &why);
    weir_free(buf);
    if (rc == 0) {
        *out = sdp;
        return 0;
    }
    weir_sdp_free(sdp);
fail:
    if (err && err_len) {
        if (lineno)
            snprintf(err, err_len, "line %u: %s", lineno, why);
        else
            snprintf(err, err_len, "%s", why);
    }
    return rc;
}
