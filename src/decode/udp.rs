//! UDP header view (RFC 768): only the destination port matters, to spot
//! VXLAN and Geneve.

use super::{be16, Reason};

pub const HEADER_LEN: usize = 8;
const DST_PORT: usize = 2;

/// A checked, zero-copy view of a UDP datagram.
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
    pub fn dst_port(&self) -> u16 {
        be16(self.buf, DST_PORT)
    }

    /// The bytes after the header, as captured (the IP layer already cut
    /// padding; the UDP length adds nothing a tunnel decoder needs).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // tcpdump-vxlan.pcap frame 1: UDP 45149 -> 4789, length 114.
    static HEADER: [u8; 8] = [0xb0, 0x5d, 0x12, 0xb5, 0x00, 0x72, 0x00, 0x00];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&HEADER).unwrap();
        assert_eq!(p.dst_port(), 4789);
        assert!(p.payload().is_empty());
        assert_eq!(Packet::new_checked(&HEADER[..7]), Err(Reason::Truncated));
    }
}
