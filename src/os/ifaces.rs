//! The network interfaces of this namespace: names, indexes, up or not,
//! and MTU. Listing uses `if_nameindex` + `SIOCGIFFLAGS`, which see the calling
//! thread's network namespace (sysfs may not, after an in-process `setns`).

use std::ffi::CStr;
use std::io;

/// libpcap's pseudo-device capturing on every interface at once.
pub const ANY: &str = "any";

/// One network interface of the current namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    /// `IFF_UP` is set.
    pub up: bool,
}

/// The interfaces of the calling thread's namespace, in ifindex order.
pub fn list() -> io::Result<Vec<Iface>> {
    // SAFETY: if_nameindex returns a list terminated by a zero entry, or null;
    // it is freed once, after the names were copied.
    let mut out = Vec::new();
    unsafe {
        let head = libc::if_nameindex();
        if head.is_null() {
            return Err(io::Error::last_os_error());
        }
        let mut p = head;
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            let name = CStr::from_ptr((*p).if_name).to_string_lossy().into_owned();
            out.push(Iface {
                up: false,
                index: (*p).if_index,
                name,
            });
            p = p.add(1);
        }
        libc::if_freenameindex(head);
    }
    let sock = FlagSocket::new()?;
    for i in &mut out {
        i.up = sock
            .flags(&i.name)
            .map(|f| f & libc::IFF_UP != 0)
            .unwrap_or(false);
    }
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// True while an interface of that name exists in this namespace.
pub fn exists(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated string.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

/// A datagram socket used only for interface ioctls; closed on drop.
struct FlagSocket(libc::c_int);

impl FlagSocket {
    fn new() -> io::Result<Self> {
        // SAFETY: plain socket(2); the fd is owned and closed in Drop.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(fd))
    }

    fn flags(&self, name: &str) -> io::Result<libc::c_int> {
        let mut req = ifreq(name)?;
        // SAFETY: SIOCGIFFLAGS reads ifr_name and writes ifr_flags.
        let rc = unsafe { libc::ioctl(self.0, libc::SIOCGIFFLAGS, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel filled the flags member of the union.
        Ok(unsafe { req.ifr_ifru.ifru_flags } as libc::c_int)
    }
}

impl Drop for FlagSocket {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

/// A zeroed `ifreq` naming `name` (NUL-terminated; too long is an error).
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

/// The MTU of `name` in this namespace (SIOCGIFMTU), if it can be read.
pub fn mtu(name: &str) -> Option<u32> {
    let sock = FlagSocket::new().ok()?;
    let mut req = ifreq(name).ok()?;
    // SAFETY: `req` is a zeroed ifreq whose name is NUL-terminated.
    let rc = unsafe { libc::ioctl(sock.0, libc::SIOCGIFMTU, &mut req) };
    // SAFETY: SIOCGIFMTU filled the union's MTU member.
    (rc == 0).then_some(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_this_namespace_finds_loopback() {
        let all = list().unwrap();
        assert!(all.iter().any(|i| i.name == "lo"));
        assert!(exists("lo"));
        assert!(!exists("no-such-if0"));
        assert!(mtu("lo").is_some_and(|m| m >= 1280));
        assert_eq!(mtu("no-such-if0"), None);
        assert_eq!(mtu("a-name-longer-than-ifnamsiz"), None);
    }
}
