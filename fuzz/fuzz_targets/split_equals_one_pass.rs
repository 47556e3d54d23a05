//! The split reader (a classic pcap file read as two parts on two threads)
//! gives the one-pass report, wherever the file is cut.
//!
//! Input: [flags, damage offset (2), damage bytes (4), records...], each
//! record [caplen, extra orig_len, caplen bytes]. flags: bit 0 big-endian,
//! bit 1 nanosecond times, bit 2 RAW instead of Ethernet, bit 3 overwrite 4
//! bytes at the damage offset, bit 4 cut the last byte off. The file is
//! written by the project's own `PcapWriter`, then damaged if asked, and
//! read once in one pass and once per cut: at every record start and 7
//! bytes into every record (a wrong guess the reader must recover from).
//! Reports (totals, rows, errors with their offsets) must be equal.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use tuntrace::decode::DecodeConfig;
use tuntrace::flows::FlowTable;
use tuntrace::iface::IfaceTable;
use tuntrace::linktype::LinkType;
use tuntrace::pipeline::{read_halves, Pipeline};
use tuntrace::sources::file::{read_file, split_plan_at, FileOptions};
use tuntrace::write::{Endian, PcapWriter, TsResolution};
use tuntrace_fuzz::{finish, small_limits};

/// Records per file at most: each cut is a thread, keep executions fast.
const MAX_RECORDS: usize = 24;

fn path() -> PathBuf {
    std::env::temp_dir().join(format!("tuntrace-fuzz-{}-split.pcap", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let flags = data[0];
    let endian = if flags & 1 != 0 {
        Endian::Big
    } else {
        Endian::Little
    };
    let res = if flags & 2 != 0 {
        TsResolution::Nano
    } else {
        TsResolution::Micro
    };
    let link = if flags & 4 != 0 {
        LinkType::RAW
    } else {
        LinkType::ETHERNET
    };
    let mut w = PcapWriter::new(Vec::new(), link, 65535, endian, res).expect("in memory");
    let mut starts = Vec::new();
    let (mut at, mut rest) = (24u64, &data[7..]);
    while rest.len() >= 2 && starts.len() < MAX_RECORDS {
        let (caplen, extra) = (usize::from(rest[0]), u32::from(rest[1]));
        let body = &rest[2..];
        let bytes = &body[..caplen.min(body.len())];
        let ts = 1_700_000_000_000_000_000 + starts.len() as u64 * 1_000_000;
        w.write_packet(ts, bytes.len() as u32 + extra, bytes)
            .expect("in memory");
        starts.push(at);
        at += 16 + bytes.len() as u64;
        rest = &body[bytes.len()..];
    }
    let mut file = w.into_inner();
    if flags & 8 != 0 {
        let off = usize::from(u16::from_be_bytes([data[1], data[2]])) % file.len();
        let end = (off + 4).min(file.len());
        file[off..end].copy_from_slice(&data[3..3 + end - off]);
    }
    if flags & 16 != 0 {
        file.pop();
    }
    let path = path();
    std::fs::write(&path, &file).expect("temp file");
    let name = path.display().to_string();
    let opts = FileOptions {
        classic_iface: Some("eth0".into()),
        progress: None,
        filter: None,
    };
    let cfg = DecodeConfig::default();

    let mut pipeline = Pipeline::new(cfg.clone(), small_limits());
    let mut ifaces = IfaceTable::new();
    let one = read_file(&path, &opts, &mut ifaces, |f| {
        pipeline.feed(f);
    });
    let want = finish(&pipeline.table, &ifaces, &one, &name);

    let cuts = starts
        .iter()
        .flat_map(|&s| [s, s + 7])
        .chain([file.len() as u64]);
    for cut in cuts {
        let Some(plan) = split_plan_at(&path, &opts, cut) else {
            continue;
        };
        let mut table = FlowTable::new(small_limits());
        let mut ifaces = IfaceTable::new();
        let got = read_halves(&mut table, &plan, &opts, &cfg, &mut ifaces);
        let report = finish(&table, &ifaces, &got, &name);
        assert_eq!(report, want, "cut at {cut} of {}", file.len());
    }
});
