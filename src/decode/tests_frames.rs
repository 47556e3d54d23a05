//! Single frames of public pcapng captures, embedded as bytes: cases the
//! walk must get right that no synthetic frame shows as well.

use std::net::IpAddr;

use super::{
    decode_frame, DecodeConfig, DecodeError, Encap, Inner, Kind, Layer, Plain, Reason, Tunnel,
};
use crate::linktype::LinkType;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
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

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn eth(bytes: &str) -> Kind {
    decode_frame(&hex(bytes), LinkType::ETHERNET, &DecodeConfig::default()).kind
}

#[test]
fn pcapplusplus_gre_packets() {
    // Frame 3: GRE (checksum) -> IPv4 -> GRE keepalive.
    let Kind::Tunnel(t) = eth("00010100000200010100000108004500003400010000402f7c987f0000017f0000018000080077ff000045000018b6fd0000402fc5b77f0000017f00000100000000") else {
        panic!()
    };
    assert_eq!(
        (t.depth, t.inner),
        (2, some_inner("127.0.0.1", "127.0.0.1", 47))
    );
    // Frame 5: GRE -> IPv4 -> GRE -> IPv4 RIP.
    let Kind::Tunnel(t) = eth("000ffedd2242001bd5ff54d90800450000645f020000f42fed54566aa49648cd36460000080045c0004c59920000fe2f36190a0a0d020a0a0b020000080045c00034000000000211d1eb03030302e000000902080208002052e10202000000020000c0a80100ffffff000000000000000001") else {
        panic!()
    };
    assert_eq!(outer(&t), (ip("86.106.164.150"), ip("72.205.54.70")));
    assert_eq!(
        (t.depth, t.inner),
        (2, some_inner("3.3.3.2", "224.0.0.9", 17))
    );
    // Frame 6: 802.1Q -> IPv6 -> IPv4 -> GRE v1 -> PPP -> IPv4 DNS.
    let Kind::Tunnel(t) = eth("0c010000613d001906e682c48100006486dd6000000000d204392607fcd00100230000000000b1082a6b2402f00000018e010000000000005555450000d286d74000402f3b8fc034a69a100000c83001880b00b2001100083ab8ff030021450000ae0306000032119d1608080808ac102c0300359f40009abbdaa62c81830001000000010000") else {
        panic!()
    };
    assert_eq!((t.encap, t.depth), (Encap::Ip4in6, 2));
    assert_eq!(t.inner, some_inner("8.8.8.8", "172.16.44.3", 17));
    // Frame 7: keyed GRE, transparent Ethernet bridging.
    let Kind::Tunnel(t) = eth("00aef352aad100021537a24408004500005200010000402f70730102030404030201200065580000fde800010203040500012345567808004500002800010000400666c70a0000040a00000504d0005000000000000000005002200076ba0000") else {
        panic!()
    };
    assert_eq!((t.encap, t.vni), (Encap::Gre, Some(0xfde8)));
    assert_eq!(t.inner, some_inner("10.0.0.4", "10.0.0.5", 6));
}

#[test]
fn zeek_geneve_truncated_before_inner_ethernet() {
    let Kind::Tunnel(t) = eth("001b213cac30001b213cab6408004500002cc473400040114e4b1400000114000002c6d517c1001800000200655800000000000000010000000a") else {
        panic!()
    };
    // 8 bytes of options (tshark: class 0, type 0, data 0000000a), VNI 0,
    // and the capture ends where the inner Ethernet header should start.
    assert_eq!((t.encap, t.vni, t.inner), (Encap::Geneve, Some(0), None));
    assert_eq!(
        t.stop,
        Some(DecodeError::new(Layer::InnerLink, Reason::Truncated))
    );
    assert_eq!(outer(&t), (ip("20.0.0.1"), ip("20.0.0.2")));
}

#[test]
fn pcapplusplus_null_loopback() {
    let f = hex("02000000450000a4c6ce00004011f147c0a8018bffffffff445c445c0090ba03");
    let d = decode_frame(&f, LinkType::NULL, &DecodeConfig::default());
    assert_eq!(
        d.kind,
        Kind::Plain(Plain {
            src: ip("192.168.1.139"),
            dst: ip("255.255.255.255"),
            proto: 17,
            too_big: None
        })
    );
}
