//! PPPoE session frames (RFC 2516): PPP over Ethernet, as DSL lines and
//! tunnel brokers carry IP (`mercury-ip_encapsulation.pcap`: 6in4 over
//! PPPoE). A 6-byte PPPoE header, then the 2-byte PPP protocol field (never
//! compressed on PPPoE), then the PPP payload.
//!
//! Only IPv4 and IPv6 are read on; discovery frames and PPP control
//! protocols (LCP, IPCP, ...) are named stops, counted, not lost.

use super::link::Network;
use super::{be16, Reason};

/// PPPoE header plus the PPP protocol field.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const VER_TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const SESSION_ID: usize = 2;
    pub const LENGTH: usize = 4;
    pub const PPP_PROTOCOL: usize = 6;
}

/// Version 1, type 1: the only ones RFC 2516 defines.
const VER_TYPE_1_1: u8 = 0x11;
/// Session data carries code 0.
const CODE_SESSION_DATA: u8 = 0;
/// The PPPoE length counts the PPP protocol field too.
const PPP_PROTOCOL_LEN: usize = 2;

/// A PPP protocol number (RFC 1661 / IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PppProtocol {
    Ipv4,
    Ipv6,
    /// LCP, IPCP, CHAP, ...: nothing IP follows.
    Unknown(u16),
}

impl From<u16> for PppProtocol {
    #[inline]
    fn from(n: u16) -> Self {
        match n {
            0x0021 => PppProtocol::Ipv4,
            0x0057 => PppProtocol::Ipv6,
            n => PppProtocol::Unknown(n),
        }
    }
}

/// A checked, zero-copy view of a PPPoE session frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header is captured, version/type 1/1, code 0 and a length
    /// that holds the PPP protocol field; once this passes no accessor panics.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Reason> {
        if buf.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        let p = Packet { buf };
        if buf[field::VER_TYPE] != VER_TYPE_1_1
            || buf[field::CODE] != CODE_SESSION_DATA
            || usize::from(p.length()) < PPP_PROTOCOL_LEN
        {
            return Err(Reason::Malformed);
        }
        Ok(p)
    }

    #[inline]
    pub fn session_id(&self) -> u16 {
        be16(self.buf, field::SESSION_ID)
    }

    /// PPPoE payload length: the PPP protocol field and its payload.
    #[inline]
    pub fn length(&self) -> u16 {
        be16(self.buf, field::LENGTH)
    }

    #[inline]
    pub fn ppp_protocol(&self) -> PppProtocol {
        PppProtocol::from(be16(self.buf, field::PPP_PROTOCOL))
    }

    /// The PPP payload captured, cut at the PPPoE length (drops padding).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let len = usize::from(self.length()) - PPP_PROTOCOL_LEN;
        let rest = &self.buf[HEADER_LEN..];
        &rest[..len.min(rest.len())]
    }
}

/// The network layer a session frame carries; other PPP protocols stop
/// with [`Reason::PppNotIp`].
#[inline]
pub fn network(buf: &[u8]) -> Result<Network<'_>, Reason> {
    let p = Packet::new_checked(buf)?;
    match p.ppp_protocol() {
        PppProtocol::Ipv4 => Ok(Network::Ipv4(p.payload())),
        PppProtocol::Ipv6 => Ok(Network::Ipv6(p.payload())),
        PppProtocol::Unknown(_) => Err(Reason::PppNotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // mercury-ip_encapsulation.pcap frame 1, after the Ethernet header:
    // session 0x1dcd, length 0x036f, PPP IPv4, then the IPv4 header's start.
    static SESSION: [u8; 12] = [
        0x11, 0x00, 0x1d, 0xcd, 0x03, 0x6f, 0x00, 0x21, 0x45, 0x00, 0x03, 0x6d,
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&SESSION).unwrap();
        assert_eq!(p.session_id(), 0x1dcd);
        assert_eq!(p.length(), 0x036f);
        assert_eq!(p.ppp_protocol(), PppProtocol::Ipv4);
        assert_eq!(p.payload(), &[0x45, 0x00, 0x03, 0x6d]);
        assert_eq!(network(&SESSION), Ok(Network::Ipv4(&SESSION[8..])));
    }

    #[test]
    fn length_cuts_padding() {
        let mut f = SESSION;
        f[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&f).unwrap().payload(), &[0x45, 0x00]);
    }

    #[test]
    fn ipv6_control_and_damage() {
        let mut f = SESSION;
        f[6..8].copy_from_slice(&0x0057u16.to_be_bytes());
        assert!(matches!(network(&f), Ok(Network::Ipv6(_))));
        f[6..8].copy_from_slice(&0xc021u16.to_be_bytes()); // LCP
        assert_eq!(network(&f), Err(Reason::PppNotIp));
        assert_eq!(network(&SESSION[..7]), Err(Reason::Truncated));
        // Version/type 2/1, code PADI, a length without the protocol field.
        for (at, v) in [(0, 0x21), (1, 0x09), (4, 0)] {
            let mut bad = SESSION;
            bad[at] = v;
            bad[5] = if at == 4 { 1 } else { bad[5] };
            assert_eq!(
                Packet::new_checked(&bad),
                Err(Reason::Malformed),
                "byte {at}"
            );
        }
    }
}
