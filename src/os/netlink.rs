//! The kernel's routing netlink (NETLINK_ROUTE): links, addresses, routes,
//! neighbours and the route lookup, returned as plain data in dump order.
//!
//! `netlink-sys` owns the socket and `netlink-packet-route` builds and
//! parses the messages, so this file has no `unsafe` and no attribute
//! walking of its own. One socket per query; it works in whatever network
//! namespace the calling thread is in (so under `ip netns exec` too). A dump
//! entry the parser rejects is skipped, never trusted; a dump the kernel
//! flags as interrupted (the table changed meanwhile) is retried.

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTIPART,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteVia};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// Largest datagram accepted from the kernel.
const MAX_DATAGRAM: usize = 1 << 20;
/// Upper bound on the messages one request may produce.
const MAX_MESSAGES: usize = 1 << 20;
/// Retries of a dump the kernel flagged as interrupted.
const DUMP_RETRIES: usize = 5;
/// `struct nlmsghdr` length.
const NLMSG_HDRLEN: usize = 16;

/// An address family to dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Af {
    All,
    V4,
    V6,
    /// The bridge FDB (neighbour dumps only).
    Bridge,
}

impl Af {
    fn family(self) -> AddressFamily {
        match self {
            Af::All => AddressFamily::Unspec,
            Af::V4 => AddressFamily::Inet,
            Af::V6 => AddressFamily::Inet6,
            Af::Bridge => AddressFamily::Bridge,
        }
    }
}

/// One RTM_NEWADDR entry: IFA_ADDRESS (the peer on a point-to-point
/// address), IFA_LOCAL and the prefix length, as the kernel sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub prefix_len: u8,
    pub address: Option<IpAddr>,
    pub local: Option<IpAddr>,
}

/// One RTM_NEWROUTE entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination (0.0.0.0/0 or ::/0 when the kernel sends none).
    pub dst: Option<IpNet>,
    /// RTA_TABLE when present, else the header's table.
    pub table: u32,
    /// rtm_protocol (12 = BIRD, 80 = Felix, 4 = static, 3 = boot).
    pub proto: u8,
    /// rtm_type (1 = unicast).
    pub kind: u8,
    pub priority: u32,
    pub prefsrc: Option<IpAddr>,
    /// (output ifindex, gateway) per next hop; one for a single-path route.
    pub hops: Vec<(Option<u32>, Option<IpAddr>)>,
}

/// One RTM_NEWNEIGH entry (neighbour or bridge FDB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub ifindex: u32,
    pub dst: Option<IpAddr>,
    pub lladdr: Vec<u8>,
}

/// The real kernel, reached over NETLINK_ROUTE.
#[derive(Debug, Clone, Copy, Default)]
pub struct Netlink;

impl Netlink {
    /// Every link as (ifindex, name), in RTM_GETLINK dump order.
    pub fn links(&self) -> io::Result<Vec<(u32, String)>> {
        let msgs = request(RouteNetlinkMessage::GetLink(LinkMessage::default()), true)?;
        let mut out: Vec<(u32, String)> = Vec::new();
        for m in msgs {
            let RouteNetlinkMessage::NewLink(l) = m else {
                continue;
            };
            let name = l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            });
            let index = l.header.index;
            if let Some(name) = name {
                if !out.iter().any(|(i, _)| *i == index) {
                    out.push((index, name));
                }
            }
        }
        Ok(out)
    }

    /// Every address of `af`, in RTM_GETADDR dump order.
    pub fn addresses(&self, af: Af) -> io::Result<Vec<Address>> {
        let mut req = AddressMessage::default();
        req.header.family = af.family();
        let msgs = request(RouteNetlinkMessage::GetAddress(req), true)?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Some(address_of(&a)),
                _ => None,
            })
            .collect())
    }

    /// Every route of `af` (all tables), in RTM_GETROUTE dump order.
    pub fn routes(&self, af: Af) -> io::Result<Vec<Route>> {
        let mut req = RouteMessage::default();
        req.header.address_family = af.family();
        let msgs = request(RouteNetlinkMessage::GetRoute(req), true)?;
        let wanted = |f: AddressFamily| af == Af::All || f == af.family();
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) if wanted(r.header.address_family) => route_of(&r),
                _ => None,
            })
            .collect())
    }

    /// The kernel's answer to `ip route get <dst>`; fails with the kernel's
    /// error (e.g. ENETUNREACH).
    pub fn route_get(&self, dst: IpAddr) -> io::Result<Route> {
        let mut req = RouteMessage::default();
        let (af, len) = match dst {
            IpAddr::V4(_) => (AddressFamily::Inet, 32),
            IpAddr::V6(_) => (AddressFamily::Inet6, 128),
        };
        req.header.address_family = af;
        req.header.destination_prefix_length = len;
        req.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        let msgs = request(RouteNetlinkMessage::GetRoute(req), false)?;
        msgs.into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => route_of(&r),
                _ => None,
            })
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("no route answer for {dst}"),
                )
            })
    }

    /// Every neighbour entry of `af` (`Af::Bridge`: the bridge FDB).
    pub fn neighbours(&self, af: Af) -> io::Result<Vec<Neighbour>> {
        let mut req = NeighbourMessage::default();
        req.header.family = af.family();
        let msgs = request(RouteNetlinkMessage::GetNeighbour(req), true)?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => Some(neighbour_of(&n)),
                _ => None,
            })
            .collect())
    }
}

fn address_of(a: &AddressMessage) -> Address {
    let mut out = Address {
        index: a.header.index,
        prefix_len: a.header.prefix_len,
        address: None,
        local: None,
    };
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Address(ip) => out.address = Some(*ip),
            AddressAttribute::Local(ip) => out.local = Some(*ip),
            _ => {}
        }
    }
    out
}

fn route_address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A gateway from RTA_GATEWAY or RTA_VIA.
fn gateway_of(attrs: &[RouteAttribute]) -> Option<IpAddr> {
    attrs.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => route_address(g),
        RouteAttribute::Via(RouteVia::Inet(v4)) => Some(IpAddr::V4(*v4)),
        RouteAttribute::Via(RouteVia::Inet6(v6)) => Some(IpAddr::V6(*v6)),
        _ => None,
    })
}

fn route_of(r: &RouteMessage) -> Option<Route> {
    let h = &r.header;
    let mut out = Route {
        dst: None,
        table: u32::from(h.table),
        proto: u8::from(h.protocol),
        kind: u8::from(h.kind),
        priority: 0,
        prefsrc: None,
        hops: Vec::new(),
    };
    let mut oif = None;
    let mut dst_ip = None;
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(d) => dst_ip = route_address(d),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(p) => out.priority = *p,
            RouteAttribute::PrefSource(s) => out.prefsrc = route_address(s),
            RouteAttribute::Table(t) => out.table = *t,
            RouteAttribute::MultiPath(hops) => {
                for hop in hops {
                    out.hops
                        .push((Some(hop.interface_index), gateway_of(&hop.attributes)));
                }
            }
            _ => {}
        }
    }
    let (dst, plen) = match dst_ip {
        Some(ip) => (ip, h.destination_prefix_length),
        None => match h.address_family {
            AddressFamily::Inet => (IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
            AddressFamily::Inet6 => (IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
            _ => return None,
        },
    };
    out.dst = IpNet::new(dst, plen).ok();
    if out.hops.is_empty() {
        out.hops.push((oif, gateway_of(&r.attributes)));
    }
    Some(out)
}

fn neighbour_of(n: &NeighbourMessage) -> Neighbour {
    let mut out = Neighbour {
        ifindex: n.header.ifindex,
        dst: None,
        lladdr: Vec::new(),
    };
    for a in &n.attributes {
        match a {
            NeighbourAttribute::Destination(d) => {
                out.dst = match d {
                    NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
                    NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
                    // FDB entries (AF_BRIDGE) carry an IPv4 or IPv6 NDA_DST:
                    // judge by length.
                    NeighbourAddress::Other(b) => match b.len() {
                        4 => <[u8; 4]>::try_from(b.as_slice()).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from),
                        _ => None,
                    },
                    _ => None,
                }
            }
            NeighbourAttribute::LinkLayerAddress(l) => out.lladdr = l.clone(),
            _ => {}
        }
    }
    out
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Sends `msg` and collects the replies, retrying a dump the kernel flags
/// as interrupted.
fn request(msg: RouteNetlinkMessage, dump: bool) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut last = Vec::new();
    for _ in 0..DUMP_RETRIES {
        let (msgs, interrupted) = request_once(msg.clone(), dump)?;
        if !interrupted {
            return Ok(msgs);
        }
        last = msgs;
    }
    Ok(last)
}

/// One datagram from the kernel, sized with MSG_PEEK|MSG_TRUNC first and
/// refused past [`MAX_DATAGRAM`]. Datagrams not from the kernel are dropped.
fn recv_datagram(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<()> {
    loop {
        buf.clear();
        let size = match sock.recv_from(buf, libc::MSG_PEEK | libc::MSG_TRUNC) {
            Ok((size, _)) => size,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if size > MAX_DATAGRAM {
            return Err(other(format!(
                "netlink datagram of {size} bytes is too large"
            )));
        }
        buf.clear();
        buf.reserve(size);
        match sock.recv_from(buf, 0) {
            Ok((_, from)) if from.port_number() == 0 => return Ok(()),
            // Not from the kernel: dropped.
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends a request and reads until NLMSG_DONE (dump) or the answer (and its
/// ACK, if any). An NLMSG_ERROR with a code becomes that `io::Error`.
fn request_once(
    msg: RouteNetlinkMessage,
    dump: bool,
) -> io::Result<(Vec<RouteNetlinkMessage>, bool)> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    const SEQ: u32 = 1;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
    header.sequence_number = SEQ;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut out_buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut out_buf);
    sock.send(&out_buf, 0)?;

    let mut out = Vec::new();
    let mut interrupted = false;
    let mut buf = Vec::new();
    loop {
        recv_datagram(&sock, &mut buf)?;
        if buf.is_empty() {
            return Err(other("empty netlink datagram"));
        }
        let mut at = 0;
        while at + NLMSG_HDRLEN <= buf.len() {
            let len = buf
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, |b| u32::from_ne_bytes(b) as usize);
            if len < NLMSG_HDRLEN || at + len > buf.len() {
                break;
            }
            let bytes = &buf[at..at + len];
            at += (len + 3) & !3;
            let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes);
            let m = match parsed {
                Ok(m) => m,
                // An entry of a dump the parser rejects is skipped; a single
                // answer that cannot be read is an error (never a hang).
                Err(_) if dump => continue,
                Err(e) => return Err(other(format!("unreadable netlink answer: {e}"))),
            };
            if m.header.sequence_number != SEQ {
                continue;
            }
            if m.header.flags & NLM_F_DUMP_INTR != 0 {
                interrupted = true;
            }
            let multipart = m.header.flags & NLM_F_MULTIPART != 0;
            match m.payload {
                NetlinkPayload::Done(_) => return Ok((out, interrupted)),
                NetlinkPayload::Error(e) => {
                    if e.code.is_some() {
                        return Err(e.to_io());
                    }
                    // An ACK ends a non-dump request.
                    return Ok((out, interrupted));
                }
                NetlinkPayload::Overrun(_) => return Err(other("netlink overrun")),
                NetlinkPayload::InnerMessage(inner) => {
                    if out.len() >= MAX_MESSAGES {
                        return Err(other("too many netlink messages"));
                    }
                    out.push(inner);
                    if !dump && !multipart {
                        return Ok((out, interrupted));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Parseable;

    const RTA_DST: u16 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_GATEWAY: u16 = 5;
    const RTA_MULTIPATH: u16 = 9;
    const RTA_TABLE: u16 = 15;
    const RTN_UNICAST: u8 = 1;
    const NDA_DST: u16 = 1;
    const NDA_LLADDR: u16 = 2;

    /// Appends a route attribute (type, value) with padding, as the kernel
    /// lays it out.
    fn push_attr(buf: &mut Vec<u8>, ty: u16, value: &[u8]) {
        let len = 4 + value.len();
        buf.extend_from_slice(&(len as u16).to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(value);
        buf.resize((buf.len() + 3) & !3, 0);
    }

    fn parse_route(payload: &[u8]) -> Option<Route> {
        route_of(&RouteMessage::parse(payload).ok()?)
    }

    fn parse_neigh(payload: &[u8]) -> Option<Neighbour> {
        Some(neighbour_of(&NeighbourMessage::parse(payload).ok()?))
    }

    fn route_msg(dst: [u8; 4], plen: u8, oif: u32, gw: [u8; 4]) -> Vec<u8> {
        let mut b = vec![
            libc::AF_INET as u8,
            plen,
            0,
            0,
            254,
            80,
            0,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        push_attr(&mut b, RTA_TABLE, &254u32.to_ne_bytes());
        push_attr(&mut b, RTA_DST, &dst);
        push_attr(&mut b, RTA_GATEWAY, &gw);
        push_attr(&mut b, RTA_OIF, &oif.to_ne_bytes());
        b
    }

    #[test]
    fn parses_a_tunnel_route() {
        let r = parse_route(&route_msg([10, 244, 5, 0], 26, 7, [192, 168, 1, 2])).unwrap();
        assert_eq!(r.dst, Some("10.244.5.0/26".parse().unwrap()));
        assert_eq!(r.table, 254);
        assert_eq!(r.proto, 80);
        assert_eq!(r.kind, RTN_UNICAST);
        assert_eq!(
            r.hops,
            vec![(Some(7), Some("192.168.1.2".parse().unwrap()))]
        );
    }

    #[test]
    fn parses_multipath() {
        let mut b = vec![
            libc::AF_INET as u8,
            24,
            0,
            0,
            254,
            12,
            0,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        push_attr(&mut b, RTA_DST, &[10, 1, 2, 0]);
        let mut mp = Vec::new();
        for (ifindex, gw) in [(3u32, [10, 0, 0, 1]), (4, [10, 0, 1, 1])] {
            let mut hop = vec![0u8; 8];
            push_attr(&mut hop, RTA_GATEWAY, &gw);
            let len = hop.len() as u16;
            hop[..2].copy_from_slice(&len.to_ne_bytes());
            hop[4..8].copy_from_slice(&ifindex.to_ne_bytes());
            mp.extend(hop);
        }
        push_attr(&mut b, RTA_MULTIPATH, &mp);
        let r = parse_route(&b).unwrap();
        assert_eq!(r.hops.len(), 2);
        assert_eq!(r.hops[1], (Some(4), Some("10.0.1.1".parse().unwrap())));
    }

    #[test]
    fn odd_messages_do_not_panic() {
        assert!(parse_route(&[]).is_none());
        assert!(parse_route(&[99; 12]).is_none());
        let mut b = route_msg([10, 0, 0, 0], 8, 1, [1, 1, 1, 1]);
        b.truncate(b.len() - 3);
        let _ = parse_route(&b);
        assert!(parse_neigh(&[7; 5]).is_none());
    }

    #[test]
    fn parses_an_fdb_entry() {
        let mut b = vec![libc::AF_BRIDGE as u8, 0, 0, 0];
        b.extend_from_slice(&7u32.to_ne_bytes());
        b.extend_from_slice(&[0x80, 0, 2, 0]);
        push_attr(&mut b, NDA_LLADDR, &[0x66, 0xee, 0xee, 0, 0, 0x48]);
        push_attr(&mut b, NDA_DST, &[192, 168, 30, 72]);
        let n = parse_neigh(&b).unwrap();
        assert_eq!(n.ifindex, 7);
        assert_eq!(n.dst, Some("192.168.30.72".parse().unwrap()));
        assert_eq!(n.lladdr.len(), 6);
        assert_eq!(parse_neigh(&b[..5]), None);
    }

    #[test]
    fn point_to_point_address_keeps_both_ends() {
        // RTM_NEWADDR for `ip addr add 10.0.0.1 peer 10.0.0.2/24 dev X`.
        let mut b = vec![libc::AF_INET as u8, 24, 0x80, 0];
        b.extend_from_slice(&5u32.to_ne_bytes());
        push_attr(&mut b, 1, &[10, 0, 0, 2]);
        push_attr(&mut b, 2, &[10, 0, 0, 1]);
        let a = address_of(&AddressMessage::parse(b.as_slice()).unwrap());
        assert_eq!(
            a,
            Address {
                index: 5,
                prefix_len: 24,
                address: Some("10.0.0.2".parse().unwrap()),
                local: Some("10.0.0.1".parse().unwrap()),
            }
        );
    }
}
