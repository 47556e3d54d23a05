//! Counting fast-path frames a few frames late, so that their table lookups
//! overlap instead of stalling one after another.
//!
//! With tens of thousands of live pod pairs, a frame's tunnel slot and pair
//! slot are cache misses, and the second depends on the first (the pair's
//! key holds the tunnel's index). Counted at once, every frame waits for two
//! misses in turn: under a profiler, half of file reading's counting time
//! sat on those two loads. So a frame is counted in three steps:
//! [`FlowTable::start_known`] when it arrives (its tunnel slot starts
//! loading), [`FlowTable::find_started`] for a few frames together (each
//! finds its tunnel and starts loading its pair slot), then
//! [`FlowTable::count_started`] for each in order.
//!
//! Exact: a started frame is counted only when its interface, tunnel and
//! pair exist, and then only adds to existing counters, which commutes with
//! everything else; whatever would add an entry goes through the caller's
//! batch in file order instead (the caller finishes its started frames
//! before it batches any later frame).

use crate::decode::{Encap, Quick};
use crate::iface::IfaceId;

use super::compact::prefetch;
use super::key::{compact_pair4, compact_tunnel4};
use super::table::FlowTable;

/// What [`FlowTable::start_known`] made of a fast-path frame.
pub enum Start {
    /// Counted already (nothing to look up).
    Counted,
    /// Started: to be finished in a few frames.
    Later,
    /// Not for this path (a new interface, or plain traffic that is
    /// tracked): it goes through a batch.
    Batch,
}

/// An IPIP frame whose tunnel slot is loading. Small (one cache line): the
/// packed keys are rebuilt from the frame when needed, not kept.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub iface: IfaceId,
    pub wire_len: u32,
    pub ts_ns: u64,
    pub quick: Quick,
    /// Index into `links`.
    slot: u32,
    /// Index into `tunnels` once found, or [`UNKNOWN`].
    ti: u32,
    tunnel_hash: u64,
    pair_hash: u64,
}

/// A tunnel not (yet) in the table.
const UNKNOWN: u32 = u32::MAX;

impl Default for Started {
    fn default() -> Self {
        Started {
            iface: IfaceId::default(),
            ts_ns: 0,
            wire_len: 0,
            quick: Quick::Tcp { src: 0, dst: 0 },
            slot: 0,
            ti: UNKNOWN,
            tunnel_hash: 0,
            pair_hash: 0,
        }
    }
}

impl FlowTable {
    /// First step, as a fast-path frame arrives: counts a plain TCP frame
    /// at once when plain traffic is not tracked (only its interface's
    /// totals change); starts an IPIP frame into `out`.
    #[inline(always)]
    pub fn start_known(
        &mut self,
        iface: IfaceId,
        ts_ns: u64,
        wire_len: u32,
        q: &Quick,
        out: &mut Started,
    ) -> Start {
        // Most captures have one interface: the first slot, without a search.
        let slot = match self.links.first() {
            Some((id, _)) if *id == iface => 0,
            _ => match self.links.iter().position(|(id, _)| *id == iface) {
                Some(slot) => slot,
                None => return Start::Batch,
            },
        };
        match *q {
            Quick::Ipip {
                outer_src,
                outer_dst,
                ..
            } => {
                let tunnel = compact_tunnel4(slot as u32, Encap::Ipip, outer_src, outer_dst, None);
                let tunnel_hash = self.index4.hash(tunnel);
                self.index4.prefetch(tunnel_hash);
                *out = Started {
                    iface,
                    wire_len,
                    ts_ns,
                    quick: *q,
                    slot: slot as u32,
                    ti: UNKNOWN,
                    tunnel_hash,
                    pair_hash: 0,
                };
                Start::Later
            }
            Quick::Tcp { .. } if !self.limits.track_plain => {
                self.total += 1;
                self.links[slot].1.all.add(ts_ns, wire_len);
                Start::Counted
            }
            Quick::Tcp { .. } => Start::Batch,
        }
    }

    /// Second step, for a few started frames together: finds each one's
    /// tunnel and starts loading its pair slot and tunnel counters.
    pub fn find_started(&self, started: &mut [Started]) {
        for s in started {
            s.ti = UNKNOWN;
            let Quick::Ipip {
                outer_src,
                outer_dst,
                inner_src,
                inner_dst,
                ..
            } = s.quick
            else {
                continue;
            };
            let tunnel = compact_tunnel4(s.slot, Encap::Ipip, outer_src, outer_dst, None);
            if let Some(ti) = self.index4.get(tunnel, s.tunnel_hash) {
                s.ti = ti;
                s.pair_hash = self.pairs4.hash(compact_pair4(ti, inner_src, inner_dst));
                self.pairs4.prefetch(s.pair_hash);
                prefetch(&self.tunnels[ti as usize].1);
            }
        }
    }

    /// Last step, for each started frame in order: counts it when its
    /// tunnel and pair exist and returns true; false, and it must go
    /// through a batch. The pair is looked up again here: a batch counted
    /// since [`Self::find_started`] may have added it or moved its slot.
    #[inline(always)]
    pub fn count_started(&mut self, s: &Started) -> bool {
        let Quick::Ipip {
            inner_src,
            inner_dst,
            outer_len,
            outer_df,
            ..
        } = s.quick
        else {
            return false;
        };
        if s.ti == UNKNOWN {
            return false;
        }
        let key = compact_pair4(s.ti, inner_src, inner_dst);
        let Some(pair) = self.pairs4.get_mut(key, s.pair_hash) else {
            return false;
        };
        pair.add(s.wire_len);
        let stats = &mut self.tunnels[s.ti as usize].1;
        stats.counts.add(s.ts_ns, s.wire_len);
        stats.df_packets += u64::from(outer_df);
        stats.max_outer_len = stats.max_outer_len.max(u32::from(outer_len));
        stats.max_depth = stats.max_depth.max(1);
        self.tunnelled += 1;
        self.total += 1;
        let link = &mut self.links[s.slot as usize].1;
        link.tunnelled += 1;
        link.all.add(s.ts_ns, s.wire_len);
        true
    }
}
