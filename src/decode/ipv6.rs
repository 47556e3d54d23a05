//! IPv6 header view (RFC 8200) and the extension-header walk.
//!
//! Tunnels hide behind extension headers (a destination-options header
//! before GRE, a fragment header before next-header 41), so the walk skips
//! hop-by-hop, routing, fragment, destination options and AH to reach the
//! upper-layer protocol.

use std::net::Ipv6Addr;

use super::{be16, Fragment, Reason};

pub const HEADER_LEN: usize = 40;

mod field {
    use core::ops::Range;
    pub const VERSION: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Extension-header numbers the walk steps over.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AH: u8 = 51;
    pub const DEST_OPTS: u8 = 60;
}

const FRAGMENT_HEADER_LEN: usize = 8;

/// A checked, zero-copy view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

/// The upper layer reached after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upper<'a> {
    /// Upper-layer protocol, or the extension header the bytes ended in.
    pub proto: u8,
    pub payload: &'a [u8],
    pub fragment: Fragment,
    /// The extension-header chain ended before the upper layer.
    pub truncated: bool,
}

impl<'a> Packet<'a> {
    /// Checks the version and the fixed header; once this passes no accessor
    /// panics.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Reason> {
        let Some(&first) = buf.first() else {
            return Err(Reason::Truncated);
        };
        if first >> 4 != 6 {
            return Err(Reason::Malformed);
        }
        if buf.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(Packet { buf })
    }

    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.buf, field::PAYLOAD_LEN)
    }

    /// 40 + payload length: what the header says the packet is.
    #[inline]
    pub fn total_len(&self) -> u32 {
        HEADER_LEN as u32 + u32::from(self.payload_len())
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buf[field::NEXT_HEADER]
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buf[field::VERSION] >> 4
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(octets(&self.buf[field::SRC]))
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(octets(&self.buf[field::DST]))
    }

    /// The packet's length for counting: [`Self::total_len`], or 40 + the
    /// captured payload when the payload length is 0 (see [`Self::payload`]).
    #[inline]
    pub fn packet_len(&self) -> u32 {
        HEADER_LEN as u32 + self.payload().len() as u32
    }

    /// The payload bytes captured, cut at the payload length. A zero length
    /// means the captured bytes are the payload: a jumbogram (hop-by-hop
    /// Jumbo option), or a BIG TCP / GSO super-frame, which Linux hands to
    /// packet taps with length 0 and no Jumbo option (tcpdump: "payload
    /// length 0 ... presumed BIG TCP"); as IPv4's total length 0.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let len = usize::from(self.payload_len());
        let rest = &self.buf[HEADER_LEN..];
        if len == 0 {
            rest
        } else {
            &rest[..len.min(rest.len())]
        }
    }

    /// Walks the extension headers. Each one is at least 8 bytes long, so the
    /// walk ends with the payload.
    #[inline]
    pub fn upper(&self) -> Upper<'a> {
        let mut proto = self.next_header();
        let mut rest = self.payload();
        let mut fragment = Fragment::Whole;
        loop {
            let len = match proto {
                next_header::HOP_BY_HOP | next_header::ROUTING | next_header::DEST_OPTS => {
                    match rest.get(1) {
                        Some(&n) => (usize::from(n) + 1) * 8,
                        None => return Upper::cut(proto, fragment),
                    }
                }
                next_header::AH => match rest.get(1) {
                    Some(&n) => (usize::from(n) + 2) * 4,
                    None => return Upper::cut(proto, fragment),
                },
                next_header::FRAGMENT => {
                    if rest.len() < FRAGMENT_HEADER_LEN {
                        return Upper::cut(proto, fragment);
                    }
                    let off_m = be16(rest, 2);
                    if off_m >> 3 != 0 {
                        // Later fragment: its bytes hold no header to walk.
                        return Upper {
                            proto: rest[0],
                            payload: &rest[FRAGMENT_HEADER_LEN..],
                            fragment: Fragment::Later,
                            truncated: false,
                        };
                    }
                    if off_m & 1 != 0 {
                        fragment = Fragment::First;
                    }
                    FRAGMENT_HEADER_LEN
                }
                _ => {
                    return Upper {
                        proto,
                        payload: rest,
                        fragment,
                        truncated: false,
                    }
                }
            };
            if rest.len() < len {
                return Upper::cut(proto, fragment);
            }
            proto = rest[0];
            rest = &rest[len..];
        }
    }
}

impl Upper<'_> {
    #[inline]
    fn cut(proto: u8, fragment: Fragment) -> Self {
        Upper {
            proto,
            payload: &[],
            fragment,
            truncated: true,
        }
    }
}

#[inline(always)]
fn octets(b: &[u8]) -> [u8; 16] {
    let mut o = [0u8; 16];
    o.copy_from_slice(b);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    // zeek-6in6in6.pcap: the innermost IPv6 header (dead::beef -> cafe::babe, UDP).
    static INNER_6IN6IN6: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x11, 0x40, 0xde, 0xad, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0xbe, 0xef, 0xca, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xba, 0xbe,
    ];

    #[test]
    fn deconstruct_real_header() {
        let p = Packet::new_checked(&INNER_6IN6IN6).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.payload_len(), 12);
        assert_eq!(p.total_len(), 52);
        assert_eq!(p.src_addr(), "dead::beef".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "cafe::babe".parse::<Ipv6Addr>().unwrap());
        let up = p.upper();
        assert_eq!(
            (up.proto, up.fragment, up.truncated),
            (17, Fragment::Whole, false)
        );
    }

    #[test]
    fn rejects_bad_version_and_short() {
        let mut h = INNER_6IN6IN6;
        assert_eq!(Packet::new_checked(&h[..39]), Err(Reason::Truncated));
        h[0] = 0x40;
        assert_eq!(Packet::new_checked(&h), Err(Reason::Malformed));
    }

    fn with_ext(chain: &[u8], first: u8) -> Vec<u8> {
        synth::ipv6("::1".parse().unwrap(), "::2".parse().unwrap(), first, chain)
    }

    #[test]
    fn walks_extension_headers() {
        // Hop-by-hop (8) -> routing (16) -> dest opts (8) -> AH (12) -> GRE.
        let mut chain = vec![43, 0, 0, 0, 0, 0, 0, 0];
        chain.extend_from_slice(&[60, 1]);
        chain.extend_from_slice(&[0; 14]);
        chain.extend_from_slice(&[51, 0, 0, 0, 0, 0, 0, 0]);
        chain.extend_from_slice(&[47, 1]);
        chain.extend_from_slice(&[0; 10]);
        chain.extend_from_slice(&[0, 0, 0x08, 0x00]);
        let pkt = with_ext(&chain, 0);
        let up = Packet::new_checked(&pkt).unwrap().upper();
        assert_eq!(up.proto, 47);
        assert_eq!(up.payload, &[0, 0, 0x08, 0x00]);
        assert!(!up.truncated);
    }

    #[test]
    fn fragment_headers() {
        let first = with_ext(&[41, 0, 0x00, 0x01, 0, 0, 0, 1, 0x60], 44);
        let up = Packet::new_checked(&first).unwrap().upper();
        assert_eq!((up.proto, up.fragment), (41, Fragment::First));
        assert_eq!(up.payload, &[0x60]);
        let later = with_ext(&[41, 0, 0x00, 0x08, 0, 0, 0, 1, 0x60], 44);
        let up = Packet::new_checked(&later).unwrap().upper();
        assert_eq!((up.proto, up.fragment), (41, Fragment::Later));
        let atomic = with_ext(&[17, 0, 0, 0, 0, 0, 0, 1], 44);
        let up = Packet::new_checked(&atomic).unwrap().upper();
        assert_eq!((up.proto, up.fragment), (17, Fragment::Whole));
    }

    #[test]
    fn truncated_chain_names_the_cut_header() {
        let pkt = with_ext(&[47, 1, 0, 0, 0, 0, 0, 0], 60);
        let up = Packet::new_checked(&pkt).unwrap().upper();
        assert_eq!((up.proto, up.truncated), (60, true));
        let pkt = with_ext(&[], 0);
        assert!(Packet::new_checked(&pkt).unwrap().upper().truncated);
    }

    #[test]
    fn zero_payload_length_is_a_big_tcp_frame() {
        // No hop-by-hop header: the rest of the captured frame is the payload.
        let mut pkt = with_ext(&[0x12, 0x34, 0x17, 0xc1, 0, 0, 0, 0, 8], 17);
        pkt[4..6].copy_from_slice(&[0, 0]);
        let p = Packet::new_checked(&pkt).unwrap();
        assert_eq!((p.total_len(), p.packet_len()), (40, 49));
        let up = p.upper();
        assert_eq!((up.proto, up.payload.len(), up.truncated), (17, 9, false));
    }

    #[test]
    fn payload_length_bounds_padding() {
        let mut pkt = with_ext(&[1, 2, 3], 17);
        pkt.extend_from_slice(&[0xee; 5]);
        let p = Packet::new_checked(&pkt).unwrap();
        assert_eq!(p.payload(), &[1, 2, 3]);
    }
}
