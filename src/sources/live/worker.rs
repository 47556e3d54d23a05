//! One capture loop per NIC, on its own thread, with its own [`Pipeline`].
//!
//! Nothing is shared per packet except, with `--count`, one atomic counter.
//! The loop hands its table over (`FlowTable::take`) when the interval epoch
//! moves and once more at the end; the caller merges. Stop is prompt because
//! the handle is non-blocking and `poll` waits at most [`POLL_MS`].

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::flows::FlowTable;
use crate::iface::IfaceId;
use crate::pipeline::Pipeline;
use crate::report::CaptureStats;
use crate::sources::Frame;
use crate::timefmt::rfc3339;

use super::open::{Handle, POLL_MS};
use super::writer::Record;

/// Packets read between two looks at the stop flag and the epoch.
const BATCH: usize = 1024;
/// Pause after a non-empty read in immediate mode: at 250 k packets/s the
/// ring (at least `DEEP_RING_SLOTS`) gains ~125 frames meanwhile, and wakeups
/// drop from one per few packets to at most ~2000 a second.
const BUSY_NAP: Duration = Duration::from_micros(500);
/// In block mode the last block is handed over by its timeout: drain longer.
const BLOCK_DRAIN: Duration = Duration::from_millis(3 * POLL_MS as u64);
/// Upper bound on the final drain, in case the NIC is flooded.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// Flags the controller and all capture loops share.
#[derive(Debug)]
pub struct Control {
    pub stop: AtomicBool,
    /// Interval number; a loop that sees it change hands over its table.
    pub epoch: AtomicU64,
    counted: AtomicU64,
    count_limit: Option<u64>,
}

impl Control {
    pub fn new(count_limit: Option<u64>) -> Self {
        Self {
            stop: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            counted: AtomicU64::new(0),
            count_limit,
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }
}

/// What capture loops tell the controller.
#[derive(Debug)]
pub enum Event {
    /// Everything counted up to interval `epoch` that was not sent before.
    Delta {
        worker: usize,
        epoch: u64,
        table: FlowTable,
        /// Kernel + interface drops so far.
        dropped: u64,
    },
    /// `--count` was reached.
    CountReached,
    /// The loop ended: last table, kernel counters and the frames it saw.
    Done {
        worker: usize,
        table: FlowTable,
        stats: CaptureStats,
        packets: u64,
    },
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

/// A capture loop, ready to run on its own thread.
pub struct Worker {
    pub index: usize,
    pub handle: Handle,
    pub iface: IfaceId,
    pub pipeline: Pipeline,
    pub control: Arc<Control>,
    pub events: UnboundedSender<Event>,
    /// `--write`: the writer's queue and this NIC's interface id in the file.
    pub writer: Option<(SyncSender<Record>, u32)>,
}

enum Stop {
    Asked,
    Failed(String),
}

impl Worker {
    /// Captures until stopped or the NIC fails, then reports `Done`.
    pub fn run(mut self) {
        let fd = self.handle.cap.as_raw_fd();
        let mut epoch = self.control.epoch.load(Relaxed);
        let mut stats = StatAcc::default();
        let mut last_stats = Instant::now();
        let mut packets = 0u64;
        let nap = self.handle.immediate;
        let why = loop {
            if self.control.stopping() {
                break Stop::Asked;
            }
            let revents = match wait_readable(fd) {
                Ok(r) => r,
                Err(e) => break Stop::Failed(e.to_string()),
            };
            match self.read_batch(&mut packets) {
                Ok(0) if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 => {
                    break Stop::Failed(socket_error(fd));
                }
                // Traffic is flowing: let the ring fill a little instead of
                // being woken (a context switch) for every few frames.
                // (Immediate mode only: block mode batches by itself.)
                Ok(n) if n > 0 && n < BATCH && nap => std::thread::sleep(BUSY_NAP),
                Ok(_) => {}
                Err(e) => break Stop::Failed(e),
            }
            let now = self.control.epoch.load(Relaxed);
            if now != epoch {
                let table = self.pipeline.table.take();
                let _ = self.events.send(Event::Delta {
                    worker: self.index,
                    epoch,
                    table,
                    dropped: stats.total[1] + stats.total[2],
                });
                epoch = now;
            }
            if last_stats.elapsed() >= Duration::from_secs(1) {
                if let Ok(s) = self.handle.cap.stats() {
                    stats.update(s);
                }
                last_stats = Instant::now();
            }
        };
        let mut capture = CaptureStats::default();
        match why {
            Stop::Asked => {
                let start = Instant::now();
                let min = if nap { Duration::ZERO } else { BLOCK_DRAIN };
                while start.elapsed() < DRAIN_LIMIT {
                    match self.read_batch(&mut packets) {
                        Ok(0) if start.elapsed() < min => {
                            let _ = wait_readable(fd);
                        }
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            Stop::Failed(msg) => {
                let gone = !crate::sources::ifaces::exists(&self.handle.name);
                let at = rfc3339(now_ns());
                let what = if gone {
                    "vanished"
                } else {
                    "stopped capturing"
                };
                eprintln!(
                    "tuntrace: warning: {} {what} at {at} ({msg}); the other interfaces keep capturing",
                    self.handle.name
                );
                capture.vanished_at = Some(at);
                capture.error = Some(if gone {
                    format!("interface vanished: {msg}")
                } else {
                    msg
                });
            }
        }
        if let Ok(s) = self.handle.cap.stats() {
            stats.update(s);
        }
        capture.received = stats.total[0];
        capture.dropped_by_kernel = stats.total[1];
        capture.dropped_by_interface = stats.total[2];
        let table = self.pipeline.table.take();
        let _ = self.events.send(Event::Done {
            worker: self.index,
            table,
            stats: capture,
            packets,
        });
    }

    /// Reads what the ring holds (at most [`BATCH`] frames); `Ok(n)` frames read.
    fn read_batch(&mut self, packets: &mut u64) -> Result<usize, String> {
        let mut n = 0;
        while n < BATCH {
            let p = match self.handle.cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::TimeoutExpired) => break,
                Err(e) => return Err(e.to_string()),
            };
            n += 1;
            if let Some(limit) = self.control.count_limit {
                let seen = self.control.counted.fetch_add(1, Relaxed) + 1;
                if seen > limit {
                    self.control.stop.store(true, Relaxed);
                    break;
                }
                if seen == limit {
                    self.control.stop.store(true, Relaxed);
                    let _ = self.events.send(Event::CountReached);
                }
            }
            let h = p.header;
            let frac = h.ts.tv_usec as u64;
            let frac = if self.handle.nanos { frac } else { frac * 1000 };
            let ts_ns = (h.ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(frac);
            let frame = Frame {
                iface: self.iface,
                linktype: self.handle.linktype,
                ts_ns,
                orig_len: h.len,
                data: p.data,
            };
            self.pipeline.feed(&frame);
            *packets += 1;
            if let Some((tx, idb)) = &self.writer {
                let rec = Record {
                    idb: *idb,
                    ts_ns,
                    orig_len: h.len,
                    data: p.data.to_vec(),
                };
                if tx.send(rec).is_err() {
                    self.writer = None;
                }
            }
            if self.control.count_limit.is_some() && self.control.stopping() {
                break;
            }
        }
        Ok(n)
    }
}

/// Waits until the handle is readable or [`POLL_MS`] passed; returns the
/// poll events (an error event with nothing to read means the NIC failed).
fn wait_readable(fd: i32) -> std::io::Result<libc::c_short> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
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
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_ERROR writes one int into `err`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 && err != 0 {
        std::io::Error::from_raw_os_error(err).to_string()
    } else {
        "capture socket hung up".into()
    }
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
