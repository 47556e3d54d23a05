#!/usr/bin/env python3
"""Sends raw IPIP for the metrics benchmark, as fast as it can for SECONDS.

Inner sources sweep 10.244.0.0 + i for i in [0, PAIRS) in order over the run
(each inner pair is live for SECONDS / PAIRS, at least one batch of 16),
destination 10.250.0.1: PAIRS distinct inner pairs churning. PAIRS 1 sends one pair all along (the top
packet rate). The kernel adds the outer header and picks the NIC.

Prints one line: "sent N in S seconds, P pairs".
"""
import socket
import struct
import sys
import time


def main() -> None:
    outer_dst, seconds, pairs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IPIP)
    # A 20-byte IPv4 header (proto ICMP) + an 8-byte echo: checksum left 0,
    # tuntrace reads addresses only.
    body = struct.pack("!BBHHH", 8, 0, 0, 0x7474, 1)
    dst = socket.inet_aton("10.250.0.1")
    base = struct.unpack("!I", socket.inet_aton("10.244.0.0"))[0]
    head = struct.pack("!BBHHHBBH", 0x45, 0, 28, 0, 0x4000, 64, 1, 0)
    t0 = time.perf_counter()
    sent = 0
    # Every pair gets at least one batch, in order; a pair's slot is
    # SECONDS / PAIRS long, filled with more batches while time is left
    # (behind schedule, e.g. on a busy machine, the run takes longer).
    for i in range(pairs):
        pkt = head + struct.pack("!I", base + i) + dst + body
        slot_end = (i + 1) * seconds / pairs
        while True:
            for _ in range(16):
                s.sendto(pkt, (outer_dst, 0))
            sent += 16
            if time.perf_counter() - t0 >= slot_end:
                break
    seen = pairs
    print(f"sent {sent} in {time.perf_counter() - t0:.3f} seconds, {seen} pairs", flush=True)


if __name__ == "__main__":
    main()
