//! The flow table: one per source, merged at the end.
//!
//! Memory is bounded: past `Limits::max_tunnels` new tunnels fall into one
//! "other" bucket per interface, and past the inner-pair limits new pairs fall
//! into each tunnel's `inner_other` row. Nothing grows with the capture size.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::decode::{DecodeError, Decoded, Fragment, Kind, Tunnel};
use crate::iface::{IfaceId, MAX_IFACES};

use super::key::{PairKey, TunnelKey};
use super::plain::PlainTable;

/// Packet and byte counters with first/last times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub packets: u64,
    /// Bytes on the wire (original length, not captured length).
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

impl Counts {
    #[inline]
    pub fn add(&mut self, ts_ns: u64, wire_len: u32) {
        if self.packets == 0 || ts_ns < self.first_ns {
            self.first_ns = ts_ns;
        }
        if ts_ns > self.last_ns {
            self.last_ns = ts_ns;
        }
        self.packets += 1;
        self.bytes += u64::from(wire_len);
    }

    pub fn merge(&mut self, o: &Counts) {
        if o.packets == 0 {
            return;
        }
        if self.packets == 0 || o.first_ns < self.first_ns {
            self.first_ns = o.first_ns;
        }
        self.last_ns = self.last_ns.max(o.last_ns);
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// Packet and byte counters of an inner pair: half the size of [`Counts`],
/// which matters for the cache when tens of thousands of pairs are live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    pub packets: u64,
    pub bytes: u64,
}

impl PairCounts {
    #[inline]
    pub fn add(&mut self, wire_len: u32) {
        self.packets += 1;
        self.bytes += u64::from(wire_len);
    }

    pub fn merge(&mut self, o: &PairCounts) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// Limits that keep the table's memory flat.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Distinct tunnels (interface × encap × outer pair × VNI) kept by name.
    pub max_tunnels: usize,
    /// Inner pairs kept by name in one tunnel.
    pub max_pairs_per_tunnel: usize,
    /// Inner pairs kept by name over all tunnels.
    pub max_pairs_total: usize,
    /// Also count non-tunnel pairs and ICMP too-big errors (audits need
    /// them; `read` and `live` do not, and skip the per-packet lookup).
    pub track_plain: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_tunnels: 4096,
            max_pairs_per_tunnel: 1024,
            max_pairs_total: 65_536,
            track_plain: false,
        }
    }
}

/// Counters of one tunnel on one interface.
#[derive(Debug, Clone, Default)]
pub struct TunnelStats {
    pub counts: Counts,
    /// Outer fragments (first and later) counted to this tunnel.
    pub fragments: u64,
    /// Packets whose inner pair could not be read (later fragments, cut headers, non-IP payloads).
    pub no_inner: u64,
    /// Largest outer IP length seen (for MTU checks).
    pub max_outer_len: u32,
    /// Outer IPv4 packets with DF set.
    pub df_packets: u64,
    /// Deepest nesting seen (1 = plain tunnel).
    pub max_depth: u8,
    /// Inner pairs kept by name for this tunnel (their counters live in
    /// [`FlowTable::pairs`]).
    pub pairs: u32,
    /// Pairs that did not fit under the limits.
    pub inner_other: PairCounts,
}

/// Per-interface totals, tunnel or not.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkTotals {
    pub all: Counts,
    pub tunnelled: u64,
    /// Tunnel packets that fell into the overflow bucket.
    pub other_tunnels: Counts,
}

/// interface → tunnel → inner pair counters, plus file-level totals.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    limits: Limits,
    /// Tunnel key → index into `tunnels`: small entries, so the per-packet
    /// lookup stays in the core's cache.
    index: FxHashMap<TunnelKey, u32>,
    pub tunnels: Vec<(TunnelKey, TunnelStats)>,
    /// (tunnel index, inner pair) → counters: one flat map, one probe per packet.
    pub pairs: FxHashMap<(u32, PairKey), PairCounts>,
    /// Per interface; a short vector searched linearly (a node has a handful of NICs).
    pub links: Vec<(IfaceId, LinkTotals)>,
    pub total: u64,
    pub tunnelled: u64,
    pub undecodable: u64,
    /// Why frames (Undecodable) or inner walks (Tunnel::stop) stopped.
    pub stops: BTreeMap<DecodeError, u64>,
    /// Non-tunnel pairs and ICMP too-big errors (for audits).
    pub plain: PlainTable,
}

impl FlowTable {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts one decoded frame seen on `iface`.
    #[inline]
    pub fn ingest(&mut self, iface: IfaceId, ts_ns: u64, wire_len: u32, decoded: &Decoded) {
        self.total += 1;
        let (slot, iface) = self.link_slot(iface);
        let link = &mut self.links[slot].1;
        link.all.add(ts_ns, wire_len);
        match &decoded.kind {
            Kind::Tunnel(t) => {
                link.tunnelled += 1;
                self.tunnelled += 1;
                self.add_tunnel(iface, ts_ns, wire_len, t);
            }
            Kind::Undecodable(e) => {
                self.undecodable += 1;
                *self.stops.entry(*e).or_default() += 1;
            }
            Kind::Plain(p) if self.limits.track_plain => self.plain.add(iface, ts_ns, wire_len, p),
            Kind::Plain(_) => {}
            Kind::NotIp => {}
        }
    }

    fn add_tunnel(&mut self, iface: IfaceId, ts_ns: u64, wire_len: u32, t: &Tunnel) {
        if let Some(e) = t.stop {
            *self.stops.entry(e).or_default() += 1;
        }
        let key = TunnelKey::of(iface, t);
        let Some(ti) = self.tunnel_index(key) else {
            self.link_mut(iface).other_tunnels.add(ts_ns, wire_len);
            return;
        };
        let stats = &mut self.tunnels[ti as usize].1;
        stats.counts.add(ts_ns, wire_len);
        if t.fragment != Fragment::Whole {
            stats.fragments += 1;
        }
        if t.outer_df {
            stats.df_packets += 1;
        }
        stats.max_outer_len = stats.max_outer_len.max(t.outer_ip_len);
        stats.max_depth = stats.max_depth.max(t.depth);
        let Some(inner) = t.inner else {
            stats.no_inner += 1;
            return;
        };
        let pair = PairKey {
            src: inner.src,
            dst: inner.dst,
        };
        self.add_pair(
            ti,
            pair,
            &PairCounts {
                packets: 1,
                bytes: u64::from(wire_len),
            },
        );
    }

    /// The index of `key`, added when new and under the limit.
    #[inline]
    fn tunnel_index(&mut self, key: TunnelKey) -> Option<u32> {
        if let Some(&i) = self.index.get(&key) {
            return Some(i);
        }
        if self.tunnels.len() >= self.limits.max_tunnels {
            return None;
        }
        let i = self.tunnels.len() as u32;
        self.index.insert(key, i);
        self.tunnels.push((key, TunnelStats::default()));
        Some(i)
    }

    /// Adds `c` to the pair's counters, or to the tunnel's "other" row past the limits.
    #[inline]
    fn add_pair(&mut self, ti: u32, pair: PairKey, c: &PairCounts) {
        if let Some(m) = self.pairs.get_mut(&(ti, pair)) {
            m.merge(c);
            return;
        }
        let stats = &mut self.tunnels[ti as usize].1;
        if (stats.pairs as usize) < self.limits.max_pairs_per_tunnel
            && self.pairs.len() < self.limits.max_pairs_total
        {
            stats.pairs += 1;
            self.pairs.insert((ti, pair), *c);
        } else {
            stats.inner_other.merge(c);
        }
    }

    /// The inner pairs of every tunnel, grouped by tunnel index.
    pub fn pairs_by_tunnel(&self) -> Vec<Vec<(PairKey, PairCounts)>> {
        let mut out = vec![Vec::new(); self.tunnels.len()];
        for (&(ti, pair), c) in &self.pairs {
            out[ti as usize].push((pair, *c));
        }
        out
    }

    /// Folds `other` (another source's table) into this one, keeping the limits.
    pub fn merge(&mut self, other: &FlowTable) {
        self.total += other.total;
        self.tunnelled += other.tunnelled;
        self.undecodable += other.undecodable;
        for (e, n) in &other.stops {
            *self.stops.entry(*e).or_default() += n;
        }
        self.plain.merge(&other.plain);
        for (id, l) in &other.links {
            let mine = self.link_mut(*id);
            mine.all.merge(&l.all);
            mine.tunnelled += l.tunnelled;
            mine.other_tunnels.merge(&l.other_tunnels);
        }
        let mut remap = Vec::with_capacity(other.tunnels.len());
        for (key, s) in &other.tunnels {
            let Some(ti) = self.tunnel_index(*key) else {
                self.link_mut(key.iface).other_tunnels.merge(&s.counts);
                remap.push(None);
                continue;
            };
            remap.push(Some(ti));
            let mine = &mut self.tunnels[ti as usize].1;
            mine.counts.merge(&s.counts);
            mine.fragments += s.fragments;
            mine.no_inner += s.no_inner;
            mine.df_packets += s.df_packets;
            mine.max_outer_len = mine.max_outer_len.max(s.max_outer_len);
            mine.max_depth = mine.max_depth.max(s.max_depth);
            mine.inner_other.merge(&s.inner_other);
        }
        for (&(oti, pair), c) in &other.pairs {
            if let Some(ti) = remap[oti as usize] {
                self.add_pair(ti, pair, c);
            }
        }
    }

    /// The slot of `iface` in `links`, and the id counted: past
    /// [`MAX_IFACES`] interfaces, new ones count as [`IfaceId::OTHER`].
    #[inline]
    fn link_slot(&mut self, iface: IfaceId) -> (usize, IfaceId) {
        if let Some(i) = self.links.iter().position(|(id, _)| *id == iface) {
            return (i, iface);
        }
        let iface = if self.links.len() >= MAX_IFACES {
            IfaceId::OTHER
        } else {
            iface
        };
        if let Some(i) = self.links.iter().position(|(id, _)| *id == iface) {
            return (i, iface);
        }
        self.links.push((iface, LinkTotals::default()));
        (self.links.len() - 1, iface)
    }

    #[inline]
    fn link_mut(&mut self, iface: IfaceId) -> &mut LinkTotals {
        let (slot, _) = self.link_slot(iface);
        &mut self.links[slot].1
    }

    /// Totals of one interface, if it has any.
    pub fn link(&self, iface: IfaceId) -> Option<&LinkTotals> {
        self.links
            .iter()
            .find(|(id, _)| *id == iface)
            .map(|(_, l)| l)
    }

    /// Empties the counters, keeping the limits (for interval reports).
    pub fn take(&mut self) -> FlowTable {
        std::mem::replace(self, FlowTable::new(self.limits))
    }
}
