//! JSON: the whole report as one object, or jsonl records per tunnel and interval.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::{Report, TunnelRow};
use crate::timefmt::rfc3339;

/// The report as one JSON object (`pretty` for humans, compact for jsonl).
pub fn render(report: &Report, pretty: bool, out: &mut dyn Write) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, report)?;
    } else {
        serde_json::to_writer(&mut *out, report)?;
    }
    writeln!(out)
}

#[derive(Serialize)]
struct IntervalRecord<'a> {
    interval_start: String,
    interval_end: String,
    interface: &'a str,
    #[serde(flatten)]
    tunnel: &'a TunnelRow,
}

/// One compact JSON line per (interface, tunnel) of an interval's report.
pub fn jsonl_interval(
    report: &Report,
    interval_start_ns: u64,
    interval_end_ns: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (start, end) = (rfc3339(interval_start_ns), rfc3339(interval_end_ns));
    for link in &report.links {
        for t in &link.tunnels {
            let rec = IntervalRecord {
                interval_start: start.clone(),
                interval_end: end.clone(),
                interface: &link.interface,
                tunnel: t,
            };
            serde_json::to_writer(&mut *out, &rec)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
