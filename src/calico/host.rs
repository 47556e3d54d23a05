//! Reading the real host: interfaces and addresses from rtnetlink dumps, in
//! kernel order, and the kernel's route lookup for `can-reach=`.
//!
//! A minimal NETLINK_ROUTE client on `libc`: one socket per query, a
//! request, then every reply up to NLMSG_DONE (dumps) or the single answer.
//! Replies are parsed with bounds checks only; an odd message is skipped,
//! never trusted. It works in whatever network namespace the calling thread
//! is in (so under `ip netns exec` too), and needs no sysfs.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ipnet::IpNet;

use super::autodetect::{Family, Host, HostIface, Resolver};

pub(crate) const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

pub(crate) const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_MULTI: u16 = 0x02;
pub(crate) const NLM_F_ROOT: u16 = 0x100;
pub(crate) const NLM_F_MATCH: u16 = 0x200;
pub(crate) const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
const NLM_F_DUMP_INTR: u16 = 0x10;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;

const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

/// Largest datagram we accept from the kernel.
const MAX_DATAGRAM: usize = 1 << 20;
/// Upper bound on the messages one request may produce.
const MAX_MESSAGES: usize = 1 << 20;
/// Retries of a dump the kernel flagged as interrupted (changed meanwhile).
const DUMP_RETRIES: usize = 5;

/// One netlink message from the kernel: type and payload (after the 16-byte
/// header).
#[derive(Debug, Clone)]
pub(crate) struct NlMsg {
    pub ty: u16,
    pub payload: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Route attributes (`struct rtattr`/`nlattr`) in `buf`: (type, value).
/// Stops at the first malformed attribute. The nested flag bit is masked.
pub(crate) fn attrs(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= buf.len() {
        let (Some(len), Some(ty)) = (u16_at(buf, at), u16_at(buf, at + 2)) else {
            break;
        };
        let len = len as usize;
        if len < 4 || at + len > buf.len() {
            break;
        }
        out.push((ty & 0x3fff, &buf[at + 4..at + len]));
        at += align4(len);
    }
    out
}

/// An IP address from an attribute value of `family` (AF_INET/AF_INET6).
pub(crate) fn ip_from(family: u8, v: &[u8]) -> Option<IpAddr> {
    match i32::from(family) {
        libc::AF_INET => {
            let o: [u8; 4] = v.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(o)))
        }
        libc::AF_INET6 => {
            let o: [u8; 16] = v.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

/// A NUL-terminated string attribute.
pub(crate) fn attr_str(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// Appends an attribute (type, value) with padding.
pub(crate) fn push_attr(buf: &mut Vec<u8>, ty: u16, value: &[u8]) {
    let len = 4 + value.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align4(buf.len()), 0);
}

/// A NETLINK_ROUTE socket bound to a kernel-chosen port id.
pub(crate) struct NlSocket {
    fd: OwnedFd,
    port: u32,
    seq: u32,
}

impl NlSocket {
    pub(crate) fn open() -> io::Result<NlSocket> {
        // SAFETY: plain socket(2); the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh, valid descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: zeroed sockaddr_nl is a valid value (nl_pid 0 = kernel
        // assigns the port id).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let salen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_nl of `salen` bytes.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                salen,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut len = salen;
        // SAFETY: `sa`/`len` describe a writable sockaddr_nl.
        let rc = unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                (&mut sa as *mut libc::sockaddr_nl).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NlSocket {
            fd,
            port: sa.nl_pid,
            seq: 0,
        })
    }

    fn send(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let len = NLMSG_HDRLEN + body.len();
        let mut msg = Vec::with_capacity(align4(len));
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&self.port.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: zeroed sockaddr_nl addresses the kernel (pid 0).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `msg` is a valid buffer and `sa` a valid address.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(self.seq)
    }

    /// One datagram from the kernel, sized with MSG_PEEK|MSG_TRUNC first.
    fn recv_datagram(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is writable for its length; MSG_TRUNC makes the
            // kernel report the real size without overrunning it.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let n = n as usize;
            if n > buf.len() {
                if n > MAX_DATAGRAM {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("netlink datagram of {n} bytes is too large"),
                    ));
                }
                buf.resize(n, 0);
            }
            let mut sa: libc::sockaddr_nl =
                // SAFETY: all-zero is a valid sockaddr_nl.
                unsafe { std::mem::zeroed() };
            let mut salen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: `buf` is writable for its length, `sa` for `salen`.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sa as *mut libc::sockaddr_nl).cast(),
                    &mut salen,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if sa.nl_pid != 0 {
                // Not from the kernel: ignore it.
                continue;
            }
            return Ok((n as usize).min(buf.len()));
        }
    }

    /// Sends a request and collects its replies. With `dump`, reads until
    /// NLMSG_DONE; otherwise until the answer (and its ACK, if any) is in.
    /// An NLMSG_ERROR with a non-zero code becomes an `io::Error`.
    fn request_once(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<(Vec<NlMsg>, bool)> {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let seq = self.send(ty, flags, body)?;
        let mut out = Vec::new();
        let mut interrupted = false;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = self.recv_datagram(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "empty netlink datagram",
                ));
            }
            let data = &buf[..n];
            let mut at = 0;
            let mut finished = false;
            while at + NLMSG_HDRLEN <= data.len() {
                let (Some(len), Some(mty), Some(mflags), Some(mseq), Some(mport)) = (
                    u32_at(data, at),
                    u16_at(data, at + 4),
                    u16_at(data, at + 6),
                    u32_at(data, at + 8),
                    u32_at(data, at + 12),
                ) else {
                    break;
                };
                let len = len as usize;
                if len < NLMSG_HDRLEN || at + len > data.len() {
                    break;
                }
                let payload = &data[at + NLMSG_HDRLEN..at + len];
                at += align4(len);
                if mseq != seq || (mport != self.port && mport != 0) {
                    continue;
                }
                if mflags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match mty {
                    NLMSG_DONE => {
                        finished = true;
                        break;
                    }
                    NLMSG_ERROR => {
                        let code = u32_at(payload, 0).map(|c| c as i32).unwrap_or(-libc::EIO);
                        if code != 0 {
                            return Err(io::Error::from_raw_os_error(-code));
                        }
                        // An ACK ends a non-dump request.
                        finished = true;
                        break;
                    }
                    NLMSG_OVERRUN => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "netlink overrun",
                        ))
                    }
                    _ => {
                        if out.len() >= MAX_MESSAGES {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "too many netlink messages",
                            ));
                        }
                        out.push(NlMsg {
                            ty: mty,
                            payload: payload.to_vec(),
                        });
                        if !dump && mflags & NLM_F_MULTI == 0 {
                            finished = true;
                            break;
                        }
                    }
                }
            }
            if finished {
                return Ok((out, interrupted));
            }
        }
    }

    /// A request whose dump is retried while the kernel flags it as
    /// interrupted (the table changed during the dump).
    pub(crate) fn request(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<Vec<NlMsg>> {
        let mut last = Vec::new();
        for _ in 0..DUMP_RETRIES {
            let (msgs, interrupted) = self.request_once(ty, flags, body)?;
            if !interrupted {
                return Ok(msgs);
            }
            last = msgs;
        }
        Ok(last)
    }
}

/// Every link as (ifindex, name), in RTM_GETLINK dump order.
pub fn links() -> io::Result<Vec<(u32, String)>> {
    let mut sock = NlSocket::open()?;
    links_on(&mut sock)
}

pub(crate) fn links_on(sock: &mut NlSocket) -> io::Result<Vec<(u32, String)>> {
    // struct ifinfomsg: family u8, pad u8, type u16, index i32, flags u32,
    // change u32.
    let body = [0u8; 16];
    let msgs = sock.request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
    let mut out: Vec<(u32, String)> = Vec::new();
    for m in msgs.iter().filter(|m| m.ty == RTM_NEWLINK) {
        let Some(index) = u32_at(&m.payload, 4) else {
            continue;
        };
        let Some(rest) = m.payload.get(16..) else {
            continue;
        };
        let name = attrs(rest)
            .into_iter()
            .find(|(t, _)| *t == IFLA_IFNAME)
            .map(|(_, v)| attr_str(v));
        if let Some(name) = name {
            if !out.iter().any(|(i, _)| *i == index) {
                out.push((index, name));
            }
        }
    }
    Ok(out)
}

fn af_of(family: Option<Family>) -> u8 {
    match family {
        None => libc::AF_UNSPEC as u8,
        Some(Family::V4) => libc::AF_INET as u8,
        Some(Family::V6) => libc::AF_INET6 as u8,
    }
}

/// Every address as (ifindex, ip/prefix), in RTM_GETADDR dump order. For
/// each address IFA_LOCAL is preferred over IFA_ADDRESS (on point-to-point
/// links IFA_ADDRESS is the peer), as Go's net package does.
pub(crate) fn addrs_on(
    sock: &mut NlSocket,
    family: Option<Family>,
) -> io::Result<Vec<(u32, IpNet)>> {
    // struct ifaddrmsg: family u8, prefixlen u8, flags u8, scope u8, index u32.
    let body = [af_of(family), 0, 0, 0, 0, 0, 0, 0];
    let msgs = sock.request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
    let mut out = Vec::new();
    for m in msgs.iter().filter(|m| m.ty == RTM_NEWADDR) {
        let p = &m.payload;
        let (Some(&fam), Some(&plen), Some(index), Some(rest)) =
            (p.first(), p.get(1), u32_at(p, 4), p.get(8..))
        else {
            continue;
        };
        let a = attrs(rest);
        let local = a.iter().find(|(t, _)| *t == IFA_LOCAL);
        let addr = local.or_else(|| a.iter().find(|(t, _)| *t == IFA_ADDRESS));
        let Some(ip) = addr.and_then(|(_, v)| ip_from(fam, v)) else {
            continue;
        };
        if let Some(f) = family {
            if !f.matches(ip) {
                continue;
            }
        }
        if let Ok(net) = IpNet::new(ip, plen) {
            out.push((index, net));
        }
    }
    Ok(out)
}

/// Reads the host: interfaces in `ip link` order, each with its addresses
/// in kernel order (`ip addr show dev X` order), only `family` when given.
/// Interfaces without addresses are kept (Calico counts them).
pub fn read_host(family: Option<Family>) -> io::Result<Host> {
    let mut sock = NlSocket::open()?;
    let links = links_on(&mut sock)?;
    let addrs = addrs_on(&mut sock, family)?;
    let mut by_index: HashMap<u32, Vec<IpNet>> = HashMap::new();
    for (index, net) in addrs {
        by_index.entry(index).or_default().push(net);
    }
    let ifaces = links
        .into_iter()
        .map(|(index, name)| HostIface {
            addrs: by_index.remove(&index).unwrap_or_default(),
            name,
            index,
        })
        .collect();
    Ok(Host { ifaces })
}

/// The real host's route lookup: connect a UDP socket to `(dest, 80)` and
/// read its local address. A UDP connect sends no packet.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

/// Destination addresses for `dest` in `family`, as Go's `net.Dial("udpN",
/// "[dest]:80")` would try them: an IP literal as is (a zone allowed on
/// IPv6), an empty host as the loopback address, otherwise a DNS name
/// resolved to that family only. A port in `dest` fails.
fn destinations(dest: &str, family: Family) -> Result<Vec<SocketAddr>, String> {
    if dest.is_empty() {
        let ip = match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        return Ok(vec![SocketAddr::new(ip, 80)]);
    }
    if let Ok(ip) = dest.parse::<IpAddr>() {
        return if family.matches(ip) {
            Ok(vec![SocketAddr::new(ip.to_canonical(), 80)])
        } else {
            Err(format!("{dest} is not an {family} address"))
        };
    }
    let zoned_v6 = dest
        .split_once('%')
        .is_some_and(|(a, z)| !z.is_empty() && a.parse::<Ipv6Addr>().is_ok());
    if !zoned_v6 && dest.contains([':', '[', ']', '/', ' ', '%']) {
        return Err(format!(
            "{dest:?} is neither an IP address nor a host name (a port is not allowed: \
             Calico dials [{dest}]:80)"
        ));
    }
    let resolved = (dest, 80u16)
        .to_socket_addrs()
        .map_err(|e| format!("lookup {dest}: {e}"))?;
    let addrs: Vec<SocketAddr> = resolved
        .filter(|sa| family.matches(sa.ip()))
        .map(|sa| match sa {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
                None => sa,
            },
            SocketAddr::V4(_) => sa,
        })
        .collect();
    if addrs.is_empty() {
        return Err(format!("lookup {dest}: no {family} address"));
    }
    Ok(addrs)
}

impl Resolver for SystemResolver {
    fn route_source(&self, dest: &str, family: Family) -> Result<IpAddr, String> {
        let mut last = String::from("no address to try");
        for target in destinations(dest, family)? {
            let bind: SocketAddr = match target {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let sock = match UdpSocket::bind(bind) {
                Ok(s) => s,
                Err(e) => {
                    last = format!("bind {bind}: {e}");
                    continue;
                }
            };
            if let Err(e) = sock.connect(target) {
                last = format!("dial udp{} {target}: {e}", family.version());
                continue;
            }
            match sock.local_addr() {
                Ok(local) if !local.ip().is_unspecified() => return Ok(local.ip().to_canonical()),
                Ok(_) => last = format!("no address detected by connecting to {dest}"),
                Err(e) => last = format!("local address: {e}"),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_are_bounded() {
        let mut b = Vec::new();
        push_attr(&mut b, 3, b"eth0\0");
        push_attr(&mut b, 1, &[1, 2, 3, 4]);
        let a = attrs(&b);
        assert_eq!(a.len(), 2);
        assert_eq!(attr_str(a[0].1), "eth0");
        assert_eq!(
            ip_from(libc::AF_INET as u8, a[1].1),
            Some("1.2.3.4".parse().unwrap())
        );
        // Truncated and nonsense lengths end the walk without panicking.
        assert_eq!(attrs(&b[..b.len() - 1]).len(), 1);
        assert!(attrs(&[0xff, 0xff, 0, 0, 1]).is_empty());
        assert!(attrs(&[2, 0, 0, 0]).is_empty());
        assert_eq!(ip_from(libc::AF_INET6 as u8, &[0; 4]), None);
    }

    #[test]
    fn destinations_like_go_dial() {
        assert!(destinations("1.2.3.4:53", Family::V4).is_err());
        assert!(destinations("[::1]", Family::V6).is_err());
        assert!(destinations("::1", Family::V4).is_err());
        assert!(destinations("1.2.3.4", Family::V6).is_err());
        assert!(destinations("a b", Family::V4).is_err());
        assert_eq!(
            destinations("", Family::V4).unwrap(),
            vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            destinations("8.8.8.8", Family::V4).unwrap(),
            vec!["8.8.8.8:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            destinations("::ffff:8.8.8.8", Family::V4).unwrap(),
            vec!["8.8.8.8:80".parse::<SocketAddr>().unwrap()]
        );
    }
}
