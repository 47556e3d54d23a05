//! The findings over the joined pairs.

use std::collections::BTreeSet;

use super::{ClusterFinding, ClusterKind, Directory, NodeReport, Options, Pair};
use crate::report::IfaceCount;

pub fn run(
    pairs: &[Pair],
    reports: &[NodeReport],
    dir: &Directory,
    opts: &Options,
) -> Vec<ClusterFinding> {
    let mut out = Vec::new();
    for p in pairs {
        split(p, &mut out);
        one_sided(p, &mut out);
        unexpected(p, opts, &mut out);
        if opts.cross_subnet {
            encapsulated_same_subnet(p, dir, &mut out);
        }
        if p.from < p.to {
            if let Some(back) = pairs.iter().find(|q| q.from == p.to && q.to == p.from) {
                asymmetric(p, back, &mut out);
            }
        }
    }
    if opts.cross_subnet {
        plain_across_subnets(reports, dir, &mut out);
    }
    out.sort_by(|a, b| {
        (a.kind, &a.from, &a.to, &a.node, &a.interface).cmp(&(
            b.kind,
            &b.from,
            &b.to,
            &b.node,
            &b.interface,
        ))
    });
    out
}

fn names(v: &[IfaceCount]) -> Vec<String> {
    v.iter().map(|c| c.interface.clone()).collect()
}

fn listed(v: &[IfaceCount]) -> String {
    v.iter()
        .map(|c| format!("{} ({} pkts)", c.interface, c.packets))
        .collect::<Vec<_>>()
        .join(", ")
}

fn finding(
    kind: ClusterKind,
    p: &Pair,
    node: &str,
    interface: Vec<String>,
    packets: u64,
    detail: String,
) -> ClusterFinding {
    ClusterFinding {
        kind,
        from: p.from.clone(),
        to: p.to.clone(),
        node: node.to_string(),
        interface,
        packets,
        detail,
    }
}

/// One direction on two NICs of the same node.
fn split(p: &Pair, out: &mut Vec<ClusterFinding>) {
    for (side, node, verb) in [
        (&p.left_on, &p.from, "leaves"),
        (&p.arrived_on, &p.to, "arrives"),
    ] {
        if side.len() > 1 {
            out.push(finding(
                ClusterKind::Split,
                p,
                node,
                names(side),
                side.iter().map(|c| c.packets).sum(),
                format!(
                    "{} → {} {verb} {node} on {} NICs: {}",
                    p.from,
                    p.to,
                    side.len(),
                    listed(side)
                ),
            ));
        }
    }
}

/// Seen leaving, never arriving (or the reverse), both reports at hand:
/// per outer pair, so traffic that left on one underlay and "arrived" on
/// another is caught too.
fn one_sided(p: &Pair, out: &mut Vec<ClusterFinding>) {
    if p.sent.is_none() || p.received.is_none() {
        return;
    }
    for o in &p.outer {
        let (node, ifaces, n, detail) = if o.sent > 0 && o.received == 0 {
            (
                &p.from,
                &p.left_on,
                o.sent,
                format!(
                    "{} → {}: {} packets {} → {} left {} on {}, none arrived at {} (lost on the way, or {} captures the wrong NICs)",
                    p.from, p.to, o.sent, o.src, o.dst, p.from, listed(&p.left_on), p.to, p.to
                ),
            )
        } else if o.received > 0 && o.sent == 0 {
            (
                &p.to,
                &p.arrived_on,
                o.received,
                format!(
                    "{} → {}: {} packets {} → {} arrived at {} on {}, none seen leaving {} (sent from a NIC {} does not capture?)",
                    p.from, p.to, o.received, o.src, o.dst, p.to, listed(&p.arrived_on), p.from, p.from
                ),
            )
        } else {
            continue;
        };
        out.push(finding(
            ClusterKind::OneSided,
            p,
            node,
            names(ifaces),
            n,
            detail,
        ));
    }
}

/// `--expect-iface` / `--expect-cidr`, as `audit` checks one node.
fn unexpected(p: &Pair, opts: &Options, out: &mut Vec<ClusterFinding>) {
    let e = &opts.expect;
    if !e.ifaces.is_empty() {
        for (side, node) in [(&p.left_on, &p.from), (&p.arrived_on, &p.to)] {
            let wrong: Vec<&IfaceCount> = side
                .iter()
                .filter(|c| !e.ifaces.contains(&c.interface))
                .collect();
            if !wrong.is_empty() {
                out.push(finding(
                    ClusterKind::UnexpectedInterface,
                    p,
                    node,
                    wrong.iter().map(|c| c.interface.clone()).collect(),
                    wrong.iter().map(|c| c.packets).sum(),
                    format!(
                        "{} → {} on {node}'s {}, expected {}",
                        p.from,
                        p.to,
                        wrong
                            .iter()
                            .map(|c| c.interface.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        e.ifaces.join(" or ")
                    ),
                ));
            }
        }
    }
    if !e.cidrs.is_empty() {
        let outside: Vec<String> = p
            .outer
            .iter()
            .flat_map(|o| [o.src, o.dst])
            .filter(|a| !e.cidrs.iter().any(|c| c.contains(a)))
            .map(|a| a.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !outside.is_empty() {
            let mut ifaces = names(&p.left_on);
            ifaces.extend(names(&p.arrived_on));
            out.push(finding(
                ClusterKind::UnexpectedInterface,
                p,
                &p.from,
                ifaces,
                p.sent.or(p.received).unwrap_or(0),
                format!(
                    "{} → {} runs over {} outside the expected underlay {}",
                    p.from,
                    p.to,
                    outside.join(", "),
                    e.cidrs
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
}

/// A→B and B→A on different underlays (outer pairs) or different NICs.
fn asymmetric(p: &Pair, back: &Pair, out: &mut Vec<ClusterFinding>) {
    let fwd: BTreeSet<(_, _)> = underlay(p).map(|o| (o.src, o.dst)).collect();
    let rev: BTreeSet<(_, _)> = underlay(back).map(|o| (o.dst, o.src)).collect();
    let nics_differ =
        |a: &[IfaceCount], b: &[IfaceCount]| !a.is_empty() && !b.is_empty() && names(a) != names(b);
    let at_from = nics_differ(&p.left_on, &back.arrived_on);
    let at_to = nics_differ(&p.arrived_on, &back.left_on);
    if fwd == rev && !at_from && !at_to {
        return;
    }
    let pairs = |p: &Pair| {
        underlay(p)
            .map(|o| format!("{} → {}", o.src, o.dst))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut ifaces = names(&p.left_on);
    ifaces.extend(names(&back.arrived_on));
    ifaces.dedup();
    out.push(finding(
        ClusterKind::Asymmetric,
        p,
        &p.from,
        ifaces,
        p.sent.unwrap_or(0) + back.sent.unwrap_or(0),
        format!(
            "{a} → {b} runs over {} (leaves on {}, arrives on {}), {b} → {a} over {} (leaves on {}, arrives on {})",
            pairs(p),
            or_unseen(&p.left_on),
            or_unseen(&p.arrived_on),
            pairs(back),
            or_unseen(&back.left_on),
            or_unseen(&back.arrived_on),
            a = p.from,
            b = p.to,
        ),
    ));
}

/// The outer pairs a direction uses, as its sender saw them (the receiver's
/// view when the sender's report is not an input).
fn underlay(p: &Pair) -> impl Iterator<Item = &super::OuterPair> {
    let by_sender = p.sent.is_some_and(|n| n > 0);
    p.outer.iter().filter(move |o| {
        if by_sender {
            o.sent > 0
        } else {
            o.received > 0
        }
    })
}

fn or_unseen(v: &[IfaceCount]) -> String {
    if v.is_empty() {
        "(not captured)".into()
    } else {
        names(v).join("+")
    }
}

/// CrossSubnet: peers in one subnet talk unencapsulated.
fn encapsulated_same_subnet(p: &Pair, dir: &Directory, out: &mut Vec<ClusterFinding>) {
    if dir.same_subnet(&p.from, &p.to) != Some(true) {
        return;
    }
    let encap: Vec<&str> = p.encap.iter().map(|e| e.label()).collect();
    out.push(finding(
        ClusterKind::EncapMode,
        p,
        &p.from,
        names(&p.left_on),
        p.sent.or(p.received).unwrap_or(0),
        format!(
            "{} and {} share a subnet, yet {} → {} is {}-encapsulated: with CrossSubnet it goes unencapsulated (is the pool's mode Always, or the node addresses' prefix wrong?)",
            p.from, p.to, p.from, p.to, encap.join("+")
        ),
    ));
}

/// CrossSubnet: pod traffic between nodes of different subnets must be
/// encapsulated; plain pod-to-pod rows (`audit`-style reports) say it was not.
fn plain_across_subnets(reports: &[NodeReport], dir: &Directory, out: &mut Vec<ClusterFinding>) {
    for r in reports {
        for row in &r.report.plain {
            let (Some(s), Some(d)) = (dir.pod(row.src), dir.pod(row.dst)) else {
                continue;
            };
            let (Some(a), Some(b)) = (s.node.as_deref(), d.node.as_deref()) else {
                continue;
            };
            if a == b || a != r.name || dir.same_subnet(a, b) != Some(false) {
                continue;
            }
            out.push(ClusterFinding {
                kind: ClusterKind::EncapMode,
                from: a.to_string(),
                to: b.to_string(),
                node: r.name.clone(),
                interface: vec![row.interface.clone()],
                packets: row.packets,
                detail: format!(
                    "{} → {} left {a} on {} unencapsulated, but {a} and {b} are in different subnets: CrossSubnet encapsulates these",
                    s.label(),
                    d.label(),
                    row.interface
                ),
            });
        }
    }
}
