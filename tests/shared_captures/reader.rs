//! The capture reader on the real public captures of
//! `../shared/captures-public` (see its MANIFEST.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use tuntrace::iface::IfaceTable;
use tuntrace::linktype::LinkType;
use tuntrace::sources::file::{read_file, FileOptions, Format, ReadSummary};

/// Every file of the MANIFEST with its `pkts` column.
const MANIFEST: &[(&str, u64)] = &[
    ("zeek-4in4.pcap", 1),
    ("suricata-verify-bug-4571-01-ipv4_over_ipv4.pcap", 1),
    ("suricata-verify-bug-7725-01-ip_in_ip.pcap", 6),
    ("ndpi-4in4tunnel.pcap", 5),
    ("deepflow-ipip.pcap", 5),
    ("zeek-4in6.pcap", 1),
    ("ndpi-4in6tunnel.pcap", 4),
    (
        "suricata-verify-bug-7964-01-wrong-version-ipv4-ipv6.pcap",
        1,
    ),
    ("netronome-traffic_IPIP.pcap", 20000),
    ("arkime-6-4-gre-ppp-udp-4-dns.pcap", 2),
    ("zeek-mpls-6in6-6in6-4in6-invalid-version-4.pcap", 1),
    ("zeek-ping6-in-ipv4.pcap", 10),
    ("ndpi-6in4tunnel.pcap", 127),
    ("zeek-6in6in6.pcap", 1),
    ("tcpdump-icmpv6-rfc7112.pcap", 1),
    ("tcpdump-various_gre.pcap", 100),
    ("zeek-gre-sample.pcap", 40),
    ("pcapplusplus-GrePackets.pcap", 7),
    ("suricata-verify-security-8550-input.pcap", 2),
    ("arkime-gre-erspan-vxlan.pcap", 7),
    ("tcpdump-erspan-type-iii-pb-1.pcap", 1),
    ("tcpdump-isis-infinite-loop.pcap", 5),
    ("tcpdump-pptp.pcap", 23),
    ("tcpdump-vxlan.pcap", 10),
    ("tcpdump-vxlan_port_8472.pcap", 10),
    ("zeek-vxlan-triple-v2.pcap", 1),
    ("tcpdump-gso-ipv4-vxlan-ipv6.pcap", 1),
    ("deepflow-ip6-vxlan.pcap", 1),
    ("tcpdump-geneve.pcap", 39),
    ("zeek-geneve-ipv6.pcap", 2),
    ("zeek-geneve-vxlan-dns-truncated.pcap", 2),
    ("zeek-geneve-truncated.pcapng", 1),
    ("tcpdump-802.1ad_QinQ.pcap", 2),
    ("zeek-linux_dlt_sll2.pcap", 6),
    ("tcpdump-tcp-handshake-nano.pcap", 3),
    ("tcpdump-LINKTYPE_RAW_ipv4.pcap", 1),
    ("tcpdump-LINKTYPE_IPV4.pcap", 1),
    ("tcpdump-LINKTYPE_IPV6.pcap", 1),
    ("zeek-pcapng-multi-interface.pcapng", 6),
    ("pcapplusplus-many_interfaces-1.pcapng", 64),
];

/// The folder, which must exist (a missing one fails, naming it).
fn captures() -> PathBuf {
    crate::public("")
}

/// One delivered frame, owned.
#[derive(Debug, Clone)]
struct Rec {
    iface: String,
    linktype: LinkType,
    ts_ns: u64,
    orig_len: u32,
    caplen: usize,
}

fn read(dir: &Path, name: &str) -> (ReadSummary, Vec<Rec>) {
    let mut t = IfaceTable::new();
    let mut raw = Vec::new();
    let s = read_file(&dir.join(name), &FileOptions::default(), &mut t, |f| {
        raw.push((f.iface, f.linktype, f.ts_ns, f.orig_len, f.data.len()))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let recs = raw
        .into_iter()
        .map(|(i, linktype, ts_ns, orig_len, caplen)| Rec {
            iface: t.name(i),
            linktype,
            ts_ns,
            orig_len,
            caplen,
        })
        .collect();
    (s, recs)
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn every_manifest_file_reads_completely() {
    let dir = captures();
    for &(name, pkts) in MANIFEST {
        let (s, recs) = read(&dir, name);
        let size = std::fs::metadata(dir.join(name)).unwrap().len();
        assert_eq!((s.frames, recs.len() as u64), (pkts, pkts), "{name}");
        assert_eq!(s.bytes, size, "{name}: not all bytes consumed");
        let want = if name.ends_with(".pcapng") || name == "pcapplusplus-GrePackets.pcap" {
            Format::Pcapng
        } else {
            Format::Pcap
        };
        assert_eq!(s.format, want, "{name}");
        assert!(recs.iter().all(|r| r.caplen as u64 <= 256 * 1024), "{name}");
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn many_interfaces_mixed_linktypes() {
    let dir = captures();
    let (_, recs) = read(&dir, "pcapplusplus-many_interfaces-1.pcapng");
    let eth = recs
        .iter()
        .filter(|r| r.linktype == LinkType::ETHERNET)
        .count();
    let null: Vec<_> = recs
        .iter()
        .filter(|r| r.linktype == LinkType::NULL)
        .collect();
    assert_eq!((eth, null.len()), (62, 2));
    // Frames on interface 0 and interface 10 carry different names.
    assert!(null
        .iter()
        .all(|r| r.iface != recs[0].iface && r.iface == null[0].iface));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn classic_label_is_the_file_stem() {
    let dir = captures();
    let (_, recs) = read(&dir, "zeek-4in4.pcap");
    assert_eq!(recs[0].iface, "zeek-4in4");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn grepackets_is_pcapng_with_two_interfaces() {
    let dir = captures();
    let (s, recs) = read(&dir, "pcapplusplus-GrePackets.pcap");
    assert_eq!(s.format, Format::Pcapng);
    let first = &recs[0].iface;
    assert!(recs[..6].iter().all(|r| &r.iface == first));
    assert_ne!(&recs[6].iface, first);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn big_endian_and_nanosecond_files() {
    let dir = captures();
    let (_, pptp) = read(&dir, "tcpdump-pptp.pcap");
    assert!(pptp
        .iter()
        .all(|r| r.linktype == LinkType::ETHERNET && r.caplen > 0));
    // A plausible date (2000..2040) proves the byte order was right.
    assert!(pptp
        .iter()
        .all(|r| (946_684_800..2_208_988_800).contains(&(r.ts_ns / 1_000_000_000))));
    let (_, nano) = read(&dir, "tcpdump-tcp-handshake-nano.pcap");
    assert_eq!(nano[0].linktype, LinkType::LINUX_SLL);
    assert!(nano.iter().any(|r| r.ts_ns % 1_000 != 0), "ns digits lost");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn garbage_snaplen_and_huge_orig_len() {
    let dir = captures();
    let (_, recs) = read(&dir, "tcpdump-erspan-type-iii-pb-1.pcap");
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].caplen, recs[0].orig_len, recs[0].linktype),
        (79, 188109, LinkType::RAW)
    );
}

/// Timestamps, lengths and interface names agree with tshark on every file.
/// Slow (one tshark per file) and needs tshark: run it by name.
#[test]
#[ignore = "needs ../shared/captures-public and tshark"]
fn agrees_with_tshark() {
    let dir = captures();
    assert!(
        Command::new("tshark").arg("--version").output().is_ok(),
        "tshark is not installed"
    );
    for &(name, _) in MANIFEST {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(dir.join(name))
            .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"])
            .args(["-e", "frame.cap_len", "-e", "frame.interface_name"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let (_, recs) = read(&dir, name);
        let theirs: Vec<_> = text.lines().collect();
        assert_eq!(theirs.len(), recs.len(), "{name}");
        for (line, r) in theirs.iter().zip(&recs) {
            let f: Vec<&str> = line.split('\t').collect();
            let ts = format!("{}.{:09}", r.ts_ns / 1_000_000_000, r.ts_ns % 1_000_000_000);
            assert_eq!(f[0], ts, "{name}");
            assert_eq!(
                (f[1], f[2]),
                (
                    r.orig_len.to_string().as_str(),
                    r.caplen.to_string().as_str()
                ),
                "{name}"
            );
            if !f[3].is_empty() && f[3] != "unknown" {
                assert_eq!(f[3], r.iface, "{name}");
            }
        }
    }
}
