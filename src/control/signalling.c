#define WEIR_LOG_MODULE "control.signalling"
#include "control/signalling.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/jsonrpc.h"
#include "control/jwt.h"
#include "control/media.h"
#include "control/membership.h"
#include "control/methods.h"
#include "control/session.h"
#include "control/recordings.h"
#include "control/taps.h"
#include "peer/cert.h"
#include "peer/negotiate.h"
#include "proto/sdp.h"
#include "weir/alloc.h"
#include "weir/log.h"

/* Application error codes of PROTOCOL.md (plus 501 for methods not live yet). */
enum {
    E_AUTH = 401,
    E_FORBIDDEN = 403,
    E_NOT_FOUND = 404,
    E_CONFLICT = 409,
    E_RATE = 429,
    E_NOT_AVAILABLE = 501,
};

typedef struct call {
    weir_session *s;
    json_t *id; /* borrowed from msg */
    const json_t *params;
    const weir_method *method;
} call;

typedef void (*handler_fn)(weir_control *ctl, const call *c);

static void reply(const call *c, json_t *result)
{
    weir_session_send(c->s, weir_rpc_result(c->id, result));
}

static void fail(const call *c, int code, const char *message)
{
    weir_session_log(c->s, WEIR_LOG_DEBUG, "error method=%s code=%d", c->method->name, code);
    weir_session_send_error(c->s, c->id, code, message);
}

void weir_signalling_on_rejected(weir_session *s)
{
    s->reject_streak++;
    int limit = s->ctl->cfg->abuse_disconnect_after;
    if (limit > 0 && s->reject_streak >= limit && !s->closing) {
        weir_session_log(s, WEIR_LOG_WARN, "abuse_disconnect streak=%d", s->reject_streak);
        s->ctl->metrics.abuse_disconnects++;
        if (s->participant)
            weir_membership_leave(s->ctl, s->participant, "left");
        weir_session_bye(s, "abuse", 1008);
    }
}

/* Resolves role and identity from the token, or from params when auth is off. */
static int authenticate(weir_control *ctl, const call *c, weir_join_request *req,
                        weir_jwt_claims *claims, char *err, size_t errlen)
{
    const char *secret = ctl->cfg->auth_secret;
    if (!secret[0]) {
        const char *role = json_string_value(json_object_get(c->params, "role"));
        req->role = WEIR_ROLE_STUDENT;
        if (role)
            weir_role_parse(role, &req->role);
        req->identity = "";
        return 0;
    }
    const char *token = json_string_value(json_object_get(c->params, "token"));
    if (!token) {
        snprintf(err, errlen, "token required: this server demands authentication");
        return E_AUTH;
    }
    char why[128];
    if (weir_jwt_verify(token, (const uint8_t *)secret, strlen(secret), weir_clock_wall_ms() / 1000,
                        ctl->cfg->auth_leeway_s, claims, why, sizeof why) < 0) {
        snprintf(err, errlen, "invalid token: %s", why);
        return E_AUTH;
    }
    if (strcmp(claims->room, req->room_id) != 0) {
        snprintf(err, errlen, "invalid token: not valid for room %s", req->room_id);
        return E_AUTH;
    }
    if (weir_role_parse(claims->role, &req->role) < 0) {
        snprintf(err, errlen, "invalid token: unknown role");
        return E_AUTH;
    }
    req->identity = claims->sub;
    if (claims->name[0])
        req->display = claims->name;
    return 0;
}

static json_t *participants_except(const weir_room *room, const weir_participant *self)
{
    json_t *list = json_array();
    for (size_t i = 0; i < weir_room_count(room); i++) {
        const weir_participant *p = weir_room_at(room, i);
        if (p != self)
            json_array_append_new(list, weir_membership_participant_json(p));
    }
    return list;
}

/* [media] ice_servers as RTCIceServer objects: one entry with every URL. */
static json_t *ice_servers_json(const weir_config *cfg)
{
    json_t *list = json_array();
    json_t *urls = json_array();
    const char *sep = ", \t";
    for (const char *q = cfg->ice_servers; *q;) {
        q += strspn(q, sep);
        size_t n = strcspn(q, sep);
        if (!n)
            break;
        json_array_append_new(urls, json_stringn(q, n));
        q += n;
    }
    if (!json_array_size(urls)) {
        json_decref(urls);
        return list;
    }
    json_t *server = json_pack("{s:o}", "urls", urls);
    if (cfg->ice_username[0]) {
        json_object_set_new(server, "username", json_string(cfg->ice_username));
        json_object_set_new(server, "credential", json_string(cfg->ice_credential));
    }
    json_array_append_new(list, server);
    return list;
}

static void handle_join(weir_control *ctl, const call *c)
{
    weir_session *s = c->s;
    if (s->participant) {
        fail(c, E_CONFLICT, "already in a room: leave first");
        return;
    }
    weir_join_request req = {
        .room_id = json_string_value(json_object_get(c->params, "room")),
        .display = json_string_value(json_object_get(c->params, "display")),
    };
    weir_jwt_claims claims;
    char err[256];
    int code = authenticate(ctl, c, &req, &claims, err, sizeof err);
    if (!code)
        code = weir_membership_join(ctl, s, &req, err, sizeof err);
    if (code) {
        weir_session_log(s, WEIR_LOG_INFO, "join_refused room=%s code=%d", req.room_id, code);
        fail(c, code, err);
        return;
    }
    weir_participant *p = s->participant;
    json_t *result = json_pack(
        "{s:o, s:o, s:o, s:o, s:o}", "participant", weir_membership_participant_json(p), "room",
        weir_membership_room_json(p->room), "participants", participants_except(p->room, p),
        "tracks", weir_media_tracks_json(p->room, p), "ice_servers", ice_servers_json(ctl->cfg));
    reply(c, result);
    /* The offer of what is already published follows the join result. */
    weir_media_refresh(ctl, p);
}

static void handle_leave(weir_control *ctl, const call *c)
{
    weir_membership_leave(ctl, c->s->participant, "left");
    reply(c, json_object());
}

static void handle_moderate(weir_control *ctl, const call *c)
{
    const char *action = json_string_value(json_object_get(c->params, "action"));
    const char *target_id = json_string_value(json_object_get(c->params, "participant"));
    weir_participant *self = c->s->participant;
    weir_participant *target = weir_room_find(self->room, target_id);
    if (!target) {
        fail(c, E_NOT_FOUND, "no such participant in this room");
        return;
    }
    if (strcmp(action, "mute") == 0) {
        const char *track_id = json_string_value(json_object_get(c->params, "track"));
        weir_track *t = weir_media_find_track(ctl, self->room, track_id);
        if (!t || t->owner != target) {
            fail(c, E_NOT_FOUND, "no such track of that participant");
            return;
        }
        weir_media_set_muted(ctl, t, true);
        t->muted_by_moderator = true;
        if (target->session)
            weir_session_notify(
                target->session, "moderated",
                json_pack("{s:s, s:s, s:s}", "action", action, "by", self->id, "track", t->id));
        reply(c, json_object());
        return;
    }
    if (strcmp(action, "kick") == 0) {
        weir_membership_kick(ctl, target, self->id);
        reply(c, json_object());
        return;
    }
    bool allow = strcmp(action, "allow_publish") == 0;
    target->may_publish = allow;
    /* Denying stops what the target already publishes; allowing lets it unmute again. */
    for (size_t k = 0; target->media && k < target->media->n_tracks; k++) {
        weir_track *t = target->media->tracks[k];
        if (!allow)
            weir_media_set_muted(ctl, t, true);
        t->muted_by_moderator = !allow;
    }
    if (target->session)
        weir_session_notify(target->session, "moderated",
                            json_pack("{s:s, s:s}", "action", action, "by", self->id));
    reply(c, json_object());
}

/* Builds the worker's PUBLISH payload's candidate list from the offer (bundle transport). */
static void offer_candidates(const weir_sdp *offer, weir_worker_publish *pub)
{
    for (size_t i = 0; i < offer->n_media; i++) {
        const weir_sdp_media *m = offer->media[i];
        for (size_t k = 0; k < m->n_candidates; k++) {
            const weir_sdp_candidate *c = &m->candidates[k];
            if (pub->n_candidates >= WEIR_WORKER_MAX_OFFER_CANDIDATES)
                return;
            char *out = pub->candidates[pub->n_candidates];
            int n = snprintf(out, WEIR_WORKER_CANDIDATE_MAX, "candidate:%s %u %s %u %s %u typ %s",
                             c->foundation, (unsigned)c->component, c->transport,
                             (unsigned)c->priority, c->address, (unsigned)c->port, c->type);
            if (n > 0 && c->raddr && c->rport >= 0)
                n += snprintf(
                    out + n,
                    (size_t)(n < WEIR_WORKER_CANDIDATE_MAX ? WEIR_WORKER_CANDIDATE_MAX - n : 0),
                    " raddr %s rport %d", c->raddr, (int)c->rport);
            if (n > 0 && n < WEIR_WORKER_CANDIDATE_MAX)
                pub->n_candidates++;
        }
        if (m->end_of_candidates)
            pub->end_of_candidates = true;
        /* BUNDLE: the first m-line's transport is the one used. */
        if (m->n_candidates)
            return;
    }
}

/* The optional `tracks` hint [{mid, source}] (validated by the method table). */
static int apply_track_hints(const call *c, weir_publish_desc *desc, char *err, size_t errlen)
{
    const json_t *tracks = json_object_get(c->params, "tracks");
    size_t n = json_array_size(tracks);
    if (!n)
        return 0;
    const char **mids = weir_calloc(n, sizeof *mids);
    const char **sources = weir_calloc(n, sizeof *sources);
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(tracks, i);
        mids[i] = json_string_value(json_object_get(t, "mid"));
        sources[i] = json_string_value(json_object_get(t, "source"));
    }
    int rc = weir_negotiate_apply_sources(desc, mids, sources, n, err, errlen);
    weir_free(mids);
    weir_free(sources);
    return rc;
}

/* The publisher PC's ICE credentials: new on the first publish and on an ICE restart. */
static bool publisher_credentials(weir_control *ctl, weir_participant *p, const weir_sdp *offer)
{
    weir_participant_media *pm = p->media;
    const char *remote = NULL;
    if (offer->n_media) {
        weir_sdp_transport tr;
        weir_sdp_media_transport(offer, offer->media[0], &tr);
        remote = tr.ice_ufrag;
    }
    bool restart = p->publishing && remote && strcmp(remote, pm->pub_remote_ufrag) != 0;
    if (!p->publishing || restart) {
        weir_rand_id(&ctl->rand, pm->pub_ufrag, 8);
        weir_rand_id(&ctl->rand, pm->pub_pwd, 24);
    }
    if (!p->publishing) {
        pm->pub_session_id = weir_rand_u64(&ctl->rand) >> 2;
        pm->pub_version = 1;
    }
    return restart;
}

static int answer_offer(weir_control *ctl, weir_participant *p, const weir_sdp *offer,
                        weir_worker_publish *pub, weir_sdp **answer, char *err, size_t errlen)
{
    weir_participant_media *pm = p->media;
    snprintf(pub->local_ufrag, sizeof pub->local_ufrag, "%s", pm->pub_ufrag);
    snprintf(pub->local_pwd, sizeof pub->local_pwd, "%s", pm->pub_pwd);
    weir_local_params lp;
    weir_local_params_init(&lp);
    lp.ice_ufrag = pm->pub_ufrag;
    lp.ice_pwd = pm->pub_pwd;
    lp.fingerprint = weir_cert_fingerprint(ctl->cert);
    lp.session_id = pm->pub_session_id;
    lp.session_version = pm->pub_version + 1;
    lp.max_message_size = (uint64_t)ctl->cfg->data_max_message_size; /* what the workers accept */
    lp.codecs = ctl->codecs; /* [media] video_codecs: the server's preference order */
    lp.n_codecs = ctl->n_codecs;
    return weir_negotiate_publisher_answer(offer, &lp, answer, &pub->desc, err, errlen);
}

/* True when the offer would send audio or video (an m-line in use, sendrecv or sendonly). */
static bool offer_sends_media(const weir_sdp *offer)
{
    for (size_t i = 0; i < offer->n_media; i++) {
        const weir_sdp_media *m = offer->media[i];
        weir_sdp_direction d = weir_sdp_media_direction(offer, m);
        if ((m->kind == WEIR_SDP_AUDIO || m->kind == WEIR_SDP_VIDEO) && m->port != 0 &&
            (d == WEIR_SDP_SENDRECV || d == WEIR_SDP_SENDONLY || d == WEIR_SDP_DIR_NONE))
            return true;
    }
    return false;
}

static void handle_publish(weir_control *ctl, const call *c)
{
    weir_participant *p = c->s->participant;
    const char *text = json_string_value(json_object_get(c->params, "sdp"));
    char err[256], msg[300];
    weir_sdp *offer = NULL;
    if (weir_sdp_parse(text, strlen(text), &offer, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "invalid offer: %s", err);
        /* one who may not publish learns that first, whatever the offer */
        if (p->may_publish)
            fail(c, WEIR_RPC_INVALID_PARAMS, msg);
        else
            fail(c, E_FORBIDDEN, "publish: not allowed for you in this room (ask the teacher)");
        return;
    }
    /* Those who may not publish still open a publisher PC for data channels (PROTOCOL.md). */
    if (!p->may_publish && offer_sends_media(offer)) {
        weir_sdp_free(offer);
        fail(c, E_FORBIDDEN,
             p->role == WEIR_ROLE_STUDENT
                 ? "publish: not allowed for you in this room (ask the teacher); data channels only"
                 : "publish: audio/video not allowed for your role; data channels only");
        return;
    }
    weir_participant_media saved = *p->media;
    bool restart = publisher_credentials(ctl, p, offer);
    weir_worker_publish *pub = WEIR_NEW(weir_worker_publish);
    weir_sdp *answer = NULL;
    if (answer_offer(ctl, p, offer, pub, &answer, err, sizeof err) < 0 ||
        apply_track_hints(c, &pub->desc, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "%s: %s", answer ? "tracks" : "offer refused", err);
        fail(c, WEIR_RPC_INVALID_PARAMS, msg);
        *p->media = saved; /* a refused offer changes nothing, credentials included */
        weir_sdp_free(offer);
        weir_sdp_free(answer);
        weir_free(pub);
        return;
    }
    offer_candidates(offer, pub);
    weir_sdp_free(offer);
    weir_participant_media *pm = p->media;
    pm->pub_version++;
    snprintf(pm->pub_remote_ufrag, sizeof pm->pub_remote_ufrag, "%s", pub->desc.ice_ufrag);
    pub->renegotiate = p->publishing;
    pub->ice_restart = restart;
    snprintf(p->pub_bundle_mid, sizeof p->pub_bundle_mid, "%s", pub->desc.bundle_mid);
    p->pub_bundle_index = 0;
    for (size_t i = 0; i < pub->desc.n_media; i++)
        if (strcmp(pub->desc.media[i].mid, pub->desc.bundle_mid) == 0) {
            p->pub_bundle_index = (int)i;
            break;
        }
    char *sdp = weir_sdp_write(answer, NULL);
    weir_sdp_free(answer);
    weir_media_publish(ctl, p, &pub->desc, pub);
    bool renegotiated = pub->renegotiate;
    if (weir_control_send_to_peer(ctl, p, WEIR_WORKER_CMD_PUBLISH, pub) < 0) {
        weir_free(sdp);
        fail(c, WEIR_RPC_INTERNAL_ERROR, "publish: media worker unavailable");
        return;
    }
    if (!renegotiated) {
        p->publishing = true;
        p->pub_state = "new";
        p->pub_srtp[0] = 0;
    }
    weir_session_log(c->s, WEIR_LOG_INFO, "publish_answered worker=%d renegotiation=%d restart=%d",
                     p->worker_index, (int)renegotiated, (int)restart);
    /* An addition to PROTOCOL.md: the publisher learns its own track ids (for `mute`). */
    reply(c, json_pack("{s:s, s:o}", "sdp", sdp, "tracks", weir_media_own_tracks_json(p)));
    weir_free(sdp);
    weir_media_announce(ctl, p);
}

static void handle_trickle(weir_control *ctl, const call *c)
{
    const char *pc = json_string_value(json_object_get(c->params, "pc"));
    bool subscriber = strcmp(pc, "subscriber") == 0;
    weir_participant *p = c->s->participant;
    if (!subscriber && !p->publishing) {
        fail(c, E_CONFLICT, "trickle: publish first");
        return;
    }
    if (subscriber && !(p->media && p->media->sub_started)) {
        fail(c, E_CONFLICT, "trickle: no subscriber offer was sent to you yet");
        return;
    }
    const json_t *cand = json_object_get(c->params, "candidate");
    const char *text =
        json_is_object(cand) ? json_string_value(json_object_get(cand, "candidate")) : NULL;
    weir_worker_trickle *t = WEIR_NEW(weir_worker_trickle);
    if (text && strlen(text) >= sizeof t->candidate) {
        weir_free(t);
        fail(c, WEIR_RPC_INVALID_PARAMS, "trickle: candidate too long");
        return;
    }
    snprintf(t->candidate, sizeof t->candidate, "%s", text ? text : "");
    t->subscriber = subscriber;
    weir_control_send_to_peer(ctl, p, WEIR_WORKER_CMD_TRICKLE, t);
    reply(c, json_object());
}

static void handle_answer(weir_control *ctl, const call *c)
{
    char err[300];
    int code =
        weir_media_answer(ctl, c->s->participant,
                          json_string_value(json_object_get(c->params, "sdp")), err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, json_object());
}

static void handle_subscribe(weir_control *ctl, const call *c)
{
    char err[160];
    int code = weir_media_subscribe(ctl, c->s->participant, json_object_get(c->params, "tracks"),
                                    c->method->id == WEIR_METHOD_SUBSCRIBE, err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, json_object());
}

static void handle_set_preferences(weir_control *ctl, const call *c)
{
    const json_t *paused = json_object_get(c->params, "paused");
    const json_t *spatial = json_object_get(c->params, "max_spatial");
    const json_t *temporal = json_object_get(c->params, "max_temporal");
    char err[160];
    int code = weir_media_set_preferences(ctl, c->s->participant,
                                          json_string_value(json_object_get(c->params, "track")),
                                          spatial ? (int)json_integer_value(spatial) : -1,
                                          temporal ? (int)json_integer_value(temporal) : -1,
                                          paused ? (int)json_is_true(paused) : -1, err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, json_object());
}

static void handle_mute(weir_control *ctl, const call *c)
{
    weir_participant *p = c->s->participant;
    const char *id = json_string_value(json_object_get(c->params, "track"));
    weir_track *t = weir_media_find_track(ctl, p->room, id);
    if (!t || t->owner != p) {
        fail(c, E_NOT_FOUND, "mute: no such track of yours");
        return;
    }
    bool muted = json_is_true(json_object_get(c->params, "muted"));
    if (!muted && t->muted_by_moderator && p->role != WEIR_ROLE_TEACHER) {
        fail(c, E_FORBIDDEN, "mute: a teacher muted this track; ask them to allow you to publish");
        return;
    }
    weir_media_set_muted(ctl, t, muted);
    if (!muted)
        t->muted_by_moderator = false;
    reply(c, json_object());
}

/* RTP taps for external recording workers (control/taps.c). */
static void handle_tap_start(weir_control *ctl, const call *c)
{
    char err[256];
    json_t *result = NULL;
    int code = weir_taps_start(ctl, c->s->participant, c->params, &result, err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, result);
}

static void handle_tap_stop(weir_control *ctl, const call *c)
{
    char err[160];
    int code =
        weir_taps_stop(ctl, c->s->participant, json_string_value(json_object_get(c->params, "tap")),
                       err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, json_object());
}

/* Built-in recording (control/recordings.c). */
static void handle_record_start(weir_control *ctl, const call *c)
{
    char err[512];
    json_t *result = NULL;
    int code = weir_recordings_start(ctl, c->s->participant, c->params, &result, err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, result);
}

static void handle_record_stop(weir_control *ctl, const call *c)
{
    char err[160];
    json_t *result = NULL;
    int code = weir_recordings_stop(ctl, c->s->participant,
                                    json_string_value(json_object_get(c->params, "recording")),
                                    &result, err, sizeof err);
    if (code)
        fail(c, code, err);
    else
        reply(c, result);
}

static const handler_fn handlers[WEIR_METHOD_COUNT] = {
    [WEIR_METHOD_JOIN] = handle_join,
    [WEIR_METHOD_LEAVE] = handle_leave,
    [WEIR_METHOD_MODERATE] = handle_moderate,
    [WEIR_METHOD_PUBLISH] = handle_publish,
    [WEIR_METHOD_ANSWER] = handle_answer,
    [WEIR_METHOD_TRICKLE] = handle_trickle,
    [WEIR_METHOD_SUBSCRIBE] = handle_subscribe,
    [WEIR_METHOD_UNSUBSCRIBE] = handle_subscribe,
    [WEIR_METHOD_SET_PREFERENCES] = handle_set_preferences,
    [WEIR_METHOD_MUTE] = handle_mute,
    [WEIR_METHOD_RECORD_START] = handle_record_start,
    [WEIR_METHOD_RECORD_STOP] = handle_record_stop,
    [WEIR_METHOD_TAP_START] = handle_tap_start,
    [WEIR_METHOD_TAP_STOP] = handle_tap_stop,
};

/* Checks that precede any handler: method known, params valid, joined, role allowed. */
static int admit_call(call *c, const char *name, char *err, size_t errlen)
{
    c->method = weir_method_find(name);
    if (!c->method) {
        snprintf(err, errlen, "unknown method: %.64s", name);
        return WEIR_RPC_METHOD_NOT_FOUND;
    }
    int rc = weir_method_validate(c->method, c->params, err, errlen);
    if (rc)
        return rc;
    const weir_participant *p = c->s->participant;
    if (c->method->needs_room && !p) {
        snprintf(err, errlen, "%s: join a room first", name);
        return E_CONFLICT;
    }
    if (p && !(c->method->roles & WEIR_ROLE_BIT(p->role))) {
        snprintf(err, errlen, "%s: not allowed for role %s", name, weir_role_name(p->role));
        return E_FORBIDDEN;
    }
    return 0;
}

void weir_signalling_handle_message(weir_session *s, const char *buf, size_t len, int64_t now_us)
{
    weir_control *ctl = s->ctl;
    ctl->metrics.messages_total++;
    weir_rpc_msg msg;
    json_t *err_id = NULL;
    char err[256];
    int rc = weir_rpc_parse(buf, len, &msg, &err_id, err, sizeof err);
    if (rc < 0) {
        weir_session_log(s, WEIR_LOG_DEBUG, "bad_message code=%d", rc);
        weir_session_send_error(s, err_id, rc, err);
        json_decref(err_id);
        weir_signalling_on_rejected(s);
        return;
    }
    if (!weir_token_bucket_take(&s->bucket, now_us)) {
        if (msg.id)
            weir_session_send_error(s, msg.id, E_RATE, "rate limited: slow down");
        weir_rpc_msg_deinit(&msg);
        weir_signalling_on_rejected(s);
        return;
    }
    if (!msg.id) {
        /* No client notification is defined yet; ignore unknown ones (JSON-RPC: no answer). */
        weir_rpc_msg_deinit(&msg);
        return;
    }
    call c = {.s = s, .id = msg.id, .params = msg.params};
    rc = admit_call(&c, msg.method, err, sizeof err);
    if (rc) {
        weir_session_send_error(s, msg.id, rc, err);
        if (rc == WEIR_RPC_METHOD_NOT_FOUND)
            weir_signalling_on_rejected(s);
        else
            s->reject_streak = 0;
    } else {
        s->reject_streak = 0;
        handlers[c.method->id](ctl, &c);
    }
    weir_rpc_msg_deinit(&msg);
}
