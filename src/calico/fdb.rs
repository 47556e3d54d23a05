//! VXLAN peers: Calico routes a remote block `via <peer VTEP address> dev
//! vxlan.calico`, so `ip route get` of that address only names the VXLAN
//! device. The underlay node address comes from two tables Felix programs:
//! the neighbour entry (VTEP address → VTEP MAC) and the bridge FDB entry
//! (VTEP MAC → node address), both read here over rtnetlink.

use std::io;
use std::net::IpAddr;

use super::host::{attrs, ip_from, NlSocket, NLM_F_DUMP, NLM_F_REQUEST};

const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
/// `struct ndmsg`: family, pads, ifindex, state, flags, type.
const NDMSG_LEN: usize = 12;

/// One neighbour / FDB entry: interface, address, link-layer address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Neigh {
    ifindex: u32,
    dst: Option<IpAddr>,
    lladdr: Vec<u8>,
}

fn parse_neigh(p: &[u8]) -> Option<Neigh> {
    let head = p.get(..NDMSG_LEN)?;
    let family = head[0];
    let ifindex = u32::from_ne_bytes([head[4], head[5], head[6], head[7]]);
    let mut n = Neigh {
        ifindex,
        dst: None,
        lladdr: Vec::new(),
    };
    for (t, v) in attrs(&p[NDMSG_LEN..]) {
        match t {
            // FDB entries (AF_BRIDGE) carry an AF_INET/AF_INET6 NDA_DST: judge by length.
            NDA_DST => {
                let fam = match (family, v.len()) {
                    (_, 4) => libc::AF_INET as u8,
                    (_, 16) => libc::AF_INET6 as u8,
                    (f, _) => f,
                };
                n.dst = ip_from(fam, v);
            }
            NDA_LLADDR => n.lladdr = v.to_vec(),
            _ => {}
        }
    }
    Some(n)
}

fn dump(sock: &mut NlSocket, family: i32) -> io::Result<Vec<Neigh>> {
    let mut body = [0u8; NDMSG_LEN];
    body[0] = family as u8;
    let msgs = sock.request(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
    Ok(msgs
        .iter()
        .filter(|m| m.ty == RTM_NEWNEIGH)
        .filter_map(|m| parse_neigh(&m.payload))
        .collect())
}

/// The underlay address behind VTEP `vtep` on VXLAN device `ifindex`, from
/// the neighbour table and the bridge FDB; `None` when either is missing.
pub fn vxlan_underlay(ifindex: u32, vtep: IpAddr) -> io::Result<Option<IpAddr>> {
    let mut sock = NlSocket::open()?;
    let family = match vtep {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    let Some(mac) = dump(&mut sock, family)?
        .into_iter()
        .find(|n| n.ifindex == ifindex && n.dst == Some(vtep) && !n.lladdr.is_empty())
        .map(|n| n.lladdr)
    else {
        return Ok(None);
    };
    Ok(dump(&mut sock, libc::AF_BRIDGE)?
        .into_iter()
        .find(|n| n.ifindex == ifindex && n.lladdr == mac && n.dst.is_some())
        .and_then(|n| n.dst))
}

#[cfg(test)]
mod tests {
    use super::super::host::push_attr;
    use super::*;

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
}
