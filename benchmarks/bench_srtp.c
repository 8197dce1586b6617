/*
 * SRTP micro-benchmark: protect + unprotect of 1200-byte RTP packets with
 * SRTP_AES128_CM_SHA1_80 and SRTP_AEAD_AES_128_GCM through src/peer/srtp.c,
 * the ratio of the two measured in the same run (STYLE.md: timing is a
 * ratio against a baseline from the same process).
 *
 * Usage: bench_srtp [iterations]   (default 200000 per profile)
 *
 * The first table uses the default options, so its GCM "protect only" is
 * the OpenSSL path (before srtp_gcm_tx.c it was libsrtp's, ~5.6x CM's).
 *
 * Then outbound RTP under GCM on its two paths (protect only, the SFU's
 * per-subscriber cost): OpenSSL EVP (srtp_gcm_tx.c, the default) against
 * libsrtp (weir_srtp_options.libsrtp_tx), for 1200-byte video-sized and
 * 200-byte audio-sized packets, on 1 and on 50 SSRCs sent round-robin
 * (libsrtp finds its stream by a list walk). Each pair runs alternately
 * three times and the best of each is kept, which damps noise from other
 * processes on a shared machine; the ratio is OpenSSL/libsrtp.
 *
 * It also reports which crypto library libsrtp2 runs on: Debian builds
 * libsrtp2 against NSS, so its AES-GCM is NSS's, not OpenSSL's; seeing
 * libnss3 mapped into this process means the NSS backend is in use.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer/srtp.h"

#define PACKET_LEN 1200
#define CAP (PACKET_LEN + WEIR_SRTP_MAX_RTP_OVERHEAD)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int find_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    const char **found = arg;
    if (strstr(info->dlpi_name, "libnss3"))
        found[0] = info->dlpi_name;
    if (strstr(info->dlpi_name, "libcrypto"))
        found[1] = info->dlpi_name;
    return 0;
}

/* Two sessions keyed as the two ends of one DTLS-SRTP association. */
static void make_pair_opts(weir_srtp_profile profile, const weir_srtp_options *opts, weir_srtp **a,
                           weir_srtp **b)
{
    size_t kl, sl;
    weir_srtp_profile_lengths(profile, &kl, &sl);
    weir_srtp_keys ka = {.profile = profile, .key_len = (uint8_t)kl, .salt_len = (uint8_t)sl};
    for (size_t i = 0; i < kl; i++) {
        ka.local_key[i] = (uint8_t)(i * 3 + 1);
        ka.remote_key[i] = (uint8_t)(i * 5 + 2);
    }
    for (size_t i = 0; i < sl; i++) {
        ka.local_salt[i] = (uint8_t)(i * 7 + 3);
        ka.remote_salt[i] = (uint8_t)(i * 11 + 4);
    }
    weir_srtp_keys kb = ka;
    memcpy(kb.local_key, ka.remote_key, kl);
    memcpy(kb.remote_key, ka.local_key, kl);
    memcpy(kb.local_salt, ka.remote_salt, sl);
    memcpy(kb.remote_salt, ka.local_salt, sl);
    *a = weir_srtp_create(&ka, opts);
    *b = weir_srtp_create(&kb, opts);
    if (!*a || !*b) {
        fprintf(stderr, "weir_srtp_create failed for %s\n", weir_srtp_profile_name(profile));
        exit(1);
    }
}

static void make_pair(weir_srtp_profile profile, weir_srtp **a, weir_srtp **b)
{
    make_pair_opts(profile, NULL, a, b);
}

static void fill_rtp(uint8_t *buf, uint16_t seq)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    uint32_t ts = 3000u * seq;
    memcpy(buf + 4, &ts, 4);
    memcpy(buf + 8, "\x12\x34\x56\x78", 4);
}

typedef struct result {
    double both_pps;    /* protect + unprotect, packets per second */
    double protect_pps; /* protect alone */
} result;

static result run(weir_srtp_profile profile, long n)
{
    weir_srtp *a, *b, *c, *d;
    make_pair(profile, &a, &b);
    make_pair(profile, &c, &d);
    static uint8_t buf[CAP];
    for (size_t i = 12; i < PACKET_LEN; i++)
        buf[i] = (uint8_t)i;
    result r;

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        size_t len = PACKET_LEN;
        fill_rtp(buf, (uint16_t)i);
        if (weir_srtp_protect_rtp(a, buf, &len, CAP) != 0 ||
            weir_srtp_unprotect_rtp(b, buf, &len) != 0 || len != PACKET_LEN) {
            fprintf(stderr, "%s: round trip failed at %ld\n", weir_srtp_profile_name(profile), i);
            exit(1);
        }
    }
    r.both_pps = (double)n / (now_s() - t0);

    t0 = now_s();
    for (long i = 0; i < n; i++) {
        size_t len = PACKET_LEN;
        fill_rtp(buf, (uint16_t)i);
        if (weir_srtp_protect_rtp(c, buf, &len, CAP) != 0)
            exit(1);
    }
    r.protect_pps = (double)n / (now_s() - t0);
    weir_srtp_destroy(a);
    weir_srtp_destroy(b);
    weir_srtp_destroy(c);
    weir_srtp_destroy(d);
    return r;
}

/* GCM protect-only packets per second of len-byte packets over nssrc SSRCs. */
static double run_tx(bool libsrtp_tx, size_t len, uint32_t nssrc, long n)
{
    weir_srtp_options o = {.allow_repeat_tx = true, .libsrtp_tx = libsrtp_tx};
    weir_srtp *a, *b;
    make_pair_opts(WEIR_SRTP_PROFILE_AEAD_AES_128_GCM, &o, &a, &b);
    static uint8_t buf[CAP];
    for (size_t i = 12; i < PACKET_LEN; i++)
        buf[i] = (uint8_t)i;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        size_t l = len;
        uint32_t ssrc = 0x1000 + (uint32_t)i % nssrc;
        fill_rtp(buf, (uint16_t)(i / nssrc));
        for (int k = 0; k < 4; k++)
            buf[8 + k] = (uint8_t)(ssrc >> (24 - 8 * k));
        if (weir_srtp_protect_rtp(a, buf, &l, CAP) != 0 || l != len + 16) {
            fprintf(stderr, "gcm tx (%s) failed at %ld\n", libsrtp_tx ? "libsrtp" : "openssl", i);
            exit(1);
        }
    }
    double pps = (double)n / (now_s() - t0);
    if (!libsrtp_tx && weir_srtp_gcm_tx_ssrcs(a) != nssrc) {
        fprintf(stderr, "the OpenSSL path did not carry the packets\n");
        exit(1);
    }
    weir_srtp_destroy(a);
    weir_srtp_destroy(b);
    return pps;
}

static void report_gcm_tx(long n)
{
    static const struct {
        size_t len;
        uint32_t nssrc;
    } rows[] = {{PACKET_LEN, 1}, {200, 1}, {PACKET_LEN, 50}, {200, 50}};
    printf("\nGCM outbound RTP, protect only: OpenSSL EVP path vs libsrtp (best of 3 each)\n");
    printf("%-7s %-6s %16s %16s %8s\n", "bytes", "ssrcs", "openssl/s", "libsrtp/s", "ratio");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double best_ossl = 0, best_lib = 0;
        for (int rep = 0; rep < 3; rep++) {
            double o = run_tx(false, rows[r].len, rows[r].nssrc, n);
            double l = run_tx(true, rows[r].len, rows[r].nssrc, n);
            best_ossl = o > best_ossl ? o : best_ossl;
            best_lib = l > best_lib ? l : best_lib;
        }
        printf("%-7zu %-6u %16.0f %16.0f %8.2f\n", rows[r].len, rows[r].nssrc, best_ossl, best_lib,
               best_ossl / best_lib);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    if (n <= 0 || weir_srtp_global_init() != 0)
        return 1;
    const char *libs[2] = {NULL, NULL};
    dl_iterate_phdr(find_lib, libs);
    printf("%s; crypto backend: %s\n", weir_srtp_version(),
           libs[0] ? "NSS (libnss3 is loaded by libsrtp2)" : "OpenSSL (no libnss3 loaded)");
    printf("%ld packets of %d bytes per profile\n", n, PACKET_LEN);

    run(WEIR_SRTP_PROFILE_AES128_CM_SHA1_80, n / 10 + 1); /* warm-up */
    result cm = run(WEIR_SRTP_PROFILE_AES128_CM_SHA1_80, n);
    result gcm = run(WEIR_SRTP_PROFILE_AEAD_AES_128_GCM, n);
    const struct {
        const char *name;
        result r;
    } rows[] = {{"AES128_CM_SHA1_80", cm}, {"AEAD_AES_128_GCM", gcm}};
    printf("%-20s %16s %16s %12s\n", "profile", "protect+unprot/s", "protect only/s",
           "Gbit/s both");
    for (int i = 0; i < 2; i++)
        printf("%-20s %16.0f %16.0f %12.2f\n", rows[i].name, rows[i].r.both_pps,
               rows[i].r.protect_pps, rows[i].r.both_pps * PACKET_LEN * 8 / 1e9);
    printf("ratio GCM/CM: protect+unprotect %.2f, protect only %.2f\n", gcm.both_pps / cm.both_pps,
           gcm.protect_pps / cm.protect_pps);
    report_gcm_tx(n);
    return 0;
}
