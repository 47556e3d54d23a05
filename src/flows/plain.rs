//! Non-tunnel traffic, kept for audits: IP pairs per interface (pod traffic
//! that crossed a NIC unencapsulated) and ICMP too-big errors quoting a
//! tunnel (MTU black holes). Bounded like the tunnel table: past the limit,
//! packets are only counted.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::decode::{Plain, TooBig};
use crate::iface::IfaceId;

use super::key::fold;
use super::table::Counts;

/// Distinct (interface, src, dst, proto) kept by name.
pub const MAX_PLAIN: usize = 4096;
/// Distinct too-big reports kept by name.
pub const MAX_TOO_BIG: usize = 256;

/// A non-tunnel IP pair on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlainKey {
    pub iface: IfaceId,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
}

impl Hash for PlainKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.iface.0) | u64::from(self.proto) << 32);
        state.write_u64(fold(self.src) ^ fold(self.dst).rotate_left(29));
    }
}

/// A too-big error seen on one interface: who sent it, to whom, about what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TooBigKey {
    pub iface: IfaceId,
    /// The router (or host) that sent the error.
    pub from: IpAddr,
    /// Where the error went: the tunnel packet's sender.
    pub to: IpAddr,
    pub quoted: TooBig,
}

/// The bounded tables of plain pairs and too-big errors.
#[derive(Debug, Clone, Default)]
pub struct PlainTable {
    pub pairs: FxHashMap<PlainKey, Counts>,
    /// Pairs that did not fit.
    pub pairs_other: Counts,
    pub too_big: FxHashMap<TooBigKey, Counts>,
    pub too_big_other: Counts,
}

impl PlainTable {
    /// Counts one plain packet: one hash lookup, a second one only for the
    /// rare too-big errors.
    #[inline]
    pub fn add(&mut self, iface: IfaceId, ts_ns: u64, wire_len: u32, p: &Plain) {
        let key = PlainKey {
            iface,
            src: p.src,
            dst: p.dst,
            proto: p.proto,
        };
        if let Some(c) = self.pairs.get_mut(&key) {
            c.add(ts_ns, wire_len);
        } else if self.pairs.len() < MAX_PLAIN {
            self.pairs.entry(key).or_default().add(ts_ns, wire_len);
        } else {
            self.pairs_other.add(ts_ns, wire_len);
        }
        if let Some(quoted) = p.too_big {
            self.add_too_big(iface, ts_ns, wire_len, p, quoted);
        }
    }

    #[cold]
    fn add_too_big(
        &mut self,
        iface: IfaceId,
        ts_ns: u64,
        wire_len: u32,
        p: &Plain,
        quoted: TooBig,
    ) {
        let key = TooBigKey {
            iface,
            from: p.src,
            to: p.dst,
            quoted,
        };
        if self.too_big.len() < MAX_TOO_BIG || self.too_big.contains_key(&key) {
            self.too_big.entry(key).or_default().add(ts_ns, wire_len);
        } else {
            self.too_big_other.add(ts_ns, wire_len);
        }
    }

    /// Whether some packets were counted only in an "other" row.
    pub fn spilled(&self) -> bool {
        self.pairs_other.packets > 0 || self.too_big_other.packets > 0
    }

    /// Whether every entry of `o` this table lacks fits under the bounds.
    pub fn has_room_for(&self, o: &PlainTable) -> bool {
        let fresh_pairs = o
            .pairs
            .keys()
            .filter(|k| !self.pairs.contains_key(k))
            .count();
        let fresh_too_big = o
            .too_big
            .keys()
            .filter(|k| !self.too_big.contains_key(k))
            .count();
        self.pairs.len() + fresh_pairs <= MAX_PLAIN
            && self.too_big.len() + fresh_too_big <= MAX_TOO_BIG
    }

    /// Folds another source's table into this one, keeping the bounds.
    pub fn merge(&mut self, o: &PlainTable) {
        for (k, c) in &o.pairs {
            if let Some(m) = self.pairs.get_mut(k) {
                m.merge(c);
            } else if self.pairs.len() < MAX_PLAIN {
                self.pairs.insert(*k, *c);
            } else {
                self.pairs_other.merge(c);
            }
        }
        self.pairs_other.merge(&o.pairs_other);
        for (k, c) in &o.too_big {
            if let Some(m) = self.too_big.get_mut(k) {
                m.merge(c);
            } else if self.too_big.len() < MAX_TOO_BIG {
                self.too_big.insert(*k, *c);
            } else {
                self.too_big_other.merge(c);
            }
        }
        self.too_big_other.merge(&o.too_big_other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Encap;

    fn plain(src: [u8; 4], dst: [u8; 4]) -> Plain {
        Plain {
            src: src.into(),
            dst: dst.into(),
            proto: 1,
            too_big: None,
        }
    }

    #[test]
    fn too_big_does_not_grow_the_decoded_frame() {
        // Events carry a `Decoded` each; the tunnel variant must stay the largest.
        let (plain, tunnel) = (
            std::mem::size_of::<Plain>(),
            std::mem::size_of::<crate::decode::Tunnel>(),
        );
        assert!(
            plain <= tunnel,
            "Plain {plain} bytes > Tunnel {tunnel} bytes"
        );
    }

    #[test]
    fn bounded_and_merged() {
        let mut t = PlainTable::default();
        for i in 0..(MAX_PLAIN as u32 + 10) {
            let p = plain(i.to_be_bytes(), [10, 0, 0, 1]);
            t.add(IfaceId(0), u64::from(i), 100, &p);
        }
        assert_eq!(t.pairs.len(), MAX_PLAIN);
        assert_eq!(t.pairs_other.packets, 10);
        let mut u = PlainTable::default();
        let mut tb = plain([10, 0, 0, 254], [192, 168, 30, 71]);
        tb.too_big = Some(TooBig {
            quoted_src: [192, 168, 30, 71].into(),
            quoted_dst: [192, 168, 30, 72].into(),
            encap: Encap::Ipip,
            mtu: 1400,
        });
        u.add(IfaceId(1), 5, 70, &tb);
        u.add(IfaceId(1), 3, 70, &tb);
        t.merge(&u);
        assert_eq!(t.pairs_other.packets, 12);
        let c = t.too_big.values().next().unwrap();
        assert_eq!((c.packets, c.first_ns), (2, 3));
    }
}
