//! Calico's tunnel routes (main table) and the path the kernel takes to
//! each peer (the `ip route get <peer>` answer), for `tuntrace routes`, read
//! through [`HostInfo`].

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::autodetect::Family;
use super::host::{HostInfo, RouteEntry};

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

fn link_names(host: &dyn HostInfo) -> io::Result<HashMap<u32, String>> {
    Ok(host.links()?.into_iter().collect())
}

/// Unicast routes of the main table, IPv4 then IPv6, in kernel order.
fn main_unicast(host: &dyn HostInfo, family: Family) -> io::Result<Vec<RouteEntry>> {
    Ok(host
        .routes(family)?
        .into_iter()
        .filter(|r| r.table == RT_TABLE_MAIN && r.kind == RTN_UNICAST)
        .collect())
}

/// Routes in the main table whose output device is one of `devs` (IPv4 and
/// IPv6, kernel order), one entry per matching next hop with a gateway.
/// An empty `devs` means [`DEFAULT_TUNNEL_DEVS`].
pub fn tunnel_routes(host: &dyn HostInfo, devs: &[&str]) -> io::Result<Vec<TunnelRoute>> {
    let devs: &[&str] = if devs.is_empty() {
        DEFAULT_TUNNEL_DEVS
    } else {
        devs
    };
    let names = link_names(host)?;
    let mut out = Vec::new();
    for family in [Family::V4, Family::V6] {
        for r in main_unicast(host, family)? {
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
pub fn route_get(host: &dyn HostInfo, dst: IpAddr) -> io::Result<PeerPath> {
    let r = host.route_get(dst)?;
    let (oif, gateway) = r.hops.first().copied().unwrap_or((None, None));
    let interface = match oif {
        Some(i) => link_names(host)?
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
pub fn default_gateway(host: &dyn HostInfo, family: Family) -> io::Result<Option<IpAddr>> {
    let mut best: Option<(u32, IpAddr)> = None;
    for r in main_unicast(host, family)? {
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
