//! The controller's side of the capture loops: merges their tables into the
//! running total and into per-interval tables, and says when an interval is
//! complete (every loop still running has handed over its part of it).

use std::collections::BTreeMap;

use crate::flows::{FlowTable, Limits};
use crate::report::CaptureStats;
use crate::sources::live::KernelCounters;

use super::worker::Event;

/// What a finished capture loop left.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub stats: CaptureStats,
    pub packets: u64,
}

/// One complete interval, ready to print.
#[derive(Debug)]
pub struct Interval {
    pub start_ns: u64,
    pub end_ns: u64,
    pub table: FlowTable,
}

/// Merged state of all capture loops.
#[derive(Debug)]
pub struct Collector {
    limits: Limits,
    pub total: FlowTable,
    /// Per loop: the last epoch it handed over.
    upto: Vec<Option<u64>>,
    pub finished: Vec<Option<Finished>>,
    /// Per loop: kernel counters as last reported.
    pub counters: Vec<KernelCounters>,
    pending: BTreeMap<u64, FlowTable>,
    /// Start time of each epoch (index = epoch).
    epoch_start: Vec<u64>,
    /// The next interval to hand out.
    next: u64,
    pub count_reached: bool,
    /// Per loop: why its NIC is not being captured now (`None`: it is).
    pub down: Vec<Option<String>>,
}

impl Collector {
    pub fn new(workers: usize, limits: Limits, start_ns: u64) -> Self {
        Self {
            limits,
            total: FlowTable::new(limits),
            upto: vec![None; workers],
            finished: vec![None; workers],
            counters: vec![KernelCounters::default(); workers],
            pending: BTreeMap::new(),
            epoch_start: vec![start_ns],
            next: 0,
            count_reached: false,
            down: vec![None; workers],
        }
    }

    /// The epoch in force (the interval being filled).
    pub fn epoch(&self) -> u64 {
        self.epoch_start.len() as u64 - 1
    }

    /// Starts the next interval at `now_ns`; returns the new epoch number.
    pub fn tick(&mut self, now_ns: u64) -> u64 {
        self.epoch_start.push(now_ns);
        self.epoch()
    }

    pub fn all_finished(&self) -> bool {
        self.finished.iter().all(Option::is_some)
    }

    /// Folds one event in.
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Delta {
                worker,
                epoch,
                table,
                counters,
            } => {
                self.add(epoch, &table);
                if let Some(u) = self.upto.get_mut(worker) {
                    *u = Some(epoch);
                }
                if let Some(c) = self.counters.get_mut(worker) {
                    *c = counters;
                }
            }
            Event::CountReached => self.count_reached = true,
            Event::Status { worker, down } => {
                if let Some(d) = self.down.get_mut(worker) {
                    *d = down;
                }
            }
            Event::Done {
                worker,
                table,
                stats,
                packets,
            } => {
                self.add(self.epoch(), &table);
                if let Some(d) = self.down.get_mut(worker) {
                    *d = Some(
                        stats
                            .error
                            .clone()
                            .unwrap_or_else(|| "capture ended".into()),
                    );
                }
                if let Some(c) = self.counters.get_mut(worker) {
                    *c = KernelCounters {
                        received: stats.received,
                        dropped_by_kernel: stats.dropped_by_kernel,
                        dropped_by_interface: stats.dropped_by_interface,
                    };
                }
                if let Some(f) = self.finished.get_mut(worker) {
                    *f = Some(Finished { stats, packets });
                }
            }
        }
    }

    fn add(&mut self, epoch: u64, table: &FlowTable) {
        if table.total == 0 {
            return;
        }
        self.total.merge(table);
        let limits = self.limits;
        self.pending
            .entry(epoch)
            .or_insert_with(|| FlowTable::new(limits))
            .merge(table);
    }

    /// The next interval, when it is over and every running loop handed it over.
    pub fn ready(&mut self) -> Option<Interval> {
        let k = self.next;
        if k >= self.epoch() {
            return None;
        }
        // Loops that ended or whose NIC is down are not waited for.
        let waiting = (0..self.upto.len()).any(|i| {
            self.finished[i].is_none()
                && self.down[i].is_none()
                && !matches!(self.upto[i], Some(u) if u >= k)
        });
        if waiting {
            return None;
        }
        Some(self.take_interval(k))
    }

    /// Everything not yet handed out, as one last interval ending at `now_ns`.
    pub fn rest(&mut self, now_ns: u64) -> Interval {
        let start_ns = self.epoch_start[(self.next as usize).min(self.epoch_start.len() - 1)];
        let mut table = FlowTable::new(self.limits);
        for (_, t) in std::mem::take(&mut self.pending) {
            table.merge(&t);
        }
        self.next = self.epoch() + 1;
        Interval {
            start_ns,
            end_ns: now_ns,
            table,
        }
    }

    fn take_interval(&mut self, k: u64) -> Interval {
        self.next = k + 1;
        let table = self
            .pending
            .remove(&k)
            .unwrap_or_else(|| FlowTable::new(self.limits));
        Interval {
            start_ns: self.epoch_start[k as usize],
            end_ns: self.epoch_start[k as usize + 1],
            table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(n: u64) -> FlowTable {
        let mut t = FlowTable::new(Limits::default());
        let d = crate::decode::Decoded {
            sll2_ifindex: None,
            kind: crate::decode::Kind::NotIp,
        };
        for i in 0..n {
            t.ingest(crate::iface::IfaceId(0), i, 60, &d);
        }
        t
    }

    fn delta(worker: usize, epoch: u64, n: u64) -> Event {
        Event::Delta {
            worker,
            epoch,
            table: table_with(n),
            counters: KernelCounters::default(),
        }
    }

    #[test]
    fn interval_waits_for_every_running_loop() {
        let mut c = Collector::new(2, Limits::default(), 100);
        assert!(c.ready().is_none());
        c.tick(200);
        c.on_event(delta(0, 0, 3));
        assert!(c.ready().is_none(), "loop 1 has not handed over epoch 0");
        c.on_event(delta(1, 0, 2));
        let i = c.ready().unwrap();
        assert_eq!((i.start_ns, i.end_ns, i.table.total), (100, 200, 5));
        assert!(c.ready().is_none());
        assert_eq!(c.total.total, 5);
    }

    #[test]
    fn finished_loops_are_not_waited_for() {
        let mut c = Collector::new(2, Limits::default(), 0);
        c.tick(10);
        c.on_event(delta(0, 0, 1));
        c.on_event(Event::Done {
            worker: 1,
            table: table_with(4),
            stats: CaptureStats::default(),
            packets: 4,
        });
        // Loop 1's last table lands in the epoch in force (1).
        assert_eq!(c.ready().unwrap().table.total, 1);
        c.tick(20);
        c.on_event(delta(0, 1, 2));
        assert_eq!(c.ready().unwrap().table.total, 6);
        let rest = c.rest(25);
        assert_eq!((rest.start_ns, rest.table.total), (20, 0));
        assert_eq!(c.total.total, 7);
    }
}
