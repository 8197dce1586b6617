#define WEIR_LOG_MODULE "shell.rtp_dump"
#include "shell/rtp_dump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "weir/log.h"

int weir_rtp_dump_open(weir_rtp_dump *d, const char *dir, const char *name, uint32_t max_packets,
                       int64_t now_us, int64_t wall_ms)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(d, 0, sizeof *d);
    d->f = fopen(path, "wb");
    if (!d->f) {
        int e = errno;
        WEIR_LOG_WARN("open_failed path=%s errno=%d", path, e);
        return -e;
    }
    d->start_us = now_us;
    d->max_packets = max_packets;
    uint32_t hdr[4] = {htonl((uint32_t)(wall_ms / 1000)), htonl((uint32_t)(wall_ms % 1000) * 1000),
                       htonl(0x7f000001), 0};
    fputs("#!rtpplay1.0 127.0.0.1/0\n", d->f);
    fwrite(hdr, sizeof hdr, 1, d->f);
    WEIR_LOG_INFO("opened path=%s max_packets=%u", path, max_packets);
    return 0;
}

void weir_rtp_dump_write(weir_rtp_dump *d, const uint8_t *pkt, size_t len, int64_t now_us)
{
    if (!d->f || d->written >= d->max_packets || len > 0xffff - 8)
        return;
    uint16_t rec[2] = {htons((uint16_t)(len + 8)), htons((uint16_t)len)};
    uint32_t offset_ms = htonl((uint32_t)((now_us - d->start_us) / 1000));
    if (fwrite(rec, sizeof rec, 1, d->f) != 1 || fwrite(&offset_ms, 4, 1, d->f) != 1 ||
        fwrite(pkt, len, 1, d->f) != 1) {
        weir_rtp_dump_close(d);
        return;
    }
    d->written++;
}

void weir_rtp_dump_close(weir_rtp_dump *d)
{
    if (d->f)
        fclose(d->f);
    d->f = NULL;
}
