//! Keys of the flow table. Each direction of a tunnel is its own key.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};

use crate::decode::{Encap, Inner, Tunnel};
use crate::iface::IfaceId;

/// One tunnel as seen on one interface: (NIC, encapsulation, outer pair, VNI/key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TunnelKey {
    pub iface: IfaceId,
    pub encap: Encap,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    pub vni: Option<u32>,
}

impl TunnelKey {
    #[inline]
    pub fn of(iface: IfaceId, t: &Tunnel) -> Self {
        Self {
            iface,
            encap: t.encap,
            outer_src: t.outer_src,
            outer_dst: t.outer_dst,
            vni: t.vni,
        }
    }

    /// The key packed into 128 bits for an IPv4 outer pair, with the
    /// interface given by its slot (< 2^16) in the table: outer src, dst,
    /// VNI, slot, encap, VNI present. Never `compact::EMPTY` (top bit clear).
    #[inline]
    pub(crate) fn compact(&self, slot: u32) -> Option<u128> {
        compact_tunnel(slot, self.encap, self.outer_src, self.outer_dst, self.vni)
    }
}

/// An inner (pod) pair riding inside a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairKey {
    pub src: IpAddr,
    pub dst: IpAddr,
}

impl PairKey {
    #[inline]
    pub fn of(inner: &Inner) -> Self {
        Self {
            src: inner.src,
            dst: inner.dst,
        }
    }

    /// (tunnel index, IPv4 pair) packed into 128 bits: src, dst, index.
    /// Never `compact::EMPTY` (the top 32 bits are clear).
    #[inline]
    pub(crate) fn compact(&self, ti: u32) -> Option<u128> {
        compact_pair(ti, self.src, self.dst)
    }

    /// The inverse of [`Self::compact`]: (tunnel index, pair).
    pub(crate) fn from_compact(k: u128) -> (u32, PairKey) {
        let v4 = |b: u128| IpAddr::V4(Ipv4Addr::from(b as u32));
        (
            (k >> 64) as u32,
            PairKey {
                src: v4(k),
                dst: v4(k >> 32),
            },
        )
    }
}

/// [`TunnelKey::compact`] from the key's parts (no key built on the hot path).
#[inline(always)]
pub(crate) fn compact_tunnel(
    slot: u32,
    encap: Encap,
    src: IpAddr,
    dst: IpAddr,
    vni: Option<u32>,
) -> Option<u128> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        return None;
    };
    Some(compact_tunnel4(
        slot,
        encap,
        u32::from(s),
        u32::from(d),
        vni,
    ))
}

/// [`compact_tunnel`] for IPv4 addresses given as numbers.
#[inline(always)]
pub(crate) fn compact_tunnel4(
    slot: u32,
    encap: Encap,
    src: u32,
    dst: u32,
    vni: Option<u32>,
) -> u128 {
    u128::from(src)
        | u128::from(dst) << 32
        | u128::from(vni.unwrap_or(0)) << 64
        | u128::from(slot as u16) << 96
        | (encap as u128) << 112
        | u128::from(vni.is_some()) << 120
}

/// [`PairKey::compact`] from the pair's parts.
#[inline(always)]
pub(crate) fn compact_pair(ti: u32, src: IpAddr, dst: IpAddr) -> Option<u128> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        return None;
    };
    Some(compact_pair4(ti, u32::from(s), u32::from(d)))
}

/// [`compact_pair`] for IPv4 addresses given as numbers.
#[inline(always)]
pub(crate) fn compact_pair4(ti: u32, src: u32, dst: u32) -> u128 {
    u128::from(src) | u128::from(dst) << 32 | u128::from(ti) << 64
}

/// The tunnel index of a [`compact_pair4`] key.
#[inline(always)]
pub(crate) fn pair4_tunnel(k: u128) -> u32 {
    (k >> 64) as u32
}

/// A [`compact_pair4`] key with its tunnel index replaced by `ti` (the
/// same tunnel's index in another table).
#[inline(always)]
pub(crate) fn pair4_in_tunnel(k: u128, ti: u32) -> u128 {
    k & u128::from(u64::MAX) | u128::from(ti) << 64
}

// Hand-written hashes: the derived ones feed every address octet by octet
// (with length prefixes) into the hasher, a measurable share of the per-packet
// cost. These fold each key into a few words; equal keys still hash equally.

impl Hash for TunnelKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let tag = u64::from(self.iface.0)
            | (self.encap as u64) << 32
            | u64::from(self.vni.is_some()) << 40;
        state.write_u64(tag ^ u64::from(self.vni.unwrap_or(0)) << 41);
        state.write_u64(fold(self.outer_src));
        state.write_u64(fold(self.outer_dst));
    }
}

impl Hash for PairKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fold(self.src) ^ fold(self.dst).rotate_left(32));
    }
}

/// An address as one word: IPv4 as is, IPv6 as the xor of its halves, with
/// the family in the top bit so that the two never collide by construction.
#[inline]
pub(crate) fn fold(a: IpAddr) -> u64 {
    match a {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let b = u128::from(v6);
            ((b >> 64) as u64 ^ b as u64) | 1 << 63
        }
    }
}
