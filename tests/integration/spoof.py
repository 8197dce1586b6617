"""Raw IPv4/UDP datagrams with a chosen source address and port, so that a
test can inject bytes into an established ICE path as if the peer sent them
(libnice only hands the server datagrams from the selected pair's address).
Needs CAP_NET_RAW: the tests that use it run as root in their own network
namespace."""
import random
import socket
import struct


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Spoofer:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def send(self, src, sport, dst, dport, payload):
        length = 8 + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        udp = struct.pack("!HHHH", sport, dport, length, 0)  # checksum 0: none (IPv4)
        self.sock.sendto(ip + udp + payload, (dst, 0))

    def close(self):
        self.sock.close()


def garbage(rng: random.Random, n):
    """n datagrams of the kinds a media port must shrug off."""
    kinds = [
        lambda: rng.randbytes(rng.randint(0, 1400)),                          # random bytes
        lambda: bytes([0x80 | rng.randint(0, 0x3F), rng.randint(0, 127)]) +  # truncated RTP
        rng.randbytes(rng.randint(0, 11)),
        lambda: bytes([0x80, rng.randint(0, 127)]) + rng.randbytes(rng.randint(12, 1200)),  # bad SRTP
        lambda: bytes([0x80, rng.choice([200, 201, 205, 206])]) + rng.randbytes(rng.randint(0, 60)),
        lambda: b"\x00\x01\x00\x08\x21\x12\xa4\x42" + rng.randbytes(rng.randint(0, 40)),  # fake STUN
        lambda: bytes([0x16, 0xFE, 0xFD]) + rng.randbytes(rng.randint(0, 300)),  # DTLS junk
        lambda: bytes([0x17, 0xFE, 0xFD]) + rng.randbytes(rng.randint(10, 100)),
        lambda: b"",
    ]
    return [rng.choice(kinds)() for _ in range(n)]
