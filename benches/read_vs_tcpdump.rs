//! Benchmark for `tuntrace read` (issue 2): generates a Calico-like capture
//! (default 5 M packets, ~70 % IPIP between many node and pod pairs, ~2 GB)
//! and times, in the same run and with the file in the page cache,
//! `tuntrace read FILE --format json` against tcpdump's filter-only pass
//! `tcpdump -r FILE -w /dev/null 'ip proto 4'`, plus `cat FILE` as the floor.
//! Peak RSS comes from wait4(2).
//!
//! Run: `cargo bench --bench read_vs_tcpdump` (TT_BENCH_PACKETS=N to resize,
//! TT_BENCH_RUNS=N for repetitions; the file is kept in target/bench-data).

use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tuntrace::linktype::LinkType;
use tuntrace::synth;
use tuntrace::write::pcap::PcapWriter;
use tuntrace::write::{Endian, TsResolution};

const NODES: u32 = 40;
const PODS_PER_NODE: u32 = 60;
/// Pod conversations (each gives two directed pod pairs).
const CONVERSATIONS: u32 = 20_000;

fn main() {
    let packets: u64 = env_num("TT_BENCH_PACKETS", 5_000_000);
    let runs: usize = env_num("TT_BENCH_RUNS", 3) as usize;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let file = dir.join(format!("calico-{packets}.pcap"));
    let known = std::fs::read_to_string(ipip_count_file(&file))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|_| file.exists());
    let ipip = known.unwrap_or_else(|| generate(&file, packets));
    let size = std::fs::metadata(&file).expect("capture written").len();
    println!(
        "capture: {} ({} packets, {} IPIP, {:.2} GB)",
        file.display(),
        packets,
        ipip,
        size as f64 / 1e9
    );

    let tuntrace = env!("CARGO_BIN_EXE_tuntrace");
    let f = file.to_str().expect("utf-8 path");
    // Warm the page cache before timing anything.
    let _ = measure(&["cat", f]);
    let own_rss_kib = own_rss_kib();
    let mut rows = Vec::new();
    for (name, argv) in [
        ("cat FILE (floor)", vec!["cat", f]),
        (
            "tuntrace read --format json",
            vec![tuntrace, "read", f, "--format", "json"],
        ),
        (
            "tcpdump -r -w /dev/null 'ip proto 4'",
            vec!["tcpdump", "-r", f, "-w", "/dev/null", "ip proto 4"],
        ),
    ] {
        let mut best: Option<(Duration, u64)> = None;
        for _ in 0..runs {
            let m = measure(&argv);
            best = Some(match best {
                Some(b) if b.0 <= m.0 => (b.0, b.1.max(m.1)),
                Some(b) => (m.0, b.1.max(m.1)),
                None => m,
            });
        }
        let (t, rss) = best.expect("at least one run");
        println!(
            "{name:<40} best of {runs}: {:>7.3} s  peak RSS {:>6.1} MiB",
            t.as_secs_f64(),
            rss as f64 / 1024.0
        );
        rows.push(t);
    }
    let floor = (0..runs)
        .map(|_| floor_loop(&file, ipip))
        .min()
        .expect("at least one run");
    println!(
        "{:<40} best of {runs}: {:>7.3} s",
        "minimal IPIP count loop, 2 threads",
        floor.as_secs_f64()
    );
    let ratio = rows[1].as_secs_f64() / rows[2].as_secs_f64();
    println!("ratio tuntrace / tcpdump = {ratio:.3} (target ≤ 0.30)");
    println!(
        "ratio minimal loop / tcpdump = {:.3}; tuntrace / minimal loop = {:.2}",
        floor.as_secs_f64() / rows[2].as_secs_f64(),
        rows[1].as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "(peak RSS of a child includes this bench process's own RSS at spawn: {:.1} MiB)",
        own_rss_kib as f64 / 1024.0
    );
    // Checked last, so the parsed report does not inflate the RSS figures above.
    let out = Command::new(tuntrace)
        .args(["read", f, "--format", "json"])
        .output()
        .expect("run tuntrace");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(
        report["packets"]["total"].as_u64(),
        Some(packets),
        "total packets"
    );
    assert_eq!(
        report["packets"]["tunnelled"].as_u64(),
        Some(ipip),
        "IPIP packets"
    );
}

/// A lower bound for this machine: the least a full read can do. Two
/// threads, each `pread`ing half the file in 512 KiB steps, find IPIP
/// frames (Ethernet, IPv4, protocol 4) and count outer+inner address pairs
/// in an open-addressing table: no timestamps, no other encapsulations, no
/// checks, no report. The cut between the halves is found beforehand, not
/// timed. Asserts it saw `ipip` IPIP frames.
fn floor_loop(path: &Path, ipip: u64) -> Duration {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).expect("open capture");
    let size = file.metadata().expect("stat capture").len();
    let mut cut = 24u64;
    let mut hdr = [0u8; 16];
    while cut < size / 2 {
        file.read_exact_at(&mut hdr, cut).expect("record header");
        cut += 16 + u64::from(u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]));
    }
    let part = |from: u64, to: u64| {
        let mut buf = vec![0u8; 1 << 20];
        let mut table = vec![(0u64, 0u64, 0u64); 1 << 17];
        let (mut off, mut have, mut seen) = (from, 0usize, 0u64);
        loop {
            let want = (512usize << 10).min((to - off) as usize);
            let n = file
                .read_at(&mut buf[have..have + want], off)
                .expect("read");
            off += n as u64;
            have += n;
            let mut pos = 0;
            while pos + 16 <= have {
                let caplen =
                    u32::from_le_bytes([buf[pos + 8], buf[pos + 9], buf[pos + 10], buf[pos + 11]])
                        as usize;
                if pos + 16 + caplen > have {
                    break;
                }
                let f = &buf[pos + 16..pos + 16 + caplen];
                if f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 4 {
                    let ihl = usize::from(f[14] & 15) * 4;
                    let word = |b: &[u8]| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    let outer = word(&f[26..]) << 32 | word(&f[30..]);
                    let inner = word(&f[14 + ihl + 12..]) << 32 | word(&f[14 + ihl + 16..]);
                    let mut i = ((outer ^ inner.rotate_left(17))
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        >> 47) as usize;
                    loop {
                        let slot = &mut table[i];
                        if slot.2 == 0 || (slot.0, slot.1) == (outer, inner) {
                            *slot = (outer, inner, slot.2 + 1);
                            break;
                        }
                        i = (i + 1) & (table.len() - 1);
                    }
                    seen += 1;
                }
                pos += 16 + caplen;
            }
            buf.copy_within(pos..have, 0);
            have -= pos;
            if n == 0 || off >= to {
                break;
            }
        }
        seen
    };
    let start = Instant::now();
    let seen = std::thread::scope(|s| {
        let second = s.spawn(|| part(cut, size));
        part(24, cut) + second.join().expect("second half")
    });
    let elapsed = start.elapsed();
    assert_eq!(seen, ipip, "IPIP frames seen by the minimal loop");
    elapsed
}

/// This process's resident set, in KiB (children inherit it as their floor).
fn own_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Wall time and peak RSS (KiB) of one run, output discarded. The child is
/// reaped with wait4(2) (for its rusage), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(argv: &[&str]) -> (Duration, u64) {
    let start = Instant::now();
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (is it installed?)", argv[0]));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child by pid; pointers are valid locals.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert!(rc > 0 && libc::WIFEXITED(status), "{} failed", argv[0]);
    (elapsed, usage.ru_maxrss as u64)
}

/// A deterministic Calico-like mix: 70 % IPIP pod traffic, 30 % plain node
/// traffic; sizes from pings to full MTU. Pod traffic comes from a fixed set
/// of conversations (pod pair between two nodes, on underlay 30 or 26), each
/// packet picking one at random and a direction, as services do: many node
/// pairs and tens of thousands of pod pairs, all within the table's bounds.
fn generate(path: &Path, packets: u64) -> u64 {
    eprintln!("generating {} ({packets} packets)…", path.display());
    let tmp = path.with_extension("tmp");
    let out = BufWriter::with_capacity(4 << 20, File::create(&tmp).expect("create capture"));
    let mut w = PcapWriter::new(
        out,
        LinkType::ETHERNET,
        262_144,
        Endian::Little,
        TsResolution::Micro,
    )
    .expect("pcap header");
    let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
    let conversations: Vec<[Ipv4Addr; 4]> = (0..CONVERSATIONS)
        .map(|_| {
            let a = rng.below(NODES);
            let b = (a + 1 + rng.below(NODES - 1)) % NODES;
            let underlay = if rng.below(4) == 0 { 26 } else { 30 };
            [
                node_ip(underlay, a),
                node_ip(underlay, b),
                pod_ip(a, rng.below(PODS_PER_NODE)),
                pod_ip(b, rng.below(PODS_PER_NODE)),
            ]
        })
        .collect();
    let mut frame = Vec::with_capacity(2048);
    let payload = [0u8; 1500];
    let mut ts_ns = 1_764_000_000_000_000_000u64;
    let mut ipip = 0;
    for _ in 0..packets {
        frame.clear();
        let len = [56usize, 56, 56, 120, 300, 512, 1372][rng.below(7) as usize];
        let [na, nb, pa, pb] = conversations[rng.below(CONVERSATIONS) as usize];
        let (na, nb, pa, pb) = if rng.below(2) == 0 {
            (na, nb, pa, pb)
        } else {
            (nb, na, pb, pa)
        };
        if rng.below(10) < 7 {
            ipip += 1;
            synth::write_calico_ipip_frame(&mut frame, na, nb, pa, pb, len);
        } else {
            let ip = synth::ipv4(na, nb, 6, &payload[..len]);
            frame = synth::ethernet(synth::NODE_A_MAC, synth::NODE_B_MAC, 0x0800, &ip);
        }
        ts_ns += 10_000;
        w.write_packet(ts_ns, frame.len() as u32, &frame)
            .expect("write packet");
    }
    w.finish().expect("flush capture");
    std::fs::rename(&tmp, path).expect("rename capture");
    std::fs::write(ipip_count_file(path), ipip.to_string()).expect("write IPIP count");
    ipip
}

/// Beside the capture: how many of its packets are IPIP.
fn ipip_count_file(capture: &Path) -> PathBuf {
    capture.with_extension("ipip")
}

fn node_ip(underlay: u8, n: u32) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, underlay, 10 + n as u8)
}

/// Pod `p` in node `n`'s /26 block of 10.244.0.0/16.
fn pod_ip(n: u32, p: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, n as u8, 192 + 1 + p as u8 % 62)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A 64-bit LCG: deterministic and cheap, enough for traffic mixes.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % u64::from(n)) as u32
    }
}
