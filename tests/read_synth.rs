//! `tuntrace read` on captures the tests build with the project's own writers
//! and frame builders: every container format, link type and encapsulation,
//! fragments, short snaplens, deep nests, damage and bad input.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use common::{read_json, TempDir};
use tuntrace::decode::Reason;
use tuntrace::linktype::LinkType;
use tuntrace::report::{Link, Report, TunnelRow};
use tuntrace::synth::*;
use tuntrace::write::pcap::PcapWriter;
use tuntrace::write::pcapng::PcapngWriter;
use tuntrace::write::{Endian, TsResolution};

const T0: u64 = 1_764_075_600_000_000_000; // 2025-11-25T13:00:00Z
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// `tuntrace read FILES --format json EXTRA` read back through the model;
/// the JSON must come out of the round trip unchanged.
fn read(files: &[&Path], extra: &[&str], code: i32) -> Report {
    let json = read_json(files, extra, code);
    let report: Report =
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}: {json:#}"));
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json,
        "JSON → Report → JSON"
    );
    report
}

/// The link named `iface`.
fn link<'a>(report: &'a Report, iface: &str) -> &'a Link {
    report
        .links
        .iter()
        .find(|l| l.interface == iface)
        .unwrap_or_else(|| panic!("no link {iface} in {report:#?}"))
}

/// The tunnel row on `link` with this encap and outer pair.
fn tunnel<'a>(link: &'a Link, encap: &str, src: &str, dst: &str) -> &'a TunnelRow {
    let (s, d): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    link.tunnels
        .iter()
        .find(|t| t.encap.as_str() == encap && t.outer_src == s && t.outer_dst == d)
        .unwrap_or_else(|| panic!("no {encap} {src} -> {dst} tunnel in {link:#?}"))
}

/// Packets of the inner pair `src → dst` in `tunnel`, 0 when absent.
fn inner_packets(tunnel: &TunnelRow, src: &str, dst: &str) -> u64 {
    let (s, d): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    tunnel
        .inner
        .iter()
        .find(|p| p.src == s && p.dst == d)
        .map(|p| p.packets)
        .unwrap_or(0)
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Inner pod packet: ICMP echo 10.244.118.193 → 10.244.5.194.
fn pod_packet() -> Vec<u8> {
    ipv4(
        v4("10.244.118.193"),
        v4("10.244.5.194"),
        1,
        &icmp_echo(7, 1, &[0; 56]),
    )
}

fn ipip(outer_src: &str, outer_dst: &str) -> Vec<u8> {
    ipv4(v4(outer_src), v4(outer_dst), 4, &pod_packet())
}

fn eth(ip: &[u8]) -> Vec<u8> {
    ethernet(MAC_A, MAC_B, 0x0800, ip)
}

fn eth6(ip: &[u8]) -> Vec<u8> {
    ethernet(MAC_A, MAC_B, 0x86dd, ip)
}

fn write_pcap(path: &Path, link: LinkType, endian: Endian, res: TsResolution, frames: &[Vec<u8>]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(f, link, 65535, endian, res).unwrap();
    for (i, fr) in frames.iter().enumerate() {
        w.write_packet(T0 + i as u64 * 1_000_123, fr.len() as u32, fr)
            .unwrap();
    }
    w.finish().unwrap();
}

fn pcap(dir: &TempDir, name: &str, link: LinkType, frames: &[Vec<u8>]) -> std::path::PathBuf {
    let p = dir.path(name);
    write_pcap(&p, link, Endian::Little, TsResolution::Micro, frames);
    p
}

#[test]
fn classic_pcap_byte_orders_and_resolutions() {
    let dir = TempDir::new("orders");
    for (endian, res, tag) in [
        (Endian::Little, TsResolution::Micro, "le-us"),
        (Endian::Big, TsResolution::Micro, "be-us"),
        (Endian::Little, TsResolution::Nano, "le-ns"),
        (Endian::Big, TsResolution::Nano, "be-ns"),
    ] {
        let p = dir.path(&format!("ens33-{tag}.pcap"));
        let frames = vec![eth(&ipip("192.168.30.71", "192.168.30.72")); 3];
        write_pcap(&p, LinkType::ETHERNET, endian, res, &frames);
        let r = read(&[&p], &[], 0);
        let t = tunnel(
            link(&r, &format!("ens33-{tag}")),
            "ipip",
            "192.168.30.71",
            "192.168.30.72",
        );
        assert_eq!(t.packets, 3, "{tag}");
        assert_eq!(
            inner_packets(t, "10.244.118.193", "10.244.5.194"),
            3,
            "{tag}"
        );
        assert_eq!(t.bytes, 3 * frames[0].len() as u64);
        assert_eq!(t.first_seen, "2025-11-25T13:00:00.000000Z", "{tag}");
        let last = if matches!(res, TsResolution::Nano) {
            "2025-11-25T13:00:00.002000246Z"
        } else {
            "2025-11-25T13:00:00.002000Z"
        };
        assert_eq!(t.last_seen, last, "{tag}");
    }
}

#[test]
fn pcapng_names_mixed_link_types_and_simple_packets() {
    let dir = TempDir::new("pcapng");
    let p = dir.path("node.pcapng");
    let mut w = PcapngWriter::new(std::fs::File::create(&p).unwrap(), Endian::Little).unwrap();
    let ens32 = w.add_interface("ens32", LinkType::ETHERNET, 65535).unwrap();
    let ens33 = w.add_interface("ens33", LinkType::RAW, 65535).unwrap();
    let described = w
        .add_interface_with(None, Some("uplink"), LinkType::ETHERNET, 65535)
        .unwrap();
    let anonymous = w
        .add_interface_with(None, None, LinkType::ETHERNET, 65535)
        .unwrap();
    for i in 0..4 {
        let raw = ipip("192.168.30.71", "192.168.30.72");
        w.write_epb(ens33, T0 + i, raw.len() as u32, &raw).unwrap();
    }
    let on26 = eth(&ipip("192.168.26.71", "192.168.26.72"));
    w.write_epb(ens32, T0 + 9, on26.len() as u32, &on26)
        .unwrap();
    w.write_spb(on26.len() as u32, &on26).unwrap(); // SPBs belong to interface 0
    w.write_epb(described, T0 + 10, on26.len() as u32, &on26)
        .unwrap();
    w.write_epb(anonymous, T0 + 11, on26.len() as u32, &on26)
        .unwrap();
    w.finish().unwrap();

    let r = read(&[&p], &[], 0);
    assert_eq!(r.packets.total, 8);
    let t33 = tunnel(link(&r, "ens33"), "ipip", "192.168.30.71", "192.168.30.72");
    assert_eq!(t33.packets, 4);
    let t32 = tunnel(link(&r, "ens32"), "ipip", "192.168.26.71", "192.168.26.72");
    assert_eq!(t32.packets, 2);
    assert_eq!(link(&r, "uplink").packets, 1);
    assert_eq!(link(&r, "if3").packets, 1);
    // The same outer pair on three links is flagged.
    let multi = &r.multi_interface;
    assert_eq!(multi.len(), 1);
    assert_eq!(multi[0].interfaces.len(), 3);
}

#[test]
fn every_link_type_carries_the_same_tunnel() {
    let dir = TempDir::new("links");
    let ip = ipip("192.168.30.71", "192.168.30.72");
    let tagged = ethernet(MAC_A, MAC_B, 0x8100, &vlan(30, 0x0800, &ip));
    let qinq = ethernet(
        MAC_A,
        MAC_B,
        0x88a8,
        &vlan(200, 0x8100, &vlan(30, 0x0800, &ip)),
    );
    let cases: Vec<(&str, LinkType, Vec<u8>)> = vec![
        ("eth", LinkType::ETHERNET, eth(&ip)),
        ("dot1q", LinkType::ETHERNET, tagged),
        ("qinq", LinkType::ETHERNET, qinq),
        ("sll", LinkType::LINUX_SLL, sll(0x0800, &ip)),
        ("raw", LinkType::RAW, ip.clone()),
        ("ipv4", LinkType::IPV4, ip.clone()),
        ("null-le", LinkType::NULL, null_loopback(2, false, &ip)),
        ("null-be", LinkType::NULL, null_loopback(2, true, &ip)),
        ("loop", LinkType::LOOP, null_loopback(2, true, &ip)),
    ];
    for (name, lt, frame) in cases {
        let p = pcap(&dir, &format!("{name}.pcap"), lt, &[frame]);
        let r = read(&[&p], &[], 0);
        let t = tunnel(link(&r, name), "ipip", "192.168.30.71", "192.168.30.72");
        assert_eq!(
            inner_packets(t, "10.244.118.193", "10.244.5.194"),
            1,
            "{name}"
        );
    }
    // IPV6 (229): 4in6.
    let six = ipv6(v6("fd00::71"), v6("fd00::72"), 4, &pod_packet());
    let p = pcap(&dir, "ipv6.pcap", LinkType::IPV6, &[six]);
    let r = read(&[&p], &[], 0);
    let t = tunnel(link(&r, "ipv6"), "ip4in6", "fd00::71", "fd00::72");
    assert_eq!(inner_packets(t, "10.244.118.193", "10.244.5.194"), 1);
}

#[test]
fn sll2_ifindex_names_the_link() {
    let dir = TempDir::new("sll2");
    let frames = vec![
        sll2(3, 0x0800, &ipip("192.168.30.71", "192.168.30.72")),
        sll2(2, 0x0800, &ipip("192.168.26.71", "192.168.26.72")),
    ];
    let p = pcap(&dir, "any.pcap", LinkType::LINUX_SLL2, &frames);
    let r = read(&[&p], &[], 0);
    tunnel(
        link(&r, "ifindex 3"),
        "ipip",
        "192.168.30.71",
        "192.168.30.72",
    );
    let r = read(&[&p], &["--ifname", "3=ens33", "--ifname", "2=ens32"], 0);
    tunnel(link(&r, "ens33"), "ipip", "192.168.30.71", "192.168.30.72");
    tunnel(link(&r, "ens32"), "ipip", "192.168.26.71", "192.168.26.72");
    assert_eq!(r.links.len(), 2, "the file label 'any' has nothing left");
}

#[test]
fn every_encapsulation() {
    let dir = TempDir::new("encaps");
    let (a4, b4) = (v4("192.168.30.71"), v4("192.168.30.72"));
    let (a6, b6) = (v6("fd00:30::71"), v6("fd00:30::72"));
    let inner6 = ipv6(
        v6("fd00:244::1"),
        v6("fd00:244::2"),
        58,
        &[128, 0, 0, 0, 0, 1, 0, 1],
    );
    let inner_eth = ethernet(MAC_A, MAC_B, 0x0800, &pod_packet());
    let frames = vec![
        eth(&ipv4(a4, b4, 4, &pod_packet())),
        eth(&ipv4(a4, b4, 41, &inner6)),
        eth6(&ipv6(a6, b6, 4, &pod_packet())),
        eth6(&ipv6(a6, b6, 41, &inner6)),
        eth(&ipv4(a4, b4, 47, &gre(0x0800, Some(77), &pod_packet()))),
        eth(&ipv4(a4, b4, 47, &gre(0x86dd, None, &inner6))),
        eth(&ipv4(a4, b4, 47, &gre(0x6558, Some(78), &inner_eth))),
        eth(&ipv4(
            a4,
            b4,
            17,
            &udp(40000, 4789, &vxlan(4096, &inner_eth)),
        )),
        eth(&ipv4(a4, b4, 17, &udp(40000, 8472, &vxlan(1, &inner_eth)))),
        eth(&ipv4(
            a4,
            b4,
            17,
            &udp(40000, 6081, &geneve(99, 0x6558, 8, &inner_eth)),
        )),
        eth(&ipv4(
            a4,
            b4,
            17,
            &udp(40000, 6081, &geneve(98, 0x86dd, 0, &inner6)),
        )),
        eth(&ipv4(a4, b4, 17, &udp(40000, 9999, &vxlan(5, &inner_eth)))),
    ];
    let p = pcap(&dir, "node.pcap", LinkType::ETHERNET, &frames);
    let r = read(&[&p], &["--vxlan-port", "9999"], 0);
    assert_eq!(r.packets.tunnelled, 12);
    let l = link(&r, "node");
    let pods = |t: &TunnelRow| inner_packets(t, "10.244.118.193", "10.244.5.194");
    let pods6 = |t: &TunnelRow| inner_packets(t, "fd00:244::1", "fd00:244::2");
    assert_eq!(pods(tunnel(l, "ipip", "192.168.30.71", "192.168.30.72")), 1);
    assert_eq!(
        pods6(tunnel(l, "ip6in4", "192.168.30.71", "192.168.30.72")),
        1
    );
    assert_eq!(pods(tunnel(l, "ip4in6", "fd00:30::71", "fd00:30::72")), 1);
    assert_eq!(pods6(tunnel(l, "ip6in6", "fd00:30::71", "fd00:30::72")), 1);
    let rows = |encap: &str| -> Vec<TunnelRow> {
        l.tunnels
            .iter()
            .filter(|t| t.encap.as_str() == encap)
            .cloned()
            .collect()
    };
    let by_vni = |encap: &str, vni: Option<u64>| -> TunnelRow {
        rows(encap)
            .into_iter()
            .find(|t| t.vni.map(u64::from) == vni)
            .unwrap_or_else(|| panic!("no {encap} row with vni {vni:?}"))
    };
    assert_eq!(pods(&by_vni("gre", Some(77))), 1);
    assert_eq!(pods6(&by_vni("gre", None)), 1);
    assert_eq!(pods(&by_vni("gre", Some(78))), 1, "GRE bridging Ethernet");
    assert_eq!(pods(&by_vni("vxlan", Some(4096))), 1, "Calico VXLAN 4789");
    assert_eq!(pods(&by_vni("vxlan", Some(1))), 1, "Flannel VXLAN 8472");
    assert_eq!(pods(&by_vni("vxlan", Some(5))), 1, "--vxlan-port 9999");
    assert_eq!(pods(&by_vni("geneve", Some(99))), 1);
    assert_eq!(pods6(&by_vni("geneve", Some(98))), 1);

    // Without the flag, port 9999 is plain UDP.
    let r = read(&[&p], &[], 0);
    assert_eq!(r.packets.tunnelled, 11);
}

#[test]
fn outer_fragments_count_to_the_tunnel_without_inventing_pairs() {
    let dir = TempDir::new("frags");
    // A 3000-byte pod ping through IPIP, fragmented on a 1500-byte link.
    let big_inner = ipv4(
        v4("10.244.118.193"),
        v4("10.244.5.194"),
        1,
        &icmp_echo(9, 1, &[7; 2972]),
    );
    let outer = ipv4(v4("192.168.30.71"), v4("192.168.30.72"), 4, &big_inner);
    let frags = fragment_ipv4(&outer, 1500);
    assert_eq!(frags.len(), 3);
    let frames: Vec<Vec<u8>> = frags.iter().map(|f| eth(f)).collect();
    let p = pcap(&dir, "ens33.pcap", LinkType::ETHERNET, &frames);
    let r = read(&[&p], &[], 0);
    let t = tunnel(link(&r, "ens33"), "ipip", "192.168.30.71", "192.168.30.72");
    assert_eq!(t.packets, 3);
    assert_eq!(t.fragments, 3);
    assert_eq!(
        inner_packets(t, "10.244.118.193", "10.244.5.194"),
        1,
        "only the first fragment"
    );
    assert_eq!(t.no_inner, 2);
}

#[test]
fn snaplen_54_still_yields_the_inner_pair() {
    let dir = TempDir::new("snap");
    let frame = eth(&ipip("192.168.30.71", "192.168.30.72"));
    let p = dir.path("ens33.pcap");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = PcapWriter::new(
        f,
        LinkType::ETHERNET,
        54,
        Endian::Little,
        TsResolution::Micro,
    )
    .unwrap();
    w.write_packet(T0, frame.len() as u32, &frame[..54])
        .unwrap();
    w.write_packet(T0 + 1, frame.len() as u32, &frame[..44])
        .unwrap(); // cut inside the inner header
    w.finish().unwrap();
    let r = read(&[&p], &[], 0);
    let t = tunnel(link(&r, "ens33"), "ipip", "192.168.30.71", "192.168.30.72");
    assert_eq!(t.packets, 2);
    assert_eq!(t.bytes, 2 * frame.len() as u64, "bytes are wire lengths");
    assert_eq!(inner_packets(t, "10.244.118.193", "10.244.5.194"), 1);
    assert_eq!(t.no_inner, 1);
    let stops = &r.decode_stops;
    assert!(
        stops
            .iter()
            .any(|s| s.reason == Reason::Truncated && s.packets == 1),
        "{stops:?}"
    );
}

#[test]
fn forty_deep_nest_stops_at_the_depth_bound() {
    let dir = TempDir::new("nest");
    // Layer k (1 = outermost) runs 10.0.0.k → 10.1.0.k; the innermost is UDP.
    let mut pkt = ipv4(v4("10.0.0.41"), v4("10.1.0.41"), 17, &udp(1, 2, b"x"));
    for k in (1..=40u8).rev() {
        pkt = ipv4(
            Ipv4Addr::new(10, 0, 0, k),
            Ipv4Addr::new(10, 1, 0, k),
            4,
            &pkt,
        );
    }
    let p = pcap(&dir, "deep.pcap", LinkType::ETHERNET, &[eth(&pkt)]);
    let r = read(&[&p], &[], 0);
    let t = tunnel(link(&r, "deep"), "ipip", "10.0.0.1", "10.1.0.1");
    assert_eq!(t.max_depth, 8);
    // After 8 tunnel layers the pair reached is the one of layer 9.
    assert_eq!(inner_packets(t, "10.0.0.9", "10.1.0.9"), 1, "{t:#?}");
    let stops = &r.decode_stops;
    assert!(
        stops.iter().any(|s| s.reason == Reason::DepthLimit),
        "{stops:?}"
    );
    // A larger bound walks deeper.
    let r = read(&[&p], &["--max-depth", "64"], 0);
    let t = tunnel(link(&r, "deep"), "ipip", "10.0.0.1", "10.1.0.1");
    assert_eq!(inner_packets(t, "10.0.0.41", "10.1.0.41"), 1);
}

#[test]
fn several_files_label_links_by_stem_or_iface_flag() {
    let dir = TempDir::new("multi");
    let a = pcap(
        &dir,
        "ens32.pcap",
        LinkType::ETHERNET,
        &[eth(&ipip("192.168.26.71", "192.168.26.72"))],
    );
    let b = pcap(
        &dir,
        "ens33.pcap",
        LinkType::ETHERNET,
        &vec![eth(&ipip("192.168.30.71", "192.168.30.72")); 2],
    );
    let r = read(&[&a, &b], &[], 0);
    assert_eq!(link(&r, "ens32").packets, 1);
    assert_eq!(link(&r, "ens33").packets, 2);
    let r = read(&[&a, &b], &["--iface", "eth1", "--iface", "eth0"], 0);
    assert_eq!(link(&r, "eth1").packets, 1);
    assert_eq!(link(&r, "eth0").packets, 2);
    // One --iface for all: the two files merge into one link.
    let r = read(&[&a, &b], &["--iface", "bond0"], 0);
    assert_eq!(link(&r, "bond0").packets, 3);
    assert_eq!(r.sources.len(), 2);
}

#[test]
fn table_limits_spill_into_other_rows() {
    let dir = TempDir::new("limits");
    let mut frames = Vec::new();
    for n in 1..=5u8 {
        for p in 1..=3u8 {
            let inner = ipv4(
                Ipv4Addr::new(10, 244, n, p),
                v4("10.244.9.9"),
                17,
                &udp(1, 2, b"x"),
            );
            frames.push(eth(&ipv4(
                Ipv4Addr::new(192, 168, 30, n),
                v4("192.168.30.100"),
                4,
                &inner,
            )));
        }
    }
    let p = pcap(&dir, "ens33.pcap", LinkType::ETHERNET, &frames);
    let r = read(&[&p], &["--max-tunnels", "2", "--max-pairs", "1"], 0);
    let l = link(&r, "ens33");
    assert_eq!(l.tunnels.len(), 2);
    assert_eq!(l.other_tunnels.unwrap().packets, 9);
    for t in &l.tunnels {
        assert_eq!(t.inner.len(), 1);
        assert_eq!(t.inner_other.unwrap().packets, 2);
    }
    assert_eq!(r.packets.tunnelled, 15);
}

#[test]
fn damaged_capture_reports_what_came_before_and_exits_3() {
    let dir = TempDir::new("damage");
    let good = pcap(
        &dir,
        "ens33.pcap",
        LinkType::ETHERNET,
        &vec![eth(&ipip("192.168.30.71", "192.168.30.72")); 3],
    );
    let mut bytes = std::fs::read(&good).unwrap();
    let damage_at = bytes.len();
    // A record header claiming 900000 captured bytes.
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&900_000u32.to_le_bytes());
    bytes.extend_from_slice(&900_000u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 64]);
    let bad = dir.path("ens33-bad.pcap");
    std::fs::write(&bad, &bytes).unwrap();
    let out = common::run(&["read", bad.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("byte {damage_at}")), "{stderr}");
    assert!(stderr.contains("ens33-bad.pcap"), "{stderr}");
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.packets.total, 3);
    assert_eq!(r.sources[0].damaged_at, Some(damage_at as u64));

    // A file cut inside a record.
    let cut = dir.path("cut.pcap");
    std::fs::write(&cut, &bytes[..damage_at - 10]).unwrap();
    let r = read(&[&cut], &[], 3);
    assert_eq!(r.packets.total, 2);

    // A pcapng block whose length is not a multiple of 4.
    let ng = dir.path("ng.pcapng");
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let i = w.add_interface("ens33", LinkType::ETHERNET, 65535).unwrap();
    let fr = eth(&ipip("192.168.30.71", "192.168.30.72"));
    w.write_epb(i, T0, fr.len() as u32, &fr).unwrap();
    let mut bytes = w.finish().unwrap();
    let at = bytes.len();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&31u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 40]);
    std::fs::write(&ng, &bytes).unwrap();
    let out = common::run(&["read", ng.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("byte {at}")));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("ens33 carries IPIP 192.168.30.71 → 192.168.30.72"));
}

#[test]
fn unreadable_and_non_capture_files_exit_2_naming_the_file() {
    let dir = TempDir::new("bad");
    let text = dir.path("notes.txt");
    std::fs::write(&text, "this is not a capture\n").unwrap();
    let out = common::run(&["read", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("expected"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let missing = dir.path("missing.pcap");
    let out = common::run(&["read", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pcap"));

    let empty = dir.path("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        common::run(&["read", empty.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );

    let out = common::run(&["read", dir.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a directory");

    let out = common::run(&["read", text.to_str().unwrap(), "--ifname", "x=eth0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = common::run(&["read"]);
    assert_eq!(out.status.code(), Some(2), "no file given");
    assert!(
        String::from_utf8_lossy(&common::run(&["read", "--help"]).stdout).contains("Exit codes")
    );
}

#[test]
fn good_file_beside_a_bad_one_is_still_reported() {
    let dir = TempDir::new("mixed");
    let good = pcap(
        &dir,
        "ens33.pcap",
        LinkType::ETHERNET,
        &[eth(&ipip("192.168.30.71", "192.168.30.72"))],
    );
    let text = dir.path("junk.pcap");
    std::fs::write(&text, "junk junk junk junk junk junk").unwrap();
    let r = read(&[&good, &text], &[], 2);
    assert_eq!(r.packets.tunnelled, 1);
    assert!(r.sources[1].error.as_ref().unwrap().contains("junk.pcap"));
}

#[test]
fn table_output_has_a_verdict_per_interface() {
    let dir = TempDir::new("table");
    let a = pcap(
        &dir,
        "ens32.pcap",
        LinkType::ETHERNET,
        &[eth(&ipv4(
            v4("192.168.26.71"),
            v4("192.168.26.1"),
            6,
            &[0; 20],
        ))],
    );
    let b = pcap(
        &dir,
        "ens33.pcap",
        LinkType::ETHERNET,
        &vec![eth(&ipip("192.168.30.71", "192.168.30.72")); 10],
    );
    let out = common::run(&["read", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains(
        "verdict: ens33 carries IPIP 192.168.30.71 → 192.168.30.72 (10 pkts, pods 10.244.118.193 → 10.244.5.194)"
    ), "{s}");
    assert!(
        s.contains("verdict: ens32 carries no tunnel traffic (1 packet seen)"),
        "{s}"
    );
}

#[test]
fn interface_count_is_bounded_for_hostile_files() {
    let dir = TempDir::new("ifaces");
    // 3000 SLL2 records, each naming another ifindex.
    let frames: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| sll2(i + 1, 0x0800, &ipip("192.168.30.71", "192.168.30.72")))
        .collect();
    let p = pcap(&dir, "any.pcap", LinkType::LINUX_SLL2, &frames);
    let r = read(&[&p], &[], 0);
    let links = &r.links;
    assert!(links.len() <= 1025, "{} links", links.len());
    let total: u64 = links.iter().map(|l| l.packets).sum();
    assert_eq!(total, 3000);
    assert_eq!(link(&r, "(other interfaces)").packets, 3000 - 1024);

    // A pcapng with 2000 interface blocks, one packet on each.
    let ng = dir.path("many.pcapng");
    let mut w = PcapngWriter::new(std::fs::File::create(&ng).unwrap(), Endian::Little).unwrap();
    let fr = eth(&ipip("192.168.30.71", "192.168.30.72"));
    for i in 0..2000 {
        let id = w
            .add_interface(&format!("nic{i}"), LinkType::ETHERNET, 65535)
            .unwrap();
        w.write_epb(id, T0, fr.len() as u32, &fr).unwrap();
    }
    w.finish().unwrap();
    let r = read(&[&ng], &[], 0);
    assert_eq!(r.packets.tunnelled, 2000);
    assert_eq!(link(&r, "(other interfaces)").packets, 2000 - 1024);
}

/// A classic pcap file big enough to be read in two halves on two threads
/// gives exactly the report of the same frames in a pcapng file (read on the
/// one-thread path): every tunnel, pair, count and time. `nodes` and `pods`
/// set how many tunnels and pairs there are: within the table's limits the
/// halves' tables are merged; past them the second half is counted again.
fn halves_match_one_thread(tag: &str, nodes: u64, pods: u64) {
    let dir = TempDir::new(tag);
    let classic = dir.path("ens33.pcap");
    let ng = dir.path("ens33.pcapng");
    let mut pcap_w = PcapWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&classic).unwrap()),
        LinkType::ETHERNET,
        65535,
        Endian::Little,
        TsResolution::Nano,
    )
    .unwrap();
    let mut ng_w = PcapngWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&ng).unwrap()),
        Endian::Little,
    )
    .unwrap();
    let id = ng_w
        .add_interface("ens33", LinkType::ETHERNET, 65535)
        .unwrap();
    let mut bytes = 0u64;
    let mut frames = 0u64;
    let mut x = 0x2545_f491_u64;
    while bytes < 72 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (na, nb) = ((x >> 5) % nodes, (x >> 11) % nodes);
        let node = |n: u64| Ipv4Addr::new(192, 168, 30, n as u8 + 1);
        // Pods live on the nodes the tunnel joins, as with Calico.
        let pod = |n: u64, k: u64| Ipv4Addr::new(10, 244, n as u8, (k % pods) as u8 + 2);
        let payload = vec![0u8; (x >> 20) as usize % 1400];
        let inner = ipv4(
            pod(na, x >> 3),
            pod(nb, x >> 17),
            1,
            &icmp_echo(7, 1, &payload),
        );
        let (a, b) = (node(na), node(nb));
        let frame = match x % 10 {
            0..=5 => eth(&ipv4(a, b, 4, &inner)),
            6 => eth(&ipv4(a, b, 6, &[0; 40])),
            7 => {
                let echo = [128, 0, 0, 0, 0, 1, 0, 1];
                eth(&ipv4(
                    a,
                    b,
                    41,
                    &ipv6(v6("fd00:244::1"), v6("fd00:244::2"), 58, &echo),
                ))
            }
            8 => {
                let inner_eth = ethernet(MAC_A, MAC_B, 0x0800, &inner);
                eth(&ipv4(
                    a,
                    b,
                    17,
                    &udp(40000, 4789, &vxlan((x >> 30) as u32 % 4, &inner_eth)),
                ))
            }
            _ => eth(&ipv4(a, b, 47, &gre(0x0800, Some(7), &inner))),
        };
        let ts = T0 + frames * 1_001;
        pcap_w.write_packet(ts, frame.len() as u32, &frame).unwrap();
        ng_w.write_epb(id, ts, frame.len() as u32, &frame).unwrap();
        bytes += 16 + frame.len() as u64;
        frames += 1;
    }
    pcap_w.finish().unwrap();
    ng_w.finish().unwrap();

    let mut halves = read(&[&classic], &[], 0);
    let mut one = read(&[&ng], &[], 0);
    assert_eq!(halves.packets.total, frames);
    assert!(link(&halves, "ens33").tunnels.len() as u64 >= nodes * 4);
    for r in [&mut halves, &mut one] {
        r.sources.clear();
    }
    assert!(halves == one, "{tag}: the two reads differ");
}

#[test]
fn large_classic_file_within_the_limits_read_in_halves() {
    halves_match_one_thread("halves-merged", 12, 4);
}

#[test]
fn large_classic_file_past_the_limits_read_in_halves() {
    halves_match_one_thread("halves-recounted", 40, 60);
}
