//! `tuntrace routes`: the predicted path. Calico's routes over its tunnel
//! devices (pod block → peer) and, per peer, the NIC and source address the
//! kernel would use (`ip route get`).

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;

use crate::calico::fdb::vxlan_underlay;
use crate::calico::host::HostInfo;
use crate::calico::routes::{peers, route_get, tunnel_routes, TunnelRoute};
use crate::cli::{OutFormat, RoutesArgs};
use crate::exit;
use crate::os::netlink::Netlink;

/// A tunnel route with its protocol spelled out.
#[derive(Debug, Clone, Serialize)]
pub struct RouteRow {
    pub block: String,
    pub via: IpAddr,
    pub dev: String,
    pub proto: u8,
    /// `bird`, `felix`, `static`, `boot`, or the number.
    pub proto_name: String,
}

/// The kernel's path to one peer, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct PeerRow {
    pub peer: IpAddr,
    /// For a VXLAN peer (a VTEP address): the node address its FDB entry
    /// names; `interface` and `source` are the path to that address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub underlay: Option<IpAddr>,
    pub interface: Option<String>,
    pub source: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    /// Pod blocks routed to this peer.
    pub blocks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Routes {
    pub routes: Vec<RouteRow>,
    pub peers: Vec<PeerRow>,
}

fn proto_name(p: u8) -> String {
    match p {
        3 => "boot".into(),
        4 => "static".into(),
        12 => "bird".into(),
        80 => "felix".into(),
        n => n.to_string(),
    }
}

/// Reads the tunnel routes over `devs` (empty: Calico's) and asks the kernel
/// for each peer's path. A VXLAN peer is a VTEP address whose `route get`
/// names the VXLAN device itself, so its node address is looked up first.
pub fn predict(host: &dyn HostInfo, devs: &[String]) -> Result<Routes, String> {
    let devs: Vec<&str> = devs.iter().map(String::as_str).collect();
    let routes: Vec<TunnelRoute> = tunnel_routes(host, &devs)
        .map_err(|e| format!("cannot read the routing table over netlink: {e}"))?;
    let links = host.links().unwrap_or_default();
    let peer_rows = peers(&routes)
        .into_iter()
        .map(|peer| {
            let blocks = routes
                .iter()
                .filter(|r| r.via == peer)
                .map(|r| r.block.to_string())
                .collect();
            let underlay = routes
                .iter()
                .find(|r| r.via == peer && r.dev.contains("vxlan"))
                .and_then(|r| links.iter().find(|(_, n)| *n == r.dev))
                .and_then(|(idx, _)| vxlan_underlay(host, *idx, peer).ok().flatten());
            match route_get(host, underlay.unwrap_or(peer)) {
                Ok(p) => PeerRow {
                    peer,
                    underlay,
                    interface: Some(p.interface),
                    source: p.source,
                    gateway: p.gateway,
                    blocks,
                    error: None,
                },
                Err(e) => PeerRow {
                    peer,
                    underlay,
                    interface: None,
                    source: None,
                    gateway: None,
                    blocks,
                    error: Some(format!("ip route get {}: {e}", underlay.unwrap_or(peer))),
                },
            }
        })
        .collect();
    Ok(Routes {
        routes: routes
            .into_iter()
            .map(|r| RouteRow {
                block: r.block.to_string(),
                via: r.via,
                proto_name: proto_name(r.proto),
                dev: r.dev,
                proto: r.proto,
            })
            .collect(),
        peers: peer_rows,
    })
}

pub fn run(args: &RoutesArgs) -> u8 {
    // The real kernel; its HostInfo impl sits in cmd::autodetect.
    let r = match predict(&Netlink, &args.devs) {
        Ok(r) => r,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    if r.routes.is_empty() {
        let devs = if args.devs.is_empty() {
            "tunl0, vxlan.calico or vxlan-v6.calico".to_string()
        } else {
            args.devs.join(", ")
        };
        eprintln!("tuntrace: no route with a gateway goes through {devs} here (not a Calico node, or no remote blocks yet)");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        OutFormat::Json => serde_json::to_writer_pretty(&mut out, &r)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out)),
        OutFormat::Table => table(&r, &mut out),
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the routes: {e}"));
            return exit::USAGE;
        }
    }
    exit::OK
}

/// Writes `rows` under `head`, each column as wide as its widest cell, two
/// spaces apart; the last column is not padded. A short row's last cell
/// (a note such as an error) runs on and widens no column.
fn columns(out: &mut dyn Write, head: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        let sized = if r.len() < head.len() {
            r.len().saturating_sub(1)
        } else {
            r.len()
        };
        for (i, cell) in r.iter().take(sized).enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(cell.len());
            }
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> std::io::Result<()> {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == last {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, head)?;
    for r in rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    Ok(())
}

/// The routes table, a blank line, then one row per peer: the peer (route
/// gateway), the node address whose path is shown (the peer itself, or the
/// underlay address behind a VXLAN VTEP), and the kernel's answer. A peer
/// without a path shows why in the INTERFACE column.
fn table(r: &Routes, out: &mut dyn Write) -> std::io::Result<()> {
    let routes: Vec<Vec<String>> = r
        .routes
        .iter()
        .map(|x| {
            vec![
                x.block.clone(),
                x.via.to_string(),
                x.dev.clone(),
                x.proto_name.clone(),
            ]
        })
        .collect();
    columns(out, &["BLOCK", "VIA", "DEV", "PROTO"], &routes)?;
    writeln!(out)?;
    let opt = |a: Option<IpAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let peers: Vec<Vec<String>> = r
        .peers
        .iter()
        .map(|p| {
            let node = p.underlay.unwrap_or(p.peer).to_string();
            match &p.error {
                Some(e) => vec![p.peer.to_string(), node, format!("({e})")],
                None => vec![
                    p.peer.to_string(),
                    node,
                    p.interface.clone().unwrap_or_else(|| "-".into()),
                    opt(p.source),
                    opt(p.gateway),
                ],
            }
        })
        .collect();
    columns(
        out,
        &["PEER", "NODE", "INTERFACE", "SOURCE", "GATEWAY"],
        &peers,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calico::autodetect::Family;
    use crate::calico::host::{AddrEntry, NeighEntry, NeighTable, RouteEntry};
    use std::io;

    const MAC: [u8; 6] = [0x66, 0xee, 0xee, 0, 0, 0x48];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn route(dst: &str, oif: u32, via: &str, proto: u8) -> RouteEntry {
        RouteEntry {
            dst: Some(dst.parse().unwrap()),
            table: 254,
            proto,
            kind: 1,
            priority: 0,
            prefsrc: None,
            hops: vec![(Some(oif), Some(ip(via)))],
        }
    }

    /// A lab node: IPIP to .72, VXLAN to .73 (VTEP 10.244.9.0), and a peer
    /// the kernel has no route to.
    struct Node;

    impl HostInfo for Node {
        fn links(&self) -> io::Result<Vec<(u32, String)>> {
            Ok(["lo", "ens33", "tunl0", "vxlan.calico"]
                .iter()
                .enumerate()
                .map(|(i, n)| (i as u32 + 1, n.to_string()))
                .collect())
        }
        fn addresses(&self) -> io::Result<Vec<AddrEntry>> {
            Ok(Vec::new())
        }
        fn routes(&self, f: Family) -> io::Result<Vec<RouteEntry>> {
            Ok(match f {
                Family::V4 => vec![
                    route("0.0.0.0/0", 2, "192.168.30.2", 3),
                    route("10.244.5.192/26", 3, "192.168.30.72", 12),
                    route("10.244.9.0/26", 4, "10.244.9.0", 80),
                    route("10.244.7.0/26", 3, "172.16.0.9", 12),
                ],
                Family::V6 => Vec::new(),
            })
        }
        fn route_get(&self, dst: IpAddr) -> io::Result<RouteEntry> {
            if dst == ip("172.16.0.9") {
                return Err(io::Error::from_raw_os_error(libc::ENETUNREACH));
            }
            Ok(RouteEntry {
                prefsrc: Some(ip("192.168.30.71")),
                hops: vec![(Some(2), None)],
                ..route(&format!("{dst}/32"), 2, "0.0.0.0", 0)
            })
        }
        fn neighbours(&self, t: NeighTable) -> io::Result<Vec<NeighEntry>> {
            let (dst, mac) = match t {
                NeighTable::V4 => ("10.244.9.0", MAC),
                NeighTable::Bridge => ("192.168.30.73", MAC),
                NeighTable::V6 => return Ok(Vec::new()),
            };
            Ok(vec![NeighEntry {
                ifindex: 4,
                dst: Some(ip(dst)),
                lladdr: mac.to_vec(),
            }])
        }
    }

    fn printed() -> Vec<String> {
        let r = predict(&Node, &[]).unwrap();
        let mut out = Vec::new();
        table(&r, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn predicts_paths_through_a_fake_host() {
        let r = predict(&Node, &[]).unwrap();
        assert_eq!(r.routes.len(), 3, "the default route is not a tunnel route");
        assert_eq!(r.routes[0].proto_name, "bird");
        assert_eq!(r.routes[1].proto_name, "felix");
        let vx = &r.peers[1];
        assert_eq!(vx.peer, ip("10.244.9.0"));
        assert_eq!(vx.underlay, Some(ip("192.168.30.73")));
        assert_eq!(vx.interface.as_deref(), Some("ens33"));
        assert_eq!(r.peers[0].underlay, None);
        assert!(r.peers[2].error.as_deref().unwrap().contains("172.16.0.9"));
    }

    #[test]
    fn route_table_header_and_rows_agree() {
        let lines = printed();
        assert_eq!(
            lines[0],
            "BLOCK            VIA            DEV           PROTO"
        );
        assert_eq!(
            lines[1],
            "10.244.5.192/26  192.168.30.72  tunl0         bird"
        );
        assert_eq!(
            lines[2],
            "10.244.9.0/26    10.244.9.0     vxlan.calico  felix"
        );
        assert_eq!(lines[4], "");
    }

    #[test]
    fn peer_table_has_a_heading_per_value() {
        let lines = printed();
        let head = &lines[5];
        assert_eq!(
            head,
            "PEER           NODE           INTERFACE  SOURCE         GATEWAY"
        );
        // The lab case of issue 8: five values under five headings, each
        // value starting under its heading.
        let ipip = &lines[6];
        assert_eq!(
            ipip,
            "192.168.30.72  192.168.30.72  ens33      192.168.30.71  -"
        );
        for (h, v) in ["NODE", "INTERFACE", "SOURCE", "GATEWAY"].iter().zip([
            "192.168.30.72  ens33",
            "ens33",
            "192.168.30.71",
            "-",
        ]) {
            assert_eq!(head.find(h), ipip.rfind(v), "{h} over {v}");
        }
        assert_eq!(
            lines[7],
            "10.244.9.0     192.168.30.73  ens33      192.168.30.71  -"
        );
        assert!(
            lines[8].starts_with("172.16.0.9     172.16.0.9     (ip route get 172.16.0.9: "),
            "{}",
            lines[8]
        );
    }
}
