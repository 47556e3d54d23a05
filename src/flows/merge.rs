//! Folding one flow table into another: tables of different sources
//! (interfaces in a live capture, files), and the two halves of one file.

use super::compact::{EMPTY, NOT_FOUND};
use super::key::{pair4_in_tunnel, pair4_tunnel, TunnelKey};
use super::plain::PlainTable;
use super::table::FlowTable;
use crate::iface::{IfaceId, MAX_IFACES};

impl FlowTable {
    /// Folds in `other`, the counts of the frames that follow this table's
    /// in the same capture, when the result is exactly what counting those
    /// frames here would have given: `other` never spilled into an "other"
    /// row, and everything it adds fits under the limits (then no order
    /// decides what gets a row). Otherwise changes nothing and returns false.
    pub fn merge_following(&mut self, other: &FlowTable) -> bool {
        if other.spilled() {
            return false;
        }
        let Some(found) = self.room_for(other) else {
            return false;
        };
        self.merge_found(other, &found);
        true
    }

    /// [`Self::merge_following`] of a table given away. While this table has
    /// counted nothing (the first part of a file read in parts is merged
    /// into an empty one), counting `other`'s frames here would build
    /// exactly `other`, so it becomes this table as it is, instead of being
    /// inserted again pair by pair (tens of thousands of pairs, on the
    /// thread that merges while the others read).
    pub fn take_following(&mut self, other: FlowTable) -> bool {
        if self.is_fresh() && self.limits == other.limits {
            *self = other;
            return true;
        }
        self.merge_following(&other)
    }

    /// Whether nothing was counted or merged in yet (as `new` makes it).
    /// Every field is named, so a field added later must be judged here.
    fn is_fresh(&self) -> bool {
        let FlowTable {
            limits: _,
            index4,
            index6,
            tunnels,
            pairs4,
            pairs6,
            links,
            total,
            tunnelled,
            undecodable,
            stops,
            plain,
            shadowed,
            staged: _,
        } = self;
        let PlainTable {
            pairs: plain_pairs,
            pairs_other,
            too_big,
            too_big_other,
        } = plain;
        *total == 0
            && *tunnelled == 0
            && *undecodable == 0
            && links.is_empty()
            && tunnels.is_empty()
            && index4.is_empty()
            && index6.is_empty()
            && pairs4.is_empty()
            && pairs6.is_empty()
            && stops.is_empty()
            && shadowed.is_empty()
            && plain_pairs.is_empty()
            && too_big.is_empty()
            && pairs_other.packets == 0
            && too_big_other.packets == 0
    }

    /// Whether some packets were counted only in an "other" row.
    fn spilled(&self) -> bool {
        self.links
            .iter()
            .any(|(id, l)| *id == IfaceId::OTHER || l.other_tunnels.packets > 0)
            || self.tunnels.iter().any(|(_, s)| s.inner_other.packets > 0)
            || self.plain.spilled()
    }

    /// Where `other`'s tunnels and IPv4 pairs are in this table (one
    /// lookup each, shared by the room check and the merge).
    fn find(&self, other: &FlowTable) -> Found {
        let slot_of = |iface| self.links.iter().position(|(id, _)| *id == iface);
        let tunnels: Vec<Option<u32>> = other
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
        let pairs4 = self.pairs4.find_each(other.pairs4.iter().map(|(k, _)| {
            match tunnels[pair4_tunnel(k) as usize] {
                Some(ti) => pair4_in_tunnel(k, ti),
                None => EMPTY,
            }
        }));
        Found { tunnels, pairs4 }
    }

    /// [`Self::find`], when every interface, tunnel and pair of `other`
    /// that this table lacks fits under the limits.
    fn room_for(&self, other: &FlowTable) -> Option<Found> {
        let new_links = other
            .links
            .iter()
            .filter(|(id, _)| !self.links.iter().any(|(mine, _)| mine == id))
            .count();
        if self.links.len() + new_links > MAX_IFACES {
            return None;
        }
        let found = self.find(other);
        let new_tunnels = found.tunnels.iter().filter(|k| k.is_none()).count();
        if self.tunnels.len() + new_tunnels > self.limits.max_tunnels {
            return None;
        }
        let mut fresh_in = vec![0usize; self.tunnels.len()];
        let mut fresh = 0;
        for (i, (oti, pair, _)) in other.pairs().enumerate() {
            let Some(ti) = found.tunnels[oti as usize] else {
                // A new tunnel: other kept its pairs under the same limits.
                fresh += 1;
                continue;
            };
            let here = match found.pairs4.get(i) {
                Some(&slot) => slot != NOT_FOUND,
                None => self.pairs6.contains_key(&(ti, pair)),
            };
            if !here {
                fresh += 1;
                fresh_in[ti as usize] += 1;
            }
        }
        let fits = self.pair_count() + fresh <= self.limits.max_pairs_total
            && fresh_in.iter().enumerate().all(|(ti, &n)| {
                n == 0 || self.tunnels[ti].1.pairs as usize + n <= self.limits.max_pairs_per_tunnel
            })
            && self.plain.has_room_for(&other.plain);
        fits.then_some(found)
    }

    /// Folds `other` (another source's table) into this one, keeping the limits.
    pub fn merge(&mut self, other: &FlowTable) {
        let found = self.find(other);
        self.merge_found(other, &found);
    }

    /// [`Self::merge`] with `found` = [`Self::find`]`(other)`.
    fn merge_found(&mut self, other: &FlowTable, found: &Found) {
        self.total += other.total;
        self.tunnelled += other.tunnelled;
        self.undecodable += other.undecodable;
        for (e, n) in &other.stops {
            *self.stops.entry(*e).or_default() += n;
        }
        self.plain.merge(&other.plain);
        for id in &other.shadowed {
            if !self.shadowed.contains(id) {
                self.shadowed.push(*id);
            }
        }
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
        // Pairs both tables know merge in any order (found ones in place:
        // nothing was added to the pairs since they were found); new ones
        // are added in a fixed order, so that which of them get a row when
        // the limits bite does not depend on the maps' random seeds.
        let mut fresh = Vec::new();
        for (i, (oti, pair, c)) in other.pairs().enumerate() {
            let Some(ti) = remap[oti as usize] else {
                continue;
            };
            match found.pairs4.get(i) {
                Some(&slot) if slot != NOT_FOUND => self.pairs4.value_at_mut(slot).merge(&c),
                _ if self.add_to_known_pair(ti, &pair, &c) => {}
                _ => fresh.push((ti, pair, c)),
            }
        }
        fresh.sort_unstable_by_key(|&(ti, pair, _)| (ti, pair));
        for (ti, pair, c) in fresh {
            self.add_pair(ti, &pair, &c);
        }
    }
}

/// What [`FlowTable::find`] found of another table here.
struct Found {
    /// Each of the other table's tunnels: its index here, if known.
    tunnels: Vec<Option<u32>>,
    /// Each of its IPv4 pairs (in `pairs4`'s order, which
    /// [`FlowTable::pairs`] begins with): its slot here, or [`NOT_FOUND`].
    pairs4: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use crate::decode::{Decoded, Kind};
    use crate::flows::{FlowTable, Limits};
    use crate::iface::IfaceId;

    /// A frame captured on `source` whose SLL2 header names `ifindex`.
    fn sll2_frame(t: &mut FlowTable, source: IfaceId, ifindex: u32) {
        let d = Decoded {
            sll2_ifindex: Some(ifindex),
            kind: Kind::NotIp,
        };
        t.ingest(source, 1, 60, &d);
    }

    #[test]
    fn shadowed_labels_follow_merges_and_take() {
        let any = IfaceId(0);
        let mut half = FlowTable::new(Limits::default());
        sll2_frame(&mut half, any, 3);
        assert_eq!(half.shadowed(), &[any]);
        assert_eq!(half.link(IfaceId::sll2(3)).map(|l| l.all.packets), Some(1));
        assert!(half.link(any).is_none());

        let mut first = FlowTable::new(Limits::default());
        first.ingest(IfaceId(1), 0, 60, &Decoded::default());
        assert!(first.merge_following(&half));
        assert_eq!(first.shadowed(), &[any]);
        let mut total = FlowTable::new(Limits::default());
        total.merge(&first);
        total.merge(&half);
        assert_eq!((total.total, total.shadowed()), (3, &[any][..]));

        let taken = total.take();
        assert_eq!(taken.shadowed(), &[any]);
        assert!(total.shadowed().is_empty());
        assert_eq!(total.total, 0);
    }

    /// A part's table given to an empty one becomes it; given to one that
    /// counted something, it is merged as `merge_following` does.
    #[test]
    fn take_following_adopts_into_an_empty_table_only() {
        let limits = Limits::default();
        let mut part = FlowTable::new(limits);
        sll2_frame(&mut part, IfaceId(0), 3);
        part.ingest(IfaceId(1), 5, 90, &Decoded::default());
        let mut empty = FlowTable::new(limits);
        assert!(empty.take_following(part.clone()));
        assert_eq!((empty.total, empty.links.len()), (2, 2));
        assert_eq!(empty.shadowed(), &[IfaceId(0)]);
        assert_eq!(empty.link(IfaceId(1)).map(|l| l.all.bytes), Some(90));

        let mut busy = FlowTable::new(limits);
        busy.ingest(IfaceId(1), 0, 60, &Decoded::default());
        assert!(busy.take_following(part));
        assert_eq!(busy.total, 3);
        assert_eq!(busy.link(IfaceId(1)).map(|l| l.all.bytes), Some(150));
    }
}
