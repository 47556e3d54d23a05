//! `tuntrace live`: capture on the node's NICs at once and report like `read`.
//!
//! The capture session does the work (see `session`); this command chooses
//! its settings and renders intervals (live view, jsonl) and the final report.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::cli::{Format, LiveArgs};
use crate::exit;
use crate::os::{Host, Platform};
use crate::render;
use crate::render::live_view::{self, LiveView};
use crate::report::Report;
use crate::session::{self, open_chosen, Ended, FileWriter, Interval, Plan, Session};
use crate::sources::live::{CaptureConfig, FilterChoice, Nic};
use crate::timeline::Detector;

mod daemon;
mod files;
mod method;

use files::Reserved;

/// Snaplen when only headers are needed: Ethernet + VLAN + IPv6 + UDP +
/// VXLAN/Geneve + inner Ethernet + inner IPv6 fit with room to spare.
const HEADER_SNAPLEN: u32 = 256;
/// Snaplen with `--write`: whole frames, like tcpdump.
const FULL_SNAPLEN: u32 = 262_144;

/// The flags, checked.
struct Settings {
    duration: Option<Duration>,
    interval: Duration,
    capture: CaptureConfig,
    /// Redraw the live view on stderr.
    view: bool,
    /// `--metrics-pair-ttl`.
    pair_ttl: Duration,
    /// `--nodes`, for the timeline.
    nodes: crate::audit::nodes::Nodes,
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
        for name in &a.interfaces {
            crate::session::choose::check_name(name).map_err(|e| e.to_string())?;
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
                extra: String::new(),
            }
        };
        let pair_ttl = parse_duration(&a.metrics.metrics_pair_ttl)
            .map_err(|e| format!("--metrics-pair-ttl {:?}: {e}", a.metrics.metrics_pair_ttl))?;
        if a.metrics.metrics_max_pairs == 0 && a.metrics.metrics_pairs {
            return Err("--metrics-max-pairs 0: give at least 1".into());
        }
        let view = a.format == Format::Table
            && std::io::stdout().is_terminal()
            && std::io::stderr().is_terminal();
        let nodes = match &a.nodes {
            Some(p) => crate::audit::read_nodes(p).map_err(|e| format!("--nodes: {e}"))?,
            None => Default::default(),
        };
        Ok(Settings {
            duration,
            interval,
            capture: CaptureConfig {
                snaplen,
                buffer_bytes: a.buffer_mib << 20,
                filter,
            },
            view,
            pair_ttl,
            nodes,
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
    run_on(&Host, args, &mut std::io::stdout())
}

/// `live` on `platform` (the host, or fake NICs), the report written to `out`.
pub fn run_on(platform: &dyn Platform, args: &LiveArgs, out: &mut dyn Write) -> u8 {
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    match session::block_on(capture(platform, args, settings, out)) {
        Ok(code) => code,
        Err(e) => {
            super::error(format!("cannot start the runtime: {e}"));
            exit::USAGE
        }
    }
}

async fn capture(
    platform: &dyn Platform,
    args: &LiveArgs,
    st: Settings,
    out: &mut dyn Write,
) -> u8 {
    // Signals first, so a SIGTERM right after "capturing on" is ours.
    let mut stops = match platform.stop_requests() {
        Ok(s) => s,
        Err(e) => {
            super::error(format!("cannot handle signals: {e}"));
            return exit::USAGE;
        }
    };
    let names = match crate::k8s::K8sNames::read(&args.k8s) {
        Ok(n) => n,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    // Output files first, then the metrics port, then the NICs: what fails
    // fails before anything else started, and files this run created go
    // again (see `files`).
    let reserve = |p: &Option<std::path::PathBuf>, flag: &str| match p {
        Some(p) if p.as_os_str() != "-" || flag != "--events" => Reserved::open(p, flag).map(Some),
        _ => Ok(None),
    };
    let reserved = reserve(&args.write, "--write").and_then(|w| {
        let s = reserve(&args.svg, "--svg")?;
        let e = reserve(&args.metrics.events, "--events")?;
        Ok((w, s, e))
    });
    let (write_file, svg_file, events_file) = match reserved {
        Ok(r) => r,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    // The metrics port before any NIC: a taken port fails before capture.
    let mut daemon = match &args.metrics.metrics_listen {
        None => None,
        Some(addr) => match daemon::start(platform, args, *addr, st.pair_ttl) {
            Ok(d) => Some(d),
            Err(code) => return code,
        },
    };
    let Ok(opened) = open_chosen(platform, &args.interfaces, &st.capture) else {
        return exit::USAGE;
    };
    if let Some(d) = &mut daemon {
        if let Err(code) = d.log_events(events_file) {
            return code;
        }
    }
    let writer = match write_file {
        None => None,
        Some(f) => match start_writer(f, &opened.nics, st.capture.snaplen) {
            Ok(w) => Some(w),
            Err(code) => return code,
        },
    };
    let svg = match svg_file {
        None => None,
        Some(f) => match SvgFile::open(f) {
            Ok(f) => Some(f),
            Err(code) => return code,
        },
    };
    if session::drop_privileges(platform, &args.user, true).is_err() {
        return exit::USAGE;
    }
    announce(args, &st, &opened.nics);
    let plan = Plan {
        count: args.count,
        duration: st.duration,
        // Every format ticks: the timeline follows the intervals.
        interval: Some(st.interval),
        writer,
        reopen: Some(platform.reopener(&st.capture)),
        ..Plan::new(
            super::decode_config(&args.decode),
            super::limits(&args.decode),
        )
    };
    let mut session = Session::start(opened.nics, plan, &opened.known);
    let mut output = Output {
        format: args.format,
        top: args.decode.top,
        view: st.view.then(LiveView::new),
        every: st.interval,
        out,
        timeline: Detector::new(st.nodes),
        names,
        svg,
    };
    if let Some(d) = &mut daemon {
        d.update(&session, None);
    }
    let ended = session
        .run(&mut stops, std::future::pending(), |s, iv| {
            if let Some(d) = &mut daemon {
                d.update(s, Some(&iv));
            }
            let changes = output.interval(s, iv);
            if let Some(d) = &mut daemon {
                d.path_changes(&changes);
            }
        })
        .await;
    if let Some(d) = &mut daemon {
        d.update(&session, None);
        if ended == Ended::NicsGone {
            // Every NIC stopped by itself: keep answering (not ready) until
            // told to stop, so the pod is not restarted for a NIC that is down.
            eprintln!("tuntrace: no interface left to capture on; serving until stopped");
            let _ = stops.recv().await;
        }
    }
    let rest = session.rest();
    let changes = output.interval(&session, rest);
    if let Some(d) = &mut daemon {
        d.path_changes(&changes);
    }
    let mut report = session.report();
    let last = output.timeline.finish();
    output.path_changes(&last);
    report.timeline = output.timeline.events().to_vec();
    output.finish(&report)
}

/// "capturing on ..." with what is kept and how.
fn announce(args: &LiveArgs, st: &Settings, nics: &[Box<dyn Nic>]) {
    let names: Vec<&str> = nics.iter().map(|n| n.name()).collect();
    let what = match &st.capture.filter {
        FilterChoice::Tunnels { .. } => "tunnel traffic".to_string(),
        FilterChoice::User(f) => format!("filter {f:?}"),
        FilterChoice::All => "all traffic".to_string(),
    };
    let block_mode = nics.iter().any(|n| !n.min_drain().is_zero());
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
}

/// Starts the `--write` file with one interface block per NIC.
fn start_writer(file: Reserved, nics: &[Box<dyn Nic>], snaplen: u32) -> Result<FileWriter, u8> {
    let blocks: Vec<_> = nics
        .iter()
        .map(|n| (n.name().to_string(), n.linktype(), snaplen))
        .collect();
    let path = file.path().to_path_buf();
    file.take(true)
        .and_then(|f| FileWriter::start_on(f, &path, &blocks))
        .map_err(|e| {
            super::error(format!(
                "--write {}: cannot write there: {e}",
                path.display()
            ));
            exit::USAGE
        })
}

/// Where results go: interval records, the live view, the final report.
struct Output<'a> {
    format: Format,
    top: usize,
    view: Option<LiveView>,
    every: Duration,
    out: &'a mut dyn Write,
    timeline: Detector,
    /// `--k8s`: pods and nodes by name in the final report.
    names: crate::k8s::K8sNames,
    /// `--svg FILE`.
    svg: Option<SvgFile>,
}

impl Output<'_> {
    /// Renders one interval; returns the path changes it settled.
    fn interval(&mut self, session: &Session, iv: Interval) -> Vec<crate::report::PathChange> {
        let part = session.report_of(&iv.table);
        if self.format == Format::Jsonl {
            let _ = render::jsonl_interval(&part, iv.start_ns, iv.end_ns, &mut self.out)
                .and_then(|_| self.out.flush());
        }
        let changes = self.timeline.observe_report(&part, iv.end_ns);
        self.path_changes(&changes);
        if let Some(svg) = &mut self.svg {
            svg.draw(&session.report_of(session.total()), &self.names);
        }
        if let Some(view) = &mut self.view {
            let mut total = session.report_of(session.total());
            for (name, dropped) in session.names().iter().zip(session.drops()) {
                let link = total.links.iter_mut().find(|l| &l.interface == name);
                if let (Some(link), true) = (link, dropped > 0) {
                    link.capture = Some(crate::report::CaptureStats {
                        dropped_by_kernel: dropped,
                        ..Default::default()
                    });
                }
            }
            let secs = (iv.end_ns.saturating_sub(iv.start_ns) as f64 / 1e9)
                .max(self.every.as_secs_f64() / 10.0);
            let lines = live_view::lines(&total, &part, secs, 3);
            let width = crate::os::terminal::width(2);
            let elapsed = session.started().elapsed().as_secs();
            let _ = view.draw(elapsed, &lines, width, &mut std::io::stderr().lock());
        }
        changes
    }

    /// Path changes as they settle: jsonl events, or lines above the live view.
    fn path_changes(&mut self, changes: &[crate::report::PathChange]) {
        for e in changes {
            if self.format == Format::Jsonl {
                let _ = render::timeline::jsonl_event(e, &mut self.out);
                let _ = self.out.flush();
            } else if let Some(view) = &mut self.view {
                let mut err = std::io::stderr().lock();
                let _ = view.erase(&mut err);
                let _ = writeln!(err, "{}", render::timeline::line(e));
            }
        }
    }

    fn finish(&mut self, report: &Report) -> u8 {
        if let Some(svg) = &mut self.svg {
            svg.draw(report, &self.names);
        }
        if let Some(view) = &mut self.view {
            let _ = view.erase(&mut std::io::stderr().lock());
        }
        let mut buf = std::io::BufWriter::new(&mut self.out);
        let written = render::render_named(report, self.format, self.top, &self.names, &mut buf)
            .and_then(|_| buf.flush());
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                super::error(format!("writing the report: {e}"));
                exit::USAGE
            }
            _ => exit::OK,
        }
    }
}

/// `--svg FILE`: the picture of the cumulative report, rewritten in place
/// (the file is opened before privileges are dropped, like `--write`).
struct SvgFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    /// How the node was told has been said (once, not every interval).
    noted: bool,
    failed: bool,
}

impl SvgFile {
    fn open(file: Reserved) -> Result<SvgFile, u8> {
        let path = file.path().to_path_buf();
        let file = file.take(true).map_err(|e| {
            super::error(format!("--svg {}: cannot write there: {e}", path.display()));
            exit::USAGE
        })?;
        Ok(SvgFile {
            path,
            file,
            noted: false,
            failed: false,
        })
    }

    fn draw(&mut self, report: &Report, names: &crate::k8s::K8sNames) {
        use std::io::{Seek, SeekFrom};
        if self.failed {
            return;
        }
        let mut buf = Vec::new();
        let note = render::svg_picture(report, names, &mut buf);
        let written = note.and_then(|note| {
            if let (Some(n), false) = (note, self.noted) {
                eprintln!("tuntrace: {n}");
            }
            self.noted = true;
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(&buf)?;
            self.file.flush()
        });
        if let Err(e) = written {
            eprintln!(
                "tuntrace: warning: --svg {}: {e}; the picture is no longer updated",
                self.path.display()
            );
            self.failed = true;
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
