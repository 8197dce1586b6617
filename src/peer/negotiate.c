/*
 * Publisher offer -> answer: the checks that refuse an offer, the
 * transport (ICE, DTLS, BUNDLE) and the answer's skeleton. What each m-line
 * carries is decided in negotiate_media.c. Steps, each a function:
 * check_local -> check_mids -> check_transport -> check_bundle -> plan_all
 * -> build_answer; nothing is returned to the caller before all succeeded.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "peer/negotiate_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define FAIL(...) weir_negotiate_fail(-WEIR_EINVAL, err, errlen, __VA_ARGS__)

const weir_codec_policy weir_negotiate_default_codecs[] = {
    {WEIR_CODEC_OPUS, true, true},  {WEIR_CODEC_VP8, true, false}, {WEIR_CODEC_VP9, true, false},
    {WEIR_CODEC_H264, true, false}, {WEIR_CODEC_AV1, true, false},
};
const size_t weir_negotiate_n_default_codecs =
    sizeof weir_negotiate_default_codecs / sizeof *weir_negotiate_default_codecs;

int weir_negotiate_parse_video_codecs(const char *list, weir_codec_policy *out, size_t cap,
                                      size_t *n, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        weir_codec codec;
    } names[] = {{"vp8", WEIR_CODEC_VP8},
                 {"vp9", WEIR_CODEC_VP9},
                 {"h264", WEIR_CODEC_H264},
                 {"av1", WEIR_CODEC_AV1}};
    if (cap < WEIR_NEGOTIATE_MAX_CODECS)
        return weir_negotiate_fail(-WEIR_EINVAL, err, errlen, "policy array too small");
    size_t k = 0;
    out[k++] = (weir_codec_policy){WEIR_CODEC_OPUS, true, true};
    const char *p = list ? list : "";
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ", \t");
        size_t i = 0;
        while (i < sizeof names / sizeof *names &&
               (strlen(names[i].name) != len || strncasecmp(names[i].name, p, len)))
            i++;
        if (i == sizeof names / sizeof *names)
            return weir_negotiate_fail(-WEIR_EINVAL, err, errlen,
                                       "unknown video codec \"%.*s\" (vp8, vp9, h264, av1)",
                                       (int)(len > 32 ? 32 : len), p);
        for (size_t j = 1; j < k; j++)
            if (out[j].codec == names[i].codec)
                return weir_negotiate_fail(-WEIR_EINVAL, err, errlen, "%s listed twice",
                                           names[i].name);
        out[k++] = (weir_codec_policy){names[i].codec, true, false};
        p += len;
    }
    if (k == 1)
        return weir_negotiate_fail(-WEIR_EINVAL, err, errlen, "no video codec listed");
    *n = k;
    return 0;
}

void weir_local_params_init(weir_local_params *lp)
{
    *lp = (weir_local_params){
        .rtcp_fb = WEIR_NEGOTIATE_FB_ALL,
        .sctp_port = WEIR_NEGOTIATE_DEFAULT_SCTP_PORT,
        .max_message_size = WEIR_NEGOTIATE_DEFAULT_MAX_MESSAGE_SIZE,
    };
}

const char *weir_track_source_name(weir_track_source s)
{
    static const char *const names[] = {"", "camera", "microphone", "screen"};
    return (unsigned)s < 4 ? names[s] : "";
}

int weir_negotiate_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

bool weir_negotiate_copy(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, s, n + 1);
    return true;
}

/* ---- checks ---- */

/* RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/". */
static bool ice_token_ok(const char *s, size_t min)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > WEIR_NEGOTIATE_ICE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

static int check_local(const weir_local_params *lp, char *err, size_t errlen)
{
    if (!ice_token_ok(lp->ice_ufrag, 4) || !ice_token_ok(lp->ice_pwd, 22))
        return FAIL("local ICE credentials missing or malformed");
    if (!lp->fingerprint || !strchr(lp->fingerprint, ' '))
        return FAIL("local DTLS fingerprint missing or malformed");
    if (lp->n_candidates && !lp->candidates)
        return FAIL("local candidates missing");
    return 0;
}

/* An m-line the offerer itself rejected: port 0 without RFC 8843 bundle-only. */
static bool offer_rejected(const weir_sdp_media *m)
{
    if (m->port != 0)
        return false;
    for (size_t i = 0; i < m->n_attrs; i++)
        if (!strcmp(m->attrs[i].name, "bundle-only"))
            return false;
    return true;
}

/* JSEP §5.2.1: every m-line of an offer has a unique mid; BUNDLE and the
 * answer refer to lines by it. */
static int check_mids(const weir_sdp *offer, char *err, size_t errlen)
{
    if (offer->n_media == 0)
        return FAIL("offer has no m-lines");
    if (offer->n_media > WEIR_NEGOTIATE_MAX_MEDIA)
        return weir_negotiate_fail(-WEIR_ETOOBIG, err, errlen, "offer has more than %d m-lines",
                                   WEIR_NEGOTIATE_MAX_MEDIA);
    for (size_t i = 0; i < offer->n_media; i++) {
        const char *mid = offer->media[i]->mid;
        if (!mid)
            return FAIL("offer has no a=mid in m-line %zu", i);
        if (strlen(mid) > WEIR_NEGOTIATE_MID_MAX)
            return FAIL("mid longer than %d characters in m-line %zu", WEIR_NEGOTIATE_MID_MAX, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(offer->media[j]->mid, mid))
                return FAIL("duplicate mid=%s in offer", mid);
    }
    return 0;
}

/* RFC 8122 §5: "AB:CD:..." with as many bytes as the hash has. */
static bool fingerprint_value_ok(const char *v, size_t bytes)
{
    if (strlen(v) != bytes * 3 - 1)
        return false;
    for (size_t i = 0; v[i]; i++) {
        bool colon = i % 3 == 2;
        char c = v[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (colon ? c != ':' : !hex)
            return false;
    }
    return true;
}

/* The first fingerprint whose hash DTLS can check (RFC 8827 §6.5 needs
 * sha-256; sha-1 and md5 are refused), or NULL. */
static const weir_sdp_fingerprint *pick_fingerprint(const weir_sdp_transport *t, bool *malformed)
{
    static const struct {
        const char *name;
        size_t bytes;
    } hashes[] = {{"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}};
    *malformed = false;
    for (size_t i = 0; i < t->n_fingerprints; i++) {
        for (size_t h = 0; h < sizeof hashes / sizeof *hashes; h++) {
            if (strcasecmp(t->fingerprints[i].hash, hashes[h].name))
                continue;
            if (fingerprint_value_ok(t->fingerprints[i].value, hashes[h].bytes))
                return &t->fingerprints[i];
            *malformed = true;
        }
    }
    return NULL;
}

static int check_line_transport(const weir_sdp_transport *t, const char *mid, char *err,
                                size_t errlen)
{
    bool malformed;
    if (!t->n_fingerprints)
        return FAIL("offer has no DTLS fingerprint (m-line mid=%s)", mid);
    if (!pick_fingerprint(t, &malformed))
        return FAIL(malformed ? "offer has a malformed DTLS fingerprint (m-line mid=%s)"
                              : "offer has no sha-256/384/512 DTLS fingerprint (m-line mid=%s)",
                    mid);
    if (!t->ice_ufrag || !t->ice_pwd)
        return FAIL("offer has no ICE credentials (m-line mid=%s)", mid);
    if (!ice_token_ok(t->ice_ufrag, 4) || !ice_token_ok(t->ice_pwd, 22))
        return FAIL("offer has malformed ICE credentials (m-line mid=%s)", mid);
    /* RFC 8842 §5.3: actpass in an initial offer, active or passive in a
     * re-offer; holdconn would leave DTLS unconnected. */
    if (t->setup == WEIR_SDP_SETUP_HOLDCONN)
        return FAIL("setup must be actpass, active or passive (m-line mid=%s has holdconn)", mid);
    return 0;
}

/*
 * Every line the offer did not reject must carry usable ICE and DTLS
 * parameters (media or session level, RFC 8839 §5.4). The desc takes them
 * from the BUNDLE-tagged line, the first of the group (RFC 8843 §7.2):
 * that is the transport the bundle runs on.
 */
static int check_transport(const weir_sdp *offer, const char *tag_mid, weir_publish_desc *d,
                           char *err, size_t errlen)
{
    for (size_t i = 0; i < offer->n_media; i++) {
        const weir_sdp_media *m = offer->media[i];
        weir_sdp_transport t;
        if (offer_rejected(m))
            continue;
        weir_sdp_media_transport(offer, m, &t);
        int rc = check_line_transport(&t, m->mid, err, errlen);
        if (rc < 0)
            return rc;
    }
    weir_sdp_transport t;
    bool malformed;
    weir_sdp_media_transport(offer, weir_sdp_find_media(offer, tag_mid), &t);
    const weir_sdp_fingerprint *fp = pick_fingerprint(&t, &malformed);
    weir_negotiate_copy(d->ice_ufrag, sizeof d->ice_ufrag, t.ice_ufrag);
    weir_negotiate_copy(d->ice_pwd, sizeof d->ice_pwd, t.ice_pwd);
    d->ice_trickle = t.ice_trickle;
    for (size_t i = 0; fp->hash[i] && i + 1 < sizeof d->fingerprint_hash; i++)
        d->fingerprint_hash[i] = (char)tolower((unsigned char)fp->hash[i]); /* RFC 8122: any case */
    weir_negotiate_copy(d->fingerprint, sizeof d->fingerprint, fp->value);
    d->remote_setup = t.setup;
    /* RFC 8842 §5.2: answering actpass we choose passive, so the client
     * (which may sit behind a NAT we cannot reach first) starts DTLS. No
     * a=setup means active (RFC 4145 §4). */
    d->dtls_role =
        t.setup == WEIR_SDP_SETUP_PASSIVE ? WEIR_DTLS_ROLE_CLIENT : WEIR_DTLS_ROLE_SERVER;
    return 0;
}

static bool group_has(const weir_sdp_group *g, const char *mid)
{
    for (size_t i = 0; i < g->n_mids; i++)
        if (!strcmp(g->mids[i], mid))
            return true;
    return false;
}

/*
 * Weir runs one ICE/DTLS transport per peer connection, so every line the
 * offer did not reject must be in the (first) BUNDLE group (RFC 8843;
 * Chromium's max-bundle policy always offers that). *tag_mid: the group's
 * first mid the offer did not reject.
 */
static int check_bundle(const weir_sdp *offer, const char **tag_mid, char *err, size_t errlen)
{
    const weir_sdp_group *g = weir_sdp_find_group(offer, "BUNDLE");
    if (!g)
        return FAIL("offer has no BUNDLE group");
    *tag_mid = NULL;
    for (size_t i = 0; i < g->n_mids; i++) {
        const weir_sdp_media *m = weir_sdp_find_media(offer, g->mids[i]);
        if (!m)
            return FAIL("BUNDLE group names unknown mid=%s", g->mids[i]);
        if (!*tag_mid && !offer_rejected(m))
            *tag_mid = m->mid;
    }
    for (size_t i = 0; i < offer->n_media; i++) {
        const weir_sdp_media *m = offer->media[i];
        if (!offer_rejected(m) && !group_has(g, m->mid))
            return FAIL("offer has no BUNDLE group with every m-line (mid=%s is missing)", m->mid);
    }
    if (!*tag_mid)
        return FAIL("offer has no usable m-line");
    return 0;
}

static int plan_all(const weir_sdp *offer, const weir_local_params *lp, weir_publish_desc *d,
                    char *err, size_t errlen)
{
    bool data_taken = false;
    const char *first_reason = NULL;
    size_t usable = 0;
    d->n_media = offer->n_media;
    for (size_t i = 0; i < offer->n_media; i++) {
        const weir_sdp_media *m = offer->media[i];
        weir_publish_media *pm = &d->media[i];
        weir_negotiate_copy(pm->mid, sizeof pm->mid, m->mid);
        pm->kind = m->kind;
        pm->pt = pm->rtx_pt = pm->red_pt = -1;
        if (offer_rejected(m)) {
            pm->rejected = true;
            snprintf(pm->reject_reason, sizeof pm->reject_reason, "rejected by the offer");
            continue;
        }
        int rc = weir_negotiate_plan_media(m, lp, data_taken, pm, err, errlen);
        if (rc < 0)
            return rc;
        if (pm->rejected) {
            first_reason = first_reason ? first_reason : pm->reject_reason;
            continue;
        }
        weir_sdp_direction dir = weir_sdp_media_direction(offer, m);
        pm->receiving = dir == WEIR_SDP_SENDONLY || dir == WEIR_SDP_SENDRECV;
        data_taken = data_taken || m->kind == WEIR_SDP_APPLICATION;
        usable++;
    }
    if (usable == 0)
        return FAIL("%s", first_reason ? first_reason : "offer has no usable m-line");
    return 0;
}

/* ---- the answer ---- */

/*
 * JSEP §5.3.1 places the default candidate in m= and c=; with none yet
 * (trickle) that is port 9 and 0.0.0.0. The builder has no c= setter, and
 * the model only ever reads these strings, so static ones serve.
 */
static void set_default_address(weir_sdp_media *am)
{
    am->connection = (weir_sdp_connection){"IN", "IP4", "0.0.0.0"};
    for (size_t i = 0; i < am->n_candidates; i++) {
        const weir_sdp_candidate *c = &am->candidates[i];
        size_t n = strlen(c->address);
        if (c->component != 1 || strcasecmp(c->transport, "udp") ||
            (n > 6 && !strcasecmp(c->address + n - 6, ".local")))
            continue;
        am->port = c->port;
        am->connection.addrtype = strchr(c->address, ':') ? "IP6" : "IP4";
        am->connection.address = c->address; /* in the answer's arena */
        return;
    }
}

int weir_negotiate_add_candidates(weir_sdp *a, weir_sdp_media *am, const weir_local_params *lp,
                                  char *err, size_t errlen)
{
    for (size_t i = 0; i < lp->n_candidates; i++) {
        const char *c = lp->candidates[i];
        if (c && !strncmp(c, "a=", 2))
            c += 2;
        if (!c || strncmp(c, "candidate:", 10) || weir_sdp_add_attribute(a, am, c, NULL, 0) < 0)
            return FAIL("local candidate %zu malformed", i);
    }
    /* RFC 8840 §8.2: only once gathering is really over. */
    am->end_of_candidates = lp->candidates_complete;
    set_default_address(am);
    return 0;
}

/* ICE and DTLS in every m-line, as Chromium writes them (RFC 8843 would
 * allow the tagged line only; repeating them costs nothing and keeps
 * non-BUNDLE-aware parsers happy). */
static int add_transport(weir_sdp *a, weir_sdp_media *am, const weir_local_params *lp,
                         const weir_publish_desc *d)
{
    int rc = weir_sdp_add_attributef(a, am, "ice-ufrag:%s", lp->ice_ufrag);
    if (rc == 0)
        rc = weir_sdp_add_attributef(a, am, "ice-pwd:%s", lp->ice_pwd);
    if (rc == 0)
        rc = weir_sdp_add_attribute(a, am, "ice-options:trickle", NULL, 0);
    if (rc == 0)
        rc = weir_sdp_add_attributef(a, am, "fingerprint:%s", lp->fingerprint);
    if (rc == 0)
        rc = weir_sdp_add_attribute(
            a, am, d->dtls_role == WEIR_DTLS_ROLE_CLIENT ? "setup:active" : "setup:passive", NULL,
            0);
    return rc;
}

/* RFC 8829 §5.3.1 / RFC 3264 §6: a rejected line keeps its kind, proto and
 * one format, with port 0 and nothing but its mid. */
static int add_rejected(weir_sdp *a, const weir_sdp_media *om)
{
    weir_sdp_media *am = weir_sdp_add_media(a, om->media, 0, om->proto);
    if (!am)
        return -WEIR_EINVAL;
    int rc = om->n_formats ? weir_sdp_media_add_format(a, am, om->formats[0]) : 0;
    am->connection = (weir_sdp_connection){"IN", "IP4", "0.0.0.0"};
    return rc == 0 ? weir_sdp_add_attributef(a, am, "mid:%s", om->mid) : rc;
}

static int add_accepted(weir_sdp *a, const weir_sdp_media *om, const weir_local_params *lp,
                        const weir_publish_desc *d, const weir_publish_media *pm)
{
    weir_sdp_media *am = weir_sdp_add_media(a, om->media, 9, om->proto);
    if (!am)
        return -WEIR_EINVAL;
    am->connection = (weir_sdp_connection){"IN", "IP4", "0.0.0.0"};
    int rc = add_transport(a, am, lp, d);
    if (rc == 0)
        rc = weir_sdp_add_attributef(a, am, "mid:%s", om->mid);
    if (rc < 0)
        return rc;
    am->extmap_allow_mixed = om->extmap_allow_mixed;
    if (om->kind == WEIR_SDP_APPLICATION) {
        rc = weir_sdp_media_add_format(a, am, "webrtc-datachannel");
        if (rc == 0)
            rc = weir_sdp_add_attributef(a, am, "sctp-port:%u", (unsigned)lp->sctp_port);
        if (rc == 0)
            rc = weir_sdp_add_attributef(a, am, "max-message-size:%llu",
                                         (unsigned long long)lp->max_message_size);
        return rc;
    }
    /* The publisher PC only carries what the client sends (PROTOCOL.md):
     * RFC 3264 §6.1, sendonly/sendrecv -> recvonly, else inactive. */
    am->direction = pm->receiving ? WEIR_SDP_RECVONLY : WEIR_SDP_INACTIVE;
    am->rtcp_mux = true;
    am->rtcp_rsize = om->rtcp_rsize; /* RFC 5506: only when offered */
    return weir_negotiate_write_rtp(a, am, om, lp, pm);
}

/* RFC 8843 §7.3: the offer's group in its order minus the lines rejected;
 * its first mid is our BUNDLE tag. */
static int add_bundle(weir_sdp *a, const weir_sdp *offer, const weir_publish_desc *d)
{
    const weir_sdp_group *g = weir_sdp_find_group(offer, "BUNDLE");
    size_t cap = 16, len = 0;
    char *line = weir_malloc(cap);
    len = (size_t)snprintf(line, cap, "group:BUNDLE");
    for (size_t i = 0; i < g->n_mids; i++) {
        for (size_t j = 0; j < d->n_media; j++) {
            if (strcmp(d->media[j].mid, g->mids[i]) || d->media[j].rejected)
                continue;
            size_t n = strlen(g->mids[i]);
            line = weir_realloc(line, cap += n + 2);
            len += (size_t)snprintf(line + len, cap - len, " %s", g->mids[i]);
        }
    }
    int rc = weir_sdp_add_attribute(a, NULL, line, NULL, 0);
    weir_free(line);
    return rc;
}

static const char *answer_tag(const weir_publish_desc *d, const weir_sdp *offer)
{
    const weir_sdp_group *g = weir_sdp_find_group(offer, "BUNDLE");
    for (size_t i = 0; i < g->n_mids; i++)
        for (size_t j = 0; j < d->n_media; j++)
            if (!strcmp(d->media[j].mid, g->mids[i]) && !d->media[j].rejected)
                return d->media[j].mid;
    return NULL; /* plan_all made sure a line is usable, and check_bundle that it is bundled */
}

static int build_answer(const weir_sdp *offer, const weir_local_params *lp,
                        const weir_publish_desc *d, weir_sdp **out, char *err, size_t errlen)
{
    weir_sdp *a = weir_sdp_create(lp->session_id, lp->session_version);
    int rc = add_bundle(a, offer, d);
    if (rc == 0 && lp->ice_lite)
        rc = weir_sdp_add_attribute(a, NULL, "ice-lite", NULL, 0);
    a->extmap_allow_mixed = offer->extmap_allow_mixed; /* RFC 8285 §6: echo only when offered */
    const char *tag = answer_tag(d, offer);
    for (size_t i = 0; i < offer->n_media && rc == 0; i++) {
        const weir_sdp_media *om = offer->media[i];
        const weir_publish_media *pm = &d->media[i];
        if (pm->rejected) {
            rc = add_rejected(a, om);
            continue;
        }
        rc = add_accepted(a, om, lp, d, pm);
        if (rc == 0 && !strcmp(pm->mid, tag)) {
            rc = weir_negotiate_add_candidates(a, a->media[a->n_media - 1], lp, err, errlen);
            if (rc < 0) {
                weir_sdp_free(a);
                return rc;
            }
        }
    }
    if (rc < 0) {
        weir_sdp_free(a);
        return weir_negotiate_fail(rc, err, errlen, "cannot build the answer (%s)",
                                   weir_strerror(rc));
    }
    *out = a;
    return 0;
}

int weir_negotiate_publisher_answer(const weir_sdp *offer, const weir_local_params *lp,
                                    weir_sdp **answer, weir_publish_desc *desc, char *err,
                                    size_t errlen)
{
    if (!offer || !lp || !answer || !desc)
        return FAIL("missing argument");
    /* Built aside and copied on success: on error nothing is changed. */
    weir_publish_desc *d = WEIR_NEW(weir_publish_desc);
    const char *tag_mid = NULL;
    weir_sdp *a = NULL;
    int rc = check_local(lp, err, errlen);
    if (rc == 0)
        rc = check_mids(offer, err, errlen);
    if (rc == 0)
        rc = check_bundle(offer, &tag_mid, err, errlen);
    if (rc == 0)
        rc = check_transport(offer, tag_mid, d, err, errlen);
    if (rc == 0)
        rc = plan_all(offer, lp, d, err, errlen);
    if (rc == 0) {
        weir_negotiate_copy(d->bundle_mid, sizeof d->bundle_mid, answer_tag(d, offer));
        rc = build_answer(offer, lp, d, &a, err, errlen);
    }
    if (rc == 0) {
        *answer = a;
        *desc = *d;
    }
    weir_free(d);
    return rc;
}

/* ---- sources ---- */

static bool source_fits(weir_sdp_kind kind, weir_track_source s)
{
    if (kind == WEIR_SDP_AUDIO)
        return s == WEIR_SOURCE_MICROPHONE || s == WEIR_SOURCE_SCREEN;
    return kind == WEIR_SDP_VIDEO && (s == WEIR_SOURCE_CAMERA || s == WEIR_SOURCE_SCREEN);
}

static int find_source(const weir_publish_desc *desc, const char *mid, const char *source,
                       size_t *index, weir_track_source *out, char *err, size_t errlen)
{
    *out = WEIR_SOURCE_NONE;
    for (int s = WEIR_SOURCE_CAMERA; s <= WEIR_SOURCE_SCREEN; s++)
        if (source && !strcmp(source, weir_track_source_name((weir_track_source)s)))
            *out = (weir_track_source)s;
    if (*out == WEIR_SOURCE_NONE)
        return FAIL("unknown source \"%s\"", source ? source : "");
    for (size_t i = 0; mid && i < desc->n_media; i++) {
        const weir_publish_media *pm = &desc->media[i];
        if (strcmp(pm->mid, mid))
            continue;
        if (pm->rejected || !source_fits(pm->kind, *out))
            return FAIL("source %s does not fit m-line mid=%s", source, mid);
        *index = i;
        return 0;
    }
    return FAIL("no m-line with mid=%s", mid ? mid : "");
}

int weir_negotiate_apply_sources(weir_publish_desc *desc, const char *const *mids,
                                 const char *const *sources, size_t n, char *err, size_t errlen)
{
    size_t idx[WEIR_NEGOTIATE_MAX_MEDIA];
    weir_track_source src[WEIR_NEGOTIATE_MAX_MEDIA];
    if (n > WEIR_NEGOTIATE_MAX_MEDIA)
        return FAIL("more tracks than m-lines");
    /* All checked before any is applied: on error desc is unchanged. */
    for (size_t i = 0; i < n; i++) {
        int rc = find_source(desc, mids[i], sources[i], &idx[i], &src[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        desc->media[idx[i]].source = src[i];
        desc->media[idx[i]].source_explicit = true;
    }
    return 0;
}
