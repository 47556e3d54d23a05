//! Joining the reports: each tunnel row, seen from its node, is one side
//! (sent or received) of an ordered node pair.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{checks, Directory, InnerPair, Merged, NodeInfo, NodeReport, Options, OuterPair, Pair};
use crate::report::IfaceCount;

/// Merges reports (each with its node settled) into pairs and findings.
pub fn merge(reports: &[NodeReport], dir: &Directory, opts: &Options) -> Merged {
    let mut pairs: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut nodes = Vec::new();
    let present: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    for r in reports {
        let mine = |ip: IpAddr| dir.node(ip) == Some(r.name.as_str());
        let mut own = Vec::new();
        for link in &r.report.links {
            for t in &link.tunnels {
                // Neither end is this node's: traffic it only forwarded.
                let (sent, other) = if mine(t.outer_src) {
                    own.push(t.outer_src);
                    (true, t.outer_dst)
                } else if mine(t.outer_dst) {
                    own.push(t.outer_dst);
                    (false, t.outer_src)
                } else {
                    continue;
                };
                let peer = dir.node_or_addr(other);
                let k = if sent {
                    (r.name.clone(), peer)
                } else {
                    (peer, r.name.clone())
                };
                let acc = pairs.entry(k).or_default();
                if !acc.encap.contains(&t.encap) {
                    acc.encap.push(t.encap);
                }
                let outer = match acc
                    .outer
                    .iter_mut()
                    .position(|o| o.src == t.outer_src && o.dst == t.outer_dst)
                {
                    Some(i) => &mut acc.outer[i],
                    None => {
                        acc.outer.push(OuterPair {
                            src: t.outer_src,
                            dst: t.outer_dst,
                            sent: 0,
                            received: 0,
                        });
                        acc.outer.last_mut().expect("just pushed")
                    }
                };
                if sent {
                    outer.sent += t.packets;
                } else {
                    outer.received += t.packets;
                }
                let side = if sent {
                    &mut acc.left
                } else {
                    &mut acc.arrived
                };
                *side.entry(link.interface.clone()).or_default() += t.packets;
                let inner = if sent {
                    &mut acc.inner_sent
                } else {
                    &mut acc.inner_received
                };
                for p in &t.inner {
                    *inner.entry((p.src, p.dst)).or_default() += p.packets;
                }
                if let Some(o) = &t.inner_other {
                    *inner
                        .entry((unspecified(t.outer_src), unspecified(t.outer_dst)))
                        .or_default() += o.packets;
                }
            }
        }
        own.sort();
        own.dedup();
        nodes.push(NodeInfo {
            name: r.name.clone(),
            file: r.file.clone(),
            addresses: own,
            interfaces: r.report.links.iter().map(|l| l.interface.clone()).collect(),
        });
    }
    let pairs: Vec<Pair> = pairs
        .into_iter()
        .map(|((from, to), a)| a.into_pair(from, to, &present, dir))
        .collect();
    let findings = checks::run(&pairs, reports, dir, opts);
    Merged {
        nodes,
        pairs,
        findings,
    }
}

/// `0.0.0.0` / `::`: the key of inner packets past a tunnel's table.
fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

#[derive(Default)]
struct Acc {
    encap: Vec<crate::decode::Encap>,
    outer: Vec<OuterPair>,
    left: BTreeMap<String, u64>,
    arrived: BTreeMap<String, u64>,
    inner_sent: BTreeMap<(IpAddr, IpAddr), u64>,
    inner_received: BTreeMap<(IpAddr, IpAddr), u64>,
}

impl Acc {
    fn into_pair(mut self, from: String, to: String, present: &[&str], dir: &Directory) -> Pair {
        let counts = |m: BTreeMap<String, u64>| -> Vec<IfaceCount> {
            m.into_iter()
                .map(|(interface, packets)| IfaceCount { interface, packets })
                .collect()
        };
        let sum = |v: &[IfaceCount]| v.iter().map(|c| c.packets).sum::<u64>();
        let left_on = counts(self.left);
        let arrived_on = counts(self.arrived);
        let sent = present.contains(&from.as_str()).then(|| sum(&left_on));
        let received = present.contains(&to.as_str()).then(|| sum(&arrived_on));
        let inner_map = if self.inner_sent.is_empty() {
            self.inner_received
        } else {
            self.inner_sent
        };
        let mut inner: Vec<InnerPair> = inner_map
            .into_iter()
            .map(|((src, dst), packets)| InnerPair {
                src,
                dst,
                packets,
                src_pod: dir.pod(src).map(|p| p.label()),
                dst_pod: dir.pod(dst).map(|p| p.label()),
            })
            .collect();
        inner.sort_by(|a, b| {
            b.packets
                .cmp(&a.packets)
                .then((a.src, a.dst).cmp(&(b.src, b.dst)))
        });
        let inner_other = inner.iter().skip(super::MAX_INNER).map(|p| p.packets).sum();
        inner.truncate(super::MAX_INNER);
        self.encap.sort();
        self.outer.sort();
        Pair {
            from,
            to,
            encap: self.encap,
            outer: self.outer,
            left_on,
            arrived_on,
            sent,
            received,
            inner,
            inner_other,
        }
    }
}
