//! The probe's own ICMP: a raw socket that sends echo requests carrying a
//! marker, and the helper that finds that marker's echo inside a captured
//! (possibly encapsulated) frame. Kept out of the decoder's hot path.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Bytes that start every probe payload, followed by an 8-byte nonce.
pub const MAGIC: &[u8; 8] = b"tuntrace";
pub const MARKER_LEN: usize = 16;
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;

/// An echo found in a frame: request or reply, identifier and sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    pub request: bool,
    pub id: u16,
    pub seq: u16,
}

/// Finds the ICMP echo whose payload starts with `marker` in `frame` (any
/// link layer and encapsulation): the marker is searched for, and the 8
/// bytes before it must be an echo header (type 8 or 0, code 0).
pub fn find_echo(frame: &[u8], marker: &[u8; MARKER_LEN]) -> Option<Echo> {
    let at = frame.windows(MARKER_LEN).position(|w| w == marker)?;
    let h = frame.get(at.checked_sub(8)?..at)?;
    let request = match (h[0], h[1]) {
        (ECHO_REQUEST, 0) => true,
        (ECHO_REPLY, 0) => false,
        _ => return None,
    };
    Some(Echo {
        request,
        id: u16::from_be_bytes([h[4], h[5]]),
        seq: u16::from_be_bytes([h[6], h[7]]),
    })
}

/// A raw ICMPv4 socket (needs root or CAP_NET_RAW); closed on drop.
pub struct RawIcmp(i32);

impl RawIcmp {
    pub fn open() -> io::Result<RawIcmp> {
        // SAFETY: plain socket(2); the fd is owned by the returned value.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_ICMP) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = RawIcmp(fd);
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

    /// Sends one ICMP message (header included) to `dst`.
    pub fn send(&self, dst: Ipv4Addr, msg: &[u8]) -> io::Result<()> {
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(dst).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `msg` and `addr` are valid for the lengths given.
        let rc = unsafe {
            libc::sendto(
                self.0,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to the socket timeout (20 ms) for an echo reply from `from`
    /// carrying `marker`; `Ok(None)` when something else or nothing came.
    pub fn recv_reply(&self, from: Ipv4Addr, marker: &[u8; MARKER_LEN]) -> io::Result<Option<Echo>> {
        let mut buf = [0u8; 2048];
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let pkt = &buf[..n as usize];
        // The raw socket hands over the IPv4 header too.
        if pkt.len() < 20 || Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]) != from {
            return Ok(None);
        }
        Ok(find_echo(pkt, marker).filter(|e| !e.request))
    }
}

impl Drop for RawIcmp {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
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
        let inner = synth::ipv4([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 1, &synth::icmp_echo(0x1234, 7, &payload));
        let frame = synth::ethernet([2; 6], [4; 6], 0x0800, &synth::ipv4([1, 1, 1, 1].into(), [2, 2, 2, 2].into(), 4, &inner));
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
