//! `tuntrace live`: capture on the node's NICs at once and report like `read`.
//!
//! One capture loop per NIC on tokio's blocking pool, each with its own
//! pipeline; this controller merges their tables per interval (live view,
//! jsonl) and at the end, and stops on --duration, --count, SIGINT or SIGTERM.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::cli::{Format, LiveArgs};
use crate::exit;
use crate::iface::IfaceTable;
use crate::pipeline::Pipeline;
use crate::render;
use crate::report::{build_report, Report, SourceInfo};
use crate::sources::ifaces::{self, write_skipped, SelectError};
use crate::sources::live::{
    now_ns, open, CaptureConfig, Collector, Control, Event, FileWriter, FilterChoice, Handle,
    Interval, OpenError, Worker,
};

use crate::render::live_view::{self, LiveView};

/// Snaplen when only headers are needed: Ethernet + VLAN + IPv6 + UDP +
/// VXLAN/Geneve + inner Ethernet + inner IPv6 fit with room to spare.
const HEADER_SNAPLEN: u32 = 256;
/// Snaplen with `--write`: whole frames, like tcpdump.
const FULL_SNAPLEN: u32 = 262_144;
/// How long the capture loops get to drain and report after stop.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// The flags, checked.
struct Settings {
    duration: Option<Duration>,
    interval: Duration,
    capture: CaptureConfig,
    /// Redraw the live view on stderr.
    view: bool,
    /// Ticks are needed (live view or jsonl).
    ticking: bool,
}

impl Settings {
    fn from_args(a: &LiveArgs) -> Result<Settings, String> {
        let duration = match &a.duration {
            Some(d) => Some(parse_duration(d).map_err(|e| format!("--duration {d:?}: {e}"))?),
            None => None,
        };
        let interval =
            parse_duration(&a.interval).map_err(|e| format!("--interval {:?}: {e}", a.interval))?;
        if interval < Duration::from_millis(100) {
            return Err(format!("--interval {:?}: at least 100ms", a.interval));
        }
        if a.count == Some(0) {
            return Err("--count 0: give at least 1".into());
        }
        if a.buffer_mib == 0 || a.buffer_mib > 2047 {
            return Err(format!("--buffer-mib {}: between 1 and 2047", a.buffer_mib));
        }
        let snaplen = match a.snaplen {
            Some(s) if !(64..=FULL_SNAPLEN).contains(&s) => {
                return Err(format!("--snaplen {s}: between 64 and {FULL_SNAPLEN}"))
            }
            Some(s) => s,
            None if a.write.is_some() => FULL_SNAPLEN,
            None => HEADER_SNAPLEN,
        };
        let filter = if a.all_traffic {
            FilterChoice::All
        } else if let Some(f) = &a.filter {
            FilterChoice::User(f.clone())
        } else {
            FilterChoice::Tunnels {
                vxlan_ports: a.decode.vxlan_ports.clone(),
                geneve_ports: a.decode.geneve_ports.clone(),
            }
        };
        let view = a.format == Format::Table
            && std::io::stdout().is_terminal()
            && std::io::stderr().is_terminal();
        Ok(Settings {
            duration,
            interval,
            capture: CaptureConfig {
                snaplen,
                buffer_bytes: a.buffer_mib << 20,
                filter,
            },
            view,
            ticking: view || a.format == Format::Jsonl,
        })
    }
}

/// `10s`, `500ms`, `2m`, `1h`, `1.5s`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| "expected a number with a unit, e.g. 10s".to_string())?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(format!("unknown unit {u:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err("must be positive".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(args: &LiveArgs) -> u8 {
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            super::error(format!("cannot start the runtime: {e}"));
            return exit::USAGE;
        }
    };
    let code = rt.block_on(capture(args, settings));
    // Capture loops end within a poll period after stop; do not hang on one.
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Chooses and opens the NICs; `Err` is the exit code after the message.
fn open_all(args: &LiveArgs, cfg: &CaptureConfig) -> Result<Vec<Handle>, u8> {
    let all = ifaces::list().map_err(|e| {
        super::error(format!("cannot list interfaces: {e}"));
        exit::USAGE
    })?;
    let sel = ifaces::select(&all, &args.interfaces).map_err(|e| {
        super::error(&e);
        if let SelectError::NoneLeft { .. } = e {
            eprintln!("tuntrace: hint: tuntrace live -i IFACE captures on any interface");
        }
        exit::USAGE
    })?;
    if args.interfaces.is_empty() {
        let mut skipped = String::new();
        let _ = write_skipped(&mut skipped, &sel.skipped);
        eprintln!("tuntrace: chose {}", sel.chosen.join(", "));
        if !skipped.is_empty() {
            eprintln!("tuntrace: skipped {skipped}");
        }
    }
    let mut handles = Vec::new();
    for name in &sel.chosen {
        match open(name, cfg) {
            Ok(h) => handles.push(h),
            Err(e) => {
                super::error(&e);
                let fatal = !args.interfaces.is_empty()
                    || matches!(e, OpenError::Permission { .. } | OpenError::Filter { .. });
                if fatal {
                    if let OpenError::NoSuchDevice { .. } = e {
                        let names: Vec<String> = all.iter().map(|i| i.name.clone()).collect();
                        eprintln!("tuntrace: interfaces here: {}", names.join(", "));
                    }
                    return Err(exit::USAGE);
                }
                eprintln!("tuntrace: warning: going on without {}", e.iface());
            }
        }
    }
    if handles.is_empty() {
        super::error("no interface could be opened");
        return Err(exit::USAGE);
    }
    Ok(handles)
}

async fn capture(args: &LiveArgs, st: Settings) -> u8 {
    // Signals first, so a SIGTERM right after "capturing on" is ours.
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(e), _) | (_, Err(e)) => {
            super::error(format!("cannot handle signals: {e}"));
            return exit::USAGE;
        }
    };
    let handles = match open_all(args, &st.capture) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let mut ifaces = IfaceTable::new();
    let names: Vec<String> = handles.iter().map(|h| h.name.clone()).collect();
    let ids: Vec<_> = names.iter().map(|n| ifaces.intern(n)).collect();
    if names.iter().any(|n| n == ifaces::ANY) {
        for i in ifaces::list().unwrap_or_default() {
            ifaces.set_ifindex_name(i.index, &i.name);
        }
    }
    let writer = match &args.write {
        None => None,
        Some(path) => match start_writer(path, &handles, st.capture.snaplen) {
            Ok(w) => Some(w),
            Err(code) => return code,
        },
    };
    // Large snaplens get block mode (see sources::live::open).
    let block_mode = handles.iter().any(|h| !h.immediate);
    let control = Arc::new(Control::new(args.count));
    let (tx, mut rx) = unbounded_channel();
    let limits = super::limits(&args.decode);
    let cfg = super::decode_config(&args.decode);
    for (i, handle) in handles.into_iter().enumerate() {
        let w = Worker {
            index: i,
            handle,
            iface: ids[i],
            pipeline: Pipeline::new(cfg.clone(), limits),
            control: control.clone(),
            events: tx.clone(),
            writer: writer.as_ref().map(|w| (w.tx.clone(), w.ids[i])),
        };
        tokio::task::spawn_blocking(move || w.run());
    }
    drop(tx);
    let start = Instant::now();
    let start_ns = now_ns();
    let what = match &st.capture.filter {
        FilterChoice::Tunnels { .. } => "tunnel traffic".to_string(),
        FilterChoice::User(f) => format!("filter {f:?}"),
        FilterChoice::All => "all traffic".to_string(),
    };
    eprintln!(
        "tuntrace: capturing on {} ({what}, snaplen {}, buffer {} MiB{}{})",
        names.join(", "),
        st.capture.snaplen,
        args.buffer_mib,
        if block_mode { ", block mode" } else { "" },
        match &args.write {
            Some(p) => format!(", writing {}", p.display()),
            None => String::new(),
        }
    );
    let mut col = Collector::new(names.len(), limits, start_ns);
    let mut out = Output {
        format: args.format,
        top: args.decode.top,
        view: st.view.then(LiveView::new),
        start,
        names: names.clone(),
    };
    let deadline = st
        .duration
        .map(|d| tokio::time::Instant::from_std(start + d));
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::from_std(start + st.interval),
        st.interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = sleep_until(deadline) => break,
            _ = ticker.tick(), if st.ticking => {
                let epoch = col.tick(now_ns());
                control.epoch.store(epoch, Relaxed);
            }
            ev = rx.recv() => match ev {
                Some(ev) => col.on_event(ev),
                None => break,
            },
        }
        while let Some(iv) = col.ready() {
            out.interval(&col, &ifaces, iv, st.interval);
        }
        if col.count_reached || col.all_finished() {
            break;
        }
    }
    control.stop.store(true, Relaxed);
    finish_loops(&mut col, &mut rx, &mut term, &mut int).await;
    if args.format == Format::Jsonl {
        let rest = col.rest(now_ns());
        out.interval(&col, &ifaces, rest, st.interval);
    }
    if let Some(w) = writer {
        if col.all_finished() {
            if let Err(e) = w.finish() {
                super::error(format!("writing the capture file: {e}"));
            }
        } else {
            super::error("a capture loop did not stop; the capture file may be cut short");
        }
    }
    let report = final_report(&col, &ifaces, &names);
    out.finish(&report)
}

/// Creates the `--write` file with one interface block per NIC.
fn start_writer(
    path: &std::path::Path,
    handles: &[Handle],
    snaplen: u32,
) -> Result<FileWriter, u8> {
    let nics: Vec<_> = handles
        .iter()
        .map(|h| (h.name.clone(), h.linktype, snaplen))
        .collect();
    FileWriter::start(path, &nics).map_err(|e| {
        super::error(format!("cannot write {}: {e}", path.display()));
        exit::USAGE
    })
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Waits for every loop's last table (drain included); a second signal or
/// [`FINISH_WAIT`] cuts the wait short.
async fn finish_loops(
    col: &mut Collector,
    rx: &mut UnboundedReceiver<Event>,
    term: &mut tokio::signal::unix::Signal,
    int: &mut tokio::signal::unix::Signal,
) {
    let limit = tokio::time::sleep(FINISH_WAIT);
    tokio::pin!(limit);
    while !col.all_finished() {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => col.on_event(ev),
                None => break,
            },
            _ = &mut limit => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
}

/// The report with kernel counters per NIC, and warnings for losses.
fn final_report(col: &Collector, ifaces: &IfaceTable, names: &[String]) -> Report {
    let mut sources = Vec::new();
    for (name, fin) in names.iter().zip(&col.finished) {
        sources.push(SourceInfo {
            name: format!("live:{name}"),
            packets: fin.as_ref().map(|f| f.packets).unwrap_or(0),
            error: fin.as_ref().and_then(|f| f.stats.error.clone()),
            damaged_at: None,
        });
    }
    let mut report = build_report(&col.total, ifaces, sources);
    for (name, fin) in names.iter().zip(&col.finished) {
        let Some(f) = fin else {
            super::error(format!(
                "{name}: the capture loop did not report; its counts may be short"
            ));
            continue;
        };
        let s = &f.stats;
        if s.dropped_by_kernel + s.dropped_by_interface > 0 {
            eprintln!(
                "tuntrace: warning: {name}: {} packets dropped by the kernel and {} by the \
                 interface; the counts are short by that much (raise --buffer-mib or lower --snaplen)",
                s.dropped_by_kernel, s.dropped_by_interface
            );
        }
        if let Some(link) = report.links.iter_mut().find(|l| &l.interface == name) {
            link.capture = Some(s.clone());
        }
    }
    report
}

/// Where results go: interval records, the live view, the final report.
struct Output {
    format: Format,
    top: usize,
    view: Option<LiveView>,
    start: Instant,
    /// Capture loop i's NIC.
    names: Vec<String>,
}

impl Output {
    fn interval(&mut self, col: &Collector, ifaces: &IfaceTable, iv: Interval, every: Duration) {
        let part = build_report(&iv.table, ifaces, Vec::new());
        if self.format == Format::Jsonl {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let _ = render::jsonl_interval(&part, iv.start_ns, iv.end_ns, &mut lock)
                .and_then(|_| lock.flush());
        }
        if let Some(view) = &mut self.view {
            let mut total = build_report(&col.total, ifaces, Vec::new());
            for (name, dropped) in self.names.iter().zip(&col.drops) {
                let link = total.links.iter_mut().find(|l| &l.interface == name);
                if let (Some(link), true) = (link, *dropped > 0) {
                    link.capture = Some(crate::report::CaptureStats {
                        dropped_by_kernel: *dropped,
                        ..Default::default()
                    });
                }
            }
            let secs = (iv.end_ns.saturating_sub(iv.start_ns) as f64 / 1e9)
                .max(every.as_secs_f64() / 10.0);
            let lines = live_view::lines(&total, &part, secs, 3);
            let width = live_view::terminal_width(2);
            let elapsed = self.start.elapsed().as_secs();
            let _ = view.draw(elapsed, &lines, width, &mut std::io::stderr().lock());
        }
    }

    fn finish(&mut self, report: &Report) -> u8 {
        if let Some(view) = &mut self.view {
            let _ = view.erase(&mut std::io::stderr().lock());
        }
        let stdout = std::io::stdout();
        let mut lock = std::io::BufWriter::new(stdout.lock());
        let written =
            render::render(report, self.format, self.top, &mut lock).and_then(|_| lock.flush());
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                super::error(format!("writing the report: {e}"));
                exit::USAGE
            }
            _ => exit::OK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "s", "10x", "-1s", "0", "1e400s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
