//! Link → IP → tunnel walk. `decode_frame` never panics and never allocates:
//! every view checks its length before it reads, and every stop is a named
//! [`DecodeError`] that the flow table counts.

mod fast;
pub mod geneve;
pub mod gre;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod pppoe;
pub mod udp;
pub mod vxlan;
mod walk;

#[cfg(test)]
mod tests_frames;

use std::net::IpAddr;

use crate::linktype::LinkType;

pub use fast::{quick_frame, Quick};
pub use geneve::Packet as GenevePacket;
pub use gre::Packet as GrePacket;
pub use icmp::TooBig;
pub use ip::Protocol as IpProtocol;
pub use ipv4::Packet as Ipv4Packet;
pub use ipv6::Packet as Ipv6Packet;
pub use link::{EtherType, Network};
pub use pppoe::Packet as PppoePacket;
pub use udp::Packet as UdpPacket;
pub use vxlan::Packet as VxlanPacket;

/// Decodes one captured frame: link layer, outer IP, then the tunnel walk.
///
/// Never panics and never allocates, whatever the bytes; a frame the link
/// layer or outer IP header cannot carry is `Kind::Undecodable`.
#[inline]
pub fn decode_frame(data: &[u8], linktype: LinkType, cfg: &DecodeConfig) -> Decoded {
    let mut out = Decoded {
        sll2_ifindex: None,
        kind: Kind::NotIp,
    };
    decode_frame_into(data, linktype, cfg, &mut out);
    out
}

/// [`decode_frame`] writing into `out`: hot loops decode straight into
/// their batch, saving the copies of a ~100-byte result.
#[inline]
pub fn decode_frame_into(data: &[u8], linktype: LinkType, cfg: &DecodeConfig, out: &mut Decoded) {
    match link::parse(data, linktype) {
        Ok(link) => {
            out.sll2_ifindex = link.ifindex;
            if let Network::Ipv4(b) = link.network {
                if let Some(q) = fast::quick_ipv4(b, cfg) {
                    out.kind = q.kind();
                    return;
                }
            }
            walk::walk(link.network, cfg, &mut out.kind);
        }
        Err(err) => {
            out.sll2_ifindex = None;
            out.kind = Kind::Undecodable(err);
        }
    }
}

/// [`decode_frame`] without the fast path: the general walk alone, the
/// reference the fast path must agree with (checked by tests and the
/// `decode_frame` fuzz target).
pub fn walk_frame(data: &[u8], linktype: LinkType, cfg: &DecodeConfig) -> Decoded {
    let mut out = Decoded::default();
    match link::parse(data, linktype) {
        Ok(l) => {
            out.sll2_ifindex = l.ifindex;
            walk::walk(l.network, cfg, &mut out.kind);
        }
        Err(e) => out.kind = Kind::Undecodable(e),
    }
    out
}

/// Which encapsulation a tunnel uses; serde writes the JSON `encap` values
/// ([`Encap::as_str`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Encap {
    /// IPv4 in IPv4 (protocol 4): Calico IPIP.
    Ipip,
    /// IPv6 in IPv4 (protocol 41).
    Ip6in4,
    /// IPv4 in IPv6 (next header 4).
    Ip4in6,
    /// IPv6 in IPv6 (next header 41).
    Ip6in6,
    Gre,
    Vxlan,
    Geneve,
}

impl Encap {
    pub const ALL: [Encap; 7] = [
        Encap::Ipip,
        Encap::Ip6in4,
        Encap::Ip4in6,
        Encap::Ip6in6,
        Encap::Gre,
        Encap::Vxlan,
        Encap::Geneve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Encap::Ipip => "ipip",
            Encap::Ip6in4 => "ip6in4",
            Encap::Ip4in6 => "ip4in6",
            Encap::Ip6in6 => "ip6in6",
            Encap::Gre => "gre",
            Encap::Vxlan => "vxlan",
            Encap::Geneve => "geneve",
        }
    }

    /// Upper-case label for human output (`IPIP`, `VXLAN`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Encap::Ipip => "IPIP",
            Encap::Ip6in4 => "6in4",
            Encap::Ip4in6 => "4in6",
            Encap::Ip6in6 => "6in6",
            Encap::Gre => "GRE",
            Encap::Vxlan => "VXLAN",
            Encap::Geneve => "Geneve",
        }
    }
}

/// Where an outer IPv4 packet sits in a fragment train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fragment {
    /// Not fragmented.
    Whole,
    /// Offset 0 with more-fragments set: carries the inner header.
    First,
    /// Offset > 0: carries no header; never parsed as one.
    Later,
}

/// The layer where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Link,
    OuterIp,
    Tunnel,
    InnerLink,
    InnerIp,
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The captured bytes end before the header does (snaplen or damage).
    Truncated,
    /// A header field is impossible (bad version, IHL < 5, length < header).
    Malformed,
    /// The link type is not one tuntrace decodes.
    UnsupportedLinkType,
    /// The tunnel nests deeper than the decoder's bound.
    DepthLimit,
    /// PPPoE discovery (0x8863): session set-up, no IP.
    PppoeDiscovery,
    /// A PPP protocol other than IPv4/IPv6 (LCP, IPCP, ...).
    PppNotIp,
    /// A Network Service Header (0x894F), not read.
    Nsh,
    /// Cisco MetaData (0x8909) outside GRE, not read.
    CiscoMetadata,
}

/// A named stop: layer + reason. Counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecodeError {
    pub layer: Layer,
    pub reason: Reason,
}

impl DecodeError {
    pub const fn new(layer: Layer, reason: Reason) -> Self {
        Self { layer, reason }
    }
}

/// The innermost IP pair reached inside a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inner {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol / next header of the innermost packet.
    pub proto: u8,
}

/// A tunnel packet: the outermost tunnel and the innermost pair reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel {
    pub encap: Encap,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    /// VXLAN/Geneve VNI, or the GRE key.
    pub vni: Option<u32>,
    pub fragment: Fragment,
    /// Outer IP total length from the header (IPv4 total length, IPv6 40 +
    /// payload); the captured length for offload super-frames whose header
    /// says 0 (BIG TCP, GSO), so near-MTU audits still see them.
    pub outer_ip_len: u32,
    /// Don't-fragment bit of an outer IPv4 header.
    pub outer_df: bool,
    /// `None` for later fragments and for inner headers the bytes do not hold.
    pub inner: Option<Inner>,
    /// Tunnel layers walked (1 = a plain tunnel).
    pub depth: u8,
    /// Why the walk stopped short of an inner pair, if it did.
    pub stop: Option<DecodeError>,
}

/// A non-tunnel IP packet (kept for audits: unencapsulated pod traffic, ICMP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plain {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// Set when this is an ICMP too-big error quoting a tunnel packet.
    pub too_big: Option<TooBig>,
}

/// What one frame turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    Tunnel(Tunnel),
    /// IP, but not a tunnel.
    Plain(Plain),
    /// Not IP at all (ARP, STP, LLDP, ...).
    #[default]
    NotIp,
    /// The link layer or the outer IP header could not be read.
    Undecodable(DecodeError),
}

/// The decoder's result for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decoded {
    /// LINUX_SLL2 carries the capturing interface's index in every packet.
    pub sll2_ifindex: Option<u32>,
    pub kind: Kind,
}

/// Decoder settings: which UDP ports mean VXLAN/Geneve, how deep to walk.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    pub vxlan_ports: Vec<u16>,
    pub geneve_ports: Vec<u16>,
    /// Tunnel layers walked at most before stopping with `DepthLimit`.
    pub max_depth: u8,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            vxlan_ports: vec![4789, 8472],
            geneve_ports: vec![6081],
            max_depth: 8,
        }
    }
}

/// Big-endian u16 at `at`; callers have checked the length.
#[inline(always)]
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// Big-endian u32 at `at`; callers have checked the length.
#[inline(always)]
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
