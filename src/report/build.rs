//! FlowTable → Report: names interfaces, sorts rows, formats times.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::decode::Encap;
use crate::flows::{Counts, FlowTable, PairCounts, PairKey, TunnelKey, TunnelStats};
use crate::iface::{IfaceId, IfaceTable};
use crate::timefmt::rfc3339;

use super::model::*;

/// Builds the report. Links keep the order interfaces were first named
/// (file order, IDB order, NIC order); ids with the same display name merge.
/// Shadowed ids ([`FlowTable::shadowed`]) are left out when they counted nothing themselves.
pub fn build_report(table: &FlowTable, ifaces: &IfaceTable, sources: Vec<SourceInfo>) -> Report {
    let mut rows = tunnel_rows(table);
    let mut order: Vec<IfaceId> = ifaces.ids().collect();
    for (id, _) in &table.links {
        if !order.contains(id) {
            order.push(*id);
        }
    }
    let mut links: Vec<Link> = Vec::new();
    for id in order {
        let totals = table.link(id);
        let counted = totals.map(|t| t.all.packets).unwrap_or(0);
        if counted == 0 && table.shadowed().contains(&id) {
            continue;
        }
        let name = ifaces.name(id);
        let idx = match links.iter().position(|l| l.interface == name) {
            Some(i) => i,
            None => {
                links.push(empty_link(name));
                links.len() - 1
            }
        };
        let link = &mut links[idx];
        if let Some(t) = totals {
            link.packets += t.all.packets;
            link.bytes += t.all.bytes;
            link.tunnelled += t.tunnelled;
            if t.other_tunnels.packets > 0 {
                let o = link.other_tunnels.get_or_insert(CountRow {
                    packets: 0,
                    bytes: 0,
                });
                o.packets += t.other_tunnels.packets;
                o.bytes += t.other_tunnels.bytes;
            }
        }
        link.tunnels.extend(
            table
                .tunnels
                .iter()
                .zip(&mut rows)
                .filter(|((k, _), _)| k.iface == id)
                .filter_map(|(_, row)| row.take()),
        );
    }
    for link in &mut links {
        // Sorted through a permutation: rows are a few hundred bytes, and a
        // busy node has thousands of them.
        let rows = std::mem::take(&mut link.tunnels);
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&i, &j| {
            let (a, b) = (&rows[i], &rows[j]);
            // Encaps by name, as when they were strings: the JSON order stays.
            // The whole key: no tie is left to the order rows were made in.
            b.packets.cmp(&a.packets).then_with(|| {
                (a.encap.as_str(), a.outer_src, a.outer_dst, a.vni).cmp(&(
                    b.encap.as_str(),
                    b.outer_src,
                    b.outer_dst,
                    b.vni,
                ))
            })
        });
        let mut rows: Vec<Option<TunnelRow>> = rows.into_iter().map(Some).collect();
        link.tunnels = order.into_iter().filter_map(|i| rows[i].take()).collect();
    }
    let multi_interface = multi_interface(&links);
    let decode_stops = table
        .stops
        .iter()
        .map(|(e, n)| StopCount {
            layer: e.layer,
            reason: e.reason,
            packets: *n,
        })
        .collect();
    Report {
        packets: PacketTotals {
            total: table.total,
            tunnelled: table.tunnelled,
            undecodable: table.undecodable,
        },
        links,
        multi_interface,
        decode_stops,
        sources,
        plain: plain_rows(table, ifaces),
        plain_other: count_row(&table.plain.pairs_other),
        too_big: too_big_rows(table, ifaces),
        timeline: Vec::new(),
        written: None,
    }
}

/// Plain pairs, busiest first.
fn plain_rows(table: &FlowTable, ifaces: &IfaceTable) -> Vec<PlainFlowRow> {
    let mut rows: Vec<PlainFlowRow> = table
        .plain
        .pairs
        .iter()
        .map(|(k, c)| PlainFlowRow {
            interface: ifaces.name(k.iface),
            src: k.src,
            dst: k.dst,
            proto: k.proto,
            packets: c.packets,
            bytes: c.bytes,
            first_seen: rfc3339(c.first_ns),
            last_seen: rfc3339(c.last_ns),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.packets.cmp(&a.packets).then_with(|| {
            (&a.interface, a.src, a.dst, a.proto).cmp(&(&b.interface, b.src, b.dst, b.proto))
        })
    });
    rows
}

fn too_big_rows(table: &FlowTable, ifaces: &IfaceTable) -> Vec<TooBigRow> {
    let mut rows: Vec<TooBigRow> = table
        .plain
        .too_big
        .iter()
        .map(|(k, c)| TooBigRow {
            interface: ifaces.name(k.iface),
            from: k.from,
            to: k.to,
            encap: k.quoted.encap,
            outer_src: k.quoted.quoted_src,
            outer_dst: k.quoted.quoted_dst,
            mtu: k.quoted.mtu,
            packets: c.packets,
            first_seen: rfc3339(c.first_ns),
        })
        .collect();
    // On the whole key: rows that tie on the tunnel and MTU (errors from
    // several routers) would otherwise come out in the hash map's order,
    // which depends on how the table grew (a split read merges parts).
    rows.sort_by(|a, b| {
        let key = |r: &TooBigRow| (r.outer_src, r.outer_dst, r.mtu, r.from, r.to, r.encap);
        a.interface
            .cmp(&b.interface)
            .then_with(|| key(a).cmp(&key(b)))
    });
    rows
}

fn empty_link(interface: String) -> Link {
    Link {
        interface,
        packets: 0,
        bytes: 0,
        tunnelled: 0,
        tunnels: Vec::new(),
        other_tunnels: None,
        capture: None,
    }
}

/// Pairs past which [`tunnel_rows`] makes half the rows on another thread.
const ROWS_ON_TWO_THREADS: usize = 8192;

/// Every tunnel's row, by tunnel index. A busy capture's rows (tens of
/// thousands of pairs to sort, two times to format per tunnel) take
/// milliseconds, at the end of a read: past [`ROWS_ON_TWO_THREADS`] pairs,
/// the tunnels holding the second half of them are made on another thread.
fn tunnel_rows(table: &FlowTable) -> Vec<Option<TunnelRow>> {
    type Tunnels = [(TunnelKey, TunnelStats)];
    fn make(tunnels: &Tunnels, pairs: Vec<Vec<(PairKey, PairCounts)>>) -> Vec<Option<TunnelRow>> {
        tunnels
            .iter()
            .zip(pairs)
            .map(|((k, s), p)| Some(tunnel_row(k, s, p)))
            .collect()
    }
    let mut pairs = table.pairs_by_tunnel();
    let total = table.pair_count();
    if total < ROWS_ON_TWO_THREADS {
        return make(&table.tunnels, pairs);
    }
    let mut behind = 0;
    let cut = pairs
        .iter()
        .position(|p| {
            behind += p.len();
            behind * 2 >= total
        })
        .map_or(pairs.len(), |i| i + 1);
    let later_pairs = pairs.split_off(cut);
    std::thread::scope(|s| {
        let later = s.spawn(|| make(&table.tunnels[cut..], later_pairs));
        let mut rows = make(&table.tunnels[..cut], pairs);
        rows.extend(
            later
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        rows
    })
}

fn tunnel_row(k: &TunnelKey, s: &TunnelStats, pairs: Vec<(PairKey, PairCounts)>) -> TunnelRow {
    // By value: the rows reuse the pairs' allocation.
    let mut inner: Vec<PairRow> = pairs
        .into_iter()
        .map(|(p, c)| PairRow {
            src: p.src,
            dst: p.dst,
            packets: c.packets,
            bytes: c.bytes,
        })
        .collect();
    // Busiest first, then by address. Pairs are unique within a tunnel, so
    // an unstable sort gives the one order; on plain integers, because a
    // busy capture sorts tens of thousands of rows here.
    inner.sort_unstable_by_key(|r| (Reverse(r.packets), ip_order(r.src), ip_order(r.dst)));
    TunnelRow {
        encap: k.encap,
        outer_src: k.outer_src,
        outer_dst: k.outer_dst,
        vni: k.vni,
        packets: s.counts.packets,
        bytes: s.counts.bytes,
        fragments: s.fragments,
        first_seen: rfc3339(s.counts.first_ns),
        last_seen: rfc3339(s.counts.last_ns),
        inner,
        no_inner: s.no_inner,
        inner_other: (s.inner_other.packets > 0).then_some(CountRow {
            packets: s.inner_other.packets,
            bytes: s.inner_other.bytes,
        }),
        max_outer_len: s.max_outer_len,
        df_packets: s.df_packets,
        max_depth: s.max_depth,
    }
}

/// A key that orders addresses as `IpAddr` does (IPv4 first).
fn ip_order(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn count_row(c: &Counts) -> Option<CountRow> {
    (c.packets > 0).then_some(CountRow {
        packets: c.packets,
        bytes: c.bytes,
    })
}

/// Tunnels whose (encap, outer pair, VNI) appears on more than one link.
fn multi_interface(links: &[Link]) -> Vec<MultiInterface> {
    if links.len() < 2 {
        return Vec::new();
    }
    // The encap's name leads the key: rows keep the order they had when
    // encaps were strings.
    type Key = (&'static str, Encap, IpAddr, IpAddr, Option<u32>);
    let mut seen: BTreeMap<Key, Vec<IfaceCount>> = BTreeMap::new();
    for link in links {
        for t in &link.tunnels {
            seen.entry((t.encap.as_str(), t.encap, t.outer_src, t.outer_dst, t.vni))
                .or_default()
                .push(IfaceCount {
                    interface: link.interface.clone(),
                    packets: t.packets,
                });
        }
    }
    seen.into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(
            |((_, encap, outer_src, outer_dst, vni), interfaces)| MultiInterface {
                encap,
                outer_src,
                outer_dst,
                vni,
                interfaces,
            },
        )
        .collect()
}
