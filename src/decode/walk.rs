//! The tunnel walk: outer IP → tunnel header → inner frame → inner IP → ...
//!
//! A loop bounded by `DecodeConfig::max_depth`, never recursion: hostile
//! nests (40 × IPIP) cost at most that many header reads.

use std::net::IpAddr;

use super::ip::Protocol;
use super::link::{self, ethertype, Network};
use super::{
    geneve, gre, icmp, ipv4, ipv6, udp, vxlan, DecodeConfig, DecodeError, Encap, Fragment, Inner,
    Kind, Layer, Plain, Reason, Tunnel,
};

/// One IP header, either version, reduced to what the walk needs.
struct Ip<'a> {
    v6: bool,
    src: IpAddr,
    dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    proto: u8,
    payload: &'a [u8],
    fragment: Fragment,
    /// The IPv6 extension-header chain ran out of captured bytes.
    chain_cut: bool,
    total_len: u32,
    df: bool,
}

impl<'a> Ip<'a> {
    /// `None` for a frame that is not IP at all.
    #[inline]
    fn of(network: Network<'a>) -> Option<Result<Self, Reason>> {
        match network {
            Network::Ipv4(b) => Some(Self::v4(b)),
            Network::Ipv6(b) => Some(Self::v6(b)),
            Network::NotIp => None,
        }
    }

    #[inline]
    fn v4(b: &'a [u8]) -> Result<Self, Reason> {
        let p = ipv4::Packet::new_checked(b)?;
        Ok(Ip {
            v6: false,
            src: IpAddr::V4(p.src_addr()),
            dst: IpAddr::V4(p.dst_addr()),
            proto: p.protocol(),
            payload: p.payload(),
            fragment: p.fragment(),
            chain_cut: false,
            total_len: p.packet_len(),
            df: p.dont_fragment(),
        })
    }

    #[inline]
    fn v6(b: &'a [u8]) -> Result<Self, Reason> {
        let p = ipv6::Packet::new_checked(b)?;
        let up = p.upper();
        Ok(Ip {
            v6: true,
            src: IpAddr::V6(p.src_addr()),
            dst: IpAddr::V6(p.dst_addr()),
            proto: up.proto,
            payload: up.payload,
            fragment: up.fragment,
            chain_cut: up.truncated,
            total_len: p.packet_len(),
            df: false,
        })
    }
}

/// What a tunnel header says comes next.
enum Next<'a> {
    /// A frame named by EtherType (0x6558: Ethernet; 0x0800 / 0x86DD: IP).
    Frame(u16, &'a [u8]),
    /// Nothing further to decode, with the reason when it is an error.
    Stop(Option<DecodeError>),
}

/// One tunnel layer.
struct Hop<'a> {
    encap: Encap,
    vni: Option<u32>,
    next: Next<'a>,
}

#[inline]
fn tunnel_stop(reason: Reason) -> Next<'static> {
    Next::Stop(Some(DecodeError::new(Layer::Tunnel, reason)))
}

/// The encapsulation an IP protocol number alone announces.
#[inline]
fn encap_by_proto(v6: bool, proto: u8) -> Option<Encap> {
    Some(match (Protocol::from(proto), v6) {
        (Protocol::Ipv4, false) => Encap::Ipip,
        (Protocol::Ipv4, true) => Encap::Ip4in6,
        (Protocol::Ipv6, false) => Encap::Ip6in4,
        (Protocol::Ipv6, true) => Encap::Ip6in6,
        (Protocol::Gre, _) => Encap::Gre,
        _ => return None,
    })
}

/// Is this IP packet a tunnel, and what does it carry? `None`: not a tunnel.
///
/// Inlined for the IPIP / 6in4 fast path; GRE and UDP stay out of line.
#[inline(always)]
fn tunnel<'a>(ip: &Ip<'a>, cfg: &DecodeConfig) -> Option<Hop<'a>> {
    let ip_in_ip = |encap, et| {
        Some(Hop {
            encap,
            vni: None,
            next: Next::Frame(et, ip.payload),
        })
    };
    match Protocol::from(ip.proto) {
        Protocol::Ipv4 if ip.v6 => ip_in_ip(Encap::Ip4in6, ethertype::IPV4),
        Protocol::Ipv4 => ip_in_ip(Encap::Ipip, ethertype::IPV4),
        Protocol::Ipv6 if ip.v6 => ip_in_ip(Encap::Ip6in6, ethertype::IPV6),
        Protocol::Ipv6 => ip_in_ip(Encap::Ip6in4, ethertype::IPV6),
        Protocol::Gre => Some(gre_hop(ip.payload)),
        Protocol::Udp => udp_hop(ip.payload, cfg),
        _ => None,
    }
}

#[inline(never)]
fn gre_hop(b: &[u8]) -> Hop<'_> {
    let (vni, next) = match gre::Packet::new_checked(b) {
        Err(r) => (None, tunnel_stop(r)),
        Ok(p) => match p.inner() {
            Ok((et, bytes)) => (p.key(), Next::Frame(et, bytes)),
            Err(r) => (p.key(), tunnel_stop(r)),
        },
    };
    Hop {
        encap: Encap::Gre,
        vni,
        next,
    }
}

/// VXLAN or Geneve by destination port. A header that is cut still counts
/// (the port said so); one that is clearly something else does not.
#[inline(never)]
fn udp_hop<'a>(b: &'a [u8], cfg: &DecodeConfig) -> Option<Hop<'a>> {
    let u = udp::Packet::new_checked(b).ok()?;
    let port = u.dst_port();
    if cfg.vxlan_ports.contains(&port) {
        let (vni, next) = match vxlan::Packet::new_checked(u.payload()) {
            Err(r) => (None, tunnel_stop(r)),
            Ok(v) if !v.vni_valid() => return None,
            Ok(v) => (Some(v.vni()), Next::Frame(ethertype::TEB, v.payload())),
        };
        Some(Hop {
            encap: Encap::Vxlan,
            vni,
            next,
        })
    } else if cfg.geneve_ports.contains(&port) {
        let (vni, next) = match geneve::Packet::new_checked(u.payload()) {
            Err(r) => (None, tunnel_stop(r)),
            Ok(g) if g.version() != 0 => return None,
            Ok(g) => match g.payload() {
                Ok(p) => (Some(g.vni()), Next::Frame(g.protocol(), p)),
                Err(r) => (Some(g.vni()), tunnel_stop(r)),
            },
        };
        Some(Hop {
            encap: Encap::Geneve,
            vni,
            next,
        })
    } else {
        None
    }
}

/// An inner frame named by EtherType, down to its network layer.
#[inline]
fn resolve(et: u16, bytes: &[u8]) -> Result<Network<'_>, Reason> {
    if et == ethertype::TEB {
        link::ethernet(bytes)
    } else {
        link::by_ethertype(et, bytes)
    }
}

/// Classifies the network layer of a frame: not IP, undecodable, plain IP
/// or a tunnel walked as far as the bytes and `cfg.max_depth` allow.
///
/// Writes into `out` (the caller's batch slot) and builds the tunnel there,
/// so the ~90-byte result is never copied on the hot path.
#[inline]
pub(super) fn walk(network: Network<'_>, cfg: &DecodeConfig, out: &mut Kind) {
    let outer = match Ip::of(network) {
        None => {
            *out = Kind::NotIp;
            return;
        }
        Some(Err(r)) => {
            *out = Kind::Undecodable(DecodeError::new(Layer::OuterIp, r));
            return;
        }
        Some(Ok(ip)) => ip,
    };
    let hop = if outer.chain_cut {
        None
    } else if outer.fragment == Fragment::Later {
        // No tunnel header to read: only the protocol number can say so.
        encap_by_proto(outer.v6, outer.proto).map(|encap| Hop {
            encap,
            vni: None,
            next: Next::Stop(None),
        })
    } else {
        tunnel(&outer, cfg)
    };
    let Some(hop) = hop else {
        let icmp = matches!(outer.proto, icmp::PROTO_ICMP | icmp::PROTO_ICMPV6)
            && outer.fragment != Fragment::Later;
        *out = Kind::Plain(Plain {
            src: outer.src,
            dst: outer.dst,
            proto: outer.proto,
            too_big: if icmp {
                icmp::too_big(outer.proto, outer.payload, cfg)
            } else {
                None
            },
        });
        return;
    };
    *out = Kind::Tunnel(Tunnel {
        encap: hop.encap,
        outer_src: outer.src,
        outer_dst: outer.dst,
        vni: hop.vni,
        fragment: outer.fragment,
        outer_ip_len: outer.total_len,
        outer_df: outer.df,
        inner: None,
        depth: 1,
        stop: None,
    });
    let Kind::Tunnel(t) = out else {
        return; // just written: never taken
    };
    let mut next = hop.next;
    loop {
        let (et, bytes) = match next {
            Next::Frame(et, bytes) => (et, bytes),
            Next::Stop(stop) => {
                t.stop = stop;
                break;
            }
        };
        let network = match resolve(et, bytes) {
            Ok(n) => n,
            Err(r) => {
                t.stop = Some(DecodeError::new(Layer::InnerLink, r));
                break;
            }
        };
        let ip = match Ip::of(network) {
            None => break,
            Some(Err(r)) => {
                t.stop = Some(DecodeError::new(Layer::InnerIp, r));
                break;
            }
            Some(Ok(ip)) => ip,
        };
        t.inner = Some(Inner {
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
        });
        if ip.chain_cut {
            t.stop = Some(DecodeError::new(Layer::InnerIp, Reason::Truncated));
            break;
        }
        if ip.fragment == Fragment::Later {
            break;
        }
        let Some(hop) = tunnel(&ip, cfg) else {
            break;
        };
        if t.depth >= cfg.max_depth {
            t.stop = Some(DecodeError::new(Layer::Tunnel, Reason::DepthLimit));
            break;
        }
        t.depth += 1;
        next = hop.next;
    }
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;
