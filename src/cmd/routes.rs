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
