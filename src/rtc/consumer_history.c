/*
 * The consumer's send history: references to the forwarded weir_pkts and
 * what rebuilds each packet exactly as first sent, answering the
 * subscriber's NACKs with RTX (RFC 4588) or a plain resend.
 */
#include "rtc/consumer_internal.h"

#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"

/* ---- writing a packet ---- */

/* C2: only our extensions; the values describe this transmission. */
static size_t our_extensions(const weir_consumer *c, const weir_pkt *p, int64_t now_us,
                             uint16_t twcc, weir_rtp_ext *exts, uint8_t *abs_buf, uint8_t *twcc_buf,
                             uint8_t *level_buf)
{
    const weir_consumer_config *cfg = &c->cfg;
    size_t n = 0;
    if (cfg->ext_mid)
        exts[n++] = (weir_rtp_ext){
            .id = cfg->ext_mid, .len = (uint8_t)c->mid_len, .data = (const uint8_t *)cfg->mid};
    if (cfg->ext_abs_send_time) {
        weir_rtp_abs_send_time_write(abs_buf, weir_rtp_abs_send_time_from_us(now_us));
        exts[n++] = (weir_rtp_ext){.id = cfg->ext_abs_send_time, .len = 3, .data = abs_buf};
    }
    if (cfg->ext_twcc) {
        weir_rtp_twcc_seq_write(twcc_buf, twcc);
        exts[n++] = (weir_rtp_ext){.id = cfg->ext_twcc, .len = 2, .data = twcc_buf};
    }
    if (cfg->ext_audio_level && p->has_audio_level) {
        weir_rtp_audio_level_write(level_buf, p->voice, p->audio_level);
        exts[n++] = (weir_rtp_ext){.id = cfg->ext_audio_level, .len = 1, .data = level_buf};
    }
    return n;
}

/* The VP8 ids go into our copy of the payload; the shared pkt stays immutable. */
static int rewrite_vp8(const weir_consumer_sent *s, const weir_vp8_desc *d, uint8_t *payload,
                       size_t len)
{
    weir_vp8_desc parsed;
    if (!d) {
        if (weir_vp8_parse(&parsed, payload, len) < 0)
            return -WEIR_EINVAL;
        d = &parsed;
    }
    return weir_vp8_write_ids(payload, len, d, &s->ids);
}

int weir_consumer_build(weir_consumer *c, const weir_consumer_sent *s, const weir_vp8_desc *d,
                        int64_t now_us, uint16_t *twcc_seq, uint8_t *out, size_t cap)
{
    const weir_pkt *p = s->pkt;
    uint16_t twcc = c->cfg.ext_twcc && twcc_seq ? *twcc_seq : 0;
    weir_rtp_ext exts[4];
    uint8_t abs_buf[3], twcc_buf[2], level_buf[1];
    size_t n_ext = our_extensions(c, p, now_us, twcc, exts, abs_buf, twcc_buf, level_buf);
    uint32_t csrcs[WEIR_RTP_MAX_CSRC];
    for (uint8_t i = 0; i < p->rtp.csrc_count; i++)
        weir_rtp_csrc(&p->rtp, p->data, i, &csrcs[i]);
    weir_rtp_fields f = {
        .ssrc = c->cfg.ssrc,
        .timestamp = s->out_ts,
        .seq = s->out_seq,
        .payload_type = s->out_pt,
        .marker = p->rtp.marker,
        .csrcs = csrcs,
        .csrc_count = p->rtp.csrc_count,
        .exts = exts,
        .ext_count = n_ext,
    };
    size_t plen = p->rtp.payload_len;
    int len = weir_rtp_write(out, cap, &f, weir_rtp_payload(&p->rtp, p->data), plen, 0);
    if (len < 0)
        return len;
    if (s->has_ids) {
        int rc = rewrite_vp8(s, d, out + (size_t)len - plen, plen);
        if (rc < 0)
            return rc;
    }
    if (c->cfg.ext_twcc && twcc_seq)
        (*twcc_seq)++;
    return len;
}

/* ---- the history ring ---- */

static weir_consumer_sent *slot_of(weir_consumer *c, uint16_t seq)
{
    return &c->hist[seq & c->hist_mask];
}

static void slot_release(weir_consumer_sent *s)
{
    weir_pkt_unref(s->pkt);
    s->pkt = NULL;
    s->queued = false;
}

static bool too_old(int64_t sent_us, int64_t now_us)
{
    return now_us - sent_us > WEIR_CONSUMER_HISTORY_MAX_AGE_US;
}

/* Whether moving the tail to new_tail would drop a packet still answerable. */
static bool evicts_young(weir_consumer *c, uint16_t new_tail, int64_t now_us)
{
    uint16_t n = (uint16_t)(new_tail - c->hist_tail);
    if (n > c->hist_mask)
        n = (uint16_t)(c->hist_mask + 1u);
    for (uint16_t i = 0; i < n; i++) {
        const weir_consumer_sent *s = slot_of(c, (uint16_t)(c->hist_tail + i));
        if (s->pkt && !too_old(s->sent_us, now_us))
            return true;
    }
    return false;
}

/* Doubles the ring, re-placing the live window [hist_tail, hist_head] by the new mask. */
static void grow_history(weir_consumer *c)
{
    size_t old_n = (size_t)c->hist_mask + 1, n = 2 * old_n;
    weir_consumer_sent *h = weir_calloc(n, sizeof *h);
    uint16_t live = (uint16_t)(c->hist_head - c->hist_tail);
    for (uint32_t i = 0; i <= live; i++) {
        uint16_t seq = (uint16_t)(c->hist_tail + i);
        h[seq & (n - 1)] = *slot_of(c, seq);
    }
    weir_free(c->hist);
    c->hist = h;
    c->hist_mask = (uint16_t)(n - 1);
}

/* A newer seq moves the window; slots that fall out of it are released,
 * unless the ring may still grow and they are young (then it grows). */
static void advance_window(weir_consumer *c, uint16_t seq, int64_t now_us)
{
    while ((uint16_t)(seq - c->hist_tail) > c->hist_mask && c->hist_mask < c->hist_max_mask &&
           evicts_young(c, (uint16_t)(seq - c->hist_mask), now_us))
        grow_history(c);
    uint16_t span = (uint16_t)(seq - c->hist_tail);
    if (span > c->hist_mask) {
        uint16_t new_tail = (uint16_t)(seq - c->hist_mask);
        uint16_t n = (uint16_t)(new_tail - c->hist_tail);
        if (n > c->hist_mask)
            n = (uint16_t)(c->hist_mask + 1u); /* every slot */
        for (uint16_t i = 0; i < n; i++)
            slot_release(slot_of(c, (uint16_t)(c->hist_tail + i)));
        c->hist_tail = new_tail;
    }
    c->hist_head = seq;
}

void weir_consumer_history_store(weir_consumer *c, const weir_consumer_sent *s, int64_t now_us)
{
    uint16_t seq = s->out_seq;
    if (!c->hist_any) {
        c->hist_any = true;
        c->hist_tail = seq;
        c->hist_head = seq;
    } else if ((int16_t)(uint16_t)(seq - c->hist_head) > 0) {
        advance_window(c, seq, now_us);
    } else if ((int16_t)(uint16_t)(seq - c->hist_tail) < 0) {
        return; /* a late packet older than the window: not kept */
    }
    weir_consumer_sent *slot = slot_of(c, seq);
    slot_release(slot);
    *slot = *s;
    slot->pkt = weir_pkt_ref(s->pkt);
    slot->sent_us = now_us;
    slot->last_sent_us = now_us;
    slot->queued = false;
}

void weir_consumer_history_expire(weir_consumer *c, int64_t now_us)
{
    while (c->hist_any) {
        weir_consumer_sent *s = slot_of(c, c->hist_tail);
        if (s->pkt && !too_old(s->sent_us, now_us))
            return;
        slot_release(s);
        if (c->hist_tail == c->hist_head) {
            c->hist_any = false;
            return;
        }
        c->hist_tail++;
    }
}

/* The slot holding out seq, or NULL when it is not (or no longer) answerable. */
static weir_consumer_sent *find_sent(weir_consumer *c, uint16_t seq, int64_t now_us)
{
    if (!c->hist_any || (uint16_t)(seq - c->hist_tail) > (uint16_t)(c->hist_head - c->hist_tail))
        return NULL;
    weir_consumer_sent *s = slot_of(c, seq);
    if (!s->pkt || s->out_seq != seq || too_old(s->sent_us, now_us))
        return NULL;
    return s;
}

/* ---- NACK and retransmission ---- */

static int64_t resend_interval_us(const weir_consumer *c)
{
    return c->rtt_us > WEIR_CONSUMER_RTX_MIN_INTERVAL_US ? c->rtt_us
                                                         : WEIR_CONSUMER_RTX_MIN_INTERVAL_US;
}

int weir_consumer_handle_nack(weir_consumer *c, const uint16_t *seqs, size_t n, int64_t now_us)
{
    if (now_us < c->last_now_us)
        now_us = c->last_now_us;
    int queued = 0;
    for (size_t i = 0; i < n; i++) {
        c->st.nack_seqs++;
        weir_consumer_sent *s = find_sent(c, seqs[i], now_us);
        if (!s || c->rtx_count == c->rtx_cap) {
            c->st.nack_unanswerable++;
            continue;
        }
        if (s->queued)
            continue;
        if (now_us - s->last_sent_us < resend_interval_us(c)) {
            c->st.nack_rate_limited++;
            continue;
        }
        c->rtx_queue[(c->rtx_head + c->rtx_count) % c->rtx_cap] = seqs[i];
        c->rtx_count++;
        s->queued = true;
        queued++;
    }
    return queued;
}

/* RFC 4588 §4: the original (fresh transport extensions included) behind the OSN. */
static int write_rtx(weir_consumer *c, const weir_consumer_sent *s, int64_t now_us,
                     uint16_t *twcc_seq, uint8_t *out, size_t cap)
{
    int len = weir_consumer_build(c, s, NULL, now_us, twcc_seq, c->scratch, sizeof c->scratch);
    if (len < 0)
        return len;
    weir_rtp orig;
    int rc = weir_rtp_parse(&orig, c->scratch, (size_t)len);
    if (rc < 0)
        return rc;
    rc = weir_rtp_rtx_wrap(out, cap, &orig, c->scratch, c->cfg.rtx_ssrc, c->cfg.rtx_pt, c->rtx_seq);
    if (rc >= 0)
        c->rtx_seq++;
    return rc;
}

static int retransmit(weir_consumer *c, weir_consumer_sent *s, int64_t now_us, uint16_t *twcc_seq,
                      uint8_t *out, size_t cap, size_t *out_len)
{
    int len;
    if (c->cfg.rtx_ssrc) {
        len = write_rtx(c, s, now_us, twcc_seq, out, cap);
    } else {
        len = weir_consumer_build(c, s, NULL, now_us, twcc_seq, out, cap);
        if (len >= 0) {
            c->sr_packets++;
            c->sr_octets += s->pkt->rtp.payload_len;
        }
    }
    if (len < 0)
        return len;
    s->last_sent_us = now_us;
    c->st.retransmitted++;
    c->st.retransmitted_bytes += (uint64_t)len;
    *out_len = (size_t)len;
    return 1;
}

int weir_consumer_poll_retransmit(weir_consumer *c, int64_t now_us, uint16_t *twcc_seq,
                                  uint8_t *out, size_t cap, size_t *out_len)
{
    if (now_us < c->last_now_us)
        now_us = c->last_now_us;
    while (c->rtx_count > 0) {
        uint16_t seq = c->rtx_queue[c->rtx_head];
        c->rtx_head = (c->rtx_head + 1) % c->rtx_cap;
        c->rtx_count--;
        weir_consumer_sent *s = find_sent(c, seq, now_us);
        if (!s || !s->queued) {
            /* aged out or replaced while queued */
            c->st.nack_unanswerable++;
            continue;
        }
        s->queued = false;
        return retransmit(c, s, now_us, twcc_seq, out, cap, out_len);
    }
    return 0;
}
