//! One large capture file read by many threads: the frames-only half of
//! `pipeline::read_threads`, whose doc says what the caller can rely on.
//!
//! The planner cuts the file (classic pcap or pcapng) into parts at guessed
//! record or block boundaries, each found by a chain of plausible headers
//! that a packet's bytes could imitate. Workers read parts as they free up,
//! each with `pread` and into a tally of its own. The caller's thread takes
//! the parts in file order: a part is used only when the reading before it
//! landed exactly on its start, in the state it assumed there (pcapng: byte
//! order, interfaces, previous packet time). Otherwise, or when a part
//! stopped early (a record across its end, damage), this thread reads on
//! itself from where the reading stands until it lands on a later cut. So
//! every frame is delivered once, in file order, and errors name the same
//! byte offsets as a one-thread read; the guesses only decide the speed.

mod classic;
mod pcapng;
mod probe;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};

use super::input::{Input, Meter};
use super::pcap::{self, Params};
use super::pcapng::{self as ng, State};
use super::{fail_to_error, Fail, FileError, FileOptions, Format, ReadSummary};
use crate::iface::IfaceTable;
use crate::sources::Frame;

/// Smaller files are read on one thread: more cost more than they save.
pub const SPLIT_MIN_BYTES: u64 = 64 << 20;
/// Part sizes: one part per worker up to 1 GiB, no smaller than 8 MiB.
/// Few, because every part costs a table of its own (a part holds again
/// every pair it sees: with 40,000 pod pairs, 32 parts of the 2 GB bench
/// file cost more CPU than the second core gave) and a merge on the
/// caller's thread, which competes with the workers for a core. Two parts
/// per worker, for balance, read the bench file 5-10 % slower on 2 cores
/// than one each (interleaved runs, medians and minima).
const PART_MIN: u64 = 8 << 20;
const PART_MAX: u64 = 1 << 30;

/// Counts the frames of one part (on a worker) or of the file (on the
/// caller's thread).
pub trait Tally {
    fn frame(&mut self, f: &Frame<'_>);
}

/// The caller's thread: counts what it reads itself, and takes the parts'
/// tallies in file order.
pub trait Gather<P>: Tally {
    /// Folds in the tally of the frames that follow the ones counted so
    /// far; false when it cannot do that exactly, and then the part's
    /// frames come again through [`Tally::frame`].
    fn take(&mut self, part: P) -> bool;
}

/// A capture file and where to cut it.
#[derive(Debug)]
pub struct SplitPlan {
    path: PathBuf,
    file: File,
    kind: Kind,
    /// Part `i` is `cuts[i]..cuts[i + 1]`, the last one to the end of the
    /// file; `cuts[0]` is where the first packet record or block may start.
    cuts: Vec<u64>,
}

#[derive(Debug)]
enum Kind {
    Classic { params: Params, label: String },
    Pcapng { head: State },
}

/// What [`SplitPlan::read`] went through.
#[derive(Debug)]
pub struct PartsRead {
    pub result: Result<ReadSummary, FileError>,
    /// Parts whose workers' reading was used (the rest were read again on
    /// the caller's thread, or not needed after an error).
    pub used: usize,
    pub parts: usize,
}

/// A plan to read `path` in parts on `threads` workers, or `None` when it
/// should be read on one thread: not a regular file, small, not a capture,
/// or no plausible cut. Errors are left for that one-thread read to report.
/// A pcapng file's first interfaces are interned in `ifaces` in file order.
pub fn plan(
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    threads: usize,
) -> Option<SplitPlan> {
    let size = std::fs::metadata(path).ok()?.len();
    if threads < 2 || size < SPLIT_MIN_BYTES {
        return None;
    }
    let part = (size / threads as u64).clamp(PART_MIN, PART_MAX);
    plan_with(path, opts, ifaces, Cuts::Every(part))
}

/// A plan whose parts are about `part_bytes` long, whatever the file size:
/// for tests, which check that any part size gives the one-pass result.
pub fn plan_parts(
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    part_bytes: u64,
) -> Option<SplitPlan> {
    plan_with(path, opts, ifaces, Cuts::Every(part_bytes.max(1)))
}

/// A plan cut at `cuts` (record or block boundaries or not; those not past
/// the first record are dropped, which may leave one part): for tests and the fuzz target, which
/// check that every cut gives the one-pass result.
pub fn plan_at(
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    cuts: &[u64],
) -> Option<SplitPlan> {
    plan_with(path, opts, ifaces, Cuts::At(cuts))
}

enum Cuts<'a> {
    Every(u64),
    At(&'a [u64]),
}

fn plan_with(
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    cuts: Cuts<'_>,
) -> Option<SplitPlan> {
    let file = (!super::is_stdin(path)).then(|| File::open(path).ok())??;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let size = meta.len();
    let mut magic = [0u8; 4];
    file.read_exact_at(&mut magic, 0).ok()?;
    let (kind, start, finder) = if magic == ng::SHB_MAGIC {
        let (head, start) = pcapng::head(&file, ifaces, opts.filter.clone())?;
        let finder = pcapng::Finder::new(head.be());
        (Kind::Pcapng { head }, start, Finder::Pcapng(finder))
    } else {
        let (params, near) = classic::head(&file, magic, opts.filter.as_deref())?;
        let label = super::classic_label(path, opts);
        let finder = Finder::Classic(params.clone(), near);
        (
            Kind::Classic { params, label },
            pcap::FILE_HDR as u64,
            finder,
        )
    };
    let mut list = vec![start];
    let forced = matches!(cuts, Cuts::At(_));
    match cuts {
        Cuts::Every(part) => {
            let mut at = start + part;
            while at + part / 2 < size {
                if let Some(c) = finder.find(&file, at, size) {
                    if c > *list.last().unwrap_or(&0) && c < size {
                        list.push(c);
                    }
                }
                at += part;
            }
        }
        Cuts::At(at) => {
            for &c in at {
                if c > *list.last().unwrap_or(&0) {
                    list.push(c);
                }
            }
        }
    }
    if list.len() < 2 && !forced {
        return None;
    }
    Some(SplitPlan {
        path: path.to_path_buf(),
        file,
        kind,
        cuts: list,
    })
}

enum Finder {
    Classic(Params, u32),
    Pcapng(pcapng::Finder),
}

impl Finder {
    fn find(&self, file: &File, at: u64, size: u64) -> Option<u64> {
        match self {
            Finder::Classic(p, near) => classic::find_cut(file, at, size, p, *near),
            Finder::Pcapng(f) => f.find(file, at, size),
        }
    }
}

/// Parts read or waiting to be taken, at most, beyond the workers': bounds
/// the memory held in finished but not yet taken tallies.
const WINDOW_EXTRA: usize = 2;

/// How one reading of a byte range ended.
struct Reach {
    /// Where the reading stopped: the end of the range, or the record or
    /// block it could not read (damage, or one across the range's end).
    stop: u64,
    end: Result<(), Fail>,
    frames: u64,
    oversize: u64,
    /// pcapng: the state at `stop`.
    st: Option<State>,
}

/// A worker's part, as the caller's thread takes it.
struct Done<P> {
    reach: Reach,
    /// pcapng: the state the worker assumed at the part's start.
    assumed: Option<State>,
    /// Names the part interned that the caller's table may lack.
    new_names: bool,
    tally: P,
}

/// What the workers assume at a cut: the latest state the caller's thread
/// has seen, and its interface names then.
struct Spec {
    st: Option<State>,
    ifaces: IfaceTable,
}

/// The file as read in order so far (the caller's thread).
struct Cursor {
    at: u64,
    st: Option<State>,
    frames: u64,
    oversize: u64,
}

impl SplitPlan {
    /// Parts planned.
    pub fn parts(&self) -> usize {
        self.cuts.len()
    }

    /// Reads the file on `threads` workers (at least one), `new_part` making
    /// each part's tally; frames reach `here` in file order, as described
    /// in the module doc.
    pub fn read<P, N, G>(
        mut self,
        opts: &FileOptions,
        ifaces: &mut IfaceTable,
        threads: usize,
        new_part: N,
        here: &mut G,
    ) -> PartsRead
    where
        P: Tally + Send,
        N: Fn() -> P + Sync,
        G: Gather<P>,
    {
        if let Kind::Classic { params, label } = &mut self.kind {
            params.iface = ifaces.intern(label);
        }
        let threads = threads.max(1);
        let k = self.cuts.len();
        let mut cur = Cursor {
            at: self.cuts[0],
            st: match &self.kind {
                Kind::Pcapng { head } => Some(head.clone()),
                Kind::Classic { .. } => None,
            },
            frames: 0,
            oversize: 0,
        };
        let spec = Mutex::new(Arc::new(Spec {
            st: cur.st.as_ref().map(State::speculated),
            ifaces: ifaces.clone(),
        }));
        let mut used = 0;
        let end = if threads == 1 {
            // In order on this thread, for tests and fuzzing: the same
            // taking of parts, no thread.
            let never = AtomicBool::new(false);
            let mut fetch = |i: usize| {
                let sp = Arc::clone(&spec.lock().unwrap_or_else(|e| e.into_inner()));
                Some(self.read_part(i, &sp, opts, new_part(), &never))
            };
            self.take_parts(
                &mut cur,
                ifaces,
                here,
                &spec,
                &mut used,
                &mut fetch,
                &mut |_| {},
            )
        } else {
            self.read_spread(
                &mut cur, opts, ifaces, threads, &new_part, here, &spec, &mut used,
            )
        };
        let format = match self.kind {
            Kind::Classic { .. } => Format::Pcap,
            Kind::Pcapng { .. } => Format::Pcapng,
        };
        let result = match end {
            Ok(()) => Ok(ReadSummary {
                format,
                frames: cur.frames,
                bytes: cur.at,
                oversize: cur.oversize,
            }),
            Err(fail) => Err(fail_to_error(fail, &self.path, cur.frames)),
        };
        PartsRead {
            result,
            used,
            parts: k,
        }
    }

    /// [`Self::read`] with `threads` (two or more) workers.
    #[allow(clippy::too_many_arguments)]
    fn read_spread<P, N, G>(
        &self,
        cur: &mut Cursor,
        opts: &FileOptions,
        ifaces: &mut IfaceTable,
        threads: usize,
        new_part: &N,
        here: &mut G,
        spec: &Mutex<Arc<Spec>>,
        used: &mut usize,
    ) -> Result<(), Fail>
    where
        P: Tally + Send,
        N: Fn() -> P + Sync,
        G: Gather<P>,
    {
        let k = self.cuts.len();
        let next = AtomicUsize::new(0);
        let floor = AtomicUsize::new(0);
        let cancel = AtomicBool::new(false);
        let taken = (Mutex::new(0usize), Condvar::new());
        let window = threads + WINDOW_EXTRA;
        let (tx, rx) = channel::<(usize, Done<P>)>();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let tx = tx.clone();
                let (next, floor, cancel, taken) = (&next, &floor, &cancel, &taken);
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= k {
                        break;
                    }
                    {
                        let mut t = taken.0.lock().unwrap_or_else(|e| e.into_inner());
                        while i >= *t + window && !cancel.load(Ordering::Relaxed) {
                            t = taken.1.wait(t).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    if i < floor.load(Ordering::Relaxed) {
                        continue;
                    }
                    let sp = Arc::clone(&spec.lock().unwrap_or_else(|e| e.into_inner()));
                    let done = self.read_part(i, &sp, opts, new_part(), cancel);
                    if tx.send((i, done)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            let mut pending: Vec<Option<Done<P>>> = (0..k).map(|_| None).collect();
            let mut fetch = |i: usize| {
                // Parts passed over are dropped.
                for p in pending.iter_mut().take(i) {
                    *p = None;
                }
                while pending[i].is_none() {
                    match rx.recv() {
                        Ok((j, d)) if j >= i => pending[j] = Some(d),
                        Ok(_) => {}
                        // Every worker is gone: one panicked (re-raised
                        // when the scope ends).
                        Err(_) => break,
                    }
                }
                pending[i].take()
            };
            let mut moved = |i: usize| {
                floor.store(i, Ordering::Relaxed);
                *taken.0.lock().unwrap_or_else(|e| e.into_inner()) = i;
                taken.1.notify_all();
            };
            let end = self.take_parts(cur, ifaces, here, spec, used, &mut fetch, &mut moved);
            cancel.store(true, Ordering::Relaxed);
            drop(taken.0.lock().unwrap_or_else(|e| e.into_inner()));
            taken.1.notify_all();
            drop(rx);
            end
        })
    }

    /// The caller's side: takes the parts in file order from `fetch`, or
    /// reads on here where one does not fit; tells `moved` the next part
    /// wanted. Ends with how the file ended.
    #[allow(clippy::too_many_arguments)]
    fn take_parts<P, G: Gather<P>>(
        &self,
        cur: &mut Cursor,
        ifaces: &mut IfaceTable,
        here: &mut G,
        spec: &Mutex<Arc<Spec>>,
        used: &mut usize,
        fetch: &mut dyn FnMut(usize) -> Option<Done<P>>,
        moved: &mut dyn FnMut(usize),
    ) -> Result<(), Fail> {
        let mut i = 0;
        loop {
            let Some(d) = fetch(i) else {
                return Err(Fail::Io(io::Error::other("a worker thread failed")));
            };
            let fits = cur.at == self.cuts[i]
                && !d.new_names
                && match (&cur.st, &d.assumed, &d.reach.st) {
                    (Some(real), Some(assumed), Some(ended)) => ended.part_holds(assumed, real),
                    _ => true,
                };
            let mut reach = d.reach;
            if fits {
                if here.take(d.tally) {
                    *used += 1;
                    cur.frames += reach.frames;
                    cur.oversize += reach.oversize;
                    cur.at = reach.stop;
                    cur.st = reach.st.take();
                } else {
                    // Counted again here, to where the part stopped.
                    let again = self.read_range(cur, reach.stop, ifaces, None, here);
                    let _ = cur.advance(again);
                }
            }
            let next_cut = self.cuts.get(i + 1).copied();
            if fits && reach.end.is_ok() && Some(cur.at) == next_cut {
                i += 1;
            } else if fits && (next_cut.is_none() || reach.end.is_ok()) {
                // The last part, or the file ended before the part did.
                return reach.end;
            } else {
                match self.read_on(cur, i, ifaces, here) {
                    Ok(j) => i = j,
                    Err(end) => return end,
                }
            }
            moved(i);
            let changed = {
                let sp = spec.lock().unwrap_or_else(|e| e.into_inner());
                sp.ifaces.len() != ifaces.len()
                    || match (&sp.st, &cur.st) {
                        (Some(a), Some(b)) => !b.same_section(a),
                        _ => false,
                    }
            };
            if changed {
                *spec.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(Spec {
                    st: cur.st.as_ref().map(State::speculated),
                    ifaces: ifaces.clone(),
                });
            }
        }
    }

    /// Reads on here from the cursor (at or before part `i`'s start) until
    /// the reading lands on a cut: returns that part's index, or how the
    /// file ended.
    fn read_on<G: Tally>(
        &self,
        cur: &mut Cursor,
        i: usize,
        ifaces: &mut IfaceTable,
        here: &mut G,
    ) -> Result<usize, Result<(), Fail>> {
        let k = self.cuts.len();
        let mut j = if self.cuts[i] > cur.at { i } else { i + 1 };
        loop {
            let to = self.cuts.get(j).copied().unwrap_or(u64::MAX);
            let r = self.read_range(cur, to, ifaces, None, here);
            let ok = r.end.is_ok();
            let end = cur.advance(r);
            if j >= k || (ok && cur.at != to) {
                return Err(end);
            }
            if ok {
                return Ok(j);
            }
            // A record or block across `to`, or damage: read on further
            // (damage is met again, and is final at the end of the file).
            j += 1;
        }
    }

    /// A worker reading part `i` in the state `spec` assumes.
    fn read_part<P: Tally>(
        &self,
        i: usize,
        spec: &Spec,
        opts: &FileOptions,
        mut tally: P,
        cancel: &AtomicBool,
    ) -> Done<P> {
        let mut names = spec.ifaces.clone();
        let from = Cursor {
            at: self.cuts[i],
            st: spec.st.clone(),
            frames: 0,
            oversize: 0,
        };
        let to = self.cuts.get(i + 1).copied().unwrap_or(u64::MAX);
        // The first part's progress counts the file's head as read.
        let meter = opts.progress.map(|p| (p, if i == 0 { 0 } else { from.at }));
        let reach = self.read_range_in(&from, to, &mut names, meter, Some(cancel), &mut tally);
        Done {
            reach,
            assumed: from.st,
            new_names: names.len() != spec.ifaces.len(),
            tally,
        }
    }

    fn read_range<G: Tally>(
        &self,
        from: &Cursor,
        to: u64,
        ifaces: &mut IfaceTable,
        meter: Option<(&dyn super::Progress, u64)>,
        here: &mut G,
    ) -> Reach {
        self.read_range_in(from, to, ifaces, meter, None, here)
    }

    /// Reads `from.at..to` in `from`'s state.
    fn read_range_in<T: Tally>(
        &self,
        from: &Cursor,
        to: u64,
        ifaces: &mut IfaceTable,
        meter: Option<(&dyn super::Progress, u64)>,
        cancel: Option<&AtomicBool>,
        tally: &mut T,
    ) -> Reach {
        let frames = Cell::new(0u64);
        let meter = meter.map(|(p, at)| Meter::new(p, &frames, at));
        let reader = Range {
            file: &self.file,
            pos: from.at,
            end: to,
            stop: cancel,
        };
        let len = usize::try_from(to.saturating_sub(from.at)).unwrap_or(usize::MAX);
        let mut inp = Input::sized(reader, from.at, meter, len);
        let mut deliver = |f: &Frame<'_>| {
            frames.set(frames.get() + 1);
            tally.frame(f);
        };
        let (stop, end, st) = match (&self.kind, &from.st) {
            (Kind::Pcapng { .. }, Some(st)) => {
                let mut st = st.clone();
                let r = ng::read_from(&mut inp, &mut st, ifaces, &mut deliver);
                (stop_of(&r, &inp), r, Some(st))
            }
            (Kind::Classic { params, .. }, _) => {
                let (stop, r) = classic::read(&mut inp, params, &mut deliver);
                (stop, r, None)
            }
            (Kind::Pcapng { .. }, None) => unreachable!("a pcapng cursor has a state"),
        };
        inp.finish_progress();
        Reach {
            stop,
            end,
            frames: frames.get(),
            oversize: inp.oversize,
            st,
        }
    }
}

impl Cursor {
    /// Moves on past a range read here; returns how it ended.
    fn advance(&mut self, r: Reach) -> Result<(), Fail> {
        self.frames += r.frames;
        self.oversize += r.oversize;
        self.at = r.stop;
        if r.st.is_some() {
            self.st = r.st;
        }
        r.end
    }
}

/// Where a read that ended with `r` stopped.
fn stop_of<R: Read>(r: &Result<(), Fail>, inp: &Input<'_, R>) -> u64 {
    match r {
        Err(Fail::Damaged { offset, .. }) => *offset,
        _ => inp.consumed(),
    }
}

/// `read()` over a byte range of a file with `pread`, so threads can share
/// one descriptor. Ends early when `stop` is set.
struct Range<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
    stop: Option<&'f AtomicBool>,
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
