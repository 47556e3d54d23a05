#!/usr/bin/env bash
# Live capture under a raw IPIP flood (run as root; not a timed test).
#
# Builds a two-node namespace lab (vms71 ens32/ens33 ⇄ vms72 eth1/eth0, nothing
# in the root namespace), then floods IPIP from vms71 to 192.168.30.72 for
# SECONDS (default 5) with a small C sender compiled here. In the same run,
# on the same NIC (vms71 ens33, the sender's side):
#   - tuntrace live -i ens33   (defaults: snaplen 256, 8 MiB ring, immediate mode)
#   - tcpdump -i ens33 -w FILE 'ip proto 4'   (tcpdump's defaults)
# and prints: sender count, tuntrace count + drops, tcpdump count + drops.
# Target: tuntrace counts exactly what the sender sent, with 0 kernel drops.
# TCPDUMP=0 leaves tcpdump out (the sender then gets more of the 2 cores);
# WRITE=1 adds `--write` to tuntrace (full snaplen, one pcapng copy per packet);
# EXTRA="--snaplen 256" passes more flags to tuntrace; SENDERS=2 runs two
# flood processes at once.
set -euo pipefail
SECONDS_FLOOD=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "live_flood.sh: needs root (namespaces, raw sockets)" >&2; exit 2; }
command -v gcc >/dev/null || { echo "live_flood.sh: needs gcc" >&2; exit 2; }
command -v tcpdump >/dev/null || { echo "live_flood.sh: needs tcpdump" >&2; exit 2; }

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
TT="${CARGO_TARGET_DIR:-$ROOT/target}/release/tuntrace"
P="ttbench$$"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for ns in "$P-vms71" "$P-vms72"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/flood.c" <<'C'
/* Sends inner IPv4/ICMP packets through a raw IPIP socket as fast as it can. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static unsigned short csum(const unsigned char *p, int n) {
    unsigned long s = 0;
    for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (unsigned short)~s;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    double secs = atof(argv[2]);
    int s = socket(AF_INET, SOCK_RAW, IPPROTO_IPIP);
    if (s < 0) { perror("socket"); return 1; }
    unsigned char pkt[84] = {0x45, 0, 0, 84, 0, 1, 0x40, 0, 64, 1};
    inet_pton(AF_INET, "10.244.118.193", pkt + 12);
    inet_pton(AF_INET, "10.244.5.194", pkt + 16);
    unsigned short c = csum(pkt, 20);
    pkt[10] = c >> 8; pkt[11] = c & 0xff;
    pkt[20] = 8; pkt[24] = 0x74; pkt[25] = 0x74;
    c = csum(pkt + 20, 64);
    pkt[22] = c >> 8; pkt[23] = c & 0xff;
    struct sockaddr_in dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, argv[1], &dst.sin_addr);
    long ok = 0, failed = 0;
    double t0 = now(), t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 256; i++) {
            if (sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&dst, sizeof dst) > 0) ok++;
            else failed++;
        }
        t = now();
    }
    printf("%ld %ld %.3f\n", ok, failed, t - t0);
    return 0;
}
C
gcc -O2 -o "$WORK/flood" "$WORK/flood.c"

ip netns add "$P-vms71"
ip netns add "$P-vms72"
ip -n "$P-vms71" link add ens32 type veth peer name eth1 netns "$P-vms72"
ip -n "$P-vms71" link add ens33 type veth peer name eth0 netns "$P-vms72"
for n in 71 72; do
    ns="$P-vms$n"
    if [ $n = 71 ]; then a=ens32; b=ens33; else a=eth1; b=eth0; fi
    ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
    ip -n "$ns" addr add "192.168.26.$n/24" dev $a
    ip -n "$ns" addr add "192.168.30.$n/24" dev $b
    ip -n "$ns" link set lo up
    ip -n "$ns" link set $a up
    ip -n "$ns" link set $b up
done
# vms72 answers the flood with rate-limited "protocol 4 unreachable" ICMP
# (about one a second): not tunnel traffic, filtered out by both captures.

wait_for() { # file text
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "live_flood.sh: no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

TT_ARGS=(live -i ens33 --format json)
[ "${WRITE:-0}" = 1 ] && TT_ARGS+=(--write "$WORK/tt.pcapng")
# shellcheck disable=SC2206
TT_ARGS+=(${EXTRA:-})
ip netns exec "$P-vms71" "$TT" "${TT_ARGS[@]}" >"$WORK/tt.json" 2>"$WORK/tt.err" &
TT_PID=$!; PIDS+=($TT_PID)
TD_PID=
if [ "${TCPDUMP:-1}" != 0 ]; then
    ip netns exec "$P-vms71" tcpdump -i ens33 -w "$WORK/td.pcap" 'ip proto 4' 2>"$WORK/td.err" &
    TD_PID=$!; PIDS+=($TD_PID)
    wait_for "$WORK/td.err" "listening on"
fi
wait_for "$WORK/tt.err" "capturing on"

# SENDERS=N floods from N processes at once (default 1).
SENDER_PIDS=()
for i in $(seq "${SENDERS:-1}"); do
    ip netns exec "$P-vms71" "$WORK/flood" 192.168.30.72 "$SECONDS_FLOOD" >"$WORK/sent.$i" &
    SENDER_PIDS+=($!); PIDS+=($!)
done
wait "${SENDER_PIDS[@]}"
read -r SENT FAILED ELAPSED < <(awk '{s += $1; f += $2; if ($3 > t) t = $3} END {print s, f, t}' "$WORK"/sent.*)
sleep 0.5
# tuntrace's CPU time (user + system clock ticks) over the whole run.
TT_TICKS=$(awk '{print $14 + $15}' "/proc/$TT_PID/stat")
if [ -n "$TD_PID" ]; then kill -INT "$TD_PID"; wait "$TD_PID" || true; fi
kill -TERM $TT_PID; wait $TT_PID || true
touch "$WORK/td.err"

python3 - "$WORK/tt.json" "$WORK/td.err" "$SENT" "$FAILED" "$ELAPSED" "$TT_TICKS" "$(getconf CLK_TCK)" "${TT_ARGS[@]}" <<'PY'
import json, re, sys
tt = json.load(open(sys.argv[1]))
link = next(l for l in tt["links"] if l["interface"] == "ens33")
cap = link.get("capture", {})
td = open(sys.argv[2]).read()
num = lambda pat: int(re.search(r"(\d+) " + pat, td).group(1)) if re.search(r"(\d+) " + pat, td) else -1
sent, failed, secs = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
cpu = int(sys.argv[6]) / int(sys.argv[7])
print(f"sender(s) (C, raw IPIP, vms71): {sent} packets in {secs:.2f} s = {sent / secs / 1000:.0f} k pkt/s ({failed} sendto failures)")
print(f"tuntrace {' '.join(sys.argv[8:])}: {link['packets']} packets, {link['tunnelled']} tunnelled; "
      f"kernel: received {cap.get('received')}, dropped by kernel {cap.get('dropped_by_kernel')}, "
      f"by interface {cap.get('dropped_by_interface')}; {cpu:.2f} s CPU")
if td:
    print(f"tcpdump -w (same NIC):      {num('packets captured')} captured, {num('packets received by filter')} "
          f"received by filter, {num('packets dropped by kernel')} dropped by kernel")
ok = link["packets"] == sent and cap.get("dropped_by_kernel") == 0
print("target (tuntrace == sender, 0 kernel drops):", "MET" if ok else "MISSED")
PY
