//! IP protocol numbers (the IPv4 protocol field, the IPv6 next header) that
//! the decoder names. An unseen number is data, not a failure: `Unknown`.

/// An IP protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Icmp,
    /// IPv4 inside IP: IPIP (RFC 2003), or 4in6.
    Ipv4,
    Tcp,
    Udp,
    /// IPv6 inside IP: 6in4 (RFC 4213), or 6in6.
    Ipv6,
    Gre,
    Icmpv6,
    Unknown(u8),
}

impl Protocol {
    /// The number on the wire.
    #[inline(always)]
    pub const fn number(self) -> u8 {
        match self {
            Protocol::Icmp => 1,
            Protocol::Ipv4 => 4,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Ipv6 => 41,
            Protocol::Gre => 47,
            Protocol::Icmpv6 => 58,
            Protocol::Unknown(n) => n,
        }
    }
}

impl From<u8> for Protocol {
    #[inline(always)]
    fn from(n: u8) -> Self {
        match n {
            1 => Protocol::Icmp,
            4 => Protocol::Ipv4,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            41 => Protocol::Ipv6,
            47 => Protocol::Gre,
            58 => Protocol::Icmpv6,
            n => Protocol::Unknown(n),
        }
    }
}

impl From<Protocol> for u8 {
    #[inline(always)]
    fn from(p: Protocol) -> u8 {
        p.number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(Protocol::from(n).number(), n);
        }
        assert_eq!(Protocol::from(47), Protocol::Gre);
        assert_eq!(Protocol::from(99), Protocol::Unknown(99));
        // An Unknown holding a named number is not produced by `from`.
        assert_eq!(u8::from(Protocol::Udp), 17);
    }
}
