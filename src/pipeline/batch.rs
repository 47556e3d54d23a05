//! Decoding frames into batches of small [`Event`]s, counted together
//! ([`FlowTable::ingest_batch`]) on this thread or handed to another.

use std::sync::mpsc::{Receiver, SyncSender};

use crate::decode::{decode_frame_into, quick_frame, DecodeConfig, Decoded, Quick};
use crate::flows::{Event, FlowTable, What};
use crate::sources::Frame;

/// Where a full batch goes.
pub(super) trait Sink {
    /// Takes `slots[..filled]`; may swap `slots` for another vector of the
    /// same length.
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize);

    /// Counts a fast-path frame at once, ahead of its batch, when that
    /// leaves the same table ([`FlowTable::count_known`]); false to batch it.
    #[inline(always)]
    fn count_now(&mut self, _frame: &Frame<'_>, _q: &Quick) -> bool {
        false
    }
}

/// Counting on this thread.
impl Sink for &mut FlowTable {
    #[inline]
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize) {
        self.ingest_batch(&slots[..filled]);
    }

    #[inline(always)]
    fn count_now(&mut self, f: &Frame<'_>, q: &Quick) -> bool {
        self.count_known(f.iface, f.ts_ns, f.orig_len, q)
    }
}

/// Counting into a table of its own (a part of a file read in parts).
impl Sink for FlowTable {
    #[inline]
    fn take(&mut self, slots: &mut Vec<Event>, filled: usize) {
        self.ingest_batch(&slots[..filled]);
    }

    #[inline(always)]
    fn count_now(&mut self, f: &Frame<'_>, q: &Quick) -> bool {
        self.count_known(f.iface, f.ts_ns, f.orig_len, q)
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
    sink: S,
}

impl<S: Sink> Batcher<S> {
    pub(super) fn new(cfg: &DecodeConfig, size: usize, sink: S) -> Self {
        Batcher {
            cfg: cfg.clone(),
            slots: vec![Event::default(); size.max(1)],
            filled: 0,
            sink,
        }
    }

    #[inline(always)]
    pub(super) fn feed(&mut self, frame: &Frame<'_>) {
        let ev = &mut self.slots[self.filled];
        match quick_frame(frame.data, frame.linktype, &self.cfg) {
            Some(q) if self.sink.count_now(frame, &q) => return,
            Some(q) => ev.what = What::Quick(q),
            None => decode_into(&self.cfg, frame, ev),
        }
        ev.iface = frame.iface;
        ev.ts_ns = frame.ts_ns;
        ev.wire_len = frame.orig_len;
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

    /// Hands over the partial batch, so the sink holds every frame fed.
    pub(super) fn drain(&mut self) {
        if self.filled > 0 {
            self.flush();
        }
    }

    pub(super) fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Hands over the last, partial batch.
    pub(super) fn finish(mut self) {
        if self.filled > 0 {
            self.flush();
        }
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
