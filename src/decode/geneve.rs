//! Geneve header view (RFC 8926): 8 fixed bytes, options in 4-byte words,
//! an EtherType naming the payload, a 24-bit VNI.

use super::{be16, be32, Reason};

/// Fixed header length, before options.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const VER_OPT_LEN: usize = 0;
    pub const PROTOCOL: usize = 2;
    /// VNI in the top 24 bits of the second word.
    pub const VNI_WORD: usize = 4;
}

/// A checked, zero-copy view of a Geneve packet's fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the fixed header only, so the VNI is known even when the
    /// options are cut; [`Packet::payload`] checks the rest.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Reason> {
        if buf.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(Packet { buf })
    }

    /// Only version 0 exists; anything else on the port is not Geneve.
    #[inline]
    pub fn version(&self) -> u8 {
        self.buf[field::VER_OPT_LEN] >> 6
    }

    /// Header length including options.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + usize::from(self.buf[field::VER_OPT_LEN] & 0x3f) * 4
    }

    /// EtherType of the payload: 0x6558 Ethernet, 0x0800 IPv4, 0x86DD IPv6.
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.buf, field::PROTOCOL)
    }

    #[inline]
    pub fn vni(&self) -> u32 {
        be32(self.buf, field::VNI_WORD) >> 8
    }

    /// The bytes after the options.
    #[inline]
    pub fn payload(&self) -> Result<&'a [u8], Reason> {
        self.buf.get(self.header_len()..).ok_or(Reason::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    // tcpdump-geneve.pcap: version 0, 8 bytes of options (one critical
    // option, class 0 type 0x80), protocol 0x6558, VNI 0xa.
    static PACKET: [u8; 18] = [
        0x02, 0x40, 0x65, 0x58, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00,
        0x0c, 0xfe, 0x71,
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET).unwrap();
        assert_eq!(p.version(), 0);
        assert_eq!(p.header_len(), 16);
        assert_eq!(p.protocol(), 0x6558);
        assert_eq!(p.vni(), 0xa);
        assert_eq!(p.payload(), Ok(&[0xfe, 0x71][..]));
    }

    #[test]
    fn options_cut() {
        let p = Packet::new_checked(&PACKET[..12]).unwrap();
        assert_eq!(p.vni(), 0xa);
        assert_eq!(p.payload(), Err(Reason::Truncated));
        assert_eq!(Packet::new_checked(&PACKET[..7]), Err(Reason::Truncated));
    }

    #[test]
    fn synth_round_trip() {
        let b = synth::geneve(0x123456, 0x86DD, 12, &[6]);
        let p = Packet::new_checked(&b).unwrap();
        assert_eq!(
            (p.vni(), p.protocol(), p.header_len()),
            (0x123456, 0x86DD, 20)
        );
        assert_eq!(p.payload(), Ok(&[6u8][..]));
    }
}
