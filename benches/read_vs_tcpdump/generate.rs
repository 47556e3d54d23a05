//! The bench's capture: a deterministic Calico-like mix written once as
//! classic pcap and as pcapng (same packets, same interface name, so both
//! give the same report), then compressed with the gzip and zstd tools.

use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tuntrace::linktype::LinkType;
use tuntrace::synth;
use tuntrace::write::pcap::PcapWriter;
use tuntrace::write::pcapng::PcapngWriter;
use tuntrace::write::{Endian, TsResolution};

const NODES: u32 = 40;
const PODS_PER_NODE: u32 = 60;
/// Pod conversations (each gives two directed pod pairs).
const CONVERSATIONS: u32 = 20_000;

/// The bench's files, all holding the same packets.
pub struct BenchFiles {
    pub pcap: PathBuf,
    pub pcapng: PathBuf,
    /// `gzip -1` of the classic file (as `tcpdump -z gzip` rotates it).
    pub pcap_gz: PathBuf,
    /// `zstd -1` of the pcapng file.
    pub pcapng_zst: PathBuf,
    pub ipip: u64,
}

/// The files for `packets` packets in `dir`, written or compressed only
/// when missing.
pub fn bench_files(dir: &Path, packets: u64) -> BenchFiles {
    let pcap = dir.join(format!("calico-{packets}.pcap"));
    let pcapng = dir.join(format!("calico-{packets}.pcapng"));
    let known = std::fs::read_to_string(ipip_count_file(&pcap))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|_| pcap.exists() && pcapng.exists());
    let ipip = known.unwrap_or_else(|| generate(&pcap, &pcapng, packets));
    let pcap_gz = compressed(&pcap, "gz", &["gzip", "-1", "-c"]);
    let pcapng_zst = compressed(&pcapng, "zst", &["zstd", "-1", "-q", "-c"]);
    BenchFiles {
        pcap,
        pcapng,
        pcap_gz,
        pcapng_zst,
        ipip,
    }
}

/// `file.EXT`, made by `argv file > file.EXT` unless it exists.
fn compressed(file: &Path, ext: &str, argv: &[&str]) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".{ext}"));
    let out = PathBuf::from(name);
    if out.exists() {
        return out;
    }
    eprintln!("compressing {} ({})…", file.display(), argv[0]);
    let tmp = out.with_extension("tmp");
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .arg(file)
        .stdout(File::create(&tmp).expect("create compressed file"))
        .status()
        .unwrap_or_else(|e| panic!("{}: {e} (is it installed?)", argv[0]));
    assert!(status.success(), "{} failed", argv[0]);
    std::fs::rename(&tmp, &out).expect("rename compressed file");
    out
}

/// A deterministic Calico-like mix: 70 % IPIP pod traffic, 30 % plain node
/// traffic; sizes from pings to full MTU. Pod traffic comes from a fixed set
/// of conversations (pod pair between two nodes, on underlay 30 or 26), each
/// packet picking one at random and a direction, as services do: many node
/// pairs and tens of thousands of pod pairs, all within the table's bounds.
fn generate(path: &Path, ng_path: &Path, packets: u64) -> u64 {
    eprintln!(
        "generating {} and .pcapng ({packets} packets)…",
        path.display()
    );
    let tmp = path.with_extension("tmp");
    let ng_tmp = ng_path.with_extension("ngtmp");
    let ng_out = BufWriter::with_capacity(4 << 20, File::create(&ng_tmp).expect("create pcapng"));
    let mut ng = PcapngWriter::with_resolution(ng_out, Endian::Little, TsResolution::Micro)
        .expect("pcapng section");
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 name");
    let ng_iface = ng
        .add_interface(stem, LinkType::ETHERNET, 262_144)
        .expect("pcapng interface");
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
        ng.write_epb(ng_iface, ts_ns, frame.len() as u32, &frame)
            .expect("write pcapng packet");
    }
    w.finish().expect("flush capture");
    ng.finish().expect("flush pcapng");
    std::fs::rename(&tmp, path).expect("rename capture");
    std::fs::rename(&ng_tmp, ng_path).expect("rename pcapng");
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

pub fn env_num(name: &str, default: u64) -> u64 {
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
