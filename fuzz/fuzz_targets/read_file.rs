//! A whole capture file (pcap or pcapng, any bytes) through read → decode →
//! count → report → table and JSON, as `tuntrace read` does it.
//!
//! Checked: errors are `Err` naming the file, never a panic; the report's
//! totals add up; the JSON reads back equal and renders identically; the
//! two-thread path (`read`'s, fast path and batches) and a one-thread
//! `Pipeline::feed` (full decode, one frame at a time) give the same report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuntrace::decode::DecodeConfig;
use tuntrace::iface::IfaceTable;
use tuntrace::pipeline::Pipeline;
use tuntrace::sources::file::{read_file, FileOptions};
use tuntrace_fuzz::{capture_path, check_renderers, finish, read_report, small_limits, NAME};

fuzz_target!(|data: &[u8]| {
    let cfg = DecodeConfig::default();
    let (result, report) = read_report(data, &cfg, small_limits());

    let mut pipeline = Pipeline::new(cfg, small_limits());
    let mut ifaces = IfaceTable::new();
    let opts = FileOptions::default();
    // The same file, read in one pass on this thread.
    let one = read_file(&capture_path(), &opts, &mut ifaces, |f| {
        pipeline.feed(f);
    });
    assert_eq!(
        one.as_ref()
            .map(|s| (s.format, s.frames, s.bytes, s.oversize))
            .map_err(|e| e.to_string()),
        result
            .as_ref()
            .map(|s| (s.format, s.frames, s.bytes, s.oversize))
            .map_err(|e| e.to_string()),
        "one thread vs two"
    );
    let single = finish(&pipeline.table, &ifaces, &one, NAME);
    assert_eq!(single, report, "one-thread report vs two-thread report");
    if let Some(report) = report {
        check_renderers(&report);
    }
});
