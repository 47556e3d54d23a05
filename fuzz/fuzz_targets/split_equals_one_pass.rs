//! A capture read in parts on several threads gives the one-pass report,
//! wherever the file is cut, classic pcap or pcapng.
//!
//! Input: [flags, damage offset (2), damage bytes (4), records...], each
//! record [caplen, extra orig_len, caplen bytes]. flags: bit 0 big-endian,
//! bit 1 nanosecond times, bit 2 RAW instead of Ethernet, bit 3 overwrite 4
//! bytes at the damage offset, bit 4 cut the last byte off, bit 5 pcapng,
//! bit 6 (pcapng) a second section in the other byte order, with other
//! interfaces, from the middle record on. The file is written by the
//! project's own writers, then damaged if asked, and read once in one pass
//! and then three times in parts (the last on 2 or 3 threads, chosen by
//! the input):
//! cut at record starts, at offsets anywhere, and a few bytes into records
//! (wrong guesses the reading must recover from). Reports (totals, rows,
//! errors with their offsets) must be equal. Three reads, not one per cut,
//! keep a run at about a millisecond.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use tuntrace::decode::DecodeConfig;
use tuntrace::flows::FlowTable;
use tuntrace::iface::IfaceTable;
use tuntrace::linktype::LinkType;
use tuntrace::pipeline::{read_parts, Pipeline};
use tuntrace::sources::file::{read_file, split_plan_at, FileOptions};
use tuntrace::write::{Endian, PcapWriter, PcapngWriter, TsResolution};
use tuntrace_fuzz::{finish, small_limits};

/// Records per file at most.
const MAX_RECORDS: usize = 48;

/// In memory when the system has a tmpfs there: a run writes the file once.
fn path() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("tuntrace-fuzz-{}-split.cap", std::process::id()))
}

/// Writes the records of `rest` (as the module doc says); the file and the
/// record starts.
fn write(flags: u8, mut rest: &[u8]) -> (Vec<u8>, Vec<u64>) {
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
    let mut recs = Vec::new();
    while rest.len() >= 2 && recs.len() < MAX_RECORDS {
        let (caplen, extra) = (usize::from(rest[0]), u32::from(rest[1]));
        let body = &rest[2..];
        let bytes = &body[..caplen.min(body.len())];
        recs.push((bytes, bytes.len() as u32 + extra));
        rest = &body[bytes.len()..];
    }
    let ts = |i: usize| 1_700_000_000_000_000_000 + i as u64 * 1_000_000;
    let mut starts = Vec::new();
    if flags & 32 == 0 {
        let mut w = PcapWriter::new(Vec::new(), link, 65535, endian, res).expect("in memory");
        let mut at = 24u64;
        for (i, (bytes, orig)) in recs.iter().enumerate() {
            w.write_packet(ts(i), *orig, bytes).expect("in memory");
            starts.push(at);
            at += 16 + bytes.len() as u64;
        }
        return (w.into_inner(), starts);
    }
    let mut out = Vec::new();
    let second = if flags & 64 != 0 {
        recs.len() / 2
    } else {
        usize::MAX
    };
    let mut w = PcapngWriter::with_resolution(Vec::new(), endian, res).expect("in memory");
    w.add_interface("eth0", link, 0).expect("in memory");
    w.add_interface("eth1", LinkType::RAW, 0)
        .expect("in memory");
    let mut at = 0u64;
    let mut len = w.into_inner();
    at += len.len() as u64;
    out.append(&mut len);
    // Each block written on its own, to know where it starts: an EPB is 32
    // bytes and the data padded to 4.
    let mut big = endian == Endian::Big;
    for (i, (bytes, orig)) in recs.iter().enumerate() {
        if i == second {
            big = !big;
            let e = if big { Endian::Big } else { Endian::Little };
            let mut w = PcapngWriter::with_resolution(Vec::new(), e, res).expect("in memory");
            w.add_interface("tun0", LinkType::RAW, 0)
                .expect("in memory");
            w.add_interface("eth0", link, 0).expect("in memory");
            let mut b = w.into_inner();
            at += b.len() as u64;
            out.append(&mut b);
        }
        let e = if big { Endian::Big } else { Endian::Little };
        let block = epb(e, (i % 2) as u32, ts(i) / res_ns(res), bytes, *orig);
        starts.push(at);
        at += block.len() as u64;
        out.extend(block);
    }
    (out, starts)
}

fn res_ns(res: TsResolution) -> u64 {
    match res {
        TsResolution::Micro => 1_000,
        TsResolution::Nano => 1,
    }
}

/// An Enhanced Packet Block.
fn epb(e: Endian, ifid: u32, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let pad = data.len().next_multiple_of(4);
    let total = (32 + pad) as u32;
    let u = |v: u32| match e {
        Endian::Big => v.to_be_bytes(),
        Endian::Little => v.to_le_bytes(),
    };
    let mut b = Vec::with_capacity(total as usize);
    for v in [
        6,
        total,
        ifid,
        (ts >> 32) as u32,
        ts as u32,
        data.len() as u32,
        orig,
    ] {
        b.extend(u(v));
    }
    b.extend(data);
    b.resize(28 + pad, 0);
    b.extend(u(total));
    b
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let flags = data[0];
    let (mut file, starts) = write(flags, &data[7..]);
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

    let size = file.len() as u64;
    // At most about 6 cuts a read: each part costs a table and a batch.
    let step = (starts.len() / 6).max(1) + usize::from(data[3] % 4);
    let right: Vec<u64> = starts.iter().copied().step_by(step).collect();
    let mut anywhere: Vec<u64> = data[4..7]
        .iter()
        .map(|&b| size * u64::from(b) / 256)
        .collect();
    anywhere.sort_unstable();
    let into = u64::from(data[4] % 8);
    let mixed: Vec<u64> = starts
        .iter()
        .skip(usize::from(data[5]) % step)
        .step_by(step)
        .enumerate()
        .map(|(i, &s)| if i % 2 == 1 { s + into } else { s })
        .collect();
    for (n, cuts) in [right, anywhere, mixed].iter().enumerate() {
        // One read on worker threads; the others take the parts in order
        // on this thread (the same taking, without threads' wake-ups).
        let threads = if n == 2 {
            2 + usize::from(data[1] % 2)
        } else {
            1
        };
        let mut ifaces = IfaceTable::new();
        let Some(plan) = split_plan_at(&path, &opts, &mut ifaces, cuts) else {
            continue;
        };
        let mut table = FlowTable::new(small_limits());
        let got = read_parts(&mut table, plan, &opts, &cfg, &mut ifaces, threads).result;
        let report = finish(&table, &ifaces, &got, &name);
        assert_eq!(report, want, "cuts {cuts:?} of {size}, {threads} threads");
    }
});
