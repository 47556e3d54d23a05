//! Checks shared by the fuzz targets: capture bytes read into a report the
//! way `tuntrace read` does, the report's own arithmetic, and both renderers
//! with the JSON read back.

use std::io::Read;

use tuntrace::cli::Format;
use tuntrace::decode::DecodeConfig;
use tuntrace::flows::FlowTable;
use tuntrace::flows::Limits;
use tuntrace::iface::IfaceTable;
use tuntrace::pipeline::read_into;
use tuntrace::render;
use tuntrace::report::{build_report, Report, SourceInfo};
use tuntrace::sources::file::{FileError, FileOptions, ReadSummary};

/// The name every fuzzed capture is read under (messages must carry it).
pub const NAME: &str = "fuzz.pcap";

/// Limits small enough that fuzz inputs reach the "other" rows.
pub fn small_limits() -> Limits {
    Limits {
        max_tunnels: 4,
        max_pairs_per_tunnel: 3,
        max_pairs_total: 8,
        track_plain: true,
    }
}

/// A file's read as `tuntrace read` records it in the report's sources.
pub fn source_info(
    name: &str,
    packets: u64,
    result: &Result<ReadSummary, FileError>,
) -> SourceInfo {
    let mut info = SourceInfo {
        name: name.to_string(),
        packets,
        error: None,
        damaged_at: None,
        oversize_records: None,
    };
    match result {
        Ok(s) => info.oversize_records = (s.oversize > 0).then_some(s.oversize),
        Err(e) => {
            if let FileError::Damaged { offset, .. } = e {
                info.damaged_at = Some(*offset);
            }
            info.error = Some(e.to_string());
        }
    }
    info
}

/// Reads `reader` as one capture file the way `tuntrace read` does (a
/// file of this process's under the temp folder, named [`NAME`], through
/// `pipeline::read_into`); `None` when nothing was read (not a capture at
/// all), as `read` then prints no report.
pub fn read_report<R: Read + Send>(
    mut reader: R,
    cfg: &DecodeConfig,
    limits: Limits,
) -> (Result<ReadSummary, FileError>, Option<Report>) {
    let path = capture_path();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("in memory");
    std::fs::write(&path, &bytes).expect("temp file");
    let mut table = FlowTable::new(limits);
    let mut ifaces = IfaceTable::new();
    let result = read_into(&mut table, &path, &FileOptions::default(), cfg, &mut ifaces);
    let report = finish(&table, &ifaces, &result, NAME);
    (result, report)
}

/// Where [`read_report`] writes the capture it reads (one per process).
pub fn capture_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tuntrace-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    dir.join(NAME)
}

/// The report of a pipeline after reading one file (`name`), checked for its own
/// arithmetic; `None` when the file was no capture.
pub fn finish(
    table: &FlowTable,
    ifaces: &IfaceTable,
    result: &Result<ReadSummary, FileError>,
    name: &str,
) -> Option<Report> {
    let frames = table.total;
    match result {
        Ok(s) => assert_eq!(s.frames, frames, "frames delivered vs counted"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "the error names the file: {msg}");
            match e {
                FileError::Damaged { frames_before, .. } => assert_eq!(*frames_before, frames),
                _ => {
                    assert_eq!(frames, 0, "frames counted before {msg}");
                    return None;
                }
            }
        }
    }
    let info = source_info(name, frames, result);
    let report = build_report(table, ifaces, vec![info]);
    check_totals(&report, frames);
    Some(report)
}

/// Totals add up: links to the whole, tunnel rows to their link.
pub fn check_totals(report: &Report, frames: u64) {
    let p = &report.packets;
    assert_eq!(p.total, frames, "total");
    assert!(p.tunnelled + p.undecodable <= p.total, "{p:?}");
    assert_eq!(report.links.iter().map(|l| l.packets).sum::<u64>(), frames);
    let tunnelled: u64 = report.links.iter().map(|l| l.tunnelled).sum();
    assert_eq!(tunnelled, p.tunnelled, "tunnelled");
    let stops: u64 = report.decode_stops.iter().map(|s| s.packets).sum();
    assert!(stops <= frames, "{stops} stops in {frames} packets");
    for l in &report.links {
        let rows: u64 = l.tunnels.iter().map(|t| t.packets).sum();
        let other = l.other_tunnels.map(|o| o.packets).unwrap_or(0);
        assert_eq!(rows + other, l.tunnelled, "tunnel rows of {}", l.interface);
        for t in &l.tunnels {
            let pairs: u64 = t.inner.iter().map(|r| r.packets).sum();
            let spilled = t.inner_other.map(|o| o.packets).unwrap_or(0);
            assert_eq!(
                pairs + spilled + t.no_inner,
                t.packets,
                "inner rows of {t:?}"
            );
            assert!(
                t.fragments <= t.packets && t.df_packets <= t.packets,
                "{t:?}"
            );
        }
    }
}

/// Both renderers: the table is UTF-8; the JSON (pretty and compact) reads
/// back into the same report and renders again byte for byte.
pub fn check_renderers(report: &Report) {
    let mut table = Vec::new();
    render::render(report, Format::Table, 3, &mut table).expect("the table renders");
    assert!(std::str::from_utf8(&table).is_ok(), "the table is UTF-8");
    for format in [Format::Json, Format::Jsonl] {
        let mut json = Vec::new();
        render::render(report, format, 3, &mut json).expect("the JSON renders");
        let back: Report = serde_json::from_slice(&json).expect("the JSON reads back");
        assert_eq!(&back, report, "the JSON read back");
        let mut again = Vec::new();
        render::render(&back, format, 3, &mut again).expect("the JSON renders again");
        assert!(json == again, "the JSON rendered twice differs");
    }
}

mod host;
pub use host::fixed_host;

use tuntrace::calico::{detect, Family, Host, MethodError, Pick, Resolver};

/// Runs one method string for both families; a pick names an interface
/// the host has, and a string that parses once parses every time.
pub fn check_detect(
    raw: &str,
    host: &Host,
    resolver: &dyn Resolver,
    internal: &[std::net::IpAddr],
) {
    for family in [Family::V4, Family::V6] {
        match detect(raw, host, family, resolver, internal) {
            Ok(Ok(pick)) => check_pick(&pick, raw, host, family),
            Ok(Err(_failure)) => {}
            Err(MethodError::Invalid(s)) => assert_eq!(s, raw),
        }
    }
}

fn check_pick(pick: &Pick, raw: &str, host: &Host, family: Family) {
    assert_eq!(pick.method, raw);
    assert!(family.matches(pick.address.addr()), "{pick:?} for {family}");
    assert!(
        host.ifaces.iter().any(|i| i.name == pick.interface),
        "picked {:?}, not on the host",
        pick.interface
    );
}

pub mod alloc;
pub mod k8s;
