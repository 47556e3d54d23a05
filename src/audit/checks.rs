//! The individual checks. Each appends findings; none needs more than the
//! report and the expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::calico::autodetect::default_exclusion;
use crate::decode::Encap;
use crate::report::{Report, TunnelRow};

use super::{Expect, Finding, FindingKind, Severity};

fn finding(
    kind: FindingKind,
    severity: Severity,
    iface: &str,
    t: &TunnelRow,
    packets: u64,
    detail: String,
) -> Finding {
    Finding {
        kind,
        severity,
        interface: vec![iface.to_string()],
        outer_src: Some(t.outer_src),
        outer_dst: Some(t.outer_dst),
        encap: Some(t.encap),
        packets,
        detail,
        first_seen: Some(t.first_seen.clone()),
    }
}

/// Every (interface, tunnel) of the report.
fn tunnels(r: &Report) -> impl Iterator<Item = (&str, &TunnelRow)> {
    r.links
        .iter()
        .flat_map(|l| l.tunnels.iter().map(move |t| (l.interface.as_str(), t)))
}

/// `--expect-iface`, `--expect-method`, `--expect-cidr`.
pub(super) fn interfaces(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    for (iface, t) in tunnels(r) {
        let pair = format!("{} → {}", e.label(t.outer_src), e.label(t.outer_dst));
        if !e.ifaces.is_empty() && !e.ifaces.iter().any(|x| x == iface) {
            out.push(finding(
                FindingKind::UnexpectedInterface,
                Severity::Error,
                iface,
                t,
                t.packets,
                format!(
                    "{} tunnel {pair} crosses {iface}, but tunnel traffic is expected only on {}",
                    t.encap.as_str(),
                    e.ifaces.join(", ")
                ),
            ));
        }
        if let Some(m) = &e.method {
            let local: Vec<IpAddr> = [t.outer_src, t.outer_dst]
                .into_iter()
                .filter(|a| m.local_addrs.contains(a))
                .collect();
            // Only this node's tunnels on this node's NICs: files may hold other nodes' too.
            let ours = m.local_ifaces.is_empty() || m.local_ifaces.iter().any(|n| n == iface);
            if !local.is_empty() && ours {
                let mut why = Vec::new();
                if iface != m.interface {
                    why.push(format!("it crosses {iface}, not {}", m.interface));
                }
                if !local.contains(&m.address.addr()) {
                    let l: Vec<String> = local.iter().map(|a| a.to_string()).collect();
                    why.push(format!(
                        "its local end is {}, not {}",
                        l.join(" and "),
                        m.address.addr()
                    ));
                }
                if !why.is_empty() {
                    out.push(finding(
                        FindingKind::UnexpectedInterface,
                        Severity::Error,
                        iface,
                        t,
                        t.packets,
                        format!(
                            "{} tunnel {pair}: {}; IP_AUTODETECTION_METHOD={} picks {} {} on this host, \
                             so Calico would put the tunnel there",
                            t.encap.as_str(),
                            why.join(" and "),
                            m.method,
                            m.interface,
                            m.address
                        ),
                    ));
                }
            }
        }
        if !e.cidrs.is_empty() {
            let outside: Vec<String> = [t.outer_src, t.outer_dst]
                .into_iter()
                .filter(|a| !e.cidrs.iter().any(|c| c.contains(a)))
                .map(|a| a.to_string())
                .collect();
            if !outside.is_empty() {
                let cidrs: Vec<String> = e.cidrs.iter().map(|c| c.to_string()).collect();
                out.push(finding(
                    FindingKind::UnexpectedInterface,
                    Severity::Error,
                    iface,
                    t,
                    t.packets,
                    format!(
                        "{} tunnel {pair} on {iface} uses {} outside the expected underlay {}: \
                         the tunnel runs over another network than intended",
                        t.encap.as_str(),
                        outside.join(" and "),
                        cidrs.join(", ")
                    ),
                ));
            }
        }
    }
}

/// The same node pair reached with different outer pairs on different NICs
/// (needs `--nodes` to know two addresses are one node).
pub(super) fn two_nics(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    let Some(nodes) = &e.nodes else { return };
    type Seen = BTreeMap<(String, String), Vec<(String, IpAddr, IpAddr, u64)>>;
    let mut seen: Seen = BTreeMap::new();
    for (iface, t) in tunnels(r) {
        let (Some(a), Some(b)) = (nodes.name(t.outer_src), nodes.name(t.outer_dst)) else {
            continue;
        };
        seen.entry((a.to_string(), b.to_string()))
            .or_default()
            .push((iface.to_string(), t.outer_src, t.outer_dst, t.packets));
    }
    for ((a, b), rows) in seen {
        let pairs: BTreeSet<(IpAddr, IpAddr)> = rows.iter().map(|r| (r.1, r.2)).collect();
        let nics: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        if pairs.len() < 2 || nics.len() < 2 {
            continue;
        }
        let how: Vec<String> = rows
            .iter()
            .map(|(i, s, d, n)| format!("{s} → {d} on {i} ({n} packets)"))
            .collect();
        out.push(Finding {
            kind: FindingKind::UnexpectedInterface,
            severity: Severity::Warning,
            interface: nics.into_iter().map(str::to_string).collect(),
            outer_src: Some(rows[0].1),
            outer_dst: Some(rows[0].2),
            encap: None,
            packets: rows.iter().map(|r| r.3).sum(),
            detail: format!(
                "{a} reaches {b} over two NICs with different addresses: {}. Each node should \
                 use one address (its autodetected one) per peer",
                how.join("; ")
            ),
            first_seen: None,
        });
    }
}

/// One direction (node pair or pod pair): where it was seen and how much.
#[derive(Default)]
struct Way {
    ifaces: BTreeSet<String>,
    packets: u64,
    /// The first tunnel's outer pair, as evidence.
    pair: Option<(IpAddr, IpAddr)>,
    first_seen: Option<String>,
}

impl Way {
    fn add(&mut self, iface: &str, t: &TunnelRow, packets: u64) {
        self.ifaces.insert(iface.to_string());
        self.packets += packets;
        self.pair.get_or_insert((t.outer_src, t.outer_dst));
        // RFC 3339 times in one format sort as text.
        match &self.first_seen {
            Some(f) if *f <= t.first_seen => {}
            _ => self.first_seen = Some(t.first_seen.clone()),
        }
    }
}

/// Directions carried on disjoint interface sets: node pairs (outer,
/// `--nodes` identities) and pod pairs (inner).
pub(super) fn asymmetry(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    let mut outer: BTreeMap<(String, String), Way> = BTreeMap::new();
    let mut inner: BTreeMap<(String, String), Way> = BTreeMap::new();
    for (iface, t) in tunnels(r) {
        let key = (e.identity(t.outer_src), e.identity(t.outer_dst));
        outer.entry(key).or_default().add(iface, t, t.packets);
        for p in &t.inner {
            let key = (p.src.to_string(), p.dst.to_string());
            inner.entry(key).or_default().add(iface, t, p.packets);
        }
    }
    let mut reported: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    for (level, dirs) in [("node", &outer), ("pod", &inner)] {
        for ((a, b), fw) in dirs {
            if a >= b {
                continue;
            }
            let Some(rv) = dirs.get(&(b.clone(), a.clone())) else {
                continue;
            };
            let (fwd, rev, n_fwd, n_rev) = (&fw.ifaces, &rv.ifaces, fw.packets, rv.packets);
            if !fwd.is_disjoint(rev) {
                continue;
            }
            let key = (fwd.iter().cloned().collect(), rev.iter().cloned().collect());
            if !reported.insert(key) {
                continue;
            }
            let pair = fw.pair;
            let first_seen = [&fw.first_seen, &rv.first_seen]
                .into_iter()
                .flatten()
                .min()
                .cloned();
            let f: Vec<&str> = fwd.iter().map(String::as_str).collect();
            let v: Vec<&str> = rev.iter().map(String::as_str).collect();
            out.push(Finding {
                kind: FindingKind::AsymmetricPath,
                severity: Severity::Warning,
                interface: fwd.iter().chain(rev).cloned().collect(),
                outer_src: pair.map(|p| p.0),
                outer_dst: pair.map(|p| p.1),
                encap: None,
                packets: n_fwd + n_rev,
                detail: format!(
                    "{level} pair {a} → {b} travels on {} ({n_fwd} packets) but {b} → {a} on {} \
                     ({n_rev} packets): the two directions use different links (stateful \
                     firewalls, rp_filter and MTU differences bite here)",
                    f.join(", "),
                    v.join(", ")
                ),
                first_seen,
            });
        }
    }
}

/// Outer fragments and outer packets at the MTU.
pub(super) fn mtu(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    for (iface, t) in tunnels(r) {
        if t.fragments > 0 {
            out.push(finding(
                FindingKind::Fragmentation,
                Severity::Warning,
                iface,
                t,
                t.fragments,
                format!(
                    "{} of {} outer packets of this {} tunnel are IP fragments: the encapsulated \
                     packets are bigger than the path MTU (lower the tunnel MTU, e.g. 1480 for \
                     IPIP and 1450 for VXLAN on a 1500 underlay)",
                    t.fragments,
                    t.packets,
                    t.encap.as_str()
                ),
            ));
        }
        let mtu = e.mtu_of(iface);
        if t.max_outer_len > 0 && t.max_outer_len + e.mtu_margin >= mtu {
            let (sev, what) = if t.max_outer_len > mtu {
                (Severity::Warning, "exceed")
            } else {
                (Severity::Info, "come within a few bytes of")
            };
            out.push(finding(
                FindingKind::NearMtu,
                sev,
                iface,
                t,
                t.packets,
                format!(
                    "outer packets up to {} bytes {what} the {mtu}-byte MTU of {iface}: any extra \
                     header on the path (VLAN, another tunnel) drops or fragments them{}",
                    t.max_outer_len,
                    if t.df_packets > 0 {
                        format!(
                            "; {} carry DF, so they are dropped, not fragmented",
                            t.df_packets
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
}

/// ICMP fragmentation-needed / packet-too-big quoting a tunnel packet.
pub(super) fn too_big(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    for t in &r.too_big {
        out.push(Finding {
            kind: FindingKind::IcmpTooBig,
            severity: Severity::Error,
            interface: vec![t.interface.clone()],
            outer_src: Some(t.outer_src),
            outer_dst: Some(t.outer_dst),
            encap: Some(t.encap),
            packets: t.packets,
            detail: format!(
                "{} told {} that its {} packets to {} exceed a {}-byte MTU on the path: if this \
                 ICMP is filtered or ignored, large pod packets vanish (an MTU black hole)",
                e.label(t.from),
                e.label(t.to),
                t.encap.as_str(),
                e.label(t.outer_dst),
                t.mtu
            ),
            first_seen: Some(t.first_seen.clone()),
        });
    }
}

/// Inner addresses outside the pod CIDR; pod traffic on a NIC unencapsulated.
pub(super) fn pods(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    if e.pod_cidrs.is_empty() {
        return;
    }
    let pools: Vec<String> = e.pod_cidrs.iter().map(|c| c.to_string()).collect();
    let pools = pools.join(", ");
    for (iface, t) in tunnels(r) {
        let bad: Vec<_> = t
            .inner
            .iter()
            .filter(|p| !e.in_pods(p.src) || !e.in_pods(p.dst))
            .collect();
        if bad.is_empty() {
            continue;
        }
        let n: u64 = bad.iter().map(|p| p.packets).sum();
        let shown: Vec<String> = bad
            .iter()
            .take(3)
            .map(|p| format!("{} → {}", p.src, p.dst))
            .collect();
        let more = if bad.len() > 3 {
            format!(" and {} more", bad.len() - 3)
        } else {
            String::new()
        };
        out.push(finding(
            FindingKind::OutsidePodCidr,
            Severity::Warning,
            iface,
            t,
            n,
            format!(
                "inner pairs {}{more} in this {} tunnel are not both inside the pod network {pools}: \
                 another overlay, host traffic routed into the tunnel, or a wrong --pod-cidr",
                shown.join(", "),
                t.encap.as_str()
            ),
        ));
    }
    // Calico's own devices (cali*, tunl0, ...) carry pod traffic in plain IP
    // by design.
    for p in &r.plain {
        if !(e.in_pods(p.src) || e.in_pods(p.dst)) || default_exclusion(&p.interface).is_some() {
            continue;
        }
        out.push(Finding {
            kind: FindingKind::UnencapsulatedPodTraffic,
            severity: Severity::Error,
            interface: vec![p.interface.clone()],
            outer_src: Some(p.src),
            outer_dst: Some(p.dst),
            encap: None,
            packets: p.packets,
            detail: format!(
                "{} → {} (IP protocol {}) crosses {} without a tunnel although it is pod traffic \
                 ({pools}): a route bypasses tunl0/vxlan.calico (CrossSubnet, or a missing tunnel \
                 route), and the underlay may drop it",
                p.src, p.dst, p.proto, p.interface
            ),
            first_seen: Some(p.first_seen.clone()),
        });
    }
}

/// Tunnels from or to an address that is no known node.
pub(super) fn unknown_peers(r: &Report, e: &Expect, out: &mut Vec<Finding>) {
    let Some(nodes) = &e.nodes else { return };
    for (iface, t) in tunnels(r) {
        let strangers: Vec<String> = [t.outer_src, t.outer_dst]
            .into_iter()
            .filter(|a| nodes.name(*a).is_none())
            .map(|a| a.to_string())
            .collect();
        if strangers.is_empty() {
            continue;
        }
        let felix = if t.encap == Encap::Ipip {
            " Felix accepts IPIP only from node addresses, so the receiver drops it."
        } else {
            ""
        };
        out.push(finding(
            FindingKind::UnknownPeer,
            Severity::Error,
            iface,
            t,
            t.packets,
            format!(
                "{} tunnel {} → {} on {iface}: {} is no known node address.{felix}",
                t.encap.as_str(),
                e.label(t.outer_src),
                e.label(t.outer_dst),
                strangers.join(" and ")
            ),
        ));
    }
}
