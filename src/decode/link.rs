//! Link layers: find the network-layer bytes a frame carries.
//!
//! Ethernet (with any number of 802.1Q / 802.1ad tags, an MPLS label
//! stack, PPPoE sessions), Linux cooked captures (SLL, SLL2), raw IP and BSD loopback.
//! The link type is the one the capture declared; nothing is guessed except
//! the IP version of raw frames, which the link type leaves open.

use super::{be16, be32, pppoe, DecodeError, Layer, Reason};
use crate::linktype::LinkType;

/// An EtherType the decoder names. An unseen value is data: `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Ipv6,
    /// 802.1Q customer tag.
    Vlan,
    /// 802.1ad service tag.
    QinQ,
    /// Pre-standard service tag some switches still send.
    QinQOld,
    MplsUnicast,
    MplsMulticast,
    /// Transparent Ethernet bridging (GRE, Geneve).
    Teb,
    PppoeDiscovery,
    PppoeSession,
    /// Network Service Header (RFC 8300): not read, counted.
    Nsh,
    /// Cisco MetaData directly on Ethernet: not read, counted.
    CiscoMetadata,
    Unknown(u16),
}

impl EtherType {
    /// The number on the wire.
    #[inline(always)]
    pub const fn number(self) -> u16 {
        match self {
            EtherType::Ipv4 => 0x0800,
            EtherType::Ipv6 => 0x86DD,
            EtherType::Vlan => 0x8100,
            EtherType::QinQ => 0x88A8,
            EtherType::QinQOld => 0x9100,
            EtherType::MplsUnicast => 0x8847,
            EtherType::MplsMulticast => 0x8848,
            EtherType::Teb => 0x6558,
            EtherType::PppoeDiscovery => 0x8863,
            EtherType::PppoeSession => 0x8864,
            EtherType::Nsh => 0x894F,
            EtherType::CiscoMetadata => 0x8909,
            EtherType::Unknown(n) => n,
        }
    }
}

impl From<u16> for EtherType {
    #[inline(always)]
    fn from(n: u16) -> Self {
        match n {
            0x0800 => EtherType::Ipv4,
            0x86DD => EtherType::Ipv6,
            0x8100 => EtherType::Vlan,
            0x88A8 => EtherType::QinQ,
            0x9100 => EtherType::QinQOld,
            0x8847 => EtherType::MplsUnicast,
            0x8848 => EtherType::MplsMulticast,
            0x6558 => EtherType::Teb,
            0x8863 => EtherType::PppoeDiscovery,
            0x8864 => EtherType::PppoeSession,
            0x894F => EtherType::Nsh,
            0x8909 => EtherType::CiscoMetadata,
            n => EtherType::Unknown(n),
        }
    }
}

/// EtherType numbers, for the tunnel headers that name their payload by one.
pub mod ethertype {
    use super::EtherType;
    pub const IPV4: u16 = EtherType::Ipv4.number();
    pub const IPV6: u16 = EtherType::Ipv6.number();
    pub const TEB: u16 = EtherType::Teb.number();
    /// Smallest value that is an EtherType rather than an 802.3 length.
    pub const MIN: u16 = 0x0600;
}

/// Ethernet II header length.
pub const ETHERNET_LEN: usize = 14;
/// One 802.1Q / 802.1ad tag.
pub const TAG_LEN: usize = 4;
/// LINUX_SLL header length.
pub const SLL_LEN: usize = 16;
/// LINUX_SLL2 header length.
pub const SLL2_LEN: usize = 20;
/// NULL / LOOP address-family word.
pub const NULL_LEN: usize = 4;

mod field {
    use core::ops::Range;
    pub const ETH_TYPE: usize = 12;
    pub const TAG_TYPE: usize = 2;
    pub const SLL_PROTOCOL: usize = 14;
    pub const SLL2_PROTOCOL: usize = 0;
    pub const SLL2_IFINDEX: Range<usize> = 4..8;
}

/// BSD address families that mean IPv4 / IPv6 in a NULL or LOOP header.
mod af {
    pub const INET: u32 = 2;
    /// NetBSD / OpenBSD, FreeBSD, Darwin.
    pub const INET6: [u32; 3] = [24, 28, 30];
}

/// The network-layer bytes a link header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// ARP, STP/LLC, LLDP, ...: a frame, but not IP.
    NotIp,
}

/// A parsed link header: what it carries and, for SLL2, where it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link<'a> {
    pub ifindex: Option<u32>,
    pub network: Network<'a>,
}

impl<'a> Link<'a> {
    #[inline]
    fn plain(network: Network<'a>) -> Self {
        Link {
            ifindex: None,
            network,
        }
    }
}

/// Strips the link header named by `linktype`.
///
/// Errors name the link layer, except raw-IP link types whose first byte is
/// already the outer IP header.
#[inline]
pub fn parse(data: &[u8], linktype: LinkType) -> Result<Link<'_>, DecodeError> {
    let link_err = |reason| DecodeError::new(Layer::Link, reason);
    match linktype {
        LinkType::ETHERNET => ethernet(data).map(Link::plain).map_err(link_err),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => raw(data).map(Link::plain),
        LinkType::IPV4 => Ok(Link::plain(Network::Ipv4(data))),
        LinkType::IPV6 => Ok(Link::plain(Network::Ipv6(data))),
        LinkType::LINUX_SLL => sll(data).map(Link::plain).map_err(link_err),
        LinkType::LINUX_SLL2 => sll2(data).map_err(link_err),
        LinkType::NULL => null(data, false).map(Link::plain).map_err(link_err),
        LinkType::LOOP => null(data, true).map(Link::plain).map_err(link_err),
        _ => Err(link_err(Reason::UnsupportedLinkType)),
    }
}

/// Ethernet II, also used for frames inside VXLAN, Geneve, GRE TEB and ERSPAN.
#[inline]
pub fn ethernet(data: &[u8]) -> Result<Network<'_>, Reason> {
    if data.len() < ETHERNET_LEN {
        return Err(Reason::Truncated);
    }
    by_ethertype(be16(data, field::ETH_TYPE), &data[ETHERNET_LEN..])
}

/// Follows an EtherType through VLAN tags, MPLS and PPPoE to IP.
///
/// Every tag consumes four bytes, so the loop ends with the data. Protocols
/// that may carry IP but are not read (NSH, Cisco MetaData, PPPoE discovery)
/// are named stops, so their frames are counted rather than lost.
#[inline]
pub fn by_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Result<Network<'_>, Reason> {
    loop {
        match EtherType::from(ethertype) {
            EtherType::Ipv4 => return Ok(Network::Ipv4(rest)),
            EtherType::Ipv6 => return Ok(Network::Ipv6(rest)),
            EtherType::Vlan | EtherType::QinQ | EtherType::QinQOld => {
                if rest.len() < TAG_LEN {
                    return Err(Reason::Truncated);
                }
                ethertype = be16(rest, field::TAG_TYPE);
                rest = &rest[TAG_LEN..];
            }
            EtherType::MplsUnicast | EtherType::MplsMulticast => return mpls(rest),
            EtherType::PppoeSession => return pppoe::network(rest),
            EtherType::PppoeDiscovery => return Err(Reason::PppoeDiscovery),
            EtherType::Nsh => return Err(Reason::Nsh),
            EtherType::CiscoMetadata => return Err(Reason::CiscoMetadata),
            EtherType::Teb | EtherType::Unknown(_) => return Ok(Network::NotIp),
        }
    }
}

/// An MPLS label stack; the payload after the bottom label is IP when its
/// version nibble says so (no pseudowire control word is assumed).
fn mpls(mut rest: &[u8]) -> Result<Network<'_>, Reason> {
    const ENTRY_LEN: usize = 4;
    const BOTTOM_OF_STACK: u8 = 0x01;
    loop {
        if rest.len() < ENTRY_LEN {
            return Err(Reason::Truncated);
        }
        let bottom = rest[2] & BOTTOM_OF_STACK != 0;
        rest = &rest[ENTRY_LEN..];
        if bottom {
            break;
        }
    }
    match rest.first().map(|b| b >> 4) {
        Some(4) => Ok(Network::Ipv4(rest)),
        Some(6) => Ok(Network::Ipv6(rest)),
        Some(_) => Ok(Network::NotIp),
        None => Err(Reason::Truncated),
    }
}

/// Raw IP: the version nibble picks IPv4 or IPv6. Any other nibble means the
/// outer IP header itself is unreadable.
#[inline]
fn raw(data: &[u8]) -> Result<Network<'_>, DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Ok(Network::Ipv4(data)),
        Some(6) => Ok(Network::Ipv6(data)),
        Some(_) => Err(DecodeError::new(Layer::OuterIp, Reason::Malformed)),
        None => Err(DecodeError::new(Layer::OuterIp, Reason::Truncated)),
    }
}

/// LINUX_SLL: the protocol field is an EtherType for IP; small values
/// (802.2 LLC, Novell, CAN, ...) are never IP.
#[inline]
fn sll(data: &[u8]) -> Result<Network<'_>, Reason> {
    if data.len() < SLL_LEN {
        return Err(Reason::Truncated);
    }
    cooked(be16(data, field::SLL_PROTOCOL), &data[SLL_LEN..])
}

/// LINUX_SLL2: as SLL, plus the capturing interface's index.
#[inline]
fn sll2(data: &[u8]) -> Result<Link<'_>, Reason> {
    if data.len() < SLL2_LEN {
        return Err(Reason::Truncated);
    }
    let ifindex = be32(data, field::SLL2_IFINDEX.start);
    let network = cooked(be16(data, field::SLL2_PROTOCOL), &data[SLL2_LEN..])?;
    Ok(Link {
        ifindex: Some(ifindex),
        network,
    })
}

#[inline]
fn cooked(protocol: u16, rest: &[u8]) -> Result<Network<'_>, Reason> {
    if protocol < ethertype::MIN {
        return Ok(Network::NotIp);
    }
    by_ethertype(protocol, rest)
}

/// NULL (family in the writer's byte order, so both are tried) and LOOP
/// (family always big-endian).
#[inline]
fn null(data: &[u8], big_endian_only: bool) -> Result<Network<'_>, Reason> {
    if data.len() < NULL_LEN {
        return Err(Reason::Truncated);
    }
    let word = [data[0], data[1], data[2], data[3]];
    let rest = &data[NULL_LEN..];
    let be = u32::from_be_bytes(word);
    let le = u32::from_le_bytes(word);
    let is = |family: u32| be == family || (!big_endian_only && le == family);
    if is(af::INET) {
        Ok(Network::Ipv4(rest))
    } else if af::INET6.iter().any(|&f| is(f)) {
        Ok(Network::Ipv6(rest))
    } else {
        Ok(Network::NotIp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    const IP: &[u8] = &[0x45, 0, 0, 20];

    #[test]
    fn ethernet_plain_and_tagged() {
        let f = synth::ethernet([2; 6], [4; 6], 0x0800, IP);
        assert_eq!(ethernet(&f), Ok(Network::Ipv4(IP)));
        let tagged = synth::ethernet([2; 6], [4; 6], 0x8100, &synth::vlan(10, 0x86DD, IP));
        assert_eq!(ethernet(&tagged), Ok(Network::Ipv6(IP)));
        // 802.1ad + 802.1Q + 0x9100, any number of tags.
        let inner = synth::vlan(3, 0x0800, IP);
        let mid = synth::vlan(2, 0x8100, &inner);
        let outer = synth::vlan(1, 0x9100, &mid);
        let f = synth::ethernet([2; 6], [4; 6], 0x88A8, &outer);
        assert_eq!(ethernet(&f), Ok(Network::Ipv4(IP)));
    }

    #[test]
    fn ethernet_not_ip_and_truncated() {
        let arp = synth::ethernet([2; 6], [4; 6], 0x0806, &[0; 28]);
        assert_eq!(ethernet(&arp), Ok(Network::NotIp));
        // 802.3 length field (STP over LLC).
        let llc = synth::ethernet([2; 6], [4; 6], 0x0026, &[0x42, 0x42, 0x03]);
        assert_eq!(ethernet(&llc), Ok(Network::NotIp));
        assert_eq!(ethernet(&arp[..13]), Err(Reason::Truncated));
        let tagged = synth::ethernet([2; 6], [4; 6], 0x8100, &[0, 1, 8]);
        assert_eq!(ethernet(&tagged), Err(Reason::Truncated));
    }

    #[test]
    fn mpls_stack() {
        // Two labels, the second with bottom-of-stack, then IPv6.
        let payload = [0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64, 0x60, 0, 0, 0];
        let f = synth::ethernet([2; 6], [4; 6], 0x8847, &payload);
        assert_eq!(ethernet(&f), Ok(Network::Ipv6(&payload[8..])));
        let f = synth::ethernet([2; 6], [4; 6], 0x8847, &payload[..6]);
        assert_eq!(ethernet(&f), Err(Reason::Truncated));
        let f = synth::ethernet([2; 6], [4; 6], 0x8847, &[0, 0, 1, 64, 0, 0]);
        assert_eq!(ethernet(&f), Ok(Network::NotIp));
    }

    #[test]
    fn raw_by_version_nibble() {
        let v6 = [0x60, 0, 0, 0];
        assert_eq!(parse(IP, LinkType::RAW).unwrap().network, Network::Ipv4(IP));
        assert_eq!(
            parse(&v6, LinkType::RAW_12).unwrap().network,
            Network::Ipv6(&v6)
        );
        assert_eq!(
            parse(&v6, LinkType::RAW_14).unwrap().network,
            Network::Ipv6(&v6)
        );
        assert_eq!(
            parse(&[0x50], LinkType::RAW),
            Err(DecodeError::new(Layer::OuterIp, Reason::Malformed))
        );
        assert_eq!(
            parse(&[], LinkType::RAW),
            Err(DecodeError::new(Layer::OuterIp, Reason::Truncated))
        );
        // IPV4 / IPV6 link types do not look at the nibble: the IP view does.
        assert_eq!(
            parse(&v6, LinkType::IPV4).unwrap().network,
            Network::Ipv4(&v6)
        );
        assert_eq!(
            parse(IP, LinkType::IPV6).unwrap().network,
            Network::Ipv6(IP)
        );
    }

    #[test]
    fn null_and_loop_families() {
        for (family, want_v6) in [(2u32, false), (24, true), (28, true), (30, true)] {
            for big in [false, true] {
                let f = synth::null_loopback(family, big, IP);
                let want = if want_v6 {
                    Network::Ipv6(IP)
                } else {
                    Network::Ipv4(IP)
                };
                assert_eq!(parse(&f, LinkType::NULL).unwrap().network, want);
                let as_loop = parse(&f, LinkType::LOOP).unwrap().network;
                assert_eq!(as_loop, if big { want } else { Network::NotIp });
            }
        }
        let other = synth::null_loopback(7, false, IP);
        assert_eq!(
            parse(&other, LinkType::NULL).unwrap().network,
            Network::NotIp
        );
        assert_eq!(
            parse(&[2, 0, 0], LinkType::NULL),
            Err(DecodeError::new(Layer::Link, Reason::Truncated))
        );
    }

    #[test]
    fn null_real_bytes() {
        // many_interfaces-1.pcapng interface 10 (NULL, little-endian AF_INET), first 12 bytes.
        let f = [2, 0, 0, 0, 0x45, 0, 0, 0xa4, 0xc6, 0xce, 0, 0];
        assert_eq!(
            parse(&f, LinkType::NULL).unwrap().network,
            Network::Ipv4(&f[4..])
        );
    }

    #[test]
    fn sll_and_sll2() {
        let f = synth::sll(0x0800, IP);
        assert_eq!(
            parse(&f, LinkType::LINUX_SLL).unwrap(),
            Link::plain(Network::Ipv4(IP))
        );
        let f = synth::sll(0x0004, IP);
        assert_eq!(
            parse(&f, LinkType::LINUX_SLL).unwrap().network,
            Network::NotIp
        );
        let f = synth::sll2(7, 0x86DD, IP);
        assert_eq!(
            parse(&f, LinkType::LINUX_SLL2).unwrap(),
            Link {
                ifindex: Some(7),
                network: Network::Ipv6(IP)
            }
        );
        assert_eq!(
            parse(&f[..19], LinkType::LINUX_SLL2),
            Err(DecodeError::new(Layer::Link, Reason::Truncated))
        );
    }

    #[test]
    fn unsupported_link_type() {
        assert_eq!(
            parse(IP, LinkType(147)),
            Err(DecodeError::new(Layer::Link, Reason::UnsupportedLinkType))
        );
    }
}
