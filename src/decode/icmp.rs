//! ICMP "fragmentation needed" (v4 type 3 code 4) and "packet too big" (v6
//! type 2) that quote a tunnel packet: the evidence of an MTU black hole on
//! the underlay. Only called for plain ICMP packets, never on the tunnel path.

use std::net::IpAddr;

use super::{be16, be32, ipv4, ipv6, DecodeConfig, Encap, Fragment};

/// IP protocol number of ICMP, and IPv6 next header of ICMPv6.
pub const PROTO_ICMP: u8 = super::ip::Protocol::Icmp.number();
pub const PROTO_ICMPV6: u8 = super::ip::Protocol::Icmpv6.number();

/// An ICMP too-big error about a tunnel packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TooBig {
    /// Outer source and destination of the quoted (dropped) tunnel packet.
    pub quoted_src: IpAddr,
    pub quoted_dst: IpAddr,
    pub encap: Encap,
    /// The MTU the router reported (0 when it did not say: old routers).
    pub mtu: u32,
}

/// Looks at an ICMP (`proto` 1) or ICMPv6 (`proto` 58) message. `None`
/// unless it is a too-big error quoting a tunnel packet.
#[inline(never)]
pub fn too_big(proto: u8, icmp: &[u8], cfg: &DecodeConfig) -> Option<TooBig> {
    if icmp.len() < 8 {
        return None;
    }
    let (ty, code) = (icmp[0], icmp[1]);
    let (mtu, quoted) = match proto {
        PROTO_ICMP if ty == 3 && code == 4 => (u32::from(be16(icmp, 6)), &icmp[8..]),
        PROTO_ICMPV6 if ty == 2 => (be32(icmp, 4), &icmp[8..]),
        _ => return None,
    };
    let (src, dst, qproto, payload, fragment, v6) = match quoted.first()? >> 4 {
        4 => {
            let p = ipv4::Packet::new_checked(quoted).ok()?;
            (
                IpAddr::V4(p.src_addr()),
                IpAddr::V4(p.dst_addr()),
                p.protocol(),
                p.payload(),
                p.fragment(),
                false,
            )
        }
        6 => {
            let p = ipv6::Packet::new_checked(quoted).ok()?;
            let up = p.upper();
            (
                IpAddr::V6(p.src_addr()),
                IpAddr::V6(p.dst_addr()),
                up.proto,
                up.payload,
                up.fragment,
                true,
            )
        }
        _ => return None,
    };
    let encap = match (qproto, v6) {
        (4, false) => Encap::Ipip,
        (41, false) => Encap::Ip6in4,
        (4, true) => Encap::Ip4in6,
        (41, true) => Encap::Ip6in6,
        (47, _) => Encap::Gre,
        (17, _) if fragment != Fragment::Later && payload.len() >= 4 => {
            let port = be16(payload, 2);
            if cfg.vxlan_ports.contains(&port) {
                Encap::Vxlan
            } else if cfg.geneve_ports.contains(&port) {
                Encap::Geneve
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(TooBig {
        quoted_src: src,
        quoted_dst: dst,
        encap,
        mtu,
    })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::synth;

    const N1: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 71);
    const N2: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 72);

    fn frag_needed(mtu: u16, quoted: &[u8]) -> Vec<u8> {
        let mut m = vec![3, 4, 0, 0, 0, 0];
        m.extend_from_slice(&mtu.to_be_bytes());
        m.extend_from_slice(&quoted[..quoted.len().min(28)]);
        m
    }

    #[test]
    fn v4_frag_needed_quoting_ipip_and_vxlan() {
        let cfg = DecodeConfig::default();
        let ipip = synth::ipv4(N1, N2, 4, &[0x45; 40]);
        let t = too_big(1, &frag_needed(1400, &ipip), &cfg).unwrap();
        assert_eq!(
            (t.quoted_src, t.quoted_dst, t.encap, t.mtu),
            (N1.into(), N2.into(), Encap::Ipip, 1400)
        );
        let vx = synth::ipv4(N1, N2, 17, &synth::udp(1234, 4789, &[0; 30]));
        assert_eq!(
            too_big(1, &frag_needed(1450, &vx), &cfg).unwrap().encap,
            Encap::Vxlan
        );
    }

    #[test]
    fn non_tunnel_quotes_and_other_icmp_are_ignored() {
        let cfg = DecodeConfig::default();
        let dns = synth::ipv4(N1, N2, 17, &synth::udp(1234, 53, &[0; 30]));
        assert_eq!(too_big(1, &frag_needed(1400, &dns), &cfg), None);
        let echo = synth::icmp_echo(1, 1, &[0; 8]);
        assert_eq!(too_big(1, &echo, &cfg), None);
        assert_eq!(too_big(1, &[3, 4, 0], &cfg), None);
        assert_eq!(too_big(1, &[3, 4, 0, 0, 0, 0, 5, 0xdc, 0x45], &cfg), None);
    }

    #[test]
    fn v6_packet_too_big_quoting_ip4in6() {
        let a: Ipv6Addr = "fd00::1".parse().unwrap();
        let b: Ipv6Addr = "fd00::2".parse().unwrap();
        let quoted = synth::ipv6(a, b, 4, &[0x45; 20]);
        let mut m = vec![2, 0, 0, 0, 0, 0, 5, 0];
        m.extend_from_slice(&quoted);
        let t = too_big(58, &m, &DecodeConfig::default()).unwrap();
        assert_eq!(
            (t.encap, t.mtu, t.quoted_dst),
            (Encap::Ip4in6, 1280, IpAddr::V6(b))
        );
    }
}
