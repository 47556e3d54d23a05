//! IPv4 header view (RFC 791).
//!
//! Checked from the header bytes alone: a snaplen-cut packet still yields
//! its addresses. The total length only bounds the payload (it drops
//! Ethernet padding); it is never required to be captured.

use std::net::Ipv4Addr;

use super::{be16, Fragment, Reason};

/// Header length without options.
pub const HEADER_LEN: usize = 20;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG: usize = 6;
    pub const PROTOCOL: usize = 9;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A checked, zero-copy view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks version, IHL and the total length field; once this passes no
    /// accessor panics.
    ///
    /// A total length of 0 is accepted: segmentation offload writes it into
    /// captured super-frames, and the captured bytes are the packet then.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Reason> {
        let Some(&ver_ihl) = buf.first() else {
            return Err(Reason::Truncated);
        };
        // Version 4 and an IHL of at least 5 words (20 bytes), in one
        // comparison.
        if !(0x45..=0x4f).contains(&ver_ihl) {
            return Err(Reason::Malformed);
        }
        let header_len = usize::from(ver_ihl & 0x0f) * 4;
        if buf.len() < header_len {
            return Err(Reason::Truncated);
        }
        let total = usize::from(be16(buf, field::TOTAL_LEN));
        if total != 0 && total < header_len {
            return Err(Reason::Malformed);
        }
        Ok(Packet { buf })
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buf[field::VER_IHL] & 0x0f) * 4
    }

    /// The total length field as written.
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buf, field::TOTAL_LEN)
    }

    #[inline]
    fn flags_frag(&self) -> u16 {
        be16(self.buf, field::FLAGS_FRAG)
    }

    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.flags_frag() & DF != 0
    }

    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.flags_frag() & MF != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        self.flags_frag() & OFFSET_MASK
    }

    #[inline]
    pub fn fragment(&self) -> Fragment {
        if self.frag_offset() != 0 {
            Fragment::Later
        } else if self.more_fragments() {
            Fragment::First
        } else {
            Fragment::Whole
        }
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buf[field::PROTOCOL]
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buf[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buf[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The packet's length for counting: the total length, or the captured
    /// length for an offload super-frame whose header says 0.
    #[inline]
    pub fn packet_len(&self) -> u32 {
        match self.total_len() {
            0 => self.buf.len() as u32,
            n => u32::from(n),
        }
    }

    /// The payload bytes captured, cut at the total length.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let total = usize::from(self.total_len());
        let end = if total == 0 {
            self.buf.len()
        } else {
            total.min(self.buf.len())
        };
        &self.buf[self.header_len()..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    // zeek-4in4.pcap: the inner IPv4 header (10.0.0.1 -> 10.0.0.2, UDP).
    static INNER_4IN4: [u8; 20] = [
        0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x66, 0xca, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02,
    ];

    #[test]
    fn deconstruct_real_header() {
        let p = Packet::new_checked(&INNER_4IN4).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 32);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.fragment(), Fragment::Whole);
        assert!(!p.dont_fragment());
        // Only the header was captured: the payload is empty, not an error.
        assert_eq!(p.payload(), &[] as &[u8]);
    }

    #[test]
    fn payload_stops_at_total_length() {
        let mut pkt = synth::ipv4([1, 1, 1, 1].into(), [2, 2, 2, 2].into(), 17, &[9; 8]);
        pkt.extend_from_slice(&[0; 6]); // Ethernet padding
        let p = Packet::new_checked(&pkt).unwrap();
        assert_eq!(p.payload(), &[9; 8]);
    }

    #[test]
    fn fragment_fields() {
        let pkt = synth::ipv4([1, 1, 1, 1].into(), [2, 2, 2, 2].into(), 47, &[0; 64]);
        let frags = synth::fragment_ipv4(&pkt, 60);
        assert_eq!(frags.len(), 2);
        let first = Packet::new_checked(&frags[0]).unwrap();
        let later = Packet::new_checked(&frags[1]).unwrap();
        assert_eq!(first.fragment(), Fragment::First);
        assert_eq!(later.fragment(), Fragment::Later);
        assert_eq!(later.frag_offset(), 5);
    }

    #[test]
    fn rejects_impossible_headers() {
        let mut h = INNER_4IN4;
        assert_eq!(Packet::new_checked(&h[..19]), Err(Reason::Truncated));
        assert_eq!(Packet::new_checked(&[]), Err(Reason::Truncated));
        h[0] = 0x55;
        assert_eq!(Packet::new_checked(&h), Err(Reason::Malformed));
        h[0] = 0x44;
        assert_eq!(Packet::new_checked(&h), Err(Reason::Malformed));
        h[0] = 0x46; // options announced, not captured
        assert_eq!(Packet::new_checked(&h), Err(Reason::Truncated));
        h[0] = 0x45;
        h[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&h), Err(Reason::Malformed));
        h[2..4].copy_from_slice(&0u16.to_be_bytes()); // offload super-frame
        assert!(Packet::new_checked(&h).is_ok());
    }
}
