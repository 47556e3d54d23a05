//! The host as the kernel describes it, behind [`HostInfo`]: links,
//! addresses, routes and neighbours in kernel dump order, and the rule that
//! turns one address entry into what Calico records. `cmd` passes the real
//! kernel (`os::netlink`); tests pass a fake. The UDP-connect lookup behind
//! `can-reach=` is [`SystemResolver`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

use ipnet::IpNet;

use super::autodetect::{Family, Host, HostIface, Resolver};
use super::version::CalicoVersion;

/// The kernel's address, route and neighbour entries, as `os::netlink`
/// reads them (plain data: a fake host builds them by hand).
pub use crate::os::netlink::{Address as AddrEntry, Neighbour as NeighEntry, Route as RouteEntry};

/// Which neighbour table to dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighTable {
    V4,
    V6,
    /// The bridge FDB (VXLAN: VTEP MAC → node address).
    Bridge,
}

/// What Calico's code reads from the kernel, so autodetection and `routes`
/// run on a fake host in tests.
pub trait HostInfo {
    /// Every link as (ifindex, name), in `ip link` order.
    fn links(&self) -> io::Result<Vec<(u32, String)>>;
    /// Every address of every family, in dump order (Calico dumps them all
    /// and keeps a version by Go's rule).
    fn addresses(&self) -> io::Result<Vec<AddrEntry>>;
    /// Every route of `family`, all tables, in dump order.
    fn routes(&self, family: Family) -> io::Result<Vec<RouteEntry>>;
    /// The kernel's answer to `ip route get <dst>`.
    fn route_get(&self, dst: IpAddr) -> io::Result<RouteEntry>;
    /// Every entry of a neighbour table.
    fn neighbours(&self, table: NeighTable) -> io::Result<Vec<NeighEntry>>;
}

fn full_mask(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// The address Calico records for one dump entry.
///
/// * v3.32 and later (vishvananda/netlink `parseAddr`): with IFA_LOCAL, an
///   IPv4 entry whose IFA_ADDRESS is the same address keeps the prefix
///   length; any other entry with IFA_LOCAL (a point-to-point address, IPv4
///   or IPv6) is the local address with a full mask. Without IFA_LOCAL,
///   IFA_ADDRESS with the prefix length.
/// * before (Go's `net` package, `newAddr`): IFA_LOCAL when present, else
///   IFA_ADDRESS, always with the prefix length.
pub fn calico_address(e: &AddrEntry, version: CalicoVersion) -> Option<IpNet> {
    let (ip, len) = match (e.local, e.address) {
        (Some(local), address) if version.full_mask_on_point_to_point() => {
            if local.is_ipv4() && address == Some(local) {
                (local, e.prefix_len)
            } else {
                (local, full_mask(local))
            }
        }
        (Some(local), _) => (local, e.prefix_len),
        (None, Some(address)) => (address, e.prefix_len),
        (None, None) => return None,
    };
    IpNet::new(ip, len).ok()
}

/// Reads the host: interfaces in `ip link` order, each with its addresses
/// in kernel order (`ip addr show dev X` order) as `version` of Calico
/// records them, only `family` (by [`Family::matches`]) when given.
/// Interfaces without addresses are kept (Calico counts them).
pub fn read_host(
    info: &dyn HostInfo,
    family: Option<Family>,
    version: CalicoVersion,
) -> io::Result<Host> {
    let links = info.links()?;
    let mut by_index: HashMap<u32, Vec<IpNet>> = HashMap::new();
    // Calico dumps every family and keeps those of the wanted version by
    // Go's rule, so an IPv4-mapped IPv6 address counts as IPv4.
    for e in info.addresses()? {
        let Some(net) = calico_address(&e, version) else {
            continue;
        };
        if family.is_some_and(|f| !f.matches(net.addr())) {
            continue;
        }
        by_index.entry(e.index).or_default().push(net);
    }
    let ifaces = links
        .into_iter()
        .map(|(index, name)| HostIface {
            addrs: by_index.remove(&index).unwrap_or_default(),
            name,
            index,
        })
        .collect();
    Ok(Host { ifaces })
}

/// The real host's route lookup: connect a UDP socket to `(dest, 80)` and
/// read its local address. A UDP connect sends no packet.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

/// Destination addresses for `dest` in `family`, as Go's `net.Dial("udpN",
/// "[dest]:80")` would try them: an IP literal as is (a zone allowed on
/// IPv6), an empty host as the loopback address, otherwise a DNS name
/// resolved to that family only. A port in `dest` fails.
fn destinations(dest: &str, family: Family) -> Result<Vec<SocketAddr>, String> {
    if dest.is_empty() {
        let ip = match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        return Ok(vec![SocketAddr::new(ip, 80)]);
    }
    if let Ok(ip) = dest.parse::<IpAddr>() {
        return if family.matches(ip) {
            Ok(vec![SocketAddr::new(ip.to_canonical(), 80)])
        } else {
            Err(format!("{dest} is not an {family} address"))
        };
    }
    let zoned_v6 = dest
        .split_once('%')
        .is_some_and(|(a, z)| !z.is_empty() && a.parse::<Ipv6Addr>().is_ok());
    if !zoned_v6 && dest.contains([':', '[', ']', '/', ' ', '%']) {
        return Err(format!(
            "{dest:?} is neither an IP address nor a host name (a port is not allowed: \
             Calico dials [{dest}]:80)"
        ));
    }
    let resolved = (dest, 80u16)
        .to_socket_addrs()
        .map_err(|e| format!("lookup {dest}: {e}"))?;
    let addrs: Vec<SocketAddr> = resolved
        .filter(|sa| family.matches(sa.ip()))
        .map(|sa| match sa {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
                None => sa,
            },
            SocketAddr::V4(_) => sa,
        })
        .collect();
    if addrs.is_empty() {
        return Err(format!("lookup {dest}: no {family} address"));
    }
    Ok(addrs)
}

impl Resolver for SystemResolver {
    fn route_source(&self, dest: &str, family: Family) -> Result<IpAddr, String> {
        let mut last = String::from("no address to try");
        for target in destinations(dest, family)? {
            let bind: SocketAddr = match target {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let sock = match UdpSocket::bind(bind) {
                Ok(s) => s,
                Err(e) => {
                    last = format!("bind {bind}: {e}");
                    continue;
                }
            };
            if let Err(e) = sock.connect(target) {
                last = format!("dial udp{} {target}: {e}", family.version());
                continue;
            }
            match sock.local_addr() {
                Ok(local) if !local.ip().is_unspecified() => return Ok(local.ip().to_canonical()),
                Ok(_) => last = format!("no address detected by connecting to {dest}"),
                Err(e) => last = format!("local address: {e}"),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calico::version::CURRENT;

    fn entry(address: Option<&str>, local: Option<&str>, prefix_len: u8) -> AddrEntry {
        AddrEntry {
            index: 2,
            prefix_len,
            address: address.map(|a| a.parse().unwrap()),
            local: local.map(|a| a.parse().unwrap()),
        }
    }

    #[test]
    fn point_to_point_addresses_by_version() {
        let v331 = CalicoVersion::new(3, 31);
        let net = |s: &str| Some(s.parse::<IpNet>().unwrap());
        // ip addr add 10.0.0.1 peer 10.0.0.2/24
        let p2p = entry(Some("10.0.0.2"), Some("10.0.0.1"), 24);
        assert_eq!(calico_address(&p2p, CURRENT), net("10.0.0.1/32"));
        assert_eq!(calico_address(&p2p, v331), net("10.0.0.1/24"));
        // ip -6 addr add fd00::1 peer fd00::2/64
        let p2p6 = entry(Some("fd00::2"), Some("fd00::1"), 64);
        assert_eq!(calico_address(&p2p6, CURRENT), net("fd00::1/128"));
        assert_eq!(calico_address(&p2p6, v331), net("fd00::1/64"));
        // Ordinary addresses: IPv4 sends both (equal), IPv6 only IFA_ADDRESS.
        let plain = entry(Some("10.0.0.1"), Some("10.0.0.1"), 24);
        assert_eq!(calico_address(&plain, CURRENT), net("10.0.0.1/24"));
        let plain6 = entry(Some("fd00::1"), None, 64);
        assert_eq!(calico_address(&plain6, CURRENT), net("fd00::1/64"));
        assert_eq!(calico_address(&entry(None, None, 8), CURRENT), None);
    }

    struct Fake;

    impl HostInfo for Fake {
        fn links(&self) -> io::Result<Vec<(u32, String)>> {
            Ok(vec![
                (1, "lo".into()),
                (2, "ppp0".into()),
                (3, "eth0".into()),
            ])
        }
        fn addresses(&self) -> io::Result<Vec<AddrEntry>> {
            Ok(vec![
                entry(Some("10.0.0.2"), Some("10.0.0.1"), 24),
                AddrEntry {
                    index: 3,
                    ..entry(Some("192.168.1.5"), Some("192.168.1.5"), 24)
                },
                AddrEntry {
                    index: 3,
                    ..entry(Some("fd00::5"), None, 64)
                },
            ])
        }
        fn routes(&self, _family: Family) -> io::Result<Vec<RouteEntry>> {
            Ok(Vec::new())
        }
        fn route_get(&self, dst: IpAddr) -> io::Result<RouteEntry> {
            Err(io::Error::other(format!("no route to {dst}")))
        }
        fn neighbours(&self, _table: NeighTable) -> io::Result<Vec<NeighEntry>> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn read_host_groups_by_link_in_link_order() {
        let h = read_host(&Fake, Some(Family::V4), CURRENT).unwrap();
        let got: Vec<(String, Vec<String>)> = h
            .ifaces
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.addrs.iter().map(|a| a.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("lo".to_string(), vec![]),
                ("ppp0".to_string(), vec!["10.0.0.1/32".to_string()]),
                ("eth0".to_string(), vec!["192.168.1.5/24".to_string()]),
            ]
        );
        let old = read_host(&Fake, None, CalicoVersion::new(3, 31)).unwrap();
        assert_eq!(old.ifaces[1].addrs[0].to_string(), "10.0.0.1/24");
        assert_eq!(old.ifaces[2].addrs.len(), 2);
    }

    #[test]
    fn destinations_like_go_dial() {
        assert!(destinations("1.2.3.4:53", Family::V4).is_err());
        assert!(destinations("[::1]", Family::V6).is_err());
        assert!(destinations("::1", Family::V4).is_err());
        assert!(destinations("1.2.3.4", Family::V6).is_err());
        assert!(destinations("a b", Family::V4).is_err());
        assert_eq!(
            destinations("", Family::V4).unwrap(),
            vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            destinations("8.8.8.8", Family::V4).unwrap(),
            vec!["8.8.8.8:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            destinations("::ffff:8.8.8.8", Family::V4).unwrap(),
            vec!["8.8.8.8:80".parse::<SocketAddr>().unwrap()]
        );
    }
}
