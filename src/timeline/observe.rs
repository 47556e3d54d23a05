//! Observations: which ends used which path, when, from a report (one
//! `live` interval) or from a flow table's tunnels (a bucket of a file).

use std::net::IpAddr;

use crate::audit::nodes::Nodes;
use crate::report::{PathEnd, Report};

/// The two ends whose path is followed, in the direction of the traffic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ends {
    /// Node names of the outer source and destination (`--nodes`).
    Nodes(String, String),
    /// The inner (pod) pair.
    Pods(IpAddr, IpAddr),
    /// The outer pair itself (no inner pair readable, no node names).
    Outer(IpAddr, IpAddr),
}

/// Traffic of `ends` on `path` within one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub ends: Ends,
    pub path: PathEnd,
    pub packets: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// The ends of one tunnel row's traffic, with their packets: by node names
/// when `nodes` names both outer addresses, else one per inner pair, else
/// by the outer pair.
pub(super) fn ends_of(
    nodes: &Nodes,
    (outer_src, outer_dst, packets): (IpAddr, IpAddr, u64),
    inner: impl Iterator<Item = (IpAddr, IpAddr, u64)>,
    out: &mut Vec<(Ends, u64)>,
) {
    if let Some(ends) = tunnel_ends(nodes, outer_src, outer_dst) {
        out.push((ends, packets));
        return;
    }
    let before = out.len();
    out.extend(inner.map(|(src, dst, n)| (Ends::Pods(src, dst), n)));
    if out.len() == before {
        out.push((Ends::Outer(outer_src, outer_dst), packets));
    }
}

/// A tunnel's ends as a whole: the node names of its outer addresses, when
/// `nodes` names both. None: its traffic is followed per inner pair.
pub(super) fn tunnel_ends(nodes: &Nodes, outer_src: IpAddr, outer_dst: IpAddr) -> Option<Ends> {
    let (s, d) = (nodes.name(outer_src)?, nodes.name(outer_dst)?);
    Some(Ends::Nodes(s.to_string(), d.to_string()))
}

/// One tunnel row's observations (see [`ends_of`]).
pub(super) fn of_tunnel(
    nodes: &Nodes,
    path: PathEnd,
    (packets, first_ns, last_ns): (u64, u64, u64),
    inner: impl Iterator<Item = (IpAddr, IpAddr, u64)>,
    out: &mut Vec<Observation>,
) {
    of_tunnel_if(
        nodes,
        path,
        (packets, first_ns, last_ns),
        inner,
        out,
        |_| true,
    );
}

/// As [`of_tunnel`], keeping only the ends `keep` wants.
pub(super) fn of_tunnel_if(
    nodes: &Nodes,
    path: PathEnd,
    (packets, first_ns, last_ns): (u64, u64, u64),
    inner: impl Iterator<Item = (IpAddr, IpAddr, u64)>,
    out: &mut Vec<Observation>,
    mut keep: impl FnMut(&Ends) -> bool,
) {
    let mut ends = Vec::new();
    ends_of(
        nodes,
        (path.outer_src, path.outer_dst, packets),
        inner,
        &mut ends,
    );
    ends.retain(|(e, _)| keep(e));
    out.extend(ends.into_iter().map(|(ends, packets)| Observation {
        ends,
        path: path.clone(),
        packets,
        first_ns,
        last_ns,
    }));
}

/// The observations of one report (an interval's).
pub fn observations(report: &Report, nodes: &Nodes) -> Vec<Observation> {
    observations_if(report, nodes, |_| true)
}

/// As [`observations`], keeping only the ends `keep` wants.
pub(super) fn observations_if(
    report: &Report,
    nodes: &Nodes,
    mut keep: impl FnMut(&Ends) -> bool,
) -> Vec<Observation> {
    let mut out = Vec::new();
    for link in &report.links {
        for t in &link.tunnels {
            let (Some(first), Some(last)) =
                (parse_rfc3339(&t.first_seen), parse_rfc3339(&t.last_seen))
            else {
                continue;
            };
            let path = PathEnd {
                device: link.interface.clone(),
                encap: t.encap,
                outer_src: t.outer_src,
                outer_dst: t.outer_dst,
            };
            let inner = t.inner.iter().map(|p| (p.src, p.dst, p.packets));
            of_tunnel_if(
                nodes,
                path,
                (t.packets, first, last),
                inner,
                &mut out,
                &mut keep,
            );
        }
    }
    out
}

/// Reads back `timefmt::rfc3339`'s form, `2026-11-25T12:59:14.123456Z`
/// (6 or 9 fraction digits, or none), as nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let rest = s.get(19..)?;
    let frac = rest.strip_suffix('Z')?;
    let nanos = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10u64.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    let days = days_from_civil(y as i64, m as i64, d as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + hh * 3600 + mm * 60 + ss;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Proleptic Gregorian date → days since 1970-01-01 (Howard Hinnant's
/// published algorithm, the inverse of the one in `timefmt`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
