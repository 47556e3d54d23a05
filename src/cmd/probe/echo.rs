//! The probe's own ICMP: a raw socket that sends echo requests carrying a
//! marker, and the helper that finds that marker's echo inside a captured
//! (possibly encapsulated) frame. Kept out of the decoder's hot path.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Bytes that start every probe payload, followed by an 8-byte nonce.
pub const MAGIC: &[u8; 8] = b"tuntrace";
pub const MARKER_LEN: usize = 16;
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const ECHO6_REQUEST: u8 = 128;
const ECHO6_REPLY: u8 = 129;

/// An echo found in a frame: request or reply, identifier and sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    pub request: bool,
    pub id: u16,
    pub seq: u16,
}

/// Finds the ICMP echo whose payload starts with `marker` in `frame` (any
/// link layer and encapsulation): the marker is searched for, and the 8
/// bytes before it must be an echo header (ICMP type 8 / 0 or ICMPv6 type
/// 128 / 129, code 0).
pub fn find_echo(frame: &[u8], marker: &[u8; MARKER_LEN]) -> Option<Echo> {
    let at = frame.windows(MARKER_LEN).position(|w| w == marker)?;
    let h = frame.get(at.checked_sub(8)?..at)?;
    let request = match (h[0], h[1]) {
        (ECHO_REQUEST | ECHO6_REQUEST, 0) => true,
        (ECHO_REPLY | ECHO6_REPLY, 0) => false,
        _ => return None,
    };
    Some(Echo {
        request,
        id: u16::from_be_bytes([h[4], h[5]]),
        seq: u16::from_be_bytes([h[6], h[7]]),
    })
}

/// A raw ICMP or ICMPv6 socket (needs root or CAP_NET_RAW); closed on drop.
pub struct RawIcmp {
    fd: i32,
    v6: bool,
}

impl RawIcmp {
    /// Opens the socket for `target`'s family, with a 20 ms receive timeout.
    pub fn open(target: IpAddr) -> io::Result<RawIcmp> {
        let v6 = target.is_ipv6();
        let (af, proto) = if v6 {
            (libc::AF_INET6, libc::IPPROTO_ICMPV6)
        } else {
            (libc::AF_INET, libc::IPPROTO_ICMP)
        };
        // SAFETY: plain socket(2); the fd is owned by the returned value.
        let fd = unsafe { libc::socket(af, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = RawIcmp { fd, v6 };
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 20_000,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(s)
    }

    /// An echo request for this socket's family. ICMPv6's checksum covers a
    /// pseudo-header the kernel fills in, so the kernel computes it.
    pub fn echo_request(&self, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        if !self.v6 {
            return crate::synth::icmp_echo(id, seq, payload);
        }
        let mut m = vec![ECHO6_REQUEST, 0, 0, 0];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(payload);
        m
    }

    /// Sends one ICMP message (header included) to `dst`.
    pub fn send(&self, dst: IpAddr, msg: &[u8]) -> io::Result<()> {
        let (storage, len) = sockaddr(dst);
        // SAFETY: `msg` and the address are valid for the lengths given.
        let rc = unsafe {
            libc::sendto(
                self.fd,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to the socket timeout (20 ms) for an echo reply from `from`
    /// carrying `marker`; `Ok(None)` when something else or nothing came.
    pub fn recv_reply(&self, from: IpAddr, marker: &[u8; MARKER_LEN]) -> io::Result<Option<Echo>> {
        let mut buf = [0u8; 2048];
        // SAFETY: zeroed sockaddr_storage is a valid out-parameter.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut alen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `buf` and `addr` are writable for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                self.fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut addr as *mut libc::sockaddr_storage).cast(),
                &mut alen,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        if source(&addr) != Some(from) {
            return Ok(None);
        }
        // IPv4 raw sockets hand over the IP header too, IPv6 ones only ICMPv6.
        Ok(find_echo(&buf[..n as usize], marker).filter(|e| !e.request))
    }
}

/// `dst` as a socket address for sendto(2).
fn sockaddr(dst: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage; the family-specific
    // view written below fits inside it.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match dst {
        IpAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from(a).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in is smaller than sockaddr_storage.
            unsafe { std::ptr::write((&mut st as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 is smaller than sockaddr_storage.
            unsafe { std::ptr::write((&mut st as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
}

/// The address recvfrom(2) reported.
fn source(st: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(st.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in.
            let sin: &libc::sockaddr_in = unsafe { &*(st as *const libc::sockaddr_storage).cast() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(st as *const libc::sockaddr_storage).cast() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

impl Drop for RawIcmp {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.fd) };
    }
}

/// A fresh marker: the magic and a nonce from the pid and the clock.
pub fn new_marker() -> [u8; MARKER_LEN] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64;
    let nonce = t ^ (u64::from(std::process::id()) << 40);
    let mut m = [0u8; MARKER_LEN];
    m[..8].copy_from_slice(MAGIC);
    m[8..].copy_from_slice(&nonce.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    #[test]
    fn finds_the_echo_inside_a_tunnel_frame() {
        let m = new_marker();
        let mut payload = m.to_vec();
        payload.extend_from_slice(&[0; 16]);
        let inner = synth::ipv4(
            [10, 0, 0, 1].into(),
            [10, 0, 0, 2].into(),
            1,
            &synth::icmp_echo(0x1234, 7, &payload),
        );
        let frame = synth::ethernet(
            [2; 6],
            [4; 6],
            0x0800,
            &synth::ipv4([1, 1, 1, 1].into(), [2, 2, 2, 2].into(), 4, &inner),
        );
        assert_eq!(
            find_echo(&frame, &m),
            Some(Echo {
                request: true,
                id: 0x1234,
                seq: 7
            })
        );
        assert_eq!(find_echo(&frame, &new_marker_other(&m)), None);
        assert_eq!(find_echo(&m, &m), None);
    }

    fn new_marker_other(m: &[u8; MARKER_LEN]) -> [u8; MARKER_LEN] {
        let mut o = *m;
        o[15] ^= 1;
        o
    }
}
