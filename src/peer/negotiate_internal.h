/*
 * Shared by negotiate.c (session, transport, BUNDLE, answer skeleton),
 * negotiate_media.c (what one m-line carries: codec, feedback, header
 * extensions, simulcast, SSRCs) and negotiate_subscriber.c only.
 */
#ifndef WEIR_PEER_NEGOTIATE_INTERNAL_H
#define WEIR_PEER_NEGOTIATE_INTERNAL_H

#include <stdarg.h>

#include "peer/negotiate.h"

/* printf into err (when errlen > 0); returns rc for `return fail(...)`. */
int weir_negotiate_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Adds lp's local candidates to m-line m of sdp (a leading "a=" accepted),
 * a=end-of-candidates when lp says gathering is over (RFC 8840 §8.2), and
 * the default candidate in m= and c= (JSEP §5.2.1; port 9 / 0.0.0.0 with
 * none; mDNS names are not addresses a c= line may carry). 0, or
 * -WEIR_EINVAL with err naming the malformed candidate.
 */
int weir_negotiate_add_candidates(weir_sdp *sdp, weir_sdp_media *m, const weir_local_params *lp,
                                  char *err, size_t errlen);

/* Copies s into a fixed buffer; false (dst "") when it does not fit. */
bool weir_negotiate_copy(char *dst, size_t cap, const char *s);

/*
 * Decides what the answer does with the offered audio/video/application
 * m-line m (not rejected by the offer; pm->mid and pm->kind already set):
 * fills pm, or marks it rejected with a reason. data_taken: an earlier
 * m-line already carries the data channels. Returns 0, or -WEIR_EINVAL
 * with err for a fault that refuses the whole offer (no rtcp-mux, msid too
 * long).
 */
int weir_negotiate_plan_media(const weir_sdp_media *m, const weir_local_params *lp, bool data_taken,
                              weir_publish_media *pm, char *err, size_t errlen);

/*
 * Adds to the answer's RTP m-line am what pm decided for the offered om:
 * formats with rtpmap/fmtp/rtcp-fb, extmaps, rids and simulcast. 0 or
 * -WEIR_E* when the builder refuses (out of its limits).
 */
int weir_negotiate_write_rtp(weir_sdp *answer, weir_sdp_media *am, const weir_sdp_media *om,
                             const weir_local_params *lp, const weir_publish_media *pm);

#endif
