//! Frame → decode → flow table: the per-packet path every command shares.
//!
//! Two ways in. A capture file goes in whole through [`read_into`], which
//! uses both cores and keeps the result that of a one-thread read. Frames
//! that arrive one at a time (a live NIC, a probe) go through
//! [`Pipeline::feed`], which also hands back the decode for callers that look
//! further.

mod batch;

use std::path::Path;
use std::sync::mpsc::sync_channel;

use crate::decode::{decode_frame, DecodeConfig, Decoded};
use crate::flows::{FlowTable, Limits};
use crate::iface::IfaceTable;
use crate::sources::file::{read_file, split_plan, FileError, FileOptions, ReadSummary, SplitPlan};
use crate::sources::Frame;

use batch::{count_handed_off, Batcher, Handoff};

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

/// Reads the capture file at `path` into `table`, on both cores.
///
/// How: a classic pcap file of 64 MiB or more is cut at a record boundary
/// near the middle, and each thread reads, decodes and counts its part into
/// a table of its own (copying a file out of the page cache costs about as
/// much as decoding it, so one core cannot do both at full speed). Any
/// other file (pcapng, small, a pipe) is read and decoded on a second thread
/// while this one counts, batches of events passing between them through a
/// bounded channel.
///
/// What holds whatever the file and wherever the cut falls:
/// - `table` ends exactly as a one-thread read in file order leaves it, so
///   the report is byte-for-byte the same, limits or not.
/// - The cut (found by a chain of plausible record headers, which packet
///   bytes can imitate) is trusted only when the first part's reader lands
///   exactly on it; otherwise that reader goes on to the end of the file
///   and the second part's counts are dropped.
/// - The second part's table is merged in only when the merge equals
///   counting its frames here ([`FlowTable::merge_following`]: nothing
///   spilled, everything new fits under the limits); otherwise its frames
///   are read and counted again on this thread.
/// - Errors, damage offsets and frame counts are those of a one-thread read;
///   every frame before the damage is counted.
/// - Memory stays flat: fixed read buffers and a bounded number of batches.
pub fn read_into(
    table: &mut FlowTable,
    path: &Path,
    opts: &FileOptions,
    cfg: &DecodeConfig,
    ifaces: &mut IfaceTable,
) -> Result<ReadSummary, FileError> {
    match split_plan(path, opts) {
        Some(plan) => read_halves(table, &plan, opts, cfg, ifaces),
        None => read_handing_off(table, path, opts, cfg, ifaces),
    }
}

/// Both parts of a split file, each counted by its own thread: the split
/// path of [`read_into`], for a plan given (tests and fuzzing force cuts).
pub fn read_halves(
    table: &mut FlowTable,
    plan: &SplitPlan,
    opts: &FileOptions,
    cfg: &DecodeConfig,
    ifaces: &mut IfaceTable,
) -> Result<ReadSummary, FileError> {
    let iface = ifaces.intern(plan.label());
    let mut second = FlowTable::new(table.limits());
    let mut one = Batcher::new(cfg, COUNT_BATCH, &mut *table);
    let mut two = Batcher::new(cfg, COUNT_BATCH, &mut second);
    let out = plan.read(opts, iface, |f| one.feed(f), |f| two.feed(f));
    one.finish();
    two.finish();
    if out.second_used && !table.merge_following(&second) {
        let mut one = Batcher::new(cfg, COUNT_BATCH, &mut *table);
        plan.read_second_again(iface, |f| one.feed(f));
        one.finish();
    }
    out.result
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
