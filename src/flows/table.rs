//! The flow table: one per source, merged at the end.
//!
//! Memory is bounded: past `Limits::max_tunnels` new tunnels fall into one
//! "other" bucket per interface, and past the inner-pair limits new pairs fall
//! into each tunnel's `inner_other` row. Nothing grows with the capture size.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::decode::DecodeError;
use crate::iface::{IfaceId, MAX_IFACES};

use super::compact::CompactMap;
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
        // Selects rather than branches: capture times jump back and forth
        // between interleaved flows, so the branches mispredict.
        self.first_ns = if self.packets == 0 {
            ts_ns
        } else {
            self.first_ns.min(ts_ns)
        };
        self.last_ns = self.last_ns.max(ts_ns);
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
///
/// Laid out so that everything a packet updates sits in the first 64 bytes:
/// one cache line per packet (the last two fields change only when a pair
/// is new or spills).
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
pub struct TunnelStats {
    pub counts: Counts,
    /// Outer fragments (first and later) counted to this tunnel.
    pub fragments: u64,
    /// Outer IPv4 packets with DF set.
    pub df_packets: u64,
    /// Packets whose inner pair could not be read (later fragments, cut headers, non-IP payloads).
    pub no_inner: u64,
    /// Largest outer IP length seen (for MTU checks).
    pub max_outer_len: u32,
    /// Deepest nesting seen (1 = plain tunnel).
    pub max_depth: u8,
    /// Inner pairs kept by name for this tunnel (their counters live in
    /// the table's pair maps).
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
    pub(super) limits: Limits,
    /// IPv4 tunnel (packed by [`TunnelKey::compact`]) → index into `tunnels`.
    pub(super) index4: CompactMap<u32>,
    /// Other tunnels (an IPv6 outer address) → index into `tunnels`.
    pub(super) index6: FxHashMap<TunnelKey, u32>,
    pub tunnels: Vec<(TunnelKey, TunnelStats)>,
    /// (tunnel index, IPv4 inner pair), packed by [`PairKey::compact`] →
    /// counters: the common case, one cache line per packet.
    pub(super) pairs4: CompactMap<PairCounts>,
    /// (tunnel index, inner pair with an IPv6 address) → counters.
    pub(super) pairs6: FxHashMap<(u32, PairKey), PairCounts>,
    /// Per interface; a short vector searched linearly (a node has a handful of NICs).
    pub links: Vec<(IfaceId, LinkTotals)>,
    pub total: u64,
    pub tunnelled: u64,
    pub undecodable: u64,
    /// Why frames (Undecodable) or inner walks (Tunnel::stop) stopped.
    pub stops: BTreeMap<DecodeError, u64>,
    /// Non-tunnel pairs and ICMP too-big errors (for audits).
    pub plain: PlainTable,
    /// Source labels whose frames were counted on the SLL2 ifindex they
    /// name instead; the report leaves them out when they counted nothing.
    pub(super) shadowed: Vec<IfaceId>,
    /// Scratch space of `ingest_batch`, kept to reuse its allocation.
    pub(super) staged: Vec<super::ingest::Staged>,
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

    /// The index of `key` (its interface at `slot` in `links`), added when
    /// new and under the limit.
    #[inline(never)]
    pub(super) fn tunnel_index(&mut self, slot: u32, key: TunnelKey) -> Option<u32> {
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

    pub(super) fn new_tunnel(&mut self, key: TunnelKey) -> Option<u32> {
        if self.tunnels.len() >= self.limits.max_tunnels {
            return None;
        }
        self.tunnels.push((key, TunnelStats::default()));
        Some(self.tunnels.len() as u32 - 1)
    }

    /// Adds `c` to the pair's counters, or to the tunnel's "other" row past
    /// the limits.
    #[inline(never)]
    pub(super) fn add_pair(&mut self, ti: u32, pair: &PairKey, c: &PairCounts) {
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
    pub(super) fn add_to_known_pair(&mut self, ti: u32, pair: &PairKey, c: &PairCounts) -> bool {
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
        let mut out: Vec<Vec<_>> = self
            .tunnels
            .iter()
            .map(|(_, s)| Vec::with_capacity(s.pairs as usize))
            .collect();
        for (ti, pair, c) in self.pairs() {
            out[ti as usize].push((pair, c));
        }
        out
    }

    /// The slot of `iface` in `links`, and the id counted: past
    /// [`MAX_IFACES`] interfaces, new ones count as [`IfaceId::OTHER`].
    #[inline]
    pub(super) fn link_slot(&mut self, iface: IfaceId) -> (usize, IfaceId) {
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
    pub(super) fn link_mut(&mut self, iface: IfaceId) -> &mut LinkTotals {
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

    /// The interface an SLL2 record captured on `source` counts on: the
    /// one it names. `source` is remembered as shadowed.
    pub(super) fn sll2_iface(&mut self, source: IfaceId, ifindex: u32) -> IfaceId {
        if !self.shadowed.contains(&source) {
            self.shadowed.push(source);
        }
        IfaceId::sll2(ifindex)
    }

    /// Source labels whose frames all named another interface (SLL2).
    pub fn shadowed(&self) -> &[IfaceId] {
        &self.shadowed
    }

    /// Empties the counters, keeping the limits (for interval reports); the
    /// shadowed labels go with the counts.
    pub fn take(&mut self) -> FlowTable {
        std::mem::replace(self, FlowTable::new(self.limits))
    }
}
