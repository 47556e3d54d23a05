//! The flow table: one per source, merged at the end.
//!
//! Memory is bounded: past `Limits::max_tunnels` new tunnels fall into one
//! "other" bucket per interface, and past the inner-pair limits new pairs fall
//! into each tunnel's `inner_other` row. Nothing grows with the capture size.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::decode::{DecodeError, Decoded, Fragment, Kind, Tunnel};
use crate::iface::{IfaceId, MAX_IFACES};

use super::compact::{prefetch, CompactMap, EMPTY};
use super::key::{compact_pair, compact_tunnel, PairKey, TunnelKey};
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
    /// IPv4 tunnel (packed by [`TunnelKey::compact`]) → index into `tunnels`.
    index4: CompactMap<u32>,
    /// Other tunnels (an IPv6 outer address) → index into `tunnels`.
    index6: FxHashMap<TunnelKey, u32>,
    pub tunnels: Vec<(TunnelKey, TunnelStats)>,
    /// (tunnel index, IPv4 inner pair), packed by [`PairKey::compact`] →
    /// counters: the common case, one cache line per packet.
    pairs4: CompactMap<PairCounts>,
    /// (tunnel index, inner pair with an IPv6 address) → counters.
    pairs6: FxHashMap<(u32, PairKey), PairCounts>,
    /// Per interface; a short vector searched linearly (a node has a handful of NICs).
    pub links: Vec<(IfaceId, LinkTotals)>,
    pub total: u64,
    pub tunnelled: u64,
    pub undecodable: u64,
    /// Why frames (Undecodable) or inner walks (Tunnel::stop) stopped.
    pub stops: BTreeMap<DecodeError, u64>,
    /// Non-tunnel pairs and ICMP too-big errors (for audits).
    pub plain: PlainTable,
    /// Scratch space of `ingest_batch`, kept to reuse its allocation.
    staged: Vec<Staged>,
}

/// One decoded frame on its way to the flow table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Event {
    pub iface: IfaceId,
    pub ts_ns: u64,
    pub wire_len: u32,
    pub decoded: Decoded,
}

/// What the first pass of [`FlowTable::ingest_batch`] found for one event.
#[derive(Debug, Clone, Copy)]
struct Staged {
    /// Index into `links`.
    slot: u32,
    /// Index into `tunnels`, or [`NOT_TUNNEL`] / [`OVERFLOW`].
    ti: u32,
    /// The inner pair's packed key in `pairs4`, or `EMPTY`.
    pair: u128,
    /// Its hash.
    hash: u64,
}

const NOT_TUNNEL: u32 = u32::MAX;
/// A tunnel past `max_tunnels`: counted in its interface's "other" row.
const OVERFLOW: u32 = u32::MAX - 1;

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
        let ev = Event {
            iface,
            ts_ns,
            wire_len,
            decoded: *decoded,
        };
        let st = self.stage(&ev);
        self.commit(&ev, st);
    }

    /// Counts a batch in two passes: the first finds each event's interface
    /// and tunnel and prefetches its pair slot, the second counts. The pair
    /// lookups (cache misses when tens of thousands of pairs are live) then
    /// overlap instead of queueing. Same result as `ingest` one by one.
    pub fn ingest_batch(&mut self, events: &[Event]) {
        let mut staged = std::mem::take(&mut self.staged);
        staged.clear();
        staged.extend(events.iter().map(|ev| self.stage(ev)));
        for (ev, st) in events.iter().zip(&staged) {
            self.commit(ev, *st);
        }
        self.staged = staged;
    }

    /// First pass: interface slot, tunnel index (new ones are added here,
    /// still in packet order) and the pair's packed key and hash, with the
    /// tunnel's counters and the pair's slot prefetched.
    #[inline(always)]
    fn stage(&mut self, ev: &Event) -> Staged {
        let (slot, iface) = self.link_slot(ev.iface);
        let mut st = Staged {
            slot: slot as u32,
            ti: NOT_TUNNEL,
            hash: 0,
            pair: EMPTY,
        };
        let Kind::Tunnel(t) = &ev.decoded.kind else {
            return st;
        };
        let known = compact_tunnel(st.slot, t.encap, t.outer_src, t.outer_dst, t.vni)
            .and_then(|k| self.index4.get(k, self.index4.hash(k)));
        let Some(ti) = known.or_else(|| self.tunnel_index(st.slot, TunnelKey::of(iface, t))) else {
            st.ti = OVERFLOW;
            return st;
        };
        st.ti = ti;
        prefetch(&self.tunnels[ti as usize].1);
        if let Some(k) = t.inner.and_then(|i| compact_pair(ti, i.src, i.dst)) {
            st.pair = k;
            st.hash = self.pairs4.hash(k);
            self.pairs4.prefetch(st.hash);
        }
        st
    }

    /// Second pass: every counter the event touches.
    #[inline(always)]
    fn commit(&mut self, ev: &Event, st: Staged) {
        self.total += 1;
        let (iface, link) = &mut self.links[st.slot as usize];
        let iface = *iface;
        link.all.add(ev.ts_ns, ev.wire_len);
        match &ev.decoded.kind {
            Kind::Tunnel(t) => {
                link.tunnelled += 1;
                self.tunnelled += 1;
                if let Some(e) = t.stop {
                    *self.stops.entry(e).or_default() += 1;
                }
                if st.ti == OVERFLOW {
                    link.other_tunnels.add(ev.ts_ns, ev.wire_len);
                } else {
                    self.add_tunnel(ev.ts_ns, ev.wire_len, t, &st);
                }
            }
            Kind::Undecodable(e) => {
                self.undecodable += 1;
                *self.stops.entry(*e).or_default() += 1;
            }
            Kind::Plain(p) if self.limits.track_plain => {
                self.plain.add(iface, ev.ts_ns, ev.wire_len, p)
            }
            Kind::Plain(_) => {}
            Kind::NotIp => {}
        }
    }

    #[inline(always)]
    fn add_tunnel(&mut self, ts_ns: u64, wire_len: u32, t: &Tunnel, st: &Staged) {
        let stats = &mut self.tunnels[st.ti as usize].1;
        stats.counts.add(ts_ns, wire_len);
        if t.fragment != Fragment::Whole {
            stats.fragments += 1;
        }
        if t.outer_df {
            stats.df_packets += 1;
        }
        stats.max_outer_len = stats.max_outer_len.max(t.outer_ip_len);
        stats.max_depth = stats.max_depth.max(t.depth);
        let Some(inner) = &t.inner else {
            stats.no_inner += 1;
            return;
        };
        let c = PairCounts {
            packets: 1,
            bytes: u64::from(wire_len),
        };
        if let Some(m) = self.pairs4.get_mut(st.pair, st.hash) {
            m.merge(&c);
            return;
        }
        self.add_pair(st.ti, &PairKey::of(inner), &c);
    }

    /// The index of `key` (its interface at `slot` in `links`), added when
    /// new and under the limit.
    #[inline(never)]
    fn tunnel_index(&mut self, slot: u32, key: TunnelKey) -> Option<u32> {
        let Some(k) = key.compact(slot) else {
            if let Some(&i) = self.index6.get(&key) {
                return Some(i);
            }
            let i = self.new_tunnel(key)?;
            self.index6.insert(key, i);
            return Some(i);
        };
        let h = self.index4.hash(k);
        if let Some(&mut i) = self.index4.get_mut(k, h) {
            return Some(i);
        }
        let i = self.new_tunnel(key)?;
        self.index4.insert_new(k, h, i);
        Some(i)
    }

    fn new_tunnel(&mut self, key: TunnelKey) -> Option<u32> {
        if self.tunnels.len() >= self.limits.max_tunnels {
            return None;
        }
        self.tunnels.push((key, TunnelStats::default()));
        Some(self.tunnels.len() as u32 - 1)
    }

    /// Adds `c` to the pair's counters, or to the tunnel's "other" row past
    /// the limits.
    #[inline(never)]
    fn add_pair(&mut self, ti: u32, pair: &PairKey, c: &PairCounts) {
        let room = self.pair_count() < self.limits.max_pairs_total;
        let stats = &mut self.tunnels[ti as usize].1;
        let room = room && (stats.pairs as usize) < self.limits.max_pairs_per_tunnel;
        let added = match pair.compact(ti) {
            Some(k) => {
                let h = self.pairs4.hash(k);
                if let Some(m) = self.pairs4.get_mut(k, h) {
                    m.merge(c);
                    return;
                }
                room && {
                    self.pairs4.insert_new(k, h, *c);
                    true
                }
            }
            None => {
                if let Some(m) = self.pairs6.get_mut(&(ti, *pair)) {
                    m.merge(c);
                    return;
                }
                room && {
                    self.pairs6.insert((ti, *pair), *c);
                    true
                }
            }
        };
        if added {
            stats.pairs += 1;
        } else {
            stats.inner_other.merge(c);
        }
    }

    /// Adds `c` to a pair already kept by name; false if it is not.
    fn add_to_known_pair(&mut self, ti: u32, pair: &PairKey, c: &PairCounts) -> bool {
        let known = match pair.compact(ti) {
            Some(k) => self.pairs4.get_mut(k, self.pairs4.hash(k)),
            None => self.pairs6.get_mut(&(ti, *pair)),
        };
        known.map(|m| m.merge(c)).is_some()
    }

    /// Inner pairs kept by name.
    pub fn pair_count(&self) -> usize {
        self.pairs4.len() + self.pairs6.len()
    }

    /// Every inner pair kept by name: (tunnel index, pair, counters).
    pub fn pairs(&self) -> impl Iterator<Item = (u32, PairKey, PairCounts)> + '_ {
        let four = self.pairs4.iter().map(|(k, c)| {
            let (ti, pair) = PairKey::from_compact(k);
            (ti, pair, c)
        });
        four.chain(self.pairs6.iter().map(|(&(ti, pair), &c)| (ti, pair, c)))
    }

    /// The inner pairs of every tunnel, grouped by tunnel index.
    pub fn pairs_by_tunnel(&self) -> Vec<Vec<(PairKey, PairCounts)>> {
        let mut out = vec![Vec::new(); self.tunnels.len()];
        for (ti, pair, c) in self.pairs() {
            out[ti as usize].push((pair, c));
        }
        out
    }

    /// Folds in `other`, the counts of the frames that follow this table's
    /// in the same capture, when the result is exactly what counting those
    /// frames here would have given: `other` never spilled into an "other"
    /// row, and everything it adds fits under the limits (then no order
    /// decides what gets a row). Otherwise changes nothing and returns false.
    pub fn merge_following(&mut self, other: &FlowTable) -> bool {
        if other.spilled() || !self.has_room_for(other) {
            return false;
        }
        self.merge(other);
        true
    }

    /// Whether some packets were counted only in an "other" row.
    fn spilled(&self) -> bool {
        self.links
            .iter()
            .any(|(id, l)| *id == IfaceId::OTHER || l.other_tunnels.packets > 0)
            || self.tunnels.iter().any(|(_, s)| s.inner_other.packets > 0)
            || self.plain.spilled()
    }

    /// Whether every interface, tunnel and pair of `other` that this table
    /// lacks fits under the limits.
    fn has_room_for(&self, other: &FlowTable) -> bool {
        let slot_of = |iface| self.links.iter().position(|(id, _)| *id == iface);
        let new_links = other
            .links
            .iter()
            .filter(|(id, _)| slot_of(*id).is_none())
            .count();
        if self.links.len() + new_links > MAX_IFACES {
            return false;
        }
        // Each of other's tunnels: its index here, if known.
        let known: Vec<Option<u32>> = other
            .tunnels
            .iter()
            .map(|(key, _)| {
                let slot = slot_of(key.iface)? as u32;
                match key.compact(slot) {
                    Some(k) => self.index4.get(k, self.index4.hash(k)),
                    None => self.index6.get(key).copied(),
                }
            })
            .collect();
        let new_tunnels = known.iter().filter(|k| k.is_none()).count();
        if self.tunnels.len() + new_tunnels > self.limits.max_tunnels {
            return false;
        }
        let mut fresh_in = vec![0usize; self.tunnels.len()];
        let mut fresh = 0;
        for (oti, pair, _) in other.pairs() {
            let Some(ti) = known[oti as usize] else {
                // A new tunnel: other kept its pairs under the same limits.
                fresh += 1;
                continue;
            };
            let here = match pair.compact(ti) {
                Some(k) => self.pairs4.get(k, self.pairs4.hash(k)).is_some(),
                None => self.pairs6.contains_key(&(ti, pair)),
            };
            if !here {
                fresh += 1;
                fresh_in[ti as usize] += 1;
            }
        }
        self.pair_count() + fresh <= self.limits.max_pairs_total
            && fresh_in.iter().enumerate().all(|(ti, &n)| {
                n == 0 || self.tunnels[ti].1.pairs as usize + n <= self.limits.max_pairs_per_tunnel
            })
            && self.plain.has_room_for(&other.plain)
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
            let (slot, iface) = self.link_slot(key.iface);
            let key = TunnelKey { iface, ..*key };
            let Some(ti) = self.tunnel_index(slot as u32, key) else {
                self.links[slot].1.other_tunnels.merge(&s.counts);
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
        // Pairs both tables know merge in any order; new ones are added in
        // a fixed order, so that which of them get a row when the limits
        // bite does not depend on the maps' random seeds.
        let mut fresh = Vec::new();
        for (oti, pair, c) in other.pairs() {
            if let Some(ti) = remap[oti as usize] {
                if !self.add_to_known_pair(ti, &pair, &c) {
                    fresh.push((ti, pair, c));
                }
            }
        }
        fresh.sort_unstable_by_key(|&(ti, pair, _)| (ti, pair));
        for (ti, pair, c) in fresh {
            self.add_pair(ti, &pair, &c);
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
