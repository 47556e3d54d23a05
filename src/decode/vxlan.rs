//! VXLAN header view (RFC 7348): 8 bytes, the I flag, a 24-bit VNI, then an
//! Ethernet frame.

use super::{be32, Reason};

pub const HEADER_LEN: usize = 8;

/// "VNI valid": the one flag RFC 7348 requires.
pub const FLAG_I: u8 = 0x08;

mod field {
    pub const FLAGS: usize = 0;
    /// VNI in the top 24 bits of the second word.
    pub const VNI_WORD: usize = 4;
}

/// A checked, zero-copy view of a VXLAN packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Reason> {
        if buf.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(Packet { buf })
    }

    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf[field::FLAGS]
    }

    /// Without the I flag the datagram is something else on a VXLAN port.
    #[inline]
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_I != 0
    }

    #[inline]
    pub fn vni(&self) -> u32 {
        be32(self.buf, field::VNI_WORD) >> 8
    }

    /// The inner Ethernet frame.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    // tcpdump-vxlan.pcap frame 1: I flag, VNI 100, then the inner Ethernet.
    static PACKET: [u8; 10] = [0x08, 0, 0, 0, 0, 0, 0x64, 0, 0x00, 0x30];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET).unwrap();
        assert!(p.vni_valid());
        assert_eq!(p.vni(), 100);
        assert_eq!(p.payload(), &[0x00, 0x30]);
        assert_eq!(Packet::new_checked(&PACKET[..7]), Err(Reason::Truncated));
    }

    #[test]
    fn synth_round_trip() {
        let b = synth::vxlan(0xabcdef, &[1, 2]);
        let p = Packet::new_checked(&b).unwrap();
        assert_eq!(
            (p.vni(), p.vni_valid(), p.payload()),
            (0xabcdef, true, &[1u8, 2][..])
        );
        let not = [0u8; 8];
        assert!(!Packet::new_checked(&not).unwrap().vni_valid());
    }
}
