//! Live capture through libpcap: the one place that opens capture handles.
//! Also `read --filter`'s programs ([`Bpf`]): compiled on a dead handle per
//! link type and run by libpcap's `bpf_filter` on the file's frames.
//!
//! Immediate mode makes libpcap use TPACKET_V2, whose ring slots are sized by
//! the snaplen on offloading NICs (veth, most virtio): with the usual 262144
//! a ring holds a handful of frames and a sub-millisecond burst overflows it.
//! tuntrace needs only headers, so a 256-byte snaplen and a ring of several
//! MiB hold tens of thousands of frames.
//!
//! When a large snaplen (`--write`) would leave the ring shallow, the handle
//! uses block mode (TPACKET_V3) instead: blocks pack frames by their real size,
//! so the same ring still holds tens of thousands of small frames. Blocks are
//! handed over when full or after [`POLL_MS`]; [`Nic::min_drain`] tells the
//! session to drain for longer than that before it stops.

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pcap::{Active, Capture, Linktype, Precision};

use crate::iface::IfaceId;
use crate::linktype::LinkType;
use crate::sources::file::{FrameFilter, LinkFilter};
use crate::sources::live::{CaptureConfig, KernelCounters, Nic, NicFailure, OpenError};
use crate::sources::Frame;

use super::ifaces;

/// The block timeout in block mode.
pub const POLL_MS: i32 = 50;
/// Ring slots (at the snaplen's slot size) below which block mode is used.
pub const DEEP_RING_SLOTS: usize = 4096;
/// Pause after a short non-empty read in immediate mode: at 250 k packets/s
/// the ring (at least `DEEP_RING_SLOTS`) gains ~125 frames meanwhile, and
/// wakeups drop from one per few packets to at most ~2000 a second.
const BUSY_NAP: Duration = Duration::from_micros(500);

/// An open, filtered, non-blocking capture on one NIC.
pub struct PcapNic {
    name: String,
    cap: Capture<Active>,
    linktype: LinkType,
    /// Timestamps come in nanoseconds (else microseconds).
    nanos: bool,
    filter: Option<String>,
    /// Immediate mode (a deep ring of snaplen-sized slots); else block mode.
    immediate: bool,
    stats: StatAcc,
}

fn classify(iface: &str, e: pcap::Error) -> OpenError {
    let detail = e.to_string();
    let low = detail.to_ascii_lowercase();
    let iface = iface.to_string();
    if low.contains("permission") || low.contains("not permitted") {
        OpenError::Permission { iface, detail }
    } else if low.contains("no such device") {
        OpenError::NoSuchDevice { iface, detail }
    } else {
        OpenError::Other { iface, detail }
    }
}

extern "C" {
    // Part of libpcap since 1.5; the pcap crate does not wrap it.
    fn pcap_get_tstamp_precision(p: *mut libc::c_void) -> libc::c_int;
    // libpcap's BPF interpreter, what `pcap_offline_filter` runs; called
    // directly to pass the wire length without building a packet header.
    fn bpf_filter(
        pc: *const Insn,
        pkt: *const u8,
        wirelen: libc::c_uint,
        buflen: libc::c_uint,
    ) -> libc::c_uint;
}

/// A tcpdump filter expression for capture files (`read --filter`),
/// compiled by libpcap once per link type met, as tcpdump would for a file
/// of that link type. Shared by every reader of every file.
pub struct Bpf {
    expr: String,
    compiled: Mutex<Vec<(LinkType, Compiled)>>,
}

impl Bpf {
    pub fn new(expr: &str) -> Bpf {
        Bpf {
            expr: expr.to_string(),
            compiled: Mutex::new(Vec::new()),
        }
    }

    /// Compiles the expression for `linktype` on a dead handle.
    fn compile(&self, linktype: LinkType) -> Result<Program, String> {
        let dead = Capture::dead(Linktype(dlt_of(linktype) as i32)).map_err(|e| e.to_string())?;
        let prog = dead.compile(&self.expr, true).map_err(|e| e.to_string())?;
        let insns = prog.get_instructions();
        // SAFETY: `BpfInstruction` is a transparent `struct bpf_insn`, laid
        // out as `Insn`; the slice is live while `prog` is.
        let insns =
            unsafe { std::slice::from_raw_parts(insns.as_ptr() as *const Insn, insns.len()) };
        if insns.is_empty() {
            return Err("libpcap compiled an empty program".into());
        }
        Ok(Program {
            insns: insns.to_vec(),
        })
    }
}

impl FrameFilter for Bpf {
    fn for_link(&self, linktype: LinkType) -> Result<Arc<dyn LinkFilter>, String> {
        let mut done = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        let r = match done.iter().find(|(l, _)| *l == linktype) {
            Some((_, r)) => r.clone(),
            None => {
                let r = self.compile(linktype).map(Arc::new);
                done.push((linktype, r.clone()));
                r
            }
        };
        r.map(|p| p as Arc<dyn LinkFilter>)
    }
}

/// The DLT_ value libpcap compiles for, of a file's LINKTYPE_ value: the
/// few that differ, as libpcap maps them when it reads a file.
fn dlt_of(linktype: LinkType) -> u32 {
    match linktype.0 {
        100 => 11, // ATM_RFC1483
        101 => 12, // RAW (DLT_RAW on Linux)
        102 => 15, // SLIP_BSDOS
        103 => 16, // PPP_BSDOS
        106 => 19, // ATM_CLIP
        n => n,
    }
}

/// A program for one link type, or libpcap's reason why not.
type Compiled = Result<Arc<Program>, String>;

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// A compiled filter program, our own copy: plain data, shared by threads.
#[derive(Debug)]
struct Program {
    insns: Vec<Insn>,
}

impl LinkFilter for Program {
    #[inline]
    fn accepts(&self, frame: &Frame<'_>) -> bool {
        let len = frame.data.len().min(u32::MAX as usize) as libc::c_uint;
        // SAFETY: a program libpcap compiled (non-empty, validated by
        // pcap_compile); bpf_filter reads at most `len` bytes of the packet
        // and checks every load against that length.
        unsafe {
            bpf_filter(
                self.insns.as_ptr(),
                frame.data.as_ptr(),
                frame.orig_len,
                len,
            ) != 0
        }
    }
}

/// Opens `name` non-blocking (immediate mode when the ring is deep, block
/// mode otherwise) and installs the filter. Not promiscuous: the node's own
/// traffic is the question, and promiscuity would change the NIC for others.
pub fn open(name: &str, cfg: &CaptureConfig) -> Result<PcapNic, OpenError> {
    let snaplen = cfg.snaplen.clamp(64, 262_144) as i32;
    let buffer = cfg.buffer_bytes.min(i32::MAX as u32) as i32;
    // TPACKET_V2 slot: the snaplen plus headers, at worst (offloading NICs).
    let immediate = buffer as usize / (snaplen as usize + 128) >= DEEP_RING_SLOTS;
    let cap = Capture::from_device(name)
        .map_err(|e| classify(name, e))?
        .immediate_mode(immediate)
        .snaplen(snaplen)
        .buffer_size(buffer)
        .timeout(POLL_MS)
        .promisc(false)
        .precision(Precision::Nano)
        .open()
        .map_err(|e| classify(name, e))?;
    let mut cap = cap.setnonblock().map_err(|e| classify(name, e))?;
    if name == ifaces::ANY {
        // SLL2 names the real NIC (ifindex) in every packet; SLL does not.
        let _ = cap.set_datalink(Linktype(LinkType::LINUX_SLL2.0 as i32));
    }
    let linktype = LinkType(cap.get_datalink().0 as u32);
    let filter = cfg.filter.expression(linktype);
    if let Some(f) = &filter {
        cap.filter(f, true).map_err(|e| OpenError::Filter {
            iface: name.to_string(),
            filter: f.clone(),
            detail: e.to_string(),
        })?;
    }
    // SAFETY: the handle is live; the call only reads its settings.
    let nanos = unsafe { pcap_get_tstamp_precision(cap.as_ptr() as *mut libc::c_void) } == 1;
    Ok(PcapNic {
        name: name.to_string(),
        cap,
        linktype,
        nanos,
        filter,
        immediate,
        stats: StatAcc::default(),
    })
}

impl Nic for PcapNic {
    fn name(&self) -> &str {
        &self.name
    }

    fn linktype(&self) -> LinkType {
        self.linktype
    }

    fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    fn read(
        &mut self,
        max: usize,
        wait: Duration,
        deliver: &mut dyn FnMut(&Frame<'_>) -> bool,
    ) -> Result<usize, NicFailure> {
        let fd = self.cap.as_raw_fd();
        let revents = wait_readable(fd, wait).map_err(|e| NicFailure(e.to_string()))?;
        let mut n = 0;
        while n < max {
            let p = match self.cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::TimeoutExpired) => break,
                Err(e) => return Err(NicFailure(e.to_string())),
            };
            n += 1;
            let h = p.header;
            let frac = h.ts.tv_usec as u64;
            let frac = if self.nanos { frac } else { frac * 1000 };
            let frame = Frame {
                iface: IfaceId(0),
                linktype: self.linktype,
                ts_ns: (h.ts.tv_sec as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(frac),
                orig_len: h.len,
                data: p.data,
            };
            if !deliver(&frame) {
                return Ok(n);
            }
        }
        if n == 0 && revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return Err(NicFailure(socket_error(fd)));
        }
        // Traffic is flowing: let the ring fill a little instead of being
        // woken (a context switch) for every few frames. Immediate mode only:
        // block mode batches by itself.
        if n > 0 && n < max && self.immediate {
            std::thread::sleep(BUSY_NAP);
        }
        Ok(n)
    }

    fn counters(&mut self) -> Option<KernelCounters> {
        let s = self.cap.stats().ok()?;
        self.stats.update(s);
        let [received, dropped_by_kernel, dropped_by_interface] = self.stats.total;
        Some(KernelCounters {
            received,
            dropped_by_kernel,
            dropped_by_interface,
        })
    }

    fn still_exists(&self) -> bool {
        ifaces::exists(&self.name)
    }

    fn min_drain(&self) -> Duration {
        if self.immediate {
            Duration::ZERO
        } else {
            Duration::from_millis(3 * POLL_MS as u64)
        }
    }
}

/// Kernel counters, widened: libpcap's are 32-bit and wrap.
#[derive(Debug, Default, Clone, Copy)]
struct StatAcc {
    last: [u32; 3],
    total: [u64; 3],
}

impl StatAcc {
    fn update(&mut self, s: pcap::Stat) {
        let now = [s.received, s.dropped, s.if_dropped];
        for ((total, last), now) in self.total.iter_mut().zip(&self.last).zip(now) {
            *total += u64::from(now.wrapping_sub(*last));
        }
        self.last = now;
    }
}

/// Waits until the handle is readable or `wait` passed; returns the poll
/// events (an error event with nothing to read means the NIC failed).
fn wait_readable(fd: i32, wait: Duration) -> std::io::Result<libc::c_short> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
        return Ok(0);
    }
    Ok(pfd.revents)
}

/// The pending error of a packet socket, as text (ENETDOWN, ENODEV, ...).
fn socket_error(fd: i32) -> String {
    // SAFETY: the fd is the live capture socket; the borrowed view does not
    // outlive this call and closes nothing.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match socket2::SockRef::from(&fd).take_error() {
        Ok(Some(e)) => e.to_string(),
        _ => "capture socket hung up".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::StatAcc;

    #[test]
    fn counters_widen_across_a_wrap() {
        let mut s = StatAcc::default();
        let stat = |r: u32, d: u32| pcap::Stat {
            received: r,
            dropped: d,
            if_dropped: 0,
        };
        s.update(stat(u32::MAX - 1, 5));
        s.update(stat(3, 6));
        assert_eq!(s.total, [u64::from(u32::MAX) + 4, 6, 0]);
    }
}
