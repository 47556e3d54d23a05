//! `live --metrics`: the exporter fed from the session's intervals, and its
//! HTTP server, started before any NIC is opened.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use super::files::Reserved;
use super::method::MethodWatch;
use crate::audit::{audit, Expect};
use crate::cli::LiveArgs;
use crate::exit;
use crate::metrics::{serve, EventLog, Exporter, NicState, Server, Settings};
use crate::os::Platform;
use crate::report::{CaptureStats, Report};
use crate::session::{Interval, Session};
use crate::timefmt::now_ns;

/// The exporter and the server answering from it.
pub struct Daemon {
    exporter: Exporter,
    /// `--expect-*` / `--pod-cidr`, audited on every update.
    expect: Option<Expect>,
    /// `--events`.
    events: Option<EventLog>,
    /// The node's name and `--events` path, for [`Daemon::log_events`].
    node: String,
    events_path: Option<std::path::PathBuf>,
    /// `--expect-method`, evaluated again every few seconds.
    method: Option<MethodWatch>,
    /// Held to keep serving; dropped (stopped) with the daemon.
    _server: Server,
}

/// Binds `addr` and starts serving; exit 2 when the address cannot be had.
pub fn start(
    platform: &dyn Platform,
    args: &LiveArgs,
    addr: SocketAddr,
    pair_ttl: Duration,
) -> Result<Daemon, u8> {
    let listener = serve::bind(addr).map_err(|e| {
        super::super::error(format!("--metrics {addr}: cannot listen there: {e}"));
        exit::USAGE
    })?;
    let local = platform.addresses().unwrap_or_else(|e| {
        eprintln!(
            "tuntrace: warning: cannot list this node's addresses ({e}); \
             every tunnel is labelled direction=\"ingress\""
        );
        Vec::new()
    });
    let m = &args.metrics;
    let node = node_name(platform, m.node.as_deref());
    let method = match &m.expect_method {
        None => None,
        Some(raw) => Some(MethodWatch::start(raw, &m.host).map_err(|e| {
            super::super::error(e);
            exit::USAGE
        })?),
    };
    let expect = expectations(args, platform, method.is_some());
    let exporter = Exporter::new(Settings {
        node: node.clone(),
        local,
        pairs: m.metrics_pairs,
        max_pairs: m.metrics_max_pairs,
        pair_ttl,
        audit: expect.is_some(),
        autodetect: method.is_some(),
    });
    let server = Server::start(listener, exporter.shared()).map_err(|e| {
        super::super::error(format!("--metrics {addr}: cannot start serving: {e}"));
        exit::USAGE
    })?;
    eprintln!(
        "tuntrace: serving /metrics, /report, /healthz, /readyz on http://{}",
        server.addr
    );
    let mut d = Daemon {
        exporter,
        expect,
        events: None,
        node,
        events_path: m.events.clone(),
        method,
        _server: server,
    };
    d.follow_pick(true);
    Ok(d)
}

/// The audit's expectations, when any `--expect-*` or `--pod-cidr` is given
/// (each NIC's own MTU for the near-MTU check, as `audit` live does).
fn expectations(args: &LiveArgs, platform: &dyn Platform, method: bool) -> Option<Expect> {
    let m = &args.metrics;
    if m.expect_iface.is_empty() && m.expect_cidr.is_empty() && m.pod_cidr.is_empty() && !method {
        return None;
    }
    let mut e = Expect::new();
    e.ifaces = m
        .expect_iface
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    e.cidrs = m.expect_cidr.iter().map(|c| c.trunc()).collect();
    e.pod_cidrs = m.pod_cidr.iter().map(|c| c.trunc()).collect();
    if let Ok(ifaces) = platform.interfaces() {
        for i in ifaces {
            if let Some(mtu) = platform.mtu(&i.name) {
                e.iface_mtu.insert(i.name, mtu);
            }
        }
    }
    Some(e)
}

/// `--node`, else `$NODE_NAME` (the downward API), else the host name.
fn node_name(platform: &dyn Platform, flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()))
        .or_else(|| platform.host_name())
        .unwrap_or_else(|| "unknown".into())
}

impl Daemon {
    /// `--events`: stdout for `-`, else the file reserved for it (appended
    /// to), once the NICs are open.
    pub fn log_events(&mut self, file: Option<Reserved>) -> Result<(), u8> {
        let Some(path) = &self.events_path else {
            return Ok(());
        };
        let out: Box<dyn Write + Send> = match file {
            None => Box::new(std::io::stdout()),
            Some(f) => Box::new(f.take(false).map_err(|e| {
                super::super::error(format!("--events {}: {e}", path.display()));
                exit::USAGE
            })?),
        };
        self.events = Some(EventLog::new(&self.node, out));
        Ok(())
    }

    /// Re-evaluates `--expect-method` when due and hands the pick to the
    /// gauge and the audit.
    fn follow_pick(&mut self, first: bool) {
        let Some(w) = &mut self.method else { return };
        if !w.refresh() && !first {
            return;
        }
        let pick = w.pick.clone();
        self.exporter.set_pick(
            pick.as_ref()
                .map(|p| (p.method.as_str(), p.interface.as_str(), p.address.addr())),
        );
        if let Some(e) = &mut self.expect {
            e.method = pick;
        }
    }

    /// Counts the timeline's settled path changes.
    pub fn path_changes(&mut self, changes: &[crate::report::PathChange]) {
        self.exporter.path_changes(changes);
    }

    /// Folds in the session's state after `iv` (or now, without one).
    pub fn update(&mut self, session: &Session, iv: Option<&Interval>) {
        self.follow_pick(false);
        let nics = nic_states(session);
        let mut total = session.report_of(session.total());
        for n in &nics {
            if let Some(link) = total.links.iter_mut().find(|l| l.interface == n.name) {
                link.capture = Some(CaptureStats {
                    received: n.received,
                    dropped_by_kernel: n.dropped_by_kernel,
                    dropped_by_interface: n.dropped_by_interface,
                    error: n.stopped.clone(),
                    ..CaptureStats::default()
                });
            }
        }
        let part: Option<Report> = iv.map(|iv| session.report_of(&iv.table));
        let now = iv.map_or_else(now_ns, |iv| iv.end_ns);
        let findings: Vec<(String, String)> = match &self.expect {
            Some(e) => audit(&total, e)
                .into_iter()
                .map(|f| (f.kind.as_str().to_string(), f.interface.join(", ")))
                .collect(),
            None => Vec::new(),
        };
        if let (Some(log), Some(part)) = (&mut self.events, &part) {
            log.interval(part, &findings, now);
        }
        self.exporter
            .update(total, part.as_ref(), &nics, &findings, now);
    }
}

/// Each chosen NIC: kernel counters and, when its loop ended, why.
fn nic_states(session: &Session) -> Vec<NicState> {
    session
        .names()
        .iter()
        .zip(session.counters())
        .zip(session.down())
        .map(|((name, c), down)| NicState {
            name: name.clone(),
            received: c.received,
            dropped_by_kernel: c.dropped_by_kernel,
            dropped_by_interface: c.dropped_by_interface,
            stopped: down.clone(),
        })
        .collect()
}
