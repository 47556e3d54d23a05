//! Keys of the flow table. Each direction of a tunnel is its own key.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{Encap, Tunnel};
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
    pub fn of(iface: IfaceId, t: &Tunnel) -> Self {
        Self {
            iface,
            encap: t.encap,
            outer_src: t.outer_src,
            outer_dst: t.outer_dst,
            vni: t.vni,
        }
    }
}

/// An inner (pod) pair riding inside a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairKey {
    pub src: IpAddr,
    pub dst: IpAddr,
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
