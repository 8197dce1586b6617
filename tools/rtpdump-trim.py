#!/usr/bin/env python3
"""Shrinks rtpdump captures into test data: keeps every packet's RTP header
and header extensions but only the first KEEP bytes of its payload (enough
for the VP8/VP9/H.264/AV1 payload descriptors and VP8's keyframe header),
and only the packets of the first SECONDS seconds.

    tools/rtpdump-trim.py IN OUT [--keep 32] [--seconds 15]

The RTP padding bit is cleared (the padding went with the payload)."""
import argparse
import struct


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--keep", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    data = open(a.src, "rb").read()
    nl = data.index(b"\n") + 1
    out = bytearray(data[:nl + 16])
    off, kept = nl + 16, 0
    while off + 8 <= len(data):
        rec_len, plen, ms = struct.unpack_from("!HHI", data, off)
        pkt = bytearray(data[off + 8:off + 8 + plen])
        off += rec_len
        if ms > a.seconds * 1000 or len(pkt) < 12:
            continue
        cc = pkt[0] & 0x0F
        hdr = 12 + 4 * cc
        if pkt[0] & 0x10:  # extension block
            hdr += 4 + 4 * struct.unpack_from("!H", pkt, hdr + 2)[0]
        pkt[0] &= ~0x20  # padding dropped with the payload tail
        pkt = pkt[:hdr + a.keep]
        out += struct.pack("!HHI", len(pkt) + 8, len(pkt), ms) + pkt
        kept += 1
    open(a.dst, "wb").write(out)
    print(f"{a.dst}: {kept} packets, {len(out)} bytes")


if __name__ == "__main__":
    main()
