//! `tuntrace routes`: the predicted path. Calico's routes over its tunnel
//! devices (pod block → peer) and, per peer, the NIC and source address the
//! kernel would use (`ip route get`).

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;

use crate::calico::fdb::vxlan_underlay;
use crate::calico::routes::{peers, route_get, tunnel_routes, TunnelRoute};
use crate::cli::{OutFormat, RoutesArgs};
use crate::exit;

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
pub fn predict(devs: &[String]) -> Result<Routes, String> {
    let devs: Vec<&str> = devs.iter().map(String::as_str).collect();
    let routes: Vec<TunnelRoute> = tunnel_routes(&devs)
        .map_err(|e| format!("cannot read the routing table over netlink: {e}"))?;
    let links = crate::calico::host::links().unwrap_or_default();
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
                .and_then(|(idx, _)| vxlan_underlay(*idx, peer).ok().flatten());
            match route_get(underlay.unwrap_or(peer)) {
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
    let r = match predict(&args.devs) {
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

fn table(r: &Routes, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{:<20} {:<18} {:<14} PROTO", "BLOCK", "VIA", "DEV")?;
    for x in &r.routes {
        writeln!(
            out,
            "{:<20} {:<18} {:<14} {}",
            x.block,
            x.via.to_string(),
            x.dev,
            x.proto_name
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<18} {:<14} {:<18} GATEWAY",
        "PEER", "INTERFACE", "SOURCE"
    )?;
    for p in &r.peers {
        let opt = |a: Option<IpAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
        match &p.error {
            Some(e) => writeln!(out, "{:<18} {e}", p.peer.to_string())?,
            None => writeln!(
                out,
                "{:<18} {:<16} {:<14} {:<18} {}",
                p.peer.to_string(),
                p.underlay.unwrap_or(p.peer).to_string(),
                p.interface.as_deref().unwrap_or("-"),
                opt(p.source),
                opt(p.gateway)
            )?,
        }
    }
    Ok(())
}
