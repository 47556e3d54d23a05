//! Counting decoded frames into a [`FlowTable`], one at a time or in
//! batches whose hash-table lookups are prefetched ahead.

use crate::decode::{Decoded, Encap, Fragment, Kind, Quick};
use crate::iface::IfaceId;

use super::compact::{prefetch, EMPTY};
use super::key::{
    compact_pair, compact_pair4, compact_tunnel, compact_tunnel4, PairKey, TunnelKey,
};
use super::table::{FlowTable, PairCounts};

/// One decoded frame on its way to the flow table.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// The interface the frame was captured on; an SLL2 record counts on
    /// the ifindex it names instead (see [`FlowTable::shadowed`]).
    pub iface: IfaceId,
    pub ts_ns: u64,
    pub wire_len: u32,
    pub what: What,
}

/// A frame as the fast path or the full decoder saw it.
#[derive(Debug, Clone, Copy)]
pub enum What {
    /// The common cases, counted without building a [`Kind`] (the same
    /// counts as `Decoded` with [`Quick::kind`]).
    Quick(Quick),
    Decoded(Decoded),
}

impl Default for Event {
    fn default() -> Self {
        Event {
            iface: IfaceId::default(),
            ts_ns: 0,
            wire_len: 0,
            what: What::Decoded(Decoded::default()),
        }
    }
}

/// What the first pass of [`FlowTable::ingest_batch`] found for one event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Staged {
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

/// What counting needs of a tunnel packet, from either kind of event.
struct TunnelFacts {
    fragment: Fragment,
    outer_df: bool,
    outer_ip_len: u32,
    depth: u8,
    /// Whether an inner pair was read (it is only built when new).
    has_inner: bool,
}

impl Event {
    /// The inner pair of a tunnel event, if it has one (a new pair's slow
    /// path only).
    fn inner_pair(&self) -> Option<PairKey> {
        let kind = match &self.what {
            What::Quick(q) => q.kind(),
            What::Decoded(d) => d.kind,
        };
        match kind {
            Kind::Tunnel(t) => t.inner.as_ref().map(PairKey::of),
            _ => None,
        }
    }
}

impl FlowTable {
    /// Counts one decoded frame captured on `iface`.
    #[inline]
    pub fn ingest(&mut self, iface: IfaceId, ts_ns: u64, wire_len: u32, decoded: &Decoded) {
        let ev = Event {
            iface,
            ts_ns,
            wire_len,
            what: What::Decoded(*decoded),
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
        let counted_on = match &ev.what {
            What::Decoded(Decoded {
                sll2_ifindex: Some(ifindex),
                ..
            }) => self.sll2_iface(ev.iface, *ifindex),
            _ => ev.iface,
        };
        let (slot, iface) = self.link_slot(counted_on);
        let mut st = Staged {
            slot: slot as u32,
            ti: NOT_TUNNEL,
            hash: 0,
            pair: EMPTY,
        };
        let (ti, pair) = match &ev.what {
            What::Quick(
                q @ Quick::Ipip {
                    outer_src,
                    outer_dst,
                    inner_src,
                    inner_dst,
                    ..
                },
            ) => {
                let k = compact_tunnel4(st.slot, Encap::Ipip, *outer_src, *outer_dst, None);
                let known = self.index4.get(k, self.index4.hash(k));
                // A new tunnel (or past the limit): the slow path, from the
                // fast path's own description of the frame.
                let ti = known.or_else(|| match q.kind() {
                    Kind::Tunnel(t) => self.tunnel_index(st.slot, TunnelKey::of(iface, &t)),
                    _ => None,
                });
                (ti, ti.map(|ti| compact_pair4(ti, *inner_src, *inner_dst)))
            }
            What::Decoded(Decoded {
                kind: Kind::Tunnel(t),
                ..
            }) => {
                let known = compact_tunnel(st.slot, t.encap, t.outer_src, t.outer_dst, t.vni)
                    .and_then(|k| self.index4.get(k, self.index4.hash(k)));
                let ti = known.or_else(|| self.tunnel_index(st.slot, TunnelKey::of(iface, t)));
                let pair = |ti| t.inner.and_then(|i| compact_pair(ti, i.src, i.dst));
                (ti, ti.and_then(pair))
            }
            _ => return st,
        };
        let Some(ti) = ti else {
            st.ti = OVERFLOW;
            return st;
        };
        st.ti = ti;
        prefetch(&self.tunnels[ti as usize].1);
        if let Some(k) = pair {
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
        let facts = match &ev.what {
            What::Quick(Quick::Ipip {
                outer_len,
                outer_df,
                ..
            }) => {
                // Counted here, in its own copy of the tunnel counting: the
                // fast path's constant facts then fold away.
                let facts = TunnelFacts {
                    fragment: Fragment::Whole,
                    outer_df: *outer_df,
                    outer_ip_len: u32::from(*outer_len),
                    depth: 1,
                    has_inner: true,
                };
                self.count_tunnel(ev, &facts, &st);
                return;
            }
            What::Quick(q @ Quick::Tcp { .. }) => {
                if self.limits.track_plain {
                    if let Kind::Plain(p) = q.kind() {
                        self.plain.add(iface, ev.ts_ns, ev.wire_len, &p);
                    }
                }
                return;
            }
            What::Decoded(d) => match &d.kind {
                Kind::Tunnel(t) => {
                    if let Some(e) = t.stop {
                        *self.stops.entry(e).or_default() += 1;
                    }
                    TunnelFacts {
                        fragment: t.fragment,
                        outer_df: t.outer_df,
                        outer_ip_len: t.outer_ip_len,
                        depth: t.depth,
                        has_inner: t.inner.is_some(),
                    }
                }
                Kind::Undecodable(e) => {
                    self.undecodable += 1;
                    *self.stops.entry(*e).or_default() += 1;
                    return;
                }
                Kind::Plain(p) => {
                    if self.limits.track_plain {
                        self.plain.add(iface, ev.ts_ns, ev.wire_len, p);
                    }
                    return;
                }
                Kind::NotIp => return,
            },
        };
        self.count_tunnel(ev, &facts, &st);
    }

    /// The counters of a tunnel packet.
    #[inline(always)]
    fn count_tunnel(&mut self, ev: &Event, facts: &TunnelFacts, st: &Staged) {
        self.tunnelled += 1;
        let link = &mut self.links[st.slot as usize].1;
        link.tunnelled += 1;
        if st.ti == OVERFLOW {
            link.other_tunnels.add(ev.ts_ns, ev.wire_len);
        } else {
            self.add_tunnel(ev, facts, st);
        }
    }

    #[inline(always)]
    fn add_tunnel(&mut self, ev: &Event, t: &TunnelFacts, st: &Staged) {
        let stats = &mut self.tunnels[st.ti as usize].1;
        stats.counts.add(ev.ts_ns, ev.wire_len);
        if t.fragment != Fragment::Whole {
            stats.fragments += 1;
        }
        if t.outer_df {
            stats.df_packets += 1;
        }
        stats.max_outer_len = stats.max_outer_len.max(t.outer_ip_len);
        stats.max_depth = stats.max_depth.max(t.depth);
        if !t.has_inner {
            stats.no_inner += 1;
            return;
        }
        let c = PairCounts {
            packets: 1,
            bytes: u64::from(ev.wire_len),
        };
        if let Some(m) = self.pairs4.get_mut(st.pair, st.hash) {
            m.merge(&c);
            return;
        }
        if let Some(pair) = ev.inner_pair() {
            self.add_pair(st.ti, &pair, &c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_frame, quick_frame, DecodeConfig};
    use crate::flows::Limits;
    use crate::iface::IfaceTable;
    use crate::report::build_report;
    use crate::sources::file::{bundled_captures, read_file, FileOptions};

    /// Counting the fast path's compact events gives the same report as
    /// counting the full decode of the same frames, one by one or batched,
    /// with and without plain-pair tracking and under tight limits.
    #[test]
    fn quick_events_count_like_decoded_ones() {
        let cfg = DecodeConfig::default();
        let mut quick_seen = 0;
        for path in bundled_captures() {
            for limits in [
                Limits::default(),
                Limits {
                    max_tunnels: 2,
                    max_pairs_per_tunnel: 2,
                    max_pairs_total: 3,
                    track_plain: true,
                },
            ] {
                let mut ifaces = IfaceTable::new();
                let (mut fast, mut full) = (Vec::new(), Vec::new());
                let _ = read_file(&path, &FileOptions::default(), &mut ifaces, |f| {
                    let decoded = decode_frame(f.data, f.linktype, &cfg);
                    let ev = |what| Event {
                        iface: f.iface,
                        ts_ns: f.ts_ns,
                        wire_len: f.orig_len,
                        what,
                    };
                    let q = quick_frame(f.data, f.linktype, &cfg);
                    quick_seen += usize::from(q.is_some());
                    fast.push(ev(q.map_or(What::Decoded(decoded), What::Quick)));
                    full.push(ev(What::Decoded(decoded)));
                });
                let mut batched = FlowTable::new(limits);
                for chunk in fast.chunks(7) {
                    batched.ingest_batch(chunk);
                }
                let mut single = FlowTable::new(limits);
                for ev in &full {
                    let What::Decoded(d) = &ev.what else {
                        unreachable!()
                    };
                    single.ingest(ev.iface, ev.ts_ns, ev.wire_len, d);
                }
                let report = |t: &FlowTable| build_report(t, &ifaces, Vec::new());
                assert_eq!(report(&batched), report(&single), "{}", path.display());
            }
        }
        assert!(
            quick_seen > 100,
            "the fast path was taken {quick_seen} times"
        );
    }
}
