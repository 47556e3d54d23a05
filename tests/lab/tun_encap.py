#!/usr/bin/env python3
"""A userspace tunl0 for kernels without the ipip module.

Opens TUN device NAME (IFF_TUN | IFF_NO_PI). Packets the kernel routes into
it are sent through a raw IPIP socket to the gateway of the longest matching
route on that device (Calico's routes, unchanged: `ip -j route show dev
tunl0`, read at start, again at most every half second while packets
flow, and on SIGHUP, so a changed route takes effect as it would in the
kernel's tunl0);
the kernel adds the outer header and picks the
NIC. IPIP packets received on the raw socket are written back, decapsulated,
into the device. Prints "ready" once both sockets are open.
"""
import fcntl
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def routes(dev: str):
    out = subprocess.run(["ip", "-j", "route", "show", "dev", dev], check=True,
                         capture_output=True, text=True).stdout
    table = []
    for r in json.loads(out or "[]"):
        gw = r.get("gateway")
        if not gw:
            continue
        dst = r["dst"]
        net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst, strict=False)
        table.append((net, gw))
    table.sort(key=lambda e: e[0].prefixlen, reverse=True)
    return table


def main() -> None:
    dev = sys.argv[1] if len(sys.argv) > 1 else "tunl0"
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IPIP)
    table = routes(dev)
    loaded = time.monotonic()

    def reload(*_):
        nonlocal table
        table = routes(dev)
        print("reloaded", flush=True)

    signal.signal(signal.SIGHUP, reload)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([tun, raw], [], [])
        if tun in readable:
            pkt = os.read(tun, 65535)
            if time.monotonic() - loaded > 0.5:
                table = routes(dev)
                loaded = time.monotonic()
            if len(pkt) >= 20 and pkt[0] >> 4 == 4:
                dst = ipaddress.ip_address(pkt[16:20])
                gw = next((g for net, g in table if dst in net), None)
                if gw:
                    raw.sendto(pkt, (gw, 0))
        if raw in readable:
            data = raw.recv(65535)
            ihl = (data[0] & 0x0F) * 4
            if len(data) > ihl:
                os.write(tun, data[ihl:])


if __name__ == "__main__":
    main()
