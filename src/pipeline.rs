//! Frame → decode → flow table: the one per-packet path shared by `read`,
//! `live`, `probe` and `audit`.
//!
//! Live capture feeds frames one at a time ([`Pipeline::feed`]). File reading
//! uses both cores: a large classic pcap file in two halves, each read,
//! decoded and counted by its own thread ([`Pipeline::run_halves`], with a
//! [`Feeder`] each); other files with one thread reading and decoding while
//! the caller's counts ([`Pipeline::run_split`]), batches of small
//! [`Event`]s passing between them through a bounded channel. Memory stays
//! flat either way.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::decode::{decode_frame, decode_frame_into, quick_frame, DecodeConfig, Decoded};
pub use crate::flows::{Event, What};
use crate::flows::{FlowTable, Limits};
use crate::sources::Frame;

/// Events per batch handed from the decoding thread to the counting one.
const BATCH: usize = 1024;
/// Batches in flight at most (each about 0.5 MiB).
const IN_FLIGHT: usize = 8;

/// Decodes frames and counts them into a [`FlowTable`].
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

    /// Runs `produce` on a second thread, where every frame it passes to
    /// [`Emitter::emit`] is decoded, while this thread counts the results.
    /// Returns what `produce` returned.
    pub fn run_split<T, P>(&mut self, produce: P) -> T
    where
        T: Send,
        P: FnOnce(&mut Emitter) -> T + Send,
    {
        let (full_tx, full_rx) = sync_channel::<Vec<Event>>(IN_FLIGHT);
        let (empty_tx, empty_rx) = sync_channel::<Vec<Event>>(IN_FLIGHT + 2);
        let cfg = self.cfg.clone();
        let table = &mut self.table;
        std::thread::scope(|s| {
            let producer = s.spawn(move || {
                let mut emitter = Emitter {
                    cfg,
                    batch: Vec::with_capacity(BATCH),
                    full: full_tx,
                    empty: empty_rx,
                };
                let result = produce(&mut emitter);
                emitter.send_batch();
                result
            });
            count_batches(table, &full_rx, &empty_tx);
            match producer.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

impl Pipeline {
    /// Runs `read` with two [`Feeder`]s for the two parts of one file read
    /// on two threads: the first counts into this pipeline's table, the
    /// second into a fresh one. When `read` says the second part's frames
    /// count (returns `(_, true)`), that table is merged in if the merge is
    /// exactly what counting those frames here would give; otherwise (a
    /// limit would bite) `recount_second` feeds them again on this thread.
    pub fn run_halves<T, R, C>(&mut self, read: R, recount_second: C) -> T
    where
        R: FnOnce(&mut Feeder<'_>, &mut Feeder<'_>) -> (T, bool),
        C: FnOnce(&mut Feeder<'_>),
    {
        let mut second = FlowTable::new(self.table.limits());
        let mut one = Feeder::new(&self.cfg, &mut self.table);
        let mut two = Feeder::new(&self.cfg, &mut second);
        let (result, keep) = read(&mut one, &mut two);
        one.flush();
        two.flush();
        if !keep {
            return result;
        }
        if !self.table.merge_following(&second) {
            let mut one = Feeder::new(&self.cfg, &mut self.table);
            recount_second(&mut one);
            one.flush();
        }
        result
    }
}

/// Events a [`Feeder`] collects before counting them (see
/// [`FlowTable::ingest_batch`]): enough to overlap the pair lookups, few
/// enough to stay in the core's first-level cache.
const FEED_BATCH: usize = 128;

/// Decodes frames and counts them in small batches, on the caller's thread.
pub struct Feeder<'a> {
    cfg: &'a DecodeConfig,
    table: &'a mut FlowTable,
    /// Fixed slots that frames are decoded into in place; `filled` are in use.
    batch: Vec<Event>,
    filled: usize,
}

impl<'a> Feeder<'a> {
    fn new(cfg: &'a DecodeConfig, table: &'a mut FlowTable) -> Self {
        Feeder {
            cfg,
            table,
            batch: vec![Event::default(); FEED_BATCH],
            filled: 0,
        }
    }

    #[inline]
    pub fn feed(&mut self, frame: &Frame<'_>) {
        decode_into(self.cfg, frame, &mut self.batch[self.filled]);
        self.filled += 1;
        if self.filled == FEED_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.table.ingest_batch(&self.batch[..self.filled]);
        self.filled = 0;
    }
}

/// The decoding side of [`Pipeline::run_split`].
pub struct Emitter {
    cfg: DecodeConfig,
    batch: Vec<Event>,
    full: SyncSender<Vec<Event>>,
    empty: Receiver<Vec<Event>>,
}

impl Emitter {
    /// Decodes one frame and queues it for counting.
    #[inline]
    pub fn emit(&mut self, frame: &Frame<'_>) {
        self.batch.push(Event::default());
        if let Some(ev) = self.batch.last_mut() {
            decode_into(&self.cfg, frame, ev);
        }
        if self.batch.len() == BATCH {
            self.send_batch();
        }
    }

    fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let full = std::mem::replace(&mut self.batch, next);
        // The counting side only stops after we drop `full`; a send error
        // would mean it panicked, which `run_split` re-raises.
        let _ = self.full.send(full);
    }
}

fn count_batches(
    table: &mut FlowTable,
    full: &Receiver<Vec<Event>>,
    empty: &SyncSender<Vec<Event>>,
) {
    while let Ok(mut batch) = full.recv() {
        table.ingest_batch(&batch);
        batch.clear();
        let _ = empty.try_send(batch);
    }
}

/// Decodes `frame` into `ev` (a batch slot, reused): the fast path's
/// compact form when it applies, else the full decode written in place.
#[inline]
fn decode_into(cfg: &DecodeConfig, frame: &Frame<'_>, ev: &mut Event) {
    ev.iface = frame.iface;
    ev.ts_ns = frame.ts_ns;
    ev.wire_len = frame.orig_len;
    if let Some(q) = quick_frame(frame.data, frame.linktype, cfg) {
        ev.what = What::Quick(q);
        return;
    }
    if !matches!(ev.what, What::Decoded(_)) {
        ev.what = What::Decoded(Decoded::default());
    }
    if let What::Decoded(d) = &mut ev.what {
        decode_frame_into(frame.data, frame.linktype, cfg, d);
    }
}
