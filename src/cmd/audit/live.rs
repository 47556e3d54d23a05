//! Live capture for `audit` (and the NIC opening shared with `probe`), on
//! the live module's handles and capture loops: tunnel traffic plus ICMP and
//! pod-network traffic, for a fixed time, then one report.

use crate::flows::Limits;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::{AuditArgs, DecodeArgs};
use crate::exit;
use crate::iface::IfaceTable;
use crate::linktype::LinkType;
use crate::pipeline::Pipeline;
use crate::report::{build_report, Report, SourceInfo};
use crate::sources::ifaces;
use crate::sources::live::{
    now_ns, open, tunnel_filter, CaptureConfig, Collector, Control, FilterChoice, Handle, Worker,
};

use super::super::live::parse_duration;
use crate::audit::Expect;

/// Headers only, as `live`.
const SNAPLEN: u32 = 256;
/// How long the loops get to hand over their tables after stop.
const FINISH_WAIT: Duration = Duration::from_secs(3);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Relaxed);
}

/// SIGINT / SIGTERM end the capture early; the report is still made.
pub(crate) fn catch_signals() {
    // SAFETY: the handler only stores to an atomic, which is signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

pub(crate) fn stop_requested() -> bool {
    STOP.load(Relaxed)
}

/// Opens the chosen NICs (as `live` chooses them) with the tunnel filter
/// widened by `extra` (tcpdump syntax, `or`-ed). `Err` is the exit code.
pub(crate) fn open_nics(
    requested: &[String],
    decode: &DecodeArgs,
    extra: &str,
    snaplen: u32,
) -> Result<Vec<Handle>, u8> {
    let all = ifaces::list().map_err(|e| {
        super::super::error(format!("cannot list interfaces: {e}"));
        exit::USAGE
    })?;
    let sel = ifaces::select(&all, requested).map_err(|e| {
        super::super::error(&e);
        exit::USAGE
    })?;
    let cfg = CaptureConfig {
        snaplen,
        buffer_bytes: 8 << 20,
        filter: FilterChoice::All,
    };
    let mut handles = Vec::new();
    for name in &sel.chosen {
        let mut h = match open(name, &cfg) {
            Ok(h) => h,
            Err(e) => {
                super::super::error(&e);
                return Err(exit::USAGE);
            }
        };
        let base = tunnel_filter(
            &decode.vxlan_ports,
            &decode.geneve_ports,
            h.linktype == LinkType::ETHERNET,
        );
        // `vlan` shifts the offsets of every test after it: the extra terms go first.
        let f = if extra.is_empty() {
            base
        } else {
            format!("({extra}) or {base}")
        };
        if let Err(e) = h.cap.filter(&f, true) {
            super::super::error(format!("bad filter on {name}: {e} (filter: {f})"));
            return Err(exit::USAGE);
        }
        handles.push(h);
    }
    Ok(handles)
}

/// The MTU of `name` in this namespace (SIOCGIFMTU), if it can be read.
pub(crate) fn iface_mtu(name: &str) -> Option<u32> {
    if name.len() >= libc::IFNAMSIZ {
        return None;
    }
    // SAFETY: a datagram socket used for one ioctl and closed; `req` is a
    // zeroed ifreq whose name is NUL-terminated (checked length above).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        let rc = libc::ioctl(fd, libc::SIOCGIFMTU, &mut req);
        libc::close(fd);
        (rc == 0).then_some(req.ifr_ifru.ifru_mtu as u32)
    }
}

/// Captures for `--duration` (or until a signal) and builds the report.
/// Sets each NIC's MTU into `expect` unless `--mtu` was given.
pub(super) fn capture(a: &AuditArgs, expect: &mut Expect) -> Result<Report, u8> {
    let duration = parse_duration(&a.duration).map_err(|e| {
        super::super::error(format!("--duration {:?}: {e}", a.duration));
        exit::USAGE
    })?;
    let mut extra = vec!["icmp".to_string(), "icmp6".to_string()];
    for c in &expect.pod_cidrs {
        extra.push(format!("net {c}"));
    }
    let handles = open_nics(&a.interfaces, &a.decode, &extra.join(" or "), SNAPLEN)?;
    let mut table = IfaceTable::new();
    let names: Vec<String> = handles.iter().map(|h| h.name.clone()).collect();
    if a.mtu.is_none() {
        for n in &names {
            if let Some(m) = iface_mtu(n) {
                expect.iface_mtu.insert(n.clone(), m);
            }
        }
    }
    catch_signals();
    let control = Arc::new(Control::new(None));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let limits = Limits {
        track_plain: true,
        ..super::super::limits(&a.decode)
    };
    let cfg = super::super::decode_config(&a.decode);
    let mut threads = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        let w = Worker {
            index: i,
            iface: table.intern(&handle.name),
            handle,
            pipeline: Pipeline::new(cfg.clone(), limits),
            control: control.clone(),
            events: tx.clone(),
            writer: None,
        };
        threads.push(std::thread::spawn(move || w.run()));
    }
    drop(tx);
    eprintln!(
        "tuntrace: capturing on {} (tunnels, ICMP{}) for {:?}",
        names.join(", "),
        if expect.pod_cidrs.is_empty() {
            ""
        } else {
            ", pod networks"
        },
        duration
    );
    let mut col = Collector::new(names.len(), limits, now_ns());
    let end = Instant::now() + duration;
    while Instant::now() < end && !stop_requested() {
        while let Ok(ev) = rx.try_recv() {
            col.on_event(ev);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    control.stop.store(true, Relaxed);
    let end = Instant::now() + FINISH_WAIT;
    while !col.all_finished() && Instant::now() < end {
        match rx.try_recv() {
            Ok(ev) => col.on_event(ev),
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => break,
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let sources = names
        .iter()
        .zip(&col.finished)
        .map(|(n, f)| SourceInfo {
            name: format!("live:{n}"),
            packets: f.as_ref().map(|f| f.packets).unwrap_or(0),
            error: f.as_ref().and_then(|f| f.stats.error.clone()),
            damaged_at: None,
        })
        .collect();
    let mut report = build_report(&col.total, &table, sources);
    for (n, f) in names.iter().zip(&col.finished) {
        let Some(f) = f else {
            super::super::error(format!(
                "{n}: the capture loop did not report; its counts may be short"
            ));
            continue;
        };
        let lost = f.stats.dropped_by_kernel + f.stats.dropped_by_interface;
        if lost > 0 {
            eprintln!("tuntrace: warning: {n}: {lost} packets dropped before tuntrace saw them; counts are short");
        }
        if let Some(l) = report.links.iter_mut().find(|l| &l.interface == n) {
            l.capture = Some(f.stats.clone());
        }
    }
    Ok(report)
}
