//! VXLAN peers: Calico routes a remote block `via <peer VTEP address> dev
//! vxlan.calico`, so `ip route get` of that address only names the VXLAN
//! device. The underlay node address comes from two tables Felix programs:
//! the neighbour entry (VTEP address → VTEP MAC) and the bridge FDB entry
//! (VTEP MAC → node address), both read through [`HostInfo`].

use std::io;
use std::net::IpAddr;

use super::host::{HostInfo, NeighTable};

/// The underlay address behind VTEP `vtep` on VXLAN device `ifindex`, from
/// the neighbour table and the bridge FDB; `None` when either is missing.
pub fn vxlan_underlay(
    host: &dyn HostInfo,
    ifindex: u32,
    vtep: IpAddr,
) -> io::Result<Option<IpAddr>> {
    let table = match vtep {
        IpAddr::V4(_) => NeighTable::V4,
        IpAddr::V6(_) => NeighTable::V6,
    };
    let Some(mac) = host
        .neighbours(table)?
        .into_iter()
        .find(|n| n.ifindex == ifindex && n.dst == Some(vtep) && !n.lladdr.is_empty())
        .map(|n| n.lladdr)
    else {
        return Ok(None);
    };
    Ok(host
        .neighbours(NeighTable::Bridge)?
        .into_iter()
        .find(|n| n.ifindex == ifindex && n.lladdr == mac && n.dst.is_some())
        .and_then(|n| n.dst))
}
