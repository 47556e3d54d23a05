//! Tests of the tunnel walk on synthetic frames: every encapsulation, cuts,
//! fragments, nests, link types, and a noise/mutation sweep.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::super::{decode_frame, Decoded};
use super::*;
use crate::linktype::LinkType;
use crate::synth;

const N1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const N2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);
const P1: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 5);
const P2: Ipv4Addr = Ipv4Addr::new(10, 244, 2, 7);
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn cfg() -> DecodeConfig {
    DecodeConfig::default()
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    synth::ethernet(MAC, MAC, ethertype, payload)
}

fn eth4(payload: &[u8]) -> Vec<u8> {
    eth(0x0800, payload)
}

fn decode(f: &[u8]) -> Kind {
    decode_frame(f, LinkType::ETHERNET, &cfg()).kind
}

fn tunnel_of(f: &[u8]) -> Tunnel {
    match decode(f) {
        Kind::Tunnel(t) => t,
        other => panic!("not a tunnel: {other:?}"),
    }
}

fn inner(src: impl Into<IpAddr>, dst: impl Into<IpAddr>, proto: u8) -> Option<Inner> {
    Some(Inner {
        src: src.into(),
        dst: dst.into(),
        proto,
    })
}

fn err(layer: Layer, reason: Reason) -> Option<DecodeError> {
    Some(DecodeError::new(layer, reason))
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Ethernet + IPv4 + UDP to `port` + `payload`.
fn udp_frame(port: u16, payload: &[u8]) -> Vec<u8> {
    eth4(&synth::ipv4(N1, N2, 17, &synth::udp(40000, port, payload)))
}

fn inner_eth_ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    eth4(&synth::ipv4(src, dst, proto, payload))
}

#[test]
fn calico_ipip() {
    let f = synth::calico_ipip_frame(N1, N2, P1, P2, 56);
    let t = tunnel_of(&f);
    assert_eq!(
        t,
        Tunnel {
            encap: Encap::Ipip,
            outer_src: N1.into(),
            outer_dst: N2.into(),
            vni: None,
            fragment: Fragment::Whole,
            outer_ip_len: 20 + 20 + 8 + 56,
            outer_df: true,
            inner: inner(P1, P2, 1),
            depth: 1,
            stop: None,
        }
    );
}

#[test]
fn snaplen_cuts() {
    let f = synth::calico_ipip_frame(N1, N2, P1, P2, 1400);
    // 14 + 20 + 20: the inner pair is there, the rest is not needed.
    let t = tunnel_of(&f[..54]);
    assert_eq!(
        (t.inner, t.stop, t.outer_ip_len),
        (inner(P1, P2, 1), None, 1448)
    );
    let t = tunnel_of(&f[..53]);
    assert_eq!(
        (t.inner, t.stop),
        (None, err(Layer::InnerIp, Reason::Truncated))
    );
    let t = tunnel_of(&f[..34]);
    assert_eq!(
        (t.inner, t.stop),
        (None, err(Layer::InnerIp, Reason::Truncated))
    );
    assert_eq!(
        decode(&f[..33]),
        Kind::Undecodable(DecodeError::new(Layer::OuterIp, Reason::Truncated))
    );
    assert_eq!(
        decode(&f[..13]),
        Kind::Undecodable(DecodeError::new(Layer::Link, Reason::Truncated))
    );
}

fn ipip_nest(levels: usize) -> (Vec<u8>, Vec<(Ipv4Addr, Ipv4Addr)>) {
    let pair = |i: usize| {
        let b = (i % 250) as u8;
        (Ipv4Addr::new(10, 0, b, 1), Ipv4Addr::new(10, 0, b, 2))
    };
    let (s, d) = pair(levels);
    let mut pkt = synth::ipv4(s, d, 17, &synth::udp(1, 2, &[]));
    for i in (0..levels).rev() {
        let (s, d) = pair(i);
        pkt = synth::ipv4(s, d, 4, &pkt);
    }
    ((eth4(&pkt)), (0..=levels).map(pair).collect())
}

#[test]
fn deep_ipip_nest_stops_at_max_depth() {
    let (f, pairs) = ipip_nest(40);
    let t = tunnel_of(&f);
    assert_eq!(t.depth, 8);
    assert_eq!(
        (t.outer_src, t.outer_dst),
        (pairs[0].0.into(), pairs[0].1.into())
    );
    assert_eq!(t.inner, inner(pairs[8].0, pairs[8].1, 4));
    assert_eq!(t.stop, err(Layer::Tunnel, Reason::DepthLimit));
    // Exactly at the bound: no stop.
    let (f, pairs) = ipip_nest(8);
    let t = tunnel_of(&f);
    assert_eq!((t.depth, t.stop), (8, None));
    assert_eq!(t.inner, inner(pairs[8].0, pairs[8].1, 17));
    // A smaller bound from the config.
    let small = DecodeConfig {
        max_depth: 2,
        ..cfg()
    };
    let (f, pairs) = ipip_nest(5);
    let Kind::Tunnel(t) = decode_frame(&f, LinkType::ETHERNET, &small).kind else {
        panic!()
    };
    assert_eq!((t.depth, t.inner), (2, inner(pairs[2].0, pairs[2].1, 4)));
}

#[test]
fn inner_version_must_match() {
    let mut ip = synth::ipv4(P1, P2, 17, &[]);
    ip[0] = 0x55;
    let t = tunnel_of(&eth4(&synth::ipv4(N1, N2, 4, &ip)));
    assert_eq!(
        (t.inner, t.stop),
        (None, err(Layer::InnerIp, Reason::Malformed))
    );
    ip[0] = 0xc5;
    let t = tunnel_of(&eth4(&synth::ipv4(N1, N2, 4, &ip)));
    assert_eq!(
        (t.inner, t.stop),
        (None, err(Layer::InnerIp, Reason::Malformed))
    );
    // 6in4 needs version 6.
    let t = tunnel_of(&eth4(&synth::ipv4(N1, N2, 41, &ip)));
    assert_eq!((t.encap, t.inner), (Encap::Ip6in4, None));
    assert_eq!(t.stop, err(Layer::InnerIp, Reason::Malformed));
}

#[test]
fn outer_fragments() {
    // GRE -> IPv4 split so the first fragment holds 12 inner bytes.
    let inner_ip = synth::ipv4(P1, P2, 17, &[0; 20]);
    let outer = synth::ipv4(N1, N2, 47, &synth::gre(0x0800, None, &inner_ip));
    let frags = synth::fragment_ipv4(&outer, 36);
    let t = tunnel_of(&eth4(&frags[0]));
    assert_eq!((t.encap, t.fragment), (Encap::Gre, Fragment::First));
    assert_eq!(
        (t.inner, t.stop),
        (None, err(Layer::InnerIp, Reason::Truncated))
    );
    let t = tunnel_of(&eth4(&frags[1]));
    assert_eq!(
        (t.encap, t.fragment, t.inner, t.stop),
        (Encap::Gre, Fragment::Later, None, None)
    );
    assert_eq!(t.vni, None);
    // A first fragment that holds the inner header decodes it.
    let frags = synth::fragment_ipv4(&outer, 60);
    let t = tunnel_of(&eth4(&frags[0]));
    assert_eq!((t.fragment, t.inner), (Fragment::First, inner(P1, P2, 17)));
    // A later fragment of UDP is plain: no UDP header to see.
    let vx = synth::ipv4(N1, N2, 17, &synth::udp(1, 4789, &synth::vxlan(1, &[0; 64])));
    let frags = synth::fragment_ipv4(&vx, 60);
    assert!(matches!(decode(&eth4(&frags[0])), Kind::Tunnel(_)));
    assert_eq!(
        decode(&eth4(&frags[1])),
        Kind::Plain(Plain {
            src: N1.into(),
            dst: N2.into(),
            proto: 17,
            too_big: None
        })
    );
}

#[test]
fn nested_later_fragment_stops_with_its_pair() {
    let inner_ip = synth::ipv4(P1, P2, 47, &[0; 40]);
    let later = synth::fragment_ipv4(&inner_ip, 36).pop().unwrap();
    let t = tunnel_of(&eth4(&synth::ipv4(N1, N2, 4, &later)));
    assert_eq!((t.depth, t.inner, t.stop), (1, inner(P1, P2, 47), None));
}

#[test]
fn ipv6_outer_tunnels() {
    let (s, d) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let four = synth::ipv4(P1, P2, 6, &[]);
    let f = eth(0x86DD, &synth::ipv6(s, d, 4, &four));
    let t = tunnel_of(&f);
    assert_eq!(
        (t.encap, t.inner, t.outer_ip_len, t.outer_df),
        (Encap::Ip4in6, inner(P1, P2, 6), 60, false)
    );
    let six = synth::ipv6(v6("fd00::1"), v6("fd00::2"), 58, &[]);
    let t = tunnel_of(&eth(0x86DD, &synth::ipv6(s, d, 41, &six)));
    assert_eq!(
        (t.encap, t.inner),
        (Encap::Ip6in6, inner(v6("fd00::1"), v6("fd00::2"), 58))
    );
    // Behind a destination-options header and a first fragment header.
    let mut chain = vec![44, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 1, 0, 0, 0, 9];
    chain.extend_from_slice(&four);
    let t = tunnel_of(&eth(0x86DD, &synth::ipv6(s, d, 60, &chain)));
    assert_eq!(
        (t.encap, t.fragment, t.inner),
        (Encap::Ip4in6, Fragment::First, inner(P1, P2, 6))
    );
    // A later IPv6 fragment of next-header 41.
    let later = [41, 0, 0, 0x10, 0, 0, 0, 9, 0xde, 0xad];
    let t = tunnel_of(&eth(0x86DD, &synth::ipv6(s, d, 44, &later)));
    assert_eq!(
        (t.encap, t.fragment, t.inner, t.stop),
        (Encap::Ip6in6, Fragment::Later, None, None)
    );
    // A cut extension chain on the outer header: plain, as far as seen.
    let f = eth(0x86DD, &synth::ipv6(s, d, 60, &[4, 3, 0, 0]));
    assert!(matches!(decode(&f), Kind::Plain(Plain { proto: 60, .. })));
}

#[test]
fn vxlan_ports_and_flags() {
    let inner_frame = inner_eth_ipv4(P1, P2, 1, &[0; 8]);
    for port in [4789, 8472] {
        let t = tunnel_of(&udp_frame(port, &synth::vxlan(100, &inner_frame)));
        assert_eq!(
            (t.encap, t.vni, t.inner),
            (Encap::Vxlan, Some(100), inner(P1, P2, 1))
        );
    }
    // Not a VXLAN port, and a clearly-not-VXLAN header on one: plain.
    assert!(matches!(
        decode(&udp_frame(4790, &synth::vxlan(1, &inner_frame))),
        Kind::Plain(_)
    ));
    let mut bogus = synth::vxlan(1, &inner_frame);
    bogus[0] = 0;
    assert!(matches!(decode(&udp_frame(4789, &bogus)), Kind::Plain(_)));
    // A custom port.
    let custom = DecodeConfig {
        vxlan_ports: vec![9999],
        ..cfg()
    };
    let f = udp_frame(9999, &synth::vxlan(7, &inner_frame));
    assert!(matches!(
        decode_frame(&f, LinkType::ETHERNET, &custom).kind,
        Kind::Tunnel(Tunnel { vni: Some(7), .. })
    ));
    // Header cut by the snaplen: still VXLAN by port, no VNI.
    let f = udp_frame(4789, &synth::vxlan(7, &[]));
    let t = tunnel_of(&f[..f.len() - 2]);
    assert_eq!(
        (t.vni, t.stop),
        (None, err(Layer::Tunnel, Reason::Truncated))
    );
    // Inner frame cut inside its Ethernet header.
    let f = udp_frame(4789, &synth::vxlan(7, &inner_frame[..10]));
    assert_eq!(tunnel_of(&f).stop, err(Layer::InnerLink, Reason::Truncated));
}

#[test]
fn big_tcp_frames_keep_their_tunnel_and_length() {
    // IPv6 payload length 0 without a Jumbo option, as Linux hands BIG
    // TCP / GSO frames to taps (tcpdump's bigtcp-ipv6-geneve-ipv4.pcap).
    let inner_frame = inner_eth_ipv4(P1, P2, 6, &[0; 100]);
    let geneve = synth::geneve(5001, 0x6558, 0, &inner_frame);
    let (s, d) = (v6("2001:db8::b"), v6("2001:db8::d"));
    let mut six = synth::ipv6(s, d, 17, &synth::udp(1, 6081, &geneve));
    six[4..6].copy_from_slice(&[0, 0]);
    let t = tunnel_of(&eth(0x86DD, &six));
    assert_eq!(
        (t.encap, t.vni, t.inner, t.outer_ip_len),
        (
            Encap::Geneve,
            Some(5001),
            inner(P1, P2, 6),
            six.len() as u32
        )
    );
    // IPv4 total length 0: the tunnel was read before; its length is
    // the captured one now, not 0.
    let mut four = synth::ipv4(N1, N2, 4, &synth::ipv4(P1, P2, 6, &[0; 100]));
    four[2..4].copy_from_slice(&[0, 0]);
    let t = tunnel_of(&eth4(&four));
    assert_eq!((t.inner, t.outer_ip_len), (inner(P1, P2, 6), 140));
}

/// A PPPoE session header (session 7) with a PPP protocol, then `payload`.
fn pppoe(ppp_protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x11, 0, 0, 7];
    f.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
    f.extend_from_slice(&ppp_protocol.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn pppoe_sessions_carry_ip_and_tunnels() {
    let six = synth::ipv6(v6("2002::1"), v6("2001:db8::2"), 17, &[]);
    let sixin4 = synth::ipv4(N1, N2, 41, &six);
    let t = tunnel_of(&eth(0x8864, &pppoe(0x0021, &sixin4)));
    assert_eq!(
        (t.encap, t.outer_src, t.inner),
        (
            Encap::Ip6in4,
            N1.into(),
            inner(v6("2002::1"), v6("2001:db8::2"), 17)
        )
    );
    // Behind a VLAN tag, with Ethernet padding after a short packet.
    let mut f = eth(0x8100, &synth::vlan(7, 0x8864, &pppoe(0x0057, &six)));
    f.extend_from_slice(&[0; 6]);
    assert!(matches!(
        decode(&f),
        Kind::Plain(Plain {
            proto: 17,
            src: IpAddr::V6(_),
            ..
        })
    ));
}

#[test]
fn unread_link_protocols_are_named_stops() {
    let link = |reason| Kind::Undecodable(DecodeError::new(Layer::Link, reason));
    let ip = synth::ipv4(N1, N2, 4, &synth::ipv4(P1, P2, 6, &[]));
    assert_eq!(
        decode(&eth(0x8864, &pppoe(0xc021, &[1, 2, 3, 4]))),
        link(Reason::PppNotIp)
    );
    assert_eq!(
        decode(&eth(0x8863, &[0x11, 0x09, 0, 0, 0, 0])),
        link(Reason::PppoeDiscovery)
    );
    assert_eq!(decode(&eth(0x894F, &ip)), link(Reason::Nsh));
    assert_eq!(decode(&eth(0x8909, &ip)), link(Reason::CiscoMetadata));
    assert_eq!(decode(&eth(0x8864, &[0x11, 0])), link(Reason::Truncated));
    // Inside a tunnel: the tunnel counts, the stop says why no pair.
    let t = tunnel_of(&udp_frame(4789, &synth::vxlan(3, &eth(0x894F, &ip))));
    assert_eq!(
        (t.vni, t.inner, t.stop),
        (Some(3), None, err(Layer::InnerLink, Reason::Nsh))
    );
}

#[test]
fn vxlan_carrying_arp_has_no_pair() {
    let arp = eth(0x0806, &[0; 28]);
    let t = tunnel_of(&udp_frame(4789, &synth::vxlan(100, &arp)));
    assert_eq!((t.vni, t.inner, t.stop), (Some(100), None, None));
}

#[test]
fn vxlan_triple_keeps_outermost_vni() {
    let mut f = inner_eth_ipv4(
        Ipv4Addr::new(4, 4, 4, 4),
        Ipv4Addr::new(4, 4, 4, 9),
        17,
        &synth::udp(1, 53, &[]),
    );
    for (i, vni) in [(3u8, 30), (2, 20)] {
        let pkt = synth::ipv4(
            Ipv4Addr::new(i, i, i, i),
            Ipv4Addr::new(i, i, i, 9),
            17,
            &synth::udp(1, 4789, &synth::vxlan(vni, &f)),
        );
        f = eth4(&pkt);
    }
    let t = tunnel_of(&udp_frame(4789, &synth::vxlan(10, &f)));
    assert_eq!((t.depth, t.vni), (3, Some(10)));
    assert_eq!(
        t.inner,
        inner(Ipv4Addr::new(4, 4, 4, 4), Ipv4Addr::new(4, 4, 4, 9), 17)
    );
}

#[test]
fn geneve_variants() {
    let six = synth::ipv6(v6("fd00::1"), v6("fd00::2"), 17, &[]);
    let f = udp_frame(6081, &synth::geneve(0x123456, 0x86DD, 8, &six));
    let t = tunnel_of(&f);
    assert_eq!((t.encap, t.vni), (Encap::Geneve, Some(0x123456)));
    assert_eq!(t.inner, inner(v6("fd00::1"), v6("fd00::2"), 17));
    let eth_in = inner_eth_ipv4(P1, P2, 6, &[]);
    let t = tunnel_of(&udp_frame(6081, &synth::geneve(0xa, 0x6558, 0, &eth_in)));
    assert_eq!((t.vni, t.inner), (Some(0xa), inner(P1, P2, 6)));
    // Version 1 is not Geneve.
    let mut g = synth::geneve(1, 0x6558, 0, &eth_in);
    g[0] |= 0x40;
    assert!(matches!(decode(&udp_frame(6081, &g)), Kind::Plain(_)));
    // Options cut: the VNI is known, the walk stops in the tunnel header.
    let f = udp_frame(6081, &synth::geneve(5, 0x6558, 16, &[]));
    let t = tunnel_of(&f[..f.len() - 4]);
    assert_eq!(
        (t.vni, t.stop),
        (Some(5), err(Layer::Tunnel, Reason::Truncated))
    );
}

#[test]
fn gre_variants() {
    let inner_ip = synth::ipv4(P1, P2, 1, &[]);
    let t = tunnel_of(&eth4(&synth::ipv4(
        N1,
        N2,
        47,
        &synth::gre(0x0800, Some(0x28), &inner_ip),
    )));
    assert_eq!(
        (t.encap, t.vni, t.inner),
        (Encap::Gre, Some(0x28), inner(P1, P2, 1))
    );
    // Transparent Ethernet bridging, with a VLAN tag inside.
    let tagged = eth(0x8100, &synth::vlan(5, 0x0800, &inner_ip));
    let t = tunnel_of(&eth4(&synth::ipv4(
        N1,
        N2,
        47,
        &synth::gre(0x6558, None, &tagged),
    )));
    assert_eq!((t.vni, t.inner), (None, inner(P1, P2, 1)));
    // GRE in GRE, keepalive-like protocol 0 inside.
    let keepalive = synth::ipv4(P1, P2, 47, &synth::gre(0, None, &[]));
    let t = tunnel_of(&eth4(&synth::ipv4(
        N1,
        N2,
        47,
        &synth::gre(0x0800, Some(1), &keepalive),
    )));
    assert_eq!(
        (t.depth, t.vni, t.inner, t.stop),
        (2, Some(1), inner(P1, P2, 47), None)
    );
    // Unknown protocol: a tunnel with nothing to decode inside.
    let t = tunnel_of(&eth4(&synth::ipv4(
        N1,
        N2,
        47,
        &synth::gre(0x2000, None, &[1, 2]),
    )));
    assert_eq!((t.inner, t.stop), (None, None));
    // Header cut.
    let t = tunnel_of(&eth4(&synth::ipv4(N1, N2, 47, &[0x20, 0, 8])));
    assert_eq!(
        (t.vni, t.stop),
        (None, err(Layer::Tunnel, Reason::Truncated))
    );
}

#[test]
fn plain_and_not_ip() {
    let f = udp_frame(53, &[0; 12]);
    assert_eq!(
        decode(&f),
        Kind::Plain(Plain {
            src: N1.into(),
            dst: N2.into(),
            proto: 17,
            too_big: None
        })
    );
    // UDP header cut: still plain.
    let ip = synth::ipv4(N1, N2, 17, &[0, 1, 0x12]);
    assert!(matches!(decode(&eth4(&ip)), Kind::Plain(_)));
    assert_eq!(decode(&eth(0x0806, &[0; 28])), Kind::NotIp);
    assert_eq!(decode(&eth(0x88cc, &[0; 28])), Kind::NotIp);
    // Ethernet padding after a short packet is ignored.
    let mut f = eth4(&synth::ipv4(N1, N2, 4, &[]));
    f.resize(60, 0x45);
    let t = tunnel_of(&f);
    assert_eq!(
        (t.inner, t.stop),
        (None, err(Layer::InnerIp, Reason::Truncated))
    );
}

#[test]
fn link_types_carry_the_same_tunnel() {
    let f = synth::calico_ipip_frame(N1, N2, P1, P2, 8);
    let ip = &f[14..];
    let want = tunnel_of(&f);
    let cases: Vec<(LinkType, Vec<u8>)> = vec![
        (LinkType::RAW, ip.to_vec()),
        (LinkType::RAW_12, ip.to_vec()),
        (LinkType::RAW_14, ip.to_vec()),
        (LinkType::IPV4, ip.to_vec()),
        (LinkType::LINUX_SLL, synth::sll(0x0800, ip)),
        (LinkType::NULL, synth::null_loopback(2, false, ip)),
        (LinkType::LOOP, synth::null_loopback(2, true, ip)),
    ];
    for (lt, data) in cases {
        assert_eq!(
            decode_frame(&data, lt, &cfg()),
            Decoded {
                sll2_ifindex: None,
                kind: Kind::Tunnel(want)
            },
            "{lt:?}"
        );
    }
    let d = decode_frame(&synth::sll2(42, 0x0800, ip), LinkType::LINUX_SLL2, &cfg());
    assert_eq!(
        d,
        Decoded {
            sll2_ifindex: Some(42),
            kind: Kind::Tunnel(want)
        }
    );
    // The ifindex survives an unreadable IP header.
    let d = decode_frame(
        &synth::sll2(42, 0x0800, &ip[..10]),
        LinkType::LINUX_SLL2,
        &cfg(),
    );
    assert_eq!(d.sll2_ifindex, Some(42));
    assert!(matches!(d.kind, Kind::Undecodable(_)));
    let d = decode_frame(&f, LinkType(105), &cfg());
    assert_eq!(
        d.kind,
        Kind::Undecodable(DecodeError::new(Layer::Link, Reason::UnsupportedLinkType))
    );
}

/// Small deterministic generator: no dependency, same cases every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let inner_eth = inner_eth_ipv4(P1, P2, 17, &synth::udp(1, 2, &[0; 8]));
    let six = synth::ipv6(
        v6("fd00::1"),
        v6("fd00::2"),
        41,
        &synth::ipv6(v6("::1"), v6("::2"), 4, &synth::ipv4(P1, P2, 1, &[])),
    );
    let pptp = {
        let mut g = vec![
            0x30, 0x01, 0x88, 0x0b, 0x00, 0x18, 0x00, 0x06, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21,
        ];
        g.extend_from_slice(&synth::ipv4(P1, P2, 17, &[]));
        g
    };
    let erspan3 = {
        let mut g = vec![
            0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        g.extend_from_slice(&[0; 8]);
        g.extend_from_slice(&inner_eth);
        g
    };
    let mpls = {
        let mut m = vec![0, 0x10, 0x01, 64];
        m.extend_from_slice(&synth::ipv4(N1, N2, 4, &synth::ipv4(P1, P2, 6, &[])));
        eth(0x8847, &m)
    };
    vec![
        synth::calico_ipip_frame(N1, N2, P1, P2, 16),
        ipip_nest(12).0,
        udp_frame(4789, &synth::vxlan(1, &inner_eth)),
        udp_frame(6081, &synth::geneve(2, 0x6558, 8, &inner_eth)),
        udp_frame(6081, &synth::geneve(2, 0x86DD, 0, &six)),
        eth4(&synth::ipv4(
            N1,
            N2,
            47,
            &synth::gre(0x6558, Some(3), &inner_eth),
        )),
        eth4(&synth::ipv4(N1, N2, 47, &pptp)),
        eth4(&synth::ipv4(N1, N2, 47, &erspan3)),
        eth(0x86DD, &six),
        eth(
            0x8100,
            &synth::vlan(
                1,
                0x88a8,
                &synth::vlan(
                    2,
                    0x0800,
                    &synth::ipv4(N1, N2, 4, &synth::ipv4(P1, P2, 6, &[])),
                ),
            ),
        ),
        mpls,
    ]
}

const ALL_LINK_TYPES: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

fn check_invariants(d: &Decoded, cfg: &DecodeConfig) {
    if let Kind::Tunnel(t) = d.kind {
        assert!(t.depth >= 1 && t.depth <= cfg.max_depth.max(1), "{t:?}");
        if t.fragment == Fragment::Later {
            assert_eq!((t.inner, t.stop, t.depth), (None, None, 1), "{t:?}");
        }
    }
}

#[test]
fn never_panics_on_truncations_mutations_and_noise() {
    let cfg = cfg();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut inputs = Vec::new();
    for frame in corpus() {
        // The same network bytes behind every link header.
        let ip = frame[14..].to_vec();
        for f in [
            frame.clone(),
            ip.clone(),
            synth::sll(0x0800, &ip),
            synth::sll2(1, 0x86DD, &ip),
            synth::null_loopback(2, false, &ip),
        ] {
            for cut in 0..=f.len() {
                inputs.push(f[..cut].to_vec());
            }
            for _ in 0..300 {
                let mut m = f.clone();
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() % m.len() as u64) as usize;
                    m[at] = rng.next() as u8;
                }
                let cut = (rng.next() % (m.len() as u64 + 1)) as usize;
                m.truncate(cut.max(m.len() / 2));
                inputs.push(m);
            }
        }
    }
    for _ in 0..3000 {
        let len = (rng.next() % 160) as usize;
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
    }
    for data in &inputs {
        for lt in ALL_LINK_TYPES {
            check_invariants(&decode_frame(data, lt, &cfg), &cfg);
        }
    }
}
