#!/usr/bin/env python3
"""Sends real IP-in-IP packets for the lab.

Default: a raw IPIP socket; the kernel adds the outer IPv4 header (protocol
4, source chosen by routing) and sends it out of the NIC its routes pick.
--inject IFACE: whole Ethernet frames written with AF_PACKET on IFACE,
bypassing routing (a tunnel on the "wrong" link), outer pair from --outer-src.

Prints one line: "sent N in S seconds".
"""
import argparse
import socket
import struct
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000,
                      64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def icmp_echo(seq: int, size: int) -> bytes:
    body = bytes(size)
    msg = struct.pack("!BBHHH", 8, 0, 0, 0x7474, seq & 0xFFFF) + body
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("outer_dst")
    p.add_argument("inner_src")
    p.add_argument("inner_dst")
    p.add_argument("count", type=int)
    p.add_argument("--size", type=int, default=56, help="ICMP payload bytes")
    p.add_argument("--inject", metavar="IFACE")
    p.add_argument("--outer-src", help="outer source for --inject")
    p.add_argument("--fragment", action="store_true",
                   help="let the kernel fragment the outer packet (DF clear) when it exceeds the MTU")
    a = p.parse_args()
    inner = [ipv4(a.inner_src, a.inner_dst, 1, icmp_echo(i, a.size), i) for i in range(a.count)]
    if a.inject:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((a.inject, 0))
        mac = s.getsockname()[4]
        eth = b"\xff" * 6 + mac + b"\x08\x00"
        frames = [eth + ipv4(a.outer_src, a.outer_dst, 4, pkt, 0x1000 + i) for i, pkt in enumerate(inner)]
        t0 = time.perf_counter()
        for f in frames:
            s.send(f)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IPIP)
        if a.fragment:
            s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT
        dst = (a.outer_dst, 0)
        t0 = time.perf_counter()
        for pkt in inner:
            s.sendto(pkt, dst)
    dt = time.perf_counter() - t0
    print(f"sent {a.count} in {dt:.6f} seconds", flush=True)


if __name__ == "__main__":
    main()
