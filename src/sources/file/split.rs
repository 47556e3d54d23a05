//! One large classic pcap file read by two threads: the frames-only half
//! of `pipeline::read_into`, whose doc says what the caller can rely on.
//!
//! The file is cut at a record boundary near the middle and each thread
//! reads its own part with `pread`. The cut is found by looking for a chain
//! of plausible record headers, which a packet's bytes could imitate; it is
//! trusted only once the first part's reader lands exactly on it. When it
//! does not, that reader goes on to the end of the file and the second
//! part's frames are to be dropped ([`SplitOutcome::second_used`]). Either
//! way every frame is delivered exactly once, in file order within a part,
//! and errors name the same byte offsets as a one-thread read.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::input::{Input, Meter};
use super::pcap::{self, Params, FILE_HDR};
use super::{fail_to_error, FileError, FileOptions, Format, ReadSummary};
use crate::iface::IfaceId;
use crate::sources::Frame;

/// Smaller files are read on one thread: the second costs more than it saves.
pub const SPLIT_MIN_BYTES: u64 = 64 << 20;

/// Bytes read around the middle to find the cut.
const PROBE_BYTES: usize = 1 << 20;

/// A classic pcap file and where to cut it.
#[derive(Debug)]
pub struct SplitPlan {
    path: PathBuf,
    file: File,
    params: Params,
    label: String,
    /// File offset where the second part starts (a guessed record boundary).
    cut: u64,
}

/// The result of [`SplitPlan::read`].
#[derive(Debug)]
pub struct SplitOutcome {
    pub result: Result<ReadSummary, FileError>,
    /// False when the cut proved wrong (or the first part was damaged): the
    /// first callback then got every frame and the second's must be dropped.
    pub second_used: bool,
}

/// A plan to read `path` in two parts, or `None` when it should be read on
/// one thread: not a regular file, small, not classic pcap, or no plausible
/// cut near the middle. Errors are left for that one-thread read to report.
pub fn plan(path: &Path, opts: &FileOptions) -> Option<SplitPlan> {
    plan_with(path, opts, SPLIT_MIN_BYTES, None)
}

/// A plan for any classic pcap file, cut at `cut` (a record boundary or
/// not): for tests and the fuzz target, which check that every cut gives
/// the one-pass result.
pub fn plan_at(path: &Path, opts: &FileOptions, cut: u64) -> Option<SplitPlan> {
    plan_with(path, opts, 0, Some(cut))
}

/// [`plan`] with its size threshold and, for tests, a forced cut.
fn plan_with(
    path: &Path,
    opts: &FileOptions,
    min_bytes: u64,
    cut: Option<u64>,
) -> Option<SplitPlan> {
    let file = (!super::is_stdin(path)).then(|| File::open(path).ok())??;
    let meta = file.metadata().ok()?;
    let size = meta.len();
    if !meta.is_file() || size < min_bytes {
        return None;
    }
    let mut head = [0u8; FILE_HDR + 16];
    file.read_exact_at(&mut head, 0).ok()?;
    let (be, nanos) = pcap::magic([head[0], head[1], head[2], head[3]])?;
    let params = pcap::params(&head, be, nanos, IfaceId(0), opts.filter.as_deref()).ok()?;
    let near_secs = pcap::first_secs(&head, &params)?;
    let cut = match cut {
        Some(c) => c,
        None => find_cut(&file, size, &params, near_secs)?,
    };
    Some(SplitPlan {
        path: path.to_path_buf(),
        file,
        params,
        label: super::classic_label(path, opts),
        cut,
    })
}

/// The first offset at or after the middle where a chain of plausible
/// records starts. A record is at most `max_record` bytes, so a true
/// boundary lies within that distance of any offset.
fn find_cut(file: &File, size: u64, p: &Params, near_secs: u32) -> Option<u64> {
    let mid = size / 2;
    let mut buf = vec![0u8; PROBE_BYTES];
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], mid + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let b = &buf[..n];
    let at_eof = mid + n as u64 >= size;
    (0..pcap::max_record(p).min(n))
        .find(|&o| pcap::plausible_chain(&b[o..], p, near_secs, at_eof))
        .map(|o| mid + o as u64)
}

impl SplitPlan {
    /// Reads the file: frames before the cut go to `first` (on this
    /// thread), the rest to `second` (on another).
    pub fn read<A, B>(
        &self,
        opts: &FileOptions,
        iface: IfaceId,
        mut first: A,
        mut second: B,
    ) -> SplitOutcome
    where
        A: FnMut(&Frame<'_>) + Send,
        B: FnMut(&Frame<'_>) + Send,
    {
        let mut params = self.params.clone();
        params.iface = iface;
        let stop_second = AtomicBool::new(false);
        let (one, two) = std::thread::scope(|s| {
            let two = s.spawn(|| {
                let frames = Cell::new(0u64);
                let reader = Range::new(&self.file, self.cut, u64::MAX, Some(&stop_second));
                let meter = opts.progress.map(|p| Meter::new(p, &frames, self.cut));
                let mut inp = Input::at(reader, self.cut, meter);
                let r = pcap::records(&mut inp, &params, &mut |f| {
                    frames.set(frames.get() + 1);
                    second(f);
                });
                inp.finish_progress();
                PartEnd::of(r, &inp, frames.get())
            });
            let frames = Cell::new(0u64);
            let start = FILE_HDR as u64;
            let reader = Range::new(&self.file, start, self.cut, None);
            // From 0: the file header counts as read.
            let meter = opts.progress.map(|p| Meter::new(p, &frames, 0));
            let mut inp = Input::at(reader, start, meter);
            let mut deliver = |f: &Frame<'_>| {
                frames.set(frames.get() + 1);
                first(f);
            };
            let mut r = pcap::records(&mut inp, &params, &mut deliver);
            let landed = matches!(r, Ok(None)) && inp.consumed() == self.cut;
            if !landed {
                stop_second.store(true, Ordering::Relaxed);
            }
            if matches!(r, Ok(Some(_))) {
                // The guess was inside a record: read on to the real end.
                inp.reader_mut().end = u64::MAX;
                inp.resume();
                r = pcap::records(&mut inp, &params, &mut deliver);
            }
            inp.finish_progress();
            let one = PartEnd::of(r, &inp, frames.get());
            let two = match two.join() {
                Ok(t) => t,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (PartEnd { landed, ..one }, two)
        });
        let (end, frames, oversize, second_used) = if one.landed {
            (
                two.end,
                one.frames + two.frames,
                one.oversize + two.oversize,
                true,
            )
        } else {
            (one.end, one.frames, one.oversize, false)
        };
        let result = match end {
            Ok(bytes) => Ok(ReadSummary {
                format: Format::Pcap,
                frames,
                bytes,
                oversize,
            }),
            Err(fail) => Err(fail_to_error(fail, &self.path, frames)),
        };
        SplitOutcome {
            result,
            second_used,
        }
    }

    /// The interface label of the file's frames (`--iface` or the stem).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Delivers the second part's frames again, on this thread, after a
    /// [`Self::read`] that used it; the outcome is already known from that
    /// read. For callers whose per-part results cannot be combined exactly.
    pub fn read_second_again<F: FnMut(&Frame<'_>)>(&self, iface: IfaceId, mut f: F) {
        let mut params = self.params.clone();
        params.iface = iface;
        let reader = Range::new(&self.file, self.cut, u64::MAX, None);
        let mut inp = Input::at(reader, self.cut, None);
        let _ = pcap::records(&mut inp, &params, &mut f);
    }
}

/// How one part ended: the file offset reached, or why it stopped.
struct PartEnd {
    end: Result<u64, super::Fail>,
    frames: u64,
    oversize: u64,
    landed: bool,
}

impl PartEnd {
    fn of<R: Read>(
        r: Result<Option<pcap::Cut>, super::Fail>,
        inp: &Input<'_, R>,
        frames: u64,
    ) -> Self {
        let end = match r {
            Ok(None) => Ok(inp.consumed()),
            Ok(Some(cut)) => Err(cut.damage()),
            Err(fail) => Err(fail),
        };
        PartEnd {
            end,
            frames,
            oversize: inp.oversize,
            landed: false,
        }
    }
}

/// `read()` over a byte range of a file with `pread`, so two threads can
/// share one descriptor. Ends early when `stop` is set.
struct Range<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
    stop: Option<&'f AtomicBool>,
}

impl<'f> Range<'f> {
    fn new(file: &'f File, pos: u64, end: u64, stop: Option<&'f AtomicBool>) -> Self {
        Range {
            file,
            pos,
            end,
            stop,
        }
    }
}

impl Read for Range<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Ok(0);
        }
        let left = self.end.saturating_sub(self.pos);
        let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut out[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::IfaceTable;
    use crate::linktype::LinkType;
    use crate::sources::file::{read_file, Told};
    use crate::write::{Endian, PcapWriter, TsResolution};

    type Got = Vec<(u64, u32, Vec<u8>)>;

    /// A capture whose payloads try to fool the cut finder: runs of zeros,
    /// and bytes that look like record headers.
    fn capture(path: &Path, endian: Endian, records: usize) -> Vec<u64> {
        let file = File::create(path).unwrap();
        let mut w =
            PcapWriter::new(file, LinkType::RAW, 65535, endian, TsResolution::Micro).unwrap();
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
            got.push((f.ts_ns, f.orig_len, f.data.to_vec()))
        });
        (r.map_err(|e| e.to_string()), got)
    }

    fn split(path: &Path, cut: Option<u64>) -> (Result<ReadSummary, String>, Got, bool) {
        let opts = FileOptions::default();
        let plan = plan_with(path, &opts, 0, cut).expect("a plan");
        let (mut one, mut two) = (Vec::new(), Vec::new());
        let mut t = IfaceTable::new();
        let out = plan.read(
            &opts,
            t.intern(plan.label()),
            |f| one.push((f.ts_ns, f.orig_len, f.data.to_vec())),
            |f| two.push((f.ts_ns, f.orig_len, f.data.to_vec())),
        );
        if out.second_used {
            let mut again = Vec::new();
            plan.read_second_again(IfaceId(0), |f| {
                again.push((f.ts_ns, f.orig_len, f.data.to_vec()))
            });
            assert_eq!(again, two, "the second part read again");
            one.extend(two);
        }
        (out.result.map_err(|e| e.to_string()), one, out.second_used)
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
    fn the_cut_found_is_a_record_boundary_and_is_used() {
        for endian in [Endian::Little, Endian::Big] {
            let path = temp("found.pcap");
            let starts = capture(&path, endian, 600);
            let plan = plan_with(&path, &FileOptions::default(), 0, None).unwrap();
            assert!(
                starts.contains(&plan.cut),
                "cut {} is no record start",
                plan.cut
            );
            let (want, frames) = sequential(&path);
            let (got, split_frames, used) = split(&path, None);
            assert!(used);
            assert!(same(&want, &got), "{want:?} vs {got:?}");
            assert_eq!(frames, split_frames);
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
        let plan = plan_with(&path, &opts, 0, Some(starts[300])).unwrap();
        let out = plan.read(&opts, IfaceId(0), |_| {}, |_| {});
        assert!(out.second_used);
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
            let (got, split_frames, second_used) = split(&path, Some(cut));
            assert!(same(&want, &got), "cut {cut}: {want:?} vs {got:?}");
            assert_eq!(frames, split_frames, "cut {cut}");
            assert_eq!(
                second_used,
                starts.contains(&cut) && cut < size,
                "cut {cut}"
            );
            used += usize::from(second_used);
        }
        assert!(used >= 100);
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
                let (got, split_frames, _) = split(&path, Some(cut));
                assert!(same(&want, &got), "variant {variant}, cut {cut}: {got:?}");
                assert_eq!(frames, split_frames, "variant {variant}, cut {cut}");
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}
