//! Frame → decode → flow table: the one per-packet path shared by `read`,
//! `live`, `probe` and `audit`.
//!
//! Live capture feeds frames one at a time ([`Pipeline::feed`]). File reading
//! uses both cores ([`Pipeline::run_split`]): one thread reads and decodes,
//! the caller's thread counts, and batches of small [`Event`]s pass between
//! them through a bounded channel, so memory stays flat.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::decode::{decode_frame, DecodeConfig, Decoded};
use crate::flows::{FlowTable, Limits};
use crate::iface::IfaceId;
use crate::sources::Frame;

/// Events per batch handed from the decoding thread to the counting one.
const BATCH: usize = 1024;
/// Batches in flight at most (each about 0.5 MiB).
const IN_FLIGHT: usize = 8;

/// One decoded frame on its way to the flow table.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub iface: IfaceId,
    pub ts_ns: u64,
    pub wire_len: u32,
    pub decoded: Decoded,
}

/// Decodes frames and counts them into a [`FlowTable`].
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub cfg: DecodeConfig,
    pub table: FlowTable,
    /// Source labels whose frames were re-attributed to an SLL2 ifindex; the
    /// report leaves them out when nothing else was counted on them.
    pub shadowed: Vec<IfaceId>,
}

impl Pipeline {
    pub fn new(cfg: DecodeConfig, limits: Limits) -> Self {
        Self {
            cfg,
            table: FlowTable::new(limits),
            shadowed: Vec::new(),
        }
    }

    /// Decodes and counts one frame; returns the decode for callers that
    /// look further (probe, audit).
    #[inline]
    pub fn feed(&mut self, frame: &Frame<'_>) -> Decoded {
        let ev = decode_event(&self.cfg, &mut self.shadowed, frame);
        self.table
            .ingest(ev.iface, ev.ts_ns, ev.wire_len, &ev.decoded);
        ev.decoded
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
        let (result, shadowed) = std::thread::scope(|s| {
            let producer = s.spawn(move || {
                let mut emitter = Emitter {
                    cfg,
                    shadowed: Vec::new(),
                    batch: Vec::with_capacity(BATCH),
                    full: full_tx,
                    empty: empty_rx,
                };
                let result = produce(&mut emitter);
                emitter.send_batch();
                (result, emitter.shadowed)
            });
            count_batches(table, &full_rx, &empty_tx);
            match producer.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        for id in shadowed {
            if !self.shadowed.contains(&id) {
                self.shadowed.push(id);
            }
        }
        result
    }
}

/// The decoding side of [`Pipeline::run_split`].
pub struct Emitter {
    cfg: DecodeConfig,
    shadowed: Vec<IfaceId>,
    batch: Vec<Event>,
    full: SyncSender<Vec<Event>>,
    empty: Receiver<Vec<Event>>,
}

impl Emitter {
    /// Decodes one frame and queues it for counting.
    #[inline]
    pub fn emit(&mut self, frame: &Frame<'_>) {
        let ev = decode_event(&self.cfg, &mut self.shadowed, frame);
        self.batch.push(ev);
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
        for ev in &batch {
            table.ingest(ev.iface, ev.ts_ns, ev.wire_len, &ev.decoded);
        }
        batch.clear();
        let _ = empty.try_send(batch);
    }
}

#[inline]
fn decode_event(cfg: &DecodeConfig, shadowed: &mut Vec<IfaceId>, frame: &Frame<'_>) -> Event {
    let decoded = decode_frame(frame.data, frame.linktype, cfg);
    let iface = match decoded.sll2_ifindex {
        Some(ifindex) => {
            if !shadowed.contains(&frame.iface) {
                shadowed.push(frame.iface);
            }
            IfaceId::sll2(ifindex)
        }
        None => frame.iface,
    };
    Event {
        iface,
        ts_ns: frame.ts_ns,
        wire_len: frame.orig_len,
        decoded,
    }
}
