//! Any cut, right or wrong, and any thread count give the one-pass frames,
//! summary and errors.

use super::*;
use crate::iface::{IfaceId, IfaceTable};
use crate::linktype::LinkType;
use crate::sources::file::{read_file, Told};
use crate::write::{Endian, PcapWriter, PcapngWriter, TsResolution};
use std::rc::Rc;

type Got = Vec<(u32, u64, u32, Vec<u8>)>;

/// Collects frames; as the caller's side, refuses every `refuse`th part
/// (its frames then come again one by one).
#[derive(Default)]
struct Collect {
    got: Got,
    refuse: usize,
    offered: usize,
}

impl Tally for Collect {
    fn frame(&mut self, f: &Frame<'_>) {
        self.got
            .push((f.iface.0, f.ts_ns, f.orig_len, f.data.to_vec()));
    }
}

impl Gather<Collect> for Collect {
    fn take(&mut self, part: Collect) -> bool {
        self.offered += 1;
        if self.refuse > 0 && self.offered % self.refuse == 0 {
            return false;
        }
        self.got.extend(part.got);
        true
    }
}

/// A capture whose payloads try to fool the cut finder: runs of zeros,
/// and bytes that look like record headers.
fn capture(path: &Path, endian: Endian, records: usize) -> Vec<u64> {
    let file = File::create(path).unwrap();
    let mut w = PcapWriter::new(file, LinkType::RAW, 65535, endian, TsResolution::Micro).unwrap();
    let mut starts = Vec::new();
    let mut at = 24u64;
    for i in 0..records {
        let len = [0usize, 1, 20, 60, 333, 1500][i % 6] + i % 7;
        let mut data = vec![0u8; len];
        if i % 5 == 0 {
            // A fake header: plausible time, caplen 16, orig 16.
            let fake = [
                [0x65, 0x4f, 0x00, 0x00],
                [1, 0, 0, 0],
                [16, 0, 0, 0],
                [16, 0, 0, 0],
            ];
            for (k, b) in fake.concat().iter().enumerate().take(len) {
                data[k] = *b;
            }
        }
        starts.push(at);
        w.write_packet(
            1_700_000_000_000_000_000 + i as u64 * 1_000,
            len as u32 + 4,
            &data,
        )
        .unwrap();
        at += 16 + len as u64;
    }
    drop(w.into_inner());
    starts
}

fn sequential(path: &Path) -> (Result<ReadSummary, String>, Got) {
    let mut got = Vec::new();
    let mut t = IfaceTable::new();
    let r = read_file(path, &FileOptions::default(), &mut t, |f| {
        got.push((f.iface.0, f.ts_ns, f.orig_len, f.data.to_vec()))
    });
    (r.map_err(|e| e.to_string()), got)
}

/// Reads with forced cuts on `threads` workers: result, frames, parts used.
fn split_at(
    path: &Path,
    cuts: &[u64],
    threads: usize,
    refuse: usize,
) -> (Result<ReadSummary, String>, Got, usize) {
    let opts = FileOptions::default();
    let mut t = IfaceTable::new();
    let plan = plan_at(path, &opts, &mut t, cuts).expect("a plan");
    let mut here = Collect {
        refuse,
        ..Collect::default()
    };
    let out = plan.read(&opts, &mut t, threads, Collect::default, &mut here);
    (out.result.map_err(|e| e.to_string()), here.got, out.used)
}

fn split(path: &Path, cut: u64) -> (Result<ReadSummary, String>, Got, bool) {
    let (r, got, used) = split_at(path, &[cut], 2, 0);
    (r, got, used == 2)
}

fn same(a: &Result<ReadSummary, String>, b: &Result<ReadSummary, String>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => (x.format, x.frames, x.bytes) == (y.format, y.frames, y.bytes),
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tuntrace-split-{}-{name}", std::process::id()))
}

#[test]
fn the_cuts_found_are_record_boundaries_and_are_used() {
    for endian in [Endian::Little, Endian::Big] {
        let path = temp("found.pcap");
        let starts = capture(&path, endian, 600);
        let mut t = IfaceTable::new();
        let plan = plan_parts(&path, &FileOptions::default(), &mut t, 20_000).unwrap();
        assert!(plan.parts() >= 8, "{} parts", plan.parts());
        for c in &plan.cuts {
            assert!(starts.contains(c), "cut {c} is no record start");
        }
        let (want, frames) = sequential(&path);
        let parts = plan.parts();
        let mut here = Collect::default();
        let out = plan.read(
            &FileOptions::default(),
            &mut t,
            3,
            Collect::default,
            &mut here,
        );
        assert_eq!(out.used, parts);
        assert!(same(&want, &out.result.map_err(|e| e.to_string())));
        assert_eq!(frames, here.got);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn both_parts_tell_progress_and_add_up_to_the_file() {
    let path = temp("told.pcap");
    let starts = capture(&path, Endian::Little, 600);
    let size = std::fs::metadata(&path).unwrap().len();
    let told = Told::default();
    let opts = FileOptions {
        classic_iface: None,
        progress: Some(&told),
        filter: None,
    };
    let mut t = IfaceTable::new();
    let plan = plan_at(&path, &opts, &mut t, &[starts[300]]).unwrap();
    let mut here = Collect::default();
    let out = plan.read(&opts, &mut t, 2, Collect::default, &mut here);
    assert_eq!(out.used, 2);
    // One report from each part (the file is far under 4 MiB).
    assert_eq!(told.sums(), (2, size, 600));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn any_cut_even_a_wrong_one_reads_every_frame_once() {
    let path = temp("any.pcap");
    let starts = capture(&path, Endian::Little, 120);
    let size = std::fs::metadata(&path).unwrap().len();
    let (want, frames) = sequential(&path);
    let mut used = 0;
    for cut in (24..size + 3).step_by(7).chain(starts.iter().copied()) {
        let (got, split_frames, second_used) = split(&path, cut);
        assert!(same(&want, &got), "cut {cut}: {want:?} vs {got:?}");
        assert_eq!(frames, split_frames, "cut {cut}");
        assert_eq!(
            second_used,
            (starts.contains(&cut) && cut > 24) || cut == size,
            "cut {cut}"
        );
        used += usize::from(second_used);
    }
    assert!(used >= 100);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn many_cuts_any_threads_any_refusals() {
    let path = temp("many.pcap");
    let starts = capture(&path, Endian::Big, 300);
    let (want, frames) = sequential(&path);
    for threads in 1..=5 {
        for step in [3usize, 7, 40] {
            // Right and wrong cuts mixed.
            let cuts: Vec<u64> = starts
                .iter()
                .step_by(step)
                .enumerate()
                .map(|(n, &s)| if n % 3 == 1 { s + 5 } else { s })
                .collect();
            for refuse in [0, 2] {
                let (got, split_frames, used) = split_at(&path, &cuts, threads, refuse);
                assert!(same(&want, &got), "{threads} threads, step {step}: {got:?}");
                assert_eq!(frames, split_frames, "{threads} threads, step {step}");
                assert!(used > cuts.len() / 3, "{used} of {}", cuts.len());
            }
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn damage_is_reported_at_the_same_offset_as_a_one_thread_read() {
    let path = temp("damaged.pcap");
    let starts = capture(&path, Endian::Little, 200);
    let good = std::fs::read(&path).unwrap();
    // A caplen far past the snaplen three quarters in; a cut-off tail.
    let mut bad_len = good.clone();
    let at = starts[150] as usize;
    bad_len[at + 8..at + 12].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
    let cut_tail = good[..good.len() - 5].to_vec();
    for (variant, data) in [bad_len, cut_tail].iter().enumerate() {
        std::fs::write(&path, data).unwrap();
        let (want, frames) = sequential(&path);
        assert!(want.is_err(), "variant {variant}");
        for cut in [
            starts[40],
            starts[100],
            starts[100] + 3,
            starts[151],
            starts[199],
        ] {
            let (got, split_frames, _) = split(&path, cut);
            assert!(same(&want, &got), "variant {variant}, cut {cut}: {got:?}");
            assert_eq!(frames, split_frames, "variant {variant}, cut {cut}");
        }
        let cuts: Vec<u64> = starts.iter().copied().step_by(9).collect();
        for threads in [1, 3, 8] {
            let (got, split_frames, _) = split_at(&path, &cuts, threads, 0);
            assert!(same(&want, &got), "variant {variant}: {got:?}");
            assert_eq!(frames, split_frames, "variant {variant}");
        }
    }
    std::fs::remove_file(&path).unwrap();
}

/// Two sections of different byte orders and interfaces, EPBs and SPBs,
/// and payloads that imitate block headers; block starts.
fn pcapng_capture(path: &Path) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut out = Vec::new();
    for (s, endian) in [Endian::Little, Endian::Big, Endian::Little]
        .into_iter()
        .enumerate()
    {
        let n = Rc::new(Cell::new(0u64));
        let sink = Counting {
            buf: Vec::new(),
            n: Rc::clone(&n),
        };
        let mut w = PcapngWriter::new(sink, endian).unwrap();
        let names = [["eth0", "eth1"], ["tun0", "eth0"], ["lo", "eth9"]][s];
        w.add_interface(names[0], LinkType::ETHERNET, 0).unwrap();
        w.add_interface(names[1], LinkType::RAW, 128).unwrap();
        let mut at = out.len() as u64 + n.get();
        for i in 0..150usize {
            let len = [0usize, 4, 28, 60, 333, 1500][i % 6] + i % 4;
            let mut data = vec![(i % 251) as u8; len];
            if i % 4 == 0 && len >= 12 {
                // An IDB-like header: type 1, length 12, and 12 again.
                let fake: Vec<u8> = [1u32, 12, 12]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                data[..12].copy_from_slice(&fake);
            }
            starts.push(at);
            if i % 10 == 9 {
                w.write_spb(len as u32 + 1, &data).unwrap();
            } else {
                w.write_epb(
                    (i % 2) as u32,
                    1_000_000 * i as u64 + s as u64,
                    len as u32,
                    &data,
                )
                .unwrap();
            }
            at = out.len() as u64 + n.get();
        }
        out.extend(w.into_inner().buf);
    }
    std::fs::write(path, &out).unwrap();
    starts
}

/// A writer's output, and how many bytes so far.
struct Counting {
    buf: Vec<u8>,
    n: Rc<Cell<u64>>,
}

impl std::io::Write for Counting {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        self.n.set(self.n.get() + b.len() as u64);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn pcapng_sections_and_interfaces_any_cut() {
    let path = temp("sections.pcapng");
    let starts = pcapng_capture(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    let (want, frames) = sequential(&path);
    assert_eq!(want.as_ref().unwrap().frames, 450);
    // Cuts found by the planner are block starts.
    let mut t = IfaceTable::new();
    let plan = plan_parts(&path, &FileOptions::default(), &mut t, 9_000).unwrap();
    let plan_len = plan.parts();
    assert!(plan_len >= 8, "{plan_len}");
    for c in &plan.cuts[1..] {
        assert!(starts.contains(c), "cut {c}");
    }
    let mut here = Collect::default();
    let out = plan.read(
        &FileOptions::default(),
        &mut t,
        4,
        Collect::default,
        &mut here,
    );
    assert!(same(&want, &out.result.map_err(|e| e.to_string())));
    assert_eq!(frames, here.got);
    // The first part always assumes the true state (how many later ones
    // do depends on how far workers ran ahead of a section change).
    assert!(out.used >= 1 && out.parts == plan_len, "{}", out.used);
    // Every single cut, right or wrong.
    for cut in (0..size + 8)
        .step_by(52)
        .chain(starts.iter().copied().step_by(7))
    {
        let (got, split_frames, _) = split_at(&path, &[cut], 2, 0);
        assert!(same(&want, &got), "cut {cut}: {got:?}");
        assert_eq!(frames, split_frames, "cut {cut}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn pcapng_damage_and_truncation() {
    let path = temp("ngdamage.pcapng");
    let starts = pcapng_capture(&path);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let at = starts[320] as usize;
    bad[at + 4..at + 8].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
    let tail = good[..good.len() - 6].to_vec();
    for (variant, data) in [bad, tail].iter().enumerate() {
        std::fs::write(&path, data).unwrap();
        let (want, frames) = sequential(&path);
        assert!(want.is_err(), "variant {variant}");
        let cuts: Vec<u64> = starts.iter().copied().step_by(11).collect();
        for threads in [1, 2, 8] {
            let (got, split_frames, _) = split_at(&path, &cuts, threads, 3);
            assert!(same(&want, &got), "variant {variant}: {want:?} vs {got:?}");
            assert_eq!(frames, split_frames, "variant {variant}");
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn pcapng_one_section_uses_every_part() {
    let path = temp("one.pcapng");
    let mut w = PcapngWriter::new(Vec::new(), Endian::Big).unwrap();
    w.add_interface("eth0", LinkType::ETHERNET, 0).unwrap();
    w.add_interface("eth1", LinkType::RAW, 0).unwrap();
    for i in 0..2000u32 {
        let data = vec![(i % 7) as u8; 40 + (i % 300) as usize];
        w.write_epb(i % 2, u64::from(i) * 1000, 1500, &data)
            .unwrap();
    }
    std::fs::write(&path, w.into_inner()).unwrap();
    let (want, frames) = sequential(&path);
    for threads in [1, 2, 8] {
        let mut t = IfaceTable::new();
        let plan = plan_parts(&path, &FileOptions::default(), &mut t, 30_000).unwrap();
        let parts = plan.parts();
        assert!(parts >= 10, "{parts}");
        let mut here = Collect::default();
        let out = plan.read(
            &FileOptions::default(),
            &mut t,
            threads,
            Collect::default,
            &mut here,
        );
        assert_eq!((out.used, out.parts), (parts, parts));
        assert!(same(&want, &out.result.map_err(|e| e.to_string())));
        assert_eq!(frames, here.got);
        assert_eq!(
            (t.name(IfaceId(0)), t.name(IfaceId(1))),
            ("eth0".into(), "eth1".into())
        );
    }
    std::fs::remove_file(&path).unwrap();
}
