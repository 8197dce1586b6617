/*
 * The tap's SDP (control/tap_sdp.h): the exact text for a participant tap,
 * the SRTP key line decoding back to the key, Weir's own SDP parser reading
 * the result, and descriptions that must be refused.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <string.h>

#include "control/tap_sdp.h"
#include "proto/sdp.h"
#include "weir/alloc.h"

static weir_tap_sdp participant_tap(void)
{
    weir_tap_sdp s = {.tap_id = "kAbC123", .host = "127.0.0.1", .session_id = 42, .n_media = 2};
    s.media[0] = (weir_tap_sdp_media){.codec = WEIR_CODEC_VP8,
                                      .pt = 96,
                                      .clock_rate_hz = 90000,
                                      .port = 5004,
                                      .rtcp_port = 5005,
                                      .ssrc = 1111};
    s.media[1] = (weir_tap_sdp_media){.audio = true,
                                      .codec = WEIR_CODEC_OPUS,
                                      .pt = 111,
                                      .clock_rate_hz = 48000,
                                      .channels = 2,
                                      .fmtp = "minptime=10;useinbandfec=1",
                                      .port = 5006,
                                      .rtcp_port = 5007,
                                      .ssrc = 2222};
    return s;
}

Test(tap_sdp, participant_tap_text)
{
    weir_tap_sdp s = participant_tap();
    char *text = weir_tap_sdp_write(&s);
    cr_assert_not_null(text);
    const char *want = "v=0\r\n"
                       "o=- 42 1 IN IP4 127.0.0.1\r\n"
                       "s=Weir tap kAbC123\r\n"
                       "c=IN IP4 127.0.0.1\r\n"
                       "t=0 0\r\n"
                       "m=video 5004 RTP/AVP 96\r\n"
                       "a=rtpmap:96 VP8/90000\r\n"
                       "a=ssrc:1111 cname:weir-kAbC123\r\n"
                       "m=audio 5006 RTP/AVP 111\r\n"
                       "a=rtpmap:111 opus/48000/2\r\n"
                       "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
                       "a=ssrc:2222 cname:weir-kAbC123\r\n";
    cr_expect_str_eq(text, want);
    weir_free(text);
}

Test(tap_sdp, srtp_ipv6_and_rtcp_port)
{
    weir_tap_sdp s = participant_tap();
    uint8_t key[WEIR_TAP_SRTP_KEY_LEN];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 3);
    s.host = "::1";
    s.ipv6 = true;
    s.n_media = 1;
    s.media[0].srtp_key = key;
    s.media[0].rtcp_port = 6000;
    char *text = weir_tap_sdp_write(&s);
    cr_assert_not_null(text);
    cr_expect(strstr(text, "c=IN IP6 ::1\r\n") != NULL, "%s", text);
    cr_expect(strstr(text, "m=video 5004 RTP/SAVP 96\r\n") != NULL, "%s", text);
    cr_expect(strstr(text, "a=rtcp:6000\r\n") != NULL, "%s", text);
    const char *line = strstr(text, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:");
    cr_assert_not_null(line, "%s", text);
    const char *b64 = line + strlen("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:");
    size_t n = strcspn(b64, "\r");
    cr_assert_eq(n, 40);
    unsigned char decoded[31];
    cr_assert_eq(EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)n), 30);
    cr_expect_arr_eq(decoded, key, sizeof key);
    cr_expect(strstr(text, "m=audio") == NULL);

    /* Weir's own parser reads it back (a check on the syntax, not on ffmpeg). */
    weir_sdp *parsed = NULL;
    char err[160];
    cr_expect_eq(weir_sdp_parse(text, strlen(text), &parsed, err, sizeof err), 0, "%s", err);
    weir_sdp_free(parsed);
    weir_free(text);
}

Test(tap_sdp, unusable_descriptions_are_refused)
{
    weir_tap_sdp s;
    s = participant_tap();
    s.n_media = 0;
    cr_expect_null(weir_tap_sdp_write(&s));
    s = participant_tap();
    s.n_media = 3;
    cr_expect_null(weir_tap_sdp_write(&s));
    s = participant_tap();
    s.media[1].port = 0;
    cr_expect_null(weir_tap_sdp_write(&s));
    s = participant_tap();
    s.host = "127.0.0.1\r\nm=application 9 x";
    cr_expect_null(weir_tap_sdp_write(&s));
    s = participant_tap();
    s.media[1].fmtp = "a=1\r\na=crypto:evil";
    cr_expect_null(weir_tap_sdp_write(&s));
    s = participant_tap();
    s.tap_id = "";
    cr_expect_null(weir_tap_sdp_write(&s));
    s = participant_tap();
    s.media[0].pt = 128;
    cr_expect_null(weir_tap_sdp_write(&s));
    cr_expect_null(weir_tap_sdp_write(NULL));
}

Test(tap_sdp, codec_names)
{
    cr_expect_str_eq(weir_tap_sdp_codec_name(WEIR_CODEC_OPUS), "opus");
    cr_expect_str_eq(weir_tap_sdp_codec_name(WEIR_CODEC_VP8), "VP8");
    cr_expect_str_eq(weir_tap_sdp_codec_name(WEIR_CODEC_VP9), "VP9");
    cr_expect_str_eq(weir_tap_sdp_codec_name(WEIR_CODEC_H264), "H264");
    cr_expect_str_eq(weir_tap_sdp_codec_name(WEIR_CODEC_AV1), "AV1");
}
