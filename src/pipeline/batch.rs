//! Decoding frames into batches of small [`Event`]s, counted together
//! ([`FlowTable::ingest_batch`]) on this thread or handed to another.
//! Fast-path frames whose entries exist are counted a few frames late
//! instead, their lookups overlapped (`flows::ahead`).

use std::sync::mpsc::{Receiver, SyncSender};

use crate::decode::{decode_frame_into, quick_frame, DecodeConfig, Decoded};
use crate::flows::{Event, FlowTable, Start, Started, What};
use crate::iface::IfaceId;
use crate::sources::Frame;

/// Fast-path frames started before they are counted together: enough that
/// a frame's tunnel slot has arrived when the group is finished, few enough
/// that the group stays in the first-level cache.
const AHEAD: usize = 16;

/// Where a full batch goes.
pub(super) trait Sink {
    /// Takes `slots[..filled]`; may swap `slots` for another vector of the
    /// same length.
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize);

    /// The table fast-path frames may be counted into ahead of the batch,
    /// if the batches are counted on this thread.
    #[inline(always)]
    fn table(&mut self) -> Option<&mut FlowTable> {
        None
    }
}

/// Counting on this thread.
impl Sink for &mut FlowTable {
    #[inline]
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize) {
        self.ingest_batch(&slots[..filled]);
    }

    #[inline(always)]
    fn table(&mut self) -> Option<&mut FlowTable> {
        Some(self)
    }
}

/// Counting into a table of its own (a part of a file read in parts).
impl Sink for FlowTable {
    #[inline]
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize) {
        self.ingest_batch(&slots[..filled]);
    }

    #[inline(always)]
    fn table(&mut self) -> Option<&mut FlowTable> {
        Some(self)
    }
}

/// Decodes frames into fixed slots (in place: nothing is built and then
/// copied per frame) and hands each full batch to its [`Sink`].
pub(super) struct Batcher<S: Sink> {
    /// A copy, not a borrow: borrowed, the frame callback grew past what
    /// the compiler inlines into the pcapng parser (+16 instructions a
    /// frame under callgrind).
    cfg: DecodeConfig,
    slots: Vec<Event>,
    filled: usize,
    /// Fast-path frames started, not yet counted; every one of them
    /// precedes every frame still to be batched.
    started: [Started; AHEAD],
    n_started: usize,
    sink: S,
}

impl<S: Sink> Batcher<S> {
    pub(super) fn new(cfg: &DecodeConfig, size: usize, sink: S) -> Self {
        Batcher {
            cfg: cfg.clone(),
            slots: vec![Event::default(); size.max(1)],
            filled: 0,
            started: [Started::default(); AHEAD],
            n_started: 0,
            sink,
        }
    }

    #[inline(always)]
    pub(super) fn feed(&mut self, frame: &Frame<'_>) {
        let quick = quick_frame(frame.data, frame.linktype, &self.cfg);
        if let (Some(q), Some(table)) = (&quick, self.sink.table()) {
            let out = &mut self.started[self.n_started];
            match table.start_known(frame.iface, frame.ts_ns, frame.orig_len, q, out) {
                Start::Counted => return,
                Start::Later => {
                    self.n_started += 1;
                    if self.n_started == AHEAD {
                        self.finish_started();
                    }
                    return;
                }
                Start::Batch => {}
            }
        }
        if self.n_started > 0 {
            self.finish_started();
        }
        let ev = &mut self.slots[self.filled];
        match quick {
            Some(q) => ev.what = What::Quick(q),
            None => decode_into(&self.cfg, frame, ev),
        }
        self.push(frame.iface, frame.ts_ns, frame.orig_len);
    }

    /// Counts the started frames in order, their tunnels found first (so
    /// that their pair slots load together); those whose tunnel or pair is
    /// new go into the batch.
    #[inline(never)]
    fn finish_started(&mut self) {
        let n = std::mem::take(&mut self.n_started).min(AHEAD);
        if let Some(table) = self.sink.table() {
            table.find_started(&mut self.started[..n]);
        }
        for i in 0..n {
            let s = &self.started[i];
            if !self.sink.table().is_some_and(|t| t.count_started(s)) {
                let (iface, ts_ns, wire_len) = (s.iface, s.ts_ns, s.wire_len);
                self.slots[self.filled].what = What::Quick(s.quick);
                self.push(iface, ts_ns, wire_len);
            }
        }
    }

    /// Takes the next slot, its `what` just written, with the frame's
    /// interface, time and length.
    #[inline(always)]
    fn push(&mut self, iface: IfaceId, ts_ns: u64, wire_len: u32) {
        let ev = &mut self.slots[self.filled];
        ev.iface = iface;
        ev.ts_ns = ts_ns;
        ev.wire_len = wire_len;
        self.filled += 1;
        if self.filled == self.slots.len() {
            self.flush();
        }
    }

    /// Out of line, so that `feed` stays small enough to inline into the
    /// parser's loop.
    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        self.sink.take(&mut self.slots, self.filled);
        self.filled = 0;
    }

    /// Hands over every frame fed, so the sink holds them all.
    pub(super) fn drain(&mut self) {
        if self.n_started > 0 {
            self.finish_started();
        }
        if self.filled > 0 {
            self.flush();
        }
    }

    pub(super) fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Hands over the last frames.
    pub(super) fn finish(mut self) {
        self.drain();
    }
}

/// Sends batches to the thread running [`count_handed_off`], and takes
/// its emptied ones back for reuse.
pub(super) struct Handoff {
    full: SyncSender<(Vec<Event>, usize)>,
    empty: Receiver<Vec<Event>>,
}

impl Handoff {
    pub(super) fn new(full: SyncSender<(Vec<Event>, usize)>, empty: Receiver<Vec<Event>>) -> Self {
        Handoff { full, empty }
    }
}

impl Sink for Handoff {
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize) {
        let size = slots.len();
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| vec![Event::default(); size]);
        let full = std::mem::replace(slots, next);
        // The counting side only stops once every sender is dropped; a send
        // error would mean it panicked, which the caller re-raises.
        let _ = self.full.send((full, filled));
    }
}

/// Counts the batches a [`Handoff`] sends, until its sender is dropped.
pub(super) fn count_handed_off(
    table: &mut FlowTable,
    full: &Receiver<(Vec<Event>, usize)>,
    empty: &SyncSender<Vec<Event>>,
) {
    while let Ok((slots, filled)) = full.recv() {
        table.ingest_batch(&slots[..filled]);
        let _ = empty.try_send(slots);
    }
}

/// Decodes `frame` in full into `ev` (a batch slot, reused), in place.
#[inline]
fn decode_into(cfg: &DecodeConfig, frame: &Frame<'_>, ev: &mut Event) {
    if !matches!(ev.what, What::Decoded(_)) {
        ev.what = What::Decoded(Decoded::default());
    }
    if let What::Decoded(d) = &mut ev.what {
        decode_frame_into(frame.data, frame.linktype, cfg, d);
    }
}
