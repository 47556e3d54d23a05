//! Frame → decode → flow table: the per-packet path every command shares.
//!
//! Two ways in. A capture file goes in whole through [`read_into`] or
//! [`read_threads`], which use several cores and keep the result that of a
//! one-thread read. Frames
//! that arrive one at a time (a live NIC, a probe) go through
//! [`Pipeline::feed`], which also hands back the decode for callers that look
//! further.

mod batch;

use std::path::Path;
use std::sync::mpsc::sync_channel;

use crate::decode::{decode_frame, DecodeConfig, Decoded};
use crate::flows::{FlowTable, Limits};
use crate::iface::IfaceTable;
use crate::sources::file::{
    read_file, split_plan, FileError, FileOptions, Gather, PartsRead, ReadSummary, SplitPlan, Tally,
};
use crate::sources::Frame;

use batch::{count_handed_off, Batcher, Handoff, Sink};

/// Events per batch decoded and counted on one thread: enough to overlap
/// the pair lookups ([`FlowTable::ingest_batch`]), few enough to stay in the
/// core's first-level cache.
const COUNT_BATCH: usize = 128;
/// Events per batch handed from a decoding thread to the counting one.
const HANDOFF_BATCH: usize = 1024;
/// Handed-off batches in flight at most (each about 0.5 MiB).
const IN_FLIGHT: usize = 8;

/// Decodes frames one at a time and counts them into its table.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub cfg: DecodeConfig,
    pub table: FlowTable,
}

impl Pipeline {
    pub fn new(cfg: DecodeConfig, limits: Limits) -> Self {
        Self {
            cfg,
            table: FlowTable::new(limits),
        }
    }

    /// Decodes and counts one frame; returns the decode for callers that
    /// look further (probe, audit).
    #[inline]
    pub fn feed(&mut self, frame: &Frame<'_>) -> Decoded {
        let decoded = decode_frame(frame.data, frame.linktype, &self.cfg);
        self.table
            .ingest(frame.iface, frame.ts_ns, frame.orig_len, &decoded);
        decoded
    }
}

/// Reads the capture file at `path` into `table` on every available core
/// ([`read_threads`] with [`default_threads`]).
pub fn read_into(
    table: &mut FlowTable,
    path: &Path,
    opts: &FileOptions,
    cfg: &DecodeConfig,
    ifaces: &mut IfaceTable,
) -> Result<ReadSummary, FileError> {
    read_threads(table, path, opts, cfg, ifaces, default_threads())
}

/// The cores this process may use (1 if unknown).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads the capture file at `path` into `table` on `threads` threads.
///
/// How: with one thread, the file is read, decoded and counted here. With
/// more, a file of 64 MiB or more (classic pcap or pcapng) is cut into parts
/// at guessed record or block boundaries, and `threads` workers each read,
/// decode and count a part into a table of its own, taking the next part
/// as they free up (copying a file out of the page cache costs about as
/// much as decoding it, so one core cannot do both at full speed). Any
/// other file (small, a pipe) is read and decoded on a second thread while
/// this one counts, batches of events passing between them through a
/// bounded channel.
///
/// What holds whatever the file, the thread count and wherever cuts fall:
/// - `table` ends exactly as a one-thread read in file order leaves it, so
///   the report is byte-for-byte the same, limits or not.
/// - A part is used only when the reading before it landed exactly on its
///   start, in the state it assumed there (pcapng: byte order, interfaces,
///   previous packet time); otherwise this thread reads on from where the
///   reading stands, to a later cut that it lands on.
/// - A part's table is merged in only when the merge equals counting its
///   frames here ([`FlowTable::merge_following`]: nothing spilled,
///   everything new fits under the limits); otherwise its frames are read
///   and counted again on this thread.
/// - Errors, damage offsets and frame counts are those of a one-thread read;
///   every frame before the damage is counted.
/// - Memory stays bounded: fixed read buffers per worker, and at most a
///   few parts' tables more than workers waiting to be merged.
pub fn read_threads(
    table: &mut FlowTable,
    path: &Path,
    opts: &FileOptions,
    cfg: &DecodeConfig,
    ifaces: &mut IfaceTable,
    threads: usize,
) -> Result<ReadSummary, FileError> {
    if threads <= 1 {
        let mut here = Batcher::new(cfg, COUNT_BATCH, &mut *table);
        let result = read_file(path, opts, ifaces, |f| here.feed(f));
        here.finish();
        return result;
    }
    match split_plan(path, opts, ifaces, threads) {
        Some(plan) => read_parts(table, plan, opts, cfg, ifaces, threads).result,
        None => read_handing_off(table, path, opts, cfg, ifaces),
    }
}

/// A file cut into parts, read by `threads` workers: the split path of
/// [`read_threads`], for a plan given (tests and fuzzing force cuts).
pub fn read_parts(
    table: &mut FlowTable,
    plan: SplitPlan,
    opts: &FileOptions,
    cfg: &DecodeConfig,
    ifaces: &mut IfaceTable,
    threads: usize,
) -> PartsRead {
    let limits = table.limits();
    let mut here = Batcher::new(cfg, COUNT_BATCH, &mut *table);
    let new_part = || Batcher::new(cfg, COUNT_BATCH, FlowTable::new(limits));
    let out = plan.read(opts, ifaces, threads, new_part, &mut here);
    here.finish();
    out
}

impl<S: Sink> Tally for Batcher<S> {
    #[inline]
    fn frame(&mut self, f: &Frame<'_>) {
        self.feed(f);
    }
}

impl Gather<Batcher<FlowTable>> for Batcher<&mut FlowTable> {
    fn take(&mut self, mut part: Batcher<FlowTable>) -> bool {
        part.drain();
        self.drain();
        let table = std::mem::take(part.sink_mut());
        self.sink_mut().take_following(table)
    }
}

/// A file read and decoded on a second thread while this one counts.
fn read_handing_off(
    table: &mut FlowTable,
    path: &Path,
    opts: &FileOptions,
    cfg: &DecodeConfig,
    ifaces: &mut IfaceTable,
) -> Result<ReadSummary, FileError> {
    let (full_tx, full_rx) = sync_channel(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel(IN_FLIGHT + 2);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut batcher = Batcher::new(cfg, HANDOFF_BATCH, Handoff::new(full_tx, empty_rx));
            let result = read_file(path, opts, ifaces, |f| batcher.feed(f));
            batcher.finish();
            result
        });
        count_handed_off(table, &full_rx, &empty_tx);
        match reader.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
