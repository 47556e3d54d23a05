//! The path-change timeline: one line per event for people (the table's
//! "timeline" section, and stderr as it happens under the live view), one
//! `{"event":"path-change",...}` object per event for jsonl.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::{PathChange, PathEnd, Report};

/// `12:03:07 vms71 → vms72 moved from ens33 (192.168.30.71 → 192.168.30.72)
/// to ens32 (192.168.26.71 → 192.168.26.72) after 0.8 s with no packets`.
pub fn line(e: &PathChange) -> String {
    let gap = if e.gap_ms == 0 {
        "with no gap".to_string()
    } else {
        format!("after {} s with no packets", seconds(e.gap_ms))
    };
    let mut s = format!(
        "{} {} → {} moved from {} to {} {gap}",
        clock(&e.at),
        e.src,
        e.dst,
        end(&e.from),
        end(&e.to)
    );
    if e.count > 1 {
        let until = e.last_at.as_deref().map(clock).unwrap_or_default();
        s.push_str(&format!(" (flapped: {} moves until {until})", e.count));
    }
    s
}

/// `0.05`, `0.8`, `12.3`: two decimals under a second, one above.
fn seconds(ms: u64) -> String {
    let s = if ms < 1000 {
        format!("{:.2}", ms as f64 / 1000.0)
    } else {
        format!("{:.1}", ms as f64 / 1000.0)
    };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `ens33 (192.168.30.71 → 192.168.30.72)`, with the encapsulation when
/// it is not IPIP.
fn end(p: &PathEnd) -> String {
    let encap = match p.encap {
        crate::decode::Encap::Ipip => String::new(),
        other => format!("{} ", other.label()),
    };
    format!("{} ({encap}{} → {})", p.device, p.outer_src, p.outer_dst)
}

/// `HH:MM:SS` of an RFC 3339 time (UTC, as every time in the report).
fn clock(at: &str) -> &str {
    at.get(11..19).unwrap_or(at)
}

/// The table's "timeline" section; nothing when there was no change.
pub fn section(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.timeline.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "timeline (UTC):")?;
    for e in &report.timeline {
        writeln!(out, "  {}", line(e))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct EventRecord<'a> {
    event: &'static str,
    #[serde(flatten)]
    change: &'a PathChange,
}

/// One compact JSON line: `{"event":"path-change",...}`.
pub fn jsonl_event(e: &PathChange, out: &mut dyn Write) -> io::Result<()> {
    let rec = EventRecord {
        event: "path-change",
        change: e,
    };
    serde_json::to_writer(&mut *out, &rec)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_read_naturally() {
        let cases = [
            (50, "0.05"),
            (800, "0.8"),
            (1000, "1"),
            (1243, "1.2"),
            (12_345, "12.3"),
        ];
        for (ms, want) in cases {
            assert_eq!(super::seconds(ms), want, "{ms}");
        }
    }
}
