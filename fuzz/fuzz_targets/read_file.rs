//! A whole capture file (pcap or pcapng, any bytes) through read → decode →
//! count → report → table and JSON, as `tuntrace read` does it.
//!
//! Checked: errors are `Err` naming the file, never a panic; the report's
//! totals add up; the JSON reads back equal and renders identically; a
//! one-thread `Pipeline::feed` (full decode, one frame at a time) and the
//! two-thread path (`read`'s, fast path and batches) give the same report.
//!
//! The two-thread read runs only when the one-thread read delivered a frame:
//! with none, nothing is decoded or handed over, and its result is that of
//! the same reader on the same bytes (its thread, file write and file read
//! are most of a run's time). Run it with `TMPDIR=/dev/shm`: rewriting the
//! file on ext4 (truncate, write-back on close) cost half the time again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuntrace::decode::DecodeConfig;
use tuntrace::iface::IfaceTable;
use tuntrace::pipeline::Pipeline;
use tuntrace::sources::file::{read_stream, FileError, FileOptions};
use tuntrace_fuzz::{capture_path, check_renderers, finish, read_report, small_limits, NAME};

fuzz_target!(|data: &[u8]| {
    let cfg = DecodeConfig::default();
    let mut pipeline = Pipeline::new(cfg.clone(), small_limits());
    let mut ifaces = IfaceTable::new();
    let opts = FileOptions::default();
    // The bytes read in one pass on this thread, under the file's name.
    let one = read_stream(data, &capture_path(), &opts, &mut ifaces, |f| {
        pipeline.feed(f);
    });
    let single = finish(&pipeline.table, &ifaces, &one, NAME);
    let delivered = match &one {
        Ok(s) => s.frames,
        Err(FileError::Damaged { frames_before, .. }) => *frames_before,
        Err(_) => 0,
    };
    if delivered > 0 {
        let (result, report) = read_report(data, &cfg, small_limits());
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
        assert_eq!(single, report, "one-thread report vs two-thread report");
    }
    if let Some(report) = single {
        check_renderers(&report);
    }
});
