//! Calico's tunnel routes from the kernel (RTM_GETROUTE, main table) and
//! the path the kernel takes to each peer (the `ip route get <peer>`
//! answer), for `tuntrace routes`.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::autodetect::Family;
use super::host::{
    attrs, ip_from, links_on, push_attr, u32_at, NlSocket, NLM_F_DUMP, NLM_F_REQUEST,
};

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_VIA: u16 = 18;

const RTN_UNICAST: u8 = 1;
const RT_TABLE_MAIN: u32 = 254;

/// Tunnel devices Calico routes pod blocks over (IPIP, VXLAN v4 and v6).
pub const DEFAULT_TUNNEL_DEVS: &[&str] = &["tunl0", "vxlan.calico", "vxlan-v6.calico"];

/// A route to a remote pod block over a tunnel device:
/// `<block> via <via> dev <dev> proto <proto>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelRoute {
    pub block: IpNet,
    /// The gateway: the peer node address (IPIP) or the peer's VXLAN
    /// tunnel address (VXLAN).
    pub via: IpAddr,
    pub dev: String,
    /// rtm_protocol: 12 = BIRD, 80 = Felix, 4 = static, 3 = boot.
    pub proto: u8,
}

/// How the kernel reaches a peer: the `ip route get <peer>` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerPath {
    pub peer: IpAddr,
    /// The output interface (RTA_OIF).
    pub interface: String,
    /// The source address the kernel would pick (RTA_PREFSRC).
    pub source: Option<IpAddr>,
    /// The next hop, when the peer is not on-link (RTA_GATEWAY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

/// One parsed route message.
#[derive(Debug, Clone)]
struct RouteMsg {
    family: u8,
    dst: Option<IpNet>,
    table: u32,
    proto: u8,
    rtype: u8,
    priority: u32,
    prefsrc: Option<IpAddr>,
    /// (oif, gateway) per next hop; one entry for a single-path route.
    hops: Vec<(Option<u32>, Option<IpAddr>)>,
}

/// A gateway from RTA_GATEWAY (route family) or RTA_VIA (own family).
fn gateway_of(family: u8, a: &[(u16, &[u8])]) -> Option<IpAddr> {
    for (t, v) in a {
        match *t {
            RTA_GATEWAY => return ip_from(family, v),
            RTA_VIA => {
                let fam = u16::from_ne_bytes(v.get(..2)?.try_into().ok()?);
                return ip_from(u8::try_from(fam).ok()?, v.get(2..)?);
            }
            _ => {}
        }
    }
    None
}

fn parse_route(payload: &[u8]) -> Option<RouteMsg> {
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
    // type (u8 each), flags u32.
    let h = payload.get(..12)?;
    let (family, dst_len, table, proto, rtype) = (h[0], h[1], h[4], h[5], h[7]);
    let a = attrs(&payload[12..]);
    let mut r = RouteMsg {
        family,
        dst: None,
        table: u32::from(table),
        proto,
        rtype,
        priority: 0,
        prefsrc: None,
        hops: Vec::new(),
    };
    let mut oif = None;
    let mut dst_ip = None;
    for (t, v) in &a {
        match *t {
            RTA_DST => dst_ip = ip_from(family, v),
            RTA_OIF => oif = u32_at(v, 0),
            RTA_PRIORITY => r.priority = u32_at(v, 0).unwrap_or(0),
            RTA_PREFSRC => r.prefsrc = ip_from(family, v),
            RTA_TABLE => r.table = u32_at(v, 0).unwrap_or(r.table),
            RTA_MULTIPATH => {
                // struct rtnexthop: len u16, flags u8, hops u8, ifindex i32,
                // then attributes up to len.
                let mut at = 0;
                while at + 8 <= v.len() {
                    let len = usize::from(u16::from_ne_bytes([v[at], v[at + 1]]));
                    if len < 8 || at + len > v.len() {
                        break;
                    }
                    let ifindex = u32_at(v, at + 4);
                    let gw = gateway_of(family, &attrs(&v[at + 8..at + len]));
                    r.hops.push((ifindex, gw));
                    at += (len + 3) & !3;
                }
            }
            _ => {}
        }
    }
    let (dst, plen) = match dst_ip {
        Some(ip) => (ip, dst_len),
        None => match i32::from(family) {
            libc::AF_INET => (IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
            libc::AF_INET6 => (IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
            _ => return None,
        },
    };
    r.dst = IpNet::new(dst, plen).ok();
    if r.hops.is_empty() {
        r.hops.push((oif, gateway_of(family, &a)));
    }
    Some(r)
}

/// Every route of `family` (AF_INET/AF_INET6) in the kernel's dump order.
fn dump_routes(sock: &mut NlSocket, af: i32) -> io::Result<Vec<RouteMsg>> {
    let mut body = [0u8; 12];
    body[0] = af as u8;
    let msgs = sock.request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
    Ok(msgs
        .iter()
        .filter(|m| m.ty == RTM_NEWROUTE)
        .filter_map(|m| parse_route(&m.payload))
        .filter(|r| i32::from(r.family) == af)
        .collect())
}

fn link_names(sock: &mut NlSocket) -> io::Result<HashMap<u32, String>> {
    Ok(links_on(sock)?.into_iter().collect())
}

/// Routes in the main table whose output device is one of `devs` (IPv4 and
/// IPv6, kernel order), one entry per matching next hop with a gateway.
/// An empty `devs` means [`DEFAULT_TUNNEL_DEVS`].
pub fn tunnel_routes(devs: &[&str]) -> io::Result<Vec<TunnelRoute>> {
    let devs: &[&str] = if devs.is_empty() {
        DEFAULT_TUNNEL_DEVS
    } else {
        devs
    };
    let mut sock = NlSocket::open()?;
    let names = link_names(&mut sock)?;
    let mut out = Vec::new();
    for af in [libc::AF_INET, libc::AF_INET6] {
        for r in dump_routes(&mut sock, af)? {
            if r.table != RT_TABLE_MAIN || r.rtype != RTN_UNICAST {
                continue;
            }
            let Some(block) = r.dst else { continue };
            for (oif, gw) in &r.hops {
                let (Some(oif), Some(via)) = (oif, gw) else {
                    continue;
                };
                let Some(dev) = names.get(oif) else { continue };
                if devs.contains(&dev.as_str()) {
                    out.push(TunnelRoute {
                        block,
                        via: *via,
                        dev: dev.clone(),
                        proto: r.proto,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The distinct gateways of `routes`, in first-seen order.
pub fn peers(routes: &[TunnelRoute]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for r in routes {
        if !out.contains(&r.via) {
            out.push(r.via);
        }
    }
    out
}

/// The kernel's answer to `ip route get <dst>`: output interface, preferred
/// source and next hop. Fails with the kernel's error (e.g. ENETUNREACH).
pub fn route_get(dst: IpAddr) -> io::Result<PeerPath> {
    let mut sock = NlSocket::open()?;
    let (af, len, bytes): (i32, u8, Vec<u8>) = match dst {
        IpAddr::V4(a) => (libc::AF_INET, 32, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6, 128, a.octets().to_vec()),
    };
    let mut body = vec![0u8; 12];
    body[0] = af as u8;
    body[1] = len;
    push_attr(&mut body, RTA_DST, &bytes);
    let msgs = sock.request(RTM_GETROUTE, NLM_F_REQUEST, &body)?;
    let r = msgs
        .iter()
        .filter(|m| m.ty == RTM_NEWROUTE)
        .find_map(|m| parse_route(&m.payload))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no route answer for {dst}"),
            )
        })?;
    let (oif, gateway) = r.hops.first().copied().unwrap_or((None, None));
    let interface = match oif {
        Some(i) => link_names(&mut sock)?
            .remove(&i)
            .unwrap_or_else(|| format!("ifindex {i}")),
        None => String::new(),
    };
    Ok(PeerPath {
        peer: dst,
        interface,
        source: r.prefsrc,
        gateway,
    })
}

/// The default route's gateway in the main table for `family` (lowest
/// metric first), if there is one.
pub fn default_gateway(family: Family) -> io::Result<Option<IpAddr>> {
    let af = match family {
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    let mut sock = NlSocket::open()?;
    let mut best: Option<(u32, IpAddr)> = None;
    for r in dump_routes(&mut sock, af)? {
        if r.table != RT_TABLE_MAIN || r.rtype != RTN_UNICAST {
            continue;
        }
        if r.dst.map(|d| d.prefix_len()) != Some(0) {
            continue;
        }
        if let Some(gw) = r.hops.iter().find_map(|(_, g)| *g) {
            if best.map_or(true, |(p, _)| r.priority < p) {
                best = Some((r.priority, gw));
            }
        }
    }
    Ok(best.map(|(_, g)| g))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
