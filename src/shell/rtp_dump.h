/**
 * rtpdump files (the rtptools format that Wireshark also reads) of the
 * decrypted RTP a publisher sends, one file per stream (media m-line and
 * simulcast layer), for debugging and for capturing real browser packets as
 * test data (tests/data/rtp). Off unless `[media] rtp_dump_dir` is set; at
 * most `rtp_dump_max_packets` per file.
 *
 * Format: the text line "#!rtpplay1.0 127.0.0.1/0\n", a 16-byte header
 * (start seconds, start microseconds, source address, port, padding; network
 * order), then per packet a 8-byte record header (record length incl. the
 * header, packet length, milliseconds since the start) and the packet.
 *
 * Worker thread only; file I/O on the packet path, which is why it is a
 * debugging switch.
 */
#ifndef WEIR_SHELL_RTP_DUMP_H
#define WEIR_SHELL_RTP_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct weir_rtp_dump {
    FILE *f;
    int64_t start_us;
    uint32_t written;
    uint32_t max_packets;
} weir_rtp_dump;

/** Opens dir/name; 0, or -errno (logged) with d left closed. */
int weir_rtp_dump_open(weir_rtp_dump *d, const char *dir, const char *name, uint32_t max_packets,
                       int64_t now_us, int64_t wall_ms);
/** Appends one packet (dropped silently past max_packets or after a write error). */
void weir_rtp_dump_write(weir_rtp_dump *d, const uint8_t *pkt, size_t len, int64_t now_us);
void weir_rtp_dump_close(weir_rtp_dump *d);

#endif
