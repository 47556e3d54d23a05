//! One capture session: the chosen NICs, one capture loop (thread) each with
//! its own flow table, periodic snapshots, kernel counters, NICs that
//! vanish, one stop path (duration, `--count`, SIGINT/SIGTERM through
//! tokio, or the caller's own condition) and the final report. `live`,
//! `audit` (live) and `probe` all run on it, on any [`Platform`] — the real
//! host, or fake NICs replaying capture files in tests.
//!
//! - `choose`: which NICs (Calico's exclusions, `-i`).
//! - `open`: opening them, keeping what opens.
//! - `worker`: the per-NIC capture loop; `collect`: merging their tables.
//! - `writer`: `--write`, one pcapng interface block per NIC.

pub mod choose;
mod collect;
pub mod open;
mod worker;
pub mod writer;

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

pub use collect::{Finished, Interval};
pub use open::{drop_privileges, open_chosen, NotStarted, Opened};
pub use worker::{Reopen, Tap};
pub use writer::{FileWriter, Written};

use crate::decode::DecodeConfig;
use crate::flows::{FlowTable, Limits};
use crate::iface::{IfaceId, IfaceTable};
use crate::os::{Iface, StopRequests};
use crate::pipeline::Pipeline;
use crate::report::{build_report, CaptureStats, Report, SourceInfo, WrittenFile};
use crate::sources::live::Nic;
use crate::timefmt::now_ns;

use self::collect::Collector;
use self::worker::{Control, Event, Worker};

/// How long the capture loops get to drain and report after stop.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// What a session does, apart from the NICs it reads.
pub struct Plan {
    pub decode: DecodeConfig,
    pub limits: Limits,
    /// Stop after this many frames in all.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Hand out a snapshot every interval (live view, jsonl, metrics).
    pub interval: Option<Duration>,
    /// `--write`.
    pub writer: Option<FileWriter>,
    /// Opens a NIC again when it comes back after going down or being
    /// deleted; `None`: such a NIC stays out for the rest of the session.
    pub reopen: Option<Reopen>,
    /// Makes a [`Tap`] for each NIC by name (the probe's echo finder).
    #[allow(clippy::type_complexity)]
    pub tap: Option<Box<dyn Fn(&str) -> Box<dyn Tap>>>,
}

impl Plan {
    pub fn new(decode: DecodeConfig, limits: Limits) -> Plan {
        Plan {
            decode,
            limits,
            count: None,
            duration: None,
            interval: None,
            writer: None,
            reopen: None,
            tap: None,
        }
    }
}

/// Why a session stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Duration,
    Count,
    /// SIGINT or SIGTERM.
    Signal,
    /// The caller's own condition.
    Done,
    /// Every NIC stopped by itself (vanished, failed).
    NicsGone,
}

/// A running capture.
pub struct Session {
    names: Vec<String>,
    ids: Vec<IfaceId>,
    ifaces: IfaceTable,
    control: Arc<Control>,
    rx: UnboundedReceiver<Event>,
    col: Collector,
    threads: Vec<Option<JoinHandle<()>>>,
    writer: Option<FileWriter>,
    /// How `--write` went, once the writer finished.
    written: Option<Written>,
    duration: Option<Duration>,
    interval: Option<Duration>,
    started: Instant,
}

impl Session {
    /// Starts one capture loop per NIC. `known` (the host's interfaces)
    /// names the ifindexes of frames captured on `any`.
    pub fn start(nics: Vec<Box<dyn Nic>>, plan: Plan, known: &[Iface]) -> Session {
        let mut ifaces = IfaceTable::new();
        let names: Vec<String> = nics.iter().map(|n| n.name().to_string()).collect();
        let ids: Vec<IfaceId> = names.iter().map(|n| ifaces.intern(n)).collect();
        if names.iter().any(|n| n == crate::os::ifaces::ANY) {
            for i in known {
                ifaces.set_ifindex_name(i.index, &i.name);
            }
        }
        let control = Arc::new(Control::new(plan.count));
        let (tx, rx) = unbounded_channel();
        let mut threads = Vec::new();
        for (i, nic) in nics.into_iter().enumerate() {
            let w = Worker {
                index: i,
                iface: ids[i],
                tap: plan.tap.as_ref().map(|make| make(nic.name())),
                nic,
                pipeline: Pipeline::new(plan.decode.clone(), plan.limits),
                control: control.clone(),
                events: tx.clone(),
                writer: plan.writer.as_ref().map(|w| (w.tx.clone(), w.ids[i])),
                reopen: plan.reopen.clone(),
            };
            let t = std::thread::Builder::new()
                .name(format!("capture-{}", names[i]))
                .spawn(move || w.run());
            threads.push(t.ok());
        }
        let col = Collector::new(names.len(), plan.limits, now_ns());
        Session {
            names,
            ids,
            ifaces,
            control,
            rx,
            col,
            threads,
            writer: plan.writer,
            written: None,
            duration: plan.duration,
            interval: plan.interval,
            started: Instant::now(),
        }
    }

    /// Captures until the duration, `--count`, a stop request or `until`
    /// ends it, calling `on_interval` with each complete interval; then
    /// waits for every loop's last table (a second stop request cuts that
    /// short) and closes the `--write` file.
    pub async fn run<F, I>(
        &mut self,
        stops: &mut StopRequests,
        until: F,
        mut on_interval: I,
    ) -> Ended
    where
        F: Future<Output = ()>,
        I: FnMut(&Session, Interval),
    {
        tokio::pin!(until);
        let start = tokio::time::Instant::from_std(self.started);
        let deadline = self.duration.map(|d| start + d);
        let every = self.interval.unwrap_or(Duration::from_secs(3600));
        let mut ticker = tokio::time::interval_at(start + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listening = true;
        let ended = loop {
            tokio::select! {
                r = stops.recv(), if listening => match r {
                    Some(()) => break Ended::Signal,
                    None => listening = false,
                },
                _ = &mut until => break Ended::Done,
                _ = sleep_until(deadline) => break Ended::Duration,
                _ = ticker.tick(), if self.interval.is_some() => {
                    let epoch = self.col.tick(now_ns());
                    self.control.epoch.store(epoch, Relaxed);
                }
                ev = self.rx.recv() => match ev {
                    Some(ev) => self.col.on_event(ev),
                    None => break Ended::NicsGone,
                },
            }
            let mut handed = false;
            while let Some(iv) = self.col.ready() {
                on_interval(self, iv);
                handed = true;
            }
            if handed {
                give_back_memory();
            }
            if self.col.count_reached {
                break Ended::Count;
            }
            if self.col.all_finished() {
                break Ended::NicsGone;
            }
        };
        self.control.stop.store(true, Relaxed);
        // Loops waiting for a NIC to come back are parked: wake them.
        for t in self.threads.iter().flatten() {
            t.thread().unpark();
        }
        self.finish(stops, listening).await;
        ended
    }

    /// Waits for every loop's last table (drain included) for at most
    /// [`FINISH_WAIT`] or until another stop request; closes the writer.
    async fn finish(&mut self, stops: &mut StopRequests, listening: bool) {
        let limit = tokio::time::sleep(FINISH_WAIT);
        tokio::pin!(limit);
        while !self.col.all_finished() {
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Some(ev) => self.col.on_event(ev),
                    None => break,
                },
                _ = &mut limit => break,
                r = stops.recv(), if listening => if r.is_some() { break },
            }
        }
        for (t, fin) in self.threads.iter_mut().zip(&self.col.finished) {
            // A loop that reported has returned (or is about to): join it.
            if fin.is_some() {
                if let Some(t) = t.take() {
                    let _ = t.join();
                }
            }
        }
        if let Some(w) = self.writer.take() {
            if self.col.all_finished() {
                self.written = Some(w.finish());
            } else {
                eprintln!(
                    "tuntrace: a capture loop did not stop; the capture file may be cut short"
                );
            }
        }
    }

    /// Everything counted and not yet handed out as an interval, as one
    /// last interval ending now (jsonl's closing record).
    pub fn rest(&mut self) -> Interval {
        self.col.rest(now_ns())
    }

    /// The NICs, in capture-loop order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Everything counted so far.
    pub fn total(&self) -> &FlowTable {
        &self.col.total
    }

    /// Per NIC: why it is not being captured now (down, gone, ended), or
    /// `None` while it is.
    pub fn down(&self) -> &[Option<String>] {
        &self.col.down
    }

    /// Kernel + interface drops per NIC, as last reported.
    pub fn drops(&self) -> impl Iterator<Item = u64> + '_ {
        self.col
            .counters
            .iter()
            .map(|c| c.dropped_by_kernel + c.dropped_by_interface)
    }

    /// Kernel counters per NIC, as last reported (capture-loop order).
    pub fn counters(&self) -> &[crate::sources::live::KernelCounters] {
        &self.col.counters
    }

    /// When the session started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// A report of `table` (an interval, or the total) without kernel counters.
    pub fn report_of(&self, table: &FlowTable) -> Report {
        build_report(table, &self.ifaces, Vec::new())
    }

    /// The final report: the total, each NIC's kernel counters, one source
    /// per NIC. Warns on stderr of drops and of loops that did not report.
    pub fn report(&self) -> Report {
        let sources = self
            .names
            .iter()
            .zip(&self.col.finished)
            .map(|(name, fin)| SourceInfo {
                name: format!("live:{name}"),
                packets: fin.as_ref().map_or(0, |f| f.packets),
                error: fin.as_ref().and_then(|f| f.stats.error.clone()),
                damaged_at: None,
                oversize_records: None,
            })
            .collect();
        let mut report = build_report(&self.col.total, &self.ifaces, sources);
        report.written = self.written.as_ref().map(|w| {
            if let Some(e) = &w.error {
                eprintln!(
                    "tuntrace: warning: the capture file {} is cut short: {} packets written, \
                     {} counted but not written ({e})",
                    w.path.display(),
                    w.packets,
                    w.lost
                );
            }
            WrittenFile {
                path: w.path.display().to_string(),
                packets: w.packets,
                lost: w.lost,
                error: w.error.clone(),
            }
        });
        for ((name, id), fin) in self.names.iter().zip(&self.ids).zip(&self.col.finished) {
            let Some(f) = fin else {
                eprintln!(
                    "tuntrace: {name}: the capture loop did not report; its counts may be short"
                );
                continue;
            };
            warn_drops(name, &f.stats);
            let label = self.ifaces.name(*id);
            if let Some(link) = report.links.iter_mut().find(|l| l.interface == label) {
                link.capture = Some(f.stats.clone());
            }
        }
        report
    }
}

fn warn_drops(name: &str, s: &CaptureStats) {
    if s.dropped_by_kernel + s.dropped_by_interface > 0 {
        eprintln!(
            "tuntrace: warning: {name}: {} packets dropped by the kernel and {} by the \
             interface; the counts are short by that much (raise --buffer-mib or lower --snaplen)",
            s.dropped_by_kernel, s.dropped_by_interface
        );
    }
}

/// An interval's work (reports and timeline input for tens of thousands of
/// pairs) frees a lot at once, which glibc keeps in its per-thread arenas;
/// handing it back keeps the next interval's peak from stacking on it (the
/// 64 MiB flood test, tests/faults_lab.rs).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Runs `f` on a fresh single-threaded tokio runtime (the commands' way in).
pub fn block_on<T>(f: impl Future<Output = T>) -> std::io::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(f);
    // Capture loops end within a read's wait after stop; do not hang on one.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(out)
}
