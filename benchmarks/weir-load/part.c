/*
 * What both signalling drivers share (see driver.h): the participant's
 * WebSocket in the loop, blocking requests that keep the loop turning, and
 * the SDP of both peer connections (weir-client's SDP writer and reader,
 * which Weir's own tests already run through its negotiation).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <openssl/rand.h>

#include "answer.h"
#include "driver.h"
#include "peer.h"
#include "sdp_build.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "load.signal"
#include "weir/log.h"

static void on_ws_message(void *user, const char *text, size_t len)
{
    wl_part *part = user;
    json_error_t jerr;
    json_t *msg = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(msg)) {
        WEIR_LOG_WARN("bad message participant=%s: %s", part->name, jerr.text);
        json_decref(msg);
        return;
    }
    if (part->wait_txn[0] && !part->wait_reply && part->ctx->driver->is_reply(part, msg)) {
        part->wait_reply = msg;
        return;
    }
    part->ctx->driver->on_message(part, msg);
    json_decref(msg);
}

static void on_ws_ready(wl_io *io, uint32_t events)
{
    (void)events;
    wl_part *part = (wl_part *)io;
    if (part->closed)
        return;
    if (wl_ws_read(part->ws, on_ws_message, part) < 0) {
        WEIR_LOG_WARN("signalling closed participant=%s", part->name);
        part->closed = true;
        wl_loop_del(part->ctx, &part->io);
    }
}

int wl_part_connect(wl_part *part)
{
    wl_ctx *ctx = part->ctx;
    char err[160];
    part->ws = wl_ws_connect(ctx->opt.host, ctx->opt.port, ctx->driver->ws_path,
                             ctx->driver->ws_protocol, 5000, err, sizeof err);
    if (!part->ws) {
        WEIR_LOG_ERROR("participant=%s %s", part->name, err);
        return -WEIR_EIO;
    }
    part->io.fd = wl_ws_fd(part->ws);
    part->io.on_ready = on_ws_ready;
    return wl_loop_add(ctx, &part->io);
}

void wl_part_txn(wl_part *part, char *out, size_t cap)
{
    snprintf(out, cap, "%d-%llu", part->index, (unsigned long long)++part->next_txn);
}

int wl_part_send(wl_part *part, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text || part->closed) {
        free(text);
        return -WEIR_EIO;
    }
    int rc = wl_ws_send_text(part->ws, text, strlen(text));
    free(text);
    return rc;
}

static bool reply_arrived(void *arg)
{
    wl_part *part = arg;
    return part->wait_reply != NULL || part->closed;
}

json_t *wl_part_request(wl_part *part, json_t *msg, const char *txn, int timeout_ms)
{
    snprintf(part->wait_txn, sizeof part->wait_txn, "%s", txn);
    part->wait_reply = NULL;
    if (wl_part_send(part, msg) < 0) {
        part->wait_txn[0] = '\0';
        return NULL;
    }
    wl_run_until(part->ctx, reply_arrived, part, timeout_ms);
    json_t *reply = part->wait_reply;
    part->wait_reply = NULL;
    part->wait_txn[0] = '\0';
    if (!reply)
        WEIR_LOG_WARN("no reply participant=%s txn=%s", part->name, txn);
    return reply;
}

char *wl_publish_offer(wl_part *part)
{
    wl_peer *p = part->pub;
    const wl_clip *clip = &part->ctx->clip;
    size_t layers = part->pub_layers > 0 ? (size_t)part->pub_layers : 1;
    p->tx.n_layers = layers < clip->n_layers ? layers : clip->n_layers;
    wc_offer_params op = {
        .ice_ufrag = p->lufrag,
        .ice_pwd = p->lpwd,
        .fingerprint = weir_cert_fingerprint(part->ctx->cert),
        .cname = part->name,
        .stream_id = part->name,
        .audio = true,
        .video = true,
        .simulcast = p->tx.n_layers > 1,
        .n_layers = p->tx.n_layers,
    };
    RAND_bytes((uint8_t *)&op.session_id, sizeof op.session_id);
    op.session_id >>= 2;
    uint32_t r[8];
    RAND_bytes((uint8_t *)r, sizeof r);
    p->tx.audio_ssrc = op.audio_ssrc = r[0] | 1;
    for (size_t i = 0; i < p->tx.n_layers; i++) {
        p->tx.layers[i].ssrc = r[1 + i] | 1;
        p->tx.layers[i].seq = (uint16_t)r[5];
        op.layers[i].rid = clip->layers[i].rid;
        op.layers[i].ssrc = p->tx.layers[i].ssrc;
        op.layers[i].rtx_ssrc = r[4] | 1;
    }
    p->tx.audio_seq = (uint16_t)r[6];
    return wc_sdp_publish_offer(&op);
}

/* Remote transport of a description: ICE, fingerprint, setup, candidates. */
static int apply_transport(wl_peer *p, const wc_remote_transport *t)
{
    if (wl_peer_set_remote(p, t->ice_ufrag, t->ice_pwd, t->fingerprint_hash, t->fingerprint,
                           t->setup) < 0)
        return -WEIR_EINVAL;
    for (size_t i = 0; i < t->n_candidates; i++)
        wl_peer_add_candidate(p, t->candidates[i]);
    return 0;
}

int wl_apply_publish_answer(wl_part *part, const char *text)
{
    weir_sdp *sdp = NULL;
    char err[160];
    wc_remote_transport t;
    WEIR_LOG_DEBUG("publish answer participant=%s sdp=%s", part->name, text);
    if (weir_sdp_parse(text, strlen(text), &sdp, err, sizeof err) < 0 ||
        wc_sdp_read_transport(sdp, &t, err, sizeof err) < 0) {
        WEIR_LOG_ERROR("publish answer participant=%s: %s", part->name, err);
        weir_sdp_free(sdp);
        return -WEIR_EINVAL;
    }
    wl_peer *p = part->pub;
    for (size_t i = 0; i < sdp->n_media; i++) {
        const weir_sdp_media *m = sdp->media[i];
        if (m->kind != WEIR_SDP_VIDEO)
            continue;
        int mid = weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_MID);
        int rid = weir_sdp_media_extmap_id(m, WEIR_SDP_EXT_RID);
        p->tx.ext_mid = mid > 0 && mid < 15 ? (uint8_t)mid : 0;
        p->tx.ext_rid = rid > 0 && rid < 15 ? (uint8_t)rid : 0;
    }
    int rc = apply_transport(p, &t);
    weir_sdp_free(sdp);
    if (rc < 0)
        WEIR_LOG_ERROR("publish answer participant=%s: bad transport", part->name);
    return rc;
}

char *wl_subscribe_answer(wl_part *part, const char *offer)
{
    if (!part->sub) {
        part->sub = wl_peer_create(part->ctx, part, false, false);
        if (!part->sub)
            return NULL;
        if (part->decode)
            wl_peer_enable_decode(part->sub);
    }
    wl_peer *p = part->sub;
    wl_answer_params ap = {
        .ice_ufrag = p->lufrag,
        .ice_pwd = p->lpwd,
        .fingerprint = weir_cert_fingerprint(part->ctx->cert),
        .session_version = ++p->answers,
    };
    char *answer = NULL;
    char err[160];
    wl_offer_info info;
    WEIR_LOG_DEBUG("subscriber offer participant=%s sdp=%s", part->name, offer);
    if (wl_answer_offer(offer, &ap, &answer, &info, err, sizeof err) < 0) {
        WEIR_LOG_ERROR("subscriber offer participant=%s: %s", part->name, err);
        return NULL;
    }
    if (info.audio_pt > 0)
        p->audio_pt = (uint8_t)info.audio_pt;
    if (wl_peer_set_remote(p, info.ice_ufrag, info.ice_pwd, info.fp_hash, info.fingerprint,
                           info.setup) < 0) {
        WEIR_LOG_ERROR("subscriber offer participant=%s: bad transport", part->name);
        weir_free(answer);
        return NULL;
    }
    for (size_t i = 0; i < info.n_candidates; i++)
        wl_peer_add_candidate(p, info.candidates[i]);
    return answer;
}

bool wl_classroom_thumbnail(const wl_part *part, const wl_part *other)
{
    /* Students are parts 1..n; each watches the 4 that follow it, wrapping around. */
    int n = part->ctx->opt.students;
    if (other->teacher || other == part || n < 2)
        return false;
    int self = part->teacher ? 0 : part->index - 1;
    int o = other->index - 1;
    int ahead = ((o - self) % n + n) % n; /* 1..n-1 for another student */
    if (part->teacher)
        ahead = o + 1;
    return ahead >= 1 && ahead <= 4;
}
