/*
 * The consumer's Sender Reports (lip-sync, RFC 3550 §6.4.1) and the RTT the
 * subscriber's report blocks give back (LSR/DLSR, §6.4.1 figure 2).
 */
#include "rtc/consumer_internal.h"

#include "weir/errors.h"

#define NTP_ONE_SECOND (1ll << 32)

/* Signed tick count → NTP 32.32 difference, without overflowing 64 bits. */
static int64_t ticks_to_ntp(int64_t ticks, uint32_t rate_hz)
{
    int64_t sec = ticks / rate_hz;
    int64_t rem = ticks % rate_hz;
    return sec * NTP_ONE_SECOND + rem * NTP_ONE_SECOND / rate_hz;
}

/*
 * The pair lies on the publisher's own NTP/RTP line for the forwarded
 * source, moved into our timestamp space by the tsmap offset: the newest
 * forwarded timestamp's NTP on that line, both extrapolated by the wall time
 * since it was forwarded (header comment of consumer.h).
 */
static void sr_pair(const weir_consumer *c, int64_t now_us, uint64_t *ntp, uint32_t *rtp_ts)
{
    uint32_t rate = c->cfg.clock_rate_hz;
    int64_t elapsed_us = now_us > c->ref_us ? now_us - c->ref_us : 0;
    uint32_t src_ts = c->ref_out_ts - weir_tsmap_offset(&c->ts);
    int64_t since_sr = (int32_t)(src_ts - c->src_sr_rtp);
    *ntp = c->src_sr_ntp + (uint64_t)ticks_to_ntp(since_sr, rate) +
           (uint64_t)ticks_to_ntp(elapsed_us, 1000000);
    *rtp_ts = c->ref_out_ts + (uint32_t)(elapsed_us * rate / 1000000);
}

int weir_consumer_write_sr(weir_consumer *c, int64_t now_us, uint8_t *out, size_t cap,
                           size_t *out_len)
{
    if (now_us < c->last_now_us)
        now_us = c->last_now_us;
    if (!c->has_src_sr || !c->has_ref || c->st.packets_sent == 0)
        return 0;
    weir_rtcp_sr sr = {
        .ssrc = c->cfg.ssrc,
        .packet_count = c->sr_packets,
        .octet_count = c->sr_octets,
    };
    sr_pair(c, now_us, &sr.ntp, &sr.rtp_ts);
    int len = weir_rtcp_sr_write(out, cap, &sr, NULL, 0);
    if (len < 0)
        return len;
    c->sr_sent = true;
    c->sr_mid32 = weir_rtcp_ntp_mid32(sr.ntp);
    c->sr_sent_us = now_us;
    *out_len = (size_t)len;
    return 1;
}

int weir_consumer_ntp_of(const weir_consumer *c, uint32_t out_ts, uint64_t *ntp)
{
    if (!c->has_src_sr)
        return 0;
    uint32_t src_ts = out_ts - weir_tsmap_offset(&c->ts);
    int64_t since_sr = (int32_t)(src_ts - c->src_sr_rtp);
    *ntp = c->src_sr_ntp + (uint64_t)ticks_to_ntp(since_sr, c->cfg.clock_rate_hz);
    return 1;
}

int64_t weir_consumer_handle_report_block(weir_consumer *c, const weir_rtcp_report_block *b,
                                          int64_t now_us)
{
    if (b->ssrc != c->cfg.ssrc || !c->sr_sent || b->lsr == 0 || b->lsr != c->sr_mid32)
        return -1;
    int64_t dlsr_us = (int64_t)b->dlsr * 1000000 / 65536;
    int64_t rtt_us = now_us - c->sr_sent_us - dlsr_us;
    if (rtt_us < 0)
        rtt_us = 0;
    c->rtt_us = rtt_us;
    return rtt_us;
}
