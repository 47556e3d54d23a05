//! The probe's own ICMP: echo requests carrying a marker (sent through the
//! platform's raw socket, `os::icmp`), and the helper that finds that
//! marker's echo inside a captured (possibly encapsulated) frame. Kept out
//! of the decoder's hot path.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use crate::os::EchoSocket;

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

/// An echo request for `target`'s family. ICMPv6's checksum covers a
/// pseudo-header the kernel fills in, so the kernel computes it.
pub fn echo_request(target: IpAddr, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    if target.is_ipv4() {
        return crate::synth::icmp_echo(id, seq, payload);
    }
    let mut m = vec![ECHO6_REQUEST, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    m
}

/// Waits a short while for an echo reply from `from` carrying `marker`;
/// `Ok(None)` when something else or nothing came.
pub fn recv_reply(
    sock: &dyn EchoSocket,
    from: IpAddr,
    marker: &[u8; MARKER_LEN],
) -> io::Result<Option<Echo>> {
    let mut buf = [0u8; 2048];
    match sock.recv(&mut buf)? {
        // IPv4 raw sockets hand over the IP header too, IPv6 ones only ICMPv6.
        Some((n, src)) if src == from => Ok(find_echo(&buf[..n], marker).filter(|e| !e.request)),
        _ => Ok(None),
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
