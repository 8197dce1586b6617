/*
 * SRTP micro-benchmark: protect + unprotect of 1200-byte RTP packets with
 * SRTP_AES128_CM_SHA1_80 and SRTP_AEAD_AES_128_GCM through src/peer/srtp.c,
 * the ratio of the two measured in the same run (STYLE.md: timing is a
 * ratio against a baseline from the same process).
 *
 * Usage: bench_srtp [iterations]   (default 200000 per profile)
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
static void make_pair(weir_srtp_profile profile, weir_srtp **a, weir_srtp **b)
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
    *a = weir_srtp_create(&ka, NULL);
    *b = weir_srtp_create(&kb, NULL);
    if (!*a || !*b) {
        fprintf(stderr, "weir_srtp_create failed for %s\n", weir_srtp_profile_name(profile));
        exit(1);
    }
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
    return 0;
}
