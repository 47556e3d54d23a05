//! The decoder against real public captures (`../shared/captures-public`,
//! facts from its MANIFEST.md, checked with tshark), through the public API.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tuntrace::decode::{
    decode_frame, DecodeConfig, DecodeError, Decoded, Encap, Fragment, Inner, Kind, Layer, Plain,
    Reason, Tunnel,
};
use tuntrace::linktype::LinkType;

/// `../shared/captures-public/NAME`; a missing file fails, naming it.
fn capture_path(name: &str) -> PathBuf {
    crate::public(name)
}

/// Every frame of a capture, read with the crate's own reader; all frames
/// of a file share one link type here.
fn read_pcap(path: &Path) -> (LinkType, Vec<Vec<u8>>) {
    let mut ifaces = tuntrace::iface::IfaceTable::new();
    let mut lt = LinkType::ETHERNET;
    let mut frames = Vec::new();
    tuntrace::sources::file::read_file(path, &Default::default(), &mut ifaces, |f| {
        lt = f.linktype;
        frames.push(f.data.to_vec());
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (lt, frames)
}

/// Decodes every frame of a capture.
fn decode_file(name: &str) -> Vec<Decoded> {
    decode_file_with(name, &DecodeConfig::default())
}

fn decode_file_with(name: &str, cfg: &DecodeConfig) -> Vec<Decoded> {
    let (lt, frames) = frames(name);
    frames.iter().map(|f| decode_frame(f, lt, cfg)).collect()
}

fn frames(name: &str) -> (LinkType, Vec<Vec<u8>>) {
    read_pcap(&capture_path(name))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tunnel(d: &Decoded) -> Tunnel {
    match d.kind {
        Kind::Tunnel(t) => t,
        other => panic!("not a tunnel: {other:?}"),
    }
}

fn all_tunnels(ds: &[Decoded]) -> Vec<Tunnel> {
    ds.iter().map(tunnel).collect()
}

fn some_inner(src: &str, dst: &str, proto: u8) -> Option<Inner> {
    Some(Inner {
        src: ip(src),
        dst: ip(dst),
        proto,
    })
}

fn outer(t: &Tunnel) -> (IpAddr, IpAddr) {
    (t.outer_src, t.outer_dst)
}

fn count<T>(items: &[T], f: impl Fn(&T) -> bool) -> usize {
    items.iter().filter(|x| f(x)).count()
}

fn inner_proto(t: &Tunnel) -> Option<u8> {
    t.inner.map(|i| i.proto)
}

// ---- IPIP (IPv4 protocol 4) ----

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_4in4() {
    let ds = decode_file("zeek-4in4.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].encap, outer(&t[0])),
        (Encap::Ipip, (ip("1.2.3.4"), ip("5.6.7.8")))
    );
    assert_eq!(t[0].inner, some_inner("10.0.0.1", "10.0.0.2", 17));
    assert_eq!(
        (t[0].depth, t[0].stop, t[0].vni, t[0].outer_ip_len),
        (1, None, None, 52)
    );
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn suricata_4571_ipv4_over_ipv4() {
    let ds = decode_file("suricata-verify-bug-4571-01-ipv4_over_ipv4.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!(
        (t.encap, outer(&t)),
        (Encap::Ipip, (ip("10.1.0.1"), ip("10.1.0.2")))
    );
    assert_eq!(t.inner, some_inner("10.1.0.3", "10.1.0.4", 6));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn suricata_7725_ip_in_ip() {
    let ds = decode_file("suricata-verify-bug-7725-01-ip_in_ip.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 6);
    let (a, b) = (ip("10.0.0.94"), ip("10.1.0.237"));
    assert_eq!(count(&t, |t| outer(t) == (a, b)), 3);
    assert_eq!(count(&t, |t| outer(t) == (b, a)), 3);
    for t in &t {
        assert_eq!(t.encap, Encap::Ipip);
        assert!(t.outer_df);
        let want = if t.outer_src == a {
            some_inner("192.168.0.94", "192.168.0.237", 1)
        } else {
            some_inner("192.168.0.237", "192.168.0.94", 1)
        };
        assert_eq!(t.inner, want);
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ndpi_4in4_under_two_vlan_tags() {
    let ds = decode_file("ndpi-4in4tunnel.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 5);
    for t in &t {
        assert_eq!(
            (t.encap, outer(t)),
            (Encap::Ipip, (ip("69.67.35.146"), ip("41.202.46.110")))
        );
        assert_eq!(t.inner, some_inner("10.10.100.25", "10.10.101.2", 17));
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn deepflow_ipip_under_vlan() {
    let ds = decode_file("deepflow-ipip.pcap");
    let t = all_tunnels(&ds);
    let pairs = [
        (("10.162.42.93", "10.162.33.164"), 1),
        (("10.162.33.164", "10.162.42.93"), 1),
        (("10.162.33.164", "10.162.42.85"), 2),
        (("10.162.12.112", "10.162.45.139"), 1),
    ];
    for ((s, d), n) in pairs {
        assert_eq!(count(&t, |t| outer(t) == (ip(s), ip(d))), n, "{s} -> {d}");
    }
    assert!(t.iter().all(|t| t.encap == Encap::Ipip && t.stop.is_none()));
    let icmp: Vec<_> = t.iter().filter(|t| inner_proto(t) == Some(1)).collect();
    assert_eq!(icmp.len(), 1);
    assert_eq!(
        icmp[0].inner,
        some_inner("10.162.12.112", "117.169.70.33", 1)
    );
    assert_eq!(
        count(&t, |t| t.inner
            == some_inner("61.144.252.235", "183.9.205.187", 6)),
        2
    );
}

// ---- 4in6 ----

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_4in6() {
    let ds = decode_file("zeek-4in6.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!(t.encap, Encap::Ip4in6);
    assert_eq!(
        outer(&t),
        (ip("2002:4637:d5d3::4637:d5d3"), ip("2001:4860:0:2001::68"))
    );
    assert_eq!(t.inner, some_inner("70.55.213.211", "192.88.99.1", 6));
    assert!(!t.outer_df);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ndpi_4in6() {
    let ds = decode_file("ndpi-4in6tunnel.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 4);
    for t in &t {
        assert_eq!(t.encap, Encap::Ip4in6);
        let i = t.inner.unwrap();
        let pair = [i.src, i.dst];
        assert!(pair.contains(&ip("192.168.0.1")) && pair.contains(&ip("10.10.10.1")));
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn suricata_7964_wrong_inner_version() {
    let ds = decode_file("suricata-verify-bug-7964-01-wrong-version-ipv4-ipv6.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!(t.encap, Encap::Ip4in6);
    assert_eq!(t.inner, None);
    assert_eq!(
        t.stop,
        Some(DecodeError::new(Layer::InnerIp, Reason::Malformed))
    );
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn netronome_bulk_4in6() {
    let ds = decode_file("netronome-traffic_IPIP.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 20000);
    let a = ip("fe80::7e7e:7eff:fe7e:7e7f");
    let b = ip("3555:5555:6666:6666:7777:7777:8888:888d");
    let ab = count(&t, |t| outer(t) == (a, b));
    let ba = count(&t, |t| outer(t) == (b, a));
    assert_eq!((ab + ba, ab.min(ba), ab.max(ba)), (20000, 9985, 10015));
    for t in &t {
        assert_eq!(
            (t.encap, t.stop, inner_proto(t)),
            (Encap::Ip4in6, None, Some(6))
        );
        assert!(matches!(t.inner.unwrap().src, IpAddr::V4(v) if v.octets()[0] == 10));
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn arkime_ipv6_ipv4_gre_ppp_ipv4() {
    let ds = decode_file("arkime-6-4-gre-ppp-udp-4-dns.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 2);
    assert_eq!(
        outer(&t[0]),
        (
            ip("2402:f000:1:8e01::5555"),
            ip("2607:fcd0:100:2300::b108:2a6b")
        )
    );
    for t in &t {
        // The outermost tunnel is the 4in6 one: no VNI even though GRE follows.
        assert_eq!(
            (t.encap, t.depth, t.vni, t.stop),
            (Encap::Ip4in6, 2, None, None)
        );
        let i = t.inner.unwrap();
        assert_eq!(i.proto, 17);
        assert!(
            [i.src, i.dst].contains(&ip("8.8.8.8")) && [i.src, i.dst].contains(&ip("172.16.44.3"))
        );
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_mpls_6in6_6in6_4in6_invalid_version() {
    let ds = decode_file("zeek-mpls-6in6-6in6-4in6-invalid-version-4.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!((t.encap, t.depth), (Encap::Ip6in6, 2));
    assert_eq!(
        t.stop,
        Some(DecodeError::new(Layer::InnerIp, Reason::Malformed))
    );
    // The innermost pair reached is the second IPv6 header; no IPv4 pair.
    let i = t.inner.unwrap();
    assert!(i.src.is_ipv6() && i.dst.is_ipv6());
    assert_eq!(i.proto, 4);
}

// ---- 6in4, 6in6 ----

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_ping6_in_ipv4() {
    let ds = decode_file("zeek-ping6-in-ipv4.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 10);
    for t in &t {
        assert_eq!(t.encap, Encap::Ip6in4);
        let (want_outer, want_inner) = if t.outer_src == ip("10.0.0.1") {
            (
                (ip("10.0.0.1"), ip("10.0.0.2")),
                some_inner("2001:db8:0:1::1", "2001:db8:0:1::2", 58),
            )
        } else {
            (
                (ip("10.0.0.2"), ip("10.0.0.1")),
                some_inner("2001:db8:0:1::2", "2001:db8:0:1::1", 58),
            )
        };
        assert_eq!((outer(t), t.inner), (want_outer, want_inner));
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ndpi_6in4_with_icmpv6_errors_inside() {
    let ds = decode_file("ndpi-6in4tunnel.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 127);
    let (a, b) = (ip("174.3.73.24"), ip("184.105.255.26"));
    assert!(t.iter().all(|t| outer(t) == (a, b) || outer(t) == (b, a)));
    assert!(t
        .iter()
        .all(|t| t.encap == Encap::Ip6in4 && t.stop.is_none()));
    assert_eq!(count(&t, |t| inner_proto(t) == Some(6)), 75);
    assert_eq!(count(&t, |t| inner_proto(t) == Some(58)), 48);
    assert_eq!(count(&t, |t| inner_proto(t) == Some(17)), 4);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_6in6in6() {
    let ds = decode_file("zeek-6in6in6.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!((t.encap, t.depth, t.stop), (Encap::Ip6in6, 2, None));
    assert_eq!(outer(&t), (ip("feed::beef"), ip("feed::cafe")));
    assert_eq!(t.inner, some_inner("dead::beef", "cafe::babe", 17));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_icmpv6_quoting_6in6_is_plain() {
    let ds = decode_file("tcpdump-icmpv6-rfc7112.pcap");
    assert!(matches!(ds[0].kind, Kind::Plain(Plain { proto: 58, .. })));
}

// ---- GRE / ERSPAN ----

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_various_gre_cisco_metadata() {
    let ds = decode_file("tcpdump-various_gre.pcap");
    assert_eq!(ds.len(), 100);
    let t: Vec<Tunnel> = ds
        .iter()
        .filter_map(|d| match d.kind {
            Kind::Tunnel(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(t.len(), 30);
    assert_eq!(
        count(&ds, |d| d.kind == Kind::NotIp),
        70,
        "STP 63, loopback 5, CDP, DTP"
    );
    assert!(t
        .iter()
        .all(|t| t.encap == Encap::Gre && t.vni == Some(0x28) && t.stop.is_none()));
    assert_eq!(count(&t, |t| inner_proto(t) == Some(1)), 10);
    assert_eq!(count(&t, |t| inner_proto(t) == Some(103)), 2, "PIM");
    assert_eq!(
        count(&t, |t| t.depth == 2 && inner_proto(t) == Some(47)),
        8,
        "GRE in GRE"
    );
    assert_eq!(count(&t, |t| t.inner.is_none()), 10, "keepalives 8 + CDP 2");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_gre_sample() {
    let ds = decode_file("zeek-gre-sample.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 40);
    let (a, b) = (ip("172.27.1.66"), ip("66.59.109.137"));
    assert!(t.iter().all(|t| outer(t) == (a, b) || outer(t) == (b, a)));
    assert!(t
        .iter()
        .all(|t| (t.encap, t.vni, t.stop, t.depth) == (Encap::Gre, None, None, 1)));
    assert_eq!(count(&t, |t| inner_proto(t) == Some(6)), 22);
    assert_eq!(count(&t, |t| inner_proto(t) == Some(1)), 10);
    assert_eq!(count(&t, |t| inner_proto(t) == Some(17)), 8);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn suricata_8550_fragmented_gre() {
    let ds = decode_file("suricata-verify-security-8550-input.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 2);
    for t in &t {
        assert_eq!(
            (t.encap, outer(t)),
            (Encap::Gre, (ip("10.85.50.1"), ip("10.85.50.2")))
        );
        assert_eq!(t.inner, None);
    }
    // First fragment: 4 GRE bytes and 12 of the 20 inner header bytes.
    assert_eq!(t[0].fragment, Fragment::First);
    assert_eq!(
        t[0].stop,
        Some(DecodeError::new(Layer::InnerIp, Reason::Truncated))
    );
    assert_eq!((t[1].fragment, t[1].stop), (Fragment::Later, None));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn arkime_gre_erspan_vxlan() {
    // GRE -> ERSPAN II -> Ethernet -> IPv4 -> UDP 4789 -> 4790 (VXLAN-GPE
    // shaped). The default ports match destinations only, so the walk stops
    // at the UDP pair; with 4790 configured it reaches the innermost TCP.
    let ds = decode_file("arkime-gre-erspan-vxlan.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 7);
    for t in &t {
        assert_eq!(
            (t.encap, outer(t)),
            (Encap::Gre, (ip("100.20.9.2"), ip("100.20.9.1")))
        );
        assert_eq!(
            (t.depth, t.inner),
            (1, some_inner("172.16.27.131", "172.16.27.121", 17))
        );
    }
    let cfg = DecodeConfig {
        vxlan_ports: vec![4789, 4790],
        ..DecodeConfig::default()
    };
    let ds = decode_file_with("arkime-gre-erspan-vxlan.pcap", &cfg);
    for t in all_tunnels(&ds) {
        assert_eq!((t.depth, t.stop), (2, None));
        let i = t.inner.unwrap();
        assert_eq!(i.proto, 6);
        assert!(
            [i.src, i.dst].contains(&ip("10.16.27.12"))
                && [i.src, i.dst].contains(&ip("10.16.27.131"))
        );
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_erspan_iii_fuzzed_raw_ipv6() {
    let ds = decode_file("tcpdump-erspan-type-iii-pb-1.pcap");
    let t = tunnel(&ds[0]);
    // Reached through a destination-options header; the capture ends inside ERSPAN.
    assert_eq!((t.encap, t.inner), (Encap::Gre, None));
    assert_eq!(
        t.stop,
        Some(DecodeError::new(Layer::Tunnel, Reason::Truncated))
    );
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_isis_over_gre_on_sll() {
    let ds = decode_file("tcpdump-isis-infinite-loop.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 5);
    for t in &t {
        assert_eq!(
            (t.encap, t.outer_dst, t.inner, t.stop),
            (Encap::Gre, ip("192.168.1.1"), None, None)
        );
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_pptp_big_endian() {
    let ds = decode_file("tcpdump-pptp.pcap");
    assert_eq!(ds.len(), 23);
    assert_eq!(
        count(&ds, |d| matches!(
            d.kind,
            Kind::Plain(Plain { proto: 6, .. })
        )),
        22
    );
    let t: Vec<Tunnel> = ds
        .iter()
        .filter_map(|d| match d.kind {
            Kind::Tunnel(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].encap, outer(&t[0])),
        (Encap::Gre, (ip("10.1.1.11"), ip("10.1.1.10")))
    );
    // PPP LCP: nothing IP inside.
    assert_eq!((t[0].inner, t[0].stop), (None, None));
}

// ---- VXLAN ----

fn check_tcpdump_vxlan(name: &str) {
    let ds = decode_file(name);
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 10);
    let (a, b) = (ip("192.168.202.1"), ip("192.168.203.1"));
    for t in &t {
        assert!(outer(t) == (a, b) || outer(t) == (b, a));
        assert_eq!((t.encap, t.vni, t.stop), (Encap::Vxlan, Some(100), None));
    }
    let icmp = count(&t, |t| {
        let Some(i) = t.inner else { return false };
        let pair = [i.src, i.dst];
        i.proto == 1 && pair.contains(&ip("192.168.203.3")) && pair.contains(&ip("192.168.203.5"))
    });
    assert_eq!(icmp, 8);
    assert_eq!(count(&t, |t| t.inner.is_none()), 2, "ARP inside");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_vxlan_4789() {
    check_tcpdump_vxlan("tcpdump-vxlan.pcap");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_vxlan_8472() {
    check_tcpdump_vxlan("tcpdump-vxlan_port_8472.pcap");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_vxlan_triple() {
    let ds = decode_file("zeek-vxlan-triple-v2.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!((t.encap, t.depth, t.stop), (Encap::Vxlan, 3, None));
    assert_eq!(outer(&t), (ip("1.1.1.1"), ip("1.1.1.9")));
    assert_eq!(t.inner, some_inner("4.4.4.4", "4.4.4.9", 17));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_gso_vxlan_ipv6() {
    let ds = decode_file("tcpdump-gso-ipv4-vxlan-ipv6.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!((t.encap, t.vni), (Encap::Vxlan, Some(5001)));
    assert_eq!(outer(&t), (ip("10.25.132.11"), ip("10.25.132.13")));
    assert_eq!(t.inner, some_inner("fd00::2", "fd00::1", 6));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn deepflow_ipv6_outer_vxlan_truncated() {
    let ds = decode_file("deepflow-ip6-vxlan.pcap");
    let t = tunnel(&ds[0]);
    assert_eq!(t.encap, Encap::Vxlan);
    assert_eq!(
        outer(&t),
        (
            ip("2409:8086:8911:1901::23f"),
            ip("2409:8086:8911:1901::23d")
        )
    );
    assert_eq!(
        t.inner,
        some_inner("2409:8086:8911:3123::7e3", "2409:8086:8911:3123::7d1", 6)
    );
    assert_eq!(t.stop, None);
}

// ---- Geneve ----

#[test]
#[ignore = "needs ../shared/captures-public"]
fn tcpdump_geneve() {
    let ds = decode_file("tcpdump-geneve.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 39);
    for t in &t {
        assert_eq!(t.encap, Encap::Geneve);
        let want_vni = if t.outer_src == ip("20.0.0.1") {
            0xa
        } else {
            0xb
        };
        assert_eq!(t.vni, Some(want_vni));
        assert!(
            outer(t) == (ip("20.0.0.1"), ip("20.0.0.2"))
                || outer(t) == (ip("20.0.0.2"), ip("20.0.0.1"))
        );
    }
    assert_eq!(count(&t, |t| inner_proto(t) == Some(6)), 33);
    assert_eq!(count(&t, |t| inner_proto(t) == Some(1)), 6);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_geneve_ipv6_payload() {
    let ds = decode_file("zeek-geneve-ipv6.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 2);
    for t in &t {
        assert_eq!((t.encap, t.vni), (Encap::Geneve, Some(0x123456)));
        assert_eq!(outer(t), (ip("10.0.0.1"), ip("10.0.0.2")));
        let i = t.inner.unwrap();
        assert!([i.src, i.dst].contains(&ip("fd00::1")) && [i.src, i.dst].contains(&ip("fd00::2")));
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn zeek_geneve_vxlan_truncated() {
    let ds = decode_file("zeek-geneve-vxlan-dns-truncated.pcap");
    let t = all_tunnels(&ds);
    assert_eq!(t.len(), 2);
    for t in &t {
        assert_eq!((t.encap, t.depth, t.stop), (Encap::Geneve, 2, None));
        let i = t.inner.unwrap();
        assert!(
            [i.src, i.dst].contains(&ip("172.16.11.201"))
                && [i.src, i.dst].contains(&ip("1.1.1.1"))
        );
    }
}

// ---- link layers without tunnels ----

#[test]
#[ignore = "needs ../shared/captures-public"]
fn link_layer_files() {
    {
        let ds = decode_file("tcpdump-802.1ad_QinQ.pcap");
        assert!(ds.iter().all(|d| d.kind == Kind::NotIp));
    }
    {
        let ds = decode_file("zeek-linux_dlt_sll2.pcap");
        assert!(ds.iter().all(|d| d.sll2_ifindex.is_some()));
        assert_eq!(
            count(&ds, |d| matches!(
                d.kind,
                Kind::Plain(Plain { proto: 1, .. })
            )),
            2
        );
        assert_eq!(
            count(&ds, |d| matches!(
                d.kind,
                Kind::Plain(Plain { proto: 58, .. })
            )),
            2
        );
        assert_eq!(count(&ds, |d| d.kind == Kind::NotIp), 2);
    }
    {
        let ds = decode_file("tcpdump-tcp-handshake-nano.pcap");
        assert_eq!(ds.len(), 3);
        assert!(ds
            .iter()
            .all(|d| matches!(d.kind, Kind::Plain(Plain { proto: 6, .. }))));
    }
    for name in [
        "tcpdump-LINKTYPE_RAW_ipv4.pcap",
        "tcpdump-LINKTYPE_IPV4.pcap",
        "tcpdump-LINKTYPE_IPV6.pcap",
    ] {
        {
            let ds = decode_file(name);
            assert!(
                matches!(ds[0].kind, Kind::Plain(Plain { proto: 17, .. })),
                "{name}"
            );
        }
    }
}

/// Every prefix of (a sample of) every real frame, under every link type:
/// never a panic, and the invariants hold.
#[test]
#[ignore = "needs ../shared/captures-public"]
fn every_truncation_of_real_frames() {
    let dir = capture_path("");
    let rd = std::fs::read_dir(&dir).expect("../shared/captures-public");
    let cfg = DecodeConfig::default();
    let lts = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276].map(LinkType);
    for entry in rd.filter_map(Result::ok) {
        let name = entry.file_name().into_string().unwrap();
        let head = std::fs::read(entry.path()).unwrap_or_default();
        if !name.ends_with(".pcap") || head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            continue;
        }
        let (_, fs) = frames(&name);
        for f in fs.iter().take(40) {
            for cut in 0..=f.len().min(600) {
                for lt in lts {
                    let d = decode_frame(&f[..cut], lt, &cfg);
                    if let Kind::Tunnel(t) = d.kind {
                        assert!((1..=cfg.max_depth).contains(&t.depth));
                    }
                }
            }
        }
    }
}

/// The fast path's answer equals the full decode's on every frame of both
/// shared folders (the unit test in `decode::fast` covers `captures/`).
#[test]
#[ignore = "needs ../shared/captures-public and ../shared/captures-realworld"]
fn fast_path_agrees_with_decode_on_every_shared_frame() {
    let cfg = DecodeConfig::default();
    let mut quick = 0;
    for dir in ["captures-public", "captures-realworld"] {
        let rd = std::fs::read_dir(crate::shared(dir, "")).expect(dir);
        for entry in rd.filter_map(Result::ok) {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["pcap", "pcapng", "cap"].contains(&ext) {
                continue;
            }
            let mut ifaces = tuntrace::iface::IfaceTable::new();
            let _ =
                tuntrace::sources::file::read_file(&path, &Default::default(), &mut ifaces, |f| {
                    if let Some(q) = tuntrace::decode::quick_frame(f.data, f.linktype, &cfg) {
                        quick += 1;
                        let d = decode_frame(f.data, f.linktype, &cfg);
                        assert_eq!(q.kind(), d.kind, "{}", path.display());
                    }
                });
        }
    }
    assert!(quick > 1000, "the fast path took only {quick} frames");
}
