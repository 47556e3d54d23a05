//! The probe's raw ICMP / ICMPv6 socket (needs root or CAP_NET_RAW),
//! through `socket2`: no hand-made socket addresses.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::EchoSocket;

/// How long one receive waits.
const RECV_WAIT: Duration = Duration::from_millis(20);

/// A raw ICMP socket for one address family; closed on drop.
pub struct RawIcmp {
    sock: Socket,
}

impl RawIcmp {
    /// Opens the socket for `target`'s family, with a short receive timeout.
    pub fn open(target: IpAddr) -> io::Result<RawIcmp> {
        let (domain, proto) = if target.is_ipv6() {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let sock = Socket::new(domain, Type::RAW, Some(proto))?;
        sock.set_read_timeout(Some(RECV_WAIT))?;
        Ok(RawIcmp { sock })
    }
}

impl EchoSocket for RawIcmp {
    fn send(&self, dst: IpAddr, msg: &[u8]) -> io::Result<()> {
        self.sock
            .send_to(msg, &SocketAddr::new(dst, 0).into())
            .map(drop)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, IpAddr)>> {
        // SAFETY: u8 and MaybeUninit<u8> have the same layout, and recv only
        // writes initialised bytes into the buffer.
        let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        match self.sock.recv_from(uninit) {
            Ok((n, from)) => Ok(from.as_socket().map(|a| (n, a.ip()))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
