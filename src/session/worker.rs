//! One capture loop per NIC, on its own thread, with its own [`Pipeline`].
//!
//! Nothing is shared per packet except, with `--count`, one atomic counter.
//! The loop hands its table over (`FlowTable::take`) when the interval epoch
//! moves and once more at the end; the session merges. Stop is prompt because
//! a NIC read waits at most [`WAIT`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::decode::Decoded;
use crate::flows::FlowTable;
use crate::iface::IfaceId;
use crate::pipeline::Pipeline;
use crate::report::{CaptureGap, CaptureStats};
use crate::sources::live::{KernelCounters, Nic};
use crate::sources::Frame;
use crate::timefmt::{now_ns, rfc3339};

use super::writer::Record;

/// Frames read between two looks at the stop flag and the epoch.
const BATCH: usize = 1024;
/// The longest a NIC read waits, so stop and epoch changes are seen promptly.
const WAIT: Duration = Duration::from_millis(50);
/// Upper bound on the final drain, in case the NIC is flooded.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);
/// How often kernel counters are read while capturing.
const COUNTERS_EVERY: Duration = Duration::from_secs(1);
/// How often a NIC that went away is looked for again.
const REOPEN_EVERY: Duration = Duration::from_millis(250);

pub use crate::os::Reopen;

/// Flags the session and all capture loops share.
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

    /// Counts one frame against `--count`; `false` once past the limit.
    fn admit(&self, events: &UnboundedSender<Event>) -> bool {
        let Some(limit) = self.count_limit else {
            return true;
        };
        let seen = self.counted.fetch_add(1, Relaxed) + 1;
        if seen >= limit {
            self.stop.store(true, Relaxed);
        }
        if seen == limit {
            let _ = events.send(Event::CountReached);
        }
        seen <= limit
    }
}

/// Looks at every frame a loop counts, with its decode (the probe's echo
/// finder). Runs on the capture thread: keep it cheap.
pub trait Tap: Send {
    fn frame(&mut self, nic: &str, frame: &Frame<'_>, decoded: &Decoded);
}

/// What capture loops tell the session.
#[derive(Debug)]
pub enum Event {
    /// Everything counted up to interval `epoch` that was not sent before.
    Delta {
        worker: usize,
        epoch: u64,
        table: FlowTable,
        /// The NIC's kernel counters so far.
        counters: KernelCounters,
    },
    /// `--count` was reached.
    CountReached,
    /// The NIC stopped delivering (`down`: why) or is captured again (`None`).
    Status { worker: usize, down: Option<String> },
    /// The loop ended: last table, kernel counters and the frames it saw.
    Done {
        worker: usize,
        table: FlowTable,
        stats: CaptureStats,
        packets: u64,
    },
}

/// A capture loop, ready to run on its own thread.
pub struct Worker {
    pub index: usize,
    pub nic: Box<dyn Nic>,
    pub iface: IfaceId,
    pub pipeline: Pipeline,
    pub control: Arc<Control>,
    pub events: UnboundedSender<Event>,
    /// `--write`: the writer's queue and this NIC's interface id in the file.
    pub writer: Option<(SyncSender<Record>, u32)>,
    pub tap: Option<Box<dyn Tap>>,
    /// Reopens the NIC when it comes back; `None`: a failure ends the loop.
    pub reopen: Option<Reopen>,
}

/// Per-frame work of a loop, apart from the NIC it reads.
struct Counting<'a> {
    name: &'a str,
    iface: IfaceId,
    pipeline: &'a mut Pipeline,
    control: &'a Control,
    events: &'a UnboundedSender<Event>,
    writer: &'a mut Option<(SyncSender<Record>, u32)>,
    tap: &'a mut Option<Box<dyn Tap>>,
    packets: u64,
}

impl Counting<'_> {
    /// Counts one frame; `false` ends the batch (`--count` reached).
    fn frame(&mut self, frame: &Frame<'_>) -> bool {
        if !self.control.admit(self.events) {
            return false;
        }
        let frame = Frame {
            iface: self.iface,
            ..*frame
        };
        let decoded = self.pipeline.feed(&frame);
        if let Some(tap) = self.tap {
            tap.frame(self.name, &frame, &decoded);
        }
        self.packets += 1;
        if let Some((tx, idb)) = self.writer {
            let rec = Record {
                idb: *idb,
                ts_ns: frame.ts_ns,
                orig_len: frame.orig_len,
                data: frame.data.to_vec(),
            };
            if tx.send(rec).is_err() {
                *self.writer = None;
            }
        }
        !(self.control.count_limit.is_some() && self.control.stopping())
    }
}

impl Worker {
    /// Captures until stopped; when the NIC fails, records a gap and (with
    /// `reopen`) captures again as soon as it is back. Reports `Done` last.
    pub fn run(self) {
        let Worker {
            index,
            mut nic,
            iface,
            mut pipeline,
            control,
            events,
            mut writer,
            mut tap,
            reopen,
        } = self;
        let name = nic.name().to_string();
        let mut count = Counting {
            name: &name,
            iface,
            pipeline: &mut pipeline,
            control: &control,
            events: &events,
            writer: &mut writer,
            tap: &mut tap,
            packets: 0,
        };
        let mut epoch = control.epoch.load(Relaxed);
        // Counters of handles closed before this one, and of this one.
        let mut before = KernelCounters::default();
        let mut kernel = KernelCounters::default();
        let mut last_counters = Instant::now();
        let mut stats = CaptureStats::default();
        loop {
            if control.stopping() {
                drain(nic.as_mut(), &mut count);
                break;
            }
            if let Err(e) = nic.read(BATCH, WAIT, &mut |f| count.frame(f)) {
                kernel = nic.counters().unwrap_or(kernel);
                before = add(before, kernel);
                kernel = KernelCounters::default();
                let gone = !nic.still_exists();
                note_failure(&name, gone, e.0, &mut stats);
                // Hand over what was counted, so intervals need not wait
                // for a NIC that may never come back.
                let _ = events.send(Event::Delta {
                    worker: index,
                    epoch,
                    table: count.pipeline.table.take(),
                    counters: before,
                });
                let _ = events.send(Event::Status {
                    worker: index,
                    down: stats.error.clone(),
                });
                let Some(back) = reopen.as_ref().and_then(|r| wait_for(&name, r, &control)) else {
                    break;
                };
                nic = back;
                let at = rfc3339(now_ns());
                if let Some(gap) = stats.gaps.last_mut() {
                    gap.end = Some(at.clone());
                }
                eprintln!("tuntrace: {name} is back at {at}; capturing on it again");
                // Counted from now on as part of the interval in force.
                epoch = control.epoch.load(Relaxed);
                let _ = events.send(Event::Status {
                    worker: index,
                    down: None,
                });
            }
            let now = control.epoch.load(Relaxed);
            if now != epoch {
                let dropped = add(before, kernel);
                let _ = events.send(Event::Delta {
                    worker: index,
                    epoch,
                    table: count.pipeline.table.take(),
                    counters: dropped,
                });
                epoch = now;
            }
            if last_counters.elapsed() >= COUNTERS_EVERY {
                kernel = nic.counters().unwrap_or(kernel);
                last_counters = Instant::now();
            }
        }
        let packets = count.packets;
        let still_open = !matches!(stats.gaps.last(), Some(g) if g.end.is_none());
        if still_open {
            kernel = nic.counters().unwrap_or(kernel);
        }
        let total = add(
            before,
            if still_open {
                kernel
            } else {
                KernelCounters::default()
            },
        );
        stats.received = total.received;
        stats.dropped_by_kernel = total.dropped_by_kernel;
        stats.dropped_by_interface = total.dropped_by_interface;
        let _ = events.send(Event::Done {
            worker: index,
            table: pipeline.table.take(),
            stats,
            packets,
        });
    }
}

fn add(a: KernelCounters, b: KernelCounters) -> KernelCounters {
    KernelCounters {
        received: a.received + b.received,
        dropped_by_kernel: a.dropped_by_kernel + b.dropped_by_kernel,
        dropped_by_interface: a.dropped_by_interface + b.dropped_by_interface,
    }
}

/// Warns of a NIC that stopped, and opens a gap in its stats.
fn note_failure(name: &str, gone: bool, msg: String, stats: &mut CaptureStats) {
    let at = rfc3339(now_ns());
    let what = if gone {
        "vanished"
    } else {
        "stopped capturing"
    };
    eprintln!(
        "tuntrace: warning: {name} {what} at {at} ({msg}); the other interfaces keep capturing"
    );
    let reason = if gone {
        format!("interface vanished: {msg}")
    } else {
        msg
    };
    if stats.vanished_at.is_none() {
        stats.vanished_at = Some(at.clone());
    }
    stats.error = Some(reason.clone());
    stats.gaps.push(CaptureGap {
        start: at,
        end: None,
        reason,
    });
}

/// Looks for the NIC every [`REOPEN_EVERY`] until it opens or the session
/// stops (the session unparks the loops when it stops).
fn wait_for(name: &str, reopen: &Reopen, control: &Control) -> Option<Box<dyn Nic>> {
    loop {
        std::thread::park_timeout(REOPEN_EVERY);
        if control.stopping() {
            return None;
        }
        if let Ok(nic) = reopen(name) {
            return Some(nic);
        }
    }
}

/// After stop: reads what the NIC still holds (at least its `min_drain`,
/// at most [`DRAIN_LIMIT`]).
fn drain(nic: &mut dyn Nic, count: &mut Counting<'_>) {
    let start = Instant::now();
    let min = nic.min_drain();
    while start.elapsed() < DRAIN_LIMIT {
        let wait = if start.elapsed() < min {
            WAIT
        } else {
            Duration::ZERO
        };
        match nic.read(BATCH, wait, &mut |f| count.frame(f)) {
            Ok(0) if start.elapsed() >= min => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
