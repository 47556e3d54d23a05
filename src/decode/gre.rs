//! GRE header view (RFC 2784 / RFC 2890, and RFC 2637 enhanced GRE for
//! PPTP) plus the sub-headers some GRE protocols put before their frame:
//! PPP, ERSPAN type II / III and Cisco MetaData.
//!
//! [`Packet::inner`] reduces all of them to "an EtherType and its bytes", so
//! the tunnel walk needs one rule for every GRE flavour.

use super::link::ethertype;
use super::pppoe::PppProtocol;
use super::{be16, be32, Reason};

/// Flags-and-version plus protocol.
pub const HEADER_LEN: usize = 4;

mod flag {
    pub const CHECKSUM: u16 = 0x8000;
    /// RFC 1701 routing: RFC 2784 receivers must drop it.
    pub const ROUTING: u16 = 0x4000;
    pub const KEY: u16 = 0x2000;
    pub const SEQUENCE: u16 = 0x1000;
    /// Enhanced GRE (version 1) acknowledgment number present.
    pub const ACK: u16 = 0x0080;
    pub const VERSION: u16 = 0x0007;
}

mod field {
    pub const FLAGS_VERSION: usize = 0;
    pub const PROTOCOL: usize = 2;
    pub const OPTIONAL: usize = 4;
}

/// GRE protocol types with a sub-header of their own.
pub mod protocol {
    /// PPP, in enhanced GRE (PPTP).
    pub const PPP: u16 = 0x880B;
    pub const ERSPAN_II: u16 = 0x88BE;
    pub const ERSPAN_III: u16 = 0x22EB;
    pub const CISCO_METADATA: u16 = 0x8909;
}

/// A checked, zero-copy view of a GRE packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the version, the flags it allows and that every optional field
    /// the flags announce is captured.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Reason> {
        if buf.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        let p = Packet { buf };
        let f = p.flags_version();
        match f & flag::VERSION {
            0 if f & flag::ROUTING == 0 => {}
            1 if f & (flag::KEY | flag::CHECKSUM | flag::ROUTING) == flag::KEY => {}
            _ => return Err(Reason::Malformed),
        }
        if buf.len() < p.header_len() {
            return Err(Reason::Truncated);
        }
        Ok(p)
    }

    #[inline]
    fn flags_version(&self) -> u16 {
        be16(self.buf, field::FLAGS_VERSION)
    }

    #[inline]
    fn has(&self, f: u16) -> bool {
        self.flags_version() & f != 0
    }

    /// 0 for RFC 2784 GRE, 1 for enhanced GRE (PPTP).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.flags_version() & flag::VERSION) as u8
    }

    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.buf, field::PROTOCOL)
    }

    #[inline]
    pub fn sequence_present(&self) -> bool {
        self.has(flag::SEQUENCE)
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        let f = self.flags_version();
        let word = |present: bool| if present { 4 } else { 0 };
        HEADER_LEN
            + word(f & flag::CHECKSUM != 0)
            + word(f & flag::KEY != 0)
            + word(f & flag::SEQUENCE != 0)
            + word(f & flag::ACK != 0 && f & flag::VERSION == 1)
    }

    #[inline]
    fn key_word(&self) -> Option<u32> {
        if !self.has(flag::KEY) {
            return None;
        }
        let at = field::OPTIONAL + if self.has(flag::CHECKSUM) { 4 } else { 0 };
        Some(be32(self.buf, at))
    }

    /// The key that tells tunnels apart: the GRE key (version 0), or the
    /// PPTP call ID (version 1, whose key word also holds a per-packet
    /// payload length that must not split one tunnel into many).
    #[inline]
    pub fn key(&self) -> Option<u32> {
        let word = self.key_word()?;
        Some(if self.version() == 1 {
            word & 0xffff
        } else {
            word
        })
    }

    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len()..]
    }

    /// The frame this packet carries, as an EtherType and its bytes, after
    /// any PPP / ERSPAN / MetaData sub-header. EtherType 0 means "nothing
    /// decodable follows" (PPP control, a PPTP ack, an unknown variant).
    #[inline]
    pub fn inner(&self) -> Result<(u16, &'a [u8]), Reason> {
        let payload = self.payload();
        match self.protocol() {
            protocol::PPP if self.version() == 1 => {
                // Payload length 0: an acknowledgment with no PPP frame.
                match self.key_word() {
                    Some(w) if w >> 16 == 0 => Ok(NOTHING),
                    _ => ppp(payload),
                }
            }
            // Type I has no header; type II is announced by the sequence bit.
            protocol::ERSPAN_II if !self.sequence_present() => Ok((ethertype::TEB, payload)),
            protocol::ERSPAN_II => erspan(payload, 1, ERSPAN_II_LEN),
            protocol::ERSPAN_III => erspan(payload, 2, ERSPAN_III_LEN),
            protocol::CISCO_METADATA => cisco_metadata(payload),
            other => Ok((other, payload)),
        }
    }
}

const NOTHING: (u16, &[u8]) = (0, &[]);

/// PPP in PPTP: optional FF 03 address/control, a 1- or 2-byte protocol
/// (RFC 1661 field compression: an odd first byte is the whole field).
fn ppp(mut b: &[u8]) -> Result<(u16, &[u8]), Reason> {
    if b.starts_with(&[0xff, 0x03]) {
        b = &b[2..];
    }
    let (proto, rest) = match b {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return Err(Reason::Truncated),
    };
    Ok(match PppProtocol::from(proto) {
        PppProtocol::Ipv4 => (ethertype::IPV4, rest),
        PppProtocol::Ipv6 => (ethertype::IPV6, rest),
        PppProtocol::Unknown(_) => NOTHING,
    })
}

const ERSPAN_II_LEN: usize = 8;
const ERSPAN_III_LEN: usize = 12;
const ERSPAN_III_PLATFORM_LEN: usize = 8;

/// ERSPAN II / III: a version-checked header, then the mirrored Ethernet
/// frame. Type III's O bit adds an 8-byte platform sub-header.
fn erspan(b: &[u8], version: u8, len: usize) -> Result<(u16, &[u8]), Reason> {
    if b.len() < len {
        return Err(Reason::Truncated);
    }
    if b[0] >> 4 != version {
        return Err(Reason::Malformed);
    }
    let mut rest = &b[len..];
    if version == 2 && b[11] & 0x01 != 0 {
        rest = rest
            .get(ERSPAN_III_PLATFORM_LEN..)
            .ok_or(Reason::Truncated)?;
    }
    Ok((ethertype::TEB, rest))
}

/// Cisco MetaData in GRE as Cisco gear sends it: next EtherType, version 1,
/// length 1, one SGT option — 8 bytes. Other shapes are not decoded.
fn cisco_metadata(b: &[u8]) -> Result<(u16, &[u8]), Reason> {
    const LEN: usize = 8;
    if b.len() < LEN {
        return Err(Reason::Truncated);
    }
    if b[2] != 1 || b[3] != 1 {
        return Ok(NOTHING);
    }
    Ok((be16(b, 0), &b[LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    // pcapplusplus-GrePackets frame 7: key 0xfde8, transparent Ethernet bridging.
    static TEB_KEYED: [u8; 10] = [0x20, 0x00, 0x65, 0x58, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0xae];
    // pcapplusplus-GrePackets frame 3: checksum present, IPv4.
    static CHECKSUMMED: [u8; 9] = [0x80, 0x00, 0x08, 0x00, 0x77, 0xff, 0x00, 0x00, 0x45];
    // pcapplusplus-GrePackets frame 1: v1, K S A, PPP CCP (not IP).
    static PPTP_CCP: [u8; 22] = [
        0x30, 0x81, 0x88, 0x0b, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00,
        0x11, 0xff, 0x03, 0x80, 0xfd, 0x06, 0x04,
    ];
    // pcapplusplus-GrePackets frame 2: v1 acknowledgment only, payload length 0.
    static PPTP_ACK: [u8; 12] = [
        0x20, 0x81, 0x88, 0x0b, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x1a,
    ];
    // tcpdump-various_gre.pcap frame 11: key 0x28, Cisco MetaData -> IPv4.
    static METADATA: [u8; 17] = [
        0x20, 0x00, 0x89, 0x09, 0x00, 0x00, 0x00, 0x28, 0x08, 0x00, 0x01, 0x01, 0x00, 0x01, 0x00,
        0x00, 0x45,
    ];

    #[test]
    fn keyed_teb() {
        let p = Packet::new_checked(&TEB_KEYED).unwrap();
        assert_eq!((p.version(), p.header_len(), p.key()), (0, 8, Some(0xfde8)));
        assert_eq!(p.inner(), Ok((0x6558, &[0x00, 0xae][..])));
    }

    #[test]
    fn checksum_word() {
        let p = Packet::new_checked(&CHECKSUMMED).unwrap();
        assert_eq!((p.header_len(), p.key()), (8, None));
        assert_eq!(p.inner(), Ok((0x0800, &[0x45][..])));
    }

    #[test]
    fn pptp() {
        let p = Packet::new_checked(&PPTP_CCP).unwrap();
        assert_eq!((p.version(), p.header_len(), p.key()), (1, 16, Some(6)));
        assert_eq!(p.inner(), Ok(NOTHING));
        let ack = Packet::new_checked(&PPTP_ACK).unwrap();
        assert_eq!(ack.inner(), Ok(NOTHING));
        assert_eq!(
            ppp(&[0xff, 0x03, 0x00, 0x21, 0x45]),
            Ok((0x0800, &[0x45][..]))
        );
        assert_eq!(ppp(&[0x57, 0x60]), Ok((0x86DD, &[0x60][..])));
        assert_eq!(ppp(&[0xff, 0x03]), Err(Reason::Truncated));
    }

    #[test]
    fn cisco_metadata_to_ipv4() {
        let p = Packet::new_checked(&METADATA).unwrap();
        assert_eq!(p.key(), Some(0x28));
        assert_eq!(p.inner(), Ok((0x0800, &[0x45][..])));
        assert_eq!(
            Packet::new_checked(&METADATA[..12]).unwrap().inner(),
            Err(Reason::Truncated)
        );
    }

    #[test]
    fn erspan_types() {
        // Type I: no sequence bit, no header.
        let g = [0x00, 0x00, 0x88, 0xbe, 0xaa];
        assert_eq!(
            Packet::new_checked(&g).unwrap().inner(),
            Ok((0x6558, &[0xaa][..]))
        );
        // Type II.
        let mut g = vec![
            0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 0, 0x10, 0, 0, 0x14, 0, 0, 0, 1,
        ];
        g.push(0xbb);
        assert_eq!(
            Packet::new_checked(&g).unwrap().inner(),
            Ok((0x6558, &[0xbb][..]))
        );
        g[8] = 0x20;
        assert_eq!(
            Packet::new_checked(&g).unwrap().inner(),
            Err(Reason::Malformed)
        );
        // Type III with and without the platform sub-header.
        let mut g = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 0, 0x20];
        g.extend_from_slice(&[0; 11]);
        g.push(0xcc);
        assert_eq!(
            Packet::new_checked(&g).unwrap().inner(),
            Ok((0x6558, &[0xcc][..]))
        );
        g[19] = 0x01;
        assert_eq!(
            Packet::new_checked(&g).unwrap().inner(),
            Err(Reason::Truncated)
        );
        g.extend_from_slice(&[0; 7]); // with 0xcc: the 8-byte sub-header
        g.push(0xdd);
        assert_eq!(
            Packet::new_checked(&g).unwrap().inner(),
            Ok((0x6558, &[0xdd][..]))
        );
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(
            Packet::new_checked(&[0x20, 0x00, 0x08]),
            Err(Reason::Truncated)
        );
        // Key announced, not captured.
        assert_eq!(Packet::new_checked(&TEB_KEYED[..6]), Err(Reason::Truncated));
        // Routing bit, version 2, and v1 without a key.
        for fv in [[0x40, 0x00], [0x00, 0x02], [0x00, 0x01]] {
            let b = [fv[0], fv[1], 0x08, 0x00, 0, 0, 0, 0];
            assert_eq!(Packet::new_checked(&b), Err(Reason::Malformed));
        }
    }

    #[test]
    fn synth_round_trip() {
        let b = synth::gre(0x86DD, Some(7), &[0x60]);
        let p = Packet::new_checked(&b).unwrap();
        assert_eq!((p.key(), p.inner()), (Some(7), Ok((0x86DD, &[0x60][..]))));
        let b = synth::gre(0x0800, None, &[0x45]);
        assert_eq!(Packet::new_checked(&b).unwrap().header_len(), 4);
    }
}
